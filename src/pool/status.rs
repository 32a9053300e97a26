//! What `status` shows: every pool, its members and holders, its waiting
//! instances and shortages; and the gauges a sync leaves. Pure: computed
//! from a snapshot.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::model::{Shortage, Snapshot, StrandedVolume};
use super::plan;
use super::report::Report;
use super::volumes::Volumes;
use crate::ec2::{
    ordinal, InterfaceStatus, NetworkInterface, Volume, CLAIMS_TAG, FORMER_POOL_TAG, ORDINAL_TAG,
    OWNER_TAG, STACK_TAG, TOUCHED_TAG,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PoolStatus {
    pub pool: String,
    pub members: Vec<Member>,
    /// Running pool instances holding no member.
    pub waiting: Vec<Waiting>,
    /// Waiting instances with no free member in their AZ.
    pub shortages: Vec<Shortage>,
    /// Members' data volumes that cannot go to their holders now (R27).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stranded: Vec<StrandedVolume>,
    /// The name before its last rename: instances carrying it are served
    /// by this pool (R25).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub former_name: Option<String>,
    /// The pool declarations (custom resources) its members come from.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub declared_by: Vec<Declaration>,
}

/// A custom resource that declared members of a pool, and what
/// CloudFormation says of its stack (read when the caller can); or a
/// declaration by invocation (no stack, C15).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Declaration {
    pub physical_id: String,
    /// Empty for a declaration by invocation.
    pub stack_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack_status: Option<String>,
    /// Its stack is deleted and kept it (`DeletionPolicy: Retain`): served
    /// like a pool tagged by hand, never removed (C13).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub retained: bool,
    /// A declaration by invocation: how many declarations claim the pool
    /// (C18; one before claims were counted).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub claims: Option<u32>,
    /// A declaration by invocation: the last touch (`<time> <step>
    /// <fingerprint>`), to find a pool no configuration names (C18).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub touched: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Member {
    pub interface_id: String,
    /// Its ordinal, the seat it is in a cluster (C16, R26).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ordinal: Option<u8>,
    pub availability_zone: String,
    pub subnet_id: String,
    pub private_ip: Option<String>,
    /// Its Elastic IP, which follows it from holder to holder (C14).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_ip: Option<String>,
    pub status: InterfaceStatus,
    pub holder: Option<Holder>,
    /// Its data volumes, one per device it lists (R27).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<MemberVolume>,
}

/// A member's data volume and where it is (R27).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MemberVolume {
    pub device: String,
    /// `None`: not read (yet).
    pub volume_id: Option<String>,
    /// EC2's state of it (`available`, `in-use`, ...), or `missing`.
    pub state: String,
    /// The instance it is attached to, and how (`attached`, `busy`, ...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
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

/// C18: what a member of a pool declared by invocation says of its
/// claims (the largest count, one where none is written) and its latest
/// touch (the tag starts with its time: the greatest is the latest, but
/// within a second; one write touches every member alike).
fn invocation_standing(d: &mut Declaration, member: &NetworkInterface) {
    let count = member.tags.get(CLAIMS_TAG).and_then(|c| c.parse().ok());
    d.claims = d.claims.max(count).or(Some(1));
    let touched = member.tags.get(TOUCHED_TAG).cloned();
    d.touched = d.touched.take().max(touched);
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
            stranded: Vec::new(),
            former_name: None,
            declared_by: Vec::new(),
        });
    };
    let volumes = Volumes::new(snapshot);
    for m in &snapshot.members {
        let Some(name) = m.pool() else { continue };
        entry(&mut pools, name);
        let pool = pools.get_mut(name).unwrap();
        if let Some(former) = m.tags.get(FORMER_POOL_TAG) {
            pool.former_name = Some(former.clone());
        }
        if let Some(owner) = m.tags.get(OWNER_TAG) {
            let stack = m.tags.get(STACK_TAG).cloned().unwrap_or_default();
            let known = pool.declared_by.iter().any(|d| &d.physical_id == owner);
            if !known {
                pool.declared_by.push(Declaration {
                    physical_id: owner.clone(),
                    stack_id: stack,
                    stack_status: None,
                    retained: false,
                    claims: None,
                    touched: None,
                });
            }
            let by = pool
                .declared_by
                .iter_mut()
                .find(|d| &d.physical_id == owner);
            if let Some(d) = by.filter(|d| d.stack_id.is_empty()) {
                invocation_standing(d, m);
            }
        }
        pool.members.push(Member {
            interface_id: m.id.clone(),
            ordinal: m.tags.get(ORDINAL_TAG).and_then(|o| ordinal(o)),
            availability_zone: m.availability_zone.clone(),
            subnet_id: m.subnet_id.clone(),
            private_ip: m.private_ip.clone(),
            public_ip: m.public_ip.clone(),
            status: m.status,
            holder: m.attachment.as_ref().map(|a| Holder {
                instance_id: a.instance_id.clone(),
                device_index: a.device_index,
            }),
            volumes: volumes.of(m).into_iter().map(member_volume).collect(),
        });
    }
    for (placement, waiters) in &plan::survey(snapshot).waiting {
        let name = placement.pool.as_str();
        entry(&mut pools, name);
        for i in waiters {
            pools.get_mut(name).unwrap().waiting.push(Waiting {
                instance_id: i.id.clone(),
                availability_zone: i.availability_zone.clone(),
                subnet_id: i.subnet_id.clone(),
            });
        }
    }
    let plan = plan::plan(snapshot);
    for shortage in plan.shortages {
        if let Some(p) = pools.get_mut(&shortage.pool) {
            p.shortages.push(shortage);
        }
    }
    for stranded in plan.stranded {
        if let Some(p) = pools.get_mut(&stranded.pool) {
            p.stranded.push(stranded);
        }
    }
    for p in pools.values_mut() {
        p.members
            .sort_by(|a, b| a.interface_id.cmp(&b.interface_id));
        p.waiting.sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    }
    pools.into_values().collect()
}

