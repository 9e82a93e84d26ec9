//! Client for the Lambda Cloud API v1.
//!
//! [`LambdaClient`] wraps the endpoints the launcher needs, with typed bodies,
//! retries with backoff and the launch rate limit; [`ApiKey`] keeps the key out
//! of every printed string; [`LambdaError`] decodes the API's error objects so
//! callers can branch on their `code`.

pub mod auth;
pub mod client;
pub mod error;
pub mod images;
pub mod retry;
pub mod types;

pub use auth::{
    default_key_file, parse_key_file, resolve_api_key, resolve_api_key_from, ApiKey, KeySource,
    API_KEY_ENV,
};
pub use client::{resolve_base_url, LambdaClient, BASE_URL_ENV, DEFAULT_BASE_URL};
pub use error::{codes, LambdaError};
pub use images::{Image, ImageArchitecture, ImageSpecification};
pub use retry::{ClientOptions, RetryPolicy};
pub use types::{
    FileSystem, Instance, InstanceStatus, InstanceType, InstanceTypeAvailability,
    InstanceTypeSpecs, InstanceTypes, LaunchRequest, LaunchResponse, Region, SshKey, Tag,
};
