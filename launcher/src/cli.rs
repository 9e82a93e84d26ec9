//! The command line, declared in one place (clap derive). Commands live in `commands/`.

use clap::builder::{PossibleValue, TypedValueParser};
use clap::{Args, Parser, Subcommand, ValueEnum};
use gpu_session_core::quant::QuantMethod;
use gpu_session_core::service_level::Targets;
use gpu_session_core::settings::Rate;
use gpu_session_core::speed::Workload;
use gpu_session_core::{KvDtype, Quantization};
use std::ffi::OsStr;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

/// A clap value parser for a core type: core's `FromStr` decides (so the message is
/// core's, naming the flag), clap reports a bad value as a usage error (status 2), and
/// core's names are the possible values help and shell completions list. Core stays
/// free of clap.
#[derive(Debug)]
pub struct CoreValueParser<T> {
    names: Vec<&'static str>,
    parsed: PhantomData<fn() -> T>,
}

impl<T> Clone for CoreValueParser<T> {
    fn clone(&self) -> Self {
        CoreValueParser {
            names: self.names.clone(),
            parsed: PhantomData,
        }
    }
}

impl<T> CoreValueParser<T> {
    /// A parser whose possible values are `names` (core's, e.g. `Quantization::ALL`).
    pub fn new(names: Vec<&'static str>) -> CoreValueParser<T> {
        CoreValueParser {
            names,
            parsed: PhantomData,
        }
    }
}

impl<T> TypedValueParser for CoreValueParser<T>
where
    T: FromStr + Clone + Send + Sync + 'static,
    T::Err: std::fmt::Display,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let flag = arg
            .and_then(clap::Arg::get_long)
            .map_or_else(String::new, |long| format!("--{long}: "));
        let invalid = |message: String| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidValue,
                format!("{flag}{message}\n"),
            )
            .with_cmd(cmd)
        };
        let text = value
            .to_str()
            .ok_or_else(|| invalid(format!("{value:?} is not UTF-8")))?;
        text.parse::<T>().map_err(|e| invalid(e.to_string()))
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            self.names.iter().map(|name| PossibleValue::new(*name)),
        ))
    }
}

/// A duration flag: plain seconds (`45`), or humantime's `90s`, `30m`, `2h`, `1h30m`.
/// A clap value parser, so a bad value is a usage error (status 2) naming the flag.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let duration = match t.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(t)
            .map_err(|e| format!("'{text}' is not a duration like 90s, 30m or 2h ({e})"))?,
    };
    if duration > MAX_DURATION_FLAG {
        return Err(format!(
            "'{text}' is longer than {} days, the longest wait a duration flag takes",
            MAX_DURATION_FLAG.as_secs() / 86_400
        ));
    }
    Ok(duration)
}

/// The longest value a duration flag takes: a year. Policy: no wait of `launch` is
/// meaningful past a lease (at most days), and the bound keeps `Instant + flag` far
/// from overflowing (a panic after the instance exists, issue 16).
pub const MAX_DURATION_FLAG: Duration = Duration::from_secs(365 * 86_400);

/// `--ready-timeout`: `auto` (scaled with the checkpoint's size) or a duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadyTimeout {
    Auto,
    After(Duration),
}

impl FromStr for ReadyTimeout {
    type Err = String;

    fn from_str(text: &str) -> Result<ReadyTimeout, String> {
        if text.trim() == "auto" {
            Ok(ReadyTimeout::Auto)
        } else {
            parse_duration(text)
                .map(ReadyTimeout::After)
                .map_err(|e| format!("{e}, or auto"))
        }
    }
}

impl std::fmt::Display for ReadyTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadyTimeout::Auto => f.write_str("auto"),
            ReadyTimeout::After(d) => write!(f, "{}", humantime::format_duration(*d)),
        }
    }
}

/// `--quantization`, parsed by core.
fn quantization_parser() -> CoreValueParser<Quantization> {
    CoreValueParser::new(Quantization::ALL.map(Quantization::as_str).to_vec())
}

