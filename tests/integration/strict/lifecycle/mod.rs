//! Auto Scaling lifecycle states and hooks (docs/design.md, R19-R22), on the
//! strict EC2 and Auto Scaling models together.

use std::sync::Arc;
use std::time::Duration;

use network_interface_manager::autoscaling::Transition::{Launching, Terminating};
use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::InstanceState::{self, *};
use network_interface_manager::handler::{handle, Context, Handled};
use network_interface_manager::pool::Settings;
use serde_json::Value;

use crate::support::strict::autoscaling::{HookSpec, StrictAutoScaling};
use crate::support::strict::StrictEc2;
use crate::support::world::{done, fast, fixture, state_event};

mod handover;
mod launch;
mod resting;
mod round_trips;
mod succession;

const LAUNCH_HOOK: &str = "network-interface-manager-launch";
const TERMINATE_HOOK: &str = "network-interface-manager-terminate";
const BOOT: Duration = Duration::from_millis(30);

pub struct Fleet {
    pub ec2: Arc<StrictEc2>,
    pub asg: StrictAutoScaling,
    pub settings: Settings,
}

impl Fleet {
    /// Group `web-asg` of pool `web`, with the given hooks.
    pub fn new(hooks: Vec<HookSpec>) -> Self {
        let ec2 = Arc::new(StrictEc2::new());
        let asg = StrictAutoScaling::new(ec2.clone());
        asg.create_group("web-asg", hooks);
        Self {
            ec2,
            asg,
            settings: fast(),
        }
    }

    pub fn with_launch_hook() -> Self {
        Self::new(vec![HookSpec::new(LAUNCH_HOOK, Launching)])
    }

    pub async fn deliver(&self, event: &Value) -> Handled {
        let mut ctx = Context::new(self.ec2.as_ref(), self.settings.clone());
        ctx.auto_scaling = Some(&self.asg);
        handle(&ctx, event, Deadline::after(Duration::from_secs(30))).await
    }

    pub async fn deliver_ok(&self, event: &Value) -> Handled {
        done(self.deliver(event).await)
    }

    /// As `deliver`, with `budget` left before the Lambda's deadline.
    pub async fn deliver_within(&self, event: &Value, budget: Duration) -> Handled {
        let mut ctx = Context::new(self.ec2.as_ref(), self.settings.clone());
        ctx.auto_scaling = Some(&self.asg);
        handle(&ctx, event, Deadline::after(budget)).await
    }

    /// A new instance of the group, and its launch lifecycle events.
    pub fn launch(&self, subnet: &str) -> (String, Vec<Value>) {
        self.asg.launch("web-asg", "web", subnet, BOOT, false)
    }

    pub fn in_service(&self, subnet: &str) -> String {
        self.asg.in_service("web-asg", "web", subnet)
    }

    /// The instance's `running` event, once EC2 runs it.
    pub async fn running(&self, instance: &str) -> Handled {
        tokio::time::sleep(BOOT).await;
        self.deliver_ok(&state_event(instance, Running)).await
    }

    pub async fn event(&self, instance: &str, state: InstanceState) -> Handled {
        self.deliver_ok(&state_event(instance, state)).await
    }
}

/// A group with our terminate hook: `old` holds the one member of its AZ,
/// `waiting` waits for it.
async fn holder_and_waiting() -> (Fleet, String, String, String) {
    let f = Fleet::new(vec![HookSpec::new(TERMINATE_HOOK, Terminating)]);
    let member = f.ec2.add_member("web", "subnet-a1");
    let old = f.in_service("subnet-a1");
    f.event(&old, Running).await;
    let waiting = f.in_service("subnet-a1");
    (f, member, old, waiting)
}

pub(super) fn scheduled() -> Value {
    fixture("scheduled-event.json")
}
