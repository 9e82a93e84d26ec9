//! The few browser APIs the page uses: the URL, the clipboard, downloads and the
//! first-render mark the benchmark reads. Failures degrade quietly; none panics.

use leptos::prelude::window;
use wasm_bindgen::{JsCast, JsValue};

/// The query string of the page's URL, with its leading `?`.
#[cfg(target_arch = "wasm32")]
pub fn location_search() -> String {
    window().location().search().unwrap_or_default()
}

/// The page's URL with `query` as its query string (path kept, so subpaths work).
pub fn url_with_query(query: &str) -> String {
    let location = window().location();
    let origin = location.origin().unwrap_or_default();
    let path = location.pathname().unwrap_or_default();
    format!("{origin}{path}?{query}")
}

/// Put `query` into the address bar without adding a history entry.
pub fn replace_query(query: &str) {
    if let Ok(history) = window().history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&format!("?{query}")));
    }
}

/// Copy `text` to the clipboard; `done(true)` once it is there, `done(false)` when the
/// clipboard is unavailable (insecure context, permission denied).
pub fn copy_text(text: String, done: impl FnOnce(bool) + 'static) {
    let navigator = window().navigator();
    let has_clipboard = js_sys::Reflect::get(&navigator, &JsValue::from_str("clipboard"))
        .is_ok_and(|c| !c.is_undefined() && !c.is_null());
    if !has_clipboard {
        done(false);
        return;
    }
    let promise = navigator.clipboard().write_text(&text);
    leptos::task::spawn_local(async move {
        done(wasm_bindgen_futures::JsFuture::from(promise).await.is_ok());
    });
}

/// Save `text` as a file named `filename`.
pub fn download(filename: &str, mime: &str, text: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&JsValue::from_str(text));
    let options = web_sys::BlobPropertyBag::new();
    options.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &options)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let document = window()
        .document()
        .ok_or_else(|| JsValue::from_str("no document"))?;
    let a: web_sys::HtmlAnchorElement = document.create_element("a")?.unchecked_into();
    a.set_href(&url);
    a.set_download(filename);
    a.set_attribute("hidden", "")?;
    let body = document
        .body()
        .ok_or_else(|| JsValue::from_str("no body"))?;
    body.append_child(&a)?;
    a.click();
    a.remove();
    // Give the browser a moment to start the download before the blob URL goes away.
    leptos::prelude::set_timeout(
        move || {
            let _ = web_sys::Url::revoke_object_url(&url);
        },
        std::time::Duration::from_secs(10),
    );
    Ok(())
}

/// Record `performance.now()` as `window.__gpuSessionInteractive`: the calculator
/// has taken over the page and its controls respond (read by tests and bench-web).
#[cfg(target_arch = "wasm32")]
pub fn mark_interactive() {
    let w = window();
    if let Some(perf) = w.performance() {
        let _ = js_sys::Reflect::set(
            &w,
            &JsValue::from_str("__gpuSessionInteractive"),
            &JsValue::from_f64(perf.now()),
        );
    }
}

#[cfg(target_arch = "wasm32")]
thread_local! {
    /// The Hub the page reads `config.json` from (see `set_hub_endpoint`).
    static HUB_ENDPOINT: std::cell::RefCell<String> =
        std::cell::RefCell::new(crate::actions::DEFAULT_HF_ENDPOINT.to_string());
}

/// Choose the Hub: a loopback `hf_endpoint=` from the link (tests), else the page's
/// `<meta name="hf-endpoint" content="...">`, else the public Hub.
#[cfg(target_arch = "wasm32")]
pub fn set_hub_endpoint(from_link: Option<String>) {
    let from_meta = || {
        window()
            .document()?
            .query_selector("meta[name=hf-endpoint]")
            .ok()??
            .get_attribute("content")
            .and_then(|c| crate::actions::page_endpoint(&c))
    };
    if let Some(endpoint) = from_link.or_else(from_meta) {
        HUB_ENDPOINT.with(|e| *e.borrow_mut() = endpoint);
    }
}

/// Read Hub repositories from `endpoint`: the extras module, a wasm instance of its
/// own, is told the page's choice when it mounts the editor.
#[cfg(target_arch = "wasm32")]
pub fn use_hub_endpoint(endpoint: String) {
    HUB_ENDPOINT.with(|e| *e.borrow_mut() = endpoint);
}

/// The Hub the page reads from.
#[cfg(target_arch = "wasm32")]
pub fn hub_endpoint() -> String {
    HUB_ENDPOINT.with(|e| e.borrow().clone())
}

/// GET `url` as text; an HTTP status other than 2xx is `Err(Some(status))`, a
/// network failure (offline, refused, blocked by CORS) `Err(None)`.
#[cfg(target_arch = "wasm32")]
pub async fn fetch_text(url: &str) -> Result<String, Option<u16>> {
    let response = wasm_bindgen_futures::JsFuture::from(window().fetch_with_str(url))
        .await
        .map_err(|_| None)?;
    let response: web_sys::Response = response.dyn_into().map_err(|_| None)?;
    if !response.ok() {
        return Err(Some(response.status()));
    }
    let text = response.text().map_err(|_| None)?;
    wasm_bindgen_futures::JsFuture::from(text)
        .await
        .ok()
        .and_then(|t| t.as_string())
        .ok_or(None)
}

thread_local! {
    /// The `gpu-session-extras` module once its import started (it is fetched once).
    static EXTRAS: std::cell::RefCell<Option<js_sys::Promise>> = const { std::cell::RefCell::new(None) };
}

