//! Decoder-only transformer architectures, layer by layer: dense (Llama / Mistral /
//! Qwen2), mixture-of-experts (Mixtral, Qwen3-MoE, DeepSeek-V3, gpt-oss, Llama 4),
//! multi-head latent attention (DeepSeek-V3, Kimi K2), sliding-window, chunked and
//! linear (Gated DeltaNet) attention layers; the exact parameter counts they imply.
//!
//! The dense Llama shape is the special case in which every extension is absent:
//! `Architecture { layers, hidden, .., ..Architecture::DENSE }`. Serialized forms of a
//! dense architecture are unchanged (every extension is skipped when absent), so old
//! plans, config files and share links keep parsing.

use serde::{Deserialize, Serialize};

/// The fields of a Hugging Face `config.json` that decide memory use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Architecture {
    /// `num_hidden_layers`
    pub layers: u32,
    /// `hidden_size`
    pub hidden: u32,
    /// `intermediate_size`: width of the dense MLP (gate, up and down projections).
    /// In MoE models, the width of the dense layers (`first_k_dense_replace` layers of
    /// DeepSeek-V3, Llama 4's `intermediate_size_mlp`); unused when every layer is MoE.
    pub intermediate: u32,
    /// `num_attention_heads`
    pub heads: u32,
    /// `num_key_value_heads` (GQA; equals `heads` for plain multi-head attention)
    pub kv_heads: u32,
    /// `head_dim` (or `hidden / heads` where the config omits it). With MLA, the query /
    /// key head width `qk_nope_head_dim + qk_rope_head_dim`.
    pub head_dim: u32,
    /// `vocab_size`
    pub vocab: u32,
    /// `tie_word_embeddings`: the lm_head shares the embedding matrix.
    #[serde(default)]
    pub tied_embeddings: bool,
    /// Bias on the q/k/v projections (Qwen2, gpt-oss, GLM-4.5).
    #[serde(default)]
    pub attention_bias: bool,
    /// `sliding_window` of a model whose every layer slides (Mistral 7B v0.1). SGLang
    /// 0.5.23 still gives such a model a full-length KV pool (it is not in
    /// `is_hybrid_swa_model`), so this does not shrink the KV cache. Models that mix
    /// sliding and full layers describe them in `local_attention` instead.
    #[serde(default)]
    pub sliding_window: Option<u32>,
    /// `max_position_embeddings`: the longest context the model supports.
    pub max_context: u32,
    /// Bias on the attention output projection too (gpt-oss; Llama-family
    /// `attention_bias` covers q, k, v and o, Qwen2's only q, k, v).
    #[serde(default, skip_serializing_if = "is_false")]
    pub output_bias: bool,
    /// RMSNorm on each query and key head (Qwen3, Gemma 3, Qwen3-Next): 2 × head_dim
    /// parameters per attention layer.
    #[serde(default, skip_serializing_if = "is_false")]
    pub qk_norm: bool,
    /// Learned attention sinks, one logit per head and layer (gpt-oss `sinks`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub attention_sinks: bool,
    /// Gated attention: q_proj also emits a per-head output gate, doubling its width
    /// (Qwen3-Next full-attention layers).
    #[serde(default, skip_serializing_if = "is_false")]
    pub gated_attention: bool,
    /// RMSNorms per layer beyond the usual two (Gemma 3 adds pre- and post-feed-forward
    /// norms: 2).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub extra_norms_per_layer: u32,
    /// Multi-head latent attention (DeepSeek-V2/V3, Kimi K2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mla: Option<Mla>,
    /// Mixture-of-experts MLP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moe: Option<Moe>,
    /// Layers that are not full attention: sliding window, chunked, or linear.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_attention: Option<LocalAttention>,
}

impl Architecture {
    /// Every field zero or absent: the base for `..Architecture::DENSE` in struct
    /// literals (also in `const`s) of dense Llama-shaped models.
    pub const DENSE: Architecture = Architecture {
        layers: 0,
        hidden: 0,
        intermediate: 0,
        heads: 0,
        kv_heads: 0,
        head_dim: 0,
        vocab: 0,
        tied_embeddings: false,
        attention_bias: false,
        sliding_window: None,
        max_context: 0,
        output_bias: false,
        qk_norm: false,
        attention_sinks: false,
        gated_attention: false,
        extra_norms_per_layer: 0,
        mla: None,
        moe: None,
        local_attention: None,
    };
}

