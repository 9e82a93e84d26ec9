//! `gpu-session plan`: write a launch plan (core's `Plan`, byte-identical to the site's
//! for the same choices), and `plan check`: validate one and show what it will launch.

use crate::cli::{ModeArg, PlanArgs, PlanCheckArgs, PlanCommand};
use crate::config_file;
use crate::context::Context;
use crate::estimates::service_level;
use crate::estimates::sizing::{find_gpu, settings_from, workload_sentence};
use crate::instance::cloud_init;
use crate::output::{Align, Cell, Style, Table};
use anyhow::{anyhow, Context as _};
use gpu_session_core::decimal;
use gpu_session_core::gpu::GpuType;
use gpu_session_core::plan::{Group, Plan, PlanChoices, PlanEstimate, PlanRequest};
use gpu_session_core::present;
use gpu_session_core::recommend::recommend_at;
use gpu_session_core::recommend::{Fit, GpuFit};
use gpu_session_core::registry::Model;
use gpu_session_core::service_level::Targets;
use gpu_session_core::settings::{EstimateMode, Settings};
use gpu_session_core::validate;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;

/// Permissions of a written plan file: it holds no secrets.
const PLAN_MODE: u32 = 0o644;

pub fn run(ctx: &Context, args: PlanArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        Some(PlanCommand::Check(check_args)) => check(ctx, &check_args),
        None => write(ctx, &args),
    }
}

// ---------------------------------------------------------------------------------
// plan (write)

fn write(ctx: &Context, args: &PlanArgs) -> anyhow::Result<ExitCode> {
    reject_flags(args)?;
    let model = match (&args.model, &args.hf) {
        (_, Some(repo)) => crate::hub::hf_model::model(&ctx.printer, repo, args.settings.context)?,
        (Some(id), None) => ctx.find_model(id)?,
        (None, None) => ctx.default_model()?,
    };
    let targets = service_level::targets(&args.settings, &args.service_level, &["plan"])?;
    if targets.is_some() && args.gpu.is_some() {
        return Err(crate::usage_error_in(
            &["plan"],
            "--ttft-max and --tpot-max choose the instance type: drop --gpu, or the targets",
        ));
    }
    let mut settings = settings_from(&model, &args.settings)?;
    let mut chosen_gpu = args.gpu.as_deref().map(find_gpu).transpose()?;
    let mut choice_note = None;
    let mut replicas = args.replicas.unwrap_or(1);
    if let Some(targets) = &targets {
        let choice = choose_by_service_level(&model, settings, args, targets)?;
        chosen_gpu = Some(choice.gpu);
        settings = choice.per_replica;
        replicas = choice.replicas;
        choice_note = Some(choice.note);
    }
    let choices = plan_choices(ctx, args, chosen_gpu)?;
    let plan = build_plan(&model, settings, args, &choices, replicas)?;
    output_plan(ctx, args, &plan)?;
    if let Some(note) = choice_note {
        ctx.printer.note(&note);
    }
    let row = plan
        .evaluate()
        .map_err(|e| anyhow!("cannot evaluate the plan: {e}"))?;
    warn_about_fit(ctx, &row, &model.id, plan.serving.max_running_requests);
    Ok(ExitCode::SUCCESS)
}

/// Estimate flags that mean nothing to a plan: usage errors.
fn reject_flags(args: &PlanArgs) -> anyhow::Result<()> {
    if args.settings.mode == Some(ModeArg::Reference) {
        return Err(crate::usage_error_in(
            &["plan"],
            "--mode reference does not apply to plan: plans are sized with the serving estimate",
        ));
    }
    if args.settings.tp.is_some() {
        return Err(crate::usage_error_in(&["plan"], 
            "--tp does not apply to plan: a plan shards over all GPUs of its instance type; choose the type with --gpu",
        ));
    }
    Ok(())
}

/// The GPU, regions and lease the plan is built with: the flags, else the config file.
fn plan_choices(
    ctx: &Context,
    args: &PlanArgs,
    gpu: Option<&'static GpuType>,
) -> anyhow::Result<PlanChoices> {
    for region in &args.regions {
        validate::region("--region", region)?;
    }
    let config = ctx.config()?;
    let preferred_region = config.get("lambda.default_region");
    if let Some(region) = &preferred_region {
        validate::region("lambda.default_region", region)
            .map_err(|e| anyhow!("config file {}: {e}", config.path.display()))?;
    }
    Ok(PlanChoices {
        gpu,
        regions: args.regions.clone(),
        preferred_region,
        lease_hours: match args.lease_hours {
            Some(hours) => Some(hours),
            None => config.get_u32("defaults.lease_hours")?,
        },
        idle_minutes: args.idle_minutes,
    })
}

