//! Keeping pool members on running pool instances: the pure planner (`plan`),
//! the executor (`apply`) and the entry points that read EC2 for them.
//!
//! Every entry point reads the state from EC2 and never trusts the event
//! (R7), so each may run twice, late or out of order: a second run finds
//! nothing to do.

pub mod apply;
mod assign;
mod claim;
pub mod plan;
pub mod status;

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::deadline::Deadline;
use crate::ec2::{
    Ec2, Ec2Error, Instance, InstanceQuery, InstanceState, InterfaceQuery, InterfaceStatus,
    NetworkInterface,
};
use apply::{Report, Settings};
use plan::{Plan, Snapshot};

/// What a handler did about one instance or one sync.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// Why nothing was planned, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(flatten)]
    pub report: Report,
    /// The gauges a sync leaves (R18); none after a single instance's event.
    #[serde(skip)]
    pub census: Option<Census>,
    /// What the schedule's cleanup of declared interfaces did (C12, C13).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cleaned_up: Vec<String>,
}

/// A sync's gauges, per pool and Availability Zone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// The sync read every pool (not some of them).
    pub all_pools: bool,
    pub gauges: Vec<status::Gauge>,
}

impl Outcome {
    pub fn noted(note: impl Into<String>) -> Self {
        Self {
            note: Some(note.into()),
            ..Self::default()
        }
    }
}

/// The manager: an EC2 client and the executor's bounds.
pub struct Manager<'a> {
    ec2: &'a dyn Ec2,
    settings: Settings,
}

/// An instance state change, as the event tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChange {
    pub instance_id: String,
    pub state: InstanceState,
    /// When EventBridge saw it, in epoch milliseconds.
    pub time: Option<u64>,
}

impl<'a> Manager<'a> {
    pub fn new(ec2: &'a dyn Ec2, settings: Settings) -> Self {
        Self { ec2, settings }
    }

    /// An instance changed state. `running` reads the instance and the free
    /// members at once and attaches (two round trips); any other state reads
    /// the instance and its members, then reconciles its pool and theirs, so
    /// a freed member goes to a waiting instance at once (R4, R12).
    pub async fn instance_changed(
        &self,
        change: &StateChange,
        deadline: Deadline,
    ) -> Result<Outcome, Ec2Error> {
        match change.state {
            InstanceState::Running => self.instance_running(&change.instance_id, deadline).await,
            s if s.releases() => self.instance_leaving(change, deadline).await,
            s => Ok(Outcome::noted(format!(
                "nothing to do while {}",
                s.as_str()
            ))),
        }
    }

    async fn instance_running(&self, id: &str, deadline: Deadline) -> Result<Outcome, Ec2Error> {
        let free = InterfaceQuery::pools(&[]).available();
        let (instance, free) =
            tokio::join!(self.read_instance(id), self.ec2.describe_interfaces(&free));
        let (mut instance, mut members) = (instance?, free?);
        // R16: EC2's reads may not show the instance running yet.
        let up = |i: &Instance| i.state != InstanceState::Pending;
        let booted = |read: &Option<Instance>| read.as_ref().is_some_and(up);
        if !booted(&instance) {
            instance = self.fresh_instance(id, deadline, booted).await?;
        }
        let Some(instance) = instance.filter(up) else {
            return Ok(not_yet(id, "the instance does not read as running yet"));
        };
        // A late `running` event (EC2 says the instance has gone since), or
        // an instance that lost the tag but may still hold a member (R4).
        let untagged = instance.pool().is_none();
        if instance.state.releases() || (untagged && instance.has_secondary_interfaces()) {
            let change = StateChange {
                instance_id: id.to_string(),
                state: instance.state,
                time: None,
            };
            return self.instance_leaving(&change, deadline).await;
        }
        if untagged {
            return Ok(Outcome::noted(format!("instance {id} is in no pool")));
        }
        // Only an instance with secondary interfaces can hold a member
        // already. They are read by id, fresher than a filtered read, so that
        // each interface the instance lists is known (R11).
        if instance.has_secondary_interfaces() {
            let own = secondary_ids(&instance);
            let read = self
                .ec2
                .describe_interfaces(&InterfaceQuery::ids(&own))
                .await?;
            members.retain(|m| !own.contains(&m.id));
            members.extend(read);
        }
        let snapshot = Snapshot {
            members,
            instances: vec![instance],
        };
        Ok(self.carry_out(plan::plan(&snapshot), deadline).await)
    }

