//! The model registry: the reference's seven built-in models and the current ones, with the
//! architecture from each model's official `config.json` and the checkpoint SGLang
//! must load for each quantization; custom models; the reference's selection guides.

use crate::arch::Architecture;
use crate::hf_config::HfConfig;
pub use crate::quant::QuantMethod;
use crate::quant::Quantization;
use serde::{Deserialize, Serialize};
use std::sync::OnceLock;

mod current_architectures;

/// A Hugging Face repository SGLang loads, and how.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    pub hf_path: String,
    pub method: QuantMethod,
}

/// Facts only the reference's card for a built-in model gives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReferenceCard {
    /// The card's "Est. VRAM" (also the quick-comparison table's VRAM column).
    pub est_vram_gb: u32,
    /// The card's "Min GPU" line.
    pub min_gpu: &'static str,
    /// The Lambda instance type that line names.
    pub min_gpu_type: &'static str,
    /// The quick-comparison table's cost per hour.
    pub cost_per_hour_usd: f64,
    /// The card's quantization line, e.g. "INT4 (GPTQ/AWQ)".
    pub quantization_label: &'static str,
    /// The card's context remark, e.g. "4x longer than DeepSeek".
    pub context_note: Option<&'static str>,
    /// The "⭐ Recommended" mark.
    pub recommended: bool,
}

impl ReferenceCard {
    /// The card's "Min GPU", with "not offered on demand as of <date>" when Lambda no
    /// longer lists the type it names.
    pub fn min_gpu_label(&self) -> String {
        match crate::gpu::find(self.min_gpu_type).and_then(|g| g.availability_note()) {
            Some(note) => format!("{} ({note})", self.min_gpu),
            None => self.min_gpu.to_string(),
        }
    }
}

/// A model the calculator and CLI can size: built-in or custom.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Model {
    pub id: String,
    pub name: String,
    /// One-line summary (the bold line under each heading of the reference).
    pub tagline: String,
    /// The repository the registry names for the model's default quantization.
    pub hf_path: String,
    /// Size in billions as the reference (or the user) states it; the reference formula uses it.
    pub params_billions: f64,
    /// Default weight quantization.
    pub quantization: Quantization,
    /// Default context length in tokens.
    pub context_length: u32,
    /// Exact shape, when known (all built-ins; custom models given one).
    pub architecture: Option<Architecture>,
    pub best_for: String,
    pub good_for: Vec<String>,
    pub not_good_for: Vec<String>,
    pub notes: String,
    /// Checkpoints by quantization; 16-bit and FP8 serve from `base_checkpoint`.
    pub quantized_checkpoints: Vec<(Quantization, Checkpoint)>,
    /// The full-precision repository (16-bit weights), when one is known.
    pub base_checkpoint: Option<String>,
    /// Gated on Hugging Face: SGLang needs `HF_TOKEN` to download it.
    pub gated: bool,
    pub builtin: bool,
    pub reference: Option<ReferenceCard>,
}

/// One custom model: what a user states about it (the config file's `custom_models`
/// entry, a plan's `model.custom`, a share link's spec, `estimate --params`). The
/// reference's schema, plus the optional architecture and quantization method that make
/// the serving estimate exact. [`Model::custom`] turns it into a [`Model`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomModel {
    pub hf_path: String,
    pub params_billions: f64,
    pub quantization: Quantization,
    pub context_length: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub good_for: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_good_for: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quant_method: Option<QuantMethod>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub architecture: Option<Architecture>,
}

/// Size a newly described custom model starts at, in billions: the original tool's
/// `models add` prompt default (a 7 B model), on every face.
pub const CUSTOM_DEFAULT_PARAMS_BILLIONS: f64 = 7.0;
/// Weights a newly described custom model starts at (the original tool's prompt default).
pub const CUSTOM_DEFAULT_QUANTIZATION: Quantization = Quantization::Fp16;
/// Context a newly described custom model starts at, tokens (the original tool's prompt
/// default).
pub const CUSTOM_DEFAULT_CONTEXT: u32 = 8192;
/// Largest model size accepted, in billions (above any dense model published): custom
/// sizes are in (0, MAX_PARAMS_BILLIONS].
pub const MAX_PARAMS_BILLIONS: f64 = 2000.0;

/// Whether `params_billions` is a size a custom model may have: finite, in (0, max].
pub fn params_billions_in_range(params_billions: f64) -> bool {
    params_billions.is_finite() && params_billions > 0.0 && params_billions <= MAX_PARAMS_BILLIONS
}

impl CustomModel {
    /// The four facts every custom model has; the rest start empty.
    pub fn new(
        hf_path: impl Into<String>,
        params_billions: f64,
        quantization: Quantization,
        context_length: u32,
    ) -> CustomModel {
        CustomModel {
            hf_path: hf_path.into(),
            params_billions,
            quantization,
            context_length,
            name: None,
            notes: None,
            good_for: Vec::new(),
            not_good_for: Vec::new(),
            quant_method: None,
            architecture: None,
        }
    }

    /// A model described by its Hugging Face repo `hf_path` and that repo's parsed
    /// `config.json`: the exact architecture and parameter count, and the checkpoint the
    /// repo itself is, stored as its `quantization_config` says (another quantization
    /// is a setting: `checkpoint_for` then says whether SGLang can serve this repo so,
    /// e.g. online FP8 from a 16-bit repo). `context` defaults to
    /// [`CUSTOM_DEFAULT_CONTEXT`], capped at the model's `max_position_embeddings`.
    pub fn from_hf_config(hf_path: &str, config: &HfConfig, context: Option<u32>) -> CustomModel {
        let name = hf_path.rsplit('/').next().unwrap_or(hf_path);
        CustomModel {
            name: Some(name.to_string()),
            quant_method: config
                .checkpoint_quantization
                .is_some()
                .then(|| config.quant_method()),
            architecture: Some(config.architecture),
            ..CustomModel::new(
                hf_path,
                config.params_billions(),
                config.quantization(),
                context
                    .unwrap_or_else(|| CUSTOM_DEFAULT_CONTEXT.min(config.architecture.max_context)),
            )
        }
    }
}

