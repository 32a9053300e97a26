//! Metrics in CloudWatch's Embedded Metric Format (R18): JSON documents,
//! one per line on standard output, which Lambda turns into metrics without
//! an API call or a permission. Never through `tracing` (standard error,
//! nested fields). Pure: the documents of one invocation, from its outcome.
//!
//! Pools are the only dimension, with the Availability Zone for gauges; no
//! instance or interface ids (each combination is a billed metric).

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::pool::model::MissingVolume;
use crate::pool::{Census, Outcome};

pub const DEFAULT_NAMESPACE: &str = "NetworkInterfaceManager";
/// EMF allows at most this many values in one metric's array.
const MAX_VALUES: usize = 100;

/// What one invocation did, as the metrics see it.
#[derive(Clone, Copy, Debug)]
pub struct Invocation<'a> {
    pub outcome: &'a Outcome,
    /// The event's time (epoch milliseconds): attach latencies count from
    /// it; without it (a sync), from each instance's launch.
    pub event_time: Option<u64>,
    /// EC2 attempts answered as throttled, retried ones included.
    pub throttled: u64,
}

/// Counters of one pool in one invocation.
#[derive(Debug, Default)]
struct Counters {
    attaches: u64,
    detaches: u64,
    claim_conflicts: u64,
    transient: u64,
    permanent: u64,
    latencies: Vec<u64>,
}

/// Now, in epoch milliseconds: the documents' timestamp.
pub fn now_ms() -> u64 {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
    since.map_or(0, |d| d.as_millis() as u64)
}

/// The EMF documents of one invocation at `now` (epoch milliseconds).
pub fn documents(namespace: &str, now: u64, invocation: Invocation) -> Vec<Value> {
    let emf = Emf { namespace, now };
    let report = &invocation.outcome.report;
    let mut pools: BTreeMap<&str, Counters> = BTreeMap::new();
    for a in &report.attached {
        let c = pools.entry(&a.pool).or_default();
        c.attaches += 1;
        let since = invocation.event_time.or(a.waiting_since);
        c.latencies.extend(since.map(|t| now.saturating_sub(t)));
    }
    for d in &report.detached {
        pools.entry(&d.pool).or_default().detaches += 1;
    }
    for (pool, n) in &report.claim_conflicts {
        pools.entry(pool).or_default().claim_conflicts += u64::from(*n);
    }
    let (mut transient, mut permanent) = (0, 0);
    for f in &report.failed {
        let pool = (!f.pool.is_empty()).then(|| pools.entry(&f.pool).or_default());
        if f.is_transient() {
            transient += 1;
            pool.into_iter().for_each(|c| c.transient += 1);
        } else {
            permanent += 1;
            pool.into_iter().for_each(|c| c.permanent += 1);
        }
    }
    let mut docs: Vec<Value> = pools
        .into_iter()
        .flat_map(|(pool, c)| emf.counters(pool, c))
        .collect();
    docs.push(emf.document(
        &[],
        &[
            ("Ec2Throttled", "Count", json!(invocation.throttled)),
            ("TransientFailures", "Count", json!(transient)),
            ("PermanentFailures", "Count", json!(permanent)),
            ("ActionsLeft", "Count", json!(report.left.len())),
        ],
    ));
    if let Some(census) = &invocation.outcome.census {
        docs.extend(emf.gauges(census, &invocation.outcome.missing_volumes));
    }
    docs
}

/// The documents of an invocation that failed before doing anything.
pub fn read_failure(namespace: &str, now: u64, transient: bool, throttled: u64) -> Vec<Value> {
    let emf = Emf { namespace, now };
    vec![emf.document(
        &[],
        &[
            ("Ec2Throttled", "Count", json!(throttled)),
            ("TransientFailures", "Count", json!(u8::from(transient))),
            ("PermanentFailures", "Count", json!(u8::from(!transient))),
        ],
    )]
}

