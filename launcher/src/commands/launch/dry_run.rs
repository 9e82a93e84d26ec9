//! `launch --dry-run`: the launch request and user_data a launch would send, with
//! placeholders for secrets and for choices made at launch; nothing is called.

use std::process::ExitCode;

use anyhow::Context as _;
use serde::Serialize;

use super::checks;
use super::{build_request, Prepared};
use crate::cli::LaunchArgs;
use crate::cloud::Cloud;
use crate::context::Context;
use crate::instance::cloud_init::{self, UserDataInput};
use crate::instances;
use crate::ssh_target;
use gpu_session_lambda::{resolve_base_url, LaunchRequest};

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
    let base_url = resolve_base_url();
    let user_data = cloud_init::user_data(&UserDataInput {
        plan: &p.plan,
        hostname: &p.name,
        sglang_api_key: &p.sglang_key,
        lambda_api_key: DRY_RUN_LAMBDA_KEY,
        lambda_api_url: &base_url,
        hf_token: p.hf_token.as_ref().map(|_| DRY_RUN_HF_TOKEN),
        filesystem: p.filesystem.as_deref(),
        first_start_limit: p.ready_timeout,
        checkpoint_bytes: p.checkpoint_bytes,
    })?;
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
