//! The EBS volume calls on moto through the SDK: `CreateVolume` with its
//! tags, type and token; `DescribeVolumes` by owner tag, tag key and id
//! (paged); `AttachVolume` and `DetachVolume` read back as attachments;
//! `DeleteVolume`; volume tags by `CreateTags`, and the error codes the
//! manager classifies. moto settles at once: the states in between are the
//! strict model's (`strict::volume_model`).

use network_interface_manager::aws::{ErrorKind, Missing};
use network_interface_manager::ec2::{
    NewVolume, VolumeAttachmentStatus, VolumeQuery, VolumeStatus, OWNER_TAG, POOL_TAG,
};

use crate::support::world::{MotoWorld, World};

fn new_volume(token: &str) -> NewVolume {
    NewVolume {
        availability_zone: "us-east-1a".into(),
        size_gib: 10,
        volume_type: "gp3".into(),
        iops: Some(3000),
        throughput: Some(125),
        encrypted: Some(true),
        kms_key_id: None,
        client_token: token.into(),
        tags: [
            (OWNER_TAG.to_string(), "pool-1".to_string()),
            (POOL_TAG.to_string(), "zk".to_string()),
        ]
        .into(),
    }
}

#[tokio::test]
async fn volumes_are_made_read_attached_detached_and_deleted_through_the_sdk() {
    let w = MotoWorld::new().await;
    let ec2 = w.ec2();
    let made = ec2.create_volume(&new_volume("t-1")).await.unwrap();
    let other = ec2.create_volume(&new_volume("t-2")).await.unwrap();
    assert!(made.id.starts_with("vol-"), "{made:?}");
    assert_eq!(
        (made.size_gib, made.volume_type.as_str()),
        (10, "gp3"),
        "{made:?}"
    );
    assert_eq!(made.availability_zone, "us-east-1a");

    let owned = ec2
        .describe_volumes(&VolumeQuery::Owners(vec!["pool-1".into()]))
        .await
        .unwrap();
    let mut ids: Vec<_> = owned.iter().map(|v| v.id.clone()).collect();
    ids.sort();
    let mut expected = vec![made.id.clone(), other.id.clone()];
    expected.sort();
    assert_eq!(ids, expected);
    assert_eq!(owned[0].tags.get(POOL_TAG).map(String::as_str), Some("zk"));
    let tagged = ec2
        .describe_volumes(&VolumeQuery::TagKey(POOL_TAG))
        .await
        .unwrap();
    assert_eq!(tagged.len(), 2);

    let instance = w.launch(Some("zk"), "a1").await;
    ec2.attach_volume(&made.id, &instance, "/dev/sdf")
        .await
        .unwrap();
    let by_id = VolumeQuery::Ids(vec![made.id.clone()]);
    let read = ec2.describe_volumes(&by_id).await.unwrap();
    assert_eq!(read.len(), 1, "only the volume asked for");
    let attachment = read[0].attachment.clone().expect("attached");
    assert_eq!(attachment.instance_id, instance);
    assert_eq!(attachment.device, "/dev/sdf");
    assert_eq!(attachment.status, VolumeAttachmentStatus::Attached);
    assert_eq!(read[0].status, VolumeStatus::InUse);

    let in_use = ec2.delete_volume(&made.id).await.unwrap_err();
    assert_eq!(in_use.kind, ErrorKind::InUse, "{in_use}");
    assert_eq!(in_use.operation, Some("DeleteVolume"));

    ec2.detach_volume(&made.id, &instance).await.unwrap();
    let read = ec2.describe_volumes(&by_id).await.unwrap();
    assert_eq!(read[0].attachment, None);
    assert_eq!(read[0].status, VolumeStatus::Available);

    let tags = [(
        "network-interface-manager-released".to_string(),
        "true".to_string(),
    )]
    .into();
    ec2.create_tags(std::slice::from_ref(&made.id), &tags)
        .await
        .unwrap();
    let read = ec2.describe_volumes(&by_id).await.unwrap();
    assert_eq!(
        read[0].tags.get("network-interface-manager-released"),
        Some(&"true".to_string())
    );

    ec2.delete_volume(&made.id).await.unwrap();
    let gone = ec2.delete_volume(&made.id).await.unwrap_err();
    assert_eq!(gone.kind, ErrorKind::NotFound(Missing::Volume), "{gone}");
    assert!(ec2.describe_volumes(&by_id).await.unwrap().is_empty());
    assert!(ec2
        .describe_volumes(&VolumeQuery::Ids(vec![]))
        .await
        .unwrap()
        .is_empty());
    let calls = ec2.calls();
    for api in [
        "CreateVolume",
        "DescribeVolumes",
        "AttachVolume",
        "DetachVolume",
        "DeleteVolume",
    ] {
        assert!(calls.contains_key(api), "{api} not counted: {calls:?}");
    }
}

/// R27 through the SDK: the seat filters (owner and slot tags together)
/// read the seats' volumes only, and a member's volume follows it from a
/// stopped holder to the next one (DetachVolume, then AttachVolume at its
/// device, read back by attachment).
#[tokio::test]
async fn a_member_s_volume_follows_it_through_the_sdk() {
    use aws_sdk_ec2::types::Tag;
    use network_interface_manager::ec2::InstanceState::{Running, Stopped};
    use network_interface_manager::ec2::{DEVICE_TAG, SLOT_TAG, VOLUMES_TAG};

    use crate::support::world::{deliver_ok, state_event};

    let w = MotoWorld::new().await;
    let ec2 = w.ec2();
    let member = w.add_member("db", "a1").await;
    for (key, value) in [
        (OWNER_TAG, "pool-1"),
        (SLOT_TAG, "s1"),
        (VOLUMES_TAG, "/dev/sdf"),
    ] {
        let tag = Tag::builder().key(key).value(value).build();
        w.client
            .create_tags()
            .resources(&member)
            .tags(tag)
            .send()
            .await
            .unwrap();
    }
    let seat = |slot: &str| {
        let mut v = new_volume(&format!("seat-{slot}"));
        v.tags.insert(SLOT_TAG.into(), slot.into());
        v.tags.insert(DEVICE_TAG.into(), "/dev/sdf".into());
        v
    };
    let volume = ec2.create_volume(&seat("s1")).await.unwrap().id;
    ec2.create_volume(&seat("s2")).await.unwrap();
    let seats = VolumeQuery::Seats {
        owners: vec!["pool-1".into()],
        slots: vec!["s1".into()],
    };
    let read = ec2.describe_volumes(&seats).await.unwrap();
    assert_eq!(read.iter().map(|v| &v.id).collect::<Vec<_>>(), [&volume]);

    let old = w.launch(Some("db"), "a1").await;
    deliver_ok(&w, &state_event(&old, Running)).await;
    let on = |v: Vec<network_interface_manager::ec2::Volume>| {
        let a = v[0].attachment.clone().unwrap();
        (a.instance_id, a.device)
    };
    let by_id = VolumeQuery::Ids(vec![volume.clone()]);
    assert_eq!(
        on(ec2.describe_volumes(&by_id).await.unwrap()),
        (old.clone(), "/dev/sdf".into())
    );
    let new = w.launch(Some("db"), "a1").await;
    w.set_state(&old, Stopped).await;
    let moved = deliver_ok(&w, &state_event(&old, Stopped)).await;

    let report = &moved.outcome.report;
    assert_eq!(
        (report.volumes_detached.len(), report.volumes_attached.len()),
        (1, 1),
        "{moved:?}"
    );
    assert_eq!(
        on(ec2.describe_volumes(&by_id).await.unwrap()),
        (new, "/dev/sdf".into())
    );
}
