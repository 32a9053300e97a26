//! Lifecycle actions outside the happy path (R20, R21): a launch whose
//! attach is deferred or still settling, a scale-in back into the warm
//! pool, a warm instance terminated. Each story failed on the code before
//! R20's "member reads attached" and R21's warm wait states.

use std::time::Duration;

use network_interface_manager::autoscaling::Transition::Terminating;
use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::Ec2;
use network_interface_manager::ec2::InstanceState;
use network_interface_manager::handler::{handle, Context};
use network_interface_manager::pool::report::LeftAction;
use network_interface_manager::pool::Settings;

use super::{holder_and_waiting, scheduled, Fleet, BOOT, TERMINATE_HOOK};
use crate::support::strict::autoscaling::HookSpec;
use crate::support::world::fast;

/// R20, R24: the pacing defers the attach of a held launch: the action
/// stays open (the event is retried; the instance does not go in service
/// without its address), and the next sync attaches the member, sees it
/// attached, and only then lets the launch go on.
#[tokio::test]
async fn a_launch_whose_attach_is_deferred_stays_open_until_the_next_sync_attaches_it() {
    let f = Fleet::with_launch_hook();
    let member = f.ec2.add_member("web", "subnet-a1");
    let (instance, events) = f.launch("subnet-a1");
    tokio::time::sleep(BOOT).await;
    f.asg.settle_reads();
    // A share of one token a bucket, refilled every 200 s: once the attach
    // token is spent, the next comes after the deadline (R23).
    let settings = Settings {
        ec2_share: 0.001,
        ..fast()
    };
    let mut ctx = Context::new(f.ec2.as_ref(), settings);
    ctx.auto_scaling = Some(&f.asg);
    let deadline = Deadline::after(Duration::from_secs(5));
    let spent = ctx.paced(deadline);
    let _ = spent.attach("eni-spent", &instance, 1).await;

    let deferred = handle(&ctx, &events[0], deadline).await;

    assert!(
        deferred.should_retry(),
        "a deferred attach is retried: {deferred:?}"
    );
    let handled = deferred;
    assert_eq!(
        handled.outcome.report.left_of(LeftAction::Attach),
        1,
        "{handled:?}"
    );
    assert!(handled.outcome.report.continued.is_empty());
    assert!(
        f.asg.completed(&instance).is_empty(),
        "the action stays open"
    );
    assert_eq!(f.asg.lifecycle(&instance), "Pending:Wait");
    assert_eq!(f.ec2.holder(&member), None);

    f.asg.settle_reads();
    let sync = f.deliver_ok(&scheduled()).await;

    assert_eq!(sync.outcome.report.attached.len(), 1, "{sync:?}");
    let completed = f.asg.completed(&instance);
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].attached_then, vec![member.clone()]);
    assert_eq!(f.asg.lifecycle_once_proceeded(&instance).await, "InService");
}

/// R20: EC2 takes its time to attach (the attachment reads `attaching`):
/// the launch goes on only once the member reads `attached`, so that the
/// instance never boots on a half-attached interface.
#[tokio::test]
async fn a_launch_goes_on_only_once_its_member_reads_attached() {
    let f = Fleet::with_launch_hook();
    f.ec2.faults.lock().unwrap().transition = Duration::from_millis(300);
    let member = f.ec2.add_member("web", "subnet-a1");
    let (instance, events) = f.launch("subnet-a1");

    let handled = f.deliver_ok(&events[0]).await;

    assert_eq!(handled.outcome.report.continued.len(), 1, "{handled:?}");
    let completed = f.asg.completed(&instance);
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].attached_then, vec![member]);
}

