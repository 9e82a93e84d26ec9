//! The serving estimate: what SGLang holds on each GPU of a tensor-parallel group,
//! and SGLang's own memory defaults for a GPU size.

use crate::arch::Architecture;
use crate::gpu::MIB;
use crate::quant::{KvDtype, Quantization, MXFP4_BLOCK};
use serde::Serialize;

/// The SGLang release the launcher installs (PyPI `sglang`), whose memory heuristics
/// `sglang_defaults` follows.
pub const SGLANG_VERSION: &str = "0.5.23";
/// The Python the instance runs SGLang on: a uv-managed CPython, independent of the
/// image's system Python. sglang 0.5.23's wheel metadata says `Requires-Python >=3.11`
/// and ships cp311/cp312/cp313 wheels; SGLang's install guide uses `uv venv --python 3.12`.
pub const SGLANG_PYTHON_VERSION: &str = "3.12";
/// SGLang's default HTTP port (`--port 30000`).
pub const SGLANG_PORT: u16 = 30000;

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
/// (`reserved_mem = 512`, sglang 0.5.23 srt/arg_groups/memory_hook.py).
pub const CUDA_CONTEXT_MIB: u64 = 512;
/// FlashInfer's float workspace, allocated once per process after the KV pool:
/// `SGLANG_FLASHINFER_WORKSPACE_SIZE = 384 MiB` (sglang 0.5.23 srt/environ.py).
pub const FLASHINFER_WORKSPACE_MIB: u64 = 384;
/// The same workspace for Qwen2/Qwen3 (and MiMo, Qwen3-VL) models, which SGLang raises
/// to 512 MiB (sglang 0.5.23 srt/layers/attention/flashinfer_backend.py).
pub const FLASHINFER_QWEN_WORKSPACE_MIB: u64 = 512;
/// trtllm_mha's own zeroed workspace, `DEFAULT_WORKSPACE_SIZE_MB = 512`, on top of the
/// FlashInfer workspace its parent class allocates (sglang 0.5.23
/// srt/layers/attention/trtllm_mha_backend.py, `TRTLLMHAAttnBackend(FlashInferAttnBackend)`).
pub const TRTLLM_MHA_WORKSPACE_MIB: u64 = 512;
/// cuBLAS workspace: PyTorch's default `CUBLAS_WORKSPACE_CONFIG=:4096:8` is
/// 8 × 4 MiB per handle (PyTorch "Reproducibility" notes, torch.backends docs).
pub const CUBLAS_WORKSPACE_MIB: u64 = 32;
/// NCCL communicator buffers when TP > 1: `NCCL_BUFFSIZE` defaults to 4 MiB per
/// channel and direction (NCCL environment-variable docs); NVLink rings open up to
/// 16 channels on A100/H100 boards, plus SGLang's custom all-reduce IPC buffers
/// (2 × 8 MiB). 4 MiB × 2 × 16 + 16 MiB ≈ 144 MiB, rounded up to 160. SGLang sets them
/// up before it measures free memory (sglang 0.5.23 srt/distributed/bootstrap.py).
pub const NCCL_BUFFERS_MIB: u64 = 160;
/// SGLang budgets 2 MB of decode CUDA-graph memory per captured batch size unit
/// (`reserved_mem += decode max_bs * 2`, sglang 0.5.23 srt/arg_groups/memory_hook.py).
pub const CUDA_GRAPH_MIB_PER_BATCH: u64 = 2;
/// ... and 8 MB per prefill CUDA-graph bucket (breakable prefill graphs are on by
/// default on CUDA: `len(prefill bs) * 8`, same file; `default_prefill_backend` in
/// sglang 0.5.23 srt/model_executor/cuda_graph_config.py).
pub const PREFILL_GRAPH_MIB_PER_BUCKET: u64 = 8;
/// ... or a flat 1.5 GiB for MLA models ("MLA backend overhead is much higher than
/// expected with fa3", same file).
pub const MLA_PREFILL_GRAPH_MIB: u64 = 1536;
/// SGLang reserves 1.5 MB of activation memory per token of the prefill chunk
/// (`chunked_prefill_size * 1.5`, sglang 0.5.23 srt/arg_groups/memory_hook.py) ...
pub const RESERVE_MIB_PER_CHUNK_TOKEN: f64 = 1.5;
/// ... for a chunk of at least 2048 tokens (`max(chunked_prefill_size, 2048)`, same file).
pub const RESERVE_MIN_CHUNK_TOKENS: u32 = 2048;
/// ... plus `tp × pp / 8` GiB for the parallel group: 128 MiB per tensor-parallel rank
/// (pp is 1 here; same file).
pub const RESERVE_MIB_PER_TP_RANK: f64 = 128.0;
/// ... and never less than 10 GiB in all on a GPU above [`RESERVE_FLOOR_ABOVE_MIB`]
/// (same file).
pub const RESERVE_FLOOR_MIB: f64 = 10_240.0;
/// The GPU size above which the reserve floor applies: 60 GiB (same file).
pub const RESERVE_FLOOR_ABOVE_MIB: u64 = 60 * 1024;
/// Logits are materialised in FP32 after the vocab-parallel gather (LogitsProcessor).
pub const LOGIT_BYTES: u64 = 4;
/// Activations are held in the model's 16-bit dtype.
pub const ACTIVATION_BYTES: u64 = 2;

