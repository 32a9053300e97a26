//! `Custom::NetworkInterfacePool` on the strict model: the semantics moto does
//! not have (duplicate addresses, ClientToken, delete while attached), and
//! faults: a panic, the deadline.

use std::time::{Duration, Instant};

use network_interface_manager::ec2::{Ec2, InstanceState, OWNER_TAG, RETIRED_TAG};
use serde_json::json;

use crate::support::cfn::{answer, delete, failure, request, update};
use crate::support::listener::Listener;
use crate::support::strict::Op;
use crate::support::world::{deliver, deliver_ok, state_event, StrictWorld};

fn owned(w: &StrictWorld, physical_id: &str) -> Vec<String> {
    let interfaces = w.model.interfaces().into_iter();
    let mine =
        interfaces.filter(|i| i.tags.get(OWNER_TAG).map(String::as_str) == Some(physical_id));
    mine.map(|i| i.id).collect()
}

fn writes(w: &StrictWorld) -> usize {
    w.model.writes().len()
}

#[tokio::test]
async fn a_duplicate_address_fails_the_create_and_leaves_nothing_behind() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let taken = w.model.add_member("other", "subnet-b1");
    let taken_ip = w
        .model
        .interfaces()
        .into_iter()
        .find(|i| i.id == taken)
        .unwrap()
        .private_ip
        .unwrap();
    let props = json!({
        "Name": "dns",
        "SubnetIds": ["subnet-a1", "subnet-b1"],
        "PrivateIpAddresses": ["10.0.1.53", taken_ip],
    });

    let body = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;

    let reason = failure(&body);
    // C3: refused before anything is made, naming the holder.
    assert!(
        reason.contains(&format!("{taken_ip} is held by {taken}")),
        "{body}"
    );
    assert!(
        w.model.writes().is_empty(),
        "nothing was made: {:?}",
        w.model.writes()
    );
    assert!(owned(&w, body["PhysicalResourceId"].as_str().unwrap()).is_empty());
    assert_eq!(
        w.model.interfaces().len(),
        1,
        "only the other pool's interface"
    );
}

#[tokio::test]
async fn the_same_create_delivered_twice_makes_one_set_of_interfaces() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let create = request(
        "Create",
        &cfn.url,
        json!({"Name": "web", "SubnetIds": ["subnet-a1", "subnet-a2"]}),
    );

    let first = answer(&w, &cfn, &create).await;
    let second = answer(&w, &cfn, &create).await;

    assert_eq!(first["Status"], "SUCCESS");
    assert_eq!(second["Data"], first["Data"], "the same interfaces");
    assert_eq!(
        owned(&w, first["PhysicalResourceId"].as_str().unwrap()).len(),
        2
    );
    assert_eq!(
        w.model.calls()["CreateNetworkInterface"],
        2,
        "created once per slot"
    );
}

#[tokio::test]
async fn delete_while_attached_detaches_then_deletes() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let instance = w.model.launch(Some("web"), "subnet-a1");
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a1"]});
    let created = answer(&w, &cfn, &request("Create", &cfn.url, props.clone())).await;
    let physical = created["PhysicalResourceId"].as_str().unwrap();
    let member = owned(&w, physical).remove(0);
    assert_eq!(
        w.model.holder(&member).map(|h| h.0),
        Some(instance),
        "attached by the reconcile"
    );
    w.model.faults.lock().unwrap().transition = Duration::from_millis(100);

    let body = answer(&w, &cfn, &delete(&cfn.url, physical, props)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert!(owned(&w, physical).is_empty());
    let ops: Vec<Op> = w
        .model
        .writes()
        .into_iter()
        .filter(|(_, eni, _)| *eni == member)
        .map(|(op, ..)| op)
        .collect();
    // C11: out of the pool (pool tag off) before the detach.
    assert_eq!(
        ops,
        [
            Op::Create,
            Op::Attach,
            Op::DeleteTags,
            Op::Detach,
            Op::Delete
        ]
    );
}

#[tokio::test]
async fn delete_after_a_failed_create_with_a_made_up_physical_id_succeeds() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let made_up = "demo-Pool-1VX6A2B3C4D5E";

    let body = answer(&w, &cfn, &delete(&cfn.url, made_up, json!({"Name": "x"}))).await;

    assert_eq!(body["Status"], "SUCCESS");
    assert_eq!(body["PhysicalResourceId"], made_up);
    assert_eq!(writes(&w), 0);
}

