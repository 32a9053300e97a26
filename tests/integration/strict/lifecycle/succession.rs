//! R28 on the strict models: a holder due to leave gives its member to the
//! instance that waits, before that one serves; one that stays never does.

use std::collections::BTreeSet;
use std::time::Duration;

use network_interface_manager::autoscaling::Transition::{Launching, Terminating};
use network_interface_manager::ec2::InstanceState::{Running, Terminated};
use network_interface_manager::ec2::LEAVING_TAG;
use serde_json::Value;

use super::{Fleet, LAUNCH_HOOK, TERMINATE_HOOK};
use crate::support::strict::autoscaling::HookSpec;
use crate::support::strict::Op;
use crate::support::world::fixture;

fn both_hooks() -> Fleet {
    Fleet::new(vec![
        HookSpec::new(LAUNCH_HOOK, Launching),
        HookSpec::new(TERMINATE_HOOK, Terminating),
    ])
}

/// EC2's warning for `instance`, sent now.
fn warning(name: &str, instance: &str) -> Value {
    let mut event = fixture(name);
    event["detail"]["instance-id"] = instance.into();
    event["time"] = chrono::Utc::now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        .into();
    event
}

/// A new instance of the group in subnet-a1, once EC2 runs it, and its
/// launch events.
async fn replacement(f: &Fleet) -> (String, Vec<Value>) {
    let launched = f.launch("subnet-a1");
    tokio::time::sleep(Duration::from_millis(50)).await; // EC2 runs it
    launched
}

/// `f` with one member in subnet-a1, held by an instance in service.
async fn held(f: &Fleet) -> (String, String) {
    let member = f.ec2.add_member("web", "subnet-a1");
    let old = f.in_service("subnet-a1");
    f.event(&old, Running).await;
    tokio::time::sleep(Duration::from_millis(100)).await; // attached
    assert_eq!(f.ec2.holder(&member), Some((old.clone(), 1)));
    (member, old)
}

/// R28, R20: the group finds the holder unhealthy and launches its
/// replacement first (an instance maintenance policy that launches
/// first): the replacement gets the member in `Pending:Wait` and goes in
/// service holding it; the old one terminates holding nothing.
#[tokio::test]
async fn an_unhealthy_holder_s_replacement_serves_with_the_member() {
    let f = both_hooks();
    let (member, old) = held(&f).await;
    f.asg.mark_unhealthy(&old);
    tokio::time::sleep(Duration::from_millis(100)).await; // health checks run before it
    let (new, launched) = replacement(&f).await;

    let handled = f.deliver_ok(&launched[0]).await;

    let completed = f.asg.completed(&new);
    assert_eq!(completed.len(), 1, "{handled:?}");
    assert_eq!(completed[0].members_then, vec![member.clone()]);
    assert_eq!(completed[0].attached_then, vec![member.clone()]);
    let report = &handled.outcome.report;
    assert_eq!(
        (report.detached.len(), report.attached.len()),
        (1, 1),
        "{report:?}"
    );
    let leaving = f.asg.terminate(&old);
    f.deliver_ok(&leaving[0]).await;
    assert_eq!(f.asg.completed(&old)[0].members_then, Vec::<String>::new());
    assert_eq!(f.ec2.holder(&member), Some((new, 1)));
}

/// R28: a plain scale-out, every member held by instances that stay: no
/// member is taken from a serving instance; the launch goes on seatless.
#[tokio::test]
async fn a_scale_out_takes_no_member_from_an_instance_that_stays() {
    let f = both_hooks();
    let (member, old) = held(&f).await;
    let (new, launched) = replacement(&f).await;

    let handled = f.deliver_ok(&launched[0]).await;

    assert_eq!(handled.ec2_calls.get("DetachNetworkInterface"), None);
    assert_eq!(f.asg.completed(&new).len(), 1, "{handled:?}");
    assert_eq!(f.ec2.holder(&member), Some((old, 1)));
}

/// R28: a Spot interruption warning for the holder while another instance
/// of the pool waits in its AZ: the member moves within that invocation.
#[tokio::test]
async fn a_spot_warning_moves_the_member_to_an_instance_that_waits() {
    let f = both_hooks();
    let (member, old) = held(&f).await;
    let waiting = f.in_service("subnet-a1");
    f.event(&waiting, Running).await;
    f.ec2.settle_reads();
    f.asg.settle_reads();

    let event = warning("ec2-spot-interruption-warning.json", &old);
    let warned = f.deliver_ok(&event).await;

    let report = &warned.outcome.report;
    assert_eq!(
        (report.detached.len(), report.attached.len()),
        (1, 1),
        "{report:?}"
    );
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(f.ec2.holder(&member), Some((waiting, 1)));
    let mark = f.ec2.instance_tags(&old).get(LEAVING_TAG).cloned();
    let time = event["time"].as_str().unwrap();
    assert_eq!(mark, Some(format!("spot-interruption {time}")));
}