/// What SGLang's memory heuristic looks at (sglang 0.5.23 srt/arg_groups/memory_hook.py,
/// `handle_gpu_memory_settings`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SglangDefaultsInput {
    /// `nvidia-smi --query-gpu=memory.total` (the smallest GPU's), MiB.
    pub gpu_memory_mib: u64,
    pub tp: u32,
    /// `--max-running-requests`, which caps the decode CUDA-graph batch when given.
    pub max_running_requests: Option<u32>,
    /// Multi-head latent attention (DeepSeek V2/V3 style): a flat prefill-graph reserve.
    pub mla: bool,
}

/// SGLang's defaults for a GPU size, TP size and request limit, as its
/// `handle_gpu_memory_settings` computes them when neither `--chunked-prefill-size`,
/// `--cuda-graph-max-bs-decode` nor `--mem-fraction-static` is passed.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SglangDefaults {
    pub chunked_prefill_size: u32,
    /// Largest decode batch captured in a CUDA graph (`--cuda-graph-max-bs-decode`).
    pub cuda_graph_max_bs: u32,
    /// Prefill CUDA-graph token buckets captured up to the chunk size.
    pub prefill_graph_buckets: u32,
    /// Memory SGLang keeps out of its static pool, MiB.
    pub reserved_mib: f64,
    /// `--mem-fraction-static`: share of memory for weights plus the KV pool.
    pub mem_fraction_static: f64,
}

/// Token counts SGLang captures prefill CUDA graphs for, up to `max_tokens`
/// (`generate_prefill_cuda_graph_batch_sizes`, sglang 0.5.23 srt/arg_groups/cuda_graph_hook.py).
pub fn prefill_graph_bucket_count(max_tokens: u32) -> u32 {
    let steps: [(u32, u32, u32); 6] = [
        (4, 32, 4),
        (48, 256, 16),
        (288, 512, 32),
        (576, 1024, 64),
        (1280, 4096, 256),
        (4608, u32::MAX, 512),
    ];
    steps
        .iter()
        .map(|&(from, to, step)| {
            let last = to.min(max_tokens);
            if last < from {
                0
            } else {
                (last - from) / step + 1
            }
        })
        .sum()
}

