//! Races and faults on the strict model: EC2 is the lock (R6), every wait is
//! bounded (R8), eventual consistency strips no one (R10).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::InstanceState::*;
use network_interface_manager::handler::{handle, Context};

use crate::support::strict::Op;
use crate::support::world::{
    deliver, deliver_ok, done, fast, fixture, state_event, StrictWorld, World,
};

#[tokio::test]
async fn concurrent_running_events_with_an_in_use_race_give_each_instance_one_member() {
    let w = StrictWorld::new();
    let members: Vec<String> = (0..3)
        .map(|_| w.model.add_member("web", "subnet-a1"))
        .collect();
    let instances: Vec<String> = (0..3)
        .map(|_| w.model.launch(Some("web"), "subnet-a1"))
        .collect();
    w.model.faults.lock().unwrap().latency = Duration::from_millis(5);
    w.model.faults.lock().unwrap().transition = Duration::from_millis(20);
    w.model
        .fail_next(Op::Attach, "InvalidNetworkInterface.InUse", "in use");

    let events: Vec<_> = instances.iter().map(|i| state_event(i, Running)).collect();
    let handled = join_all(events.iter().map(|e| deliver(&w, e))).await;

    for h in handled {
        done(h);
    }
    for instance in &instances {
        assert_eq!(
            w.model.members_of(instance).len(),
            1,
            "{instance} holds one member"
        );
    }
    let mut attaches: BTreeMap<String, usize> = BTreeMap::new();
    for (op, eni, _) in w.model.writes() {
        if op == Op::Attach {
            *attaches.entry(eni).or_default() += 1;
        }
    }
    let once: BTreeMap<String, usize> = members.into_iter().map(|m| (m, 1)).collect();
    assert_eq!(attaches, once, "each member attached exactly once");
}

#[tokio::test]
async fn two_invocations_for_one_instance_attach_one_member() {
    let w = StrictWorld::new();
    w.model.add_member("web", "subnet-a1");
    w.model.add_member("web", "subnet-a1");
    let instance = w.model.launch(Some("web"), "subnet-a1");
    w.model.faults.lock().unwrap().latency = Duration::from_millis(5);

    let event = state_event(&instance, Running);
    let (a, b) = tokio::join!(deliver(&w, &event), deliver(&w, &event));

    done(a);
    done(b);
    assert_eq!(w.model.members_of(&instance).len(), 1);
}

#[tokio::test]
async fn slow_detach_is_awaited_and_the_member_handed_over_in_the_same_invocation() {
    let w = StrictWorld::new();
    let member = w.model.add_member("db", "subnet-a1");
    let old = w.model.launch(Some("db"), "subnet-a1");
    deliver_ok(&w, &state_event(&old, Running)).await;
    let new = w.model.launch(Some("db"), "subnet-a1");
    w.model.faults.lock().unwrap().transition = Duration::from_millis(300);

    w.model.set_state(&old, Stopped);
    let handled = deliver_ok(&w, &state_event(&old, Stopped)).await;

    assert_eq!(handled.outcome.report.attached[0].instance_id, new);
    assert_eq!(w.model.holder(&member).map(|h| h.0), Some(new));
}

#[tokio::test]
async fn a_wait_never_outlives_the_deadline() {
    let w = StrictWorld::new();
    w.model.add_member("db", "subnet-a1");
    let old = w.model.launch(Some("db"), "subnet-a1");
    deliver_ok(&w, &state_event(&old, Running)).await;
    w.model.launch(Some("db"), "subnet-a1");
    w.model.faults.lock().unwrap().transition = Duration::from_secs(30);
    w.model.set_state(&old, Stopped);

    let started = Instant::now();
    let deadline = Deadline::after(Duration::from_millis(200));
    let ctx = Context::new(&*w.model, fast());
    let result = handle(&ctx, &state_event(&old, Stopped), deadline).await;

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        result.should_retry(),
        "expected a transient failure, got {result:?}"
    );
    // What the function returns: an error, so that Lambda delivers the
    // event again.
    let error = result.result().expect_err("an error for Lambda's retry");
    assert!(error.contains("should be retried"), "{error}");
    let handled = result;
    assert_eq!(
        handled.outcome.report.detached.len(),
        1,
        "the detach was done"
    );
}

#[tokio::test]
async fn a_holder_missing_from_the_tagged_list_is_read_by_id_and_kept() {
    let w = StrictWorld::new();
    let member = w.model.add_member("web", "subnet-a1");
    let fresh = w.model.launch(Some("web"), "subnet-a1");
    deliver_ok(&w, &state_event(&fresh, Running)).await;
    w.model.settle_reads();
    w.model.faults.lock().unwrap().lagging.insert(fresh.clone());

    let handled = deliver_ok(&w, &fixture("scheduled-event.json")).await;

    assert_eq!(w.model.holder(&member), Some((fresh, 1)));
    assert!(handled.outcome.report.detached.is_empty());
    assert_eq!(
        handled.ec2_calls["DescribeInstances"], 2,
        "by tag, then by id"
    );
}

