use super::*;
use crate::recommend::{evaluate, recommend};
use crate::registry::builtin;
use crate::serving::weights_per_gpu;
use crate::settings::EstimateMode;

fn h100x8() -> &'static GpuType {
    crate::gpu::find("gpu_8x_h100_sxm5").unwrap()
}

fn on_two(model: &str, gpu: &'static GpuType) -> TwoNodeEstimate {
    let m = builtin(model).unwrap();
    let s = Settings::defaults_for(m);
    two_nodes(m, &s, gpu, &Workload::concurrent(s.seqs)).unwrap()
}

#[test]
fn layers_split_as_sglangs_get_pp_indices() {
    // Even split, the remainder on the last stages.
    assert_eq!(pp_layer_range(61, 0, 2), (0, 30));
    assert_eq!(pp_layer_range(61, 1, 2), (30, 61));
    assert_eq!(pp_layer_range(32, 0, 2), (0, 16));
    assert_eq!(pp_layer_range(32, 1, 2), (16, 32));
    assert_eq!(pp_layer_range(10, 0, 3), (0, 3));
    assert_eq!(pp_layer_range(10, 1, 3), (3, 6));
    assert_eq!(pp_layer_range(10, 2, 3), (6, 10));
    assert_eq!(pp_layer_range(11, 1, 3), (3, 7));
}

#[test]
fn deepseek_r1_fits_two_h100_nodes_in_both_layouts_and_not_one() {
    let m = builtin("deepseek-r1-671b").unwrap();
    let s = Settings::defaults_for(m);
    let one = evaluate(m, &s, h100x8(), EstimateMode::Serving);
    assert_eq!(one.fit, Fit::No, "{}", one.reason);
    let two = on_two("deepseek-r1-671b", h100x8());
    for layout in Layout::ALL {
        let l = two.layout(layout).unwrap();
        assert_ne!(l.fit, Fit::No, "{}: {}", layout.label(), l.reason);
        assert!(l.kv_pool_tokens >= u64::from(s.context), "{l:?}");
        assert!(l.headroom_bytes > 0);
    }
    assert_eq!(two.recommended, Some(Layout::Pp2Tp8));
    assert!(
        two.recommendation.contains("Ethernet"),
        "{}",
        two.recommendation
    );
    assert_eq!(two.price_per_hour_usd, 2.0 * h100x8().price_per_hour_usd());
    assert_eq!((two.nodes, two.gpus), (2, 16));
}

