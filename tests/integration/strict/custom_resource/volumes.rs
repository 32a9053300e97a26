//! A declared pool's data volumes (C17) on the strict model: made once per
//! member and entry, given to the node that takes the seat (R27), retired
//! by an Update and reinstated by its rollback, kept by a Delete unless it
//! asks, and never deleted under a running instance.

use std::time::Duration;

use network_interface_manager::ec2::InstanceState::Running;
use network_interface_manager::ec2::{
    Ec2, Volume, VolumeQuery, DEVICE_TAG, OWNER_TAG, POOL_TAG, RELEASED_TAG, RETIRED_TAG, SLOT_TAG,
    VOLUMES_TAG,
};
use serde_json::{json, Value};

use crate::support::cfn::{answer, request, Declared};
use crate::support::listener::Listener;
use crate::support::strict::Op;
use crate::support::world::{deliver_ok, fast, state_event, StrictWorld, World};
use network_interface_manager::cli::status_table;
use network_interface_manager::pool::status::MemberVolume;
use network_interface_manager::pool::Manager;

fn pool(devices: &[&str]) -> Value {
    let volumes: Vec<Value> = devices
        .iter()
        .map(|d| json!({"SizeGiB": "1", "DeviceName": d}))
        .collect();
    json!({"Name": "db", "SubnetIds": ["subnet-a1"], "InterfacesPerSubnet": "2", "Volumes": volumes})
}

/// The pool's volumes as EC2 truly holds them (reads settled).
async fn owned(w: &StrictWorld, physical_id: &str) -> Vec<Volume> {
    w.model.settle_reads();
    let query = VolumeQuery::Owners(vec![physical_id.to_string()]);
    let mut volumes = w.model.describe_volumes(&query).await.unwrap();
    volumes.sort_by(|a, b| a.id.cmp(&b.id));
    volumes
}

fn ids(volumes: &[Volume]) -> Vec<String> {
    volumes.iter().map(|v| v.id.clone()).collect()
}

/// C17: one volume per member and entry, tagged with the pool, owner, slot
/// and device; each member lists its devices; a repeated delivery of the
/// same Create makes none twice.
#[tokio::test]
async fn a_pool_makes_one_volume_per_member_and_entry_once() {
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let create = request("Create", &cfn.url, pool(&["/dev/sdf", "/dev/sdg"]));
    let first = answer(&w, &cfn, &create).await;
    let again = answer(&w, &cfn, &create).await;

    assert_eq!(
        (&first["Status"], &again["Status"]),
        (&json!("SUCCESS"), &json!("SUCCESS"))
    );
    let physical_id = first["PhysicalResourceId"].as_str().unwrap();
    let volumes = owned(&w, physical_id).await;
    assert_eq!(volumes.len(), 4, "{volumes:?}");
    let members = w.model.interfaces();
    for v in &volumes {
        assert_eq!(v.tags[POOL_TAG], "db");
        let member = members
            .iter()
            .find(|m| m.tags.get(SLOT_TAG) == Some(&v.tags[SLOT_TAG]));
        let member = member.unwrap_or_else(|| panic!("no member of {v:?}"));
        assert_eq!(member.tags[VOLUMES_TAG], "/dev/sdf /dev/sdg");
        assert_eq!(member.availability_zone, v.availability_zone);
    }
    let devices: Vec<&str> = volumes
        .iter()
        .map(|v| v.tags[DEVICE_TAG].as_str())
        .collect();
    assert_eq!(devices.iter().filter(|d| **d == "/dev/sdg").count(), 2);
}

