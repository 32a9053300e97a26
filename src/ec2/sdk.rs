//! `Ec2` over aws-sdk-ec2: paginated reads, our types out, error codes mapped.

use crate::aws::{from_sdk, AwsError, CallCounter, CallCounts};
use async_trait::async_trait;

use super::from_sdk::{address, created_volume, instance, interface, sdk_tags, volume};
use aws_sdk_ec2::config::interceptors::FinalizerInterceptorContextRef;
use aws_sdk_ec2::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};

use aws_sdk_ec2::types::{
    self as sdk, AttributeBooleanValue, AttributeValue, Filter, ResourceType, Tag, TagSpecification,
};
use aws_sdk_ec2::Client;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{
    Address, AddressQuery, Ec2, Instance, InstanceQuery, InterfaceChange, InterfaceQuery,
    NetworkInterface, NewAddress, NewInterface, NewVolume, Scope, Subnet, Tags, Volume,
    VolumeQuery, OWNER_TAG, POOL_TAG, SLOT_TAG,
};

/// SDK attempts per call: throttling and server errors are retried with
/// jittered exponential backoff before the manager sees them.
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(5)
}

/// Largest page EC2 accepts for both describe calls.
const PAGE_SIZE: i32 = 1000;
/// Largest page asked of `DescribeVolumes` (guess: its documented maximum
/// was not found; 500 is within either maximum seen for EC2's reads).
const VOLUME_PAGE_SIZE: i32 = 500;

/// The adapter; counts one call per request (so one per page), and every
/// throttled attempt, the ones the SDK retried included.
#[derive(Debug)]
pub struct SdkEc2 {
    client: Client,
    calls: CallCounter,
    throttled: Arc<AtomicU64>,
    page_size: i32,
}

impl SdkEc2 {
    pub fn new(client: Client) -> Self {
        let throttled = Arc::new(AtomicU64::new(0));
        let config = client
            .config()
            .to_builder()
            .interceptor(ThrottleCounter(throttled.clone()))
            .build();
        Self {
            client: Client::from_conf(config),
            calls: CallCounter::default(),
            throttled,
            page_size: PAGE_SIZE,
        }
    }

    /// Reads in pages of `size` (5 to 1000) instead of the largest.
    pub fn with_page_size(self, size: i32) -> Self {
        Self {
            page_size: size,
            ..self
        }
    }
}

/// Counts the attempts EC2 throttled: HTTP 503, which is how EC2 answers
/// `RequestLimitExceeded` [EC2-THR] (and rarely `Unavailable`).
#[derive(Debug)]
struct ThrottleCounter(Arc<AtomicU64>);

impl Intercept for ThrottleCounter {
    fn name(&self) -> &'static str {
        "ThrottleCounter"
    }

    fn read_after_attempt(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        if context
            .response()
            .is_some_and(|r| r.status().as_u16() == 503)
        {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }
}

fn filter(name: &str, values: impl IntoIterator<Item = impl Into<String>>) -> Filter {
    Filter::builder()
        .name(name)
        .set_values(Some(values.into_iter().map(Into::into).collect()))
        .build()
}

/// Filters selecting pool-tagged resources, of `pools` when given.
fn pool_filter(pools: &[String]) -> Filter {
    if pools.is_empty() {
        filter("tag-key", [POOL_TAG])
    } else {
        filter(&format!("tag:{POOL_TAG}"), pools.iter().cloned())
    }
}

/// Maps an SDK error of `operation` to our error.
fn to_error<E, R>(operation: &'static str) -> impl FnOnce(SdkError<E, R>) -> AwsError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    move |err| from_sdk(err).during(operation)
}

