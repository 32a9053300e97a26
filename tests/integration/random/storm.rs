//! An event storm on the strict model: 50 instances launched at once over 50
//! members in 2 AZs, every event duplicated and shuffled, 20 % of calls
//! throttled, failed invocations retried as Lambda does (twice). After one
//! sync nothing is double-booked, waiting or lost.

use std::collections::BTreeMap;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use network_interface_manager::ec2::InstanceState::Running;
use network_interface_manager::ec2::POOL_TAG;

use crate::support::strict::Op;
use crate::support::world::{deliver, deliver_ok, fixture, state_event, StrictWorld};

const INSTANCES: usize = 50;
/// Lambda retries a failed asynchronous invocation twice.
const DELIVERIES: usize = 3;

/// A reproducible shuffle (xorshift), so a failure can be replayed.
fn shuffle<T>(items: &mut [T], mut seed: u64) {
    for i in (1..items.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        items.swap(i, (seed % (i as u64 + 1)) as usize);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_duplicated_shuffled_throttled_events_settles_after_one_sync() {
    let w = StrictWorld::new();
    let subnets = ["subnet-a1", "subnet-b1"];
    let members: Vec<String> = (0..INSTANCES)
        .map(|n| w.model.add_member("fleet", subnets[n % 2]))
        .collect();
    let instances: Vec<String> = (0..INSTANCES)
        .map(|n| w.model.launch(Some("fleet"), subnets[n % 2]))
        .collect();
    {
        let mut faults = w.model.faults.lock().unwrap();
        faults.throttle_percent = 20;
        faults.latency = Duration::from_millis(1);
        faults.transition = Duration::from_millis(5);
    }
    let mut events: Vec<_> = instances
        .iter()
        .flat_map(|i| [state_event(i, Running), state_event(i, Running)])
        .collect();
    shuffle(&mut events, 0x5EED);

    let failures_left: Vec<usize> = stream::iter(&events)
        .map(|event| async {
            for attempt in 0..DELIVERIES {
                if !deliver(&w, event).await.should_retry() {
                    return attempt;
                }
            }
            DELIVERIES
        })
        .buffer_unordered(16)
        .collect()
        .await;
    w.model.faults.lock().unwrap().throttle_percent = 0;
    // The schedule runs minutes later: its reads have caught up.
    w.model.settle_reads();
    deliver_ok(&w, &fixture("scheduled-event.json")).await;

    let mut attaches: BTreeMap<String, usize> = BTreeMap::new();
    for (op, eni, _) in w.model.writes() {
        if op == Op::Attach {
            *attaches.entry(eni).or_default() += 1;
        }
    }
    let double_booked = attaches.values().filter(|n| **n > 1).count();
    let with_two = instances
        .iter()
        .filter(|i| w.model.members_of(i).len() > 1)
        .count();
    let waiting = instances
        .iter()
        .filter(|i| w.model.members_of(i).is_empty())
        .count();
    let pool_members: Vec<_> = w
        .model
        .interfaces()
        .into_iter()
        .filter(|i| i.tags.contains_key(POOL_TAG))
        .collect();
    let lost = members.len() - pool_members.len();
    let gave_up = failures_left.iter().filter(|a| **a == DELIVERIES).count();
    let retried = failures_left.iter().filter(|a| **a > 0).count();
    println!(
        "storm: {} events, {retried} needed a Lambda retry, {gave_up} failed all deliveries; \
         after one sync: double-booked members {double_booked}, instances with two members \
         {with_two}, instances waiting {waiting}, members lost {lost}",
        events.len()
    );
    assert_eq!((double_booked, with_two, waiting, lost), (0, 0, 0, 0));
}
