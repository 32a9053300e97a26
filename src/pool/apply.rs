//! The executor: carries out a plan and handles EC2's answers. EC2 is the
//! lock (R6): an interface taken meanwhile means the next candidate, a device
//! index taken means a fresh read. Every wait is bounded by the deadline (R8).

use std::collections::BTreeMap;
use std::time::Duration;

use futures::stream::{self, StreamExt};
use serde::Serialize;

use super::plan::{device_index, Action, Attach, Detach, Plan, Shortage};
use crate::deadline::Deadline;
use crate::ec2::{Ec2, Ec2Error, ErrorKind, InstanceQuery, InterfaceQuery, InterfaceStatus};

/// Bounds of the executor; tests pass small delays.
#[derive(Clone, Debug)]
pub struct Settings {
    /// EC2 calls in flight at once.
    pub concurrency: usize,
    /// Attach attempts per instance, over all candidates and indexes.
    pub max_attempts: u32,
    /// First and longest pause while a freed interface settles.
    pub poll_start: Duration,
    pub poll_max: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            concurrency: 8,
            max_attempts: 8,
            poll_start: Duration::from_millis(250),
            poll_max: Duration::from_secs(2),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attached {
    pub pool: String,
    pub interface_id: String,
    pub instance_id: String,
    pub device_index: i32,
    pub reason: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failed {
    pub pool: String,
    pub instance_id: String,
    pub interface_id: Option<String>,
    pub error: String,
    /// Worth trying again (throttling, server error, deadline).
    pub transient: bool,
}

/// What was done; serialised as the outcome of an invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub attached: Vec<Attached>,
    pub detached: Vec<Detach>,
    pub failed: Vec<Failed>,
    pub shortages: Vec<Shortage>,
}

impl Report {
    pub fn has_transient_failure(&self) -> bool {
        self.failed.iter().any(|f| f.transient)
    }
}

enum AttachResult {
    Attached(Attached),
    AlreadyHeld,
    NoCandidateLeft(Attach),
    Failed(Failed),
}

/// Carries out `plan`: detaches first, then attaches, each batch concurrently.
pub async fn apply(ec2: &dyn Ec2, plan: Plan, deadline: Deadline, settings: &Settings) -> Report {
    let mut report = Report {
        shortages: plan.shortages,
        ..Report::default()
    };
    let (mut detaches, mut attaches) = (Vec::new(), Vec::new());
    for action in plan.actions {
        match action {
            Action::Detach(d) => detaches.push(d),
            Action::Attach(a) => attaches.push(a),
        }
    }

    // Freed interface -> the instance it was detached from.
    let mut freed = BTreeMap::new();
    let detached: Vec<_> = stream::iter(detaches)
        .map(|d| detach(ec2, d))
        .buffer_unordered(settings.concurrency)
        .collect()
        .await;
    for result in detached {
        match result {
            Ok(d) => {
                freed.insert(d.interface_id.clone(), d.instance_id.clone());
                report.detached.push(d);
            }
            Err(f) => report.failed.push(f),
        }
    }

    let attached: Vec<_> = stream::iter(attaches)
        .map(|a| attach(ec2, a, &freed, deadline, settings))
        .buffer_unordered(settings.concurrency)
        .collect()
        .await;
    for result in attached {
        match result {
            AttachResult::Attached(a) => report.attached.push(a),
            AttachResult::AlreadyHeld => {}
            AttachResult::NoCandidateLeft(a) => add_shortage(&mut report.shortages, a),
            AttachResult::Failed(f) => report.failed.push(f),
        }
    }
    sort(&mut report);
    report
}

async fn detach(ec2: &dyn Ec2, d: Detach) -> Result<Detach, Failed> {
    match ec2.detach(&d.attachment_id, false).await {
        // Already detached: the goal is reached.
        Ok(()) => Ok(d),
        Err(e) if e.is(ErrorKind::NotFound) => Ok(d),
        Err(e) => Err(failed(&d.pool, &d.instance_id, Some(&d.interface_id), &e)),
    }
}

async fn attach(
    ec2: &dyn Ec2,
    a: Attach,
    freed: &BTreeMap<String, String>,
    deadline: Deadline,
    settings: &Settings,
) -> AttachResult {
    let mut index = a.device_index;
    let mut candidates = a.candidates.iter();
    let mut current = candidates.next();
    for _ in 0..settings.max_attempts {
        let Some(interface_id) = current else {
            return AttachResult::NoCandidateLeft(a);
        };
        if deadline.expired() {
            return AttachResult::Failed(gave_up(&a, "the deadline came before the attach"));
        }
        if let Some(former) = freed.get(interface_id) {
            match settled(ec2, interface_id, former, deadline, settings).await {
                Ok(Settled::Available) => {}
                Ok(Settled::Gone) => {
                    current = candidates.next();
                    continue;
                }
                Ok(Settled::Late) => {
                    let why = format!("the deadline came while {interface_id} was detaching");
                    return AttachResult::Failed(gave_up(&a, &why));
                }
                Err(e) => return AttachResult::Failed(failed(&a.pool, &a.instance_id, None, &e)),
            }
        }
        match ec2.attach(interface_id, &a.instance_id, index).await {
            Ok(_) => {
                return AttachResult::Attached(Attached {
                    pool: a.pool.clone(),
                    interface_id: interface_id.clone(),
                    instance_id: a.instance_id.clone(),
                    device_index: index,
                    reason: a.reason.clone(),
                })
            }
            Err(e) if e.is(ErrorKind::InUse) => current = candidates.next(),
            Err(e) if e.is(ErrorKind::DeviceIndexTaken) => match reread(ec2, &a).await {
                Ok(Some(next)) => index = next,
                Ok(None) => return AttachResult::AlreadyHeld,
                Err(e) => return AttachResult::Failed(failed(&a.pool, &a.instance_id, None, &e)),
            },
            Err(e) => {
                let f = failed(&a.pool, &a.instance_id, Some(interface_id), &e);
                return AttachResult::Failed(f);
            }
        }
    }
    AttachResult::Failed(gave_up(&a, "attach attempts exhausted"))
}

/// After "device index taken": `None` when the instance now holds a member of
/// the pool (another invocation won), else the next index to try.
async fn reread(ec2: &dyn Ec2, a: &Attach) -> Result<Option<i32>, Ec2Error> {
    let held = InterfaceQuery::pools(std::slice::from_ref(&a.pool)).attached_to(&a.instance_id);
    let instance = InstanceQuery::Ids(vec![a.instance_id.clone()]);
    let (held, instance) = tokio::join!(
        ec2.describe_interfaces(&held),
        ec2.describe_instances(&instance)
    );
    let holds = held?
        .iter()
        .any(|m| m.attachment.as_ref().is_some_and(|at| at.device_index != 0));
    if holds {
        return Ok(None);
    }
    match instance?.first() {
        Some(i) => Ok(Some(device_index(i, a.device_index))),
        None => Err(Ec2Error::from_code(
            "InvalidInstanceID.NotFound",
            &format!("instance {} is gone", a.instance_id),
        )),
    }
}

/// How the wait for a freed interface ended.
enum Settled {
    Available,
    /// It went to someone else or vanished.
    Gone,
    /// Still detaching when the deadline came.
    Late,
}

/// Waits until an interface detached from `former` is `available`, bounded
/// by the deadline.
async fn settled(
    ec2: &dyn Ec2,
    interface_id: &str,
    former: &str,
    deadline: Deadline,
    settings: &Settings,
) -> Result<Settled, Ec2Error> {
    let query = InterfaceQuery::ids(&[interface_id.to_string()]);
    let mut pause = settings.poll_start;
    loop {
        let found = ec2.describe_interfaces(&query).await?;
        let Some(eni) = found.first() else {
            return Ok(Settled::Gone);
        };
        match (eni.status, &eni.attachment) {
            (InterfaceStatus::Available, None) => return Ok(Settled::Available),
            // Still detaching, whichever status EC2 shows meanwhile.
            (InterfaceStatus::Detaching, _) => {}
            (_, Some(a)) if a.instance_id == former => {}
            _ => return Ok(Settled::Gone),
        }
        if !deadline.sleep(pause).await {
            return Ok(Settled::Late);
        }
        pause = (pause * 2).min(settings.poll_max);
    }
}

fn failed(pool: &str, instance_id: &str, interface_id: Option<&String>, e: &Ec2Error) -> Failed {
    Failed {
        pool: pool.to_string(),
        instance_id: instance_id.to_string(),
        interface_id: interface_id.cloned(),
        error: e.to_string(),
        transient: e.is(ErrorKind::Transient),
    }
}

fn gave_up(a: &Attach, why: &str) -> Failed {
    Failed {
        pool: a.pool.clone(),
        instance_id: a.instance_id.clone(),
        interface_id: None,
        error: why.to_string(),
        transient: true,
    }
}

fn add_shortage(shortages: &mut Vec<Shortage>, a: Attach) {
    let same = |s: &&mut Shortage| s.pool == a.pool && s.availability_zone == a.availability_zone;
    match shortages.iter_mut().find(|s| same(s)) {
        Some(s) => s.instance_ids.push(a.instance_id),
        None => shortages.push(Shortage {
            pool: a.pool,
            availability_zone: a.availability_zone,
            instance_ids: vec![a.instance_id],
        }),
    }
}

/// Concurrency finishes in any order; outcomes are listed in a stable one.
fn sort(report: &mut Report) {
    report
        .attached
        .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    report
        .detached
        .sort_by(|a, b| a.interface_id.cmp(&b.interface_id));
    report
        .failed
        .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    for s in &mut report.shortages {
        s.instance_ids.sort();
    }
}
