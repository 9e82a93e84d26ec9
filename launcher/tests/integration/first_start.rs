//! Issue 9 end to end: the checks before anything bills (Hub, image family, SSH key),
//! the first start watched over SSH (phases, failures with the instance's log tail),
//! the 1-token completion and predicted vs actual. The real binary against the fake
//! Lambda API, fake SGLang, fake Hub and the fake ssh playing the instance.

use crate::{assert_exit, plan_for, stderr, MODEL};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use gpu_session_core::plan::{Plan, PlanRequest};
use gpu_session_core::recommend::recommend;
use gpu_session_core::registry::builtins;
use gpu_session_core::settings::{EstimateMode, Settings};
use gpu_session_tests::fake_hub::{FakeHub, FakeRepo, Gate};
use gpu_session_tests::fake_lambda::{Boot, FakeLambda, FakeLambdaConfig};
use gpu_session_tests::fake_sglang::{FakeSglang, FakeSglangConfig, Readiness};
use serde_json::Value;
use tempfile::TempDir;

const LAUNCH: &str = "/instance-operations/launch";
/// The fake Lambda's `public_key` of its key "gpu-session".
const ACCOUNT_PUBLIC_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKey0 gpu-session";
const TOKEN_WITH_ACCESS: &str = "hf_granted0123456789";
const TOKEN_WITHOUT_ACCESS: &str = "hf_notgranted0123456789";

/// The fakes, a private HOME with the account key's `.pub`, and a plan file.
struct World {
    lambda: FakeLambda,
    sglang: FakeSglang,
    hub: FakeHub,
    dir: TempDir,
    plan_path: PathBuf,
    plan: Plan,
}

impl World {
    /// `gate` None: the Hub does not have the plan's checkpoint.
    fn new(plan: Plan, gate: Option<Gate>, sglang: FakeSglangConfig) -> World {
        let lambda = FakeLambda::start(FakeLambdaConfig {
            boot: Boot::AfterPolls(1),
            ..FakeLambdaConfig::default()
        })
        .expect("fake Lambda");
        let sglang = FakeSglang::start(FakeSglangConfig {
            served_model_name: plan.model.id.clone(),
            ..sglang
        })
        .expect("fake SGLang");
        // Llama 3.1 8B Instruct's four shards (the repo's safetensors sizes).
        let repos: Vec<(&str, FakeRepo)> = gate
            .map(|gate| {
                let shards = [4_976_698_672, 4_999_802_720, 4_915_916_176, 1_168_138_808];
                let repo = FakeRepo::open(&shards).gated(gate, &[TOKEN_WITH_ACCESS]);
                (plan.model.checkpoint.as_str(), repo)
            })
            .into_iter()
            .collect();
        let hub =
            FakeHub::start(&repos, &[TOKEN_WITH_ACCESS, TOKEN_WITHOUT_ACCESS]).expect("fake Hub");
        let dir = tempfile::tempdir().expect("temp dir");
        let plan_path = dir.path().join("plan.yaml");
        std::fs::write(&plan_path, plan.to_yaml().expect("plan YAML")).expect("write plan");
        std::fs::create_dir(dir.path().join(".ssh")).unwrap();
        std::fs::write(
            dir.path().join(".ssh/id_ed25519.pub"),
            format!("{ACCOUNT_PUBLIC_KEY}\n"),
        )
        .unwrap();
        World {
            lambda,
            sglang,
            hub,
            dir,
            plan_path,
            plan,
        }
    }

    fn a10() -> World {
        World::new(
            plan_for(MODEL, "gpu_1x_a10", &["us-east-1"]),
            Some(Gate::Open),
            FakeSglangConfig::default(),
        )
    }

