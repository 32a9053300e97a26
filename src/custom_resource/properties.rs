//! The properties of a `Custom::NetworkInterfacePool`, parsed at the edge:
//! scalars sent as strings are coerced by the schema's declared types, the
//! JSON Schema in `schemas/` validates, then serde builds the typed struct.

use std::net::Ipv4Addr;
use std::sync::LazyLock;

use jsonschema::Validator;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The schema, compiled into the binary: the one source of validation.
pub const SCHEMA: &str = include_str!("../../schemas/network-interface-pool.schema.json");

/// Interfaces one pool may have, so its return values always fit the answer.
pub const MAX_INTERFACES: usize = 64;
/// Members a pool with public addresses may have: two lists more to answer.
pub const MAX_PUBLIC_MEMBERS: usize = 32;

static SCHEMA_VALUE: LazyLock<Value> =
    LazyLock::new(|| serde_json::from_str(SCHEMA).expect("the pool schema is JSON"));
static VALIDATOR: LazyLock<Validator> = LazyLock::new(|| {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&SCHEMA_VALUE)
        .expect("the pool schema is valid")
});

/// A pool declaration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PoolProperties {
    pub name: String,
    #[serde(default)]
    pub subnet_ids: Vec<String>,
    pub interfaces_per_subnet: Option<u32>,
    #[serde(default)]
    pub private_ip_addresses: Vec<Ipv4Addr>,
    #[serde(default)]
    pub security_group_ids: Vec<String>,
    #[serde(default)]
    pub description: String,
    pub source_dest_check: Option<bool>,
    pub device_index: Option<i32>,
    #[serde(default)]
    pub tags: Vec<UserTag>,
    #[serde(default)]
    pub network_interface_ids: Vec<String>,
    /// An Elastic IP allocated for each member that `elastic_ip_allocation_ids`
    /// gives none.
    pub public_ip: Option<bool>,
    #[serde(default)]
    pub elastic_ip_allocation_ids: Vec<String>,
    pub public_ipv4_pool: Option<String>,
    /// Data volumes that follow each member (C17, R27).
    #[serde(default)]
    pub volumes: Vec<VolumeSpec>,
    /// A Delete deletes the volumes too (C17).
    pub delete_volumes: Option<bool>,
    /// Set by CloudFormation; not used by the pool.
    pub service_token: Option<String>,
    /// Set by CloudFormation; not used by the pool.
    pub service_timeout: Option<Value>,
}

/// One data volume each member gets (C17).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct VolumeSpec {
    #[serde(rename = "SizeGiB")]
    pub size_gib: i32,
    pub volume_type: Option<String>,
    pub iops: Option<i32>,
    pub throughput: Option<i32>,
    pub encrypted: Option<bool>,
    pub kms_key_id: Option<String>,
    pub device_name: String,
}

impl VolumeSpec {
    pub fn volume_type(&self) -> &str {
        self.volume_type.as_deref().unwrap_or("gp3")
    }

