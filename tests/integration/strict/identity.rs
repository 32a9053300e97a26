//! A member's identity and its holder (R26, C16) on the strict models: the
//! ordinal and address a member gives the instance that holds it, set only
//! once EC2 confirmed the attach, taken off a former holder, repaired by
//! the sync; and what it costs on the critical path.

use std::time::Duration;

use network_interface_manager::aws::total_calls;
use network_interface_manager::ec2::InstanceState::{Running, Stopped, Terminated};
use network_interface_manager::ec2::{Tags, ADDRESS_TAG, ORDINAL_TAG};

use super::lifecycle::Fleet;
use crate::support::strict::{Op, StrictEc2};
use crate::support::world::{deliver, deliver_ok, fixture, state_event, StrictWorld};

/// A member of `pool` in `subnet` with `ordinal`, settled.
fn numbered(model: &StrictEc2, pool: &str, subnet: &str, ordinal: &str) -> String {
    let member = model.add_member(pool, subnet);
    model.tag_interface(&member, ORDINAL_TAG, ordinal);
    member
}

fn identity(model: &StrictEc2, instance: &str) -> (Option<String>, Option<String>) {
    let tags: Tags = model.instance_tags(instance);
    (
        tags.get(ORDINAL_TAG).cloned(),
        tags.get(ADDRESS_TAG).cloned(),
    )
}

fn address_of(model: &StrictEc2, member: &str) -> String {
    let found = model.interfaces().into_iter().find(|i| i.id == member);
    found.unwrap().private_ip.unwrap()
}

/// R26: the holder gets its member's ordinal and address once the attach
/// is done; a member without an ordinal gives none (no tag call at all).
#[tokio::test]
async fn a_holder_carries_its_member_s_ordinal_and_address() {
    let w = StrictWorld::new();
    let member = numbered(&w.model, "zk", "subnet-a1", "3");
    let plain = w.model.add_member("web", "subnet-a1");
    let node = w.model.launch(Some("zk"), "subnet-a1");
    let web = w.model.launch(Some("web"), "subnet-a1");

    let zk = deliver_ok(&w, &state_event(&node, Running)).await;
    let other = deliver_ok(&w, &state_event(&web, Running)).await;

    assert_eq!(w.model.holder(&member), Some((node.clone(), 1)));
    let address = address_of(&w.model, &member);
    assert_eq!(identity(&w.model, &node), (Some("3".into()), Some(address)));
    assert_eq!(
        zk.ec2_calls.get("CreateTags"),
        Some(&1),
        "{:?}",
        zk.ec2_calls
    );
    assert_eq!(w.model.holder(&plain), Some((web.clone(), 1)));
    assert_eq!(identity(&w.model, &web), (None, None));
    assert_eq!(
        other.ec2_calls.get("CreateTags"),
        None,
        "{:?}",
        other.ec2_calls
    );
}

/// R26: a stop hands the seat over: the stopped instance loses the
/// identity, the next holder gets the same ordinal and address.
#[tokio::test]
async fn a_handover_moves_the_identity_with_the_member() {
    let w = StrictWorld::new();
    let member = numbered(&w.model, "zk", "subnet-a1", "2");
    let old = w.model.launch(Some("zk"), "subnet-a1");
    deliver_ok(&w, &state_event(&old, Running)).await;
    let new = w.model.launch(Some("zk"), "subnet-a1");
    w.model.set_state(&old, Stopped);

    deliver_ok(&w, &state_event(&old, Stopped)).await;

    assert_eq!(w.model.holder(&member), Some((new.clone(), 1)));
    let address = address_of(&w.model, &member);
    assert_eq!(identity(&w.model, &new), (Some("2".into()), Some(address)));
    assert_eq!(identity(&w.model, &old), (None, None), "the former holder");
}

