//! One model across two 8-GPU instances ("nodes"): the memory on each GPU and the fit for
//! tensor parallel 16 across both nodes and for pipeline parallel 2 × tensor parallel 8
//! (one stage per node), what crosses the network between them on each decode step, and
//! the speed of both with that traffic charged at Ethernet speed.
//!
//! Lambda's on-demand instances reach each other over Ethernet, not InfiniBand, so PP
//! across the nodes is preferred: only the stage boundary crosses the network, where TP 16
//! puts every all-reduce on it. Sizing reuses `serving` (per-GPU memory), `recommend`
//! (pool choice, sharding checks) and `speed` (the speed model) without changing them.

use crate::arch::{Architecture, LocalAttention};
use crate::decimal::Fixed;
use crate::gpu::{in_gib, GpuType, CATALOG};
use crate::quant::QuantMethod;
use crate::recommend::{
    choose_pool, expert_parallel_size, input, running_bytes, sharding_problem, speed_pool_tokens,
    user_pool, Fit, GpuFit, PoolChoice, Recommendation,
};
use crate::registry::Model;
use crate::serving::{
    serving_estimate, sglang_defaults, ServingEstimate, SglangDefaultsInput, ACTIVATION_BYTES,
};
use crate::settings::{Settings, MAX_SEQS};
use crate::speed::{
    hardware, model_shard, speed, Hardware, ModelShard, Speed, Workload, CALIBRATION,
};
use crate::validate::FieldError;
use serde::Serialize;

/// Most instances one model may span: one, or two serving it together.
pub const MAX_NODES: u32 = 2;
/// GPUs each node must have: TP 16 and PP 2 × TP 8 both put eight on each node (SGLang's
/// two-node recipes pair two 8-GPU nodes, docs/design/multi-instance-research.md §4).
pub const GPUS_PER_NODE: u32 = 8;

/// Conservative Ethernet between two on-demand instances, bits/s: Lambda's distributed
/// training FAQ, "The maximum inter-node connectivity is 10 Gbps" (LambdaLabs
/// docsy-lambda-docs, faq/distributed-training.md). The estimate charges this one: it is
/// the only figure Lambda gives without naming a region, and no InfiniBand is documented
/// for on-demand instances.
pub const ETHERNET_CONSERVATIVE_BITS_PER_S: f64 = 10e9;
/// Optimistic: "The bandwidth between instances in our Utah, USA region (us-west-3) can be
/// up to 200 Gbps", the same for us-south-1 (Lambda docs, network-bandwidth.md, 2023-11).
/// Stated next to the estimate, not used by it.
pub const ETHERNET_OPTIMISTIC_BITS_PER_S: f64 = 200e9;
/// What the estimate charges for traffic between the nodes, bytes/s each way.
pub const INTER_NODE_BYTES_PER_S: f64 = ETHERNET_CONSERVATIVE_BITS_PER_S / 8.0;
/// One message crossing between the nodes through NCCL's socket transport, seconds. Our
/// assumption, to be measured on a real pair: a small all-reduce between two hosts takes
/// 19–35 µs over RDMA (NVIDIA/nccl-tests issue #150, 8 B between two A100 hosts on
/// InfiniBand HDR in 19.9 µs; NVIDIA/dgx-spark-playbooks PR #103, 8 KiB over 200 Gb RoCE
/// in 30–35 µs), and kernel TCP sockets add tens of µs more per message.
pub const TCP_CROSSING_LATENCY_S: f64 = 50e-6;
/// Node-boundary crossings per all-reduce with TP across both nodes: NCCL runs small
/// messages on its tree, reducing up to one node and broadcasting back down (NCCL 2.4
/// double binary trees), so each all-reduce waits for two crossings.
pub const TP_CROSSINGS_PER_ALLREDUCE: u32 = 2;
/// Crossings per forward pass with PP 2: hidden state and residual go to stage 1
/// (`to_pp`, sglang 0.5.23 srt/layers/layer_boundary/residual/batch.py) and the sampled
/// tokens come back to stage 0, whose scheduler owns the requests (inferred from
/// SGLang's PP event loop; a few bytes per token, not counted in the bytes).
pub const PP_CROSSINGS_PER_PASS: u32 = 2;

