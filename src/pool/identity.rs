//! A holder's identity (R26): the instance that holds a member with an
//! ordinal carries the member's ordinal and private address as tags, which
//! it reads from instance metadata without AWS rights [IMDS-TAGS]. Decided
//! here, without I/O: what a member gives its holder, and the plan step
//! that brings every instance's tags in line with what it holds.

use std::collections::BTreeSet;

use super::model::{Action, Identify, Plan, Snapshot};
use super::survey::Survey;
use crate::ec2::{
    ordinal, Instance, InstanceState, NetworkInterface, Tags, ADDRESS_TAG, ORDINAL_TAG,
};

/// The tags a member gives its holder: its ordinal and private address;
/// none for a member without a valid ordinal (1-255, C16).
pub fn of(member: &NetworkInterface) -> Tags {
    let ordinal = member
        .tags
        .get(ORDINAL_TAG)
        .filter(|o| ordinal(o).is_some());
    match (ordinal, &member.private_ip) {
        (Some(ordinal), Some(address)) => Tags::from([
            (ORDINAL_TAG.to_string(), ordinal.clone()),
            (ADDRESS_TAG.to_string(), address.clone()),
        ]),
        _ => Tags::new(),
    }
}

/// Whether an instance carries identity tags.
fn has_identity(instance: &Instance) -> bool {
    instance.tags.contains_key(ORDINAL_TAG) || instance.tags.contains_key(ADDRESS_TAG)
}

/// The identity tags `instance` carries.
fn identity_of(instance: &Instance) -> Tags {
    let keys = [ORDINAL_TAG, ADDRESS_TAG];
    let carried = keys
        .into_iter()
        .filter_map(|k| Some((k, instance.tags.get(k)?)));
    carried.map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// Plan step: each holder's identity tags made those of the member it keeps
/// (set when they differ), and removed from an instance that holds nothing
/// and gets nothing in this plan (a former holder). An instance whose
/// member's read lags (it lists one) is left as it is; a terminated one is
/// never tagged. An attach sets its identity once EC2 confirmed it.
pub(super) fn identify(snapshot: &Snapshot, survey: &Survey, plan: &mut Plan) {
    let attaching: BTreeSet<&str> = plan
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::Attach(a) => Some(a.instance_id.as_str()),
            _ => None,
        })
        .collect();
    let mut identify = Vec::new();
    for instance in &snapshot.instances {
        let gone = matches!(
            instance.state,
            InstanceState::ShuttingDown | InstanceState::Terminated
        );
        if gone || survey.listed.contains_key(instance.id.as_str()) {
            continue;
        }
        let kept = survey.holds.iter().find_map(|((holder, pool), held)| {
            (*holder == instance.id).then_some((pool, held.first()?))
        });
        let (pool, wanted) = match kept {
            Some((pool, member)) => (pool.to_string(), of(member)),
            None if attaching.contains(instance.id.as_str()) => continue,
            None => (instance.pool().unwrap_or_default().to_string(), Tags::new()),
        };
        let carried = identity_of(instance);
        let stale = match wanted.is_empty() {
            true => has_identity(instance),
            false => carried != wanted,
        };
        if stale {
            identify.push(Action::Identify(Identify {
                pool,
                instance_id: instance.id.clone(),
                tags: wanted,
            }));
        }
    }
    plan.actions.extend(identify);
}
