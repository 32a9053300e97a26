//! Pacing (R23): the manager draws at most `share` of each of EC2's request
//! token buckets, which every caller in the account and region shares
//! [EC2-THR]. Each API gets a bucket of its own here, `share` of EC2's size
//! and refill rate; a call waits for a token, and is not sent at all when
//! the token would come after the invocation's deadline (`Deferred`). A
//! throttled answer (after the SDK's own retries) empties the API's bucket
//! here too, and the call is tried again after a backoff with full jitter
//! (from one token's interval, doubling up to eight), so that many
//! invocations throttled at once spread out instead of failing to Lambda's
//! retry a minute later.

use crate::aws::{AwsError, CallCounts, ErrorKind};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use tokio::time::Instant;

use super::{
    Address, AddressQuery, Ec2, Instance, InstanceQuery, InterfaceChange, InterfaceQuery,
    NetworkInterface, NewAddress, NewInterface, NewVolume, Subnet, Tags, Volume, VolumeQuery,
};
use crate::deadline::Deadline;

/// EC2's request buckets for the APIs the manager calls: (size, refill per
/// second), from the developer guide's "Request throttling for the Amazon
/// EC2 API" tables, read 2026-11-27 [EC2-THR]. Reads are filtered and
/// paginated, so they draw from the non-mutating bucket, not the smaller
/// one of unfiltered reads.
pub const EC2_BUCKETS: [(&str, f64, f64); 20] = [
    ("DescribeInstances", 100.0, 20.0),
    ("DescribeNetworkInterfaces", 100.0, 20.0),
    ("DescribeSubnets", 100.0, 20.0),
    ("AttachNetworkInterface", 50.0, 5.0),
    ("DetachNetworkInterface", 50.0, 5.0),
    ("CreateNetworkInterface", 100.0, 5.0),
    ("DeleteNetworkInterface", 100.0, 5.0),
    ("ModifyNetworkInterfaceAttribute", 100.0, 5.0),
    ("CreateTags", 100.0, 10.0),
    ("DeleteTags", 100.0, 10.0),
    ("DescribeAddresses", 100.0, 20.0),
    // Guess: not read in those tables; the attach bucket's, the smaller.
    ("AllocateAddress", 50.0, 5.0),
    ("AssociateAddress", 50.0, 5.0),
    ("DisassociateAddress", 50.0, 5.0),
    ("ReleaseAddress", 50.0, 5.0),
    ("DescribeVolumes", 100.0, 20.0),
    // Guess, as for addresses: the attach bucket's.
    ("CreateVolume", 50.0, 5.0),
    ("AttachVolume", 50.0, 5.0),
    ("DetachVolume", 50.0, 5.0),
    ("DeleteVolume", 50.0, 5.0),
];

/// Throttled answers a call takes before it gives up.
pub const THROTTLED_TRIES: u32 = 8;

/// The code of a call that was not sent: its token came after the deadline.
pub const DEFERRED: &str = "Deferred";

/// The manager's share of each bucket, kept across the invocations of one
/// Lambda instance.
#[derive(Debug)]
pub struct Pacer {
    share: f64,
    buckets: Mutex<BTreeMap<&'static str, Tokens>>,
}

#[derive(Debug)]
struct Tokens {
    level: f64,
    at: Instant,
}

impl Pacer {
    /// `share` of each bucket's size (the burst) and refill rate; above 1
    /// for an account whose limits AWS raised.
    pub fn new(share: f64) -> Self {
        Self {
            share: share.max(0.01),
            buckets: Mutex::default(),
        }
    }

    fn size_and_rate(&self, api: &str) -> (f64, f64) {
        let (_, size, rate) = EC2_BUCKETS
            .iter()
            .find(|(name, _, _)| *name == api)
            .copied()
            .unwrap_or(("", 50.0, 5.0));
        ((size * self.share).max(1.0), rate * self.share)
    }

    /// Takes a token of `api` now, or says how long until the next one.
    fn take(&self, api: &'static str) -> Result<(), Duration> {
        let (size, rate) = self.size_and_rate(api);
        let now = Instant::now();
        let mut buckets = self.buckets.lock().expect("pacer poisoned");
        let tokens = buckets.entry(api).or_insert(Tokens {
            level: size,
            at: now,
        });
        let refilled = now.saturating_duration_since(tokens.at).as_secs_f64() * rate;
        tokens.level = (tokens.level + refilled).min(size);
        tokens.at = now;
        // A token less a rounding error is a token: waiting for the last
        // billionth of one would spin.
        if tokens.level >= 1.0 - 1e-9 {
            tokens.level = (tokens.level - 1.0).max(0.0);
            return Ok(());
        }
        let wait = Duration::from_secs_f64((1.0 - tokens.level) / rate);
        Err(wait.max(Duration::from_millis(1)))
    }

