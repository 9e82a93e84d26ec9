//! `gpu-session estimate MODEL --nodes 2 [--gpu TYPE]`: the model across two 8-GPU
//! instances, in both layouts (TP 16, PP 2 × TP 8), next to one instance of the type.

use crate::cli::{EstimateArgs, ModeArg};
use crate::context::Context;
use crate::estimates::sizing::{fit_json, settings_from, ModelJson, Sizing};
use crate::estimates::two_nodes;
use anyhow::anyhow;
use gpu_session_core::gpu::{GpuType, CATALOG};
use gpu_session_core::multi_node::{check_two_node_gpu, two_nodes, GPUS_PER_NODE};
use gpu_session_core::registry::Model;
use gpu_session_core::settings::Settings;
use gpu_session_core::speed::Workload;
use std::process::ExitCode;

pub fn run(
    ctx: &Context,
    args: &EstimateArgs,
    model: &Model,
    gpu: Option<&'static GpuType>,
) -> anyhow::Result<ExitCode> {
    if matches!(args.settings.mode, Some(ModeArg::Reference)) {
        return Err(crate::usage_error_in(
            &["estimate"],
            "--nodes 2 sizes the serving estimate: drop --mode reference",
        ));
    }
    let settings = settings_from(model, &args.settings)?;
    // The workload the flags name (--seqs, --input-tokens, --output-tokens, --rate).
    let workload = settings.workload();
    let gpu = match gpu {
        Some(g) => {
            check_two_node_gpu(g).map_err(|e| anyhow!("--{e}"))?;
            g
        }
        None => default_gpu(model, &settings, &workload),
    };
    let estimate = two_nodes(model, &settings, gpu, &workload).map_err(|e| anyhow!("--{e}"))?;
    let sizing = Sizing::new(model, &args.settings, Some(gpu))?;
    let single = sizing.rec.row(gpu.instance_type);
    if args.json {
        let mut value = two_nodes::to_json(&estimate);
        if let Some(map) = value.as_object_mut() {
            map.insert("model".into(), serde_json::to_value(ModelJson::new(model))?);
            map.insert(
                "settings".into(),
                serde_json::to_value(sizing.rec.settings)?,
            );
            map.insert(
                "single_instance".into(),
                single.map_or(serde_json::Value::Null, fit_json),
            );
        }
        ctx.printer.json(&value)?;
    } else {
        let color = ctx.printer.color();
        let text = format!(
            "{}\n{}",
            sizing.render_heading(color),
            two_nodes::render(&estimate, single, color)
        );
        ctx.printer.out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Without `--gpu`: the cheapest offered 8-GPU type on which a layout fits, else the one
/// with the most memory (to show why not).
fn default_gpu(model: &Model, settings: &Settings, workload: &Workload) -> &'static GpuType {
    let mut eight: Vec<&'static GpuType> = CATALOG
        .iter()
        .filter(|g| g.offered && g.gpu_count == GPUS_PER_NODE && g.unsupported_reason().is_none())
        .collect();
    eight.sort_by_key(|g| g.price_cents_per_hour);
    eight
        .iter()
        .copied()
        .find(|g| two_nodes(model, settings, g, workload).is_ok_and(|e| e.recommended.is_some()))
        .or_else(|| eight.iter().copied().max_by_key(|g| g.memory_mib))
        .unwrap_or(&CATALOG[0])
}