/// Start loading `gpu-session-extras` (plan.yaml writer, config.json reader) if it is
/// not loading yet, so it is there by the time the visitor clicks.
pub fn preload_extras() {
    let _ = extras_module();
}

/// The `gpu-session-extras` module, imported on the first call: a dynamic `import()`
/// of its module beside the page (so any subpath works).
fn extras_module() -> js_sys::Promise {
    EXTRAS.with(|cell| {
        cell.borrow_mut()
            .get_or_insert_with(|| {
                // `import()` through a Function: wasm-bindgen's inline_js would add a
                // snippet file to the page's first download.
                let import = js_sys::Function::new_with_args(
                    "base",
                    "return import(new URL('./gpu-session-extras.js', base).href)\
                     .then(async (m) => { await m.default(); return m; });",
                );
                let base = window()
                    .document()
                    .and_then(|d| d.base_uri().ok().flatten())
                    .unwrap_or_default();
                import
                    .call1(&JsValue::NULL, &JsValue::from_str(&base))
                    .map(|p| p.unchecked_into())
                    .unwrap_or_else(|e| js_sys::Promise::reject(&e))
            })
            .clone()
    })
}

/// Call `function(args…)` of `gpu-session-extras`: a string, or the error it returned
/// (or why the module could not be loaded).
pub async fn call_extras(function: &str, args: &[&str]) -> Result<String, String> {
    let what = if function == "plan_yaml" {
        "the plan writer"
    } else {
        "the service-level column"
    };
    let f = extras_export(function, what).await?;
    let args: js_sys::Array = args.iter().map(|a| JsValue::from_str(a)).collect();
    match f.apply(&JsValue::NULL, &args) {
        Ok(v) => v
            .as_string()
            .ok_or_else(|| format!("{function} returned no text")),
        Err(e) => Err(describe(&e)),
    }
}

/// A view `gpu-session-extras` mounted into the page (see `super::mounted`): tell it
/// each change of the page's state; dropping it unmounts the view.
#[cfg(target_arch = "wasm32")]
pub struct Mounted {
    handle: JsValue,
    _on_change: wasm_bindgen::closure::Closure<dyn Fn(String)>,
}

#[cfg(target_arch = "wasm32")]
impl Mounted {
    pub fn update(&self, query: &str) {
        call_method(&self.handle, "update", &JsValue::from_str(query));
    }
}

#[cfg(target_arch = "wasm32")]
impl Drop for Mounted {
    fn drop(&mut self) {
        // wasm-bindgen's `free` drops the Rust value, which unmounts the editor.
        call_method(&self.handle, "free", &JsValue::UNDEFINED);
    }
}

#[cfg(target_arch = "wasm32")]
fn call_method(object: &JsValue, name: &str, arg: &JsValue) {
    if let Some(f) = function_property(object, name) {
        let _ = f.call1(object, arg);
    }
}

/// `object[name]` when it is a function.
fn function_property(object: &JsValue, name: &str) -> Option<js_sys::Function> {
    js_sys::Reflect::get(object, &JsValue::from_str(name))
        .ok()
        .and_then(|f| f.dyn_into().ok())
}

/// The export `name` of `gpu-session-extras`, importing the module on first use;
/// `what` says what is missing when it does not load.
async fn extras_export(name: &str, what: &str) -> Result<js_sys::Function, String> {
    let module = wasm_bindgen_futures::JsFuture::from(extras_module())
        .await
        .map_err(|e| format!("{what} did not load: {}", describe(&e)))?;
    function_property(&module, name).ok_or_else(|| format!("gpu-session-extras has no {name}"))
}

/// What `gpu-session-extras` mounts into the page: its export and, for the message
/// when it does not load, what it is.
#[cfg(target_arch = "wasm32")]
#[derive(Clone, Copy)]
pub enum Mount {
    /// The custom-model editor (told the Hub the page reads from).
    Editor,
    /// The service-level targets' inputs.
    Targets,
    /// The two-instance options.
    TwoNodes,
}

/// Load `gpu-session-extras` and mount `what` into `slot` for the state `query`;
/// `on_change` receives the query of every state the mounted view makes.
#[cfg(target_arch = "wasm32")]
pub async fn mount(
    what: Mount,
    slot: web_sys::HtmlElement,
    query: &str,
    on_change: impl Fn(String) + 'static,
) -> Result<Mounted, String> {
    let (export, name) = match what {
        Mount::Editor => ("mount_editor", "the model editor"),
        Mount::Targets => ("mount_targets", "the service-level targets"),
        Mount::TwoNodes => ("mount_two_nodes", "the two-instance options"),
    };
    let mount = extras_export(export, name).await?;
    let on_change = wasm_bindgen::closure::Closure::<dyn Fn(String)>::new(on_change);
    let mut args = vec![slot.into(), JsValue::from_str(query)];
    if let Mount::Editor = what {
        args.push(JsValue::from_str(&hub_endpoint()));
    }
    args.push(on_change.as_ref().clone());
    let args: js_sys::Array = args.into_iter().collect();
    let handle = mount
        .apply(&JsValue::NULL, &args)
        .map_err(|e| describe(&e))?;
    Ok(Mounted {
        handle,
        _on_change: on_change,
    })
}

/// A thrown value as text: a string as it is, an Error by its message.
fn describe(e: &JsValue) -> String {
    e.as_string()
        .or_else(|| {
            js_sys::Reflect::get(e, &JsValue::from_str("message"))
                .ok()
                .and_then(|m| m.as_string())
        })
        .unwrap_or_else(|| format!("{e:?}"))
}
