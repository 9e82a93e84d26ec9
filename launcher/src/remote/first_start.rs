//! A first start you can watch: the instance's install and SGLang's start write one
//! phase file (`assets/install-sglang.sh`, `assets/sglang-run.sh`); `launch` reads it
//! over SSH while it waits, shows phase and elapsed time, and on `failed: <reason>`
//! fetches the tail of the instance's log. Readiness ends with one real 1-token chat
//! completion, then `/server_info` gives the real KV pool and weight memory to set
//! next to core's prediction.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::remote::ssh;

/// The phase file on the instance (written by the install and run scripts).
pub const PHASE_FILE: &str = "/var/lib/gpu-session/phase";
/// Install and SGLang output on the instance.
pub const LOG_FILE: &str = "/var/log/gpu-session/first-start.log";
/// The lease agent's status file on the instance (`assets/lease-agent.sh` writes it).
pub const AGENT_STATUS_FILE: &str = "/var/lib/gpu-session/agent-status";
/// Separates the phase from the agent's status in one SSH answer.
const STATUS_SEPARATOR: &str = "--- lease agent";
/// How long after the instance is active `launch` waits for the lease agent to report
/// `armed` before it terminates the instance. cloud-init starts the agent in its final
/// stage, typically one to two minutes after Lambda reports the instance active, and
/// the agent retries every 30 s (`GPU_SESSION_POLL_SECONDS`); 10 minutes leaves room
/// for a slow boot and a late sshd while bounding what an instance nothing would stop
/// costs before launch gives up (an 8x B200 at about $54/h: about $9).
pub const ARM_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Lines of the instance's log shown on a failure.
pub const LOG_TAIL_LINES: u32 = 40;

/// Where the first start is, as the instance reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    /// No phase yet: SSH not up, or cloud-init has not started the install.
    Booting(String),
    Installing,
    /// Detail such as "3.2 of 16.1 GB".
    Downloading(String),
    Loading,
    Capturing,
    Ready,
    Failed(String),
}

impl Phase {
    /// Parses the phase file's first line.
    pub fn parse(text: &str) -> Phase {
        let line = text.lines().next().unwrap_or("").trim();
        if let Some(reason) = line.strip_prefix("failed:") {
            return Phase::Failed(reason.trim().to_owned());
        }
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "installing" => Phase::Installing,
            "downloading" => Phase::Downloading(rest.trim().to_owned()),
            "loading" => Phase::Loading,
            "capturing" => Phase::Capturing,
            "ready" => Phase::Ready,
            "" => Phase::Booting("cloud-init has not started the install yet".to_owned()),
            other => Phase::Booting(format!("unknown phase '{other}'")),
        }
    }

    /// What the user sees.
    pub fn describe(&self) -> String {
        match self {
            Phase::Booting(why) => format!("booting ({why})"),
            Phase::Installing => "installing SGLang".to_owned(),
            Phase::Downloading(d) if d.is_empty() => "downloading weights".to_owned(),
            Phase::Downloading(d) => format!("downloading weights, {d}"),
            Phase::Loading => "loading weights onto the GPU".to_owned(),
            Phase::Capturing => "capturing CUDA graphs".to_owned(),
            Phase::Ready => "SGLang reports ready".to_owned(),
            Phase::Failed(r) => format!("failed: {r}"),
        }
    }

    /// The phase without its changing detail, to print a line only when it changes.
    pub fn kind(&self) -> &'static str {
        match self {
            Phase::Booting(_) => "booting",
            Phase::Installing => "installing",
            Phase::Downloading(_) => "downloading",
            Phase::Loading => "loading",
            Phase::Capturing => "capturing",
            Phase::Ready => "ready",
            Phase::Failed(_) => "failed",
        }
    }
}

/// What the lease agent says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentStatus {
    /// No word yet (SSH not up, the agent not started, or it has not finished its
    /// first try); the detail says which.
    Unknown(String),
    /// It found the live instances carrying its hostname and can terminate them.
    Armed(Vec<String>),
    /// Still trying after a failure that may pass (network, an API error).
    Arming(String),
    /// It cannot act (key refused, no instance with its hostname, unusable API URL).
    Error(String),
}