    async fn instance_leaving(
        &self,
        change: &StateChange,
        deadline: Deadline,
    ) -> Result<Outcome, Ec2Error> {
        let id = change.instance_id.as_str();
        let held = InterfaceQuery::pools(&[]).attached_to(id);
        let (instance, held) =
            tokio::join!(self.read_instance(id), self.ec2.describe_interfaces(&held));
        let (mut instance, held) = (instance?, held?);
        // R16: a read older than the event shows the instance still running.
        // It is fresh once it shows the instance leaving, or started again
        // after the event (whose time has whole seconds).
        let fresh = |i: &Option<Instance>| {
            i.as_ref().is_none_or(|i| {
                let restarted =
                    matches!((i.launched_at, change.time), (Some(l), Some(t)) if l >= t + 1000);
                i.state.releases() || restarted
            })
        };
        if change.state.releases() && !fresh(&instance) {
            instance = self.fresh_instance(id, deadline, fresh).await?;
            if !fresh(&instance) {
                return Ok(not_yet(id, "the instance does not read as leaving yet"));
            }
        }
        // Its pool too: EC2 detaches members itself when an instance terminates.
        let own_pool = instance
            .as_ref()
            .and_then(Instance::pool)
            .map(str::to_string);
        let pools: BTreeSet<String> = held
            .iter()
            .filter(|m| m.is_secondary())
            .filter_map(|m| m.pool().map(str::to_string))
            .chain(own_pool)
            .collect();
        if pools.is_empty() {
            return Ok(Outcome::noted(format!(
                "instance {id} is in no pool and holds no member"
            )));
        }
        let pools: Vec<String> = pools.into_iter().collect();
        // Its interfaces by id: fresher than the filtered reads (R16).
        let own = instance.as_ref().map(secondary_ids).unwrap_or_default();
        let by_id = ById {
            ids: &own,
            ..ById::NONE
        };
        let snapshot = self
            .read_pools(&pools, instance.into_iter().collect(), by_id, deadline)
            .await?;
        Ok(self.carry_out(plan::plan(&snapshot), deadline).await)
    }

    /// The full two-way reconcile (R10), of `pools` or of every pool.
    pub async fn sync(&self, pools: &[String], deadline: Deadline) -> Result<Outcome, Ec2Error> {
        self.sync_with(pools, ById::NONE, deadline).await
    }

    /// A reconcile of `pools` that also reads interfaces by id: right after
    /// a pool declaration, the tag-filtered read may not show its writes yet
    /// (R16, C7).
    pub async fn sync_with(
        &self,
        pools: &[String],
        by_id: ById<'_>,
        deadline: Deadline,
    ) -> Result<Outcome, Ec2Error> {
        let snapshot = self.read_pools(pools, Vec::new(), by_id, deadline).await?;
        let mut outcome = self.carry_out(plan::plan(&snapshot), deadline).await;
        outcome.census = Some(Census {
            all_pools: pools.is_empty(),
            gauges: status::census(&snapshot, &outcome.report),
        });
        Ok(outcome)
    }

    /// What a sync would do, without doing it.
    pub async fn plan_sync(&self, pools: &[String]) -> Result<Plan, Ec2Error> {
        Ok(plan::plan(&self.look(pools).await?))
    }

    /// Every pool's members, holders and waiting instances (of `pools`, or all).
    pub async fn status(&self, pools: &[String]) -> Result<Vec<status::PoolStatus>, Ec2Error> {
        Ok(status::status(&self.look(pools).await?))
    }

    /// The reads of a sync, for looking only: nothing is awaited.
    async fn look(&self, pools: &[String]) -> Result<Snapshot, Ec2Error> {
        let now = Deadline::after(Duration::ZERO);
        self.read_pools(pools, Vec::new(), ById::NONE, now).await
    }

