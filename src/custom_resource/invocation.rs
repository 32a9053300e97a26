//! Pools declared by invocation (C15): Terraform's, OpenTofu's and Pulumi's
//! `aws_lambda_invocation` with lifecycle scope `CRUD` [TF-INV]. The custom
//! resource's semantics without a stack: the same properties and
//! convergence, the pool known by its name (renamed in place, R25), and, as
//! no rollback can come, what an update takes out deleted once it
//! succeeded. Each create claims the pool and each delete lets one claim
//! go; only the last deletes it (C18). The answer is returned, not sent:
//! the data `Fn::GetAtt` reads, or a refusal that fails the caller's apply.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use serde_json::Value;

use super::claims::{self, Claims, Release, Step, Touch};
use super::declaration::{fingerprint, invocation_id};
use super::properties::{self, PoolProperties};
use super::provider::{ec2_error, Converged, Provider, ProviderError};
use super::response::PoolData;
use super::Reconcile;
use crate::aws::{ErrorKind, Missing};
use crate::concurrent::concurrently;
use crate::deadline::{Backoff, Deadline};
use crate::ec2::{
    Address, Ec2, InterfaceQuery, NetworkInterface, Tags, CLAIMS_TAG, OWNER_TAG, TOUCHED_TAG,
};
use crate::event::{Invocation, InvocationAction};

/// Removals in flight at once.
const CONCURRENCY: usize = 8;

/// How long a delete waits for the reads to stop showing what it deleted
/// (guess: EC2 gives no bound; most reads catch up within seconds).
const SETTLE: Duration = Duration::from_secs(20);

/// What serving an invocation did.
#[derive(Clone, Debug)]
pub struct Invoked {
    /// The pool's data after a create or update; none after a delete; the
    /// reason of a refusal or failure.
    pub answer: Result<Option<PoolData>, String>,
    /// What to reconcile now (C7).
    pub reconcile: Reconcile,
}

impl Invoked {
    /// The interfaces of the pool as answered, to read by id (R16).
    pub fn members(&self) -> Vec<String> {
        match &self.answer {
            Ok(Some(data)) => data.network_interface_ids.clone(),
            _ => Vec::new(),
        }
    }

    /// What the caller gets back: the return values as JSON (`{}` after a
    /// delete), or the reason.
    pub fn result(&self) -> Result<Value, String> {
        match &self.answer {
            Ok(data) => Ok(serde_json::to_value(data).expect("pool data serialises")),
            Err(reason) => Err(reason.clone()),
        }
        .map(|v| match v {
            Value::Null => Value::Object(Default::default()),
            data => data,
        })
    }
}

/// Serves one invocation; a panic or the deadline is a failure like any.
pub async fn serve(
    ec2: &dyn Ec2,
    invocation: &Invocation,
    deadline: Deadline,
    backoff: Backoff,
) -> Invoked {
    let work = AssertUnwindSafe(run(ec2, invocation, deadline, backoff)).catch_unwind();
    let result = match tokio::time::timeout(deadline.remaining(), work).await {
        Ok(Ok(result)) => result,
        Ok(Err(_panic)) => Err("internal error: the provider panicked".to_string()),
        Err(_) => Err("the Lambda deadline came before the work was done".to_string()),
    };
    match result {
        Ok((data, reconcile)) => Invoked {
            answer: Ok(data),
            reconcile,
        },
        Err(reason) => {
            tracing::warn!(%reason, "declaration by invocation failed");
            Invoked {
                answer: Err(reason),
                reconcile: Reconcile::default(),
            }
        }
    }
}

