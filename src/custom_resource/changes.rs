//! Pure comparisons of what EC2 holds with what a declaration asks: the
//! refusals, the changes to kept interfaces, the return values.

use std::collections::{BTreeMap, BTreeSet};

use super::declaration::{is_retired, Slot, ADOPTED};
use super::properties::PoolProperties;
use super::response::PoolData;
use crate::ec2::{
    Instance, InstanceState, InterfaceChange, NetworkInterface, Subnet, Tags, DECLARATION_TAG,
    FORMER_POOL_TAG, OWNER_TAG, PLAIN_INTERFACE, RETIRED_TAG, SLOT_TAG, VOLUMES_TAG,
};

/// One write to a kept interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Modify(String, InterfaceChange),
    Tag(String, Tags),
    Untag(String, Vec<String>),
}

/// The attributes of `iface` that differ from the declaration.
pub fn attribute_changes(iface: &NetworkInterface, props: &PoolProperties) -> Vec<InterfaceChange> {
    let mut changes = Vec::new();
    let sorted = |v: &[String]| v.iter().cloned().collect::<BTreeSet<_>>();
    let groups = &props.security_group_ids;
    if !groups.is_empty() && sorted(groups) != sorted(&iface.security_groups) {
        changes.push(InterfaceChange::SecurityGroups(groups.clone()));
    }
    if iface.description != props.description {
        changes.push(InterfaceChange::Description(props.description.clone()));
    }
    if iface.source_dest_check != props.source_dest_check() {
        changes.push(InterfaceChange::SourceDestCheck(props.source_dest_check()));
    }
    changes
}

/// Tags to set and user tags (named by the old declaration) to remove.
pub fn tag_changes(
    iface: &NetworkInterface,
    wanted: Tags,
    old: Option<&PoolProperties>,
    props: &PoolProperties,
) -> Vec<Change> {
    let mut changes = Vec::new();
    // A declaration without volumes any more: its members list none (R27).
    let no_volumes = (!wanted.contains_key(VOLUMES_TAG)).then(|| VOLUMES_TAG.to_string());
    let differ: Tags = wanted
        .into_iter()
        .filter(|(k, v)| iface.tags.get(k) != Some(v))
        .collect();
    if !differ.is_empty() {
        changes.push(Change::Tag(iface.id.clone(), differ));
    }
    let dropped: Vec<String> = old
        .map(|o| o.tags.iter().map(|t| t.key.clone()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|k| !props.tags.iter().any(|t| &t.key == k))
        // A retired interface declared again (a rollback) is reinstated (C12).
        .chain([RETIRED_TAG.to_string()])
        .chain(no_volumes)
        .filter(|k| iface.tags.contains_key(k))
        .collect();
    if !dropped.is_empty() {
        changes.push(Change::Untag(iface.id.clone(), dropped));
    }
    changes
}

/// The pool's own interfaces by the slot each fills. C3: a fixed address
/// that one of them already holds under another slot (an EC2-chosen one, or
/// one no longer declared) stays on that interface, whose slot moves, rather
/// than a second interface being asked for the same address.
pub fn slots_filled<'a>(
    slots: &[Slot],
    owned: &'a [NetworkInterface],
) -> BTreeMap<String, &'a NetworkInterface> {
    let mut by_slot: BTreeMap<String, &NetworkInterface> = owned
        .iter()
        .filter_map(|i| Some((i.tags.get(SLOT_TAG)?.clone(), i)))
        .filter(|(slot, _)| slot != ADOPTED)
        .collect();
    let desired: BTreeSet<&str> = slots.iter().map(|s| s.key.as_str()).collect();
    for slot in slots {
        let Some(ip) = slot
            .private_ip
            .as_ref()
            .filter(|_| !by_slot.contains_key(&slot.key))
        else {
            continue;
        };
        let holder = by_slot.iter().find(|(key, i)| {
            !desired.contains(key.as_str())
                && i.subnet_id == slot.subnet_id
                && i.private_ip.as_ref() == Some(ip)
        });
        if let Some((key, iface)) = holder.map(|(k, i)| (k.clone(), *i)) {
            by_slot.remove(&key);
            by_slot.insert(slot.key.clone(), iface);
        }
    }
    by_slot
}

