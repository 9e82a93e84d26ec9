//! `gpu-session launch` end to end: the real binary against the fake Lambda API
//! and the fake SGLang server (reached through a fake ssh tunnel), plus the user_data it sends (checked with
//! `cloud-init schema` and `shellcheck`) and the lease agent run locally.

use crate::agent::now;
use crate::{assert_exit, plan_for, stderr, stdout, MODEL};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use gpu_session_core::plan::Plan;
use gpu_session_core::yaml;
use gpu_session_tests::fake_lambda::{Boot, FakeLambda, FakeLambdaConfig, Fate, Fault};
use gpu_session_tests::fake_sglang::{FakeSglang, FakeSglangConfig, Readiness};
use serde_json::Value;
use tempfile::TempDir;

const LAUNCH: &str = "/instance-operations/launch";
/// The fake Lambda's `public_key` of its key "gpu-session".
const FAKE_ACCOUNT_PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKey0 gpu-session";

/// Fakes, a private HOME and config, and a plan file.
struct Env {
    fake: FakeLambda,
    sglang: FakeSglang,
    dir: TempDir,
    plan: PathBuf,
}

impl Env {
    fn new() -> Env {
        Env::with_plan(&plan_for(MODEL, "gpu_1x_a10", &["us-east-1"]))
    }

    fn with_plan(plan: &Plan) -> Env {
        let fake = FakeLambda::start(FakeLambdaConfig {
            boot: Boot::AfterPolls(1),
            ..FakeLambdaConfig::default()
        })
        .expect("fake Lambda");
        let sglang = FakeSglang::start(FakeSglangConfig {
            served_model_name: MODEL.to_owned(),
            ..FakeSglangConfig::default()
        })
        .expect("fake SGLang");
        let dir = tempfile::tempdir().expect("temp dir");
        let plan_path = dir.path().join("plan.yaml");
        std::fs::write(&plan_path, plan.to_yaml().expect("plan YAML")).expect("write plan");
        // launch checks that the account's SSH key has its public half here.
        std::fs::create_dir(dir.path().join(".ssh")).expect("~/.ssh");
        std::fs::write(
            dir.path().join(".ssh/id_ed25519.pub"),
            format!("{FAKE_ACCOUNT_PUBLIC_KEY}\n"),
        )
        .expect("write the public key");
        Env {
            fake,
            sglang,
            dir,
            plan: plan_path,
        }
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(crate::GPU_SESSION);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("GPU_SESSION_CONFIG", self.dir.path().join("config.yaml"))
            .env("LAMBDA_API_URL", self.fake.base_url())
            .env("LAMBDA_API_KEY", self.fake.api_key())
            // SGLang is reached as on a real instance: through an ssh tunnel, here a
            // fake ssh that forwards to the fake SGLang.
            .env("GPU_SESSION_SSH", fake_ssh())
            .env("FAKE_SSH_LOG", self.ssh_log())
            .env("FAKE_SSH_TARGET", self.sglang.addr().to_string())
            .env("GPU_SESSION_TEST_POLL_INTERVAL_MS", "20")
            .env("GPU_SESSION_TEST_FAST_API", "1")
            // The fake API is on loopback, and so is the "instance" running the agent.
            .env("GPU_SESSION_TEST_LOOPBACK_LAMBDA_API", "1")
            .env("NO_COLOR", "1")
            // A Hub that refuses at once: the check warns and the launch goes on.
            .env("HF_ENDPOINT", "http://127.0.0.1:9")
            .stdin(Stdio::null());
        cmd
    }

    fn ssh_log(&self) -> PathBuf {
        self.dir.path().join("ssh.log")
    }

    /// The endpoint a launch reports: the local end of the (last) tunnel the fake ssh
    /// opened, `http://127.0.0.1:LOCAL/v1`, read from the fake ssh's log.
    fn tunnel_endpoint(&self) -> String {
        let log = std::fs::read_to_string(self.ssh_log()).expect("the fake ssh ran");
        let args: Vec<&str> = log.lines().collect();
        let forward = args
            .iter()
            .rposition(|a| *a == "-L")
            .and_then(|i| args.get(i + 1))
            .expect("a -L forward");
        let local_port = forward
            .split(':')
            .nth(1)
            .expect("127.0.0.1:LOCAL:HOST:PORT");
        format!("http://127.0.0.1:{local_port}/v1")
    }

    fn launch(&self, extra: &[&str]) -> Output {
        let plan = self.plan.to_str().expect("utf-8 path");
        let mut args = vec!["launch", plan, "--yes"];
        args.extend_from_slice(extra);
        let output = self.command(&args).output().expect("run gpu-session");
        self.assert_no_key_leak(&output);
        output
    }

    fn assert_no_key_leak(&self, output: &Output) {
        let key = self.fake.api_key();
        for stream in [&output.stdout, &output.stderr] {
            assert!(
                !String::from_utf8_lossy(stream).contains(&key),
                "the Lambda API key was printed"
            );
        }
    }
}

#[test]
fn happy_launch_prints_endpoint_and_sends_one_launch() {
    let env = Env::new();
    let out = env.launch(&[]);
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(text.contains(&env.tunnel_endpoint()), "{text}");
    assert!(text.contains("curl "), "{text}");
    assert!(text.contains("/chat/completions"), "{text}");
    assert!(text.contains(MODEL), "{text}");
    assert!(text.contains("gpu-session down "), "{text}");

    let launches = env.fake.requests_to(LAUNCH);
    assert_eq!(launches.len(), 1, "exactly one launch");
    let body = launches[0].json().expect("JSON launch body");
    assert!(body.get("quantity").is_none_or(|q| q == 1), "{body}");
    assert_eq!(body["ssh_key_names"], serde_json::json!(["gpu-session"]));
    assert_eq!(body["region_name"], "us-east-1");
    assert_eq!(body["name"], body["hostname"]);
    assert!(body["name"]
        .as_str()
        .is_some_and(|n| n.starts_with("gpu-session-llama-3-1-8b-")));
    let user_data = env.fake.user_data();
    assert_eq!(user_data.len(), 1);
    assert!(user_data[0].starts_with("#cloud-config\n"));
    assert_eq!(
        env.fake.live_instance_count(),
        1,
        "a ready instance is kept"
    );
    assert!(env.sglang.health_generate_calls() >= 1);
}

#[test]
fn json_result_is_machine_readable() {
    let env = Env::new();
    let out = env.launch(&["--json"]);
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let id = v["instance_id"].as_str().expect("instance id");
    assert!(env.fake.instance(id).is_some());
    assert_eq!(v["model"], MODEL);
    assert_eq!(v["instance_type"], "gpu_1x_a10");
    assert_eq!(v["region"], "us-east-1");
    assert_eq!(v["endpoint"], env.tunnel_endpoint());
    assert_eq!(v["sglang_api_key"].as_str().map(str::len), Some(32));
    assert!(v["ip"].is_string());
    assert!(v["lease_deadline"].as_u64().is_some());
}

#[test]
fn fails_over_to_the_next_region_with_capacity() {
    let env = Env::with_plan(&plan_for(MODEL, "gpu_1x_a10", &["us-west-2", "us-east-1"]));
    env.fake.set_capacity("gpu_1x_a10", &["us-east-1"]);
    let out = env.launch(&[]);
    assert_exit(&out, 0);
    let launches = env.fake.requests_to(LAUNCH);
    assert_eq!(launches.len(), 1);
    assert_eq!(launches[0].json().unwrap()["region_name"], "us-east-1");
}

#[test]
fn no_capacity_anywhere_fails_without_launching() {
    let env = Env::new();
    env.fake.set_capacity("gpu_1x_a10", &[]);
    let out = env.launch(&[]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("no capacity"), "{}", stderr(&out));
    assert!(stderr(&out).contains("--wait-for-capacity"));
    assert_eq!(env.fake.requests_to(LAUNCH).len(), 0);
}

