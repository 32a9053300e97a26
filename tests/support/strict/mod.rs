//! A strict in-memory EC2 (docs/design.md, T2): the real service's states and error
//! codes where moto is lax, and switches to inject faults.

mod api;
mod inspect;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use network_interface_manager::ec2::{
    Attachment, CallCounter, Ec2Error, Instance, InstanceInterface, InstanceState, InterfaceStatus,
    NetworkInterface, NewInterface, Tags, POOL_TAG,
};

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
}

/// Fault switches; all off by default.
#[derive(Debug, Default)]
pub struct Faults {
    /// Percentage of calls answered `RequestLimitExceeded`.
    pub throttle_percent: u32,
    /// Errors the next calls of an operation answer, in order (code, message).
    pub next: BTreeMap<Op, VecDeque<(String, String)>>,
    /// How long attaching and detaching last (a slow attachment).
    pub transition: Duration,
    /// Added to every call (a far-away endpoint).
    pub latency: Duration,
    /// Instances the tag-filtered reads do not show yet (eventual consistency).
    pub lagging: BTreeSet<String>,
    /// An operation that panics (a bug in the code under test, simulated).
    pub panic_on: Option<Op>,
}

#[derive(Debug)]
struct Eni {
    iface: NetworkInterface,
    settles_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct World {
    enis: BTreeMap<String, Eni>,
    instances: BTreeMap<String, Instance>,
    next_id: u64,
    /// Client token -> the interface it created.
    tokens: BTreeMap<String, (NewInterface, String)>,
    /// Every mutating call that succeeded: (operation, interface, instance).
    writes: Vec<(Op, String, String)>,
}

#[derive(Debug, Default)]
pub struct StrictEc2 {
    world: Mutex<World>,
    pub faults: Mutex<Faults>,
    calls: CallCounter,
    rng: Mutex<u64>,
    /// (calls in flight, sequential round trips so far).
    in_flight: Mutex<(usize, u64)>,
}

fn err(code: &str, message: impl Into<String>) -> Ec2Error {
    Ec2Error::from_code(code, &message.into())
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

/// The test subnets and their ranges.
pub const SUBNETS: [(&str, &str); 3] = [
    ("subnet-a1", "10.0.1"),
    ("subnet-a2", "10.0.2"),
    ("subnet-b1", "10.0.3"),
];

fn prefix_of(subnet: &str) -> Option<&'static str> {
    SUBNETS.iter().find(|(s, _)| *s == subnet).map(|(_, p)| *p)
}

impl StrictEc2 {
    pub fn new() -> Self {
        Self::default()
    }

    fn id(world: &mut World, prefix: &str) -> String {
        world.next_id += 1;
        format!("{prefix}-{:017x}", world.next_id)
    }

    /// A running instance in `subnet`, tagged into `pool` when given.
    pub fn launch(&self, pool: Option<&str>, subnet: &str) -> String {
        let mut w = self.world.lock().unwrap();
        let id = Self::id(&mut w, "i");
        let primary = Self::id(&mut w, "eni");
        let mut tags = Tags::new();
        if let Some(pool) = pool {
            tags.insert(POOL_TAG.into(), pool.into());
        }
        let instance = Instance {
            id: id.clone(),
            state: InstanceState::Running,
            availability_zone: az_of(subnet),
            subnet_id: Some(subnet.into()),
            vpc_id: Some("vpc-1".into()),
            tags,
            interfaces: vec![InstanceInterface {
                interface_id: primary.clone(),
                device_index: 0,
                network_card_index: 0,
            }],
        };
        let ip = free_ip(&w, subnet);
        let mut eni = interface(&primary, subnet, ip, Tags::new());
        eni.status = InterfaceStatus::InUse;
        eni.attachment = Some(Attachment {
            id: format!("eni-attach-{primary}"),
            instance_id: id.clone(),
            device_index: 0,
            network_card_index: 0,
        });
        w.enis.insert(
            primary,
            Eni {
                iface: eni,
                settles_at: None,
            },
        );
        w.instances.insert(id.clone(), instance);
        id
    }

    /// A free member of `pool` in `subnet`.
    pub fn add_member(&self, pool: &str, subnet: &str) -> String {
        self.add_interface(subnet, [(POOL_TAG, pool)])
    }

    /// An interface with the given tags.
    pub fn add_interface<'a>(
        &self,
        subnet: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> String {
        let mut w = self.world.lock().unwrap();
        let id = Self::id(&mut w, "eni");
        let tags = tags
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        let ip = free_ip(&w, subnet);
        let iface = interface(&id, subnet, ip, tags);
        w.enis.insert(
            id.clone(),
            Eni {
                iface,
                settles_at: None,
            },
        );
        id
    }

