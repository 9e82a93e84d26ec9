//! Share and export: the link, `plan.yaml`, and the command that launches it.

use super::{dom, Calc};
use crate::actions;
use gpu_session_core::share;
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
    let link = RwSignal::new(None::<String>);
    let link_copied = RwSignal::new(Copied::Idle);
    let launch_copied = RwSignal::new(Copied::Idle);
    let download_error = RwSignal::new(None::<String>);
    let preview_open = RwSignal::new(false);
    // Whether a plan exists for the state (nothing built: the plan, its validation and
    // its YAML writer load on demand from gpu-session-extras).
    let plan = Memo::new(move |_| calc.state.with(actions::plan_refusal));
    // The preview's text for the state it was written for.
    let preview = RwSignal::new(None::<(String, Result<String, String>)>);
    let plan_gpu = move || {
        calc.state.with(|s| {
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
        })
    };

    let copy_link = move |_| {
        let url = dom::url_with_query(&calc.state.with_untracked(share::encode));
        link.set(Some(url.clone()));
        dom::copy_text(url, move |ok| {
            link_copied.set(if ok { Copied::Done } else { Copied::Failed })
        });
    };
    let copy_launch = move |_| {
        dom::copy_text(actions::LAUNCH_COMMAND.to_string(), move |ok| {
            launch_copied.set(if ok { Copied::Done } else { Copied::Failed })
        });
    };
    let download = move |_| {
        if plan.with_untracked(Result::is_err) {
            return;
        }
        let query = calc.state.with_untracked(share::encode);
        leptos::task::spawn_local(async move {
            let error = match dom::call_extras("plan_yaml", &[&query]).await {
                Ok(yaml) => dom::download("plan.yaml", "application/yaml", &yaml)
                    .err()
                    .map(|e| format!("the browser refused the download: {e:?}")),
                Err(e) => Some(e),
            };
            download_error.set(error);
        });
    };
    // Keep an open preview in step with the state.
    Effect::new(move |_| {
        let query = calc.state.with(share::encode);
        if !preview_open.get()
            || preview.with_untracked(|p| p.as_ref().is_some_and(|(q, _)| *q == query))
        {
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
    // Keep an open link field in step with the state.
    Effect::new(move |_| {
        let query = calc.state.with(share::encode);
        if link.with_untracked(Option::is_some) {
            link.set(Some(dom::url_with_query(&query)));
            link_copied.set(Copied::Idle);
        }
    });

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
                <div class="action">
                    <button type="button" class="primary" data-testid="copy-link" on:click=copy_link>
                        "Copy link"
                    </button>
                    <span class="status small" aria-live="polite">
                        {move || match link_copied.get() {
                            Copied::Done => "Link copied.",
                            Copied::Failed => "Copy did not work here: select the link below and copy it.",
                            Copied::Idle => "",
                        }}
                    </span>
                </div>
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
                        {move || plan_gpu().map(|g| format!("GPU: {g}"))}
                    </span>
                </div>
                <div class="action">
                    <button type="button" data-testid="copy-launch" on:click=copy_launch>
                        "Copy launch command"
                    </button>
                    <code class="small">{actions::LAUNCH_COMMAND}</code>
                    <span class="status small" aria-live="polite">
                        {move || match launch_copied.get() {
                            Copied::Done => "Copied.",
                            Copied::Failed => "Select the command and copy it.",
                            Copied::Idle => "",
                        }}
                    </span>
                </div>
            </div>
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
            <p class="bad" role="alert" data-testid="plan-error">
                {move || plan.with(|p| p.as_ref().err().map(|e| format!("No plan for these settings: {e}")))}
                {move || download_error.get()}
            </p>
            <details
                class="preview"
                on:toggle=move |ev| {
                    use wasm_bindgen::JsCast;
                    let open = ev
                        .target()
                        .and_then(|t| t.dyn_into::<web_sys::HtmlDetailsElement>().ok())
                        .is_some_and(|d| d.open());
                    preview_open.set(open);
                }
            >
                <summary>"Preview plan.yaml"</summary>
                <Show when=move || preview_open.get()>
                    <pre data-testid="plan-preview">
                        {move || match preview.get() {
                            None => "# writing plan.yaml…".to_string(),
                            Some((_, Ok(yaml))) => yaml,
                            Some((_, Err(e))) => format!("# {e}"),
                        }}
                    </pre>
                </Show>
            </details>
        </section>
    }
}
