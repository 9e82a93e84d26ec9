//! A local fake of the Lambda Cloud API v1 (spec 1.8.3), for tests.
//!
//! It follows the spec's shapes and error codes, keeps instances in memory
//! with a booting → active state machine, enforces the launch rate limit, and
//! can inject faults (429/5xx, unhealthy or never-ready instances, lost launch
//! responses). Everything it receives is recorded for inspection.
//!
//! The server runs on its own thread and runtime, so it serves both async
//! tests and synchronous ones that block on a child process (the CLI
//! end-to-end tests). It listens on 127.0.0.1 only and stops when dropped.
//!
//! Its JSON is written by hand rather than with the client's types, so a
//! field-name mistake in the client cannot hide behind the same mistake here.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde_json::{json, Map, Value};

use crate::server::ServerThread;

/// The key the fake accepts unless configured otherwise.
pub const DEFAULT_API_KEY: &str = "fake-lambda-key-0123456789abcdef";

/// Path prefix of every endpoint, as on `cloud.lambda.ai`.
pub const API_PREFIX: &str = "/api/v1";

/// Error code the fake uses for HTTP 429. The spec documents the 429 status
/// only in prose, without a code, so clients must branch on the status.
pub const RATE_LIMITED_CODE: &str = "global/too-many-requests";

/// Largest `user_data` the API accepts.
const MAX_USER_DATA_BYTES: usize = 1024 * 1024;

/// Region codes of the spec's `PublicRegionCode`, with a location.
const REGIONS: &[(&str, &str)] = &[
    ("europe-central-1", "Germany"),
    ("asia-south-1", "India"),
    ("australia-east-1", "Australia"),
    ("me-west-1", "Israel"),
    ("asia-northeast-1", "Osaka, Japan"),
    ("asia-northeast-2", "Tokyo, Japan"),
    ("us-east-1", "Virginia, USA"),
    ("us-west-2", "Arizona, USA"),
    ("us-west-1", "California, USA"),
    ("us-south-1", "Texas, USA"),
    ("us-west-3", "Utah, USA"),
    ("us-midwest-1", "Illinois, USA"),
    ("us-east-2", "Washington DC, USA"),
    ("us-south-2", "North Texas, USA"),
    ("us-south-3", "Central Texas, USA"),
    ("us-east-3", "Virginia, USA"),
    ("us-midwest-2", "Ohio, USA"),
];

/// Fields of the spec's `InstanceLaunchRequest`, plus the legacy `quantity`.
/// Anything else is rejected, so a misspelt field fails loudly in tests.
const LAUNCH_FIELDS: &[&str] = &[
    "region_name",
    "instance_type_name",
    "ssh_key_names",
    "file_system_names",
    "file_system_mounts",
    "hostname",
    "name",
    "image",
    "user_data",
    "tags",
    "firewall_rulesets",
    "quantity",
];

/// Image families served by `GET /images` in every region for x86_64 (families seen
/// in Lambda's `GET /images`, reference facts 2026-12).
pub const X86_IMAGE_FAMILIES: &[&str] = &[
    "lambda-stack-22-04",
    "lambda-stack-24-04",
    "gpu-base-22-04",
    "gpu-base-24-04",
    "ubuntu-22-04",
    "ubuntu-24-04",
];
/// GH200's region: arm64 images exist only here, and only the Lambda Stack families.
pub const ARM64_REGION: &str = "us-east-3";
pub const ARM64_IMAGE_FAMILIES: &[&str] = &["lambda-stack-22-04", "lambda-stack-24-04"];

/// An instance type offered by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeInstanceType {
    pub name: String,
    pub description: String,
    pub gpu_description: String,
    pub price_cents_per_hour: u64,
    pub vcpus: u32,
    pub memory_gib: u32,
    pub storage_gib: u32,
    pub gpus: u32,
    /// Regions where a launch succeeds; elsewhere it fails with
    /// `instance-operations/launch/insufficient-capacity`.
    pub regions_with_capacity: Vec<String>,
}

impl FakeInstanceType {
    /// A type with `gpus` GPUs described as `gpu_description` and the given capacity.
    pub fn new(
        name: &str,
        gpus: u32,
        gpu_description: &str,
        price_cents_per_hour: u64,
        regions_with_capacity: &[&str],
    ) -> Self {
        Self {
            name: name.to_owned(),
            description: format!("{gpus}x {gpu_description}"),
            gpu_description: gpu_description.to_owned(),
            price_cents_per_hour,
            vcpus: 30 * gpus,
            memory_gib: 200 * gpus,
            storage_gib: 1024 * gpus,
            gpus,
            regions_with_capacity: regions_with_capacity
                .iter()
                .map(|r| (*r).to_owned())
                .collect(),
        }
    }
}

/// A persistent filesystem known to the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeFileSystem {
    pub name: String,
    pub region: String,
}

/// When a booting instance becomes active (or whatever its [`Fate`] says).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Boot {
    /// The instance reports `booting` to the first N observations (GET by id
    /// or appearing in the list), then moves on; `AfterPolls(0)` is immediate.
    AfterPolls(u32),
    /// The instance moves on once this long has passed since launch.
    AfterDuration(Duration),
}

/// What a launched instance turns into once booted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fate {
    /// `booting` → `active`, with an IP.
    #[default]
    Active,
    /// `booting` → `unhealthy`, with an IP.
    Unhealthy,
    /// Stays `booting` forever.
    NeverActive,
}

/// Instance status, as spelled by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Booting,
    Active,
    Unhealthy,
    Terminating,
    Terminated,
    Preempted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Booting => "booting",
            Status::Active => "active",
            Status::Unhealthy => "unhealthy",
            Status::Terminating => "terminating",
            Status::Terminated => "terminated",
            Status::Preempted => "preempted",
        }
    }

    /// Termination was requested or happened: the instance is no longer the
    /// user's responsibility.
    pub fn is_gone(self) -> bool {
        matches!(
            self,
            Status::Terminating | Status::Terminated | Status::Preempted
        )
    }
}