#[test]
fn waits_for_capacity_when_asked() {
    let env = Env::new();
    env.fake.set_capacity("gpu_1x_a10", &[]);
    let mut child = env
        .command(&[
            "launch",
            env.plan.to_str().unwrap(),
            "--yes",
            "--wait-for-capacity",
            "1m",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(env.fake.live_instance_count(), 0);
    env.fake.set_capacity("gpu_1x_a10", &["us-east-1"]);
    let status = wait_with_timeout(&mut child, Duration::from_secs(30));
    assert_eq!(status, Some(0));
    assert_eq!(env.fake.live_instance_count(), 1);
    assert!(env.fake.requests_to("/instance-types").len() > 2);
}

#[test]
fn rate_limits_and_server_errors_are_retried() {
    let env = Env::new();
    env.fake.inject(
        Fault::status(429)
            .times(2)
            .on("/instance-types")
            .retry_after(0),
    );
    env.fake.inject(Fault::status(503).times(1).on("/ssh-keys"));
    let out = env.launch(&[]);
    assert_exit(&out, 0);
    let types = env.fake.requests_to("/instance-types");
    assert_eq!(types.iter().filter(|r| r.status == 429).count(), 2);
    assert!(types.iter().any(|r| r.status == 200));
    let keys = env.fake.requests_to("/ssh-keys");
    assert_eq!(keys.first().map(|r| r.status), Some(503));
    assert_eq!(env.fake.requests_to(LAUNCH).len(), 1);
}

#[test]
fn invalid_key_fails_at_once_without_printing_it() {
    let env = Env::new();
    let bad_key = "secret_not-the-right-key-4242";
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes"])
        .env("LAMBDA_API_KEY", bad_key)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("API key was invalid"), "{err}");
    assert!(!err.contains(bad_key) && !stdout(&out).contains(bad_key));
    assert_eq!(env.fake.requests_to(LAUNCH).len(), 0);
    assert!(env.fake.requests().len() <= 2, "no retry storm on 401");
}

#[test]
fn a_bad_duration_flag_is_a_usage_error_and_launches_nothing() {
    let env = Env::new();
    for (flag, value) in [
        ("--boot-timeout", "soon"),
        ("--ready-timeout", "10 minutes-ish"),
        ("--wait-for-capacity", "forever"),
    ] {
        let out = env.launch(&[flag, value]);
        assert_exit(&out, 2);
        let err = stderr(&out);
        assert!(err.contains(flag) && err.contains(value), "{err}");
        assert!(
            err.contains("is not a duration like 90s, 30m or 2h"),
            "{err}"
        );
    }
    assert!(env.fake.requests().is_empty(), "no API call for a bad flag");
}

#[test]
fn boot_timeout_terminates_the_instance() {
    let env = Env::new();
    env.fake.set_next_launch_fate(Fate::NeverActive);
    let out = env.launch(&["--boot-timeout", "1s"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("--boot-timeout"), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("Terminated instance"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.fake.live_instance_count(), 0);
}

#[test]
fn unhealthy_instance_is_terminated() {
    let env = Env::new();
    env.fake.set_next_launch_fate(Fate::Unhealthy);
    let out = env.launch(&[]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("unhealthy"), "{}", stderr(&out));
    assert_eq!(env.fake.live_instance_count(), 0);
    assert_eq!(
        env.fake.requests_to("/instance-operations/terminate").len(),
        1
    );
}

#[test]
fn never_ready_sglang_terminates_the_instance() {
    let env = Env::new();
    env.sglang.set_readiness(Readiness::Never);
    let out = env.launch(&["--ready-timeout", "1s"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("--ready-timeout"), "{}", stderr(&out));
    assert_eq!(env.fake.live_instance_count(), 0);
}

#[test]
fn keep_on_failure_leaves_the_instance_and_says_it_bills() {
    let env = Env::new();
    env.fake.set_next_launch_fate(Fate::NeverActive);
    let out = env.launch(&["--boot-timeout", "1s", "--keep-on-failure"]);
    assert_exit(&out, 1);
    assert_eq!(env.fake.live_instance_count(), 1);
    let id = env.fake.instances()[0].id.clone();
    let err = stderr(&out);
    assert!(err.contains("STILL BILLING"), "{err}");
    assert!(err.contains(&format!("gpu-session down {id}")), "{err}");
}

fn wait_with_timeout(child: &mut Child, timeout: Duration) -> Option<i32> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(Some(status)) = child.try_wait() {
            return status.code();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    None
}

/// Sends `signal` (e.g. "INT") to the running `gpu-session`, waits up to `timeout` for
/// it to exit, and returns its exit code and standard error.
fn signal_and_wait(child: &mut Child, signal: &str, timeout: Duration) -> (Option<i32>, String) {
    let kill = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    let code = wait_with_timeout(child, timeout);
    let mut err = String::new();
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut err);
    }
    (code, err)
}

#[test]
fn ctrl_c_during_boot_terminates_the_instance() {
    let env = Env::new();
    env.fake.set_next_launch_fate(Fate::NeverActive);
    let mut child = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gpu-session");
    let start = Instant::now();
    while env.fake.live_instance_count() == 0 && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(env.fake.live_instance_count(), 1, "instance launched");
    std::thread::sleep(Duration::from_millis(200));
    let (code, err) = signal_and_wait(&mut child, "INT", Duration::from_secs(20));
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("Terminated instance"), "{err}");
    assert_eq!(env.fake.live_instance_count(), 0);
}

#[test]
fn refuses_without_yes_when_not_a_terminal() {
    let env = Env::new();
    let out = env
        .command(&["launch", env.plan.to_str().unwrap()])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert!(env.fake.requests().is_empty());
}

#[test]
fn dry_run_calls_no_api_and_needs_no_key() {
    let env = Env::new();
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--dry-run"])
        .env_remove("LAMBDA_API_KEY")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let text = stdout(&out);
    assert!(
        text.contains("\"instance_type_name\": \"gpu_1x_a10\""),
        "{text}"
    );
    assert!(text.contains("#cloud-config"), "{text}");
    assert!(text.contains("LAMBDA-API-KEY-INSERTED-AT-LAUNCH"));
    assert!(env.fake.requests().is_empty(), "dry run touched the API");
}

/// The files user_data writes, as (path, permissions, content).
pub(crate) fn written_files(user_data: &str) -> Vec<(String, String, String)> {
    let doc: yaml::Value = yaml::from_str(user_data).expect("user_data is YAML");
    doc["write_files"]
        .as_sequence()
        .expect("write_files")
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or_default().to_owned(),
                f["permissions"].as_str().unwrap_or_default().to_owned(),
                f["content"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// Run `cloud-init schema` on a user_data document and shellcheck on every script it
/// writes (lease agent, SGLang wrapper, installer); returns the files it writes.
pub(crate) fn check_user_data(
    dir: &std::path::Path,
    user_data: &str,
) -> Vec<(String, String, String)> {
    let file = dir.join("user-data.yaml");
    std::fs::write(&file, user_data).unwrap();
    let schema = Command::new("cloud-init")
        .args(["schema", "--config-file"])
        .arg(&file)
        .output()
        .expect("cloud-init must be installed (Debian package cloud-init)");
    assert!(
        schema.status.success(),
        "cloud-init schema failed:\n{}{}",
        String::from_utf8_lossy(&schema.stdout),
        String::from_utf8_lossy(&schema.stderr)
    );
    let files = written_files(user_data);
    let mut scripts = 0;
    for (path, _, content) in &files {
        if content.starts_with("#!") {
            scripts += 1;
            let script = dir.join("script.sh");
            std::fs::write(&script, content).unwrap();
            let check = Command::new("shellcheck")
                .arg(&script)
                .output()
                .expect("shellcheck must be installed");
            assert!(
                check.status.success(),
                "shellcheck {path}:\n{}",
                String::from_utf8_lossy(&check.stdout)
            );
        }
    }
    // Lease agent, SGLang wrapper, installer; a group member adds its own (see group tests).
    let group_scripts = files
        .iter()
        .filter(|(path, _, _)| {
            path == "/usr/local/bin/gpu-session-group-env"
                || path == "/usr/local/bin/gpu-session-gateway"
        })
        .count();
    assert_eq!(
        scripts,
        3 + group_scripts,
        "lease agent, SGLang wrapper, installer"
    );
    files
}

#[test]
fn user_data_passes_cloud_init_schema_and_shellcheck() {
    let env = Env::new();
    let out = env
        .command(&[
            "launch",
            env.plan.to_str().unwrap(),
            "--yes",
            "--filesystem",
            "coding-stack",
        ])
        .env("HF_TOKEN", "hf_testtoken123")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let user_data = env.fake.user_data().pop().expect("user_data sent");
    let files = check_user_data(env.dir.path(), &user_data);

    let env_file = files
        .iter()
        .find(|f| f.0 == "/etc/gpu-session/sglang.env")
        .expect("sglang.env");
    assert_eq!(env_file.1, "0600");
    let args_file = files
        .iter()
        .find(|f| f.0 == "/etc/gpu-session/sglang.args")
        .expect("sglang.args");
    let plan = Plan::parse(&std::fs::read_to_string(&env.plan).unwrap()).unwrap();
    let mut expected = plan.sglang_args();
    expected.extend(["--host", "127.0.0.1", "--enable-metrics"].map(str::to_owned));
    assert_eq!(args_file.2.lines().collect::<Vec<_>>(), expected);
    assert!(expected
        .windows(2)
        .any(|w| w == ["--model-path", "meta-llama/Llama-3.1-8B-Instruct"]));
    for line in [
        "HF_TOKEN=hf_testtoken123",
        "HF_HOME=/lambda/nfs/coding-stack/huggingface",
        "SGLANG_VERSION=",
        "SGLANG_API_KEY=",
    ] {
        assert!(env_file.2.contains(line), "{line} missing:\n{}", env_file.2);
    }
    let key_file = files
        .iter()
        .find(|f| f.0 == "/etc/gpu-session/lambda-api-key")
        .expect("key file");
    assert_eq!(key_file.1, "0600");
    assert_eq!(key_file.2.trim(), env.fake.api_key());
    assert!(user_data.contains("sglang.launch_server"));
    let body = env.fake.requests_to(LAUNCH)[0].json().unwrap();
    assert_eq!(
        body["file_system_names"],
        serde_json::json!(["coding-stack"])
    );
}

#[test]
fn filesystem_in_another_region_is_refused_before_launch() {
    let env = Env::with_plan(&plan_for(MODEL, "gpu_1x_a10", &["us-west-1"]));
    let out = env.launch(&["--filesystem", "coding-stack"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("regional"), "{}", stderr(&out));
    assert_eq!(env.fake.requests_to(LAUNCH).len(), 0);
}

const NASTY: &[&str] = &[
    "x; rm -rf /",
    "a'b\"c",
    "line1\nline2",
    "$(touch /tmp/pwned)",
    "`id`",
    "a b|c&d>e",
];

fn set_path(doc: &mut Value, path: &[&str], value: &str) {
    let mut cur = doc;
    for seg in &path[..path.len() - 1] {
        cur = match seg.parse::<usize>() {
            Ok(i) => &mut cur[i],
            Err(_) => &mut cur[*seg],
        };
    }
    let last = path[path.len() - 1];
    match last.parse::<usize>() {
        Ok(i) => cur[i] = Value::String(value.to_owned()),
        Err(_) => cur[last] = Value::String(value.to_owned()),
    }
}

#[test]
fn shell_metacharacters_in_plan_strings_are_rejected_or_inert() {
    let env = Env::new();
    let base: Value = serde_json::from_str(
        &plan_for(MODEL, "gpu_1x_a10", &["us-east-1"])
            .to_json()
            .unwrap(),
    )
    .unwrap();
    let fields: &[(&[&str], &str)] = &[
        (&["model", "id"], "model.id"),
        (&["model", "checkpoint"], "model.checkpoint"),
        (&["model", "quantization"], "quantization"),
        (&["model", "quant_method"], "quant_method"),
        (&["serving", "engine"], "serving.engine"),
        (&["serving", "version"], "serving.version"),
        (&["serving", "kv_cache_dtype"], "kv_cache_dtype"),
        (&["gpu", "instance_type"], "gpu.instance_type"),
        (&["gpu", "regions", "0"], "gpu.regions[0]"),
    ];
    let file = env.dir.path().join("nasty.json");
    for (path, field) in fields {
        for nasty in NASTY {
            let mut doc = base.clone();
            set_path(&mut doc, path, nasty);
            std::fs::write(&file, serde_json::to_string(&doc).unwrap()).unwrap();
            let out = env
                .command(&["launch", file.to_str().unwrap(), "--dry-run"])
                .output()
                .unwrap();
            assert_exit(&out, 1);
            assert!(
                stderr(&out).contains(field),
                "{field} = {nasty:?}: {}",
                stderr(&out)
            );
        }
    }
    // estimate.price_as_of is display text: one-line values pass validation, and
    // never reach user_data.
    let mut doc = base.clone();
    set_path(
        &mut doc,
        &["estimate", "price_as_of"],
        "$(touch /tmp/pwned)",
    );
    std::fs::write(&file, serde_json::to_string(&doc).unwrap()).unwrap();
    let out = env
        .command(&["launch", file.to_str().unwrap(), "--dry-run"])
        .output()
        .unwrap();
    if out.status.success() {
        assert!(!stdout(&out).contains("pwned"));
    } else {
        assert!(stderr(&out).contains("estimate.price_as_of"));
    }
    // Values from flags and the environment are refused too.
    let out = env
        .command(&[
            "launch",
            env.plan.to_str().unwrap(),
            "--dry-run",
            "--filesystem",
            "x$(id)",
        ])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("--filesystem"));
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--dry-run"])
        .env("HF_TOKEN", "hf_x$(id)")
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("HF_TOKEN"), "{}", stderr(&out));

    // What passes validation appears only as inert data: the env file is read by
    // systemd (never a shell), and scripts use each value as one quoted "$VAR".
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--dry-run", "--json"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let user_data = v["user_data"].as_str().unwrap();
    let files = written_files(user_data);
    let run = files
        .iter()
        .find(|f| f.0 == "/usr/local/bin/gpu-session-sglang")
        .unwrap();
    assert!(run.2.contains("mapfile -t args < \"$ARGS_FILE\""));
    assert!(run
        .2
        .contains("ARGS_FILE=\"${GPU_SESSION_SGLANG_ARGS_FILE:-/etc/gpu-session/sglang.args}\""));
    assert!(run.2.contains("--api-key \"$SGLANG_API_KEY\""));
    assert!(!run.2.lines().any(|l| l.trim_start().starts_with("eval ")));
    let doc: yaml::Value = yaml::from_str(user_data).unwrap();
    for cmd in doc["runcmd"].as_sequence().unwrap() {
        assert!(
            cmd.is_sequence(),
            "runcmd entries are argv lists, not shell strings"
        );
    }
}

// ---- the SSH tunnel, with a fake ssh ------------------------------------------

/// The fake ssh script (tunnel to the fake SGLang, phases and log of the instance).
pub(crate) fn fake_ssh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fake-ssh.py")
}

#[test]
fn readiness_goes_through_an_ssh_tunnel() {
    let env = Env::new();
    let log = env.dir.path().join("ssh-args.log");
    let key = env.dir.path().join("id_test");
    // ssh.key_path must name an existing file (the same rule as `gpu-session ssh`).
    std::fs::write(&key, "not a real key; the fake ssh never reads it\n").unwrap();
    // launch checks the key against the account's by its .pub.
    std::fs::write(
        env.dir.path().join("id_test.pub"),
        format!("{FAKE_ACCOUNT_PUBLIC_KEY}\n"),
    )
    .unwrap();
    std::fs::write(
        env.dir.path().join("config.yaml"),
        format!("ssh:\n  key_path: {}\n", key.display()),
    )
    .unwrap();
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes", "--json"])
        .env("FAKE_SSH_LOG", &log)
        .output()
        .unwrap();
    env.assert_no_key_leak(&out);
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pid = v["tunnel_pid"].as_u64().expect("tunnel pid");
    let endpoint = v["endpoint"].as_str().unwrap().to_owned();
    // The tunnel outlives the CLI and serves the endpoint.
    let models = Command::new("curl")
        .args(["-sf", &format!("{endpoint}/models")])
        .output()
        .unwrap();
    let _ = Command::new("kill").arg(pid.to_string()).status();
    assert!(models.status.success(), "tunnel endpoint did not answer");
    assert!(String::from_utf8_lossy(&models.stdout).contains(MODEL));

    let port = endpoint
        .trim_start_matches("http://127.0.0.1:")
        .trim_end_matches("/v1")
        .to_owned();
    let args = std::fs::read_to_string(&log).unwrap();
    let args: Vec<&str> = args.lines().collect();
    let ip = v["ip"].as_str().unwrap();
    let expected_forward = format!("127.0.0.1:{port}:127.0.0.1:30000");
    let expected_target = format!("ubuntu@{ip}");
    for want in [
        "-N",
        "-L",
        expected_forward.as_str(),
        "ExitOnForwardFailure=yes",
        "StrictHostKeyChecking=accept-new",
        "-i",
        key.to_str().unwrap(),
        expected_target.as_str(),
    ] {
        assert!(args.contains(&want), "{want} not in {args:?}");
    }
}

#[test]
fn a_tunnel_that_dies_fails_the_launch_and_terminates() {
    let env = Env::new();
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes"])
        // No FAKE_SSH_TARGET: the fake ssh exits at once, like a refused login.
        .env_remove("FAKE_SSH_TARGET")
        .env("GPU_SESSION_TEST_POLL_INTERVAL_MS", "200")
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("tunnel exited"), "{}", stderr(&out));
    assert_eq!(env.fake.live_instance_count(), 0);
}

