//! `gpu-session down`: terminate an instance this tool launched (or all of them).

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::DownArgs;
use crate::cloud::Cloud;
use crate::context::Context;
use crate::instances::{self, short_id};
use crate::lease;
use crate::output;
use gpu_session_lambda::Instance;

#[derive(Debug, Serialize)]
struct Terminated {
    id: String,
    name: Option<String>,
    instance_type: String,
    region: String,
    status: String,
}

#[derive(Debug, Serialize)]
struct Report {
    terminated: Vec<Terminated>,
}

pub fn run(ctx: &Context, args: DownArgs) -> anyhow::Result<ExitCode> {
    let cloud = Cloud::connect(ctx)?;
    let ours = cloud.block_on(instances::list_ours(&cloud.client))?;
    let targets: Vec<Instance> = if args.all {
        ours
    } else {
        vec![instances::resolve(&ours, args.instance.as_deref())?.clone()]
    };
    if targets.is_empty() {
        if args.json {
            ctx.printer.json(&Report {
                terminated: Vec::new(),
            })?;
        } else {
            ctx.printer
                .out("No instances launched by gpu-session are running; nothing to terminate.\n")?;
        }
        return Ok(ExitCode::SUCCESS);
    }

    if !args.yes && output::stdin_is_terminal() {
        for instance in &targets {
            ctx.printer.note(&format!(
                "  {}  {}  {}  {}",
                short_id(&instance.id),
                instance.name.as_deref().unwrap_or("—"),
                instance.instance_type.name,
                instance.region.name
            ));
        }
    }
    let question = format!("Terminate {}? This cannot be undone", plural(targets.len()));
    let doing = format!("terminating {}", plural(targets.len()));
    if !output::confirm_or_refuse(args.yes, &doing, Some("terminate"), &question)? {
        ctx.printer.note("Cancelled; nothing was terminated.");
        return Ok(ExitCode::SUCCESS);
    }

    let ids: Vec<String> = targets.iter().map(|i| i.id.clone()).collect();
    let terminated = match cloud.block_on(cloud.client.terminate(&ids)) {
        Ok(terminated) => terminated,
        // Listed a moment ago, unknown now: nothing confirms it stopped billing.
        Err(e) if e.is_not_found() => anyhow::bail!(
            "terminating {}: not found -- check the dashboard that it is not still billing ({})",
            ids.join(", "),
            crate::output::printable(&e.to_string())
        ),
        Err(e) => return Err(e.into()),
    };
    lease::forget_extensions(ctx, &ids);
    if let Ok(path) = ctx.config_path() {
        crate::first_start::forget_records(&path, &ids);
    }
    // The API answers with the instances it terminated; fall back to what we asked
    // for if it leaves any out, so the user still sees what happened.
    let report = Report {
        terminated: targets
            .iter()
            .map(|t| {
                let answered = terminated.iter().find(|i| i.id == t.id);
                Terminated {
                    id: t.id.clone(),
                    name: t.name.clone(),
                    instance_type: t.instance_type.name.clone(),
                    region: t.region.name.clone(),
                    status: answered
                        .map_or_else(|| "terminating".to_owned(), |i| i.status.to_string()),
                }
            })
            .collect(),
    };
    if args.json {
        ctx.printer.json(&report)?;
    } else {
        let mut text = String::new();
        for t in &report.terminated {
            text.push_str(&format!(
                "Terminated {} ({}, {}, {}).\n",
                t.id,
                t.name.as_deref().unwrap_or("unnamed"),
                t.instance_type,
                t.region
            ));
        }
        text.push_str("Billing stops once Lambda finishes shutting it down.\n");
        ctx.printer.out(&text)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 instance".to_owned()
    } else {
        format!("{n} instances")
    }
}
