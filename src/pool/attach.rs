//! One attach of a plan: its candidates tried in order until one is attached.
//! EC2 is the lock (R6): an interface taken meanwhile means the next
//! candidate; a device index taken means reading who took it (R11).

use std::collections::BTreeSet;

use super::claim::{occupant, settled, Occupant};
use super::model::{Attach, Candidate};
use super::report::{Attached, Failed, Left, LeftAction};
use super::settings::Settings;
use crate::aws::{ErrorKind, Missing};
use crate::deadline::Deadline;
use crate::ec2::Ec2;

pub(super) enum AttachResult {
    Attached(Attached),
    AlreadyHeld(String),
    NoCandidateLeft(Attach),
    Failed(Failed),
    /// Not started, or stopped between calls: the deadline came (R24).
    Left(Left),
}

impl AttachResult {
    pub(super) fn pool(&self) -> &str {
        match self {
            Self::Attached(a) => &a.pool,
            Self::AlreadyHeld(pool) => pool,
            Self::NoCandidateLeft(a) => &a.pool,
            Self::Failed(f) => &f.pool,
            Self::Left(left) => &left.pool,
        }
    }
}

/// The attach's result, and how many races it lost on the way.
pub(super) async fn attach(
    ec2: &dyn Ec2,
    a: Attach,
    stuck: &BTreeSet<String>,
    deadline: Deadline,
    settings: &Settings,
) -> (AttachResult, u32) {
    let mut conflicts = 0;
    let left = left(&a);
    let result = attach_counting(ec2, a, stuck, deadline, settings, &mut conflicts).await;
    match result {
        AttachResult::Failed(f) if f.is_deferred() => (AttachResult::Left(left), conflicts),
        result => (result, conflicts),
    }
}

async fn attach_counting(
    ec2: &dyn Ec2,
    a: Attach,
    stuck: &BTreeSet<String>,
    deadline: Deadline,
    settings: &Settings,
    conflicts: &mut u32,
) -> AttachResult {
    let mut index = a.device_index;
    let mut candidates = a
        .candidates
        .iter()
        .filter(|c| !stuck.contains(&c.interface_id));
    let mut current = candidates.next();
    if current.is_none() {
        let why = "every candidate is still held by an instance whose detach failed";
        return AttachResult::Failed(gave_up(&a, why));
    }
    let mut attempts = 0;
    while let Some(candidate) = current {
        if attempts == settings.max_attempts {
            return AttachResult::Failed(gave_up(&a, "attach attempts exhausted"));
        }
        if deadline.expired() {
            return AttachResult::Left(left(&a));
        }
        let id = &candidate.interface_id;
        if let Some(former) = &candidate.freed_from {
            match settled(ec2, id, former, deadline, settings.backoff).await {
                Ok(Some(true)) => {}
                Ok(Some(false)) => {
                    current = candidates.next();
                    continue;
                }
                Ok(None) => {
                    let why = format!("the deadline came while {id} was detaching from {former}");
                    return AttachResult::Failed(gave_up(&a, &why));
                }
                Err(e) => {
                    return AttachResult::Failed(Failed::of(&a.pool, &a.instance_id, None, &e))
                }
            }
        }
        attempts += 1;
        match ec2.attach(id, &a.instance_id, index).await {
            Ok(_) => return AttachResult::Attached(attached(&a, candidate, index)),
            // A freed member read as available too early: wait for it again.
            Err(e) if e.is(ErrorKind::InUse) && candidate.freed_from.is_some() => {}
            Err(e) if e.is(ErrorKind::InUse) => {
                *conflicts += 1;
                current = candidates.next();
            }
            // R14: a candidate deleted meanwhile.
            Err(e) if e.is(ErrorKind::NotFound(Missing::Interface)) => current = candidates.next(),
            Err(e) if e.is(ErrorKind::DeviceIndexTaken) => {
                match occupant(ec2, &a, index).await {
                    Ok(Occupant::Member) => {
                        *conflicts += 1;
                        return AttachResult::AlreadyHeld(a.pool.clone());
                    }
                    Ok(Occupant::Other { next_index }) => index = next_index,
                    Ok(Occupant::Leaving(occupant_id)) => {
                        let gone = settled(
                            ec2,
                            &occupant_id,
                            &a.instance_id,
                            deadline,
                            settings.backoff,
                        );
                        match gone.await {
                            Ok(Some(_)) => {}
                            Ok(None) => {
                                let why = format!("the deadline came while {occupant_id} left");
                                return AttachResult::Failed(gave_up(&a, &why));
                            }
                            Err(e) => {
                                return AttachResult::Failed(Failed::of(
                                    &a.pool,
                                    &a.instance_id,
                                    None,
                                    &e,
                                ))
                            }
                        }
                    }
                    // Retrying the same index is always safe: EC2 refuses it
                    // while taken. Give the reads time to catch up.
                    Ok(Occupant::Unseen) => {
                        deadline.sleep(settings.backoff.first).await;
                    }
                    Err(e) => {
                        return AttachResult::Failed(Failed::of(&a.pool, &a.instance_id, None, &e))
                    }
                }
            }
            Err(e) => {
                return AttachResult::Failed(Failed::of(&a.pool, &a.instance_id, Some(id), &e))
            }
        }
    }
    AttachResult::NoCandidateLeft(a)
}

fn left(a: &Attach) -> Left {
    Left {
        action: LeftAction::Attach,
        pool: a.pool.clone(),
        instance_id: a.instance_id.clone(),
    }
}

fn attached(a: &Attach, candidate: &Candidate, index: i32) -> Attached {
    Attached {
        pool: a.pool.clone(),
        interface_id: candidate.interface_id.clone(),
        instance_id: a.instance_id.clone(),
        device_index: index,
        reason: a.reason.clone(),
        waiting_since: a.waiting_since,
    }
}

fn gave_up(a: &Attach, why: &str) -> Failed {
    Failed::gave_up(&a.pool, &a.instance_id, why)
}
