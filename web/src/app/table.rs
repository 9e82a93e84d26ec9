//! The GPU table: every Lambda instance type with its verdict, limits, speed and cost.

use super::Calc;
use crate::actions::{self, ServiceCell, ServiceView};
use crate::sort::{self, Column};
use gpu_session_core::gpu::{CATALOG, PRICE_SNAPSHOT};
use gpu_session_core::present;
use gpu_session_core::recommend::GpuFit;
use gpu_session_core::settings::EstimateMode;
use leptos::prelude::*;

/// The service-level column for the state, from gpu-session-extras (which holds the
/// choice by service level): with targets at a request rate only, `None` otherwise.
fn service_column(calc: Calc) -> RwSignal<Option<ServiceView>> {
    let service = RwSignal::new(None::<ServiceView>);
    Effect::new(move |_| {
        let (query, wanted) = calc.state.with(|s| {
            let wanted = s.settings.rate.is_some()
                && s.mode == EstimateMode::Serving
                && !s.targets.is_empty();
            (actions::to_transport(s), wanted)
        });
        if !wanted {
            service.set(None);
            return;
        }
        #[cfg(target_arch = "wasm32")]
        leptos::task::spawn_local(async move {
            let text = super::dom::call_extras("service_view", &[&query]).await;
            // Only the answer for the current state is shown.
            if calc.state.with_untracked(actions::to_transport) == query {
                let _ = service.try_set(text.ok().and_then(|t| ServiceView::from_text(&t)));
            }
        });
        #[cfg(not(target_arch = "wasm32"))]
        let _ = query;
    });
    service
}

/// The table's sort: `column` is `None` (catalog order) until a header is clicked.
#[derive(Clone, Copy)]
struct Sorting {
    column: RwSignal<Option<Column>>,
    descending: RwSignal<bool>,
}

impl Sorting {
    fn new() -> Sorting {
        Sorting {
            column: RwSignal::new(None),
            descending: RwSignal::new(false),
        }
    }

    /// Sort by `c`, or turn the order round when it already is.
    fn sort_by(self, c: Column) {
        if self.column.get_untracked() == Some(c) {
            self.descending.update(|d| *d = !*d);
        } else {
            self.column.set(Some(c));
            self.descending.set(c.descending_first());
        }
    }

    /// `c`'s `aria-sort` value.
    fn aria(self, c: Column) -> &'static str {
        if self.column.get() != Some(c) {
            "none"
        } else if self.descending.get() {
            "descending"
        } else {
            "ascending"
        }
    }
}

#[component]
pub fn GpuSection(calc: Calc) -> impl IntoView {
    let service = service_column(calc);
    let sorting = Sorting::new();
    let order = Memo::new(move |_| {
        let (c, d) = (sorting.column.get(), sorting.descending.get());
        calc.rec.with(|r| sort::order(&r.rows, c, d))
    });
    view! {
        <section class="panel" aria-labelledby="gpus-title">
            <div class="section-head">
                <h2 id="gpus-title">"3. Pick a GPU"</h2>
                <p class="muted">
                    "Every Lambda instance type at these settings. Click a row to choose it; "
                    "the cheapest offered type that fits is highlighted."
                </p>
            </div>
            <div class="table-scroll" tabindex="0" role="region" aria-label="GPU table, scrolls sideways">
                <table class="gpus" data-testid="gpu-table">
                    <caption data-testid="price-caption">
                        "Lambda on-demand prices per instance-hour, as of "
                        <span data-testid="price-snapshot">{PRICE_SNAPSHOT}</span>
                    </caption>
                    <thead>
                        <tr>
                            {Column::ALL.into_iter().map(|c| column_header(calc, sorting, c)).collect_view()}
                            {service_header(service)}
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || order.get() key=|i| *i children=move |i| view! { <GpuRow calc=calc i=i service=service/> }/>
                    </tbody>
                </table>
            </div>
            <p class="muted small" data-testid="saturated-note">
                {move || calc.rec.with(|r| r.rows.iter().any(|x| sort::runs(x) && x.speed.saturated)).then_some(
                    "! = saturated: the rate is more than the instance completes, the queue grows.",
                )}
            </p>
            {move || service.with(|l| l.as_ref().map(|l| view! {
                <p class="service-summary" data-testid="service-summary">{l.sentence.clone()}</p>
            }))}
            <Show when=move || calc.state.with(|s| s.nodes > 1) || calc.rec.with(actions::two_nodes_worth_a_look)>
                <TwoNodeSlot calc=calc/>
            </Show>
        </section>
    }
}

