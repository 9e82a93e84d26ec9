//! Sorting the GPU table by any column.

use gpu_session_core::recommend::{Fit, GpuFit};
use gpu_session_core::speed::Speed;
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
    Ttft,
    Tpot,
    TokensPerS,
    TokensPerUser,
    PricePerHour,
    PricePerMillion,
    PricePerMillionInput,
}

impl Column {
    /// Every column, left to right.
    pub const ALL: [Column; 13] = [
        Column::Gpu,
        Column::Memory,
        Column::Fit,
        Column::Headroom,
        Column::KvPool,
        Column::MaxContext,
        Column::Ttft,
        Column::Tpot,
        Column::TokensPerS,
        Column::TokensPerUser,
        Column::PricePerHour,
        Column::PricePerMillion,
        Column::PricePerMillionInput,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Column::Gpu => "Instance type",
            Column::Memory => "Memory",
            Column::Fit => "Fit",
            Column::Headroom => "Headroom",
            Column::KvPool => "KV pool",
            Column::MaxContext => "Longest context",
            Column::Ttft => "TTFT (ms)",
            Column::Tpot => "TPOT (ms)",
            Column::TokensPerS => "Output tokens/s",
            Column::TokensPerUser => "Output tokens/s per user",
            Column::PricePerHour => "$/hour",
            Column::PricePerMillion => "$/1M output tokens",
            Column::PricePerMillionInput => "$/1M input tokens",
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
            Column::Ttft => "ttft",
            Column::Tpot => "tpot",
            Column::TokensPerS => "tps",
            Column::TokensPerUser => "tps-user",
            Column::PricePerHour => "price",
            Column::PricePerMillion => "per-million",
            Column::PricePerMillionInput => "per-million-in",
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
                | Column::TokensPerUser
        )
    }

    /// What a speed column is measured over, before the workload's basis ("at 32
    /// concurrent 1k/1k requests"); `None` for the columns the workload does not set.
    pub fn basis(self) -> Option<&'static str> {
        match self {
            Column::Ttft | Column::Tpot => Some("mean per request"),
            Column::TokensPerS => Some("whole instance"),
            Column::TokensPerUser => Some("one request while it decodes"),
            Column::PricePerMillion | Column::PricePerMillionInput => Some("one instance"),
            _ => None,
        }
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
            Column::Ttft => "Time to first token, milliseconds, mean per request at the workload",
            Column::Tpot => "Time per output token after the first, milliseconds, mean per request at the workload",
            Column::TokensPerS => "Output tokens/s of the whole instance at the workload (! : the rate is more than it completes)",
            Column::TokensPerUser => "Output tokens/s one request sees while it decodes (1000 / TPOT)",
            Column::PricePerHour => "On-demand price of the instance",
            Column::PricePerMillion => "Dollars per million output tokens at the workload: the price's share of decode time",
            Column::PricePerMillionInput => "Dollars per million input tokens at the workload: the price's share of prefill time",
        }
    }
}

/// The manual's chapter of formulas, relative to the site's root (the Pages workflow
/// publishes the book under `book/`).
pub const FORMULAS: &str = "book/estimates.html";

/// The anchors in [`FORMULAS`] of the memory breakdown's parts, in the order
/// `MemoryBreakdown::parts` stacks them (weights, KV cache, activations, overhead).
pub const PART_FORMULAS: [&str; 4] = ["weights", "kv-cache", "activations", "overhead"];

/// The anchor in [`FORMULAS`] of how the service-level column is chosen.
pub const SERVICE_LEVEL_FORMULA: &str = "choosing-by-service-level";

impl Column {
    /// The anchor of the column's formula in [`FORMULAS`].
    pub fn formula(self) -> &'static str {
        match self {
            Column::Gpu | Column::Memory => "the-gpu-catalog",
            Column::Fit => "fit",
            Column::Headroom => "headroom",
            Column::KvPool => "kv-pool",
            Column::MaxContext => "longest-context-and-most-sequences",
            Column::Ttft
            | Column::Tpot
            | Column::TokensPerS
            | Column::TokensPerUser
            | Column::PricePerMillion
            | Column::PricePerMillionInput => "decode-speed",
            Column::PricePerHour => "price-and-cost",
        }
    }
}