/// R28: a rebalance recommendation with no instance waiting: nothing moves;
/// the holder is marked, and the replacement Capacity Rebalancing launches
/// next gets the member before it serves.
#[tokio::test]
async fn a_rebalance_recommendation_marks_the_holder_for_its_replacement() {
    let f = both_hooks();
    let (member, old) = held(&f).await;

    let warned = f
        .deliver_ok(&warning("ec2-rebalance-recommendation.json", &old))
        .await;

    let writes: Vec<&&str> = warned
        .ec2_calls
        .keys()
        .filter(|op| !op.starts_with("Describe"))
        .collect();
    assert_eq!(writes, [&"CreateTags"], "{warned:?}");
    assert_eq!(f.ec2.holder(&member), Some((old.clone(), 1)));
    tokio::time::sleep(Duration::from_millis(100)).await; // the mark reads
    let (new, launched) = replacement(&f).await;
    let handled = f.deliver_ok(&launched[0]).await;
    let completed = f.asg.completed(&new);
    assert_eq!(completed.len(), 1, "{handled:?}");
    assert_eq!(completed[0].members_then, vec![member]);
}

/// R28, R11: six invocations at once on one replacement (the launch event
/// three times, the holder's warning three times): EC2's lock on the
/// member decides; it ends on the replacement, held once, and the launch
/// goes on once, with it.
#[tokio::test]
async fn six_invocations_at_once_move_the_member_once() {
    let f = both_hooks();
    let (member, old) = held(&f).await;
    f.asg.mark_unhealthy(&old);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (new, launched) = replacement(&f).await;
    let warned = warning("ec2-rebalance-recommendation.json", &old);

    let all = futures::future::join_all(
        [
            &launched[0],
            &warned,
            &launched[0],
            &warned,
            &launched[0],
            &warned,
        ]
        .map(|event| f.deliver(event)),
    )
    .await;

    for handled in &all {
        assert!(
            handled
                .outcome
                .report
                .failed
                .iter()
                .all(|e| e.is_transient()),
            "{handled:?}"
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    f.ec2.settle_reads();
    f.asg.settle_reads();
    f.deliver_ok(&launched[0]).await;
    assert_eq!(f.ec2.holder(&member), Some((new.clone(), 1)));
    let completed = f.asg.completed(&new);
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].members_then, vec![member]);
}

/// R28: an instance refresh that launches first (minimum healthy 100 %,
/// maximum 200 %), one instance: the replacement gets the member in
/// `Pending:Wait` from the holder the refresh replaces, and goes in
/// service holding it; the old one then terminates holding nothing.
#[tokio::test]
async fn a_refresh_that_launches_first_gives_the_replacement_the_member() {
    let f = both_hooks();
    let (member, old) = held(&f).await;
    f.asg.start_refresh("web-asg", false);
    let (new, launched) = replacement(&f).await;

    let handled = f.deliver_ok(&launched[0]).await;

    let completed = f.asg.completed(&new);
    assert_eq!(completed.len(), 1, "{handled:?}");
    assert_eq!(completed[0].members_then, vec![member.clone()]);
    let leaving = f.asg.terminate(&old);
    f.deliver_ok(&leaving[0]).await;
    assert_eq!(f.asg.completed(&old)[0].members_then, Vec::<String>::new());
    assert_eq!(f.ec2.holder(&member), Some((new, 1)));
}

/// R28: a refresh that skips the instances matching its configuration
/// (`SkipMatching`): which ones match is not read, so none is taken for
/// replaced; the launch goes on without the member.
#[tokio::test]
async fn a_refresh_that_skips_matching_instances_takes_no_member() {
    let f = both_hooks();
    let (member, old) = held(&f).await;
    f.asg.start_refresh("web-asg", true);
    let (new, launched) = replacement(&f).await;

    let handled = f.deliver_ok(&launched[0]).await;

    assert_eq!(handled.ec2_calls.get("DetachNetworkInterface"), None);
    assert_eq!(f.asg.completed(&new).len(), 1);
    assert_eq!(f.ec2.holder(&member), Some((old, 1)));
}

/// R28, R4: the replacement took the member, then its launch fails (EC2
/// terminates it): the member goes back to the holder that still serves,
/// so no member stays unheld while a serving instance could hold it.
#[tokio::test]
async fn a_failed_replacement_gives_the_member_back_to_the_holder() {
    let f = both_hooks();
    let (member, old) = held(&f).await;
    f.asg.start_refresh("web-asg", false);
    let (new, launched) = replacement(&f).await;
    f.deliver_ok(&launched[0]).await;
    assert_eq!(f.ec2.holder(&member).map(|h| h.0), Some(new.clone()));

    f.ec2.set_state(&new, Terminated);
    tokio::time::sleep(Duration::from_millis(200)).await; // EC2 detaches it
    f.ec2.settle_reads();
    f.asg.settle_reads();
    f.event(&new, Terminated).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    assert_eq!(f.ec2.holder(&member), Some((old, 1)));
}

