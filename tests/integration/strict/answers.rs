//! What the executor makes of EC2's answers (R17, R23, R24): a refusal
//! is a failure, reported with EC2's reason and never tried again; what is
//! gone already is done; what the pacing would send only after the
//! deadline is left for the next run; waiting instances no candidate was
//! left for are shortages, by pool and AZ.

use std::time::Duration;

use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::InstanceState::*;
use network_interface_manager::ec2::ORDINAL_TAG;
use network_interface_manager::handler::{handle, Context, Handled};
use network_interface_manager::pool::report::LeftAction;

use crate::support::strict::Op;
use crate::support::world::{deliver, fast, fixture, state_event, StrictWorld, World};

const POOL: &str = "network-interface-manager-pool";
const REFUSED: &str = "UnauthorizedOperation";

/// A sync within `budget` that may draw 2% of EC2's buckets: two tokens of
/// ModifyNetworkInterfaceAttribute and of CreateTags at once, then one
/// every 10 s and every 5 s.
async fn sync_on_a_small_share(w: &StrictWorld, budget: Duration) -> Handled {
    let mut settings = fast();
    settings.ec2_share = 0.02;
    let ctx = Context::new(w.ec2(), settings);
    handle(
        &ctx,
        &fixture("scheduled-event.json"),
        Deadline::after(budget),
    )
    .await
}

/// R13, R24: EC2 refusing to keep a member on termination is a failure,
/// reported as one; only what the deadline stopped is left for later.
#[tokio::test]
async fn a_refused_keep_on_termination_is_reported_failed_not_left() {
    let w = StrictWorld::new();
    let holder = w.model.launch(Some("web"), "subnet-a1");
    let pool = [(POOL, "web")];
    let member = w.model.add_launch_interface(&holder, pool, 1, 0, true);
    w.model.fail_next(Op::Modify, REFUSED, "refused");

    let handled = deliver(&w, &fixture("scheduled-event.json")).await;

    let report = &handled.outcome.report;
    assert!(report.left.is_empty(), "{:?}", report.left);
    let failed = report
        .failed
        .iter()
        .find(|f| f.interface_id.as_ref() == Some(&member));
    assert!(failed.is_some(), "{:?}", report.failed);
}

/// R24: a keep on termination whose token the pacing would get only after
/// the deadline is left for the next run, not reported as failed: with a
/// share of two tokens, refilled one every 10 s, the third of three keeps
/// would wait past a 5-second deadline.
#[tokio::test]
async fn a_keep_the_pacing_defers_is_left_for_the_next_run() {
    let w = StrictWorld::new();
    let pool = [(POOL, "web")];
    for _ in 0..3 {
        let holder = w.model.launch(Some("web"), "subnet-a1");
        w.model.add_launch_interface(&holder, pool, 1, 0, true);
    }

    let handled = sync_on_a_small_share(&w, Duration::from_secs(5)).await;

    let report = &handled.outcome.report;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.kept_on_termination.len(), 2);
    let left: Vec<LeftAction> = report.left.iter().map(|l| l.action).collect();
    assert_eq!(left, [LeftAction::KeepOnTermination]);
}

/// R24, R26: the same for identities: the third of three holders to tag
/// would wait past the deadline for its token; it is left, not failed.
#[tokio::test]
async fn an_identity_the_pacing_defers_is_left_for_the_next_run() {
    let w = StrictWorld::new();
    for ordinal in ["1", "2", "3"] {
        let holder = w.model.launch(Some("web"), "subnet-a1");
        let tags = [(POOL, "web"), (ORDINAL_TAG, ordinal)];
        w.model.add_launch_interface(&holder, tags, 1, 0, false);
    }

    let handled = sync_on_a_small_share(&w, Duration::from_secs(4)).await;

    let report = &handled.outcome.report;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.identified.len(), 2);
    let left: Vec<LeftAction> = report.left.iter().map(|l| l.action).collect();
    assert_eq!(left, [LeftAction::Identify]);
}

/// R23: the pacing tries again only what EC2 throttled: a refusal is
/// answered after one call, and the event fails with it.
#[tokio::test]
async fn a_refused_read_is_not_tried_again() {
    let w = StrictWorld::new();
    let instance = w.model.launch(Some("web"), "subnet-a1");
    w.model.fail_next(Op::DescribeInstances, REFUSED, "refused");

    let result = deliver(&w, &state_event(&instance, Running)).await;

    let Some(e) = &result.read_error else {
        panic!("expected a read error, got {result:?}");
    };
    assert!(e.is(network_interface_manager::aws::ErrorKind::AccessDenied));
    assert_eq!(w.ec2().calls()["DescribeInstances"], 1);
}

/// R4, R17: a stopped holder's member taken back: EC2 refusing the detach
/// is a failure with its reason; a detach EC2 finds already done (the
/// member was detached meanwhile, the reads still show it held) is none.
#[tokio::test]
async fn a_refused_detach_is_a_failure_and_one_already_done_is_not() {
    for refused in [true, false] {
        let w = StrictWorld::new();
        let holder = w.model.launch(Some("web"), "subnet-a1");
        let member = w
            .model
            .add_launch_interface(&holder, [(POOL, "web")], 1, 0, false);
        w.model.set_state(&holder, Stopped);
        w.model.settle_reads();
        match refused {
            true => w.model.fail_next(Op::Detach, REFUSED, "refused"),
            false => {
                let attachment = w.model.attachment_of(&member).unwrap();
                w.ec2().detach(&attachment).await.unwrap();
                w.model.reads_lag(Duration::from_secs(1));
            }
        }

        let handled = deliver(&w, &fixture("scheduled-event.json")).await;

        let failed = &handled.outcome.report.failed;
        assert_eq!(failed.len(), usize::from(refused), "{failed:?}");
        assert!(
            failed.iter().all(|f| f.error.contains(REFUSED)),
            "{failed:?}"
        );
    }
}

