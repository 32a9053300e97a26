//! CloudFormation as the cleanup sees it: a stack id's status, set by the
//! test; an id never set is one CloudFormation does not know.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use network_interface_manager::ec2::Ec2Error;
use network_interface_manager::stacks::{StackState, Stacks};

#[derive(Debug, Default)]
pub struct StrictStacks(Mutex<BTreeMap<String, String>>);

impl StrictStacks {
    pub fn set(&self, stack_id: &str, status: &str) {
        self.0
            .lock()
            .unwrap()
            .insert(stack_id.into(), status.into());
    }
}

#[async_trait]
impl Stacks for StrictStacks {
    async fn stack_state(&self, stack_id: &str) -> Result<StackState, Ec2Error> {
        let status = self.0.lock().unwrap().get(stack_id).cloned();
        Ok(status.map_or(StackState::Unknown, |s| StackState::from_status(&s)))
    }
}
