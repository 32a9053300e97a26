//! What CloudFormation says of a stack and its resources: whether an
//! operation may still come, and what became of a deleted stack's pools
//! (C12, C13). Two calls by stack id (`DescribeStacks`, `ListStackResources`),
//! behind a trait; their errors are reduced to the same kinds as EC2's.

use crate::aws::{from_sdk, AwsError, ErrorKind, Missing};
use async_trait::async_trait;

/// Where a stack stands, as far as deleting what it declared goes
/// [CFN-STATUS][CFN-FAIL].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StackState {
    /// CloudFormation does not know the stack id (or forgot it, 90 days
    /// after its deletion): never act on ambiguity.
    Unknown,
    /// An operation is under way (`*_IN_PROGRESS`, and any status AWS adds
    /// later): a rollback may come.
    InProgress(String),
    /// An operation stopped half-way (`*_FAILED`): a rollback, a retry or a
    /// `ContinueUpdateRollback` may still send requests.
    Halted(String),
    /// No operation under way and none pending (`*_COMPLETE`).
    Settled(String),
}

impl StackState {
    pub fn from_status(status: &str) -> Self {
        let status = status.to_string();
        if status.ends_with("_COMPLETE") {
            Self::Settled(status)
        } else if status.ends_with("_FAILED") {
            Self::Halted(status)
        } else {
            Self::InProgress(status)
        }
    }

    /// A nested stack as its root stack stands: CloudFormation rolls a
    /// root's nested stacks back with it, and no source says that a nested
    /// stack never reads `*_COMPLETE` while its root may still roll back
    /// (guess: the harsher reading). A nested stack that is gone stays gone.
    pub fn under_root(self, root: StackState) -> Self {
        match (&self, root) {
            (Self::Settled(_), Self::InProgress(r) | Self::Halted(r)) if !self.is_gone() => {
                Self::InProgress(format!("its root stack is {r}"))
            }
            _ => self,
        }
    }

    /// The stack is deleted, or a failed create rolled back: its resources
    /// are deleted or retained, and no request for them comes again (C13).
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Settled(s) if s == "DELETE_COMPLETE" || s == "ROLLBACK_COMPLETE")
    }
}

/// One resource of a stack, as `ListStackResources` answers [CFN-RES].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackResource {
    pub logical_id: String,
    pub physical_id: Option<String>,
    /// `DELETE_COMPLETE`, `DELETE_SKIPPED` (retained), ...
    pub status: String,
}

#[async_trait]
pub trait Stacks: Send + Sync {
    async fn stack_state(&self, stack_id: &str) -> Result<StackState, AwsError>;
    /// The resources of a stack, by its id: a deleted stack's too, for 90
    /// days [CFN-DEL].
    async fn resources(&self, stack_id: &str) -> Result<Vec<StackResource>, AwsError>;
}

/// `Stacks` over aws-sdk-cloudformation. Both calls by stack id also answer
/// for deleted stacks [CFN-DESCRIBE][CFN-DEL].
#[derive(Debug)]
pub struct SdkStacks {
    client: aws_sdk_cloudformation::Client,
}

impl SdkStacks {
    pub fn new(client: aws_sdk_cloudformation::Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl Stacks for SdkStacks {
    async fn stack_state(&self, stack_id: &str) -> Result<StackState, AwsError> {
        let answer = self
            .client
            .describe_stacks()
            .stack_name(stack_id)
            .send()
            .await;
        let out = match answer.map_err(|e| from_sdk(e).during("DescribeStacks")) {
            Ok(out) => out,
            Err(e) if e.is(ErrorKind::NotFound(Missing::Stack)) => return Ok(StackState::Unknown),
            Err(e) => return Err(e),
        };
        let stack = out.stacks().first();
        let status = stack.and_then(|s| s.stack_status());
        let state = status.map_or(StackState::Unknown, |s| StackState::from_status(s.as_str()));
        match stack
            .and_then(|s| s.root_id())
            .filter(|root| *root != stack_id)
        {
            Some(root) if matches!(state, StackState::Settled(_)) => {
                Ok(state.under_root(self.stack_state(root).await?))
            }
            _ => Ok(state),
        }
    }

    async fn resources(&self, stack_id: &str) -> Result<Vec<StackResource>, AwsError> {
        let mut pages = self
            .client
            .list_stack_resources()
            .stack_name(stack_id)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| from_sdk(e).during("ListStackResources"))?;
            let resources = page
                .stack_resource_summaries()
                .iter()
                .map(|r| StackResource {
                    logical_id: r.logical_resource_id().unwrap_or_default().to_string(),
                    physical_id: r.physical_resource_id().map(str::to_string),
                    status: r
                        .resource_status()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default(),
                });
            found.extend(resources);
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_complete_statuses_are_settled_and_only_deleted_or_rolled_back_stacks_are_gone() {
        let table = [
            ("CREATE_COMPLETE", "settled", false),
            ("UPDATE_IN_PROGRESS", "in progress", false),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "in progress", false),
            ("REVIEW_IN_PROGRESS", "in progress", false),
            ("UPDATE_ROLLBACK_COMPLETE", "settled", false),
            ("UPDATE_FAILED", "halted", false),
            ("UPDATE_ROLLBACK_FAILED", "halted", false),
            ("ROLLBACK_FAILED", "halted", false),
            ("DELETE_FAILED", "halted", false),
            ("ROLLBACK_COMPLETE", "settled", true),
            ("DELETE_COMPLETE", "settled", true),
            ("A_STATUS_AWS_ADDS_LATER", "in progress", false),
        ];
        for (status, kind, gone) in table {
            let state = StackState::from_status(status);
            let actual = match state {
                StackState::Settled(_) => "settled",
                StackState::Halted(_) => "halted",
                StackState::InProgress(_) => "in progress",
                StackState::Unknown => "unknown",
            };
            assert_eq!(actual, kind, "{status}");
            assert_eq!(state.is_gone(), gone, "{status}");
        }
    }

    #[test]
    fn a_nested_stack_is_settled_only_once_its_root_is_or_once_it_is_gone() {
        let status = StackState::from_status;
        let table = [
            ("UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", false),
            ("UPDATE_COMPLETE", "UPDATE_ROLLBACK_IN_PROGRESS", false),
            ("UPDATE_COMPLETE", "UPDATE_ROLLBACK_FAILED", false),
            ("UPDATE_COMPLETE", "UPDATE_COMPLETE", true),
            (
                "CREATE_COMPLETE",
                "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
                false,
            ),
            ("DELETE_COMPLETE", "DELETE_IN_PROGRESS", true),
            ("ROLLBACK_COMPLETE", "UPDATE_IN_PROGRESS", true),
        ];
        for (own, its_root, settled) in table {
            let state = status(own).under_root(status(its_root));
            assert_eq!(
                matches!(state, StackState::Settled(_)),
                settled,
                "{own} under {its_root}"
            );
        }
        let unknown_root = status("UPDATE_COMPLETE").under_root(StackState::Unknown);
        assert_eq!(unknown_root, StackState::Settled("UPDATE_COMPLETE".into()));
    }
}
