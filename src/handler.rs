//! The one handler Lambda and `network-interface-manager handle` share: an
//! input in, an outcome out. Unknown and malformed inputs are logged and
//! answered with success (a retry cannot fix them); a transient EC2 failure is
//! an error, so that Lambda delivers the event again.

use serde::Serialize;
use serde_json::Value;

use crate::autoscaling::AutoScaling;
use crate::custom_resource;
use crate::deadline::Deadline;
use crate::disposition::{self, Disposition};
use crate::ec2::paced::Pacer;
use crate::ec2::{CallCounts, Ec2, Ec2Error, InstanceState};
use crate::event::Event;
use crate::metrics::{self, Invocation};
use crate::pool::apply::Settings;
use crate::pool::{ById, Manager, Outcome};
use crate::stacks::Stacks;

/// What a handler works with, built once per cold start.
pub struct Context<'a> {
    pub ec2: &'a dyn Ec2,
    /// For the answers to CloudFormation.
    pub http: reqwest::Client,
    pub settings: Settings,
    /// The CloudWatch namespace of the metrics (R18).
    pub metrics_namespace: String,
    /// CloudFormation, for the schedule's cleanup of declared interfaces;
    /// none: no cleanup (C12, C13).
    pub stacks: Option<&'a dyn Stacks>,
    /// Auto Scaling, for lifecycle states and hooks (R19-R22); none: every
    /// instance counts as standalone.
    pub auto_scaling: Option<&'a dyn AutoScaling>,
    /// The EC2 pacing, kept across invocations (R23).
    pub pacer: Pacer,
}

impl<'a> Context<'a> {
    pub fn new(ec2: &'a dyn Ec2, settings: Settings) -> Self {
        // Answers go to CloudFormation's bucket only (C8): no redirect is
        // followed elsewhere.
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client with default TLS");
        Self {
            ec2,
            http,
            pacer: Pacer::new(settings.ec2_share),
            settings,
            metrics_namespace: metrics::DEFAULT_NAMESPACE.to_string(),
            stacks: None,
            auto_scaling: None,
        }
    }

    /// The manager on `ec2` (this context's, paced), with Auto Scaling and
    /// the settings.
    pub fn manager<'b>(&'b self, ec2: &'b dyn Ec2) -> Manager<'b> {
        Manager::new(ec2, self.settings.clone()).with_auto_scaling(self.auto_scaling)
    }
}