#[test]
fn a_lost_launch_response_does_not_launch_twice() {
    let env = Env::new();
    env.fake.lose_next_launch_response(502);
    let out = env.launch(&["--json"]);
    assert_exit(&out, 0);
    assert_eq!(env.fake.instances().len(), 1, "one instance, not two");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["instance_id"], env.fake.instances()[0].id.as_str());
}

#[test]
fn the_instance_computes_its_own_deadline_from_the_lease_it_is_given() {
    let env = Env::new();
    let before = now();
    let out = env.launch(&["--json"]);
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    // What launch shows: from this machine's clock.
    let deadline = v["lease_deadline"].as_u64().unwrap();
    assert!(deadline >= before + 4 * 3600 && deadline <= now() + 4 * 3600);
    // What the instance gets: the lease and its cap, never this machine's clock; the
    // agent writes boot + lease itself.
    let user_data = env.fake.user_data().pop().unwrap();
    let files = written_files(&user_data);
    assert!(
        !files
            .iter()
            .any(|f| f.0 == "/etc/gpu-session/lease-deadline"),
        "user_data carries a deadline from the laptop's clock"
    );
    let lease_env = &files
        .iter()
        .find(|f| f.0 == "/etc/gpu-session/lease.env")
        .expect("lease.env")
        .2;
    for line in [
        "GPU_SESSION_LEASE_HOURS=4\n",
        "GPU_SESSION_MAX_LEASE_HOURS=24\n",
        "GPU_SESSION_ALLOW_LOOPBACK_API=1\n",
    ] {
        assert!(lease_env.contains(line), "{line} missing:\n{lease_env}");
    }
    // The first-start allowance is launch's ready timeout (auto: the Hub gave no size).
    assert!(
        lease_env.contains("GPU_SESSION_STARTUP_SECONDS=3600\n"),
        "{lease_env}"
    );
}

/// `launch` without `--filesystem` attaches the config file's `lambda.filesystem_name`
/// (what `configure` writes); the flag still wins, and a bad configured name is refused.
#[test]
fn dry_run_uses_the_configured_filesystem() {
    let env = Env::new();
    let config = env.dir.path().join("config.yaml");
    std::fs::write(&config, "lambda:\n  filesystem_name: models\n").unwrap();
    let dry_run = |extra: &[&str]| {
        let mut args = vec!["launch", env.plan.to_str().unwrap(), "--dry-run", "--json"];
        args.extend_from_slice(extra);
        env.command(&args).output().unwrap()
    };

    let out = dry_run(&[]);
    assert_exit(&out, 0);
    let shown: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        shown["request"]["file_system_names"],
        serde_json::json!(["models"])
    );
    let user_data = shown["user_data"].as_str().unwrap();
    assert!(
        user_data.contains("HF_HOME=/lambda/nfs/models/huggingface"),
        "{user_data}"
    );

    let out = dry_run(&["--filesystem", "other"]);
    assert_exit(&out, 0);
    let shown: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        shown["request"]["file_system_names"],
        serde_json::json!(["other"])
    );

    std::fs::write(&config, "lambda:\n  filesystem_name: a.b\n").unwrap();
    let out = dry_run(&[]);
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("lambda.filesystem_name"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.fake.requests_to(LAUNCH).len(), 0);
}

// ---- the lease agent must be armed -------------------------------------------

/// Plays the instance for a launch in progress: once the launch's user_data reached
/// the fake, runs the real lease agent with the lease.env it carries (its files moved
/// into `dir`, holding `key`), after `change`.
fn agent_for_launch(
    env: &Env,
    dir: &Path,
    key: &str,
    change: impl FnOnce(&mut Command),
) -> crate::agent::Agent {
    assert!(
        crate::agent::wait_until(Duration::from_secs(30), || !env.fake.user_data().is_empty()),
        "launch sent no user_data"
    );
    let user_data = env.fake.user_data().pop().unwrap();
    let lease_env = written_files(&user_data)
        .into_iter()
        .find(|f| f.0 == "/etc/gpu-session/lease.env")
        .expect("lease.env")
        .2;
    let mut cmd = crate::agent::agent_command(dir, &env.fake.base_url(), key);
    cmd.env_remove("GPU_SESSION_ALLOW_LOOPBACK_API");
    for line in lease_env.lines().filter(|l| !l.starts_with('#')) {
        let (name, value) = line.split_once('=').expect("KEY=value");
        // The instance's paths stay in `dir`; everything else is what launch sent.
        if !matches!(
            name,
            "GPU_SESSION_KEY_FILE" | "GPU_SESSION_DEADLINE_FILE" | "GPU_SESSION_METRICS_URL"
        ) {
            cmd.env(name, value);
        }
    }
    cmd.env(
        "GPU_SESSION_METRICS_URL",
        format!("{}/metrics", env.sglang.url()),
    );
    change(&mut cmd);
    crate::agent::spawn_agent(cmd, dir)
}

/// `launch` with the instance's lease agent played by the real script (see
/// [`agent_for_launch`]); returns the launch's output and the agent's log.
fn launch_with_agent(env: &Env, key: &str, change: impl FnOnce(&mut Command)) -> (Output, String) {
    let dir = tempfile::tempdir().unwrap();
    let launch = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes"])
        .env(
            "FAKE_SSH_AGENT_STATUS",
            crate::agent::agent_status_file(dir.path()),
        )
        // A bound for a test that goes wrong; the agent answers in about a second.
        .env("GPU_SESSION_TEST_ARM_TIMEOUT_MS", "60000")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let agent = agent_for_launch(env, dir.path(), key, change);
    let out = launch.wait_with_output().unwrap();
    env.assert_no_key_leak(&out);
    (out, agent.log())
}

#[test]
fn launch_succeeds_once_the_real_agent_reports_it_is_armed() {
    let env = Env::new();
    let (out, log) = launch_with_agent(&env, &env.fake.api_key(), |_| {});
    assert_exit(&out, 0);
    let id = &env.fake.instances()[0].id;
    assert!(
        stderr(&out).contains(&format!("Lease agent armed: it will terminate {id}")),
        "{}\nagent: {log}",
        stderr(&out)
    );
    assert_eq!(env.fake.live_instance_count(), 1);
}

/// What a test changes in the agent's command.
type AgentChange = fn(&mut Command);

#[test]
fn an_agent_that_cannot_arm_fails_the_launch_and_terminates() {
    let cases: [(&str, &str, AgentChange); 3] = [
        (
            "revoked",
            "the Lambda API refused the key (HTTP 401)",
            |_| {},
        ),
        (
            "hostname",
            "no live instance has the hostname other-host",
            |cmd| {
                cmd.env("GPU_SESSION_HOSTNAME", "other-host");
            },
        ),
        (
            "loopback",
            "is a loopback address, which on this instance is the instance itself",
            |cmd| {
                cmd.env_remove("GPU_SESSION_ALLOW_LOOPBACK_API");
            },
        ),
    ];
    for (case, why, change) in cases {
        let env = Env::new();
        let key = if case == "revoked" {
            "a-key-revoked-since".to_owned()
        } else {
            env.fake.api_key()
        };
        let (out, log) = launch_with_agent(&env, &key, change);
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert!(
            err.contains("the lease agent on the instance cannot act") && err.contains(why),
            "{case}: {err}\nagent: {log}"
        );
        assert_eq!(env.fake.live_instance_count(), 0, "{case}: {err}");
    }
}

#[test]
fn an_agent_that_never_reports_fails_the_launch_and_terminates() {
    let env = Env::new();
    let missing = env.dir.path().join("no-agent-status");
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes"])
        .env("FAKE_SSH_AGENT_STATUS", &missing)
        .env("GPU_SESSION_TEST_ARM_TIMEOUT_MS", "300")
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("the lease agent did not report that it is armed within 300ms"),
        "{err}"
    );
    assert!(err.contains("has not written its status yet"), "{err}");
    assert_eq!(env.fake.live_instance_count(), 0);
}

