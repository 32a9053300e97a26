//! The role's policy as IAM evaluates it (docs/design.md, T6), checked
//! against the IAM Service Authorization Reference, action by action, from
//! the table in `tests/fixtures/iam-reference.json` (its source and date are
//! in the file; `scripts/iam-reference.py` writes it): every resource type
//! an action requires is granted; every resource a statement names is one
//! the action takes; every condition key exists for the action and each
//! resource type of the statement.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value as Json;
use serde_norway::Value;

fn reference() -> Json {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/iam-reference.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn template() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/cloudformation/network-interface-manager.yaml"
    );
    serde_norway::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The role's statements: its inline policies' and those of the policies
/// attached to it (the volume keys' one, under its condition).
fn statements(t: &Value) -> Vec<Value> {
    let inline = t["Resources"]["Role"]["Properties"]["Policies"]
        .as_sequence()
        .unwrap();
    let resources = t["Resources"].as_mapping().unwrap().values();
    let attached = resources
        .filter(|r| r["Type"].as_str() == Some("AWS::IAM::Policy"))
        .map(|r| &r["Properties"]);
    let statements = inline.iter().chain(attached).flat_map(|p| {
        p["PolicyDocument"]["Statement"]
            .as_sequence()
            .unwrap()
            .clone()
    });
    statements.collect()
}

/// Strings of a value, with their intrinsic function (`!Sub`, `!GetAtt`).
fn strings(v: &Value) -> Vec<(String, String)> {
    match v {
        Value::String(s) => vec![(String::new(), s.clone())],
        Value::Sequence(items) => items.iter().flat_map(strings).collect(),
        Value::Tagged(t) => strings(&t.value)
            .into_iter()
            .map(|(_, s)| (t.tag.to_string(), s))
            .collect(),
        _ => vec![],
    }
}

/// The resource types (`service:type`) a `Resource` entry names; `None`
/// for `*`.
fn resource_types(reference: &Json, tag: &str, resource: &str) -> Option<BTreeSet<String>> {
    if resource == "*" {
        return None;
    }
    if tag == "!Split" {
        // The one parameter of ARNs a statement names, split at its commas.
        let parts = [",", "VolumeKmsKeyArns"];
        assert!(
            parts.contains(&resource),
            "no resource type for !Split {resource}"
        );
        return Some(["kms:key".to_string()].into());
    }
    if tag == "!GetAtt" {
        // The log group's Arn ends in `:*`, which names its log streams.
        let by_attribute = [
            ("LogGroup.Arn", "logs:log-stream"),
            ("DeadLetterQueue.Arn", "sqs:queue"),
        ];
        let found = by_attribute
            .iter()
            .find(|(attribute, _)| *attribute == resource);
        let (_, kind) = found.unwrap_or_else(|| panic!("no resource type for !GetAtt {resource}"));
        return Some([kind.to_string()].into());
    }
    let arns = reference["resource_arns"].as_object().unwrap();
    let kinds: BTreeSet<String> = arns
        .iter()
        .filter(|(_, pattern)| {
            let pattern = pattern.as_str().unwrap();
            let after_account = pattern.split("${Account}:").nth(1).unwrap_or_default();
            let marker = after_account.split("${").next().unwrap_or_default();
            !marker.is_empty() && resource.contains(&format!(":{marker}"))
        })
        .map(|(kind, _)| kind.clone())
        .collect();
    assert!(!kinds.is_empty(), "no resource type for {resource}");
    Some(kinds)
}

/// A condition key as the reference spells it: tag keys become `${TagKey}`.
fn reference_key(key: &str) -> String {
    match key.split_once('/') {
        Some((prefix, _)) if prefix.ends_with("Tag") => format!("{prefix}/${{TagKey}}"),
        _ => key.to_string(),
    }
}

fn condition_keys(statement: &Value) -> Vec<String> {
    let Some(conditions) = statement["Condition"].as_mapping() else {
        return Vec::new();
    };
    conditions
        .values()
        .flat_map(|by_key| by_key.as_mapping().unwrap().keys())
        .map(|k| reference_key(k.as_str().unwrap()))
        .collect()
}

