//! The `user_data` sent with a launch: a `#cloud-config` document, serialized with
//! core's YAML writer from typed, validated plan fields.
//!
//! It writes an environment file with SGLang's settings, a wrapper that passes
//! each value as its own quoted argument, a systemd unit for SGLang, the lease
//! agent with its unit, key and settings, and an install script; `runcmd` (argv
//! lists, no shell) starts the lease agent first, then installs and starts SGLang.
//! Every value placed in a file is re-checked against a conservative character
//! set, so nothing from a plan can reach a shell or systemd as syntax.

use super::group::{self, Member};
use super::{lease_agent, systemd_service};
use gpu_session_core::plan::Plan;
use gpu_session_core::validate::{self, FieldError};
use serde::Serialize;
use std::time::Duration;

/// SGLang's settings, read by systemd (`EnvironmentFile`), never sourced by a shell.
pub const SGLANG_ENV_FILE: &str = "/etc/gpu-session/sglang.env";
/// SGLang's command-line flags, one argument per line, exactly `Plan::sglang_args` plus
/// the loopback host and metrics: core decides the flags, the instance only reads them.
pub const SGLANG_ARGS_FILE: &str = "/etc/gpu-session/sglang.args";
/// The wrapper that starts SGLang.
pub const SGLANG_RUN_PATH: &str = "/usr/local/bin/gpu-session-sglang";
/// The install script run by `runcmd`.
pub const INSTALL_PATH: &str = "/usr/local/bin/gpu-session-install";
/// SGLang's systemd unit name.
pub const SGLANG_UNIT: &str = "gpu-session-sglang.service";
/// Scripts installed on the instance, for tests and `--dry-run` readers.
pub const SGLANG_RUN_SCRIPT: &str = include_str!("assets/sglang-run.sh");
pub const INSTALL_SCRIPT: &str = include_str!("assets/install-sglang.sh");
/// The lock the install script installs SGLang from (`uv pip sync --require-hashes`).
pub const SGLANG_LOCK_FILE: &str = "/etc/gpu-session/sglang-lock.txt";
/// The SGLang release the locks pin (core's `SGLANG_VERSION`; a test keeps them equal).
pub const LOCKED_SGLANG_VERSION: &str = "0.5.23";
/// `cargo xtask sglang-pin`'s hashed resolution of `sglang==0.5.23` for Python 3.12,
/// per instance CPU (Lambda's x86_64 types; GH200 is aarch64).
pub const SGLANG_LOCK_X86_64: &str = include_str!("assets/locks/sglang-0.5.23-x86_64.txt");
pub const SGLANG_LOCK_AARCH64: &str = include_str!("assets/locks/sglang-0.5.23-aarch64.txt");
/// Hugging Face cache when no file system is attached.
pub const LOCAL_HF_HOME: &str = "/opt/gpu-session/huggingface";
/// The unprivileged system user SGLang runs as (created by the install script): it
/// cannot read the Lambda API key (root, 0600), which only the root lease agent uses.
pub const SGLANG_USER: &str = "gpu-session-sglang";
/// Mode of `/etc/gpu-session`: others may enter it (SGLang reads its argument file
/// there) but not list it; every secret in it is a root-only 0600 file.
pub const CONFIG_DIR_MODE: &str = "0711";