/// Starting configuration of a [`FakeLambda`]. Most of it can also be changed
/// while the fake runs.
#[derive(Debug, Clone)]
pub struct FakeLambdaConfig {
    /// The only key accepted as `Authorization: Bearer <key>`.
    pub api_key: String,
    pub instance_types: Vec<FakeInstanceType>,
    /// Names of the SSH keys registered with the account.
    pub ssh_keys: Vec<String>,
    pub file_systems: Vec<FakeFileSystem>,
    pub boot: Boot,
    /// How many observations a terminating instance reports `terminating`
    /// before it becomes `terminated` and leaves `GET /instances`.
    pub terminate_after_polls: u32,
    /// Minimum spacing between launch requests; closer ones get 429.
    /// `Duration::ZERO` disables the limit.
    pub launch_interval: Duration,
}

impl Default for FakeLambdaConfig {
    fn default() -> Self {
        Self {
            api_key: DEFAULT_API_KEY.to_owned(),
            instance_types: vec![
                FakeInstanceType::new(
                    "gpu_1x_a10",
                    1,
                    "A10 (24 GB PCIe)",
                    75,
                    &["us-east-1", "us-west-1"],
                ),
                FakeInstanceType::new(
                    "gpu_1x_a100_sxm4",
                    1,
                    "A100 (40 GB SXM4)",
                    129,
                    &["us-east-1"],
                ),
                FakeInstanceType::new(
                    "gpu_1x_h100_pcie",
                    1,
                    "H100 (80 GB PCIe)",
                    249,
                    &["us-west-3"],
                ),
                FakeInstanceType::new("gpu_1x_gh200", 1, "GH200 (96 GB)", 149, &[]),
                FakeInstanceType::new("gpu_8x_h100_sxm5", 8, "H100 (80 GB SXM5)", 2392, &[]),
            ],
            ssh_keys: vec!["gpu-session".to_owned()],
            file_systems: vec![FakeFileSystem {
                name: "coding-stack".to_owned(),
                region: "us-east-1".to_owned(),
            }],
            boot: Boot::AfterPolls(2),
            terminate_after_polls: 1,
            launch_interval: Duration::ZERO,
        }
    }
}

impl FakeLambdaConfig {
    /// Replaces the regions with capacity for `instance_type` (which must exist).
    pub fn with_capacity(mut self, instance_type: &str, regions: &[&str]) -> Self {
        set_capacity(&mut self.instance_types, instance_type, regions);
        self
    }
}

/// A fault to inject into upcoming responses.
#[derive(Debug, Clone)]
pub struct Fault {
    status: u16,
    times: usize,
    path: Option<String>,
    retry_after: Option<u64>,
    raw_body: Option<String>,
}

impl Fault {
    /// Answer with `status` and the matching spec-shaped error body
    /// (429 → rate limited, 500 → `global/internal-error`,
    /// 502/503/504 → `provider/internal-unavailable`).
    pub fn status(status: u16) -> Self {
        Self {
            status,
            times: 1,
            path: None,
            retry_after: None,
            raw_body: None,
        }
    }

    /// Apply to the next `n` matching requests (default 1).
    pub fn times(mut self, n: usize) -> Self {
        self.times = n;
        self
    }

    /// Only requests to this path (relative to `/api/v1`, e.g.
    /// `/instance-operations/launch`), any method.
    pub fn on(mut self, path: &str) -> Self {
        self.path = Some(path.to_owned());
        self
    }

    /// Send `Retry-After: <secs>`.
    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }

    /// Send this body verbatim as `text/html` instead of an error object,
    /// like a proxy in front of the API would.
    pub fn raw_body(mut self, body: &str) -> Self {
        self.raw_body = Some(body.to_owned());
        self
    }

    fn matches(&self, path: &str) -> bool {
        self.path.as_deref().is_none_or(|p| p == path)
    }
}

/// One request the fake received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedRequest {
    pub method: String,
    /// Path relative to `/api/v1`, e.g. `/instances/abc`.
    pub path: String,
    /// The raw body, empty for GETs.
    pub body: String,
    /// Whether `Authorization: Bearer <valid key>` was present.
    pub authorized: bool,
    /// The status the fake answered with.
    pub status: u16,
}

impl RecordedRequest {
    /// The body parsed as JSON, if it is JSON.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_str(&self.body).ok()
    }
}

/// An instance held by the fake.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FakeInstance {
    pub id: String,
    pub name: Option<String>,
    pub hostname: Option<String>,
    pub status: Status,
    pub instance_type: String,
    pub region: String,
    pub ip: Option<String>,
    pub private_ip: Option<String>,
    pub ssh_key_names: Vec<String>,
    pub file_system_names: Vec<String>,
    pub user_data: Option<String>,
    pub tags: Vec<(String, String)>,
    /// IDs of the firewall rulesets attached at launch.
    pub firewall_rulesets: Vec<String>,
    /// Launched while [`FakeLambda::omit_private_ip`] was on: never gets one.
    no_private_ip: bool,
    pub fate: Fate,
    /// Observations (GET by id, list) so far.
    pub polls: u32,
    polls_since_terminate: u32,
    launched_at: Instant,
    serial: u32,
    /// `GET /instances` calls since creation (for the list lag).
    lists: u32,
}

struct StateInner {
    config: FakeLambdaConfig,
    instances: Vec<FakeInstance>,
    requests: Vec<RecordedRequest>,
    faults: VecDeque<Fault>,
    next_fate: Option<Fate>,
    lose_next_launch_response: Option<u16>,
    /// The next launch's answer waits this long after the instance exists.
    delay_next_launch_response: Option<Duration>,
    /// A response delay the handler applies once the state lock is released.
    pending_delay: Option<Duration>,
    /// `GET /instances` hides an instance for this many lists after its creation
    /// (the list is eventually consistent).
    list_lag: u32,
    account_inactive: bool,
    last_launch: Option<Instant>,
    serial: u32,
    /// (family, region) pairs `GET /images` leaves out: the "family missing" fault.
    dropped_images: Vec<(String, String)>,
    /// Per-instance firewall rulesets (spec 1.8.3 `/firewall-rulesets`).
    rulesets: Vec<FakeRuleset>,
    /// Instances launched from now on never get a `private_ip` (it is optional in
    /// the spec's `Instance`, and real instances have come without one).
    omit_private_ip: bool,
}

