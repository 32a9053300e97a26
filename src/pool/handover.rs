//! A leaving instance hands its members over (R4, R12): they are taken back
//! at once, while the pools they go to are read, then given to waiting
//! instances as soon as EC2 lets go of them.

use std::collections::BTreeSet;

use super::model::{Action, Detach, Plan, Snapshot};
use super::{apply, not_yet, plan, secondary_ids, ById, Manager, Outcome};
use crate::aws::AwsError;
use crate::deadline::Deadline;
use crate::ec2::{AttachmentStatus, Instance, InstanceState, InterfaceQuery, NetworkInterface};
use crate::event::{Given, StateChange};

impl Manager<'_> {
    pub(super) async fn instance_leaving(
        &self,
        change: &StateChange,
        deadline: Deadline,
    ) -> Result<Outcome, AwsError> {
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
        if !fresh(&instance) {
            instance = self.fresh_instance(id, deadline, fresh).await?;
            if !fresh(&instance) {
                return Ok(not_yet(id, "the instance does not read as leaving yet"));
            }
        }
        self.hand_over(id, instance, held, None, deadline).await
    }

    /// Reconciles the pools of a leaving instance and of the members it
    /// `held`, so that they go to waiting instances at once (R4, R12).
    pub(super) async fn hand_over(
        &self,
        id: &str,
        instance: Option<Instance>,
        held: Vec<NetworkInterface>,
        given: Option<&Given>,
        deadline: Deadline,
    ) -> Result<Outcome, AwsError> {
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
            let snapshot = Snapshot {
                instances: instance.into_iter().collect(),
                ..Snapshot::default()
            };
            let mut outcome = self.carry_out(plan::plan(&snapshot), given, deadline).await;
            outcome.note = Some(format!("instance {id} is in no pool and holds no member"));
            return Ok(outcome);
        }
        let pools: Vec<String> = pools.into_iter().collect();
        // R12: what is known of the instance alone says its members must
        // go: they are taken back while its pools are read. Not from a
        // terminating instance: EC2 detaches those itself, and its own read
        // by id, among the pools', says whether it has begun.
        let terminating = instance.as_ref().is_some_and(|i| {
            matches!(
                i.state,
                InstanceState::ShuttingDown | InstanceState::Terminated
            )
        });
        let known = Snapshot {
            members: if terminating { Vec::new() } else { held },
            instances: instance.clone().into_iter().collect(),
            ..Snapshot::default()
        };
        let releases = Plan {
            actions: plan::plan(&known)
                .actions
                .into_iter()
                .filter(is_detach)
                .collect(),
            ..Plan::default()
        };
        // Its interfaces by id: fresher than the filtered reads (R16).
        let own = instance.as_ref().map(secondary_ids).unwrap_or_default();
        let by_id = ById {
            ids: &own,
            ..ById::NONE
        };
        let (released, snapshot) = tokio::join!(
            apply::apply(self.ec2, releases, deadline, &self.settings),
            self.read_pools(&pools, instance.into_iter().collect(), by_id, deadline)
        );
        let mut snapshot = snapshot?;
        reflect_detaches(&mut snapshot, &released.detached);
        let mut outcome = self.carry_out(plan::plan(&snapshot), given, deadline).await;
        outcome.report.absorb(released);
        Ok(outcome)
    }
}

fn is_detach(action: &Action) -> bool {
    matches!(action, Action::Detach(_))
}

/// What this invocation detached is leaving its instance, whatever the
/// reads made meanwhile saw: its own write is fresher than any read (R16).
/// The member reads as detaching, and its former holder no longer lists it.
fn reflect_detaches(snapshot: &mut Snapshot, detached: &[Detach]) {
    for d in detached {
        let member = snapshot.members.iter_mut().find(|m| m.id == d.interface_id);
        let attachment = member.and_then(|m| m.attachment.as_mut());
        if let Some(a) = attachment.filter(|a| a.instance_id == d.instance_id) {
            a.status = AttachmentStatus::Detaching;
        }
        let holder = snapshot
            .instances
            .iter_mut()
            .find(|i| i.id == d.instance_id);
        if let Some(holder) = holder {
            holder
                .interfaces
                .retain(|n| n.interface_id != d.interface_id);
        }
    }
}
