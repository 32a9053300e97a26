//! `Custom::NetworkInterfacePool` on moto through the SDK: every answer is
//! checked as CloudFormation would (see `support::cfn::answer`).

use network_interface_manager::aws::ErrorKind;
use network_interface_manager::ec2::{
    InterfaceQuery, NetworkInterface, DEVICE_INDEX_TAG, OWNER_TAG, POOL_TAG,
};
use network_interface_manager::stacks::{SdkStacks, StackState, Stacks};
use serde_json::{json, Value};

use crate::support::cfn::{answer, delete, request, update};
use crate::support::listener::Listener;
use crate::support::moto::{cloudformation_for, Moto};
use crate::support::world::{MotoWorld, World};

async fn owned(w: &dyn World, physical_id: &str) -> Vec<NetworkInterface> {
    let query = InterfaceQuery::owned_by(physical_id);
    w.ec2().describe_interfaces(&query).await.unwrap()
}

fn ids(answer: &Value) -> Vec<String> {
    let list = answer["Data"]["NetworkInterfaceIds"]
        .as_array()
        .expect("ids");
    list.iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn create_makes_one_tagged_interface_per_subnet() {
    let w = MotoWorld::new().await;
    let cfn = Listener::start().await;
    let props = json!({
        "Name": "bastion",
        "SubnetIds": [w.subnets["a1"], w.subnets["b1"]],
        "InterfacesPerSubnet": "1",
        "DeviceIndex": "2",
        "Description": "bastion fixed address",
        "Tags": [{"Key": "Team", "Value": "ops"}],
    });

    let body = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["Name"], "bastion");
    let physical = body["PhysicalResourceId"].as_str().unwrap();
    let made = owned(&w, physical).await;
    assert_eq!(made.len(), 2);
    let mut subnets: Vec<&str> = made.iter().map(|i| i.subnet_id.as_str()).collect();
    subnets.sort();
    let mut want = vec![w.subnets["a1"].as_str(), w.subnets["b1"].as_str()];
    want.sort();
    assert_eq!(subnets, want);
    for i in &made {
        assert_eq!(i.tags[POOL_TAG], "bastion");
        assert_eq!(i.tags[DEVICE_INDEX_TAG], "2");
        assert_eq!(i.tags[OWNER_TAG], physical);
        assert_eq!(i.tags["Team"], "ops");
        assert_eq!(i.description, "bastion fixed address");
    }
    let ips = body["Data"]["PrivateIpAddresses"].as_array().unwrap();
    assert_eq!(ips.len(), 2);
    assert_eq!(ids(&body).len(), 2);
}

#[tokio::test]
async fn create_with_fixed_addresses_puts_each_in_its_subnet() {
    let w = MotoWorld::new().await;
    let cfn = Listener::start().await;
    let props = json!({
        "Name": "dns",
        "SubnetIds": [w.subnets["a1"], w.subnets["b1"]],
        "PrivateIpAddresses": ["10.0.3.53", "10.0.1.53"],
    });

    let body = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(
        body["Data"]["PrivateIpAddresses"],
        json!(["10.0.3.53", "10.0.1.53"])
    );
    let made = owned(&w, body["PhysicalResourceId"].as_str().unwrap()).await;
    for i in made {
        let expected = match i.private_ip.as_deref() {
            Some("10.0.1.53") => &w.subnets["a1"],
            _ => &w.subnets["b1"],
        };
        assert_eq!(&i.subnet_id, expected);
    }
}

