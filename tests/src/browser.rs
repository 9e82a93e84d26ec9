//! Browser test support: a tiny static file server for the built site (also under a
//! subpath), headless Chromium driven through chromedriver, and the exact text the
//! calculator shows for a state, computed with gpu-session-core.
//!
//! Everything runs on 127.0.0.1; nothing is built here: the site comes from
//! `GPU_SESSION_SITE_DIR` (default `<workspace>/target/site`) and the `gpu-session`
//! binary from [`gpu_session_bin`].

use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder};
use flate2::write::GzEncoder;
use flate2::Compression;
use gpu_session_core::gpu;
use gpu_session_core::present::{self, MemoryBreakdown};
use gpu_session_core::recommend::{recommend, Fit};
use gpu_session_core::share::{ModelChoice, ShareState};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The workspace root (this crate lives in `<workspace>/tests`).
pub fn workspace_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Overrides the `gpu-session` binary [`cli_plan`] runs (e.g. an installed build).
pub const BIN_ENV: &str = "GPU_SESSION_TEST_BIN";

/// The `gpu-session` binary: `$GPU_SESSION_TEST_BIN`, else the one cargo puts next to
/// this test binary (`target/<profile>/gpu-session`). Cargo builds a package's binary
/// only for that package's own tests, so this one comes from the launcher's: `cargo test
/// --workspace` (what `cargo xtask test` runs) builds every test target, the launcher's
/// integration tests and with them this binary, before it runs any test. Nothing is
/// built here: a missing binary is an error saying how to build it.
pub fn gpu_session_bin() -> PathBuf {
    if let Some(bin) = std::env::var_os(BIN_ENV).filter(|b| !b.is_empty()) {
        return PathBuf::from(bin);
    }
    // A test binary lives in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary in target/<profile>/deps");
    let bin = profile_dir.join(format!("gpu-session{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.is_file(),
        "no gpu-session binary at {}: run `cargo test --workspace` (or `cargo build -p \
         gpu-session` first), or point {BIN_ENV} at one",
        bin.display()
    );
    bin
}

/// Where browser tests and the benchmark put screenshots and reports.
pub fn output_dir() -> PathBuf {
    let dir = workspace_dir().join("target").join("test-output");
    std::fs::create_dir_all(&dir).expect("create target/test-output");
    dir
}

/// The built release site: `GPU_SESSION_SITE_DIR`, else `<workspace>/target/site`.
pub fn site_dir() -> Result<PathBuf, String> {
    let dir = std::env::var_os("GPU_SESSION_SITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_dir().join("target").join("site"));
    if !dir.join("index.html").is_file() {
        return Err(format!(
            "the built site is missing: no index.html in {}. Build it first with \
             `cd web && trunk build --release --dist ../target/site --public-url ./` \
             (cargo xtask test does this), or point GPU_SESSION_SITE_DIR at a built site",
            dir.display()
        ));
    }
    Ok(dir)
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "wasm" => "application/wasm",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// Whether a static server compresses what it sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Bytes as they are on disk.
    Identity,
    /// gzip (level 6, what common static hosts use) for text and wasm, to clients that
    /// accept it: what a visitor downloads from a real host.
    Gzip,
}

/// A static file server on 127.0.0.1 serving `root` under `prefix` (`/` or `/calc/`).
pub struct StaticServer {
    addr: SocketAddr,
    prefix: String,
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<(String, u16)>>>,
}

/// gzip bodies already compressed, by file path (a benchmark loads the same files often).
type GzipCache = Arc<Mutex<HashMap<PathBuf, Arc<Vec<u8>>>>>;

/// gzip `bytes` at level 6 (the default of gzip and of common static hosts).
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::new(6));
    enc.write_all(bytes).expect("gzip in memory");
    enc.finish().expect("gzip in memory")
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || ["application/wasm", "application/json", "image/svg+xml"].contains(&content_type)
}

impl StaticServer {
    /// Serve the files as they are.
    pub fn start(root: &Path, prefix: &str) -> std::io::Result<StaticServer> {
        StaticServer::start_with(root, prefix, Encoding::Identity)
    }

