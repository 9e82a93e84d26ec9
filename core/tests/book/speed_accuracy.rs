//! The speed model against published measurements (fixtures/speed-measurements.yaml):
//! every row rebuilt as the product would size it (the model, settings and Lambda type
//! the row names, core's serving estimate and KV pool), `core::speed` run on it, and the
//! signed error of each metric the row measured. Shared by the accuracy test
//! (`speed_measurements.rs`), the manual's table (`tables.rs`) and the fit
//! (`examples/fit_speed.rs`), so all three show the same numbers.

use gpu_session_core::gpu::{self, GpuType};
use gpu_session_core::hf_config::parse_hf_config;
use gpu_session_core::registry::{builtin, CustomModel};
use gpu_session_core::settings::{MAX_SEQS, MIN_CONTEXT};
use gpu_session_core::speed::{
    self, Arrivals, Calibration, Hardware, Load, ModelShard, Speed, Workload,
};
use gpu_session_core::{recommend, EstimateMode, KvDtype, Model, Quantization, Settings};
use serde::Deserialize;
use std::fmt::Write;

const TABLE: &str = include_str!("../fixtures/speed-measurements.yaml");

/// Rows the model cannot get within 2× of the measurement on some metric, or cannot
/// express at all, each with the reason. The accuracy test fails if a row missing the
/// goal is not here, or a row here no longer misses: the list stays true.
pub const MISSES: &[(&str, &str)] = &[
    (
        "aic-sglang-dsr1-fp8-8xb200-c16-1k1k",
        "AIConfigurator's SGLang runs of fixed 1,024-token prompts: TTFT grows with concurrency like a synchronized burst (every request of a wave arriving together and queueing behind the others' prefills: 207, 586, 799, 2,101 ms at 4, 16, 64, 256 for DeepSeek-R1), which the model gives only for an offline batch; it reads a concurrency as staggered arrivals (the product's reading, and what AIConfigurator's vLLM runs of the same shape show), and the row does not say how its requests were sent",
    ),
    (
        "aic-sglang-dsr1-fp8-8xb200-c64-1k1k",
        "AIConfigurator's SGLang runs of fixed 1,024-token prompts: TTFT grows with concurrency like a synchronized burst (every request of a wave arriving together and queueing behind the others' prefills: 207, 586, 799, 2,101 ms at 4, 16, 64, 256 for DeepSeek-R1), which the model gives only for an offline batch; it reads a concurrency as staggered arrivals (the product's reading, and what AIConfigurator's vLLM runs of the same shape show), and the row does not say how its requests were sent",
    ),
    (
        "aic-sglang-dsr1-fp8-8xb200-c256-1k1k",
        "AIConfigurator's SGLang runs of fixed 1,024-token prompts: TTFT grows with concurrency like a synchronized burst (every request of a wave arriving together and queueing behind the others' prefills: 207, 586, 799, 2,101 ms at 4, 16, 64, 256 for DeepSeek-R1), which the model gives only for an offline batch; it reads a concurrency as staggered arrivals (the product's reading, and what AIConfigurator's vLLM runs of the same shape show), and the row does not say how its requests were sent",
    ),
    (
        "aic-sglang-dsr1-nvfp4-8xb200-ep8-c16-1k1k",
        "NVFP4 weights and expert parallelism 8: core has no NVFP4 quantization",
    ),
    (
        "aic-sglang-qwen3-32b-2xh100-c16-1k512",
        "AIConfigurator's SGLang runs of fixed 1,024-token prompts: TTFT grows with concurrency like a synchronized burst (every request of a wave arriving together and queueing behind the others' prefills: 207, 586, 799, 2,101 ms at 4, 16, 64, 256 for DeepSeek-R1), which the model gives only for an offline batch; it reads a concurrency as staggered arrivals (the product's reading, and what AIConfigurator's vLLM runs of the same shape show), and the row does not say how its requests were sent",
    ),
    (
        "aic-sglang-qwen3-32b-4xh100-c64-1k512",
        "AIConfigurator's SGLang runs of fixed 1,024-token prompts: TTFT grows with concurrency like a synchronized burst (every request of a wave arriving together and queueing behind the others' prefills: 207, 586, 799, 2,101 ms at 4, 16, 64, 256 for DeepSeek-R1), which the model gives only for an offline batch; it reads a concurrency as staggered arrivals (the product's reading, and what AIConfigurator's vLLM runs of the same shape show), and the row does not say how its requests were sent; its TPOT, too, is far below the staggered reading's, which charges every request all the others' prefills",
    ),
    (
        "aic-sglang-qwen3-32b-8xh100-c128-1k512",
        "AIConfigurator's SGLang runs of fixed 1,024-token prompts: TTFT grows with concurrency like a synchronized burst (every request of a wave arriving together and queueing behind the others' prefills: 207, 586, 799, 2,101 ms at 4, 16, 64, 256 for DeepSeek-R1), which the model gives only for an offline batch; it reads a concurrency as staggered arrivals (the product's reading, and what AIConfigurator's vLLM runs of the same shape show), and the row does not say how its requests were sent; its TPOT, too, is far below the staggered reading's, which charges every request all the others' prefills",
    ),
    (
        "aic-vllm-qwen3-32b-4xh100-c128-1k1k",
        "vLLM 0.12 with 128 concurrent 1,024-token prompts: measured TTFT 2.3-2.6x the model's, part of the batch waiting behind other prompts' prefills, which the staggered reading does not see",
    ),
    (
        "aic-vllm-qwen3-32b-8xh100-c128-1k1k",
        "vLLM 0.12 with 128 concurrent 1,024-token prompts: measured TTFT 2.3-2.6x the model's, part of the batch waiting behind other prompts' prefills, which the staggered reading does not see",
    ),
    (
        "aic-vllm-llama70b-fp8-8xh100-c4-1k1k",
        "vLLM prefills a 1,024-token prompt of Llama-3.1-70B FP8 at 4 concurrent in 70 ms TTFT; the eager per-layer prefill cost fitted mostly on SGLang's MoE rows, times 80 layers, gives twice that",
    ),
    (
        "cookbook-sglang-gptoss120b-8xb200-c1-sharegpt",
        "gpt-oss-120b: the fitted per-layer, per-request and eager-prefill costs, set mostly by the big MoE models (DeepSeek-R1, Qwen3-235B, Kimi K2), are too large for its 36 thin layers (its one-request TPOT on 8x B200 is 2.31 ms, its TTFT 32 ms)",
    ),
    (
        "aic-vllm-gptoss120b-2xb200-c128-1k1k",
        "gpt-oss-120b at high concurrency: the fitted per-layer, per-request and eager-prefill costs, set mostly by the big MoE models (DeepSeek-R1, Qwen3-235B, Kimi K2), are too large for its 36 thin layers (its one-request TPOT on 8x B200 is 2.31 ms, its TTFT 32 ms)",
    ),
    (
        "cookbook-sglang-gptoss120b-8xb200-c100-sharegpt",
        "gpt-oss-120b at high concurrency: the fitted per-layer, per-request and eager-prefill costs, set mostly by the big MoE models (DeepSeek-R1, Qwen3-235B, Kimi K2), are too large for its 36 thin layers (its one-request TPOT on 8x B200 is 2.31 ms, its TTFT 32 ms)",
    ),
    (
        "lambda-vllm054-mistral7b-1xh100-10prompts-sharegpt",
        "an offline batch of ShareGPT prompts all sent at once to vLLM 0.5.4 (CPU-bound scheduler, per the source): the run ends with its few longest outputs decoding nearly alone, a tail the model's mean lengths do not see",
    ),
    (
        "lambda-vllm054-mistral7b-1xh100-320prompts-sharegpt",
        "an offline batch of ShareGPT prompts all sent at once to vLLM 0.5.4 (CPU-bound scheduler, per the source): throughput over the run, which ends with its few longest outputs decoding nearly alone, a tail the model's mean lengths do not see",
    ),
    (
        "lambda-vllm-mixtral8x7b-2xh100-320prompts-sharegpt",
        "320 prompts at once under an unstated vLLM version with multi-step scheduling: TTFT 10.2 s measured, far above the model's back-to-back prefill passes, and throughput over the run includes the long tail of ShareGPT outputs",
    ),
    (
        "accelmark-vllm073-llama3-8b-1xh100-qps5",
        "not expressed: the source does not give the output lengths (max_tokens 512, natural stopping)",
    ),
    (
        "accelmark-vllm073-llama3-8b-1xh100-qps25",
        "not expressed: the source does not give the output lengths (max_tokens 512, natural stopping)",
    ),
    (
        "accelmark-vllm073-llama3-8b-1xa100-40gb-qps5",
        "not expressed: the source does not give the output lengths (max_tokens 512, natural stopping)",
    ),
    (
        "accelmark-vllm073-llama3-8b-1xa100-40gb-qps25",
        "not expressed: the source does not give the output lengths (max_tokens 512, natural stopping)",
    ),
    (
        "vllm-pr23696-gptoss120b-8xb200-sharegpt",
        "1,000 ShareGPT prompts at once to a mid-2025 vLLM main branch: TTFT 3.2 s measured, 6x the model's back-to-back prefill passes (request handling in vLLM's API server for a thousand requests at once is not modelled)",
    ),
];

