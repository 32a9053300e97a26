//! The planner's first step: who holds what before any action (R1-R5, R11,
//! R12, R19, R25). Each member is held, free, leaving or unusable; each
//! running pool instance that holds nothing waits.

use std::collections::{BTreeMap, BTreeSet};

use super::index::pool_device_index;
use super::model::{Detach, Placement, Snapshot, Unusable, VolumeMove, DEFAULT_DEVICE_INDEX};
use crate::ec2::{
    Instance, InterfaceStatus, NetworkInterface, FORMER_POOL_TAG, OWNER_TAG, PLAIN_INTERFACE,
};

/// Who holds what, before any action: the first step of every plan.
#[derive(Debug, Default)]
pub struct Survey<'a> {
    /// (instance, pool) -> the members it keeps, first attached first.
    pub holds: BTreeMap<(&'a str, &'a str), Vec<&'a NetworkInterface>>,
    /// Members that may go to a waiting instance, by placement.
    pub(super) free: BTreeMap<Placement, Vec<Free<'a>>>,
    /// Running pool instances holding no member of their pool, by placement.
    pub waiting: BTreeMap<Placement, Vec<&'a Instance>>,
    pub(super) releases: Vec<Detach>,
    /// Members leaving their instance: released here, or being detached.
    pub(super) leaving: BTreeSet<&'a str>,
    pub(super) unusable: Vec<Unusable>,
    /// The device index of each pool (R3).
    pub(super) device_index: BTreeMap<&'a str, i32>,
    /// Instances that list a member of their pool the member's own read
    /// does not show attached yet (R11): instance -> member.
    pub listed: BTreeMap<&'a str, &'a str>,
    /// Placements with a member that is neither held nor free: `pending`,
    /// or attached where the reads do not settle it yet.
    pub unsettled: BTreeSet<Placement>,
    /// Placements with a member held back until a leaving instance lets go
    /// of its volume (R27): a launch there stays open, its timeout started
    /// again.
    pub volume_waits: BTreeSet<Placement>,
    /// A name a pool had before its last rename -> the pool (R25).
    pub aliases: BTreeMap<&'a str, &'a str>,
}

impl<'a> Survey<'a> {
    /// The pool an instance is served in: its pool tag, or the pool that
    /// tag named before a rename (R25).
    pub fn pool_of(&self, instance: &'a Instance) -> Option<&'a str> {
        instance.pool().map(|tagged| self.named(tagged))
    }

    /// The pool a pool tag names: itself, or the pool it named before a
    /// rename (R25).
    fn named(&self, tagged: &'a str) -> &'a str {
        self.aliases.get(tagged).copied().unwrap_or(tagged)
    }
}

/// A member that can be given to a waiting instance.
#[derive(Clone, Debug)]
pub(super) struct Free<'a> {
    pub member: &'a NetworkInterface,
    /// The instance it is being detached from, if any.
    pub freed_from: Option<&'a str>,
    /// Its data volumes that its new holder gets after it (R27).
    pub volumes: Vec<VolumeMove>,
}

/// Step 1 of every plan.
pub fn survey(snapshot: &Snapshot) -> Survey<'_> {
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
    // The interfaces some instance lists: evidence beside the members' own
    // reads, which may lag behind (R11).
    let listed: BTreeSet<&str> = instances
        .values()
        .flat_map(|i| i.interfaces.iter().filter(|n| !n.is_primary()))
        .map(|n| n.interface_id.as_str())
        .collect();
    let mut s = Survey {
        aliases: aliases(&members),
        ..Survey::default()
    };
    for member in members {
        let pool = s.named(member.pool().expect("manageable members have a pool"));
        let index = s.device_index.entry(pool).or_insert(i32::MAX);
        *index = (*index).min(pool_device_index(member));
        if member.interface_type != PLAIN_INTERFACE {
            s.unusable.push(Unusable {
                pool: pool.to_string(),
                interface_id: member.id.clone(),
                reason: format!("its type is {}, not interface", member.interface_type),
            });
            continue;
        }
        survey_member(&mut s, &instances, &listed, member, pool);
    }
    for index in s.device_index.values_mut() {
        if *index == i32::MAX {
            *index = DEFAULT_DEVICE_INDEX;
        }
    }
    for held in s.holds.values_mut() {
        held.sort_by_key(|m| attached_first(m));
    }
    let member_pools: BTreeMap<&str, &str> = snapshot
        .members
        .iter()
        .filter(|m| is_manageable(m))
        .filter_map(|m| Some((m.id.as_str(), s.named(m.pool()?))))
        .collect();
    for instance in instances.values() {
        let Some(pool) = s.pool_of(instance) else {
            continue;
        };
        if !instance.may_hold() || s.holds.contains_key(&(&instance.id, pool)) {
            continue;
        }
        if let Some(listed) = lists_a_member(instance, pool, &member_pools, &mut s.leaving) {
            s.listed.insert(&instance.id, listed);
            continue;
        }
        s.device_index.entry(pool).or_insert(DEFAULT_DEVICE_INDEX);
        let placement = Placement {
            pool: pool.to_string(),
            vpc_id: instance.vpc_id.clone().unwrap_or_default(),
            availability_zone: instance.availability_zone.clone(),
        };
        s.waiting.entry(placement).or_default().push(instance);
    }
    s
}