/// A firewall ruleset held by the fake.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeRuleset {
    pub id: String,
    pub name: String,
    pub region: String,
    /// The rules as sent (spec `FirewallRule` objects), already validated.
    pub rules: Vec<Value>,
}

type Shared = Arc<Mutex<StateInner>>;

/// A running fake Lambda Cloud API.
pub struct FakeLambda {
    state: Shared,
    server: ServerThread,
}

impl std::fmt::Debug for FakeLambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeLambda")
            .field("addr", &self.server.addr())
            .finish_non_exhaustive()
    }
}

impl FakeLambda {
    /// Starts the fake on 127.0.0.1 with an OS-assigned port.
    pub fn start(config: FakeLambdaConfig) -> std::io::Result<Self> {
        let state: Shared = Arc::new(Mutex::new(StateInner {
            config,
            instances: Vec::new(),
            requests: Vec::new(),
            faults: VecDeque::new(),
            next_fate: None,
            lose_next_launch_response: None,
            delay_next_launch_response: None,
            pending_delay: None,
            list_lag: 0,
            account_inactive: false,
            last_launch: None,
            serial: 0,
            dropped_images: Vec::new(),
            rulesets: Vec::new(),
            omit_private_ip: false,
        }));
        let router = Router::new()
            .fallback(handle)
            .layer(DefaultBodyLimit::max(8 * 1024 * 1024))
            .with_state(state.clone());
        let server = ServerThread::spawn("fake-lambda", router)?;
        Ok(Self { state, server })
    }

    /// Starts the fake with [`FakeLambdaConfig::default`].
    pub fn start_default() -> std::io::Result<Self> {
        Self::start(FakeLambdaConfig::default())
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// The API base URL, `http://127.0.0.1:<port>/api/v1`, for `LAMBDA_API_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}{API_PREFIX}", self.addr())
    }

    /// The key currently accepted.
    pub fn api_key(&self) -> String {
        self.lock().config.api_key.clone()
    }

    // ---- control -------------------------------------------------------

    /// Queues a fault; faults apply in order, each to the requests it matches.
    pub fn inject(&self, fault: Fault) {
        if fault.times > 0 {
            self.lock().faults.push_back(fault);
        }
    }

    /// Shorthand: the next `n` requests (any endpoint) fail with `status`.
    pub fn fail_next(&self, n: usize, status: u16) {
        self.inject(Fault::status(status).times(n));
    }

    /// Replaces the regions with capacity for `instance_type`.
    pub fn set_capacity(&self, instance_type: &str, regions: &[&str]) {
        set_capacity(
            &mut self.lock().config.instance_types,
            instance_type,
            regions,
        );
    }

    /// Fault: `GET /images` no longer lists `family` in `region` (any architecture).
    pub fn drop_image_family(&self, family: &str, region: &str) {
        self.lock()
            .dropped_images
            .push((family.to_owned(), region.to_owned()));
    }

    /// What the next launched instance becomes after booting.
    pub fn set_next_launch_fate(&self, fate: Fate) {
        self.lock().next_fate = Some(fate);
    }

    /// How instances launched from now on boot (and those still booting).
    pub fn set_boot(&self, boot: Boot) {
        self.lock().config.boot = boot;
    }

    /// The next launch creates its instance, then answers `status` (a 5xx, or
    /// any status) as if the response were lost: the orphan scenario.
    pub fn lose_next_launch_response(&self, status: u16) {
        self.lock().lose_next_launch_response = Some(status);
    }

    /// The next launch creates its instance at once but answers only after `delay`:
    /// a client interrupted meanwhile never learns the id.
    pub fn delay_next_launch_response(&self, delay: Duration) {
        self.lock().delay_next_launch_response = Some(delay);
    }

    /// `GET /instances` leaves out each new instance for its first `lists` lists, as an
    /// eventually consistent list does right after a launch.
    pub fn set_list_lag(&self, lists: u32) {
        self.lock().list_lag = lists;
    }

    /// Forces an instance's status (e.g. an active instance going `unhealthy`
    /// or `preempted`). Returns false if the ID is unknown.
    pub fn set_instance_status(&self, id: &str, status: Status) -> bool {
        let mut state = self.lock();
        let Some(instance) = state.instances.iter_mut().find(|i| i.id == id) else {
            return false;
        };
        instance.status = status;
        if matches!(status, Status::Active | Status::Unhealthy) {
            assign_ips(instance);
        }
        true
    }

    /// Changes the accepted key, so the one clients hold becomes invalid.
    pub fn set_api_key(&self, key: &str) {
        self.lock().config.api_key = key.to_owned();
    }

    /// Every authenticated request gets 403 `global/account-inactive`.
    pub fn set_account_inactive(&self, inactive: bool) {
        self.lock().account_inactive = inactive;
    }

    /// Changes the minimum spacing between launches.
    pub fn set_launch_interval(&self, interval: Duration) {
        self.lock().config.launch_interval = interval;
    }

    // ---- inspection ----------------------------------------------------

    /// Every request received, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.lock().requests.clone()
    }

    /// Requests to `path` (relative to `/api/v1`).
    pub fn requests_to(&self, path: &str) -> Vec<RecordedRequest> {
        self.lock()
            .requests
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    /// Every instance ever launched, terminated ones included.
    pub fn instances(&self) -> Vec<FakeInstance> {
        self.lock().instances.clone()
    }

    /// One instance by ID.
    pub fn instance(&self, id: &str) -> Option<FakeInstance> {
        self.lock().instances.iter().find(|i| i.id == id).cloned()
    }

    /// Instances nobody has terminated: each one would still be billing.
    pub fn live_instance_count(&self) -> usize {
        self.lock()
            .instances
            .iter()
            .filter(|i| !i.status.is_gone())
            .count()
    }

    /// The `user_data` of every launched instance, in launch order.
    pub fn user_data(&self) -> Vec<String> {
        self.lock()
            .instances
            .iter()
            .filter_map(|i| i.user_data.clone())
            .collect()
    }

    /// Firewall rulesets that exist (created and not deleted).
    pub fn rulesets(&self) -> Vec<FakeRuleset> {
        self.lock().rulesets.clone()
    }

    /// Instances launched from now on come without a `private_ip` (`false` undoes it).
    pub fn omit_private_ip(&self, omit: bool) {
        self.lock().omit_private_ip = omit;
    }

    fn lock(&self) -> MutexGuard<'_, StateInner> {
        lock(&self.state)
    }
}

