//! The serving estimate: what SGLang holds on each GPU of a tensor-parallel group,
//! and SGLang's own memory defaults for a GPU size.

use crate::arch::Architecture;
use crate::gpu::MIB;
use crate::quant::{KvDtype, Quantization};
use serde::Serialize;

/// AWQ and GPTQ checkpoints quantize in groups of 128 input elements
/// (`"group_size": 128` in the quantization_config of every INT4 checkpoint we name).
pub const INT4_GROUP_SIZE: u64 = 128;
/// Per group: one FP16 scale (2 bytes) plus one 4-bit zero point packed eight to an
/// int32 (0.5 bytes): AWQ's `scales` and `qzeros` tensors.
pub const INT4_GROUP_OVERHEAD_BYTES: f64 = 2.5;
/// W8A8 compressed-tensors checkpoints carry one FP32 scale per output channel
/// (`weight_scale` of shape [out, 1]); FP8 applied at load time uses one scale per
/// tensor, which is negligible and not counted.
pub const INT8_CHANNEL_SCALE_BYTES: u64 = 4;

/// CUDA context plus PyTorch's runtime state per process. With lazy module loading
/// (the default since CUDA 12.2) an idle `torch.cuda.init()` shows 400–600 MiB in
/// nvidia-smi on A100/H100; SGLang budgets 512 MB of "constant meta data" for it
/// (`reserved_mem = 512` in python/sglang/srt/server_args.py).
pub const CUDA_CONTEXT_MIB: u64 = 512;
/// FlashInfer's float workspace, which SGLang allocates once per process
/// (`flashinfer_workspace_size = 384 MiB` in sglang/global_config.py).
pub const ATTENTION_WORKSPACE_MIB: u64 = 384;
/// cuBLAS workspace: PyTorch's default `CUBLAS_WORKSPACE_CONFIG=:4096:8` is
/// 8 × 4 MiB per handle (PyTorch "Reproducibility" notes, torch.backends docs).
pub const CUBLAS_WORKSPACE_MIB: u64 = 32;
/// NCCL communicator buffers when TP > 1: `NCCL_BUFFSIZE` defaults to 4 MiB per
/// channel and direction (NCCL environment-variable docs); NVLink rings open up to
/// 16 channels on A100/H100 boards, plus SGLang's custom all-reduce IPC buffers
/// (2 × 8 MiB). 4 MiB × 2 × 16 + 16 MiB ≈ 144 MiB, rounded up to 160.
pub const NCCL_BUFFERS_MIB: u64 = 160;
/// SGLang budgets 2 MB of CUDA-graph memory per captured batch size unit
/// (`reserved_mem += cuda_graph_max_bs * 2` in server_args.py).
pub const CUDA_GRAPH_MIB_PER_BATCH: u64 = 2;
/// Logits are materialised in FP32 after the vocab-parallel gather (LogitsProcessor).
pub const LOGIT_BYTES: u64 = 4;
/// Activations are held in the model's 16-bit dtype.
pub const ACTIVATION_BYTES: u64 = 2;

/// SGLang's defaults for a GPU of `gpu_memory_mib` and a TP size, as its
/// `ServerArgs._handle_gpu_memory_settings` computes them (python/sglang/srt/server_args.py,
/// "General heuristics for --mem-fraction-static", sgl-project/sglang#10975).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SglangDefaults {
    pub chunked_prefill_size: u32,
    pub cuda_graph_max_bs: u32,
    /// Memory SGLang keeps out of its static pool, MiB.
    pub reserved_mib: f64,
    /// `--mem-fraction-static`: share of GPU memory for weights plus the KV pool.
    pub mem_fraction_static: f64,
}

pub fn sglang_defaults(gpu_memory_mib: u64, tp: u32) -> SglangDefaults {
    let gib = |n: u64| n * 1024;
    let small_tp = tp < 4;
    let (chunked_prefill_size, cuda_graph_max_bs) = if gpu_memory_mib < gib(20) {
        (2048, if small_tp { 16 } else { 64 })
    } else if gpu_memory_mib < gib(35) {
        (2048, if small_tp { 24 } else { 80 }) // A10, 4090
    } else if gpu_memory_mib < gib(60) {
        (4096, if small_tp { 32 } else { 160 }) // A100 40 GB, A6000, L40
    } else if gpu_memory_mib < gib(160) {
        (8192, if small_tp { 256 } else { 512 }) // A100 80 GB, H100, GH200, H200
    } else {
        (16384, 512) // B200
    };
    let mut reserved_mib = 512.0
        + f64::from(chunked_prefill_size.max(2048)) * 1.5
        + f64::from(cuda_graph_max_bs) * 2.0
        + f64::from(tp) / 8.0 * 1024.0;
    if gpu_memory_mib > gib(60) {
        reserved_mib = reserved_mib.max(10.0 * 1024.0);
    }
    let total = gpu_memory_mib as f64;
    let mem_fraction_static = (((total - reserved_mib) / total) * 1000.0).round() / 1000.0;
    SglangDefaults {
        chunked_prefill_size,
        cuda_graph_max_bs,
        reserved_mib,
        mem_fraction_static,
    }
}

