//! What only some visitors need, kept out of the page's first download: writing
//! `plan.yaml` (serde_yaml), reading a pasted `config.json` (serde_json), choosing by
//! service level and sizing two-instance options (`core::service_level`,
//! `core::multi_node`). The
//! `gpu-session-extras` binary exports these to the page, which loads it on demand.
//! The state crosses between the two wasm modules as a share link
//! (`core::share::encode` / `decode`), the codec both already hold.

use crate::actions::{self, ServiceView};
use gpu_session_core::gpu;
use gpu_session_core::hf_config::parse_hf_config;
use gpu_session_core::multi_node::{self, TwoNodeEstimate};
use gpu_session_core::recommend::recommend;
use gpu_session_core::settings::EstimateMode;
use gpu_session_core::share::{self, CustomSpec, ModelChoice, ShareState};
use gpu_session_core::validate;
use gpu_session_core::Architecture;

/// `plan.yaml` for the state `query` (a share link's query string) describes: the
/// bytes `gpu-session plan` writes for the same choices.
pub fn plan_yaml(query: &str) -> Result<String, String> {
    actions::plan_yaml(&share::decode(query).state)
}

/// The GPU table's service-level column for the state `query` describes, as
/// `actions::ServiceView::to_text` writes it; empty when there is none (no targets, no
/// request rate, or the reference formula).
pub fn service_view(query: &str) -> String {
    let state = actions::from_transport(query);
    let model = state.resolve_model();
    let selected = state.gpu.as_deref().and_then(gpu::find);
    let rec = recommend(&model, &state.settings, state.mode, selected);
    actions::service_level(&state, &model, &rec)
        .map(|level| ServiceView::of(&level).to_text())
        .unwrap_or_default()
}

/// The two-instance options for the state: what `gpu-session gpus --model` shows
/// (core's `multi_node::two_node_options` on the serving estimate's rows, no type
/// selected), cheapest first. None for the reference formula.
pub fn two_node_options(state: &ShareState) -> Vec<TwoNodeEstimate> {
    if state.mode != EstimateMode::Serving {
        return Vec::new();
    }
    let model = state.resolve_model();
    let rec = recommend(&model, &state.settings, EstimateMode::Serving, None);
    multi_node::two_node_options(&model, &rec.settings, &rec, &rec.settings.workload())
}

/// The state of `query` with its custom model described by `config_json` (a model's
/// Hugging Face `config.json`), as a share link's query string; or why the JSON
/// cannot be read.
pub fn apply_config_json(query: &str, config_json: &str) -> Result<String, String> {
    let arch = Architecture::from_hf_config_json(config_json).map_err(|e| e.to_string())?;
    let state = share::decode(query).state;
    let current = actions::editable_custom_spec(&state);
    let next = actions::custom_from_config(Some(&current), arch);
    Ok(share::encode(&actions::set_custom(&state, next)))
}

/// The state of `query` showing the model `repo`'s `config.json` (`config_json`, as
/// fetched from the Hub) describes: a link with it as a custom model (architecture
/// included, so the page can decode it; the page then marks it as read from `repo`,
/// see `actions::hub_model_loaded`). A newly chosen repo starts at the quantization
/// its checkpoint stores; reopening a link for the same repo keeps the link's.
pub fn apply_hf_config(query: &str, repo: &str, config_json: &str) -> Result<String, String> {
    validate::hf_path("repository", repo).map_err(|e| e.to_string())?;
    let config = parse_hf_config(config_json).map_err(|e| format!("{repo}: config.json: {e}"))?;
    let state = share::decode(query).state;
    let reopening = matches!(&state.model, ModelChoice::Hub(h) if h.repo == repo);
    let base = CustomSpec {
        name: repo.rsplit('/').next().unwrap_or(repo).to_string(),
        hf_path: Some(repo.to_string()),
        ..actions::default_custom_spec()
    };
    let spec = actions::custom_from_config(Some(&base), config.architecture);
    let mut next = actions::set_custom(&state, spec);
    if !reopening {
        next.settings.quantization = config.quantization();
    }
    Ok(share::encode(&next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpu_session_core::registry::builtin;
    use gpu_session_core::share::{decode, encode, ShareState};

    const QWEN3_235B_FP8: &str =
        include_str!("../../core/tests/fixtures/hf-configs/Qwen__Qwen3-235B-A22B-FP8.json");

    #[test]
    fn a_hub_config_becomes_the_hub_model_of_the_link() {
        let repo = "Qwen/Qwen3-235B-A22B-FP8";
        let answer =
            apply_hf_config(&encode(&ShareState::default()), repo, QWEN3_235B_FP8).unwrap();
        let state = actions::hub_model_loaded(repo, &answer).unwrap();
        let config = parse_hf_config(QWEN3_235B_FP8).unwrap();
        let ModelChoice::Hub(hub) = &state.model else {
            panic!("{state:?}");
        };
        let spec = hub.loaded.as_ref().unwrap();
        assert_eq!(spec.architecture, Some(config.architecture));
        assert_eq!(spec.hf_path.as_deref(), Some(repo));
        assert_eq!(state.settings.quantization, config.quantization());
        assert_eq!(
            encode(&state),
            format!(
                "v=1&m=hf:{repo}&q={}&ctx=8192&seq=1",
                config.quantization().as_str()
            )
        );
        // Reopening the link keeps its settings.
        let link = "v=1&m=hf:Qwen/Qwen3-235B-A22B-FP8&q=fp16&ctx=16384&seq=2";
        let reopened =
            actions::hub_model_loaded(repo, &apply_hf_config(link, repo, QWEN3_235B_FP8).unwrap())
                .unwrap();
        assert_eq!(encode(&reopened), link);
        assert!(apply_hf_config("", "not a repo", QWEN3_235B_FP8).is_err());
        let bad = apply_hf_config("", repo, "{}").unwrap_err();
        assert!(bad.starts_with(repo), "{bad}");
    }

    #[test]
    fn the_service_view_is_core_s_choice_for_the_link() {
        let query = "v=1&m=llama-3.1-8b&seq=64&rps=4&ttft=1500&tpot=30";
        let state = decode(query).state;
        let model = state.resolve_model();
        let level = gpu_session_core::service_level::choose(
            &model,
            &state.settings,
            &state.targets.at(state.settings.rate.unwrap()),
        );
        let view = ServiceView::from_text(&service_view(query)).unwrap();
        assert_eq!(view, ServiceView::of(&level));
        // No targets, or no rate: no column.
        assert_eq!(service_view("v=1&m=llama-3.1-8b&seq=64&rps=4"), "");
        assert_eq!(service_view("v=1&m=llama-3.1-8b&seq=64&tpot=30"), "");
    }

    #[test]
    fn two_node_options_are_the_cli_s_for_deepseek_r1() {
        // 64 requests of up to 160K tokens: no single instance holds them.
        let state = share::decode("v=1&m=deepseek-r1-671b&q=fp8&ctx=163840&seq=64").state;
        let options = two_node_options(&state);
        let types: Vec<&str> = options.iter().map(|o| o.instance_type).collect();
        assert!(types.contains(&"gpu_8x_h100_sxm5"), "{types:?}");
        let model = state.resolve_model();
        let rec = recommend(&model, &state.settings, EstimateMode::Serving, None);
        assert_eq!(
            options,
            multi_node::two_node_options(&model, &rec.settings, &rec, &rec.settings.workload())
        );
        // A model one small GPU holds has none.
        assert!(two_node_options(&ShareState::default()).is_empty());
    }

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
