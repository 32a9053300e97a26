//! The optional CloudWatch dashboard (README, "Operating it"; R18): made only
//! when asked for, its body JSON once CloudFormation substitutes it, and
//! every metric it shows one the manager writes, in the same namespace with
//! the same dimensions, as read from the EMF documents of real invocations.

use std::collections::BTreeSet;
use std::time::Duration;

use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::InstanceState::*;
use network_interface_manager::handler::{handle_measured, Context};
use serde_json::{json, Value as Json};
use serde_norway::Value;

use crate::support::emf::validate;
use crate::support::world::{done, fast, fixture, state_event, StrictWorld, World};

const DASHBOARD: &str = "MetricsDashboard";
/// The namespace both the manager and the template are given: not the
/// default, and with characters a SEARCH schema must quote.
const NAMESPACE: &str = "Pools/Network-Interfaces";
const REGION: &str = "eu-west-1";

/// A metric as CloudWatch tells them apart: namespace, name and dimension
/// names (sorted).
type Metric = (String, String, Vec<String>);

fn metric(name: &str, dimensions: &[&str]) -> Metric {
    let mut dimensions: Vec<String> = dimensions.iter().map(|d| d.to_string()).collect();
    dimensions.sort();
    (NAMESPACE.into(), name.into(), dimensions)
}

/// One series (or SEARCH) the dashboard shows, and how.
#[derive(Debug)]
struct Shown {
    metric: Metric,
    stat: String,
    view: String,
}

fn template() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/cloudformation/network-interface-manager.yaml"
    );
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The body as CloudFormation would send it with `MetricsNamespace` set to
/// `namespace`: Fn::Sub replaces each `${Name}` with the parameter's or the
/// pseudo parameter's value, and the body must use no other name.
fn body(t: &Value, namespace: &str) -> Json {
    let sub = &t["Resources"][DASHBOARD]["Properties"]["DashboardBody"];
    let Value::Tagged(tagged) = sub else {
        panic!("DashboardBody is a !Sub: {sub:?}")
    };
    assert_eq!(tagged.tag, "!Sub");
    let text = tagged.value.as_str().expect("a !Sub of one string");
    let names: BTreeSet<&str> = text
        .split("${")
        .skip(1)
        .map(|rest| &rest[..rest.find('}').expect("a closed ${")])
        .collect();
    assert_eq!(names, BTreeSet::from(["AWS::Region", "MetricsNamespace"]));
    let text = text
        .replace("${MetricsNamespace}", namespace)
        .replace("${AWS::Region}", REGION);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("the body is not JSON: {e}\n{text}"))
}

/// CloudWatch's statistics: SampleCount, Average, Sum, Minimum, Maximum
/// and percentiles pNN(.NN) (Dashboard Body Structure, `stat`).
fn is_statistic(stat: &str) -> bool {
    ["SampleCount", "Average", "Sum", "Minimum", "Maximum"].contains(&stat)
        || stat
            .strip_prefix('p')
            .and_then(|p| p.parse::<f64>().ok())
            .is_some_and(|p| (0.0..=100.0).contains(&p))
}

/// `SEARCH('{"Namespace",Dimension,...} MetricName="Name"', 'Stat', Period)`,
/// the one form the dashboard uses: a schema selects the metrics with
/// exactly its dimensions, and the search term is one exact metric name, so
/// nothing else matches (CloudWatch search expression syntax).
fn search(expression: &str) -> (Metric, String) {
    let refuse = || panic!("not a SEARCH of one schema and one exact MetricName: {expression}");
    let Some(rest) = expression.strip_prefix("SEARCH('{") else {
        refuse()
    };
    let Some((query, arguments)) = rest.split_once("', '") else {
        refuse()
    };
    let Some((schema, term)) = query.split_once('}') else {
        refuse()
    };
    let mut names = schema
        .split(',')
        .map(|name| name.trim().trim_matches('"').to_string());
    let namespace = names.next().unwrap();
    let mut dimensions: Vec<String> = names.collect();
    dimensions.sort();
    let name = term
        .trim()
        .strip_prefix("MetricName=\"")
        .and_then(|n| n.strip_suffix('"'))
        .filter(|n| !n.is_empty() && !n.contains(['"', ' ']))
        .unwrap_or_else(|| refuse());
    let Some((stat, period)) = arguments.split_once("', ") else {
        refuse()
    };
    let period: u64 = period
        .strip_suffix(')')
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or_else(|| refuse());
    assert!(period >= 60 && period.is_multiple_of(60), "{expression}");
    ((namespace, name.to_string(), dimensions), stat.to_string())
}

