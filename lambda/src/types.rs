//! Request and response bodies of the Lambda Cloud API v1 (spec 1.8.3).
//!
//! Responses ignore fields they do not know, so additions on Lambda's side do
//! not break the CLI. Fields carrying secrets the CLI has no use for (such as
//! `jupyter_token`) are deliberately not modelled, so they cannot be printed.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::LambdaError;

/// `GET /instance-types`: instance type name → details and availability.
pub type InstanceTypes = BTreeMap<String, InstanceTypeAvailability>;

/// One entry of `GET /instance-types`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceTypeAvailability {
    pub instance_type: InstanceType,
    /// Regions where a launch can currently succeed; empty when sold out.
    #[serde(default)]
    pub regions_with_capacity_available: Vec<Region>,
}

impl InstanceTypeAvailability {
    /// Whether the type currently has capacity in `region`.
    pub fn has_capacity_in(&self, region: &str) -> bool {
        self.regions_with_capacity_available
            .iter()
            .any(|r| r.name == region)
    }
}

/// An instance type: hardware and price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceType {
    /// E.g. `gpu_1x_h100_pcie`.
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub gpu_description: String,
    pub price_cents_per_hour: u64,
    pub specs: InstanceTypeSpecs,
}

/// Hardware of an instance type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceTypeSpecs {
    pub vcpus: u32,
    pub memory_gib: u32,
    pub storage_gib: u32,
    pub gpus: u32,
}

/// A region code with its human-readable location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Region {
    /// E.g. `us-west-1`. Kept as a string: Lambda adds regions over time.
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// Lifecycle state of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstanceStatus {
    Booting,
    Active,
    Unhealthy,
    Terminating,
    Terminated,
    Preempted,
    /// A state this client does not know yet.
    #[serde(other)]
    Unknown,
}

impl InstanceStatus {
    /// The instance is gone or going: no further billing once it settles, and
    /// waiting for it to become active is pointless.
    pub fn is_gone(self) -> bool {
        matches!(
            self,
            InstanceStatus::Terminating | InstanceStatus::Terminated | InstanceStatus::Preempted
        )
    }

    /// The API's spelling of the status.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Booting => "booting",
            InstanceStatus::Active => "active",
            InstanceStatus::Unhealthy => "unhealthy",
            InstanceStatus::Terminating => "terminating",
            InstanceStatus::Terminated => "terminated",
            InstanceStatus::Preempted => "preempted",
            InstanceStatus::Unknown => "unknown",
        }
    }
}

impl fmt::Display for InstanceStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A tag on an instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

/// An instance, as returned by `GET /instances`, `GET /instances/{id}` and
/// `POST /instance-operations/terminate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Instance {
    pub id: String,
    /// The name given at launch, if any.
    #[serde(default)]
    pub name: Option<String>,
    /// Public IPv4 address; absent while the instance boots.
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub private_ip: Option<String>,
    pub status: InstanceStatus,
    #[serde(default)]
    pub ssh_key_names: Vec<String>,
    #[serde(default)]
    pub file_system_names: Vec<String>,
    pub region: Region,
    pub instance_type: InstanceType,
    #[serde(default)]
    pub hostname: Option<String>,
    #[serde(default)]
    pub tags: Vec<Tag>,
}

/// An SSH key registered with the account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshKey {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub public_key: String,
}

/// A persistent filesystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSystem {
    pub id: String,
    pub name: String,
    /// Default mount path on instances, e.g. `/lambda/nfs/<name>`.
    #[serde(default)]
    pub mount_point: String,
    /// ISO 8601 creation time, kept as sent.
    #[serde(default)]
    pub created: Option<String>,
    #[serde(default)]
    pub is_in_use: bool,
    pub region: Region,
    #[serde(default)]
    pub bytes_used: Option<u64>,
}

