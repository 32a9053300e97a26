//! A member's data volumes follow it (R27) on the strict models: a
//! replacement through the launch and terminate hooks gets the interface,
//! the ordinal and the volume before its launch goes on; a stopped
//! holder's volume moves; duplicate and late events change nothing; the
//! sync repairs and reports; and what it costs on the critical path.

use std::time::Duration;

use network_interface_manager::aws::{total_calls, CallCounts};
use network_interface_manager::ec2::InstanceState::{Running, Stopped};
use network_interface_manager::ec2::{
    Ec2, VolumeAttachmentStatus, DEVICE_TAG, ORDINAL_TAG, OWNER_TAG, SLOT_TAG, VOLUMES_TAG,
};

use super::lifecycle::Fleet;
use crate::support::strict::autoscaling::HookSpec;
use crate::support::strict::{az_of, StrictEc2};
use crate::support::world::{deliver, deliver_ok, fixture, state_event, StrictWorld};
use network_interface_manager::autoscaling::Transition::{Launching, Terminating};

/// A seat of pool `pool` in `subnet`: a member with `ordinal` that lists
/// /dev/sdf, and its volume there, available. Returns (member, volume).
pub(super) fn seat(ec2: &StrictEc2, pool: &str, subnet: &str, ordinal: &str) -> (String, String) {
    let member = ec2.add_member(pool, subnet);
    let slot = format!("slot-{ordinal}");
    for (k, v) in [
        (OWNER_TAG, "pool-1"),
        (SLOT_TAG, slot.as_str()),
        (VOLUMES_TAG, "/dev/sdf"),
        (ORDINAL_TAG, ordinal),
    ] {
        ec2.tag_interface(&member, k, v);
    }
    let tags = [
        (OWNER_TAG, "pool-1"),
        (SLOT_TAG, slot.as_str()),
        (DEVICE_TAG, "/dev/sdf"),
    ];
    let volume = ec2.add_volume(&az_of(subnet), tags);
    (member, volume)
}

/// The instance the volume is attached to, and how.
fn on(ec2: &StrictEc2, volume: &str) -> Option<(String, VolumeAttachmentStatus)> {
    let v = ec2.volume(volume).unwrap();
    v.attachment.map(|a| (a.instance_id, a.status))
}

const ATTACHED: VolumeAttachmentStatus = VolumeAttachmentStatus::Attached;

pub(super) fn hooks() -> Fleet {
    Fleet::new(vec![
        HookSpec::new("network-interface-manager-launch", Launching),
        HookSpec::new("network-interface-manager-terminate", Terminating),
    ])
}

/// R21, R27, R20: the group replaces a node terminate-first. The old node
/// hands its interface over at once but keeps its volume (its OS runs
/// until the hook goes on); EC2 detaches it after the termination; the
/// replacement's launch goes on only once it holds the interface, the
/// ordinal and the volume, all read attached.
#[tokio::test]
async fn a_replacement_gets_interface_ordinal_and_volume_before_its_launch_goes_on() {
    let f = hooks();
    let (member, volume) = seat(&f.ec2, "web", "subnet-a1", "2");
    let old = f.in_service("subnet-a1");
    f.event(&old, Running).await;
    tokio::time::sleep(Duration::from_millis(100)).await; // done attaching
    assert_eq!(f.ec2.holder(&member), Some((old.clone(), 1)));
    assert_eq!(on(&f.ec2, &volume), Some((old.clone(), ATTACHED)));

    let leaving = f.asg.terminate(&old);
    let handed = f.deliver_ok(&leaving[0]).await;
    assert_eq!(handed.outcome.report.continued.len(), 1, "{handed:?}");
    assert!(
        handed.outcome.report.volumes_detached.is_empty(),
        "never off a running OS"
    );
    let (new, launched) = f.launch("subnet-a1");
    tokio::time::sleep(Duration::from_millis(50)).await; // EC2 runs it
    f.deliver_ok(&launched[0]).await;

    let completed = f.asg.completed(&new);
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].members_then, vec![member.clone()]);
    assert_eq!(completed[0].attached_then, vec![member]);
    assert_eq!(completed[0].tags_then[ORDINAL_TAG], "2");
    assert_eq!(completed[0].volumes_then, vec![volume.clone()]);
    let v = f.ec2.volume(&volume).unwrap();
    let a = v.attachment.unwrap();
    assert_eq!(
        (a.device.as_str(), a.delete_on_termination),
        ("/dev/sdf", false)
    );
}

