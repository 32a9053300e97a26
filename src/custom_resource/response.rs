//! The answer to CloudFormation: one PUT of a JSON body of at most 4096 bytes
//! to the presigned ResponseURL, with an empty Content-Type (C5, C8).

use std::net::IpAddr;
use std::time::Duration;

use reqwest::header::CONTENT_TYPE;
use reqwest::Url;
use serde::Serialize;

use crate::deadline::{Backoff, Deadline};

/// CloudFormation refuses larger bodies ("Response object is too long").
pub const MAX_BODY: usize = 4096;
/// An echoed field longer than this is not CloudFormation's (ARNs, UUIDs and
/// logical ids are far shorter; a physical id is at most 1 KB): it is cut,
/// so that every body fits.
const MAX_ECHO: usize = 512;
/// The buckets CloudFormation's presigned response URLs point at.
const RESPONSE_BUCKET: &str = "cloudformation-custom-resource-response-";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Status {
    Success,
    Failed,
}

/// The values `Fn::GetAtt` reads; lists in the same order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PoolData {
    pub name: String,
    pub network_interface_ids: Vec<String>,
    pub private_ip_addresses: Vec<String>,
    /// Each member's ordinal, 1-255, stable for the life of its slot (C16).
    pub ordinals: Vec<String>,
    /// Each member's public address (empty where it has none), when the
    /// pool gives some (C14).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub public_ip_addresses: Vec<String>,
    /// Their Elastic IPs' allocation ids, in the same order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allocation_ids: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    pub no_echo: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<PoolData>,
}

impl Response {
    /// The JSON body, `Reason` cut so that it fits in `MAX_BODY` bytes,
    /// whatever the request echoed.
    pub fn body(&self) -> String {
        let mut response = self.clone();
        for echoed in [
            &mut response.stack_id,
            &mut response.request_id,
            &mut response.logical_resource_id,
        ] {
            cut(echoed, MAX_ECHO);
        }
        cut(&mut response.physical_resource_id, 2 * MAX_ECHO);
        let serialise = |r: &Response| serde_json::to_string(r).expect("a response serialises");
        let over = |r: &Response| serialise(r).len().saturating_sub(MAX_BODY);
        if over(&response) > 0 && response.reason.is_empty() {
            // Only the data can be too long; it is bounded, but stay safe.
            response.data = None;
            response.status = Status::Failed;
            response.reason = "the response data is too long".into();
        }
        let excess = over(&response);
        if excess > 0 {
            // With the echoed fields cut, the reason alone can make up for it.
            let keep = response.reason.len().saturating_sub(excess + 3);
            cut(&mut response.reason, keep);
            response.reason.push_str("...");
        }
        serialise(&response)
    }
}

/// Cuts `text` to at most `max` bytes, on a character boundary.
fn cut(text: &mut String, max: usize) {
    if text.len() > max {
        let end = (0..=max).rev().find(|&i| text.is_char_boundary(i));
        text.truncate(end.unwrap_or(0));
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error("refused ResponseURL {0}: only https on amazonaws.com, or loopback")]
    Refused(String),
    #[error("the answer was not delivered: {0}")]
    Delivery(String),
}

/// Checks the URL (C8): CloudFormation's response bucket over `https`, in
/// either S3 addressing style, or a loopback address for local runs. Errors
/// carry the URL without its query string, which holds the signature.
pub fn check_url(url: &str) -> Result<Url, SendError> {
    let refused = || SendError::Refused(url.split('?').next().unwrap_or_default().to_string());
    let parsed = Url::parse(url).map_err(|_| refused())?;
    let host = parsed.host_str().unwrap_or_default();
    let loopback = host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    let aws = host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn");
    let s3 = host.starts_with("s3.") || host.starts_with("s3-");
    let first_segment = parsed.path().trim_start_matches('/');
    let bucket =
        host.starts_with(RESPONSE_BUCKET) || (s3 && first_segment.starts_with(RESPONSE_BUCKET));
    match (parsed.scheme(), aws && bucket, loopback) {
        ("https", true, _) | ("https" | "http", _, true) => Ok(parsed),
        _ => Err(refused()),
    }
}

