//! The one handler Lambda and `network-interface-manager handle` share: an
//! input in, an outcome out. Unknown and malformed inputs are logged and
//! answered with success (a retry cannot fix them); a transient EC2 failure is
//! an error, so that Lambda delivers the event again.

use serde::Serialize;
use serde_json::Value;

use crate::custom_resource;
use crate::deadline::Deadline;
use crate::ec2::{CallCounts, Ec2, Ec2Error, InstanceState};
use crate::event::Event;
use crate::pool::apply::Settings;
use crate::pool::{Manager, Outcome};

/// What a handler works with, built once per cold start.
pub struct Context<'a> {
    pub ec2: &'a dyn Ec2,
    /// For the answers to CloudFormation.
    pub http: reqwest::Client,
    pub settings: Settings,
}

impl<'a> Context<'a> {
    pub fn new(ec2: &'a dyn Ec2, settings: Settings) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .build()
            .expect("an HTTP client with default TLS");
        Self {
            ec2,
            http,
            settings,
        }
    }
}

/// What a handled input did, as printed by `handle` and returned to Lambda.
#[derive(Clone, Debug, Serialize)]
pub struct Handled {
    /// The kind of input: `state-change`, `scheduled`, `custom-resource`,
    /// `malformed` or `ignored`.
    pub event: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<InstanceState>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The answer sent to CloudFormation, for a custom resource request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<custom_resource::response::Response>,
    /// EC2 calls this input cost, by operation.
    pub ec2_calls: CallCounts,
    /// How long handling took, in milliseconds.
    pub duration_ms: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Reading EC2 failed; whether a retry may help is in the error's kind.
    #[error("reading EC2 failed: {0}")]
    Read(#[source] Ec2Error),
    /// Some actions failed for a reason that may pass; the rest is done.
    #[error("{failures} action(s) failed transiently; the event should be retried")]
    Transient {
        failures: usize,
        handled: Box<Handled>,
    },
}

/// Handles one input through exactly the path Lambda uses.
pub async fn handle(
    ctx: &Context<'_>,
    input: &Value,
    deadline: Deadline,
) -> Result<Handled, HandlerError> {
    let ec2 = ctx.ec2;
    let started = std::time::Instant::now();
    let before = ec2.calls();
    let manager = Manager::new(ec2, ctx.settings.clone());
    let mut handled = match Event::parse(input) {
        Event::StateChange { instance_id, state } => {
            let outcome = manager
                .instance_changed(&instance_id, state, deadline)
                .await
                .map_err(HandlerError::Read)?;
            let mut handled = handled("state-change", outcome);
            handled.instance_id = Some(instance_id);
            handled.state = Some(state);
            handled
        }
        Event::Scheduled => {
            let outcome = manager
                .sync(&[], deadline)
                .await
                .map_err(HandlerError::Read)?;
            handled("scheduled", outcome)
        }
        Event::CustomResource(request) => {
            let served = custom_resource::serve(ec2, &ctx.http, &request, deadline).await;
            let mut outcome = Outcome::noted(served.note());
            // C7: reconcile at once. A failure here is left to the schedule:
            // CloudFormation has its answer, and a retry would answer twice.
            if !served.reconcile.is_empty() {
                match manager.sync(&served.reconcile, deadline).await {
                    Ok(synced) => outcome.report = synced.report,
                    Err(e) => tracing::warn!(error = %e, "reconcile after the pool change failed"),
                }
            }
            let mut handled = handled("custom-resource", outcome);
            handled.response = Some(served.response);
            handled.ec2_calls = calls_since(&before, ec2.calls());
            handled.duration_ms = started.elapsed().as_millis() as u64;
            return Ok(handled);
        }
        Event::Malformed { kind, error } => {
            tracing::warn!(kind, %error, "malformed event ignored");
            handled("malformed", Outcome::noted(format!("{kind}: {error}")))
        }
        Event::Unknown { description } => {
            tracing::info!(%description, "unknown event ignored");
            handled(
                "ignored",
                Outcome::noted(format!("not handled: {description}")),
            )
        }
    };
    handled.ec2_calls = calls_since(&before, ec2.calls());
    handled.duration_ms = started.elapsed().as_millis() as u64;
    let failures = handled
        .outcome
        .report
        .failed
        .iter()
        .filter(|f| f.transient)
        .count();
    if failures > 0 {
        return Err(HandlerError::Transient {
            failures,
            handled: Box::new(handled),
        });
    }
    Ok(handled)
}

fn handled(event: &'static str, outcome: Outcome) -> Handled {
    Handled {
        event,
        instance_id: None,
        state: None,
        outcome,
        response: None,
        ec2_calls: CallCounts::new(),
        duration_ms: 0,
    }
}

fn calls_since(before: &CallCounts, now: CallCounts) -> CallCounts {
    now.into_iter()
        .map(|(op, n)| (op, n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}
