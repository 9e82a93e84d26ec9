//! Serving speed for a workload: TTFT, TPOT, throughput and $ per million tokens, from
//! the bytes a decode step reads, the FLOPs a prefill computes, and how SGLang 0.5.23
//! schedules the two.
//!
//! The model, per GPU of a tensor-parallel group:
//! - a prefill pass over `n` tokens takes max(weights read / bandwidth, FLOPs / achievable
//!   FLOPS) + per-pass overhead + a fixed cost per layer (prefill runs without CUDA
//!   graphs) + TP all-reduce; prompts longer than SGLang's `chunked_prefill_size` take
//!   several passes, and short prompts share one pass with those waiting with them;
//! - a decode step for `b` running requests takes max(memory time, compute time) +
//!   overhead + fixed costs per layer and per request + all-reduce, where memory is the
//!   dense weights, the routed experts the batch touches, and the KV of the `b` requests
//!   at their average length;
//! - SGLang runs waiting prefills before decode steps (`get_next_batch_to_run` in
//!   srt/managers/scheduler.py: a new prefill batch first, else the running decode batch;
//!   mixed chunks are off by default, `--enable-mixed-chunk`), so every running request's
//!   decode waits out the other requests' prefills once per lifetime, and requests that
//!   arrive together (an offline batch) wait for the prefills ahead of their own;
//! - the free constants ([`Calibration`]) are fitted once against published
//!   measurements (`examples/fit_speed.rs`).

use crate::arch::Architecture;
use crate::gpu::GpuType;
use crate::quant::Quantization;
use crate::serving::{embedding_bytes_per_gpu, expert_weights_per_gpu, KvLayout, ServingEstimate};
use crate::validate::FieldError;
use serde::{Deserialize, Serialize};

/// The speed model's few free constants, fitted together (see [`CALIBRATION`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Calibration {
    /// Share of datasheet memory bandwidth a pass achieves reading weights and KV.
    pub bandwidth_efficiency: f64,
    /// Share of datasheet tensor FLOPS a prefill pass achieves.
    pub prefill_mfu: f64,
    /// Share of datasheet tensor FLOPS a large decode batch achieves (the fit ties it
    /// to `prefill_mfu`: a batch of hundreds of tokens runs the same GEMM kernels).
    pub decode_mfu: f64,
    /// Fixed cost of one forward pass whatever the model: scheduler, sampling, the
    /// launch of the CUDA graph, in seconds.
    pub step_overhead_s: f64,
    /// Fixed cost per layer of one decode step, seconds: a CUDA-graph replay still runs
    /// each layer's dozen small kernels (norms, RoPE, routing, the MoE gather) at a few
    /// microseconds each whatever the batch, which bandwidth alone does not see.
    pub layer_overhead_s: f64,
    /// Fixed cost per layer of one prefill pass, seconds: SGLang captures CUDA graphs
    /// for decode batches only (`--cuda-graph-max-bs`), so prefill launches every
    /// layer's kernels from Python, eagerly.
    pub prefill_layer_overhead_s: f64,
    /// Cost per running request of one decode step, seconds: the scheduler's
    /// per-request bookkeeping, sampling and detokenization grow with the batch.
    pub request_overhead_s: f64,
}

/// The calibration, fitted ONCE for all rows together by `examples/fit_speed.rs`
/// (`cargo run -p gpu-session-core --example fit_speed --release`): every SGLang and
/// vLLM row of `tests/fixtures/speed-measurements.yaml` whose GPU is a Lambda type of
/// the catalog and which the model can express (45 rows; TensorRT-LLM rows and GPUs
/// outside the catalog are not used), never per row. Objective: the sum over TTFT, TPOT
/// and output tokens/s of the median |ln(predicted / measured)|, by coordinate search
/// from 24 spread starting points, within physical bounds: at most 0.9 of datasheet
/// bandwidth and 0.75 of dense tensor peak (about what memory-copy and large-GEMM
/// kernels reach), at most 2.3 ms of fixed cost per step (the table's fastest TPOT,
/// gpt-oss-120b on 8×B200 at one request, is 2.31 ms). `decode_mfu` is tied to
/// `prefill_mfu`. Resulting median absolute errors: TTFT 43 %, TPOT 32 %, output
/// tokens/s 22 % (goals 30 %, 20 %, 20 %: not met; the rows that miss and why are in
/// `tests/book/speed_accuracy.rs` and the manual's accuracy chapter).
pub const CALIBRATION: Calibration = Calibration {
    bandwidth_efficiency: 0.863,
    prefill_mfu: 0.513,
    decode_mfu: 0.513,
    step_overhead_s: 1.82e-3,
    layer_overhead_s: 69e-6,
    prefill_layer_overhead_s: 1.36e-3,
    request_overhead_s: 50e-6,
};