/// `--kv-dtype`, parsed by core.
fn kv_dtype_parser() -> CoreValueParser<KvDtype> {
    CoreValueParser::new(KvDtype::ALL.map(KvDtype::as_str).to_vec())
}

/// `--quant-method`, parsed by core.
fn quant_method_parser() -> CoreValueParser<QuantMethod> {
    CoreValueParser::new(QuantMethod::ALL.map(QuantMethod::as_str).to_vec())
}

/// `--mem-fraction-static`: a number core accepts (`settings::check_mem_fraction_static`);
/// anything else is a usage error (status 2) with core's reason.
fn mem_fraction_parser(text: &str) -> Result<f64, String> {
    let value: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number"))?;
    gpu_session_core::settings::check_mem_fraction_static("--mem-fraction-static", value)
        .map_err(|e| format!("'{}' {}", e.value, e.reason))
}

/// `--input-tokens`: a prompt length core's workload accepts; else a usage error.
fn input_tokens_parser(text: &str) -> Result<u32, String> {
    workload_tokens(text, |tokens| Workload {
        input_tokens: tokens,
        ..Workload::concurrent(1)
    })
}

/// `--output-tokens`: an output length core's workload accepts; else a usage error.
fn output_tokens_parser(text: &str) -> Result<u32, String> {
    workload_tokens(text, |tokens| Workload {
        output_tokens: tokens,
        ..Workload::concurrent(1)
    })
}

fn workload_tokens(text: &str, workload: impl Fn(u32) -> Workload) -> Result<u32, String> {
    let tokens: u32 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a whole number of tokens"))?;
    workload(tokens)
        .validate()
        .map_err(|e| format!("'{}' {}", e.value, e.reason))?;
    Ok(tokens)
}

/// `--rate`: requests per second core accepts (`settings::Rate`); else a usage error.
fn rate_parser(text: &str) -> Result<Rate, String> {
    let per_s: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of requests per second"))?;
    Rate::new("--rate", per_s).map_err(|e| format!("'{}' {}", e.value, e.reason))
}

/// `--ttft-max` and `--tpot-max`: a target core accepts (`service_level::Targets`).
fn target_ms_parser(text: &str) -> Result<f64, String> {
    let ms: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("'{text}' is not a number of milliseconds"))?;
    let targets = Targets {
        ttft_max_ms: Some(ms),
        tpot_max_ms: None,
        rate: Rate::new("--rate", 1.0).map_err(|e| e.to_string())?,
    };
    targets
        .validate()
        .map_err(|e| format!("'{}' {}", e.value, e.reason))?;
    Ok(ms)
}

/// Service-level targets: with `--rate`, choose the cheapest instance type, TP and
/// replica count that meets them (`gpus --model` and `plan`).
#[derive(Debug, Clone, Args, Default)]
pub struct ServiceLevelArgs {
    /// Longest mean time to first token, milliseconds (needs --rate).
    #[arg(long, value_name = "MS", value_parser = target_ms_parser)]
    pub ttft_max: Option<f64>,
    /// Longest mean time per output token, milliseconds (needs --rate).
    #[arg(long, value_name = "MS", value_parser = target_ms_parser)]
    pub tpot_max: Option<f64>,
}

impl ServiceLevelArgs {
    pub fn given(&self) -> bool {
        self.ttft_max.is_some() || self.tpot_max.is_some()
    }
}

const EXAMPLES: &str = "\
Examples:
  gpu-session models
  gpu-session models info deepseek-r1-70b
  gpu-session estimate llama-3.1-70b --quantization int4 --context 16384 --seqs 4
  gpu-session estimate --hf Qwen/Qwen3-235B-A22B-FP8
  gpu-session gpus --model qwen2.5-coder-32b-int4
  gpu-session plan --model llama-3.1-8b --gpu gpu_1x_a10 -o plan.yaml
  gpu-session launch plan.yaml

The manual (every command, launching on Lambda, how each number is computed):
  https://gpu-session.github.io/gpu-session/book/";

