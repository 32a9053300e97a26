//! CloudWatch's Embedded Metric Format as the tests check it (R18): the
//! specification's rules, and the documents an invocation writes.

use std::time::Duration;

use network_interface_manager::deadline::Deadline;
use network_interface_manager::handler::{handle_measured, Context};
use serde_json::Value;

use super::world::{done, fast, World};

/// The rules of the EMF specification a document must follow [EMF-SPEC]:
/// a millisecond timestamp; each directive's dimension keys strings at the
/// root, at most 30 to a set; at most 100 metrics, each a number (or at
/// most 100 numbers) at the root.
pub fn validate(doc: &Value) {
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
pub async fn measured(w: &dyn World, event: &Value) -> Vec<Value> {
    let ctx = Context::new(w.ec2(), fast());
    let deadline = Deadline::after(Duration::from_secs(30));
    let (handled, docs) = handle_measured(&ctx, event, deadline).await;
    done(handled);
    for doc in &docs {
        validate(doc);
        assert!(serde_json::to_string(doc).unwrap().lines().count() == 1);
    }
    docs
}

/// The document whose dimension set is exactly `dims`, with these values.
pub fn find<'a>(docs: &'a [Value], dims: &[(&str, &str)], metric: &str) -> &'a Value {
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
