//! Checks against the Hugging Face Hub before anything bills: the checkpoint exists,
//! this user may download it, and how many bytes the instance will fetch.
//!
//! Follows the Hub's real answers (huggingface_hub's `hf_raise_for_status` and the
//! Hub API docs): `GET /api/models/{repo}` is 404 for a missing repo with a token and
//! 401 without one (the Hub does not tell anonymous callers whether a private repo
//! exists), and carries `gated` (`false`, `"auto"` or `"manual"`); metadata of a gated
//! repo is public, but downloading a file (`HEAD /{repo}/resolve/main/config.json`) is
//! 401 without a token and 403 with a token whose user has not been granted access
//! (`X-Error-Code: GatedRepo`). `?blobs=true` adds each file's `size` to `siblings`.
//!
//! `HF_ENDPOINT` overrides the Hub's address, as in huggingface_hub (tests point it
//! at a local fake).

use std::time::Duration;

use serde::Deserialize;

/// The Hub's address unless `HF_ENDPOINT` says otherwise (huggingface_hub's constant).
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// Environment variable overriding the Hub's address.
pub const ENDPOINT_ENV: &str = "HF_ENDPOINT";
/// How long one Hub request may take before the Hub counts as unreachable.
const TIMEOUT: Duration = Duration::from_secs(10);

/// What the Hub said about a checkpoint the user may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubCheck {
    /// Readable; `download_bytes` is what SGLang will fetch (None when the Hub did not
    /// list sizes).
    Readable {
        download_bytes: Option<u64>,
        gated: bool,
    },
    /// The Hub could not be asked (no network here, or it failed): not a reason to stop,
    /// since the instance has its own network.
    Unreachable(String),
}

/// The checkpoint cannot be read: launching would pay for a GPU that never serves.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HubError {
    #[error("the checkpoint {repo} does not exist on the Hugging Face Hub (model.checkpoint); check the name on {endpoint}/{repo}")]
    NotFound { repo: String, endpoint: String },
    #[error("the checkpoint {repo} is private or does not exist, and HF_TOKEN is not set; set HF_TOKEN to a token of an account that can read it (model.checkpoint)")]
    NeedsToken { repo: String },
    #[error("the checkpoint {repo} is gated: set HF_TOKEN to a token of an account that has accepted its licence on {endpoint}/{repo}")]
    GatedNoToken { repo: String, endpoint: String },
    #[error("the checkpoint {repo} is gated and the account behind HF_TOKEN has no access yet: accept the licence on {endpoint}/{repo} (and wait for approval if it is reviewed manually), then launch again")]
    GatedNoAccess { repo: String, endpoint: String },
    #[error("HF_TOKEN was refused by the Hub for {repo} (401): the token is invalid or expired; create a new one at {endpoint}/settings/tokens")]
    BadToken { repo: String, endpoint: String },
}

#[derive(Debug, Deserialize)]
struct ModelInfo {
    #[serde(default)]
    gated: Gated,
    #[serde(default)]
    siblings: Vec<Sibling>,
}

/// `gated` is `false` or a string naming the approval mode.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Gated {
    #[default]
    Missing,
    Flag(bool),
    Mode(String),
}

impl Gated {
    fn is_gated(&self) -> bool {
        match self {
            Gated::Missing => false,
            Gated::Flag(b) => *b,
            Gated::Mode(mode) => !mode.is_empty(),
        }
    }
}

#[derive(Debug, Deserialize)]
struct Sibling {
    rfilename: String,
    #[serde(default)]
    size: Option<u64>,
}

/// The Hub's base URL: `HF_ENDPOINT` or the public Hub, without a trailing slash.
pub fn endpoint() -> String {
    std::env::var(ENDPOINT_ENV)
        .ok()
        .map(|v| v.trim().trim_end_matches('/').to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned())
}

/// Whether SGLang's loader downloads `file`. With safetensors present it fetches
/// `*.safetensors` plus the JSON/tokenizer files and ignores `original/**/*`
/// (SGLang 0.5.23 `configs/load_config.py` default `ignore_patterns`,
/// `model_loader/weight_utils.py` allow patterns); `.bin`/`.pt` files only when no
/// safetensors exist.
fn downloaded(file: &str, has_safetensors: bool) -> bool {
    if file.starts_with("original/") {
        return false;
    }
    let weights = if has_safetensors {
        file.ends_with(".safetensors")
    } else {
        file.ends_with(".bin") || file.ends_with(".pt")
    };
    weights
        || file.ends_with(".json")
        || file.ends_with(".model")
        || file.ends_with(".tiktoken")
        || file.ends_with(".txt")
}

