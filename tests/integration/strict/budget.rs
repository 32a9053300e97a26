//! The EC2 API budget (docs/design.md, R23, R24), on the strict model with
//! EC2's request buckets (ten times EC2's, as the tests' pacing share is:
//! the same ratio on a faster clock), and on moto behind a proxy that
//! throttles as EC2's buckets would.

use std::collections::BTreeSet;
use std::time::Duration;

use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::Ec2;
use network_interface_manager::ec2::InstanceState::Running;
use network_interface_manager::handler::{handle, handle_measured, Context, Handled};
use network_interface_manager::pool::report::LeftAction;
use network_interface_manager::pool::Settings;

use crate::support::strict::{Buckets, Faults, Op, StrictEc2};
use crate::support::world::{fast, fixture, state_event};

/// `n` instances of pool `web`, launched a second apart, the last made
/// first (so that waiting longest is not the planner's order of ids), and
/// `n` free members, over the two subnets of one AZ. Oldest first.
fn fleet(ec2: &StrictEc2, n: usize) -> Vec<String> {
    let base = 1_700_000_000_000;
    let mut instances: Vec<String> = (0..n)
        .map(|i| {
            let subnet = ["subnet-a1", "subnet-a2"][i % 2];
            ec2.add_member("web", subnet);
            let instance = ec2.launch(Some("web"), subnet);
            ec2.set_launched_at(&instance, base + (n - i) as u64 * 1000);
            instance
        })
        .collect();
    instances.reverse();
    instances
}

async fn sync(ec2: &dyn Ec2, settings: Settings, budget: Duration) -> Handled {
    let handled = try_sync(ec2, settings, budget).await;
    assert!(
        !handled.should_retry() && handled.read_error.is_none(),
        "a sync with work left is done, not retried: {handled:?}"
    );
    handled
}

async fn try_sync(ec2: &dyn Ec2, settings: Settings, budget: Duration) -> Handled {
    let ctx = Context::new(ec2, settings);
    let event = fixture("scheduled-event.json");
    handle(&ctx, &event, Deadline::after(budget)).await
}

/// No instance holds two members, and every member is held by at most one.
fn assert_consistent(ec2: &StrictEc2, instances: &[String]) {
    for instance in instances {
        let held = ec2.members_of_pool(instance, "web");
        assert!(held.len() <= 1, "{instance} holds {held:?}");
    }
}

/// R24: a sync that needs more time than its deadline stops between
/// actions, says what is left, and the next sync finishes the work; the
/// instances waiting longest go first.
#[tokio::test]
async fn a_sync_past_its_deadline_leaves_nothing_half_done_and_the_next_finishes() {
    let ec2 = StrictEc2::new();
    let instances = fleet(&ec2, 400);

    // Pacing: 250 attaches at once, then 25 a second; 400 need 6 s.
    let ctx = Context::new(&ec2, fast());
    let event = fixture("scheduled-event.json");
    let (first, docs) =
        handle_measured(&ctx, &event, Deadline::after(Duration::from_secs(2))).await;
    assert!(
        !first.should_retry(),
        "a sync with work left is done, not retried"
    );

    let report = &first.outcome.report;
    let left = report.left_of(LeftAction::Attach);
    assert!(left > 0, "{:?}", report.left);
    assert_eq!(report.attached.len() + left, instances.len());
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_consistent(&ec2, &instances);
    let metric = docs.iter().find_map(|d| d.get("ActionsLeft"));
    assert_eq!(
        metric,
        Some(&serde_json::json!(left)),
        "the metric says so too"
    );
    let served: BTreeSet<&str> = report
        .attached
        .iter()
        .map(|a| a.instance_id.as_str())
        .collect();
    // Started oldest first, `concurrency` at a time: those in flight when
    // the deadline came may finish in any order, so the served are the
    // oldest give or take one window (the planner's order of ids, newest
    // first here, would serve none of the oldest).
    let window = served.len() + Settings::default().concurrency;
    let oldest: BTreeSet<&str> = instances[..window].iter().map(String::as_str).collect();
    let newer: Vec<&&str> = served.difference(&oldest).collect();
    assert!(
        newer.is_empty(),
        "the instances waiting longest first: {newer:?}"
    );

    ec2.settle_reads();
    let second = sync(&ec2, fast(), Duration::from_secs(30)).await;
    assert_eq!(second.outcome.report.attached.len(), left);
    assert!(second.outcome.report.left.is_empty());
    for instance in &instances {
        assert_eq!(ec2.members_of_pool(instance, "web").len(), 1, "{instance}");
    }
}

