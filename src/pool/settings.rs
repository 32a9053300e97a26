//! What configures the manager: the executor's bounds, the settings the
//! deployment passes (R19, R23), and where progress goes.

use std::time::Duration;

use crate::deadline::Backoff;

/// Told of the executor's work as it goes (the CLI's progress bar).
pub trait Progress: Send + Sync {
    /// `actions` more are planned.
    fn planned(&self, actions: u64);
    /// One more is done (or failed, or left); EC2 has throttled `throttled`
    /// attempts so far.
    fn done(&self, throttled: u64);
}

/// Where progress goes, if anywhere.
#[derive(Clone, Default)]
pub struct ProgressSink(pub Option<std::sync::Arc<dyn Progress>>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Progress" } else { "None" })
    }
}

/// Bounds of the executor; tests pass small delays.
#[derive(Clone, Debug)]
pub struct Settings {
    /// EC2 calls in flight at once.
    pub concurrency: usize,
    /// Attach calls per instance, over all candidates and indexes.
    pub max_attempts: u32,
    /// Pauses while EC2 settles: a freed member, a fresh read.
    pub backoff: Backoff,
    /// How long an event waits for EC2's reads to catch up with it (R16).
    pub fresh_wait: Duration,
    /// Whether instances in `Standby` may hold a member (R19).
    pub standby_holds: bool,
    /// The share of each EC2 request bucket the manager may draw (R23).
    pub ec2_share: f64,
    /// How long into its work an invocation first records a heartbeat for
    /// the launches it may let go on (R20): a third of the shortest
    /// heartbeat timeout a hook may have, 30 s (PutLifecycleHook API reference).
    pub first_heartbeat: Duration,
    pub progress: ProgressSink,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            concurrency: 8,
            max_attempts: 8,
            backoff: Backoff::default(),
            fresh_wait: Duration::from_secs(20),
            standby_holds: true,
            ec2_share: 0.5,
            first_heartbeat: Duration::from_secs(10),
            progress: ProgressSink::default(),
        }
    }
}
