//! Wiring only: logs, the EC2 client, then the Lambda loop or the CLI.

use std::process::ExitCode;

use aws_config::BehaviorVersion;
use clap::Parser;
use tracing_subscriber::EnvFilter;

use network_interface_manager::autoscaling::sdk::SdkAutoScaling;
use network_interface_manager::cli::{self, Cli};
use network_interface_manager::ec2::sdk::{retry_config, SdkEc2};
use network_interface_manager::handler::Context;
use network_interface_manager::lambda;
use network_interface_manager::pool::Settings;
use network_interface_manager::stacks::SdkStacks;

#[tokio::main]
async fn main() -> ExitCode {
    let under_lambda = std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    init_tracing(under_lambda);
    // Parse arguments first, so that `--help` needs no AWS configuration.
    let cli = (!under_lambda).then(Cli::parse);
    let config = aws_config::defaults(BehaviorVersion::latest())
        .retry_config(retry_config())
        .load()
        .await;
    if cli.is_some() && config.region().is_none() {
        eprintln!("error: no AWS region: set AWS_REGION (or a region in your AWS profile)");
        return ExitCode::FAILURE;
    }
    let endpoint = match (config.endpoint_url(), config.region()) {
        (Some(url), _) => url.to_string(),
        (None, region) => format!(
            "the EC2 endpoint of {}",
            region.map(|r| r.as_ref()).unwrap_or("?")
        ),
    };
    let ec2 = SdkEc2::new(aws_sdk_ec2::Client::new(&config));
    let stacks = SdkStacks::new(aws_sdk_cloudformation::Client::new(&config));
    let auto_scaling = SdkAutoScaling::new(aws_sdk_autoscaling::Client::new(&config));
    let mut ctx = Context::new(&ec2, settings());
    ctx.stacks = Some(&stacks);
    ctx.auto_scaling = Some(&auto_scaling);
    let result = match cli {
        None => {
            if let Ok(namespace) = std::env::var("METRICS_NAMESPACE") {
                ctx.metrics_namespace = namespace;
            }
            let served = lambda::run(&ctx).await;
            served.map(|()| true).map_err(|e| anyhow::anyhow!(e))
        }
        Some(cli) => cli::run(cli, ctx).await,
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(2),
        Err(e) => {
            eprintln!("error: {}", cli::explain(&e, &endpoint));
            ExitCode::FAILURE
        }
    }
}

/// The defaults, but for what the environment sets: `STANDBY_HOLDS_MEMBER`
/// `false` keeps members off instances in `Standby` (R19); `EC2_SHARE`, the
/// share of each EC2 request bucket the manager may draw (R23).
fn settings() -> Settings {
    let defaults = Settings::default();
    let standby = std::env::var("STANDBY_HOLDS_MEMBER");
    let share = std::env::var("EC2_SHARE").ok().and_then(|v| v.parse().ok());
    Settings {
        standby_holds: standby.map_or(true, |v| !v.eq_ignore_ascii_case("false")),
        ec2_share: share.filter(|s| *s > 0.0).unwrap_or(defaults.ec2_share),
        ..defaults
    }
}

/// JSON lines under Lambda (Logs Insights reads them), text on a terminal.
fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().with_current_span(false).init();
    } else {
        builder.init();
    }
}
