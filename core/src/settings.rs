//! The user's choices that every estimate takes: one type for site, links, plans and CLI.

use crate::quant::{KvDtype, Quantization};
use crate::registry::Model;
use crate::validate::FieldError;
use serde::{Deserialize, Serialize};

/// Smallest context any control accepts (the original tool's `context_length ≥ 512`).
pub const MIN_CONTEXT: u32 = 512;
/// Most concurrent sequences the calculator offers; SGLang's CUDA graphs stop at 512.
pub const MAX_SEQS: u32 = 512;
/// Tensor-parallel sizes Lambda instance types offer (GPUs per instance).
pub const GPU_COUNTS: [u32; 4] = [1, 2, 4, 8];

/// Which of the two estimates drives the verdicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EstimateMode {
    /// What SGLang will hold on each GPU (the default).
    #[default]
    Serving,
    /// The reference's published formula.
    Reference,
}

impl EstimateMode {
    pub fn as_str(self) -> &'static str {
        match self {
            EstimateMode::Serving => "serving",
            EstimateMode::Reference => "reference",
        }
    }
}

/// Serving settings for one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Settings {
    pub quantization: Quantization,
    /// Context length per sequence, tokens.
    pub context: u32,
    /// Concurrent sequences each holding `context` tokens of KV cache.
    pub seqs: u32,
    pub kv_dtype: KvDtype,
    /// Tensor-parallel size: GPUs the model is sharded over.
    pub gpus: u32,
}

impl Settings {
    /// The model's own defaults: its quantization and context, one sequence, one GPU.
    pub fn defaults_for(model: &Model) -> Settings {
        Settings {
            quantization: model.quantization,
            context: model.context_length,
            seqs: 1,
            kv_dtype: KvDtype::Auto,
            gpus: 1,
        }
    }

    /// Check every field against the ranges `clamped_for` would force, for callers that
    /// must refuse rather than adjust; the error names the field (`context`, `seqs`, `gpus`).
    pub fn validate_for(&self, model: &Model) -> Result<(), FieldError> {
        let max_context = model.max_context();
        if !(MIN_CONTEXT..=max_context).contains(&self.context) {
            return Err(FieldError::new(
                "context",
                self.context,
                format!(
                    "must be between {MIN_CONTEXT} and {max_context} for {}",
                    model.id
                ),
            ));
        }
        if !(1..=MAX_SEQS).contains(&self.seqs) {
            return Err(FieldError::new(
                "seqs",
                self.seqs,
                format!("must be between 1 and {MAX_SEQS}"),
            ));
        }
        if !GPU_COUNTS.contains(&self.gpus) {
            let counts = GPU_COUNTS.map(|n| n.to_string()).join(", ");
            return Err(FieldError::new(
                "gpus",
                self.gpus,
                format!("must be one of {counts}"),
            ));
        }
        Ok(())
    }

    /// Bring every field into the range the model and the calculator allow.
    pub fn clamped_for(self, model: &Model) -> Settings {
        Settings {
            context: self.context.clamp(MIN_CONTEXT, model.max_context()),
            seqs: self.seqs.clamp(1, MAX_SEQS),
            gpus: if GPU_COUNTS.contains(&self.gpus) {
                self.gpus
            } else {
                1
            },
            ..self
        }
    }
}

/// Bounds on `serving.mem_fraction_static`. Our policy: below 0.5 a plan leaves most of the
/// GPU unused; above 0.95 too little stays outside SGLang's static pool for activations,
/// CUDA graphs and the CUDA context (see `serving`), whatever the GPU.
pub const MEM_FRACTION_RANGE: (f64, f64) = (0.5, 0.95);

/// Check a user's own `--mem-fraction-static` (CLI flag or plan field named `field`):
/// a number within [`MEM_FRACTION_RANGE`]. SGLang reads it as the share of
/// the free memory at its baseline that weights and the KV pool may take.
pub fn check_mem_fraction_static(field: &str, value: f64) -> Result<f64, FieldError> {
    let (lo, hi) = MEM_FRACTION_RANGE;
    if value.is_finite() && (lo..=hi).contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new(
            field,
            value,
            format!("must be between {lo} and {hi}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::builtin;

    #[test]
    fn validation_names_the_field_that_clamping_would_change() {
        let m = builtin("mistral-7b").unwrap();
        let ok = Settings::defaults_for(m);
        ok.validate_for(m).unwrap();
        assert_eq!(ok.clamped_for(m), ok);
        let field = |s: Settings| s.validate_for(m).unwrap_err().field;
        assert_eq!(
            field(Settings {
                context: 65_536,
                ..ok
            }),
            "context"
        );
        assert_eq!(field(Settings { context: 100, ..ok }), "context");
        assert_eq!(field(Settings { seqs: 0, ..ok }), "seqs");
        assert_eq!(field(Settings { gpus: 3, ..ok }), "gpus");
    }

    #[test]
    fn a_user_memory_fraction_is_checked_against_the_policy_range() {
        assert_eq!(
            check_mem_fraction_static("--mem-fraction-static", 0.8),
            Ok(0.8)
        );
        for bad in [0.3, 0.99, f64::NAN, -1.0] {
            let err = check_mem_fraction_static("--mem-fraction-static", bad).unwrap_err();
            assert_eq!(err.field, "--mem-fraction-static");
            assert!(err.to_string().contains("between 0.5 and 0.95"), "{err}");
        }
    }
}