/// R25: the names pools had before their last rename (tag
/// `network-interface-manager-former-pool`), each to its pool; never a name
/// another pool has now, nor one two pools had. A rename retags one member
/// at a time and reads lag: a member that still carries the former name,
/// with the renamed members' owner, is the renamed pool's, and leaves the
/// name an alias.
fn aliases<'a>(members: &[&'a NetworkInterface]) -> BTreeMap<&'a str, &'a str> {
    let mut claims: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut owners: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for m in members {
        let (Some(pool), Some(former)) = (m.pool(), m.tags.get(FORMER_POOL_TAG)) else {
            continue;
        };
        if !former.is_empty() {
            claims.entry(former).or_default().insert(pool);
            owners.entry(former).or_default().extend(owner(m));
        }
    }
    let renamed = |m: &NetworkInterface, name: &str| {
        owner(m).is_some_and(|o| owners.get(name).is_some_and(|os| os.contains(o)))
    };
    let current = |name: &str| {
        members
            .iter()
            .any(|m| m.pool() == Some(name) && !renamed(m, name))
    };
    let single = claims
        .into_iter()
        .filter(|(former, pools)| pools.len() == 1 && !current(former));
    single
        .map(|(former, pools)| (former, *pools.first().expect("one pool")))
        .collect()
}

fn owner(member: &NetworkInterface) -> Option<&str> {
    member.tags.get(OWNER_TAG).map(String::as_str)
}

/// R11: the members an instance lists, whatever their own reads say (they
/// may lag, or show an older holder). One of its own pool: it holds that
/// one, as far as choosing goes. One of another pool: leaving (R4), so
/// that its index stays the pool's.
fn lists_a_member<'a>(
    instance: &'a Instance,
    pool: &str,
    member_pools: &BTreeMap<&str, &str>,
    leaving: &mut BTreeSet<&'a str>,
) -> Option<&'a str> {
    let mut holds = None;
    for listed in instance.interfaces.iter().filter(|n| !n.is_primary()) {
        let id = listed.interface_id.as_str();
        match member_pools.get(id) {
            Some(p) if *p == pool && !leaving.contains(id) => holds = holds.or(Some(id)),
            Some(p) if *p == pool => {}
            Some(_) => {
                leaving.insert(id);
            }
            None => {}
        }
    }
    holds
}

fn survey_member<'a>(
    s: &mut Survey<'a>,
    instances: &BTreeMap<&str, &'a Instance>,
    listed: &BTreeSet<&str>,
    member: &'a NetworkInterface,
    pool: &'a str,
) {
    let placement = Placement {
        pool: pool.to_string(),
        vpc_id: member.vpc_id.clone(),
        availability_zone: member.availability_zone.clone(),
    };
    let free = |freed_from| Free {
        member,
        freed_from,
        volumes: Vec::new(),
    };
    let Some(attachment) = &member.attachment else {
        // An instance read shows it attached, the member's own read not yet
        // (R11): not free. A listing instance that may keep it holds one
        // (`lists_a_member`), whichever other instance's stale read lists it
        // too; nothing is done to it until its own read catches up.
        let unlisted = !listed.contains(member.id.as_str());
        match unlisted && member.status == InterfaceStatus::Available {
            true => s.free.entry(placement).or_default().push(free(None)),
            false => {
                s.unsettled.insert(placement);
            }
        }
        return;
    };
    if attachment.is_detaching() || member.status == InterfaceStatus::Detaching {
        // EC2 (or another invocation) is detaching it: free once it settles (R12).
        s.leaving.insert(&member.id);
        let from = Some(attachment.instance_id.as_str());
        s.free.entry(placement).or_default().push(free(from));
        return;
    }
    // A holder nobody can see yet is left alone (eventual consistency).
    let Some(holder) = instances.get(attachment.instance_id.as_str()) else {
        s.unsettled.insert(placement);
        return;
    };
    match release_reason(holder, s.pool_of(holder), pool) {
        Some(reason) => {
            s.releases.push(Detach {
                pool: pool.to_string(),
                interface_id: member.id.clone(),
                attachment_id: attachment.id.clone(),
                instance_id: holder.id.clone(),
                reason,
            });
            s.leaving.insert(&member.id);
            s.free
                .entry(placement)
                .or_default()
                .push(free(Some(&holder.id)));
        }
        None => s.holds.entry((&holder.id, pool)).or_default().push(member),
    }
}

/// R5: never touch requester-managed or primary interfaces, nor untagged ones.
pub(super) fn is_manageable(member: &NetworkInterface) -> bool {
    member.pool().is_some()
        && !member.requester_managed
        && member.attachment.as_ref().is_none_or(|a| !a.is_primary())
}

/// Why a member of `pool` must leave its holder (R4, R19), if it must;
/// `served_in`: the pool the holder is served in (R25).
fn release_reason(holder: &Instance, served_in: Option<&str>, pool: &str) -> Option<String> {
    if let Some(reason) = holder.leaving_reason() {
        return Some(reason);
    }
    match served_in {
        Some(p) if p == pool => None,
        Some(_) => Some(format!(
            "instance moved to pool {}",
            holder.pool().unwrap_or_default()
        )),
        None => Some("instance no longer carries the pool tag".into()),
    }
}

/// The order in which an instance keeps its members: first attached first,
/// then by device index and id when EC2 gives no time (R11).
fn attached_first(member: &NetworkInterface) -> (u64, i32, String) {
    let a = member.attachment.as_ref();
    let at = a.and_then(|a| a.attached_at).unwrap_or(u64::MAX);
    (
        at,
        a.map_or(i32::MAX, |a| a.device_index),
        member.id.clone(),
    )
}
