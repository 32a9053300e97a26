//! The pool declaration's planner, without I/O (docs/design.md, T1, C2-C3,
//! C10-C12): table rows of what EC2 holds in, changes out.

use network_interface_manager::custom_resource::declaration::Declarer;
use network_interface_manager::custom_resource::plan::{plan, Observed, PoolPlan};
use network_interface_manager::custom_resource::properties;
use network_interface_manager::ec2::{
    InterfaceStatus, NetworkInterface, Subnet, OWNER_TAG, POOL_TAG, RETIRED_TAG, SLOT_TAG,
};
use serde_json::json;

const BY: Declarer = Declarer {
    physical_id: "pool-1",
    stack_id: "arn:aws:cloudformation:us-east-1:1:stack/s/1",
    former_name: None,
    fingerprint: None,
};

fn subnet(id: &str, cidr: &str) -> Subnet {
    Subnet {
        id: id.into(),
        availability_zone: "us-east-1a".into(),
        vpc_id: "vpc-1".into(),
        cidr: cidr.into(),
    }
}

/// An interface the pool owns in `slot`, at `ip`.
fn owned(id: &str, slot: &str, ip: &str) -> NetworkInterface {
    NetworkInterface {
        id: id.into(),
        availability_zone: "us-east-1a".into(),
        subnet_id: "subnet-a".into(),
        vpc_id: "vpc-1".into(),
        private_ip: Some(ip.into()),
        public_ip: None,
        status: InterfaceStatus::Available,
        requester_managed: false,
        security_groups: vec![],
        description: String::new(),
        source_dest_check: true,
        tags: [
            (POOL_TAG, "dns"),
            (OWNER_TAG, BY.physical_id),
            (SLOT_TAG, slot),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into(),
        attachment: None,
        interface_type: "interface".into(),
    }
}

fn planned<'a>(props: serde_json::Value, observed: &'a Observed) -> Result<PoolPlan<'a>, String> {
    let props = properties::parse(Some(&props)).unwrap();
    plan(&props, BY, None, observed)
}

fn observed(owned: Vec<NetworkInterface>) -> Observed {
    Observed {
        subnets: vec![subnet("subnet-a", "10.0.1.0/24")],
        owned,
        ..Observed::default()
    }
}

#[test]
fn missing_slots_are_created_and_undeclared_ones_retired() {
    let seen = observed(vec![owned("eni-old", "subnet-a/10.0.1.9", "10.0.1.9")]);
    let p = planned(
        json!({"Name": "dns", "SubnetIds": ["subnet-a"], "PrivateIpAddresses": ["10.0.1.10"]}),
        &seen,
    )
    .unwrap();
    let created: Vec<&str> = p.create.iter().map(|s| s.key.as_str()).collect();
    assert_eq!(created, ["subnet-a/10.0.1.10"]);
    let retired: Vec<&str> = p.retire.iter().map(|i| i.id.as_str()).collect();
    assert_eq!(retired, ["eni-old"]);
}

#[test]
fn c3_a_fixed_address_the_pool_holds_moves_its_slot_not_its_interface() {
    let seen = observed(vec![owned("eni-1", "subnet-a#0", "10.0.1.10")]);
    let p = planned(
        json!({"Name": "dns", "SubnetIds": ["subnet-a"], "PrivateIpAddresses": ["10.0.1.10"]}),
        &seen,
    )
    .unwrap();
    assert!(p.create.is_empty() && p.retire.is_empty(), "{p:?}");
    assert_eq!(p.filled["subnet-a/10.0.1.10"].id, "eni-1");
}

#[test]
fn c12_a_retired_interface_declared_again_is_reinstated() {
    let mut retired = owned("eni-1", "subnet-a/10.0.1.10", "10.0.1.10");
    retired.tags.remove(POOL_TAG);
    retired.tags.insert(RETIRED_TAG.into(), "true".into());
    let seen = observed(vec![retired]);
    let p = planned(
        json!({"Name": "dns", "SubnetIds": ["subnet-a"], "PrivateIpAddresses": ["10.0.1.10"]}),
        &seen,
    )
    .unwrap();
    assert!(p.create.is_empty(), "{p:?}");
    let text = format!("{:?}", p.update);
    assert!(
        text.contains(POOL_TAG) && text.contains(RETIRED_TAG),
        "pool tag back, retired tag off: {text}"
    );
}

#[test]
fn c3_an_address_held_outside_the_pool_is_refused_with_nothing_planned() {
    let mut theirs = owned("eni-x", "x", "10.0.1.10");
    theirs.tags.clear();
    let seen = Observed {
        holding: vec![theirs],
        ..observed(vec![])
    };
    let refused = planned(
        json!({"Name": "dns", "SubnetIds": ["subnet-a"], "PrivateIpAddresses": ["10.0.1.10"]}),
        &seen,
    )
    .unwrap_err();
    assert!(refused.contains("10.0.1.10 is held by eni-x"), "{refused}");
}

