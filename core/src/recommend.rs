//! For a model and settings: every GPU type with its verdict, headroom, KV-pool
//! capacity, limits, serving speed for the settings' workload (`speed`) and cost; and
//! the cheapest type that fits.

use crate::arch::Architecture;
use crate::decimal::Fixed;
use crate::gpu::{in_gib, GpuType, CATALOG};
use crate::reference::{reference_estimate, ReferenceEstimate, MIN_GPU_UTILISATION};
use crate::registry::Model;
use crate::registry::QuantMethod;
use crate::serving::{serving_estimate, ModelFamily, ServingEstimate, ServingInput};
use crate::settings::{EstimateMode, Settings, MAX_SEQS};
use crate::speed::{speed_of, Speed};
use serde::{Deserialize, Serialize};

/// A verdict is "tight" when less than this share of the GPU would stay free. Our policy,
/// not a measurement: 5 % of an 80 GB card is 4 GB, about one chunked-prefill step's
/// activations for a 70B model plus allocator slack.
pub const TIGHT_HEADROOM: f64 = 0.05;

/// Whether the model, at these settings, runs on a GPU type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fit {
    Fits,
    /// Everything requested fits, but under [`TIGHT_HEADROOM`] of memory stays free, or
    /// only with a raised `--mem-fraction-static`.
    Tight,
    /// It runs, but the KV pool holds fewer of the requested sequences than asked: the
    /// rest queue (`GpuFit::max_seqs` of `Settings::seqs` at once).
    Queues,
    No,
}

impl Fit {
    /// Order from best to worst: fits, tight, queues, no (for sorting and for picking
    /// the fuller of two pipeline stages).
    pub fn rank(self) -> u8 {
        match self {
            Fit::Fits => 0,
            Fit::Tight => 1,
            Fit::Queues => 2,
            Fit::No => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Fit::Fits => "fits",
            Fit::Tight => "tight",
            Fit::Queues => "queues",
            Fit::No => "no",
        }
    }

    /// The verdict as the tables show it: "queues: 3 of 8 at once" says how many of the
    /// requested sequences run, the others are their name.
    pub fn label(self, running: u32, requested: u32) -> String {
        match self {
            Fit::Queues => format!("queues: {running} of {requested} at once"),
            other => other.as_str().to_string(),
        }
    }
}

/// One row of the GPU table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GpuFit {
    pub gpu: &'static GpuType,
    /// Tensor-parallel size: all GPUs of the instance.
    pub tp: u32,
    pub fit: Fit,
    /// Why the verdict is what it is, in a sentence.
    pub reason: String,
    /// Bytes the estimate in force needs on each GPU.
    pub needed_bytes: u64,
    /// Memory each GPU has left at these settings (negative when it does not fit). When
    /// sequences queue, the headroom of what runs: the KV pool's sequences, not all.
    pub headroom_bytes: i64,
    /// `headroom_bytes` as a share of the GPU's memory.
    pub headroom_fraction: f64,
    /// The `--mem-fraction-static` a plan passes: SGLang's default, raised when the
    /// default pool cannot hold the requested tokens but the GPU can, or the user's own.
    pub mem_fraction_static: f64,
    /// SGLang's own default on this GPU (`serving::sglang_defaults`).
    pub default_mem_fraction_static: f64,
    /// Tokens SGLang's KV pool holds at `mem_fraction_static` (`max_total_num_tokens`),
    /// sized from the free memory at its baseline (`ServingEstimate::kv_pool_tokens_at`).
    pub kv_pool_tokens: u64,
    /// Longest context per sequence that fits at the chosen concurrency.
    pub max_context: u32,
    /// Most sequences of the chosen context that fit at once.
    pub max_seqs: u32,
    pub price_per_hour_usd: f64,
    /// `--ep-size` the plan passes: 1 (SGLang's default, experts split over TP) or the
    /// TP size when the checkpoint needs whole experts per GPU (`expert_parallel_size`).
    pub expert_parallel: u32,
    /// TTFT, TPOT, output tokens/s (whole instance, per GPU, per user), requests/s and
    /// $ per million input and output tokens for the settings' workload
    /// (`Settings::workload`), of one instance at this verdict's KV pool.
    #[serde(flatten)]
    pub speed: Speed,
    /// What the speed is for: "32 concurrent 1k/1k" or "2.5 req/s 1k/1k".
    pub speed_basis: String,
    pub serving: ServingEstimate,
}

/// The full answer for a model and settings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub mode: EstimateMode,
    pub settings: Settings,
    pub reference: ReferenceEstimate,
    /// The serving estimate at `settings.gpus`, sized for the selected GPU memory.
    pub serving: ServingEstimate,
    pub rows: Vec<GpuFit>,
    /// Index into `rows` of the cheapest offered type that fits, if any does: a type
    /// Lambda no longer offers is never the recommendation.
    pub cheapest_fit: Option<usize>,
    /// When no instance fits (not even tightly): why not, in a sentence naming the
    /// model's weights and the largest instance.
    pub no_fit: Option<String>,
}

impl Recommendation {
    pub fn cheapest(&self) -> Option<&GpuFit> {
        self.cheapest_fit.map(|i| &self.rows[i])
    }

    pub fn row(&self, instance_type: &str) -> Option<&GpuFit> {
        self.rows
            .iter()
            .find(|r| r.gpu.instance_type == instance_type)
    }
}