/// The plan for `model` at `settings`, with the group the flags ask for.
fn build_plan(
    model: &Model,
    settings: Settings,
    args: &PlanArgs,
    choices: &PlanChoices,
    replicas: u32,
) -> anyhow::Result<Plan> {
    let request = PlanRequest {
        mem_fraction_static: args.settings.mem_fraction_static,
        ..PlanRequest::resolve(model, settings, choices)?
    };
    let group = Group {
        replicas,
        min_replicas: args.min_replicas,
        nodes: args.nodes,
        // One pipeline stage per node: only the stage boundary crosses the Ethernet
        // between on-demand instances (issue 17).
        pipeline_parallel: args.pipeline_parallel.unwrap_or(args.nodes),
    };
    let plan = Plan::build(&request).map_err(|e| anyhow!("cannot build the plan: {e}"))?;
    // A group the flags cannot make (`--nodes 2` on a 1-GPU type) is a usage error.
    plan.with_group(group).map_err(|e| {
        crate::usage_error_in(&["plan"], format!("--replicas/--min-replicas/--nodes: {e}"))
    })
}

/// The plan as YAML or JSON, to `--output` (then a note) or standard output.
fn output_plan(ctx: &Context, args: &PlanArgs, plan: &Plan) -> anyhow::Result<()> {
    let text = if args.json {
        plan.to_json()
    } else {
        plan.to_yaml()
    }?;
    match &args.output {
        Some(path) => {
            config_file::write_atomic(path, text.as_bytes(), PLAN_MODE)
                .with_context(|| format!("cannot write plan file {}", path.display()))?;
            ctx.printer.note(&written_note(plan, path));
        }
        None => ctx.printer.out(&text)?,
    }
    Ok(())
}

/// What the service level chooses for a plan.
struct PlanChoice {
    gpu: &'static GpuType,
    /// The settings of one replica: the most requests it runs at once within the
    /// targets, and its share of the rate.
    per_replica: Settings,
    /// Replicas the rate needs: the plan's `gpu.replicas`.
    replicas: u32,
    /// What was chosen and why, for the user.
    note: String,
}

fn choose_by_service_level(
    model: &Model,
    settings: Settings,
    args: &PlanArgs,
    targets: &Targets,
) -> anyhow::Result<PlanChoice> {
    let rec = recommend_at(
        model,
        &settings,
        EstimateMode::Serving,
        None,
        args.settings.mem_fraction_static,
    );
    let level = service_level::choose(model, &rec, targets);
    let Some(choice) = level.choice() else {
        let why = level.sentence();
        return Err(anyhow!("{}", why.trim_end_matches('.')));
    };
    let share = targets.rate.per_s() / f64::from(choice.replicas);
    let per_replica = choice.per_replica(settings, targets.rate);
    // The sentence already says how many instances; this adds what each one runs.
    let each = if choice.replicas == 1 { "It" } else { "Each" };
    let note = format!(
        "{} {each} serves {} req/s with --max-running-requests {}.",
        level.sentence(),
        per_replica
            .rate
            .map_or_else(|| decimal::shortest(share), |r| r.to_string()),
        per_replica.seqs,
    );
    Ok(PlanChoice {
        gpu: choice.gpu,
        per_replica,
        replicas: choice.replicas,
        note,
    })
}

fn written_note(plan: &Plan, path: &Path) -> String {
    // The estimate's lease cost is the whole group's.
    let count = plan.gpu.instance_count();
    let cost = plan.estimate.as_ref().map_or(String::new(), |e| {
        let total = present::usd(e.lease_cost_usd);
        if count > 1 {
            format!(", at most {total} for its {count} instances")
        } else {
            format!(", at most {total}")
        }
    });
    format!(
        "Wrote {}: {} on {}, {} h lease{cost}. Check it with: gpu-session plan check {}",
        path.display(),
        plan.model.id,
        plan.gpu.instance_type,
        plan.lease.hours,
        path.display()
    )
}

fn warn_about_fit(ctx: &Context, row: &GpuFit, model_id: &str, seqs: u32) {
    if let Some(note) = row.gpu.availability_note() {
        ctx.printer.warn(&format!(
            "{} is {note}: launching it will likely find no capacity",
            row.gpu.instance_type
        ));
    }
    match row.fit {
        Fit::No => ctx.printer.warn(&format!(
            "{model_id} does not fit {} at these settings ({}); the plan is valid, but SGLang would fail to start",
            row.gpu.instance_type, row.reason
        )),
        Fit::Tight => ctx.printer.note(&format!(
            "note: {model_id} fits {} only tightly ({})",
            row.gpu.instance_type, row.reason
        )),
        Fit::Queues => ctx.printer.note(&format!(
            "note: on {}, {model_id} {} ({})",
            row.gpu.instance_type,
            row.fit.label(row.max_seqs, seqs),
            row.reason
        )),
        Fit::Fits => {}
    }
}

