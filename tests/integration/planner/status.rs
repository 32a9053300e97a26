//! What the planner's survey tells operators: the census behind the gauges
//! (R18) and `status` (I1).

use network_interface_manager::aws::ErrorKind;
use network_interface_manager::ec2::AttachmentStatus;
use network_interface_manager::ec2::InstanceState::*;
use network_interface_manager::pool::model::{Detach, Snapshot};
use network_interface_manager::pool::report::{Attached, Failed, Report};
use network_interface_manager::pool::status::{census, status};

use crate::planner::fixtures::{attach, instance, member};

/// R18: the gauges a sync leaves count each member once, as the sync leaves
/// it: held before and kept, attached by the sync, free, detaching (EC2's
/// or the sync's own), in one pool and AZ.
#[test]
fn the_census_counts_each_member_as_the_sync_leaves_it() {
    let mut holder = instance("i-1", Some("p"), "subnet-a1", Running);
    let mut other = instance("i-5", Some("p"), "subnet-a1", Running);
    let mut gone = instance("i-2", Some("p"), "subnet-a1", Terminated);
    let mut released = instance("i-3", Some("p"), "subnet-a1", Stopped);
    let waiting = instance("i-4", Some("p"), "subnet-a1", Running);
    let kept = attach(member("eni-kept", "p", "subnet-a1"), &mut holder, 1);
    let also_kept = attach(member("eni-kept2", "p", "subnet-a1"), &mut other, 1);
    let mut by_ec2 = attach(member("eni-ec2", "p", "subnet-a1"), &mut gone, 1);
    by_ec2.attachment.as_mut().unwrap().status = AttachmentStatus::Detaching;
    let taken_back = attach(member("eni-back", "p", "subnet-a1"), &mut released, 1);
    let snapshot = Snapshot {
        members: vec![
            kept,
            also_kept,
            by_ec2,
            taken_back,
            member("eni-free", "p", "subnet-a1"),
            member("eni-new", "p", "subnet-a1"),
        ],
        instances: vec![holder, other, gone, released, waiting],
        ..Snapshot::default()
    };
    let report = Report {
        // An instance whose attach failed for now still waits.
        failed: vec![Failed {
            pool: "p".into(),
            instance_id: "i-4".into(),
            interface_id: None,
            code: None,
            error: "the deadline came".into(),
            kind: ErrorKind::Transient,
        }],
        attached: vec![Attached {
            pool: "p".into(),
            interface_id: "eni-new".into(),
            instance_id: "i-4".into(),
            device_index: 1,
            reason: String::new(),
            waiting_since: None,
        }],
        detached: vec![Detach {
            pool: "p".into(),
            interface_id: "eni-back".into(),
            attachment_id: "att-eni-back".into(),
            instance_id: "i-3".into(),
            reason: String::new(),
        }],
        ..Report::default()
    };

    let gauges = census(&snapshot, &report);

    assert_eq!(gauges.len(), 1, "{gauges:?}");
    let g = &gauges[0];
    assert_eq!(
        (g.members, g.held, g.free, g.waiting),
        (6, 3, 3, 1),
        "{g:?}"
    );
}

/// I1: `status` shows each member with its holder, and the instances that
/// wait, per pool.
#[test]
fn status_shows_members_holders_and_waiting_instances() {
    let mut holder = instance("i-1", Some("p"), "subnet-a1", Running);
    let held = attach(member("eni-1", "p", "subnet-a1"), &mut holder, 1);
    let waiting = instance("i-2", Some("p"), "subnet-b1", Running);
    let snapshot = Snapshot {
        members: vec![held, member("eni-2", "p", "subnet-a2")],
        instances: vec![holder, waiting],
        ..Snapshot::default()
    };

    let pools = status(&snapshot);

    assert_eq!(pools.len(), 1);
    let p = &pools[0];
    assert_eq!(p.pool, "p");
    let holders: Vec<(&str, Option<&str>)> = p
        .members
        .iter()
        .map(|m| {
            (
                m.interface_id.as_str(),
                m.holder.as_ref().map(|h| h.instance_id.as_str()),
            )
        })
        .collect();
    assert_eq!(holders, [("eni-1", Some("i-1")), ("eni-2", None)]);
    let waiting: Vec<&str> = p.waiting.iter().map(|w| w.instance_id.as_str()).collect();
    assert_eq!(waiting, ["i-2"]);
}
