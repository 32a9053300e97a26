//! A step of a plan (R28): a holder due to leave (warned by EC2, or
//! unhealthy in its group) gives its member to an instance that waits for
//! one in its placement, before it goes: a replacement launched first gets
//! the address before it serves, not after its predecessor ends. Only when
//! the placement has more waiters that stay than free members, and never a
//! member with data volumes (R27: never off a running OS); its waiters keep
//! waiting instead.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Action, Detach, Placement, Plan, Snapshot};
use super::survey::{Free, Survey};
use crate::autoscaling::Refresh;
use crate::ec2::{Instance, NetworkInterface, VOLUMES_TAG};

/// One member to move: from its holder, and why.
struct Move<'a> {
    placement: Placement,
    holder: &'a str,
    member: &'a NetworkInterface,
    why: String,
}

pub(super) fn hand_over_early<'a>(
    snapshot: &'a Snapshot,
    survey: &mut Survey<'a>,
    plan: &mut Plan,
) {
    let instances: BTreeMap<&str, &Instance> = snapshot
        .instances
        .iter()
        .map(|i| (i.id.as_str(), i))
        .collect();
    let mut moves = Vec::new();
    for (placement, waiters) in &survey.waiting {
        let staying = waiters
            .iter()
            .filter(|w| w.due_to_leave().is_none())
            .count();
        let free = survey.free.get(placement).map_or(0, Vec::len);
        let due = due_to_leave(survey, &instances, placement);
        for (holder, member, why) in due.into_iter().take(staying.saturating_sub(free)) {
            moves.push(Move {
                placement: placement.clone(),
                holder,
                member,
                why,
            });
        }
    }
    for m in moves {
        if m.member.tags.contains_key(VOLUMES_TAG) {
            survey.volume_waits.insert(m.placement);
            continue;
        }
        let Some(attachment) = m.member.attachment.as_ref() else {
            continue;
        };
        plan.actions.push(Action::Detach(Detach {
            pool: m.placement.pool.clone(),
            interface_id: m.member.id.clone(),
            attachment_id: attachment.id.clone(),
            instance_id: m.holder.to_string(),
            reason: format!("{}: its member goes to an instance that waits", m.why),
        }));
        let pool = m.placement.pool.as_str();
        survey.holds.retain(|&(h, p), _| (h, p) != (m.holder, pool));
        survey.leaving.insert(&m.member.id);
        survey.free.entry(m.placement).or_default().push(Free {
            member: m.member,
            freed_from: Some(m.holder),
            volumes: Vec::new(),
        });
    }
}

/// The members of `placement` whose running holders are due to leave, each
/// holder's first, and why; in holder order.
fn due_to_leave<'a>(
    survey: &Survey<'a>,
    instances: &BTreeMap<&str, &'a Instance>,
    placement: &Placement,
) -> Vec<(&'a str, &'a NetworkInterface, String)> {
    let here = |m: &NetworkInterface| {
        m.availability_zone == placement.availability_zone && m.vpc_id == placement.vpc_id
    };
    let attached = |m: &NetworkInterface| m.attachment.as_ref().is_some_and(|a| a.is_attached());
    survey
        .holds
        .iter()
        .filter(|((_, pool), _)| *pool == placement.pool)
        .filter_map(|(&(holder, _), held)| {
            let member = *held.first()?;
            let why = instances.get(holder)?.due_to_leave()?;
            (here(member) && attached(member)).then_some((holder, member, why))
        })
        .collect()
}

/// The groups whose instance refresh may free a member for a launch that
/// waits: those of the holders in each placement where an instance waits
/// in `Pending:Wait` and the plan found no member for it. Each once.
pub fn refresh_groups(snapshot: &Snapshot, plan: &Plan) -> Vec<String> {
    let launching = |id: &String| {
        let i = snapshot.instances.iter().find(|i| &i.id == id);
        let group = i.and_then(|i| i.group.as_ref());
        group.is_some_and(|g| g.lifecycle_state == "Pending:Wait")
    };
    let short: Vec<(&str, &str)> = plan
        .shortages
        .iter()
        .filter(|s| s.instance_ids.iter().any(launching))
        .map(|s| (s.pool.as_str(), s.availability_zone.as_str()))
        .collect();
    let holders: BTreeSet<&str> = snapshot
        .members
        .iter()
        .filter(|m| {
            let here = (m.pool().unwrap_or_default(), m.availability_zone.as_str());
            short.contains(&here)
        })
        .filter_map(|m| Some(m.attachment.as_ref()?.instance_id.as_str()))
        .collect();
    let groups: BTreeSet<String> = snapshot
        .instances
        .iter()
        .filter(|i| holders.contains(i.id.as_str()))
        .filter_map(|i| Some(i.group.as_ref()?.group.clone()))
        .collect();
    groups.into_iter().collect()
}

/// Marks the instances each refresh replaces; whether any is.
pub fn mark_refreshed(snapshot: &mut Snapshot, refreshes: &BTreeMap<String, Refresh>) -> bool {
    let mut any = false;
    for i in &mut snapshot.instances {
        let launched_at = i.launched_at;
        let Some(group) = i.group.as_mut() else {
            continue;
        };
        if let Some(refresh) = refreshes.get(&group.group) {
            group.refreshed_out = refresh.replaces(launched_at);
            any |= group.refreshed_out;
        }
    }
    any
}
