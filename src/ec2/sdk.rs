//! `Ec2` over aws-sdk-ec2: paginated reads, our types out, error codes mapped.

use async_trait::async_trait;
use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{self as sdk, Filter};
use aws_sdk_ec2::Client;

use super::{
    Attachment, CallCounter, CallCounts, Ec2, Ec2Error, ErrorKind, Instance, InstanceInterface,
    InstanceQuery, InstanceState, InterfaceQuery, InterfaceStatus, NetworkInterface, Tags,
    POOL_TAG,
};

/// SDK attempts per call: throttling and server errors are retried with
/// jittered exponential backoff before the manager sees them.
pub fn retry_config() -> aws_config::retry::RetryConfig {
    aws_config::retry::RetryConfig::standard().with_max_attempts(5)
}

/// Largest page EC2 accepts for both describe calls.
const PAGE_SIZE: i32 = 1000;

/// The adapter; counts one call per request (so one per page).
#[derive(Debug)]
pub struct SdkEc2 {
    client: Client,
    calls: CallCounter,
    page_size: i32,
}

impl SdkEc2 {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            calls: CallCounter::default(),
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

fn to_error<E, R>(err: SdkError<E, R>) -> Ec2Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.code() {
        Some(code) => Ec2Error::from_code(code, err.message().unwrap_or_default()),
        None => {
            let kind = match &err {
                SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) => ErrorKind::Transient,
                SdkError::ResponseError(_) => ErrorKind::Transient,
                _ => ErrorKind::Other,
            };
            let mut message = err.to_string();
            let mut source = std::error::Error::source(&err);
            while let Some(cause) = source {
                message = format!("{message}: {cause}");
                source = cause.source();
            }
            Ec2Error {
                kind,
                code: "Transport".into(),
                message,
            }
        }
    }
}

fn tags(set: &[sdk::Tag]) -> Tags {
    set.iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect()
}

fn interface(eni: &sdk::NetworkInterface) -> NetworkInterface {
    let attachment = eni.attachment().and_then(|a| {
        let detached = a.status().is_some_and(|s| s.as_str() == "detached");
        Some(Attachment {
            id: a.attachment_id()?.to_string(),
            instance_id: a.instance_id()?.to_string(),
            device_index: a.device_index()?,
            network_card_index: a.network_card_index().unwrap_or(0),
        })
        .filter(|_| !detached)
    });
    NetworkInterface {
        id: eni.network_interface_id().unwrap_or_default().to_string(),
        availability_zone: eni.availability_zone().unwrap_or_default().to_string(),
        subnet_id: eni.subnet_id().unwrap_or_default().to_string(),
        vpc_id: eni.vpc_id().unwrap_or_default().to_string(),
        private_ip: eni.private_ip_address().map(str::to_string),
        status: InterfaceStatus::parse(eni.status().map(|s| s.as_str()).unwrap_or_default()),
        requester_managed: eni.requester_managed().unwrap_or(false),
        tags: tags(eni.tag_set()),
        attachment,
    }
}

fn instance(i: &sdk::Instance) -> Option<Instance> {
    let state = i.state()?.name()?.as_str();
    Some(Instance {
        id: i.instance_id()?.to_string(),
        state: InstanceState::parse(state)?,
        availability_zone: i
            .placement()
            .and_then(|p| p.availability_zone())
            .unwrap_or_default()
            .to_string(),
        subnet_id: i.subnet_id().map(str::to_string),
        vpc_id: i.vpc_id().map(str::to_string),
        tags: tags(i.tags()),
        interfaces: i
            .network_interfaces()
            .iter()
            .filter_map(|n| {
                let a = n.attachment()?;
                Some(InstanceInterface {
                    interface_id: n.network_interface_id()?.to_string(),
                    device_index: a.device_index()?,
                    network_card_index: a.network_card_index().unwrap_or(0),
                })
            })
            .collect(),
    })
}

#[async_trait]
impl Ec2 for SdkEc2 {
    async fn describe_interfaces(
        &self,
        query: &InterfaceQuery,
    ) -> Result<Vec<NetworkInterface>, Ec2Error> {
        let mut filters = vec![pool_filter(&query.pools)];
        if query.available_only {
            filters.push(filter("status", ["available"]));
        }
        if let Some(instance_id) = &query.attached_to {
            filters.push(filter("attachment.instance-id", [instance_id.clone()]));
        }
        if !query.ids.is_empty() {
            filters.push(filter("network-interface-id", query.ids.iter().cloned()));
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
            let page = page.map_err(to_error)?;
            found.extend(page.network_interfaces().iter().map(interface));
        }
        Ok(found)
    }

    async fn describe_instances(&self, query: &InstanceQuery) -> Result<Vec<Instance>, Ec2Error> {
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
            let page = page.map_err(to_error)?;
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
    ) -> Result<String, Ec2Error> {
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
            .map_err(to_error)?;
        Ok(out.attachment_id().unwrap_or_default().to_string())
    }

    async fn detach(&self, attachment_id: &str, force: bool) -> Result<(), Ec2Error> {
        self.calls.count("DetachNetworkInterface");
        self.client
            .detach_network_interface()
            .attachment_id(attachment_id)
            .force(force)
            .send()
            .await
            .map_err(to_error)?;
        Ok(())
    }

    fn calls(&self) -> CallCounts {
        self.calls.snapshot()
    }
}
