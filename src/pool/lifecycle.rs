//! Lifecycle actions of our hooks (R20-R22): a launch goes on once the
//! instance holds its member (or none can come now); a termination hands
//! the member over first. Every other hook is left alone.

use super::model::{Once, Proceed};
use super::proceed;
use super::{not_yet, Manager, Outcome};
use crate::autoscaling::{GroupInstance, Hook, Transition};
use crate::aws::AwsError;
use crate::deadline::Deadline;
use crate::ec2::{Instance, InterfaceQuery};
use crate::event::{Given, LifecycleEvent};

impl Manager<'_> {
    pub async fn lifecycle_action(
        &self,
        event: &LifecycleEvent,
        deadline: Deadline,
    ) -> Result<Outcome, AwsError> {
        let given = &event.given;
        let action = &given.action;
        if !Hook::is_ours(&action.hook) {
            return Ok(Outcome::noted(format!(
                "hook {:?} is not ours: left alone",
                action.hook
            )));
        }
        let Some(asg) = self.auto_scaling else {
            return Ok(Outcome::noted("no Auto Scaling client: action left open"));
        };
        match given.transition {
            // Into the warm pool: no member there (R19), go on at once.
            Transition::Launching if event.into_warm_pool() => {
                let mut outcome = Outcome::noted("launch into the warm pool: no member");
                let proceeds = vec![Proceed {
                    group: action.group.clone(),
                    instance_id: action.instance_id.clone(),
                    transition: given.transition,
                    once: Once::ActionsDone,
                    volumes: Vec::new(),
                }];
                let hooks = proceed::Hooks::new();
                let (report, pace) = (&mut outcome.report, self.pace(deadline));
                let ec2 = self.ec2;
                proceed::complete(asg, ec2, proceeds, &hooks, Some(given), report, pace).await;
                Ok(outcome)
            }
            Transition::Launching => {
                self.instance_running(&action.instance_id, Some(given), deadline)
                    .await
            }
            Transition::Terminating => self.instance_terminating(given, deadline).await,
        }
    }

    /// R21: the instance waits in `Terminating:Wait`; its member goes to a
    /// waiting instance now, then the termination goes on.
    async fn instance_terminating(
        &self,
        given: &Given,
        deadline: Deadline,
    ) -> Result<Outcome, AwsError> {
        let id = given.action.instance_id.as_str();
        let ids = [id.to_string()];
        let held = InterfaceQuery::pools(&[]).attached_to(id);
        let (instance, held, groups) = tokio::join!(
            self.read_instance(id),
            self.ec2.describe_interfaces(&held),
            self.read_groups(&ids)
        );
        let (instance, held, mut groups) = (instance?, held?, groups?);
        // R16: Auto Scaling's read may lag behind the event, and show the
        // instance still serving; never hand over what a serving instance
        // holds on the event's word.
        let serving = |read: &Vec<GroupInstance>| {
            read.iter()
                .any(|g| crate::autoscaling::serves(&g.lifecycle_state, true))
        };
        if serving(&groups) {
            groups = self.fresh_groups(&ids, deadline, |g| !serving(g)).await?;
            if serving(&groups) {
                return Ok(not_yet(id, "the instance does not read as terminating yet"));
            }
        }
        let instance = instance.map(|mut i: Instance| {
            super::read::join_groups(&mut i, &groups, Some(given), self.settings.standby_holds);
            i
        });
        self.hand_over(id, instance, held, Some(given), deadline)
            .await
    }
}
