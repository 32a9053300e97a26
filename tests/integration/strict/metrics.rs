//! Metrics in CloudWatch's Embedded Metric Format (docs/design.md, R18):
//! every document checked against the specification's rules, and the values
//! an operator's alarms read.

use std::time::Duration;

use network_interface_manager::ec2::Ec2;
use network_interface_manager::ec2::InstanceState::*;

use crate::support::emf::{find, measured, validate};
use crate::support::strict::Op;
use crate::support::world::{fixture, state_event, StrictWorld};

#[tokio::test]
async fn a_running_event_counts_one_attach_for_its_pool() {
    let w = StrictWorld::new();
    w.model.add_member("web", "subnet-a1");
    let instance = w.model.launch(Some("web"), "subnet-a1");

    let docs = measured(&w, &state_event(&instance, Running)).await;

    let web = find(&docs, &[("Pool", "web")], "Attaches");
    assert_eq!(web["Attaches"], 1);
    assert_eq!(web["AttachLatency"].as_array().map(Vec::len), Some(1));
    let account = find(&docs, &[], "Ec2Throttled");
    assert_eq!(account["TransientFailures"], 0);
    assert!(
        !docs.iter().any(|d| d.get("Members").is_some()),
        "no gauges after an event"
    );
}

/// R6, R18: a candidate another invocation took meanwhile (EC2 answers
/// `InUse`) is a race lost: the next candidate is attached, and the pool's
/// `ClaimConflicts` counts the race, so that an operator sees contention.
#[tokio::test]
async fn a_candidate_taken_meanwhile_counts_one_claim_conflict_for_its_pool() {
    let w = StrictWorld::new();
    w.model.add_member("web", "subnet-a1");
    w.model.add_member("web", "subnet-a1");
    let instance = w.model.launch(Some("web"), "subnet-a1");
    w.model
        .fail_next(Op::Attach, "InvalidNetworkInterface.InUse", "in use");

    let docs = measured(&w, &state_event(&instance, Running)).await;

    assert_eq!(w.model.members_of(&instance).len(), 1);
    let web = find(&docs, &[("Pool", "web")], "ClaimConflicts");
    assert_eq!(
        (web["ClaimConflicts"].as_u64(), web["Attaches"].as_u64()),
        (Some(1), Some(1))
    );
}

/// R11, R18: another invocation attached a member after the sync's
/// filtered reads: the sync's attach of it is refused (in use), the next
/// candidate's index is refused too, held by that member. Nothing is
/// attached, and both races lost are counted.
#[tokio::test]
async fn a_sync_that_loses_both_races_for_an_instance_counts_two_claim_conflicts() {
    let w = StrictWorld::new();
    let first = w.model.add_member("web", "subnet-a1");
    w.model.add_member("web", "subnet-a1");
    let instance = w.model.launch(Some("web"), "subnet-a1");
    {
        // Reads by id are fresh; filtered reads show the world as it was
        // before the other invocation's attach for the whole story.
        let mut f = w.model.faults.lock().unwrap();
        f.read_lag = Duration::ZERO;
        f.filter_lag_floor = Duration::from_secs(60);
    }
    let ec2: &dyn Ec2 = &*w.model;
    ec2.attach(&first, &instance, 1).await.unwrap();

    let docs = measured(&w, &fixture("scheduled-event.json")).await;

    assert_eq!(w.model.members_of(&instance), [first]);
    let web = find(&docs, &[("Pool", "web")], "ClaimConflicts");
    let counts = (web["ClaimConflicts"].as_u64(), web["Attaches"].as_u64());
    assert_eq!(counts, (Some(2), Some(0)), "{web}");
}

