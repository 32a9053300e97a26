//! One test world, two EC2s: the strict in-memory model and moto through the
//! real SDK, so a scenario is written once and run on both (docs/design.md, T3).

use network_interface_manager::aws::CallCounts;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_ec2::types::{Filter, ResourceType, Tag, TagSpecification};
use network_interface_manager::deadline::{Backoff, Deadline};
use network_interface_manager::ec2::sdk::SdkEc2;
use network_interface_manager::ec2::{
    Address, AddressQuery, Ec2, InstanceState, InterfaceQuery, NetworkInterface, Volume,
    VolumeQuery, OWNER_TAG, POOL_TAG,
};
use network_interface_manager::handler::{handle, Context, Handled};
use network_interface_manager::pool::Settings;
use serde_json::Value;

use super::moto::Moto;
use super::strict::StrictEc2;

/// Test subnets: `a1` and `a2` in one AZ, `b1` in another, all in one VPC.
pub const SUBNETS: [(&str, &str); 3] = [("a1", "a"), ("a2", "a"), ("b1", "b")];

#[async_trait]
pub trait World: Send + Sync {
    fn ec2(&self) -> &dyn Ec2;
    /// A running instance in the named test subnet, in `pool` when given.
    async fn launch(&self, pool: Option<&str>, subnet: &str) -> String;
    /// A free member of `pool` in the named test subnet.
    async fn add_member(&self, pool: &str, subnet: &str) -> String;
    async fn set_state(&self, instance: &str, state: InstanceState);
    /// The instance and device index an interface is attached to.
    async fn holder(&self, eni: &str) -> Option<(String, i32)>;
    /// Whether reads lag behind writes (the strict model does, moto not).
    fn reads_lag(&self) -> bool;
    /// The id of the named test subnet.
    fn subnet_id(&self, name: &str) -> String;
    /// What a pool declaration owns (its owner tag), as it truly is.
    async fn owned(&self, owner: &str) -> (Vec<NetworkInterface>, Vec<Address>);
    /// The data volumes a declaration made (its owner tag), as they are.
    async fn owned_volumes(&self, owner: &str) -> Vec<Volume>;
}

