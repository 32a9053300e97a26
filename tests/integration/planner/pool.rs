//! The planner, table-driven and without I/O (docs/design.md, T1).

use network_interface_manager::ec2::{
    Attachment, AttachmentStatus, InstanceState, InterfaceStatus, DEVICE_INDEX_TAG, IDENTITY_TAGS,
};
use network_interface_manager::pool::model::{Action, Plan, Snapshot};
use network_interface_manager::pool::plan::{plan, unknown_holders};

use crate::planner::fixtures::{attach, case, iface, instance, member, render};
use InstanceState::*;

#[test]
fn placement_rules() {
    let i1 = || instance("i-1", Some("p"), "subnet-a1", Running);
    case(
        "own subnet preferred",
        vec![
            member("eni-1", "p", "subnet-a2"),
            member("eni-2", "p", "subnet-a1"),
        ],
        vec![i1()],
        &["attach eni-2 to i-1 at 1"],
    );
    case(
        "other subnet in the same AZ used",
        vec![member("eni-1", "p", "subnet-a2")],
        vec![i1()],
        &["attach eni-1 to i-1 at 1"],
    );
    case(
        "other AZ never",
        vec![member("eni-1", "p", "subnet-b1")],
        vec![i1()],
        &["short p us-east-1a [\"i-1\"]"],
    );
    case(
        "other pool never",
        vec![member("eni-1", "q", "subnet-a1")],
        vec![i1()],
        &["short p us-east-1a [\"i-1\"]"],
    );
    case(
        "instance in no pool gets nothing",
        vec![member("eni-1", "p", "subnet-a1")],
        vec![instance("i-1", None, "subnet-a1", Running)],
        &[],
    );
    case(
        "pending instance waits for running",
        vec![member("eni-1", "p", "subnet-a1")],
        vec![instance("i-1", Some("p"), "subnet-a1", Pending)],
        &[],
    );
}

#[test]
fn device_index_rules() {
    let mut taken = instance("i-1", Some("p"), "subnet-a1", Running);
    taken.interfaces.push(iface("eni-other", 1));
    case(
        "fallback to the lowest free index when 1 is taken",
        vec![member("eni-1", "p", "subnet-a1")],
        vec![taken],
        &["attach eni-1 to i-1 at 2"],
    );
    let mut tagged = member("eni-1", "p", "subnet-a1");
    tagged.tags.insert(DEVICE_INDEX_TAG.into(), "3".into());
    case(
        "the pool's device index tag",
        vec![tagged],
        vec![instance("i-1", Some("p"), "subnet-a1", Running)],
        &["attach eni-1 to i-1 at 3"],
    );
}

#[test]
fn release_rules() {
    for (state, want) in [
        (Stopping, vec!["detach eni-1 from i-1"]),
        (Stopped, vec!["detach eni-1 from i-1"]),
        (ShuttingDown, vec!["detach eni-1 from i-1"]),
        (Terminated, vec!["detach eni-1 from i-1"]),
        (Running, vec![]),
        (Pending, vec![]),
    ] {
        let mut holder = instance("i-1", Some("p"), "subnet-a1", state);
        let m = attach(member("eni-1", "p", "subnet-a1"), &mut holder, 1);
        case(state.as_str(), vec![m], vec![holder], &want);
    }
    let mut untagged = instance("i-1", None, "subnet-a1", Running);
    let m = attach(member("eni-1", "p", "subnet-a1"), &mut untagged, 1);
    case(
        "holder lost the pool tag",
        vec![m],
        vec![untagged],
        &["detach eni-1 from i-1"],
    );

    let mut moved = instance("i-1", Some("q"), "subnet-a1", Running);
    let m = attach(member("eni-1", "p", "subnet-a1"), &mut moved, 1);
    case(
        "holder moved to another pool",
        vec![m],
        vec![moved],
        &["detach eni-1 from i-1", "short q us-east-1a [\"i-1\"]"],
    );
}

#[test]
fn never_touched() {
    let mut stopped = instance("i-1", Some("p"), "subnet-a1", Stopped);
    let primary = attach(member("eni-0", "p", "subnet-a1"), &mut stopped, 0);
    let mut managed = attach(member("eni-1", "p", "subnet-a1"), &mut stopped, 1);
    managed.requester_managed = true;
    let mut free_managed = member("eni-2", "p", "subnet-a1");
    free_managed.requester_managed = true;
    let waiting = instance("i-2", Some("p"), "subnet-a1", Running);
    case(
        "primary and requester-managed interfaces",
        vec![primary, managed, free_managed],
        vec![stopped, waiting],
        &["short p us-east-1a [\"i-2\"]"],
    );
    let mut unknown = member("eni-1", "p", "subnet-a1");
    unknown.attachment = Some(Attachment {
        id: "att-1".into(),
        instance_id: "i-unseen".into(),
        device_index: 1,
        network_card_index: 0,
        status: AttachmentStatus::Attached,
        delete_on_termination: false,
        attached_at: None,
    });
    let snapshot = Snapshot {
        members: vec![unknown],
        instances: vec![],
        ..Snapshot::default()
    };
    assert_eq!(unknown_holders(&snapshot), ["i-unseen"]);
    assert_eq!(
        plan(&snapshot),
        Plan::default(),
        "a holder nobody sees is left alone"
    );
}