/// R23: with half of every bucket used by the rest of the account and the
/// manager at its default half, the sync converges with few throttled
/// answers; without pacing, the same sync is throttled over and over.
#[tokio::test]
async fn throttled_answers_stay_few_when_half_the_budget_is_used_elsewhere() {
    let mut throttled = Vec::new();
    for share in [5.0, 1000.0] {
        let faults = Faults {
            buckets: Some(Buckets::scaled(10.0).with_others(0.5)),
            ..Faults::default()
        };
        let ec2 = StrictEc2::with(faults);
        let instances = fleet(&ec2, 300);
        let settings = Settings {
            ec2_share: share,
            ..fast()
        };
        let handled = try_sync(&ec2, settings, Duration::from_secs(30)).await;
        assert!(handled.read_error.is_none(), "{handled:?}");
        let report = &handled.outcome.report;
        if share == 5.0 {
            assert_eq!(
                report.attached.len(),
                instances.len(),
                "{:?}",
                report.failed
            );
        }
        assert_consistent(&ec2, &instances);
        let calls: u64 = handled.ec2_calls.values().sum();
        throttled.push((ec2.throttled(), calls));
    }
    let (paced, calls) = throttled[0];
    let (unpaced, _) = throttled[1];
    println!("throttled: paced {paced} of {calls} calls, unpaced {unpaced}");
    // Bound: the pacer draws exactly what the others leave, so a throttle
    // comes only from rounding at a token's edge, and each one empties the
    // pacer's bucket (the next call waits a full token): at most 2 % of the
    // calls.
    assert!(paced * 50 <= calls, "{paced} throttled of {calls}");
    assert!(unpaced > paced * 10, "unpaced {unpaced}, paced {paced}");
}

/// R24: a `running` event during a long sync is served at once, from the
/// half of the budget the sync leaves, not after the sync's queue.
#[tokio::test]
async fn a_running_event_during_a_sync_is_served_before_the_syncs_remaining_queue() {
    let ec2 = StrictEc2::new();
    let instances = fleet(&ec2, 400);
    ec2.add_member("api", "subnet-b1");

    let syncing = sync(&ec2, fast(), Duration::from_secs(30));
    let event = async {
        // The sync is past its burst, attaching 25 a second.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let late = ec2.launch_booting(Some("api"), "subnet-b1", Duration::ZERO);
        let ctx = Context::new(&ec2, fast());
        let event = state_event(&late, Running);
        let served = handle(&ctx, &event, Deadline::after(Duration::from_secs(30))).await;
        (late, crate::support::world::done(served))
    };
    let (done, (late, served)) = tokio::join!(syncing, event);

    assert_eq!(served.outcome.report.attached.len(), 1);
    assert_eq!(done.outcome.report.attached.len(), instances.len());
    let attaches: Vec<String> = ec2
        .writes()
        .into_iter()
        .filter(|(op, _, _)| *op == Op::Attach)
        .map(|(_, _, instance)| instance)
        .collect();
    let at = attaches.iter().position(|i| *i == late).unwrap();
    let after = attaches.len() - at - 1;
    assert!(
        after >= 50,
        "only {after} of the sync's attaches came after the event's"
    );
}