/// The calls an event cost: exactly `expected` where reads are consistent;
/// where they lag, the same operations, each at least as often (a lagging
/// read is read again).
pub fn assert_calls(w: &dyn World, actual: &CallCounts, expected: &[(&'static str, u64)]) {
    let expected: CallCounts = expected.iter().copied().collect();
    if !w.reads_lag() {
        assert_eq!(actual, &expected);
        return;
    }
    let ops = |c: &CallCounts| c.keys().copied().collect::<Vec<_>>();
    assert_eq!(ops(actual), ops(&expected), "{actual:?}");
    for (op, n) in &expected {
        assert!(actual[op] >= *n, "{op}: {actual:?}");
    }
}

/// Settings for tests: short pauses while EC2 settles, and a wait for
/// fresh reads that outlasts the strict model's lag many times over.
pub fn fast() -> Settings {
    Settings {
        backoff: Backoff {
            first: Duration::from_millis(5),
            max: Duration::from_millis(40),
        },
        fresh_wait: Duration::from_secs(1),
        // The strict model's buckets are ten times EC2's: half of them.
        ec2_share: 5.0,
        ..Settings::default()
    }
}

/// The documented EC2 state-change event, for `instance` in `state`, sent
/// now (EventBridge's `time` has whole seconds).
pub fn state_event(instance: &str, state: InstanceState) -> Value {
    let mut event = fixture("ec2-state-change.json");
    event["detail"]["instance-id"] = instance.into();
    event["detail"]["state"] = state.as_str().into();
    event["time"] = chrono::Utc::now()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
        .into();
    event
}

pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap()
}

/// Runs one event through the Lambda handler.
pub async fn deliver(world: &dyn World, event: &Value) -> Handled {
    deliver_with(world, fast(), event).await
}

/// Runs one event through the Lambda handler with `settings`.
pub async fn deliver_with(world: &dyn World, settings: Settings, event: &Value) -> Handled {
    let ctx = Context::new(world.ec2(), settings);
    handle(&ctx, event, Deadline::after(Duration::from_secs(30))).await
}

/// Runs one event and expects it handled.
pub async fn deliver_ok(world: &dyn World, event: &Value) -> Handled {
    done(deliver(world, event).await)
}

/// `handled`, checked to be done: nothing to retry, nothing unread.
pub fn done(handled: Handled) -> Handled {
    assert!(
        !handled.should_retry() && handled.read_error.is_none(),
        "event handled: {handled:?}"
    );
    handled
}

/// The strict model as a `World`; `model` for what only the model does
/// (faults, settling, inspecting the true state).
pub struct StrictWorld {
    pub model: Arc<StrictEc2>,
}

impl StrictWorld {
    pub fn new() -> Self {
        Self {
            model: Arc::new(StrictEc2::new()),
        }
    }
}

#[async_trait]
impl World for StrictWorld {
    fn ec2(&self) -> &dyn Ec2 {
        self.model.as_ref()
    }
    async fn launch(&self, pool: Option<&str>, subnet: &str) -> String {
        self.model.launch(pool, &format!("subnet-{subnet}"))
    }
    async fn add_member(&self, pool: &str, subnet: &str) -> String {
        self.model.add_member(pool, &format!("subnet-{subnet}"))
    }
    async fn set_state(&self, instance: &str, state: InstanceState) {
        self.model.set_state(instance, state)
    }
    async fn holder(&self, eni: &str) -> Option<(String, i32)> {
        self.model.holder(eni)
    }
    fn reads_lag(&self) -> bool {
        true
    }
    fn subnet_id(&self, name: &str) -> String {
        format!("subnet-{name}")
    }
    async fn owned(&self, owner: &str) -> (Vec<NetworkInterface>, Vec<Address>) {
        let ours = |tags: &network_interface_manager::ec2::Tags| {
            tags.get(OWNER_TAG).map(String::as_str) == Some(owner)
        };
        let interfaces = self.model.interfaces().into_iter();
        let addresses = self.model.addresses().into_values();
        (
            interfaces.filter(|i| ours(&i.tags)).collect(),
            addresses.filter(|a| ours(&a.tags)).collect(),
        )
    }
    async fn owned_volumes(&self, owner: &str) -> Vec<Volume> {
        let volumes = self.model.volumes().into_iter();
        let ours = |v: &Volume| v.tags.get(OWNER_TAG).map(String::as_str) == Some(owner);
        volumes.filter(ours).collect()
    }
}

pub struct MotoWorld {
    pub moto: Moto,
    pub client: aws_sdk_ec2::Client,
    pub adapter: SdkEc2,
    pub subnets: BTreeMap<&'static str, String>,
    pub vpc: String,
    pub image: String,
}

fn tag_spec(kind: ResourceType, pool: Option<&str>) -> Option<TagSpecification> {
    let pool = pool?;
    let tag = Tag::builder().key(POOL_TAG).value(pool).build();
    Some(
        TagSpecification::builder()
            .resource_type(kind)
            .tags(tag)
            .build(),
    )
}

impl MotoWorld {
    /// A fresh moto server with one VPC and the test subnets.
    pub async fn new() -> Self {
        let moto = Moto::start();
        let client = moto.client();
        let vpc = client
            .create_vpc()
            .cidr_block("10.0.0.0/16")
            .send()
            .await
            .unwrap();
        let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_string();
        let mut subnets = BTreeMap::new();
        for (n, (name, az)) in SUBNETS.iter().enumerate() {
            let subnet = client
                .create_subnet()
                .vpc_id(&vpc)
                .cidr_block(format!("10.0.{}.0/24", n + 1))
                .availability_zone(format!("us-east-1{az}"))
                .send()
                .await
                .unwrap();
            subnets.insert(
                *name,
                subnet.subnet().unwrap().subnet_id().unwrap().to_string(),
            );
        }
        let images = client.describe_images().send().await.unwrap();
        let image = images.images()[0].image_id().unwrap().to_string();
        Self {
            adapter: SdkEc2::new(moto.client()),
            moto,
            client,
            subnets,
            vpc,
            image,
        }
    }

    /// `count` instances in one reservation.
    pub async fn launch_many(&self, pool: Option<&str>, subnet: &str, count: i32) -> Vec<String> {
        let out = self
            .client
            .run_instances()
            .image_id(&self.image)
            .min_count(count)
            .max_count(count)
            .subnet_id(&self.subnets[subnet])
            .set_tag_specifications(tag_spec(ResourceType::Instance, pool).map(|t| vec![t]))
            .send()
            .await
            .unwrap();
        out.instances()
            .iter()
            .map(|i| i.instance_id().unwrap().to_string())
            .collect()
    }

    /// The attachment of an interface, if attached.
    pub async fn attachment(
        &self,
        eni: &str,
    ) -> Option<aws_sdk_ec2::types::NetworkInterfaceAttachment> {
        let out = self
            .client
            .describe_network_interfaces()
            .network_interface_ids(eni)
            .send()
            .await;
        out.unwrap().network_interfaces()[0].attachment().cloned()
    }

    /// A new security group in the VPC.
    pub async fn security_group(&self, name: &str) -> String {
        let out = self
            .client
            .create_security_group()
            .group_name(name)
            .description(name)
            .vpc_id(&self.vpc)
            .send()
            .await
            .unwrap();
        out.group_id().unwrap().to_string()
    }

    /// Pool members attached to `instance` (non-primary).
    pub async fn members_of(&self, instance: &str) -> Vec<String> {
        let filters = [("attachment.instance-id", instance), ("tag-key", POOL_TAG)];
        let out = self
            .client
            .describe_network_interfaces()
            .set_filters(Some(
                filters
                    .iter()
                    .map(|(n, v)| Filter::builder().name(*n).values(*v).build())
                    .collect(),
            ))
            .send()
            .await
            .unwrap();
        out.network_interfaces()
            .iter()
            .filter(|n| n.attachment().and_then(|a| a.device_index()) != Some(0))
            .map(|n| n.network_interface_id().unwrap().to_string())
            .collect()
    }
}

#[async_trait]
impl World for MotoWorld {
    fn ec2(&self) -> &dyn Ec2 {
        &self.adapter
    }
    async fn launch(&self, pool: Option<&str>, subnet: &str) -> String {
        self.launch_many(pool, subnet, 1).await.remove(0)
    }
    async fn add_member(&self, pool: &str, subnet: &str) -> String {
        let out = self
            .client
            .create_network_interface()
            .subnet_id(&self.subnets[subnet])
            .set_tag_specifications(
                tag_spec(ResourceType::NetworkInterface, Some(pool)).map(|t| vec![t]),
            )
            .send()
            .await
            .unwrap();
        out.network_interface()
            .unwrap()
            .network_interface_id()
            .unwrap()
            .to_string()
    }
    async fn set_state(&self, instance: &str, state: InstanceState) {
        match state {
            InstanceState::Stopping | InstanceState::Stopped => {
                self.client
                    .stop_instances()
                    .instance_ids(instance)
                    .send()
                    .await
                    .unwrap();
            }
            InstanceState::ShuttingDown | InstanceState::Terminated => {
                self.client
                    .terminate_instances()
                    .instance_ids(instance)
                    .send()
                    .await
                    .unwrap();
            }
            InstanceState::Pending | InstanceState::Running => {
                self.client
                    .start_instances()
                    .instance_ids(instance)
                    .send()
                    .await
                    .unwrap();
            }
        }
    }
    async fn holder(&self, eni: &str) -> Option<(String, i32)> {
        let a = self.attachment(eni).await?;
        Some((a.instance_id()?.to_string(), a.device_index()?))
    }
    fn reads_lag(&self) -> bool {
        false
    }
    fn subnet_id(&self, name: &str) -> String {
        self.subnets[name].clone()
    }
    async fn owned(&self, owner: &str) -> (Vec<NetworkInterface>, Vec<Address>) {
        let (interfaces, addresses) = (
            InterfaceQuery::owned_by(owner),
            AddressQuery::Owner(owner.into()),
        );
        let interfaces = self.adapter.describe_interfaces(&interfaces).await;
        let addresses = self.adapter.describe_addresses(&addresses).await;
        (interfaces.unwrap(), addresses.unwrap())
    }
    async fn owned_volumes(&self, owner: &str) -> Vec<Volume> {
        let query = VolumeQuery::Owners(vec![owner.to_string()]);
        self.adapter.describe_volumes(&query).await.unwrap()
    }
}
