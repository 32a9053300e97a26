//! A member's data volumes go with it (R27). Decided here, without I/O:
//! where each volume of a member that lists some stands, what moves it,
//! and which free members can go to a new holder with all of theirs. A
//! volume leaves a stopped instance (detached here) or a terminated one
//! (EC2 detaches it); never a running OS.

use std::collections::BTreeMap;

use super::assign::{assign, Leaving};
use super::model::{
    Action, AttachVolume, DetachVolume, MissingVolume, Placement, Plan, Snapshot, StrandedVolume,
    VolumeMove,
};
use super::survey::{Free, Survey};
use crate::ec2::{
    volume_devices, volume_key, Instance, InstanceState, NetworkInterface, Volume,
    VolumeAttachmentStatus, VolumeStatus, DEVICE_TAG, OWNER_TAG, RETIRED_TAG, SLOT_TAG,
};

/// The snapshot's volumes by what ties them to a member: owner, slot and
/// device (retired ones left out).
pub struct Volumes<'a> {
    by_key: BTreeMap<(&'a str, &'a str, &'a str), &'a Volume>,
    instances: BTreeMap<&'a str, &'a Instance>,
}

/// Where one volume of a member stands, seen from the instance that is to
/// hold the member.
enum Stand<'a> {
    /// Attached or attaching to it.
    There,
    /// It can be attached there: `available`, still `creating`, or leaving
    /// a stopped or terminated instance.
    Comes(VolumeMove),
    /// On a running, pending or stopping instance that does not hold the
    /// member: it stays there until that instance stops or ends.
    OnRunning(&'a Instance),
    /// In a state no attach can take (`error`, `deleting`).
    Broken(String),
}

impl<'a> Volumes<'a> {
    pub fn new(snapshot: &'a Snapshot) -> Self {
        let mut by_key = BTreeMap::new();
        let mut volumes: Vec<&Volume> = snapshot.volumes.iter().collect();
        volumes.sort_by(|a, b| a.id.cmp(&b.id));
        for v in volumes
            .into_iter()
            .filter(|v| !v.tags.contains_key(RETIRED_TAG))
        {
            let tag = |k: &str| v.tags.get(k).map(String::as_str);
            if let (Some(owner), Some(slot), Some(device)) =
                (tag(OWNER_TAG), tag(SLOT_TAG), tag(DEVICE_TAG))
            {
                by_key.entry((owner, slot, device)).or_insert(v);
            }
        }
        let hosts = snapshot.instances.iter().chain(&snapshot.volume_hosts);
        let instances = hosts.map(|i| (i.id.as_str(), i));
        Self {
            by_key,
            instances: instances.collect(),
        }
    }

    /// A member's volumes, one per device it lists; `None` for a device
    /// whose volume the reads do not show (yet).
    pub fn of(&self, member: &'a NetworkInterface) -> Vec<(&'a str, Option<&'a Volume>)> {
        let (owner, slot) = volume_key(member).unwrap_or_default();
        let devices = volume_devices(member).into_iter();
        devices
            .map(|d| (d, self.by_key.get(&(owner, slot, d)).copied()))
            .collect()
    }

    /// Where `volume` stands for `holder` (the member's holder to be).
    fn stand(&self, volume: &Volume, device: &str, holder: Option<&str>) -> Stand<'a> {
        let comes = |freed_from: Option<&str>| {
            Stand::Comes(VolumeMove {
                volume_id: volume.id.clone(),
                device: device.to_string(),
                freed_from: freed_from.map(str::to_string),
            })
        };
        let Some(attachment) = &volume.attachment else {
            return match volume.status {
                VolumeStatus::Available | VolumeStatus::Creating => comes(None),
                VolumeStatus::InUse => Stand::Broken("it is in-use without an attachment".into()),
                s => Stand::Broken(format!("it is {}", s.as_str())),
            };
        };
        let on = attachment.instance_id.as_str();
        let settled = matches!(
            attachment.status,
            VolumeAttachmentStatus::Attaching | VolumeAttachmentStatus::Attached
        );
        if !settled {
            return comes(Some(on));
        }
        if holder == Some(on) {
            return Stand::There;
        }
        match self.instances.get(on) {
            // Not read: gone from EC2's reads, so terminated long since.
            None => comes(Some(on)),
            Some(i)
                if matches!(
                    i.state,
                    InstanceState::ShuttingDown | InstanceState::Terminated
                ) =>
            {
                comes(Some(on))
            }
            Some(i) if i.state == InstanceState::Stopped && !i.hibernated => comes(Some(on)),
            Some(i) => Stand::OnRunning(i),
        }
    }
}