/// Which resource types each action is granted on, after checking every
/// statement against the reference.
fn granted(reference: &Json, statements: &[Value]) -> BTreeMap<String, BTreeSet<String>> {
    let mut granted: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for statement in statements {
        let sid = statement["Sid"].as_str().unwrap_or("?");
        let keys = condition_keys(statement);
        for (_, action) in strings(&statement["Action"]) {
            let entry = &reference["actions"][&action];
            let types = entry
                .as_object()
                .unwrap_or_else(|| panic!("{sid}: {action} unknown"));
            let service = action.split(':').next().unwrap();
            let action_keys = types.get("").map(|t| t["condition_keys"].clone());
            for (tag, resource) in strings(&statement["Resource"]) {
                let named: Vec<String> = match resource_types(reference, &tag, &resource) {
                    None => types.keys().cloned().collect(),
                    Some(kinds) => kinds
                        .into_iter()
                        .map(|k| k.trim_start_matches(&format!("{service}:")).to_string())
                        .collect(),
                };
                for kind in &named {
                    let Some(rt) = types.get(kind) else {
                        panic!("{sid}: {action} takes no resource of type {kind} ({resource})");
                    };
                    for key in &keys {
                        let known = |list: &Json| list.as_array().unwrap().iter().any(|k| k == key);
                        let valid =
                            known(&rt["condition_keys"]) || action_keys.as_ref().is_some_and(known);
                        assert!(
                            valid,
                            "{sid}: {key} does not exist for {action} on {kind:?}"
                        );
                    }
                    granted
                        .entry(action.clone())
                        .or_default()
                        .insert(kind.clone());
                }
            }
        }
    }
    granted
}

#[test]
fn every_resource_type_an_action_requires_is_granted() {
    let reference = reference();
    let granted = granted(&reference, &statements(&template()));
    for (action, types) in reference["actions"].as_object().unwrap() {
        let Some(have) = granted.get(action) else {
            panic!("{action} is not granted");
        };
        for (kind, rt) in types.as_object().unwrap() {
            if rt["required"] == true {
                assert!(
                    have.contains(kind),
                    "{action} needs {kind}, granted {have:?}"
                );
            }
        }
    }
}

#[test]
fn the_check_fails_when_a_statements_resource_type_is_removed() {
    let reference = reference();
    let mut statements = statements(&template());
    // The instance half of attach and detach.
    statements.retain(|s| s["Sid"].as_str() != Some("MoveOnInstances"));
    let granted = granted(&reference, &statements);
    let attach = &granted["ec2:AttachNetworkInterface"];
    assert!(!attach.contains("instance"), "{attach:?}");
}

#[test]
fn the_check_refuses_a_condition_key_the_action_does_not_have() {
    let reference = reference();
    let mut statements = statements(&template());
    let delete = statements
        .iter_mut()
        .find(|s| s["Sid"].as_str() == Some("ChangePoolInterfaces"))
        .unwrap();
    delete["Condition"] =
        serde_norway::from_str(r#"{"StringEquals": {"ec2:CreateAction": "x"}}"#).unwrap();
    let refused = std::panic::catch_unwind(|| granted(&reference, &statements));
    assert!(
        refused.is_err(),
        "ec2:CreateAction accepted on DeleteNetworkInterface"
    );
}

/// [EBS-KMS]: the volume keys are the role's only through EC2, and their
/// grants only for AWS resources; the statement exists only when keys are
/// given.
#[test]
fn volume_keys_are_used_only_through_ec2() {
    let t = template();
    let policy = &t["Resources"]["VolumeKeysPolicy"];
    assert_eq!(policy["Condition"].as_str(), Some("HasVolumeKeys"));
    let statements = statements(&t);
    let kms: Vec<&Value> = statements
        .iter()
        .filter(|s| {
            strings(&s["Action"])
                .iter()
                .any(|(_, a)| a.starts_with("kms:"))
        })
        .collect();
    assert_eq!(kms.len(), 2, "{kms:?}");
    for statement in &kms {
        let via = &statement["Condition"]["StringEquals"]["kms:ViaService"];
        let via = strings(via).remove(0);
        assert_eq!(
            via,
            (
                "!Sub".to_string(),
                "ec2.${AWS::Region}.amazonaws.com".to_string()
            )
        );
        let grants = strings(&statement["Action"])
            .iter()
            .any(|(_, a)| a == "kms:CreateGrant");
        if grants {
            let resource = &statement["Condition"]["Bool"]["kms:GrantIsForAWSResource"];
            assert_eq!(resource.as_str(), Some("true"));
        }
    }
}
