//! Client for the Lambda Cloud API v1, on its own: it knows nothing of the
//! `gpu-session` CLI that uses it.
//!
//! [`LambdaClient`] wraps the endpoints the launcher needs, with typed bodies,
//! retries with backoff and the launch rate limit; [`ApiKey`] keeps the key out
//! of every printed string; [`LambdaError`] decodes the API's error objects so
//! callers can branch on their `code`.

mod auth;
mod client;
mod error;
mod firewall;
mod images;
mod retry;
mod types;

pub use auth::{resolve_api_key, ApiKey, KeySource};
pub use client::{resolve_base_url, LambdaClient};
pub use error::LambdaError;
pub use firewall::{
    FirewallRule, FirewallRuleset, FirewallRulesetCreateRequest, FirewallRulesetEntry,
    FirewallRulesetPatchRequest, NetworkProtocol,
};
pub use images::{families_in, Image, ImageArchitecture, ImageSpecification};
pub use retry::{ClientOptions, RetryPolicy};
pub use types::{
    FileSystem, Instance, InstanceStatus, InstanceType, InstanceTypeAvailability,
    InstanceTypeSpecs, InstanceTypes, LaunchRequest, LaunchResponse, Region, SshKey, Tag,
};
