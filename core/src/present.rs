//! Presentation helpers shared by the site and the CLI: the per-GPU memory breakdown of
//! the estimate in force, number formats, and the model browser's filter. Pure, so a
//! browser test can compute the exact text the page shows.

pub use crate::decimal::Fixed;
use crate::gpu::{in_gib, GIB};
use crate::recommend::Recommendation;
use crate::registry::{Model, BY_USE_CASE, CURRENT_BY_USE_CASE};
use crate::serving::KvLayout;
use crate::settings::EstimateMode;

/// The unit an estimate is stated in: the serving estimate counts binary GiB (what
/// `nvidia-smi` and SGLang report), the reference formula decimal GB (as it publishes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    GiB,
    GB,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::GiB => "GiB",
            Unit::GB => "GB",
        }
    }
}

/// What each GPU holds under the estimate in force, in `unit`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryBreakdown {
    pub unit: Unit,
    pub weights: f64,
    pub kv_cache: f64,
    pub activations: f64,
    /// CUDA context, workspaces and CUDA graphs (serving) or the flat 2 GB (reference).
    pub overhead: f64,
}

impl MemoryBreakdown {
    /// The headline breakdown of a recommendation: the serving estimate at the chosen
    /// GPU count, or the reference formula's total spread over that many GPUs.
    pub fn of(rec: &Recommendation) -> MemoryBreakdown {
        match rec.mode {
            EstimateMode::Serving => {
                let s = &rec.serving;
                MemoryBreakdown {
                    unit: Unit::GiB,
                    weights: in_gib(s.weights),
                    kv_cache: in_gib(s.kv_cache),
                    activations: in_gib(s.activations),
                    overhead: in_gib(s.overhead()),
                }
            }
            EstimateMode::Reference => {
                let r = &rec.reference;
                let n = f64::from(rec.settings.gpus.max(1));
                MemoryBreakdown {
                    unit: Unit::GB,
                    weights: r.base_gb / n,
                    kv_cache: r.kv_cache_gb / n,
                    activations: r.activations_gb / n,
                    overhead: r.overhead_gb / n,
                }
            }
        }
    }

    pub fn total(&self) -> f64 {
        self.weights + self.kv_cache + self.activations + self.overhead
    }

    /// The parts with their labels, in the order the site stacks them.
    pub fn parts(&self) -> [(&'static str, f64); 4] {
        [
            ("Weights", self.weights),
            ("KV cache", self.kv_cache),
            ("Activations", self.activations),
            ("Overhead", self.overhead),
        ]
    }
}

/// `12.3 GiB`: one decimal and the unit.
pub fn amount(value: f64, unit: Unit) -> String {
    format!("{} {}", Fixed::<1>(value), unit.as_str())
}

/// Bytes as GiB with one decimal.
pub fn gib(bytes: u64) -> String {
    amount(in_gib(bytes), Unit::GiB)
}

/// Bytes as MiB with one decimal (`1.2 MiB`): small per-sequence states.
pub fn mib(bytes: u64) -> String {
    format!("{} MiB", Fixed::<1>(bytes as f64 / (1024.0 * 1024.0)))
}

/// Signed bytes as GiB with one decimal and an explicit sign (`+4.2 GiB`, `-3.1 GiB`).
pub fn signed_gib(bytes: i64) -> String {
    let v = bytes as f64 / GIB as f64;
    if v < 0.0 {
        format!("-{} GiB", Fixed::<1>(-v))
    } else {
        format!("+{} GiB", Fixed::<1>(v))
    }
}

/// A whole number with thousands separators: `131,072`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A context length the way models state it: `8K`, `128K`, `1M`, else `1,500`.
pub fn context(tokens: u32) -> String {
    if tokens >= 1 << 20 && tokens.is_multiple_of(1 << 20) {
        format!("{}M", tokens >> 20)
    } else if tokens >= 1024 && tokens.is_multiple_of(1024) {
        format!("{}K", tokens >> 10)
    } else {
        thousands(u64::from(tokens))
    }
}

/// Decode speed: whole tokens/s from 100 up, one decimal below.
pub fn tokens_per_s(x: f64) -> String {
    if x >= 100.0 {
        Fixed::<0>(x).to_string()
    } else {
        Fixed::<1>(x).to_string()
    }
}

/// A duration in milliseconds for the TTFT and TPOT columns: `1,234`, `45.6`, `7.25`
/// (three significant figures below 100 ms, whole milliseconds above).
pub fn milliseconds(ms: f64) -> String {
    if ms >= 1000.0 {
        thousands(ms.round() as u64)
    } else if ms >= 100.0 {
        Fixed::<0>(ms).to_string()
    } else if ms >= 10.0 {
        Fixed::<1>(ms).to_string()
    } else {
        Fixed::<2>(ms).to_string()
    }
}

/// Dollars with cents: `$1.29`.
pub fn usd(x: f64) -> String {
    format!("${}", Fixed::<2>(x))
}

/// Dollars per million tokens: three decimals below a dollar, else cents.
pub fn usd_fine(x: f64) -> String {
    if x < 1.0 {
        format!("${}", Fixed::<3>(x))
    } else {
        format!("${}", Fixed::<2>(x))
    }
}

/// A share as a whole percentage: `12 %`.
pub fn percent(share: f64) -> String {
    format!("{} %", Fixed::<0>(share * 100.0))
}

/// A parameter count in billions: `70.6B`.
pub fn params(count: u64) -> String {
    format!("{}B", Fixed::<1>(count as f64 / 1e9))
}

/// The model browser's filter: a use case from the reference's guide, a context need,
/// and free-text search.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ModelFilter<'a> {
    /// A `task` of `registry::BY_USE_CASE` or `registry::CURRENT_BY_USE_CASE`; only the
    /// model the guide names matches.
    pub use_case: Option<&'a str>,
    /// Tokens of context the model must support.
    pub min_context: Option<u32>,
    /// Words that must all occur in the id, name, tagline, best-for line, good-for items
    /// or repository; ASCII letters match regardless of case (ASCII-only folding keeps
    /// Unicode case tables out of the web bundle).
    pub search: &'a str,
}

