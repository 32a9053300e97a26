//! Which pacing (docs/design.md, R23): the SDK's adaptive retry mode (a
//! client-side rate limiter that slows down after throttling), the
//! manager's own token bucket, or neither, measured on moto behind a proxy
//! that throttles as EC2's buckets would (`SCALE` times EC2's; the
//! manager's share likewise). Figures for docs/benchmarks.md (`make bench`).
//!
//!     cargo test --test pacing_bench -- [instances]

#[path = "../support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use aws_config::retry::RetryConfig;
use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::sdk::SdkEc2;
use network_interface_manager::handler::{handle, Context};
use network_interface_manager::pool::Settings;

use support::strict::Buckets;
use support::throttle::ThrottlingProxy;
use support::world::{fixture, MotoWorld, World};

/// The proxy's buckets are this many times EC2's, and the manager's share
/// likewise: the same ratios, on a faster clock.
const SCALE: f64 = 4.0;

struct Measured {
    attached: usize,
    left: u32,
    requests: u64,
    throttled: u64,
    seconds: f64,
}

async fn run(instances: usize, others: f64, adaptive: bool, share: f64) -> Measured {
    let mut w = MotoWorld::new().await;
    let proxy =
        ThrottlingProxy::with_buckets(&w.moto.endpoint, Buckets::scaled(SCALE).with_others(others))
            .await;
    let client = support::moto::client_for(&proxy.endpoint);
    let client = match adaptive {
        true => {
            let retry = RetryConfig::adaptive().with_max_attempts(5);
            aws_sdk_ec2::Client::from_conf(client.config().to_builder().retry_config(retry).build())
        }
        false => client,
    };
    w.adapter = SdkEc2::new(client);
    for subnet in ["a1", "b1", "a2"] {
        for _ in 0..instances / 3 {
            w.add_member("web", subnet).await;
        }
        w.launch_many(Some("web"), subnet, (instances / 3) as i32)
            .await;
    }
    let settings = Settings {
        ec2_share: share,
        ..Settings::default()
    };
    let ctx = Context::new(w.ec2(), settings);
    let started = Instant::now();
    let (before, _) = proxy.counts();
    let result = handle(
        &ctx,
        &fixture("scheduled-event.json"),
        Deadline::after(Duration::from_secs(120)),
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let handled = result;
    assert!(handled.read_error.is_none(), "{handled:?}");
    let (requests, throttled) = proxy.counts();
    Measured {
        attached: handled.outcome.report.attached.len(),
        left: handled.outcome.report.left.len() as u32,
        requests: requests - before,
        throttled,
        seconds,
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    // The test subnets are /24s: 120 instances and 120 members each.
    let instances = args.first().copied().unwrap_or(360);
    println!("## Pacing: one sync of {instances} instances on moto behind EC2's buckets ({SCALE} times EC2's)\n");
    println!("| rest of the account | pacing | attached | left | requests | throttled | seconds |");
    println!("| --- | --- | --- | --- | --- | --- | --- |");
    for others in [0.0, 0.5] {
        for (name, adaptive, share) in [
            ("none (standard retry)", false, 1000.0),
            ("SDK adaptive retry mode", true, 1000.0),
            (
                "the manager's buckets, share 0.5 (default)",
                false,
                0.5 * SCALE,
            ),
        ] {
            let m = run(instances, others, adaptive, share).await;
            println!(
                "| {:.0} % | {name} | {} | {} | {} | {} | {:.1} |",
                others * 100.0,
                m.attached,
                m.left,
                m.requests,
                m.throttled,
                m.seconds
            );
        }
    }
}