impl Default for Architecture {
    fn default() -> Self {
        Architecture::DENSE
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// Multi-head latent attention: keys and values are compressed into one latent of
/// `kv_lora_rank` plus a shared rotary key of `qk_rope_head_dim` per token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mla {
    /// `q_lora_rank`; 0 when queries are projected directly (`q_lora_rank: null`).
    pub q_lora_rank: u32,
    /// `kv_lora_rank`
    pub kv_lora_rank: u32,
    /// `qk_nope_head_dim`
    pub qk_nope_head_dim: u32,
    /// `qk_rope_head_dim`
    pub qk_rope_head_dim: u32,
    /// `v_head_dim`
    pub v_head_dim: u32,
}

/// A mixture-of-experts MLP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Moe {
    /// Routed experts per MoE layer (`n_routed_experts`, `num_experts`, `num_local_experts`).
    pub experts: u32,
    /// Routed experts each token uses (`num_experts_per_tok`).
    pub experts_per_token: u32,
    /// Width of one routed expert (`moe_intermediate_size`; Mixtral's and gpt-oss's
    /// `intermediate_size`).
    pub expert_intermediate: u32,
    /// Total width of the always-on shared experts (DeepSeek `n_shared_experts ×
    /// moe_intermediate_size`, Qwen3-Next `shared_expert_intermediate_size`); 0 for none.
    #[serde(default)]
    pub shared_intermediate: u32,
    /// Layers with a dense MLP of `Architecture::intermediate` instead of experts
    /// (DeepSeek `first_k_dense_replace`, Qwen `mlp_only_layers`, Llama 4's
    /// non-interleaved layers).
    #[serde(default)]
    pub dense_layers: u32,
    /// The router carries one bias (or DeepSeek's `e_score_correction_bias`) per expert.
    #[serde(default)]
    pub router_bias: bool,
    /// Each expert's projections carry biases (gpt-oss).
    #[serde(default)]
    pub expert_bias: bool,
    /// A one-output sigmoid gate scales the shared expert (Qwen3-Next `shared_expert_gate`).
    #[serde(default)]
    pub shared_expert_gate: bool,
}

/// The layers of a model that do not attend over the whole context.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LocalAttention {
    /// How many of `Architecture::layers` are of this kind; the rest are full attention.
    pub layers: u32,
    pub kind: LocalKind,
}

/// What a non-full layer attends over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum LocalKind {
    /// The last `window` tokens. `pooled`: SGLang 0.5.23 gives these layers their own,
    /// smaller SWA pool (`is_hybrid_swa_model` in configs/model_config.py lists the
    /// architecture: gpt-oss yes, Gemma 3 no, so Gemma 3's sliding layers hold
    /// full-length KV in SGLang).
    SlidingWindow { window: u32, pooled: bool },
    /// Attention within chunks of `chunk` tokens (Llama 4 `attention_chunk_size`);
    /// SGLang sizes them with its SWA pool.
    Chunked { chunk: u32 },
    /// Linear attention with a fixed recurrent state per sequence (Qwen3-Next's Gated
    /// DeltaNet layers).
    Linear(LinearAttention),
}

/// A Gated DeltaNet layer (Qwen3-Next): `linear_*` fields of its config.json.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearAttention {
    /// `linear_num_key_heads`
    pub key_heads: u32,
    /// `linear_num_value_heads`
    pub value_heads: u32,
    /// `linear_key_head_dim`
    pub key_head_dim: u32,
    /// `linear_value_head_dim`
    pub value_head_dim: u32,
    /// `linear_conv_kernel_dim`
    pub conv_kernel: u32,
    /// Bytes per element of the recurrent (SSM) state: 4 (float32) unless the config's
    /// `mamba_ssm_dtype` says otherwise (SGLang 0.5.23 configs/mamba_utils.py,
    /// `mamba2_state_dtype`).
    pub state_bytes: u32,
}

impl LinearAttention {
    /// Channels of the causal convolution: cat(query, key, value).
    pub fn conv_dim(&self) -> u64 {
        2 * u64::from(self.key_heads) * u64::from(self.key_head_dim)
            + u64::from(self.value_heads) * u64::from(self.value_head_dim)
    }
}

