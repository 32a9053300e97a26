//! Creates, updates and deletes a pool's interfaces (C2-C4). Create and
//! Update are one convergence from what exists (found by ownership tags) to
//! what the declaration asks, so a repeated request, a rollback (an Update
//! with old and new swapped) and a retry after a failure all work alike.

use crate::aws::AwsError;
use std::collections::BTreeMap;

use super::changes::{self, Change};
use super::declaration::{self, Declarer, Slot, ADOPTED};
use super::elastic_ip_plan::{ConvergedAddresses, Member};
use super::plan::{self, Observed};
use super::properties::PoolProperties;
use super::response::PoolData;
use super::volume_plan::VolumeMember;
use crate::concurrent::concurrently;
use crate::deadline::{Backoff, Deadline};
use crate::ec2::{
    Address, AddressQuery, Ec2, Instance, InstanceQuery, InterfaceChange, InterfaceQuery,
    NetworkInterface, NewInterface, ORDINAL_TAG, OWNER_TAG, SLOT_TAG,
};

/// Writes in flight at once.
pub(super) const CONCURRENCY: usize = 8;

#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The declaration conflicts with what EC2 holds; nothing was changed.
    #[error("{0}")]
    Refused(String),
    #[error("{step}: {source}")]
    Ec2 {
        step: String,
        #[source]
        source: AwsError,
    },
    #[error("the deadline came before {0}")]
    Deadline(String),
    /// EC2 took back what it answered as made (a volume whose KMS key the
    /// role cannot use).
    #[error("{0}")]
    Unmade(String),
}

pub(super) fn ec2_error(step: impl Into<String>) -> impl FnOnce(AwsError) -> ProviderError {
    let step = step.into();
    move |source| ProviderError::Ec2 { step, source }
}

pub struct Provider<'a> {
    pub ec2: &'a dyn Ec2,
    pub deadline: Deadline,
    /// Pauses while a detach settles.
    pub backoff: Backoff,
    /// The CloudFormation request being served, for ClientTokens.
    pub request_id: &'a str,
    /// The stack of the request, kept in a tag on every interface (C12);
    /// empty for an invocation (C15).
    pub stack_id: &'a str,
    /// An invocation's declaration fingerprint, kept in a tag (C15).
    pub fingerprint: Option<&'a str>,
}

/// What a convergence did: the answer's data, and what it took out of the
/// pool.
#[derive(Clone, Debug)]
pub struct Converged {
    pub data: PoolData,
    /// Interfaces no longer declared (C12).
    pub retired: Vec<String>,
    /// Adopted interfaces no longer listed, released.
    pub released: Vec<String>,
    /// The pool's Elastic IPs no longer declared (C12, C14).
    pub retired_addresses: Vec<Address>,
    /// The pool had interfaces before this convergence (C18).
    pub existed: bool,
}

impl Converged {
    /// Everything taken out of the pool, for the reconcile to read by id.
    pub fn taken_out(&self) -> Vec<String> {
        [self.retired.as_slice(), &self.released].concat()
    }
}

