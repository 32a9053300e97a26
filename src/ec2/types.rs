//! The EC2 resources as the manager sees them.

use std::collections::BTreeMap;

use aws_smithy_types::date_time::{DateTime, Format};
use serde::Serialize;

use super::{LEAVING_TAG, POOL_TAG};
use crate::autoscaling::{Membership, GROUP_TAG};

pub type Tags = BTreeMap<String, String>;

/// The pool named by a resource's tags, if any (an empty name is none).
fn pool_of(tags: &Tags) -> Option<&str> {
    tags.get(POOL_TAG)
        .map(String::as_str)
        .filter(|p| !p.is_empty())
}

/// An instance state as EC2 names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InstanceState {
    Pending,
    Running,
    Stopping,
    Stopped,
    ShuttingDown,
    Terminated,
}

impl InstanceState {
    pub fn parse(name: &str) -> Option<Self> {
        Some(match name {
            "pending" => Self::Pending,
            "running" => Self::Running,
            "stopping" => Self::Stopping,
            "stopped" => Self::Stopped,
            "shutting-down" => Self::ShuttingDown,
            "terminated" => Self::Terminated,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Running => "running",
            Self::Stopping => "stopping",
            Self::Stopped => "stopped",
            Self::ShuttingDown => "shutting-down",
            Self::Terminated => "terminated",
        }
    }

    /// States in which an instance gives its member back (R4).
    pub fn releases(self) -> bool {
        matches!(
            self,
            Self::Stopping | Self::Stopped | Self::ShuttingDown | Self::Terminated
        )
    }
}

/// ENI status as EC2 names it. A new interface is `pending` until EC2 has
/// set it up (CreateNetworkInterface answers `pending`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceStatus {
    Pending,
    Available,
    Associated,
    Attaching,
    InUse,
    Detaching,
}

impl InterfaceStatus {
    pub fn parse(name: &str) -> Self {
        match name {
            "pending" => Self::Pending,
            "available" => Self::Available,
            "associated" => Self::Associated,
            "attaching" => Self::Attaching,
            "detaching" => Self::Detaching,
            _ => Self::InUse,
        }
    }
}

/// An attachment's own status, apart from the interface's: while EC2
/// detaches the interface of a terminated instance, the interface stays
/// `in-use` and its attachment is `detaching`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttachmentStatus {
    Attaching,
    Attached,
    Detaching,
}

impl AttachmentStatus {
    /// `detached` is no attachment at all (`None`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "attaching" => Some(Self::Attaching),
            "detaching" => Some(Self::Detaching),
            "detached" => None,
            _ => Some(Self::Attached),
        }
    }
}

/// An ENI's attachment to an instance.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Attachment {
    pub id: String,
    pub instance_id: String,
    pub device_index: i32,
    pub network_card_index: i32,
    pub status: AttachmentStatus,
    /// EC2 deletes the interface when the instance terminates (interfaces
    /// attached at launch by a launch template; never set by an attach call).
    pub delete_on_termination: bool,
    /// When it was attached, in epoch milliseconds, when EC2 says.
    pub attached_at: Option<u64>,
}

impl Attachment {
    /// The instance's primary interface: card 0, index 0 (never touched, R5).
    pub fn is_primary(&self) -> bool {
        self.device_index == 0 && self.network_card_index == 0
    }

    /// Done attaching: an instance may boot on it (R20).
    pub fn is_attached(&self) -> bool {
        self.status == AttachmentStatus::Attached
    }

    /// Going away: the interface will be free once EC2 is done.
    pub fn is_detaching(&self) -> bool {
        self.status == AttachmentStatus::Detaching
    }
}

/// A network interface as the manager sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkInterface {
    pub id: String,
    pub availability_zone: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub private_ip: Option<String>,
    /// The public address associated with its primary private address (an
    /// Elastic IP follows the interface from instance to instance).
    pub public_ip: Option<String>,
    pub status: InterfaceStatus,
    pub requester_managed: bool,
    pub security_groups: Vec<String>,
    pub description: String,
    pub source_dest_check: bool,
    pub tags: Tags,
    pub attachment: Option<Attachment>,
    /// EC2's `InterfaceType`: `interface` for a plain ENI, else `efa`,
    /// `trunk`, `branch`, ... (only `interface` can be a pool member's).
    pub interface_type: String,
}

/// The interface type a pool member must have.
pub const PLAIN_INTERFACE: &str = "interface";

impl NetworkInterface {
    /// The pool this interface belongs to, if any.
    pub fn pool(&self) -> Option<&str> {
        pool_of(&self.tags)
    }

    /// Attached as a secondary interface (not the primary).
    pub fn is_secondary(&self) -> bool {
        self.attachment.as_ref().is_some_and(|a| !a.is_primary())
    }

    /// Attached to `instance` as a secondary interface.
    pub fn is_secondary_on(&self, instance_id: &str) -> bool {
        self.is_secondary()
            && self
                .attachment
                .as_ref()
                .is_some_and(|a| a.instance_id == instance_id)
    }
}

/// An interface as seen from the instance it is attached to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstanceInterface {
    pub interface_id: String,
    pub device_index: i32,
    pub network_card_index: i32,
}

impl InstanceInterface {
    pub fn is_primary(&self) -> bool {
        self.device_index == 0 && self.network_card_index == 0
    }
}

