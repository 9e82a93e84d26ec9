//! Reading a Hugging Face `config.json`: the architecture of each supported family and
//! the `quantization_config` of a pre-quantized checkpoint.
//!
//! `parse_hf_config(text)` is the one entry point: it gives the `Architecture` (exact
//! parameter counts, KV layout) and, for a pre-quantized checkpoint, the quantization
//! the checkpoint stores, so a face can turn any `config.json` into an exact estimate.

use crate::arch::{
    Architecture, ArchitectureError, LinearAttention, LocalAttention, LocalKind, Mla, Moe,
};
use crate::quant::QuantMethod;
use crate::quant::Quantization;
use serde::Serialize;
use serde_json::{Map, Value};

/// The `model_type`s read (the text model's, for multimodal wrappers).
pub const SUPPORTED_MODEL_TYPES: [&str; 17] = [
    "llama",
    "mistral",
    "mixtral",
    "qwen2",
    "qwen3",
    "qwen3_moe",
    "qwen3_next",
    "deepseek_v2",
    "deepseek_v3",
    "kimi_k2",
    "glm4_moe",
    "gpt_oss",
    "gemma3",
    "gemma3_text",
    "llama4",
    "llama4_text",
    "phi3",
];

/// Why a pasted Hugging Face `config.json` cannot describe a model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HfConfigError {
    #[error("not valid JSON: {0}")]
    Json(String),
    #[error("config.json must be a JSON object")]
    NotAnObject,
    #[error("config.json has no '{0}' field")]
    Missing(&'static str),
    #[error("config.json field '{field}' must be {expected}")]
    WrongType {
        field: &'static str,
        expected: &'static str,
    },
    #[error("config.json model_type '{0}' is not supported (supported: {list})", list = SUPPORTED_MODEL_TYPES.join(", "))]
    UnknownModelType(String),
    #[error("config.json field '{field}' = {value}: {reason}")]
    Unsupported {
        field: &'static str,
        value: String,
        reason: &'static str,
    },
    #[error("config.json field '{}' = {}: {}", .0.field, .0.value, .0.reason)]
    Invalid(ArchitectureError),
}

/// What a pre-quantized checkpoint stores, from its `quantization_config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckpointQuantization {
    /// The quantization the estimate prices the weights at.
    pub quantization: Quantization,
    /// How SGLang loads it.
    pub method: QuantMethod,
    /// Bits per quantized weight element.
    pub bits: u32,
    /// Input elements sharing one scale (AWQ/GPTQ `group_size`, MXFP4's 32).
    pub group_size: Option<u32>,
    /// FP8 block-wise scales: `weight_block_size` [rows, columns] (DeepSeek-V3, Qwen3-FP8).
    pub block: Option<[u32; 2]>,
    /// Modules left in 16 bit (`modules_to_not_convert` / `ignore`).
    pub not_converted: Vec<String>,
}

/// Everything read from a `config.json`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HfConfig {
    /// The text model's `model_type`.
    pub model_type: String,
    pub architecture: Architecture,
    /// `None` for a 16-bit checkpoint.
    pub checkpoint_quantization: Option<CheckpointQuantization>,
    /// Multi-token-prediction layers (`num_nextn_predict_layers`): stored in the
    /// checkpoint but loaded by SGLang only as a speculative-decoding draft, so not
    /// counted in `architecture`.
    pub mtp_layers: u32,
}

impl HfConfig {
    /// The quantization to estimate with by default: what the checkpoint stores, else
    /// 16 bit.
    pub fn quantization(&self) -> Quantization {
        self.checkpoint_quantization
            .as_ref()
            .map_or(Quantization::Bf16, |q| q.quantization)
    }

    /// How SGLang loads the checkpoint (`QuantMethod::None` for 16 bit).
    pub fn quant_method(&self) -> QuantMethod {
        self.checkpoint_quantization
            .as_ref()
            .map_or(QuantMethod::None, |q| q.method)
    }

    /// The exact parameter count in billions, for `Model::params_billions`.
    pub fn params_billions(&self) -> f64 {
        self.architecture.param_count() as f64 / 1e9
    }
}