pub(crate) fn input<'a>(
    model: &Model,
    model_arch: &'a Architecture,
    s: &Settings,
    tp: u32,
    gpu: &GpuType,
) -> ServingInput<'a> {
    ServingInput {
        arch: model_arch,
        quantization: s.quantization,
        kv_dtype: crate::serving::sglang_kv_dtype(s.kv_dtype, gpu.compute_capability),
        context: s.context,
        seqs: s.seqs,
        tp,
        gpu_memory_mib: gpu.memory_mib,
        compute_capability: gpu.compute_capability,
        family: ModelFamily::of_checkpoint(&model.hf_path),
    }
}

/// Safety margin kept free above our own estimate of activations and overhead when the
/// static pool must grow past SGLang's default (its allocator fragments; 2 % of memory).
pub const RAISED_FRACTION_MARGIN: f64 = 0.02;

/// How much of each GPU SGLang's static pool (weights + KV) may take: its default, a
/// raised `--mem-fraction-static` the plan passes when the default is too small, or the
/// user's own.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolChoice {
    pub(crate) fraction: f64,
    pub(crate) kv_pool_tokens: u64,
    pub(crate) fit: Fit,
}

/// A `--mem-fraction-static` the user chose: the pool is sized at it, never raised.
pub(crate) fn user_pool(
    serving: &ServingEstimate,
    settings: &Settings,
    memory: u64,
    fraction: f64,
) -> (PoolChoice, String) {
    let tokens = serving.kv_pool_tokens_at(fraction);
    let wanted = serving.tokens;
    let one_sequence = u64::from(settings.context);
    let pool = |fit| PoolChoice {
        fraction,
        kv_pool_tokens: tokens,
        fit,
    };
    let outside_room = (serving.pre_model_load_free as f64 * (1.0 - fraction)) as u64;
    let outside = serving.outside_static_pool();
    if tokens < one_sequence {
        let reason = format!(
            "--mem-fraction-static {fraction} leaves a KV pool of {tokens} tokens next to {} GiB of weights: not one {one_sequence}-token sequence",
            Fixed::<1>(in_gib(serving.weights)),
            fraction = Fixed::<3>(fraction),
        );
        return (pool(Fit::No), reason);
    }
    if outside > outside_room {
        let reason = format!(
            "--mem-fraction-static {fraction} leaves {} GiB outside the static pool; activations, CUDA graphs and workspaces need about {} GiB",
            Fixed::<1>(in_gib(outside_room)),
            Fixed::<1>(in_gib(outside)),
            fraction = Fixed::<3>(fraction),
        );
        return (pool(Fit::Tight), reason);
    }
    if tokens < wanted {
        let reason = format!(
            "KV pool holds {tokens} tokens at --mem-fraction-static {fraction}: {} of {} sequences at once, the rest queue",
            tokens / one_sequence,
            settings.seqs,
            fraction = Fixed::<3>(fraction),
        );
        return (pool(Fit::Queues), reason);
    }
    let needed = serving.total();
    let headroom = memory.saturating_sub(needed) as f64 / memory as f64;
    if needed > memory || headroom < TIGHT_HEADROOM {
        let reason = format!(
            "only {} % of memory stays free",
            Fixed::<0>(headroom * 100.0)
        );
        return (pool(Fit::Tight), reason);
    }
    let reason = format!(
        "KV pool holds {tokens} tokens at --mem-fraction-static {fraction}, {wanted} needed",
        fraction = Fixed::<3>(fraction),
    );
    (pool(Fit::Fits), reason)
}

/// Pick the static-pool fraction and verdict for the serving estimate.
pub(crate) fn choose_pool(
    serving: &ServingEstimate,
    settings: &Settings,
    memory: u64,
) -> (PoolChoice, String) {
    default_pool_fits(serving, memory)
        .or_else(|| raised_pool(serving, settings))
        .unwrap_or_else(|| default_pool_short(serving, settings, memory))
}

/// SGLang's default fraction, when its pool holds every wanted token and the total fits.
fn default_pool_fits(serving: &ServingEstimate, memory: u64) -> Option<(PoolChoice, String)> {
    let default = serving.sglang.mem_fraction_static;
    let default_tokens = serving.kv_pool_tokens_at(default);
    let wanted = serving.tokens;
    let needed = serving.total();
    if default_tokens < wanted || needed > memory {
        return None;
    }
    let headroom = (memory - needed) as f64 / memory as f64;
    let (fit, reason) = if headroom < TIGHT_HEADROOM {
        let free = Fixed::<0>(headroom * 100.0);
        (Fit::Tight, format!("only {free} % of memory stays free"))
    } else {
        let reason = format!("KV pool holds {default_tokens} tokens, {wanted} needed");
        (Fit::Fits, reason)
    };
    let pool = PoolChoice {
        fraction: default,
        kv_pool_tokens: default_tokens,
        fit,
    };
    Some((pool, reason))
}

/// The highest fraction the plan may raise SGLang's to: what our estimate of what lives
/// outside the pool leaves, less the margin. The fraction is a share of the free memory
/// at SGLang's baseline.
fn raise_ceiling(serving: &ServingEstimate) -> f64 {
    let free = serving.pre_model_load_free.max(1) as f64;
    let outside = serving.outside_static_pool() as f64 / free;
    (1.0 - outside - RAISED_FRACTION_MARGIN).min(crate::settings::MEM_FRACTION_RANGE.1)
}

