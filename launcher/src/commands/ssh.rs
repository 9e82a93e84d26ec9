//! `gpu-session ssh`: an interactive SSH session on an instance this tool launched.

use std::path::Path;
use std::process::{Command, ExitCode};

use anyhow::anyhow;

use crate::cli::InstanceArgs;
use crate::cloud::instances;
use crate::context::Context;
use crate::remote::ssh;
use crate::remote::ssh_target::{ssh_target, SshTarget};

pub fn run(ctx: &Context, args: InstanceArgs) -> anyhow::Result<ExitCode> {
    let SshTarget {
        instance,
        ip,
        key,
        host_keys,
    } = ssh_target(ctx, args.instance.as_deref())?;
    ctx.printer.note(&format!(
        "Connecting to {} at {ip}...",
        instances::describe(&instance)
    ));
    let command = ssh::interactive_command(&ip, key.as_deref(), &host_keys);
    exec(command)
}

/// Runs ssh in place of this process where the OS allows, so the terminal, signals
/// and exit status are ssh's own.
fn exec(mut command: Command) -> anyhow::Result<ExitCode> {
    let program = command.get_program().to_owned();
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        let err = command.exec();
        Err(anyhow!(err).context(ssh::cannot_start(Path::new(&program))))
    }
    #[cfg(not(unix))]
    {
        let status = anyhow::Context::with_context(command.status(), || {
            ssh::cannot_start(Path::new(&program))
        })?;
        Ok(crate::remote::ssh_target::exit_code(status))
    }
}
