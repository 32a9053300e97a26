//! Keeping pool members on running pool instances: the pure planner (`plan`),
//! the executor (`apply`) and the entry points that read EC2 for them.
//!
//! Every entry point reads the state from EC2 and never trusts the event
//! (R7), so each may run twice, late or out of order: a second run finds
//! nothing to do.

pub mod apply;
pub mod plan;
pub mod status;

use std::collections::BTreeSet;

use serde::Serialize;

use crate::deadline::Deadline;
use crate::ec2::{Ec2, Ec2Error, Instance, InstanceQuery, InstanceState, InterfaceQuery};
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
}

impl Outcome {
    pub fn noted(note: impl Into<String>) -> Self {
        Self {
            note: Some(note.into()),
            report: Report::default(),
        }
    }
}

/// The manager: an EC2 client and the executor's bounds.
pub struct Manager<'a> {
    ec2: &'a dyn Ec2,
    settings: Settings,
}

impl<'a> Manager<'a> {
    pub fn new(ec2: &'a dyn Ec2, settings: Settings) -> Self {
        Self { ec2, settings }
    }

    /// An instance changed state. `running` reads the instance and the free
    /// members at once and attaches (two round trips); any other state reads
    /// the instance and its members, then reconciles its pool and theirs, so
    /// a freed member goes to a waiting instance at once (R4).
    pub async fn instance_changed(
        &self,
        instance_id: &str,
        state: InstanceState,
        deadline: Deadline,
    ) -> Result<Outcome, Ec2Error> {
        match state {
            InstanceState::Running => self.instance_running(instance_id, deadline).await,
            s if s.releases() => self.instance_leaving(instance_id, deadline).await,
            s => Ok(Outcome::noted(format!(
                "nothing to do while {}",
                s.as_str()
            ))),
        }
    }

    async fn instance_running(&self, id: &str, deadline: Deadline) -> Result<Outcome, Ec2Error> {
        let free = InterfaceQuery::pools(&[]).available();
        let instance = InstanceQuery::Ids(vec![id.into()]);
        let (instance, free) = tokio::join!(
            self.ec2.describe_instances(&instance),
            self.ec2.describe_interfaces(&free)
        );
        let (instance, mut members) = (instance?.pop(), free?);
        let Some(instance) = instance else {
            return Ok(Outcome::noted(format!("instance {id} not found")));
        };
        if instance.state.releases() {
            // A late `running` event: EC2 says the instance has gone since.
            return self.instance_leaving(id, deadline).await;
        }
        let Some(pool) = instance.pool().map(str::to_string) else {
            if instance.interfaces.iter().any(|i| i.device_index != 0) {
                // It may hold a member from before it lost the tag (R4).
                return self.instance_leaving(id, deadline).await;
            }
            return Ok(Outcome::noted(format!("instance {id} is in no pool")));
        };
        if instance.state != InstanceState::Running {
            let state = instance.state.as_str();
            return Ok(Outcome::noted(format!("instance {id} is {state}")));
        }
        // Only an instance with secondary interfaces can hold a member already.
        if instance.interfaces.iter().any(|i| i.device_index != 0) {
            let held = InterfaceQuery::pools(&[pool]).attached_to(id);
            members.extend(self.ec2.describe_interfaces(&held).await?);
        }
        let snapshot = Snapshot {
            members,
            instances: vec![instance],
        };
        Ok(self.carry_out(plan::plan(&snapshot), deadline).await)
    }

    async fn instance_leaving(&self, id: &str, deadline: Deadline) -> Result<Outcome, Ec2Error> {
        let held = InterfaceQuery::pools(&[]).attached_to(id);
        let instance = InstanceQuery::Ids(vec![id.into()]);
        let (instance, held) = tokio::join!(
            self.ec2.describe_instances(&instance),
            self.ec2.describe_interfaces(&held)
        );
        let (instance, held) = (instance?, held?);
        // Its pool too: EC2 detaches members itself when an instance terminates.
        let own_pool = instance
            .first()
            .and_then(Instance::pool)
            .map(str::to_string);
        let pools: BTreeSet<String> = held
            .iter()
            .filter(|m| m.attachment.as_ref().is_some_and(|a| a.device_index != 0))
            .filter_map(|m| m.pool().map(str::to_string))
            .chain(own_pool)
            .collect();
        if pools.is_empty() {
            return Ok(Outcome::noted(format!(
                "instance {id} is in no pool and holds no member"
            )));
        }
        let pools: Vec<String> = pools.into_iter().collect();
        let snapshot = self.read_pools(&pools, instance).await?;
        Ok(self.carry_out(plan::plan(&snapshot), deadline).await)
    }

    /// The full two-way reconcile (R10), of `pools` or of every pool.
    pub async fn sync(&self, pools: &[String], deadline: Deadline) -> Result<Outcome, Ec2Error> {
        let plan = self.plan_sync(pools).await?;
        Ok(self.carry_out(plan, deadline).await)
    }

    /// What a sync would do, without doing it.
    pub async fn plan_sync(&self, pools: &[String]) -> Result<Plan, Ec2Error> {
        let snapshot = self.read_pools(pools, Vec::new()).await?;
        Ok(plan::plan(&snapshot))
    }

    /// Every pool's members, holders and waiting instances (of `pools`, or all).
    pub async fn status(&self, pools: &[String]) -> Result<Vec<status::PoolStatus>, Ec2Error> {
        let snapshot = self.read_pools(pools, Vec::new()).await?;
        Ok(status::status(&snapshot))
    }

    /// Members and instances of `pools` (all when empty), plus `known`
    /// instances, plus any holder the tag-filtered read missed.
    async fn read_pools(
        &self,
        pools: &[String],
        known: Vec<Instance>,
    ) -> Result<Snapshot, Ec2Error> {
        let members = InterfaceQuery::pools(pools);
        let instances = InstanceQuery::Pools(pools.to_vec());
        let (members, instances) = tokio::join!(
            self.ec2.describe_interfaces(&members),
            self.ec2.describe_instances(&instances)
        );
        let mut snapshot = Snapshot {
            members: members?,
            instances: instances?,
        };
        for instance in known {
            snapshot.instances.retain(|i| i.id != instance.id);
            snapshot.instances.push(instance);
        }
        let missing = plan::unknown_holders(&snapshot);
        if !missing.is_empty() {
            let found = self
                .ec2
                .describe_instances(&InstanceQuery::Ids(missing))
                .await?;
            snapshot.instances.extend(found);
        }
        Ok(snapshot)
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
        Outcome { note: None, report }
    }
}