/// How the sixteen GPUs of two nodes split the model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Layout {
    /// `--tp-size 16 --nnodes 2`: every layer over all sixteen GPUs; TP ranks 0–7 on node
    /// 0, 8–15 on node 1 (sglang 0.5.23 entrypoints/engine.py `_calculate_rank_ranges`).
    #[serde(rename = "tp16")]
    Tp16,
    /// `--tp-size 8 --pp-size 2 --nnodes 2`: node 0 runs stage 0, node 1 stage 1, each
    /// over its own eight GPUs.
    #[serde(rename = "pp2_tp8")]
    Pp2Tp8,
}

impl Layout {
    pub const ALL: [Layout; 2] = [Layout::Tp16, Layout::Pp2Tp8];

    pub fn tp(self) -> u32 {
        match self {
            Layout::Tp16 => 2 * GPUS_PER_NODE,
            Layout::Pp2Tp8 => GPUS_PER_NODE,
        }
    }

    pub fn pp(self) -> u32 {
        match self {
            Layout::Tp16 => 1,
            Layout::Pp2Tp8 => 2,
        }
    }

    /// The JSON name: `tp16`, `pp2_tp8`.
    pub fn as_str(self) -> &'static str {
        match self {
            Layout::Tp16 => "tp16",
            Layout::Pp2Tp8 => "pp2_tp8",
        }
    }

    /// For sentences and tables: `TP 16`, `PP 2 × TP 8`.
    pub fn label(self) -> &'static str {
        match self {
            Layout::Tp16 => "TP 16",
            Layout::Pp2Tp8 => "PP 2 × TP 8",
        }
    }
}

/// The layers `[start, end)` pipeline stage `pp_rank` of `pp` holds: an even split with
/// the remainder on the last stages (`get_pp_indices`, sglang 0.5.23
/// srt/distributed/utils.py, without `SGLANG_PP_LAYER_PARTITION`).
pub fn pp_layer_range(layers: u32, pp_rank: u32, pp: u32) -> (u32, u32) {
    let pp = pp.max(1);
    let base = layers / pp;
    let remainder = layers % pp;
    if pp_rank >= pp - remainder {
        let start = pp_rank * (base + 1) - (pp - remainder);
        (start, start + base + 1)
    } else {
        (pp_rank * base, pp_rank * base + base)
    }
}

/// The part of `arch` a pipeline stage holding layers `[start, end)` builds, as an
/// architecture the per-GPU sizing can price:
/// - dense MLP layers are the first ones (DeepSeek-V3/R1 and Kimi K2
///   `first_k_dense_replace`, the only models here with both kinds);
/// - sliding, chunked or linear layers interleave, so each stage gets its share;
/// - every stage of two holds one vocab × hidden matrix: stage 0 the embedding, the last
///   the lm_head (`PPMissingLayer` elsewhere, sglang 0.5.23 models/deepseek_v2.py and
///   llama.py; a tied model's last stage loads its own copy), which `tied_embeddings`
///   makes the parameter count hold once. The final norm (hidden values) stays counted
///   on both stages.
pub fn stage_architecture(arch: &Architecture, start: u32, end: u32) -> Architecture {
    let layers = end.saturating_sub(start);
    let moe = arch.moe.map(|m| crate::arch::Moe {
        dense_layers: m.dense_layers.saturating_sub(start).min(layers),
        ..m
    });
    let total = u64::from(arch.layers.max(1));
    let share = |n: u32| {
        let upto = |layer: u32| u64::from(n) * u64::from(layer) / total;
        (upto(end) - upto(start)) as u32
    };
    let local_attention = arch.local_attention.map(|l| LocalAttention {
        layers: share(l.layers),
        ..l
    });
    Architecture {
        layers,
        moe,
        local_attention,
        tied_embeddings: true,
        ..*arch
    }
}

