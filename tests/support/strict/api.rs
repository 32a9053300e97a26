//! The `Ec2` trait on the strict model, with EC2's checks and error codes.

use network_interface_manager::aws::{AwsError, CallCounts};
use tokio::time::Instant;

use async_trait::async_trait;
use network_interface_manager::ec2::{
    Address, AddressQuery, Attachment, AttachmentStatus, Ec2, Instance, InstanceInterface,
    InstanceQuery, InstanceState, InterfaceChange, InterfaceQuery, InterfaceStatus,
    NetworkInterface, NewAddress, NewInterface, NewVolume, Scope, Subnet, Tags, Volume,
    VolumeQuery, OWNER_TAG,
};

use super::{
    az_of, epoch_ms, err, free_ip, in_pools, interface, mac, prefix_of, settle, vpc_of, Eni, Op,
    StrictEc2, World,
};

#[async_trait]
impl Ec2 for StrictEc2 {
    async fn describe_interfaces(
        &self,
        q: &InterfaceQuery,
    ) -> Result<Vec<NetworkInterface>, AwsError> {
        // As the trait says (and the adapter does): nothing asked, no call.
        if matches!(&q.scope, Scope::Ids(v) | Scope::Addresses(v) if v.is_empty()) {
            return Ok(Vec::new());
        }
        self.calls.count("DescribeNetworkInterfaces");
        self.enter(Op::DescribeInterfaces).await?;
        let filtered = !matches!(q.scope, Scope::Ids(_)) || q.attached_to.is_some();
        let by_pool = matches!(q.scope, Scope::Pools(_)) && q.attached_to.is_none();
        let floor = self.faults.lock().unwrap().pools_lag_floor;
        let cutoff = match by_pool {
            true => self.read_cutoff(filtered).min(Instant::now() - floor),
            false => self.read_cutoff(filtered),
        };
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let matches = |e: &NetworkInterface| {
            let in_scope = match &q.scope {
                Scope::Pools(pools) => in_pools(&e.tags, pools),
                Scope::Owner(owner) => e.tags.get(OWNER_TAG) == Some(owner),
                Scope::Ids(ids) => ids.contains(&e.id),
                Scope::TagKey(key) => e.tags.contains_key(*key),
                Scope::Addresses(ips) => e.private_ip.as_ref().is_some_and(|ip| ips.contains(ip)),
            };
            in_scope
                && (!q.available_only || e.status == InterfaceStatus::Available)
                && q.attached_to
                    .as_ref()
                    .is_none_or(|i| e.attachment.as_ref().is_some_and(|a| &a.instance_id == i))
        };
        Ok(w.seen
            .interfaces(cutoff)
            .filter(|e| matches(e))
            .cloned()
            .collect())
    }

    async fn describe_instances(&self, q: &InstanceQuery) -> Result<Vec<Instance>, AwsError> {
        if matches!(q, InstanceQuery::Ids(ids) if ids.is_empty()) {
            return Ok(Vec::new());
        }
        self.calls.count("DescribeInstances");
        self.enter(Op::DescribeInstances).await?;
        let lagging = self.faults.lock().unwrap().lagging.clone();
        let cutoff = self.read_cutoff(matches!(q, InstanceQuery::Pools(_)));
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let found = w.seen.instances(cutoff).filter(|i| match q {
            InstanceQuery::Ids(ids) => ids.contains(&i.id),
            InstanceQuery::Pools(pools) => {
                in_pools(&i.tags, pools)
                    && i.state != InstanceState::Terminated
                    && !lagging.contains(&i.id)
            }
        });
        Ok(found.cloned().collect())
    }