/// An EC2 instance as the manager sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Instance {
    pub id: String,
    pub state: InstanceState,
    pub availability_zone: String,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub tags: Tags,
    pub interfaces: Vec<InstanceInterface>,
    /// When it was last launched or started, in epoch milliseconds.
    pub launched_at: Option<u64>,
    /// Its Auto Scaling group and lifecycle state, read from Auto Scaling
    /// for instances that carry the group tag (R19); `None`: standalone.
    pub group: Option<Membership>,
    /// Stopped (or stopping) by hibernation (state reason
    /// `Client.UserInitiatedHibernate` [EC2-STATEREASON]): its RAM, mounted
    /// file systems included, waits for its resume [EC2-HIB]; a running OS
    /// for its data (R27).
    pub hibernated: bool,
}

impl Instance {
    /// The pool this instance belongs to, if any.
    pub fn pool(&self) -> Option<&str> {
        pool_of(&self.tags)
    }

    /// Whether it may hold a member: running, and serving when in a group
    /// (R1, R19).
    pub fn may_hold(&self) -> bool {
        self.state == InstanceState::Running && self.group.as_ref().is_none_or(|g| g.serves)
    }

    /// Why it must give its members back, if it must (R4, R19).
    pub fn leaving_reason(&self) -> Option<String> {
        if self.state.releases() {
            return Some(format!("instance is {}", self.state.as_str()));
        }
        let group = self.group.as_ref().filter(|g| !g.serves)?;
        Some(format!(
            "instance is {} in Auto Scaling group {}",
            group.lifecycle_state, group.group
        ))
    }

    /// R28: why a running instance is due to leave, as AWS tells it: EC2
    /// warned of it (the tag the warning event wrote), or its group reads
    /// it unhealthy and will replace it.
    /// A warning from before its last start (a Spot instance stopped and
    /// started again) no longer counts.
    pub fn due_to_leave(&self) -> Option<String> {
        if let Some(warned) = self.tags.get(LEAVING_TAG) {
            let at = warned.split(' ').nth(1).and_then(|t| {
                let at = DateTime::from_str(t, Format::DateTime).ok()?;
                u64::try_from(at.to_millis().ok()?).ok()
            });
            // EventBridge's time has whole seconds: the warning came
            // within the second it names.
            let before_start = at
                .zip(self.launched_at)
                .is_some_and(|(at, up)| at + 1_000 <= up);
            if !before_start {
                return Some(format!("EC2 warned of it ({warned})"));
            }
        }
        let group = self.group.as_ref()?;
        match (group.healthy, group.refreshed_out) {
            (false, _) => Some(format!(
                "instance is unhealthy in Auto Scaling group {}",
                group.group
            )),
            (true, true) => Some(format!(
                "an instance refresh of Auto Scaling group {} replaces it",
                group.group
            )),
            (true, false) => None,
        }
    }

    /// Whether it carries Auto Scaling's group tag.
    pub fn in_a_group(&self) -> bool {
        self.tags.contains_key(GROUP_TAG)
    }

    /// Whether it has any interface besides its primary: only then can it
    /// hold a member.
    pub fn has_secondary_interfaces(&self) -> bool {
        self.interfaces.iter().any(|i| !i.is_primary())
    }

    /// The interface at `device_index` on network card 0, if any.
    pub fn occupant(&self, device_index: i32) -> Option<&str> {
        self.interfaces
            .iter()
            .find(|i| i.network_card_index == 0 && i.device_index == device_index)
            .map(|i| i.interface_id.as_str())
    }
}

/// A subnet: where interfaces are created.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Subnet {
    pub id: String,
    pub availability_zone: String,
    pub vpc_id: String,
    /// The IPv4 range, e.g. `10.0.1.0/24`.
    pub cidr: String,
}

/// An interface to create.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewInterface {
    pub subnet_id: String,
    /// A fixed address; EC2 chooses one when `None`.
    pub private_ip: Option<String>,
    pub security_groups: Vec<String>,
    pub description: String,
    /// Makes a repeated create return the first one's interface.
    pub client_token: String,
    pub tags: Tags,
}

/// One attribute of an interface to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InterfaceChange {
    SecurityGroups(Vec<String>),
    Description(String),
    SourceDestCheck(bool),
    /// Whether EC2 deletes the interface when this attachment's instance
    /// terminates.
    DeleteOnTermination {
        attachment_id: String,
        delete: bool,
    },
}

/// An Elastic IP address.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Address {
    pub allocation_id: String,
    pub public_ip: String,
    pub association: Option<AddressAssociation>,
    pub tags: Tags,
}

/// Where an Elastic IP address is associated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AddressAssociation {
    pub association_id: String,
    /// Its network interface (an instance's primary one when associated
    /// with the instance).
    pub network_interface_id: Option<String>,
    pub private_ip: Option<String>,
    pub instance_id: Option<String>,
}

impl Address {
    /// The pool named by its tags, if any.
    pub fn pool(&self) -> Option<&str> {
        pool_of(&self.tags)
    }

    /// Associated with `interface_id` at `private_ip`.
    pub fn is_on(&self, interface_id: &str, private_ip: Option<&str>) -> bool {
        self.association.as_ref().is_some_and(|a| {
            a.network_interface_id.as_deref() == Some(interface_id)
                && a.private_ip.as_deref() == private_ip
        })
    }
}

/// An Elastic IP address to allocate, tagged at allocation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewAddress {
    pub tags: Tags,
    /// A BYOIP pool to allocate from; Amazon's pool when `None`.
    pub public_ipv4_pool: Option<String>,
}
