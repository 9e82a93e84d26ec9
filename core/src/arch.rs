//! Dense decoder-only transformer architecture (Llama / Mistral / Qwen2 family)
//! and the exact parameter count it implies.

use serde::{Deserialize, Serialize};

/// The fields of a Hugging Face `config.json` that decide memory use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    /// `num_hidden_layers`
    pub layers: u32,
    /// `hidden_size`
    pub hidden: u32,
    /// `intermediate_size` (MLP width; gate, up and down projections)
    pub intermediate: u32,
    /// `num_attention_heads`
    pub heads: u32,
    /// `num_key_value_heads` (GQA; equals `heads` for plain multi-head attention)
    pub kv_heads: u32,
    /// `head_dim` (or `hidden / heads` where the config omits it)
    pub head_dim: u32,
    /// `vocab_size`
    pub vocab: u32,
    /// `tie_word_embeddings`: the lm_head shares the embedding matrix.
    #[serde(default)]
    pub tied_embeddings: bool,
    /// Bias on the q/k/v projections (Qwen2: true).
    #[serde(default)]
    pub attention_bias: bool,
    /// `sliding_window`, when the model uses it (null for most).
    #[serde(default)]
    pub sliding_window: Option<u32>,
    /// `max_position_embeddings`: the longest context the model supports.
    pub max_context: u32,
}

/// Parameter counts per tensor class, the unit the serving estimate prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ParamBreakdown {
    /// q, k, v, o, gate, up, down projection weights: the tensors quantization shrinks.
    pub linear: u64,
    /// The q/k/v/o share of `linear` (k and v are replicated when kv_heads < TP).
    pub attention_kv_proj: u64,
    /// Token embedding matrix.
    pub embedding: u64,
    /// Output projection (0 when tied to the embedding).
    pub lm_head: u64,
    /// RMSNorm weights (two per layer plus the final norm).
    pub norms: u64,
    /// q/k/v biases.
    pub biases: u64,
}

impl ParamBreakdown {
    pub fn total(&self) -> u64 {
        self.linear + self.embedding + self.lm_head + self.norms + self.biases
    }
}

/// A field of an architecture that cannot describe a real model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("architecture field '{field}' = {value}: {reason}")]
pub struct ArchitectureError {
    pub field: &'static str,
    pub value: String,
    pub reason: &'static str,
}

