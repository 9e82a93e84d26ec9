//! The HTTP client for the Lambda Cloud API v1.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::{header, Method, Url};
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::auth::ApiKey;
use crate::error::LambdaError;
use crate::retry::{parse_retry_after, ClientOptions};
use crate::types::{
    DataEnvelope, FileSystem, Instance, InstanceTypes, LaunchRequest, LaunchResponse, SshKey,
    TerminateRequest, TerminateResponse,
};

/// Production endpoint of the Lambda Cloud API.
pub const DEFAULT_BASE_URL: &str = "https://cloud.lambda.ai/api/v1";

/// Environment variable that overrides [`DEFAULT_BASE_URL`] (tests point it at a fake).
pub const BASE_URL_ENV: &str = "LAMBDA_API_URL";

/// The API base URL: `$LAMBDA_API_URL` if set and non-empty, else [`DEFAULT_BASE_URL`].
pub fn resolve_base_url() -> String {
    std::env::var(BASE_URL_ENV)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned())
}

/// Looks by name after a launch whose answer was lost, before launching again (a
/// second instance would bill twice and share the first one's hostname): three looks
/// with the retry back-off between them.
const LOOKUPS_BEFORE_RELAUNCH: u32 = 3;

/// A Lambda Cloud API client.
///
/// Retries 429, 5xx and transport failures with jittered exponential backoff
/// (honouring `Retry-After`), never other 4xx. Launch calls are spaced at
/// least [`ClientOptions::launch_interval`] apart and serialised, since Lambda
/// allows only one every 12 seconds.
#[derive(Debug)]
pub struct LambdaClient {
    http: reqwest::Client,
    base: Url,
    key: ApiKey,
    options: ClientOptions,
    /// When the last launch request went out; held for the whole launch so
    /// concurrent launches queue behind each other.
    last_launch: Mutex<Option<Instant>>,
}

/// A failed attempt, with the server's `Retry-After` if it sent one.
struct Failure {
    error: LambdaError,
    retry_after: Option<Duration>,
}

impl From<LambdaError> for Failure {
    fn from(error: LambdaError) -> Self {
        Self {
            error,
            retry_after: None,
        }
    }
}

impl LambdaClient {
    /// A client for the API at `base_url` (e.g. the result of
    /// [`resolve_base_url`]).
    ///
    /// The URL must be `https`, or `http` to a loopback address (a local fake):
    /// the key is never sent in clear text across a network.
    pub fn new(base_url: &str, key: ApiKey, options: ClientOptions) -> Result<Self, LambdaError> {
        let base = parse_base_url(base_url)?;
        let mut builder = reqwest::Client::builder()
            .timeout(options.request_timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("gpu-session/", env!("CARGO_PKG_VERSION")));
        if is_loopback(&base) {
            // A proxy from the environment must not intercept a local fake.
            builder = builder.no_proxy();
        }
        let http = builder.build().map_err(|e| LambdaError::Transport {
            endpoint: "client setup".into(),
            detail: error_chain(&e),
            connect: false,
        })?;
        Ok(Self {
            http,
            base,
            key,
            options,
            last_launch: Mutex::new(None),
        })
    }

    /// The base URL requests go to.
    pub fn base_url(&self) -> &str {
        self.base.as_str()
    }

    /// The options the client was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// `GET /instance-types`: every instance type with price, specs and the
    /// regions that currently have capacity.
    pub async fn list_instance_types(&self) -> Result<InstanceTypes, LambdaError> {
        self.call(Method::GET, &["instance-types"], None).await
    }

    /// `GET /instances`: the account's running instances.
    pub async fn list_instances(&self) -> Result<Vec<Instance>, LambdaError> {
        self.call(Method::GET, &["instances"], None).await
    }

    /// `GET /instances/{id}`.
    pub async fn get_instance(&self, id: &str) -> Result<Instance, LambdaError> {
        let id = non_empty_id(id)?;
        self.call(Method::GET, &["instances", id], None).await
    }

