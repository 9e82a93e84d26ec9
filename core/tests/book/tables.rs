//! The manual's tables, generated from core as it is: every estimation constant with
//! its value, unit and source (the doc comment next to it in core's source), the GPU
//! catalog, SGLang's defaults per GPU, the model tables and a worked example.
//! `book_tables.rs` checks docs/src/generated/ against them; the examples print some.

use gpu_session_core::gpu::{CATALOG, GIB, MIB};
use gpu_session_core::quant::Quantization;
use gpu_session_core::registry::reference_models;
use gpu_session_core::serving::{
    kv_layout, sglang_defaults, weights_per_gpu, AttentionBackend, SglangDefaultsInput,
};
use gpu_session_core::{builtin, builtins, recommend, EstimateMode, KvDtype, Settings};
use std::fmt::Write;

#[path = "speed_accuracy.rs"]
pub mod speed_accuracy;

/// One estimation constant of core: its path, `{:?}` value, unit, and the file it is in.
pub struct Constant {
    pub name: &'static str,
    pub value: String,
    pub unit: &'static str,
    pub file: &'static str,
}

/// `constant!(module::NAME, "unit")`: the constant's own value, read from core.
macro_rules! constant {
    ($module:ident :: $name:ident, $unit:expr) => {
        Constant {
            name: concat!(stringify!($module), "::", stringify!($name)),
            value: format!("{:?}", gpu_session_core::$module::$name)
                .trim_matches('"')
                .to_owned(),
            unit: $unit,
            file: stringify!($module),
        }
    };
}

/// The constants each part of "How the numbers are computed" uses, one group per
/// generated file (`constants-<group>.md`). To quote a new constant in the manual, add
/// one line here and run `cargo xtask book-tables`.
pub fn constant_groups() -> Vec<(&'static str, Vec<Constant>)> {
    vec![
        (
            "reference",
            vec![
                constant!(reference::KV_CAP_GB, "GB"),
                constant!(reference::KV_TOKENS_PER_GB, "tokens per GB"),
                constant!(reference::OVERHEAD_GB, "GB"),
                constant!(reference::ACTIVATION_FRACTION, "share of base"),
                constant!(reference::MIN_GPU_SIZES_GB, "GB"),
                constant!(reference::MIN_GPU_UTILISATION, "share of memory"),
            ],
        ),
        (
            "weights",
            vec![
                constant!(serving::INT4_GROUP_SIZE, "elements"),
                constant!(serving::INT4_GROUP_OVERHEAD_BYTES, "bytes per group"),
                constant!(
                    serving::INT8_CHANNEL_SCALE_BYTES,
                    "bytes per output channel"
                ),
                constant!(quant::MXFP4_BLOCK, "elements per scale"),
                constant!(recommend::FP8_SCALE_BLOCK, "columns"),
            ],
        ),
        (
            "kv",
            vec![
                constant!(serving::SWA_FULL_TOKENS_RATIO, "SWA tokens per full token"),
                constant!(serving::LINEAR_CONV_STATE_BYTES, "bytes per element"),
            ],
        ),
        (
            "activations",
            vec![
                constant!(serving::ACTIVATION_BYTES, "bytes per element"),
                constant!(serving::LOGIT_BYTES, "bytes per logit"),
            ],
        ),
        (
            "overhead",
            vec![
                constant!(serving::CUDA_CONTEXT_MIB, "MiB"),
                constant!(serving::FLASHINFER_WORKSPACE_MIB, "MiB"),
                constant!(serving::FLASHINFER_QWEN_WORKSPACE_MIB, "MiB"),
                constant!(serving::TRTLLM_MHA_WORKSPACE_MIB, "MiB"),
                constant!(serving::CUBLAS_WORKSPACE_MIB, "MiB"),
                constant!(serving::NCCL_BUFFERS_MIB, "MiB (TP > 1)"),
                constant!(serving::CUDA_GRAPH_MIB_PER_BATCH, "MiB per decode batch"),
                constant!(serving::PREFILL_GRAPH_MIB_PER_BUCKET, "MiB per bucket"),
                constant!(serving::MLA_PREFILL_GRAPH_MIB, "MiB"),
            ],
        ),
        (
            "fit",
            vec![
                constant!(serving::RESERVE_MIB_PER_CHUNK_TOKEN, "MiB per chunk token"),
                constant!(serving::RESERVE_MIN_CHUNK_TOKENS, "tokens"),
                constant!(serving::RESERVE_MIB_PER_TP_RANK, "MiB per GPU of the group"),
                constant!(serving::RESERVE_FLOOR_MIB, "MiB"),
                constant!(serving::RESERVE_FLOOR_ABOVE_MIB, "MiB of GPU memory"),
                constant!(recommend::TIGHT_HEADROOM, "share of memory"),
                constant!(recommend::RAISED_FRACTION_MARGIN, "share of free memory"),
                constant!(settings::MEM_FRACTION_RANGE, "--mem-fraction-static"),
                constant!(settings::MAX_SEQS, "sequences"),
                constant!(gpu::MIN_COMPUTE_CAPABILITY, "compute capability × 10"),
            ],
        ),
        (
            "speed",
            vec![
                constant!(speed::CALIBRATION, "shares of datasheet peaks; seconds"),
                constant!(speed::ALLREDUCE_LATENCY_S, "seconds per all-reduce"),
                constant!(speed::PCIE_ALLREDUCE_LATENCY_S, "seconds per all-reduce"),
                constant!(speed::PCIE_BYTES_PER_S, "bytes/s per direction"),
                constant!(
                    speed::DEFAULT_INPUT_TOKENS,
                    "tokens per request, in and out"
                ),
                constant!(settings::MAX_REPLICAS, "replicas"),
                constant!(gpu::PRICE_SNAPSHOT, "date of the catalog's prices"),
            ],
        ),
        (
            "two-nodes",
            vec![
                constant!(multi_node::MAX_NODES, "instances"),
                constant!(multi_node::GPUS_PER_NODE, "GPUs per instance"),
                constant!(multi_node::ETHERNET_CONSERVATIVE_BITS_PER_S, "bits/s"),
                constant!(multi_node::ETHERNET_OPTIMISTIC_BITS_PER_S, "bits/s"),
                constant!(multi_node::INTER_NODE_BYTES_PER_S, "bytes/s each way"),
                constant!(multi_node::TCP_CROSSING_LATENCY_S, "seconds per crossing"),
                constant!(
                    multi_node::TP_CROSSINGS_PER_ALLREDUCE,
                    "crossings per all-reduce"
                ),
                constant!(multi_node::PP_CROSSINGS_PER_PASS, "crossings per pass"),
            ],
        ),
    ]
}