impl ModelFilter<'_> {
    pub fn matches(&self, model: &Model) -> bool {
        if let Some(task) = self.use_case {
            let named = BY_USE_CASE
                .iter()
                .chain(CURRENT_BY_USE_CASE.iter())
                .any(|g| g.task == task && g.model_id == model.id);
            if !named {
                return false;
            }
        }
        if self.min_context.is_some_and(|c| model.max_context() < c) {
            return false;
        }
        let haystack = [
            model.id.as_str(),
            model.name.as_str(),
            model.tagline.as_str(),
            model.best_for.as_str(),
            model.hf_path.as_str(),
        ]
        .into_iter()
        .chain(model.good_for.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join("\n")
        .to_ascii_lowercase();
        self.search
            .split_whitespace()
            .all(|word| haystack.contains(&word.to_ascii_lowercase()))
    }
}

/// "Parameters: …": total and active parameters (one figure for a dense model), as the
/// CLI's `estimate`/`models info` and the site's details both state them. "Active"
/// counts the input embedding, as Qwen and DeepSeek do; where the model has a separate
/// output head, the count without it (OpenAI's and Moonshot's way) follows, so a
/// publisher's smaller figure is explained rather than contradicted.
pub fn parameters_sentence(model: &Model) -> String {
    let arch = model.effective_architecture().0;
    let total = model.param_count();
    let parts = arch.param_breakdown();
    let without_embedding = if parts.lm_head > 0 {
        format!(
            " ({} without the input embedding)",
            params(parts.active() - parts.embedding)
        )
    } else {
        String::new()
    };
    match &arch.moe {
        Some(moe) => format!(
            "Parameters: {} total, {} active per token{without_embedding}; MoE: {} of {} routed experts per token.",
            params(total),
            params(arch.active_param_count()),
            moe.experts_per_token,
            moe.experts
        ),
        None => format!(
            "Parameters: {} (dense: all active per token).",
            params(total)
        ),
    }
}

/// "Experts: …": the routed experts' share of the weights on each GPU (MoE models only).
pub fn experts_sentence(expert_weights: u64, weights: u64) -> Option<String> {
    (expert_weights > 0 && weights > 0).then(|| {
        format!(
            "Experts: {} of the {} weights per GPU ({}); a decode step reads only the experts its tokens are routed to.",
            gib(expert_weights),
            gib(weights),
            percent(expert_weights as f64 / weights as f64)
        )
    })
}

