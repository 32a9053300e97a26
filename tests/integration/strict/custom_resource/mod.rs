//! `Custom::NetworkInterfacePool` through CloudFormation's whole lifecycle
//! and against a hostile stack author (docs/design.md, C9-C13), on the
//! strict model.

mod faults;
mod ordinals;
mod public;
mod removal;
mod states;
mod volumes;

use std::time::Duration;

use network_interface_manager::ec2::{Ec2, POOL_TAG, RETIRED_TAG, SLOT_TAG};
use serde_json::json;

use crate::support::cfn::{
    answer, delete, failure, request, schedule_now, update, Declared, STACK_ID,
};
use crate::support::listener::Listener;
use crate::support::strict::Op;
use crate::support::world::{deliver_ok, StrictWorld, World};

/// C9: CDK's default type, or a typo, is answered rather than left to time
/// out: FAILED naming the type for Create and Update, SUCCESS for Delete.
#[tokio::test]
async fn every_request_of_a_foreign_resource_type_is_answered() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a1"]});
    for kind in ["Create", "Update", "Delete"] {
        let mut r = request(kind, &cfn.url, props.clone());
        r["ResourceType"] = "AWS::CloudFormation::CustomResource".into();
        if kind != "Create" {
            r["PhysicalResourceId"] = "pool-0123".into();
        }
        let body = answer(&w, &cfn, &r).await;
        match kind {
            "Delete" => assert_eq!(body["Status"], "SUCCESS", "{body}"),
            _ => assert!(
                failure(&body).contains("AWS::CloudFormation::CustomResource"),
                "{body}"
            ),
        }
    }
    assert!(w.model.writes().is_empty(), "nothing was touched");
}

/// C5: a request whose fields have unexpected types is still answered.
#[tokio::test]
async fn a_request_with_fields_of_unexpected_types_is_still_answered() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let mut r = request("Create", &cfn.url, json!({}));
    r["StackId"] = json!(12);
    r["LogicalResourceId"] = json!(["Pool"]);
    r["ResourceProperties"] = json!("not an object");

    deliver_ok(&w, &r).await;

    let puts = cfn.requests();
    assert_eq!(puts.len(), 1, "one answer");
    let body = puts[0].json();
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["StackId"], "12", "echoed as CloudFormation sent it");
}

/// C8: a redirect is never followed: nothing reaches its target.
#[tokio::test]
async fn a_response_url_that_redirects_sends_nothing_to_the_redirects_target() {
    let w = StrictWorld::new();
    let target = Listener::start().await;
    let redirector = Listener::redirecting_to(&target.url).await;
    let r = request("Delete", &redirector.url, json!({"Name": "web"}));

    let handled = deliver_ok(&w, &r).await;

    assert_eq!(redirector.requests().len(), 1);
    assert!(target.requests().is_empty(), "the redirect was followed");
    let note = handled.outcome.note.unwrap_or_default();
    assert!(note.contains("307"), "{note}");
}

/// C5: echoed fields of 10 kB: still exactly one answer, of at most 4096
/// bytes, in bounded time.
#[tokio::test]
async fn echoed_fields_of_10_kb_get_one_answer_that_fits() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let mut r = request("Create", &cfn.url, json!({"Name": "web"}));
    r["StackId"] = format!("{STACK_ID}{}", "x".repeat(10_000)).into();
    r["RequestId"] = "r".repeat(10_000).into();

    let handled = tokio::time::timeout(Duration::from_secs(20), deliver_ok(&w, &r)).await;

    assert!(handled.is_ok(), "the answer took too long");
    let puts = cfn.requests();
    assert_eq!(puts.len(), 1);
    assert!(puts[0].body.len() <= 4096, "{} bytes", puts[0].body.len());
}

