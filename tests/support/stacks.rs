//! CloudFormation as the cleanup sees it: a stack id's status and its
//! resources, set by the test; an id never set is one CloudFormation does
//! not know [CFN-STATUS][CFN-RES].

use network_interface_manager::aws::AwsError;
use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;

use network_interface_manager::stacks::{StackResource, StackState, Stacks};

#[derive(Debug, Default)]
pub struct StrictStacks {
    statuses: Mutex<BTreeMap<String, String>>,
    resources: Mutex<BTreeMap<String, Vec<StackResource>>>,
}

impl StrictStacks {
    pub fn set(&self, stack_id: &str, status: &str) {
        let mut statuses = self.statuses.lock().unwrap();
        statuses.insert(stack_id.into(), status.into());
    }

    /// The resource `logical_id` of the stack, in `status`.
    pub fn set_resource(&self, stack_id: &str, logical_id: &str, physical_id: &str, status: &str) {
        let mut resources = self.resources.lock().unwrap();
        let listed = resources.entry(stack_id.into()).or_default();
        listed.retain(|r| r.logical_id != logical_id);
        listed.push(StackResource {
            logical_id: logical_id.into(),
            physical_id: Some(physical_id.into()),
            status: status.into(),
        });
    }

    /// The stack deleted with the pool `logical_id` in it: `DELETE_COMPLETE`,
    /// and the pool `DELETE_SKIPPED` when it was retained, else
    /// `DELETE_COMPLETE` (no Delete reached the provider in either case).
    pub fn delete(&self, stack_id: &str, logical_id: &str, physical_id: &str, retained: bool) {
        let status = if retained {
            "DELETE_SKIPPED"
        } else {
            "DELETE_COMPLETE"
        };
        self.set_resource(stack_id, logical_id, physical_id, status);
        self.set(stack_id, "DELETE_COMPLETE");
    }
}

#[async_trait]
impl Stacks for StrictStacks {
    async fn stack_state(&self, stack_id: &str) -> Result<StackState, AwsError> {
        let status = self.statuses.lock().unwrap().get(stack_id).cloned();
        Ok(status.map_or(StackState::Unknown, |s| StackState::from_status(&s)))
    }

    async fn resources(&self, stack_id: &str) -> Result<Vec<StackResource>, AwsError> {
        if !self.statuses.lock().unwrap().contains_key(stack_id) {
            let m = format!("Stack with id {stack_id} does not exist");
            return Err(AwsError::from_code("ValidationError", &m));
        }
        let resources = self.resources.lock().unwrap();
        Ok(resources.get(stack_id).cloned().unwrap_or_default())
    }
}