// Hand count from deepseek-ai/DeepSeek-R1 config.json (hidden 7168, 61 layers of which
// the first 3 dense, q_lora 1536, kv_lora 512, rope 64, nope 128, v 128, 128 heads, 256
// experts of width 2048 plus one shared, dense width 18432, vocab 129280), per layer:
// - attention split over TP: q_b 1536 × 128 × 192 + kv_b 512 × 128 × 256 + o 128 × 128 ×
//   7168 = 171,966,464; whole on every GPU: q_a 7168 × 1536 + kv_a 7168 × 576 = 15,138,816;
// - dense MLP 3 × 7168 × 18432 = 396,361,728; shared expert 3 × 7168 × 2048 = 44,040,192;
//   routed experts 256 × 3 × 7168 × 2048 = 11,274,289,152; router 256 × 7168 + 256 bias;
// - norms 1536 + 512 + 2 × 7168, plus the final 7168; one 129280 × 7168 matrix per stage.
// FP8: one byte per linear weight; router, norms, embedding and lm_head in BF16.
#[test]
fn deepseek_r1_per_gpu_weights_match_a_hand_count() {
    let two = on_two("deepseek-r1-671b", h100x8());
    let pp = two.layout(Layout::Pp2Tp8).unwrap();
    let (s0, s1) = (&pp.stages[0], &pp.stages[1]);
    assert_eq!((s0.first_layer, s0.end_layer), (0, 30));
    assert_eq!((s1.first_layer, s1.end_layer), (30, 61));
    assert!(s0.holds_embedding && !s0.holds_lm_head);
    assert!(!s1.holds_embedding && s1.holds_lm_head);
    assert_eq!(
        (s0.node_ranks.clone(), s1.node_ranks.clone()),
        (vec![0], vec![1])
    );
    // Stage 0, 3 dense + 27 MoE layers over TP 8:
    //   (30 × 171,966,464 + 3 × 396,361,728 + 27 × 44,040,192) / 8 + 30 × 15,138,816
    //     = 1,396,310,016 B of FP8 attention and dense MLP,
    //   27 × 11,274,289,152 / 8 = 38,050,725,888 B of experts,
    //   2 × (129280 × 7168 / 8 + 30 × 16,384 + 7168 + 27 × 1,835,264) = 2 × 165,885,696 B.
    assert_eq!(
        s0.serving.weights,
        1_396_310_016 + 38_050_725_888 + 2 * 165_885_696
    );
    // Stage 1, 31 MoE layers: (31 × 171,966,464 + 31 × 44,040,192) / 8 + 31 × 15,138,816
    //   = 1,306,329,088; 31 × 11,274,289,152 / 8 = 43,687,870,464;
    //   2 × (115,834,880 + 31 × 16,384 + 7168 + 31 × 1,835,264) = 2 × 173,243,136.
    assert_eq!(
        s1.serving.weights,
        1_306_329_088 + 43_687_870_464 + 2 * 173_243_136
    );
    // The fuller stage (1: 31 MoE layers and the lm_head) decides the fit.
    assert_eq!(pp.per_gpu_bytes, s1.serving.total());
    assert!(s1.serving.total() > s0.serving.total());
    // TP 16: all 61 layers over sixteen GPUs, both matrices split sixteen ways:
    //   (61 × 171,966,464 + 3 × 396,361,728 + 58 × 44,040,192) / 16 + 61 × 15,138,816
    //     = 1,813,053,440; 58 × 11,274,289,152 / 16 = 40,869,298,176;
    //   2 × (2 × 926,679,040 / 16 + 61 × 16,384 + 7168 + 58 × 1,835,264) = 2 × 223,286,784.
    let tp = two.layout(Layout::Tp16).unwrap();
    assert_eq!(tp.stages.len(), 1);
    assert_eq!(tp.stages[0].node_ranks, vec![0, 1]);
    assert_eq!(
        tp.stages[0].serving.weights,
        1_813_053_440 + 40_869_298_176 + 2 * 223_286_784
    );
    // MLA keeps one 576-element BF16 latent per layer and token on every GPU: PP's stages
    // hold 30 and 31 layers of it, TP 16 all 61.
    assert_eq!(s0.serving.kv_bytes_per_token, 30 * 576 * 2);
    assert_eq!(s1.serving.kv_bytes_per_token, 31 * 576 * 2);
    assert_eq!(tp.stages[0].serving.kv_bytes_per_token, 61 * 576 * 2);
    // SGLang's reserve counts TP × PP = 16 ranks in both layouts.
    assert_eq!(
        s0.serving.sglang.reserved_mib,
        tp.stages[0].serving.sglang.reserved_mib
    );
}

#[test]
fn deepseek_r1_cross_node_bytes_and_speed_favour_the_pipeline() {
    let two = on_two("deepseek-r1-671b", h100x8());
    let tp = two.layout(Layout::Tp16).unwrap();
    let pp = two.layout(Layout::Pp2Tp8).unwrap();
    // PP: hidden state + residual, 2 × 7168 × 2 B = 28 KiB per token, two crossings.
    assert_eq!(pp.cross_node_bytes_per_token, 28_672);
    assert_eq!(pp.cross_node_crossings_per_step, 2);
    // TP 16: 122 all-reduces of 7168 × 2 B, a ring moving 2 × 15/16 of each over the link.
    assert_eq!(tp.cross_node_allreduces_per_step, 122);
    assert_eq!(tp.cross_node_bytes_per_token, 122 * 26_880);
    assert_eq!(tp.cross_node_crossings_per_step, 244);
    // 244 crossings of 50 µs alone are 12.2 ms a step: the pipeline decodes faster.
    assert!(pp.speed.tpot_ms < tp.speed.tpot_ms, "{pp:?} {tp:?}");
    assert!(tp.speed.tpot_ms > 12.2);
    for l in [tp, pp] {
        let s = &l.speed;
        assert!(s.tpot_ms.is_finite() && s.ttft_ms > 0.0 && s.output_tokens_per_s > 0.0);
        assert_eq!(s.output_tokens_per_s_per_gpu, s.output_tokens_per_s / 16.0);
    }
}

