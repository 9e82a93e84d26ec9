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
//!
//! It also reads a repo's `config.json` for `--hf org/name` (`GET
//! /{repo}/resolve/main/config.json`, same answers as above), kept in a local cache so
//! a model sized once can be sized again offline.

/// `--hf org/name`: a Hub repository's `config.json` as a custom model.
pub(crate) mod hf_model;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The Hub's address unless `HF_ENDPOINT` says otherwise (huggingface_hub's constant).
pub const DEFAULT_ENDPOINT: &str = "https://huggingface.co";
/// Environment variable overriding the Hub's address.
pub const ENDPOINT_ENV: &str = "HF_ENDPOINT";
/// How long one Hub request may take before the Hub counts as unreachable.
const TIMEOUT: Duration = Duration::from_secs(10);

/// `HF_ENDPOINT` is plain http to another machine: a token sent there travels in clear.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("HF_ENDPOINT ({endpoint}) is plain http to another machine: refusing to send HF_TOKEN over it unencrypted; use an https:// address (plain http is accepted only for a loopback address), or unset HF_TOKEN")]
pub struct PlainHttpEndpoint {
    pub endpoint: String,
}

/// Refuses to send `token` to a plain-http `endpoint` that is not this machine.
pub fn check_token_endpoint(endpoint: &str, token: Option<&str>) -> Result<(), PlainHttpEndpoint> {
    let plain_http = endpoint
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"));
    if token.is_some() && plain_http && !crate::loopback::is_loopback_url(endpoint) {
        return Err(PlainHttpEndpoint {
            endpoint: endpoint.to_owned(),
        });
    }
    Ok(())
}

/// What the Hub said about a checkpoint the user may read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HubCheck {
    /// Readable; `download_bytes` is what SGLang will fetch (None when the Hub did not
    /// list sizes).
    Readable {
        download_bytes: Option<u64>,
        gated: bool,
        private: bool,
    },
    /// The Hub could not be asked (no network here, or it failed): not a reason to stop,
    /// since the instance has its own network.
    Unreachable(String),
}