#[tokio::test]
async fn a_panic_in_the_provider_still_answers_failed() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    w.model.faults.lock().unwrap().panic_on = Some(Op::Create);

    let body = answer(
        &w,
        &cfn,
        &request(
            "Create",
            &cfn.url,
            json!({"Name": "web", "SubnetIds": ["subnet-a1"]}),
        ),
    )
    .await;

    let reason = failure(&body);
    assert!(reason.contains("panicked"), "{body}");
}

#[tokio::test]
async fn with_the_deadline_a_second_away_and_a_slow_ec2_failed_is_sent_in_time() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    w.model.faults.lock().unwrap().latency = Duration::from_secs(3);
    let create = request(
        "Create",
        &cfn.url,
        json!({"Name": "web", "SubnetIds": ["subnet-a1"]}),
    );
    let ctx =
        network_interface_manager::handler::Context::new(&*w.model, crate::support::world::fast());
    let deadline = network_interface_manager::deadline::Deadline::after(Duration::from_secs(1));

    let started = Instant::now();
    let handled = network_interface_manager::handler::handle(&ctx, &create, deadline).await;
    crate::support::world::done(handled);

    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    let puts = cfn.requests();
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].json()["Status"], "FAILED");
}

#[tokio::test]
async fn invalid_declarations_fail_naming_the_property_and_change_nothing() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    for (props, named) in [
        (json!({"SubnetIds": ["subnet-a1"]}), "Name"),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-a1"], "Colour": "red"}),
            "Colour",
        ),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-a1"], "DeviceIndex": "zero"}),
            "DeviceIndex",
        ),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-a1"], "DeviceIndex": "16"}),
            "DeviceIndex",
        ),
        (json!({"Name": "x"}), "SubnetIds"),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-a1"], "InterfacesPerSubnet": 1, "PrivateIpAddresses": ["10.0.1.9"]}),
            "PrivateIpAddresses",
        ),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-a1"], "PrivateIpAddresses": ["10.0.1"]}),
            "PrivateIpAddresses",
        ),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-a1"], "PrivateIpAddresses": ["10.0.3.9"]}),
            "PrivateIpAddresses",
        ),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-a1"], "Tags": [{"Key": "aws:x", "Value": "1"}]}),
            "Tags",
        ),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-a1"], "InterfacesPerSubnet": "65"}),
            "InterfacesPerSubnet",
        ),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-a1", "subnet-a2"], "InterfacesPerSubnet": "40"}),
            "InterfacesPerSubnet",
        ),
        (
            json!({"Name": "x", "NetworkInterfaceIds": ["eni-0123456789abcdef0"]}),
            "NetworkInterfaceIds",
        ),
    ] {
        let body = answer(&w, &cfn, &request("Create", &cfn.url, props.clone())).await;
        let reason = failure(&body);
        assert!(reason.contains(named), "{props}: {reason}");
        assert_eq!(writes(&w), 0, "{props} wrote to EC2");
    }
}

#[tokio::test]
async fn a_name_other_interfaces_carry_is_refused_until_they_are_adopted() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let by_hand = w.model.add_member("bastion", "subnet-a1");
    let props = json!({"Name": "bastion", "SubnetIds": ["subnet-a2"]});

    let refused = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;
    let reason = refused["Reason"].as_str().unwrap();
    assert!(
        reason.contains(&by_hand) && reason.contains("NetworkInterfaceIds"),
        "{reason}"
    );
    assert_eq!(writes(&w), 0);

    let adopting =
        json!({"Name": "bastion", "SubnetIds": ["subnet-a2"], "NetworkInterfaceIds": [by_hand]});
    let body = answer(&w, &cfn, &request("Create", &cfn.url, adopting)).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["NetworkInterfaceIds"][1], by_hand.as_str());
}

#[tokio::test]
async fn adopting_an_interface_of_another_pool_is_refused() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let theirs = w.model.add_member("db", "subnet-a1");
    let props = json!({"Name": "web", "NetworkInterfaceIds": [theirs]});
    let body = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;
    let reason = failure(&body);
    assert!(reason.contains("belongs to pool 'db'"), "{body}");
}