/// Typed access to one JSON object, with errors naming the field.
struct Fields<'a> {
    obj: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    fn get(&self, field: &str) -> Option<&'a Value> {
        match self.obj.get(field) {
            None | Some(Value::Null) => None,
            Some(v) => Some(v),
        }
    }

    fn uint(&self, field: &'static str) -> Result<Option<u32>, HfConfigError> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .and_then(|n| u32::try_from(n).ok())
                .map(Some)
                .ok_or(HfConfigError::WrongType {
                    field,
                    expected: "a whole number",
                }),
        }
    }

    fn required(&self, field: &'static str) -> Result<u32, HfConfigError> {
        self.uint(field)?.ok_or(HfConfigError::Missing(field))
    }

    fn flag(&self, field: &'static str) -> Result<Option<bool>, HfConfigError> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v.as_bool().map(Some).ok_or(HfConfigError::WrongType {
                field,
                expected: "true or false",
            }),
        }
    }

    fn string(&self, field: &'static str) -> Result<Option<&'a str>, HfConfigError> {
        match self.get(field) {
            None => Ok(None),
            Some(v) => v.as_str().map(Some).ok_or(HfConfigError::WrongType {
                field,
                expected: "a string",
            }),
        }
    }

    fn strings(&self, field: &'static str) -> Result<Vec<&'a str>, HfConfigError> {
        let wrong = HfConfigError::WrongType {
            field,
            expected: "a list of strings",
        };
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().ok_or(wrong.clone()))
                .collect(),
            Some(_) => Err(wrong),
        }
    }

    fn uints(&self, field: &'static str) -> Result<Vec<u32>, HfConfigError> {
        let wrong = HfConfigError::WrongType {
            field,
            expected: "a list of whole numbers",
        };
        match self.get(field) {
            None => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_u64()
                        .and_then(|n| u32::try_from(n).ok())
                        .ok_or(wrong.clone())
                })
                .collect(),
            Some(_) => Err(wrong),
        }
    }
}

/// Count of `0..layers` for which `pred` holds.
fn count_layers(layers: u32, pred: impl Fn(u32) -> bool) -> u32 {
    (0..layers.min(100_000)).filter(|&i| pred(i)).count() as u32
}

fn nonzero(field: &'static str, value: u32) -> Result<u32, HfConfigError> {
    if value == 0 {
        Err(HfConfigError::Invalid(ArchitectureError {
            field,
            value: "0".into(),
            reason: "must be at least 1",
        }))
    } else {
        Ok(value)
    }
}

/// Parse a `config.json`. Families (by the text model's `model_type`): llama, mistral,
/// mixtral, qwen2, qwen3, qwen3_moe, qwen3_next, deepseek_v2/v3 and kimi_k2, glm4_moe,
/// gpt_oss, gemma3 (its `text_config`), llama4 (its `text_config`), phi3. An unknown
/// `model_type` or a missing required field is an error naming it. Where transformers
/// has a default for a field and the config omits it, the default applies (named at
/// each place below); everything else is required.
pub fn parse_hf_config(text: &str) -> Result<HfConfig, HfConfigError> {
    let root: Value = serde_json::from_str(text).map_err(|e| HfConfigError::Json(e.to_string()))?;
    let root = root.as_object().ok_or(HfConfigError::NotAnObject)?;
    let f = Fields {
        obj: text_model_object(root)?,
    };
    let (model_type, family) = model_family(&f, &Fields { obj: root })?;
    let mut arch = common_architecture(&f, family)?;
    let mtp_layers = read_family(&f, family, &mut arch)?;
    arch.validate().map_err(HfConfigError::Invalid)?;
    Ok(HfConfig {
        model_type: model_type.to_string(),
        architecture: arch,
        checkpoint_quantization: checkpoint_quantization(root)?,
        mtp_layers,
    })
}

/// The object holding the language model's fields: multimodal wrappers (Gemma 3,
/// Llama 4, LLaVA) keep them in `text_config`.
fn text_model_object(root: &Map<String, Value>) -> Result<&Map<String, Value>, HfConfigError> {
    match root.get("text_config") {
        Some(Value::Object(text)) if !root.contains_key("num_hidden_layers") => Ok(text),
        Some(Value::Object(_)) | None | Some(Value::Null) => Ok(root),
        Some(_) => Err(HfConfigError::WrongType {
            field: "text_config",
            expected: "an object",
        }),
    }
}

/// The text model's `model_type` and the family it is read as (Gemma 3 and Llama 4
/// text configs are read like their wrappers).
fn model_family<'a>(f: &Fields<'a>, top: &Fields<'a>) -> Result<(&'a str, &'a str), HfConfigError> {
    let model_type = match f.string("model_type")? {
        Some(t) => t,
        None => top
            .string("model_type")?
            .ok_or(HfConfigError::Missing("model_type"))?,
    };
    let family = if model_type == "gemma3_text" || top.string("model_type")? == Some("gemma3") {
        "gemma3"
    } else if model_type == "llama4_text" {
        "llama4"
    } else {
        model_type
    };
    if !SUPPORTED_MODEL_TYPES.contains(&family) {
        return Err(HfConfigError::UnknownModelType(model_type.to_string()));
    }
    Ok((model_type, family))
}

