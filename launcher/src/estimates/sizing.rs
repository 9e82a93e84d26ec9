//! Sizing a model for the settings the flags ask for, shared by `estimate`, `models`,
//! `gpus` and `plan`: settings from flags, both breakdowns side by side, the GPU fit
//! table, and their JSON. Every number comes from gpu-session-core; this module only
//! chooses and formats.

use crate::cli::{ModeArg, SettingsArgs};
use crate::output::{wrap, Align, Cell, Style, Table, PROSE_WIDTH};
use anyhow::{anyhow, Context as _};
use gpu_session_core::arch::Architecture;
use gpu_session_core::gpu::{self, GpuType, CATALOG, OFFERED_AS_OF, PRICE_SNAPSHOT};
use gpu_session_core::present::{self, Unit};
use gpu_session_core::recommend::{recommend_at, Fit, GpuFit, Recommendation};
use gpu_session_core::reference::ReferenceEstimate;
use gpu_session_core::registry::{self, Model};
use gpu_session_core::registry::{QuantMethod, ReferenceCard};
use gpu_session_core::serving::{self, ServingEstimate};
use gpu_session_core::settings::{EstimateMode, Settings};
use gpu_session_core::speed::Speed;
use gpu_session_core::validate::FieldError;
use gpu_session_core::Quantization;
use serde::Serialize;
use serde_json::{json, Value};
use std::fmt::Write as _;

/// A catalog instance type by name, or an error naming `--gpu` with close names.
pub fn find_gpu(name: &str) -> anyhow::Result<&'static GpuType> {
    gpu::find(name).ok_or_else(|| {
        let close = registry::suggest(name, CATALOG.iter().map(|g| g.instance_type));
        let hint = if close.is_empty() {
            String::new()
        } else {
            format!(" Did you mean: {}?", close.join(", "))
        };
        anyhow!("--gpu: '{name}' is not a known Lambda instance type.{hint} Use 'gpu-session gpus' to list them.")
    })
}

/// A settings error from core, with the flag that set the field.
fn settings_error(e: &FieldError) -> anyhow::Error {
    let flag = match e.field.as_str() {
        "gpus" => "--tp",
        "seqs" | "concurrency" => "--seqs",
        "input_tokens" => "--input-tokens",
        "output_tokens" => "--output-tokens",
        "rate" => "--rate",
        _ => "--context",
    };
    anyhow!("{flag}: '{}' {}", e.value, e.reason)
}

/// The settings the flags ask for, on top of the model's defaults; out-of-range values
/// are errors (never silently clamped). `gpus` is `--tp`, else 1.
pub fn settings_from(model: &Model, args: &SettingsArgs) -> anyhow::Result<Settings> {
    let defaults = Settings::defaults_for(model);
    let settings = Settings {
        quantization: args.quantization.unwrap_or(defaults.quantization),
        context: args.context.unwrap_or(defaults.context),
        seqs: args.seqs.unwrap_or(defaults.seqs),
        kv_dtype: args.kv_dtype.unwrap_or(defaults.kv_dtype),
        gpus: args.tp.unwrap_or(defaults.gpus),
        input_tokens: args.input_tokens.unwrap_or(defaults.input_tokens),
        output_tokens: args.output_tokens.unwrap_or(defaults.output_tokens),
        rate: args.rate.or(defaults.rate),
    };
    settings
        .validate_for(model)
        .map_err(|e| settings_error(&e))?;
    Ok(settings)
}

pub fn mode_from(arg: Option<ModeArg>) -> EstimateMode {
    match arg {
        Some(ModeArg::Reference) => EstimateMode::Reference,
        Some(ModeArg::Serving) | None => EstimateMode::Serving,
    }
}

/// A model sized for some settings: the recommendation over every GPU type, and the
/// type the headline serving breakdown is for.
#[derive(Debug)]
pub struct Sizing<'m> {
    pub model: &'m Model,
    pub rec: Recommendation,
    /// `--gpu`, else the cheapest fit (else the first catalog type when nothing fits).
    pub gpu: &'static GpuType,
}

