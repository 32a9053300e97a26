//! What a pool declaration asks for, computed without I/O: its slots, the
//! tags of its interfaces, its idempotency tokens.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use ipnet::Ipv4Net;
use sha2::{Digest, Sha256};

use super::properties::{PoolProperties, VolumeSpec};
use crate::ec2::{
    NetworkInterface, Subnet, Tags, ADOPTED_TAG, CLAIMS_TAG, DECLARATION_TAG, DEVICE_INDEX_TAG,
    DEVICE_TAG, FORMER_POOL_TAG, ORDINAL_TAG, OWNER_TAG, POOL_TAG, RETIRED_TAG, SLOT_TAG,
    STACK_TAG, TOUCHED_TAG, VOLUMES_TAG,
};

/// Slot tag value of an adopted interface.
pub const ADOPTED: &str = crate::ec2::ADOPTED_SLOT;

/// The physical id of a pool: stable for the resource (stack and logical id),
/// so that no property change makes CloudFormation replace it (C3).
pub fn physical_id(stack_id: &str, logical_id: &str) -> String {
    format!("pool-{}", &hex(stack_id, logical_id)[..20])
}

/// The physical id of a pool declared by invocation (C15): its name is its
/// identity, as instances know it by name; unique per account and region
/// like the pool tag itself. No ARN starts with `invocation`: it never
/// meets a stack's pool.
pub fn invocation_id(name: &str) -> String {
    physical_id("invocation", name)
}

/// The fingerprint of a declaration (its properties as parsed, so `"1"`
/// and `1` agree), kept on an invocation's interfaces (C15).
pub fn fingerprint(props: &PoolProperties) -> String {
    let declared = PoolProperties {
        service_token: None,
        service_timeout: None,
        ..props.clone()
    };
    let json = serde_json::to_string(&declared).expect("properties serialise");
    hex("declaration", &json)[..16].to_string()
}

fn hex(a: &str, b: &str) -> String {
    let digest = Sha256::new()
        .chain_update(a)
        .chain_update([0])
        .chain_update(b)
        .finalize();
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// One interface the declaration creates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slot {
    /// Stable name, kept in the slot tag: `subnet-…#n` or `subnet-…/10.0.1.5`.
    pub key: String,
    pub subnet_id: String,
    pub private_ip: Option<String>,
}

/// The slots, in declaration order; a fixed address goes to the subnet whose
/// range holds it.
pub fn slots(props: &PoolProperties, subnets: &[Subnet]) -> Result<Vec<Slot>, String> {
    if !props.private_ip_addresses.is_empty() {
        return props
            .private_ip_addresses
            .iter()
            .map(|ip| fixed_slot(*ip, props, subnets))
            .collect();
    }
    let per_subnet = props.interfaces_per_subnet();
    Ok(props
        .subnet_ids
        .iter()
        .flat_map(|subnet| {
            (0..per_subnet).map(move |n| Slot {
                key: format!("{subnet}#{n}"),
                subnet_id: subnet.clone(),
                private_ip: None,
            })
        })
        .collect())
}

fn fixed_slot(ip: Ipv4Addr, props: &PoolProperties, subnets: &[Subnet]) -> Result<Slot, String> {
    let holds = |s: &&Subnet| s.cidr.parse::<Ipv4Net>().is_ok_and(|net| net.contains(&ip));
    let in_declared = subnets
        .iter()
        .filter(|s| props.subnet_ids.contains(&s.id))
        .find(holds);
    match in_declared {
        Some(subnet) => Ok(Slot {
            key: format!("{}/{ip}", subnet.id),
            subnet_id: subnet.id.clone(),
            private_ip: Some(ip.to_string()),
        }),
        None => Err(format!("PrivateIpAddresses: {ip} is in none of SubnetIds")),
    }
}

/// Who declared an interface: the pool (its physical id), its stack (empty
/// for an invocation), the name the pool had before it was renamed, if it
/// was (R25), and an invocation's fingerprint (C15).
#[derive(Clone, Copy, Debug)]
pub struct Declarer<'a> {
    pub physical_id: &'a str,
    pub stack_id: &'a str,
    pub former_name: Option<&'a str>,
    pub fingerprint: Option<&'a str>,
}

impl Declarer<'_> {
    /// The tags every declared thing carries: its stack's, if it has one
    /// (the schedule's cleanup goes by it, C12), its fingerprint's, if any.
    fn provenance(&self) -> Tags {
        let stack = (!self.stack_id.is_empty()).then_some((STACK_TAG, self.stack_id));
        let fingerprint = self.fingerprint.map(|f| (DECLARATION_TAG, f));
        let tags = stack.into_iter().chain(fingerprint);
        tags.map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }
}

/// The tags that make an interface a member of the pool.
pub fn pool_tags(props: &PoolProperties, by: Declarer, slot: &str) -> Tags {
    let physical_id = by.physical_id;
    let former = by
        .former_name
        .map(|n| (FORMER_POOL_TAG.to_string(), n.to_string()));
    let mut tags = BTreeMap::from([
        (POOL_TAG.to_string(), props.name.clone()),
        (
            DEVICE_INDEX_TAG.to_string(),
            props.device_index().to_string(),
        ),
        (OWNER_TAG.to_string(), physical_id.to_string()),
        (SLOT_TAG.to_string(), slot.to_string()),
    ]);
    tags.extend(former);
    tags.extend(by.provenance());
    if !props.volumes.is_empty() {
        tags.insert(VOLUMES_TAG.to_string(), props.volume_devices());
    }
    tags
}

