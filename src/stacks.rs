//! What CloudFormation says of a stack: whether an operation is under way.
//! The one CloudFormation call the manager makes (`DescribeStacks`, by stack
//! id), behind a trait; its errors are reduced to the same kinds as EC2's.

use async_trait::async_trait;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;

use crate::ec2::Ec2Error;

/// Where a stack stands, as far as deleting what it declared goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StackState {
    /// CloudFormation does not know the stack id: never act on ambiguity.
    Unknown,
    /// An operation is under way (`*_IN_PROGRESS`): a rollback may come.
    InProgress(String),
    /// No operation under way: `UPDATE_COMPLETE`, `DELETE_COMPLETE`, ...
    Settled(String),
}

impl StackState {
    pub fn from_status(status: &str) -> Self {
        match status.ends_with("_IN_PROGRESS") {
            true => Self::InProgress(status.to_string()),
            false => Self::Settled(status.to_string()),
        }
    }

    /// The stack and what it declared are gone: deleted, or a failed
    /// create rolled back (C13).
    pub fn is_gone(&self) -> bool {
        matches!(self, Self::Settled(s) if s == "DELETE_COMPLETE" || s == "ROLLBACK_COMPLETE")
    }
}

#[async_trait]
pub trait Stacks: Send + Sync {
    async fn stack_state(&self, stack_id: &str) -> Result<StackState, Ec2Error>;
}

/// `Stacks` over aws-sdk-cloudformation. `DescribeStacks` by stack id also
/// answers for deleted stacks (`DELETE_COMPLETE`) [CFN-DESCRIBE].
#[derive(Debug)]
pub struct SdkStacks(aws_sdk_cloudformation::Client);

impl SdkStacks {
    pub fn new(client: aws_sdk_cloudformation::Client) -> Self {
        Self(client)
    }
}

#[async_trait]
impl Stacks for SdkStacks {
    async fn stack_state(&self, stack_id: &str) -> Result<StackState, Ec2Error> {
        let answer = self.0.describe_stacks().stack_name(stack_id).send().await;
        match answer {
            Ok(out) => Ok(out
                .stacks()
                .first()
                .and_then(|s| s.stack_status())
                .map_or(StackState::Unknown, |s| StackState::from_status(s.as_str()))),
            Err(e)
                if e.code() == Some("ValidationError")
                    && e.message().is_some_and(|m| m.contains("does not exist")) =>
            {
                Ok(StackState::Unknown)
            }
            Err(e) => Err(crate::ec2::sdk::map_error(e).during("DescribeStacks")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_deleted_or_rolled_back_stack_is_gone() {
        let table = [
            ("CREATE_COMPLETE", false, false),
            ("UPDATE_IN_PROGRESS", true, false),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", true, false),
            ("UPDATE_ROLLBACK_COMPLETE", false, false),
            ("ROLLBACK_COMPLETE", false, true),
            ("DELETE_COMPLETE", false, true),
            ("DELETE_FAILED", false, false),
        ];
        for (status, in_progress, gone) in table {
            let state = StackState::from_status(status);
            assert_eq!(
                matches!(state, StackState::InProgress(_)),
                in_progress,
                "{status}"
            );
            assert_eq!(state.is_gone(), gone, "{status}");
        }
    }
}
