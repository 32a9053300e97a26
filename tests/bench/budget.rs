//! The EC2 API budget at fleet scale (docs/design.md, R23, R24; issue:
//! large fleets): the strict model with EC2's documented request buckets
//! and 50 ms per call, on tokio's paused clock (virtual time: 300 s
//! invocations run in seconds). Figures, not assertions: run by `make
//! bench`, which writes them into docs/benchmarks.md.
//!
//!     cargo test --test budget_bench -- [instances] [pools]

#[path = "../support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::time::Duration;

use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::Ec2;
use network_interface_manager::ec2::InstanceState::Running;
use network_interface_manager::handler::{handle, Context, Handled};
use network_interface_manager::pool::Settings;
use serde_json::Value;
use tokio::time::Instant;

use support::strict::{Buckets, Faults, Op, StrictEc2};
use support::world::{fixture, state_event};

/// A Lambda invocation: 300 s, every wait ends 5 s before.
const INVOCATION: Duration = Duration::from_secs(295);
const SCHEDULE: Duration = Duration::from_secs(300);
const AZS: [&str; 3] = ["subnet-a9", "subnet-b9", "subnet-c9"];

fn world(others: f64) -> StrictEc2 {
    StrictEc2::with(Faults {
        latency: Duration::from_millis(50),
        jitter: Duration::ZERO,
        buckets: Some(Buckets::documented().with_others(others)),
        ..Faults::default()
    })
}

/// `instances` instances and as many members, in `pools` pools over 3 AZs.
fn fleet(ec2: &StrictEc2, instances: usize, pools: usize) {
    let per_pool = instances / pools;
    for p in 0..pools {
        ec2.add_fleet(&format!("pool-{p}"), AZS[p % 3], per_pool);
    }
}

async fn invoke(ec2: &StrictEc2, event: &Value) -> Handled {
    let ctx = Context::new(ec2, Settings::default());
    handle(&ctx, event, Deadline::after(INVOCATION)).await
}

/// What an invocation did, unless it could not read.
fn handled(handled: Handled) -> Option<Handled> {
    handled.read_error.is_none().then_some(handled)
}

#[derive(Default)]
struct Run {
    invocations: u32,
    calls: BTreeMap<&'static str, u64>,
    left_after_first: u32,
}

/// Syncs every 5 minutes until one finds nothing to do.
async fn converge(ec2: &StrictEc2) -> Run {
    let mut run = Run::default();
    loop {
        let started = Instant::now();
        let Some(h) = handled(invoke(ec2, &fixture("scheduled-event.json")).await) else {
            panic!("a sync's reads failed");
        };
        for (api, n) in &h.ec2_calls {
            *run.calls.entry(api).or_default() += n;
        }
        let report = &h.outcome.report;
        let left = report.left.len() as u32;
        if run.invocations == 0 {
            run.left_after_first = left;
        }
        let worked = !report.attached.is_empty() || left > 0 || !report.failed.is_empty();
        if !worked {
            return run;
        }
        run.invocations += 1;
        tokio::time::sleep_until(started + SCHEDULE).await;
    }
}

fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// Per API: tokens the manager drew in the first second (the burst), then
/// per second on average over the seconds it drew any, as shares of EC2's
/// refill rate.
fn bucket_use(ec2: &StrictEc2) -> Vec<(Op, f64, f64, f64)> {
    let buckets = ec2.faults.lock().unwrap().buckets.clone().unwrap();
    let documented = Buckets::documented();
    buckets
        .taken
        .iter()
        .map(|(op, per_second)| {
            let (_, rate) = documented.size_and_rate(*op);
            let burst = per_second.first().copied().unwrap_or(0) as f64;
            let busy: Vec<u32> = per_second
                .iter()
                .skip(1)
                .copied()
                .filter(|n| *n > 0)
                .collect();
            let mean = busy.iter().sum::<u32>() as f64 / busy.len().max(1) as f64;
            (*op, rate, burst / rate, mean / rate)
        })
        .collect()
}