/// A raised fraction (to the ceiling at most) whose pool holds every wanted token, else
/// one whole sequence while the rest queue; `None` when neither needs a raise or fits.
fn raised_pool(serving: &ServingEstimate, settings: &Settings) -> Option<(PoolChoice, String)> {
    let default = serving.sglang.mem_fraction_static;
    let default_tokens = serving.kv_pool_tokens_at(default);
    let wanted = serving.tokens;
    let one_sequence = u64::from(settings.context);
    let free = serving.pre_model_load_free.max(1) as f64;
    let ceiling = raise_ceiling(serving);
    for target in [wanted, one_sequence] {
        let bytes = serving
            .weights
            .saturating_add(target.saturating_mul(serving.kv_bytes_per_token));
        let fraction = (bytes as f64 / free * 200.0).ceil() / 200.0;
        if fraction > default && fraction <= ceiling {
            let tokens = serving.kv_pool_tokens_at(fraction);
            let (queued, fit) = if target < wanted {
                let at_once = tokens / one_sequence;
                (
                    format!("; {at_once} of {} sequences run at once", settings.seqs),
                    Fit::Queues,
                )
            } else {
                (String::new(), Fit::Tight)
            };
            let reason = format!("needs --mem-fraction-static {fraction} (SGLang's default {default} holds {default_tokens} tokens){queued}", fraction = Fixed::<3>(fraction), default = Fixed::<3>(default));
            let pool = PoolChoice {
                fraction,
                kv_pool_tokens: tokens,
                fit,
            };
            return Some((pool, reason));
        }
    }
    None
}

/// SGLang's default fraction when no raise helps: sequences queue, or not one fits.
fn default_pool_short(
    serving: &ServingEstimate,
    settings: &Settings,
    memory: u64,
) -> (PoolChoice, String) {
    let default = serving.sglang.mem_fraction_static;
    let default_tokens = serving.kv_pool_tokens_at(default);
    let one_sequence = u64::from(settings.context);
    let pool = |fit| PoolChoice {
        fraction: default,
        kv_pool_tokens: default_tokens,
        fit,
    };
    if default_tokens >= one_sequence {
        let reason = format!(
            "KV pool holds {default_tokens} tokens: {} of {} sequences at once, the rest queue",
            default_tokens / one_sequence,
            settings.seqs
        );
        return (pool(Fit::Queues), reason);
    }
    let reason = if serving.weights as f64 >= memory as f64 * raise_ceiling(serving).max(default) {
        format!(
            "weights need {} GiB per GPU of {} GiB",
            Fixed::<1>(in_gib(serving.weights)),
            Fixed::<1>(in_gib(memory)),
        )
    } else {
        format!(
            "a {one_sequence}-token sequence does not fit next to {} GiB of weights",
            Fixed::<1>(in_gib(serving.weights)),
        )
    };
    (pool(Fit::No), reason)
}

/// Evaluate one GPU type, sharding the model over all its GPUs, at SGLang's default
/// `--mem-fraction-static` (raised when the default pool is too small).
pub fn evaluate(
    model: &Model,
    settings: &Settings,
    gpu: &'static GpuType,
    mode: EstimateMode,
) -> GpuFit {
    evaluate_at(model, settings, gpu, mode, None)
}

/// [`evaluate`], at the user's own `--mem-fraction-static` when `user_fraction` is given
/// (check it with [`crate::settings::check_mem_fraction_static`] first).
pub fn evaluate_at(
    model: &Model,
    settings: &Settings,
    gpu: &'static GpuType,
    mode: EstimateMode,
    user_fraction: Option<f64>,
) -> GpuFit {
    let (arch, _) = model.effective_architecture();
    let tp = gpu.gpu_count;
    let serving = serving_estimate(input(model, &arch, settings, tp, gpu));
    let memory = gpu.memory_bytes();
    let (pool, serving_reason) = match user_fraction {
        Some(fraction) => user_pool(&serving, settings, memory, fraction),
        None => choose_pool(&serving, settings, memory),
    };
    let (max_context, max_seqs) = pool_limits(model, settings, pool.kv_pool_tokens);
    let (fit, needed_bytes, reason) = verdict(
        model,
        settings,
        &arch,
        gpu,
        mode,
        &serving,
        (pool.fit, serving_reason),
    );
    let expert_parallel = model
        .checkpoint_for(settings.quantization)
        .map_or(1, |c| expert_parallel_size(c.method, &arch, tp));
    let reason = with_expert_parallel_note(reason, fit, expert_parallel, tp);
    // When sequences queue, what runs is the KV pool's worth of them, not all.
    let needed_bytes = if fit == Fit::Queues {
        running_bytes(&serving, pool.kv_pool_tokens)
    } else {
        needed_bytes
    };
    let headroom_bytes = headroom(memory, needed_bytes);
    let workload = settings.workload();
    let speed = speed_of(
        &arch,
        settings.quantization,
        &serving,
        speed_pool_tokens(settings, pool.kv_pool_tokens),
        gpu,
        &workload,
    );
    GpuFit {
        gpu,
        tp,
        fit,
        reason,
        needed_bytes,
        headroom_bytes,
        headroom_fraction: headroom_bytes as f64 / memory as f64,
        mem_fraction_static: pool.fraction,
        default_mem_fraction_static: serving.sglang.mem_fraction_static,
        kv_pool_tokens: pool.kv_pool_tokens,
        max_context,
        max_seqs,
        price_per_hour_usd: gpu.price_per_hour_usd(),
        expert_parallel,
        speed,
        speed_basis: workload.basis(),
        serving,
    }
}

