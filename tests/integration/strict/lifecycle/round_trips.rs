//! Round trips of one delivery on the lifecycle paths, EC2 and Auto Scaling
//! together, at 50 ms a call (R19-R21; see round_trips.rs for EC2 alone).

use std::time::Duration;

use network_interface_manager::ec2::InstanceState::Running;
use network_interface_manager::handler::Handled;
use serde_json::Value;

use super::{holder_and_waiting, Fleet, BOOT};
use crate::support::world::state_event;

/// Sequential round trips of one delivery.
async fn measure(f: &Fleet, event: &Value) -> (u64, Handled) {
    f.ec2.steady_latency(Duration::from_millis(50));
    let before = f.ec2.round_trips();
    let handled = f.deliver_ok(event).await;
    let trips = f.ec2.round_trips() - before;
    println!(
        "{:?}: {trips} round trips, EC2 {:?}, Auto Scaling {:?}",
        handled.event, handled.ec2_calls, handled.auto_scaling_calls
    );
    f.ec2.faults.lock().unwrap().latency = Duration::ZERO;
    (trips, handled)
}

/// R19: the group's read joins the first round: `running` in a group is
/// still two round trips.
#[tokio::test]
async fn running_in_a_group_takes_two_round_trips() {
    let f = Fleet::new(vec![]);
    let member = f.ec2.add_member("web", "subnet-a1");
    let instance = f.in_service("subnet-a1");
    let (trips, handled) = measure(&f, &state_event(&instance, Running)).await;
    assert_eq!(trips, 2);
    assert_eq!(handled.auto_scaling_calls.values().sum::<u64>(), 1);
    assert_eq!(f.ec2.holder(&member), Some((instance, 1)));
}

/// R20: with a launch hook, the attach is still the second round trip; the
/// member is read attached in the third, and the completion is the fourth
/// (the hooks are read beside the attach).
#[tokio::test]
async fn a_held_launch_attaches_in_the_second_round_trip_and_continues_in_the_fourth() {
    let f = Fleet::with_launch_hook();
    f.ec2.add_member("web", "subnet-a1");
    let (by_event, events) = f.launch("subnet-a1");
    let (by_running, _) = f.launch("subnet-b1");
    f.ec2.add_member("web", "subnet-b1");
    tokio::time::sleep(BOOT).await;
    f.asg.settle_reads();

    let (trips, handled) = measure(&f, &events[0]).await;
    assert_eq!(trips, 4, "with the event's token");
    assert_eq!(handled.auto_scaling_calls.values().sum::<u64>(), 2);
    assert_eq!(f.asg.completed(&by_event).len(), 1);

    let (trips, handled) = measure(&f, &state_event(&by_running, Running)).await;
    assert_eq!(trips, 4, "hooks read beside the attach");
    assert_eq!(handled.auto_scaling_calls.values().sum::<u64>(), 3);
    assert_eq!(f.asg.completed(&by_running).len(), 1);
}

/// R21: the terminate action: the reads (instance, its members, its group);
/// the detach beside the pool's reads; the waiting instances' groups; the
/// attach; then the completion.
#[tokio::test]
async fn a_terminate_action_hands_over_and_continues() {
    let (f, member, old, waiting) = holder_and_waiting().await;
    let events = f.asg.terminate(&old);
    f.asg.settle_reads();

    let (trips, handled) = measure(&f, &events[0]).await;
    assert_eq!(trips, 5, "{trips} round trips");
    let asg_calls = &handled.auto_scaling_calls;
    assert_eq!(
        asg_calls["DescribeAutoScalingInstances"], 2,
        "{asg_calls:?}"
    );
    assert_eq!(asg_calls["CompleteLifecycleAction"], 1, "{asg_calls:?}");
    assert_eq!(f.ec2.holder(&member), Some((waiting, 1)));
}

/// R20, R26: a held launch whose member has an ordinal: the identity is
/// written after the attach, before the member is read attached, so the
/// completion comes a round trip later: the fifth.
#[tokio::test]
async fn a_held_launch_with_an_identity_continues_in_the_fifth_round_trip() {
    let f = Fleet::with_launch_hook();
    let member = f.ec2.add_member("web", "subnet-a1");
    f.ec2
        .tag_interface(&member, network_interface_manager::ec2::ORDINAL_TAG, "1");
    let (instance, events) = f.launch("subnet-a1");
    tokio::time::sleep(BOOT).await;
    f.asg.settle_reads();

    let (trips, handled) = measure(&f, &events[0]).await;

    assert_eq!(trips, 5, "{:?}", handled.ec2_calls);
    assert_eq!(handled.ec2_calls.get("CreateTags"), Some(&1));
    assert_eq!(f.asg.completed(&instance).len(), 1);
}

/// R28: a launch-first replacement of an unhealthy holder, at 50 ms a
/// call: the launch's own reads (1); every member held, so the pool's
/// reads (2, 3); the detach off the running holder (4); the attach, which
/// EC2 accepts once the detach is done, without a fixed sleep (5, or a
/// refused try more); the member read attached (6); the completion (7).
/// Three round trips from the decision to the accepted attach, at most
/// one more than a terminate-driven handover's detach and attach.
#[tokio::test]
async fn a_launch_first_replacement_takes_the_member_within_three_round_trips_of_the_decision() {
    let f = Fleet::new(vec![
        super::HookSpec::new(super::LAUNCH_HOOK, super::Launching),
        super::HookSpec::new(super::TERMINATE_HOOK, super::Terminating),
    ]);
    let member = f.ec2.add_member("web", "subnet-a1");
    let old = f.in_service("subnet-a1");
    f.event(&old, Running).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    f.asg.mark_unhealthy(&old);
    let (new, events) = f.launch("subnet-a1");
    tokio::time::sleep(BOOT).await;
    f.ec2.settle_reads();
    f.asg.settle_reads();

    let (trips, handled) = measure(&f, &events[0]).await;

    let calls = &handled.ec2_calls;
    let attaches = calls["AttachNetworkInterface"];
    assert_eq!(calls["DetachNetworkInterface"], 1, "{calls:?}");
    assert!(
        trips <= 7 + (attaches - 1),
        "{trips} round trips, {calls:?}"
    );
    assert!(attaches <= 2, "{calls:?}");
    assert_eq!(f.asg.completed(&new)[0].members_then, vec![member.clone()]);
    assert_eq!(f.ec2.holder(&member), Some((new, 1)));
}

/// R28: a Spot interruption warning for a holder while an instance waits:
/// the instance read; the mark beside the pool's reads (two rounds:
/// members and instances, then the groups); the detach; the attach.
#[tokio::test]
async fn a_spot_warning_hands_over_within_its_invocation() {
    let (f, member, old, waiting) = holder_and_waiting().await;
    let mut warning = crate::support::world::fixture("ec2-spot-interruption-warning.json");
    warning["detail"]["instance-id"] = old.as_str().into();
    f.ec2.settle_reads();
    f.asg.settle_reads();

    let (trips, handled) = measure(&f, &warning).await;

    assert!(trips <= 5, "{trips} round trips, {:?}", handled.ec2_calls);
    assert_eq!(handled.ec2_calls["CreateTags"], 1);
    assert_eq!(f.ec2.holder(&member), Some((waiting, 1)));
}
