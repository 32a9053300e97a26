//! Declared pools in the states real stacks rest in (C12, C13, R25): a pool
//! retained when its stack was deleted, stacks halted half-way, a renamed
//! pool with instances of its old name, a fixed address another VPC uses,
//! and a cleanup that acts only on what a read by id confirms. Each story
//! lost or took an address on the code before these rules.

use std::time::Duration;

use network_interface_manager::cli::{read_declarations, status_table};
use network_interface_manager::ec2::InstanceState::Terminated;
use network_interface_manager::ec2::InterfaceStatus;
use network_interface_manager::pool::Manager;
use serde_json::json;

use crate::support::cfn::{answer, failure, request, schedule_now, Declared, STACK_ID};
use crate::support::listener::Listener;
use crate::support::world::{fast, StrictWorld, World};

/// C13: a pool with `DeletionPolicy: Retain` outlives its stack: no Delete
/// comes, the stack reads `DELETE_COMPLETE` and the pool `DELETE_SKIPPED`.
/// The schedule keeps it, it goes on serving (a replacement gets the
/// member), and `status` says it is retained.
#[tokio::test]
async fn a_retained_pool_outlives_its_stack_and_keeps_serving_a_new_instance() {
    let d = Declared::create(json!({"Name": "bastion", "SubnetIds": ["subnet-a1"]})).await;
    let member = d.members().remove(0);
    let old = d.w.model.launch(Some("bastion"), "subnet-a1");
    d.schedule().await;
    assert_eq!(d.w.model.holder(&member), Some((old.clone(), 1)));

    d.stacks.delete(STACK_ID, "Pool", d.physical_id(), true);
    let handled = d.schedule().await;

    assert!(
        d.w.model.exists(&member),
        "{:?}",
        handled.outcome.cleaned_up
    );
    assert_eq!(d.w.model.holder(&member), Some((old.clone(), 1)));
    d.w.model.set_state(&old, Terminated);
    let new = d.w.model.launch(Some("bastion"), "subnet-a1");
    d.schedule().await;
    assert_eq!(d.w.model.holder(&member), Some((new, 1)), "still served");

    let mut pools = Manager::new(d.w.ec2(), fast()).status(&[]).await.unwrap();
    read_declarations(&d.stacks, &mut pools).await;
    let declared = &pools[0].declared_by[0];
    assert!(declared.retained, "{declared:?}");
    let table = status_table(&pools);
    assert!(table.contains("retained: pool bastion"), "{table}");
}

/// C13: the README's move to a new manager: the pool resource is removed
/// from its template with `Retain` (CloudFormation forgets it), then the
/// stack is deleted: its resources no longer name the pool, which is left
/// alone.
#[tokio::test]
async fn a_pool_its_deleted_stack_does_not_name_is_left_alone() {
    let d = Declared::create(json!({"Name": "bastion", "SubnetIds": ["subnet-a1"]})).await;
    let member = d.members().remove(0);
    let queue = ("Queue", "https://sqs/queue", "DELETE_COMPLETE");
    d.stacks.set_resource(STACK_ID, queue.0, queue.1, queue.2);
    d.stacks.set(STACK_ID, "DELETE_COMPLETE");

    let handled = d.schedule().await;

    assert!(
        d.w.model.exists(&member),
        "{:?}",
        handled.outcome.cleaned_up
    );
    let interfaces = d.w.model.interfaces();
    let kept = interfaces.iter().find(|i| i.id == member).unwrap();
    assert_eq!(kept.pool(), Some("bastion"));
}

