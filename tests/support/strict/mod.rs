//! A strict in-memory EC2 (docs/design.md, T2, T7): the real service's states
//! and error codes where moto is lax, as harsh as EC2 by default, and
//! switches to inject faults. Each behaviour names its source; `guess` marks
//! the harsher choice where no source settles it.
//!
//! - Eventual consistency [EC2-EC]: reads see the world as it was a random
//!   while ago (`read_lag` by id, `filter_lag` with a tag or attachment
//!   filter, which lag longer: guess); writes check the true state.
//! - EC2's own detach takes time [ISS-INUSE]: a terminated instance's
//!   secondary interfaces stay `in-use`, attachment `detaching`, for
//!   `termination_detach`; those with DeleteOnTermination are then deleted
//!   [EC2-MOD]. A stopped instance keeps its interfaces [EC2-ENI].
//! - New interfaces are `pending` for `create_pending` [EC2-CNI].
//! - EBS volumes (`volumes.rs`): `creating` for `volume_create`, attach and
//!   detach take `volume_transition`, a detach from a running instance stays
//!   `busy`, EC2 detaches a terminated instance's volumes after
//!   `termination_detach` [EBS-API][EC2-TERM]; one made with a KMS key not
//!   in `usable_keys` is deleted when `creating` ends.
//! - Instances launched by `launch_booting` are `pending` for a while
//!   (launch goes pending, then running [EC2-STATE]): a `running` event can
//!   arrive before the reads say `running` (how long: guess).
//! - Latency on every call, random (`latency` + up to `jitter`), so that
//!   concurrent deliveries interleave.
//!
//! The world the test sets up before its story (`launch`, `add_member`, ...)
//! is settled: every read sees it. What happens during the story (the
//! manager's writes, `set_state`, `set_tag`, `launch_booting`) lags.

mod addresses;
mod api;
pub mod autoscaling;
pub mod buckets;
mod clock;
mod inspect;
mod settle;
mod setup;
mod tags;
mod volumes;

use network_interface_manager::aws::{AwsError, CallCounter};
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use network_interface_manager::ec2::{
    Address, Instance, InstanceState, InterfaceStatus, NetworkInterface, NewInterface, NewVolume,
    Tags, Volume, PLAIN_INTERFACE, POOL_TAG,
};

pub use buckets::Buckets;
pub use clock::epoch_ms;
use clock::Seen;
use settle::{publish, publish_ids, settle, settle_visible};

/// The operations of the `Ec2` trait, to aim a fault at.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Op {
    DescribeInterfaces,
    DescribeInstances,
    Attach,
    Detach,
    DescribeSubnets,
    Create,
    Delete,
    Modify,
    CreateTags,
    DeleteTags,
    DescribeAddresses,
    Allocate,
    Associate,
    Disassociate,
    Release,
    DescribeVolumes,
    CreateVolume,
    AttachVolume,
    DetachVolume,
    DeleteVolume,
}

impl Op {
    /// The operation of an EC2 Query API `Action`.
    pub fn of_action(action: &str) -> Option<Self> {
        Some(match action {
            "DescribeNetworkInterfaces" => Self::DescribeInterfaces,
            "DescribeInstances" => Self::DescribeInstances,
            "AttachNetworkInterface" => Self::Attach,
            "DetachNetworkInterface" => Self::Detach,
            "DescribeSubnets" => Self::DescribeSubnets,
            "CreateNetworkInterface" => Self::Create,
            "DeleteNetworkInterface" => Self::Delete,
            "ModifyNetworkInterfaceAttribute" => Self::Modify,
            "CreateTags" => Self::CreateTags,
            "DeleteTags" => Self::DeleteTags,
            "DescribeAddresses" => Self::DescribeAddresses,
            "AllocateAddress" => Self::Allocate,
            "AssociateAddress" => Self::Associate,
            "DisassociateAddress" => Self::Disassociate,
            "ReleaseAddress" => Self::Release,
            "DescribeVolumes" => Self::DescribeVolumes,
            "CreateVolume" => Self::CreateVolume,
            "AttachVolume" => Self::AttachVolume,
            "DetachVolume" => Self::DetachVolume,
            "DeleteVolume" => Self::DeleteVolume,
            _ => return None,
        })
    }
}

