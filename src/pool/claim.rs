//! What an attach learns from EC2 when it is refused or must wait: who holds
//! the device index (R11), and when a freed member is free (R12).

use std::collections::BTreeSet;

use super::index::device_index;
use super::model::Attach;
use crate::aws::AwsError;
use crate::deadline::{Backoff, Deadline};
use crate::ec2::{Ec2, InstanceQuery, InterfaceQuery, InterfaceStatus};

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

/// R11: reads the instance, then the interface at `index` by id. Only when
/// both agree that the occupant is not the pool's does the attach move to
/// another index; a lagging read never does.
pub(super) async fn occupant(ec2: &dyn Ec2, a: &Attach, index: i32) -> Result<Occupant, AwsError> {
    let instance = InstanceQuery::Ids(vec![a.instance_id.clone()]);
    let Some(instance) = ec2.describe_instances(&instance).await?.pop() else {
        return Ok(Occupant::Unseen);
    };
    let Some(occupant_id) = instance.occupant(index) else {
        return Ok(Occupant::Unseen);
    };
    let query = InterfaceQuery::ids(&[occupant_id.to_string()]);
    let Some(eni) = ec2.describe_interfaces(&query).await?.pop() else {
        return Ok(Occupant::Unseen);
    };
    let here = eni.attachment.as_ref().filter(|at| {
        at.instance_id == a.instance_id && at.device_index == index && !at.is_primary()
    });
    let Some(attachment) = here else {
        return Ok(Occupant::Unseen);
    };
    // A member of another pool must leave this instance too (R4).
    Ok(match eni.pool() {
        _ if attachment.is_detaching() => Occupant::Leaving(eni.id),
        Some(p) if p == a.pool => Occupant::Member,
        Some(_) => Occupant::Leaving(eni.id),
        None => Occupant::Other {
            next_index: device_index(&instance, a.device_index, &BTreeSet::new()),
        },
    })
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
            let Some(eni) = ec2.describe_interfaces(&query).await?.pop() else {
                return Ok(Some(false));
            };
            Ok(match &eni.attachment {
                None if eni.status == InterfaceStatus::Available => Some(true),
                None => None,
                // Still detaching, whichever status EC2 shows meanwhile.
                Some(at) if at.instance_id == former => None,
                Some(_) => Some(false),
            })
        })
        .await
}
