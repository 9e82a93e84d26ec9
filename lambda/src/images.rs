//! `GET /images` (spec 1.8.3, `listImages`) and the launch request's `image` field.

use serde::{Deserialize, Serialize};

use super::types::Region;

/// The CPU architecture an image supports (spec `ImageArchitecture`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImageArchitecture {
    #[serde(rename = "x86_64")]
    X86_64,
    #[serde(rename = "arm64")]
    Arm64,
}

impl ImageArchitecture {
    pub fn as_str(self) -> &'static str {
        match self {
            ImageArchitecture::X86_64 => "x86_64",
            ImageArchitecture::Arm64 => "arm64",
        }
    }
}

impl std::fmt::Display for ImageArchitecture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of `GET /images` (spec `Image`): an image in one region for one
/// architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// E.g. `lambda-stack-24-04`: what a launch request names.
    pub family: String,
    #[serde(default)]
    pub version: String,
    pub architecture: ImageArchitecture,
    pub region: Region,
}

/// The launch request's `image` (spec `ImageSpecificationFamilyName`): the newest
/// image of a family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ImageSpecification {
    pub family: String,
}

/// The image families `images` offers in `region` for `architecture`, sorted, unique.
pub fn families_in(images: &[Image], region: &str, architecture: ImageArchitecture) -> Vec<String> {
    let mut families: Vec<String> = images
        .iter()
        .filter(|i| i.region.name == region && i.architecture == architecture)
        .map(|i| i.family.clone())
        .collect();
    families.sort();
    families.dedup();
    families
}
