//! R20: the launches an invocation may let go on stay open while it works.
//! A volume on its way or an attachment settling can outlast a hook's
//! heartbeat timeout, and a hook that times out goes on (`CONTINUE`)
//! without the address or the data. So each such launch gets a heartbeat
//! `Settings::first_heartbeat` into the work, then every third of the
//! shortest heartbeat timeout of the hooks it names, read from the hooks
//! at the first beat. Work done sooner costs no call.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use super::model::Proceed;
use super::proceed::{self, Hooks};
use crate::autoscaling::{AutoScaling, LifecycleAction, Transition};
use crate::aws::ErrorKind;
use crate::concurrent::concurrently;
use crate::event::Given;

/// How the heartbeats are paced.
#[derive(Clone, Copy, Debug)]
pub struct Beat {
    pub first: Duration,
    pub concurrency: usize,
}

/// Runs `work`, recording heartbeats for the open launches among
/// `proceeds` while it lasts: its output, and the heartbeats recorded.
pub async fn while_working<T>(
    asg: &dyn AutoScaling,
    proceeds: &[Proceed],
    given: Option<&Given>,
    beat: Beat,
    work: impl Future<Output = T>,
) -> (T, Vec<LifecycleAction>) {
    let recorded = Mutex::new(Vec::new());
    let launches: Vec<&Proceed> = proceeds
        .iter()
        .filter(|p| p.transition == Transition::Launching)
        .collect();
    let output = if launches.is_empty() {
        work.await
    } else {
        tokio::select! {
            output = work => output,
            () = keep_open(asg, &launches, given, beat, &recorded) => unreachable!("it never ends"),
        }
    };
    (output, recorded.into_inner().unwrap_or_default())
}

/// Beats until dropped; an action that is no longer open is let be.
async fn keep_open(
    asg: &dyn AutoScaling,
    launches: &[&Proceed],
    given: Option<&Given>,
    beat: Beat,
    recorded: &Mutex<Vec<LifecycleAction>>,
) {
    tokio::time::sleep(beat.first).await;
    let groups: BTreeSet<String> = launches.iter().map(|p| p.group.clone()).collect();
    let groups = groups.into_iter().collect();
    let hooks = proceed::read_hooks(asg, groups, beat.concurrency).await;
    let (mut open, every) = actions(launches, given, &hooks, beat.first);
    loop {
        let call = |action: LifecycleAction| async move {
            let answer = asg.heartbeat(&action).await;
            (action, answer)
        };
        let answers = concurrently(beat.concurrency, std::mem::take(&mut open), call).await;
        for (action, answer) in answers {
            match answer {
                Ok(()) => {
                    recorded.lock().unwrap().push(action.clone());
                    open.push(action);
                }
                Err(e) if e.is(ErrorKind::AlreadyDone) => {}
                Err(e) => {
                    let instance = &action.instance_id;
                    tracing::warn!(%instance, error = %e, "a heartbeat failed (R20)");
                    open.push(action);
                }
            }
        }
        tokio::time::sleep(every).await;
    }
}

