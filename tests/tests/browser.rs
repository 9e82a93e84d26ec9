//! End-to-end tests of the built web calculator in headless Chromium.
//!
//! They build nothing: the release site must already be in `GPU_SESSION_SITE_DIR`
//! (default `<workspace>/target/site`); `cargo xtask test` builds it first. Every
//! number on the page is compared with what gpu-session-core computes for the state
//! the page's URL holds.

use gpu_session_core::registry::{builtins, BY_USE_CASE};
use gpu_session_core::share::{decode, CustomSpec, HubModel, ModelChoice, ShareState};
use gpu_session_core::{present, Architecture};
use gpu_session_tests::browser::{
    assert_view_matches, cli_estimate, cli_plan, expected, output_dir, site_dir, Browser, Encoding,
    StaticServer, View,
};
use gpu_session_tests::fake_hub::{FakeHub, FakeRepo};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn serve(prefix: &str) -> StaticServer {
    let dir = site_dir().unwrap_or_else(|e| panic!("{e}"));
    StaticServer::start(&dir, prefix).expect("start the static server")
}

async fn browser(width: u32, height: u32) -> Browser {
    Browser::start(width, height)
        .await
        .unwrap_or_else(|e| panic!("headless Chromium: {e}"))
}

/// Wait until the URL holds the state the page shows, and return that state. The URL
/// follows the page after a short debounce, so this polls (bounded; not a timing test).
async fn settled(b: &Browser) -> (ShareState, View) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = b.view().await;
        let state = decode(&view.search).state;
        let want = expected(&state);
        let shown = view.rows_by_instance();
        if view.total.as_deref() == Some(want.total.as_str()) && shown == want.rows {
            return (state, view);
        }
        if Instant::now() > deadline {
            assert_view_matches(&view, &state);
            unreachable!("the page and its URL never agreed");
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn set_range(b: &Browser, testid: &str, position: u32) {
    b.js(&format!(
        "const s = document.querySelector('[data-testid={testid}]');
         s.value = '{position}';
         s.dispatchEvent(new Event('input', {{ bubbles: true }}));
         return s.value;"
    ))
    .await;
}

async fn click(b: &Browser, selector: &str) {
    let found = b
        .js(&format!(
            "const e = document.querySelector({}); if (!e) return false; e.click(); return true;",
            serde_json::to_string(selector).unwrap()
        ))
        .await;
    assert_eq!(found, serde_json::json!(true), "no element {selector}");
}

#[tokio::test]
async fn lists_the_seven_models_and_shows_what_core_computes() {
    let server = serve("/");
    let b = browser(1280, 1000).await;
    b.open(&server.url()).await;

    let ids = b
        .js("return [...document.querySelectorAll('[data-testid=model-card]')].map(c => c.dataset.modelId);")
        .await;
    let want: Vec<&str> = builtins().iter().map(|m| m.id.as_str()).collect();
    assert_eq!(
        ids,
        serde_json::json!(want),
        "the 7 built-in models, in order"
    );

    let (state, view) = settled(&b).await;
    assert_eq!(state, ShareState::default());
    assert_view_matches(&view, &state);
    assert_eq!(
        view.rows.iter().filter(|r| r.cheapest).count(),
        1,
        "exactly one row is the cheapest fit"
    );
    let snapshot = b
        .js("return document.querySelector('[data-testid=price-snapshot]').textContent;")
        .await;
    assert_eq!(snapshot, gpu_session_core::gpu::PRICE_SNAPSHOT);
    b.screenshot(&output_dir().join("desktop.png")).await;

    // Filtering by use case leaves the model the reference's guide names.
    b.js("const s = document.querySelector('[data-testid=use-case]'); s.value = 'Long documents'; s.dispatchEvent(new Event('change', { bubbles: true }));").await;
    b.wait_for(
        "document.querySelectorAll('[data-testid=model-card]').length === 1",
        "the use-case filter",
    )
    .await;
    let ids = b
        .js("return [...document.querySelectorAll('[data-testid=model-card]')].map(c => c.dataset.modelId);")
        .await;
    assert_eq!(ids, serde_json::json!(["mistral-7b"]));

    b.close().await;
}

#[tokio::test]
async fn a_model_named_in_the_guides_is_one_click_away() {
    let server = serve("/");
    let b = browser(1280, 1000).await;
    b.open(&server.url()).await;
    settled(&b).await;
    // The guides are pre-rendered HTML the wasm adopts: still there, still one section.
    let sections = b
        .js("return document.querySelectorAll('[data-testid=guides]').length;")
        .await;
    assert_eq!(sections, serde_json::json!(1));
    let default_model = ShareState::default();
    let pick = BY_USE_CASE
        .iter()
        .map(|g| g.model_id)
        .find(|id| default_model.model != ModelChoice::Builtin((*id).to_string()))
        .expect("a guide names another model");
    click(
        &b,
        &format!("[data-testid=guides] button[data-pick='{pick}']"),
    )
    .await;
    b.wait_for(
        &format!("new URLSearchParams(location.search).get('m') === '{pick}'"),
        "the picked model in the link",
    )
    .await;
    let (state, view) = settled(&b).await;
    assert_eq!(state.model, ModelChoice::Builtin(pick.to_string()));
    assert_view_matches(&view, &state);
    b.close().await;
}

#[tokio::test]
async fn sliders_update_every_number_to_what_core_computes() {
    let server = serve("/");
    let b = browser(1280, 1000).await;
    b.open(&format!("{}?v=1&m=llama-3.1-8b", server.url()))
        .await;
    let (before, _) = settled(&b).await;
    assert_eq!(before.settings.context, 8192);

    // Context slider: position 20 of the 512…128K scale is 16K tokens.
    set_range(&b, "ctx-slider", 20).await;
    b.wait_for(
        "document.querySelector('[data-testid=ctx-input]').value === '16384'",
        "the context to follow the slider",
    )
    .await;
    let (state, view) = settled(&b).await;
    assert_eq!(state.settings.context, 16_384);
    assert_view_matches(&view, &state);
    let label = b
        .js("return document.querySelector('[data-testid=ctx-value]').textContent;")
        .await;
    assert_eq!(label, format!("{} tokens", present::context(16_384)));

    // Sequences slider, then KV dtype and GPU count: every input re-renders exactly.
    set_range(&b, "seq-slider", 11).await;
    b.wait_for(
        "document.querySelector('[data-testid=seq-input]').value === '16'",
        "the sequences to follow the slider",
    )
    .await;
    let (state, view) = settled(&b).await;
    assert_eq!(state.settings.seqs, 16);
    assert_view_matches(&view, &state);

    b.js("const s = document.querySelector('[data-testid=kv-select]'); s.value = 'fp8_e4m3'; s.dispatchEvent(new Event('change', { bubbles: true }));").await;
    click(&b, "[data-testid=gpu-count-2]").await;
    b.wait_for(
        "location.search.includes('kv=fp8_e4m3') && location.search.includes('n=2')",
        "the URL",
    )
    .await;
    let (state, view) = settled(&b).await;
    assert_eq!(state.settings.gpus, 2);
    assert_view_matches(&view, &state);

    // Reference mode shows the reference formula's GB.
    click(&b, "[data-testid=mode-reference]").await;
    b.wait_for(
        "location.search.includes('est=reference')",
        "reference mode",
    )
    .await;
    let (state, view) = settled(&b).await;
    assert!(view.total.as_deref().is_some_and(|t| t.ends_with(" GB")));
    assert_view_matches(&view, &state);
    b.close().await;
}

#[tokio::test]
async fn a_share_link_restores_the_same_state_in_a_fresh_browser() {
    let server = serve("/");
    let a = browser(1280, 1000).await;
    a.open(&server.url()).await;
    click(&a, "[data-model-id='qwen2.5-coder-32b']").await;
    a.wait_for(
        "location.search.includes('m=qwen2.5-coder-32b&')",
        "the model in the URL",
    )
    .await;
    set_range(&a, "ctx-slider", 12).await;
    set_range(&a, "seq-slider", 3).await;
    click(&a, "[data-instance='gpu_1x_h100_sxm5']").await;
    a.wait_for(
        "location.search.includes('gpu=gpu_1x_h100_sxm5')",
        "the GPU in the URL",
    )
    .await;
    // Sorting is a view choice, not state: the table reorders, the numbers stay.
    click(&a, "th.col-price button").await;
    let (state, view_a) = settled(&a).await;
    assert_eq!(state.gpu.as_deref(), Some("gpu_1x_h100_sxm5"));
    assert_eq!(state.settings.gpus, 1);
    let selected: Vec<&str> = view_a
        .rows
        .iter()
        .filter(|r| r.selected)
        .map(|r| r.instance.as_str())
        .collect();
    assert_eq!(selected, ["gpu_1x_h100_sxm5"]);

    click(&a, "[data-testid=copy-link]").await;
    let link = a
        .wait_for(
            "document.querySelector('[data-testid=share-url]')?.value",
            "the share link",
        )
        .await;
    let link = link.as_str().expect("link text").to_string();
    assert!(link.starts_with(&server.url()), "{link}");
    a.close().await;

    let b = browser(1280, 1000).await;
    b.open(&link).await;
    let (restored, view_b) = settled(&b).await;
    assert_eq!(restored, state, "the link restores the exact state");
    assert_eq!(view_b.rows_by_instance(), view_a.rows_by_instance());
    assert_eq!(view_b.total, view_a.total);
    assert_eq!(view_b.notice, None, "a good link shows no notice");
    b.close().await;
}

#[tokio::test]
async fn a_link_with_bad_values_shows_a_notice_and_still_renders() {
    let server = serve("/");
    let query = "?v=1&m=llama-3.1-8b&q=int3&ctx=abc&seq=4&gpu=gpu_9x_nope&zzz=1";
    let decoded = decode(query);
    assert!(!decoded.ignored.is_empty());
    let b = browser(1280, 1000).await;
    b.open(&format!("{}{query}", server.url())).await;
    let notice = b
        .wait_for(
            "document.querySelector('[data-testid=ignored-fields]')?.textContent",
            "the notice",
        )
        .await;
    assert_eq!(notice, decoded.ignored.join(", "));
    let (state, view) = settled(&b).await;
    assert_eq!(state, decoded.state, "what could be kept is kept");
    assert_eq!(state.settings.seqs, 4);
    assert_view_matches(&view, &state);
    b.close().await;
}

/// Click "Download plan.yaml" and return the text of the file the page saved.
async fn downloaded_plan(b: &Browser) -> String {
    b.js("window.__plans = [];
          const create = URL.createObjectURL;
          URL.createObjectURL = function (blob) { window.__plans.push(blob); return create.call(URL, blob); };")
        .await;
    click(b, "[data-testid=download-plan]").await;
    // The YAML writer is loaded on the first click (gpu-session-extras): the file
    // follows asynchronously.
    b.wait_for("window.__plans.length > 0", "the plan download")
        .await;
    b.js_async("window.__plans[0].text().then(done);")
        .await
        .as_str()
        .expect("plan text")
        .to_string()
}

#[tokio::test]
async fn the_downloaded_plan_is_what_the_cli_writes() {
    let server = serve("/");
    let b = browser(1280, 1000).await;
    // The cheapest fit, then a selected GPU.
    b.open(&format!(
        "{}?v=1&m=llama-3.1-70b&ctx=16384&seq=2",
        server.url()
    ))
    .await;
    let (state, _) = settled(&b).await;
    assert_eq!(downloaded_plan(&b).await, cli_plan(&state));

    click(&b, "[data-instance='gpu_2x_a100']").await;
    b.wait_for(
        "location.search.includes('gpu=gpu_2x_a100')",
        "the GPU in the URL",
    )
    .await;
    let (state, _) = settled(&b).await;
    let plan = downloaded_plan(&b).await;
    assert_eq!(plan, cli_plan(&state));
    assert!(plan.contains("instance_type: gpu_2x_a100") && plan.contains("tensor_parallel: 2"));

    // No INT8 checkpoint is known for Mistral: the page says why and offers no file.
    b.open(&format!("{}?v=1&m=mistral-7b&q=int8", server.url()))
        .await;
    settled(&b).await;
    let error = b
        .wait_for(
            "document.querySelector('[data-testid=plan-error]')?.textContent",
            "the plan error",
        )
        .await;
    let error = error.as_str().expect("error text");
    assert!(
        error.starts_with("No plan for these settings: ")
            && error.contains("model.quantization")
            && error.contains("INT8"),
        "{error}"
    );
    let disabled = b
        .js("return document.querySelector('[data-testid=download-plan]').disabled;")
        .await;
    assert_eq!(disabled, serde_json::json!(true));
    b.close().await;
}

const QWEN_CONFIG: &str = r#"{"architectures": ["Qwen2ForCausalLM"], "hidden_size": 5120,
 "intermediate_size": 27648, "max_position_embeddings": 32768, "model_type": "qwen2",
 "num_attention_heads": 40, "num_hidden_layers": 64, "num_key_value_heads": 8,
 "sliding_window": 131072, "use_sliding_window": false, "tie_word_embeddings": false,
 "vocab_size": 152064}"#;

/// Rename the custom model in the editor; return the state once the link holds it.
async fn rename_custom_model(b: &Browser, name: &str) -> (ShareState, View) {
    let name = serde_json::to_string(name).unwrap();
    b.js(&format!(
        "const n = document.querySelector('[data-testid=custom-name]');
         n.value = {name};
         n.dispatchEvent(new Event('change', {{ bubbles: true }}));"
    ))
    .await;
    b.wait_for(
        &format!("new URLSearchParams(location.search).get('name') === {name}"),
        "the editor's name in the link",
    )
    .await;
    settled(b).await
}

async fn paste_config(b: &Browser, text: &str) {
    b.js(&format!(
        "const t = document.querySelector('[data-testid=config-json]');
         t.value = {};
         t.dispatchEvent(new Event('input', {{ bubbles: true }}));",
        serde_json::to_string(text).unwrap()
    ))
    .await;
}

#[tokio::test]
async fn a_pasted_config_json_makes_a_custom_model() {
    let server = serve("/");
    let b = browser(1280, 1000).await;
    b.open(&server.url()).await;
    click(&b, "[data-testid=model-card-custom]").await;
    b.wait_for(
        "document.querySelector('[data-testid=config-json]')",
        "the custom editor",
    )
    .await;

    // Bad JSON: a clear message next to the box, and the page keeps working.
    paste_config(&b, "{\"hidden_size\": 4096,").await;
    let message = b
        .wait_for(
            "document.querySelector('[data-testid=config-json-error]')?.textContent",
            "the JSON error",
        )
        .await;
    let want = Architecture::from_hf_config_json("{\"hidden_size\": 4096,").unwrap_err();
    assert_eq!(message, want.to_string());

    paste_config(&b, QWEN_CONFIG).await;
    b.wait_for(
        "document.querySelector('[data-testid=config-json-ok]')",
        "the config to be read",
    )
    .await;
    b.wait_for(
        "location.search.includes('arch=')",
        "the architecture in the URL",
    )
    .await;
    let (state, view) = settled(&b).await;
    let arch = Architecture::from_hf_config_json(QWEN_CONFIG).unwrap();
    match &state.model {
        ModelChoice::Custom(spec) => {
            assert_eq!(spec.architecture, Some(arch));
            assert!((spec.params_billions - arch.param_count() as f64 / 1e9).abs() < 1e-6);
        }
        other => panic!("expected a custom model, got {other:?}"),
    }
    assert_view_matches(&view, &state);

    // The editor (a module of its own) follows the page: a context chosen on the page
    // survives an edit made in the editor afterwards.
    set_range(&b, "ctx-slider", 3).await;
    b.wait_for(
        &format!(
            "new URLSearchParams(location.search).get('ctx') !== '{}'",
            state.settings.context
        ),
        "the new context in the link",
    )
    .await;
    let (moved, _) = settled(&b).await;
    let (renamed, view) = rename_custom_model(&b, "Renamed Qwen").await;
    assert_eq!(renamed.settings, moved.settings);
    match &renamed.model {
        ModelChoice::Custom(spec) => assert_eq!(spec.name, "Renamed Qwen"),
        other => panic!("expected a custom model, got {other:?}"),
    }
    assert_view_matches(&view, &renamed);
    b.close().await;
}

#[tokio::test]
async fn what_the_page_changes_while_the_editor_loads_survives_the_first_edit() {
    let server = serve("/");
    let b = browser(1280, 1000).await;
    b.open(&server.url()).await;
    let (before, _) = settled(&b).await;
    // A slow link from here on: the editor's module takes seconds to arrive.
    b.cdp("Network.enable", json!({})).await.expect("CDP");
    b.cdp(
        "Network.emulateNetworkConditions",
        json!({ "offline": false, "latency": 2000, "downloadThroughput": -1, "uploadThroughput": -1 }),
    )
    .await
    .expect("CDP");
    click(&b, "[data-testid=model-card-custom]").await;
    // Meanwhile the visitor moves the context slider (the page needs no network).
    set_range(&b, "ctx-slider", 2).await;
    b.wait_for(
        &format!(
            "new URLSearchParams(location.search).get('m') === 'custom' \
             && new URLSearchParams(location.search).get('ctx') !== '{}'",
            before.settings.context
        ),
        "the custom model and the new context in the link",
    )
    .await;
    let (moved, _) = settled(&b).await;
    let editor_there = b
        .js("return document.querySelector('[data-testid=custom-editor]') !== null;")
        .await;
    assert_eq!(editor_there, json!(false), "the editor was still loading");
    b.wait_for(
        "document.querySelector('[data-testid=custom-name]')",
        "the editor",
    )
    .await;
    let (edited, view) = rename_custom_model(&b, "Late editor").await;
    assert_eq!(edited.settings, moved.settings);
    assert_view_matches(&view, &edited);
    b.close().await;
}

#[tokio::test]
async fn works_under_a_subpath_and_requests_nothing_from_elsewhere() {
    let server = serve("/calc/");
    let b = browser(1280, 1000).await;
    b.open(&format!("{}?v=1&m=mistral-7b", server.url())).await;
    set_range(&b, "ctx-slider", 16).await;
    let (state, view) = settled(&b).await;
    assert_eq!(state.settings.context, 8192);
    assert_view_matches(&view, &state);
    let path = b.js("return location.pathname;").await;
    assert_eq!(
        path, "/calc/",
        "the state lives in the query; the path stays"
    );

    let entries = b
        .js("return [location.origin, ...performance.getEntriesByType('resource').map(e => e.name)];")
        .await;
    let entries: Vec<String> = serde_json::from_value(entries).unwrap();
    let (origin, resources) = entries.split_first().unwrap();
    assert_eq!(origin, &server.origin());
    assert!(
        resources.iter().any(|r| r.ends_with(".wasm")),
        "{resources:?}"
    );
    for r in resources {
        assert!(
            r.starts_with(&format!("{origin}/calc/")),
            "request outside the site: {r}"
        );
    }
    let failed: Vec<_> = server
        .requests()
        .into_iter()
        .filter(|(_, status)| *status != 200)
        .collect();
    assert!(failed.is_empty(), "failed requests: {failed:?}");
    b.close().await;
}

#[tokio::test]
async fn every_column_and_memory_part_links_to_its_formula_in_the_manual() {
    let server = serve("/calc/");
    let b = browser(1280, 1000).await;
    b.open(&server.url()).await;
    settled(&b).await;
    let links = b
        .js("return { headers: document.querySelectorAll('table.gpus thead th').length, \
             columns: [...document.querySelectorAll('table.gpus thead th a.how')].map(a => a.getAttribute('href')), \
             parts: [...document.querySelectorAll('.legend a.how')].map(a => a.getAttribute('href')), \
             manual: document.querySelector('[data-testid=manual-link]').getAttribute('href') };")
        .await;
    let hrefs = |key: &str| -> Vec<String> { serde_json::from_value(links[key].clone()).unwrap() };
    assert_eq!(
        links["headers"],
        json!(hrefs("columns").len()),
        "one link per column: {links}"
    );
    assert_eq!(
        hrefs("parts"),
        ["weights", "kv-cache", "activations", "overhead"]
            .map(|a| format!("book/estimates.html#{a}")),
    );
    assert!(
        hrefs("columns")
            .iter()
            .all(|h| h.starts_with("book/estimates.html#")),
        "{links}"
    );
    assert_eq!(links["manual"], json!("book/"));
    // The link lands on the formula: the manual is published under the site.
    click(&b, "th.col-kv-pool a.how").await;
    b.wait_for(
        "location.pathname === '/calc/book/estimates.html' && !!document.getElementById(location.hash.slice(1))",
        "the KV-pool formula in the manual",
    )
    .await;
    assert_eq!(b.js("return location.hash;").await, json!("#kv-pool"));
    b.close().await;
}

#[tokio::test]
async fn fits_a_phone_screen_without_sideways_scrolling() {
    let server = serve("/");
    let b = browser(375, 812).await;
    b.open(&server.url()).await;
    let width = b.js("return window.innerWidth;").await;
    assert_eq!(width, serde_json::json!(375), "the viewport is phone-sized");
    let scroll = b.js("return document.documentElement.scrollWidth;").await;
    assert!(
        scroll.as_u64().is_some_and(|w| w <= 375),
        "the page is {scroll} px wide at 375 px"
    );
    b.screenshot(&output_dir().join("phone.png")).await;
    b.close().await;
}

/// Block the page's own wasm (not the on-demand extras): the page stays as the
/// pre-rendered HTML made it.
async fn block_the_app_wasm(b: &Browser, blocked: bool) {
    b.cdp("Network.enable", json!({})).await.expect("CDP");
    let urls = if blocked {
        json!(["*gpu-session-web-*.wasm"])
    } else {
        json!([])
    };
    b.cdp("Network.setBlockedURLs", json!({ "urls": urls }))
        .await
        .expect("CDP");
}

/// Where key elements sit on the page, to compare two renders.
const LAYOUT: &str = r#"
const box = (e) => { const r = e.getBoundingClientRect(); return [Math.round(r.x), Math.round(r.y), Math.round(r.width), Math.round(r.height)]; };
return {
  height: document.documentElement.scrollHeight,
  boxes: [...document.querySelectorAll('[data-testid=total-per-gpu], [data-testid=gpu-row], [data-testid=model-card], [data-testid=ctx-slider], [data-testid=guides], h2')].map(box),
};
"#;

#[tokio::test]
async fn with_javascript_off_the_prerendered_default_is_readable() {
    let server = serve("/");
    let b = browser(1280, 1000).await;
    b.cdp(
        "Emulation.setScriptExecutionDisabled",
        json!({ "value": true }),
    )
    .await
    .expect("CDP");
    b.goto(&server.url()).await;
    // Reading the DOM through WebDriver still works; the page's own scripts do not run.
    let ran = b
        .js("return window.__gpuSessionInteractive !== undefined || document.documentElement.hasAttribute('data-loading');")
        .await;
    assert_eq!(ran, json!(false), "no page script ran");
    // With scripting off the parser builds <noscript>'s content as elements and shows it.
    let noscript = b
        .js("const p = document.querySelector('noscript > p');
             return p ? getComputedStyle(p).display : null;")
        .await;
    assert_eq!(
        noscript,
        json!("block"),
        "the browser runs without JavaScript"
    );
    let view = b.view().await;
    assert_view_matches(&view, &ShareState::default());
    let visible = b
        .js("const t = document.querySelector('[data-testid=gpu-table]');
             const r = t.getBoundingClientRect();
             return [r.width > 600 && r.height > 200, getComputedStyle(t.querySelector('tbody')).opacity,
                     getComputedStyle(document.querySelector('[data-testid=loading-notice]')).display];")
        .await;
    assert_eq!(
        visible,
        json!([true, "1", "none"]),
        "the table is laid out, not dimmed"
    );
    b.close().await;
}

#[tokio::test]
async fn the_prerendered_html_holds_what_core_computes_and_the_wasm_takes_it_over_in_place() {
    let server = serve("/");
    let b = browser(1280, 1000).await;
    block_the_app_wasm(&b, true).await;
    b.goto(&server.url()).await;
    let view = b.view().await;
    assert_view_matches(&view, &ShareState::default());
    let interactive = b
        .js("return window.__gpuSessionInteractive === undefined;")
        .await;
    assert_eq!(interactive, json!(true), "the wasm was blocked");
    let prerendered = b.js(LAYOUT).await;

    block_the_app_wasm(&b, false).await;
    b.open(&server.url()).await;
    let (state, view) = settled(&b).await;
    assert_eq!(state, ShareState::default());
    assert_view_matches(&view, &state);
    assert_eq!(
        b.js(LAYOUT).await,
        prerendered,
        "nothing moved when the wasm took over"
    );
    b.close().await;
}

#[tokio::test]
async fn a_share_link_shows_the_prerendered_numbers_only_as_loading() {
    let server = StaticServer::start_with(
        &site_dir().unwrap_or_else(|e| panic!("{e}")),
        "/",
        Encoding::Gzip,
    )
    .expect("start the static server");
    let link = format!("{}?v=1&m=mistral-7b&ctx=4096&seq=8", server.url());
    let link_state = decode(&link[link.find('?').unwrap()..]).state;
    assert_ne!(
        expected(&link_state).total,
        expected(&ShareState::default()).total
    );

    let b = browser(1280, 1000).await;
    block_the_app_wasm(&b, true).await;
    b.goto(&link).await;
    let loading = b
        .js("const q = (s) => document.querySelector(s);
             return [document.documentElement.hasAttribute('data-loading'),
                     getComputedStyle(q('[data-testid=loading-notice]')).display,
                     Number(getComputedStyle(q('.results')).opacity) < 0.5,
                     Number(getComputedStyle(q('[data-testid=gpu-table] tbody')).opacity) < 0.5];")
        .await;
    assert_eq!(
        loading,
        json!([true, "block", true, true]),
        "the default numbers are dimmed and marked as updating"
    );

    // The same link on the default state's own page is not marked.
    b.goto(&format!(
        "{}?{}",
        server.url(),
        gpu_session_core::share::encode(&ShareState::default())
    ))
    .await;
    let marked = b
        .js("return document.documentElement.hasAttribute('data-loading');")
        .await;
    assert_eq!(marked, json!(false));

    block_the_app_wasm(&b, false).await;
    b.open(&link).await;
    let (state, view) = settled(&b).await;
    assert_eq!(state, link_state);
    assert_view_matches(&view, &state);
    let done = b
        .js("return [document.documentElement.hasAttribute('data-loading'),
                     getComputedStyle(document.querySelector('[data-testid=loading-notice]')).display];")
        .await;
    assert_eq!(
        done,
        json!([false, "none"]),
        "the link's own numbers, not marked"
    );
    b.close().await;
}

const QWEN3_235B_FP8_REPO: &str = "Qwen/Qwen3-235B-A22B-FP8";
const QWEN3_235B_FP8_CONFIG: &str =
    include_str!("../../core/tests/fixtures/hf-configs/Qwen__Qwen3-235B-A22B-FP8.json");

/// The state the page holds once it has read `repo`'s config.json: the URL's settings
/// (it names the repo only) with the model core reads from the config.
fn hub_state(search: &str, repo: &str, config_json: &str) -> ShareState {
    let arch = Architecture::from_hf_config_json(config_json).unwrap();
    ShareState {
        model: ModelChoice::Hub(HubModel {
            repo: repo.to_string(),
            loaded: Some(CustomSpec {
                name: repo.rsplit('/').next().unwrap().to_string(),
                params_billions: arch.param_count() as f64 / 1e9,
                hf_path: Some(repo.to_string()),
                architecture: Some(arch),
            }),
        }),
        ..decode(search).state
    }
}

/// Wait until the page shows the Hub model its URL names, and return its state.
async fn settled_hub(b: &Browser) -> (ShareState, View) {
    b.wait_for(
        "document.querySelector('[data-testid=hf-ok]')",
        "the Hub model to load",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let view = b.view().await;
        let state = hub_state(&view.search, QWEN3_235B_FP8_REPO, QWEN3_235B_FP8_CONFIG);
        let want = expected(&state);
        if view.search.contains(&format!("m=hf:{QWEN3_235B_FP8_REPO}"))
            && view.total.as_deref() == Some(want.total.as_str())
            && view.rows_by_instance() == want.rows
        {
            return (state, view);
        }
        if Instant::now() > deadline {
            assert_view_matches(&view, &state);
            panic!("the URL never named the repo: {}", view.search);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A fake Hub holding Qwen3-235B-A22B-FP8's real config.json, answering downloads
/// after `delay`.
fn qwen3_hub(delay: Duration) -> FakeHub {
    FakeHub::start(
        &[(
            QWEN3_235B_FP8_REPO,
            FakeRepo::open(&[])
                .with_text("config.json", QWEN3_235B_FP8_CONFIG)
                .with_resolve_delay(delay),
        )],
        &[],
    )
    .expect("start the fake Hub")
}

/// Open the page pointed at `hub` and the custom-model editor's Hub box; returns the
/// site's server, the browser and the page parameter naming the Hub.
async fn open_the_hub_box(hub: &FakeHub) -> (StaticServer, Browser, String) {
    let endpoint = format!("hf_endpoint={}", hub.url().trim_end_matches('/'));
    let server = serve("/");
    let b = browser(1280, 1000).await;
    b.open(&format!("{}?{endpoint}", server.url())).await;
    click(&b, "[data-testid=model-card-custom]").await;
    b.wait_for(
        "document.querySelector('[data-testid=hf-repo]')",
        "the Hub box",
    )
    .await;
    (server, b, endpoint)
}

#[tokio::test]
async fn a_hugging_face_model_loads_by_name_and_its_link_restores_it() {
    let hub = qwen3_hub(Duration::ZERO);
    let (server, b, endpoint) = open_the_hub_box(&hub).await;
    let (_, before) = settled(&b).await;

    // A repo the Hub does not have: a message naming it; the page keeps its model.
    type_repo(&b, "Qwen/No-Such-Model").await;
    let message = b
        .wait_for(
            "document.querySelector('[data-testid=hf-error]')?.textContent",
            "the missing repo's message",
        )
        .await;
    assert!(
        message
            .as_str()
            .unwrap()
            .starts_with("Qwen/No-Such-Model: "),
        "{message}"
    );
    let (state, view) = settled(&b).await;
    assert_eq!(view.search, before.search);
    assert_view_matches(&view, &state);

    type_repo(&b, QWEN3_235B_FP8_REPO).await;
    let (state, view) = settled_hub(&b).await;
    assert_view_matches(&view, &state);
    let config = gpu_session_core::hf_config::parse_hf_config(QWEN3_235B_FP8_CONFIG).unwrap();
    assert_eq!(state.settings.quantization, config.quantization());
    assert!(
        !view.search.contains("arch="),
        "the link names the repo only"
    );
    assert!(
        hub.requests()
            .iter()
            .any(|r| r.contains("Qwen3-235B-A22B-FP8/resolve/main/config.json")),
        "{:?}",
        hub.requests()
    );
    b.close().await;

    // The link in a fresh browser fetches the config again and shows the same.
    let b = browser(1280, 1000).await;
    b.open(&format!("{}{}&{endpoint}", server.url(), view.search))
        .await;
    let (reopened, again) = settled_hub(&b).await;
    assert_eq!(reopened, state);
    assert_eq!(again.total, view.total);
    assert_view_matches(&again, &reopened);
    b.close().await;
}

#[tokio::test]
async fn choosing_a_built_in_model_while_a_hub_model_loads_keeps_the_built_in() {
    let hub = qwen3_hub(Duration::from_millis(1500));
    let (_server, b, _) = open_the_hub_box(&hub).await;
    type_repo(&b, QWEN3_235B_FP8_REPO).await;
    b.wait_for(
        "document.querySelector('[data-testid=hf-loading]')",
        "the Hub request",
    )
    .await;
    // Leave the editor (the extras module unmounts it) before the Hub answers.
    click(&b, "[data-testid=model-card][data-model-id='mistral-7b']").await;
    b.wait_for(
        "new URLSearchParams(location.search).get('m') === 'mistral-7b'",
        "the built-in model in the link",
    )
    .await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while hub.resolved() == 0 {
        assert!(Instant::now() < deadline, "the Hub never answered");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    // The late answer changes nothing: the page keeps the model chosen after it.
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (state, view) = settled(&b).await;
        assert_eq!(state.model, ModelChoice::Builtin("mistral-7b".into()));
        assert_view_matches(&view, &state);
    }
    // And the on-demand module still works: the plan it writes is the CLI's.
    let (state, _) = settled(&b).await;
    assert_eq!(downloaded_plan(&b).await, cli_plan(&state));
    // Nor a trap in the extras module, whose scope is gone (`close` checks it).
    b.close().await;
}

async fn type_repo(b: &Browser, repo: &str) {
    b.js(&format!(
        "const e = document.querySelector('[data-testid=hf-repo]');
         e.value = {};
         e.dispatchEvent(new Event('input', {{ bubbles: true }}));
         document.querySelector('[data-testid=hf-load]').click();
         return true;",
        serde_json::to_string(repo).unwrap()
    ))
    .await;
}

/// Type `value` into the input `testid` and fire its change event.
async fn type_into(b: &Browser, testid: &str, value: &str) {
    b.js(&format!(
        "const i = document.querySelector('[data-testid={testid}]');
         i.value = {};
         i.dispatchEvent(new Event('change', {{ bubbles: true }}));",
        serde_json::to_string(value).unwrap()
    ))
    .await;
}

#[tokio::test]
async fn the_workload_controls_set_the_speed_columns_and_the_link_restores_them() {
    let server = serve("/");
    let a = browser(1280, 1000).await;
    a.open(&format!("{}?v=1&m=llama-3.1-8b", server.url()))
        .await;
    settled(&a).await;
    type_into(&a, "input-tokens", "4000").await;
    type_into(&a, "output-tokens", "250").await;
    type_into(&a, "seq-input", "32").await;
    a.wait_for(
        "location.search.includes('in=4000') && location.search.includes('out=250') && location.search.includes('seq=32')",
        "the workload in the URL",
    )
    .await;
    let (state, view) = settled(&a).await;
    assert_eq!(
        (
            state.settings.input_tokens,
            state.settings.output_tokens,
            state.settings.seqs
        ),
        (4000, 250, 32)
    );
    // Every row's TTFT, TPOT, tokens/s and $ per 1M is core's for this workload.
    assert_view_matches(&view, &state);
    let header = a
        .js("return document.querySelector('th.col-ttft .basis').textContent;")
        .await;
    let basis = state.settings.workload().basis();
    assert_eq!(basis, "32 concurrent 4k/250");
    assert_eq!(header, format!("mean per request, at {basis} requests"));

    // A request rate instead: the link carries it, a fresh browser restores it all.
    click(&a, "[data-testid=load-rate]").await;
    a.wait_for(
        "!!document.querySelector('[data-testid=rate-input]')",
        "the rate input",
    )
    .await;
    type_into(&a, "rate-input", "2.5").await;
    a.wait_for("location.search.includes('rps=2.5')", "the rate in the URL")
        .await;
    let (state, view_a) = settled(&a).await;
    assert_eq!(state.settings.rate.map(|r| r.per_s()), Some(2.5));
    assert_view_matches(&view_a, &state);
    a.close().await;

    let b = browser(1280, 1000).await;
    b.open(&format!("{}{}", server.url(), view_a.search)).await;
    let (restored, view_b) = settled(&b).await;
    assert_eq!(restored, state, "the link restores the workload");
    assert_eq!(view_b.rows_by_instance(), view_a.rows_by_instance());
    let rate = b
        .js("return document.querySelector('[data-testid=rate-input]').value;")
        .await;
    assert_eq!(rate, "2.5");
    b.close().await;
}

#[tokio::test]
async fn service_level_targets_mark_core_s_choice_and_say_what_binds() {
    use gpu_session_core::service_level::{choose, Targets};
    let server = serve("/");
    let b = browser(1280, 1000).await;
    b.open(&format!(
        "{}?v=1&m=llama-3.1-8b&seq=64&rps=10",
        server.url()
    ))
    .await;
    let (state, _) = settled(&b).await;
    // The targets' inputs load from gpu-session-extras with the request rate.
    b.wait_for(
        "!!document.querySelector('[data-testid=tpot-max]')",
        "the service-level targets",
    )
    .await;
    type_into(&b, "ttft-max", "1500").await;
    type_into(&b, "tpot-max", "30").await;
    b.wait_for(
        "location.search.includes('ttft=1500') && location.search.includes('tpot=30')",
        "the targets in the URL",
    )
    .await;
    let targets = Targets {
        ttft_max_ms: Some(1500.0),
        tpot_max_ms: Some(30.0),
        rate: state.settings.rate.expect("the link's rate"),
    };
    let level = choose(&state.resolve_model(), &state.settings, &targets);
    let choice = level.choice().expect("an 8B model meets these targets");
    // 10 req/s takes more than one instance: the replicas reach the plan.
    assert!(choice.replicas > 1, "{}", level.sentence());
    let summary = b
        .wait_for(
            "(() => { const s = document.querySelector('[data-testid=service-summary]')?.textContent; return s && s.startsWith('TTFT ≤ 1,500 ms, TPOT') ? s : null; })()",
            "the service-level line at both targets",
        )
        .await;
    // Core's one sentence, the CLI's words.
    assert_eq!(summary, json!(level.sentence()));
    assert!(
        level.sentence().starts_with(
            "TTFT ≤ 1,500 ms, TPOT ≤ 30.0 ms at 10 req/s 1k/1k requests: cheapest is "
        ) && level.sentence().contains(&format!(
            "{} × {} (TP {}), {}, at ",
            choice.replicas,
            choice.gpu.instance_type,
            choice.tp,
            choice.instances()
        )),
        "{}",
        level.sentence()
    );
    let marked = b
        .js("return [...document.querySelectorAll('tr.service-choice')].map((r) => [r.dataset.instance, r.querySelector('[data-testid=service-instances]').textContent]);")
        .await;
    assert_eq!(
        marked,
        json!([[choice.gpu.instance_type, choice.instances()]])
    );
    // Each row says whether it meets the targets and with how many replicas.
    let cells = b
        .js("return Object.fromEntries([...document.querySelectorAll('[data-testid=gpu-row]')].map((r) => [r.dataset.instance, r.querySelector('td[data-col=service]').firstChild.textContent.trim()]));")
        .await;
    for row in &level.rows {
        let want = if row.meets {
            format!(
                "{} × · {}/hour",
                row.replicas,
                present::usd(row.usd_per_hour)
            )
        } else {
            format!("no: {} binds", row.binding.as_str())
        };
        assert_eq!(
            cells[row.gpu.instance_type],
            json!(want),
            "{}",
            row.gpu.instance_type
        );
    }
    // The plan is the choice's: its type and replicas, as `plan --rate --ttft-max
    // --tpot-max` writes it.
    let (state, _) = settled(&b).await;
    let plan = downloaded_plan(&b).await;
    assert_eq!(plan, cli_plan(&state));
    assert!(
        plan.contains(&format!("instance_type: {}", choice.gpu.instance_type))
            && plan.contains(&format!("replicas: {}", choice.replicas)),
        "{plan}"
    );
    // A fresh browser restores the targets from the link.
    let search = b.js("return location.search;").await;
    let c = browser(1280, 1000).await;
    c.open(&format!("{}{}", server.url(), search.as_str().unwrap()))
        .await;
    let restored = c
        .wait_for(
            "document.querySelector('[data-testid=ttft-max]')?.value === '1500' && document.querySelector('[data-testid=service-summary]')?.textContent",
            "the targets and their line from the link",
        )
        .await;
    assert_eq!(restored, json!(level.sentence()));
    c.close().await;
    // Without a rate there is no service level.
    click(&b, "[data-testid=load-concurrent]").await;
    b.wait_for(
        "!document.querySelector('[data-testid=service-summary]') && !document.querySelector('td[data-col=service]') && !document.querySelector('[data-testid=tpot-max]')",
        "the service level to go with the rate",
    )
    .await;
    b.close().await;
}

#[tokio::test]
async fn two_instance_options_match_the_cli_and_choosing_one_writes_a_two_node_plan() {
    use gpu_session_core::multi_node::Layout;
    let server = serve("/");
    let b = browser(1280, 1000).await;
    // DeepSeek-R1 in FP8 with 64 requests of up to 160K tokens: no single instance holds
    // them; two 8-GPU instances do.
    b.open(&format!(
        "{}?v=1&m=deepseek-r1-671b&q=fp8&ctx=163840&seq=64",
        server.url()
    ))
    .await;
    let (state, _) = settled(&b).await;
    let cli = gpu_session_tests::browser::cli_gpus(&state);
    let options = cli["two_node_options"]
        .as_array()
        .expect("two_node_options[]");
    assert!(!options.is_empty(), "{cli}");
    let shown = b
        .wait_for(
            "(() => { const rows = [...document.querySelectorAll('[data-testid=two-node-row]')]; return rows.length ? rows.map((r) => [r.dataset.instance, r.querySelector('.gpu-name').textContent, r.querySelector('.gpu-id').textContent, ...[...r.querySelectorAll('td[data-col]')].map((td) => td.textContent.trim())]) : null; })()",
            "the two-instance options",
        )
        .await;
    let want: Vec<Value> = options
        .iter()
        .map(|o| {
            let instance = o["instance_type"].as_str().unwrap();
            let recommended = o["recommended"].as_str().unwrap();
            let l = o["layouts"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["layout"] == json!(recommended))
                .unwrap();
            let label = Layout::ALL
                .into_iter()
                .find(|x| x.as_str() == recommended)
                .unwrap()
                .label();
            let f = |k: &str| l[k].as_f64().unwrap();
            json!([
                instance,
                format!("2× {instance}"),
                label,
                l["fit"],
                present::gib(l["per_gpu_bytes"].as_u64().unwrap()),
                present::thousands(l["kv_pool_tokens"].as_u64().unwrap()),
                present::milliseconds(f("ttft_ms")),
                present::milliseconds(f("tpot_ms")),
                present::tokens_per_s(f("output_tokens_per_s")),
                present::usd(o["price_per_hour_usd"].as_f64().unwrap()),
            ])
        })
        .collect();
    assert_eq!(shown, json!(want));
    // Choosing one puts two nodes of that type in the link; the plan is the CLI's
    // `plan --nodes 2` for it.
    click(
        &b,
        "[data-testid=two-node-row][data-instance=gpu_8x_h100_sxm5] [data-testid=two-node-pick]",
    )
    .await;
    b.wait_for(
        "location.search.includes('gpu=gpu_8x_h100_sxm5') && location.search.includes('nd=2')",
        "two nodes in the URL",
    )
    .await;
    let (state, _) = settled(&b).await;
    assert_eq!(
        (state.nodes, state.gpu.as_deref()),
        (2, Some("gpu_8x_h100_sxm5"))
    );
    let pressed = b
        .wait_for(
            "document.querySelector('[data-testid=two-node-row][data-instance=gpu_8x_h100_sxm5] [data-testid=two-node-pick]')?.getAttribute('aria-pressed') === 'true' && document.querySelector('[data-testid=verdict]').textContent",
            "the chosen option marked",
        )
        .await;
    assert!(
        pressed.as_str().unwrap().contains("two instances"),
        "{pressed}"
    );
    let plan = downloaded_plan(&b).await;
    assert_eq!(plan, cli_plan(&state));
    assert!(
        plan.contains("nodes: 2") && plan.contains("pipeline_parallel: 2"),
        "{plan}"
    );
    // A single instance again: the table's row.
    click(&b, "[data-instance='gpu_8x_b200_sxm6'] .pick").await;
    b.wait_for(
        "!location.search.includes('nd=2') && location.search.includes('gpu=gpu_8x_b200_sxm6')",
        "one instance in the URL",
    )
    .await;
    b.close().await;
}

#[tokio::test]
async fn the_site_and_the_cli_agree_on_every_row_for_a_workload() {
    let server = serve("/");
    let b = browser(1280, 1000).await;
    for query in [
        "?v=1&m=llama-3.1-8b&seq=32&in=2000&out=500&gpu=gpu_1x_h100_sxm5",
        "?v=1&m=qwen3-30b-a3b&seq=8&n=2&in=8000&out=1000&rps=1.5",
    ] {
        b.open(&format!("{}{query}", server.url())).await;
        let (state, view) = settled(&b).await;
        let cli = cli_estimate(&state);
        let rows = view.rows_by_instance();
        let gpus = cli["gpus"].as_array().expect("gpus[]");
        assert_eq!(gpus.len(), rows.len(), "{query}");
        for g in gpus {
            let instance = g["instance_type"].as_str().expect("instance_type");
            let cells = &rows[instance].cells;
            let f = |k: &str| {
                g[k].as_f64()
                    .unwrap_or_else(|| panic!("{instance}: no {k}"))
            };
            let runs = g["fit"] != json!("no");
            let shown = |text: String| if runs { text } else { "-".to_string() };
            let tps = present::tokens_per_s(f("output_tokens_per_s"));
            let tps = if g["saturated"] == json!(true) {
                format!("{tps}!")
            } else {
                tps
            };
            let want = [
                ("ttft", shown(present::milliseconds(f("ttft_ms")))),
                ("tpot", shown(present::milliseconds(f("tpot_ms")))),
                ("tps", shown(tps)),
                (
                    "tps-user",
                    shown(present::tokens_per_s(f("output_tokens_per_s_per_user"))),
                ),
                (
                    "per-million",
                    shown(present::usd_fine(f("usd_per_million_output_tokens"))),
                ),
                (
                    "per-million-in",
                    shown(present::usd_fine(f("usd_per_million_input_tokens"))),
                ),
                (
                    "kv-pool",
                    present::thousands(g["kv_pool_tokens"].as_u64().unwrap()),
                ),
            ];
            for (col, text) in want {
                assert_eq!(cells[col], text, "{query}: {instance} {col}");
            }
            let fit = g["fit"].as_str().unwrap();
            assert!(
                cells["fit"].starts_with(fit),
                "{query}: {instance} fit {fit} vs {}",
                cells["fit"]
            );
        }
        // The plan the page writes carries the same workload as the CLI's.
        assert_eq!(downloaded_plan(&b).await, cli_plan(&state), "{query}");
    }
    b.close().await;
}