#[async_trait]
impl Ec2 for SdkEc2 {
    async fn describe_interfaces(
        &self,
        query: &InterfaceQuery,
    ) -> Result<Vec<NetworkInterface>, AwsError> {
        let mut filters = vec![match &query.scope {
            Scope::Pools(pools) => pool_filter(pools),
            Scope::Owner(owner) => filter(&format!("tag:{OWNER_TAG}"), [owner.clone()]),
            Scope::Ids(ids) if ids.is_empty() => return Ok(Vec::new()),
            Scope::Ids(ids) => filter("network-interface-id", ids.iter().cloned()),
            Scope::TagKey(key) => filter("tag-key", [*key]),
            Scope::Addresses(ips) if ips.is_empty() => return Ok(Vec::new()),
            Scope::Addresses(ips) => filter("addresses.private-ip-address", ips.iter().cloned()),
        }];
        if query.available_only {
            filters.push(filter("status", ["available"]));
        }
        if let Some(instance_id) = &query.attached_to {
            filters.push(filter("attachment.instance-id", [instance_id.clone()]));
        }
        let mut pages = self
            .client
            .describe_network_interfaces()
            .set_filters(Some(filters))
            .max_results(self.page_size)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            self.calls.count("DescribeNetworkInterfaces");
            let page = page.map_err(to_error("DescribeNetworkInterfaces"))?;
            found.extend(page.network_interfaces().iter().map(interface));
        }
        Ok(found)
    }

    async fn describe_instances(&self, query: &InstanceQuery) -> Result<Vec<Instance>, AwsError> {
        let filters = match query {
            InstanceQuery::Ids(ids) if ids.is_empty() => return Ok(Vec::new()),
            InstanceQuery::Ids(ids) => vec![filter("instance-id", ids.iter().cloned())],
            InstanceQuery::Pools(pools) => vec![
                pool_filter(pools),
                filter(
                    "instance-state-name",
                    ["pending", "running", "stopping", "stopped", "shutting-down"],
                ),
            ],
        };
        let mut pages = self
            .client
            .describe_instances()
            .set_filters(Some(filters))
            .max_results(self.page_size)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            self.calls.count("DescribeInstances");
            let page = page.map_err(to_error("DescribeInstances"))?;
            let instances = page.reservations().iter().flat_map(|r| r.instances());
            found.extend(instances.filter_map(instance));
        }
        Ok(found)
    }

    async fn attach(
        &self,
        interface_id: &str,
        instance_id: &str,
        device_index: i32,
    ) -> Result<String, AwsError> {
        self.calls.count("AttachNetworkInterface");
        let out = self
            .client
            .attach_network_interface()
            .network_interface_id(interface_id)
            .instance_id(instance_id)
            .device_index(device_index)
            .network_card_index(0)
            .send()
            .await
            .map_err(to_error("AttachNetworkInterface"))?;
        Ok(out.attachment_id().unwrap_or_default().to_string())
    }

    async fn detach(&self, attachment_id: &str) -> Result<(), AwsError> {
        self.calls.count("DetachNetworkInterface");
        self.client
            .detach_network_interface()
            .attachment_id(attachment_id)
            .send()
            .await
            .map_err(to_error("DetachNetworkInterface"))?;
        Ok(())
    }

    async fn describe_subnets(&self, ids: &[String]) -> Result<Vec<Subnet>, AwsError> {
        self.calls.count("DescribeSubnets");
        let out = self
            .client
            .describe_subnets()
            .set_subnet_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(to_error("DescribeSubnets"))?;
        let subnet = |s: &sdk::Subnet| Subnet {
            id: s.subnet_id().unwrap_or_default().to_string(),
            availability_zone: s.availability_zone().unwrap_or_default().to_string(),
            vpc_id: s.vpc_id().unwrap_or_default().to_string(),
            cidr: s.cidr_block().unwrap_or_default().to_string(),
        };
        Ok(out.subnets().iter().map(subnet).collect())
    }

    async fn create_interface(&self, new: &NewInterface) -> Result<NetworkInterface, AwsError> {
        self.calls.count("CreateNetworkInterface");
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::NetworkInterface)
            .set_tags(Some(sdk_tags(&new.tags)))
            .build();
        let out = self
            .client
            .create_network_interface()
            .subnet_id(&new.subnet_id)
            .set_private_ip_address(new.private_ip.clone())
            .set_groups((!new.security_groups.is_empty()).then(|| new.security_groups.clone()))
            .description(&new.description)
            .client_token(&new.client_token)
            .tag_specifications(tags)
            .send()
            .await
            .map_err(to_error("CreateNetworkInterface"))?;
        let created = out.network_interface().ok_or_else(|| {
            AwsError::from_code(
                "EmptyResponse",
                "CreateNetworkInterface returned no interface",
            )
        })?;
        Ok(interface(created))
    }

    async fn delete_interface(&self, interface_id: &str) -> Result<(), AwsError> {
        self.calls.count("DeleteNetworkInterface");
        self.client
            .delete_network_interface()
            .network_interface_id(interface_id)
            .send()
            .await
            .map_err(to_error("DeleteNetworkInterface"))?;
        Ok(())
    }

    async fn modify_interface(
        &self,
        interface_id: &str,
        change: &InterfaceChange,
    ) -> Result<(), AwsError> {
        self.calls.count("ModifyNetworkInterfaceAttribute");
        let call = self
            .client
            .modify_network_interface_attribute()
            .network_interface_id(interface_id);
        let call = match change {
            InterfaceChange::SecurityGroups(groups) => call.set_groups(Some(groups.clone())),
            InterfaceChange::Description(d) => {
                call.description(AttributeValue::builder().value(d).build())
            }
            InterfaceChange::SourceDestCheck(check) => {
                call.source_dest_check(AttributeBooleanValue::builder().value(*check).build())
            }
            InterfaceChange::DeleteOnTermination {
                attachment_id,
                delete,
            } => call.attachment(
                sdk::NetworkInterfaceAttachmentChanges::builder()
                    .attachment_id(attachment_id)
                    .delete_on_termination(*delete)
                    .build(),
            ),
        };
        call.send()
            .await
            .map_err(to_error("ModifyNetworkInterfaceAttribute"))?;
        Ok(())
    }

    async fn create_tags(&self, resource_ids: &[String], tags: &Tags) -> Result<(), AwsError> {
        self.calls.count("CreateTags");
        self.client
            .create_tags()
            .set_resources(Some(resource_ids.to_vec()))
            .set_tags(Some(sdk_tags(tags)))
            .send()
            .await
            .map_err(to_error("CreateTags"))?;
        Ok(())
    }

    async fn delete_tags(&self, resource_ids: &[String], keys: &[String]) -> Result<(), AwsError> {
        self.calls.count("DeleteTags");
        let keys = keys.iter().map(|k| Tag::builder().key(k).build()).collect();
        self.client
            .delete_tags()
            .set_resources(Some(resource_ids.to_vec()))
            .set_tags(Some(keys))
            .send()
            .await
            .map_err(to_error("DeleteTags"))?;
        Ok(())
    }

    async fn describe_addresses(&self, query: &AddressQuery) -> Result<Vec<Address>, AwsError> {
        let call = self.client.describe_addresses();
        let call = match query {
            AddressQuery::Ids(ids) if ids.is_empty() => return Ok(Vec::new()),
            AddressQuery::Ids(ids) => call.set_allocation_ids(Some(ids.clone())),
            AddressQuery::Owner(owner) => {
                call.filters(filter(&format!("tag:{OWNER_TAG}"), [owner.clone()]))
            }
            AddressQuery::TagKey(key) => call.filters(filter("tag-key", [*key])),
        };
        self.calls.count("DescribeAddresses");
        let out = call.send().await.map_err(to_error("DescribeAddresses"))?;
        Ok(out.addresses().iter().map(address).collect())
    }

    async fn allocate_address(&self, new: &NewAddress) -> Result<Address, AwsError> {
        self.calls.count("AllocateAddress");
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::ElasticIp)
            .set_tags(Some(sdk_tags(&new.tags)))
            .build();
        let out = self
            .client
            .allocate_address()
            .domain(sdk::DomainType::Vpc)
            .set_public_ipv4_pool(new.public_ipv4_pool.clone())
            .tag_specifications(tags)
            .send()
            .await
            .map_err(to_error("AllocateAddress"))?;
        Ok(Address {
            allocation_id: out.allocation_id().unwrap_or_default().to_string(),
            public_ip: out.public_ip().unwrap_or_default().to_string(),
            association: None,
            tags: new.tags.clone(),
        })
    }

    async fn associate_address(
        &self,
        allocation_id: &str,
        interface_id: &str,
        private_ip: &str,
    ) -> Result<String, AwsError> {
        self.calls.count("AssociateAddress");
        let out = self
            .client
            .associate_address()
            .allocation_id(allocation_id)
            .network_interface_id(interface_id)
            .private_ip_address(private_ip)
            .allow_reassociation(false)
            .send()
            .await
            .map_err(to_error("AssociateAddress"))?;
        Ok(out.association_id().unwrap_or_default().to_string())
    }

    async fn disassociate_address(&self, association_id: &str) -> Result<(), AwsError> {
        self.calls.count("DisassociateAddress");
        self.client
            .disassociate_address()
            .association_id(association_id)
            .send()
            .await
            .map_err(to_error("DisassociateAddress"))?;
        Ok(())
    }

    async fn release_address(&self, allocation_id: &str) -> Result<(), AwsError> {
        self.calls.count("ReleaseAddress");
        self.client
            .release_address()
            .allocation_id(allocation_id)
            .send()
            .await
            .map_err(to_error("ReleaseAddress"))?;
        Ok(())
    }

    async fn describe_volumes(&self, query: &VolumeQuery) -> Result<Vec<Volume>, AwsError> {
        let owned = |owners: &[String]| filter(&format!("tag:{OWNER_TAG}"), owners.to_vec());
        let filters = match query {
            VolumeQuery::Ids(ids) | VolumeQuery::Owners(ids) if ids.is_empty() => {
                return Ok(Vec::new())
            }
            VolumeQuery::Seats { owners, .. } if owners.is_empty() => return Ok(Vec::new()),
            VolumeQuery::Ids(ids) => vec![filter("volume-id", ids.iter().cloned())],
            VolumeQuery::Owners(owners) => vec![owned(owners)],
            VolumeQuery::Seats { owners, slots } => {
                vec![
                    owned(owners),
                    filter(&format!("tag:{SLOT_TAG}"), slots.clone()),
                ]
            }
            VolumeQuery::TagKey(key) => vec![filter("tag-key", [*key])],
        };
        let mut pages = self
            .client
            .describe_volumes()
            .set_filters(Some(filters))
            .max_results(self.page_size.min(VOLUME_PAGE_SIZE))
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            self.calls.count("DescribeVolumes");
            let page = page.map_err(to_error("DescribeVolumes"))?;
            found.extend(page.volumes().iter().map(volume));
        }
        Ok(found)
    }

    async fn create_volume(&self, new: &NewVolume) -> Result<Volume, AwsError> {
        self.calls.count("CreateVolume");
        let tags = TagSpecification::builder()
            .resource_type(ResourceType::Volume)
            .set_tags(Some(sdk_tags(&new.tags)))
            .build();
        let out = self
            .client
            .create_volume()
            .availability_zone(&new.availability_zone)
            .size(new.size_gib)
            .volume_type(sdk::VolumeType::from(new.volume_type.as_str()))
            .set_iops(new.iops)
            .set_throughput(new.throughput)
            .set_encrypted(new.encrypted)
            .set_kms_key_id(new.kms_key_id.clone())
            .client_token(&new.client_token)
            .tag_specifications(tags)
            .send()
            .await
            .map_err(to_error("CreateVolume"))?;
        Ok(created_volume(&out))
    }

    async fn attach_volume(
        &self,
        volume_id: &str,
        instance_id: &str,
        device: &str,
    ) -> Result<(), AwsError> {
        self.calls.count("AttachVolume");
        self.client
            .attach_volume()
            .volume_id(volume_id)
            .instance_id(instance_id)
            .device(device)
            .send()
            .await
            .map_err(to_error("AttachVolume"))?;
        Ok(())
    }

    async fn detach_volume(&self, volume_id: &str, instance_id: &str) -> Result<(), AwsError> {
        self.calls.count("DetachVolume");
        self.client
            .detach_volume()
            .volume_id(volume_id)
            .instance_id(instance_id)
            .send()
            .await
            .map_err(to_error("DetachVolume"))?;
        Ok(())
    }

    async fn delete_volume(&self, volume_id: &str) -> Result<(), AwsError> {
        self.calls.count("DeleteVolume");
        self.client
            .delete_volume()
            .volume_id(volume_id)
            .send()
            .await
            .map_err(to_error("DeleteVolume"))?;
        Ok(())
    }

    fn calls(&self) -> CallCounts {
        self.calls.snapshot()
    }

    fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }
}
