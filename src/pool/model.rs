//! The planner's words: what it sees (`Snapshot`), what it decides (`Plan`
//! and its actions), and where a member can go (`Placement`). Data only.

use serde::Serialize;

use crate::autoscaling::Transition;
use crate::ec2::{Instance, NetworkInterface, Tags};

/// Device index a pool uses when its members carry no device index tag (R3).
pub const DEFAULT_DEVICE_INDEX: i32 = 1;

/// What the planner sees: pool members and the instances that matter to them.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Interfaces carrying the pool tag, and any other interface a running
    /// pool instance lists (so that every device index's occupant is known).
    pub members: Vec<NetworkInterface>,
    /// Pool instances, and the instances members are attached to.
    pub instances: Vec<Instance>,
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Detach(Detach),
    KeepOnTermination(KeepOnTermination),
    Attach(Attach),
    Identify(Identify),
}

/// Bring an instance's identity tags in line with the member it holds, or
/// remove them from one that holds none (R26).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Identify {
    pub pool: String,
    pub instance_id: String,
    /// The tags to set; empty: the identity tags are removed.
    pub tags: Tags,
}

/// Take a member back from an instance (R4, R11).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Detach {
    pub pool: String,
    pub interface_id: String,
    pub attachment_id: String,
    pub instance_id: String,
    pub reason: String,
}

/// Turn off DeleteOnTermination on a held member's attachment (R13).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct KeepOnTermination {
    pub pool: String,
    pub interface_id: String,
    pub attachment_id: String,
    pub instance_id: String,
}

/// Give a waiting instance a member (R1-R3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attach {
    pub pool: String,
    pub availability_zone: String,
    pub instance_id: String,
    pub device_index: i32,
    /// Members to try in order; the first is the planned one.
    pub candidates: Vec<Candidate>,
    pub reason: String,
    /// When the instance was launched or started (epoch milliseconds).
    #[serde(skip)]
    pub waiting_since: Option<u64>,
}

/// A member an attach may use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub interface_id: String,
    /// The instance it is being detached from (by this plan or by EC2): the
    /// attach waits until it is `available` (R12).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freed_from: Option<String>,
    /// The identity its holder gets once it is attached (R26); empty: none.
    #[serde(skip_serializing_if = "Tags::is_empty")]
    pub identity: Tags,
}

/// Running pool instances that wait for a member none of which is free (R9).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Shortage {
    pub pool: String,
    pub availability_zone: String,
    pub instance_ids: Vec<String>,
}

/// A member the manager cannot use, reported and never attached (R15).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unusable {
    pub pool: String,
    pub interface_id: String,
    pub reason: String,
}

/// A lifecycle action of our hooks to let go on (R20, R21), once the plan's
/// actions on its instance are done and `once` holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Proceed {
    pub group: String,
    pub instance_id: String,
    pub transition: Transition,
    pub once: Once,
}

/// What a lifecycle action waits for beyond the plan's actions on its
/// instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Once {
    /// Nothing more: a handover (its member taken back), a launch into the
    /// warm pool, or a launch that can get no member now.
    ActionsDone,
    /// The member the instance holds reads `attached`.
    Holds(String),
    /// The plan's attach gives it a member, which reads `attached`.
    Gets,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub shortages: Vec<Shortage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unusable: Vec<Unusable>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub proceeds: Vec<Proceed>,
}

/// Where a member can go: same pool, VPC and Availability Zone (R2).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Placement {
    pub pool: String,
    pub vpc_id: String,
    pub availability_zone: String,
}