/// The fields every family shares: sizes, heads, vocabulary, context, biases.
fn common_architecture(f: &Fields<'_>, family: &str) -> Result<Architecture, HfConfigError> {
    let hidden = f.required("hidden_size")?;
    let layers = f.required("num_hidden_layers")?;
    let heads = match (family, f.uint("num_attention_heads")?) {
        (_, Some(h)) => h,
        // transformers Gemma3TextConfig default.
        ("gemma3", None) => 8,
        (_, None) => return Err(HfConfigError::Missing("num_attention_heads")),
    };
    let head_dim = match (family, f.uint("head_dim")?) {
        (_, Some(d)) => d,
        // transformers Gemma3TextConfig default.
        ("gemma3", None) => 256,
        (_, None) => hidden / heads.max(1),
    };
    let sliding_window = if f.flag("use_sliding_window")? == Some(false) {
        None
    } else {
        f.uint("sliding_window")?
    };
    let mut arch = Architecture {
        layers,
        hidden,
        intermediate: 0,
        heads,
        kv_heads: f.uint("num_key_value_heads")?.unwrap_or(heads),
        head_dim,
        vocab: 0,
        tied_embeddings: f.flag("tie_word_embeddings")?.unwrap_or(false),
        attention_bias: f.flag("attention_bias")?.unwrap_or(family == "qwen2"),
        sliding_window,
        max_context: 0,
        ..Architecture::default()
    };
    if family == "gemma3" {
        // transformers Gemma3TextConfig defaults: vocab_size 262208, 131072 positions,
        // tied embeddings, sliding_window_pattern 6 (every sixth layer global),
        // 4096-token window.
        arch.vocab = f.uint("vocab_size")?.unwrap_or(262_208);
        arch.max_context = f.uint("max_position_embeddings")?.unwrap_or(131_072);
        arch.tied_embeddings = f.flag("tie_word_embeddings")?.unwrap_or(true);
        arch.intermediate = f.required("intermediate_size")?;
    } else {
        arch.vocab = f.required("vocab_size")?;
        arch.max_context = f.required("max_position_embeddings")?;
        // Mixtral's and gpt-oss's intermediate_size is the expert width; the dense
        // width is then unused (every layer is MoE). Llama 4 names its dense width
        // intermediate_size_mlp.
        arch.intermediate = match family {
            "llama4" => f
                .uint("intermediate_size_mlp")?
                .or(f.uint("intermediate_size")?)
                .ok_or(HfConfigError::Missing("intermediate_size_mlp"))?,
            _ => f.required("intermediate_size")?,
        };
    }
    Ok(arch)
}

/// What only `family` has (norms, biases, MoE, MLA, local attention); returns the
/// multi-token-prediction layers the checkpoint stores.
fn read_family(
    f: &Fields<'_>,
    family: &str,
    arch: &mut Architecture,
) -> Result<u32, HfConfigError> {
    let mut mtp_layers = 0;
    match family {
        "llama" => arch.output_bias = arch.attention_bias,
        // Phi-3/phi-4 fuse qkv and gate/up into one tensor each: the same counts.
        "mistral" | "qwen2" | "phi3" => {}
        "qwen3" => {
            arch.qk_norm = true;
            arch.output_bias = arch.attention_bias;
        }
        "mixtral" => {
            arch.moe = Some(Moe {
                experts: f.required("num_local_experts")?,
                experts_per_token: f.required("num_experts_per_tok")?,
                expert_intermediate: arch.intermediate,
                shared_intermediate: 0,
                dense_layers: 0,
                router_bias: false,
                expert_bias: false,
                shared_expert_gate: false,
            });
        }
        "qwen3_moe" | "qwen3_next" => read_qwen3_moe(f, family == "qwen3_next", arch)?,
        "deepseek_v2" | "deepseek_v3" | "kimi_k2" => {
            read_mla(f, arch)?;
            arch.moe = Some(deepseek_moe(f, arch.layers)?);
            mtp_layers = f.uint("num_nextn_predict_layers")?.unwrap_or(0);
        }
        "glm4_moe" => {
            arch.qk_norm = f.flag("use_qk_norm")?.unwrap_or(false);
            arch.moe = Some(deepseek_moe(f, arch.layers)?);
            mtp_layers = f.uint("num_nextn_predict_layers")?.unwrap_or(0);
        }
        "gpt_oss" => read_gpt_oss(f, arch)?,
        "gemma3" => read_gemma3(f, arch)?,
        "llama4" => read_llama4(f, arch)?,
        other => return Err(HfConfigError::UnknownModelType(other.to_string())),
    }
    Ok(mtp_layers)
}

