//! `gpu-session configure`: store the Lambda API key and launch defaults in the
//! config file.
//!
//! On a terminal it asks for everything not given as a flag (the key without
//! echo); with `--api-key-stdin` it reads the key from standard input and asks
//! nothing. The key is checked with one `GET /instance-types` before anything is
//! written, and is never printed.

use std::io::{self, BufRead};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context as _};
use gpu_session_core::config::ConfigDocument;
use gpu_session_core::plan::{DEFAULT_LEASE_HOURS, MAX_LEASE_HOURS};
use gpu_session_core::validate;
use gpu_session_core::yaml::Value;

use crate::cli::ConfigureArgs;
use crate::cloud::Cloud;
use crate::config_file;
use crate::context::Context;
use crate::output;
use gpu_session_lambda::ApiKey;

/// Defaults the original tool used, offered when the config has no value yet.
const DEFAULT_REGION: &str = "us-west-1";
const DEFAULT_FILESYSTEM: &str = "coding-stack";
const DEFAULT_SSH_KEY_PATH: &str = "~/.ssh/id_rsa";

/// The values `configure` writes.
#[derive(Debug)]
struct Settings {
    api_key: ApiKey,
    region: String,
    filesystem: Option<String>,
    lease_hours: u32,
    ssh_key_path: String,
}

