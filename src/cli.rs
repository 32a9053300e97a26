//! The operator CLI, used when the binary is not running under Lambda.

use crate::aws::{AwsError, ErrorKind};
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::custom_resource::cleanup::{self, Fate};
use crate::deadline::Deadline;
use crate::disposition::{self, Disposition};
use crate::ec2::Ec2;
use crate::handler::{handle_measured, scheduled, Context};
use crate::metrics::{self, Invocation};
use crate::pool::model::{Action, Plan, Shortage};
use crate::pool::settings::ProgressSink;
use crate::pool::status::{Declaration, PoolStatus};
use crate::pool::Outcome;
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
            Ok(!handled.should_retry())
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
    for d in pools.iter_mut().flat_map(|p| p.declared_by.iter_mut()) {
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

/// One line a person can act on, for an error that ended a command.
pub fn explain(error: &anyhow::Error, endpoint: &str) -> String {
    let Some(e) = error.downcast_ref::<AwsError>() else {
        return format!("{error:#}");
    };
    let text = e.message.to_ascii_lowercase();
    if e.is(ErrorKind::AccessDenied) {
        let action = e.operation.unwrap_or("the operation");
        return format!(
            "access denied: these credentials may not call ec2:{action} ({})",
            e.code
        );
    }
    if !matches!(e.kind, ErrorKind::Unreachable | ErrorKind::Unsent) {
        return e.to_string();
    }
    if text.contains("credentials") {
        return "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, \
                or run with a role"
            .to_string();
    }
    let reason = [
        "connection refused",
        "timed out",
        "dns error",
        "error trying to connect",
    ]
    .into_iter()
    .find(|r| text.contains(r))
    .unwrap_or("no answer");
    format!("cannot reach EC2 at {endpoint}: {reason} (check AWS_ENDPOINT_URL, AWS_REGION and the network)")
}

/// The status as an aligned table, then the waiting instances and shortages.
pub fn status_table(pools: &[PoolStatus]) -> String {
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING);
    table.set_header([
        "POOL",
        "INTERFACE",
        "AZ",
        "SUBNET",
        "PRIVATE IP",
        "STATUS",
        "HOLDER",
        "INDEX",
    ]);
    for p in pools {
        for m in &p.members {
            let status = serde_json::to_value(m.status).unwrap_or_default();
            table.add_row([
                p.pool.clone(),
                m.interface_id.clone(),
                m.availability_zone.clone(),
                m.subnet_id.clone(),
                m.private_ip.clone().unwrap_or_default(),
                status.as_str().unwrap_or_default().to_string(),
                m.holder
                    .as_ref()
                    .map(|h| h.instance_id.clone())
                    .unwrap_or("-".into()),
                m.holder
                    .as_ref()
                    .map(|h| h.device_index.to_string())
                    .unwrap_or("-".into()),
            ]);
        }
    }
    let mut out = if pools.iter().any(|p| !p.members.is_empty()) {
        let lines = table.lines().map(|l| l.trim().to_string());
        lines.collect::<Vec<_>>().join("\n") + "\n"
    } else {
        "no pool members\n".to_string()
    };
    for p in pools {
        if let Some(former) = &p.former_name {
            let pool = &p.pool;
            out.push_str(&format!(
                "renamed: pool {pool} also serves instances tagged {former}, its name before\n"
            ));
        }
        for d in &p.declared_by {
            let status = d.stack_status.as_deref().unwrap_or("not read");
            let (pool, id, stack) = (&p.pool, &d.physical_id, &d.stack_id);
            let line = match d.retained {
                true => {
                    format!("retained: pool {pool} ({id}) outlives its deleted stack {stack}\n")
                }
                false => format!("declared: pool {pool} by {id} in stack {stack} ({status})\n"),
            };
            out.push_str(&line);
        }
        for w in &p.waiting {
            out.push_str(&format!(
                "waiting: {} ({}) in pool {}\n",
                w.instance_id, w.availability_zone, p.pool
            ));
        }
        for s in &p.shortages {
            out.push_str(&shortage_line(s));
        }
    }
    out
}

fn shortage_line(s: &Shortage) -> String {
    let waiting = s.instance_ids.join(", ");
    let (pool, az) = (&s.pool, &s.availability_zone);
    format!("shortage: pool {pool} in {az}: {waiting} wait and no member is free\n")
}

/// What a sync did, in a few lines.
pub fn sync_summary(outcome: &Outcome, throttled: u64) -> String {
    let r = &outcome.report;
    let mut lines = vec![
        format!("attached {}", r.attached.len()),
        format!("detached {}", r.detached.len()),
    ];
    if !r.kept_on_termination.is_empty() {
        lines.push(format!(
            "kept on termination {}",
            r.kept_on_termination.len()
        ));
    }
    if !r.continued.is_empty() {
        lines.push(format!("lifecycle actions continued {}", r.continued.len()));
    }
    let left = r.left.len();
    if left > 0 {
        lines.push(format!(
            "left for the next sync {left} (the budget ran out)"
        ));
    }
    let (transient, permanent) = r.failed.iter().partition::<Vec<_>, _>(|f| f.is_transient());
    for (kind, failed) in [("transient", transient), ("permanent", permanent)] {
        for f in failed {
            let interface = f.interface_id.as_deref().unwrap_or("-");
            lines.push(format!(
                "failed ({kind}) {} {interface}: {}",
                f.instance_id, f.error
            ));
        }
    }
    for s in &r.shortages {
        lines.push(format!(
            "waiting in {} (pool {}): {}",
            s.availability_zone,
            s.pool,
            s.instance_ids.join(" ")
        ));
    }
    lines.push(format!("throttled attempts {throttled}"));
    lines.iter().map(|l| format!("{l}\n")).collect()
}

/// The plan as one line per action and shortage, with the reasons.
pub fn describe_plan(plan: &Plan) -> String {
    let mut out = String::new();
    for action in &plan.actions {
        let line = match action {
            Action::Detach(d) => format!(
                "detach {} from {} (pool {}): {}",
                d.interface_id, d.instance_id, d.pool, d.reason
            ),
            Action::Attach(a) => format!(
                "attach {} to {} at index {} (pool {}): {}",
                a.candidates[0].interface_id, a.instance_id, a.device_index, a.pool, a.reason
            ),
            Action::KeepOnTermination(k) => format!(
                "keep {} when {} terminates (pool {}): DeleteOnTermination is on",
                k.interface_id, k.instance_id, k.pool
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    for s in &plan.shortages {
        out.push_str(&shortage_line(s));
    }
    for u in &plan.unusable {
        let (id, pool, why) = (&u.interface_id, &u.pool, &u.reason);
        out.push_str(&format!("unusable: {id} (pool {pool}): {why}\n"));
    }
    if out.is_empty() {
        out.push_str("nothing to do\n");
    }
    out
}