/// "KV by layer kind: …", for models whose layers do not all keep full KV.
pub fn kv_by_layer_kind_sentence(kv: &KvLayout) -> Option<String> {
    if kv.swa_layers == 0 && kv.linear_layers == 0 {
        return None;
    }
    let mut kinds = Vec::new();
    if kv.full_layers > 0 {
        kinds.push(format!(
            "{} full-attention layers {} B/token",
            kv.full_layers,
            thousands(kv.full_bytes_per_token)
        ));
    }
    if kv.swa_layers > 0 {
        kinds.push(format!(
            "{} sliding/chunked layers (window {} tokens) {} B/token",
            kv.swa_layers,
            thousands(u64::from(kv.swa_window)),
            thousands(kv.swa_bytes_per_token)
        ));
    }
    if kv.linear_layers > 0 {
        kinds.push(format!(
            "{} linear-attention layers {} of state per sequence",
            kv.linear_layers,
            mib(kv.state_bytes_per_seq)
        ));
    }
    Some(format!("KV by layer kind: {}.", kinds.join("; ")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::recommend::recommend;
    use crate::registry::{builtin, builtins};
    use crate::settings::Settings;

    #[test]
    fn breakdown_sums_to_the_estimate_in_force() {
        let m = builtin("deepseek-r1-70b").unwrap();
        let s = Settings::defaults_for(m);
        let rec = recommend(m, &s, EstimateMode::Serving, None);
        let b = MemoryBreakdown::of(&rec);
        assert_eq!(b.unit, Unit::GiB);
        let total = in_gib(rec.serving.total());
        assert!((b.total() - total).abs() < 1e-9);
        let rec = recommend(m, &s, EstimateMode::Reference, None);
        assert_eq!(
            amount(MemoryBreakdown::of(&rec).total(), Unit::GB),
            "44.5 GB"
        );
        let two = Settings { gpus: 2, ..s };
        let rec = recommend(m, &two, EstimateMode::Reference, None);
        assert_eq!(
            amount(MemoryBreakdown::of(&rec).weights, Unit::GB),
            "17.5 GB"
        );
    }

    #[test]
    fn formats() {
        assert_eq!(gib(GIB * 3 / 2), "1.5 GiB");
        assert_eq!(signed_gib(-(GIB as i64) * 3), "-3.0 GiB");
        assert_eq!(signed_gib(GIB as i64 / 4), "+0.2 GiB");
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(131_072), "131,072");
        assert_eq!(thousands(1_234_567), "1,234,567");
        assert_eq!(context(8192), "8K");
        assert_eq!(context(131_072), "128K");
        assert_eq!(context(1 << 20), "1M");
        assert_eq!(context(1500), "1,500");
        assert_eq!(tokens_per_s(145.4), "145");
        assert_eq!(tokens_per_s(12.34), "12.3");
        assert_eq!(milliseconds(12_345.4), "12,345");
        assert_eq!(milliseconds(456.7), "457");
        assert_eq!(milliseconds(45.66), "45.7");
        assert_eq!(milliseconds(7.254), "7.25");
        assert_eq!(usd(1.289), "$1.29");
        assert_eq!(usd_fine(0.4321), "$0.432");
        assert_eq!(usd_fine(12.345), "$12.35");
        assert_eq!(percent(0.123), "12 %");
        assert_eq!(params(70_553_706_496), "70.6B");
    }

    #[test]
    fn filter_by_use_case_context_and_search() {
        let ids = |f: ModelFilter| {
            builtins()
                .iter()
                .filter(|m| f.matches(m))
                .map(|m| m.id.as_str())
                .collect::<Vec<_>>()
        };
        // The reference's seven and the current models.
        assert_eq!(ids(ModelFilter::default()).len(), builtins().len());
        assert_eq!(builtins().len(), 16);
        assert_eq!(
            ids(ModelFilter {
                use_case: Some("Long documents"),
                ..Default::default()
            }),
            ["mistral-7b"]
        );
        // Llama 3.1 and the R1 distill support 128K; Qwen, Mistral 32K; CodeLlama 16K;
        // of the current models gpt-oss, DeepSeek-R1, Llama 3.3, Gemma 3 and Kimi K2
        // reach 128K, Qwen3 40K.
        assert_eq!(
            ids(ModelFilter {
                min_context: Some(65_536),
                ..Default::default()
            }),
            [
                "deepseek-r1-70b",
                "llama-3.1-70b",
                "llama-3.1-8b",
                "gpt-oss-20b",
                "gpt-oss-120b",
                "deepseek-r1-671b",
                "llama-3.3-70b",
                "gemma-3-27b",
                "kimi-k2"
            ]
        );
        assert_eq!(
            ids(ModelFilter {
                use_case: Some("Reasoning on one GPU"),
                ..Default::default()
            }),
            ["gpt-oss-120b"]
        );
        assert_eq!(
            ids(ModelFilter {
                search: "QWEN int4",
                ..Default::default()
            }),
            ["qwen2.5-coder-32b-int4"]
        );
        assert!(ids(ModelFilter {
            search: "no such model",
            ..Default::default()
        })
        .is_empty());
    }
}