impl Architecture {
    /// Reject shapes no model has, so later arithmetic cannot divide by zero or overflow.
    pub fn validate(&self) -> Result<(), ArchitectureError> {
        let positive: [(&'static str, u32, u32); 8] = [
            ("layers", self.layers, 1_000),
            ("hidden", self.hidden, 1 << 17),
            ("intermediate", self.intermediate, 1 << 19),
            ("heads", self.heads, 1_024),
            ("kv_heads", self.kv_heads, 1_024),
            ("head_dim", self.head_dim, 1_024),
            ("vocab", self.vocab, 1 << 22),
            ("max_context", self.max_context, 1 << 24),
        ];
        for (field, value, max) in positive {
            if value == 0 {
                return Err(ArchitectureError {
                    field,
                    value: value.to_string(),
                    reason: "must be at least 1",
                });
            }
            if value > max {
                return Err(ArchitectureError {
                    field,
                    value: value.to_string(),
                    reason: "is larger than any known model",
                });
            }
        }
        if self.kv_heads > self.heads || !self.heads.is_multiple_of(self.kv_heads) {
            return Err(ArchitectureError {
                field: "kv_heads",
                value: self.kv_heads.to_string(),
                reason: "must divide the number of attention heads",
            });
        }
        if self.max_context < 512 {
            return Err(ArchitectureError {
                field: "max_context",
                value: self.max_context.to_string(),
                reason: "must be at least 512 tokens",
            });
        }
        Ok(())
    }

    /// Parameter counts by tensor class for a Llama-style block:
    /// attention (q, k, v, o), SwiGLU MLP (gate, up, down), two RMSNorms per layer,
    /// a final norm, the embedding and an untied lm_head.
    pub fn param_breakdown(&self) -> ParamBreakdown {
        let hidden = u64::from(self.hidden);
        let q_width = u64::from(self.heads) * u64::from(self.head_dim);
        let kv_width = u64::from(self.kv_heads) * u64::from(self.head_dim);
        let layers = u64::from(self.layers);
        let vocab = u64::from(self.vocab);

        let attention = hidden * q_width * 2 + hidden * kv_width * 2; // q, o + k, v
        let mlp = 3 * hidden * u64::from(self.intermediate);
        let biases = if self.attention_bias {
            q_width + 2 * kv_width
        } else {
            0
        };
        let embedding = vocab * hidden;
        ParamBreakdown {
            linear: layers * (attention + mlp),
            attention_kv_proj: layers * hidden * kv_width * 2,
            embedding,
            lm_head: if self.tied_embeddings { 0 } else { embedding },
            norms: layers * 2 * hidden + hidden,
            biases: layers * biases,
        }
    }

    /// Exact parameter count, as `model.num_parameters()` reports it.
    pub fn param_count(&self) -> u64 {
        self.param_breakdown().total()
    }

    /// KV-cache elements per token across all layers: K and V for every KV head.
    pub fn kv_elements_per_token(&self) -> u64 {
        2 * u64::from(self.layers) * u64::from(self.kv_heads) * u64::from(self.head_dim)
    }

    /// Build a plausible Llama-family shape for a model known only by its size, so
    /// the serving estimate can still price KV cache and activations. The shape is
    /// taken from the nearest Llama-family model (sources: the official config.json
    /// files of Llama-3.2-1B/3B, Llama-3.1-8B, Llama-2-13B, CodeLlama-34B,
    /// Llama-3.1-70B and Llama-3.1-405B), with the MLP width scaled so the parameter
    /// count matches the requested size.
    pub fn inferred_from_params(params: u64, max_context: u32) -> Architecture {
        // (params, layers, hidden, heads, kv_heads, head_dim, vocab)
        const SHAPES: [(u64, u32, u32, u32, u32, u32, u32); 7] = [
            (1_235_814_400, 16, 2048, 32, 8, 64, 128_256),
            (3_212_749_824, 28, 3072, 24, 8, 128, 128_256),
            (8_030_261_248, 32, 4096, 32, 8, 128, 128_256),
            (13_015_864_320, 40, 5120, 40, 40, 128, 32_000),
            (33_743_970_304, 48, 8192, 64, 8, 128, 32_000),
            (70_553_706_496, 80, 8192, 64, 8, 128, 128_256),
            (405_853_388_800, 126, 16384, 128, 8, 128, 128_256),
        ];
        let nearest = SHAPES
            .iter()
            .min_by(|a, b| {
                let da = (a.0 as f64 / params.max(1) as f64).ln().abs();
                let db = (b.0 as f64 / params.max(1) as f64).ln().abs();
                da.total_cmp(&db)
            })
            .copied()
            .unwrap_or(SHAPES[2]);
        let (_, layers, hidden, heads, kv_heads, head_dim, vocab) = nearest;
        let mut arch = Architecture {
            layers,
            hidden,
            intermediate: 1,
            heads,
            kv_heads,
            head_dim,
            vocab,
            tied_embeddings: false,
            attention_bias: false,
            sliding_window: None,
            max_context: max_context.max(512),
        };
        // Solve for the MLP width that makes the total match `params`.
        let fixed = arch.param_count() - arch.param_breakdown().linear
            + u64::from(layers)
                * (2 * u64::from(hidden) * u64::from(heads * head_dim)
                    + 2 * u64::from(hidden) * u64::from(kv_heads * head_dim));
        let per_unit = 3 * u64::from(layers) * u64::from(hidden);
        let intermediate = params.saturating_sub(fixed) / per_unit.max(1);
        arch.intermediate = u32::try_from(intermediate.clamp(1, 1 << 19)).unwrap_or(1 << 19);
        arch
    }
}

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
    #[error("config.json field '{}' = {}: {}", .0.field, .0.value, .0.reason)]
    Invalid(ArchitectureError),
}