/// R27: the seats whose volume a read of every declaration's volumes (a
/// sync's) does not show: never made, or deleted out of band. Only such a
/// read can tell: an event reads the volumes of the seats it may take.
pub fn missing(snapshot: &Snapshot) -> Vec<MissingVolume> {
    let volumes = Volumes::new(snapshot);
    let members = snapshot.members.iter().filter(|m| m.pool().is_some());
    let mut missing = Vec::new();
    for member in members {
        for (device, volume) in volumes.of(member) {
            if volume.is_none() {
                missing.push(MissingVolume {
                    pool: member.pool().unwrap_or_default().to_string(),
                    interface_id: member.id.clone(),
                    device: device.to_string(),
                });
            }
        }
    }
    missing
}

/// Plan step: every member volume on a stopped instance is detached (no
/// stopped instance holds a member, R4); each holder gets the volumes of
/// its member that can come; each free member with volumes goes to a new
/// holder only with all of them: one whose volume is not read yet, or sits
/// on a running instance that is leaving, waits (its placement unsettled);
/// one whose volume stays on a running instance is held back and reported
/// (its waiters see a shortage), unless that instance waits for a member of
/// the placement: then it gets this one.
pub(super) fn follow<'a>(
    snapshot: &'a Snapshot,
    volumes: &Volumes<'a>,
    survey: &mut Survey<'a>,
    plan: &mut Plan,
) {
    let members = snapshot
        .members
        .iter()
        .filter(|m| !volume_devices(m).is_empty());
    for member in members {
        for (_, volume) in volumes.of(member) {
            let Some(volume) = volume else { continue };
            let Some(a) = volume.attachment.as_ref() else {
                continue;
            };
            let on = volumes.instances.get(a.instance_id.as_str());
            // A hibernated OS has the volume mounted in its saved RAM.
            let stopped = on.is_some_and(|i| i.state == InstanceState::Stopped && !i.hibernated);
            let attached = matches!(
                a.status,
                VolumeAttachmentStatus::Attaching | VolumeAttachmentStatus::Attached
            );
            if stopped && attached {
                plan.actions.push(Action::DetachVolume(DetachVolume {
                    pool: member.pool().unwrap_or_default().to_string(),
                    volume_id: volume.id.clone(),
                    instance_id: a.instance_id.clone(),
                }));
            }
        }
    }
    to_holders(volumes, survey, plan);
    let placements: Vec<Placement> = survey.free.keys().cloned().collect();
    for placement in placements {
        let free = survey.free.remove(&placement).unwrap_or_default();
        let mut ready = Vec::new();
        for f in free {
            if let Some(f) = with_volumes(volumes, &placement, f, survey, plan) {
                ready.push(f);
            }
        }
        survey.free.insert(placement, ready);
    }
}

/// Each holder's missing volumes, where they can come; the others reported.
fn to_holders(volumes: &Volumes, survey: &Survey, plan: &mut Plan) {
    for (&(holder, pool), held) in &survey.holds {
        let Some(member) = held.first() else { continue };
        let running = volumes
            .instances
            .get(holder)
            .is_some_and(|i| i.state == InstanceState::Running);
        for (device, volume) in volumes.of(member) {
            let Some(volume) = volume else { continue };
            match volumes.stand(volume, device, Some(holder)) {
                Stand::There => {}
                Stand::Comes(_) if !running => {}
                Stand::Comes(volume) => plan.actions.push(Action::AttachVolume(AttachVolume {
                    pool: pool.to_string(),
                    instance_id: holder.to_string(),
                    volume,
                })),
                // It comes once that instance has ended or stopped.
                Stand::OnRunning(i) if leaving(i) => {}
                Stand::OnRunning(i) => plan.stranded.push(stranded(pool, member, volume, i)),
                Stand::Broken(reason) => plan.stranded.push(StrandedVolume {
                    pool: pool.to_string(),
                    interface_id: member.id.clone(),
                    volume_id: volume.id.clone(),
                    reason,
                }),
            }
        }
    }
}