/// R27, R20: the sync finds a replacement in `Pending:Wait` while its
/// predecessor still runs in `Terminating:Wait` with the seat's volume:
/// the seat is held back (never detached from a running OS), the launch
/// stays open with a heartbeat (its timeout starts again), and the
/// predecessor's termination goes on; once EC2 let go of the volume, the
/// next sync gives the replacement its seat and volume and lets it go on.
#[tokio::test]
async fn a_launch_waiting_for_a_leaving_instance_s_volume_is_kept_open_by_heartbeats() {
    let f = hooks();
    let (member, volume) = seat(&f.ec2, "web", "subnet-a1", "1");
    let old = f.in_service("subnet-a1");
    f.event(&old, Running).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    f.asg.terminate(&old);
    let (new, _) = f.launch("subnet-a1");
    tokio::time::sleep(Duration::from_millis(50)).await; // EC2 runs it
    f.ec2.settle_reads();
    f.asg.settle_reads();

    let early = f.deliver_ok(&super::lifecycle::scheduled()).await;

    let report = &early.outcome.report;
    assert_eq!(report.heartbeats.len(), 1, "{early:?}");
    assert_eq!(report.heartbeats[0].instance_id, new);
    assert!(f.asg.completed(&new).is_empty(), "the launch stays open");
    let open = f.asg.actions().into_iter().find(|a| a.instance_id == new);
    assert_eq!(open.map(|a| a.heartbeats), Some(1));
    assert_eq!(
        early.ec2_calls.get("DetachVolume"),
        None,
        "never off a running OS"
    );
    assert_eq!(
        f.asg.completed(&old).len(),
        1,
        "the predecessor's termination went on"
    );
    tokio::time::sleep(Duration::from_millis(300)).await; // terminated, volume let go
    f.ec2.settle_reads();
    f.asg.settle_reads();
    f.deliver_ok(&super::lifecycle::scheduled()).await;

    let completed = f.asg.completed(&new);
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].members_then, vec![member]);
    assert_eq!(completed[0].volumes_then, vec![volume]);
}

/// R27: EC2 takes longer than the invocation to let go of a terminated
/// predecessor's volume: the attach is left at the deadline and the launch
/// kept open by a heartbeat, never continued without its volume; the next
/// delivery finishes it.
#[tokio::test]
async fn a_volume_still_detaching_at_the_deadline_keeps_the_launch_open() {
    let f = hooks();
    let (_, volume) = seat(&f.ec2, "web", "subnet-a1", "1");
    let old = f.in_service("subnet-a1");
    f.event(&old, Running).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    f.ec2.faults.lock().unwrap().termination_detach = Duration::from_millis(1500);
    let leaving = f.asg.terminate(&old);
    f.deliver_ok(&leaving[0]).await;
    let (new, launched) = f.launch("subnet-a1");
    tokio::time::sleep(Duration::from_millis(50)).await; // EC2 runs it

    let early = f
        .deliver_within(&launched[0], Duration::from_millis(700))
        .await;

    let report = &early.outcome.report;
    assert_eq!(report.heartbeats.len(), 1, "{early:?}");
    assert!(f.asg.completed(&new).is_empty(), "not without its volume");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    f.ec2.settle_reads();
    f.deliver_ok(&launched[0]).await;
    let completed = f.asg.completed(&new);
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].volumes_then, vec![volume]);
}

/// R20, R27: EC2 takes longer to let go of a terminated predecessor's
/// volume than the launch hook's heartbeat timeout. The invocation that
/// waits for it records heartbeats (the first early, then every third of
/// the timeout it reads from the hook), so the launch goes on by the
/// manager's call, with its volume, never by the timeout without it.
#[tokio::test]
async fn a_launch_that_outwaits_its_hook_s_timeout_is_kept_open_by_heartbeats() {
    let (f, new, launched, volume) = outwaiting().await;

    let waited = f.deliver_within(&launched, Duration::from_secs(5)).await;

    let completed = f.asg.completed(&new);
    assert_eq!(completed.len(), 1, "by the manager's call: {waited:?}");
    assert_eq!(completed[0].volumes_then, vec![volume]);
    let beats = waited.outcome.report.heartbeats.len() as u32;
    assert!(beats >= 4, "1.5 s at 150 ms, after 100 ms: {beats}");
    assert_eq!(completed[0].heartbeats, beats, "each one recorded");
    let calls = waited
        .auto_scaling_calls
        .get("DescribeLifecycleHooks")
        .copied();
    assert_eq!(calls, Some(1), "the hooks read once, at the first beat");
}

