//! No custom model shape inside the accepted bounds (`Architecture::validate`, the
//! settings' context and sequence limits) makes the estimate panic: the KV-bytes
//! arithmetic of the widest shapes (1,024 KV heads × 1,024 head dim × 1,000 layers ×
//! 16 M tokens × 512 sequences) exceeds u64, so it must saturate, never wrap or panic.

use gpu_session_core::arch::{Architecture, LinearAttention, LocalAttention, LocalKind, Mla, Moe};
use gpu_session_core::quant::{KvDtype, Quantization};
use gpu_session_core::recommend::{recommend_at, Fit};
use gpu_session_core::registry::{CustomModel, Model};
use gpu_session_core::settings::{EstimateMode, Settings, MAX_SEQS};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

/// A value in `lo..=hi`, mostly the upper bound (overflow lives there).
fn edge(lo: u32, hi: u32) -> impl Strategy<Value = u32> {
    prop_oneof![4 => Just(hi), 1 => Just(lo), 1 => lo..=hi]
}

fn mla() -> impl Strategy<Value = Option<Mla>> {
    prop::option::of(
        (
            edge(0, 1 << 16),
            edge(1, 1 << 16),
            edge(0, 1_024),
            edge(1, 1_024),
            edge(1, 1_024),
        )
            .prop_map(|(q, kv, nope, rope, v)| Mla {
                q_lora_rank: q,
                kv_lora_rank: kv,
                qk_nope_head_dim: nope,
                qk_rope_head_dim: rope,
                v_head_dim: v,
            }),
    )
}

fn moe(layers: u32) -> impl Strategy<Value = Option<Moe>> {
    prop::option::of(
        (
            edge(1, 4_096),
            edge(1, 1 << 19),
            edge(0, 1 << 19),
            edge(0, layers - 1),
        )
            .prop_flat_map(|(experts, inter, shared, dense)| {
                edge(1, experts).prop_map(move |per_token| Moe {
                    experts,
                    experts_per_token: per_token,
                    expert_intermediate: inter,
                    shared_intermediate: shared,
                    dense_layers: dense,
                    router_bias: false,
                    expert_bias: false,
                    shared_expert_gate: false,
                })
            }),
    )
}

fn local(layers: u32) -> impl Strategy<Value = Option<LocalAttention>> {
    let kind = prop_oneof![
        (edge(1, 1 << 24), any::<bool>())
            .prop_map(|(window, pooled)| LocalKind::SlidingWindow { window, pooled }),
        edge(1, 1 << 24).prop_map(|chunk| LocalKind::Chunked { chunk }),
        (
            edge(1, 1_024),
            edge(1, 1_024),
            edge(1, 1_024),
            edge(1, 1_024),
            edge(2, 64),
            edge(1, 4)
        )
            .prop_map(
                |(kh, vh, kd, vd, conv, bytes)| LocalKind::Linear(LinearAttention {
                    key_heads: kh,
                    value_heads: vh,
                    key_head_dim: kd,
                    value_head_dim: vd,
                    conv_kernel: conv,
                    state_bytes: bytes,
                })
            ),
    ];
    prop::option::of(
        (edge(1, layers), kind).prop_map(|(layers, kind)| LocalAttention { layers, kind }),
    )
}

/// Any architecture `Architecture::validate` accepts (shapes it refuses are skipped).
fn architecture() -> impl Strategy<Value = Architecture> {
    (
        edge(1, 1_000),
        edge(1, 1 << 17),
        edge(1, 1 << 19),
        edge(1, 1_024),
        edge(1, 1_024),
        edge(1, 1 << 22),
        edge(512, 1 << 24),
        edge(0, 8),
    )
        .prop_flat_map(
            |(layers, hidden, inter, heads, head_dim, vocab, ctx, norms)| {
                // kv_heads: a divisor of heads (validate's rule), often heads itself.
                let divisors: Vec<u32> = (1..=heads).filter(|d| heads % d == 0).collect();
                (
                    prop::sample::select(divisors),
                    mla(),
                    moe(layers),
                    local(layers),
                )
                    .prop_map(move |(kv_heads, mla, moe, local_attention)| {
                        Architecture {
                            layers,
                            hidden,
                            intermediate: inter,
                            heads,
                            kv_heads,
                            head_dim,
                            vocab,
                            max_context: ctx,
                            extra_norms_per_layer: norms,
                            mla,
                            moe,
                            local_attention,
                            ..Architecture::DENSE
                        }
                    })
            },
        )
        .prop_filter("Architecture::validate accepts it", |a| {
            a.validate().is_ok()
        })
}

fn check_shape(
    (arch, quantization, kv_dtype, seqs, user_fraction): (
        Architecture,
        Quantization,
        KvDtype,
        u32,
        Option<f64>,
    ),
) -> Result<(), TestCaseError> {
    let custom = CustomModel {
        architecture: Some(arch),
        ..CustomModel::new("org/model", 7.0, quantization, arch.max_context)
    };
    let model = Model::custom("shape", &custom);
    let settings = Settings {
        quantization,
        context: arch.max_context,
        seqs,
        kv_dtype,
        gpus: 1,
        ..Settings::defaults_for(&model)
    };
    for mode in [EstimateMode::Serving, EstimateMode::Reference] {
        let rec = recommend_at(&model, &settings, mode, None, user_fraction);
        for row in &rec.rows {
            // A shape too big for a GPU must say so, not wrap round to a small figure
            // (the reference mode is the published formula, which has no KV term).
            if mode == EstimateMode::Serving && row.serving.kv_cache == u64::MAX {
                prop_assert_eq!(row.fit, Fit::No, "{}", row.gpu.instance_type);
            }
        }
    }
    Ok(())
}

#[test]
fn no_shape_inside_the_bounds_panics() {
    // The nested strategies need more than a test thread's 2 MiB stack in debug builds.
    let run = || {
        let mut runner = TestRunner::new(ProptestConfig::with_cases(256));
        let shapes = (
            architecture(),
            prop::sample::select(Quantization::ALL.to_vec()),
            prop::sample::select(KvDtype::ALL.to_vec()),
            edge(1, MAX_SEQS),
            prop::option::of(prop_oneof![Just(0.5), Just(0.95)]),
        );
        // The failure (with its shrunk input) as text: the error value itself is large.
        runner.run(&shapes, check_shape).map_err(|e| e.to_string())
    };
    let result = std::thread::Builder::new()
        .stack_size(64 << 20)
        .spawn(run)
        .expect("spawn the property test")
        .join()
        .expect("the property test panicked");
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// The widest KV the bounds allow, at the longest context and most sequences: past
/// u64 before saturation (a panic in debug builds, a small wrong figure in release).
#[test]
fn the_widest_kv_shape_saturates_and_does_not_fit() {
    let arch = Architecture {
        layers: 1_000,
        hidden: 1,
        intermediate: 1,
        heads: 1_024,
        kv_heads: 1_024,
        head_dim: 1_024,
        vocab: 1,
        max_context: 1 << 24,
        ..Architecture::DENSE
    };
    assert_eq!(arch.validate(), Ok(()));
    for quantization in [Quantization::Fp32, Quantization::Bf16] {
        check_shape((arch, quantization, KvDtype::Auto, MAX_SEQS, None)).unwrap();
        check_shape((arch, quantization, KvDtype::Auto, MAX_SEQS, Some(0.95))).unwrap();
    }
}
