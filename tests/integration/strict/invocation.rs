//! Pools declared by invocation (C15), as Terraform's, OpenTofu's and
//! Pulumi's `aws_lambda_invocation` (`lifecycle_scope = "CRUD"`) sends them
//! [TF-INV]: through `handle`, written once, run here on the strict model
//! and in `moto::invocation` through the real SDK.

use network_interface_manager::custom_resource::declaration::invocation_id;
use network_interface_manager::disposition::Disposition;
use network_interface_manager::ec2::{DECLARATION_TAG, OWNER_TAG, POOL_TAG, STACK_TAG};
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
            a_rename_in_place_is_refused_and_changes_nothing,
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

async fn invoke(w: &dyn World, action: &str, input: &Value, prev: Option<&Value>) -> Handled {
    deliver(w, &invocation(action, input, prev)).await
}

/// What the function returned, checked to be a success.
fn returned(handled: &Handled) -> Value {
    assert_eq!(handled.disposition, Disposition::Done, "{handled:?}");
    handled.result().expect("the invocation succeeded")
}

/// The reason the caller's apply fails with.
fn refused(handled: &Handled) -> String {
    assert_eq!(handled.disposition, Disposition::Failed, "{handled:?}");
    handled.result().expect_err("the invocation failed")
}

fn bastion(w: &dyn World) -> Value {
    json!({"Name": "bastion", "SubnetIds": [w.subnet_id("a1"), w.subnet_id("b1")]})
}

fn ids(answer: &Value) -> Vec<String> {
    let list = answer["NetworkInterfaceIds"].as_array().unwrap();
    list.iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

async fn owned_ids(w: &dyn World, name: &str) -> Vec<String> {
    let (interfaces, _) = w.owned(&invocation_id(name)).await;
    let mut ids: Vec<String> = interfaces.into_iter().map(|i| i.id).collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
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

/// C15: the name is the pool's identity; a rename in place is refused
/// (Terraform replaces the resource instead) and nothing changes.
pub async fn a_rename_in_place_is_refused_and_changes_nothing(w: &dyn World) {
    let old = bastion(w);
    let first = returned(&invoke(w, "create", &old, None).await);
    let renamed = json!({"Name": "jump", "SubnetIds": [w.subnet_id("a1"), w.subnet_id("b1")]});

    let handled = invoke(w, "update", &renamed, Some(&old)).await;

    let reason = refused(&handled);
    assert!(
        reason.starts_with("Name:") && reason.contains("replace"),
        "{reason}"
    );
    assert_eq!(owned_ids(w, "bastion").await, sorted(ids(&first)));
    assert!(handled.ec2_calls.is_empty(), "{:?}", handled.ec2_calls);
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
        table.contains(&format!("declared: pool bastion by {id}, by invocation")),
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
