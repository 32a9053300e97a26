//! Lets the lifecycle actions of our hooks go on (R20-R22): after the plan's
//! EC2 actions, each `Proceed` whose instance's actions are all done (none
//! left, none failed in a way that blocks it) and whose member reads
//! `attached` where it waits for one, is completed with `CONTINUE`, for
//! every hook of ours on its group and transition (or by the event's
//! token). Never `ABANDON`.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Once, Proceed};
use super::report::{Continued, Failed, Left, LeftAction, Report};
use crate::autoscaling::{AutoScaling, Hook, LifecycleAction, Transition};
use crate::aws::{AwsError, ErrorKind};
use crate::concurrent::concurrently;
use crate::deadline::{Backoff, Deadline};
use crate::ec2::{
    Ec2, InterfaceQuery, NetworkInterface, Volume, VolumeAttachmentStatus, VolumeQuery,
};
use crate::event::Given;

/// Each group's hooks, or why they could not be read.
pub type Hooks = BTreeMap<String, Result<Vec<Hook>, AwsError>>;

/// How the completions are made: at most `concurrency` calls at once, and
/// waits for an attachment bounded by `deadline`.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    pub concurrency: usize,
    pub backoff: Backoff,
    pub deadline: Deadline,
}

/// The proceeds that concern the event: an instance waits in one state at
/// a time, so the event's action is the only one open on its instance.
pub fn relevant(proceeds: Vec<Proceed>, given: Option<&Given>) -> Vec<Proceed> {
    let other = |p: &Proceed| {
        given.is_some_and(|g| g.action.instance_id == p.instance_id && g.transition != p.transition)
    };
    proceeds.into_iter().filter(|p| !other(p)).collect()
}

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

/// Completes every `Proceed` the report allows once its member reads
/// attached, recording what was done, failed or left in `report`.
pub async fn complete(
    asg: &dyn AutoScaling,
    ec2: &dyn Ec2,
    proceeds: Vec<Proceed>,
    hooks: &Hooks,
    given: Option<&Given>,
    report: &mut Report,
    pace: Pace,
) {
    let (mut ready, mut beats) = (Vec::new(), Vec::new());
    let (mut awaited, mut volumes) = (BTreeMap::new(), BTreeMap::new());
    for proceed in proceeds {
        match waits_for(&proceed, report) {
            Wait::Heartbeat => beats.push(proceed),
            Wait::Open => {}
            Wait::Retry => report.left.push(left(&proceed)),
            Wait::Nothing => ready.push(proceed),
            Wait::Attached { member, data } => {
                if let Some(id) = member {
                    awaited.insert(id, proceed.instance_id.clone());
                }
                for id in data {
                    volumes.insert(id, proceed.instance_id.clone());
                }
                ready.push(proceed);
            }
        }
    }
    // R20: an instance that boots on a half-attached interface gets
    // conflicting routes: a launch goes on once its member reads attached,
    // and its member's data volumes too (R27).
    let (attached, volumes_attached) = tokio::join!(
        attached(ec2, &awaited, pace),
        volumes_attached(ec2, &volumes, pace)
    );
    let (ready, late): (Vec<_>, Vec<_>) = ready.into_iter().partition(|p| {
        let on_it = |(_, i): &(&String, &String)| **i == p.instance_id;
        let waits = awaited.iter().find(on_it);
        let member = waits.is_none_or(|(id, _)| attached.contains(id));
        member
            && volumes
                .iter()
                .filter(on_it)
                .all(|(id, _)| volumes_attached.contains(id))
    });
    report.left.extend(late.iter().map(left));
    let actions = actions_of(ready, hooks, given, report);
    let beats = actions_of(beats, hooks, given, report);
    heartbeat(asg, beats, report, pace).await;
    let done = concurrently(
        pace.concurrency,
        actions,
        |(action, transition)| async move {
            let answer = asg.proceed(&action).await;
            (action, transition, answer)
        },
    )
    .await;
    for (action, transition, answer) in done {
        let already_done = match answer {
            Ok(()) => false,
            Err(e) if e.is(ErrorKind::AlreadyDone) => true,
            Err(e) => {
                report
                    .failed
                    .push(Failed::of("", &action.instance_id, None, &e));
                continue;
            }
        };
        report.continued.push(Continued {
            action,
            transition,
            already_done,
        });
    }
    report
        .continued
        .sort_by(|a, b| a.action.instance_id.cmp(&b.action.instance_id));
}