/// The `///` comment above `pub const NAME` in core's `module` source file, on one line.
pub fn doc_comment(module: &str, name: &str) -> String {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let text = std::fs::read_to_string(src.join(format!("{module}.rs")))
        .or_else(|_| std::fs::read_to_string(src.join(module).join("mod.rs")))
        .unwrap_or_else(|e| panic!("core's source of `{module}`: {e}"));
    let lines: Vec<&str> = text.lines().collect();
    let declaration = format!("pub const {name}:");
    let at = lines
        .iter()
        .position(|l| l.trim_start().starts_with(&declaration))
        .unwrap_or_else(|| panic!("no `{declaration}` in core's `{module}`"));
    let mut doc: Vec<&str> = lines[..at]
        .iter()
        .rev()
        .map(|l| l.trim())
        .skip_while(|l| l.starts_with("#["))
        .map_while(|l| l.strip_prefix("///"))
        .map(str::trim)
        .collect();
    doc.reverse();
    // Rustdoc's intra-doc links (``[`NAME`]``) read as plain code here.
    let doc = doc.join(" ").replace("[`", "`").replace("`]", "`");
    assert!(
        !doc.is_empty(),
        "`{module}::{name}` has no doc comment saying where its value comes from"
    );
    doc
}

/// A table cell: `|` would end the cell.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// One group's constants as a Markdown table.
pub fn constants_table(constants: &[Constant]) -> String {
    let mut out =
        String::from("| constant | value | unit | where it comes from |\n|---|---|---|---|\n");
    for c in constants {
        let short = c.name.rsplit("::").next().unwrap_or(c.name);
        writeln!(
            out,
            "| `{}` | {} | {} | {} |",
            c.name,
            cell(&c.value),
            cell(c.unit),
            cell(&doc_comment(c.file, short))
        )
        .unwrap();
    }
    out
}