/// What one GPU of the tensor-parallel group holds, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ServingEstimate {
    pub tp: u32,
    pub weights: u64,
    /// KV cache for `tokens` tokens.
    pub kv_cache: u64,
    /// Peak activations of one chunked-prefill step plus the logits.
    pub activations: u64,
    pub cuda_context: u64,
    /// FlashInfer, cuBLAS and (TP > 1) NCCL workspaces.
    pub workspaces: u64,
    pub cuda_graphs: u64,
    /// KV bytes one token costs on each GPU.
    pub kv_bytes_per_token: u64,
    /// Tokens of KV cache held: context × concurrent sequences.
    pub tokens: u64,
    pub kv_heads_per_gpu: u32,
    /// The KV cache per attention kind (`kv_bytes_per_token` is its `bytes_per_token`).
    pub kv_layout: KvLayout,
    /// SGLang's defaults for this GPU size, which decided chunk and graph sizes.
    pub sglang: SglangDefaults,
}

impl ServingEstimate {
    /// Everything held on one GPU.
    pub fn total(&self) -> u64 {
        self.weights + self.kv_cache + self.overhead() + self.activations
    }

    /// CUDA context, workspaces and CUDA graphs.
    pub fn overhead(&self) -> u64 {
        self.cuda_context + self.workspaces + self.cuda_graphs
    }
}

/// Inputs of the serving estimate.
#[derive(Debug, Clone, Copy)]
pub struct ServingInput<'a> {
    pub arch: &'a Architecture,
    pub quantization: Quantization,
    pub kv_dtype: KvDtype,
    pub context: u32,
    pub seqs: u32,
    pub tp: u32,
    pub gpu_memory_mib: u64,
}

/// MXFP4 (OCP Microscaling spec, as gpt-oss stores it): one E8M0 scale byte per block
/// of 32 E2M1 elements, so 4.25 bits per weight.
pub const MXFP4_BLOCK: u32 = 32;
/// `--swa-full-tokens-ratio` default: SWA-layer tokens / full-layer tokens of SGLang's
/// hybrid SWA pool (`fallback=0.8` in SGLang 0.5.23 arg_groups/fields/schedule.py;
/// HybridSWAPoolConfigurator in model_executor/pool_configurator.py charges
/// `full_bytes + ratio × swa_bytes` per token of `max_total_num_tokens`).
pub const SWA_FULL_TOKENS_RATIO: f64 = 0.8;
/// Linear-attention convolution state dtype: bfloat16 unless SGLANG_MAMBA_CONV_DTYPE
/// says otherwise (SGLang 0.5.23 configs/mamba_utils.py `mamba2_state_dtype`).
pub const LINEAR_CONV_STATE_BYTES: u64 = 2;

/// Bytes `params` linear-layer weights take at `quantization`, with the scales the
/// checkpoint stores. `experts`: these are routed-expert weights (MXFP4 quantizes only
/// those). `hidden` approximates the input width for per-channel scales.
fn linear_bytes(params: u64, quantization: Quantization, experts: bool, hidden: u64) -> u64 {
    match quantization {
        Quantization::Int4 => {
            let packed = params / 2;
            let groups = params.div_ceil(INT4_GROUP_SIZE) as f64;
            packed + (groups * INT4_GROUP_OVERHEAD_BYTES).round() as u64
        }
        Quantization::Int8 => {
            let out_channels = params / hidden.max(1);
            params + out_channels * INT8_CHANNEL_SCALE_BYTES
        }
        // FP8 weights are one byte each. Block-wise checkpoints (`weight_block_size`
        // [128, 128]: DeepSeek-V3/R1, Kimi K2, Qwen3-*-FP8) add one float32
        // `weight_scale_inv` per 128 × 128 block, 4 / 16384 = 0.024 % (20 MiB per GPU for
        // DeepSeek-R1 at TP 8); SGLang's load-time FP8 one scale per tensor. Both are below
        // the estimate's resolution and not counted, so one rule prices every FP8 row.
        Quantization::Mxfp4 if experts => params / 2 + params.div_ceil(u64::from(MXFP4_BLOCK)),
        Quantization::Mxfp4 => params * 2,
        q => params * u64::from(q.weight_bits()) / 8,
    }
}