/// The lifecycle actions of `proceeds`: the event's own, or our hooks' on
/// each group; a group whose hooks could not be read fails its instances.
fn actions_of(
    proceeds: Vec<Proceed>,
    hooks: &Hooks,
    given: Option<&Given>,
    report: &mut Report,
) -> Vec<(LifecycleAction, Transition)> {
    let mut actions = Vec::new();
    for proceed in proceeds {
        if let Some(given) = given.filter(|g| names(g, &proceed)) {
            actions.push((given.action.clone(), proceed.transition));
            continue;
        }
        match &hooks[&proceed.group] {
            Ok(hooks) => actions.extend(ours(hooks, &proceed)),
            Err(e) => report
                .failed
                .push(Failed::of("", &proceed.instance_id, None, e)),
        }
    }
    actions
}

/// R27: a launch whose seat's volume is on its way stays open, its timeout
/// started again (bounded by the group's global timeout [ASG-HOOK]). One
/// no longer open needs none.
async fn heartbeat(
    asg: &dyn AutoScaling,
    beats: Vec<(LifecycleAction, Transition)>,
    report: &mut Report,
    pace: Pace,
) {
    let beat = |(action, _): (LifecycleAction, Transition)| async move {
        let answer = asg.heartbeat(&action).await;
        (action, answer)
    };
    for (action, answer) in concurrently(pace.concurrency, beats, beat).await {
        match answer {
            Ok(()) => report.heartbeats.push(action),
            Err(e) if e.is(ErrorKind::AlreadyDone) => {}
            Err(e) => report
                .failed
                .push(Failed::of("", &action.instance_id, None, &e)),
        }
    }
}

/// What a proceed waits for once the plan's actions are carried out.
enum Wait {
    /// Nothing: complete it.
    Nothing,
    /// This member (if any) and these data volumes to read attached.
    Attached {
        member: Option<String>,
        data: Vec<String>,
    },
    /// It stays open; the event is retried (a race lost: the member
    /// another invocation attached is read next time).
    Retry,
    /// It stays open: an action on its instance failed or was left (and
    /// says so); the next event or sync completes it.
    Open,
    /// It stays open, its timeout started again: its volume is on its way
    /// (R27).
    Heartbeat,
}

fn waits_for(proceed: &Proceed, report: &Report) -> Wait {
    let on_it = |id: &str| id == proceed.instance_id;
    // A launch stays open after any failure (it must not go on without its
    // address); a termination only after a transient one, which the retry
    // hands over (EC2 detaches at termination anyway).
    let launching = proceed.transition == Transition::Launching;
    let blocks = |f: &Failed| on_it(&f.instance_id) && (f.is_transient() || launching);
    let left = report.left.iter().filter(|l| on_it(&l.instance_id));
    let left: Vec<LeftAction> = left.map(|l| l.action).collect();
    // R27: its volume was still leaving its former instance at the deadline.
    let volume_late = left.contains(&LeftAction::AttachVolume);
    if launching && volume_late && !report.failed.iter().any(blocks) {
        return Wait::Heartbeat;
    }
    if !left.is_empty() || report.failed.iter().any(blocks) {
        return Wait::Open;
    }
    let data = proceed.volumes.clone();
    match &proceed.once {
        Once::VolumeFreed => Wait::Heartbeat,
        Once::ActionsDone if data.is_empty() => Wait::Nothing,
        Once::ActionsDone => Wait::Attached { member: None, data },
        Once::Holds(id) => Wait::Attached {
            member: Some(id.clone()),
            data,
        },
        Once::Gets => {
            let got = report.attached.iter().find(|a| on_it(&a.instance_id));
            let short = report
                .shortages
                .iter()
                .any(|s| s.instance_ids.iter().any(|i| on_it(i)));
            let data = report
                .volumes_attached
                .iter()
                .filter(|v| on_it(&v.instance_id));
            match (got, short) {
                (Some(a), _) => Wait::Attached {
                    member: Some(a.interface_id.clone()),
                    data: data.map(|v| v.volume.volume_id.clone()).collect(),
                },
                // Every candidate was taken meanwhile, by serving
                // instances: none can come now.
                (None, true) => Wait::Nothing,
                (None, false) => Wait::Retry,
            }
        }
    }
}

