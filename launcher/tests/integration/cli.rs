//! End-to-end tests of the calculator commands (models, estimate, gpus, plan,
//! completions): the real binary, a throw-away config folder and home, no colour.
//! Human and JSON outputs are insta snapshots in snapshots/: they are the
//! product's output, so review a changed snapshot like a changed screen.

use assert_cmd::Command;
use gpu_session::cli::Cli;
use gpu_session_core::plan::{Plan, PlanChoices, PlanRequest};
use gpu_session_core::registry::builtin;
use gpu_session_core::settings::Settings;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tempfile::TempDir;

/// A sandbox: its own config file, home and XDG folder, so the real home is never read.
struct Sandbox {
    dir: TempDir,
}

/// What one run printed, with the sandbox's path replaced by `[TMP]`.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Sandbox {
    fn new() -> Sandbox {
        let dir = tempfile::tempdir().expect("temp dir");
        for sub in ["home", "xdg"] {
            fs::create_dir(dir.path().join(sub)).expect("sandbox folder");
        }
        Sandbox { dir }
    }

    /// A sandbox whose config file holds `yaml`.
    fn with_config(yaml: &str) -> Sandbox {
        let sandbox = Sandbox::new();
        fs::write(sandbox.config(), yaml).expect("write config");
        sandbox
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self) -> PathBuf {
        self.path("config.yaml")
    }

    /// The binary with only the sandbox's environment (no explicit config file).
    fn bare_command(&self) -> Command {
        let mut cmd = Command::new(crate::GPU_SESSION);
        cmd.env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.path("home"))
            .env("XDG_CONFIG_HOME", self.path("xdg"))
            .env("NO_COLOR", "1")
            .current_dir(self.dir.path());
        cmd
    }

    fn command(&self) -> Command {
        let mut cmd = self.bare_command();
        cmd.env("GPU_SESSION_CONFIG", self.config());
        cmd
    }

    fn run_command(&self, mut cmd: Command, args: &[&str]) -> Run {
        let output = cmd.args(args).output().expect("run gpu-session");
        let tmp = self.dir.path().display().to_string();
        let clean = |bytes: &[u8]| String::from_utf8_lossy(bytes).replace(&tmp, "[TMP]");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: clean(&output.stdout),
            stderr: clean(&output.stderr),
        }
    }

    fn run(&self, args: &[&str]) -> Run {
        self.run_command(self.command(), args)
    }

    /// Run and require exit status 0 with nothing on stderr.
    fn ok(&self, args: &[&str]) -> String {
        let run = self.run(args);
        assert_eq!(run.code, 0, "{args:?} failed: {run:#?}");
        assert_eq!(run.stderr, "", "{args:?} printed to stderr");
        run.stdout
    }

    /// Run and require `code`; returns stderr.
    fn fails(&self, args: &[&str], code: i32) -> String {
        let run = self.run(args);
        assert_eq!(run.code, code, "{args:?}: {run:#?}");
        run.stderr
    }
}

const FULL_CONFIG: &str = "\
lambda:
  api_key: secret_key_123
  default_region: us-east-1
defaults:
  lease_hours: 6
ssh:
  key_path: ~/.ssh/id_ed25519
custom_models:
  existing-13b:
    hf_path: org/existing-13b
    params_billions: 13
    quantization: fp16
    context_length: 4096
";

const BROKEN_MODEL_CONFIG: &str = "\
custom_models:
  broken:
    hf_path: not a path
    params_billions: 7
    quantization: fp16
    context_length: 4096
";

const ADD_FLAGS: [&str; 11] = [
    "models",
    "add",
    "--name",
    "my-model-70b",
    "--hf-path",
    "myorg/custom-llama-70b",
    "--params",
    "70",
    "--quantization",
    "int4",
    "--context",
];

fn add_args(context: &str) -> Vec<&str> {
    let mut args = ADD_FLAGS.to_vec();
    args.push(context);
    args
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).expect("metadata").permissions().mode() & 0o777
}

// ---------------------------------------------------------------------------------
// The command line itself

#[test]
fn command_line_definition_is_consistent() {
    use clap::CommandFactory;
    Cli::command().debug_assert();
}

#[test]
fn completions_are_generated_for_each_shell() {
    let sandbox = Sandbox::new();
    let bash = sandbox.ok(&["completions", "bash"]);
    let head: Vec<&str> = bash.lines().take(12).collect();
    insta::assert_snapshot!("completions_bash_head", head.join("\n"));
    for shell in ["zsh", "fish"] {
        let script = sandbox.ok(&["completions", shell]);
        assert!(script.contains("estimate"), "{shell}");
    }
}

// ---------------------------------------------------------------------------------
// models

#[test]
fn help_lists_the_commands_and_points_to_the_manual() {
    let sandbox = Sandbox::new();
    let run = sandbox.run_command(sandbox.bare_command(), &["--help"]);
    assert_eq!((run.code, run.stderr.as_str()), (0, ""), "{run:#?}");
    assert!(run.stdout.contains("/book/"), "{}", run.stdout);
    insta::assert_snapshot!("help", run.stdout);
}

#[test]
fn models_table() {
    let stdout = Sandbox::new().ok(&["models"]);
    assert!(stdout.ends_with("Custom models: 0 configured\n"));
    insta::assert_snapshot!("models", stdout);
}

#[test]
fn models_json() {
    let stdout = Sandbox::new().ok(&["models", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    // The reference's seven and the nine current models.
    assert_eq!(value.as_array().map(Vec::len), Some(16));
    insta::assert_snapshot!("models_json", stdout);
}

#[test]
fn models_info() {
    let sandbox = Sandbox::new();
    insta::assert_snapshot!(
        "models_info_deepseek",
        sandbox.ok(&["models", "info", "deepseek-r1-70b"])
    );
    insta::assert_snapshot!(
        "models_info_deepseek_json",
        sandbox.ok(&["models", "info", "deepseek-r1-70b", "--json"])
    );
}

#[test]
fn unknown_model_suggests_close_ids() {
    let sandbox = Sandbox::new();
    for args in [
        &["models", "info", "deepseek-r1-7b"][..],
        &["estimate", "deepseek-r1-7b"],
        &["plan", "--model", "deepseek-r1-7b"],
    ] {
        let stderr = sandbox.fails(args, 1);
        assert_eq!(
            stderr,
            "error: Model 'deepseek-r1-7b' not found. Use 'gpu-session models' to see available models.\nDid you mean: deepseek-r1-70b, deepseek-r1-671b?\n",
            "{args:?}"
        );
    }
}

#[test]
fn models_add_keeps_every_other_key_and_writes_owner_only() {
    let sandbox = Sandbox::with_config(FULL_CONFIG);
    fs::set_permissions(sandbox.config(), fs::Permissions::from_mode(0o644)).expect("chmod");
    let mut args = add_args("8192");
    args.extend(["--notes", "Fine-tuned on domain data"]);
    let stdout = sandbox.ok(&args);
    insta::assert_snapshot!("models_add", stdout);
    let text = fs::read_to_string(sandbox.config()).expect("config");
    for kept in [
        "api_key: secret_key_123",
        "default_region: us-east-1",
        "lease_hours: 6",
        "key_path: ~/.ssh/id_ed25519",
        "existing-13b:",
        "my-model-70b:",
        "notes: Fine-tuned on domain data",
    ] {
        assert!(text.contains(kept), "{kept} missing from\n{text}");
    }
    assert_eq!(mode(&sandbox.config()), 0o600);
    let listing = sandbox.ok(&["models"]);
    assert!(listing.contains("my-model-70b"));
    assert!(
        listing.ends_with("Custom models: 2 configured\n"),
        "{listing}"
    );
    // The same id again is refused.
    let stderr = sandbox.fails(&add_args("8192"), 1);
    assert!(
        stderr.contains("custom model 'my-model-70b' already exists"),
        "{stderr}"
    );
}

#[test]
fn models_add_creates_the_default_config_file_privately() {
    let sandbox = Sandbox::new();
    let run = sandbox.run_command(sandbox.bare_command(), &add_args("8192"));
    assert_eq!(run.code, 0, "{run:#?}");
    let path = sandbox.path("xdg/gpu-dashboard/config.yaml");
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().expect("folder")), 0o700);
    let stdout = sandbox.run_command(sandbox.bare_command(), &["models", "info", "my-model-70b"]);
    assert!(
        stdout.stdout.contains("custom (config file)"),
        "{stdout:#?}"
    );
}