impl AgentStatus {
    /// Parses the status file's first line.
    pub fn parse(text: &str) -> AgentStatus {
        let line = text.lines().next().unwrap_or("").trim();
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        let rest = rest.trim().to_owned();
        match word {
            "armed" if !rest.is_empty() => {
                AgentStatus::Armed(rest.split_whitespace().map(str::to_owned).collect())
            }
            "arming" => AgentStatus::Arming(rest),
            "error" => AgentStatus::Error(rest),
            "" => AgentStatus::Unknown("the lease agent has not written its status yet".to_owned()),
            _ => AgentStatus::Unknown(format!("unexpected lease agent status '{line}'")),
        }
    }
}

/// Reads the phase file and log over SSH (`ubuntu@IP`, the launch's key).
#[derive(Debug, Clone)]
pub struct Remote {
    pub ip: String,
    pub key: Option<PathBuf>,
    pub host_keys: ssh::HostKeys,
}

impl Remote {
    /// Runs `command` (ours, never from a plan) over SSH, at most 30 s in all.
    pub(crate) async fn output(&self, command: &str) -> Result<std::process::Output, String> {
        let args = ssh::batch_args(&self.ip, self.key.as_deref(), &self.host_keys, command);
        let run = tokio::process::Command::new(ssh::ssh_program())
            .args(&args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        tokio::time::timeout(Duration::from_secs(30), run)
            .await
            .map_err(|_| "ssh took longer than 30 s".to_owned())?
            .map_err(|e| format!("could not run ssh: {e}"))
    }

    async fn run(&self, command: &str) -> Result<String, String> {
        let output = self.output(command).await?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(format!(
                "SSH not answering yet ({})",
                String::from_utf8_lossy(&output.stderr)
                    .lines()
                    .last()
                    .unwrap_or("no output")
                    .trim()
            ))
        }
    }

    /// The instance's current phase and its lease agent's status, in one SSH call;
    /// SSH failures mean it is still booting.
    pub async fn look(&self) -> (Phase, AgentStatus) {
        let command = format!(
            "cat {PHASE_FILE} 2>/dev/null; echo; echo '{STATUS_SEPARATOR}'; cat {AGENT_STATUS_FILE} 2>/dev/null; true"
        );
        match self.run(&command).await {
            Ok(text) => parse_look(&text),
            Err(why) => (
                Phase::Booting(why.clone()),
                AgentStatus::Unknown(format!("cannot read its status: {why}")),
            ),
        }
    }

    /// The last lines of the instance's log, or why they could not be read.
    pub async fn log_tail(&self) -> String {
        match self
            .run(&format!("tail -n {LOG_TAIL_LINES} {LOG_FILE}"))
            .await
        {
            Ok(text) => text,
            Err(why) => format!("(could not read {LOG_FILE}: {why})"),
        }
    }
}

/// Splits the answer of [`Remote::look`] into the phase and the agent's status.
fn parse_look(text: &str) -> (Phase, AgentStatus) {
    let marker = format!("\n{STATUS_SEPARATOR}\n");
    let text = format!("\n{text}");
    let (phase, agent) = text.split_once(&marker).unwrap_or((&text, ""));
    (Phase::parse(phase.trim_start()), AgentStatus::parse(agent))
}

/// Assumed download rate from the Hub to a Lambda instance, bytes/s: 50 MB/s, a
/// conservative figure (huggingface_hub without hf_transfer reaches 40-200 MB/s on
/// cloud hosts per its download guide; the timeout must not fire on a slow day).
pub const ASSUMED_DOWNLOAD_BYTES_PER_S: u64 = 50_000_000;
/// Assumed rate of loading weights from local disk onto the GPUs, bytes/s: 500 MB/s
/// (SGLang's "Load weight end. elapsed=" lines for safetensors from NVMe run at
/// 1-2 GB/s; halved for network file systems).
pub const ASSUMED_LOAD_BYTES_PER_S: u64 = 500_000_000;
/// Fixed part: install (about 5 GB of wheels, 2-5 min), FlashInfer's first JIT compile
/// (about 2 min, facts file), CUDA graph capture (1-3 min), with slack: 15 min.
pub const READY_BASE: Duration = Duration::from_secs(15 * 60);
/// Used when the Hub did not report the checkpoint's size.
pub const READY_UNKNOWN_SIZE: Duration = Duration::from_secs(60 * 60);

