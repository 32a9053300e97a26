//! Races and faults on the strict model: EC2 is the lock (R6), every wait is
//! bounded (R8), eventual consistency strips no one (R10).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::future::join_all;
use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::InstanceState::*;
use network_interface_manager::handler::{handle, Context};

use crate::support::strict::Op;
use crate::support::world::{deliver, deliver_ok, done, fast, fixture, state_event, StrictWorld};

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