/// What one group of GPUs holds: a pipeline stage on one node, or (TP 16) the whole
/// model over both nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stage {
    /// The nodes (`--node-rank`) this stage runs on.
    pub node_ranks: Vec<u32>,
    /// Layers `[first_layer, end_layer)`.
    pub first_layer: u32,
    pub end_layer: u32,
    pub holds_embedding: bool,
    pub holds_lm_head: bool,
    /// What each GPU of the stage holds (its `kv_layout` covers the stage's layers).
    pub serving: ServingEstimate,
    /// Tokens this stage's KV pool holds at the layout's `--mem-fraction-static`.
    pub kv_pool_tokens: u64,
}

/// One layout's sizing and speed on two nodes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LayoutEstimate {
    pub layout: Layout,
    pub tp: u32,
    pub pp: u32,
    pub fit: Fit,
    /// `--ep-size` a launch passes (`recommend::expert_parallel_size` at this TP).
    pub expert_parallel: u32,
    /// Why the verdict is what it is (naming the stage that decides it, for PP).
    pub reason: String,
    /// Bytes on each GPU of the fuller stage, which decides the fit.
    pub per_gpu_bytes: u64,
    /// Memory each GPU of that stage has left (negative when it does not fit).
    pub headroom_bytes: i64,
    /// The `--mem-fraction-static` a launch passes (one value for every rank).
    pub mem_fraction_static: f64,
    /// Tokens the server holds at once: the smaller stage pool, since every request keeps
    /// KV on every stage.
    pub kv_pool_tokens: u64,
    pub stages: Vec<Stage>,
    /// Bytes crossing between the nodes per token of a forward pass.
    pub cross_node_bytes_per_token: u64,
    /// Messages crossing between the nodes per forward pass, each paying
    /// [`TCP_CROSSING_LATENCY_S`].
    pub cross_node_crossings_per_step: u32,
    /// All-reduces per forward pass whose ring or tree spans the node boundary.
    pub cross_node_allreduces_per_step: u32,
    /// The speed at the workload, with the cross-node traffic charged at
    /// [`INTER_NODE_BYTES_PER_S`]; for both instances (price included).
    pub speed: Speed,
}

/// A model on two instances of one 8-GPU type, both layouts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TwoNodeEstimate {
    pub instance_type: &'static str,
    pub nodes: u32,
    /// GPUs in all (16).
    pub gpus: u32,
    /// Both instances, US dollars per hour.
    pub price_per_hour_usd: f64,
    /// The inter-node bandwidth the speed charges, and the optimistic figure next to it.
    pub inter_node_bits_per_s: f64,
    pub inter_node_optimistic_bits_per_s: f64,
    pub crossing_latency_s: f64,
    pub workload: Workload,
    /// TP 16, then PP 2 × TP 8.
    pub layouts: Vec<LayoutEstimate>,
    /// The layout a launch should use: PP 2 × TP 8 when it fits, else TP 16, else none.
    pub recommended: Option<Layout>,
    /// Why, in a sentence or two.
    pub recommendation: String,
}

impl TwoNodeEstimate {
    pub fn layout(&self, layout: Layout) -> Option<&LayoutEstimate> {
        self.layouts.iter().find(|l| l.layout == layout)
    }

    /// The recommended layout's estimate, when one fits.
    pub fn recommended_layout(&self) -> Option<&LayoutEstimate> {
        self.recommended.and_then(|l| self.layout(l))
    }
}

/// Check that `nodes` is 1 or 2; the error names the field `nodes`.
pub fn check_nodes(nodes: u32) -> Result<(), FieldError> {
    if (1..=MAX_NODES).contains(&nodes) {
        Ok(())
    } else {
        Err(FieldError::new(
            "nodes",
            nodes,
            format!("must be 1 or {MAX_NODES}"),
        ))
    }
}

