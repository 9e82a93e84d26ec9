//! `gpu-session completions SHELL`: a completion script on stdout.

use crate::cli::{Cli, CompletionsArgs};
use crate::context::Context;
use clap::CommandFactory;
use std::process::ExitCode;

pub fn run(ctx: &Context, args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "gpu-session", &mut script);
    ctx.printer.out(&String::from_utf8_lossy(&script))?;
    Ok(ExitCode::SUCCESS)
}
