//! `--hf org/name` (`estimate`, `plan`, `models add`): a model described by its Hub
//! repo's own `config.json`, read through [`crate::hub`] (cached for offline use) and
//! parsed by core; the checkpoint is the repo itself.

use crate::hub;
use crate::output::Printer;
use anyhow::anyhow;
use gpu_session_core::config::CustomModelEntry;
use gpu_session_core::hf_config::parse_hf_config;
use gpu_session_core::registry::{hf_model_id, Model};
use gpu_session_core::validate;

/// The custom-model entry `repo` describes, with the id it gets (`id`, else core's
/// [`hf_model_id`]) and `context` as its default context. Its quantization is what
/// the checkpoint stores; `--quantization` stays a setting, so a plan says when SGLang
/// cannot serve this repo at another one.
pub fn entry(
    printer: &Printer,
    repo: &str,
    id: Option<&str>,
    context: Option<u32>,
) -> anyhow::Result<(String, CustomModelEntry)> {
    validate::hf_path("--hf", repo)?;
    let endpoint = hub::endpoint();
    let cache = hub::config_cache_path(repo);
    let token = hub::token();
    let fetched = hub::fetch_config(&endpoint, repo, token.as_deref(), cache.as_deref())?;
    match &fetched.from_cache {
        Some((path, why)) => printer.note(&format!(
            "note: the Hugging Face Hub cannot be reached ({why}); using the cached config.json of {repo} from {}",
            path.display()
        )),
        None => printer.detail(&format!("read config.json of {repo} from {endpoint}")),
    }
    let config = parse_hf_config(&fetched.text).map_err(|e| anyhow!("--hf: {repo}'s {e}"))?;
    let entry = CustomModelEntry::from_hf_config(repo, &config, context);
    let id = id.map_or_else(|| hf_model_id(repo), str::to_owned);
    entry
        .validate(&id)
        .map_err(|e| anyhow!("--hf {repo}: {e}"))?;
    Ok((id, entry))
}

/// The model `repo` describes, for sizing (`estimate --hf`, `plan --hf`).
pub fn model(printer: &Printer, repo: &str, context: Option<u32>) -> anyhow::Result<Model> {
    let (id, entry) = entry(printer, repo, None, context)?;
    Ok(Model::custom(&id, &entry))
}