#[test]
fn holding_and_waiting() {
    let mut holder = instance("i-1", Some("p"), "subnet-a1", Running);
    let held = attach(member("eni-1", "p", "subnet-a1"), &mut holder, 1);
    case(
        "an instance holding a member gets none",
        vec![held, member("eni-2", "p", "subnet-a1")],
        vec![holder],
        &[],
    );
    case(
        "two instances, one free member: one holds, one waits and is reported",
        vec![member("eni-1", "p", "subnet-a1")],
        vec![
            instance("i-2", Some("p"), "subnet-a1", Running),
            instance("i-1", Some("p"), "subnet-a1", Running),
        ],
        &["attach eni-1 to i-1 at 1", "short p us-east-1a [\"i-2\"]"],
    );
    case(
        "the instance in the member's own subnet goes first",
        vec![member("eni-1", "p", "subnet-a2")],
        vec![
            instance("i-1", Some("p"), "subnet-a1", Running),
            instance("i-2", Some("p"), "subnet-a2", Running),
        ],
        &["attach eni-1 to i-2 at 1", "short p us-east-1a [\"i-1\"]"],
    );
    let mut old = instance("i-1", Some("p"), "subnet-a1", Terminated);
    let freed = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    case(
        "a freed member goes to a waiting instance in its AZ",
        vec![freed],
        vec![
            old,
            instance("i-2", Some("p"), "subnet-b1", Running),
            instance("i-3", Some("p"), "subnet-a2", Running),
        ],
        &[
            "detach eni-1 from i-1",
            "attach eni-1 to i-3 at 1 once free from i-1",
            "short p us-east-1b [\"i-2\"]",
        ],
    );
    let mut greedy = instance("i-1", Some("p"), "subnet-a1", Running);
    let first = attach(member("eni-1", "p", "subnet-a1"), &mut greedy, 1);
    let second = attach(member("eni-2", "p", "subnet-a1"), &mut greedy, 2);
    case(
        "a second member is taken back for a waiting instance",
        vec![first.clone(), second.clone()],
        vec![
            greedy.clone(),
            instance("i-2", Some("p"), "subnet-a1", Running),
        ],
        &[
            "detach eni-2 from i-1",
            "attach eni-2 to i-2 at 1 once free from i-1",
        ],
    );
    case(
        "R11: a second member is taken back even when nobody waits",
        vec![first, second],
        vec![greedy],
        &["detach eni-2 from i-1"],
    );
}

/// Applies a plan to a snapshot as EC2 would, taking each first candidate.
fn applied(mut s: Snapshot, plan: &Plan) -> Snapshot {
    for action in &plan.actions {
        match action {
            Action::Detach(d) => {
                let m = s
                    .members
                    .iter_mut()
                    .find(|m| m.id == d.interface_id)
                    .unwrap();
                m.attachment = None;
                m.status = InterfaceStatus::Available;
                for i in &mut s.instances {
                    i.interfaces.retain(|n| n.interface_id != d.interface_id);
                }
            }
            Action::KeepOnTermination(k) => {
                let m = s.members.iter_mut().find(|m| m.id == k.interface_id);
                m.unwrap()
                    .attachment
                    .as_mut()
                    .unwrap()
                    .delete_on_termination = false;
            }
            Action::Attach(a) => {
                let holder = s
                    .instances
                    .iter_mut()
                    .find(|i| i.id == a.instance_id)
                    .unwrap();
                let m = s
                    .members
                    .iter_mut()
                    .find(|m| m.id == a.candidates[0].interface_id)
                    .unwrap();
                holder.tags.extend(a.candidates[0].identity.clone());
                *m = attach(m.clone(), holder, a.device_index);
            }
            Action::Identify(i) => {
                let holder = s.instances.iter_mut().find(|h| h.id == i.instance_id);
                let tags = &mut holder.unwrap().tags;
                tags.retain(|k, _| !IDENTITY_TAGS.contains(&k.as_str()));
                tags.extend(i.tags.clone());
            }
            Action::DetachVolume(_) | Action::AttachVolume(_) => {
                unreachable!("no pool of these tables has volumes")
            }
        }
    }
    s
}