/// A value that may not go into user_data.
#[derive(Debug, thiserror::Error)]
pub enum CloudInitError {
    #[error("{name} holds characters that are not allowed in user_data (allowed: letters, digits and . _ - / : @ + =)")]
    UnsafeValue { name: String },
    #[error(transparent)]
    FileSystemName(#[from] FieldError),
    #[error("could not encode user_data: {0}")]
    Yaml(String),
    #[error("serving.version is {version}, but this gpu-session installs SGLang only from its lock for {LOCKED_SGLANG_VERSION} (set serving.version: {LOCKED_SGLANG_VERSION})")]
    NoLock { version: String },
    #[error(transparent)]
    Plan(#[from] gpu_session_core::plan::PlanError),
    #[error("LAMBDA_API_URL is a loopback address ({url}): the lease agent on the instance would call the instance itself and could never terminate it; unset LAMBDA_API_URL or set it to an address the instance can reach")]
    LoopbackApiUrl { url: String },
}

/// Everything user_data is built from besides the plan.
#[derive(Debug, Clone)]
pub struct UserDataInput<'a> {
    pub plan: &'a Plan,
    /// Instance hostname (the lease agent finds its own id by it).
    pub hostname: &'a str,
    /// Generated per launch; SGLang requires it as a bearer token.
    pub sglang_api_key: &'a str,
    /// The Lambda key the lease agent uses (a placeholder in `--dry-run`).
    pub lambda_api_key: &'a str,
    /// Base URL of the Lambda API for the agent.
    pub lambda_api_url: &'a str,
    /// `HF_TOKEN` from the launching environment, for gated models.
    pub hf_token: Option<&'a str>,
    /// Persistent file system holding the Hugging Face cache.
    pub filesystem: Option<&'a str>,
    /// How long the first start may take (launch's ready timeout): until then a silent
    /// SGLang is starting, after it a silent SGLang counts as idle for the lease agent.
    pub first_start_limit: Duration,
    /// Bytes SGLang downloads for the checkpoint (from the Hub check), so the instance
    /// can report download progress; None when the Hub did not say.
    pub checkpoint_bytes: Option<u64>,
    /// This instance's place in a group (`gpu.replicas` or `gpu.nodes` above 1); None
    /// for a single instance.
    pub member: Option<Member>,
}

#[derive(Debug, Serialize)]
struct CloudConfig {
    write_files: Vec<WriteFile>,
    runcmd: Vec<Vec<String>>,
}

#[derive(Debug, Serialize)]
struct WriteFile {
    path: String,
    owner: String,
    permissions: String,
    content: String,
}

impl WriteFile {
    fn new(path: &str, permissions: &str, content: String) -> Self {
        WriteFile {
            path: path.to_owned(),
            owner: "root:root".to_owned(),
            permissions: permissions.to_owned(),
            content,
        }
    }
}

fn is_safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | ':' | '@' | '+' | '=')
}

/// Refuses a value (e.g. `HF_TOKEN`) that could not go into user_data as is.
pub fn check_value(name: &str, value: &str) -> Result<(), CloudInitError> {
    if value.is_empty() || !value.chars().all(is_safe_char) {
        return Err(CloudInitError::UnsafeValue {
            name: name.to_owned(),
        });
    }
    Ok(())
}

/// `KEY=value` for a systemd environment file, refusing anything but safe characters.
fn env_line(out: &mut String, key: &str, value: &str) -> Result<(), CloudInitError> {
    if !value.chars().all(is_safe_char) {
        return Err(CloudInitError::UnsafeValue {
            name: key.to_owned(),
        });
    }
    out.push_str(key);
    out.push('=');
    out.push_str(value);
    out.push('\n');
    Ok(())
}

/// A file system name as core's rule allows it (`validate::filesystem_name`).
pub fn validate_filesystem_name(name: &str) -> Result<(), CloudInitError> {
    Ok(validate::filesystem_name("file system name", name)?)
}

/// Where the Hugging Face cache lives: on the file system's mount when there is one.
pub fn hf_home(filesystem: Option<&str>) -> String {
    match filesystem {
        Some(fs) => format!("/lambda/nfs/{fs}/huggingface"),
        None => LOCAL_HF_HOME.to_owned(),
    }
}

/// SGLang's flags: the plan's (from core) plus what every launch adds. Each argument is
/// checked like an environment value, so none can hold a newline or shell syntax.
pub fn sglang_args(plan: &Plan) -> Result<String, CloudInitError> {
    member_sglang_args(plan, None)
}

/// [`sglang_args`] for a group member (see [`group::member_sglang_args`]).
pub fn member_sglang_args(plan: &Plan, member: Option<Member>) -> Result<String, CloudInitError> {
    let mut args = plan.sglang_args();
    args.extend(["--host", "127.0.0.1", "--enable-metrics"].map(str::to_owned));
    if let Some(member) = member {
        args = group::member_sglang_args(plan, member, args);
    }
    let mut out = String::new();
    for arg in &args {
        check_value("an SGLang argument", arg)?;
        out.push_str(arg);
        out.push('\n');
    }
    Ok(out)
}