#[test]
fn a_loopback_lambda_api_url_is_refused_before_launch() {
    let env = Env::new();
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes"])
        .env_remove("GPU_SESSION_TEST_LOOPBACK_LAMBDA_API")
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains(&format!(
            "LAMBDA_API_URL is a loopback address ({})",
            env.fake.base_url()
        )),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.fake.requests_to(LAUNCH).len(), 0);
}

#[test]
fn sglang_runs_as_a_user_that_cannot_read_the_lambda_key() {
    let env = Env::new();
    let out = env.launch(&[]);
    assert_exit(&out, 0);
    let user_data = env.fake.user_data().pop().unwrap();
    // Measured: about 430 kB, the lock most of it; the API takes up to 1 MiB
    // (the Lambda client's MAX_USER_DATA_BYTES), so this keeps 40 % free.
    assert!(
        user_data.len() < 1024 * 1024 * 3 / 5,
        "user_data is {} bytes",
        user_data.len()
    );
    let doc: yaml::Value = yaml::from_str(&user_data).unwrap();
    let files = doc["write_files"].as_sequence().unwrap();
    let file = |path: &str| {
        files
            .iter()
            .find(|f| f["path"].as_str() == Some(path))
            .unwrap_or_else(|| panic!("{path} not written"))
    };
    // Secrets: root's alone. The agent (root) reads the key; systemd (root) reads
    // SGLang's settings before it drops to the SGLang user.
    for secret in [
        "/etc/gpu-session/lambda-api-key",
        "/etc/gpu-session/lease.env",
        "/etc/gpu-session/sglang.env",
    ] {
        assert_eq!(
            file(secret)["permissions"].as_str(),
            Some("0600"),
            "{secret}"
        );
        assert_eq!(
            file(secret)["owner"].as_str(),
            Some("root:root"),
            "{secret}"
        );
    }
    // What SGLang itself reads is readable by others, in a directory it may enter but
    // not list.
    assert_eq!(
        file("/etc/gpu-session/sglang.args")["permissions"].as_str(),
        Some("0644")
    );
    assert!(doc["runcmd"].as_sequence().unwrap().iter().any(|c| c
        .as_sequence()
        .map(|c| c.iter().filter_map(|a| a.as_str()).collect::<Vec<_>>())
        == Some(vec!["chmod", "0711", "/etc/gpu-session"])));
    let sglang_unit = file("/etc/systemd/system/gpu-session-sglang.service")["content"]
        .as_str()
        .unwrap();
    assert!(
        sglang_unit.contains("\nUser=gpu-session-sglang\nGroup=gpu-session-sglang\n"),
        "{sglang_unit}"
    );
    let agent_unit = file("/etc/systemd/system/gpu-session-lease.service")["content"]
        .as_str()
        .unwrap();
    assert!(
        !agent_unit.contains("User="),
        "the agent stays root: {agent_unit}"
    );
    // SGLang comes from the shipped lock, every file checked against its hashes.
    let lock = file("/etc/gpu-session/sglang-lock.txt")["content"]
        .as_str()
        .unwrap();
    assert!(lock.contains("\nsglang==0.5.23 \\\n    --hash=sha256:"));
    let install = file("/usr/local/bin/gpu-session-install")["content"]
        .as_str()
        .unwrap();
    assert!(install.contains("uv\" pip sync --require-hashes"));
    // uv is checked before it runs; no installer script is fetched and run.
    assert!(install.contains("| sha256sum --check --status"));
    assert!(
        !install.contains("install.sh"),
        "an installer script is fetched"
    );
}

// ---------------------------------------------------------------------------------
// Issue 16: the safety net (signals, panics, races, SSH readiness, what check shows)

/// Spawns `launch --yes` and waits until the fake reports its instance active.
fn spawn_until_active(env: &Env, extra_env: &[(&str, &str)]) -> Child {
    let mut cmd = env.command(&["launch", env.plan.to_str().unwrap(), "--yes"]);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gpu-session");
    let start = Instant::now();
    let active = || {
        env.fake
            .instances()
            .iter()
            .any(|i| i.status == gpu_session_tests::fake_lambda::Status::Active)
    };
    while !active() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(active(), "the instance became active");
    child
}

fn signal_after_active_terminates(signal: &str, status: i32) {
    let env = Env::new();
    env.sglang.set_readiness(Readiness::Never);
    let mut child = spawn_until_active(&env, &[]);
    std::thread::sleep(Duration::from_millis(200));
    let (code, err) = signal_and_wait(&mut child, signal, Duration::from_secs(30));
    assert_eq!(code, Some(status), "{err}");
    assert!(err.contains(&format!("interrupted (SIG{signal})")), "{err}");
    assert!(err.contains("Terminated instance"), "{err}");
    assert_eq!(env.fake.live_instance_count(), 0);
}

#[test]
fn sigterm_after_active_terminates_the_instance() {
    signal_after_active_terminates("TERM", 143);
}

#[test]
fn sighup_after_active_terminates_the_instance() {
    signal_after_active_terminates("HUP", 129);
}

#[test]
fn a_panic_after_active_terminates_the_instance() {
    let env = Env::new();
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes"])
        .env("GPU_SESSION_TEST_PANIC_AFTER_ACTIVE", "1")
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("panicked"), "{err}");
    assert!(err.contains("Terminated instance"), "{err}");
    assert_eq!(env.fake.live_instance_count(), 0);
}

#[test]
fn a_duration_flag_that_overflows_is_a_usage_error() {
    let env = Env::new();
    for flag in ["--boot-timeout", "--ready-timeout", "--wait-for-capacity"] {
        let out = env.launch(&[flag, "9223372036854775808"]);
        assert_exit(&out, 2);
        assert!(stderr(&out).contains(flag), "{}", stderr(&out));
    }
    assert_eq!(env.fake.requests_to(LAUNCH).len(), 0);
}

