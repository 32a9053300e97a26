//! The executor: carries out a plan and handles EC2's answers, most urgent
//! first, stopping between actions when the deadline comes (R24). Every wait
//! is bounded by the deadline (R8).

use std::collections::BTreeSet;

use super::attach::{attach, AttachResult};
use super::model::{
    Action, Attach, AttachVolume, Candidate, Detach, Identify, KeepOnTermination, Plan, Shortage,
};
use super::move_volumes::{self, Moved};
use super::report::{Attached, Failed, Left, LeftAction, Report};
use super::settings::Settings;
use crate::concurrent::concurrently;
use crate::deadline::Deadline;
use crate::ec2::{Ec2, InterfaceChange, IDENTITY_TAGS};

/// Carries out `plan`: detaches (of members and of volumes off stopped
/// instances), then DeleteOnTermination changes, then attaches (each
/// followed by its holder's identity, R26, and the member's volumes, R27)
/// beside the other identity changes and volume attaches, each batch
/// concurrently.
pub async fn apply(ec2: &dyn Ec2, plan: Plan, deadline: Deadline, settings: &Settings) -> Report {
    let mut report = Report {
        shortages: plan.shortages,
        unusable: plan.unusable,
        stranded: plan.stranded,
        ..Report::default()
    };
    let (mut detaches, mut keeps, mut attaches) = (Vec::new(), Vec::new(), Vec::new());
    let (mut identifies, mut volume_detaches, mut volume_attaches) =
        (Vec::new(), Vec::new(), Vec::new());
    for action in plan.actions {
        match action {
            Action::Detach(d) => detaches.push(d),
            Action::KeepOnTermination(k) => keeps.push(k),
            Action::Attach(a) => attaches.push(a),
            Action::Identify(i) => identifies.push(i),
            Action::DetachVolume(d) => volume_detaches.push(d),
            Action::AttachVolume(a) => volume_attaches.push(a),
        }
    }

    let progress = settings.progress.0.as_deref();
    let tick = || {
        if let Some(p) = progress {
            p.done(ec2.throttled());
        }
    };
    if let Some(p) = progress {
        let actions = detaches.len() + keeps.len() + attaches.len() + identifies.len();
        let volumes = volume_detaches.len() + volume_attaches.len();
        p.planned((actions + volumes) as u64);
    }
    // R24: the most urgent first: members taken back (their instances are
    // gone or leaving), then the instances waiting longest.
    attaches.sort_by_key(|a: &Attach| a.waiting_since.unwrap_or(u64::MAX));
    // Members whose detach failed are still held: no attach waits for them.
    let mut stuck = BTreeSet::new();
    let detach = |d| async {
        let result = detach(ec2, d).await;
        tick();
        result
    };
    let detach_volume = |d| async {
        let result = move_volumes::detach(ec2, d).await;
        tick();
        result
    };
    let (detached, volumes_detached) = tokio::join!(
        concurrently(settings.concurrency, detaches, detach),
        concurrently(settings.concurrency, volume_detaches, detach_volume)
    );
    for result in volumes_detached {
        match result {
            Ok(Some(d)) => report.volumes_detached.push(d),
            Ok(None) => {}
            Err(f) if f.is_deferred() => report.leave(LeftAction::DetachVolume, f),
            Err(f) => report.failed.push(f),
        }
    }
    for result in detached {
        match result {
            Ok(Some(d)) => report.detached.push(d),
            Ok(None) => {}
            Err(f) => {
                stuck.extend(f.interface_id.clone());
                match f.is_deferred() {
                    true => report.leave(LeftAction::Detach, f),
                    false => report.failed.push(f),
                }
            }
        }
    }
    let keep = |k| async {
        let result = keep(ec2, k).await;
        tick();
        result
    };
    for result in concurrently(settings.concurrency, keeps, keep).await {
        match result {
            Ok(k) => report.kept_on_termination.push(k),
            Err(f) if f.is_deferred() => report.leave(LeftAction::KeepOnTermination, f),
            Err(f) => report.failed.push(f),
        }
    }
    let attach = |a: Attach| async {
        let candidates = a.candidates.clone();
        let (result, conflicts) = attach(ec2, a, &stuck, deadline, settings).await;
        let (identified, moved) = match &result {
            AttachResult::Attached(ok) => {
                let chosen = candidates
                    .into_iter()
                    .find(|c| c.interface_id == ok.interface_id);
                after_attach(ec2, ok, chosen, deadline, settings).await
            }
            _ => (None, Vec::new()),
        };
        tick();
        ((result, conflicts), identified, moved)
    };
    let attach_volume = |v| async {
        let moved = move_volumes::attach(ec2, v, deadline, settings).await;
        tick();
        moved
    };
    let identify = |i| async {
        let result = identify(ec2, i).await;
        tick();
        result
    };
    let (attached, identified, volumes_moved) = tokio::join!(
        concurrently(settings.concurrency, attaches, attach),
        concurrently(settings.concurrency, identifies, identify),
        concurrently(settings.concurrency, volume_attaches, attach_volume)
    );
    let mut after_attach = Vec::new();
    let mut moved = volumes_moved;
    let attached: Vec<_> = attached
        .into_iter()
        .map(|(result, identified, volumes)| {
            after_attach.extend(identified);
            moved.extend(volumes);
            result
        })
        .collect();
    for m in moved {
        match m {
            Moved::Attached(a) => report.volumes_attached.push(a),
            Moved::Left(a) => report.left.push(Left {
                action: LeftAction::AttachVolume,
                pool: a.pool,
                instance_id: a.instance_id,
            }),
            Moved::Failed(f) => report.failed.push(f),
        }
    }
    for result in identified.into_iter().chain(after_attach) {
        match result {
            Ok(i) => report.identified.push(i),
            Err(f) if f.is_deferred() => report.leave(LeftAction::Identify, f),
            Err(f) => report.failed.push(f),
        }
    }
    for (result, conflicts) in attached {
        if conflicts > 0 {
            *report
                .claim_conflicts
                .entry(result.pool().into())
                .or_default() += conflicts;
        }
        match result {
            AttachResult::Attached(a) => report.attached.push(a),
            AttachResult::AlreadyHeld(_) => {}
            AttachResult::NoCandidateLeft(a) => add_shortage(&mut report.shortages, a),
            AttachResult::Failed(f) => report.failed.push(f),
            AttachResult::Left(left) => report.left.push(left),
        }
    }
    sort(&mut report);
    report
}

