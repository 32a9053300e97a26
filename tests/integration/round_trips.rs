//! Sequential EC2 round trips on each event's critical path, counted by the
//! strict model with 50 ms added to every call (calls made at once overlap
//! and share a round trip). A count, not a timing: it holds on any machine.

use std::time::{Duration, Instant};

use network_interface_manager::ec2::total_calls;
use network_interface_manager::ec2::InstanceState::{self, *};

use crate::support::world::{deliver_ok, state_event, StrictWorld};

async fn measure(w: &StrictWorld, instance: &str, state: InstanceState) -> (u64, u64) {
    w.0.faults.lock().unwrap().latency = Duration::from_millis(50);
    let before = w.0.round_trips();
    let started = Instant::now();
    let handled = deliver_ok(w, &state_event(instance, state)).await;
    let trips = w.0.round_trips() - before;
    println!(
        "{state:?}: {trips} round trips, {} calls, {:?} with 50 ms per call",
        total_calls(&handled.ec2_calls),
        started.elapsed()
    );
    w.0.faults.lock().unwrap().latency = Duration::ZERO;
    (trips, total_calls(&handled.ec2_calls))
}

#[tokio::test]
async fn running_takes_two_round_trips() {
    let w = StrictWorld::new();
    w.0.add_member("web", "subnet-a1");
    let instance = w.0.launch(Some("web"), "subnet-a1");
    assert_eq!(measure(&w, &instance, Running).await, (2, 3));
    // Delivered again: the two reads, then the instance's own members.
    assert_eq!(measure(&w, &instance, Running).await, (2, 3));
}

#[tokio::test]
async fn a_stop_hands_the_member_over_in_five_round_trips() {
    let w = StrictWorld::new();
    w.0.add_member("web", "subnet-a1");
    let old = w.0.launch(Some("web"), "subnet-a1");
    deliver_ok(&w, &state_event(&old, Running)).await;
    w.0.launch(Some("web"), "subnet-a1");
    w.0.set_state(&old, Stopped);
    // Instance and members; pool members and instances; detach; status; attach.
    assert_eq!(measure(&w, &old, Stopped).await, (5, 7));
}
