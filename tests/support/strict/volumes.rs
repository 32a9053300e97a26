//! EBS volumes on the strict model [EBS-API][EC2-TERM]. A new volume is
//! `creating` for `volume_create`; it attaches only in its AZ, to a running
//! or stopped instance, at a device name no other volume there holds, and
//! never with `DeleteOnTermination` (an attach by call never sets it
//! [EC2-TERM]). Attaching and detaching take `transition`. A detach from a
//! running instance stays `busy`: the operating system holds the mounted
//! file system (guess: for ever, the harshest of what [EBS-API] allows),
//! so a test that detaches from a running OS never sees the volume free. A
//! stopped instance keeps its volumes [EC2-TERM]; a terminated one's are
//! detached by EC2 after `termination_detach`, then deleted only if their
//! attachment said so. A delete needs `available`, and the volume reads
//! `deleting` for `transition` before it is gone (guess: how long). Reads
//! lag like the interfaces' (by id `read_lag`, filtered `filter_lag`).
//!
//! Encryption: a volume is encrypted when asked, or by the account's
//! default (`default_key`) [EBS-EBD]; asked without a key, it takes the
//! default key, else the AWS-managed `alias/aws/ebs`. EBS checks the key
//! only after CreateVolume answers: a customer-managed key the caller may
//! not use gets the volume deleted while `creating`, with no error
//! anywhere; reads by id then answer `InvalidVolume.NotFound`
//! (aws-ebs-csi-driver issue 3010, aws-cli issue 2604, terraform issue
//! 23651).

use network_interface_manager::aws::AwsError;
use network_interface_manager::ec2::{
    InstanceState, NewVolume, Volume, VolumeAttachment, VolumeAttachmentStatus, VolumeQuery,
    VolumeStatus, OWNER_TAG, SLOT_TAG,
};
use std::time::Duration;
use tokio::time::Instant;

use super::{err, publish_ids, settle, Disk, Op, StrictEc2, World};

/// The key EBS uses when asked to encrypt without one and the account has
/// no default key [EBS-EBD].
const AWS_MANAGED_KEY: &str = "alias/aws/ebs";

/// The key a new volume is encrypted with: its own, else the account's
/// default when asked to encrypt or when encryption by default is on.
fn key_of(new: &NewVolume, default_key: Option<&str>) -> Option<String> {
    // [EBS-EBD]: with encryption by default on, no volume is unencrypted.
    match (&new.kms_key_id, new.encrypted, default_key) {
        (Some(key), _, _) => Some(key.clone()),
        (None, _, Some(key)) => Some(key.to_string()),
        (None, Some(true), None) => Some(AWS_MANAGED_KEY.to_string()),
        (None, _, None) => None,
    }
}

/// The AZs of the test subnets (`az_of`): a volume is made in one of them.
const ZONES: [&str; 2] = ["us-east-1a", "us-east-1b"];

fn not_found(volume_id: &str) -> AwsError {
    let m = format!("The volume '{volume_id}' does not exist.");
    err("InvalidVolume.NotFound", m)
}

/// The device names an attach accepts on Linux: `/dev/sd[b-z]` and
/// `/dev/xvd[b-z]` (guess: the recommended range is f-p; the wider one is
/// what the console offers).
fn valid_device(device: &str) -> bool {
    let letter = device
        .strip_prefix("/dev/sd")
        .or_else(|| device.strip_prefix("/dev/xvd"));
    matches!(letter.map(str::as_bytes), Some([b'b'..=b'z']))
}

