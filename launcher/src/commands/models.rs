//! `gpu-session models`: list, `info`, `add` and `remove`. Built-in models come from
//! core's registry, custom ones from the config file.

use crate::cli::{ModelAddArgs, ModelInfoArgs, ModelRemoveArgs, ModelsArgs, ModelsCommand};
use crate::config_file;
use crate::context::{model_not_found, Context};
use crate::estimates::model_flags::{arch_flags_given, architecture_from, entry_error};
use crate::estimates::sizing::{self, ModelJson, PriceNotes, ReferenceJson, ServingJson, Sizing};
use crate::output::{self, Align, Cell, Style, Table, PROSE_WIDTH};
use anyhow::bail;
use gpu_session_core::config::CustomModelEntry;
use gpu_session_core::present::{self, Unit};
use gpu_session_core::recommend::Fit;
use gpu_session_core::registry::{
    builtin, params_billions_in_range, Model, CUSTOM_DEFAULT_CONTEXT,
    CUSTOM_DEFAULT_PARAMS_BILLIONS, CUSTOM_DEFAULT_QUANTIZATION, MAX_PARAMS_BILLIONS,
};
use gpu_session_core::validate;
use gpu_session_core::Quantization;
use serde::Serialize;
use std::fmt::Write as _;
use std::io::{BufRead, Write};
use std::process::ExitCode;

pub fn run(ctx: &Context, args: ModelsArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        None => list(ctx, args.json),
        Some(ModelsCommand::Info(a)) => info(ctx, &a),
        Some(ModelsCommand::Add(a)) => add(ctx, &a),
        Some(ModelsCommand::Remove(a)) => remove(ctx, &a),
    }
}

// ---------------------------------------------------------------------------------
// models (list)

fn list(ctx: &Context, json: bool) -> anyhow::Result<ExitCode> {
    let models = ctx.models()?;
    let mut sized: Vec<Sizing> = models.iter().map(Sizing::defaults).collect();
    // The original listed models by VRAM; ours is the serving estimate's total.
    sized.sort_by_key(|s| s.rec.serving.total());
    if json {
        let entries: Vec<ListEntryJson> = sized.iter().map(list_json).collect();
        ctx.printer.json(&sizing::sorted_json(&entries)?)?;
    } else {
        let custom = models.iter().filter(|m| !m.builtin).count();
        ctx.printer
            .out(&render_list(&sized, custom, ctx.printer.color()))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render_list(sized: &[Sizing], custom: usize, color: bool) -> String {
    let prices = PriceNotes::new(sized.iter().filter_map(|s| s.rec.cheapest()).map(|r| r.gpu));
    let mut table = Table::new(&[
        ("ID", Align::Left),
        ("PARAMS", Align::Right),
        ("QUANT", Align::Left),
        ("SERVING", Align::Right),
        ("REFERENCE", Align::Right),
        ("MIN GPU", Align::Left),
        ("$/H", Align::Right),
        ("BEST FOR", Align::Left),
    ]);
    for s in sized {
        let m = s.model;
        let cheapest = s.rec.cheapest();
        table.row(vec![
            Cell::styled(m.id.as_str(), Style::Bold),
            present::params(m.param_count()).into(),
            m.quantization.label().into(),
            present::gib(s.rec.serving.total()).into(),
            present::amount(s.rec.reference.total_gb, Unit::GB).into(),
            cheapest
                .map_or("none fits".into(), |r| r.gpu.instance_type.to_string())
                .into(),
            cheapest.map_or("-".into(), |r| prices.cell(r.gpu)).into(),
            best_for(m).into(),
        ]);
    }
    let mut out = table.render(color);
    let _ = writeln!(
        out,
        "\nSERVING: what SGLang holds per GPU at the model's defaults on MIN GPU, the cheapest type that fits.\nREFERENCE: the reference formula's total for the whole model.\n{}\n\nCustom models: {custom} configured",
        prices.footer()
    );
    out
}

fn best_for(m: &Model) -> &str {
    if m.best_for.is_empty() {
        "(custom)"
    } else {
        &m.best_for
    }
}

/// One model of `models --json`: its facts, both estimates at its defaults, and the
/// cheapest type that fits.
#[derive(Debug, Serialize)]
struct ListEntryJson<'a> {
    #[serde(flatten)]
    model: ModelJson<'a>,
    reference: ReferenceJson<'a>,
    serving: ServingJson<'a>,
    cheapest_gpu: Option<CheapestGpuJson>,
}

#[derive(Debug, Serialize)]
struct CheapestGpuJson {
    instance_type: &'static str,
    price_per_hour_usd: f64,
    price_as_of: &'static str,
    fit: Fit,
}

fn list_json<'a>(s: &'a Sizing<'a>) -> ListEntryJson<'a> {
    ListEntryJson {
        model: ModelJson::new(s.model),
        reference: ReferenceJson::new(&s.rec),
        serving: ServingJson::new(s),
        cheapest_gpu: s.rec.cheapest().map(|r| CheapestGpuJson {
            instance_type: r.gpu.instance_type,
            price_per_hour_usd: r.price_per_hour_usd,
            price_as_of: r.gpu.price_as_of,
            fit: r.fit,
        }),
    }
}

/// `models add --json`: the stored entry and its id.
#[derive(Debug, Serialize)]
struct AddedJson<'a> {
    id: &'a str,
    #[serde(flatten)]
    entry: &'a CustomModelEntry,
}

