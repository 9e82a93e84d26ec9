//! The two-instance options beside the GPU table: one model across two 8-GPU nodes,
//! where that costs less than the cheapest single instance that fits or where none
//! fits (core's `multi_node::two_node_options`, as `gpu-session gpus --model` shows
//! them). The on-demand `gpu-session-extras` module mounts them into the slot the page
//! shows when such an option can exist (`actions::two_nodes_worth_a_look`); choosing
//! one sets the link's `nd=2` and its type.

use super::mounted::Mounted;
use super::Calc;
use crate::{actions, extras};
use gpu_session_core::decimal::Fixed;
use gpu_session_core::multi_node::{TwoNodeEstimate, MAX_NODES};
use gpu_session_core::present;
use gpu_session_core::share::ShareState;
use leptos::prelude::*;

/// Mount the options for the state `query` into `slot`; `on_change(query)` hears the
/// state a choice makes.
pub fn mount(
    slot: web_sys::HtmlElement,
    query: &str,
    on_change: impl Fn(String) + 'static,
) -> Mounted {
    Mounted::mount(slot, query, on_change, |calc| {
        view! { <TwoNodeOptions calc=calc/> }.into_any()
    })
}

#[component]
fn TwoNodeOptions(calc: Calc) -> impl IntoView {
    let inputs = Memo::new(move |_| calc.state.with(options_inputs));
    let options = Memo::new(move |_| inputs.with(extras::two_node_options));
    view! {
        <div class="two-nodes" data-testid="two-node-options">
            <h3>"Two instances"</h3>
            {move || {
                if options.with(Vec::is_empty) {
                    view! {
                        <p class="muted small" data-testid="two-node-none">
                            "No two-instance option: on two 8-GPU instances the model does not fit either, or costs more than one instance that fits."
                        </p>
                    }
                    .into_any()
                } else {
                    options_table(calc, options).into_any()
                }
            }}
        </div>
    }
}

/// Only what the options depend on: the model, its settings and the estimate mode.
fn options_inputs(s: &ShareState) -> ShareState {
    let mut key = s.clone();
    key.gpu = None;
    key.nodes = 1;
    key.replicas = 1;
    key.targets = Default::default();
    key
}

/// What the options are and the workload and network their numbers assume.
fn options_note(first: &TwoNodeEstimate) -> String {
    format!(
        "One model across two nodes, both billed, shown where cheaper than the cheapest single instance that fits or where none fits. Speed at {} requests, the traffic between the nodes at {} Gbit/s Ethernet (on-demand instances have no InfiniBand); memory is per GPU of the fuller pipeline stage.",
        first.workload.basis(),
        Fixed::<0>(first.inter_node_bits_per_s / 1e9),
    )
}

fn options_table(calc: Calc, options: Memo<Vec<TwoNodeEstimate>>) -> impl IntoView {
    let note = move || options.with(|o| o.first().map(options_note));
    let row = move |i: usize| option_row(calc, options.with_untracked(|o| o[i].clone()));
    view! {
        <p class="muted small">{note}</p>
        <div class="table-scroll" tabindex="0" role="region" aria-label="Two-instance options, scrolls sideways">
            <table class="gpus">
                <thead>
                    <tr>
                        <th scope="col">"Instances · layout"</th>
                        <th scope="col">"Fit"</th>
                        <th scope="col">"Memory per GPU"</th>
                        <th scope="col">"KV pool"</th>
                        <th scope="col">"TTFT"</th>
                        <th scope="col">"TPOT"</th>
                        <th scope="col">"Output tok/s"</th>
                        <th scope="col">"$/hour, both"</th>
                    </tr>
                </thead>
                <tbody>{(0..options.with(Vec::len)).map(row).collect_view()}</tbody>
            </table>
        </div>
    }
}

/// One option at its recommended layout; clicking it chooses two of the type.
fn option_row(calc: Calc, o: TwoNodeEstimate) -> AnyView {
    let instance = o.instance_type;
    let Some(l) = o.recommended_layout().cloned() else {
        return ().into_any();
    };
    let selected = move || {
        calc.state
            .with(|s| s.nodes == MAX_NODES && s.gpu.as_deref() == Some(instance))
    };
    let choose = move || calc.apply(|s| actions::select_two_nodes(s, instance));
    view! {
        <tr data-testid="two-node-row" data-instance=instance class:selected=selected on:click=move |_| choose()>
            <th scope="row" class="col-gpu">
                <button
                    type="button"
                    class="pick"
                    data-testid="two-node-pick"
                    aria-pressed=move || selected().to_string()
                    on:click=move |ev| {
                        ev.stop_propagation();
                        choose();
                    }
                >
                    <span class="gpu-name">{format!("{MAX_NODES}× {instance}")}</span>
                    <code class="gpu-id">{l.layout.label()}</code>
                </button>
            </th>
            <td data-col="fit" title=l.reason.clone()>
                <span class=format!("badge fit-{}", l.fit.as_str())>{l.fit.as_str()}</span>
            </td>
            <td data-col="per-gpu" class="num">{present::gib(l.per_gpu_bytes)}</td>
            <td data-col="kv-pool" class="num">{present::thousands(l.kv_pool_tokens)}</td>
            <td data-col="ttft" class="num">{present::milliseconds(l.speed.ttft_ms)}</td>
            <td data-col="tpot" class="num">{present::milliseconds(l.speed.tpot_ms)}</td>
            <td data-col="tps" class="num">{present::tokens_per_s(l.speed.output_tokens_per_s)}</td>
            <td data-col="price" class="num">{present::usd(o.price_per_hour_usd)}</td>
        </tr>
    }
    .into_any()
}