/// The longest context at the settings' sequences and the most sequences at their
/// context that a KV pool of `kv_pool_tokens` holds.
fn pool_limits(model: &Model, settings: &Settings, kv_pool_tokens: u64) -> (u32, u32) {
    let context = u64::from(settings.context);
    let seqs = u64::from(settings.seqs.max(1));
    let max_context = (kv_pool_tokens / seqs).min(u64::from(model.max_context())) as u32;
    let max_seqs = (kv_pool_tokens / context.max(1)).min(u64::from(MAX_SEQS)) as u32;
    (max_context, max_seqs)
}

/// `memory - needed`; a saturated `needed` (u64::MAX) must stay negative headroom, not wrap.
fn headroom(memory: u64, needed: u64) -> i64 {
    i64::try_from(memory).unwrap_or(i64::MAX) - i64::try_from(needed).unwrap_or(i64::MAX)
}

/// Whether the model fits, the bytes per GPU it needs and why: sharding first, then
/// the online-FP8 load peak, then the pool's verdict (`pool_verdict`) or the reference
/// estimate's.
fn verdict(
    model: &Model,
    settings: &Settings,
    arch: &Architecture,
    gpu: &'static GpuType,
    mode: EstimateMode,
    serving: &ServingEstimate,
    pool_verdict: (Fit, String),
) -> (Fit, u64, String) {
    let memory = gpu.memory_bytes();
    if let Some(reason) = sharding_problem(model, settings, arch, gpu.gpu_count, gpu) {
        return (Fit::No, serving.total(), reason);
    }
    match mode {
        // Only online FP8 loads more than it keeps; other weights that do not fit
        // are the pool's verdict below.
        EstimateMode::Serving
            if model.quantizes_at_load(settings.quantization) && serving.load_peak > memory =>
        {
            (
                Fit::No,
                serving.load_peak,
                format!(
                    "online FP8 loads the 16-bit weights first: {} GiB per GPU of {} GiB",
                    Fixed::<1>(in_gib(serving.load_peak)),
                    Fixed::<1>(in_gib(memory)),
                ),
            )
        }
        EstimateMode::Serving => (pool_verdict.0, serving.total(), pool_verdict.1),
        EstimateMode::Reference => reference_verdict(model, settings, gpu),
    }
}

/// `reason`, saying so when the experts must run expert-parallel on a model that fits.
fn with_expert_parallel_note(reason: String, fit: Fit, expert_parallel: u32, tp: u32) -> String {
    if expert_parallel > 1 && fit != Fit::No {
        format!("{reason}; experts run expert-parallel (--ep-size {expert_parallel}): the FP8 checkpoint's experts do not split into 128-column blocks at TP {tp}")
    } else {
        reason
    }
}

/// Why SGLang cannot serve the model at TP `tp` on GPUs of `gpu` whatever the memory:
/// the GPU generation, FP8 scale blocks that do not split, or heads TP does not divide.
pub fn sharding_problem(
    model: &Model,
    settings: &Settings,
    arch: &Architecture,
    tp: u32,
    gpu: &GpuType,
) -> Option<String> {
    if let Some(reason) = gpu.unsupported_reason() {
        Some(reason)
    } else if let Some(reason) = block_fp8_split_problem(model, settings, arch, tp) {
        Some(reason)
    } else if !arch.heads.is_multiple_of(tp) {
        Some(format!(
            "tensor parallel {tp} does not divide the model's {} attention heads",
            arch.heads
        ))
    } else {
        None
    }
}

/// Bytes per GPU when the KV pool holds `pool_tokens` tokens: the estimate with its KV
/// for the requested sequences replaced by the pool's (what runs when the rest queue).
pub(crate) fn running_bytes(serving: &ServingEstimate, pool_tokens: u64) -> u64 {
    serving
        .total()
        .saturating_sub(serving.kv_cache)
        .saturating_add(pool_tokens.saturating_mul(serving.kv_bytes_per_token))
}

/// The KV pool the speed model may fill: the pool, but never more requests of the
/// workload's average length than `seqs`, SGLang's `--max-running-requests` in a plan
/// (with a rate, more requests than that wait rather than run).
pub fn speed_pool_tokens(settings: &Settings, kv_pool_tokens: u64) -> u64 {
    // seqs × (input + output / 2), rounded up so the pool holds exactly `seqs` of them.
    let twice_average = 2 * u64::from(settings.input_tokens) + u64::from(settings.output_tokens);
    let seqs_tokens = (u64::from(settings.seqs) * twice_average).div_ceil(2);
    kv_pool_tokens.min(seqs_tokens)
}

