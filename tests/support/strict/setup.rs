//! What a test does to the world: the instances and interfaces it sets up
//! before its story (settled: every read sees them), and what happens during
//! the story (state and tag changes, launches: the reads lag behind them).

use std::time::Duration;

use tokio::time::Instant;

use network_interface_manager::ec2::{
    Attachment, AttachmentStatus, Instance, InstanceInterface, InstanceState, InterfaceStatus,
    Tags, POOL_TAG,
};

use super::{
    az_of, epoch_ms, free_ip, interface, mac, primary_ip, publish, settle, settle_visible, vpc_of,
    Eni, Op, StrictEc2, World,
};

impl StrictEc2 {
    /// A running instance in `subnet`, tagged into `pool` when given;
    /// settled (launched before the story began).
    pub fn launch(&self, pool: Option<&str>, subnet: &str) -> String {
        let mut w = self.world.lock().unwrap();
        let id = new_instance(&mut w, pool, subnet, InstanceState::Running);
        settle_visible(&mut w);
        id
    }

    /// An instance launched now: `pending` for `boot`, then `running`; the
    /// reads lag behind it like any other write.
    pub fn launch_booting(&self, pool: Option<&str>, subnet: &str, boot: Duration) -> String {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let id = new_instance(&mut w, pool, subnet, InstanceState::Pending);
        w.booting.insert(id.clone(), Instant::now() + boot);
        publish(&mut w, Instant::now());
        settle(&mut w);
        id
    }

    /// `n` running instances of `pool` and `n` free members, in `subnet`,
    /// settled at once (the benchmarks' large fleets).
    pub fn add_fleet(&self, pool: &str, subnet: &str, n: usize) -> Vec<String> {
        let mut w = self.world.lock().unwrap();
        let mut instances = Vec::new();
        for _ in 0..n {
            let id = Self::id(&mut w, "eni");
            let ip = free_ip(&mut w, subnet);
            let tags = [(POOL_TAG.to_string(), pool.to_string())].into();
            let iface = interface(&id, subnet, ip, tags);
            let settles_at = None;
            let mac = mac(&mut w);
            w.enis.insert(
                id,
                Eni {
                    iface,
                    mac,
                    settles_at,
                },
            );
            instances.push(new_instance(
                &mut w,
                Some(pool),
                subnet,
                InstanceState::Running,
            ));
        }
        settle_visible(&mut w);
        instances
    }

    /// A free member of `pool` in `subnet`.
    pub fn add_member(&self, pool: &str, subnet: &str) -> String {
        self.add_interface(subnet, [(POOL_TAG, pool)])
    }