    /// Marks an interface as owned by another AWS service.
    pub fn set_requester_managed(&self, eni: &str) {
        let mut w = self.world.lock().unwrap();
        w.enis.get_mut(eni).unwrap().iface.requester_managed = true;
    }

    /// Changes an instance's state as EC2 would; termination detaches its
    /// secondary interfaces (they were attached with DeleteOnTermination off).
    pub fn set_state(&self, instance: &str, state: InstanceState) {
        let mut w = self.world.lock().unwrap();
        w.instances.get_mut(instance).unwrap().state = state;
        if state == InstanceState::Terminated {
            for eni in w.enis.values_mut() {
                let on_it = eni
                    .iface
                    .attachment
                    .as_ref()
                    .is_some_and(|a| a.instance_id == instance);
                if on_it && eni.iface.attachment.as_ref().unwrap().device_index != 0 {
                    eni.iface.attachment = None;
                    eni.iface.status = InterfaceStatus::Available;
                }
            }
            let i = w.instances.get_mut(instance).unwrap();
            i.interfaces.retain(|n| n.device_index == 0);
        }
    }

    pub fn set_tag(&self, instance: &str, key: &str, value: Option<&str>) {
        let mut w = self.world.lock().unwrap();
        let tags = &mut w.instances.get_mut(instance).unwrap().tags;
        match value {
            Some(v) => tags.insert(key.into(), v.into()),
            None => tags.remove(key),
        };
    }

    /// Makes the next call of `op` fail with `code`.
    pub fn fail_next(&self, op: Op, code: &str, message: &str) {
        let mut f = self.faults.lock().unwrap();
        f.next
            .entry(op)
            .or_default()
            .push_back((code.into(), message.into()));
    }

    /// Sequential round trips so far: a call that starts while none is in
    /// flight starts a new one; calls made at once share it.
    pub fn round_trips(&self) -> u64 {
        self.in_flight.lock().unwrap().1
    }

    /// Whether the next call is throttled or has an injected error.
    async fn enter(&self, op: Op) -> Result<(), Ec2Error> {
        let latency = self.faults.lock().unwrap().latency;
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
        let mut f = self.faults.lock().unwrap();
        if f.panic_on == Some(op) {
            drop(f);
            panic!("injected panic in {op:?}");
        }
        if f.throttle_percent > 0 && self.roll() < f.throttle_percent {
            return Err(err("RequestLimitExceeded", "Request limit exceeded."));
        }
        match f.next.get_mut(&op).and_then(VecDeque::pop_front) {
            Some((code, message)) => Err(err(&code, message)),
            None => Ok(()),
        }
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
        vpc_id: "vpc-1".into(),
        private_ip: Some(ip),
        status: InterfaceStatus::Available,
        requester_managed: false,
        security_groups: vec!["sg-default".into()],
        description: String::new(),
        source_dest_check: true,
        tags,
        attachment: None,
    }
}

/// The lowest address of `subnet` no interface has (from .4, as in a VPC).
fn free_ip(w: &World, subnet: &str) -> String {
    let prefix = prefix_of(subnet).unwrap_or("10.0.9");
    let taken = |ip: &str| {
        w.enis
            .values()
            .any(|e| e.iface.private_ip.as_deref() == Some(ip))
    };
    let host = (4..255)
        .find(|h| !taken(&format!("{prefix}.{h}")))
        .expect("a free address");
    format!("{prefix}.{host}")
}

/// Finishes the attachments and detachments whose time has come.
fn settle(w: &mut World) {
    let now = Instant::now();
    let mut detached = Vec::new();
    for eni in w.enis.values_mut() {
        if eni.settles_at.is_some_and(|t| t <= now) {
            eni.settles_at = None;
            match eni.iface.status {
                InterfaceStatus::Attaching => eni.iface.status = InterfaceStatus::InUse,
                InterfaceStatus::Detaching => {
                    let a = eni.iface.attachment.take().unwrap();
                    detached.push((a.instance_id, eni.iface.id.clone()));
                    eni.iface.status = InterfaceStatus::Available;
                }
                _ => {}
            }
        }
    }
    for (instance, eni) in detached {
        if let Some(i) = w.instances.get_mut(&instance) {
            i.interfaces.retain(|n| n.interface_id != eni);
        }
    }
}

fn in_pools(tags: &Tags, pools: &[String]) -> bool {
    match tags.get(POOL_TAG) {
        Some(p) => pools.is_empty() || pools.contains(p),
        None => false,
    }
}