/// The SGLang environment file.
pub fn sglang_env(input: &UserDataInput<'_>) -> Result<String, CloudInitError> {
    let plan = input.plan;
    let mut env =
        String::from("# Written by gpu-session at launch; read by gpu-session-sglang.service.\n");
    env_line(&mut env, "SGLANG_VERSION", &plan.serving.version)?;
    env_line(
        &mut env,
        "SGLANG_PYTHON_VERSION",
        gpu_session_core::serving::SGLANG_PYTHON_VERSION,
    )?;
    env_line(&mut env, "SGLANG_API_KEY", input.sglang_api_key)?;
    env_line(&mut env, "GPU_SESSION_CHECKPOINT", &plan.model.checkpoint)?;
    env_line(
        &mut env,
        "GPU_SESSION_CHECKPOINT_BYTES",
        &input.checkpoint_bytes.unwrap_or(0).to_string(),
    )?;
    if let Some(fs) = input.filesystem {
        validate_filesystem_name(fs)?;
    }
    env_line(&mut env, "HF_HOME", &hf_home(input.filesystem))?;
    if let Some(token) = input.hf_token {
        env_line(&mut env, "HF_TOKEN", token)?;
    }
    if let Some(member) = input.member {
        let kind = group::kind(plan);
        env_line(&mut env, "GPU_SESSION_GROUP", kind)?;
        if has_gateway(plan, member) {
            env_line(
                &mut env,
                "GPU_SESSION_GATEWAY_PORT",
                &plan.serving.port.to_string(),
            )?;
            env_line(
                &mut env,
                "GPU_SESSION_GATEWAY_METRICS_PORT",
                &group::GATEWAY_PROMETHEUS_PORT.to_string(),
            )?;
        }
    }
    Ok(env)
}

/// Member 0 of a replica group runs the gateway.
fn has_gateway(plan: &Plan, member: Member) -> bool {
    plan.gpu.replicas > 1 && member.index == 0
}

/// The lease agent's settings file.
pub fn lease_env(input: &UserDataInput<'_>) -> Result<String, CloudInitError> {
    let mut env =
        String::from("# Written by gpu-session at launch; read by gpu-session-lease.service.\n");
    env_line(&mut env, "GPU_SESSION_LAMBDA_API_URL", input.lambda_api_url)?;
    if crate::loopback::is_loopback_url(input.lambda_api_url) {
        if !crate::test_hooks::TestHooks::get().loopback_lambda_api {
            return Err(CloudInitError::LoopbackApiUrl {
                url: input.lambda_api_url.to_owned(),
            });
        }
        // Tests run the agent on this machine, where the fake API is.
        env_line(&mut env, "GPU_SESSION_ALLOW_LOOPBACK_API", "1")?;
    }
    for (key, value) in lease_settings(input)
        .into_iter()
        .chain(group_lease_settings(input))
    {
        env_line(&mut env, key, &value)?;
    }
    env_line(&mut env, "GPU_SESSION_POLL_SECONDS", "30")?;
    Ok(env)
}

/// The lease agent's settings for any instance, in file order.
fn lease_settings(input: &UserDataInput<'_>) -> Vec<(&'static str, String)> {
    let plan = input.plan;
    // Node 1's SGLang serves no HTTP (a stub answers health checks): its idleness is
    // node 0's, so only node 0 judges it (the lease deadline still ends both).
    let idle_minutes = match input.member {
        Some(m) if group::spans_nodes(plan) && m.index > 0 => 0,
        _ => plan.lease.idle_minutes,
    };
    vec![
        ("GPU_SESSION_KEY_FILE", lease_agent::KEY_FILE.to_owned()),
        (
            "GPU_SESSION_DEADLINE_FILE",
            lease_agent::DEADLINE_FILE.to_owned(),
        ),
        ("GPU_SESSION_LEASE_HOURS", plan.lease.hours.to_string()),
        (
            "GPU_SESSION_MAX_LEASE_HOURS",
            gpu_session_core::plan::MAX_LEASE_HOURS.to_string(),
        ),
        (
            "GPU_SESSION_STARTUP_SECONDS",
            input.first_start_limit.as_secs().to_string(),
        ),
        ("GPU_SESSION_HOSTNAME", input.hostname.to_owned()),
        (
            "GPU_SESSION_METRICS_URL",
            format!("http://127.0.0.1:{}/metrics", plan.serving.port),
        ),
        ("GPU_SESSION_IDLE_MINUTES", idle_minutes.to_string()),
    ]
}

