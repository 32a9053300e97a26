//! What an Update retires and a Delete removes (C4, C11, C12), whatever
//! EC2 answers on the way: a retired member leaves its holder; an
//! interface or attachment gone meanwhile (the reads still showing it) is
//! no failure; a refusal fails the request with EC2's reason; a lagging
//! read never makes a second detach.

use std::time::Duration;

use network_interface_manager::ec2::InstanceState::Terminated;
use network_interface_manager::ec2::{InterfaceStatus, RETIRED_TAG};
use serde_json::{json, Value};

use crate::support::cfn::{failure, Declared};
use crate::support::strict::Op;
use crate::support::world::World;

const REFUSED: &str = "UnauthorizedOperation";

/// Two fixed addresses, or only the first: the Update between them
/// retires the second's interface.
fn fixed(both: bool) -> Value {
    let ips = match both {
        true => vec!["10.0.1.10", "10.0.1.11"],
        false => vec!["10.0.1.10"],
    };
    json!({"Name": "web", "SubnetIds": ["subnet-a1"], "PrivateIpAddresses": ips})
}

/// A pool of two, each member held by an instance; the second member.
async fn both_held() -> (Declared, String) {
    let d = Declared::create(fixed(true)).await;
    d.w.model.launch(Some("web"), "subnet-a1");
    d.w.model.launch(Some("web"), "subnet-a1");
    d.schedule().await;
    let members = d.members();
    assert!(members.iter().all(|m| d.w.model.holder(m).is_some()));
    (d, members[1].clone())
}