impl<'m> Sizing<'m> {
    /// Size for the flags' settings. Without `--tp` the headline breakdown shards over
    /// all GPUs of its type, as a launch of that type would.
    pub fn new(
        model: &'m Model,
        args: &SettingsArgs,
        gpu: Option<&'static GpuType>,
    ) -> anyhow::Result<Sizing<'m>> {
        let settings = settings_from(model, args)?;
        Ok(Sizing::build(
            model,
            settings,
            mode_from(args.mode),
            gpu,
            args.tp.is_none(),
            args.mem_fraction_static,
        ))
    }

    /// Size at the model's own defaults (what `models` and `models info` show).
    pub fn defaults(model: &'m Model) -> Sizing<'m> {
        let settings = Settings::defaults_for(model);
        Sizing::build(model, settings, EstimateMode::Serving, None, true, None)
    }

    fn build(
        model: &'m Model,
        settings: Settings,
        mode: EstimateMode,
        gpu: Option<&'static GpuType>,
        shard_over_type: bool,
        user_fraction: Option<f64>,
    ) -> Sizing<'m> {
        let gpu = gpu.unwrap_or_else(|| {
            recommend_at(model, &settings, mode, None, user_fraction)
                .cheapest()
                .map_or(&CATALOG[0], |row| row.gpu)
        });
        let settings = if shard_over_type {
            Settings {
                gpus: gpu.gpu_count,
                ..settings
            }
        } else {
            settings
        };
        Sizing {
            model,
            rec: recommend_at(model, &settings, mode, Some(gpu), user_fraction),
            gpu,
        }
    }

    fn unit(&self) -> Unit {
        match self.rec.mode {
            EstimateMode::Serving => Unit::GiB,
            EstimateMode::Reference => Unit::GB,
        }
    }

    /// Model name and the settings in force, one line each.
    pub fn render_heading(&self, color: bool) -> String {
        let m = self.model;
        let s = &self.rec.settings;
        let title = Style::Bold.paint(&format!("{} ({})", m.name, m.id), color);
        let seqs = if s.seqs == 1 {
            "1 sequence".to_string()
        } else {
            format!("{} sequences", s.seqs)
        };
        let mut out = format!(
            "{title}\n  {} weights, {} context, {seqs}, KV cache {}; fit decided by the {} estimate\n  Workload: {}\n",
            s.quantization.label(),
            present::context(s.context),
            s.kv_dtype,
            self.rec.mode.as_str(),
            workload_sentence(s),
        );
        for line in architecture_note(m)
            .iter()
            .flat_map(|n| wrap(n, PROSE_WIDTH))
        {
            let _ = writeln!(out, "  {line}");
        }
        out
    }

    /// Both breakdowns side by side, then KV and SGLang details.
    pub fn render_memory(&self, color: bool) -> String {
        let r = &self.rec.reference;
        let s = &self.rec.serving;
        let gb = |x: f64| present::amount(x, Unit::GB);
        let mut table = Table::new(&[
            ("PART", Align::Left),
            ("REFERENCE", Align::Right),
            ("SERVING", Align::Right),
        ])
        .indent(2);
        let rows = [
            ("Weights", gb(r.base_gb), present::gib(s.weights)),
            ("KV cache", gb(r.kv_cache_gb), present::gib(s.kv_cache)),
            (
                "Activations",
                gb(r.activations_gb),
                present::gib(s.activations),
            ),
            ("Overhead", gb(r.overhead_gb), present::gib(s.overhead())),
            ("  CUDA context", "-".into(), present::gib(s.cuda_context)),
            ("  Workspaces", "-".into(), present::gib(s.workspaces)),
            ("  CUDA graphs", "-".into(), present::gib(s.cuda_graphs)),
        ];
        for (part, reference, serving) in rows {
            table.row(vec![part.into(), reference.into(), serving.into()]);
        }
        table.row(vec![
            Cell::styled("Total", Style::Bold),
            Cell::styled(gb(r.total_gb), Style::Bold),
            Cell::styled(present::gib(s.total()), Style::Bold),
        ]);
        let mut out = format!("{}\n", Style::Bold.paint("Memory", color));
        out.push_str(&table.render(color));
        let min_gpu = gpu::smallest_with_memory(r.min_gpu_gb)
            .map_or(String::new(), |g| format!(" ({})", g.instance_type));
        let lines = [
            format!(
                "Reference: the published formula, whole model; minimum GPU {} GB{min_gpu}.",
                r.min_gpu_gb
            ),
            format!(
                "Serving: what SGLang holds on each GPU of {} at TP {}.",
                self.gpu.instance_type, s.tp
            ),
            present::parameters_sentence(self.model),
            self.kv_line(s),
        ]
        .into_iter()
        .chain(present::experts_sentence(
            self.expert_weights_per_gpu(),
            s.weights,
        ))
        .chain(present::kv_by_layer_kind_sentence(&s.kv_layout))
        .chain([self.sglang_line(s)]);
        for line in lines {
            for wrapped in wrap(&line, PROSE_WIDTH) {
                let _ = writeln!(out, "  {wrapped}");
            }
        }
        out
    }

    /// Bytes of routed-expert weights on each GPU of the headline breakdown.
    fn expert_weights_per_gpu(&self) -> u64 {
        serving::expert_weights_per_gpu(
            &self.model.effective_architecture().0,
            self.rec.settings.quantization,
            self.rec.serving.tp,
        )
    }

    fn kv_line(&self, s: &ServingEstimate) -> String {
        let heads = if s.kv_layout.latent {
            "MLA: one latent per layer, whole on every GPU".to_string()
        } else {
            format!(
                "{} of {} KV heads",
                s.kv_heads_per_gpu,
                self.model.effective_architecture().0.kv_heads
            )
        };
        format!(
            "KV cache: {} bytes per token per GPU ({heads}), {} tokens.",
            present::thousands(s.kv_bytes_per_token),
            present::thousands(s.tokens)
        )
    }

    fn sglang_line(&self, s: &ServingEstimate) -> String {
        let mut line = format!(
            "SGLang defaults there: chunked prefill {}, --mem-fraction-static {}, CUDA graphs to batch {}.",
            present::thousands(u64::from(s.sglang.chunked_prefill_size)),
            s.sglang.mem_fraction_static,
            s.sglang.cuda_graph_max_bs
        );
        if let Some(row) = self.headline_row() {
            if row.mem_fraction_static > row.default_mem_fraction_static {
                let _ = write!(
                    line,
                    " A plan raises --mem-fraction-static to {} so the KV pool holds the requested tokens.",
                    row.mem_fraction_static
                );
            }
        }
        line
    }

    fn headline_row(&self) -> Option<&GpuFit> {
        self.rec.row(self.gpu.instance_type)
    }

    /// The fit on every GPU type, the cheapest fit marked, and the price dates.
    pub fn render_fit(&self, color: bool) -> String {
        let prices = PriceNotes::new(CATALOG.iter());
        let mut out = format!(
            "{} {}\n",
            Style::Bold.paint("GPU fit", color),
            "(each type shards the model over all its GPUs; * = cheapest fit)"
        );
        out.push_str(&self.fit_table(&prices).render(color));
        let _ = writeln!(out, "{}", speed_footer(&self.rec));
        let _ = writeln!(out, "{}", prices.footer());
        if let Some(cheapest) = self.rec.cheapest() {
            let _ = writeln!(
                out,
                "Cheapest fit: {} at {}; {}.",
                cheapest.gpu.instance_type,
                prices.per_hour(cheapest.gpu),
                cheapest.reason
            );
        } else {
            let _ = writeln!(
                out,
                "No instance type fits these settings: lower the context, sequences or quantization."
            );
        }
        out
    }

    fn fit_table(&self, prices: &PriceNotes) -> Table {
        let mut table = Table::new(&[
            ("", Align::Left),
            ("TYPE", Align::Left),
            ("MEMORY", Align::Right),
            ("FIT", Align::Left),
            ("NEED/GPU", Align::Right),
            ("HEADROOM", Align::Right),
            ("KV POOL", Align::Right),
            ("MAX CTX", Align::Right),
            ("MAX SEQS", Align::Right),
            ("TTFT MS", Align::Right),
            ("TPOT MS", Align::Right),
            ("OUT TOK/S", Align::Right),
            ("$/H", Align::Right),
            ("$/1M OUT", Align::Right),
        ]);
        let cheapest = self.rec.cheapest().map(|r| r.gpu.instance_type);
        for row in &self.rec.rows {
            let marker = if Some(row.gpu.instance_type) == cheapest {
                Cell::styled("*", Style::Green)
            } else {
                Cell::default()
            };
            let runs = row.fit != Fit::No;
            let if_runs = |text: String| if runs { text } else { "-".to_string() };
            table.row(vec![
                marker,
                row.gpu.instance_type.into(),
                memory_label(row.gpu).into(),
                fit_cell(row, self.rec.settings.seqs),
                self.amount(row.needed_bytes as f64).into(),
                self.signed_amount(row.headroom_bytes).into(),
                if_runs(present::thousands(row.kv_pool_tokens)).into(),
                if_runs(present::thousands(u64::from(row.max_context))).into(),
                if_runs(row.max_seqs.to_string()).into(),
                if_runs(present::milliseconds(row.speed.ttft_ms)).into(),
                if_runs(present::milliseconds(row.speed.tpot_ms)).into(),
                if_runs(saturated(
                    present::tokens_per_s(row.speed.output_tokens_per_s),
                    &row.speed,
                ))
                .into(),
                prices.cell(row.gpu).into(),
                if_runs(present::usd_fine(row.speed.usd_per_million_output_tokens)).into(),
            ]);
        }
        table
    }

    fn amount(&self, bytes: f64) -> String {
        match self.unit() {
            Unit::GiB => present::amount(bytes / gpu::GIB as f64, Unit::GiB),
            Unit::GB => present::amount(bytes / 1e9, Unit::GB),
        }
    }

    fn signed_amount(&self, bytes: i64) -> String {
        match self.unit() {
            Unit::GiB => present::signed_gib(bytes),
            Unit::GB => format!("{:+.1} GB", bytes as f64 / 1e9),
        }
    }

    /// Everything above as JSON: the model, settings, both estimates and every GPU row.
    pub fn to_json(&self) -> anyhow::Result<Value> {
        sorted_json(&SizingJson {
            model: ModelJson::new(self.model),
            settings: &self.rec.settings,
            mode: self.rec.mode,
            reference: ReferenceJson::new(&self.rec),
            serving: ServingJson::new(self),
            gpus: self.rec.rows.iter().map(fit_json).collect(),
            cheapest_fit: self.rec.cheapest().map(|r| r.gpu.instance_type),
            price_snapshot: PRICE_SNAPSHOT,
        })
    }
}