    pub fn start_with(
        root: &Path,
        prefix: &str,
        encoding: Encoding,
    ) -> std::io::Result<StaticServer> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let mut prefix = prefix.trim_end_matches('/').to_string();
        prefix.push('/');
        if !prefix.starts_with('/') {
            prefix.insert(0, '/');
        }
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (root, served_prefix) = (root.to_path_buf(), prefix.clone());
        let (stop_flag, log) = (stop.clone(), requests.clone());
        let cache: Option<GzipCache> = (encoding == Encoding::Gzip).then(GzipCache::default);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop_flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let (root, prefix, log) = (root.clone(), served_prefix.clone(), log.clone());
                let cache = cache.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &root, &prefix, &log, cache.as_ref());
                });
            }
        });
        Ok(StaticServer {
            addr,
            prefix,
            stop,
            requests,
        })
    }

    /// The site's URL: `http://127.0.0.1:PORT/prefix/`.
    pub fn url(&self) -> String {
        format!("http://{}{}", self.addr, self.prefix)
    }

    pub fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Every request served so far: path and status.
    pub fn requests(&self) -> Vec<(String, u16)> {
        self.requests.lock().map(|r| r.clone()).unwrap_or_default()
    }
}

impl Drop for StaticServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    stream: TcpStream,
    root: &Path,
    prefix: &str,
    log: &Mutex<Vec<(String, u16)>>,
    gzip_cache: Option<&GzipCache>,
) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut content_length = 0usize;
        let mut accepts_gzip = false;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = header.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    content_length = v.trim().parse().unwrap_or(0);
                } else if k.eq_ignore_ascii_case("accept-encoding") {
                    accepts_gzip = v.split(',').any(|e| e.trim().starts_with("gzip"));
                }
            }
        }
        if content_length > 0 {
            let mut body = vec![0; content_length];
            reader.read_exact(&mut body)?;
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or("");
        let target = parts.next().unwrap_or("/");
        let path = target.split(['?', '#']).next().unwrap_or("/");
        let (status, content_type, file, body) = respond(method, path, root, prefix);
        let gzipped = match (gzip_cache, file) {
            (Some(cache), Some(file)) if accepts_gzip && compressible(content_type) => {
                let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
                Some(
                    cache
                        .entry(file)
                        .or_insert_with(|| Arc::new(gzip(&body)))
                        .clone(),
                )
            }
            _ => None,
        };
        let body: &[u8] = gzipped.as_deref().map_or(&body, Vec::as_slice);
        if let Ok(mut log) = log.lock() {
            log.push((path.to_string(), status));
        }
        let reason = match status {
            200 => "OK",
            301 => "Moved Permanently",
            404 => "Not Found",
            _ => "Method Not Allowed",
        };
        let mut out = stream.try_clone()?;
        let mut head = format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\ncache-control: no-store\r\n",
            body.len()
        );
        if gzipped.is_some() {
            head.push_str("content-encoding: gzip\r\nvary: accept-encoding\r\n");
        }
        if status == 301 {
            head.push_str(&format!("location: {prefix}\r\n"));
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        if method != "HEAD" {
            out.write_all(body)?;
        }
        out.flush()?;
    }
}

/// Status, content type, the file served (if any) and the body for a request.
fn respond(
    method: &str,
    path: &str,
    root: &Path,
    prefix: &str,
) -> (u16, &'static str, Option<PathBuf>, Vec<u8>) {
    const TEXT: &str = "text/plain; charset=utf-8";
    if method != "GET" && method != "HEAD" {
        return (405, TEXT, None, b"method not allowed".to_vec());
    }
    if path == prefix.trim_end_matches('/') && prefix != "/" {
        return (301, TEXT, None, Vec::new());
    }
    let Some(rest) = path.strip_prefix(prefix) else {
        return (404, TEXT, None, b"not found".to_vec());
    };
    let rest = if rest.is_empty() { "index.html" } else { rest };
    let relative = Path::new(rest);
    if relative
        .components()
        .any(|c| !matches!(c, Component::Normal(_)))
    {
        return (404, TEXT, None, b"not found".to_vec());
    }
    let file = root.join(relative);
    match std::fs::read(&file) {
        Ok(body) => (200, content_type(&file), Some(file), body),
        Err(_) => (404, TEXT, None, b"not found".to_vec()),
    }
}

fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_string())
}