    /// Scripts the instance: its phase file, one line per poll, and its log tail.
    fn script_instance(&self, phases: &[&str], log_tail: &str) {
        std::fs::write(self.dir.path().join("phases"), phases.join("\n") + "\n").unwrap();
        std::fs::write(self.dir.path().join("log-tail"), log_tail).unwrap();
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(crate::GPU_SESSION);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path())
            .env("GPU_SESSION_CONFIG", self.dir.path().join("config.yaml"))
            .env("LAMBDA_API_URL", self.lambda.base_url())
            .env("LAMBDA_API_KEY", self.lambda.api_key())
            .env("GPU_SESSION_TEST_POLL_INTERVAL_MS", "20")
            .env("GPU_SESSION_TEST_FAST_API", "1")
            // The fake API is on loopback, and so is the "instance" running the agent.
            .env("GPU_SESSION_TEST_LOOPBACK_LAMBDA_API", "1")
            .env("HF_ENDPOINT", self.hub.url())
            .env("GPU_SESSION_SSH", crate::launch::fake_ssh())
            .env("FAKE_SSH_LOG", self.dir.path().join("ssh.log"))
            // The tunnel forwards to the fake SGLang, as to a real instance's port.
            .env("FAKE_SSH_TARGET", self.sglang.addr().to_string())
            .env("FAKE_SSH_PHASES", self.dir.path().join("phases"))
            .env("FAKE_SSH_LOG_TAIL", self.dir.path().join("log-tail"))
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    fn launch(&self, extra: &[&str]) -> Output {
        let mut args = vec!["launch", self.plan_path.to_str().unwrap(), "--yes"];
        args.extend_from_slice(extra);
        self.command(&args).output().expect("run gpu-session")
    }
}

#[test]
fn happy_path_prints_the_phases_and_predicted_vs_actual() {
    let world = World::a10();
    world.script_instance(
        &[
            "ssh-down",
            "",
            "installing",
            "downloading 3.2 of 16.1 GB",
            "loading",
            "capturing",
            "ready",
        ],
        "",
    );
    world.sglang.set_readiness(Readiness::AfterCalls(7));
    let out = world.launch(&[]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    for phase in [
        "Phase: booting",
        "Phase: installing SGLang",
        "Phase: downloading weights, 3.2 of 16.1 GB",
        "Phase: loading weights onto the GPU",
        "Phase: capturing CUDA graphs",
        "Phase: SGLang reports ready",
        "A 1-token test completion succeeded.",
        "Predicted vs actual (per GPU):",
        "40000 actual",
        "14.99 GiB actual",
    ] {
        assert!(err.contains(phase), "{phase} missing:\n{err}");
    }
    let order: Vec<usize> = ["installing", "downloading", "loading", "capturing"]
        .iter()
        .map(|p| err.find(&format!("Phase: {p}")).unwrap_or(usize::MAX))
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "phases out of order: {err}"
    );
    assert!(
        world.sglang.completions_served() >= 1,
        "no 1-token completion"
    );
    let chats = world.sglang.chat_bodies();
    assert_eq!(chats.len(), 1, "{chats:?}");
    assert_eq!(chats[0]["max_tokens"], 1);
    assert_eq!(chats[0]["model"], MODEL);
    assert!(world
        .sglang
        .requests()
        .iter()
        .any(|r| r.path == "/server_info"));

    // The launch request names the image family; the Hub was asked first.
    let launches = world.lambda.requests_to(LAUNCH);
    assert_eq!(launches.len(), 1);
    let request = launches[0].json().unwrap();
    assert_eq!(request["image"]["family"], "lambda-stack-24-04");
    assert!(world.hub.requests().iter().any(|r| r.starts_with(&format!(
        "GET /api/models/{}?blobs=true",
        world.plan.model.checkpoint
    ))));
    assert_eq!(world.lambda.live_instance_count(), 1);

    // status --json keeps both.
    let status = world
        .command(&["status", "--json"])
        .output()
        .expect("status");
    assert_exit(&status, 0);
    let v: Value = serde_json::from_slice(&status.stdout).unwrap();
    let record = &v["instances"][0]["predicted_vs_actual"];
    assert_eq!(record["actual"]["kv_pool_tokens"], 40000);
    assert_eq!(record["actual"]["weights_gib"], 14.99);
    assert!(record["predicted"]["kv_pool_tokens"].as_u64().unwrap() > 0);
    let predicted_weights = record["predicted"]["weights_gib"].as_f64().unwrap();
    assert!(
        (14.0..16.0).contains(&predicted_weights),
        "{predicted_weights}"
    );
}