// ---------------------------------------------------------------------------------
// plan check

fn check(ctx: &Context, args: &PlanCheckArgs) -> anyhow::Result<ExitCode> {
    let path = &args.file;
    let plan = crate::plan_file::read(path)?;
    let in_file = |e: &dyn std::fmt::Display| anyhow!("{}: {e}", path.display());
    let rebuilt = plan.rebuild().map_err(|e| in_file(&e))?;
    let model = plan.resolve_model().map_err(|e| in_file(&e))?;
    let row = plan.evaluate().map_err(|e| in_file(&e))?;
    let differences = differences(&plan, &rebuilt);
    // Exactly the flags `launch` writes into user_data: one function builds both.
    let launch_args: Vec<String> = cloud_init::sglang_args(&plan)
        .map_err(|e| in_file(&e))?
        .lines()
        .map(str::to_owned)
        .collect();
    if args.json {
        ctx.printer.json(&json!({
            "file": path.display().to_string(),
            "valid": true,
            "plan": plan,
            "estimate": rebuilt.estimate,
            "fit_reason": row.reason,
            "sglang_args": launch_args,
            "group": {
                "instances": plan.gpu.instance_count(),
                "replicas": plan.gpu.replicas,
                "min_replicas": plan.gpu.min_replicas(),
                "nodes": plan.gpu.nodes,
                "price_per_hour_usd": plan.price_per_hour_usd(&row),
            },
            "differences": differences,
        }))?;
    } else {
        let summary = render_check(path, &plan, &launch_args, &model, &row, ctx.printer.color());
        ctx.printer.out(&summary)?;
    }
    for difference in &differences {
        ctx.printer.warn(difference);
    }
    warn_about_fit(ctx, &row, &plan.model.id, plan.serving.max_running_requests);
    Ok(ExitCode::SUCCESS)
}

/// Where the file's computed fields disagree with what this build computes.
fn differences(file: &Plan, rebuilt: &Plan) -> Vec<String> {
    let mut pairs = vec![
        (
            "serving.mem_fraction_static".to_string(),
            file.serving.mem_fraction_static.to_string(),
            rebuilt.serving.mem_fraction_static.to_string(),
        ),
        (
            "serving.version".to_string(),
            file.serving.version.clone(),
            rebuilt.serving.version.clone(),
        ),
    ];
    if let (Some(theirs), Some(ours)) = (&file.estimate, &rebuilt.estimate) {
        let optional = |x: Option<f64>| x.map_or("-".to_string(), |v| v.to_string());
        let fields = |e: &PlanEstimate| {
            [
                ("fit", e.fit.as_str().to_string()),
                ("per_gpu_gib", e.per_gpu_gib.to_string()),
                ("kv_pool_tokens", e.kv_pool_tokens.to_string()),
                ("output_tokens_per_s", e.output_tokens_per_s.to_string()),
                ("ttft_ms", optional(e.ttft_ms)),
                ("tpot_ms", optional(e.tpot_ms)),
                (
                    "usd_per_million_output_tokens",
                    optional(e.usd_per_million_output_tokens),
                ),
                ("price_per_hour_usd", e.price_per_hour_usd.to_string()),
                ("lease_cost_usd", e.lease_cost_usd.to_string()),
                ("price_as_of", e.price_as_of.clone()),
            ]
        };
        for ((name, a), (_, b)) in fields(theirs).into_iter().zip(fields(ours)) {
            pairs.push((format!("estimate.{name}"), a, b));
        }
    }
    pairs
        .into_iter()
        // An older file without a field (`-`) is not a difference.
        .filter(|(_, theirs, ours)| theirs != ours && theirs != "-")
        .map(|(field, theirs, ours)| {
            let used = if field.starts_with("serving.") {
                format!("launch sends the file's {theirs}")
            } else {
                "launch shows this build's estimate".to_string()
            };
            format!("{field} is {theirs} in the file but {ours} by this build; {used}")
        })
        .collect()
}

fn render_check(
    path: &Path,
    plan: &Plan,
    launch_args: &[String],
    model: &Model,
    row: &GpuFit,
    color: bool,
) -> String {
    let mut table = Table::new(&[("", Align::Left), ("", Align::Left)]).indent(2);
    for (label, value) in check_facts(plan, model, row) {
        table.row(vec![Cell::styled(label, Style::Dim), value.into()]);
    }
    for (i, line) in flag_lines(launch_args).into_iter().enumerate() {
        let label = if i == 0 { "SGLang flags" } else { "" };
        table.row(vec![Cell::styled(label, Style::Dim), line.into()]);
    }
    let mut out = format!(
        "{} is a valid plan (version {}, SGLang {}).\n",
        Style::Bold.paint(&path.display().to_string(), color),
        plan.version,
        plan.serving.version
    );
    // The two-column table's header line is empty; drop it.
    let rendered = table.render(color);
    out.push_str(rendered.split_once('\n').map_or("", |(_, rest)| rest));
    out
}

