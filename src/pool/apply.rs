//! The executor: carries out a plan and handles EC2's answers, most urgent
//! first, stopping between actions when the deadline comes (R24). Every wait
//! is bounded by the deadline (R8).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;

use super::attach::{attach, AttachResult};
use super::plan::{Action, Attach, Detach, KeepOnTermination, Plan, Shortage, Unusable};
use crate::concurrent::concurrently;
use crate::deadline::{Backoff, Deadline};
use crate::ec2::{paced, Ec2, Ec2Error, ErrorKind, InterfaceChange};

/// Told of the executor's work as it goes (the CLI's progress bar).
pub trait Progress: Send + Sync {
    /// `actions` more are planned.
    fn planned(&self, actions: u64);
    /// One more is done (or failed, or left); EC2 has throttled `throttled`
    /// attempts so far.
    fn done(&self, throttled: u64);
}

/// Where progress goes, if anywhere.
#[derive(Clone, Default)]
pub struct ProgressSink(pub Option<std::sync::Arc<dyn Progress>>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Progress" } else { "None" })
    }
}

/// Bounds of the executor; tests pass small delays.
#[derive(Clone, Debug)]
pub struct Settings {
    /// EC2 calls in flight at once.
    pub concurrency: usize,
    /// Attach calls per instance, over all candidates and indexes.
    pub max_attempts: u32,
    /// Pauses while EC2 settles: a freed member, a fresh read.
    pub backoff: Backoff,
    /// How long an event waits for EC2's reads to catch up with it (R16).
    pub fresh_wait: Duration,
    /// Whether instances in `Standby` may hold a member (R19).
    pub standby_holds: bool,
    /// The share of each EC2 request bucket the manager may draw (R23).
    pub ec2_share: f64,
    pub progress: ProgressSink,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            concurrency: 8,
            max_attempts: 8,
            backoff: Backoff::default(),
            fresh_wait: Duration::from_secs(20),
            standby_holds: true,
            ec2_share: 0.5,
            progress: ProgressSink::default(),
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
    /// When the instance was launched or started (epoch milliseconds).
    #[serde(skip)]
    pub waiting_since: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failed {
    pub pool: String,
    pub instance_id: String,
    pub interface_id: Option<String>,
    /// EC2's error code, when EC2 answered one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub error: String,
    /// Worth trying again (throttling, server error, deadline).
    pub transient: bool,
}

/// What was done; serialised as the outcome of an invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub attached: Vec<Attached>,
    pub detached: Vec<Detach>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept_on_termination: Vec<KeepOnTermination>,
    pub failed: Vec<Failed>,
    pub shortages: Vec<Shortage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unusable: Vec<Unusable>,
    /// Actions left for later: not started because the pacing's next
    /// token came after the deadline, or a lifecycle action whose member
    /// did not read attached before it (R20, R24).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left: Vec<Left>,
    /// Lifecycle actions of our hooks completed with `CONTINUE` (R20, R21).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub continued: Vec<super::proceed::Continued>,
    /// Races lost to another invocation, by pool: a candidate taken
    /// meanwhile, or an instance served meanwhile (R6, R11).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub claim_conflicts: BTreeMap<String, u32>,
}

/// An action left for later (R24).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Left {
    pub action: LeftAction,
    pub pool: String,
    pub instance_id: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LeftAction {
    Detach,
    KeepOnTermination,
    Attach,
    LifecycleAction,
}

impl Failed {
    /// Not sent: the pacing's next token came after the deadline (R24).
    pub fn is_deferred(&self) -> bool {
        self.code.as_deref() == Some(paced::DEFERRED)
    }
}

impl Report {
    pub fn has_transient_failure(&self) -> bool {
        self.failed.iter().any(|f| f.transient)
    }

    /// How many actions of `kind` were left for later.
    pub fn left_of(&self, kind: LeftAction) -> usize {
        self.left.iter().filter(|l| l.action == kind).count()
    }

    fn leave(&mut self, action: LeftAction, f: Failed) {
        self.left.push(Left {
            action,
            pool: f.pool,
            instance_id: f.instance_id,
        });
    }
}

