//! The management commands (`status`, `down`, `ssh`, `tunnel`, `extend`,
//! `configure`) run as the real `gpu-session` binary against the fake Lambda
//! API, with a fake `ssh` that records its arguments.

use crate::{stderr, stdout};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use gpu_session::cloud::instances;
use gpu_session_lambda::{ApiKey, ClientOptions, LambdaClient, LaunchRequest};
use gpu_session_tests::fake_lambda::{Boot, FakeLambda, FakeLambdaConfig, DEFAULT_API_KEY};
use serde_json::Value;
use tempfile::TempDir;

/// A fake Lambda, a private HOME/config folder and a fake ssh.
struct Env {
    fake: FakeLambda,
    dir: TempDir,
}

impl Env {
    fn new() -> Env {
        let config = FakeLambdaConfig {
            boot: Boot::AfterPolls(0),
            ..FakeLambdaConfig::default()
        };
        let env = Env {
            fake: FakeLambda::start(config).expect("start fake Lambda"),
            dir: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::create_dir_all(env.home()).unwrap();
        // The key pair `configure` names by default (~/.ssh/id_rsa), its public half the
        // fake account's key: `launch --dry-run` checks the key before anything bills.
        std::fs::create_dir_all(env.home().join(".ssh")).unwrap();
        std::fs::write(env.home().join(".ssh/id_rsa"), "not a real private key\n").unwrap();
        std::fs::write(
            env.home().join(".ssh/id_rsa.pub"),
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKey0 gpu-session\n",
        )
        .unwrap();
        let script = "#!/bin/sh\nprintf '%s\\n' \"$@\" > \"$FAKE_SSH_LOG\"\necho 1700000000\n";
        std::fs::write(env.fake_ssh(), script).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(env.fake_ssh(), std::fs::Permissions::from_mode(0o755))
                .unwrap();
        }
        env
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn config_path(&self) -> PathBuf {
        self.dir.path().join("config").join("config.yaml")
    }

    fn fake_ssh(&self) -> PathBuf {
        self.dir.path().join("fake-ssh")
    }

    fn ssh_log(&self) -> PathBuf {
        self.dir.path().join("ssh-args")
    }

    /// The arguments the fake ssh got, one per element.
    fn ssh_args(&self) -> Vec<String> {
        std::fs::read_to_string(self.ssh_log())
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// `gpu-session ARGS` with the key in the environment.
    fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = self.cmd_without_key(args);
        cmd.env("LAMBDA_API_KEY", DEFAULT_API_KEY);
        cmd
    }

    fn cmd_without_key(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(crate::GPU_SESSION);
        cmd.args(args)
            .env_remove("LAMBDA_API_KEY")
            .env("LAMBDA_API_URL", self.fake.base_url())
            // The fake API is on loopback: launch may hand it to the agent in tests.
            .env("GPU_SESSION_TEST_LOOPBACK_LAMBDA_API", "1")
            .env("HOME", self.home())
            .env("XDG_CONFIG_HOME", self.dir.path().join("xdg"))
            .env("GPU_SESSION_CONFIG", self.config_path())
            .env("GPU_SESSION_SSH", self.fake_ssh())
            .env("FAKE_SSH_LOG", self.ssh_log())
            // A Hub that refuses at once (launch checks the checkpoint): tests stay offline.
            .env("HF_ENDPOINT", "http://127.0.0.1:9")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run gpu-session")
    }

    /// Launches an instance straight through the API, as `launch` would name and tag it.
    fn seed(&self, name: &str, ours: bool) -> String {
        self.seed_launched(name, ours, instances::now_unix() - 1800)
    }

    /// [`Env::seed`], launched (by its tags, with a 4 h lease) at `launched_at`.
    fn seed_launched(&self, name: &str, ours: bool, launched_at: u64) -> String {
        self.seed_tagged(name, ours, launched_at, &[])
    }

    /// One of ours, member `index` of group `group` (tagged as a group launch tags it).
    fn seed_member(&self, group: &str, index: u32) -> String {
        let index_tag = index.to_string();
        self.seed_tagged(
            &format!("gpu-session-a-{group}-{index}"),
            true,
            instances::now_unix() - 1800,
            &[
                (instances::TAG_GROUP, group),
                (instances::TAG_MEMBER, &index_tag),
            ],
        )
    }

    fn seed_tagged(
        &self,
        name: &str,
        ours: bool,
        launched_at: u64,
        extra_tags: &[(&str, &str)],
    ) -> String {
        let client = LambdaClient::new(
            &self.fake.base_url(),
            ApiKey::new(DEFAULT_API_KEY).unwrap(),
            ClientOptions::fast_for_tests(),
        )
        .unwrap();
        let mut request = LaunchRequest::new("us-east-1", "gpu_1x_a10", "gpu-session");
        request.name = Some(name.to_owned());
        if ours {
            request.hostname = Some(name.to_owned());
            request.tags = instances::launch_tags("llama-3.1-8b", launched_at, 4, 30000);
            request.tags.extend(
                extra_tags
                    .iter()
                    .map(|(key, value)| gpu_session_lambda::Tag {
                        key: (*key).to_owned(),
                        value: (*value).to_owned(),
                    }),
            );
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let response = runtime.block_on(client.launch(&request)).expect("launch");
        response.instance_ids[0].clone()
    }

    fn terminate_requests(&self) -> usize {
        self.fake
            .requests_to("/instance-operations/terminate")
            .len()
    }
}

fn code(output: &Output) -> i32 {
    output.status.code().unwrap_or(-1)
}

#[test]
fn status_lists_only_our_instances() {
    let env = Env::new();
    let a = env.seed("gpu-session-llama-3-1-8b-aaaaaa", true);
    let b = env.seed("gpu-session-llama-3-1-8b-bbbbbb", true);
    env.seed("my-own-box", false);

    let out = env.run(&["status"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains(&a[..8]) && text.contains(&b[..8]), "{text}");
    assert!(text.contains("gpu-session-llama-3-1-8b-aaaaaa"), "{text}");
    assert!(!text.contains("my-own-box"), "{text}");
    assert!(text.contains("Total: 2 instances"), "{text}");
    assert!(!text.contains('\x1b'), "no colour off a terminal: {text:?}");

    let out = env.run(&["status", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).expect("status --json is JSON");
    let list = json["instances"].as_array().expect("instances array");
    assert_eq!(list.len(), 2);
    let first = &list[0];
    for field in [
        "id",
        "name",
        "instance_type",
        "region",
        "ip",
        "status",
        "uptime_secs",
        "lease_left_secs",
        "cost_so_far_usd",
        "estimated_total_usd",
    ] {
        assert!(first.get(field).is_some(), "missing {field}: {first}");
    }
    assert_eq!(first["instance_type"], "gpu_1x_a10");
    // Launched half an hour ago with a 4 h lease.
    let left = first["lease_left_secs"].as_i64().unwrap();
    assert!((12_600 - 60..=12_600).contains(&left), "{left}");
    // 0.75 $/h for half an hour; 4 h lease at 0.75 $/h.
    assert!((first["cost_so_far_usd"].as_f64().unwrap() - 0.38).abs() < 0.02);
    assert_eq!(first["estimated_total_usd"].as_f64().unwrap(), 3.0);
    assert!(json["total_cost_so_far_usd"].as_f64().is_some());
}

#[test]
fn status_says_when_a_lease_agent_is_not_acting() {
    let env = Env::new();
    let now = instances::now_unix();
    // 30 min past its 4 h lease: its agent should have ended it long ago.
    let overdue = env.seed_launched(
        "gpu-session-llama-3-1-8b-cccccc",
        true,
        now - 4 * 3600 - 1800,
    );
    // 2 min past: the instance's own deadline counts from its boot, a little later.
    let just_ended = env.seed_launched(
        "gpu-session-llama-3-1-8b-dddddd",
        true,
        now - 4 * 3600 - 120,
    );
    env.seed("gpu-session-llama-3-1-8b-eeeeee", true);
    let out = env.run(&["status"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!(
            "agent not acting — run `gpu-session down {overdue}`"
        )),
        "{text}"
    );
    assert_eq!(text.matches("agent not acting").count(), 1, "{text}");
    assert!(!text.contains(&format!("down {just_ended}")), "{text}");
}

#[test]
fn status_with_nothing_running() {
    let env = Env::new();
    env.seed("someone-else", false);
    let out = env.run(&["status", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["instances"].as_array().unwrap().len(), 0);
    let out = env.run(&["status"]);
    assert!(stdout(&out).contains("No instances"), "{}", stdout(&out));
}

#[test]
fn down_by_id_prefix_and_by_name() {
    let env = Env::new();
    let other = env.seed("my-own-box", false);
    let a = env.seed("gpu-session-llama-3-1-8b-aaaaaa", true);
    assert_eq!(env.fake.live_instance_count(), 2);

    // Only our instances are candidates, so a short prefix is enough.
    let out = env.run(&["down", &a[..8], "--yes"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains(&a), "{}", stdout(&out));
    assert!(stdout(&out).contains("Billing stops"), "{}", stdout(&out));
    assert!(env.fake.instance(&a).unwrap().status.is_gone());
    assert_eq!(env.fake.live_instance_count(), 1);

    let b = env.seed("gpu-session-llama-3-1-8b-bbbbbb", true);
    let c = env.seed("gpu-session-llama-3-1-8b-cccccc", true);
    let out = env.run(&["down", "gpu-session-llama-3-1-8b-bbbbbb", "--yes", "--json"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["terminated"].as_array().unwrap().len(), 1);
    assert_eq!(json["terminated"][0]["id"], b.as_str());
    assert!(env.fake.instance(&b).unwrap().status.is_gone());
    assert!(!env.fake.instance(&c).unwrap().status.is_gone());
    assert!(!env.fake.instance(&other).unwrap().status.is_gone());
    assert_eq!(env.fake.live_instance_count(), 2);
}

#[test]
fn down_all_leaves_other_instances_alone() {
    let env = Env::new();
    env.seed("gpu-session-a-111111", true);
    env.seed("gpu-session-b-222222", true);
    let other = env.seed("my-own-box", false);
    let out = env.run(&["down", "--all", "--yes"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(env.fake.live_instance_count(), 1);
    assert!(!env.fake.instance(&other).unwrap().status.is_gone());
}

#[test]
fn down_without_yes_off_a_terminal_terminates_nothing() {
    let env = Env::new();
    let a = env.seed("gpu-session-a-111111", true);
    let out = env.run(&["down", &a]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stderr(&out).contains("--yes"), "{}", stderr(&out));
    assert_eq!(env.terminate_requests(), 0);
    assert_eq!(env.fake.live_instance_count(), 1);
}

#[test]
fn down_refuses_ambiguous_and_unknown_instances() {
    let env = Env::new();
    let a = env.seed("gpu-session-a-111111", true);
    let b = env.seed("gpu-session-b-222222", true);

    let out = env.run(&["down", "--yes"]);
    assert_eq!(code(&out), 1);
    let err = stderr(&out);
    assert!(err.contains(&a) && err.contains(&b), "lists them: {err}");

    let out = env.run(&["down", "no-such-instance", "--yes"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("no-such-instance"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.terminate_requests(), 0);
    assert_eq!(env.fake.live_instance_count(), 2);
}

#[test]
fn ssh_runs_ssh_with_the_configured_key() {
    let env = Env::new();
    let id = env.seed("gpu-session-a-111111", true);
    let key = env.dir.path().join("my_key");
    std::fs::write(&key, "not really a key").unwrap();
    std::fs::create_dir_all(env.config_path().parent().unwrap()).unwrap();
    std::fs::write(
        env.config_path(),
        format!("ssh:\n  key_path: {}\n", key.display()),
    )
    .unwrap();

    let out = env.run(&["ssh"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let ip = env
        .fake
        .instance(&id)
        .unwrap()
        .ip
        .expect("active with an IP");
    let args = env.ssh_args();
    assert_eq!(args.last().unwrap(), &format!("ubuntu@{ip}"), "{args:?}");
    let i = args.iter().position(|a| a == "-i").expect("-i");
    assert_eq!(args[i + 1], key.display().to_string());
}

#[test]
fn tunnel_forwards_the_sglang_port() {
    let env = Env::new();
    let id = env.seed("gpu-session-a-111111", true);
    let out = env.run(&["tunnel", &id[..6], "--local-port", "30001"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let ip = env
        .fake
        .instance(&id)
        .unwrap()
        .ip
        .expect("active with an IP");
    assert!(
        stdout(&out).contains("http://127.0.0.1:30001"),
        "{}",
        stdout(&out)
    );
    let args = env.ssh_args();
    assert!(args.contains(&"-N".to_owned()), "{args:?}");
    let l = args.iter().position(|a| a == "-L").expect("-L");
    assert_eq!(args[l + 1], "127.0.0.1:30001:127.0.0.1:30000");
    assert_eq!(args.last().unwrap(), &format!("ubuntu@{ip}"));
}

#[test]
fn extend_runs_a_fixed_remote_command() {
    let env = Env::new();
    env.seed("gpu-session-a-111111", true);
    let out = env.run(&["extend", "2", "gpu-session-a-111111"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(stdout(&out).contains("2023-11-14"), "{}", stdout(&out));
    let args = env.ssh_args();
    let remote = args.last().expect("remote command");
    assert!(remote.starts_with("sudo sh -c '"), "{remote}");
    assert!(
        remote.contains("/etc/gpu-session/lease-deadline"),
        "{remote}"
    );
    assert!(remote.contains("cur + 7200"), "{remote}");
    assert!(
        !remote.contains("gpu-session-a-111111"),
        "no user string: {remote}"
    );
    assert_eq!(remote, &gpu_session::commands::extend::remote_command(2));
}

#[test]
fn extend_rejects_hours_out_of_range() {
    let env = Env::new();
    env.seed("gpu-session-a-111111", true);
    for hours in ["0", "100", "25"] {
        let out = env.run(&["extend", hours]);
        assert_eq!(code(&out), 2, "{hours}: {}", stderr(&out));
        assert!(stderr(&out).contains("HOURS"), "{}", stderr(&out));
    }
    let out = env.run(&["extend", "-3"]);
    assert_eq!(code(&out), 2);
    assert!(env.ssh_args().is_empty());
}

const KEPT: &str = "custom_models:\n  my-model-70b:\n    hf_path: myorg/custom-llama-70b\n    params_billions: 70\n    quantization: int4\n    context_length: 8192\ndefaults:\n  model: llama-3.1-8b\n";

fn configure_with(env: &Env, key: &str, extra: &[&str]) -> Output {
    use std::io::Write;
    let mut args = vec!["configure", "--api-key-stdin"];
    args.extend_from_slice(extra);
    let mut child = env
        .cmd_without_key(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut stdin) = child.stdin.take() {
        // The command may exit before reading (a bad flag): a broken pipe is fine.
        let _ = stdin.write_all(format!("{key}\n").as_bytes());
    }
    child.wait_with_output().unwrap()
}

#[test]
fn configure_writes_a_private_file_and_keeps_other_keys() {
    let env = Env::new();
    std::fs::create_dir_all(env.config_path().parent().unwrap()).unwrap();
    std::fs::write(env.config_path(), KEPT).unwrap();

    let out = configure_with(
        &env,
        DEFAULT_API_KEY,
        &[
            "--region",
            "us-east-1",
            "--lease-hours",
            "6",
            "--filesystem",
            "models",
        ],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!shown.contains(DEFAULT_API_KEY), "key printed: {shown}");
    assert!(
        stdout(&out).contains(&env.config_path().display().to_string()),
        "{shown}"
    );
    assert_eq!(env.fake.requests_to("/instance-types").len(), 1);

    let text = std::fs::read_to_string(env.config_path()).unwrap();
    let yaml: gpu_session_core::yaml::Value = gpu_session_core::yaml::from_str(&text).unwrap();
    assert_eq!(yaml["lambda"]["api_key"].as_str(), Some(DEFAULT_API_KEY));
    assert_eq!(yaml["lambda"]["default_region"].as_str(), Some("us-east-1"));
    assert_eq!(yaml["lambda"]["filesystem_name"].as_str(), Some("models"));
    assert_eq!(yaml["defaults"]["lease_hours"].as_u64(), Some(6));
    assert_eq!(yaml["defaults"]["model"].as_str(), Some("llama-3.1-8b"));
    assert_eq!(yaml["ssh"]["key_path"].as_str(), Some("~/.ssh/id_rsa"));
    assert_eq!(
        yaml["custom_models"]["my-model-70b"]["hf_path"].as_str(),
        Some("myorg/custom-llama-70b")
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(env.config_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The stored key now works for cloud commands without the environment variable.
    let out = env.cmd_without_key(&["status"]).output().unwrap();
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

#[test]
fn configure_with_an_invalid_key_writes_nothing() {
    let env = Env::new();
    std::fs::create_dir_all(env.config_path().parent().unwrap()).unwrap();
    std::fs::write(env.config_path(), KEPT).unwrap();
    let bad = "secret_wrong_key_0123456789";
    let out = configure_with(&env, bad, &[]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    let shown = format!("{}{}", stdout(&out), stderr(&out));
    assert!(!shown.contains(bad), "key printed: {shown}");
    assert!(stderr(&out).contains("nothing was written"), "{shown}");
    assert_eq!(std::fs::read_to_string(env.config_path()).unwrap(), KEPT);
}

#[test]
fn configure_rejects_bad_flags_before_asking() {
    let env = Env::new();
    let out = configure_with(&env, DEFAULT_API_KEY, &["--lease-hours", "0"]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(!env.config_path().exists());
    assert!(env.fake.requests().is_empty());
}

#[test]
fn cloud_commands_without_a_key_say_how_to_configure() {
    let env = Env::new();
    for args in [
        &["status"][..],
        &["down", "--yes"],
        &["ssh"],
        &["tunnel"],
        &["extend", "1"],
    ] {
        let out = env.cmd_without_key(args).output().unwrap();
        assert_eq!(code(&out), 1, "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert!(
            err.contains("LAMBDA_API_KEY") && err.contains("gpu-session configure"),
            "{args:?}: {err}"
        );
    }
    assert!(env.fake.requests().is_empty());
}

#[test]
fn gpus_live_reads_prices_and_capacity_from_the_api() {
    let env = Env::new();
    let out = env.run(&["gpus", "--live", "--json", "--model", "llama-3.1-8b"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let rows: Value = serde_json::from_str(&stdout(&out)).expect("JSON array");
    let rows = rows.as_array().expect("array");
    let a10 = rows
        .iter()
        .find(|r| r["instance_type"] == "gpu_1x_a10")
        .expect("the fake's A10 is listed");
    assert!(a10["price_per_hour_usd"].as_f64().unwrap() > 0.0);
    assert!(!a10["regions_with_capacity"].as_array().unwrap().is_empty());
    // SGLang 0.5.23 keeps about 7 GB of a 24 GB GPU out of its pool, so an 8B FP16
    // model fits an A10 only with a raised --mem-fraction-static: "tight".
    assert_eq!(a10["fit"]["fit"], "tight", "{a10}");
    let gh200 = rows
        .iter()
        .find(|r| r["instance_type"] == "gpu_1x_gh200")
        .unwrap();
    assert_eq!(gh200["regions_with_capacity"], serde_json::json!([]));
    // Exactly one read of the catalog, authorised, and nothing that changes state.
    let requests = env.fake.requests();
    assert!(
        requests.iter().all(|r| r.method == "GET" && r.authorized),
        "{requests:?}"
    );

    let human = env.run(&["gpus", "--live"]);
    assert_eq!(code(&human), 0, "{}", stderr(&human));
    assert!(stdout(&human).contains("gpu_1x_a10"), "{}", stdout(&human));
    assert!(!stdout(&human).contains(DEFAULT_API_KEY) && !stderr(&human).contains(DEFAULT_API_KEY));
}

/// `configure` saves only regions `plan` accepts, and only file system names `launch`
/// accepts: one rule each, in core.
#[test]
fn configure_plan_and_launch_share_the_region_and_filesystem_rules() {
    let env = Env::new();
    let long_region = format!("{}-1", "a".repeat(40));
    let regions = [
        "us-east-1",
        "europe-central-1",
        "us-west",
        "US-EAST-1",
        "us_east-1",
        "us-east-1;",
        long_region.as_str(),
    ];
    let mut accepted = Vec::new();
    for region in regions {
        let configured = configure_with(&env, DEFAULT_API_KEY, &["--region", region]);
        let planned = env.run(&[
            "plan",
            "--model",
            "llama-3.1-8b",
            "--gpu",
            "gpu_1x_a10",
            "--region",
            region,
        ]);
        assert_eq!(
            code(&configured) == 0,
            code(&planned) == 0,
            "{region}: configure says {:?}, plan says {:?}",
            stderr(&configured),
            stderr(&planned)
        );
        if code(&planned) == 0 {
            accepted.push(region);
        }
    }
    assert_eq!(accepted, ["us-east-1", "europe-central-1"]);

    let plan = env.dir.path().join("plan.yaml");
    let out = env.run(&[
        "plan",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "gpu_1x_a10",
        "-o",
        plan.to_str().unwrap(),
    ]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let long_name = "f".repeat(61);
    let names = [
        "models",
        "coding-stack",
        "hf_cache",
        "a.b",
        "../x",
        "a b",
        "-x",
        long_name.as_str(),
    ];
    let mut accepted = Vec::new();
    for name in names {
        let configured = configure_with(&env, DEFAULT_API_KEY, &["--filesystem", name]);
        let launched = env.run(&[
            "launch",
            plan.to_str().unwrap(),
            "--dry-run",
            "--filesystem",
            name,
        ]);
        assert_eq!(
            code(&configured) == 0,
            code(&launched) == 0,
            "{name}: configure says {:?}, launch says {:?}",
            stderr(&configured),
            stderr(&launched)
        );
        if code(&launched) == 0 {
            accepted.push(name);
        }
    }
    assert_eq!(accepted, ["models", "coding-stack", "hf_cache"]);
}

/// A config file that does not parse warns but does not block `down` or `status`
/// when the environment holds the key (issue 16, point 8).
#[test]
fn down_and_status_work_with_a_malformed_config() {
    let env = Env::new();
    let a = env.seed("gpu-session-a-111111", true);
    std::fs::create_dir_all(env.config_path().parent().unwrap()).unwrap();
    std::fs::write(env.config_path(), "lambda: [unclosed\n  api_key: {\n").unwrap();
    let out = env.run(&["status"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ignoring the config file"),
        "{}",
        stderr(&out)
    );
    let out = env.run(&["down", &a, "--yes"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(
        stderr(&out).contains("ignoring the config file"),
        "{}",
        stderr(&out)
    );
    assert_eq!(env.fake.live_instance_count(), 0);
}

/// `tunnel` forwards to the port the plan's `serving.port` gave SGLang, which launch
/// recorded on the instance; and uses our own known-hosts file under the instance id.
#[test]
fn tunnel_uses_the_plans_sglang_port_and_our_known_hosts() {
    let env = Env::new();
    let client = LambdaClient::new(
        &env.fake.base_url(),
        ApiKey::new(DEFAULT_API_KEY).unwrap(),
        ClientOptions::fast_for_tests(),
    )
    .unwrap();
    let mut request = LaunchRequest::new("us-east-1", "gpu_1x_a10", "gpu-session");
    request.name = Some("gpu-session-p-222222".to_owned());
    request.tags = instances::launch_tags("llama-3.1-8b", instances::now_unix(), 4, 31234);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let id = runtime
        .block_on(client.launch(&request))
        .unwrap()
        .instance_ids[0]
        .clone();
    let out = env.run(&["tunnel", &id, "--local-port", "30001"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let args = env.ssh_args();
    assert!(
        args.contains(&"127.0.0.1:30001:127.0.0.1:31234".to_owned()),
        "{args:?}"
    );
    assert!(stdout(&out).contains(":31234"), "{}", stdout(&out));
    let known_hosts = env.config_path().with_file_name("known_hosts");
    assert!(
        args.contains(&format!("UserKnownHostsFile=\"{}\"", known_hosts.display())),
        "{args:?}"
    );
    assert!(
        args.contains(&format!("HostKeyAlias=gpu-session-{id}")),
        "{args:?}"
    );
}

#[test]
fn a_group_is_reached_through_member_0_by_its_id_or_any_member() {
    let env = Env::new();
    let ids: Vec<String> = (0..3).map(|i| env.seed_member("abc123", i)).collect();
    // The fake boots instances when they are listed.
    assert_eq!(code(&env.run(&["status"])), 0);
    let ip_of = |id: &str| {
        env.fake
            .instances()
            .into_iter()
            .find(|i| i.id == id)
            .and_then(|i| i.ip)
            .expect("an IP")
    };
    let (first, third) = (ip_of(&ids[0]), ip_of(&ids[2]));
    let tunnels: [&[&str]; 3] = [
        &["tunnel", "abc123"],
        &["tunnel", ids[2].as_str()],
        &["tunnel"],
    ];
    for args in tunnels {
        let _ = std::fs::remove_file(env.ssh_log());
        let out = env.run(args);
        assert_eq!(code(&out), 0, "{args:?}: {}", stderr(&out));
        let ssh = env.ssh_args();
        let host = |ip: &str| ssh.iter().any(|a| a.ends_with(&format!("@{ip}")));
        assert!(host(&first) && !host(&third), "{args:?}: {ssh:?}");
    }
    let out = env.run(&["tunnel", ids[2].as_str()]);
    assert!(
        stderr(&out).contains("is member 2 of group abc123, which serves from member 0"),
        "{}",
        stderr(&out)
    );
    // `extend` by the group's id extends every member.
    let out = env.run(&["extend", "2", "abc123"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(
        stdout(&out).matches("now ends at").count(),
        3,
        "{}",
        stdout(&out)
    );
    // Without member 0 the group's id names no endpoint, and the error says how to end it.
    let out = env.run(&["down", ids[0].as_str(), "--yes"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let gone = env.seed_member("def456", 1);
    let out = env.run(&["tunnel", "def456"]);
    assert_eq!(code(&out), 1);
    assert!(
        stderr(&out).contains("group def456 has no member 0 running") && !gone.is_empty(),
        "{}",
        stderr(&out)
    );
}