fn lock(state: &Shared) -> MutexGuard<'_, StateInner> {
    // A panicking test thread must not take the fake down with it.
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn set_capacity(types: &mut [FakeInstanceType], instance_type: &str, regions: &[&str]) {
    let Some(t) = types.iter_mut().find(|t| t.name == instance_type) else {
        panic!("the fake has no instance type {instance_type:?}");
    };
    t.regions_with_capacity = regions.iter().map(|r| (*r).to_owned()).collect();
}

// ---- HTTP -------------------------------------------------------------------

/// A response the fake sends: status, body and extra headers.
struct Reply {
    status: StatusCode,
    body: Value,
    retry_after: Option<u64>,
}

impl Reply {
    fn data(data: Value) -> Self {
        Self {
            status: StatusCode::OK,
            body: json!({ "data": data }),
            retry_after: None,
        }
    }

    fn error(status: u16, code: &str, message: &str, suggestion: Option<&str>) -> Self {
        let mut error = json!({ "code": code, "message": message });
        if let Some(s) = suggestion {
            error["suggestion"] = json!(s);
        }
        Self {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: json!({ "error": error }),
            retry_after: None,
        }
    }

    fn invalid(message: &str) -> Self {
        Self::error(400, "global/invalid-parameters", message, None)
    }

    fn not_found(message: &str) -> Self {
        Self::error(404, "global/object-does-not-exist", message, None)
    }

    /// The error body the API sends with `status`.
    fn for_status(status: u16) -> Self {
        match status {
            429 => Self::error(
                429,
                RATE_LIMITED_CODE,
                "Too many requests.",
                Some("Wait a moment, then try again."),
            ),
            500 => Self::error(
                500,
                "global/internal-error",
                "An internal server error occurred.",
                Some("Try again later. Contact Support if the problem persists."),
            ),
            502..=504 => Self::error(
                status,
                "provider/internal-unavailable",
                "Provider unavailable",
                Some("Try again shortly"),
            ),
            401 => Self::unauthorized(),
            404 => Self::not_found("The requested resource does not exist."),
            _ => Self::error(
                status,
                "global/invalid-parameters",
                "Injected failure.",
                None,
            ),
        }
    }

