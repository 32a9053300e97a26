//! R28 as tables: a holder due to leave (warned by EC2, unhealthy in its
//! group) gives its member to an instance that waits, only where waiters
//! outnumber free members, never a member with data volumes.

use network_interface_manager::autoscaling::Membership;
use network_interface_manager::ec2::InstanceState::Running;
use network_interface_manager::ec2::{Instance, LEAVING_TAG, VOLUMES_TAG};
use network_interface_manager::pool::model::{Once, Snapshot};
use network_interface_manager::pool::plan::plan;

use crate::planner::fixtures::{attach, case, instance, member};

fn in_group(mut i: Instance, state: &str, healthy: bool) -> Instance {
    i.tags
        .insert("aws:autoscaling:groupName".into(), "g".into());
    i.group = Some(Membership {
        healthy,
        ..Membership::new("g".into(), state.into(), true)
    });
    i
}

fn warned(mut i: Instance) -> Instance {
    i.tags
        .insert(LEAVING_TAG.into(), "spot-interruption -".into());
    i
}

#[test]
fn a_holder_due_to_leave_hands_its_member_to_one_that_waits() {
    let unhealthy = |id| {
        in_group(
            instance(id, Some("p"), "subnet-a1", Running),
            "InService",
            false,
        )
    };
    let successor = || {
        in_group(
            instance("i-new", Some("p"), "subnet-a1", Running),
            "Pending:Wait",
            true,
        )
    };
    let mut old = unhealthy("i-old");
    let m = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    case(
        "R28: an unhealthy holder's member goes to the launch that waits",
        vec![m],
        vec![old, successor()],
        &[
            "detach eni-1 from i-old",
            "attach eni-1 to i-new at 1 once free from i-old",
        ],
    );

    let mut old = warned(instance("i-old", Some("p"), "subnet-a1", Running));
    let m = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    let waiter = instance("i-new", Some("p"), "subnet-a1", Running);
    case(
        "R28: a warned holder's member goes to any instance that waits",
        vec![m],
        vec![old, waiter],
        &[
            "detach eni-1 from i-old",
            "attach eni-1 to i-new at 1 once free from i-old",
        ],
    );
}

#[test]
fn a_holder_an_instance_refresh_replaces_hands_its_member_over() {
    let mut old = in_group(
        instance("i-old", Some("p"), "subnet-a1", Running),
        "InService",
        true,
    );
    old.group.as_mut().unwrap().refreshed_out = true;
    let m = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    let new = in_group(
        instance("i-new", Some("p"), "subnet-a1", Running),
        "Pending:Wait",
        true,
    );
    case(
        "R28: the refresh's replacement takes the member of the instance it replaces",
        vec![m],
        vec![old, new],
        &[
            "detach eni-1 from i-old",
            "attach eni-1 to i-new at 1 once free from i-old",
        ],
    );
}

/// R28: the groups a launch that finds its placement held reads the
/// refreshes of: its holders' groups there, not a standalone holder's, not
/// another placement's.
#[test]
fn the_refreshes_read_are_those_of_the_groups_holding_where_a_launch_waits() {
    use network_interface_manager::pool::succession::refresh_groups;
    let mut old = in_group(
        instance("i-old", Some("p"), "subnet-a1", Running),
        "InService",
        true,
    );
    let m = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    let mut other = in_group(
        instance("i-b", Some("p"), "subnet-b1", Running),
        "InService",
        true,
    );
    other.group.as_mut().unwrap().group = "g-b".into();
    let mb = attach(member("eni-2", "p", "subnet-b1"), &mut other, 1);
    let new = in_group(
        instance("i-new", Some("p"), "subnet-a1", Running),
        "Pending:Wait",
        true,
    );
    let snapshot = Snapshot {
        members: vec![m, mb],
        instances: vec![old, other, new],
        ..Snapshot::default()
    };
    assert_eq!(refresh_groups(&snapshot, &plan(&snapshot)), ["g"]);
    let mut scale_out = snapshot.clone();
    scale_out.instances[2]
        .group
        .as_mut()
        .unwrap()
        .lifecycle_state = "InService".into();
    assert!(
        refresh_groups(&scale_out, &plan(&scale_out)).is_empty(),
        "no launch waits"
    );
}

