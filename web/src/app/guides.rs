//! The reference's selection guides and quantization table, verbatim from core.
//!
//! They never change, so only the pre-render writes them: the page's wasm carries
//! neither their text nor the code that builds them. Its `Guides` is an empty slot
//! that adopts the pre-rendered section when the wasm takes the page over (see
//! `super::start`), and one listener on it turns a click on a model's name into
//! selecting that model.

use super::Calc;
use gpu_session_core::registry::builtin;
use leptos::prelude::*;

/// The slot the guides section sits in, in the pre-rendered page and in the wasm's.
pub const SLOT_CLASS: &str = "guides-slot";
/// The attribute the pre-render writes on a guide's model button: the model's id.
#[cfg(target_arch = "wasm32")]
const PICK_ATTRIBUTE: &str = "data-pick";

#[cfg(target_arch = "wasm32")]
#[component]
pub fn Guides(calc: Calc) -> impl IntoView {
    use wasm_bindgen::JsCast;
    let pick = move |ev: leptos::ev::MouseEvent| {
        let picked = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest(&format!("[{PICK_ATTRIBUTE}]")).ok().flatten())
            .and_then(|e| e.get_attribute(PICK_ATTRIBUTE));
        if let Some(id) = picked.filter(|id| builtin(id).is_some()) {
            calc.apply(|s| crate::actions::select_builtin(s, &id));
        }
    };
    view! { <div class=SLOT_CLASS on:click=pick></div> }
}

#[cfg(not(target_arch = "wasm32"))]
#[component]
pub fn Guides(calc: Calc) -> impl IntoView {
    use gpu_session_core::present;
    use gpu_session_core::quant::QUANTIZATION_LEVELS;
    use gpu_session_core::registry::{BY_CONTEXT, BY_GPU_BUDGET, BY_USE_CASE};
    // What the guides say depends on no setting; only the wasm's slot reacts to clicks.
    let _ = calc;
    let pick = |id: &'static str| {
        view! {
            <button type="button" class="link" data-pick=id>
                {builtin(id).map_or("?", |m| m.name.as_str())}
            </button>
        }
    };
    view! {
        <div class=SLOT_CLASS>
        <section class="panel" aria-labelledby="guides-title" data-testid="guides">
            <div class="section-head">
                <h2 id="guides-title">"Model selection guide"</h2>
                <p class="muted">"The original gpu-session reference's rules of thumb. The tables above are the live answer."</p>
            </div>
            <div class="guides">
                <div class="guide">
                    <h3>"By use case"</h3>
                    <table class="plain">
                        <thead><tr><th scope="col">"Task"</th><th scope="col">"Model"</th><th scope="col">"Why"</th></tr></thead>
                        <tbody>
                            {BY_USE_CASE
                                .iter()
                                .map(|g| view! { <tr><td>{g.task}</td><td>{pick(g.model_id)}</td><td>{g.why}</td></tr> })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
                <div class="guide">
                    <h3>"By GPU budget"</h3>
                    <table class="plain">
                        <thead><tr><th scope="col">"GPU"</th><th scope="col">"Suitable models"</th></tr></thead>
                        <tbody>
                            {BY_GPU_BUDGET
                                .iter()
                                .map(|g| view! { <tr><td>{g.gpu}</td><td>{g.suitable}</td></tr> })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
                <div class="guide">
                    <h3>"By context length"</h3>
                    <table class="plain">
                        <thead><tr><th scope="col">"Context"</th><th scope="col">"Models"</th></tr></thead>
                        <tbody>
                            {BY_CONTEXT
                                .iter()
                                .map(|g| {
                                    view! {
                                        <tr>
                                            <td>{format!("{} tokens", present::context(g.context_tokens))}</td>
                                            <td class="picks">{g.model_ids.iter().map(|id| pick(id)).collect_view()}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
                <div class="guide">
                    <h3>"Quantization levels"</h3>
                    <table class="plain">
                        <thead>
                            <tr>
                                <th scope="col">"Type"</th>
                                <th scope="col">"Bytes/param"</th>
                                <th scope="col">"Memory vs FP32"</th>
                                <th scope="col">"Quality loss"</th>
                            </tr>
                        </thead>
                        <tbody>
                            {QUANTIZATION_LEVELS
                                .iter()
                                .map(|q| {
                                    view! {
                                        <tr>
                                            <td>{q.label}</td>
                                            <td>{q.bytes_per_param.to_string()}</td>
                                            <td>{q.memory_vs_fp32}</td>
                                            <td>{q.quality_loss}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </tbody>
                    </table>
                </div>
            </div>
        </section>
        </div>
    }
}
