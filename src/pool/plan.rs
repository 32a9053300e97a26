//! The planner: observed EC2 state in, the actions that restore the rules out.
//! Pure and deterministic: no I/O, no clock, the same state gives the same plan.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::ec2::{Instance, InstanceState, InterfaceStatus, NetworkInterface, DEVICE_INDEX_TAG};

/// Device index a pool uses when its members carry no device index tag (R3).
pub const DEFAULT_DEVICE_INDEX: i32 = 1;

/// What the planner sees: pool members and the instances that matter to them.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Interfaces carrying the pool tag.
    pub members: Vec<NetworkInterface>,
    /// Pool instances, and the instances members are attached to.
    pub instances: Vec<Instance>,
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Detach(Detach),
    Attach(Attach),
}

/// Take a member back from an instance (R4).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Detach {
    pub pool: String,
    pub interface_id: String,
    pub attachment_id: String,
    pub instance_id: String,
    pub reason: String,
}

/// Give a waiting instance a member (R1-R3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attach {
    pub pool: String,
    pub availability_zone: String,
    pub instance_id: String,
    pub device_index: i32,
    /// Members to try in order; the first is the planned one.
    pub candidates: Vec<String>,
    pub reason: String,
}

/// Running pool instances that wait for a member none of which is free (R9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shortage {
    pub pool: String,
    pub availability_zone: String,
    pub instance_ids: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub shortages: Vec<Shortage>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.actions.is_empty()
    }
}

/// Where a member can go: same pool, VPC and Availability Zone (R2).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Placement {
    pool: String,
    vpc_id: String,
    availability_zone: String,
}

/// A member that can be given to a waiting instance.
#[derive(Clone, Debug)]
struct Free<'a> {
    member: &'a NetworkInterface,
    freed_from: Option<&'a str>,
}

/// The ids of instances members are attached to that the snapshot lacks:
/// read them by id before planning, so eventual consistency strips no one.
pub fn unknown_holders(snapshot: &Snapshot) -> Vec<String> {
    let known: BTreeSet<&str> = snapshot.instances.iter().map(|i| i.id.as_str()).collect();
    let holders = snapshot
        .members
        .iter()
        .filter_map(|m| m.attachment.as_ref());
    let unknown: BTreeSet<String> = holders
        .map(|a| a.instance_id.as_str())
        .filter(|id| !known.contains(id))
        .map(str::to_string)
        .collect();
    unknown.into_iter().collect()
}

/// The plan that brings the snapshot in line with R1-R5 and R9.
pub fn plan(snapshot: &Snapshot) -> Plan {
    let instances: BTreeMap<&str, &Instance> = snapshot
        .instances
        .iter()
        .map(|i| (i.id.as_str(), i))
        .collect();
    let mut members: Vec<&NetworkInterface> = snapshot
        .members
        .iter()
        .filter(|m| is_manageable(m))
        .collect();
    members.sort_by(|a, b| a.id.cmp(&b.id));

    let mut plan = Plan::default();
    let mut free: BTreeMap<Placement, Vec<Free>> = BTreeMap::new();
    let mut holds: BTreeMap<(&str, &str), Vec<&NetworkInterface>> = BTreeMap::new();

    for member in members {
        let pool = member.pool().expect("manageable members have a pool");
        let placement = Placement {
            pool: pool.to_string(),
            vpc_id: member.vpc_id.clone(),
            availability_zone: member.availability_zone.clone(),
        };
        let Some(attachment) = &member.attachment else {
            if member.status == InterfaceStatus::Available {
                let entry = Free {
                    member,
                    freed_from: None,
                };
                free.entry(placement).or_default().push(entry);
            }
            continue;
        };
        // A holder nobody can see yet is left alone (eventual consistency).
        let Some(holder) = instances.get(attachment.instance_id.as_str()) else {
            continue;
        };
        match release_reason(holder, pool) {
            Some(reason) => {
                plan.actions.push(Action::Detach(Detach {
                    pool: pool.to_string(),
                    interface_id: member.id.clone(),
                    attachment_id: attachment.id.clone(),
                    instance_id: holder.id.clone(),
                    reason,
                }));
                let entry = Free {
                    member,
                    freed_from: Some(&holder.id),
                };
                free.entry(placement).or_default().push(entry);
            }
            None => holds.entry((&holder.id, pool)).or_default().push(member),
        }
    }

    let mut waiting: BTreeMap<Placement, Vec<&Instance>> = BTreeMap::new();
    for instance in instances.values() {
        let Some(pool) = instance.pool() else {
            continue;
        };
        if instance.state != InstanceState::Running
            || holds.contains_key(&(instance.id.as_str(), pool))
        {
            continue;
        }
        let placement = Placement {
            pool: pool.to_string(),
            vpc_id: instance.vpc_id.clone().unwrap_or_default(),
            availability_zone: instance.availability_zone.clone(),
        };
        waiting.entry(placement).or_default().push(instance);
    }

    for (placement, waiters) in waiting {
        let mut pool_free = free.remove(&placement).unwrap_or_default();
        surplus_for(&placement, &holds, waiters.len(), &mut pool_free, &mut plan);
        assign(&placement, &waiters, &pool_free, &mut plan);
    }
    plan.actions.sort_by_key(|a| matches!(a, Action::Attach(_)));
    plan
}