/// The part of a row of the table the comparison reads (the schema test checks all of it).
#[derive(Debug, Deserialize)]
pub struct Row {
    pub id: String,
    pub engine: String,
    pub model: String,
    pub hf_repo: Option<String>,
    pub quantization: String,
    pub kv_dtype: Option<String>,
    pub gpu: String,
    pub gpu_count: u32,
    pub lambda_instance_type: Option<String>,
    pub tp: u32,
    pub dp_attention: bool,
    pub input_tokens: Option<u32>,
    pub output_tokens: Option<u32>,
    pub concurrency: Option<u32>,
    pub request_rate: Option<f64>,
    pub num_prompts: Option<u32>,
    pub dataset: Option<String>,
    pub measured: Measured,
}

#[derive(Debug, Deserialize)]
pub struct Measured {
    pub ttft_ms: Option<f64>,
    pub tpot_ms: Option<f64>,
    pub output_tokens_per_s: Option<f64>,
    pub statistic: Option<String>,
}

/// The table, parsed.
pub fn rows() -> Vec<Row> {
    serde_yaml_ng::from_str(TABLE).expect("speed-measurements.yaml parses")
}

/// The three metrics compared: TTFT, TPOT and output tokens/s of the whole deployment.
pub const METRICS: [&str; 3] = ["TTFT", "TPOT", "tok/s"];

