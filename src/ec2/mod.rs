//! The EC2 calls the manager makes, in its own types: the `Ec2` trait, and
//! the aws-sdk-ec2 adapter (`sdk`) with its pacing (`paced`).

mod from_sdk;
pub mod paced;
pub mod sdk;
mod types;
mod volumes;

pub use types::*;
pub use volumes::*;

use async_trait::async_trait;

use crate::aws::{AwsError, CallCounts};

/// Tag whose value names the pool of an interface or an instance.
pub const POOL_TAG: &str = "network-interface-manager-pool";
/// Tag on a member: the device index the pool's interfaces prefer.
pub const DEVICE_INDEX_TAG: &str = "network-interface-manager-device-index";
/// Tag on an interface a pool declaration made or adopted: its physical id.
pub const OWNER_TAG: &str = "network-interface-manager-owner";
/// Tag on such an interface: its slot in the declaration, or `adopted`.
pub const SLOT_TAG: &str = "network-interface-manager-slot";
/// Tag on such an interface: the id of the stack that declared it.
pub const STACK_TAG: &str = "network-interface-manager-stack";
/// Tag on an interface of a pool declared by invocation (no stack): the
/// fingerprint of the declaration that made it, so that a second
/// declaration of the name is told from a retry of the first (C15).
pub const DECLARATION_TAG: &str = "network-interface-manager-declaration";
/// Tag on a member of a pool declared by invocation: how many
/// declarations claim it; only the last one's delete deletes it (C18).
/// Absent on a pool declared before claims were counted: one.
pub const CLAIMS_TAG: &str = "network-interface-manager-claims";
/// Tag on such a member: the last declaration's touch, `<time> <step>
/// <fingerprint>`, what `status` shows and a delete's freshness mark (C18).
pub const TOUCHED_TAG: &str = "network-interface-manager-touched";
/// Tag on a member: its ordinal, 1-255, stable for the life of its slot
/// (C16); on its holder, the same key and value (R26).
pub const ORDINAL_TAG: &str = "network-interface-manager-ordinal";
/// An ordinal as a tag holds it: 1-255, digits only.
pub fn ordinal(tag: &str) -> Option<u8> {
    let digits = !tag.is_empty() && tag.bytes().all(|b| b.is_ascii_digit());
    digits
        .then(|| tag.parse().ok())
        .flatten()
        .filter(|n| *n > 0)
}

/// Tag on the holder of a member with an ordinal: the member's private
/// address (R26).
pub const ADDRESS_TAG: &str = "network-interface-manager-address";
/// The tag keys of a holder's identity (R26): letters, digits and `-` only,
/// as instance metadata tags require [IMDS-TAGS].
pub const IDENTITY_TAGS: [&str; 2] = [ORDINAL_TAG, ADDRESS_TAG];
/// Tag on a declared pool's interfaces after a rename: the name the pool
/// had before, still served for the instances that carry it (R25).
pub const FORMER_POOL_TAG: &str = "network-interface-manager-former-pool";
/// On an instance: EC2 warned that it is due to leave (a Spot interruption
/// warning, a rebalance recommendation), and when: `<warning> <time>` (R28).
pub const LEAVING_TAG: &str = "network-interface-manager-leaving";
/// Tag on such an interface an Update removed: out of the pool, kept until
/// the stack operation is over, for a rollback to put back (C12).
pub const RETIRED_TAG: &str = "network-interface-manager-retired";
/// Tag on an Elastic IP a declaration adopted: never released, only
/// released from the pool (C14).
pub const ADOPTED_TAG: &str = "network-interface-manager-adopted";

/// Tag on a member of a pool with data volumes: their device names, space
/// separated (`/dev/sdf /dev/sdg`), so only such members cost a volume
/// read (R27).
pub const VOLUMES_TAG: &str = "network-interface-manager-volumes";
/// Tag on a member's data volume: the device name it is attached at (R27).
pub const DEVICE_TAG: &str = "network-interface-manager-device";
/// Tag on a volume a pool's Delete kept: the pool's physical id, the
/// member's slot and the device it had, for whoever takes it up (C17).
pub const RELEASED_TAG: &str = "network-interface-manager-released";

/// The slot tag of an interface a declaration adopted (several share it).
pub const ADOPTED_SLOT: &str = "adopted";

/// What ties a member's data volumes to it (R27): its declaration's owner
/// and its slot, or its own id for an adopted one.
pub fn volume_key(member: &NetworkInterface) -> Option<(&str, &str)> {
    let owner = member.tags.get(OWNER_TAG)?;
    let slot = member.tags.get(SLOT_TAG)?;
    let key = match slot.as_str() {
        ADOPTED_SLOT => member.id.as_str(),
        slot => slot,
    };
    Some((owner, key))
}

/// The device names a member's volumes tag lists (R27).
pub fn volume_devices(member: &NetworkInterface) -> Vec<&str> {
    let listed = member.tags.get(VOLUMES_TAG).map(String::as_str);
    listed.unwrap_or_default().split_whitespace().collect()
}

/// Which interfaces to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InterfaceQuery {
    pub scope: Scope,
    /// Only interfaces with status `available`.
    pub available_only: bool,
    /// Only interfaces attached to this instance.
    pub attached_to: Option<String>,
}

