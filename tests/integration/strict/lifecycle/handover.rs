//! Handovers (R19, R21): members leave instances that stop serving
//! (terminating, warmed, retained, standby) for the serving ones of their
//! AZ, before the termination goes on; late and made-up terminate actions.

use std::time::Duration;

use network_interface_manager::autoscaling::Transition::{Launching, Terminating};
use network_interface_manager::ec2::InstanceState::*;

use super::{holder_and_waiting, scheduled, Fleet, BOOT, LAUNCH_HOOK, TERMINATE_HOOK};
use crate::support::strict::autoscaling::HookSpec;
use crate::support::world::fixture;

/// R19: a member on an instance that no longer serves (warmed, retained,
/// waiting to terminate) goes to a serving instance of its AZ.
#[tokio::test]
async fn a_member_on_a_warm_or_retained_instance_goes_to_a_serving_one() {
    for state in ["Warmed:Running", "Terminating:Retained", "Terminating:Wait"] {
        let f = Fleet::new(vec![]);
        let member = f.ec2.add_member("web", "subnet-a1");
        let old = f.in_service("subnet-a1");
        f.event(&old, Running).await;
        let serving = f.in_service("subnet-a1");
        assert_eq!(f.ec2.holder(&member), Some((old.clone(), 1)), "{state}");

        f.asg.set_lifecycle(&old, state);
        f.asg.settle_reads();
        let handled = f.deliver_ok(&scheduled()).await;

        assert_eq!(f.ec2.holder(&member), Some((serving, 1)), "{state}");
        assert!(
            handled.outcome.report.detached[0].reason.contains(state),
            "{state}: {:?}",
            handled.outcome.report.detached
        );
    }
}

/// R20: one member per AZ and a launch-before-terminate replacement: the
/// new instance goes on at once, then gets the member when the old leaves.
#[tokio::test]
async fn a_replacement_continues_at_once_and_gets_the_member_when_the_old_one_leaves() {
    let f = Fleet::with_launch_hook();
    let member = f.ec2.add_member("web", "subnet-a1");
    let old = f.in_service("subnet-a1");
    f.event(&old, Running).await;
    let (new, events) = f.launch("subnet-a1");

    let launch = f.deliver_ok(&events[0]).await;
    let shortages = &launch.outcome.report.shortages;
    assert_eq!(shortages[0].instance_ids, vec![new.clone()]);
    let completed = f.asg.completed(&new);
    assert_eq!(completed.len(), 1, "no deadlock: {completed:?}");
    assert!(completed[0].members_then.is_empty());
    assert_eq!(f.asg.lifecycle_once_proceeded(&new).await, "InService");

    f.asg.terminate(&old);
    f.asg.settle_reads();
    f.event(&old, Terminated).await;
    assert_eq!(f.ec2.holder(&member), Some((new, 1)));
}

/// R21: the member moves to the waiting instance before the old instance
/// is terminated; the termination goes on after.
#[tokio::test]
async fn a_terminate_hook_hands_the_member_over_before_the_instance_terminates() {
    let (f, member, old, waiting) = holder_and_waiting().await;

    let events = f.asg.terminate(&old);
    assert_eq!(f.asg.lifecycle(&old), "Terminating:Wait");
    let handled = f.deliver_ok(&events[0]).await;

    let completed = f.asg.completed(&old);
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert!(completed[0].members_then.is_empty(), "handed over first");
    assert_eq!(f.ec2.holder(&member), Some((waiting.clone(), 1)));
    assert_eq!(handled.outcome.report.attached[0].instance_id, waiting);
    assert_eq!(f.ec2.instance_state(&old), Terminated);
}

/// R16, R21: the terminate event comes before Auto Scaling's reads show the
/// instance terminating (they lag up to 400 ms here): the handler reads
/// again until they do, within its fresh-read budget, and hands the member
/// over in the same invocation.
#[tokio::test]
async fn a_terminate_event_ahead_of_auto_scalings_reads_is_handed_over_once_they_catch_up() {
    let (f, member, old, waiting) = holder_and_waiting().await;
    f.asg.faults.lock().unwrap().read_lag = Duration::from_millis(400);

    let events = f.asg.terminate(&old);
    let handled = f.deliver_ok(&events[0]).await;

    assert_eq!(f.ec2.holder(&member), Some((waiting.clone(), 1)));
    assert_eq!(handled.outcome.report.attached[0].instance_id, waiting);
    assert_eq!(f.asg.completed(&old).len(), 1);
}