/// Latency of one small all-reduce between GPUs of an NVLink board (SGLang's custom
/// all-reduce kernel, ~5–10 µs for decode-sized messages); each layer does two.
pub const ALLREDUCE_LATENCY_S: f64 = 8e-6;
/// Latency of an all-reduce over PCIe through NCCL (host-bridged rings: tens of µs,
/// NCCL's own tests on PCIe boards show ~20–30 µs for small messages).
pub const PCIE_ALLREDUCE_LATENCY_S: f64 = 25e-6;
/// PCIe 4.0 x16: 32 GB/s per direction (PCI-SIG), the link between GPUs without NVLink.
pub const PCIE_BYTES_PER_S: f64 = 32e9;
/// Activations cross the all-reduce in the model's 16-bit dtype.
const ACTIVATION_BYTES: f64 = 2.0;

/// Tokens per request and how many requests are in flight.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Workload {
    /// Prompt tokens per request.
    pub input_tokens: u32,
    /// Generated tokens per request.
    pub output_tokens: u32,
    pub load: Load,
}

/// How busy the server is: a fixed number of requests in flight (a benchmark's
/// `--max-concurrency`, or users each waiting for their answer), or an arrival rate.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Load {
    Concurrent(u32),
    /// Requests per second arriving; the concurrency follows by Little's law.
    Rate(f64),
}

/// Defaults when the user names no workload: 1,000 prompt tokens and 1,000 output
/// tokens, the "1k/1k" shape of SGLang's and vLLM's published serving benchmarks.
pub const DEFAULT_INPUT_TOKENS: u32 = 1000;
pub const DEFAULT_OUTPUT_TOKENS: u32 = 1000;
/// Longest prompt or output a workload may name (tokens): the longest context any
/// model here supports.
pub const MAX_WORKLOAD_TOKENS: u32 = 1 << 21;
/// Highest request rate a workload may name, requests per second.
pub const MAX_RATE: f64 = 1e6;

impl Workload {
    /// `concurrent` requests of the default 1k/1k shape.
    pub fn concurrent(concurrent: u32) -> Workload {
        Workload {
            input_tokens: DEFAULT_INPUT_TOKENS,
            output_tokens: DEFAULT_OUTPUT_TOKENS,
            load: Load::Concurrent(concurrent),
        }
    }

    /// Check every field; the error names it (`input_tokens`, `output_tokens`,
    /// `concurrency`, `rate`).
    pub fn validate(&self) -> Result<(), FieldError> {
        let tokens = |field: &str, v: u32| {
            if (1..=MAX_WORKLOAD_TOKENS).contains(&v) {
                Ok(())
            } else {
                Err(FieldError::new(
                    field,
                    v,
                    format!("must be between 1 and {MAX_WORKLOAD_TOKENS}"),
                ))
            }
        };
        tokens("input_tokens", self.input_tokens)?;
        tokens("output_tokens", self.output_tokens)?;
        match self.load {
            Load::Concurrent(c) if !(1..=crate::settings::MAX_SEQS).contains(&c) => {
                Err(FieldError::new(
                    "concurrency",
                    c,
                    format!("must be between 1 and {}", crate::settings::MAX_SEQS),
                ))
            }
            Load::Rate(r) if !(r.is_finite() && r > 0.0 && r <= MAX_RATE) => Err(FieldError::new(
                "rate",
                crate::decimal::shortest(r),
                format!(
                    "must be above 0 and at most {}",
                    crate::decimal::Fixed::<0>(MAX_RATE)
                ),
            )),
            _ => Ok(()),
        }
    }

    /// "32 concurrent 1k/1k" or "2.5 req/s 1k/1k": what the speed columns are at.
    pub fn basis(&self) -> String {
        let k = |t: u32| {
            if t >= 1000 && t.is_multiple_of(1000) {
                format!("{}k", t / 1000)
            } else {
                t.to_string()
            }
        };
        let shape = format!("{}/{}", k(self.input_tokens), k(self.output_tokens));
        match self.load {
            Load::Concurrent(c) => format!("{c} concurrent {shape}"),
            Load::Rate(r) => format!("{} req/s {shape}", crate::decimal::shortest(r)),
        }
    }

    /// Average tokens a running request holds: its prompt plus half its output.
    fn average_context(&self) -> f64 {
        f64::from(self.input_tokens) + f64::from(self.output_tokens) / 2.0
    }
}

/// What one GPU of the group computes and reads, independent of the workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hardware {
    /// GPUs in the tensor-parallel group.
    pub tp: u32,
    /// Peak memory bandwidth per GPU, bytes/s (datasheet).
    pub bandwidth: f64,
    /// Dense tensor FLOPS per GPU for the weights' compute dtype (datasheet).
    pub peak_flops: f64,
    /// Link bandwidth between the GPUs for all-reduce, bytes/s per direction.
    pub link_bytes_per_s: f64,
    /// Latency of one all-reduce, seconds.
    pub allreduce_latency_s: f64,
    /// Instance price, US dollars per hour.
    pub price_per_hour_usd: f64,
}