/// The Lambda catalog the estimates run on.
pub fn catalog_table() -> String {
    let mut out = String::from(
        "| instance type | GPUs | memory per GPU (nvidia-smi) | bandwidth per GPU | compute capability | $/hour | price as of |\n|---|---|---|---|---|---|---|\n",
    );
    for g in CATALOG {
        writeln!(
            out,
            "| `{}` | {}× {} | {} MiB | {} GB/s | {}.{} | {:.2} | {} |",
            g.instance_type,
            g.gpu_count,
            g.gpu,
            g.memory_mib,
            g.bandwidth_gbps,
            g.compute_capability / 10,
            g.compute_capability % 10,
            g.price_per_hour_usd(),
            g.price_as_of
        )
        .unwrap();
    }
    out
}

/// Bytes per element of each quantization, as each estimate counts them.
pub fn quantization_table() -> String {
    let mut out = String::from(
        "| quantization | reference formula, bytes per parameter | serving: bits per linear-layer weight | serving: bytes of embeddings, norms, lm_head | KV cache (`--kv-cache-dtype auto`), bytes per element |\n|---|---|---|---|---|\n",
    );
    for q in Quantization::ALL {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            q.label(),
            q.reference_bytes_per_param(),
            q.weight_bits(),
            q.unquantized_tensor_bytes(),
            q.auto_kv_bytes()
        )
        .unwrap();
    }
    out
}

/// SGLang's memory defaults on every GPU type: without a request limit, and at
/// `--max-running-requests 1` (what a default plan passes).
pub fn sglang_defaults_table() -> String {
    let mut out = String::from("| instance type | GPU MiB | TP | chunk | graph bs | reserved MiB | default --mem-fraction-static | at --max-running-requests 1 | attention |\n|---|---|---|---|---|---|---|---|---|\n");
    for gpu in CATALOG {
        let at = |max_running_requests| {
            sglang_defaults(SglangDefaultsInput {
                gpu_memory_mib: gpu.memory_mib,
                tp: gpu.gpu_count,
                max_running_requests,
                mla: false,
            })
        };
        let (d, one) = (at(None), at(Some(1)));
        writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {:.0} | {:.3} | {:.3} | {} |",
            gpu.instance_type,
            gpu.memory_mib,
            gpu.gpu_count,
            d.chunked_prefill_size,
            d.cuda_graph_max_bs,
            d.reserved_mib,
            d.mem_fraction_static,
            one.mem_fraction_static,
            AttentionBackend::default_for(gpu.compute_capability, KvDtype::Auto).as_str()
        )
        .unwrap();
    }
    out
}

/// Each built-in model's KV pool on its cheapest fit at its defaults.
pub fn kv_pools_table() -> String {
    let mut out = String::from("| model | cheapest fit | fit | --mem-fraction-static | KV-pool tokens |\n|---|---|---|---|---|\n");
    for model in builtins() {
        let r = recommend(
            model,
            &Settings::defaults_for(model),
            EstimateMode::Serving,
            None,
        );
        match r.cheapest() {
            Some(row) => writeln!(
                out,
                "| {} | `{}` | {} | {:.3} | {} |",
                model.id,
                row.gpu.instance_type,
                row.fit.as_str(),
                row.mem_fraction_static,
                row.kv_pool_tokens
            ),
            None => writeln!(out, "| {} | none | — | — | — |", model.id),
        }
        .unwrap();
    }
    out
}

/// Every current (non-reference) built-in's parameter counts, weights, KV per token and
/// cheapest fit at its defaults.
pub fn models_table() -> String {
    let mut out = String::from("| model | quant | total params | active (read per token) | weights | KV per token (TP 1) | cheapest fit | $/h | output tok/s, whole instance (1 concurrent 1k/1k) |\n|---|---|---|---|---|---|---|---|---|\n");
    for model in builtins().iter().filter(|m| m.reference.is_none()) {
        let settings = Settings::defaults_for(model);
        let (arch, _) = model.effective_architecture();
        let p = arch.param_breakdown();
        let weights = weights_per_gpu(&arch, settings.quantization, 1) as f64 / GIB as f64;
        let kv = kv_layout(&arch, settings.kv_dtype.bytes(settings.quantization), 1);
        let kv_text = if kv.state_bytes_per_seq > 0 {
            format!(
                "{} B + {:.1} MiB state per sequence",
                kv.bytes_per_token,
                kv.state_bytes_per_seq as f64 / MIB as f64
            )
        } else {
            format!("{} B", kv.bytes_per_token)
        };
        let r = recommend(model, &settings, EstimateMode::Serving, None);
        let (fit, price, speed) = match r.cheapest() {
            Some(f) => (
                format!("`{}` (TP {})", f.gpu.instance_type, f.tp),
                format!("{:.2}", f.price_per_hour_usd),
                format!("{:.0}", f.speed.output_tokens_per_s),
            ),
            None => (
                r.no_fit.clone().unwrap_or_else(|| "only tight fits".into()),
                "-".into(),
                "-".into(),
            ),
        };
        writeln!(
            out,
            "| {} | {} | {:.2}B | {:.2}B ({:.2}B) | {:.1} GiB | {} | {} | {} | {} |",
            model.id,
            settings.quantization.label(),
            p.total() as f64 / 1e9,
            p.active() as f64 / 1e9,
            p.active_read_per_token() as f64 / 1e9,
            weights,
            kv_text,
            fit,
            price,
            speed
        )
        .unwrap();
    }
    out
}

