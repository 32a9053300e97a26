//! Launch hooks (R20, R22): an instance goes in service once its member is
//! attached, whichever event comes first, whatever fails on the way; only
//! our hooks, and a warm-pool launch without a member.

use network_interface_manager::autoscaling::Transition::Launching;

use super::{scheduled, Fleet, BOOT, LAUNCH_HOOK};
use crate::support::strict::autoscaling::HookSpec;
use crate::support::strict::Op;
use crate::support::world::done;

/// R20: the launch action goes on only once the member is attached.
#[tokio::test]
async fn a_launch_hook_continues_once_the_member_is_attached() {
    let f = Fleet::with_launch_hook();
    let member = f.ec2.add_member("web", "subnet-a1");
    let (instance, events) = f.launch("subnet-a1");
    assert_eq!(f.asg.lifecycle(&instance), "Pending:Wait");

    // The action's event comes while EC2 still boots the instance.
    let handled = f.deliver_ok(&events[0]).await;

    let completed = f.asg.completed(&instance);
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].members_then, vec![member.clone()]);
    assert_eq!(f.ec2.holder(&member), Some((instance.clone(), 1)));
    assert_eq!(handled.outcome.report.continued.len(), 1);

    // R19: on its way in service, it keeps its member.
    assert_eq!(f.asg.lifecycle(&instance), "Pending:Proceed");
    f.asg.settle_reads();
    let sync = f.deliver_ok(&scheduled()).await;
    assert!(sync.outcome.report.detached.is_empty(), "{sync:?}");
    assert_eq!(f.asg.lifecycle_once_proceeded(&instance).await, "InService");
    assert_eq!(f.ec2.holder(&member), Some((instance, 1)));
}

/// R20: the launch event and the `running` event both arrive, in either
/// order or at once; the action is completed once, after the attach.
#[tokio::test]
async fn the_launch_action_is_completed_once_whichever_event_comes_first() {
    for order in ["launch first", "running first", "at once"] {
        let f = Fleet::with_launch_hook();
        let member = f.ec2.add_member("web", "subnet-a1");
        let (instance, events) = f.launch("subnet-a1");
        match order {
            "launch first" => {
                f.deliver_ok(&events[0]).await;
                f.running(&instance).await;
            }
            "running first" => {
                f.running(&instance).await;
                f.deliver_ok(&events[0]).await;
            }
            _ => {
                let (a, b) = tokio::join!(f.deliver(&events[0]), f.running(&instance));
                done(a);
                assert!(b.outcome.report.failed.is_empty(), "{b:?}");
            }
        }
        let completed = f.asg.completed(&instance);
        assert_eq!(completed.len(), 1, "{order}: {completed:?}");
        assert_eq!(completed[0].members_then, vec![member.clone()], "{order}");
        assert_eq!(f.ec2.members_of(&instance), vec![member], "{order}");
        let state = f.asg.lifecycle_once_proceeded(&instance).await;
        assert_eq!(state, "InService", "{order}");
    }
}

/// R19, R20: a launch into the warm pool goes on at once, without a
/// member; a warmed instance that runs gets none.
#[tokio::test]
async fn a_launch_into_the_warm_pool_continues_without_an_attach() {
    let f = Fleet::with_launch_hook();
    let member = f.ec2.add_member("web", "subnet-a1");
    let (instance, events) = f.asg.launch("web-asg", "web", "subnet-a1", BOOT, true);
    assert_eq!(f.asg.lifecycle(&instance), "Warmed:Pending:Wait");

    let handled = f.deliver_ok(&events[0]).await;
    assert_eq!(handled.outcome.report.continued.len(), 1);
    assert!(handled.ec2_calls.is_empty(), "{:?}", handled.ec2_calls);
    assert_eq!(
        f.asg.lifecycle_once_proceeded(&instance).await,
        "Warmed:Running"
    );

    let handled = f.running(&instance).await;
    assert!(handled.outcome.report.attached.is_empty());
    f.asg.settle_reads();
    f.deliver_ok(&scheduled()).await;
    assert_eq!(
        f.ec2.holder(&member),
        None,
        "a warmed instance holds nothing"
    );
}

/// R20: a failure blocks only the launch of the instance it happened to:
/// the sync attaches two launching instances' members, EC2 refuses one
/// attach; the other instance's launch goes on, the refused one's stays
/// open.
#[tokio::test]
async fn a_failed_attach_keeps_only_its_own_launch_open() {
    let f = Fleet::with_launch_hook();
    f.ec2.add_member("web", "subnet-a1");
    f.ec2.add_member("web", "subnet-b1");
    let (a, _) = f.launch("subnet-a1");
    let (b, _) = f.launch("subnet-b1");
    tokio::time::sleep(BOOT).await;
    f.asg.settle_reads();
    f.ec2
        .fail_next(Op::Attach, "UnauthorizedOperation", "not allowed");

    f.deliver(&scheduled()).await;

    let (served, refused) = match f.ec2.members_of(&a).is_empty() {
        true => (b, a),
        false => (a, b),
    };
    assert_eq!(f.ec2.members_of(&served).len(), 1);
    assert_eq!(f.asg.completed(&served).len(), 1, "{served} goes on");
    assert!(f.ec2.members_of(&refused).is_empty());
    assert!(f.asg.completed(&refused).is_empty(), "{refused} stays open");
}