/// What `plan check` shows of the plan, label by label.
fn check_facts(plan: &Plan, model: &Model, row: &GpuFit) -> Vec<(&'static str, String)> {
    let gpu = row.gpu;
    let m = &plan.model;
    let source = if model.builtin {
        "built-in"
    } else {
        "custom, described in the plan"
    };
    let idle = match plan.lease.idle_minutes {
        0 => "no idle limit".to_string(),
        n => format!("or after {n} idle minutes"),
    };
    let mut facts = vec![
        ("Model", format!("{} ({source})", m.id)),
        (
            "Checkpoint",
            format!(
                "{} ({}, {})",
                m.checkpoint,
                m.quantization.label(),
                m.quant_method.as_str()
            ),
        ),
        (
            "Instance",
            format!(
                "{}: {}, tensor parallel {}",
                gpu.instance_type, gpu.description, plan.serving.tensor_parallel
            ),
        ),
        (
            "Regions",
            format!("{} (tried in order)", plan.gpu.regions.join(", ")),
        ),
        (
            "Lease",
            format!("terminates itself after {} h, {idle}", plan.lease.hours),
        ),
        ("Cost", cost_line(plan, row)),
        (
            "Fit",
            format!(
                "{}: {}",
                row.fit
                    .label(row.max_seqs, plan.serving.max_running_requests),
                row.reason
            ),
        ),
        (
            "Memory",
            format!(
                "{} per GPU of {} (serving estimate)",
                present::gib(row.needed_bytes),
                present::gib(gpu.memory_bytes())
            ),
        ),
        ("Workload", workload_sentence(&plan.settings())),
        ("Speed", speed(plan, row)),
    ];
    if let Some(group) = group_line(plan) {
        facts.insert(3, ("Group", group));
    }
    facts
}

/// The plan's price per hour (every instance's) and the most its lease costs.
fn cost_line(plan: &Plan, row: &GpuFit) -> String {
    let gpu = row.gpu;
    let price = plan.price_per_hour_usd(row);
    let lease_cost = price * f64::from(plan.lease.hours);
    let count = plan.gpu.instance_count();
    let each = if count > 1 {
        format!(
            " for {count} instances ({}/h each)",
            present::usd(row.price_per_hour_usd)
        )
    } else {
        String::new()
    };
    format!(
        "{}/h{each}, at most {} for the lease (price as of {}{})",
        present::usd(price),
        present::usd(lease_cost),
        gpu.price_as_of,
        gpu.availability_note()
            .map_or(String::new(), |note| format!("; {note}"))
    )
}

/// How the plan's instances work together, when there is more than one.
fn group_line(plan: &Plan) -> Option<String> {
    let (g, s) = (&plan.gpu, &plan.serving);
    if g.nodes > 1 {
        return Some(format!(
            "one model over {} nodes: pipeline parallel {} x tensor parallel {}; rank 0 serves",
            g.nodes, s.pipeline_parallel, s.tensor_parallel
        ));
    }
    (g.replicas > 1).then(|| {
        format!(
            "{} replicas behind one gateway (smg, cache-aware policy); keeps going with at least {}",
            g.replicas,
            g.min_replicas()
        )
    })
}

fn speed(plan: &Plan, row: &GpuFit) -> String {
    if row.fit == Fit::No {
        return "-".to_string();
    }
    let s = &row.speed;
    // A two-node plan's speed and price are both nodes serving one model together.
    let whole = if plan.gpu.nodes > 1 {
        "both nodes together"
    } else {
        "the whole instance"
    };
    format!(
        "TTFT {} ms, TPOT {} ms per request; {} output tokens/s for {whole}, {} per million output tokens{}",
        present::milliseconds(s.ttft_ms),
        present::milliseconds(s.tpot_ms),
        present::tokens_per_s(s.output_tokens_per_s),
        present::usd_fine(s.usd_per_million_output_tokens),
        if s.saturated { " (saturated: the rate is more than it completes)" } else { "" }
    )
}

/// Flag/value pairs joined into lines of at most [`FLAG_LINE_WIDTH`] characters.
fn flag_lines(args: &[String]) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for pair in args.chunks(2).map(|p| p.join(" ")) {
        match lines.last_mut() {
            Some(line) if line.len() + 1 + pair.len() <= FLAG_LINE_WIDTH => {
                line.push(' ');
                line.push_str(&pair);
            }
            _ => lines.push(pair),
        }
    }
    lines
}

/// Width of a line of SGLang flags in `plan check`.
const FLAG_LINE_WIDTH: usize = 72;
