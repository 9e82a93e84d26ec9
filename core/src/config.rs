//! The config file schema (`~/.config/gpu-dashboard/config.yaml`): custom models under
//! `custom_models`, and the launcher's keys. Parsing and editing keep every key this
//! crate does not know, in order, so a rewrite loses nothing but comments.

use crate::registry::{builtin, Model, QuantMethod};
use crate::settings::MIN_CONTEXT;
use crate::validate::{self, FieldError};

use crate::yaml::{self, Mapping, Value};

/// The key custom models live under.
pub const CUSTOM_MODELS_KEY: &str = "custom_models";

/// One custom model as the config file stores it: core's one description of a custom
/// model (see [`CustomModel`]); this module adds its validation.
pub use crate::registry::CustomModel as CustomModelEntry;

pub use crate::registry::MAX_PARAMS_BILLIONS;
/// Longest context accepted, tokens.
pub const MAX_CONTEXT: u32 = 1 << 24;

impl CustomModelEntry {
    /// Check every field; errors name the field as `custom_models.<id>.<field>`.
    pub fn validate(&self, id: &str) -> Result<(), FieldError> {
        let field = |name: &str| format!("{CUSTOM_MODELS_KEY}.{id}.{name}");
        validate::model_id(&format!("{CUSTOM_MODELS_KEY}.<id>"), id)?;
        if builtin(id).is_some() {
            return Err(FieldError::new(
                format!("{CUSTOM_MODELS_KEY}.<id>"),
                id,
                "is the id of a built-in model",
            ));
        }
        validate::hf_path(&field("hf_path"), &self.hf_path)?;
        if !crate::registry::params_billions_in_range(self.params_billions) {
            return Err(FieldError::new(
                field("params_billions"),
                self.params_billions,
                format!("must be a number above 0 and at most {MAX_PARAMS_BILLIONS}"),
            ));
        }
        if !(MIN_CONTEXT..=MAX_CONTEXT).contains(&self.context_length) {
            return Err(FieldError::new(
                field("context_length"),
                self.context_length,
                format!("must be between {MIN_CONTEXT} and {MAX_CONTEXT}"),
            ));
        }
        if let Some(name) = &self.name {
            validate::display_text(&field("name"), name, 80)?;
        }
        if let Some(notes) = &self.notes {
            validate::display_text(&field("notes"), notes, 2000)?;
        }
        for (key, list) in [
            ("good_for", &self.good_for),
            ("not_good_for", &self.not_good_for),
        ] {
            for item in list {
                validate::display_text(&field(key), item, 200)?;
            }
        }
        if let Some(method) = self.quant_method {
            if !QuantMethod::allowed_for(self.quantization).contains(&method) {
                return Err(FieldError::new(
                    field("quant_method"),
                    method.as_str(),
                    format!("does not produce {} weights", self.quantization.label()),
                ));
            }
        }
        if let Some(arch) = &self.architecture {
            arch.validate().map_err(|e| {
                FieldError::new(
                    field(&format!("architecture.{}", e.field)),
                    e.value,
                    e.reason,
                )
            })?;
            if arch.max_context < self.context_length {
                return Err(FieldError::new(
                    field("context_length"),
                    self.context_length,
                    format!("exceeds architecture.max_context {}", arch.max_context),
                ));
            }
        }
        Ok(())
    }

    /// The registry model this entry describes. Call `validate` first.
    pub fn to_model(&self, id: &str) -> Model {
        Model::custom(id, self)
    }
}

/// The config file could not be read as YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("not valid YAML at line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the top level must be a mapping of keys, found {found}")]
    NotAMapping { found: &'static str },
    #[error("'{key}' must be a mapping, found {found}")]
    KeyNotAMapping { key: String, found: &'static str },
    #[error("could not write the config as YAML: {0}")]
    Encode(String),
}

/// A custom model in the file that is skipped, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning {
    pub model_id: String,
    pub message: String,
}

impl std::fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Invalid custom model '{}': {}",
            self.model_id, self.message
        )
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// The whole config file, editable without losing keys this crate does not know.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfigDocument {
    root: Mapping,
}