/// Column `c`'s header: a sort button, a link to its formula, and the workload its
/// figures are for when it is a speed.
fn column_header(calc: Calc, sorting: Sorting, c: Column) -> impl IntoView {
    let aria = move || sorting.aria(c);
    let basis = move || {
        c.basis().map(|what| {
            let basis = calc.rec.with(|r| r.settings.workload().basis());
            view! { <small class="basis">{format!("{what}, at {basis} requests")}</small> }
        })
    };
    view! {
        <th scope="col" aria-sort=aria class=format!("col-{}", c.key())>
            <button type="button" class="sort" title=c.help() on:click=move |_| sorting.sort_by(c)>
                {c.label()}
                <span class="arrow" aria-hidden="true">
                    {move || match aria() {
                        "ascending" => "▲",
                        "descending" => "▼",
                        _ => "↕",
                    }}
                </span>
            </button>
            <a
                class="how"
                href=format!("{}#{}", sort::FORMULAS, c.formula())
                title=format!("How {} is computed", c.label())
            >
                "?"
            </a>
            {basis}
        </th>
    }
}

/// The service-level column's header, while there is such a column.
fn service_header(service: RwSignal<Option<ServiceView>>) -> impl IntoView {
    view! {
        <Show when=move || service.with(Option::is_some)>
            <th scope="col" class="col-service">
                "Service level"
                <a
                    class="how"
                    href=format!("{}#{}", sort::FORMULAS, sort::SERVICE_LEVEL_FORMULA)
                    title="How the service level is chosen"
                >
                    "?"
                </a>
                <small class="basis">"replicas for the rate, $/hour in all"</small>
            </th>
        </Show>
    }
}

/// Where the two-instance options appear (see `super::two_nodes`): a line while
/// `gpu-session-extras` loads, which then mounts them here.
#[component]
fn TwoNodeSlot(calc: Calc) -> impl IntoView {
    let slot = NodeRef::<leptos::html::Div>::new();
    let error = RwSignal::new(None::<String>);
    #[cfg(target_arch = "wasm32")]
    super::mount_from_extras(calc, slot, super::dom::Mount::TwoNodes, error);
    #[cfg(not(target_arch = "wasm32"))]
    let _ = calc;
    view! {
        <div class="two-node-slot" data-testid="two-node-slot" node_ref=slot>
            <p class="muted small">"Loading the two-instance options…"</p>
            <p class="bad small" role="alert">{move || error.get()}</p>
        </div>
    }
}

/// One instance of the type is selected: two of them are the two-instance options' row.
fn is_selected(calc: Calc, name: &str) -> bool {
    calc.state
        .with(|s| s.gpu.as_deref() == Some(name) && s.nodes == 1)
}

fn is_cheapest(calc: Calc, i: usize) -> bool {
    calc.rec.with(|r| r.cheapest_fit == Some(i))
}

fn choose(calc: Calc, name: &'static str) {
    calc.apply(|s| actions::select_gpu(s, Some(name)));
}

#[component]
fn GpuRow(calc: Calc, i: usize, service: RwSignal<Option<ServiceView>>) -> impl IntoView {
    let name = CATALOG[i].instance_type;
    let service_cell = move || service.with(|v| v.as_ref().map(|v| v.cell(name)));
    let best = move || service_cell().is_some_and(|c| c.choice.is_some());
    view! {
        <tr
            data-testid="gpu-row"
            data-instance=name
            class:selected=move || is_selected(calc, name)
            class:cheapest=move || is_cheapest(calc, i)
            class:service-choice=best
            on:click=move |_| choose(calc, name)
        >
            {gpu_cell(calc, i)}
            {estimate_cells(calc, i)}
            {move || service_cell().map(service_td)}
        </tr>
    }
}