#[tokio::test]
async fn update_adds_a_subnet_changes_groups_and_renames_in_place() {
    let w = MotoWorld::new().await;
    let cfn = Listener::start().await;
    let sg = w.security_group("pool").await;
    let old = json!({"Name": "seed", "SubnetIds": [w.subnets["a1"]]});
    let created = answer(&w, &cfn, &request("Create", &cfn.url, old.clone())).await;
    let physical = created["PhysicalResourceId"].as_str().unwrap();
    let first = ids(&created)[0].clone();

    let new = json!({
        "Name": "seed-nodes",
        "SubnetIds": [w.subnets["a1"], w.subnets["b1"]],
        "SecurityGroupIds": [sg],
    });
    let body = answer(&w, &cfn, &update(&cfn.url, physical, new, old)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let now = ids(&body);
    assert_eq!(now.len(), 2);
    assert_eq!(
        now[0], first,
        "the existing interface and its address are kept"
    );
    for i in owned(&w, physical).await {
        assert_eq!(i.tags[POOL_TAG], "seed-nodes");
        assert_eq!(i.security_groups, vec![sg.clone()]);
    }
}

#[tokio::test]
async fn delete_removes_made_interfaces_and_releases_adopted_ones() {
    let w = MotoWorld::new().await;
    let cfn = Listener::start().await;
    let adopted = w.add_member("placeholder", "a2").await;
    w.client
        .create_tags()
        .resources(&adopted)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("Team")
                .value("ops")
                .build(),
        )
        .send()
        .await
        .unwrap();
    w.client
        .delete_tags()
        .resources(&adopted)
        .tags(aws_sdk_ec2::types::Tag::builder().key(POOL_TAG).build())
        .send()
        .await
        .unwrap();
    let props = json!({
        "Name": "license",
        "SubnetIds": [w.subnets["a1"]],
        "NetworkInterfaceIds": [adopted],
    });
    let created = answer(&w, &cfn, &request("Create", &cfn.url, props.clone())).await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let physical = created["PhysicalResourceId"].as_str().unwrap();
    assert_eq!(owned(&w, physical).await.len(), 2);

    let body = answer(&w, &cfn, &delete(&cfn.url, physical, props)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert!(
        owned(&w, physical).await.is_empty(),
        "no owned interface left"
    );
    let left = w
        .ec2()
        .describe_interfaces(&InterfaceQuery::ids(&[adopted]))
        .await
        .unwrap();
    assert_eq!(left.len(), 1, "the adopted interface is not deleted");
    assert_eq!(left[0].tags.get("Team").map(String::as_str), Some("ops"));
    assert!(!left[0].tags.contains_key(POOL_TAG));
}

#[tokio::test]
async fn a_running_pool_instance_gets_its_interface_right_after_create() {
    let w = MotoWorld::new().await;
    let cfn = Listener::start().await;
    let instance = w.launch(Some("bastion"), "a1").await;
    let props = json!({"Name": "bastion", "SubnetIds": [w.subnets["a1"]]});

    let body = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;

    let member = &ids(&body)[0];
    assert_eq!(w.holder(member).await, Some((instance, 1)));
}

/// The adapter against moto's CloudFormation: a real stack's status and
/// resources by its id, after it is deleted too, and an id CloudFormation
/// does not know.
#[tokio::test]
async fn stack_states_are_read_from_cloudformation() {
    let moto = Moto::start();
    let cfn = moto.cloudformation();
    let template = r#"{"Resources": {"Queue": {"Type": "AWS::SQS::Queue"}}}"#;
    let stack = cfn
        .create_stack()
        .stack_name("pool")
        .template_body(template)
        .send()
        .await
        .unwrap();
    let stack_id = stack.stack_id().unwrap().to_string();
    let stacks = SdkStacks::new(cfn.clone());

    let state = stacks.stack_state(&stack_id).await.unwrap();
    assert_eq!(state, StackState::Settled("CREATE_COMPLETE".into()));
    let resources = stacks.resources(&stack_id).await.unwrap();
    assert_eq!(resources.len(), 1, "{resources:?}");
    assert_eq!(resources[0].logical_id, "Queue");
    assert_eq!(resources[0].status, "CREATE_COMPLETE");
    assert!(resources[0].physical_id.is_some());
    cfn.delete_stack()
        .stack_name(&stack_id)
        .send()
        .await
        .unwrap();
    let state = stacks.stack_state(&stack_id).await.unwrap();
    assert!(state.is_gone(), "{state:?}");
    // A deleted stack's resources are still read by its id [CFN-DEL] (moto
    // keeps their last status, where CloudFormation says DELETE_COMPLETE).
    let resources = stacks.resources(&stack_id).await.unwrap();
    assert_eq!(resources[0].logical_id, "Queue");
    let unknown = stack_id.replace(&stack_id[stack_id.len() - 8..], "00000000");
    assert_eq!(
        stacks.stack_state(&unknown).await.unwrap(),
        StackState::Unknown
    );
}

/// C12: a stack read CloudFormation refuses (the role lacks the right, say)
/// is an error, never a stack that does not exist: an unknown stack would
/// let its pools' interfaces be treated as nobody's.
#[tokio::test]
async fn stack_reads_refused_are_errors_not_unknown_stacks() {
    let refusal = r#"<ErrorResponse xmlns="http://cloudformation.amazonaws.com/doc/2010-05-15/">
<Error><Type>Sender</Type><Code>AccessDenied</Code>
<Message>User: arn:aws:sts::123456789012:assumed-role/manager/f is not authorized to perform: cloudformation:DescribeStacks</Message>
</Error><RequestId>refused</RequestId></ErrorResponse>"#;
    let cloudformation = Listener::refusing("403 Forbidden", refusal).await;
    let endpoint = cloudformation.url.split("/response").next().unwrap();
    let stacks = SdkStacks::new(cloudformation_for(endpoint));
    let stack_id = "arn:aws:cloudformation:us-east-1:123456789012:stack/pool/1";

    let state = stacks.stack_state(stack_id).await;
    let error = state.expect_err("a refused read is no stack state");
    assert!(error.is(ErrorKind::AccessDenied), "{error:?}");
    let resources = stacks.resources(stack_id).await;
    let error = resources.expect_err("a refused read lists no resources");
    assert!(error.is(ErrorKind::AccessDenied), "{error:?}");
}
