//! The pool declaration's schema and its typed struct (C1).

use network_interface_manager::custom_resource::properties::{
    parse, schema_property_names, PoolProperties, UserTag,
};
use serde_json::json;

#[test]
fn the_struct_and_the_schema_name_the_same_properties() {
    let every_field = PoolProperties {
        interfaces_per_subnet: Some(1),
        source_dest_check: Some(true),
        device_index: Some(1),
        service_token: Some(String::new()),
        service_timeout: Some(json!(1)),
        public_ip: Some(true),
        public_ipv4_pool: Some(String::new()),
        ..PoolProperties::default()
    };
    let value = serde_json::to_value(every_field).unwrap();
    let mut in_struct: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
    let mut in_schema = schema_property_names();
    in_struct.sort();
    in_schema.sort();
    assert_eq!(in_struct, in_schema);
}

#[test]
fn strings_are_read_as_the_declared_numbers_and_booleans() {
    let cloudformation = json!({
        "ServiceToken": "arn:aws:lambda:us-east-1:1:function:f",
        "Name": "nat",
        "SubnetIds": ["subnet-0a1"],
        "InterfacesPerSubnet": "2",
        "SourceDestCheck": "false",
        "DeviceIndex": "3",
        "Tags": [{"Key": "Team", "Value": "7"}],
    });
    let typed = json!({
        "Name": "nat",
        "SubnetIds": ["subnet-0a1"],
        "InterfacesPerSubnet": 2,
        "SourceDestCheck": false,
        "DeviceIndex": 3,
        "Tags": [{"Key": "Team", "Value": "7"}],
    });
    let from_strings = parse(Some(&cloudformation)).unwrap();
    let from_types = parse(Some(&typed)).unwrap();
    assert_eq!(from_strings.interfaces_per_subnet(), 2);
    assert!(!from_strings.source_dest_check());
    assert_eq!(from_strings.device_index(), 3);
    assert_eq!(
        from_strings.tags,
        [UserTag {
            key: "Team".into(),
            value: "7".into()
        }]
    );
    assert_eq!(
        PoolProperties {
            service_token: None,
            ..from_strings
        },
        from_types,
        "both forms read alike"
    );
}

/// CloudFormation sends `true` as a string too; surrounding blanks are
/// forgiven.
#[test]
fn true_sent_as_a_string_is_true() {
    for text in ["true", " true "] {
        let props = json!({"Name": "x", "SubnetIds": ["subnet-1"], "SourceDestCheck": text});
        let parsed = parse(Some(&props)).expect(text);
        assert_eq!(parsed.source_dest_check, Some(true), "{text:?}");
    }
}

#[test]
fn defaults_apply_when_properties_are_left_out() {
    let props = parse(Some(&json!({"Name": "x", "SubnetIds": ["subnet-1"]}))).unwrap();
    assert_eq!(props.interfaces_per_subnet(), 1);
    assert_eq!(props.device_index(), 1);
    assert!(props.source_dest_check());
}

#[test]
fn each_problem_names_its_property() {
    for (props, named) in [
        (json!({"Name": "", "SubnetIds": ["subnet-1"]}), "Name"),
        (json!({"Name": 5, "SubnetIds": ["subnet-1"]}), "Name"),
        (json!({"Name": "x", "SubnetIds": "subnet-1"}), "SubnetIds"),
        (json!({"Name": "x", "SubnetIds": ["vpc-1"]}), "SubnetIds.0"),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-1"], "SourceDestCheck": "maybe"}),
            "SourceDestCheck",
        ),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-1"], "SecurityGroupIds": ["default"]}),
            "SecurityGroupIds.0",
        ),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-1"], "Tags": [{"Key": "k"}]}),
            "Tags.0",
        ),
        (
            json!({"Name": "x", "SubnetIds": ["subnet-1"], "Extra": 1}),
            "Extra",
        ),
    ] {
        let error = parse(Some(&props))
            .expect_err(&props.to_string())
            .to_string();
        assert!(error.contains(named), "{props}: {error}");
    }
    let missing = parse(None).expect_err("no properties").to_string();
    assert!(
        missing.contains("Name") && missing.contains("SubnetIds"),
        "{missing}"
    );
}

#[test]
fn the_readme_documents_every_property() {
    let readme = include_str!("../../../README.md");
    for name in schema_property_names() {
        assert!(readme.contains(&format!("`{name}`")), "README lacks {name}");
    }
}