/// A free member, with the moves of its volumes, when all can come.
fn with_volumes<'a>(
    volumes: &Volumes<'a>,
    placement: &Placement,
    mut free: Free<'a>,
    survey: &mut Survey<'a>,
    plan: &mut Plan,
) -> Option<Free<'a>> {
    let member = free.member;
    let pool = placement.pool.as_str();
    let mut on_running = Vec::new();
    for (device, volume) in volumes.of(member) {
        let Some(volume) = volume else {
            survey.unsettled.insert(placement.clone());
            return None;
        };
        match volumes.stand(volume, device, None) {
            Stand::There => {}
            Stand::Comes(m) => free.volumes.push(m),
            Stand::OnRunning(i) => on_running.push((volume, i)),
            Stand::Broken(reason) => {
                plan.stranded.push(StrandedVolume {
                    pool: pool.to_string(),
                    interface_id: member.id.clone(),
                    volume_id: volume.id.clone(),
                    reason,
                });
                return None;
            }
        }
    }
    let Some(&(_, first)) = on_running.first() else {
        return Some(free);
    };
    // All on one instance that waits here: it gets this member (R27).
    let one = on_running.iter().all(|(_, i)| i.id == first.id);
    let waiters = survey.waiting.get_mut(placement);
    let at = waiters.and_then(|w| w.iter().position(|i| i.id == first.id));
    if let Some(at) = at.filter(|_| one) {
        let waiter = survey.waiting.get_mut(placement).expect("read").remove(at);
        let leaving = Leaving {
            pool_index: survey.device_index[pool],
            members: &survey.leaving,
        };
        assign(placement, &[waiter], &[free], leaving, plan);
        return None;
    }
    for (volume, i) in on_running {
        match leaving(i) {
            true => {
                survey.unsettled.insert(placement.clone());
                survey.volume_waits.insert(placement.clone());
            }
            false => plan.stranded.push(stranded(pool, member, volume, i)),
        }
    }
    None
}

/// An instance on its way out (or not yet in): one whose volumes will be
/// let go without the manager detaching them from a running OS.
/// On its way out: its volumes come once it has ended or stopped. A
/// hibernated instance is not: it rests with them mounted (R27).
fn leaving(i: &Instance) -> bool {
    !i.hibernated && (i.leaving_reason().is_some() || i.state != InstanceState::Running)
}

fn stranded(
    pool: &str,
    member: &NetworkInterface,
    volume: &Volume,
    on: &Instance,
) -> StrandedVolume {
    StrandedVolume {
        pool: pool.to_string(),
        interface_id: member.id.clone(),
        volume_id: volume.id.clone(),
        reason: format!(
            "attached to {} ({}), which does not hold the member; never detached from a running{} instance",
            on.id,
            on.state.as_str(),
            if on.hibernated { " or hibernated" } else { "" }
        ),
    }
}

/// The volumes a launch waits for besides its member (R20, R27): those of
/// the member it holds, when each is attached to it or this plan attaches
/// it; `None` while one is not read, or cannot come now.
pub(super) fn awaited(
    volumes: &Volumes,
    member: &NetworkInterface,
    instance: &str,
    plan: &Plan,
) -> Option<Vec<String>> {
    let planned = |id: &str| {
        plan.actions.iter().any(|a| {
            matches!(a, Action::AttachVolume(v) if v.instance_id == instance && v.volume.volume_id == id)
        })
    };
    let mut ids = Vec::new();
    for (device, volume) in volumes.of(member) {
        let volume = volume?;
        let there = matches!(volumes.stand(volume, device, Some(instance)), Stand::There);
        if !there && !planned(&volume.id) {
            return None;
        }
        ids.push(volume.id.clone());
    }
    Some(ids)
}