/// Qwen3-MoE and Qwen3-Next: sparse-step experts, and for Next a shared expert, gated
/// attention and linear-attention layers.
fn read_qwen3_moe(
    f: &Fields<'_>,
    next: bool,
    arch: &mut Architecture,
) -> Result<(), HfConfigError> {
    let layers = arch.layers;
    arch.qk_norm = true;
    arch.output_bias = arch.attention_bias;
    // transformers Qwen3MoeConfig: decoder_sparse_step 1, mlp_only_layers [].
    let step = nonzero(
        "decoder_sparse_step",
        f.uint("decoder_sparse_step")?.unwrap_or(1),
    )?;
    let mlp_only = f.uints("mlp_only_layers")?;
    let experts = f.required("num_experts")?;
    let moe_layers = count_layers(layers, |i| {
        !mlp_only.contains(&i) && experts > 0 && (i + 1) % step == 0
    });
    let shared = if next {
        f.required("shared_expert_intermediate_size")?
    } else {
        0
    };
    arch.moe = Some(Moe {
        experts,
        experts_per_token: f.required("num_experts_per_tok")?,
        expert_intermediate: f.required("moe_intermediate_size")?,
        shared_intermediate: shared,
        dense_layers: layers - moe_layers,
        router_bias: false,
        expert_bias: false,
        shared_expert_gate: shared > 0,
    });
    if next {
        arch.gated_attention = true;
        arch.local_attention = qwen3_next_linear_layers(f, layers)?;
    }
    Ok(())
}

/// Qwen3-Next's linear-attention (Gated DeltaNet) layers.
fn qwen3_next_linear_layers(
    f: &Fields<'_>,
    layers: u32,
) -> Result<Option<LocalAttention>, HfConfigError> {
    let interval = nonzero(
        "full_attention_interval",
        f.required("full_attention_interval")?,
    )?;
    // SGLang 0.5.23 configs/qwen3_next.py `layers_block_type`: layer i is full
    // attention when (i + 1) % full_attention_interval == 0.
    let linear_layers = count_layers(layers, |i| (i + 1) % interval != 0);
    let state_bytes = match f.string("mamba_ssm_dtype")? {
        None | Some("float32") => 4,
        Some("bfloat16") | Some("float16") => 2,
        Some(other) => {
            return unsupported(
                "mamba_ssm_dtype",
                other.to_string(),
                "expected float32, bfloat16 or float16",
            )
        }
    };
    if linear_layers == 0 {
        return Ok(None);
    }
    Ok(Some(LocalAttention {
        layers: linear_layers,
        kind: LocalKind::Linear(LinearAttention {
            key_heads: f.required("linear_num_key_heads")?,
            value_heads: f.required("linear_num_value_heads")?,
            key_head_dim: f.required("linear_key_head_dim")?,
            value_head_dim: f.required("linear_value_head_dim")?,
            conv_kernel: f.required("linear_conv_kernel_dim")?,
            state_bytes,
        }),
    }))
}

/// DeepSeek-V2/V3 and Kimi K2's multi-head latent attention.
fn read_mla(f: &Fields<'_>, arch: &mut Architecture) -> Result<(), HfConfigError> {
    let nope = f.required("qk_nope_head_dim")?;
    let rope = f.required("qk_rope_head_dim")?;
    arch.mla = Some(Mla {
        q_lora_rank: f.uint("q_lora_rank")?.unwrap_or(0),
        kv_lora_rank: f.required("kv_lora_rank")?,
        qk_nope_head_dim: nope,
        qk_rope_head_dim: rope,
        v_head_dim: f.required("v_head_dim")?,
    });
    arch.head_dim = nope.saturating_add(rope);
    // MLA has no separate KV heads; the configs repeat the head count.
    arch.kv_heads = arch.heads;
    Ok(())
}

/// gpt-oss: biased experts, attention sinks, alternating sliding-window layers.
fn read_gpt_oss(f: &Fields<'_>, arch: &mut Architecture) -> Result<(), HfConfigError> {
    arch.output_bias = arch.attention_bias;
    arch.attention_sinks = true;
    arch.moe = Some(Moe {
        experts: f.required("num_local_experts")?,
        experts_per_token: match f.uint("num_experts_per_tok")? {
            Some(k) => k,
            None => f.required("experts_per_token")?,
        },
        expert_intermediate: arch.intermediate,
        shared_intermediate: 0,
        dense_layers: 0,
        router_bias: true,
        expert_bias: true,
        shared_expert_gate: false,
    });
    let window = f.required("sliding_window")?;
    let types = f.strings("layer_types")?;
    if types.len() != arch.layers as usize {
        return unsupported(
            "layer_types",
            format!("{} entries", types.len()),
            "must name one attention type per layer",
        );
    }
    let sliding = types.iter().filter(|t| **t == "sliding_attention").count() as u32;
    if sliding > 0 {
        // SWA_SINK_ARCHS in SGLang 0.5.23 configs/model_config.py: hybrid SWA pool.
        arch.local_attention = Some(LocalAttention {
            layers: sliding,
            kind: LocalKind::SlidingWindow {
                window,
                pooled: true,
            },
        });
    }
    arch.sliding_window = None;
    Ok(())
}

