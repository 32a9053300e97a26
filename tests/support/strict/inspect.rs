//! What the tests read back from the strict model, bypassing the `Ec2` trait.

use network_interface_manager::ec2::{
    Instance, InstanceState, InterfaceStatus, NetworkInterface, Tags,
};

use super::{settle, Eni, Op, StrictEc2};

impl StrictEc2 {
    /// The instance and device index an interface is attached to (and not
    /// being detached from).
    pub fn holder(&self, eni: &str) -> Option<(String, i32)> {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let a = w.enis.get(eni)?.iface.attachment.clone()?;
        (!a.is_detaching()).then_some((a.instance_id, a.device_index))
    }

    /// Lets minutes pass: every transition under way ends, and every read
    /// sees the world as it is then (the next schedule runs minutes later).
    pub fn settle_reads(&self) {
        let mut w = self.world.lock().unwrap();
        let now = tokio::time::Instant::now();
        for eni in w.enis.values_mut() {
            eni.settles_at = eni.settles_at.map(|t| t.min(now));
        }
        for t in w.booting.values_mut() {
            *t = (*t).min(now);
        }
        for disk in w.volumes.values_mut() {
            disk.settles_at = disk.settles_at.map(|t| t.min(now));
        }
        settle(&mut w);
        super::publish(&mut w, tokio::time::Instant::now());
        w.seen.catch_up();
    }

    pub fn status(&self, eni: &str) -> InterfaceStatus {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        w.enis[eni].iface.status
    }

    pub fn instance_state(&self, instance: &str) -> InstanceState {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        w.instances[instance].state
    }

    pub fn instance_pool(&self, instance: &str) -> Option<String> {
        let w = self.world.lock().unwrap();
        w.instances[instance].pool().map(str::to_string)
    }

    /// An instance's tags, as they truly are.
    pub fn instance_tags(&self, instance: &str) -> Tags {
        let w = self.world.lock().unwrap();
        w.instances
            .get(instance)
            .map(|i| i.tags.clone())
            .unwrap_or_default()
    }

    pub fn all_instances(&self) -> Vec<Instance> {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        w.instances.values().cloned().collect()
    }

    /// The interface's MAC address (it never changes).
    pub fn mac_of(&self, eni: &str) -> String {
        self.world.lock().unwrap().enis[eni].mac.clone()
    }

    /// Whether the interface still exists.
    pub fn exists(&self, eni: &str) -> bool {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        w.enis.contains_key(eni)
    }

    /// Whether EC2 would delete the interface with its instance.
    pub fn deleted_on_termination(&self, eni: &str) -> bool {
        let w = self.world.lock().unwrap();
        let a = w.enis[eni].iface.attachment.as_ref();
        a.is_some_and(|a| a.delete_on_termination)
    }

    /// Non-primary members of `pool` attached to `instance` (not leaving).
    pub fn members_of_pool(&self, instance: &str, pool: &str) -> Vec<String> {
        self.attached(instance, Some(pool))
    }

    /// Non-primary members of any pool attached to `instance`.
    pub fn members_of(&self, instance: &str) -> Vec<String> {
        self.attached(instance, None)
    }

    /// Interfaces attached to `instance` whose attachment is done (not
    /// `attaching`): what an instance may boot on (R20).
    pub fn fully_attached(&self, instance: &str) -> Vec<String> {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let done = |e: &&Eni| {
            e.iface
                .attachment
                .as_ref()
                .is_some_and(|a| a.instance_id == instance && !a.is_primary() && a.is_attached())
        };
        w.enis
            .values()
            .filter(done)
            .map(|e| e.iface.id.clone())
            .collect()
    }

    fn attached(&self, instance: &str, pool: Option<&str>) -> Vec<String> {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        let on = |e: &&Eni| {
            e.iface
                .pool()
                .is_some_and(|p| pool.is_none_or(|want| want == p))
                && e.iface.attachment.as_ref().is_some_and(|a| {
                    a.instance_id == instance && !a.is_primary() && !a.is_detaching()
                })
        };
        w.enis
            .values()
            .filter(on)
            .map(|e| e.iface.id.clone())
            .collect()
    }

    /// The attachment id of an interface.
    pub fn attachment_of(&self, eni: &str) -> Option<String> {
        let w = self.world.lock().unwrap();
        Some(w.enis.get(eni)?.iface.attachment.as_ref()?.id.clone())
    }

    /// The primary interface of an instance.
    pub fn primary_of(&self, instance: &str) -> String {
        let w = self.world.lock().unwrap();
        let primary = w.instances[instance]
            .interfaces
            .iter()
            .find(|n| n.is_primary());
        primary.unwrap().interface_id.clone()
    }

    /// Every interface, for assertions.
    pub fn interfaces(&self) -> Vec<NetworkInterface> {
        let mut w = self.world.lock().unwrap();
        settle(&mut w);
        w.enis.values().map(|e| e.iface.clone()).collect()
    }

    /// Every successful write: (operation, interface, instance or "").
    pub fn writes(&self) -> Vec<(Op, String, String)> {
        self.world.lock().unwrap().writes.clone()
    }
}