/// Why the parameter count or shape is approximate, when it is.
pub fn architecture_note(model: &Model) -> Option<String> {
    model.effective_architecture().1.then(|| {
        "Architecture inferred from the size (a Llama-family shape): give --layers, --hidden, --intermediate, --heads and --vocab for exact KV and weights.".to_string()
    })
}

/// `1x 24 GB`, `8x 80 GB`.
pub fn memory_label(g: &GpuType) -> String {
    format!("{}x {} GB", g.gpu_count, g.nominal_memory_gb)
}

/// The colour of a verdict: green fits, yellow tight or queues, red no.
pub fn fit_style(fit: Fit) -> Style {
    match fit {
        Fit::Fits => Style::Green,
        Fit::Tight | Fit::Queues => Style::Yellow,
        Fit::No => Style::Red,
    }
}

/// The verdict, "queues: 3 of 8 at once" when sequences queue.
fn fit_cell(row: &GpuFit, seqs: u32) -> Cell {
    Cell::styled(row.fit.label(row.max_seqs, seqs), fit_style(row.fit))
}

/// "32 concurrent 1k/1k requests (1,000 prompt + 1,000 output tokens each)", with how
/// many run at once when a rate is given.
pub fn workload_sentence(s: &Settings) -> String {
    let shape = format!(
        "({} prompt + {} output tokens each)",
        present::thousands(u64::from(s.input_tokens)),
        present::thousands(u64::from(s.output_tokens))
    );
    match s.rate {
        None => format!("{} requests {shape}", s.workload().basis()),
        Some(_) => format!(
            "{} requests {shape}, at most {} running at once (--seqs)",
            s.workload().basis(),
            s.seqs
        ),
    }
}