/// The model id a Hugging Face repo gets when sized by name (`--hf`, the site's
/// `m=hf:` link): its name in lowercase, other characters as '-', at most 64; prefixed
/// `hf-` when that is a built-in's id, so the repo's own config always describes it.
pub fn hf_model_id(hf_path: &str) -> String {
    let name = hf_path.rsplit('/').next().unwrap_or(hf_path);
    let mut id: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9' | '.' | '_' | '-') => c,
            _ => '-',
        })
        .collect();
    let id_start = id.trim_start_matches(['.', '_', '-']).to_string();
    id = if id_start.is_empty() {
        "hf-model".to_string()
    } else {
        id_start
    };
    if builtin(&id).is_some() {
        id = format!("hf-{id}");
    }
    id.truncate(64);
    id
}

/// No checkpoint is known that serves this model at that quantization.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("model '{model}' has no known {quantization} checkpoint: {hint}")]
pub struct NoCheckpoint {
    pub model: String,
    pub quantization: Quantization,
    pub hint: String,
}

impl Model {
    /// The one constructor of a custom model (id `id`, described by `custom`; validate
    /// it first). 16-bit weights serve from `hf_path` as the base checkpoint; other
    /// quantizations from `hf_path` as that quantization's checkpoint.
    pub fn custom(id: &str, custom: &CustomModel) -> Model {
        let method = custom
            .quant_method
            .unwrap_or_else(|| QuantMethod::default_for(custom.quantization));
        let sixteen_bit = matches!(
            custom.quantization,
            Quantization::Fp16 | Quantization::Bf16 | Quantization::Fp32
        );
        let checkpoint = Checkpoint {
            hf_path: custom.hf_path.clone(),
            method,
        };
        Model {
            id: id.to_string(),
            name: custom.name.clone().unwrap_or_else(|| id.to_string()),
            tagline: String::new(),
            hf_path: custom.hf_path.clone(),
            params_billions: custom.params_billions,
            quantization: custom.quantization,
            context_length: custom.context_length,
            architecture: custom.architecture,
            best_for: String::new(),
            good_for: custom.good_for.clone(),
            not_good_for: custom.not_good_for.clone(),
            notes: custom.notes.clone().unwrap_or_default(),
            quantized_checkpoints: if sixteen_bit {
                Vec::new()
            } else {
                vec![(custom.quantization, checkpoint)]
            },
            base_checkpoint: sixteen_bit.then(|| custom.hf_path.clone()),
            gated: false,
            builtin: false,
            reference: None,
        }
    }

    /// Exact parameter count where the architecture is known, else the stated size.
    pub fn param_count(&self) -> u64 {
        match &self.architecture {
            Some(arch) => arch.param_count(),
            None => (self.params_billions * 1e9).round() as u64,
        }
    }

    /// The architecture to estimate with, and whether it was inferred from the size alone.
    pub fn effective_architecture(&self) -> (Architecture, bool) {
        match self.architecture {
            Some(arch) => (arch, false),
            None => (
                Architecture::inferred_from_params(
                    self.param_count(),
                    self.context_length.max(512),
                ),
                true,
            ),
        }
    }

    /// Longest context the model supports.
    pub fn max_context(&self) -> u32 {
        self.architecture
            .map_or(self.context_length, |a| a.max_context)
            .max(self.context_length)
    }

    /// The checkpoint SGLang loads to serve this model at `quantization`.
    /// Whether SGLang quantizes this model while loading it (`--quantization fp8` on a
    /// 16-bit checkpoint), rather than loading weights stored at that precision.
    pub fn quantizes_at_load(&self, quantization: Quantization) -> bool {
        let prequantized = self
            .quantized_checkpoints
            .iter()
            .any(|(q, _)| *q == quantization);
        !prequantized
            && self
                .checkpoint_for(quantization)
                .is_ok_and(|c| c.method == QuantMethod::Fp8)
    }

    pub fn checkpoint_for(&self, quantization: Quantization) -> Result<Checkpoint, NoCheckpoint> {
        if let Some((_, c)) = self
            .quantized_checkpoints
            .iter()
            .find(|(q, _)| *q == quantization)
        {
            return Ok(c.clone());
        }
        let from_base = |method| {
            self.base_checkpoint.as_ref().map(|hf_path| Checkpoint {
                hf_path: hf_path.clone(),
                method,
            })
        };
        let found = match quantization {
            Quantization::Fp32 | Quantization::Fp16 | Quantization::Bf16 => {
                from_base(QuantMethod::None)
            }
            Quantization::Fp8 => from_base(QuantMethod::Fp8),
            Quantization::Int8 | Quantization::Int4 | Quantization::Mxfp4 => None,
        };
        found.ok_or_else(|| NoCheckpoint {
            model: self.id.clone(),
            quantization,
            hint: match quantization {
                Quantization::Int4 | Quantization::Int8 | Quantization::Mxfp4 => format!(
                    "SGLang cannot quantize to {} at load time; add a custom model whose hf_path is a pre-quantized checkpoint, or choose fp8",
                    quantization.label()
                ),
                _ => "its only checkpoint is pre-quantized; add a custom model with the full-precision repository".to_string(),
            },
        })
    }

