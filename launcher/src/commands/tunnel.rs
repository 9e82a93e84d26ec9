//! `gpu-session tunnel`: forward SGLang's port on an instance to this machine, in
//! the foreground until Ctrl-C.

use std::process::{Command, ExitCode};

use anyhow::anyhow;
use gpu_session_core::serving::SGLANG_PORT;

use crate::cli::TunnelArgs;
use crate::cloud::instances;
use crate::context::Context;
use crate::output::printable;
use crate::remote::ssh;
use crate::remote::ssh_target::{exit_code, ssh_target, SshTarget};

pub fn run(ctx: &Context, args: TunnelArgs) -> anyhow::Result<ExitCode> {
    if args.local_port == 0 {
        return Err(crate::usage_error(
            "--local-port must be from 1 to 65535, got 0",
        ));
    }
    let SshTarget {
        instance,
        ip,
        key,
        host_keys,
    } = group_endpoint(ctx, ssh_target(ctx, args.instance.as_deref())?)?;
    let ip = ip.as_str();
    let port = args.local_port;
    // The plan's `serving.port`, which launch recorded in a tag.
    let remote_port = instances::sglang_port(&instance).unwrap_or(SGLANG_PORT);
    ctx.printer.out(&format!(
        "Forwarding http://127.0.0.1:{port} to SGLang on {} ({ip}:{remote_port}).\n\
         OpenAI-compatible endpoint: http://127.0.0.1:{port}/v1\n\
         Press Ctrl-C to stop the tunnel.\n",
        printable(&instances::describe(&instance))
    ))?;
    let program = ssh::ssh_program();
    // Ctrl-C reaches ssh too (same process group); it exits and so do we.
    let status = Command::new(&program)
        .args(ssh::tunnel_args(
            ip,
            port,
            remote_port,
            key.as_deref(),
            &host_keys,
        ))
        .status()
        .map_err(|err| anyhow!(err).context(ssh::cannot_start(&program)))?;
    if !status.success() && status.code().is_some() {
        ctx.printer.warn(&format!(
            "the tunnel ended ({status}); is local port {port} free, and does the instance accept your SSH key?"
        ));
    }
    Ok(exit_code(status))
}

/// A group serves only from member 0 (its gateway, or node 0 of two): another member's
/// loopback port has nothing on it, so a tunnel to a member goes to member 0.
fn group_endpoint(ctx: &Context, target: SshTarget) -> anyhow::Result<SshTarget> {
    let instance = &target.instance;
    let (Some(group), Some(index)) = (
        instances::tag(instance, instances::TAG_GROUP),
        instances::tag(instance, instances::TAG_MEMBER),
    ) else {
        return Ok(target);
    };
    if index == "0" {
        return Ok(target);
    }
    ctx.printer.note(&printable(&format!(
        "{} is member {index} of group {group}, which serves from member 0; forwarding to member 0.",
        instances::describe(instance)
    )));
    ssh_target(ctx, Some(group))
}