/// R27, R28: a volume pool under a refresh that launches first: the seat's
/// member and volume stay on the running holder (never off a running OS);
/// the replacement's launch stays open, its timeout started again, until
/// the holder ends.
#[tokio::test]
async fn a_volume_pool_under_a_launch_first_refresh_moves_nothing_off_a_running_os() {
    use network_interface_manager::ec2::{DEVICE_TAG, OWNER_TAG, SLOT_TAG, VOLUMES_TAG};
    let f = both_hooks();
    let (member, old) = held(&f).await;
    for (k, v) in [
        (OWNER_TAG, "pool-1"),
        (SLOT_TAG, "slot-1"),
        (VOLUMES_TAG, "/dev/sdf"),
    ] {
        f.ec2.tag_interface(&member, k, v);
    }
    let zone = crate::support::strict::az_of("subnet-a1");
    let tags = [
        (OWNER_TAG, "pool-1"),
        (SLOT_TAG, "slot-1"),
        (DEVICE_TAG, "/dev/sdf"),
    ];
    let volume = f.ec2.add_volume(&zone, tags);
    f.event(&old, Running).await; // the holder gets the seat's volume
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(f.ec2.volumes_attached_to(&old), vec![volume.clone()]);
    f.asg.start_refresh("web-asg", false);
    let (new, launched) = replacement(&f).await;
    f.ec2.settle_reads();
    f.asg.settle_reads();

    let handled = f.deliver_ok(&launched[0]).await;

    let calls = &handled.ec2_calls;
    assert_eq!(calls.get("DetachNetworkInterface"), None, "{calls:?}");
    assert_eq!(calls.get("DetachVolume"), None, "{calls:?}");
    assert_eq!(handled.outcome.report.heartbeats.len(), 1, "{handled:?}");
    assert!(f.asg.completed(&new).is_empty(), "not without its seat");
    assert_eq!(f.ec2.holder(&member), Some((old.clone(), 1)));
    assert_eq!(f.ec2.volumes_attached_to(&old), vec![volume]);
}

/// R28: a refresh that launches first (minimum healthy 100 %, maximum
/// 200 %) of a group of three across two AZs: the three replacements
/// launch at once; each goes in service holding a member of its AZ, each
/// member moved exactly once; each old instance then terminates holding
/// nothing.
#[tokio::test]
async fn a_refresh_of_three_across_two_azs_moves_each_member_once() {
    let f = both_hooks();
    let mut old = Vec::new();
    for subnet in ["subnet-a1", "subnet-a1", "subnet-b1"] {
        f.ec2.add_member("web", subnet);
        let instance = f.in_service(subnet);
        f.event(&instance, Running).await;
        old.push(instance);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    f.asg.start_refresh("web-asg", false);
    let launched: Vec<(String, Vec<Value>)> = ["subnet-a1", "subnet-a1", "subnet-b1"]
        .into_iter()
        .map(|subnet| f.launch(subnet))
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;

    let handled =
        futures::future::join_all(launched.iter().map(|(_, events)| f.deliver(&events[0]))).await;
    for (new, events) in &launched {
        if f.asg.completed(new).is_empty() {
            f.ec2.settle_reads(); // a race lost: the retry serves it
            f.deliver_ok(&events[0]).await;
        }
    }

    for h in &handled {
        assert!(
            h.outcome.report.failed.iter().all(|e| e.is_transient()),
            "{h:?}"
        );
    }
    // EC2's own log of what it did since the refresh began: each member
    // detached from its old holder only (the concurrent invocations may
    // each send that detach while it is under way), and attached once,
    // to a replacement.
    let writes = f.ec2.writes();
    let since = writes
        .iter()
        .rposition(|(op, _, i)| *op == Op::Attach && old.contains(i));
    let after = &writes[since.map_or(0, |p| p + 1)..];
    let moved: BTreeSet<(&str, &str)> = after
        .iter()
        .filter(|(op, _, _)| *op == Op::Detach)
        .map(|(_, member, from)| (member.as_str(), from.as_str()))
        .collect();
    assert_eq!(moved.len(), 3, "{moved:?}");
    assert!(
        moved.iter().all(|(_, from)| old.iter().any(|o| o == from)),
        "{moved:?}"
    );
    let attached: Vec<(&str, &str)> = after
        .iter()
        .filter(|(op, _, _)| *op == Op::Attach)
        .map(|(_, member, to)| (member.as_str(), to.as_str()))
        .collect();
    assert_eq!(attached.len(), 3, "each member attached once: {attached:?}");
    let new: Vec<&String> = launched.iter().map(|(n, _)| n).collect();
    assert!(
        attached.iter().all(|(_, to)| new.iter().any(|n| n == to)),
        "{attached:?}"
    );
    for (new, _) in &launched {
        let completed = f.asg.completed(new);
        assert_eq!(completed.len(), 1, "{new}");
        assert_eq!(
            completed[0].members_then.len(),
            1,
            "{new} serves with a member"
        );
    }
    for instance in &old {
        let leaving = f.asg.terminate(instance);
        f.deliver_ok(&leaving[0]).await;
        let ended = f.asg.completed(instance);
        assert_eq!(ended[0].members_then, Vec::<String>::new(), "{instance}");
    }
}