impl Architecture {
    /// Read the memory-relevant fields of a Hugging Face `config.json` (Llama, Mistral,
    /// Qwen2 and other dense decoder-only families; a multimodal config's `text_config`
    /// is used when the top level has no layers). Missing optional fields take the
    /// transformers defaults: `num_key_value_heads` = heads, `head_dim` = hidden / heads,
    /// `tie_word_embeddings` = false, `attention_bias` = false (true for `qwen2`, whose
    /// q/k/v projections always carry biases), no sliding window unless it is enabled.
    pub fn from_hf_config_json(text: &str) -> Result<Architecture, HfConfigError> {
        use serde_json::{Map, Value};
        let root: Value =
            serde_json::from_str(text).map_err(|e| HfConfigError::Json(e.to_string()))?;
        let root = root.as_object().ok_or(HfConfigError::NotAnObject)?;
        let obj: &Map<String, Value> = match root.get("text_config") {
            Some(Value::Object(text)) if !root.contains_key("num_hidden_layers") => text,
            _ => root,
        };
        let uint = |field: &'static str| -> Result<Option<u32>, HfConfigError> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .map(Some)
                    .ok_or(HfConfigError::WrongType {
                        field,
                        expected: "a whole number",
                    }),
            }
        };
        let required = |field: &'static str| uint(field)?.ok_or(HfConfigError::Missing(field));
        let flag = |field: &'static str| -> Result<Option<bool>, HfConfigError> {
            match obj.get(field) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v.as_bool().map(Some).ok_or(HfConfigError::WrongType {
                    field,
                    expected: "true or false",
                }),
            }
        };
        let hidden = required("hidden_size")?;
        let heads = required("num_attention_heads")?;
        let head_dim = match uint("head_dim")? {
            Some(d) => d,
            None if heads > 0 => hidden / heads,
            None => 0,
        };
        let model_type = obj.get("model_type").and_then(Value::as_str).unwrap_or("");
        let sliding_window = if flag("use_sliding_window")? == Some(false) {
            None
        } else {
            uint("sliding_window")?
        };
        let arch = Architecture {
            layers: required("num_hidden_layers")?,
            hidden,
            intermediate: required("intermediate_size")?,
            heads,
            kv_heads: uint("num_key_value_heads")?.unwrap_or(heads),
            head_dim,
            vocab: required("vocab_size")?,
            tied_embeddings: flag("tie_word_embeddings")?.unwrap_or(false),
            attention_bias: flag("attention_bias")?.unwrap_or(model_type == "qwen2"),
            sliding_window,
            max_context: required("max_position_embeddings")?,
        };
        arch.validate().map_err(HfConfigError::Invalid)?;
        Ok(arch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn llama_8b_exact() {
        let arch = Architecture {
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
        };
        assert_eq!(arch.param_count(), 8_030_261_248);
        assert_eq!(arch.kv_elements_per_token(), 2 * 32 * 8 * 128);
    }

    #[test]
    fn inferred_shape_matches_requested_size_closely() {
        for params in [
            1_000_000_000u64,
            7_000_000_000,
            70_000_000_000,
            13_000_000_000,
            180_000_000_000,
        ] {
            let arch = Architecture::inferred_from_params(params, 8192);
            arch.validate().unwrap();
            let got = arch.param_count() as f64;
            assert!((got / params as f64 - 1.0).abs() < 0.02, "{params}: {got}");
        }
    }

    #[test]
    fn validation_names_the_field() {
        let mut arch = Architecture::inferred_from_params(8_000_000_000, 8192);
        arch.kv_heads = 3;
        let err = arch.validate().unwrap_err();
        assert_eq!(err.field, "kv_heads");
        arch.kv_heads = 8;
        arch.layers = 0;
        assert_eq!(arch.validate().unwrap_err().field, "layers");
    }
}
