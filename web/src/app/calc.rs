//! The calculator: serving controls, the per-GPU total and its stacked breakdown.

use super::Calc;
use crate::sort::{FORMULAS, PART_FORMULAS};
use crate::{actions, scale};
use gpu_session_core::gpu::{self, CATALOG};
use gpu_session_core::present::{self, Fixed, MemoryBreakdown, Unit};
use gpu_session_core::settings::{EstimateMode, Settings, GPU_COUNTS, MAX_SEQS, MIN_CONTEXT};
use gpu_session_core::share::{ModelChoice, ShareState};
use gpu_session_core::{GpuFit, GpuType, KvDtype, Quantization};
use leptos::prelude::*;

#[component]
pub fn CalculatorSection(calc: Calc) -> impl IntoView {
    view! {
        <section class="panel calc" id="calculator" aria-labelledby="calc-title">
            <div class="section-head">
                <h2 id="calc-title">"2. Set how you will serve it"</h2>
                <p class="muted">
                    {move || calc.model.with(|m| format!("{} · every change updates the estimate and the link", m.name))}
                </p>
            </div>
            <div class="calc-grid">
                <Controls calc=calc/>
                <Results calc=calc/>
            </div>
        </section>
    }
}

fn kv_label(k: KvDtype) -> &'static str {
    match k {
        KvDtype::Auto => "auto (model dtype)",
        KvDtype::Fp8E5m2 => "FP8 E5M2",
        KvDtype::Fp8E4m3 => "FP8 E4M3",
    }
}

/// The serving controls, one function per field; each writes through `calc.apply`.
#[component]
fn Controls(calc: Calc) -> impl IntoView {
    let settings = Memo::new(move |_| calc.state.with(|s| s.settings));
    view! {
        <form class="controls" on:submit=|ev| ev.prevent_default() aria-label="Serving settings">
            {quantization_field(calc, settings)}
            {context_field(calc, settings)}
            {load_field(calc, settings)}
            {seqs_field(calc, settings)}
            {tokens_field(calc, settings)}
            {rate_field(calc, settings)}
            {kv_field(calc, settings)}
            {gpu_type_field(calc)}
            {gpu_count_field(calc, settings)}
            {mode_field(calc)}
        </form>
    }
}

/// A custom model without a repository has no checkpoint at any quantization yet.
fn needs_repo(calc: Calc) -> bool {
    calc.state
        .with(|s| matches!(&s.model, ModelChoice::Custom(c) if c.hf_path.is_none()))
}

/// Which checkpoint the chosen quantization loads, or why there is none.
fn checkpoint_note(calc: Calc, settings: Memo<Settings>) -> impl IntoView {
    move || {
        let q = settings.with(|s| s.quantization);
        if needs_repo(calc) {
            return view! {
                <small class="muted" data-testid="checkpoint">
                    "Add the model's Hugging Face repository above to export a plan."
                </small>
            }
            .into_any();
        }
        calc.model.with(|m| match m.checkpoint_for(q) {
            Ok(c) => view! {
                <small class="muted" data-testid="checkpoint">
                    "Loads " <code>{c.hf_path}</code>
                    {c.method.sglang_flag().map(|f| format!(" with --quantization {f}"))}
                </small>
            }
            .into_any(),
            Err(e) => {
                view! { <small class="warn" data-testid="checkpoint">{e.hint}</small> }.into_any()
            }
        })
    }
}

fn quantization_field(calc: Calc, settings: Memo<Settings>) -> impl IntoView {
    view! {
    <div class="field">
        <label for="quant-select">"Weight quantization"</label>
        <select
            id="quant-select"
            data-testid="quant-select"
            on:change=move |ev| {
                if let Ok(q) = event_target_value(&ev).parse::<Quantization>() {
                    calc.set_settings(|s| s.quantization = q);
                }
            }
        >
            {Quantization::ALL
                .into_iter()
                .map(|q| {
                    view! {
                        <option
                            value=q.as_str()
                            prop:selected=move || settings.with(|s| s.quantization == q)
                            selected=move || settings.with(|s| s.quantization == q)
                        >
                            {move || {
                                let servable = needs_repo(calc)
                                    || calc.model.with(|m| m.checkpoint_for(q).is_ok());
                                if servable { q.label().to_string() } else { format!("{} (no checkpoint)", q.label()) }
                            }}
                        </option>
                    }
                })
                .collect_view()}
        </select>
        {checkpoint_note(calc, settings)}
    </div>
    }
}