/// A fresh headless Chromium (own chromedriver, own temporary profile).
/// Added to every document: keeps what would otherwise only reach the console.
const RECORD_UNCAUGHT_ERRORS: &str = "window.__uncaughtErrors = [];
addEventListener('error', (e) => window.__uncaughtErrors.push(String(e.message)));
addEventListener('unhandledrejection', (e) => window.__uncaughtErrors.push(String(e.reason)));";

pub struct Browser {
    pub client: Client,
    driver: Child,
    profile: PathBuf,
}

static PROFILES: AtomicU64 = AtomicU64::new(0);

impl Browser {
    /// Start chromedriver on a free loopback port and open a session with a window of
    /// `width` × `height` CSS pixels.
    pub async fn start(width: u32, height: u32) -> Result<Browser, String> {
        let chromium = env_or("GPU_SESSION_CHROMIUM", "/usr/bin/chromium");
        let chromedriver = env_or("GPU_SESSION_CHROMEDRIVER", "/usr/bin/chromedriver");
        let profile = std::env::temp_dir().join(format!(
            "gpu-session-chrome-{}-{}",
            std::process::id(),
            PROFILES.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).map_err(|e| format!("create {profile:?}: {e}"))?;
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {chromedriver}: {e}"))?;
        let client = match connect_when_ready(port, &chromium, &profile, width, height).await {
            Ok(client) => client,
            Err(e) => {
                let mut driver = driver;
                let _ = driver.kill();
                let _ = driver.wait();
                let _ = std::fs::remove_dir_all(&profile);
                return Err(e);
            }
        };
        // From here on `browser` owns the driver and profile; dropping it cleans up.
        let browser = Browser {
            client,
            driver,
            profile,
        };
        browser
            .client
            .set_window_size(width, height)
            .await
            .map_err(|e| format!("set window size: {e}"))?;
        browser
            .cdp(
                "Page.addScriptToEvaluateOnNewDocument",
                serde_json::json!({ "source": RECORD_UNCAUGHT_ERRORS }),
            )
            .await?;
        Ok(browser)
    }

    /// The uncaught errors and unhandled promise rejections of the current document
    /// (a trap in either wasm module is an uncaught `RuntimeError`).
    pub async fn uncaught_errors(&self) -> Vec<String> {
        let errors = self.js("return window.__uncaughtErrors ?? [];").await;
        errors
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| e.as_str().unwrap_or_default().to_string())
            .collect()
    }

    /// End the session, chromedriver and the temporary profile, after checking that
    /// the page raised no uncaught error.
    pub async fn close(self) {
        let errors = self.uncaught_errors().await;
        let _ = self.client.clone().close().await;
        // Drop ends chromedriver and removes the profile.
        assert!(errors.is_empty(), "uncaught errors in the page: {errors:?}");
    }

    /// Run `script` (a function body) and return its value.
    pub async fn js(&self, script: &str) -> Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Run `script` (a function body ending by calling `done(value)`) and return the value.
    pub async fn js_async(&self, script: &str) -> Value {
        let body = format!("const done = arguments[arguments.length - 1];\n{script}");
        self.client
            .execute_async(&body, vec![])
            .await
            .unwrap_or_else(|e| panic!("async script failed: {e}\n{script}"))
    }