impl HubCheck {
    /// Whether the instance needs `HF_TOKEN` to download the checkpoint: for a gated
    /// or private repo, and when the Hub could not say (the instance may need it).
    /// Never for a repo the Hub reports public.
    pub fn instance_needs_token(&self) -> bool {
        match self {
            HubCheck::Readable { gated, private, .. } => *gated || *private,
            HubCheck::Unreachable(_) => true,
        }
    }
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
    #[error(transparent)]
    PlainHttp(#[from] PlainHttpEndpoint),
}

#[derive(Debug, Deserialize)]
struct ModelInfo {
    #[serde(default)]
    gated: Gated,
    #[serde(default)]
    private: bool,
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
    check_token_endpoint(endpoint, token)?;
    let http = match http_client() {
        Ok(c) => c,
        Err(e) => return Ok(HubCheck::Unreachable(e.to_string())),
    };
    let info = match model_info(&http, endpoint, repo, token).await {
        Ok(answer) => answer?,
        Err(why) => return Ok(HubCheck::Unreachable(why)),
    };
    let gated = info.gated.is_gated();
    if gated {
        // Metadata of a gated repo is public; only a download shows access.
        match download_access(&http, endpoint, repo, token).await {
            Ok(answer) => answer?,
            Err(why) => return Ok(HubCheck::Unreachable(why)),
        }
    }
    Ok(HubCheck::Readable {
        download_bytes: download_bytes(&info.siblings),
        gated,
        private: info.private,
    })
}

/// A client for the Hub: no proxy, [`TIMEOUT`] per request.
fn http_client() -> reqwest::Result<reqwest::Client> {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(TIMEOUT)
        .build()
}

/// `request`, with `token` as its bearer when given.
fn authorized(request: reqwest::RequestBuilder, token: Option<&str>) -> reqwest::RequestBuilder {
    match token {
        Some(t) => request.bearer_auth(t),
        None => request,
    }
}

/// Where the Hub serves `repo`'s `config.json`.
fn config_url(endpoint: &str, repo: &str) -> String {
    format!("{endpoint}/{repo}/resolve/main/config.json")
}

/// `GET /api/models/{repo}?blobs=true`. `Ok(Ok(info))`: the repo's metadata;
/// `Ok(Err(_))`: the Hub refused (401/404); `Err(why)`: the Hub could not be asked.
async fn model_info(
    http: &reqwest::Client,
    endpoint: &str,
    repo: &str,
    token: Option<&str>,
) -> Result<Result<ModelInfo, HubError>, String> {
    let info_url = format!("{endpoint}/api/models/{repo}?blobs=true");
    let response = authorized(http.get(&info_url), token)
        .send()
        .await
        .map_err(|e| format!("GET {info_url}: {e}"))?;
    let owned = |s: &str| s.to_owned();
    let refused = match response.status().as_u16() {
        200 => {
            return response
                .json()
                .await
                .map(Ok)
                .map_err(|e| format!("GET {info_url}: unexpected answer: {e}"))
        }
        404 => HubError::NotFound {
            repo: owned(repo),
            endpoint: owned(endpoint),
        },
        401 if token.is_none() => HubError::NeedsToken { repo: owned(repo) },
        401 => HubError::BadToken {
            repo: owned(repo),
            endpoint: owned(endpoint),
        },
        status => return Err(format!("GET {info_url} answered {status}")),
    };
    Ok(Err(refused))
}

/// `HEAD` of `repo`'s `config.json`: whether `token` may download from a gated repo.
/// `Ok(Err(_))`: the Hub refused (401/403); `Err(why)`: the Hub could not be asked.
async fn download_access(
    http: &reqwest::Client,
    endpoint: &str,
    repo: &str,
    token: Option<&str>,
) -> Result<Result<(), HubError>, String> {
    let file_url = config_url(endpoint, repo);
    let head = authorized(http.head(&file_url), token)
        .send()
        .await
        .map_err(|e| format!("HEAD {file_url}: {e}"))?;
    let (repo, endpoint) = (repo.to_owned(), endpoint.to_owned());
    match (head.status().as_u16(), token) {
        (200..=399, _) => Ok(Ok(())),
        (401, None) => Ok(Err(HubError::GatedNoToken { repo, endpoint })),
        (401, Some(_)) => Ok(Err(HubError::BadToken { repo, endpoint })),
        (403, _) => Ok(Err(HubError::GatedNoAccess { repo, endpoint })),
        (status, _) => Err(format!("HEAD {file_url} answered {status}")),
    }
}

/// Environment variable holding the user's Hub token (huggingface_hub's name).
pub const TOKEN_ENV: &str = "HF_TOKEN";

/// `HF_TOKEN`, when set and not blank.
pub fn token() -> Option<String> {
    std::env::var(TOKEN_ENV)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// Where a repo's `config.json` is cached: `$XDG_CACHE_HOME/gpu-session/hf/<org>/<name>/`
/// (when that is absolute), else `~/.cache/gpu-session/hf/...`; `None` without either.
/// `repo` is a validated `owner/name` (no `..`, no other slashes).
pub fn config_cache_path(repo: &str) -> Option<PathBuf> {
    cache_path_from(
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
        repo,
    )
}

fn cache_path_from(
    xdg: Option<std::ffi::OsString>,
    home: Option<std::ffi::OsString>,
    repo: &str,
) -> Option<PathBuf> {
    let xdg = xdg.map(PathBuf::from).filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        home.filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".cache"))
    })?;
    let mut path = base.join("gpu-session").join("hf");
    path.extend(repo.split('/'));
    Some(path.join("config.json"))
}

/// A repo's `config.json` text and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedConfig {
    pub text: String,
    /// `Some((path, why))` when the Hub could not be reached and the cached copy at
    /// `path` was used instead.
    pub from_cache: Option<(PathBuf, String)>,
}

/// Why a repo's `config.json` cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigFetchError {
    #[error("--hf: {repo} does not exist on the Hugging Face Hub (404); check the name on {endpoint}/{repo}")]
    NotFound { repo: String, endpoint: String },
    #[error("--hf: {repo} has no config.json on the Hugging Face Hub (404), so its architecture is unknown")]
    NoConfig { repo: String },
    #[error("--hf: {repo} is gated or private (401) and HF_TOKEN is not set: set HF_TOKEN to a token of an account that can read it (for a gated model, accept its licence on {endpoint}/{repo} first)")]
    NeedsToken { repo: String, endpoint: String },
    #[error("--hf: the Hub refused HF_TOKEN for {repo} (401): the token is invalid or expired, or the repo is private to another account; create a token at {endpoint}/settings/tokens")]
    BadToken { repo: String, endpoint: String },
    #[error("--hf: {repo} is gated and the account behind HF_TOKEN has no access yet (403): accept the licence on {endpoint}/{repo} (and wait for approval if it is reviewed manually)")]
    NoAccess { repo: String, endpoint: String },
    #[error("--hf: cannot reach the Hugging Face Hub to read {repo}'s config.json ({why}), and no copy is cached{cache}; connect to the network (or set HF_ENDPOINT to a mirror) and try again")]
    Offline {
        repo: String,
        why: String,
        cache: String,
    },
    #[error("--hf: {0}")]
    PlainHttp(#[from] PlainHttpEndpoint),
}