/// Every tag of a created interface: the user's, then the pool's.
pub fn created_tags(props: &PoolProperties, by: Declarer, slot: &str) -> Tags {
    let mut tags: Tags = props
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    tags.extend(pool_tags(props, by, slot));
    tags
}

/// The tags of an Elastic IP the pool allocated (the user's, then the
/// pool's) or adopted (the pool's only), for the member `key` (C14).
pub fn address_tags(props: &PoolProperties, by: Declarer, key: &str, adopted: bool) -> Tags {
    let users = props.tags.iter().map(|t| (t.key.clone(), t.value.clone()));
    let mut tags: Tags = match adopted {
        true => Tags::new(),
        false => users.collect(),
    };
    tags.extend(by.provenance());
    tags.extend([
        (POOL_TAG.to_string(), props.name.clone()),
        (OWNER_TAG.to_string(), by.physical_id.to_string()),
        (SLOT_TAG.to_string(), key.to_string()),
    ]);
    if adopted {
        tags.insert(ADOPTED_TAG.to_string(), "true".to_string());
    }
    tags
}

/// The tags of a member's data volume: the user's, then the pool's, its
/// member's key and its device (C17, R27).
pub fn volume_tags(props: &PoolProperties, by: Declarer, key: &str, device: &str) -> Tags {
    let mut tags: Tags = props
        .tags
        .iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect();
    tags.extend(by.provenance());
    tags.extend([
        (POOL_TAG.to_string(), props.name.clone()),
        (OWNER_TAG.to_string(), by.physical_id.to_string()),
        (SLOT_TAG.to_string(), key.to_string()),
        (DEVICE_TAG.to_string(), device.to_string()),
    ]);
    tags
}

/// The manager's tag keys on a data volume, removed when a Delete keeps it.
pub fn volume_tag_keys() -> Vec<String> {
    [
        POOL_TAG,
        OWNER_TAG,
        SLOT_TAG,
        DEVICE_TAG,
        STACK_TAG,
        RETIRED_TAG,
        DECLARATION_TAG,
    ]
    .map(str::to_string)
    .to_vec()
}

/// The ClientToken of a volume's create: as `client_token`, a duplicate
/// delivery of the same request gets the first one's volume [EC2-IDEM].
pub fn volume_token(physical_id: &str, request_id: &str, key: &str, spec: &VolumeSpec) -> String {
    let parameters = format!("{request_id}|{key}|{spec:?}");
    format!("nimv-{}", &hex(physical_id, &parameters)[..40])
}

/// The manager's tag keys on an adopted Elastic IP, removed when it is
/// released from the pool.
pub fn address_tag_keys() -> Vec<String> {
    let mut keys = pool_tag_keys();
    keys.push(ADOPTED_TAG.to_string());
    keys
}

/// Retired by an Update (C12): marked, and out of the pool.
pub fn is_retired(iface: &NetworkInterface) -> bool {
    iface.tags.contains_key(RETIRED_TAG) && iface.pool().is_none()
}

/// The manager's own tag keys, removed when an adopted interface is released.
pub fn pool_tag_keys() -> Vec<String> {
    [
        POOL_TAG,
        DEVICE_INDEX_TAG,
        OWNER_TAG,
        SLOT_TAG,
        STACK_TAG,
        RETIRED_TAG,
        FORMER_POOL_TAG,
        DECLARATION_TAG,
        ORDINAL_TAG,
        VOLUMES_TAG,
        CLAIMS_TAG,
        TOUCHED_TAG,
    ]
    .map(str::to_string)
    .to_vec()
}

/// The ClientToken of a create: a duplicate delivery of the same request
/// (same RequestId) returns the interface the first one made. It includes the
/// request id so that a later request re-creating a slot whose interface was
/// deleted (a rollback) gets a new one; reuse across requests goes through
/// the ownership tags, looked up before any create.
pub fn client_token(
    physical_id: &str,
    request_id: &str,
    slot: &Slot,
    props: &PoolProperties,
) -> String {
    let parameters = format!(
        "{}|{}|{:?}|{:?}|{}",
        request_id, slot.key, props.security_group_ids, slot.private_ip, props.description
    );
    format!("nim-{}", &hex(physical_id, &parameters)[..40])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two pools of one stack, or one logical id in two stacks, never share
    /// an id (they would share interfaces); one resource keeps its id.
    #[test]
    fn each_resource_has_its_own_stable_physical_id() {
        let stack = "arn:aws:cloudformation:us-east-1:1:stack/a/1";
        let other = "arn:aws:cloudformation:us-east-1:1:stack/b/2";
        let id = physical_id(stack, "Pool");
        assert_eq!(id, physical_id(stack, "Pool"));
        assert_ne!(id, physical_id(stack, "Pool2"));
        assert_ne!(id, physical_id(other, "Pool"));
        // The separator keeps ("ab", "c") apart from ("a", "bc").
        assert_ne!(physical_id("ab", "c"), physical_id("a", "bc"));
        assert!(id.starts_with("pool-") && id.len() == 25, "{id}");
        assert!(id[5..].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
    }
}
