//! `Custom::NetworkInterfacePool`: pools declared as CloudFormation
//! resources. Every request gets exactly one answer on its ResponseURL,
//! whatever happens (C5): invalid input, EC2 errors, a panic, the deadline.

pub mod changes;
pub mod claims;
pub mod cleanup;
pub mod declaration;
pub mod elastic_ip_plan;
mod elastic_ips;
pub mod invocation;
pub mod ordinals;
pub mod plan;
pub mod properties;
pub mod provider;
mod removal;
pub mod response;
pub mod volume_plan;
mod volumes;

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use serde_json::Value;

use crate::deadline::{Backoff, Deadline};
use crate::ec2::{Ec2, RELEASED_TAG};
use crate::event::POOL_RESOURCE_TYPE;
use properties::PoolProperties;
use provider::{Provider, ProviderError};
use response::{PoolData, Response, Status};

/// Time kept after the provider's work to deliver the answer (at most half
/// of what is left).
const ANSWER_TIME: Duration = Duration::from_secs(4);

/// A CloudFormation request, read leniently: whatever is missing or of the
/// wrong type, an answer can still be sent as long as there is a ResponseURL.
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub request_type: String,
    pub response_url: String,
    pub resource_type: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub physical_resource_id: Option<String>,
    pub resource_properties: Option<Value>,
    pub old_resource_properties: Option<Value>,
}

impl Request {
    /// Reads each field on its own (C5): a field of an unexpected type is
    /// kept as its JSON text, so that it can still be echoed.
    pub fn read(input: &Value) -> Self {
        let text = |key: &str| match input.get(key) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let physical = text("PhysicalResourceId");
        Self {
            request_type: text("RequestType"),
            response_url: text("ResponseURL"),
            resource_type: text("ResourceType"),
            stack_id: text("StackId"),
            request_id: text("RequestId"),
            logical_resource_id: text("LogicalResourceId"),
            physical_resource_id: (!physical.is_empty()).then_some(physical),
            resource_properties: input.get("ResourceProperties").cloned(),
            old_resource_properties: input.get("OldResourceProperties").cloned(),
        }
    }
}

/// What serving a request did.
#[derive(Clone, Debug)]
pub struct Served {
    pub response: Response,
    /// Whether the answer reached CloudFormation.
    pub delivered: Result<(), String>,
    /// What to reconcile now (C7): after a successful Create or Update.
    pub reconcile: Reconcile,
}

impl Served {
    /// The interfaces of the pool as answered, to read by id (R16).
    pub fn members(&self) -> Vec<String> {
        self.response
            .data
            .as_ref()
            .map(|d| d.network_interface_ids.clone())
            .unwrap_or_default()
    }

    /// One line for the outcome: the answer and whether it was delivered.
    pub fn note(&self) -> String {
        let status = match self.response.status {
            Status::Success => "SUCCESS".to_string(),
            Status::Failed => format!("FAILED: {}", self.response.reason),
        };
        match &self.delivered {
            Ok(()) => format!("answered {status}"),
            Err(e) => format!("{status}; {e}"),
        }
    }
}

/// What a successful Create or Update leaves for the reconcile (C7).
#[derive(Clone, Debug, Default)]
pub struct Reconcile {
    /// The pool, and its old name after a rename.
    pub pools: Vec<String>,
    /// Interfaces the request took out of the pool (retired, released):
    /// the reconcile reads them by id, so that a lagging tag read does not
    /// give one to an instance.
    pub taken_out: Vec<String>,
}

impl Reconcile {
    /// After `props` replaced `old`: the pool, and its old name after a rename.
    pub fn after(
        props: &PoolProperties,
        old: Option<&PoolProperties>,
        taken_out: Vec<String>,
    ) -> Self {
        let mut pools = vec![props.name.clone()];
        pools.extend(old.map(|o| o.name.clone()).filter(|n| n != &props.name));
        Self { pools, taken_out }
    }
}

