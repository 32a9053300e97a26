//! One attach of a plan: its candidates tried in order until one is attached.
//! EC2 is the lock (R6): an interface taken meanwhile means the next
//! candidate; a device index taken means reading who took it (R11); a
//! member still leaving its former holder is attached as soon as EC2 lets
//! go of it, the refusal itself saying it has not yet (R12).

use std::collections::BTreeSet;

use super::claim::{occupant, settled, Occupant};
use super::model::{Attach, Candidate};
use super::report::{Attached, Failed, Left, LeftAction};
use super::settings::Settings;
use crate::aws::{AwsError, ErrorKind, Missing};
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

/// What to do after one attach call.
enum Step {
    Done(AttachResult),
    /// The same candidate at the same index again.
    Again,
    /// The next candidate; `lost`: another invocation took this one.
    Next {
        lost: bool,
    },
    /// The same candidate at another index.
    Index(i32),
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
        attempts += 1;
        let answer = ec2
            .attach(&candidate.interface_id, &a.instance_id, index)
            .await;
        let step = match answer {
            Ok(_) => Step::Done(AttachResult::Attached(attached(&a, candidate, index))),
            Err(e) => refused(ec2, &a, candidate, index, e, deadline, settings).await,
        };
        match step {
            Step::Done(result) => {
                *conflicts += u32::from(matches!(result, AttachResult::AlreadyHeld(_)));
                return result;
            }
            Step::Again => {}
            Step::Next { lost } => {
                *conflicts += u32::from(lost);
                current = candidates.next();
            }
            Step::Index(next) => index = next,
        }
    }
    AttachResult::NoCandidateLeft(a)
}

/// What EC2's refusal of an attach means for the next step.
async fn refused(
    ec2: &dyn Ec2,
    a: &Attach,
    candidate: &Candidate,
    index: i32,
    e: AwsError,
    deadline: Deadline,
    settings: &Settings,
) -> Step {
    let id = &candidate.interface_id;
    match e.kind {
        // R12: EC2 has not let go of the freed member yet.
        ErrorKind::InUse => match &candidate.freed_from {
            Some(former) => released(ec2, a, id, former, deadline, settings).await,
            None => Step::Next { lost: true },
        },
        // R14: a candidate deleted meanwhile.
        ErrorKind::NotFound(Missing::Interface) => Step::Next { lost: false },
        ErrorKind::DeviceIndexTaken => index_taken(ec2, a, index, deadline, settings).await,
        _ => Step::Done(AttachResult::Failed(Failed::of(
            &a.pool,
            &a.instance_id,
            Some(id),
            &e,
        ))),
    }
}

/// Waits until `id`, leaving `former`, reads free: then again; gone
/// elsewhere, the next candidate.
async fn released(
    ec2: &dyn Ec2,
    a: &Attach,
    id: &str,
    former: &str,
    deadline: Deadline,
    settings: &Settings,
) -> Step {
    match settled(ec2, id, former, deadline, settings.backoff).await {
        Ok(Some(true)) => Step::Again,
        Ok(Some(false)) => Step::Next { lost: false },
        Ok(None) => {
            let why = format!("the deadline came while {id} was detaching from {former}");
            Step::Done(AttachResult::Failed(gave_up(a, &why)))
        }
        Err(e) => Step::Done(failed(a, &e)),
    }
}

/// R11: who holds the index decides: a member of the pool (the instance
/// holds one), one leaving (wait for it), one in no pool (the next index),
/// or nobody the reads show yet (the same index again, a little later).
async fn index_taken(
    ec2: &dyn Ec2,
    a: &Attach,
    index: i32,
    deadline: Deadline,
    settings: &Settings,
) -> Step {
    match occupant(ec2, a, index).await {
        Ok(Occupant::Member) => Step::Done(AttachResult::AlreadyHeld(a.pool.clone())),
        Ok(Occupant::Other { next_index }) => Step::Index(next_index),
        Ok(Occupant::Leaving(occupant_id)) => {
            let gone = settled(
                ec2,
                &occupant_id,
                &a.instance_id,
                deadline,
                settings.backoff,
            );
            match gone.await {
                Ok(Some(_)) => Step::Again,
                Ok(None) => {
                    let why = format!("the deadline came while {occupant_id} left");
                    Step::Done(AttachResult::Failed(gave_up(a, &why)))
                }
                Err(e) => Step::Done(failed(a, &e)),
            }
        }
        // Retrying the same index is always safe: EC2 refuses it while
        // taken. Give the reads time to catch up.
        Ok(Occupant::Unseen) => {
            deadline.sleep(settings.backoff.first).await;
            Step::Again
        }
        Err(e) => Step::Done(failed(a, &e)),
    }
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

fn failed(a: &Attach, e: &AwsError) -> AttachResult {
    AttachResult::Failed(Failed::of(&a.pool, &a.instance_id, None, e))
}

fn gave_up(a: &Attach, why: &str) -> Failed {
    Failed::gave_up(&a.pool, &a.instance_id, why)
}
