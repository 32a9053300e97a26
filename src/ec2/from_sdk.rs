//! aws-sdk-ec2's types into ours, and our tags into the SDK's.

use aws_sdk_ec2::operation::create_volume::CreateVolumeOutput;
use aws_sdk_ec2::types::{self as sdk, Tag};

use super::{
    Address, AddressAssociation, Attachment, AttachmentStatus, Instance, InstanceInterface,
    InstanceState, InterfaceStatus, NetworkInterface, Tags, Volume, VolumeAttachment,
    VolumeAttachmentStatus, VolumeStatus, PLAIN_INTERFACE,
};

pub(super) fn tags(set: &[sdk::Tag]) -> Tags {
    set.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

pub(super) fn interface(eni: &sdk::NetworkInterface) -> NetworkInterface {
    let attachment = eni.attachment().and_then(|a| {
        Some(Attachment {
            id: a.attachment_id()?.to_string(),
            instance_id: a.instance_id()?.to_string(),
            device_index: a.device_index()?,
            network_card_index: a.network_card_index().unwrap_or(0),
            status: AttachmentStatus::parse(a.status().map(|s| s.as_str()).unwrap_or_default())?,
            delete_on_termination: a.delete_on_termination().unwrap_or(false),
            attached_at: a.attach_time().and_then(millis),
        })
    });
    NetworkInterface {
        id: eni.network_interface_id().unwrap_or_default().to_string(),
        availability_zone: eni.availability_zone().unwrap_or_default().to_string(),
        subnet_id: eni.subnet_id().unwrap_or_default().to_string(),
        vpc_id: eni.vpc_id().unwrap_or_default().to_string(),
        private_ip: eni.private_ip_address().map(str::to_string),
        public_ip: eni
            .association()
            .and_then(|a| a.public_ip())
            .map(str::to_string),
        status: InterfaceStatus::parse(eni.status().map(|s| s.as_str()).unwrap_or_default()),
        requester_managed: eni.requester_managed().unwrap_or(false),
        security_groups: eni
            .groups()
            .iter()
            .filter_map(|g| g.group_id().map(str::to_string))
            .collect(),
        description: eni.description().unwrap_or_default().to_string(),
        source_dest_check: eni.source_dest_check().unwrap_or(true),
        tags: tags(eni.tag_set()),
        attachment,
        interface_type: eni
            .interface_type()
            .map_or(PLAIN_INTERFACE, |t| t.as_str())
            .to_string(),
    }
}

pub(super) fn millis(at: &aws_sdk_ec2::primitives::DateTime) -> Option<u64> {
    at.to_millis().ok().and_then(|ms| u64::try_from(ms).ok())
}

/// The state reason of an instance stopped by hibernation [EC2-STATEREASON].
const HIBERNATED: &str = "Client.UserInitiatedHibernate";

pub(super) fn instance(i: &sdk::Instance) -> Option<Instance> {
    let state = i.state()?.name()?.as_str();
    Some(Instance {
        id: i.instance_id()?.to_string(),
        state: InstanceState::parse(state)?,
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_string(),
        subnet_id: i.subnet_id().map(str::to_string),
        vpc_id: i.vpc_id().map(str::to_string),
        tags: tags(i.tags()),
        interfaces: i
            .network_interfaces()
            .iter()
            .filter_map(|n| {
                let a = n.attachment()?;
                Some(InstanceInterface {
                    interface_id: n.network_interface_id()?.to_string(),
                    device_index: a.device_index()?,
                    network_card_index: a.network_card_index().unwrap_or(0),
                })
            })
            .collect(),
        launched_at: i.launch_time().and_then(millis),
        group: None,
        hibernated: i.state_reason().and_then(|r| r.code()) == Some(HIBERNATED),
    })
}

pub(super) fn sdk_tags(tags: &Tags) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

pub(super) fn address(a: &sdk::Address) -> Address {
    let association = a.association_id().map(|id| AddressAssociation {
        association_id: id.to_string(),
        network_interface_id: a.network_interface_id().map(str::to_string),
        private_ip: a.private_ip_address().map(str::to_string),
        instance_id: a
            .instance_id()
            .filter(|i| !i.is_empty())
            .map(str::to_string),
    });
    Address {
        allocation_id: a.allocation_id().unwrap_or_default().to_string(),
        public_ip: a.public_ip().unwrap_or_default().to_string(),
        association,
        tags: tags(a.tags()),
    }
}

/// A volume from either of the SDK's shapes of it: `DescribeVolumes`'
/// `Volume` and `CreateVolume`'s output have the same accessors.
macro_rules! volume_from {
    ($v:expr) => {{
        let v = $v;
        Volume {
            id: v.volume_id().unwrap_or_default().to_string(),
            availability_zone: v.availability_zone().unwrap_or_default().to_string(),
            size_gib: v.size().unwrap_or_default(),
            volume_type: v
                .volume_type()
                .map(|t| t.as_str())
                .unwrap_or_default()
                .to_string(),
            status: VolumeStatus::parse(v.state().map(|s| s.as_str()).unwrap_or_default()),
            attachment: volume_attachment(v.attachments()),
            tags: tags(v.tags()),
            kms_key_id: v.kms_key_id().map(str::to_string),
        }
    }};
}

/// The first attachment not `detached` (the manager never multi-attaches).
fn volume_attachment(attachments: &[sdk::VolumeAttachment]) -> Option<VolumeAttachment> {
    attachments.iter().find_map(|a| {
        Some(VolumeAttachment {
            instance_id: a.instance_id()?.to_string(),
            device: a.device().unwrap_or_default().to_string(),
            status: VolumeAttachmentStatus::parse(a.state()?.as_str())?,
            delete_on_termination: a.delete_on_termination().unwrap_or(false),
        })
    })
}

pub(super) fn volume(v: &sdk::Volume) -> Volume {
    volume_from!(v)
}

pub(super) fn created_volume(v: &CreateVolumeOutput) -> Volume {
    volume_from!(v)
}