/// The reference's seven models: its quick table, its formula, and the serving estimate.
pub fn reference_comparison_table() -> String {
    let mut out = String::from("| model | quick table | reference formula | serving estimate (cheapest fit) | cheapest fit | $/h | output tok/s, whole instance (1 concurrent 1k/1k) |\n|---|---|---|---|---|---|---|\n");
    for model in reference_models() {
        let r = recommend(
            model,
            &Settings::defaults_for(model),
            EstimateMode::Serving,
            None,
        );
        let quick = model.reference.as_ref().map_or(0, |c| c.est_vram_gb);
        match r.cheapest() {
            Some(fit) => writeln!(
                out,
                "| {} | {} GB | {:.1} GB | {:.1} GiB per GPU ({:.1} weights + {:.1} KV) | `{}` | {:.2} | {:.0} |",
                model.id,
                quick,
                r.reference.total_gb,
                fit.serving.total() as f64 / GIB as f64,
                fit.serving.weights as f64 / GIB as f64,
                fit.serving.kv_cache as f64 / GIB as f64,
                fit.gpu.instance_type,
                fit.price_per_hour_usd,
                fit.speed.output_tokens_per_s
            ),
            None => writeln!(out, "| {} | {} GB | {:.1} GB | — | none | — | — |", model.id, quick, r.reference.total_gb),
        }
        .unwrap();
    }
    out
}

/// One estimate worked through term by term: Llama 3.1 8B (BF16, 8K context, one
/// sequence) on one A10.
pub fn worked_example() -> String {
    let model = builtin("llama-3.1-8b").expect("a built-in");
    let mut settings = Settings::defaults_for(model);
    settings.quantization = Quantization::Bf16;
    settings.context = 8192;
    settings.seqs = 1;
    let gpu = gpu_session_core::gpu::find("gpu_1x_a10").expect("in the catalog");
    let r = recommend(model, &settings, EstimateMode::Serving, Some(gpu));
    let row = r.row(gpu.instance_type).expect("a row per type");
    let s = &row.serving;
    let mib = |b: u64| format!("{:.1} MiB", b as f64 / MIB as f64);
    let gib = |b: u64| format!("{:.2} GiB", b as f64 / GIB as f64);
    let lines = [
        ("GPU memory (nvidia-smi)", format!("{} MiB", gpu.memory_mib)),
        ("weights", gib(s.weights)),
        ("KV bytes per token", format!("{} B", s.kv_bytes_per_token)),
        ("tokens held (context × sequences)", s.tokens.to_string()),
        ("KV cache", gib(s.kv_cache)),
        (
            "prefill chunk (SGLang's default here)",
            format!("{} tokens", s.sglang.chunked_prefill_size),
        ),
        ("activations", mib(s.activations)),
        ("CUDA context", mib(s.cuda_context)),
        (
            &*format!("workspaces ({} + cuBLAS)", s.attention_backend.as_str()),
            mib(s.workspaces),
        ),
        ("CUDA graphs", mib(s.cuda_graphs)),
        ("total per GPU", gib(s.total())),
        (
            "SGLang's reserve",
            format!("{:.0} MiB", s.sglang.reserved_mib),
        ),
        (
            "default --mem-fraction-static",
            format!("{:.3}", s.sglang.mem_fraction_static),
        ),
        ("free at SGLang's baseline", gib(s.pre_model_load_free)),
        ("KV pool", format!("{} tokens", row.kv_pool_tokens)),
        ("verdict", format!("{} ({})", row.fit.as_str(), row.reason)),
        (
            "speed (one 1k/1k request)",
            format!(
                "TTFT {:.0} ms, TPOT {:.1} ms, {:.1} output tokens/s",
                row.speed.ttft_ms, row.speed.tpot_ms, row.speed.output_tokens_per_s
            ),
        ),
        ("price", format!("${:.2}/hour", row.price_per_hour_usd)),
        (
            "cost",
            format!(
                "${:.2} per million output tokens",
                row.speed.usd_per_million_output_tokens
            ),
        ),
    ];
    let mut out = String::from("| term | value |\n|---|---|\n");
    for (term, value) in lines {
        writeln!(out, "| {term} | {} |", cell(&value)).unwrap();
    }
    out
}