/// Check that two nodes of `gpu` can hold TP 16 / PP 2 × TP 8; the error names `gpu`.
pub fn check_two_node_gpu(gpu: &GpuType) -> Result<(), FieldError> {
    if gpu.gpu_count == GPUS_PER_NODE {
        Ok(())
    } else {
        Err(FieldError::new(
            "gpu",
            gpu.instance_type,
            format!(
                "has {} GPU(s); two nodes need an instance type with {GPUS_PER_NODE} GPUs (TP 16 or PP 2 × TP 8)",
                gpu.gpu_count
            ),
        ))
    }
}

/// Size and time `model` at `settings` on two instances of `gpu` in both layouts.
/// `settings.gpus` is ignored: the layout sets the parallel sizes.
pub fn two_nodes(
    model: &Model,
    settings: &Settings,
    gpu: &'static GpuType,
    workload: &Workload,
) -> Result<TwoNodeEstimate, FieldError> {
    two_nodes_at(model, settings, gpu, workload, None)
}

/// [`two_nodes`] at the user's own `--mem-fraction-static` when `user_fraction` is
/// given (every stage's pool sized at it, never raised), as a plan that carries one runs.
pub fn two_nodes_at(
    model: &Model,
    settings: &Settings,
    gpu: &'static GpuType,
    workload: &Workload,
    user_fraction: Option<f64>,
) -> Result<TwoNodeEstimate, FieldError> {
    check_two_node_gpu(gpu)?;
    let (arch, _) = model.effective_architecture();
    let layouts: Vec<LayoutEstimate> = Layout::ALL
        .iter()
        .map(|&layout| {
            layout_estimate(model, settings, &arch, gpu, layout, workload, user_fraction)
        })
        .collect();
    let (recommended, recommendation) = recommend_layout(&layouts);
    Ok(TwoNodeEstimate {
        instance_type: gpu.instance_type,
        nodes: MAX_NODES,
        gpus: MAX_NODES * GPUS_PER_NODE,
        price_per_hour_usd: f64::from(MAX_NODES) * gpu.price_per_hour_usd(),
        inter_node_bits_per_s: ETHERNET_CONSERVATIVE_BITS_PER_S,
        inter_node_optimistic_bits_per_s: ETHERNET_OPTIMISTIC_BITS_PER_S,
        crossing_latency_s: TCP_CROSSING_LATENCY_S,
        workload: *workload,
        layouts,
        recommended,
        recommendation,
    })
}

/// The stages of `layout`, each with its per-GPU serving estimate.
fn stages(
    model: &Model,
    settings: &Settings,
    arch: &Architecture,
    gpu: &GpuType,
    layout: Layout,
) -> Vec<Stage> {
    let (tp, pp) = (layout.tp(), layout.pp());
    (0..pp)
        .map(|rank| {
            let (first_layer, end_layer) = pp_layer_range(arch.layers, rank, pp);
            let stage_arch = if pp > 1 {
                stage_architecture(arch, first_layer, end_layer)
            } else {
                *arch
            };
            let mut serving = serving_estimate(input(model, &stage_arch, settings, tp, gpu));
            // SGLang's reserve counts `tp × pp / 8` GiB for the whole parallel group
            // (sglang 0.5.23 srt/arg_groups/memory_hook.py); the other sizes it picks
            // are the same at TP 8 and 16.
            serving.sglang = sglang_defaults(SglangDefaultsInput {
                gpu_memory_mib: gpu.memory_mib,
                tp: tp * pp,
                max_running_requests: Some(settings.seqs.max(1)),
                mla: arch.mla.is_some(),
            });
            let node_ranks = if pp > 1 {
                vec![rank]
            } else {
                (0..MAX_NODES).collect()
            };
            Stage {
                node_ranks,
                first_layer,
                end_layer,
                holds_embedding: rank == 0,
                holds_lm_head: rank + 1 == pp,
                serving,
                kv_pool_tokens: 0,
            }
        })
        .collect()
}