    /// Quantizations that have a checkpoint for this model.
    pub fn servable_quantizations(&self) -> Vec<Quantization> {
        Quantization::ALL
            .into_iter()
            .filter(|q| self.checkpoint_for(*q).is_ok())
            .collect()
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn awq(hf_path: &str) -> (Quantization, Checkpoint) {
    (
        Quantization::Int4,
        Checkpoint {
            hf_path: hf_path.to_string(),
            method: QuantMethod::Awq,
        },
    )
}

fn fp8_block(hf_path: &str) -> (Quantization, Checkpoint) {
    (
        Quantization::Fp8,
        Checkpoint {
            hf_path: hf_path.to_string(),
            method: QuantMethod::Fp8Block,
        },
    )
}

fn mxfp4(hf_path: &str) -> (Quantization, Checkpoint) {
    (
        Quantization::Mxfp4,
        Checkpoint {
            hf_path: hf_path.to_string(),
            method: QuantMethod::Mxfp4,
        },
    )
}

fn w8a8(hf_path: &str) -> (Quantization, Checkpoint) {
    (
        Quantization::Int8,
        Checkpoint {
            hf_path: hf_path.to_string(),
            method: QuantMethod::CompressedTensors,
        },
    )
}

// Architectures, from each model's official config.json on Hugging Face.
/// meta-llama/Llama-3.1-70B-Instruct (and deepseek-ai/DeepSeek-R1-Distill-Llama-70B,
/// which is distilled into the same shape): the constant tested against its config.json.
const LLAMA_3_1_70B: Architecture = current_architectures::LLAMA_3_1_70B_INSTRUCT;
/// meta-llama/Llama-3.1-8B-Instruct
const LLAMA_3_1_8B: Architecture = Architecture {
    layers: 32,
    hidden: 4096,
    intermediate: 14336,
    heads: 32,
    kv_heads: 8,
    head_dim: 128,
    vocab: 128_256,
    tied_embeddings: false,
    attention_bias: false,
    sliding_window: None,
    max_context: 131_072,
    ..Architecture::DENSE
};
/// Qwen/Qwen2.5-Coder-32B-Instruct: q/k/v carry biases; `use_sliding_window` is false,
/// and max_position_embeddings is 32768 (YaRN extends it, but not by default).
const QWEN_2_5_CODER_32B: Architecture = Architecture {
    layers: 64,
    hidden: 5120,
    intermediate: 27648,
    heads: 40,
    kv_heads: 8,
    head_dim: 128,
    vocab: 152_064,
    tied_embeddings: false,
    attention_bias: true,
    sliding_window: None,
    max_context: 32_768,
    ..Architecture::DENSE
};
/// codellama/CodeLlama-34b-Instruct-hf
const CODELLAMA_34B: Architecture = Architecture {
    layers: 48,
    hidden: 8192,
    intermediate: 22016,
    heads: 64,
    kv_heads: 8,
    head_dim: 128,
    vocab: 32_000,
    tied_embeddings: false,
    attention_bias: false,
    sliding_window: None,
    max_context: 16_384,
    ..Architecture::DENSE
};
/// mistralai/Mistral-7B-Instruct-v0.3: `sliding_window` is null in v0.3.
const MISTRAL_7B_V0_3: Architecture = Architecture {
    layers: 32,
    hidden: 4096,
    intermediate: 14336,
    heads: 32,
    kv_heads: 8,
    head_dim: 128,
    vocab: 32_768,
    tied_embeddings: false,
    attention_bias: false,
    sliding_window: None,
    max_context: 32_768,
    ..Architecture::DENSE
};

fn build_builtins() -> Vec<Model> {
    let mut models = vec![
        Model {
            id: "deepseek-r1-70b".into(),
            name: "DeepSeek-R1 70B".into(),
            tagline: "Best for complex coding tasks requiring deep reasoning.".into(),
            hf_path: "deepseek-ai/DeepSeek-R1-Distill-Llama-70B".into(),
            params_billions: 70.0,
            quantization: Quantization::Int4,
            context_length: 8192,
            architecture: Some(LLAMA_3_1_70B),
            best_for: "Complex reasoning".into(),
            good_for: strings(&["Complex multi-step reasoning", "Debugging difficult issues", "Architecture decisions", "Code review with explanations", "Chain-of-thought problem solving"]),
            not_good_for: strings(&["Simple/quick tasks (overkill)", "Long context windows (8K limit)", "Speed-critical applications"]),
            notes: "Chain-of-thought reasoning model. Slower but more accurate than general models. Uses reinforcement learning from human feedback (RLHF) for better reasoning. INT4 is served from the community AWQ checkpoint casperhansen/deepseek-r1-distill-llama-70b-awq; DeepSeek publishes only BF16 weights.".into(),
            quantized_checkpoints: vec![awq("casperhansen/deepseek-r1-distill-llama-70b-awq")],
            base_checkpoint: Some("deepseek-ai/DeepSeek-R1-Distill-Llama-70B".into()),
            gated: false,
            builtin: true,
            reference: Some(ReferenceCard { est_vram_gb: 44, min_gpu: "1x A100 SXM4 (80 GB)", min_gpu_type: "gpu_1x_a100_sxm4_80gb", cost_per_hour_usd: 1.29, quantization_label: "INT4 (GPTQ/AWQ)", context_note: None, recommended: true }),
        },
        Model {
            id: "qwen2.5-coder-32b".into(),
            name: "Qwen 2.5 Coder 32B".into(),
            tagline: "Fast coding specialist with exceptional context length.".into(),
            hf_path: "Qwen/Qwen2.5-Coder-32B-Instruct".into(),
            params_billions: 32.0,
            quantization: Quantization::Fp16,
            context_length: 32_768,
            architecture: Some(QWEN_2_5_CODER_32B),
            best_for: "Fast code generation".into(),
            good_for: strings(&["Code generation and completion", "Large file refactoring (32K context)", "Fast iteration cycles", "Multiple programming languages", "Reviewing entire modules at once"]),
            not_good_for: strings(&["Complex reasoning chains", "Non-coding tasks", "Tasks requiring world knowledge"]),
            notes: "Purpose-built for code. Supports 80+ programming languages. 4x longer context than DeepSeek makes it ideal for working with large files.".into(),
            quantized_checkpoints: vec![awq("Qwen/Qwen2.5-Coder-32B-Instruct-AWQ")],
            base_checkpoint: Some("Qwen/Qwen2.5-Coder-32B-Instruct".into()),
            gated: false,
            builtin: true,
            reference: Some(ReferenceCard { est_vram_gb: 69, min_gpu: "1x A100 SXM4 (80 GB)", min_gpu_type: "gpu_1x_a100_sxm4_80gb", cost_per_hour_usd: 1.29, quantization_label: "FP16", context_note: Some("4x longer than DeepSeek"), recommended: false }),
        },
        Model {
            id: "qwen2.5-coder-32b-int4".into(),
            name: "Qwen 2.5 Coder 32B INT4".into(),
            tagline: "Budget-friendly quantized version of Qwen Coder.".into(),
            hf_path: "Qwen/Qwen2.5-Coder-32B-Instruct-AWQ".into(),
            params_billions: 32.0,
            quantization: Quantization::Int4,
            context_length: 32_768,
            architecture: Some(QWEN_2_5_CODER_32B),
            best_for: "Code on budget".into(),
            good_for: strings(&["Same tasks as Qwen FP16", "Cheaper GPU requirements (A10 vs A100)", "Good quality/cost ratio", "Cost-conscious development"]),
            not_good_for: strings(&["Maximum accuracy (slight quality loss)", "Tasks where FP16 precision matters"]),
            notes: "~5% quality loss vs FP16, but runs on cheaper GPUs. Uses AWQ (Activation-aware Weight Quantization) for better quality than naive INT4.".into(),
            quantized_checkpoints: vec![awq("Qwen/Qwen2.5-Coder-32B-Instruct-AWQ")],
            base_checkpoint: Some("Qwen/Qwen2.5-Coder-32B-Instruct".into()),
            gated: false,
            builtin: true,
            reference: Some(ReferenceCard { est_vram_gb: 22, min_gpu: "1x A10 (24 GB)", min_gpu_type: "gpu_1x_a10", cost_per_hour_usd: 0.60, quantization_label: "INT4 (AWQ)", context_note: None, recommended: false }),
        },
        Model {
            id: "llama-3.1-70b".into(),
            name: "Llama 3.1 70B".into(),
            tagline: "General-purpose powerhouse for diverse tasks.".into(),
            hf_path: "meta-llama/Llama-3.1-70B-Instruct".into(),
            params_billions: 70.0,
            quantization: Quantization::Int4,
            context_length: 8192,
            architecture: Some(LLAMA_3_1_70B),
            best_for: "General purpose".into(),
            good_for: strings(&["Broad task coverage", "Instruction following", "Writing and documentation", "Code + general knowledge", "Balanced performance"]),
            not_good_for: strings(&["Pure coding (Qwen better)", "Deep reasoning (DeepSeek better)", "Very long contexts"]),
            notes: "Jack of all trades. Good baseline choice when task type is unclear. Strong instruction following and safer outputs due to extensive RLHF training. INT4 is served from hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4; the meta-llama repositories are gated (set HF_TOKEN).".into(),
            quantized_checkpoints: vec![awq("hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4"), w8a8("RedHatAI/Meta-Llama-3.1-70B-Instruct-quantized.w8a8")],
            base_checkpoint: Some("meta-llama/Llama-3.1-70B-Instruct".into()),
            gated: true,
            builtin: true,
            reference: Some(ReferenceCard { est_vram_gb: 44, min_gpu: "1x A100 SXM4 (80 GB)", min_gpu_type: "gpu_1x_a100_sxm4_80gb", cost_per_hour_usd: 1.29, quantization_label: "INT4", context_note: None, recommended: false }),
        },
        Model {
            id: "llama-3.1-8b".into(),
            name: "Llama 3.1 8B".into(),
            tagline: "Fast and economical for simple tasks.".into(),
            hf_path: "meta-llama/Llama-3.1-8B-Instruct".into(),
            params_billions: 8.0,
            quantization: Quantization::Fp16,
            context_length: 8192,
            architecture: Some(LLAMA_3_1_8B),
            best_for: "Quick tasks, prototyping".into(),
            good_for: strings(&["Quick simple tasks", "Lowest cost", "Rapid prototyping", "Simple code changes", "Testing workflows"]),
            not_good_for: strings(&["Complex reasoning", "Large codebases", "Nuanced decisions", "Multi-step tasks"]),
            notes: "Use when speed/cost matters more than quality. Great for testing infrastructure or simple repetitive tasks. The meta-llama repositories are gated (set HF_TOKEN).".into(),
            quantized_checkpoints: vec![awq("hugging-quants/Meta-Llama-3.1-8B-Instruct-AWQ-INT4"), w8a8("RedHatAI/Meta-Llama-3.1-8B-Instruct-quantized.w8a8")],
            base_checkpoint: Some("meta-llama/Llama-3.1-8B-Instruct".into()),
            gated: true,
            builtin: true,
            reference: Some(ReferenceCard { est_vram_gb: 18, min_gpu: "1x A10 (24 GB)", min_gpu_type: "gpu_1x_a10", cost_per_hour_usd: 0.60, quantization_label: "FP16", context_note: None, recommended: false }),
        },
        Model {
            id: "codellama-34b".into(),
            name: "Code Llama 34B".into(),
            tagline: "Meta's dedicated coding model (older generation).".into(),
            hf_path: "codellama/CodeLlama-34b-Instruct-hf".into(),
            params_billions: 34.0,
            quantization: Quantization::Fp16,
            context_length: 16_384,
            architecture: Some(CODELLAMA_34B),
            best_for: "Code completion".into(),
            good_for: strings(&["Code completion", "Infilling (fill-in-the-middle)", "16K context window", "Python, Java, C++"]),
            not_good_for: strings(&["Latest techniques (2023 model)", "Complex reasoning", "Non-code tasks"]),
            notes: "Older but still capable. Consider Qwen 2.5 Coder for newer alternative with better performance.".into(),
            quantized_checkpoints: vec![awq("TheBloke/CodeLlama-34B-Instruct-AWQ")],
            base_checkpoint: Some("codellama/CodeLlama-34b-Instruct-hf".into()),
            gated: false,
            builtin: true,
            reference: Some(ReferenceCard { est_vram_gb: 73, min_gpu: "1x A100 SXM4 (80 GB)", min_gpu_type: "gpu_1x_a100_sxm4_80gb", cost_per_hour_usd: 1.29, quantization_label: "FP16", context_note: None, recommended: false }),
        },
        Model {
            id: "mistral-7b".into(),
            name: "Mistral 7B".into(),
            tagline: "Efficient model with sliding window attention.".into(),
            hf_path: "mistralai/Mistral-7B-Instruct-v0.3".into(),
            params_billions: 7.0,
            quantization: Quantization::Fp16,
            context_length: 32_768,
            architecture: Some(MISTRAL_7B_V0_3),
            best_for: "Long contexts, efficiency".into(),
            good_for: strings(&["Long documents (32K context)", "Low resource usage", "Fast inference", "Sliding window attention"]),
            not_good_for: strings(&["Complex coding tasks", "Tasks needing large model capacity"]),
            notes: "Great efficiency but limited capacity. Sliding window attention belongs to Mistral 7B v0.1; v0.3, served here, has none (sliding_window: null in its config.json), so its KV cache grows with the full 32K context. The repository is gated (set HF_TOKEN).".into(),
            quantized_checkpoints: vec![awq("solidrust/Mistral-7B-Instruct-v0.3-AWQ")],
            base_checkpoint: Some("mistralai/Mistral-7B-Instruct-v0.3".into()),
            gated: true,
            builtin: true,
            reference: Some(ReferenceCard { est_vram_gb: 20, min_gpu: "1x A10 (24 GB)", min_gpu_type: "gpu_1x_a10", cost_per_hour_usd: 0.60, quantization_label: "FP16", context_note: None, recommended: false }),
        },
    ];
    models.extend(current_models());
    models
}

/// A current model (not in the reference): no reference card; the architecture comes
/// from its config.json.
#[allow(clippy::too_many_arguments)]
fn current(
    id: &str,
    name: &str,
    tagline: &str,
    hf_path: &str,
    params_billions: f64,
    quantization: Quantization,
    context_length: u32,
    architecture: Architecture,
    best_for: &str,
    good_for: &[&str],
    not_good_for: &[&str],
    notes: &str,
    quantized_checkpoints: Vec<(Quantization, Checkpoint)>,
    base_checkpoint: Option<&str>,
    gated: bool,
) -> Model {
    Model {
        id: id.into(),
        name: name.into(),
        tagline: tagline.into(),
        hf_path: hf_path.into(),
        params_billions,
        quantization,
        context_length,
        architecture: Some(architecture),
        best_for: best_for.into(),
        good_for: strings(good_for),
        not_good_for: strings(not_good_for),
        notes: notes.into(),
        quantized_checkpoints,
        base_checkpoint: base_checkpoint.map(String::from),
        gated,
        builtin: true,
        reference: None,
    }
}

/// Current open models SGLang 0.5.23 serves, with the checkpoints their publishers ship.
/// `params_billions` is the publisher's stated size (what the reference formula reads);
/// the exact count comes from the architecture.
fn current_models() -> Vec<Model> {
    vec![
        current(
            "gpt-oss-20b", "gpt-oss 20B",
            "OpenAI's small open-weight reasoning MoE: 21B parameters, 4.2B active per token (3.6B without the input embedding, as OpenAI counts), in one 16 GB-class GPU.",
            "openai/gpt-oss-20b", 20.9, Quantization::Mxfp4, 32_768,
            current_architectures::GPT_OSS_20B,
            "Cheap reasoning and tool use",
            &["Reasoning with adjustable effort", "Tool calling and agents", "Fast decode (4.2B active)", "Fits a single A10 in MXFP4"],
            &["Deep world knowledge (small model)", "Vision input (text only)"],
            "32 experts, 4 per token; MXFP4 experts (4.25 bits per weight with block scales), everything else BF16, as OpenAI ships it. Alternating 128-token sliding-window and full attention layers with attention sinks: SGLang sizes the sliding layers with its smaller SWA pool.",
            vec![mxfp4("openai/gpt-oss-20b")], None, false,
        ),
        current(
            "gpt-oss-120b", "gpt-oss 120B",
            "OpenAI's large open-weight reasoning MoE: 117B parameters, 5.7B active per token (5.1B without the input embedding, as OpenAI counts), on one 80 GB GPU.",
            "openai/gpt-oss-120b", 116.8, Quantization::Mxfp4, 32_768,
            current_architectures::GPT_OSS_120B,
            "Strong reasoning on one GPU",
            &["Complex reasoning and coding", "Agentic tool use", "High throughput for its quality (5.7B active)", "Single H100 or GH200"],
            &["GPUs under 80 GB", "Vision input (text only)"],
            "128 experts, 4 per token, MXFP4 experts and BF16 attention as shipped; 61 GiB of weights. Alternating 128-token sliding-window and full attention with sinks.",
            vec![mxfp4("openai/gpt-oss-120b")], None, false,
        ),
        current(
            "qwen3-32b", "Qwen3 32B",
            "Dense hybrid-thinking model from Qwen: strong general and coding quality.",
            "Qwen/Qwen3-32B", 32.8, Quantization::Bf16, 32_768,
            current_architectures::QWEN3_32B,
            "Dense all-rounder",
            &["Coding and reasoning (thinking mode)", "Multilingual work", "Predictable latency (dense)", "FP8 on one 80 GB GPU"],
            &["Cheapest decode (every token reads all 32.8B)", "Contexts beyond 32K without YaRN"],
            "Qwen's own FP8 (block-wise 128x128) and AWQ checkpoints are served for FP8 and INT4.",
            vec![fp8_block("Qwen/Qwen3-32B-FP8"), awq("Qwen/Qwen3-32B-AWQ")], Some("Qwen/Qwen3-32B"), false,
        ),
        current(
            "qwen3-30b-a3b", "Qwen3 30B-A3B",
            "Small MoE from Qwen: 30.5B parameters, 3.4B active per token (Qwen rounds it down to 3.3B), fast on one GPU.",
            "Qwen/Qwen3-30B-A3B", 30.5, Quantization::Bf16, 32_768,
            current_architectures::QWEN3_30B_A3B,
            "Fast, cheap general model",
            &["High-throughput chat and coding", "Fast decode (3.4B active)", "Thinking and non-thinking modes"],
            &["Hardest reasoning (Qwen3 32B / 235B better)", "GPUs under 80 GB in BF16"],
            "128 experts, 8 per token. FP8 is Qwen's block-wise checkpoint; its 768-wide experts do not split into 128-column blocks at TP 8, so SGLang refuses it on 8 GPUs.",
            vec![fp8_block("Qwen/Qwen3-30B-A3B-FP8")], Some("Qwen/Qwen3-30B-A3B"), false,
        ),
        current(
            "qwen3-235b-a22b", "Qwen3 235B-A22B",
            "Qwen's flagship MoE: 235B parameters, 22B active, in FP8.",
            "Qwen/Qwen3-235B-A22B-FP8", 235.0, Quantization::Fp8, 32_768,
            current_architectures::QWEN3_235B_A22B_FP8,
            "Frontier-class open model",
            &["Hard reasoning and coding", "Long multi-step agent work", "Multilingual"],
            &["Single-GPU instances", "Low budgets"],
            "128 experts, 8 per token; Qwen's FP8 checkpoint (block-wise 128x128 scales) is 236 GB. Its 1536-wide experts split into 192 columns at TP 8, which is not a multiple of the 128-column scale blocks, so SGLang refuses TP 8 for the FP8 checkpoint; BF16 (470 GB) needs 8x B200.",
            vec![fp8_block("Qwen/Qwen3-235B-A22B-FP8")], Some("Qwen/Qwen3-235B-A22B"), false,
        ),
        current(
            "deepseek-r1-671b", "DeepSeek-R1 671B",
            "DeepSeek's full reasoning model: 671B MoE with multi-head latent attention, FP8.",
            "deepseek-ai/DeepSeek-R1", 671.0, Quantization::Fp8, 32_768,
            current_architectures::DEEPSEEK_R1,
            "Open frontier reasoning",
            &["Hardest reasoning, math and code", "Long chains of thought", "Small KV cache per token (MLA)"],
            &["Anything smaller than 8x B200", "Latency-sensitive chat"],
            "256 routed experts (8 per token) plus a shared expert; MLA keeps one 576-element latent per token and layer, the same on every GPU. Ships only in FP8 with 128x128 block scales. The Hub's 685B includes a 14B multi-token-prediction layer SGLang loads only for speculative decoding; 671B is what it serves.",
            vec![fp8_block("deepseek-ai/DeepSeek-R1")], None, false,
        ),
        current(
            "llama-3.3-70b", "Llama 3.3 70B",
            "Meta's refreshed 70B instruct model on the Llama 3.1 70B architecture.",
            "meta-llama/Llama-3.3-70B-Instruct", 70.6, Quantization::Fp8, 16_384,
            current_architectures::LLAMA_3_1_70B_INSTRUCT,
            "Dense general purpose",
            &["Instruction following", "Writing and documentation", "Tool calling", "FP8 on one 80 GB GPU"],
            &["Deep reasoning (R1 / Qwen3 better)", "Cheap decode (dense 70B)"],
            "Same architecture as Llama 3.1 70B (its config.json is used). FP8 is applied by SGLang at load time. The repository is gated (set HF_TOKEN).",
            vec![], Some("meta-llama/Llama-3.3-70B-Instruct"), true,
        ),
        current(
            "gemma-3-27b", "Gemma 3 27B",
            "Google's dense 27B with 5 local : 1 global attention layers.",
            "google/gemma-3-27b-it", 27.0, Quantization::Bf16, 32_768,
            current_architectures::GEMMA_3_27B_IT,
            "Dense mid-size model",
            &["Multilingual chat", "Summaries and writing", "Fits one 80 GB GPU in BF16"],
            &["Coding specialists do better", "Long contexts in SGLang (every layer keeps full KV)"],
            "Counts the 27.0B text model; SGLang disables the vision tower for Gemma 3 by default (--enable-multimodal turns it on). Five of six layers use a 1024-token sliding window, but SGLang 0.5.23 gives Gemma 3 no separate SWA pool, so every layer's KV grows with the context. The repository is gated (accept the Gemma licence; set HF_TOKEN).",
            vec![], Some("google/gemma-3-27b-it"), true,
        ),
        current(
            "kimi-k2", "Kimi K2 Instruct",
            "Moonshot's 1T-parameter MoE (32.9B active per token; 32B without the input embedding, as Moonshot counts) on the DeepSeek-V3 architecture.",
            "moonshotai/Kimi-K2-Instruct", 1026.4, Quantization::Fp8, 32_768,
            current_architectures::KIMI_K2_INSTRUCT,
            "Agentic coding at scale",
            &["Agentic coding and tool use", "Long agent sessions (small MLA KV)"],
            &["Anything smaller than 8x B200", "Reasoning traces (non-thinking model)"],
            "384 routed experts, 8 per token, plus a shared expert; MLA with 64 heads. Ships in FP8 with 128x128 block scales (1.03 TB): only the 8x B200 instance holds it.",
            vec![fp8_block("moonshotai/Kimi-K2-Instruct")], None, false,
        ),
    ]
}

/// The built-in models: the reference's seven in its order, then the current models.
pub fn builtins() -> &'static [Model] {
    static BUILTINS: OnceLock<Vec<Model>> = OnceLock::new();
    BUILTINS.get_or_init(build_builtins)
}

/// The reference's seven models (those with a reference card).
pub fn reference_models() -> impl Iterator<Item = &'static Model> {
    builtins().iter().filter(|m| m.reference.is_some())
}