/// Bytes of weights each GPU holds. Attention heads, MLP columns and routed experts are
/// split over TP (SGLang's default `ep_size` is 1: experts are tensor-parallel, each
/// GPU holding 1/TP of every expert; arg_groups/fields/parallel.py); k/v projections
/// are replicated once TP exceeds the KV heads; MLA's latent projections, routers and
/// norms are whole on every GPU; embedding and lm_head are vocab-parallel.
pub fn weights_per_gpu(arch: &Architecture, quantization: Quantization, tp: u32) -> u64 {
    let p = arch.param_breakdown();
    let tp = u64::from(tp.max(1));
    let hidden = u64::from(arch.hidden);
    let kv_heads = u64::from(arch.kv_heads).max(1);
    let kv_heads_per_gpu = kv_heads.div_ceil(tp).max(1);
    let kv_proj_per_gpu = p.attention_kv_proj * kv_heads_per_gpu / kv_heads;
    let sharded = p.linear - p.attention_kv_proj - p.replicated_linear - p.experts;
    let dense_per_gpu = sharded / tp + kv_proj_per_gpu + p.replicated_linear;
    let experts_per_gpu = p.experts / tp;
    let unquantized = quantization.unquantized_tensor_bytes();
    let split = (p.embedding + p.lm_head + p.biases + p.other) / tp;
    linear_bytes(dense_per_gpu, quantization, false, hidden)
        + linear_bytes(experts_per_gpu, quantization, true, hidden)
        + (split + p.norms + p.router) * unquantized
}

/// Bytes of routed-expert weights on each GPU (the part of `weights_per_gpu` a decode
/// step reads only for the experts its tokens are routed to).
pub fn expert_weights_per_gpu(arch: &Architecture, quantization: Quantization, tp: u32) -> u64 {
    let experts = arch.param_breakdown().experts / u64::from(tp.max(1));
    linear_bytes(experts, quantization, true, u64::from(arch.hidden))
}

/// Bytes of the embedding table on each GPU: a decode step reads one row of it per
/// token, not the table (0 when tied: the lm_head, read whole, is the same tensor).
pub fn embedding_bytes_per_gpu(arch: &Architecture, quantization: Quantization, tp: u32) -> u64 {
    if arch.tied_embeddings {
        return 0;
    }
    arch.param_breakdown().embedding / u64::from(tp.max(1))
        * quantization.unquantized_tensor_bytes()
}

/// How one GPU's KV cache is laid out per token, by attention kind, as SGLang 0.5.23
/// allocates it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct KvLayout {
    /// Layers whose KV spans the whole context (full attention, and sliding layers
    /// SGLang does not pool separately).
    pub full_layers: u32,
    /// Bytes one token costs across those layers.
    pub full_bytes_per_token: u64,
    /// Sliding-window or chunked layers in SGLang's SWA pool.
    pub swa_layers: u32,
    /// Bytes one token costs across those layers (before the pool's ratio).
    pub swa_bytes_per_token: u64,
    /// Tokens a sliding or chunked layer attends over (0 without such layers): what a
    /// decode step reads of them per sequence.
    pub swa_window: u32,
    /// Linear-attention layers, which keep a fixed state instead.
    pub linear_layers: u32,
    /// That state, per running sequence, in bytes.
    pub state_bytes_per_seq: u64,
    /// KV heads each GPU holds: `max(1, kv_heads / tp)` (ModelConfig.get_num_kv_heads);
    /// for MLA the one latent, which every GPU holds whole.
    pub kv_heads_per_gpu: u32,
    /// The model uses multi-head latent attention.
    pub latent: bool,
    /// What SGLang's pool charges per token of `max_total_num_tokens`: full layers plus
    /// `SWA_FULL_TOKENS_RATIO` × SWA layers (SWA layers alone when there is no full layer).
    pub bytes_per_token: u64,
}

impl KvLayout {
    /// Bytes of KV and state one decode step reads for a sequence of `context` tokens.
    pub fn bytes_read_per_sequence(&self, context: u64) -> u64 {
        self.full_bytes_per_token * context
            + self.swa_bytes_per_token * context.min(u64::from(self.swa_window))
            + self.state_bytes_per_seq
    }
}