#[test]
fn json_result_carries_predicted_vs_actual() {
    let world = World::a10();
    world.script_instance(&["ready"], "");
    let out = world.launch(&["--json"]);
    assert_exit(&out, 0);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["predicted_vs_actual"]["actual"]["kv_pool_tokens"], 40000);
    assert!(v["predicted_vs_actual"]["predicted"]["kv_pool_tokens"]
        .as_u64()
        .is_some());
}

#[test]
fn a_kv_pool_far_from_the_prediction_is_warned_about() {
    let world = World::new(
        plan_for(MODEL, "gpu_1x_a10", &["us-east-1"]),
        Some(Gate::Open),
        FakeSglangConfig {
            max_total_num_tokens: 1_000,
            ..FakeSglangConfig::default()
        },
    );
    world.script_instance(&["ready"], "");
    let out = world.launch(&[]);
    assert_exit(&out, 0);
    let err = stderr(&out);
    assert!(
        err.contains("the KV pool differs from the prediction"),
        "{err}"
    );
    assert!(!err.contains("weight memory differs"), "{err}");
}

#[test]
fn an_install_failure_shows_the_log_tail_terminates_and_exits_1() {
    let world = World::a10();
    world.script_instance(
        &[
            "installing",
            "failed: installing sglang==0.5.23 failed (see the log)",
        ],
        "Resolved 180 packages\nerror: Failed to download `torch==2.14.1`\n  Caused by: No space left on device\n",
    );
    world.sglang.set_readiness(Readiness::Never);
    let out = world.launch(&[]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains("installing sglang==0.5.23 failed"), "{err}");
    assert!(
        err.contains("No space left on device"),
        "log tail missing: {err}"
    );
    assert!(
        err.contains("/var/log/gpu-session/first-start.log"),
        "{err}"
    );
    assert!(err.contains("Terminated instance"), "{err}");
    assert_eq!(world.lambda.live_instance_count(), 0);
}

#[test]
fn keep_on_failure_keeps_a_failed_first_start() {
    let world = World::a10();
    world.script_instance(
        &["failed: SGLang exited with status 1"],
        "CUDA out of memory\n",
    );
    let out = world.launch(&["--keep-on-failure"]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("STILL BILLING"), "{}", stderr(&out));
    assert_eq!(world.lambda.live_instance_count(), 1);
}