    /// Waits for a token of `api`; false when it would come after `deadline`.
    async fn acquire(&self, api: &'static str, deadline: Deadline) -> bool {
        loop {
            match self.take(api) {
                Ok(()) => return true,
                Err(wait) if wait >= deadline.remaining() => return false,
                Err(wait) => tokio::time::sleep(wait).await,
            }
        }
    }

    /// EC2 throttled `api` for the `nth` time in a call: the account's
    /// bucket is empty, so is ours; how long to back off.
    fn drained(&self, api: &'static str, nth: u32) -> Duration {
        let mut buckets = self.buckets.lock().expect("pacer poisoned");
        if let Some(tokens) = buckets.get_mut(api) {
            tokens.level = tokens.level.min(0.0);
        }
        let (_, rate) = self.size_and_rate(api);
        let ceiling = f64::from(1u32 << nth.min(3)) / rate;
        Duration::from_secs_f64(ceiling * jitter())
    }

    /// `ec2`, paced, for one invocation.
    pub fn pace<'a>(&'a self, ec2: &'a dyn Ec2, deadline: Deadline) -> Paced<'a> {
        Paced {
            inner: ec2,
            pacer: self,
            deadline,
        }
    }
}

/// An `Ec2` whose every call is paced (see `Pacer`).
pub struct Paced<'a> {
    inner: &'a dyn Ec2,
    pacer: &'a Pacer,
    deadline: Deadline,
}

impl Paced<'_> {
    async fn call<T, F, Fut>(&self, api: &'static str, send: F) -> Result<T, AwsError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let mut throttled = 0;
        loop {
            if !self.pacer.acquire(api, self.deadline).await {
                return Err(deferred(api));
            }
            match send().await {
                Err(e) if e.is(ErrorKind::Throttled) && throttled + 1 < THROTTLED_TRIES => {
                    let pause = self.pacer.drained(api, throttled);
                    throttled += 1;
                    if !self.deadline.sleep(pause).await {
                        return Err(deferred(api));
                    }
                }
                answer => return answer,
            }
        }
    }
}

/// A number in [0, 1), different at every call (full jitter).
fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(Instant::now().elapsed().as_nanos());
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

fn deferred(api: &'static str) -> AwsError {
    let message = "not sent: the pacing's next token comes after the deadline";
    AwsError::of_kind(ErrorKind::Deferred, DEFERRED, message).during(api)
}

