//! The EC2 calls the manager makes, in its own types: the `Ec2` trait, the
//! error kinds it decides on, and the aws-sdk-ec2 adapter (`sdk`).

mod error;
pub mod sdk;

pub use error::{Ec2Error, ErrorKind};

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::Serialize;

/// Tag whose value names the pool of an interface or an instance.
pub const POOL_TAG: &str = "network-interface-manager-pool";
/// Tag on a member: the device index the pool's interfaces prefer.
pub const DEVICE_INDEX_TAG: &str = "network-interface-manager-device-index";

pub type Tags = BTreeMap<String, String>;

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
    pub tags: Tags,
    pub attachment: Option<Attachment>,
}

impl NetworkInterface {
    /// The pool this interface belongs to, if any.
    pub fn pool(&self) -> Option<&str> {
        self.tags
            .get(POOL_TAG)
            .map(String::as_str)
            .filter(|p| !p.is_empty())
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
        self.tags
            .get(POOL_TAG)
            .map(String::as_str)
            .filter(|p| !p.is_empty())
    }
}

/// Which interfaces to read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InterfaceQuery {
    /// Only these pools; empty means every interface carrying the pool tag.
    pub pools: Vec<String>,
    /// Only interfaces with status `available`.
    pub available_only: bool,
    /// Only interfaces attached to this instance.
    pub attached_to: Option<String>,
    /// Only these interfaces (unknown ids are left out).
    pub ids: Vec<String>,
}

/// Which instances to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceQuery {
    /// Instances carrying the pool tag (of these pools; all when empty), in
    /// every state but `terminated`.
    Pools(Vec<String>),
    /// These instances, whatever their tags; unknown ids are left out.
    Ids(Vec<String>),
}

/// The EC2 operations the manager uses, and nothing else.
#[async_trait]
pub trait Ec2: Send + Sync {
    async fn describe_interfaces(
        &self,
        query: &InterfaceQuery,
    ) -> Result<Vec<NetworkInterface>, Ec2Error>;
    async fn describe_instances(&self, query: &InstanceQuery) -> Result<Vec<Instance>, Ec2Error>;
    /// Attaches on network card 0; returns the attachment id.
    async fn attach(
        &self,
        interface_id: &str,
        instance_id: &str,
        device_index: i32,
    ) -> Result<String, Ec2Error>;
    async fn detach(&self, attachment_id: &str, force: bool) -> Result<(), Ec2Error>;
    /// Calls made so far, by operation name.
    fn calls(&self) -> CallCounts;
}

/// Calls made, by EC2 operation name: one per request (a page), SDK retries not counted.
pub type CallCounts = BTreeMap<&'static str, u64>;

/// A thread-safe tally of calls, kept by each `Ec2` implementation.
#[derive(Debug, Default)]
pub struct CallCounter(Mutex<CallCounts>);

impl CallCounter {
    pub fn count(&self, operation: &'static str) {
        *self
            .0
            .lock()
            .expect("call counter poisoned")
            .entry(operation)
            .or_default() += 1;
    }

    pub fn snapshot(&self) -> CallCounts {
        self.0.lock().expect("call counter poisoned").clone()
    }
}

/// Total of a call tally.
pub fn total_calls(counts: &CallCounts) -> u64 {
    counts.values().sum()
}
