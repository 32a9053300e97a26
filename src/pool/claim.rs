//! What an attach learns from EC2 when it is refused or must wait: who holds
//! the device index (R11), and when a freed member is free (R12).

use std::collections::BTreeSet;

use super::index::device_index;
use super::model::Attach;
use crate::aws::AwsError;
use crate::deadline::{Backoff, Deadline};
use crate::ec2::{Ec2, Instance, InstanceQuery, InterfaceQuery, InterfaceStatus, NetworkInterface};

/// Who holds the device index an attach was refused.
pub(super) enum Occupant {
    /// A member of the pool: the instance holds one already (another
    /// invocation won).
    Member,
    /// An interface being detached from the instance, or a member of
    /// another pool (which must leave, R4): wait for it.
    Leaving(String),
    /// An interface in no pool: the next free index.
    Other { next_index: i32 },
    /// The reads do not show it yet (or it left since).
    Unseen,
}

/// R11: reads the instance, then the interface at `index` by id.
pub(super) async fn occupant(ec2: &dyn Ec2, a: &Attach, index: i32) -> Result<Occupant, AwsError> {
    let instance = InstanceQuery::Ids(vec![a.instance_id.clone()]);
    let Some(instance) = ec2.describe_instances(&instance).await?.pop() else {
        return Ok(Occupant::Unseen);
    };
    let Some(occupant_id) = instance.occupant(index) else {
        return Ok(Occupant::Unseen);
    };
    let query = InterfaceQuery::ids(&[occupant_id.to_string()]);
    let eni = ec2.describe_interfaces(&query).await?.pop();
    Ok(identify(a, index, &instance, eni.as_ref()))
}

/// R11: who the occupant the instance lists at `index` is, by its own
/// read. Only when that read too shows it there does the attach move on
/// (or stop); a lagging read, or one that shows it elsewhere, never does.
fn identify(
    a: &Attach,
    index: i32,
    instance: &Instance,
    eni: Option<&NetworkInterface>,
) -> Occupant {
    let Some(eni) = eni else {
        return Occupant::Unseen;
    };
    let here = eni.attachment.as_ref().filter(|at| {
        at.instance_id == a.instance_id && at.device_index == index && !at.is_primary()
    });
    let Some(attachment) = here else {
        return Occupant::Unseen;
    };
    // A member of another pool must leave this instance too (R4).
    match eni.pool() {
        _ if attachment.is_detaching() => Occupant::Leaving(eni.id.clone()),
        Some(p) if p == a.pool => Occupant::Member,
        Some(_) => Occupant::Leaving(eni.id.clone()),
        None => Occupant::Other {
            next_index: device_index(instance, a.device_index, &BTreeSet::new()),
        },
    }
}

/// Waits until a member detached from `former` is `available`: `Some(true)`
/// then, `Some(false)` when it went elsewhere or vanished, `None` at the
/// deadline.
pub(super) async fn settled(
    ec2: &dyn Ec2,
    interface_id: &str,
    former: &str,
    deadline: Deadline,
    backoff: Backoff,
) -> Result<Option<bool>, AwsError> {
    let query = InterfaceQuery::ids(&[interface_id.to_string()]);
    deadline
        .wait_for(backoff, || async {
            let eni = ec2.describe_interfaces(&query).await?.pop();
            Ok(released(eni.as_ref(), former))
        })
        .await
}

