//! What arrived: the three kinds of input told apart by their shape (docs/design.md).

use aws_lambda_events::event::eventbridge::EventBridgeEvent;
use serde::Deserialize;
use serde_json::Value;

use crate::ec2::InstanceState;
use crate::pool::StateChange;

pub const STATE_CHANGE: &str = "EC2 Instance State-change Notification";
pub const SCHEDULED: &str = "Scheduled Event";
pub const POOL_RESOURCE_TYPE: &str = "Custom::NetworkInterfacePool";

/// An input, parsed at the edge.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A CloudFormation request (of any resource type: all are answered).
    CustomResource(Value),
    StateChange(StateChange),
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
            ("aws.events", SCHEDULED) => Self::Scheduled,
            (source, detail_type) => Self::Unknown {
                description: format!("{detail_type:?} from {source:?}"),
            },
        }
    }
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