/// How SGLang must shard a model's routed experts at TP `tp`: 1 means its default,
/// every expert split over the TP group (`ep_size` 1, arg_groups/fields/parallel.py);
/// `tp` means expert parallelism (`--ep-size tp`), each GPU holding whole experts.
/// Expert parallelism is needed when a block-quantized FP8 checkpoint's expert width
/// does not split into whole 128-column scale blocks (SGLang 0.5.23
/// layers/quantization/fp8.py, Fp8MoEMethod.create_weights: "The output_size of gate's
/// and up's weight = N is not divisible by weight quantization block_n = 128"), as for
/// Qwen3-235B-A22B-FP8 at TP 8 (1536 / 8 = 192). Each GPU holds the same bytes either
/// way (1/TP of every expert, or all of 1/EP of the experts).
pub fn expert_parallel_size(method: QuantMethod, arch: &Architecture, tp: u32) -> u32 {
    match &arch.moe {
        Some(moe)
            if method == QuantMethod::Fp8Block
                && tp > 1
                && !splits_into_blocks(moe.expert_intermediate, tp)
                && moe.experts.is_multiple_of(tp) =>
        {
            tp
        }
        _ => 1,
    }
}

fn splits_into_blocks(width: u32, tp: u32) -> bool {
    width.is_multiple_of(tp) && (width / tp).is_multiple_of(FP8_SCALE_BLOCK)
}

/// SGLang refuses a block-quantized FP8 checkpoint whose MLP columns do not split into
/// whole scale blocks at this TP (Fp8MoEMethod.create_weights and
/// Fp8LinearMethod.validate_block_quant_shapes in SGLang 0.5.23
/// layers/quantization/fp8.py); expert widths are exempt when `expert_parallel_size`
/// keeps experts whole.
pub fn block_fp8_split_problem(
    model: &Model,
    settings: &Settings,
    arch: &Architecture,
    tp: u32,
) -> Option<String> {
    let checkpoint = model.checkpoint_for(settings.quantization).ok()?;
    if checkpoint.method != QuantMethod::Fp8Block || tp <= 1 {
        return None;
    }
    let ep = expert_parallel_size(checkpoint.method, arch, tp);
    let mut widths = Vec::new();
    match &arch.moe {
        Some(moe) => {
            let expert_split = if ep > 1 { 1 } else { tp };
            widths.push(("expert", moe.expert_intermediate, expert_split));
            if moe.shared_intermediate > 0 {
                widths.push(("shared-expert", moe.shared_intermediate, tp));
            }
            if moe.dense_layers > 0 {
                widths.push(("dense MLP", arch.intermediate, tp));
            }
        }
        None => widths.push(("MLP", arch.intermediate, tp)),
    }
    widths.into_iter().find_map(|(what, width, split)| {
        (!splits_into_blocks(width, split)).then(|| {
            format!(
                "{} at TP {tp}: each GPU's {} {what} columns (of {width}) are not a multiple of the FP8 checkpoint's {FP8_SCALE_BLOCK}-column scale blocks, so SGLang refuses to load it",
                checkpoint.hf_path,
                width / split
            )
        })
    })
}

/// Column width of one FP8 scale block (`weight_block_size` [128, 128] of every
/// block-quantized checkpoint the registry names).
pub const FP8_SCALE_BLOCK: u32 = 128;

fn reference_verdict(model: &Model, settings: &Settings, gpu: &GpuType) -> (Fit, u64, String) {
    let r = reference_estimate(
        model.params_billions,
        settings.quantization,
        settings.context,
    );
    let capacity_gb = gpu.total_nominal_gb();
    let capacity = f64::from(capacity_gb);
    let per_gpu_bytes = (r.total_gb * 1e9 / f64::from(gpu.gpu_count)) as u64;
    if r.total_gb <= capacity * MIN_GPU_UTILISATION {
        (
            Fit::Fits,
            per_gpu_bytes,
            format!(
                "{} GB is within 90 % of {capacity_gb} GB",
                Fixed::<1>(r.total_gb)
            ),
        )
    } else if r.total_gb <= capacity {
        (
            Fit::Tight,
            per_gpu_bytes,
            format!(
                "{} GB is over 90 % of {capacity_gb} GB",
                Fixed::<1>(r.total_gb)
            ),
        )
    } else {
        (
            Fit::No,
            per_gpu_bytes,
            format!(
                "{} GB is more than {capacity_gb} GB",
                Fixed::<1>(r.total_gb)
            ),
        )
    }
}

/// "Fits no single instance": when every row is `Fit::No`, name the weights the model
/// needs in total and the largest instance's memory, and that instance's own reason.
fn no_fit_message(model: &Model, settings: &Settings, rows: &[GpuFit]) -> Option<String> {
    if rows.iter().any(|r| r.fit != Fit::No) {
        return None;
    }
    let largest = rows
        .iter()
        .max_by_key(|r| r.gpu.memory_bytes() * u64::from(r.tp))?;
    let (arch, _) = model.effective_architecture();
    let weights = crate::serving::weights_per_gpu(&arch, settings.quantization, 1);
    Some(format!(
        "{} fits no single instance at these settings: its {} weights alone are {} GiB, and the largest instance ({}, {} GiB in all) says: {}",
        model.name,
        settings.quantization.label(),
        Fixed::<0>(in_gib(weights)),
        largest.gpu.instance_type,
        Fixed::<0>(in_gib(largest.gpu.memory_bytes() * u64::from(largest.tp))),
        largest.reason,
    ))
}

/// Every GPU type for a model and settings. `selected_gpu_memory_mib` sizes the headline
/// serving estimate (SGLang's chunk and graph sizes depend on it); pass the chosen type's.
pub fn recommend(
    model: &Model,
    settings: &Settings,
    mode: EstimateMode,
    selected: Option<&GpuType>,
) -> Recommendation {
    recommend_at(model, settings, mode, selected, None)
}

