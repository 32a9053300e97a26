//! C16: each member of a declared pool is a numbered seat, 1-255 (what
//! ZooKeeper's `myid` allows), kept on its interface (tag) for the life of
//! its slot. Decided without I/O.

use std::collections::{BTreeMap, BTreeSet};

use crate::ec2::{ordinal, NetworkInterface, ORDINAL_TAG};

/// The highest ordinal.
pub const MAX_ORDINAL: u8 = 255;

/// The ordinal of each member (`members`: its key, and its interface if it
/// has one), in order: the one its interface carries, unless an earlier
/// member carries it too; else the smallest that no interface of the
/// declaration carries, retired ones included, so that a rollback gets
/// its own back (C12).
pub fn assign(
    members: &[(&str, Option<&NetworkInterface>)],
    owned: &[NetworkInterface],
) -> Result<BTreeMap<String, u8>, String> {
    let carried = |i: &NetworkInterface| i.tags.get(ORDINAL_TAG).and_then(|o| ordinal(o));
    let in_declaration: BTreeSet<&str> = members
        .iter()
        .filter_map(|(_, i)| Some(i.as_ref()?.id.as_str()))
        .collect();
    let mut used: BTreeSet<u8> = owned
        .iter()
        .filter(|i| !in_declaration.contains(i.id.as_str()))
        .filter_map(carried)
        .collect();
    let mut ordinals = BTreeMap::new();
    let mut unnumbered = Vec::new();
    for (key, iface) in members {
        match iface.and_then(carried).filter(|n| used.insert(*n)) {
            Some(n) => {
                ordinals.insert(key.to_string(), n);
            }
            None => unnumbered.push(*key),
        }
    }
    let mut free = (1..=MAX_ORDINAL).filter(|n| !used.contains(n));
    for key in unnumbered {
        let n = free.next().ok_or_else(|| {
            format!(
                "no ordinal left for {key}: each of 1-{MAX_ORDINAL} is held by a member \
                 or a retired one (retired members go once the stack settles)"
            )
        })?;
        ordinals.insert(key.to_string(), n);
    }
    Ok(ordinals)
}