/// The KV layout of `arch` at TP `tp` with `kv_bytes` per cached element.
pub fn kv_layout(arch: &Architecture, kv_bytes: u64, tp: u32) -> KvLayout {
    use crate::arch::LocalKind;
    let tp = tp.max(1);
    let (per_layer, kv_heads_per_gpu, latent) = match &arch.mla {
        // MLATokenToKVPool: one latent of kv_lora_rank + qk_rope_head_dim per token and
        // layer, replicated on every GPU (calculate_mla_kv_cache_dim).
        Some(mla) => (
            u64::from(mla.kv_lora_rank + mla.qk_rope_head_dim) * kv_bytes,
            1,
            true,
        ),
        None => {
            let heads = (arch.kv_heads / tp).max(1);
            (
                2 * u64::from(heads) * u64::from(arch.head_dim) * kv_bytes,
                heads,
                false,
            )
        }
    };
    let (mut full_layers, mut swa_layers, mut linear_layers, mut state) = (arch.layers, 0, 0, 0);
    let mut swa_window = 0;
    if let Some(local) = &arch.local_attention {
        match local.kind {
            LocalKind::SlidingWindow { pooled: false, .. } => {}
            LocalKind::SlidingWindow {
                pooled: true,
                window,
            }
            | LocalKind::Chunked { chunk: window } => {
                full_layers -= local.layers;
                swa_layers = local.layers;
                swa_window = window;
            }
            LocalKind::Linear(l) => {
                full_layers -= local.layers;
                linear_layers = local.layers;
                // Mamba2StateShape.create: conv (conv_dim / tp, kernel - 1) and temporal
                // (value_heads / tp, value_head_dim, key_head_dim) per layer.
                let tp = u64::from(tp);
                let conv =
                    l.conv_dim() / tp * u64::from(l.conv_kernel - 1) * LINEAR_CONV_STATE_BYTES;
                let temporal = (u64::from(l.value_heads) / tp).max(1)
                    * u64::from(l.value_head_dim)
                    * u64::from(l.key_head_dim)
                    * u64::from(l.state_bytes);
                state = u64::from(local.layers) * (conv + temporal);
            }
        }
    }
    let full = u64::from(full_layers) * per_layer;
    let swa = u64::from(swa_layers) * per_layer;
    let bytes_per_token = if full_layers == 0 && swa_layers > 0 {
        swa
    } else {
        full + (swa as f64 * SWA_FULL_TOKENS_RATIO) as u64
    };
    KvLayout {
        full_layers,
        full_bytes_per_token: full,
        swa_layers,
        swa_bytes_per_token: swa,
        swa_window,
        linear_layers,
        state_bytes_per_seq: state,
        kv_heads_per_gpu,
        latent,
        bytes_per_token,
    }
}