/// R20, R21: a terminate event hands the member over to a replacement
/// whose own launch event has not come (lost, or late): its open launch
/// action is completed in the same invocation, once the member reads
/// attached; the old instance's termination goes on too.
#[tokio::test]
async fn a_handover_completes_the_open_launch_of_the_instance_it_serves() {
    let f = Fleet::new(vec![
        HookSpec::new(LAUNCH_HOOK, Launching),
        HookSpec::new(TERMINATE_HOOK, Terminating),
    ]);
    let member = f.ec2.add_member("web", "subnet-a1");
    let old = f.in_service("subnet-a1");
    f.event(&old, Running).await;
    let (new, _launch_events_not_delivered) = f.launch("subnet-a1");
    tokio::time::sleep(BOOT).await;

    let events = f.asg.terminate(&old);
    f.asg.settle_reads();
    f.deliver_ok(&events[0]).await;

    assert_eq!(f.ec2.holder(&member), Some((new.clone(), 1)));
    let launched = f.asg.completed(&new);
    assert_eq!(launched.len(), 1, "{launched:?}");
    assert_eq!(launched[0].attached_then, vec![member]);
    assert_eq!(f.asg.completed(&old).len(), 1);
}

/// R19: standby instances keep their member, unless the setting says not.
#[tokio::test]
async fn standby_instances_hold_a_member_unless_excluded() {
    for standby_holds in [true, false] {
        let mut f = Fleet::new(vec![]);
        f.settings.standby_holds = standby_holds;
        let member = f.ec2.add_member("web", "subnet-a1");
        let instance = f.in_service("subnet-a1");
        f.event(&instance, Running).await;

        f.asg.set_lifecycle(&instance, "Standby");
        f.asg.settle_reads();
        f.deliver_ok(&scheduled()).await;

        let held = f.ec2.holder(&member).is_some();
        assert_eq!(held, standby_holds, "standby_holds {standby_holds}");
    }
}

/// R21: the terminate event lost: the sync hands the member over and lets
/// the termination go on.
#[tokio::test]
async fn the_sync_completes_open_terminate_actions_after_the_handover() {
    let (f, member, old, waiting) = holder_and_waiting().await;
    let _lost = f.asg.terminate(&old);
    f.asg.settle_reads();

    f.deliver_ok(&scheduled()).await;

    assert_eq!(f.ec2.holder(&member), Some((waiting, 1)));
    assert!(f.asg.completed(&old)[0].members_then.is_empty());
    assert_eq!(f.ec2.instance_state(&old), Terminated);
}

/// R21, hostile caller: a made-up terminate action for an instance that
/// serves takes nothing from it; the event fails (and is retried, then
/// dead-lettered) and no action is completed.
#[tokio::test]
async fn a_made_up_terminate_action_takes_nothing_from_a_serving_instance() {
    let f = Fleet::new(vec![HookSpec::new(TERMINATE_HOOK, Terminating)]);
    let member = f.ec2.add_member("web", "subnet-a1");
    let holder = f.in_service("subnet-a1");
    f.event(&holder, Running).await;
    f.in_service("subnet-a1");
    let mut forged = fixture("autoscaling-launch-lifecycle.json");
    forged["detail-type"] = "EC2 Instance-terminate Lifecycle Action".into();
    forged["detail"]["LifecycleTransition"] = "autoscaling:EC2_INSTANCE_TERMINATING".into();
    forged["detail"]["LifecycleHookName"] = TERMINATE_HOOK.into();
    forged["detail"]["AutoScalingGroupName"] = "web-asg".into();
    forged["detail"]["EC2InstanceId"] = holder.clone().into();

    let handled = f.deliver(&forged).await;

    assert!(handled.should_retry(), "{handled:?}");
    assert_eq!(f.ec2.holder(&member), Some((holder.clone(), 1)));
    assert!(f.asg.actions().is_empty());
    assert_eq!(f.asg.lifecycle(&holder), "InService");
}