    async fn attach(
        &self,
        interface_id: &str,
        instance_id: &str,
        device_index: i32,
    ) -> Result<String, AwsError> {
        self.calls.count("AttachNetworkInterface");
        self.enter(Op::Attach).await?;
        let transition = self.faults.lock().unwrap().transition;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let Some(instance) = w.instances.get(instance_id) else {
            let m = format!("The instance ID '{instance_id}' does not exist");
            return Err(err("InvalidInstanceID.NotFound", m));
        };
        let Some(eni) = w.enis.get(interface_id) else {
            let m = format!("The networkInterface ID '{interface_id}' does not exist");
            return Err(err("InvalidNetworkInterfaceID.NotFound", m));
        };
        super::hot_or_warm(instance)?;
        if eni.iface.status == InterfaceStatus::Pending {
            // Guess: a pending interface cannot be attached yet.
            let m = format!("Interface '{interface_id}' is in an incorrect state (pending)");
            return Err(err("IncorrectState", m));
        }
        if eni.iface.status != InterfaceStatus::Available {
            let m = format!("Interface: [{interface_id}] in use.");
            return Err(err("InvalidNetworkInterface.InUse", m));
        }
        if matches!(eni.iface.interface_type.as_str(), "trunk" | "branch") {
            // Guess: trunk and branch interfaces belong to ECS, not to an attach.
            let m = format!(
                "Interface '{interface_id}' of type {} cannot be attached",
                eni.iface.interface_type
            );
            return Err(err("OperationNotPermitted", m));
        }
        if eni.iface.availability_zone != instance.availability_zone {
            let m = "The network interface and the instance must be in the same availability zone";
            return Err(err("InvalidParameterCombination", m));
        }
        if instance.occupant(device_index).is_some() {
            let m = format!(
                "Instance '{instance_id}' already has an interface attached at device index '{device_index}'."
            );
            return Err(err("InvalidParameterValue", m));
        }
        let attachment_id = Self::id(&mut w, "eni-attach");
        let eni = &mut w.enis.get_mut(interface_id).unwrap();
        eni.iface.attachment = Some(Attachment {
            id: attachment_id.clone(),
            instance_id: instance_id.into(),
            device_index,
            network_card_index: 0,
            status: AttachmentStatus::Attaching,
            // [EC2-MOD]: an attach by the API never sets it.
            delete_on_termination: false,
            attached_at: Some(epoch_ms()),
        });
        eni.iface.status = InterfaceStatus::Attaching;
        eni.settles_at = Some(Instant::now() + transition);
        w.instances
            .get_mut(instance_id)
            .unwrap()
            .interfaces
            .push(InstanceInterface {
                interface_id: interface_id.into(),
                device_index,
                network_card_index: 0,
            });
        w.writes
            .push((Op::Attach, interface_id.into(), instance_id.into()));
        let (eni, instance) = (interface_id.to_string(), instance_id.to_string());
        published(&mut w, &[&eni, &instance]);
        Ok(attachment_id)
    }

    async fn detach(&self, attachment_id: &str) -> Result<(), AwsError> {
        self.calls.count("DetachNetworkInterface");
        self.enter(Op::Detach).await?;
        let transition = self.faults.lock().unwrap().transition;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let found = w.enis.values_mut().find(|e| {
            e.iface
                .attachment
                .as_ref()
                .is_some_and(|a| a.id == attachment_id)
        });
        let Some(eni) = found else {
            let m = format!("The network interface attachment ID '{attachment_id}' does not exist");
            return Err(err("InvalidAttachmentID.NotFound", m));
        };
        let a = eni.iface.attachment.clone().unwrap();
        if a.is_primary() {
            return Err(err(
                "OperationNotPermitted",
                "The primary network interface cannot be detached",
            ));
        }
        // Guess: detaching what is already detaching is accepted.
        if !a.is_detaching() {
            eni.iface.attachment.as_mut().unwrap().status = AttachmentStatus::Detaching;
            eni.iface.status = InterfaceStatus::InUse;
            eni.settles_at = Some(Instant::now() + transition);
        }
        let id = eni.iface.id.clone();
        w.writes
            .push((Op::Detach, id.clone(), a.instance_id.clone()));
        published(&mut w, &[&id, &a.instance_id]);
        Ok(())
    }