/// The model as one GPU of the group sees it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ModelShard {
    /// Weight bytes every pass reads whole: all but the routed experts and the
    /// embedding table (of which a token reads one row).
    pub dense_bytes: f64,
    /// Routed-expert bytes on this GPU (0 for a dense model).
    pub expert_bytes: f64,
    /// (experts per token, experts) of an MoE model.
    pub routing: Option<(u32, u32)>,
    /// Linear-layer FLOPs per token on this GPU: 2 × active parameters / TP.
    pub flops_per_token: f64,
    /// Attention FLOPs per token per context token on this GPU (QKᵀ and AV).
    pub attention_flops_per_context: f64,
    /// Layers whose attention spans the whole context; the others look back
    /// `window` tokens at most.
    pub full_attention_share: f64,
    pub window: u32,
    /// The KV layout on this GPU.
    pub kv: KvLayout,
    /// Bytes one token's activations take in each all-reduce (hidden × 2).
    pub allreduce_bytes_per_token: f64,
    /// All-reduces per forward pass (two per layer: after attention and after the MLP).
    pub allreduces_per_pass: u32,
    /// SGLang's `chunked_prefill_size` on this GPU.
    pub chunk_tokens: u32,
    /// Layers of the model (each costs a fixed time per pass, see [`Calibration`]).
    pub layers: u32,
    /// Requests the KV pool can hold at once at the workload's average length.
    pub pool_tokens: u64,
}

/// TTFT, TPOT and throughput of one instance (one replica) for a workload.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Speed {
    /// Requests in the system (running plus waiting).
    pub concurrency: f64,
    /// Requests decoding at once: the concurrency, capped by the KV pool.
    pub running: f64,
    /// Time to first token, milliseconds (mean).
    pub ttft_ms: f64,
    /// Time per output token after the first, milliseconds (mean).
    pub tpot_ms: f64,
    /// Output tokens per second of the whole instance.
    pub output_tokens_per_s: f64,
    /// ... per GPU of the instance.
    pub output_tokens_per_s_per_gpu: f64,
    /// ... seen by one request while it decodes (1000 / TPOT).
    pub output_tokens_per_s_per_user: f64,
    /// Completed requests per second.
    pub requests_per_s: f64,
    /// The instance's price split by the share of GPU time spent decoding, per million
    /// output tokens, US dollars.
    pub usd_per_million_output_tokens: f64,
    /// ... spent on prefill, per million input tokens.
    pub usd_per_million_input_tokens: f64,
    /// The request rate exceeds what the instance completes: the queue grows without
    /// bound, and the figures are those at full load.
    pub saturated: bool,
}

impl ModelShard {
    /// Share of a layer's routed experts a pass over `tokens` tokens touches, assuming
    /// uniform routing (a router trained with a load-balancing loss, as every MoE here
    /// is): 1 − (1 − k/E)^tokens. 1 for a dense model.
    fn experts_touched(&self, tokens: f64) -> f64 {
        match self.routing {
            None => 1.0,
            Some((k, e)) => {
                let miss = 1.0 - f64::from(k) / f64::from(e.max(1));
                1.0 - miss.max(0.0).powf(tokens.max(0.0))
            }
        }
    }

    fn weight_bytes_read(&self, tokens: f64) -> f64 {
        self.dense_bytes + self.expert_bytes * self.experts_touched(tokens)
    }

    /// Average attention span of a token at `context` tokens of history.
    fn attention_span(&self, context: f64) -> f64 {
        let windowed = context.min(f64::from(self.window));
        self.full_attention_share * context + (1.0 - self.full_attention_share) * windowed
    }
}

fn allreduce_s(shard: &ModelShard, hw: &Hardware, tokens: f64) -> f64 {
    if hw.tp <= 1 {
        return 0.0;
    }
    let n = f64::from(hw.tp);
    // Ring all-reduce moves 2 (n − 1) / n of the message over each link.
    let bytes = shard.allreduce_bytes_per_token * tokens * 2.0 * (n - 1.0) / n;
    f64::from(shard.allreduces_per_pass) * (hw.allreduce_latency_s + bytes / hw.link_bytes_per_s)
}

/// One prefill pass over `tokens` new tokens whose prompts are `prompt` tokens long.
fn prefill_pass_s(
    shard: &ModelShard,
    hw: &Hardware,
    cal: &Calibration,
    tokens: f64,
    prompt: f64,
) -> f64 {
    let memory = shard.weight_bytes_read(tokens) / (hw.bandwidth * cal.bandwidth_efficiency);
    // Causal attention: a token at position p attends over p tokens, p/2 on average.
    let flops = tokens
        * (shard.flops_per_token
            + shard.attention_flops_per_context * shard.attention_span(prompt) / 2.0);
    let compute = flops / (hw.peak_flops * cal.prefill_mfu);
    memory.max(compute)
        + cal.step_overhead_s
        + f64::from(shard.layers) * cal.prefill_layer_overhead_s
        + allreduce_s(shard, hw, tokens)
}

