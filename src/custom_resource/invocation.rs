//! Pools declared by invocation (C15): Terraform's, OpenTofu's and Pulumi's
//! `aws_lambda_invocation` with lifecycle scope `CRUD` [TF-INV]. The custom
//! resource's semantics without a stack: the same properties and
//! convergence, the pool known by its name, and, as no rollback can come,
//! what an update takes out deleted once it succeeded. The answer is
//! returned, not sent: the data `Fn::GetAtt` reads, or a refusal that fails
//! the caller's apply.

use std::panic::AssertUnwindSafe;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::FutureExt;
use serde_json::Value;

use super::declaration::{fingerprint, invocation_id};
use super::properties;
use super::provider::{ec2_error, Provider, ProviderError};
use super::response::PoolData;
use super::Reconcile;
use crate::concurrent::concurrently;
use crate::deadline::{Backoff, Deadline};
use crate::ec2::{Address, Ec2};
use crate::event::{Invocation, InvocationAction};

/// Removals in flight at once.
const CONCURRENCY: usize = 8;

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
    // A ClientToken per invocation: a retry is a new invocation, found
    // through the ownership tags like a repeated Create (C2).
    let token = format!("invocation-{}", now_ms());
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
        let Some(name) = declared_name(invocation) else {
            return Ok((None, Reconcile::default()));
        };
        let delete_volumes = props.as_ref().is_ok_and(|p| p.delete_volumes());
        let kept = provider(None)
            .delete(&invocation_id(&name), delete_volumes)
            .await
            .map_err(describe)?;
        if !kept.is_empty() {
            tracing::info!(kept = ?kept, "kept the pool's data volumes (C17)");
        }
        return Ok((None, Reconcile::default()));
    }
    let props = props?;
    let old = match invocation.action {
        InvocationAction::Update => invocation.prev_input.as_ref(),
        _ => None,
    };
    let old = old.and_then(|p| properties::parse(Some(p)).ok());
    if let Some(old) = old.as_ref().filter(|o| o.name != props.name) {
        return Err(format!(
            "Name: a pool declared by invocation is known by its name; '{}' cannot \
             become '{}' in place: replace the resource (Terraform: apply -replace)",
            old.name, props.name
        ));
    }
    let fingerprint = fingerprint(&props);
    let provider = provider(Some(&fingerprint));
    let physical_id = invocation_id(&props.name);
    let converged = provider
        .converge(&physical_id, &props, old.as_ref())
        .await
        .map_err(describe)?;
    // No rollback can come: what the update took out goes now.
    provider
        .discard_retired(&converged.retired, &converged.retired_addresses)
        .await
        .map_err(|e| format!("the pool was updated, but {e}; apply again to finish"))?;
    let reconcile = Reconcile::after(&props, old.as_ref(), converged.taken_out());
    Ok((Some(converged.data), reconcile))
}

/// The name a delete's input (or, failing that, its previous input)
/// declares; none if neither names one.
fn declared_name(invocation: &Invocation) -> Option<String> {
    let name_in = |v: &Value| v.get("Name")?.as_str().map(str::to_string);
    name_in(&invocation.input).or_else(|| invocation.prev_input.as_ref().and_then(name_in))
}

fn now_ms() -> u128 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH);
    since.map(|d| d.as_millis()).unwrap_or_default()
}

impl Provider<'_> {
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
    fn a_delete_is_known_by_its_input_name_else_its_previous_one() {
        let delete = |input, prev_input| Invocation {
            action: InvocationAction::Delete,
            input,
            prev_input,
        };
        let named = delete(json!({"Name": "a"}), Some(json!({"Name": "b"})));
        assert_eq!(declared_name(&named).as_deref(), Some("a"));
        let previous = delete(json!({}), Some(json!({"Name": "b"})));
        assert_eq!(declared_name(&previous).as_deref(), Some("b"));
        assert_eq!(declared_name(&delete(json!({}), None)), None);
    }
}