/// A built-in model by id.
pub fn builtin(id: &str) -> Option<&'static Model> {
    builtins().iter().find(|m| m.id == id)
}

/// The id of the reference's recommended model, the default everywhere.
pub const DEFAULT_MODEL_ID: &str = "deepseek-r1-70b";

/// Ids close to `wanted` (edit distance or shared prefix), best first: for "did you mean".
pub fn suggest<'a>(wanted: &str, ids: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let wanted = wanted.to_ascii_lowercase();
    let mut scored: Vec<(usize, &str)> = ids
        .into_iter()
        .filter_map(|id| {
            let distance = strsim::levenshtein(&wanted, &id.to_ascii_lowercase());
            let close = distance <= wanted.len().max(3) / 2
                || id.contains(&wanted)
                || wanted.get(..3).is_some_and(|prefix| id.starts_with(prefix));
            close.then_some((distance, id))
        })
        .collect();
    scored.sort();
    scored.into_iter().map(|(_, id)| id).take(3).collect()
}

/// One row of the reference's "By Use Case" guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct UseCaseGuide {
    pub task: &'static str,
    pub model_id: &'static str,
    pub why: &'static str,
}

/// The reference's "Model Selection Guide — By Use Case".
pub const BY_USE_CASE: [UseCaseGuide; 6] = [
    UseCaseGuide {
        task: "Complex debugging",
        model_id: "deepseek-r1-70b",
        why: "Chain-of-thought reasoning",
    },
    UseCaseGuide {
        task: "Large file refactoring",
        model_id: "qwen2.5-coder-32b",
        why: "32K context window",
    },
    UseCaseGuide {
        task: "Budget coding",
        model_id: "qwen2.5-coder-32b-int4",
        why: "Good quality, cheap GPU",
    },
    UseCaseGuide {
        task: "General purpose",
        model_id: "llama-3.1-70b",
        why: "Balanced performance",
    },
    UseCaseGuide {
        task: "Quick testing",
        model_id: "llama-3.1-8b",
        why: "Fast and cheap",
    },
    UseCaseGuide {
        task: "Long documents",
        model_id: "mistral-7b",
        why: "32K context, efficient",
    },
];

