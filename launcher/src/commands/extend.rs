//! `gpu-session extend`: push an instance's lease deadline further out.
//!
//! The lease agent on the instance reads its deadline (Unix seconds) from its
//! deadline file. `extend` rewrites that file over SSH with the fixed script of
//! [`lease_agent::extend_command`], in which the only variable part is the validated
//! number of seconds to add; the script itself caps the deadline at boot +
//! [`MAX_LEASE_HOURS`]. The new deadline is also recorded in the local lease record
//! ([`crate::cloud::lease`]), so `status` can show it. A group member's lease is the group's:
//! every member of its group is extended.

use std::process::{Command, ExitCode, Stdio};

use anyhow::{anyhow, bail};
use gpu_session_core::plan::MAX_LEASE_HOURS;

use crate::cli::ExtendArgs;
use crate::cloud::instances;
use crate::cloud::lease;
use crate::context::Context;
use crate::instance::lease_agent;
use crate::remote::ssh;
use crate::remote::ssh_target::{ssh_target, SshTarget};

/// The script `extend` runs on the instance (see [`lease_agent::extend_command`]).
pub use crate::instance::lease_agent::extend_command as remote_command;

pub fn run(ctx: &Context, args: ExtendArgs) -> anyhow::Result<ExitCode> {
    if !(1..=MAX_LEASE_HOURS).contains(&args.hours) {
        return Err(crate::usage_error(format!(
            "HOURS must be from 1 to {MAX_LEASE_HOURS}, got {}",
            args.hours
        )));
    }
    let target = ssh_target(ctx, args.instance.as_deref())?;
    let mut text = String::new();
    for member in group_of(ctx, target)? {
        text.push_str(&extend_one(ctx, member, args.hours)?);
    }
    ctx.printer.out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// `target`, or every live member of its group when it is a group member.
fn group_of(ctx: &Context, target: SshTarget) -> anyhow::Result<Vec<SshTarget>> {
    let Some(group) = instances::group_of(&target.instance).map(str::to_owned) else {
        return Ok(vec![target]);
    };
    let cloud = crate::cloud::Cloud::connect(ctx)?;
    // Our live instances: `list_ours` leaves the terminated ones out.
    let ours = cloud.block_on(instances::list_ours(&cloud.client))?;
    let mut members = Vec::new();
    for instance in instances::members_of(&ours, &group) {
        members.push(SshTarget {
            ip: crate::remote::ssh_target::public_ip(instance)?.to_owned(),
            host_keys: crate::remote::ssh_target::host_keys(ctx, &instance.id)?,
            key: target.key.clone(),
            instance: instance.clone(),
        });
    }
    Ok(members)
}

/// Extends one instance's lease over SSH; the line saying its new deadline.
fn extend_one(ctx: &Context, target: SshTarget, hours: u32) -> anyhow::Result<String> {
    let SshTarget {
        instance,
        ip,
        key,
        host_keys,
    } = target;
    let argv = ssh::batch_args(
        &ip,
        key.as_deref(),
        &host_keys,
        &lease_agent::extend_command(hours),
    );
    let program = ssh::ssh_program();
    ctx.printer.detail(&format!(
        "Running {} on {ip} to extend the lease",
        program.display()
    ));
    let output = Command::new(&program)
        .args(&argv)
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()
        .map_err(|err| anyhow!(err).context(ssh::cannot_start(&program)))?;
    if !output.status.success() {
        bail!(
            "could not extend the lease of {} over SSH ({}); is the instance reachable with your key?",
            instances::describe(&instance),
            output.status
        );
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let deadline: u64 = stdout
        .lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .ok_or_else(|| {
            anyhow!(
                "the instance did not report its new lease deadline (got {:?})",
                stdout.trim()
            )
        })?;
    lease::record_extension(ctx, &instance.id, deadline);

    let now = instances::now_unix();
    let left = instances::lease_left_secs(deadline, now);
    let capped = stdout.lines().any(|l| l.trim() == "capped");
    let mut text = format!(
        "Lease of {} now ends at {} (in {}).\n",
        instances::describe(&instance),
        instances::format_utc(deadline),
        instances::format_duration_secs(left)
    );
    if capped {
        text.push_str(&format!(
            "Capped: a lease cannot run past {MAX_LEASE_HOURS} h after boot.\n"
        ));
    }
    Ok(text)
}
