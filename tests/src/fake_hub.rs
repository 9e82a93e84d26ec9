//! A local fake of the Hugging Face Hub's model endpoints, for `HF_ENDPOINT`.
//!
//! It answers the way the real Hub does (huggingface_hub's `hf_raise_for_status`
//! documents the cases; the Hub API docs the shapes):
//! - `GET /api/models/{org}/{name}[?blobs=true]`: 200 with `id`, `private`, `gated`
//!   (`false`, `"auto"`, `"manual"`) and `siblings` (`rfilename`, plus `size` with
//!   `blobs=true`); a missing or private repo is 401 without a token (the Hub does not
//!   say whether it exists) and 404 with one, `X-Error-Code: RepoNotFound`; an unknown
//!   token is 401.
//! - `HEAD|GET /{org}/{name}/resolve/main/{file}`: 200 when readable (GET with the
//!   file's text, for files given one: small files such as `config.json` are served
//!   directly, not redirected to the CDN); a gated repo is 401 without a token and 403
//!   with a token not granted access, `X-Error-Code: GatedRepo`; a missing file is 404,
//!   `X-Error-Code: EntryNotFound`. Every `resolve` answer carries
//!   `Access-Control-Allow-Origin: *`, as the Hub's do, so a page may fetch from it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::server::ServerThread;

/// How a repo is gated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Open,
    /// Access is granted at once after accepting the licence.
    Auto,
    /// The authors review each request.
    Manual,
}

/// One repo on the fake Hub.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeRepo {
    pub gate: Gate,
    pub private: bool,
    /// (file name, bytes).
    pub files: Vec<(String, u64)>,
    /// Tokens whose users may download (gated or private repos).
    pub granted: Vec<String>,
    /// Text served for a file (by name), e.g. the repo's real `config.json`.
    pub texts: BTreeMap<String, String>,
    /// How long a file download waits before it answers (a slow Hub).
    pub resolve_delay: std::time::Duration,
}

impl FakeRepo {
    /// An open repo with a config, a tokenizer and safetensors shards of `shard_bytes`.
    pub fn open(shard_bytes: &[u64]) -> FakeRepo {
        let n = shard_bytes.len();
        let mut files = vec![
            ("config.json".to_owned(), 855),
            ("generation_config.json".to_owned(), 184),
            ("tokenizer.json".to_owned(), 9_085_657),
            ("tokenizer_config.json".to_owned(), 55_351),
            ("README.md".to_owned(), 44_000),
        ];
        for (i, b) in shard_bytes.iter().enumerate() {
            files.push((format!("model-{:05}-of-{n:05}.safetensors", i + 1), *b));
        }
        files.push(("model.safetensors.index.json".to_owned(), 23_950));
        FakeRepo {
            gate: Gate::Open,
            private: false,
            files,
            granted: Vec::new(),
            texts: BTreeMap::new(),
            resolve_delay: std::time::Duration::ZERO,
        }
    }

    /// Answer file downloads only after `delay`.
    pub fn with_resolve_delay(mut self, delay: std::time::Duration) -> FakeRepo {
        self.resolve_delay = delay;
        self
    }

    /// The repo with `text` as its file `name` (listed with the text's size).
    pub fn with_text(mut self, name: &str, text: &str) -> FakeRepo {
        let size = text.len() as u64;
        match self.files.iter_mut().find(|(n, _)| n == name) {
            Some(file) => file.1 = size,
            None => self.files.push((name.to_owned(), size)),
        }
        self.texts.insert(name.to_owned(), text.to_owned());
        self
    }

    pub fn gated(mut self, gate: Gate, granted: &[&str]) -> FakeRepo {
        self.gate = gate;
        self.granted = granted.iter().map(|t| (*t).to_owned()).collect();
        self
    }
}