#[tokio::test]
async fn throttling_past_the_sdk_retries_fails_the_event_for_lambda_to_retry() {
    let w = StrictWorld::new();
    let member = w.model.add_member("web", "subnet-a1");
    let instance = w.model.launch(Some("web"), "subnet-a1");
    let event = state_event(&instance, Running);
    // Past the SDK's retries and the pacing's (R23).
    for _ in 0..network_interface_manager::ec2::paced::THROTTLED_TRIES {
        w.model.fail_next(
            Op::Attach,
            "RequestLimitExceeded",
            "Request limit exceeded.",
        );
    }

    let first = deliver(&w, &event).await;
    assert!(first.should_retry(), "{first:?}");
    assert_eq!(w.model.holder(&member), None);

    deliver_ok(&w, &event).await;
    assert_eq!(w.model.holder(&member), Some((instance, 1)));
}

#[tokio::test]
async fn a_throttled_read_fails_the_event_as_transient() {
    let w = StrictWorld::new();
    let instance = w.model.launch(Some("web"), "subnet-a1");
    // Past the SDK's retries and the pacing's (R23).
    for _ in 0..network_interface_manager::ec2::paced::THROTTLED_TRIES {
        w.model.fail_next(
            Op::DescribeInstances,
            "RequestLimitExceeded",
            "Request limit exceeded.",
        );
    }

    let result = deliver(&w, &state_event(&instance, Running)).await;

    let Some(e) = &result.read_error else {
        panic!("expected a read error, got {result:?}");
    };
    assert!(result.should_retry(), "{result:?}");
    assert!(e.is(network_interface_manager::aws::ErrorKind::Throttled));
}

/// R13, R24: EC2 refusing to keep a member on termination is a failure,
/// reported as one; only what the deadline stopped is left for later.
#[tokio::test]
async fn a_refused_keep_on_termination_is_reported_failed_not_left() {
    let w = StrictWorld::new();
    let holder = w.model.launch(Some("web"), "subnet-a1");
    let pool = [("network-interface-manager-pool", "web")];
    let member = w.model.add_launch_interface(&holder, pool, 1, 0, true);
    w.model
        .fail_next(Op::Modify, "UnauthorizedOperation", "refused");

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
    use network_interface_manager::pool::report::LeftAction;
    let w = StrictWorld::new();
    let pool = [("network-interface-manager-pool", "web")];
    for _ in 0..3 {
        let holder = w.model.launch(Some("web"), "subnet-a1");
        w.model.add_launch_interface(&holder, pool, 1, 0, true);
    }
    let mut settings = fast();
    settings.ec2_share = 0.02;
    let ctx = Context::new(w.ec2(), settings);
    let sync = fixture("scheduled-event.json");

    let handled = handle(&ctx, &sync, Deadline::after(Duration::from_secs(5))).await;

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
    use network_interface_manager::ec2::ORDINAL_TAG;
    use network_interface_manager::pool::report::LeftAction;
    let w = StrictWorld::new();
    for ordinal in ["1", "2", "3"] {
        let holder = w.model.launch(Some("web"), "subnet-a1");
        let tags = [
            ("network-interface-manager-pool", "web"),
            (ORDINAL_TAG, ordinal),
        ];
        w.model.add_launch_interface(&holder, tags, 1, 0, false);
    }
    let mut settings = fast();
    settings.ec2_share = 0.02;
    let ctx = Context::new(w.ec2(), settings);
    let sync = fixture("scheduled-event.json");

    let handled = handle(&ctx, &sync, Deadline::after(Duration::from_secs(4))).await;

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
    w.model
        .fail_next(Op::DescribeInstances, "UnauthorizedOperation", "refused");

    let result = deliver(&w, &state_event(&instance, Running)).await;

    let Some(e) = &result.read_error else {
        panic!("expected a read error, got {result:?}");
    };
    assert!(e.is(network_interface_manager::aws::ErrorKind::AccessDenied));
    assert_eq!(w.ec2().calls()["DescribeInstances"], 1);
}

#[tokio::test]
async fn a_running_instance_that_lost_the_tag_gives_its_member_back() {
    let w = StrictWorld::new();
    let member = w.model.add_member("web", "subnet-a1");
    let untagged = w.model.launch(Some("web"), "subnet-a1");
    deliver_ok(&w, &state_event(&untagged, Running)).await;
    let waiting = w.model.launch(Some("web"), "subnet-a1");
    w.model
        .set_tag(&untagged, network_interface_manager::ec2::POOL_TAG, None);
    // The tag went long before this event: the reads show it.
    w.model.settle_reads();

    deliver_ok(&w, &state_event(&untagged, Running)).await;

    assert_eq!(w.model.holder(&member), Some((waiting, 1)));
}
