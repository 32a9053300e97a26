//! Claims of pools declared by invocation (C18) where EC2 is harsh, on
//! the strict model only: reads that lag behind the last claim or the last
//! delete, a member deleted meanwhile, a mark EC2 refuses.

use std::time::Duration;

use network_interface_manager::custom_resource::declaration::invocation_id;
use network_interface_manager::ec2::Ec2;
use serde_json::{json, Value};

use super::invocation::{
    bastion, claims_of, ids, invoke, owned_ids, refused, returned, seat, sorted, whole, Whole,
};
use crate::support::strict::Op;
use crate::support::world::{StrictWorld, World};

/// `declared` made, and its reads caught up (they lag 60 ms at most here).
async fn made(w: &StrictWorld, declared: &Value) -> Value {
    let answer = returned(&invoke(w, "create", declared, None).await);
    tokio::time::sleep(Duration::from_millis(400)).await;
    answer
}

/// C18: the delete of a create-first replacement that comes while reads
/// still lag behind the new claim reads past the lag (its own mark) and
/// lets one claim go, never the pool.
#[tokio::test]
async fn a_delete_whose_reads_lag_behind_the_last_claim_keeps_the_pool() {
    let w = StrictWorld::new();
    let declared = seat(&w);
    returned(&invoke(&w, "create", &declared, None).await);
    let owner = invocation_id("zk");
    tokio::time::sleep(Duration::from_millis(600)).await;
    let before = whole(&w, &owner).await;
    returned(&invoke(&w, "create", &declared, None).await);
    w.model.reads_lag(Duration::from_millis(500));

    returned(&invoke(&w, "delete", &declared, Some(&declared)).await);

    assert_eq!(whole(&w, &owner).await, before);
    assert_eq!(claims_of(&w, &owner).await, ["1"]);
}

/// R16, C18: a destroy-first replacement's create comes right after the
/// delete, while its owner read still shows the deleted interfaces; the
/// claim mark's NotFound says they are gone, and the create converges
/// again from a newer read instead of answering them.
#[tokio::test]
async fn a_create_right_after_its_delete_reads_past_the_deleted_interfaces() {
    let w = StrictWorld::new();
    let declared = bastion(&w);
    let first = made(&w, &declared).await;
    returned(&invoke(&w, "delete", &declared, Some(&declared)).await);
    // The create's reads lag behind the delete (another reader than the
    // delete's, which waited for its own to catch up).
    w.model.reads_lag(Duration::from_millis(300));

    let handled = invoke(&w, "create", &declared, None).await;

    let answer = returned(&handled);
    assert_eq!(ids(&answer).len(), 2, "{answer}");
    assert!(ids(&answer).iter().all(|id| !ids(&first).contains(id)));
    assert_eq!(owned_ids(&w, "bastion").await, sorted(ids(&answer)));
    assert!(
        handled.ec2_calls["DescribeNetworkInterfaces"] > 4,
        "{handled:?}"
    );
}

/// A pool of one member, claimed twice (a create-first replacement's new
/// declaration), on the strict model.
async fn claimed_twice(w: &StrictWorld) -> (Value, Whole) {
    let declared = json!({"Name": "bastion", "SubnetIds": [w.subnet_id("a1")]});
    returned(&invoke(w, "create", &declared, None).await);
    returned(&invoke(w, "create", &declared, None).await);
    tokio::time::sleep(Duration::from_millis(200)).await;
    (declared, whole(w, &invocation_id("bastion")).await)
}

/// C18: EC2 refusing the delete's mark (here: the role may not tag) fails
/// the delete; nothing is taken for gone, and both claims stay.
#[tokio::test]
async fn a_mark_ec2_refuses_fails_the_delete_and_keeps_the_pool() {
    let w = StrictWorld::new();
    let (declared, before) = claimed_twice(&w).await;
    let denied = "You are not authorized to perform this operation.";
    w.model
        .fail_next(Op::CreateTags, "UnauthorizedOperation", denied);

    let reason = refused(&invoke(&w, "delete", &declared, Some(&declared)).await);

    assert!(reason.contains("marking"), "{reason}");
    assert_eq!(whole(&w, &invocation_id("bastion")).await, before);
    assert_eq!(claims_of(&w, &invocation_id("bastion")).await, ["2"]);
}

/// C18: a mark that meets a NotFound is tried member by member (EC2 fails
/// the whole batch); a member then refused for another reason fails the
/// delete, never counts as gone.
#[tokio::test]
async fn a_member_refused_after_the_batch_met_a_gone_one_fails_the_delete() {
    let w = StrictWorld::new();
    let (declared, before) = claimed_twice(&w).await;
    let gone = "The networkInterface ID 'eni-0' does not exist";
    w.model
        .fail_next(Op::CreateTags, "InvalidNetworkInterfaceID.NotFound", gone);
    let denied = "You are not authorized to perform this operation.";
    w.model
        .fail_next(Op::CreateTags, "UnauthorizedOperation", denied);

    refused(&invoke(&w, "delete", &declared, Some(&declared)).await);

    assert_eq!(whole(&w, &invocation_id("bastion")).await, before);
    assert_eq!(claims_of(&w, &invocation_id("bastion")).await, ["2"]);
}

/// R16, C15: an update whose member was deleted out of band moments
/// before: its owner read still shows it, and its change to it (a new
/// description) meets a NotFound after the interface of the slot it adds
/// was made; that one is removed again, and the update converges again
/// from a newer read, with new ClientTokens (the first attempt's would
/// answer the interface it removed), so both slots get new interfaces.
#[tokio::test]
async fn an_update_writes_past_a_member_deleted_meanwhile() {
    let w = StrictWorld::new();
    let declared = json!({"Name": "bastion", "SubnetIds": [w.subnet_id("a1")]});
    let first = made(&w, &declared).await;
    w.model.reads_lag(Duration::from_millis(300));
    w.model.delete_interface(&ids(&first)[0]).await.unwrap();
    let mut changed = bastion(&w);
    changed["Description"] = json!("jump host");

    let handled = invoke(&w, "update", &changed, Some(&declared)).await;

    let answer = returned(&handled);
    assert_eq!(ids(&answer).len(), 2, "{answer}");
    assert!(
        !ids(&answer).contains(&ids(&first)[0]),
        "a new interface for the slot"
    );
    let (made, _) = w.owned(&invocation_id("bastion")).await;
    let made: Vec<_> = made.iter().filter(|i| i.pool().is_some()).collect();
    assert_eq!(made.len(), 2, "{made:?}");
    assert!(
        made.iter().all(|i| i.description == "jump host"),
        "{made:?}"
    );
}

/// R16, C18: a destroy-first replacement whose input changed, all reads
/// lagging: the delete answers only once its owner read no longer shows
/// what it deleted, so the create sent at once is served, not refused as
/// a second declaration of the name.
#[tokio::test]
async fn a_changed_create_after_a_delete_whose_reads_lagged_is_served() {
    let w = StrictWorld::new();
    let declared = bastion(&w);
    let first = made(&w, &declared).await;
    w.model.reads_lag(Duration::from_millis(300));
    returned(&invoke(&w, "delete", &declared, Some(&declared)).await);
    let mut changed = declared.clone();
    changed["Description"] = json!("jump host");

    let answer = returned(&invoke(&w, "create", &changed, None).await);

    assert!(ids(&answer).iter().all(|id| !ids(&first).contains(id)));
    let (made, _) = w.owned(&invocation_id("bastion")).await;
    assert!(
        made.iter().all(|i| i.description == "jump host"),
        "{made:?}"
    );
}