/// The members of `awaited` (member -> instance) that read attached to
/// their instance before the deadline.
async fn attached(
    ec2: &dyn Ec2,
    awaited: &BTreeMap<String, String>,
    pace: Pace,
) -> BTreeSet<String> {
    let ids: Vec<String> = awaited.keys().cloned().collect();
    let query = InterfaceQuery::ids(&ids);
    let read = || ec2.describe_interfaces(&query);
    read_attached(awaited, pace, read, member_on).await
}

/// The same for volumes (R27).
async fn volumes_attached(
    ec2: &dyn Ec2,
    awaited: &BTreeMap<String, String>,
    pace: Pace,
) -> BTreeSet<String> {
    let query = VolumeQuery::Ids(awaited.keys().cloned().collect());
    let read = || ec2.describe_volumes(&query);
    read_attached(awaited, pace, read, volume_on).await
}

/// Reads until each of `awaited` (id -> instance) is attached to its
/// instance (`on`: an item's id and the instance it reads attached to), or
/// the deadline comes: the ids that are. No read when none is awaited; an
/// unread answer is left for later, like an attachment still settling.
async fn read_attached<T, Fut>(
    awaited: &BTreeMap<String, String>,
    pace: Pace,
    read: impl FnMut() -> Fut,
    on: fn(&T) -> (&str, Option<&str>),
) -> BTreeSet<String>
where
    Fut: std::future::Future<Output = Result<Vec<T>, AwsError>>,
{
    if awaited.is_empty() {
        return BTreeSet::new();
    }
    let on_its_instance = |t: &T| {
        let (id, instance) = on(t);
        instance.is_some() && instance == awaited.get(id).map(String::as_str)
    };
    let all = |read: &Vec<T>| read.iter().filter(|t| on_its_instance(t)).count() == awaited.len();
    match pace.deadline.read_until(pace.backoff, read, all).await {
        Ok((last, _)) => last
            .iter()
            .filter(|t| on_its_instance(t))
            .map(|t| on(t).0.to_string())
            .collect(),
        Err(_) => BTreeSet::new(),
    }
}

fn member_on(m: &NetworkInterface) -> (&str, Option<&str>) {
    let attached = m.attachment.as_ref().filter(|a| a.is_attached());
    (&m.id, attached.map(|a| a.instance_id.as_str()))
}

fn volume_on(v: &Volume) -> (&str, Option<&str>) {
    let attached = v.attachment.as_ref();
    let attached = attached.filter(|a| a.status == VolumeAttachmentStatus::Attached);
    (&v.id, attached.map(|a| a.instance_id.as_str()))
}

/// Our hooks' actions on the proceed's group and transition, by instance.
pub(super) fn ours(hooks: &[Hook], proceed: &Proceed) -> Vec<(LifecycleAction, Transition)> {
    let ours = hooks
        .iter()
        .filter(|h| Hook::is_ours(&h.name) && h.transition == Some(proceed.transition));
    ours.map(|h| {
        let action = LifecycleAction {
            group: proceed.group.clone(),
            hook: h.name.clone(),
            instance_id: proceed.instance_id.clone(),
            token: None,
        };
        (action, proceed.transition)
    })
    .collect()
}

fn left(proceed: &Proceed) -> Left {
    Left {
        action: LeftAction::LifecycleAction,
        pool: String::new(),
        instance_id: proceed.instance_id.clone(),
    }
}

/// Whether the event's action is the one `proceed` lets go on.
pub(super) fn names(given: &Given, proceed: &Proceed) -> bool {
    given.action.instance_id == proceed.instance_id
        && given.action.group == proceed.group
        && given.transition == proceed.transition
}