fn context_field(calc: Calc, settings: Memo<Settings>) -> impl IntoView {
    let state = calc.state;
    let ctx_stops =
        Memo::new(move |_| scale::stops(MIN_CONTEXT, state.with(actions::context_limit)));
    let set_context = move |ctx: u32| {
        let limit = state.with_untracked(actions::context_limit);
        calc.set_settings(|s| s.context = ctx.clamp(MIN_CONTEXT, limit))
    };
    // Slider positions, also written as attributes so the pre-rendered HTML shows them.
    let ctx_position = move || {
        let ctx = settings.with(|s| s.context);
        ctx_stops.with(|s| scale::position(s, ctx)).to_string()
    };
    view! {
    <div class="field">
        <label for="ctx-slider">
            "Context length "
            <output class="value" data-testid="ctx-value">
                {move || format!("{} tokens", present::context(settings.with(|s| s.context)))}
            </output>
        </label>
        <div class="slider-row">
            <input
                id="ctx-slider"
                type="range"
                min="0"
                step="1"
                data-testid="ctx-slider"
                aria-valuetext=move || format!("{} tokens", settings.with(|s| s.context))
                prop:max=move || ctx_stops.with(|s| s.len() - 1).to_string()
                max=move || ctx_stops.with(|s| s.len() - 1).to_string()
                prop:value=ctx_position
                value=ctx_position
                on:input=move |ev| {
                    if let Ok(pos) = event_target_value(&ev).parse::<usize>() {
                        set_context(ctx_stops.with_untracked(|s| scale::value_at(s, pos)));
                    }
                }
            />
            <input
                type="number"
                class="num"
                min=MIN_CONTEXT
                aria-label="Context length in tokens"
                data-testid="ctx-input"
                prop:max=move || state.with(actions::context_limit).to_string()
                max=move || state.with(actions::context_limit).to_string()
                prop:value=move || settings.with(|s| s.context).to_string()
                value=move || settings.with(|s| s.context).to_string()
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).trim().parse::<u32>() {
                        set_context(v);
                    }
                }
            />
        </div>
        <small class="muted scale">
            <span>"512"</span>
            <span>{move || present::context(state.with(actions::context_limit))}</span>
        </small>
    </div>
    }
}

fn seqs_field(calc: Calc, settings: Memo<Settings>) -> impl IntoView {
    let seq_stops = StoredValue::new(scale::stops(1, MAX_SEQS));
    let seq_last = seq_stops.with_value(|s| s.len() - 1);
    let set_seqs = move |seqs: u32| calc.set_settings(|s| s.seqs = seqs.clamp(1, MAX_SEQS));
    let seq_position = move || {
        let n = settings.with(|s| s.seqs);
        seq_stops.with_value(|s| scale::position(s, n)).to_string()
    };
    view! {
    <div class="field">
        <label for="seq-slider">
            {move || if settings.with(|s| s.rate.is_some()) { "At most running at once " } else { "Concurrent sequences " }}
            <output class="value" data-testid="seq-value">{move || settings.with(|s| s.seqs)}</output>
        </label>
        <div class="slider-row">
            <input
                id="seq-slider"
                type="range"
                min="0"
                max=seq_last
                step="1"
                data-testid="seq-slider"
                prop:value=seq_position
                value=seq_position
                on:input=move |ev| {
                    if let Ok(pos) = event_target_value(&ev).parse::<usize>() {
                        set_seqs(seq_stops.with_value(|s| scale::value_at(s, pos)));
                    }
                }
            />
            <input
                type="number"
                class="num"
                min="1"
                max=MAX_SEQS
                aria-label="Concurrent sequences"
                data-testid="seq-input"
                prop:value=move || settings.with(|s| s.seqs).to_string()
                value=move || settings.with(|s| s.seqs).to_string()
                on:change=move |ev| {
                    if let Ok(v) = event_target_value(&ev).trim().parse::<u32>() {
                        set_seqs(v);
                    }
                }
            />
        </div>
    </div>
    }
}