/// Every metric the metric widgets show. An entry of `metrics` is an
/// expression, or `[Namespace, MetricName, DimensionName, DimensionValue,
/// ..., {rendering}]` where "." repeats the previous entry's item
/// (Dashboard Body Structure, "Format for Each Metric in the Array").
fn shown(body: &Json) -> Vec<Shown> {
    let mut shown = Vec::new();
    let widgets = body["widgets"].as_array().expect("widgets");
    for widget in widgets.iter().filter(|w| w["type"] == "metric") {
        let p = &widget["properties"];
        let view = p["view"].as_str().unwrap_or("timeSeries").to_string();
        let mut previous: Vec<Json> = Vec::new();
        for entry in p["metrics"].as_array().expect("a metric widget's metrics") {
            let entry = entry.as_array().expect("each metric an array");
            if let Some(expression) = entry[0].get("expression") {
                let (metric, stat) = search(expression.as_str().unwrap());
                shown.push(Shown {
                    metric,
                    stat,
                    view: view.clone(),
                });
                continue;
            }
            let items: Vec<Json> = entry
                .iter()
                .take_while(|item| item.is_string())
                .enumerate()
                .map(|(i, item)| match item.as_str() {
                    Some(".") => previous[i].clone(),
                    _ => item.clone(),
                })
                .collect();
            assert!(
                items.len() >= 2 && items.len().is_multiple_of(2),
                "{entry:?}"
            );
            let rendering = entry.get(items.len()).cloned().unwrap_or(json!({}));
            let stat = rendering["stat"]
                .as_str()
                .or(p["stat"].as_str())
                .unwrap_or("Average");
            let names: Vec<&str> = items.iter().map(|i| i.as_str().unwrap()).collect();
            let mut dimensions: Vec<String> = names[2..]
                .iter()
                .step_by(2)
                .map(|d| d.to_string())
                .collect();
            dimensions.sort();
            shown.push(Shown {
                metric: (names[0].into(), names[1].into(), dimensions),
                stat: stat.into(),
                view: view.clone(),
            });
            previous = items;
        }
    }
    shown
}

/// One event through the handler, the manager writing to `NAMESPACE`.
async fn documents(w: &StrictWorld, event: &Json) -> Vec<Json> {
    let mut ctx = Context::new(w.ec2(), fast());
    ctx.metrics_namespace = NAMESPACE.into();
    let deadline = Deadline::after(Duration::from_secs(30));
    let (handled, docs) = handle_measured(&ctx, event, deadline).await;
    done(handled);
    docs.iter().for_each(validate);
    docs
}

/// What the manager writes: each directive's metrics under each of its
/// dimension sets, from an attach on a `running` event and from a sync of
/// all pools that leaves an instance waiting (the census).
async fn written() -> BTreeSet<Metric> {
    let w = StrictWorld::new();
    w.model.add_member("web", "subnet-a1");
    w.model.add_member("web", "subnet-b1");
    let served = w.model.launch(Some("web"), "subnet-a1");
    let mut docs = documents(&w, &state_event(&served, Running)).await;
    w.model.launch(Some("web"), "subnet-a1");
    docs.extend(documents(&w, &fixture("scheduled-event.json")).await);

    let mut written = BTreeSet::new();
    for doc in &docs {
        for directive in doc["_aws"]["CloudWatchMetrics"].as_array().unwrap() {
            let namespace = directive["Namespace"].as_str().unwrap();
            for set in directive["Dimensions"].as_array().unwrap() {
                let mut dimensions: Vec<String> = set
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|d| d.as_str().unwrap().to_string())
                    .collect();
                dimensions.sort();
                for m in directive["Metrics"].as_array().unwrap() {
                    let name = m["Name"].as_str().unwrap().to_string();
                    written.insert((namespace.to_string(), name, dimensions.clone()));
                }
            }
        }
    }
    written
}

