//! CloudFormation as the tests play it: requests as it sends them, and the
//! checks every answer must pass (C5).

use std::time::Duration;

use network_interface_manager::deadline::Deadline;
use network_interface_manager::handler::{handle, Context, Handled};
use serde_json::{json, Value};

use super::listener::Listener;
use super::stacks::StrictStacks;
use super::world::{deliver_ok, fast, fixture, StrictWorld, World};

pub const STACK_ID: &str =
    "arn:aws:cloudformation:us-east-1:123456789012:stack/demo/5b9a5d40-0000-11ef-8f2e-0a1b2c3d4e5f";

/// A request as CloudFormation sends it: scalars as strings.
pub fn request(kind: &str, url: &str, properties: Value) -> Value {
    let mut properties = properties;
    properties["ServiceToken"] = "arn:aws:lambda:us-east-1:123456789012:function:nim".into();
    json!({
        "RequestType": kind,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:nim",
        "ResponseURL": url,
        "StackId": STACK_ID,
        "RequestId": format!("{kind}-{}", rand_suffix()),
        "ResourceType": "Custom::NetworkInterfacePool",
        "LogicalResourceId": "Pool",
        "ResourceProperties": properties,
    })
}

pub fn update(url: &str, physical_id: &str, new: Value, old: Value) -> Value {
    let mut r = request("Update", url, new);
    r["PhysicalResourceId"] = physical_id.into();
    r["OldResourceProperties"] = old;
    r
}

pub fn delete(url: &str, physical_id: &str, properties: Value) -> Value {
    let mut r = request("Delete", url, properties);
    r["PhysicalResourceId"] = physical_id.into();
    r
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// Sends `request` through the handler and returns the one answer it PUT,
/// after checking it as CloudFormation would.
pub async fn answer(w: &dyn World, listener: &Listener, request: &Value) -> Value {
    let before = listener.requests().len();
    let handled = deliver_ok(w, request).await;
    let requests = listener.requests();
    assert_eq!(
        requests.len(),
        before + 1,
        "exactly one answer: {:?}",
        handled.outcome.note
    );
    let note = handled.outcome.note.as_deref().unwrap_or_default();
    assert!(
        note.starts_with("answered "),
        "known as delivered: {note:?}"
    );
    let put = requests.last().unwrap();
    assert_eq!(put.method, "PUT");
    let content_type = put.headers.get("content-type").map(String::as_str);
    assert!(
        matches!(content_type, None | Some("")),
        "content type {content_type:?}"
    );
    assert!(put.body.len() <= 4096, "body of {} bytes", put.body.len());
    let body = put.json();
    for echoed in ["StackId", "RequestId", "LogicalResourceId"] {
        assert_eq!(body[echoed], request[echoed], "{echoed} echoed");
    }
    let physical = body["PhysicalResourceId"].as_str().unwrap_or_default();
    assert!(!physical.is_empty(), "a physical id");
    if let Some(given) = request.get("PhysicalResourceId") {
        assert_eq!(
            body["PhysicalResourceId"], *given,
            "the physical id never changes"
        );
    }
    assert!(matches!(
        body["Status"].as_str(),
        Some("SUCCESS" | "FAILED")
    ));
    if body["Status"] == "FAILED" {
        assert!(
            !body["Reason"].as_str().unwrap_or_default().is_empty(),
            "a reason"
        );
    }
    body
}

/// The Reason of an answer that must be FAILED.
pub fn failure(body: &Value) -> &str {
    assert_eq!(body["Status"], "FAILED", "{body}");
    body["Reason"]
        .as_str()
        .expect("a FAILED answer has a Reason")
}

/// The schedule minutes later (every transition over, every read fresh),
/// with CloudFormation as `stacks` says.
pub async fn schedule(w: &StrictWorld, stacks: &StrictStacks) -> Handled {
    w.model.settle_reads();
    schedule_now(w, stacks, Duration::from_secs(30)).await
}

/// The schedule now, on reads as they lag, within `budget`.
pub async fn schedule_now(w: &StrictWorld, stacks: &StrictStacks, budget: Duration) -> Handled {
    let mut ctx = Context::new(w.ec2(), fast());
    ctx.stacks = Some(stacks);
    let handled = handle(
        &ctx,
        &fixture("scheduled-event.json"),
        Deadline::after(budget),
    )
    .await;
    assert!(
        handled.read_error.is_none(),
        "the schedule ran: {handled:?}"
    );
    handled
}

/// A pool declared on the strict model, as most stories begin: the world,
/// CloudFormation's listener and stacks, and the Create's answer.
pub struct Declared {
    pub w: StrictWorld,
    pub cfn: Listener,
    pub stacks: StrictStacks,
    pub created: Value,
}

impl Declared {
    /// A new world with a pool declared by `properties`; its Create succeeded.
    pub async fn create(properties: Value) -> Self {
        Self::create_in(StrictWorld::new(), properties).await
    }

    /// The same in `w`, set up before.
    pub async fn create_in(w: StrictWorld, properties: Value) -> Self {
        let cfn = Listener::start().await;
        let created = answer(&w, &cfn, &request("Create", &cfn.url, properties)).await;
        assert_eq!(created["Status"], "SUCCESS", "{created}");
        Self {
            w,
            cfn,
            stacks: StrictStacks::default(),
            created,
        }
    }

    pub fn physical_id(&self) -> &str {
        self.created["PhysicalResourceId"].as_str().unwrap()
    }

    /// The pool's interface ids, in the answer's order.
    pub fn members(&self) -> Vec<String> {
        let ids = self.created["Data"]["NetworkInterfaceIds"]
            .as_array()
            .unwrap();
        ids.iter()
            .map(|i| i.as_str().unwrap().to_string())
            .collect()
    }

    /// The answer to an Update from `old` to `new`.
    pub async fn update(&self, new: &Value, old: &Value) -> Value {
        let request = update(&self.cfn.url, self.physical_id(), new.clone(), old.clone());
        answer(&self.w, &self.cfn, &request).await
    }

    /// The answer to a Delete of the pool.
    pub async fn delete(&self, properties: Value) -> Value {
        let request = delete(&self.cfn.url, self.physical_id(), properties);
        answer(&self.w, &self.cfn, &request).await
    }

    /// The schedule minutes later (see `schedule`).
    pub async fn schedule(&self) -> Handled {
        schedule(&self.w, &self.stacks).await
    }
}
