//! Auto Scaling, as far as pools go: which group instances may hold a member
//! (their lifecycle state, R19), and the lifecycle actions of our hooks
//! (R20-R22). The calls sit behind a trait, like EC2's; their errors are
//! reduced to the same kinds (`aws`).

pub mod sdk;

use crate::aws::{AwsError, CallCounts};
use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;

/// The tag Auto Scaling puts on its instances [ASG-TAGS]: only instances
/// that carry it are read from Auto Scaling.
pub const GROUP_TAG: &str = "aws:autoscaling:groupName";

/// The hooks that are ours start with this name; no other hook is ever
/// completed (R20).
pub const HOOK_PREFIX: &str = "network-interface-manager";

/// At most this many instance ids per `DescribeAutoScalingInstances`.
pub const DESCRIBE_BATCH: usize = 50;

/// An instance's place in its group, as Auto Scaling reads it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Membership {
    pub group: String,
    /// `InService`, `Pending:Wait`, `Warmed:Running`, ... [ASG-STATES].
    pub lifecycle_state: String,
    /// Whether this state may hold a member (R19).
    pub serves: bool,
    /// Its health status is not `UNHEALTHY`: the group does not mean to
    /// replace it (R28).
    pub healthy: bool,
    /// An instance refresh of its group replaces it (R28).
    pub refreshed_out: bool,
}

impl Membership {
    pub fn new(group: String, lifecycle_state: String, standby_holds: bool) -> Self {
        let serves = serves(&lifecycle_state, standby_holds);
        Self {
            group,
            lifecycle_state,
            serves,
            healthy: true,
            refreshed_out: false,
        }
    }

    /// The transitions whose lifecycle action may hold the instance in its
    /// state (R20, R21): a launch in `Pending:Wait`; a termination in
    /// `Terminating:Wait` or, from the warm pool, `Warmed:Terminating:Wait`;
    /// in `Warmed:Pending:Wait`, a launch into the warm pool or a scale-in
    /// back into it, which the terminate hook holds there [ASG-WPEV].
    pub fn waits_for(&self) -> &'static [Transition] {
        match self.lifecycle_state.as_str() {
            "Pending:Wait" => &[Transition::Launching],
            "Terminating:Wait" | "Warmed:Terminating:Wait" => &[Transition::Terminating],
            "Warmed:Pending:Wait" => &[Transition::Launching, Transition::Terminating],
            _ => &[],
        }
    }
}

/// R19: whether an instance in this lifecycle state may hold a member.
/// Never while warmed, terminating or retained; standby by the setting;
/// every other state (pending, in service, detaching, one AWS adds later)
/// as if standalone.
pub fn serves(lifecycle_state: &str, standby_holds: bool) -> bool {
    let s = lifecycle_state;
    if s.starts_with("Warmed:") || s.starts_with("Terminat") || s.ends_with(":Retained") {
        return false;
    }
    standby_holds || !matches!(s, "Standby" | "EnteringStandby")
}

/// Which way a lifecycle action goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Transition {
    Launching,
    Terminating,
}

impl Transition {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "autoscaling:EC2_INSTANCE_LAUNCHING" => Some(Self::Launching),
            "autoscaling:EC2_INSTANCE_TERMINATING" => Some(Self::Terminating),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Launching => "autoscaling:EC2_INSTANCE_LAUNCHING",
            Self::Terminating => "autoscaling:EC2_INSTANCE_TERMINATING",
        }
    }
}

/// An instance in a group, as `DescribeAutoScalingInstances` answers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupInstance {
    pub instance_id: String,
    pub group: String,
    pub lifecycle_state: String,
    /// `HealthStatus` is not `UNHEALTHY` [ASG-HEALTH].
    pub healthy: bool,
}

/// A lifecycle hook of a group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hook {
    pub name: String,
    /// `None`: a transition this manager has no part in.
    pub transition: Option<Transition>,
    /// How long an action of it stays open without a heartbeat: 30 s to
    /// 7,200 s (PutLifecycleHook API reference); `None` if the answer lacks it.
    pub heartbeat_timeout: Option<Duration>,
}

impl Hook {
    pub fn is_ours(name: &str) -> bool {
        name.starts_with(HOOK_PREFIX)
    }
}

/// An instance refresh under way [ASG-REFRESH].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refresh {
    /// When it started, in epoch milliseconds.
    pub started_ms: u64,
    /// `SkipMatching`: instances that already match the desired
    /// configuration are kept.
    pub skip_matching: bool,
}

