//! Eventual consistency [EC2-EC]: every version of every object, stamped
//! with the moment it was written, so that a read sees the world as it was
//! a while ago. Writes check the true state; only reads lag.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

use network_interface_manager::ec2::{Address, Instance, NetworkInterface, Volume};

use super::{Disk, Eni};

/// The model's true state, as the reads will come to see it.
#[derive(Clone, Copy)]
pub struct Truth<'a> {
    pub enis: &'a BTreeMap<String, Eni>,
    pub instances: &'a BTreeMap<String, Instance>,
    pub addresses: &'a BTreeMap<String, Address>,
    pub volumes: &'a BTreeMap<String, Disk>,
}

/// Versions of one object, oldest first; `None` once it is gone.
type History<T> = Vec<(Instant, Option<T>)>;

/// How long versions are kept past the newest: longer than any lag.
const KEEP: Duration = Duration::from_secs(30);

/// Now, in epoch milliseconds (launch and attach times).
pub fn epoch_ms() -> u64 {
    let since = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    since.as_millis() as u64
}

#[derive(Debug)]
pub struct Seen {
    enis: BTreeMap<String, History<NetworkInterface>>,
    instances: BTreeMap<String, History<Instance>>,
    addresses: BTreeMap<String, History<Address>>,
    volumes: BTreeMap<String, History<Volume>>,
    /// Before any read's cutoff: what is stamped here every read sees.
    origin: Instant,
}

impl Default for Seen {
    fn default() -> Self {
        let now = Instant::now();
        Self {
            enis: BTreeMap::new(),
            instances: BTreeMap::new(),
            addresses: BTreeMap::new(),
            volumes: BTreeMap::new(),
            origin: now.checked_sub(Duration::from_secs(60)).unwrap_or(now),
        }
    }
}

impl Seen {
    /// Stamps `at` on every object that differs from what reads last saw.
    pub fn publish(&mut self, truth: Truth, at: Instant) {
        publish(
            &mut self.enis,
            truth.enis.iter().map(|(k, e)| (k, &e.iface)),
            at,
        );
        publish(&mut self.instances, truth.instances.iter(), at);
        publish(&mut self.addresses, truth.addresses.iter(), at);
        publish(
            &mut self.volumes,
            truth.volumes.iter().map(|(k, d)| (k, &d.volume)),
            at,
        );
    }

