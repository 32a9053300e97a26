//! What an Update of a pool declaration changes reaches EC2, and nothing
//! else does (docs/design.md, C2): on the strict model, through the handler.

use network_interface_manager::ec2::{NetworkInterface, POOL_TAG};
use serde_json::{json, Value};

use crate::support::cfn::{answer, request, update};
use crate::support::listener::Listener;
use crate::support::strict::Op;
use crate::support::world::StrictWorld;

/// Creates the pool `props` declares; its physical id.
async fn create(w: &StrictWorld, cfn: &Listener, props: &Value) -> String {
    let body = answer(w, cfn, &request("Create", &cfn.url, props.clone())).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    body["PhysicalResourceId"].as_str().unwrap().to_string()
}

fn members(w: &StrictWorld, pool: &str) -> Vec<NetworkInterface> {
    let all = w.model.interfaces();
    let members = all.into_iter().filter(|i| i.pool() == Some(pool));
    members.collect()
}

#[tokio::test]
async fn an_update_of_description_and_source_dest_check_reaches_every_interface() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let old = json!({"Name": "web", "SubnetIds": ["subnet-a1", "subnet-b1"],
                     "Description": "before"});
    let id = create(&w, &cfn, &old).await;
    w.model.settle_reads();
    let new = json!({"Name": "web", "SubnetIds": ["subnet-a1", "subnet-b1"],
                     "Description": "after", "SourceDestCheck": "false"});

    let body = answer(&w, &cfn, &update(&cfn.url, &id, new, old)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let members = members(&w, "web");
    assert_eq!(members.len(), 2);
    for m in &members {
        assert_eq!(m.description, "after", "{}", m.id);
        assert!(!m.source_dest_check, "{}", m.id);
    }
}

#[tokio::test]
async fn a_tag_dropped_from_the_declaration_is_removed_and_only_that_tag() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let tags = |t: Value| json!({"Name": "web", "SubnetIds": ["subnet-a1"], "Tags": t});
    let old = tags(json!([{"Key": "team", "Value": "a"}, {"Key": "cost", "Value": "b"}]));
    let id = create(&w, &cfn, &old).await;
    w.model.settle_reads();
    let member = members(&w, "web")[0].id.clone();
    // A tag someone else put on the interface, not the declaration's.
    w.model.tag_interface(&member, "backup", "daily");
    let new = tags(json!([{"Key": "team", "Value": "a2"}]));

    let body = answer(&w, &cfn, &update(&cfn.url, &id, new, old)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let tags = &members(&w, "web")[0].tags;
    assert_eq!(tags.get("team").map(String::as_str), Some("a2"));
    assert_eq!(tags.get("cost"), None, "dropped from the declaration");
    assert_eq!(
        tags.get("backup").map(String::as_str),
        Some("daily"),
        "not ours"
    );
    assert_eq!(tags.get(POOL_TAG).map(String::as_str), Some("web"));
}

/// C2: declared security groups reach every interface on Update; a
/// declaration without `SecurityGroupIds` leaves the groups alone.
#[tokio::test]
async fn security_groups_change_only_when_declared() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let old = json!({"Name": "web", "SubnetIds": ["subnet-a1"]});
    let id = create(&w, &cfn, &old).await;
    w.model.settle_reads();
    let groups_of = |w: &StrictWorld| members(w, "web")[0].security_groups.clone();
    let before = groups_of(&w);
    let described = json!({"Name": "web", "SubnetIds": ["subnet-a1"], "Description": "x"});

    let body = answer(&w, &cfn, &update(&cfn.url, &id, described.clone(), old)).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(groups_of(&w), before, "not declared: left alone");

    w.model.settle_reads();
    let grouped = json!({"Name": "web", "SubnetIds": ["subnet-a1"], "Description": "x",
                         "SecurityGroupIds": ["sg-0b0b", "sg-0a0a"]});
    let body = answer(&w, &cfn, &update(&cfn.url, &id, grouped, described)).await;
    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let mut after = groups_of(&w);
    after.sort();
    assert_eq!(after, ["sg-0a0a", "sg-0b0b"]);
}

/// C10: an Update that lists the interfaces the pool adopted already is
/// not refused as if they were another declaration's.
#[tokio::test]
async fn an_update_keeps_what_the_pool_adopted() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let free = w.model.add_interface("subnet-a1", []);
    let old = json!({"Name": "web", "NetworkInterfaceIds": [free]});
    let id = create(&w, &cfn, &old).await;
    w.model.settle_reads();
    let new = json!({"Name": "web", "NetworkInterfaceIds": [free], "Description": "kept"});

    let body = answer(&w, &cfn, &update(&cfn.url, &id, new, old)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["NetworkInterfaceIds"], json!([free]));
    assert_eq!(members(&w, "web")[0].id, free, "still the pool's");
}

/// C10, C5: an Update that fails after adopting gives back only what it
/// adopted itself; what the pool adopted before stays the pool's.
#[tokio::test]
async fn a_failed_update_releases_only_what_it_adopted_itself() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let before = w.model.add_interface("subnet-a1", []);
    let old = json!({"Name": "web", "NetworkInterfaceIds": [before]});
    let id = create(&w, &cfn, &old).await;
    w.model.settle_reads();
    let new_one = w.model.add_interface("subnet-a1", []);
    let new = json!({"Name": "web", "NetworkInterfaceIds": [before, new_one]});
    w.model
        .fail_next(Op::CreateTags, "UnauthorizedOperation", "denied");

    let body = answer(&w, &cfn, &update(&cfn.url, &id, new, old)).await;

    assert_eq!(body["Status"], "FAILED", "{body}");
    let ids: Vec<String> = members(&w, "web").into_iter().map(|m| m.id).collect();
    assert_eq!(ids, [before], "the pool keeps what it had, and only that");
}

/// C3: fewer interfaces per subnet retires the extra one (it keeps its
/// address until the stack operation is over, C12); an adopted interface
/// no longer listed is released: back out of the pool, untouched otherwise.
#[tokio::test]
async fn an_update_retires_what_is_no_longer_declared_and_releases_what_is_no_longer_listed() {
    use network_interface_manager::ec2::RETIRED_TAG;
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let adopted = w.model.add_interface("subnet-a1", []);
    let old = json!({"Name": "web", "SubnetIds": ["subnet-a1"], "InterfacesPerSubnet": "2",
                     "NetworkInterfaceIds": [adopted]});
    let id = create(&w, &cfn, &old).await;
    w.model.settle_reads();
    assert_eq!(members(&w, "web").len(), 3);
    let new = json!({"Name": "web", "SubnetIds": ["subnet-a1"], "InterfacesPerSubnet": "1"});

    let body = answer(&w, &cfn, &update(&cfn.url, &id, new, old)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    assert_eq!(body["Data"]["Name"], "web");
    let all = w.model.interfaces();
    let retired: Vec<&NetworkInterface> = all
        .iter()
        .filter(|i| i.tags.contains_key(RETIRED_TAG))
        .collect();
    assert_eq!(retired.len(), 1, "one of the two made ones");
    assert_ne!(retired[0].id, adopted);
    let kept = members(&w, "web");
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert!(!kept[0].tags.contains_key(RETIRED_TAG));
    let released = all.iter().find(|i| i.id == adopted).unwrap();
    assert_eq!(released.pool(), None, "released from the pool");
}