/// Body of `POST /instance-operations/launch`.
///
/// Always launches exactly one instance: the spec has no `quantity` field, and
/// the client never sends one. [`LaunchRequest::validate`] enforces the
/// documented constraints before anything is sent.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct LaunchRequest {
    pub region_name: String,
    pub instance_type_name: String,
    /// Exactly one key name; the API refuses anything else.
    pub ssh_key_names: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub file_system_names: Vec<String>,
    /// At most 64 characters. The client uses it to find an instance whose
    /// launch response was lost, so it should be unique.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// 1-63 characters of `[a-z0-9-]`, not starting with `-`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// cloud-init user data, plain text, at most 1 MB. May hold secrets (such
    /// as an `HF_TOKEN`), so `Debug` prints only its size.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_data: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Tag>,
    /// The image to boot; without it Lambda boots its default (Lambda Stack 22.04).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<super::images::ImageSpecification>,
    /// Firewall rulesets to attach; they must exist in `region_name`, and cannot be
    /// attached or removed after launch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub firewall_rulesets: Vec<super::firewall::FirewallRulesetEntry>,
}

/// Largest `user_data` the API accepts.
pub const MAX_USER_DATA_BYTES: usize = 1024 * 1024;

impl LaunchRequest {
    /// A request for one instance of `instance_type_name` in `region_name`,
    /// reachable with the SSH key named `ssh_key_name`.
    pub fn new(
        region_name: impl Into<String>,
        instance_type_name: impl Into<String>,
        ssh_key_name: impl Into<String>,
    ) -> Self {
        Self {
            region_name: region_name.into(),
            instance_type_name: instance_type_name.into(),
            ssh_key_names: vec![ssh_key_name.into()],
            file_system_names: Vec::new(),
            name: None,
            hostname: None,
            user_data: None,
            tags: Vec::new(),
            image: None,
            firewall_rulesets: Vec::new(),
        }
    }

    /// Checks the constraints the spec documents, with a message naming the
    /// field and the offending value (never `user_data`'s content).
    pub fn validate(&self) -> Result<(), LambdaError> {
        let invalid = |msg: String| Err(LambdaError::InvalidRequest(msg));
        if self.region_name.trim().is_empty() {
            return invalid("region_name is empty".into());
        }
        if self.instance_type_name.trim().is_empty() {
            return invalid("instance_type_name is empty".into());
        }
        match self.ssh_key_names.as_slice() {
            [key] if !key.trim().is_empty() => {}
            [_] => return invalid("ssh_key_names holds an empty key name".into()),
            keys => {
                return invalid(format!(
                    "ssh_key_names must name exactly one SSH key, got {}",
                    keys.len()
                ))
            }
        }
        if let Some(name) = &self.name {
            if name.chars().count() > 64 {
                return invalid(format!("name {name:?} is longer than 64 characters"));
            }
        }
        if let Some(hostname) = &self.hostname {
            if !is_valid_hostname(hostname) {
                return invalid(format!(
                    "hostname {hostname:?} must be 1-63 characters of a-z, 0-9 and '-', \
                     not starting with '-'"
                ));
            }
        }
        if let Some(user_data) = &self.user_data {
            if user_data.len() > MAX_USER_DATA_BYTES {
                return invalid(format!(
                    "user_data is {} bytes, more than the 1 MB the API accepts",
                    user_data.len()
                ));
            }
        }
        for tag in &self.tags {
            if !is_valid_tag_key(&tag.key) {
                return invalid(format!(
                    "tag key {:?} must be 2-55 characters of a-z, 0-9, '-' and ':', \
                     starting with a letter",
                    tag.key
                ));
            }
            if tag.value.chars().count() > 128 {
                return invalid(format!(
                    "tag {:?} has a value longer than 128 characters",
                    tag.key
                ));
            }
        }
        Ok(())
    }
}

impl fmt::Debug for LaunchRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LaunchRequest")
            .field("region_name", &self.region_name)
            .field("instance_type_name", &self.instance_type_name)
            .field("ssh_key_names", &self.ssh_key_names)
            .field("file_system_names", &self.file_system_names)
            .field("name", &self.name)
            .field("hostname", &self.hostname)
            .field(
                "user_data",
                &self
                    .user_data
                    .as_ref()
                    .map(|u| format!("<{} bytes>", u.len())),
            )
            .field("tags", &self.tags)
            .field("image", &self.image)
            .field("firewall_rulesets", &self.firewall_rulesets)
            .finish()
    }
}

