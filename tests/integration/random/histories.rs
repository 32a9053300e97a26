//! Random histories on the strict model (proptest): instances launched,
//! started, stopped, terminated, untagged and moved between pools across
//! AZs; their events lost, duplicated, delayed and delivered out of order,
//! copies handled at once; throttling and in-use races injected. The rules
//! hold after every step, and one sync settles everything.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::future::join_all;
use network_interface_manager::ec2::InstanceState::{self, *};
use network_interface_manager::ec2::{InterfaceStatus, POOL_TAG};
use proptest::prelude::*;
use serde_json::Value;

use crate::support::strict::{Op, StrictEc2};
use crate::support::world::{deliver, deliver_ok, fixture, state_event, StrictWorld};

const POOLS: [&str; 2] = ["red", "blue"];
const SUBNETS: [&str; 3] = ["subnet-a1", "subnet-a2", "subnet-b1"];

#[derive(Clone, Debug)]
enum Change {
    Launch { pool: usize, subnet: usize },
    Start(usize),
    Stop(usize),
    Terminate(usize),
    Untag(usize),
    MovePool(usize),
}

#[derive(Clone, Debug)]
struct Step {
    change: Change,
    /// 0: the event is lost; 1: delivered; 2: delivered twice, at once.
    copies: usize,
    /// Held back, to be delivered later and out of order.
    late: bool,
    /// The next attach fails as if another invocation took the interface.
    race: bool,
}

fn change() -> impl Strategy<Value = Change> {
    prop_oneof![
        3 => (0..2usize, 0..3usize).prop_map(|(pool, subnet)| Change::Launch { pool, subnet }),
        1 => any::<usize>().prop_map(Change::Start),
        2 => any::<usize>().prop_map(Change::Stop),
        2 => any::<usize>().prop_map(Change::Terminate),
        1 => any::<usize>().prop_map(Change::Untag),
        1 => any::<usize>().prop_map(Change::MovePool),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        change(),
        0..3usize,
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.15),
    )
        .prop_map(|(change, copies, late, race)| Step {
            change,
            copies,
            late,
            race,
        })
}

/// Applies a change to EC2; returns the event it causes, if any.
fn apply(ec2: &StrictEc2, instances: &mut Vec<String>, change: &Change) -> Option<Value> {
    let pick = |n: usize| (!instances.is_empty()).then(|| instances[n % instances.len()].clone());
    let state = |id: &str| ec2.instance_state(id);
    match *change {
        Change::Launch { pool, subnet } => {
            let boot = Duration::from_millis(15);
            let id = ec2.launch_booting(Some(POOLS[pool]), SUBNETS[subnet], boot);
            instances.push(id.clone());
            Some(state_event(&id, Running))
        }
        Change::Start(n) => {
            let id = pick(n)?;
            (state(&id) == Stopped).then(|| {
                ec2.set_state(&id, Running);
                state_event(&id, Running)
            })
        }
        Change::Stop(n) => transition(ec2, &pick(n)?, Stopped),
        Change::Terminate(n) => transition(ec2, &pick(n)?, Terminated),
        Change::Untag(n) => {
            ec2.set_tag(&pick(n)?, POOL_TAG, None);
            None // tags change without an event; the sync repairs
        }
        Change::MovePool(n) => {
            let id = pick(n)?;
            let other = match ec2.instance_pool(&id).as_deref() {
                Some("red") => "blue",
                _ => "red",
            };
            ec2.set_tag(&id, POOL_TAG, Some(other));
            None
        }
    }
}

fn transition(ec2: &StrictEc2, id: &str, to: InstanceState) -> Option<Value> {
    let now = ec2.instance_state(id);
    if now == Terminated || now == to {
        return None;
    }
    ec2.set_state(id, to);
    Some(state_event(id, to))
}

/// Delivers `event`, retrying a failed invocation twice as Lambda does.
async fn deliver_with_retries(w: &StrictWorld, event: &Value) {
    for _ in 0..3 {
        if !deliver(w, event).await.should_retry() {
            return;
        }
    }
}

/// (pool, AZ) -> (instances waiting, free members).
fn placement(ec2: &StrictEc2) -> BTreeMap<(String, String), (Vec<String>, usize)> {
    let mut by_place: BTreeMap<(String, String), (Vec<String>, usize)> = BTreeMap::new();
    for m in ec2.interfaces() {
        if let (Some(pool), InterfaceStatus::Available) = (m.pool(), m.status) {
            if !m.requester_managed && m.attachment.is_none() {
                by_place
                    .entry((pool.into(), m.availability_zone.clone()))
                    .or_default()
                    .1 += 1;
            }
        }
    }
    for i in ec2.all_instances() {
        let Some(pool) = i.pool() else { continue };
        if i.state == Running && ec2.members_of_pool(&i.id, pool).is_empty() {
            by_place
                .entry((pool.into(), i.availability_zone.clone()))
                .or_default()
                .0
                .push(i.id.clone());
        }
    }
    by_place
}

