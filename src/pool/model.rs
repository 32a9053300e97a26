//! The planner's words: what it sees (`Snapshot`), what it decides (`Plan`
//! and its actions), and where a member can go (`Placement`). Data only.

use serde::Serialize;

use crate::autoscaling::Transition;
use crate::ec2::{Instance, NetworkInterface, Tags, Volume};

/// Device index a pool uses when its members carry no device index tag (R3).
pub const DEFAULT_DEVICE_INDEX: i32 = 1;

/// What the planner sees: pool members and the instances that matter to them.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Interfaces carrying the pool tag, and any other interface a running
    /// pool instance lists (so that every device index's occupant is known).
    pub members: Vec<NetworkInterface>,
    /// Pool instances, and the instances members or their volumes are
    /// attached to.
    pub instances: Vec<Instance>,
    /// The data volumes of members that list some (R27).
    pub volumes: Vec<Volume>,
    /// Instances such volumes are attached to that `instances` lacks: read
    /// for their state only, never served (their members are not read).
    pub volume_hosts: Vec<Instance>,
}

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    Detach(Detach),
    KeepOnTermination(KeepOnTermination),
    Attach(Attach),
    Identify(Identify),
    DetachVolume(DetachVolume),
    AttachVolume(AttachVolume),
}

/// Take a member's data volume off a stopped instance that no longer holds
/// the member; never off a running one (R27).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DetachVolume {
    pub pool: String,
    pub volume_id: String,
    pub instance_id: String,
}

/// Give a member's holder a data volume of the member (R27).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AttachVolume {
    pub pool: String,
    pub instance_id: String,
    #[serde(flatten)]
    pub volume: VolumeMove,
}

/// A data volume that goes to the member's (new) holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VolumeMove {
    pub volume_id: String,
    pub device: String,
    /// The instance it is being detached from (by this plan or by EC2 at
    /// termination): the attach waits until it reads `available`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub freed_from: Option<String>,
}

/// A member's data volume that cannot go to the member's holder now (R27):
/// on a running instance that does not hold the member (never detached
/// from a running OS), or in a state no attach can take.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StrandedVolume {
    pub pool: String,
    pub interface_id: String,
    pub volume_id: String,
    pub reason: String,
}

/// A seat's data volume that no read shows (never made, or deleted out of
/// band): its member is not given to anyone, and the manager makes no
/// empty one for it (R27).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MissingVolume {
    pub pool: String,
    pub interface_id: String,
    pub device: String,
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
    /// The member's data volumes its holder gets after it (R27).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeMove>,
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
    /// Data volumes of the member it holds that must read attached to it
    /// too (R27).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
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
    /// Nothing now: its seat's volume is still on an instance that is
    /// leaving. The launch stays open, its timeout started again (R27).
    VolumeFreed,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub actions: Vec<Action>,
    pub shortages: Vec<Shortage>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unusable: Vec<Unusable>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub proceeds: Vec<Proceed>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stranded: Vec<StrandedVolume>,
}

/// Where a member can go: same pool, VPC and Availability Zone (R2).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Placement {
    pub pool: String,
    pub vpc_id: String,
    pub availability_zone: String,
}
