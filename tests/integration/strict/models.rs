//! The strict EC2 model itself: the states and error codes the scenarios rely
//! on, and each fault switch.

use network_interface_manager::aws::{AwsError, ErrorKind, Missing};
use std::time::Duration;

use network_interface_manager::ec2::{
    AddressQuery, Ec2, InstanceState, InterfaceQuery, InterfaceStatus, NewAddress,
};

use crate::support::strict::{Faults, Op, StrictEc2};

fn code(result: Result<impl std::fmt::Debug, AwsError>) -> (String, ErrorKind) {
    let e = result.expect_err("the call should fail");
    (e.code, e.kind)
}

#[tokio::test]
async fn attach_and_detach_go_through_their_transient_states() {
    let ec2 = StrictEc2::with(Faults::calm());
    let eni = ec2.add_member("p", "subnet-a1");
    let instance = ec2.launch(Some("p"), "subnet-a1");
    ec2.faults.lock().unwrap().transition = Duration::from_millis(50);

    let attachment = ec2.attach(&eni, &instance, 1).await.unwrap();
    assert_eq!(ec2.status(&eni), InterfaceStatus::Attaching);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(ec2.status(&eni), InterfaceStatus::InUse);

    ec2.detach(&attachment).await.unwrap();
    // [ISS-INUSE]: in use, the attachment detaching, until EC2 is done.
    assert_eq!(ec2.status(&eni), InterfaceStatus::InUse);
    assert_eq!(ec2.holder(&eni), None, "leaving");
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(ec2.status(&eni), InterfaceStatus::Available);
    assert_eq!(ec2.holder(&eni), None);
}

#[tokio::test]
async fn attach_answers_the_real_error_codes() {
    let ec2 = StrictEc2::new();
    let eni = ec2.add_member("p", "subnet-a1");
    let other_az = ec2.add_member("p", "subnet-b1");
    let spare = ec2.add_member("p", "subnet-a1");
    let instance = ec2.launch(Some("p"), "subnet-a1");
    let second = ec2.launch(Some("p"), "subnet-a1");
    ec2.attach(&eni, &instance, 1).await.unwrap();

    let in_use = code(ec2.attach(&eni, &second, 1).await);
    assert_eq!(
        in_use,
        ("InvalidNetworkInterface.InUse".into(), ErrorKind::InUse)
    );
    let index = code(ec2.attach(&spare, &instance, 1).await);
    assert_eq!(
        index,
        ("InvalidParameterValue".into(), ErrorKind::DeviceIndexTaken)
    );
    let az = code(ec2.attach(&other_az, &second, 1).await);
    assert_eq!(az.1, ErrorKind::Other, "AZ mismatch is permanent: {az:?}");
    let no_instance = code(ec2.attach(&spare, "i-missing", 1).await);
    assert_eq!(
        no_instance,
        (
            "InvalidInstanceID.NotFound".into(),
            ErrorKind::NotFound(Missing::Instance)
        )
    );
    let no_eni = code(ec2.attach("eni-missing", &second, 1).await);
    assert_eq!(
        no_eni,
        (
            "InvalidNetworkInterfaceID.NotFound".into(),
            ErrorKind::NotFound(Missing::Interface)
        )
    );
    ec2.set_state(&second, InstanceState::ShuttingDown);
    let state = code(ec2.attach(&spare, &second, 1).await);
    assert_eq!(state.0, "IncorrectInstanceState");
}

#[tokio::test]
async fn detach_refuses_primaries_and_unknown_attachments() {
    let ec2 = StrictEc2::new();
    let instance = ec2.launch(Some("p"), "subnet-a1");
    let all = InterfaceQuery::pools(&[]);
    assert!(
        ec2.describe_interfaces(&all).await.unwrap().is_empty(),
        "primary is untagged"
    );
    let primary_attachment = ec2.attachment_of(&ec2.primary_of(&instance)).unwrap();
    let primary = code(ec2.detach(&primary_attachment).await);
    assert_eq!(primary.0, "OperationNotPermitted");
    let unknown = code(ec2.detach("eni-attach-missing").await);
    assert_eq!(
        unknown,
        (
            "InvalidAttachmentID.NotFound".into(),
            ErrorKind::NotFound(Missing::Attachment)
        )
    );
    assert_eq!(ec2.members_of(&instance), Vec::<String>::new());
}