    /// `POST /instance-operations/launch`: starts one instance.
    ///
    /// The request is validated first. Launches wait for the launch interval.
    /// A 429 or a connection that never opened is retried: the API did not act.
    /// A 5xx or a timeout is ambiguous (the instance may exist), so when the
    /// request has a `name` the client looks for a live instance with that
    /// name and returns it instead of launching a second one; without a name
    /// it does not retry, and the caller must check `list_instances`.
    pub async fn launch(&self, request: &LaunchRequest) -> Result<LaunchResponse, LambdaError> {
        request.validate()?;
        let body = to_json(request)?;
        let url = self.url(&["instance-operations", "launch"])?;
        let policy = &self.options.retry;

        let mut last_launch = self.last_launch.lock().await;
        let mut retry = 0;
        loop {
            if let Some(previous) = *last_launch {
                tokio::time::sleep_until(previous + self.options.launch_interval).await;
            }
            let outcome = self
                .attempt::<LaunchResponse>(Method::POST, &url, Some(&body))
                .await;
            // Stamped once the exchange is over: the server counted the call
            // at some point before this, so the next one is never early.
            *last_launch = Some(Instant::now());

            let failure = match outcome {
                Ok(response) if response.instance_ids.is_empty() => {
                    return Err(LambdaError::Decode {
                        endpoint: endpoint_label(&Method::POST, &url),
                        detail: "launch succeeded but returned no instance ID".into(),
                    })
                }
                Ok(response) => return Ok(response),
                Err(failure) => failure,
            };

            let error = &failure.error;
            let ambiguous = error.is_server_error()
                || matches!(error, LambdaError::Transport { connect: false, .. });
            if ambiguous {
                let Some(name) = request.name.as_deref() else {
                    return Err(failure.error);
                };
                // If the lookup itself fails, relaunching could orphan an
                // instance, so report the original error instead.
                match self.find_created(name).await {
                    Ok(Some(id)) => {
                        return Ok(LaunchResponse {
                            instance_ids: vec![id],
                        })
                    }
                    Ok(None) => {}
                    Err(_) => return Err(failure.error),
                }
            }
            if !failure.error.is_retryable() || retry + 1 >= policy.max_attempts {
                return Err(failure.error);
            }
            retry += 1;
            tokio::time::sleep(policy.delay(retry, failure.retry_after)).await;
        }
    }

    /// `POST /instance-operations/terminate`: returns the instances now terminating.
    /// Safe to retry, so it is retried like a read.
    pub async fn terminate(&self, instance_ids: &[String]) -> Result<Vec<Instance>, LambdaError> {
        if instance_ids.is_empty() {
            return Ok(Vec::new());
        }
        for id in instance_ids {
            non_empty_id(id)?;
        }
        let body = to_json(&TerminateRequest {
            instance_ids: instance_ids.to_vec(),
        })?;
        let response: TerminateResponse = self
            .call(
                Method::POST,
                &["instance-operations", "terminate"],
                Some(body),
            )
            .await?;
        Ok(response.terminated_instances)
    }

    /// `GET /ssh-keys`.
    pub async fn list_ssh_keys(&self) -> Result<Vec<SshKey>, LambdaError> {
        self.call(Method::GET, &["ssh-keys"], None).await
    }

    /// `GET /images`: every image, per region and architecture.
    pub async fn list_images(&self) -> Result<Vec<super::images::Image>, LambdaError> {
        self.call(Method::GET, &["images"], None).await
    }

    /// `GET /file-systems`.
    pub async fn list_file_systems(&self) -> Result<Vec<FileSystem>, LambdaError> {
        self.call(Method::GET, &["file-systems"], None).await
    }

    /// After an ambiguous launch failure: the instance named `name` if it was created.
    /// Looks [`LOOKUPS_BEFORE_RELAUNCH`] times, backing off between looks, because the
    /// list can lag the launch and one empty answer is not proof.
    async fn find_created(&self, name: &str) -> Result<Option<String>, LambdaError> {
        for look in 1..=LOOKUPS_BEFORE_RELAUNCH {
            if let Some(id) = self.find_live_by_name(name).await? {
                return Ok(Some(id));
            }
            if look < LOOKUPS_BEFORE_RELAUNCH {
                tokio::time::sleep(self.options.retry.delay(look, None)).await;
            }
        }
        Ok(None)
    }

    async fn find_live_by_name(&self, name: &str) -> Result<Option<String>, LambdaError> {
        Ok(self
            .list_instances()
            .await?
            .into_iter()
            .find(|i| i.name.as_deref() == Some(name) && !i.status.is_gone())
            .map(|i| i.id))
    }

