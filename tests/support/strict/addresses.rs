//! Elastic IP addresses on the strict model [EC2-EIP][EIP-GUIDE]: allocated
//! in a VPC, associated with an interface's private address (one address a
//! private address), following the interface from instance to instance;
//! `AllowReassociation` is always off, so an address associated anywhere
//! answers `Resource.AlreadyAssociated`, even for the target it is on
//! already (guess: the harsher answer); it guards only the address moved,
//! not the target: an address associated with a private address that has
//! one already takes its place, and the one displaced stays allocated, idle
//! [EC2-EIP-ASSOC]; an address cannot be released
//! while associated (`InvalidIPAddress.InUse`); deleting an interface frees
//! its address, which stays allocated. Reads lag like the interfaces'
//! (by id `read_lag`, filtered `filter_lag`).

use std::collections::BTreeMap;

use network_interface_manager::aws::AwsError;
use network_interface_manager::ec2::{
    Address, AddressAssociation, AddressQuery, InterfaceStatus, NewAddress, OWNER_TAG,
};
use tokio::time::Instant;

use super::{err, publish_ids, settle, Op, StrictEc2, World};

impl StrictEc2 {
    pub(super) async fn describe_addresses_now(
        &self,
        query: &AddressQuery,
    ) -> Result<Vec<Address>, AwsError> {
        if matches!(query, AddressQuery::Ids(ids) if ids.is_empty()) {
            return Ok(Vec::new());
        }
        self.calls.count("DescribeAddresses");
        self.enter(Op::DescribeAddresses).await?;
        let cutoff = self.read_cutoff(!matches!(query, AddressQuery::Ids(_)));
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let wanted = |a: &Address| match query {
            AddressQuery::Ids(ids) => ids.contains(&a.allocation_id),
            AddressQuery::Owner(owner) => a.tags.get(OWNER_TAG) == Some(owner),
            AddressQuery::TagKey(key) => a.tags.contains_key(*key),
        };
        Ok(w.seen
            .addresses(cutoff)
            .filter(|a| wanted(a))
            .cloned()
            .collect())
    }

    pub(super) async fn allocate_address_now(&self, new: &NewAddress) -> Result<Address, AwsError> {
        self.calls.count("AllocateAddress");
        self.enter(Op::Allocate).await?;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let allocation_id = Self::id(&mut w, "eipalloc");
        // Documentation ranges: Amazon's pool 198.51.100.0/24, a BYOIP pool
        // 203.0.113.0/24 (only pools named like EC2's exist).
        let block = match &new.public_ipv4_pool {
            None => "198.51.100",
            Some(pool) if pool.starts_with("ipv4pool-ec2-") => "203.0.113",
            Some(pool) => {
                let m = format!("The pool ID '{pool}' does not exist");
                return Err(err("InvalidPublicIpv4PoolID.NotFound", m));
            }
        };
        let address = Address {
            public_ip: format!("{block}.{}", w.addresses.len() % 250 + 4),
            allocation_id: allocation_id.clone(),
            association: None,
            tags: new.tags.clone(),
        };
        w.addresses.insert(allocation_id.clone(), address.clone());
        w.writes
            .push((Op::Allocate, allocation_id.clone(), String::new()));
        publish_ids(&mut w, &[&allocation_id], Instant::now());
        Ok(address)
    }

    pub(super) async fn associate_address_now(
        &self,
        allocation_id: &str,
        interface_id: &str,
        private_ip: &str,
    ) -> Result<String, AwsError> {
        self.calls.count("AssociateAddress");
        self.enter(Op::Associate).await?;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let Some(address) = w.addresses.get(allocation_id) else {
            let m = format!("The allocation ID '{allocation_id}' does not exist");
            return Err(err("InvalidAllocationID.NotFound", m));
        };
        let public_ip = address.public_ip.clone();
        if address.association.is_some() {
            let m = format!("Resource {public_ip} is already associated.");
            return Err(err("Resource.AlreadyAssociated", m));
        }
        let Some(eni) = w.enis.get(interface_id) else {
            let m = format!("The networkInterface ID '{interface_id}' does not exist");
            return Err(err("InvalidNetworkInterfaceID.NotFound", m));
        };
        if eni.iface.status == InterfaceStatus::Pending {
            // Guess: a pending interface takes no address yet.
            let m = format!("Interface '{interface_id}' is in an incorrect state (pending)");
            return Err(err("IncorrectState", m));
        }
        if eni.iface.private_ip.as_deref() != Some(private_ip) {
            let m = format!("{private_ip} is not an address of {interface_id}");
            return Err(err("InvalidParameterValue", m));
        }
        let displaced = w.addresses.values_mut().find(|a| {
            a.association.as_ref().is_some_and(|s| {
                s.network_interface_id.as_deref() == Some(interface_id)
                    && s.private_ip.as_deref() == Some(private_ip)
            })
        });
        let displaced = displaced.map(|a| {
            a.association = None;
            a.allocation_id.clone()
        });
        let eni = w.enis.get(interface_id).unwrap();
        let instance_id = eni.iface.attachment.as_ref().map(|a| a.instance_id.clone());
        let association_id = Self::id(&mut w, "eipassoc");
        w.addresses.get_mut(allocation_id).unwrap().association = Some(AddressAssociation {
            association_id: association_id.clone(),
            network_interface_id: Some(interface_id.into()),
            private_ip: Some(private_ip.into()),
            instance_id,
        });
        w.enis.get_mut(interface_id).unwrap().iface.public_ip = Some(public_ip);
        w.writes
            .push((Op::Associate, allocation_id.into(), interface_id.into()));
        let changed = [allocation_id.to_string(), interface_id.to_string()];
        let changed = changed.into_iter().chain(displaced).collect::<Vec<_>>();
        publish_ids(&mut w, &changed.iter().collect::<Vec<_>>(), Instant::now());
        Ok(association_id)
    }