impl ConfigDocument {
    /// Parse the file's text; an empty file is an empty config.
    pub fn parse(text: &str) -> Result<ConfigDocument, ConfigError> {
        let value: Value = yaml::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            ConfigError::Syntax {
                line,
                column,
                message: e.to_string(),
            }
        })?;
        let root = match value {
            Value::Null => Mapping::new(),
            Value::Mapping(m) => m,
            other => {
                return Err(ConfigError::NotAMapping {
                    found: kind(&other),
                })
            }
        };
        if let Some(custom) = root.get(CUSTOM_MODELS_KEY) {
            if !matches!(custom, Value::Mapping(_) | Value::Null) {
                return Err(ConfigError::KeyNotAMapping {
                    key: CUSTOM_MODELS_KEY.into(),
                    found: kind(custom),
                });
            }
        }
        Ok(ConfigDocument { root })
    }

    /// Valid custom models in file order, and a warning for each invalid one.
    pub fn custom_models(&self) -> (Vec<Model>, Vec<ConfigWarning>) {
        let mut models = Vec::new();
        let mut warnings = Vec::new();
        let Some(Value::Mapping(entries)) = self.root.get(CUSTOM_MODELS_KEY) else {
            return (models, warnings);
        };
        for (key, value) in entries {
            let id = match key {
                Value::String(s) => s.clone(),
                other => {
                    warnings.push(ConfigWarning {
                        model_id: format!("{other:?}"),
                        message: "model ids must be strings".into(),
                    });
                    continue;
                }
            };
            let parsed = yaml::from_value::<CustomModelEntry>(value.clone())
                .map_err(|e| e.to_string())
                .and_then(|entry| {
                    entry
                        .validate(&id)
                        .map(|()| entry)
                        .map_err(|e| e.to_string())
                });
            match parsed {
                Ok(entry) => models.push(entry.to_model(&id)),
                Err(message) => warnings.push(ConfigWarning {
                    model_id: id,
                    message,
                }),
            }
        }
        (models, warnings)
    }

    /// Whether the file has an entry (valid or not) under this id.
    pub fn has_custom_model(&self, id: &str) -> bool {
        matches!(self.root.get(CUSTOM_MODELS_KEY), Some(Value::Mapping(m)) if m.contains_key(id))
    }

    /// Add or replace a custom model. The entry must already be valid.
    pub fn set_custom_model(
        &mut self,
        id: &str,
        entry: &CustomModelEntry,
    ) -> Result<(), FieldError> {
        entry.validate(id)?;
        let value = yaml::to_value(entry)
            .map_err(|e| FieldError::new(CUSTOM_MODELS_KEY, id, e.to_string()))?;
        let section = self
            .root
            .entry(Value::String(CUSTOM_MODELS_KEY.into()))
            .or_insert(Value::Mapping(Mapping::new()));
        if !matches!(section, Value::Mapping(_)) {
            *section = Value::Mapping(Mapping::new());
        }
        if let Value::Mapping(m) = section {
            m.insert(Value::String(id.into()), value);
        }
        Ok(())
    }

    /// Remove a custom model; false when it was not there.
    pub fn remove_custom_model(&mut self, id: &str) -> bool {
        match self.root.get_mut(CUSTOM_MODELS_KEY) {
            Some(Value::Mapping(m)) => m.remove(id).is_some(),
            _ => false,
        }
    }

    /// A string at a dotted path such as `lambda.api_key`.
    pub fn get_str(&self, path: &str) -> Option<String> {
        let mut cur = &self.root;
        let parts: Vec<&str> = path.split('.').collect();
        for (i, part) in parts.iter().enumerate() {
            let v = cur.get(*part)?;
            if i + 1 == parts.len() {
                return match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                };
            }
            cur = v.as_mapping()?;
        }
        None
    }

    /// Set a value at a dotted path, creating mappings on the way.
    pub fn set(&mut self, path: &str, value: Value) {
        let parts: Vec<&str> = path.split('.').collect();
        let mut cur = &mut self.root;
        for part in &parts[..parts.len() - 1] {
            let entry = cur
                .entry(Value::String((*part).into()))
                .or_insert(Value::Mapping(Mapping::new()));
            if !entry.is_mapping() {
                *entry = Value::Mapping(Mapping::new());
            }
            cur = entry.as_mapping_mut().expect("just made a mapping");
        }
        cur.insert(Value::String(parts[parts.len() - 1].into()), value);
    }

    /// The file's text (empty for an empty config); a value that cannot be written is
    /// an error, never an empty file.
    pub fn to_yaml(&self) -> Result<String, ConfigError> {
        if self.root.is_empty() {
            return Ok(String::new());
        }
        yaml::to_string(&self.root).map_err(|e| ConfigError::Encode(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quant::Quantization;

    const FILE: &str = "lambda:\n  api_key: secret\n  default_region: us-east-1\ndefaults:\n  lease_hours: 6\ncustom_models:\n  my-model-70b:\n    hf_path: myorg/custom-llama-70b\n    params_billions: 70\n    quantization: int4\n    context_length: 8192\n    notes: Fine-tuned on domain data\n  broken:\n    hf_path: not a path\n    params_billions: 7\n    quantization: fp16\n    context_length: 4096\n";

    #[test]
    fn reads_valid_models_and_warns_about_broken_ones() {
        let doc = ConfigDocument::parse(FILE).unwrap();
        let (models, warnings) = doc.custom_models();
        assert_eq!(models.len(), 1);
        assert_eq!(models[0].id, "my-model-70b");
        assert_eq!(models[0].param_count(), 70_000_000_000);
        assert_eq!(
            models[0].checkpoint_for(Quantization::Int4).unwrap().method,
            QuantMethod::Awq
        );
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0]
                .to_string()
                .starts_with("Invalid custom model 'broken': custom_models.broken.hf_path"),
            "{}",
            warnings[0]
        );
    }

    #[test]
    fn editing_keeps_other_keys() {
        let mut doc = ConfigDocument::parse(FILE).unwrap();
        let entry = CustomModelEntry::new("org/new", 7.0, Quantization::Bf16, 8192);
        doc.set_custom_model("new-model", &entry).unwrap();
        assert!(doc.remove_custom_model("broken"));
        let text = doc.to_yaml().unwrap();
        let again = ConfigDocument::parse(&text).unwrap();
        assert_eq!(
            again.get_str("lambda.default_region").as_deref(),
            Some("us-east-1")
        );
        assert_eq!(again.get_str("defaults.lease_hours").as_deref(), Some("6"));
        assert_eq!(again.custom_models().0.len(), 2);
        assert!(text.find("lambda:").unwrap() < text.find("custom_models:").unwrap());
    }

    #[test]
    fn syntax_errors_give_the_line() {
        let err = ConfigDocument::parse("a: 1\nb: [unclosed\n").unwrap_err();
        assert!(
            matches!(err, ConfigError::Syntax { line: 2.., .. }),
            "{err:?}"
        );
        assert!(matches!(
            ConfigDocument::parse("- a\n- b\n").unwrap_err(),
            ConfigError::NotAMapping { .. }
        ));
        assert!(ConfigDocument::parse("")
            .unwrap()
            .custom_models()
            .0
            .is_empty());
    }

    #[test]
    fn invalid_entries_are_rejected_with_the_field() {
        let mut entry: CustomModelEntry = yaml::from_str(
            "hf_path: a/b\nparams_billions: 0\nquantization: fp16\ncontext_length: 8192\n",
        )
        .unwrap();
        assert_eq!(
            entry.validate("x").unwrap_err().field,
            "custom_models.x.params_billions"
        );
        entry.params_billions = 7.0;
        entry.context_length = 100;
        assert_eq!(
            entry.validate("x").unwrap_err().field,
            "custom_models.x.context_length"
        );
        entry.context_length = 4096;
        assert_eq!(
            entry.validate("llama-3.1-8b").unwrap_err().value,
            "llama-3.1-8b"
        );
        entry.quant_method = Some(QuantMethod::Awq);
        assert_eq!(
            entry.validate("x").unwrap_err().field,
            "custom_models.x.quant_method"
        );
    }
}