// ---------------------------------------------------------------------------------
// models info

fn info(ctx: &Context, args: &ModelInfoArgs) -> anyhow::Result<ExitCode> {
    let model = ctx.find_model(&args.id)?;
    let sizing = Sizing::defaults(&model);
    if args.json {
        ctx.printer.json(&sizing.to_json()?)?;
    } else {
        let color = ctx.printer.color();
        let text = [
            render_facts(&model, color),
            sizing.render_memory(color),
            render_recommended(&sizing, color),
            render_use_cases(&model, color),
            render_checkpoints(&model, color),
            sizing.render_fit(color),
        ]
        .into_iter()
        .filter(|section| !section.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
        ctx.printer.out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn heading(text: &str, color: bool) -> String {
    format!("{}\n", Style::Bold.paint(text, color))
}

fn render_facts(m: &Model, color: bool) -> String {
    let recommended = m.reference.as_ref().is_some_and(|r| r.recommended);
    let mut out = Style::Bold.paint(&format!("{} ({})", m.name, m.id), color);
    if recommended {
        out.push_str(&Style::Yellow.paint("  ★ Recommended", color));
    }
    out.push('\n');
    if !m.tagline.is_empty() {
        let _ = writeln!(out, "{}", m.tagline);
    }
    out.push('\n');
    let mut table = Table::new(&[("", Align::Left), ("", Align::Left)]).indent(2);
    for (label, value) in facts(m) {
        table.row(vec![Cell::styled(label, Style::Dim), value.into()]);
    }
    // The two-column table has an empty header line; drop it.
    let rendered = table.render(color);
    out.push_str(rendered.split_once('\n').map_or("", |(_, rest)| rest));
    out
}

/// The model's facts, label and value, in the order `models info` lists them.
fn facts(m: &Model) -> Vec<(&'static str, String)> {
    let quantization = m
        .reference
        .as_ref()
        .map_or(m.quantization.label(), |r| r.quantization_label);
    let mut facts = vec![
        ("Hugging Face", m.hf_path.clone()),
        ("Parameters", params_fact(m)),
        ("Quantization", quantization.to_string()),
        ("Context", context_fact(m)),
        (
            "Max context",
            format!("{} tokens", present::thousands(u64::from(m.max_context()))),
        ),
    ];
    if !m.best_for.is_empty() {
        facts.push(("Best for", m.best_for.clone()));
    }
    facts.push((
        "Source",
        if m.builtin {
            "built-in"
        } else {
            "custom (config file)"
        }
        .into(),
    ));
    if m.gated {
        facts.push((
            "Access",
            "gated on Hugging Face: set HF_TOKEN on the instance".into(),
        ));
    }
    facts
}

/// The parameter count, and whether it is config.json's exact count.
fn params_fact(m: &Model) -> String {
    let (_, inferred) = m.effective_architecture();
    if inferred {
        format!(
            "{} (as stated; shape inferred)",
            present::params(m.param_count())
        )
    } else {
        format!(
            "{} ({} exactly, from config.json)",
            present::params(m.param_count()),
            present::thousands(m.param_count())
        )
    }
}

/// The context length, with the reference's note when it has one.
fn context_fact(m: &Model) -> String {
    match m.reference.as_ref().and_then(|r| r.context_note) {
        Some(note) => format!(
            "{} tokens ({note})",
            present::thousands(u64::from(m.context_length))
        ),
        None => format!("{} tokens", present::thousands(u64::from(m.context_length))),
    }
}

fn render_recommended(s: &Sizing, color: bool) -> String {
    let mut out = heading("Recommended GPU", color);
    match s.rec.cheapest() {
        Some(row) => {
            let lease = gpu_session_core::plan::DEFAULT_LEASE_HOURS;
            let _ = writeln!(
                out,
                "  {}: {}, {}/h (price as of {}); {} for a {lease} h lease.",
                row.gpu.instance_type,
                row.gpu.description,
                present::usd(row.price_per_hour_usd),
                row.gpu.price_as_of,
                present::usd(row.price_per_hour_usd * f64::from(lease)),
            );
            let _ = writeln!(
                out,
                "  At {} requests: TTFT {} ms, {} output tokens/s per user; {} per million output tokens.",
                row.speed_basis,
                present::milliseconds(row.speed.ttft_ms),
                present::tokens_per_s(row.speed.output_tokens_per_s_per_user),
                present::usd_fine(row.speed.usd_per_million_output_tokens)
            );
        }
        None => {
            let _ = writeln!(out, "  No instance type fits the model at its defaults.");
        }
    }
    if let Some(card) = &s.model.reference {
        let _ = writeln!(
            out,
            "  The reference said: Est. VRAM {} GB, Min GPU {}, ~{}/h.",
            card.est_vram_gb,
            card.min_gpu_label(),
            present::usd(card.cost_per_hour_usd)
        );
    }
    out
}

fn render_use_cases(m: &Model, color: bool) -> String {
    let mut out = String::new();
    let lists = [
        ("Good for", &m.good_for, Style::Green, "✓"),
        ("Not good for", &m.not_good_for, Style::Red, "✗"),
    ];
    for (title, items, style, mark) in lists {
        if items.is_empty() {
            continue;
        }
        out.push_str(&heading(title, color));
        for item in items {
            let _ = writeln!(out, "  {} {item}", style.paint(mark, color));
        }
        out.push('\n');
    }
    if !m.notes.is_empty() {
        out.push_str(&heading("Notes", color));
        for line in output::wrap(&m.notes, PROSE_WIDTH) {
            let _ = writeln!(out, "  {line}");
        }
    }
    out.trim_end_matches('\n').to_string() + "\n"
}

fn render_checkpoints(m: &Model, color: bool) -> String {
    let mut out = heading("Checkpoints SGLang loads", color);
    let mut table = Table::new(&[
        ("QUANT", Align::Left),
        ("CHECKPOINT", Align::Left),
        ("--quantization", Align::Left),
    ])
    .indent(2);
    let mut missing = Vec::new();
    for q in Quantization::ALL {
        match m.checkpoint_for(q) {
            Ok(c) => table.row(vec![
                q.label().into(),
                c.hf_path.into(),
                c.method.sglang_flag().unwrap_or("(none)").into(),
            ]),
            Err(_) => missing.push(q.label()),
        }
    }
    out.push_str(&table.render(color));
    if !missing.is_empty() {
        let _ = writeln!(
            out,
            "  No checkpoint known for {}: add a custom model naming a pre-quantized one.",
            missing.join(", ")
        );
    }
    out
}

// ---------------------------------------------------------------------------------
// models add

/// The required flags of `models add`, in the order they are named in errors.
const ADD_FLAGS: [&str; 5] = [
    "--name",
    "--hf-path",
    "--params",
    "--quantization",
    "--context",
];

fn add(ctx: &Context, args: &ModelAddArgs) -> anyhow::Result<ExitCode> {
    let from_hub = args
        .hf
        .as_deref()
        .map(|repo| entry_from_hub(ctx, args, repo))
        .transpose()?;
    let (id, entry) = match from_hub.map_or_else(|| entry_from_flags(args), |e| Ok(Some(e)))? {
        Some(found) => found,
        None if output::stdin_is_terminal() => {
            let document = &ctx.config()?.document;
            let taken = |id: &str| builtin(id).is_some() || document.has_custom_model(id);
            prompt_entry(&mut std::io::stdin().lock(), &mut std::io::stderr(), &taken)?
        }
        None => {
            return Err(crate::usage_error_in(
                &["models", "add"],
                format!(
                    "models add needs {} (standard input is not a terminal, so it cannot ask)",
                    ADD_FLAGS.join(", ")
                ),
            ))
        }
    };
    entry.validate(&id).map_err(|e| entry_error(&e, &id))?;
    let config = ctx.config()?;
    if config.document.has_custom_model(&id) {
        bail!(
            "custom model '{id}' already exists in {}; remove it first with 'gpu-session models remove {id}'",
            config.path.display()
        );
    }
    let mut document = config.document.clone();
    document
        .set_custom_model(&id, &entry)
        .map_err(|e| entry_error(&e, &id))?;
    config_file::save(&config.path, &document)?;
    if args.json {
        ctx.printer.json(&sizing::sorted_json(&AddedJson {
            id: &id,
            entry: &entry,
        })?)?;
    } else {
        let model = entry.to_model(&id);
        let sizing = Sizing::defaults(&model);
        let mut text = format!("Added custom model '{id}' to {}.\n", config.path.display());
        if let Some(row) = sizing.rec.cheapest() {
            let _ = writeln!(
                text,
                "At its defaults it needs {} per GPU; cheapest fit {} ({}/h). Details: gpu-session models info {id}",
                present::gib(sizing.rec.serving.total()),
                row.gpu.instance_type,
                present::usd(row.price_per_hour_usd)
            );
        }
        ctx.printer.out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The new entry `models add --hf REPO` describes: the repo's config.json, with
/// `--name`, `--context` and `--notes` on top.
fn entry_from_hub(
    ctx: &Context,
    args: &ModelAddArgs,
    repo: &str,
) -> anyhow::Result<(String, CustomModelEntry)> {
    if arch_flags_given(&args.arch) {
        return Err(crate::usage_error_in(
            &["models", "add"],
            "--hf reads the architecture from the repo's config.json: drop the architecture flags",
        ));
    }
    let (id, entry) =
        crate::hub::hf_model::entry(&ctx.printer, repo, args.name.as_deref(), args.context)?;
    Ok((
        id,
        CustomModelEntry {
            notes: args.notes.clone(),
            ..entry
        },
    ))
}

/// The new entry from flags: `None` when no flag was given (ask instead); a usage
/// error naming the missing flags when only some were.
fn entry_from_flags(args: &ModelAddArgs) -> anyhow::Result<Option<(String, CustomModelEntry)>> {
    let given = [
        args.name.is_some(),
        args.hf_path.is_some(),
        args.params.is_some(),
        args.quantization.is_some(),
        args.context.is_some(),
    ];
    let extras =
        args.notes.is_some() || args.quant_method.is_some() || arch_flags_given(&args.arch);
    if !given.contains(&true) && !extras {
        return Ok(None);
    }
    let (Some(name), Some(hf_path), Some(params), Some(quantization), Some(context)) = (
        &args.name,
        &args.hf_path,
        args.params,
        args.quantization,
        args.context,
    ) else {
        let missing: Vec<&str> = ADD_FLAGS
            .iter()
            .zip(given)
            .filter(|(_, g)| !g)
            .map(|(f, _)| *f)
            .collect();
        return Err(crate::usage_error_in(
            &["models", "add"],
            format!(
                "models add needs all of {} (or none, to be asked); missing {}",
                ADD_FLAGS.join(", "),
                missing.join(", ")
            ),
        ));
    };
    let entry = CustomModelEntry {
        notes: args.notes.clone(),
        quant_method: args.quant_method,
        architecture: architecture_from(&args.arch, context, &["models", "add"])?,
        ..CustomModelEntry::new(hf_path.as_str(), params, quantization, context)
    };
    Ok(Some((name.clone(), entry)))
}

/// Ask for each field on `output`, re-asking until the answer is valid.
/// `taken` says whether an id is already in use.
fn prompt_entry(
    input: &mut impl BufRead,
    output: &mut impl Write,
    taken: &dyn Fn(&str) -> bool,
) -> anyhow::Result<(String, CustomModelEntry)> {
    let id = ask_valid(input, output, "Model id (e.g. my-model-70b)", None, |v| {
        validate::model_id("id", v).map_err(|e| e.to_string())?;
        if taken(v) {
            return Err(format!("'{v}' is already taken"));
        }
        Ok(v.to_string())
    })?;
    let hf_path = ask_valid(input, output, "Hugging Face path (owner/name)", None, |v| {
        validate::hf_path("hf_path", v)
            .map(|()| v.to_string())
            .map_err(|e| e.to_string())
    })?;
    let params_billions = ask_valid(
        input,
        output,
        "Parameters, billions",
        Some(&CUSTOM_DEFAULT_PARAMS_BILLIONS.to_string()),
        |v| {
            v.parse::<f64>()
                .ok()
                .filter(|p| params_billions_in_range(*p))
                .ok_or_else(|| {
                    format!("'{v}' is not a number above 0 and at most {MAX_PARAMS_BILLIONS}")
                })
        },
    )?;
    let quantization = ask_valid(
        input,
        output,
        "Quantization (fp32, fp16, bf16, fp8, int8, int4)",
        Some(CUSTOM_DEFAULT_QUANTIZATION.as_str()),
        |v| v.parse::<Quantization>().map_err(|e| e.to_string()),
    )?;
    let context_length = ask_valid(
        input,
        output,
        "Context length, tokens",
        Some(&CUSTOM_DEFAULT_CONTEXT.to_string()),
        |v| {
            v.parse::<u32>()
                .map_err(|_| format!("'{v}' is not a whole number"))
        },
    )?;
    let notes = output::ask(input, output, "Notes (optional)", Some(""))?;
    let entry = CustomModelEntry {
        notes: (!notes.is_empty()).then_some(notes),
        ..CustomModelEntry::new(hf_path, params_billions, quantization, context_length)
    };
    Ok((id, entry))
}

fn ask_valid<T>(
    input: &mut impl BufRead,
    output: &mut impl Write,
    question: &str,
    default: Option<&str>,
    parse: impl Fn(&str) -> Result<T, String>,
) -> anyhow::Result<T> {
    loop {
        let answer = output::ask(input, output, question, default)?;
        match parse(&answer) {
            Ok(value) => return Ok(value),
            Err(message) => {
                let _ = writeln!(output, "  {message}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------
// models remove

fn remove(ctx: &Context, args: &ModelRemoveArgs) -> anyhow::Result<ExitCode> {
    let id = args.id.as_str();
    if builtin(id).is_some() {
        bail!("'{id}' is a built-in model and cannot be removed; only custom models can");
    }
    let config = ctx.config()?;
    if !config.document.has_custom_model(id) {
        let custom_ids = config
            .custom_models
            .iter()
            .map(|m| m.id.as_str())
            .chain(config.warnings.iter().map(|w| w.model_id.as_str()));
        return Err(model_not_found(id, custom_ids));
    }
    let question = format!("Remove custom model '{id}' from {}?", config.path.display());
    if !output::confirm_or_refuse(args.yes, &format!("removing '{id}'"), None, &question)? {
        ctx.printer.note("Nothing removed.");
        return Ok(ExitCode::SUCCESS);
    }
    let mut document = config.document.clone();
    document.remove_custom_model(id);
    config_file::save(&config.path, &document)?;
    ctx.printer.out(&format!(
        "Removed custom model '{id}' from {}.\n",
        config.path.display()
    ))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompts_re_ask_until_valid_and_apply_defaults() {
        let answers = "llama-3.1-8b\nmine\nnot a path\norg/repo\n\nint3\nint4\n\n\n";
        let mut shown = Vec::new();
        let taken = |id: &str| builtin(id).is_some();
        let (id, entry) = prompt_entry(&mut answers.as_bytes(), &mut shown, &taken).unwrap();
        assert_eq!(id, "mine");
        assert_eq!(entry.hf_path, "org/repo");
        assert_eq!(entry.params_billions, 7.0);
        assert_eq!(entry.quantization, Quantization::Int4);
        assert_eq!(entry.context_length, 8192);
        assert_eq!(entry.notes, None);
        let shown = String::from_utf8(shown).unwrap();
        assert!(shown.contains("'llama-3.1-8b' is already taken"), "{shown}");
        assert!(shown.contains("unknown quantization 'int3'"), "{shown}");
        assert!(prompt_entry(&mut "x\n".as_bytes(), &mut Vec::new(), &taken).is_err());
    }
}
