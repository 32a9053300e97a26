//! The public addresses' planner (C14), row by row, without I/O.

use network_interface_manager::custom_resource::declaration::Declarer;
use network_interface_manager::custom_resource::elastic_ip_plan::{plan, ElasticIpPlan, Member};
use network_interface_manager::custom_resource::properties::parse;
use network_interface_manager::ec2::{
    Address, AddressAssociation, ADOPTED_TAG, OWNER_TAG, POOL_TAG, RETIRED_TAG, SLOT_TAG,
};
use serde_json::json;

const BY: Declarer = Declarer {
    physical_id: "pool-1",
    stack_id: "arn:aws:cloudformation:us-east-1:1:stack/s/1",
    former_name: None,
    fingerprint: None,
};

fn member(n: u8) -> Member {
    Member {
        key: format!("subnet-a#{n}"),
        interface_id: format!("eni-{n}"),
        private_ip: format!("10.0.1.{n}"),
    }
}

/// An address of `owner`, for member `n`'s slot, on member `on` if given.
fn address(id: &str, owner: Option<&str>, slot: u8, on: Option<u8>) -> Address {
    let mut tags: network_interface_manager::ec2::Tags = [
        (SLOT_TAG.to_string(), member(slot).key),
        (POOL_TAG.to_string(), "web".to_string()),
    ]
    .into();
    tags.extend(owner.map(|o| (OWNER_TAG.to_string(), o.to_string())));
    Address {
        allocation_id: id.into(),
        public_ip: format!("198.51.100.{slot}"),
        association: on.map(|n| AddressAssociation {
            association_id: format!("eipassoc-{n}"),
            network_interface_id: Some(member(n).interface_id),
            private_ip: Some(member(n).private_ip),
            instance_id: None,
        }),
        tags,
    }
}

fn planned(props: serde_json::Value, owned: &[Address], listed: &[Address]) -> ElasticIpPlan {
    let props = parse(Some(&props)).unwrap();
    plan(&props, BY, &[member(1), member(2)], owned, listed).unwrap()
}

fn ids(list: &[(String, Member)]) -> Vec<(&str, &str)> {
    list.iter()
        .map(|(a, m)| (a.as_str(), m.key.as_str()))
        .collect()
}

#[test]
fn each_member_gets_one_allocation_and_one_already_there_is_left_alone() {
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a"], "PublicIp": true});
    let on_first = address("eipalloc-1", Some("pool-1"), 1, Some(1));

    let p = planned(props, &[on_first], &[]);

    assert_eq!(p.allocate, vec![member(2)]);
    assert!(
        p.associate.is_empty() && p.retire.is_empty() && p.release.is_empty(),
        "{p:?}"
    );
    let first = ("198.51.100.1".to_string(), "eipalloc-1".to_string());
    assert_eq!(p.known, vec![Some(first), None]);
}

#[test]
fn a_second_allocation_for_one_member_is_released_and_the_associated_one_kept() {
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a"], "PublicIp": true});
    let owned = [
        address("eipalloc-1", Some("pool-1"), 1, None),
        address("eipalloc-2", Some("pool-1"), 1, Some(1)),
        address("eipalloc-3", Some("pool-1"), 2, None),
    ];

    let p = planned(props, &owned, &[]);

    assert_eq!(p.release, vec!["eipalloc-1".to_string()]);
    assert_eq!(ids(&p.associate), vec![("eipalloc-3", "subnet-a#2")]);
    assert!(p.allocate.is_empty(), "{p:?}");
}

#[test]
fn dropped_addresses_are_retired_and_declared_again_reinstated() {
    let without = json!({"Name": "web", "SubnetIds": ["subnet-a"]});
    let owned = [address("eipalloc-1", Some("pool-1"), 1, Some(1))];
    let p = planned(without, &owned, &[]);
    assert_eq!(p.retire, vec!["eipalloc-1".to_string()]);
    assert_eq!(p.known, vec![None, None]);

    let mut retired = owned[0].clone();
    retired.tags.insert(RETIRED_TAG.into(), "true".into());
    let with = json!({"Name": "web", "SubnetIds": ["subnet-a"], "PublicIp": true});
    let p = planned(with, &[retired], &[]);
    assert_eq!(p.reinstate, vec!["eipalloc-1".to_string()]);
    assert!(p.retire.is_empty() && p.associate.is_empty(), "{p:?}");
    assert_eq!(p.allocate, vec![member(2)]);
}

/// C15: what is out of the declaration after a plan (let go at once after
/// an invocation's update): retired now or before, never one reinstated
/// or kept.
#[test]
fn out_of_the_declaration_are_the_retired_now_and_before_not_the_reinstated() {
    let mut before = address("eipalloc-0", Some("pool-1"), 2, None);
    before.tags.insert(RETIRED_TAG.into(), "true".into());
    let now = address("eipalloc-1", Some("pool-1"), 1, Some(1));
    let owned = [before.clone(), now];
    let without = json!({"Name": "web", "SubnetIds": ["subnet-a"]});
    let p = planned(without, &owned, &[]);
    let out: Vec<&str> = p
        .out_of_declaration(&owned)
        .iter()
        .map(|a| a.allocation_id.as_str())
        .collect();
    assert_eq!(out, ["eipalloc-0", "eipalloc-1"]);

    let with = json!({"Name": "web", "SubnetIds": ["subnet-a"], "PublicIp": true});
    let p = planned(with, &owned, &[]);
    assert!(p.out_of_declaration(&owned).is_empty(), "{p:?}");
}

