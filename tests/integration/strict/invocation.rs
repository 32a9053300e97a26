//! Pools declared by invocation (C15), as Terraform's, OpenTofu's and
//! Pulumi's `aws_lambda_invocation` (`lifecycle_scope = "CRUD"`) sends them
//! [TF-INV]: through `handle`, written once, run here on the strict model
//! and in `moto::invocation` through the real SDK.

use network_interface_manager::custom_resource::claims::{Touch, REPEAT_WINDOW};
use network_interface_manager::custom_resource::declaration::invocation_id;
use network_interface_manager::disposition::Disposition;
use network_interface_manager::ec2::{
    CLAIMS_TAG, DECLARATION_TAG, OWNER_TAG, POOL_TAG, STACK_TAG, TOUCHED_TAG,
};
use network_interface_manager::handler::Handled;
use serde_json::{json, Value};

use crate::support::world::{deliver, World};

#[macro_export]
macro_rules! invocation_scenarios_on {
    ($world:expr) => {
        $crate::invocation_scenarios_on!(
            $world;
            a_create_answers_what_get_att_gives_and_tags_no_stack,
            a_create_delivered_twice_makes_nothing_twice,
            a_second_declaration_of_a_name_is_refused_and_changes_nothing,
            invalid_properties_fail_the_caller_naming_the_property,
            an_update_deletes_the_member_it_removes_once_it_succeeded,
            a_rename_is_served_in_place_and_a_destroy_deletes_the_renamed_pool,
            a_rename_back_is_served_in_place,
            a_create_first_replacement_keeps_the_pool_whole_until_the_last_delete,
            a_create_first_replacement_with_changed_input_is_refused_and_changes_nothing,
            a_destroy_first_replacement_brings_back_fixed_addresses_only,
            a_destroy_first_replacement_with_changed_input_makes_the_new_declaration,
            a_delete_delivered_again_releases_nothing_more,
            a_create_answered_twice_keeps_the_pool_on_its_one_delete,
            a_refused_update_kept_in_state_then_a_destroy_deletes_the_pool,
            a_refused_rename_kept_in_state_then_a_destroy_leaves_the_pool_whole,
            an_elastic_ip_already_on_an_adopted_interface_is_never_displaced,
            a_delete_removes_the_pool_and_a_second_delete_succeeds,
            a_create_gives_a_waiting_instance_its_member_at_once,
            dropping_the_public_ip_releases_the_addresses_at_once,
        );
    };
    ($world:expr; $($scenario:ident),* $(,)?) => {$(
        #[tokio::test]
        async fn $scenario() {
            $crate::strict::invocation::$scenario(&$world).await
        }
    )*};
}

mod on_strict {
    crate::invocation_scenarios_on!(crate::support::world::StrictWorld::new());
}

/// The invocation Terraform sends: the input plus `tf` [TF-INV].
fn invocation(action: &str, input: &Value, prev_input: Option<&Value>) -> Value {
    let mut event = input.clone();
    event["tf"] = json!({"action": action, "prev_input": prev_input});
    event
}

pub(super) async fn invoke(
    w: &dyn World,
    action: &str,
    input: &Value,
    prev: Option<&Value>,
) -> Handled {
    deliver(w, &invocation(action, input, prev)).await
}

/// What the function returned, checked to be a success.
pub(super) fn returned(handled: &Handled) -> Value {
    assert_eq!(handled.disposition, Disposition::Done, "{handled:?}");
    handled.result().expect("the invocation succeeded")
}

/// The reason the caller's apply fails with.
pub(super) fn refused(handled: &Handled) -> String {
    assert_eq!(handled.disposition, Disposition::Failed, "{handled:?}");
    handled.result().expect_err("the invocation failed")
}

pub(super) fn bastion(w: &dyn World) -> Value {
    json!({"Name": "bastion", "SubnetIds": [w.subnet_id("a1"), w.subnet_id("b1")]})
}

