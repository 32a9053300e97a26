//! The planner: observed EC2 state in, the actions that restore the rules out.
//! Pure and deterministic: no I/O, no clock, the same state gives the same plan.
//! `plan` reads as its steps: survey who holds what, take members back, undo
//! double holds, keep members from EC2's deletion, move members off holders
//! due to leave where instances wait, give free members to waiting instances, bring holders' identities in line, then say which
//! lifecycle actions may go on.

use std::collections::BTreeSet;

use super::assign::{assign, Leaving};
use super::identity;
use super::model::{Action, Detach, KeepOnTermination, Once, Placement, Plan, Proceed, Snapshot};
use super::succession;
use super::survey::{is_manageable, Free};
pub use super::survey::{survey, Survey};
use super::volumes::{self, Volumes};
use crate::autoscaling::Transition;
use crate::ec2::{Instance, InstanceState, NetworkInterface, PLAIN_INTERFACE};

/// The ids of instances members are attached to that the snapshot lacks:
/// read them by id before planning, so eventual consistency strips no one.
pub fn unknown_holders(snapshot: &Snapshot) -> Vec<String> {
    let holders = snapshot
        .members
        .iter()
        .filter_map(|m| m.attachment.as_ref());
    unknown_instances(snapshot, holders.map(|a| a.instance_id.as_str()))
}

/// The instances among `ids` the snapshot lacks, each once.
pub fn unknown_instances<'a>(
    snapshot: &Snapshot,
    ids: impl Iterator<Item = &'a str>,
) -> Vec<String> {
    let known: BTreeSet<&str> = snapshot.instances.iter().map(|i| i.id.as_str()).collect();
    let unknown: BTreeSet<&str> = ids.filter(|id| !known.contains(id)).collect();
    unknown.into_iter().map(str::to_string).collect()
}

/// The interfaces running pool instances list that the snapshot lacks:
/// read them by id, so that every occupant of a device index is known.
pub fn unknown_interfaces(snapshot: &Snapshot) -> Vec<String> {
    let known: BTreeSet<&str> = snapshot.members.iter().map(|m| m.id.as_str()).collect();
    let listed = snapshot
        .instances
        .iter()
        .filter(|i| i.pool().is_some() && i.state == InstanceState::Running)
        .flat_map(|i| i.interfaces.iter().filter(|n| !n.is_primary()));
    let unknown: BTreeSet<String> = listed
        .map(|n| n.interface_id.as_str())
        .filter(|id| !known.contains(id))
        .map(str::to_string)
        .collect();
    unknown.into_iter().collect()
}

/// The plan that brings the snapshot in line with the R rules.
pub fn plan(snapshot: &Snapshot) -> Plan {
    let mut survey = survey(snapshot);
    let mut plan = Plan {
        unusable: std::mem::take(&mut survey.unusable),
        ..Plan::default()
    };
    take_back(&mut survey, &mut plan);
    release_double_holds(&mut survey, &mut plan);
    keep_on_termination(&survey, &mut plan);
    let volumes = Volumes::new(snapshot);
    volumes::follow(snapshot, &volumes, &mut survey, &mut plan);
    succession::hand_over_early(snapshot, &mut survey, &mut plan);
    give_members(&survey, &mut plan);
    identity::identify(snapshot, &survey, &mut plan);
    plan.proceeds = proceeds(snapshot, &survey, &plan, &volumes);
    plan
}

/// Step 2: members whose holders leave or may not hold them go back (R4,
/// R19).
fn take_back(survey: &mut Survey, plan: &mut Plan) {
    let releases = survey.releases.drain(..).map(Action::Detach);
    plan.actions.extend(releases);
}

/// Step 5: each placement's free members to its waiting instances (R1-R3).
fn give_members(survey: &Survey, plan: &mut Plan) {
    for (placement, waiters) in &survey.waiting {
        let pool_free = survey.free.get(placement).map_or(&[][..], Vec::as_slice);
        let leaving = Leaving {
            pool_index: survey.device_index[placement.pool.as_str()],
            members: &survey.leaving,
        };
        assign(placement, waiters, pool_free, leaving, plan);
    }
}

