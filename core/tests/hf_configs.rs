//! Published config.json files (fixtures/hf-configs, provenance in its SOURCES.md):
//! parameter counts against the publishers' numbers, KV bytes per token per attention
//! kind as SGLang 0.5.23 allocates them, quantization_config, MoE sharding and verdicts,
//! and a property test that mutated configs give clear errors and never panic.

use gpu_session_core::arch::LocalKind;
use gpu_session_core::gpu::{self, GIB};
use gpu_session_core::hf_config::{parse_hf_config, HfConfig, HfConfigError};
use gpu_session_core::plan::{Plan, PlanRequest};
use gpu_session_core::quant::{KvDtype, Quantization};
use gpu_session_core::recommend::{expert_parallel_size, recommend, Fit};
use gpu_session_core::registry::{builtin, QuantMethod, CURRENT_BY_INSTANCE};
use gpu_session_core::serving::{
    kv_layout, serving_estimate, weights_per_gpu, ModelFamily, ServingInput,
};
use gpu_session_core::{Architecture, EstimateMode, Model, Settings};
use proptest::prelude::*;

fn fixture(name: &str) -> String {
    let path = format!(
        "{}/tests/fixtures/hf-configs/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn config(name: &str) -> HfConfig {
    parse_hf_config(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn arch(name: &str) -> Architecture {
    config(name).architecture
}

/// `value` (parameters) rounded to `decimals` decimals of `unit` equals `published`.
fn rounds_to(value: u64, unit: f64, decimals: i32, published: f64) -> bool {
    let scale = 10f64.powi(decimals);
    ((value as f64 / unit) * scale).round() / scale == published
}

const B: f64 = 1e9;

#[test]
fn parameter_counts_equal_the_published_ones() {
    // (fixture, total, decimals, published total in B). Sources: the model cards
    // (gpt-oss: OpenAI's model card table, 20.91B / 116.83B; Qwen3: "32.8B", "30.5B",
    // "235B", "480B"; DeepSeek-V3/R1: "671B" without the 14B MTP module; Kimi K2 "1T";
    // Mixtral "46.7B"; phi-4 "14.7B"; Gemma 3 "27B"; Qwen3-Next "80B").
    let totals: [(&str, i32, f64); 13] = [
        ("openai__gpt-oss-20b", 2, 20.91),
        ("openai__gpt-oss-120b", 2, 116.83),
        ("Qwen__Qwen3-32B", 1, 32.8),
        ("Qwen__Qwen3-30B-A3B", 1, 30.5),
        ("Qwen__Qwen3-235B-A22B", 0, 235.0),
        ("Qwen__Qwen3-Coder-480B-A35B-Instruct", 0, 480.0),
        ("deepseek-ai__DeepSeek-V3", 0, 671.0),
        ("deepseek-ai__DeepSeek-R1", 0, 671.0),
        ("mistralai__Mixtral-8x7B-v0.1", 1, 46.7),
        ("microsoft__phi-4", 1, 14.7),
        ("google__gemma-3-27b-it", 0, 27.0),
        // UNVERIFIED copy (fixtures/hf-configs/unverified).
        ("unverified/Qwen__Qwen3-Next-80B-A3B-Thinking", 0, 80.0),
        ("unverified/deepseek-ai__DeepSeek-V3.1", 0, 671.0),
    ];
    for (name, decimals, published) in totals {
        let total = arch(name).param_count();
        assert!(
            rounds_to(total, B, decimals, published),
            "{name}: {total} is not {published}B"
        );
    }
    // Kimi K2: "1T total".
    assert!(rounds_to(
        arch("moonshotai__Kimi-K2-Instruct").param_count(),
        1e12,
        0,
        1.0
    ));
    // Exact where the count is published exactly (the Llama 3.1/3.3 70B architecture).
    assert_eq!(
        arch("meta-llama__Llama-3.1-70B-Instruct").param_count(),
        70_553_706_496
    );
    assert_eq!(
        arch("meta-llama__Llama-3.1-8B-Instruct").param_count(),
        8_030_261_248
    );
}

#[test]
fn active_parameter_counts_equal_the_published_ones() {
    // OpenAI, DeepSeek and Moonshot count active parameters without the embedding
    // table (a token reads one row of it): `active_read_per_token`.
    let read: [(&str, f64, i32, f64); 6] = [
        ("openai__gpt-oss-20b", B, 2, 3.61),
        ("openai__gpt-oss-120b", B, 2, 5.13),
        ("deepseek-ai__DeepSeek-V3", B, 0, 37.0),
        ("deepseek-ai__DeepSeek-R1", B, 0, 37.0),
        ("moonshotai__Kimi-K2-Instruct", B, 0, 32.0),
        ("mistralai__Mixtral-8x7B-v0.1", B, 1, 12.7),
    ];
    for (name, unit, decimals, published) in read {
        let p = arch(name).param_breakdown();
        assert!(
            rounds_to(p.active_read_per_token(), unit, decimals, published),
            "{name}: {} is not {published}",
            p.active_read_per_token()
        );
    }
    // Qwen counts the embedding too: `active`. "22B", "35B"; Mistral's "12.9B" for
    // Mixtral likewise.
    let qwen = arch("Qwen__Qwen3-235B-A22B").param_breakdown();
    assert!(rounds_to(qwen.active(), B, 0, 22.0), "{}", qwen.active());
    let coder = arch("Qwen__Qwen3-Coder-480B-A35B-Instruct").param_breakdown();
    assert!(rounds_to(coder.active(), B, 0, 35.0), "{}", coder.active());
    let mixtral = arch("mistralai__Mixtral-8x7B-v0.1").param_breakdown();
    assert!(
        rounds_to(mixtral.active(), B, 1, 12.9),
        "{}",
        mixtral.active()
    );
    // Qwen3-30B-A3B: "3.3B activated" for our 3.353B: Qwen truncates (its
    // "30.5B" total is 30.53B, and 235B-A22B's "22B" is 22.19B).
    let small = arch("Qwen__Qwen3-30B-A3B").param_breakdown();
    assert_eq!(small.active(), 3_353_032_704);
    assert_eq!((small.active() as f64 / 1e8).floor(), 33.0);
    // Qwen's "non-embedding" counts: 31.2B for Qwen3-32B, 29.9B for 30B-A3B, 234B for 235B.
    for (name, decimals, published) in [
        ("Qwen__Qwen3-32B", 1, 31.2),
        ("Qwen__Qwen3-30B-A3B", 1, 29.9),
        ("Qwen__Qwen3-235B-A22B", 0, 234.0),
    ] {
        let p = arch(name).param_breakdown();
        let non_embedding = p.total() - p.embedding - p.lm_head;
        assert!(
            rounds_to(non_embedding, B, decimals, published),
            "{name}: {non_embedding}"
        );
    }
}

#[test]
fn dense_models_are_unchanged_by_the_new_reader() {
    // Dense configs give exactly the dense shape: every extension absent.
    let llama = arch("meta-llama__Llama-3.1-70B-Instruct");
    assert_eq!(
        llama,
        builtin("llama-3.1-70b").unwrap().architecture.unwrap()
    );
    let mistral = arch("mistralai__Mistral-7B-Instruct-v0.3");
    assert_eq!(
        mistral,
        builtin("mistral-7b").unwrap().architecture.unwrap()
    );
    assert_eq!(llama.param_breakdown().active(), llama.param_count());
}

#[test]
fn kv_per_token_gqa_floors_heads_per_gpu() {
    let a = arch("meta-llama__Llama-3.1-70B-Instruct");
    assert_eq!(kv_layout(&a, 2, 1).bytes_per_token, 2 * 80 * 8 * 128 * 2);
    assert_eq!(kv_layout(&a, 2, 8).bytes_per_token, 2 * 80 * 128 * 2);
    // max(1, 8 // 16): one head per GPU (ModelConfig.get_num_kv_heads).
    assert_eq!(kv_layout(&a, 2, 16).kv_heads_per_gpu, 1);
    // Qwen3-235B: 4 KV heads over 8 GPUs still costs one head each.
    let q = arch("Qwen__Qwen3-235B-A22B");
    assert_eq!(kv_layout(&q, 2, 8).bytes_per_token, 2 * 94 * 128 * 2);
    assert_eq!(kv_layout(&q, 1, 1).bytes_per_token, 2 * 94 * 4 * 128);
}

#[test]
fn kv_per_token_mla_is_one_latent_replicated_on_every_gpu() {
    let a = arch("deepseek-ai__DeepSeek-V3");
    let mla = a.mla.unwrap();
    assert_eq!((mla.kv_lora_rank, mla.qk_rope_head_dim), (512, 64));
    // 61 layers × (512 + 64) × 2 bytes, the same at TP 1 and TP 8.
    for tp in [1, 8] {
        let kv = kv_layout(&a, 2, tp);
        assert_eq!(kv.bytes_per_token, 61 * 576 * 2, "tp {tp}");
        assert!(kv.latent);
    }
    // The KV dtype applies: FP8 halves it.
    assert_eq!(kv_layout(&a, 1, 8).bytes_per_token, 61 * 576);
    let kimi = arch("moonshotai__Kimi-K2-Instruct");
    assert_eq!(kv_layout(&kimi, 2, 8).bytes_per_token, 61 * 576 * 2);
}

#[test]
fn kv_per_token_sliding_window_follows_the_swa_pool() {
    // gpt-oss-120b: 18 full + 18 sliding (128-token) layers, 8 KV heads of 64. SGLang's
    // hybrid SWA pool charges full + 0.8 × SWA bytes per token.
    let a = arch("openai__gpt-oss-120b");
    let local = a.local_attention.unwrap();
    assert_eq!(local.layers, 18);
    assert_eq!(
        local.kind,
        LocalKind::SlidingWindow {
            window: 128,
            pooled: true
        }
    );
    let kv = kv_layout(&a, 2, 1);
    let per_layer = 2 * 8 * 64 * 2;
    assert_eq!(kv.full_bytes_per_token, 18 * per_layer);
    assert_eq!(kv.swa_bytes_per_token, 18 * per_layer);
    assert_eq!(kv.bytes_per_token, 18 * per_layer + 18 * per_layer * 4 / 5);
    // A decode step reads the window, not the context, of the sliding layers.
    assert_eq!(
        kv.bytes_read_per_sequence(32_768),
        18 * per_layer * 32_768 + 18 * per_layer * 128
    );
    // Gemma 3: 52 of 62 layers slide over 1024 tokens, but SGLang 0.5.23 gives it no
    // separate pool, so every layer's KV spans the context.
    let g = arch("google__gemma-3-27b-it");
    assert_eq!(g.local_attention.unwrap().layers, 52);
    let kv = kv_layout(&g, 2, 1);
    assert_eq!((kv.full_layers, kv.swa_layers), (62, 0));
    assert_eq!(kv.bytes_per_token, 62 * 2 * 16 * 128 * 2);
}

#[test]
fn kv_hybrid_linear_attention_keeps_a_fixed_state_per_sequence() {
    // UNVERIFIED config copy (Qwen3-Next-80B-A3B-Thinking): 12 full-attention layers of
    // 2 KV heads × 256, 36 Gated DeltaNet layers.
    let a = arch("unverified/Qwen__Qwen3-Next-80B-A3B-Thinking");
    let kv = kv_layout(&a, 2, 1);
    assert_eq!((kv.full_layers, kv.linear_layers), (12, 36));
    assert_eq!(kv.bytes_per_token, 12 * 2 * 2 * 256 * 2);
    // Per layer: conv (2·16·128 + 32·128 = 8192 channels) × (4 − 1) in bf16, plus the
    // fp32 temporal state 32 × 128 × 128 (SGLang 0.5.23 Mamba2StateShape.create).
    let per_layer = 8192 * 3 * 2 + 32 * 128 * 128 * 4;
    assert_eq!(kv.state_bytes_per_seq, 36 * per_layer);
    // TP 2 halves the state and floors 2 KV heads to 1 per GPU.
    let kv2 = kv_layout(&a, 2, 2);
    assert_eq!(
        kv2.state_bytes_per_seq,
        36 * (4096 * 3 * 2 + 16 * 128 * 128 * 4)
    );
    assert_eq!(kv2.bytes_per_token, 12 * 2 * 256 * 2);
    // The state is per running sequence, whatever the context.
    let est = |seqs, context| {
        serving_estimate(ServingInput {
            arch: &a,
            quantization: Quantization::Bf16,
            kv_dtype: KvDtype::Auto,
            context,
            seqs,
            tp: 1,
            gpu_memory_mib: 81_920,
            compute_capability: 90,
            family: ModelFamily::Qwen,
        })
        .kv_cache
    };
    assert_eq!(
        est(1, 4096),
        4096 * kv.bytes_per_token + kv.state_bytes_per_seq
    );
    assert_eq!(est(4, 4096), 4 * est(1, 4096));
}

#[test]
fn quantization_config_is_read() {
    let oss = config("openai__gpt-oss-20b")
        .checkpoint_quantization
        .unwrap();
    assert_eq!(
        (oss.quantization, oss.method, oss.bits, oss.group_size),
        (Quantization::Mxfp4, QuantMethod::Mxfp4, 4, Some(32))
    );
    assert!(oss
        .not_converted
        .iter()
        .any(|m| m == "model.layers.*.self_attn"));
    let ds = config("deepseek-ai__DeepSeek-V3");
    let q = ds.checkpoint_quantization.as_ref().unwrap();
    assert_eq!(
        (q.method, q.block),
        (QuantMethod::Fp8Block, Some([128, 128]))
    );
    assert_eq!(ds.mtp_layers, 1);
    let qwen = config("Qwen__Qwen3-32B-FP8")
        .checkpoint_quantization
        .unwrap();
    assert_eq!(qwen.quantization, Quantization::Fp8);
    assert!(config("Qwen__Qwen3-32B").checkpoint_quantization.is_none());
    assert_eq!(config("Qwen__Qwen3-32B").quantization(), Quantization::Bf16);

    // AutoAWQ and GPTQ write bits and group_size; compressed-tensors (llm-compressor's
    // W8A8) nests them in config_groups.
    let with = |q: &str| {
        let base = fixture("Qwen__Qwen3-32B");
        let trimmed = base.trim_end().trim_end_matches('}');
        parse_hf_config(&format!("{trimmed}, \"quantization_config\": {q}}}"))
    };
    let awq = with(r#"{"bits": 4, "group_size": 128, "quant_method": "awq", "version": "gemm", "zero_point": true}"#)
        .unwrap()
        .checkpoint_quantization
        .unwrap();
    assert_eq!(
        (awq.quantization, awq.method, awq.group_size),
        (Quantization::Int4, QuantMethod::Awq, Some(128))
    );
    let gptq = with(r#"{"bits": 4, "group_size": 128, "desc_act": false, "quant_method": "gptq"}"#)
        .unwrap()
        .checkpoint_quantization
        .unwrap();
    assert_eq!(gptq.method, QuantMethod::Gptq);
    let w8a8 = with(r#"{"quant_method": "compressed-tensors", "format": "int-quantized", "ignore": ["lm_head"], "config_groups": {"group_0": {"targets": ["Linear"], "weights": {"num_bits": 8, "type": "int", "strategy": "channel", "symmetric": true}}}}"#)
        .unwrap()
        .checkpoint_quantization
        .unwrap();
    assert_eq!(
        (w8a8.quantization, w8a8.method),
        (Quantization::Int8, QuantMethod::CompressedTensors)
    );
    assert_eq!(w8a8.not_converted, ["lm_head"]);
    let err = with(r#"{"quant_method": "bitsandbytes", "load_in_4bit": true}"#)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("'quantization_config.quant_method' = bitsandbytes"),
        "{err}"
    );
    let err = with(r#"{"bits": 3, "group_size": 128, "quant_method": "gptq"}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("'quantization_config.bits' = 3"), "{err}");
}

#[test]
fn weights_follow_what_the_checkpoint_stores() {
    // MXFP4: routed experts at 4.25 bits (E2M1 + one E8M0 scale per 32), everything
    // else 16 bit, as gpt-oss ships it.
    let a = arch("openai__gpt-oss-120b");
    let p = a.param_breakdown();
    let expected = p.experts / 2
        + p.experts.div_ceil(32)
        + (p.linear - p.experts) * 2
        + (p.embedding + p.lm_head + p.norms + p.biases + p.router + p.other) * 2;
    assert_eq!(weights_per_gpu(&a, Quantization::Mxfp4, 1), expected);
    let gib = expected as f64 / GIB as f64;
    assert!((60.0..61.5).contains(&gib), "{gib}");
    // FP8: one byte per linear weight (block scales are 0.024 %, not counted); router,
    // norms and embeddings stay 16 bit.
    let ds = arch("deepseek-ai__DeepSeek-V3");
    let p = ds.param_breakdown();
    let fp8_one = weights_per_gpu(&ds, Quantization::Fp8, 1);
    let replicated = p.replicated_linear + p.attention_kv_proj;
    assert_eq!(
        fp8_one,
        p.linear + (p.embedding + p.lm_head + p.biases + p.other + p.norms + p.router) * 2
    );
    // 671B in FP8 with 16-bit embeddings, router and norms: 627 GiB.
    let gib = fp8_one as f64 / GIB as f64;
    assert!((626.0..628.0).contains(&gib), "{gib}");
    // At TP 8, MLA's latent projections stay whole on every GPU; the rest is split.
    let fp8_eight = weights_per_gpu(&ds, Quantization::Fp8, 8);
    assert!(fp8_eight * 8 > fp8_one, "{fp8_eight}");
    assert!(
        fp8_eight * 8 < fp8_one + 8 * (replicated + p.norms * 2 + p.router * 2),
        "{fp8_eight}"
    );
    // Experts are TP-sharded (SGLang's default ep_size 1): 1/8 of the experts each.
    let q = arch("Qwen__Qwen3-235B-A22B");
    let one = weights_per_gpu(&q, Quantization::Bf16, 1);
    let eight = weights_per_gpu(&q, Quantization::Bf16, 8);
    assert!((eight * 8) as f64 / (one as f64) < 1.005, "{one} {eight}");
}

#[test]
fn deepseek_class_verdicts_respect_instance_memory() {
    let m = builtin("deepseek-r1-671b").unwrap();
    let s = Settings::defaults_for(m);
    assert_eq!(s.quantization, Quantization::Fp8);
    let r = recommend(m, &s, EstimateMode::Serving, None);
    for eighty in ["gpu_8x_h100_sxm5", "gpu_8x_a100_80gb_sxm4"] {
        let row = r.row(eighty).unwrap();
        assert_eq!(row.fit, Fit::No, "{eighty}: {}", row.reason);
        assert!(row.reason.contains("weights need"), "{}", row.reason);
    }
    let b200 = r.row("gpu_8x_b200_sxm6").unwrap();
    assert_eq!(b200.fit, Fit::Fits, "{}", b200.reason);
    assert_eq!(r.cheapest().unwrap().gpu.instance_type, "gpu_8x_b200_sxm6");
    assert!(r.no_fit.is_none());
    // MLA keeps KV small: 128K tokens cost 8.6 GiB per GPU, the same on each.
    assert_eq!(b200.serving.kv_bytes_per_token, 61 * 576 * 2);

    // Kimi K2 in BF16 (2 TB) fits nothing, and the recommendation says so.
    let kimi = builtin("kimi-k2").unwrap();
    let bf16 = Settings {
        quantization: Quantization::Bf16,
        ..Settings::defaults_for(kimi)
    };
    let r = recommend(kimi, &bf16, EstimateMode::Serving, None);
    assert!(r.cheapest().is_none());
    let msg = r.no_fit.unwrap();
    assert!(msg.contains("fits no single instance"), "{msg}");
    assert!(msg.contains("gpu_8x_b200_sxm6"), "{msg}");
}

#[test]
fn block_fp8_experts_that_cannot_split_run_expert_parallel() {
    // Qwen3-235B-A22B-FP8: 1536-wide experts split into 192 columns at TP 8, not a
    // multiple of the 128-column scale blocks; SGLang refuses TP-sharded experts, so
    // the plan passes --ep-size 8 (each GPU holds 16 whole experts).
    let q = arch("Qwen__Qwen3-235B-A22B-FP8");
    assert_eq!(expert_parallel_size(QuantMethod::Fp8Block, &q, 8), 8);
    assert_eq!(expert_parallel_size(QuantMethod::Fp8Block, &q, 4), 1);
    assert_eq!(expert_parallel_size(QuantMethod::Fp8, &q, 8), 1);
    let ds = arch("deepseek-ai__DeepSeek-V3");
    assert_eq!(expert_parallel_size(QuantMethod::Fp8Block, &ds, 8), 1);
    let m = builtin("qwen3-235b-a22b").unwrap();
    let gpu = gpu::find("gpu_8x_h100_sxm5").unwrap();
    let plan = Plan::build(&PlanRequest::new(m, Settings::defaults_for(m), gpu)).unwrap();
    let args = plan.sglang_args().join(" ");
    assert!(args.contains("--tp-size 8"), "{args}");
    assert!(args.contains("--ep-size 8"), "{args}");
    let r = recommend(m, &Settings::defaults_for(m), EstimateMode::Serving, None);
    let row = r.row("gpu_8x_h100_sxm5").unwrap();
    assert_eq!(row.expert_parallel, 8);
    assert!(row.reason.contains("--ep-size 8"), "{}", row.reason);
    // Dense block-FP8 layers must split too: Qwen3-32B-FP8's 25600-wide MLP does at TP 8
    // (3200 = 25 × 128 columns per GPU).
    let dense = builtin("qwen3-32b").unwrap();
    let fp8 = Settings {
        quantization: Quantization::Fp8,
        ..Settings::defaults_for(dense)
    };
    let r = recommend(dense, &fp8, EstimateMode::Serving, None);
    assert_ne!(r.row("gpu_8x_h100_sxm5").unwrap().fit, Fit::No);
    let no_split = arch("Qwen__Qwen3-30B-A3B-FP8");
    // 768 / 4 = 192; EP needs 128 % 4 == 0: expert parallel.
    assert_eq!(expert_parallel_size(QuantMethod::Fp8Block, &no_split, 4), 4);
}

#[test]
fn moe_decode_reads_the_active_experts() {
    // Qwen3-30B-A3B (3.3B active) decodes several times faster than dense Qwen3-32B
    // on the same GPU at one sequence.
    let speed = |id: &str| {
        let m = builtin(id).unwrap();
        let r = recommend(m, &Settings::defaults_for(m), EstimateMode::Serving, None);
        r.row("gpu_1x_h100_sxm5").unwrap().speed.output_tokens_per_s
    };
    let (moe, dense) = (speed("qwen3-30b-a3b"), speed("qwen3-32b"));
    assert!(moe > 3.0 * dense, "{moe} {dense}");
}

#[test]
fn instance_guide_matches_the_verdicts() {
    for g in CURRENT_BY_INSTANCE {
        let gpu = gpu::find(g.instance_type).unwrap();
        for id in g.model_ids {
            let m = builtin(id).unwrap();
            let r = recommend(
                m,
                &Settings::defaults_for(m),
                EstimateMode::Serving,
                Some(gpu),
            );
            let row = r.row(g.instance_type).unwrap();
            assert_eq!(
                row.fit,
                Fit::Fits,
                "{id} on {}: {}",
                g.instance_type,
                row.reason
            );
        }
    }
}

#[test]
fn bad_configs_name_the_problem() {
    let err = |s: &str| parse_hf_config(s).unwrap_err();
    let ds = fixture("deepseek-ai__DeepSeek-V3");
    assert_eq!(
        err(&ds.replace("\"kv_lora_rank\": 512,", "")),
        HfConfigError::Missing("kv_lora_rank")
    );
    let unknown = ds.replace(
        "\"model_type\": \"deepseek_v3\"",
        "\"model_type\": \"falcon_h9\"",
    );
    let msg = err(&unknown).to_string();
    assert!(
        msg.contains("model_type 'falcon_h9' is not supported"),
        "{msg}"
    );
    assert_eq!(
        err(&ds.replace("\"n_routed_experts\": 256", "\"n_routed_experts\": \"256\"")),
        HfConfigError::WrongType {
            field: "n_routed_experts",
            expected: "a whole number"
        }
    );
    let huge = ds.replace("\"n_routed_experts\": 256", "\"n_routed_experts\": 4000");
    let msg =
        err(&huge.replace("\"num_hidden_layers\": 61", "\"num_hidden_layers\": 999")).to_string();
    assert!(msg.contains("100 trillion"), "{msg}");
    let no_type = fixture("Qwen__Qwen3-32B").replace("\"model_type\": \"qwen3\",", "");
    assert_eq!(err(&no_type), HfConfigError::Missing("model_type"));
}

fn mutate(root: &mut serde_json::Value, key_index: usize, mutation: u8, number: u64) -> String {
    let obj = match root.get("text_config") {
        Some(serde_json::Value::Object(_)) if root.get("num_hidden_layers").is_none() => {
            root.get_mut("text_config").unwrap()
        }
        _ => root,
    };
    let map = obj.as_object_mut().unwrap();
    let keys: Vec<String> = map.keys().cloned().collect();
    let key = keys[key_index % keys.len()].clone();
    let value = match mutation % 7 {
        0 => {
            map.remove(&key);
            return key;
        }
        1 => serde_json::json!("twelve"),
        2 => serde_json::json!([1, 2]),
        3 => serde_json::json!(-(number as i64 % 1000) - 1),
        4 => serde_json::json!(number),
        5 => serde_json::json!(0),
        _ => serde_json::json!(1.5),
    };
    map.insert(key.clone(), value);
    key
}

const FIXTURES: [&str; 12] = [
    "openai__gpt-oss-20b",
    "openai__gpt-oss-120b",
    "Qwen__Qwen3-32B-FP8",
    "Qwen__Qwen3-30B-A3B",
    "Qwen__Qwen3-235B-A22B-FP8",
    "deepseek-ai__DeepSeek-R1",
    "moonshotai__Kimi-K2-Instruct",
    "google__gemma-3-27b-it",
    "microsoft__phi-4",
    "mistralai__Mixtral-8x7B-v0.1",
    "meta-llama__Llama-3.1-8B-Instruct",
    "unverified/Qwen__Qwen3-Next-80B-A3B-Thinking",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(384))]

    /// A config with one field removed, retyped or set to an absurd size parses or
    /// fails with an error naming a field; whatever parses, the estimate runs on
    /// without a panic.
    #[test]
    fn mutated_configs_never_panic(
        which in 0..FIXTURES.len(),
        key_index in 0usize..200,
        mutation in 0u8..7,
        number in prop_oneof![Just(u64::from(u32::MAX)), Just(1u64 << 40), 1u64..1_000_000],
        model_type in prop::option::of("[a-z0-9_]{1,12}"),
    ) {
        let mut root: serde_json::Value = serde_json::from_str(&fixture(FIXTURES[which])).unwrap();
        let key = mutate(&mut root, key_index, mutation, number);
        if let Some(t) = &model_type {
            root["model_type"] = serde_json::json!(t);
        }
        match parse_hf_config(&root.to_string()) {
            Ok(config) => {
                let a = config.architecture;
                prop_assert!(a.validate().is_ok());
                let p = a.param_breakdown();
                prop_assert!(p.active() <= p.total());
                let mut model: Model = builtin("llama-3.1-8b").unwrap().clone();
                model.architecture = Some(a);
                model.context_length = a.max_context.min(8192);
                let r = recommend(&model, &Settings::defaults_for(&model), EstimateMode::Serving, None);
                prop_assert_eq!(r.rows.len(), gpu::CATALOG.len());
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.contains('\'') || msg.starts_with("config.json must"), "{}", msg);
                if let HfConfigError::WrongType { field, .. } = &e {
                    // A type error names the field that was retyped (or, for a
                    // text_config wrapper, that object).
                    prop_assert!(key.ends_with(field) || *field == "text_config" || field.contains(key.as_str()), "{} vs {}", field, key);
                }
            }
        }
    }
}