#[test]
fn second_plan_after_applying_the_first_is_empty() {
    let mut stopped = instance("i-1", Some("p"), "subnet-a1", Stopped);
    let mut untagged = instance("i-2", None, "subnet-b1", Running);
    let mut holder = instance("i-3", Some("q"), "subnet-a2", Running);
    let members = vec![
        attach(member("eni-1", "p", "subnet-a1"), &mut stopped, 1),
        attach(member("eni-2", "p", "subnet-b1"), &mut untagged, 1),
        attach(member("eni-3", "q", "subnet-a2"), &mut holder, 1),
        member("eni-4", "p", "subnet-a2"),
        member("eni-5", "q", "subnet-b1"),
    ];
    let mut instances = vec![stopped, untagged, holder];
    for (n, subnet) in ["subnet-a1", "subnet-a2", "subnet-b1", "subnet-b1"]
        .iter()
        .enumerate()
    {
        instances.push(instance(&format!("i-p{n}"), Some("p"), subnet, Running));
        instances.push(instance(&format!("i-q{n}"), Some("q"), subnet, Running));
    }
    let first = Snapshot {
        members,
        instances,
        ..Snapshot::default()
    };
    let plan1 = plan(&first);
    assert!(
        plan1.actions.len() >= 6,
        "the first plan acts: {:?}",
        render(&plan1)
    );
    let plan2 = plan(&applied(first, &plan1));
    assert!(
        plan2.actions.is_empty(),
        "second plan: {:?}",
        render(&plan2)
    );
    assert_eq!(
        plan2.shortages, plan1.shortages,
        "the same instances still wait"
    );
}

#[test]
fn the_same_state_gives_the_same_plan() {
    let members: Vec<_> = (0..6)
        .map(|n| member(&format!("eni-{n}"), "p", "subnet-a1"))
        .collect();
    let instances: Vec<_> = (0..4)
        .map(|n| instance(&format!("i-{n}"), Some("p"), "subnet-a2", Running))
        .collect();
    let forward = Snapshot {
        members: members.clone(),
        instances: instances.clone(),
        ..Snapshot::default()
    };
    let backward = Snapshot {
        members: members.into_iter().rev().collect(),
        instances: instances.into_iter().rev().collect(),
        ..Snapshot::default()
    };
    assert_eq!(plan(&forward), plan(&backward));
}

/// R2, R6: should the planned member be taken meanwhile, the next tried is
/// again in the instance's own subnet, then one still detaching; each
/// attach says why it was chosen (shown by `sync --dry-run`).
#[test]
fn fallback_candidates_keep_the_placement_order_and_say_why() {
    let mut old = instance("i-0", Some("p"), "subnet-a2", Stopped);
    let leaving = attach(member("eni-0", "p", "subnet-a2"), &mut old, 1);
    let waiting = instance("i-1", Some("p"), "subnet-a1", Running);
    let snapshot = Snapshot {
        members: vec![
            leaving,
            member("eni-1", "p", "subnet-a2"),
            member("eni-2", "p", "subnet-a1"),
            member("eni-3", "p", "subnet-a1"),
        ],
        instances: vec![old, waiting],
        ..Snapshot::default()
    };
    let plan = plan(&snapshot);
    let attach = plan
        .actions
        .iter()
        .find_map(|a| match a {
            Action::Attach(a) => Some(a),
            _ => None,
        })
        .expect("an attach");
    let order: Vec<&str> = attach
        .candidates
        .iter()
        .map(|c| c.interface_id.as_str())
        .collect();
    assert_eq!(order, ["eni-2", "eni-3", "eni-1", "eni-0"]);
    assert_eq!(attach.reason, "instance running, waiting; same subnet");
}

#[test]
fn a_member_from_another_subnet_or_still_detaching_says_so() {
    let mut old = instance("i-0", Some("p"), "subnet-a2", Stopped);
    let leaving = attach(member("eni-0", "p", "subnet-a2"), &mut old, 1);
    let waiting = instance("i-1", Some("p"), "subnet-a1", Running);
    let snapshot = Snapshot {
        members: vec![leaving],
        instances: vec![old, waiting],
        ..Snapshot::default()
    };
    let plan = plan(&snapshot);
    let Some(Action::Attach(attach)) = plan.actions.iter().find(|a| matches!(a, Action::Attach(_)))
    else {
        panic!("an attach: {plan:?}");
    };
    assert_eq!(
        attach.reason,
        "instance running, waiting; other subnet, same AZ; freed from i-0"
    );
}