/// One row of the reference's "By GPU Budget" guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct GpuBudgetGuide {
    pub gpu: &'static str,
    pub vram_gb: u32,
    pub suitable: &'static str,
}

/// The reference's "Model Selection Guide — By GPU Budget", verbatim. The calculator's
/// fit table is the live answer; this is the reference's rule of thumb.
pub const BY_GPU_BUDGET: [GpuBudgetGuide; 4] = [
    GpuBudgetGuide {
        gpu: "A10 (24 GB)",
        vram_gb: 24,
        suitable: "Llama 8B, Mistral 7B, Qwen 32B INT4",
    },
    GpuBudgetGuide {
        gpu: "A6000 (48 GB)",
        vram_gb: 48,
        suitable: "DeepSeek-R1 70B, Llama 70B",
    },
    GpuBudgetGuide {
        gpu: "A100 (80 GB)",
        vram_gb: 80,
        suitable: "All models, especially Qwen 32B FP16",
    },
    GpuBudgetGuide {
        gpu: "H100 (80 GB)",
        vram_gb: 80,
        suitable: "All models with faster inference",
    },
];

/// One row of the reference's "By Context Length Needs" guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ContextGuide {
    pub context_tokens: u32,
    pub model_ids: &'static [&'static str],
}

/// The reference's "Model Selection Guide — By Context Length Needs".
pub const BY_CONTEXT: [ContextGuide; 3] = [
    ContextGuide {
        context_tokens: 8192,
        model_ids: &["deepseek-r1-70b", "llama-3.1-8b", "llama-3.1-70b"],
    },
    ContextGuide {
        context_tokens: 16_384,
        model_ids: &["codellama-34b"],
    },
    ContextGuide {
        context_tokens: 32_768,
        model_ids: &["qwen2.5-coder-32b", "qwen2.5-coder-32b-int4", "mistral-7b"],
    },
];