/// R5: never touch requester-managed or primary interfaces, nor untagged ones.
fn is_manageable(member: &NetworkInterface) -> bool {
    member.pool().is_some()
        && !member.requester_managed
        && member.status != InterfaceStatus::Detaching
        && member
            .attachment
            .as_ref()
            .is_none_or(|a| a.device_index != 0)
}

/// Why a member must leave its holder (R4), if it must.
fn release_reason(holder: &Instance, pool: &str) -> Option<String> {
    if holder.state.releases() {
        return Some(format!("instance is {}", holder.state.as_str()));
    }
    match holder.pool() {
        Some(p) if p == pool => None,
        Some(p) => Some(format!("instance moved to pool {p}")),
        None => Some("instance no longer carries the pool tag".into()),
    }
}

/// When instances would wait while others of their pool hold two members,
/// the extra members are taken back for them (R1).
fn surplus_for<'a>(
    placement: &Placement,
    holds: &BTreeMap<(&'a str, &'a str), Vec<&'a NetworkInterface>>,
    waiting: usize,
    pool_free: &mut Vec<Free<'a>>,
    plan: &mut Plan,
) {
    let extras = holds
        .iter()
        .filter(|((_, pool), _)| *pool == placement.pool)
        .flat_map(|((holder, _), held)| held.iter().skip(1).map(move |m| (*holder, *m)))
        .filter(|(_, m)| {
            m.vpc_id == placement.vpc_id && m.availability_zone == placement.availability_zone
        });
    for (holder, member) in extras.take(waiting.saturating_sub(pool_free.len())) {
        let attachment = member
            .attachment
            .as_ref()
            .expect("held members are attached");
        plan.actions.push(Action::Detach(Detach {
            pool: placement.pool.clone(),
            interface_id: member.id.clone(),
            attachment_id: attachment.id.clone(),
            instance_id: holder.to_string(),
            reason: "instance holds more than one member while others wait".into(),
        }));
        pool_free.push(Free {
            member,
            freed_from: Some(holder),
        });
    }
}

/// Gives each waiting instance a free member, own subnet first (R2), and
/// reports those left without one (R9).
fn assign(placement: &Placement, waiters: &[&Instance], pool_free: &[Free], plan: &mut Plan) {
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
        let candidates = std::iter::once(f).chain(spare);
        let chosen = &pool_free[f];
        plan.actions.push(Action::Attach(Attach {
            pool: placement.pool.clone(),
            availability_zone: placement.availability_zone.clone(),
            instance_id: waiter.id.clone(),
            device_index: device_index(waiter, pool_device_index(chosen.member)),
            candidates: candidates.map(|c| pool_free[c].member.id.clone()).collect(),
            reason: attach_reason(waiter, chosen),
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

/// Indexes of `pool_free` in the order `instance` prefers them.
fn preference(instance: &Instance, pool_free: &[Free]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..pool_free.len()).collect();
    order.sort_by_key(|&f| {
        let m = pool_free[f].member;
        (!same_subnet(instance, m), m.subnet_id.clone(), m.id.clone())
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

/// The device index a member asks for (tag, else the default).
pub fn pool_device_index(member: &NetworkInterface) -> i32 {
    member
        .tags
        .get(DEVICE_INDEX_TAG)
        .and_then(|v| v.trim().parse().ok())
        .filter(|i: &i32| *i >= 1)
        .unwrap_or(DEFAULT_DEVICE_INDEX)
}

/// R3: the preferred index when free on network card 0, else the lowest free >= 1.
pub fn device_index(instance: &Instance, preferred: i32) -> i32 {
    let used: BTreeSet<i32> = instance
        .interfaces
        .iter()
        .filter(|i| i.network_card_index == 0)
        .map(|i| i.device_index)
        .collect();
    if !used.contains(&preferred) {
        return preferred;
    }
    (1..).find(|i| !used.contains(i)).expect("an index is free")
}
