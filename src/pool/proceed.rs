//! Lets the lifecycle actions of our hooks go on (R20-R22): after the plan's
//! EC2 actions, each `Proceed` whose instance had no transient failure is
//! completed with `CONTINUE`, for every hook of ours on its group and
//! transition (or by the event's token). Never `ABANDON`.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::apply::{failed, Failed, Report};
use super::plan::Proceed;
use crate::autoscaling::{AutoScaling, Completion, Hook, LifecycleAction, Transition};
use crate::concurrent::concurrently;
use crate::ec2::Ec2Error;

/// The lifecycle action an event named: completed by its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Given {
    pub action: LifecycleAction,
    pub transition: Transition,
}

/// A lifecycle action completed with `CONTINUE`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Continued {
    #[serde(flatten)]
    pub action: LifecycleAction,
    pub transition: Transition,
    /// No action was open any more: completed before, or timed out.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub already_done: bool,
}

/// Each group's hooks, or why they could not be read.
pub type Hooks = BTreeMap<String, Result<Vec<Hook>, Ec2Error>>;

/// The groups whose hooks must be read for `proceeds`: all but the event's.
pub fn groups_to_read(proceeds: &[Proceed], given: Option<&Given>) -> Vec<String> {
    let groups: BTreeSet<&str> = proceeds
        .iter()
        .filter(|p| given.is_none_or(|g| !names(g, p)))
        .map(|p| p.group.as_str())
        .collect();
    groups.into_iter().map(str::to_string).collect()
}

pub async fn read_hooks(asg: &dyn AutoScaling, groups: Vec<String>, concurrency: usize) -> Hooks {
    let read = |group: String| async move {
        let hooks = asg.describe_hooks(&group).await;
        (group, hooks)
    };
    concurrently(concurrency, groups, read)
        .await
        .into_iter()
        .collect()
}

/// Completes every `Proceed` the report allows, recording what was done
/// (or failed) in `report`.
pub async fn complete(
    asg: &dyn AutoScaling,
    proceeds: Vec<Proceed>,
    hooks: &Hooks,
    given: Option<&Given>,
    report: &mut Report,
    concurrency: usize,
) {
    let mut actions = Vec::new();
    for proceed in proceeds {
        // A transient failure: the retry (or the sync) comes back for it.
        let retried = |f: &Failed| f.transient && f.instance_id == proceed.instance_id;
        if report.failed.iter().any(retried) {
            continue;
        }
        if let Some(given) = given.filter(|g| names(g, &proceed)) {
            actions.push((given.action.clone(), proceed.transition));
            continue;
        }
        match &hooks[&proceed.group] {
            Ok(hooks) => {
                let ours = hooks
                    .iter()
                    .filter(|h| Hook::is_ours(&h.name) && h.transition == Some(proceed.transition));
                actions.extend(ours.map(|h| {
                    let action = LifecycleAction {
                        group: proceed.group.clone(),
                        hook: h.name.clone(),
                        instance_id: proceed.instance_id.clone(),
                        token: None,
                    };
                    (action, proceed.transition)
                }));
            }
            Err(e) => report
                .failed
                .push(failed("", &proceed.instance_id, None, e)),
        }
    }
    let done = concurrently(concurrency, actions, |(action, transition)| async move {
        let answer = asg.proceed(&action).await;
        (action, transition, answer)
    })
    .await;
    for (action, transition, answer) in done {
        match answer {
            Ok(completion) => report.continued.push(Continued {
                action,
                transition,
                already_done: completion == Completion::AlreadyDone,
            }),
            Err(e) => report
                .failed
                .push(failed("", &action.instance_id, None, &e)),
        }
    }
    report
        .continued
        .sort_by(|a, b| a.action.instance_id.cmp(&b.action.instance_id));
}

/// Whether the event's action is the one `proceed` lets go on.
fn names(given: &Given, proceed: &Proceed) -> bool {
    given.action.instance_id == proceed.instance_id
        && given.action.group == proceed.group
        && given.transition == proceed.transition
}