/// One layout on two nodes: its stages and their pools, fit, memory, traffic and speed.
fn layout_estimate(
    model: &Model,
    settings: &Settings,
    arch: &Architecture,
    gpu: &'static GpuType,
    layout: Layout,
    workload: &Workload,
    user_fraction: Option<f64>,
) -> LayoutEstimate {
    let (tp, pp) = (layout.tp(), layout.pp());
    let memory = gpu.memory_bytes();
    let (stages, pools, fraction) = sized_stages(model, settings, arch, gpu, layout, user_fraction);
    let kv_pool_tokens = stages.iter().map(|s| s.kv_pool_tokens).min().unwrap_or(0);
    let (fit, needed, reason) = match blocking_problem(model, settings, arch, gpu, layout, &stages)
    {
        Some((needed, reason)) => (Fit::No, needed, reason),
        None => pool_verdict(&stages, &pools, kv_pool_tokens, pp),
    };
    let (cross_bytes, crossings, allreduces) = cross_node_traffic(arch, layout);
    let pool_tokens = speed_pool_tokens(settings, kv_pool_tokens);
    let speed = two_node_speed(model, settings, arch, gpu, layout, pool_tokens, workload);
    LayoutEstimate {
        layout,
        tp,
        pp,
        fit,
        expert_parallel: model
            .checkpoint_for(settings.quantization)
            .map_or(1, |c| expert_parallel_size(c.method, arch, tp)),
        reason,
        per_gpu_bytes: needed,
        headroom_bytes: i64::try_from(memory).unwrap_or(i64::MAX)
            - i64::try_from(needed).unwrap_or(i64::MAX),
        mem_fraction_static: fraction,
        kv_pool_tokens,
        stages,
        cross_node_bytes_per_token: cross_bytes,
        cross_node_crossings_per_step: crossings,
        cross_node_allreduces_per_step: allreduces,
        speed,
    }
}

/// The stages of `layout` with each stage's pool choice and the one fraction every
/// rank gets; each stage's pool is sized at that fraction.
fn sized_stages(
    model: &Model,
    settings: &Settings,
    arch: &Architecture,
    gpu: &GpuType,
    layout: Layout,
    user_fraction: Option<f64>,
) -> (Vec<Stage>, Vec<(PoolChoice, String)>, f64) {
    let memory = gpu.memory_bytes();
    let mut stages = stages(model, settings, arch, gpu, layout);
    let pools: Vec<_> = stages
        .iter()
        .map(|s| match user_fraction {
            Some(f) => user_pool(&s.serving, settings, memory, f),
            None => choose_pool(&s.serving, settings, memory),
        })
        .collect();
    // One --mem-fraction-static for every rank: the user's, else the largest any stage
    // needs.
    let fraction =
        user_fraction.unwrap_or_else(|| pools.iter().map(|(p, _)| p.fraction).fold(0.0, f64::max));
    for stage in &mut stages {
        stage.kv_pool_tokens = stage.serving.kv_pool_tokens_at(fraction);
    }
    (stages, pools, fraction)
}