/// C3: refuses, before anything is made, a fixed address that an interface
/// outside the pool holds in the VPC of the declared subnets (EC2 would
/// refuse it half-way through). Addresses are unique within a VPC only:
/// another VPC may use the same range.
pub fn check_addresses_free(
    physical_id: &str,
    holders: &[NetworkInterface],
    subnets: &[Subnet],
) -> Result<(), String> {
    let vpcs: BTreeSet<&str> = subnets.iter().map(|s| s.vpc_id.as_str()).collect();
    let taken: Vec<String> = holders
        .iter()
        .filter(|i| vpcs.contains(i.vpc_id.as_str()))
        .filter(|i| i.tags.get(OWNER_TAG).map(String::as_str) != Some(physical_id))
        .map(|i| {
            format!(
                "{} is held by {}",
                i.private_ip.as_deref().unwrap_or("?"),
                i.id
            )
        })
        .collect();
    match taken.is_empty() {
        true => Ok(()),
        false => Err(format!("PrivateIpAddresses: {}", taken.join("; "))),
    }
}

/// R25: the name the pool's interfaces carry now, when the declaration
/// renames the pool (read from EC2, not from the old properties: a
/// rollback of a refused rename renames nothing).
pub fn renamed_from<'a>(props: &PoolProperties, owned: &'a [NetworkInterface]) -> Option<&'a str> {
    let current = owned
        .iter()
        .filter(|i| !is_retired(i))
        .find_map(|i| i.pool());
    current.filter(|name| *name != props.name)
}

/// The name before the pool's last rename, still served, that a new rename
/// would stop serving (R25).
pub fn former_name<'a>(props: &PoolProperties, owned: &'a [NetworkInterface]) -> Option<&'a str> {
    renamed_from(props, owned)?;
    let former = owned.iter().find_map(|i| i.tags.get(FORMER_POOL_TAG));
    former.map(String::as_str).filter(|f| *f != props.name)
}

/// R25: a pool serves one former name. Refuses a rename while running
/// instances still carry the name before the last one (`former_holders`):
/// they would lose their addresses.
pub fn check_former_name_free(
    props: &PoolProperties,
    owned: &[NetworkInterface],
    former_holders: &[Instance],
) -> Result<(), String> {
    let Some(former) = former_name(props, owned) else {
        return Ok(());
    };
    let running: Vec<&str> = former_holders
        .iter()
        .filter(|i| i.pool() == Some(former) && i.state == InstanceState::Running)
        .map(|i| i.id.as_str())
        .collect();
    if running.is_empty() {
        return Ok(());
    }
    Err(format!(
        "Name: instances still carry '{former}', the pool's name before its last rename, \
         and are served by it ({}); a pool serves one former name: replace them (an \
         instance refresh) before renaming it again",
        running.join(", ")
    ))
}

/// Refuses a name that interfaces outside this declaration already carry.
pub fn check_name_free(
    props: &PoolProperties,
    physical_id: &str,
    named: &[NetworkInterface],
) -> Result<(), String> {
    let foreign: Vec<&str> = named
        .iter()
        .filter(|i| i.tags.get(OWNER_TAG).map(String::as_str) != Some(physical_id))
        .filter(|i| !props.network_interface_ids.contains(&i.id))
        .map(|i| i.id.as_str())
        .collect();
    if foreign.is_empty() {
        return Ok(());
    }
    Err(format!(
        "Name: pool '{}' already has interfaces not declared here ({}); \
         list them in NetworkInterfaceIds to adopt them",
        props.name,
        foreign.join(", ")
    ))
}

