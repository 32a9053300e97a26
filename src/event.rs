//! What arrived: the four kinds of input told apart by their shape
//! (docs/design.md), parsed into the manager's inputs. Below `pool`: the
//! manager takes these, never the other way round.

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use crate::autoscaling::{LifecycleAction, Transition};
use crate::ec2::InstanceState;

pub const STATE_CHANGE: &str = "EC2 Instance State-change Notification";
pub const SCHEDULED: &str = "Scheduled Event";
pub const LAUNCH_ACTION: &str = "EC2 Instance-launch Lifecycle Action";
pub const TERMINATE_ACTION: &str = "EC2 Instance-terminate Lifecycle Action";
pub const POOL_RESOURCE_TYPE: &str = "Custom::NetworkInterfacePool";
/// EC2's two-minute notice before it reclaims a Spot instance [EC2-SPOT].
pub const SPOT_WARNING: &str = "EC2 Spot Instance Interruption Warning";
/// EC2's notice that a Spot instance is at elevated risk of interruption;
/// Capacity Rebalancing launches its replacement on it [EC2-REBAL].
pub const REBALANCE: &str = "EC2 Instance Rebalance Recommendation";

/// An input, parsed at the edge.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A CloudFormation request (of any resource type: all are answered).
    CustomResource(Value),
    /// A pool declared through Terraform's, OpenTofu's or Pulumi's
    /// `aws_lambda_invocation` with lifecycle scope `CRUD` [TF-INV].
    Invocation(Invocation),
    StateChange(StateChange),
    /// EC2 warned that an instance is due to leave (R28).
    Warning(Warning),
    /// An Auto Scaling lifecycle action (of any hook: ours are told apart
    /// by name, R20).
    LifecycleAction(LifecycleEvent),
    Scheduled,
    /// A known kind whose body is not what it should be: a retry cannot fix it.
    Malformed {
        kind: &'static str,
        error: String,
    },
    /// Anything else.
    Unknown {
        description: String,
    },
}

/// A synchronous invocation that declares a pool: the caller's input (the
/// pool's properties) and what Terraform adds to it under its
/// `terraform_key` [TF-INV].
#[derive(Clone, Debug, PartialEq)]
pub struct Invocation {
    pub action: InvocationAction,
    /// The properties, without the caller's key.
    pub input: Value,
    /// The properties before: an update's old input, a delete's current one.
    pub prev_input: Option<Value>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InvocationAction {
    Create,
    Update,
    Delete,
}

/// An instance state change, as the event tells it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateChange {
    pub instance_id: String,
    pub state: InstanceState,
    /// When EventBridge saw it, in epoch milliseconds.
    pub time: Option<u64>,
}

/// A warning from EC2 that an instance is due to leave (R28).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    pub instance_id: String,
    /// `spot-interruption` or `rebalance-recommendation`.
    pub kind: &'static str,
    /// When EventBridge saw it, in epoch milliseconds.
    pub time: Option<u64>,
}

/// The lifecycle action an event named: completed by its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Given {
    pub action: LifecycleAction,
    pub transition: Transition,
    /// The lifecycle state the action holds the instance in, as the event's
    /// origin and destination tell (for a read that lags behind it).
    pub wait_state: &'static str,
}

/// A lifecycle action as the event tells it [ASG-EV].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LifecycleEvent {
    pub given: Given,
}

impl LifecycleEvent {
    /// A launch into the warm pool (`Destination` `WarmPool`).
    pub fn into_warm_pool(&self) -> bool {
        self.given.transition == Transition::Launching
            && self.given.wait_state == WARMED_PENDING_WAIT
    }
}

const WARMED_PENDING_WAIT: &str = "Warmed:Pending:Wait";