fn compare(a: &GpuFit, b: &GpuFit, column: Column) -> Ordering {
    match column {
        Column::Gpu => a.gpu.instance_type.cmp(b.gpu.instance_type),
        Column::Memory => (a.gpu.total_nominal_gb(), a.gpu.gpu_count)
            .cmp(&(b.gpu.total_nominal_gb(), b.gpu.gpu_count)),
        Column::Fit => a.fit.rank().cmp(&b.fit.rank()),
        Column::Headroom => a.headroom_bytes.cmp(&b.headroom_bytes),
        Column::KvPool => a.kv_pool_tokens.cmp(&b.kv_pool_tokens),
        Column::MaxContext => a.max_context.cmp(&b.max_context),
        Column::Ttft => a.speed.ttft_ms.total_cmp(&b.speed.ttft_ms),
        Column::Tpot => a.speed.tpot_ms.total_cmp(&b.speed.tpot_ms),
        Column::TokensPerS => a
            .speed
            .output_tokens_per_s
            .total_cmp(&b.speed.output_tokens_per_s),
        Column::TokensPerUser => a
            .speed
            .output_tokens_per_s_per_user
            .total_cmp(&b.speed.output_tokens_per_s_per_user),
        Column::PricePerHour => a.gpu.price_cents_per_hour.cmp(&b.gpu.price_cents_per_hour),
        Column::PricePerMillion => a
            .speed
            .usd_per_million_output_tokens
            .total_cmp(&b.speed.usd_per_million_output_tokens),
        Column::PricePerMillionInput => a
            .speed
            .usd_per_million_input_tokens
            .total_cmp(&b.speed.usd_per_million_input_tokens),
    }
}

/// A throughput marked `!` when the rate is more than the instance completes (the CLI's
/// mark).
pub fn saturated(text: String, speed: &Speed) -> String {
    if speed.saturated {
        format!("{text}!")
    } else {
        text
    }
}

/// Whether a row has speed figures to show and sort: a row that does not run has none
/// (the table shows "-", as the CLI does).
pub fn runs(row: &GpuFit) -> bool {
    row.fit != Fit::No
}

/// Row indices in display order: catalog order without a column, ties keep it too.
pub fn order(rows: &[GpuFit], column: Option<Column>, descending: bool) -> Vec<usize> {
    let Some(column) = column else {
        return (0..rows.len()).collect();
    };
    let mut idx: Vec<usize> = (0..rows.len()).collect();
    // Rows without speed figures go last either way when sorting by speed.
    let last = |i: usize| column.basis().is_some() && !runs(&rows[i]);
    idx.sort_by(|&i, &j| {
        let o = compare(&rows[i], &rows[j], column);
        let o = if descending { o.reverse() } else { o };
        last(i).cmp(&last(j)).then(o).then(i.cmp(&j))
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
        for anchor in anchors
            .iter()
            .chain(&PART_FORMULAS)
            .chain(&[SERVICE_LEVEL_FORMULA])
        {
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
                    let speed = column.basis().is_some();
                    if speed && runs(&r[w[0]]) != runs(&r[w[1]]) {
                        assert!(
                            runs(&r[w[0]]),
                            "{column:?}: a row that runs after one that does not"
                        );
                        continue;
                    }
                    let c = compare(&r[w[0]], &r[w[1]], column);
                    let c = if descending { c.reverse() } else { c };
                    assert_ne!(c, Ordering::Greater, "{column:?} {descending}");
                }
            }
        }
        let by_price = order(&r, Some(Column::PricePerHour), false);
        assert_eq!(r[by_price[0]].gpu.instance_type, "gpu_1x_rtx6000");
        // The cheapest per million output tokens first, and rows that do not run last.
        let per_million = order(&r, Some(Column::PricePerMillion), false);
        let first = &r[per_million[0]];
        assert!(runs(first));
        assert!(r
            .iter()
            .filter(|x| runs(x))
            .all(|x| x.speed.usd_per_million_output_tokens
                >= first.speed.usd_per_million_output_tokens));
        assert!(
            r.iter().any(|x| !runs(x)),
            "the 70B model runs not everywhere"
        );
        for descending in [false, true] {
            let o = order(&r, Some(Column::Tpot), descending);
            assert!(!runs(&r[*o.last().unwrap()]), "{descending}");
        }
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
            .map(|i| r[i].fit.rank())
            .collect();
        assert!(ranks.windows(2).all(|w| w[0] <= w[1]), "{ranks:?}");
        assert!(Fit::Tight.rank() < Fit::Queues.rank());
        assert!(Fit::Queues.rank() < Fit::No.rank());
    }
}
