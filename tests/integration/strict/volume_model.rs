//! The strict model's EBS volumes: the states, error codes and lags the
//! volume stories will rely on (`support/strict/volumes.rs` cites them).

use std::time::Duration;

use network_interface_manager::aws::{AwsError, ErrorKind, Missing};
use network_interface_manager::ec2::{
    Ec2, InstanceState, NewVolume, VolumeAttachmentStatus, VolumeQuery, VolumeStatus, OWNER_TAG,
};

use crate::support::strict::{Faults, StrictEc2};

fn code(result: Result<impl std::fmt::Debug, AwsError>) -> (String, ErrorKind) {
    let e = result.expect_err("the call should fail");
    (e.code, e.kind)
}

fn new_volume(zone: &str, token: &str) -> NewVolume {
    NewVolume {
        availability_zone: zone.into(),
        size_gib: 10,
        volume_type: "gp3".into(),
        iops: None,
        throughput: None,
        encrypted: Some(true),
        kms_key_id: None,
        client_token: token.into(),
        tags: [(OWNER_TAG.to_string(), "pool-1".to_string())].into(),
    }
}

fn attachment_status(ec2: &StrictEc2, volume: &str) -> Option<VolumeAttachmentStatus> {
    ec2.volume(volume)?.attachment.map(|a| a.status)
}

#[tokio::test]
async fn a_new_volume_is_creating_then_available_and_its_token_answers_it_again() {
    let ec2 = StrictEc2::with(Faults::calm());
    ec2.faults.lock().unwrap().volume_create = Duration::from_millis(50);
    let made = ec2
        .create_volume(&new_volume("us-east-1a", "t-1"))
        .await
        .unwrap();
    assert_eq!(made.status, VolumeStatus::Creating);
    let instance = ec2.launch(Some("p"), "subnet-a1");
    let early = code(ec2.attach_volume(&made.id, &instance, "/dev/sdf").await);
    assert_eq!(early.1, ErrorKind::IncorrectState, "{early:?}");

    let again = ec2
        .create_volume(&new_volume("us-east-1a", "t-1"))
        .await
        .unwrap();
    assert_eq!(again.id, made.id, "the same token, the same volume");
    let mut other = new_volume("us-east-1a", "t-1");
    other.size_gib = 20;
    let mismatch = code(ec2.create_volume(&other).await);
    assert_eq!(mismatch.0, "IdempotentParameterMismatch");

    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(
        ec2.volume(&made.id).unwrap().status,
        VolumeStatus::Available
    );
}

/// [EBS-EBD] and the KMS check after the answer (volumes.rs cites it): a
/// key the role may not use answers `creating` like any, then the volume
/// is gone; encryption by default encrypts even what asks not to be.
#[tokio::test]
async fn a_volume_under_a_key_the_role_may_not_use_is_gone_once_made() {
    let ec2 = StrictEc2::with(Faults::calm());
    const DENIED: &str = "arn:aws:kms:us-east-1:111122223333:key/denied";
    const GRANTED: &str = "arn:aws:kms:us-east-1:111122223333:key/granted";
    ec2.faults.lock().unwrap().volume_create = Duration::from_millis(40);
    ec2.faults
        .lock()
        .unwrap()
        .usable_keys
        .insert(GRANTED.into());
    let with_key = |token: &str, key: &str| NewVolume {
        kms_key_id: Some(key.into()),
        ..new_volume("us-east-1a", token)
    };
    let denied = ec2.create_volume(&with_key("t-1", DENIED)).await.unwrap();
    let granted = ec2.create_volume(&with_key("t-2", GRANTED)).await.unwrap();
    let managed = ec2
        .create_volume(&new_volume("us-east-1a", "t-3"))
        .await
        .unwrap();
    assert_eq!(
        denied.status,
        VolumeStatus::Creating,
        "the answer tells nothing"
    );
    assert_eq!(denied.kms_key_id.as_deref(), Some(DENIED));
    assert_eq!(managed.kms_key_id.as_deref(), Some("alias/aws/ebs"));

    tokio::time::sleep(Duration::from_millis(50)).await;
    let ids = vec![denied.id.clone(), granted.id.clone(), managed.id.clone()];
    let read = ec2.describe_volumes(&VolumeQuery::Ids(ids)).await.unwrap();
    let read: Vec<(&str, VolumeStatus)> = read.iter().map(|v| (v.id.as_str(), v.status)).collect();
    assert_eq!(
        read,
        [
            (granted.id.as_str(), VolumeStatus::Available),
            (managed.id.as_str(), VolumeStatus::Available)
        ]
    );

    ec2.faults.lock().unwrap().default_key = Some(DENIED.into());
    let plain = NewVolume {
        encrypted: Some(false),
        ..new_volume("us-east-1a", "t-4")
    };
    let by_default = ec2.create_volume(&plain).await.unwrap();
    assert_eq!(by_default.kms_key_id.as_deref(), Some(DENIED));
}

