//! `launch --dry-run`: the launch request and user_data a launch would send, with
//! placeholders for secrets and for choices made at launch; nothing is called.

use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;

use super::checks;
use super::{build_request, Prepared};
use crate::cli::LaunchArgs;
use crate::cloud::instances;
use crate::cloud::Cloud;
use crate::context::Context;
use crate::instance::group::{self, Member};
use crate::remote::ssh_target;
use gpu_session_core::plan::Plan;
use gpu_session_lambda::{resolve_base_url, LaunchRequest, Tag};

/// Placeholders `--dry-run` prints instead of secrets and choices made at launch.
const DRY_RUN_LAMBDA_KEY: &str = "LAMBDA-API-KEY-INSERTED-AT-LAUNCH";
const DRY_RUN_HF_TOKEN: &str = "HF-TOKEN-INSERTED-AT-LAUNCH";
const DRY_RUN_SSH_KEY: &str = "SSH-KEY-CHOSEN-AT-LAUNCH";

#[derive(Debug, Serialize)]
struct DryRun<'a> {
    request: &'a LaunchRequest,
    user_data: &'a str,
}

pub(super) fn run(ctx: &Context, args: &LaunchArgs, p: &Prepared) -> anyhow::Result<ExitCode> {
    if group::is_group(&p.plan) {
        return run_group(ctx, args, p);
    }
    let base_url = resolve_base_url();
    let user_data = dry_run_user_data(p, &p.name, None, &base_url)?;
    cloud_checks(ctx, args, p)?;
    let request = build_request(
        &p.plan,
        &p.plan.gpu.regions[0],
        args.ssh_key.as_deref().unwrap_or(DRY_RUN_SSH_KEY),
        &p.name,
        p.filesystem.as_deref(),
        &user_data,
        instances::now_unix(),
    );
    if args.json {
        ctx.printer.json(&DryRun {
            request: &request,
            user_data: &user_data,
        })?;
    } else {
        let body = serde_json::to_string_pretty(&request).context("cannot encode the request")?;
        ctx.printer.out(&format!(
            "# Dry run: nothing was launched. POST {base_url}/instance-operations/launch with:\n{body}\n\n# user_data:\n{user_data}"
        ))?;
        ctx.printer.note(&format!(
            "Dry run: regions would be tried in order: {}. Secrets are shown as placeholders.",
            p.plan.gpu.regions.join(", ")
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// One member of a group dry run.
#[derive(Debug, Serialize)]
struct DryRunMember {
    request: LaunchRequest,
    user_data: String,
    /// The group file the launcher writes over SSH once every member has a private IP,
    /// with placeholders for the addresses.
    group_file: String,
}

#[derive(Debug, Serialize)]
struct DryRunGroup<'a> {
    group_id: &'a str,
    /// `replicas` (behind one gateway on member 0) or `nodes` (one model split).
    kind: &'static str,
    members: Vec<DryRunMember>,
    /// The gateway in front of replicas: where it runs and what it starts.
    gateway: Option<String>,
}

/// The placeholder the dry run prints for member `i`'s private address.
fn private_ip_placeholder(i: u32) -> String {
    format!("PRIVATE-IP-OF-MEMBER-{i}")
}

/// `--dry-run` of a group: every member's launch request, user_data and group file.
fn run_group(ctx: &Context, args: &LaunchArgs, p: &Prepared) -> anyhow::Result<ExitCode> {
    let plan = &p.plan;
    let base_url = resolve_base_url();
    let count = plan.gpu.instance_count();
    let group_id = group::new_group_id(&plan.model.id);
    let placeholders: Vec<String> = (0..count).map(private_ip_placeholder).collect();
    let launched_at = instances::now_unix();
    let members = (0..count)
        .map(|index| {
            let member = Member { index, count };
            dry_run_member(
                args,
                p,
                &base_url,
                &group_id,
                member,
                &placeholders,
                launched_at,
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    cloud_checks(ctx, args, p)?;
    let kind = group::kind(plan);
    let gateway = (plan.gpu.replicas > 1).then(|| gateway_line(plan, &placeholders));
    let dry = DryRunGroup {
        group_id: &group_id,
        kind,
        members,
        gateway,
    };
    if args.json {
        ctx.printer.json(&dry)?;
    } else {
        print_group(ctx, plan, &base_url, &dry)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// A dry run's user_data: placeholders for the secrets only the launch knows.
fn dry_run_user_data(
    p: &Prepared,
    hostname: &str,
    member: Option<Member>,
    base_url: &str,
) -> anyhow::Result<String> {
    let hf_token = p.hf_token.as_ref().map(|_| DRY_RUN_HF_TOKEN);
    Ok(p.user_data(hostname, member, DRY_RUN_LAMBDA_KEY, base_url, hf_token)?)
}

/// `member`'s launch request, user_data and group file in a group dry run.
fn dry_run_member(
    args: &LaunchArgs,
    p: &Prepared,
    base_url: &str,
    group_id: &str,
    member: Member,
    placeholders: &[String],
    launched_at: u64,
) -> anyhow::Result<DryRunMember> {
    let plan = &p.plan;
    let index = member.index;
    let name = group::member_name(&plan.model.id, group_id, index);
    let user_data = dry_run_user_data(p, &name, Some(member), base_url)?;
    let mut request = build_request(
        plan,
        &plan.gpu.regions[0],
        args.ssh_key.as_deref().unwrap_or(DRY_RUN_SSH_KEY),
        &name,
        p.filesystem.as_deref(),
        &user_data,
        launched_at,
    );
    request.tags.extend(group_tags(plan, group_id, index));
    let group_file = group::group_file(
        plan,
        group_id,
        member,
        &placeholders[index as usize],
        placeholders,
    )?;
    Ok(DryRunMember {
        request,
        user_data,
        group_file,
    })
}

/// A group dry run as text.
fn print_group(
    ctx: &Context,
    plan: &Plan,
    base_url: &str,
    dry: &DryRunGroup<'_>,
) -> anyhow::Result<()> {
    let (count, kind, group_id) = (dry.members.len(), dry.kind, dry.group_id);
    let (gateway, members) = (&dry.gateway, &dry.members);
    let mut out = format!(
        "# Dry run: nothing was launched. A group of {count} instances ({kind}), group id {group_id}.
"
    );
    if let Some(gateway) = &gateway {
        out.push_str(&format!(
            "# Gateway on member 0: {gateway}
"
        ));
    }
    for (i, m) in members.iter().enumerate() {
        let body = serde_json::to_string_pretty(&m.request).context("cannot encode the request")?;
        out.push_str(&format!(
            "\n# Member {i}: POST {base_url}/instance-operations/launch with:\n{body}\n\n# Member {i} user_data:\n{}\n# Member {i} group file ({}), written over SSH once every member has a private IP:\n{}",
            m.user_data,
            group::GROUP_FILE,
            m.group_file
        ));
    }
    ctx.printer.out(&out)?;
    ctx.printer.note(&format!(
        "Dry run: regions would be tried in order: {}; all members in one region. Secrets are shown as placeholders.",
        plan.gpu.regions.join(", ")
    ));
    Ok(())
}

/// The tags marking a group member (and a node of one model over several).
pub(super) fn group_tags(plan: &Plan, group_id: &str, index: u32) -> Vec<Tag> {
    let mut tags = vec![
        Tag {
            key: instances::TAG_GROUP.to_owned(),
            value: group_id.to_owned(),
        },
        Tag {
            key: instances::TAG_MEMBER.to_owned(),
            value: index.to_string(),
        },
    ];
    if group::spans_nodes(plan) {
        tags.push(Tag {
            key: instances::TAG_NODES.to_owned(),
            value: plan.gpu.nodes.to_string(),
        });
    }
    tags
}

/// The gateway's command line as `gateway-run.sh` builds it from the group file.
fn gateway_line(plan: &Plan, ips: &[String]) -> String {
    let port = group::worker_port(plan);
    let urls: Vec<String> = ips.iter().map(|ip| format!("http://{ip}:{port}")).collect();
    format!(
        "smg=={} launch --worker-urls {} --policy cache_aware --host 127.0.0.1 --port {} --prometheus-host 127.0.0.1 --prometheus-port {} --api-key <the SGLang API key>",
        group::SMG_VERSION,
        urls.join(" "),
        plan.serving.port,
        group::GATEWAY_PROMETHEUS_PORT
    )
}

/// `--dry-run` makes the Lambda checks too when a key is configured (read-only calls).
fn cloud_checks(ctx: &Context, args: &LaunchArgs, p: &Prepared) -> anyhow::Result<()> {
    let Ok(cloud) = Cloud::connect(ctx) else {
        ctx.printer.note(
            "Dry run: no Lambda API key, so the image, SSH key and disk checks were skipped.",
        );
        return Ok(());
    };
    let key_path = ssh_target::key_path(ctx)?;
    let key_checked = cloud.block_on(async {
        let types = cloud.client.list_instance_types().await?;
        let ssh_key = match &args.ssh_key {
            Some(k) => Some(k.clone()),
            None => match cloud.client.list_ssh_keys().await?.as_slice() {
                [only] => Some(only.name.clone()),
                _ => {
                    ctx.printer.note(
                        "Dry run: the account has no single SSH key; pass --ssh-key NAME to check it.",
                    );
                    None
                }
            },
        };
        checks::check_cloud(
            &cloud.client,
            &types,
            &p.plan,
            &p.plan.gpu.regions,
            ssh_key.as_deref(),
            key_path.as_deref(),
            p.checkpoint_bytes,
            p.filesystem.is_some(),
        )
        .await?;
        Ok::<bool, anyhow::Error>(ssh_key.is_some())
    })?;
    ctx.printer.note(if key_checked {
        "Dry run: the image, SSH key and disk checks passed."
    } else {
        "Dry run: the image and disk checks passed."
    });
    Ok(())
}