/// Parameter counts per tensor class, the unit the serving estimate prices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ParamBreakdown {
    /// Every linear-layer weight (attention, dense MLP, shared and routed experts):
    /// the tensors quantization shrinks.
    pub linear: u64,
    /// The k/v share of `linear` (replicated when kv_heads < TP).
    pub attention_kv_proj: u64,
    /// The share of `linear` every GPU holds whole (MLA's q_a and kv_a projections are
    /// `ReplicatedLinear` in SGLang 0.5.23 models/deepseek_v2.py).
    pub replicated_linear: u64,
    /// The routed experts' share of `linear` (every expert of every MoE layer).
    pub experts: u64,
    /// The routed experts' biases (part of `biases`).
    pub expert_biases: u64,
    /// The routed experts' weights and biases one token uses (`experts_per_token` of
    /// each MoE layer).
    pub active_experts: u64,
    /// Token embedding matrix.
    pub embedding: u64,
    /// Output projection (0 when tied to the embedding).
    pub lm_head: u64,
    /// RMSNorm weights (per layer, q/k norms, MLA latent norms, the final norm).
    pub norms: u64,
    /// Biases of attention and expert projections.
    pub biases: u64,
    /// Router weights and biases: kept in 16 bit by every quantized checkpoint we read
    /// and replicated on every GPU (`ReplicatedLinear` gate in SGLang's MoE models).
    pub router: u64,
    /// Small unquantized tensors: attention sinks, Gated DeltaNet conv1d, `A_log`,
    /// `dt_bias`, the shared-expert gate.
    pub other: u64,
}

impl ParamBreakdown {
    pub fn total(&self) -> u64 {
        self.linear
            + self.embedding
            + self.lm_head
            + self.norms
            + self.biases
            + self.router
            + self.other
    }

    /// Parameters one token's forward pass uses: everything but the routed experts it
    /// is not sent to. Counts the embedding, as Qwen and DeepSeek do when they publish
    /// "activated" parameters.
    pub fn active(&self) -> u64 {
        self.total() - self.experts - self.expert_biases + self.active_experts
    }

    /// Parameters one decode step reads per token: `active` without the embedding
    /// table, of which a token reads one row (OpenAI's "active parameters" for gpt-oss
    /// count the same way).
    pub fn active_read_per_token(&self) -> u64 {
        self.active() - self.embedding
    }
}

/// No model we size has more parameters (the largest open models are ~1-2 T).
pub const MAX_PARAMS: f64 = 1e14;

/// A field of an architecture that cannot describe a real model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("architecture field '{field}' = {value}: {reason}")]
pub struct ArchitectureError {
    pub field: &'static str,
    pub value: String,
    pub reason: &'static str,
}

fn check(field: &'static str, value: u32, min: u32, max: u32) -> Result<(), ArchitectureError> {
    if value < min {
        return Err(ArchitectureError {
            field,
            value: value.to_string(),
            reason: if min == 1 {
                "must be at least 1"
            } else {
                "is smaller than any known model"
            },
        });
    }
    if value > max {
        return Err(ArchitectureError {
            field,
            value: value.to_string(),
            reason: "is larger than any known model",
        });
    }
    Ok(())
}

fn validate_mla(mla: &Mla) -> Result<(), ArchitectureError> {
    check("mla.q_lora_rank", mla.q_lora_rank, 0, 1 << 16)?;
    check("mla.kv_lora_rank", mla.kv_lora_rank, 1, 1 << 16)?;
    check("mla.qk_nope_head_dim", mla.qk_nope_head_dim, 0, 1_024)?;
    check("mla.qk_rope_head_dim", mla.qk_rope_head_dim, 1, 1_024)?;
    check("mla.v_head_dim", mla.v_head_dim, 1, 1_024)
}

/// `layers`: the model's, of which at least one is dense.
fn validate_moe(moe: &Moe, layers: u32) -> Result<(), ArchitectureError> {
    check("moe.experts", moe.experts, 1, 4_096)?;
    check(
        "moe.experts_per_token",
        moe.experts_per_token,
        1,
        moe.experts,
    )?;
    check(
        "moe.expert_intermediate",
        moe.expert_intermediate,
        1,
        1 << 19,
    )?;
    check(
        "moe.shared_intermediate",
        moe.shared_intermediate,
        0,
        1 << 19,
    )?;
    check("moe.dense_layers", moe.dense_layers, 0, layers - 1)
}