    async fn describe_subnets(&self, ids: &[String]) -> Result<Vec<Subnet>, AwsError> {
        self.calls.count("DescribeSubnets");
        self.enter(Op::DescribeSubnets).await?;
        ids.iter()
            .map(|id| match prefix_of(id) {
                Some(prefix) => Ok(Subnet {
                    id: id.clone(),
                    availability_zone: az_of(id),
                    vpc_id: vpc_of(id).into(),
                    cidr: format!("{prefix}.0/24"),
                }),
                None => Err(err(
                    "InvalidSubnetID.NotFound",
                    format!("The subnet ID '{id}' does not exist"),
                )),
            })
            .collect()
    }

    async fn create_interface(&self, new: &NewInterface) -> Result<NetworkInterface, AwsError> {
        self.calls.count("CreateNetworkInterface");
        self.enter(Op::Create).await?;
        let pending_for = self.faults.lock().unwrap().create_pending;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        if let Some((first, id)) = w.tokens.get(&new.client_token) {
            if first != new {
                return Err(err(
                    "IdempotentParameterMismatch",
                    "The client token was used with other parameters",
                ));
            }
            let id = id.clone();
            return match w.enis.get(&id) {
                Some(e) => Ok(e.iface.clone()),
                None => Err(err(
                    "InvalidNetworkInterfaceID.NotFound",
                    format!("'{id}' was deleted"),
                )),
            };
        }
        let Some(prefix) = prefix_of(&new.subnet_id) else {
            let m = format!("The subnet ID '{}' does not exist", new.subnet_id);
            return Err(err("InvalidSubnetID.NotFound", m));
        };
        let ip = match &new.private_ip {
            Some(ip) if !ip.starts_with(&format!("{prefix}.")) => {
                let m = format!("Address {ip} does not fall within the subnet's address range");
                return Err(err("InvalidParameterValue", m));
            }
            // An address is unique within its VPC [EC2-ERR].
            Some(ip)
                if w.enis.values().any(|e| {
                    e.iface.private_ip.as_ref() == Some(ip)
                        && e.iface.vpc_id == vpc_of(&new.subnet_id)
                }) =>
            {
                return Err(err(
                    "InvalidIPAddress.InUse",
                    format!("Address {ip} is in use"),
                ));
            }
            Some(ip) => ip.clone(),
            None => free_ip(&mut w, &new.subnet_id),
        };
        let id = Self::id(&mut w, "eni");
        let mut iface = interface(&id, &new.subnet_id, ip, new.tags.clone());
        iface.description = new.description.clone();
        if !new.security_groups.is_empty() {
            iface.security_groups = new.security_groups.clone();
        }
        // [EC2-CNI]: the answer says `pending`; EC2 finishes it later.
        iface.status = InterfaceStatus::Pending;
        w.tokens
            .insert(new.client_token.clone(), (new.clone(), id.clone()));
        let mac = mac(&mut w);
        w.enis.insert(
            id.clone(),
            Eni {
                iface: iface.clone(),
                mac,
                settles_at: Some(Instant::now() + pending_for),
            },
        );
        w.writes.push((Op::Create, id.clone(), String::new()));
        published(&mut w, &[&id]);
        Ok(iface)
    }

    async fn delete_interface(&self, interface_id: &str) -> Result<(), AwsError> {
        self.calls.count("DeleteNetworkInterface");
        self.enter(Op::Delete).await?;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let Some(eni) = w.enis.get(interface_id) else {
            let m = format!("The networkInterface ID '{interface_id}' does not exist");
            return Err(err("InvalidNetworkInterfaceID.NotFound", m));
        };
        if eni.iface.status != InterfaceStatus::Available {
            let m = format!("Network interface '{interface_id}' is currently in use.");
            return Err(err("InvalidNetworkInterface.InUse", m));
        }
        w.enis.remove(interface_id);
        // [EC2-ENI]: deleting it frees its Elastic IP, which stays allocated.
        let freed = super::addresses::free_from(&mut w, interface_id);
        w.writes
            .push((Op::Delete, interface_id.into(), String::new()));
        let changed: Vec<String> = std::iter::once(interface_id.to_string())
            .chain(freed)
            .collect();
        published(&mut w, &changed.iter().collect::<Vec<_>>());
        Ok(())
    }

