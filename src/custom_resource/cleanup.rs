//! The schedule's cleanup of declared interfaces, decided by what
//! CloudFormation says of their stack: retired interfaces go once the stack
//! operation that retired them is over (C12); every interface of a pool
//! whose stack is gone goes, created ones deleted, adopted ones released
//! (C13). A stack CloudFormation does not know is left alone.

use std::collections::{BTreeMap, BTreeSet};

use super::provider::Provider;
use crate::deadline::{Backoff, Deadline};
use crate::ec2::{
    Ec2, Ec2Error, InterfaceQuery, NetworkInterface, OWNER_TAG, RETIRED_TAG, STACK_TAG,
};
use crate::stacks::{StackState, Stacks};

/// Cleans up after every stack that declared pools; returns one line per
/// thing done or failed.
pub async fn collect(
    ec2: &dyn Ec2,
    stacks: &dyn Stacks,
    deadline: Deadline,
    backoff: Backoff,
) -> Result<Vec<String>, Ec2Error> {
    let declared = ec2
        .describe_interfaces(&InterfaceQuery::tagged(STACK_TAG))
        .await?;
    let mut by_stack: BTreeMap<&str, Vec<&NetworkInterface>> = BTreeMap::new();
    for iface in &declared {
        by_stack
            .entry(&iface.tags[STACK_TAG])
            .or_default()
            .push(iface);
    }
    let mut done = Vec::new();
    for (stack_id, interfaces) in by_stack {
        let provider = Provider {
            ec2,
            deadline,
            backoff,
            request_id: "",
            stack_id,
        };
        match stacks.stack_state(stack_id).await {
            Ok(state) if state.is_gone() => {
                done.extend(remove_pools(&provider, stack_id, &state, &interfaces).await)
            }
            Ok(StackState::Settled(status)) => {
                let retired = interfaces
                    .iter()
                    .filter(|i| i.tags.contains_key(RETIRED_TAG));
                for iface in retired {
                    done.push(match provider.remove(iface).await {
                        Ok(()) => format!("deleted {}, retired ({stack_id} is {status})", iface.id),
                        Err(e) => format!("could not delete retired {}: {e}", iface.id),
                    });
                }
            }
            Ok(_) => {}
            Err(e) => done.push(format!("could not read stack {stack_id}: {e}")),
        }
    }
    for line in &done {
        tracing::info!(cleanup = %line, "declared interfaces cleaned up");
    }
    Ok(done)
}

/// Removes every pool the gone stack declared, as its Delete would have.
async fn remove_pools(
    provider: &Provider<'_>,
    stack_id: &str,
    state: &StackState,
    interfaces: &[&NetworkInterface],
) -> Vec<String> {
    let owners: BTreeSet<&str> = interfaces
        .iter()
        .filter_map(|i| i.tags.get(OWNER_TAG).map(String::as_str))
        .collect();
    let mut done = Vec::new();
    for owner in owners {
        done.push(match provider.delete(owner).await {
            Ok(()) => format!("removed pool {owner} ({stack_id} is {state:?})"),
            Err(e) => format!("could not remove pool {owner}: {e}"),
        });
    }
    done
}
