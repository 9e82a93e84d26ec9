//! Sorting the GPU table by any column.

use gpu_session_core::recommend::{Fit, GpuFit};
use std::cmp::Ordering;

/// A sortable column of the GPU table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    /// By instance-type name.
    Gpu,
    Memory,
    Fit,
    Headroom,
    KvPool,
    MaxContext,
    TokensPerS,
    PricePerHour,
    PricePerMillion,
}

impl Column {
    /// Every column, left to right.
    pub const ALL: [Column; 9] = [
        Column::Gpu,
        Column::Memory,
        Column::Fit,
        Column::Headroom,
        Column::KvPool,
        Column::MaxContext,
        Column::TokensPerS,
        Column::PricePerHour,
        Column::PricePerMillion,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Column::Gpu => "Instance type",
            Column::Memory => "Memory",
            Column::Fit => "Fit",
            Column::Headroom => "Headroom",
            Column::KvPool => "KV pool",
            Column::MaxContext => "Longest context",
            Column::TokensPerS => "Output tokens/s",
            Column::PricePerHour => "$/hour",
            Column::PricePerMillion => "$/1M output tokens",
        }
    }

    /// The `data-col` name of the column's cells.
    pub fn key(self) -> &'static str {
        match self {
            Column::Gpu => "gpu",
            Column::Memory => "memory",
            Column::Fit => "fit",
            Column::Headroom => "headroom",
            Column::KvPool => "kv-pool",
            Column::MaxContext => "max-context",
            Column::TokensPerS => "tps",
            Column::PricePerHour => "price",
            Column::PricePerMillion => "per-million",
        }
    }

    /// Whether a first click sorts largest first (more is better for these columns).
    pub fn descending_first(self) -> bool {
        matches!(
            self,
            Column::Memory
                | Column::Headroom
                | Column::KvPool
                | Column::MaxContext
                | Column::TokensPerS
        )
    }

    /// A tooltip explaining the column.
    pub fn help(self) -> &'static str {
        match self {
            Column::Gpu => "Lambda instance type; click a row to select it",
            Column::Memory => "GPUs × memory per GPU",
            Column::Fit => "fits, tight (under 5 % free or a raised memory fraction), queues (the KV pool holds fewer sequences than asked) or no",
            Column::Headroom => "Memory left on each GPU at these settings",
            Column::KvPool => "Tokens SGLang's KV-cache pool holds",
            Column::MaxContext => "Longest context per sequence at this concurrency",
            Column::TokensPerS => "Output tokens/s of the whole instance at the workload",
            Column::PricePerHour => "On-demand price of the instance",
            Column::PricePerMillion => "Dollars per million output tokens at the workload",
        }
    }
}

/// The manual's chapter of formulas, relative to the site's root (the Pages workflow
/// publishes the book under `book/`).
pub const FORMULAS: &str = "book/estimates.html";

/// The anchors in [`FORMULAS`] of the memory breakdown's parts, in the order
/// `MemoryBreakdown::parts` stacks them (weights, KV cache, activations, overhead).
pub const PART_FORMULAS: [&str; 4] = ["weights", "kv-cache", "activations", "overhead"];

impl Column {
    /// The anchor of the column's formula in [`FORMULAS`].
    pub fn formula(self) -> &'static str {
        match self {
            Column::Gpu | Column::Memory => "the-gpu-catalog",
            Column::Fit => "fit",
            Column::Headroom => "headroom",
            Column::KvPool => "kv-pool",
            Column::MaxContext => "longest-context-and-most-sequences",
            Column::TokensPerS => "decode-speed",
            Column::PricePerHour | Column::PricePerMillion => "price-and-cost",
        }
    }
}

fn fit_rank(fit: Fit) -> u8 {
    match fit {
        Fit::Fits => 0,
        Fit::Tight => 1,
        Fit::Queues => 2,
        Fit::No => 3,
    }
}

