//! The user's choices that every estimate takes: one type for site, links, plans and CLI.

use crate::quant::{KvDtype, Quantization};
use crate::registry::Model;
use crate::speed::{
    Load, Workload, DEFAULT_INPUT_TOKENS, DEFAULT_OUTPUT_TOKENS, MAX_RATE, MAX_WORKLOAD_TOKENS,
};
use crate::validate::FieldError;
use serde::{Deserialize, Serialize};

/// Smallest context any control accepts (the original tool's `context_length ≥ 512`).
pub const MIN_CONTEXT: u32 = 512;
/// Most concurrent sequences the calculator offers; SGLang's CUDA graphs stop at 512.
pub const MAX_SEQS: u32 = 512;
/// Most replicas in one group, for plans, links and the service-level choice. Our
/// policy: Lambda allows 5 launches a minute (API 1.8.3 `info.description`), so sixteen
/// take about three minutes to request; beyond that the answer is a capacity
/// negotiation with Lambda, not a calculator's.
pub const MAX_REPLICAS: u32 = 16;
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
    /// Prompt tokens per request of the workload the speed columns are for.
    pub input_tokens: u32,
    /// Generated tokens per request of that workload.
    pub output_tokens: u32,
    /// Requests arriving per second; `None`: `seqs` requests are always in flight. With a
    /// rate, `seqs` is the most that run at once (the plan's `--max-running-requests`);
    /// the rest wait.
    pub rate: Option<Rate>,
}

/// A request rate, held in thousandths of a request per second so that `Settings` stays
/// `Eq` and `Hash` and a link or plan carries it exactly: 0.001 to [`MAX_RATE`] req/s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Rate {
    milli_per_s: u32,
}

impl Rate {
    /// `per_s` requests per second, to the nearest thousandth; the error names `field`.
    pub fn new(field: &str, per_s: f64) -> Result<Rate, FieldError> {
        let milli = (per_s * 1000.0).round();
        if per_s.is_finite() && per_s > 0.0 && per_s <= MAX_RATE && milli >= 1.0 {
            Ok(Rate {
                milli_per_s: milli as u32,
            })
        } else {
            Err(FieldError::new(
                field,
                crate::decimal::shortest(per_s),
                format!(
                    "must be a rate of at least 0.001 and at most {} requests/s",
                    crate::decimal::Fixed::<0>(MAX_RATE)
                ),
            ))
        }
    }

    /// Requests per second.
    pub fn per_s(self) -> f64 {
        f64::from(self.milli_per_s) / 1000.0
    }
}

impl TryFrom<f64> for Rate {
    type Error = FieldError;
    fn try_from(per_s: f64) -> Result<Rate, FieldError> {
        Rate::new("rate", per_s)
    }
}

impl From<Rate> for f64 {
    fn from(r: Rate) -> f64 {
        r.per_s()
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::decimal::shortest(self.per_s()))
    }
}

impl std::str::FromStr for Rate {
    type Err = FieldError;
    /// Requests per second as a decimal number, e.g. `2.5`.
    fn from_str(s: &str) -> Result<Rate, FieldError> {
        let per_s = s
            .trim()
            .parse::<f64>()
            .map_err(|_| FieldError::new("rate", s, "is not a number of requests per second"))?;
        Rate::new("rate", per_s)
    }
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
            input_tokens: DEFAULT_INPUT_TOKENS,
            output_tokens: DEFAULT_OUTPUT_TOKENS,
            rate: None,
        }
    }

    /// The workload the speed model prices: `seqs` concurrent requests, or the rate.
    pub fn workload(&self) -> Workload {
        Workload {
            input_tokens: self.input_tokens,
            output_tokens: self.output_tokens,
            load: match self.rate {
                Some(rate) => Load::Rate(rate.per_s()),
                None => Load::Concurrent(self.seqs),
            },
        }
    }

    /// These settings with `workload`'s shape and load (a concurrency becomes `seqs`).
    /// The error names the workload's field (`input_tokens`, `output_tokens`,
    /// `concurrency`, `rate`).
    pub fn with_workload(self, workload: &Workload) -> Result<Settings, FieldError> {
        workload.validate()?;
        let (seqs, rate) = match workload.load {
            Load::Concurrent(n) => (n, None),
            Load::Rate(r) => (self.seqs, Some(Rate::new("rate", r)?)),
        };
        Ok(Settings {
            input_tokens: workload.input_tokens,
            output_tokens: workload.output_tokens,
            seqs,
            rate,
            ..self
        })
    }

    /// Check every field against the ranges `clamped_for` would force, for callers that
    /// must refuse rather than adjust; the error names the field (`context`, `seqs`, `gpus`,
    /// `input_tokens`, `output_tokens`).
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
        self.workload().validate()
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
            input_tokens: self.input_tokens.clamp(1, MAX_WORKLOAD_TOKENS),
            output_tokens: self.output_tokens.clamp(1, MAX_WORKLOAD_TOKENS),
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
        assert_eq!(
            field(Settings {
                input_tokens: 0,
                ..ok
            }),
            "input_tokens"
        );
        assert_eq!(
            field(Settings {
                output_tokens: MAX_WORKLOAD_TOKENS + 1,
                ..ok
            }),
            "output_tokens"
        );
    }

    #[test]
    fn a_rate_is_exact_to_a_thousandth_and_names_its_field() {
        let r: Rate = "2.5".parse().unwrap();
        assert_eq!(r.per_s(), 2.5);
        assert_eq!(r.to_string(), "2.5");
        assert_eq!("0.001".parse::<Rate>().unwrap().per_s(), 0.001);
        for bad in ["0", "-1", "0.0001", "NaN", "inf", "1e7", "fast", ""] {
            let e = bad.parse::<Rate>().unwrap_err();
            assert_eq!(e.field, "rate", "{bad}");
        }
        assert_eq!(Rate::new("--rate", 0.0).unwrap_err().field, "--rate");
        // As JSON and YAML a rate is a plain number.
        assert_eq!(serde_json::to_string(&r).unwrap(), "2.5");
        assert!(serde_json::from_str::<Rate>("0").is_err());
    }

    #[test]
    fn the_workload_is_seqs_concurrent_requests_unless_a_rate_is_given() {
        let m = builtin("mistral-7b").unwrap();
        let s = Settings {
            seqs: 32,
            ..Settings::defaults_for(m)
        };
        assert_eq!(s.workload().basis(), "32 concurrent 1k/1k");
        let at_rate = Settings {
            rate: Some(Rate::new("rate", 2.5).unwrap()),
            input_tokens: 2000,
            ..s
        };
        assert_eq!(at_rate.workload().basis(), "2.5 req/s 2k/1k");
        assert_eq!(s.with_workload(&at_rate.workload()).unwrap(), at_rate);
        assert_eq!(at_rate.with_workload(&s.workload()).unwrap(), s);
        let bad = Workload {
            load: Load::Concurrent(0),
            ..s.workload()
        };
        assert_eq!(s.with_workload(&bad).unwrap_err().field, "concurrency");
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