/// What rules the layout out before any pool is weighed, with the memory per GPU to
/// show: a sharding or FP8 problem, too few layers for the stages, or an online FP8
/// load peak above the GPU's memory.
fn blocking_problem(
    model: &Model,
    settings: &Settings,
    arch: &Architecture,
    gpu: &GpuType,
    layout: Layout,
    stages: &[Stage],
) -> Option<(u64, String)> {
    let (tp, pp) = (layout.tp(), layout.pp());
    let memory = gpu.memory_bytes();
    let per_gpu_bytes = stages.iter().map(|s| s.serving.total()).max().unwrap_or(0);
    let problem = sharding_problem(model, settings, arch, tp, gpu)
        .or_else(|| fp8_block_without_fp8_cores(model, settings, gpu))
        .or_else(|| {
            (arch.layers < pp).then(|| {
                format!(
                    "{pp} pipeline stages need at least {pp} layers; the model has {}",
                    arch.layers
                )
            })
        });
    if let Some(reason) = problem {
        return Some((per_gpu_bytes, reason));
    }
    let load_peak = stages
        .iter()
        .map(|s| s.serving.load_peak)
        .max()
        .unwrap_or(0);
    (model.quantizes_at_load(settings.quantization) && load_peak > memory).then(|| {
        let reason = format!(
            "online FP8 loads the 16-bit weights first: {} GiB per GPU of {} GiB",
            Fixed::<1>(in_gib(load_peak)),
            Fixed::<1>(in_gib(memory)),
        );
        (load_peak, reason)
    })
}

/// The fuller stage's pool verdict (worst fit, then most memory, then first): its fit,
/// the memory per GPU and its reason, named by stage when there are several.
fn pool_verdict(
    stages: &[Stage],
    pools: &[(PoolChoice, String)],
    kv_pool_tokens: u64,
    pp: u32,
) -> (Fit, u64, String) {
    let fuller = (0..stages.len())
        .max_by_key(|&i| {
            (
                pools[i].0.fit.rank(),
                stages[i].serving.total(),
                std::cmp::Reverse(i),
            )
        })
        .unwrap_or(0);
    let stage = &stages[fuller];
    let stage_name = if pp > 1 {
        let last = stage.end_layer - 1;
        format!("stage {fuller} (layers {}–{last}): ", stage.first_layer)
    } else {
        String::new()
    };
    let (pool, why) = &pools[fuller];
    // When requests queue, what runs is the fuller stage's pool of them, not all.
    let needed = if pool.fit == Fit::Queues {
        running_bytes(&stage.serving, kv_pool_tokens)
    } else {
        stages.iter().map(|s| s.serving.total()).max().unwrap_or(0)
    };
    (pool.fit, needed, format!("{stage_name}{why}"))
}

impl LayoutEstimate {
    /// This layout as the row a plan shows and launches by: its fit, the fuller stage's
    /// memory per GPU, the one fraction every rank gets, the server's pool (the smaller
    /// stage's) and the speed of both nodes. `price_per_hour_usd` stays one instance's,
    /// as for every plan row (a group's price is the instance count times it).
    pub fn as_row(&self, model: &Model, settings: &Settings, gpu: &'static GpuType) -> GpuFit {
        let memory = gpu.memory_bytes();
        let serving = self
            .stages
            .iter()
            .max_by_key(|s| s.serving.total())
            .map(|s| s.serving)
            .unwrap_or_else(|| {
                serving_estimate(input(
                    model,
                    &model.effective_architecture().0,
                    settings,
                    self.tp,
                    gpu,
                ))
            });
        let seqs = u64::from(settings.seqs.max(1));
        let context = u64::from(settings.context.max(1));
        GpuFit {
            gpu,
            tp: self.tp,
            fit: self.fit,
            reason: self.reason.clone(),
            needed_bytes: self.per_gpu_bytes,
            headroom_bytes: self.headroom_bytes,
            headroom_fraction: self.headroom_bytes as f64 / memory as f64,
            mem_fraction_static: self.mem_fraction_static,
            default_mem_fraction_static: serving.sglang.mem_fraction_static,
            kv_pool_tokens: self.kv_pool_tokens,
            max_context: (self.kv_pool_tokens / seqs).min(u64::from(model.max_context())) as u32,
            max_seqs: (self.kv_pool_tokens / context).min(u64::from(MAX_SEQS)) as u32,
            price_per_hour_usd: gpu.price_per_hour_usd(),
            expert_parallel: self.expert_parallel,
            speed: self.speed,
            speed_basis: settings.workload().basis(),
            serving,
        }
    }
}