impl StrictEc2 {
    pub(super) async fn describe_volumes_now(
        &self,
        query: &VolumeQuery,
    ) -> Result<Vec<Volume>, AwsError> {
        let none = match query {
            VolumeQuery::Ids(ids) | VolumeQuery::Owners(ids) => ids.is_empty(),
            VolumeQuery::Seats { owners, .. } => owners.is_empty(),
            VolumeQuery::TagKey(_) => false,
        };
        if none {
            return Ok(Vec::new());
        }
        self.calls.count("DescribeVolumes");
        self.enter(Op::DescribeVolumes).await?;
        let cutoff = self.read_cutoff(!matches!(query, VolumeQuery::Ids(_)));
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let wanted = |v: &Volume| match query {
            VolumeQuery::Ids(ids) => ids.contains(&v.id),
            VolumeQuery::Owners(owners) => {
                v.tags.get(OWNER_TAG).is_some_and(|o| owners.contains(o))
            }
            // As EC2's filters: each name matches one of its values.
            VolumeQuery::Seats { owners, slots } => {
                let has = |key: &str, values: &[String]| {
                    v.tags.get(key).is_some_and(|t| values.contains(t))
                };
                has(OWNER_TAG, owners) && has(SLOT_TAG, slots)
            }
            VolumeQuery::TagKey(key) => v.tags.contains_key(*key),
        };
        Ok(w.seen
            .volumes(cutoff)
            .filter(|v| wanted(v))
            .cloned()
            .collect())
    }

    pub(super) async fn create_volume_now(&self, new: &NewVolume) -> Result<Volume, AwsError> {
        self.calls.count("CreateVolume");
        self.enter(Op::CreateVolume).await?;
        let (creating_for, key, unmade) = {
            let f = self.faults.lock().unwrap();
            let key = key_of(new, f.default_key.as_deref());
            let usable = |k: &String| k == AWS_MANAGED_KEY || f.usable_keys.contains(k);
            let unmade = key.as_ref().is_some_and(|k| !usable(k));
            (f.volume_create, key, unmade)
        };
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        // [EC2-IDEM]: the same token and parameters answer the first volume.
        if let Some((first, id)) = w.volume_tokens.get(&new.client_token) {
            if first != new {
                let m = "The client token was used with other parameters";
                return Err(err("IdempotentParameterMismatch", m));
            }
            let id = id.clone();
            return match w.volumes.get(&id) {
                Some(d) => Ok(d.volume.clone()),
                None => Err(not_found(&id)),
            };
        }
        if !ZONES.contains(&new.availability_zone.as_str()) {
            let m = format!("The zone '{}' does not exist.", new.availability_zone);
            return Err(err("InvalidZone.NotFound", m));
        }
        if !(1..=16384).contains(&new.size_gib) {
            let m = format!("Volume of {}GiB is out of range", new.size_gib);
            return Err(err("InvalidParameterValue", m));
        }
        let id = Self::id(&mut w, "vol");
        let volume = Volume {
            id: id.clone(),
            availability_zone: new.availability_zone.clone(),
            size_gib: new.size_gib,
            volume_type: new.volume_type.clone(),
            // [EBS-API]: the answer says `creating`; EC2 finishes it later.
            status: VolumeStatus::Creating,
            attachment: None,
            tags: new.tags.clone(),
            kms_key_id: key,
        };
        w.volume_tokens
            .insert(new.client_token.clone(), (new.clone(), id.clone()));
        w.volumes.insert(
            id.clone(),
            Disk {
                volume: volume.clone(),
                settles_at: Some(Instant::now() + creating_for),
                unmade,
            },
        );
        w.writes.push((Op::CreateVolume, id.clone(), String::new()));
        publish_ids(&mut w, &[&id], Instant::now());
        Ok(volume)
    }