/// The figures "Accuracy" quotes where the serving estimate departs from the reference's
/// quick table: each computed by core for the settings named in its row.
pub fn accuracy_facts() -> String {
    let model = |id| builtin(id).expect("a built-in");
    let at = |id, q: Quantization, context: u32, gpu: &str| {
        let m = model(id);
        let mut s = Settings::defaults_for(m);
        s.quantization = q;
        s.context = context;
        s.seqs = 1;
        let gpu = gpu_session_core::gpu::find(gpu).expect("in the catalog");
        let r = recommend(m, &s, EstimateMode::Serving, Some(gpu));
        r.row(gpu.instance_type).expect("a row per type").clone()
    };
    let gib = |b: u64| format!("{:.1} GiB", b as f64 / GIB as f64);
    let llama70 = at(
        "llama-3.1-70b",
        Quantization::Bf16,
        8192,
        "gpu_8x_a100_80gb_sxm4",
    );
    let llama70_tp1 = at(
        "llama-3.1-70b",
        Quantization::Bf16,
        8192,
        "gpu_1x_a100_sxm4_80gb",
    );
    let coder = at(
        "qwen2.5-coder-32b",
        Quantization::Bf16,
        32768,
        "gpu_1x_gh200",
    );
    let coder_int4 = at(
        "qwen2.5-coder-32b-int4",
        Quantization::Int4,
        32768,
        "gpu_1x_a6000",
    );
    let on_a10 = at("llama-3.1-8b", Quantization::Fp16, 8192, "gpu_1x_a10");
    let on_h100 = at("llama-3.1-8b", Quantization::Fp16, 8192, "gpu_1x_h100_sxm5");
    let rows = [
        (
            "Llama-3.1-70B, KV cache per token (16 bit, one GPU)",
            format!("{} KiB", llama70_tp1.serving.kv_bytes_per_token / 1024),
        ),
        (
            "Llama-3.1-70B, KV cache of one 8K sequence (16 bit, one GPU)",
            gib(llama70_tp1.serving.kv_cache),
        ),
        (
            "Llama-3.1-70B, KV cache of one 8K sequence per GPU at TP 8",
            gib(llama70.serving.kv_cache),
        ),
        (
            "Qwen2.5-Coder-32B, KV cache of one 32K sequence (16 bit)",
            gib(coder.serving.kv_cache),
        ),
        (
            "Qwen2.5-Coder-32B INT4 (AWQ), weights",
            gib(coder_int4.serving.weights),
        ),
        (
            "Llama-3.1-8B FP16, decode tokens/s of one 1k/1k request on an A10",
            format!("{:.0}", on_a10.speed.output_tokens_per_s_per_user),
        ),
        (
            "Llama-3.1-8B FP16, decode tokens/s of one 1k/1k request on an H100 SXM",
            format!("{:.0}", on_h100.speed.output_tokens_per_s_per_user),
        ),
    ];
    let mut out = String::from("| figure | serving estimate |\n|---|---|\n");
    for (what, value) in rows {
        writeln!(out, "| {what} | {value} |").unwrap();
    }
    out
}

/// Every generated file of docs/src/generated/, by name.
pub fn all() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = constant_groups()
        .iter()
        .map(|(group, list)| (format!("constants-{group}.md"), constants_table(list)))
        .collect();
    files.extend([
        ("catalog.md".to_owned(), catalog_table()),
        ("quantization.md".to_owned(), quantization_table()),
        ("sglang-defaults.md".to_owned(), sglang_defaults_table()),
        ("kv-pools.md".to_owned(), kv_pools_table()),
        ("models.md".to_owned(), models_table()),
        (
            "reference-comparison.md".to_owned(),
            reference_comparison_table(),
        ),
        ("worked-example.md".to_owned(), worked_example()),
        ("accuracy-facts.md".to_owned(), accuracy_facts()),
        ("speed-accuracy.md".to_owned(), speed_accuracy::page()),
    ]);
    files
}
