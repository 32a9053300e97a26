//! The model's answers to the manager's Auto Scaling calls [ASG-API].

use async_trait::async_trait;
use network_interface_manager::autoscaling::{
    AutoScaling, GroupInstance, Hook, LifecycleAction, Refresh,
};
use network_interface_manager::aws::{AwsError, CallCounts};

use tokio::time::Instant;

use super::{err, Action, StrictAutoScaling};

#[async_trait]
impl AutoScaling for StrictAutoScaling {
    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<GroupInstance>, AwsError> {
        self.calls.count("DescribeAutoScalingInstances");
        self.ec2.travel().await;
        if ids.len() > 50 {
            return Err(err(
                "ValidationError",
                "The maximum number of instance IDs is 50",
            ));
        }
        self.tick();
        let lag = self.faults.lock().unwrap().read_lag;
        let cutoff = Instant::now() - lag.mul_f64(f64::from(self.ec2.roll()) / 100.0);
        let read = ids.iter().filter_map(|id| {
            let (group, lifecycle_state, healthy) = self.read_state(id, cutoff)?;
            Some(GroupInstance {
                instance_id: id.clone(),
                group,
                lifecycle_state,
                healthy,
            })
        });
        Ok(read.collect())
    }

    async fn describe_hooks(&self, group: &str) -> Result<Vec<Hook>, AwsError> {
        self.calls.count("DescribeLifecycleHooks");
        self.ec2.travel().await;
        let g = self.groups.lock().unwrap();
        let Some(hooks) = g.hooks.get(group) else {
            return Err(err("ValidationError", format!("Group {group} not found")));
        };
        Ok(hooks
            .iter()
            .map(|h| Hook {
                name: h.name.clone(),
                transition: Some(h.transition),
                heartbeat_timeout: Some(h.heartbeat),
            })
            .collect())
    }

    async fn refresh_in_progress(&self, group: &str) -> Result<Option<Refresh>, AwsError> {
        self.calls.count("DescribeInstanceRefreshes");
        self.ec2.travel().await;
        Ok(self.groups.lock().unwrap().refreshes.get(group).cloned())
    }

    async fn proceed(&self, action: &LifecycleAction) -> Result<(), AwsError> {
        self.calls.count("CompleteLifecycleAction");
        self.ec2.travel().await;
        if let Some((code, message)) = self.faults.lock().unwrap().next_complete.pop_front() {
            return Err(err(&code, message));
        }
        self.tick();
        let members = self.ec2.members_of(&action.instance_id);
        let attached = self.ec2.fully_attached(&action.instance_id);
        let tags = self.ec2.instance_tags(&action.instance_id);
        let volumes = self.ec2.volumes_attached_to(&action.instance_id);
        let ended = {
            let mut g = self.groups.lock().unwrap();
            let open = open_action(&mut g.actions, action)?;
            open.ended = Some((true, Instant::now(), false));
            open.members_then = members;
            open.attached_then = attached;
            open.tags_then = tags;
            open.volumes_then = volumes;
            open.clone()
        };
        self.after_end(&ended);
        Ok(())
    }

    /// [ASG-HOOK]: the timeout starts again from now; an action no longer
    /// open is refused as `CompleteLifecycleAction` refuses it.
    async fn heartbeat(&self, action: &LifecycleAction) -> Result<(), AwsError> {
        self.calls.count("RecordLifecycleActionHeartbeat");
        self.ec2.travel().await;
        if let Some((code, message)) = self.faults.lock().unwrap().next_heartbeat.pop_front() {
            return Err(err(&code, message));
        }
        self.tick();
        let mut g = self.groups.lock().unwrap();
        let hooks = g.hooks.get(&action.group).cloned().unwrap_or_default();
        let open = open_action(&mut g.actions, action)?;
        let hook = hooks.iter().find(|h| h.name == action.hook);
        let timeout = hook.expect("an open action has its hook").heartbeat;
        open.expires = (Instant::now() + timeout).min(open.cap);
        open.heartbeats += 1;
        Ok(())
    }

    fn calls(&self) -> CallCounts {
        self.calls.snapshot()
    }
}

/// The open action `action` names (by token, else by instance), or the
/// refusal Auto Scaling answers for one completed or timed out
/// ([ISS-TOKEN]: classified as done already).
fn open_action<'a>(
    actions: &'a mut [Action],
    action: &LifecycleAction,
) -> Result<&'a mut Action, AwsError> {
    let open = actions.iter_mut().find(|a| {
        a.ended.is_none()
            && a.group == action.group
            && a.hook == action.hook
            && match &action.token {
                Some(t) => &a.token == t,
                None => a.instance_id == action.instance_id,
            }
    });
    open.ok_or_else(|| {
        let by = match &action.token {
            Some(t) => format!("token {t}"),
            None => format!("instance ID {}", action.instance_id),
        };
        let message = format!("No active Lifecycle Action found with {by}");
        err("ValidationError", message)
    })
}
