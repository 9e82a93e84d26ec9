//! What only some visitors need, kept out of the page's first download: writing
//! `plan.yaml` (serde_yaml) and reading a pasted `config.json` (serde_json). The
//! `gpu-session-extras` binary exports these to the page, which loads it on demand.
//! The state crosses between the two wasm modules as a share link
//! (`core::share::encode` / `decode`), the codec both already hold.

use crate::actions;
use gpu_session_core::share::{self, ModelChoice};
use gpu_session_core::Architecture;

/// `plan.yaml` for the state `query` (a share link's query string) describes: the
/// bytes `gpu-session plan` writes for the same choices.
pub fn plan_yaml(query: &str) -> Result<String, String> {
    actions::plan_yaml(&share::decode(query).state)
}

/// The state of `query` with its custom model described by `config_json` (a model's
/// Hugging Face `config.json`), as a share link's query string; or why the JSON
/// cannot be read.
pub fn apply_config_json(query: &str, config_json: &str) -> Result<String, String> {
    let arch = Architecture::from_hf_config_json(config_json).map_err(|e| e.to_string())?;
    let state = share::decode(query).state;
    let current = match &state.model {
        ModelChoice::Custom(spec) => spec.clone(),
        ModelChoice::Builtin(_) => actions::default_custom_spec(),
    };
    let next = actions::custom_from_config(Some(&current), arch);
    Ok(share::encode(&actions::set_custom(&state, next)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpu_session_core::registry::builtin;
    use gpu_session_core::share::{decode, encode, ShareState};

    #[test]
    fn the_plan_crosses_as_a_link_unchanged() {
        let s = actions::select_gpu(&ShareState::default(), Some("gpu_1x_h100_sxm5"));
        assert_eq!(plan_yaml(&encode(&s)), actions::plan_yaml(&s));
    }

    #[test]
    fn a_config_json_becomes_the_custom_model_of_the_link() {
        let arch = builtin("qwen2.5-coder-32b").unwrap().architecture.unwrap();
        let json = format!(
            r#"{{"model_type": "qwen2", "hidden_size": {}, "intermediate_size": {}, "max_position_embeddings": {},
                "num_attention_heads": {}, "num_hidden_layers": {}, "num_key_value_heads": {},
                "vocab_size": {}, "tie_word_embeddings": {}}}"#,
            arch.hidden,
            arch.intermediate,
            arch.max_context,
            arch.heads,
            arch.layers,
            arch.kv_heads,
            arch.vocab,
            arch.tied_embeddings,
        );
        let start = ShareState::default();
        let query = apply_config_json(&encode(&start), &json).unwrap();
        let decoded = decode(&query);
        assert!(decoded.ignored.is_empty(), "{:?}", decoded.ignored);
        let parsed = Architecture::from_hf_config_json(&json).unwrap();
        let want = actions::set_custom(&start, actions::custom_from_config(None, parsed));
        assert_eq!(decoded.state, want);
        assert_eq!(
            apply_config_json("", "{\"hidden_size\": 4096,"),
            Err(Architecture::from_hf_config_json("{\"hidden_size\": 4096,")
                .unwrap_err()
                .to_string())
        );
    }
}