/// C12: a stack that rests in `UPDATE_FAILED` (an update that preserves
/// what it provisioned) or `UPDATE_ROLLBACK_FAILED` is not settled: a
/// later rollback still comes. A sync meanwhile keeps the retired
/// interface, and the rollback gets the same interface, MAC and
/// EC2-chosen address back, attached to its instance again.
#[tokio::test]
async fn a_rollback_after_a_halted_stack_gets_the_same_interface_mac_and_address() {
    for halted in ["UPDATE_FAILED", "UPDATE_ROLLBACK_FAILED"] {
        let both = json!({"Name": "web", "SubnetIds": ["subnet-a1", "subnet-b1"]});
        let d = Declared::create(both.clone()).await;
        let in_b = d.members().remove(1);
        let mac = d.w.model.mac_of(&in_b);
        let instance = d.w.model.launch(Some("web"), "subnet-b1");
        d.schedule().await;
        assert_eq!(
            d.w.model.holder(&in_b),
            Some((instance.clone(), 1)),
            "{halted}"
        );

        let one = json!({"Name": "web", "SubnetIds": ["subnet-a1"]});
        let updated = d.update(&one, &both).await;
        assert_eq!(updated["Status"], "SUCCESS", "{updated}");
        d.stacks.set(STACK_ID, halted);
        let sync = d.schedule().await;
        assert!(
            d.w.model.exists(&in_b),
            "{halted}: {:?}",
            sync.outcome.cleaned_up
        );

        let rolled_back = d.update(&both, &one).await;

        assert_eq!(
            rolled_back["Data"], d.created["Data"],
            "{halted}: {rolled_back}"
        );
        assert_eq!(d.w.model.mac_of(&in_b), mac, "{halted}");
        d.stacks.set(STACK_ID, "UPDATE_ROLLBACK_COMPLETE");
        d.schedule().await;
        assert_eq!(d.w.model.holder(&in_b), Some((instance, 1)), "{halted}");
    }
}

/// R25: a rename keeps every holder: instances that carry the old name
/// keep their members and are served as the pool's (the group's tag only
/// changes for instances launched later); new instances of either name get
/// members. `status` says so. A second rename while instances of the first
/// name run is refused, naming them, and its rollback changes nothing.
#[tokio::test]
async fn a_rename_keeps_the_holders_of_the_old_name() {
    let named =
        |name: &str| json!({"Name": name, "SubnetIds": ["subnet-a1"], "InterfacesPerSubnet": 3});
    let (web, api, ops) = (named("web"), named("api"), named("ops"));
    let d = Declared::create(web.clone()).await;
    let model = &d.w.model;
    let holder = model.launch(Some("web"), "subnet-a1");
    d.schedule().await;
    let held = model.members_of_pool(&holder, "web");
    assert_eq!(held.len(), 1);

    let renamed = d.update(&api, &web).await;

    assert_eq!(renamed["Status"], "SUCCESS", "{renamed}");
    assert_eq!(
        model.members_of_pool(&holder, "api"),
        held,
        "the holder keeps it"
    );
    let new = model.launch(Some("api"), "subnet-a1");
    let late = model.launch(Some("web"), "subnet-a1");
    d.schedule().await;
    assert_eq!(model.members_of_pool(&holder, "api"), held);
    assert_eq!(model.members_of_pool(&new, "api").len(), 1);
    let late_held = model.members_of_pool(&late, "api");
    assert_eq!(late_held.len(), 1, "served under its old name");
    model.settle_reads();
    let pools = Manager::new(d.w.ec2(), fast()).status(&[]).await.unwrap();
    assert_eq!(pools.len(), 1, "{pools:?}");
    assert_eq!(pools[0].former_name.as_deref(), Some("web"));
    assert!(pools[0].waiting.is_empty(), "{pools:?}");

    let refused = d.update(&ops, &api).await;
    let reason = failure(&refused);
    assert!(
        reason.contains("'web'") && reason.contains(&holder),
        "{reason}"
    );
    let rollback = d.update(&api, &ops).await;
    assert_eq!(rollback["Status"], "SUCCESS", "{rollback}");
    assert_eq!(model.members_of_pool(&holder, "api"), held);

    for instance in [&holder, &late] {
        model.set_state(instance, Terminated);
    }
    model.settle_reads();
    let again = d.update(&ops, &api).await;
    assert_eq!(again["Status"], "SUCCESS", "{again}");
}

/// R25: a rename that also replaces every member (the pool moves to
/// another subnet of the AZ): the holder of the old name loses its retired
/// member and is served the new one, as the renamed pool's, in the same
/// Update. The new members carry the former name, or nothing would tell
/// that the old name is the pool's.
#[tokio::test]
async fn a_rename_that_replaces_every_member_serves_the_holders_of_the_old_name() {
    let web = json!({"Name": "web", "SubnetIds": ["subnet-a1"]});
    let api = json!({"Name": "api", "SubnetIds": ["subnet-a2"]});
    let d = Declared::create(web.clone()).await;
    let model = &d.w.model;
    let holder = model.launch(Some("web"), "subnet-a1");
    d.schedule().await;
    assert_eq!(model.members_of_pool(&holder, "web").len(), 1);

    let renamed = d.update(&api, &web).await;

    assert_eq!(renamed["Status"], "SUCCESS", "{renamed}");
    let new_member = renamed["Data"]["NetworkInterfaceIds"][0].as_str().unwrap();
    d.schedule().await;
    assert_eq!(
        model.members_of_pool(&holder, "api"),
        vec![new_member.to_string()],
        "served under its old name"
    );
}