fn member_volume((device, volume): (&str, Option<&Volume>)) -> MemberVolume {
    let attached_to = volume
        .and_then(|v| v.attachment.as_ref())
        .map(|a| format!("{} ({})", a.instance_id, a.status.as_str()));
    MemberVolume {
        device: device.to_string(),
        volume_id: volume.map(|v| v.id.clone()),
        state: volume.map_or("missing".into(), |v| v.status.as_str().into()),
        attached_to,
    }
}

/// The gauges of one pool in one Availability Zone, as a sync leaves it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Gauge {
    pub pool: String,
    pub availability_zone: String,
    /// Usable members (R5, R15).
    pub members: u32,
    /// Members no instance holds, free now or once detached.
    pub free: u32,
    /// Members a running instance holds.
    pub held: u32,
    /// Running pool instances left holding nothing.
    pub waiting: u32,
    /// Members still held by an instance due to leave (R28): no instance
    /// waited to take them.
    pub at_risk: u32,
}

/// What a sync read, with what it did applied: the sync's gauges.
pub fn census(snapshot: &Snapshot, report: &Report) -> Vec<Gauge> {
    let attached: BTreeSet<&str> = report
        .attached
        .iter()
        .map(|a| a.interface_id.as_str())
        .collect();
    let detached: BTreeSet<&str> = report
        .detached
        .iter()
        .map(|d| d.interface_id.as_str())
        .collect();
    let due_to_leave: BTreeSet<&str> = snapshot
        .instances
        .iter()
        .filter(|i| i.due_to_leave().is_some())
        .map(|i| i.id.as_str())
        .collect();
    let mut gauges: BTreeMap<(String, String), Gauge> = BTreeMap::new();
    for m in snapshot.members.iter().filter(|m| plan::is_usable(m)) {
        let pool = m.pool().expect("usable members have a pool");
        let g = gauge(&mut gauges, pool, &m.availability_zone);
        g.members += 1;
        let holding = m.attachment.as_ref().is_some_and(|a| !a.is_detaching());
        let held =
            attached.contains(m.id.as_str()) || (holding && !detached.contains(m.id.as_str()));
        let leaving = detached.contains(m.id.as_str()) || m.attachment.is_some();
        let due = m
            .attachment
            .as_ref()
            .and_then(|a| due_to_leave.get(a.instance_id.as_str()));
        if held && due.is_some() && !detached.contains(m.id.as_str()) {
            g.at_risk += 1;
        }
        if held {
            g.held += 1;
        } else if m.status == InterfaceStatus::Available || leaving {
            g.free += 1;
        }
    }
    let zone_of: BTreeMap<&str, &str> = snapshot
        .instances
        .iter()
        .map(|i| (i.id.as_str(), i.availability_zone.as_str()))
        .collect();
    for s in &report.shortages {
        gauge(&mut gauges, &s.pool, &s.availability_zone).waiting += s.instance_ids.len() as u32;
    }
    for f in report.failed.iter().filter(|f| f.interface_id.is_none()) {
        if let Some(az) = zone_of.get(f.instance_id.as_str()) {
            gauge(&mut gauges, &f.pool, az).waiting += 1;
        }
    }
    gauges.into_values().collect()
}

fn gauge<'g>(
    gauges: &'g mut BTreeMap<(String, String), Gauge>,
    pool: &str,
    az: &str,
) -> &'g mut Gauge {
    let key = (pool.to_string(), az.to_string());
    gauges.entry(key).or_insert_with(|| Gauge {
        pool: pool.to_string(),
        availability_zone: az.to_string(),
        ..Gauge::default()
    })
}
