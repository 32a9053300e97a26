//! The one handler Lambda and `network-interface-manager handle` share: an
//! input in, a `Handled` out, its verdict (R17) decided once, here, and
//! carried in it: Lambda's adapter, the CLI's exit code and the metrics all
//! read that one field. Unknown and malformed inputs are done (a retry
//! cannot fix them); a transient failure asks Lambda for the event again.

use serde::Serialize;
use serde_json::Value;

use crate::autoscaling::AutoScaling;
use crate::aws::{AwsError, CallCounts};
use crate::custom_resource;
use crate::deadline::Deadline;
use crate::disposition::{self, Disposition};
use crate::ec2::paced::{Paced, Pacer};
use crate::ec2::{Ec2, InstanceState};
use crate::event::{self, Event};
use crate::metrics::{self, Invocation};
use crate::pool::{ById, Manager, Outcome, Settings};
use crate::stacks::Stacks;

/// What a handler works with, built once per cold start.
pub struct Context<'a> {
    /// EC2, unpaced: reached through `paced`, never directly.
    ec2: &'a dyn Ec2,
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
    pacer: Pacer,
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

    /// EC2 for one invocation, paced until `deadline` (R23, R24).
    pub fn paced(&self, deadline: Deadline) -> Paced<'_> {
        self.pacer.pace(self.ec2, deadline)
    }

    /// The manager on `ec2` (this context's, paced), with Auto Scaling and
    /// the settings.
    pub fn manager<'b>(&'b self, ec2: &'b dyn Ec2) -> Manager<'b> {
        Manager::new(ec2, self.settings.clone()).with_auto_scaling(self.auto_scaling)
    }
}

/// The kind of an input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Input {
    StateChange,
    /// EC2 warned that an instance is due to leave (R28).
    Warning,
    LifecycleAction,
    Scheduled,
    CustomResource,
    /// A pool declared by invocation (C15).
    Invocation,
    /// A known kind whose body is not what it should be.
    Malformed,
    /// Anything else.
    Ignored,
}

/// What a handled input did, as printed by `handle` and returned to Lambda.
#[derive(Clone, Debug, Serialize)]
pub struct Handled {
    pub event: Input,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<InstanceState>,
    #[serde(flatten)]
    pub outcome: Outcome,
    /// The answer sent to CloudFormation, for a custom resource request.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response: Option<custom_resource::response::Response>,
    /// What a declaration by invocation returns to its caller: the pool's
    /// data, or the reason it failed (C15).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub answer: Option<Result<Value, String>>,
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
    /// What it means for Lambda (R17), decided once in `handle`.
    pub disposition: Disposition,
    /// The read that failed before anything was done, if one did.
    #[serde(skip)]
    pub read_error: Option<AwsError>,
}

impl Handled {
    fn new(event: Input, outcome: Outcome) -> Self {
        Self {
            event,
            instance_id: None,
            state: None,
            outcome,
            response: None,
            answer: None,
            ec2_calls: CallCounts::new(),
            auto_scaling_calls: CallCounts::new(),
            duration_ms: 0,
            event_time: None,
            disposition: Disposition::Done,
            read_error: None,
        }
    }

    /// Lambda should deliver the event again.
    pub fn should_retry(&self) -> bool {
        matches!(self.disposition, Disposition::Retry { .. })
    }

    /// What the function returns, from the verdict alone: an invocation's
    /// answer, else this record; an error for a retry (Lambda delivers the
    /// event again) or a failed invocation (its caller fails).
    pub fn result(&self) -> Result<Value, String> {
        match (self.disposition, &self.answer) {
            (Disposition::Retry { failures }, _) => Err(format!(
                "{failures} action(s) failed transiently; the event should be retried"
            )),
            (_, Some(answer)) => answer.clone(),
            _ => Ok(serde_json::to_value(self).expect("a handled record serialises")),
        }
    }
}

/// `handle`, and the EMF documents of the invocation (R18): what Lambda
/// prints, and `handle --metrics` writes.
pub async fn handle_measured(
    ctx: &Context<'_>,
    input: &Value,
    deadline: Deadline,
) -> (Handled, Vec<Value>) {
    let before = ctx.ec2.throttled();
    let handled = handle(ctx, input, deadline).await;
    let throttled = ctx.ec2.throttled().saturating_sub(before);
    let (namespace, now) = (&ctx.metrics_namespace, metrics::now_ms());
    let docs = match &handled.read_error {
        None => {
            let invocation = Invocation {
                outcome: &handled.outcome,
                event_time: handled.event_time,
                throttled,
            };
            metrics::documents(namespace, now, invocation)
        }
        Some(_) => metrics::read_failure(namespace, now, handled.should_retry(), throttled),
    };
    (handled, docs)
}

