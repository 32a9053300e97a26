//! The strict EC2 model itself: the states and error codes the scenarios rely
//! on, and each fault switch.

use std::time::Duration;

use network_interface_manager::ec2::{
    Ec2, Ec2Error, ErrorKind, InstanceState, InterfaceQuery, InterfaceStatus,
};

use crate::support::strict::{Op, StrictEc2};

fn code(result: Result<impl std::fmt::Debug, Ec2Error>) -> (String, ErrorKind) {
    let e = result.expect_err("the call should fail");
    (e.code, e.kind)
}

#[tokio::test]
async fn attach_and_detach_go_through_their_transient_states() {
    let ec2 = StrictEc2::new();
    let eni = ec2.add_member("p", "subnet-a1");
    let instance = ec2.launch(Some("p"), "subnet-a1");
    ec2.faults.lock().unwrap().transition = Duration::from_millis(50);

    let attachment = ec2.attach(&eni, &instance, 1).await.unwrap();
    assert_eq!(ec2.status(&eni), InterfaceStatus::Attaching);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(ec2.status(&eni), InterfaceStatus::InUse);

    ec2.detach(&attachment, false).await.unwrap();
    assert_eq!(ec2.status(&eni), InterfaceStatus::Detaching);
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
        ("InvalidInstanceID.NotFound".into(), ErrorKind::NotFound)
    );
    let no_eni = code(ec2.attach("eni-missing", &second, 1).await);
    assert_eq!(
        no_eni,
        (
            "InvalidNetworkInterfaceID.NotFound".into(),
            ErrorKind::NotFound
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
    let primary = code(ec2.detach(&primary_attachment, false).await);
    assert_eq!(primary.0, "OperationNotPermitted");
    let unknown = code(ec2.detach("eni-attach-missing", false).await);
    assert_eq!(
        unknown,
        ("InvalidAttachmentID.NotFound".into(), ErrorKind::NotFound)
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
                ("RequestLimitExceeded", ErrorKind::Transient)
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
async fn termination_detaches_secondary_interfaces() {
    let ec2 = StrictEc2::new();
    let eni = ec2.add_member("p", "subnet-a1");
    let instance = ec2.launch(Some("p"), "subnet-a1");
    ec2.attach(&eni, &instance, 1).await.unwrap();
    ec2.set_state(&instance, InstanceState::Terminated);
    assert_eq!(ec2.status(&eni), InterfaceStatus::Available);
}
