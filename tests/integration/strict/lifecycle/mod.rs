//! Auto Scaling lifecycle states and hooks (docs/design.md, R19-R22), on the
//! strict EC2 and Auto Scaling models together.

use std::sync::Arc;
use std::time::Duration;

use network_interface_manager::autoscaling::Transition::{Launching, Terminating};
use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::InstanceState::{self, *};
use network_interface_manager::handler::{handle, Context, Handled};
use network_interface_manager::pool::Settings;
use serde_json::Value;

use crate::support::strict::autoscaling::{HookSpec, StrictAutoScaling};
use crate::support::strict::{Op, StrictEc2};
use crate::support::world::{done, fast, fixture, state_event};

mod resting;
mod round_trips;

const LAUNCH_HOOK: &str = "network-interface-manager-launch";
const TERMINATE_HOOK: &str = "network-interface-manager-terminate";
const BOOT: Duration = Duration::from_millis(30);

pub struct Fleet {
    pub ec2: Arc<StrictEc2>,
    pub asg: StrictAutoScaling,
    pub settings: Settings,
}

impl Fleet {
    /// Group `web-asg` of pool `web`, with the given hooks.
    pub fn new(hooks: Vec<HookSpec>) -> Self {
        let ec2 = Arc::new(StrictEc2::new());
        let asg = StrictAutoScaling::new(ec2.clone());
        asg.create_group("web-asg", hooks);
        Self {
            ec2,
            asg,
            settings: fast(),
        }
    }

    pub fn with_launch_hook() -> Self {
        Self::new(vec![HookSpec::new(LAUNCH_HOOK, Launching)])
    }

    pub async fn deliver(&self, event: &Value) -> Handled {
        let mut ctx = Context::new(self.ec2.as_ref(), self.settings.clone());
        ctx.auto_scaling = Some(&self.asg);
        handle(&ctx, event, Deadline::after(Duration::from_secs(30))).await
    }

    pub async fn deliver_ok(&self, event: &Value) -> Handled {
        done(self.deliver(event).await)
    }

    /// A new instance of the group, and its launch lifecycle events.
    pub fn launch(&self, subnet: &str) -> (String, Vec<Value>) {
        self.asg.launch("web-asg", "web", subnet, BOOT, false)
    }

    pub fn in_service(&self, subnet: &str) -> String {
        self.asg.in_service("web-asg", "web", subnet)
    }

    /// The instance's `running` event, once EC2 runs it.
    pub async fn running(&self, instance: &str) -> Handled {
        tokio::time::sleep(BOOT).await;
        self.deliver_ok(&state_event(instance, Running)).await
    }

    pub async fn event(&self, instance: &str, state: InstanceState) -> Handled {
        self.deliver_ok(&state_event(instance, state)).await
    }
}

/// A group with our terminate hook: `old` holds the one member of its AZ,
/// `waiting` waits for it.
async fn holder_and_waiting() -> (Fleet, String, String, String) {
    let f = Fleet::new(vec![HookSpec::new(TERMINATE_HOOK, Terminating)]);
    let member = f.ec2.add_member("web", "subnet-a1");
    let old = f.in_service("subnet-a1");
    f.event(&old, Running).await;
    let waiting = f.in_service("subnet-a1");
    (f, member, old, waiting)
}

fn scheduled() -> Value {
    fixture("scheduled-event.json")
}

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