/// The actions to keep open, and how often: the event's own action (by
/// its token) or our launch hooks' on each group, every third of the
/// shortest heartbeat timeout among their hooks, never more often than
/// `first`. A group whose hooks could not be read has only the event's.
fn actions(
    launches: &[&Proceed],
    given: Option<&Given>,
    hooks: &Hooks,
    first: Duration,
) -> (Vec<LifecycleAction>, Duration) {
    let mut actions = Vec::new();
    let mut shortest: Option<Duration> = None;
    for launch in launches {
        let read = hooks.get(&launch.group).and_then(|h| h.as_ref().ok());
        let read = read.map(Vec::as_slice).unwrap_or_default();
        let named: Vec<LifecycleAction> = match given.filter(|g| proceed::names(g, launch)) {
            Some(given) => vec![given.action.clone()],
            None => proceed::ours(read, launch)
                .into_iter()
                .map(|(a, _)| a)
                .collect(),
        };
        for action in named {
            let hook = read.iter().find(|h| h.name == action.hook);
            if let Some(timeout) = hook.and_then(|h| h.heartbeat_timeout) {
                shortest = Some(shortest.map_or(timeout, |s| s.min(timeout)));
            }
            actions.push(action);
        }
    }
    let every = shortest.map_or(first, |s| (s / 3).max(first));
    (actions, every)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autoscaling::Hook;
    use crate::pool::model::Once;

    const FIRST: Duration = Duration::from_secs(10);

    fn launch(group: &str, instance: &str) -> Proceed {
        Proceed {
            group: group.into(),
            instance_id: instance.into(),
            transition: Transition::Launching,
            once: Once::ActionsDone,
            volumes: Vec::new(),
        }
    }

    fn hook(name: &str, transition: Transition, secs: u64) -> Hook {
        Hook {
            name: name.into(),
            transition: Some(transition),
            heartbeat_timeout: Some(Duration::from_secs(secs)),
        }
    }

    fn given(group: &str, instance: &str, hook: &str) -> Given {
        Given {
            action: LifecycleAction {
                group: group.into(),
                hook: hook.into(),
                instance_id: instance.into(),
                token: Some("token".into()),
            },
            transition: Transition::Launching,
            wait_state: "Pending:Wait",
        }
    }

    #[test]
    fn a_third_of_the_shortest_timeout_of_the_hooks_named() {
        let hooks = Hooks::from([(
            "g".to_string(),
            Ok(vec![
                hook(
                    "network-interface-manager-launch",
                    Transition::Launching,
                    600,
                ),
                hook(
                    "network-interface-manager-terminate",
                    Transition::Terminating,
                    60,
                ),
                hook("theirs", Transition::Launching, 30),
            ]),
        )]);
        let (actions, every) = actions(&[&launch("g", "i-1")], None, &hooks, FIRST);
        assert_eq!(every, Duration::from_secs(200));
        let names: Vec<&str> = actions.iter().map(|a| a.hook.as_str()).collect();
        assert_eq!(names, ["network-interface-manager-launch"]);
        assert_eq!(actions[0].token, None);
    }

    #[test]
    fn the_event_s_action_is_kept_open_by_its_token() {
        let hooks = Hooks::from([(
            "g".to_string(),
            Ok(vec![hook(
                "network-interface-manager-a",
                Transition::Launching,
                90,
            )]),
        )]);
        let event = given("g", "i-1", "network-interface-manager-a");
        let launches = [&launch("g", "i-1"), &launch("g", "i-2")];
        let (actions, every) = actions(&launches, Some(&event), &hooks, FIRST);
        assert_eq!(every, Duration::from_secs(30));
        assert_eq!(actions[0], event.action);
        assert_eq!(actions[1].instance_id, "i-2");
        assert_eq!(actions[1].token, None);
    }

    #[test]
    fn never_more_often_than_the_first_beat_nor_unread_hooks_guessed() {
        let short = Hooks::from([(
            "g".to_string(),
            Ok(vec![hook(
                "network-interface-manager-a",
                Transition::Launching,
                15,
            )]),
        )]);
        let (_, every) = actions(&[&launch("g", "i-1")], None, &short, FIRST);
        assert_eq!(every, FIRST);

        let unread = Hooks::from([(
            "g".to_string(),
            Err(crate::aws::AwsError::from_code(
                "Throttling",
                "Rate exceeded",
            )),
        )]);
        let event = given("g", "i-1", "network-interface-manager-a");
        let launches = [&launch("g", "i-1"), &launch("g", "i-2")];
        let (actions, every) = actions(&launches, Some(&event), &unread, FIRST);
        assert_eq!(actions, vec![event.action.clone()]);
        assert_eq!(every, FIRST);
    }
}
