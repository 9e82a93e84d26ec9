//! The plan document (`plan.yaml`): the one contract between the site and the launcher.
//! Versioned, YAML or JSON, unknown fields rejected, every field validated.

use crate::arch::Architecture;
use crate::gpu::{self, GpuType};
use crate::quant::{KvDtype, Quantization};
use crate::recommend::{evaluate_at, Fit, GpuFit};
use crate::registry::{builtin, Checkpoint, CustomModel, Model, QuantMethod};
use crate::serving::{
    sglang_defaults, sglang_kv_dtype, SglangDefaultsInput, SGLANG_PORT, SGLANG_VERSION,
};
use crate::settings::{check_mem_fraction_static, EstimateMode, Settings, MAX_SEQS, MIN_CONTEXT};
use crate::validate::FieldError;
use serde::{Deserialize, Serialize};

mod build;
mod validation;

pub use build::{default_gpu, default_regions, Group, NoGpuFits, PlanChoices, PlanRequest};

/// The plan format this build writes and reads.
pub const PLAN_VERSION: u32 = 1;
/// The original tool's default lease (`defaults.lease_hours: 4`).
pub const DEFAULT_LEASE_HOURS: u32 = 4;
/// Our policy, not a source's: the original capped leases at 8 h from boot; we allow a
/// day so an overnight job fits, and `extend` may never push past it.
pub const MAX_LEASE_HOURS: u32 = 24;
/// The original tool's idle limit (30 minutes).
pub const DEFAULT_IDLE_MINUTES: u32 = 30;
/// Our policy: an idle limit longer than the longest lease would never fire.
pub const MAX_IDLE_MINUTES: u32 = MAX_LEASE_HOURS * 60;
/// Lambda regions tried in order when a plan does not say (the original's default first).
pub const DEFAULT_REGIONS: [&str; 6] = [
    "us-west-1",
    "us-west-2",
    "us-west-3",
    "us-south-1",
    "us-east-1",
    "us-midwest-1",
];
/// Bounds on `serving.chunked_prefill_size`. Our policy: SGLang's own defaults run from
/// 2048 to 16384 tokens (sglang 0.5.23 srt/arg_groups/memory_hook.py); a hand-edited plan
/// may go to half the smallest and twice the largest, not further.
pub const CHUNKED_PREFILL_RANGE: (u32, u32) = (1024, 32768);
pub use crate::multi_node::MAX_NODES;
pub use crate::settings::MAX_REPLICAS;
/// GPUs an instance type needs before a plan may split a model across nodes: only
/// whole 8-GPU machines are worth the Ethernet between them (our policy).
pub const NODE_GPUS: u32 = 8;