    /// What the schema cannot say: which settings go with which type, and
    /// the key with encryption.
    fn problem(&self) -> Option<String> {
        let (kind, device) = (self.volume_type(), &self.device_name);
        if self.iops.is_some() && !matches!(kind, "gp3" | "io1" | "io2") {
            return Some(format!(
                "Volumes {device}: Iops is for gp3, io1 and io2, not {kind}"
            ));
        }
        if matches!(kind, "io1" | "io2") && self.iops.is_none() {
            return Some(format!("Volumes {device}: {kind} needs Iops"));
        }
        if self.throughput.is_some() && kind != "gp3" {
            return Some(format!(
                "Volumes {device}: Throughput is for gp3, not {kind}"
            ));
        }
        if self.kms_key_id.is_some() && self.encrypted != Some(true) {
            return Some(format!("Volumes {device}: KmsKeyId needs Encrypted: true"));
        }
        None
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserTag {
    pub key: String,
    pub value: String,
}

impl PoolProperties {
    pub fn source_dest_check(&self) -> bool {
        self.source_dest_check.unwrap_or(true)
    }

    pub fn device_index(&self) -> i32 {
        self.device_index.unwrap_or(1)
    }

    pub fn delete_volumes(&self) -> bool {
        self.delete_volumes.unwrap_or(false)
    }

    /// The device names of its volumes, as its members' volumes tag lists
    /// them (R27); empty without volumes.
    pub fn volume_devices(&self) -> String {
        let devices: Vec<&str> = self
            .volumes
            .iter()
            .map(|v| v.device_name.as_str())
            .collect();
        devices.join(" ")
    }

    pub fn public_ip(&self) -> bool {
        self.public_ip.unwrap_or(false)
    }

    /// Some member gets a public address (C14).
    pub fn has_public_addresses(&self) -> bool {
        self.public_ip() || !self.elastic_ip_allocation_ids.is_empty()
    }

    /// Interfaces created in each subnet when no fixed address is given.
    pub fn interfaces_per_subnet(&self) -> u32 {
        match self.private_ip_addresses.is_empty() {
            true => self.interfaces_per_subnet.unwrap_or(1),
            false => 0,
        }
    }
}

/// Why a declaration is refused; names the property.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid properties: {}", .0.join("; "))]
pub struct InvalidProperties(pub Vec<String>);

/// Parses `ResourceProperties` (absent counts as empty).
pub fn parse(properties: Option<&Value>) -> Result<PoolProperties, InvalidProperties> {
    let mut value = properties
        .cloned()
        .unwrap_or_else(|| Value::Object(Map::new()));
    coerce(&mut value, &SCHEMA_VALUE);
    let problems: Vec<String> = VALIDATOR
        .iter_errors(&value)
        .map(|e| describe(&e))
        .collect();
    if !problems.is_empty() {
        return Err(InvalidProperties(problems));
    }
    let props: PoolProperties =
        serde_json::from_value(value).map_err(|e| InvalidProperties(vec![e.to_string()]))?;
    let count = props.subnet_ids.len() * props.interfaces_per_subnet() as usize
        + props.private_ip_addresses.len()
        + props.network_interface_ids.len();
    if count > MAX_INTERFACES {
        return Err(InvalidProperties(vec![format!(
            "SubnetIds x InterfacesPerSubnet + PrivateIpAddresses + NetworkInterfaceIds: \
             {count} interfaces, at most {MAX_INTERFACES}"
        )]));
    }
    if props.has_public_addresses() && count > MAX_PUBLIC_MEMBERS {
        return Err(InvalidProperties(vec![format!(
            "PublicIp, ElasticIpAllocationIds: {count} members, at most {MAX_PUBLIC_MEMBERS} \
             with public addresses"
        )]));
    }
    let mut devices: Vec<&str> = props
        .volumes
        .iter()
        .map(|v| v.device_name.as_str())
        .collect();
    devices.sort();
    if let Some(twice) = devices.windows(2).find(|w| w[0] == w[1]) {
        return Err(InvalidProperties(vec![format!(
            "Volumes: DeviceName {} is given twice",
            twice[0]
        )]));
    }
    if let Some(problem) = props.volumes.iter().find_map(VolumeSpec::problem) {
        return Err(InvalidProperties(vec![problem]));
    }
    if props.elastic_ip_allocation_ids.len() > count {
        return Err(InvalidProperties(vec![format!(
            "ElasticIpAllocationIds: {} allocations for {count} members",
            props.elastic_ip_allocation_ids.len()
        )]));
    }
    Ok(props)
}

/// One line per problem, starting with the property it is about.
fn describe(error: &jsonschema::ValidationError) -> String {
    let path = error.instance_path().as_str().trim_start_matches('/');
    // A rule over several properties explains itself in the schema.
    let schema_path = error.schema_path().as_str();
    let rule = SCHEMA_VALUE.pointer(
        schema_path
            .trim_end_matches("/anyOf")
            .trim_end_matches("/not"),
    );
    let explained = rule
        .and_then(|r| r.get("description"))
        .and_then(Value::as_str);
    match (path.is_empty(), explained) {
        (true, Some(text)) => text.to_string(),
        (true, _) => error.masked().to_string(),
        (false, _) => format!("{}: {}", path.replace('/', "."), error.masked()),
    }
}

/// Turns strings into the integers and booleans the schema declares, as
/// CloudFormation sends every scalar as a string.
fn coerce(value: &mut Value, schema: &Value) {
    match value {
        Value::Object(map) => {
            let Some(properties) = schema.get("properties") else {
                return;
            };
            for (name, v) in map.iter_mut() {
                if let Some(s) = properties.get(name) {
                    coerce(v, s);
                }
            }
        }
        Value::Array(items) => {
            if let Some(s) = schema.get("items") {
                items.iter_mut().for_each(|v| coerce(v, s));
            }
        }
        Value::String(text) => {
            let declared = schema.get("type").and_then(Value::as_str);
            let coerced = match declared {
                Some("integer") => text.trim().parse::<i64>().ok().map(Value::from),
                Some("boolean") => match text.trim() {
                    "true" => Some(Value::Bool(true)),
                    "false" => Some(Value::Bool(false)),
                    _ => None,
                },
                _ => None,
            };
            if let Some(c) = coerced {
                *value = c;
            }
        }
        _ => {}
    }
}

/// The properties the schema declares, for the test that keeps it and the
/// struct in step.
pub fn schema_property_names() -> Vec<String> {
    let properties = SCHEMA_VALUE["properties"].as_object().expect("properties");
    properties.keys().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// No property of today's schema is a list of numbers or booleans, but
    /// `coerce` reads any schema: items are coerced like properties.
    #[test]
    fn strings_in_lists_are_read_as_their_declared_items() {
        let schema = json!({"properties": {
            "Indexes": {"type": "array", "items": {"type": "integer"}},
            "Flags": {"type": "array", "items": {"type": "boolean"}},
        }});
        let mut value = json!({"Indexes": ["1", "2"], "Flags": ["true", "false"]});
        coerce(&mut value, &schema);
        assert_eq!(value, json!({"Indexes": [1, 2], "Flags": [true, false]}));
    }
}