/// A throughput marked `!` when the rate is more than the instance completes.
fn saturated(text: String, speed: &Speed) -> String {
    if speed.saturated {
        format!("{text}!")
    } else {
        text
    }
}

/// What the speed columns mean, under the table.
fn speed_footer(rec: &Recommendation) -> String {
    let basis = rec.settings.workload().basis();
    let mut line = format!("Speed at {basis} requests: TTFT and TPOT are per request (mean, ms); OUT TOK/S is output tokens/s of the whole instance; $/1M OUT is dollars per million output tokens.");
    if rec
        .rows
        .iter()
        .any(|r| r.fit != Fit::No && r.speed.saturated)
    {
        line.push_str(
            " ! = saturated: the rate is more than the instance completes, the queue grows.",
        );
    }
    wrap(&line, PROSE_WIDTH).join("\n")
}

/// Marks prices whose date differs from the catalog snapshot, and explains the marks
/// (and that a marked type is no longer offered, when it is not).
#[derive(Debug)]
pub struct PriceNotes {
    /// Dates other than [`PRICE_SNAPSHOT`] among the prices shown, in first-seen order,
    /// each with whether a type priced at it is no longer offered on demand.
    others: Vec<(&'static str, bool)>,
}

const PRICE_MARKS: [&str; 4] = ["†", "‡", "§", "¶"];

impl PriceNotes {
    pub fn new<'a>(gpus: impl Iterator<Item = &'a GpuType>) -> PriceNotes {
        let mut others: Vec<(&'static str, bool)> = Vec::new();
        for g in gpus.filter(|g| g.price_as_of != PRICE_SNAPSHOT) {
            match others.iter_mut().find(|(date, _)| *date == g.price_as_of) {
                Some((_, not_offered)) => *not_offered |= !g.offered,
                None => others.push((g.price_as_of, !g.offered)),
            }
        }
        PriceNotes { others }
    }

    fn mark(&self, gpu: &GpuType) -> &'static str {
        self.others
            .iter()
            .position(|(d, _)| *d == gpu.price_as_of)
            .map_or("", |i| PRICE_MARKS.get(i).copied().unwrap_or("*"))
    }

