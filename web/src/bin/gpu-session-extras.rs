//! The second, on-demand wasm module of the site: the plan.yaml writer (see
//! `gpu_session_web::extras`) and the custom-model editor with its config.json reader
//! (`gpu_session_web::app::editor`), exported to the page, which imports this module
//! the first time a visitor needs one of them.

#[cfg(target_arch = "wasm32")]
mod exports {
    use gpu_session_web::app::editor::MountedEditor;
    use wasm_bindgen::prelude::wasm_bindgen;
    use wasm_bindgen::JsValue;

    /// `plan.yaml` for the state a share link's query string describes.
    #[wasm_bindgen]
    pub fn plan_yaml(query: &str) -> Result<String, String> {
        gpu_session_web::extras::plan_yaml(query)
    }

    /// The custom-model editor, mounted into the page.
    #[wasm_bindgen]
    pub struct Editor(MountedEditor);

    #[wasm_bindgen]
    impl Editor {
        /// The page's state changed (its query string): show it.
        pub fn update(&self, query: &str) {
            self.0.update(query);
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
    ) -> Editor {
        Editor(MountedEditor::mount(slot, query, hub_endpoint, move |q| {
            let _ = on_change.call1(&JsValue::NULL, &JsValue::from_str(&q));
        }))
    }
}

fn main() {}
