//! Keeping pool members on running pool instances: the pure planner (`plan`),
//! the executor (`apply`) and the entry points that read EC2 for them.
//!
//! Every entry point reads the state from EC2 and never trusts the event
//! (R7), so each may run twice, late or out of order: a second run finds
//! nothing to do.

pub mod apply;
mod assign;
mod attach;
mod claim;
mod handover;
pub mod identity;
pub mod index;
mod keep_open;
mod lifecycle;
pub mod model;
mod move_volumes;
pub mod plan;
pub mod proceed;
mod read;
pub mod report;
pub mod settings;
pub mod status;
pub mod succession;
mod survey;
pub mod volumes;
mod warning;

pub use report::Report;
pub use settings::Settings;

use crate::aws::AwsError;
use std::time::Duration;

use serde::Serialize;

use crate::autoscaling::{AutoScaling, GroupInstance};
use crate::deadline::Deadline;
use crate::ec2::{Ec2, Instance, InstanceState, InterfaceQuery, NetworkInterface, FORMER_POOL_TAG};
use crate::event::{Given, StateChange};
use model::{Plan, Snapshot};
use read::join_groups;

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
    /// A sync's seats whose data volume no read shows (R27).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub missing_volumes: Vec<model::MissingVolume>,
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

/// The manager: an EC2 client, Auto Scaling when at hand (without it,
/// every instance counts as standalone), and the executor's bounds.
pub struct Manager<'a> {
    ec2: &'a dyn Ec2,
    auto_scaling: Option<&'a dyn AutoScaling>,
    settings: Settings,
}

impl<'a> Manager<'a> {
    pub fn new(ec2: &'a dyn Ec2, settings: Settings) -> Self {
        Self {
            ec2,
            auto_scaling: None,
            settings,
        }
    }

