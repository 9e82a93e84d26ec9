//! The second, on-demand wasm module of the site: the plan.yaml writer and the
//! config.json reader (see `gpu_session_web::extras`), exported to the page, which
//! imports this module the first time a visitor needs one of them.

#[cfg(target_arch = "wasm32")]
mod exports {
    use wasm_bindgen::prelude::wasm_bindgen;

    /// `plan.yaml` for the state a share link's query string describes.
    #[wasm_bindgen]
    pub fn plan_yaml(query: &str) -> Result<String, String> {
        gpu_session_web::extras::plan_yaml(query)
    }

    /// The link's state with its custom model read from a pasted config.json.
    #[wasm_bindgen]
    pub fn apply_config_json(query: &str, config_json: &str) -> Result<String, String> {
        gpu_session_web::extras::apply_config_json(query, config_json)
    }

    /// The link's state with the model a Hub repository's config.json describes.
    #[wasm_bindgen]
    pub fn apply_hf_config(query: &str, repo: &str, config_json: &str) -> Result<String, String> {
        gpu_session_web::extras::apply_hf_config(query, repo, config_json)
    }
}

fn main() {}