pub fn serving_estimate(input: ServingInput<'_>) -> ServingEstimate {
    let ServingInput {
        arch,
        quantization,
        kv_dtype,
        context,
        seqs,
        tp,
        gpu_memory_mib,
    } = input;
    let tp = tp.max(1);
    let sglang = sglang_defaults(gpu_memory_mib, tp);
    let kv = kv_layout(arch, kv_dtype.bytes(quantization), tp);
    let kv_bytes_per_token = kv.bytes_per_token;
    let kv_heads_per_gpu = kv.kv_heads_per_gpu;
    let tokens = u64::from(context) * u64::from(seqs.max(1));

    // One chunked-prefill step: the residual stream and its input (2 × hidden), plus the
    // wider of the attention q/k/v output and the MLP's gate/up output with its
    // activation (3 × intermediate), sharded over TP; then FP32 logits for the last
    // token of every running sequence over the full (gathered) vocabulary.
    let chunk = u64::from(sglang.chunked_prefill_size).min(tokens);
    let qkv_width =
        u64::from(arch.heads + 2 * arch.kv_heads) * u64::from(arch.head_dim) / u64::from(tp);
    let mlp_width = 3 * u64::from(arch.intermediate) / u64::from(tp);
    let per_token = 2 * u64::from(arch.hidden) + qkv_width.max(mlp_width);
    let activations = chunk * per_token * ACTIVATION_BYTES
        + u64::from(seqs.max(1)) * u64::from(arch.vocab) * LOGIT_BYTES;

    let nccl = if tp > 1 { NCCL_BUFFERS_MIB } else { 0 };
    ServingEstimate {
        tp,
        weights: weights_per_gpu(arch, quantization, tp),
        kv_cache: kv_bytes_per_token * tokens + kv.state_bytes_per_seq * u64::from(seqs.max(1)),
        activations,
        cuda_context: CUDA_CONTEXT_MIB * MIB,
        workspaces: (ATTENTION_WORKSPACE_MIB + CUBLAS_WORKSPACE_MIB + nccl) * MIB,
        cuda_graphs: u64::from(sglang.cuda_graph_max_bs) * CUDA_GRAPH_MIB_PER_BATCH * MIB,
        kv_bytes_per_token,
        tokens,
        kv_heads_per_gpu,
        kv_layout: kv,
        sglang,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::GIB;
    use crate::registry::builtin;

    fn arch(id: &str) -> Architecture {
        builtin(id).unwrap().architecture.unwrap()
    }

    #[test]
    fn sglang_defaults_match_its_heuristic() {
        // A10: 512 + 2048×1.5 + 24×2 + 1/8×1024 = 3760 MiB reserved.
        let a10 = sglang_defaults(23_028, 1);
        assert_eq!(
            (a10.chunked_prefill_size, a10.cuda_graph_max_bs),
            (2048, 24)
        );
        assert_eq!(a10.reserved_mib, 3760.0);
        assert_eq!(a10.mem_fraction_static, 0.837);
        // H100 80 GB: 512 + 12288 + 512 + 128 = 13440 MiB (above the 10 GiB floor).
        let h100 = sglang_defaults(81_559, 1);
        assert_eq!(h100.chunked_prefill_size, 8192);
        assert_eq!(h100.mem_fraction_static, 0.835);
        // A100 40 GB at TP 8: graph batch 160, no 10 GiB floor below 60 GiB.
        let a100 = sglang_defaults(40_960, 8);
        assert_eq!(a100.cuda_graph_max_bs, 160);
        assert_eq!(a100.reserved_mib, 512.0 + 6144.0 + 320.0 + 1024.0);
    }

    #[test]
    fn sixteen_bit_weights_are_two_bytes_per_parameter() {
        let a = arch("llama-3.1-8b");
        assert_eq!(
            weights_per_gpu(&a, Quantization::Bf16, 1),
            2 * 8_030_261_248
        );
        assert_eq!(
            weights_per_gpu(&a, Quantization::Fp32, 1),
            4 * 8_030_261_248
        );
    }

    #[test]
    fn int4_keeps_embeddings_in_16_bit_and_adds_group_scales() {
        let a = arch("llama-3.1-70b");
        let w = weights_per_gpu(&a, Quantization::Int4, 1) as f64 / GIB as f64;
        // hugging-quants/Meta-Llama-3.1-70B-Instruct-AWQ-INT4 is 39.8 GB of safetensors
        // (37.1 GiB); our count must land within 2 % of it.
        assert!((w - 37.1).abs() / 37.1 < 0.02, "{w}");
    }

    #[test]
    fn tensor_parallel_shards_weights_and_kv() {
        let a = arch("llama-3.1-70b");
        let one = weights_per_gpu(&a, Quantization::Bf16, 1);
        let eight = weights_per_gpu(&a, Quantization::Bf16, 8);
        assert!(
            eight * 8 >= one && eight * 8 < one + one / 100,
            "{one} {eight}"
        );
        let input = |tp| ServingInput {
            arch: &a,
            quantization: Quantization::Bf16,
            kv_dtype: KvDtype::Auto,
            context: 8192,
            seqs: 1,
            tp,
            gpu_memory_mib: 81_920,
        };
        assert_eq!(serving_estimate(input(1)).kv_bytes_per_token, 327_680); // 2×80×8×128×2
        assert_eq!(serving_estimate(input(8)).kv_bytes_per_token, 40_960);
        // 16 GPUs would still hold one KV head each.
        assert_eq!(serving_estimate(input(16)).kv_heads_per_gpu, 1);
    }

    #[test]
    fn kv_cache_scales_with_context_sequences_and_dtype() {
        let a = arch("qwen2.5-coder-32b");
        let est = |context, seqs, kv_dtype| {
            serving_estimate(ServingInput {
                arch: &a,
                quantization: Quantization::Fp16,
                kv_dtype,
                context,
                seqs,
                tp: 1,
                gpu_memory_mib: 81_920,
            })
            .kv_cache
        };
        let base = est(8192, 1, KvDtype::Auto);
        assert_eq!(base, 8192 * 2 * 64 * 8 * 128 * 2);
        assert_eq!(est(16384, 1, KvDtype::Auto), 2 * base);
        assert_eq!(est(8192, 4, KvDtype::Auto), 4 * base);
        assert_eq!(est(8192, 1, KvDtype::Fp8E4m3), base / 2);
    }
}