/// Selection guide for the current models, by use case (ours, not the reference's;
/// the reference's `BY_USE_CASE` stays its rule of thumb for its seven).
pub const CURRENT_BY_USE_CASE: [UseCaseGuide; 9] = [
    UseCaseGuide {
        task: "Cheapest reasoning",
        model_id: "gpt-oss-20b",
        why: "3.6B active, MXFP4: one A10",
    },
    UseCaseGuide {
        task: "Reasoning on one GPU",
        model_id: "gpt-oss-120b",
        why: "117B MoE in 61 GiB of MXFP4",
    },
    UseCaseGuide {
        task: "Fast MoE on one GPU",
        model_id: "qwen3-30b-a3b",
        why: "3.3B active: high tokens/s",
    },
    UseCaseGuide {
        task: "Dense all-rounder",
        model_id: "qwen3-32b",
        why: "Strong coding and reasoning, predictable latency",
    },
    UseCaseGuide {
        task: "General purpose, dense 70B",
        model_id: "llama-3.3-70b",
        why: "Instruction following; FP8 on one 80 GB GPU",
    },
    UseCaseGuide {
        task: "Multilingual writing",
        model_id: "gemma-3-27b",
        why: "27B dense, 140 languages",
    },
    UseCaseGuide {
        task: "Frontier open model on 8 GPUs",
        model_id: "qwen3-235b-a22b",
        why: "22B active, FP8 on 8x A100 40 GB and up",
    },
    UseCaseGuide {
        task: "Hardest reasoning",
        model_id: "deepseek-r1-671b",
        why: "671B MoE with MLA; needs 8x B200",
    },
    UseCaseGuide {
        task: "Agentic coding at scale",
        model_id: "kimi-k2",
        why: "1T MoE, 32B active; needs 8x B200",
    },
];