#[tokio::test]
async fn attach_checks_zone_state_and_device_like_ec2() {
    let ec2 = StrictEc2::new();
    let volume = ec2.add_volume("us-east-1a", []);
    let far = ec2.add_volume("us-east-1b", []);
    let spare = ec2.add_volume("us-east-1a", []);
    let instance = ec2.launch(Some("p"), "subnet-a1");
    let second = ec2.launch(Some("p"), "subnet-a1");
    let booting = ec2.launch_booting(Some("p"), "subnet-a1", Duration::from_secs(60));

    let zone = code(ec2.attach_volume(&far, &instance, "/dev/sdf").await);
    assert_eq!(zone.0, "InvalidVolume.ZoneMismatch");
    let device = code(ec2.attach_volume(&volume, &instance, "/dev/foo").await);
    assert_eq!(device, ("InvalidParameterValue".into(), ErrorKind::Other));
    let pending = code(ec2.attach_volume(&volume, &booting, "/dev/sdf").await);
    assert_eq!(pending.0, "IncorrectInstanceState");
    let gone = code(ec2.attach_volume("vol-0", &instance, "/dev/sdf").await);
    assert_eq!(gone.1, ErrorKind::NotFound(Missing::Volume));

    ec2.attach_volume(&volume, &instance, "/dev/sdf")
        .await
        .unwrap();
    let taken = code(ec2.attach_volume(&volume, &second, "/dev/sdf").await);
    assert_eq!(taken, ("VolumeInUse".into(), ErrorKind::InUse));
    let point = code(ec2.attach_volume(&spare, &instance, "/dev/sdf").await);
    assert_eq!(point, ("InvalidParameterValue".into(), ErrorKind::Other));
    let attached = ec2.volume(&volume).unwrap().attachment.unwrap();
    assert!(
        !attached.delete_on_termination,
        "an attach by call never sets it"
    );
}

#[tokio::test]
async fn a_volume_attaches_and_detaches_from_a_stopped_instance_in_time() {
    let ec2 = StrictEc2::with(Faults::calm());
    ec2.faults.lock().unwrap().volume_transition = Duration::from_millis(50);
    let volume = ec2.add_volume("us-east-1a", []);
    let instance = ec2.launch(Some("p"), "subnet-a1");

    ec2.attach_volume(&volume, &instance, "/dev/sdf")
        .await
        .unwrap();
    assert_eq!(
        attachment_status(&ec2, &volume),
        Some(VolumeAttachmentStatus::Attaching)
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(
        attachment_status(&ec2, &volume),
        Some(VolumeAttachmentStatus::Attached)
    );

    ec2.set_state(&instance, InstanceState::Stopped);
    assert_eq!(
        attachment_status(&ec2, &volume),
        Some(VolumeAttachmentStatus::Attached),
        "a stopped instance keeps its volumes"
    );
    ec2.detach_volume(&volume, &instance).await.unwrap();
    assert_eq!(
        attachment_status(&ec2, &volume),
        Some(VolumeAttachmentStatus::Detaching)
    );
    let early = code(ec2.delete_volume(&volume).await);
    assert_eq!(early.1, ErrorKind::InUse, "not available yet");
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(ec2.volume(&volume).unwrap().status, VolumeStatus::Available);
}

#[tokio::test]
async fn a_detach_from_a_running_instance_stays_busy_until_it_stops() {
    let ec2 = StrictEc2::with(Faults::calm());
    ec2.faults.lock().unwrap().volume_transition = Duration::from_millis(20);
    let volume = ec2.add_volume("us-east-1a", []);
    let instance = ec2.launch(Some("p"), "subnet-a1");
    ec2.attach_volume(&volume, &instance, "/dev/sdf")
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(30)).await;

    ec2.detach_volume(&volume, &instance).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    ec2.settle_reads();
    assert_eq!(
        attachment_status(&ec2, &volume),
        Some(VolumeAttachmentStatus::Busy),
        "the running OS holds it"
    );
    ec2.set_state(&instance, InstanceState::Stopped);
    tokio::time::sleep(Duration::from_millis(30)).await;
    assert_eq!(ec2.volume(&volume).unwrap().status, VolumeStatus::Available);
}

