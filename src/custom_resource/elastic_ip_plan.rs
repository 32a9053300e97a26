//! What a declaration's public addresses take (C14), decided without I/O
//! from its members and the Elastic IPs it owns or lists. Like interfaces,
//! an address no longer declared is retired, not released, so that a
//! rollback finds it; one already where it belongs is left alone.

use std::collections::BTreeSet;

use super::declaration::Declarer;
use super::properties::PoolProperties;
use crate::ec2::{Address, NetworkInterface, ADOPTED_TAG, OWNER_TAG, RETIRED_TAG, SLOT_TAG};

/// A member of the declaration: where its public address goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Its slot's key, or an adopted interface's id.
    pub key: String,
    pub interface_id: String,
    pub private_ip: String,
}

/// The writes that give each member the public address it is declared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ElasticIpPlan {
    /// Members to allocate an address for, then associate it.
    pub allocate: Vec<Member>,
    /// Listed allocations to adopt (tag) for a member.
    pub adopt: Vec<(String, Member)>,
    /// Addresses, the pool's or adopted, to associate with their member.
    pub associate: Vec<(String, Member)>,
    /// The pool's own addresses declared again after an Update retired them.
    pub reinstate: Vec<String>,
    /// The pool's own addresses no longer declared: kept for a rollback,
    /// released (or released from the pool) once the stack settles (C12).
    pub retire: Vec<String>,
    /// A member's second allocation (a repeated Create whose first one the
    /// read did not show yet): released.
    pub release: Vec<String>,
    /// Per member, in order: its address when the pool has it already
    /// (public address, allocation id); `None`: none yet, or none declared.
    pub known: Vec<Option<(String, String)>>,
}

impl ElasticIpPlan {
    /// The pool's addresses out of the declaration once this plan is done:
    /// retired by it or before, and not reinstated.
    pub fn out_of_declaration<'a>(&self, owned: &'a [Address]) -> Vec<&'a Address> {
        let retired_before = |a: &Address| {
            a.tags.contains_key(RETIRED_TAG) && !self.reinstate.contains(&a.allocation_id)
        };
        let out = |a: &&Address| self.retire.contains(&a.allocation_id) || retired_before(a);
        owned.iter().filter(out).collect()
    }
}

/// Each member's public address and allocation id, in order.
pub type Answer = Vec<Option<(String, String)>>;

/// What converging the public addresses did.
pub struct ConvergedAddresses {
    pub answer: Answer,
    /// The pool's addresses out of the declaration (retired, C12).
    pub retired: Vec<Address>,
}

/// What a member is declared to have.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Wanted<'a> {
    Allocated,
    Listed(&'a str),
    Nothing,
}

/// The plan, or the refusal (naming the allocation) that changes nothing.
pub fn plan(
    props: &PoolProperties,
    by: Declarer,
    members: &[Member],
    owned: &[Address],
    listed: &[Address],
) -> Result<ElasticIpPlan, String> {
    let on_members = members.iter().map(|m| m.interface_id.as_str()).collect();
    check_adoptable(props, by.physical_id, &on_members, listed)?;
    let mut plan = ElasticIpPlan::default();
    let mut kept = BTreeSet::new();
    for (n, member) in members.iter().enumerate() {
        let wanted = match props.elastic_ip_allocation_ids.get(n) {
            Some(id) => Wanted::Listed(id),
            None if props.public_ip() => Wanted::Allocated,
            None => Wanted::Nothing,
        };
        let found = match wanted {
            Wanted::Nothing => None,
            Wanted::Listed(id) => match owned.iter().find(|a| a.allocation_id == id) {
                Some(address) => Some(address),
                None => {
                    plan.adopt.push((id.to_string(), member.clone()));
                    listed.iter().find(|a| a.allocation_id == id)
                }
            },
            Wanted::Allocated => {
                let mine = allocated_for(owned, &member.key);
                let keep = mine.iter().find(|a| is_on(a, member)).or(mine.first());
                let extra = mine
                    .iter()
                    .filter(|a| Some(*a) != keep && a.association.is_none());
                plan.release.extend(extra.map(|a| a.allocation_id.clone()));
                if keep.is_none() {
                    plan.allocate.push(member.clone());
                }
                keep.copied()
            }
        };
        let Some(address) = found else {
            plan.known.push(None);
            continue;
        };
        kept.insert(address.allocation_id.as_str());
        if address.tags.contains_key(RETIRED_TAG) {
            plan.reinstate.push(address.allocation_id.clone());
        }
        if !is_on(address, member) {
            plan.associate
                .push((address.allocation_id.clone(), member.clone()));
        }
        let id = address.allocation_id.clone();
        plan.known.push(Some((address.public_ip.clone(), id)));
    }
    let released: BTreeSet<&str> = plan.release.iter().map(String::as_str).collect();
    // One the read shows retired already is retired again: the read may
    // lag behind a rollback that reinstated it (the tag write is the same).
    let gone = owned.iter().filter(|a| {
        let id = a.allocation_id.as_str();
        !kept.contains(id) && !released.contains(id)
    });
    plan.retire.extend(gone.map(|a| a.allocation_id.clone()));
    Ok(plan)
}