    pub(super) async fn disassociate_address_now(
        &self,
        association_id: &str,
    ) -> Result<(), AwsError> {
        self.calls.count("DisassociateAddress");
        self.enter(Op::Disassociate).await?;
        let role_conditions = self.faults.lock().unwrap().role_conditions;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let found = w.addresses.values().find(|a| {
            a.association
                .as_ref()
                .is_some_and(|s| s.association_id == association_id)
        });
        let Some(allocation_id) = found.map(|a| a.allocation_id.clone()) else {
            let m = format!("The association ID '{association_id}' does not exist");
            return Err(err("InvalidAssociationID.NotFound", m));
        };
        // The role's condition, as IAM applies it: DisassociateAddress
        // authorizes both the elastic-ip and the network-interface it is on
        // (IAM reference, EC2's actions table), and the template allows the
        // latter only with the owner tag (AddressesOffOwnedInterfaces).
        let on = w.addresses[&allocation_id].association.as_ref();
        let eni = on.and_then(|a| a.network_interface_id.as_ref());
        let owned = |id: &String| {
            w.enis
                .get(id)
                .is_some_and(|e| e.iface.tags.contains_key(OWNER_TAG))
        };
        if let Some(eni) = eni.filter(|id| role_conditions && !owned(id)) {
            let m = format!("You are not authorized to perform this operation on {eni}");
            return Err(err("UnauthorizedOperation", m));
        }
        let address = w.addresses.get_mut(&allocation_id).unwrap();
        let association = address.association.take().unwrap();
        let mut changed = vec![allocation_id.clone()];
        if let Some(eni) = association.network_interface_id {
            if let Some(e) = w.enis.get_mut(&eni) {
                e.iface.public_ip = None;
            }
            changed.push(eni);
        }
        w.writes
            .push((Op::Disassociate, allocation_id, String::new()));
        publish_ids(&mut w, &changed.iter().collect::<Vec<_>>(), Instant::now());
        Ok(())
    }

    pub(super) async fn release_address_now(&self, allocation_id: &str) -> Result<(), AwsError> {
        self.calls.count("ReleaseAddress");
        self.enter(Op::Release).await?;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let Some(address) = w.addresses.get(allocation_id) else {
            let m = format!("The allocation ID '{allocation_id}' does not exist");
            return Err(err("InvalidAllocationID.NotFound", m));
        };
        if address.association.is_some() {
            let m = format!("The address {} is in use", address.public_ip);
            return Err(err("InvalidIPAddress.InUse", m));
        }
        w.addresses.remove(allocation_id);
        w.writes
            .push((Op::Release, allocation_id.into(), String::new()));
        publish_ids(&mut w, &[&allocation_id.to_string()], Instant::now());
        Ok(())
    }

    /// Every address as it truly is, by allocation id.
    pub fn addresses(&self) -> BTreeMap<String, Address> {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        w.addresses.clone()
    }

    /// An address the test allocated before its story (settled), associated
    /// with `interface` when given.
    pub fn add_address(&self, tags: &[(&str, &str)], interface: Option<&str>) -> String {
        let mut w = self.world.lock().unwrap();
        let allocation_id = Self::id(&mut w, "eipalloc");
        let public_ip = format!("192.0.2.{}", w.addresses.len() % 250 + 4);
        let association = interface.map(|eni| {
            let e = w.enis.get_mut(eni).unwrap();
            e.iface.public_ip = Some(public_ip.clone());
            AddressAssociation {
                association_id: format!("eipassoc-{}", &allocation_id[9..]),
                network_interface_id: Some(eni.into()),
                private_ip: e.iface.private_ip.clone(),
                instance_id: e.iface.attachment.as_ref().map(|a| a.instance_id.clone()),
            }
        });
        let tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string()));
        w.addresses.insert(
            allocation_id.clone(),
            Address {
                allocation_id: allocation_id.clone(),
                public_ip,
                association,
                tags: tags.collect(),
            },
        );
        super::settle_visible(&mut w);
        allocation_id
    }
}

/// The address associated with a deleted interface, freed: its id, for
/// the reads to see it changed.
pub(super) fn free_from(w: &mut World, interface_id: &str) -> Option<String> {
    let on_it = |a: &&mut Address| {
        a.association
            .as_ref()
            .is_some_and(|s| s.network_interface_id.as_deref() == Some(interface_id))
    };
    let address = w.addresses.values_mut().find(on_it)?;
    address.association = None;
    Some(address.allocation_id.clone())
}