    /// An interface with the given tags, settled.
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
        let ip = free_ip(&mut w, subnet);
        let iface = interface(&id, subnet, ip, tags);
        let mac = mac(&mut w);
        w.enis.insert(
            id.clone(),
            Eni {
                iface,
                mac,
                settles_at: None,
            },
        );
        settle_visible(&mut w);
        id
    }

    /// An interface attached to `instance` when it was launched (a launch
    /// template's), settled: DeleteOnTermination as the template said.
    pub fn add_launch_interface<'a>(
        &self,
        instance: &str,
        tags: impl IntoIterator<Item = (&'a str, &'a str)>,
        device_index: i32,
        network_card_index: i32,
        delete_on_termination: bool,
    ) -> String {
        let subnet = self.world.lock().unwrap().instances[instance]
            .subnet_id
            .clone()
            .unwrap();
        let eni = self.add_interface(&subnet, tags);
        let mut w = self.world.lock().unwrap();
        let attachment = Attachment {
            id: format!("eni-attach-{eni}"),
            instance_id: instance.into(),
            device_index,
            network_card_index,
            status: AttachmentStatus::Attached,
            delete_on_termination,
            attached_at: w.instances[instance].launched_at,
        };
        let e = w.enis.get_mut(&eni).unwrap();
        e.iface.status = InterfaceStatus::InUse;
        e.iface.attachment = Some(attachment);
        w.instances
            .get_mut(instance)
            .unwrap()
            .interfaces
            .push(InstanceInterface {
                interface_id: eni.clone(),
                device_index,
                network_card_index,
            });
        settle_visible(&mut w);
        eni
    }

    /// Marks an interface as owned by another AWS service (settled).
    pub fn set_requester_managed(&self, eni: &str) {
        let mut w = self.world.lock().unwrap();
        w.enis.get_mut(eni).unwrap().iface.requester_managed = true;
        settle_visible(&mut w);
    }

    /// Gives an interface another type (`efa`, `trunk`, ...), settled.
    pub fn set_interface_type(&self, eni: &str, interface_type: &str) {
        let mut w = self.world.lock().unwrap();
        w.enis.get_mut(eni).unwrap().iface.interface_type = interface_type.into();
        settle_visible(&mut w);
    }

    /// Changes an instance's state as EC2 would, now (the reads lag).
    /// Termination starts EC2's own detach of its secondary interfaces; a
    /// start sets the launch time anew.
    pub fn set_state(&self, instance: &str, state: InstanceState) {
        let (transition, detach_for) = {
            let f = self.faults.lock().unwrap();
            (f.volume_transition, f.termination_detach)
        };
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let now = Instant::now();
        let i = w.instances.get_mut(instance).unwrap();
        if state == InstanceState::Running && i.state != InstanceState::Running {
            i.launched_at = Some(epoch_ms());
        }
        i.state = state;
        i.hibernated = false;
        super::volumes::stopped_or_gone(&mut w, instance, state, (transition, detach_for));
        if state == InstanceState::Terminated {
            for eni in w.enis.values_mut() {
                let Some(a) = eni.iface.attachment.as_mut() else {
                    continue;
                };
                if a.instance_id == instance && !a.is_primary() && !a.is_detaching() {
                    a.status = AttachmentStatus::Detaching;
                    eni.iface.status = InterfaceStatus::InUse;
                    eni.settles_at = Some(now + detach_for);
                }
            }
        }
        publish(&mut w, now);
        settle(&mut w);
    }

    /// Hibernates a running instance [EC2-HIB]: `stopped`, with the state
    /// reason `Client.UserInitiatedHibernate`; its volumes and interfaces
    /// stay attached, as on a stop. `set_state(Running)` resumes it.
    pub fn hibernate(&self, instance: &str) {
        self.set_state(instance, InstanceState::Stopped);
        let mut w = self.world.lock().unwrap();
        w.instances.get_mut(instance).unwrap().hibernated = true;
        publish(&mut w, Instant::now());
    }

    /// Sets or removes an instance tag, now (the reads lag).
    pub fn set_tag(&self, instance: &str, key: &str, value: Option<&str>) {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let tags = &mut w.instances.get_mut(instance).unwrap().tags;
        match value {
            Some(v) => tags.insert(key.into(), v.into()),
            None => tags.remove(key),
        };
        publish(&mut w, Instant::now());
    }

    /// Sets a tag on an interface, settled (set before the story).
    pub fn tag_interface(&self, eni: &str, key: &str, value: &str) {
        let mut w = self.world.lock().unwrap();
        let tags = &mut w.enis.get_mut(eni).unwrap().iface.tags;
        tags.insert(key.into(), value.into());
        settle_visible(&mut w);
    }

    /// When an instance was launched (epoch milliseconds), settled.
    pub fn set_launched_at(&self, instance: &str, at: u64) {
        let mut w = self.world.lock().unwrap();
        w.instances.get_mut(instance).unwrap().launched_at = Some(at);
        settle_visible(&mut w);
    }

    /// From now on every read, by id or filtered, misses at least the last
    /// `behind` of writes.
    /// Every call takes `latency`, no more, no less: round trips are
    /// counted on a steady line.
    pub fn steady_latency(&self, latency: Duration) {
        let mut f = self.faults.lock().unwrap();
        f.latency = latency;
        f.jitter = Duration::ZERO;
    }

    pub fn reads_lag(&self, behind: Duration) {
        let mut f = self.faults.lock().unwrap();
        (f.read_lag, f.read_lag_floor) = (behind, behind);
        (f.filter_lag, f.filter_lag_floor) = (behind, behind);
    }

    /// Makes the next call of `op` fail with `code`.
    pub fn fail_next(&self, op: Op, code: &str, message: &str) {
        let mut f = self.faults.lock().unwrap();
        f.next
            .entry(op)
            .or_default()
            .push_back((code.into(), message.into()));
    }
}

/// A new instance with its primary interface, in the true world only.
pub(super) fn new_instance(
    w: &mut World,
    pool: Option<&str>,
    subnet: &str,
    state: InstanceState,
) -> String {
    let id = StrictEc2::id(w, "i");
    let primary = StrictEc2::id(w, "eni");
    let mut tags = Tags::new();
    if let Some(pool) = pool {
        tags.insert(POOL_TAG.into(), pool.into());
    }
    let launched_at = Some(epoch_ms());
    let instance = Instance {
        id: id.clone(),
        state,
        availability_zone: az_of(subnet),
        subnet_id: Some(subnet.into()),
        vpc_id: Some(vpc_of(subnet).into()),
        tags,
        interfaces: vec![InstanceInterface {
            interface_id: primary.clone(),
            device_index: 0,
            network_card_index: 0,
        }],
        launched_at,
        group: None,
        hibernated: false,
    };
    let ip = primary_ip(w);
    let mut eni = interface(&primary, subnet, ip, Tags::new());
    eni.status = InterfaceStatus::InUse;
    eni.attachment = Some(Attachment {
        id: format!("eni-attach-{primary}"),
        instance_id: id.clone(),
        device_index: 0,
        network_card_index: 0,
        status: AttachmentStatus::Attached,
        // Guess: a primary interface made at launch goes with its instance.
        delete_on_termination: true,
        attached_at: launched_at,
    });
    let mac = mac(w);
    w.enis.insert(
        primary,
        Eni {
            iface: eni,
            mac,
            settles_at: None,
        },
    );
    w.instances.insert(id.clone(), instance);
    id
}