/// How harsh EC2 is, and the faults to inject. `Faults::default()` is the
/// harsh EC2 every strict-model test runs on; `Faults::calm()` turns the
/// harshness off (and nothing else).
#[derive(Debug)]
pub struct Faults {
    /// Percentage of calls answered `RequestLimitExceeded`.
    pub throttle_percent: u32,
    /// Errors the next calls of an operation answer, in order (code, message).
    pub next: BTreeMap<Op, VecDeque<(String, String)>>,
    /// How long attaching and detaching by the API last.
    pub transition: Duration,
    /// How long EC2 takes to detach a terminated instance's interfaces.
    pub termination_detach: Duration,
    /// How long a new interface stays `pending`.
    pub create_pending: Duration,
    /// How long a new volume stays `creating`.
    pub volume_create: Duration,
    /// How long attaching and detaching a volume last.
    pub volume_transition: Duration,
    /// The customer-managed KMS keys the manager's role may use; a volume
    /// made with another is deleted while `creating` (`volumes.rs`).
    pub usable_keys: BTreeSet<String>,
    /// The account's EBS encryption by default, with this key; `None`: off.
    pub default_key: Option<String>,
    /// Whether the calls the manager's role may make only under a tag
    /// condition are refused without it, as IAM would (`addresses.rs`).
    pub role_conditions: bool,
    /// Added to every call (a far-away endpoint), plus up to `jitter`.
    pub latency: Duration,
    pub jitter: Duration,
    /// How far behind the writes a read by id may be.
    pub read_lag: Duration,
    /// How far behind a filtered read may be.
    pub filter_lag: Duration,
    /// How far behind a filtered read is at least: a read that surely
    /// misses the last writes, for a story that needs one.
    pub filter_lag_floor: Duration,
    /// The same for reads by id.
    pub read_lag_floor: Duration,
    /// The same for reads of the pools' members by tag (not by holder): a
    /// story where one invocation's two filtered reads disagree.
    pub pools_lag_floor: Duration,
    /// Instances the tag-filtered reads do not show yet (eventual consistency).
    pub lagging: BTreeSet<String>,
    /// An operation that panics (a bug in the code under test, simulated).
    pub panic_on: Option<Op>,
    /// EC2's request buckets [EC2-THR]; `None` only in the model's own tests.
    pub buckets: Option<Buckets>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            throttle_percent: 0,
            next: BTreeMap::new(),
            transition: Duration::from_millis(20),
            termination_detach: Duration::from_millis(100),
            create_pending: Duration::from_millis(50),
            // Guess: EC2 gives no figure; longer than an interface's.
            volume_create: Duration::from_millis(80),
            // Guess: no figure either; longer than an interface's, so that
            // a story sees the member attached before its volume.
            volume_transition: Duration::from_millis(60),
            usable_keys: BTreeSet::new(),
            default_key: None,
            role_conditions: true,
            latency: Duration::from_millis(1),
            jitter: Duration::from_millis(4),
            read_lag: Duration::from_millis(20),
            filter_lag: Duration::from_millis(60),
            filter_lag_floor: Duration::ZERO,
            read_lag_floor: Duration::ZERO,
            pools_lag_floor: Duration::ZERO,
            lagging: BTreeSet::new(),
            panic_on: None,
            // Ten times EC2's, and so is the tests' pacing share (`fast`):
            // the same ratio, on a ten times faster clock.
            buckets: Some(Buckets::scaled(10.0)),
        }
    }
}

impl Faults {
    /// No lag, no delay, no latency: only for tests of the model's own
    /// switches and exact call counts.
    pub fn calm() -> Self {
        Self {
            transition: Duration::ZERO,
            termination_detach: Duration::ZERO,
            create_pending: Duration::ZERO,
            volume_create: Duration::ZERO,
            volume_transition: Duration::ZERO,
            latency: Duration::ZERO,
            jitter: Duration::ZERO,
            read_lag: Duration::ZERO,
            filter_lag: Duration::ZERO,
            buckets: None,
            ..Self::default()
        }
    }
}

#[derive(Debug)]
struct Eni {
    iface: NetworkInterface,
    /// Its MAC address, EC2's for the interface's life [EC2-ENI].
    mac: String,
    /// When its pending status, attaching or detaching ends.
    settles_at: Option<Instant>,
}

