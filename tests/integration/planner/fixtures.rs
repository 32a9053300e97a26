//! The planner tables' fixtures: instances, members and attachments as
//! EC2 reads them, and a plan rendered one line per step.

use network_interface_manager::ec2::{
    Attachment, AttachmentStatus, Instance, InstanceInterface, InstanceState, InterfaceStatus,
    NetworkInterface, POOL_TAG,
};
use network_interface_manager::pool::model::{Action, Plan, Snapshot};
use network_interface_manager::pool::plan::plan;

use crate::support::strict::az_of;

pub(super) fn instance(
    id: &str,
    pool: Option<&str>,
    subnet: &str,
    state: InstanceState,
) -> Instance {
    Instance {
        id: id.into(),
        state,
        availability_zone: az_of(subnet),
        subnet_id: Some(subnet.into()),
        vpc_id: Some("vpc-1".into()),
        tags: pool
            .map(|p| (POOL_TAG.to_string(), p.to_string()))
            .into_iter()
            .collect(),
        interfaces: vec![iface(&format!("eni-primary-{id}"), 0)],
        launched_at: None,
        group: None,
        hibernated: false,
    }
}

pub(super) fn iface(id: &str, device_index: i32) -> InstanceInterface {
    InstanceInterface {
        interface_id: id.into(),
        device_index,
        network_card_index: 0,
    }
}

pub(super) fn member(id: &str, pool: &str, subnet: &str) -> NetworkInterface {
    NetworkInterface {
        id: id.into(),
        availability_zone: az_of(subnet),
        subnet_id: subnet.into(),
        vpc_id: "vpc-1".into(),
        private_ip: None,
        public_ip: None,
        status: InterfaceStatus::Available,
        requester_managed: false,
        security_groups: vec![],
        description: String::new(),
        source_dest_check: true,
        tags: [(POOL_TAG.to_string(), pool.to_string())].into(),
        attachment: None,
        interface_type: "interface".into(),
    }
}

/// `m` attached to `holder` at `index` (the instance lists it too).
pub(super) fn attach(
    mut m: NetworkInterface,
    holder: &mut Instance,
    index: i32,
) -> NetworkInterface {
    m.status = InterfaceStatus::InUse;
    m.attachment = Some(Attachment {
        id: format!("att-{}", m.id),
        instance_id: holder.id.clone(),
        device_index: index,
        network_card_index: 0,
        status: AttachmentStatus::Attached,
        delete_on_termination: false,
        attached_at: None,
    });
    holder.interfaces.push(iface(&m.id, index));
    m
}

/// The plan in one line per step, for tables.
pub(super) fn render(plan: &Plan) -> Vec<String> {
    let mut lines: Vec<String> = plan
        .actions
        .iter()
        .map(|a| match a {
            Action::Detach(d) => format!("detach {} from {}", d.interface_id, d.instance_id),
            Action::KeepOnTermination(k) => format!("keep {} on {}", k.interface_id, k.instance_id),
            Action::Attach(a) => {
                let c = &a.candidates[0];
                let after = match &c.freed_from {
                    Some(from) => format!(" once free from {from}"),
                    None => String::new(),
                };
                format!(
                    "attach {} to {} at {}{after}",
                    c.interface_id, a.instance_id, a.device_index
                )
            }
            Action::Identify(i) if i.tags.is_empty() => format!("unidentify {}", i.instance_id),
            Action::Identify(i) => {
                let tags: Vec<&str> = i.tags.values().map(String::as_str).collect();
                format!("identify {} as {}", i.instance_id, tags.join(" "))
            }
            Action::DetachVolume(d) => format!("detach {} from {}", d.volume_id, d.instance_id),
            Action::AttachVolume(a) => {
                let v = &a.volume;
                let after = match &v.freed_from {
                    Some(from) => format!(" once free from {from}"),
                    None => String::new(),
                };
                format!(
                    "attach {} to {} at {}{after}",
                    v.volume_id, a.instance_id, v.device
                )
            }
        })
        .collect();

    for s in &plan.shortages {
        lines.push(format!(
            "short {} {} {:?}",
            s.pool, s.availability_zone, s.instance_ids
        ));
    }
    for u in &plan.unusable {
        lines.push(format!("unusable {}", u.interface_id));
    }
    lines
}

pub(super) fn case(
    name: &str,
    members: Vec<NetworkInterface>,
    instances: Vec<Instance>,
    want: &[&str],
) {
    let snapshot = Snapshot {
        members,
        instances,
        ..Snapshot::default()
    };
    assert_eq!(render(&plan(&snapshot)), want, "case: {name}");
}
