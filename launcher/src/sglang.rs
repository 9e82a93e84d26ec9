//! The launcher's SGLang client: how `launch` asks a server it started whether it is
//! ready, and the example request it prints. SGLang's OpenAI-compatible server
//! answers `GET /health_generate` (200 once a generation succeeds) and
//! `GET /v1/models` (bearer-authenticated, `{"data": [{"id": ...}]}`), per its
//! `sglang/srt/entrypoints/http_server.py`.

use std::time::Duration;

use anyhow::Context as _;

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
    fn curl_example() {
        let curl = example_curl("http://127.0.0.1:1/v1", "k", "m");
        assert!(curl.starts_with("curl http://127.0.0.1:1/v1/chat/completions \\\n"));
        assert!(curl.contains("-H 'Authorization: Bearer k'"));
        assert!(curl.contains(r#""model":"m""#), "{curl}");
    }
}