/// C15: a pool declared by invocation has no stack; its name is its
/// identity, and a create of a pool that exists is a retry only when it
/// declares it alike.
mod by_invocation {
    use super::*;
    use network_interface_manager::custom_resource::declaration::{
        created_tags, fingerprint, invocation_id, physical_id,
    };
    use network_interface_manager::ec2::{DECLARATION_TAG, STACK_TAG};

    fn declaration() -> serde_json::Value {
        json!({"Name": "dns", "SubnetIds": ["subnet-a"], "PrivateIpAddresses": ["10.0.1.10"]})
    }

    fn invoked<'a>(
        props: &serde_json::Value,
        fingerprint: &'a str,
        old: Option<&serde_json::Value>,
        observed: &'a Observed,
    ) -> Result<PoolPlan<'a>, String> {
        let props = properties::parse(Some(props)).unwrap();
        let old = old.map(|o| properties::parse(Some(o)).unwrap());
        let by = Declarer {
            physical_id: BY.physical_id,
            stack_id: "",
            former_name: None,
            fingerprint: Some(fingerprint),
        };
        plan(&props, by, old.as_ref(), observed)
    }

    fn made_by(fingerprint: &str) -> NetworkInterface {
        let mut iface = owned("eni-1", "subnet-a/10.0.1.10", "10.0.1.10");
        iface
            .tags
            .insert(DECLARATION_TAG.into(), fingerprint.into());
        iface
    }

    #[test]
    fn the_physical_id_follows_from_the_name_alone_and_meets_no_stacks() {
        assert_eq!(invocation_id("dns"), invocation_id("dns"));
        assert_ne!(invocation_id("dns"), invocation_id("dns2"));
        let stack = "arn:aws:cloudformation:us-east-1:1:stack/s/1";
        assert_ne!(invocation_id("dns"), physical_id(stack, "dns"));
    }

    #[test]
    fn the_fingerprint_is_of_the_properties_as_parsed() {
        let parse = |v| properties::parse(Some(&v)).unwrap();
        let typed =
            parse(json!({"Name": "dns", "SubnetIds": ["subnet-a"], "InterfacesPerSubnet": 2}));
        let strings =
            parse(json!({"Name": "dns", "SubnetIds": ["subnet-a"], "InterfacesPerSubnet": "2"}));
        let other =
            parse(json!({"Name": "dns", "SubnetIds": ["subnet-a"], "InterfacesPerSubnet": 3}));
        assert_eq!(fingerprint(&typed), fingerprint(&strings));
        assert_ne!(fingerprint(&typed), fingerprint(&other));
    }

    #[test]
    fn its_tags_carry_the_fingerprint_and_no_stack() {
        let props = properties::parse(Some(&declaration())).unwrap();
        let by = Declarer {
            stack_id: "",
            fingerprint: Some("f1"),
            ..BY
        };
        let tags = created_tags(&props, by, "subnet-a/10.0.1.10");
        assert_eq!(tags.get(DECLARATION_TAG).map(String::as_str), Some("f1"));
        assert!(!tags.contains_key(STACK_TAG), "{tags:?}");
        let from_stack = created_tags(&props, BY, "subnet-a/10.0.1.10");
        assert_eq!(
            from_stack.get(STACK_TAG).map(String::as_str),
            Some(BY.stack_id)
        );
        assert!(!from_stack.contains_key(DECLARATION_TAG), "{from_stack:?}");
    }

    #[test]
    fn a_second_create_declared_alike_is_a_retry() {
        let seen = observed(vec![made_by("f1")]);
        let p = invoked(&declaration(), "f1", None, &seen).unwrap();
        assert!(p.create.is_empty() && p.retire.is_empty(), "{p:?}");
    }

    #[test]
    fn a_second_create_declared_otherwise_is_refused_naming_the_pool() {
        let seen = observed(vec![made_by("f1")]);
        let refused = invoked(&declaration(), "f2", None, &seen).unwrap_err();
        assert!(
            refused.starts_with("Name: pool 'dns' is already declared"),
            "{refused}"
        );
        assert!(refused.contains("eni-1"), "{refused}");
    }

    /// R16, C18: a member its last claim's delete marked `releasing` is no
    /// second declaration: the read may lag behind that delete. One whose
    /// last touch is a release that kept it (`released`) still is.
    #[test]
    fn a_member_a_delete_was_releasing_is_no_second_declaration() {
        use network_interface_manager::custom_resource::claims::{Step, Touch};
        use network_interface_manager::ec2::TOUCHED_TAG;
        let touched = |step| {
            let mut member = made_by("f1");
            let touch = Touch {
                at_ms: 1_796_000_000_000,
                step,
                fingerprint: "f1".into(),
            };
            member.tags.insert(TOUCHED_TAG.into(), touch.tag());
            member
        };
        let releasing = observed(vec![touched(Step::Releasing)]);
        assert!(invoked(&declaration(), "f2", None, &releasing).is_ok());
        let kept = observed(vec![touched(Step::Released)]);
        assert!(invoked(&declaration(), "f2", None, &kept).is_err());
    }

    #[test]
    fn an_update_changes_the_declaration_it_follows() {
        let seen = observed(vec![made_by("f1")]);
        let old = declaration();
        let p = invoked(&declaration(), "f2", Some(&old), &seen).unwrap();
        let retag = format!("{:?}", p.update);
        assert!(
            retag.contains(DECLARATION_TAG) && retag.contains("f2"),
            "{retag}"
        );
    }

    #[test]
    fn a_stack_s_create_never_checks_a_fingerprint() {
        let seen = observed(vec![made_by("f1")]);
        assert!(planned(declaration(), &seen).is_ok());
    }
}