/// R26: identity tags lost or wrong (removed by hand, a failed call) are
/// put right by the next sync; a terminated former holder is left alone.
#[tokio::test]
async fn the_sync_repairs_an_identity_and_leaves_terminated_instances_alone() {
    let w = StrictWorld::new();
    let member = numbered(&w.model, "zk", "subnet-a1", "1");
    let node = w.model.launch(Some("zk"), "subnet-a1");
    let gone = w.model.launch(Some("zk"), "subnet-b1");
    let denied = "You are not authorized to perform this operation.";
    w.model
        .fail_next(Op::CreateTags, "UnauthorizedOperation", denied);
    let first = deliver(&w, &state_event(&node, Running)).await;
    let failed = &first.outcome.report.failed;
    assert!(
        failed.len() == 1 && failed[0].instance_id == node,
        "{first:?}"
    );
    assert_eq!(w.model.holder(&member), Some((node.clone(), 1)));
    assert_eq!(identity(&w.model, &node), (None, None));
    w.model.set_tag(&gone, ORDINAL_TAG, Some("9"));
    w.model.set_state(&gone, Terminated);
    w.model.settle_reads();

    let sync = deliver_ok(&w, &fixture("scheduled-event.json")).await;

    let address = address_of(&w.model, &member);
    assert_eq!(identity(&w.model, &node), (Some("1".into()), Some(address)));
    let identified = &sync.outcome.report.identified;
    assert_eq!(identified.len(), 1, "{identified:?}");
    assert_eq!(identity(&w.model, &gone).0.as_deref(), Some("9"));
    w.model.settle_reads();
    let again = deliver_ok(&w, &fixture("scheduled-event.json")).await;
    assert_eq!(again.ec2_calls.get("CreateTags"), None, "settled: no call");
    w.model.set_state(&node, Terminated);
    let terminated = deliver_ok(&w, &state_event(&node, Terminated)).await;
    assert_eq!(
        terminated.ec2_calls.get("DeleteTags"),
        None,
        "{terminated:?}"
    );
}

/// R20, R26: a launch goes on only once its holder carries its identity;
/// a failed tag call keeps it waiting, and the retry completes it.
#[tokio::test]
async fn a_launch_continues_only_with_its_identity() {
    let f = Fleet::with_launch_hook();
    let member = numbered(&f.ec2, "web", "subnet-a1", "5");
    let (instance, events) = f.launch("subnet-a1");
    tokio::time::sleep(Duration::from_millis(50)).await; // EC2 runs it
    let denied = "You are not authorized to perform this operation.";
    f.ec2
        .fail_next(Op::CreateTags, "UnauthorizedOperation", denied);

    let failed = f.deliver(&events[0]).await;

    assert_eq!(
        f.ec2.holder(&member),
        Some((instance.clone(), 1)),
        "attached"
    );
    let report = &failed.outcome.report;
    assert!(
        report.failed.len() == 1 && report.continued.is_empty(),
        "{failed:?}"
    );
    assert!(
        f.asg.completed(&instance).is_empty(),
        "not without its identity"
    );
    f.ec2.settle_reads();
    f.deliver_ok(&events[0]).await;
    let completed = f.asg.completed(&instance);
    assert_eq!(completed.len(), 1, "{completed:?}");
    assert_eq!(completed[0].members_then, vec![member]);
    assert_eq!(
        completed[0].tags_then.get(ORDINAL_TAG).map(String::as_str),
        Some("5")
    );
}

/// The critical path, counted as `round_trips` does: a member with an
/// ordinal costs one more round trip after the attach (the identity is
/// written only once EC2 confirmed it); one without costs none.
#[tokio::test]
async fn running_with_an_identity_takes_three_round_trips() {
    let w = StrictWorld::new();
    numbered(&w.model, "zk", "subnet-a1", "1");
    let node = w.model.launch(Some("zk"), "subnet-a1");
    w.model.steady_latency(Duration::from_millis(50));
    let before = w.model.round_trips();
    let handled = deliver_ok(&w, &state_event(&node, Running)).await;
    let trips = w.model.round_trips() - before;
    println!(
        "running with an identity: {trips} round trips, {:?}",
        handled.ec2_calls
    );
    assert_eq!((trips, total_calls(&handled.ec2_calls)), (3, 4));
}

/// The stop of a holder with an identity, counted as `round_trips` does:
/// the former holder's identity comes off beside the attach, the new
/// holder's goes on after it. The path is four calls long (reads; detach
/// beside reads; attach; tags), but the untag still in flight when the
/// attach returns lets the counter merge the last two: 3 or 4.
#[tokio::test]
async fn a_stop_with_an_identity_hands_over_in_four_sequential_calls() {
    let w = StrictWorld::new();
    numbered(&w.model, "zk", "subnet-a1", "1");
    let old = w.model.launch(Some("zk"), "subnet-a1");
    deliver_ok(&w, &state_event(&old, Running)).await;
    w.model.launch(Some("zk"), "subnet-a1");
    w.model.set_state(&old, Stopped);
    w.model.settle_reads();
    w.model.steady_latency(Duration::from_millis(50));
    let before = w.model.round_trips();
    let handled = deliver_ok(&w, &state_event(&old, Stopped)).await;
    let trips = w.model.round_trips() - before;
    println!(
        "stop with an identity: {trips} round trips, {:?}",
        handled.ec2_calls
    );
    assert!((3..=4).contains(&trips), "{trips} round trips");
    assert_eq!(
        total_calls(&handled.ec2_calls),
        9,
        "{:?}",
        handled.ec2_calls
    );
}