/// C12: the retired member is detached from its holder (out of the pool,
/// kept for a rollback), the other stays where it is.
#[tokio::test]
async fn a_retired_member_leaves_its_holder() {
    let (d, second) = both_held().await;
    let first = d.members().remove(0);
    let first_holder = d.w.model.holder(&first);

    let body = d.update(&fixed(false), &fixed(true)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(d.w.model.holder(&second), None, "detached");
    d.w.model.settle_reads();
    assert_eq!(d.w.model.status(&second), InterfaceStatus::Available);
    assert_eq!(d.w.model.holder(&first), first_holder);
    let retired = d.w.model.interfaces().into_iter().find(|i| i.id == second);
    assert!(retired.unwrap().tags.contains_key(RETIRED_TAG));
}

/// C12: the retired member's attachment ends before the detach (its
/// instance terminated meanwhile): EC2's NotFound is no failure. A refused
/// detach fails the Update with EC2's reason.
#[tokio::test]
async fn a_retire_whose_detach_finds_the_attachment_gone_succeeds_and_a_refused_one_fails() {
    let (d, _) = both_held().await;
    d.w.model.fail_next(Op::Detach, REFUSED, "refused");

    let refused = d.update(&fixed(false), &fixed(true)).await;

    assert!(failure(&refused).contains(REFUSED), "{refused}");
    let gone = "InvalidAttachmentID.NotFound";
    d.w.model.fail_next(Op::Detach, gone, "no such attachment");
    let body = d.update(&fixed(false), &fixed(true)).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
}

/// C12: the interface to retire was deleted out of band and the reads
/// still show it: retiring what is gone is done.
#[tokio::test]
async fn retiring_an_interface_deleted_meanwhile_succeeds() {
    let d = Declared::create(fixed(true)).await;
    let second = d.members().remove(1);
    d.w.model.settle_reads();
    d.w.ec2().delete_interface(&second).await.unwrap();
    d.w.model.reads_lag(Duration::from_secs(1));

    let body = d.update(&fixed(false), &fixed(true)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
}

/// C4, C11: a Delete whose interface was deleted out of band (the reads
/// still show it) succeeds and removes the rest.
#[tokio::test]
async fn a_delete_finds_an_interface_gone_meanwhile_fine() {
    let d = Declared::create(fixed(true)).await;
    let [first, second] = <[String; 2]>::try_from(d.members()).unwrap();
    d.w.model.settle_reads();
    d.w.ec2().delete_interface(&second).await.unwrap();
    d.w.model.reads_lag(Duration::from_secs(1));

    let body = d.delete(fixed(true)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert!(!d.w.model.exists(&first));
}

/// C4, C5: a Delete whose first step EC2 refuses (taking the interface out
/// of the pool) fails with EC2's reason and keeps the interface.
#[tokio::test]
async fn a_delete_ec2_refuses_fails_with_its_reason() {
    let d = Declared::create(fixed(false)).await;
    let member = d.members().remove(0);
    d.w.model.settle_reads();
    d.w.model.fail_next(Op::DeleteTags, REFUSED, "refused");

    let refused = d.delete(fixed(false)).await;

    assert!(failure(&refused).contains(REFUSED), "{refused}");
    assert!(d.w.model.exists(&member));
}

/// C4: a Delete detaches a held member once, even while the reads lag and
/// still show it attached: the next reads wait for EC2, they do not ask
/// again.
#[tokio::test]
async fn a_delete_detaches_once_while_the_reads_lag() {
    let (d, second) = both_held().await;
    d.w.model.settle_reads();
    d.w.model.reads_lag(Duration::from_secs(1));
    let detaches = || d.w.ec2().calls().get("DetachNetworkInterface").copied();
    let before = detaches();

    let body = d.delete(fixed(true)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert!(!d.w.model.exists(&second));
    let sent = detaches().unwrap_or(0) - before.unwrap_or(0);
    assert_eq!(sent, 2, "one for each member");
}

/// C4, C5: the Delete of a held member: EC2 refusing the detach, or the
/// delete, fails the request with EC2's reason; a delete EC2 answers
/// NotFound (deleted meanwhile) is done.
#[tokio::test]
async fn a_delete_fails_on_ec2s_refusals_and_not_on_an_interface_gone() {
    let gone = "InvalidNetworkInterfaceID.NotFound";
    for (op, code, fails) in [
        (Op::Detach, REFUSED, true),
        (Op::Delete, REFUSED, true),
        (Op::Delete, gone, false),
    ] {
        let d = Declared::create(fixed(false)).await;
        let member = d.members().remove(0);
        d.w.model.launch(Some("web"), "subnet-a1");
        d.schedule().await;
        assert!(d.w.model.holder(&member).is_some());
        d.w.model.fail_next(op, code, "refused, or gone");

        let body = d.delete(fixed(false)).await;

        match fails {
            true => assert!(failure(&body).contains(code), "{op:?}: {body}"),
            false => assert_eq!(body["Status"], "SUCCESS", "{op:?}: {body}"),
        }
    }
}

/// C4: the holder terminated and EC2 detached the member itself, but the
/// reads still show it attached: the Delete's detach finds no attachment,
/// which is no failure, and the member is deleted once the reads catch up.
#[tokio::test]
async fn a_delete_whose_detach_finds_the_attachment_gone_deletes_the_member() {
    let d = Declared::create(fixed(false)).await;
    let member = d.members().remove(0);
    let holder = d.w.model.launch(Some("web"), "subnet-a1");
    d.schedule().await;
    assert!(d.w.model.holder(&member).is_some());
    d.w.model.settle_reads();
    d.w.model.faults.lock().unwrap().termination_detach = Duration::ZERO;
    d.w.model.set_state(&holder, Terminated);
    d.w.model.reads_lag(Duration::from_secs(1));

    let body = d.delete(fixed(false)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert!(!d.w.model.exists(&member));
}

/// C4: the reads still show the member free when a Delete comes right
/// after it was attached: EC2 refuses the delete (in use), and the Delete
/// asks again until the reads show the attachment, detaches, deletes.
#[tokio::test]
async fn a_delete_that_ec2_finds_in_use_detaches_and_deletes() {
    let d = Declared::create(fixed(false)).await;
    let member = d.members().remove(0);
    let instance = d.w.model.launch(None, "subnet-a1");
    d.w.model.settle_reads();
    d.w.ec2().attach(&member, &instance, 1).await.unwrap();
    d.w.model.reads_lag(Duration::from_secs(1));

    let body = d.delete(fixed(false)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert!(!d.w.model.exists(&member));
}

/// C5: a Create that EC2 refuses half-way (the subnet has no free address
/// for its second interface) fails and removes the interface it made.
#[tokio::test]
async fn a_create_refused_half_way_removes_what_it_made() {
    let w = crate::support::world::StrictWorld::new();
    let cfn = crate::support::listener::Listener::start().await;
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a1"], "InterfacesPerSubnet": 2});
    w.model.fail_next(
        Op::Create,
        "InsufficientFreeAddressesInSubnet",
        "no free address",
    );

    let request = crate::support::cfn::request("Create", &cfn.url, props);
    let body = crate::support::cfn::answer(&w, &cfn, &request).await;

    assert!(
        failure(&body).contains("InsufficientFreeAddressesInSubnet"),
        "{body}"
    );
    w.model.settle_reads();
    assert!(
        w.model.interfaces().is_empty(),
        "{:?}",
        w.model.interfaces()
    );
}