/// The long wait of the story above, with its launch hook's timeout and
/// heartbeat pace: (fleet, new instance, its launch event, its volume).
async fn outwaiting() -> (Fleet, String, serde_json::Value, String) {
    let mut launch = HookSpec::new("network-interface-manager-launch", Launching);
    launch.heartbeat = Duration::from_millis(450);
    let terminate = HookSpec::new("network-interface-manager-terminate", Terminating);
    let mut f = Fleet::new(vec![launch, terminate]);
    f.settings.first_heartbeat = Duration::from_millis(100);
    let (_, volume) = seat(&f.ec2, "web", "subnet-a1", "1");
    let old = f.in_service("subnet-a1");
    f.event(&old, Running).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    f.ec2.faults.lock().unwrap().termination_detach = Duration::from_millis(1500);
    let leaving = f.asg.terminate(&old);
    f.deliver_ok(&leaving[0]).await;
    let (new, launched) = f.launch("subnet-a1");
    tokio::time::sleep(Duration::from_millis(50)).await; // EC2 runs it
    (f, new, launched[0].clone(), volume)
}

/// R20: a heartbeat that fails for a passing reason (throttled) is tried
/// again at the next beat: the launch still goes on by the manager's call.
#[tokio::test]
async fn a_throttled_heartbeat_is_tried_again_at_the_next_beat() {
    let (f, new, launched, volume) = outwaiting().await;
    let throttled = ("Throttling".to_string(), "Rate exceeded".to_string());
    f.asg
        .faults
        .lock()
        .unwrap()
        .next_heartbeat
        .push_back(throttled);

    let waited = f.deliver_within(&launched, Duration::from_secs(5)).await;

    let completed = f.asg.completed(&new);
    assert_eq!(completed.len(), 1, "by the manager's call: {waited:?}");
    assert_eq!(completed[0].volumes_then, vec![volume]);
}

/// R20: a launch another invocation let go on meanwhile is beaten no more:
/// the beat that finds it done is the last.
#[tokio::test]
async fn a_launch_done_elsewhere_is_beaten_no_more() {
    use network_interface_manager::autoscaling::{AutoScaling, LifecycleAction};
    let (f, new, launched, _) = outwaiting().await;
    let elsewhere = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let action = LifecycleAction {
            group: "web-asg".into(),
            hook: "network-interface-manager-launch".into(),
            instance_id: new.clone(),
            token: None,
        };
        f.asg.proceed(&action).await.unwrap();
        f.asg
            .calls()
            .get("RecordLifecycleActionHeartbeat")
            .copied()
            .unwrap_or(0)
    };

    let (waited, beats_then) = tokio::join!(
        f.deliver_within(&launched, Duration::from_secs(5)),
        elsewhere
    );

    let beats = waited.auto_scaling_calls["RecordLifecycleActionHeartbeat"];
    assert!(
        beats <= beats_then + 1,
        "{beats} beats, {beats_then} before it was done"
    );
}

/// R20: work done before the first heartbeat is due (10 s) costs no
/// heartbeat and no read of the hooks: a launch whose seat is free goes on
/// at once.
#[tokio::test]
async fn a_launch_done_before_the_first_beat_costs_no_heartbeat() {
    let f = hooks();
    seat(&f.ec2, "web", "subnet-a1", "1");
    let (new, launched) = f.launch("subnet-a1");
    tokio::time::sleep(Duration::from_millis(50)).await; // EC2 runs it

    let done = f.deliver_ok(&launched[0]).await;

    assert_eq!(f.asg.completed(&new).len(), 1, "{done:?}");
    assert!(done.outcome.report.heartbeats.is_empty(), "{done:?}");
    assert_eq!(
        done.auto_scaling_calls
            .get("RecordLifecycleActionHeartbeat"),
        None
    );
    assert_eq!(done.auto_scaling_calls.get("DescribeLifecycleHooks"), None);
}