#[test]
fn listed_allocations_go_to_the_first_members_and_the_rest_are_allocated() {
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a"], "PublicIp": true,
        "ElasticIpAllocationIds": ["eipalloc-a"]});
    let mut free = address("eipalloc-a", None, 1, None);
    free.tags.clear();

    let p = planned(props, &[], &[free]);

    assert_eq!(ids(&p.adopt), vec![("eipalloc-a", "subnet-a#1")]);
    assert_eq!(ids(&p.associate), vec![("eipalloc-a", "subnet-a#1")]);
    assert_eq!(p.allocate, vec![member(2)]);
}

#[test]
fn an_adopted_address_is_never_taken_for_an_allocated_one() {
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a"], "PublicIp": true});
    let mut adopted = address("eipalloc-a", Some("pool-1"), 1, Some(1));
    adopted.tags.insert(ADOPTED_TAG.into(), "true".into());

    let p = planned(props, &[adopted], &[]);

    assert_eq!(p.retire, vec!["eipalloc-a".to_string()], "no longer listed");
    assert_eq!(p.allocate, vec![member(1), member(2)]);
}

#[test]
fn adoption_refuses_by_name_what_is_elsewhere_or_anothers() {
    let table = [
        (
            address("eipalloc-a", None, 1, Some(9)),
            "associated with eni-9",
        ),
        (
            address("eipalloc-a", Some("pool-2"), 1, None),
            "another pool declaration (pool-2)",
        ),
        (
            {
                let mut vpn = address("eipalloc-a", None, 1, None);
                vpn.tags.insert(POOL_TAG.into(), "vpn".into());
                vpn
            },
            "belongs to pool 'vpn'",
        ),
    ];
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a"],
        "ElasticIpAllocationIds": ["eipalloc-a"]});
    let props = parse(Some(&props)).unwrap();
    for (listed, why) in table {
        let refused = plan(&props, BY, &[member(1)], &[], &[listed]).unwrap_err();
        assert!(
            refused.contains("eipalloc-a") && refused.contains(why),
            "{refused}"
        );
    }
    let missing = plan(&props, BY, &[member(1)], &[], &[]).unwrap_err();
    assert!(missing.contains("eipalloc-a does not exist"), "{missing}");
    let on_a_member = address("eipalloc-a", None, 1, Some(1));
    assert!(plan(&props, BY, &[member(1)], &[], &[on_a_member]).is_ok());
}

/// C14 [EC2-EIP-ASSOC]: an Elastic IP already at a member's private address
/// that is neither the pool's nor listed would be taken off it by an
/// association: refused, naming the member and the address; the pool's
/// own, a listed one, a member not declared an address and one not made
/// yet pass.
#[test]
fn an_elastic_ip_the_pool_does_not_have_is_never_displaced() {
    use network_interface_manager::custom_resource::elastic_ip_plan::check_not_displacing;
    let on = |n: u8, public: &str| {
        let mut m = crate::planner::fixtures::member(&format!("eni-{n}"), "web", "subnet-a");
        m.private_ip = Some(format!("10.0.1.{n}"));
        m.public_ip = Some(public.to_string());
        m
    };
    let foreign = on(1, "203.0.113.9");
    let ours = on(2, "198.51.100.2");
    let owned = [address("eipalloc-2", Some("pool-1"), 2, Some(2))];
    let public = parse(Some(
        &json!({"Name": "web", "SubnetIds": ["subnet-a"], "PublicIp": true}),
    ))
    .unwrap();

    let refused = check_not_displacing(&public, &[Some(&foreign), None], &owned, &[]);

    let reason = refused.unwrap_err();
    assert!(
        reason.starts_with("PublicIp: eni-1 has the Elastic IP 203.0.113.9 at 10.0.1.1"),
        "{reason}"
    );
    assert!(check_not_displacing(&public, &[Some(&ours), None], &owned, &[]).is_ok());
    let listed = [address("eipalloc-9", None, 9, None)];
    let listed_ip = on(1, "198.51.100.9");
    let by_list = parse(Some(
        &json!({"Name": "web", "SubnetIds": ["subnet-a"], "ElasticIpAllocationIds": ["eipalloc-9"]}),
    ));
    let by_list = by_list.unwrap();
    assert!(check_not_displacing(&by_list, &[Some(&listed_ip)], &[], &listed).is_ok());
    let second = check_not_displacing(&by_list, &[Some(&listed_ip), Some(&foreign)], &[], &listed);
    assert!(second.is_ok(), "the second member is declared no address");
    let first = check_not_displacing(&by_list, &[Some(&foreign)], &[], &listed).unwrap_err();
    assert!(
        first.starts_with("ElasticIpAllocationIds: eni-1"),
        "{first}"
    );
    let private = parse(Some(&json!({"Name": "web", "SubnetIds": ["subnet-a"]}))).unwrap();
    assert!(check_not_displacing(&private, &[Some(&foreign)], &[], &[]).is_ok());
}

/// C12, C14: an address no longer declared that the read shows retired
/// already is retired again: the read may lag behind the rollback that
/// reinstated it, and then the schedule would never let it go.
#[test]
fn an_address_a_lagging_read_shows_retired_is_retired_again() {
    let mut stale = address("eipalloc-1", Some("pool-1"), 1, Some(1));
    stale.tags.insert(RETIRED_TAG.into(), "true".into());
    let without = json!({"Name": "web", "SubnetIds": ["subnet-a"]});

    let p = planned(without, &[stale], &[]);

    assert_eq!(p.retire, vec!["eipalloc-1".to_string()]);
}