    fn unauthorized() -> Self {
        Self::error(
            401,
            "global/invalid-api-key",
            "API key was invalid, expired, or deleted.",
            Some("Check your API key or create a new one, then try again."),
        )
    }

    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

async fn handle(
    State(state): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The state lock is released before any response delay.
    let (response, delay) = answer(&state, &method, &uri, &headers, &body);
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    response
}

fn answer(
    state: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> (Response, Option<Duration>) {
    let full_path = uri.path().to_owned();
    let path = full_path
        .strip_prefix(API_PREFIX)
        .unwrap_or(&full_path)
        .to_owned();
    let body = String::from_utf8_lossy(body).into_owned();

    let mut state = lock(state);
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|k| k == state.config.api_key);

    let (status, response) = match take_fault(&mut state, &path) {
        Some(fault) => fault,
        None => {
            let reply = if !full_path.starts_with(API_PREFIX) {
                Reply::not_found(&format!("No route for {method} {full_path}."))
            } else if !authorized {
                Reply::unauthorized()
            } else if state.account_inactive {
                Reply::error(
                    403,
                    "global/account-inactive",
                    "Your account is inactive.",
                    Some("Make sure you have verified your email address and have a valid payment method. Contact Support if problems continue."),
                )
            } else {
                route(&mut state, method, &path, &body)
            };
            (reply.status.as_u16(), reply.into_response())
        }
    };

    state.requests.push(RecordedRequest {
        method: method.to_string(),
        path,
        body,
        authorized,
        status,
    });
    let delay = state.pending_delay.take();
    (response, delay)
}

fn take_fault(state: &mut StateInner, path: &str) -> Option<(u16, Response)> {
    let index = state.faults.iter().position(|f| f.matches(path))?;
    let fault = &mut state.faults[index];
    fault.times -= 1;
    let fault = if fault.times == 0 {
        state.faults.remove(index)?
    } else {
        fault.clone()
    };
    let response = match &fault.raw_body {
        Some(body) => {
            let status =
                StatusCode::from_u16(fault.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut response = (
                status,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                body.clone(),
            )
                .into_response();
            if let Some(secs) = fault.retry_after {
                response
                    .headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(secs));
            }
            response
        }
        None => {
            let mut reply = Reply::for_status(fault.status);
            reply.retry_after = fault.retry_after;
            reply.into_response()
        }
    };
    Some((fault.status, response))
}

fn route(state: &mut StateInner, method: &Method, path: &str, body: &str) -> Reply {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match (method.as_str(), segments.as_slice()) {
        ("GET", ["instance-types"]) => Reply::data(instance_types_json(&state.config)),
        ("GET", ["instances"]) => {
            let now = Instant::now();
            let config = state.config.clone();
            let lag = state.list_lag;
            let list: Vec<Value> = state
                .instances
                .iter_mut()
                .filter(|i| i.status != Status::Terminated)
                .filter_map(|i| {
                    i.lists += 1;
                    (i.lists > lag).then_some(i)
                })
                .map(|i| {
                    observe(i, &config, now);
                    i.clone()
                })
                // An instance that finished terminating during this very
                // observation is already gone from the list.
                .filter(|i| i.status != Status::Terminated)
                .map(|i| instance_json(&i, &config))
                .collect();
            Reply::data(Value::Array(list))
        }
        ("GET", ["instances", id]) => {
            let now = Instant::now();
            let config = state.config.clone();
            match state.instances.iter_mut().find(|i| i.id == *id) {
                Some(instance) => {
                    observe(instance, &config, now);
                    Reply::data(instance_json(instance, &config))
                }
                None => Reply::not_found("Specified instance does not exist."),
            }
        }
        ("POST", ["instance-operations", "launch"]) => launch(state, body),
        ("GET", ["firewall-rulesets"]) => Reply::data(Value::Array(
            state.rulesets.iter().map(|r| ruleset_json(state, r)).collect(),
        )),
        ("POST", ["firewall-rulesets"]) => create_ruleset(state, body),
        ("GET", ["firewall-rulesets", id]) => match find_ruleset(state, id) {
            Ok(r) => Reply::data(ruleset_json(state, r)),
            Err(reply) => reply,
        },
        ("PATCH", ["firewall-rulesets", id]) => patch_ruleset(state, id, body),
        ("DELETE", ["firewall-rulesets", id]) => delete_ruleset(state, id),
        ("POST", ["instance-operations", "terminate"]) => terminate(state, body),
        ("GET", ["images"]) => Reply::data(Value::Array(images_json(state))),
        ("GET", ["ssh-keys"]) => Reply::data(Value::Array(
            state
                .config
                .ssh_keys
                .iter()
                .enumerate()
                .map(|(n, name)| {
                    json!({
                        "id": format!("{:032x}", 0x5500 + n),
                        "name": name,
                        "public_key": format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKey{n} {name}"),
                    })
                })
                .collect(),
        )),
        ("GET", ["file-systems"]) => {
            let list = state
                .config
                .file_systems
                .iter()
                .enumerate()
                .map(|(n, fs)| {
                    let in_use = state.instances.iter().any(|i| {
                        !i.status.is_gone() && i.file_system_names.contains(&fs.name)
                    });
                    json!({
                        "id": format!("{:032x}", 0xf500 + n),
                        "name": fs.name,
                        "mount_point": format!("/lambda/nfs/{}", fs.name),
                        "created": "2025-01-01T00:00:00+00:00",
                        "created_by": {"id": "u1", "email": "tests@example.com", "status": "active"},
                        "is_in_use": in_use,
                        "region": region_json(&fs.region),
                        "bytes_used": 0,
                    })
                })
                .collect();
            Reply::data(Value::Array(list))
        }
        _ => Reply::not_found(&format!("No route for {method} {API_PREFIX}{path}.")),
    }
}

fn launch(state: &mut StateInner, body: &str) -> Reply {
    let now = Instant::now();
    let interval = state.config.launch_interval;
    if let Some(last) = state.last_launch {
        if !interval.is_zero() && now.duration_since(last) < interval {
            return Reply::for_status(429);
        }
    }
    state.last_launch = Some(now);

    let request = match parse_launch(state, body) {
        Ok(request) => request,
        Err(reply) => return reply,
    };

    state.serial += 1;
    let serial = state.serial;
    let no_private_ip = state.omit_private_ip;
    let instance = FakeInstance {
        id: format!("{:032x}", 0x1a_0000_0000_u64 + u64::from(serial)),
        name: request.name,
        hostname: request.hostname,
        status: Status::Booting,
        instance_type: request.instance_type,
        region: request.region,
        ip: None,
        private_ip: None,
        no_private_ip,
        ssh_key_names: vec![request.ssh_key],
        file_system_names: request.file_systems,
        user_data: request.user_data,
        tags: request.tags,
        firewall_rulesets: request.firewall_rulesets,
        fate: state.next_fate.take().unwrap_or_default(),
        polls: 0,
        polls_since_terminate: 0,
        launched_at: now,
        serial,
        lists: 0,
    };
    let id = instance.id.clone();
    state.instances.push(instance);
    state.pending_delay = state.delay_next_launch_response.take();

    if let Some(status) = state.lose_next_launch_response.take() {
        return Reply::for_status(status);
    }
    Reply::data(json!({ "instance_ids": [id] }))
}

struct ParsedLaunch {
    region: String,
    instance_type: String,
    ssh_key: String,
    file_systems: Vec<String>,
    name: Option<String>,
    hostname: Option<String>,
    user_data: Option<String>,
    tags: Vec<(String, String)>,
    firewall_rulesets: Vec<String>,
}

/// Validates a launch body the way the API does, in the API's order:
/// shape, then referenced resources, then capacity.
fn parse_launch(state: &StateInner, body: &str) -> Result<ParsedLaunch, Reply> {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
        return Err(Reply::invalid("Request body must be a JSON object."));
    };
    if let Some(unknown) = fields.keys().find(|k| !LAUNCH_FIELDS.contains(&k.as_str())) {
        return Err(Reply::invalid(&format!("Unknown field: {unknown}.")));
    }

    let region = required_string(&fields, "region_name")?;
    if !REGIONS.iter().any(|(code, _)| *code == region) {
        return Err(Reply::invalid(&format!(
            "region_name: {region:?} is not a valid region."
        )));
    }
    let instance_type = required_string(&fields, "instance_type_name")?;

    let ssh_keys = string_array(&fields, "ssh_key_names")?
        .ok_or_else(|| Reply::invalid("ssh_key_names: Field required."))?;
    let [ssh_key] = ssh_keys.as_slice() else {
        return Err(Reply::invalid(
            "ssh_key_names: Exactly one SSH key must be specified.",
        ));
    };

