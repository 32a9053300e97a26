//! Inputs told apart by their shape; unknown and malformed ones are answered
//! with success and change nothing.

use network_interface_manager::autoscaling::Transition;
use network_interface_manager::ec2::InstanceState;
use network_interface_manager::event::Event;
use network_interface_manager::event::StateChange;
use serde_json::json;

use crate::support::world::{deliver_ok, fixture, state_event, StrictWorld, World};

#[test]
fn documented_events_parse() {
    let state = Event::parse(&fixture("ec2-state-change.json"));
    assert_eq!(
        state,
        Event::StateChange(StateChange {
            instance_id: "i-abcd1111".into(),
            state: InstanceState::Pending,
            time: Some(1_636_666_194_000),
        })
    );
    assert_eq!(
        Event::parse(&fixture("scheduled-event.json")),
        Event::Scheduled
    );
    let request = json!({
        "RequestType": "Create", "ResponseURL": "http://127.0.0.1:1/r",
        "ResourceType": "Custom::NetworkInterfacePool", "ResourceProperties": {}
    });
    assert!(matches!(Event::parse(&request), Event::CustomResource(_)));
    // C9: another resource type is still a request to answer.
    let other =
        json!({"RequestType": "Create", "ResponseURL": "x", "ResourceType": "Custom::Other"});
    assert!(matches!(Event::parse(&other), Event::CustomResource(_)));
}

/// R28: EC2's warnings that an instance is due to leave, as documented
/// (Spot instance interruption notices, rebalance recommendations).
#[test]
fn ec2_warnings_parse_with_their_instance() {
    use network_interface_manager::event::Warning;
    let time = Some(1_796_724_000_000);
    for (fixture_name, kind) in [
        ("ec2-spot-interruption-warning.json", "spot-interruption"),
        (
            "ec2-rebalance-recommendation.json",
            "rebalance-recommendation",
        ),
    ] {
        let parsed = Event::parse(&fixture(fixture_name));
        let instance_id = "i-1234567890abcdef0".to_string();
        assert_eq!(
            parsed,
            Event::Warning(Warning {
                instance_id,
                kind,
                time
            }),
            "{fixture_name}"
        );
    }
    let mut headless = fixture("ec2-rebalance-recommendation.json");
    headless["detail"] = json!({});
    assert!(matches!(Event::parse(&headless), Event::Malformed { .. }));
}

#[test]
fn other_inputs_are_unknown() {
    for input in [
        json!({"hello": "world"}),
        // Half a CloudFormation request: nowhere to answer, so not one.
        json!({"RequestType": "Create"}),
        json!({"ResponseURL": "https://example.com/r"}),
        json!([1, 2, 3]),
        json!(null),
    ] {
        assert!(
            matches!(Event::parse(&input), Event::Unknown { .. }),
            "{input}"
        );
    }
}

/// R20: lifecycle actions, warm pool or not; a transition that does not
/// match the kind, or a missing field, is malformed.
#[test]
fn lifecycle_actions_parse_with_their_token_and_destination() {
    let launch = fixture("autoscaling-launch-lifecycle.json");
    let Event::LifecycleAction(parsed) = Event::parse(&launch) else {
        panic!("not a lifecycle action");
    };
    let action = &parsed.given.action;
    assert_eq!(parsed.given.transition, Transition::Launching);
    assert_eq!(
        (action.group.as_str(), action.hook.as_str()),
        ("my-asg", "my-lifecycle-hook")
    );
    assert_eq!(action.instance_id, "i-1234567890abcdef0");
    assert_eq!(
        action.token.as_deref(),
        Some("87654321-4321-4321-4321-210987654321")
    );
    assert!(!parsed.into_warm_pool());
    assert_eq!(parsed.given.wait_state, "Pending:Wait");

    let mut warm = launch.clone();
    warm["detail"]["Destination"] = "WarmPool".into();
    let Event::LifecycleAction(parsed) = Event::parse(&warm) else {
        panic!("not a lifecycle action");
    };
    assert!(parsed.into_warm_pool());
    assert_eq!(parsed.given.wait_state, "Warmed:Pending:Wait");

    let mut terminate = launch.clone();
    terminate["detail-type"] = "EC2 Instance-terminate Lifecycle Action".into();
    assert!(
        matches!(Event::parse(&terminate), Event::Malformed { .. }),
        "a launch transition"
    );
    terminate["detail"]["LifecycleTransition"] = "autoscaling:EC2_INSTANCE_TERMINATING".into();
    let Event::LifecycleAction(parsed) = Event::parse(&terminate) else {
        panic!("not a lifecycle action");
    };
    assert_eq!(parsed.given.transition, Transition::Terminating);
    assert_eq!(parsed.given.wait_state, "Terminating:Wait");
    assert!(!parsed.into_warm_pool());

    // [ASG-WPEV]: a scale-in that returns the instance to the warm pool
    // waits in Warmed:Pending:Wait; a warm instance terminated waits in
    // Warmed:Terminating:Wait.
    let mut back = terminate.clone();
    back["detail"]["Origin"] = "AutoScalingGroup".into();
    back["detail"]["Destination"] = "WarmPool".into();
    let Event::LifecycleAction(parsed) = Event::parse(&back) else {
        panic!("not a lifecycle action");
    };
    assert_eq!(parsed.given.wait_state, "Warmed:Pending:Wait");
    assert!(!parsed.into_warm_pool(), "a termination, not a launch");
    let mut from_warm = terminate.clone();
    from_warm["detail"]["Origin"] = "WarmPool".into();
    from_warm["detail"]["Destination"] = "EC2".into();
    let Event::LifecycleAction(parsed) = Event::parse(&from_warm) else {
        panic!("not a lifecycle action");
    };
    assert_eq!(parsed.given.wait_state, "Warmed:Terminating:Wait");

    let mut tokenless = launch;
    tokenless["detail"]
        .as_object_mut()
        .unwrap()
        .remove("LifecycleActionToken");
    assert!(matches!(Event::parse(&tokenless), Event::Malformed { .. }));
}

