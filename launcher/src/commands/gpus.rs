//! `gpu-session gpus`: the Lambda instance-type catalog; with `--model`, how that model
//! fits each type; with `--live`, prices and capacity from the Lambda API.

use crate::cli::{GpusArgs, ModeArg, SettingsArgs};
use crate::cloud::Cloud;
use crate::context::Context;
use crate::estimates::service_level;
use crate::estimates::sizing::{fit_json, memory_label, Sizing};
use crate::estimates::two_nodes;
use crate::output::{Align, Cell, Style, Table};
use gpu_session_core::gpu::{self, GpuType, CATALOG, OFFERED_AS_OF};
use gpu_session_core::multi_node::{self, TwoNodeEstimate};
use gpu_session_core::present;
use gpu_session_core::recommend::GpuFit;
use gpu_session_lambda::InstanceTypeAvailability;
use serde_json::{json, Value};
use std::fmt::Write as _;
use std::process::ExitCode;

pub fn run(ctx: &Context, args: GpusArgs) -> anyhow::Result<ExitCode> {
    if args.model.is_none() && (settings_given(&args.settings) || args.service_level.given()) {
        return Err(crate::usage_error_in(&["gpus"], 
            "--quantization, --context, --seqs, --input-tokens, --output-tokens, --rate, --kv-dtype, --tp, --mode, --mem-fraction-static, --ttft-max and --tpot-max size a model: add --model ID",
        ));
    }
    let targets = service_level::targets(&args.settings, &args.service_level, &["gpus"])?;
    if targets.is_some() && args.live {
        return Err(crate::usage_error_in(
            &["gpus"],
            "--ttft-max and --tpot-max choose from the catalog's prices: drop --live",
        ));
    }
    let model = args
        .model
        .as_deref()
        .map(|id| ctx.find_model(id))
        .transpose()?;
    let sizing = model
        .as_ref()
        .map(|m| Sizing::new(m, &args.settings, None))
        .transpose()?;
    if args.live {
        return live(ctx, sizing.as_ref(), args.json);
    }
    let color = ctx.printer.color();
    let options = sizing
        .as_ref()
        .map_or_else(Vec::new, |s| two_node_options(s, &args.settings));
    let level = match (&model, &sizing, &targets) {
        (Some(m), Some(s), Some(t)) => Some(service_level::choose(m, &s.rec, t)),
        _ => None,
    };
    match (&sizing, args.json) {
        (Some(s), true) => {
            let mut value = s.to_json()?;
            if let Some(map) = value.as_object_mut() {
                let rows: Vec<Value> = options.iter().map(two_nodes::to_json).collect();
                map.insert("two_node_options".into(), json!(rows));
                if let Some(level) = &level {
                    map.insert("service_level".into(), service_level::to_json(level)?);
                }
            }
            ctx.printer.json(&value)?;
        }
        (Some(s), false) => {
            let mut text = format!("{}\n{}", s.render_heading(color), s.render_fit(color));
            if !options.is_empty() {
                text.push('\n');
                text.push_str(&two_nodes::render_options(&s.model.id, &options, color));
            }
            if let Some(level) = &level {
                text.push('\n');
                text.push_str(&service_level::render(level, color));
            }
            ctx.printer.out(&text)?;
        }
        (None, true) => ctx.printer.json(&catalog_json())?,
        (None, false) => ctx.printer.out(&render_catalog(color))?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Two instances of an 8-GPU type, where cheaper than one instance or the only fit (core's
/// rule). Only for the serving estimate at SGLang's own pool sizing: a `--mode reference`
/// or `--mem-fraction-static` table has no two-node counterpart.
fn two_node_options(sizing: &Sizing, args: &SettingsArgs) -> Vec<TwoNodeEstimate> {
    if args.mode.is_some_and(|m| m == ModeArg::Reference) || args.mem_fraction_static.is_some() {
        return Vec::new();
    }
    let settings = &sizing.rec.settings;
    multi_node::two_node_options(sizing.model, settings, &sizing.rec, &settings.workload())
}

fn settings_given(s: &SettingsArgs) -> bool {
    s.quantization.is_some()
        || s.context.is_some()
        || s.seqs.is_some()
        || s.input_tokens.is_some()
        || s.output_tokens.is_some()
        || s.rate.is_some()
        || s.kv_dtype.is_some()
        || s.tp.is_some()
        || s.mode.is_some()
        || s.mem_fraction_static.is_some()
}

fn render_catalog(color: bool) -> String {
    let mut table = Table::new(&[
        ("TYPE", Align::Left),
        ("GPU", Align::Left),
        ("MEMORY", Align::Right),
        ("BANDWIDTH", Align::Right),
        ("FP8", Align::Left),
        ("$/H", Align::Right),
        ("PRICE AS OF", Align::Left),
        ("ON DEMAND", Align::Left),
    ]);
    for g in CATALOG {
        table.row(vec![
            Cell::styled(g.instance_type, Style::Bold),
            g.gpu.into(),
            memory_label(g).into(),
            format!("{} GB/s", present::thousands(u64::from(g.bandwidth_gbps))).into(),
            if g.fp8_tensor_cores() { "yes" } else { "no" }.into(),
            present::usd(g.price_per_hour_usd()).into(),
            g.price_as_of.into(),
            if g.offered {
                "yes".into()
            } else {
                Cell::styled("no", Style::Dim)
            },
        ]);
    }
    let mut out = table.render(color);
    let _ = writeln!(
        out,
        "\nMEMORY and BANDWIDTH are per GPU (nominal GB; estimates use what the driver reports).\n$/H is the on-demand price of the whole instance. Live prices and capacity: gpu-session gpus --live\nON DEMAND: in Lambda's on-demand list as of {OFFERED_AS_OF}; types marked no stay so old plans and links resolve, and are never recommended.\nHow a model fits each type: gpu-session gpus --model ID"
    );
    out
}

/// Every catalog type as JSON: core's fields (price, its date, `offered`, datasheet
/// peaks) plus the derived FP8 flag and CPU architecture.
fn catalog_json() -> Value {
    CATALOG
        .iter()
        .map(|g| {
            let mut row = json!(g);
            if let Some(map) = row.as_object_mut() {
                map.insert("fp8_tensor_cores".into(), json!(g.fp8_tensor_cores()));
                map.insert("cpu_architecture".into(), json!(g.cpu_architecture()));
                map.insert("offered_as_of".into(), json!(OFFERED_AS_OF));
            }
            row
        })
        .collect()
}

/// Prices and capacity now, from `GET /instance-types`.
fn live(ctx: &Context, sizing: Option<&Sizing>, json: bool) -> anyhow::Result<ExitCode> {
    let cloud = Cloud::connect(ctx)?;
    let types = cloud.block_on(cloud.client.list_instance_types())?;
    let mut offers: Vec<&InstanceTypeAvailability> = types.values().collect();
    offers.sort_by_key(|t| {
        (
            t.instance_type.price_cents_per_hour,
            t.instance_type.name.clone(),
        )
    });
    let fit_of = |name: &str| sizing.and_then(|s| s.rec.row(gpu::find(name)?.instance_type));
    if json {
        let rows: Vec<Value> = offers
            .iter()
            .map(|t| live_json(t, fit_of(&t.instance_type.name)))
            .collect();
        ctx.printer.json(&rows)?;
    } else {
        let color = ctx.printer.color();
        let mut text = sizing.map_or(String::new(), |s| s.render_heading(color) + "\n");
        text.push_str(&render_live(&offers, sizing.is_some(), &fit_of, color));
        ctx.printer.out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn regions(t: &InstanceTypeAvailability) -> Vec<&str> {
    t.regions_with_capacity_available
        .iter()
        .map(|r| r.name.as_str())
        .collect()
}

fn render_live<'a>(
    offers: &[&InstanceTypeAvailability],
    with_fit: bool,
    fit_of: &dyn Fn(&str) -> Option<&'a GpuFit>,
    color: bool,
) -> String {
    let mut headers = vec![
        ("TYPE", Align::Left),
        ("GPU", Align::Left),
        ("$/H NOW", Align::Right),
        ("CATALOG", Align::Right),
    ];
    if with_fit {
        headers.push(("FIT", Align::Left));
    }
    headers.push(("REGIONS WITH CAPACITY", Align::Left));
    let mut table = Table::new(&headers);
    for t in offers {
        let it = &t.instance_type;
        let catalog: Option<&GpuType> = gpu::find(&it.name);
        let mut cells = vec![
            Cell::styled(it.name.as_str(), Style::Bold),
            it.gpu_description.as_str().into(),
            present::usd(it.price_cents_per_hour as f64 / 100.0).into(),
            catalog
                .map_or("-".into(), |g| present::usd(g.price_per_hour_usd()))
                .into(),
        ];
        if with_fit {
            cells.push(fit_of(&it.name).map_or("?".into(), |r| r.fit.as_str().into()));
        }
        let available = regions(t);
        cells.push(if available.is_empty() {
            Cell::styled("sold out", Style::Dim)
        } else {
            available.join(", ").into()
        });
        table.row(cells);
    }
    let mut out = table.render(color);
    let _ = writeln!(
        out,
        "\n$/H NOW is Lambda's current on-demand price; CATALOG is the dated snapshot estimates use (gpu-session gpus).{}",
        if with_fit { " FIT '?' marks types the catalog does not know." } else { "" }
    );
    out
}

fn live_json(t: &InstanceTypeAvailability, fit: Option<&GpuFit>) -> Value {
    let it = &t.instance_type;
    let catalog = gpu::find(&it.name);
    json!({
        "instance_type": it.name,
        "description": it.description,
        "gpu_description": it.gpu_description,
        "gpus": it.specs.gpus,
        "price_per_hour_usd": it.price_cents_per_hour as f64 / 100.0,
        "catalog_price_per_hour_usd": catalog.map(GpuType::price_per_hour_usd),
        "catalog_price_as_of": catalog.map(|g| g.price_as_of),
        "regions_with_capacity": regions(t),
        "fit": fit.map(fit_json),
    })
}