    pub(super) async fn attach_volume_now(
        &self,
        volume_id: &str,
        instance_id: &str,
        device: &str,
    ) -> Result<(), AwsError> {
        self.calls.count("AttachVolume");
        self.enter(Op::AttachVolume).await?;
        let transition = self.faults.lock().unwrap().volume_transition;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let Some(disk) = w.volumes.get(volume_id) else {
            return Err(not_found(volume_id));
        };
        let Some(instance) = w.instances.get(instance_id) else {
            let m = format!("The instance ID '{instance_id}' does not exist");
            return Err(err("InvalidInstanceID.NotFound", m));
        };
        if !valid_device(device) {
            let m = format!("Value ({device}) for parameter device is invalid.");
            return Err(err("InvalidParameterValue", m));
        }
        match disk.volume.status {
            VolumeStatus::Available => {}
            VolumeStatus::InUse => {
                let m = format!("{volume_id} is already attached to an instance");
                return Err(err("VolumeInUse", m));
            }
            other => {
                let state = format!("{other:?}").to_lowercase();
                let m = format!("The volume '{volume_id}' is in the '{state}' state.");
                return Err(err("IncorrectState", m));
            }
        }
        if disk.volume.availability_zone != instance.availability_zone {
            let m = format!(
                "The volume '{volume_id}' is not in the same availability zone as instance '{instance_id}'"
            );
            return Err(err("InvalidVolume.ZoneMismatch", m));
        }
        // As for interfaces [EC2-ENI].
        super::hot_or_warm(instance)?;
        let taken = w.volumes.values().any(|d| {
            d.volume
                .attachment
                .as_ref()
                .is_some_and(|a| a.instance_id == instance_id && a.device == device)
        });
        if taken {
            let m = format!("Attachment point {device} is already in use");
            return Err(err("InvalidParameterValue", m));
        }
        let disk = w.volumes.get_mut(volume_id).unwrap();
        disk.volume.status = VolumeStatus::InUse;
        disk.volume.attachment = Some(VolumeAttachment {
            instance_id: instance_id.into(),
            device: device.into(),
            status: VolumeAttachmentStatus::Attaching,
            delete_on_termination: false,
        });
        disk.settles_at = Some(Instant::now() + transition);
        w.writes
            .push((Op::AttachVolume, volume_id.into(), instance_id.into()));
        publish_ids(&mut w, &[&volume_id.to_string()], Instant::now());
        Ok(())
    }

    pub(super) async fn detach_volume_now(
        &self,
        volume_id: &str,
        instance_id: &str,
    ) -> Result<(), AwsError> {
        self.calls.count("DetachVolume");
        self.enter(Op::DetachVolume).await?;
        let transition = self.faults.lock().unwrap().volume_transition;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let running = w
            .instances
            .get(instance_id)
            .is_some_and(|i| i.state == InstanceState::Running);
        let Some(disk) = w.volumes.get_mut(volume_id) else {
            return Err(not_found(volume_id));
        };
        let attachment = disk
            .volume
            .attachment
            .as_mut()
            .filter(|a| a.instance_id == instance_id);
        let Some(attachment) = attachment else {
            let m = format!("Volume '{volume_id}' is not attached to '{instance_id}'.");
            return Err(err("IncorrectState", m));
        };
        // Guess: detaching what is already detaching (or busy) is accepted.
        if attachment.status == VolumeAttachmentStatus::Attached
            || attachment.status == VolumeAttachmentStatus::Attaching
        {
            if running {
                attachment.status = VolumeAttachmentStatus::Busy;
                disk.settles_at = None;
            } else {
                attachment.status = VolumeAttachmentStatus::Detaching;
                disk.settles_at = Some(Instant::now() + transition);
            }
        }
        w.writes
            .push((Op::DetachVolume, volume_id.into(), instance_id.into()));
        publish_ids(&mut w, &[&volume_id.to_string()], Instant::now());
        Ok(())
    }

    pub(super) async fn delete_volume_now(&self, volume_id: &str) -> Result<(), AwsError> {
        self.calls.count("DeleteVolume");
        self.enter(Op::DeleteVolume).await?;
        let transition = self.faults.lock().unwrap().volume_transition;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let Some(disk) = w.volumes.get_mut(volume_id) else {
            return Err(not_found(volume_id));
        };
        match disk.volume.status {
            VolumeStatus::Available => {}
            // Guess: deleting what is being deleted is accepted.
            VolumeStatus::Deleting => return Ok(()),
            _ => {
                let m = format!("Volume {volume_id} is currently attached to an instance");
                return Err(err("VolumeInUse", m));
            }
        }
        disk.volume.status = VolumeStatus::Deleting;
        disk.settles_at = Some(Instant::now() + transition);
        w.writes
            .push((Op::DeleteVolume, volume_id.into(), String::new()));
        publish_ids(&mut w, &[&volume_id.to_string()], Instant::now());
        Ok(())
    }
}

