//! The second, on-demand wasm module of the site: the plan.yaml writer (see
//! `gpu_session_web::extras`), and what it mounts into the page (see
//! `gpu_session_web::app::mounted`): the custom-model editor with its config.json
//! reader, the service-level targets with the table's service-level column, and the
//! two-instance options. The page imports this module the first time a visitor needs
//! one of them.

#[cfg(target_arch = "wasm32")]
mod exports {
    use gpu_session_web::app::{editor, mounted, targets, two_nodes};
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;

    /// `plan.yaml` for the state a share link's query string describes.
    #[wasm_bindgen]
    pub fn plan_yaml(query: &str) -> Result<String, String> {
        gpu_session_web::extras::plan_yaml(query)
    }

    /// The GPU table's service-level column for the state `query` describes (empty:
    /// none).
    #[wasm_bindgen]
    pub fn service_view(query: &str) -> String {
        gpu_session_web::extras::service_view(query)
    }

    /// A view mounted into the page.
    #[wasm_bindgen]
    pub struct Mounted(mounted::Mounted);

    #[wasm_bindgen]
    impl Mounted {
        /// The page's state changed (its query string): show it.
        pub fn update(&self, query: &str) {
            self.0.update(query);
        }
    }

    fn caller(on_change: js_sys::Function) -> impl Fn(String) + 'static {
        move |q| {
            let _ = on_change.call1(&JsValue::NULL, &JsValue::from_str(&q));
        }
    }

    /// Mount the editor for the state `query` into `slot`, reading Hub repositories
    /// from `hub_endpoint`; `on_change(query)` hears every state the editor makes.
    #[wasm_bindgen]
    pub fn mount_editor(
        slot: web_sys::HtmlElement,
        query: &str,
        hub_endpoint: String,
        on_change: js_sys::Function,
    ) -> Mounted {
        Mounted(editor::mount(slot, query, hub_endpoint, caller(on_change)))
    }

    /// Mount the service-level targets' inputs; `on_change(query)` as for the editor.
    #[wasm_bindgen]
    pub fn mount_targets(
        slot: web_sys::HtmlElement,
        query: &str,
        on_change: js_sys::Function,
    ) -> Mounted {
        Mounted(targets::mount(slot, query, caller(on_change)))
    }

    /// Mount the two-instance options; `on_change(query)` hears the state a choice makes.
    #[wasm_bindgen]
    pub fn mount_two_nodes(
        slot: web_sys::HtmlElement,
        query: &str,
        on_change: js_sys::Function,
    ) -> Mounted {
        Mounted(two_nodes::mount(slot, query, caller(on_change)))
    }
}

fn main() {}