#[test]
fn models_add_falls_back_to_the_home_config_folder() {
    let sandbox = Sandbox::new();
    let mut cmd = sandbox.bare_command();
    cmd.env_remove("XDG_CONFIG_HOME");
    let run = sandbox.run_command(cmd, &add_args("8192"));
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(sandbox
        .path("home/.config/gpu-dashboard/config.yaml")
        .is_file());
}

#[test]
fn models_add_with_some_flags_is_a_usage_error() {
    let sandbox = Sandbox::new();
    let stderr = sandbox.fails(&["models", "add", "--name", "x", "--params", "7"], 2);
    assert!(
        stderr.contains("missing --hf-path, --quantization, --context"),
        "{stderr}"
    );
    assert!(stderr.contains("Usage: gpu-session models add"), "{stderr}");
    // No flags and no terminal to ask on.
    let stderr = sandbox.fails(&["models", "add"], 2);
    assert!(stderr.contains("not a terminal"), "{stderr}");
    // Architecture flags go together.
    let mut args = add_args("8192");
    args.extend(["--layers", "32"]);
    let stderr = sandbox.fails(&args, 2);
    assert!(
        stderr.contains("missing --hidden, --intermediate, --heads, --vocab"),
        "{stderr}"
    );
    assert!(!sandbox.config().exists());
}

#[test]
fn models_add_with_a_bad_value_names_the_flag() {
    let sandbox = Sandbox::new();
    let cases = [
        (
            "--params",
            "0",
            "error: --params: '0' must be a number above 0",
        ),
        (
            "--hf-path",
            "bad path",
            "error: --hf-path: 'bad path' must be a Hugging Face repository",
        ),
        (
            "--context",
            "100",
            "error: --context: '100' must be between 512",
        ),
        (
            "--name",
            "llama-3.1-8b",
            "error: --name: 'llama-3.1-8b' is the id of a built-in model",
        ),
    ];
    for (flag, value, expected) in cases {
        let mut args = add_args("8192");
        let at = args.iter().position(|a| *a == flag).expect("flag") + 1;
        args[at] = value;
        let stderr = sandbox.fails(&args, 1);
        assert!(stderr.starts_with(expected), "{flag}: {stderr}");
    }
    // A bad --quantization is a usage error (clap parses it with core's names): status 2.
    let mut args = add_args("8192");
    let at = args
        .iter()
        .position(|a| *a == "--quantization")
        .expect("flag")
        + 1;
    args[at] = "int3";
    let stderr = sandbox.fails(&args, 2);
    assert!(
        stderr.starts_with("error: --quantization: unknown quantization 'int3'"),
        "{stderr}"
    );
    assert!(!sandbox.config().exists());
}

#[test]
fn a_bad_quantization_is_a_usage_error_and_completions_list_the_names() {
    let sandbox = Sandbox::new();
    let stderr = sandbox.fails(&["estimate", "llama-3.1-8b", "--quantization", "fp4"], 2);
    assert!(
        stderr.starts_with("error: --quantization: unknown quantization 'fp4'"),
        "{stderr}"
    );
    let bash = sandbox.ok(&["completions", "bash"]);
    assert!(bash.contains("fp32 fp16 bf16 fp8 int8 int4"), "{bash}");
}