/// R27: a stopped holder's volume is detached and goes, with the member,
/// to the instance that waits; the stopped one keeps nothing.
#[tokio::test]
async fn a_stopped_holder_s_volume_moves_with_its_member() {
    let w = StrictWorld::new();
    let (member, volume) = seat(&w.model, "db", "subnet-a1", "1");
    let old = w.model.launch(Some("db"), "subnet-a1");
    deliver_ok(&w, &state_event(&old, Running)).await;
    let new = w.model.launch(Some("db"), "subnet-a1");
    tokio::time::sleep(Duration::from_millis(100)).await; // done attaching
    w.model.set_state(&old, Stopped);

    let moved = deliver_ok(&w, &state_event(&old, Stopped)).await;

    let report = &moved.outcome.report;
    assert_eq!(report.volumes_detached.len(), 1, "{report:?}");
    assert_eq!(report.volumes_attached.len(), 1, "{report:?}");
    assert_eq!(w.model.holder(&member), Some((new.clone(), 1)));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(on(&w.model, &volume), Some((new, ATTACHED)));
}

/// R27 [EC2-HIB]: a hibernated holder reads `stopped` but keeps its file
/// systems mounted in its saved RAM: its volume is never detached (it is
/// reported stranded, and the member, held back, waits); once it resumes,
/// it gets its member back, beside the volume it never lost.
#[tokio::test]
async fn a_hibernated_holder_keeps_its_volume_and_gets_its_member_back_on_resume() {
    let w = StrictWorld::new();
    let (member, volume) = seat(&w.model, "db", "subnet-a1", "1");
    let old = w.model.launch(Some("db"), "subnet-a1");
    deliver_ok(&w, &state_event(&old, Running)).await;
    let waiter = w.model.launch(Some("db"), "subnet-a1");
    tokio::time::sleep(Duration::from_millis(100)).await; // done attaching
    w.model.hibernate(&old);

    let hibernated = deliver_ok(&w, &state_event(&old, Stopped)).await;

    let report = &hibernated.outcome.report;
    assert_eq!(
        hibernated.ec2_calls.get("DetachVolume"),
        None,
        "{hibernated:?}"
    );
    assert!(report.volumes_attached.is_empty(), "{report:?}");
    assert_eq!(report.stranded.len(), 1, "{report:?}");
    assert!(
        report.stranded[0].reason.contains("hibernated"),
        "{report:?}"
    );
    assert_ne!(w.model.holder(&member).map(|h| h.0), Some(waiter.clone()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(on(&w.model, &volume), Some((old.clone(), ATTACHED)));

    w.model.set_state(&old, Running);
    w.model.settle_reads();
    deliver_ok(&w, &state_event(&old, Running)).await;

    assert_eq!(w.model.holder(&member), Some((old.clone(), 1)));
    assert_eq!(on(&w.model, &volume), Some((old, ATTACHED)));
}

/// R27, D2: a seat whose volume was deleted out of band: the sync names
/// the seat and device, counts `MissingVolumes` (the pool's and the
/// account's, which the alarm reads), makes no empty volume, and gives the
/// member to no one.
#[tokio::test]
async fn a_seat_whose_volume_is_gone_is_reported_by_the_sync_and_never_given() {
    use crate::support::emf::{find, measured};

    let w = StrictWorld::new();
    let (member, volume) = seat(&w.model, "db", "subnet-a1", "1");
    w.model.delete_volume(&volume).await.unwrap();
    let waiter = w.model.launch(Some("db"), "subnet-a1");
    tokio::time::sleep(Duration::from_millis(200)).await; // deleted, read so
    w.model.settle_reads();

    let sync = deliver_ok(&w, &fixture("scheduled-event.json")).await;

    let missing = &sync.outcome.missing_volumes;
    assert_eq!(missing.len(), 1, "{:?}", sync.outcome);
    assert_eq!(
        (missing[0].interface_id.as_str(), missing[0].device.as_str()),
        (member.as_str(), "/dev/sdf")
    );
    assert_eq!(sync.ec2_calls.get("CreateVolume"), None, "no empty volume");
    assert_eq!(w.model.holder(&member), None, "given to no one");
    let docs = measured(&w, &fixture("scheduled-event.json")).await;
    assert_eq!(find(&docs, &[], "MissingVolumes")["MissingVolumes"], 1);
    assert_eq!(
        find(&docs, &[("Pool", "db")], "MissingVolumes")["MissingVolumes"],
        1
    );
    assert_ne!(w.model.holder(&member).map(|h| h.0), Some(waiter));
}

/// R27, C7: the reconcile right after a declaration reads the volumes it
/// has just made, which a lagging read may not show yet: it reports none
/// missing (a later sync can tell).
#[tokio::test]
async fn the_reconcile_after_a_declaration_reports_no_volume_missing() {
    let w = StrictWorld::new();
    w.model.reads_lag(Duration::from_millis(300));
    let event = serde_json::json!({
        "Name": "db",
        "SubnetIds": ["subnet-a1"],
        "Volumes": [{"SizeGiB": 10, "DeviceName": "/dev/sdf"}],
        "tf": {"action": "create", "prev_input": null},
    });

    let declared = deliver(&w, &event).await;

    assert!(declared.result().is_ok(), "{declared:?}");
    let missing = &declared.outcome.missing_volumes;
    assert!(missing.is_empty(), "{missing:?}");
}

/// R7, R27: the same `running` event twice at once gives the volume once;
/// a late `stopped` event of an instance that runs again, and the
/// `running` event again, change nothing once the volume is there.
#[tokio::test]
async fn duplicate_and_late_events_leave_the_volume_where_it_is() {
    let w = StrictWorld::new();
    let (member, volume) = seat(&w.model, "db", "subnet-a1", "1");
    let node = w.model.launch(Some("db"), "subnet-a1");
    let running = state_event(&node, Running);
    let (first, second) = tokio::join!(deliver_ok(&w, &running), deliver_ok(&w, &running));
    let attached =
        |h: &network_interface_manager::handler::Handled| h.outcome.report.volumes_attached.len();
    assert_eq!(
        attached(&first) + attached(&second),
        1,
        "{first:?} {second:?}"
    );
    w.model.settle_reads();
    tokio::time::sleep(Duration::from_millis(100)).await;

    // A `stopped` event of a running instance is retried, never acted on.
    let late = deliver(&w, &state_event(&node, Stopped)).await;
    let again = deliver_ok(&w, &running).await;

    for h in [&late, &again] {
        let writes = ["AttachVolume", "DetachVolume", "DetachNetworkInterface"];
        for call in writes {
            assert_eq!(h.ec2_calls.get(call), None, "{call}: {h:?}");
        }
    }
    assert_eq!(w.model.holder(&member), Some((node.clone(), 1)));
    assert_eq!(on(&w.model, &volume), Some((node, ATTACHED)));
}

/// R27: the sync attaches a volume left available while its member is
/// held, and reports one on a running instance that left the pool, never
/// detaching it; the seat waits, and the waiting instance meets a
/// shortage.
#[tokio::test]
async fn the_sync_repairs_a_volume_left_behind_and_reports_a_stranded_one() {
    let w = StrictWorld::new();
    let (held, left_behind) = seat(&w.model, "db", "subnet-a1", "1");
    let (stuck, stranded) = seat(&w.model, "db", "subnet-a1", "2");
    let holder = w.model.launch(Some("db"), "subnet-a1");
    let gone_rogue = w.model.launch(None, "subnet-a1");
    w.model.attach(&held, &holder, 1).await.unwrap();
    let rogue = w.model.attach_volume(&stranded, &gone_rogue, "/dev/sdf");
    rogue.await.unwrap();
    let waiter = w.model.launch(Some("db"), "subnet-a1");
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.model.settle_reads();

    let sync = deliver_ok(&w, &fixture("scheduled-event.json")).await;

    let report = &sync.outcome.report;
    assert_eq!(report.volumes_attached.len(), 1, "{report:?}");
    assert_eq!(report.volumes_attached[0].volume.volume_id, left_behind);
    assert_eq!(report.stranded.len(), 1, "{report:?}");
    assert_eq!(report.stranded[0].volume_id, stranded);
    assert_eq!(sync.ec2_calls.get("DetachVolume"), None);
    assert_eq!(w.model.holder(&stuck), None, "held back");
    let short = &report.shortages;
    assert!(
        short.iter().any(|s| s.instance_ids == [waiter.clone()]),
        "{short:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(on(&w.model, &left_behind), Some((holder, ATTACHED)));
    assert_eq!(on(&w.model, &stranded), Some((gone_rogue, ATTACHED)));
}

/// R27: each node's `running` event reads the volumes of the seats it may
/// take, not the whole pool's, and serves no other node: a node that holds
/// a seat already never gets a second one.
#[tokio::test]
async fn each_node_takes_one_seat_with_its_volume() {
    let w = StrictWorld::new();
    let seats = [
        seat(&w.model, "db", "subnet-a1", "1"),
        seat(&w.model, "db", "subnet-a1", "2"),
        seat(&w.model, "db", "subnet-a1", "3"),
    ];
    let nodes: Vec<String> = (0..3)
        .map(|_| w.model.launch(Some("db"), "subnet-a1"))
        .collect();
    for node in &nodes {
        let handled = deliver_ok(&w, &state_event(node, Running)).await;
        // Its own read only: no other node's seat was read, nor its host.
        assert_eq!(handled.ec2_calls["DescribeInstances"], 1, "{handled:?}");
        w.model.settle_reads();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    for node in &nodes {
        assert_eq!(w.model.members_of(node).len(), 1, "{node}");
        assert_eq!(w.model.volumes_attached_to(node).len(), 1, "{node}");
    }
    for (member, volume) in &seats {
        let (holder, _) = w.model.holder(member).unwrap();
        assert_eq!(
            w.model.volumes_attached_to(&holder),
            std::slice::from_ref(volume)
        );
    }
}

/// The critical path, counted as `round_trips` does: a pool with volumes
/// pays one read more before the attach, and the volume's attach beside
/// the identity after it; a pool without stays at two round trips (see
/// `round_trips`).
#[tokio::test]
async fn running_with_a_volume_takes_four_round_trips() {
    let w = StrictWorld::new();
    seat(&w.model, "db", "subnet-a1", "1");
    let node = w.model.launch(Some("db"), "subnet-a1");
    w.model.steady_latency(Duration::from_millis(50));
    let before = w.model.round_trips();
    let handled = deliver_ok(&w, &state_event(&node, Running)).await;
    let trips = w.model.round_trips() - before;
    println!(
        "running with a volume: {trips} round trips, {:?}",
        handled.ec2_calls
    );
    assert_eq!((trips, total_calls(&handled.ec2_calls)), (4, 6));
}

/// A terminate-first replacement of a seat with an ordinal, through both
/// hooks, with and without a data volume: (round trips, EC2 calls) of the
/// terminate event and of the launch event, and the launch's calls. The
/// launch comes once EC2 has let go of the volume, so that what is counted
/// is the path, not a wait.
async fn replacement(with_volume: bool) -> ([(u64, u64); 2], CallCounts) {
    let f = hooks();
    match with_volume {
        true => drop(seat(&f.ec2, "web", "subnet-a1", "1")),
        false => {
            let member = f.ec2.add_member("web", "subnet-a1");
            f.ec2.tag_interface(&member, ORDINAL_TAG, "1");
        }
    }
    let old = f.in_service("subnet-a1");
    f.event(&old, Running).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    f.ec2.settle_reads();
    f.ec2.steady_latency(Duration::from_millis(50));
    let leaving = f.asg.terminate(&old);
    let before = f.ec2.round_trips();
    let handed = f.deliver_ok(&leaving[0]).await;
    let terminate = (f.ec2.round_trips() - before, total_calls(&handed.ec2_calls));
    let (new, launched) = f.launch("subnet-a1");
    tokio::time::sleep(Duration::from_millis(300)).await; // EC2 runs it, the volume is free
    f.ec2.settle_reads();
    let before = f.ec2.round_trips();
    let got = f.deliver_ok(&launched[0]).await;
    let launch = (f.ec2.round_trips() - before, total_calls(&got.ec2_calls));
    assert_eq!(f.asg.completed(&new).len(), 1, "{got:?}");
    let with = if with_volume { "with" } else { "without" };
    println!(
        "replacement {with} a volume: terminate {terminate:?}, launch {launch:?}; launch calls {:?}",
        got.ec2_calls
    );
    ([terminate, launch], got.ec2_calls)
}

/// What a volume adds to a replacement, counted as `round_trips` does. The
/// terminate event reads the pool's volumes (one call, one round trip: the
/// second round of reads has nothing else here); its volume stays with the
/// running OS. The launch reads the seat's volumes before the attach,
/// attaches the volume beside the identity, and reads its attachment
/// beside the member's (again while it settles, which takes longer).
#[tokio::test]
async fn what_a_volume_adds_to_a_replacement() {
    let (plain, _) = replacement(false).await;
    let (with_volume, calls) = replacement(true).await;
    let terminate = (with_volume[0].0 - plain[0].0, with_volume[0].1 - plain[0].1);
    assert_eq!(terminate, (1, 1), "{plain:?} {with_volume:?}");
    assert_eq!(calls.get("AttachVolume"), Some(&1), "{calls:?}");
    assert!(
        calls.get("DescribeVolumes").is_some_and(|n| *n >= 2),
        "{calls:?}"
    );
    assert!(with_volume[1].0 > plain[1].0, "{plain:?} {with_volume:?}");
}