/// Gemma 3: QK norm, two extra norms per layer, local layers by pattern or by type.
fn read_gemma3(f: &Fields<'_>, arch: &mut Architecture) -> Result<(), HfConfigError> {
    let layers = arch.layers;
    arch.qk_norm = true;
    arch.extra_norms_per_layer = 2;
    let window = f.uint("sliding_window")?.unwrap_or(4096);
    let types = f.strings("layer_types")?;
    let sliding = if types.is_empty() {
        let pattern = nonzero(
            "sliding_window_pattern",
            f.uint("sliding_window_pattern")?.unwrap_or(6),
        )?;
        count_layers(layers, |i| (i + 1) % pattern != 0)
    } else {
        types.iter().filter(|t| **t == "sliding_attention").count() as u32
    };
    if sliding > 0 && sliding < layers {
        arch.local_attention = Some(LocalAttention {
            layers: sliding,
            // Gemma3ForConditionalGeneration is not in SGLang 0.5.23's
            // is_hybrid_swa_model list: one full-length pool for every layer.
            kind: LocalKind::SlidingWindow {
                window,
                pooled: false,
            },
        });
    }
    arch.sliding_window = None;
    Ok(())
}

/// Llama 4: interleaved MoE layers with a shared expert, chunked local attention.
fn read_llama4(f: &Fields<'_>, arch: &mut Architecture) -> Result<(), HfConfigError> {
    let layers = arch.layers;
    // Llama4TextL2Norm has no weights, so use_qk_norm adds no parameters.
    let experts = f.required("num_local_experts")?;
    // transformers Llama4TextConfig: interleave_moe_layer_step 1.
    let step = nonzero(
        "interleave_moe_layer_step",
        f.uint("interleave_moe_layer_step")?.unwrap_or(1),
    )?;
    let moe_layers = count_layers(layers, |i| (i + 1) % step == 0);
    let width = f.required("intermediate_size")?;
    arch.moe = Some(Moe {
        experts,
        experts_per_token: f.required("num_experts_per_tok")?,
        expert_intermediate: width,
        // One shared expert as wide as a routed one (Llama4TextMoe).
        shared_intermediate: width,
        dense_layers: layers - moe_layers,
        router_bias: false,
        expert_bias: false,
        shared_expert_gate: false,
    });
    if let Some(chunk) = f.uint("attention_chunk_size")? {
        // SGLang 0.5.23 get_hybrid_layer_ids: layer i is chunked (SWA pool) when
        // (i + 1) % 4 != 0.
        let local = count_layers(layers, |i| (i + 1) % 4 != 0);
        if local > 0 {
            arch.local_attention = Some(LocalAttention {
                layers: local,
                kind: LocalKind::Chunked { chunk },
            });
        }
    }
    Ok(())
}

/// The top-level `quantization_config` of a pre-quantized checkpoint, if any.
fn checkpoint_quantization(
    root: &Map<String, Value>,
) -> Result<Option<CheckpointQuantization>, HfConfigError> {
    match root.get("quantization_config") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(q)) => Ok(Some(read_quantization(&Fields { obj: q })?)),
        Some(_) => Err(HfConfigError::WrongType {
            field: "quantization_config",
            expected: "an object",
        }),
    }
}

/// DeepSeek-style MoE fields (DeepSeek-V2/V3, Kimi K2, GLM-4.5).
fn deepseek_moe(f: &Fields<'_>, layers: u32) -> Result<Moe, HfConfigError> {
    let width = f.required("moe_intermediate_size")?;
    // first_k_dense_replace is required; transformers DeepseekV3Config defaults apply to
    // the rest: moe_layer_freq 1, n_shared_experts 1, topk_method noaux_tc.
    let first_dense = f.required("first_k_dense_replace")?;
    let freq = nonzero("moe_layer_freq", f.uint("moe_layer_freq")?.unwrap_or(1))?;
    let shared = f.uint("n_shared_experts")?.unwrap_or(1);
    let moe_layers = count_layers(layers, |i| i >= first_dense && i % freq == 0);
    let topk_method = f.string("topk_method")?.unwrap_or("noaux_tc");
    Ok(Moe {
        experts: f.required("n_routed_experts")?,
        experts_per_token: f.required("num_experts_per_tok")?,
        expert_intermediate: width,
        shared_intermediate: shared.saturating_mul(width),
        dense_layers: layers - moe_layers,
        // noaux_tc routing keeps an `e_score_correction_bias` per expert.
        router_bias: topk_method == "noaux_tc",
        expert_bias: false,
        shared_expert_gate: false,
    })
}