/// R12: a member leaving `former`, as its read shows it: free
/// (`Some(true)`), gone elsewhere or deleted (`Some(false)`), or not yet
/// (`None`): only `available` with no attachment is free.
fn released(eni: Option<&NetworkInterface>, former: &str) -> Option<bool> {
    let Some(eni) = eni else {
        return Some(false);
    };
    match &eni.attachment {
        None if eni.status == InterfaceStatus::Available => Some(true),
        None => None,
        // Still detaching, whichever status EC2 shows meanwhile.
        Some(at) if at.instance_id == former => None,
        Some(_) => Some(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ec2::{
        Attachment, AttachmentStatus, InstanceInterface, InstanceState, Tags, POOL_TAG,
    };

    fn attach_of(pool: &str) -> Attach {
        Attach {
            pool: pool.into(),
            availability_zone: "us-east-1a".into(),
            instance_id: "i-1".into(),
            device_index: 1,
            candidates: vec![],
            reason: String::new(),
            waiting_since: None,
        }
    }

    fn instance_listing(id: &str, index: i32) -> Instance {
        let listed = |id: &str, device_index| InstanceInterface {
            interface_id: id.into(),
            device_index,
            network_card_index: 0,
        };
        Instance {
            id: "i-1".into(),
            state: InstanceState::Running,
            availability_zone: "us-east-1a".into(),
            subnet_id: Some("subnet-a1".into()),
            vpc_id: Some("vpc-1".into()),
            tags: Tags::new(),
            interfaces: vec![listed("eni-primary", 0), listed(id, index)],
            launched_at: None,
            group: None,
            hibernated: false,
        }
    }

    /// `eni-x`, in `pool`, attached to `instance` at `index` (`status`).
    fn eni(
        pool: Option<&str>,
        attached: Option<(&str, i32, AttachmentStatus)>,
        status: InterfaceStatus,
    ) -> NetworkInterface {
        let tags: Tags = pool
            .map(|p| (POOL_TAG.to_string(), p.to_string()))
            .into_iter()
            .collect();
        NetworkInterface {
            id: "eni-x".into(),
            availability_zone: "us-east-1a".into(),
            subnet_id: "subnet-a1".into(),
            vpc_id: "vpc-1".into(),
            private_ip: None,
            public_ip: None,
            status,
            requester_managed: false,
            security_groups: vec![],
            description: String::new(),
            source_dest_check: true,
            tags,
            attachment: attached.map(|(instance, index, status)| Attachment {
                id: "eni-attach-x".into(),
                instance_id: instance.into(),
                device_index: index,
                network_card_index: 0,
                status,
                delete_on_termination: false,
                attached_at: None,
            }),
            interface_type: "interface".into(),
        }
    }

    fn occupant_name(o: Occupant) -> String {
        match o {
            Occupant::Member => "member".into(),
            Occupant::Leaving(id) => format!("leaving {id}"),
            Occupant::Other { next_index } => format!("other, next index {next_index}"),
            Occupant::Unseen => "unseen".into(),
        }
    }

    #[test]
    fn the_occupant_counts_only_where_its_own_read_shows_it_at_the_index() {
        use AttachmentStatus::{Attached, Detaching};
        use InterfaceStatus::InUse;
        let cases = [
            (
                "a member of the pool",
                Some("web"),
                Some(("i-1", 1, Attached)),
                "member",
            ),
            (
                "detaching",
                Some("web"),
                Some(("i-1", 1, Detaching)),
                "leaving eni-x",
            ),
            (
                "of another pool (R4)",
                Some("db"),
                Some(("i-1", 1, Attached)),
                "leaving eni-x",
            ),
            (
                "in no pool",
                None,
                Some(("i-1", 1, Attached)),
                "other, next index 2",
            ),
            (
                "its read shows a former holder",
                Some("web"),
                Some(("i-2", 1, Attached)),
                "unseen",
            ),
            (
                "its read shows another index",
                Some("web"),
                Some(("i-1", 2, Attached)),
                "unseen",
            ),
            (
                "its read shows no attachment yet",
                Some("web"),
                None,
                "unseen",
            ),
        ];
        for (case, pool, attached, want) in cases {
            let read = eni(pool, attached, InUse);
            let got = identify(
                &attach_of("web"),
                1,
                &instance_listing("eni-x", 1),
                Some(&read),
            );
            assert_eq!(occupant_name(got), want, "{case}");
        }
        let unread = identify(&attach_of("web"), 1, &instance_listing("eni-x", 1), None);
        assert_eq!(occupant_name(unread), "unseen", "not read yet");
    }

    #[test]
    fn a_leaving_member_is_free_only_when_it_reads_available_and_unattached() {
        use AttachmentStatus::{Attached, Detaching};
        use InterfaceStatus::{Available, InUse};
        let cases = [
            ("available", None, Available, Some(true)),
            ("unattached, not yet available", None, InUse, None),
            (
                "still on its former holder",
                Some(("i-old", 1, Detaching)),
                InUse,
                None,
            ),
            (
                "on its former holder, read as attached",
                Some(("i-old", 1, Attached)),
                InUse,
                None,
            ),
            (
                "taken by another instance",
                Some(("i-2", 1, Attached)),
                InUse,
                Some(false),
            ),
        ];
        for (case, attached, status, want) in cases {
            let read = eni(Some("web"), attached, status);
            assert_eq!(released(Some(&read), "i-old"), want, "{case}");
        }
        assert_eq!(released(None, "i-old"), Some(false), "deleted");
    }
}
