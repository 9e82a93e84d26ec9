//! The service-level targets (TTFT and TPOT at most, at the request rate): only some
//! visitors set them, so the on-demand `gpu-session-extras` module mounts these inputs
//! into the slot the page shows with a request rate (`super::calc`), and computes the
//! GPU table's service-level column (`crate::extras::service_view`). The targets ride
//! in the link (`ttft`, `tpot`).

use super::mounted::Mounted;
use super::Calc;
use crate::actions;
use gpu_session_core::decimal;
use leptos::prelude::*;

/// Mount the targets' inputs for the state `query` into `slot`; `on_change(query)`
/// hears every state they make.
pub fn mount(
    slot: web_sys::HtmlElement,
    query: &str,
    on_change: impl Fn(String) + 'static,
) -> Mounted {
    Mounted::mount(slot, query, on_change, |calc| {
        view! { <Targets calc=calc/> }.into_any()
    })
}

#[component]
fn Targets(calc: Calc) -> impl IntoView {
    let target = move |testid: &'static str, label: &'static str, tpot: bool| {
        let value = move || {
            calc.state.with(|s| {
                let t = s.targets;
                let v = if tpot { t.tpot_max_ms } else { t.ttft_max_ms };
                v.map(decimal::shortest).unwrap_or_default()
            })
        };
        view! {
            <label class="field">
                <span>{label}</span>
                <input
                    type="text"
                    inputmode="decimal"
                    class="num"
                    placeholder="none"
                    data-testid=testid
                    prop:value=value
                    on:change=move |ev| {
                        let text = event_target_value(&ev);
                        calc.apply(|s| actions::set_target(s, tpot, &text));
                    }
                />
            </label>
        }
    };
    view! {
        <div class="field-pair" data-testid="targets">
            {target("ttft-max", "TTFT at most (ms)", false)}
            {target("tpot-max", "TPOT at most (ms)", true)}
        </div>
    }
}
