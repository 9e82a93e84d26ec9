//! The Leptos components. They hold one piece of state, `core::share::ShareState`
//! (which is also the URL), and render what `core` computes from it.

mod calc;
mod dom;
#[cfg(target_arch = "wasm32")]
pub mod editor;
mod export;
mod guides;
mod models;
#[cfg(target_arch = "wasm32")]
pub mod mounted;
mod table;
#[cfg(target_arch = "wasm32")]
pub mod targets;
#[cfg(target_arch = "wasm32")]
pub mod two_nodes;

use gpu_session_core::gpu;
use gpu_session_core::recommend::{recommend, Recommendation};
use gpu_session_core::registry::Model;
use gpu_session_core::settings::Settings;
use gpu_session_core::share::{self, Decoded, ShareState};
use leptos::prelude::*;
use std::time::Duration;

/// How long the address bar waits after the last change before it is rewritten, so a
/// slider drag does not flood the browser's history API.
const URL_DEBOUNCE: Duration = Duration::from_millis(100);

/// The calculator's state and what follows from it, shared by every component.
#[derive(Clone, Copy)]
pub struct Calc {
    pub state: RwSignal<ShareState>,
    pub model: Memo<Model>,
    pub rec: Memo<Recommendation>,
}

impl Calc {
    pub(crate) fn new(initial: ShareState) -> Calc {
        let state = RwSignal::new(initial);
        let model = Memo::new(move |_| state.with(ShareState::resolve_model));
        let rec = Memo::new(move |_| {
            state.with(|s| {
                let selected = s.gpu.as_deref().and_then(gpu::find);
                model.with(|m| recommend(m, &s.settings, s.mode, selected))
            })
        });
        Calc { state, model, rec }
    }

    /// Change the state's settings (see `actions::with_settings`).
    pub fn set_settings(&self, change: impl FnOnce(&mut Settings)) {
        self.apply(|s| crate::actions::with_settings(s, change));
    }

    /// Apply an action (see `crate::actions`) to the state.
    pub fn apply(&self, action: impl FnOnce(&ShareState) -> ShareState) {
        let next = self.state.with_untracked(action);
        if self.state.with_untracked(|s| *s != next) {
            self.state.set(next);
        }
    }
}

/// Mount `what` from `gpu-session-extras` into `slot` once it is in the page: the page
/// sends it every change of the state and applies every change it makes; `error` says
/// why it did not load. The mounted view goes when the slot's owner does.
#[cfg(target_arch = "wasm32")]
fn mount_from_extras(
    calc: Calc,
    slot: NodeRef<leptos::html::Div>,
    what: dom::Mount,
    error: RwSignal<Option<String>>,
) {
    let mounted = StoredValue::new_local(None::<dom::Mounted>);
    slot.on_load(move |element| {
        let query = calc.state.with_untracked(crate::actions::to_transport);
        leptos::task::spawn_local(async move {
            let on_change = move |query: String| {
                let next = crate::actions::from_transport(&query);
                calc.apply(|_| next);
            };
            match dom::mount(what, element.into(), &query, on_change).await {
                Ok(m) => {
                    // The page may have changed while the module loaded.
                    m.update(&calc.state.with_untracked(crate::actions::to_transport));
                    // A slot that went meanwhile drops `m`, which unmounts it.
                    let _ = mounted.try_update_value(move |slot| *slot = Some(m));
                }
                Err(e) => {
                    let _ = error.try_set(Some(e));
                }
            }
        });
    });
    Effect::new(move |_| {
        let query = calc.state.with(crate::actions::to_transport);
        mounted.with_value(|m| {
            if let Some(m) = m {
                m.update(&query);
            }
        });
    });
    on_cleanup(move || mounted.update_value(|m| drop(m.take())));
}

/// The element the calculator lives in. The built index.html holds it pre-rendered
/// (see `crate::prerender`); the wasm renders a fresh one and swaps it in.
pub const APP_ID: &str = "app";