fn compare(a: &GpuFit, b: &GpuFit, column: Column) -> Ordering {
    match column {
        Column::Gpu => a.gpu.instance_type.cmp(b.gpu.instance_type),
        Column::Memory => (a.gpu.total_nominal_gb(), a.gpu.gpu_count)
            .cmp(&(b.gpu.total_nominal_gb(), b.gpu.gpu_count)),
        Column::Fit => fit_rank(a.fit).cmp(&fit_rank(b.fit)),
        Column::Headroom => a.headroom_bytes.cmp(&b.headroom_bytes),
        Column::KvPool => a.kv_pool_tokens.cmp(&b.kv_pool_tokens),
        Column::MaxContext => a.max_context.cmp(&b.max_context),
        Column::TokensPerS => a
            .speed
            .output_tokens_per_s
            .total_cmp(&b.speed.output_tokens_per_s),
        Column::PricePerHour => a.gpu.price_cents_per_hour.cmp(&b.gpu.price_cents_per_hour),
        Column::PricePerMillion => a
            .speed
            .usd_per_million_output_tokens
            .total_cmp(&b.speed.usd_per_million_output_tokens),
    }
}

/// Row indices in display order: catalog order without a column, ties keep it too.
pub fn order(rows: &[GpuFit], column: Option<Column>, descending: bool) -> Vec<usize> {
    let Some(column) = column else {
        return (0..rows.len()).collect();
    };
    let mut idx: Vec<usize> = (0..rows.len()).collect();
    idx.sort_by(|&i, &j| {
        let o = compare(&rows[i], &rows[j], column);
        let o = if descending { o.reverse() } else { o };
        o.then(i.cmp(&j))
    });
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mdBook's id for a heading: lowercase, spaces to `-`, other punctuation dropped.
    fn heading_id(heading: &str) -> String {
        heading
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                ' ' => Some('-'),
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn every_formula_link_names_a_heading_of_the_manual() {
        let chapter = include_str!("../../docs/src/estimates.md");
        let ids: Vec<String> = chapter
            .lines()
            .filter(|l| l.starts_with('#'))
            .map(|l| heading_id(l.trim_start_matches('#').trim()))
            .collect();
        let anchors = Column::ALL.map(Column::formula);
        for anchor in anchors.iter().chain(&PART_FORMULAS) {
            assert!(
                ids.iter().any(|id| id == anchor),
                "no heading #{anchor} in {FORMULAS}: {ids:?}"
            );
        }
        assert_eq!(
            heading_id("Fit, headroom and the KV pool"),
            "fit-headroom-and-the-kv-pool"
        );
    }
    use gpu_session_core::registry::builtin;
    use gpu_session_core::{recommend, EstimateMode, Settings};

    fn rows() -> Vec<GpuFit> {
        let m = builtin("llama-3.1-70b").unwrap();
        recommend(m, &Settings::defaults_for(m), EstimateMode::Serving, None).rows
    }

    #[test]
    fn default_order_is_the_catalog() {
        let r = rows();
        assert_eq!(order(&r, None, false), (0..r.len()).collect::<Vec<_>>());
        let by_name = order(&r, Some(Column::Gpu), false);
        assert_eq!(r[by_name[0]].gpu.instance_type, "gpu_1x_a10");
    }

    #[test]
    fn sorts_each_column_both_ways() {
        let r = rows();
        for column in Column::ALL {
            for descending in [false, true] {
                let o = order(&r, Some(column), descending);
                assert_eq!(o.len(), r.len());
                for w in o.windows(2) {
                    let c = compare(&r[w[0]], &r[w[1]], column);
                    let c = if descending { c.reverse() } else { c };
                    assert_ne!(c, Ordering::Greater, "{column:?} {descending}");
                }
            }
        }
        let by_price = order(&r, Some(Column::PricePerHour), false);
        assert_eq!(r[by_price[0]].gpu.instance_type, "gpu_1x_rtx6000");
        let by_fit = order(&r, Some(Column::Fit), false);
        assert_eq!(r[by_fit[0]].fit, Fit::Fits);
        assert_eq!(r[*by_fit.last().unwrap()].fit, Fit::No);
    }

    #[test]
    fn queueing_rows_sort_after_tight_and_before_no() {
        // Llama 3.1 8B at 8K context, 32 sequences: the small cards queue.
        let m = builtin("llama-3.1-8b").unwrap();
        let s = Settings {
            seqs: 32,
            ..Settings::defaults_for(m)
        };
        let r = recommend(m, &s, EstimateMode::Serving, None).rows;
        assert!(r.iter().any(|row| row.fit == Fit::Queues));
        let ranks: Vec<u8> = order(&r, Some(Column::Fit), false)
            .into_iter()
            .map(|i| fit_rank(r[i].fit))
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
        assert!(fit_rank(Fit::Tight) < fit_rank(Fit::Queues));
        assert!(fit_rank(Fit::Queues) < fit_rank(Fit::No));
    }
}
