//! A declaration's data volumes (C17): made, retired and reinstated as
//! `volume_plan` says, and let go with the pool: kept by default (out of
//! the pool, tagged released), deleted when `DeleteVolumes` asks and no
//! running instance has them attached.

use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::declaration::{self, Declarer};
use super::elastic_ips::retired;
use super::properties::PoolProperties;
use super::provider::{ec2_error, Provider, ProviderError, CONCURRENCY};
use super::volume_plan::{self, VolumeMember};
use crate::aws::{AwsError, ErrorKind};
use crate::concurrent::concurrently;
use crate::ec2::{
    InstanceQuery, InstanceState, NewVolume, Tags, Volume, VolumeQuery, VolumeStatus, DEVICE_TAG,
    POOL_TAG, RELEASED_TAG, RETIRED_TAG, SLOT_TAG,
};

/// How long a volume just made may stay out of reads by id (they lag
/// behind writes) before it counts as gone (guess: EC2 gives no bound).
const SHOWN_WITHIN: Duration = Duration::from_secs(20);

impl Provider<'_> {
    /// Gives each member its declared volumes. On failure, what this call
    /// made is deleted again.
    pub(super) async fn converge_volumes(
        &self,
        by: Declarer<'_>,
        props: &PoolProperties,
        members: &[VolumeMember],
    ) -> Result<(), ProviderError> {
        let owned = self.owned_volumes(by.physical_id).await?;
        let plan = volume_plan::plan(props, members, &owned);
        self.tag_each(&plan.retire, &retired())
            .await
            .map_err(ec2_error("retiring volumes"))?;
        self.untag_each(&plan.reinstate, &[RETIRED_TAG.to_string()])
            .await
            .map_err(ec2_error("reinstating volumes"))?;
        let named = Tags::from([(POOL_TAG.to_string(), props.name.clone())]);
        self.tag_each(&plan.rename, &named)
            .await
            .map_err(ec2_error("renaming volumes"))?;
        let made = concurrently(CONCURRENCY, &plan.create, |(member, spec)| async move {
            let new = NewVolume {
                availability_zone: member.availability_zone.clone(),
                size_gib: spec.size_gib,
                volume_type: spec.volume_type().to_string(),
                iops: spec.iops,
                throughput: spec.throughput,
                // Only as declared: unsaid, the account's default holds.
                encrypted: spec.encrypted,
                kms_key_id: spec.kms_key_id.clone(),
                client_token: declaration::volume_token(
                    by.physical_id,
                    self.request_id,
                    &member.key,
                    spec,
                ),
                tags: declaration::volume_tags(props, by, &member.key, &spec.device_name),
            };
            self.ec2.create_volume(&new).await
        })
        .await;
        let (made, failed): (Vec<_>, Vec<_>) = made.into_iter().partition(Result::is_ok);
        let made: Vec<Volume> = made.into_iter().flatten().collect();
        let outcome = match failed.into_iter().find_map(Result::err) {
            Some(e) => Err(ec2_error("creating the volumes")(e)),
            None => self.keys_usable(&made).await,
        };
        if outcome.is_err() {
            for volume in &made {
                match self.ec2.delete_volume(&volume.id).await {
                    Err(e) if !e.is_not_found() => {
                        tracing::error!(error = %e, volume = %volume.id, "could not delete a volume after a failure");
                    }
                    _ => {}
                }
            }
        }
        outcome
    }

    /// C17: EBS checks a volume's KMS key only after CreateVolume answers,
    /// and deletes the volume while `creating` when the caller may not use
    /// the key, with no error anywhere (aws-ebs-csi-driver issue 3010). So
    /// each encrypted volume made is read by id until `available`: one the
    /// reads stop showing, or do not show within `SHOWN_WITHIN`, and that a
    /// write then finds gone, failed for its key, and the declaration fails
    /// naming it.
    async fn keys_usable(&self, made: &[Volume]) -> Result<(), ProviderError> {
        let keyed: Vec<&Volume> = made.iter().filter(|v| v.kms_key_id.is_some()).collect();
        if keyed.is_empty() {
            return Ok(());
        }
        let query = VolumeQuery::Ids(keyed.iter().map(|v| v.id.clone()).collect());
        let shown_by = Instant::now() + SHOWN_WITHIN;
        let seen = Mutex::new(BTreeSet::new());
        let verdict = self
            .deadline
            .wait_for(self.backoff, || async {
                let read = self.ec2.describe_volumes(&query).await?;
                let suspect = {
                    let mut seen = seen.lock().unwrap();
                    seen.extend(read.iter().map(|v| v.id.clone()));
                    let shown = |v: &&&Volume| read.iter().any(|r| r.id == v.id);
                    let late = Instant::now() >= shown_by;
                    let suspect = keyed
                        .iter()
                        .find(|v| !shown(v) && (seen.contains(&v.id) || late));
                    suspect.copied()
                };
                // A read by id may show a new volume, then not (reads lag,
                // each its own way): only a write's NotFound says it is gone.
                if let Some(suspect) = suspect {
                    if self.gone(suspect).await? {
                        return Ok::<_, AwsError>(Some(Err(unmade(suspect))));
                    }
                    return Ok(None);
                }
                let available = read.iter().all(|v| v.status == VolumeStatus::Available);
                Ok((available && read.len() == keyed.len()).then_some(Ok(())))
            })
            .await
            .map_err(ec2_error("reading the encrypted volumes made"))?;
        verdict.unwrap_or_else(|| {
            let ids: Vec<&str> = keyed.iter().map(|v| v.id.as_str()).collect();
            let ids = ids.join(", ");
            Err(ProviderError::Deadline(format!("{ids} read available")))
        })
    }

    /// Whether the volume is gone, as a write of its own owner tag again
    /// answers (writes see EC2's true state).
    async fn gone(&self, volume: &Volume) -> Result<bool, AwsError> {
        let owner = volume
            .tags
            .get(crate::ec2::OWNER_TAG)
            .cloned()
            .unwrap_or_default();
        let tags = Tags::from([(crate::ec2::OWNER_TAG.to_string(), owner)]);
        match self
            .ec2
            .create_tags(std::slice::from_ref(&volume.id), &tags)
            .await
        {
            Ok(()) => Ok(false),
            Err(e) if e.is_not_found() => Ok(true),
            Err(e) => Err(e),
        }
    }

    async fn owned_volumes(&self, physical_id: &str) -> Result<Vec<Volume>, ProviderError> {
        let owned = VolumeQuery::Owners(vec![physical_id.to_string()]);
        let owned = self.ec2.describe_volumes(&owned).await;
        owned.map_err(ec2_error("reading the pool's volumes"))
    }

    /// The pool's volumes at its Delete: each deleted when `delete` asks
    /// and it can be (detached from a stopped instance first; EC2's own
    /// detach after a termination awaited, bounded by the deadline), else
    /// kept. What is kept is named: "vol-1 (why)".
    pub(super) async fn let_volumes_go(
        &self,
        physical_id: &str,
        delete: bool,
    ) -> Result<Vec<String>, ProviderError> {
        let owned = self.owned_volumes(physical_id).await?;
        let results = concurrently(CONCURRENCY, &owned, |v| async move {
            let kept = match delete {
                true => self.delete_when_free(v).await?,
                false => Some("DeleteVolumes is not set".to_string()),
            };
            match kept {
                None => Ok(None),
                Some(why) => {
                    self.release_volume(v).await?;
                    Ok(Some(format!("{} ({why})", v.id)))
                }
            }
        })
        .await;
        let kept: Result<Vec<Option<String>>, AwsError> = results.into_iter().collect();
        let kept = kept.map_err(ec2_error("letting the pool's volumes go"))?;
        Ok(kept.into_iter().flatten().collect())
    }

    /// Deletes the volume once nothing has it attached; `Some(why)` when it
    /// stays: a running instance has it, or the deadline came first.
    async fn delete_when_free(&self, known: &Volume) -> Result<Option<String>, AwsError> {
        let query = VolumeQuery::Ids(vec![known.id.clone()]);
        let detach_sent = std::sync::atomic::AtomicBool::new(false);
        let verdict = self
            .deadline
            .wait_for(self.backoff, || async {
                // A read that misses it may lag: only the delete's own
                // NotFound says it is gone.
                let fresh = self.ec2.describe_volumes(&query).await?.pop();
                let volume = fresh.as_ref().unwrap_or(known);
                if volume.status == VolumeStatus::Deleting {
                    return Ok(Some(None));
                }
                if let Some(a) = &volume.attachment {
                    let read = InstanceQuery::Ids(vec![a.instance_id.clone()]);
                    let on = self.ec2.describe_instances(&read).await?.pop();
                    let state = on.map(|i| i.state);
                    let running = !matches!(
                        state,
                        None | Some(InstanceState::Stopped)
                            | Some(InstanceState::ShuttingDown)
                            | Some(InstanceState::Terminated)
                    );
                    if running {
                        let why = format!("attached to running instance {}", a.instance_id);
                        return Ok(Some(Some(why)));
                    }
                    let sent = detach_sent.swap(true, std::sync::atomic::Ordering::Relaxed);
                    if state == Some(InstanceState::Stopped) && !sent {
                        match self.ec2.detach_volume(&volume.id, &a.instance_id).await {
                            Err(e) if !e.is_not_found() && !e.is(ErrorKind::IncorrectState) => {
                                return Err(e)
                            }
                            _ => {}
                        }
                    }
                    return Ok(None);
                }
                match self.ec2.delete_volume(&volume.id).await {
                    Ok(()) => Ok(Some(None)),
                    Err(e) if e.is_not_found() => Ok(Some(None)),
                    Err(e) if e.is(ErrorKind::InUse) || e.is(ErrorKind::IncorrectState) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await?;
        Ok(verdict.unwrap_or_else(|| Some("still attached at the deadline".to_string())))
    }

    /// Out of the pool for good, data kept: tagged with where it was, then
    /// rid of the manager's keys, so that no pool reads it again. Gone is
    /// fine.
    async fn release_volume(&self, v: &Volume) -> Result<(), AwsError> {
        let tag = |k: &str| v.tags.get(k).map(String::as_str).unwrap_or_default();
        let was = format!(
            "{} {} {}",
            tag(crate::ec2::OWNER_TAG),
            tag(SLOT_TAG),
            tag(DEVICE_TAG)
        );
        let id = std::slice::from_ref(&v.id);
        let released = Tags::from([(RELEASED_TAG.to_string(), was)]);
        let done = async {
            self.ec2.create_tags(id, &released).await?;
            self.ec2
                .delete_tags(id, &declaration::volume_tag_keys())
                .await
        };
        match done.await {
            Err(e) if e.is_not_found() => Ok(()),
            other => other,
        }
    }
}

/// Why a volume EBS deleted while making it was not made: its key.
fn unmade(volume: &Volume) -> ProviderError {
    let key = volume.kms_key_id.as_deref().unwrap_or_default();
    ProviderError::Unmade(format!(
        "volume {} was deleted by EBS while being made: the manager's role cannot \
         use its KMS key {key}. Add the key's ARN to the manager stack's \
         VolumeKmsKeyArns (it grants kms:CreateGrant, kms:Decrypt, \
         kms:DescribeKey, kms:GenerateDataKeyWithoutPlaintext and \
         kms:ReEncrypt* through EC2), and let the key's policy allow the \
         account's IAM policies",
        volume.id
    ))
}
