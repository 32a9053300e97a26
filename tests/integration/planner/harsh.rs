//! The planner's rules where EC2 is harsh (docs/design.md, R11-R15), as
//! tables without I/O; the helpers are `planner_fixtures.rs`'s.

use network_interface_manager::ec2::InstanceState;
use network_interface_manager::ec2::{
    Attachment, AttachmentStatus, Instance, InstanceInterface, InterfaceStatus, NetworkInterface,
    DEVICE_INDEX_TAG, FORMER_POOL_TAG, OWNER_TAG,
};
use InstanceState::*;

use network_interface_manager::pool::model::Snapshot;
use network_interface_manager::pool::plan::unknown_interfaces;

use crate::planner::fixtures::{attach, case, iface, instance, member};

/// `m` attached to `holder` at `index`, at `at` epoch milliseconds.
fn attach_at(m: NetworkInterface, holder: &mut Instance, index: i32, at: u64) -> NetworkInterface {
    let mut m = attach(m, holder, index);
    m.attachment.as_mut().unwrap().attached_at = Some(at);
    m
}

#[test]
fn one_instance_one_member() {
    let mut twice = instance("i-1", Some("p"), "subnet-a1", Running);
    let later = attach_at(member("eni-1", "p", "subnet-a1"), &mut twice, 1, 2_000);
    let first = attach_at(member("eni-2", "p", "subnet-a1"), &mut twice, 2, 1_000);
    case(
        "R11: the member attached first stays, whatever its index or id",
        vec![later, first],
        vec![twice],
        &["detach eni-1 from i-1"],
    );
    let mut lagging = member("eni-1", "p", "subnet-a1");
    lagging.tags.insert(DEVICE_INDEX_TAG.into(), "2".into());
    let mut low = member("eni-2", "p", "subnet-a1");
    low.tags.insert(DEVICE_INDEX_TAG.into(), "1".into());
    let mut moved = instance("i-1", Some("p"), "subnet-a1", Running);
    moved.interfaces.push(iface("eni-q", 1));
    case(
        "R11: a member of another pool the instance lists, its own read lagging: \
         the pool's index, as every invocation would pick",
        vec![
            member("eni-q", "q", "subnet-a1"),
            member("eni-p", "p", "subnet-a1"),
        ],
        vec![moved],
        &["attach eni-p to i-1 at 1"],
    );
    let mut moved = instance("i-1", Some("p"), "subnet-a1", Running);
    let mut former = instance("i-2", Some("q"), "subnet-a1", Running);
    let stale = attach(member("eni-q", "q", "subnet-a1"), &mut former, 1);
    moved.interfaces.push(iface("eni-q", 1));
    case(
        "R11: the instance lists a member of another pool whose own read still \
         shows its former holder: the pool's index all the same",
        vec![stale, member("eni-p", "p", "subnet-a1")],
        vec![moved, former],
        &["attach eni-p to i-1 at 1"],
    );
    let mut listing = instance("i-1", Some("p"), "subnet-a1", Running);
    let mut older = instance("i-2", Some("p"), "subnet-a2", Running);
    let seen_on_older = attach(member("eni-p1", "p", "subnet-a1"), &mut older, 1);
    listing.interfaces.push(iface("eni-p1", 1));
    case(
        "R11: the instance lists a member of its pool that a lagging read still \
         shows on its former holder: it holds one, nothing is attached",
        vec![seen_on_older, member("eni-p2", "p", "subnet-a1")],
        vec![listing, older],
        &[],
    );
    case(
        "R3: members that disagree: the pool uses the lowest index any asks for",
        vec![lagging, low],
        vec![instance("i-1", Some("p"), "subnet-a1", Running)],
        &["attach eni-1 to i-1 at 1"],
    );
}

/// R11, R16: what the member reads cannot show yet, the instance reads
/// show.
#[test]
fn members_whose_own_read_lags_are_not_given_away() {
    let mut listing = instance("i-1", Some("p"), "subnet-a1", Running);
    listing.interfaces.push(iface("eni-1", 1));
    let waiting = || instance("i-2", Some("p"), "subnet-a1", Running);
    case(
        "R11: a member its instance lists, its own read not yet attached: \
         held there, not given to another, and its holder gets no second",
        vec![
            member("eni-1", "p", "subnet-a1"),
            member("eni-2", "p", "subnet-a1"),
        ],
        vec![listing, waiting()],
        &["attach eni-2 to i-2 at 1"],
    );
    let mut holder = instance("i-1", Some("p"), "subnet-a1", Running);
    holder.interfaces.push(iface("eni-1", 1));
    let mut former = instance("i-2", Some("p"), "subnet-a1", Stopped);
    former.interfaces.push(iface("eni-1", 1));
    case(
        "R11: its former holder's read still lists it too: whichever instance \
         reads last, its new holder holds it and gets no second",
        vec![
            member("eni-1", "p", "subnet-a1"),
            member("eni-2", "p", "subnet-a1"),
        ],
        vec![holder, former],
        &[],
    );
}

/// A member EC2 still creates is not offered before it is available.
#[test]
fn a_pending_member_is_not_offered() {
    let waiting = || instance("i-2", Some("p"), "subnet-a1", Running);
    let mut pending = member("eni-1", "p", "subnet-a1");
    pending.status = InterfaceStatus::Pending;
    case(
        "a member still pending after its creation waits for the next event or sync",
        vec![pending],
        vec![waiting()],
        &["short p us-east-1a [\"i-2\"]"],
    );
}

