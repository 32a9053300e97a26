//! The manager's reads: the instance, a pool's members and instances, the
//! interfaces read by id, Auto Scaling's view of group instances (R19), and
//! reading again, bounded, until fresh (R16).

use crate::autoscaling::{GroupInstance, Membership};
use crate::aws::AwsError;
use crate::concurrent::concurrently;
use crate::deadline::Deadline;
use std::collections::BTreeSet;

use crate::ec2::{
    volume_devices, volume_key, Instance, InstanceQuery, InstanceState, InterfaceQuery,
    InterfaceStatus, NetworkInterface, Volume, VolumeQuery,
};

use super::model::{Plan, Snapshot};
use super::plan;
use super::{ById, Manager};
use crate::event::Given;

impl Manager<'_> {
    /// The plan; again where it left a launch without a member and an
    /// instance refresh replaces a holder there (R28).
    pub(super) async fn plan_with_refreshes(
        &self,
        snapshot: &mut Snapshot,
    ) -> Result<Plan, AwsError> {
        let first = plan::plan(snapshot);
        match self.read_refreshes(snapshot, &first).await? {
            true => Ok(plan::plan(snapshot)),
            false => Ok(first),
        }
    }

    /// R28: where a launch waits for a member and the plan found none,
    /// the instance refreshes of the holders' groups: a holder one of them
    /// replaces is due to leave. Whether that marked any.
    async fn read_refreshes(&self, snapshot: &mut Snapshot, plan: &Plan) -> Result<bool, AwsError> {
        let Some(asg) = self.auto_scaling else {
            return Ok(false);
        };
        let groups = super::succession::refresh_groups(snapshot, plan);
        let read = |group: String| async move {
            let refresh = asg.refresh_in_progress(&group).await;
            refresh.map(|r| r.map(|r| (group, r)))
        };
        let read = concurrently(self.settings.concurrency, groups, read).await;
        let refreshes: Result<Vec<_>, AwsError> = read.into_iter().collect();
        let refreshes = refreshes?.into_iter().flatten().collect();
        Ok(super::succession::mark_refreshed(snapshot, &refreshes))
    }

    pub(super) async fn read_instance(&self, id: &str) -> Result<Option<Instance>, AwsError> {
        let query = InstanceQuery::Ids(vec![id.into()]);
        Ok(self.ec2.describe_instances(&query).await?.pop())
    }

    /// Reads the instance again until `fresh` holds, for at most
    /// `settings.fresh_wait` (R16); the last read otherwise.
    pub(super) async fn fresh_instance(
        &self,
        id: &str,
        deadline: Deadline,
        fresh: impl Fn(&Option<Instance>) -> bool,
    ) -> Result<Option<Instance>, AwsError> {
        self.fresh(deadline, || self.read_instance(id), fresh).await
    }

    /// The same for the groups of `ids`.
    pub(super) async fn fresh_groups(
        &self,
        ids: &[String],
        deadline: Deadline,
        fresh: impl Fn(&Vec<GroupInstance>) -> bool,
    ) -> Result<Vec<GroupInstance>, AwsError> {
        self.fresh(deadline, || self.read_groups(ids), fresh).await
    }

    pub(super) async fn fresh<T, Fut>(
        &self,
        deadline: Deadline,
        read: impl FnMut() -> Fut,
        fresh: impl Fn(&T) -> bool,
    ) -> Result<T, AwsError>
    where
        Fut: std::future::Future<Output = Result<T, AwsError>>,
    {
        let budget = Deadline::after(self.settings.fresh_wait.min(deadline.remaining()));
        let (last, _) = budget
            .read_until(self.settings.backoff, read, fresh)
            .await?;
        Ok(last)
    }

    /// Members and instances of `pools` (all when empty), plus `known`
    /// instances, plus interfaces read by id, plus any holder the
    /// tag-filtered read missed.
    pub(super) async fn read_pools(
        &self,
        pools: &[String],
        known: Vec<Instance>,
        by_id: ById<'_>,
        deadline: Deadline,
    ) -> Result<Snapshot, AwsError> {
        let members = InterfaceQuery::pools(pools);
        let instances = InstanceQuery::Pools(pools.to_vec());
        let (members, instances, by_id) = tokio::join!(
            self.ec2.describe_interfaces(&members),
            self.ec2.describe_instances(&instances),
            self.read_by_id(by_id, deadline)
        );
        let mut snapshot = Snapshot {
            members: members?,
            instances: instances?,
            ..Snapshot::default()
        };
        for member in by_id? {
            snapshot.members.retain(|m| m.id != member.id);
            snapshot.members.push(member);
        }
        for instance in known {
            snapshot.instances.retain(|i| i.id != instance.id);
            snapshot.instances.push(instance);
        }
        // What the reads left out: holders the tag read missed, and the
        // interfaces running pool instances list that the members read did
        // not show (another pool's members, when only some pools are read):
        // without them, an index could look taken by a stranger (R11).
        // And the group instances' lifecycle states (R19).
        let missing = plan::unknown_holders(&snapshot);
        let unlisted = plan::unknown_interfaces(&snapshot);
        let holders = InstanceQuery::Ids(missing);
        let interfaces = InterfaceQuery::ids(&unlisted);
        let in_groups = unread_group_instances(&snapshot.instances);
        // R27: the data volumes of every declaration read, in the same round.
        let volumes = volume_query(&snapshot, |_| true, false);
        let (holders, interfaces, groups, volumes) = tokio::join!(
            self.ec2.describe_instances(&holders),
            self.ec2.describe_interfaces(&interfaces),
            self.read_groups(&in_groups),
            self.read_volumes(volumes)
        );
        let mut holders = holders?;
        snapshot.members.extend(interfaces?);
        // Holders the tag read missed, in a group: rare, one more round.
        let groups = [
            groups?,
            self.read_groups(&unread_group_instances(&holders)).await?,
        ];
        snapshot.instances.append(&mut holders);
        let standby_holds = self.settings.standby_holds;
        for instance in snapshot.instances.iter_mut().filter(|i| i.group.is_none()) {
            for read in &groups {
                join_groups(instance, read, None, standby_holds);
            }
        }
        snapshot.volumes = volumes?;
        self.add_volume_hosts(&mut snapshot).await?;
        Ok(snapshot)
    }

    /// The data volumes of the snapshot's members that list some and that
    /// `concern` picks, and the instances they are attached to that the
    /// snapshot lacks, as volume hosts (R27). No call when no such member
    /// lists volumes.
    pub(super) async fn add_volumes(
        &self,
        snapshot: &mut Snapshot,
        concern: impl Fn(&NetworkInterface) -> bool,
        by_seat: bool,
    ) -> Result<(), AwsError> {
        // No call at all without volumes: the pacing would spend a token.
        let Some(query) = volume_query(snapshot, concern, by_seat) else {
            return Ok(());
        };
        snapshot.volumes = self.read_volumes(Some(query)).await?;
        self.add_volume_hosts(snapshot).await
    }

    async fn read_volumes(&self, query: Option<VolumeQuery>) -> Result<Vec<Volume>, AwsError> {
        match query {
            Some(query) => self.ec2.describe_volumes(&query).await,
            None => Ok(Vec::new()),
        }
    }

    /// The instances the snapshot's volumes are attached to that it lacks.
    async fn add_volume_hosts(&self, snapshot: &mut Snapshot) -> Result<(), AwsError> {
        let on = snapshot
            .volumes
            .iter()
            .filter_map(|v| v.attachment.as_ref());
        let unknown = plan::unknown_instances(snapshot, on.map(|a| a.instance_id.as_str()));
        if unknown.is_empty() {
            return Ok(());
        }
        let unknown = InstanceQuery::Ids(unknown);
        snapshot.volume_hosts = self.ec2.describe_instances(&unknown).await?;
        Ok(())
    }

    /// The groups and lifecycle states of `ids` (none without Auto Scaling).
    pub(super) async fn read_groups(&self, ids: &[String]) -> Result<Vec<GroupInstance>, AwsError> {
        match self.auto_scaling {
            Some(asg) if !ids.is_empty() => asg.describe_instances(ids).await,
            _ => Ok(Vec::new()),
        }
    }

    /// Interfaces read by id; a declaration's, again until the reads show
    /// the declaration's writes (bounded by the deadline).
    pub(super) async fn read_by_id(
        &self,
        by_id: ById<'_>,
        deadline: Deadline,
    ) -> Result<Vec<NetworkInterface>, AwsError> {
        let ids: Vec<String> = by_id.ids.iter().chain(by_id.taken_out).cloned().collect();
        let query = InterfaceQuery::ids(&ids);
        let Some(pools) = by_id.declared_in else {
            return self.ec2.describe_interfaces(&query).await;
        };
        let shows_writes = |read: &[NetworkInterface]| {
            let found = |id: &String| read.iter().find(|m| &m.id == id);
            let declared = |m: &NetworkInterface| {
                m.status != InterfaceStatus::Pending
                    && m.pool().is_some_and(|p| pools.iter().any(|want| want == p))
            };
            by_id.ids.iter().all(|id| found(id).is_some_and(declared))
                && by_id
                    .taken_out
                    .iter()
                    .all(|id| found(id).is_none_or(|m| m.pool().is_none()))
        };
        let read = || self.ec2.describe_interfaces(&query);
        let (last, _) = deadline
            .read_until(self.settings.backoff, read, |r| shows_writes(r))
            .await?;
        Ok(last)
    }
}

