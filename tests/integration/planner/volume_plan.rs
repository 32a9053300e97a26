//! What a declaration's data volumes take (C17), row by row: one per
//! member and entry, made where missing; one no longer declared retired;
//! one declared again reinstated, never a second made beside it.

use network_interface_manager::custom_resource::properties::parse;
use network_interface_manager::custom_resource::volume_plan::{plan, VolumeMember};
use network_interface_manager::ec2::{
    Volume, VolumeStatus, DEVICE_TAG, OWNER_TAG, POOL_TAG, RETIRED_TAG, SLOT_TAG,
};
use serde_json::json;

fn members(keys: &[&str]) -> Vec<VolumeMember> {
    let member = |k: &&str| VolumeMember {
        key: k.to_string(),
        availability_zone: "us-east-1a".into(),
    };
    keys.iter().map(member).collect()
}

fn owned(id: &str, slot: &str, device: &str, retired: bool) -> Volume {
    let mut tags: network_interface_manager::ec2::Tags = [
        (OWNER_TAG.to_string(), "pool-1".to_string()),
        (SLOT_TAG.to_string(), slot.to_string()),
        (DEVICE_TAG.to_string(), device.to_string()),
    ]
    .into();
    if retired {
        tags.insert(RETIRED_TAG.into(), "true".into());
    }
    Volume {
        id: id.into(),
        availability_zone: "us-east-1a".into(),
        size_gib: 1,
        volume_type: "gp3".into(),
        kms_key_id: None,
        status: VolumeStatus::Available,
        attachment: None,
        tags,
    }
}

fn declared(
    devices: &[&str],
) -> network_interface_manager::custom_resource::properties::PoolProperties {
    let volumes: Vec<_> = devices
        .iter()
        .map(|d| json!({"SizeGiB": 1, "DeviceName": d}))
        .collect();
    parse(Some(
        &json!({"Name": "db", "SubnetIds": ["subnet-1"], "Volumes": volumes}),
    ))
    .unwrap()
}

#[test]
fn each_member_gets_one_volume_per_entry_and_what_exists_is_kept() {
    let props = declared(&["/dev/sdf", "/dev/sdg"]);
    let members = members(&["s1", "s2"]);
    let have = [owned("vol-1", "s1", "/dev/sdf", false)];
    let p = plan(&props, &members, &have);
    let made: Vec<(&str, &str)> = p
        .create
        .iter()
        .map(|(m, v)| (m.key.as_str(), v.device_name.as_str()))
        .collect();
    assert_eq!(
        made,
        [("s1", "/dev/sdg"), ("s2", "/dev/sdf"), ("s2", "/dev/sdg")]
    );
    assert!(p.retire.is_empty() && p.reinstate.is_empty(), "{p:?}");
}

#[test]
fn a_dropped_entry_or_member_is_retired_and_a_rollback_reinstates_it() {
    let have = [
        owned("vol-1", "s1", "/dev/sdf", false),
        owned("vol-2", "s1", "/dev/sdg", false),
        owned("vol-3", "s2", "/dev/sdf", false),
    ];
    let (one, s1) = (declared(&["/dev/sdf"]), members(&["s1"]));
    let dropped = plan(&one, &s1, &have);
    assert_eq!(dropped.retire, ["vol-2", "vol-3"]);
    assert!(dropped.create.is_empty());
    let retired = [
        owned("vol-1", "s1", "/dev/sdf", false),
        owned("vol-2", "s1", "/dev/sdg", true),
    ];
    let two = declared(&["/dev/sdf", "/dev/sdg"]);
    let back = plan(&two, &s1, &retired);
    assert_eq!(back.reinstate, ["vol-2"]);
    assert!(back.create.is_empty() && back.retire.is_empty(), "{back:?}");
}

/// A member's volume in use is kept over a retired one of the same seat,
/// which stays retired; a second live one (a create the reads missed) is
/// retired.
#[test]
fn the_volume_in_use_wins_over_a_retired_or_second_one() {
    let have = [
        owned("vol-1", "s1", "/dev/sdf", true),
        owned("vol-2", "s1", "/dev/sdf", false),
        owned("vol-3", "s1", "/dev/sdf", false),
    ];
    let (one, s1) = (declared(&["/dev/sdf"]), members(&["s1"]));
    let p = plan(&one, &s1, &have);
    assert!(p.reinstate.is_empty() && p.create.is_empty(), "{p:?}");
    assert_eq!(p.retire, ["vol-3"]);
}

/// R25: a renamed pool's volumes are kept and tagged with the new name.
#[test]
fn a_rename_retags_the_volumes_it_keeps() {
    let mut renamed = declared(&["/dev/sdf"]);
    renamed.name = "db2".into();
    let mut have = owned("vol-1", "s1", "/dev/sdf", false);
    have.tags.insert(POOL_TAG.into(), "db".into());
    let s1 = members(&["s1"]);
    let p = plan(&renamed, &s1, std::slice::from_ref(&have));
    assert_eq!(p.rename, ["vol-1"]);
    have.tags.insert(POOL_TAG.into(), "db2".into());
    assert!(plan(&renamed, &s1, &[have]).rename.is_empty());
}
