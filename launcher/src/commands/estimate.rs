//! `gpu-session estimate`: size a model (known, from the Hub with `--hf`, or ad hoc
//! from `--params`) for the
//! settings the flags ask for; the sizing itself is [`crate::estimates::sizing`].

use crate::cli::EstimateArgs;
use crate::context::Context;
use crate::estimates::model_flags::{architecture_from, entry_error};
use crate::estimates::sizing::{find_gpu, Sizing};
use crate::hub::hf_model;
use gpu_session_core::config::CustomModelEntry;
use gpu_session_core::registry::{Model, CUSTOM_DEFAULT_CONTEXT, CUSTOM_DEFAULT_QUANTIZATION};
use std::process::ExitCode;

/// Id of the model `estimate --params` describes.
const AD_HOC_ID: &str = "ad-hoc";

pub fn run(ctx: &Context, args: EstimateArgs) -> anyhow::Result<ExitCode> {
    let gpu = args.gpu.as_deref().map(find_gpu).transpose()?;
    let model = estimate_model(ctx, &args)?;
    if args.nodes == Some(2) {
        return super::estimate_nodes::run(ctx, &args, &model, gpu);
    }
    let sizing = Sizing::new(&model, &args.settings, gpu)?;
    if args.json {
        ctx.printer.json(&sizing.to_json()?)?;
    } else {
        let color = ctx.printer.color();
        let text = [
            sizing.render_heading(color),
            sizing.render_memory(color),
            sizing.render_fit(color),
        ]
        .join("\n");
        ctx.printer.out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The model an `estimate` sizes: a known id, an ad-hoc `--params` model, or the default.
fn estimate_model(ctx: &Context, args: &EstimateArgs) -> anyhow::Result<Model> {
    if let Some(params) = args.params {
        return ad_hoc_model(args, params);
    }
    if architecture_from(&args.arch, CUSTOM_DEFAULT_CONTEXT, &["estimate"])?.is_some() {
        return Err(crate::usage_error_in(
            &["estimate"],
            "architecture flags describe an ad-hoc model: use them with --params, not a model id or --hf",
        ));
    }
    if let Some(repo) = &args.hf {
        return hf_model::model(&ctx.printer, repo, args.settings.context);
    }
    match &args.model {
        Some(id) => ctx.find_model(id),
        None => ctx.default_model(),
    }
}

fn ad_hoc_model(args: &EstimateArgs, params: f64) -> anyhow::Result<Model> {
    let quantization = args
        .settings
        .quantization
        .unwrap_or(CUSTOM_DEFAULT_QUANTIZATION);
    let context = args.settings.context.unwrap_or(CUSTOM_DEFAULT_CONTEXT);
    let entry = CustomModelEntry {
        name: Some(format!("Ad-hoc {params}B model")),
        architecture: architecture_from(&args.arch, context, &["estimate"])?,
        ..CustomModelEntry::new("ad-hoc/model", params, quantization, context)
    };
    entry
        .validate(AD_HOC_ID)
        .map_err(|e| entry_error(&e, AD_HOC_ID))?;
    Ok(Model::custom(AD_HOC_ID, &entry))
}
