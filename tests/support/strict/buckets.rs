//! EC2's request token buckets [EC2-THR]: one per API, per account and
//! region, shared by every caller; a request takes a token, an empty bucket
//! answers `RequestLimitExceeded`, and each bucket refills at its rate up to
//! its size. Sizes and rates are the developer guide's ("Request throttling
//! for the Amazon EC2 API", tables read 2026-11-27); the reads here are
//! filtered and paginated, so they draw from the non-mutating bucket.
//! `others` is the share of every refill "the rest of the account" (Auto
//! Scaling, consoles, infrastructure tools) takes, and of every bucket it
//! has taken already.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::Op;

/// (size, refill per second) of each API's bucket.
fn documented(op: Op) -> (f64, f64) {
    match op {
        Op::DescribeInterfaces
        | Op::DescribeInstances
        | Op::DescribeSubnets
        | Op::DescribeAddresses
        | Op::DescribeVolumes => (100.0, 20.0),
        // Guess: not in the tables read; the attach bucket's, the smaller.
        Op::Allocate | Op::Associate | Op::Disassociate | Op::Release => (50.0, 5.0),
        Op::CreateVolume | Op::AttachVolume | Op::DetachVolume | Op::DeleteVolume => (50.0, 5.0),
        Op::Attach | Op::Detach => (50.0, 5.0),
        Op::Create | Op::Delete | Op::Modify => (100.0, 5.0),
        Op::CreateTags | Op::DeleteTags => (100.0, 10.0),
    }
}

#[derive(Debug, Clone)]
pub struct Buckets {
    /// Sizes and rates times this: a faster clock for short tests.
    pub scale: f64,
    /// The share of each bucket and refill the rest of the account uses.
    pub others: f64,
    levels: BTreeMap<Op, (f64, Instant)>,
    /// Tokens taken by the manager, per API and whole second since the
    /// first call (for the benchmarks' share of each bucket used).
    pub taken: BTreeMap<Op, Vec<u32>>,
    /// Requests answered `RequestLimitExceeded`, per API.
    pub refused: BTreeMap<Op, u64>,
    started: Option<Instant>,
}

impl Buckets {
    /// EC2's buckets, all to ourselves.
    pub fn documented() -> Self {
        Self::scaled(1.0)
    }

    /// EC2's buckets `scale` times larger and faster, for short tests.
    pub fn scaled(scale: f64) -> Self {
        Self {
            scale,
            others: 0.0,
            levels: BTreeMap::new(),
            taken: BTreeMap::new(),
            refused: BTreeMap::new(),
            started: None,
        }
    }

    /// With `share` of every bucket already used by the rest of the account.
    pub fn with_others(self, share: f64) -> Self {
        Self {
            others: share,
            ..self
        }
    }

    /// The size and refill rate left to the manager.
    pub fn size_and_rate(&self, op: Op) -> (f64, f64) {
        let (size, rate) = documented(op);
        let ours = self.scale * (1.0 - self.others);
        (size * ours, rate * ours)
    }

    /// Takes a token for `op` now; false when the bucket is empty.
    pub fn take(&mut self, op: Op, now: Instant) -> bool {
        let (size, rate) = self.size_and_rate(op);
        let (level, at) = self.levels.entry(op).or_insert((size, now));
        let refilled = now.saturating_duration_since(*at).as_secs_f64() * rate;
        *level = (*level + refilled).min(size);
        *at = now;
        if *level < 1.0 {
            *self.refused.entry(op).or_default() += 1;
            return false;
        }
        *level -= 1.0;
        let started = *self.started.get_or_insert(now);
        let second = now.saturating_duration_since(started).as_secs() as usize;
        let per_second = self.taken.entry(op).or_default();
        if per_second.len() <= second {
            per_second.resize(second + 1, 0);
        }
        per_second[second] += 1;
        true
    }

    /// The time until `op`'s bucket has a token again.
    pub fn next_token(&self, op: Op) -> Duration {
        let (_, rate) = self.size_and_rate(op);
        Duration::from_secs_f64(1.0 / rate)
    }
}
