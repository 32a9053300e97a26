//! The volume executor's answers to EC2's refusals (R27, `move_volumes.rs`):
//! a refusal for a state that passes is tried again after a read; any
//! other fails the move, naming the volume; a detach EC2 says is done
//! already is no failure.

use std::time::Duration;

use network_interface_manager::ec2::InstanceState::{Running, Stopped};

use super::data_volumes::{hooks, seat};
use crate::support::strict::Op;
use network_interface_manager::deadline::Deadline;
use network_interface_manager::handler::{handle, Context, Handled};
use serde_json::Value;

use crate::support::world::{deliver_ok, fast, state_event, StrictWorld, World};

/// The event, handled within a second: the fake refusal leaves the volume
/// where it is, so the attach after it waits out the deadline.
async fn within_a_second(w: &StrictWorld, event: &Value) -> Handled {
    let ctx = Context::new(w.ec2(), fast());
    handle(&ctx, event, Deadline::after(Duration::from_secs(1))).await
}

const DENIED: (&str, &str) = ("UnauthorizedOperation", "You are not authorized");
const NOT_YET: (&str, &str) = ("IncorrectState", "The volume is not 'available'");

/// A holder of seat 1 that stops while another instance waits: the stop
/// event detaches its volume (`old`, `new`, the volume).
async fn stopping_holder(w: &StrictWorld) -> (String, String, String) {
    let (_, volume) = seat(&w.model, "db", "subnet-a1", "1");
    let old = w.model.launch(Some("db"), "subnet-a1");
    deliver_ok(w, &state_event(&old, Running)).await;
    let new = w.model.launch(Some("db"), "subnet-a1");
    tokio::time::sleep(Duration::from_millis(100)).await; // done attaching
    w.model.set_state(&old, Stopped);
    (old, new, volume)
}

#[tokio::test]
async fn a_detach_ec2_says_is_done_already_is_no_failure() {
    let w = StrictWorld::new();
    let (old, _, _) = stopping_holder(&w).await;
    w.model.fail_next(Op::DetachVolume, NOT_YET.0, NOT_YET.1);

    let moved = within_a_second(&w, &state_event(&old, Stopped)).await;

    let report = &moved.outcome.report;
    assert!(report.failed.is_empty(), "{report:?}");
    assert!(report.volumes_detached.is_empty(), "{report:?}");
}

#[tokio::test]
async fn a_refused_detach_fails_naming_the_volume() {
    let w = StrictWorld::new();
    let (old, _, volume) = stopping_holder(&w).await;
    w.model.fail_next(Op::DetachVolume, DENIED.0, DENIED.1);

    let moved = within_a_second(&w, &state_event(&old, Stopped)).await;

    let failed = &moved.outcome.report.failed;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0].error.starts_with(&format!("volume {volume}: ")),
        "{failed:?}"
    );
    assert_eq!(failed[0].code.as_deref(), Some(DENIED.0));
}

/// A launch takes a free seat: its volume is attached at once, then after
/// a read. Refusals for a state that passes (before and after the read)
/// are tried again; the launch goes on with the volume.
#[tokio::test]
async fn an_attach_refused_for_a_passing_state_is_tried_again() {
    let f = hooks();
    let (_, volume) = seat(&f.ec2, "web", "subnet-a1", "1");
    let (new, launched) = f.launch("subnet-a1");
    tokio::time::sleep(Duration::from_millis(50)).await; // EC2 runs it
    f.ec2.fail_next(Op::AttachVolume, NOT_YET.0, NOT_YET.1);
    f.ec2.fail_next(
        Op::AttachVolume,
        "VolumeInUse",
        "vol is attached to another instance",
    );

    let done = f.deliver_ok(&launched[0]).await;

    assert!(done.outcome.report.failed.is_empty(), "{done:?}");
    assert_eq!(done.ec2_calls.get("AttachVolume"), Some(&3), "{done:?}");
    let completed = f.asg.completed(&new);
    assert_eq!(completed[0].volumes_then, vec![volume]);
}

/// Any other refusal, at once or after the read, fails the attach naming
/// the volume: the launch stays open (R20).
#[tokio::test]
async fn an_attach_refused_otherwise_fails_naming_the_volume() {
    for refusals in [vec![DENIED], vec![NOT_YET, DENIED]] {
        let f = hooks();
        let (_, volume) = seat(&f.ec2, "web", "subnet-a1", "1");
        let (new, launched) = f.launch("subnet-a1");
        tokio::time::sleep(Duration::from_millis(50)).await;
        for (code, message) in &refusals {
            f.ec2.fail_next(Op::AttachVolume, code, message);
        }

        let handled = f.deliver(&launched[0]).await;

        let failed = &handled.outcome.report.failed;
        assert_eq!(failed.len(), 1, "{refusals:?}: {failed:?}");
        assert!(
            failed[0].error.starts_with(&format!("volume {volume}: ")),
            "{failed:?}"
        );
        assert!(f.asg.completed(&new).is_empty(), "not without its volume");
    }
}