/// What to read of the volumes of the snapshot's members that list some
/// and that `concern` picks: all of their declarations' volumes, or
/// `by_seat` only theirs; `None` when no such member lists volumes.
fn volume_query(
    snapshot: &Snapshot,
    concern: impl Fn(&NetworkInterface) -> bool,
    by_seat: bool,
) -> Option<VolumeQuery> {
    let with_volumes = snapshot
        .members
        .iter()
        .filter(|m| concern(m) && !volume_devices(m).is_empty());
    let seats: BTreeSet<(&str, &str)> = with_volumes.filter_map(volume_key).collect();
    if seats.is_empty() {
        return None;
    }
    let owners: BTreeSet<String> = seats.iter().map(|(o, _)| o.to_string()).collect();
    let owners = owners.into_iter().collect();
    Some(match by_seat {
        true => VolumeQuery::Seats {
            owners,
            slots: seats.iter().map(|(_, s)| s.to_string()).collect(),
        },
        false => VolumeQuery::Owners(owners),
    })
}

/// Instances whose lifecycle state is wanted and not read: running ones
/// that carry the group tag (R19).
pub(super) fn unread_group_instances(instances: &[Instance]) -> Vec<String> {
    let unread = instances
        .iter()
        .filter(|i| i.group.is_none() && i.in_a_group() && i.state == InstanceState::Running);
    unread.map(|i| i.id.clone()).collect()
}