    async fn modify_interface(
        &self,
        interface_id: &str,
        change: &InterfaceChange,
    ) -> Result<(), AwsError> {
        self.calls.count("ModifyNetworkInterfaceAttribute");
        self.enter(Op::Modify).await?;
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let Some(eni) = w.enis.get_mut(interface_id) else {
            let m = format!("The networkInterface ID '{interface_id}' does not exist");
            return Err(err("InvalidNetworkInterfaceID.NotFound", m));
        };
        match change {
            InterfaceChange::SecurityGroups(g) => eni.iface.security_groups = g.clone(),
            InterfaceChange::Description(d) => eni.iface.description = d.clone(),
            InterfaceChange::SourceDestCheck(c) => eni.iface.source_dest_check = *c,
            InterfaceChange::DeleteOnTermination {
                attachment_id,
                delete,
            } => match eni.iface.attachment.as_mut() {
                Some(a) if &a.id == attachment_id => a.delete_on_termination = *delete,
                _ => {
                    let m = format!("The attachment ID '{attachment_id}' does not exist");
                    return Err(err("InvalidAttachmentID.NotFound", m));
                }
            },
        }
        w.writes
            .push((Op::Modify, interface_id.into(), String::new()));
        published(&mut w, &[&interface_id.to_string()]);
        Ok(())
    }

    async fn create_tags(&self, resource_ids: &[String], tags: &Tags) -> Result<(), AwsError> {
        self.create_tags_now(resource_ids, tags).await
    }

    async fn delete_tags(&self, resource_ids: &[String], keys: &[String]) -> Result<(), AwsError> {
        self.delete_tags_now(resource_ids, keys).await
    }

    async fn describe_addresses(&self, query: &AddressQuery) -> Result<Vec<Address>, AwsError> {
        self.describe_addresses_now(query).await
    }

    async fn allocate_address(&self, new: &NewAddress) -> Result<Address, AwsError> {
        self.allocate_address_now(new).await
    }

    async fn associate_address(
        &self,
        allocation_id: &str,
        interface_id: &str,
        private_ip: &str,
    ) -> Result<String, AwsError> {
        self.associate_address_now(allocation_id, interface_id, private_ip)
            .await
    }

    async fn disassociate_address(&self, association_id: &str) -> Result<(), AwsError> {
        self.disassociate_address_now(association_id).await
    }

    async fn release_address(&self, allocation_id: &str) -> Result<(), AwsError> {
        self.release_address_now(allocation_id).await
    }

    async fn describe_volumes(&self, query: &VolumeQuery) -> Result<Vec<Volume>, AwsError> {
        self.describe_volumes_now(query).await
    }

    async fn create_volume(&self, new: &NewVolume) -> Result<Volume, AwsError> {
        self.create_volume_now(new).await
    }

    async fn attach_volume(
        &self,
        volume_id: &str,
        instance_id: &str,
        device: &str,
    ) -> Result<(), AwsError> {
        self.attach_volume_now(volume_id, instance_id, device).await
    }

    async fn detach_volume(&self, volume_id: &str, instance_id: &str) -> Result<(), AwsError> {
        self.detach_volume_now(volume_id, instance_id).await
    }

    async fn delete_volume(&self, volume_id: &str) -> Result<(), AwsError> {
        self.delete_volume_now(volume_id).await
    }

    fn calls(&self) -> CallCounts {
        self.calls.snapshot()
    }

    fn throttled(&self) -> u64 {
        self.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// Makes what a write changed (`ids`: interfaces and instances) visible
/// to the reads that come later than their lag.
fn published(w: &mut World, ids: &[&String]) {
    super::publish_ids(w, ids, Instant::now());
}
