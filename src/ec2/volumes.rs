//! EBS volumes as the manager sees them: the data volumes that go with a
//! pool member from holder to holder, and how they are made and read.

use serde::Serialize;

use super::Tags;

/// An EBS volume's state as EC2 names it [EBS-API]: `creating` until EC2
/// has made it, `in-use` while attached (or attaching, or detaching).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeStatus {
    Creating,
    Available,
    InUse,
    Deleting,
    Deleted,
    Error,
}

impl VolumeStatus {
    pub fn parse(name: &str) -> Self {
        match name {
            "creating" => Self::Creating,
            "available" => Self::Available,
            "in-use" => Self::InUse,
            "deleting" => Self::Deleting,
            "deleted" => Self::Deleted,
            _ => Self::Error,
        }
    }

    /// EC2's name of it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "creating",
            Self::Available => "available",
            Self::InUse => "in-use",
            Self::Deleting => "deleting",
            Self::Deleted => "deleted",
            Self::Error => "error",
        }
    }
}

/// A volume attachment's own status [EBS-API]; `busy` is a detach the
/// instance's operating system holds up (the file system is mounted).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum VolumeAttachmentStatus {
    Attaching,
    Attached,
    Detaching,
    Busy,
}

impl VolumeAttachmentStatus {
    /// `detached` is no attachment at all (`None`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "attaching" => Some(Self::Attaching),
            "detaching" => Some(Self::Detaching),
            "busy" => Some(Self::Busy),
            "detached" => None,
            _ => Some(Self::Attached),
        }
    }

    /// EC2's name of it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Attaching => "attaching",
            Self::Attached => "attached",
            Self::Detaching => "detaching",
            Self::Busy => "busy",
        }
    }
}

/// Where a volume is attached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct VolumeAttachment {
    pub instance_id: String,
    /// The device name given to the attach (on Nitro instances the volume
    /// shows as an NVMe device whatever it says [EBS-NVME]).
    pub device: String,
    pub status: VolumeAttachmentStatus,
    /// EC2 deletes the volume when the instance terminates (false for
    /// volumes attached by a call [EC2-TERM]).
    pub delete_on_termination: bool,
}

/// An EBS volume as the manager sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Volume {
    pub id: String,
    pub availability_zone: String,
    pub size_gib: i32,
    pub volume_type: String,
    pub status: VolumeStatus,
    /// Its attachment (the manager never asks for multi-attach).
    pub attachment: Option<VolumeAttachment>,
    pub tags: Tags,
    /// The KMS key it is encrypted with; `None` when not encrypted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

/// A volume to create, tagged at creation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewVolume {
    pub availability_zone: String,
    pub size_gib: i32,
    pub volume_type: String,
    pub iops: Option<i32>,
    pub throughput: Option<i32>,
    /// `None`: the account's default (EBS encryption by default, and its
    /// key) decides [EBS-EBD].
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    /// Makes a repeated create return the first one's volume [EBS-API].
    pub client_token: String,
    pub tags: Tags,
}

/// Which volumes to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VolumeQuery {
    /// These volumes; unknown ids are left out, no ids is no call.
    Ids(Vec<String>),
    /// Volumes these pool declarations made (ownership tag); none is no
    /// call.
    Owners(Vec<String>),
    /// The volumes of these seats: owned by one of `owners`, of one of
    /// `slots` (a superset of the pairs; the caller picks); none is no
    /// call.
    Seats {
        owners: Vec<String>,
        slots: Vec<String>,
    },
    /// Volumes carrying this tag key, whatever its value.
    TagKey(&'static str),
}