/// The lifecycle state an action holds its instance in, from its transition,
/// origin and destination [ASG-WPEV]: into the warm pool (a launch, or a
/// scale-in that returns the instance) `Warmed:Pending:Wait`; out of the
/// warm pool to be terminated `Warmed:Terminating:Wait` (its fields are a
/// guess); else `Pending:Wait` or `Terminating:Wait`.
fn wait_state(
    transition: Transition,
    origin: Option<&str>,
    destination: Option<&str>,
) -> &'static str {
    const WARM: Option<&str> = Some("WarmPool");
    match (transition, origin, destination) {
        (_, _, WARM) => WARMED_PENDING_WAIT,
        (Transition::Launching, _, _) => "Pending:Wait",
        (Transition::Terminating, WARM, _) => "Warmed:Terminating:Wait",
        (Transition::Terminating, _, _) => "Terminating:Wait",
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct LifecycleDetail {
    lifecycle_action_token: String,
    auto_scaling_group_name: String,
    lifecycle_hook_name: String,
    #[serde(rename = "EC2InstanceId")]
    instance_id: String,
    lifecycle_transition: String,
    #[serde(default)]
    origin: Option<String>,
    #[serde(default)]
    destination: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct StateDetail {
    instance_id: String,
    state: String,
}

impl Event {
    pub fn parse(input: &Value) -> Self {
        // Any CloudFormation request is answered, whatever its type (C9).
        if input.get("RequestType").is_some() && input.get("ResponseURL").is_some() {
            return Self::CustomResource(input.clone());
        }
        if let Some(invocation) = invocation(input) {
            return invocation;
        }
        let Ok(envelope) = serde_json::from_value::<EventBridgeEvent>(input.clone()) else {
            return Self::Unknown {
                description: describe(input),
            };
        };
        match (envelope.source.as_str(), envelope.detail_type.as_str()) {
            ("aws.ec2", STATE_CHANGE) => {
                let time = envelope
                    .time
                    .and_then(|t| u64::try_from(t.timestamp_millis()).ok());
                state_change(envelope.detail, time)
            }
            ("aws.ec2", SPOT_WARNING | REBALANCE) => {
                let time = envelope
                    .time
                    .and_then(|t| u64::try_from(t.timestamp_millis()).ok());
                let spot = envelope.detail_type == SPOT_WARNING;
                warning(spot, envelope.detail, time)
            }
            ("aws.autoscaling", LAUNCH_ACTION) => {
                lifecycle_action(LAUNCH_ACTION, Transition::Launching, envelope.detail)
            }
            ("aws.autoscaling", TERMINATE_ACTION) => {
                lifecycle_action(TERMINATE_ACTION, Transition::Terminating, envelope.detail)
            }
            ("aws.events", SCHEDULED) => Self::Scheduled,
            (source, detail_type) => Self::Unknown {
                description: format!("{detail_type:?} from {source:?}"),
            },
        }
    }
}

/// The kind of a malformed invocation: its caller waits for the answer,
/// so it fails (C15).
pub const INVOCATION: &str = "pool declaration by invocation";

/// Terraform's shape [TF-INV]: an object that is no event (no `source`)
/// with one key (`tf` by default, the caller's `terraform_key`) holding
/// `action` and `prev_input`. One with a `Name` but no such key was sent
/// with lifecycle scope `CREATE_ONLY`: malformed, as its destroy would
/// never reach the pool. `None`: not an invocation.
fn invocation(input: &Value) -> Option<Event> {
    let object = input.as_object().filter(|o| !o.contains_key("source"))?;
    let malformed = |error: String| {
        Some(Event::Malformed {
            kind: INVOCATION,
            error,
        })
    };
    let lifecycle = object.iter().find(|(_, v)| {
        v.as_object()
            .is_some_and(|l| l.contains_key("action") && l.contains_key("prev_input"))
    });
    let Some((key, lifecycle)) = lifecycle else {
        return match object.get("Name").is_some_and(Value::is_string) {
            true => malformed(
                "no lifecycle key (tf: action, prev_input): declare the pool with \
                 lifecycle_scope = \"CRUD\", so that its destroy deletes it"
                    .into(),
            ),
            false => None,
        };
    };
    let action = match lifecycle["action"].as_str() {
        Some("create") => InvocationAction::Create,
        Some("update") => InvocationAction::Update,
        Some("delete") => InvocationAction::Delete,
        other => {
            return malformed(format!(
                "{key}.action: {other:?} is not create, update or delete"
            ))
        }
    };
    let mut properties = object.clone();
    properties.remove(key);
    let prev_input = Some(lifecycle["prev_input"].clone()).filter(|p| !p.is_null());
    Some(Event::Invocation(Invocation {
        action,
        input: Value::Object(properties),
        prev_input,
    }))
}

fn state_change(detail: Value, time: Option<u64>) -> Event {
    let malformed = |error: String| Event::Malformed {
        kind: STATE_CHANGE,
        error,
    };
    match serde_json::from_value::<StateDetail>(detail) {
        Ok(d) => match InstanceState::parse(&d.state) {
            Some(state) => Event::StateChange(StateChange {
                instance_id: d.instance_id,
                state,
                time,
            }),
            None => malformed(format!("unknown state {:?}", d.state)),
        },
        Err(e) => malformed(format!("detail: {e}")),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct WarningDetail {
    instance_id: String,
}

fn warning(spot: bool, detail: Value, time: Option<u64>) -> Event {
    let (detail_type, kind) = match spot {
        true => (SPOT_WARNING, "spot-interruption"),
        false => (REBALANCE, "rebalance-recommendation"),
    };
    match serde_json::from_value::<WarningDetail>(detail) {
        Ok(d) => Event::Warning(Warning {
            instance_id: d.instance_id,
            kind,
            time,
        }),
        Err(e) => Event::Malformed {
            kind: detail_type,
            error: format!("detail: {e}"),
        },
    }
}

fn lifecycle_action(kind: &'static str, expected: Transition, detail: Value) -> Event {
    let malformed = |error: String| Event::Malformed { kind, error };
    let d = match serde_json::from_value::<LifecycleDetail>(detail) {
        Ok(d) => d,
        Err(e) => return malformed(format!("detail: {e}")),
    };
    let Some(transition) = Transition::parse(&d.lifecycle_transition) else {
        return malformed(format!("unknown transition {:?}", d.lifecycle_transition));
    };
    if transition != expected {
        return malformed(format!(
            "transition {:?} in a {kind:?}",
            d.lifecycle_transition
        ));
    }
    let wait_state = wait_state(transition, d.origin.as_deref(), d.destination.as_deref());
    Event::LifecycleAction(LifecycleEvent {
        given: Given {
            action: LifecycleAction {
                group: d.auto_scaling_group_name,
                hook: d.lifecycle_hook_name,
                instance_id: d.instance_id,
                token: Some(d.lifecycle_action_token),
            },
            transition,
            wait_state,
        },
    })
}

/// A short description of an unrecognised input for the log (its keys only:
/// a payload may carry secrets).
fn describe(input: &Value) -> String {
    match input {
        Value::Object(map) => {
            let keys: Vec<&str> = map.keys().map(String::as_str).take(10).collect();
            format!("object with keys {keys:?}")
        }
        other => format!("JSON {}", json_type(other)),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
