//! The user's choices that every estimate takes: one type for site, links, plans and CLI.

use crate::quant::{KvDtype, Quantization};
use crate::registry::Model;
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