/// One row of the current models' instance guide.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct InstanceGuide {
    pub instance_type: &'static str,
    pub model_ids: &'static [&'static str],
}

/// Where the current models run at their default quantization and context (derived by
/// `recommend`; a test keeps it true): single 24 GB and 80 GB GPUs for the small MoEs
/// and dense models, 8-GPU boards for 235B-1T.
pub const CURRENT_BY_INSTANCE: [InstanceGuide; 4] = [
    InstanceGuide {
        instance_type: "gpu_1x_a10",
        model_ids: &["gpt-oss-20b"],
    },
    InstanceGuide {
        instance_type: "gpu_1x_h100_sxm5",
        model_ids: &[
            "gpt-oss-20b",
            "gpt-oss-120b",
            "qwen3-30b-a3b",
            "gemma-3-27b",
        ],
    },
    InstanceGuide {
        instance_type: "gpu_8x_h100_sxm5",
        model_ids: &["qwen3-235b-a22b"],
    },
    InstanceGuide {
        instance_type: "gpu_8x_b200_sxm6",
        model_ids: &["qwen3-235b-a22b", "deepseek-r1-671b", "kimi-k2"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_from_a_repos_config_is_its_checkpoint_as_stored() {
        let config = crate::hf_config::parse_hf_config(include_str!(
            "../tests/fixtures/hf-configs/Qwen__Qwen3-235B-A22B-FP8.json"
        ))
        .unwrap();
        let repo = "Qwen/Qwen3-235B-A22B-FP8";
        let entry = CustomModel::from_hf_config(repo, &config, None);
        assert_eq!(entry.quantization, Quantization::Fp8);
        assert_eq!(entry.quant_method, Some(QuantMethod::Fp8Block));
        assert_eq!(entry.architecture, Some(config.architecture));
        assert_eq!(entry.context_length, CUSTOM_DEFAULT_CONTEXT);
        assert_eq!(entry.name.as_deref(), Some("Qwen3-235B-A22B-FP8"));
        let model = Model::custom(&hf_model_id(repo), &entry);
        let checkpoint = model.checkpoint_for(Quantization::Fp8).unwrap();
        assert_eq!(
            (checkpoint.hf_path.as_str(), checkpoint.method),
            (repo, QuantMethod::Fp8Block)
        );
        assert_eq!(model.param_count(), config.architecture.param_count());
        // Another quantization is a setting: a pre-quantized repo serves only its own.
        assert!(model.checkpoint_for(Quantization::Int4).is_err());
        assert!(model.checkpoint_for(Quantization::Bf16).is_err());
        // A 16-bit repo also serves online FP8 from itself.
        let dense = crate::hf_config::parse_hf_config(include_str!(
            "../tests/fixtures/hf-configs/Qwen__Qwen3-32B.json"
        ))
        .unwrap();
        let entry = CustomModel::from_hf_config("Qwen/Qwen3-32B", &dense, Some(4096));
        assert_eq!((entry.quant_method, entry.context_length), (None, 4096));
        let model = Model::custom("qwen3-32b-hf", &entry);
        let fp8 = model.checkpoint_for(Quantization::Fp8).unwrap();
        assert_eq!(
            (fp8.hf_path.as_str(), fp8.method),
            ("Qwen/Qwen3-32B", QuantMethod::Fp8)
        );
    }

    #[test]
    fn hf_model_ids_are_valid_and_never_a_builtins() {
        assert_eq!(
            hf_model_id("Qwen/Qwen3-235B-A22B-FP8"),
            "qwen3-235b-a22b-fp8"
        );
        assert_eq!(hf_model_id("org/My Model+v2"), "my-model-v2");
        assert_eq!(hf_model_id("org/-.x"), "x");
        assert_eq!(hf_model_id("org/---"), "hf-model");
        let builtin_id = &builtins()[0].id;
        assert_eq!(
            hf_model_id(&format!("org/{builtin_id}")),
            format!("hf-{builtin_id}")
        );
        let long = hf_model_id(&format!("org/{}", "a".repeat(100)));
        assert_eq!(long.len(), 64);
        for repo in ["Qwen/Qwen3-32B", "org/___A", "org/x.y_z"] {
            crate::validate::model_id("id", &hf_model_id(repo)).unwrap();
        }
    }

    #[test]
    fn seven_builtins_with_unique_ids_and_valid_architectures() {
        // The reference's seven stay; the current models come after them.
        assert_eq!(reference_models().count(), 7);
        assert!(builtins()[..7].iter().all(|m| m.reference.is_some()));
        for m in builtins() {
            m.architecture.unwrap().validate().unwrap();
            assert!(m.context_length <= m.max_context(), "{}", m.id);
            assert_eq!(builtins().iter().filter(|o| o.id == m.id).count(), 1);
            assert!(m.checkpoint_for(m.quantization).is_ok(), "{}", m.id);
        }
        for m in reference_models() {
            m.architecture.unwrap().validate().unwrap();
            assert!(m.context_length <= m.max_context());
            assert_eq!(builtins().iter().filter(|o| o.id == m.id).count(), 1);
            // The default quantization of every built-in is servable.
            let c = m.checkpoint_for(m.quantization).unwrap();
            // The reference names the base repository for some INT4 entries; we serve the
            // pre-quantized one, and the base stays the model's own repository.
            assert!(
                c.hf_path == m.hf_path || m.base_checkpoint.as_ref() == Some(&m.hf_path),
                "{}",
                m.id
            );
        }
        assert!(
            builtin(DEFAULT_MODEL_ID)
                .unwrap()
                .reference
                .as_ref()
                .unwrap()
                .recommended
        );
    }

    #[test]
    fn reference_min_gpus_name_catalog_types_and_say_when_lambda_no_longer_offers_them() {
        for m in reference_models() {
            let card = m.reference.as_ref().unwrap();
            let gpu = crate::gpu::find(card.min_gpu_type).unwrap();
            let memory = format!("({} GB)", gpu.nominal_memory_gb);
            assert!(card.min_gpu.contains(&memory), "{}", m.id);
            assert_eq!(gpu.gpu_count, 1, "{}", m.id);
            let label = card.min_gpu_label();
            assert_eq!(
                label.contains("not offered on demand"),
                !gpu.offered,
                "{label}"
            );
        }
        let deepseek = builtin("deepseek-r1-70b")
            .unwrap()
            .reference
            .as_ref()
            .unwrap();
        assert_eq!(
            deepseek.min_gpu_label(),
            format!(
                "1x A100 SXM4 (80 GB) (not offered on demand as of {})",
                crate::gpu::OFFERED_AS_OF
            )
        );
    }

    /// Every "<n>B active" a model's texts state, and every "<n>B without the input
    /// embedding", as (figure, decimals it is given to).
    fn stated(text: &str, unit: &str) -> Vec<(f64, usize)> {
        text.match_indices(unit)
            .map(|(at, _)| {
                let number: String = text[..at]
                    .chars()
                    .rev()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                let decimals = number.split_once('.').map_or(0, |(_, d)| d.len());
                (number.parse().unwrap(), decimals)
            })
            .collect()
    }

    #[test]
    fn active_parameter_figures_in_model_texts_are_the_counts_shown() {
        let mut checked = 0;
        for m in builtins() {
            let parts = m.architecture.unwrap().param_breakdown();
            let texts = std::iter::once(&m.tagline).chain(&m.good_for);
            for text in texts {
                for (unit, count) in [
                    ("B active", parts.active()),
                    (
                        "B without the input embedding",
                        parts.active() - parts.embedding,
                    ),
                ] {
                    for (figure, decimals) in stated(text, unit) {
                        let exact = count as f64 / 1e9;
                        let tolerance = 0.5 / 10f64.powi(decimals as i32) + 1e-9;
                        assert!(
                            (figure - exact).abs() <= tolerance,
                            "{}: '{text}' says {figure}{unit}; the count is {exact:.2}B",
                            m.id
                        );
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked >= 8, "{checked}");
    }

    #[test]
    fn exact_parameter_counts_follow_from_the_architectures() {
        let expect = [
            ("llama-3.1-8b", 8_030_261_248u64),
            ("llama-3.1-70b", 70_553_706_496),
            ("deepseek-r1-70b", 70_553_706_496),
            ("qwen2.5-coder-32b", 32_763_876_352),
            ("qwen2.5-coder-32b-int4", 32_763_876_352),
            ("codellama-34b", 33_743_970_304),
            ("mistral-7b", 7_248_023_552),
        ];
        for (id, params) in expect {
            assert_eq!(builtin(id).unwrap().param_count(), params, "{id}");
        }
    }

    #[test]
    fn int4_entries_name_a_prequantized_repository() {
        for m in reference_models() {
            let c = m.checkpoint_for(Quantization::Int4).unwrap();
            assert_eq!(c.method, QuantMethod::Awq);
            assert_ne!(Some(&c.hf_path), m.base_checkpoint.as_ref(), "{}", m.id);
            assert_eq!(
                m.checkpoint_for(Quantization::Fp8).unwrap().method,
                QuantMethod::Fp8
            );
        }
        let err = builtin("mistral-7b")
            .unwrap()
            .checkpoint_for(Quantization::Int8)
            .unwrap_err();
        assert!(err.to_string().contains("mistral-7b"), "{err}");
    }

    #[test]
    fn current_guides_point_at_current_models() {
        for g in CURRENT_BY_USE_CASE {
            let m = builtin(g.model_id).unwrap();
            assert!(m.reference.is_none(), "{}", g.model_id);
        }
        for m in builtins().iter().filter(|m| m.reference.is_none()) {
            assert!(
                CURRENT_BY_USE_CASE.iter().any(|g| g.model_id == m.id),
                "{} has no guide row",
                m.id
            );
        }
    }

    #[test]
    fn guides_point_at_real_models() {
        for g in BY_USE_CASE {
            assert!(builtin(g.model_id).is_some());
        }
        for g in BY_CONTEXT {
            for id in g.model_ids {
                assert!(builtin(id).unwrap().context_length >= g.context_tokens);
            }
        }
    }

    #[test]
    fn suggestions_find_near_misses() {
        let ids = builtins().iter().map(|m| m.id.as_str());
        assert_eq!(suggest("deepseek-r1-7b", ids.clone())[0], "deepseek-r1-70b");
        assert_eq!(suggest("llama-3.1-8", ids.clone())[0], "llama-3.1-8b");
        assert!(suggest("zzzzzzzzzz", ids).is_empty());
    }
}