/// One decode step for `running` requests of `context` tokens on average.
fn decode_step_s(
    shard: &ModelShard,
    hw: &Hardware,
    cal: &Calibration,
    running: f64,
    context: f64,
) -> f64 {
    let kv = shard.kv.full_bytes_per_token as f64 * context
        + shard.kv.swa_bytes_per_token as f64 * context.min(f64::from(shard.kv.swa_window))
        + shard.kv.state_bytes_per_seq as f64;
    let memory = (shard.weight_bytes_read(running) + kv * running)
        / (hw.bandwidth * cal.bandwidth_efficiency);
    let flops = running
        * (shard.flops_per_token
            + shard.attention_flops_per_context * shard.attention_span(context));
    let compute = flops / (hw.peak_flops * cal.decode_mfu);
    memory.max(compute)
        + cal.step_overhead_s
        + f64::from(shard.layers) * cal.layer_overhead_s
        + running * cal.request_overhead_s
        + allreduce_s(shard, hw, running)
}

/// Timings of the running set at a (possibly fractional) number of running requests.
struct Cycle {
    /// Own prefill, every chunk back to back, seconds.
    prefill_own_s: f64,
    /// GPU time per request's prefill when prompts share passes, seconds.
    prefill_share_s: f64,
    step_s: f64,
    tpot_s: f64,
    /// Requests completed per second.
    requests_per_s: f64,
}

fn cycle(
    shard: &ModelShard,
    hw: &Hardware,
    cal: &Calibration,
    w: &Workload,
    running: f64,
    arrivals: Arrivals,
) -> Cycle {
    let input = f64::from(w.input_tokens);
    let chunk = f64::from(shard.chunk_tokens.max(1));
    // Prompts shorter than a chunk share a pass with the prompts waiting with them: all
    // of the batch's when they arrive together; when they arrive staggered, those that
    // arrived during the step before (SGLang admits every waiting request into the next
    // prefill batch), 1 + arrival rate × step time on average.
    // max/min, not f64::clamp: clamp's panic message formats floats with Debug, which
    // would put std's float printer into the page's wasm.
    let most = (chunk / input).floor().min(running.max(1.0)).max(1.0);
    match arrivals {
        Arrivals::Together => cycle_sharing(shard, hw, cal, w, running, most, arrivals),
        Arrivals::Staggered => {
            let alone = cycle_sharing(shard, hw, cal, w, running, 1.0, arrivals);
            let sharing = (1.0 + alone.requests_per_s * alone.step_s).min(most);
            cycle_sharing(shard, hw, cal, w, running, sharing, arrivals)
        }
    }
}

/// [`cycle`] with `sharing` prompts per prefill pass.
fn cycle_sharing(
    shard: &ModelShard,
    hw: &Hardware,
    cal: &Calibration,
    w: &Workload,
    running: f64,
    sharing: f64,
    arrivals: Arrivals,
) -> Cycle {
    let input = f64::from(w.input_tokens);
    let output = f64::from(w.output_tokens);
    let chunk = f64::from(shard.chunk_tokens.max(1));
    let full_chunks = (input / chunk).floor();
    let rest = input - full_chunks * chunk;
    let prefill_own_s = full_chunks * prefill_pass_s(shard, hw, cal, chunk, input)
        + if rest > 0.0 {
            prefill_pass_s(shard, hw, cal, rest, input)
        } else {
            0.0
        };
    let prefill_share_s = if sharing > 1.0 {
        prefill_pass_s(shard, hw, cal, sharing * input, input) / sharing
    } else {
        prefill_own_s
    };
    let step_s = decode_step_s(shard, hw, cal, running.max(1.0), w.average_context());
    // Each running request's decode waits out the prefills that come after its own:
    // every other request's once per lifetime when they arrive staggered, half of the
    // batch's on average when they arrive together (the prefills before its own are in
    // its TTFT).
    let others = match arrivals {
        Arrivals::Staggered => (running - 1.0).max(0.0),
        Arrivals::Together => (running - 1.0).max(0.0) / 2.0,
    };
    let tpot_s = step_s + others * prefill_share_s / output.max(1.0);
    let cycle_s = running.max(1.0) * prefill_share_s + output * step_s;
    Cycle {
        prefill_own_s,
        prefill_share_s,
        step_s,
        tpot_s,
        requests_per_s: running.max(1.0) / cycle_s,
    }
}

/// Mean TTFT of `running` requests that arrive together (an offline batch). SGLang runs
/// the waiting prefills back to back before any decode step (`get_next_batch_to_run` in
/// srt/managers/scheduler.py), packing prompts into passes of `chunked_prefill_size`
/// tokens: the k-th request's first token comes at the end of the pass that holds its
/// last prompt token, after ⌈k × input / chunk⌉ passes, (running + 1) / 2 × input / chunk
/// passes on average, plus half a pass of rounding. A burst that fits one pass takes
/// that one pass.
fn burst_ttft_s(
    shard: &ModelShard,
    hw: &Hardware,
    cal: &Calibration,
    w: &Workload,
    running: f64,
) -> f64 {
    let input = f64::from(w.input_tokens);
    let chunk = f64::from(shard.chunk_tokens.max(1));
    let total = running.max(1.0) * input;
    if total <= chunk {
        return prefill_pass_s(shard, hw, cal, total, input);
    }
    let passes = ((running.max(1.0) + 1.0) / 2.0 * input / chunk + 0.5).min((total / chunk).ceil());
    passes * prefill_pass_s(shard, hw, cal, chunk, input)
}