#[test]
fn the_cross_node_charge_adds_exactly_its_latency_and_per_token_time() {
    let m = builtin("deepseek-r1-671b").unwrap();
    let (arch, _) = m.effective_architecture();
    let s = Settings::defaults_for(m);
    let serving = serving_estimate(input(m, &arch, &s, 8, h100x8()));
    let shard = model_shard(&arch, s.quantization, &serving, 100_000);
    let hw = hardware(h100x8(), 8, s.quantization);
    let mut charged = hw;
    charge_cross_node(&shard, &mut charged, 1e-4, 2e-5);
    // `speed`'s all-reduce term per pass of `tokens` tokens.
    let term = |hw: &Hardware, tokens: f64| {
        let n = f64::from(hw.tp);
        let bytes = shard.allreduce_bytes_per_token * tokens * 2.0 * (n - 1.0) / n;
        f64::from(shard.allreduces_per_pass)
            * (hw.allreduce_latency_s + bytes / hw.link_bytes_per_s)
    };
    for tokens in [1.0, 64.0, 8192.0] {
        let added = term(&charged, tokens) - term(&hw, tokens);
        let expected = 1e-4 + 2e-5 * tokens;
        assert!(
            (added - expected).abs() < 1e-9 * expected.max(1.0),
            "{tokens}: {added}"
        );
    }
}

#[test]
fn a_small_dense_model_on_two_nodes_is_still_sized_right() {
    let m = builtin("llama-3.1-8b").unwrap();
    let (arch, _) = m.effective_architecture();
    let s = Settings::defaults_for(m);
    let two = on_two("llama-3.1-8b", h100x8());
    let pp = two.layout(Layout::Pp2Tp8).unwrap();
    assert_eq!(
        pp.stages
            .iter()
            .map(|s| (s.first_layer, s.end_layer))
            .collect::<Vec<_>>(),
        vec![(0, 16), (16, 32)]
    );
    // The stages together hold the whole model at TP 8 (the untied embedding on stage 0,
    // the lm_head on stage 1) plus the final norm, counted on both: 4096 BF16 values.
    let whole = weights_per_gpu(&arch, s.quantization, 8);
    let stages: u64 = pp.stages.iter().map(|s| s.serving.weights).sum();
    assert_eq!(stages, whole + 4096 * 2);
    // 8 KV heads over TP 16: one per GPU, replicated in pairs; over TP 8 also one.
    let tp = two.layout(Layout::Tp16).unwrap();
    assert_eq!(tp.stages[0].serving.kv_heads_per_gpu, 1);
    assert_eq!(tp.stages[0].serving.kv_bytes_per_token, 32 * 2 * 128 * 2);
    assert_eq!(pp.stages[0].serving.kv_bytes_per_token, 16 * 2 * 128 * 2);
    assert_eq!(
        tp.stages[0].serving.weights,
        weights_per_gpu(&arch, s.quantization, 16)
    );
    for l in [tp, pp] {
        assert_eq!(l.fit, Fit::Fits, "{}", l.reason);
    }
    assert_eq!(pp.cross_node_bytes_per_token, 2 * 4096 * 2);
    assert_eq!(tp.cross_node_bytes_per_token, 64 * (4096 * 2 * 2 * 15 / 16));
}

#[test]
fn local_and_dense_layers_split_by_their_position() {
    let m = builtin("deepseek-r1-671b").unwrap();
    let (arch, _) = m.effective_architecture();
    let s0 = stage_architecture(&arch, 0, 30);
    let s1 = stage_architecture(&arch, 30, 61);
    assert_eq!((s0.layers, s0.moe.unwrap().dense_layers), (30, 3));
    assert_eq!((s1.layers, s1.moe.unwrap().dense_layers), (31, 0));
    // Interleaved local layers share out in proportion and add up.
    let gemma = builtin("gemma-3-27b").unwrap().effective_architecture().0;
    let local = gemma.local_attention.unwrap().layers;
    let (a, b) = pp_layer_range(gemma.layers, 0, 2);
    let (c, d) = pp_layer_range(gemma.layers, 1, 2);
    let first = stage_architecture(&gemma, a, b)
        .local_attention
        .unwrap()
        .layers;
    let second = stage_architecture(&gemma, c, d)
        .local_attention
        .unwrap()
        .layers;
    assert_eq!(first + second, local);
    assert!(first <= b - a && second <= d - c);
}