/// A row rebuilt for the model: what the product would size and run.
pub struct Case {
    pub model: Model,
    pub settings: Settings,
    pub gpu: &'static GpuType,
    pub workload: Workload,
    /// Every prompt submitted at once (no concurrency cap, no rate): an offline batch.
    pub arrivals: Arrivals,
}

/// Whether a row counts toward the goal: SGLang or vLLM on a Lambda type of the catalog.
pub fn in_goal(row: &Row) -> bool {
    matches!(row.engine.as_str(), "sglang" | "vllm")
        && row
            .lambda_instance_type
            .as_deref()
            .is_some_and(|t| gpu::find(t).is_some())
}

/// Checkpoints whose config.json is not among the fixtures but whose architecture is
/// that of one that is: an instruction-tuned model keeps its base model's config
/// (Mistral's model card for Mixtral-8x7B-Instruct-v0.1: a fine-tune of Mixtral-8x7B).
const SAME_ARCHITECTURE: &[(&str, &str)] = &[(
    "mistralai/Mixtral-8x7B-Instruct-v0.1",
    "mistralai/Mixtral-8x7B-v0.1",
)];

fn model_of(row: &Row) -> Result<Model, String> {
    if let Some(m) = builtin(&row.model) {
        return Ok(m.clone());
    }
    let named = row.hf_repo.as_deref().unwrap_or(&row.model);
    let repo = SAME_ARCHITECTURE
        .iter()
        .find(|(from, _)| *from == named)
        .map_or(named, |(_, to)| *to);
    let path = format!(
        "{}/tests/fixtures/hf-configs/{}.json",
        env!("CARGO_MANIFEST_DIR"),
        repo.replace('/', "__")
    );
    let text = std::fs::read_to_string(&path)
        .map_err(|_| format!("no built-in and no config.json fixture for {repo}"))?;
    let config = parse_hf_config(&text).map_err(|e| format!("{repo}: {e}"))?;
    let custom = CustomModel::from_hf_config(repo, &config, None);
    Ok(Model::custom(&row.model, &custom))
}