struct Emf<'a> {
    namespace: &'a str,
    now: u64,
}

impl Emf<'_> {
    /// One document: the directive, the dimension values and metric values
    /// at the root.
    fn document(&self, dimensions: &[(&str, &str)], metrics: &[(&str, &str, Value)]) -> Value {
        let keys: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
        let names: Vec<Value> = metrics
            .iter()
            .map(|(name, unit, _)| json!({"Name": name, "Unit": unit}))
            .collect();
        let mut root = Map::new();
        root.insert(
            "_aws".into(),
            json!({
                "Timestamp": self.now,
                "CloudWatchMetrics": [{
                    "Namespace": self.namespace,
                    "Dimensions": [keys],
                    "Metrics": names,
                }],
            }),
        );
        for (key, value) in dimensions {
            root.insert((*key).into(), json!(value));
        }
        for (name, _, value) in metrics {
            root.insert((*name).into(), value.clone());
        }
        Value::Object(root)
    }

    fn counters(&self, pool: &str, c: Counters) -> Vec<Value> {
        let pool = [("Pool", pool)];
        let mut chunks = c.latencies.chunks(MAX_VALUES);
        let mut metrics = vec![
            ("Attaches", "Count", json!(c.attaches)),
            ("Detaches", "Count", json!(c.detaches)),
            ("ClaimConflicts", "Count", json!(c.claim_conflicts)),
            ("TransientFailures", "Count", json!(c.transient)),
            ("PermanentFailures", "Count", json!(c.permanent)),
        ];
        metrics.extend(
            chunks
                .next()
                .map(|first| ("AttachLatency", "Milliseconds", json!(first))),
        );
        let mut docs = vec![self.document(&pool, &metrics)];
        for more in chunks {
            let latency = [("AttachLatency", "Milliseconds", json!(more))];
            docs.push(self.document(&pool, &latency));
        }
        docs
    }

    /// Per pool and AZ, per pool, and the account's waiting instances: each
    /// in its own document, so no series mixes AZ values with pool totals.
    fn gauges(&self, census: &Census, missing_volumes: &[MissingVolume]) -> Vec<Value> {
        let gauge = |[members, free, held, waiting, at_risk]: [u32; 5]| {
            [
                ("Members", "Count", json!(members)),
                ("FreeMembers", "Count", json!(free)),
                ("HeldMembers", "Count", json!(held)),
                ("WaitingInstances", "Count", json!(waiting)),
                // R28: held by an instance due to leave, no one waiting.
                ("AtRiskMembers", "Count", json!(at_risk)),
            ]
        };
        let mut docs = Vec::new();
        let mut pools: BTreeMap<&str, [u32; 5]> = BTreeMap::new();
        for g in &census.gauges {
            let dims = [
                ("Pool", g.pool.as_str()),
                ("AvailabilityZone", &g.availability_zone),
            ];
            let counts = [g.members, g.free, g.held, g.waiting, g.at_risk];
            docs.push(self.document(&dims, &gauge(counts)));
            let sum = pools.entry(&g.pool).or_default();
            for (total, n) in sum.iter_mut().zip(counts) {
                *total += n;
            }
        }
        for (pool, counts) in &pools {
            docs.push(self.document(&[("Pool", pool)], &gauge(*counts)));
        }
        // R27: a pool's seats whose data volume is missing, where some are.
        let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
        for m in missing_volumes {
            *missing.entry(m.pool.as_str()).or_default() += 1;
        }
        for (pool, n) in &missing {
            let count = [("MissingVolumes", "Count", json!(n))];
            docs.push(self.document(&[("Pool", pool)], &count));
        }
        if census.all_pools {
            let waiting: u32 = pools.values().map(|p| p[3]).sum();
            let total = [
                ("WaitingInstances", "Count", json!(waiting)),
                ("MissingVolumes", "Count", json!(missing_volumes.len())),
            ];
            docs.push(self.document(&[], &total));
        }
        docs
    }
}