/// `layers`: the model's, of which the local ones are a part.
fn validate_local_attention(local: &LocalAttention, layers: u32) -> Result<(), ArchitectureError> {
    check("local_attention.layers", local.layers, 1, layers)?;
    match local.kind {
        LocalKind::SlidingWindow { window, .. } => {
            check("local_attention.window", window, 1, 1 << 24)
        }
        LocalKind::Chunked { chunk } => check("local_attention.chunk", chunk, 1, 1 << 24),
        LocalKind::Linear(l) => {
            check("linear.key_heads", l.key_heads, 1, 1_024)?;
            check("linear.value_heads", l.value_heads, 1, 1_024)?;
            check("linear.key_head_dim", l.key_head_dim, 1, 1_024)?;
            check("linear.value_head_dim", l.value_head_dim, 1, 1_024)?;
            check("linear.conv_kernel", l.conv_kernel, 2, 64)?;
            check("linear.state_bytes", l.state_bytes, 1, 4)
        }
    }
}

impl Architecture {
    /// Reject shapes no model has, so later arithmetic cannot divide by zero or overflow.
    pub fn validate(&self) -> Result<(), ArchitectureError> {
        self.validate_dense()?;
        if let Some(mla) = &self.mla {
            validate_mla(mla)?;
        }
        if let Some(moe) = &self.moe {
            validate_moe(moe, self.layers)?;
        }
        if let Some(local) = &self.local_attention {
            validate_local_attention(local, self.layers)?;
        }
        Ok(())
    }

    /// The widths every model has, and a parameter count in range.
    fn validate_dense(&self) -> Result<(), ArchitectureError> {
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
            check(field, value, 1, max)?;
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
        check("extra_norms_per_layer", self.extra_norms_per_layer, 0, 8)?;
        // Bound the parameter count in floating point before any integer arithmetic, so
        // an absurd but individually in-range shape cannot overflow.
        let rough = self.rough_param_count();
        if rough.is_nan() || rough > MAX_PARAMS {
            return Err(ArchitectureError {
                field: "layers",
                value: self.layers.to_string(),
                reason: "with these widths the model would exceed 100 trillion parameters",
            });
        }
        Ok(())
    }

    /// An upper bound of the parameter count in f64 (every layer priced at its widest).
    fn rough_param_count(&self) -> f64 {
        let f = |n: u32| f64::from(n);
        let hidden = f(self.hidden);
        let attention = hidden * f(self.heads) * f(self.head_dim) * 3.0
            + 2.0 * hidden * f(self.kv_heads) * f(self.head_dim);
        let mla = self.mla.map_or(0.0, |m| {
            let w = f(m.q_lora_rank) + f(m.kv_lora_rank) + f(m.qk_rope_head_dim);
            w * (hidden
                + f(self.heads) * (f(m.qk_nope_head_dim) + f(m.qk_rope_head_dim) + f(m.v_head_dim)))
                + f(self.heads) * f(m.v_head_dim) * hidden
        });
        let moe = self.moe.map_or(0.0, |m| {
            3.0 * hidden * (f(m.experts) * f(m.expert_intermediate) + f(m.shared_intermediate))
        });
        let linear = match self.local_attention {
            Some(LocalAttention {
                kind: LocalKind::Linear(l),
                ..
            }) => {
                let width =
                    f(l.key_heads) * f(l.key_head_dim) + f(l.value_heads) * f(l.value_head_dim);
                4.0 * hidden * width + width * f(l.conv_kernel)
            }
            _ => 0.0,
        };
        let mlp = 3.0 * hidden * f(self.intermediate);
        f(self.layers) * (attention + mla + moe + linear + mlp) + 2.0 * f(self.vocab) * hidden
    }

    /// Layers that attend over the whole context.
    pub fn full_attention_layers(&self) -> u32 {
        self.layers - self.local_attention.map_or(0, |l| l.layers)
    }

    /// Layers with attention (full, sliding or chunked): all but the linear ones.
    pub fn attention_layers(&self) -> u32 {
        match self.local_attention {
            Some(LocalAttention {
                layers,
                kind: LocalKind::Linear(_),
            }) => self.layers - layers,
            _ => self.layers,
        }
    }

    /// MoE layers (0 for a dense model).
    pub fn moe_layers(&self) -> u32 {
        self.moe.map_or(0, |m| self.layers - m.dense_layers)
    }

