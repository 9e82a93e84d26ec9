//! The pre-rendered first view: the calculator for the default state, rendered to
//! HTML natively at build time by the same components the browser runs, with the
//! numbers core computes. `gpu-session-prerender` writes it into the built
//! `index.html` (trunk runs it as a post-build hook), so a visitor sees the answer
//! before the wasm arrives; the wasm then swaps in its own render of the same markup
//! (see `app::start`).
//!
//! Why not hydration: Leptos 0.8's `hydrate` mode adds the hydration walker to the
//! wasm, needs markup with hydration markers made by a server build, and treats any
//! difference between the HTML and the state as a mismatch. Here the HTML is made once
//! for the default state while a share link may hold any other state, so replacing
//! the node is the robust choice, and the wasm stays client-side rendering only.

use crate::app::{self, APP_ID};
use gpu_session_core::share::{self, Decoded, ShareState};

/// The empty element in `web/index.html` that receives the calculator.
pub fn placeholder() -> String {
    format!(r#"<div id="{APP_ID}"></div>"#)
}

/// The attribute on `<html>` naming the state the page was pre-rendered for (as its
/// share-link query); the page's first script compares it with the address bar.
pub const STATE_ATTRIBUTE: &str = "data-prerendered";

fn escape_attribute(value: &str) -> String {
    value
        .replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
}

/// The calculator's HTML for `state`.
pub fn render(state: &ShareState) -> String {
    app::render_html(Decoded {
        state: state.clone(),
        ignored: Vec::new(),
    })
}

/// `page` (trunk's built index.html) with the calculator for `state` pre-rendered
/// into its placeholder and `<html>` marked with the state's query.
pub fn into_page(page: &str, state: &ShareState) -> Result<String, String> {
    let placeholder = placeholder();
    if page.matches(&placeholder).count() != 1 {
        return Err(format!(
            "index.html must hold the placeholder {placeholder} exactly once \
             (already pre-rendered, or the template changed)"
        ));
    }
    let Some(html_start) = page.find("<html") else {
        return Err("index.html has no <html> element".into());
    };
    let mark = format!(
        r#" {STATE_ATTRIBUTE}="{}""#,
        escape_attribute(&share::encode(state))
    );
    let mut out = page.to_string();
    out.insert_str(html_start + "<html".len(), &mark);
    let filled = format!(r#"<div id="{APP_ID}">{}</div>"#, render(state));
    Ok(out.replacen(&placeholder, &filled, 1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpu_session_core::gpu;
    use gpu_session_core::present::{self, MemoryBreakdown};
    use gpu_session_core::recommend::recommend;

    const TEMPLATE: &str =
        "<!doctype html>\n<html lang=\"en\"><head></head><body><div id=\"app\"></div></body></html>";

    #[test]
    fn the_default_page_holds_what_core_computes() {
        let state = ShareState::default();
        let page = into_page(TEMPLATE, &state).unwrap();
        let model = state.resolve_model();
        let rec = recommend(&model, &state.settings, state.mode, None);
        let b = MemoryBreakdown::of(&rec);
        assert!(page.contains(&present::amount(b.total(), b.unit)));
        for row in &rec.rows {
            assert!(
                page.contains(&format!("data-instance=\"{}\"", row.gpu.instance_type)),
                "{}",
                row.gpu.instance_type
            );
            // Speed figures where the model runs ("-" elsewhere, as the CLI shows them).
            if crate::sort::runs(row) {
                assert!(page.contains(&present::usd_fine(row.speed.usd_per_million_output_tokens)));
                assert!(page.contains(&present::milliseconds(row.speed.tpot_ms)));
            }
        }
        assert_eq!(
            page.matches("data-testid=\"gpu-row\"").count(),
            gpu::CATALOG.len()
        );
        assert!(page.contains(&format!(
            "<html {STATE_ATTRIBUTE}=\"{}\" lang=\"en\">",
            share::encode(&state).replace('&', "&amp;")
        )));
    }

    #[test]
    fn the_page_states_the_model_count_the_price_date_and_what_is_not_offered() {
        let state = ShareState::default();
        let page = into_page(TEMPLATE, &state).unwrap();
        let count = gpu_session_core::registry::builtins().len();
        assert!(page.contains(&format!("{count} built-in models, or describe your own")));
        assert!(!page.contains("Seven built-in"));
        // The price date sits in the GPU table's caption, not only in a tooltip.
        let caption = page
            .split("<caption")
            .nth(1)
            .unwrap()
            .split("</caption>")
            .next()
            .unwrap();
        assert!(caption.contains(gpu::PRICE_SNAPSHOT), "{caption}");
        // The type Lambda no longer offers is shown, marked, and never the cheapest fit.
        let row = page
            .split("data-instance=\"gpu_1x_a100_sxm4_80gb\"")
            .nth(1)
            .unwrap()
            .split("</tr>")
            .next()
            .unwrap();
        assert!(
            row.contains(&format!(
                "not offered on demand as of {}",
                gpu::OFFERED_AS_OF
            )),
            "{row}"
        );
        assert!(!row.contains("cheapest-badge"), "{row}");
        assert_eq!(page.matches("data-testid=\"not-offered\"").count(), 1);
    }

    #[test]
    fn a_page_is_filled_once() {
        let state = ShareState::default();
        let page = into_page(TEMPLATE, &state).unwrap();
        assert!(into_page(&page, &state)
            .unwrap_err()
            .contains("exactly once"));
        assert!(into_page("<html></html>", &state).is_err());
    }
}
