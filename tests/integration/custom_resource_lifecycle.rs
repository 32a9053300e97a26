//! `Custom::NetworkInterfacePool` through CloudFormation's whole lifecycle
//! and against a hostile stack author (docs/design.md, C9-C13), on the
//! strict model.

use std::time::Duration;

use serde_json::json;

use crate::support::cfn::{answer, delete, failure, request, STACK_ID};
use crate::support::listener::Listener;
use crate::support::world::{deliver_ok, StrictWorld};

/// C9: CDK's default type, or a typo, is answered rather than left to time
/// out: FAILED naming the type for Create and Update, SUCCESS for Delete.
#[tokio::test]
async fn every_request_of_a_foreign_resource_type_is_answered() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a1"]});
    for kind in ["Create", "Update", "Delete"] {
        let mut r = request(kind, &cfn.url, props.clone());
        r["ResourceType"] = "AWS::CloudFormation::CustomResource".into();
        if kind != "Create" {
            r["PhysicalResourceId"] = "pool-0123".into();
        }
        let body = answer(&w, &cfn, &r).await;
        match kind {
            "Delete" => assert_eq!(body["Status"], "SUCCESS", "{body}"),
            _ => assert!(
                failure(&body).contains("AWS::CloudFormation::CustomResource"),
                "{body}"
            ),
        }
    }
    assert!(w.0.writes().is_empty(), "nothing was touched");
}

/// C5: a request whose fields have unexpected types is still answered.
#[tokio::test]
async fn a_request_with_fields_of_unexpected_types_is_still_answered() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let mut r = request("Create", &cfn.url, json!({}));
    r["StackId"] = json!(12);
    r["LogicalResourceId"] = json!(["Pool"]);
    r["ResourceProperties"] = json!("not an object");

    deliver_ok(&w, &r).await;

    let puts = cfn.requests();
    assert_eq!(puts.len(), 1, "one answer");
    let body = puts[0].json();
    assert_eq!(body["Status"], "FAILED");
    assert_eq!(body["StackId"], "12", "echoed as CloudFormation sent it");
}

/// C8: a redirect is never followed: nothing reaches its target.
#[tokio::test]
async fn a_response_url_that_redirects_sends_nothing_to_the_redirects_target() {
    let w = StrictWorld::new();
    let target = Listener::start().await;
    let redirector = Listener::redirecting_to(&target.url).await;
    let r = request("Delete", &redirector.url, json!({"Name": "web"}));

    let handled = deliver_ok(&w, &r).await;

    assert_eq!(redirector.requests().len(), 1);
    assert!(target.requests().is_empty(), "the redirect was followed");
    let note = handled.outcome.note.unwrap_or_default();
    assert!(note.contains("307"), "{note}");
}

/// C5: echoed fields of 10 kB: still exactly one answer, of at most 4096
/// bytes, in bounded time.
#[tokio::test]
async fn echoed_fields_of_10_kb_get_one_answer_that_fits() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let mut r = request("Create", &cfn.url, json!({"Name": "web"}));
    r["StackId"] = format!("{STACK_ID}{}", "x".repeat(10_000)).into();
    r["RequestId"] = "r".repeat(10_000).into();

    let handled = tokio::time::timeout(Duration::from_secs(20), deliver_ok(&w, &r)).await;

    assert!(handled.is_ok(), "the answer took too long");
    let puts = cfn.requests();
    assert_eq!(puts.len(), 1);
    assert!(puts[0].body.len() <= 4096, "{} bytes", puts[0].body.len());
}

/// C4: a Delete with a physical id CloudFormation made up (after a
/// cancelled Create) also removes what the pool's own id owns.
#[tokio::test]
async fn a_delete_with_a_made_up_physical_id_removes_what_the_create_made() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let props = json!({"Name": "web", "SubnetIds": ["subnet-a1", "subnet-b1"]});
    let created = answer(&w, &cfn, &request("Create", &cfn.url, props.clone())).await;
    assert_eq!(created["Status"], "SUCCESS", "{created}");

    let made_up = "demo-Pool-1ABCDEF2GHIJ";
    let body = answer(&w, &cfn, &delete(&cfn.url, made_up, props)).await;

    assert_eq!(body["Status"], "SUCCESS", "{body}");
    let left: Vec<_> =
        w.0.interfaces()
            .into_iter()
            .filter(|i| {
                i.tags
                    .keys()
                    .any(|k| k.starts_with("network-interface-manager"))
            })
            .collect();
    assert!(left.is_empty(), "{left:?}");
}