/// Read a checkpoint's `quantization_config`.
fn read_quantization(q: &Fields<'_>) -> Result<CheckpointQuantization, HfConfigError> {
    let method = q
        .string("quant_method")?
        .ok_or(HfConfigError::Missing("quantization_config.quant_method"))?;
    let not_converted: Vec<String> = q
        .strings("modules_to_not_convert")?
        .into_iter()
        .map(String::from)
        .collect();
    match method {
        "fp8" => read_fp8(q, not_converted),
        "awq" | "gptq" => read_int4(q, method, not_converted),
        "mxfp4" => Ok(CheckpointQuantization {
            quantization: Quantization::Mxfp4,
            method: QuantMethod::Mxfp4,
            bits: 4,
            // OCP MX spec: one E8M0 scale per 32 elements.
            group_size: Some(crate::quant::MXFP4_BLOCK),
            block: None,
            not_converted,
        }),
        "compressed-tensors" => read_compressed_tensors(q, not_converted),
        other => unsupported(
            "quantization_config.quant_method",
            other.to_string(),
            "expected fp8, awq, gptq, mxfp4 or compressed-tensors",
        ),
    }
}

fn unsupported<T>(
    field: &'static str,
    value: String,
    reason: &'static str,
) -> Result<T, HfConfigError> {
    Err(HfConfigError::Unsupported {
        field,
        value,
        reason,
    })
}

/// `quant_method: fp8`, per tensor or in `weight_block_size` blocks.
fn read_fp8(
    q: &Fields<'_>,
    not_converted: Vec<String>,
) -> Result<CheckpointQuantization, HfConfigError> {
    let block = q.uints("weight_block_size")?;
    let block = match block[..] {
        [] => None,
        [rows, cols] if rows > 0 && cols > 0 => Some([rows, cols]),
        _ => {
            return unsupported(
                "quantization_config.weight_block_size",
                format!("{block:?}"),
                "must be two positive numbers",
            )
        }
    };
    Ok(CheckpointQuantization {
        quantization: Quantization::Fp8,
        method: if block.is_some() {
            QuantMethod::Fp8Block
        } else {
            QuantMethod::Fp8
        },
        bits: 8,
        group_size: None,
        block,
        not_converted,
    })
}

/// `quant_method: awq` or `gptq` (`method`): 4-bit weights in groups.
fn read_int4(
    q: &Fields<'_>,
    method: &str,
    not_converted: Vec<String>,
) -> Result<CheckpointQuantization, HfConfigError> {
    let bits = match q.uint("bits")? {
        Some(b) => b,
        None => q
            .uint("w_bit")?
            .ok_or(HfConfigError::Missing("quantization_config.bits"))?,
    };
    let group = match q.uint("group_size")? {
        Some(g) => Some(g),
        None => q.uint("q_group_size")?,
    };
    if bits != 4 {
        return unsupported(
            "quantization_config.bits",
            bits.to_string(),
            "only 4-bit AWQ/GPTQ checkpoints are priced",
        );
    }
    Ok(CheckpointQuantization {
        quantization: Quantization::Int4,
        method: if method == "awq" {
            QuantMethod::Awq
        } else {
            QuantMethod::Gptq
        },
        bits,
        group_size: group,
        block: None,
        not_converted,
    })
}

