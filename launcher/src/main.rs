//! The `gpu-session` binary: parse the command line, run one command, map the outcome
//! to an exit code (0 ok, 1 error, 2 usage), stay quiet on a closed pipe.

use clap::Parser;
use gpu_session::cli::{Cli, Command};
use gpu_session::commands;
use gpu_session::context::Context;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let ctx = match Context::new(&cli.global) {
        Ok(ctx) => ctx,
        Err(err) => return gpu_session::report_error(&err),
    };
    let result = match cli.command {
        Command::Models(args) => commands::models::run(&ctx, args),
        Command::Estimate(args) => commands::estimate::run(&ctx, args),
        Command::Gpus(args) => commands::gpus::run(&ctx, args),
        Command::Plan(args) => commands::plan::run(&ctx, args),
        Command::Launch(args) => commands::launch::run(&ctx, args),
        Command::Status(args) => commands::status::run(&ctx, args),
        Command::Down(args) => commands::down::run(&ctx, args),
        Command::Ssh(args) => commands::ssh::run(&ctx, args),
        Command::Tunnel(args) => commands::tunnel::run(&ctx, args),
        Command::Extend(args) => commands::extend::run(&ctx, args),
        Command::Configure(args) => commands::configure::run(&ctx, args),
        Command::Completions(args) => commands::completions::run(&ctx, args),
    };
    match result {
        Ok(code) => code,
        Err(err) => gpu_session::report_error(&err),
    }
}
