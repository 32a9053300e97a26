//! What an invocation did: the executor's report, its failures (with the
//! kind of each, as the adapters classified it) and what it left for later.

use std::collections::BTreeMap;

use serde::{Serialize, Serializer};

use super::model::{
    AttachVolume, Detach, DetachVolume, Identify, KeepOnTermination, Shortage, StrandedVolume,
    Unusable,
};
use crate::autoscaling::{LifecycleAction, Transition};
use crate::aws::{AwsError, ErrorKind};

/// A member given to a waiting instance.
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

/// An action that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Failed {
    pub pool: String,
    pub instance_id: String,
    pub interface_id: Option<String>,
    /// AWS's error code, when AWS answered one (for the logs).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    pub error: String,
    /// What the adapter made of it; serialised as whether it is worth
    /// trying again (throttling, server error, deadline).
    #[serde(rename = "transient", serialize_with = "transient")]
    pub kind: ErrorKind,
}

fn transient<S: Serializer>(kind: &ErrorKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_bool(kind.is_transient())
}

/// What was done; serialised as the outcome of an invocation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    pub attached: Vec<Attached>,
    pub detached: Vec<Detach>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub kept_on_termination: Vec<KeepOnTermination>,
    /// Holders' identity tags set or removed (R26).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub identified: Vec<Identify>,
    /// Members' data volumes attached to their holders (R27).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_attached: Vec<AttachVolume>,
    /// Members' data volumes taken off stopped instances (R27).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes_detached: Vec<DetachVolume>,
    /// Members' data volumes that cannot go to their holders now (R27).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stranded: Vec<StrandedVolume>,
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
    pub continued: Vec<Continued>,
    /// Launches kept open while their seat's volume is on its way: their
    /// timeouts started again (R27).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub heartbeats: Vec<LifecycleAction>,
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
    Identify,
    DetachVolume,
    AttachVolume,
    LifecycleAction,
}

impl Failed {
    /// `error` of `e`, on `pool`, `instance_id` and `interface_id`.
    pub fn of(pool: &str, instance_id: &str, interface_id: Option<&String>, e: &AwsError) -> Self {
        Self {
            pool: pool.to_string(),
            instance_id: instance_id.to_string(),
            interface_id: interface_id.cloned(),
            code: Some(e.code.clone()),
            error: e.to_string(),
            kind: e.kind,
        }
    }

    /// Gave up for a reason that may pass (EC2 still settling, the
    /// deadline): worth trying again.
    pub fn gave_up(pool: &str, instance_id: &str, why: &str) -> Self {
        Self {
            pool: pool.to_string(),
            instance_id: instance_id.to_string(),
            interface_id: None,
            code: None,
            error: why.to_string(),
            kind: ErrorKind::Transient,
        }
    }

    /// Worth trying again: the retry (or the next sync) comes back for it.
    pub fn is_transient(&self) -> bool {
        self.kind.is_transient()
    }

    /// Not sent: the pacing's next token came after the deadline (R24).
    pub fn is_deferred(&self) -> bool {
        self.kind == ErrorKind::Deferred
    }
}

impl Report {
    pub fn has_transient_failure(&self) -> bool {
        self.failed.iter().any(Failed::is_transient)
    }

    /// How many actions of `kind` were left for later.
    pub fn left_of(&self, kind: LeftAction) -> usize {
        self.left.iter().filter(|l| l.action == kind).count()
    }

    /// Adds what another part of the same invocation did.
    pub fn absorb(&mut self, other: Report) {
        self.attached.extend(other.attached);
        self.detached.extend(other.detached);
        self.kept_on_termination.extend(other.kept_on_termination);
        self.identified.extend(other.identified);
        self.volumes_attached.extend(other.volumes_attached);
        self.volumes_detached.extend(other.volumes_detached);
        self.stranded.extend(other.stranded);
        self.failed.extend(other.failed);
        self.shortages.extend(other.shortages);
        self.unusable.extend(other.unusable);
        self.left.extend(other.left);
        self.continued.extend(other.continued);
        self.heartbeats.extend(other.heartbeats);
        for (pool, n) in other.claim_conflicts {
            *self.claim_conflicts.entry(pool).or_default() += n;
        }
        self.detached
            .sort_by(|a, b| a.interface_id.cmp(&b.interface_id));
        self.failed
            .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    }

    /// Records a deferred action as left for later.
    pub(super) fn leave(&mut self, action: LeftAction, f: Failed) {
        self.left.push(Left {
            action,
            pool: f.pool,
            instance_id: f.instance_id,
        });
    }
}

/// A lifecycle action completed with `CONTINUE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Continued {
    #[serde(flatten)]
    pub action: LifecycleAction,
    pub transition: Transition,
    /// No action was open any more: completed before, or timed out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_done: bool,
}
