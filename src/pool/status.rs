//! What `status` shows: every pool, its members and holders, its waiting
//! instances and shortages. Pure: computed from a snapshot.

use std::collections::BTreeMap;

use serde::Serialize;

use super::plan::{self, Shortage, Snapshot};
use crate::ec2::InterfaceStatus;

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PoolStatus {
    pub pool: String,
    pub members: Vec<Member>,
    /// Running pool instances holding no member.
    pub waiting: Vec<Waiting>,
    /// Waiting instances with no free member in their AZ.
    pub shortages: Vec<Shortage>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Member {
    pub interface_id: String,
    pub availability_zone: String,
    pub subnet_id: String,
    pub private_ip: Option<String>,
    pub status: InterfaceStatus,
    pub holder: Option<Holder>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Holder {
    pub instance_id: String,
    pub device_index: i32,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Waiting {
    pub instance_id: String,
    pub availability_zone: String,
    pub subnet_id: Option<String>,
}

/// The status of every pool in the snapshot, by name.
pub fn status(snapshot: &Snapshot) -> Vec<PoolStatus> {
    let mut pools: BTreeMap<String, PoolStatus> = BTreeMap::new();
    let entry = |pools: &mut BTreeMap<String, PoolStatus>, name: &str| {
        pools.entry(name.to_string()).or_insert_with(|| PoolStatus {
            pool: name.to_string(),
            members: Vec::new(),
            waiting: Vec::new(),
            shortages: Vec::new(),
        });
    };
    for m in &snapshot.members {
        let Some(name) = m.pool() else { continue };
        entry(&mut pools, name);
        pools.get_mut(name).unwrap().members.push(Member {
            interface_id: m.id.clone(),
            availability_zone: m.availability_zone.clone(),
            subnet_id: m.subnet_id.clone(),
            private_ip: m.private_ip.clone(),
            status: m.status,
            holder: m.attachment.as_ref().map(|a| Holder {
                instance_id: a.instance_id.clone(),
                device_index: a.device_index,
            }),
        });
    }
    for waiters in plan::survey(snapshot).waiting.values() {
        for i in waiters {
            let name = i.pool().expect("waiting instances are in a pool");
            entry(&mut pools, name);
            pools.get_mut(name).unwrap().waiting.push(Waiting {
                instance_id: i.id.clone(),
                availability_zone: i.availability_zone.clone(),
                subnet_id: i.subnet_id.clone(),
            });
        }
    }
    for shortage in plan::plan(snapshot).shortages {
        if let Some(p) = pools.get_mut(&shortage.pool) {
            p.shortages.push(shortage);
        }
    }
    for p in pools.values_mut() {
        p.members
            .sort_by(|a, b| a.interface_id.cmp(&b.interface_id));
        p.waiting.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    }
    pools.into_values().collect()
}