/// The row's figures, from the GPU type itself and from core's estimate on it.
fn estimate_cells(calc: Calc, i: usize) -> impl IntoView {
    let gpu = &CATALOG[i];
    let cell = move |f: fn(&GpuFit) -> String| move || calc.rec.with(|r| f(&r.rows[i]));
    // A speed figure, "-" where the model does not run (as the CLI shows it).
    let speed = move |f: fn(&GpuFit) -> String| {
        move || {
            calc.rec.with(|r| {
                let row = &r.rows[i];
                if sort::runs(row) {
                    f(row)
                } else {
                    "-".to_string()
                }
            })
        }
    };
    let fit = move || calc.rec.with(|r| r.rows[i].fit.as_str());
    let fit_label = move || {
        calc.rec
            .with(|r| r.rows[i].fit.label(r.rows[i].max_seqs, r.settings.seqs))
    };
    view! {
        <td data-col="memory" class="num">
            {format!("{}× {} GB", gpu.gpu_count, gpu.nominal_memory_gb)}
        </td>
        <td data-col="fit" title=cell(|r| r.reason.clone())>
            <span class=move || format!("badge fit-{}", fit())>{fit_label}</span>
        </td>
        <td data-col="headroom" class="num">{cell(|r| present::signed_gib(r.headroom_bytes))}</td>
        <td data-col="kv-pool" class="num">{cell(|r| present::thousands(r.kv_pool_tokens))}</td>
        <td data-col="max-context" class="num">{cell(|r| present::thousands(u64::from(r.max_context)))}</td>
        <td data-col="ttft" class="num">{speed(|r| present::milliseconds(r.speed.ttft_ms))}</td>
        <td data-col="tpot" class="num">{speed(|r| present::milliseconds(r.speed.tpot_ms))}</td>
        <td data-col="tps" class="num">{speed(|r| sort::saturated(present::tokens_per_s(r.speed.output_tokens_per_s), &r.speed))}</td>
        <td data-col="tps-user" class="num">{speed(|r| present::tokens_per_s(r.speed.output_tokens_per_s_per_user))}</td>
        <td data-col="price" class="num" title=format!("price as of {}", gpu.price_as_of)>
            {present::usd(gpu.price_per_hour_usd())}
        </td>
        <td data-col="per-million" class="num">{speed(|r| present::usd_fine(r.speed.usd_per_million_output_tokens))}</td>
        <td data-col="per-million-in" class="num">{speed(|r| present::usd_fine(r.speed.usd_per_million_input_tokens))}</td>
    }
}

/// The row's header cell: the GPU type's name as the button that chooses it, with its
/// badges.
fn gpu_cell(calc: Calc, i: usize) -> impl IntoView {
    let gpu = &CATALOG[i];
    let name = gpu.instance_type;
    view! {
        <th scope="row" class="col-gpu">
            <button
                type="button"
                class="pick"
                aria-pressed=move || is_selected(calc, name).to_string()
                on:click=move |ev| {
                    ev.stop_propagation();
                    choose(calc, name);
                }
            >
                <span class="gpu-name">{gpu.description}</span>
                <code class="gpu-id">{name}</code>
            </button>
            <Show when=move || is_cheapest(calc, i)>
                <span class="pill accent small" data-testid="cheapest-badge">"Cheapest fit"</span>
            </Show>
            {gpu.availability_note().map(|note| view! {
                <span class="gpu-note" data-testid="not-offered">{note}</span>
            })}
        </th>
    }
}

fn service_td(c: ServiceCell) -> impl IntoView {
    view! {
        <td data-col="service" class="num" title=c.title>
            {c.text}
            {c.choice.map(|instances| view! {
                <span class="pill accent small" data-testid="service-badge">"Cheapest here"</span>
                <small class="service-instances" data-testid="service-instances">{instances}</small>
            })}
        </td>
    }
}