/// What a handled input did, as printed by `handle` and returned to Lambda.
#[derive(Clone, Debug, Serialize)]
pub struct Handled {
    /// The kind of input: `state-change`, `lifecycle-action`, `scheduled`,
    /// `custom-resource`, `malformed` or `ignored`.
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
    /// Auto Scaling calls this input cost, by operation.
    #[serde(skip_serializing_if = "CallCounts::is_empty")]
    pub auto_scaling_calls: CallCounts,
    /// How long handling took, in milliseconds.
    pub duration_ms: u64,
    /// The event's time (epoch milliseconds), when it has one.
    #[serde(skip)]
    pub event_time: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum HandlerError {
    /// Reading EC2 failed before anything was done.
    #[error("reading EC2 failed: {0}")]
    Read(#[source] Ec2Error),
    /// Some actions failed for a reason that may pass; the rest is done.
    #[error("{failures} action(s) failed transiently; the event should be retried")]
    Transient {
        failures: usize,
        handled: Box<Handled>,
    },
}

impl HandlerError {
    /// What this failure means for Lambda (see `disposition`).
    pub fn disposition(&self) -> Disposition {
        match self {
            Self::Read(e) => disposition::of_read_error(e),
            Self::Transient { failures, .. } => Disposition::Retry {
                failures: *failures,
            },
        }
    }
}

/// `handle`, and the EMF documents of the invocation (R18): what Lambda
/// prints, and `handle --metrics` writes.
pub async fn handle_measured(
    ctx: &Context<'_>,
    input: &Value,
    deadline: Deadline,
) -> (Result<Handled, HandlerError>, Vec<Value>) {
    let before = ctx.ec2.throttled();
    let result = handle(ctx, input, deadline).await;
    let throttled = ctx.ec2.throttled().saturating_sub(before);
    let (namespace, now) = (&ctx.metrics_namespace, metrics::now_ms());
    let handled = match &result {
        Ok(handled) => Ok(handled),
        Err(HandlerError::Transient { handled, .. }) => Ok(&**handled),
        Err(HandlerError::Read(e)) => Err(e),
    };
    let docs = match handled {
        Ok(handled) => {
            let invocation = Invocation {
                outcome: &handled.outcome,
                event_time: handled.event_time,
                throttled,
            };
            metrics::documents(namespace, now, invocation)
        }
        Err(e) => {
            let retried = matches!(disposition::of_read_error(e), Disposition::Retry { .. });
            metrics::read_failure(namespace, now, retried, throttled)
        }
    };
    (result, docs)
}

/// The schedule's work: every pool reconciled (R10), then, with
/// CloudFormation at hand, declared interfaces cleaned up (C12, C13). A
/// failed cleanup is logged and left to the next schedule.
pub async fn scheduled(
    ctx: &Context<'_>,
    manager: &Manager<'_>,
    deadline: Deadline,
) -> Result<Outcome, Ec2Error> {
    let mut outcome = manager.sync(&[], deadline).await?;
    if let Some(stacks) = ctx.stacks {
        let backoff = ctx.settings.backoff;
        let ec2 = manager.ec2();
        match custom_resource::cleanup::collect(ec2, stacks, deadline, backoff).await {
            Ok(done) => outcome.cleaned_up = done,
            Err(e) => disposition::log_read_error(&e),
        }
    }
    Ok(outcome)
}

/// Handles one input through exactly the path Lambda uses: `Err` when the
/// event should be delivered again, or when nothing could be read.
pub async fn handle(
    ctx: &Context<'_>,
    input: &Value,
    deadline: Deadline,
) -> Result<Handled, HandlerError> {
    let paced = ctx.pacer.pace(ctx.ec2, deadline);
    let ec2: &dyn Ec2 = &paced;
    let started = std::time::Instant::now();
    let before = ec2.calls();
    let asg_calls = || ctx.auto_scaling.map(|a| a.calls()).unwrap_or_default();
    let asg_before = asg_calls();
    let manager = ctx.manager(ec2);
    let read = |e: Ec2Error| {
        disposition::log_read_error(&e);
        HandlerError::Read(e)
    };
    let (mut handled, verdict) = match Event::parse(input) {
        Event::StateChange(change) => {
            let outcome = manager
                .instance_changed(&change, deadline)
                .await
                .map_err(read)?;
            let verdict = disposition::of_report(&outcome.report);
            let mut handled = handled("state-change", outcome);
            handled.event_time = change.time;
            handled.instance_id = Some(change.instance_id);
            handled.state = Some(change.state);
            (handled, verdict)
        }
        Event::LifecycleAction(action) => {
            let outcome = manager
                .lifecycle_action(&action, deadline)
                .await
                .map_err(read)?;
            let verdict = disposition::of_report(&outcome.report);
            let mut handled = handled("lifecycle-action", outcome);
            handled.instance_id = Some(action.given.action.instance_id);
            (handled, verdict)
        }
        Event::Scheduled => {
            let outcome = scheduled(ctx, &manager, deadline).await.map_err(read)?;
            let verdict = disposition::of_sync(&outcome.report);
            (handled("scheduled", outcome), verdict)
        }
        Event::CustomResource(request) => {
            let served =
                custom_resource::serve(ec2, &ctx.http, &request, deadline, ctx.settings.backoff)
                    .await;
            let mut outcome = Outcome::noted(served.note());
            // C7: reconcile at once, the declared members read by id (R16).
            let reconcile = &served.reconcile;
            if !reconcile.pools.is_empty() {
                let members = served.members();
                let by_id = ById::declared(&reconcile.pools, &members, &reconcile.taken_out);
                match manager.sync_with(&reconcile.pools, by_id, deadline).await {
                    Ok(synced) => outcome.report = synced.report,
                    Err(e) => disposition::log_read_error(&e),
                }
            }
            let verdict = disposition::of_report(&outcome.report).after_answer();
            let mut handled = handled("custom-resource", outcome);
            handled.response = Some(served.response);
            (handled, verdict)
        }
        Event::Malformed { kind, error } => {
            tracing::warn!(kind, %error, "malformed event ignored");
            let outcome = Outcome::noted(format!("{kind}: {error}"));
            (handled("malformed", outcome), Disposition::Done)
        }
        Event::Unknown { description } => {
            tracing::info!(%description, "unknown event ignored");
            let outcome = Outcome::noted(format!("not handled: {description}"));
            (handled("ignored", outcome), Disposition::Done)
        }
    };
    disposition::log(&handled.outcome.report);
    handled.ec2_calls = calls_since(&before, ec2.calls());
    handled.auto_scaling_calls = calls_since(&asg_before, asg_calls());
    handled.duration_ms = started.elapsed().as_millis() as u64;
    match verdict {
        Disposition::Retry { failures } => Err(HandlerError::Transient {
            failures,
            handled: Box::new(handled),
        }),
        Disposition::Done | Disposition::DoneWithPermanentFailure { .. } => Ok(handled),
    }
}

fn handled(event: &'static str, outcome: Outcome) -> Handled {
    Handled {
        event,
        instance_id: None,
        state: None,
        outcome,
        response: None,
        ec2_calls: CallCounts::new(),
        auto_scaling_calls: CallCounts::new(),
        duration_ms: 0,
        event_time: None,
    }
}

fn calls_since(before: &CallCounts, now: CallCounts) -> CallCounts {
    now.into_iter()
        .map(|(op, n)| (op, n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}
