//! The model browser: filterable cards of the built-in models, the selected model's
//! details, and the slot the on-demand module mounts the custom-model editor into.

use super::{dom, Calc};
use crate::actions;
use gpu_session_core::present::{self, Fixed, ModelFilter};
use gpu_session_core::recommend::recommend;
use gpu_session_core::registry::{builtins, Model, BY_CONTEXT, BY_USE_CASE};
use gpu_session_core::settings::{EstimateMode, Settings};
use gpu_session_core::share::ModelChoice;
use leptos::prelude::*;

/// What a card shows, computed once: the serving estimate at the model's defaults.
struct Card {
    model: &'static Model,
    vram: String,
    min_gpu: String,
    price: String,
}

fn cards() -> Vec<Card> {
    builtins()
        .iter()
        .map(|model| {
            let rec = recommend(
                model,
                &Settings::defaults_for(model),
                EstimateMode::Serving,
                None,
            );
            let cheapest = rec.cheapest();
            Card {
                model,
                vram: present::gib(rec.serving.total()),
                min_gpu: cheapest.map_or("none fits".into(), |r| r.gpu.description.to_string()),
                price: cheapest.map_or("–".into(), |r| {
                    format!("{}/hr", present::usd(r.price_per_hour_usd))
                }),
            }
        })
        .collect()
}

/// Context needs offered by the filter: the reference's guide rows, plus 128K.
fn context_needs() -> Vec<u32> {
    let mut needs: Vec<u32> = BY_CONTEXT.iter().map(|g| g.context_tokens).collect();
    needs.push(131_072);
    needs
}

/// The filters over the built-in models, as the visitor set them.
#[derive(Clone, Copy)]
struct Filters {
    search: RwSignal<String>,
    use_case: RwSignal<String>,
    min_context: RwSignal<u32>,
}

impl Filters {
    fn new() -> Filters {
        Filters {
            search: RwSignal::new(String::new()),
            use_case: RwSignal::new(String::new()),
            min_context: RwSignal::new(0u32),
        }
    }

    /// The indices in `builtins()` of the models the filters let through.
    fn visible(self) -> Vec<usize> {
        let filter_search = self.search.get();
        let task = self.use_case.get();
        let need = self.min_context.get();
        let filter = ModelFilter {
            use_case: (!task.is_empty()).then_some(task.as_str()),
            min_context: (need > 0).then_some(need),
            search: &filter_search,
        };
        builtins()
            .iter()
            .enumerate()
            .filter(|(_, m)| filter.matches(m))
            .map(|(i, _)| i)
            .collect()
    }

    /// The reference guide's reason for the chosen use case.
    fn why(self) -> Option<String> {
        self.use_case.with(|task| {
            BY_USE_CASE
                .iter()
                .find(|g| g.task == task)
                .map(|g| format!("Reference guide: {} — {}", g.task, g.why))
        })
    }
}

#[component]
pub fn ModelSection(calc: Calc) -> impl IntoView {
    let filters = Filters::new();
    let cards = StoredValue::new(cards());
    let selected_id = Memo::new(move |_| {
        calc.state.with(|s| match &s.model {
            ModelChoice::Builtin(id) => Some(id.clone()),
            ModelChoice::Custom(_) | ModelChoice::Hub(_) => None,
        })
    });
    let visible = Memo::new(move |_| filters.visible());
    let card_view =
        move |i: usize| cards.with_value(|cards| builtin_card(calc, &cards[i], selected_id));
    view! {
        <section class="panel" aria-labelledby="models-title">
            <div class="section-head">
                <h2 id="models-title">"1. Choose a model"</h2>
                <p class="muted">
                    {format!(
                        "{} built-in models, or describe your own. VRAM and cost at each model's defaults.",
                        builtins().len()
                    )}
                </p>
            </div>
            {filter_fields(filters)}
            <p class="muted small" aria-live="polite">
                {move || {
                    format!("Showing {} of {} built-in models", visible.with(Vec::len), builtins().len())
                }}
                {move || filters.why().map(|w| view! { <span class="why">" · " {w}</span> })}
            </p>
            <ul class="cards" data-testid="model-list">
                <For each=move || visible.get() key=|i| *i children=card_view/>
                {custom_card(calc, selected_id)}
            </ul>
            <Show
                when=move || selected_id.with(Option::is_none)
                fallback=move || view! { <ModelDetail calc=calc/> }
            >
                <EditorSlot calc=calc/>
            </Show>
        </section>
    }
}

/// Search, use case and context need.
fn filter_fields(filters: Filters) -> impl IntoView {
    let Filters {
        search,
        use_case,
        min_context,
    } = filters;
    view! {
        <div class="filters" role="search">
            <label class="field grow">
                <span>"Search"</span>
                <input
                    type="search"
                    placeholder="e.g. coder, 70b, reasoning"
                    data-testid="model-search"
                    prop:value=move || search.get()
                    on:input=move |ev| search.set(event_target_value(&ev))
                />
            </label>
            <label class="field">
                <span>"Use case"</span>
                <select
                    data-testid="use-case"
                    on:change=move |ev| use_case.set(event_target_value(&ev))
                >
                    <option value="">"Any use case"</option>
                    {BY_USE_CASE
                        .iter()
                        .map(|g| view! { <option value=g.task>{g.task}</option> })
                        .collect_view()}
                </select>
            </label>
            <label class="field">
                <span>"Context needed"</span>
                <select
                    data-testid="context-need"
                    on:change=move |ev| {
                        min_context.set(event_target_value(&ev).parse().unwrap_or(0))
                    }
                >
                    <option value="0">"Any length"</option>
                    {context_needs()
                        .into_iter()
                        .map(|c| {
                            view! {
                                <option value=c.to_string()>
                                    {format!("{} tokens or more", present::context(c))}
                                </option>
                            }
                        })
                        .collect_view()}
                </select>
            </label>
        </div>
    }
}

