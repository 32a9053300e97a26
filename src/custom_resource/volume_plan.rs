//! What a declaration's data volumes take (C17), decided without I/O from
//! its members and the volumes it owns: one volume per member and entry.
//! Like interfaces (C12), a volume no longer declared is retired, left
//! where it is, so that a rollback finds it; one declared again is
//! reinstated.

use std::collections::BTreeSet;

use super::properties::{PoolProperties, VolumeSpec};
use crate::ec2::{Volume, DEVICE_TAG, POOL_TAG, RETIRED_TAG, SLOT_TAG};

/// A member of the declaration: where its volumes are made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VolumeMember {
    /// Its slot's key, or an adopted interface's id (`volume_key`).
    pub key: String,
    pub availability_zone: String,
}

/// The writes that give each member the volumes it is declared.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VolumePlan<'a> {
    /// A member and an entry without a volume: one is made.
    pub create: Vec<(&'a VolumeMember, &'a VolumeSpec)>,
    /// Retired volumes declared again (a rollback): back in the pool.
    pub reinstate: Vec<String>,
    /// The pool's volumes no longer declared (an entry or a member
    /// removed), and a member's second volume for an entry: retired.
    pub retire: Vec<String>,
    /// Kept volumes still tagged with the pool's name before a rename
    /// (R25): tagged with the new one.
    pub rename: Vec<String>,
}

pub fn plan<'a>(
    props: &'a PoolProperties,
    members: &'a [VolumeMember],
    owned: &[Volume],
) -> VolumePlan<'a> {
    let mut plan = VolumePlan::default();
    let mut kept = BTreeSet::new();
    let mut owned: Vec<&Volume> = owned.iter().collect();
    owned.sort_by(|a, b| a.id.cmp(&b.id));
    for member in members {
        for spec in &props.volumes {
            let is_its = |v: &&&Volume| {
                v.tags.get(SLOT_TAG) == Some(&member.key)
                    && v.tags.get(DEVICE_TAG) == Some(&spec.device_name)
            };
            // The one in use first; else a retired one, for the rollback.
            let retired = |v: &&&Volume| (v.tags.contains_key(RETIRED_TAG), v.id.clone());
            match owned.iter().filter(is_its).min_by_key(retired) {
                Some(v) => {
                    kept.insert(v.id.as_str());
                    if v.tags.get(POOL_TAG) != Some(&props.name) {
                        plan.rename.push(v.id.clone());
                    }
                    if v.tags.contains_key(RETIRED_TAG) {
                        plan.reinstate.push(v.id.clone());
                    }
                }
                None => plan.create.push((member, spec)),
            }
        }
    }
    let out = owned
        .iter()
        .filter(|v| !kept.contains(v.id.as_str()) && !v.tags.contains_key(RETIRED_TAG));
    plan.retire.extend(out.map(|v| v.id.clone()));
    plan
}