    /// Poll `condition` (a JS expression) until it is truthy; panics with `what` after
    /// a generous bound. Waiting, not timing: the bound is only a hang guard.
    pub async fn wait_for(&self, condition: &str, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self
                .client
                .execute(&format!("return ({condition});"), vec![])
                .await
                .unwrap_or(Value::Null);
            if !(v.is_null() || v == json!(false) || v == json!("") || v == json!(0)) {
                return v;
            }
            if Instant::now() > deadline {
                panic!("gave up waiting for {what} ({condition})");
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Open `url` and wait until the calculator runs: the wasm has taken over the
    /// pre-rendered page (it sets `window.__gpuSessionInteractive`) and shows the table.
    pub async fn open(&self, url: &str) {
        self.goto(url).await;
        self.wait_for(
            "window.__gpuSessionInteractive !== undefined \
             && document.querySelectorAll('[data-testid=gpu-row]').length > 0",
            "the calculator to start",
        )
        .await;
    }

    /// Navigate to `url` and return once the document has loaded, without waiting for
    /// the calculator (the pre-rendered page may be all there is).
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Send a Chrome DevTools Protocol command to the page through chromedriver
    /// (`goog/cdp/execute`): network throttling, cache control, blocking requests.
    pub async fn cdp(&self, method: &str, params: Value) -> Result<Value, String> {
        self.client
            .issue_cmd(Cdp {
                method: method.to_string(),
                params,
            })
            .await
            .map_err(|e| format!("CDP {method}: {e}"))
    }

    /// Save a PNG screenshot of the whole page at the current width (the window grows
    /// to the page's height for the shot and is restored afterwards).
    pub async fn screenshot(&self, path: &Path) {
        let size = self
            .js("return [window.innerWidth, window.innerHeight, document.documentElement.scrollHeight];")
            .await;
        let dim = |i: usize| size[i].as_u64().unwrap_or(800) as u32;
        let (width, height, page) = (dim(0), dim(1), dim(2));
        self.js("window.scrollTo(0, 0);").await;
        let _ = self
            .client
            .set_window_size(width, page.clamp(height, 12_000))
            .await;
        let png = self.client.screenshot().await.expect("screenshot");
        let _ = self.client.set_window_size(width, height).await;
        std::fs::write(path, png).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
    }

    /// What the page currently shows (see [`View`]).
    pub async fn view(&self) -> View {
        View::from_json(&self.js(READ_VIEW).await)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// chromedriver's vendor command that forwards one CDP method to the page.
#[derive(Debug)]
struct Cdp {
    method: String,
    params: Value,
}

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/goog/cdp/execute",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = json!({ "cmd": self.method, "params": self.params });
        (http::Method::POST, Some(body.to_string()))
    }
}

async fn connect_when_ready(
    port: u16,
    chromium: &str,
    profile: &Path,
    width: u32,
    height: u32,
) -> Result<Client, String> {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--force-device-scale-factor=1",
                format!("--window-size={width},{height}"),
                format!("--user-data-dir={}", profile.display()),
            ],
            "prefs": {
                "download.default_directory": profile.join("downloads"),
                "download.prompt_for_download": false,
            },
        }),
    );
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            // chromedriver speaks plain HTTP on loopback: no TLS stack involved.
            let mut builder = ClientBuilder::new(HttpConnector::new());
            match builder.capabilities(caps.clone()).connect(&url).await {
                Ok(client) => return Ok(client),
                Err(e) if Instant::now() > deadline => {
                    return Err(format!("chromedriver session failed: {e}"))
                }
                Err(_) => {}
            }
        } else if Instant::now() > deadline {
            return Err("chromedriver did not start listening".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads the calculator's key elements in one script.
const READ_VIEW: &str = r#"
const text = (sel) => { const e = document.querySelector(sel); return e ? e.textContent.trim() : null; };
return {
  search: location.search,
  total: text('[data-testid=total-per-gpu]'),
  breakdown: ['weights', 'kv', 'activations', 'overhead'].map((k) => text(`[data-testid=breakdown-${k}]`)),
  rows: [...document.querySelectorAll('[data-testid=gpu-row]')].map((r) => ({
    instance: r.dataset.instance,
    cheapest: r.classList.contains('cheapest'),
    selected: r.classList.contains('selected'),
    cells: Object.fromEntries([...r.querySelectorAll('td[data-col]:not([data-col=service])')].map((td) => [td.dataset.col, td.textContent.trim()])),
  })),
  notice: text('[data-testid=ignored-fields]'),
  context: document.querySelector('[data-testid=ctx-input]')?.value ?? null,
  seqs: document.querySelector('[data-testid=seq-input]')?.value ?? null,
};
"#;

/// One GPU-table row as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowView {
    pub instance: String,
    pub cheapest: bool,
    pub selected: bool,
    pub cells: BTreeMap<String, String>,
}

/// The calculator's numbers as the page shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub search: String,
    pub total: Option<String>,
    pub breakdown: Vec<Option<String>>,
    pub rows: Vec<RowView>,
    pub notice: Option<String>,
    pub context: Option<String>,
    pub seqs: Option<String>,
}

fn text(v: &Value) -> Option<String> {
    v.as_str().map(str::to_string)
}

