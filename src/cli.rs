//! The operator CLI, used when the binary is not running under Lambda.

use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

use crate::deadline::Deadline;
use crate::ec2::Ec2;
use crate::handler::{handle, Context, HandlerError};
use crate::pool::apply::Settings;
use crate::pool::plan::{Action, Plan};
use crate::pool::Manager;

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
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run one event (state change, schedule, custom resource) through the
    /// Lambda handler and print its outcome as JSON.
    Handle {
        /// The event's JSON file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// Reconcile every pool now, as the schedule does.
    Sync {
        /// Only this pool (repeatable).
        #[arg(long)]
        pool: Vec<String>,
        /// Print the plan and change nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

/// Runs the command; `Ok(false)` when it ran but did not fully succeed.
pub async fn run(cli: Cli, ec2: &dyn Ec2) -> anyhow::Result<bool> {
    let deadline = Deadline::after(Duration::from_secs(cli.budget));
    match cli.command {
        Command::Handle { file } => {
            let input = read_input(file)?;
            let input = serde_json::from_str(&input).context("the event is not JSON")?;
            let ctx = Context::new(ec2, Settings::default());
            match handle(&ctx, &input, deadline).await {
                Ok(handled) => print_json(&handled).map(|()| true),
                Err(HandlerError::Transient { handled, .. }) => {
                    print_json(&handled).map(|()| false)
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::Sync { pool, dry_run } => {
            let manager = Manager::new(ec2, Settings::default());
            if dry_run {
                print!("{}", describe_plan(&manager.plan_sync(&pool).await?));
                return Ok(true);
            }
            let outcome = manager.sync(&pool, deadline).await?;
            print_json(&outcome)?;
            Ok(!outcome.report.has_transient_failure())
        }
    }
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

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
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
                a.candidates[0], a.instance_id, a.device_index, a.pool, a.reason
            ),
        };
        out.push_str(&line);
        out.push('\n');
    }
    for s in &plan.shortages {
        out.push_str(&format!(
            "shortage in pool {} ({}): {} wait, no free member\n",
            s.pool,
            s.availability_zone,
            s.instance_ids.join(", ")
        ));
    }
    if out.is_empty() {
        out.push_str("nothing to do\n");
    }
    out
}