    if let Some(quantity) = fields.get("quantity") {
        if quantity.as_u64() != Some(1) {
            return Err(Reply::invalid("Requested too many instances."));
        }
    }
    let name = optional_string(&fields, "name")?;
    if name.as_ref().is_some_and(|n| n.chars().count() > 64) {
        return Err(Reply::invalid(
            "name: String should have at most 64 characters.",
        ));
    }
    let hostname = optional_string(&fields, "hostname")?;
    if let Some(h) = &hostname {
        let valid = (1..=63).contains(&h.len())
            && !h.starts_with('-')
            && h.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(Reply::invalid(&format!(
                "hostname: {h:?} does not match ^[a-z0-9][0-9a-z-]{{0,62}}$."
            )));
        }
    }
    let user_data = optional_string(&fields, "user_data")?;
    if user_data
        .as_ref()
        .is_some_and(|u| u.len() > MAX_USER_DATA_BYTES)
    {
        return Err(Reply::invalid("user_data: must not exceed 1MB."));
    }
    let tags = match fields.get("tags") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| {
                match (
                    t.get("key").and_then(Value::as_str),
                    t.get("value").and_then(Value::as_str),
                ) {
                    (Some(k), Some(v)) => Ok((k.to_owned(), v.to_owned())),
                    _ => Err(Reply::invalid(
                        "tags: each tag needs a string key and value.",
                    )),
                }
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(Reply::invalid("tags: Input should be a valid list.")),
    };
    let file_systems = string_array(&fields, "file_system_names")?.unwrap_or_default();
    let firewall_rulesets = ruleset_entries(&fields)?;

    let Some(offered) = state
        .config
        .instance_types
        .iter()
        .find(|t| t.name == instance_type)
    else {
        return Err(Reply::not_found(&format!(
            "Instance type {instance_type:?} does not exist."
        )));
    };
    if !state.config.ssh_keys.iter().any(|k| k == ssh_key) {
        return Err(Reply::not_found(&format!(
            "SSH key {ssh_key:?} does not exist."
        )));
    }
    for fs_name in &file_systems {
        let Some(fs) = state
            .config
            .file_systems
            .iter()
            .find(|f| &f.name == fs_name)
        else {
            return Err(Reply::not_found(&format!(
                "File system {fs_name:?} does not exist."
            )));
        };
        if fs.region != region {
            return Err(Reply::error(
                400,
                "instance-operations/launch/file-system-in-wrong-region",
                &format!("File system {fs_name:?} is in {}, not {region}.", fs.region),
                Some("Launch the instance in the file system's region."),
            ));
        }
    }
    if let Some(image) = fields.get("image") {
        let family = image.get("family").and_then(Value::as_str);
        let id = image.get("id").and_then(Value::as_str);
        let arch = if instance_type.contains("gh200") {
            "arm64"
        } else {
            "x86_64"
        };
        let known = images_json(state).into_iter().any(|i| {
            i["region"]["name"] == region.as_str()
                && i["architecture"] == arch
                && (family.is_some_and(|f| i["family"] == f) || id.is_some_and(|d| i["id"] == d))
        });
        if family.is_none() && id.is_none() {
            return Err(Reply::invalid("image: give either family or id."));
        }
        if !known {
            return Err(Reply::invalid(&format!(
                "image: {image} is not available in {region} for {arch}."
            )));
        }
    }
    for id in &firewall_rulesets {
        let ruleset = find_ruleset(state, id)?;
        if ruleset.region != region {
            return Err(Reply::invalid(&format!(
                "firewall_rulesets: ruleset {id:?} is in {}, not {region}; the firewall rulesets must exist in the same region as the instance.",
                ruleset.region
            )));
        }
    }
    if !offered.regions_with_capacity.contains(&region) {
        return Err(Reply::error(
            400,
            "instance-operations/launch/insufficient-capacity",
            "Not enough capacity to fulfill launch request.",
            Some("Try a different region or instance type."),
        ));
    }

    Ok(ParsedLaunch {
        region,
        instance_type,
        ssh_key: ssh_key.clone(),
        file_systems,
        name,
        hostname,
        user_data,
        tags,
        firewall_rulesets,
    })
}

/// `firewall_rulesets: [{"id": ...}]` (spec `FirewallRulesetEntry`).
fn ruleset_entries(fields: &Map<String, Value>) -> Result<Vec<String>, Reply> {
    let bad = || Reply::invalid("firewall_rulesets: each entry needs a string id.");
    match fields.get("firewall_rulesets") {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|e| {
                let object = e.as_object().ok_or_else(bad)?;
                if object.keys().any(|k| k != "id") {
                    return Err(Reply::invalid("firewall_rulesets: only id is allowed."));
                }
                object
                    .get("id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(bad)
            })
            .collect(),
        Some(_) => Err(Reply::invalid(
            "firewall_rulesets: Input should be a valid list.",
        )),
    }
}

// ---- firewall rulesets ------------------------------------------------------

fn find_ruleset<'a>(state: &'a StateInner, id: &str) -> Result<&'a FakeRuleset, Reply> {
    state
        .rulesets
        .iter()
        .find(|r| r.id == id)
        .ok_or_else(|| Reply::not_found(&format!("Firewall ruleset {id:?} does not exist.")))
}

/// Instances still holding a ruleset: every one not yet `terminated`.
fn ruleset_users(state: &StateInner, id: &str) -> Vec<String> {
    state
        .instances
        .iter()
        .filter(|i| i.status != Status::Terminated && i.firewall_rulesets.iter().any(|r| r == id))
        .map(|i| i.id.clone())
        .collect()
}

fn ruleset_json(state: &StateInner, r: &FakeRuleset) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "region": region_json(&r.region),
        "rules": r.rules,
        "created": "2026-12-01T00:00:00+00:00",
        "instance_ids": ruleset_users(state, &r.id),
    })
}

fn create_ruleset(state: &mut StateInner, body: &str) -> Reply {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
        return Reply::invalid("Request body must be a JSON object.");
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !["name", "region", "rules"].contains(&k.as_str()))
    {
        return Reply::invalid(&format!("Unknown field: {unknown}."));
    }
    let parsed = (|| {
        let name = ruleset_name(&fields)?.ok_or_else(|| Reply::invalid("name: Field required."))?;
        let region = required_string(&fields, "region")?;
        if !REGIONS.iter().any(|(code, _)| *code == region) {
            return Err(Reply::invalid(&format!(
                "region: {region:?} is not a valid region."
            )));
        }
        let rules = rules(&fields)?.ok_or_else(|| Reply::invalid("rules: Field required."))?;
        Ok((name, region, rules))
    })();
    let (name, region, rules) = match parsed {
        Ok(p) => p,
        Err(reply) => return reply,
    };
    state.serial += 1;
    let ruleset = FakeRuleset {
        id: format!("{:032x}", 0xf1_0000_0000_u64 + u64::from(state.serial)),
        name,
        region,
        rules,
    };
    let answer = ruleset_json(state, &ruleset);
    state.rulesets.push(ruleset);
    Reply::data(answer)
}

