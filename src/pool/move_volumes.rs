//! The volume actions of a plan (R27): a detach off a stopped instance, and
//! an attach to a member's holder that waits, bounded by the deadline,
//! while the volume is still `creating` or leaving its former instance.

use super::model::{AttachVolume, DetachVolume};
use super::report::Failed;
use super::settings::Settings;
use crate::aws::{AwsError, ErrorKind};
use crate::deadline::Deadline;
use crate::ec2::{Ec2, VolumeQuery};

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

/// Attaches the volume, asked again while EC2 refuses it for a state that
/// passes (`creating`, or still on its former instance); an answer that
/// it is in use is read: attached to this instance already is done.
pub(super) async fn attach(
    ec2: &dyn Ec2,
    a: AttachVolume,
    deadline: Deadline,
    settings: &Settings,
) -> Moved {
    let (volume, instance) = (&a.volume.volume_id, &a.instance_id);
    let attempt = || async {
        let e = match ec2.attach_volume(volume, instance, &a.volume.device).await {
            Ok(()) => return Ok(Some(())),
            Err(e) => e,
        };
        match e.kind {
            ErrorKind::IncorrectState => Ok(None),
            ErrorKind::InUse => {
                let query = VolumeQuery::Ids(vec![volume.clone()]);
                let read = ec2.describe_volumes(&query).await?;
                let here = read.iter().any(|v| {
                    v.attachment
                        .as_ref()
                        .is_some_and(|at| at.instance_id == *instance)
                });
                Ok(here.then_some(()))
            }
            _ => Err(e),
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

/// A failure that names the volume in its error.
fn failed(pool: &str, instance_id: &str, volume_id: &str, e: &AwsError) -> Failed {
    let failed = Failed::of(pool, instance_id, None, e);
    Failed {
        error: format!("volume {volume_id}: {}", failed.error),
        ..failed
    }
}
