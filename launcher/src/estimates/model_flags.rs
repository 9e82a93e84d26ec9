//! Flags that describe a model, shared by `models add` and `estimate --params`: the
//! architecture flags, and custom-model validation errors named by the flag that set
//! the field. (`--quantization` is parsed by clap with core's names: `cli.rs`.)

use crate::cli::ArchArgs;
use anyhow::anyhow;
use gpu_session_core::arch::Architecture;
use gpu_session_core::validate::FieldError;

/// Whether any architecture flag was given.
pub fn arch_flags_given(a: &ArchArgs) -> bool {
    [
        a.layers,
        a.hidden,
        a.intermediate,
        a.heads,
        a.kv_heads,
        a.head_dim,
        a.vocab,
        a.max_context,
    ]
    .iter()
    .any(Option::is_some)
        || a.tied_embeddings
        || a.attention_bias
}

/// The architecture flags as an `Architecture`: `None` when none is given, a usage error
/// naming the missing ones (with the usage of `command`) when only some are. `kv_heads` defaults to `heads`,
/// `head_dim` to `hidden / heads`, `max_context` to `context`.
pub fn architecture_from(
    a: &ArchArgs,
    context: u32,
    command: &[&str],
) -> anyhow::Result<Option<Architecture>> {
    if !arch_flags_given(a) {
        return Ok(None);
    }
    let required = [
        ("--layers", a.layers),
        ("--hidden", a.hidden),
        ("--intermediate", a.intermediate),
        ("--heads", a.heads),
        ("--vocab", a.vocab),
    ];
    let missing: Vec<&str> = required
        .iter()
        .filter(|(_, v)| v.is_none())
        .map(|(f, _)| *f)
        .collect();
    let (Some(layers), Some(hidden), Some(intermediate), Some(heads), Some(vocab)) =
        (a.layers, a.hidden, a.intermediate, a.heads, a.vocab)
    else {
        return Err(crate::usage_error_in(
            command,
            format!(
                "architecture flags go together: missing {}",
                missing.join(", ")
            ),
        ));
    };
    Ok(Some(Architecture {
        layers,
        hidden,
        intermediate,
        heads,
        kv_heads: a.kv_heads.unwrap_or(heads),
        head_dim: a
            .head_dim
            .unwrap_or_else(|| hidden.checked_div(heads).unwrap_or(0)),
        vocab,
        tied_embeddings: a.tied_embeddings,
        attention_bias: a.attention_bias,
        sliding_window: None,
        max_context: a.max_context.unwrap_or(context),
        ..Architecture::DENSE
    }))
}

/// A custom-model validation error, naming the flag that set the field
/// (`custom_models.x.params_billions` is `--params`).
pub fn entry_error(e: &FieldError, id: &str) -> anyhow::Error {
    let prefix = format!("custom_models.{id}.");
    let flag = match e.field.strip_prefix(&prefix) {
        None => "--name".to_string(),
        Some("params_billions") => "--params".to_string(),
        Some("context_length") => "--context".to_string(),
        Some(field) => format!(
            "--{}",
            field.trim_start_matches("architecture.").replace('_', "-")
        ),
    };
    anyhow!("{flag}: '{}' {}", e.value, e.reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_errors_name_the_flag() {
        let e = FieldError::new("custom_models.x.params_billions", 0, "must be above 0");
        assert_eq!(
            entry_error(&e, "x").to_string(),
            "--params: '0' must be above 0"
        );
        let e = FieldError::new("custom_models.x.architecture.kv_heads", 3, "must divide");
        assert_eq!(
            entry_error(&e, "x").to_string(),
            "--kv-heads: '3' must divide"
        );
        let e = FieldError::new("custom_models.<id>", "Bad", "is not a valid model id");
        assert_eq!(
            entry_error(&e, "Bad").to_string(),
            "--name: 'Bad' is not a valid model id"
        );
        let e = FieldError::new("custom_models.x.hf_path", "a b", "is bad");
        assert!(entry_error(&e, "x").to_string().starts_with("--hf-path: "));
    }

    #[test]
    fn architecture_is_all_or_none_with_defaults() {
        assert!(architecture_from(&ArchArgs::default(), 8192, &[])
            .unwrap()
            .is_none());
        let partial = ArchArgs {
            layers: Some(32),
            ..ArchArgs::default()
        };
        let err = architecture_from(&partial, 8192, &[])
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--hidden, --intermediate, --heads, --vocab"),
            "{err}"
        );
        let full = ArchArgs {
            layers: Some(32),
            hidden: Some(4096),
            intermediate: Some(14336),
            heads: Some(32),
            vocab: Some(128_256),
            kv_heads: Some(8),
            ..ArchArgs::default()
        };
        let arch = architecture_from(&full, 8192, &[]).unwrap().unwrap();
        assert_eq!((arch.head_dim, arch.max_context), (128, 8192));
        assert_eq!(arch.param_count(), 8_030_261_248);
    }
}