/// Reads `repo`'s `config.json` from the Hub (with `token` when given) and caches it;
/// when the Hub cannot be reached (no network, a timeout, a 5xx), the cached copy.
/// A 401, 403 or 404 is an error even with a cached copy: the Hub answered.
pub fn fetch_config(
    endpoint: &str,
    repo: &str,
    token: Option<&str>,
    cache: Option<&Path>,
) -> Result<FetchedConfig, ConfigFetchError> {
    check_token_endpoint(endpoint, token)?;
    let answer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|runtime| runtime.block_on(get_config(endpoint, repo, token)));
    let why = match answer {
        Ok(Ok(text)) => {
            if let Some(path) = cache {
                // A cache that cannot be written only costs the offline fallback.
                let _ = write_cache(path, &text);
            }
            return Ok(FetchedConfig {
                text,
                from_cache: None,
            });
        }
        Ok(Err(refused)) => return Err(refused),
        Err(why) => why,
    };
    match cache.map(|p| (p, std::fs::read_to_string(p))) {
        Some((path, Ok(text))) => Ok(FetchedConfig {
            text,
            from_cache: Some((path.to_owned(), why)),
        }),
        other => Err(ConfigFetchError::Offline {
            repo: repo.to_owned(),
            why,
            cache: other.map_or(String::new(), |(p, _)| format!(" at {}", p.display())),
        }),
    }
}

fn write_cache(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let partial = path.with_extension("json.partial");
    std::fs::write(&partial, text)?;
    std::fs::rename(&partial, path)
}

/// `Ok(Ok(text))`: the file; `Ok(Err(_))`: the Hub refused (401/403/404); `Err(why)`:
/// the Hub could not be asked.
async fn get_config(
    endpoint: &str,
    repo: &str,
    token: Option<&str>,
) -> Result<Result<String, ConfigFetchError>, String> {
    let http = http_client().map_err(|e| e.to_string())?;
    let url = config_url(endpoint, repo);
    let response = authorized(http.get(&url), token)
        .send()
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    let owned = |s: &str| s.to_owned();
    let error_code = response
        .headers()
        .get("x-error-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let refused = match (response.status().as_u16(), token) {
        (200, _) => {
            return response
                .text()
                .await
                .map(Ok)
                .map_err(|e| format!("GET {url}: {e}"))
        }
        (404, _) if error_code.as_deref() == Some("EntryNotFound") => {
            ConfigFetchError::NoConfig { repo: owned(repo) }
        }
        (404, _) => ConfigFetchError::NotFound {
            repo: owned(repo),
            endpoint: owned(endpoint),
        },
        (401, None) => ConfigFetchError::NeedsToken {
            repo: owned(repo),
            endpoint: owned(endpoint),
        },
        (401, Some(_)) => ConfigFetchError::BadToken {
            repo: owned(repo),
            endpoint: owned(endpoint),
        },
        (403, _) => ConfigFetchError::NoAccess {
            repo: owned(repo),
            endpoint: owned(endpoint),
        },
        (status, _) => return Err(format!("GET {url} answered {status}")),
    };
    Ok(Err(refused))
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
    fn the_config_cache_follows_xdg_then_home() {
        let p = |xdg: Option<&str>, home: Option<&str>| {
            cache_path_from(xdg.map(Into::into), home.map(Into::into), "org/name")
        };
        assert_eq!(
            p(Some("/c"), Some("/h")),
            Some(PathBuf::from("/c/gpu-session/hf/org/name/config.json"))
        );
        assert_eq!(
            p(Some("relative"), Some("/h")),
            Some(PathBuf::from(
                "/h/.cache/gpu-session/hf/org/name/config.json"
            ))
        );
        assert_eq!(p(None, None), None);
    }

    #[test]
    fn a_token_goes_over_plain_http_only_to_this_machine() {
        let token = Some("hf_x");
        assert!(check_token_endpoint("https://hub.example", token).is_ok());
        assert!(check_token_endpoint("http://127.0.0.1:8080", token).is_ok());
        assert!(check_token_endpoint("http://localhost", token).is_ok());
        assert!(check_token_endpoint("http://hub.example", None).is_ok());
        let err = check_token_endpoint("HTTP://hub.example", token).unwrap_err();
        assert!(
            err.to_string().contains("HF_ENDPOINT (HTTP://hub.example)"),
            "{err}"
        );
    }

    #[test]
    fn only_a_gated_private_or_unknown_repo_needs_the_token_on_the_instance() {
        let readable = |gated, private| HubCheck::Readable {
            download_bytes: None,
            gated,
            private,
        };
        assert!(!readable(false, false).instance_needs_token());
        assert!(readable(true, false).instance_needs_token());
        assert!(readable(false, true).instance_needs_token());
        assert!(HubCheck::Unreachable("offline".into()).instance_needs_token());
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