/// Requests of this workload the KV pool holds at once (at least one).
fn pool_capacity(shard: &ModelShard, w: &Workload) -> f64 {
    (shard.pool_tokens as f64 / w.average_context())
        .floor()
        .max(1.0)
}

/// How the requests of a workload reach the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrivals {
    /// One at a time: users each sending their next request when the previous answer
    /// ends (their lengths differ, so they drift apart), or a Poisson stream at a rate.
    Staggered,
    /// Together: an offline batch of `concurrency` prompts submitted at once (a
    /// benchmark's `--request-rate inf` without a concurrency cap), or waves of
    /// `concurrency` requests of one fixed length, which start together and so finish
    /// together (a closed-loop benchmark with fixed input and output lengths).
    Together,
}

/// The speed of one instance for a workload whose requests arrive staggered.
pub fn speed(shard: &ModelShard, hw: &Hardware, cal: &Calibration, w: &Workload) -> Speed {
    speed_with_arrivals(shard, hw, cal, w, Arrivals::Staggered)
}

/// The speed of one instance for a workload whose requests arrive as `arrivals` says.
pub fn speed_with_arrivals(
    shard: &ModelShard,
    hw: &Hardware,
    cal: &Calibration,
    w: &Workload,
    arrivals: Arrivals,
) -> Speed {
    let capacity = pool_capacity(shard, w);
    let output = f64::from(w.output_tokens.max(1));
    // Latency of one request, from arrival to its last token, at `n` in flight.
    let closed = |n: f64| {
        let running = n.min(capacity).max(1.0);
        let c = cycle(shard, hw, cal, w, running, arrivals);
        // Beyond the pool, requests wait for a running one to finish (Little's law over
        // the whole system: latency = in flight / completion rate).
        let e2e = (n.max(1.0) / c.requests_per_s).max(c.prefill_own_s + (output - 1.0) * c.tpot_s);
        (running, c, e2e)
    };
    let (concurrency, saturated) = match w.load {
        Load::Concurrent(n) => (f64::from(n.max(1)), false),
        Load::Rate(rate) => in_flight_at_rate(rate, capacity, |n| closed(n).2),
    };
    let (running, c, e2e) = closed(concurrency);
    let first_token_s = match arrivals {
        // A request arriving on its own waits for the step in progress (half a step on
        // average), then its own prefill.
        Arrivals::Staggered => c.prefill_own_s + c.step_s / 2.0,
        Arrivals::Together => burst_ttft_s(shard, hw, cal, w, running).max(c.prefill_own_s),
    };
    // The part of Little's-law latency that is neither the first token nor the decode
    // is waiting for a place in the KV pool.
    let queue_s = (e2e - first_token_s - (output - 1.0) * c.tpot_s).max(0.0);
    let ttft_s = first_token_s + queue_s;
    let requests_per_s = match w.load {
        Load::Rate(rate) if !saturated => rate.min(c.requests_per_s),
        _ => c.requests_per_s,
    };
    let output_tokens_per_s = requests_per_s * output;
    // Share of GPU time in prefill; the price is split by it.
    let busy = running * c.prefill_share_s + output * c.step_s;
    // Not f64::clamp: its panic message would put std's float printer into the page.
    #[expect(
        clippy::manual_clamp,
        reason = "f64::clamp formats floats when it panics"
    )]
    let prefill_share = (running * c.prefill_share_s / busy).max(0.0).min(1.0);
    let price_per_s = hw.price_per_hour_usd / 3600.0;
    let per_million = |share: f64, tokens_per_s: f64| {
        if tokens_per_s > 0.0 {
            price_per_s * share / tokens_per_s * 1e6
        } else {
            0.0
        }
    };
    Speed {
        concurrency,
        running,
        ttft_ms: ttft_s * 1e3,
        tpot_ms: c.tpot_s * 1e3,
        output_tokens_per_s,
        output_tokens_per_s_per_gpu: output_tokens_per_s / f64::from(hw.tp.max(1)),
        output_tokens_per_s_per_user: 1.0 / c.tpot_s,
        requests_per_s,
        usd_per_million_output_tokens: per_million(1.0 - prefill_share, output_tokens_per_s),
        usd_per_million_input_tokens: per_million(
            prefill_share,
            requests_per_s * f64::from(w.input_tokens),
        ),
        saturated,
    }
}