/// C4: a Delete with a physical id CloudFormation made up (after a
/// cancelled Create) also removes what the pool's own id owns.
#[tokio::test]
async fn a_delete_with_a_made_up_physical_id_removes_what_the_create_made() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a1", "subnet-b1"]});
    let created = answer(&w, &cfn, &request("Create", &cfn.url, props.clone())).await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");

    let made_up = "demo-Pool-1ABCDEF2GHIJ";
    let body = answer(&w, &cfn, &delete(&cfn.url, made_up, props)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let left: Vec<_> = w
        .model
        .interfaces()
        .into_iter()
        .filter(|i| {
            i.tags
                .keys()
                .any(|k| k.starts_with("network-interface-manager"))
        })
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

fn fixed(ips: &[&str]) -> serde_json::Value {
    json!({"Name": "dns", "SubnetIds": ["subnet-a1", "subnet-b1"], "PrivateIpAddresses": ips})
}

/// C12: an Update removes a fixed-address slot, then CloudFormation rolls
/// the stack back: the same interface holds the address again, and no
/// sync in between attached the retired interface anywhere.
#[tokio::test]
async fn a_rollback_brings_back_the_same_interface_and_no_sync_meanwhile_used_it() {
    let (both, one) = (fixed(&["10.0.1.53", "10.0.3.53"]), fixed(&["10.0.1.53"]));
    let d = Declared::create(both.clone()).await;
    let b_member = d.members().remove(1);
    let waiting_in_b = d.w.model.launch(Some("dns"), "subnet-b1");

    let updated = d.update(&one, &both).await;
    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    d.stacks.set(STACK_ID, "UPDATE_ROLLBACK_IN_PROGRESS");
    d.schedule().await;
    let holder = d.w.model.holder(&b_member);
    assert_eq!(holder, None, "a retired interface is in no pool");
    assert!(
        d.w.model.exists(&b_member),
        "kept while the stack operation runs"
    );

    let rolled_back = d.update(&both, &one).await;

    assert_eq!(rolled_back["Data"], d.created["Data"], "{rolled_back}");
    d.schedule().await;
    assert_eq!(d.w.model.holder(&b_member), Some((waiting_in_b, 1)));
}

/// C12: retired interfaces go once the stack reports its operation over,
/// and stay while it runs or while CloudFormation does not know the stack.
#[tokio::test]
async fn retired_interfaces_are_deleted_only_once_the_stack_operation_is_over() {
    let both = fixed(&["10.0.1.53", "10.0.3.53"]);
    let d = Declared::create(both.clone()).await;
    let [kept, retired] = [0, 1].map(|n| d.members().remove(n));
    d.update(&fixed(&["10.0.1.53"]), &both).await;

    d.schedule().await;
    let unknown = "a stack CloudFormation does not know: left alone";
    assert!(d.w.model.exists(&retired), "{unknown}");
    d.stacks
        .set(STACK_ID, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS");
    d.schedule().await;
    assert!(d.w.model.exists(&retired), "kept while the operation runs");

    d.stacks.set(STACK_ID, "UPDATE_COMPLETE");
    let handled = d.schedule().await;

    let cleaned = &handled.outcome.cleaned_up;
    assert!(!d.w.model.exists(&retired), "{cleaned:?}");
    assert!(d.w.model.exists(&kept), "the declared one stays");
}

/// C12: what EC2 answers the delete of a retired interface is what the
/// cleanup says: gone meanwhile (another run deleted it), nothing; in use
/// (attached since its read), left for the next run, which says so; any
/// other refusal, named. Each time the next run deletes it.
#[tokio::test]
async fn a_refused_delete_of_a_retired_interface_is_reported_as_ec2_answered() {
    let answers = [
        ("InvalidNetworkInterfaceID.NotFound", None),
        (
            "InvalidNetworkInterface.InUse",
            Some("in use; the next run tries again"),
        ),
        ("UnauthorizedOperation", Some("could not delete retired")),
    ];
    for (code, said) in answers {
        let both = fixed(&["10.0.1.53", "10.0.3.53"]);
        let d = Declared::create(both.clone()).await;
        let retired = d.members().remove(1);
        d.update(&fixed(&["10.0.1.53"]), &both).await;
        d.stacks.set(STACK_ID, "UPDATE_COMPLETE");
        d.w.model.fail_next(Op::Delete, code, "refused");

        let handled = d.schedule().await;

        let cleaned = &handled.outcome.cleaned_up;
        let about: Vec<&String> = cleaned.iter().filter(|l| l.contains(&retired)).collect();
        match said {
            None => assert!(about.is_empty(), "{code}: {cleaned:?}"),
            Some(said) => assert!(
                about.len() == 1 && about[0].contains(said),
                "{code}: {cleaned:?}"
            ),
        }
        let next = d.schedule().await;
        assert!(!d.w.model.exists(&retired), "{code}: {next:?}");
    }
}

/// C12: a lagging read still shows retired a member a rollback reinstated
/// since, free: read again by id, it is kept (its address with it).
#[tokio::test]
async fn the_cleanup_keeps_a_free_member_a_lagging_read_shows_retired() {
    let both = fixed(&["10.0.1.53", "10.0.3.53"]);
    let one = fixed(&["10.0.1.53"]);
    let d = Declared::create(both.clone()).await;
    let reinstated = d.members().remove(1);
    d.update(&one, &both).await;
    d.stacks.set(STACK_ID, "UPDATE_ROLLBACK_IN_PROGRESS");
    d.w.model.settle_reads();
    d.update(&both, &one).await;
    d.stacks.set(STACK_ID, "UPDATE_ROLLBACK_COMPLETE");
    d.w.model.faults.lock().unwrap().filter_lag_floor = Duration::from_secs(5);

    let handled = schedule_now(&d.w, &d.stacks, Duration::from_secs(30)).await;

    let cleaned = &handled.outcome.cleaned_up;
    assert!(d.w.model.exists(&reinstated), "{cleaned:?}");
}

/// The manager's tags removed, the user's kept.
fn only_the_users_tags_left(w: &StrictWorld, eni: &str) {
    let interfaces = w.model.interfaces();
    let released = interfaces.iter().find(|i| i.id == eni).unwrap();
    let users = [("Team".to_string(), "ops".to_string())].into();
    assert_eq!(released.tags, users);
}

/// C13: a pool whose stack was deleted without its Delete being served:
/// the schedule deletes what it made and releases what it adopted.
#[tokio::test]
async fn the_schedule_removes_the_pools_of_a_deleted_stack() {
    let w = StrictWorld::new();
    let adopted = w.model.add_interface("subnet-a1", [("Team", "ops")]);
    let props =
        json!({"Name": "web", "SubnetIds": ["subnet-a1"], "NetworkInterfaceIds": [adopted]});
    let d = Declared::create_in(w, props).await;
    let made = d.members().remove(0);

    d.stacks.delete(STACK_ID, "Pool", d.physical_id(), false);
    d.schedule().await;

    assert!(!d.w.model.exists(&made));
    only_the_users_tags_left(&d.w, &adopted);
}

/// C4, C11: a Delete removes an owned interface that lost its pool tag.
#[tokio::test]
async fn a_delete_removes_an_owned_interface_that_lost_its_pool_tag() {
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a1"]});
    let d = Declared::create(props.clone()).await;
    let member = d.members().remove(0);
    let ec2 = d.w.ec2();
    ec2.delete_tags(std::slice::from_ref(&member), &[POOL_TAG.into()])
        .await
        .unwrap();

    let body = d.delete(props).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert!(!d.w.model.exists(&member));
}

/// C4: one adopted interface deleted out of band; the others still lose
/// every manager tag (the batch is retried without the missing id).
#[tokio::test]
async fn a_delete_releases_the_adopted_interfaces_left_when_one_is_gone() {
    let w = StrictWorld::new();
    let gone = w.model.add_interface("subnet-a1", []);
    let left = w.model.add_interface("subnet-a1", [("Team", "ops")]);
    let props = json!({"Name": "web", "NetworkInterfaceIds": [gone, left]});
    let d = Declared::create_in(w, props.clone()).await;
    d.w.model.settle_reads();
    d.w.ec2().delete_interface(&gone).await.unwrap();

    let body = d.delete(props).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    only_the_users_tags_left(&d.w, &left);
}

/// C3: an Update that no longer lists adopted interfaces releases them in
/// one call; when one of them was deleted out of band meanwhile (and the
/// reads still show it), the rest still lose every manager tag (each
/// alone, after EC2 refused the batch) and the Update succeeds.
#[tokio::test]
async fn an_update_releases_adopted_interfaces_in_one_call_and_the_rest_when_one_is_gone() {
    let w = StrictWorld::new();
    let (gone, left, kept, other) = (
        w.model.add_interface("subnet-a1", []),
        w.model.add_interface("subnet-a1", [("Team", "ops")]),
        w.model.add_interface("subnet-a1", []),
        w.model.add_interface("subnet-a1", [("Team", "ops")]),
    );
    let listed = |ids: &[&String]| json!({"Name": "web", "NetworkInterfaceIds": ids});
    let (all, three) = (
        listed(&[&gone, &left, &kept, &other]),
        listed(&[&gone, &left, &kept]),
    );
    let d = Declared::create_in(w, all.clone()).await;
    d.w.model.settle_reads();

    let untags = || d.w.ec2().calls().get("DeleteTags").copied().unwrap_or(0);
    let before = untags();
    let dropped = d.update(&three, &all).await;
    assert_eq!(dropped["Status"], "SUCCESS", "{dropped}");
    assert_eq!(untags() - before, 1, "one call releases it");
    only_the_users_tags_left(&d.w, &other);

    // Deleted out of band, and every read still shows it for a while.
    d.w.model.settle_reads();
    d.w.ec2().delete_interface(&gone).await.unwrap();
    d.w.model.reads_lag(Duration::from_secs(1));
    let body = d.update(&listed(&[&kept]), &three).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    only_the_users_tags_left(&d.w, &left);
}

/// C5: EC2 refusing to release an adopted interface fails the Update with
/// EC2's reason, whether it refuses the batch or, after one id was gone,
/// the interface alone; the interface keeps the pool's tags.
#[tokio::test]
async fn an_update_whose_release_ec2_refuses_fails_with_its_reason() {
    let w = StrictWorld::new();
    let (adopted, kept) = (
        w.model.add_interface("subnet-a1", []),
        w.model.add_interface("subnet-a1", []),
    );
    let (both, one) = (
        json!({"Name": "web", "NetworkInterfaceIds": [adopted, kept]}),
        json!({"Name": "web", "NetworkInterfaceIds": [kept]}),
    );
    let d = Declared::create_in(w, both.clone()).await;
    d.w.model.settle_reads();
    let refused = "UnauthorizedOperation";
    let not_found = "InvalidNetworkInterfaceID.NotFound";
    for errors in [vec![refused], vec![not_found, refused]] {
        for code in errors {
            d.w.model.fail_next(Op::DeleteTags, code, "refused");
        }

        let body = d.update(&one, &both).await;

        assert!(failure(&body).contains(refused), "{body}");
        let tags = d.w.model.interfaces().into_iter().find(|i| i.id == adopted);
        assert!(tags.unwrap().tags.contains_key(POOL_TAG));
    }
}

/// C10: an interface attached to an instance outside the pool is not
/// adopted, and nothing is changed; one on a pool instance is.
#[tokio::test]
async fn adoption_takes_only_what_is_free_or_already_the_pools() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let outsider = w.model.launch(None, "subnet-a1");
    let theirs = w
        .model
        .add_launch_interface(&outsider, [("Team", "db")], 1, 0, false);
    let primary = w.model.primary_of(&outsider);
    let insider = w.model.launch(Some("web"), "subnet-a1");
    let ours = w.model.add_launch_interface(&insider, [], 1, 0, false);
    let efa = w.model.add_interface("subnet-a1", []);
    w.model.set_interface_type(&efa, "efa");

    for (eni, why) in [
        (&theirs, "which is not in pool 'web'"),
        (&primary, "is the primary interface"),
        (&efa, "is of type efa"),
    ] {
        let props = json!({"Name": "web", "NetworkInterfaceIds": [ours, eni]});
        let body = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;
        assert!(failure(&body).contains(why), "{body}");
        assert!(
            w.model.writes().is_empty(),
            "nothing changed: {:?}",
            w.model.writes()
        );
    }
    assert_eq!(w.model.holder(&theirs), Some((outsider, 1)));

    let props = json!({"Name": "web", "NetworkInterfaceIds": [ours]});
    let body = answer(&w, &cfn, &request("Create", &cfn.url, props)).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
}

/// C3: a slot changes from an address EC2 chose to that same address, now
/// fixed: the interface stays, nothing is created or retired.
#[tokio::test]
async fn fixing_the_address_ec2_chose_keeps_the_interface() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let chosen = json!({"Name": "dns", "SubnetIds": ["subnet-a1"]});
    let created = answer(&w, &cfn, &request("Create", &cfn.url, chosen.clone())).await;
    let physical = created["PhysicalResourceId"].as_str().unwrap();
    let ip = created["Data"]["PrivateIpAddresses"][0].as_str().unwrap();
    let fixed = json!({"Name": "dns", "SubnetIds": ["subnet-a1"], "PrivateIpAddresses": [ip]});
    let creates = w.model.calls()["CreateNetworkInterface"];

    let updated = answer(&w, &cfn, &update(&cfn.url, physical, fixed, chosen)).await;

    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(
        updated["Data"], created["Data"],
        "the same interface, the same address"
    );
    assert_eq!(
        w.model.calls()["CreateNetworkInterface"],
        creates,
        "nothing created"
    );
    let iface = w
        .model
        .interfaces()
        .into_iter()
        .find(|i| Some(i.private_ip.as_deref()) == Some(Some(ip)))
        .unwrap();
    assert_eq!(iface.tags[SLOT_TAG], format!("subnet-a1/{ip}"));
    assert!(!iface.tags.contains_key(RETIRED_TAG));
}
