//! `gpu-session down`: terminate an instance this tool launched (or all of them). A
//! group (replicas of one launch) goes as one: its id, or any member's, terminates
//! every member and then deletes the group's firewall ruleset.

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::DownArgs;
use crate::cloud::instances::{self, short_id};
use crate::cloud::lease;
use crate::cloud::Cloud;
use crate::context::Context;
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
    /// Firewall rulesets of the terminated groups, deleted once their members were gone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    deleted_rulesets: Vec<String>,
}

/// The instances `wanted` names: a group id (even one whose member 0 is gone), or an
/// instance (with all of its group).
fn targets(ours: &[Instance], wanted: Option<&str>) -> anyhow::Result<Vec<Instance>> {
    let group = match wanted.map(str::trim) {
        Some(w) if instances::members_of(ours, w).next().is_some() => w,
        _ => {
            let one = instances::resolve(ours, wanted)?;
            match instances::group_of(one) {
                Some(group) => group,
                None => return Ok(vec![one.clone()]),
            }
        }
    };
    Ok(instances::members_of(ours, group).cloned().collect())
}

/// Deletes the rulesets of `groups` (every one of ours with `all`) once their members
/// are gone; returns the deleted ids.
fn delete_rulesets(ctx: &Context, cloud: &Cloud, groups: &[String], all: bool) -> Vec<String> {
    let pause = crate::test_hooks::TestHooks::get()
        .poll_interval
        .unwrap_or(RULESET_PAUSE);
    let warn = |m: &str| ctx.printer.warn(m);
    let wanted: Vec<Option<&str>> = if all {
        vec![None]
    } else {
        groups.iter().map(|g| Some(g.as_str())).collect()
    };
    let mut deleted = Vec::new();
    for group in wanted {
        let found = cloud.block_on(crate::cloud::firewall::find_ours(&cloud.client, group));
        let rulesets = match found {
            Ok(r) => r,
            Err(e) => {
                warn(&format!("could not list firewall rulesets ({e}); delete the group's in the Lambda dashboard"));
                continue;
            }
        };
        for (id, name) in rulesets {
            match cloud.block_on(crate::cloud::firewall::delete_when_free(&cloud.client, &id, pause, &warn)) {
                Ok(()) => deleted.push(id),
                Err(e) => warn(&format!(
                    "could not delete firewall ruleset {id} ({name}): {e}; it does not bill, but delete it in the Lambda dashboard"
                )),
            }
        }
    }
    deleted
}

/// Pause between attempts at deleting a ruleset whose instances are still terminating.
const RULESET_PAUSE: std::time::Duration = std::time::Duration::from_secs(5);

pub fn run(ctx: &Context, args: DownArgs) -> anyhow::Result<ExitCode> {
    let cloud = Cloud::connect(ctx)?;
    let ours = cloud.block_on(instances::list_ours(&cloud.client))?;
    let targets: Vec<Instance> = if args.all {
        ours
    } else {
        targets(&ours, args.instance.as_deref())?
    };
    if targets.is_empty() {
        report_nothing(ctx, args.json)?;
        return Ok(ExitCode::SUCCESS);
    }
    if !confirmed(ctx, &args, &targets)? {
        ctx.printer.note("Cancelled; nothing was terminated.");
        return Ok(ExitCode::SUCCESS);
    }
    let ids: Vec<String> = targets.iter().map(|i| i.id.clone()).collect();
    let terminated = terminate(&cloud, &ids)?;
    let mut groups: Vec<String> = targets
        .iter()
        .filter_map(|i| instances::group_of(i).map(str::to_owned))
        .collect();
    groups.dedup();
    let deleted_rulesets = if groups.is_empty() && !args.all {
        Vec::new()
    } else {
        delete_rulesets(ctx, &cloud, &groups, args.all)
    };
    lease::forget_extensions(ctx, &ids);
    if let Ok(path) = ctx.config_path() {
        crate::remote::first_start::forget_records(&path, &ids);
    }
    let report = Report {
        terminated: terminated_rows(&targets, &terminated),
        deleted_rulesets,
    };
    if args.json {
        ctx.printer.json(&report)?;
    } else {
        ctx.printer.out(&report_text(&report))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// No instance of ours to terminate: an empty report, or a sentence saying so.
fn report_nothing(ctx: &Context, json: bool) -> anyhow::Result<()> {
    if json {
        ctx.printer.json(&Report {
            terminated: Vec::new(),
            deleted_rulesets: Vec::new(),
        })?;
    } else {
        ctx.printer
            .out("No instances launched by gpu-session are running; nothing to terminate.\n")?;
    }
    Ok(())
}

/// Whether to go ahead: `--yes`, else the user's answer after seeing the targets (when
/// standard input is a terminal).
fn confirmed(ctx: &Context, args: &DownArgs, targets: &[Instance]) -> anyhow::Result<bool> {
    if !args.yes && output::stdin_is_terminal() {
        for instance in targets {
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
    output::confirm_or_refuse(args.yes, &doing, Some("terminate"), &question)
}

/// Terminate `ids`; the instances the API says it terminated.
fn terminate(cloud: &Cloud, ids: &[String]) -> anyhow::Result<Vec<Instance>> {
    match cloud.block_on(cloud.client.terminate(ids)) {
        Ok(terminated) => Ok(terminated),
        // Listed a moment ago, unknown now: nothing confirms it stopped billing.
        Err(e) if e.is_not_found() => anyhow::bail!(
            "terminating {}: not found -- check the dashboard that it is not still billing ({})",
            ids.join(", "),
            crate::output::printable(&e.to_string())
        ),
        Err(e) => Err(e.into()),
    }
}

/// One row per target. The API answers with the instances it terminated; fall back to
/// what we asked for if it leaves any out, so the user still sees what happened.
fn terminated_rows(targets: &[Instance], terminated: &[Instance]) -> Vec<Terminated> {
    targets
        .iter()
        .map(|t| {
            let answered = terminated.iter().find(|i| i.id == t.id);
            Terminated {
                id: t.id.clone(),
                name: t.name.clone(),
                instance_type: t.instance_type.name.clone(),
                region: t.region.name.clone(),
                status: answered.map_or_else(|| "terminating".to_owned(), |i| i.status.to_string()),
            }
        })
        .collect()
}

fn report_text(report: &Report) -> String {
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
    for id in &report.deleted_rulesets {
        text.push_str(&format!("Deleted firewall ruleset {id}.\n"));
    }
    text.push_str("Billing stops once Lambda finishes shutting it down.\n");
    text
}

fn plural(n: usize) -> String {
    if n == 1 {
        "1 instance".to_owned()
    } else {
        format!("{n} instances")
    }
}