impl Provider<'_> {
    fn by<'p>(&'p self, physical_id: &'p str) -> Declarer<'p> {
        Declarer {
            physical_id,
            stack_id: self.stack_id,
            former_name: None,
            fingerprint: self.fingerprint,
        }
    }

    /// Brings the pool `physical_id` to `props`; `old` names user tags to
    /// remove. Returns the answer's data and the interfaces taken out of the
    /// pool. On failure, what this call created is removed again.
    pub async fn converge(
        &self,
        physical_id: &str,
        props: &PoolProperties,
        old: Option<&PoolProperties>,
    ) -> Result<Converged, ProviderError> {
        // C14: only a declaration with public addresses, now or before, has any.
        let public = props.has_public_addresses() || old.is_some_and(|o| o.has_public_addresses());
        let observed = self.observe(physical_id, props, public).await?;
        let plan = plan::plan(props, self.by(physical_id), old, &observed)
            .map_err(ProviderError::Refused)?;
        let by = Declarer {
            former_name: plan.former_name.as_deref(),
            ..self.by(physical_id)
        };
        let created = self
            .create_all(by, props, &plan.create, &plan.ordinals)
            .await?;
        let mut interfaces: BTreeMap<&str, &NetworkInterface> =
            plan.filled.iter().map(|(k, i)| (k.as_str(), *i)).collect();
        for i in &created {
            interfaces.insert(i.tags[SLOT_TAG].as_str(), i);
        }
        let slots = plan.slots.iter().map(|s| s.key.as_str());
        let by_slot = slots.filter_map(|key| Some((key, *interfaces.get(key)?)));
        let adopted = observed.listed.iter().map(|i| (i.id.as_str(), i));
        let in_order: Vec<(&str, &NetworkInterface)> = by_slot.chain(adopted).collect();
        let rest = async {
            self.adopt(by, props, &plan.adopt).await?;
            self.write_all(&plan.update).await?;
            self.retire_all(&plan.retire).await?;
            if public {
                self.take_addresses_off(by.physical_id, &plan.release)
                    .await?;
            }
            self.release(&plan.release).await?;
            match public {
                true => {
                    self.converge_addresses(by, props, &members(&in_order))
                        .await
                }
                false => Ok(ConvergedAddresses {
                    answer: Vec::new(),
                    retired: Vec::new(),
                }),
            }
        };
        let rest = async {
            let addresses = rest.await?;
            let volumes = !props.volumes.is_empty() || old.is_some_and(|o| !o.volumes.is_empty());
            if volumes {
                self.converge_volumes(by, props, &volume_members(&in_order))
                    .await?;
            }
            Ok(addresses)
        };
        let addresses = match rest.await {
            Ok(addresses) => addresses,
            Err(e) => {
                self.undo(&created, &plan.adopt).await;
                return Err(e);
            }
        };
        let members = in_order.iter().map(|(_, i)| *i);
        let mut data = changes::pool_data(props, members);
        data.ordinals = in_order
            .iter()
            .map(|(key, _)| plan.ordinals[*key].to_string())
            .collect();
        if props.has_public_addresses() {
            changes::add_public_addresses(&mut data, &addresses.answer);
        }
        Ok(Converged {
            data,
            retired: plan.retire.iter().map(|i| i.id.clone()).collect(),
            released: plan.release,
            retired_addresses: addresses.retired,
            existed: !observed.owned.is_empty(),
        })
    }

    /// What the plan needs to know, read at once (and the instances of
    /// attached interfaces to adopt, after).
    async fn observe(
        &self,
        physical_id: &str,
        props: &PoolProperties,
        public: bool,
    ) -> Result<Observed, ProviderError> {
        let owned = InterfaceQuery::owned_by(physical_id);
        let named = InterfaceQuery::pools(std::slice::from_ref(&props.name));
        let listed = InterfaceQuery::ids(&props.network_interface_ids);
        let fixed: Vec<String> = props
            .private_ip_addresses
            .iter()
            .map(|ip| ip.to_string())
            .collect();
        let holding = InterfaceQuery::holding(&fixed);
        let addresses = AddressQuery::Ids(props.elastic_ip_allocation_ids.clone());
        let (subnets, owned, named, listed, holding, addresses, owned_addresses) = tokio::join!(
            async {
                match props.subnet_ids.is_empty() {
                    true => Ok(Vec::new()),
                    false => self.ec2.describe_subnets(&props.subnet_ids).await,
                }
            },
            self.ec2.describe_interfaces(&owned),
            self.ec2.describe_interfaces(&named),
            self.ec2.describe_interfaces(&listed),
            self.ec2.describe_interfaces(&holding),
            self.ec2.describe_addresses(&addresses),
            async {
                match public {
                    true => {
                        let owned = AddressQuery::Owner(physical_id.to_string());
                        self.ec2.describe_addresses(&owned).await
                    }
                    false => Ok(Vec::new()),
                }
            },
        );
        let listed = listed.map_err(ec2_error("NetworkInterfaceIds"))?;
        let owned = owned.map_err(ec2_error("reading the pool's interfaces"))?;
        let former = changes::former_name(props, &owned).map(str::to_string);
        let (holders, former_holders) = tokio::join!(
            self.holders(&listed, physical_id),
            self.instances_named(former),
        );
        Ok(Observed {
            subnets: subnets.map_err(ec2_error("SubnetIds"))?,
            owned,
            named: named.map_err(ec2_error("reading the pool's interfaces"))?,
            listed,
            holders: holders?,
            holding: holding.map_err(ec2_error("PrivateIpAddresses"))?,
            former_holders: former_holders?,
            listed_addresses: addresses.map_err(ec2_error("ElasticIpAllocationIds"))?,
            owned_addresses: owned_addresses
                .map_err(ec2_error("reading the pool's Elastic IPs"))?,
        })
    }

    /// The instances that interfaces to adopt are attached to (not those the
    /// pool holds already): adoption checks their pool (C10).
    async fn holders(
        &self,
        adopt: &[NetworkInterface],
        physical_id: &str,
    ) -> Result<Vec<Instance>, ProviderError> {
        let ids: Vec<String> = adopt
            .iter()
            .filter(|i| i.tags.get(OWNER_TAG).map(String::as_str) != Some(physical_id))
            .filter_map(|i| i.attachment.as_ref())
            .map(|a| a.instance_id.clone())
            .collect();
        self.ec2
            .describe_instances(&InstanceQuery::Ids(ids))
            .await
            .map_err(ec2_error("reading the instances of NetworkInterfaceIds"))
    }

    /// The instances that carry `name`, a former name of the pool (R25).
    async fn instances_named(&self, name: Option<String>) -> Result<Vec<Instance>, ProviderError> {
        let Some(name) = name else {
            return Ok(Vec::new());
        };
        self.ec2
            .describe_instances(&InstanceQuery::Pools(vec![name]))
            .await
            .map_err(ec2_error("reading the instances of the pool's former name"))
    }

    /// Removes every interface the pool made and releases the adopted ones.
    /// A pool that is unknown or already gone is deleted as well (C4).
    pub async fn delete(
        &self,
        physical_id: &str,
        delete_volumes: bool,
    ) -> Result<Vec<String>, ProviderError> {
        self.let_addresses_go(physical_id).await?;
        let owned = self
            .ec2
            .describe_interfaces(&InterfaceQuery::owned_by(physical_id))
            .await
            .map_err(ec2_error("reading the pool's interfaces"))?;
        let (adopted, made): (Vec<&NetworkInterface>, Vec<&NetworkInterface>) = owned
            .iter()
            .partition(|i| i.tags.get(SLOT_TAG).map(String::as_str) == Some(ADOPTED));
        let adopted: Vec<String> = adopted.iter().map(|i| i.id.clone()).collect();
        self.release(&adopted).await?;
        self.remove_all(&made).await?;
        // C17: after the members: no sync moves a volume whose member is gone.
        self.let_volumes_go(physical_id, delete_volumes).await
    }

    async fn create_all(
        &self,
        by: Declarer<'_>,
        props: &PoolProperties,
        slots: &[Slot],
        ordinals: &BTreeMap<String, u8>,
    ) -> Result<Vec<NetworkInterface>, ProviderError> {
        let physical_id = by.physical_id;
        let create = |slot: &Slot| {
            let mut tags = declaration::created_tags(props, by, &slot.key);
            tags.insert(ORDINAL_TAG.to_string(), ordinals[&slot.key].to_string());
            NewInterface {
                subnet_id: slot.subnet_id.clone(),
                private_ip: slot.private_ip.clone(),
                security_groups: props.security_group_ids.clone(),
                description: props.description.clone(),
                client_token: declaration::client_token(physical_id, self.request_id, slot, props),
                tags,
            }
        };
        let results = concurrently(CONCURRENCY, slots, |slot| async move {
            let new = create(slot);
            let created = self.ec2.create_interface(&new).await?;
            if !props.source_dest_check() {
                let change = InterfaceChange::SourceDestCheck(false);
                self.ec2.modify_interface(&created.id, &change).await?;
            }
            Ok::<_, AwsError>(created)
        })
        .await;
        let (created, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        let created: Vec<NetworkInterface> = created.into_iter().filter_map(Result::ok).collect();
        match failed.into_iter().find_map(Result::err) {
            None => Ok(created),
            Some(e) => {
                self.undo(&created, &[]).await;
                Err(ec2_error("creating the interfaces")(e))
            }
        }
    }

    async fn adopt(
        &self,
        by: Declarer<'_>,
        props: &PoolProperties,
        ids: &[String],
    ) -> Result<(), ProviderError> {
        if ids.is_empty() {
            return Ok(());
        }
        let tags = declaration::pool_tags(props, by, ADOPTED);
        self.ec2
            .create_tags(ids, &tags)
            .await
            .map_err(ec2_error("NetworkInterfaceIds"))
    }

    /// The writes that put kept and adopted interfaces in line.
    async fn write_all(&self, writes: &[Change]) -> Result<(), ProviderError> {
        let results = concurrently(CONCURRENCY, writes, |change| async move {
            match change {
                Change::Modify(id, c) => self.ec2.modify_interface(id, c).await,
                Change::Tag(id, tags) => self.ec2.create_tags(std::slice::from_ref(id), tags).await,
                Change::Untag(id, keys) => {
                    self.ec2.delete_tags(std::slice::from_ref(id), keys).await
                }
            }
        })
        .await;
        results
            .into_iter()
            .collect::<Result<(), _>>()
            .map_err(ec2_error("updating the interfaces"))
    }
}

/// The members whose data volumes `volume_plan` decides (C17): by slot,
/// or by id when adopted, as `volume_key` ties them.
fn volume_members(in_order: &[(&str, &NetworkInterface)]) -> Vec<VolumeMember> {
    let member = |(key, i): &(&str, &NetworkInterface)| VolumeMember {
        key: key.to_string(),
        availability_zone: i.availability_zone.clone(),
    };
    in_order.iter().map(member).collect()
}

/// The members whose public addresses `elastic_ip_plan` decides, in order.
fn members(in_order: &[(&str, &NetworkInterface)]) -> Vec<Member> {
    let member = |(key, i): &(&str, &NetworkInterface)| Member {
        key: key.to_string(),
        interface_id: i.id.clone(),
        private_ip: i.private_ip.clone().unwrap_or_default(),
    };
    in_order.iter().map(member).collect()
}
