//! The scheduled sync at scale on moto (R10), and its dry run.

use network_interface_manager::aws::total_calls;
use network_interface_manager::ec2::sdk::SdkEc2;

use network_interface_manager::pool::Settings;

use crate::support::world::{deliver_ok, deliver_with, fast, fixture, MotoWorld, World};

const POOLS: usize = 20;
const PER_POOL: i32 = 10;
const PAGE_SIZE: i32 = 5;

/// Scenario 9: 20 pools, 200 instances, 200 members; one pass converges, a
/// second plans nothing, and the read phase costs exactly its pages.
#[tokio::test]
async fn sync_of_20_pools_converges_in_one_pass_and_reads_by_pages() {
    let mut w = MotoWorld::new().await;
    w.adapter = SdkEc2::new(w.moto.client()).with_page_size(PAGE_SIZE);
    let mut instances = Vec::new();
    for p in 0..POOLS {
        let (pool, subnet) = (format!("pool-{p}"), ["a1", "b1"][p % 2]);
        for _ in 0..PER_POOL {
            w.add_member(&pool, subnet).await;
        }
        // One reservation per pool: moto pages DescribeInstances by reservation.
        instances.extend(w.launch_many(Some(&pool), subnet, PER_POOL).await);
    }

    // An account whose limits AWS raised twentyfold (R23): moto has no
    // buckets, and 200 attaches at the default share would take a minute.
    let raised = Settings {
        ec2_share: 20.0,
        ..fast()
    };
    let first = deliver_with(&w, raised, &fixture("scheduled-event.json")).await;
    assert!(!first.should_retry(), "{first:?}");

    assert_eq!(first.outcome.report.attached.len(), instances.len());
    assert!(first.outcome.report.failed.is_empty() && first.outcome.report.shortages.is_empty());
    for instance in &instances {
        assert_eq!(
            w.members_of(instance).await.len(),
            1,
            "{instance} holds one"
        );
    }
    // Reservations: 20, in pages of 5. moto answers DescribeNetworkInterfaces
    // in one page whatever MaxResults says.
    let instance_pages = POOLS.div_ceil(PAGE_SIZE as usize) as u64;
    assert_eq!(first.ec2_calls["DescribeInstances"], instance_pages);
    assert_eq!(first.ec2_calls["DescribeNetworkInterfaces"], 1);
    assert_eq!(
        first.ec2_calls["AttachNetworkInterface"],
        instances.len() as u64
    );

    let second = deliver_ok(&w, &fixture("scheduled-event.json")).await;
    assert!(second.outcome.report.attached.is_empty());
    assert!(second.outcome.report.detached.is_empty());
    assert_eq!(
        total_calls(&second.ec2_calls),
        instance_pages + 1,
        "reads only"
    );
}