/// Bytes SGLang will download for this repo, when every counted file has a size.
fn download_bytes(siblings: &[Sibling]) -> Option<u64> {
    let has_safetensors = siblings
        .iter()
        .any(|s| s.rfilename.ends_with(".safetensors"));
    siblings
        .iter()
        .filter(|s| downloaded(&s.rfilename, has_safetensors))
        .map(|s| s.size)
        .sum()
}

/// Asks the Hub whether `repo` exists and this user (with `token`) may download it.
pub async fn check_checkpoint(
    endpoint: &str,
    repo: &str,
    token: Option<&str>,
) -> Result<HubCheck, HubError> {
    let http = match reqwest::Client::builder()
        .no_proxy()
        .timeout(TIMEOUT)
        .build()
    {
        Ok(c) => c,
        Err(e) => return Ok(HubCheck::Unreachable(e.to_string())),
    };
    let with_token = |req: reqwest::RequestBuilder| match token {
        Some(t) => req.bearer_auth(t),
        None => req,
    };
    let info_url = format!("{endpoint}/api/models/{repo}?blobs=true");
    let response = match with_token(http.get(&info_url)).send().await {
        Ok(r) => r,
        Err(e) => return Ok(HubCheck::Unreachable(format!("GET {info_url}: {e}"))),
    };
    let owned = |s: &str| s.to_owned();
    match response.status().as_u16() {
        200 => {}
        404 => {
            return Err(HubError::NotFound {
                repo: owned(repo),
                endpoint: owned(endpoint),
            })
        }
        401 if token.is_none() => return Err(HubError::NeedsToken { repo: owned(repo) }),
        401 => {
            return Err(HubError::BadToken {
                repo: owned(repo),
                endpoint: owned(endpoint),
            })
        }
        status => {
            return Ok(HubCheck::Unreachable(format!(
                "GET {info_url} answered {status}"
            )))
        }
    }
    let info: ModelInfo = match response.json().await {
        Ok(i) => i,
        Err(e) => {
            return Ok(HubCheck::Unreachable(format!(
                "GET {info_url}: unexpected answer: {e}"
            )))
        }
    };
    let gated = info.gated.is_gated();
    if gated {
        // Metadata of a gated repo is public; only a download shows access.
        let file_url = format!("{endpoint}/{repo}/resolve/main/config.json");
        let head = match with_token(http.head(&file_url)).send().await {
            Ok(r) => r,
            Err(e) => return Ok(HubCheck::Unreachable(format!("HEAD {file_url}: {e}"))),
        };
        match (head.status().as_u16(), token) {
            (200..=399, _) => {}
            (401, None) => {
                return Err(HubError::GatedNoToken {
                    repo: owned(repo),
                    endpoint: owned(endpoint),
                })
            }
            (401, Some(_)) => {
                return Err(HubError::BadToken {
                    repo: owned(repo),
                    endpoint: owned(endpoint),
                })
            }
            (403, _) => {
                return Err(HubError::GatedNoAccess {
                    repo: owned(repo),
                    endpoint: owned(endpoint),
                })
            }
            (status, _) => {
                return Ok(HubCheck::Unreachable(format!(
                    "HEAD {file_url} answered {status}"
                )))
            }
        }
    }
    Ok(HubCheck::Readable {
        download_bytes: download_bytes(&info.siblings),
        gated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sib(name: &str, size: u64) -> Sibling {
        Sibling {
            rfilename: name.to_owned(),
            size: Some(size),
        }
    }

    #[test]
    fn counts_what_sglang_downloads() {
        let files = [
            sib("config.json", 1),
            sib("model-00001-of-00002.safetensors", 100),
            sib("model-00002-of-00002.safetensors", 50),
            sib("original/consolidated.00.pth", 1000),
            sib("tokenizer.json", 10),
            sib("README.md", 5),
            sib("pytorch_model.bin", 150),
        ];
        assert_eq!(download_bytes(&files), Some(161));
        let no_st = [sib("config.json", 1), sib("pytorch_model.bin", 150)];
        assert_eq!(download_bytes(&no_st), Some(151));
        let unknown = [Sibling {
            rfilename: "model.safetensors".into(),
            size: None,
        }];
        assert_eq!(download_bytes(&unknown), None);
    }

    #[test]
    fn gated_field_shapes() {
        for (text, gated) in [
            (r#"{"gated": false}"#, false),
            (r#"{"gated": "auto"}"#, true),
            (r#"{"gated": "manual"}"#, true),
            ("{}", false),
        ] {
            let info: ModelInfo = serde_json::from_str(text).unwrap();
            assert_eq!(info.gated.is_gated(), gated, "{text}");
        }
    }
}