impl View {
    fn from_json(v: &Value) -> View {
        let rows = v["rows"]
            .as_array()
            .map(|rows| {
                rows.iter()
                    .map(|r| RowView {
                        instance: text(&r["instance"]).unwrap_or_default(),
                        cheapest: r["cheapest"].as_bool().unwrap_or(false),
                        selected: r["selected"].as_bool().unwrap_or(false),
                        cells: r["cells"]
                            .as_object()
                            .map(|c| {
                                c.iter()
                                    .map(|(k, v)| (k.clone(), text(v).unwrap_or_default()))
                                    .collect()
                            })
                            .unwrap_or_default(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        View {
            search: text(&v["search"]).unwrap_or_default(),
            total: text(&v["total"]),
            breakdown: v["breakdown"]
                .as_array()
                .map(|b| b.iter().map(text).collect())
                .unwrap_or_default(),
            rows,
            notice: text(&v["notice"]),
            context: text(&v["context"]),
            seqs: text(&v["seqs"]),
        }
    }

    /// The rows in catalog order (the table may be sorted).
    pub fn rows_by_instance(&self) -> BTreeMap<String, RowView> {
        self.rows
            .iter()
            .map(|r| (r.instance.clone(), r.clone()))
            .collect()
    }
}

/// What the page must show for `state`, computed with core exactly as the page does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    pub total: String,
    pub breakdown: Vec<String>,
    pub rows: BTreeMap<String, RowView>,
}

pub fn expected(state: &ShareState) -> Expected {
    let model = state.resolve_model();
    let selected = state.gpu.as_deref().and_then(gpu::find);
    let rec = recommend(&model, &state.settings, state.mode, selected);
    let b = MemoryBreakdown::of(&rec);
    let rows = rec
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            // Speed figures only where the model runs, as the CLI shows them.
            let speed = |text: String| {
                if r.fit == Fit::No {
                    "-".to_string()
                } else {
                    text
                }
            };
            let tps = present::tokens_per_s(r.speed.output_tokens_per_s);
            let tps = if r.speed.saturated {
                format!("{tps}!")
            } else {
                tps
            };
            let cells: BTreeMap<String, String> = [
                (
                    "memory",
                    format!("{}× {} GB", r.gpu.gpu_count, r.gpu.nominal_memory_gb),
                ),
                ("fit", r.fit.label(r.max_seqs, rec.settings.seqs)),
                ("headroom", present::signed_gib(r.headroom_bytes)),
                ("kv-pool", present::thousands(r.kv_pool_tokens)),
                ("max-context", present::thousands(u64::from(r.max_context))),
                ("ttft", speed(present::milliseconds(r.speed.ttft_ms))),
                ("tpot", speed(present::milliseconds(r.speed.tpot_ms))),
                ("tps", speed(tps)),
                (
                    "tps-user",
                    speed(present::tokens_per_s(r.speed.output_tokens_per_s_per_user)),
                ),
                ("price", present::usd(r.price_per_hour_usd)),
                (
                    "per-million",
                    speed(present::usd_fine(r.speed.usd_per_million_output_tokens)),
                ),
                (
                    "per-million-in",
                    speed(present::usd_fine(r.speed.usd_per_million_input_tokens)),
                ),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let row = RowView {
                instance: r.gpu.instance_type.to_string(),
                cheapest: rec.cheapest_fit == Some(i),
                // Two instances of the type are the two-instance options' row.
                selected: state.gpu.as_deref() == Some(r.gpu.instance_type) && state.nodes == 1,
                cells,
            };
            (row.instance.clone(), row)
        })
        .collect();
    Expected {
        total: present::amount(b.total(), b.unit),
        breakdown: b
            .parts()
            .iter()
            .map(|(_, v)| present::amount(*v, b.unit))
            .collect(),
        rows,
    }
}

/// Panic with a readable diff unless the page shows exactly what core computes.
pub fn assert_view_matches(view: &View, state: &ShareState) {
    let want = expected(state);
    assert_eq!(
        view.total.as_deref(),
        Some(want.total.as_str()),
        "total per GPU"
    );
    let breakdown: Vec<String> = view.breakdown.iter().flatten().cloned().collect();
    assert_eq!(breakdown, want.breakdown, "memory breakdown");
    let got = view.rows_by_instance();
    assert_eq!(
        got.keys().collect::<Vec<_>>(),
        want.rows.keys().collect::<Vec<_>>(),
        "GPU table rows"
    );
    for (instance, row) in &want.rows {
        assert_eq!(&got[instance], row, "GPU table row {instance}");
    }
}

/// What the real `gpu-session plan` prints for a built-in model's state: the file the
/// page must offer, byte for byte. Runs with an empty config in a temporary home.
pub fn cli_plan(state: &ShareState) -> String {
    let ModelChoice::Builtin(id) = &state.model else {
        panic!("cli_plan compares built-in models only");
    };
    let mut args = vec!["plan".to_string(), "--model".into(), id.clone()];
    // The site plans at the state's targets when it names no type, as `plan` does.
    if state.gpu.is_none() && state.nodes == 1 {
        for (flag, target) in [
            ("--ttft-max", state.targets.ttft_max_ms),
            ("--tpot-max", state.targets.tpot_max_ms),
        ] {
            if let Some(ms) = target {
                args.extend([flag.to_string(), gpu_session_core::decimal::shortest(ms)]);
            }
        }
    }
    if state.nodes != 1 {
        args.extend(["--nodes".to_string(), state.nodes.to_string()]);
        // The site plans the layout its two-instance row shows: TP 16 where PP 2 × TP 8
        // does not fit.
        let model = state.resolve_model();
        let settings = recommend(
            &model,
            &state.settings,
            gpu_session_core::settings::EstimateMode::Serving,
            None,
        )
        .settings;
        let tp16 = state.gpu.as_deref().and_then(gpu::find).is_some_and(|g| {
            gpu_session_core::multi_node::two_nodes(&model, &settings, g, &settings.workload())
                .is_ok_and(|e| e.recommended == Some(gpu_session_core::multi_node::Layout::Tp16))
        });
        if tp16 {
            args.extend(["--pipeline-parallel".to_string(), "1".to_string()]);
        }
    }
    if state.replicas != 1 {
        args.extend(["--replicas".to_string(), state.replicas.to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    run_cli(&args, state)
}

/// What the real `gpu-session gpus --model MODEL --json` prints for a built-in model's
/// state (its two-instance options included).
pub fn cli_gpus(state: &ShareState) -> Value {
    let ModelChoice::Builtin(id) = &state.model else {
        panic!("cli_gpus compares built-in models only");
    };
    let unselected = ShareState {
        gpu: None,
        ..state.clone()
    };
    let out = run_cli(&["gpus", "--model", id, "--json"], &unselected);
    serde_json::from_str(&out).expect("gpus --json prints JSON")
}

/// What the real `gpu-session estimate MODEL --json` prints for a built-in model's
/// state (its workload and, when one is selected, its instance type and TP).
pub fn cli_estimate(state: &ShareState) -> Value {
    let ModelChoice::Builtin(id) = &state.model else {
        panic!("cli_estimate compares built-in models only");
    };
    let mode = state.mode.as_str();
    let out = run_cli(
        &[
            "estimate",
            id,
            "--json",
            "--tp",
            &state.settings.gpus.to_string(),
            "--mode",
            mode,
        ],
        state,
    );
    serde_json::from_str(&out).expect("estimate --json prints JSON")
}

/// Run `gpu-session` with `args` and the state's settings as flags, with an empty
/// config in a temporary home; its standard output.
fn run_cli(args: &[&str], state: &ShareState) -> String {
    let home = tempfile::tempdir().expect("temp home");
    let s = &state.settings;
    let mut cmd = std::process::Command::new(gpu_session_bin());
    cmd.args(args)
        .args(["--quantization", s.quantization.as_str()])
        .args(["--context", &s.context.to_string()])
        .args(["--seqs", &s.seqs.to_string()])
        .args(["--kv-dtype", s.kv_dtype.as_str()])
        .args(["--input-tokens", &s.input_tokens.to_string()])
        .args(["--output-tokens", &s.output_tokens.to_string()])
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path())
        .env("GPU_SESSION_CONFIG", home.path().join("config.yaml"))
        .env("NO_COLOR", "1");
    if let Some(rate) = s.rate {
        cmd.args(["--rate", &rate.to_string()]);
    }
    if let Some(gpu) = &state.gpu {
        cmd.args(["--gpu", gpu]);
    }
    let out = cmd.output().expect("run gpu-session");
    assert!(
        out.status.success(),
        "gpu-session {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}