/// Runs the real install script with a fake `nvidia-smi` reporting `driver`; returns
/// (exit status, phase file, log).
fn run_install_script(driver: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let smi = bin.join("nvidia-smi");
    std::fs::write(&smi, format!("#!/bin/sh\necho {driver}\n")).unwrap();
    std::fs::write(
        dir.path().join("sglang.env"),
        "SGLANG_VERSION=0.5.23\nSGLANG_PYTHON_VERSION=3.12\n",
    )
    .unwrap();
    let script = dir.path().join("install.sh");
    std::fs::write(&script, gpu_session::instance::cloud_init::INSTALL_SCRIPT).unwrap();
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let status = Command::new("chmod")
        .args(["+x", smi.to_str().unwrap()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = Command::new("bash")
        .arg(&script)
        .env("PATH", path)
        .env("GPU_SESSION_SGLANG_ENV", dir.path().join("sglang.env"))
        .env("GPU_SESSION_PHASE_FILE", dir.path().join("state/phase"))
        .env(
            "GPU_SESSION_LOG_FILE",
            dir.path().join("log/first-start.log"),
        )
        // Where uv would go: must stay untouched when the driver is refused.
        .env("GPU_SESSION_OPT", dir.path().join("opt"))
        .output()
        .unwrap();
    let phase = std::fs::read_to_string(dir.path().join("state/phase")).unwrap_or_default();
    let log = std::fs::read_to_string(dir.path().join("log/first-start.log")).unwrap_or_default();
    assert!(
        !dir.path().join("opt/bin").exists(),
        "installed something on a refused driver"
    );
    (out.status.code(), phase, log)
}

#[test]
fn the_install_script_refuses_a_driver_older_than_580() {
    let (code, phase, log) = run_install_script("570.133.20");
    assert_eq!(code, Some(1), "{log}");
    assert!(
        phase.starts_with("failed: NVIDIA driver 570.133.20 is older than 580"),
        "{phase}"
    );
    assert!(log.contains("phase: installing"), "{log}");
}

#[test]
fn a_driver_older_than_580_shows_the_log_terminates_and_exits_1() {
    let (_, phase, log) = run_install_script("570.133.20");
    let world = World::a10();
    world.script_instance(&["installing", phase.trim()], &log);
    world.sglang.set_readiness(Readiness::Never);
    let out = world.launch(&[]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(
        err.contains("NVIDIA driver 570.133.20 is older than 580"),
        "{err}"
    );
    assert!(
        err.contains("gpu-session: phase: installing"),
        "log tail: {err}"
    );
    assert_eq!(world.lambda.live_instance_count(), 0);
}

#[test]
fn a_gated_checkpoint_without_a_token_launches_nothing() {
    let world = World::new(
        plan_for(MODEL, "gpu_1x_a10", &["us-east-1"]),
        Some(Gate::Manual),
        FakeSglangConfig::default(),
    );
    for extra in [&[][..], &["--dry-run"][..]] {
        let out = world.launch(extra);
        assert_exit(&out, 1);
        let err = stderr(&out);
        assert!(err.contains(&world.plan.model.checkpoint), "{err}");
        assert!(err.contains("gated"), "{err}");
        assert!(err.contains("HF_TOKEN"), "{err}");
        assert!(err.contains("licence"), "{err}");
    }
    assert!(world.lambda.requests_to(LAUNCH).is_empty());

    // A token whose account has not been granted access: the licence is the fix.
    let out = world
        .command(&["launch", world.plan_path.to_str().unwrap(), "--yes"])
        .env("HF_TOKEN", TOKEN_WITHOUT_ACCESS)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("has no access yet"),
        "{}",
        stderr(&out)
    );
    assert!(world.lambda.requests_to(LAUNCH).is_empty());

    // With access it launches.
    world.script_instance(&["ready"], "");
    let out = world
        .command(&["launch", world.plan_path.to_str().unwrap(), "--yes"])
        .env("HF_TOKEN", TOKEN_WITH_ACCESS)
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert_eq!(world.lambda.requests_to(LAUNCH).len(), 1);
}

#[test]
fn a_missing_checkpoint_launches_nothing() {
    let world = World::new(
        plan_for(MODEL, "gpu_1x_a10", &["us-east-1"]),
        None,
        FakeSglangConfig::default(),
    );
    let out = world.launch(&[]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    assert!(err.contains(&world.plan.model.checkpoint), "{err}");
    assert!(
        err.contains("HF_TOKEN"),
        "without a token the Hub says 401: {err}"
    );
    let out = world
        .command(&["launch", world.plan_path.to_str().unwrap(), "--yes"])
        .env("HF_TOKEN", TOKEN_WITH_ACCESS)
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("does not exist"), "{}", stderr(&out));
    assert!(world.lambda.requests_to(LAUNCH).is_empty());
}

#[test]
fn a_region_without_the_image_family_for_the_architecture_fails_before_launch() {
    let world = World::new(
        plan_for(MODEL, "gpu_1x_gh200", &["us-east-3"]),
        Some(Gate::Open),
        FakeSglangConfig::default(),
    );
    world.lambda.set_capacity("gpu_1x_gh200", &["us-east-3"]);
    world
        .lambda
        .drop_image_family("lambda-stack-24-04", "us-east-3");
    let out = world.launch(&[]);
    assert_exit(&out, 1);
    let err = stderr(&out);
    for part in [
        "lambda-stack-24-04",
        "us-east-3",
        "arm64",
        "lambda-stack-22-04",
    ] {
        assert!(err.contains(part), "{part} missing: {err}");
    }
    assert!(world.lambda.requests_to(LAUNCH).is_empty());
}

#[test]
fn gh200_launches_with_the_arm64_lambda_stack() {
    let world = World::new(
        plan_for(MODEL, "gpu_1x_gh200", &["us-east-3"]),
        Some(Gate::Open),
        FakeSglangConfig::default(),
    );
    world.lambda.set_capacity("gpu_1x_gh200", &["us-east-3"]);
    world.script_instance(&["ready"], "");
    let out = world.launch(&[]);
    assert_exit(&out, 0);
    let request = world.lambda.requests_to(LAUNCH)[0].json().unwrap();
    assert_eq!(request["image"]["family"], "lambda-stack-24-04");
}

#[test]
fn a_local_key_that_does_not_match_the_account_fails_before_launch() {
    let world = World::a10();
    std::fs::write(
        world.dir.path().join(".ssh/id_ed25519.pub"),
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther me@laptop\n",
    )
    .unwrap();
    let out = world.launch(&[]);
    assert_exit(&out, 1);
    assert!(stderr(&out).contains("does not match"), "{}", stderr(&out));
    assert!(world.lambda.requests_to(LAUNCH).is_empty());
}

#[test]
fn dry_run_for_every_builtin_on_its_cheapest_gpu() {
    let world = World::a10();
    for model in builtins() {
        let settings = Settings::defaults_for(model);
        let rec = recommend(model, &settings, EstimateMode::Serving, None);
        let Some(cheapest) = rec.cheapest() else {
            panic!("{} fits nowhere", model.id);
        };
        let mut req = PlanRequest::new(model, settings, cheapest.gpu);
        req.regions = vec!["us-east-1".to_owned()];
        let plan = Plan::build(&req).expect("plan");
        let path = world.dir.path().join(format!("{}.yaml", model.id));
        std::fs::write(&path, plan.to_yaml().expect("plan YAML")).unwrap();
        // No Lambda key: the dry run calls no Lambda API. The fake Hub only knows the
        // 8B's checkpoint, so the others get a Hub that refuses (a warning).
        let mut cmd = world.command(&["launch", path.to_str().unwrap(), "--dry-run", "--json"]);
        cmd.env_remove("LAMBDA_API_KEY");
        if model.id != MODEL {
            cmd.env("HF_ENDPOINT", "http://127.0.0.1:9");
        }
        let out = cmd.output().unwrap();
        assert_exit(&out, 0);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(
            v["request"]["image"]["family"], "lambda-stack-24-04",
            "{}",
            model.id
        );
        let user_data = v["user_data"].as_str().unwrap();
        assert!(
            user_data.contains("SGLANG_PYTHON_VERSION=3.12"),
            "{}",
            model.id
        );
        assert!(user_data.contains("uv\" venv --python \"$PYTHON_VERSION\""));
        assert!(!user_data.contains("[all]"), "{}", model.id);
        assert!(!user_data.contains("--python python3"), "{}", model.id);
        assert!(user_data.contains("nvidia-smi --query-gpu=driver_version --format=csv,noheader"));
        assert!(user_data.contains("MIN_DRIVER_MAJOR=580"));
        assert!(user_data.contains("CUDA_HOME"));
        let python: Vec<u32> = gpu_session_core::serving::SGLANG_PYTHON_VERSION
            .split('.')
            .map(|p| p.parse().unwrap())
            .collect();
        assert!(python >= vec![3, 11], "SGLang 0.5.23 needs Python >= 3.11");
        // The flags SGLang gets are the sizes core estimated with, and no AWQ/GPTQ
        // checkpoint is forced onto the slow non-Marlin kernel.
        let files = crate::launch::check_user_data(world.dir.path(), user_data);
        let args = &files
            .iter()
            .find(|f| f.0 == "/etc/gpu-session/sglang.args")
            .expect("sglang.args")
            .2;
        let args: Vec<&str> = args.lines().collect();
        let value_of = |flag: &str| {
            args.iter()
                .position(|a| *a == flag)
                .map(|i| args[i + 1].to_owned())
        };
        assert_eq!(
            value_of("--chunked-prefill-size"),
            plan.serving.chunked_prefill_size.map(|v| v.to_string()),
            "{}",
            model.id
        );
        assert_eq!(
            value_of("--cuda-graph-max-bs-decode"),
            plan.serving.cuda_graph_max_bs.map(|v| v.to_string()),
            "{}",
            model.id
        );
        let quantization = value_of("--quantization");
        assert!(
            !matches!(quantization.as_deref(), Some("awq" | "gptq")),
            "{}: {quantization:?}",
            model.id
        );
    }
}

#[test]
fn dry_run_with_a_key_makes_the_lambda_checks() {
    let world = World::a10();
    let out = world
        .command(&["launch", world.plan_path.to_str().unwrap(), "--dry-run"])
        .output()
        .unwrap();
    assert_exit(&out, 0);
    assert!(
        stderr(&out).contains("the image, SSH key and disk checks passed"),
        "{}",
        stderr(&out)
    );
    assert!(!world.lambda.requests_to("/images").is_empty());
    assert!(world.lambda.requests_to(LAUNCH).is_empty());
    world
        .lambda
        .drop_image_family("lambda-stack-24-04", "us-east-1");
    let out = world
        .command(&["launch", world.plan_path.to_str().unwrap(), "--dry-run"])
        .output()
        .unwrap();
    assert_exit(&out, 1);
    assert!(
        stderr(&out).contains("lambda-stack-24-04"),
        "{}",
        stderr(&out)
    );
}

/// The `HF_TOKEN=` line of the SGLang settings in the user_data of the last launch.
fn sent_hf_token(world: &World) -> Option<String> {
    let user_data = world.lambda.user_data().pop().expect("user_data sent");
    let files = crate::launch::written_files(&user_data);
    let env = &files
        .iter()
        .find(|f| f.0 == "/etc/gpu-session/sglang.env")
        .expect("sglang.env")
        .2;
    env.lines()
        .find_map(|l| l.strip_prefix("HF_TOKEN="))
        .map(str::to_owned)
}

#[test]
fn hf_token_goes_to_the_instance_only_for_a_gated_checkpoint() {
    for (gate, sent) in [(Gate::Open, None), (Gate::Auto, Some(TOKEN_WITH_ACCESS))] {
        let world = World::new(
            plan_for(MODEL, "gpu_1x_a10", &["us-east-1"]),
            Some(gate),
            FakeSglangConfig::default(),
        );
        world.script_instance(&["ready"], "");
        let out = world
            .command(&["launch", world.plan_path.to_str().unwrap(), "--yes"])
            .env("HF_TOKEN", TOKEN_WITH_ACCESS)
            .output()
            .unwrap();
        assert_exit(&out, 0);
        assert_eq!(sent_hf_token(&world).as_deref(), sent, "{gate:?}");
        assert!(
            !world
                .lambda
                .user_data()
                .iter()
                .any(|u| sent.is_none() && u.contains(TOKEN_WITH_ACCESS)),
            "the token is nowhere in a public checkpoint's user_data"
        );
    }
}

#[test]
fn hf_endpoint_over_plain_http_never_receives_the_token() {
    let world = World::a10();
    for extra in [&[][..], &["--dry-run"][..]] {
        let mut args = vec!["launch", world.plan_path.to_str().unwrap(), "--yes"];
        args.extend_from_slice(extra);
        let out = world
            .command(&args)
            .env("HF_ENDPOINT", "http://hub.example.invalid")
            .env("HF_TOKEN", TOKEN_WITH_ACCESS)
            .output()
            .unwrap();
        assert_exit(&out, 1);
        assert!(
            stderr(&out).contains(
                "HF_ENDPOINT (http://hub.example.invalid) is plain http to another machine"
            ),
            "{}",
            stderr(&out)
        );
    }
    assert!(world.lambda.requests_to(LAUNCH).is_empty());
}

#[test]
fn the_install_script_refuses_a_uv_wheel_whose_checksum_differs() {
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    // A driver new enough, and a "download" that is not the pinned wheel.
    let fakes = [
        ("nvidia-smi", "#!/bin/sh\necho 580.65.06\n".to_owned()),
        (
            "curl",
            "#!/bin/sh\nwhile [ $# -gt 0 ]; do [ \"$1\" = -o ] && printf 'not uv' > \"$2\"; shift; done\n"
                .to_owned(),
        ),
    ];
    for (name, body) in fakes {
        let path = bin.join(name);
        std::fs::write(&path, body).unwrap();
        assert!(Command::new("chmod")
            .args(["+x", path.to_str().unwrap()])
            .status()
            .unwrap()
            .success());
    }
    std::fs::write(
        dir.path().join("sglang.env"),
        "SGLANG_VERSION=0.5.23\nSGLANG_PYTHON_VERSION=3.12\n",
    )
    .unwrap();
    let lock = dir.path().join("lock.txt");
    std::fs::write(&lock, gpu_session::instance::cloud_init::SGLANG_LOCK_X86_64).unwrap();
    let script = dir.path().join("install.sh");
    std::fs::write(&script, gpu_session::instance::cloud_init::INSTALL_SCRIPT).unwrap();
    let out = Command::new("bash")
        .arg(&script)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("GPU_SESSION_SGLANG_ENV", dir.path().join("sglang.env"))
        .env("GPU_SESSION_SGLANG_LOCK", &lock)
        .env("GPU_SESSION_PHASE_FILE", dir.path().join("state/phase"))
        .env(
            "GPU_SESSION_LOG_FILE",
            dir.path().join("log/first-start.log"),
        )
        .env("GPU_SESSION_OPT", dir.path().join("opt"))
        .output()
        .unwrap();
    let phase = std::fs::read_to_string(dir.path().join("state/phase")).unwrap_or_default();
    assert_eq!(out.status.code(), Some(1), "{phase}");
    if std::env::consts::ARCH == "x86_64" || std::env::consts::ARCH == "aarch64" {
        assert_eq!(
            phase.trim(),
            "failed: uv 0.13.9's wheel does not match its pinned sha256; refusing to run it"
        );
    }
    assert!(
        !dir.path().join("opt/bin/uv").exists(),
        "unverified uv kept"
    );
}

/// Stands in for `python -m sglang.launch_server ARGS` on a node: logs its arguments and
/// NCCL's interface, then SGLang's "Load weight begin.", then once `$GO` exists answers
/// 200 on `/health` at 127.0.0.1:`--port`, as SGLang 0.5.23's dummy health server on
/// node rank >= 1 does once its schedulers are ready.
const FAKE_NODE_PYTHON: &str = r#"#!/bin/bash
port=""
prev=""
for a in "$@"; do
    if [ "$prev" = "--port" ]; then port="$a"; fi
    prev="$a"
done
echo "args: $*"
echo "NCCL_SOCKET_IFNAME=$NCCL_SOCKET_IFNAME"
echo "Load weight begin."
while [ ! -e "$GO" ]; do sleep 0.1; done
exec python3 -c '
import http.server, sys
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health" else 404)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Health).serve_forever()
' "$port"
"#;

/// The SGLang wrapper of node `rank` of a two-node plan, run here with its real
/// arguments (the plan's port replaced by a free one), a group file naming this
/// machine's loopback as the private address, and [`FAKE_NODE_PYTHON`].
struct NodeWrapper {
    dir: TempDir,
    child: std::process::Child,
}

impl NodeWrapper {
    fn start(rank: u32) -> NodeWrapper {
        use gpu_session::instance::{cloud_init, group};
        use std::os::unix::process::CommandExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = |name: &str| dir.path().join(name);
        let mut plan = plan_for("deepseek-r1-671b", "gpu_8x_h100_sxm5", &["us-east-1"])
            .with_group(gpu_session_core::plan::Group {
                replicas: 1,
                min_replicas: None,
                nodes: 2,
                pipeline_parallel: 2,
            })
            .unwrap();
        let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        plan.serving.port = free.local_addr().unwrap().port();
        drop(free);
        let member = group::Member {
            index: rank,
            count: 2,
        };
        let args = cloud_init::member_sglang_args(&plan, Some(member)).unwrap();
        std::fs::write(path("sglang.args"), args).unwrap();
        let group_file =
            group::group_file(&plan, "a1b2c3", member, "127.0.0.1", &["127.0.0.1".into()]).unwrap();
        std::fs::write(path("group.env"), group_file).unwrap();
        std::fs::write(path("group-env"), group::GROUP_ENV_SCRIPT).unwrap();
        std::fs::write(path("sglang-run"), cloud_init::SGLANG_RUN_SCRIPT).unwrap();
        std::fs::create_dir_all(path("venv/bin")).unwrap();
        std::fs::write(path("venv/bin/python"), FAKE_NODE_PYTHON).unwrap();
        for program in ["venv/bin/python", "group-env"] {
            let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
            std::fs::set_permissions(path(program), mode).unwrap();
        }
        let child = Command::new("bash")
            .arg(path("sglang-run"))
            .env("GPU_SESSION_VENV", path("venv"))
            .env("GPU_SESSION_PHASE_FILE", path("phase"))
            .env("GPU_SESSION_LOG_FILE", path("first-start.log"))
            .env("GPU_SESSION_SGLANG_ARGS_FILE", path("sglang.args"))
            .env("GPU_SESSION_PHASE_POLL_SECONDS", "0.2")
            .env("GPU_SESSION_GROUP", "nodes")
            .env("GPU_SESSION_GROUP_ENV", path("group-env"))
            .env("GPU_SESSION_GROUP_FILE", path("group.env"))
            .env("SGLANG_API_KEY", "sk-test")
            .env("HF_HOME", path("hf"))
            .env("GPU_SESSION_CHECKPOINT", "deepseek-ai/DeepSeek-R1")
            .env("GO", path("go"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("bash");
        NodeWrapper { dir, child }
    }

    fn phase(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("phase"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }

    fn wait_for_phase(&self, want: &str) {
        let reached =
            crate::agent::wait_until(std::time::Duration::from_secs(30), || self.phase() == want);
        assert!(
            reached,
            "phase {:?}, not {want:?}; log:\n{}",
            self.phase(),
            self.log()
        );
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("first-start.log")).unwrap_or_default()
    }

    /// What the wrapper's loop waits for: the health server answers from now on.
    fn start_health_server(&self) {
        std::fs::write(self.dir.path().join("go"), "").unwrap();
    }
}

impl Drop for NodeWrapper {
    fn drop(&mut self) {
        // The wrapper, its watcher and the stand-in server share the process group.
        let _ = Command::new("kill")
            .args(["-TERM", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn node_1_reports_ready_once_its_health_server_answers() {
    let node = NodeWrapper::start(1);
    node.wait_for_phase("loading");
    // Node 1 logs no "fired up": without its health server it stays loading.
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(node.phase(), "loading");
    node.start_health_server();
    node.wait_for_phase("ready");
    // The wrapper passed node 0's rendezvous address and NCCL's interface.
    let log = node.log();
    // Its health server is where the wrapper asked: --host 127.0.0.1, --port.
    assert!(log.contains("--host 127.0.0.1"), "{log}");
    assert!(log.contains("--node-rank 1"), "{log}");
    assert!(log.contains("--dist-init-addr 127.0.0.1:20000"), "{log}");
    assert!(log.contains("NCCL_SOCKET_IFNAME=lo"), "{log}");
}

#[test]
fn node_0_is_ready_only_when_sglang_says_so() {
    let node = NodeWrapper::start(0);
    node.start_health_server();
    node.wait_for_phase("loading");
    // Node 0's health answers long before its HTTP API is up; only the log line counts.
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert_eq!(node.phase(), "loading");
    let log = node.dir.path().join("first-start.log");
    let mut text = std::fs::read_to_string(&log).unwrap();
    text.push_str("The server is fired up and ready to roll!\n");
    std::fs::write(&log, text).unwrap();
    node.wait_for_phase("ready");
}
