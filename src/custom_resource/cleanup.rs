//! The schedule's cleanup of declared interfaces, decided by what
//! CloudFormation says of their stack. Only a settled stack (`*_COMPLETE`)
//! is acted on: a halted or running one may still roll back (C12). Retired
//! interfaces go once their stack is settled, each read again by id first
//! (C12). A pool deleted with its stack whose Delete left something behind
//! is removed as its Delete would have; one the stack retained
//! (`DeletionPolicy: Retain`) is never touched (C13). A stack CloudFormation
//! does not know, and a pool its resources do not name, are left alone.

use crate::aws::{AwsError, ErrorKind};
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::declaration::{is_retired, physical_id};
use super::provider::Provider;
use crate::deadline::{Backoff, Deadline};
use crate::ec2::{
    Address, AddressQuery, Ec2, InterfaceQuery, InterfaceStatus, NetworkInterface, Tags, OWNER_TAG,
    RETIRED_TAG, STACK_TAG,
};
use crate::stacks::{StackResource, StackState, Stacks};

/// What became of a pool whose stack is gone (C13).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    /// Deleted with its stack (`DELETE_COMPLETE`): what its Delete left
    /// behind is removed.
    Removed,
    /// Kept by `DeletionPolicy: Retain` (`DELETE_SKIPPED`): a pool like one
    /// tagged by hand, served and never removed.
    Retained,
    /// The stack's resources do not say (a resource removed from the
    /// template with `Retain` is not listed at all): left alone.
    Unclear,
}

/// The fate of the pool `owner` (a physical id), from the resources of its
/// gone stack. The pool's own id follows from its stack and logical id,
/// whatever id CloudFormation recorded (one it made up, C4).
pub fn fate(stack_id: &str, owner: &str, resources: &[StackResource]) -> Fate {
    let declared = resources.iter().find(|r| {
        physical_id(stack_id, &r.logical_id) == owner || r.physical_id.as_deref() == Some(owner)
    });
    match declared.map(|r| r.status.as_str()) {
        Some("DELETE_COMPLETE") => Fate::Removed,
        Some("DELETE_SKIPPED") => Fate::Retained,
        _ => Fate::Unclear,
    }
}

/// The fates of the pools `owners` of a gone stack.
pub async fn fates<'o>(
    stacks: &dyn Stacks,
    stack_id: &str,
    owners: impl IntoIterator<Item = &'o str>,
) -> Result<BTreeMap<&'o str, Fate>, AwsError> {
    let resources = stacks.resources(stack_id).await?;
    let fate_of = |owner| (owner, fate(stack_id, owner, &resources));
    Ok(owners.into_iter().map(fate_of).collect())
}

/// What one stack declared, as the tag reads show it.
#[derive(Default)]
struct Declared<'a> {
    interfaces: Vec<&'a NetworkInterface>,
    addresses: Vec<&'a Address>,
}

/// Cleans up after every stack that declared pools; returns one line per
/// thing done or failed.
pub async fn collect(
    ec2: &dyn Ec2,
    stacks: &dyn Stacks,
    deadline: Deadline,
    backoff: Backoff,
) -> Result<Vec<String>, AwsError> {
    let (interfaces, addresses) = (
        InterfaceQuery::tagged(STACK_TAG),
        AddressQuery::TagKey(STACK_TAG),
    );
    let (interfaces, addresses) = tokio::join!(
        ec2.describe_interfaces(&interfaces),
        ec2.describe_addresses(&addresses)
    );
    let (interfaces, addresses) = (interfaces?, addresses?);
    let mut by_stack: BTreeMap<&str, Declared> = BTreeMap::new();
    for iface in &interfaces {
        let stack = by_stack.entry(&iface.tags[STACK_TAG]).or_default();
        stack.interfaces.push(iface);
    }
    for address in &addresses {
        let stack = by_stack.entry(&address.tags[STACK_TAG]).or_default();
        stack.addresses.push(address);
    }
    let mut done = Vec::new();
    for (stack_id, declared) in by_stack {
        let provider = Provider {
            ec2,
            deadline,
            backoff,
            request_id: "",
            stack_id,
            fingerprint: None,
        };
        done.extend(clean_stack(&provider, stacks, stack_id, &declared).await);
    }
    for line in &done {
        tracing::info!(cleanup = %line, "declared interfaces cleaned up");
    }
    Ok(done)
}

/// The cleanup of one stack's declarations (see the module's doc).
async fn clean_stack(
    provider: &Provider<'_>,
    stacks: &dyn Stacks,
    stack_id: &str,
    declared: &Declared<'_>,
) -> Vec<String> {
    let state = match stacks.stack_state(stack_id).await {
        Ok(state) => state,
        Err(e) => return vec![format!("could not read stack {stack_id}: {e}")],
    };
    // C12: a halted or running stack may still roll back.
    let StackState::Settled(status) = &state else {
        return Vec::new();
    };
    let mut done = Vec::new();
    let mut removed = BTreeSet::new();
    if state.is_gone() {
        match remove_pools(provider, stacks, stack_id, &declared.interfaces).await {
            Ok((lines, pools)) => {
                done.extend(lines);
                removed = pools;
            }
            Err(e) => done.push(format!("could not read the resources of {stack_id}: {e}")),
        }
    }
    let kept = |owner: &str| !removed.contains(owner);
    let retired = declared
        .addresses
        .iter()
        .filter(|a| a.tags.contains_key(RETIRED_TAG));
    for address in retired.filter(|a| kept(tag(&a.tags, OWNER_TAG))) {
        done.extend(let_retired_address_go(provider, address, status).await);
    }
    let retired = declared.interfaces.iter().filter(|i| is_retired(i));
    for iface in retired.filter(|i| kept(owner_of(i))) {
        done.extend(delete_retired(provider.ec2, iface, status).await);
    }
    done
}

