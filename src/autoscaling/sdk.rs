//! `AutoScaling` over aws-sdk-autoscaling, through the same endpoint and
//! retry settings as EC2 (so `AWS_ENDPOINT_URL` reaches a local server).

use crate::aws::{from_sdk, AwsError, CallCounter, CallCounts};
use async_trait::async_trait;
use aws_sdk_autoscaling::Client;
use std::time::Duration;

use super::{
    AutoScaling, GroupInstance, Hook, LifecycleAction, Refresh, Transition, DESCRIBE_BATCH,
};
use crate::concurrent::concurrently;

/// Batches read at once.
const CONCURRENCY: usize = 4;

#[derive(Debug)]
pub struct SdkAutoScaling {
    client: Client,
    calls: CallCounter,
}

impl SdkAutoScaling {
    pub fn new(client: Client) -> Self {
        Self {
            client,
            calls: CallCounter::default(),
        }
    }

    async fn describe_batch(&self, ids: &[String]) -> Result<Vec<GroupInstance>, AwsError> {
        self.calls.count("DescribeAutoScalingInstances");
        let answer = self
            .client
            .describe_auto_scaling_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .max_records(DESCRIBE_BATCH as i32)
            .send()
            .await
            .map_err(|e| from_sdk(e).during("DescribeAutoScalingInstances"))?;
        let read = answer.auto_scaling_instances().iter().filter_map(|i| {
            Some(GroupInstance {
                instance_id: i.instance_id()?.to_string(),
                group: i.auto_scaling_group_name()?.to_string(),
                lifecycle_state: i.lifecycle_state()?.to_string(),
                healthy: !i
                    .health_status()
                    .is_some_and(|h| h.eq_ignore_ascii_case("UNHEALTHY")),
            })
        });
        Ok(read.collect())
    }
}

#[async_trait]
impl AutoScaling for SdkAutoScaling {
    async fn describe_instances(&self, ids: &[String]) -> Result<Vec<GroupInstance>, AwsError> {
        let batches: Vec<Vec<String>> = ids.chunks(DESCRIBE_BATCH).map(<[_]>::to_vec).collect();
        let read = |batch: Vec<String>| async move { self.describe_batch(&batch).await };
        let answers = concurrently(CONCURRENCY, batches, read).await;
        let mut all = Vec::new();
        for answer in answers {
            all.extend(answer?);
        }
        Ok(all)
    }

    async fn describe_hooks(&self, group: &str) -> Result<Vec<Hook>, AwsError> {
        self.calls.count("DescribeLifecycleHooks");
        let answer = self
            .client
            .describe_lifecycle_hooks()
            .auto_scaling_group_name(group)
            .send()
            .await
            .map_err(|e| from_sdk(e).during("DescribeLifecycleHooks"))?;
        let hooks = answer.lifecycle_hooks().iter().filter_map(|h| {
            Some(Hook {
                name: h.lifecycle_hook_name()?.to_string(),
                transition: h.lifecycle_transition().and_then(Transition::parse),
                heartbeat_timeout: h
                    .heartbeat_timeout()
                    .and_then(|s| u64::try_from(s).ok())
                    .map(Duration::from_secs),
            })
        });
        Ok(hooks.collect())
    }

    async fn refresh_in_progress(&self, group: &str) -> Result<Option<Refresh>, AwsError> {
        self.calls.count("DescribeInstanceRefreshes");
        let answer = self
            .client
            .describe_instance_refreshes()
            .auto_scaling_group_name(group)
            .send()
            .await
            .map_err(|e| from_sdk(e).during("DescribeInstanceRefreshes"))?;
        let in_progress = answer.instance_refreshes().iter().find(|r| {
            r.status()
                .is_some_and(|s| s.as_str().eq_ignore_ascii_case("InProgress"))
        });
        Ok(in_progress.and_then(|r| {
            Some(Refresh {
                started_ms: u64::try_from(r.start_time()?.to_millis().ok()?).ok()?,
                skip_matching: r
                    .preferences()
                    .and_then(|p| p.skip_matching())
                    .unwrap_or(false),
            })
        }))
    }

    async fn proceed(&self, action: &LifecycleAction) -> Result<(), AwsError> {
        self.calls.count("CompleteLifecycleAction");
        let request = self
            .client
            .complete_lifecycle_action()
            .auto_scaling_group_name(&action.group)
            .lifecycle_hook_name(&action.hook)
            .lifecycle_action_result("CONTINUE");
        let request = match &action.token {
            Some(token) => request.lifecycle_action_token(token),
            None => request.instance_id(&action.instance_id),
        };
        request
            .send()
            .await
            .map_err(|e| from_sdk(e).during("CompleteLifecycleAction"))?;
        Ok(())
    }

    async fn heartbeat(&self, action: &LifecycleAction) -> Result<(), AwsError> {
        self.calls.count("RecordLifecycleActionHeartbeat");
        let request = self
            .client
            .record_lifecycle_action_heartbeat()
            .auto_scaling_group_name(&action.group)
            .lifecycle_hook_name(&action.hook);
        let request = match &action.token {
            Some(token) => request.lifecycle_action_token(token),
            None => request.instance_id(&action.instance_id),
        };
        request
            .send()
            .await
            .map_err(|e| from_sdk(e).during("RecordLifecycleActionHeartbeat"))?;
        Ok(())
    }

    fn calls(&self) -> CallCounts {
        self.calls.snapshot()
    }
}
