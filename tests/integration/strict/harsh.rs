//! The guarantees that hold only because the core expects EC2 to be as harsh
//! as it is (docs/design.md, R11-R16), each on the strict model.

use std::time::Duration;

use futures::future::join_all;
use network_interface_manager::ec2::InstanceState::*;
use network_interface_manager::ec2::POOL_TAG;
use network_interface_manager::pool::Settings;
use serde_json::json;

use crate::support::cfn::{answer, request};
use crate::support::listener::Listener;
use crate::support::strict::Op;
use crate::support::world::{deliver, deliver_ok, fixture, state_event, StrictWorld};

/// R12: EC2 frees the member 2 s after the event; the invocation waits for
/// it and hands it over before it ends.
#[tokio::test]
async fn the_handover_waits_for_ec2_to_release_the_member_after_termination() {
    let w = StrictWorld::new();
    let member = w.model.add_member("db", "subnet-a1");
    let old = w.model.launch(Some("db"), "subnet-a1");
    deliver_ok(&w, &state_event(&old, Running)).await;
    let replacement = w.model.launch(Some("db"), "subnet-a2");
    w.model.settle_reads();
    w.model.faults.lock().unwrap().termination_detach = Duration::from_secs(2);

    w.model.set_state(&old, Terminated);
    let handled = deliver_ok(&w, &state_event(&old, Terminated)).await;

    assert_eq!(w.model.holder(&member), Some((replacement.clone(), 1)));
    assert_eq!(handled.outcome.report.attached[0].instance_id, replacement);
    assert!(
        handled.outcome.report.detached.is_empty(),
        "EC2 detached it"
    );
}

/// R11: a `running` event and the schedule race on reads that lag behind
/// each other's writes; the instance ends with exactly one member.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_event_and_a_sync_racing_under_lag_attach_one_member() {
    for _ in 0..10 {
        let w = StrictWorld::new();
        for _ in 0..3 {
            w.model.add_member("web", "subnet-a1");
        }
        let instance = w
            .model
            .launch_booting(Some("web"), "subnet-a1", Duration::from_millis(5));
        let running = state_event(&instance, Running);
        let schedule = fixture("scheduled-event.json");
        let handled = join_all([
            deliver(&w, &running),
            deliver(&w, &schedule),
            deliver(&w, &running),
        ])
        .await;
        assert!(handled.iter().any(|h| !h.should_retry()), "{handled:?}");
        assert_eq!(w.model.members_of(&instance).len(), 1, "{handled:?}");
    }
}

/// R11: the pool's index is taken by a member the lagging reads do not show
/// yet; the second invocation identifies it and attaches nothing.
#[tokio::test]
async fn a_device_index_taken_by_a_member_the_reads_do_not_show_yet_gives_no_second_member() {
    let w = StrictWorld::new();
    let first = w.model.add_member("web", "subnet-a1");
    w.model.add_member("web", "subnet-a1");
    let instance = w.model.launch(Some("web"), "subnet-a1");
    {
        let mut f = w.model.faults.lock().unwrap();
        f.read_lag = Duration::from_millis(150);
        f.filter_lag = Duration::from_millis(300);
    }
    let ec2: &dyn network_interface_manager::ec2::Ec2 = &*w.model;
    ec2.attach(&first, &instance, 1).await.unwrap();

    let handled = deliver_ok(&w, &state_event(&instance, Running)).await;

    assert_eq!(w.model.members_of(&instance), [first]);
    assert!(handled.outcome.report.attached.is_empty(), "{handled:?}");
}

/// EC2's refusal of an attach at index 1 of `instance`, taken.
fn index_taken(instance: &str) -> String {
    format!("Instance '{instance}' already has an interface attached at device index '1'.")
}