/// At most 64 interfaces a pool, counted over every way of asking for one:
/// subnets times interfaces per subnet, plus fixed addresses, plus adopted
/// interfaces.
#[test]
fn a_declaration_of_more_than_64_interfaces_is_refused() {
    let addresses = |n: u8| {
        (0..n)
            .map(|i| format!("10.0.1.{}", i + 10))
            .collect::<Vec<_>>()
    };
    let ids = |n: u8| (0..n).map(|i| format!("eni-{i:017x}")).collect::<Vec<_>>();
    for (props, refused) in [
        // Fixed addresses replace the per-subnet count.
        (
            json!({"Name": "p", "SubnetIds": ["subnet-a1"], "PrivateIpAddresses": addresses(64)}),
            false,
        ),
        (
            json!({"Name": "p", "SubnetIds": ["subnet-a1"], "PrivateIpAddresses": addresses(40),
                   "NetworkInterfaceIds": ids(25)}),
            true,
        ),
        (
            json!({"Name": "p", "SubnetIds": ["subnet-a1"], "NetworkInterfaceIds": ids(64)}),
            true,
        ),
        (
            json!({"Name": "p", "SubnetIds": ["subnet-a1", "subnet-b1"], "InterfacesPerSubnet": "32"}),
            false,
        ),
        (
            json!({"Name": "p", "SubnetIds": ["subnet-a1", "subnet-b1"], "InterfacesPerSubnet": "32",
                "NetworkInterfaceIds": ids(1)}),
            true,
        ),
    ] {
        let result = parse(Some(&props));
        assert_eq!(result.is_err(), refused, "{props}: {result:?}");
        if let Err(e) = result {
            assert!(format!("{e:?}").contains("at most 64"), "{e:?}");
        }
    }
}

/// C17: a volume entry as CloudFormation sends it (strings), with its
/// defaults; and each refusal names the entry and what is wrong with it.
#[test]
fn volumes_are_read_from_strings_and_refused_by_name() {
    let pool = |volumes: serde_json::Value| json!({"Name": "db", "SubnetIds": ["subnet-1"], "Volumes": volumes, "DeleteVolumes": "true"});
    let read = parse(Some(&pool(json!([
        {"SizeGiB": "10", "DeviceName": "/dev/sdf", "Iops": "3000", "Encrypted": "true"}
    ]))))
    .unwrap();
    let v = &read.volumes[0];
    assert_eq!(
        (v.size_gib, v.volume_type(), v.iops),
        (10, "gp3", Some(3000))
    );
    assert_eq!(v.encrypted, Some(true));
    assert!(read.delete_volumes());
    assert_eq!(read.volume_devices(), "/dev/sdf");
    for (volumes, named) in [
        (json!([{"SizeGiB": 1}]), "DeviceName"),
        (json!([{"SizeGiB": 0, "DeviceName": "/dev/sdf"}]), "SizeGiB"),
        (
            json!([{"SizeGiB": 1, "DeviceName": "/dev/sda"}]),
            "DeviceName",
        ),
        (
            json!([{"SizeGiB": 1, "DeviceName": "/dev/nvme1n1"}]),
            "DeviceName",
        ),
        (
            json!([{"SizeGiB": 1, "DeviceName": "/dev/sdf"}, {"SizeGiB": 2, "DeviceName": "/dev/sdf"}]),
            "/dev/sdf is given twice",
        ),
        (
            json!([{"SizeGiB": 1, "DeviceName": "/dev/sdf", "VolumeType": "gp2", "Iops": 3000}]),
            "Iops is for gp3, io1 and io2",
        ),
        (
            json!([{"SizeGiB": 1, "DeviceName": "/dev/sdf", "VolumeType": "io2"}]),
            "io2 needs Iops",
        ),
        (
            json!([{"SizeGiB": 1, "DeviceName": "/dev/sdf", "VolumeType": "st1", "Throughput": 500}]),
            "Throughput is for gp3",
        ),
        (
            json!([{"SizeGiB": 1, "DeviceName": "/dev/sdf", "KmsKeyId": "alias/x"}]),
            "KmsKeyId needs Encrypted",
        ),
        (
            json!([{"SizeGiB": 1, "DeviceName": "/dev/sdf", "Size": 1}]),
            "Volumes.0",
        ),
    ] {
        let error = parse(Some(&pool(volumes.clone()))).unwrap_err().to_string();
        assert!(error.contains(named), "{volumes}: {error}");
    }
}