/// The schedule's work: every pool reconciled (R10), then, with
/// CloudFormation at hand, declared interfaces cleaned up (C12, C13). A
/// failed cleanup is logged and left to the next schedule.
pub async fn scheduled(
    ctx: &Context<'_>,
    manager: &Manager<'_>,
    deadline: Deadline,
) -> Result<Outcome, AwsError> {
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

/// Handles one input through exactly the path Lambda uses.
pub async fn handle(ctx: &Context<'_>, input: &Value, deadline: Deadline) -> Handled {
    let paced = ctx.paced(deadline);
    let ec2: &dyn Ec2 = &paced;
    let started = std::time::Instant::now();
    let before = ec2.calls();
    let asg_calls = || ctx.auto_scaling.map(|a| a.calls()).unwrap_or_default();
    let asg_before = asg_calls();
    let mut handled = match serve(ctx, ec2, input, deadline).await {
        Ok((handled, verdict)) => Handled {
            disposition: verdict,
            ..handled
        },
        Err((event, e)) => {
            disposition::log_read_error(&e);
            let note = format!("reading AWS failed: {e}");
            Handled {
                disposition: disposition::of_read_error(&e),
                read_error: Some(e),
                ..Handled::new(event, Outcome::noted(note))
            }
        }
    };
    disposition::log(&handled.outcome.report);
    handled.ec2_calls = calls_since(&before, ec2.calls());
    handled.auto_scaling_calls = calls_since(&asg_before, asg_calls());
    handled.duration_ms = started.elapsed().as_millis() as u64;
    handled
}

/// Serves one input: what it did, and the verdict on it; or the read that
/// failed before anything was done.
async fn serve(
    ctx: &Context<'_>,
    ec2: &dyn Ec2,
    input: &Value,
    deadline: Deadline,
) -> Result<(Handled, Disposition), (Input, AwsError)> {
    let manager = ctx.manager(ec2);
    Ok(match Event::parse(input) {
        Event::StateChange(change) => {
            let read = manager.instance_changed(&change, deadline).await;
            let outcome = read.map_err(|e| (Input::StateChange, e))?;
            let verdict = disposition::of_report(&outcome.report);
            let mut handled = Handled::new(Input::StateChange, outcome);
            handled.event_time = change.time;
            handled.instance_id = Some(change.instance_id);
            handled.state = Some(change.state);
            (handled, verdict)
        }
        Event::Warning(warning) => {
            let read = manager.warned(&warning, deadline).await;
            let outcome = read.map_err(|e| (Input::Warning, e))?;
            let verdict = disposition::of_report(&outcome.report);
            let mut handled = Handled::new(Input::Warning, outcome);
            handled.event_time = warning.time;
            handled.instance_id = Some(warning.instance_id);
            (handled, verdict)
        }
        Event::LifecycleAction(action) => {
            let read = manager.lifecycle_action(&action, deadline).await;
            let outcome = read.map_err(|e| (Input::LifecycleAction, e))?;
            let verdict = disposition::of_report(&outcome.report);
            let mut handled = Handled::new(Input::LifecycleAction, outcome);
            handled.instance_id = Some(action.given.action.instance_id);
            (handled, verdict)
        }
        Event::Scheduled => {
            let read = scheduled(ctx, &manager, deadline).await;
            let outcome = read.map_err(|e| (Input::Scheduled, e))?;
            let verdict = disposition::of_sync(&outcome.report);
            (Handled::new(Input::Scheduled, outcome), verdict)
        }
        Event::CustomResource(request) => {
            let served =
                custom_resource::serve(ec2, &ctx.http, &request, deadline, ctx.settings.backoff)
                    .await;
            let mut outcome = Outcome::noted(served.note());
            let members = served.members();
            if let Some(synced) = reconcile(&manager, &served.reconcile, &members, deadline).await {
                outcome.report = synced;
            }
            let verdict = disposition::of_report(&outcome.report).after_answer();
            let mut handled = Handled::new(Input::CustomResource, outcome);
            handled.response = Some(served.response);
            (handled, verdict)
        }
        Event::Invocation(invocation) => {
            let backoff = ctx.settings.backoff;
            let invoked =
                custom_resource::invocation::serve(ec2, &invocation, deadline, backoff).await;
            let note = match &invoked.answer {
                Ok(_) => format!("{:?} by invocation done", invocation.action),
                Err(reason) => format!("{:?} by invocation failed: {reason}", invocation.action),
            };
            let mut outcome = Outcome::noted(note);
            let members = invoked.members();
            if let Some(synced) = reconcile(&manager, &invoked.reconcile, &members, deadline).await
            {
                outcome.report = synced;
            }
            let verdict = match invoked.answer {
                Ok(_) => disposition::of_report(&outcome.report).after_answer(),
                Err(_) => Disposition::Failed,
            };
            let mut handled = Handled::new(Input::Invocation, outcome);
            handled.answer = Some(invoked.result());
            (handled, verdict)
        }
        Event::Malformed { kind, error } => {
            tracing::warn!(kind, %error, "malformed event ignored");
            let note = format!("{kind}: {error}");
            let mut handled = Handled::new(Input::Malformed, Outcome::noted(note.clone()));
            // A waiting caller is told (C15); an event is not retried.
            match kind == event::INVOCATION {
                true => {
                    handled.answer = Some(Err(note));
                    (handled, Disposition::Failed)
                }
                false => (handled, Disposition::Done),
            }
        }
        Event::Unknown { description } => {
            tracing::info!(%description, "unknown event ignored");
            let outcome = Outcome::noted(format!("not handled: {description}"));
            (Handled::new(Input::Ignored, outcome), Disposition::Done)
        }
    })
}

/// C7: a declared pool reconciled at once, its members read by id (R16);
/// none when there is nothing to reconcile or its read failed (logged).
async fn reconcile(
    manager: &Manager<'_>,
    reconcile: &custom_resource::Reconcile,
    members: &[String],
    deadline: Deadline,
) -> Option<crate::pool::Report> {
    if reconcile.pools.is_empty() {
        return None;
    }
    let by_id = ById::declared(&reconcile.pools, members, &reconcile.taken_out);
    match manager.sync_with(&reconcile.pools, by_id, deadline).await {
        Ok(synced) => Some(synced.report),
        Err(e) => {
            disposition::log_read_error(&e);
            None
        }
    }
}

fn calls_since(before: &CallCounts, now: CallCounts) -> CallCounts {
    now.into_iter()
        .map(|(op, n)| (op, n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}