#[test]
fn only_one_or_two_nodes_and_only_eight_gpu_types() {
    check_nodes(1).unwrap();
    check_nodes(2).unwrap();
    for bad in [0, 3, 16] {
        let e = check_nodes(bad).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.value.clone()),
            ("nodes", bad.to_string())
        );
    }
    let m = builtin("llama-3.1-8b").unwrap();
    let s = Settings::defaults_for(m);
    let a10 = crate::gpu::find("gpu_1x_a10").unwrap();
    let e = two_nodes(m, &s, a10, &Workload::concurrent(1)).unwrap_err();
    assert_eq!((e.field.as_str(), e.value.as_str()), ("gpu", "gpu_1x_a10"));
}

#[test]
fn two_node_options_are_cheaper_than_one_instance_or_the_only_fit() {
    for id in ["deepseek-r1-671b", "kimi-k2", "llama-3.1-8b"] {
        let m = builtin(id).unwrap();
        let s = Settings::defaults_for(m);
        let rec = recommend(m, &s, EstimateMode::Serving, None);
        let options = two_node_options(m, &s, &rec, &Workload::concurrent(1));
        let single = rec.cheapest().map(|r| r.price_per_hour_usd);
        for o in &options {
            assert!(o.recommended_layout().unwrap().fit != Fit::No);
            assert!(
                single.is_none_or(|p| o.price_per_hour_usd < p),
                "{id}: {o:?}"
            );
        }
        if id == "llama-3.1-8b" {
            // One small GPU holds it: two 8-GPU instances never cost less.
            assert!(options.is_empty());
        }
    }
}

#[test]
fn block_fp8_checkpoints_need_fp8_tensor_cores() {
    let m = builtin("deepseek-r1-671b").unwrap();
    let a100 = crate::gpu::find("gpu_8x_a100_80gb_sxm4").unwrap();
    let two = on_two("deepseek-r1-671b", a100);
    for l in &two.layouts {
        assert_eq!(l.fit, Fit::No);
        assert!(l.reason.contains("FP8 tensor cores"), "{}", l.reason);
    }
    assert_eq!(two.recommended, None);
    let s = Settings::defaults_for(m);
    assert!(fp8_block_without_fp8_cores(m, &s, h100x8()).is_none());
    // A 16-bit model is fine on Ampere.
    let llama = builtin("llama-3.1-8b").unwrap();
    let s = Settings::defaults_for(llama);
    assert!(fp8_block_without_fp8_cores(llama, &s, a100).is_none());
}

#[test]
fn a_pipeline_needs_a_layer_per_stage_and_experts_split_as_one_instance_would() {
    let m = builtin("llama-3.1-8b").unwrap();
    let s = Settings::defaults_for(m);
    let one_layer = Model {
        architecture: Some(Architecture {
            layers: 1,
            ..m.architecture.unwrap()
        }),
        ..m.clone()
    };
    let two = two_nodes(&one_layer, &s, h100x8(), &Workload::concurrent(1)).unwrap();
    let pp = two.layout(Layout::Pp2Tp8).unwrap();
    assert_eq!(pp.fit, Fit::No);
    assert!(pp.reason.contains("at least 2 layers"), "{}", pp.reason);
    assert_eq!(two.recommended, Some(Layout::Tp16));
    // Qwen3-235B-A22B-FP8's 1536-wide experts split into 128-column blocks at neither
    // TP 8 nor TP 16 (192, 96 columns): both layouts keep experts whole (--ep-size).
    let qwen = on_two("qwen3-235b-a22b", h100x8());
    let ep: Vec<u32> = qwen.layouts.iter().map(|l| l.expert_parallel).collect();
    let q = builtin("qwen3-235b-a22b").unwrap();
    assert_eq!(
        q.checkpoint_for(q.quantization).unwrap().method,
        QuantMethod::Fp8Block
    );
    assert_eq!(ep, vec![16, 8]);
    assert_eq!(
        on_two("deepseek-r1-671b", h100x8()).layouts[0].expert_parallel,
        1
    );
}
