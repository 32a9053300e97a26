//! The lifecycle action events the model sends.

use network_interface_manager::autoscaling::Transition;
use serde_json::Value;

/// The documented lifecycle action event [ASG-EV], sent now: `names` are
/// the group, the hook and the instance.
pub(super) fn event(
    token: &str,
    (group, hook, instance): (&str, &str, &str),
    transition: Transition,
    origin: &str,
    destination: &str,
) -> Value {
    let kind = match transition {
        Transition::Launching => "EC2 Instance-launch Lifecycle Action",
        Transition::Terminating => "EC2 Instance-terminate Lifecycle Action",
    };
    serde_json::json!({
        "version": "0",
        "id": format!("event-{token}"),
        "detail-type": kind,
        "source": "aws.autoscaling",
        "account": "123456789012",
        "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": "us-east-1",
        "resources": [format!("arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:1:autoScalingGroupName/{group}")],
        "detail": {
            "LifecycleActionToken": token,
            "AutoScalingGroupName": group,
            "LifecycleHookName": hook,
            "EC2InstanceId": instance,
            "LifecycleTransition": transition.as_str(),
            "Origin": origin,
            "Destination": destination,
        }
    })
}
