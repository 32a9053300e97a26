//! Sequential EC2 round trips on each event's critical path, counted by the
//! harsh strict model with 50 ms added to every call (calls made at once
//! overlap and share a round trip). A count, not a timing: it holds on any
//! machine. The story's own writes lag like any other: where a read may be
//! stale, the count is a range.

use network_interface_manager::aws::total_calls;
use std::time::{Duration, Instant};

use network_interface_manager::ec2::InstanceState::{self, *};

use crate::support::world::{deliver_ok, state_event, StrictWorld};

async fn measure(w: &StrictWorld, instance: &str, state: InstanceState) -> (u64, u64) {
    w.model.steady_latency(Duration::from_millis(50));
    let before = w.model.round_trips();
    let started = Instant::now();
    let handled = deliver_ok(w, &state_event(instance, state)).await;
    let trips = w.model.round_trips() - before;
    println!(
        "{state:?}: {trips} round trips, {} calls {:?}, {:?} with 50 ms per call",
        total_calls(&handled.ec2_calls),
        handled.ec2_calls,
        started.elapsed()
    );
    w.model.faults.lock().unwrap().latency = Duration::ZERO;
    (trips, total_calls(&handled.ec2_calls))
}

#[tokio::test]
async fn running_takes_two_round_trips() {
    let w = StrictWorld::new();
    w.model.add_member("web", "subnet-a1");
    let instance = w.model.launch(Some("web"), "subnet-a1");
    assert_eq!(measure(&w, &instance, Running).await, (2, 3));
    // Delivered again once the reads caught up: the two reads, then the
    // instance's own interfaces by id.
    w.model.settle_reads();
    assert_eq!(measure(&w, &instance, Running).await, (2, 3));
}

#[tokio::test]
async fn a_stop_hands_the_member_over_in_three_round_trips_and_more_while_ec2_settles() {
    let w = StrictWorld::new();
    w.model.add_member("web", "subnet-a1");
    let old = w.model.launch(Some("web"), "subnet-a1");
    deliver_ok(&w, &state_event(&old, Running)).await;
    w.model.launch(Some("web"), "subnet-a1");
    w.model.set_state(&old, Stopped);
    w.model.settle_reads();
    // R12: the instance and its members; the detach beside the pool's
    // members and instances and the instance's interfaces by id; the attach,
    // once EC2 has let go (here within a round trip; a refusal while it
    // detaches means a status read, then the attach again).
    let (trips, calls) = measure(&w, &old, Stopped).await;
    assert_eq!(trips, 3, "{trips} round trips");
    assert_eq!(calls, 7, "{calls} calls");
}

#[tokio::test]
async fn a_termination_waits_for_ec2s_own_detach() {
    let w = StrictWorld::new();
    let member = w.model.add_member("web", "subnet-a1");
    let old = w.model.launch(Some("web"), "subnet-a1");
    deliver_ok(&w, &state_event(&old, Running)).await;
    let replacement = w.model.launch(Some("web"), "subnet-a1");
    w.model.faults.lock().unwrap().termination_detach = Duration::from_millis(500);
    w.model.set_state(&old, Terminated);
    // The event arrives as EC2 starts detaching, before the reads show it.
    let (trips, _) = measure(&w, &old, Terminated).await;
    // Two rounds of reads, status reads while EC2 detaches (500 ms at
    // 50 ms a read, backoff from 5 ms), attach.
    assert!((5..=16).contains(&trips), "{trips} round trips");
    assert_eq!(
        w.model.holder(&member),
        Some((replacement, 1)),
        "handed over"
    );
}