#[test]
fn a_state_change_without_its_detail_is_malformed() {
    let mut event = fixture("ec2-state-change.json");
    event["detail"] = json!({"state": "running"});
    assert!(matches!(Event::parse(&event), Event::Malformed { .. }));
    event["detail"] = json!({"instance-id": "i-1", "state": "exploded"});
    assert!(matches!(Event::parse(&event), Event::Malformed { .. }));
}

#[tokio::test]
async fn a_pending_instance_costs_no_call() {
    let w = StrictWorld::new();
    let instance = w.launch(Some("web"), "a1").await;
    let handled = deliver_ok(&w, &state_event(&instance, InstanceState::Pending)).await;
    assert!(handled.ec2_calls.is_empty());
}

/// An ignored input is described in its note by its shape only (its keys,
/// or its JSON type), never its values: a payload may carry secrets.
#[tokio::test]
async fn an_ignored_input_is_described_by_its_shape_only() {
    let w = StrictWorld::new();
    for (input, note) in [
        (
            json!({"password": "hunter2"}),
            r#"not handled: object with keys ["password"]"#,
        ),
        (json!([1, 2]), "not handled: JSON array"),
        (json!("text"), "not handled: JSON string"),
        (json!(7), "not handled: JSON number"),
        (json!(true), "not handled: JSON boolean"),
        (json!(null), "not handled: JSON null"),
    ] {
        let handled = deliver_ok(&w, &input).await;
        assert_eq!(handled.outcome.note.as_deref(), Some(note), "{input}");
    }
}

/// C15 [TF-INV]: Terraform's CRUD invocation is the input plus one key
/// (`tf` by default, any `terraform_key`) holding `action` and
/// `prev_input`; the key is not a property.
#[test]
fn a_terraform_invocation_parses_under_any_key_without_its_key() {
    use network_interface_manager::event::{Invocation, InvocationAction};
    let create = json!({"Name": "bastion", "tf": {"action": "create", "prev_input": null}});
    assert_eq!(
        Event::parse(&create),
        Event::Invocation(Invocation {
            action: InvocationAction::Create,
            input: json!({"Name": "bastion"}),
            prev_input: None,
        })
    );
    let update = json!({"Name": "b", "pulumi": {"action": "update", "prev_input": {"Name": "a"}}});
    assert_eq!(
        Event::parse(&update),
        Event::Invocation(Invocation {
            action: InvocationAction::Update,
            input: json!({"Name": "b"}),
            prev_input: Some(json!({"Name": "a"})),
        })
    );
    let bad = json!({"Name": "b", "tf": {"action": "read", "prev_input": null}});
    let Event::Malformed { error, .. } = Event::parse(&bad) else {
        panic!("{:?}", Event::parse(&bad));
    };
    assert!(error.starts_with("tf.action"), "{error}");
    // An EventBridge event never is one, whatever its detail holds.
    let event = json!({"source": "aws.ec2", "detail": {"action": "create", "prev_input": null}});
    assert!(!matches!(Event::parse(&event), Event::Invocation(_)));
    // Without the lifecycle key: CREATE_ONLY scope, whose destroy would
    // never reach the pool: malformed, told to the caller.
    let Event::Malformed { error, .. } = Event::parse(&json!({"Name": "bastion"})) else {
        panic!("a create-only invocation is malformed");
    };
    assert!(error.contains("lifecycle_scope = \"CRUD\""), "{error}");
}
