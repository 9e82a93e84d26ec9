//! The custom-model editor: a size, an architecture, a pasted `config.json` or a
//! Hugging Face repository. Only some visitors open it, so it is not in the page's
//! wasm: the on-demand `gpu-session-extras` module mounts it (with the config.json
//! reader it needs) into the slot the page shows for a custom model
//! (`super::models::EditorSlot`), as `super::mounted` describes.

use super::mounted::Mounted;
use super::{dom, Calc};
use crate::{actions, extras};
use gpu_session_core::present;
use gpu_session_core::registry;
use gpu_session_core::share::{self, CustomSpec, ModelChoice};
use gpu_session_core::{decimal, validate, Architecture};
use leptos::prelude::*;

/// Mount the editor for the state `query` into `slot` (replacing what it shows),
/// reading Hub repositories from `hub_endpoint`; `on_change` receives the state's query
/// each time the editor changes it.
pub fn mount(
    slot: web_sys::HtmlElement,
    query: &str,
    hub_endpoint: String,
    on_change: impl Fn(String) + 'static,
) -> Mounted {
    dom::use_hub_endpoint(hub_endpoint);
    Mounted::mount(slot, query, on_change, |calc| {
        let hub = HubLoader::new();
        // A link naming a Hub model: read its config.json again.
        if let Some(repo) = calc.state.with_untracked(|s| match &s.model {
            ModelChoice::Hub(h) if h.loaded.is_none() => Some(h.repo.clone()),
            _ => None,
        }) {
            hub.load(calc, repo);
        }
        view! { <CustomEditor calc=calc hub=hub/> }.into_any()
    })
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
        leptos::task::spawn_local(async move {
            let endpoint = dom::hub_endpoint();
            let fetched = dom::fetch_text(&actions::hf_config_url(&endpoint, &repo)).await;
            // A newer request, or the editor was unmounted meanwhile (its reactive
            // scope is gone: the page has moved on).
            if self.seq.try_get_value() != Some(seq) {
                return;
            }
            let outcome = match fetched {
                Ok(json) => {
                    let query = calc.state.with_untracked(share::encode);
                    extras::apply_hf_config(&query, &repo, &json)
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

/// The custom model being edited and the editor's error line, which every field
/// shares.
#[derive(Clone, Copy)]
struct SpecEdit {
    calc: Calc,
    spec: Memo<CustomSpec>,
    error: RwSignal<Option<String>>,
}

impl SpecEdit {
    fn new(calc: Calc) -> SpecEdit {
        SpecEdit {
            calc,
            spec: Memo::new(move |_| calc.state.with(actions::editable_custom_spec)),
            error: RwSignal::new(None),
        }
    }

    fn edit(self, change: &dyn Fn(&mut CustomSpec)) {
        let mut next = self.spec.get_untracked();
        change(&mut next);
        self.calc.apply(|s| actions::set_custom(s, next));
    }

    /// Use `arch` when it is a shape a model can have (its size follows from it);
    /// otherwise say why.
    fn set_arch(self, arch: Architecture) {
        match arch.validate() {
            Ok(()) => {
                self.error.set(None);
                self.edit(&|s| {
                    s.architecture = Some(arch);
                    s.params_billions = arch.param_count() as f64 / 1e9;
                });
            }
            Err(e) => self.error.set(Some(e.to_string())),
        }
    }

    fn has_arch(self) -> bool {
        self.spec.with(|s| s.architecture.is_some())
    }
}

#[component]
fn CustomEditor(calc: Calc, hub: HubLoader) -> impl IntoView {
    let e = SpecEdit::new(calc);
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
                    <NameField e=e/>
                    <ParamsField e=e/>
                    <HfPathField e=e/>
                    <ArchToggle e=e/>
                </div>
                <Show when=move || e.has_arch()>
                    <ArchFieldset e=e/>
                </Show>
                <ConfigJsonBox e=e/>
            </div>
            <p class="bad small" role="alert" data-testid="custom-error">{move || e.error.get()}</p>
        </article>
    }
}

#[component]
fn NameField(e: SpecEdit) -> impl IntoView {
    view! {
        <label class="field">
            <span>"Name"</span>
            <input
                type="text"
                maxlength="80"
                data-testid="custom-name"
                prop:value=move || e.spec.with(|s| s.name.clone())
                on:change=move |ev| {
                    let v = event_target_value(&ev);
                    match validate::display_text("name", &v, 80) {
                        Ok(()) if !v.trim().is_empty() => {
                            e.error.set(None);
                            e.edit(&|s| s.name = v.trim().to_string());
                        }
                        Ok(()) => e.error.set(Some("name: must not be empty".into())),
                        Err(err) => e.error.set(Some(err.to_string())),
                    }
                }
            />
        </label>
    }
}

/// The size in billions of parameters; it follows from the architecture when one is given.
#[component]
fn ParamsField(e: SpecEdit) -> impl IntoView {
    let has_arch = move || e.has_arch();
    view! {
        <label class="field">
            <span>"Parameters (billions)"</span>
            <input
                type="number"
                min="0.1"
                max=decimal::shortest(registry::MAX_PARAMS_BILLIONS)
                step="any"
                data-testid="custom-params"
                prop:disabled=has_arch
                prop:value=move || e.spec.with(|s| decimal::shortest(s.params_billions))
                on:change=move |ev| {
                    match event_target_value(&ev).trim().parse::<f64>() {
                        Ok(p) if registry::params_billions_in_range(p) => {
                            e.error.set(None);
                            e.edit(&|s| s.params_billions = p);
                        }
                        _ => e.error.set(Some(format!(
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
    }
}

/// The repository the plan would serve the model from (optional).
#[component]
fn HfPathField(e: SpecEdit) -> impl IntoView {
    view! {
        <label class="field">
            <span>"Hugging Face repository (for the plan)"</span>
            <input
                type="text"
                placeholder="org/model"
                data-testid="custom-hf"
                prop:value=move || e.spec.with(|s| s.hf_path.clone().unwrap_or_default())
                on:change=move |ev| {
                    let v = event_target_value(&ev).trim().to_string();
                    if v.is_empty() {
                        e.error.set(None);
                        e.edit(&|s| s.hf_path = None);
                    } else {
                        match validate::hf_path("repository", &v) {
                            Ok(()) => {
                                e.error.set(None);
                                e.edit(&|s| s.hf_path = Some(v.clone()));
                            }
                            Err(err) => e.error.set(Some(err.to_string())),
                        }
                    }
                }
            />
        </label>
    }
}

/// Turning the architecture on starts from the Llama-family shape of the given size.
#[component]
fn ArchToggle(e: SpecEdit) -> impl IntoView {
    view! {
        <label class="check">
            <input
                type="checkbox"
                data-testid="custom-arch-toggle"
                prop:checked=move || e.has_arch()
                on:change=move |ev| {
                    if event_target_checked(&ev) {
                        let p = e.spec.with_untracked(|s| (s.params_billions * 1e9) as u64);
                        e.set_arch(Architecture::inferred_from_params(p, actions::CUSTOM_CONTEXT_LIMIT));
                    } else {
                        e.error.set(None);
                        e.edit(&|s| s.architecture = None);
                    }
                }
            />
            <span>"Give the exact architecture"</span>
        </label>
    }
}

#[component]
fn ArchFieldset(e: SpecEdit) -> impl IntoView {
    view! {
        <fieldset class="arch" data-testid="custom-arch">
            <legend>"Architecture (config.json fields)"</legend>
            {arch_fields().into_iter().map(|f| view! { <ArchNumber e=e f=f/> }).collect_view()}
            <ArchFlag
                e=e
                label="Tied embeddings"
                get=|a| a.tied_embeddings
                set=|a, v| a.tied_embeddings = v
            />
            <ArchFlag
                e=e
                label="q/k/v bias"
                get=|a| a.attention_bias
                set=|a, v| a.attention_bias = v
            />
        </fieldset>
    }
}

/// One numeric field of the architecture, titled with its config.json name.
#[component]
fn ArchNumber(e: SpecEdit, f: ArchField) -> impl IntoView {
    view! {
        <label class="field">
            <span title=f.hf_name>{f.label}</span>
            <input
                type="number"
                min="1"
                step="1"
                prop:value=move || {
                    e.spec.with(|s| s.architecture.map(|a| (f.get)(&a).to_string()).unwrap_or_default())
                }
                on:change=move |ev| {
                    let Some(mut arch) = e.spec.get_untracked().architecture else { return };
                    match event_target_value(&ev).trim().parse::<u32>() {
                        Ok(v) => {
                            (f.set)(&mut arch, v);
                            e.set_arch(arch);
                        }
                        Err(_) => e.error.set(Some(format!("{}: must be a whole number", f.hf_name))),
                    }
                }
            />
        </label>
    }
}

/// One yes/no property of the architecture.
#[component]
fn ArchFlag(
    e: SpecEdit,
    label: &'static str,
    get: fn(&Architecture) -> bool,
    set: fn(&mut Architecture, bool),
) -> impl IntoView {
    view! {
        <label class="check">
            <input
                type="checkbox"
                prop:checked=move || e.spec.with(|s| s.architecture.is_some_and(|a| get(&a)))
                on:change=move |ev| {
                    if let Some(mut a) = e.spec.get_untracked().architecture {
                        set(&mut a, event_target_checked(&ev));
                        e.set_arch(a);
                    }
                }
            />
            <span>{label}</span>
        </label>
    }
}

/// A pasted `config.json`, read as the user types; it replaces the custom model.
#[component]
fn ConfigJsonBox(e: SpecEdit) -> impl IntoView {
    let json_status = RwSignal::new(None::<Result<String, String>>);
    let read_config = move |text: String| {
        if text.trim().is_empty() {
            json_status.set(None);
            return;
        }
        json_status.set(Some(read_config_json(e, &text)));
    };
    view! {
        <div class="stack">
            <label class="field">
                <span>"…or paste the model's config.json"</span>
                <textarea
                    rows="7"
                    spellcheck="false"
                    placeholder="{ \"num_hidden_layers\": 32, \"hidden_size\": 4096, … }"
                    data-testid="config-json"
                    aria-describedby="config-json-status"
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
    }
}

/// Apply a pasted `config.json` to the page; the sentence saying what was read, or why
/// it could not be.
fn read_config_json(e: SpecEdit, text: &str) -> Result<String, String> {
    let query = e.calc.state.with_untracked(share::encode);
    let next = extras::apply_config_json(&query, text)?;
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
    e.error.set(None);
    e.calc.apply(|_| decoded.state.clone());
    Ok(message)
}