    /// Parameter counts by tensor class. One attention block per layer (GQA/MHA with
    /// q, k, v, o; or MLA; or a Gated DeltaNet block for linear layers), a SwiGLU MLP
    /// (gate, up, down) that is dense or mixture-of-experts, RMSNorms, a final norm,
    /// the embedding and an lm_head unless tied. This is `model.num_parameters()` of
    /// the transformers model, without any multi-token-prediction layer (SGLang loads
    /// those only for speculative decoding).
    pub fn param_breakdown(&self) -> ParamBreakdown {
        let hidden = u64::from(self.hidden);
        let layers = u64::from(self.layers);
        let mut p = ParamBreakdown::default();
        match &self.mla {
            Some(mla) => self.add_mla_params(mla, &mut p),
            None => self.add_attention_params(&mut p),
        }
        if self.attention_sinks {
            p.other += u64::from(self.attention_layers()) * u64::from(self.heads);
        }
        self.add_linear_attention_params(&mut p);
        match &self.moe {
            None => p.linear += layers * self.dense_mlp_params(),
            Some(moe) => self.add_moe_params(moe, &mut p),
        }
        p.norms += layers * (2 + u64::from(self.extra_norms_per_layer)) * hidden + hidden;
        p.embedding = u64::from(self.vocab) * hidden;
        p.lm_head = if self.tied_embeddings { 0 } else { p.embedding };
        p
    }

    /// The attention layers' MLA blocks: q (low-rank when `q_lora_rank` is set), the
    /// replicated kv_a, kv_b, o and their norms.
    fn add_mla_params(&self, mla: &Mla, p: &mut ParamBreakdown) {
        let hidden = u64::from(self.hidden);
        let heads = u64::from(self.heads);
        let attention_layers = u64::from(self.attention_layers());
        let qk_head = u64::from(mla.qk_nope_head_dim + mla.qk_rope_head_dim);
        let q_lora = u64::from(mla.q_lora_rank);
        let kv_lora = u64::from(mla.kv_lora_rank);
        let rope = u64::from(mla.qk_rope_head_dim);
        let (q, q_replicated, q_norm) = if q_lora > 0 {
            (q_lora * heads * qk_head, hidden * q_lora, q_lora)
        } else {
            (hidden * heads * qk_head, 0, 0)
        };
        let kv_a = hidden * (kv_lora + rope);
        let kv_b = kv_lora * heads * (u64::from(mla.qk_nope_head_dim + mla.v_head_dim));
        let o = heads * u64::from(mla.v_head_dim) * hidden;
        p.linear += attention_layers * (q + q_replicated + kv_a + kv_b + o);
        p.replicated_linear += attention_layers * (q_replicated + kv_a);
        p.norms += attention_layers * (q_norm + kv_lora);
    }

    /// The attention layers' GQA/MHA blocks: q (doubled when gated), k, v, o, their
    /// biases and q/k norms.
    fn add_attention_params(&self, p: &mut ParamBreakdown) {
        let hidden = u64::from(self.hidden);
        let head_dim = u64::from(self.head_dim);
        let attention_layers = u64::from(self.attention_layers());
        let q_width = u64::from(self.heads) * head_dim;
        let kv_width = u64::from(self.kv_heads) * head_dim;
        let gate = if self.gated_attention { 2 } else { 1 };
        let weights = hidden * q_width * gate + 2 * hidden * kv_width + q_width * hidden;
        p.linear += attention_layers * weights;
        p.attention_kv_proj += attention_layers * 2 * hidden * kv_width;
        if self.attention_bias {
            p.biases += attention_layers * (q_width * gate + 2 * kv_width);
        }
        if self.output_bias {
            p.biases += attention_layers * hidden;
        }
        if self.qk_norm {
            p.norms += attention_layers * 2 * head_dim;
        }
    }

    /// Linear-attention (Gated DeltaNet) layers: in_proj_qkvz, in_proj_ba, conv1d,
    /// dt_bias, A_log, the gated norm and out_proj (transformers Qwen3NextGatedDeltaNet).
    fn add_linear_attention_params(&self, p: &mut ParamBreakdown) {
        let Some(LocalAttention {
            kind: LocalKind::Linear(l),
            ..
        }) = &self.local_attention
        else {
            return;
        };
        let hidden = u64::from(self.hidden);
        let linear_layers = u64::from(self.layers) - u64::from(self.attention_layers());
        let key_dim = u64::from(l.key_heads) * u64::from(l.key_head_dim);
        let value_dim = u64::from(l.value_heads) * u64::from(l.value_head_dim);
        let value_heads = u64::from(l.value_heads);
        let in_proj = hidden * (2 * key_dim + 2 * value_dim) + hidden * 2 * value_heads;
        let out_proj = value_dim * hidden;
        p.linear += linear_layers * (in_proj + out_proj);
        p.other += linear_layers * (l.conv_dim() * u64::from(l.conv_kernel) + 2 * value_heads);
        p.norms += linear_layers * u64::from(l.value_head_dim);
    }

