//! Throttling on moto through the real SDK, behind a proxy that answers
//! `RequestLimitExceeded` (at random, or as EC2's buckets would): the SDK's
//! retries and the pacing absorb it, and the metrics count it (R18, R23).

use std::time::Duration;

use network_interface_manager::deadline::Deadline;
use network_interface_manager::ec2::sdk::SdkEc2;
use network_interface_manager::ec2::InstanceState::*;
use network_interface_manager::handler::{handle, Context};

use crate::support::emf::{find, measured};
use crate::support::moto::client_for;
use crate::support::strict::Buckets;
use crate::support::throttle::ThrottlingProxy;
use crate::support::world::{deliver_ok, done, fast, fixture, state_event, MotoWorld, World};

/// Scenario 8: 30 % of requests throttled before they reach moto; the SDK's
/// retry absorbs them and the outcome is the one without throttling.
#[tokio::test]
async fn throttling_on_30_percent_of_calls_changes_only_the_time() {
    let mut w = MotoWorld::new().await;
    let proxy = ThrottlingProxy::start(&w.moto.endpoint).await;
    w.adapter = SdkEc2::new(client_for(&proxy.endpoint));
    let member = w.add_member("db", "a1").await;
    let old = w.launch(Some("db"), "a1").await;
    deliver_ok(&w, &state_event(&old, Running)).await;
    let new = w.launch(Some("db"), "a2").await;
    deliver_ok(&w, &state_event(&new, Running)).await;
    w.set_state(&old, Terminated).await;
    deliver_ok(&w, &state_event(&old, Terminated)).await;

    assert_eq!(w.holder(&member).await, Some((new, 1)));
    let (requests, throttled) = proxy.counts();
    assert!(
        throttled > 0,
        "{throttled} of {requests} requests throttled"
    );
}

/// R23 on moto through the real SDK, behind a proxy that throttles as
/// EC2's buckets would (ten times EC2's, as the pacing share): a sync of
/// 300 instances converges with few throttled calls.
#[tokio::test]
async fn a_paced_sync_on_moto_converges_with_few_throttled_calls() {
    let mut w = MotoWorld::new().await;
    let proxy = ThrottlingProxy::with_buckets(&w.moto.endpoint, Buckets::scaled(10.0)).await;
    w.adapter = SdkEc2::new(client_for(&proxy.endpoint));
    let mut instances = Vec::new();
    for subnet in ["a1", "b1", "a2"] {
        for _ in 0..100 {
            w.add_member("web", subnet).await;
        }
        instances.extend(w.launch_many(Some("web"), subnet, 100).await);
    }

    let ctx = Context::new(w.ec2(), fast());
    let schedule = fixture("scheduled-event.json");
    let handled = done(handle(&ctx, &schedule, Deadline::after(Duration::from_secs(60))).await);

    assert_eq!(handled.outcome.report.attached.len(), instances.len());
    let (requests, throttled) = proxy.counts();
    println!("{requests} requests, {throttled} throttled");
    assert!(
        throttled * 50 <= requests,
        "{throttled} throttled of {requests}"
    );
}

/// R18: every attempt EC2 throttled is counted, the SDK's retries included.
#[tokio::test]
async fn throttling_the_sdk_retried_is_counted() {
    let mut w = MotoWorld::new().await;
    let proxy = ThrottlingProxy::start(&w.moto.endpoint).await;
    w.adapter = SdkEc2::new(client_for(&proxy.endpoint));
    w.add_member("web", "a1").await;
    for _ in 0..4 {
        w.launch(Some("web"), "a1").await;
    }

    let mut throttled = 0;
    for _ in 0..5 {
        let docs = measured(&w, &fixture("scheduled-event.json")).await;
        throttled += find(&docs, &[], "Ec2Throttled")["Ec2Throttled"]
            .as_u64()
            .unwrap();
    }

    let (_, refused) = proxy.counts();
    assert!(refused > 0, "the proxy throttled nothing");
    assert_eq!(throttled, refused, "every throttled attempt counted");
}