/// How the server is loaded: the concurrent sequences above, or a request rate.
fn load_field(calc: Calc, settings: Memo<Settings>) -> impl IntoView {
    view! {
    <fieldset class="field segmented" data-testid="load-mode">
        <legend>"Load"</legend>
        <div class="seg">
            {[(false, "concurrent", "Concurrent requests"), (true, "rate", "Request rate")]
                .into_iter()
                .map(|(rate, key, label)| {
                    let on = move || settings.with(|s| s.rate.is_some() == rate);
                    view! {
                        <label>
                            <input
                                type="radio"
                                name="load-mode"
                                value=key
                                data-testid=format!("load-{key}")
                                prop:checked=on
                                checked=on
                                on:change=move |_| calc.apply(|s| actions::use_rate(s, rate))
                            />
                            <span>{label}</span>
                        </label>
                    }
                })
                .collect_view()}
        </div>
    </fieldset>
    }
}

/// One number input of the workload; `set` is the action its change applies.
fn number_input(
    calc: Calc,
    testid: &'static str,
    label: &'static str,
    value: impl Fn() -> String + Copy + Send + Sync + 'static,
    set: fn(&ShareState, &str) -> ShareState,
) -> impl IntoView {
    view! {
        <label class="field">
            <span>{label}</span>
            <input
                type="text"
                inputmode="decimal"
                class="num"
                data-testid=testid
                prop:value=value
                value=value
                on:change=move |ev| {
                    let text = event_target_value(&ev);
                    calc.apply(|s| set(s, &text));
                }
            />
        </label>
    }
}

/// Prompt and output tokens per request: the workload the speed columns are for.
fn tokens_field(calc: Calc, settings: Memo<Settings>) -> impl IntoView {
    fn tokens(text: &str) -> Option<u32> {
        text.trim().parse().ok()
    }
    view! {
        <div class="field-pair">
            {number_input(
                calc,
                "input-tokens",
                "Input tokens per request",
                move || settings.with(|s| s.input_tokens).to_string(),
                |s, t| tokens(t).map_or_else(|| s.clone(), |n| actions::set_input_tokens(s, n)),
            )}
            {number_input(
                calc,
                "output-tokens",
                "Output tokens per request",
                move || settings.with(|s| s.output_tokens).to_string(),
                |s, t| tokens(t).map_or_else(|| s.clone(), |n| actions::set_output_tokens(s, n)),
            )}
        </div>
    }
}

/// The request rate and, with it, the slot the service-level targets load into.
fn rate_field(calc: Calc, settings: Memo<Settings>) -> impl IntoView {
    // Rendered again only when the load changes, so the mounted targets stay put while
    // the rate is edited.
    let rated = Memo::new(move |_| settings.with(|s| s.rate.is_some()));
    move || {
        rated.get().then(|| view! {
            <div class="field-pair" data-testid="rate-fields">
                {number_input(
                    calc,
                    "rate-input",
                    "Requests per second",
                    move || settings.with(|s| s.rate.map(|r| r.to_string()).unwrap_or_default()),
                    actions::set_rate,
                )}
            </div>
            <TargetsSlot calc=calc/>
        })
    }
}

/// Where the service-level targets appear (see `super::targets`): only some visitors
/// set them, so `gpu-session-extras` mounts their inputs here the first time the load
/// is a request rate.
#[component]
fn TargetsSlot(calc: Calc) -> impl IntoView {
    let slot = NodeRef::<leptos::html::Div>::new();
    let error = RwSignal::new(None::<String>);
    #[cfg(target_arch = "wasm32")]
    super::mount_from_extras(calc, slot, super::dom::Mount::Targets, error);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = calc;
    view! {
        <div class="targets-slot" data-testid="targets-slot" node_ref=slot>
            <p class="muted small">"Loading the service-level targets…"</p>
            <p class="bad small" role="alert">{move || error.get()}</p>
        </div>
    }
}