#[tokio::test]
async fn termination_detaches_volumes_after_a_while_and_keeps_them() {
    let ec2 = StrictEc2::with(Faults::calm());
    let volume = ec2.add_volume("us-east-1a", []);
    let instance = ec2.launch(Some("p"), "subnet-a1");
    let next = ec2.launch(Some("p"), "subnet-a1");
    ec2.attach_volume(&volume, &instance, "/dev/sdf")
        .await
        .unwrap();
    ec2.faults.lock().unwrap().termination_detach = Duration::from_millis(50);

    ec2.set_state(&instance, InstanceState::Terminated);
    assert_eq!(
        attachment_status(&ec2, &volume),
        Some(VolumeAttachmentStatus::Detaching)
    );
    let meanwhile = code(ec2.attach_volume(&volume, &next, "/dev/sdf").await);
    assert_eq!(meanwhile.1, ErrorKind::InUse);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let kept = ec2.volume(&volume).expect("DeleteOnTermination is off");
    assert_eq!(kept.status, VolumeStatus::Available);
    ec2.attach_volume(&volume, &next, "/dev/sdf").await.unwrap();
}

#[tokio::test]
async fn a_deleted_volume_reads_deleting_then_is_gone() {
    let ec2 = StrictEc2::with(Faults::calm());
    ec2.faults.lock().unwrap().volume_transition = Duration::from_millis(50);
    let volume = ec2.add_volume("us-east-1a", []);
    ec2.delete_volume(&volume).await.unwrap();
    assert_eq!(ec2.volume(&volume).unwrap().status, VolumeStatus::Deleting);
    tokio::time::sleep(Duration::from_millis(60)).await;
    assert_eq!(ec2.volume(&volume), None);
    let gone = code(ec2.delete_volume(&volume).await);
    assert_eq!(gone.1, ErrorKind::NotFound(Missing::Volume));
}

#[tokio::test]
async fn volume_reads_lag_behind_writes() {
    let ec2 = StrictEc2::with(Faults::calm());
    let volume = ec2.add_volume("us-east-1a", [(OWNER_TAG, "pool-1")]);
    let instance = ec2.launch(Some("p"), "subnet-a1");
    ec2.faults.lock().unwrap().filter_lag = Duration::from_secs(60);
    ec2.faults.lock().unwrap().read_lag = Duration::from_secs(60);
    ec2.attach_volume(&volume, &instance, "/dev/sdf")
        .await
        .unwrap();

    let owned = VolumeQuery::Owners(vec!["pool-1".into()]);
    let mut stale = 0;
    for _ in 0..20 {
        let read = ec2.describe_volumes(&owned).await.unwrap();
        stale += usize::from(read[0].attachment.is_none());
    }
    assert!(stale > 0, "no read lagged");
    ec2.settle_reads();
    let read = ec2
        .describe_volumes(&VolumeQuery::Ids(vec![volume.clone()]))
        .await
        .unwrap();
    assert!(read[0].attachment.is_some(), "settled reads see the attach");
}

#[tokio::test]
async fn volumes_take_tags_and_a_missing_one_fails_the_batch() {
    let ec2 = StrictEc2::with(Faults::calm());
    let volume = ec2.add_volume("us-east-1a", []);
    let tags = [("k".to_string(), "v".to_string())].into();
    let batch = [volume.clone(), "vol-0".to_string()];
    let missing = code(ec2.create_tags(&batch, &tags).await);
    assert_eq!(missing.1, ErrorKind::NotFound(Missing::Volume));
    assert!(ec2.volume(&volume).unwrap().tags.is_empty(), "all or none");
    ec2.create_tags(std::slice::from_ref(&volume), &tags)
        .await
        .unwrap();
    assert_eq!(ec2.volume(&volume).unwrap().tags, tags);
}