#[async_trait]
impl Ec2 for Paced<'_> {
    async fn describe_interfaces(
        &self,
        query: &InterfaceQuery,
    ) -> Result<Vec<NetworkInterface>, AwsError> {
        let api = "DescribeNetworkInterfaces";
        self.call(api, || self.inner.describe_interfaces(query))
            .await
    }

    async fn describe_instances(&self, query: &InstanceQuery) -> Result<Vec<Instance>, AwsError> {
        let api = "DescribeInstances";
        self.call(api, || self.inner.describe_instances(query))
            .await
    }

    async fn attach(
        &self,
        interface_id: &str,
        instance_id: &str,
        device_index: i32,
    ) -> Result<String, AwsError> {
        let api = "AttachNetworkInterface";
        let send = || self.inner.attach(interface_id, instance_id, device_index);
        self.call(api, send).await
    }

    async fn detach(&self, attachment_id: &str) -> Result<(), AwsError> {
        let api = "DetachNetworkInterface";
        self.call(api, || self.inner.detach(attachment_id)).await
    }

    async fn describe_subnets(&self, ids: &[String]) -> Result<Vec<Subnet>, AwsError> {
        self.call("DescribeSubnets", || self.inner.describe_subnets(ids))
            .await
    }

    async fn create_interface(&self, new: &NewInterface) -> Result<NetworkInterface, AwsError> {
        let api = "CreateNetworkInterface";
        self.call(api, || self.inner.create_interface(new)).await
    }

    async fn delete_interface(&self, interface_id: &str) -> Result<(), AwsError> {
        let api = "DeleteNetworkInterface";
        self.call(api, || self.inner.delete_interface(interface_id))
            .await
    }

    async fn modify_interface(
        &self,
        interface_id: &str,
        change: &InterfaceChange,
    ) -> Result<(), AwsError> {
        let api = "ModifyNetworkInterfaceAttribute";
        let send = || self.inner.modify_interface(interface_id, change);
        self.call(api, send).await
    }

    async fn create_tags(&self, resource_ids: &[String], tags: &Tags) -> Result<(), AwsError> {
        let send = || self.inner.create_tags(resource_ids, tags);
        self.call("CreateTags", send).await
    }

    async fn delete_tags(&self, resource_ids: &[String], keys: &[String]) -> Result<(), AwsError> {
        let send = || self.inner.delete_tags(resource_ids, keys);
        self.call("DeleteTags", send).await
    }

    async fn describe_addresses(&self, query: &AddressQuery) -> Result<Vec<Address>, AwsError> {
        let send = || self.inner.describe_addresses(query);
        self.call("DescribeAddresses", send).await
    }

    async fn allocate_address(&self, new: &NewAddress) -> Result<Address, AwsError> {
        self.call("AllocateAddress", || self.inner.allocate_address(new))
            .await
    }

    async fn associate_address(
        &self,
        allocation_id: &str,
        interface_id: &str,
        private_ip: &str,
    ) -> Result<String, AwsError> {
        let send = || {
            self.inner
                .associate_address(allocation_id, interface_id, private_ip)
        };
        self.call("AssociateAddress", send).await
    }

    async fn disassociate_address(&self, association_id: &str) -> Result<(), AwsError> {
        let send = || self.inner.disassociate_address(association_id);
        self.call("DisassociateAddress", send).await
    }

    async fn release_address(&self, allocation_id: &str) -> Result<(), AwsError> {
        let send = || self.inner.release_address(allocation_id);
        self.call("ReleaseAddress", send).await
    }

    async fn describe_volumes(&self, query: &VolumeQuery) -> Result<Vec<Volume>, AwsError> {
        let send = || self.inner.describe_volumes(query);
        self.call("DescribeVolumes", send).await
    }

    async fn create_volume(&self, new: &NewVolume) -> Result<Volume, AwsError> {
        self.call("CreateVolume", || self.inner.create_volume(new))
            .await
    }

    async fn attach_volume(
        &self,
        volume_id: &str,
        instance_id: &str,
        device: &str,
    ) -> Result<(), AwsError> {
        let send = || self.inner.attach_volume(volume_id, instance_id, device);
        self.call("AttachVolume", send).await
    }

    async fn detach_volume(&self, volume_id: &str, instance_id: &str) -> Result<(), AwsError> {
        let send = || self.inner.detach_volume(volume_id, instance_id);
        self.call("DetachVolume", send).await
    }

    async fn delete_volume(&self, volume_id: &str) -> Result<(), AwsError> {
        self.call("DeleteVolume", || self.inner.delete_volume(volume_id))
            .await
    }

    fn calls(&self) -> CallCounts {
        self.inner.calls()
    }

    fn throttled(&self) -> u64 {
        self.inner.throttled()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_share_gives_that_share_of_the_burst_then_of_the_refill() {
        let pacer = Pacer::new(0.5);
        let deadline = Deadline::after(Duration::from_secs(60));
        let started = Instant::now();
        // Attach: 50 tokens, 5 a second; half of it is 25, then 2.5 a second.
        for _ in 0..25 {
            assert!(pacer.acquire("AttachNetworkInterface", deadline).await);
        }
        assert_eq!(started.elapsed(), Duration::ZERO);
        for _ in 0..5 {
            assert!(pacer.acquire("AttachNetworkInterface", deadline).await);
        }
        let took = started.elapsed().as_secs_f64();
        assert!((1.9..2.1).contains(&took), "5 more in {took} s");
        // Another API has its own bucket.
        assert!(pacer.take("DescribeInstances").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn the_wait_for_a_token_is_what_is_left_to_refill() {
        let pacer = Pacer::new(0.1);
        let deadline = Deadline::after(Duration::from_secs(60));
        for _ in 0..5 {
            assert!(pacer.acquire("AttachNetworkInterface", deadline).await);
        }
        // 0.5 a second: a second later half a token is in, half is missing.
        tokio::time::advance(Duration::from_secs(1)).await;
        let wait = pacer.take("AttachNetworkInterface").unwrap_err();
        let secs = wait.as_secs_f64();
        assert!((0.99..1.01).contains(&secs), "waits {secs} s");
    }

    /// R23: a throttled answer backs off with full jitter, under one token
    /// interval doubled for each throttled answer before it, up to eight.
    #[test]
    fn a_throttled_call_backs_off_under_a_doubling_ceiling() {
        let pacer = Pacer::new(0.1);
        let interval = 2.0; // 0.5 tokens a second.
        for nth in 0..6 {
            let ceiling = interval * f64::from(1u32 << nth.min(3));
            let pauses: Vec<f64> = (0..50)
                .map(|_| pacer.drained("AttachNetworkInterface", nth).as_secs_f64())
                .collect();
            let longest = pauses.iter().copied().fold(0.0, f64::max);
            assert!(longest < ceiling, "nth {nth}: {longest} s");
            assert!(longest > ceiling / 2.0, "nth {nth}: at most {longest} s");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_token_after_the_deadline_is_not_waited_for() {
        let pacer = Pacer::new(0.1);
        let deadline = Deadline::after(Duration::from_secs(1));
        for _ in 0..5 {
            assert!(pacer.acquire("AttachNetworkInterface", deadline).await);
        }
        // 0.5 a second: the next token is 2 s away.
        let started = Instant::now();
        assert!(!pacer.acquire("AttachNetworkInterface", deadline).await);
        assert_eq!(started.elapsed(), Duration::ZERO);
    }
}