/// R26, R27: once EC2 confirmed the attach, the holder's identity (when
/// the member gives one) and the member's volumes, at once.
async fn after_attach(
    ec2: &dyn Ec2,
    ok: &Attached,
    chosen: Option<Candidate>,
    deadline: Deadline,
    settings: &Settings,
) -> (Option<Result<Identify, Failed>>, Vec<Moved>) {
    let Some(chosen) = chosen else {
        return (None, Vec::new());
    };
    let wanted = Identify {
        pool: ok.pool.clone(),
        instance_id: ok.instance_id.clone(),
        tags: chosen.identity,
    };
    let identified = async {
        match wanted.tags.is_empty() {
            true => None,
            false => Some(identify(ec2, wanted).await),
        }
    };
    let volumes = chosen.volumes.into_iter().map(|volume| AttachVolume {
        pool: ok.pool.clone(),
        instance_id: ok.instance_id.clone(),
        volume,
    });
    let attach = |v| move_volumes::attach(ec2, v, deadline, settings);
    let volumes: Vec<AttachVolume> = volumes.collect();
    let moved = concurrently(settings.concurrency, volumes, attach);
    tokio::join!(identified, moved)
}

/// `None` when it was detached already (a lagging read planned it).
async fn detach(ec2: &dyn Ec2, d: Detach) -> Result<Option<Detach>, Failed> {
    match ec2.detach(&d.attachment_id).await {
        Ok(()) => Ok(Some(d)),
        Err(e) if e.is_not_found() => Ok(None),
        Err(e) => Err(Failed::of(
            &d.pool,
            &d.instance_id,
            Some(&d.interface_id),
            &e,
        )),
    }
}

/// R26: sets the holder's identity tags, or removes them (no tags).
async fn identify(ec2: &dyn Ec2, i: Identify) -> Result<Identify, Failed> {
    let instance = std::slice::from_ref(&i.instance_id);
    let done = match i.tags.is_empty() {
        true => {
            let keys = IDENTITY_TAGS.map(str::to_string);
            match ec2.delete_tags(instance, &keys).await {
                // Gone meanwhile: nothing to remove.
                Err(e) if e.is_not_found() => Ok(()),
                other => other,
            }
        }
        false => ec2.create_tags(instance, &i.tags).await,
    };
    done.map(|()| i.clone())
        .map_err(|e| Failed::of(&i.pool, &i.instance_id, None, &e))
}

async fn keep(ec2: &dyn Ec2, k: KeepOnTermination) -> Result<KeepOnTermination, Failed> {
    let change = InterfaceChange::DeleteOnTermination {
        attachment_id: k.attachment_id.clone(),
        delete: false,
    };
    match ec2.modify_interface(&k.interface_id, &change).await {
        Ok(()) => Ok(k),
        Err(e) => Err(Failed::of(
            &k.pool,
            &k.instance_id,
            Some(&k.interface_id),
            &e,
        )),
    }
}

fn add_shortage(shortages: &mut Vec<Shortage>, a: Attach) {
    let same = |s: &&mut Shortage| s.pool == a.pool && s.availability_zone == a.availability_zone;
    match shortages.iter_mut().find(|s| same(s)) {
        Some(s) => s.instance_ids.push(a.instance_id),
        None => shortages.push(Shortage {
            pool: a.pool,
            availability_zone: a.availability_zone,
            instance_ids: vec![a.instance_id],
        }),
    }
}

/// Concurrency finishes in any order; outcomes are listed in a stable one.
fn sort(report: &mut Report) {
    report
        .attached
        .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    report
        .detached
        .sort_by(|a, b| a.interface_id.cmp(&b.interface_id));
    report
        .kept_on_termination
        .sort_by(|a, b| a.interface_id.cmp(&b.interface_id));
    report
        .identified
        .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    report
        .volumes_attached
        .sort_by(|a, b| a.volume.volume_id.cmp(&b.volume.volume_id));
    report
        .volumes_detached
        .sort_by(|a, b| a.volume_id.cmp(&b.volume_id));
    report
        .failed
        .sort_by(|a, b| a.instance_id.cmp(&b.instance_id));
    report
        .left
        .sort_by(|a, b| (a.action, &a.instance_id).cmp(&(b.action, &b.instance_id)));
    for s in &mut report.shortages {
        s.instance_ids.sort();
    }
}