/// Sets `instance.group` from what Auto Scaling `read`. The instance `given`
/// names is where the event says when the read lags behind it: missing, or
/// in an earlier state that serves alike (`Warmed:Running` before
/// `Warmed:Terminating:Wait`). An event never makes a leaving instance
/// serve, nor a serving one leave: the read says first.
pub(super) fn join_groups(
    instance: &mut Instance,
    read: &[GroupInstance],
    given: Option<&Given>,
    standby_holds: bool,
) {
    if !instance.in_a_group() {
        return;
    }
    let found = read.iter().find(|g| g.instance_id == instance.id);
    let found = found.map(|g| Membership {
        healthy: g.healthy,
        ..Membership::new(g.group.clone(), g.lifecycle_state.clone(), standby_holds)
    });
    let named = given
        .filter(|g| g.action.instance_id == instance.id)
        .map(|g| {
            let state = g.wait_state.to_string();
            (
                g.transition,
                Membership::new(g.action.group.clone(), state, standby_holds),
            )
        });
    let joined = match (found, named) {
        (None, Some((_, event))) => event,
        (Some(read), Some((transition, event)))
            if !read.waits_for().contains(&transition) && read.serves == event.serves =>
        {
            event
        }
        (Some(read), _) => read,
        (None, None) => return,
    };
    instance.group = Some(joined);
}
