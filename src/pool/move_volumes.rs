//! The volume actions of a plan (R27): a detach off a stopped instance, and
//! an attach to a member's holder that waits, bounded by the deadline,
//! while the volume is still `creating` or leaving its former instance.

use std::sync::atomic::{AtomicBool, Ordering};

use super::model::{AttachVolume, DetachVolume};
use super::report::Failed;
use super::settings::Settings;
use crate::aws::{AwsError, ErrorKind};
use crate::deadline::Deadline;
use crate::ec2::{Ec2, VolumeQuery, VolumeStatus};

/// What became of an attach.
pub(super) enum Moved {
    Attached(AttachVolume),
    Failed(Failed),
    /// The deadline came before the volume could be attached.
    Left(AttachVolume),
}

/// `None` when it was not attached there any more (detached already).
pub(super) async fn detach(ec2: &dyn Ec2, d: DetachVolume) -> Result<Option<DetachVolume>, Failed> {
    match ec2.detach_volume(&d.volume_id, &d.instance_id).await {
        Ok(()) => Ok(Some(d)),
        Err(e) if e.is_not_found() || e.is(ErrorKind::IncorrectState) => Ok(None),
        Err(e) => Err(failed(&d.pool, &d.instance_id, &d.volume_id, &e)),
    }
}

/// Attaches the volume: at once when the plan saw it free, else once a
/// read by id shows it `available` (still `creating`, or leaving its former
/// instance, it is read again, bounded by the deadline); one that reads
/// attached to this instance is done. An attach EC2 refuses for a state
/// that passes is tried again after the next read.
pub(super) async fn attach(
    ec2: &dyn Ec2,
    a: AttachVolume,
    deadline: Deadline,
    settings: &Settings,
) -> Moved {
    let (volume, instance) = (&a.volume.volume_id, &a.instance_id);
    let query = VolumeQuery::Ids(vec![volume.clone()]);
    let at_once = AtomicBool::new(a.volume.freed_from.is_none());
    let attach = || ec2.attach_volume(volume, instance, &a.volume.device);
    let attempt = || async {
        if at_once.swap(false, Ordering::Relaxed) {
            match attach().await {
                Ok(()) => return Ok(Some(())),
                Err(e) if passes(&e) => {}
                Err(e) => return Err(e),
            }
        }
        let read = ec2.describe_volumes(&query).await?.pop();
        let Some(read) = read else {
            return Ok(None); // not shown yet (reads lag behind its making)
        };
        if read
            .attachment
            .as_ref()
            .is_some_and(|at| at.instance_id == *instance)
        {
            return Ok(Some(()));
        }
        if read.status != VolumeStatus::Available {
            return Ok(None);
        }
        match attach().await {
            Ok(()) => Ok(Some(())),
            Err(e) if passes(&e) => Ok(None),
            Err(e) => Err(e),
        }
    };
    let result: Result<Option<()>, AwsError> = deadline.wait_for(settings.backoff, attempt).await;
    match result {
        Ok(Some(())) => Moved::Attached(a),
        Ok(None) => Moved::Left(a),
        Err(e) if e.kind == ErrorKind::Deferred => Moved::Left(a),
        Err(e) => Moved::Failed(failed(&a.pool, instance, volume, &e)),
    }
}

/// A refusal for a state that passes: `creating`, or not yet free of its
/// former instance, or taken meanwhile (the next read tells by whom).
fn passes(e: &AwsError) -> bool {
    e.is(ErrorKind::IncorrectState) || e.is(ErrorKind::InUse)
}

/// A failure that names the volume in its error.
fn failed(pool: &str, instance_id: &str, volume_id: &str, e: &AwsError) -> Failed {
    let failed = Failed::of(pool, instance_id, None, e);
    Failed {
        error: format!("volume {volume_id}: {}", failed.error),
        ..failed
    }
}
