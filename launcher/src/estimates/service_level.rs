//! Choosing by service level from the flags (`--ttft-max`, `--tpot-max` with `--rate`),
//! shared by `gpus --model` and `plan`: the targets, the table and its JSON. The choice
//! itself is core's (`service_level::choose_from`).

use crate::cli::{ServiceLevelArgs, SettingsArgs};
use crate::estimates::sizing::sorted_json;
use crate::output::{wrap, Align, Cell, Style, Table, PROSE_WIDTH};
use gpu_session_core::present;
use gpu_session_core::recommend::Recommendation;
use gpu_session_core::registry::Model;
use gpu_session_core::service_level::{choose_from, ServiceLevel, Targets};
use serde_json::Value;
use std::fmt::Write as _;

/// The targets the flags name, or `None` without `--ttft-max` / `--tpot-max`; a target
/// without `--rate` is a usage error of the subcommand at `path`.
pub fn targets(
    settings: &SettingsArgs,
    slo: &ServiceLevelArgs,
    path: &[&str],
) -> anyhow::Result<Option<Targets>> {
    if !slo.given() {
        return Ok(None);
    }
    let Some(rate) = settings.rate else {
        return Err(crate::usage_error_in(
            path,
            "--ttft-max and --tpot-max choose by service level at a request rate: add --rate R (requests per second)",
        ));
    };
    Ok(Some(Targets {
        ttft_max_ms: slo.ttft_max,
        tpot_max_ms: slo.tpot_max,
        rate,
    }))
}

/// Every offered type the model runs on, at the targets.
pub fn choose(model: &Model, rec: &Recommendation, targets: &Targets) -> ServiceLevel {
    choose_from(model, rec, targets)
}

/// The service-level table: one row per offered type the model runs on.
pub fn render(level: &ServiceLevel, color: bool) -> String {
    let mut out = format!(
        "{} {}\n",
        Style::Bold.paint("Service level", color),
        format_args!("({}; * = cheapest)", level.targets_sentence())
    );
    let mut table = Table::new(&[
        ("", Align::Left),
        ("TYPE", Align::Left),
        ("TP", Align::Right),
        ("REPLICAS", Align::Right),
        ("MAX REQS/REPLICA", Align::Right),
        ("REQ/S/REPLICA", Align::Right),
        ("TTFT MS", Align::Right),
        ("TPOT MS", Align::Right),
        ("$/H ALL", Align::Right),
        ("$/1M OUT", Align::Right),
        ("BINDS", Align::Left),
    ]);
    for (i, row) in level.rows.iter().enumerate() {
        let marker = if level.cheapest == Some(i) {
            Cell::styled("*", Style::Green)
        } else {
            Cell::default()
        };
        let if_meets = |text: String| if row.meets { text } else { "-".to_string() };
        table.row(vec![
            marker,
            row.gpu.instance_type.into(),
            row.tp.to_string().into(),
            if_meets(row.replicas.to_string()).into(),
            if_meets(row.concurrency_per_replica.to_string()).into(),
            if_meets(present::tokens_per_s(row.max_rate_per_replica)).into(),
            present::milliseconds(row.speed.ttft_ms).into(),
            present::milliseconds(row.speed.tpot_ms).into(),
            if_meets(present::usd(row.usd_per_hour)).into(),
            if_meets(present::usd_fine(row.speed.usd_per_million_output_tokens)).into(),
            row.binding.as_str().into(),
        ]);
    }
    out.push_str(&table.render(color));
    let notes = [
        "TTFT and TPOT are per request (mean) at each replica's share of the rate (for a type that cannot meet the targets: at the concurrency that fails). MAX REQS/REPLICA is the most requests one replica runs at once within the targets (its --max-running-requests); $/H ALL is all replicas; $/1M OUT is per million output tokens. BINDS: memory (the KV pool or nothing fits), ttft or tpot (one more request at once would break it), rate (more than 16 replicas).".to_string(),
        level.sentence(),
    ];
    for note in notes {
        for line in wrap(&note, PROSE_WIDTH) {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// The service level as JSON: core's own serialization (rows name their instance type).
pub fn to_json(level: &ServiceLevel) -> anyhow::Result<Value> {
    sorted_json(level)
}
