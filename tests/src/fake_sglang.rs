//! A local fake of the SGLang HTTP server's OpenAI-compatible surface, for
//! the launcher's readiness probe and end-to-end tests.
//!
//! Like SGLang started with `--api-key`, it requires `Authorization: Bearer`
//! on every route except `/health*` and `/metrics`. `/health_generate`
//! answers 503 until the configured [`Readiness`] is reached.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::server::ServerThread;

/// The model the fake serves unless configured otherwise.
pub const DEFAULT_SERVED_MODEL: &str = "meta-llama/Llama-3.1-8B-Instruct";

/// The assistant's reply to every chat completion.
pub const CANNED_REPLY: &str = "Hello from the fake SGLang server.";

/// When `/health_generate` starts answering 200.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    Immediately,
    /// The first N calls get 503.
    AfterCalls(u32),
    /// 503 until this long after the fake started (or readiness was last set).
    AfterDelay(Duration),
    /// Always 503: a server that never finishes loading.
    Never,
}

/// Configuration of a [`FakeSglang`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeSglangConfig {
    /// The id listed by `/v1/models` (SGLang's `--served-model-name`).
    pub served_model_name: String,
    /// When set, `Authorization: Bearer <key>` is required outside health and metrics.
    pub api_key: Option<String>,
    pub readiness: Readiness,
    /// Reported as `max_model_len` in `/v1/models`.
    pub context_length: u32,
    /// `max_total_num_tokens` in `/server_info`: the KV pool SGLang allocated.
    pub max_total_num_tokens: u64,
    /// `internal_states[0].memory_usage.weight` in `/server_info`, in thousandths of a
    /// GiB (SGLang rounds the GiB figure to 3 places).
    pub weight_milli_gib: u64,
    /// Play the SGLang Model Gateway (smg 1.13.0) in front of this many healthy
    /// workers: `/readiness` answers as smg does (200 `{"status":"ready",
    /// "healthy_workers":N,"total_workers":N}`, 503 with none), and completions are
    /// answered here as if a worker had. None: a plain SGLang server.
    pub gateway_workers: Option<u32>,
}

