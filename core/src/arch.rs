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
        if self.kv_heads > self.heads || self.heads % self.kv_heads != 0 {
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

#[cfg(test)]
mod tests {
    use super::*;

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