impl StrictEc2 {
    /// An `available` volume in `zone` with the given tags, settled.
    pub fn add_volume<'a>(
        &self,
        zone: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> String {
        let mut w = self.world.lock().unwrap();
        let id = Self::id(&mut w, "vol");
        let volume = Volume {
            id: id.clone(),
            availability_zone: zone.into(),
            size_gib: 8,
            volume_type: "gp3".into(),
            kms_key_id: None,
            status: VolumeStatus::Available,
            attachment: None,
            tags: tags
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        };
        let disk = Disk {
            volume,
            settles_at: None,
            unmade: false,
        };
        w.volumes.insert(id.clone(), disk);
        super::settle_visible(&mut w);
        id
    }

    /// The volumes attached (done attaching) to `instance`, as it truly is.
    pub fn volumes_attached_to(&self, instance: &str) -> Vec<String> {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let on = |v: &Volume| {
            v.attachment.as_ref().is_some_and(|a| {
                a.instance_id == instance && a.status == VolumeAttachmentStatus::Attached
            })
        };
        let volumes = w.volumes.values().map(|d| &d.volume);
        volumes.filter(|v| on(v)).map(|v| v.id.clone()).collect()
    }

    /// Every CreateVolume request the model took, as sent.
    pub fn volume_requests(&self) -> Vec<NewVolume> {
        let w = self.world.lock().unwrap();
        w.volume_tokens
            .values()
            .map(|(new, _)| new.clone())
            .collect()
    }

    /// Every volume as it truly is now, for assertions.
    pub fn volumes(&self) -> Vec<Volume> {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        w.volumes.values().map(|d| d.volume.clone()).collect()
    }

    /// A volume as it truly is now (`None` once deleted).
    pub fn volume(&self, id: &str) -> Option<Volume> {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        w.volumes.get(id).map(|d| d.volume.clone())
    }
}

/// Finishes a volume's transition: made, attached, detached or deleted.
pub(super) fn settle_volume(w: &mut World, id: &str, at: Instant) {
    let disk = w.volumes.get_mut(id).unwrap();
    disk.settles_at = None;
    let unmade = disk.unmade;
    let volume = &mut disk.volume;
    match (volume.status, volume.attachment.as_mut()) {
        (VolumeStatus::Creating, _) if unmade => {
            w.volumes.remove(id);
        }
        (VolumeStatus::Creating, _) => volume.status = VolumeStatus::Available,
        (VolumeStatus::Deleting, _) => {
            w.volumes.remove(id);
        }
        (_, Some(a)) if a.status == VolumeAttachmentStatus::Attaching => {
            a.status = VolumeAttachmentStatus::Attached;
        }
        (_, Some(a)) if a.status == VolumeAttachmentStatus::Detaching => {
            let delete = a.delete_on_termination
                && w.instances
                    .get(&a.instance_id)
                    .is_some_and(|i| i.state == InstanceState::Terminated);
            volume.attachment = None;
            volume.status = VolumeStatus::Available;
            if delete {
                w.volumes.remove(id);
            }
        }
        _ => {}
    }
    publish_ids(w, &[&id.to_string()], at);
}

/// What stopping or terminating does to an instance's volumes: a stopped
/// OS no longer holds a `busy` detach, which ends after `transition`
/// (guess); EC2 detaches a terminated instance's volumes itself, each
/// `detaching` for `termination_detach` [EC2-TERM].
pub(super) fn stopped_or_gone(
    w: &mut World,
    instance_id: &str,
    state: InstanceState,
    (transition, termination): (Duration, Duration),
) {
    let now = Instant::now();
    for disk in w.volumes.values_mut() {
        let Some(a) = disk.volume.attachment.as_mut() else {
            continue;
        };
        if a.instance_id != instance_id || a.status == VolumeAttachmentStatus::Detaching {
            continue;
        }
        let ends = match state {
            InstanceState::Terminated => termination,
            InstanceState::Stopped if a.status == VolumeAttachmentStatus::Busy => transition,
            _ => continue,
        };
        a.status = VolumeAttachmentStatus::Detaching;
        disk.settles_at = Some(now + ends);
    }
}