/// PUTs `body`, retrying connection errors and 5xx with backoff until the
/// deadline.
pub async fn send(
    http: &reqwest::Client,
    url: &str,
    body: String,
    deadline: Deadline,
) -> Result<(), SendError> {
    let url = check_url(url)?;
    let backoff = Backoff {
        first: Duration::from_millis(200),
        max: Duration::from_secs(2),
    };
    // Each attempt: delivered, or the problem worth another try.
    let attempt = || async {
        let answer = http
            .put(url.clone())
            .header(CONTENT_TYPE, "")
            .body(body.clone())
            .timeout(deadline.remaining().min(Duration::from_secs(10)))
            .send()
            .await;
        let problem = match answer {
            Ok(r) if r.status().is_success() => return Ok(Ok(())),
            Ok(r) if !r.status().is_server_error() => {
                return Err(SendError::Delivery(format!("HTTP {}", r.status())));
            }
            Ok(r) => format!("HTTP {}", r.status()),
            Err(e) => e.without_url().to_string(),
        };
        tracing::warn!(%problem, "answer to CloudFormation not delivered; retrying");
        Ok(Err(problem))
    };
    let (last, _) = deadline.read_until(backoff, attempt, Result::is_ok).await?;
    last.map_err(SendError::Delivery)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(reason: String) -> Response {
        Response {
            status: Status::Failed,
            reason,
            physical_resource_id: "pool-1".into(),
            stack_id: "arn:aws:cloudformation:eu-west-1:1:stack/s/1".into(),
            request_id: "r".into(),
            logical_resource_id: "Pool".into(),
            no_echo: false,
            data: None,
        }
    }

    #[test]
    fn echoed_fields_of_any_size_still_give_a_body_that_fits() {
        let mut huge = response("why".into());
        huge.stack_id = "s".repeat(10_000);
        huge.request_id = "r".repeat(10_000);
        huge.logical_resource_id = "l".repeat(10_000);
        huge.physical_resource_id = "p".repeat(10_000);
        let body = huge.body();
        assert!(body.len() <= MAX_BODY, "{}", body.len());
        let normal = response("why".into());
        assert_eq!(normal.body(), serde_json::to_string(&normal).unwrap());
    }

    /// CloudFormation compares the physical id it gets back with the one it
    /// holds (a different one means replacement): one of up to 1 KB, its
    /// documented limit, goes back whole.
    #[test]
    fn a_physical_id_of_a_kilobyte_is_echoed_whole() {
        let mut long = response("why".into());
        long.physical_resource_id = "p".repeat(1024);
        let body: serde_json::Value = serde_json::from_str(&long.body()).unwrap();
        assert_eq!(body["PhysicalResourceId"], long.physical_resource_id);
    }

    /// Data that cannot fit turns the answer into a failure that says why,
    /// rather than a body CloudFormation refuses.
    #[test]
    fn data_too_long_to_answer_fails_with_a_clear_reason() {
        let mut success = response(String::new());
        success.status = Status::Success;
        success.data = Some(PoolData {
            name: "pool".into(),
            network_interface_ids: (0..300).map(|i| format!("eni-{i:017x}")).collect(),
            ..PoolData::default()
        });
        let body = success.body();
        assert!(body.len() <= MAX_BODY, "{}", body.len());
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(body["Status"], "FAILED");
        assert_eq!(body["Reason"], "the response data is too long");
        assert!(body.get("Data").is_none());
    }

    /// C6, C14: the largest pools answer whole: 64 members, or 32 with
    /// public addresses, ids and addresses at their longest.
    #[test]
    fn the_largest_pools_answer_whole() {
        let lists = |n: usize, public: bool| PoolData {
            name: "p".repeat(255),
            network_interface_ids: vec!["eni-0123456789abcdef0".into(); n],
            private_ip_addresses: vec!["100.100.100.100".into(); n],
            ordinals: (1..=n).map(|o| o.to_string()).collect(),
            public_ip_addresses: vec!["203.203.203.203".into(); if public { n } else { 0 }],
            allocation_ids: vec!["eipalloc-0123456789abcdef0".into(); if public { n } else { 0 }],
        };
        for data in [lists(64, false), lists(32, true)] {
            let mut success = response(String::new());
            success.status = Status::Success;
            success.data = Some(data.clone());
            let body: serde_json::Value = serde_json::from_str(&success.body()).unwrap();
            assert_eq!(
                body["Status"],
                "SUCCESS",
                "{} members",
                data.network_interface_ids.len()
            );
        }
    }

    #[test]
    fn a_long_reason_is_cut_to_fit() {
        let body = response("é".repeat(5000)).body();
        assert!(body.len() <= MAX_BODY, "{}", body.len());
        assert!(body.len() > MAX_BODY - 8, "cut no more than needed");
        assert!(body.contains("..."));
    }

    #[test]
    fn only_aws_https_and_loopback_urls_are_used() {
        let ok = [
            "https://cloudformation-custom-resource-response-euwest1.s3-eu-west-1.amazonaws.com/x?sig=1",
            "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/arn%3Ax?sig=1",
            "https://s3.cn-north-1.amazonaws.com.cn/cloudformation-custom-resource-response-cnnorth1/x",
            "http://127.0.0.1:8080/r",
            "http://localhost:1/r",
            "http://[::1]:1/r",
        ];
        for url in ok {
            assert!(check_url(url).is_ok(), "{url}");
        }
        let refused = [
            "http://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/x",
            "https://my-bucket.s3.amazonaws.com/x",
            "https://s3.amazonaws.com/my-bucket/cloudformation-custom-resource-response-x",
            "https://lambda.us-east-1.amazonaws.com/2015-03-31/functions/f/invocations",
            "https://cloudformation-custom-resource-response-x.evil.example/x",
            "https://amazonaws.com.evil.example/x",
            "https://example.com/x?X-Amz-Signature=secret",
            "ftp://127.0.0.1/x",
            "not a url",
        ];
        for url in refused {
            let e = check_url(url).expect_err(url).to_string();
            assert!(
                !e.contains("secret"),
                "the query string is never shown: {e}"
            );
        }
    }
}