    async fn read_instance(&self, id: &str) -> Result<Option<Instance>, Ec2Error> {
        let query = InstanceQuery::Ids(vec![id.into()]);
        Ok(self.ec2.describe_instances(&query).await?.pop())
    }

    /// Reads the instance again until `fresh` holds, for at most
    /// `settings.fresh_wait` (R16); the last read otherwise.
    async fn fresh_instance(
        &self,
        id: &str,
        deadline: Deadline,
        fresh: impl Fn(&Option<Instance>) -> bool,
    ) -> Result<Option<Instance>, Ec2Error> {
        let budget = Deadline::after(self.settings.fresh_wait.min(deadline.remaining()));
        let read = || self.read_instance(id);
        let (last, _) = budget
            .read_until(self.settings.backoff, read, fresh)
            .await?;
        Ok(last)
    }

    /// Members and instances of `pools` (all when empty), plus `known`
    /// instances, plus interfaces read by id, plus any holder the
    /// tag-filtered read missed.
    async fn read_pools(
        &self,
        pools: &[String],
        known: Vec<Instance>,
        by_id: ById<'_>,
        deadline: Deadline,
    ) -> Result<Snapshot, Ec2Error> {
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
        let missing = plan::unknown_holders(&snapshot);
        let unlisted = plan::unknown_interfaces(&snapshot);
        let holders = InstanceQuery::Ids(missing);
        let interfaces = InterfaceQuery::ids(&unlisted);
        let (holders, interfaces) = tokio::join!(
            self.ec2.describe_instances(&holders),
            self.ec2.describe_interfaces(&interfaces)
        );
        snapshot.instances.extend(holders?);
        snapshot.members.extend(interfaces?);
        Ok(snapshot)
    }

    /// Interfaces read by id; a declaration's, again until the reads show
    /// the declaration's writes (bounded by the deadline).
    async fn read_by_id(
        &self,
        by_id: ById<'_>,
        deadline: Deadline,
    ) -> Result<Vec<NetworkInterface>, Ec2Error> {
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

    async fn carry_out(&self, plan: Plan, deadline: Deadline) -> Outcome {
        let report = apply::apply(self.ec2, plan, deadline, &self.settings).await;
        for shortage in &report.shortages {
            tracing::warn!(
                pool = %shortage.pool,
                availability_zone = %shortage.availability_zone,
                instance_ids = ?shortage.instance_ids,
                "instances wait: no free member in their AZ"
            );
        }
        Outcome {
            report,
            ..Outcome::default()
        }
    }
}

/// The interfaces an instance lists besides its primary.
fn secondary_ids(instance: &Instance) -> Vec<String> {
    let secondary = instance.interfaces.iter().filter(|n| !n.is_primary());
    secondary.map(|n| n.interface_id.clone()).collect()
}

/// Interfaces a reconcile reads by id, beside the filtered reads.
#[derive(Clone, Copy, Debug)]
pub struct ById<'a> {
    ids: &'a [String],
    /// Interfaces a declaration took out of its pool.
    taken_out: &'a [String],
    /// After a declaration in these pools: read again until the reads show
    /// its writes: each of `ids` visible, no longer `pending`, pool-tagged;
    /// each of `taken_out` in no pool (R16, C7).
    declared_in: Option<&'a [String]>,
}

impl<'a> ById<'a> {
    pub const NONE: ById<'static> = ById {
        ids: &[],
        taken_out: &[],
        declared_in: None,
    };

    /// What a declaration in `pools` wrote: `members` in, `taken_out` out.
    pub fn declared(pools: &'a [String], members: &'a [String], taken_out: &'a [String]) -> Self {
        Self {
            ids: members,
            taken_out,
            declared_in: Some(pools),
        }
    }
}

/// An outcome that asks for the event again: EC2's reads lag behind it.
fn not_yet(instance_id: &str, why: &str) -> Outcome {
    let mut outcome = Outcome::noted(format!("instance {instance_id}: {why}"));
    outcome.report.failed.push(apply::Failed {
        pool: String::new(),
        instance_id: instance_id.to_string(),
        interface_id: None,
        code: None,
        error: why.to_string(),
        transient: true,
    });
    outcome
}