/// How long the first start may take for a checkpoint of `bytes`:
/// `READY_BASE + bytes / ASSUMED_DOWNLOAD_BYTES_PER_S + bytes / ASSUMED_LOAD_BYTES_PER_S`
/// (16 GB, an 8B BF16 model: about 21 min; 141 GB, 70B BF16: about 67 min).
pub fn ready_timeout(bytes: Option<u64>) -> Duration {
    match bytes {
        None => READY_UNKNOWN_SIZE,
        Some(b) => {
            READY_BASE
                + Duration::from_secs(b / ASSUMED_DOWNLOAD_BYTES_PER_S)
                + Duration::from_secs(b / ASSUMED_LOAD_BYTES_PER_S)
        }
    }
}

/// What SGLang really allocated (read by [`crate::remote::sglang::SglangClient::server_info`]).
pub use crate::remote::sglang::Actual;

/// Core's prediction for one GPU.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Predicted {
    pub kv_pool_tokens: u64,
    pub weights_gib: f64,
}

/// Both, as kept in the lease record and shown by `status --json`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    pub predicted: Predicted,
    pub actual: Actual,
}

/// Differences beyond this share of the actual value get a warning.
pub const WARN_RELATIVE_DIFFERENCE: f64 = 0.10;

impl Comparison {
    fn relative(predicted: f64, actual: f64) -> f64 {
        if actual == 0.0 {
            if predicted == 0.0 {
                0.0
            } else {
                f64::INFINITY
            }
        } else {
            (predicted - actual).abs() / actual
        }
    }

    /// The lines printed once SGLang is ready.
    pub fn table(&self) -> String {
        format!(
            "Predicted vs actual (per GPU):\n  KV pool:  {} tokens predicted, {} actual ({:+.1} %)\n  Weights:  {:.2} GiB predicted, {:.2} GiB actual ({:+.1} %)",
            self.predicted.kv_pool_tokens,
            self.actual.kv_pool_tokens,
            signed_percent(
                self.predicted.kv_pool_tokens as f64,
                self.actual.kv_pool_tokens as f64
            ),
            self.predicted.weights_gib,
            self.actual.weights_gib,
            signed_percent(self.predicted.weights_gib, self.actual.weights_gib),
        )
    }

    /// One warning per quantity off by more than [`WARN_RELATIVE_DIFFERENCE`].
    pub fn warnings(&self) -> Vec<String> {
        let mut out = Vec::new();
        let kv = Self::relative(
            self.predicted.kv_pool_tokens as f64,
            self.actual.kv_pool_tokens as f64,
        );
        if kv > WARN_RELATIVE_DIFFERENCE {
            out.push(format!(
                "the KV pool differs from the prediction by {:.0} % (predicted {}, SGLang allocated {} tokens)",
                kv * 100.0,
                self.predicted.kv_pool_tokens,
                self.actual.kv_pool_tokens
            ));
        }
        let w = Self::relative(self.predicted.weights_gib, self.actual.weights_gib);
        if w > WARN_RELATIVE_DIFFERENCE {
            out.push(format!(
                "weight memory differs from the prediction by {:.0} % (predicted {:.2} GiB, SGLang loaded {:.2} GiB)",
                w * 100.0,
                self.predicted.weights_gib,
                self.actual.weights_gib
            ));
        }
        out
    }
}

fn signed_percent(predicted: f64, actual: f64) -> f64 {
    if actual == 0.0 {
        0.0
    } else {
        (predicted - actual) / actual * 100.0
    }
}

/// File beside the config file holding each launched instance's [`Comparison`]
/// (instance id → comparison), read by `status --json`.
pub const RECORDS_FILE: &str = "first-starts.json";

fn records_path(config_file: &Path) -> PathBuf {
    config_file
        .parent()
        .unwrap_or(Path::new("."))
        .join(RECORDS_FILE)
}

