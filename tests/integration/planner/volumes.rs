//! The volumes step of the plan (R27), row by row: where each data volume
//! of a member goes, what moves it, and when a member may go to a new
//! holder with all of its volumes.

use network_interface_manager::autoscaling::Membership;
use network_interface_manager::ec2::InstanceState::{self, Running, ShuttingDown, Stopped};
use network_interface_manager::ec2::{
    Instance, NetworkInterface, Volume, VolumeAttachment, VolumeAttachmentStatus, VolumeStatus,
    DEVICE_TAG, OWNER_TAG, SLOT_TAG, VOLUMES_TAG,
};
use network_interface_manager::pool::model::{Action, Once, Plan, Snapshot};
use network_interface_manager::pool::plan::plan;

use super::fixtures::{attach, instance, member, render};
use crate::support::strict::az_of;

/// A member of `db` in subnet-a1, slot `slot` of pool-1, with a volume at
/// /dev/sdf.
fn seat(id: &str, slot: &str) -> NetworkInterface {
    let mut m = member(id, "db", "subnet-a1");
    m.tags.insert(OWNER_TAG.into(), "pool-1".into());
    m.tags.insert(SLOT_TAG.into(), slot.into());
    m.tags.insert(VOLUMES_TAG.into(), "/dev/sdf".into());
    m
}

/// The volume of `slot` at /dev/sdf, available, or attached to `on`.
fn disk(id: &str, slot: &str, on: Option<(&str, VolumeAttachmentStatus)>) -> Volume {
    Volume {
        id: id.into(),
        availability_zone: az_of("subnet-a1"),
        size_gib: 1,
        volume_type: "gp3".into(),
        kms_key_id: None,
        status: match on {
            Some(_) => VolumeStatus::InUse,
            None => VolumeStatus::Available,
        },
        attachment: on.map(|(instance, status)| VolumeAttachment {
            instance_id: instance.into(),
            device: "/dev/sdf".into(),
            status,
            delete_on_termination: false,
        }),
        tags: [
            (OWNER_TAG.to_string(), "pool-1".to_string()),
            (SLOT_TAG.to_string(), slot.to_string()),
            (DEVICE_TAG.to_string(), "/dev/sdf".to_string()),
        ]
        .into(),
    }
}

fn db(id: &str, state: InstanceState) -> Instance {
    instance(id, Some("db"), "subnet-a1", state)
}

fn snapshot(
    members: Vec<NetworkInterface>,
    instances: Vec<Instance>,
    volumes: Vec<Volume>,
) -> Snapshot {
    Snapshot {
        members,
        instances,
        volumes,
        ..Snapshot::default()
    }
}

/// The plan's lines, and for each attach of a member the volumes that
/// follow it.
fn lines(plan: &Plan) -> Vec<String> {
    let mut lines = render(plan);
    for a in plan.actions.iter().filter_map(|a| match a {
        Action::Attach(a) => Some(a),
        _ => None,
    }) {
        for v in &a.candidates[0].volumes {
            let from = v
                .freed_from
                .as_deref()
                .map_or(String::new(), |f| format!(" once free from {f}"));
            lines.push(format!(
                "then {} to {} at {}{from}",
                v.volume_id, a.instance_id, v.device
            ));
        }
    }
    for s in &plan.stranded {
        lines.push(format!("stranded {} of {}", s.volume_id, s.interface_id));
    }
    lines
}

const ATTACHED: VolumeAttachmentStatus = VolumeAttachmentStatus::Attached;

#[test]
fn a_holder_gets_its_member_s_volume_and_one_that_has_it_gets_nothing() {
    let mut holder = db("i-1", Running);
    let held = attach(seat("eni-1", "s1"), &mut holder, 1);
    let missing = snapshot(
        vec![held.clone()],
        vec![holder.clone()],
        vec![disk("vol-1", "s1", None)],
    );
    assert_eq!(lines(&plan(&missing)), ["attach vol-1 to i-1 at /dev/sdf"]);
    let there = vec![disk("vol-1", "s1", Some(("i-1", ATTACHED)))];
    let settled = snapshot(vec![held], vec![holder], there);
    assert!(lines(&plan(&settled)).is_empty());
}