fn quantization_of(name: &str) -> Result<Quantization, String> {
    match name {
        "bf16" => Ok(Quantization::Bf16),
        "fp8" => Ok(Quantization::Fp8),
        "mxfp4" => Ok(Quantization::Mxfp4),
        "int4-awq" => Ok(Quantization::Int4),
        other => Err(format!("{other} weights: core has no {other} quantization")),
    }
}

/// The workload a row ran: its lengths, and its load (a request rate, a concurrency
/// cap, or every prompt at once when it has neither).
fn workload_of(row: &Row) -> Result<Workload, String> {
    let (Some(input_tokens), Some(output_tokens)) = (row.input_tokens, row.output_tokens) else {
        return Err("the source does not give the request lengths".into());
    };
    let load = match (row.request_rate, row.concurrency, row.num_prompts) {
        (Some(rate), _, _) => Load::Rate(rate),
        (None, Some(c), _) => Load::Concurrent(c),
        (None, None, Some(n)) => Load::Concurrent(n),
        (None, None, None) => return Err("the load is unknown".into()),
    };
    Ok(Workload {
        input_tokens,
        output_tokens,
        load,
    })
}

/// The row as the product would size it, or why it cannot be expressed.
pub fn case(row: &Row) -> Result<Case, String> {
    let instance = row
        .lambda_instance_type
        .as_deref()
        .ok_or_else(|| format!("{} is not a Lambda type", row.gpu))?;
    let gpu = gpu::find(instance).ok_or_else(|| format!("{instance} is not in the catalog"))?;
    if row.tp != gpu.gpu_count {
        return Err(format!("TP {} on {} GPUs", row.tp, row.gpu_count));
    }
    let workload = workload_of(row)?;
    let model = model_of(row)?;
    let quantization = quantization_of(&row.quantization)?;
    let in_flight = match workload.load {
        Load::Concurrent(c) => c,
        Load::Rate(_) => 1,
    };
    let settings = Settings {
        quantization,
        kv_dtype: match row.kv_dtype.as_deref() {
            Some("fp8") => KvDtype::Fp8E4m3,
            _ => KvDtype::Auto,
        },
        context: (workload.input_tokens + workload.output_tokens).max(MIN_CONTEXT),
        seqs: in_flight.min(MAX_SEQS),
        gpus: gpu.gpu_count,
        input_tokens: workload.input_tokens,
        output_tokens: workload.output_tokens,
        // A rate row runs with SGLang's default --max-running-requests, which the pool
        // bounds: `prepare` passes the whole pool, not the product's cap at `seqs`.
        rate: None,
    }
    .clamped_for(&model);
    let arrivals = if row.request_rate.is_none() && row.concurrency.is_none() {
        Arrivals::Together
    } else {
        Arrivals::Staggered
    };
    Ok(Case {
        model,
        settings,
        gpu,
        workload,
        arrivals,
    })
}

/// What the speed model reads of a case, sized once (the fit varies only the calibration).
pub struct Prepared {
    pub shard: ModelShard,
    pub hardware: Hardware,
    pub workload: Workload,
    pub arrivals: Arrivals,
}

/// The case sized by core's memory model: serving estimate and KV pool at SGLang's
/// default (or raised) `--mem-fraction-static`.
pub fn prepare(case: &Case) -> Prepared {
    let (arch, _) = case.model.effective_architecture();
    let fit = recommend::evaluate(&case.model, &case.settings, case.gpu, EstimateMode::Serving);
    let q = case.settings.quantization;
    Prepared {
        shard: speed::model_shard(&arch, q, &fit.serving, fit.kv_pool_tokens),
        hardware: speed::hardware(case.gpu, fit.serving.tp, q),
        workload: case.workload,
        arrivals: case.arrivals,
    }
}

/// The model's speed for a case at `cal`, by the product's path (`speed::speed_of` is
/// this at `speed::CALIBRATION`).
pub fn predict(case: &Case, cal: &Calibration) -> Speed {
    let p = prepare(case);
    speed::speed_with_arrivals(&p.shard, &p.hardware, cal, &p.workload, p.arrivals)
}

/// One row compared: measured and predicted TTFT, TPOT, tokens/s (None where not
/// measured or not predicted) and why it could not be predicted, if it could not.
pub struct Compared {
    pub id: String,
    pub engine: String,
    pub model: String,
    pub deployment: String,
    pub workload: String,
    pub in_goal: bool,
    pub measured: [Option<f64>; 3],
    pub predicted: Option<[f64; 3]>,
    pub not_expressed: Option<String>,
}

