//! The deployment template (docs/design.md, T6): the IAM policy grants every EC2
//! action the adapter calls and nothing more, nothing mutating on `*`, and the
//! rules send exactly the events the handler acts on.

use std::collections::BTreeSet;

use serde_json::{json, Value as Json};
use serde_norway::Value;

use crate::support::world::{fixture, state_event};
use network_interface_manager::ec2::InstanceState::*;

fn template() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/cloudformation/network-interface-manager.yaml"
    );
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn resource<'a>(t: &'a Value, name: &str) -> &'a Value {
    &t["Resources"][name]
}

/// A string or a list of strings, as IAM allows.
fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        Value::Tagged(t) => strings(&t.value),
        _ => vec![],
    }
}

/// The actions an adapter calls: every operation it counts
/// (`calls.count("…")`) or names in its errors (`during("…")`).
fn adapter_actions(service: &str, source: &str) -> BTreeSet<String> {
    let named = ["calls.count(\"", "during(\""]
        .into_iter()
        .flat_map(|marker| source.split(marker).skip(1));
    named
        .map(|rest| format!("{service}:{}", &rest[..rest.find('"').unwrap()]))
        .collect()
}

fn statements(t: &Value) -> Vec<Value> {
    let policies = resource(t, "Role")["Properties"]["Policies"]
        .as_sequence()
        .unwrap();
    policies
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_sequence()
                .unwrap()
                .clone()
        })
        .collect()
}

#[test]
fn the_policy_grants_every_action_the_adapters_call_and_no_other() {
    let t = template();
    let adapters = [
        ("ec2", include_str!("../../../src/ec2/sdk.rs"), 10),
        (
            "autoscaling",
            include_str!("../../../src/autoscaling/sdk.rs"),
            3,
        ),
        ("cloudformation", include_str!("../../../src/stacks.rs"), 2),
    ];
    for (service, source, at_least) in adapters {
        let granted: BTreeSet<String> = statements(&t)
            .iter()
            .flat_map(|s| strings(&s["Action"]))
            .filter(|a| a.starts_with(&format!("{service}:")))
            .collect();
        let called = adapter_actions(service, source);
        assert!(
            called.len() >= at_least,
            "the adapter's calls were found: {called:?}"
        );
        assert_eq!(granted, called);
    }
}

#[test]
fn nothing_mutating_is_granted_on_every_resource() {
    for statement in statements(&template()) {
        let resources = strings(&statement["Resource"]);
        if resources.iter().any(|r| r == "*") {
            for action in strings(&statement["Action"]) {
                let read = action.starts_with("ec2:Describe")
                    || action.starts_with("autoscaling:Describe");
                assert!(read, "{action} on *");
            }
        }
    }
}

/// C11, C14: every write to an interface or an Elastic IP needs the pool or
/// the owner tag on it, or in the request (at creation, or adoption).
#[test]
fn interface_address_and_volume_writes_require_the_pool_or_owner_tag() {
    for statement in statements(&template()) {
        let on_interfaces = strings(&statement["Resource"]).iter().any(|r| {
            [":network-interface/", ":elastic-ip/", ":volume/"]
                .iter()
                .any(|kind| r.contains(kind))
        });
        let condition = serde_norway::to_string(&statement["Condition"]).unwrap();
        if on_interfaces {
            assert!(
                condition.contains("network-interface-manager-pool")
                    || condition.contains("network-interface-manager-owner")
                    || condition.contains("ec2:CreateAction"),
                "{statement:?}"
            );
        }
    }
}

/// EventBridge's matching for the pattern forms the template uses: lists of
/// allowed values or `{prefix: …}`, nested objects.
fn matches(pattern: &Json, event: &Json) -> bool {
    let allows = |allowed: &Json, value: &Json| match (allowed, value) {
        (Json::Object(p), Json::String(v)) if p.contains_key("prefix") => {
            v.starts_with(p["prefix"].as_str().unwrap())
        }
        _ => allowed == value,
    };
    pattern
        .as_object()
        .unwrap()
        .iter()
        .all(|(key, want)| match want {
            Json::Array(allowed) => allowed.iter().any(|a| allows(a, &event[key])),
            Json::Object(_) => matches(want, &event[key]),
            _ => false,
        })
}

