//! The GPU table: every Lambda instance type with its verdict, limits, speed and cost.

use super::Calc;
use crate::actions;
use crate::sort::{self, Column};
use gpu_session_core::gpu::{CATALOG, PRICE_SNAPSHOT};
use gpu_session_core::present;
use gpu_session_core::recommend::GpuFit;
use gpu_session_core::service_level::ServiceLevel;
use leptos::prelude::*;

#[component]
pub fn GpuSection(calc: Calc) -> impl IntoView {
    // `None`: catalog order until a header is clicked.
    let column = RwSignal::new(None::<Column>);
    let descending = RwSignal::new(false);
    let order = Memo::new(move |_| {
        let (c, d) = (column.get(), descending.get());
        calc.rec.with(|r| sort::order(&r.rows, c, d))
    });
    let sort_by = move |c: Column| {
        if column.get_untracked() == Some(c) {
            descending.update(|d| *d = !*d);
        } else {
            column.set(Some(c));
            descending.set(c.descending_first());
        }
    };

    let header = move |c: Column| {
        let aria = move || {
            if column.get() != Some(c) {
                "none"
            } else if descending.get() {
                "descending"
            } else {
                "ascending"
            }
        };
        let basis = move || {
            c.basis().map(|what| {
                let basis = calc.rec.with(|r| r.settings.workload().basis());
                view! { <small class="basis">{format!("{what}, at {basis} requests")}</small> }
            })
        };
        view! {
            <th scope="col" aria-sort=aria class=format!("col-{}", c.key())>
                <button type="button" class="sort" title=c.help() on:click=move |_| sort_by(c)>
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
    };

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
                            {Column::ALL.into_iter().map(header).collect_view()}
                            <Show when=move || calc.level.with(Option::is_some)>
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
                        </tr>
                    </thead>
                    <tbody>
                        <For each=move || order.get() key=|i| *i children=move |i| view! { <GpuRow calc=calc i=i/> }/>
                    </tbody>
                </table>
            </div>
            <p class="muted small" data-testid="saturated-note">
                {move || calc.rec.with(|r| r.rows.iter().any(|x| sort::runs(x) && x.speed.saturated)).then_some(
                    "! = saturated: the rate is more than the instance completes, the queue grows.",
                )}
            </p>
            {move || calc.level.with(|l| l.as_ref().map(|l| view! {
                <p class="service-summary" data-testid="service-summary">{service_sentence(l)}</p>
            }))}
        </section>
    }
}

/// "TTFT ≤ 500 ms, TPOT ≤ 30 ms at 5 req/s 1k/1k requests", as the CLI says it.
fn targets_sentence(level: &ServiceLevel) -> String {
    let t = &level.targets;
    let mut parts = Vec::new();
    if let Some(ms) = t.ttft_max_ms {
        parts.push(format!("TTFT ≤ {} ms", present::milliseconds(ms)));
    }
    if let Some(ms) = t.tpot_max_ms {
        parts.push(format!("TPOT ≤ {} ms", present::milliseconds(ms)));
    }
    if parts.is_empty() {
        parts.push("No latency target".to_string());
    }
    format!("{} at {} requests", parts.join(", "), level.basis)
}

/// The choice and what binds it, or why nothing meets the targets.
fn service_sentence(level: &ServiceLevel) -> String {
    match level.choice() {
        Some(c) => format!(
            "{}: cheapest is {} × {} (TP {}) at {}/hour in all; {} binds: {}.",
            targets_sentence(level),
            c.replicas,
            c.gpu.instance_type,
            c.tp,
            present::usd(c.usd_per_hour),
            c.binding.as_str(),
            c.reason,
        ),
        None => format!(
            "Nothing meets {}: {}.",
            targets_sentence(level),
            level
                .none_meets
                .as_deref()
                .unwrap_or("no instance type runs the model")
        ),
    }
}

/// A row's service-level cell: replicas and price, or what binds; "-" for a type the
/// choice leaves out (not offered, or the model does not run on it).
fn service_cell(level: &ServiceLevel, instance: &str) -> (String, String) {
    match level.rows.iter().find(|r| r.gpu.instance_type == instance) {
        Some(r) if r.meets => (
            format!("{} × · {}/hour", r.replicas, present::usd(r.usd_per_hour)),
            r.reason.clone(),
        ),
        Some(r) => (
            format!("no: {} binds", r.binding.as_str()),
            r.reason.clone(),
        ),
        None => (
            "-".to_string(),
            "not offered, or the model does not run on it".to_string(),
        ),
    }
}

#[component]
fn GpuRow(calc: Calc, i: usize) -> impl IntoView {
    let gpu = &CATALOG[i];
    let name = gpu.instance_type;
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
    let service = move || {
        calc.level
            .with(|l| l.as_ref().map(|l| service_cell(l, name)))
    };
    let best = move || {
        calc.level.with(|l| {
            l.as_ref()
                .and_then(|l| l.choice())
                .is_some_and(|c| c.gpu.instance_type == name)
        })
    };
    let fit = move || calc.rec.with(|r| r.rows[i].fit.as_str());
    let fit_label = move || {
        calc.rec
            .with(|r| r.rows[i].fit.label(r.rows[i].max_seqs, r.settings.seqs))
    };
    let selected = move || calc.state.with(|s| s.gpu.as_deref() == Some(name));
    let cheapest = move || calc.rec.with(|r| r.cheapest_fit == Some(i));
    let choose = move || calc.apply(|s| actions::select_gpu(s, Some(name)));
    view! {
        <tr
            data-testid="gpu-row"
            data-instance=name
            class:selected=selected
            class:cheapest=cheapest
            class:service-choice=best
            on:click=move |_| choose()
        >
            <th scope="row" class="col-gpu">
                <button
                    type="button"
                    class="pick"
                    aria-pressed=move || selected().to_string()
                    on:click=move |ev| {
                        ev.stop_propagation();
                        choose();
                    }
                >
                    <span class="gpu-name">{gpu.description}</span>
                    <code class="gpu-id">{name}</code>
                </button>
                <Show when=cheapest>
                    <span class="pill accent small" data-testid="cheapest-badge">"Cheapest fit"</span>
                </Show>
                {gpu.availability_note().map(|note| view! {
                    <span class="gpu-note" data-testid="not-offered">{note}</span>
                })}
            </th>
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
            {move || service().map(|(text, why)| view! {
                <td data-col="service" class="num" title=why>
                    {text}
                    {best().then(|| view! { <span class="pill accent small" data-testid="service-badge">"Cheapest here"</span> })}
                </td>
            })}
        </tr>
    }
}