#[tokio::test]
async fn an_update_and_its_rollback_restore_the_pool() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let old = json!({"Name": "web", "SubnetIds": ["subnet-a1"], "Tags": [{"Key": "Team", "Value": "ops"}]});
    let created = answer(&w, &cfn, &request("Create", &cfn.url, old.clone())).await;
    let physical = created["PhysicalResourceId"].as_str().unwrap();
    let new = json!({"Name": "web", "SubnetIds": ["subnet-a2"], "SourceDestCheck": "false", "DeviceIndex": "2"});

    let updated = answer(
        &w,
        &cfn,
        &update(&cfn.url, physical, new.clone(), old.clone()),
    )
    .await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    let now = in_pool(&w);
    assert_eq!(now.len(), 1);
    assert_eq!(now[0].subnet_id, "subnet-a2");
    assert!(!now[0].source_dest_check);
    assert!(
        !now[0].tags.contains_key("Team"),
        "removed user tag removed"
    );
    let first = created["Data"]["NetworkInterfaceIds"][0].as_str().unwrap();
    let retired = w
        .model
        .interfaces()
        .into_iter()
        .find(|i| i.id == first)
        .unwrap();
    assert!(
        retired.pool().is_none() && retired.tags.contains_key(RETIRED_TAG),
        "C12: retired"
    );

    let rolled_back = answer(&w, &cfn, &update(&cfn.url, physical, old, new)).await;
    assert_eq!(rolled_back["Status"], "SUCCESS", "{rolled_back}");
    let back = in_pool(&w);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].id, first, "C12: the same interface is back");
    assert_eq!(back[0].tags["Team"], "ops");
    assert!(!back[0].tags.contains_key(RETIRED_TAG));
}

/// The owned interfaces that are in the pool (not retired).
fn in_pool(w: &StrictWorld) -> Vec<network_interface_manager::ec2::NetworkInterface> {
    let owned = w
        .model
        .interfaces()
        .into_iter()
        .filter(|i| i.tags.contains_key(OWNER_TAG));
    owned.filter(|i| i.pool().is_some()).collect()
}

#[tokio::test]
async fn a_rename_to_a_name_in_use_is_refused() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    w.model.add_member("db", "subnet-a1");
    let old = json!({"Name": "web", "SubnetIds": ["subnet-a1"]});
    let created = answer(&w, &cfn, &request("Create", &cfn.url, old.clone())).await;
    let physical = created["PhysicalResourceId"].as_str().unwrap();
    let body = answer(
        &w,
        &cfn,
        &update(
            &cfn.url,
            physical,
            json!({"Name": "db", "SubnetIds": ["subnet-a1"]}),
            old,
        ),
    )
    .await;
    let reason = failure(&body);
    assert!(reason.starts_with("Name:"), "{body}");
}

#[tokio::test]
async fn a_refused_response_url_is_not_called_and_its_signature_not_shown() {
    let w = StrictWorld::new();
    let create = request(
        "Create",
        "https://example.com/answer?X-Amz-Signature=secret",
        json!({"Name": "web"}),
    );
    let handled = deliver(&w, &create).await;
    assert!(!handled.should_retry(), "answered with success to Lambda");
    let note = handled.outcome.note.unwrap();
    assert!(
        note.contains("refused") && !note.contains("secret"),
        "{note}"
    );
}

#[tokio::test]
async fn an_answer_refused_with_a_server_error_is_sent_again() {
    let w = StrictWorld::new();
    let cfn = Listener::failing_first(1).await;
    let create = request(
        "Create",
        &cfn.url,
        json!({"Name": "web", "SubnetIds": ["subnet-a1"]}),
    );
    deliver_ok(&w, &create).await;
    let puts = cfn.requests();
    assert_eq!(puts.len(), 2, "the 500 was retried once");
    assert_eq!(puts[0].body, puts[1].body);
}

#[tokio::test]
async fn the_reconcile_after_create_serves_a_running_instance() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let instance = w.model.launch(Some("web"), "subnet-a2");
    let body = answer(
        &w,
        &cfn,
        &request(
            "Create",
            &cfn.url,
            json!({"Name": "web", "SubnetIds": ["subnet-a1"]}),
        ),
    )
    .await;
    let member = body["Data"]["NetworkInterfaceIds"][0].as_str().unwrap();
    assert_eq!(w.model.holder(member), Some((instance.clone(), 1)));
    // Later events keep working on the declared pool.
    w.model.set_state(&instance, InstanceState::Stopped);
    deliver_ok(&w, &state_event(&instance, InstanceState::Stopped)).await;
    assert_eq!(w.model.holder(member), None);
}