#[test]
fn the_rules_send_the_events_the_handler_acts_on() {
    let t = template();
    let rule = &resource(&t, "StateChangeRule")["Properties"];
    let pattern: Json = serde_json::to_value(&rule["EventPattern"]).unwrap();
    for state in [Running, Stopping, Stopped, ShuttingDown, Terminated] {
        assert!(
            matches(&pattern, &state_event("i-1", state)),
            "{state:?} is sent"
        );
    }
    assert!(
        !matches(&pattern, &state_event("i-1", Pending)),
        "pending is not sent"
    );
    assert!(!matches(&pattern, &fixture("scheduled-event.json")));
    let schedule = &resource(&t, "ScheduleRule")["Properties"]["ScheduleExpression"];
    assert_eq!(schedule.as_str(), Some("rate(5 minutes)"));
    // R20: the lifecycle actions of our hooks, launch and terminate, and
    // no other hook's.
    let rule = &resource(&t, "LifecycleActionRule")["Properties"];
    let pattern: Json = serde_json::to_value(&rule["EventPattern"]).unwrap();
    let mut launch = fixture("autoscaling-launch-lifecycle.json");
    assert!(!matches(&pattern, &launch), "another hook's action");
    launch["detail"]["LifecycleHookName"] = json!("network-interface-manager-launch");
    assert!(matches(&pattern, &launch));
    let mut terminate = launch.clone();
    terminate["detail-type"] = json!("EC2 Instance-terminate Lifecycle Action");
    assert!(matches(&pattern, &terminate));
    assert!(!matches(&pattern, &state_event("i-1", Running)));
    // R28: EC2's warnings that an instance is due to leave.
    let rule = &resource(&t, "WarningRule")["Properties"];
    let pattern: Json = serde_json::to_value(&rule["EventPattern"]).unwrap();
    for warning in [
        "ec2-spot-interruption-warning.json",
        "ec2-rebalance-recommendation.json",
    ] {
        assert!(matches(&pattern, &fixture(warning)), "{warning}");
    }
    assert!(!matches(&pattern, &state_event("i-1", Running)));
    for (rule, permission) in [
        ("StateChangeRule", "StateChangePermission"),
        ("WarningRule", "WarningPermission"),
        ("LifecycleActionRule", "LifecycleActionPermission"),
        ("ScheduleRule", "SchedulePermission"),
    ] {
        let source =
            serde_json::to_value(&resource(&t, permission)["Properties"]["SourceArn"]).unwrap();
        assert_eq!(
            source,
            json!({ "!GetAtt": format!("{rule}.Arn") }),
            "{permission} names its rule"
        );
    }
}

#[test]
fn the_function_is_deployable_as_documented() {
    let t = template();
    let f = &resource(&t, "Function")["Properties"];
    assert_eq!(f["Runtime"].as_str(), Some("provided.al2023"));
    assert_eq!(f["Handler"].as_str(), Some("bootstrap"));
    assert!(
        f.get("FunctionName").is_none(),
        "no fixed name: two stacks fit in one account"
    );
    assert_eq!(f["LoggingConfig"]["LogFormat"].as_str(), Some("JSON"));
    let export = serde_json::to_value(&t["Outputs"]["ServiceToken"]["Export"]["Name"]).unwrap();
    assert_eq!(export, json!({"!Sub": "${AWS::StackName}-ServiceToken"}));
}

/// C12, C13: the schedule may read stacks and their resources, and nothing
/// else of CloudFormation.
#[test]
fn the_role_reads_stacks_and_nothing_else_of_cloudformation() {
    let t = template();
    let granted: Vec<(Vec<String>, Vec<String>)> = statements(&t)
        .iter()
        .map(|s| (strings(&s["Action"]), strings(&s["Resource"])))
        .filter(|(actions, _)| actions.iter().any(|a| a.starts_with("cloudformation:")))
        .collect();
    assert_eq!(granted.len(), 1, "{granted:?}");
    let reads = [
        "cloudformation:DescribeStacks",
        "cloudformation:ListStackResources",
    ];
    assert_eq!(granted[0].0, reads);
    assert!(granted[0].1[0].ends_with(":stack/*/*"), "{granted:?}");
}

/// Fleet-ready: no reservation unless asked for, the ServiceToken under a
/// fixed SSM name as well as the export, the metrics namespace passed on.
#[test]
fn the_template_deploys_in_any_account_and_in_a_stack_set() {
    let t = template();
    let f = &resource(&t, "Function")["Properties"];
    let reserved = serde_json::to_value(&f["ReservedConcurrentExecutions"]).unwrap();
    assert_eq!(
        reserved,
        json!({"!If": ["HasReservedConcurrency", {"!Ref": "ReservedConcurrency"}, {"!Ref": "AWS::NoValue"}]})
    );
    assert_eq!(
        t["Parameters"]["ReservedConcurrency"]["Default"].as_i64(),
        Some(-1)
    );
    let env = serde_json::to_value(&f["Environment"]["Variables"]["METRICS_NAMESPACE"]).unwrap();
    assert_eq!(env, json!({"!Ref": "MetricsNamespace"}));
    let ssm = &resource(&t, "ServiceTokenParameter")["Properties"];
    assert_eq!(
        serde_json::to_value(&ssm["Value"]).unwrap(),
        json!({"!GetAtt": "Function.Arn"})
    );
    assert_eq!(
        serde_json::to_value(&ssm["Name"]).unwrap(),
        json!({"!Ref": "ServiceTokenParameterName"})
    );
}