    /// One dense SwiGLU MLP: gate, up and down.
    fn dense_mlp_params(&self) -> u64 {
        3 * u64::from(self.hidden) * u64::from(self.intermediate)
    }

    /// The MLPs of a mixture of experts: dense layers first, then experts, a shared
    /// expert, the router and their biases and gate.
    fn add_moe_params(&self, moe: &Moe, p: &mut ParamBreakdown) {
        let hidden = u64::from(self.hidden);
        let dense_layers = u64::from(moe.dense_layers);
        let moe_layers = u64::from(self.layers) - dense_layers;
        let experts = u64::from(moe.experts);
        let width = u64::from(moe.expert_intermediate);
        let one_expert = 3 * hidden * width;
        let active = u64::from(moe.experts_per_token);
        let shared = 3 * hidden * u64::from(moe.shared_intermediate);
        p.linear +=
            dense_layers * self.dense_mlp_params() + moe_layers * (experts * one_expert + shared);
        p.experts += moe_layers * experts * one_expert;
        p.active_experts += moe_layers * active * one_expert;
        p.router += moe_layers * experts * hidden;
        if moe.router_bias {
            p.router += moe_layers * experts;
        }
        if moe.expert_bias {
            let per_expert = 2 * width + hidden;
            p.biases += moe_layers * experts * per_expert;
            p.expert_biases += moe_layers * experts * per_expert;
            p.active_experts += moe_layers * active * per_expert;
        }
        if moe.shared_expert_gate {
            p.other += moe_layers * hidden;
        }
    }

    /// Exact parameter count, as `model.num_parameters()` reports it.
    pub fn param_count(&self) -> u64 {
        self.param_breakdown().total()
    }

    /// Parameters one token uses (see `ParamBreakdown::active`).
    pub fn active_param_count(&self) -> u64 {
        self.param_breakdown().active()
    }

    /// KV-cache elements per token across all layers of a plain GQA model: K and V for
    /// every KV head (see `serving::kv_layout` for every attention kind and TP).
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
            max_context: max_context.max(512),
            ..Architecture::default()
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
            ..Architecture::default()
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

    /// A small MoE with every per-expert option on, counted by hand: 4 layers (1 dense),
    /// hidden 8, 4 experts of width 6 (2 per token), a shared expert of width 5.
    #[test]
    fn moe_options_each_count_their_tensors() {
        let arch = Architecture {
            layers: 4,
            hidden: 8,
            intermediate: 16,
            heads: 2,
            kv_heads: 1,
            head_dim: 4,
            vocab: 10,
            attention_bias: false,
            output_bias: false,
            qk_norm: false,
            gated_attention: false,
            attention_sinks: false,
            local_attention: None,
            mla: None,
            moe: Some(Moe {
                experts: 4,
                experts_per_token: 2,
                expert_intermediate: 6,
                shared_intermediate: 5,
                dense_layers: 1,
                router_bias: true,
                expert_bias: true,
                shared_expert_gate: true,
            }),
            ..Architecture::default()
        };
        let p = arch.param_breakdown();
        // One expert: 3 × 8 × 6 = 144 weights and 2 × 6 + 8 = 20 biases; 3 MoE layers.
        assert_eq!(p.experts, 3 * 4 * 144);
        assert_eq!(p.active_experts, 3 * 2 * (144 + 20));
        assert_eq!(p.expert_biases, 3 * 4 * 20);
        assert_eq!(p.biases, p.expert_biases);
        assert_eq!(p.router, 3 * 4 * 8 + 3 * 4);
        assert_eq!(p.other, 3 * 8, "one shared-expert gate per MoE layer");
        // Attention 4 × (64 + 64 + 64); one dense MLP 3 × 8 × 16; MoE layers 4 experts
        // and a shared one of 3 × 8 × 5.
        assert_eq!(p.linear, 4 * 192 + 384 + 3 * (4 * 144 + 120));
    }
}