    /// `$0.80/h‡`: the hourly price and the mark of its date, for sentences.
    pub fn per_hour(&self, gpu: &GpuType) -> String {
        format!(
            "{}/h{}",
            present::usd(gpu.price_per_hour_usd()),
            self.mark(gpu)
        )
    }

    /// `$0.80‡` for a `$/H` column; unmarked prices get a space when others are marked,
    /// so the digits of the right-aligned column line up.
    pub fn cell(&self, gpu: &GpuType) -> String {
        let mark = match self.mark(gpu) {
            "" if !self.others.is_empty() => " ",
            mark => mark,
        };
        format!("{}{mark}", present::usd(gpu.price_per_hour_usd()))
    }

    /// `Prices: Lambda on-demand per instance-hour, as of 2026-09-20; † original tool
    /// docs, not offered on demand as of 2026-09-20.`
    pub fn footer(&self) -> String {
        let mut line =
            format!("Prices: Lambda on-demand, per instance-hour, as of {PRICE_SNAPSHOT}");
        for (i, (date, not_offered)) in self.others.iter().enumerate() {
            let mark = PRICE_MARKS.get(i).copied().unwrap_or("*");
            let _ = write!(line, "; {mark} {date}");
            if *not_offered {
                let _ = write!(line, ", not offered on demand as of {OFFERED_AS_OF}");
            }
        }
        line.push('.');
        line
    }
}

/// A model's facts as JSON (no estimates).
#[derive(Debug, Serialize)]
pub struct ModelJson<'a> {
    id: &'a str,
    name: &'a str,
    tagline: &'a str,
    hf_path: &'a str,
    params: u64,
    /// Parameters one token uses (routed experts: only those it is routed to).
    active_params: u64,
    /// The routed experts' share of `params` (0 for a dense model).
    routed_expert_params: u64,
    params_billions: f64,
    quantization: Quantization,
    context_length: u32,
    max_context: u32,
    builtin: bool,
    gated: bool,
    architecture: Architecture,
    architecture_inferred: bool,
    best_for: &'a str,
    good_for: &'a [String],
    not_good_for: &'a [String],
    notes: &'a str,
    checkpoints: Vec<CheckpointJson>,
    reference_card: &'a Option<ReferenceCard>,
}

/// A checkpoint SGLang can serve the model from, with SGLang's `--quantization` for it.
#[derive(Debug, Serialize)]
struct CheckpointJson {
    quantization: Quantization,
    hf_path: String,
    method: QuantMethod,
    sglang_quantization: Option<&'static str>,
}

