//! Random pool declarations, valid and invalid, under random EC2 faults
//! (proptest): every request is answered exactly once within 4096 bytes, an
//! invalid declaration writes nothing, a failed Create leaves nothing owned.

use network_interface_manager::custom_resource::properties;
use network_interface_manager::ec2::OWNER_TAG;
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::support::cfn::request;
use crate::support::listener::Listener;
use crate::support::strict::Op;
use crate::support::world::{deliver_ok, StrictWorld};

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        (0i64..70).prop_map(Value::from),
        (0i64..70).prop_map(|n| Value::from(n.to_string())),
        Just(json!("true")),
        Just(json!("many")),
        Just(json!(-1)),
    ]
}

fn declaration() -> impl Strategy<Value = Value> {
    let subnet = prop::sample::select(vec![
        "subnet-a1",
        "subnet-a2",
        "subnet-b1",
        "subnet-c9",
        "vpc-1",
    ]);
    let ip = prop::sample::select(vec![
        "10.0.1.20",
        "10.0.2.20",
        "10.0.3.20",
        "10.9.9.9",
        "10.0.1",
        "::1",
    ]);
    let name = prop::sample::select(vec!["web", "", "db"]);
    (
        name,
        prop::collection::vec(subnet, 0..4),
        prop::option::of(scalar()),
        prop::collection::vec(ip, 0..3),
        prop::option::of(scalar()),
        proptest::bool::weighted(0.1),
        proptest::bool::weighted(0.1),
    )
        .prop_map(
            |(name, subnets, per_subnet, ips, device_index, aws_tag, unknown)| {
                let mut p = json!({"Name": name, "SubnetIds": subnets});
                if let Some(n) = per_subnet {
                    p["InterfacesPerSubnet"] = n;
                }
                if !ips.is_empty() {
                    p["PrivateIpAddresses"] = json!(ips);
                }
                if let Some(i) = device_index {
                    p["DeviceIndex"] = i;
                }
                if aws_tag {
                    p["Tags"] = json!([{"Key": "aws:cloudformation:x", "Value": "1"}]);
                }
                if unknown {
                    p["Size"] = json!("3");
                }
                p
            },
        )
}

fn fault() -> impl Strategy<Value = Option<(Op, &'static str)>> {
    let op = prop::sample::select(vec![
        Op::DescribeSubnets,
        Op::Create,
        Op::Modify,
        Op::DescribeInterfaces,
    ]);
    let code = prop::sample::select(vec![
        "RequestLimitExceeded",
        "InvalidIPAddress.InUse",
        "InsufficientFreeAddressesInSubnet",
        "UnauthorizedOperation",
    ]);
    prop::option::weighted(0.5, (op, code))
}

async fn run(props: Value, fault: Option<(Op, &'static str)>, panic: bool) {
    let w = StrictWorld::new();
    w.model.add_member("db", "subnet-a1");
    let cfn = Listener::start().await;
    if let Some((op, code)) = fault {
        w.model.fail_next(op, code, "injected");
    }
    if panic {
        w.model.faults.lock().unwrap().panic_on = Some(Op::Create);
    }
    let valid = properties::parse(Some(&props)).is_ok();

    deliver_ok(&w, &request("Create", &cfn.url, props.clone())).await;

    let answers = cfn.requests();
    assert_eq!(answers.len(), 1, "one answer for {props}");
    assert!(answers[0].body.len() <= 4096);
    let answer = answers[0].json();
    if !valid {
        assert_eq!(answer["Status"], "FAILED", "{props}");
        assert!(
            w.model.writes().is_empty(),
            "an invalid declaration wrote to EC2: {props}"
        );
    }
    if answer["Status"] == "FAILED" {
        let physical = answer["PhysicalResourceId"].as_str().unwrap();
        let owned = w
            .model
            .interfaces()
            .into_iter()
            .filter(|i| i.tags.get(OWNER_TAG).map(String::as_str) == Some(physical));
        assert_eq!(
            owned.count(),
            0,
            "a failed Create left interfaces: {props} {answer}"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn every_declaration_is_answered_once_and_failures_leave_nothing(
        props in declaration(),
        fault in fault(),
        panic in proptest::bool::weighted(0.05),
    ) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(run(props, fault, panic));
    }
}