#[tokio::test]
async fn a_sync_with_a_shortage_reports_it_per_pool_per_az_and_for_the_account() {
    let w = StrictWorld::new();
    w.model.add_member("web", "subnet-a1");
    w.model.add_member("web", "subnet-b1");
    for _ in 0..2 {
        w.model.launch(Some("web"), "subnet-a1");
    }

    let docs = measured(&w, &fixture("scheduled-event.json")).await;

    let short = [("Pool", "web"), ("AvailabilityZone", "us-east-1a")];
    let a = find(&docs, &short, "WaitingInstances");
    assert_eq!(
        (a["WaitingInstances"].as_u64(), a["FreeMembers"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        (a["Members"].as_u64(), a["HeldMembers"].as_u64()),
        (Some(1), Some(1))
    );
    let b = find(
        &docs,
        &[("Pool", "web"), ("AvailabilityZone", "us-east-1b")],
        "Members",
    );
    assert_eq!(
        (b["FreeMembers"].as_u64(), b["WaitingInstances"].as_u64()),
        (Some(1), Some(0))
    );
    let pool = find(&docs, &[("Pool", "web")], "Members");
    assert_eq!(
        (pool["Members"].as_u64(), pool["WaitingInstances"].as_u64()),
        (Some(2), Some(1))
    );
    let account = find(&docs, &[], "WaitingInstances");
    assert_eq!(account["WaitingInstances"], 1);
}

/// R28, R18: a member whose holder EC2 warned of, with no instance
/// waiting to take it, is counted at risk, per pool and AZ and per pool;
/// one whose holder stays is not.
#[tokio::test]
async fn a_member_held_by_a_warned_instance_is_counted_at_risk() {
    use network_interface_manager::ec2::LEAVING_TAG;
    let w = StrictWorld::new();
    w.model.add_member("web", "subnet-a1");
    w.model.add_member("web", "subnet-b1");
    let warned = w.model.launch(Some("web"), "subnet-a1");
    let staying = w.model.launch(Some("web"), "subnet-b1");
    crate::support::world::deliver_ok(&w, &state_event(&warned, Running)).await;
    crate::support::world::deliver_ok(&w, &state_event(&staying, Running)).await;
    let now = chrono::Utc::now();
    let started = (now - chrono::Duration::minutes(10)).timestamp_millis() as u64;
    w.model.set_launched_at(&warned, started);
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mark = format!("spot-interruption {at}");
    w.model.set_tag(&warned, LEAVING_TAG, Some(&mark));
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.model.settle_reads();

    let docs = measured(&w, &fixture("scheduled-event.json")).await;

    let a = [("Pool", "web"), ("AvailabilityZone", "us-east-1a")];
    let b = [("Pool", "web"), ("AvailabilityZone", "us-east-1b")];
    assert_eq!(find(&docs, &a, "AtRiskMembers")["AtRiskMembers"], 1);
    assert_eq!(find(&docs, &b, "AtRiskMembers")["AtRiskMembers"], 0);
    assert_eq!(
        find(&docs, &[("Pool", "web")], "AtRiskMembers")["AtRiskMembers"],
        1
    );
}

/// R28, R18: a warned holder's member that the sync itself hands to an
/// instance that waits is at risk no more.
#[tokio::test]
async fn a_member_the_sync_moves_off_a_warned_holder_is_not_at_risk() {
    use network_interface_manager::ec2::LEAVING_TAG;
    let w = StrictWorld::new();
    w.model.add_member("web", "subnet-a1");
    let warned = w.model.launch(Some("web"), "subnet-a1");
    crate::support::world::deliver_ok(&w, &state_event(&warned, Running)).await;
    let waiting = w.model.launch(Some("web"), "subnet-a1");
    let now = chrono::Utc::now();
    let started = (now - chrono::Duration::minutes(10)).timestamp_millis() as u64;
    w.model.set_launched_at(&warned, started);
    let at = now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mark = format!("spot-interruption {at}");
    w.model.set_tag(&warned, LEAVING_TAG, Some(&mark));
    tokio::time::sleep(Duration::from_millis(100)).await;
    w.model.settle_reads();

    let docs = measured(&w, &fixture("scheduled-event.json")).await;

    let a = [("Pool", "web"), ("AvailabilityZone", "us-east-1a")];
    let gauges = find(&docs, &a, "AtRiskMembers");
    assert_eq!(gauges["AtRiskMembers"], 0, "{gauges}");
    assert_eq!(gauges["HeldMembers"], 1, "{gauges}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        w.model
            .holder(&w.model.members_of(&waiting)[0])
            .map(|h| h.0),
        Some(waiting)
    );
}

#[test]
fn the_validator_refuses_what_the_specification_refuses() {
    let ok = serde_json::json!({
        "_aws": {"Timestamp": 1_700_000_000_000u64, "CloudWatchMetrics": [
            {"Namespace": "N", "Dimensions": [["Pool"]], "Metrics": [{"Name": "Attaches"}]}]},
        "Pool": "web", "Attaches": 1
    });
    validate(&ok);
    let mut seconds = ok.clone();
    seconds["_aws"]["Timestamp"] = 1_700_000_000u64.into();
    let mut missing_dimension = ok.clone();
    missing_dimension.as_object_mut().unwrap().remove("Pool");
    let mut text_value = ok.clone();
    text_value["Attaches"] = "1".into();
    for bad in [seconds, missing_dimension, text_value] {
        let refused = std::panic::catch_unwind(|| validate(&bad));
        assert!(refused.is_err(), "accepted {bad}");
    }
}

/// What `sync` shows as it goes (the CLI's progress bar): every action the
/// plan holds is counted planned, then done, and each tick carries the
/// attempts EC2 throttled so far, through the pacing.
#[tokio::test]
async fn the_progress_counts_every_planned_action_and_the_throttled_attempts() {
    use network_interface_manager::ec2::ORDINAL_TAG;
    use network_interface_manager::pool::settings::{Progress, ProgressSink};
    use std::sync::{Arc, Mutex};

    #[derive(Default)]
    struct Seen(Mutex<(u64, u64, u64)>);
    impl Progress for Seen {
        fn planned(&self, actions: u64) {
            self.0.lock().unwrap().0 += actions;
        }
        fn done(&self, throttled: u64) {
            let mut seen = self.0.lock().unwrap();
            seen.1 += 1;
            seen.2 = throttled;
        }
    }

    let w = StrictWorld::new();
    // A holder to keep its member on termination and to identify, two
    // waiting for a member, one stopped that gives its member back.
    let keeper = w.model.launch(Some("web"), "subnet-a1");
    let tags = [
        ("network-interface-manager-pool", "web"),
        (ORDINAL_TAG, "1"),
    ];
    w.model.add_launch_interface(&keeper, tags, 1, 0, true);
    for _ in 0..2 {
        w.model.add_member("web", "subnet-a1");
        w.model.launch(Some("web"), "subnet-a1");
    }
    let stopped = w.model.launch(Some("web"), "subnet-a1");
    w.model.add_launch_interface(
        &stopped,
        [("network-interface-manager-pool", "web")],
        1,
        0,
        false,
    );
    w.model.set_state(&stopped, Stopped);
    w.model.settle_reads();
    for _ in 0..2 {
        w.model.fail_next(
            Op::Attach,
            "RequestLimitExceeded",
            "Request limit exceeded.",
        );
    }
    let seen = Arc::new(Seen::default());
    let mut settings = crate::support::world::fast();
    settings.progress = ProgressSink(Some(seen.clone()));

    crate::support::world::deliver_with(&w, settings, &fixture("scheduled-event.json")).await;

    let (planned, done, throttled) = *seen.0.lock().unwrap();
    assert_eq!(planned, 5, "a detach, a keep, two attaches, an identity");
    assert_eq!(done, 5);
    assert_eq!(throttled, 2);
}