    /// The EC2 it works on.
    pub fn ec2(&self) -> &'a dyn Ec2 {
        self.ec2
    }

    pub fn with_auto_scaling(self, auto_scaling: Option<&'a dyn AutoScaling>) -> Self {
        Self {
            auto_scaling,
            ..self
        }
    }

    /// An instance changed state. `running` reads the instance and the free
    /// members at once and attaches (two round trips); any other state reads
    /// the instance and its members, then reconciles its pool and theirs, so
    /// a freed member goes to a waiting instance at once (R4, R12).
    pub async fn instance_changed(
        &self,
        change: &StateChange,
        deadline: Deadline,
    ) -> Result<Outcome, AwsError> {
        match change.state {
            InstanceState::Running => {
                self.instance_running(&change.instance_id, None, deadline)
                    .await
            }
            s if s.releases() => self.instance_leaving(change, deadline).await,
            s => Ok(Outcome::noted(format!(
                "nothing to do while {}",
                s.as_str()
            ))),
        }
    }

    /// A running instance gets its member; `given`: the launch action an
    /// event named, completed once the instance holds one (R20).
    async fn instance_running(
        &self,
        id: &str,
        given: Option<&Given>,
        deadline: Deadline,
    ) -> Result<Outcome, AwsError> {
        let free = InterfaceQuery::pools(&[]).available();
        // Its group's view in the same round: the id is all it needs (R19).
        let ids = [id.to_string()];
        let (instance, free, groups) = tokio::join!(
            self.read_instance(id),
            self.ec2.describe_interfaces(&free),
            self.read_groups(&ids)
        );
        let (mut instance, mut members, groups) = (instance?, free?, groups?);
        // R16: EC2's reads may not show the instance running yet.
        let up = |i: &Instance| i.state != InstanceState::Pending;
        let booted = |read: &Option<Instance>| read.as_ref().is_some_and(up);
        if !booted(&instance) {
            instance = self.fresh_instance(id, deadline, booted).await?;
        }
        let Some(mut instance) = instance.filter(up) else {
            if given.is_some() {
                // R20: the `running` event or the sync completes it.
                return Ok(Outcome::noted(format!(
                    "instance {id} is not running yet: its launch action stays open"
                )));
            }
            return Ok(not_yet(id, "the instance does not read as running yet"));
        };
        // R16: Auto Scaling may not show a new instance of a group yet.
        let shown = |read: &Vec<GroupInstance>| read.iter().any(|g| g.instance_id == id);
        let groups = match instance.in_a_group() && given.is_none() && !shown(&groups) {
            true => self.fresh_groups(&ids, deadline, shown).await?,
            false => groups,
        };
        join_groups(&mut instance, &groups, given, self.settings.standby_holds);
        // A late `running` event (EC2 says the instance has gone since), one
        // that may not hold a member (R19), or one that lost the tag (R4).
        let untagged = instance.pool().is_none();
        let leaves = instance.leaving_reason().is_some() || untagged;
        if leaves && instance.has_secondary_interfaces() {
            let held = InterfaceQuery::pools(&[]).attached_to(id);
            let held = self.ec2.describe_interfaces(&held).await?;
            return self
                .hand_over(id, Some(instance), held, given, deadline)
                .await;
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
        // R27: a pool with data volumes pays one read more; others none.
        let pool = instance.pool().map(str::to_string);
        let mut snapshot = Snapshot {
            members,
            instances: vec![instance],
            ..Snapshot::default()
        };
        let of_its_pool = |m: &NetworkInterface| {
            let named = |p: &str| pool.as_deref() == Some(p);
            m.pool().is_some_and(named) || m.tags.get(FORMER_POOL_TAG).is_some_and(|p| named(p))
        };
        self.add_volumes(&mut snapshot, of_its_pool, true).await?;
        let mut plan = plan::plan(&snapshot);
        // R28: a launch that finds every member of its placement held reads
        // its whole pool: a holder may be due to leave and hand over first.
        let short = |plan: &Plan| {
            plan.shortages
                .iter()
                .any(|s| s.instance_ids.contains(&ids[0]))
        };
        let launching = snapshot.instances[0].group.as_ref();
        let launching = launching.is_some_and(|g| g.lifecycle_state == "Pending:Wait");
        if let (true, true, Some(pool)) = (launching, short(&plan), &pool) {
            let known = snapshot.instances.swap_remove(0);
            let pools = std::slice::from_ref(pool);
            snapshot = self
                .read_pools(pools, vec![known], ById::NONE, deadline)
                .await?;
            plan = self.plan_with_refreshes(&mut snapshot).await?;
        }
        let mut outcome = self.carry_out(plan, given, deadline).await;
        if untagged {
            outcome.note = Some(format!("instance {id} is in no pool"));
        }
        Ok(outcome)
    }

    /// The full two-way reconcile (R10), of `pools` or of every pool.
    pub async fn sync(&self, pools: &[String], deadline: Deadline) -> Result<Outcome, AwsError> {
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
    ) -> Result<Outcome, AwsError> {
        let mut snapshot = self.read_pools(pools, Vec::new(), by_id, deadline).await?;
        let plan = self.plan_with_refreshes(&mut snapshot).await?;
        let mut outcome = self.carry_out(plan, None, deadline).await;
        outcome.missing_volumes = volumes::missing(&snapshot);
        for m in &outcome.missing_volumes {
            let (pool, member, device) = (&m.pool, &m.interface_id, &m.device);
            tracing::warn!(%pool, %member, %device, "a seat's data volume is missing (R27)");
        }
        outcome.census = Some(Census {
            all_pools: pools.is_empty(),
            gauges: status::census(&snapshot, &outcome.report),
        });
        Ok(outcome)
    }

    /// What a sync would do, without doing it.
    pub async fn plan_sync(&self, pools: &[String]) -> Result<Plan, AwsError> {
        Ok(plan::plan(&self.look(pools).await?))
    }

    /// Every pool's members, holders and waiting instances (of `pools`, or all).
    pub async fn status(&self, pools: &[String]) -> Result<Vec<status::PoolStatus>, AwsError> {
        Ok(status::status(&self.look(pools).await?))
    }

    /// The reads of a sync, for looking only: nothing is awaited.
    async fn look(&self, pools: &[String]) -> Result<Snapshot, AwsError> {
        let now = Deadline::after(Duration::ZERO);
        self.read_pools(pools, Vec::new(), ById::NONE, now).await
    }

    /// The plan's EC2 actions; then the lifecycle actions they let go on,
    /// whose hooks are read meanwhile (R20, R21), kept open while all this
    /// lasts (R20).
    async fn carry_out(
        &self,
        mut plan: Plan,
        given: Option<&Given>,
        deadline: Deadline,
    ) -> Outcome {
        let proceeds = proceed::relevant(std::mem::take(&mut plan.proceeds), given);
        let apply = apply::apply(self.ec2, plan, deadline, &self.settings);
        let Some(asg) = self.auto_scaling else {
            return outcome_of(apply.await);
        };
        let concurrency = self.settings.concurrency;
        let work = async {
            let groups = proceed::groups_to_read(&proceeds, given);
            let read_hooks = proceed::read_hooks(asg, groups, concurrency);
            let (mut report, hooks) = tokio::join!(apply, read_hooks);
            let (pace, ec2) = (self.pace(deadline), self.ec2);
            let proceeds = proceeds.clone();
            proceed::complete(asg, ec2, proceeds, &hooks, given, &mut report, pace).await;
            report
        };
        let beat = keep_open::Beat {
            first: self.settings.first_heartbeat,
            concurrency,
        };
        let (mut report, beats) = keep_open::while_working(asg, &proceeds, given, beat, work).await;
        report.heartbeats.extend(beats);
        outcome_of(report)
    }
}

fn outcome_of(report: Report) -> Outcome {
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

impl Manager<'_> {
    /// How lifecycle actions are completed (R20-R22).
    fn pace(&self, deadline: Deadline) -> proceed::Pace {
        proceed::Pace {
            concurrency: self.settings.concurrency,
            backoff: self.settings.backoff,
            deadline,
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
    let failed = report::Failed::gave_up("", instance_id, why);
    outcome.report.failed.push(failed);
    outcome
}