impl<'a> ModelJson<'a> {
    pub fn new(m: &'a Model) -> ModelJson<'a> {
        let (architecture, architecture_inferred) = m.effective_architecture();
        let checkpoints = m
            .servable_quantizations()
            .into_iter()
            .filter_map(|q| m.checkpoint_for(q).ok().map(|c| (q, c)))
            .map(|(quantization, c)| CheckpointJson {
                quantization,
                sglang_quantization: c.method.sglang_flag(),
                method: c.method,
                hf_path: c.hf_path,
            })
            .collect();
        ModelJson {
            id: &m.id,
            name: &m.name,
            tagline: &m.tagline,
            hf_path: &m.hf_path,
            params: m.param_count(),
            active_params: architecture.active_param_count(),
            routed_expert_params: architecture.param_breakdown().experts,
            params_billions: m.params_billions,
            quantization: m.quantization,
            context_length: m.context_length,
            max_context: m.max_context(),
            builtin: m.builtin,
            gated: m.gated,
            architecture,
            architecture_inferred,
            best_for: &m.best_for,
            good_for: &m.good_for,
            not_good_for: &m.not_good_for,
            notes: &m.notes,
            checkpoints,
            reference_card: &m.reference,
        }
    }
}

/// The reference estimate with the instance type its minimum-GPU rule picks.
#[derive(Debug, Serialize)]
pub struct ReferenceJson<'a> {
    #[serde(flatten)]
    estimate: &'a ReferenceEstimate,
    min_gpu_type: Option<&'static str>,
}

impl<'a> ReferenceJson<'a> {
    pub fn new(rec: &'a Recommendation) -> ReferenceJson<'a> {
        ReferenceJson {
            estimate: &rec.reference,
            min_gpu_type: gpu::smallest_with_memory(rec.reference.min_gpu_gb)
                .map(|g| g.instance_type),
        }
    }
}

/// A serving estimate (bytes per GPU) with its totals and the type it was sized for.
#[derive(Debug, Serialize)]
pub struct ServingJson<'a> {
    #[serde(flatten)]
    estimate: &'a ServingEstimate,
    instance_type: &'static str,
    overhead: u64,
    total: u64,
    /// The routed experts' share of `weights`.
    expert_weights: u64,
}

impl<'a> ServingJson<'a> {
    /// The headline serving estimate of `sizing`.
    pub fn new(sizing: &'a Sizing<'_>) -> ServingJson<'a> {
        let s = &sizing.rec.serving;
        ServingJson {
            estimate: s,
            instance_type: sizing.gpu.instance_type,
            overhead: s.overhead(),
            total: s.total(),
            expert_weights: sizing.expert_weights_per_gpu(),
        }
    }
}

/// `estimate --json` and `models info --json`.
#[derive(Debug, Serialize)]
struct SizingJson<'a> {
    model: ModelJson<'a>,
    settings: &'a Settings,
    mode: EstimateMode,
    reference: ReferenceJson<'a>,
    serving: ServingJson<'a>,
    gpus: Vec<Value>,
    cheapest_fit: Option<&'static str>,
    price_snapshot: &'static str,
}

/// A typed JSON document as a `Value`, whose maps keep their keys sorted: the order
/// `--json` output has always had.
pub fn sorted_json<T: Serialize>(document: &T) -> anyhow::Result<Value> {
    serde_json::to_value(document).context("cannot encode JSON")
}

/// One GPU row, flat: the type's facts and the verdict (the row's serving estimate is
/// left out; `estimate --gpu TYPE --json` gives it).
///
/// Built from core's own serialization of the row (minus `gpu` and `serving`) rather
/// than a field-by-field copy, so a field core adds to `GpuFit` shows up here too.
pub fn fit_json(row: &GpuFit) -> Value {
    let mut value = json!(row);
    if let Some(map) = value.as_object_mut() {
        map.remove("gpu");
        map.remove("serving");
        map.insert("instance_type".into(), json!(row.gpu.instance_type));
        map.insert("description".into(), json!(row.gpu.description));
        map.insert("gpu_count".into(), json!(row.gpu.gpu_count));
        map.insert("memory_gb".into(), json!(row.gpu.nominal_memory_gb));
        map.insert("price_as_of".into(), json!(row.gpu.price_as_of));
        map.insert("offered".into(), json!(row.gpu.offered));
    }
    value
}