/// Carries out `plan`: detaches, then DeleteOnTermination changes, then
/// attaches, each batch concurrently.
pub async fn apply(ec2: &dyn Ec2, plan: Plan, deadline: Deadline, settings: &Settings) -> Report {
    let mut report = Report {
        shortages: plan.shortages,
        unusable: plan.unusable,
        ..Report::default()
    };
    let (mut detaches, mut keeps, mut attaches) = (Vec::new(), Vec::new(), Vec::new());
    for action in plan.actions {
        match action {
            Action::Detach(d) => detaches.push(d),
            Action::KeepOnTermination(k) => keeps.push(k),
            Action::Attach(a) => attaches.push(a),
        }
    }

    let progress = settings.progress.0.as_deref();
    let tick = || {
        if let Some(p) = progress {
            p.done(ec2.throttled());
        }
    };
    if let Some(p) = progress {
        p.planned((detaches.len() + keeps.len() + attaches.len()) as u64);
    }
    // R24: the most urgent first: members taken back (their instances are
    // gone or leaving), then the instances waiting longest.
    attaches.sort_by_key(|a: &Attach| a.waiting_since.unwrap_or(u64::MAX));
    // Members whose detach failed are still held: no attach waits for them.
    let mut stuck = BTreeSet::new();
    let detach = |d| async {
        let result = detach(ec2, d).await;
        tick();
        result
    };
    for result in concurrently(settings.concurrency, detaches, detach).await {
        match result {
            Ok(Some(d)) => report.detached.push(d),
            Ok(None) => {}
            Err(f) => {
                stuck.extend(f.interface_id.clone());
                match f.is_deferred() {
                    true => report.leave(LeftAction::Detach, f),
                    false => report.failed.push(f),
                }
            }
        }
    }
    let keep = |k| async {
        let result = keep(ec2, k).await;
        tick();
        result
    };
    for result in concurrently(settings.concurrency, keeps, keep).await {
        match result {
            Ok(k) => report.kept_on_termination.push(k),
            Err(f) if f.is_deferred() => report.leave(LeftAction::KeepOnTermination, f),
            Err(f) => report.failed.push(f),
        }
    }
    let attach = |a| async {
        let result = attach(ec2, a, &stuck, deadline, settings).await;
        tick();
        result
    };
    let attached = concurrently(settings.concurrency, attaches, attach).await;
    for (result, conflicts) in attached {
        if conflicts > 0 {
            *report
                .claim_conflicts
                .entry(result.pool().into())
                .or_default() += conflicts;
        }
        match result {
            AttachResult::Attached(a) => report.attached.push(a),
            AttachResult::AlreadyHeld(_) => {}
            AttachResult::NoCandidateLeft(a) => add_shortage(&mut report.shortages, a),
            AttachResult::Failed(f) => report.failed.push(f),
            AttachResult::Left(left) => report.left.push(left),
        }
    }
    sort(&mut report);
    report
}

/// `None` when it was detached already (a lagging read planned it).
async fn detach(ec2: &dyn Ec2, d: Detach) -> Result<Option<Detach>, Failed> {
    match ec2.detach(&d.attachment_id).await {
        Ok(()) => Ok(Some(d)),
        Err(e) if e.is(ErrorKind::NotFound) => Ok(None),
        Err(e) => Err(failed(&d.pool, &d.instance_id, Some(&d.interface_id), &e)),
    }
}

async fn keep(ec2: &dyn Ec2, k: KeepOnTermination) -> Result<KeepOnTermination, Failed> {
    let change = InterfaceChange::DeleteOnTermination {
        attachment_id: k.attachment_id.clone(),
        delete: false,
    };
    match ec2.modify_interface(&k.interface_id, &change).await {
        Ok(()) => Ok(k),
        Err(e) => Err(failed(&k.pool, &k.instance_id, Some(&k.interface_id), &e)),
    }
}

pub(super) fn failed(
    pool: &str,
    instance_id: &str,
    interface_id: Option<&String>,
    e: &Ec2Error,
) -> Failed {
    Failed {
        pool: pool.to_string(),
        instance_id: instance_id.to_string(),
        interface_id: interface_id.cloned(),
        code: Some(e.code.clone()),
        error: e.to_string(),
        transient: e.is_transient(),
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
        .kept_on_termination
        .sort_by(|a, b| a.interface_id.cmp(&b.interface_id));
    report
        .failed
        .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    report
        .left
        .sort_by(|a, b| (a.action, &a.instance_id).cmp(&(b.action, &b.instance_id)));
    for s in &mut report.shortages {
        s.instance_ids.sort();
    }
}