#[test]
fn nothing_is_taken_from_a_holder_that_stays_or_where_a_member_is_free() {
    let successor = || {
        in_group(
            instance("i-new", Some("p"), "subnet-a1", Running),
            "Pending:Wait",
            true,
        )
    };
    let mut old = in_group(
        instance("i-old", Some("p"), "subnet-a1", Running),
        "InService",
        true,
    );
    let m = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    case(
        "R28: a plain scale-out never takes a member from a serving instance",
        vec![m],
        vec![old, successor()],
        &["short p us-east-1a [\"i-new\"]"],
    );

    let mut old = warned(instance("i-old", Some("p"), "subnet-a1", Running));
    let m = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    case(
        "R28: a free member goes to the waiter; the warned holder keeps its own",
        vec![m, member("eni-2", "p", "subnet-a1")],
        vec![old, successor()],
        &["attach eni-2 to i-new at 1"],
    );

    let mut old = warned(instance("i-old", Some("p"), "subnet-a1", Running));
    let m = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    let other_az = instance("i-new", Some("p"), "subnet-b1", Running);
    case(
        "R2: only to a waiter of its own placement",
        vec![m],
        vec![old, other_az],
        &["short p us-east-1b [\"i-new\"]"],
    );

    let mut old = warned(instance("i-old", Some("p"), "subnet-a1", Running));
    let m = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    let also_warned = warned(instance("i-new", Some("p"), "subnet-a1", Running));
    case(
        "R28: never to a waiter itself due to leave",
        vec![m],
        vec![old, also_warned],
        &["short p us-east-1a [\"i-new\"]"],
    );
}

#[test]
fn a_warning_from_before_the_holder_s_last_start_no_longer_counts() {
    let mut old = warned(instance("i-old", Some("p"), "subnet-a1", Running));
    old.tags.insert(
        LEAVING_TAG.into(),
        "spot-interruption 2026-12-08T10:00:00Z".into(),
    );
    old.launched_at = Some(1_796_724_001_000); // a second after the warning
    let m = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    let waiter = instance("i-new", Some("p"), "subnet-a1", Running);
    case(
        "R28: started again since the warning, it stays",
        vec![m],
        vec![old, waiter],
        &["short p us-east-1a [\"i-new\"]"],
    );
}

/// R26, R28: the holder due to leave hands its member, and so its
/// identity, over; a holder beside it that stays keeps its own.
#[test]
fn only_the_leaving_holder_gives_up_its_member_and_identity() {
    use network_interface_manager::ec2::{ADDRESS_TAG, ORDINAL_TAG};
    let numbered = |id: &str, ordinal: &str, ip: &str| {
        let mut m = member(id, "p", "subnet-a1");
        m.private_ip = Some(ip.into());
        m.tags.insert(ORDINAL_TAG.into(), ordinal.into());
        m
    };
    let carrying = |mut i: Instance, ordinal: &str, ip: &str| {
        i.tags.insert(ORDINAL_TAG.into(), ordinal.into());
        i.tags.insert(ADDRESS_TAG.into(), ip.into());
        i
    };
    let old = warned(instance("i-old", Some("p"), "subnet-a1", Running));
    let mut old = carrying(old, "1", "10.0.1.5");
    let leaving = attach(numbered("eni-1", "1", "10.0.1.5"), &mut old, 1);
    let mut stays = carrying(
        instance("i-stays", Some("p"), "subnet-a1", Running),
        "2",
        "10.0.1.6",
    );
    let kept = attach(numbered("eni-2", "2", "10.0.1.6"), &mut stays, 1);
    let waiter = instance("i-new", Some("p"), "subnet-a1", Running);
    case(
        "R28: i-stays keeps its member and identity",
        vec![leaving, kept],
        vec![old, stays, waiter],
        &[
            "detach eni-1 from i-old",
            "attach eni-1 to i-new at 1 once free from i-old",
            "unidentify i-old",
        ],
    );
}

/// R27, R28: a member with data volumes never leaves a running OS: the
/// launch that waits for it stays open (its timeout started again) while
/// its holder is due to leave.
#[test]
fn a_member_with_volumes_stays_and_the_launch_keeps_waiting() {
    let mut old = in_group(
        instance("i-old", Some("p"), "subnet-a1", Running),
        "InService",
        false,
    );
    let mut m = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    m.tags.insert(VOLUMES_TAG.into(), "/dev/sdf".into());
    let new = in_group(
        instance("i-new", Some("p"), "subnet-a1", Running),
        "Pending:Wait",
        true,
    );
    let snapshot = Snapshot {
        members: vec![m],
        instances: vec![old, new],
        ..Snapshot::default()
    };

    let planned = plan(&snapshot);

    assert!(planned.actions.is_empty(), "{planned:?}");
    let launch = planned.proceeds.iter().find(|p| p.instance_id == "i-new");
    assert_eq!(
        launch.map(|p| &p.once),
        Some(&Once::VolumeFreed),
        "{planned:?}"
    );
}