/// R20, R24: the member still reads `attaching` when the deadline comes:
/// the launch stays open (the event is retried), and goes on only once a
/// later invocation reads it attached.
#[tokio::test]
async fn a_launch_whose_member_is_still_attaching_at_the_deadline_stays_open() {
    let f = Fleet::with_launch_hook();
    f.ec2.faults.lock().unwrap().transition = Duration::from_secs(2);
    let member = f.ec2.add_member("web", "subnet-a1");
    let (instance, events) = f.launch("subnet-a1");
    tokio::time::sleep(BOOT).await;
    f.asg.settle_reads();
    let mut ctx = Context::new(f.ec2.as_ref(), fast());
    ctx.auto_scaling = Some(&f.asg);

    let early = handle(
        &ctx,
        &events[0],
        Deadline::after(Duration::from_millis(500)),
    )
    .await;

    assert!(early.should_retry(), "{early:?}");
    assert_eq!(f.ec2.holder(&member), Some((instance.clone(), 1)));
    assert!(f.asg.completed(&instance).is_empty(), "not while attaching");
    f.ec2.settle_reads();
    f.deliver_ok(&events[0]).await;
    let completed = f.asg.completed(&instance);
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].attached_then, vec![member]);
}

/// R21 [ASG-WPEV]: a scale-in with instance reuse sends the terminate
/// action, and the instance waits in `Warmed:Pending:Wait`: its member goes
/// to the waiting instance, then the action is completed (not left to its
/// heartbeat timeout); back in the warm pool it gets nothing again.
#[tokio::test]
async fn a_scale_in_back_into_the_warm_pool_hands_over_and_goes_on() {
    let (f, member, old, waiting) = holder_and_waiting().await;

    let events = f.asg.scale_in_to_warm_pool(&old);
    assert_eq!(f.asg.lifecycle(&old), "Warmed:Pending:Wait");
    let handled = f.deliver_ok(&events[0]).await;

    let completed = f.asg.completed(&old);
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert!(completed[0].members_then.is_empty(), "handed over first");
    assert_eq!(handled.outcome.report.continued.len(), 1);
    assert_eq!(f.ec2.holder(&member), Some((waiting.clone(), 1)));
    assert_eq!(f.asg.lifecycle_once_proceeded(&old).await, "Warmed:Running");
    assert_eq!(f.ec2.instance_state(&old), InstanceState::Running);

    f.asg.settle_reads();
    f.deliver_ok(&scheduled()).await;
    assert_eq!(
        f.ec2.holder(&member),
        Some((waiting, 1)),
        "the warm one gets nothing"
    );
}

/// R21: the same scale-in with its event lost: the sync hands the member
/// over and completes the action.
#[tokio::test]
async fn the_sync_completes_a_scale_in_back_into_the_warm_pool() {
    let (f, member, old, waiting) = holder_and_waiting().await;
    f.asg.scale_in_to_warm_pool(&old);
    f.asg.settle_reads();

    f.deliver_ok(&scheduled()).await;

    assert_eq!(f.asg.completed(&old).len(), 1);
    assert_eq!(f.ec2.holder(&member), Some((waiting, 1)));
}

/// R21: a warm instance that is terminated waits in
/// `Warmed:Terminating:Wait`; its action is completed, and EC2 terminates it.
#[tokio::test]
async fn a_warm_instance_terminated_is_let_go() {
    let f = Fleet::new(vec![HookSpec::new(TERMINATE_HOOK, Terminating)]);
    f.ec2.add_member("web", "subnet-a1");
    let (warm, _) = f.asg.launch("web-asg", "web", "subnet-a1", BOOT, true);
    assert_eq!(
        f.asg.lifecycle_once_proceeded(&warm).await,
        "Warmed:Running"
    );

    let events = f.asg.terminate_warm(&warm);
    assert_eq!(f.asg.lifecycle(&warm), "Warmed:Terminating:Wait");
    let handled = f.deliver_ok(&events[0]).await;

    assert_eq!(handled.outcome.report.continued.len(), 1, "{handled:?}");
    assert_eq!(f.asg.completed(&warm).len(), 1);
    let state = f.asg.lifecycle_once_proceeded(&warm).await;
    assert_eq!(state, "Warmed:Terminated");
    assert_eq!(f.ec2.instance_state(&warm), InstanceState::Terminated);
    assert!(handled.outcome.report.attached.is_empty());
}