/// `^[a-z0-9][0-9a-z-]{0,62}$`, from the spec.
fn is_valid_hostname(h: &str) -> bool {
    let bytes = h.as_bytes();
    (1..=63).contains(&bytes.len())
        && bytes[0] != b'-'
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
}

/// `^[a-z][a-z0-9-:]+$`, at most 55 characters, from the spec.
fn is_valid_tag_key(k: &str) -> bool {
    let bytes = k.as_bytes();
    (2..=55).contains(&bytes.len())
        && bytes[0].is_ascii_lowercase()
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-' || *b == b':')
}

/// Data of a successful launch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LaunchResponse {
    /// The launched instance IDs: one, since the client launches one at a time.
    pub instance_ids: Vec<String>,
}

/// Body of `POST /instance-operations/terminate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TerminateRequest {
    pub instance_ids: Vec<String>,
}

/// Data of a successful terminate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TerminateResponse {
    pub terminated_instances: Vec<Instance>,
}

/// The `{"data": ...}` wrapper around every successful response.
#[derive(Deserialize)]
pub(crate) struct DataEnvelope<T> {
    pub data: T,
}

#[cfg(test)]
mod tests {
    use super::*;

    const INSTANCE_JSON: &str = r#"{
        "id": "0920582c7ff041399e34823a0be62549",
        "name": "My Instance",
        "ip": "198.51.100.2",
        "private_ip": "10.0.2.100",
        "status": "active",
        "ssh_key_names": ["My SSH key"],
        "file_system_names": ["my-filesystem"],
        "file_system_mounts": [{"mount_point": "/lambda/nfs/my-filesystem", "file_system_id": "a0"}],
        "region": {"name": "us-west-1", "description": "California, USA"},
        "instance_type": {
            "name": "gpu_8x_a100", "description": "8x A100 (40 GB SXM4)",
            "gpu_description": "A100 (40 GB SXM4)", "price_cents_per_hour": 1032,
            "specs": {"vcpus": 124, "memory_gib": 1800, "storage_gib": 6144, "gpus": 8}
        },
        "hostname": "198.51.100.2",
        "jupyter_token": "03b7d30d9d3e4d8fa41657bc0d478c1b",
        "jupyter_url": "https://jupyter.example/?token=03b7d30d9d3e4d8fa41657bc0d478c1b",
        "is_reserved": false,
        "actions": {"migrate": {"available": true}, "rebuild": {"available": true},
                    "restart": {"available": true}, "cold_reboot": {"available": true},
                    "terminate": {"available": true}},
        "tags": [{"key": "key1", "value": "value1"}]
    }"#;

    #[test]
    fn instance_from_spec_example_ignoring_unknown_and_secret_fields() {
        let instance: Instance = serde_json::from_str(INSTANCE_JSON).unwrap();
        assert_eq!(instance.status, InstanceStatus::Active);
        assert_eq!(instance.ip.as_deref(), Some("198.51.100.2"));
        assert_eq!(instance.instance_type.specs.gpus, 8);
        assert_eq!(instance.region.name, "us-west-1");
        let shown = format!("{instance:?} {}", serde_json::to_string(&instance).unwrap());
        assert!(!shown.contains("03b7d30d9d3e4d8fa41657bc0d478c1b"));
    }

    #[test]
    fn booting_instance_without_optional_fields() {
        let instance: Instance = serde_json::from_str(
            r#"{"id": "i1", "status": "booting", "region": {"name": "us-east-1"},
                "instance_type": {"name": "gpu_1x_a10", "price_cents_per_hour": 75,
                "specs": {"vcpus": 30, "memory_gib": 200, "storage_gib": 1400, "gpus": 1}},
                "actions": {}}"#,
        )
        .unwrap();
        assert_eq!(instance.status, InstanceStatus::Booting);
        assert_eq!(instance.ip, None);
        assert!(instance.ssh_key_names.is_empty());
    }

    #[test]
    fn unknown_status_is_tolerated() {
        let status: InstanceStatus = serde_json::from_str(r#""hibernating""#).unwrap();
        assert_eq!(status, InstanceStatus::Unknown);
        assert!(InstanceStatus::Preempted.is_gone());
        assert!(!InstanceStatus::Unhealthy.is_gone());
    }

    #[test]
    fn instance_types_map_from_spec_example() {
        let types: InstanceTypes = serde_json::from_str(
            r#"{"gpu_1x_gh200": {"instance_type": {"name": "gpu_1x_gh200",
                "description": "1x GH200 (96 GB)", "gpu_description": "GH200 (96 GB)",
                "price_cents_per_hour": 149,
                "specs": {"vcpus": 64, "memory_gib": 432, "storage_gib": 4096, "gpus": 1}},
                "regions_with_capacity_available": [{"name": "us-west-1", "description": "California, USA"}]}}"#,
        )
        .unwrap();
        let gh200 = &types["gpu_1x_gh200"];
        assert!(gh200.has_capacity_in("us-west-1"));
        assert!(!gh200.has_capacity_in("us-east-1"));
        assert_eq!(gh200.instance_type.price_cents_per_hour, 149);
    }

    #[test]
    fn launch_request_serializes_only_documented_fields() {
        let mut req = LaunchRequest::new("us-east-1", "gpu_1x_a10", "laptop");
        req.name = Some("gpu-session-llama".into());
        let body = serde_json::to_value(&req).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "region_name": "us-east-1",
                "instance_type_name": "gpu_1x_a10",
                "ssh_key_names": ["laptop"],
                "name": "gpu-session-llama"
            })
        );
        assert!(body.get("quantity").is_none());
    }

    #[test]
    fn launch_request_validation_names_the_field() {
        let ok = LaunchRequest::new("us-east-1", "gpu_1x_a10", "laptop");
        ok.validate().unwrap();

        let check = |f: &dyn Fn(&mut LaunchRequest), needle: &str| {
            let mut req = ok.clone();
            f(&mut req);
            let err = req.validate().unwrap_err().to_string();
            assert!(err.contains(needle), "{err} lacks {needle}");
        };
        check(&|r| r.ssh_key_names.clear(), "exactly one SSH key, got 0");
        check(&|r| r.ssh_key_names.push("second".into()), "got 2");
        check(&|r| r.ssh_key_names = vec![" ".into()], "empty key name");
        check(&|r| r.region_name.clear(), "region_name");
        check(&|r| r.instance_type_name.clear(), "instance_type_name");
        check(&|r| r.name = Some("n".repeat(65)), "name");
        check(&|r| r.hostname = Some("-bad".into()), "hostname \"-bad\"");
        check(&|r| r.hostname = Some("Upper".into()), "hostname");
        check(&|r| r.hostname = Some("h".repeat(64)), "hostname");
        check(
            &|r| r.user_data = Some("x".repeat(MAX_USER_DATA_BYTES + 1)),
            "user_data",
        );
        check(
            &|r| {
                r.tags.push(Tag {
                    key: "Bad".into(),
                    value: "v".into(),
                })
            },
            "tag key \"Bad\"",
        );

        let mut fine = ok.clone();
        fine.hostname = Some("gpu-session-0".into());
        fine.tags.push(Tag {
            key: "gpu-session:plan".into(),
            value: "llama".into(),
        });
        fine.validate().unwrap();
    }

    #[test]
    fn launch_request_debug_hides_user_data() {
        let mut req = LaunchRequest::new("us-east-1", "gpu_1x_a10", "laptop");
        req.user_data = Some("#cloud-config\nHF_TOKEN=hf_secret".into());
        let shown = format!("{req:?}");
        assert!(!shown.contains("hf_secret"), "{shown}");
        assert!(shown.contains("<32 bytes>"), "{shown}");
    }
}