/// R11: an index reported taken is tried again, never skipped, while the
/// reads cannot tell who took it.
#[tokio::test]
async fn a_device_index_reported_taken_by_no_one_visible_is_tried_again() {
    let w = StrictWorld::new();
    let member = w.model.add_member("web", "subnet-a1");
    let instance = w.model.launch(Some("web"), "subnet-a1");
    let message = index_taken(&instance);
    w.model
        .fail_next(Op::Attach, "InvalidParameterValue", &message);

    deliver_ok(&w, &state_event(&instance, Running)).await;

    assert_eq!(w.model.holder(&member), Some((instance, 1)));
}

/// R8: an index refused every time is tried `max_attempts` times, then the
/// attach gives up (the event is retried later) instead of spending the
/// account's attach budget until the deadline.
#[tokio::test]
async fn an_attach_refused_every_time_gives_up_after_its_attempts() {
    let w = StrictWorld::new();
    let member = w.model.add_member("web", "subnet-a1");
    let instance = w.model.launch(Some("web"), "subnet-a1");
    let message = index_taken(&instance);
    let attempts = Settings::default().max_attempts as usize;
    for _ in 0..=attempts {
        w.model
            .fail_next(Op::Attach, "InvalidParameterValue", &message);
    }

    let handled = deliver(&w, &state_event(&instance, Running)).await;

    assert!(handled.should_retry(), "{handled:?}");
    let failed = &handled.outcome.report.failed;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(failed[0].error.contains("attempts exhausted"), "{failed:?}");
    assert_eq!(w.model.holder(&member), None);
    let unspent = w.model.faults.lock().unwrap().next[&Op::Attach].len();
    assert_eq!(unspent, 1, "{attempts} attach calls, not one more");
}

/// R3, R11: an index held by an interface in no pool moves the attach on.
#[tokio::test]
async fn an_index_taken_by_an_interface_in_no_pool_moves_the_attach_on() {
    let w = StrictWorld::new();
    let member = w.model.add_member("web", "subnet-a1");
    let other = w.model.add_interface("subnet-a1", []);
    let instance = w.model.launch(Some("web"), "subnet-a1");
    w.model.faults.lock().unwrap().read_lag = Duration::from_millis(100);
    let ec2: &dyn network_interface_manager::ec2::Ec2 = &*w.model;
    ec2.attach(&other, &instance, 1).await.unwrap();

    deliver_ok(&w, &state_event(&instance, Running)).await;

    assert_eq!(w.model.holder(&member), Some((instance, 2)));
}

/// R13: a launch template's interface, DeleteOnTermination on, adopted into
/// the pool of the instance that holds it: EC2 will not delete it.
#[tokio::test]
async fn an_adopted_launch_template_interface_is_kept_on_termination() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let instance = w.model.launch(Some("web"), "subnet-a1");
    let eni = w.model.add_launch_interface(&instance, [], 1, 0, true);
    let props = json!({"Name": "web", "NetworkInterfaceIds": [eni]});

    let body = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert!(!w.model.deleted_on_termination(&eni));
    w.model.set_state(&instance, Terminated);
    w.model.settle_reads();
    assert!(w.model.exists(&eni), "the member outlives its instance");
}

/// R16, C7: the Create's interfaces stay pending for 1 s; the reconcile
/// after it waits for them and serves the running instance.
#[tokio::test]
async fn a_create_serves_a_running_instance_though_its_interfaces_start_pending() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let instance = w.model.launch(Some("web"), "subnet-a1");
    w.model.faults.lock().unwrap().create_pending = Duration::from_secs(1);
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a1"]});

    let body = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;

    let member = body["Data"]["NetworkInterfaceIds"][0].as_str().unwrap();
    assert_eq!(w.model.holder(member), Some((instance, 1)));
}

/// R16: the `running` event arrives while the reads still say `pending`.
#[tokio::test]
async fn a_running_event_before_the_reads_say_running_is_served() {
    let w = StrictWorld::new();
    let member = w.model.add_member("web", "subnet-a1");
    let instance = w
        .model
        .launch_booting(Some("web"), "subnet-a1", Duration::from_millis(200));

    deliver_ok(&w, &state_event(&instance, Running)).await;

    assert_eq!(w.model.holder(&member), Some((instance, 1)));
}