impl Default for FakeSglangConfig {
    fn default() -> Self {
        Self {
            served_model_name: DEFAULT_SERVED_MODEL.to_owned(),
            api_key: None,
            readiness: Readiness::Immediately,
            context_length: 8192,
            // An 8B BF16 model on one A10 (SGLang's own figures are read at launch).
            max_total_num_tokens: 40_000,
            weight_milli_gib: 14_990,
            gateway_workers: None,
        }
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SglangRequest {
    pub method: String,
    pub path: String,
    /// Whether the request carried the configured key (true when none is configured).
    pub authorized: bool,
    pub status: u16,
}

struct Inner {
    config: FakeSglangConfig,
    ready_since: Instant,
    health_generate_calls: u32,
    completions: u64,
    num_running_reqs: u32,
    /// When set, `/metrics` answers this status with no metrics (a failed server).
    metrics_status: Option<u16>,
    requests: Vec<SglangRequest>,
    /// Bodies of the chat completion requests, in order.
    chat_bodies: Vec<Value>,
    /// Gateway mode: the workers smg's metrics list, as (URL, healthy).
    gateway_worker_health: Vec<(String, bool)>,
}

type Shared = Arc<Mutex<Inner>>;

/// A running fake SGLang server.
pub struct FakeSglang {
    state: Shared,
    server: ServerThread,
}

impl std::fmt::Debug for FakeSglang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeSglang")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl FakeSglang {
    /// Starts the fake on 127.0.0.1 with an OS-assigned port.
    pub fn start(config: FakeSglangConfig) -> std::io::Result<Self> {
        let state: Shared = Arc::new(Mutex::new(Inner {
            config,
            ready_since: Instant::now(),
            health_generate_calls: 0,
            completions: 0,
            num_running_reqs: 0,
            metrics_status: None,
            requests: Vec::new(),
            chat_bodies: Vec::new(),
            gateway_worker_health: Vec::new(),
        }));
        let router = Router::new().fallback(handle).with_state(state.clone());
        let server = ServerThread::spawn("fake-sglang", router)?;
        Ok(Self { state, server })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// `http://127.0.0.1:<port>`; the OpenAI base URL is this plus `/v1`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr())
    }

    /// Changes readiness; delays count from now, call counts from zero.
    /// The JSON bodies of every `POST /v1/chat/completions` so far.
    pub fn chat_bodies(&self) -> Vec<Value> {
        self.lock().chat_bodies.clone()
    }

    pub fn set_readiness(&self, readiness: Readiness) {
        let mut state = self.lock();
        state.config.readiness = readiness;
        state.ready_since = Instant::now();
        state.health_generate_calls = 0;
    }

    /// The `sglang:num_running_reqs` gauge in `/metrics` (for idle detection).
    pub fn set_num_running_reqs(&self, n: u32) {
        self.lock().num_running_reqs = n;
    }

    /// Makes `/metrics` answer `status` (e.g. 401 or 500) instead of the metrics;
    /// `None` restores them.
    pub fn set_metrics_status(&self, status: Option<u16>) {
        self.lock().metrics_status = status;
    }

    /// Gateway mode: the workers and their health smg's metrics report
    /// (`smg_worker_health{worker="URL"} 1|0`, appended to `/metrics`; smg serves them
    /// on its own metrics port, which the fake ssh maps to this server).
    pub fn set_gateway_worker_health(&self, workers: Vec<(String, bool)>) {
        self.lock().gateway_worker_health = workers;
    }

    /// Calls to `/health_generate` since start or the last `set_readiness`.
    pub fn health_generate_calls(&self) -> u32 {
        self.lock().health_generate_calls
    }

    /// Chat completions answered.
    pub fn completions_served(&self) -> u64 {
        self.lock().completions
    }

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<SglangRequest> {
        self.lock().requests.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        lock(&self.state)
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, Inner> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let mut state = lock(&state);
    let authorized = match &state.config.api_key {
        None => true,
        Some(key) => headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .is_some_and(|given| given == key),
    };
    let open = path.starts_with("/health") || path.starts_with("/metrics") || path == "/readiness";

    let metrics_fault = state
        .metrics_status
        .filter(|_| path.starts_with("/metrics"))
        .and_then(|s| StatusCode::from_u16(s).ok());
    let response = if let Some(status) = metrics_fault {
        (status, Json(json!({ "error": status.to_string() }))).into_response()
    } else if !open && !authorized {
        (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "Unauthorized" })),
        )
            .into_response()
    } else {
        route(&mut state, &method, &path, &body)
    };

    state.requests.push(SglangRequest {
        method: method.to_string(),
        path,
        authorized,
        status: response.status().as_u16(),
    });
    response
}

fn route(state: &mut Inner, method: &Method, path: &str, body: &[u8]) -> Response {
    match (method.as_str(), path) {
        ("GET", "/health") => StatusCode::OK.into_response(),
        ("GET", "/readiness") if state.config.gateway_workers.is_some() => {
            let n = state.config.gateway_workers.unwrap_or(0);
            if n == 0 {
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    Json(json!({"status": "not ready", "reason": "insufficient healthy workers"})),
                )
                    .into_response()
            } else {
                Json(json!({"status": "ready", "healthy_workers": n, "total_workers": n}))
                    .into_response()
            }
        }
        ("GET", "/health_generate") => {
            state.health_generate_calls += 1;
            let ready = match state.config.readiness {
                Readiness::Immediately => true,
                Readiness::AfterCalls(n) => state.health_generate_calls > n,
                Readiness::AfterDelay(d) => state.ready_since.elapsed() >= d,
                Readiness::Never => false,
            };
            if ready {
                StatusCode::OK.into_response()
            } else {
                StatusCode::SERVICE_UNAVAILABLE.into_response()
            }
        }
        ("GET", "/v1/models") => Json(json!({
            "object": "list",
            "data": [{
                "id": state.config.served_model_name,
                "object": "model",
                "created": unix_now(),
                "owned_by": "sglang",
                "root": state.config.served_model_name,
                "max_model_len": state.config.context_length,
            }],
        }))
        .into_response(),
        ("POST", "/v1/chat/completions") => chat_completion(state, body),
        ("GET", "/server_info") => Json(server_info(&state.config)).into_response(),
        ("GET", "/metrics") => {
            let model = &state.config.served_model_name;
            let generated = state.completions * completion_tokens();
            let text = format!(
                "# HELP sglang:num_running_reqs The number of running requests.\n\
                 # TYPE sglang:num_running_reqs gauge\n\
                 sglang:num_running_reqs{{model_name=\"{model}\"}} {running}.0\n\
                 # HELP sglang:num_queue_reqs The number of requests in the waiting queue.\n\
                 # TYPE sglang:num_queue_reqs gauge\n\
                 sglang:num_queue_reqs{{model_name=\"{model}\"}} 0.0\n\
                 # HELP sglang:token_usage The token usage.\n\
                 # TYPE sglang:token_usage gauge\n\
                 sglang:token_usage{{model_name=\"{model}\"}} 0.0\n\
                 # HELP sglang:generation_tokens_total Number of generation tokens processed.\n\
                 # TYPE sglang:generation_tokens_total counter\n\
                 sglang:generation_tokens_total{{model_name=\"{model}\"}} {generated}.0\n",
                running = state.num_running_reqs,
            );
            let mut text = text;
            for (url, healthy) in &state.gateway_worker_health {
                text.push_str(&format!(
                    "smg_worker_health{{worker=\"{url}\"}} {}\n",
                    u8::from(*healthy)
                ));
            }
            (
                [(
                    header::CONTENT_TYPE,
                    "text/plain; version=0.0.4; charset=utf-8",
                )],
                text,
            )
                .into_response()
        }
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({ "detail": "Not Found" })),
        )
            .into_response(),
    }
}