#[test]
fn the_dashboard_is_made_only_when_asked_for() {
    let t = template();
    let parameter = &t["Parameters"]["Dashboard"];
    assert_eq!(parameter["Type"].as_str(), Some("String"));
    assert_eq!(parameter["Default"].as_str(), Some("false"));
    assert_eq!(
        serde_json::to_value(&parameter["AllowedValues"]).unwrap(),
        json!(["true", "false"])
    );
    assert!(parameter["Description"]
        .as_str()
        .is_some_and(|d| !d.is_empty()));
    let condition = serde_json::to_value(&t["Conditions"]["HasDashboard"]).unwrap();
    assert_eq!(
        condition,
        json!({"!Equals": [{"!Ref": "Dashboard"}, "true"]})
    );
    let dashboards: Vec<(&Value, &Value)> = t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Dashboard"))
        .collect();
    assert_eq!(dashboards.len(), 1, "{dashboards:?}");
    let (name, dashboard) = dashboards[0];
    assert_eq!(name.as_str(), Some(DASHBOARD));
    assert_eq!(dashboard["Condition"].as_str(), Some("HasDashboard"));
}

/// Dashboard Body Structure: a `widgets` array of at most 500, each on the
/// 24-column grid; a metric widget needs its `region` and its `metrics`, a
/// text widget its `markdown`.
#[test]
fn its_body_is_json_once_substituted() {
    let body = body(&template(), NAMESPACE);
    let widgets = body["widgets"].as_array().expect("a widgets array");
    assert!(!widgets.is_empty() && widgets.len() <= 500);
    for widget in widgets {
        let (x, width) = (widget["x"].as_u64(), widget["width"].as_u64());
        assert!(x.unwrap() + width.unwrap() <= 24, "{widget}");
        let p = &widget["properties"];
        match widget["type"].as_str() {
            Some("metric") => {
                assert_eq!(p["region"], REGION, "{widget}");
                assert!(p["metrics"].as_array().is_some_and(|m| !m.is_empty()));
            }
            Some("text") => assert!(p["markdown"].as_str().is_some_and(|m| m.len() > 80)),
            other => panic!("a widget of type {other:?}"),
        }
    }
}

#[tokio::test]
async fn every_metric_it_shows_is_one_the_manager_writes() {
    let written = written().await;
    let shown = shown(&body(&template(), NAMESPACE));
    for s in &shown {
        assert!(
            written.contains(&s.metric),
            "{s:?} is not written; the manager writes {written:#?}"
        );
        assert!(is_statistic(&s.stat), "{s:?}");
    }
    let shows = |name: &str, dimensions: &[&str], stat: &str| {
        let m = metric(name, dimensions);
        shown.iter().any(|s| s.metric == m && s.stat == stat)
    };
    // One glance: waiting instances per pool and AZ beside free and held
    // members, and the account's total as a number.
    for gauge in ["WaitingInstances", "FreeMembers", "HeldMembers"] {
        let per_az = ["Pool", "AvailabilityZone"];
        assert!(shows(gauge, &per_az, "Maximum"), "{gauge}: {shown:#?}");
    }
    let account = metric("WaitingInstances", &[]);
    assert!(
        shown
            .iter()
            .any(|s| s.metric == account && s.view == "singleValue" && s.stat == "Maximum"),
        "{shown:#?}"
    );
    for counter in ["Attaches", "Detaches"] {
        assert!(shows(counter, &["Pool"], "Sum"), "{counter}: {shown:#?}");
    }
    for counter in [
        "Ec2Throttled",
        "TransientFailures",
        "PermanentFailures",
        "ActionsLeft",
    ] {
        assert!(shows(counter, &[], "Sum"), "{counter}: {shown:#?}");
    }
}