impl Compared {
    /// Signed error of each metric the row has, as predicted / measured − 1.
    pub fn errors(&self) -> [Option<f64>; 3] {
        let mut out = [None; 3];
        if let Some(p) = self.predicted {
            for i in 0..3 {
                out[i] = self.measured[i].map(|m| p[i] / m - 1.0);
            }
        }
        out
    }

    /// Off by more than 2× (either way) on a metric it has.
    pub fn misses(&self) -> bool {
        self.not_expressed.is_some()
            || self
                .errors()
                .iter()
                .flatten()
                .any(|e| !(0.5..=2.0).contains(&(1.0 + e)))
    }
}

fn describe_load(row: &Row) -> String {
    let shape = format!(
        "{}/{}",
        row.input_tokens.map_or("?".into(), |t| t.to_string()),
        row.output_tokens.map_or("?".into(), |t| t.to_string())
    );
    match (row.request_rate, row.concurrency, row.num_prompts) {
        (Some(r), _, _) => format!("{r} req/s {shape}"),
        (None, Some(c), _) => format!("{c} concurrent {shape}"),
        (None, None, Some(n)) => format!("{n} at once {shape}"),
        _ => shape,
    }
}

/// Every row of the table with what the model reads of it (or why it cannot be
/// expressed), sized once.
pub fn prepare_all() -> Vec<(Row, Result<Prepared, String>)> {
    rows()
        .into_iter()
        .map(|row| {
            let prepared = case(&row).map(|c| prepare(&c));
            (row, prepared)
        })
        .collect()
}

/// Every row of the table compared at `cal`.
pub fn compare_all(cal: &Calibration) -> Vec<Compared> {
    compare(&prepare_all(), cal)
}

/// The prepared rows compared at `cal`.
pub fn compare(prepared: &[(Row, Result<Prepared, String>)], cal: &Calibration) -> Vec<Compared> {
    prepared
        .iter()
        .map(|(row, prepared)| {
            let measured = [
                row.measured.ttft_ms,
                row.measured.tpot_ms,
                row.measured.output_tokens_per_s,
            ];
            let (predicted, not_expressed) = match prepared {
                Ok(p) => {
                    let s = speed::speed_with_arrivals(
                        &p.shard,
                        &p.hardware,
                        cal,
                        &p.workload,
                        p.arrivals,
                    );
                    (Some([s.ttft_ms, s.tpot_ms, s.output_tokens_per_s]), None)
                }
                Err(e) => (None, Some(e.clone())),
            };
            Compared {
                id: row.id.clone(),
                engine: row.engine.clone(),
                model: row.model.clone(),
                deployment: format!(
                    "{}×{} TP{}{}",
                    row.gpu_count,
                    row.gpu,
                    row.tp,
                    if row.dp_attention { " DP-attn" } else { "" }
                ),
                workload: describe_load(row),
                in_goal: in_goal(row),
                measured,
                predicted,
                not_expressed,
            }
        })
        .collect()
}

/// The median of `values` (None when empty).
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// Per metric over the goal's rows that the model expresses, the listed misses
/// included: (median absolute error, rows).
pub fn goal_medians(compared: &[Compared]) -> [(f64, usize); 3] {
    let mut out = [(0.0, 0); 3];
    for (i, slot) in out.iter_mut().enumerate() {
        let errors: Vec<f64> = scored(compared)
            .filter_map(|c| c.errors()[i])
            .map(f64::abs)
            .collect();
        *slot = (median(errors.clone()).unwrap_or(0.0), errors.len());
    }
    out
}

/// The goal's rows the medians are over: in the goal and expressed (a listed miss
/// counts: leaving it out would flatter the median).
pub fn scored(compared: &[Compared]) -> impl Iterator<Item = &Compared> {
    compared
        .iter()
        .filter(|c| c.in_goal && c.predicted.is_some())
}

pub fn listed(id: &str) -> bool {
    MISSES.iter().any(|(m, _)| *m == id)
}

