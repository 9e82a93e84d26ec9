//! The reference's selection guides and quantization table, verbatim from core.

use super::Calc;
use crate::actions;
use gpu_session_core::present;
use gpu_session_core::quant::QUANTIZATION_LEVELS;
use gpu_session_core::registry::{builtin, BY_CONTEXT, BY_GPU_BUDGET, BY_USE_CASE};
use leptos::prelude::*;

fn model_name(id: &str) -> &'static str {
    builtin(id).map_or("?", |m| m.name.as_str())
}

#[component]
pub fn GuidesSection(calc: Calc) -> impl IntoView {
    let pick = move |id: &'static str| {
        view! {
            <button type="button" class="link" on:click=move |_| calc.apply(|s| actions::select_builtin(s, id))>
                {model_name(id)}
            </button>
        }
    };
    view! {
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
    }
}