/// `/server_info` in SGLang 0.5.23's shape (`entrypoints/http_server.py`): the resolved
/// server args, `launch_command`, the scheduler's init info (`max_total_num_tokens`,
/// `max_req_input_len`), and `internal_states` per DP rank with `memory_usage`
/// (`managers/scheduler_components/memory_usage.py`).
fn server_info(config: &FakeSglangConfig) -> Value {
    let weight = config.weight_milli_gib as f64 / 1000.0;
    let tokens = config.max_total_num_tokens;
    json!({
        "model_path": config.served_model_name,
        "served_model_name": config.served_model_name,
        "tp_size": 1,
        "context_length": config.context_length,
        "mem_fraction_static": 0.69,
        "chunked_prefill_size": 4096,
        "cuda_graph_max_bs": 48,
        "attention_backend": "flashinfer",
        "api_key": null,
        "launch_command": "python -m sglang.launch_server --model-path ...",
        "status": "ready",
        "max_total_num_tokens": tokens,
        "max_req_input_len": config.context_length.saturating_sub(5),
        "startup_time": 1.0e9,
        "kv_events": null,
        "internal_states": [{
            "world_size": 1,
            "startup_time": 1.0e9,
            "effective_max_running_requests_per_dp": 48,
            "last_gen_throughput": 0.0,
            "memory_usage": {
                "weight": weight,
                "kvcache": 0.5,
                "startup_available": 21.5,
                "token_capacity": tokens,
                "token_capacity_swa": null,
                "graph": {"decode": 0.3},
            },
        }],
        "version": "0.5.23",
        "frontend": "python",
    })
}

fn chat_completion(state: &mut Inner, body: &[u8]) -> Response {
    let request: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    state.chat_bodies.push(request.clone());
    let Some(messages) = request
        .get("messages")
        .and_then(Value::as_array)
        .filter(|m| !m.is_empty())
    else {
        return (
            StatusCode::BAD_REQUEST,
            Json(json!({
                "object": "error",
                "message": "messages: a non-empty list of messages is required",
                "type": "BadRequestError",
                "param": null,
                "code": 400,
            })),
        )
            .into_response();
    };
    state.completions += 1;
    let prompt_tokens: u64 = messages
        .iter()
        .filter_map(|m| m.get("content").and_then(Value::as_str))
        .map(|c| c.split_whitespace().count() as u64 + 4)
        .sum();
    let id = format!("chatcmpl-fake-{}", state.completions);
    let model = state.config.served_model_name.clone();
    let created = unix_now();

    if request.get("stream").and_then(Value::as_bool) == Some(true) {
        let chunk = json!({
            "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": CANNED_REPLY},
                         "finish_reason": "stop"}],
        });
        return (
            [(header::CONTENT_TYPE, "text/event-stream")],
            format!("data: {chunk}\n\ndata: [DONE]\n\n"),
        )
            .into_response();
    }
    Json(json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": CANNED_REPLY},
            "finish_reason": "stop",
        }],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens(),
            "total_tokens": prompt_tokens + completion_tokens(),
        },
    }))
    .into_response()
}