fn patch_ruleset(state: &mut StateInner, id: &str, body: &str) -> Reply {
    if let Err(reply) = find_ruleset(state, id) {
        return reply;
    }
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(body) else {
        return Reply::invalid("Request body must be a JSON object.");
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !["name", "rules"].contains(&k.as_str()))
    {
        return Reply::invalid(&format!("Unknown field: {unknown}."));
    }
    let (name, rules) = match (ruleset_name(&fields), rules(&fields)) {
        (Ok(name), Ok(rules)) => (name, rules),
        (Err(reply), _) | (_, Err(reply)) => return reply,
    };
    let Some(ruleset) = state.rulesets.iter_mut().find(|r| r.id == id) else {
        return Reply::not_found("Firewall ruleset does not exist.");
    };
    if let Some(name) = name {
        ruleset.name = name;
    }
    if let Some(rules) = rules {
        ruleset.rules = rules;
    }
    let ruleset = ruleset.clone();
    Reply::data(ruleset_json(state, &ruleset))
}

fn delete_ruleset(state: &mut StateInner, id: &str) -> Reply {
    if let Err(reply) = find_ruleset(state, id) {
        return reply;
    }
    if !ruleset_users(state, id).is_empty() {
        return Reply::error(
            400,
            "firewall-rulesets/firewall-ruleset-in-use",
            "Firewall ruleset is in use by one or more instances.",
            Some("Terminate all instances that are using the ruleset before deleting it."),
        );
    }
    state.rulesets.retain(|r| r.id != id);
    Reply::data(json!({}))
}

fn ruleset_name(fields: &Map<String, Value>) -> Result<Option<String>, Reply> {
    let name = optional_string(fields, "name")?;
    if name.as_ref().is_some_and(|n| n.chars().count() > 64) {
        return Err(Reply::invalid(
            "name: String should have at most 64 characters.",
        ));
    }
    Ok(name)
}

/// `rules: [FirewallRule]`, checked as the spec describes each field.
fn rules(fields: &Map<String, Value>) -> Result<Option<Vec<Value>>, Reply> {
    let Some(value) = fields.get("rules") else {
        return Ok(None);
    };
    let Value::Array(items) = value else {
        return Err(Reply::invalid("rules: Input should be a valid list."));
    };
    for (n, rule) in items.iter().enumerate() {
        check_rule(rule).map_err(|why| Reply::invalid(&format!("rules[{n}]: {why}")))?;
    }
    Ok(Some(items.clone()))
}

fn check_rule(rule: &Value) -> Result<(), String> {
    let object = rule.as_object().ok_or("must be an object")?;
    let allowed = ["protocol", "port_range", "source_network", "description"];
    if let Some(unknown) = object.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(format!("unknown field {unknown}"));
    }
    let protocol = rule["protocol"]
        .as_str()
        .ok_or("protocol: Field required.")?;
    if !["tcp", "udp", "icmp", "all"].contains(&protocol) {
        return Err(format!(
            "protocol: {protocol:?} is not tcp, udp, icmp or all"
        ));
    }
    match (protocol, object.get("port_range")) {
        ("icmp", Some(_)) => return Err("port_range: not allowed for icmp".into()),
        ("icmp", None) => {}
        (_, None) => return Err("port_range: required for this protocol".into()),
        (_, Some(range)) => {
            let ports: Vec<u64> = range
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_u64).collect())
                .unwrap_or_default();
            let ok = matches!(ports.as_slice(), [lo, hi] if (1..=65535).contains(lo) && (1..=65535).contains(hi) && lo <= hi);
            if !ok || range.as_array().is_none_or(|a| a.len() != 2) {
                return Err(format!(
                    "port_range: {range} is not [min, max] within 1-65535"
                ));
            }
        }
    }
    let source = rule["source_network"]
        .as_str()
        .ok_or("source_network: Field required.")?;
    let (address, mask) = source.split_once('/').unwrap_or((source, "32"));
    let mask_ok = mask.parse::<u8>().is_ok_and(|m| m <= 32);
    if address.parse::<std::net::Ipv4Addr>().is_err() || !mask_ok {
        return Err(format!("source_network: {source:?} is not an IPv4 network"));
    }
    let description = rule["description"]
        .as_str()
        .ok_or("description: Field required.")?;
    if description.chars().count() > 128 {
        return Err("description: String should have at most 128 characters.".into());
    }
    Ok(())
}

fn required_string(fields: &Map<String, Value>, field: &str) -> Result<String, Reply> {
    optional_string(fields, field)?
        .ok_or_else(|| Reply::invalid(&format!("{field}: Field required.")))
}

fn optional_string(fields: &Map<String, Value>, field: &str) -> Result<Option<String>, Reply> {
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Reply::invalid(&format!(
            "{field}: Input should be a valid string."
        ))),
    }
}

fn string_array(fields: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, Reply> {
    let not_list = || Reply::invalid(&format!("{field}: Input should be a list of strings."));
    match fields.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(not_list))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        Some(_) => Err(not_list()),
    }
}

fn terminate(state: &mut StateInner, body: &str) -> Reply {
    let ids = match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(fields)) => match string_array(&fields, "instance_ids") {
            Ok(Some(ids)) if !ids.is_empty() => ids,
            Ok(_) => return Reply::invalid("instance_ids: List should have at least 1 item."),
            Err(reply) => return reply,
        },
        _ => return Reply::invalid("Request body must be a JSON object."),
    };
    if let Some(unknown) = ids
        .iter()
        .find(|id| !state.instances.iter().any(|i| &i.id == *id))
    {
        return Reply::not_found(&format!("Instance {unknown:?} does not exist."));
    }
    let config = state.config.clone();
    let terminated = state
        .instances
        .iter_mut()
        .filter(|i| ids.contains(&i.id))
        .map(|instance| {
            if instance.status != Status::Terminated {
                instance.status = Status::Terminating;
                instance.polls_since_terminate = 0;
            }
            instance_json(instance, &config)
        })
        .collect();
    Reply::data(json!({ "terminated_instances": Value::Array(terminated) }))
}

