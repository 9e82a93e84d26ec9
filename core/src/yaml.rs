//! YAML for every face (plan files, the config file, cloud-init user_data, tests):
//! the maintained fork of serde_yaml (`serde_yaml_ng`, on the same libyaml port as
//! serde_yaml 0.9, so the bytes it writes are the same), behind core's own names so
//! no other crate names the library.

use serde::de::DeserializeOwned;
use serde::Serialize;

pub use serde_yaml_ng::{Error, Mapping, Value};

/// `value` as a YAML document.
pub fn to_string<T: Serialize + ?Sized>(value: &T) -> Result<String, Error> {
    serde_yaml_ng::to_string(value)
}

/// A YAML document read as `T`.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    serde_yaml_ng::from_str(text)
}

/// `value` as a YAML [`Value`].
pub fn to_value<T: Serialize>(value: T) -> Result<Value, Error> {
    serde_yaml_ng::to_value(value)
}

/// A YAML [`Value`] read as `T`.
pub fn from_value<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    serde_yaml_ng::from_value(value)
}

/// A deserializer over `text`, for `serde_path_to_error`.
pub fn deserializer(text: &str) -> serde_yaml_ng::Deserializer<'_> {
    serde_yaml_ng::Deserializer::from_str(text)
}