/// Rules that hold after every step.
fn check_always(ec2: &StrictEc2, untouchable: &BTreeSet<String>, members: usize) {
    for (op, eni, _) in ec2.writes() {
        assert!(
            !untouchable.contains(&eni),
            "{op:?} touched {eni}, a primary or requester-managed interface"
        );
        assert!(
            !matches!(op, Op::Delete | Op::DeleteTags),
            "event handling deleted or untagged {eni}"
        );
    }
    let now = ec2
        .interfaces()
        .iter()
        .filter(|i| i.pool().is_some())
        .count();
    assert_eq!(now, members, "no member lost");
    for i in ec2.all_instances() {
        let Some(pool) = i.pool() else { continue };
        let held = ec2.members_of_pool(&i.id, pool);
        if held.len() > 1 {
            // What the closing note of a failure needs: who holds what, and
            // the writes that led there.
            for m in ec2.interfaces().iter().filter(|m| m.pool().is_some()) {
                eprintln!("member {} {:?} {:?}", m.id, m.tags, m.attachment);
            }
            eprintln!("writes {:?}", ec2.writes());
        }
        assert!(held.len() <= 1, "{} holds {held:?} of {pool}", i.id);
    }
}

/// Rules that hold once the events settled and a sync ran.
fn check_settled(ec2: &StrictEc2) {
    for ((pool, az), (waiting, free)) in placement(ec2) {
        assert!(
            waiting.is_empty() || free == 0,
            "{pool} in {az}: {waiting:?} wait while {free} free"
        );
    }
    for m in ec2.interfaces() {
        let (Some(pool), Some(a)) = (m.pool(), &m.attachment) else {
            continue;
        };
        if a.is_primary() || a.is_detaching() || m.requester_managed {
            continue;
        }
        let holder = ec2
            .all_instances()
            .into_iter()
            .find(|i| i.id == a.instance_id)
            .unwrap();
        assert_eq!(
            holder.state, Running,
            "{} stays on {} ({:?})",
            m.id, holder.id, holder.state
        );
        assert_eq!(
            holder.pool(),
            Some(pool),
            "{} stays on {} of another pool",
            m.id,
            holder.id
        );
    }
}

async fn run(steps: Vec<Step>, throttle: u32) {
    let w = StrictWorld::new();
    let ec2 = &w.model;
    for (n, subnet) in SUBNETS.iter().enumerate() {
        ec2.add_member(POOLS[n % 2], subnet);
        ec2.add_member(POOLS[(n + 1) % 2], subnet);
        let managed = ec2.add_member("red", subnet);
        ec2.set_requester_managed(&managed);
    }
    let members = ec2.interfaces().len();
    let mut untouchable: BTreeSet<String> = ec2
        .interfaces()
        .into_iter()
        .filter(|i| i.requester_managed)
        .map(|i| i.id)
        .collect();
    ec2.faults.lock().unwrap().throttle_percent = throttle;
    let (mut instances, mut late) = (Vec::new(), Vec::new());
    for step in steps {
        let Some(event) = apply(ec2, &mut instances, &step.change) else {
            continue;
        };
        if let Some(id) = instances.last() {
            untouchable.insert(ec2.primary_of(id));
        }
        if step.race {
            ec2.fail_next(
                Op::Attach,
                "InvalidNetworkInterface.InUse",
                "taken meanwhile",
            );
        }
        if step.late {
            late.push(event);
        } else {
            join_all((0..step.copies).map(|_| deliver_with_retries(&w, &event))).await;
        }
        check_always(ec2, &untouchable, members);
    }
    for event in late.iter().rev() {
        deliver_with_retries(&w, event).await;
        check_always(ec2, &untouchable, members);
    }
    ec2.faults.lock().unwrap().throttle_percent = 0;
    ec2.faults.lock().unwrap().next.clear();
    // The schedule runs minutes later: its reads have caught up.
    ec2.settle_reads();
    deliver_ok(&w, &fixture("scheduled-event.json")).await;
    check_always(ec2, &untouchable, members);
    check_settled(ec2);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_rules_hold_over_random_histories(steps in prop::collection::vec(step(), 1..30), throttle in 0u32..30) {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        runtime.block_on(run(steps, throttle));
    }
}
