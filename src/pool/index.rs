//! R3: the device index a pool's member takes on an instance.

use std::collections::BTreeSet;

use super::model::DEFAULT_DEVICE_INDEX;
use crate::ec2::{Instance, NetworkInterface, DEVICE_INDEX_TAG};

/// The device index a member asks for (tag, else the default). A pool whose
/// members disagree uses the lowest index any of them asks for (R3).
pub fn pool_device_index(member: &NetworkInterface) -> i32 {
    member
        .tags
        .get(DEVICE_INDEX_TAG)
        .and_then(|v| v.trim().parse().ok())
        .filter(|i: &i32| *i >= 1)
        .unwrap_or(DEFAULT_DEVICE_INDEX)
}

/// R3: the preferred index when free on network card 0, else the lowest free
/// one from 1. An index whose interface is `leaving` counts as free: the
/// attach waits for it (R11), so that every invocation picks the same index.
pub fn device_index(instance: &Instance, preferred: i32, leaving: &BTreeSet<&str>) -> i32 {
    let free = |i: i32| instance.occupant(i).is_none_or(|o| leaving.contains(o));
    if free(preferred) {
        return preferred;
    }
    (1..).find(|&i| free(i)).expect("an index is free")
}
