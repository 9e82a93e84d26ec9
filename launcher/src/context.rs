//! What every command gets: the printer, and the config file loaded on first use
//! (commands that never touch it, such as `completions`, never read it).

use crate::cli::GlobalArgs;
use crate::config_file;
use crate::output::Printer;
use anyhow::{anyhow, Context as _};
use gpu_session_core::config::{ConfigDocument, ConfigWarning};
use gpu_session_core::registry::{self, Model};
use std::cell::OnceCell;
use std::path::PathBuf;

/// The config file as loaded: its document, the custom models that passed validation,
/// and a warning for each that did not.
#[derive(Debug, Clone)]
pub struct LoadedConfig {
    pub path: PathBuf,
    pub document: ConfigDocument,
    pub custom_models: Vec<Model>,
    pub warnings: Vec<ConfigWarning>,
}

impl LoadedConfig {
    /// A string setting at a dotted path such as `lambda.default_region`; blank is unset.
    pub fn get(&self, key: &str) -> Option<String> {
        self.document
            .get_str(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }

    /// A whole-number setting; a value that is not one is an error naming the key.
    pub fn get_u32(&self, key: &str) -> anyhow::Result<Option<u32>> {
        self.get(key)
            .map(|v| {
                v.parse::<u32>().map_err(|_| {
                    anyhow!(
                        "config file {}: {key}: '{v}' must be a whole number",
                        self.path.display()
                    )
                })
            })
            .transpose()
    }
}

/// Shared state of one run of the CLI.
#[derive(Debug)]
pub struct Context {
    pub printer: Printer,
    explicit_config: Option<PathBuf>,
    config: OnceCell<LoadedConfig>,
}

impl Context {
    pub fn new(global: &GlobalArgs) -> anyhow::Result<Context> {
        Ok(Context {
            printer: Printer::new(global.quiet, global.verbose, global.color),
            explicit_config: global.config.clone(),
            config: OnceCell::new(),
        })
    }

    /// `--config` / `GPU_SESSION_CONFIG`, else the default location.
    pub fn config_path(&self) -> anyhow::Result<PathBuf> {
        match &self.explicit_config {
            Some(path) if !path.as_os_str().is_empty() => Ok(path.clone()),
            _ => config_file::default_path(),
        }
    }

    /// The config file, read once. Invalid custom models are reported as warnings on
    /// stderr the first time; they do not stop the command.
    pub fn config(&self) -> anyhow::Result<&LoadedConfig> {
        if let Some(loaded) = self.config.get() {
            return Ok(loaded);
        }
        let path = self.config_path()?;
        let document = config_file::load(&path)?;
        let (custom_models, warnings) = document.custom_models();
        for warning in &warnings {
            self.printer.warn(&warning.to_string());
        }
        self.printer
            .detail(&format!("config file: {}", path.display()));
        Ok(self.config.get_or_init(|| LoadedConfig {
            path,
            document,
            custom_models,
            warnings,
        }))
    }

    /// Built-in models in the reference's order, then valid custom models in file order.
    pub fn models(&self) -> anyhow::Result<Vec<Model>> {
        let custom = &self.config()?.custom_models;
        Ok(registry::builtins().iter().chain(custom).cloned().collect())
    }

    /// A model by id, or the original tool's not-found error with suggestions.
    pub fn find_model(&self, id: &str) -> anyhow::Result<Model> {
        let models = self.models()?;
        if let Some(model) = models.iter().find(|m| m.id == id) {
            return Ok(model.clone());
        }
        Err(model_not_found(id, models.iter().map(|m| m.id.as_str())))
    }

    /// The model to use when a command is given none: the config's `defaults.model`,
    /// else the reference's recommended model.
    pub fn default_model(&self) -> anyhow::Result<Model> {
        match self.config()?.get("defaults.model") {
            Some(id) => self
                .find_model(&id)
                .context("defaults.model in the config file"),
            None => self.find_model(registry::DEFAULT_MODEL_ID),
        }
    }
}

/// `Model 'X' not found. Use 'gpu-session models' to see available models.` and, when
/// some ids are close, `Did you mean: a, b?` on the next line.
pub fn model_not_found<'a>(id: &str, ids: impl IntoIterator<Item = &'a str>) -> anyhow::Error {
    let mut message =
        format!("Model '{id}' not found. Use 'gpu-session models' to see available models.");
    let close = registry::suggest(id, ids);
    if !close.is_empty() {
        message.push_str(&format!("\nDid you mean: {}?", close.join(", ")));
    }
    anyhow!(message)
}
