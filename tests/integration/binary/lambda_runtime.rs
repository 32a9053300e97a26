//! The built binary as a Lambda function, under the runtime emulator, against
//! moto and the local answer listener: one event of each kind.

use network_interface_manager::ec2::InstanceState::Running;
use serde_json::json;

use crate::support::cfn::request;
use crate::support::emulator::Emulator;
use crate::support::listener::Listener;
use crate::support::world::{fixture, state_event, MotoWorld, World};

// Multi-threaded: `invoke` blocks this thread while the listener answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_kind_of_event_is_served_through_the_runtime_api() {
    let w = MotoWorld::new().await;
    let cfn = Listener::start().await;
    let lambda = Emulator::start(&w.moto.endpoint);
    let instance = w.launch(Some("web"), "a1").await;
    let waiting = w.launch(Some("web"), "a2").await;

    let props = json!({"Name": "web", "SubnetIds": [w.subnets["a1"]], "InterfacesPerSubnet": "1"});
    let created = lambda.invoke(&request("Create", &cfn.url, props));
    assert_eq!(created["event"], "custom-resource");
    let answers = cfn.requests();
    assert_eq!(answers.len(), 1);
    let answer = answers[0].json();
    assert_eq!(answer["Status"], "SUCCESS", "{answer}");
    let member = answer["Data"]["NetworkInterfaceIds"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        w.holder(&member).await.map(|h| h.0),
        Some(instance.clone()),
        "C7 reconcile"
    );

    let extra = w.add_member("web", "a2").await;
    let running = lambda.invoke(&state_event(&waiting, Running));
    assert_eq!(running["attached"][0]["interface_id"], extra.as_str());
    assert_eq!(w.holder(&extra).await, Some((waiting.clone(), 1)));

    let attachment = w.attachment(&extra).await.unwrap();
    let detach = w.client.detach_network_interface();
    detach
        .set_attachment_id(attachment.attachment_id)
        .send()
        .await
        .unwrap();
    let scheduled = lambda.invoke(&fixture("scheduled-event.json"));
    assert_eq!(scheduled["event"], "scheduled");
    assert_eq!(
        w.holder(&extra).await,
        Some((waiting, 1)),
        "the sync repaired it"
    );
}

/// C15 [TF-INV]: Terraform reads the function's result as the pool's
/// return values, and a function error as a failed apply with its reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declaration_by_invocation_returns_its_data_or_a_function_error() {
    let w = MotoWorld::new().await;
    let lambda = Emulator::start(&w.moto.endpoint);
    let declared = json!({"Name": "bastion", "SubnetIds": [w.subnets["a1"]],
        "tf": {"action": "create", "prev_input": null}});

    let result = lambda.invoke(&declared);

    assert_eq!(result["Name"], "bastion", "{result}");
    assert_eq!(result["NetworkInterfaceIds"].as_array().unwrap().len(), 1);
    let invalid = json!({"Name": "bastion", "SubnetIds": 7,
        "tf": {"action": "create", "prev_input": null}});
    let error = lambda.invoke_failing(&invalid);
    assert!(error.contains("SubnetIds"), "{error}");
    let create_only = json!({"Name": "bastion", "SubnetIds": [w.subnets["a1"]]});
    let error = lambda.invoke_failing(&create_only);
    assert!(error.contains("lifecycle_scope"), "{error}");
}