/// The tag or id filter of an interface query.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Members of these pools; of every pool when empty.
    Pools(Vec<String>),
    /// Interfaces a pool declaration made or adopted (ownership tag).
    Owner(String),
    /// These interfaces, whatever their tags; unknown ids are left out, and
    /// no ids is an empty answer without a call.
    Ids(Vec<String>),
    /// Interfaces carrying this tag key, whatever its value.
    TagKey(&'static str),
    /// Interfaces holding any of these private addresses (none, without a
    /// call, for no addresses).
    Addresses(Vec<String>),
}

impl InterfaceQuery {
    fn new(scope: Scope) -> Self {
        Self {
            scope,
            available_only: false,
            attached_to: None,
        }
    }

    /// Members of `pools` (every pool when empty).
    pub fn pools(pools: &[String]) -> Self {
        Self::new(Scope::Pools(pools.to_vec()))
    }

    pub fn ids(ids: &[String]) -> Self {
        Self::new(Scope::Ids(ids.to_vec()))
    }

    pub fn owned_by(owner: &str) -> Self {
        Self::new(Scope::Owner(owner.to_string()))
    }

    pub fn tagged(key: &'static str) -> Self {
        Self::new(Scope::TagKey(key))
    }

    pub fn holding(addresses: &[String]) -> Self {
        Self::new(Scope::Addresses(addresses.to_vec()))
    }

    pub fn available(self) -> Self {
        Self {
            available_only: true,
            ..self
        }
    }

    pub fn attached_to(self, instance_id: &str) -> Self {
        Self {
            attached_to: Some(instance_id.to_string()),
            ..self
        }
    }
}

/// Which Elastic IP addresses to read (`DescribeAddresses` has no pages).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AddressQuery {
    /// These allocations; unknown ids are left out, no ids is no call.
    Ids(Vec<String>),
    /// Addresses a pool declaration allocated or adopted (ownership tag).
    Owner(String),
    /// Addresses carrying this tag key, whatever its value.
    TagKey(&'static str),
}

/// Which instances to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InstanceQuery {
    /// Instances carrying the pool tag (of these pools; all when empty), in
    /// every state but `terminated`.
    Pools(Vec<String>),
    /// These instances, whatever their tags; unknown ids are left out, and
    /// no ids is an empty answer without a call.
    Ids(Vec<String>),
}

/// The EC2 operations the manager uses, and nothing else.
#[async_trait]
pub trait Ec2: Send + Sync {
    async fn describe_interfaces(
        &self,
        query: &InterfaceQuery,
    ) -> Result<Vec<NetworkInterface>, AwsError>;
    async fn describe_instances(&self, query: &InstanceQuery) -> Result<Vec<Instance>, AwsError>;
    /// Attaches on network card 0; returns the attachment id.
    async fn attach(
        &self,
        interface_id: &str,
        instance_id: &str,
        device_index: i32,
    ) -> Result<String, AwsError>;
    /// Detaches gently: never forced, which AWS keeps for failed instances
    /// and which can leave the device index unusable [EC2-DET].
    async fn detach(&self, attachment_id: &str) -> Result<(), AwsError>;
    async fn describe_subnets(&self, ids: &[String]) -> Result<Vec<Subnet>, AwsError>;
    /// Creates an interface, tagged at creation.
    async fn create_interface(&self, new: &NewInterface) -> Result<NetworkInterface, AwsError>;
    async fn delete_interface(&self, interface_id: &str) -> Result<(), AwsError>;
    async fn modify_interface(
        &self,
        interface_id: &str,
        change: &InterfaceChange,
    ) -> Result<(), AwsError>;
    /// Tags interfaces or addresses (any EC2 resource ids), all or none.
    async fn create_tags(&self, resource_ids: &[String], tags: &Tags) -> Result<(), AwsError>;
    async fn delete_tags(&self, resource_ids: &[String], keys: &[String]) -> Result<(), AwsError>;
    async fn describe_addresses(&self, query: &AddressQuery) -> Result<Vec<Address>, AwsError>;
    async fn allocate_address(&self, new: &NewAddress) -> Result<Address, AwsError>;
    /// Associates with the interface's `private_ip`; never moves an address
    /// associated elsewhere (`AllowReassociation` off: `AlreadyAssociated`).
    /// Returns the association id.
    async fn associate_address(
        &self,
        allocation_id: &str,
        interface_id: &str,
        private_ip: &str,
    ) -> Result<String, AwsError>;
    async fn disassociate_address(&self, association_id: &str) -> Result<(), AwsError>;
    async fn release_address(&self, allocation_id: &str) -> Result<(), AwsError>;
    async fn describe_volumes(&self, query: &VolumeQuery) -> Result<Vec<Volume>, AwsError>;
    async fn create_volume(&self, new: &NewVolume) -> Result<Volume, AwsError>;
    /// Attaches at `device` (`/dev/sdf`...), `DeleteOnTermination` off, as
    /// for every attach by a call [EC2-TERM].
    async fn attach_volume(
        &self,
        volume_id: &str,
        instance_id: &str,
        device: &str,
    ) -> Result<(), AwsError>;
    /// Detaches gently, never forced (a forced detach can corrupt the file
    /// system [EBS-API]); the manager asks only of a stopped instance.
    async fn detach_volume(&self, volume_id: &str, instance_id: &str) -> Result<(), AwsError>;
    /// Deletes an `available` volume.
    async fn delete_volume(&self, volume_id: &str) -> Result<(), AwsError>;
    /// Calls made so far, by operation name.
    fn calls(&self) -> CallCounts;
    /// Attempts EC2 answered as throttled so far, retried ones included.
    fn throttled(&self) -> u64;
}