/// Every recorded comparison; an unreadable file counts as empty.
pub fn load_records(config_file: &Path) -> BTreeMap<String, Comparison> {
    std::fs::read_to_string(records_path(config_file))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Records `comparison` for `instance_id`.
pub fn save_record(
    config_file: &Path,
    instance_id: &str,
    comparison: Comparison,
) -> anyhow::Result<()> {
    let mut all = load_records(config_file);
    all.insert(instance_id.to_owned(), comparison);
    let bytes = serde_json::to_vec_pretty(&all)?;
    crate::config_file::write_atomic(
        &records_path(config_file),
        &bytes,
        crate::config_file::CONFIG_MODE,
    )?;
    Ok(())
}

/// Drops the records of terminated instances (best effort: a record left behind only
/// shows in `status` for an instance that no longer exists, which `status` never lists).
pub fn forget_records(config_file: &Path, ids: &[String]) {
    let mut all = load_records(config_file);
    let before = all.len();
    all.retain(|id, _| !ids.contains(id));
    if all.len() != before {
        if let Ok(bytes) = serde_json::to_vec_pretty(&all) {
            let _ = crate::config_file::write_atomic(
                &records_path(config_file),
                &bytes,
                crate::config_file::CONFIG_MODE,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_parse() {
        assert_eq!(Phase::parse("installing\n"), Phase::Installing);
        assert_eq!(
            Phase::parse("downloading 3.2 of 16.1 GB\n"),
            Phase::Downloading("3.2 of 16.1 GB".into())
        );
        assert_eq!(Phase::parse("ready"), Phase::Ready);
        assert_eq!(
            Phase::parse("failed: NVIDIA driver 570.1 is older than 580\n"),
            Phase::Failed("NVIDIA driver 570.1 is older than 580".into())
        );
        assert_eq!(Phase::parse("").kind(), "booting");
        assert_eq!(Phase::parse("weird").kind(), "booting");
    }

    #[test]
    fn agent_status_parses() {
        assert_eq!(
            AgentStatus::parse("armed abc def\n"),
            AgentStatus::Armed(vec!["abc".into(), "def".into()])
        );
        assert_eq!(
            AgentStatus::parse("error the Lambda API refused the key (HTTP 401)"),
            AgentStatus::Error("the Lambda API refused the key (HTTP 401)".into())
        );
        assert_eq!(
            AgentStatus::parse("arming cannot reach"),
            AgentStatus::Arming("cannot reach".into())
        );
        assert!(matches!(AgentStatus::parse(""), AgentStatus::Unknown(_)));
        assert!(matches!(
            AgentStatus::parse("armed"),
            AgentStatus::Unknown(_)
        ));
    }

    #[test]
    fn one_answer_carries_phase_and_agent_status() {
        let (phase, agent) = parse_look("loading\n\n--- lease agent\narmed i-1\n");
        assert_eq!(phase, Phase::Loading);
        assert_eq!(agent, AgentStatus::Armed(vec!["i-1".into()]));
        // No phase file yet, no status file yet.
        let (phase, agent) = parse_look("\n--- lease agent\n");
        assert_eq!(phase.kind(), "booting");
        assert!(matches!(agent, AgentStatus::Unknown(_)));
    }

    #[test]
    fn timeout_scales_with_size() {
        let t8 = ready_timeout(Some(16_060_000_000));
        let t70 = ready_timeout(Some(141_100_000_000));
        assert_eq!(t8.as_secs(), 900 + 321 + 32);
        assert!(t70 > t8 * 3, "{t70:?}");
        assert_eq!(ready_timeout(None), READY_UNKNOWN_SIZE);
    }

    #[test]
    fn warns_beyond_ten_percent() {
        let c = |p: u64, a: u64, pw: f64, aw: f64| Comparison {
            predicted: Predicted {
                kv_pool_tokens: p,
                weights_gib: pw,
            },
            actual: Actual {
                kv_pool_tokens: a,
                weights_gib: aw,
            },
        };
        assert!(c(100_000, 95_000, 15.0, 14.96).warnings().is_empty());
        let w = c(100_000, 80_000, 15.0, 14.96).warnings();
        assert_eq!(w.len(), 1);
        assert!(w[0].contains("KV pool"), "{w:?}");
        assert_eq!(c(100_000, 100_000, 15.0, 12.0).warnings().len(), 1);
        assert!(c(1, 1, 1.0, 1.0).table().contains("+0.0 %"));
    }

    #[test]
    fn records_round_trip_and_are_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.yaml");
        let c = Comparison {
            predicted: Predicted {
                kv_pool_tokens: 10,
                weights_gib: 1.5,
            },
            actual: Actual {
                kv_pool_tokens: 11,
                weights_gib: 1.25,
            },
        };
        save_record(&config, "abc", c).unwrap();
        save_record(&config, "def", c).unwrap();
        assert_eq!(load_records(&config).get("abc"), Some(&c));
        forget_records(&config, &["abc".to_owned()]);
        let left = load_records(&config);
        assert!(!left.contains_key("abc") && left.contains_key("def"));
    }
}