impl Refresh {
    /// R28: whether it replaces an instance launched at `launched_ms`: one
    /// launched before it started, unless it skips those that match (which
    /// ones match is not read: none is taken for replaced). One launched
    /// since is a replacement.
    pub fn replaces(&self, launched_ms: Option<u64>) -> bool {
        !self.skip_matching && launched_ms.is_some_and(|at| at < self.started_ms)
    }
}

/// A lifecycle action to complete with `CONTINUE` (never `ABANDON`, R22).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LifecycleAction {
    pub group: String,
    pub hook: String,
    pub instance_id: String,
    /// The event's token; without one, the action is named by instance id.
    #[serde(skip)]
    pub token: Option<String>,
}

#[async_trait]
pub trait AutoScaling: Send + Sync {
    /// The groups and lifecycle states of `ids` that are in a group, in
    /// batches of at most `DESCRIBE_BATCH`; an instance in no group is left
    /// out of the answer.
    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<GroupInstance>, AwsError>;
    async fn describe_hooks(&self, group: &str) -> Result<Vec<Hook>, AwsError>;
    /// The group's instance refresh in progress, if any
    /// (`DescribeInstanceRefreshes`, status `InProgress`).
    async fn refresh_in_progress(&self, group: &str) -> Result<Option<Refresh>, AwsError>;
    /// `CompleteLifecycleAction` with `CONTINUE`; an action completed before
    /// or timed out answers `ErrorKind::AlreadyDone` (R22).
    async fn proceed(&self, action: &LifecycleAction) -> Result<(), AwsError>;
    /// `RecordLifecycleActionHeartbeat`: the action's timeout starts again
    /// (up to the group's global timeout [ASG-HOOK]); one no longer open
    /// answers `ErrorKind::AlreadyDone`.
    async fn heartbeat(&self, action: &LifecycleAction) -> Result<(), AwsError>;
    /// Calls made so far, by operation name.
    fn calls(&self) -> CallCounts;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_warm_terminating_and_retained_instances_never_serve() {
        let table = [
            ("Pending", true, true),
            ("Pending:Wait", true, true),
            ("Pending:Proceed", true, true),
            ("InService", true, true),
            ("Detaching", true, true),
            ("Detached", true, true),
            ("Standby", true, false),
            ("EnteringStandby", true, false),
            ("Warmed:Running", false, false),
            ("Warmed:Pending:Wait", false, false),
            ("Warmed:Pending:Retained", false, false),
            ("Terminating", false, false),
            ("Terminating:Wait", false, false),
            ("Terminating:Retained", false, false),
            ("Terminated", false, false),
        ];
        for (state, with_standby, without) in table {
            assert_eq!(serves(state, true), with_standby, "{state}");
            assert_eq!(serves(state, false), without, "{state} without standby");
        }
    }

    #[test]
    fn each_wait_state_names_the_transitions_that_hold_it() {
        use Transition::{Launching, Terminating};
        let table: [(&str, &[Transition]); 7] = [
            ("Pending:Wait", &[Launching]),
            ("Terminating:Wait", &[Terminating]),
            ("Warmed:Terminating:Wait", &[Terminating]),
            ("Warmed:Pending:Wait", &[Launching, Terminating]),
            ("InService", &[]),
            ("Pending:Proceed", &[]),
            ("Warmed:Running", &[]),
        ];
        for (state, transitions) in table {
            let membership = Membership::new("g".into(), state.into(), true);
            assert_eq!(membership.waits_for(), transitions, "{state}");
        }
    }

    #[test]
    fn a_refresh_replaces_what_was_launched_before_it_unless_it_skips_matching() {
        let refresh = Refresh {
            started_ms: 1_000,
            skip_matching: false,
        };
        assert!(refresh.replaces(Some(999)));
        assert!(!refresh.replaces(Some(1_000)), "a replacement");
        assert!(!refresh.replaces(None), "never guessed");
        let skipping = Refresh {
            skip_matching: true,
            ..refresh
        };
        assert!(!skipping.replaces(Some(999)));
    }

    #[test]
    fn hooks_are_ours_by_prefix_only() {
        assert!(Hook::is_ours("network-interface-manager-launch"));
        assert!(Hook::is_ours("network-interface-manager"));
        assert!(!Hook::is_ours("launch-network-interface-manager"));
        assert!(!Hook::is_ours("Network-Interface-Manager-launch"));
    }
}