#[tokio::test]
async fn fault_switches_fail_the_next_call_or_a_share_of_all() {
    let ec2 = StrictEc2::new();
    ec2.fail_next(
        Op::DescribeInterfaces,
        "InvalidNetworkInterface.InUse",
        "raced",
    );
    let q = InterfaceQuery::pools(&[]);
    assert_eq!(code(ec2.describe_interfaces(&q).await).1, ErrorKind::InUse);
    assert!(
        ec2.describe_interfaces(&q).await.is_ok(),
        "only the next call fails"
    );

    ec2.faults.lock().unwrap().throttle_percent = 30;
    let mut throttled = 0;
    for _ in 0..200 {
        if let Err(e) = ec2.describe_interfaces(&q).await {
            assert_eq!(
                (e.code.as_str(), e.kind),
                ("RequestLimitExceeded", ErrorKind::Throttled)
            );
            throttled += 1;
        }
    }
    assert!(
        (30..=90).contains(&throttled),
        "{throttled} of 200 throttled"
    );
}

#[tokio::test]
async fn termination_detaches_secondary_interfaces_after_a_while() {
    let ec2 = StrictEc2::with(Faults::calm());
    let eni = ec2.add_member("p", "subnet-a1");
    let instance = ec2.launch(Some("p"), "subnet-a1");
    ec2.attach(&eni, &instance, 1).await.unwrap();
    ec2.faults.lock().unwrap().termination_detach = Duration::from_millis(50);
    ec2.set_state(&instance, InstanceState::Terminated);
    assert_eq!(ec2.status(&eni), InterfaceStatus::InUse);
    let other = ec2.launch(Some("p"), "subnet-a1");
    let meanwhile = code(ec2.attach(&eni, &other, 1).await);
    assert_eq!(meanwhile.1, ErrorKind::InUse);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(ec2.status(&eni), InterfaceStatus::Available);
}

#[tokio::test]
async fn termination_deletes_what_was_to_go_with_the_instance() {
    let ec2 = StrictEc2::with(Faults::calm());
    let instance = ec2.launch(Some("p"), "subnet-a1");
    let kept = ec2.add_launch_interface(&instance, [], 1, 0, false);
    let doomed = ec2.add_launch_interface(&instance, [], 2, 0, true);
    ec2.set_state(&instance, InstanceState::Terminated);
    assert!(ec2.exists(&kept));
    assert!(!ec2.exists(&doomed));
}

#[tokio::test]
async fn reads_lag_behind_writes() {
    let ec2 = StrictEc2::with(Faults::calm());
    let eni = ec2.add_member("p", "subnet-a1");
    let instance = ec2.launch(Some("p"), "subnet-a1");
    ec2.faults.lock().unwrap().filter_lag = Duration::from_secs(60);
    ec2.faults.lock().unwrap().read_lag = Duration::from_secs(60);
    ec2.attach(&eni, &instance, 1).await.unwrap();

    // A read as far behind as the lag allows still shows the member free;
    // the attach itself saw the truth.
    let mut stale = 0;
    for _ in 0..20 {
        let members = ec2
            .describe_interfaces(&InterfaceQuery::pools(&[]))
            .await
            .unwrap();
        stale += usize::from(members[0].attachment.is_none());
    }
    assert!(stale > 0, "no read lagged");
    ec2.settle_reads();
    let members = ec2
        .describe_interfaces(&InterfaceQuery::pools(&[]))
        .await
        .unwrap();
    assert!(
        members[0].attachment.is_some(),
        "settled reads see the attach"
    );
}