pub fn sglang_defaults(input: SglangDefaultsInput) -> SglangDefaults {
    let SglangDefaultsInput {
        gpu_memory_mib,
        tp,
        max_running_requests,
        mla,
    } = input;
    let gib = |n: u64| n * 1024;
    let small_tp = tp < 4;
    // The brackets of sglang 0.5.23 srt/arg_groups/memory_hook.py (60–90 and 90–160 GiB
    // share their values there).
    let (chunked_prefill_size, default_max_bs) = if gpu_memory_mib < gib(20) {
        (2048, 8) // T4, 4080
    } else if gpu_memory_mib < gib(35) {
        (4096, if small_tp { 48 } else { 160 }) // A10, 4090, 5090
    } else if gpu_memory_mib < gib(60) {
        (4096, if small_tp { 32 } else { 160 }) // A100 40 GB, A6000, L40
    } else if gpu_memory_mib < gib(160) {
        (8192, if small_tp { 256 } else { 512 }) // A100 80 GB, H100, GH200, H200
    } else {
        (16384, 512) // B200
    };
    // The default decode graph batch is capped by --max-running-requests (same file).
    let cuda_graph_max_bs = max_running_requests.map_or(default_max_bs, |n| default_max_bs.min(n));
    // Prefill graphs capture up to the chunk size; MLA caps them at 8192 tokens.
    let prefill_graph_max = if mla {
        chunked_prefill_size.min(8192)
    } else {
        chunked_prefill_size
    };
    let prefill_graph_buckets = prefill_graph_bucket_count(prefill_graph_max);
    // `reserve_for_graph_mb`: decode graphs, then prefill graphs (same file).
    let graph_mib = f64::from(cuda_graph_max_bs) * CUDA_GRAPH_MIB_PER_BATCH as f64
        + if mla {
            MLA_PREFILL_GRAPH_MIB as f64
        } else {
            f64::from(prefill_graph_buckets) * PREFILL_GRAPH_MIB_PER_BUCKET as f64
        };
    // 512 MB of constant meta data, 1.5 MB per activation token (at least 2048 tokens),
    // tp × pp / 8 GiB for large parallel sizes (pp is 1 here), the graphs; at least
    // 10 GiB on GPUs above 60 GiB.
    let mut reserved_mib = CUDA_CONTEXT_MIB as f64
        + f64::from(chunked_prefill_size.max(RESERVE_MIN_CHUNK_TOKENS))
            * RESERVE_MIB_PER_CHUNK_TOKEN
        + f64::from(tp) * RESERVE_MIB_PER_TP_RANK
        + graph_mib;
    if gpu_memory_mib > RESERVE_FLOOR_ABOVE_MIB {
        reserved_mib = reserved_mib.max(RESERVE_FLOOR_MIB);
    }
    let total = gpu_memory_mib as f64;
    let mem_fraction_static = (((total - reserved_mib) / total) * 1000.0).round() / 1000.0;
    SglangDefaults {
        chunked_prefill_size,
        cuda_graph_max_bs,
        prefill_graph_buckets,
        reserved_mib,
        mem_fraction_static,
    }
}

/// The attention backend SGLang picks by default for an MHA model
/// (`get_default_attn_backend`, sglang 0.5.23 srt/arg_groups/model_override_base.py).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AttentionBackend {
    /// FlashAttention 3 on Hopper (sm90).
    Fa3,
    /// TensorRT-LLM MHA on Blackwell (sm100).
    TrtllmMha,
    /// FlashInfer everywhere else (Ampere, Ada).
    Flashinfer,
    /// Triton: what fa3 falls back to with an `fp8_e5m2` KV cache.
    Triton,
}

impl AttentionBackend {
    /// The backend for a GPU of `compute_capability` (× 10) and a KV-cache dtype.
    pub fn default_for(compute_capability: u32, kv_dtype: KvDtype) -> AttentionBackend {
        match compute_capability {
            // "FlashAttention3 only supports fp8_e4m3 if using FP8; Setting attention
            // backend to triton" (sglang 0.5.23 srt/arg_groups/overrides.py).
            90 if kv_dtype == KvDtype::Fp8E5m2 => AttentionBackend::Triton,
            90 => AttentionBackend::Fa3,
            100 => AttentionBackend::TrtllmMha,
            _ => AttentionBackend::Flashinfer,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AttentionBackend::Fa3 => "fa3",
            AttentionBackend::TrtllmMha => "trtllm_mha",
            AttentionBackend::Flashinfer => "flashinfer",
            AttentionBackend::Triton => "triton",
        }
    }

    /// The workspace the backend allocates once per process, MiB. fa3 and triton keep
    /// only small metadata buffers (sglang 0.5.23 srt/layers/attention/flashattention_backend.py,
    /// triton_backend.py).
    pub fn workspace_mib(self, family: ModelFamily) -> u64 {
        let flashinfer = match family {
            ModelFamily::Qwen => FLASHINFER_QWEN_WORKSPACE_MIB,
            ModelFamily::Other => FLASHINFER_WORKSPACE_MIB,
        };
        match self {
            AttentionBackend::Fa3 | AttentionBackend::Triton => 0,
            AttentionBackend::Flashinfer => flashinfer,
            AttentionBackend::TrtllmMha => TRTLLM_MHA_WORKSPACE_MIB + flashinfer,
        }
    }
}

