//! The EC2 resources as the manager sees them.

use std::collections::BTreeMap;

use serde::Serialize;

use super::POOL_TAG;

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

/// ENI status as EC2 names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum InterfaceStatus {
    Available,
    Associated,
    Attaching,
    InUse,
    Detaching,
}

impl InterfaceStatus {
    pub fn parse(name: &str) -> Self {
        match name {
            "available" => Self::Available,
            "associated" => Self::Associated,
            "attaching" => Self::Attaching,
            "detaching" => Self::Detaching,
            _ => Self::InUse,
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
}

/// A network interface as the manager sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NetworkInterface {
    pub id: String,
    pub availability_zone: String,
    pub subnet_id: String,
    pub vpc_id: String,
    pub private_ip: Option<String>,
    pub status: InterfaceStatus,
    pub requester_managed: bool,
    pub security_groups: Vec<String>,
    pub description: String,
    pub source_dest_check: bool,
    pub tags: Tags,
    pub attachment: Option<Attachment>,
}

impl NetworkInterface {
    /// The pool this interface belongs to, if any.
    pub fn pool(&self) -> Option<&str> {
        pool_of(&self.tags)
    }
}

/// An interface as seen from the instance it is attached to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct InstanceInterface {
    pub interface_id: String,
    pub device_index: i32,
    pub network_card_index: i32,
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
}

impl Instance {
    /// The pool this instance belongs to, if any.
    pub fn pool(&self) -> Option<&str> {
        pool_of(&self.tags)
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
}