pub(super) fn ids(answer: &Value) -> Vec<String> {
    let list = answer["NetworkInterfaceIds"].as_array().unwrap();
    list.iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

pub(super) async fn owned_ids(w: &dyn World, name: &str) -> Vec<String> {
    let (interfaces, _) = w.owned(&invocation_id(name)).await;
    let mut ids: Vec<String> = interfaces.into_iter().map(|i| i.id).collect();
    ids.sort();
    ids
}

pub(super) fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// C15, C6: the answer is what `Fn::GetAtt` gives, as JSON; the pool is
/// known by its name and carries no stack tag (no schedule cleanup ever
/// acts on it) but its declaration's fingerprint.
pub async fn a_create_answers_what_get_att_gives_and_tags_no_stack(w: &dyn World) {
    let handled = invoke(w, "create", &bastion(w), None).await;

    let answer = returned(&handled);
    assert_eq!(answer["Name"], "bastion", "{answer}");
    assert_eq!(ids(&answer).len(), 2, "{answer}");
    assert_eq!(answer["PrivateIpAddresses"].as_array().unwrap().len(), 2);
    let (made, _) = w.owned(&invocation_id("bastion")).await;
    assert_eq!(sorted(ids(&answer)), owned_ids(w, "bastion").await);
    for i in &made {
        assert_eq!(i.tags[POOL_TAG], "bastion");
        assert!(!i.tags.contains_key(STACK_TAG), "{i:?}");
        assert!(i.tags.contains_key(DECLARATION_TAG), "{i:?}");
    }
}

/// C2, C15: a create delivered again (Terraform retried after a timeout)
/// finds the first one's interfaces and answers the same.
pub async fn a_create_delivered_twice_makes_nothing_twice(w: &dyn World) {
    let first = returned(&invoke(w, "create", &bastion(w), None).await);

    let again = returned(&invoke(w, "create", &bastion(w), None).await);

    assert_eq!(again, first);
    assert_eq!(owned_ids(w, "bastion").await, sorted(ids(&first)));
}

/// C15: one name, one declaration: a create of an existing pool with other
/// properties fails the caller, naming the pool, and touches nothing.
pub async fn a_second_declaration_of_a_name_is_refused_and_changes_nothing(w: &dyn World) {
    let first = returned(&invoke(w, "create", &bastion(w), None).await);
    let other = json!({"Name": "bastion", "SubnetIds": [w.subnet_id("a2")]});

    let handled = invoke(w, "create", &other, None).await;

    let reason = refused(&handled);
    assert!(
        reason.contains("pool 'bastion' is already declared"),
        "{reason}"
    );
    assert_eq!(owned_ids(w, "bastion").await, sorted(ids(&first)));
    assert!(!handled
        .ec2_calls
        .keys()
        .any(|op| !op.starts_with("Describe")));
}

/// C1, C15: invalid properties fail the apply with the property named, and
/// nothing is made.
pub async fn invalid_properties_fail_the_caller_naming_the_property(w: &dyn World) {
    let invalid = json!({"Name": "bastion", "SubnetIds": "subnet-a1"});

    let handled = invoke(w, "create", &invalid, None).await;

    let reason = refused(&handled);
    assert!(reason.contains("SubnetIds"), "{reason}");
    assert!(handled.ec2_calls.is_empty(), "{:?}", handled.ec2_calls);
}

/// C15: no rollback can come, so an update deletes the member it no longer
/// declares once it succeeded, detaching it gently from its holder first.
pub async fn an_update_deletes_the_member_it_removes_once_it_succeeded(w: &dyn World) {
    let instance = w.launch(Some("bastion"), "a1").await;
    let old = bastion(w);
    let first = returned(&invoke(w, "create", &old, None).await);
    let (made, _) = w.owned(&invocation_id("bastion")).await;
    let in_a1 = made
        .iter()
        .find(|i| i.subnet_id == w.subnet_id("a1"))
        .unwrap();
    assert_eq!(w.holder(&in_a1.id).await.map(|h| h.0), Some(instance));
    let new = json!({"Name": "bastion", "SubnetIds": [w.subnet_id("b1")]});

    let answer = returned(&invoke(w, "update", &new, Some(&old)).await);

    let kept: Vec<String> = ids(&first).into_iter().filter(|i| i != &in_a1.id).collect();
    assert_eq!(ids(&answer), kept);
    assert_eq!(
        owned_ids(w, "bastion").await,
        kept,
        "the removed member is deleted"
    );
}

/// What a pool must keep across a replacement: its interfaces with their
/// private addresses, its Elastic IPs and its data volumes.
#[derive(Debug, PartialEq)]
pub(super) struct Whole {
    interfaces: Vec<(String, String)>,
    allocations: Vec<String>,
    volumes: Vec<String>,
}

pub(super) async fn whole(w: &dyn World, owner: &str) -> Whole {
    let (interfaces, addresses) = w.owned(owner).await;
    let mut interfaces: Vec<(String, String)> = interfaces
        .into_iter()
        .filter(|i| i.pool().is_some())
        .map(|i| (i.id, i.private_ip.unwrap_or_default()))
        .collect();
    interfaces.sort();
    let allocations = sorted(addresses.into_iter().map(|a| a.allocation_id).collect());
    let volumes = w.owned_volumes(owner).await.into_iter().map(|v| v.id);
    Whole {
        interfaces,
        allocations,
        volumes: sorted(volumes.collect()),
    }
}

/// A seat with all a pool can lose: an address EC2 chose, an Elastic IP
/// it allocated, a data volume.
pub(super) fn seat(w: &dyn World) -> Value {
    json!({
        "Name": "zk",
        "SubnetIds": [w.subnet_id("a1")],
        "PublicIp": true,
        "Volumes": [{"SizeGiB": 10, "DeviceName": "/dev/sdf"}],
    })
}

/// The claims the pool's members record (C18).
pub(super) async fn claims_of(w: &dyn World, owner: &str) -> Vec<String> {
    let (interfaces, _) = w.owned(owner).await;
    let claims = interfaces.iter().filter_map(|i| i.tags.get(CLAIMS_TAG));
    claims
        .map(|c| c.split(' ').next().unwrap().to_string())
        .collect()
}

/// Ten minutes and more pass: the pool's touches, its last release
/// included, are dated back past the repeat window (C18), as the clock
/// would leave them.
async fn later(w: &dyn World, owner: &str) {
    let aged = |tag: &str| match Touch::parse(tag) {
        Some(t) => Touch {
            at_ms: t.at_ms - REPEAT_WINDOW.as_millis() as i64,
            ..t
        }
        .tag(),
        None => tag.to_string(),
    };
    let (interfaces, _) = w.owned(owner).await;
    for i in interfaces {
        let claims = i.tags[CLAIMS_TAG].split_once(' ');
        let claims = claims.map_or(i.tags[CLAIMS_TAG].clone(), |(n, r)| {
            format!("{n} {}", aged(r))
        });
        let tags = [
            (TOUCHED_TAG.to_string(), aged(&i.tags[TOUCHED_TAG])),
            (CLAIMS_TAG.to_string(), claims),
        ];
        w.ec2()
            .create_tags(std::slice::from_ref(&i.id), &tags.into())
            .await
            .unwrap();
    }
    // Reads catch up with the write, as they would in ten minutes.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
}

/// R25, C15: a rename is served in place: the same interfaces, the holder
/// keeps its member; a destroy then finds the pool by its new name.
pub async fn a_rename_is_served_in_place_and_a_destroy_deletes_the_renamed_pool(w: &dyn World) {
    let instance = w.launch(Some("bastion"), "a1").await;
    let old = bastion(w);
    let first = returned(&invoke(w, "create", &old, None).await);
    let renamed = json!({"Name": "jump", "SubnetIds": [w.subnet_id("a1"), w.subnet_id("b1")]});

    let answer = returned(&invoke(w, "update", &renamed, Some(&old)).await);

    assert_eq!(ids(&answer), ids(&first));
    assert_eq!(answer["Name"], "jump");
    let (members, _) = w.owned(&invocation_id("bastion")).await;
    assert!(
        members.iter().all(|m| m.pool() == Some("jump")),
        "{members:?}"
    );
    let held = members.iter().find(|m| m.subnet_id == w.subnet_id("a1"));
    let held = held.unwrap();
    assert_eq!(w.holder(&held.id).await.map(|h| h.0), Some(instance));

    returned(&invoke(w, "delete", &renamed, Some(&renamed)).await);

    assert_eq!(owned_ids(w, "bastion").await, Vec::<String>::new());
}

/// R25, C15: a rename back is served in place too: the same interfaces.
pub async fn a_rename_back_is_served_in_place(w: &dyn World) {
    let old = bastion(w);
    let first = returned(&invoke(w, "create", &old, None).await);
    let renamed = json!({"Name": "jump", "SubnetIds": [w.subnet_id("a1"), w.subnet_id("b1")]});
    returned(&invoke(w, "update", &renamed, Some(&old)).await);

    let back = returned(&invoke(w, "update", &old, Some(&renamed)).await);

    assert_eq!(back["Name"], "bastion");
    assert_eq!(ids(&back), ids(&first));
    let (members, _) = w.owned(&invocation_id("bastion")).await;
    assert!(
        members.iter().all(|m| m.pool() == Some("bastion")),
        "{members:?}"
    );
}

/// C18: a create-first replacement (Pulumi's default; Terraform's with
/// `create_before_destroy`) claims the pool, then the old declaration lets
/// its claim go: interfaces, addresses, Elastic IP and volume all stay;
/// only the last delete removes them.
pub async fn a_create_first_replacement_keeps_the_pool_whole_until_the_last_delete(w: &dyn World) {
    let declared = seat(w);
    let first = returned(&invoke(w, "create", &declared, None).await);
    let owner = invocation_id("zk");
    let before = whole(w, &owner).await;
    assert_eq!(
        (
            before.interfaces.len(),
            before.allocations.len(),
            before.volumes.len()
        ),
        (1, 1, 1),
        "{before:?}"
    );

    let again = returned(&invoke(w, "create", &declared, None).await);
    returned(&invoke(w, "delete", &declared, Some(&declared)).await);

    assert_eq!(again, first);
    assert_eq!(whole(w, &owner).await, before);
    assert_eq!(claims_of(w, &owner).await, ["1"]);
    later(w, &owner).await;
    returned(&invoke(w, "delete", &declared, Some(&declared)).await);
    let gone = whole(w, &owner).await;
    assert!(
        gone.interfaces.is_empty() && gone.allocations.is_empty(),
        "{gone:?}"
    );
    assert!(
        gone.volumes.is_empty(),
        "kept released, not the pool's: {gone:?}"
    );
}

/// C18: a replacement whose input changed too cannot be told from a
/// second declaration: refused, saying how to apply it, and nothing
/// changes; the old declaration's delete still deletes the pool.
pub async fn a_create_first_replacement_with_changed_input_is_refused_and_changes_nothing(
    w: &dyn World,
) {
    let declared = seat(w);
    returned(&invoke(w, "create", &declared, None).await);
    let owner = invocation_id("zk");
    let before = whole(w, &owner).await;
    let mut changed = declared.clone();
    changed["Description"] = json!("seat");

    let reason = refused(&invoke(w, "create", &changed, None).await);

    assert!(
        reason.contains("apply the change in place first"),
        "{reason}"
    );
    assert_eq!(whole(w, &owner).await, before);
    returned(&invoke(w, "delete", &declared, Some(&declared)).await);
    assert!(whole(w, &owner).await.interfaces.is_empty());
}

/// C18: a destroy-first replacement (Terraform's default) is a delete
/// and a create: the fixed private address comes back on a new
/// interface; the Elastic IP and the volume are new ones.
pub async fn a_destroy_first_replacement_brings_back_fixed_addresses_only(w: &dyn World) {
    let mut declared = seat(w);
    declared["PrivateIpAddresses"] = json!(["10.0.1.77"]);
    returned(&invoke(w, "create", &declared, None).await);
    let owner = invocation_id("zk");
    let before = whole(w, &owner).await;

    returned(&invoke(w, "delete", &declared, Some(&declared)).await);
    let answer = returned(&invoke(w, "create", &declared, None).await);

    let after = whole(w, &owner).await;
    assert_eq!(answer["PrivateIpAddresses"], json!(["10.0.1.77"]));
    assert_eq!(after.interfaces.len(), 1, "{after:?}");
    assert_eq!(after.interfaces[0].1, "10.0.1.77");
    assert_ne!(after.interfaces[0].0, before.interfaces[0].0);
    assert_eq!(after.allocations.len(), 1);
    assert_ne!(after.allocations, before.allocations);
    assert_eq!(after.volumes.len(), 1);
    assert_ne!(after.volumes, before.volumes);
}

/// C18: a destroy-first replacement whose input changed too: the delete
/// removes the old pool, the create makes the new declaration, fixed
/// address included, on new interfaces.
pub async fn a_destroy_first_replacement_with_changed_input_makes_the_new_declaration(
    w: &dyn World,
) {
    let mut declared = seat(w);
    declared["PrivateIpAddresses"] = json!(["10.0.1.77"]);
    returned(&invoke(w, "create", &declared, None).await);
    let owner = invocation_id("zk");
    let before = whole(w, &owner).await;
    let mut changed = declared.clone();
    changed["Description"] = json!("seat");

    returned(&invoke(w, "delete", &declared, Some(&declared)).await);
    returned(&invoke(w, "create", &changed, None).await);

    let (members, _) = w.owned(&owner).await;
    let members: Vec<_> = members.iter().filter(|m| m.pool().is_some()).collect();
    assert_eq!(members.len(), 1, "{members:?}");
    assert_eq!(members[0].description, "seat");
    assert_eq!(members[0].private_ip.as_deref(), Some("10.0.1.77"));
    assert_ne!(members[0].id, before.interfaces[0].0);
    assert_eq!(claims_of(w, &owner).await, ["1"]);
}

/// C18: a delete delivered again moments after it released its claim
/// (an SDK's retry, an apply re-run after a lost answer) takes nothing
/// more: the replacement's claim keeps the pool whole.
pub async fn a_delete_delivered_again_releases_nothing_more(w: &dyn World) {
    let declared = seat(w);
    returned(&invoke(w, "create", &declared, None).await);
    let owner = invocation_id("zk");
    let before = whole(w, &owner).await;
    returned(&invoke(w, "create", &declared, None).await);
    returned(&invoke(w, "delete", &declared, Some(&declared)).await);

    returned(&invoke(w, "delete", &declared, Some(&declared)).await);

    assert_eq!(whole(w, &owner).await, before);
    assert_eq!(claims_of(w, &owner).await, ["1"]);
}

/// C18: a create served twice (its answer lost) claims twice; the one
/// delete the caller's state knows keeps the pool, whole, and `status`
/// shows the claim left: a leak that shows, never a loss.
pub async fn a_create_answered_twice_keeps_the_pool_on_its_one_delete(w: &dyn World) {
    let declared = seat(w);
    returned(&invoke(w, "create", &declared, None).await);
    returned(&invoke(w, "create", &declared, None).await);
    let owner = invocation_id("zk");
    let before = whole(w, &owner).await;

    returned(&invoke(w, "delete", &declared, Some(&declared)).await);

    assert_eq!(whole(w, &owner).await, before);
    assert_eq!(claims_of(w, &owner).await, ["1"]);
    let (members, _) = w.owned(&owner).await;
    let touched = members[0].tags[TOUCHED_TAG].clone();
    assert!(touched.contains(" released "), "{touched}");
}

/// C18 [TF-SDK476]: an update refused for an invalid property stays in
/// the caller's state; the destroy sends it, and still deletes the pool.
pub async fn a_refused_update_kept_in_state_then_a_destroy_deletes_the_pool(w: &dyn World) {
    let declared = bastion(w);
    returned(&invoke(w, "create", &declared, None).await);
    let invalid = json!({"Name": "bastion", "SubnetIds": "subnet-a1"});
    refused(&invoke(w, "update", &invalid, Some(&declared)).await);

    returned(&invoke(w, "delete", &invalid, Some(&invalid)).await);

    assert_eq!(owned_ids(w, "bastion").await, Vec::<String>::new());
}

/// C18 [TF-SDK476]: a rename refused with an invalid property leaves a
/// name in the caller's state that no pool has: the destroy succeeds and
/// the pool stays whole, with its last touch for `status` to show.
pub async fn a_refused_rename_kept_in_state_then_a_destroy_leaves_the_pool_whole(w: &dyn World) {
    let declared = seat(w);
    returned(&invoke(w, "create", &declared, None).await);
    let owner = invocation_id("zk");
    let before = whole(w, &owner).await;
    let invalid = json!({"Name": "ensemble", "SubnetIds": "subnet-a1"});
    refused(&invoke(w, "update", &invalid, Some(&declared)).await);

    returned(&invoke(w, "delete", &invalid, Some(&invalid)).await);

    assert_eq!(whole(w, &owner).await, before);
    let (members, _) = w.owned(&owner).await;
    assert!(members[0].tags[TOUCHED_TAG].contains(" claimed "));
}

/// C4, C15: a destroy deletes what the pool made; a delete of a pool that
/// is gone (or never was) succeeds, so a destroy can always finish.
pub async fn a_delete_removes_the_pool_and_a_second_delete_succeeds(w: &dyn World) {
    let declared = bastion(w);
    returned(&invoke(w, "create", &declared, None).await);

    let answer = returned(&invoke(w, "delete", &declared, Some(&declared)).await);

    assert_eq!(answer, json!({}));
    assert_eq!(owned_ids(w, "bastion").await, Vec::<String>::new());
    let again = returned(&invoke(w, "delete", &declared, Some(&declared)).await);
    assert_eq!(again, json!({}));
}

/// C7: a running pool instance gets its member from the create itself.
pub async fn a_create_gives_a_waiting_instance_its_member_at_once(w: &dyn World) {
    let instance = w.launch(Some("bastion"), "b1").await;

    let answer = returned(&invoke(w, "create", &bastion(w), None).await);

    let (made, _) = w.owned(&invocation_id("bastion")).await;
    let in_b1 = made
        .iter()
        .find(|i| i.subnet_id == w.subnet_id("b1"))
        .unwrap();
    assert!(ids(&answer).contains(&in_b1.id));
    assert_eq!(w.holder(&in_b1.id).await.map(|h| h.0), Some(instance));
}

/// C14, C15: public addresses come with the declaration; an update that
/// drops `PublicIp` releases them at once (no rollback can want them back).
pub async fn dropping_the_public_ip_releases_the_addresses_at_once(w: &dyn World) {
    let public = json!({"Name": "bastion", "SubnetIds": [w.subnet_id("a1")], "PublicIp": true});
    let first = returned(&invoke(w, "create", &public, None).await);
    assert_eq!(
        first["PublicIpAddresses"].as_array().unwrap().len(),
        1,
        "{first}"
    );
    let (_, addresses) = w.owned(&invocation_id("bastion")).await;
    assert_eq!(addresses.len(), 1);
    assert_eq!(addresses[0].tags[OWNER_TAG], invocation_id("bastion"));
    let private = json!({"Name": "bastion", "SubnetIds": [w.subnet_id("a1")]});

    let answer = returned(&invoke(w, "update", &private, Some(&public)).await);

    assert!(answer.get("PublicIpAddresses").is_none(), "{answer}");
    let (_, addresses) = w.owned(&invocation_id("bastion")).await;
    assert!(addresses.is_empty(), "released: {addresses:?}");
}

/// C12, C15: a pool without a stack is none of the schedule's cleanup's
/// business, even after an update retired nothing it could see; `status`
/// names it as declared by invocation, with no stack to read.
#[tokio::test]
async fn the_schedule_leaves_an_invoked_pool_alone_and_status_names_it() {
    use crate::support::cfn::schedule;
    use crate::support::stacks::StrictStacks;
    use crate::support::world::{fast, StrictWorld};
    use network_interface_manager::cli::{read_declarations, status_table};
    use network_interface_manager::pool::Manager;

    let w = StrictWorld::new();
    let answer = returned(&invoke(&w, "create", &bastion(&w), None).await);
    let stacks = StrictStacks::default();

    let handled = schedule(&w, &stacks).await;

    assert!(
        handled.outcome.cleaned_up.is_empty(),
        "{:?}",
        handled.outcome
    );
    assert_eq!(owned_ids(&w, "bastion").await, sorted(ids(&answer)));
    let mut pools = Manager::new(w.ec2(), fast()).status(&[]).await.unwrap();
    read_declarations(&stacks, &mut pools).await;
    let table = status_table(&pools);
    let id = invocation_id("bastion");
    assert!(
        table.contains(&format!(
            "declared: pool bastion by {id}, by invocation: 1 claim(s), last touched 20"
        )),
        "{table}"
    );
}

/// C15: a malformed invocation fails its caller with the reason (an apply
/// must not pass on a request nothing served); a malformed event is
/// dropped, never retried.
#[tokio::test]
async fn a_malformed_invocation_fails_its_caller_and_a_malformed_event_is_dropped() {
    use crate::support::world::{state_event, StrictWorld};
    use network_interface_manager::ec2::InstanceState::Running;

    let w = StrictWorld::new();
    let bad = invocation("replace", &json!({"Name": "bastion"}), None);

    let reason = refused(&deliver(&w, &bad).await);

    assert!(reason.contains("not create, update or delete"), "{reason}");
    let mut event = state_event("i-1", Running);
    event["detail"]["state"] = json!("melting");
    let dropped = deliver(&w, &event).await;
    assert_eq!(dropped.disposition, Disposition::Done, "{dropped:?}");
    assert!(dropped.result().is_ok(), "{dropped:?}");
}

/// C14 [EC2-EIP-ASSOC]: an interface adopted with an Elastic IP of its
/// own, into a pool declared `PublicIp`: an association would take the
/// user's address off it (AWS displaces it, and so does the strict model),
/// so the create is refused naming both, allocates nothing, and the
/// address stays where it is.
pub async fn an_elastic_ip_already_on_an_adopted_interface_is_never_displaced(w: &dyn World) {
    use network_interface_manager::ec2::{AddressQuery, NewAddress, NewInterface, Tags};
    use std::time::Duration;

    let ec2 = w.ec2();
    let new = NewInterface {
        subnet_id: w.subnet_id("a1"),
        private_ip: None,
        security_groups: Vec::new(),
        description: "theirs".into(),
        client_token: "theirs-1".into(),
        tags: Tags::new(),
    };
    let eni = ec2.create_interface(&new).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await; // past `pending`
    let allocation = NewAddress {
        tags: Tags::new(),
        public_ipv4_pool: None,
    };
    let theirs = ec2.allocate_address(&allocation).await.unwrap();
    let private_ip = eni.private_ip.clone().unwrap();
    let id = &theirs.allocation_id;
    ec2.associate_address(id, &eni.id, &private_ip)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await; // there before the pool
    let declared = json!({"Name": "bastion", "NetworkInterfaceIds": [eni.id], "PublicIp": true});

    let handled = invoke(w, "create", &declared, None).await;

    let reason = refused(&handled);
    assert!(reason.starts_with("PublicIp:"), "{reason}");
    assert!(
        reason.contains(&eni.id) && reason.contains(&theirs.public_ip),
        "{reason}"
    );
    let calls = &handled.ec2_calls;
    assert!(!calls
        .keys()
        .any(|op| op.starts_with("Allocate") || op.starts_with("Associate")));
    let read = ec2
        .describe_addresses(&AddressQuery::Ids(vec![id.clone()]))
        .await;
    assert!(
        read.unwrap()[0].is_on(&eni.id, Some(&private_ip)),
        "still theirs"
    );
}