fn kv_field(calc: Calc, settings: Memo<Settings>) -> impl IntoView {
    view! {
    <label class="field">
        <span>"KV-cache dtype"</span>
        <select
            data-testid="kv-select"
            on:change=move |ev| {
                if let Ok(k) = event_target_value(&ev).parse::<KvDtype>() {
                    calc.set_settings(|s| s.kv_dtype = k);
                }
            }
        >
            {KvDtype::ALL
                .into_iter()
                .map(|k| {
                    view! {
                        <option
                            value=k.as_str()
                            prop:selected=move || settings.with(|s| s.kv_dtype == k)
                            selected=move || settings.with(|s| s.kv_dtype == k)
                        >
                            {kv_label(k)}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    </label>
    }
}

fn gpu_type_field(calc: Calc) -> impl IntoView {
    let state = calc.state;
    view! {
    <label class="field">
        <span>"GPU type"</span>
        <select
            data-testid="gpu-select"
            on:change=move |ev| {
                let v = event_target_value(&ev);
                calc.apply(|s| actions::select_gpu(s, (!v.is_empty()).then_some(v.as_str())));
            }
        >
            <option
                value=""
                prop:selected=move || state.with(|s| s.gpu.is_none())
                selected=move || state.with(|s| s.gpu.is_none())
            >
                "Cheapest that fits (automatic)"
            </option>
            {CATALOG
                .iter()
                .map(|g| {
                    let name = g.instance_type;
                    view! {
                        <option
                            value=name
                            prop:selected=move || state.with(|s| s.gpu.as_deref() == Some(name))
                            selected=move || state.with(|s| s.gpu.as_deref() == Some(name))
                        >
                            {format!("{} · {}", g.description, present::usd(g.price_per_hour_usd()))}
                        </option>
                    }
                })
                .collect_view()}
        </select>
    </label>
    }
}

fn gpu_count_field(calc: Calc, settings: Memo<Settings>) -> impl IntoView {
    view! {
    <fieldset class="field segmented" data-testid="gpu-count">
        <legend>"GPUs (tensor parallel)"</legend>
        <div class="seg">
            {GPU_COUNTS
                .into_iter()
                .map(|n| {
                    view! {
                        <label>
                            <input
                                type="radio"
                                name="gpu-count"
                                value=n
                                data-testid=format!("gpu-count-{n}")
                                prop:checked=move || settings.with(|s| s.gpus == n)
                                checked=move || settings.with(|s| s.gpus == n)
                                on:change=move |_| calc.apply(|s| actions::set_gpu_count(s, n))
                            />
                            <span>{n}</span>
                        </label>
                    }
                })
                .collect_view()}
        </div>
    </fieldset>
    }
}

fn mode_field(calc: Calc) -> impl IntoView {
    let state = calc.state;
    view! {
    <fieldset class="field segmented" data-testid="estimate-mode">
        <legend>"Estimate"</legend>
        <div class="seg">
            {[(EstimateMode::Serving, "Serving (SGLang)"), (EstimateMode::Reference, "Reference formula")]
                .into_iter()
                .map(|(mode, label)| {
                    view! {
                        <label>
                            <input
                                type="radio"
                                name="estimate-mode"
                                value=mode.as_str()
                                data-testid=format!("mode-{}", mode.as_str())
                                prop:checked=move || state.with(|s| s.mode == mode)
                                checked=move || state.with(|s| s.mode == mode)
                                on:change=move |_| {
                                    calc.apply(|s| {
                                        let mut next = s.clone();
                                        next.mode = mode;
                                        next
                                    })
                                }
                            />
                            <span>{label}</span>
                        </label>
                    }
                })
                .collect_view()}
        </div>
    </fieldset>
    }
}

/// "2 × 8x H100 (80 GB SXM5)" when the state serves one model over two instances.
fn two_instances(s: &ShareState) -> Option<String> {
    let g = s.gpu.as_deref().and_then(gpu::find)?;
    (s.nodes > 1).then(|| format!("{} × {}", s.nodes, g.description))
}

/// Bar geometry: the SVG's user-space width.
const BAR_WIDTH: f64 = 1000.0;

/// The memory breakdown and the GPU it is drawn against.
#[derive(Clone, Copy)]
struct Sizing {
    breakdown: Memo<MemoryBreakdown>,
    /// The GPU the headline is sized for: the selected type, else the cheapest fit.
    gpu: Memo<Option<&'static GpuType>>,
}

impl Sizing {
    fn new(calc: Calc) -> Sizing {
        Sizing {
            breakdown: Memo::new(move |_| calc.rec.with(MemoryBreakdown::of)),
            gpu: Memo::new(move |_| {
                let selected = calc.state.with(|s| s.gpu.as_deref().and_then(gpu::find));
                selected.or_else(|| calc.rec.with(|r| r.cheapest().map(|row| row.gpu)))
            }),
        }
    }

    /// Capacity of that GPU in the breakdown's unit.
    fn capacity(self) -> Option<f64> {
        self.gpu
            .get()
            .map(|g| match self.breakdown.with(|b| b.unit) {
                Unit::GiB => g.memory_mib as f64 / 1024.0,
                Unit::GB => f64::from(g.nominal_memory_gb),
            })
    }

    /// Where `amount` falls on the bar, whose width holds the larger of the total and
    /// the capacity.
    fn bar_x(self, amount: f64) -> String {
        let total = self.breakdown.with(MemoryBreakdown::total);
        let scale = total
            .max(self.capacity().unwrap_or(0.0))
            .max(f64::MIN_POSITIVE);
        Fixed::<2>(amount / scale * BAR_WIDTH).to_string()
    }
}

#[component]
fn Results(calc: Calc) -> impl IntoView {
    let sizing = Sizing::new(calc);
    view! {
        <div class="results" aria-live="polite">
            {total(calc, sizing)}
            {breakdown_bar(sizing)}
            {legend(sizing)}
            {move || verdict(calc)}
            <ul class="model-facts" data-testid="model-facts">
                {move || {
                    calc.model.with(|m| calc.rec.with(|r| actions::model_facts(m, r)))
                        .into_iter()
                        .map(|fact| view! { <li>{fact}</li> })
                        .collect_view()
                }}
            </ul>
            {serving_details(calc)}
        </div>
    }
}

/// The memory needed per GPU and what it is sized for.
fn total(calc: Calc, sizing: Sizing) -> impl IntoView {
    let breakdown = sizing.breakdown;
    let caption = move || {
        let gpus = calc.state.with(|s| s.settings.gpus);
        let on = sizing
            .gpu
            .get()
            .map_or(String::new(), |g| format!(" · sized for {}", g.description));
        calc.state.with(|s| match s.mode {
            EstimateMode::Serving => {
                format!("per GPU, SGLang serving estimate, tensor parallel {gpus}{on}")
            }
            EstimateMode::Reference => {
                format!("per GPU, reference formula spread over {gpus} GPU(s){on}")
            }
        })
    };
    view! {
        <p class="total-label">"Memory needed"</p>
        <p class="total">
            <span data-testid="total-per-gpu">
                {move || breakdown.with(|b| present::amount(b.total(), b.unit))}
            </span>
        </p>
        <p class="muted small" data-testid="total-caption">{caption}</p>
    }
}

/// The stacked bar of the breakdown's parts, with a line at the GPU's capacity.
fn breakdown_bar(sizing: Sizing) -> impl IntoView {
    let breakdown = sizing.breakdown;
    let marker_x = move || {
        sizing
            .capacity()
            .map_or("-10".to_string(), |c| sizing.bar_x(c))
    };
    view! {
        <svg
            class="bar"
            viewBox="0 0 1000 48"
            preserveAspectRatio="none"
            role="img"
            data-testid="breakdown-bar"
            aria-label=move || {
                breakdown.with(|b| {
                    b.parts()
                        .iter()
                        .map(|(l, v)| format!("{l} {}", present::amount(*v, b.unit)))
                        .collect::<Vec<_>>()
                        .join(", ")
                })
            }
        >
            <rect class="track" x="0" y="6" width="1000" height="36" rx="4"></rect>
            {bar_segment(sizing, 0)}
            {bar_segment(sizing, 1)}
            {bar_segment(sizing, 2)}
            {bar_segment(sizing, 3)}
            <line class="cap" x1=marker_x x2=marker_x y1="0" y2="48"></line>
        </svg>
    }
}

/// Part `k` of the bar, after the parts before it.
fn bar_segment(sizing: Sizing, k: usize) -> impl IntoView {
    let breakdown = sizing.breakdown;
    let x = move || {
        let parts = breakdown.with(MemoryBreakdown::parts);
        let before: f64 = parts[..k].iter().map(|(_, v)| v).sum();
        sizing.bar_x(before)
    };
    let width = move || sizing.bar_x(breakdown.with(|b| b.parts()[k].1));
    view! { <rect class=format!("seg seg-{k}") x=x y="6" width=width height="36"></rect> }
}

/// Each part's amount with a link to its formula, and the GPU's memory.
fn legend(sizing: Sizing) -> impl IntoView {
    let breakdown = sizing.breakdown;
    view! {
        <ul class="legend">
            {["weights", "kv", "activations", "overhead"]
                .into_iter()
                .zip(PART_FORMULAS)
                .enumerate()
                .map(|(k, (key, formula))| {
                    view! {
                        <li>
                            <span class=format!("swatch seg-{k}")></span>
                            <span>{move || breakdown.with(|b| b.parts()[k].0)}</span>
                            <b data-testid=format!("breakdown-{key}")>
                                {move || breakdown.with(|b| present::amount(b.parts()[k].1, b.unit))}
                            </b>
                            <a
                                class="how"
                                href=format!("{FORMULAS}#{formula}")
                                title="How this part is computed"
                            >
                                "?"
                            </a>
                        </li>
                    }
                })
                .collect_view()}
            <li class="cap-legend">
                <span class="swatch cap"></span>
                <span>
                    {move || sizing.gpu.get().map_or("No GPU fits".to_string(), |g| format!("{} memory", g.gpu))}
                </span>
                <b>{move || sizing.capacity().map(|c| breakdown.with(|b| present::amount(c, b.unit)))}</b>
            </li>
        </ul>
    }
}

/// The selected or cheapest GPU type with its price and speed, or why none fits.
fn verdict(calc: Calc) -> AnyView {
    if let Some(two) = calc.state.with(two_instances) {
        return two_instance_verdict(two);
    }
    calc.rec.with(|r| {
        let selected = calc.state.with(|s| s.gpu.clone());
        let row = selected.as_deref().and_then(|g| r.row(g)).or_else(|| r.cheapest());
        let Some(row) = row else {
            return view! {
                <p class="verdict no" data-testid="verdict">
                    "No Lambda instance type fits these settings. Lower the context or sequences, quantize, or use more GPUs."
                </p>
            }
            .into_any();
        };
        let is_cheapest = r.cheapest().is_some_and(|c| c.gpu.instance_type == row.gpu.instance_type);
        let lead = if is_cheapest && selected.is_none() { "Cheapest fit" } else if is_cheapest { "Selected · cheapest fit" } else { "Selected" };
        row_verdict(row, lead)
    })
}

fn two_instance_verdict(two: String) -> AnyView {
    view! {
        <div class="verdict" data-testid="verdict">
            <p class="verdict-lead">
                <span class="muted">"Selected · two instances"</span>
                <strong data-testid="verdict-gpu">{two}</strong>
            </p>
            <p class="muted small">
                "One model over both nodes: its layout, fit, memory per GPU, speed and price are in the two-instance options under the GPU table. The numbers above are one instance's."
            </p>
        </div>
    }
    .into_any()
}

fn row_verdict(row: &GpuFit, lead: &'static str) -> AnyView {
    view! {
        <div class=format!("verdict {}", row.fit.as_str()) data-testid="verdict">
            <p class="verdict-lead">
                <span class="muted">{lead}</span>
                <strong data-testid="verdict-gpu">{row.gpu.description}</strong>
                <span class=format!("badge fit-{}", row.fit.as_str())>{row.fit.as_str()}</span>
            </p>
            <p class="verdict-numbers">
                <span><b>{present::usd(row.price_per_hour_usd)}</b>" /hour"</span>
                <span><b>{present::tokens_per_s(row.speed.output_tokens_per_s)}</b>" output tokens/s"</span>
                <span><b>{present::usd_fine(row.speed.usd_per_million_output_tokens)}</b>" /1M output tokens"</span>
            </p>
            <p class="muted small">{row.reason.clone()}</p>
        </div>
    }
    .into_any()
}

/// The serving numbers SGLang would run with.
fn serving_details(calc: Calc) -> impl IntoView {
    view! {
        <dl class="details" data-testid="serving-details">
            <div>
                <dt>"KV cache per token"</dt>
                <dd>{move || calc.rec.with(|r| format!("{} bytes", present::thousands(r.serving.kv_bytes_per_token)))}</dd>
            </div>
            <div>
                <dt>"Tokens held"</dt>
                <dd>{move || calc.rec.with(|r| present::thousands(r.serving.tokens))}</dd>
            </div>
            <div>
                <dt>"KV heads per GPU"</dt>
                <dd>{move || calc.rec.with(|r| r.serving.kv_heads_per_gpu)}</dd>
            </div>
            <div>
                <dt>"Prefill chunk"</dt>
                <dd>
                    {move || {
                        calc.rec.with(|r| {
                            let chunk = r.serving.sglang.chunked_prefill_size;
                            format!("{} tokens", present::thousands(u64::from(chunk)))
                        })
                    }}
                </dd>
            </div>
            <div>
                <dt>"CUDA-graph batch"</dt>
                <dd>{move || calc.rec.with(|r| r.serving.sglang.cuda_graph_max_bs)}</dd>
            </div>
        </dl>
    }
}
