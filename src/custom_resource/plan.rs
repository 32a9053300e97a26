//! What converging a pool declaration takes, decided without I/O from what
//! EC2 holds (C2, C3, C10-C12). The provider is its executor.

use std::collections::{BTreeMap, BTreeSet};

use super::changes::{self, Change};
use super::declaration::{self, Declarer, Slot, ADOPTED};
use super::elastic_ip_plan;
use super::ordinals;
use super::properties::PoolProperties;
use crate::ec2::{
    Address, Instance, NetworkInterface, Subnet, Tags, ORDINAL_TAG, OWNER_TAG, SLOT_TAG,
};

/// What the provider read before planning.
#[derive(Clone, Debug, Default)]
pub struct Observed {
    pub subnets: Vec<Subnet>,
    /// Interfaces this declaration made or adopted (its owner tag).
    pub owned: Vec<NetworkInterface>,
    /// Interfaces that carry the pool's name.
    pub named: Vec<NetworkInterface>,
    /// The interfaces of `NetworkInterfaceIds`.
    pub listed: Vec<NetworkInterface>,
    /// The instances those are attached to.
    pub holders: Vec<Instance>,
    /// Interfaces that hold the declared fixed addresses.
    pub holding: Vec<NetworkInterface>,
    /// On a rename, the instances carrying the pool's former name (R25).
    pub former_holders: Vec<Instance>,
    /// The allocations of `ElasticIpAllocationIds` (C14).
    pub listed_addresses: Vec<Address>,
    /// The pool's own Elastic IPs, read when it has or had public
    /// addresses, for the displacement check (C14); a read that lags
    /// refuses an address of the pool's own, never displaces one.
    pub owned_addresses: Vec<Address>,
}

/// The changes that bring a pool to its declaration.
#[derive(Debug)]
pub struct PoolPlan<'a> {
    /// The declaration's slots, in order.
    pub slots: Vec<Slot>,
    /// The pool's own interfaces, by the slot each fills.
    pub filled: BTreeMap<String, &'a NetworkInterface>,
    /// Slots no interface fills yet: created.
    pub create: Vec<Slot>,
    /// Listed interfaces that are not yet the pool's: adopted.
    pub adopt: Vec<String>,
    /// Writes that put the kept and adopted interfaces in line.
    pub update: Vec<Change>,
    /// Interfaces no longer declared: retired (C12).
    pub retire: Vec<&'a NetworkInterface>,
    /// Adopted interfaces no longer listed: released.
    pub release: Vec<String>,
    /// The name the pool had before this declaration renamed it (R25).
    pub former_name: Option<String>,
    /// Each member's ordinal (C16), by slot key, or by interface id for an
    /// adopted one.
    pub ordinals: BTreeMap<String, u8>,
}

/// The plan, or the refusal (naming the property) that changes nothing.
pub fn plan<'a>(
    props: &PoolProperties,
    by: Declarer,
    old: Option<&PoolProperties>,
    observed: &'a Observed,
) -> Result<PoolPlan<'a>, String> {
    let physical_id = by.physical_id;
    let slots = declaration::slots(props, &observed.subnets)?;
    changes::check_name_free(props, physical_id, &observed.named)?;
    if old.is_none() {
        changes::check_declared_alike(props, by.fingerprint, &observed.owned)?;
    }
    changes::check_adoptable(props, physical_id, &observed.listed, &observed.holders)?;
    changes::check_addresses_free(physical_id, &observed.holding, &observed.subnets)?;
    changes::check_former_name_free(props, &observed.owned, &observed.former_holders)?;
    // C14: before anything is made; members made now have no address yet.
    let members = observed.owned.iter().chain(&observed.listed);
    let on_members = members.map(|i| i.id.as_str()).collect();
    elastic_ip_plan::check_adoptable(props, physical_id, &on_members, &observed.listed_addresses)?;
    let former_name = changes::renamed_from(props, &observed.owned);
    let by = Declarer { former_name, ..by };

    let filled = changes::slots_filled(&slots, &observed.owned);
    let desired: BTreeSet<&str> = slots.iter().map(|s| s.key.as_str()).collect();
    let members: Vec<(&str, Option<&NetworkInterface>)> = slots
        .iter()
        .map(|s| (s.key.as_str(), filled.get(&s.key).copied()))
        .chain(observed.listed.iter().map(|i| (i.id.as_str(), Some(i))))
        .collect();
    let ordinals = ordinals::assign(&members, &observed.owned)?;
    let in_order: Vec<Option<&NetworkInterface>> = members.iter().map(|(_, i)| *i).collect();
    let (owned_addresses, listed_addresses) =
        (&observed.owned_addresses, &observed.listed_addresses);
    elastic_ip_plan::check_not_displacing(props, &in_order, owned_addresses, listed_addresses)?;
    let numbered = |mut tags: Tags, key: &str| {
        tags.insert(ORDINAL_TAG.to_string(), ordinals[key].to_string());
        tags
    };
    let create = slots
        .iter()
        .filter(|s| !filled.contains_key(&s.key))
        .cloned()
        .collect();
    let ours =
        |i: &&NetworkInterface| i.tags.get(OWNER_TAG).map(String::as_str) == Some(physical_id);
    let adopt = observed
        .listed
        .iter()
        .filter(|i| !ours(i))
        .map(|i| i.id.clone())
        .collect();
    let mut update = Vec::new();
    for (slot, iface) in filled
        .iter()
        .filter(|(slot, _)| desired.contains(slot.as_str()))
    {
        let wanted = numbered(declaration::created_tags(props, by, slot), slot);
        let modify = changes::attribute_changes(iface, props).into_iter();
        update.extend(modify.map(|c| Change::Modify(iface.id.clone(), c)));
        update.extend(changes::tag_changes(iface, wanted, old, props));
    }
    // Adopted interfaces carry only the pool's tags (kept in step on
    // rename) and their ordinal; ones adopted now get it after adoption.
    for iface in &observed.listed {
        let wanted = match ours(&iface) {
            true => numbered(declaration::pool_tags(props, by, ADOPTED), &iface.id),
            false => numbered(Tags::new(), &iface.id),
        };
        update.extend(changes::tag_changes(iface, wanted, None, props));
    }
    let retire = filled
        .iter()
        .filter(|(slot, _)| !desired.contains(slot.as_str()))
        .map(|(_, i)| *i)
        .collect();
    let release = observed
        .owned
        .iter()
        .filter(|i| i.tags.get(SLOT_TAG).map(String::as_str) == Some(ADOPTED))
        .filter(|i| !props.network_interface_ids.contains(&i.id))
        .map(|i| i.id.clone())
        .collect();
    Ok(PoolPlan {
        slots,
        filled,
        create,
        adopt,
        update,
        retire,
        release,
        former_name: former_name.map(str::to_string),
        ordinals,
    })
}
