//! Each member of a declared pool is a numbered seat (C16): its ordinal in
//! the answer, on its interface, kept through updates and rollbacks, and
//! given to whichever instance holds it (R26).

use network_interface_manager::ec2::InstanceState::Running;
use network_interface_manager::ec2::{ADDRESS_TAG, ORDINAL_TAG};
use serde_json::{json, Value};

use crate::support::cfn::Declared;
use crate::support::world::{deliver_ok, fast, state_event, World};
use network_interface_manager::cli::status_table;
use network_interface_manager::pool::Manager;

fn ensemble(addresses: &[&str]) -> Value {
    json!({"Name": "zk", "SubnetIds": ["subnet-a1"], "PrivateIpAddresses": addresses})
}

fn ordinals(answer: &Value) -> Vec<&str> {
    let data = &answer["Data"];
    let list = data["Ordinals"]
        .as_array()
        .unwrap_or_else(|| panic!("{data}"));
    list.iter().map(|o| o.as_str().unwrap()).collect()
}

/// C16: a new pool is numbered 1..N in declaration order, on the answer
/// and on each member.
#[tokio::test]
async fn members_are_numbered_in_declaration_order() {
    let d = Declared::create(ensemble(&["10.0.1.11", "10.0.1.12", "10.0.1.13"])).await;

    assert_eq!(ordinals(&d.created), ["1", "2", "3"]);
    let interfaces = d.w.model.interfaces();
    for (member, ordinal) in d.members().iter().zip(["1", "2", "3"]) {
        let i = interfaces.iter().find(|i| &i.id == member).unwrap();
        assert_eq!(i.tags[ORDINAL_TAG], ordinal);
    }
    let pools = Manager::new(d.w.ec2(), fast()).status(&[]).await.unwrap();
    let shown: Vec<Option<u8>> = pools[0].members.iter().map(|m| m.ordinal).collect();
    assert_eq!(shown.len(), 3);
    assert!(shown.iter().all(Option::is_some), "{shown:?}");
    let table = status_table(&pools);
    assert!(table.lines().next().unwrap().contains("ORDINAL"), "{table}");
}

/// C12, C16: a removed seat keeps its number while retired, a new one
/// takes the smallest free, and a rollback gets the old seat back with its
/// number.
#[tokio::test]
async fn ordinals_outlive_updates_and_rollbacks() {
    let three = ensemble(&["10.0.1.11", "10.0.1.12", "10.0.1.13"]);
    let d = Declared::create(three.clone()).await;
    let replaced = ensemble(&["10.0.1.12", "10.0.1.13", "10.0.1.14"]);

    let updated = d.update(&replaced, &three).await;

    assert_eq!(updated["Status"], "SUCCESS", "{updated}");
    assert_eq!(
        ordinals(&updated),
        ["2", "3", "4"],
        "1 waits for a rollback"
    );
    let rolled_back = d.update(&three, &replaced).await;
    assert_eq!(ordinals(&rolled_back), ["1", "2", "3"]);
    assert_eq!(
        rolled_back["Data"]["NetworkInterfaceIds"],
        d.created["Data"]["NetworkInterfaceIds"]
    );
}

/// R26: the instance that takes a seat carries its number and address.
#[tokio::test]
async fn the_holder_of_a_seat_carries_its_number_and_address() {
    let d = Declared::create(ensemble(&["10.0.1.11", "10.0.1.12"])).await;
    let node = d.w.model.launch(Some("zk"), "subnet-a1");
    // Not a story of lag: the members the Create made are read (else the
    // event meets a shortage, and the next sync serves the node).
    d.w.model.settle_reads();

    deliver_ok(&d.w, &state_event(&node, Running)).await;

    let tags = d.w.model.instance_tags(&node);
    let held = d.w.model.members_of(&node);
    let n = d.members().iter().position(|m| held.contains(m)).unwrap();
    assert_eq!(tags[ORDINAL_TAG], ordinals(&d.created)[n]);
    assert_eq!(
        tags[ADDRESS_TAG],
        d.created["Data"]["PrivateIpAddresses"][n]
    );
}