/// The interfaces read by id before planning: those running pool
/// instances list that no pool read returned (so that each device index's
/// occupant is known), and no others.
#[test]
fn only_the_interfaces_of_running_pool_instances_are_read_by_id() {
    let mut in_pool = instance("i-1", Some("p"), "subnet-a1", Running);
    in_pool.interfaces.push(iface("eni-other", 1));
    in_pool.interfaces.push(iface("eni-known", 2));
    let mut stopped = instance("i-2", Some("p"), "subnet-a1", Stopped);
    stopped.interfaces.push(iface("eni-of-stopped", 1));
    let mut standalone = instance("i-3", None, "subnet-a1", Running);
    standalone.interfaces.push(iface("eni-of-standalone", 1));
    let snapshot = Snapshot {
        members: vec![member("eni-known", "p", "subnet-a1")],
        instances: vec![in_pool, stopped, standalone],
        ..Snapshot::default()
    };
    assert_eq!(unknown_interfaces(&snapshot), ["eni-other"]);
}

#[test]
fn handover_waits_for_ec2() {
    let mut old = instance("i-1", Some("p"), "subnet-a1", Terminated);
    let mut leaving = attach(member("eni-1", "p", "subnet-a1"), &mut old, 1);
    leaving.attachment.as_mut().unwrap().status = AttachmentStatus::Detaching;
    let waiting = instance("i-2", Some("p"), "subnet-a1", Running);
    case(
        "R12: a member EC2 is detaching is awaited, not detached again",
        vec![leaving.clone()],
        vec![old.clone(), waiting.clone()],
        &["attach eni-1 to i-2 at 1 once free from i-1"],
    );
    case(
        "R12: a member free now is preferred to one still detaching",
        vec![leaving, member("eni-2", "p", "subnet-a1")],
        vec![old, waiting],
        &["attach eni-2 to i-2 at 1"],
    );
}

#[test]
fn members_ec2_would_delete_are_kept() {
    let mut holder = instance("i-1", Some("p"), "subnet-a1", Running);
    let mut from_template = attach(member("eni-1", "p", "subnet-a1"), &mut holder, 1);
    from_template
        .attachment
        .as_mut()
        .unwrap()
        .delete_on_termination = true;
    case(
        "R13: DeleteOnTermination is turned off on a held member",
        vec![from_template.clone()],
        vec![holder],
        &["keep eni-1 on i-1"],
    );
    let mut stopped = instance("i-1", Some("p"), "subnet-a1", Stopped);
    let mut leaving = from_template;
    leaving.attachment.as_mut().unwrap().instance_id = stopped.id.clone();
    stopped.interfaces.push(iface("eni-1", 1));
    case(
        "a member that leaves is detached, not kept",
        vec![leaving],
        vec![stopped],
        &["detach eni-1 from i-1"],
    );
}

#[test]
fn network_cards_and_interface_types() {
    let mut multi = instance("i-1", Some("p"), "subnet-a1", Running);
    multi.interfaces.push(InstanceInterface {
        interface_id: "eni-card1".into(),
        device_index: 0,
        network_card_index: 1,
    });
    let mut on_card1 = member("eni-card1", "p", "subnet-a1");
    on_card1.status = InterfaceStatus::InUse;
    on_card1.attachment = Some(Attachment {
        id: "att-card1".into(),
        instance_id: "i-1".into(),
        device_index: 0,
        network_card_index: 1,
        status: AttachmentStatus::Attached,
        delete_on_termination: false,
        attached_at: None,
    });
    case(
        "R15: index 0 on card 1 is not a primary: a member there is held",
        vec![on_card1, member("eni-2", "p", "subnet-a1")],
        vec![multi],
        &[],
    );
    let mut efa = member("eni-1", "p", "subnet-a1");
    efa.interface_type = "efa".into();
    case(
        "R15: a member of another type is reported, never attached",
        vec![efa],
        vec![instance("i-1", Some("p"), "subnet-a1", Running)],
        &["short p us-east-1a [\"i-1\"]", "unusable eni-1"],
    );
}

/// A member of a declared pool, tagged as `owner`'s, renamed from `former`
/// when given.
fn declared(id: &str, pool: &str, owner: &str, former: Option<&str>) -> NetworkInterface {
    let mut m = member(id, pool, "subnet-a1");
    m.tags.insert(OWNER_TAG.into(), owner.into());
    if let Some(former) = former {
        m.tags.insert(FORMER_POOL_TAG.into(), former.into());
    }
    m
}

#[test]
fn a_rename_read_half_done_keeps_every_holder() {
    let renamed = |id| declared(id, "api", "pool-x", Some("web"));
    let mut holder = instance("i-1", Some("web"), "subnet-a1", Running);
    let held = attach(renamed("eni-1"), &mut holder, 1);
    let waiting = instance("i-2", Some("web"), "subnet-a1", Running);
    case(
        "R25: a rename retags one member at a time, and reads lag: a member \
         still read under the former name, with the renamed members' owner, \
         is the renamed pool's; the holder keeps its member",
        vec![held.clone(), declared("eni-2", "web", "pool-x", None)],
        vec![holder.clone(), waiting.clone()],
        &["attach eni-2 to i-2 at 1"],
    );
    case(
        "R25: a pool of another owner has the former name now: no alias, and \
         the renamed pool's member leaves the instance of that pool",
        vec![held, declared("eni-2", "web", "pool-y", None)],
        vec![holder, waiting],
        &[
            "detach eni-1 from i-1",
            "attach eni-2 to i-1 at 1",
            "short web us-east-1a [\"i-2\"]",
        ],
    );
}