/// C3: addresses are unique within a VPC: a fixed address that an
/// interface in another VPC holds (overlapping ranges) is not refused; one
/// held in the declared subnets' VPC is, naming its holder.
#[tokio::test]
async fn a_fixed_address_another_vpc_uses_is_declared() {
    let (w, cfn) = (StrictWorld::new(), Listener::start().await);
    let elsewhere = w.model.add_interface("subnet-x1", []);
    let ip = address_of(&w, &elsewhere);
    assert!(ip.starts_with("10.0.1."), "{ip}");

    let props = json!({"Name": "dns", "SubnetIds": ["subnet-a1"], "PrivateIpAddresses": [ip]});
    let created = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;

    assert_eq!(created["Status"], "SUCCESS", "{created}");
    assert_eq!(created["Data"]["PrivateIpAddresses"][0], ip.as_str());
    let neighbour = w.model.add_interface("subnet-a1", []);
    let taken = address_of(&w, &neighbour);
    let props = json!({"Name": "ntp", "SubnetIds": ["subnet-a1"], "PrivateIpAddresses": [taken]});
    let refused = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;
    assert!(failure(&refused).contains(&neighbour), "{refused}");
}

fn address_of(w: &StrictWorld, eni: &str) -> String {
    let found = w.model.interfaces().into_iter().find(|i| i.id == eni);
    found.unwrap().private_ip.unwrap()
}

/// C12: the cleanup's tag read lags: it still shows an interface retired
/// that a rollback reinstated and a reconcile attached since. Read again by
/// id, it is kept, on its instance.
#[tokio::test]
async fn the_cleanup_keeps_what_a_lagging_read_shows_retired_but_was_reinstated() {
    let fixed = |ips: &[&str]| json!({"Name": "dns", "SubnetIds": ["subnet-a1", "subnet-b1"], "PrivateIpAddresses": ips});
    let (both, one) = (fixed(&["10.0.1.53", "10.0.3.53"]), fixed(&["10.0.1.53"]));
    let d = Declared::create(both.clone()).await;
    let in_b = d.members().remove(1);
    let instance = d.w.model.launch(Some("dns"), "subnet-b1");
    d.update(&one, &both).await;
    d.stacks.set(STACK_ID, "UPDATE_ROLLBACK_IN_PROGRESS");
    d.w.model.settle_reads();

    d.update(&both, &one).await;
    assert_eq!(
        d.w.model.holder(&in_b),
        Some((instance.clone(), 1)),
        "reinstated, attached"
    );
    d.stacks.set(STACK_ID, "UPDATE_ROLLBACK_COMPLETE");
    d.w.model.faults.lock().unwrap().filter_lag_floor = Duration::from_secs(5);
    let handled = schedule_now(&d.w, &d.stacks, Duration::from_secs(30)).await;

    assert!(d.w.model.exists(&in_b), "{:?}", handled.outcome.cleaned_up);
    assert_eq!(d.w.model.holder(&in_b), Some((instance, 1)));
}

/// C13, R8: the cleanup detaches gently, never by force: a member whose
/// detach has not ended at the deadline is left for the next run, which
/// deletes it.
#[tokio::test]
async fn the_cleanup_leaves_a_slow_detach_to_the_next_run() {
    let d = Declared::create(json!({"Name": "bastion", "SubnetIds": ["subnet-a1"]})).await;
    let member = d.members().remove(0);
    let instance = d.w.model.launch(Some("bastion"), "subnet-a1");
    d.schedule().await;
    assert_eq!(d.w.model.holder(&member), Some((instance, 1)));
    d.stacks.delete(STACK_ID, "Pool", d.physical_id(), false);
    d.w.model.faults.lock().unwrap().transition = Duration::from_secs(600);
    d.w.model.settle_reads();

    let first = schedule_now(&d.w, &d.stacks, Duration::from_secs(2)).await;

    let lines = first.outcome.cleaned_up.join("\n");
    assert!(lines.contains("could not remove pool"), "{lines}");
    assert!(d.w.model.exists(&member));
    let status = d.w.model.status(&member);
    assert_eq!(status, InterfaceStatus::InUse, "detaching, not forced");
    let next = d.schedule().await;
    assert!(!d.w.model.exists(&member), "{:?}", next.outcome.cleaned_up);
}