/// A complete launch plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    pub version: u32,
    pub model: PlanModel,
    pub serving: PlanServing,
    pub gpu: PlanGpu,
    pub lease: PlanLease,
    /// The workload the estimate's speed is for. Absent in older plans: 1k/1k requests,
    /// `serving.max_running_requests` of them at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<PlanWorkload>,
    /// Informational: what the exporter computed. The launcher recomputes and never trusts it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate: Option<PlanEstimate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanModel {
    /// Built-in id, or the custom model's id (also SGLang's `--served-model-name`).
    pub id: String,
    /// Present for custom models: what sizes them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<PlanCustomModel>,
    /// Hugging Face repository SGLang loads.
    pub checkpoint: String,
    pub quantization: Quantization,
    pub quant_method: QuantMethod,
    pub context_length: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanCustomModel {
    pub params_billions: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanServing {
    /// Always `sglang`.
    pub engine: String,
    /// Pinned SGLang release.
    pub version: String,
    pub tensor_parallel: u32,
    /// SGLang's `--pp-size`: pipeline stages. Only a two-node plan may use more than
    /// one (a stage per node). Absent in older plans: 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub pipeline_parallel: u32,
    pub mem_fraction_static: f64,
    /// The user chose `mem_fraction_static` (`--mem-fraction-static`): a rebuild keeps it
    /// instead of recomputing SGLang's default. Absent in older plans: false.
    #[serde(default, skip_serializing_if = "is_false")]
    pub mem_fraction_static_from_user: bool,
    /// `--chunked-prefill-size` core sized the activations with. Absent in older plans:
    /// SGLang's default for the GPU, as core computes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunked_prefill_size: Option<u32>,
    /// `--cuda-graph-max-bs-decode` core sized the CUDA graphs with. Absent in older
    /// plans: SGLang's default for the GPU, capped by `max_running_requests`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cuda_graph_max_bs: Option<u32>,
    pub max_running_requests: u32,
    pub kv_cache_dtype: KvDtype,
    pub port: u16,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanGpu {
    pub instance_type: String,
    /// Lambda image family the instance boots (`"image": {"family": ...}` in the launch
    /// request). Absent in older plans: [`gpu::DEFAULT_IMAGE_FAMILY`].
    #[serde(default = "default_image_family")]
    pub image_family: String,
    /// Regions to try, in order.
    pub regions: Vec<String>,
    /// Instances serving the model side by side behind one gateway. Absent: 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub replicas: u32,
    /// The fewest replicas a launch keeps going with when members fail to start.
    /// Absent: every replica ([`PlanGpu::min_replicas`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_replicas: Option<u32>,
    /// Instances one model is split across (1 or [`MAX_NODES`]). Absent: 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub nodes: u32,
}

impl PlanGpu {
    /// The fewest replicas a launch may serve with: `min_replicas`, else all of them.
    pub fn min_replicas(&self) -> u32 {
        self.min_replicas.unwrap_or(self.replicas)
    }

    /// Instances the plan starts: one per replica, or one per node.
    pub fn instance_count(&self) -> u32 {
        self.replicas.max(1) * self.nodes.max(1)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanLease {
    /// The instance terminates itself this many hours after boot.
    pub hours: u32,
    /// ... or after this many minutes without requests (0 disables the idle limit).
    pub idle_minutes: u32,
}

/// Tokens per request and how many requests: concurrent ones (then equal to
/// `serving.max_running_requests`) or a rate. Written by `plan` and the site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanWorkload {
    pub input_tokens: u32,
    pub output_tokens: u32,
    /// Requests in flight at once; absent when `rate` is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<u32>,
    /// Requests arriving per second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanEstimate {
    pub mode: EstimateMode,
    pub fit: Fit,
    pub per_gpu_gib: f64,
    pub kv_pool_tokens: u64,
    /// Output tokens per second of the whole instance at the plan's workload (older
    /// plans call it `tokens_per_s`, a decode roofline at full concurrency).
    #[serde(alias = "tokens_per_s")]
    pub output_tokens_per_s: f64,
    /// Time to first token, milliseconds, at the plan's workload. Absent in older plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttft_ms: Option<f64>,
    /// Time per output token, milliseconds. Absent in older plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tpot_ms: Option<f64>,
    /// US dollars per million output tokens. Absent in older plans.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usd_per_million_output_tokens: Option<f64>,
    /// US dollars per hour for every instance the plan starts: a group's whole price.
    pub price_per_hour_usd: f64,
    /// The whole lease at `price_per_hour_usd`: what the plan can cost at most.
    pub lease_cost_usd: f64,
    pub price_as_of: String,
}

fn default_image_family() -> String {
    gpu::DEFAULT_IMAGE_FAMILY.to_string()
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn one() -> u32 {
    1
}

fn is_one(n: &u32) -> bool {
    *n == 1
}

/// Why a plan cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("plan is not valid {format}: {message}")]
    Syntax {
        format: &'static str,
        message: String,
    },
    #[error("plan field {0}")]
    Field(FieldError),
    #[error("could not write the plan as {format}: {message}")]
    Encode {
        format: &'static str,
        message: String,
    },
}

impl From<FieldError> for PlanError {
    fn from(e: FieldError) -> Self {
        PlanError::Field(e)
    }
}

impl Plan {
    /// Parse YAML or JSON (JSON when the first non-blank character is `{`), then validate.
    pub fn parse(text: &str) -> Result<Plan, PlanError> {
        // serde_path_to_error names the field a type error is about (`model.quantization`).
        fn syntax<E: std::fmt::Display>(
            format: &'static str,
            err: serde_path_to_error::Error<E>,
        ) -> PlanError {
            let path = err.path().to_string();
            let message = err.into_inner().to_string();
            // serde_yaml already starts its message with the path; serde_json does not.
            let message = if path.is_empty() || path == "." || message.starts_with(&path) {
                message
            } else {
                format!("{path}: {message}")
            };
            PlanError::Syntax { format, message }
        }
        let plan: Plan = if text.trim_start().starts_with('{') {
            let mut de = serde_json::Deserializer::from_str(text);
            serde_path_to_error::deserialize(&mut de).map_err(|e| syntax("JSON", e))?
        } else {
            serde_path_to_error::deserialize(crate::yaml::deserializer(text))
                .map_err(|e| syntax("YAML", e))?
        };
        plan.validate()?;
        Ok(plan)
    }

    /// The plan file's YAML text; a value that cannot be written is an error, never an
    /// empty file.
    pub fn to_yaml(&self) -> Result<String, PlanError> {
        let body = crate::yaml::to_string(self).map_err(|e| PlanError::Encode {
            format: "YAML",
            message: e.to_string(),
        })?;
        Ok(format!("# gpu-session plan v{PLAN_VERSION}: launch with `gpu-session launch plan.yaml`\n{body}"))
    }

    /// The plan as pretty JSON; a value that cannot be written is an error.
    pub fn to_json(&self) -> Result<String, PlanError> {
        let mut s = serde_json::to_string_pretty(self).map_err(|e| PlanError::Encode {
            format: "JSON",
            message: e.to_string(),
        })?;
        s.push('\n');
        Ok(s)
    }

    /// The model this plan serves (custom models are rebuilt from the plan itself).
    pub fn resolve_model(&self) -> Result<Model, PlanError> {
        match &self.model.custom {
            None => builtin(&self.model.id).cloned().ok_or_else(|| {
                FieldError::new(
                    "model.id",
                    &self.model.id,
                    "is not a built-in model and the plan has no model.custom",
                )
                .into()
            }),
            Some(custom) => {
                let described = CustomModel {
                    quant_method: Some(self.model.quant_method),
                    architecture: custom.architecture,
                    ..CustomModel::new(
                        self.model.checkpoint.as_str(),
                        custom.params_billions,
                        self.model.quantization,
                        self.model.context_length,
                    )
                };
                Ok(Model::custom(&self.model.id, &described))
            }
        }
    }

    /// The `--mem-fraction-static` the user chose for this plan, if they did.
    pub fn user_mem_fraction_static(&self) -> Option<f64> {
        self.serving
            .mem_fraction_static_from_user
            .then_some(self.serving.mem_fraction_static)
    }

    /// This build's verdict for the plan (serving estimate, the user's fraction when the
    /// plan carries one): what `launch` and `plan --check` show instead of the file's.
    ///
    /// Judged at the `--mem-fraction-static` launch sends (the file's
    /// `serving.mem_fraction_static`): where an older or edited file carries another
    /// fraction than this build computes, the verdict is the one for what will run.
    pub fn evaluate(&self) -> Result<GpuFit, PlanError> {
        let model = self.resolve_model()?;
        let at = |fraction: Option<f64>| self.row_at(&model, fraction);
        let row = at(self.user_mem_fraction_static())?;
        if row.mem_fraction_static == self.serving.mem_fraction_static {
            return Ok(row);
        }
        at(Some(self.serving.mem_fraction_static))
    }

    /// SGLang's defaults as core computes them for this plan's GPU and request limit;
    /// `chunked_prefill_size` and `cuda_graph_max_bs` fall back to them when absent.
    fn core_sglang_sizes(&self) -> (u32, u32) {
        let memory = self.gpu_type().map_or(0, |g| g.memory_mib);
        let d = sglang_defaults(SglangDefaultsInput {
            gpu_memory_mib: memory,
            tp: self.serving.tensor_parallel,
            max_running_requests: Some(self.serving.max_running_requests),
            mla: false,
        });
        (
            self.serving
                .chunked_prefill_size
                .unwrap_or(d.chunked_prefill_size),
            self.serving
                .cuda_graph_max_bs
                .unwrap_or(d.cuda_graph_max_bs),
        )
    }

    /// The `sglang.launch_server` flags this plan decides, in a fixed order (the launcher
    /// adds host, API key and metrics). Values are validated, so none needs quoting.
    pub fn sglang_args(&self) -> Vec<String> {
        let (m, s) = (&self.model, &self.serving);
        let mut args = vec![
            ("--model-path", m.checkpoint.clone()),
            ("--served-model-name", m.id.clone()),
            ("--tp-size", s.tensor_parallel.to_string()),
            ("--context-length", m.context_length.to_string()),
        ];
        // The full name: `--pp` is ambiguous in 0.5.23's argparse (--pp-size,
        // --pp-max-micro-batch-size, --pp-async-batch-depth; arg_groups/fields/parallel.py).
        if s.pipeline_parallel > 1 {
            args.insert(3, ("--pp-size", s.pipeline_parallel.to_string()));
        }
        if let Some(flag) = m.quant_method.sglang_flag() {
            args.push(("--quantization", flag.to_string()));
        }
        // Whole experts per GPU where the checkpoint cannot split them (recommend.rs).
        if let Ok(model) = self.resolve_model() {
            let (arch, _) = model.effective_architecture();
            let ep =
                crate::recommend::expert_parallel_size(m.quant_method, &arch, s.tensor_parallel);
            if ep > 1 {
                args.push(("--ep-size", ep.to_string()));
            }
        }
        let (chunk, graph_bs) = self.core_sglang_sizes();
        args.extend([
            ("--mem-fraction-static", s.mem_fraction_static.to_string()),
            ("--chunked-prefill-size", chunk.to_string()),
            // 0.5.23 has no `--cuda-graph-max-bs`: argparse would find it ambiguous
            // between -decode and -prefill (srt/arg_groups/fields/exec_.py).
            ("--cuda-graph-max-bs-decode", graph_bs.to_string()),
            ("--kv-cache-dtype", s.kv_cache_dtype.as_str().to_string()),
            ("--max-running-requests", s.max_running_requests.to_string()),
            ("--port", s.port.to_string()),
        ]);
        args.into_iter()
            .flat_map(|(flag, value)| [flag.to_string(), value])
            .collect()
    }

    /// The calculator settings this plan stands for (its workload, when it has one).
    pub fn settings(&self) -> Settings {
        let defaults = Settings {
            quantization: self.model.quantization,
            context: self.model.context_length,
            seqs: self.serving.max_running_requests,
            kv_dtype: self.serving.kv_cache_dtype,
            // GPUs of one instance: a two-node plan's TP × PP spans both.
            gpus: self.serving.tensor_parallel * self.serving.pipeline_parallel
                / self.gpu.nodes.max(1),
            input_tokens: crate::speed::DEFAULT_INPUT_TOKENS,
            output_tokens: crate::speed::DEFAULT_OUTPUT_TOKENS,
            rate: None,
        };
        match &self.workload {
            None => defaults,
            Some(w) => Settings {
                input_tokens: w.input_tokens,
                output_tokens: w.output_tokens,
                // Validated when the plan was read or built.
                rate: w
                    .rate
                    .and_then(|r| crate::settings::Rate::new("workload.rate", r).ok()),
                ..defaults
            },
        }
    }

    /// The catalog entry of the plan's instance type.
    pub fn gpu_type(&self) -> Result<&'static GpuType, PlanError> {
        gpu::find(&self.gpu.instance_type).ok_or_else(|| {
            FieldError::new(
                "gpu.instance_type",
                &self.gpu.instance_type,
                "is not a known Lambda instance type",
            )
            .into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use build::round_to;

    fn plan_for(id: &str, instance_type: &str) -> Plan {
        let model = builtin(id).unwrap();
        Plan::build(&PlanRequest::new(
            model,
            Settings::defaults_for(model),
            gpu::find(instance_type).unwrap(),
        ))
        .unwrap()
    }

    #[test]
    fn round_trips_through_yaml_and_json() {
        let plan = plan_for("deepseek-r1-70b", "gpu_1x_a100_sxm4_80gb");
        assert_eq!(
            plan.model.checkpoint,
            "casperhansen/deepseek-r1-distill-llama-70b-awq"
        );
        assert_eq!(plan.model.quant_method, QuantMethod::Awq);
        assert_eq!(Plan::parse(&plan.to_yaml().unwrap()).unwrap(), plan);
        assert_eq!(Plan::parse(&plan.to_json().unwrap()).unwrap(), plan);
    }

    #[test]
    fn resolve_fills_open_choices_the_same_way_everywhere() {
        let model = builtin("llama-3.1-8b").unwrap();
        let settings = Settings::defaults_for(model);
        let req = PlanRequest::resolve(model, settings, &PlanChoices::default()).unwrap();
        assert_eq!(Some(req.gpu), default_gpu(model, &settings));
        assert_eq!(req.regions, DEFAULT_REGIONS.map(String::from));
        assert_eq!(
            (req.lease_hours, req.idle_minutes),
            (DEFAULT_LEASE_HOURS, DEFAULT_IDLE_MINUTES)
        );
        let choices = PlanChoices {
            gpu: gpu::find("gpu_1x_h100_sxm5"),
            preferred_region: Some("us-east-1".into()),
            lease_hours: Some(2),
            ..PlanChoices::default()
        };
        let req = PlanRequest::resolve(model, settings, &choices).unwrap();
        assert_eq!(req.gpu.instance_type, "gpu_1x_h100_sxm5");
        assert_eq!(req.regions[0], "us-east-1");
        assert_eq!(req.regions.len(), DEFAULT_REGIONS.len());
        assert_eq!(req.lease_hours, 2);
        let explicit = PlanChoices {
            regions: vec!["europe-central-1".into()],
            ..choices
        };
        let req = PlanRequest::resolve(model, settings, &explicit).unwrap();
        assert_eq!(req.regions, ["europe-central-1"]);
        assert_eq!(default_regions(Some("asia-south-1")).len(), 7);
    }

    #[test]
    fn resolve_reports_when_nothing_fits() {
        let entry: crate::config::CustomModelEntry = crate::yaml::from_str(
            "hf_path: a/b\nparams_billions: 2000\nquantization: fp32\ncontext_length: 8192\n",
        )
        .unwrap();
        let model = entry.to_model("huge");
        let err = PlanRequest::resolve(
            &model,
            Settings::defaults_for(&model),
            &PlanChoices::default(),
        )
        .unwrap_err();
        assert!(err.to_string().contains("'huge'"), "{err}");
    }

    #[test]
    fn rebuild_recomputes_what_the_file_claims() {
        let plan = plan_for("llama-3.1-8b", "gpu_1x_a10");
        assert_eq!(plan.rebuild().unwrap(), plan);
        let mut edited = plan.clone();
        if let Some(e) = edited.estimate.as_mut() {
            e.per_gpu_gib = 1.0;
        }
        edited.serving.mem_fraction_static = 0.9;
        assert_eq!(edited.rebuild().unwrap(), plan);
    }

    #[test]
    fn sglang_args_follow_the_plan() {
        // An AWQ checkpoint gets no --quantization (SGLang picks awq_marlin), and the
        // chunk and decode-graph sizes core sized with are passed.
        let plan = plan_for("deepseek-r1-70b", "gpu_1x_a100_sxm4_80gb");
        let args = plan.sglang_args().join(" ");
        assert!(
            args.starts_with("--model-path casperhansen/deepseek-r1-distill-llama-70b-awq --served-model-name deepseek-r1-70b --tp-size 1 --context-length 8192 --mem-fraction-static "),
            "{args}"
        );
        assert!(
            args.ends_with("--chunked-prefill-size 8192 --cuda-graph-max-bs-decode 1 --kv-cache-dtype auto --max-running-requests 1 --port 30000"),
            "{args}"
        );
        assert!(!args.contains("--quantization"), "{args}");
        let fp16 = plan_for("llama-3.1-8b", "gpu_1x_a10").sglang_args();
        assert!(!fp16.contains(&"--quantization".to_string()));
        let fp8 = Plan::build(&PlanRequest::new(
            builtin("llama-3.1-8b").unwrap(),
            Settings {
                quantization: Quantization::Fp8,
                ..Settings::defaults_for(builtin("llama-3.1-8b").unwrap())
            },
            gpu::find("gpu_1x_h100_sxm5").unwrap(),
        ))
        .unwrap();
        assert!(fp8.sglang_args().join(" ").contains("--quantization fp8"));
    }

    #[test]
    fn old_plans_without_the_new_fields_still_parse_and_get_cores_sizes() {
        let plan = plan_for("llama-3.1-8b", "gpu_1x_a10");
        let yaml = plan.to_yaml().unwrap();
        assert!(yaml.contains("image_family: lambda-stack-24-04"), "{yaml}");
        assert!(yaml.contains("chunked_prefill_size: 4096"), "{yaml}");
        assert!(yaml.contains("cuda_graph_max_bs: 1"), "{yaml}");
        assert!(!yaml.contains("mem_fraction_static_from_user"), "{yaml}");
        let old = yaml
            .replace("  image_family: lambda-stack-24-04\n", "")
            .replace("  chunked_prefill_size: 4096\n", "")
            .replace("  cuda_graph_max_bs: 1\n", "");
        let parsed = Plan::parse(&old).unwrap();
        assert_eq!(parsed.gpu.image_family, gpu::DEFAULT_IMAGE_FAMILY);
        assert_eq!(parsed.serving.chunked_prefill_size, None);
        assert_eq!(parsed.sglang_args(), plan.sglang_args());
        assert_eq!(parsed.rebuild().unwrap(), plan);
    }

    #[test]
    fn the_workload_is_written_and_older_plans_without_it_still_parse() {
        let model = builtin("llama-3.1-8b").unwrap();
        let settings = Settings {
            seqs: 4,
            input_tokens: 2000,
            output_tokens: 300,
            ..Settings::defaults_for(model)
        };
        let h100 = gpu::find("gpu_1x_h100_sxm5").unwrap();
        let plan = Plan::build(&PlanRequest::new(model, settings, h100)).unwrap();
        let yaml = plan.to_yaml().unwrap();
        assert!(
            yaml.contains(
                "workload:\n  input_tokens: 2000\n  output_tokens: 300\n  concurrency: 4\n"
            ),
            "{yaml}"
        );
        let e = plan.estimate.as_ref().unwrap();
        assert!(e.output_tokens_per_s > 0.0);
        assert!(e.ttft_ms.unwrap() > 0.0 && e.tpot_ms.unwrap() > 0.0);
        assert!(e.usd_per_million_output_tokens.unwrap() > 0.0);
        let parsed = Plan::parse(&yaml).unwrap();
        assert_eq!(parsed.settings(), plan.settings());
        assert_eq!(parsed.settings().workload(), settings.workload());
        // An older plan: no workload section, and the estimate's `tokens_per_s`.
        let old = Plan {
            workload: None,
            ..plan.clone()
        }
        .to_yaml()
        .unwrap()
        .lines()
        .filter(|l| {
            !["ttft_ms", "tpot_ms", "usd_per_million"]
                .iter()
                .any(|k| l.trim_start().starts_with(k))
        })
        .map(|l| l.replace("output_tokens_per_s:", "tokens_per_s:"))
        .collect::<Vec<_>>()
        .join("\n");
        assert!(old.contains("  tokens_per_s:"), "{old}");
        let parsed = Plan::parse(&old).unwrap();
        assert_eq!(parsed.workload, None);
        assert_eq!(parsed.settings().workload().basis(), "4 concurrent 1k/1k");
        // A rate instead of a concurrency.
        let at_rate = Settings {
            rate: Some(crate::settings::Rate::new("rate", 0.5).unwrap()),
            ..settings
        };
        let plan = Plan::build(&PlanRequest::new(model, at_rate, h100)).unwrap();
        let yaml = plan.to_yaml().unwrap();
        assert!(
            yaml.contains("  rate: 0.5\n") && !yaml.contains("concurrency"),
            "{yaml}"
        );
        assert_eq!(Plan::parse(&yaml).unwrap().settings(), at_rate);
        let bad = |from: &str, to: &str| field_of(&yaml.replace(from, to));
        assert_eq!(bad("  rate: 0.5\n", "  rate: 0\n"), "workload.rate");
        assert_eq!(
            bad("  rate: 0.5\n", "  rate: 0.5\n  concurrency: 4\n"),
            "workload.rate"
        );
        assert_eq!(
            bad("input_tokens: 2000", "input_tokens: 0"),
            "workload.input_tokens"
        );
        assert_eq!(
            bad("output_tokens: 300", "output_tokens: 99999999"),
            "workload.output_tokens"
        );
        assert_eq!(
            bad("  rate: 0.5\n", "  concurrency: 5\n"),
            "workload.concurrency"
        );
    }

    #[test]
    fn hopper_plans_use_fp8_e4m3_for_an_fp8_kv_cache() {
        let model = builtin("llama-3.1-8b").unwrap();
        let e5m2 = Settings {
            kv_dtype: KvDtype::Fp8E5m2,
            ..Settings::defaults_for(model)
        };
        let at = |instance_type| {
            Plan::build(&PlanRequest::new(
                model,
                e5m2,
                gpu::find(instance_type).unwrap(),
            ))
            .unwrap()
            .serving
            .kv_cache_dtype
        };
        assert_eq!(at("gpu_1x_h100_sxm5"), KvDtype::Fp8E4m3);
        assert_eq!(at("gpu_1x_gh200"), KvDtype::Fp8E4m3);
        assert_eq!(at("gpu_1x_a100_sxm4_80gb"), KvDtype::Fp8E5m2);
    }

    #[test]
    fn a_user_fraction_is_kept_through_the_file_and_rebuilds() {
        let model = builtin("llama-3.1-8b").unwrap();
        let mut req = PlanRequest::new(
            model,
            Settings::defaults_for(model),
            gpu::find("gpu_1x_a10").unwrap(),
        );
        req.mem_fraction_static = Some(0.8);
        let plan = Plan::build(&req).unwrap();
        assert_eq!(plan.serving.mem_fraction_static, 0.8);
        assert_eq!(plan.user_mem_fraction_static(), Some(0.8));
        let back = Plan::parse(&plan.to_yaml().unwrap()).unwrap();
        assert_eq!(back, plan);
        assert_eq!(back.rebuild().unwrap(), plan);
        assert_eq!(back.evaluate().unwrap().mem_fraction_static, 0.8);
        assert!(plan
            .sglang_args()
            .join(" ")
            .contains("--mem-fraction-static 0.8 "));
        req.mem_fraction_static = Some(0.99);
        match Plan::build(&req).unwrap_err() {
            PlanError::Field(f) => assert_eq!(f.field, "serving.mem_fraction_static"),
            e => panic!("{e}"),
        }
    }

    #[test]
    fn the_image_family_must_exist_for_the_instances_architecture() {
        let gh200 = plan_for("llama-3.1-8b", "gpu_1x_gh200").to_yaml().unwrap();
        let field = |text: &str| match Plan::parse(text).unwrap_err() {
            PlanError::Field(f) => (f.field, f.reason),
            e => panic!("{e}"),
        };
        let (name, reason) = field(&gh200.replace("lambda-stack-24-04", "ubuntu-24-04"));
        assert_eq!(name, "gpu.image_family");
        assert!(reason.contains("arm64"), "{reason}");
        Plan::parse(&gh200.replace("lambda-stack-24-04", "lambda-stack-22-04")).unwrap();
        let a10 = plan_for("llama-3.1-8b", "gpu_1x_a10").to_yaml().unwrap();
        Plan::parse(&a10.replace("lambda-stack-24-04", "gpu-base-24-04")).unwrap();
        let (name, _) = field(&a10.replace("lambda-stack-24-04", "lambda-stack-20-04"));
        assert_eq!(name, "gpu.image_family");
    }

    #[test]
    fn custom_models_round_trip() {
        let entry: crate::config::CustomModelEntry =
            crate::yaml::from_str("hf_path: myorg/custom-llama-70b\nparams_billions: 70\nquantization: int4\ncontext_length: 8192\n").unwrap();
        let model = entry.to_model("my-model-70b");
        let plan = Plan::build(&PlanRequest::new(
            &model,
            Settings::defaults_for(&model),
            gpu::find("gpu_1x_h100_sxm5").unwrap(),
        ))
        .unwrap();
        let back = Plan::parse(&plan.to_yaml().unwrap()).unwrap();
        assert_eq!(back, plan);
        assert_eq!(back.resolve_model().unwrap().param_count(), 70_000_000_000);
    }

    fn field_of(text: &str) -> String {
        match Plan::parse(text).unwrap_err() {
            PlanError::Field(f) => f.field,
            PlanError::Syntax { message, .. } => format!("syntax: {message}"),
            PlanError::Encode { message, .. } => format!("encode: {message}"),
        }
    }

    #[test]
    fn every_bad_field_is_named() {
        let plan = plan_for("llama-3.1-8b", "gpu_1x_a10");
        let good = plan.to_yaml().unwrap();
        let fraction = format!("mem_fraction_static: {}", plan.serving.mem_fraction_static);
        let cases = [
            ("version: 1", "version: 2", "version"),
            ("id: llama-3.1-8b", "id: nope", "model.id"),
            (
                "checkpoint: meta-llama/Llama-3.1-8B-Instruct",
                "checkpoint: meta-llama/x;rm -rf",
                "model.checkpoint",
            ),
            (
                "checkpoint: meta-llama/Llama-3.1-8B-Instruct",
                "checkpoint: other/repo",
                "model.checkpoint",
            ),
            (
                "context_length: 8192",
                "context_length: 10",
                "model.context_length",
            ),
            ("engine: sglang", "engine: vllm", "serving.engine"),
            (
                "version: 0.5.23",
                "version: 0.5.23; curl x",
                "serving.version",
            ),
            ("version: 0.5.23", "version: 0.4.0", "serving.version"),
            (
                "tensor_parallel: 1",
                "tensor_parallel: 2",
                "serving.tensor_parallel",
            ),
            (
                fraction.as_str(),
                "mem_fraction_static: 1.5",
                "serving.mem_fraction_static",
            ),
            (
                "chunked_prefill_size: 4096",
                "chunked_prefill_size: 100",
                "serving.chunked_prefill_size",
            ),
            (
                "cuda_graph_max_bs: 1",
                "cuda_graph_max_bs: 0",
                "serving.cuda_graph_max_bs",
            ),
            (
                "image_family: lambda-stack-24-04",
                "image_family: $(reboot)",
                "gpu.image_family",
            ),
            (
                "max_running_requests: 1",
                "max_running_requests: 0",
                "serving.max_running_requests",
            ),
            (
                "instance_type: gpu_1x_a10",
                "instance_type: gpu_9x_z",
                "gpu.instance_type",
            ),
            ("- us-west-1", "- $(reboot)", "gpu.regions[0]"),
            ("hours: 4", "hours: 100", "lease.hours"),
            ("idle_minutes: 30", "idle_minutes: 2", "lease.idle_minutes"),
        ];
        for (from, to, field) in cases {
            assert!(good.contains(from), "{from} not in\n{good}");
            assert_eq!(field_of(&good.replacen(from, to, 1)), field, "{to}");
        }
        let unknown = field_of(&good.replace("lease:\n", "lease:\n  surprise: 1\n"));
        assert!(unknown.contains("unknown field `surprise`"), "{unknown}");
        let variant = field_of(&good.replace("quantization: fp16", "quantization: int3"));
        assert!(
            variant.contains("model.quantization: unknown variant `int3`"),
            "{variant}"
        );
        assert!(field_of("{not json").starts_with("syntax"));
        let json = plan_for("llama-3.1-8b", "gpu_1x_a10")
            .to_json()
            .unwrap()
            .replace("\"fp16\"", "\"int3\"");
        let variant = field_of(&json);
        assert!(
            variant.contains("model.quantization: unknown variant `int3`"),
            "{variant}"
        );
    }

    fn grouped(
        plan: Plan,
        replicas: u32,
        min: Option<u32>,
        nodes: u32,
        pp: u32,
    ) -> Result<Plan, String> {
        plan.with_group(Group {
            replicas,
            min_replicas: min,
            nodes,
            pipeline_parallel: pp,
        })
        .map_err(|e| match e {
            PlanError::Field(f) => format!("{}={}", f.field, f.value),
            e => e.to_string(),
        })
    }

    #[test]
    fn replicas_are_written_only_when_more_than_one_and_round_trip() {
        let single = plan_for("llama-3.1-8b", "gpu_1x_a10");
        let yaml = single.to_yaml().unwrap();
        for field in ["replicas", "min_replicas", "nodes", "pipeline_parallel"] {
            assert!(!yaml.contains(field), "{field} in\n{yaml}");
        }
        let group = grouped(single.clone(), 3, Some(2), 1, 1).unwrap();
        let yaml = group.to_yaml().unwrap();
        assert!(
            yaml.contains("  replicas: 3\n  min_replicas: 2\n"),
            "{yaml}"
        );
        let back = Plan::parse(&yaml).unwrap();
        assert_eq!(back, group);
        assert_eq!(back.rebuild().unwrap(), group);
        assert_eq!((back.gpu.min_replicas(), back.gpu.instance_count()), (2, 3));
        // min_replicas equal to replicas is the default and is not written.
        let all = grouped(single, 3, Some(3), 1, 1).unwrap();
        assert_eq!(all.gpu.min_replicas, None);
        assert_eq!(all.gpu.min_replicas(), 3);
    }

    #[test]
    fn a_group_s_estimate_prices_every_instance() {
        let single = plan_for("llama-3.1-8b", "gpu_1x_a10");
        let one = single.estimate.clone().unwrap();
        let group = grouped(single, 3, Some(2), 1, 1).unwrap();
        let three = group.estimate.clone().unwrap();
        assert_eq!(three.price_per_hour_usd, 3.0 * one.price_per_hour_usd);
        assert_eq!(
            three.lease_cost_usd,
            round_to(
                3.0 * one.price_per_hour_usd * f64::from(group.lease.hours),
                2
            )
        );
        // Everything else is one replica's.
        assert_eq!(
            (three.per_gpu_gib, three.fit, three.ttft_ms),
            (one.per_gpu_gib, one.fit, one.ttft_ms)
        );
        let r1 = plan_for("deepseek-r1-671b", "gpu_8x_h100_sxm5");
        let pair = grouped(r1.clone(), 1, None, 2, 2).unwrap();
        let node = r1.gpu_type().unwrap().price_per_hour_usd();
        assert_eq!(pair.estimate.unwrap().price_per_hour_usd, 2.0 * node);
    }

    #[test]
    fn two_nodes_split_the_model_over_both_machines() {
        let r1 = plan_for("deepseek-r1-671b", "gpu_8x_h100_sxm5");
        let pp = grouped(r1.clone(), 1, None, 2, 2).unwrap();
        assert_eq!(
            (pp.serving.tensor_parallel, pp.serving.pipeline_parallel),
            (8, 2)
        );
        assert_eq!(pp.gpu.instance_count(), 2);
        assert_eq!(pp.settings().gpus, 8);
        let args = pp.sglang_args().join(" ");
        assert!(args.contains("--tp-size 8 --pp-size 2 "), "{args}");
        let tp = grouped(r1.clone(), 1, None, 2, 1).unwrap();
        assert_eq!(tp.serving.tensor_parallel, 16);
        assert!(!tp.sglang_args().join(" ").contains("--pp-size"));
        let yaml = tp.to_yaml().unwrap();
        assert!(yaml.contains("  nodes: 2\n"), "{yaml}");
        assert_eq!(Plan::parse(&yaml).unwrap(), tp);
        assert_eq!(
            Plan::parse(&pp.to_yaml().unwrap())
                .unwrap()
                .rebuild()
                .unwrap(),
            pp
        );
    }

    #[test]
    fn a_two_node_plan_is_sized_as_its_layout_on_two_nodes() {
        let model = builtin("deepseek-r1-671b").unwrap();
        let settings = Settings {
            quantization: Quantization::Fp8,
            ..Settings::defaults_for(model)
        };
        let h100 = gpu::find("gpu_8x_h100_sxm5").unwrap();
        let one = Plan::build(&PlanRequest::new(model, settings, h100)).unwrap();
        assert_eq!(one.estimate.as_ref().unwrap().fit, Fit::No);
        let two_node =
            crate::multi_node::two_nodes(model, &one.settings(), h100, &one.settings().workload())
                .unwrap();
        for (pp, layout) in [
            (2, crate::multi_node::Layout::Pp2Tp8),
            (1, crate::multi_node::Layout::Tp16),
        ] {
            let plan = grouped(one.clone(), 1, None, 2, pp).unwrap();
            let expected = two_node.layout(layout).unwrap();
            let e = plan.estimate.as_ref().unwrap();
            assert_ne!(e.fit, Fit::No, "{layout:?}: {}", expected.reason);
            assert_eq!(e.fit, expected.fit);
            assert_eq!(
                plan.serving.mem_fraction_static,
                expected.mem_fraction_static
            );
            assert_eq!(e.kv_pool_tokens, expected.kv_pool_tokens);
            assert_eq!(
                e.per_gpu_gib,
                round_to(gpu::in_gib(expected.per_gpu_bytes), 2)
            );
            assert_eq!(
                e.output_tokens_per_s,
                round_to(expected.speed.output_tokens_per_s, 1)
            );
            let row = plan.evaluate().unwrap();
            assert_eq!((row.fit, row.tp), (expected.fit, layout.tp()));
            assert_eq!(row.mem_fraction_static, plan.serving.mem_fraction_static);
            assert!(plan.sglang_args().join(" ").contains(&format!(
                "--mem-fraction-static {} ",
                expected.mem_fraction_static
            )));
            // What a file carries rebuilds to itself.
            assert_eq!(
                Plan::parse(&plan.to_yaml().unwrap())
                    .unwrap()
                    .rebuild()
                    .unwrap(),
                plan
            );
        }
        // The user's own fraction goes to every rank and sizes the pools.
        let mut req = PlanRequest::new(model, settings, h100);
        req.mem_fraction_static = Some(0.85);
        let plan = grouped(Plan::build(&req).unwrap(), 1, None, 2, 2).unwrap();
        assert_eq!(plan.serving.mem_fraction_static, 0.85);
        assert_eq!(plan.evaluate().unwrap().mem_fraction_static, 0.85);
        assert_eq!(
            Plan::parse(&plan.to_yaml().unwrap())
                .unwrap()
                .rebuild()
                .unwrap(),
            plan
        );
    }

    #[test]
    fn impossible_groups_name_the_field_and_value() {
        let small = plan_for("llama-3.1-8b", "gpu_1x_a10");
        let r1 = plan_for("deepseek-r1-671b", "gpu_8x_h100_sxm5");
        let cases = [
            (grouped(small.clone(), 0, None, 1, 1), "gpu.replicas=0"),
            (
                grouped(small.clone(), MAX_REPLICAS + 1, None, 1, 1),
                "gpu.replicas=17",
            ),
            (
                grouped(small.clone(), 3, Some(4), 1, 1),
                "gpu.min_replicas=4",
            ),
            (
                grouped(small.clone(), 3, Some(0), 1, 1),
                "gpu.min_replicas=0",
            ),
            (grouped(small.clone(), 1, None, 2, 1), "gpu.nodes=2"),
            (grouped(small.clone(), 1, None, 3, 1), "gpu.nodes=3"),
            (grouped(small, 1, None, 1, 2), "serving.pipeline_parallel=2"),
            (grouped(r1.clone(), 2, None, 2, 2), "gpu.replicas=2"),
            (grouped(r1, 1, None, 2, 3), "serving.pipeline_parallel=3"),
        ];
        for (result, expected) in cases {
            assert_eq!(result.unwrap_err(), expected);
        }
        let two = grouped(
            plan_for("deepseek-r1-671b", "gpu_8x_h100_sxm5"),
            1,
            None,
            2,
            2,
        )
        .unwrap()
        .to_yaml()
        .unwrap();
        assert_eq!(
            field_of(&two.replace("tensor_parallel: 8", "tensor_parallel: 16")),
            "serving.tensor_parallel"
        );
    }
}