/// C16: ordinals kept where carried, new ones the smallest free, retired
/// members' kept free for a rollback, duplicates and invalid tags renumbered.
mod ordinals {
    use super::*;
    use network_interface_manager::custom_resource::ordinals::assign;
    use network_interface_manager::ec2::ORDINAL_TAG;

    fn numbered(id: &str, ordinal: &str) -> NetworkInterface {
        let mut i = owned(id, &format!("subnet-a#{id}"), "10.0.1.9");
        i.tags.insert(ORDINAL_TAG.into(), ordinal.into());
        i
    }

    fn assigned(
        members: &[(&str, Option<&NetworkInterface>)],
        owned: &[NetworkInterface],
    ) -> Vec<u8> {
        let ordinals = assign(members, owned).unwrap();
        members.iter().map(|(k, _)| ordinals[*k]).collect()
    }

    #[test]
    fn a_new_pool_is_numbered_in_declaration_order() {
        assert_eq!(
            assigned(&[("a", None), ("b", None), ("c", None)], &[]),
            [1, 2, 3]
        );
    }

    #[test]
    fn kept_members_keep_theirs_and_new_ones_take_the_smallest_free() {
        let two = numbered("eni-2", "2");
        let owned = [two.clone()];
        assert_eq!(
            assigned(&[("new", None), ("kept", Some(&two))], &owned),
            [1, 2]
        );
    }

    #[test]
    fn a_retired_member_s_ordinal_waits_for_its_rollback() {
        let mut retired = numbered("eni-1", "1");
        retired.tags.remove(POOL_TAG);
        retired.tags.insert(RETIRED_TAG.into(), "true".into());
        let two = numbered("eni-2", "2");
        let owned = [retired, two.clone()];
        assert_eq!(
            assigned(&[("kept", Some(&two)), ("new", None)], &owned),
            [2, 3]
        );
    }

    #[test]
    fn a_duplicate_or_invalid_ordinal_is_renumbered() {
        let (a, b) = (numbered("eni-a", "4"), numbered("eni-b", "4"));
        let (zero, big, word) = (
            numbered("eni-z", "0"),
            numbered("eni-g", "256"),
            numbered("eni-w", "x"),
        );
        let members = [
            ("a", Some(&a)),
            ("b", Some(&b)),
            ("z", Some(&zero)),
            ("g", Some(&big)),
            ("w", Some(&word)),
        ];
        let owned = [
            a.clone(),
            b.clone(),
            zero.clone(),
            big.clone(),
            word.clone(),
        ];
        assert_eq!(assigned(&members, &owned), [4, 1, 2, 3, 5]);
    }

    #[test]
    fn past_255_the_declaration_is_refused() {
        let retired: Vec<NetworkInterface> = (1..=255)
            .map(|n| numbered(&format!("eni-{n}"), &n.to_string()))
            .collect();
        let refused = assign(&[("new", None)], &retired).unwrap_err();
        assert!(refused.contains("no ordinal left for new"), "{refused}");
    }

    #[test]
    fn a_plan_numbers_created_slots_and_tags_a_kept_member_without_one() {
        let seen = observed(vec![owned("eni-old", "subnet-a/10.0.1.10", "10.0.1.10")]);
        let p = planned(
            json!({"Name": "dns", "SubnetIds": ["subnet-a"], "PrivateIpAddresses": ["10.0.1.11", "10.0.1.10"]}),
            &seen,
        )
        .unwrap();
        assert_eq!(p.ordinals["subnet-a/10.0.1.11"], 1);
        assert_eq!(p.ordinals["subnet-a/10.0.1.10"], 2);
        let tagged = format!("{:?}", p.update);
        assert!(
            tagged.contains("eni-old") && tagged.contains(ORDINAL_TAG),
            "{tagged}"
        );
    }
}
