//! Event scenarios, written once against `World` and run here on the strict
//! model; `moto::scenarios` runs the same ones on moto through the SDK.

use network_interface_manager::aws::total_calls;
use network_interface_manager::ec2::InstanceState::*;

use serde_json::json;

use crate::support::world::{
    assert_calls, deliver, deliver_ok, fixture, state_event, StrictWorld, World,
};

/// The scenarios, each a test on the world `$world` makes.
#[macro_export]
macro_rules! scenarios_on {
    ($world:expr) => {
        $crate::scenarios_on!(
            $world;
            running_attaches_a_free_member_in_the_same_az_at_the_pool_index,
            terminated_frees_the_member_for_a_waiting_instance_in_the_same_invocation,
            replacement_launched_early_waits_then_gets_the_address_when_the_old_one_stops,
            the_same_event_twice_changes_nothing_the_second_time,
            event_for_an_unknown_instance_changes_nothing_and_running_is_retried,
            event_for_an_instance_without_the_tag_only_reads,
        );
    };
    ($world:expr; $($scenario:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $scenario() {
            $crate::strict::scenarios::$scenario(&$world).await
        }
    )*};
}

mod on_strict {
    crate::scenarios_on!(crate::support::world::StrictWorld::new());
}

pub async fn running_attaches_a_free_member_in_the_same_az_at_the_pool_index(w: &dyn World) {
    let other_az = w.add_member("web", "b1").await;
    let other_subnet = w.add_member("web", "a2").await;
    let own_subnet = w.add_member("web", "a1").await;
    let instance = w.launch(Some("web"), "a1").await;

    let handled = deliver_ok(w, &state_event(&instance, Running)).await;

    assert_eq!(w.holder(&own_subnet).await, Some((instance.clone(), 1)));
    assert_eq!(w.holder(&other_subnet).await, None);
    assert_eq!(w.holder(&other_az).await, None);
    assert_eq!(handled.outcome.report.attached.len(), 1);
    // Two round trips: the instance and the free members at once, then attach.
    let expected = [
        ("AttachNetworkInterface", 1),
        ("DescribeInstances", 1),
        ("DescribeNetworkInterfaces", 1),
    ];
    assert_calls(w, &handled.ec2_calls, &expected);
}

pub async fn terminated_frees_the_member_for_a_waiting_instance_in_the_same_invocation(
    w: &dyn World,
) {
    let member = w.add_member("db", "a1").await;
    let old = w.launch(Some("db"), "a1").await;
    deliver_ok(w, &state_event(&old, Running)).await;
    let other_az = w.launch(Some("db"), "b1").await;
    let replacement = w.launch(Some("db"), "a2").await;
    for waiting in [&other_az, &replacement] {
        let handled = deliver_ok(w, &state_event(waiting, Running)).await;
        assert_eq!(handled.outcome.report.shortages.len(), 1, "{waiting} waits");
    }

    w.set_state(&old, Terminated).await;
    let handled = deliver_ok(w, &state_event(&old, Terminated)).await;

    assert_eq!(w.holder(&member).await, Some((replacement.clone(), 1)));
    assert_eq!(handled.outcome.report.attached[0].instance_id, replacement);
    let short = &handled.outcome.report.shortages;
    assert_eq!(short.len(), 1, "the other AZ still waits: {short:?}");
    assert_eq!(short[0].instance_ids, [other_az]);
}

pub async fn replacement_launched_early_waits_then_gets_the_address_when_the_old_one_stops(
    w: &dyn World,
) {
    let member = w.add_member("bastion", "a1").await;
    let old = w.launch(Some("bastion"), "a1").await;
    deliver_ok(w, &state_event(&old, Running)).await;

    let new = w.launch(Some("bastion"), "a1").await;
    let waiting = deliver_ok(w, &state_event(&new, Running)).await;
    assert!(waiting.outcome.report.attached.is_empty());
    assert_eq!(
        waiting.outcome.report.shortages[0].instance_ids,
        vec![new.clone()]
    );
    assert_eq!(w.holder(&member).await, Some((old.clone(), 1)));

    w.set_state(&old, Stopped).await;
    let handed_over = deliver_ok(w, &state_event(&old, Stopped)).await;
    assert_eq!(w.holder(&member).await, Some((new, 1)));
    // The instance and its members; the detach beside the pool's members and
    // instances and the instance's interfaces by id; the attach (R12).
    let expected = [
        ("AttachNetworkInterface", 1),
        ("DescribeInstances", 2),
        ("DescribeNetworkInterfaces", 3),
        ("DetachNetworkInterface", 1),
    ];
    assert_calls(w, &handed_over.ec2_calls, &expected);
}