#[test]
fn models_add_with_an_architecture_counts_parameters_exactly() {
    let sandbox = Sandbox::new();
    let mut args = add_args("8192");
    args.extend([
        "--layers",
        "80",
        "--hidden",
        "8192",
        "--intermediate",
        "28672",
        "--heads",
        "64",
        "--kv-heads",
        "8",
        "--vocab",
        "128256",
        "--max-context",
        "131072",
    ]);
    sandbox.ok(&args);
    let json = sandbox.ok(&["models", "info", "my-model-70b", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(value["model"]["params"], 70_553_706_496u64);
    assert_eq!(value["model"]["architecture_inferred"], false);
    let mut bad = add_args("8192");
    bad[3] = "other";
    bad.extend([
        "--layers",
        "80",
        "--hidden",
        "8192",
        "--intermediate",
        "28672",
        "--heads",
        "64",
        "--kv-heads",
        "7",
        "--vocab",
        "128256",
    ]);
    let stderr = sandbox.fails(&bad, 1);
    assert!(stderr.starts_with("error: --kv-heads: '7'"), "{stderr}");
}

#[test]
fn models_remove() {
    let sandbox = Sandbox::with_config(FULL_CONFIG);
    let stderr = sandbox.fails(&["models", "remove", "llama-3.1-8b"], 1);
    assert!(stderr.contains("'llama-3.1-8b' is a built-in model and cannot be removed"));
    let stderr = sandbox.fails(&["models", "remove", "existing-13"], 1);
    assert!(stderr.contains("Did you mean: existing-13b?"), "{stderr}");
    let stderr = sandbox.fails(&["models", "remove", "existing-13b"], 1);
    assert!(stderr.contains("pass --yes"), "{stderr}");
    let stdout = sandbox.ok(&["models", "remove", "existing-13b", "-y"]);
    assert_eq!(
        stdout,
        "Removed custom model 'existing-13b' from [TMP]/config.yaml.\n"
    );
    let text = fs::read_to_string(sandbox.config()).expect("config");
    assert!(!text.contains("existing-13b") && text.contains("api_key: secret_key_123"));
}

// ---------------------------------------------------------------------------------
// The config file

#[test]
fn a_missing_config_file_is_an_empty_config() {
    let sandbox = Sandbox::new();
    sandbox.ok(&["models"]);
    assert!(
        !sandbox.config().exists(),
        "reading must not create the file"
    );
}

#[test]
fn an_unreadable_config_file_is_an_error_naming_it() {
    let sandbox = Sandbox::new();
    fs::create_dir(sandbox.config()).expect("a folder where the file should be");
    let stderr = sandbox.fails(&["models"], 1);
    assert!(
        stderr.starts_with("error: cannot read config file [TMP]/config.yaml: "),
        "{stderr}"
    );
}

#[test]
fn a_config_file_that_is_not_yaml_is_an_error_with_the_line() {
    let sandbox = Sandbox::with_config("lambda:\n  api_key: x\ncustom_models: [unclosed\n");
    let stderr = sandbox.fails(&["models"], 1);
    assert!(
        stderr.starts_with("error: config file [TMP]/config.yaml: not valid YAML at line 4"),
        "{stderr}"
    );
}

#[test]
fn an_invalid_custom_model_is_a_warning() {
    let sandbox = Sandbox::with_config(BROKEN_MODEL_CONFIG);
    let run = sandbox.run(&["models"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.stderr,
        "warning: Invalid custom model 'broken': custom_models.broken.hf_path: 'not a path' must be a Hugging Face repository like 'owner/name'\n"
    );
    assert!(run.stdout.ends_with("Custom models: 0 configured\n"));
    // A broken entry can still be removed.
    let run = sandbox.run(&["models", "remove", "broken", "--yes"]);
    assert_eq!(run.code, 0, "{run:#?}");
}

// ---------------------------------------------------------------------------------
// estimate and gpus

#[test]
fn estimate_human_and_json() {
    let sandbox = Sandbox::new();
    let args = [
        "estimate",
        "llama-3.1-70b",
        "--quantization",
        "fp8",
        "--context",
        "32768",
        "--seqs",
        "8",
        "--gpu",
        "gpu_8x_h100_sxm5",
    ];
    insta::assert_snapshot!("estimate_llama70b_fp8", sandbox.ok(&args));
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let json = sandbox.ok(&json_args);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(value["serving"]["tp"], 8);
    assert_eq!(
        value["gpus"].as_array().map(Vec::len),
        Some(gpu_session_core::gpu::CATALOG.len())
    );
    insta::assert_snapshot!("estimate_llama70b_fp8_json", json);
}

#[test]
fn estimate_of_an_ad_hoc_model() {
    let sandbox = Sandbox::new();
    let stdout = sandbox.ok(&[
        "estimate",
        "--params",
        "13",
        "--quantization",
        "int4",
        "--context",
        "4096",
    ]);
    insta::assert_snapshot!("estimate_ad_hoc", stdout);
    let stderr = sandbox.fails(&["estimate", "--params", "0"], 1);
    assert!(stderr.starts_with("error: --params: '0'"), "{stderr}");
}

#[test]
fn estimate_rejects_settings_out_of_range() {
    let sandbox = Sandbox::new();
    let cases = [
        (&["--context", "999999"][..], "error: --context: '999999' must be between 512 and 131072 for llama-3.1-8b\n"),
        (&["--tp", "3"], "error: --tp: '3' must be one of 1, 2, 4, 8\n"),
        (&["--seqs", "0"], "error: --seqs: '0' must be between 1 and 512\n"),
        (&["--gpu", "gpu_1x_a1"], "error: --gpu: 'gpu_1x_a1' is not a known Lambda instance type. Did you mean: gpu_1x_a10, gpu_1x_a100, gpu_2x_a100? Use 'gpu-session gpus' to list them.\n"),
    ];
    for (extra, expected) in cases {
        let mut args = vec!["estimate", "llama-3.1-8b"];
        args.extend(extra);
        assert_eq!(sandbox.fails(&args, 1), expected);
    }
    // A bad --kv-dtype is a usage error (clap parses it with core's names): status 2.
    assert_eq!(
        sandbox.fails(&["estimate", "llama-3.1-8b", "--kv-dtype", "fp4"], 2),
        "error: --kv-dtype: unknown KV-cache dtype 'fp4' (expected one of: auto, fp8_e5m2, fp8_e4m3)\n"
    );
}

#[test]
fn estimate_json_gives_the_speed_fields_of_the_interface() {
    // `estimate MODEL --gpu TYPE --tp N --seqs C --input-tokens I --output-tokens O
    // --json`: every gpus[] row carries the speed for that workload, equal to core's.
    let sandbox = Sandbox::new();
    let json = sandbox.ok(&[
        "estimate",
        "llama-3.1-8b",
        "--gpu",
        "gpu_1x_h100_sxm5",
        "--tp",
        "1",
        "--seqs",
        "32",
        "--input-tokens",
        "2000",
        "--output-tokens",
        "500",
        "--json",
    ]);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(value["settings"]["input_tokens"], 2000);
    assert_eq!(value["settings"]["output_tokens"], 500);
    let model = builtin("llama-3.1-8b").expect("built-in");
    let settings = Settings {
        seqs: 32,
        input_tokens: 2000,
        output_tokens: 500,
        ..Settings::defaults_for(model)
    };
    let rec = gpu_session_core::recommend(
        model,
        &settings,
        gpu_session_core::EstimateMode::Serving,
        gpu_session_core::gpu::find("gpu_1x_h100_sxm5"),
    );
    let rows = value["gpus"].as_array().expect("gpus[]");
    assert_eq!(rows.len(), rec.rows.len());
    for (row, core) in rows.iter().zip(&rec.rows) {
        let s = &core.speed;
        let fields = [
            ("ttft_ms", s.ttft_ms),
            ("tpot_ms", s.tpot_ms),
            ("output_tokens_per_s", s.output_tokens_per_s),
            (
                "output_tokens_per_s_per_user",
                s.output_tokens_per_s_per_user,
            ),
            (
                "usd_per_million_output_tokens",
                s.usd_per_million_output_tokens,
            ),
            (
                "usd_per_million_input_tokens",
                s.usd_per_million_input_tokens,
            ),
        ];
        for (name, expected) in fields {
            // serde_json reads floats back to within an ulp.
            let got = row[name].as_f64().expect(name);
            assert!(
                (got - expected).abs() <= expected.abs() * 1e-12,
                "{name} of {}: {got} vs {expected}",
                row["instance_type"]
            );
        }
        assert_eq!(row["speed_basis"], "32 concurrent 2k/500");
    }
}

#[test]
fn the_workload_flags_set_the_speed_columns() {
    let sandbox = Sandbox::new();
    // 32 requests of 2k/500 tokens: on the small cards the pool holds fewer 8K
    // sequences than asked, which the table calls "queues", not "tight".
    let gpus = sandbox.ok(&[
        "gpus",
        "--model",
        "llama-3.1-8b",
        "--seqs",
        "32",
        "--input-tokens",
        "2000",
        "--output-tokens",
        "500",
    ]);
    assert!(gpus.contains("queues: 1 of 32 at once"), "{gpus}");
    insta::assert_snapshot!("gpus_llama8b_workload", gpus);
    // A rate: 16 running at most, 2 requests arriving per second.
    let estimate = sandbox.ok(&[
        "estimate",
        "llama-3.1-8b",
        "--gpu",
        "gpu_1x_h100_sxm5",
        "--seqs",
        "16",
        "--rate",
        "2",
        "--input-tokens",
        "500",
        "--output-tokens",
        "250",
    ]);
    assert!(
        estimate.contains("Speed at 2 req/s 500/250 requests"),
        "{estimate}"
    );
    insta::assert_snapshot!("estimate_llama8b_rate", estimate);
}

#[test]
fn workload_and_service_level_flags_refuse_bad_values() {
    let sandbox = Sandbox::new();
    let cases: [(&[&str], &str); 8] = [
        (&["estimate", "llama-3.1-8b", "--input-tokens", "0"], "'--input-tokens <N>': '0' must be between 1 and 2097152"),
        (&["estimate", "llama-3.1-8b", "--output-tokens", "abc"], "'--output-tokens <N>': 'abc' is not a whole number of tokens"),
        (&["plan", "--model", "llama-3.1-8b", "--rate", "0"], "'--rate <R>': '0' must be a rate of at least 0.001"),
        (&["gpus", "--model", "llama-3.1-8b", "--rate", "fast"], "'--rate <R>': 'fast' is not a number of requests per second"),
        (&["gpus", "--model", "llama-3.1-8b", "--rate", "1", "--ttft-max", "0"], "'--ttft-max <MS>': '0' must be above 0"),
        (&["plan", "--model", "llama-3.1-8b", "--rate", "1", "--tpot-max", "NaN"], "'--tpot-max <MS>': 'NaN' must be above 0"),
        (&["gpus", "--model", "llama-3.1-8b", "--tpot-max", "20"], "error: --ttft-max and --tpot-max choose by service level at a request rate: add --rate R"),
        (&["plan", "--model", "llama-3.1-8b", "--gpu", "gpu_1x_a10", "--rate", "1", "--tpot-max", "20"], "error: --ttft-max and --tpot-max choose the instance type"),
    ];
    for (args, expected) in cases {
        let stderr = sandbox.fails(args, 2);
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
    let stderr = sandbox.fails(&["gpus", "--rate", "1"], 2);
    assert!(stderr.contains("add --model ID"), "{stderr}");
}

#[test]
fn service_level_targets_choose_type_tp_and_replicas() {
    let sandbox = Sandbox::new();
    let args = [
        "gpus",
        "--model",
        "llama-3.1-8b",
        "--ttft-max",
        "500",
        "--tpot-max",
        "30",
        "--rate",
        "5",
    ];
    let table = sandbox.ok(&args);
    insta::assert_snapshot!("gpus_llama8b_service_level", table);
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let value: serde_json::Value = serde_json::from_str(&sandbox.ok(&json_args)).expect("JSON");
    let level = &value["service_level"];
    // The same choice as core's, from the same settings.
    let model = builtin("llama-3.1-8b").expect("built-in");
    let targets = gpu_session_core::service_level::Targets {
        ttft_max_ms: Some(500.0),
        tpot_max_ms: Some(30.0),
        rate: "5".parse().expect("rate"),
    };
    let settings = Settings {
        rate: Some(targets.rate),
        ..Settings::defaults_for(model)
    };
    let core = gpu_session_core::service_level::choose(model, &settings, &targets);
    let choice = core.choice().expect("a choice");
    let i = level["cheapest"].as_u64().expect("cheapest") as usize;
    let row = &level["rows"][i];
    assert_eq!(row["gpu"], choice.gpu.instance_type);
    assert_eq!(row["replicas"], choice.replicas);
    assert_eq!(row["tp"], choice.tp);
    assert_eq!(row["binding"], choice.binding.as_str());
    assert!(row["speed"]["tpot_ms"].as_f64().expect("tpot") <= 30.0);

    // plan writes the chosen type, one replica's concurrency and share of the rate,
    // and the replicas the rate needs.
    let run = sandbox.run(&[
        "plan",
        "--model",
        "llama-3.1-8b",
        "--ttft-max",
        "300",
        "--tpot-max",
        "15",
        "--rate",
        "40",
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    let plan = Plan::parse(&run.stdout).expect("plan");
    let targets = gpu_session_core::service_level::Targets {
        ttft_max_ms: Some(300.0),
        tpot_max_ms: Some(15.0),
        rate: "40".parse().expect("rate"),
    };
    let core = gpu_session_core::service_level::choose(model, &settings, &targets);
    let choice = core.choice().expect("a choice");
    assert!(choice.replicas > 1, "{choice:?}");
    assert_eq!(plan.gpu.instance_type, choice.gpu.instance_type);
    assert_eq!(
        plan.serving.max_running_requests,
        choice.concurrency_per_replica
    );
    let workload = plan.workload.expect("workload");
    let share = 40.0 / f64::from(choice.replicas);
    assert!(
        (workload.rate.expect("rate") - share).abs() < 1e-3,
        "{workload:?}"
    );
    assert_eq!(plan.gpu.replicas, choice.replicas);
    assert!(
        run.stderr
            .contains(&format!("{} instances behind one gateway", choice.replicas)),
        "{}",
        run.stderr
    );
    // The targets choose the replica count: --replicas with them is a usage error.
    let stderr = sandbox.fails(
        &[
            "plan",
            "--model",
            "llama-3.1-8b",
            "--tpot-max",
            "15",
            "--rate",
            "40",
            "--replicas",
            "2",
        ],
        2,
    );
    assert!(stderr.contains("--replicas"), "{stderr}");
    insta::assert_snapshot!("plan_service_level_stderr", run.stderr);
    // Targets nothing meets: an error saying what binds, nothing written.
    let run = sandbox.run(&[
        "plan",
        "--model",
        "llama-3.1-8b",
        "--tpot-max",
        "1",
        "--rate",
        "1",
    ]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("tpot binds"), "{}", run.stderr);
}

#[test]
fn gpus_catalog_and_fit() {
    let sandbox = Sandbox::new();
    insta::assert_snapshot!("gpus", sandbox.ok(&["gpus"]));
    insta::assert_snapshot!(
        "gpus_mistral_32k",
        sandbox.ok(&["gpus", "--model", "mistral-7b", "--context", "32768"])
    );
    let json = sandbox.ok(&["gpus", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(value[0]["instance_type"], "gpu_1x_a10");
    // Every catalog type, with its price, the price's date and whether Lambda offers it.
    let rows = value.as_array().expect("array");
    assert_eq!(rows.len(), gpu_session_core::gpu::CATALOG.len());
    for (row, g) in rows.iter().zip(gpu_session_core::gpu::CATALOG) {
        assert_eq!(row["instance_type"], g.instance_type);
        assert_eq!(row["price_cents_per_hour"], g.price_cents_per_hour);
        assert_eq!(row["price_as_of"], g.price_as_of);
        assert_eq!(row["offered"], g.offered);
        assert_eq!(row["tflops_16bit"], g.tflops_16bit);
    }
    let a100_80 = rows
        .iter()
        .find(|r| r["instance_type"] == "gpu_1x_a100_sxm4_80gb")
        .expect("the 1x A100 80 GB stays findable");
    assert_eq!(a100_80["offered"], false);
    let b200 = rows
        .iter()
        .find(|r| r["instance_type"] == "gpu_1x_b200_sxm6")
        .expect("1x B200");
    assert_eq!(
        (
            &b200["offered"],
            &b200["price_cents_per_hour"],
            &b200["tflops_fp4"]
        ),
        (
            &serde_json::json!(true),
            &serde_json::json!(699),
            &serde_json::json!(9000.0)
        )
    );
    let stderr = sandbox.fails(&["gpus", "--context", "4096"], 2);
    assert!(stderr.contains("add --model ID"), "{stderr}");
}

#[test]
fn estimate_across_two_nodes_sizes_both_layouts() {
    let sandbox = Sandbox::new();
    let args = [
        "estimate",
        "deepseek-r1-671b",
        "--nodes",
        "2",
        "--gpu",
        "gpu_8x_h100_sxm5",
    ];
    insta::assert_snapshot!("estimate_deepseek_two_nodes", sandbox.ok(&args));
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let json = sandbox.ok(&json_args);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(
        (&value["nodes"], &value["gpus"], &value["recommended"]),
        (
            &serde_json::json!(2),
            &serde_json::json!(16),
            &serde_json::json!("pp2_tp8")
        )
    );
    // One 8x H100 cannot hold it; both two-node layouts can.
    assert_eq!(value["single_instance"]["fit"], "no");
    let layouts = value["layouts"].as_array().expect("layouts");
    let names: Vec<_> = layouts.iter().map(|l| l["layout"].clone()).collect();
    assert_eq!(
        names,
        [serde_json::json!("tp16"), serde_json::json!("pp2_tp8")]
    );
    for l in layouts {
        assert_eq!(l["fits"], true, "{l}");
        assert!(l["per_gpu_bytes"].as_u64().expect("bytes") < 80_000_000_000);
        assert!(l["tpot_ms"].as_f64().expect("tpot") > 0.0);
    }
    assert_eq!(layouts[1]["cross_node_bytes_per_token"], 28_672);
    assert_eq!(layouts[1]["stages"][1]["first_layer"], 30);
    insta::assert_snapshot!("estimate_deepseek_two_nodes_json", json);
}

#[test]
fn estimate_nodes_rejects_bad_values_and_combinations() {
    let sandbox = Sandbox::new();
    let base = ["estimate", "deepseek-r1-671b"];
    let with = |extra: &[&'static str]| {
        let mut args = base.to_vec();
        args.extend(extra);
        args
    };
    // Not 1 or 2: a usage error naming the flag and the value.
    for bad in ["0", "3", "x"] {
        let stderr = sandbox.fails(&with(&["--nodes", bad]), 2);
        assert!(
            stderr.starts_with(&format!("error: invalid value '{bad}' for '--nodes <N>'")),
            "{stderr}"
        );
    }
    // Two nodes need an 8-GPU type.
    assert_eq!(
        sandbox.fails(&with(&["--nodes", "2", "--gpu", "gpu_1x_a10"]), 1),
        "error: --gpu: 'gpu_1x_a10' has 1 GPU(s); two nodes need an instance type with 8 GPUs (TP 16 or PP 2 × TP 8)\n"
    );
    // The layout sets TP and the pool; the reference estimate has no two-node form.
    let stderr = sandbox.fails(&with(&["--nodes", "2", "--tp", "8"]), 2);
    assert!(
        stderr.contains("'--nodes <N>' cannot be used with '--tp <TP>'"),
        "{stderr}"
    );
    let stderr = sandbox.fails(&with(&["--nodes", "2", "--mem-fraction-static", "0.8"]), 2);
    assert!(stderr.contains("--mem-fraction-static"), "{stderr}");
    let stderr = sandbox.fails(&with(&["--nodes", "2", "--mode", "reference"]), 2);
    assert!(
        stderr.starts_with("error: --nodes 2 sizes the serving estimate"),
        "{stderr}"
    );
    // --nodes 1 is the ordinary estimate.
    assert_eq!(
        sandbox.ok(&["estimate", "llama-3.1-8b", "--nodes", "1"]),
        sandbox.ok(&["estimate", "llama-3.1-8b"])
    );
}

const HUGE_MODEL_CONFIG: &str = "\
custom_models:
  huge-800b:
    hf_path: org/huge-800b
    params_billions: 800
    quantization: bf16
    context_length: 8192
";

#[test]
fn gpus_lists_two_instances_only_when_cheaper_or_the_only_fit() {
    // 1.6 TB of BF16 fits no single instance: two 8x B200 are the only fit.
    let sandbox = Sandbox::with_config(HUGE_MODEL_CONFIG);
    let text = sandbox.ok(&["gpus", "--model", "huge-800b"]);
    insta::assert_snapshot!("gpus_huge_two_instances", text);
    let json = sandbox.ok(&["gpus", "--model", "huge-800b", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(value["cheapest_fit"], serde_json::Value::Null);
    let options = value["two_node_options"].as_array().expect("options");
    assert_eq!(options.len(), 1, "{options:?}");
    assert_eq!(options[0]["instance_type"], "gpu_8x_b200_sxm6");
    assert_eq!(options[0]["price_per_hour_usd"], 2.0 * 53.52);
    assert_eq!(options[0]["recommended"], "pp2_tp8");
    // DeepSeek-R1 fits one 8x B200 ($53.52/h) for less than two 8x H100 ($63.84/h),
    // and its block-FP8 checkpoint does not run on A100: no two-instance option.
    let sandbox = Sandbox::new();
    let text = sandbox.ok(&["gpus", "--model", "deepseek-r1-671b"]);
    assert!(!text.contains("Two instances"), "{text}");
    let json = sandbox.ok(&["gpus", "--model", "deepseek-r1-671b", "--json"]);
    let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
    assert_eq!(value["two_node_options"], serde_json::json!([]));
}

#[test]
fn gpus_live_needs_an_api_key() {
    let stderr = Sandbox::new().fails(&["gpus", "--live"], 1);
    assert!(
        stderr.starts_with("error: no Lambda API key found"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------
// plan

#[test]
fn mem_fraction_static_is_validated_and_used_by_estimate_and_plan() {
    let sandbox = Sandbox::new();
    // Out of core's range, or not a number: a usage error naming the flag (status 2).
    for bad in ["0.99", "0.2", "x", "NaN"] {
        let stderr = sandbox.fails(
            &["estimate", "llama-3.1-8b", "--mem-fraction-static", bad],
            2,
        );
        assert!(stderr.contains("--mem-fraction-static"), "{stderr}");
        assert!(stderr.contains(bad), "{stderr}");
    }
    let stderr = sandbox.fails(
        &[
            "plan",
            "--model",
            "llama-3.1-8b",
            "--mem-fraction-static",
            "1",
        ],
        2,
    );
    assert!(stderr.contains("must be between 0.5 and 0.95"), "{stderr}");

    // estimate: the fit rows use the user's fraction, so the KV pool follows it.
    let pool = |fraction: &str| -> u64 {
        let json = sandbox.ok(&[
            "estimate",
            "llama-3.1-8b",
            "--gpu",
            "gpu_1x_h100_pcie",
            "--mem-fraction-static",
            fraction,
            "--json",
        ]);
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        let row = value["gpus"]
            .as_array()
            .and_then(|rows| {
                rows.iter()
                    .find(|r| r["instance_type"] == "gpu_1x_h100_pcie")
            })
            .expect("H100 row")
            .clone();
        assert_eq!(row["mem_fraction_static"].as_f64(), fraction.parse().ok());
        row["kv_pool_tokens"].as_u64().expect("pool")
    };
    assert!(
        pool("0.6") < pool("0.9"),
        "a larger fraction holds a larger KV pool"
    );

    // plan: the file carries the user's fraction, and plan check keeps it.
    let path = sandbox.path("plan.yaml");
    let path_text = path.to_str().expect("UTF-8 path");
    let yaml = sandbox.ok(&[
        "plan",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "gpu_1x_h100_pcie",
        "--mem-fraction-static",
        "0.7",
    ]);
    fs::write(&path, &yaml).expect("plan file");
    let plan = Plan::parse(&yaml).expect("plan");
    assert_eq!(plan.serving.mem_fraction_static, 0.7);
    assert_eq!(plan.user_mem_fraction_static(), Some(0.7));
    let check = sandbox.ok(&["plan", "check", path_text]);
    assert!(check.contains("--mem-fraction-static 0.7"), "{check}");
    let check_json: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["plan", "check", path_text, "--json"])).expect("JSON");
    assert_eq!(check_json["differences"], serde_json::json!([]));
    assert_eq!(
        check_json["estimate"]["kv_pool_tokens"],
        serde_json::json!(plan.estimate.as_ref().map(|e| e.kv_pool_tokens))
    );
}

#[test]
fn estimate_and_models_info_show_active_parameters_experts_and_kv_by_layer_kind() {
    let sandbox = Sandbox::new();
    let model = builtin("gpt-oss-120b").expect("built-in");
    let arch = model.architecture.expect("architecture");
    for args in [
        &["estimate", "gpt-oss-120b"][..],
        &["models", "info", "gpt-oss-120b"],
    ] {
        let out = sandbox.ok(args);
        // The active count includes the input embedding and says so, next to OpenAI's
        // figure without it (the 5.1B its model card and the model's description give).
        let parts = arch.param_breakdown();
        let expected = format!(
            "Parameters: {} total, {} active per token ({} without the input embedding); MoE: 4 of 128 routed experts per token.",
            gpu_session_core::present::params(arch.param_count()),
            gpu_session_core::present::params(parts.active()),
            gpu_session_core::present::params(parts.active() - parts.embedding)
        );
        // The sentence wraps at the terminal width: compare with whitespace collapsed.
        let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains(&expected), "{args:?}: {out}");
        assert!(
            flat.contains("5.7B active per token (5.1B without the input embedding)"),
            "{out}"
        );
        if args[0] == "models" {
            assert!(
                flat.contains(
                    "5.7B active per token (5.1B without the input embedding, as OpenAI counts)"
                ),
                "the description uses the same count: {out}"
            );
        }
        assert!(out.contains("  Experts: "), "{args:?}: {out}");
        // gpt-oss alternates full and 128-token sliding layers (SGLang's SWA pool); per GPU
        // of its cheapest fit, 2x RTX A6000 (TP 2, half the KV heads each).
        assert!(
            out.contains("KV by layer kind: 18 full-attention layers 18,432 B/token; 18 sliding/chunked layers (window 128"),
            "{args:?}: {out}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["estimate", "gpt-oss-120b", "--json"])).expect("JSON");
    assert_eq!(json["model"]["active_params"], arch.active_param_count());
    assert_eq!(
        json["model"]["routed_expert_params"],
        arch.param_breakdown().experts
    );
    assert_eq!(json["serving"]["kv_layout"]["swa_layers"], 18);
    let experts = json["serving"]["expert_weights"].as_u64().expect("bytes");
    let weights = json["serving"]["weights"].as_u64().expect("bytes");
    assert!(
        experts > weights / 2 && experts < weights,
        "{experts} of {weights}"
    );
    // A dense model: one figure, no experts line.
    let dense = sandbox.ok(&["estimate", "llama-3.1-8b"]);
    assert!(
        dense.contains("Parameters: 8.0B (dense: all active per token)."),
        "{dense}"
    );
    assert!(
        !dense.contains("Experts:") && !dense.contains("KV by layer kind"),
        "{dense}"
    );
}

#[test]
fn plan_yaml_is_what_core_builds() {
    let sandbox = Sandbox::new();
    let yaml = sandbox.ok(&["plan", "--model", "deepseek-r1-70b"]);
    insta::assert_snapshot!("plan_deepseek_yaml", yaml);
    let model = builtin("deepseek-r1-70b").expect("built-in");
    let request = PlanRequest::resolve(
        model,
        Settings::defaults_for(model),
        &PlanChoices::default(),
    )
    .expect("a type fits");
    let expected = Plan::build(&request).expect("plan");
    assert_eq!(
        yaml,
        expected.to_yaml().unwrap(),
        "the CLI must add nothing to core's plan"
    );
    insta::assert_snapshot!(
        "plan_deepseek_json",
        sandbox.ok(&["plan", "--model", "deepseek-r1-70b", "--json"])
    );
}

#[test]
fn plan_takes_region_and_lease_defaults_from_the_config() {
    let sandbox = Sandbox::with_config(FULL_CONFIG);
    let plan = Plan::parse(&sandbox.ok(&["plan", "--model", "llama-3.1-8b"])).expect("plan");
    assert_eq!(plan.gpu.regions[0], "us-east-1");
    assert_eq!(
        plan.gpu
            .regions
            .iter()
            .filter(|r| *r == "us-east-1")
            .count(),
        1
    );
    assert_eq!(plan.lease.hours, 6);
    let flags = sandbox.ok(&[
        "plan",
        "--model",
        "llama-3.1-8b",
        "--lease-hours",
        "2",
        "--region",
        "us-south-1",
    ]);
    let plan = Plan::parse(&flags).expect("plan");
    assert_eq!(
        (plan.lease.hours, plan.gpu.regions.as_slice()),
        (2, &["us-south-1".to_string()][..])
    );
}

#[test]
fn plan_writes_a_file_and_warns_when_the_gpu_is_too_small() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&[
        "plan",
        "--model",
        "llama-3.1-70b",
        "--gpu",
        "gpu_1x_a10",
        "-o",
        "plan.yaml",
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stdout, "");
    insta::assert_snapshot!("plan_too_small_stderr", run.stderr);
    let path = sandbox.path("plan.yaml");
    let plan = Plan::parse(&fs::read_to_string(&path).expect("plan file")).expect("valid");
    assert_eq!(plan.gpu.instance_type, "gpu_1x_a10");
    assert_eq!(mode(&path), 0o644);
    let check = sandbox.run(&["plan", "check", "plan.yaml"]);
    assert_eq!(check.code, 0);
    assert!(
        check.stderr.contains("does not fit gpu_1x_a10"),
        "{check:#?}"
    );
}

#[test]
fn a_type_lambda_no_longer_offers_is_marked_wherever_shown_and_never_recommended() {
    let sandbox = Sandbox::new();
    let not_offered = format!(
        "not offered on demand as of {}",
        gpu_session_core::gpu::OFFERED_AS_OF
    );
    // It stays findable: a plan for it is written, with a warning, and its check says so.
    let run = sandbox.run(&[
        "plan",
        "--model",
        "gemma-3-27b",
        "--gpu",
        "gpu_1x_a100_sxm4_80gb",
        "-o",
        "plan.yaml",
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr
            .contains(&format!("gpu_1x_a100_sxm4_80gb is {not_offered}")),
        "{run:#?}"
    );
    let check = sandbox.run(&["plan", "check", "plan.yaml"]);
    assert_eq!(check.code, 0, "{check:#?}");
    assert!(check.stdout.contains(&not_offered), "{check:#?}");
    assert!(check.stderr.contains(&not_offered), "{check:#?}");
    // The fit table marks its price and explains the mark.
    let estimate = sandbox.ok(&["estimate", "gemma-3-27b"]);
    assert!(
        estimate.contains(&format!("† original tool docs, {not_offered}")),
        "{estimate}"
    );
    // Never a recommendation: the models it once was the cheapest fit of now name an
    // offered type, in the table and in JSON.
    let models: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["models", "--json"])).expect("JSON");
    for model in models.as_array().expect("array") {
        for pick in [
            &model["cheapest_gpu"]["instance_type"],
            &model["serving"]["instance_type"],
            &model["reference"]["min_gpu_type"],
        ] {
            assert_ne!(pick, "gpu_1x_a100_sxm4_80gb", "{model}");
        }
    }
    assert!(!sandbox.ok(&["models"]).contains("gpu_1x_a100_sxm4_80gb"));
}

#[test]
fn plan_check_shows_what_will_launch() {
    let sandbox = Sandbox::new();
    let run = sandbox.run(&[
        "plan",
        "--model",
        "deepseek-r1-70b",
        "--lease-hours",
        "2",
        "-o",
        "plan.yaml",
    ]);
    assert_eq!(run.code, 0, "{run:#?}");
    insta::assert_snapshot!("plan_check", sandbox.ok(&["plan", "check", "plan.yaml"]));
    insta::assert_snapshot!(
        "plan_check_json",
        sandbox.ok(&["plan", "check", "plan.yaml", "--json"])
    );
}

#[test]
fn plan_check_reads_a_plan_from_before_the_workload() {
    // No `workload:` section and the estimate's old `tokens_per_s`: valid, priced at the
    // default 1k/1k workload, and the fields it lacks are not reported as differences.
    let sandbox = Sandbox::new();
    let yaml = sandbox.ok(&["plan", "--model", "llama-3.1-8b"]);
    let mut old = Vec::new();
    let mut in_workload = false;
    for line in yaml.lines() {
        in_workload = line == "workload:" || (in_workload && line.starts_with("  "));
        let new_field = ["ttft_ms", "tpot_ms", "usd_per_million"]
            .iter()
            .any(|k| line.trim_start().starts_with(k));
        if !in_workload && !new_field {
            old.push(line.replace("output_tokens_per_s:", "tokens_per_s:"));
        }
    }
    let old = old.join("\n") + "\n";
    assert!(
        !old.contains("workload") && old.contains("  tokens_per_s: "),
        "{old}"
    );
    fs::write(sandbox.path("plan.yaml"), old).expect("write");
    let run = sandbox.run(&["plan", "check", "plan.yaml"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.stderr, "", "{run:#?}");
    assert!(
        run.stdout
            .contains("Workload      1 concurrent 1k/1k requests"),
        "{}",
        run.stdout
    );
}

#[test]
fn plan_writes_a_group_and_check_shows_its_price() {
    let sandbox = Sandbox::new();
    let args = [
        "plan",
        "--model",
        "llama-3.1-8b",
        "--gpu",
        "gpu_1x_a100_sxm4",
        "--replicas",
        "3",
        "--min-replicas",
        "2",
        "-o",
        "group.yaml",
    ];
    assert_eq!(sandbox.run(&args).code, 0);
    let yaml = fs::read_to_string(sandbox.path("group.yaml")).expect("read");
    assert!(
        yaml.contains("  replicas: 3\n  min_replicas: 2\n"),
        "{yaml}"
    );
    insta::assert_snapshot!(
        "plan_check_group",
        sandbox.ok(&["plan", "check", "group.yaml"])
    );
    let json: serde_json::Value =
        serde_json::from_str(&sandbox.ok(&["plan", "check", "group.yaml", "--json"]))
            .expect("JSON");
    // The estimate's price is the group's: all three instances bill.
    let single = sandbox.ok(&["gpus", "--json"]);
    let single: serde_json::Value = serde_json::from_str(&single).expect("JSON");
    let single = single
        .as_array()
        .and_then(|types| {
            types
                .iter()
                .find(|t| t["instance_type"] == "gpu_1x_a100_sxm4")
        })
        .and_then(|t| t["price_cents_per_hour"].as_f64())
        .expect("the type's price")
        / 100.0;
    assert_eq!(json["group"]["instances"], 3);
    for price in [&json["group"], &json["estimate"]] {
        assert_eq!(price["price_per_hour_usd"].as_f64(), Some(3.0 * single));
    }

    let two = [
        "plan",
        "--model",
        "deepseek-r1-671b",
        "--quantization",
        "fp8",
        "--gpu",
        "gpu_8x_h100_sxm5",
        "--nodes",
        "2",
        "-o",
        "two.yaml",
    ];
    let written = sandbox.run(&two);
    assert_eq!(written.code, 0, "{written:#?}");
    // What the lease may cost is both instances'.
    assert!(
        written
            .stderr
            .contains("at most $255.36 for its 2 instances"),
        "{written:#?}"
    );
    // Sized as PP 2 x TP 8 on two nodes (one node alone does not hold it): it fits,
    // so check has nothing to warn about.
    let check = sandbox.run(&["plan", "check", "two.yaml"]);
    assert_eq!(check.code, 0, "{check:#?}");
    assert_eq!(check.stderr, "", "{check:#?}");
    insta::assert_snapshot!("plan_check_two_nodes", check.stdout);

    let stderr = sandbox.fails(
        &[
            "plan",
            "--model",
            "llama-3.1-8b",
            "--gpu",
            "gpu_1x_a10",
            "--nodes",
            "2",
        ],
        2,
    );
    assert!(
        stderr.contains("gpu.nodes: '2' needs an instance type with 8 GPUs"),
        "{stderr}"
    );
    let stderr = sandbox.fails(
        &[
            "plan",
            "--model",
            "llama-3.1-8b",
            "--replicas",
            "2",
            "--min-replicas",
            "3",
        ],
        2,
    );
    assert!(
        stderr.contains("gpu.min_replicas: '3' must be between 1 and gpu.replicas (2)"),
        "{stderr}"
    );
    let bad = yaml.replace("replicas: 3", "replicas: 0");
    fs::write(sandbox.path("bad.yaml"), bad).expect("write");
    let stderr = sandbox.fails(&["plan", "check", "bad.yaml"], 1);
    assert!(
        stderr.contains("plan field gpu.replicas: '0' must be between 1 and 16"),
        "{stderr}"
    );
}

#[test]
fn plan_check_warns_when_the_file_estimate_differs() {
    let sandbox = Sandbox::new();
    let yaml = sandbox.ok(&["plan", "--model", "llama-3.1-8b"]);
    let edited = yaml.replace("per_gpu_gib: ", "per_gpu_gib: 1");
    fs::write(sandbox.path("plan.yaml"), edited).expect("write");
    let run = sandbox.run(&["plan", "check", "plan.yaml"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr.starts_with("warning: estimate.per_gpu_gib is 1"),
        "{run:#?}"
    );
}

#[test]
fn plan_check_names_the_bad_field() {
    let sandbox = Sandbox::new();
    let yaml = sandbox.ok(&["plan", "--model", "llama-3.1-8b"]);
    let cases = [
        (
            "hours: 4",
            "hours: 100",
            "plan field lease.hours: '100' must be between 1 and 24",
        ),
        (
            "engine: sglang",
            "engine: vllm",
            "plan field serving.engine: 'vllm' must be 'sglang'",
        ),
        (
            "- us-west-1",
            "- $(reboot)",
            "plan field gpu.regions[0]: '$(reboot)'",
        ),
    ];
    for (from, to, expected) in cases {
        fs::write(sandbox.path("bad.yaml"), yaml.replacen(from, to, 1)).expect("write");
        let stderr = sandbox.fails(&["plan", "check", "bad.yaml"], 1);
        assert!(
            stderr.starts_with(&format!("error: plan file bad.yaml: {expected}")),
            "{to}: {stderr}"
        );
    }
    let stderr = sandbox.fails(&["plan", "check", "missing.yaml"], 1);
    assert!(
        stderr.starts_with("error: cannot read plan file missing.yaml"),
        "{stderr}"
    );
}

#[test]
fn plan_refuses_flags_that_do_not_apply() {
    let sandbox = Sandbox::new();
    let stderr = sandbox.fails(&["plan", "--mode", "reference"], 2);
    assert!(
        stderr.contains("plans are sized with the serving estimate"),
        "{stderr}"
    );
    let stderr = sandbox.fails(&["plan", "--tp", "2"], 2);
    assert!(stderr.contains("choose the type with --gpu"), "{stderr}");
    let stderr = sandbox.fails(&["plan", "--region", "mars 1"], 1);
    assert!(stderr.starts_with("error: --region: 'mars 1'"), "{stderr}");
}

#[test]
fn colour_only_when_asked_for_off_a_terminal() {
    let sandbox = Sandbox::new();
    assert!(!sandbox.ok(&["gpus"]).contains('\x1b'));
    let coloured = sandbox.ok(&["gpus", "--color", "always"]);
    assert!(coloured.contains("\x1b[1mgpu_1x_a10\x1b[0m"), "{coloured}");
}

// ---------------------------------------------------------------------------------
// Pipes

#[test]
fn a_closed_pipe_ends_quietly() {
    let sandbox = Sandbox::new();
    for args in [&["models"][..], &["models", "--json"], &["gpus"]] {
        let mut child = std::process::Command::new(crate::GPU_SESSION)
            .args(args)
            .env("GPU_SESSION_CONFIG", sandbox.config())
            .env("HOME", sandbox.path("home"))
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn");
        // Close the reading end before the binary writes: every write fails with EPIPE.
        drop(child.stdout.take());
        let status = child.wait().expect("wait");
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .expect("stderr")
            .read_to_string(&mut stderr)
            .expect("read stderr");
        assert!(status.success(), "{args:?}: {status:?} {stderr}");
        assert_eq!(stderr, "", "{args:?}");
    }
}

// ---------------------------------------------------------------------------------
// Any model by name: --hf against a fake Hub serving the published config.json copies.

mod hf {
    use super::{Run, Sandbox};
    use gpu_session_core::hf_config::parse_hf_config;
    /// The config.json copies core's tests use (core/tests/fixtures/hf-configs, with
    /// their provenance in SOURCES.md there).
    mod configs {
        pub const QWEN3_235B_A22B_FP8: &str =
            include_str!("../../../core/tests/fixtures/hf-configs/Qwen__Qwen3-235B-A22B-FP8.json");
        pub const LLAMA_3_1_70B_INSTRUCT: &str = include_str!(
            "../../../core/tests/fixtures/hf-configs/meta-llama__Llama-3.1-70B-Instruct.json"
        );
    }
    use gpu_session_tests::fake_hub::{FakeHub, FakeRepo, Gate};
    use std::fs;

    const QWEN_FP8: &str = "Qwen/Qwen3-235B-A22B-FP8";
    const GATED: &str = "gated-org/Gated-70B";
    const GRANTED: &str = "hf_granted_token";
    const NOT_GRANTED: &str = "hf_other_token";
    /// A port nothing listens on: the Hub cannot be reached.
    const NO_HUB: &str = "http://127.0.0.1:9";

    fn hub() -> FakeHub {
        let repos = [
            (
                QWEN_FP8,
                FakeRepo::open(&[4_000_000_000])
                    .with_text("config.json", configs::QWEN3_235B_A22B_FP8),
            ),
            (
                GATED,
                FakeRepo::open(&[4_000_000_000])
                    .with_text("config.json", configs::LLAMA_3_1_70B_INSTRUCT)
                    .gated(Gate::Manual, &[GRANTED]),
            ),
        ];
        FakeHub::start(&repos, &[GRANTED, NOT_GRANTED]).expect("fake Hub")
    }

    fn run(sandbox: &Sandbox, endpoint: &str, token: Option<&str>, args: &[&str]) -> Run {
        let mut cmd = sandbox.command();
        cmd.env("HF_ENDPOINT", endpoint);
        if let Some(t) = token {
            cmd.env("HF_TOKEN", t);
        }
        sandbox.run_command(cmd, args)
    }

    fn ok(sandbox: &Sandbox, endpoint: &str, token: Option<&str>, args: &[&str]) -> String {
        let run = run(sandbox, endpoint, token, args);
        assert_eq!(
            (run.code, run.stderr.as_str()),
            (0, ""),
            "{args:?}: {run:#?}"
        );
        run.stdout
    }

    fn fails(sandbox: &Sandbox, endpoint: &str, token: Option<&str>, args: &[&str]) -> String {
        let run = run(sandbox, endpoint, token, args);
        assert_eq!(run.code, 1, "{args:?}: {run:#?}");
        run.stderr
    }

    #[test]
    fn estimate_sizes_a_hub_model_from_its_config_and_caches_it() {
        let hub = hub();
        let sandbox = Sandbox::new();
        let args = ["estimate", "--hf", QWEN_FP8];
        let human = ok(&sandbox, &hub.url(), None, &args);
        insta::assert_snapshot!("estimate_hf_qwen3_235b_fp8", human);
        assert!(hub
            .requests()
            .contains(&format!("GET /{QWEN_FP8}/resolve/main/config.json")));

        // The numbers are core's for the published config: exact total and active counts.
        let config = parse_hf_config(configs::QWEN3_235B_A22B_FP8).expect("fixture");
        let json: serde_json::Value = serde_json::from_str(&ok(
            &sandbox,
            &hub.url(),
            None,
            &["estimate", "--hf", QWEN_FP8, "--json"],
        ))
        .expect("JSON");
        assert_eq!(json["model"]["params"], config.architecture.param_count());
        assert_eq!(json["model"]["hf_path"], QWEN_FP8);
        assert_eq!(json["model"]["quantization"], "fp8");
        assert_eq!(json["model"]["checkpoints"][0]["method"], "fp8-block");

        // Cached where the XDG rules say, so it works offline, with a note.
        let cached =
            sandbox.path("home/.cache/gpu-session/hf/Qwen/Qwen3-235B-A22B-FP8/config.json");
        assert_eq!(
            fs::read_to_string(&cached).expect("cache"),
            configs::QWEN3_235B_A22B_FP8
        );
        let offline = run(&sandbox, NO_HUB, None, &args);
        assert_eq!(offline.code, 0, "{offline:#?}");
        assert_eq!(offline.stdout, human, "the cached config sizes the same");
        assert!(
            offline.stderr.starts_with("note: the Hugging Face Hub cannot be reached")
                && offline.stderr.contains("using the cached config.json of Qwen/Qwen3-235B-A22B-FP8 from [TMP]/home/.cache/"),
            "{}",
            offline.stderr
        );
    }

    #[test]
    fn hub_errors_say_what_to_do() {
        let hub = hub();
        let url = hub.url();
        let sandbox = Sandbox::new();
        let estimate = |repo: &'static str| ["estimate", "--hf", repo];

        // Offline with nothing cached.
        let err = fails(&sandbox, NO_HUB, None, &estimate(QWEN_FP8));
        assert!(err.starts_with("error: --hf: cannot reach the Hugging Face Hub to read Qwen/Qwen3-235B-A22B-FP8's config.json"), "{err}");
        assert!(err.contains("no copy is cached at [TMP]/home/.cache/gpu-session/hf/Qwen/Qwen3-235B-A22B-FP8/config.json"), "{err}");

        // Missing: with a token the Hub says 404; without one it cannot tell (401).
        let err = fails(
            &sandbox,
            &url,
            Some(NOT_GRANTED),
            &estimate("Qwen/No-Such-Model"),
        );
        assert!(
            err.contains("Qwen/No-Such-Model does not exist on the Hugging Face Hub (404)"),
            "{err}"
        );
        let err = fails(&sandbox, &url, None, &estimate("Qwen/No-Such-Model"));
        assert!(
            err.contains("is gated or private (401) and HF_TOKEN is not set"),
            "{err}"
        );

        // Gated: no token, a token without access, a token the Hub does not know.
        let err = fails(&sandbox, &url, None, &estimate(GATED));
        assert!(err.contains("gated-org/Gated-70B is gated or private (401) and HF_TOKEN is not set: set HF_TOKEN"), "{err}");
        assert!(err.contains("accept its licence"), "{err}");
        let err = fails(&sandbox, &url, Some(NOT_GRANTED), &estimate(GATED));
        assert!(
            err.contains("no access yet (403): accept the licence on"),
            "{err}"
        );
        let err = fails(&sandbox, &url, Some("hf_unknown"), &estimate(GATED));
        assert!(
            err.contains("the Hub refused HF_TOKEN for gated-org/Gated-70B (401)"),
            "{err}"
        );
        // With access the token is sent and the model sizes.
        let out = ok(&sandbox, &url, Some(GRANTED), &estimate(GATED));
        assert!(out.starts_with("Gated-70B (gated-70b)"), "{out}");

        // A repo id core rejects never reaches the Hub.
        let before = hub.requests().len();
        let err = fails(&sandbox, &url, None, &estimate("not-a-repo"));
        assert!(
            err.starts_with("error: --hf: 'not-a-repo' must be a Hugging Face repository"),
            "{err}"
        );
        assert_eq!(hub.requests().len(), before);

        // --hf names the model: no model id or --params with it.
        let run = run(
            &sandbox,
            &url,
            None,
            &["estimate", "llama-3.1-8b", "--hf", QWEN_FP8],
        );
        assert_eq!(run.code, 2, "{run:#?}");
    }

    #[test]
    fn plan_and_models_add_take_a_hub_model() {
        let hub = hub();
        let url = hub.url();
        let sandbox = Sandbox::new();
        let config = parse_hf_config(configs::QWEN3_235B_A22B_FP8).expect("fixture");

        // plan: the repo is the checkpoint, its stored FP8 the quantization.
        let yaml = ok(&sandbox, &url, None, &["plan", "--hf", QWEN_FP8]);
        let plan = gpu_session_core::plan::Plan::parse(&yaml).expect("plan");
        assert_eq!(plan.model.checkpoint, QWEN_FP8);
        assert_eq!(plan.model.id, "qwen3-235b-a22b-fp8");
        assert_eq!(plan.model.quantization.as_str(), "fp8");
        let custom = plan.model.custom.as_ref().expect("described in the plan");
        assert_eq!(custom.architecture, Some(config.architecture));

        // Another quantization sizes, but SGLang cannot serve this FP8 repo as INT4.
        ok(
            &sandbox,
            &url,
            None,
            &["estimate", "--hf", QWEN_FP8, "--quantization", "int4"],
        );
        let err = fails(
            &sandbox,
            &url,
            None,
            &["plan", "--hf", QWEN_FP8, "--quantization", "int4"],
        );
        assert!(
            err.contains("model.quantization") && err.contains("pre-quantized checkpoint"),
            "{err}"
        );

        // models add: stores the architecture in the config file's entry.
        let out = ok(
            &sandbox,
            &url,
            None,
            &["models", "add", "--hf", QWEN_FP8, "--context", "32768"],
        );
        assert!(
            out.starts_with("Added custom model 'qwen3-235b-a22b-fp8'"),
            "{out}"
        );
        let stored = fs::read_to_string(sandbox.config()).expect("config file");
        let document: serde_json::Value = gpu_session_core::yaml::from_str(&stored).expect("YAML");
        let entry = &document["custom_models"]["qwen3-235b-a22b-fp8"];
        assert_eq!(entry["hf_path"].as_str(), Some(QWEN_FP8));
        assert_eq!(entry["context_length"].as_u64(), Some(32768));
        assert_eq!(entry["quant_method"].as_str(), Some("fp8-block"));
        assert_eq!(
            entry["architecture"]["layers"].as_u64(),
            Some(u64::from(config.architecture.layers))
        );
        // The stored model sizes offline, from the config file alone.
        let info = ok(
            &sandbox,
            NO_HUB,
            None,
            &["models", "info", "qwen3-235b-a22b-fp8", "--json"],
        );
        let info: serde_json::Value = serde_json::from_str(&info).expect("JSON");
        assert_eq!(info["model"]["params"], config.architecture.param_count());

        // Architecture flags contradict --hf.
        let run = run(
            &sandbox,
            &url,
            None,
            &[
                "models", "add", "--hf", QWEN_FP8, "--name", "x2", "--layers", "4",
            ],
        );
        assert_eq!(run.code, 2, "{run:#?}");
    }
}