    /// One request with retries, for calls that are safe to repeat.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<serde_json::Value>,
    ) -> Result<T, LambdaError> {
        let url = self.url(segments)?;
        let policy = &self.options.retry;
        let mut retry = 0;
        loop {
            match self.attempt(method.clone(), &url, body.as_ref()).await {
                Ok(value) => return Ok(value),
                Err(failure) if failure.error.is_retryable() && retry + 1 < policy.max_attempts => {
                    retry += 1;
                    tokio::time::sleep(policy.delay(retry, failure.retry_after)).await;
                }
                Err(failure) => return Err(failure.error),
            }
        }
    }

    /// One request, never repeated: for calls that could act twice.
    pub(crate) async fn call_once<T: DeserializeOwned>(
        &self,
        method: Method,
        segments: &[&str],
        body: Option<serde_json::Value>,
    ) -> Result<T, LambdaError> {
        let url = self.url(segments)?;
        self.attempt(method, &url, body.as_ref())
            .await
            .map_err(|failure| failure.error)
    }

    /// One HTTP exchange, decoded into `T` or into a [`Failure`].
    async fn attempt<T: DeserializeOwned>(
        &self,
        method: Method,
        url: &Url,
        body: Option<&serde_json::Value>,
    ) -> Result<T, Failure> {
        let endpoint = endpoint_label(&method, url);
        let mut request = self
            .http
            .request(method, url.clone())
            .bearer_auth(self.key.expose_secret())
            .header(header::ACCEPT, "application/json");
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| self.transport_error(&endpoint, &e))?;

        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let text = response
            .text()
            .await
            .map_err(|e| self.transport_error(&endpoint, &e))?;

        if !status.is_success() {
            let redact = |s: &str| self.key.redact(s);
            return Err(Failure {
                error: LambdaError::from_response(status.as_u16(), &text, redact),
                retry_after,
            });
        }
        serde_json::from_str::<DataEnvelope<T>>(&text)
            .map(|envelope| envelope.data)
            .map_err(|e| {
                LambdaError::Decode {
                    endpoint,
                    detail: self.key.redact(&e.to_string()),
                }
                .into()
            })
    }

    fn transport_error(&self, endpoint: &str, error: &reqwest::Error) -> Failure {
        LambdaError::Transport {
            endpoint: endpoint.to_owned(),
            detail: self.key.redact(&error_chain(error)),
            connect: error.is_connect(),
        }
        .into()
    }

    fn url(&self, segments: &[&str]) -> Result<Url, LambdaError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| LambdaError::InvalidBaseUrl {
                url: self.base.to_string(),
                reason: "cannot hold a path".into(),
            })?
            .pop_if_empty()
            .extend(segments);
        Ok(url)
    }
}

fn parse_base_url(raw: &str) -> Result<Url, LambdaError> {
    let invalid = |reason: &str| LambdaError::InvalidBaseUrl {
        url: raw.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(raw.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not contain credentials"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid("must not have a query or fragment"));
    }
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => {
            return Err(invalid(
                "plain http is only allowed to a loopback address; the API key would travel unencrypted",
            ))
        }
        _ => return Err(invalid("must be an http(s) URL")),
    }
    if url.host_str().is_none() {
        return Err(invalid("has no host"));
    }
    Ok(url)
}

fn is_loopback(url: &Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

fn non_empty_id(id: &str) -> Result<&str, LambdaError> {
    let id = id.trim();
    if id.is_empty() {
        Err(LambdaError::InvalidRequest("instance ID is empty".into()))
    } else {
        Ok(id)
    }
}

fn to_json(value: &impl Serialize) -> Result<serde_json::Value, LambdaError> {
    serde_json::to_value(value).map_err(|e| LambdaError::InvalidRequest(e.to_string()))
}

/// `POST /api/v1/instance-operations/launch`-style label for messages.
fn endpoint_label(method: &Method, url: &Url) -> String {
    format!("{method} {url}")
}

/// The error and its causes on one line: reqwest's own message alone ("error
/// sending request") hides the useful part ("connection refused").
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_url_rules() {
        for ok in [
            DEFAULT_BASE_URL,
            "https://cloud.lambda.ai/api/v1/",
            "http://127.0.0.1:8080/api/v1",
            "http://localhost:1/api/v1",
            "http://[::1]:9/api/v1",
        ] {
            parse_base_url(ok).unwrap();
        }
        for (bad, needle) in [
            ("http://cloud.lambda.ai/api/v1", "loopback"),
            ("ftp://127.0.0.1/x", "http(s)"),
            ("not a url", "invalid Lambda API URL"),
            ("https://user:pw@cloud.lambda.ai/api/v1", "credentials"),
            ("https://cloud.lambda.ai/api/v1?x=1", "query"),
        ] {
            let err = parse_base_url(bad).unwrap_err().to_string();
            assert!(err.contains(needle), "{bad}: {err}");
        }
    }

    #[test]
    fn endpoint_urls_join_and_escape_segments() {
        let key = ApiKey::new("k").unwrap();
        for base in [
            "https://cloud.lambda.ai/api/v1",
            "https://cloud.lambda.ai/api/v1/",
        ] {
            let client = LambdaClient::new(base, key.clone(), ClientOptions::default()).unwrap();
            assert_eq!(
                client.url(&["instances", "a/b?c"]).unwrap().as_str(),
                "https://cloud.lambda.ai/api/v1/instances/a%2Fb%3Fc"
            );
        }
    }

    #[test]
    fn client_debug_hides_the_key() {
        let client = LambdaClient::new(
            DEFAULT_BASE_URL,
            ApiKey::new("secret_visible_nowhere").unwrap(),
            ClientOptions::default(),
        )
        .unwrap();
        assert!(!format!("{client:?}").contains("secret_visible_nowhere"));
    }
}