#[tokio::test]
async fn new_interfaces_are_pending_at_first() {
    let ec2 = StrictEc2::with(Faults::calm());
    ec2.faults.lock().unwrap().create_pending = Duration::from_millis(50);
    let new = network_interface_manager::ec2::NewInterface {
        subnet_id: "subnet-a1".into(),
        private_ip: None,
        security_groups: vec![],
        description: String::new(),
        client_token: "t".into(),
        tags: Default::default(),
    };
    let created = ec2.create_interface(&new).await.unwrap();
    assert_eq!(created.status, InterfaceStatus::Pending);
    let instance = ec2.launch(Some("p"), "subnet-a1");
    assert_eq!(
        code(ec2.attach(&created.id, &instance, 1).await).0,
        "IncorrectState"
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(ec2.status(&created.id), InterfaceStatus::Available);
}

#[tokio::test]
async fn tag_calls_fail_the_whole_batch_when_one_id_is_gone() {
    let ec2 = StrictEc2::with(Faults::calm());
    let eni = ec2.add_member("p", "subnet-a1");
    let ids = [eni.clone(), "eni-gone".to_string()];
    let keys = [network_interface_manager::ec2::POOL_TAG.to_string()];
    let gone = code(ec2.delete_tags(&ids, &keys).await);
    assert_eq!(gone.1, ErrorKind::NotFound(Missing::Interface));
    let untouched = ec2
        .describe_interfaces(&InterfaceQuery::ids(&[eni]))
        .await
        .unwrap();
    assert!(untouched[0].pool().is_some(), "nothing changed");
}

#[tokio::test]
async fn an_instance_launched_now_reads_pending_for_a_while() {
    let ec2 = StrictEc2::with(Faults::calm());
    let instance = ec2.launch_booting(Some("p"), "subnet-a1", Duration::from_millis(50));
    let query = network_interface_manager::ec2::InstanceQuery::Ids(vec![instance.clone()]);
    let read = ec2.describe_instances(&query).await.unwrap();
    assert_eq!(read[0].state, InstanceState::Pending);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let read = ec2.describe_instances(&query).await.unwrap();
    assert_eq!(read[0].state, InstanceState::Running);
}

/// [EC2-EIP][EIP-GUIDE]: an Elastic IP is associated with one private
/// address, never moved while associated (`AllowReassociation` off, even to
/// where it is), displaces one already there, released only once
/// disassociated; it stays with its
/// interface while the interface moves between instances.
#[tokio::test]
async fn elastic_ips_stay_where_they_are_associated() {
    let ec2 = StrictEc2::with(Faults {
        role_conditions: false,
        ..Faults::calm()
    });
    let [first, second] = [0, 1].map(|_| ec2.add_member("p", "subnet-a1"));
    let ip = |eni: &str| {
        let found = ec2.interfaces().into_iter().find(|i| i.id == eni);
        found.unwrap().private_ip.unwrap()
    };
    let new = NewAddress {
        tags: [("k".to_string(), "v".to_string())].into(),
        public_ipv4_pool: None,
    };
    let address = ec2.allocate_address(&new).await.unwrap();
    let id = &address.allocation_id;

    let association = ec2
        .associate_address(id, &first, &ip(&first))
        .await
        .unwrap();
    for (eni, why) in [(&first, "where it is"), (&second, "elsewhere")] {
        let again = ec2.associate_address(id, eni, &ip(eni)).await;
        assert_eq!(code(again).1, ErrorKind::AlreadyAssociated, "{why}");
    }
    assert_eq!(code(ec2.release_address(id).await).1, ErrorKind::InUse);
    // [EC2-EIP-ASSOC]: the flag guards the address moved, not the target:
    // a second address at the same private address takes the place of the
    // first, which stays allocated, associated with nothing.
    let (other, at) = (ec2.allocate_address(&new).await.unwrap(), ip(&second));
    let taken = ec2.associate_address(&other.allocation_id, &second, &at);
    taken.await.unwrap();
    let displacing = ec2.allocate_address(&new).await.unwrap();
    let on_second = ec2.associate_address(&displacing.allocation_id, &second, &at);
    on_second.await.unwrap();
    let addresses = ec2.addresses();
    assert_eq!(addresses[&other.allocation_id].association, None);
    let now = addresses[&displacing.allocation_id].association.as_ref();
    assert_eq!(
        now.unwrap().network_interface_id.as_deref(),
        Some(second.as_str())
    );

    let instance = ec2.launch(Some("p"), "subnet-a1");
    let attachment = ec2.attach(&first, &instance, 1).await.unwrap();
    ec2.detach(&attachment).await.unwrap();
    let other = ec2.launch(Some("p"), "subnet-a1");
    ec2.attach(&first, &other, 1).await.unwrap();
    let read = ec2
        .describe_interfaces(&InterfaceQuery::ids(std::slice::from_ref(&first)))
        .await;
    assert_eq!(
        read.unwrap()[0].public_ip.as_deref(),
        Some(address.public_ip.as_str())
    );

    ec2.disassociate_address(&association).await.unwrap();
    ec2.release_address(id).await.unwrap();
    let gone = ec2.release_address(id).await;
    assert_eq!(code(gone).1, ErrorKind::NotFound(Missing::Address));
}

/// [EC2-EC]: a tag-filtered read of addresses lags behind an allocation, a
/// read by id less.
#[tokio::test]
async fn address_reads_lag_behind_allocations() {
    let ec2 = StrictEc2::new();
    {
        let mut f = ec2.faults.lock().unwrap();
        f.filter_lag_floor = Duration::from_secs(5);
        f.read_lag = Duration::ZERO;
    }
    let owner = network_interface_manager::ec2::OWNER_TAG;
    let tags = [(owner.to_string(), "pool-1".to_string())].into();
    let new = NewAddress {
        tags,
        public_ipv4_pool: None,
    };
    let address = ec2.allocate_address(&new).await.unwrap();

    let by_owner = ec2
        .describe_addresses(&AddressQuery::Owner("pool-1".into()))
        .await;
    assert!(by_owner.unwrap().is_empty(), "the filtered read lags");
    let by_id = AddressQuery::Ids(vec![address.allocation_id.clone()]);
    assert_eq!(ec2.describe_addresses(&by_id).await.unwrap().len(), 1);
}
