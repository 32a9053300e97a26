//! Metrics in CloudWatch's Embedded Metric Format (docs/design.md, R18):
//! every document checked against the specification's rules, and the values
//! an operator's alarms read.

use std::time::Duration;

use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::InstanceState::*;
use network_interface_manager::handler::{handle_measured, Context};
use serde_json::Value;

use crate::support::world::{fast, fixture, state_event, MotoWorld, StrictWorld, World};

/// The rules of the EMF specification a document must follow [EMF-SPEC]:
/// a millisecond timestamp; each directive's dimension keys strings at the
/// root, at most 30 to a set; at most 100 metrics, each a number (or at
/// most 100 numbers) at the root.
fn validate(doc: &Value) {
    let aws = &doc["_aws"];
    let timestamp = aws["Timestamp"].as_u64().expect("an integer Timestamp");
    assert!(timestamp > 1_000_000_000_000, "milliseconds: {timestamp}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("directives");
    assert!(!directives.is_empty());
    for d in directives {
        assert!(d["Namespace"].as_str().is_some_and(|n| !n.is_empty()));
        for set in d["Dimensions"].as_array().expect("dimension sets") {
            let keys = set.as_array().expect("a dimension set");
            assert!(keys.len() <= 30, "{} dimension keys", keys.len());
            for key in keys {
                let key = key.as_str().expect("a key name");
                assert!(doc[key].is_string(), "dimension {key} at the root: {doc}");
            }
        }
        let metrics = d["Metrics"].as_array().expect("metrics");
        assert!(!metrics.is_empty() && metrics.len() <= 100);
        for m in metrics {
            let name = m["Name"].as_str().expect("a metric name");
            match &doc[name] {
                Value::Number(_) => {}
                Value::Array(values) => {
                    assert!(!values.is_empty() && values.len() <= 100, "{name}");
                    assert!(values.iter().all(Value::is_number), "{name}: {doc}");
                }
                other => panic!("{name} is {other}, not a number: {doc}"),
            }
        }
    }
}

/// Delivers one event through the handler and returns its documents.
async fn measured(w: &dyn World, event: &Value) -> Vec<Value> {
    let ctx = Context::new(w.ec2(), fast());
    let deadline = Deadline::after(Duration::from_secs(30));
    let (handled, docs) = handle_measured(&ctx, event, deadline).await;
    crate::support::world::done(handled);
    for doc in &docs {
        validate(doc);
        assert!(serde_json::to_string(doc).unwrap().lines().count() == 1);
    }
    docs
}

/// The document whose dimension set is exactly `dims`, with these values.
fn find<'a>(docs: &'a [Value], dims: &[(&str, &str)], metric: &str) -> &'a Value {
    docs.iter()
        .find(|d| {
            let keys = &d["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0];
            let keys: Vec<&str> = keys
                .as_array()
                .unwrap()
                .iter()
                .filter_map(Value::as_str)
                .collect();
            keys == dims.iter().map(|(k, _)| *k).collect::<Vec<_>>()
                && dims.iter().all(|(k, v)| d[*k] == *v)
                && d.get(metric).is_some()
        })
        .unwrap_or_else(|| panic!("no {metric} with {dims:?} in {docs:#?}"))
}

#[tokio::test]
async fn a_running_event_counts_one_attach_for_its_pool() {
    let w = StrictWorld::new();
    w.0.add_member("web", "subnet-a1");
    let instance = w.0.launch(Some("web"), "subnet-a1");

    let docs = measured(&w, &state_event(&instance, Running)).await;

    let web = find(&docs, &[("Pool", "web")], "Attaches");
    assert_eq!(web["Attaches"], 1);
    assert_eq!(web["AttachLatency"].as_array().map(Vec::len), Some(1));
    let account = find(&docs, &[], "Ec2Throttled");
    assert_eq!(account["TransientFailures"], 0);
    assert!(
        !docs.iter().any(|d| d.get("Members").is_some()),
        "no gauges after an event"
    );
}

#[tokio::test]
async fn a_sync_with_a_shortage_reports_it_per_pool_per_az_and_for_the_account() {
    let w = StrictWorld::new();
    w.0.add_member("web", "subnet-a1");
    w.0.add_member("web", "subnet-b1");
    for _ in 0..2 {
        w.0.launch(Some("web"), "subnet-a1");
    }

    let docs = measured(&w, &fixture("scheduled-event.json")).await;

    let short = [("Pool", "web"), ("AvailabilityZone", "us-east-1a")];
    let a = find(&docs, &short, "WaitingInstances");
    assert_eq!(
        (a["WaitingInstances"].as_u64(), a["FreeMembers"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(
        (a["Members"].as_u64(), a["HeldMembers"].as_u64()),
        (Some(1), Some(1))
    );
    let b = find(
        &docs,
        &[("Pool", "web"), ("AvailabilityZone", "us-east-1b")],
        "Members",
    );
    assert_eq!(
        (b["FreeMembers"].as_u64(), b["WaitingInstances"].as_u64()),
        (Some(1), Some(0))
    );
    let pool = find(&docs, &[("Pool", "web")], "Members");
    assert_eq!(
        (pool["Members"].as_u64(), pool["WaitingInstances"].as_u64()),
        (Some(2), Some(1))
    );
    let account = find(&docs, &[], "WaitingInstances");
    assert_eq!(account["WaitingInstances"], 1);
}

#[tokio::test]
async fn throttling_the_sdk_retried_is_counted() {
    use crate::support::moto::client_for;
    use crate::support::throttle::ThrottlingProxy;
    use network_interface_manager::ec2::sdk::SdkEc2;

    let mut w = MotoWorld::new().await;
    let proxy = ThrottlingProxy::start(&w.moto.endpoint).await;
    w.adapter = SdkEc2::new(client_for(&proxy.endpoint));
    w.add_member("web", "a1").await;
    for _ in 0..4 {
        w.launch(Some("web"), "a1").await;
    }

    let mut throttled = 0;
    for _ in 0..5 {
        let docs = measured(&w, &fixture("scheduled-event.json")).await;
        throttled += find(&docs, &[], "Ec2Throttled")["Ec2Throttled"]
            .as_u64()
            .unwrap();
    }

    let (_, refused) = proxy.counts();
    assert!(refused > 0, "the proxy throttled nothing");
    assert_eq!(throttled, refused, "every throttled attempt counted");
}

#[test]
fn the_validator_refuses_what_the_specification_refuses() {
    let ok = serde_json::json!({
        "_aws": {"Timestamp": 1_700_000_000_000u64, "CloudWatchMetrics": [
            {"Namespace": "N", "Dimensions": [["Pool"]], "Metrics": [{"Name": "Attaches"}]}]},
        "Pool": "web", "Attaches": 1
    });
    validate(&ok);
    let mut seconds = ok.clone();
    seconds["_aws"]["Timestamp"] = 1_700_000_000u64.into();
    let mut missing_dimension = ok.clone();
    missing_dimension.as_object_mut().unwrap().remove("Pool");
    let mut text_value = ok.clone();
    text_value["Attaches"] = "1".into();
    for bad in [seconds, missing_dimension, text_value] {
        let refused = std::panic::catch_unwind(|| validate(&bad));
        assert!(refused.is_err(), "accepted {bad}");
    }
}