/// The lease agent's settings for a group member, in file order; none alone.
fn group_lease_settings(input: &UserDataInput<'_>) -> Vec<(&'static str, String)> {
    let plan = input.plan;
    let Some(member) = input.member else {
        return Vec::new();
    };
    let mut settings = Vec::new();
    if plan.gpu.replicas > 1 {
        settings.push(("GPU_SESSION_METRICS_FROM_GROUP", "1".to_owned()));
    }
    // One lease for the group: the agent finds the members by this tag value.
    settings.push((
        "GPU_SESSION_GROUP_ID",
        group::id_of_member(input.hostname).to_owned(),
    ));
    settings.push(("GPU_SESSION_GROUP_MEMBER", member.index.to_string()));
    // One model over the nodes: either node's failed start or end ends both.
    if group::spans_nodes(plan) {
        settings.push(("GPU_SESSION_GROUP_NODES", plan.gpu.nodes.to_string()));
    }
    settings
}

/// The SGLang lock for the plan's instance CPU; an error for a version without one.
pub fn sglang_lock(plan: &Plan) -> Result<&'static str, CloudInitError> {
    if plan.serving.version != LOCKED_SGLANG_VERSION {
        return Err(CloudInitError::NoLock {
            version: plan.serving.version.clone(),
        });
    }
    Ok(match plan.gpu_type()?.cpu_architecture() {
        gpu_session_core::gpu::CpuArchitecture::X86_64 => SGLANG_LOCK_X86_64,
        gpu_session_core::gpu::CpuArchitecture::Arm64 => SGLANG_LOCK_AARCH64,
    })
}

/// SGLang's systemd unit.
pub fn sglang_unit() -> String {
    systemd_service(
        "SGLang server started by gpu-session",
        SGLANG_ENV_FILE,
        SGLANG_RUN_PATH,
        10,
        Some(SGLANG_USER),
    )
}

/// The whole `#cloud-config` document.
pub fn user_data(input: &UserDataInput<'_>) -> Result<String, CloudInitError> {
    check_key("the Lambda API key", input.lambda_api_key)?;
    check_key("the instance hostname", input.hostname)?;
    let mut config = CloudConfig {
        write_files: write_files(input)?,
        runcmd: [
            vec!["chmod", CONFIG_DIR_MODE, "/etc/gpu-session"],
            vec!["systemctl", "daemon-reload"],
            // The lease first: if anything after this fails, the instance still ends.
            vec!["systemctl", "enable", "--now", lease_agent::UNIT_NAME],
            vec!["systemctl", "enable", "--now", lease_agent::WATCHDOG_TIMER],
            vec![INSTALL_PATH],
        ]
        .into_iter()
        .map(|cmd| cmd.into_iter().map(str::to_owned).collect())
        .collect(),
    };
    if let Some(member) = input.member {
        config.write_files.extend(group_files(input.plan, member));
    }
    let body = gpu_session_core::yaml::to_string(&config)
        .map_err(|e| CloudInitError::Yaml(e.to_string()))?;
    Ok(format!("#cloud-config\n{body}"))
}

/// A value the user_data carries outside an env file, which must be non-empty and
/// safe (`name` says which, never its value).
fn check_key(name: &str, v: &str) -> Result<(), CloudInitError> {
    if v.chars().all(is_safe_char) && !v.is_empty() {
        Ok(())
    } else {
        Err(CloudInitError::UnsafeValue {
            name: name.to_owned(),
        })
    }
}

/// Every instance's files: SGLang's settings, the lease agent, SGLang's service and
/// its installer, in this order.
fn write_files(input: &UserDataInput<'_>) -> Result<Vec<WriteFile>, CloudInitError> {
    let mut files = vec![
        WriteFile::new(SGLANG_ENV_FILE, "0600", sglang_env(input)?),
        WriteFile::new(
            SGLANG_ARGS_FILE,
            "0644",
            member_sglang_args(input.plan, input.member)?,
        ),
    ];
    files.extend(lease_agent_files(input)?);
    files.extend([
        WriteFile::new(SGLANG_RUN_PATH, "0755", SGLANG_RUN_SCRIPT.to_owned()),
        WriteFile::new(
            &format!("/etc/systemd/system/{SGLANG_UNIT}"),
            "0644",
            sglang_unit(),
        ),
        WriteFile::new(INSTALL_PATH, "0755", INSTALL_SCRIPT.to_owned()),
        WriteFile::new(
            SGLANG_LOCK_FILE,
            "0644",
            sglang_lock(input.plan)?.to_owned(),
        ),
    ]);
    Ok(files)
}

