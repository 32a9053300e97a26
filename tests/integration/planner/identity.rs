//! The identity step of the plan (R26), row by row: what each instance's
//! identity tags become, given what it holds.

use network_interface_manager::ec2::InstanceState::{self, Running, Stopped, Terminated};
use network_interface_manager::ec2::{Instance, NetworkInterface, ADDRESS_TAG, ORDINAL_TAG};
use network_interface_manager::pool::identity;
use network_interface_manager::pool::model::{Action, Snapshot};
use network_interface_manager::pool::plan::plan;

use super::fixtures::{attach, instance, member, render};

/// A member of `web` in subnet-a1 with `ordinal` and address 10.0.1.5.
fn numbered(id: &str, ordinal: &str) -> NetworkInterface {
    let mut m = member(id, "web", "subnet-a1");
    m.private_ip = Some("10.0.1.5".into());
    m.tags.insert(ORDINAL_TAG.into(), ordinal.into());
    m
}

fn carrying(mut i: Instance, ordinal: &str, address: &str) -> Instance {
    i.tags.insert(ORDINAL_TAG.into(), ordinal.into());
    i.tags.insert(ADDRESS_TAG.into(), address.into());
    i
}

fn web(id: &str, state: InstanceState) -> Instance {
    instance(id, Some("web"), "subnet-a1", state)
}

/// The identity lines of the plan.
fn identities(snapshot: &Snapshot) -> Vec<String> {
    let lines = render(&plan(snapshot));
    lines
        .into_iter()
        .filter(|l| l.contains("identify"))
        .collect()
}

#[test]
fn a_member_gives_its_ordinal_and_address_and_nothing_without_a_valid_ordinal() {
    let tags = identity::of(&numbered("eni-1", "3"));
    assert_eq!(tags[ORDINAL_TAG], "3");
    assert_eq!(tags[ADDRESS_TAG], "10.0.1.5");
    for invalid in ["0", "256", "x", "", " 3", "+3"] {
        assert!(
            identity::of(&numbered("eni-1", invalid)).is_empty(),
            "{invalid:?}"
        );
    }
    assert!(
        identity::of(&member("eni-2", "web", "subnet-a1")).is_empty(),
        "no ordinal"
    );
}

#[test]
fn a_holder_without_its_identity_gets_it_and_one_with_it_gets_nothing() {
    let mut holder = web("i-1", Running);
    let held = attach(numbered("eni-1", "3"), &mut holder, 1);
    let bare = Snapshot {
        members: vec![held.clone()],
        instances: vec![holder.clone()],
        ..Snapshot::default()
    };
    assert_eq!(identities(&bare), ["identify i-1 as 10.0.1.5 3"]);

    let wrong = carrying(holder.clone(), "4", "10.0.1.5");
    let stale = Snapshot {
        members: vec![held.clone()],
        instances: vec![wrong],
        ..Snapshot::default()
    };
    assert_eq!(identities(&stale), ["identify i-1 as 10.0.1.5 3"]);

    let right = carrying(holder, "3", "10.0.1.5");
    let settled = Snapshot {
        members: vec![held],
        instances: vec![right],
        ..Snapshot::default()
    };
    assert!(identities(&settled).is_empty());
}

#[test]
fn a_former_holder_loses_its_identity_unless_it_is_terminated() {
    let rows: [(InstanceState, &[&str]); 3] = [
        (Stopped, &["unidentify i-1"]),
        // Running, it waits and gets the member back: its identity comes
        // with the attach, not before.
        (Running, &[]),
        (Terminated, &[]),
    ];
    for (state, expected) in rows {
        let former = carrying(web("i-1", state), "3", "10.0.1.5");
        let members = vec![numbered("eni-1", "3")];
        let snapshot = Snapshot {
            members,
            instances: vec![former],
            ..Snapshot::default()
        };
        assert_eq!(identities(&snapshot), expected, "{state:?}");
    }
}

#[test]
fn an_instance_whose_member_s_read_lags_is_left_as_it_is() {
    let mut holder = carrying(web("i-1", Running), "3", "10.0.1.5");
    let listed = attach(numbered("eni-1", "3"), &mut holder, 1);
    // The member's own read does not show the attachment yet (R11).
    let lagging = NetworkInterface {
        attachment: None,
        ..listed
    };
    let snapshot = Snapshot {
        members: vec![lagging],
        instances: vec![holder],
        ..Snapshot::default()
    };
    assert!(
        identities(&snapshot).is_empty(),
        "{:?}",
        render(&plan(&snapshot))
    );
}

#[test]
fn an_attach_carries_the_identity_its_member_gives_and_no_separate_step() {
    let waiting = web("i-1", Running);
    let snapshot = Snapshot {
        members: vec![numbered("eni-1", "7")],
        instances: vec![waiting],
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
    assert_eq!(attach.candidates[0].identity[ORDINAL_TAG], "7");
    assert!(!plan
        .actions
        .iter()
        .any(|a| matches!(a, Action::Identify(_))));
}

#[test]
fn an_instance_out_of_every_pool_still_loses_an_identity_it_carries() {
    let moved = carrying(instance("i-1", None, "subnet-a1", Running), "3", "10.0.1.5");
    let snapshot = Snapshot {
        members: vec![],
        instances: vec![moved],
        ..Snapshot::default()
    };
    assert_eq!(identities(&snapshot), ["unidentify i-1"]);
}

#[test]
fn half_an_identity_on_an_instance_that_holds_nothing_comes_off_too() {
    for key in [ORDINAL_TAG, ADDRESS_TAG] {
        let mut stopped = web("i-1", Stopped);
        stopped.tags.insert(key.into(), "3".into());
        let snapshot = Snapshot {
            members: vec![],
            instances: vec![stopped],
            ..Snapshot::default()
        };
        assert_eq!(identities(&snapshot), ["unidentify i-1"], "{key}");
    }
}

#[test]
fn each_holder_gets_the_identity_of_its_own_member() {
    let (mut one, mut two) = (web("i-1", Running), web("i-2", Running));
    let first = attach(numbered("eni-1", "3"), &mut one, 1);
    let mut second = numbered("eni-2", "4");
    second.private_ip = Some("10.0.1.6".into());
    let second = attach(second, &mut two, 1);
    let snapshot = Snapshot {
        members: vec![first, second],
        instances: vec![one, two],
        ..Snapshot::default()
    };
    assert_eq!(
        identities(&snapshot),
        ["identify i-1 as 10.0.1.5 3", "identify i-2 as 10.0.1.6 4"]
    );
}