/// SGLang 0.5.23 runs block-quantized FP8 checkpoints (DeepSeek-R1, Kimi K2) through
/// Triton kernels on the `fp8e4nv` type, which GPUs without FP8 tensor cores (Ampere)
/// refuse: "type fp8e4nv not supported in this architecture" (sgl-project/sglang issue
/// #38291, an FP8 MoE on A100, open as of 2026-09; the Marlin weight-only fallback for
/// FP8 MoE on Ampere, feature request #12887, was closed unimplemented). The one-instance
/// table does not check this yet; two instances are never offered on such a type.
pub fn fp8_block_without_fp8_cores(
    model: &Model,
    settings: &Settings,
    gpu: &GpuType,
) -> Option<String> {
    let checkpoint = model.checkpoint_for(settings.quantization).ok()?;
    (checkpoint.method == QuantMethod::Fp8Block && !gpu.fp8_tensor_cores()).then(|| {
        format!(
            "{} is block-quantized FP8, which SGLang's Triton kernels run only on GPUs with FP8 tensor cores, not on {}",
            checkpoint.hf_path, gpu.gpu
        )
    })
}

/// Bytes per token, crossings and node-spanning all-reduces of one forward pass.
/// - TP 16: two all-reduces per layer (after attention and after the MLP or MoE), each
///   over a hidden × 16-bit tensor per token; a ring moves 2 (n − 1) / n of it over every
///   link, the one between the nodes included.
/// - PP 2 × TP 8: the hidden state and the residual once, at the stage boundary.
pub fn cross_node_traffic(arch: &Architecture, layout: Layout) -> (u64, u32, u32) {
    let hidden = u64::from(arch.hidden) * ACTIVATION_BYTES;
    match layout {
        Layout::Tp16 => {
            let n = u64::from(layout.tp());
            let allreduces = 2 * arch.layers;
            let per_allreduce = hidden * 2 * (n - 1) / n;
            (
                u64::from(allreduces) * per_allreduce,
                allreduces * TP_CROSSINGS_PER_ALLREDUCE,
                allreduces,
            )
        }
        Layout::Pp2Tp8 => (2 * hidden, PP_CROSSINGS_PER_PASS, 0),
    }
}

/// The speed of `layout`, on `speed`'s model:
/// - TP 16 is one group of sixteen GPUs whose all-reduces also cross the nodes;
/// - PP 2 × TP 8 is timed as the whole model at TP 8, its two stages one after the other
///   (each node reads its half of the weights and KV in turn), plus the crossings. SGLang
///   overlaps micro-batches across the stages (`--pp-async-batch-depth`), so throughput
///   at high concurrency can be better than this; TPOT at low concurrency is not.
fn two_node_speed(
    model: &Model,
    settings: &Settings,
    arch: &Architecture,
    gpu: &GpuType,
    layout: Layout,
    pool_tokens: u64,
    workload: &Workload,
) -> Speed {
    let tp = layout.tp();
    let whole = serving_estimate(input(model, arch, settings, tp, gpu));
    let shard = model_shard(arch, settings.quantization, &whole, pool_tokens);
    let mut hw = hardware(gpu, tp, settings.quantization);
    hw.price_per_hour_usd = f64::from(MAX_NODES) * gpu.price_per_hour_usd();
    let (bytes, crossings, _) = cross_node_traffic(arch, layout);
    charge_cross_node(
        &shard,
        &mut hw,
        f64::from(crossings) * TCP_CROSSING_LATENCY_S,
        bytes as f64 / INTER_NODE_BYTES_PER_S,
    );
    let mut s = speed(&shard, &hw, &CALIBRATION, workload);
    s.output_tokens_per_s_per_gpu = s.output_tokens_per_s / f64::from(MAX_NODES * GPUS_PER_NODE);
    s
}