#[derive(Debug, Default)]
struct Inner {
    repos: BTreeMap<String, FakeRepo>,
    /// Every token the Hub knows (granted or not).
    tokens: Vec<String>,
    requests: Vec<String>,
    /// File downloads answered (after any delay).
    resolved: usize,
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake Hub on 127.0.0.1.
pub struct FakeHub {
    state: Shared,
    server: ServerThread,
}

impl FakeHub {
    /// Starts the fake with `repos` (id → repo) and the tokens it accepts.
    pub fn start(repos: &[(&str, FakeRepo)], tokens: &[&str]) -> std::io::Result<FakeHub> {
        let state: Shared = Arc::new(Mutex::new(Inner {
            repos: repos
                .iter()
                .map(|(id, r)| ((*id).to_owned(), r.clone()))
                .collect(),
            tokens: tokens.iter().map(|t| (*t).to_owned()).collect(),
            requests: Vec::new(),
            resolved: 0,
        }));
        let router = Router::new().fallback(handle).with_state(state.clone());
        let server = ServerThread::spawn("fake-hub", router)?;
        Ok(FakeHub { state, server })
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The value for `HF_ENDPOINT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// "METHOD path?query" of every request so far.
    pub fn requests(&self) -> Vec<String> {
        lock(&self.state).requests.clone()
    }

    /// How many file downloads have been answered.
    pub fn resolved(&self) -> usize {
        lock(&self.state).resolved
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, Inner> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

fn error(status: StatusCode, code: Option<&str>, message: &str) -> Response {
    let mut response = (status, Json(json!({ "error": message }))).into_response();
    if let Some(code) = code {
        if let Ok(v) = code.parse() {
            response.headers_mut().insert("x-error-code", v);
        }
    }
    response
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    let response = answer(&state, &method, &uri, &headers);
    if let Some(delay) = resolve_delay(&state, &uri) {
        tokio::time::sleep(delay).await;
        lock(&state).resolved += 1;
    }
    response
}

/// For a file download (`{org}/{name}/resolve/{revision}/{file}`), its repo's delay.
fn resolve_delay(state: &Shared, uri: &Uri) -> Option<std::time::Duration> {
    let parts: Vec<&str> = uri.path().trim_start_matches('/').splitn(5, '/').collect();
    let [org, name, "resolve", _, _] = parts.as_slice() else {
        return None;
    };
    let inner = lock(state);
    Some(
        inner
            .repos
            .get(&format!("{org}/{name}"))
            .map_or(std::time::Duration::ZERO, |r| r.resolve_delay),
    )
}

fn answer(state: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap) -> Response {
    let mut inner = lock(state);
    inner.requests.push(format!(
        "{method} {}",
        uri.path_and_query().map_or(uri.path(), |p| p.as_str())
    ));
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    if let Some(t) = &token {
        if !inner.tokens.contains(t) {
            return error(
                StatusCode::UNAUTHORIZED,
                None,
                "Invalid credentials in Authorization header",
            );
        }
    }
    let path = uri.path().trim_start_matches('/');
    let blobs = uri.query().is_some_and(|q| q.contains("blobs=true"));
    if let Some(repo_id) = path.strip_prefix("api/models/") {
        if *method != Method::GET {
            return error(StatusCode::METHOD_NOT_ALLOWED, None, "Method not allowed");
        }
        return model_info(&inner, repo_id, token.as_deref(), blobs);
    }
    // {org}/{name}/resolve/main/{file}
    let parts: Vec<&str> = path.splitn(5, '/').collect();
    if let [org, name, "resolve", _revision, file] = parts.as_slice() {
        let mut response = resolve(
            &inner,
            &format!("{org}/{name}"),
            file,
            token.as_deref(),
            *method == Method::GET,
        );
        response.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            header::HeaderValue::from_static("*"),
        );
        return response;
    }
    error(StatusCode::NOT_FOUND, None, "Not Found")
}

fn not_found(token: Option<&str>) -> Response {
    // Without a token the Hub cannot tell a private repo from a missing one.
    let status = if token.is_some() {
        StatusCode::NOT_FOUND
    } else {
        StatusCode::UNAUTHORIZED
    };
    error(status, Some("RepoNotFound"), "Repository not found")
}

fn visible<'a>(inner: &'a Inner, repo_id: &str, token: Option<&str>) -> Option<&'a FakeRepo> {
    inner
        .repos
        .get(repo_id)
        .filter(|r| !r.private || token.is_some_and(|t| r.granted.iter().any(|g| g == t)))
}

fn model_info(inner: &Inner, repo_id: &str, token: Option<&str>, blobs: bool) -> Response {
    let Some(repo) = visible(inner, repo_id, token) else {
        return not_found(token);
    };
    let gated = match repo.gate {
        Gate::Open => json!(false),
        Gate::Auto => json!("auto"),
        Gate::Manual => json!("manual"),
    };
    let siblings: Vec<Value> = repo
        .files
        .iter()
        .map(|(name, size)| {
            if blobs {
                json!({ "rfilename": name, "size": size, "blobId": format!("{:040x}", size) })
            } else {
                json!({ "rfilename": name })
            }
        })
        .collect();
    let total: u64 = repo.files.iter().map(|(_, s)| s).sum();
    let mut body = json!({
        "_id": "0123456789abcdef01234567",
        "id": repo_id,
        "modelId": repo_id,
        "private": repo.private,
        "gated": gated,
        "disabled": false,
        "library_name": "transformers",
        "pipeline_tag": "text-generation",
        "sha": "0e9e39f249a16976918f6564b8830bc894c89659",
        "siblings": siblings,
    });
    if blobs {
        body["usedStorage"] = json!(total);
    }
    Json(body).into_response()
}

fn resolve(
    inner: &Inner,
    repo_id: &str,
    file: &str,
    token: Option<&str>,
    with_body: bool,
) -> Response {
    let Some(repo) = visible(inner, repo_id, token) else {
        return not_found(token);
    };
    if repo.gate != Gate::Open && !token.is_some_and(|t| repo.granted.iter().any(|g| g == t)) {
        let status = if token.is_some() {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::UNAUTHORIZED
        };
        return error(
            status,
            Some("GatedRepo"),
            &format!("Access to model {repo_id} is restricted. You must have access to it and be authenticated to access it. Please log in."),
        );
    }
    match repo.files.iter().find(|(n, _)| n == file) {
        Some((_, size)) => {
            let etag = [(header::ETAG, format!("\"{size:x}\""))];
            match repo.texts.get(file).filter(|_| with_body) {
                Some(text) => (StatusCode::OK, etag, text.clone()).into_response(),
                None => (StatusCode::OK, etag).into_response(),
            }
        }
        None => error(
            StatusCode::NOT_FOUND,
            Some("EntryNotFound"),
            "Entry not found",
        ),
    }
}
