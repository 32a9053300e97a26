//! The Lambda runtime loop around the shared handler.

use std::time::Duration;

use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;

use crate::deadline::Deadline;
use crate::handler::{handle_measured, Context};

/// Work stops this long before Lambda's deadline, to answer in time.
pub const SAFETY_MARGIN: Duration = Duration::from_secs(5);
/// Budget when the runtime gives no usable deadline (some emulators).
pub const FALLBACK_BUDGET: Duration = Duration::from_secs(60);

/// Serves invocations until the runtime stops; `ctx` lives for the cold start.
pub async fn run(ctx: &Context<'_>) -> Result<(), lambda_runtime::Error> {
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| async move {
        let deadline =
            Deadline::from_lambda(event.context.deadline, SAFETY_MARGIN, FALLBACK_BUDGET);
        let (handled, metrics) = handle_measured(ctx, &event.payload, deadline).await;
        // R18: standard output, one document a line; logs go to standard error.
        for doc in metrics {
            println!("{doc}");
        }
        let outcome = serde_json::to_value(&handled)?;
        tracing::info!(outcome = %outcome, "handled");
        // An error makes Lambda deliver an event again, and fails a
        // synchronous caller; any other failure is logged at `error` already.
        handled.result().map_err(lambda_runtime::Error::from)
    }))
    .await
}