pub async fn the_same_event_twice_changes_nothing_the_second_time(w: &dyn World) {
    let member = w.add_member("web", "a1").await;
    let instance = w.launch(Some("web"), "a1").await;
    let running = state_event(&instance, Running);
    deliver_ok(w, &running).await;

    let again = deliver_ok(w, &running).await;
    assert_eq!(w.holder(&member).await, Some((instance.clone(), 1)));
    assert!(again.outcome.report.attached.is_empty() && again.outcome.report.failed.is_empty());
    if !w.reads_lag() {
        // Where reads lag, the copy may still see the member free and try
        // it: EC2 refuses (R6), and nothing changes.
        assert!(!again.ec2_calls.contains_key("AttachNetworkInterface"));
    }

    w.set_state(&instance, Terminated).await;
    let terminated = state_event(&instance, Terminated);
    deliver_ok(w, &terminated).await;
    let again = deliver_ok(w, &terminated).await;
    if !w.reads_lag() {
        assert!(again.outcome.report.detached.is_empty());
        assert!(!again.ec2_calls.contains_key("DetachNetworkInterface"));
    }
    assert_eq!(w.holder(&member).await, None);

    // A late `running` for the instance that has since terminated.
    let late = deliver_ok(w, &running).await;
    assert!(late.outcome.report.attached.is_empty());
    assert_eq!(w.holder(&member).await, None);
}

pub async fn event_for_an_unknown_instance_changes_nothing_and_running_is_retried(w: &dyn World) {
    let member = w.add_member("web", "a1").await;
    let unknown = "i-0123456789abcdef0";
    // R16: EC2 said it runs; reads that do not show it yet are not trusted.
    let running = deliver(w, &state_event(unknown, Running)).await;
    assert!(running.should_retry(), "expected a retry, got {running:?}");
    let terminated = deliver_ok(w, &state_event(unknown, Terminated)).await;
    for handled in [running, terminated] {
        assert!(handled.outcome.report.attached.is_empty());
        assert!(handled.outcome.report.detached.is_empty());
        assert!(!handled.ec2_calls.contains_key("AttachNetworkInterface"));
        assert!(!handled.ec2_calls.contains_key("DetachNetworkInterface"));
    }
    assert_eq!(w.holder(&member).await, None);
}

pub async fn event_for_an_instance_without_the_tag_only_reads(w: &dyn World) {
    let member = w.add_member("web", "a1").await;
    let instance = w.launch(None, "a1").await;

    let handled = deliver_ok(w, &state_event(&instance, Running)).await;

    assert_eq!(w.holder(&member).await, None);
    assert_eq!(
        handled.outcome.note.as_deref(),
        Some(&*format!("instance {instance} is in no pool"))
    );
    let reads = [("DescribeInstances", 1), ("DescribeNetworkInterfaces", 1)];
    assert_calls(w, &handled.ec2_calls, &reads);
    assert!(total_calls(&handled.ec2_calls) >= 2);
}

#[tokio::test]
async fn unknown_and_malformed_inputs_succeed_without_ec2_calls() {
    let w = StrictWorld::new();
    let mut malformed = fixture("ec2-state-change.json");
    malformed["detail"] = json!({});
    for (input, kind) in [
        // R20: another hook's action is left alone.
        (
            fixture("autoscaling-launch-lifecycle.json"),
            "lifecycle-action",
        ),
        (json!({"anything": 1}), "ignored"),
        (malformed, "malformed"),
    ] {
        let handled = deliver_ok(&w, &input).await;
        assert_eq!(serde_json::to_value(handled.event).unwrap(), kind);
        assert!(handled.outcome.note.is_some());
        assert!(handled.ec2_calls.is_empty(), "no EC2 call for {input}");
    }
}