/// C15, C18: an invocation's Create of a pool that exists claims it only
/// if it declares it alike (same fingerprint: a retry, a create-first
/// replacement, or an identical second declaration); other properties are
/// refused, and so is a name the pool had before it was renamed (its
/// identity stays with it). `fingerprint` none: not an invocation.
pub fn check_declared_alike(
    props: &PoolProperties,
    fingerprint: Option<&str>,
    owned: &[NetworkInterface],
) -> Result<(), String> {
    let Some(fingerprint) = fingerprint else {
        return Ok(());
    };
    let live = owned.iter().filter(|i| !is_retired(i));
    if let Some(now) = live.filter_map(|i| i.pool()).find(|p| *p != props.name) {
        return Err(format!(
            "Name: pool '{now}' was named '{}' and keeps that name's identity; \
             declare '{now}', or choose another name",
            props.name
        ));
    }
    // R16: a member a delete was releasing may be gone, the read lagging
    // behind it: the create converges past it (a write's NotFound), or
    // takes it over if that delete failed (it then finds a second claim).
    let other = |i: &&NetworkInterface| {
        i.tags.get(DECLARATION_TAG).map(String::as_str) != Some(fingerprint)
            && !super::claims::releasing(i)
    };
    match owned.iter().find(other) {
        None => Ok(()),
        Some(i) => Err(format!(
            "Name: pool '{}' is already declared, with other properties ({} is its); \
             a name has one set of properties. A replacement of that declaration \
             (a new qualifier or triggers, Pulumi's create-first replace) cannot \
             change them too: apply the change in place first, then replace; \
             otherwise update that declaration, or delete it first",
            props.name, i.id
        )),
    }
}

/// C10: adoption takes only what is free or already the pool's. Refuses,
/// naming each, interfaces that are missing, managed by another AWS
/// service, of another type, of another pool or declaration, a primary, or
/// attached to an instance outside the pool (`holders`: the instances the
/// candidates are attached to).
pub fn check_adoptable(
    props: &PoolProperties,
    physical_id: &str,
    found: &[NetworkInterface],
    holders: &[Instance],
) -> Result<(), String> {
    let problems: Vec<String> = props
        .network_interface_ids
        .iter()
        .filter_map(|id| match found.iter().find(|i| &i.id == id) {
            None => Some(format!("{id} does not exist")),
            Some(iface) => adoption_problem(iface, props, physical_id, holders),
        })
        .collect();
    match problems.is_empty() {
        true => Ok(()),
        false => Err(format!("NetworkInterfaceIds: {}", problems.join("; "))),
    }
}

fn adoption_problem(
    iface: &NetworkInterface,
    props: &PoolProperties,
    physical_id: &str,
    holders: &[Instance],
) -> Option<String> {
    let id = &iface.id;
    let owner = iface.tags.get(OWNER_TAG);
    if owner.is_some_and(|o| o == physical_id) {
        return None; // already this pool's
    }
    if iface.requester_managed {
        return Some(format!("{id} is managed by another AWS service"));
    }
    if iface.interface_type != PLAIN_INTERFACE {
        return Some(format!("{id} is of type {}", iface.interface_type));
    }
    if let Some(owner) = owner {
        return Some(format!(
            "{id} belongs to another pool declaration ({owner})"
        ));
    }
    if let Some(pool) = iface.pool().filter(|p| *p != props.name) {
        return Some(format!("{id} belongs to pool '{pool}'"));
    }
    let attachment = iface.attachment.as_ref()?;
    let holder = &attachment.instance_id;
    if attachment.is_primary() {
        return Some(format!("{id} is the primary interface of {holder}"));
    }
    let in_pool = holders
        .iter()
        .any(|i| &i.id == holder && i.pool() == Some(props.name.as_str()));
    (!in_pool).then(|| {
        format!(
            "{id} is attached to {holder}, which is not in pool '{}'",
            props.name
        )
    })
}

/// The return values, in the order given.
pub fn pool_data<'a>(
    props: &PoolProperties,
    interfaces: impl Iterator<Item = &'a NetworkInterface>,
) -> PoolData {
    let mut data = PoolData {
        name: props.name.clone(),
        ..PoolData::default()
    };
    for i in interfaces {
        data.network_interface_ids.push(i.id.clone());
        data.private_ip_addresses
            .push(i.private_ip.clone().unwrap_or_default());
    }
    data
}

/// C14: each member's public address and allocation id, in the answer's
/// order (empty where a member has none).
pub fn add_public_addresses(data: &mut PoolData, addresses: &[Option<(String, String)>]) {
    for address in addresses {
        let (ip, id) = address.clone().unwrap_or_default();
        data.public_ip_addresses.push(ip);
        data.allocation_ids.push(id);
    }
}