    /// Stamps `at` on the objects named by `ids` that differ from what reads
    /// last saw (or are gone): a write knows what it changed, and comparing
    /// every object would make a large fleet quadratic.
    pub fn publish_ids<'a>(
        &mut self,
        truth: Truth,
        ids: impl IntoIterator<Item = &'a String>,
        at: Instant,
    ) {
        for id in ids {
            let eni = truth.enis.get(id).map(|e| &e.iface);
            stamp_if_changed(self.enis.entry(id.clone()).or_default(), eni, at);
            let instance = truth.instances.get(id);
            stamp_if_changed(self.instances.entry(id.clone()).or_default(), instance, at);
            let address = truth.addresses.get(id);
            stamp_if_changed(self.addresses.entry(id.clone()).or_default(), address, at);
            let volume = truth.volumes.get(id).map(|d| &d.volume);
            stamp_if_changed(self.volumes.entry(id.clone()).or_default(), volume, at);
        }
    }

    /// Every object as it is now, seen by every read: the world the test set
    /// up before its story.
    pub fn settle_all(&mut self, truth: Truth) {
        for (id, e) in truth.enis {
            let history = self.enis.entry(id.clone()).or_default();
            if history.last().and_then(|v| v.1.as_ref()) != Some(&e.iface) {
                *history = vec![(self.origin, Some(e.iface.clone()))];
            }
        }
        for (id, i) in truth.instances {
            let history = self.instances.entry(id.clone()).or_default();
            if history.last().and_then(|v| v.1.as_ref()) != Some(i) {
                *history = vec![(self.origin, Some(i.clone()))];
            }
        }
        for (id, a) in truth.addresses {
            let history = self.addresses.entry(id.clone()).or_default();
            if history.last().and_then(|v| v.1.as_ref()) != Some(a) {
                *history = vec![(self.origin, Some(a.clone()))];
            }
        }
        for (id, d) in truth.volumes {
            let history = self.volumes.entry(id.clone()).or_default();
            if history.last().and_then(|v| v.1.as_ref()) != Some(&d.volume) {
                *history = vec![(self.origin, Some(d.volume.clone()))];
            }
        }
    }

    /// Every read sees the last versions from now on.
    pub fn catch_up(&mut self) {
        let origin = self.origin;
        for history in self.enis.values_mut() {
            let last = history.pop().and_then(|v| v.1);
            *history = vec![(origin, last)];
        }
        for history in self.instances.values_mut() {
            let last = history.pop().and_then(|v| v.1);
            *history = vec![(origin, last)];
        }
        for history in self.addresses.values_mut() {
            let last = history.pop().and_then(|v| v.1);
            *history = vec![(origin, last)];
        }
        for history in self.volumes.values_mut() {
            let last = history.pop().and_then(|v| v.1);
            *history = vec![(origin, last)];
        }
    }

    /// The interfaces as a read with this cutoff sees them.
    pub fn interfaces(&self, cutoff: Instant) -> impl Iterator<Item = &NetworkInterface> {
        self.enis.values().filter_map(move |h| as_of(h, cutoff))
    }

    /// The addresses as a read with this cutoff sees them.
    pub fn addresses(&self, cutoff: Instant) -> impl Iterator<Item = &Address> {
        self.addresses
            .values()
            .filter_map(move |h| as_of(h, cutoff))
    }

    /// The volumes as a read with this cutoff sees them.
    pub fn volumes(&self, cutoff: Instant) -> impl Iterator<Item = &Volume> {
        self.volumes.values().filter_map(move |h| as_of(h, cutoff))
    }

    /// The instances as a read with this cutoff sees them.
    pub fn instances(&self, cutoff: Instant) -> impl Iterator<Item = &Instance> {
        self.instances
            .values()
            .filter_map(move |h| as_of(h, cutoff))
    }
}

fn as_of<T>(history: &History<T>, cutoff: Instant) -> Option<&T> {
    let known = history.partition_point(|(t, _)| *t <= cutoff);
    history[..known].last()?.1.as_ref()
}

fn publish<'a, T: Clone + PartialEq + 'a>(
    histories: &mut BTreeMap<String, History<T>>,
    truth: impl Iterator<Item = (&'a String, &'a T)>,
    at: Instant,
) {
    let mut present = Vec::new();
    for (id, now) in truth {
        present.push(id.clone());
        let history = histories.entry(id.clone()).or_default();
        if history.last().and_then(|v| v.1.as_ref()) != Some(now) {
            stamp(history, at, Some(now.clone()));
        }
    }
    for (id, history) in histories.iter_mut() {
        let exists = history.last().is_some_and(|v| v.1.is_some());
        if exists && present.binary_search(id).is_err() {
            stamp(history, at, None);
        }
    }
}

/// A change is never stamped before the version it follows (a boot that
/// ended before its own launch was published), or it would hide behind it.
fn stamp_if_changed<T: Clone + PartialEq>(history: &mut History<T>, now: Option<&T>, at: Instant) {
    let last = history.last();
    if last.map(|v| v.1.as_ref()) == Some(now) || (last.is_none() && now.is_none()) {
        return;
    }
    let at = last.map_or(at, |v| v.0.max(at));
    stamp(history, at, now.cloned());
}

/// Adds a version in time order and forgets those no read can reach.
fn stamp<T>(history: &mut History<T>, at: Instant, version: Option<T>) {
    let place = history.partition_point(|(t, _)| *t <= at);
    history.insert(place, (at, version));
    let Some(horizon) = at.checked_sub(KEEP) else {
        return;
    };
    let old = history.partition_point(|(t, _)| *t <= horizon);
    if old > 1 {
        history.drain(..old - 1);
    }
}
