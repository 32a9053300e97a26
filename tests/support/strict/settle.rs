//! Time passing in the model: transitions finish when their time comes, and
//! become visible to reads after their lag [EC2-EC].

use tokio::time::Instant;

use network_interface_manager::ec2::{AttachmentStatus, InstanceState, InterfaceStatus};

use super::clock::{Seen, Truth};
use super::World;

/// Finishes, in time order, the transitions whose time has come: each is
/// published at the moment it happened, so lagging reads see it in order.
pub(super) fn settle(w: &mut World) {
    let now = Instant::now();
    loop {
        let eni = w
            .enis
            .iter()
            .filter_map(|(id, e)| Some((e.settles_at?, id.clone())))
            .min();
        let boot = w.booting.iter().map(|(id, t)| (*t, id.clone())).min();
        let volume = w
            .volumes
            .iter()
            .filter_map(|(id, d)| Some((d.settles_at?, id.clone())))
            .min();
        let next = [
            eni.map(|(at, id)| (at, Next::Interface, id)),
            boot.map(|(at, id)| (at, Next::Boot, id)),
            volume.map(|(at, id)| (at, Next::Volume, id)),
        ]
        .into_iter()
        .flatten()
        .min();
        let Some((at, next, id)) = next.filter(|n| n.0 <= now) else {
            return;
        };
        match next {
            Next::Interface => settle_interface(w, &id, at),
            Next::Volume => super::volumes::settle_volume(w, &id, at),
            Next::Boot => {
                w.booting.remove(&id);
                if let Some(i) = w.instances.get_mut(&id) {
                    if i.state == InstanceState::Pending {
                        i.state = InstanceState::Running;
                    }
                }
                publish_ids(w, &[&id], at);
            }
        }
    }
}

/// What finishes next: the order breaks ties between transitions due at
/// the same moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Next {
    Interface,
    Boot,
    Volume,
}

fn settle_interface(w: &mut World, id: &str, at: Instant) {
    let eni = w.enis.get_mut(id).unwrap();
    eni.settles_at = None;
    let mut detached = None;
    match (eni.iface.status, eni.iface.attachment.as_mut()) {
        (InterfaceStatus::Pending, _) => eni.iface.status = InterfaceStatus::Available,
        (_, Some(a)) if a.status == AttachmentStatus::Attaching => {
            a.status = AttachmentStatus::Attached;
            eni.iface.status = InterfaceStatus::InUse;
        }
        (_, Some(a)) if a.is_detaching() => {
            let a = eni.iface.attachment.take().unwrap();
            eni.iface.status = InterfaceStatus::Available;
            detached = Some(a);
        }
        _ => {}
    }
    let id = id.to_string();
    let mut holder = None;
    if let Some(a) = detached {
        let terminated = w
            .instances
            .get(&a.instance_id)
            .is_some_and(|i| i.state == InstanceState::Terminated);
        if let Some(i) = w.instances.get_mut(&a.instance_id) {
            i.interfaces.retain(|n| n.interface_id != id);
        }
        // EC2 deletes what was to go with its instance [EC2-MOD].
        if terminated && a.delete_on_termination {
            w.enis.remove(&id);
        }
        holder = Some(a.instance_id);
    }
    let changed: Vec<&String> = [Some(&id), holder.as_ref()].into_iter().flatten().collect();
    publish_ids(w, &changed, at);
}

/// The model's state, apart from what the reads saw of it.
fn split(w: &mut World) -> (&mut Seen, Truth<'_>) {
    let World {
        enis,
        instances,
        addresses,
        volumes,
        seen,
        ..
    } = w;
    let truth = Truth {
        enis,
        instances,
        addresses,
        volumes,
    };
    (seen, truth)
}

/// Makes the true state visible to reads later than their lag.
pub(super) fn publish(w: &mut World, at: Instant) {
    let (seen, truth) = split(w);
    seen.publish(truth, at);
}

/// The same, for the objects a write changed (`ids`: interfaces,
/// instances, addresses).
pub(super) fn publish_ids(w: &mut World, ids: &[&String], at: Instant) {
    let (seen, truth) = split(w);
    seen.publish_ids(truth, ids.iter().copied(), at);
}

/// Makes what the test set up visible to every read.
pub(super) fn settle_visible(w: &mut World) {
    let (seen, truth) = split(w);
    seen.settle_all(truth);
}
