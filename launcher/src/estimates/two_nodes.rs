//! One model across two instances, as `estimate --nodes 2` and `gpus --model` show it:
//! the layouts table, the stage split, and their JSON. Every number comes from
//! gpu-session-core's `multi_node`; this module only formats.

use crate::estimates::sizing::fit_style;
use crate::output::{wrap, Align, Cell, Style, Table, PROSE_WIDTH};
use gpu_session_core::decimal::Fixed;
use gpu_session_core::gpu::in_gib;
use gpu_session_core::multi_node::{Layout, LayoutEstimate, TwoNodeEstimate, MAX_NODES};
use gpu_session_core::present;
use gpu_session_core::recommend::{Fit, GpuFit};
use serde_json::{json, Value};
use std::fmt::Write as _;

fn fit_cell(fit: Fit) -> Cell {
    Cell::styled(fit.as_str(), fit_style(fit))
}

/// `28 KiB` or `3.3 MB`.
fn traffic(bytes: u64) -> String {
    if bytes >= 1_000_000 {
        format!("{} MB", Fixed::<1>(bytes as f64 / 1e6))
    } else {
        format!("{} KiB", Fixed::<0>(bytes as f64 / 1024.0))
    }
}

fn ms(x: f64) -> String {
    format!("{} ms", present::milliseconds(x))
}

/// `10 Gbit/s`.
fn gbit(bits_per_s: f64) -> String {
    format!("{} Gbit/s", Fixed::<0>(bits_per_s / 1e9))
}

/// Both layouts on two instances of one type, the stages, and the recommendation;
/// `single` is the one-instance row of the same type, for comparison.
pub fn render(estimate: &TwoNodeEstimate, single: Option<&GpuFit>, color: bool) -> String {
    let mut out = format!(
        "{} {MAX_NODES}x {} ({} GPUs), {}/h for both instances\n",
        Style::Bold.paint("Two nodes:", color),
        estimate.instance_type,
        estimate.gpus,
        present::usd(estimate.price_per_hour_usd),
    );
    out.push_str(&layouts_table(estimate, color));
    for line in notes(estimate, single) {
        for wrapped in wrap(&line, PROSE_WIDTH) {
            let _ = writeln!(out, "  {wrapped}");
        }
    }
    out
}

/// One row per layout, the recommended one marked.
fn layouts_table(estimate: &TwoNodeEstimate, color: bool) -> String {
    let mut table = Table::new(&[
        ("", Align::Left),
        ("LAYOUT", Align::Left),
        ("FIT", Align::Left),
        ("NEED/GPU", Align::Right),
        ("HEADROOM", Align::Right),
        ("KV POOL", Align::Right),
        ("CROSS-NODE/TOKEN", Align::Right),
        ("CROSSINGS", Align::Right),
        ("TTFT", Align::Right),
        ("TPOT", Align::Right),
        ("TOK/S", Align::Right),
    ])
    .indent(2);
    for l in &estimate.layouts {
        let marker = if Some(l.layout) == estimate.recommended {
            Cell::styled("*", Style::Green)
        } else {
            Cell::default()
        };
        table.row(vec![
            marker,
            l.layout.label().into(),
            fit_cell(l.fit),
            present::gib(l.per_gpu_bytes).into(),
            present::signed_gib(l.headroom_bytes).into(),
            present::thousands(l.kv_pool_tokens).into(),
            traffic(l.cross_node_bytes_per_token).into(),
            l.cross_node_crossings_per_step.to_string().into(),
            ms(l.speed.ttft_ms).into(),
            ms(l.speed.tpot_ms).into(),
            present::tokens_per_s(l.speed.output_tokens_per_s).into(),
        ]);
    }
    table.render(color)
}