/// An EBS volume, with when its transition ends.
#[derive(Debug)]
struct Disk {
    volume: Volume,
    /// When `creating`, attaching, detaching or `deleting` ends.
    settles_at: Option<Instant>,
    /// Made with a key the role may not use: gone when `creating` ends.
    unmade: bool,
}

#[derive(Debug, Default)]
struct World {
    enis: BTreeMap<String, Eni>,
    /// Elastic IP addresses, by allocation id.
    addresses: BTreeMap<String, Address>,
    volumes: BTreeMap<String, Disk>,
    instances: BTreeMap<String, Instance>,
    /// Instances still `pending`, until when.
    booting: BTreeMap<String, Instant>,
    /// What the reads see (eventual consistency).
    seen: Seen,
    next_id: u64,
    /// Client token -> the interface it created.
    tokens: BTreeMap<String, (NewInterface, String)>,
    /// Client token -> the volume it created.
    volume_tokens: BTreeMap<String, (NewVolume, String)>,
    /// Every mutating call that succeeded: (operation, interface, instance).
    writes: Vec<(Op, String, String)>,
    /// Addresses handed out by counter.
    next_ip: u64,
    next_mac: u64,
}

#[derive(Debug)]
pub struct StrictEc2 {
    world: Mutex<World>,
    pub faults: Mutex<Faults>,
    calls: CallCounter,
    /// Calls answered `RequestLimitExceeded`.
    throttled: std::sync::atomic::AtomicU64,
    rng: Mutex<u64>,
    /// (calls in flight, sequential round trips so far).
    in_flight: Mutex<(usize, u64)>,
}

impl Default for StrictEc2 {
    fn default() -> Self {
        Self::with(Faults::default())
    }
}

fn err(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::from_code(code, &message.into())
}

/// [EC2-ENI]: an attach goes to a running (hot) or a stopped (warm)
/// instance only; the code is [EC2-ERR]'s generic one (guess for attaches).
fn hot_or_warm(instance: &Instance) -> Result<(), AwsError> {
    match instance.state {
        InstanceState::Running | InstanceState::Stopped => Ok(()),
        other => {
            let (id, state) = (&instance.id, other.as_str());
            let m = format!("The instance '{id}' is not in a valid state ({state})");
            Err(err("IncorrectInstanceState", m))
        }
    }
}

/// The AZ of the test subnets: `subnet-a1` is in `us-east-1a`.
pub fn az_of(subnet: &str) -> String {
    let letter = subnet
        .trim_start_matches("subnet-")
        .chars()
        .next()
        .unwrap_or('a');
    format!("us-east-1{letter}")
}

/// The test subnets and their ranges: three in `vpc-1`; `subnet-x1` in
/// `vpc-2`, whose range overlaps `subnet-a1`'s (VPCs may overlap; an
/// address is unique within its VPC only).
pub const SUBNETS: [(&str, &str); 4] = [
    ("subnet-a1", "10.0.1"),
    ("subnet-a2", "10.0.2"),
    ("subnet-b1", "10.0.3"),
    ("subnet-x1", "10.0.1"),
];

fn prefix_of(subnet: &str) -> Option<&'static str> {
    SUBNETS.iter().find(|(s, _)| *s == subnet).map(|(_, p)| *p)
}

/// The VPC of a test subnet.
pub fn vpc_of(subnet: &str) -> &'static str {
    match subnet {
        "subnet-x1" => "vpc-2",
        _ => "vpc-1",
    }
}

impl StrictEc2 {
    /// The harsh EC2.
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with(faults: Faults) -> Self {
        Self {
            world: Mutex::default(),
            faults: Mutex::new(faults),
            calls: CallCounter::default(),
            throttled: Default::default(),
            rng: Mutex::new(0),
            in_flight: Mutex::default(),
        }
    }

    fn id(world: &mut World, prefix: &str) -> String {
        world.next_id += 1;
        format!("{prefix}-{:017x}", world.next_id)
    }

    /// Sequential round trips so far: a call that starts while none is in
    /// flight starts a new one; calls made at once share it.
    pub fn round_trips(&self) -> u64 {
        self.in_flight.lock().unwrap().1
    }