/// Size, price and launch LLM servers on Lambda Cloud GPUs.
#[derive(Debug, Parser)]
#[command(name = "gpu-session", version, about, after_help = EXAMPLES, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Config file (default: $XDG_CONFIG_HOME/gpu-dashboard/config.yaml or ~/.config/gpu-dashboard/config.yaml).
    #[arg(long, global = true, env = "GPU_SESSION_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Print only results and errors.
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail about what happens.
    #[arg(long, short, global = true)]
    pub verbose: bool,
    /// When to colour output (NO_COLOR is honoured by `auto`).
    #[arg(long, global = true, value_enum, default_value_t = ColorChoice::Auto)]
    pub color: ColorChoice,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// List, inspect, add and remove models.
    #[command(
        after_help = "Examples:\n  gpu-session models\n  gpu-session models --json\n  gpu-session models info qwen2.5-coder-32b\n  gpu-session models add --name my-model-70b --hf-path myorg/custom-llama-70b --params 70 --quantization int4 --context 8192\n  gpu-session models add --hf Qwen/Qwen3-30B-A3B\n  gpu-session models remove my-model-70b"
    )]
    Models(ModelsArgs),
    /// Estimate memory for any model and settings, with the fit on every GPU type.
    #[command(
        after_help = "Examples:\n  gpu-session estimate deepseek-r1-70b\n  gpu-session estimate llama-3.1-70b --quantization fp8 --context 32768 --seqs 8 --gpu gpu_8x_h100_sxm5\n  gpu-session estimate --params 13 --quantization int4 --context 4096 --json\n  gpu-session estimate --hf Qwen/Qwen3-235B-A22B-FP8 --context 32768"
    )]
    Estimate(EstimateArgs),
    /// The Lambda GPU catalog; with --model, how that model fits each type.
    #[command(
        after_help = "Examples:\n  gpu-session gpus\n  gpu-session gpus --model mistral-7b --context 32768\n  gpu-session gpus --live"
    )]
    Gpus(GpusArgs),
    /// Write a launch plan (plan.yaml), or check one.
    #[command(
        args_conflicts_with_subcommands = true,
        after_help = "Examples:\n  gpu-session plan --model deepseek-r1-70b -o plan.yaml\n  gpu-session plan --model llama-3.1-8b --gpu gpu_1x_a10 --region us-east-1 --region us-west-1 --lease-hours 2\n  gpu-session plan check plan.yaml"
    )]
    Plan(PlanArgs),
    /// Provision a Lambda GPU from a plan and serve the model with SGLang.
    #[command(
        after_help = "Examples:\n  gpu-session launch plan.yaml\n  gpu-session launch plan.yaml --dry-run\n  gpu-session launch plan.yaml --yes --wait-for-capacity 30m --filesystem models"
    )]
    Launch(LaunchArgs),
    /// Instances this tool launched: state, lease left and cost so far.
    #[command(after_help = "Examples:\n  gpu-session status\n  gpu-session status --json")]
    Status(StatusArgs),
    /// Terminate an instance (or all this tool launched).
    #[command(
        after_help = "Examples:\n  gpu-session down\n  gpu-session down gpu-session-deepseek-r1-70b-1a2b --yes\n  gpu-session down --all"
    )]
    Down(DownArgs),
    /// Open an SSH session on an instance.
    #[command(after_help = "Examples:\n  gpu-session ssh\n  gpu-session ssh 0920582c")]
    Ssh(InstanceArgs),
    /// Forward the instance's SGLang port to this machine.
    #[command(
        after_help = "Examples:\n  gpu-session tunnel\n  gpu-session tunnel 0920582c --local-port 30001"
    )]
    Tunnel(TunnelArgs),
    /// Push an instance's lease deadline further out.
    #[command(after_help = "Examples:\n  gpu-session extend 2\n  gpu-session extend 1 0920582c")]
    Extend(ExtendArgs),
    /// Store the Lambda API key and defaults in the config file.
    #[command(
        after_help = "Examples:\n  gpu-session configure\n  echo \"$KEY\" | gpu-session configure --api-key-stdin --region us-east-1"
    )]
    Configure(ConfigureArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  gpu-session completions bash > ~/.local/share/bash-completion/completions/gpu-session\n  gpu-session completions zsh > ~/.zfunc/_gpu-session\n  gpu-session completions fish > ~/.config/fish/completions/gpu-session.fish"
    )]
    Completions(CompletionsArgs),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ModelsArgs {
    #[command(subcommand)]
    pub command: Option<ModelsCommand>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Everything about one model: breakdowns, GPU fit, use cases.
    Info(ModelInfoArgs),
    /// Add a custom model (interactive with no flags on a terminal).
    Add(ModelAddArgs),
    /// Remove a custom model.
    Remove(ModelRemoveArgs),
}