/// The sentences under the table: the stages, the single instance, the basis and the
/// recommendation.
fn notes(estimate: &TwoNodeEstimate, single: Option<&GpuFit>) -> Vec<String> {
    let mut lines = Vec::new();
    if let Some(pp) = estimate.layout(Layout::Pp2Tp8) {
        lines.push(stages_sentence(pp));
    }
    if let Some(row) = single {
        lines.push(format!(
            "One {} alone: {}, {}.",
            row.gpu.instance_type,
            row.fit.as_str(),
            row.reason
        ));
    }
    lines.push(format!(
        "NEED/GPU is the fuller stage's; CROSS-NODE/TOKEN and CROSSINGS are per forward pass. Speed at {}, the traffic between the nodes charged at {} Ethernet with {} µs per crossing (Lambda documents up to {} between instances in us-west-3 and us-south-1; only a real run measures it).",
        estimate.workload.basis(),
        gbit(estimate.inter_node_bits_per_s),
        Fixed::<0>(estimate.crossing_latency_s * 1e6),
        gbit(estimate.inter_node_optimistic_bits_per_s),
    ));
    lines.push(match estimate.recommended {
        Some(_) => format!("* Recommended: {}.", estimate.recommendation),
        None => format!("{}.", capitalised(&estimate.recommendation)),
    });
    lines
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// "PP 2 × TP 8: stage 0 (node 0) layers 0–29 and the embedding, 37.0 GiB of weights per
/// GPU; stage 1 ...".
fn stages_sentence(pp: &LayoutEstimate) -> String {
    let stages: Vec<String> = pp
        .stages
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let ends = match (s.holds_embedding, s.holds_lm_head) {
                (true, true) => " with the embedding and lm_head",
                (true, false) => " with the embedding",
                (false, true) => " with the lm_head",
                (false, false) => "",
            };
            format!(
                "stage {i} (node {}) holds layers {}–{}{ends}: {} of weights and {} bytes of KV per token on each GPU",
                s.node_ranks.first().copied().unwrap_or(0),
                s.first_layer,
                s.end_layer.saturating_sub(1),
                present::gib(s.serving.weights),
                present::thousands(s.serving.kv_bytes_per_token),
            )
        })
        .collect();
    format!("PP 2 × TP 8: {}.", stages.join("; "))
}

/// One layout as JSON: core's own serialization, plus the headline figures flat with
/// their units in the name.
fn layout_json(l: &LayoutEstimate) -> Value {
    let mut value = json!(l);
    if let Some(map) = value.as_object_mut() {
        map.insert("fits".into(), json!(l.fit != Fit::No));
        map.insert(
            "per_gpu_gib".into(),
            json!((in_gib(l.per_gpu_bytes) * 10.0).round() / 10.0),
        );
        map.insert("ttft_ms".into(), json!(l.speed.ttft_ms));
        map.insert("tpot_ms".into(), json!(l.speed.tpot_ms));
        map.insert(
            "output_tokens_per_s".into(),
            json!(l.speed.output_tokens_per_s),
        );
    }
    value
}

/// The whole estimate as JSON (`estimate --nodes 2 --json`, `gpus --model --json`).
pub fn to_json(estimate: &TwoNodeEstimate) -> Value {
    let mut value = json!(estimate);
    if let Some(map) = value.as_object_mut() {
        map.insert(
            "layouts".into(),
            estimate.layouts.iter().map(layout_json).collect(),
        );
    }
    value
}

/// The two-node options of `gpus --model`: cheaper than any single instance that fits,
/// or the only fit. Each is two instances, billed together.
pub fn render_options(model_id: &str, options: &[TwoNodeEstimate], color: bool) -> String {
    let mut out = format!(
        "{} {}\n",
        Style::Bold.paint("Two instances", color),
        "(one model across two nodes, both billed; cheaper than the cheapest single fit, or the only fit)"
    );
    let mut table = Table::new(&[
        ("TYPE", Align::Left),
        ("LAYOUT", Align::Left),
        ("FIT", Align::Left),
        ("NEED/GPU", Align::Right),
        ("KV POOL", Align::Right),
        ("TPOT", Align::Right),
        ("TOK/S", Align::Right),
        ("$/H BOTH", Align::Right),
    ]);
    for o in options {
        let Some(l) = o.recommended_layout() else {
            continue;
        };
        table.row(vec![
            Cell::styled(format!("{MAX_NODES}x {}", o.instance_type), Style::Bold),
            l.layout.label().into(),
            fit_cell(l.fit),
            present::gib(l.per_gpu_bytes).into(),
            present::thousands(l.kv_pool_tokens).into(),
            ms(l.speed.tpot_ms).into(),
            present::tokens_per_s(l.speed.output_tokens_per_s).into(),
            present::usd(o.price_per_hour_usd).into(),
        ]);
    }
    out.push_str(&table.render(color));
    if let Some(first) = options.first() {
        let _ = writeln!(
            out,
            "Speed at {}, the traffic between the nodes at {} Ethernet. Details: gpu-session estimate {model_id} --nodes 2 --gpu {}",
            first.workload.basis(),
            gbit(first.inter_node_bits_per_s),
            first.instance_type,
        );
    }
    out
}
