//! Public addresses of declared pools (C14) on moto through the SDK: the
//! Elastic IP calls' wire format (tags at allocation, association with an
//! interface and a private address, `AllowReassociation` off, the
//! association read back on the interface), and the stories of the strict
//! model's `custom_resource::public` once more.

use network_interface_manager::ec2::InstanceState::{Running, Stopped};
use network_interface_manager::ec2::{
    Address, AddressQuery, InterfaceQuery, ADOPTED_TAG, OWNER_TAG,
};
use serde_json::{json, Value};

use crate::support::cfn::{answer, delete, failure, request, update};
use crate::support::listener::Listener;
use crate::support::world::{deliver_ok, state_event, MotoWorld, World};

fn strings(list: &Value) -> Vec<String> {
    let items = list.as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

async fn addresses(w: &MotoWorld) -> Vec<Address> {
    let all = AddressQuery::TagKey(OWNER_TAG);
    w.ec2().describe_addresses(&all).await.unwrap()
}

/// An Elastic IP made outside the manager, tagged `Owner=me`.
async fn allocation_of_mine(w: &MotoWorld) -> String {
    let tag = aws_sdk_ec2::types::Tag::builder()
        .key("Owner")
        .value("me")
        .build();
    let spec = aws_sdk_ec2::types::TagSpecification::builder()
        .resource_type(aws_sdk_ec2::types::ResourceType::ElasticIp)
        .tags(tag)
        .build();
    let out = w
        .client
        .allocate_address()
        .tag_specifications(spec)
        .send()
        .await
        .unwrap();
    out.allocation_id().unwrap().to_string()
}

/// Create, a handover with no Elastic IP call, an Update that drops the
/// addresses and its rollback that gets them back, then Delete.
#[tokio::test]
async fn public_addresses_through_a_pools_whole_life() {
    let w = MotoWorld::new().await;
    let cfn = Listener::start().await;
    let props = |public: bool| json!({"Name": "bastion", "SubnetIds": [w.subnets["a1"]], "PublicIp": public});

    let created = answer(&w, &cfn, &request("Create", &cfn.url, props(true))).await;

    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let physical = created["PhysicalResourceId"].as_str().unwrap();
    let public = strings(&created["Data"]["PublicIpAddresses"]);
    let member = strings(&created["Data"]["NetworkInterfaceIds"]).remove(0);
    let made = addresses(&w).await;
    assert_eq!(made.len(), 1);
    assert!(made[0].is_on(
        &member,
        made[0].association.as_ref().unwrap().private_ip.as_deref()
    ));

    let old = w.launch(Some("bastion"), "a1").await;
    deliver_ok(&w, &state_event(&old, Running)).await;
    let new = w.launch(Some("bastion"), "a1").await;
    w.set_state(&old, Stopped).await;
    let handed_over = deliver_ok(&w, &state_event(&old, Stopped)).await;
    assert_eq!(w.holder(&member).await, Some((new, 1)));
    let query = InterfaceQuery::ids(std::slice::from_ref(&member));
    let read = w.ec2().describe_interfaces(&query).await.unwrap();
    assert_eq!(read[0].public_ip.as_ref(), public.first());
    let calls = &handed_over.ec2_calls;
    assert!(!calls.keys().any(|op| op.contains("Address")), "{calls:?}");

    let dropped = answer(
        &w,
        &cfn,
        &update(&cfn.url, physical, props(false), props(true)),
    )
    .await;
    assert_eq!(dropped["Status"], "SUCCESS", "{dropped}");
    assert_eq!(addresses(&w).await.len(), 1, "kept for a rollback");
    let rolled_back = answer(
        &w,
        &cfn,
        &update(&cfn.url, physical, props(true), props(false)),
    )
    .await;
    assert_eq!(rolled_back["Data"], created["Data"], "{rolled_back}");

    let deleted = answer(&w, &cfn, &delete(&cfn.url, physical, props(true))).await;
    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert!(addresses(&w).await.is_empty(), "released");
}

/// Delete releases what the pool allocated, and only disassociates and
/// untags an adopted address.
#[tokio::test]
async fn delete_releases_only_what_was_allocated() {
    let w = MotoWorld::new().await;
    let cfn = Listener::start().await;
    let mine = allocation_of_mine(&w).await;
    let props = json!({"Name": "vpn", "SubnetIds": [w.subnets["a1"], w.subnets["b1"]],
        "PublicIp": true, "ElasticIpAllocationIds": [mine]});
    let created = answer(&w, &cfn, &request("Create", &cfn.url, props.clone())).await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");
    let ids = strings(&created["Data"]["AllocationIds"]);
    assert_eq!(ids[0], mine);
    let adopted = addresses(&w)
        .await
        .into_iter()
        .find(|a| a.allocation_id == mine);
    assert!(adopted.unwrap().tags.contains_key(ADOPTED_TAG));

    let physical = created["PhysicalResourceId"].as_str().unwrap();
    let deleted = answer(&w, &cfn, &delete(&cfn.url, physical, props)).await;

    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    let all = w.client.describe_addresses().send().await.unwrap();
    let left: Vec<&str> = all
        .addresses()
        .iter()
        .filter_map(|a| a.allocation_id())
        .collect();
    assert_eq!(left, [mine.as_str()], "only the adopted one stays");
    let kept = &all.addresses()[0];
    assert!(kept.association_id().is_none());
    let tags: Vec<&str> = kept.tags().iter().filter_map(|t| t.key()).collect();
    assert_eq!(tags, ["Owner"]);
}

/// An allocation associated with an interface outside the pool is refused
/// by name, and nothing is made.
#[tokio::test]
async fn an_address_in_use_elsewhere_is_refused() {
    let w = MotoWorld::new().await;
    let cfn = Listener::start().await;
    let mine = allocation_of_mine(&w).await;
    let outsider = w.add_member("elsewhere", "a1").await;
    w.client
        .associate_address()
        .allocation_id(&mine)
        .network_interface_id(&outsider)
        .send()
        .await
        .unwrap();
    let props =
        json!({"Name": "vpn", "SubnetIds": [w.subnets["a1"]], "ElasticIpAllocationIds": [mine]});

    let body = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;

    let reason = failure(&body);
    assert!(
        reason.contains(&mine) && reason.contains(&outsider),
        "{reason}"
    );
    let query = InterfaceQuery::pools(&["vpn".to_string()]);
    assert!(w
        .ec2()
        .describe_interfaces(&query)
        .await
        .unwrap()
        .is_empty());
}
