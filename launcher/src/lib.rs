//! The `gpu-session` launcher: provisions a Lambda Cloud GPU that serves an LLM
//! with SGLang, and the calculator commands (models, estimate, gpus, plan) on top of
//! gpu-session-core.

// Public: what the binary (`main.rs`) and the integration tests use. The rest is
// internal.
pub mod cli;
pub mod cloud;
pub mod commands;
pub(crate) mod config_file;
pub mod context;
pub(crate) mod estimates;
pub(crate) mod hub;
pub mod instance;
pub(crate) mod loopback;
pub(crate) mod output;
pub(crate) mod plan_file;
pub(crate) mod remote;
pub(crate) mod test_hooks;

/// The lease agent, where the integration tests look for it.
pub use instance::lease_agent;

use std::io::Write;
use std::process::ExitCode;

/// Exit status of a failed command.
pub(crate) const EXIT_ERROR: u8 = 1;
/// Exit status of a command-line usage error (clap's own status).
pub(crate) const EXIT_USAGE: u8 = 2;

/// A usage error found after parsing, reported the way clap reports its own: exit
/// status 2.
pub(crate) fn usage_error(message: impl std::fmt::Display) -> anyhow::Error {
    usage_error_in(&[], message)
}

/// A usage error found after parsing (e.g. `models add` with some but not all flags),
/// reported the way clap reports its own, with the usage of the subcommand at `path`
/// (e.g. `["models", "add"]`): exit status 2.
pub(crate) fn usage_error_in(path: &[&str], message: impl std::fmt::Display) -> anyhow::Error {
    use clap::CommandFactory;
    let mut command = cli::Cli::command();
    command.build();
    error_in(&mut command, path, message.to_string()).into()
}

fn error_in(command: &mut clap::Command, path: &[&str], message: String) -> clap::Error {
    if let Some((name, rest)) = path.split_first() {
        if let Some(sub) = command.find_subcommand_mut(name) {
            return error_in(sub, rest, message);
        }
    }
    command.error(clap::error::ErrorKind::MissingRequiredArgument, message)
}

/// Print an error the CLI's way and return its exit status: clap errors as clap prints
/// them (status 2), everything else as `error: ...` with its causes (status 1).
pub fn report_error(err: &anyhow::Error) -> ExitCode {
    if let Some(clap_err) = err.downcast_ref::<clap::Error>() {
        let _ = clap_err.print();
        return ExitCode::from(u8::try_from(clap_err.exit_code()).unwrap_or(EXIT_USAGE));
    }
    // The chain may quote remote text (an API's message): printed without control codes.
    let _ = writeln!(
        std::io::stderr().lock(),
        "error: {}",
        output::printable(&format!("{err:#}"))
    );
    ExitCode::from(EXIT_ERROR)
}