/// R27: a node of the pool gets its seat's volume, made moments ago and
/// still `creating` when the event comes.
#[tokio::test]
async fn a_node_gets_the_volume_of_its_seat_once_ec2_has_made_it() {
    let d = Declared::create(pool(&["/dev/sdf"])).await;
    let node = d.w.model.launch(Some("db"), "subnet-a1");
    d.w.model.settle_reads();

    let handled = deliver_ok(&d.w, &state_event(&node, Running)).await;

    let attached = &handled.outcome.report.volumes_attached;
    assert_eq!(attached.len(), 1, "{handled:?}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let volume = attached[0].volume.volume_id.clone();
    assert_eq!(
        d.w.model.volumes_attached_to(&node),
        std::slice::from_ref(&volume)
    );
    // Status shows each seat's volume and where it is.
    d.w.model.settle_reads();
    let pools = Manager::new(d.w.ec2(), fast()).status(&[]).await.unwrap();
    let shown: Vec<&MemberVolume> = pools[0].members.iter().flat_map(|m| &m.volumes).collect();
    assert_eq!(shown.len(), 2, "one per seat: {shown:?}");
    let on_node = shown.iter().find(|v| v.volume_id.as_ref() == Some(&volume));
    let on_node = on_node.expect("the node's volume is shown");
    assert_eq!(on_node.state, "in-use");
    assert_eq!(on_node.attached_to, Some(format!("{node} (attached)")));
    let table = status_table(&pools);
    assert!(table.contains(&format!("volume: {volume}")), "{table}");
}

/// C12, C17: an Update that drops an entry retires its volumes where they
/// are; its rollback gets the same volumes back, and makes none.
#[tokio::test]
async fn a_dropped_entry_is_retired_and_its_rollback_gets_the_same_volumes() {
    let two = pool(&["/dev/sdf", "/dev/sdg"]);
    let d = Declared::create(two.clone()).await;
    let before = ids(&owned(&d.w, d.physical_id()).await);
    let one = pool(&["/dev/sdf"]);

    let updated = d.update(&one, &two).await;

    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    let volumes = owned(&d.w, d.physical_id()).await;
    let retired: Vec<&str> = volumes
        .iter()
        .filter(|v| v.tags.contains_key(RETIRED_TAG))
        .map(|v| v.tags[DEVICE_TAG].as_str())
        .collect();
    assert_eq!(retired, ["/dev/sdg", "/dev/sdg"]);
    for m in d.w.model.interfaces() {
        assert_eq!(m.tags[VOLUMES_TAG], "/dev/sdf");
    }
    let rolled_back = d.update(&two, &one).await;
    assert_eq!(rolled_back["Status"], "SUCCESS", "{rolled_back}");
    let volumes = owned(&d.w, d.physical_id()).await;
    assert_eq!(ids(&volumes), before, "the same volumes, none made");
    assert!(volumes.iter().all(|v| !v.tags.contains_key(RETIRED_TAG)));
}

/// C17: a Delete keeps the data: each volume out of the pool, tagged
/// released with where it was, and named in the answer's Reason.
#[tokio::test]
async fn a_delete_keeps_the_volumes_and_names_them() {
    let d = Declared::create(pool(&["/dev/sdf"])).await;
    let volumes = ids(&owned(&d.w, d.physical_id()).await);

    let deleted = d.delete(pool(&["/dev/sdf"])).await;

    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    let reason = deleted["Reason"].as_str().unwrap_or_default();
    for id in &volumes {
        assert!(reason.contains(id.as_str()), "{reason}");
        let v = d.w.model.volume(id).expect("kept");
        assert!(v.tags[RELEASED_TAG].starts_with(d.physical_id()), "{v:?}");
        assert!(!v.tags.contains_key(OWNER_TAG) && !v.tags.contains_key(POOL_TAG));
    }
    assert!(d.w.model.interfaces().is_empty(), "the members are deleted");
}

/// A pool of one seat with `DeleteVolumes`, and a node running with the
/// seat's volume: (the pool, its properties, the node, the volumes on it).
async fn node_with_its_seat() -> (Declared, Value, String, Vec<String>) {
    let mut props = pool(&["/dev/sdf"]);
    props["DeleteVolumes"] = "true".into();
    let d = Declared::create(props.clone()).await;
    let node = d.w.model.launch(Some("db"), "subnet-a1");
    d.w.model.settle_reads();
    deliver_ok(&d.w, &state_event(&node, Running)).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let on_node = d.w.model.volumes_attached_to(&node);
    (d, props, node, on_node)
}

/// C17: `DeleteVolumes` deletes what no running instance has attached; the
/// volume of a node still running is kept, released and named.
#[tokio::test]
async fn delete_volumes_deletes_the_free_ones_and_keeps_one_a_node_runs_on() {
    let (d, props, _, on_node) = node_with_its_seat().await;
    assert_eq!(on_node.len(), 1);
    let volumes = ids(&owned(&d.w, d.physical_id()).await);

    let deleted = d.delete(props).await;

    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    let reason = deleted["Reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(&on_node[0]) && reason.contains("running"),
        "{reason}"
    );
    for id in volumes {
        let now = d.w.model.volume(&id);
        match id == on_node[0] {
            true => assert!(now.is_some_and(|v| v.tags.contains_key(RELEASED_TAG))),
            false => assert!(now.is_none_or(|v| v.status.as_str() == "deleting"), "{id}"),
        }
    }
}

/// C17 [EBS-EBD]: `Encrypted` goes to CreateVolume only as declared: left
/// unsaid, the account's EBS encryption by default (and its key) decides.
#[tokio::test]
async fn encrypted_is_sent_only_as_declared() {
    let d = Declared::create(json!({
        "Name": "zk",
        "SubnetIds": ["subnet-a1"],
        "Volumes": [
            {"SizeGiB": 10, "DeviceName": "/dev/sdf"},
            {"SizeGiB": 10, "DeviceName": "/dev/sdg", "Encrypted": true},
        ],
    }))
    .await;

    let mut sent: Vec<Option<bool>> =
        d.w.model
            .volume_requests()
            .iter()
            .map(|v| v.encrypted)
            .collect();
    sent.sort();

    assert_eq!(sent, [None, Some(true)]);
}

/// C17: EBS deletes a volume whose KMS key the role may not use while it
/// is `creating`, after CreateVolume answered. The Create reads its
/// encrypted volumes until `available` and fails naming the key and what
/// to grant, with no volume left; granted, the same declaration succeeds.
#[tokio::test]
async fn a_key_the_role_may_not_use_fails_the_create_naming_the_key() {
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/data";
    let w = StrictWorld::new();
    let cfn = Listener::start().await;
    let keyed = json!({
        "Name": "db",
        "SubnetIds": ["subnet-a1"],
        "Volumes": [{"SizeGiB": 10, "DeviceName": "/dev/sdf", "Encrypted": true, "KmsKeyId": KEY}],
    });

    let refused = answer(&w, &cfn, &request("Create", &cfn.url, keyed.clone())).await;

    assert_eq!(refused["Status"], "FAILED", "{refused}");
    let reason = refused["Reason"].as_str().unwrap_or_default();
    assert!(reason.contains(KEY), "{reason}");
    assert!(reason.contains("VolumeKmsKeyArns"), "{reason}");
    w.model.settle_reads();
    assert!(w.model.volumes().is_empty(), "{:?}", w.model.volumes());

    w.model
        .faults
        .lock()
        .unwrap()
        .usable_keys
        .insert(KEY.into());
    let made = answer(&w, &cfn, &request("Create", &cfn.url, keyed)).await;
    assert_eq!(made["Status"], "SUCCESS", "{made}");
}

/// C17 [EBS-EBD]: a pool that declares no key, in an account whose
/// encryption by default uses a key the role may not use, fails the same
/// way, naming the account's key.
#[tokio::test]
async fn the_account_s_default_key_is_named_when_the_role_may_not_use_it() {
    const KEY: &str = "arn:aws:kms:us-east-1:111122223333:key/account-default";
    let w = StrictWorld::new();
    w.model.faults.lock().unwrap().default_key = Some(KEY.into());
    let cfn = Listener::start().await;

    let refused = answer(&w, &cfn, &request("Create", &cfn.url, pool(&["/dev/sdf"]))).await;

    assert_eq!(refused["Status"], "FAILED", "{refused}");
    let reason = refused["Reason"].as_str().unwrap_or_default();
    assert!(reason.contains(KEY), "{reason}");
}

/// C17: `DeleteVolumes` and a node stopped with its seat's volume: the
/// Delete detaches it once, however long EC2 takes to let it go, then
/// deletes it.
#[tokio::test]
async fn a_stopped_node_s_volume_is_detached_once_then_deleted() {
    let (d, props, node, on_node) = node_with_its_seat().await;
    assert_eq!(on_node.len(), 1);
    d.w.model.set_state(
        &node,
        network_interface_manager::ec2::InstanceState::Stopped,
    );
    d.w.model.faults.lock().unwrap().volume_transition = Duration::from_millis(300);
    d.w.model.settle_reads();
    let detaches = || d.w.model.calls().get("DetachVolume").copied().unwrap_or(0);
    let before = detaches();

    let deleted = d.delete(props).await;

    assert_eq!(deleted["Status"], "SUCCESS", "{deleted}");
    assert_eq!(detaches() - before, 1, "one detach, however long it takes");
    let now = d.w.model.volume(&on_node[0]);
    let gone = now.as_ref().is_none_or(|v| v.status.as_str() == "deleting");
    assert!(gone, "{now:?}");
}

/// C17: a Delete's answers to EC2's refusals of the volumes' delete: a
/// volume gone meanwhile is deleted, one still in use is asked again,
/// any other refusal fails the Delete with EC2's reason.
#[tokio::test]
async fn a_delete_of_the_volumes_fails_only_on_ec2_s_refusals() {
    for (code, status) in [
        ("InvalidVolume.NotFound", "SUCCESS"),
        ("VolumeInUse", "SUCCESS"),
        ("UnauthorizedOperation", "FAILED"),
    ] {
        let mut props = pool(&["/dev/sdf"]);
        props["DeleteVolumes"] = "true".into();
        let d = Declared::create(props.clone()).await;
        d.w.model.settle_reads();
        d.w.model.fail_next(Op::DeleteVolume, code, "refused");

        let deleted = d.delete(props).await;

        assert_eq!(deleted["Status"], status, "{code}: {deleted}");
        if status == "FAILED" {
            let reason = deleted["Reason"].as_str().unwrap_or_default();
            assert!(reason.contains(code), "{reason}");
        }
    }
}

/// C17: a volume kept by a Delete is released by a tag write: gone
/// meanwhile is fine; a refused write fails the Delete.
#[tokio::test]
async fn a_kept_volume_s_release_fails_only_on_ec2_s_refusal() {
    for (code, status) in [
        ("InvalidVolume.NotFound", "SUCCESS"),
        ("UnauthorizedOperation", "FAILED"),
    ] {
        let d = Declared::create(pool(&["/dev/sdf"])).await;
        d.w.model.settle_reads();
        let before = d.w.model.calls().get("CreateTags").copied().unwrap_or(0);
        d.w.model.fail_next(Op::CreateTags, code, "refused");

        let deleted = d.delete(pool(&["/dev/sdf"])).await;

        let tags = d.w.model.calls().get("CreateTags").copied().unwrap_or(0) - before;
        assert!(tags >= 1, "the release is the Delete's first tag write");
        assert_eq!(deleted["Status"], status, "{code}: {deleted}");
    }
}

/// C17: a stopped node's volume whose detach EC2 refuses: the Delete
/// fails with EC2's reason, and keeps the volume.
#[tokio::test]
async fn a_refused_detach_of_a_stopped_node_s_volume_fails_the_delete() {
    let (d, props, node, on_node) = node_with_its_seat().await;
    d.w.model.set_state(
        &node,
        network_interface_manager::ec2::InstanceState::Stopped,
    );
    d.w.model.settle_reads();
    d.w.model
        .fail_next(Op::DetachVolume, "UnauthorizedOperation", "refused");

    let deleted = d.delete(props).await;

    assert_eq!(deleted["Status"], "FAILED", "{deleted}");
    let reason = deleted["Reason"].as_str().unwrap_or_default();
    assert!(reason.contains("UnauthorizedOperation"), "{reason}");
    assert!(d.w.model.volume(&on_node[0]).is_some(), "kept");
}