/// Step 6: the lifecycle actions our hooks hold (R20, R21), and what each
/// waits for.
fn proceeds(snapshot: &Snapshot, survey: &Survey, plan: &Plan, volumes: &Volumes) -> Vec<Proceed> {
    let mut proceeds = Vec::new();
    for i in &snapshot.instances {
        let Some(group) = &i.group else { continue };
        for &transition in group.waits_for() {
            let (once, volumes) = match transition {
                Transition::Launching if group.lifecycle_state == "Pending:Wait" => {
                    match launch_waits_for(i, survey, plan, volumes) {
                        Some(waits) => waits,
                        None => continue,
                    }
                }
                _ => (Once::ActionsDone, Vec::new()),
            };
            proceeds.push(Proceed {
                group: group.group.clone(),
                instance_id: i.id.clone(),
                transition,
                once,
                volumes,
            });
        }
    }
    proceeds.sort_by(|a, b| (&a.instance_id, a.transition).cmp(&(&b.instance_id, b.transition)));
    proceeds.dedup();
    proceeds
}

/// R20: a launch goes on once EC2 runs the instance and its member reads
/// attached, with its data volumes (R27), or when no member can come now:
/// every usable member of its placement held or given (a replacement whose
/// old instance still serves must not deadlock). `None`: it stays open (not
/// running yet, or a member or volume may still come: one `pending`, or one
/// the reads do not settle).
fn launch_waits_for(
    i: &Instance,
    survey: &Survey,
    plan: &Plan,
    volumes: &Volumes,
) -> Option<(Once, Vec<String>)> {
    if i.state != InstanceState::Running {
        return None;
    }
    let Some(pool) = survey.pool_of(i) else {
        return Some((Once::ActionsDone, Vec::new()));
    };
    if let Some(held) = survey
        .holds
        .get(&(i.id.as_str(), pool))
        .and_then(|h| h.first())
    {
        let volumes = volumes::awaited(volumes, held, &i.id, plan)?;
        let attached = held.attachment.as_ref().is_some_and(|a| a.is_attached());
        let once = match attached {
            true => Once::ActionsDone,
            false => Once::Holds(held.id.clone()),
        };
        return Some((once, volumes));
    }
    if let Some(listed) = survey.listed.get(i.id.as_str()) {
        return Some((Once::Holds(listed.to_string()), Vec::new()));
    }
    let attach = |a: &Action| matches!(a, Action::Attach(a) if a.instance_id == i.id);
    if plan.actions.iter().any(attach) {
        return Some((Once::Gets, Vec::new()));
    }
    let short = plan
        .shortages
        .iter()
        .find(|s| s.instance_ids.contains(&i.id))?;
    let here =
        |p: &&Placement| p.pool == short.pool && p.availability_zone == short.availability_zone;
    if survey.volume_waits.iter().any(|p| here(&p)) {
        return Some((Once::VolumeFreed, Vec::new()));
    }
    let unsettled = survey.unsettled.iter().any(|p| here(&p));
    (!unsettled).then_some((Once::ActionsDone, Vec::new()))
}

/// A member the manager may give to an instance (R5, R15).
pub fn is_usable(member: &NetworkInterface) -> bool {
    is_manageable(member) && member.interface_type == PLAIN_INTERFACE
}

/// Step 3: an instance holding two members of a pool keeps the one attached
/// first; the others are taken back and may go to a waiting instance (R11).
fn release_double_holds<'a>(survey: &mut Survey<'a>, plan: &mut Plan) {
    for (&(holder, pool), held) in survey.holds.iter_mut() {
        for extra in held.drain(1..) {
            // Only listed by the instance so far: its own read will tell.
            let Some(attachment) = extra.attachment.as_ref() else {
                continue;
            };
            plan.actions.push(Action::Detach(Detach {
                pool: pool.to_string(),
                interface_id: extra.id.clone(),
                attachment_id: attachment.id.clone(),
                instance_id: holder.to_string(),
                reason: "instance holds two members of its pool; the one attached first stays"
                    .into(),
            }));
            let placement = Placement {
                pool: pool.to_string(),
                vpc_id: extra.vpc_id.clone(),
                availability_zone: extra.availability_zone.clone(),
            };
            survey.leaving.insert(&extra.id);
            let freed = Free {
                member: extra,
                freed_from: Some(holder),
                volumes: Vec::new(),
            };
            survey.free.entry(placement).or_default().push(freed);
        }
    }
}

/// Step 4: a kept member must not be deleted with its instance (R13).
fn keep_on_termination(survey: &Survey, plan: &mut Plan) {
    for (&(holder, pool), held) in &survey.holds {
        let doomed = held
            .iter()
            .filter_map(|m| Some((m, m.attachment.as_ref()?)))
            .filter(|(_, a)| a.delete_on_termination);
        for (member, attachment) in doomed {
            plan.actions
                .push(Action::KeepOnTermination(KeepOnTermination {
                    pool: pool.to_string(),
                    interface_id: member.id.clone(),
                    attachment_id: attachment.id.clone(),
                    instance_id: holder.to_string(),
                }));
        }
    }
}