fn completion_tokens() -> u64 {
    CANNED_REPLY.split_whitespace().count() as u64
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    //! The fake SGLang on its own, over real HTTP on loopback.

    use super::*;

    fn sglang(config: FakeSglangConfig) -> FakeSglang {
        FakeSglang::start(config).expect("start fake SGLang")
    }

    #[tokio::test]
    async fn sglang_health_generate_waits_for_readiness() {
        let server = sglang(FakeSglangConfig {
            readiness: Readiness::AfterCalls(2),
            ..FakeSglangConfig::default()
        });
        let http = reqwest::Client::new();
        let status = |path: &'static str| {
            let request = http.get(format!("{}{path}", server.url()));
            async move { request.send().await.unwrap().status().as_u16() }
        };
        assert_eq!(status("/health").await, 200);
        assert_eq!(status("/health_generate").await, 503);
        assert_eq!(status("/health_generate").await, 503);
        assert_eq!(status("/health_generate").await, 200);
        assert_eq!(server.health_generate_calls(), 3);

        server.set_readiness(Readiness::Never);
        for _ in 0..5 {
            assert_eq!(status("/health_generate").await, 503);
        }
        server.set_readiness(Readiness::AfterDelay(Duration::from_millis(400)));
        assert_eq!(status("/health_generate").await, 503);
        tokio::time::sleep(Duration::from_millis(420)).await;
        assert_eq!(status("/health_generate").await, 200);
    }

    #[tokio::test]
    async fn sglang_requires_the_key_on_v1_only() {
        let server = sglang(FakeSglangConfig {
            api_key: Some("sglang-key".to_owned()),
            ..FakeSglangConfig::default()
        });
        let http = reqwest::Client::new();
        let models = format!("{}/v1/models", server.url());

        let anonymous = http.get(&models).send().await.unwrap();
        assert_eq!(anonymous.status().as_u16(), 401);
        let wrong = http.get(&models).bearer_auth("nope").send().await.unwrap();
        assert_eq!(wrong.status().as_u16(), 401);
        for open in ["/health", "/health_generate", "/metrics"] {
            let response = http
                .get(format!("{}{open}", server.url()))
                .send()
                .await
                .unwrap();
            assert_eq!(response.status().as_u16(), 200, "{open}");
        }

        let listed: serde_json::Value = http
            .get(&models)
            .bearer_auth("sglang-key")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(listed["object"], "list");
        assert_eq!(listed["data"][0]["id"], DEFAULT_SERVED_MODEL);
        assert_eq!(listed["data"][0]["object"], "model");
        let authorized: Vec<bool> = server.requests().iter().map(|r| r.authorized).collect();
        assert_eq!(authorized, [false, false, false, false, false, true]);
    }

    #[tokio::test]
    async fn sglang_chat_completion_and_metrics() {
        let server = sglang(FakeSglangConfig {
            served_model_name: "llama-3.1-70b".to_owned(),
            ..FakeSglangConfig::default()
        });
        let http = reqwest::Client::new();
        let completion: serde_json::Value = http
            .post(format!("{}/v1/chat/completions", server.url()))
            .json(&serde_json::json!({
                "model": "llama-3.1-70b",
                "messages": [{"role": "user", "content": "Say hello"}],
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(completion["object"], "chat.completion");
        assert_eq!(completion["model"], "llama-3.1-70b");
        assert_eq!(completion["choices"][0]["message"]["content"], CANNED_REPLY);
        assert!(completion["usage"]["total_tokens"].as_u64().unwrap() > 0);
        assert_eq!(server.completions_served(), 1);

        let bad = http
            .post(format!("{}/v1/chat/completions", server.url()))
            .json(&serde_json::json!({"model": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(bad.status().as_u16(), 400);

        server.set_num_running_reqs(3);
        let metrics = http
            .get(format!("{}/metrics", server.url()))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            metrics.contains("# TYPE sglang:num_running_reqs gauge"),
            "{metrics}"
        );
        assert!(
            metrics.contains("sglang:num_running_reqs{model_name=\"llama-3.1-70b\"} 3.0"),
            "{metrics}"
        );
        assert!(metrics.contains("sglang:generation_tokens_total"));
    }
}