#[test]
fn a_free_member_goes_with_its_volume_and_one_on_a_stopped_instance_is_detached_first() {
    let waiter = db("i-2", Running);
    let free = snapshot(
        vec![seat("eni-1", "s1")],
        vec![waiter.clone()],
        vec![disk("vol-1", "s1", None)],
    );
    assert_eq!(
        lines(&plan(&free)),
        ["attach eni-1 to i-2 at 1", "then vol-1 to i-2 at /dev/sdf"]
    );
    let stopped = db("i-1", Stopped);
    let on_stopped = vec![disk("vol-1", "s1", Some(("i-1", ATTACHED)))];
    let moving = snapshot(vec![seat("eni-1", "s1")], vec![stopped, waiter], on_stopped);
    assert_eq!(
        lines(&plan(&moving)),
        [
            "detach vol-1 from i-1",
            "attach eni-1 to i-2 at 1",
            "then vol-1 to i-2 at /dev/sdf once free from i-1",
        ]
    );
}

#[test]
fn a_volume_on_a_stopped_instance_is_detached_though_no_one_waits() {
    let stopped = db("i-1", Stopped);
    let on_stopped = vec![disk("vol-1", "s1", Some(("i-1", ATTACHED)))];
    let alone = snapshot(vec![seat("eni-1", "s1")], vec![stopped], on_stopped);
    assert_eq!(lines(&plan(&alone)), ["detach vol-1 from i-1"]);
}

#[test]
fn a_volume_ec2_detaches_from_a_terminated_instance_is_awaited_not_detached() {
    let gone = db("i-1", ShuttingDown);
    let waiter = db("i-2", Running);
    for on in [vec![gone.clone(), waiter.clone()], vec![waiter.clone()]] {
        let volumes = vec![disk("vol-1", "s1", Some(("i-1", ATTACHED)))];
        let s = snapshot(vec![seat("eni-1", "s1")], on, volumes);
        assert_eq!(
            lines(&plan(&s)),
            [
                "attach eni-1 to i-2 at 1",
                "then vol-1 to i-2 at /dev/sdf once free from i-1"
            ]
        );
    }
}