async fn run(
    ec2: &dyn Ec2,
    invocation: &Invocation,
    deadline: Deadline,
    backoff: Backoff,
) -> Result<(Option<PoolData>, Reconcile), String> {
    let describe = |e: ProviderError| e.to_string();
    let now = now_ms();
    // A ClientToken per invocation: a retry is a new invocation, found
    // through the ownership tags like a repeated Create (C2).
    let token = format!("invocation-{now}");
    let provider = |fingerprint| Provider {
        ec2,
        deadline,
        backoff,
        request_id: &token,
        stack_id: "",
        fingerprint,
    };
    let props = properties::parse(Some(&invocation.input)).map_err(|e| e.to_string());
    if invocation.action == InvocationAction::Delete {
        // The input is what was declared: valid, or nothing was made.
        let names = declared_names(invocation);
        if names.is_empty() {
            return Ok((None, Reconcile::default()));
        }
        let fingerprint = props.as_ref().ok().map(fingerprint);
        let delete_volumes = props.as_ref().is_ok_and(|p| p.delete_volumes());
        let release = provider(None)
            .unclaim(&names, fingerprint.as_deref(), delete_volumes, now)
            .await
            .map_err(describe)?;
        tracing::info!(pool = %names[0], ?release, "declaration by invocation let go (C18)");
        return Ok((None, Reconcile::default()));
    }
    let props = props?;
    let old = match invocation.action {
        InvocationAction::Update => invocation.prev_input.as_ref(),
        _ => None,
    };
    let old = old.and_then(|p| properties::parse(Some(p)).ok());
    let fingerprint = fingerprint(&props);
    let provider = provider(Some(&fingerprint));
    // C18: the pool the declaration holds, by the name it had (a rename,
    // R25), else the one it asks for; its identity stays its first name's.
    let names: Vec<String> = old
        .iter()
        .map(|o| o.name.clone())
        .chain([props.name.clone()])
        .collect();
    let named = provider.named(&names).await.map_err(describe)?;
    let physical_id = claims::owner(&named, &names).unwrap_or_else(|| invocation_id(&names[0]));
    let (marking, done) = match invocation.action {
        InvocationAction::Create => (Step::Claiming, Step::Claimed),
        _ => (Step::Updating, Step::Updated),
    };
    let touch = |step| Touch {
        at_ms: now as i64,
        step,
        fingerprint: fingerprint.clone(),
    };
    let (converged, fresh) = provider
        .converge_marked(&physical_id, &props, old.as_ref(), &touch(marking).tag())
        .await
        .map_err(describe)?;
    // No rollback can come: what the update took out goes now.
    provider
        .discard_retired(&converged.retired, &converged.retired_addresses)
        .await
        .map_err(|e| format!("the pool was updated, but {e}; apply again to finish"))?;
    let members = &converged.data.network_interface_ids;
    let mut held = claims::claims(fresh.iter().chain(&named), converged.existed);
    held.count = match done {
        Step::Claimed => held.count + 1,
        _ => held.count.max(1),
    };
    provider
        .record(members, Some(&held), &touch(done))
        .await
        .map_err(describe)?;
    let reconcile = Reconcile::after(&props, old.as_ref(), converged.taken_out());
    Ok((Some(converged.data), reconcile))
}

/// The names a delete's input and previous input declare, in that order
/// (a refused update leaves its input in the caller's state); none if
/// neither names one.
fn declared_names(invocation: &Invocation) -> Vec<String> {
    let name_in = |v: &Value| v.get("Name")?.as_str().map(str::to_string);
    let mut names: Vec<String> = [Some(&invocation.input), invocation.prev_input.as_ref()]
        .into_iter()
        .flatten()
        .filter_map(name_in)
        .collect();
    names.dedup();
    names
}

fn now_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map(|d| d.as_millis() as u64).unwrap_or_default()
}