/// Requests in flight at `rate` arrivals per second: the fixed point n = rate × latency(n)
/// of Little's law, by bisection over [0, capacity]. Latency grows with n, so
/// rate × latency(n) − n changes sign at most once; when it is still positive at the
/// pool's capacity the instance cannot keep up (saturated).
fn in_flight_at_rate(rate: f64, capacity: f64, latency: impl Fn(f64) -> f64) -> (f64, bool) {
    let excess = |n: f64| rate * latency(n) - n;
    if !(rate.is_finite() && rate > 0.0) {
        return (1.0, false);
    }
    if excess(capacity) > 0.0 {
        return (capacity, true);
    }
    let (mut lo, mut hi) = (0.0, capacity);
    // 60 halvings resolve any capacity below 2^60 to well under one request.
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if excess(mid) > 0.0 {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (hi.max(f64::MIN_POSITIVE), false)
}

/// Dense tensor FLOPS per GPU for weights of `quantization`: FP8 weights on FP8 tensor
/// cores (Ada, Hopper, Blackwell; Ampere runs them through weight-only Marlin kernels in
/// 16 bit), MXFP4 on Blackwell's FP4 cores, INT8 W8A8 on INT8 cores (the same rate as
/// FP8 on Hopper, twice 16 bit on Ampere: NVIDIA's A100 and H100 datasheets), and
/// AWQ/GPTQ INT4 Marlin kernels, which dequantize to 16 bit and compute there.
pub fn peak_flops(gpu: &GpuType, quantization: Quantization) -> f64 {
    let (sixteen, fp8, fp4) = (gpu.tflops_16bit, gpu.tflops_fp8, gpu.tflops_fp4);
    let tflops = match quantization {
        Quantization::Fp8 => fp8.unwrap_or(sixteen),
        Quantization::Int8 => fp8.unwrap_or(2.0 * sixteen),
        Quantization::Mxfp4 => fp4.unwrap_or(sixteen),
        // FP32 checkpoints still run matmuls on 16-bit tensor cores (TF32 would be half
        // this; SGLang serves fp32 models in their dtype only when asked).
        _ => sixteen,
    };
    tflops * 1e12
}

/// How the GPUs of an instance talk: NVLink on SXM boards (A100 SXM4: 600 GB/s, H100
/// SXM5: 900 GB/s, B200: 1800 GB/s of NVLink bandwidth per GPU, NVIDIA datasheets;
/// half of that each direction), PCIe 4.0 elsewhere (A10, RTX A6000, A100 PCIe,
/// H100 PCIe boards as Lambda sells them, without NVLink bridges). Returns
/// (bytes/s per direction, all-reduce latency).
pub fn interconnect(gpu: &GpuType) -> (f64, f64) {
    let nvlink_gb_per_s = if !gpu.description.contains("SXM") {
        None
    } else {
        match gpu.compute_capability {
            80 => Some(600.0),
            90 => Some(900.0),
            c if c >= 100 => Some(1800.0),
            _ => Some(300.0), // V100 SXM2: 300 GB/s NVLink 2 (datasheet)
        }
    };
    match nvlink_gb_per_s {
        Some(gb) => (gb * 1e9 / 2.0, ALLREDUCE_LATENCY_S),
        None => (PCIE_BYTES_PER_S, PCIE_ALLREDUCE_LATENCY_S),
    }
}

/// What one GPU of `tp` holds and computes of a model, for the speed model.
pub fn model_shard(
    arch: &Architecture,
    quantization: Quantization,
    serving: &ServingEstimate,
    pool_tokens: u64,
) -> ModelShard {
    let tp = serving.tp.max(1);
    let p = arch.param_breakdown();
    let expert_bytes = expert_weights_per_gpu(arch, quantization, tp) as f64;
    let embedding = embedding_bytes_per_gpu(arch, quantization, tp) as f64;
    let tp_f = f64::from(tp);
    // QKᵀ and AV: 2 FLOPs per multiply-add over (key width + value width) per head.
    let (key_width, value_width) = match &arch.mla {
        // Absorbed MLA attends in the latent space (kv_lora_rank + rope dims for keys,
        // kv_lora_rank for values; DeepSeek-V2 paper, section 2.1.3).
        Some(mla) => (mla.kv_lora_rank + mla.qk_rope_head_dim, mla.kv_lora_rank),
        None => (arch.head_dim, arch.head_dim),
    };
    let attention_flops_per_context = 2.0
        * f64::from(arch.heads)
        * f64::from(key_width + value_width)
        * f64::from(arch.attention_layers())
        / tp_f;
    let attention_layers = f64::from(arch.attention_layers().max(1));
    ModelShard {
        dense_bytes: (serving.weights as f64 - expert_bytes - embedding).max(0.0),
        expert_bytes,
        routing: arch.moe.map(|m| (m.experts_per_token, m.experts)),
        flops_per_token: 2.0 * p.active_read_per_token() as f64 / tp_f,
        attention_flops_per_context,
        full_attention_share: f64::from(arch.full_attention_layers().min(arch.attention_layers()))
            / attention_layers,
        window: arch.sliding_window.unwrap_or(u32::MAX),
        kv: serving.kv_layout,
        allreduce_bytes_per_token: f64::from(arch.hidden) * ACTIVATION_BYTES,
        allreduces_per_pass: 2 * arch.layers,
        chunk_tokens: serving.sglang.chunked_prefill_size,
        layers: arch.layers,
        pool_tokens,
    }
}

/// The hardware side of an instance of `gpu` sharded over `tp` GPUs.
pub fn hardware(gpu: &GpuType, tp: u32, quantization: Quantization) -> Hardware {
    let (link_bytes_per_s, allreduce_latency_s) = interconnect(gpu);
    Hardware {
        tp: tp.max(1),
        bandwidth: f64::from(gpu.bandwidth_gbps) * 1e9,
        peak_flops: peak_flops(gpu, quantization),
        link_bytes_per_s,
        allreduce_latency_s,
        price_per_hour_usd: gpu.price_per_hour_usd(),
    }
}

/// The speed of `model` at `settings` on an instance of `gpu` sharded over `tp` GPUs,
/// with SGLang's default pool (`pool_tokens` from the memory sizing).
pub fn speed_of(
    arch: &Architecture,
    quantization: Quantization,
    serving: &ServingEstimate,
    pool_tokens: u64,
    gpu: &GpuType,
    workload: &Workload,
) -> Speed {
    let shard = model_shard(arch, quantization, serving, pool_tokens);
    let hw = hardware(gpu, serving.tp, quantization);
    speed(&shard, &hw, &CALIBRATION, workload)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::builtin;
    use crate::settings::Settings;

    fn at(model: &str, instance: &str, workload: Workload) -> Speed {
        let m = builtin(model).unwrap();
        let gpu = crate::gpu::find(instance).unwrap();
        let s = Settings::defaults_for(m);
        let (arch, _) = m.effective_architecture();
        let row = crate::recommend::evaluate(m, &s, gpu, crate::settings::EstimateMode::Serving);
        speed_of(
            &arch,
            s.quantization,
            &row.serving,
            row.kv_pool_tokens,
            gpu,
            &workload,
        )
    }

    #[test]
    fn batch_one_decode_is_bandwidth_bound() {
        // Llama-3.1-8B BF16 on one H100 SXM: 16 GB per step at 3.35 TB/s x 0.863 is about
        // 5.6 ms, plus the step's and 32 layers' fixed costs (about 4 ms).
        let s = at("llama-3.1-8b", "gpu_1x_h100_sxm5", Workload::concurrent(1));
        assert!((6.0..12.0).contains(&s.tpot_ms), "{}", s.tpot_ms);
        // 1000 prompt tokens at 16 GFLOP each on 989 TFLOPS x 0.513 (about 32 ms) plus
        // 32 layers launched eagerly (about 44 ms): the fitted calibration's prefill,
        // where the initial one (0.55 of peak, no per-layer cost) gave about 30 ms, below
        // most one-request TTFTs measured (32-160 ms on the table's rows).
        assert!((50.0..120.0).contains(&s.ttft_ms), "{}", s.ttft_ms);
        assert!(!s.saturated);
    }

    /// A shard of Llama-3.1-8B on one H100 SXM, as the examples below use it.
    fn llama_shard() -> (ModelShard, Hardware) {
        let m = builtin("llama-3.1-8b").unwrap();
        let gpu = crate::gpu::find("gpu_1x_h100_sxm5").unwrap();
        let s = Settings::defaults_for(m);
        let (arch, _) = m.effective_architecture();
        let row = crate::recommend::evaluate(m, &s, gpu, crate::settings::EstimateMode::Serving);
        (
            model_shard(&arch, s.quantization, &row.serving, row.kv_pool_tokens),
            hardware(gpu, 1, s.quantization),
        )
    }

    #[test]
    fn a_batch_arriving_together_queues_behind_its_own_prefills() {
        let (shard, hw) = llama_shard();
        let cal = CALIBRATION;
        let at = |c: u32, arrivals| {
            speed_with_arrivals(&shard, &hw, &cal, &Workload::concurrent(c), arrivals)
        };
        // One request: nothing ahead of it, the same TTFT either way.
        let (alone, batch) = (at(1, Arrivals::Staggered), at(1, Arrivals::Together));
        assert!((alone.ttft_ms - batch.ttft_ms).abs() < 0.5 * alone.ttft_ms);
        // 64 prompts of 1000 tokens in passes of `chunk_tokens`: the mean request waits
        // for (64 + 1) / 2 × 1000 / chunk passes, plus half a pass of rounding.
        let batch = at(64, Arrivals::Together);
        let chunk = f64::from(shard.chunk_tokens);
        let pass = prefill_pass_s(&shard, &hw, &cal, chunk, 1000.0);
        let passes = (65.0 / 2.0 * 1000.0 / chunk + 0.5).min((64_000.0 / chunk).ceil());
        let expected_ms = passes * pass * 1e3;
        assert!(
            (batch.ttft_ms - expected_ms).abs() < 1e-6 * expected_ms,
            "{} vs {expected_ms}",
            batch.ttft_ms
        );
        // Staggered arrivals do not wait for 63 other prefills.
        assert!(at(64, Arrivals::Staggered).ttft_ms < batch.ttft_ms / 3.0);
        // `speed` is the staggered reading (the product's, for a concurrency).
        assert_eq!(
            speed(&shard, &hw, &cal, &Workload::concurrent(64)),
            at(64, Arrivals::Staggered)
        );
    }

    #[test]
    fn staggered_prompts_share_a_prefill_pass_only_with_those_that_arrived_with_them() {
        let (shard, hw) = llama_shard();
        let w = Workload::concurrent(32);
        let staggered = cycle(&shard, &hw, &CALIBRATION, &w, 32.0, Arrivals::Staggered);
        let together = cycle(&shard, &hw, &CALIBRATION, &w, 32.0, Arrivals::Together);
        // Together, a pass holds chunk / 1000 prompts; staggered, 1 + arrivals per step.
        assert!(staggered.prefill_share_s > together.prefill_share_s);
        let expected = 1.0
            + cycle_sharing(
                &shard,
                &hw,
                &CALIBRATION,
                &w,
                32.0,
                1.0,
                Arrivals::Staggered,
            )
            .requests_per_s
                * staggered.step_s;
        let pass = prefill_pass_s(&shard, &hw, &CALIBRATION, expected * 1000.0, 1000.0);
        assert!((staggered.prefill_share_s - pass / expected).abs() < 1e-12);
    }

    #[test]
    fn a_decode_step_pays_a_fixed_cost_per_layer_and_per_request() {
        let (shard, hw) = llama_shard();
        let bare = Calibration {
            layer_overhead_s: 0.0,
            request_overhead_s: 0.0,
            ..CALIBRATION
        };
        let extra = decode_step_s(&shard, &hw, &CALIBRATION, 8.0, 1500.0)
            - decode_step_s(&shard, &hw, &bare, 8.0, 1500.0);
        let expected = 32.0 * CALIBRATION.layer_overhead_s + 8.0 * CALIBRATION.request_overhead_s;
        assert_eq!(shard.layers, 32);
        assert!((extra - expected).abs() < 1e-12, "{extra} vs {expected}");
        // And a prefill pass a fixed cost per layer (eager launches).
        let eager = prefill_pass_s(&shard, &hw, &CALIBRATION, 100.0, 100.0)
            - prefill_pass_s(
                &shard,
                &hw,
                &Calibration {
                    prefill_layer_overhead_s: 0.0,
                    ..CALIBRATION
                },
                100.0,
                100.0,
            );
        assert!((eager - 32.0 * CALIBRATION.prefill_layer_overhead_s).abs() < 1e-12);
    }

    #[test]
    fn more_concurrency_raises_throughput_and_tpot() {
        let one = at("llama-3.1-8b", "gpu_1x_h100_sxm5", Workload::concurrent(1));
        let many = at("llama-3.1-8b", "gpu_1x_h100_sxm5", Workload::concurrent(64));
        assert!(many.output_tokens_per_s > 10.0 * one.output_tokens_per_s);
        assert!(many.tpot_ms > one.tpot_ms);
        assert!(many.usd_per_million_output_tokens < one.usd_per_million_output_tokens);
        assert!(many.usd_per_million_input_tokens > 0.0);
    }

    #[test]
    fn a_rate_beyond_capacity_saturates_and_a_small_one_does_not() {
        let small = Workload {
            load: Load::Rate(0.1),
            ..Workload::concurrent(1)
        };
        let s = at("llama-3.1-8b", "gpu_1x_h100_sxm5", small);
        assert!(
            !s.saturated && s.concurrency > 0.0 && s.concurrency < 2.0,
            "{s:?}"
        );
        assert!((s.requests_per_s - 0.1).abs() < 1e-9);
        let huge = Workload {
            load: Load::Rate(MAX_RATE),
            ..Workload::concurrent(1)
        };
        assert!(at("llama-3.1-8b", "gpu_1x_h100_sxm5", huge).saturated);
    }

    #[test]
    fn bad_workloads_name_their_field() {
        let w = Workload::concurrent(1);
        w.validate().unwrap();
        let field = |w: Workload| w.validate().unwrap_err().field;
        assert_eq!(
            field(Workload {
                input_tokens: 0,
                ..w
            }),
            "input_tokens"
        );
        assert_eq!(
            field(Workload {
                output_tokens: 0,
                ..w
            }),
            "output_tokens"
        );
        assert_eq!(
            field(Workload {
                load: Load::Concurrent(0),
                ..w
            }),
            "concurrency"
        );
        for r in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                field(Workload {
                    load: Load::Rate(r),
                    ..w
                }),
                "rate"
            );
        }
        assert_eq!(Workload::concurrent(32).basis(), "32 concurrent 1k/1k");
    }

    #[test]
    fn nvlink_only_on_sxm_boards() {
        let link = |t: &str| interconnect(crate::gpu::find(t).unwrap()).0;
        assert!(link("gpu_8x_h100_sxm5") > 10.0 * link("gpu_1x_a10"));
        assert_eq!(link("gpu_1x_h100_pcie"), PCIE_BYTES_PER_S);
    }

    #[test]
    fn fp8_weights_use_fp8_tensor_cores_only_where_they_exist() {
        let h100 = crate::gpu::find("gpu_1x_h100_sxm5").unwrap();
        let a100 = crate::gpu::find("gpu_1x_a100_sxm4").unwrap();
        assert_eq!(
            peak_flops(h100, Quantization::Fp8),
            2.0 * peak_flops(h100, Quantization::Bf16) + 1e12
        );
        assert_eq!(
            peak_flops(a100, Quantization::Fp8),
            peak_flops(a100, Quantization::Bf16)
        );
        assert_eq!(peak_flops(a100, Quantization::Int4), 312e12);
    }
}