#[test]
fn a_volume_on_a_running_instance_that_stays_holds_its_member_back_and_is_reported() {
    // i-1 left the pool (no pool tag) but runs: never detached from it.
    let elsewhere = instance("i-1", None, "subnet-a1", Running);
    let waiter = db("i-2", Running);
    let volumes = vec![disk("vol-1", "s1", Some(("i-1", ATTACHED)))];
    let s = snapshot(vec![seat("eni-1", "s1")], vec![elsewhere, waiter], volumes);
    let plan = plan(&s);
    assert_eq!(
        lines(&plan),
        [r#"short db us-east-1a ["i-2"]"#, "stranded vol-1 of eni-1"]
    );
    assert!(
        plan.stranded[0].reason.contains("never detached"),
        "{:?}",
        plan.stranded
    );
}

#[test]
fn a_volume_on_a_leaving_instance_keeps_the_launch_open_until_it_ends() {
    // i-1 terminates through the hook: its OS runs until the hook goes on.
    let mut leaving = db("i-1", Running);
    leaving.group = Some(Membership::new(
        "g".into(),
        "Terminating:Wait".into(),
        false,
    ));
    let mut waiter = db("i-2", Running);
    waiter.group = Some(Membership::new("g".into(), "Pending:Wait".into(), false));
    let held = attach(seat("eni-1", "s1"), &mut leaving, 1);
    let volumes = vec![disk("vol-1", "s1", Some(("i-1", ATTACHED)))];
    let s = snapshot(vec![held], vec![leaving, waiter], volumes);
    let plan = plan(&s);
    let attaches = plan
        .actions
        .iter()
        .filter(|a| matches!(a, Action::Attach(_)));
    assert_eq!(attaches.count(), 0, "{:?}", plan.actions);
    assert!(
        plan.stranded.is_empty(),
        "it will leave: {:?}",
        plan.stranded
    );
    // The launch stays open, its timeout started again (a heartbeat).
    let launch = plan.proceeds.iter().find(|p| p.instance_id == "i-2");
    assert!(
        launch.is_some_and(|p| p.once == Once::VolumeFreed),
        "{:?}",
        plan.proceeds
    );
    let termination = plan.proceeds.iter().find(|p| p.instance_id == "i-1");
    assert!(termination.is_some_and(|p| p.once == Once::ActionsDone));
}

#[test]
fn a_member_whose_volume_the_reads_do_not_show_waits() {
    let waiter = db("i-2", Running);
    let s = snapshot(vec![seat("eni-1", "s1")], vec![waiter], Vec::new());
    let plan = plan(&s);
    assert!(plan.actions.is_empty(), "{:?}", plan.actions);
    assert!(plan.stranded.is_empty());
}

#[test]
fn an_instance_that_has_the_volume_and_waits_gets_its_member_back() {
    // i-1 lost its member (detached by hand) but kept the volume.
    let waiters = vec![db("i-0", Running), db("i-1", Running)];
    let volumes = vec![disk("vol-1", "s1", Some(("i-1", ATTACHED)))];
    let s = snapshot(vec![seat("eni-1", "s1")], waiters, volumes);
    assert_eq!(
        lines(&plan(&s)),
        ["attach eni-1 to i-1 at 1", r#"short db us-east-1a ["i-0"]"#]
    );
}

#[test]
fn a_launch_waits_for_its_member_s_volumes_to_read_attached() {
    let mut holder = db("i-1", Running);
    holder.group = Some(Membership::new("g".into(), "Pending:Wait".into(), false));
    let held = attach(seat("eni-1", "s1"), &mut holder, 1);
    for status in [VolumeAttachmentStatus::Attaching, ATTACHED] {
        let volumes = vec![disk("vol-1", "s1", Some(("i-1", status)))];
        let s = snapshot(vec![held.clone()], vec![holder.clone()], volumes);
        let plan = plan(&s);
        assert_eq!(plan.proceeds.len(), 1);
        assert_eq!(plan.proceeds[0].volumes, ["vol-1"], "{status:?}");
    }
    // Not read: the launch stays open.
    let s = snapshot(vec![held], vec![holder], Vec::new());
    assert!(plan(&s).proceeds.is_empty());
}

/// An instance read only because a volume is attached to it is never
/// served: its own members were not read, so it may hold one already.
#[test]
fn a_volume_host_is_never_given_a_member() {
    let host = db("i-1", Running);
    let waiter = db("i-2", Running);
    let volumes = vec![disk("vol-1", "s1", Some(("i-1", ATTACHED)))];
    let s = Snapshot {
        members: vec![seat("eni-1", "s1")],
        instances: vec![waiter],
        volumes,
        volume_hosts: vec![host],
    };
    assert_eq!(
        lines(&plan(&s)),
        [r#"short db us-east-1a ["i-2"]"#, "stranded vol-1 of eni-1"]
    );
}

/// A holder whose member's volume is still on its predecessor, which runs
/// in `Terminating:Wait`, waits for it: nothing is detached from that
/// running OS, nothing is reported; one that stays in service with it is
/// reported stranded.
#[test]
fn a_holder_waits_for_a_volume_on_a_leaving_instance() {
    let mut holder = db("i-2", Running);
    let held = attach(seat("eni-1", "s1"), &mut holder, 1);
    let mut old = db("i-1", Running);
    old.group = Some(Membership::new(
        "g".into(),
        "Terminating:Wait".into(),
        false,
    ));
    let volumes = vec![disk("vol-1", "s1", Some(("i-1", ATTACHED)))];
    let leaving = snapshot(
        vec![held.clone()],
        vec![holder.clone(), old.clone()],
        volumes.clone(),
    );
    assert!(lines(&plan(&leaving)).is_empty(), "{:?}", plan(&leaving));
    old.group = Some(Membership::new("g".into(), "InService".into(), false));
    let staying = snapshot(vec![held], vec![holder, old], volumes);
    assert_eq!(
        lines(&plan(&staying)),
        [r#"short db us-east-1a ["i-1"]"#, "stranded vol-1 of eni-1"]
    );
}

/// EC2 attaches a volume only to a running or stopped instance: a holder
/// still `pending` gets its volume once it runs, not before.
#[test]
fn a_holder_still_pending_gets_its_volume_once_it_runs() {
    let mut holder = db("i-1", InstanceState::Pending);
    let held = attach(seat("eni-1", "s1"), &mut holder, 1);
    let volumes = vec![disk("vol-1", "s1", None)];
    let pending = snapshot(vec![held.clone()], vec![holder.clone()], volumes.clone());
    assert!(lines(&plan(&pending)).is_empty());
    holder.state = Running;
    let running = snapshot(vec![held], vec![holder], volumes);
    assert_eq!(lines(&plan(&running)), ["attach vol-1 to i-1 at /dev/sdf"]);
}