fn report(title: &str, ec2: &StrictEc2, run: &Run, wall: Duration) {
    println!("### {title}\n");
    println!("| measure | value |\n| --- | --- |");
    println!(
        "| invocations of 300 s until converged | {} |",
        run.invocations
    );
    println!(
        "| actions left after the first | {} |",
        run.left_after_first
    );
    for (api, n) in &run.calls {
        println!("| calls: {api} | {n} |");
    }
    println!(
        "| throttled answers (RequestLimitExceeded) | {} |",
        ec2.throttled()
    );
    println!(
        "| peak RSS of the process so far (model and manager) | {:.0} MiB |",
        peak_rss_mib()
    );
    println!(
        "| wall time of the benchmark (virtual clock) | {:.1} s |\n",
        wall.as_secs_f64()
    );
    println!("| API | EC2 refill / s | drawn in the first second (the burst) | then, per second |");
    println!("| --- | --- | --- | --- |");
    for (op, rate, burst, mean) in bucket_use(ec2) {
        println!(
            "| {op:?} | {rate} | {:.0} % | {:.0} % |",
            burst * 100.0,
            mean * 100.0
        );
    }
    println!();
}

/// 1,000 `running` events during the first sync, each a Lambda invocation
/// of its own (retried twice, a minute and two apart, as Lambda does).
async fn storm(ec2: &StrictEc2, events: usize, pools: usize) -> Vec<f64> {
    let delivered = (0..events).map(|i| async move {
        // Launched during the sync's first minute, each with a free member.
        tokio::time::sleep(Duration::from_millis(60_000 * i as u64 / events as u64)).await;
        let (pool, subnet) = (format!("pool-{}", i % pools), AZS[i % pools % 3]);
        ec2.add_member(&pool, subnet);
        let instance = ec2.launch_booting(Some(&pool), subnet, Duration::ZERO);
        let sent = Instant::now();
        let event = state_event(&instance, Running);
        for retry in [0, 60, 120] {
            tokio::time::sleep(Duration::from_secs(retry)).await;
            let result = invoke(ec2, &event).await;
            if std::env::var_os("BENCH_DEBUG").is_some() {
                eprintln!(
                    "{instance} after {:?}: {:?}",
                    sent.elapsed(),
                    result.as_ref().map(|h| &h.outcome.report.attached)
                );
            }
            if let Some(h) = handled(result) {
                if !h.outcome.report.attached.is_empty() {
                    return Some(sent.elapsed().as_secs_f64());
                }
            }
        }
        None
    });
    let mut latencies: Vec<f64> = futures::future::join_all(delivered)
        .await
        .into_iter()
        .flatten()
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    latencies
}

#[tokio::main(flavor = "current_thread", start_paused = true)]
async fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let instances = args.first().copied().unwrap_or(10_000);
    let pools = args.get(1).copied().unwrap_or(1_000);
    println!("## First sync of {instances} instances and members, {pools} pools, 3 AZs\n");
    println!("Strict model, EC2's documented buckets, 50 ms a call, the manager at its default share (0.5).\n");
    for (title, others) in [
        ("All of each bucket to the manager's account", 0.0),
        ("Half of each bucket used by the rest of the account", 0.5),
    ] {
        let wall = std::time::Instant::now();
        let ec2 = world(others);
        fleet(&ec2, instances, pools);
        let run = converge(&ec2).await;
        report(title, &ec2, &run, wall.elapsed());
    }

    let storm_events = instances / 10;
    let ec2 = world(0.0);
    fleet(&ec2, instances, pools);
    let (_, latencies) = tokio::join!(converge(&ec2), storm(&ec2, storm_events, pools));
    let pick = |q: f64| {
        latencies
            .get(((latencies.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!("### A storm of {storm_events} `running` events during the first sync\n");
    println!("| measure | value |\n| --- | --- |");
    println!(
        "| events whose instance got its member from the event (not the sync) | {} |",
        latencies.len()
    );
    println!("| event to attach, median | {:.1} s |", pick(0.5));
    println!("| event to attach, 90th percentile | {:.1} s |", pick(0.9));
    println!("| event to attach, worst | {:.1} s |", pick(1.0));
}
