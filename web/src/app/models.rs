//! The model browser: filterable cards of the built-in models, the selected model's
//! details, and the custom-model editor.

use super::{dom, Calc};
use crate::actions;
use gpu_session_core::present::{self, Fixed, ModelFilter};
use gpu_session_core::recommend::recommend;
use gpu_session_core::registry::{self, builtins, Model, BY_CONTEXT, BY_USE_CASE};
use gpu_session_core::settings::{EstimateMode, Settings};
use gpu_session_core::share::{self, CustomSpec, ModelChoice};
use gpu_session_core::{decimal, validate, Architecture};
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

#[component]
pub fn ModelSection(calc: Calc) -> impl IntoView {
    let search = RwSignal::new(String::new());
    let use_case = RwSignal::new(String::new());
    let min_context = RwSignal::new(0u32);
    let cards = StoredValue::new(cards());
    let selected_id = Memo::new(move |_| {
        calc.state.with(|s| match &s.model {
            ModelChoice::Builtin(id) => Some(id.clone()),
            ModelChoice::Custom(_) | ModelChoice::Hub(_) => None,
        })
    });
    let hub = HubLoader::new();
    // A link naming a Hub model: read its config.json again.
    if let Some(repo) = calc.state.with_untracked(|s| match &s.model {
        ModelChoice::Hub(h) if h.loaded.is_none() => Some(h.repo.clone()),
        _ => None,
    }) {
        hub.load(calc, repo);
    }
    let visible = Memo::new(move |_| {
        let filter_search = search.get();
        let task = use_case.get();
        let need = min_context.get();
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
            .collect::<Vec<usize>>()
    });
    let why = move || {
        use_case.with(|task| {
            BY_USE_CASE
                .iter()
                .find(|g| g.task == task)
                .map(|g| format!("Reference guide: {} — {}", g.task, g.why))
        })
    };

    let card_view = move |i: usize| {
        cards.with_value(|cards| {
            let card = &cards[i];
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
        })
    };

    view! {
        <section class="panel" aria-labelledby="models-title">
            <div class="section-head">
                <h2 id="models-title">"1. Choose a model"</h2>
                <p class="muted">
                    "Seven built-in models, or describe your own. VRAM and cost at each model's defaults."
                </p>
            </div>
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
            <p class="muted small" aria-live="polite">
                {move || {
                    format!("Showing {} of {} built-in models", visible.with(Vec::len), builtins().len())
                }}
                {move || why().map(|w| view! { <span class="why">" · " {w}</span> })}
            </p>
            <ul class="cards" data-testid="model-list">
                <For each=move || visible.get() key=|i| *i children=card_view/>
                <li>
                    <button
                        class="card custom-card"
                        data-testid="model-card-custom"
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
            </ul>
            <Show
                when=move || selected_id.with(Option::is_none)
                fallback=move || view! { <ModelDetail calc=calc/> }
            >
                <CustomEditor calc=calc hub=hub/>
            </Show>
        </section>
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
                                            c.min_gpu,
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

/// One numeric architecture field of the custom-model editor.
struct ArchField {
    label: &'static str,
    hf_name: &'static str,
    get: fn(&Architecture) -> u32,
    set: fn(&mut Architecture, u32),
}

fn arch_fields() -> [ArchField; 8] {
    [
        ArchField {
            label: "Layers",
            hf_name: "num_hidden_layers",
            get: |a| a.layers,
            set: |a, v| a.layers = v,
        },
        ArchField {
            label: "Hidden size",
            hf_name: "hidden_size",
            get: |a| a.hidden,
            set: |a, v| a.hidden = v,
        },
        ArchField {
            label: "MLP width",
            hf_name: "intermediate_size",
            get: |a| a.intermediate,
            set: |a, v| a.intermediate = v,
        },
        ArchField {
            label: "Attention heads",
            hf_name: "num_attention_heads",
            get: |a| a.heads,
            set: |a, v| a.heads = v,
        },
        ArchField {
            label: "KV heads",
            hf_name: "num_key_value_heads",
            get: |a| a.kv_heads,
            set: |a, v| a.kv_heads = v,
        },
        ArchField {
            label: "Head dim",
            hf_name: "head_dim",
            get: |a| a.head_dim,
            set: |a, v| a.head_dim = v,
        },
        ArchField {
            label: "Vocabulary",
            hf_name: "vocab_size",
            get: |a| a.vocab,
            set: |a, v| a.vocab = v,
        },
        ArchField {
            label: "Max context",
            hf_name: "max_position_embeddings",
            get: |a| a.max_context,
            set: |a, v| a.max_context = v,
        },
    ]
}

/// What reading a Hub repository's config.json has come to.
#[derive(Clone, PartialEq)]
enum HubStatus {
    Loading(String),
    Loaded(String),
    Failed(String),
}

/// Fetches a Hub repository's `config.json` and shows the model it describes.
#[derive(Clone, Copy)]
struct HubLoader {
    status: RwSignal<Option<HubStatus>>,
    /// Only the answer for the latest request is applied.
    seq: StoredValue<u64>,
}

impl HubLoader {
    fn new() -> HubLoader {
        HubLoader {
            status: RwSignal::new(None),
            seq: StoredValue::new(0),
        }
    }

    /// Fetch `repo`'s config.json and show its model; on failure say why, naming the
    /// repository, and leave the page's model as it is.
    fn load(self, calc: Calc, repo: String) {
        self.seq.update_value(|n| *n += 1);
        let seq = self.seq.get_value();
        self.status
            .set(Some(HubStatus::Loading(format!("loading {repo}…"))));
        dom::preload_extras();
        leptos::task::spawn_local(async move {
            let endpoint = dom::hub_endpoint();
            let outcome = match dom::fetch_text(&actions::hf_config_url(&endpoint, &repo)).await {
                Ok(json) => {
                    let query = calc.state.with_untracked(share::encode);
                    dom::call_extras("apply_hf_config", &[&query, &repo, &json])
                        .await
                        .and_then(|answer| actions::hub_model_loaded(&repo, &answer))
                }
                Err(Some(404)) => Err(format!(
                    "{repo}: the Hub has no config.json for it (HTTP 404); check the name"
                )),
                Err(Some(status @ (401 | 403))) => Err(format!(
                    "{repo}: the Hub refused access (HTTP {status}); gated and private repositories \
                     cannot be read from the browser: use gpu-session estimate --hf with HF_TOKEN"
                )),
                Err(Some(status)) => Err(format!("{repo}: the Hub answered HTTP {status}")),
                Err(None) => Err(format!(
                    "{repo}: could not reach {endpoint} to read its config.json (offline?)"
                )),
            };
            if self.seq.get_value() != seq {
                return;
            }
            match outcome {
                Ok(next) => {
                    let message = match &next.model {
                        ModelChoice::Hub(h) => h.loaded.as_ref().and_then(|s| s.architecture).map(|a| {
                            format!(
                                "Loaded {repo}: {} layers, {} max context, {} parameters ({} active per token).",
                                a.layers,
                                present::context(a.max_context),
                                present::params(a.param_count()),
                                present::params(a.active_param_count()),
                            )
                        }),
                        _ => None,
                    };
                    calc.apply(|_| next.clone());
                    self.status.set(Some(HubStatus::Loaded(
                        message.unwrap_or_else(|| format!("Loaded {repo}.")),
                    )));
                }
                Err(e) => self.status.set(Some(HubStatus::Failed(e))),
            }
        });
    }
}

/// The "Hugging Face model" box: a repository name and a Load button.
#[component]
fn HubBox(calc: Calc, hub: HubLoader) -> impl IntoView {
    let initial = calc.state.with_untracked(|s| match &s.model {
        ModelChoice::Hub(h) => h.repo.clone(),
        _ => String::new(),
    });
    let repo = RwSignal::new(initial);
    let load = move || {
        let v = repo.get_untracked().trim().to_string();
        match validate::hf_path("repository", &v) {
            Ok(()) => hub.load(calc, v),
            Err(e) => hub.status.set(Some(HubStatus::Failed(e.to_string()))),
        }
    };
    view! {
        <div class="stack hub-box">
            <label class="field">
                <span>"Hugging Face model"</span>
                <input
                    type="text"
                    placeholder="org/name"
                    spellcheck="false"
                    data-testid="hf-repo"
                    aria-describedby="hf-status"
                    prop:value=move || repo.get()
                    on:focus=|_| { dom::preload_extras(); }
                    on:input=move |ev| repo.set(event_target_value(&ev))
                    on:keydown=move |ev| {
                        if ev.key() == "Enter" {
                            load();
                        }
                    }
                />
            </label>
            <button type="button" data-testid="hf-load" on:click=move |_| load()>
                "Load"
            </button>
            <p id="hf-status" class="small" aria-live="polite">
                {move || hub.status.get().map(|s| match s {
                    HubStatus::Loading(m) => view! { <span class="muted" data-testid="hf-loading">{m}</span> }.into_any(),
                    HubStatus::Loaded(m) => view! { <span class="ok" data-testid="hf-ok">{m}</span> }.into_any(),
                    HubStatus::Failed(m) => view! { <span class="bad" data-testid="hf-error">{m}</span> }.into_any(),
                })}
            </p>
        </div>
    }
}

#[component]
fn CustomEditor(calc: Calc, hub: HubLoader) -> impl IntoView {
    let spec = Memo::new(move |_| calc.state.with(actions::editable_custom_spec));
    let error = RwSignal::new(None::<String>);
    let json_status = RwSignal::new(None::<Result<String, String>>);
    let edit = move |change: &dyn Fn(&mut CustomSpec)| {
        let mut next = spec.get_untracked();
        change(&mut next);
        calc.apply(|s| actions::set_custom(s, next));
    };
    let set_arch = move |arch: Architecture| match arch.validate() {
        Ok(()) => {
            error.set(None);
            edit(&|s| {
                s.architecture = Some(arch);
                s.params_billions = arch.param_count() as f64 / 1e9;
            });
        }
        Err(e) => error.set(Some(e.to_string())),
    };
    let has_arch = move || spec.with(|s| s.architecture.is_some());
    // The JSON reader is loaded on demand (gpu-session-extras): answers arrive
    // asynchronously, and only the one for the latest text is applied.
    let json_seq = StoredValue::new(0u64);
    let read_config = move |text: String| {
        json_seq.update_value(|n| *n += 1);
        let seq = json_seq.get_value();
        if text.trim().is_empty() {
            json_status.set(None);
            return;
        }
        let query = calc.state.with_untracked(share::encode);
        leptos::task::spawn_local(async move {
            let answer = dom::call_extras("apply_config_json", &[&query, &text]).await;
            if json_seq.get_value() != seq {
                return;
            }
            let status = answer.and_then(|next| {
                let decoded = share::decode(&next);
                let ModelChoice::Custom(CustomSpec {
                    architecture: Some(arch),
                    ..
                }) = &decoded.state.model
                else {
                    return Err("the config.json did not describe a model".to_string());
                };
                let message = format!(
                    "Read {} layers, {} KV heads, {} max context: {} parameters.",
                    arch.layers,
                    arch.kv_heads,
                    present::context(arch.max_context),
                    present::params(arch.param_count()),
                );
                error.set(None);
                calc.apply(|_| decoded.state.clone());
                Ok(message)
            });
            json_status.set(Some(status));
        });
    };

    view! {
        <article class="detail custom" data-testid="custom-editor">
            <header>
                <h3>"Describe your model"</h3>
                <p class="muted small">
                    "Dense decoder-only transformers (Llama, Mistral, Qwen2 families). The size alone gives "
                    "an estimate from the nearest Llama-family shape; the architecture makes it exact."
                </p>
            </header>
            <HubBox calc=calc hub=hub/>
            <div class="custom-grid">
                <div class="stack">
                    <label class="field">
                        <span>"Name"</span>
                        <input
                            type="text"
                            maxlength="80"
                            data-testid="custom-name"
                            prop:value=move || spec.with(|s| s.name.clone())
                            on:change=move |ev| {
                                let v = event_target_value(&ev);
                                match validate::display_text("name", &v, 80) {
                                    Ok(()) if !v.trim().is_empty() => {
                                        error.set(None);
                                        edit(&|s| s.name = v.trim().to_string());
                                    }
                                    Ok(()) => error.set(Some("name: must not be empty".into())),
                                    Err(e) => error.set(Some(e.to_string())),
                                }
                            }
                        />
                    </label>
                    <label class="field">
                        <span>"Parameters (billions)"</span>
                        <input
                            type="number"
                            min="0.1"
                            max=decimal::shortest(registry::MAX_PARAMS_BILLIONS)
                            step="any"
                            data-testid="custom-params"
                            prop:disabled=has_arch
                            prop:value=move || spec.with(|s| decimal::shortest(s.params_billions))
                            on:change=move |ev| {
                                match event_target_value(&ev).trim().parse::<f64>() {
                                    Ok(p) if registry::params_billions_in_range(p) => {
                                        error.set(None);
                                        edit(&|s| s.params_billions = p);
                                    }
                                    _ => error.set(Some(format!(
                                        "parameters: must be a number above 0 and at most {}",
                                        decimal::shortest(registry::MAX_PARAMS_BILLIONS),
                                    ))),
                                }
                            }
                        />
                        <small class="muted">
                            {move || if has_arch() { "Follows from the architecture." } else { "As the model card states it." }}
                        </small>
                    </label>
                    <label class="field">
                        <span>"Hugging Face repository (for the plan)"</span>
                        <input
                            type="text"
                            placeholder="org/model"
                            data-testid="custom-hf"
                            prop:value=move || spec.with(|s| s.hf_path.clone().unwrap_or_default())
                            on:change=move |ev| {
                                let v = event_target_value(&ev).trim().to_string();
                                if v.is_empty() {
                                    error.set(None);
                                    edit(&|s| s.hf_path = None);
                                } else {
                                    match validate::hf_path("repository", &v) {
                                        Ok(()) => {
                                            error.set(None);
                                            edit(&|s| s.hf_path = Some(v.clone()));
                                        }
                                        Err(e) => error.set(Some(e.to_string())),
                                    }
                                }
                            }
                        />
                    </label>
                    <label class="check">
                        <input
                            type="checkbox"
                            data-testid="custom-arch-toggle"
                            prop:checked=has_arch
                            on:change=move |ev| {
                                if event_target_checked(&ev) {
                                    let p = spec.with_untracked(|s| (s.params_billions * 1e9) as u64);
                                    set_arch(Architecture::inferred_from_params(p, actions::CUSTOM_CONTEXT_LIMIT));
                                } else {
                                    error.set(None);
                                    edit(&|s| s.architecture = None);
                                }
                            }
                        />
                        <span>"Give the exact architecture"</span>
                    </label>
                </div>
                <Show when=has_arch>
                    <fieldset class="arch" data-testid="custom-arch">
                        <legend>"Architecture (config.json fields)"</legend>
                        {arch_fields()
                            .into_iter()
                            .map(|f| {
                                view! {
                                    <label class="field">
                                        <span title=f.hf_name>{f.label}</span>
                                        <input
                                            type="number"
                                            min="1"
                                            step="1"
                                            prop:value=move || {
                                                spec.with(|s| s.architecture.map(|a| (f.get)(&a).to_string()).unwrap_or_default())
                                            }
                                            on:change=move |ev| {
                                                let Some(mut arch) = spec.get_untracked().architecture else { return };
                                                match event_target_value(&ev).trim().parse::<u32>() {
                                                    Ok(v) => {
                                                        (f.set)(&mut arch, v);
                                                        set_arch(arch);
                                                    }
                                                    Err(_) => error.set(Some(format!("{}: must be a whole number", f.hf_name))),
                                                }
                                            }
                                        />
                                    </label>
                                }
                            })
                            .collect_view()}
                        <label class="check">
                            <input
                                type="checkbox"
                                prop:checked=move || spec.with(|s| s.architecture.is_some_and(|a| a.tied_embeddings))
                                on:change=move |ev| {
                                    if let Some(mut a) = spec.get_untracked().architecture {
                                        a.tied_embeddings = event_target_checked(&ev);
                                        set_arch(a);
                                    }
                                }
                            />
                            <span>"Tied embeddings"</span>
                        </label>
                        <label class="check">
                            <input
                                type="checkbox"
                                prop:checked=move || spec.with(|s| s.architecture.is_some_and(|a| a.attention_bias))
                                on:change=move |ev| {
                                    if let Some(mut a) = spec.get_untracked().architecture {
                                        a.attention_bias = event_target_checked(&ev);
                                        set_arch(a);
                                    }
                                }
                            />
                            <span>"q/k/v bias"</span>
                        </label>
                    </fieldset>
                </Show>
                <div class="stack">
                    <label class="field">
                        <span>"…or paste the model's config.json"</span>
                        <textarea
                            rows="7"
                            spellcheck="false"
                            placeholder="{ \"num_hidden_layers\": 32, \"hidden_size\": 4096, … }"
                            data-testid="config-json"
                            aria-describedby="config-json-status"
                            on:focus=|_| { dom::preload_extras(); }
                            on:input=move |ev| read_config(event_target_value(&ev))
                        ></textarea>
                    </label>
                    <p id="config-json-status" class="small" aria-live="polite">
                        {move || json_status.get().map(|r| match r {
                            Ok(msg) => view! { <span class="ok" data-testid="config-json-ok">{msg}</span> }.into_any(),
                            Err(msg) => view! { <span class="bad" data-testid="config-json-error">{msg}</span> }.into_any(),
                        })}
                    </p>
                </div>
            </div>
            <p class="bad small" role="alert" data-testid="custom-error">{move || error.get()}</p>
        </article>
    }
}