fn number(v: f64) -> String {
    if v >= 100.0 {
        format!("{v:.0}")
    } else if v >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

fn pair(measured: Option<f64>, predicted: Option<f64>, error: Option<f64>) -> String {
    match (measured, predicted) {
        (Some(m), Some(p)) => format!(
            "{} / {} ({:+.0} %)",
            number(m),
            number(p),
            error.unwrap_or(0.0) * 100.0
        ),
        (Some(m), None) => format!("{} / –", number(m)),
        (None, _) => "–".into(),
    }
}

/// The comparison as a Markdown table: goal rows first, then the rows shown for
/// information (TensorRT-LLM, GPUs outside the catalog), then the medians.
pub fn markdown(compared: &[Compared]) -> String {
    let mut out = String::from(
        "| row | engine | model | GPUs | workload | TTFT ms measured / predicted | TPOT ms | output tok/s | |\n|---|---|---|---|---|---|---|---|---|\n",
    );
    let goal = compared.iter().filter(|c| c.in_goal);
    let info = compared.iter().filter(|c| !c.in_goal);
    for c in goal.chain(info) {
        let e = c.errors();
        let p = |i: usize| c.predicted.map(|p| p[i]);
        let note = match (&c.not_expressed, c.in_goal, listed(&c.id)) {
            (Some(why), _, _) => format!("not expressed: {why}"),
            (None, false, _) => "information only".into(),
            (None, true, true) => "miss (listed)".into(),
            (None, true, false) => String::new(),
        };
        writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} | {} | {} | {} |",
            c.id,
            c.engine,
            c.model,
            c.deployment,
            c.workload,
            pair(c.measured[0], p(0), e[0]),
            pair(c.measured[1], p(1), e[1]),
            pair(c.measured[2], p(2), e[2]),
            note
        )
        .unwrap();
    }
    out
}

/// The medians as a Markdown table.
pub fn medians_markdown(compared: &[Compared]) -> String {
    let mut out =
        String::from("| metric | median absolute error | goal | rows |\n|---|---|---|---|\n");
    let goals = [0.30, 0.20, 0.20];
    for (i, (m, n)) in goal_medians(compared).into_iter().enumerate() {
        writeln!(
            out,
            "| {} | {:.0} % | ≤ {:.0} % | {n} |",
            METRICS[i],
            m * 100.0,
            goals[i] * 100.0
        )
        .unwrap();
    }
    out
}

/// The fitted calibration as a Markdown table.
pub fn calibration_markdown(cal: &Calibration) -> String {
    let mut out = String::from("| constant | fitted value |\n|---|---|\n");
    let rows = [
        (
            "bandwidth_efficiency",
            format!("{}", cal.bandwidth_efficiency),
            "of datasheet bandwidth",
        ),
        (
            "prefill_mfu",
            format!("{}", cal.prefill_mfu),
            "of dense tensor peak",
        ),
        (
            "decode_mfu",
            format!("{}", cal.decode_mfu),
            "(tied to prefill_mfu)",
        ),
        (
            "step_overhead_s",
            format!("{} ms", cal.step_overhead_s * 1e3),
            "per step",
        ),
        (
            "layer_overhead_s",
            format!("{} µs", cal.layer_overhead_s * 1e6),
            "per layer per decode step",
        ),
        (
            "prefill_layer_overhead_s",
            format!("{} µs", cal.prefill_layer_overhead_s * 1e6),
            "per layer per prefill pass",
        ),
        (
            "request_overhead_s",
            format!("{} µs", cal.request_overhead_s * 1e6),
            "per running request per decode step",
        ),
    ];
    for (name, value, unit) in rows {
        writeln!(out, "| `{name}` | {value} {unit} |").unwrap();
    }
    out
}

/// The manual's page (docs/src/generated/speed-accuracy.md): the calibration, the
/// medians and every row, at the shipped calibration.
pub fn page() -> String {
    let cal = speed::CALIBRATION;
    let all = compare_all(&cal);
    let mut out = String::new();
    writeln!(out, "{}", medians_markdown(&all)).unwrap();
    writeln!(out, "{}", calibration_markdown(&cal)).unwrap();
    writeln!(out, "{}", markdown(&all)).unwrap();
    writeln!(
        out,
        "Rows the model misses by more than 2×, or cannot express:\n"
    )
    .unwrap();
    for (id, why) in MISSES {
        writeln!(out, "- `{id}`: {why}").unwrap();
    }
    out
}