/// [`recommend`], every row at the user's own `--mem-fraction-static` when given.
pub fn recommend_at(
    model: &Model,
    settings: &Settings,
    mode: EstimateMode,
    selected: Option<&GpuType>,
    user_fraction: Option<f64>,
) -> Recommendation {
    let settings = settings.clamped_for(model);
    let rows: Vec<GpuFit> = CATALOG
        .iter()
        .map(|gpu| evaluate_at(model, &settings, gpu, mode, user_fraction))
        .collect();
    let cheapest_fit = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| r.fit == Fit::Fits && r.gpu.offered)
        .min_by_key(|(_, r)| (r.gpu.price_cents_per_hour, r.gpu.gpu_count))
        .map(|(i, _)| i);
    let (arch, _) = model.effective_architecture();
    let headline_gpu = selected
        .or_else(|| cheapest_fit.map(|i| rows[i].gpu))
        .unwrap_or(&CATALOG[0]);
    let serving = serving_estimate(input(model, &arch, &settings, settings.gpus, headline_gpu));
    let reference = reference_estimate(
        model.params_billions,
        settings.quantization,
        settings.context,
    );
    let no_fit = no_fit_message(model, &settings, &rows);
    Recommendation {
        mode,
        settings,
        reference,
        serving,
        rows,
        cheapest_fit,
        no_fit,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::Quantization;
    use crate::registry::{builtin, builtins};

    #[test]
    fn every_builtin_fits_somewhere_at_its_defaults() {
        for m in builtins() {
            let r = recommend(m, &Settings::defaults_for(m), EstimateMode::Serving, None);
            assert_eq!(r.rows.len(), CATALOG.len());
            let cheapest = r
                .cheapest()
                .unwrap_or_else(|| panic!("{} fits nowhere", m.id));
            assert_eq!(cheapest.fit, Fit::Fits);
            let speed = &cheapest.speed;
            assert!(speed.output_tokens_per_s > 0.0 && speed.usd_per_million_output_tokens > 0.0);
            assert!(speed.ttft_ms > 0.0 && speed.tpot_ms > 0.0, "{}", m.id);
        }
    }

    #[test]
    fn seventy_b_int4_needs_more_than_an_a10_and_fits_an_a6000() {
        let m = builtin("llama-3.1-70b").unwrap();
        let r = recommend(m, &Settings::defaults_for(m), EstimateMode::Serving, None);
        assert_eq!(r.row("gpu_1x_a10").unwrap().fit, Fit::No);
        assert_eq!(r.row("gpu_1x_a100").unwrap().fit, Fit::No);
        assert_eq!(r.row("gpu_1x_a100_sxm4_80gb").unwrap().fit, Fit::Fits);
        // 37 GiB of AWQ weights leave ~4 GiB of KV pool on a 48 GB A6000: 8K tokens fit.
        assert_eq!(r.cheapest().unwrap().gpu.instance_type, "gpu_1x_a6000");
        // FP16 weights (131 GiB) need the 4x A100 40 GB or larger boards.
        let fp16 = Settings {
            quantization: Quantization::Fp16,
            ..Settings::defaults_for(m)
        };
        let r = recommend(m, &fp16, EstimateMode::Serving, None);
        assert_eq!(r.row("gpu_1x_h100_sxm5").unwrap().fit, Fit::No);
        assert_eq!(r.row("gpu_8x_a100").unwrap().fit, Fit::Fits);
    }

    #[test]
    fn more_sequences_shrink_the_longest_context_and_can_make_some_queue() {
        let m = builtin("llama-3.1-8b").unwrap();
        let one = Settings::defaults_for(m);
        let many = Settings { seqs: 64, ..one };
        let a = recommend(m, &one, EstimateMode::Serving, None);
        let b = recommend(m, &many, EstimateMode::Serving, None);
        // An A6000: on an A10, SGLang 0.5.23's 7 GB reserve already makes one 8K
        // sequence need a raised fraction.
        let a6000 = |r: &Recommendation| r.row("gpu_1x_a6000").unwrap().clone();
        assert!(a6000(&b).max_context < a6000(&a).max_context);
        assert_eq!(a6000(&a).fit, Fit::Fits);
        assert_eq!(a6000(&b).fit, Fit::Queues, "{}", a6000(&b).reason);
        assert!(a6000(&b).speed.output_tokens_per_s > a6000(&a).speed.output_tokens_per_s);
    }

    #[test]
    fn on_an_a10_sglangs_own_default_cannot_hold_an_8b_sequence() {
        // 15 GiB of BF16 weights; 0.688 of the 22.5 GiB free after the CUDA context
        // leaves a pool of about 1.4K tokens, so the plan raises the fraction.
        let m = builtin("llama-3.1-8b").unwrap();
        let row = evaluate(
            m,
            &Settings::defaults_for(m),
            crate::gpu::find("gpu_1x_a10").unwrap(),
            EstimateMode::Serving,
        );
        assert_eq!(row.default_mem_fraction_static, 0.688);
        let default_tokens = row.serving.kv_pool_tokens_at(0.688);
        assert!((1_000..2_000).contains(&default_tokens), "{default_tokens}");
        assert_eq!(row.fit, Fit::Tight, "{}", row.reason);
        // (15 GiB + 8192 × 128 KiB) / 22.5 GiB = 0.726, rounded up to 0.005 steps.
        assert_eq!(row.mem_fraction_static, 0.73);
        assert!(row.kv_pool_tokens >= 8192, "{}", row.kv_pool_tokens);
        assert_eq!(
            (
                row.serving.sglang.chunked_prefill_size,
                row.serving.sglang.cuda_graph_max_bs
            ),
            (4096, 1)
        );
    }

    #[test]
    fn the_graph_batch_is_capped_by_the_running_requests() {
        let m = builtin("llama-3.1-8b").unwrap();
        let h100 = crate::gpu::find("gpu_1x_h100_sxm5").unwrap();
        let at = |seqs| {
            let s = Settings {
                seqs,
                context: 2048,
                ..Settings::defaults_for(m)
            };
            evaluate(m, &s, h100, EstimateMode::Serving).serving
        };
        assert_eq!(at(1).sglang.cuda_graph_max_bs, 1);
        assert_eq!(at(100).sglang.cuda_graph_max_bs, 100);
        assert_eq!(at(512).sglang.cuda_graph_max_bs, 256);
        assert_eq!(at(100).cuda_graphs, (100 * 2 + 58 * 8) * crate::gpu::MIB);
    }

    #[test]
    fn online_fp8_that_cannot_load_in_16_bit_does_not_fit() {
        // Llama 3.1 70B in FP8 is 68 GiB per GPU on an H100, but SGLang first builds the
        // 131 GiB BF16 model there.
        let m = builtin("llama-3.1-70b").unwrap();
        let fp8 = Settings {
            quantization: Quantization::Fp8,
            ..Settings::defaults_for(m)
        };
        let r = recommend(m, &fp8, EstimateMode::Serving, None);
        let h100 = r.row("gpu_1x_h100_sxm5").unwrap();
        assert_eq!(h100.fit, Fit::No);
        assert!(h100.reason.contains("online FP8"), "{}", h100.reason);
        assert!(h100.needed_bytes > h100.gpu.memory_bytes());
        // Two A100 80 GB would hold FP8's 34 GiB each, but not BF16's 66 GiB each plus
        // context: no. Eight 40 GB A100s load 16.4 GiB of BF16 each: fits.
        assert_eq!(r.row("gpu_8x_a100").unwrap().fit, Fit::Fits);
        assert_eq!(r.row("gpu_8x_h100_sxm5").unwrap().fit, Fit::Fits);
        // INT4 loads what it keeps: too-large weights are the pool's verdict.
        let int4 = recommend(m, &Settings::defaults_for(m), EstimateMode::Serving, None);
        let a10 = int4.row("gpu_1x_a10").unwrap();
        assert!(a10.reason.starts_with("weights need"), "{}", a10.reason);
    }

    #[test]
    fn a_user_fraction_sizes_the_pool_and_is_never_raised() {
        let m = builtin("llama-3.1-8b").unwrap();
        let s = Settings::defaults_for(m);
        let a10 = crate::gpu::find("gpu_1x_a10").unwrap();
        let own = evaluate_at(m, &s, a10, EstimateMode::Serving, Some(0.8));
        assert_eq!(own.mem_fraction_static, 0.8);
        assert_eq!(own.kv_pool_tokens, own.serving.kv_pool_tokens_at(0.8));
        assert!(own.kv_pool_tokens > 8192);
        assert_eq!(own.fit, Fit::Fits, "{}", own.reason);
        // Too small for one sequence: no, and it is not raised behind the user's back.
        let small = evaluate_at(m, &s, a10, EstimateMode::Serving, Some(0.6));
        assert_eq!(small.fit, Fit::No, "{}", small.reason);
        assert_eq!(small.mem_fraction_static, 0.6);
        // So large that activations and graphs have no room: tight, saying so.
        let large = evaluate_at(m, &s, a10, EstimateMode::Serving, Some(0.95));
        assert_eq!(large.fit, Fit::Tight, "{}", large.reason);
        assert!(
            large.reason.contains("outside the static pool"),
            "{}",
            large.reason
        );
        let all = recommend_at(m, &s, EstimateMode::Serving, None, Some(0.8));
        assert!(all.rows.iter().all(|r| r.mem_fraction_static == 0.8));
    }

    #[test]
    fn a_pool_too_small_by_default_raises_the_memory_fraction() {
        // Qwen 2.5 Coder 32B FP16 at 32K: 61 GiB of weights plus 8 GiB of KV. SGLang's
        // default fraction on an A100 80 GB (0.836) leaves 7.5 GiB of pool: not one sequence.
        let m = builtin("qwen2.5-coder-32b").unwrap();
        let r = recommend(m, &Settings::defaults_for(m), EstimateMode::Serving, None);
        let row = r.row("gpu_1x_a100_sxm4_80gb").unwrap();
        assert_eq!(row.fit, Fit::Tight, "{}", row.reason);
        assert_eq!(row.default_mem_fraction_static, 0.836);
        assert!(row.mem_fraction_static > 0.836 && row.mem_fraction_static <= 0.95);
        assert!(row.kv_pool_tokens >= 32_768, "{}", row.kv_pool_tokens);
        assert!(
            row.reason.contains("--mem-fraction-static"),
            "{}",
            row.reason
        );
    }

    #[test]
    fn pre_ampere_gpus_are_not_offered() {
        let m = builtin("llama-3.1-8b").unwrap();
        for mode in [EstimateMode::Serving, EstimateMode::Reference] {
            let r = recommend(m, &Settings::defaults_for(m), mode, None);
            let row = r.row("gpu_1x_rtx6000").unwrap();
            assert_eq!(row.fit, Fit::No, "{}", row.reason);
            assert!(row.reason.contains("7.5"), "{}", row.reason);
        }
        let r = recommend(m, &Settings::defaults_for(m), EstimateMode::Serving, None);
        let cheapest = r.cheapest().unwrap().gpu;
        assert!(
            cheapest.compute_capability >= crate::gpu::MIN_COMPUTE_CAPABILITY,
            "{}",
            cheapest.instance_type
        );
    }

    #[test]
    fn decode_speed_follows_bandwidth() {
        let m = builtin("llama-3.1-8b").unwrap();
        let r = recommend(m, &Settings::defaults_for(m), EstimateMode::Serving, None);
        let tpot = |t: &str| r.row(t).unwrap().speed.tpot_ms;
        let (h100, a100) = (tpot("gpu_1x_h100_sxm5"), tpot("gpu_1x_a100_sxm4_80gb"));
        assert!(a100 > h100 * 1.3, "{h100} {a100}");
        // One 1k/1k request: 16 GB of weights plus 1.5K tokens of KV per step at
        // 3.35 TB/s × the bandwidth share, plus the step overhead.
        assert!((5.0..12.0).contains(&h100), "{h100}");
        let row = r.row("gpu_1x_h100_sxm5").unwrap();
        assert_eq!(row.speed_basis, "1 concurrent 1k/1k");
        assert_eq!(row.speed.running, 1.0);
    }

    #[test]
    fn the_speed_is_speed_of_at_the_pool_of_what_runs() {
        let m = builtin("llama-3.1-8b").unwrap();
        let s = Settings {
            seqs: 32,
            context: 4096,
            input_tokens: 2000,
            output_tokens: 500,
            ..Settings::defaults_for(m)
        };
        let gpu = crate::gpu::find("gpu_1x_h100_sxm5").unwrap();
        let row = evaluate(m, &s, gpu, EstimateMode::Serving);
        let (arch, _) = m.effective_architecture();
        let expected = speed_of(
            &arch,
            s.quantization,
            &row.serving,
            row.kv_pool_tokens,
            gpu,
            &s.workload(),
        );
        assert_eq!(row.speed, expected);
        assert_eq!(row.speed.running, 32.0);
        assert_eq!(row.speed_basis, "32 concurrent 2k/500");
        // At a rate, no more than `seqs` run at once (the plan's --max-running-requests):
        // a rate beyond what 2 running requests complete saturates.
        let two_at_a_rate = Settings {
            seqs: 2,
            rate: Some(crate::settings::Rate::new("rate", 1000.0).unwrap()),
            ..s
        };
        let row = evaluate(m, &two_at_a_rate, gpu, EstimateMode::Serving);
        assert!(row.speed.saturated, "{:?}", row.speed);
        assert_eq!(row.speed.running, 2.0);
        assert_eq!(speed_pool_tokens(&two_at_a_rate, 1 << 30), 2 * 2250);
    }

    #[test]
    fn queueing_sequences_are_not_called_tight_and_show_the_headroom_of_what_runs() {
        // Llama 3.1 8B at 128K context, 8 sequences, on one A100 80 GB: the pool holds
        // a few 128K sequences, the rest queue.
        let m = builtin("llama-3.1-8b").unwrap();
        let s = Settings {
            seqs: 8,
            context: 131_072,
            ..Settings::defaults_for(m)
        };
        let gpu = crate::gpu::find("gpu_1x_a100_sxm4_80gb").unwrap();
        let row = evaluate(m, &s, gpu, EstimateMode::Serving);
        assert_eq!(row.fit, Fit::Queues, "{}", row.reason);
        assert!(row.max_seqs >= 1 && row.max_seqs < 8, "{}", row.max_seqs);
        assert_eq!(
            row.fit.label(row.max_seqs, s.seqs),
            format!("queues: {} of 8 at once", row.max_seqs)
        );
        assert!(row.headroom_bytes >= 0, "{}", row.headroom_bytes);
        assert!(row.needed_bytes <= gpu.memory_bytes());
        assert!(row.needed_bytes < row.serving.total());
        // Tight is only "little memory stays free" or "needs a raised fraction".
        assert_eq!(Fit::Tight.label(1, 8), "tight");
        let one = evaluate(m, &Settings { seqs: 1, ..s }, gpu, EstimateMode::Serving);
        assert_ne!(one.fit, Fit::Queues, "{}", one.reason);
    }

    #[test]
    fn reference_mode_uses_the_reference_total() {
        let m = builtin("deepseek-r1-70b").unwrap();
        let r = recommend(m, &Settings::defaults_for(m), EstimateMode::Reference, None);
        assert_eq!(r.row("gpu_1x_a6000").unwrap().fit, Fit::Tight); // 44.5 of 48 GB
        assert_eq!(r.row("gpu_1x_a100_sxm4_80gb").unwrap().fit, Fit::Fits);
        assert_eq!(r.row("gpu_1x_a10").unwrap().fit, Fit::No);
    }
}
