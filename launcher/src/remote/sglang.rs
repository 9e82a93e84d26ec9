//! The launcher's SGLang client: how `launch` asks a server it started whether it is
//! ready, and the example request it prints. SGLang's OpenAI-compatible server
//! answers `GET /health_generate` (200 once a generation succeeds) and
//! `GET /v1/models` (bearer-authenticated, `{"data": [{"id": ...}]}`), per its
//! `sglang/srt/entrypoints/http_server.py`. Once ready, `launch` sends one real
//! 1-token chat completion and reads `/server_info` to compare core's estimate with
//! what SGLang allocated.

use std::time::Duration;

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

/// How long one readiness request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An SGLang server at `base` (e.g. `http://127.0.0.1:PORT`, through a tunnel).
#[derive(Debug)]
pub struct SglangClient {
    http: reqwest::Client,
    base: String,
    api_key: String,
}

impl SglangClient {
    /// A client for the server at `base` (no trailing `/`) that requires `api_key`.
    pub fn new(base: &str, api_key: &str) -> anyhow::Result<SglangClient> {
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("could not build an HTTP client")?;
        Ok(SglangClient {
            http,
            base: base.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
        })
    }

    /// The OpenAI-compatible endpoint users talk to: `<base>/v1`.
    pub fn endpoint(&self) -> String {
        format!("{}/v1", self.base)
    }

    /// One readiness check: `/health_generate` 200 and `model_id` listed by
    /// `/v1/models`. The error says what is not ready yet.
    pub async fn ready(&self, model_id: &str) -> Result<(), String> {
        let base = &self.base;
        let health = self
            .http
            .get(format!("{base}/health_generate"))
            .send()
            .await
            .map_err(|e| format!("health check failed: {e}"))?;
        if !health.status().is_success() {
            return Err(format!("/health_generate answered {}", health.status()));
        }
        let models = self
            .http
            .get(format!("{base}/v1/models"))
            .bearer_auth(&self.api_key)
            .send()
            .await
            .map_err(|e| format!("/v1/models failed: {e}"))?;
        if !models.status().is_success() {
            return Err(format!("/v1/models answered {}", models.status()));
        }
        let body: serde_json::Value = models
            .json()
            .await
            .map_err(|e| format!("/v1/models is not JSON: {e}"))?;
        if serves(&body, model_id) {
            Ok(())
        } else {
            Err(format!("/v1/models does not list {model_id}"))
        }
    }

    /// The gateway's view (smg 1.13.0 `GET /readiness`): healthy and registered
    /// workers; an error while it has none or does not answer.
    pub async fn gateway_workers(&self) -> Result<(u64, u64), String> {
        let response = self
            .http
            .get(format!("{}/readiness", self.base))
            .send()
            .await
            .map_err(|e| format!("the gateway's /readiness failed: {e}"))?;
        let status = response.status();
        let body: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("the gateway's /readiness is not JSON: {e}"))?;
        if !status.is_success() {
            return Err(format!(
                "the gateway is not ready ({status}): {}",
                body["reason"].as_str().unwrap_or("no reason given")
            ));
        }
        match (
            body["healthy_workers"].as_u64(),
            body["total_workers"].as_u64(),
        ) {
            (Some(healthy), Some(total)) => Ok((healthy, total)),
            _ => Err("the gateway's /readiness has no worker counts".to_owned()),
        }
    }

    /// Sends one real 1-token chat completion for `model_id`: the end of readiness.
    pub async fn complete_one_token(&self, model_id: &str) -> Result<(), String> {
        let body = serde_json::json!({
            "model": model_id,
            "messages": [{"role": "user", "content": "Say OK."}],
            "max_tokens": 1,
        });
        let response = self
            .http
            .post(format!("{}/v1/chat/completions", self.base))
            .bearer_auth(&self.api_key)
            .json(&body)
            .send()
            .await
            .map_err(|e| format!("the test completion failed: {e}"))?;
        let status = response.status();
        if !status.is_success() {
            return Err(format!("the test completion answered {status}"));
        }
        let value: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("the test completion is not JSON: {e}"))?;
        if value["choices"].as_array().is_some_and(|c| !c.is_empty()) {
            Ok(())
        } else {
            Err("the test completion returned no choices".to_owned())
        }
    }

    /// Reads [`Actual`] from `/server_info` (the deprecated `/get_server_info` is not
    /// used).
    pub async fn server_info(&self) -> Result<Actual, String> {
        let response = self
            .http
            .get(format!("{}/server_info", self.base))
            .bearer_auth(&self.api_key)
            .send()
            .await
            .map_err(|e| format!("/server_info failed: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("/server_info answered {}", response.status()));
        }
        let v: serde_json::Value = response
            .json()
            .await
            .map_err(|e| format!("/server_info is not JSON: {e}"))?;
        actual_from_server_info(&v)
    }
}

/// What SGLang really allocated, from `GET /server_info` (SGLang 0.5.23
/// `entrypoints/http_server.py`; `memory_usage` from
/// `managers/scheduler_components/memory_usage.py`, GiB rounded to 3 places).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Actual {
    pub kv_pool_tokens: u64,
    pub weights_gib: f64,
}

/// [`Actual`] from a `/server_info` answer.
fn actual_from_server_info(v: &serde_json::Value) -> Result<Actual, String> {
    let kv_pool_tokens = v["max_total_num_tokens"]
        .as_u64()
        .ok_or("/server_info has no max_total_num_tokens")?;
    let weights_gib = v["internal_states"][0]["memory_usage"]["weight"]
        .as_f64()
        .ok_or("/server_info has no internal_states[0].memory_usage.weight")?;
    Ok(Actual {
        kv_pool_tokens,
        weights_gib,
    })
}

/// Whether a `/v1/models` answer lists `model_id`.
fn serves(models: &serde_json::Value, model_id: &str) -> bool {
    models["data"]
        .as_array()
        .is_some_and(|d| d.iter().any(|m| m["id"] == model_id))
}

/// A `curl` command that sends one chat message to `endpoint` (an `.../v1` URL).
pub fn example_curl(endpoint: &str, api_key: &str, model_id: &str) -> String {
    let body = serde_json::json!({
        "model": model_id,
        "messages": [{"role": "user", "content": "Hello!"}],
    });
    format!(
        "curl {endpoint}/chat/completions \\\n  -H 'Authorization: Bearer {api_key}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{body}'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn models_listing() {
        let listing = serde_json::json!({"object": "list", "data": [{"id": "a"}, {"id": "b"}]});
        assert!(serves(&listing, "b"));
        assert!(!serves(&listing, "c"));
        assert!(!serves(&serde_json::json!({"data": null}), "a"));
    }

    #[test]
    fn server_info_fields() {
        let info = serde_json::json!({
            "max_total_num_tokens": 123456,
            "internal_states": [{"memory_usage": {"weight": 14.97, "kvcache": 50.1}}],
        });
        assert_eq!(
            actual_from_server_info(&info),
            Ok(Actual {
                kv_pool_tokens: 123456,
                weights_gib: 14.97
            })
        );
        let err =
            actual_from_server_info(&serde_json::json!({"max_total_num_tokens": 1})).unwrap_err();
        assert!(err.contains("memory_usage.weight"), "{err}");
    }

    #[test]
    fn curl_example() {
        let curl = example_curl("http://127.0.0.1:1/v1", "k", "m");
        assert!(curl.starts_with("curl http://127.0.0.1:1/v1/chat/completions \\\n"));
        assert!(curl.contains("-H 'Authorization: Bearer k'"));
        assert!(curl.contains(r#""model":"m""#), "{curl}");
    }
}