/// Fold the cross-node cost of a forward pass — `latency_s` per pass plus
/// `seconds_per_token` per token in it — into the pass's all-reduce term, which `speed`
/// charges as `all-reduces × (latency + bytes per token × tokens / link)`: raising the
/// latency by `latency_s / all-reduces` and slowing the link so its per-token time grows
/// by `seconds_per_token` gives exactly the old term plus the cross-node cost, at every
/// pass size (prefill chunks and decode batches alike).
pub fn charge_cross_node(
    shard: &ModelShard,
    hw: &mut Hardware,
    latency_s: f64,
    seconds_per_token: f64,
) {
    let allreduces = f64::from(shard.allreduces_per_pass.max(1));
    let n = f64::from(hw.tp.max(2));
    let bytes_per_token = shard.allreduce_bytes_per_token * 2.0 * (n - 1.0) / n;
    hw.allreduce_latency_s += latency_s / allreduces;
    if bytes_per_token > 0.0 {
        let link_s_per_token = bytes_per_token / hw.link_bytes_per_s;
        hw.link_bytes_per_s = bytes_per_token / (link_s_per_token + seconds_per_token / allreduces);
    }
}

fn bytes_label(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{} MB", Fixed::<1>(bytes as f64 / 1e6))
    } else {
        format!("{} KiB", Fixed::<0>(bytes as f64 / 1024.0))
    }
}

/// PP 2 × TP 8 when it fits, else TP 16, else neither; and why.
fn recommend_layout(layouts: &[LayoutEstimate]) -> (Option<Layout>, String) {
    let find = |l: Layout| layouts.iter().find(|e| e.layout == l);
    let (Some(tp), Some(pp)) = (find(Layout::Tp16), find(Layout::Pp2Tp8)) else {
        return (None, String::new());
    };
    let traffic = format!(
        "PP 2 × TP 8 sends {} per token across the network once per step, where TP 16 sends {} per token through {} all-reduces that span both nodes",
        bytes_label(pp.cross_node_bytes_per_token),
        bytes_label(tp.cross_node_bytes_per_token),
        tp.cross_node_allreduces_per_step,
    );
    if pp.fit != Fit::No {
        (
            Some(Layout::Pp2Tp8),
            format!("{traffic}; on-demand instances talk over Ethernet, not InfiniBand, so the pipeline goes across the nodes and tensor parallelism stays inside each"),
        )
    } else if tp.fit != Fit::No {
        (
            Some(Layout::Tp16),
            format!(
                "TP 16, because PP 2 × TP 8 does not fit ({}); {traffic}, which Ethernet makes slow",
                pp.reason
            ),
        )
    } else {
        (
            None,
            format!(
                "neither layout fits: TP 16: {}; PP 2 × TP 8: {}",
                tp.reason, pp.reason
            ),
        )
    }
}

/// The two-node options worth showing next to a recommendation's single instances: on
/// each offered 8-GPU type, the recommended layout where it fits and both instances
/// together cost less than the cheapest single instance that fits, or when no single
/// instance fits. Cheapest first.
pub fn two_node_options(
    model: &Model,
    settings: &Settings,
    rec: &Recommendation,
    workload: &Workload,
) -> Vec<TwoNodeEstimate> {
    let single = rec.cheapest().map(|r| r.price_per_hour_usd);
    let mut options: Vec<TwoNodeEstimate> = CATALOG
        .iter()
        .filter(|g| g.offered && g.gpu_count == GPUS_PER_NODE)
        .filter(|g| single.is_none_or(|p| f64::from(MAX_NODES) * g.price_per_hour_usd() < p))
        .filter_map(|g| two_nodes(model, settings, g, workload).ok())
        .filter(|e| e.recommended.is_some())
        .collect();
    options.sort_by(|a, b| a.price_per_hour_usd.total_cmp(&b.price_per_hour_usd));
    options
}

#[cfg(test)]
mod tests;