pub fn run(ctx: &Context, args: ConfigureArgs) -> anyhow::Result<ExitCode> {
    // Flags are checked before any prompt or network call.
    check_flags(&args)?;
    let mut doc = ctx.config()?.document.clone();
    let current = |path: &str| {
        doc.get_str(path)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let interactive = !args.api_key_stdin && output::stdin_is_terminal();
    if !args.api_key_stdin && !interactive {
        bail!(
            "standard input is not a terminal, so the API key cannot be asked for; \
             pipe it in with --api-key-stdin, e.g. `echo \"$KEY\" | gpu-session configure --api-key-stdin`"
        );
    }
    let settings = if interactive {
        ask(&args, &current)?
    } else {
        from_flags(&args, read_key_from_stdin()?, &current)?
    };
    check_key(ctx, &settings.api_key)?;
    write(ctx, &mut doc, settings)
}

/// The flags' values, each against its rule.
fn check_flags(args: &ConfigureArgs) -> anyhow::Result<()> {
    if let Some(region) = &args.region {
        validate_region(region)?;
    }
    if let Some(fs) = &args.filesystem {
        validate_filesystem(fs)?;
    }
    if let Some(hours) = args.lease_hours {
        validate_lease_hours(hours)?;
    }
    Ok(())
}

/// Without a terminal: `api_key`, and for the rest the flags, else the config's
/// values, else the defaults.
fn from_flags(
    args: &ConfigureArgs,
    api_key: ApiKey,
    current: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Settings> {
    Ok(Settings {
        api_key,
        region: args
            .region
            .clone()
            .or_else(|| current("lambda.default_region"))
            .unwrap_or_else(|| DEFAULT_REGION.to_owned()),
        filesystem: args
            .filesystem
            .clone()
            .or_else(|| current("lambda.filesystem_name")),
        lease_hours: match args.lease_hours {
            Some(h) => h,
            None => current_lease_hours(current)?,
        },
        ssh_key_path: args
            .ssh_key_path
            .as_ref()
            .map(|p| p.display().to_string())
            .or_else(|| current("ssh.key_path"))
            .unwrap_or_else(|| DEFAULT_SSH_KEY_PATH.to_owned()),
    })
}

/// `settings` into the config document, saved.
fn write(ctx: &Context, doc: &mut ConfigDocument, settings: Settings) -> anyhow::Result<ExitCode> {
    doc.set(
        "lambda.api_key",
        Value::String(settings.api_key.expose_secret().to_owned()),
    );
    doc.set("lambda.default_region", Value::String(settings.region));
    if let Some(fs) = settings.filesystem {
        doc.set("lambda.filesystem_name", Value::String(fs));
    }
    doc.set(
        "defaults.lease_hours",
        Value::Number(settings.lease_hours.into()),
    );
    doc.set("ssh.key_path", Value::String(settings.ssh_key_path));
    let path = ctx.config_path()?;
    config_file::save(&path, doc)?;
    ctx.printer
        .out(&format!("Configuration written to {}\n", path.display()))?;
    Ok(ExitCode::SUCCESS)
}

/// Checks the key with one `GET /instance-types`; nothing is written when it fails.
fn check_key(ctx: &Context, key: &ApiKey) -> anyhow::Result<()> {
    let cloud = Cloud::with_key(key.clone())?;
    ctx.printer.detail("Checking the API key with Lambda...");
    let result = cloud.block_on(cloud.client.list_instance_types());
    match result {
        Ok(_) => Ok(()),
        Err(err) if err.is_invalid_key() => Err(anyhow!(
            "Lambda rejected the API key (invalid, expired or deleted); nothing was written. \
             Create a key at https://cloud.lambda.ai/api-keys and run `gpu-session configure` again"
        )),
        Err(err) => Err(anyhow!(err).context("could not check the API key; nothing was written")),
    }
}

/// Reads the key from standard input: the first non-empty line.
fn read_key_from_stdin() -> anyhow::Result<ApiKey> {
    let stdin = io::stdin();
    for line in stdin.lock().lines() {
        let line = line.context("could not read the API key from standard input")?;
        if !line.trim().is_empty() {
            return Ok(ApiKey::new(line)?);
        }
    }
    bail!("no API key on standard input (--api-key-stdin expects the key as the first line)")
}

/// The interactive wizard, for everything not given as a flag.
fn ask(args: &ConfigureArgs, current: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Settings> {
    let api_key = ask_api_key(current("lambda.api_key"))?;
    let region = match &args.region {
        Some(r) => r.clone(),
        None => prompt_valid(
            "Default region",
            &current("lambda.default_region").unwrap_or_else(|| DEFAULT_REGION.to_owned()),
            validate_region,
        )?,
    };
    let filesystem = match &args.filesystem {
        Some(fs) => Some(fs.clone()),
        None => ask_filesystem(current)?,
    };
    let lease_hours = match args.lease_hours {
        Some(h) => h,
        None => ask_lease_hours(current)?,
    };
    let ssh_key_path = match &args.ssh_key_path {
        Some(p) => p.display().to_string(),
        None => prompt_valid(
            "SSH private key",
            &current("ssh.key_path").unwrap_or_else(|| DEFAULT_SSH_KEY_PATH.to_owned()),
            |_| Ok(()),
        )?,
    };
    Ok(Settings {
        api_key,
        region,
        filesystem,
        lease_hours,
        ssh_key_path,
    })
}

/// The API key, without echo, until one is valid; Enter keeps `existing`.
fn ask_api_key(existing: Option<String>) -> anyhow::Result<ApiKey> {
    let hint = if existing.is_some() {
        " (Enter keeps the configured one)"
    } else {
        ""
    };
    loop {
        let typed = rpassword::prompt_password(format!("Lambda API key{hint}: "))
            .context("could not read the API key from the terminal")?;
        let typed = typed.trim();
        if typed.is_empty() {
            if let Some(key) = &existing {
                return Ok(ApiKey::new(key.as_str())?);
            }
            eprintln!("An API key is required (create one at https://cloud.lambda.ai/api-keys).");
            continue;
        }
        match ApiKey::new(typed) {
            Ok(key) => return Ok(key),
            Err(err) => eprintln!("{err}"),
        }
    }
}

/// The file system for the model cache; "-" for none.
fn ask_filesystem(current: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Option<String>> {
    let default =
        current("lambda.filesystem_name").unwrap_or_else(|| DEFAULT_FILESYSTEM.to_owned());
    let answer = prompt_valid(
        "File system for the model cache (\"-\" for none)",
        &default,
        |v| {
            if v == "-" {
                Ok(())
            } else {
                validate_filesystem(v)
            }
        },
    )?;
    Ok((answer != "-").then_some(answer))
}

/// The lease in hours, the config's (else the default) on Enter.
fn ask_lease_hours(current: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<u32> {
    let default = current_lease_hours(current).unwrap_or(DEFAULT_LEASE_HOURS);
    let answer = prompt_valid("Lease in hours", &default.to_string(), |v| {
        parse_lease_hours(v).map(|_| ())
    })?;
    parse_lease_hours(&answer)
}

/// Asks until the answer (or the default, on Enter) passes `validate`.
fn prompt_valid(
    question: &str,
    default: &str,
    validate: impl Fn(&str) -> anyhow::Result<()>,
) -> anyhow::Result<String> {
    loop {
        let answer = output::ask(
            &mut io::stdin().lock(),
            &mut io::stderr(),
            question,
            Some(default),
        )
        .context("configuration stopped; nothing was written")?;
        match validate(&answer) {
            Ok(()) => return Ok(answer),
            Err(err) => eprintln!("{err}"),
        }
    }
}

fn current_lease_hours(current: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<u32> {
    match current("defaults.lease_hours") {
        Some(v) => parse_lease_hours(&v).context("the config file's defaults.lease_hours"),
        None => Ok(DEFAULT_LEASE_HOURS),
    }
}

fn parse_lease_hours(value: &str) -> anyhow::Result<u32> {
    let hours: u32 = value.trim().parse().map_err(|_| {
        anyhow!("lease hours must be a whole number from 1 to {MAX_LEASE_HOURS}, got {value:?}")
    })?;
    validate_lease_hours(hours)?;
    Ok(hours)
}

fn validate_lease_hours(hours: u32) -> anyhow::Result<()> {
    if (1..=MAX_LEASE_HOURS).contains(&hours) {
        Ok(())
    } else {
        bail!("--lease-hours must be from 1 to {MAX_LEASE_HOURS}, got {hours}")
    }
}

/// A region as a plan's `gpu.regions` accepts it (core's one rule).
pub fn validate_region(region: &str) -> anyhow::Result<()> {
    Ok(validate::region("--region", region)?)
}

/// A file system name as launch and user_data accept it (core's one rule).
pub fn validate_filesystem(name: &str) -> anyhow::Result<()> {
    Ok(validate::filesystem_name("--filesystem", name)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validates_flags() {
        assert!(validate_region("us-east-1").is_ok());
        assert!(validate_region("US East").is_err());
        assert!(validate_region("").is_err());
        assert!(validate_filesystem("coding-stack").is_ok());
        assert!(validate_filesystem("a b").is_err());
        assert!(validate_lease_hours(0).is_err());
        assert!(validate_lease_hours(MAX_LEASE_HOURS + 1).is_err());
        assert_eq!(parse_lease_hours(" 6 ").unwrap(), 6);
        assert!(parse_lease_hours("six").is_err());
    }
}