impl Provider<'_> {
    /// The members of the pools named `names` (R25: a renamed pool's
    /// members carry its new name).
    async fn named(&self, names: &[String]) -> Result<Vec<NetworkInterface>, ProviderError> {
        let query = InterfaceQuery::pools(names);
        let read = self.ec2.describe_interfaces(&query).await;
        read.map_err(ec2_error("reading the pool's interfaces"))
    }

    /// C18: writes `mark` on the members, then reads them by id until each
    /// shows it: a read as new as this invocation, which shows every claim
    /// made before it. A member the mark finds gone (EC2 fails the whole
    /// batch then, so each is marked alone) is left out: its own NotFound
    /// says so, where a read may lag. Returns the read and the members left.
    async fn marked(
        &self,
        ids: &[String],
        mark: &str,
    ) -> Result<(Vec<NetworkInterface>, Vec<String>), ProviderError> {
        if ids.is_empty() {
            return Ok((Vec::new(), Vec::new()));
        }
        let tags = &Tags::from([(TOUCHED_TAG.to_string(), mark.to_string())]);
        let failed = || ec2_error("marking the pool's interfaces");
        let left: Vec<String> = match self.ec2.create_tags(ids, tags).await {
            Ok(()) => ids.to_vec(),
            Err(e) if e.is_not_found() => {
                let each = concurrently(CONCURRENCY, ids, |id| async move {
                    match self.ec2.create_tags(std::slice::from_ref(id), tags).await {
                        Ok(()) => Ok(Some(id.clone())),
                        Err(e) if e.is_not_found() => Ok(None),
                        Err(e) => Err(e),
                    }
                })
                .await;
                let each: Result<Vec<Option<String>>, _> = each.into_iter().collect();
                each.map_err(failed())?.into_iter().flatten().collect()
            }
            Err(e) => return Err(failed()(e)),
        };
        if left.is_empty() {
            return Ok((Vec::new(), left));
        }
        let query = InterfaceQuery::ids(&left);
        let read = || self.ec2.describe_interfaces(&query);
        let (fresh, shown) = self
            .deadline
            .read_until(self.backoff, read, |read| claims::shows(read, &left, mark))
            .await
            .map_err(ec2_error("reading the pool's interfaces"))?;
        match shown {
            true => Ok((fresh, left)),
            false => Err(ProviderError::Deadline(
                "its interfaces showed this declaration's mark".into(),
            )),
        }
    }

    /// C18: the claims count, if given, and the touch, on every member.
    async fn record(
        &self,
        ids: &[String],
        claims: Option<&Claims>,
        touch: &Touch,
    ) -> Result<(), ProviderError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tags = Tags::from([(TOUCHED_TAG.to_string(), touch.tag())]);
        tags.extend(claims.map(|c| (CLAIMS_TAG.to_string(), c.tag())));
        let step = "recording the pool's claims";
        self.ec2
            .create_tags(ids, &tags)
            .await
            .map_err(ec2_error(step))
    }

    /// C18: lets the pool named `names` go for one declaration: one claim
    /// less, or, for the last one, the pool deleted (C4). A pool already
    /// gone, or never made, is let go as well.
    async fn unclaim(
        &self,
        names: &[String],
        fingerprint: Option<&str>,
        delete_volumes: bool,
        now: u64,
    ) -> Result<Release, ProviderError> {
        let named = self.named(names).await?;
        let physical_id = claims::owner(&named, names).unwrap_or_else(|| invocation_id(&names[0]));
        let members: Vec<&NetworkInterface> = named
            .iter()
            .filter(|m| m.tags.get(OWNER_TAG) == Some(&physical_id))
            .collect();
        let ids: Vec<String> = members.iter().map(|m| m.id.clone()).collect();
        let touch = |step| Touch {
            at_ms: now as i64,
            step,
            fingerprint: fingerprint.unwrap_or("-").to_string(),
        };
        let (fresh, ids) = self.marked(&ids, &touch(Step::Releasing).tag()).await?;
        let members = members.into_iter().filter(|m| ids.contains(&m.id));
        let held = claims::claims(fresh.iter().chain(members), !ids.is_empty());
        let release = claims::release(&held, fingerprint, now as i64);
        match &release {
            Release::Keep(left) => {
                let released = touch(Step::Released);
                let left = Claims {
                    count: *left,
                    last_release: Some(released.clone()),
                };
                self.record(&ids, Some(&left), &released).await?
            }
            Release::Repeat => {
                let previous = held
                    .last_release
                    .as_ref()
                    .expect("a repeat follows a release");
                self.record(&ids, None, previous).await?
            }
            Release::Delete => {
                let kept = self.delete(&physical_id, delete_volumes).await?;
                if !kept.is_empty() {
                    tracing::info!(kept = ?kept, "kept the pool's data volumes (C17)");
                }
                self.gone_from_reads(&physical_id).await?;
            }
        }
        Ok(release)
    }

    /// R16: a destroy-first replacement sends its create at once, and that
    /// reads the pool by owner too: a read that still shows a deleted
    /// interface would refuse a changed declaration as a second one. The
    /// delete answers once that read shows none, or after `SETTLE`.
    async fn gone_from_reads(&self, physical_id: &str) -> Result<(), ProviderError> {
        let wait = Deadline::after(SETTLE.min(self.deadline.remaining()));
        let query = InterfaceQuery::owned_by(physical_id);
        let read = || self.ec2.describe_interfaces(&query);
        let settled = wait.read_until(self.backoff, read, Vec::is_empty).await;
        let (_, gone) = settled.map_err(ec2_error("reading the pool's interfaces"))?;
        if !gone {
            tracing::warn!(%physical_id, "reads still show the deleted pool's interfaces");
        }
        Ok(())
    }

    /// R16: a create right after the pool's delete (a destroy-first
    /// replacement) may read interfaces the delete removed, as the owner
    /// read lags: a write's NotFound, or the mark's (C18), says they are
    /// gone. Converges again, from a newer read and with new ClientTokens
    /// (a failed attempt removed what it made), until the deadline. Returns
    /// the convergence and the members read fresh past `mark`.
    async fn converge_marked(
        &self,
        physical_id: &str,
        props: &PoolProperties,
        old: Option<&PoolProperties>,
        mark: &str,
    ) -> Result<(Converged, Vec<NetworkInterface>), ProviderError> {
        let gone = |e: &ProviderError| {
            matches!(e, ProviderError::Ec2 { source, .. }
                if source.is(ErrorKind::NotFound(Missing::Interface)))
        };
        let mut attempt = 0;
        let converged = self
            .deadline
            .wait_for(self.backoff, || {
                attempt += 1;
                let request_id = format!("{}-{attempt}", self.request_id);
                async move {
                    let provider = Provider {
                        request_id: &request_id,
                        ..*self
                    };
                    let converged = match provider.converge(physical_id, props, old).await {
                        Ok(converged) => converged,
                        Err(e) if gone(&e) => return Ok(None),
                        Err(e) => return Err(e),
                    };
                    let members = &converged.data.network_interface_ids;
                    let (fresh, left) = self.marked(members, mark).await?;
                    Ok((left.len() == members.len()).then_some((converged, fresh)))
                }
            })
            .await?;
        let stale = "the pool's reads caught up with its last delete";
        converged.ok_or_else(|| ProviderError::Deadline(stale.into()))
    }

    /// C15: deletes the interfaces a convergence retired (detached gently,
    /// R8) and lets its retired Elastic IPs go (C14), at once.
    async fn discard_retired(
        &self,
        interfaces: &[String],
        addresses: &[Address],
    ) -> Result<(), ProviderError> {
        let deleted = concurrently(CONCURRENCY, interfaces, |id| self.deleted(id)).await;
        for (id, done) in interfaces.iter().zip(deleted) {
            if !done? {
                return Err(ProviderError::Deadline(format!("{id} was deleted")));
            }
        }
        let let_go = concurrently(CONCURRENCY, addresses, |a| self.let_go(a)).await;
        let step = ec2_error("letting retired Elastic IPs go");
        let_go.into_iter().collect::<Result<(), _>>().map_err(step)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_answer_is_the_data_an_empty_object_after_a_delete_or_the_reason() {
        let data = PoolData {
            name: "bastion".into(),
            ..PoolData::default()
        };
        let invoked = |answer| Invoked {
            answer,
            reconcile: Reconcile::default(),
        };
        let declared = invoked(Ok(Some(data))).result().unwrap();
        assert_eq!(declared["Name"], "bastion");
        assert_eq!(invoked(Ok(None)).result(), Ok(json!({})));
        assert_eq!(invoked(Err("no".into())).result(), Err("no".into()));
    }

    #[test]
    fn a_delete_names_its_input_name_then_its_previous_one() {
        let delete = |input, prev_input| Invocation {
            action: InvocationAction::Delete,
            input,
            prev_input,
        };
        let named = delete(json!({"Name": "a"}), Some(json!({"Name": "b"})));
        assert_eq!(declared_names(&named), ["a", "b"]);
        let same = delete(json!({"Name": "a"}), Some(json!({"Name": "a"})));
        assert_eq!(declared_names(&same), ["a"]);
        let previous = delete(json!({}), Some(json!({"Name": "b"})));
        assert_eq!(declared_names(&previous), ["b"]);
        assert!(declared_names(&delete(json!({}), None)).is_empty());
    }
}
