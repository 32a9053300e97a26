//! A holder's identity tags (R26) through the real SDK: CreateTags and
//! DeleteTags on instances, read back with DescribeInstances.

use aws_sdk_ec2::types::Tag;
use network_interface_manager::ec2::InstanceState::{Running, Stopped};
use network_interface_manager::ec2::{Ec2, InstanceQuery, ADDRESS_TAG, ORDINAL_TAG};

use crate::support::world::{deliver_ok, state_event, MotoWorld, World};

async fn identity(w: &MotoWorld, instance: &str) -> (Option<String>, Option<String>) {
    let query = InstanceQuery::Ids(vec![instance.to_string()]);
    let read = w.adapter.describe_instances(&query).await.unwrap();
    let tags = &read[0].tags;
    (
        tags.get(ORDINAL_TAG).cloned(),
        tags.get(ADDRESS_TAG).cloned(),
    )
}

#[tokio::test]
async fn the_identity_follows_the_member_from_holder_to_holder() {
    let w = MotoWorld::new().await;
    let member = w.add_member("zk", "a1").await;
    let ordinal = Tag::builder().key(ORDINAL_TAG).value("7").build();
    w.client
        .create_tags()
        .resources(&member)
        .tags(ordinal)
        .send()
        .await
        .unwrap();
    let old = w.launch(Some("zk"), "a1").await;

    deliver_ok(&w, &state_event(&old, Running)).await;

    assert!(w.attachment(&member).await.is_some(), "attached");
    let (ordinal, address) = identity(&w, &old).await;
    assert_eq!(ordinal.as_deref(), Some("7"));
    assert!(address.is_some_and(|a| a.starts_with("10.0.1.")));
    let new = w.launch(Some("zk"), "a1").await;
    w.set_state(&old, Stopped).await;
    deliver_ok(&w, &state_event(&old, Stopped)).await;
    assert_eq!(identity(&w, &old).await, (None, None), "the former holder");
    assert_eq!(identity(&w, &new).await.0.as_deref(), Some("7"));
}
