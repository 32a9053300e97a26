//! Gives a declaration's members their public addresses (C14), as
//! `elastic_ip_plan` says, and lets a pool's addresses go when it is
//! deleted. A handover never comes here: an Elastic IP associated with an
//! interface follows it from instance to instance.

use std::time::Duration;

use super::declaration::{self, Declarer};
use super::elastic_ip_plan::{self, ConvergedAddresses, Member};
use super::properties::PoolProperties;
use super::provider::{ec2_error, Provider, ProviderError};
use crate::aws::{AwsError, ErrorKind};
use crate::concurrent::concurrently;
use crate::deadline::Backoff;
use crate::ec2::{Address, AddressQuery, NewAddress, Tags, ADOPTED_TAG, RETIRED_TAG};

/// Writes in flight at once.
const CONCURRENCY: usize = 8;

impl Provider<'_> {
    /// Brings the members' public addresses to `props`. On failure, what
    /// this call allocated is released again.
    pub(super) async fn converge_addresses(
        &self,
        by: Declarer<'_>,
        props: &PoolProperties,
        members: &[Member],
    ) -> Result<ConvergedAddresses, ProviderError> {
        // Read again, now: later than the convergence's first reads, so
        // they show more of what the last request wrote (they lag).
        let owned = AddressQuery::Owner(by.physical_id.to_string());
        let listed = AddressQuery::Ids(props.elastic_ip_allocation_ids.clone());
        let (owned, listed) = tokio::join!(
            self.ec2.describe_addresses(&owned),
            self.ec2.describe_addresses(&listed)
        );
        let owned = owned.map_err(ec2_error("reading the pool's Elastic IPs"))?;
        let listed = listed.map_err(ec2_error("ElasticIpAllocationIds"))?;
        let plan = elastic_ip_plan::plan(props, by, members, &owned, &listed)
            .map_err(ProviderError::Refused)?;
        let step = ec2_error("updating the pool's Elastic IPs");
        self.tag_each(&plan.retire, &retired())
            .await
            .map_err(step)?;
        self.untag_each(&plan.reinstate, &[RETIRED_TAG.to_string()])
            .await
            .map_err(ec2_error("reinstating Elastic IPs"))?;
        for (id, member) in &plan.adopt {
            let tags = declaration::address_tags(props, by, &member.key, true);
            let ids = std::slice::from_ref(id);
            let adopted = self.ec2.create_tags(ids, &tags).await;
            adopted.map_err(ec2_error("ElasticIpAllocationIds"))?;
        }
        let allocated = self.allocate_all(by, props, &plan.allocate).await?;
        let mut to_associate = plan.associate.clone();
        to_associate.extend(
            allocated
                .iter()
                .map(|(a, m)| (a.allocation_id.clone(), m.clone())),
        );
        if let Err(e) = self.associate_all(&to_associate).await {
            self.release_all(allocated.iter().map(|(a, _)| a)).await;
            return Err(e);
        }
        for id in &plan.release {
            self.release_allocation(id)
                .await
                .map_err(ec2_error("releasing a duplicate Elastic IP"))?;
        }
        let retired = plan.out_of_declaration(&owned).into_iter().cloned();
        let retired = retired.collect();
        let mut answer = plan.known;
        for (address, member) in &allocated {
            let n = members.iter().position(|m| m == member).expect("a member");
            answer[n] = Some((address.public_ip.clone(), address.allocation_id.clone()));
        }
        Ok(ConvergedAddresses { answer, retired })
    }

    async fn allocate_all(
        &self,
        by: Declarer<'_>,
        props: &PoolProperties,
        members: &[Member],
    ) -> Result<Vec<(Address, Member)>, ProviderError> {
        let results = concurrently(CONCURRENCY, members, |member| async move {
            let new = NewAddress {
                tags: declaration::address_tags(props, by, &member.key, false),
                public_ipv4_pool: props.public_ipv4_pool.clone(),
            };
            let address = self.ec2.allocate_address(&new).await?;
            Ok::<_, AwsError>((address, member.clone()))
        })
        .await;
        let (done, failed): (Vec<_>, Vec<_>) = results.into_iter().partition(Result::is_ok);
        let done: Vec<(Address, Member)> = done.into_iter().filter_map(Result::ok).collect();
        match failed.into_iter().find_map(Result::err) {
            None => Ok(done),
            Some(e) => {
                self.release_all(done.iter().map(|(a, _)| a)).await;
                Err(ec2_error("allocating Elastic IPs")(e))
            }
        }
    }

    /// Associates each address with its member, never moving one that is
    /// associated elsewhere; a member created by this request may still be
    /// `pending`, which EC2 refuses: asked again until the deadline.
    async fn associate_all(&self, pairs: &[(String, Member)]) -> Result<(), ProviderError> {
        let results = concurrently(CONCURRENCY, pairs, |(id, m)| async move {
            let pending = Backoff {
                first: self.backoff.first,
                max: self.backoff.max.max(Duration::from_millis(500)),
            };
            let done = self.deadline.wait_for(pending, || async {
                match self
                    .ec2
                    .associate_address(id, &m.interface_id, &m.private_ip)
                    .await
                {
                    Ok(_) => Ok(Some(())),
                    Err(e) if e.is(ErrorKind::IncorrectState) => Ok(None),
                    Err(e) => Err(e),
                }
            });
            match done.await {
                Ok(Some(())) => Ok(()),
                Ok(None) => Err(ProviderError::Deadline(format!("{id} was associated"))),
                Err(e) if e.is(ErrorKind::AlreadyAssociated) => Err(ProviderError::Refused(
                    format!("{id} is associated elsewhere and is never moved: {e}"),
                )),
                Err(e) => Err(ec2_error(format!("associating {id}"))(e)),
            }
        })
        .await;
        results.into_iter().collect()
    }

    /// C4, C14: a deleted pool's addresses: each disassociated, then
    /// released if the pool allocated it, released from the pool (untagged)
    /// if it was adopted.
    pub(super) async fn let_addresses_go(&self, physical_id: &str) -> Result<(), ProviderError> {
        let owned = AddressQuery::Owner(physical_id.to_string());
        let owned = self.ec2.describe_addresses(&owned).await;
        let owned = owned.map_err(ec2_error("reading the pool's Elastic IPs"))?;
        let results = concurrently(CONCURRENCY, &owned, |a| self.let_go(a)).await;
        let step = ec2_error("letting the pool's Elastic IPs go");
        results.into_iter().collect::<Result<(), _>>().map_err(step)
    }

    /// C14: an adopted interface leaves the pool untagged, and the role may
    /// take an address off an interface only while the pool owns it (IAM
    /// authorizes a DisassociateAddress against the interface too): so the
    /// pool's addresses on `leaving` are taken off first. They are retired
    /// like any other; a rollback associates them again.
    pub(super) async fn take_addresses_off(
        &self,
        physical_id: &str,
        leaving: &[String],
    ) -> Result<(), ProviderError> {
        if leaving.is_empty() {
            return Ok(());
        }
        // The tag read shows which addresses are the pool's; a read of them
        // by id, where each association is (the tag read lags further
        // behind a rollback that associated one moments ago).
        let read = |query| async move {
            let read = self.ec2.describe_addresses(&query).await;
            read.map_err(ec2_error("reading the pool's Elastic IPs"))
        };
        let owned = read(AddressQuery::Owner(physical_id.to_string())).await?;
        let ids = owned.iter().map(|a| a.allocation_id.clone()).collect();
        let owned = read(AddressQuery::Ids(ids)).await?;
        let on_leaving = owned
            .iter()
            .filter_map(|a| a.association.as_ref())
            .filter(|s| {
                let on = s.network_interface_id.as_ref();
                on.is_some_and(|i| leaving.contains(i))
            });
        let on_leaving: Vec<String> = on_leaving.map(|s| s.association_id.clone()).collect();
        let results = concurrently(CONCURRENCY, on_leaving, |id| async move {
            match self.ec2.disassociate_address(&id).await {
                Err(e) if !e.is_not_found() => Err(e),
                _ => Ok(()),
            }
        })
        .await;
        let step = ec2_error("taking the pool's Elastic IPs off the interfaces it releases");
        results.into_iter().collect::<Result<(), _>>().map_err(step)
    }

    /// Disassociates the address, then releases it, or untags it if it was
    /// adopted; read again by id first (a tag read lags behind its
    /// association). A read that misses it right after its allocation
    /// proves nothing: it is let go as `known` says, and only the release's
    /// own NotFound says it is gone.
    pub(super) async fn let_go(&self, known: &Address) -> Result<(), AwsError> {
        let query = AddressQuery::Ids(vec![known.allocation_id.clone()]);
        let fresh = self.ec2.describe_addresses(&query).await?.pop();
        let address = fresh.as_ref().unwrap_or(known);
        if let Some(association) = &address.association {
            match self
                .ec2
                .disassociate_address(&association.association_id)
                .await
            {
                Err(e) if !e.is_not_found() => return Err(e),
                _ => {}
            }
        }
        let id = std::slice::from_ref(&address.allocation_id);
        if address.tags.contains_key(ADOPTED_TAG) {
            let keys = declaration::address_tag_keys();
            return match self.ec2.delete_tags(id, &keys).await {
                Err(e) if !e.is_not_found() => Err(e),
                _ => Ok(()),
            };
        }
        self.release_allocation(&address.allocation_id).await
    }

    /// Releases an allocation. Still in use (an association the reads did
    /// not show, or one settling): read by id, disassociated, asked again,
    /// until the deadline. Gone already is released.
    async fn release_allocation(&self, allocation_id: &str) -> Result<(), AwsError> {
        let query = AddressQuery::Ids(vec![allocation_id.to_string()]);
        let released = self.deadline.wait_for(self.backoff, || async {
            match self.ec2.release_address(allocation_id).await {
                Ok(()) => Ok(Some(())),
                Err(e) if e.is_not_found() => Ok(Some(())),
                Err(e) if e.is(ErrorKind::InUse) => {
                    let read = self.ec2.describe_addresses(&query).await?.pop();
                    if let Some(a) = read.and_then(|a| a.association) {
                        match self.ec2.disassociate_address(&a.association_id).await {
                            Err(e) if !e.is_not_found() => return Err(e),
                            _ => {}
                        }
                    }
                    Ok(None)
                }
                Err(e) => Err(e),
            }
        });
        match released.await? {
            Some(()) => Ok(()),
            None => Err(AwsError::of_kind(
                ErrorKind::Deferred,
                "Deadline",
                &format!("{allocation_id} was still in use at the deadline"),
            )),
        }
    }

    /// Best effort after a failure: what this request allocated goes again.
    async fn release_all<'a>(&self, addresses: impl Iterator<Item = &'a Address>) {
        for address in addresses {
            if let Err(e) = self.let_go(address).await {
                tracing::error!(error = %e, "could not release an Elastic IP after a failure");
            }
        }
    }

    pub(super) async fn tag_each(&self, ids: &[String], tags: &Tags) -> Result<(), AwsError> {
        match ids.is_empty() {
            true => Ok(()),
            false => self.ec2.create_tags(ids, tags).await,
        }
    }

    pub(super) async fn untag_each(&self, ids: &[String], keys: &[String]) -> Result<(), AwsError> {
        match ids.is_empty() {
            true => Ok(()),
            false => self.ec2.delete_tags(ids, keys).await,
        }
    }
}

pub(super) fn retired() -> Tags {
    Tags::from([(RETIRED_TAG.to_string(), "true".to_string())])
}