/// The lease agent's settings, key, script and systemd units.
fn lease_agent_files(input: &UserDataInput<'_>) -> Result<Vec<WriteFile>, CloudInitError> {
    let unit = |name: &str| format!("/etc/systemd/system/{name}");
    Ok(vec![
        WriteFile::new(lease_agent::ENV_FILE, "0600", lease_env(input)?),
        WriteFile::new(
            lease_agent::KEY_FILE,
            "0600",
            format!("{}\n", input.lambda_api_key),
        ),
        WriteFile::new(
            lease_agent::AGENT_PATH,
            "0755",
            lease_agent::SCRIPT.to_owned(),
        ),
        WriteFile::new(&unit(lease_agent::UNIT_NAME), "0644", lease_agent::unit()),
        WriteFile::new(
            &unit(lease_agent::WATCHDOG_SERVICE),
            "0644",
            lease_agent::watchdog_service(),
        ),
        WriteFile::new(
            &unit(lease_agent::WATCHDOG_TIMER),
            "0644",
            lease_agent::watchdog_timer(),
        ),
    ])
}

/// What a group member adds: the group file's reader, and on member 0 of a replica
/// group the gateway's wrapper and unit (the installer starts it after SGLang).
fn group_files(plan: &Plan, member: Member) -> Vec<WriteFile> {
    let mut files = vec![WriteFile::new(
        group::GROUP_ENV_PATH,
        "0755",
        group::GROUP_ENV_SCRIPT.to_owned(),
    )];
    if has_gateway(plan, member) {
        files.push(WriteFile::new(
            group::GATEWAY_RUN_PATH,
            "0755",
            group::GATEWAY_RUN_SCRIPT.to_owned(),
        ));
        files.push(WriteFile::new(
            &format!("/etc/systemd/system/{}", group::GATEWAY_UNIT),
            "0644",
            systemd_service(
                "SGLang Model Gateway started by gpu-session",
                SGLANG_ENV_FILE,
                group::GATEWAY_RUN_PATH,
                10,
                Some(SGLANG_USER),
            ),
        ));
    }
    files
}

/// 32 random hex characters: the per-launch SGLang API key.
pub fn generate_sglang_api_key() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_32_hex() {
        let k = generate_sglang_api_key();
        assert_eq!(k.len(), 32);
        assert!(k.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(k, generate_sglang_api_key());
    }

    #[test]
    fn the_locks_pin_core_s_sglang_release_with_hashes() {
        assert_eq!(
            LOCKED_SGLANG_VERSION,
            gpu_session_core::serving::SGLANG_VERSION
        );
        for lock in [SGLANG_LOCK_X86_64, SGLANG_LOCK_AARCH64] {
            let pin = format!("\nsglang=={LOCKED_SGLANG_VERSION} \\\n    --hash=sha256:");
            assert!(lock.contains(&pin), "the lock pins sglang with its hashes");
            // The gateway in front of replicas, resolved with SGLang (`cargo xtask sglang-pin`).
            let smg = format!("\nsmg=={} \\\n    --hash=sha256:", group::SMG_VERSION);
            assert!(lock.contains(&smg), "the lock pins smg with its hashes");
            // Every requirement line carries at least one hash.
            let requirements = lock
                .lines()
                .filter(|l| !l.starts_with(' ') && !l.starts_with('#') && !l.is_empty());
            for line in requirements {
                assert!(line.ends_with(" \\"), "no hash for {line}");
            }
        }
        assert_ne!(SGLANG_LOCK_X86_64, SGLANG_LOCK_AARCH64);
    }

    #[test]
    fn the_install_script_and_the_unit_name_the_same_sglang_user() {
        assert!(INSTALL_SCRIPT.contains(&format!("\nSGLANG_USER={SGLANG_USER}\n")));
        let unit = sglang_unit();
        assert!(unit.contains(&format!("\nUser={SGLANG_USER}\n")), "{unit}");
        assert!(
            !lease_agent::unit().contains("User="),
            "the agent stays root"
        );
    }

    #[test]
    fn unsafe_values_are_refused() {
        let mut s = String::new();
        assert!(env_line(&mut s, "X", "a$(rm -rf /)").is_err());
        assert!(env_line(&mut s, "X", "a\nB=1").is_err());
        assert!(env_line(&mut s, "X", "hf_abc-123").is_ok());
        assert!(validate_filesystem_name("models").is_ok());
        assert!(validate_filesystem_name("../x").is_err());
    }
}