/// The addresses the pool allocated (not adopted) for the member `key`.
fn allocated_for<'a>(owned: &'a [Address], key: &str) -> Vec<&'a Address> {
    owned
        .iter()
        .filter(|a| a.tags.get(SLOT_TAG).map(String::as_str) == Some(key))
        .filter(|a| !a.tags.contains_key(ADOPTED_TAG))
        .collect()
}

fn is_on(address: &Address, member: &Member) -> bool {
    address.is_on(&member.interface_id, Some(&member.private_ip))
}

/// C14: an association never displaces an address the pool does not
/// have: AWS would take an Elastic IP already at a member's private address
/// off it, leaving it allocated and idle [EC2-EIP-ASSOC], as
/// `AllowReassociation` guards only the address moved. Refuses, before
/// anything is made and naming each, a member declared a public address
/// (`members` in the answer's order: none for one not made yet) whose
/// private address has one that is neither the pool's (`owned`) nor
/// listed.
pub fn check_not_displacing(
    props: &PoolProperties,
    members: &[Option<&NetworkInterface>],
    owned: &[Address],
    listed: &[Address],
) -> Result<(), String> {
    let known: BTreeSet<&str> = owned
        .iter()
        .chain(listed)
        .map(|a| a.public_ip.as_str())
        .collect();
    let declared = |n: usize| n < props.elastic_ip_allocation_ids.len() || props.public_ip();
    let problems: Vec<String> = members
        .iter()
        .enumerate()
        .filter(|(n, _)| declared(*n))
        .filter_map(|(_, member)| {
            let member = (*member)?;
            let ip = member
                .public_ip
                .as_deref()
                .filter(|ip| !known.contains(ip))?;
            let at = member.private_ip.as_deref().unwrap_or("?");
            Some(format!(
                "{} has the Elastic IP {ip} at {at} already",
                member.id
            ))
        })
        .collect();
    if problems.is_empty() {
        return Ok(());
    }
    let property = match props.public_ip() {
        true => "PublicIp",
        false => "ElasticIpAllocationIds",
    };
    Err(format!(
        "{property}: {}; associating another would take it off (it stays allocated, \
         idle): disassociate it first, or list its allocation in ElasticIpAllocationIds",
        problems.join("; ")
    ))
}

/// C14: a listed allocation is taken only when it is free or already on a
/// member (`on_members`: their interface ids), and no other declaration's or
/// pool's. Refuses, naming each.
pub fn check_adoptable(
    props: &PoolProperties,
    physical_id: &str,
    on_members: &BTreeSet<&str>,
    listed: &[Address],
) -> Result<(), String> {
    let problems: Vec<String> = props
        .elastic_ip_allocation_ids
        .iter()
        .filter_map(|id| match listed.iter().find(|a| &a.allocation_id == id) {
            None => Some(format!("{id} does not exist")),
            Some(address) => adoption_problem(address, props, physical_id, on_members),
        })
        .collect();
    match problems.is_empty() {
        true => Ok(()),
        false => Err(format!("ElasticIpAllocationIds: {}", problems.join("; "))),
    }
}

fn adoption_problem(
    address: &Address,
    props: &PoolProperties,
    physical_id: &str,
    on_members: &BTreeSet<&str>,
) -> Option<String> {
    let id = &address.allocation_id;
    if let Some(owner) = address.tags.get(OWNER_TAG).filter(|o| *o != physical_id) {
        return Some(format!(
            "{id} belongs to another pool declaration ({owner})"
        ));
    }
    if let Some(pool) = address.pool().filter(|p| *p != props.name) {
        return Some(format!("{id} belongs to pool '{pool}'"));
    }
    let association = address.association.as_ref()?;
    let interface = association.network_interface_id.as_deref();
    if interface.is_some_and(|i| on_members.contains(i)) {
        return None;
    }
    let target = interface
        .or(association.instance_id.as_deref())
        .unwrap_or("an unknown target");
    Some(format!(
        "{id} ({}) is associated with {target}, outside the pool",
        address.public_ip
    ))
}