/// R16: an instance that never reads as running within the wait: the event
/// fails as transient, for Lambda to deliver again.
#[tokio::test]
async fn a_running_event_for_an_instance_still_pending_is_retried() {
    let w = StrictWorld::new();
    w.model.add_member("web", "subnet-a1");
    let instance = w
        .model
        .launch_booting(Some("web"), "subnet-a1", Duration::from_secs(30));

    let result = deliver(&w, &state_event(&instance, Running)).await;

    assert!(result.should_retry(), "{result:?}");
    assert_eq!(w.model.members_of(&instance), Vec::<String>::new());
}

/// R14: a candidate deleted between the read and the attach is skipped.
#[tokio::test]
async fn a_vanished_candidate_is_skipped() {
    let w = StrictWorld::new();
    w.model.add_member("web", "subnet-a1");
    let second = w.model.add_member("web", "subnet-a1");
    let instance = w.model.launch(Some("web"), "subnet-a1");
    w.model.fail_next(
        Op::Attach,
        "InvalidNetworkInterfaceID.NotFound",
        "The networkInterface ID does not exist",
    );

    deliver_ok(&w, &state_event(&instance, Running)).await;

    assert_eq!(w.model.holder(&second), Some((instance, 1)));
}

/// R15: a member of another type is never attached, and is reported.
#[tokio::test]
async fn a_member_of_another_type_is_reported_and_never_attached() {
    let w = StrictWorld::new();
    let efa = w.model.add_member("hpc", "subnet-a1");
    w.model.set_interface_type(&efa, "efa");
    let instance = w.model.launch(Some("hpc"), "subnet-a1");

    let handled = deliver_ok(&w, &state_event(&instance, Running)).await;

    assert_eq!(w.model.holder(&efa), None);
    assert_eq!(handled.outcome.report.unusable[0].interface_id, efa);
    assert_eq!(handled.outcome.report.shortages[0].instance_ids, [instance]);
}

/// R15: on a multi-card instance, index 0 of card 1 is not a primary.
#[tokio::test]
async fn a_member_on_a_second_network_card_at_index_0_is_held() {
    let w = StrictWorld::new();
    let instance = w.model.launch(Some("web"), "subnet-a1");
    let on_card1 = w
        .model
        .add_launch_interface(&instance, [(POOL_TAG, "web")], 0, 1, false);
    w.model.add_member("web", "subnet-a1");

    let handled = deliver_ok(&w, &state_event(&instance, Running)).await;

    assert!(handled.outcome.report.attached.is_empty(), "{handled:?}");
    assert_eq!(w.model.members_of(&instance), [on_card1]);
}

/// R11: an event that reads one pool meets an instance that moved to it
/// and still lists a member of its old pool: that member is read by id,
/// taken back, and the new member goes to the pool's index (had it looked
/// like a stranger's, the new member would take the next index, and a
/// later invocation the pool's index too).
#[tokio::test]
async fn an_instance_that_changed_pool_gets_the_pool_index_from_a_one_pool_read() {
    let w = StrictWorld::new();
    let blue = w.model.add_member("blue", "subnet-a1");
    let red = w.model.add_member("red", "subnet-a1");
    let moved = w.model.launch(Some("blue"), "subnet-a1");
    deliver_ok(&w, &state_event(&moved, Running)).await;
    let leaving = w.model.launch(Some("red"), "subnet-a1");
    w.model.set_tag(&moved, POOL_TAG, Some("red"));
    w.model.set_state(&leaving, Stopped);
    w.model.settle_reads();

    let handled = deliver_ok(&w, &state_event(&leaving, Stopped)).await;

    assert_eq!(
        w.model.holder(&red),
        Some((moved.clone(), 1)),
        "{handled:?}"
    );
    assert_eq!(
        w.model.holder(&blue),
        None,
        "the old pool's member is taken back"
    );
}