/// Advances an instance's state machine by one observation.
fn observe(instance: &mut FakeInstance, config: &FakeLambdaConfig, now: Instant) {
    instance.polls += 1;
    match instance.status {
        Status::Booting => {
            let booted = match config.boot {
                Boot::AfterPolls(n) => instance.polls > n,
                Boot::AfterDuration(d) => now.duration_since(instance.launched_at) >= d,
            };
            if booted {
                match instance.fate {
                    Fate::Active => instance.status = Status::Active,
                    Fate::Unhealthy => instance.status = Status::Unhealthy,
                    Fate::NeverActive => {}
                }
                if instance.status != Status::Booting {
                    assign_ips(instance);
                }
            }
        }
        Status::Terminating => {
            instance.polls_since_terminate += 1;
            if instance.polls_since_terminate > config.terminate_after_polls {
                instance.status = Status::Terminated;
            }
        }
        _ => {}
    }
}

fn assign_ips(instance: &mut FakeInstance) {
    // Addresses from the documentation ranges: never routable.
    let n = instance.serial % 250 + 2;
    instance.ip.get_or_insert_with(|| format!("198.51.100.{n}"));
    if !instance.no_private_ip {
        instance
            .private_ip
            .get_or_insert_with(|| format!("10.0.2.{n}"));
    }
}

/// `GET /images` entries (spec `Image`): x86_64 families everywhere, arm64 Lambda
/// Stack in [`ARM64_REGION`], minus the dropped ones.
fn images_json(state: &StateInner) -> Vec<Value> {
    let mut out = Vec::new();
    let mut add = |family: &str, region: &str, arch: &str| {
        if state
            .dropped_images
            .iter()
            .any(|(f, r)| f == family && r == region)
        {
            return;
        }
        let n = out.len();
        // "lambda-stack-24-04" → "24.04".
        let mut tail = family.rsplitn(3, '-');
        let (minor, major) = (tail.next().unwrap_or(""), tail.next().unwrap_or(""));
        let version = format!("{major}.{minor}");
        out.push(json!({
            "id": format!("{:08x}-0000-4000-8000-{n:012x}", 0x1a6e_0000_u32),
            "created_time": "2026-07-01T00:00:00+00:00",
            "updated_time": "2026-07-01T00:00:00+00:00",
            "name": format!("{family}-{arch}"),
            "description": format!("{family} ({arch})"),
            "family": family,
            "version": version,
            "architecture": arch,
            "region": region_json(region),
        }));
    };
    for (region, _) in REGIONS {
        for family in X86_IMAGE_FAMILIES {
            add(family, region, "x86_64");
        }
        if *region == ARM64_REGION {
            for family in ARM64_IMAGE_FAMILIES {
                add(family, region, "arm64");
            }
        }
    }
    out
}

fn region_json(code: &str) -> Value {
    let description = REGIONS
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("Unknown", |(_, d)| *d);
    json!({ "name": code, "description": description })
}

fn instance_type_json(t: &FakeInstanceType) -> Value {
    json!({
        "name": t.name,
        "description": t.description,
        "gpu_description": t.gpu_description,
        "price_cents_per_hour": t.price_cents_per_hour,
        "specs": {
            "vcpus": t.vcpus,
            "memory_gib": t.memory_gib,
            "storage_gib": t.storage_gib,
            "gpus": t.gpus,
        },
    })
}

fn instance_types_json(config: &FakeLambdaConfig) -> Value {
    let map: Map<String, Value> = config
        .instance_types
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                json!({
                    "instance_type": instance_type_json(t),
                    "regions_with_capacity_available":
                        t.regions_with_capacity.iter().map(|r| region_json(r)).collect::<Vec<_>>(),
                }),
            )
        })
        .collect();
    Value::Object(map)
}

fn instance_json(instance: &FakeInstance, config: &FakeLambdaConfig) -> Value {
    let instance_type = config
        .instance_types
        .iter()
        .find(|t| t.name == instance.instance_type)
        .map_or_else(
            || json!({ "name": instance.instance_type }),
            instance_type_json,
        );
    let launched = instance.status != Status::Booting;
    let action = |available: bool| {
        if available {
            json!({ "available": true })
        } else {
            json!({
                "available": false,
                "reason_code": "vm-has-not-launched",
                "reason_description": "The instance has not launched yet.",
            })
        }
    };
    let mut value = json!({
        "id": instance.id,
        "status": instance.status.as_str(),
        "ssh_key_names": instance.ssh_key_names,
        "file_system_names": instance.file_system_names,
        "region": region_json(&instance.region),
        "instance_type": instance_type,
        "is_reserved": false,
        "actions": {
            "migrate": action(false),
            "rebuild": action(launched),
            "restart": action(launched),
            "cold_reboot": action(launched),
            "terminate": action(true),
        },
        "tags": instance
            .tags
            .iter()
            .map(|(k, v)| json!({ "key": k, "value": v }))
            .collect::<Vec<_>>(),
    });
    if let Some(name) = &instance.name {
        value["name"] = json!(name);
    }
    if let Some(ip) = &instance.ip {
        value["ip"] = json!(ip);
        value["hostname"] = json!(instance.hostname.clone().unwrap_or_else(|| ip.clone()));
        // A secret the API really returns; the client must never show it.
        let token = format!("{:032x}", 0x7070_0000 + instance.serial);
        value["jupyter_url"] = json!(format!(
            "https://jupyter-{}.lambdaspaces.com/?token={token}",
            instance.id
        ));
        value["jupyter_token"] = json!(token);
    }
    if let Some(ip) = &instance.private_ip {
        value["private_ip"] = json!(ip);
    }
    value
}