/// `quant_method: compressed-tensors`: the first config group with weights says how
/// they are stored; `ignore` adds to the modules left unconverted.
fn read_compressed_tensors(
    q: &Fields<'_>,
    mut not_converted: Vec<String>,
) -> Result<CheckpointQuantization, HfConfigError> {
    let groups = match q.get("config_groups") {
        Some(Value::Object(groups)) => groups,
        _ => return Err(HfConfigError::Missing("quantization_config.config_groups")),
    };
    let group = groups
        .values()
        .find_map(|g| g.get("weights").and_then(Value::as_object))
        .ok_or(HfConfigError::Missing(
            "quantization_config.config_groups.*.weights",
        ))?;
    let w = Fields { obj: group };
    let bits = w.required("num_bits")?;
    let kind = w.string("type")?.unwrap_or("int");
    not_converted.extend(q.strings("ignore")?.into_iter().map(String::from));
    let quantization = match (bits, kind) {
        (8, "int") => Quantization::Int8,
        (8, "float") => Quantization::Fp8,
        (4, "int") => Quantization::Int4,
        _ => {
            return unsupported(
                "quantization_config.config_groups.weights",
                format!("{bits}-bit {kind}"),
                "only 8-bit int/float and 4-bit int weights are priced",
            )
        }
    };
    Ok(CheckpointQuantization {
        quantization,
        method: QuantMethod::CompressedTensors,
        bits,
        group_size: w.uint("group_size")?,
        block: match w.uints("block_structure")?[..] {
            [rows, cols] => Some([rows, cols]),
            _ => None,
        },
        not_converted,
    })
}

impl Architecture {
    /// The architecture a Hugging Face `config.json` describes (see
    /// `hf_config::parse_hf_config` for the families read and for the checkpoint's
    /// `quantization_config`).
    pub fn from_hf_config_json(text: &str) -> Result<Architecture, HfConfigError> {
        parse_hf_config(text).map(|c| c.architecture)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reader's rules for families without a fixture here (no verified copy of
    /// their config.json was found): shapes written after Llama-4-Scout's and GLM-4.5's
    /// published configs, to check layer kinds and MoE layout, not published counts.
    #[test]
    fn llama4_text_config_has_chunked_layers_and_a_shared_expert() {
        let config = r#"{"architectures": ["Llama4ForConditionalGeneration"], "model_type": "llama4",
          "text_config": {"model_type": "llama4_text", "hidden_size": 5120, "intermediate_size": 8192,
            "intermediate_size_mlp": 16384, "num_attention_heads": 40, "num_key_value_heads": 8,
            "head_dim": 128, "num_hidden_layers": 48, "num_local_experts": 16,
            "num_experts_per_tok": 1, "interleave_moe_layer_step": 1, "vocab_size": 202048,
            "max_position_embeddings": 10485760, "attention_chunk_size": 8192,
            "use_qk_norm": true, "tie_word_embeddings": false}}"#;
        let c = parse_hf_config(config).unwrap();
        let a = c.architecture;
        let moe = a.moe.unwrap();
        assert_eq!(
            (moe.experts, moe.experts_per_token, moe.dense_layers),
            (16, 1, 0)
        );
        assert_eq!(moe.shared_intermediate, 8192);
        // SGLang: layer i is chunked unless (i + 1) % 4 == 0: 36 of 48.
        let local = a.local_attention.unwrap();
        assert_eq!(
            (local.layers, local.kind),
            (36, LocalKind::Chunked { chunk: 8192 })
        );
        let kv = crate::serving::kv_layout(&a, 2, 1);
        assert_eq!(kv.full_layers, 12);
        assert_eq!(
            kv.bytes_per_token,
            12 * 2 * 8 * 128 * 2 + 36 * 2 * 8 * 128 * 2 * 4 / 5
        );
        // Maverick-style interleaving: every second layer MoE, the others dense.
        let maverick = config.replace(
            "\"interleave_moe_layer_step\": 1",
            "\"interleave_moe_layer_step\": 2",
        );
        let m = parse_hf_config(&maverick).unwrap().architecture;
        assert_eq!(m.moe.unwrap().dense_layers, 24);
        assert_eq!(m.intermediate, 16384);
    }

