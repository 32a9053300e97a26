//! The operator CLI, used when the binary is not running under Lambda: the
//! commands and their arguments; what they print is `print`'s.

mod print;

pub use print::{describe_plan, explain, status_table, sync_summary};

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::aws::AwsError;
use crate::custom_resource::cleanup::{self, Fate};
use crate::deadline::Deadline;
use crate::disposition::{self, Disposition};
use crate::ec2::Ec2;
use crate::handler::{handle_measured, scheduled, Context};
use crate::metrics::{self, Invocation};
use crate::pool::settings::ProgressSink;
use crate::pool::status::{Declaration, PoolStatus};
use crate::progress_bar::Bar;
use crate::stacks::{StackState, Stacks};

/// Keeps a pool of tagged EC2 network interfaces attached to the running
/// instances of the same pool. AWS settings come from the standard chain
/// (AWS_REGION, credentials, AWS_ENDPOINT_URL).
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
    /// How long a command may work, in seconds.
    #[arg(long, global = true, default_value_t = 300)]
    budget: u64,
    /// The CloudWatch namespace of the metrics `--metrics` writes.
    #[arg(long, global = true, env = "METRICS_NAMESPACE", default_value = metrics::DEFAULT_NAMESPACE)]
    metrics_namespace: String,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Every pool: its members, who holds them, and the instances waiting.
    Status {
        /// Only this pool (repeatable).
        #[arg(long)]
        pool: Vec<String>,
        /// `table` for people, `json` for scripts.
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
    /// Run one event (state change, schedule, custom resource) through the
    /// Lambda handler and print its outcome as JSON.
    Handle {
        /// The event's JSON file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
        /// Write the metrics the Lambda would print (EMF, one document a
        /// line) to this file.
        #[arg(long)]
        metrics: Option<PathBuf>,
    },
    /// Reconcile every pool now, as the schedule does.
    Sync {
        /// Only this pool (repeatable).
        #[arg(long)]
        pool: Vec<String>,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Write the metrics the Lambda would print (EMF, one document a
        /// line) to this file.
        #[arg(long, conflicts_with = "dry_run")]
        metrics: Option<PathBuf>,
        /// `table`: a progress bar on a terminal, then a summary; `json`:
        /// the outcome only, for scripts.
        #[arg(long, value_enum, default_value_t = Output::Table)]
        output: Output,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Output {
    Table,
    Json,
}

/// Runs the command; `Ok(false)` when it ran but did not fully succeed.
pub async fn run(cli: Cli, mut ctx: Context<'_>) -> anyhow::Result<bool> {
    let deadline = Deadline::after(Duration::from_secs(cli.budget));
    ctx.metrics_namespace = cli.metrics_namespace.clone();
    // A progress bar for a sync on a terminal, unless scripts read it.
    let bar = match &cli.command {
        Command::Sync {
            dry_run: false,
            output: Output::Table,
            ..
        } => Bar::on_terminal(),
        _ => None,
    };
    if let Some(bar) = &bar {
        ctx.settings.progress = ProgressSink(Some(bar.clone()));
    }
    let paced = ctx.paced(deadline);
    let ec2: &dyn Ec2 = &paced;
    match cli.command {
        Command::Status { pool, output } => {
            let mut pools = ctx.manager(ec2).status(&pool).await?;
            if let Some(stacks) = ctx.stacks {
                read_declarations(stacks, &mut pools).await;
            }
            match output {
                Output::Json => print_json(&serde_json::json!({ "pools": pools }))?,
                Output::Table => print!("{}", status_table(&pools)),
            }
            Ok(true)
        }
        Command::Handle { file, metrics } => {
            let input = read_input(file)?;
            let input = serde_json::from_str(&input).context("the event is not JSON")?;
            let (handled, docs) = handle_measured(&ctx, &input, deadline).await;
            write_metrics(metrics.as_deref(), &docs)?;
            if let Some(e) = handled.read_error {
                return Err(e.into());
            }
            print_json(&handled)?;
            Ok(handled.result().is_ok())
        }
        Command::Sync {
            pool,
            dry_run,
            metrics,
            output,
        } => {
            let manager = ctx.manager(ec2);
            if dry_run {
                print!("{}", describe_plan(&manager.plan_sync(&pool).await?));
                return Ok(true);
            }
            let before = ec2.throttled();
            let outcome = match pool.is_empty() {
                true => scheduled(&ctx, &manager, deadline).await?,
                false => manager.sync(&pool, deadline).await?,
            };
            let invocation = Invocation {
                outcome: &outcome,
                event_time: None,
                throttled: ec2.throttled().saturating_sub(before),
            };
            let now = metrics::now_ms();
            let docs = metrics::documents(&cli.metrics_namespace, now, invocation);
            write_metrics(metrics.as_deref(), &docs)?;
            if let Some(bar) = &bar {
                bar.finish();
            }
            match output {
                Output::Json => print_json(&outcome)?,
                Output::Table => print!("{}", sync_summary(&outcome, invocation.throttled)),
            }
            let verdict = disposition::of_sync(&outcome.report);
            Ok(!matches!(verdict, Disposition::Retry { .. }))
        }
    }
}

/// What CloudFormation says of the stacks that declared the pools: their
/// status, and whether a deleted one retained its pool (C13). A failed read
/// is shown, not fatal: the pools are EC2's to tell.
pub async fn read_declarations(stacks: &dyn Stacks, pools: &mut [PoolStatus]) {
    let declarations = pools.iter_mut().flat_map(|p| p.declared_by.iter_mut());
    for d in declarations.filter(|d| !d.stack_id.is_empty()) {
        let (status, retained) = match declaration_standing(stacks, d).await {
            Ok(standing) => standing,
            Err(e) => (format!("not read: {e}"), false),
        };
        d.stack_status = Some(status);
        d.retained = retained;
    }
}

async fn declaration_standing(
    stacks: &dyn Stacks,
    d: &Declaration,
) -> Result<(String, bool), AwsError> {
    let state = stacks.stack_state(&d.stack_id).await?;
    let status = match &state {
        StackState::Unknown => "unknown to CloudFormation".to_string(),
        StackState::InProgress(s) | StackState::Halted(s) | StackState::Settled(s) => s.clone(),
    };
    let retained = match state.is_gone() {
        true => cleanup::fates(stacks, &d.stack_id, [d.physical_id.as_str()])
            .await?
            .values()
            .any(|f| *f == Fate::Retained),
        false => false,
    };
    Ok((status, retained))
}

fn read_input(file: Option<PathBuf>) -> anyhow::Result<String> {
    match file {
        Some(path) if path.as_os_str() != "-" => std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display())),
        _ => {
            let mut input = String::new();
            std::io::stdin().read_to_string(&mut input)?;
            Ok(input)
        }
    }
}

/// The EMF documents, one a line, to `path` when given.
fn write_metrics(path: Option<&std::path::Path>, docs: &[serde_json::Value]) -> anyhow::Result<()> {
    let Some(path) = path else {
        return Ok(());
    };
    let lines: String = docs.iter().map(|d| format!("{d}\n")).collect();
    std::fs::write(path, lines).with_context(|| format!("cannot write {}", path.display()))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}
