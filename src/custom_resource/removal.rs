//! Taking interfaces out of a pool (C4, C11, C12): releasing adopted ones,
//! retiring what an Update no longer declares, removing (detaching and
//! deleting) what a Delete or the cleanup lets go, and undoing a failed
//! request. Whatever EC2 answers, and however the reads lag: what is gone
//! is done, a refusal fails the request with EC2's reason.

use super::declaration;
use super::provider::{ec2_error, Provider, ProviderError, CONCURRENCY};
use crate::aws::{ErrorKind, Missing};
use crate::concurrent::concurrently;
use crate::ec2::{InterfaceQuery, InterfaceStatus, NetworkInterface, Tags, POOL_TAG, RETIRED_TAG};

impl Provider<'_> {
    /// Removes tags of the pool from adopted interfaces; gone ones are fine.
    /// EC2 fails the whole batch when one id is gone, so after a NotFound
    /// each is untagged alone: a read would not tell which (it may lag
    /// behind the deletion).
    pub(super) async fn release(&self, ids: &[String]) -> Result<(), ProviderError> {
        if ids.is_empty() {
            return Ok(());
        }
        let keys = &declaration::pool_tag_keys();
        let failed = ec2_error("releasing adopted interfaces");
        match self.ec2.delete_tags(ids, keys).await {
            Err(e) if e.is_not_found() => {}
            other => return other.map_err(failed),
        }
        let each = concurrently(CONCURRENCY, ids, |id| async move {
            match self.ec2.delete_tags(std::slice::from_ref(id), keys).await {
                Err(e) if e.is_not_found() => Ok(()),
                other => other,
            }
        })
        .await;
        each.into_iter().collect::<Result<(), _>>().map_err(failed)
    }

    /// C12: what an Update no longer declares is retired, not deleted: out
    /// of the pool and detached, kept with its owner and slot, so that a
    /// rollback puts the same interface back. The schedule deletes it once
    /// the stack operation is over; the pool's Delete always does.
    pub(super) async fn retire_all(
        &self,
        interfaces: &[&NetworkInterface],
    ) -> Result<(), ProviderError> {
        let results = concurrently(CONCURRENCY, interfaces, |i| self.retire(i)).await;
        results.into_iter().collect()
    }

    async fn retire(&self, iface: &NetworkInterface) -> Result<(), ProviderError> {
        let failed = || ec2_error(format!("retiring {}", iface.id));
        let id = std::slice::from_ref(&iface.id);
        let retired = Tags::from([(RETIRED_TAG.to_string(), "true".to_string())]);
        // Marked while the pool tag still lets the role tag it, then out of
        // the pool (C11), then detached.
        let steps = async {
            self.ec2.create_tags(id, &retired).await?;
            self.ec2.delete_tags(id, &[POOL_TAG.to_string()]).await?;
            // Its attachment as a read by id shows it (the owner read lags).
            let fresh = self
                .ec2
                .describe_interfaces(&InterfaceQuery::ids(id))
                .await?;
            let attachment = fresh.first().and_then(|i| i.attachment.as_ref());
            if let Some(a) = attachment.filter(|a| !a.is_detaching()) {
                match self.ec2.detach(&a.id).await {
                    Err(e) if !e.is_not_found() => return Err(e),
                    _ => {}
                }
            }
            Ok(())
        };
        match steps.await {
            Err(e) if e.is(ErrorKind::NotFound(Missing::Interface)) => Ok(()),
            other => other.map_err(failed()),
        }
    }

    pub(super) async fn remove_all(
        &self,
        interfaces: &[&NetworkInterface],
    ) -> Result<(), ProviderError> {
        let results = concurrently(CONCURRENCY, interfaces, |i| self.remove(i)).await;
        results.into_iter().collect()
    }

    /// Takes the interface out of the pool, so that no sync attaches it
    /// again (C11), then detaches it gently (never forced, R8) and deletes
    /// it; a detach that does not end before the deadline fails the request,
    /// and the next one finishes it.
    pub(super) async fn remove(&self, iface: &NetworkInterface) -> Result<(), ProviderError> {
        let pool_tag = [POOL_TAG.to_string()];
        let out_of_pool = self
            .ec2
            .delete_tags(std::slice::from_ref(&iface.id), &pool_tag);
        match out_of_pool.await {
            Err(e) if e.is_not_found() => return Ok(()),
            Err(e) => return Err(ec2_error(format!("removing {}", iface.id))(e)),
            Ok(()) => {}
        }
        match self.deleted(&iface.id).await? {
            true => Ok(()),
            false => Err(ProviderError::Deadline(format!(
                "{} was detached and deleted",
                iface.id
            ))),
        }
    }

    /// Detaches the interface as a fresh read by id shows it, then deletes
    /// it once it reads as free. EC2 refuses while it is still pending or in
    /// use (reads lag: EC2 is the judge). False when the deadline comes first.
    pub(super) async fn deleted(&self, id: &str) -> Result<bool, ProviderError> {
        let query = InterfaceQuery::ids(&[id.to_string()]);
        // One detach call: a lagging read may still show it attached.
        let detach_sent = std::sync::atomic::AtomicBool::new(false);
        let done = self
            .deadline
            .wait_for(self.backoff, || async {
                // A read that misses it may lag behind its creation: only
                // the delete's own NotFound says it is gone.
                let found = self.ec2.describe_interfaces(&query).await?.pop();
                if let Some(a) = found.as_ref().and_then(|f| f.attachment.as_ref()) {
                    let sent = detach_sent.swap(true, std::sync::atomic::Ordering::Relaxed);
                    if !sent && !a.is_detaching() {
                        match self.ec2.detach(&a.id).await {
                            Err(e) if !e.is_not_found() => return Err(e),
                            _ => return Ok(None),
                        }
                    }
                }
                let busy = |f: &NetworkInterface| {
                    f.status != InterfaceStatus::Available || f.attachment.is_some()
                };
                if found.as_ref().is_some_and(busy) {
                    return Ok(None);
                }
                match self.ec2.delete_interface(id).await {
                    Ok(()) => Ok(Some(())),
                    Err(e) if e.is_not_found() => Ok(Some(())),
                    Err(e) if e.is(ErrorKind::InUse) || e.is(ErrorKind::IncorrectState) => Ok(None),
                    Err(e) => Err(e),
                }
            })
            .await
            .map_err(ec2_error(format!("removing {id}")))?;
        Ok(done.is_some())
    }

    /// Best effort after a failure: remove what this request created and
    /// release what it adopted.
    pub(super) async fn undo(&self, created: &[NetworkInterface], adopted: &[String]) {
        let created: Vec<&NetworkInterface> = created.iter().collect();
        if let Err(e) = self.remove_all(&created).await {
            tracing::error!(error = %e, "could not remove interfaces after a failure");
        }
        if let Err(e) = self.release(adopted).await {
            tracing::error!(error = %e, "could not release adopted interfaces after a failure");
        }
    }
}