    /// Waits out the call's latency; then whether it is throttled or has an
    /// injected error.
    async fn enter(&self, op: Op) -> Result<(), AwsError> {
        self.travel().await;
        let mut f = self.faults.lock().unwrap();
        if f.panic_on == Some(op) {
            drop(f);
            panic!("injected panic in {op:?}");
        }
        let now = Instant::now();
        let empty = f.buckets.as_mut().is_some_and(|b| !b.take(op, now));
        let answer = if empty || (f.throttle_percent > 0 && self.roll() < f.throttle_percent) {
            Err(err("RequestLimitExceeded", "Request limit exceeded."))
        } else {
            match f.next.get_mut(&op).and_then(VecDeque::pop_front) {
                Some((code, message)) => Err(err(&code, message)),
                None => Ok(()),
            }
        };
        if answer
            .as_ref()
            .is_err_and(|e| e.code == "RequestLimitExceeded")
        {
            self.throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        answer
    }

    /// A call's way there and back: its latency, counted in the round trips
    /// (shared with the Auto Scaling model: one account, one clock).
    async fn travel(&self) {
        let (latency, jitter) = {
            let f = self.faults.lock().unwrap();
            (f.latency, f.jitter)
        };
        let latency = latency + jitter.mul_f64(f64::from(self.roll()) / 100.0);
        {
            let mut flight = self.in_flight.lock().unwrap();
            if flight.0 == 0 {
                flight.1 += 1;
            }
            flight.0 += 1;
        }
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        self.in_flight.lock().unwrap().0 -= 1;
    }

    /// How far behind this read is: up to the lag of its kind, at random.
    fn read_cutoff(&self, filtered: bool) -> Instant {
        let (lag, floor) = {
            let f = self.faults.lock().unwrap();
            match filtered {
                true => (f.filter_lag.max(f.read_lag), f.filter_lag_floor),
                false => (f.read_lag, f.read_lag_floor),
            }
        };
        let behind = lag.mul_f64(f64::from(self.roll()) / 100.0).max(floor);
        Instant::now() - behind
    }

    /// A deterministic 0..100 draw (xorshift), so failures are reproducible.
    fn roll(&self) -> u32 {
        let mut s = self.rng.lock().unwrap();
        if *s == 0 {
            *s = 0x9E37_79B9_7F4A_7C15;
        }
        *s ^= *s << 13;
        *s ^= *s >> 7;
        *s ^= *s << 17;
        (*s % 100) as u32
    }
}

fn interface(id: &str, subnet: &str, ip: String, tags: Tags) -> NetworkInterface {
    NetworkInterface {
        id: id.into(),
        availability_zone: az_of(subnet),
        subnet_id: subnet.into(),
        vpc_id: vpc_of(subnet).into(),
        private_ip: Some(ip),
        public_ip: None,
        status: InterfaceStatus::Available,
        requester_managed: false,
        security_groups: vec!["sg-default".into()],
        description: String::new(),
        source_dest_check: true,
        tags,
        attachment: None,
        interface_type: PLAIN_INTERFACE.into(),
    }
}

/// The lowest address of a test subnet no interface has (from .4, as in a
/// VPC); in any other subnet (the benchmarks' large fleets), the next of a
/// counter.
fn free_ip(w: &mut World, subnet: &str) -> String {
    let Some(prefix) = prefix_of(subnet) else {
        w.next_ip += 1;
        return format!("10.9.{}.{}", w.next_ip / 250, w.next_ip % 250 + 4);
    };
    let taken = |ip: &str| {
        w.enis
            .values()
            .any(|e| e.iface.private_ip.as_deref() == Some(ip) && e.iface.vpc_id == vpc_of(subnet))
    };
    let host = (4..255)
        .find(|h| !taken(&format!("{prefix}.{h}")))
        .expect("a free address");
    format!("{prefix}.{host}")
}

/// A new interface's MAC address, EC2's for its life.
fn mac(w: &mut World) -> String {
    w.next_mac += 1;
    let n = w.next_mac.to_be_bytes();
    format!("02:00:{:02x}:{:02x}:{:02x}:{:02x}", n[4], n[5], n[6], n[7])
}

/// An instance's primary address: apart from the members' subnets' ranges.
fn primary_ip(w: &mut World) -> String {
    w.next_ip += 1;
    format!("100.64.{}.{}", w.next_ip / 250, w.next_ip % 250 + 4)
}

fn in_pools(tags: &Tags, pools: &[String]) -> bool {
    match tags.get(POOL_TAG) {
        Some(p) => pools.is_empty() || pools.contains(p),
        None => false,
    }
}