#[test]
fn ssh_refused_for_the_first_20_s_still_serves_the_model() {
    let env = Env::new();
    let up_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
        + 20.0;
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes", "--json"])
        .env("FAKE_SSH_REFUSE_UNTIL", up_at.to_string())
        .env("GPU_SESSION_TEST_POLL_INTERVAL_MS", "500")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    if let Some(pid) = v["tunnel_pid"].as_u64() {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    assert_eq!(env.fake.live_instance_count(), 1);
    // The host key went to our own file, under the instance id, not ~/.ssh/known_hosts.
    let id = v["instance_id"].as_str().unwrap();
    let ours = std::fs::read_to_string(env.dir.path().join("known_hosts")).unwrap();
    assert!(ours.starts_with(&format!("gpu-session-{id} ")), "{ours}");
    assert!(!env.dir.path().join(".ssh/known_hosts").exists());
}

#[test]
fn a_tunnel_that_drops_while_waiting_is_reopened() {
    let env = Env::new();
    // Ready after about 50 polls (1 s): the first tunnel drops after 300 ms.
    env.sglang.set_readiness(Readiness::AfterCalls(50));
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes", "--json"])
        .env("FAKE_SSH_DROP_FIRST_TUNNEL_MS", "300")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    if let Some(pid) = v["tunnel_pid"].as_u64() {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    assert!(stderr(&out).contains("re-opening"), "{}", stderr(&out));
    let log = std::fs::read_to_string(env.ssh_log()).unwrap();
    assert!(log.lines().filter(|l| *l == "-N").count() >= 2, "{log}");
}

#[test]
fn no_tunnel_log_is_left_behind() {
    let env = Env::new();
    let tmp = env.dir.path().join("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes", "--json"])
        .env("TMPDIR", &tmp)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    if let Some(pid) = v["tunnel_pid"].as_u64() {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    let left: Vec<_> = std::fs::read_dir(&tmp).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

/// The plan file with `from` replaced by `to` (e.g. another SGLang or fraction).
fn edited_plan(env: &Env, edits: &[(&str, &str)]) {
    let mut text = std::fs::read_to_string(&env.plan).unwrap();
    for (from, to) in edits {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(from))
            .unwrap_or_else(|| panic!("{from} in the plan"))
            .to_owned();
        let indent = &line[..line.len() - line.trim_start().len()];
        text = text.replace(&line, &format!("{indent}{to}"));
    }
    std::fs::write(&env.plan, text).unwrap();
}

#[test]
fn another_sglang_version_is_refused_by_check_and_launch() {
    let env = Env::new();
    edited_plan(
        &env,
        &[
            ("version: 0.5.23", "version: 0.4.0"),
            ("mem_fraction_static:", "mem_fraction_static: 0.5"),
        ],
    );
    let check = env
        .command(&["plan", "check", env.plan.to_str().unwrap()])
        .output()
        .unwrap();
    assert_exit(&check, 1);
    assert!(
        stderr(&check).contains("serving.version"),
        "{}",
        stderr(&check)
    );
    assert!(stderr(&check).contains("0.4.0"), "{}", stderr(&check));
    let out = env.launch(&[]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("serving.version"), "{}", stderr(&out));
    assert!(env.fake.requests_to(LAUNCH).is_empty(), "nothing billed");
}

#[test]
fn check_shows_the_fraction_launch_sends() {
    let env = Env::new();
    edited_plan(
        &env,
        &[("mem_fraction_static:", "mem_fraction_static: 0.5")],
    );
    let check = env
        .command(&["plan", "check", env.plan.to_str().unwrap()])
        .output()
        .unwrap();
    assert_exit(&check, 0);
    assert!(
        stdout(&check).contains("--mem-fraction-static 0.5 "),
        "{}",
        stdout(&check)
    );
    let json = env
        .command(&["plan", "check", env.plan.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    let shown: Value = serde_json::from_slice(&json.stdout).unwrap();
    let shown: Vec<String> = serde_json::from_value(shown["sglang_args"].clone()).unwrap();
    let out = env.launch(&["--json"]);
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    if let Some(pid) = v["tunnel_pid"].as_u64() {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    let user_data = env.fake.user_data().pop().unwrap();
    let sent = written_files(&user_data)
        .into_iter()
        .find(|f| f.0.ends_with("sglang.args"))
        .expect("the SGLang arguments file");
    let sent: Vec<&str> = sent.2.lines().collect();
    assert_eq!(sent, shown, "check shows exactly what launch sends");
    let at = sent
        .iter()
        .position(|a| *a == "--mem-fraction-static")
        .unwrap();
    assert_eq!(sent[at + 1], "0.5");
}

#[test]
fn ctrl_c_while_the_launch_call_is_in_flight_terminates_what_it_created() {
    let env = Env::new();
    env.fake.delay_next_launch_response(Duration::from_secs(20));
    // The list shows a new instance only from its third list on.
    env.fake.set_list_lag(2);
    let mut child = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gpu-session");
    let start = Instant::now();
    while env.fake.instances().is_empty() && start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(env.fake.instances().len(), 1, "the launch call created it");
    let (code, err) = signal_and_wait(&mut child, "INT", Duration::from_secs(20));
    assert_eq!(code, Some(130), "{err}");
    assert!(err.contains("Terminated instance"), "{err}");
    assert_eq!(env.fake.live_instance_count(), 0);
}

#[test]
fn a_lost_launch_response_with_a_lagging_list_launches_once() {
    let env = Env::new();
    env.fake.lose_next_launch_response(502);
    env.fake.set_list_lag(2);
    let out = env.launch(&["--json"]);
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    if let Some(pid) = v["tunnel_pid"].as_u64() {
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    assert_eq!(env.fake.instances().len(), 1, "one instance, not two");
    assert_eq!(env.fake.requests_to(LAUNCH).len(), 1);
}

#[test]
fn a_404_on_terminate_is_not_reported_as_terminated() {
    let env = Env::new();
    env.fake.set_next_launch_fate(Fate::NeverActive);
    env.fake
        .inject(Fault::status(404).on("/instance-operations/terminate"));
    let out = env.launch(&["--boot-timeout", "1s"]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("not found -- check the dashboard"), "{err}");
    assert!(!err.contains("Terminated instance"), "{err}");
}

#[test]
fn remote_text_is_printed_without_control_characters() {
    let env = Env::new();
    let phases = env.dir.path().join("phases");
    std::fs::write(&phases, "failed: disk \u{1b}]0;owned\u{7}full\u{1b}[2J\n").unwrap();
    let tail = env.dir.path().join("tail");
    std::fs::write(&tail, "Traceback \u{1b}[31mred\u{1b}[0m\r\nOOM\n").unwrap();
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--yes"])
        .env("FAKE_SSH_PHASES", &phases)
        .env("FAKE_SSH_LOG_TAIL", &tail)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("disk ]0;ownedfull[2J"), "{err}");
    assert!(err.contains("Traceback [31mred[0m"), "{err}");
    assert!(
        !err.contains('\u{1b}') && !err.contains('\u{7}') && !err.contains('\r'),
        "{err:?}"
    );
    assert_eq!(env.fake.live_instance_count(), 0);
}

#[test]
fn a_plan_file_over_the_size_limit_is_refused() {
    let env = Env::new();
    let big = env.dir.path().join("big.yaml");
    std::fs::write(&big, "#".repeat(2 << 20)).unwrap();
    for args in [
        vec!["plan", "check", big.to_str().unwrap()],
        vec!["launch", big.to_str().unwrap(), "--yes"],
    ] {
        let out = env.command(&args).output().unwrap();
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert!(err.contains("big.yaml"), "{err}");
        assert!(err.contains("2097152 bytes"), "{err}");
    }
}

// ---------------------------------------------------------------------------------
// Groups (replicas behind a gateway, one model over two nodes)

/// `launch --dry-run --json` of a group plan: its members.
fn group_dry_run(plan: &Plan) -> (Env, Value) {
    let env = Env::with_plan(plan);
    let out = env
        .command(&["launch", env.plan.to_str().unwrap(), "--dry-run", "--json"])
        .env_remove("LAMBDA_API_KEY")
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(env.fake.requests().is_empty(), "dry run touched the API");
    let json: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    (env, json)
}

fn grouped(plan: Plan, replicas: u32, min: Option<u32>, nodes: u32, pp: u32) -> Plan {
    plan.with_group(gpu_session_core::plan::Group {
        replicas,
        min_replicas: min,
        nodes,
        pipeline_parallel: pp,
    })
    .expect("group plan")
}

fn file<'a>(
    files: &'a [(String, String, String)],
    path: &str,
) -> Option<&'a (String, String, String)> {
    files.iter().find(|f| f.0 == path)
}

fn tag(request: &Value, key: &str) -> String {
    request["tags"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["key"] == key)
        .map(|t| t["value"].as_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[test]
fn a_three_replica_dry_run_shows_three_instances_and_one_gateway() {
    let plan = grouped(
        plan_for(MODEL, "gpu_1x_a10", &["us-east-1"]),
        3,
        Some(2),
        1,
        1,
    );
    let (env, json) = group_dry_run(&plan);
    assert_eq!(json["kind"], "replicas");
    let group_id = json["group_id"].as_str().unwrap().to_owned();
    let members = json["members"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    let gateway = json["gateway"].as_str().unwrap();
    assert!(gateway.starts_with("smg==1.13.0 launch --worker-urls http://PRIVATE-IP-OF-MEMBER-0:30001 http://PRIVATE-IP-OF-MEMBER-1:30001 http://PRIVATE-IP-OF-MEMBER-2:30001 --policy cache_aware --host 127.0.0.1 --port 30000 --prometheus-host 127.0.0.1"), "{gateway}");
    let mut gateways = 0;
    for (i, m) in members.iter().enumerate() {
        let request = &m["request"];
        let name = request["name"].as_str().unwrap();
        assert!(name.ends_with(&format!("-{group_id}-{i}")), "{name}");
        assert_eq!(request["hostname"], name);
        assert_eq!(tag(request, "gpu-session:group"), group_id);
        assert_eq!(tag(request, "gpu-session:member"), i.to_string());
        let user_data = m["user_data"].as_str().unwrap();
        // The same limit as a single instance's (sglang_runs_as_a_user_that_cannot...).
        assert!(
            user_data.len() < 1024 * 1024 * 3 / 5,
            "{} bytes",
            user_data.len()
        );
        let files = check_user_data(env.dir.path(), user_data);
        let args = &file(&files, "/etc/gpu-session/sglang.args").unwrap().2;
        let args: Vec<&str> = args.lines().collect();
        // Each worker on the worker port, bound by the wrapper to its private address.
        assert!(
            args.windows(2).any(|w| w == ["--port", "30001"]),
            "{args:?}"
        );
        assert!(
            !args.contains(&"--host") && !args.contains(&"0.0.0.0"),
            "{args:?}"
        );
        let sglang_env = &file(&files, "/etc/gpu-session/sglang.env").unwrap().2;
        assert!(sglang_env.contains("GPU_SESSION_GROUP=replicas\n"));
        let lease_env = &file(&files, "/etc/gpu-session/lease.env").unwrap().2;
        assert!(
            lease_env.contains("GPU_SESSION_METRICS_FROM_GROUP=1\n")
                && !lease_env.contains("GPU_SESSION_GROUP_NODES"),
            "{lease_env}"
        );
        assert_eq!(tag(request, "gpu-session:nodes"), "");
        for line in [
            format!("GPU_SESSION_GROUP_ID={group_id}\n"),
            format!("GPU_SESSION_GROUP_MEMBER={i}\n"),
        ] {
            assert!(lease_env.contains(&line), "{line} not in {lease_env}");
        }
        assert!(file(&files, "/usr/local/bin/gpu-session-group-env").is_some());
        if file(&files, "/etc/systemd/system/gpu-session-gateway.service").is_some() {
            gateways += 1;
            assert_eq!(i, 0, "the gateway runs on member 0");
            assert!(
                sglang_env.contains("GPU_SESSION_GATEWAY_PORT=30000\n"),
                "{sglang_env}"
            );
            assert!(file(&files, "/usr/local/bin/gpu-session-gateway").is_some());
        }
        let group_file = m["group_file"].as_str().unwrap();
        for line in [
            format!("GPU_SESSION_MEMBER={i}\n"),
            format!("GPU_SESSION_PRIVATE_IP=PRIVATE-IP-OF-MEMBER-{i}\n"),
            "GPU_SESSION_WORKER_PORT=30001\n".to_owned(),
            "GPU_SESSION_WORKER_IPS=PRIVATE-IP-OF-MEMBER-0,PRIVATE-IP-OF-MEMBER-1,PRIVATE-IP-OF-MEMBER-2\n".to_owned(),
        ] {
            assert!(group_file.contains(&line), "{line} not in\n{group_file}");
        }
    }
    assert_eq!(gateways, 1);
}

#[test]
fn a_two_node_dry_run_gives_each_node_its_rank_and_node_0_s_address() {
    let plan = grouped(
        plan_for("deepseek-r1-671b", "gpu_8x_h100_sxm5", &["us-east-1"]),
        1,
        None,
        2,
        1,
    );
    let (env, json) = group_dry_run(&plan);
    assert_eq!(json["kind"], "nodes");
    assert!(json["gateway"].is_null());
    let members = json["members"].as_array().unwrap();
    assert_eq!(members.len(), 2);
    for (rank, m) in members.iter().enumerate() {
        let files = check_user_data(env.dir.path(), m["user_data"].as_str().unwrap());
        let args = &file(&files, "/etc/gpu-session/sglang.args").unwrap().2;
        let args: Vec<&str> = args.lines().collect();
        let rank_text = rank.to_string();
        for pair in [
            ["--tp-size", "16"],
            ["--nnodes", "2"],
            ["--node-rank", rank_text.as_str()],
            ["--host", "127.0.0.1"],
            ["--port", "30000"],
        ] {
            assert!(
                args.windows(2).any(|w| w == pair),
                "{pair:?} not in {args:?}"
            );
        }
        assert!(file(&files, "/etc/systemd/system/gpu-session-gateway.service").is_none());
        let lease_env = &file(&files, "/etc/gpu-session/lease.env").unwrap().2;
        let idle = if rank == 0 { "30" } else { "0" };
        assert!(
            lease_env.contains(&format!("GPU_SESSION_IDLE_MINUTES={idle}\n")),
            "{lease_env}"
        );
        // Either node's agent ends both: it knows it is one of two nodes.
        assert!(
            lease_env.contains("GPU_SESSION_GROUP_NODES=2\n"),
            "{lease_env}"
        );
        assert_eq!(tag(&m["request"], "gpu-session:nodes"), "2");
        let group_file = m["group_file"].as_str().unwrap();
        for line in [
            "NNODES=2\n".to_owned(),
            format!("NODE_RANK={rank}\n"),
            "DIST_INIT_ADDR=PRIVATE-IP-OF-MEMBER-0:20000\n".to_owned(),
            format!("GPU_SESSION_PRIVATE_IP=PRIVATE-IP-OF-MEMBER-{rank}\n"),
        ] {
            assert!(group_file.contains(&line), "{line} not in\n{group_file}");
        }
    }
    // The wrapper adds --dist-init-addr from the group file and picks the interface.
    let wrapper = &written_files(members[0]["user_data"].as_str().unwrap())
        .into_iter()
        .find(|f| f.0 == "/usr/local/bin/gpu-session-sglang")
        .unwrap()
        .2;
    for needle in [
        "--dist-init-addr \"$dist_init_addr\"",
        "NCCL_SOCKET_IFNAME=",
        "GLOO_SOCKET_IFNAME=",
        "NCCL_IB_DISABLE=1",
    ] {
        assert!(wrapper.contains(needle), "{needle}");
    }

    // PP 2 x TP 8: each node one stage.
    let pp = grouped(
        plan_for("deepseek-r1-671b", "gpu_8x_h100_sxm5", &["us-east-1"]),
        1,
        None,
        2,
        2,
    );
    let (_env, json) = group_dry_run(&pp);
    let user_data = json["members"][1]["user_data"].as_str().unwrap();
    let args = written_files(user_data)
        .into_iter()
        .find(|f| f.0 == "/etc/gpu-session/sglang.args")
        .unwrap()
        .2;
    assert!(args.contains("--tp-size\n8\n--pp-size\n2\n"), "{args}");
    assert!(args.contains("--nnodes\n2\n--node-rank\n1\n"), "{args}");
    // `plan check` shows what the dry run sends: every flag and value, and the one
    // --mem-fraction-static core sized the two-node layout for.
    let check = env_check(&pp);
    let shown: Vec<&str> = check["sglang_args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    let sent: Vec<&str> = args.lines().collect();
    for pair in shown
        .windows(2)
        .filter(|w| w[0].starts_with("--") && !w[1].starts_with("--"))
    {
        assert!(
            sent.windows(2).any(|w| w == pair),
            "{pair:?} not in {sent:?}"
        );
    }
    let fraction = pp.serving.mem_fraction_static.to_string();
    assert!(shown
        .windows(2)
        .any(|w| w == ["--mem-fraction-static", fraction.as_str()]));
    let model = gpu_session_core::registry::builtin("deepseek-r1-671b").unwrap();
    let layouts = gpu_session_core::multi_node::two_nodes(
        model,
        &pp.settings(),
        gpu_session_core::gpu::find("gpu_8x_h100_sxm5").unwrap(),
        &pp.settings().workload(),
    )
    .unwrap();
    let layout = layouts
        .layout(gpu_session_core::multi_node::Layout::Pp2Tp8)
        .unwrap();
    assert_eq!(pp.serving.mem_fraction_static, layout.mem_fraction_static);
    assert_eq!(check["estimate"]["fit"], layout.fit.as_str());
    assert_eq!(check["estimate"]["kv_pool_tokens"], layout.kv_pool_tokens);
}

/// `plan check --json` of `plan`.
fn env_check(plan: &Plan) -> Value {
    let env = Env::with_plan(plan);
    let out = env
        .command(&["plan", "check", env.plan.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    serde_json::from_str(&stdout(&out)).expect("JSON")
}

/// A group's launch environment: the fake ssh's only tunnel (to member 0's
/// `serving.port`) reaches `gateway`: a fake gateway in front of the replicas, or for
/// two nodes a plain fake SGLang, node 0's.
struct GroupEnv {
    env: Env,
    gateway: FakeSglang,
    group_dir: PathBuf,
}

impl GroupEnv {
    /// Replicas behind a gateway counting `serving` healthy workers.
    fn new(replicas: u32, min: Option<u32>, serving: u32) -> GroupEnv {
        let env = Env::with_plan(&grouped(
            plan_for(MODEL, "gpu_1x_a10", &["us-east-1"]),
            replicas,
            min,
            1,
            1,
        ));
        GroupEnv::with(env, MODEL, Some(serving))
    }

    /// DeepSeek-R1 over two 8x H100 nodes (PP 2 x TP 8), with capacity in us-east-1.
    fn two_nodes() -> GroupEnv {
        let env = Env::with_plan(&two_node_plan());
        env.fake.set_capacity(TWO_NODE_TYPE, &["us-east-1"]);
        GroupEnv::with(env, TWO_NODE_MODEL, None)
    }

    fn with(env: Env, model: &str, gateway_workers: Option<u32>) -> GroupEnv {
        let gateway = FakeSglang::start(FakeSglangConfig {
            served_model_name: model.to_owned(),
            gateway_workers,
            ..FakeSglangConfig::default()
        })
        .expect("fake gateway or node 0's SGLang");
        let group_dir = env.dir.path().join("group-files");
        std::fs::create_dir(&group_dir).unwrap();
        GroupEnv {
            env,
            gateway,
            group_dir,
        }
    }

    fn command(&self, extra: &[(&str, &str)]) -> Command {
        self.command_with_flags(&[], extra)
    }

    /// [`GroupEnv::command`] with more `launch` flags.
    fn command_with_flags(&self, flags: &[&str], extra: &[(&str, &str)]) -> Command {
        let mut args = vec!["launch", self.env.plan.to_str().unwrap(), "--yes", "--json"];
        args.extend_from_slice(flags);
        let mut cmd = self.env.command(&args);
        cmd.env("FAKE_SSH_TARGET", self.gateway.addr().to_string())
            .env("FAKE_SSH_GROUP_DIR", &self.group_dir);
        for (k, v) in extra {
            cmd.env(k, v);
        }
        cmd
    }

    /// The group files the fake ssh received, by public IP.
    fn group_files(&self) -> Vec<(String, String)> {
        let mut files: Vec<(String, String)> = std::fs::read_dir(&self.group_dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name()
                        .to_string_lossy()
                        .trim_end_matches(".env")
                        .to_owned(),
                    std::fs::read_to_string(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }
}

fn group_member_id(result: &Value, index: usize) -> &str {
    result["members"][index]["instance_id"].as_str().unwrap()
}

/// Public IPs the fake gives the instances of a group launch, in launch order: the
/// ruleset takes the fake's first serial number, members the next ones.
fn member_public_ip(index: u32) -> String {
    format!("198.51.100.{}", index + 4)
}

#[test]
fn three_replicas_serve_through_the_gateway() {
    let g = GroupEnv::new(3, None, 3);
    let out = g.command(&[]).output().unwrap();
    g.env.assert_no_key_leak(&out);
    assert_exit(&out, 0);
    let result: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(result["members"].as_array().unwrap().len(), 3, "{result}");
    assert_eq!(result["group_price_cents_per_hour"], 3 * 75);
    assert_eq!(g.env.fake.live_instance_count(), 3);
    // One ruleset, attached to all three, created before the first launch.
    let rulesets = g.env.fake.rulesets();
    assert_eq!(rulesets.len(), 1);
    for instance in g.env.fake.instances() {
        assert_eq!(instance.firewall_rulesets, [rulesets[0].id.clone()]);
        assert!(instance.tags.iter().any(|(k, _)| k == "gpu-session:group"));
    }
    let first_launch = g
        .env
        .fake
        .requests()
        .iter()
        .position(|r| r.path == LAUNCH)
        .unwrap();
    let create = g
        .env
        .fake
        .requests()
        .iter()
        .position(|r| r.method == "POST" && r.path == "/firewall-rulesets")
        .unwrap();
    assert!(create < first_launch);
    // Every member got the group file with every member's private address.
    let files = g.group_files();
    assert_eq!(files.len(), 3, "{files:?}");
    let private: Vec<String> = g
        .env
        .fake
        .instances()
        .iter()
        .map(|i| i.private_ip.clone().unwrap())
        .collect();
    for (n, (ip, file)) in files.iter().enumerate() {
        assert_eq!(*ip, member_public_ip(n as u32));
        assert!(
            file.contains(&format!("GPU_SESSION_WORKER_IPS={}\n", private.join(","))),
            "{file}"
        );
        assert!(
            file.contains(&format!("GPU_SESSION_PRIVATE_IP={}\n", private[n])),
            "{file}"
        );
    }
    // The completion went through the gateway.
    assert!(g
        .gateway
        .requests()
        .iter()
        .any(|r| r.path == "/v1/chat/completions" && r.status == 200));
    assert!(g.gateway.requests().iter().any(|r| r.path == "/readiness"));

    // `status` shows the group, its members and its price.
    let group_id = result["group_id"].as_str().unwrap();
    let status = g.env.command(&["status"]).output().unwrap();
    assert_exit(&status, 0);
    let text = stdout(&status);
    assert!(
        text.contains(&format!("Group {group_id}: 3 members (0: active, "))
            && text.contains("2: active, not registered with the gateway), $2.25/h"),
        "{text}"
    );
    let status = g.env.command(&["status", "--json"]).output().unwrap();
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    assert_eq!(status["instances"][2]["group"], group_id);

    // ... and the gateway's view of each member, asked on member 0 over SSH: member 0
    // healthy, member 1 unhealthy, member 2 not (yet) among its workers.
    let port = 30001;
    g.gateway.set_gateway_worker_health(vec![
        (format!("http://{}:{port}", private[0]), true),
        (format!("http://{}:{port}", private[1]), false),
    ]);
    let target = g.gateway.addr().to_string();
    let status = g
        .env
        .command(&["status"])
        .env("FAKE_SSH_TARGET", &target)
        .output()
        .unwrap();
    assert_exit(&status, 0);
    let line = format!("Group {group_id}: 3 members (0: active, healthy in the gateway, 1: active, unhealthy in the gateway, 2: active, not registered with the gateway), $2.25/h");
    assert!(stdout(&status).contains(&line), "{}", stdout(&status));
    let status = g
        .env
        .command(&["status", "--json"])
        .env("FAKE_SSH_TARGET", &target)
        .output()
        .unwrap();
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    let views: Vec<&Value> = (0..3).map(|i| &status["instances"][i]["gateway"]).collect();
    assert_eq!(
        views,
        ["healthy", "unhealthy", "not_registered"],
        "{status}"
    );
    // A gateway that does not answer is reported, and status still succeeds.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = closed.local_addr().unwrap().to_string();
    drop(closed);
    for json in [false, true] {
        let args: &[&str] = if json {
            &["status", "--json"]
        } else {
            &["status"]
        };
        let status = g
            .env
            .command(args)
            .env("FAKE_SSH_TARGET", &dead)
            .output()
            .unwrap();
        assert_exit(&status, 0);
        let text = stdout(&status);
        assert!(
            text.contains("the gateway on member 0 does not answer (curl: (7)"),
            "{text}"
        );
        if json {
            let value: Value = serde_json::from_str(&text).unwrap();
            assert!(value["instances"][1]["gateway"].is_null(), "{value}");
            assert!(
                value["instances"][1]["gateway_error"].is_string(),
                "{value}"
            );
        } else {
            assert!(text.contains("  Gateway view unavailable: "), "{text}");
        }
    }
    // Nor does an SSH that refuses: the view is missing, named as SSH's failure.
    let refused = g
        .env
        .command(&["status"])
        .env("FAKE_SSH_TARGET", &target)
        .env("FAKE_SSH_REFUSE_UNTIL", "99999999999")
        .output()
        .unwrap();
    assert_exit(&refused, 0);
    assert!(
        stdout(&refused).contains("Gateway view unavailable: SSH to member 0 failed (ssh: connect"),
        "{}",
        stdout(&refused)
    );

    // `extend` of one member extends the group's lease: every member's.
    let extend = g
        .env
        .command(&["extend", "2", group_member_id(&result, 0)])
        .output()
        .unwrap();
    assert_exit(&extend, 0);
    assert_eq!(
        stdout(&extend).matches("now ends at").count(),
        3,
        "{}",
        stdout(&extend)
    );

    // `down` with any member's id ends the whole group and its ruleset.
    let member = result["members"][1]["instance_id"].as_str().unwrap();
    let down = g
        .env
        .command(&["down", member, "--yes", "--json"])
        .output()
        .unwrap();
    assert_exit(&down, 0);
    let report: Value = serde_json::from_str(&stdout(&down)).expect("JSON");
    assert_eq!(
        report["terminated"].as_array().unwrap().len(),
        3,
        "{report}"
    );
    assert_eq!(
        report["deleted_rulesets"],
        serde_json::json!([rulesets[0].id])
    );
    assert_eq!(g.env.fake.live_instance_count(), 0);
    assert!(g.env.fake.rulesets().is_empty());
}

#[test]
fn a_replica_failing_its_install_is_dropped_while_min_replicas_serve() {
    let g = GroupEnv::new(3, Some(2), 2);
    let failing = member_public_ip(2);
    let out = g
        .command(&[("FAKE_SSH_FAILED_IPS", failing.as_str())])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    let result: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(result["members"].as_array().unwrap().len(), 2, "{result}");
    assert_eq!(g.env.fake.live_instance_count(), 2);
    let gone: Vec<_> = g
        .env
        .fake
        .instances()
        .into_iter()
        .filter(|i| i.status.is_gone())
        .collect();
    assert_eq!(gone.len(), 1);
    assert_eq!(gone[0].ip.as_deref(), Some(failing.as_str()));
    assert!(stderr(&out).contains("member 2"), "{}", stderr(&out));

    // `down` with the group id ends the two that serve and the ruleset.
    let group_id = result["group_id"].as_str().unwrap();
    let down = g
        .env
        .command(&["down", group_id, "--yes"])
        .output()
        .unwrap();
    assert_exit(&down, 0);
    assert_eq!(g.env.fake.live_instance_count(), 0);
    assert!(g.env.fake.rulesets().is_empty(), "{}", stdout(&down));
}

#[test]
fn a_group_waits_for_capacity_when_asked_and_creates_nothing_before() {
    let g = GroupEnv::new(2, None, 2);
    g.env.fake.set_capacity("gpu_1x_a10", &[]);
    // Without the flag: the error says what to do, and nothing was created.
    let out = g.command(&[]).output().unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("no capacity for gpu_1x_a10 in us-east-1 right now")
            && stderr(&out).contains("--wait-for-capacity"),
        "{}",
        stderr(&out)
    );
    assert!(g.env.fake.rulesets().is_empty());
    assert!(g.env.fake.instances().is_empty());
    // With it: no ruleset and no member until the capacity is there, then the group.
    let mut child = g
        .command_with_flags(&["--wait-for-capacity", "1m"], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let listed = || g.env.fake.requests_to("/instance-types").len();
    let start = Instant::now();
    while listed() < 4 && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(listed() >= 4, "the launch never polled for capacity");
    assert!(g.env.fake.rulesets().is_empty());
    assert!(g.env.fake.instances().is_empty());
    g.env.fake.set_capacity("gpu_1x_a10", &["us-east-1"]);
    let status = wait_with_timeout(&mut child, Duration::from_secs(60));
    let out = child.wait_with_output().unwrap();
    assert_eq!(status, Some(0), "{}", stderr(&out));
    assert_eq!(g.env.fake.live_instance_count(), 2);
    assert_eq!(g.env.fake.rulesets().len(), 1);
}

#[test]
fn a_replica_failing_below_min_replicas_tears_the_group_down() {
    let g = GroupEnv::new(3, None, 2);
    let failing = member_public_ip(1);
    let out = g
        .command(&[("FAKE_SSH_FAILED_IPS", failing.as_str())])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("fewer than gpu.min_replicas (3)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(g.env.fake.live_instance_count(), 0);
    assert!(g.env.fake.rulesets().is_empty(), "ruleset left behind");
}

#[test]
fn a_panic_during_a_group_launch_ends_every_member_and_the_ruleset() {
    let g = GroupEnv::new(3, None, 3);
    let out = g
        .command(&[("GPU_SESSION_TEST_PANIC_AFTER_ACTIVE", "1")])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("panicked"), "{err}");
    assert_eq!(g.env.fake.instances().len(), 3, "{err}");
    assert_eq!(g.env.fake.live_instance_count(), 0, "{err}");
    assert!(g.env.fake.rulesets().is_empty(), "{err}");
}

#[test]
fn ctrl_c_while_the_gateway_is_not_ready_leaves_nothing() {
    // A gateway that counts no healthy worker answers 503 until the signal.
    let g = GroupEnv::new(3, None, 0);
    interrupt_group_with(&g, "INT", &[], &|| {
        g.gateway.requests().iter().any(|r| r.path == "/readiness")
    });
}

/// Sends `signal` once `ready(fake)` holds, then checks nothing of the group is left.
fn interrupt_group(signal: &str, extra: &[(&str, &str)], ready: &dyn Fn(&FakeLambda) -> bool) {
    let g = GroupEnv::new(3, None, 3);
    interrupt_group_with(&g, signal, extra, &|| ready(&g.env.fake));
}

fn interrupt_group_with(
    g: &GroupEnv,
    signal: &str,
    extra: &[(&str, &str)],
    ready: &dyn Fn() -> bool,
) {
    let mut child = g
        .command(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gpu-session");
    let start = Instant::now();
    while !ready() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(ready(), "the launch never reached the phase");
    let (code, err) = signal_and_wait(&mut child, signal, Duration::from_secs(60));
    assert!(matches!(code, Some(129 | 130 | 143)), "{code:?} {err}");
    assert_eq!(g.env.fake.live_instance_count(), 0, "{err}");
    assert!(g.env.fake.rulesets().is_empty(), "{err}");
}

#[test]
fn ctrl_c_and_sigterm_while_members_launch_leave_nothing() {
    for signal in ["INT", "TERM"] {
        // The second member's launch answer is slow: the signal comes while it is out.
        interrupt_group(signal, &[], &|fake| {
            if fake.instances().len() == 1 {
                fake.delay_next_launch_response(Duration::from_secs(5));
            }
            fake.instances().len() >= 2
        });
    }
}

#[test]
fn ctrl_c_and_sigterm_while_members_load_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let phases = dir.path().join("phases");
    std::fs::write(&phases, "loading\n").unwrap();
    for signal in ["INT", "TERM"] {
        let phases = phases.to_str().unwrap();
        interrupt_group(signal, &[("FAKE_SSH_PHASES", phases)], &|fake| {
            fake.instances()
                .iter()
                .filter(|i| i.status.as_str() == "active")
                .count()
                == 3
        });
    }
}

#[test]
fn the_group_file_reader_prints_only_strictly_valid_values() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("group-env");
    std::fs::write(&script, gpu_session::instance::group::GROUP_ENV_SCRIPT).unwrap();
    let group_file = dir.path().join("group.env");
    let read = |args: &[&str]| {
        let out = Command::new("bash")
            .arg(&script)
            .args(args)
            .env("GPU_SESSION_GROUP_FILE", &group_file)
            .output()
            .unwrap();
        (out.status.code(), stdout(&out))
    };
    assert_eq!(
        read(&["--no-wait", "GPU_SESSION_PRIVATE_IP"]),
        (Some(1), String::new())
    );
    let good = "# header\nGPU_SESSION_GROUP_ID=a1b2c3\nGPU_SESSION_MEMBER=1\nGPU_SESSION_MEMBERS=2\nGPU_SESSION_PRIVATE_IP=10.0.2.4\nNNODES=2\nNODE_RANK=1\nDIST_INIT_ADDR=10.0.2.3:20000\n";
    std::fs::write(&group_file, good).unwrap();
    assert_eq!(
        read(&["DIST_INIT_ADDR"]),
        (Some(0), "10.0.2.3:20000\n".into())
    );
    assert_eq!(
        read(&["GPU_SESSION_PRIVATE_IP"]),
        (Some(0), "10.0.2.4\n".into())
    );
    assert_eq!(read(&["GPU_SESSION_WORKER_IPS"]).0, Some(1), "absent key");
    for bad in [
        "GPU_SESSION_PRIVATE_IP=10.0.2.4; reboot",
        "GPU_SESSION_PRIVATE_IP=$(id)",
        "GPU_SESSION_PRIVATE_IP=10.0.2.256",
        "DIST_INIT_ADDR=10.0.2.3:20000 --evil",
        "GPU_SESSION_WORKER_IPS=10.0.2.3,,10.0.2.4",
        "NODE_RANK=-1",
        "PATH=/tmp",
    ] {
        std::fs::write(&group_file, format!("{good}{bad}\n")).unwrap();
        // Any bad line poisons the whole file: no value is printed.
        assert_eq!(
            read(&["GPU_SESSION_PRIVATE_IP"]),
            (Some(1), String::new()),
            "{bad}"
        );
    }
}

#[test]
fn a_group_whose_members_have_no_private_ip_is_torn_down() {
    let g = GroupEnv::new(2, None, 2);
    g.env.fake.omit_private_ip(true);
    let out = g.command(&[]).output().unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("has no private_ip"), "{err}");
    assert!(
        err.contains("member 0, which runs the gateway, failed"),
        "{err}"
    );
    assert_eq!(g.env.fake.live_instance_count(), 0);
    assert!(g.env.fake.rulesets().is_empty());
    assert!(
        g.group_files().is_empty(),
        "no group file without private addresses"
    );
}

// One model over two nodes

const TWO_NODE_MODEL: &str = "deepseek-r1-671b";
const TWO_NODE_TYPE: &str = "gpu_8x_h100_sxm5";

fn two_node_plan() -> Plan {
    grouped(
        plan_for(TWO_NODE_MODEL, TWO_NODE_TYPE, &["us-east-1"]),
        1,
        None,
        2,
        2,
    )
}

/// The keys of an environment file's `KEY=value` lines, in order.
fn env_keys(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect()
}

/// The fake ssh's invocations in its log, each as its arguments.
fn ssh_calls(env: &Env) -> Vec<Vec<String>> {
    let log = std::fs::read_to_string(env.ssh_log()).unwrap_or_default();
    log.split("\n--\n")
        .filter(|call| !call.trim().is_empty())
        .map(|call| call.lines().map(str::to_owned).collect())
        .collect()
}

#[test]
fn a_two_node_deepseek_r1_launch_serves_from_node_0() {
    let g = GroupEnv::two_nodes();
    let out = g.command(&[]).output().unwrap();
    g.env.assert_no_key_leak(&out);
    assert_exit(&out, 0);
    let result: Value = serde_json::from_str(&stdout(&out)).expect("JSON");
    assert_eq!(result["kind"], "nodes", "{result}");
    assert_eq!(result["served_by"], "SGLang on node 0");
    assert_eq!(result["members"].as_array().unwrap().len(), 2, "{result}");
    assert_eq!(result["group_price_cents_per_hour"], 2 * 2392);
    assert_eq!(g.env.fake.live_instance_count(), 2);
    let group_id = result["group_id"].as_str().unwrap().to_owned();

    // Both nodes launched with the one ruleset, tagged as the nodes of one group.
    let rulesets = g.env.fake.rulesets();
    assert_eq!(rulesets.len(), 1);
    let instances = g.env.fake.instances();
    for (rank, instance) in instances.iter().enumerate() {
        assert_eq!(instance.firewall_rulesets, [rulesets[0].id.clone()]);
        for (key, value) in [
            ("gpu-session:group", group_id.as_str()),
            ("gpu-session:member", &rank.to_string()),
            ("gpu-session:nodes", "2"),
        ] {
            assert!(
                instance.tags.iter().any(|(k, v)| k == key && v == value),
                "{key}={value} not in {:?}",
                instance.tags
            );
        }
    }

    // Each node got a group file with its rank and node 0's private address.
    let private: Vec<String> = instances
        .iter()
        .map(|i| i.private_ip.clone().unwrap())
        .collect();
    let files = g.group_files();
    assert_eq!(files.len(), 2, "{files:?}");
    for (rank, (ip, file)) in files.iter().enumerate() {
        assert_eq!(*ip, member_public_ip(rank as u32));
        for line in [
            "NNODES=2\n".to_owned(),
            format!("NODE_RANK={rank}\n"),
            format!("DIST_INIT_ADDR={}:20000\n", private[0]),
            format!("GPU_SESSION_PRIVATE_IP={}\n", private[rank]),
        ] {
            assert!(file.contains(&line), "{line} not in\n{file}");
        }
    }

    // The one tunnel went to node 0's serving.port, and the completion through it
    // reached SGLang; nobody asked a gateway.
    let tunnels: Vec<Vec<String>> = ssh_calls(&g.env)
        .into_iter()
        .filter(|c| c.iter().any(|a| a == "-L"))
        .collect();
    assert_eq!(tunnels.len(), 1, "{tunnels:?}");
    assert!(
        tunnels[0].contains(&format!("ubuntu@{}", member_public_ip(0))),
        "{tunnels:?}"
    );
    assert!(
        tunnels[0].iter().any(|a| a.ends_with(":127.0.0.1:30000")),
        "{tunnels:?}"
    );
    let requests = g.gateway.requests();
    assert!(requests
        .iter()
        .any(|r| r.path == "/v1/chat/completions" && r.status == 200));
    assert!(
        !requests.iter().any(|r| r.path == "/readiness"),
        "{requests:?}"
    );

    // `status` shows both nodes with their phase; it asks no gateway.
    let status = g.env.command(&["status"]).output().unwrap();
    assert_exit(&status, 0);
    let line = format!("Group {group_id}: one model over 2 nodes (0: active, SGLang reports ready; 1: active, SGLang reports ready), $47.84/h; node 0 serves it (no gateway); end it with `gpu-session down {group_id}`");
    assert!(stdout(&status).contains(&line), "{}", stdout(&status));
    let status = g.env.command(&["status", "--json"]).output().unwrap();
    assert_exit(&status, 0);
    let status: Value = serde_json::from_str(&stdout(&status)).unwrap();
    for rank in 0..2 {
        let row = &status["instances"][rank];
        assert_eq!(row["nodes"], 2, "{row}");
        assert_eq!(row["phase"], "SGLang reports ready", "{row}");
        assert!(
            row["gateway"].is_null() && row["gateway_error"].is_null(),
            "{row}"
        );
    }
    assert!(
        !ssh_calls(&g.env)
            .iter()
            .any(|c| c.iter().any(|a| a.contains("gpu-session-gateway"))),
        "status asked a gateway"
    );
    // A node SSH does not reach is shown as such, and status still succeeds.
    let refused = g
        .env
        .command(&["status"])
        .env("FAKE_SSH_REFUSE_UNTIL", "99999999999")
        .output()
        .unwrap();
    assert_exit(&refused, 0);
    assert!(
        stdout(&refused).contains("(0: active, booting (SSH not answering yet (ssh: connect"),
        "{}",
        stdout(&refused)
    );

    // The dry run showed what the launch sent: every node's files, its SGLang
    // arguments exactly, and the same settings (values differ only by the secrets,
    // names and group id each run draws).
    let dry = g
        .env
        .command(&[
            "launch",
            g.env.plan.to_str().unwrap(),
            "--dry-run",
            "--json",
        ])
        .output()
        .unwrap();
    assert_exit(&dry, 0);
    let dry: Value = serde_json::from_str(&stdout(&dry)).unwrap();
    let sent = g.env.fake.user_data();
    assert_eq!(sent.len(), 2);
    for (rank, user_data) in sent.iter().enumerate() {
        let shown = written_files(dry["members"][rank]["user_data"].as_str().unwrap());
        let sent = written_files(user_data);
        let paths = |files: &[(String, String, String)]| -> Vec<String> {
            files.iter().map(|f| f.0.clone()).collect()
        };
        assert_eq!(paths(&shown), paths(&sent), "node {rank}");
        for (path, _, content) in &sent {
            let dry_content = &file(&shown, path).unwrap().2;
            if path.ends_with(".env") {
                assert_eq!(env_keys(dry_content), env_keys(content), "{path}");
            } else if !path.ends_with("lambda-api-key") {
                assert_eq!(dry_content, content, "{path} of node {rank}");
            }
        }
    }

    // `extend` of node 1 extends the group's lease: both nodes'.
    let extend = g
        .env
        .command(&["extend", "2", group_member_id(&result, 1)])
        .output()
        .unwrap();
    assert_exit(&extend, 0);
    assert_eq!(stdout(&extend).matches("now ends at").count(), 2);

    // `down` with the group id ends both nodes and the ruleset.
    let down = g
        .env
        .command(&["down", &group_id, "--yes", "--json"])
        .output()
        .unwrap();
    assert_exit(&down, 0);
    let report: Value = serde_json::from_str(&stdout(&down)).expect("JSON");
    assert_eq!(
        report["terminated"].as_array().unwrap().len(),
        2,
        "{report}"
    );
    assert_eq!(g.env.fake.live_instance_count(), 0);
    assert!(g.env.fake.rulesets().is_empty());
}

#[test]
fn a_two_node_launch_prints_both_nodes_and_how_to_end_the_group() {
    let g = GroupEnv::two_nodes();
    let mut cmd = g
        .env
        .command(&["launch", g.env.plan.to_str().unwrap(), "--yes"]);
    cmd.env("FAKE_SSH_TARGET", g.gateway.addr().to_string());
    let out = cmd.output().unwrap();
    assert_exit(&out, 0);
    let text = stdout(&out);
    let group_id = g.env.fake.instances()[0]
        .tags
        .iter()
        .find(|(k, _)| k == "gpu-session:group")
        .map(|(_, v)| v.clone())
        .unwrap();
    for needle in [
        "(SGLang on node 0)".to_owned(),
        "  Node 0:    ".to_owned(),
        "  Node 1:    ".to_owned(),
        format!("Group:     {group_id} (2 nodes, one model)"),
        "Cost:      $47.84/h for the group".to_owned(),
        format!("Stop billing: gpu-session down {group_id}\n"),
    ] {
        assert!(text.contains(&needle), "{needle} not in\n{text}");
    }
    assert!(
        stderr(&out).contains("one model over 2 instances: $63.84/h (catalog) for the group"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn a_failing_node_tears_both_down() {
    // Node 1's first start fails.
    let g = GroupEnv::two_nodes();
    let failing = member_public_ip(1);
    let out = g
        .command(&[("FAKE_SSH_FAILED_IPS", failing.as_str())])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("node 1 failed: first start failed on the instance: SGLang exited with status 1 (fake install failure); a two-node model needs both nodes"),
        "{err}"
    );
    assert_eq!(g.env.fake.instances().len(), 2, "{err}");
    assert_eq!(g.env.fake.live_instance_count(), 0, "{err}");
    assert!(g.env.fake.rulesets().is_empty(), "{err}");

    // Node 0 unhealthy while booting: node 1, launched and healthy, is ended too.
    let g = GroupEnv::two_nodes();
    g.env.fake.set_next_launch_fate(Fate::Unhealthy);
    let out = g.command(&[]).output().unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("node 0 failed: unhealthy while booting; a two-node model needs both nodes"),
        "{err}"
    );
    assert_eq!(g.env.fake.instances().len(), 2, "{err}");
    assert_eq!(g.env.fake.live_instance_count(), 0, "{err}");
    assert!(g.env.fake.rulesets().is_empty(), "{err}");

    // No private address: no group file is written, both are ended.
    let g = GroupEnv::two_nodes();
    g.env.fake.omit_private_ip(true);
    let out = g.command(&[]).output().unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("node 0 failed: instance "), "{err}");
    assert!(err.contains("has no private_ip"), "{err}");
    assert_eq!(g.env.fake.live_instance_count(), 0, "{err}");
    assert!(g.env.fake.rulesets().is_empty(), "{err}");
    assert!(g.group_files().is_empty());

    // Both nodes still loading when --ready-timeout passes.
    let g = GroupEnv::two_nodes();
    let dir = tempfile::tempdir().unwrap();
    let phases = dir.path().join("phases");
    std::fs::write(&phases, "loading\n").unwrap();
    let out = g
        .env
        .command(&[
            "launch",
            g.env.plan.to_str().unwrap(),
            "--yes",
            "--ready-timeout",
            "1s",
        ])
        .env("FAKE_SSH_TARGET", g.gateway.addr().to_string())
        .env("FAKE_SSH_PHASES", &phases)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    // Whichever node is looked at first when the time is up.
    assert!(
        err.contains(" failed: SGLang was not ready after 1 min (--ready-timeout); a two-node model needs both nodes"),
        "{err}"
    );
    assert_eq!(g.env.fake.live_instance_count(), 0, "{err}");
    assert!(g.env.fake.rulesets().is_empty(), "{err}");

    // Node 0's launch refused: node 1 is never launched, the ruleset is deleted.
    let g = GroupEnv::two_nodes();
    g.env.fake.inject(Fault::status(400).on(LAUNCH).times(1));
    let out = g.command(&[]).output().unwrap();
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("node 0 failed: it did not launch: "), "{err}");
    assert!(g.env.fake.instances().is_empty(), "{err}");
    assert!(g.env.fake.rulesets().is_empty(), "{err}");
}

#[test]
fn ctrl_c_and_sigterm_while_nodes_launch_leave_nothing() {
    for signal in ["INT", "TERM"] {
        let g = GroupEnv::two_nodes();
        // Node 1's launch answer is slow: the signal comes while it is out.
        interrupt_group_with(&g, signal, &[], &|| {
            let fake = &g.env.fake;
            if fake.instances().len() == 1 {
                fake.delay_next_launch_response(Duration::from_secs(5));
            }
            fake.instances().len() >= 2
        });
    }
}

#[test]
fn ctrl_c_sigterm_and_sighup_while_nodes_load_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let phases = dir.path().join("phases");
    std::fs::write(&phases, "loading\n").unwrap();
    for signal in ["INT", "TERM", "HUP"] {
        let g = GroupEnv::two_nodes();
        let phases = phases.to_str().unwrap();
        interrupt_group_with(&g, signal, &[("FAKE_SSH_PHASES", phases)], &|| {
            g.env
                .fake
                .instances()
                .iter()
                .filter(|i| i.status.as_str() == "active")
                .count()
                == 2
        });
    }
}

#[test]
fn ctrl_c_and_sigterm_while_node_0_is_not_ready_leave_nothing() {
    for signal in ["INT", "TERM"] {
        let g = GroupEnv::two_nodes();
        // Both nodes report ready; node 0's SGLang, through the tunnel, never does.
        g.gateway.set_readiness(Readiness::Never);
        interrupt_group_with(&g, signal, &[], &|| g.gateway.health_generate_calls() > 0);
    }
}

#[test]
fn a_panic_during_a_two_node_launch_ends_both_nodes_and_the_ruleset() {
    let g = GroupEnv::two_nodes();
    let out = g
        .command(&[("GPU_SESSION_TEST_PANIC_AFTER_ACTIVE", "1")])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("panicked"), "{err}");
    assert_eq!(g.env.fake.instances().len(), 2, "{err}");
    assert_eq!(g.env.fake.live_instance_count(), 0, "{err}");
    assert!(g.env.fake.rulesets().is_empty(), "{err}");
}