#[derive(Debug, Args)]
pub struct ModelInfoArgs {
    /// Model id (see `gpu-session models`).
    pub id: String,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ModelAddArgs {
    /// Id of the new model (lowercase letters, digits, '.', '_', '-').
    #[arg(long)]
    pub name: Option<String>,
    /// Hugging Face repository, e.g. myorg/custom-llama-70b.
    #[arg(long)]
    pub hf_path: Option<String>,
    /// Describe the model by its Hub repo's config.json (architecture, size and the
    /// quantization the checkpoint stores); --name defaults to the repo's name in lowercase.
    #[arg(long, value_name = "ORG/NAME", conflicts_with_all = ["hf_path", "params", "quantization", "quant_method"])]
    pub hf: Option<String>,
    /// Size in billions of parameters.
    #[arg(long)]
    pub params: Option<f64>,
    /// fp32, fp16, bf16, fp8, int8 or int4.
    #[arg(long, value_parser = quantization_parser())]
    pub quantization: Option<Quantization>,
    /// Context length in tokens (at least 512).
    #[arg(long)]
    pub context: Option<u32>,
    /// Free-text notes.
    #[arg(long)]
    pub notes: Option<String>,
    /// Quantization method of a pre-quantized checkpoint (awq, gptq, compressed-tensors).
    #[arg(long, value_parser = quant_method_parser())]
    pub quant_method: Option<QuantMethod>,
    #[command(flatten)]
    pub arch: ArchArgs,
    /// Print the stored entry as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ModelRemoveArgs {
    pub id: String,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
}

/// Architecture fields from a model's config.json: all or none.
#[derive(Debug, Clone, Args, Default)]
pub struct ArchArgs {
    /// num_hidden_layers
    #[arg(long, help_heading = "Architecture (config.json)")]
    pub layers: Option<u32>,
    /// hidden_size
    #[arg(long, help_heading = "Architecture (config.json)")]
    pub hidden: Option<u32>,
    /// intermediate_size
    #[arg(long, help_heading = "Architecture (config.json)")]
    pub intermediate: Option<u32>,
    /// num_attention_heads
    #[arg(long, help_heading = "Architecture (config.json)")]
    pub heads: Option<u32>,
    /// num_key_value_heads (default: heads)
    #[arg(long, help_heading = "Architecture (config.json)")]
    pub kv_heads: Option<u32>,
    /// head_dim (default: hidden / heads)
    #[arg(long, help_heading = "Architecture (config.json)")]
    pub head_dim: Option<u32>,
    /// vocab_size
    #[arg(long, help_heading = "Architecture (config.json)")]
    pub vocab: Option<u32>,
    /// max_position_embeddings (default: the context)
    #[arg(long, help_heading = "Architecture (config.json)")]
    pub max_context: Option<u32>,
    /// tie_word_embeddings
    #[arg(long, help_heading = "Architecture (config.json)")]
    pub tied_embeddings: bool,
    /// q/k/v projections have biases (Qwen2)
    #[arg(long, help_heading = "Architecture (config.json)")]
    pub attention_bias: bool,
}

/// Serving settings shared by estimate, gpus and plan.
#[derive(Debug, Clone, Args, Default)]
pub struct SettingsArgs {
    /// Weight quantization: fp32, fp16, bf16, fp8, int8, int4 (default: the model's).
    #[arg(long, value_parser = quantization_parser())]
    pub quantization: Option<Quantization>,
    /// Context length per sequence, tokens (default: the model's).
    #[arg(long)]
    pub context: Option<u32>,
    /// Concurrent sequences (default 1): the requests in flight for the speed columns,
    /// and with --rate the most that run at once (--max-running-requests).
    #[arg(long)]
    pub seqs: Option<u32>,
    /// Prompt tokens per request of the workload the speed is for (default 1000).
    #[arg(long, value_name = "N", value_parser = input_tokens_parser)]
    pub input_tokens: Option<u32>,
    /// Output tokens per request (default 1000).
    #[arg(long, value_name = "N", value_parser = output_tokens_parser)]
    pub output_tokens: Option<u32>,
    /// Requests arriving per second, instead of --seqs requests always in flight.
    #[arg(long, value_name = "R", value_parser = rate_parser)]
    pub rate: Option<Rate>,
    /// KV-cache dtype: auto, fp8_e5m2, fp8_e4m3.
    #[arg(long, value_parser = kv_dtype_parser())]
    pub kv_dtype: Option<KvDtype>,
    /// Tensor-parallel size for the headline breakdown: 1, 2, 4 or 8.
    #[arg(long)]
    pub tp: Option<u32>,
    /// Which estimate decides fit: serving (default) or reference.
    #[arg(long, value_enum)]
    pub mode: Option<ModeArg>,
    /// Your own SGLang --mem-fraction-static (0.5-0.95) instead of core's choice; the
    /// fit, KV pool and plan use it.
    #[arg(long, value_name = "F", value_parser = mem_fraction_parser)]
    pub mem_fraction_static: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeArg {
    Serving,
    Reference,
}

#[derive(Debug, Args)]
pub struct EstimateArgs {
    /// Model id (built-in or custom); omit and pass --params for an ad-hoc model.
    pub model: Option<String>,
    /// Size in billions for an ad-hoc model.
    #[arg(long, conflicts_with = "model")]
    pub params: Option<f64>,
    /// Any Hugging Face model by repo: its config.json (from the Hub, HF_TOKEN for gated
    /// repos, cached for offline use) gives the exact architecture and checkpoint.
    #[arg(long, value_name = "ORG/NAME", conflicts_with_all = ["model", "params"])]
    pub hf: Option<String>,
    #[command(flatten)]
    pub arch: ArchArgs,
    #[command(flatten)]
    pub settings: SettingsArgs,
    /// Instance type to size the headline breakdown for (e.g. gpu_1x_a100_sxm4).
    #[arg(long)]
    pub gpu: Option<String>,
    /// Instances the model spans: 1, or 2 to size it across two 8-GPU instances of --gpu
    /// (TP 16 and PP 2 x TP 8, with the traffic between them).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=2), conflicts_with_all = ["tp", "mem_fraction_static"])]
    pub nodes: Option<u32>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct GpusArgs {
    /// Show how this model fits each type.
    #[arg(long)]
    pub model: Option<String>,
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub service_level: ServiceLevelArgs,
    /// Read live prices and regions with capacity from the Lambda API.
    #[arg(long)]
    pub live: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(subcommand)]
    pub command: Option<PlanCommand>,
    /// Model id (built-in or custom).
    #[arg(long)]
    pub model: Option<String>,
    /// Any Hugging Face model by repo (its config.json; see `estimate --hf`).
    #[arg(long, value_name = "ORG/NAME", conflicts_with = "model")]
    pub hf: Option<String>,
    #[command(flatten)]
    pub settings: SettingsArgs,
    #[command(flatten)]
    pub service_level: ServiceLevelArgs,
    /// Instance type (default: the cheapest that fits).
    #[arg(long)]
    pub gpu: Option<String>,
    /// Region to try, in order (repeat; default: the config's region, then the usual US regions).
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// Lease in hours before the instance terminates itself.
    #[arg(long)]
    pub lease_hours: Option<u32>,
    /// Terminate after this many idle minutes (0: never).
    #[arg(long)]
    pub idle_minutes: Option<u32>,
    /// Instances serving the model side by side behind one gateway (default 1, or as
    /// many as --ttft-max/--tpot-max at --rate need).
    #[arg(long, value_name = "N", conflicts_with_all = ["ttft_max", "tpot_max"])]
    pub replicas: Option<u32>,
    /// Keep a launch going while at least this many replicas serve (default: all).
    #[arg(long, value_name = "M")]
    pub min_replicas: Option<u32>,
    /// Split one model across this many 8-GPU instances (1 or 2).
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub nodes: u32,
    /// Pipeline stages across the nodes (default: one per node; 1 shards every layer
    /// over all GPUs of both nodes instead).
    #[arg(long, value_name = "N", requires = "nodes")]
    pub pipeline_parallel: Option<u32>,
    /// Write the plan here instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// Write JSON instead of YAML.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum PlanCommand {
    /// Validate a plan and show what it will launch and cost.
    Check(PlanCheckArgs),
}

#[derive(Debug, Args)]
pub struct PlanCheckArgs {
    pub file: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct LaunchArgs {
    /// The plan file (YAML or JSON).
    pub plan: PathBuf,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
    /// Print the launch request and user_data; change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep polling for capacity this long (e.g. 30m, 2h) instead of failing.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub wait_for_capacity: Option<Duration>,
    /// SSH key name registered with Lambda (default: the account's only key).
    #[arg(long)]
    pub ssh_key: Option<String>,
    /// Persistent file system to cache model weights on.
    #[arg(long)]
    pub filesystem: Option<String>,
    /// Leave the instance running when something fails (it keeps billing).
    #[arg(long)]
    pub keep_on_failure: bool,
    /// Give up if the instance is not active after this long.
    #[arg(long, value_name = "DURATION", default_value = "25m", value_parser = parse_duration)]
    pub boot_timeout: Duration,
    /// Give up if SGLang does not answer after this long; `auto` scales with the
    /// checkpoint's size (15 min + size at 50 MB/s + size at 500 MB/s).
    #[arg(long, value_name = "DURATION", default_value = "auto")]
    pub ready_timeout: ReadyTimeout,
    /// Print a JSON result.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Instance id (or prefix) or name; default: the only instance this tool launched.
    pub instance: Option<String>,
    /// Terminate every instance this tool launched.
    #[arg(long, conflicts_with = "instance")]
    pub all: bool,
    /// Do not ask for confirmation.
    #[arg(long, short)]
    pub yes: bool,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct InstanceArgs {
    /// Instance id (or prefix) or name; default: the only instance this tool launched.
    pub instance: Option<String>,
}

#[derive(Debug, Args)]
pub struct TunnelArgs {
    /// Instance id (or prefix) or name; default: the only instance this tool launched.
    pub instance: Option<String>,
    /// Local port to listen on (127.0.0.1).
    #[arg(long, default_value_t = 30000)]
    pub local_port: u16,
}

#[derive(Debug, Args)]
pub struct ExtendArgs {
    /// Hours to add to the lease.
    pub hours: u32,
    /// Instance id (or prefix) or name; default: the only instance this tool launched.
    pub instance: Option<String>,
}

#[derive(Debug, Args)]
pub struct ConfigureArgs {
    /// Read the API key from standard input instead of prompting.
    #[arg(long)]
    pub api_key_stdin: bool,
    /// Default region.
    #[arg(long)]
    pub region: Option<String>,
    /// Default file system for the model cache.
    #[arg(long)]
    pub filesystem: Option<String>,
    /// Default lease in hours.
    #[arg(long)]
    pub lease_hours: Option<u32>,
    /// SSH private key used by ssh/tunnel.
    #[arg(long)]
    pub ssh_key_path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        for bad in [
            "",
            "h",
            "5x",
            "10m5",
            "-3s",
            "99999999999999999999h",
            "9223372036854775808",
            "366d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn ready_timeouts() {
        assert_eq!("auto".parse(), Ok(ReadyTimeout::Auto));
        assert_eq!(
            "20m".parse(),
            Ok(ReadyTimeout::After(Duration::from_secs(1200)))
        );
        assert!("soon"
            .parse::<ReadyTimeout>()
            .unwrap_err()
            .ends_with(", or auto"));
        assert_eq!(
            ReadyTimeout::After(Duration::from_secs(1200)).to_string(),
            "20m"
        );
    }
}