    #[test]
    fn glm4_moe_reads_deepseek_style_experts_and_qkv_biases() {
        let config = r#"{"architectures": ["Glm4MoeForCausalLM"], "model_type": "glm4_moe",
          "hidden_size": 5120, "intermediate_size": 12288, "moe_intermediate_size": 1536,
          "num_attention_heads": 96, "num_key_value_heads": 8, "head_dim": 128,
          "num_hidden_layers": 92, "n_routed_experts": 160, "n_shared_experts": 1,
          "num_experts_per_tok": 8, "first_k_dense_replace": 3, "vocab_size": 151552,
          "max_position_embeddings": 131072, "attention_bias": true, "use_qk_norm": false,
          "partial_rotary_factor": 0.5, "num_nextn_predict_layers": 1,
          "tie_word_embeddings": false}"#;
        let c = parse_hf_config(config).unwrap();
        let a = c.architecture;
        let moe = a.moe.unwrap();
        assert_eq!((moe.dense_layers, moe.shared_intermediate), (3, 1536));
        assert!(moe.router_bias && a.attention_bias && !a.output_bias && !a.qk_norm);
        assert_eq!(c.mtp_layers, 1);
        // q/k/v biases only: 96·128 + 2·8·128 per layer.
        assert_eq!(a.param_breakdown().biases, 92 * (96 * 128 + 2 * 8 * 128));
        assert_eq!(c.quant_method(), QuantMethod::None);
    }

    #[test]
    fn unknown_and_missing_fields_are_named() {
        let err = parse_hf_config(r#"{"model_type": "mamba", "hidden_size": 1}"#).unwrap_err();
        assert_eq!(err, HfConfigError::UnknownModelType("mamba".into()));
        assert!(
            err.to_string().contains("supported: llama, mistral"),
            "{err}"
        );
        let err = parse_hf_config(
            r#"{"model_type": "mixtral", "hidden_size": 4096,
            "num_hidden_layers": 32, "num_attention_heads": 32, "intermediate_size": 14336,
            "vocab_size": 32000, "max_position_embeddings": 32768, "num_experts_per_tok": 2}"#,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "config.json has no 'num_local_experts' field"
        );
        let err = parse_hf_config(r#"{"model_type": "llama", "text_config": 5}"#).unwrap_err();
        assert_eq!(
            err.to_string(),
            "config.json field 'text_config' must be an object"
        );
    }

    /// Abridged from Qwen/Qwen2.5-Coder-32B-Instruct's config.json.
    const QWEN_CODER_32B_CONFIG: &str = r#"{
      "architectures": ["Qwen2ForCausalLM"], "attention_dropout": 0.0,
      "bos_token_id": 151643, "eos_token_id": 151645, "hidden_act": "silu",
      "hidden_size": 5120, "initializer_range": 0.02, "intermediate_size": 27648,
      "max_position_embeddings": 32768, "max_window_layers": 70, "model_type": "qwen2",
      "num_attention_heads": 40, "num_hidden_layers": 64, "num_key_value_heads": 8,
      "rms_norm_eps": 1e-06, "rope_theta": 1000000.0, "sliding_window": 131072,
      "tie_word_embeddings": false, "torch_dtype": "bfloat16",
      "transformers_version": "4.43.1", "use_cache": true,
      "use_sliding_window": false, "vocab_size": 152064
    }"#;

    #[test]
    fn hf_config_json_gives_the_exact_architecture() {
        let arch = Architecture::from_hf_config_json(QWEN_CODER_32B_CONFIG).unwrap();
        assert_eq!(arch.param_count(), 32_763_876_352);
        assert!(arch.attention_bias);
        assert_eq!(arch.sliding_window, None);
        assert_eq!((arch.head_dim, arch.max_context), (128, 32_768));
        // Mistral-7B-Instruct-v0.3: explicit head_dim, sliding_window null.
        let mistral = r#"{"model_type": "mistral", "hidden_size": 4096,
            "intermediate_size": 14336, "num_attention_heads": 32, "num_hidden_layers": 32,
            "num_key_value_heads": 8, "head_dim": 128, "vocab_size": 32768,
            "max_position_embeddings": 32768, "sliding_window": null,
            "tie_word_embeddings": false}"#;
        let arch = Architecture::from_hf_config_json(mistral).unwrap();
        assert_eq!(arch.param_count(), 7_248_023_552);
        // A multimodal wrapper's text_config is used.
        let wrapped = format!(r#"{{"model_type": "llava", "text_config": {mistral}}}"#);
        assert_eq!(Architecture::from_hf_config_json(&wrapped).unwrap(), arch);
    }

    #[test]
    fn bad_hf_config_json_names_the_problem() {
        let err = |s: &str| {
            Architecture::from_hf_config_json(s)
                .unwrap_err()
                .to_string()
        };
        assert!(
            err("{not json").starts_with("not valid JSON"),
            "{}",
            err("{not json")
        );
        assert_eq!(err("[1, 2]"), "config.json must be a JSON object");
        let without_layers = QWEN_CODER_32B_CONFIG.replace("\"num_hidden_layers\": 64,", "");
        assert_eq!(
            err(&without_layers),
            "config.json has no 'num_hidden_layers' field"
        );
        let text_heads = QWEN_CODER_32B_CONFIG.replace(
            "\"num_attention_heads\": 40",
            "\"num_attention_heads\": \"40\"",
        );
        assert_eq!(
            err(&text_heads),
            "config.json field 'num_attention_heads' must be a whole number"
        );
        let bad_kv = QWEN_CODER_32B_CONFIG
            .replace("\"num_key_value_heads\": 8", "\"num_key_value_heads\": 7");
        assert!(err(&bad_kv).contains("'kv_heads' = 7"), "{}", err(&bad_kv));
    }
}
