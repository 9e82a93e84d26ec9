//! Share and export: the link, `plan.yaml`, and the command that launches it.

use super::{dom, Calc};
use crate::actions;
use gpu_session_core::share::{self, ShareState};
use leptos::prelude::*;

/// What the last copy did, shown next to its button.
#[derive(Clone, Copy, PartialEq)]
enum Copied {
    Idle,
    Done,
    Failed,
}

#[component]
pub fn PlanSection(calc: Calc) -> impl IntoView {
    // The link field, once a copy has shown it.
    let link = RwSignal::new(None::<String>);
    let download_error = RwSignal::new(None::<String>);
    // Whether a plan exists for the state (nothing built: the plan, its validation and
    // its YAML writer load on demand from gpu-session-extras).
    let plan = Memo::new(move |_| calc.state.with(actions::plan_refusal));
    view! {
        <section class="panel" aria-labelledby="plan-title">
            <div class="section-head">
                <h2 id="plan-title">"4. Share it or launch it"</h2>
                <p class="muted">
                    "The link holds every setting. The plan is what "
                    <code>"gpu-session launch"</code>
                    " reads to start the instance and serve the model with SGLang."
                </p>
            </div>
            <div class="actions" on:pointerover=|_| { dom::preload_extras(); } on:focusin=|_| { dom::preload_extras(); }>
                {copy_link_action(calc, link)}
                {download_action(calc, plan, download_error)}
                {launch_command_action()}
            </div>
            {link_field(link)}
            <p class="bad" role="alert" data-testid="plan-error">
                {move || plan.with(|p| p.as_ref().err().map(|e| format!("No plan for these settings: {e}")))}
                {move || download_error.get()}
            </p>
            {plan_preview(calc)}
        </section>
    }
}

/// "Copy link": copies the page's link and shows it in `link`, kept in step with the state.
fn copy_link_action(calc: Calc, link: RwSignal<Option<String>>) -> impl IntoView {
    let copied = RwSignal::new(Copied::Idle);
    let copy_link = move |_| {
        let url = dom::url_with_query(&calc.state.with_untracked(share::encode));
        link.set(Some(url.clone()));
        dom::copy_text(url, move |ok| {
            copied.set(if ok { Copied::Done } else { Copied::Failed })
        });
    };
    Effect::new(move |_| {
        let query = calc.state.with(share::encode);
        if link.with_untracked(Option::is_some) {
            link.set(Some(dom::url_with_query(&query)));
            copied.set(Copied::Idle);
        }
    });
    view! {
        <div class="action">
            <button type="button" class="primary" data-testid="copy-link" on:click=copy_link>
                "Copy link"
            </button>
            <span class="status small" aria-live="polite">
                {move || match copied.get() {
                    Copied::Done => "Link copied.",
                    Copied::Failed => "Copy did not work here: select the link below and copy it.",
                    Copied::Idle => "",
                }}
            </span>
        </div>
    }
}

/// "Download plan.yaml", when `plan` says there is one; a failure goes to `error`.
fn download_action(
    calc: Calc,
    plan: Memo<Result<(), String>>,
    error: RwSignal<Option<String>>,
) -> impl IntoView {
    let download = move |_| {
        if plan.with_untracked(Result::is_err) {
            return;
        }
        let query = calc.state.with_untracked(share::encode);
        leptos::task::spawn_local(async move {
            let failure = match dom::call_extras("plan_yaml", &[&query]).await {
                Ok(yaml) => dom::download("plan.yaml", "application/yaml", &yaml)
                    .err()
                    .map(|e| format!("the browser refused the download: {e:?}")),
                Err(e) => Some(e),
            };
            error.set(failure);
        });
    };
    view! {
        <div class="action">
            <button
                type="button"
                class="primary"
                data-testid="download-plan"
                prop:disabled=move || plan.with(Result::is_err)
                on:click=download
            >
                "Download plan.yaml"
            </button>
            <span class="status small">
                {move || calc.state.with(plan_gpu).map(|g| format!("GPU: {g}"))}
            </span>
        </div>
    }
}

/// The GPU the plan would launch, and why that one.
fn plan_gpu(s: &ShareState) -> Option<String> {
    if s.gpu.is_none() && s.settings.rate.is_some() && !s.targets.is_empty() {
        return Some("the service level's choice, with its replicas".to_string());
    }
    let gpu = actions::plan_gpu(s)?;
    let how = if s.gpu.is_some() {
        "selected"
    } else {
        "cheapest fit"
    };
    let count = if s.nodes > 1 {
        format!("{} × ", s.nodes)
    } else {
        String::new()
    };
    Some(format!("{count}{} ({how})", gpu.instance_type))
}

fn launch_command_action() -> impl IntoView {
    let copied = RwSignal::new(Copied::Idle);
    let copy_launch = move |_| {
        dom::copy_text(actions::LAUNCH_COMMAND.to_string(), move |ok| {
            copied.set(if ok { Copied::Done } else { Copied::Failed })
        });
    };
    view! {
        <div class="action">
            <button type="button" data-testid="copy-launch" on:click=copy_launch>
                "Copy launch command"
            </button>
            <code class="small">{actions::LAUNCH_COMMAND}</code>
            <span class="status small" aria-live="polite">
                {move || match copied.get() {
                    Copied::Done => "Copied.",
                    Copied::Failed => "Select the command and copy it.",
                    Copied::Idle => "",
                }}
            </span>
        </div>
    }
}

/// The copied link, selected whole on focus so it is easy to copy by hand.
fn link_field(link: RwSignal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || link.with(Option::is_some)>
            <label class="field">
                <span>"Link to this calculation"</span>
                <input
                    type="text"
                    readonly
                    data-testid="share-url"
                    prop:value=move || link.get().unwrap_or_default()
                    on:focus=move |ev| {
                        use wasm_bindgen::JsCast;
                        if let Some(input) = ev
                            .target()
                            .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                        {
                            input.select();
                        }
                    }
                />
            </label>
        </Show>
    }
}

/// "Preview plan.yaml": written by gpu-session-extras while open, for the current state.
fn plan_preview(calc: Calc) -> impl IntoView {
    let open = RwSignal::new(false);
    // The preview's text for the state it was written for.
    let preview = RwSignal::new(None::<(String, Result<String, String>)>);
    Effect::new(move |_| {
        let query = calc.state.with(share::encode);
        if !open.get() || preview.with_untracked(|p| p.as_ref().is_some_and(|(q, _)| *q == query)) {
            return;
        }
        leptos::task::spawn_local(async move {
            let text = dom::call_extras("plan_yaml", &[&query]).await;
            // Only the answer for the current state is shown.
            if calc.state.with_untracked(share::encode) == query {
                preview.set(Some((query, text)));
            }
        });
    });
    view! {
        <details
            class="preview"
            on:toggle=move |ev| {
                use wasm_bindgen::JsCast;
                let is_open = ev
                    .target()
                    .and_then(|t| t.dyn_into::<web_sys::HtmlDetailsElement>().ok())
                    .is_some_and(|d| d.open());
                open.set(is_open);
            }
        >
            <summary>"Preview plan.yaml"</summary>
            <Show when=move || open.get()>
                <pre data-testid="plan-preview">
                    {move || match preview.get() {
                        None => "# writing plan.yaml…".to_string(),
                        Some((_, Ok(yaml))) => yaml,
                        Some((_, Err(e))) => format!("# {e}"),
                    }}
                </pre>
            </Show>
        </details>
    }
}