/// R20: a hook whose name lacks the prefix is never completed, not by its
/// event, not by the sync.
#[tokio::test]
async fn a_hook_without_the_prefix_is_never_completed() {
    let f = Fleet::new(vec![
        HookSpec::new("their-launch-hook", Launching),
        HookSpec::new(LAUNCH_HOOK, Launching),
    ]);
    f.ec2.add_member("web", "subnet-a1");
    let (instance, events) = f.launch("subnet-a1");
    let theirs = &events[0];
    assert_eq!(theirs["detail"]["LifecycleHookName"], "their-launch-hook");

    let handled = f.deliver_ok(theirs).await;
    assert!(handled.ec2_calls.is_empty());
    f.running(&instance).await;
    f.asg.settle_reads();
    f.deliver_ok(&scheduled()).await;

    let completed = f.asg.completed(&instance);
    let hooks: Vec<&str> = completed.iter().map(|a| a.hook.as_str()).collect();
    assert_eq!(hooks, vec![LAUNCH_HOOK]);
    assert_eq!(
        f.asg.lifecycle(&instance),
        "Pending:Wait",
        "theirs stays open"
    );
}

/// R20: both events lost; the sync attaches and lets the launch go on.
#[tokio::test]
async fn the_sync_completes_open_launch_actions() {
    let f = Fleet::with_launch_hook();
    let member = f.ec2.add_member("web", "subnet-a1");
    let (instance, _lost) = f.launch("subnet-a1");
    tokio::time::sleep(BOOT).await;
    f.asg.settle_reads();

    let handled = f.deliver_ok(&scheduled()).await;

    assert_eq!(f.ec2.holder(&member), Some((instance.clone(), 1)));
    assert_eq!(handled.outcome.report.continued.len(), 1);
    assert_eq!(f.asg.completed(&instance).len(), 1);
    assert_eq!(f.asg.lifecycle_once_proceeded(&instance).await, "InService");
}

/// R22: `ResourceContention` is transient: the event is delivered again,
/// and the retry completes the action.
#[tokio::test]
async fn resource_contention_is_retried() {
    let f = Fleet::with_launch_hook();
    f.ec2.add_member("web", "subnet-a1");
    let (instance, events) = f.launch("subnet-a1");
    f.asg.fail_next_complete(
        "ResourceContention",
        "You already have a pending update to an Auto Scaling resource",
    );

    let first = f.deliver(&events[0]).await;
    assert!(first.should_retry(), "{first:?}");
    assert!(f.asg.completed(&instance).is_empty());

    f.deliver_ok(&events[0]).await;
    assert_eq!(f.asg.completed(&instance).len(), 1);
}

/// R20: an attach that failed for a while leaves the action open: the
/// event is delivered again, and the instance goes in service with its
/// member.
#[tokio::test]
async fn a_launch_whose_attach_fails_transiently_stays_open() {
    let f = Fleet::with_launch_hook();
    let member = f.ec2.add_member("web", "subnet-a1");
    let (instance, events) = f.launch("subnet-a1");
    // Past the SDK's retries and the pacing's (R23).
    for _ in 0..network_interface_manager::ec2::paced::THROTTLED_TRIES {
        f.ec2.fail_next(
            Op::Attach,
            "RequestLimitExceeded",
            "Request limit exceeded.",
        );
    }

    let first = f.deliver(&events[0]).await;
    assert!(first.should_retry(), "{first:?}");
    assert!(f.asg.completed(&instance).is_empty());
    assert_eq!(f.asg.lifecycle(&instance), "Pending:Wait");

    f.deliver_ok(&events[0]).await;
    assert_eq!(f.asg.completed(&instance)[0].members_then, vec![member]);
}

/// R16, R19: the launch event delivered again after Auto Scaling moved the
/// instance to `Terminating:Wait`: the read says it leaves, and an event's
/// word never makes a leaving instance serve: its member goes to the
/// instance that waits.
#[tokio::test]
async fn a_late_launch_event_never_keeps_a_member_on_a_terminating_instance() {
    let f = Fleet::with_launch_hook();
    let member = f.ec2.add_member("web", "subnet-a1");
    let (instance, events) = f.launch("subnet-a1");
    f.running(&instance).await;
    f.deliver_ok(&events[0]).await;
    assert_eq!(f.ec2.holder(&member), Some((instance.clone(), 1)));
    let waiting = f.in_service("subnet-a1");
    f.asg.set_lifecycle(&instance, "Terminating:Wait");
    f.asg.settle_reads();

    f.deliver(&events[0]).await;

    f.ec2.settle_reads();
    assert_eq!(f.ec2.holder(&member), Some((waiting, 1)));
}

/// R19: a sync reads Auto Scaling's view only of the running instances
/// that carry a group's tag: a standalone pool instance costs no Auto
/// Scaling call.
#[tokio::test]
async fn a_sync_reads_no_group_for_a_standalone_instance() {
    use network_interface_manager::autoscaling::AutoScaling;
    let f = Fleet::with_launch_hook();
    f.ec2.add_member("web", "subnet-a1");
    f.ec2.launch(Some("web"), "subnet-a1");
    f.ec2.settle_reads();

    f.deliver_ok(&scheduled()).await;

    let calls = f.asg.calls();
    assert_eq!(calls.get("DescribeAutoScalingInstances"), None, "{calls:?}");
}