/// R26: a former holder loses its identity: EC2 refusing the untag is a
/// failure; an instance EC2 no longer knows has nothing to untag.
#[tokio::test]
async fn a_refused_identity_removal_is_a_failure_and_a_gone_instance_is_not() {
    for (code, fails) in [(REFUSED, true), ("InvalidInstanceID.NotFound", false)] {
        let w = StrictWorld::new();
        let former = w.model.launch(Some("web"), "subnet-a1");
        w.model.set_tag(&former, ORDINAL_TAG, Some("1"));
        w.model.settle_reads();
        w.model.fail_next(Op::DeleteTags, code, "refused, or gone");

        let handled = deliver(&w, &fixture("scheduled-event.json")).await;

        let report = &handled.outcome.report;
        assert_eq!(
            report.failed.len(),
            usize::from(fails),
            "{code}: {report:?}"
        );
    }
}

/// R9: attaches that find every candidate taken meanwhile are shortages,
/// one per pool and AZ: two pools in one AZ, one pool in two AZs.
#[tokio::test]
async fn instances_left_without_a_candidate_are_shortages_by_pool_and_az() {
    let w = StrictWorld::new();
    let waiting = [
        ("web", "subnet-a1"),
        ("web", "subnet-b1"),
        ("api", "subnet-a1"),
    ];
    for (pool, subnet) in waiting {
        w.model.add_member(pool, subnet);
        w.model.launch(Some(pool), subnet);
        w.model
            .fail_next(Op::Attach, "InvalidNetworkInterface.InUse", "in use");
    }
    w.model.settle_reads();

    let handled = deliver(&w, &fixture("scheduled-event.json")).await;

    let mut short: Vec<(String, String, usize)> = handled
        .outcome
        .report
        .shortages
        .iter()
        .map(|s| {
            (
                s.pool.clone(),
                s.availability_zone.clone(),
                s.instance_ids.len(),
            )
        })
        .collect();
    short.sort();
    let expected = [
        ("api", "us-east-1a"),
        ("web", "us-east-1a"),
        ("web", "us-east-1b"),
    ];
    let expected: Vec<(String, String, usize)> = expected
        .iter()
        .map(|(p, az)| (p.to_string(), az.to_string(), 1))
        .collect();
    assert_eq!(short, expected);
}

/// Outcomes are listed by instance, whatever order EC2 answered in: a
/// detach refused for one instance and a keep refused for another come
/// out in the instances' order (the detaches are answered first).
#[tokio::test]
async fn failures_are_listed_by_instance() {
    let w = StrictWorld::new();
    let keeper = w.model.launch(Some("web"), "subnet-a1");
    w.model
        .add_launch_interface(&keeper, [(POOL, "web")], 1, 0, true);
    let stopped = w.model.launch(Some("web"), "subnet-a1");
    w.model
        .add_launch_interface(&stopped, [(POOL, "web")], 1, 0, false);
    w.model.set_state(&stopped, Stopped);
    w.model.settle_reads();
    w.model.fail_next(Op::Detach, REFUSED, "refused");
    w.model.fail_next(Op::Modify, REFUSED, "refused");

    let handled = deliver(&w, &fixture("scheduled-event.json")).await;

    let failed = &handled.outcome.report.failed;
    let order: Vec<&str> = failed.iter().map(|f| f.instance_id.as_str()).collect();
    assert_eq!(order, [keeper.as_str(), stopped.as_str()]);
}

/// R16: a `stopped` event that comes before the reads show the instance
/// leaving: the handler reads again until they do, within its fresh-read
/// budget, and hands the member over in the same invocation.
#[tokio::test]
async fn a_stop_event_ahead_of_the_reads_is_handed_over_once_they_catch_up() {
    let w = StrictWorld::new();
    let member = w.model.add_member("web", "subnet-a1");
    let old = w.model.launch(Some("web"), "subnet-a1");
    deliver(&w, &state_event(&old, Running)).await;
    let new = w.model.launch(Some("web"), "subnet-a1");
    w.model.settle_reads();
    w.model.faults.lock().unwrap().read_lag_floor = Duration::from_millis(300);
    w.model.set_state(&old, Stopped);

    deliver(&w, &state_event(&old, Stopped)).await;

    assert_eq!(w.model.holder(&member), Some((new, 1)));
}

/// R11, R16: a stopped holder's member is taken back while the pool's
/// read still shows it free and unattached (that read lags; the read by
/// holder does not): once this invocation's own detach is done, the
/// holder's listing is no evidence that it holds it, and the waiting
/// instance gets it in the same invocation.
#[tokio::test]
async fn a_member_taken_back_goes_to_the_waiting_instance_though_the_pool_read_lags() {
    let w = StrictWorld::new();
    let member = w.model.add_member("web", "subnet-a1");
    let holder = w.model.launch(Some("web"), "subnet-a1");
    let waiting = w.model.launch(Some("web"), "subnet-a1");
    w.model.settle_reads();
    {
        let mut f = w.model.faults.lock().unwrap();
        (f.transition, f.read_lag, f.filter_lag) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
        f.pools_lag_floor = Duration::from_secs(1);
    }
    w.ec2().attach(&member, &holder, 1).await.unwrap();
    w.model.set_state(&holder, Stopped);

    deliver(&w, &state_event(&holder, Stopped)).await;

    assert_eq!(w.model.holder(&member), Some((waiting, 1)));
}
