//! Step 5 of a plan: which free member goes to which waiting instance, and
//! at which device index (R2, R3, R9).

use std::collections::BTreeSet;

use super::identity;
use super::index::device_index;
use super::model::{Action, Attach, Candidate, Placement, Plan, Shortage};
use super::survey::Free;
use crate::ec2::{Instance, NetworkInterface};

/// What the device index of an attach depends on (R3).
pub(super) struct Leaving<'s, 'a> {
    /// The index the pool's members ask for.
    pub pool_index: i32,
    /// Members leaving their instances: their indexes count as free.
    pub members: &'s BTreeSet<&'a str>,
}

/// Gives each waiting instance a free member, own subnet first (R2), and
/// reports those left without one (R9).
pub(super) fn assign(
    placement: &Placement,
    waiters: &[&Instance],
    pool_free: &[Free],
    leaving: Leaving,
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
            identity: identity::of(pool_free[c].member),
            volumes: pool_free[c].volumes.clone(),
        });
        plan.actions.push(Action::Attach(Attach {
            pool: placement.pool.clone(),
            availability_zone: placement.availability_zone.clone(),
            instance_id: waiter.id.clone(),
            device_index: device_index(waiter, leaving.pool_index, leaving.members),
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