/// Serves one request and answers it.
pub async fn serve(
    ec2: &dyn Ec2,
    http: &reqwest::Client,
    input: &Value,
    deadline: Deadline,
    backoff: Backoff,
) -> Served {
    let request = Request::read(input);
    let physical_id = match (&request.physical_resource_id, request.request_type.as_str()) {
        (Some(id), "Update" | "Delete") if !id.is_empty() => id.clone(),
        _ => declaration::physical_id(&request.stack_id, &request.logical_resource_id),
    };
    let left = deadline.remaining();
    let work_deadline = Deadline::after(left - ANSWER_TIME.min(left / 2));
    let provider = Provider {
        ec2,
        deadline: work_deadline,
        backoff,
        request_id: &request.request_id,
        stack_id: &request.stack_id,
        fingerprint: None,
    };
    let work = AssertUnwindSafe(run(&provider, &request, &physical_id)).catch_unwind();
    let result = match tokio::time::timeout(work_deadline.remaining(), work).await {
        Ok(Ok(result)) => result,
        Ok(Err(_panic)) => Err("internal error: the provider panicked".to_string()),
        Err(_) => Err("the Lambda deadline came before the work was done".to_string()),
    };
    let (status, reason, data, reconcile) = match result {
        Ok((data, reconcile, note)) => (Status::Success, note, data, reconcile),
        Err(reason) => (Status::Failed, reason, None, Reconcile::default()),
    };
    let response = Response {
        status,
        reason,
        physical_resource_id: physical_id,
        stack_id: request.stack_id.clone(),
        request_id: request.request_id.clone(),
        logical_resource_id: request.logical_resource_id.clone(),
        no_echo: false,
        data,
    };
    let delivered = response::send(http, &request.response_url, response.body(), deadline)
        .await
        .map_err(|e| e.to_string());
    match &delivered {
        Ok(()) => {
            tracing::info!(status = ?response.status, reason = %response.reason, "answered CloudFormation")
        }
        Err(e) => tracing::error!(error = %e, "could not answer CloudFormation"),
    }
    Served {
        response,
        delivered,
        reconcile,
    }
}

/// A success: the data, what to reconcile, and a note for the Reason.
type Answer = (Option<PoolData>, Reconcile, String);

async fn run(
    provider: &Provider<'_>,
    request: &Request,
    physical_id: &str,
) -> Result<Answer, String> {
    let describe = |e: ProviderError| e.to_string();
    if request.resource_type != POOL_RESOURCE_TYPE {
        // Another type sent here (CDK's default, a typo): answered, never
        // left to time out; a Delete has nothing of ours to remove (C9).
        return match request.request_type.as_str() {
            "Delete" => Ok((None, Reconcile::default(), String::new())),
            _ => Err(format!(
                "ResourceType: this function serves {POOL_RESOURCE_TYPE}, not {:?}",
                request.resource_type
            )),
        };
    }
    match request.request_type.as_str() {
        "Create" | "Update" => {
            let props = properties::parse(request.resource_properties.as_ref())
                .map_err(|e| e.to_string())?;
            // Old properties only name user tags to remove; invalid ones name none.
            let old = properties::parse(request.old_resource_properties.as_ref()).ok();
            let converged = provider
                .converge(physical_id, &props, old.as_ref())
                .await
                .map_err(describe)?;
            let reconcile = Reconcile::after(&props, old.as_ref(), converged.taken_out());
            Ok((Some(converged.data), reconcile, String::new()))
        }
        "Delete" => {
            // After a cancelled Create, CloudFormation deletes with an id it
            // made up: the pool's own id (stack and logical id) goes too (C4).
            let own = declaration::physical_id(&request.stack_id, &request.logical_resource_id);
            // C17: the volumes go only when the declaration asks.
            let props = properties::parse(request.resource_properties.as_ref()).ok();
            let delete_volumes = props.is_some_and(|p| p.delete_volumes());
            let mut kept = provider
                .delete(physical_id, delete_volumes)
                .await
                .map_err(describe)?;
            if own != physical_id {
                kept.extend(
                    provider
                        .delete(&own, delete_volumes)
                        .await
                        .map_err(describe)?,
                );
            }
            let note = match kept.is_empty() {
                true => String::new(),
                false => format!(
                    "kept data volumes (tagged {RELEASED_TAG}): {}",
                    kept.join(", ")
                ),
            };
            Ok((None, Reconcile::default(), note))
        }
        other => Err(format!("RequestType: unknown {other:?}")),
    }
}