/// Start the calculator with the state from the URL: render it into a detached
/// element, then replace the pre-rendered one in a single DOM operation, so the
/// browser never paints a page without the calculator (no flash) and, the markup
/// being the same components' output, nothing moves. The page's
/// `data-loading` mark (set before the first paint for a link whose state differs
/// from the pre-rendered one) goes at the same moment.
#[cfg(target_arch = "wasm32")]
pub fn start() {
    use wasm_bindgen::JsCast;
    let (query, hub_endpoint) = crate::actions::split_hf_endpoint(&dom::location_search());
    dom::set_hub_endpoint(hub_endpoint);
    let decoded = share::decode(&query);
    let document = document();
    let Ok(fresh) = document.create_element("div") else {
        return;
    };
    fresh.set_id(APP_ID);
    leptos::mount::mount_to(fresh.clone().unchecked_into(), move || {
        view! { <App decoded=decoded/> }
    })
    .forget();
    match document.get_element_by_id(APP_ID) {
        Some(prerendered) => {
            adopt_guides(&prerendered, &fresh);
            let _ = prerendered.replace_with_with_node_1(&fresh);
        }
        None => {
            if let Some(body) = document.body() {
                let _ = body.append_child(&fresh);
            }
        }
    }
    if let Some(root) = document.document_element() {
        let _ = root.remove_attribute("data-loading");
    }
    dom::mark_interactive();
}

/// Move the pre-rendered guides (see `guides`) into the fresh render's empty slot.
#[cfg(target_arch = "wasm32")]
fn adopt_guides(prerendered: &web_sys::Element, fresh: &web_sys::Element) {
    let slot = format!(".{}", guides::SLOT_CLASS);
    let find = |root: &web_sys::Element| root.query_selector(&slot).ok().flatten();
    if let (Some(section), Some(new)) = (
        find(prerendered).and_then(|old| old.first_element_child()),
        find(fresh),
    ) {
        let _ = new.append_child(&section);
    }
}

/// The calculator for `decoded` as HTML: what the browser's first render of the same
/// components shows, without its event handlers.
#[cfg(not(target_arch = "wasm32"))]
pub fn render_html(decoded: Decoded) -> String {
    use tachys::view::RenderHtml;
    let owner = Owner::new();
    owner.with(|| view! { <App decoded=decoded/> }.to_html())
}

#[component]
fn App(decoded: Decoded) -> impl IntoView {
    let calc = Calc::new(decoded.state);
    let ignored = RwSignal::new(decoded.ignored);

    // Keep the address bar equal to the state (debounced while a slider moves).
    let pending = StoredValue::new(None::<TimeoutHandle>);
    Effect::new(move |first: Option<()>| {
        let query = calc.state.with(share::encode);
        if let Some(handle) = pending.get_value() {
            handle.clear();
        }
        if first.is_none() {
            dom::replace_query(&query);
        } else {
            let handle =
                set_timeout_with_handle(move || dom::replace_query(&query), URL_DEBOUNCE).ok();
            pending.set_value(handle);
        }
    });

    view! {
        <a class="skip" href="#calculator">"Skip to the calculator"</a>
        <header class="top">
            <div class="wrap top-inner">
                <div class="brand">
                    <svg class="logo" viewBox="0 0 32 32" aria-hidden="true">
                        <rect x="3" y="7" width="26" height="18" rx="3"></rect>
                        <path d="M8 12h4v8H8zM14 12h4v8h-4zM20 12h4v8h-4z"></path>
                    </svg>
                    <div>
                        <h1>"gpu-session"</h1>
                        <p class="tagline">
                            "Which Lambda Cloud GPU does your LLM need, and what will it cost?"
                        </p>
                    </div>
                </div>
                <p class="snapshot" data-testid="price-date">
                    "Prices: snapshot of " {gpu::PRICE_SNAPSHOT}
                </p>
            </div>
        </header>
        <main class="wrap">
            <Show when=move || ignored.with(|i| !i.is_empty())>
                <div class="notice" role="status" data-testid="link-notice">
                    <p>
                        "This link had values that could not be used; they were reset to defaults: "
                        <strong data-testid="ignored-fields">
                            {move || ignored.with(|i| i.join(", "))}
                        </strong>
                    </p>
                    <button class="ghost" on:click=move |_| ignored.set(Vec::new())>
                        "Dismiss"
                    </button>
                </div>
            </Show>
            <models::ModelSection calc=calc/>
            <calc::CalculatorSection calc=calc/>
            <table::GpuSection calc=calc/>
            <export::PlanSection calc=calc/>
            <guides::Guides calc=calc/>
        </main>
        <footer class="wrap foot">
            <p>
                "Estimates, not measurements. The serving estimate follows SGLang's own memory "
                "heuristics; the reference formula is the original gpu-session's. Prices change: "
                "check Lambda before you launch. After it loads, this page makes no network requests "
                "except, when you ask for one, a model's config.json from the Hugging Face Hub."
            </p>
            <p>
                <a href="book/" data-testid="manual-link">"The manual"</a>
                ": every command, launching on Lambda, and "
                <a href=crate::sort::FORMULAS>"how every number is computed"</a>
                "."
            </p>
        </footer>
    }
}