/// R18: five alarms, only when a topic is given, each telling what to do.
#[test]
fn the_alarms_exist_only_with_a_topic_and_say_what_to_do() {
    let t = template();
    let alarms: Vec<(&Value, &Value)> = t["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .collect();
    let names: Vec<&str> = alarms.iter().filter_map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        names,
        [
            "ShortageAlarm",
            "MissingVolumeAlarm",
            "ErrorsAlarm",
            "DeadLetterAlarm",
            "ScheduleAlarm"
        ]
    );
    for (name, alarm) in alarms {
        assert_eq!(alarm["Condition"].as_str(), Some("HasAlarms"), "{name:?}");
        let p = &alarm["Properties"];
        let description = p["AlarmDescription"].as_str().unwrap_or_default();
        assert!(description.len() > 80, "{name:?} says what to do");
        let topic = json!([{"!Ref": "AlarmTopicArn"}]);
        assert_eq!(serde_json::to_value(&p["AlarmActions"]).unwrap(), topic);
    }
    let schedule = &resource(&t, "ScheduleAlarm")["Properties"];
    assert_eq!(schedule["TreatMissingData"].as_str(), Some("breaching"));
    let shortage = &resource(&t, "ShortageAlarm")["Properties"];
    assert!(
        shortage.get("Dimensions").is_none(),
        "the account-wide series"
    );
    assert_eq!(shortage["MetricName"].as_str(), Some("WaitingInstances"));
}

/// C14: the role releases only Elastic IPs a declaration allocated: the one
/// statement that grants `ReleaseAddress` needs the owner tag and no
/// adopted tag.
#[test]
fn only_allocated_addresses_may_be_released() {
    let granting: Vec<Value> = statements(&template())
        .into_iter()
        .filter(|s| {
            strings(&s["Action"])
                .iter()
                .any(|a| a == "ec2:ReleaseAddress")
        })
        .collect();
    assert_eq!(granting.len(), 1, "{granting:?}");
    let null = &granting[0]["Condition"]["Null"];
    assert_eq!(
        null["ec2:ResourceTag/network-interface-manager-owner"],
        "false"
    );
    assert_eq!(
        null["ec2:ResourceTag/network-interface-manager-adopted"],
        "true"
    );
}

/// R26: the role tags instances with the identity keys and no others, and
/// removes them only by name: the statements name exactly the keys the
/// executor writes.
#[test]
fn instance_tags_are_the_identity_keys_and_no_others() {
    use network_interface_manager::ec2::IDENTITY_TAGS;
    let t = template();
    let on_instances: Vec<Value> = statements(&t)
        .into_iter()
        .filter(|s| {
            strings(&s["Resource"])
                .iter()
                .any(|r| r.contains(":instance/*"))
        })
        .filter(|s| {
            let actions = strings(&s["Action"]);
            actions
                .iter()
                .any(|a| a == "ec2:CreateTags" || a == "ec2:DeleteTags")
        })
        .collect();
    let identity: Vec<String> = IDENTITY_TAGS.iter().map(|k| k.to_string()).collect();
    let leaving = vec![network_interface_manager::ec2::LEAVING_TAG.to_string()];
    let mut granted: Vec<(Vec<String>, Vec<String>)> = Vec::new();
    for s in &on_instances {
        let condition = &s["Condition"];
        let keys = strings(&condition["ForAllValues:StringEquals"]["aws:TagKeys"]);
        assert_eq!(
            condition["Null"]["aws:TagKeys"].as_str(),
            Some("false"),
            "{s:?}"
        );
        granted.push((strings(&s["Action"]), keys));
    }
    granted.sort();
    let create = vec!["ec2:CreateTags".to_string()];
    let delete = vec!["ec2:DeleteTags".to_string()];
    // R26: the identity keys, written and removed; R28: the warning mark,
    // written only.
    assert_eq!(
        granted,
        [
            (create.clone(), leaving),
            (create, identity.clone()),
            (delete, identity)
        ]
    );
}
