//! The few browser APIs the page uses: the URL, the clipboard, downloads and the
//! first-render mark the benchmark reads. Failures degrade quietly; none panics.

use leptos::prelude::window;
use wasm_bindgen::{JsCast, JsValue};

/// The query string of the page's URL, with its leading `?`.
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

/// Record `performance.now()` as `window.__gpuSessionFirstRender` (read by bench-web).
pub fn mark_first_render() {
    let w = window();
    if let Some(perf) = w.performance() {
        let _ = js_sys::Reflect::set(
            &w,
            &JsValue::from_str("__gpuSessionFirstRender"),
            &JsValue::from_f64(perf.now()),
        );
    }
}