fn tag<'t>(tags: &'t Tags, key: &str) -> &'t str {
    tags.get(key).map_or("", String::as_str)
}

/// C12, C14: a retired Elastic IP is let go once its stack settles, if a
/// read by id still shows it retired: disassociated, then released (or
/// released from the pool, if it was adopted).
async fn let_retired_address_go(
    provider: &Provider<'_>,
    address: &Address,
    status: &str,
) -> Option<String> {
    let id = &address.allocation_id;
    let query = AddressQuery::Ids(vec![id.clone()]);
    let fresh = match provider.ec2.describe_addresses(&query).await {
        Ok(mut read) => read.pop()?,
        Err(e) => return Some(format!("could not read retired {id}: {e}")),
    };
    let owner = |a: &Address| tag(&a.tags, OWNER_TAG).to_string();
    if !fresh.tags.contains_key(RETIRED_TAG) || owner(&fresh) != owner(address) {
        return None;
    }
    Some(match provider.let_go(&fresh).await {
        Ok(()) => format!(
            "let {id} ({}) go, retired (its stack is {status})",
            fresh.public_ip
        ),
        Err(e) => format!("could not let retired {id} go: {e}"),
    })
}

fn owner_of(iface: &NetworkInterface) -> &str {
    tag(&iface.tags, OWNER_TAG)
}

/// Removes every pool of the gone stack that was deleted with it, as its
/// Delete would have; returns what was done and the pools removed.
async fn remove_pools(
    provider: &Provider<'_>,
    stacks: &dyn Stacks,
    stack_id: &str,
    interfaces: &[&NetworkInterface],
) -> Result<(Vec<String>, BTreeSet<String>), AwsError> {
    let owners: BTreeSet<&str> = interfaces.iter().map(|i| owner_of(i)).collect();
    let fates = fates(stacks, stack_id, owners).await?;
    let mut done = Vec::new();
    let mut removed = BTreeSet::new();
    for (owner, _) in fates.iter().filter(|(_, f)| **f == Fate::Removed) {
        // C17: no declaration says DeleteVolumes here: its volumes are kept.
        done.push(match provider.delete(owner, false).await {
            Ok(kept) if kept.is_empty() => {
                format!("removed pool {owner} (its stack {stack_id} was deleted)")
            }
            Ok(kept) => format!(
                "removed pool {owner} (its stack {stack_id} was deleted), kept its volumes {}",
                kept.join(", ")
            ),
            Err(e) => format!("could not remove pool {owner}: {e}"),
        });
        removed.insert(owner.to_string());
    }
    Ok((done, removed))
}

/// C12: deletes a retired interface only if a read by id still shows it
/// retired and free; a detach is never forced: what is still attached is
/// left for the next run. A tag-filtered read lags: a rollback may have
/// reinstated it since, and a sync attached it.
async fn delete_retired(ec2: &dyn Ec2, iface: &NetworkInterface, status: &str) -> Option<String> {
    let id = &iface.id;
    let fresh = match ec2
        .describe_interfaces(&InterfaceQuery::ids(std::slice::from_ref(id)))
        .await
    {
        Ok(mut read) => read.pop()?,
        Err(e) => return Some(format!("could not read retired {id}: {e}")),
    };
    if !is_retired(&fresh) || owner_of(&fresh) != owner_of(iface) {
        return None;
    }
    // Attached, or still detaching, it reads anything but `available`.
    if fresh.status != InterfaceStatus::Available {
        return Some(format!(
            "left retired {id}: still attached; the next run tries again"
        ));
    }
    Some(match ec2.delete_interface(id).await {
        Ok(()) => format!("deleted {id}, retired (its stack is {status})"),
        Err(e) if e.is_not_found() => return None,
        Err(e) if e.is(ErrorKind::InUse) => {
            format!("left retired {id}: in use; the next run tries again")
        }
        Err(e) => format!("could not delete retired {id}: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const STACK: &str = "arn:aws:cloudformation:us-east-1:1:stack/demo/1";

    fn resource(logical: &str, physical: Option<&str>, status: &str) -> StackResource {
        StackResource {
            logical_id: logical.into(),
            physical_id: physical.map(str::to_string),
            status: status.into(),
        }
    }

    #[test]
    fn a_pool_is_removed_only_when_its_resource_reads_deleted_and_retained_when_skipped() {
        let pool = physical_id(STACK, "Pool");
        let table = [
            (
                resource("Pool", Some(&pool), "DELETE_COMPLETE"),
                Fate::Removed,
            ),
            (
                resource("Pool", Some(&pool), "DELETE_SKIPPED"),
                Fate::Retained,
            ),
            // CloudFormation made the id up (a cancelled Create, C4).
            (
                resource("Pool", Some("demo-Pool-1X"), "DELETE_COMPLETE"),
                Fate::Removed,
            ),
            (resource("Pool", None, "DELETE_SKIPPED"), Fate::Retained),
            // moto keeps the last status: unclear, never acted on.
            (
                resource("Pool", Some(&pool), "CREATE_COMPLETE"),
                Fate::Unclear,
            ),
            (
                resource("Other", Some("pool-0"), "DELETE_COMPLETE"),
                Fate::Unclear,
            ),
        ];
        for (r, expected) in table {
            assert_eq!(
                fate(STACK, &pool, std::slice::from_ref(&r)),
                expected,
                "{r:?}"
            );
        }
        assert_eq!(fate(STACK, &pool, &[]), Fate::Unclear, "not listed");
        let by_id = resource("Renamed", Some(&pool), "DELETE_SKIPPED");
        assert_eq!(fate(STACK, &pool, &[by_id]), Fate::Retained);
    }
}