/// The one model trait outside the shape that SGLang's memory use depends on here:
/// FlashInfer's larger workspace for the Qwen2/Qwen3 families.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelFamily {
    /// `Qwen2ForCausalLM`, `Qwen3ForCausalLM`, `MiMoForCausalLM`, Qwen3-VL.
    Qwen,
    Other,
}

impl ModelFamily {
    /// Judged from the Hugging Face repository name, since the architecture we keep has
    /// no `architectures` field: any repo naming Qwen, QwQ or MiMo counts (Qwen2.5, QwQ
    /// and the DeepSeek-R1 Qwen distills are all `Qwen2ForCausalLM`). A wrong guess costs
    /// 128 MiB of reserve, in the safe direction for every Qwen-named repo.
    pub fn of_checkpoint(hf_path: &str) -> ModelFamily {
        let name = hf_path
            .rsplit('/')
            .next()
            .unwrap_or(hf_path)
            .to_ascii_lowercase();
        if ["qwen", "qwq", "mimo"].iter().any(|k| name.contains(k)) {
            ModelFamily::Qwen
        } else {
            ModelFamily::Other
        }
    }
}

/// The `--kv-cache-dtype` a plan passes for a requested one: FP8 KV on Hopper is always
/// `fp8_e4m3`, because `fp8_e5m2` silently moves attention from fa3 to triton there
/// (sglang 0.5.23 srt/arg_groups/overrides.py). Both are one byte, so sizes do not change.
pub fn sglang_kv_dtype(requested: KvDtype, compute_capability: u32) -> KvDtype {
    if requested == KvDtype::Fp8E5m2 && compute_capability == 90 {
        KvDtype::Fp8E4m3
    } else {
        requested
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
    /// Attention-backend, cuBLAS and (TP > 1) NCCL workspaces.
    pub workspaces: u64,
    /// Decode and prefill CUDA graphs, as SGLang reserves them.
    pub cuda_graphs: u64,
    /// KV bytes one token costs on each GPU.
    pub kv_bytes_per_token: u64,
    /// Tokens of KV cache held: context × concurrent sequences.
    pub tokens: u64,
    pub kv_heads_per_gpu: u32,
    /// The KV cache per attention kind (`kv_bytes_per_token` is its `bytes_per_token`).
    pub kv_layout: KvLayout,
    /// The attention backend SGLang picks on this GPU, which decides the workspace.
    pub attention_backend: AttentionBackend,
    /// Free memory when SGLang takes its baseline, after the CUDA context and NCCL
    /// (`pre_model_load_memory`): `--mem-fraction-static` is a share of this, not of the
    /// GPU's total (sglang 0.5.23 srt/mem_cache/kv_cache_configurator.py).
    pub pre_model_load_free: u64,
    /// Most memory in use while the weights load: online FP8 (`--quantization fp8` on a
    /// 16-bit checkpoint) builds the model in 16 bit on the GPU and quantizes afterwards
    /// (sglang 0.5.23 srt/model_loader/loader.py, srt/layers/quantization/fp8.py).
    pub load_peak: u64,
    /// SGLang's defaults for this GPU size, which decided chunk and graph sizes.
    pub sglang: SglangDefaults,
}

impl ServingEstimate {
    /// Everything held on one GPU.
    pub fn total(&self) -> u64 {
        // Saturating: the widest shapes inside the bounds hold more KV than u64 counts
        // (tests/shape_bounds.rs); a saturated total is simply "does not fit".
        self.weights
            .saturating_add(self.kv_cache)
            .saturating_add(self.overhead())
            .saturating_add(self.activations)
    }

    /// CUDA context, workspaces and CUDA graphs.
    pub fn overhead(&self) -> u64 {
        self.cuda_context + self.workspaces + self.cuda_graphs
    }

    /// What SGLang allocates after its baseline but outside the static pool
    /// (attention workspace, cuBLAS, CUDA graphs, activations): it must fit in the
    /// `1 - mem_fraction_static` share of `pre_model_load_free`.
    pub fn outside_static_pool(&self) -> u64 {
        let before_baseline = self.cuda_context + nccl_buffers(self.tp);
        (self.overhead() + self.activations).saturating_sub(before_baseline)
    }

    /// Tokens the KV pool holds at `fraction`: SGLang's `rest_memory`,
    /// free-after-weights − pre_model_load_free × (1 − fraction), which is
    /// pre_model_load_free × fraction − weights (sglang 0.5.23
    /// srt/mem_cache/kv_cache_configurator.py, `_profile_available_bytes`).
    pub fn kv_pool_tokens_at(&self, fraction: f64) -> u64 {
        let pool = (self.pre_model_load_free as f64 * fraction) as u64;
        pool.saturating_sub(self.weights) / self.kv_bytes_per_token.max(1)
    }
}

fn nccl_buffers(tp: u32) -> u64 {
    if tp > 1 {
        NCCL_BUFFERS_MIB * MIB
    } else {
        0
    }
}

/// Inputs of the serving estimate.
#[derive(Debug, Clone, Copy)]
pub struct ServingInput<'a> {
    pub arch: &'a Architecture,
    pub quantization: Quantization,
    pub kv_dtype: KvDtype,
    pub context: u32,
    /// Concurrent sequences, which the plan also passes as `--max-running-requests`.
    pub seqs: u32,
    pub tp: u32,
    pub gpu_memory_mib: u64,
    /// CUDA compute capability × 10, which decides the attention backend.
    pub compute_capability: u32,
    pub family: ModelFamily,
}

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
        self.full_bytes_per_token
            .saturating_mul(context)
            .saturating_add(
                self.swa_bytes_per_token
                    .saturating_mul(context.min(u64::from(self.swa_window))),
            )
            .saturating_add(self.state_bytes_per_seq)
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
        compute_capability,
        family,
    } = input;
    let tp = tp.max(1);
    let sglang = sglang_defaults(SglangDefaultsInput {
        gpu_memory_mib,
        tp,
        max_running_requests: Some(seqs.max(1)),
        mla: arch.mla.is_some(),
    });
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

    let attention_backend = AttentionBackend::default_for(compute_capability, kv_dtype);
    let cuda_context = CUDA_CONTEXT_MIB * MIB;
    let nccl = nccl_buffers(tp);
    let memory = gpu_memory_mib * MIB;
    let weights = weights_per_gpu(arch, quantization, tp);
    // Online FP8 holds the 16-bit checkpoint's weights before quantizing them.
    let weights_while_loading = if quantization == Quantization::Fp8 {
        weights_per_gpu(arch, Quantization::Bf16, tp)
    } else {
        weights
    };
    ServingEstimate {
        tp,
        weights,
        // Saturating: 1,024 KV heads × 1,024 head dim × 1,000 layers × 16 M tokens × 512
        // sequences is inside the bounds and past u64 (tests/shape_bounds.rs).
        kv_cache: kv_bytes_per_token.saturating_mul(tokens).saturating_add(
            kv.state_bytes_per_seq
                .saturating_mul(u64::from(seqs.max(1))),
        ),
        activations,
        cuda_context,
        workspaces: (attention_backend.workspace_mib(family) + CUBLAS_WORKSPACE_MIB) * MIB + nccl,
        cuda_graphs: (u64::from(sglang.cuda_graph_max_bs) * CUDA_GRAPH_MIB_PER_BATCH
            + u64::from(sglang.prefill_graph_buckets) * PREFILL_GRAPH_MIB_PER_BUCKET)
            * MIB,
        kv_bytes_per_token,
        tokens,
        kv_heads_per_gpu,
        kv_layout: kv,
        attention_backend,
        pre_model_load_free: memory.saturating_sub(cuda_context + nccl),
        load_peak: weights_while_loading + cuda_context + nccl,
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

    fn defaults(gpu_memory_mib: u64, tp: u32, max_running_requests: Option<u32>) -> SglangDefaults {
        sglang_defaults(SglangDefaultsInput {
            gpu_memory_mib,
            tp,
            max_running_requests,
            mla: false,
        })
    }

    #[test]
    fn prefill_graph_buckets_follow_sglangs_capture_list() {
        // 8 + 14 + 8 + 8 buckets up to 1024 tokens, 256-token steps to 4096, then 512.
        assert_eq!(prefill_graph_bucket_count(1024), 38);
        assert_eq!(prefill_graph_bucket_count(2048), 42); // 336 MiB, the low end
        assert_eq!(prefill_graph_bucket_count(4096), 50);
        assert_eq!(prefill_graph_bucket_count(8192), 58);
        assert_eq!(prefill_graph_bucket_count(16384), 74); // 592 MiB, the high end
        assert_eq!(prefill_graph_bucket_count(3), 0);
    }

    #[test]
    fn a10_defaults_match_sglang_0_5_23() {
        // 20–35 GiB bracket: 4096-token chunk, decode graphs to 48 at TP < 4.
        let a10 = defaults(23_028, 1, None);
        assert_eq!(
            (
                a10.chunked_prefill_size,
                a10.cuda_graph_max_bs,
                a10.prefill_graph_buckets
            ),
            (4096, 48, 50)
        );
        // 512 + 4096 × 1.5 + 1/8 × 1024 + 48 × 2 + 50 × 8 = 7280 MiB: about 7 GB, where
        // the old rule (2048 chunk, 24 graphs, no prefill graphs) reserved 3760.
        assert_eq!(a10.reserved_mib, 7280.0);
        assert_eq!(a10.mem_fraction_static, 0.684);
        // --max-running-requests 1 caps the decode graphs at one: 7186 MiB.
        let one = defaults(23_028, 1, Some(1));
        assert_eq!(one.cuda_graph_max_bs, 1);
        assert_eq!(one.reserved_mib, 7186.0);
        assert_eq!(one.mem_fraction_static, 0.688);
        // A limit above the default leaves it alone.
        assert_eq!(defaults(23_028, 1, Some(500)).cuda_graph_max_bs, 48);
        // TP 4 on a 24 GB card captures to 160.
        assert_eq!(defaults(23_028, 4, None).cuda_graph_max_bs, 160);
    }

    #[test]
    fn h100_and_b200_defaults_match_sglang_0_5_23() {
        // H100 80 GB: 512 + 12288 + 128 + 256 × 2 + 58 × 8 = 13904 MiB, above the 10 GiB floor.
        let h100 = defaults(81_559, 1, None);
        assert_eq!(
            (h100.chunked_prefill_size, h100.cuda_graph_max_bs),
            (8192, 256)
        );
        assert_eq!(h100.reserved_mib, 13_904.0);
        assert_eq!(h100.mem_fraction_static, 0.83);
        // 8x H100: graphs to 512 and a whole GiB of TP slack.
        let h100x8 = defaults(81_559, 8, None);
        assert_eq!(h100x8.cuda_graph_max_bs, 512);
        assert_eq!(
            h100x8.reserved_mib,
            512.0 + 12_288.0 + 1024.0 + 1024.0 + 464.0
        );
        // GH200's 96 GB sits in the 90–160 GiB bracket, with the same sizes.
        let gh200 = defaults(97_871, 1, None);
        assert_eq!(
            (gh200.chunked_prefill_size, gh200.cuda_graph_max_bs),
            (8192, 256)
        );
        // B200 (>= 160 GiB): 16384-token chunk, 512 graphs at any TP, 74 prefill buckets:
        // 512 + 24576 + 1024 + 1024 + 592 = 27728 MiB.
        let b200 = defaults(183_359, 8, None);
        assert_eq!(
            (b200.chunked_prefill_size, b200.cuda_graph_max_bs),
            (16384, 512)
        );
        assert_eq!(b200.reserved_mib, 27_728.0);
        assert_eq!(b200.mem_fraction_static, 0.849);
        assert_eq!(defaults(183_359, 1, None).cuda_graph_max_bs, 512);
    }

    #[test]
    fn the_ten_gib_floor_applies_only_above_60_gib() {
        // A100 80 GB at --max-running-requests 1: 512 + 12288 + 128 + 2 + 464 = 13394.
        assert_eq!(defaults(81_920, 1, Some(1)).reserved_mib, 13_394.0);
        // A 16 GB card keeps its small reserve: 512 + 3072 + 128 + 8 × 2 + 42 × 8.
        let t4 = defaults(15_360, 1, None);
        assert_eq!((t4.chunked_prefill_size, t4.cuda_graph_max_bs), (2048, 8));
        assert_eq!(t4.reserved_mib, 4064.0);
        // A100 40 GB at TP 8: graphs to 160, no floor below 60 GiB.
        let a100 = defaults(40_960, 8, None);
        assert_eq!(a100.cuda_graph_max_bs, 160);
        assert_eq!(a100.reserved_mib, 512.0 + 6144.0 + 1024.0 + 320.0 + 400.0);
    }

    #[test]
    fn mla_models_reserve_a_flat_prefill_graph_budget() {
        let mla = sglang_defaults(SglangDefaultsInput {
            gpu_memory_mib: 183_359,
            tp: 8,
            max_running_requests: None,
            mla: true,
        });
        // Prefill graphs capped at 8192 tokens (58 buckets), reserved as 1.5 GiB.
        assert_eq!(mla.prefill_graph_buckets, 58);
        assert_eq!(
            mla.reserved_mib,
            512.0 + 24_576.0 + 1024.0 + 1024.0 + 1536.0
        );
    }

    #[test]
    fn attention_backend_and_workspace_follow_the_gpu_generation() {
        use AttentionBackend::*;
        assert_eq!(AttentionBackend::default_for(90, KvDtype::Auto), Fa3);
        assert_eq!(AttentionBackend::default_for(90, KvDtype::Fp8E4m3), Fa3);
        assert_eq!(AttentionBackend::default_for(90, KvDtype::Fp8E5m2), Triton);
        assert_eq!(AttentionBackend::default_for(100, KvDtype::Auto), TrtllmMha);
        assert_eq!(
            AttentionBackend::default_for(86, KvDtype::Fp8E5m2),
            Flashinfer
        );
        assert_eq!(AttentionBackend::default_for(80, KvDtype::Auto), Flashinfer);
        assert_eq!(Fa3.workspace_mib(ModelFamily::Qwen), 0);
        assert_eq!(Flashinfer.workspace_mib(ModelFamily::Other), 384);
        assert_eq!(Flashinfer.workspace_mib(ModelFamily::Qwen), 512);
        // About 900 MiB on Blackwell: its own 512 plus the FlashInfer buffer.
        assert_eq!(TrtllmMha.workspace_mib(ModelFamily::Other), 896);
        assert_eq!(
            ModelFamily::of_checkpoint("Qwen/Qwen2.5-Coder-32B-Instruct-AWQ"),
            ModelFamily::Qwen
        );
        assert_eq!(
            ModelFamily::of_checkpoint("deepseek-ai/DeepSeek-R1-Distill-Qwen-32B"),
            ModelFamily::Qwen
        );
        assert_eq!(
            ModelFamily::of_checkpoint("meta-llama/Llama-3.1-8B-Instruct"),
            ModelFamily::Other
        );
        // FP8 KV on Hopper is always e4m3, elsewhere as asked.
        assert_eq!(sglang_kv_dtype(KvDtype::Fp8E5m2, 90), KvDtype::Fp8E4m3);
        assert_eq!(sglang_kv_dtype(KvDtype::Fp8E5m2, 80), KvDtype::Fp8E5m2);
        assert_eq!(sglang_kv_dtype(KvDtype::Auto, 90), KvDtype::Auto);
    }

    fn on(
        a: &Architecture,
        quantization: Quantization,
        tp: u32,
        gpu_memory_mib: u64,
        compute_capability: u32,
    ) -> ServingEstimate {
        serving_estimate(ServingInput {
            arch: a,
            quantization,
            kv_dtype: KvDtype::Auto,
            context: 8192,
            seqs: 1,
            tp,
            gpu_memory_mib,
            compute_capability,
            family: ModelFamily::Other,
        })
    }

    #[test]
    fn the_pool_is_a_share_of_free_memory_after_context_and_nccl() {
        let a = arch("llama-3.1-8b");
        let a10 = on(&a, Quantization::Bf16, 1, 23_028, 86);
        assert_eq!(a10.pre_model_load_free, (23_028 - 512) * MIB);
        let f = a10.sglang.mem_fraction_static;
        let tokens = a10.kv_pool_tokens_at(f);
        let from_total = ((23_028 * MIB) as f64 * f) as u64 - a10.weights;
        // Sizing from total memory would promise f × 512 MiB more: about 0.34 GiB here.
        let over = from_total - tokens * a10.kv_bytes_per_token;
        assert!((340 * MIB..360 * MIB).contains(&over), "{}", over / MIB);
        // At TP > 1 NCCL's buffers come out of the baseline too.
        let h100x8 = on(&a, Quantization::Bf16, 8, 81_559, 90);
        assert_eq!(h100x8.pre_model_load_free, (81_559 - 512 - 160) * MIB);
        // What lives outside the pool excludes what was there before the baseline.
        assert_eq!(
            h100x8.outside_static_pool(),
            h100x8.activations + h100x8.cuda_graphs + CUBLAS_WORKSPACE_MIB * MIB
        );
    }

    #[test]
    fn workspaces_and_graphs_follow_the_backend_and_sglangs_reserve() {
        let a = arch("llama-3.1-8b");
        let a10 = on(&a, Quantization::Bf16, 1, 23_028, 86);
        assert_eq!(a10.attention_backend, AttentionBackend::Flashinfer);
        assert_eq!(a10.workspaces, (384 + 32) * MIB);
        // One running request: one decode graph (2 MiB) plus 50 prefill buckets (400 MiB).
        assert_eq!(a10.cuda_graphs, 402 * MIB);
        assert_eq!(a10.sglang.chunked_prefill_size, 4096);
        let h100 = on(&a, Quantization::Bf16, 1, 81_559, 90);
        assert_eq!(h100.attention_backend, AttentionBackend::Fa3);
        assert_eq!(h100.workspaces, 32 * MIB);
        let b200 = on(&a, Quantization::Bf16, 8, 183_359, 100);
        assert_eq!(b200.attention_backend, AttentionBackend::TrtllmMha);
        assert_eq!(b200.workspaces, (896 + 32 + 160) * MIB);
    }

    #[test]
    fn online_fp8_loads_the_sixteen_bit_weights_first() {
        let a = arch("llama-3.1-70b");
        let fp8 = on(&a, Quantization::Fp8, 1, 81_559, 90);
        let bf16 = weights_per_gpu(&a, Quantization::Bf16, 1);
        assert!(fp8.weights < bf16 * 6 / 10);
        assert_eq!(fp8.load_peak, bf16 + 512 * MIB);
        // 131 GiB of BF16 cannot even load on an 80 GB card, though 70 GiB of FP8 would sit.
        assert!(fp8.load_peak > 81_559 * MIB && fp8.weights < 81_559 * MIB);
        let int4 = on(&a, Quantization::Int4, 1, 81_559, 90);
        assert_eq!(int4.load_peak, int4.weights + 512 * MIB);
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
        let input = |tp| on(&a, Quantization::Bf16, tp, 81_920, 80);
        assert_eq!(input(1).kv_bytes_per_token, 327_680); // 2×80×8×128×2
        assert_eq!(input(8).kv_bytes_per_token, 40_960);
        // 16 GPUs would still hold one KV head each.
        assert_eq!(input(16).kv_heads_per_gpu, 1);
    }

    #[test]
    fn kv_heads_per_gpu_are_floored_not_rounded_up() {
        // 8 KV heads over TP 3 (not a Lambda size, but SGLang's rule): floor(8/3) = 2,
        // where rounding up would have said 3.
        let a = arch("llama-3.1-8b");
        assert_eq!(
            on(&a, Quantization::Bf16, 3, 81_920, 80).kv_heads_per_gpu,
            2
        );
        let odd = Architecture {
            heads: 40,
            kv_heads: 5,
            ..a
        };
        assert_eq!(
            on(&odd, Quantization::Bf16, 2, 81_920, 80).kv_heads_per_gpu,
            2
        );
        assert_eq!(
            on(&odd, Quantization::Bf16, 8, 81_920, 80).kv_heads_per_gpu,
            1
        );
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
                compute_capability: 80,
                family: ModelFamily::Qwen,
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
