//! Step 4 of a plan: which free member goes to which waiting instance, and
//! at which device index (R2, R3, R9).

use std::collections::BTreeSet;

use super::plan::{Action, Attach, Candidate, Placement, Plan, Shortage, DEFAULT_DEVICE_INDEX};
use super::survey::Free;
use crate::ec2::{Instance, NetworkInterface, DEVICE_INDEX_TAG};

/// The pool's device index, and the members leaving their instances.
pub(super) type Indexes<'s, 'a> = (i32, &'s BTreeSet<&'a str>);

/// Step 4 of a plan: gives each waiting instance a free member, own subnet
/// first (R2), and reports those left without one (R9).
pub(super) fn assign(
    placement: &Placement,
    waiters: &[&Instance],
    pool_free: &[Free],
    (pool_index, leaving): Indexes,
    plan: &mut Plan,
) {
    let mut taken = vec![false; pool_free.len()];
    let mut chosen: Vec<Option<usize>> = vec![None; waiters.len()];
    // Pass 1: members in the instance's own subnet; pass 2: any in the AZ.
    for own_subnet_only in [true, false] {
        for (w, waiter) in waiters.iter().enumerate() {
            if chosen[w].is_some() {
                continue;
            }
            let pick = preference(waiter, pool_free).into_iter().find(|&f| {
                !taken[f] && (!own_subnet_only || same_subnet(waiter, pool_free[f].member))
            });
            if let Some(f) = pick {
                taken[f] = true;
                chosen[w] = Some(f);
            }
        }
    }
    let mut short = Vec::new();
    for (waiter, pick) in waiters.iter().zip(chosen) {
        let Some(f) = pick else {
            short.push(waiter.id.clone());
            continue;
        };
        let spare = preference(waiter, pool_free)
            .into_iter()
            .filter(|&s| !taken[s]);
        let candidates = std::iter::once(f).chain(spare).map(|c| Candidate {
            interface_id: pool_free[c].member.id.clone(),
            freed_from: pool_free[c].freed_from.map(str::to_string),
        });
        plan.actions.push(Action::Attach(Attach {
            pool: placement.pool.clone(),
            availability_zone: placement.availability_zone.clone(),
            instance_id: waiter.id.clone(),
            device_index: device_index(waiter, pool_index, leaving),
            candidates: candidates.collect(),
            reason: attach_reason(waiter, &pool_free[f]),
            waiting_since: waiter.launched_at,
        }));
    }
    if !short.is_empty() {
        plan.shortages.push(Shortage {
            pool: placement.pool.clone(),
            availability_zone: placement.availability_zone.clone(),
            instance_ids: short,
        });
    }
}

/// Indexes of `pool_free` in the order `instance` prefers them: own subnet,
/// members free now before those still detaching, then subnet and id.
fn preference(instance: &Instance, pool_free: &[Free]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pool_free.len()).collect();
    order.sort_by_key(|&f| {
        let m = pool_free[f].member;
        let settling = pool_free[f].freed_from.is_some();
        (
            !same_subnet(instance, m),
            settling,
            m.subnet_id.clone(),
            m.id.clone(),
        )
    });
    order
}

fn same_subnet(instance: &Instance, member: &NetworkInterface) -> bool {
    instance.subnet_id.as_deref() == Some(member.subnet_id.as_str())
}

fn attach_reason(waiter: &Instance, chosen: &Free) -> String {
    let subnet = if same_subnet(waiter, chosen.member) {
        "same subnet"
    } else {
        "other subnet, same AZ"
    };
    match chosen.freed_from {
        Some(from) => format!("instance running, waiting; {subnet}; freed from {from}"),
        None => format!("instance running, waiting; {subnet}"),
    }
}

/// The device index a member asks for (tag, else the default). A pool whose
/// members disagree uses the lowest index any of them asks for (R3).
pub fn pool_device_index(member: &NetworkInterface) -> i32 {
    member
        .tags
        .get(DEVICE_INDEX_TAG)
        .and_then(|v| v.trim().parse().ok())
        .filter(|i: &i32| *i >= 1)
        .unwrap_or(DEFAULT_DEVICE_INDEX)
}

/// R3: the preferred index when free on network card 0, else the lowest free
/// one from 1. An index whose interface is `leaving` counts as free: the
/// attach waits for it (R11), so that every invocation picks the same index.
pub fn device_index(instance: &Instance, preferred: i32, leaving: &BTreeSet<&str>) -> i32 {
    let free = |i: i32| instance.occupant(i).is_none_or(|o| leaving.contains(o));
    if free(preferred) {
        return preferred;
    }
    (1..).find(|&i| free(i)).expect("an index is free")
}
