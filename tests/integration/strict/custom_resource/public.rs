//! Public addresses of declared pools (C14) on the strict model: one
//! Elastic IP per member, allocated or adopted, associated once and never
//! touched by a handover; kept for a rollback; released on Delete only if
//! the pool allocated it.

use std::time::Duration;

use network_interface_manager::ec2::InstanceState::{Running, Stopped};
use network_interface_manager::ec2::{Address, ADOPTED_TAG, OWNER_TAG, RETIRED_TAG, SLOT_TAG};
use serde_json::{json, Value};

use crate::support::cfn::{answer, failure, request, schedule_now, Declared, STACK_ID};
use crate::support::listener::Listener;
use crate::support::strict::Op;
use crate::support::world::{deliver_ok, state_event, StrictWorld};

fn bastion(public: bool) -> Value {
    json!({"Name": "bastion", "SubnetIds": ["subnet-a1", "subnet-b1"],
        "PublicIp": public, "Tags": [{"Key": "Team", "Value": "ops"}]})
}

fn strings(list: &Value) -> Vec<String> {
    let items = list.as_array().cloned().unwrap_or_default();
    items
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// The address with this allocation id, as it truly is.
fn address(d: &Declared, id: &str) -> Option<Address> {
    d.w.model.addresses().remove(id)
}

/// C14: `PublicIp` allocates one tagged Elastic IP per member and
/// associates it with the member's primary private address; the answer
/// lists them in the members' order.
#[tokio::test]
async fn public_ip_gives_each_member_its_own_associated_address() {
    let d = Declared::create(bastion(true)).await;

    let data = &d.created["Data"];
    let (ips, ids) = (
        strings(&data["PublicIpAddresses"]),
        strings(&data["AllocationIds"]),
    );
    assert_eq!((ips.len(), ids.len()), (2, 2), "{data}");
    for ((member, ip), id) in d.members().iter().zip(&ips).zip(&ids) {
        let a = address(&d, id).unwrap();
        assert_eq!(&a.public_ip, ip);
        let private = d.w.model.interfaces().into_iter().find(|i| &i.id == member);
        assert!(
            a.is_on(member, private.unwrap().private_ip.as_deref()),
            "{a:?}"
        );
        assert_eq!(a.tags[OWNER_TAG], d.physical_id());
        assert_eq!(a.tags["Team"], "ops");
        assert!(a.tags[SLOT_TAG].starts_with("subnet-"), "{a:?}");
    }
    assert_eq!(d.w.model.addresses().len(), 2, "nothing else allocated");
}

/// C2, C14: a repeated Create (the same request delivered again) finds the
/// first one's addresses by their tags and allocates nothing more.
#[tokio::test]
async fn a_repeated_create_allocates_nothing_twice() {
    let d = Declared::create(bastion(true)).await;
    d.w.model.settle_reads();
    let mut again = request("Create", &d.cfn.url, bastion(true));
    again["RequestId"] = "Create-again".into();

    let body = answer(&d.w, &d.cfn, &again).await;

    assert_eq!(body["Data"], d.created["Data"], "{body}");
    assert_eq!(d.w.model.addresses().len(), 2);
}

/// C14, R12: a stop hands the member over; its public address goes with it
/// and no Elastic IP call is made, by the event or by the sync after.
#[tokio::test]
async fn a_handover_keeps_the_public_address_without_an_address_call() {
    let d =
        Declared::create(json!({"Name": "bastion", "SubnetIds": ["subnet-a1"], "PublicIp": true}))
            .await;
    let member = d.members().remove(0);
    let ip = strings(&d.created["Data"]["PublicIpAddresses"]).remove(0);
    let old = d.w.model.launch(Some("bastion"), "subnet-a1");
    deliver_ok(&d.w, &state_event(&old, Running)).await;
    let new = d.w.model.launch(Some("bastion"), "subnet-a1");
    d.w.model.set_state(&old, Stopped);
    d.w.model.settle_reads();

    let handed_over = deliver_ok(&d.w, &state_event(&old, Stopped)).await;
    let sync = d.schedule().await;

    assert_eq!(d.w.model.holder(&member), Some((new, 1)));
    let on_member = d.w.model.interfaces().into_iter().find(|i| i.id == member);
    assert_eq!(on_member.unwrap().public_ip, Some(ip));
    let calls = &handed_over.ec2_calls;
    assert!(!calls.keys().any(|op| op.contains("Address")), "{calls:?}");
    // The schedule's one Elastic IP call is its cleanup's read (C12).
    let calls = &sync.ec2_calls;
    let addresses: Vec<&&str> = calls.keys().filter(|op| op.contains("Address")).collect();
    assert_eq!(addresses, [&"DescribeAddresses"], "{calls:?}");
}

/// C12, C14: an Update that drops `PublicIp` keeps the addresses (retired,
/// still associated) while a rollback may come; the rollback gets the same
/// public addresses back; once the stack settles without them, the
/// schedule releases them.
#[tokio::test]
async fn dropped_addresses_wait_for_the_stack_and_a_rollback_gets_them_back() {
    let d = Declared::create(bastion(true)).await;
    let ids = strings(&d.created["Data"]["AllocationIds"]);

    let dropped = d.update(&bastion(false), &bastion(true)).await;
    assert_eq!(dropped["Status"], "SUCCESS", "{dropped}");
    assert!(
        dropped["Data"].get("PublicIpAddresses").is_none(),
        "{dropped}"
    );
    d.stacks.set(STACK_ID, "UPDATE_ROLLBACK_IN_PROGRESS");
    d.schedule().await;
    for id in &ids {
        let a = address(&d, id).expect("kept while a rollback may come");
        assert!(
            a.tags.contains_key(RETIRED_TAG) && a.association.is_some(),
            "{a:?}"
        );
    }

    let rolled_back = d.update(&bastion(true), &bastion(false)).await;
    assert_eq!(rolled_back["Data"], d.created["Data"], "{rolled_back}");
    assert!(!address(&d, &ids[0]).unwrap().tags.contains_key(RETIRED_TAG));

    d.update(&bastion(false), &bastion(true)).await;
    d.stacks.set(STACK_ID, "UPDATE_COMPLETE");
    let cleaned = d.schedule().await;
    assert!(
        d.w.model.addresses().is_empty(),
        "{:?}",
        cleaned.outcome.cleaned_up
    );
}

/// A pool with public addresses that adopted an interface made by hand:
/// (the pool, that interface, the declaration with it, the one without).
async fn adopted_with_address() -> (Declared, String, Value, Value) {
    let w = StrictWorld::new();
    let by_hand = w.model.add_interface("subnet-b1", []);
    let with = json!({"Name": "bastion", "SubnetIds": ["subnet-a1"], "PublicIp": true,
        "NetworkInterfaceIds": [by_hand]});
    let without = json!({"Name": "bastion", "SubnetIds": ["subnet-a1"], "PublicIp": true});
    let d = Declared::create_in(w, with.clone()).await;
    (d, by_hand, with, without)
}

/// C12, C14: an Update that drops an adopted interface takes the pool's
/// address off it before the interface leaves the pool untagged: IAM
/// checks a DisassociateAddress against the interface too, and the role
/// may disassociate only from an interface the pool owns, so the address
/// could never be let go later. It is retired as any other: a rollback
/// puts it back on the interface, and once the stack settles without it
/// the schedule releases it.
#[tokio::test]
async fn an_adopted_interface_leaves_without_the_pool_s_address() {
    let (d, by_hand, with, without) = adopted_with_address().await;
    let ids = strings(&d.created["Data"]["AllocationIds"]);
    let on_it = address(&d, &ids[1]).unwrap().association;
    let interface = on_it.as_ref().and_then(|a| a.network_interface_id.as_ref());
    assert_eq!(interface, Some(&by_hand), "{on_it:?}");

    let dropped = d.update(&without, &with).await;
    assert_eq!(dropped["Status"], "SUCCESS", "{dropped}");
    let retired = address(&d, &ids[1]).unwrap();
    assert!(retired.tags.contains_key(RETIRED_TAG), "{retired:?}");
    assert_eq!(
        retired.association, None,
        "off the interface before it left"
    );

    let rolled_back = d.update(&with, &without).await;
    assert_eq!(rolled_back["Data"], d.created["Data"], "{rolled_back}");

    d.update(&without, &with).await;
    d.stacks.set(STACK_ID, "UPDATE_COMPLETE");
    let cleaned = d.schedule().await;
    let left: Vec<String> = d.w.model.addresses().into_keys().collect();
    assert_eq!(left, [ids[0].clone()], "{:?}", cleaned.outcome.cleaned_up);
}

/// C14: taking the pool's address off a leaving interface: an association
/// gone meanwhile is done; any other refusal fails the Update, naming it,
/// before the interface leaves the pool.
#[tokio::test]
async fn taking_an_address_off_a_leaving_interface_fails_only_if_ec2_refuses_it() {
    for (code, fails) in [
        ("InvalidAssociationID.NotFound", false),
        ("UnauthorizedOperation", true),
    ] {
        let (d, by_hand, with, without) = adopted_with_address().await;
        d.w.model.settle_reads();
        d.w.model.fail_next(Op::Disassociate, code, "refused");

        let dropped = d.update(&without, &with).await;

        let status = if fails { "FAILED" } else { "SUCCESS" };
        assert_eq!(dropped["Status"], status, "{code}: {dropped}");
        let pool_tag = network_interface_manager::ec2::POOL_TAG;
        let still_in = d.w.model.interfaces().into_iter().find(|i| i.id == by_hand);
        assert_eq!(
            still_in.unwrap().tags.contains_key(pool_tag),
            fails,
            "{code}"
        );
    }
}

/// C12, C14: the cleanup's tag read lags: it still shows the addresses
/// retired that a rollback took back since. Read again by id, they are
/// kept, on their members.
#[tokio::test]
async fn the_cleanup_keeps_addresses_a_lagging_read_shows_retired_but_a_rollback_took_back() {
    let d = Declared::create(bastion(true)).await;
    let ids = strings(&d.created["Data"]["AllocationIds"]);
    d.update(&bastion(false), &bastion(true)).await;
    d.stacks.set(STACK_ID, "UPDATE_ROLLBACK_IN_PROGRESS");
    d.w.model.settle_reads();

    let rolled_back = d.update(&bastion(true), &bastion(false)).await;
    assert_eq!(rolled_back["Data"], d.created["Data"], "{rolled_back}");
    d.stacks.set(STACK_ID, "UPDATE_ROLLBACK_COMPLETE");
    d.w.model.faults.lock().unwrap().filter_lag_floor = Duration::from_secs(5);
    let handled = schedule_now(&d.w, &d.stacks, Duration::from_secs(30)).await;

    let cleaned = &handled.outcome.cleaned_up;
    for id in &ids {
        let a = address(&d, id).expect("kept");
        let retired = a.tags.contains_key(RETIRED_TAG);
        assert!(a.association.is_some() && !retired, "{a:?} {cleaned:?}");
    }
}

/// C14: Delete releases what the pool allocated, and only disassociates and
/// untags what it adopted, which keeps its own tags.
#[tokio::test]
async fn delete_releases_only_what_the_pool_allocated() {
    let w = StrictWorld::new();
    let mine = w.model.add_address(&[("Owner", "me")], None);
    let mut props = bastion(true);
    props["ElasticIpAllocationIds"] = json!([mine]);
    let d = Declared::create_in(w, props.clone()).await;
    let ids = strings(&d.created["Data"]["AllocationIds"]);
    assert_eq!(ids[0], mine, "the listed one goes to the first member");
    let adopted = address(&d, &mine).unwrap();
    assert!(adopted.tags.contains_key(ADOPTED_TAG) && adopted.association.is_some());

    let body = d.delete(props).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert!(
        address(&d, &ids[1]).is_none(),
        "the allocated one is released"
    );
    let kept = address(&d, &mine).expect("an adopted address is never released");
    assert_eq!(kept.association, None);
    let users = [("Owner".to_string(), "me".to_string())].into();
    assert_eq!(kept.tags, users);
}

/// C14: allocations that are associated outside the pool, belong to another
/// pool, or do not exist are refused by name, and nothing is changed.
#[tokio::test]
async fn adoption_of_an_address_in_use_or_of_another_pool_is_refused_by_name() {
    let w = StrictWorld::new();
    let outsider = w.model.add_interface("subnet-a1", []);
    let in_use = w.model.add_address(&[], Some(&outsider));
    let theirs = w
        .model
        .add_address(&[("network-interface-manager-pool", "vpn")], None);
    let missing = "eipalloc-0123456789abcdef0";
    let cfn = Listener::start().await;
    let mut props = bastion(false);
    props["ElasticIpAllocationIds"] = json!([in_use, theirs]);
    for (listed, why) in [
        (
            &in_use,
            format!("associated with {outsider}, outside the pool"),
        ),
        (&theirs, "belongs to pool 'vpn'".to_string()),
        (&missing.to_string(), "does not exist".to_string()),
    ] {
        props["ElasticIpAllocationIds"] = json!([listed]);
        let body = answer(&w, &cfn, &request("Create", &cfn.url, props.clone())).await;
        let reason = failure(&body);
        assert!(
            reason.contains(listed.as_str()) && reason.contains(&why),
            "{reason}"
        );
        assert!(w.model.writes().is_empty(), "{:?}", w.model.writes());
    }
}

/// C14 [EC2-EIP-ASSOC]: a member whose private address has an Elastic IP
/// put there by hand: an association would take it off (AWS displaces it,
/// and so does the strict model). The Update that adds `PublicIp` is
/// refused before anything is made, naming the member and the address,
/// which stays on it.
#[tokio::test]
async fn an_elastic_ip_put_on_a_member_by_hand_is_never_displaced() {
    let d = Declared::create(json!({"Name": "bastion", "SubnetIds": ["subnet-a1"]})).await;
    let member = d.members().remove(0);
    let by_hand = d.w.model.add_address(&[], Some(&member));
    d.w.model.settle_reads();
    let one = json!({"Name": "bastion", "SubnetIds": ["subnet-a1"]});
    let public = json!({"Name": "bastion", "SubnetIds": ["subnet-a1"], "PublicIp": true});

    let body = d.update(&public, &one).await;

    let reason = failure(&body);
    let address = d.w.model.addresses()[&by_hand].clone();
    assert!(reason.starts_with("PublicIp:"), "{reason}");
    assert!(
        reason.contains(&member) && reason.contains(&address.public_ip),
        "{reason}"
    );
    let left: Vec<String> = d.w.model.addresses().into_keys().collect();
    assert_eq!(left, vec![by_hand], "nothing was allocated");
    let on = address
        .association
        .as_ref()
        .and_then(|a| a.network_interface_id.clone());
    assert_eq!(on, Some(member), "still on the member");
}

/// C13, C14: a pool its deleted stack retained keeps its public addresses.
#[tokio::test]
async fn a_retained_pool_keeps_its_public_addresses() {
    let d = Declared::create(bastion(true)).await;
    d.stacks.delete(STACK_ID, "Pool", d.physical_id(), true);

    d.schedule().await;

    assert_eq!(d.w.model.addresses().len(), 2);
    assert!(d
        .w
        .model
        .addresses()
        .values()
        .all(|a| a.association.is_some()));
}

/// Pools tagged by hand: an Elastic IP associated with a member by hand
/// moves with it from instance to instance; the manager never calls EC2
/// about it.
#[tokio::test]
async fn an_address_associated_by_hand_follows_its_member() {
    let w = StrictWorld::new();
    let member = w.model.add_member("vpn", "subnet-a1");
    let by_hand = w.model.add_address(&[], Some(&member));
    let old = w.model.launch(Some("vpn"), "subnet-a1");
    deliver_ok(&w, &state_event(&old, Running)).await;
    let new = w.model.launch(Some("vpn"), "subnet-a1");
    w.model.set_state(&old, Stopped);
    w.model.settle_reads();

    let handled = deliver_ok(&w, &state_event(&old, Stopped)).await;

    assert_eq!(w.model.holder(&member), Some((new, 1)));
    let address = w.model.addresses().remove(&by_hand).unwrap();
    assert!(address.is_on(
        &member,
        address.association.as_ref().unwrap().private_ip.as_deref()
    ));
    assert!(!handled.ec2_calls.keys().any(|op| op.contains("Address")));
}