/// A built-in model's card; pressed while it is the selected model.
fn builtin_card(calc: Calc, card: &Card, selected_id: Memo<Option<String>>) -> impl IntoView {
    let m = card.model;
    let id = m.id.as_str();
    let recommended = m.reference.as_ref().is_some_and(|r| r.recommended);
    view! {
        <li>
            <button
                class="card"
                data-testid="model-card"
                data-model-id=id
                aria-pressed=move || {
                    (selected_id.with(|s| s.as_deref() == Some(id))).to_string()
                }
                on:click=move |_| calc.apply(|s| actions::select_builtin(s, id))
            >
                <span class="card-head">
                    <span class="card-name">{m.name.as_str()}</span>
                    {recommended.then(|| view! { <span class="pill accent">"Recommended"</span> })}
                </span>
                <span class="card-best">{m.best_for.as_str()}</span>
                <span class="facts">
                    <span><span class="dt">"Size"</span><span class="dd">{present::params(m.param_count())}</span></span>
                    <span><span class="dt">"Weights"</span><span class="dd">{m.quantization.label()}</span></span>
                    <span><span class="dt">"Context"</span><span class="dd">{present::context(m.context_length)}</span></span>
                    <span><span class="dt">"VRAM"</span><span class="dd" data-testid="card-vram">{card.vram.clone()}</span></span>
                    <span class="wide"><span class="dt">"Min GPU"</span><span class="dd">{card.min_gpu.clone()}</span></span>
                    <span class="wide"><span class="dt">"Cost"</span><span class="dd">{card.price.clone()}</span></span>
                </span>
            </button>
        </li>
    }
}

/// "Your own model": switches to a custom model (keeping one already described).
fn custom_card(calc: Calc, selected_id: Memo<Option<String>>) -> impl IntoView {
    view! {
        <li>
            <button
                class="card custom-card"
                data-testid="model-card-custom"
                on:pointerover=|_| dom::preload_extras()
                on:focus=|_| dom::preload_extras()
                aria-pressed=move || selected_id.with(Option::is_none).to_string()
                on:click=move |_| {
                    calc.apply(|s| match &s.model {
                        ModelChoice::Custom(_) | ModelChoice::Hub(_) => s.clone(),
                        ModelChoice::Builtin(_) => {
                            actions::set_custom(s, actions::default_custom_spec())
                        }
                    })
                }
            >
                <span class="card-head">
                    <span class="card-name">"Your own model"</span>
                    <span class="pill">"Custom"</span>
                </span>
                <span class="card-best">
                    "Size it from its parameter count, its architecture, or a pasted config.json."
                </span>
                <span class="plus" aria-hidden="true">"+"</span>
            </button>
        </li>
    }
}

fn list(items: &[String]) -> impl IntoView + use<> {
    items
        .iter()
        .map(|i| view! { <li>{i.clone()}</li> })
        .collect_view()
}

#[component]
fn ModelDetail(calc: Calc) -> impl IntoView {
    let id = Memo::new(move |_| {
        calc.state.with(|s| match &s.model {
            ModelChoice::Builtin(id) => id.clone(),
            ModelChoice::Custom(_) | ModelChoice::Hub(_) => String::new(),
        })
    });
    move || {
        let _ = id.get();
        let m = calc.model.get_untracked();
        let card = m.reference.clone();
        view! {
            <article class="detail" data-testid="model-detail">
                <header>
                    <h3>{m.name.clone()}</h3>
                    <p class="lead">{m.tagline.clone()}</p>
                    <p class="muted small">
                        <code>{m.hf_path.clone()}</code>
                        {m.gated.then_some(" · gated on Hugging Face: set HF_TOKEN")}
                    </p>
                </header>
                <div class="detail-grid">
                    <div>
                        <h4>"Good for"</h4>
                        <ul class="ticks">{list(&m.good_for)}</ul>
                    </div>
                    <div>
                        <h4>"Not good for"</h4>
                        <ul class="crosses">{list(&m.not_good_for)}</ul>
                    </div>
                    <div>
                        <h4>"Notes"</h4>
                        <p>{m.notes.clone()}</p>
                        {card
                            .map(|c| {
                                view! {
                                    <p class="muted small">
                                        {format!(
                                            "The reference card: {} · est. {} GB VRAM · min GPU {} · ${}/hr",
                                            c.quantization_label,
                                            c.est_vram_gb,
                                            c.min_gpu_label(),
                                            Fixed::<2>(c.cost_per_hour_usd),
                                        )}
                                    </p>
                                }
                            })}
                    </div>
                </div>
            </article>
        }
    }
}

/// Where the custom-model editor appears. The editor is not in the page's wasm: the
/// slot shows a line while `gpu-session-extras` loads, which then mounts the editor
/// here (see `super::editor`). The page sends it every change of the state and
/// applies every change the editor makes.
#[component]
fn EditorSlot(calc: Calc) -> impl IntoView {
    let slot = NodeRef::<leptos::html::Div>::new();
    let error = RwSignal::new(None::<String>);
    #[cfg(target_arch = "wasm32")]
    super::mount_from_extras(calc, slot, dom::Mount::Editor, error);
    // The pre-render never shows the editor's contents; only the wasm mounts them.
    #[cfg(not(target_arch = "wasm32"))]
    let _ = calc;
    view! {
        <div class="editor-slot" data-testid="editor-slot" node_ref=slot>
            <article class="detail custom">
                <p class="muted small">"Loading the model editor…"</p>
                <p class="bad small" role="alert">{move || error.get()}</p>
            </article>
        </div>
    }
}
