//! `gpu-session extend`: push an instance's lease deadline further out.
//!
//! The lease agent on the instance reads its deadline (Unix seconds) from
//! [`DEADLINE_FILE`]. `extend` rewrites that file over SSH with a fixed script in
//! which the only variable part is the validated number of seconds to add; the
//! script itself caps the deadline at boot + [`MAX_LEASE_HOURS`]. The new
//! deadline is also recorded in the config folder, so `status` can show it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};

use anyhow::{anyhow, bail};
use gpu_session_core::plan::MAX_LEASE_HOURS;

use crate::cli::ExtendArgs;
use crate::commands::ssh::{ssh_target, SshTarget};
use crate::config_file;
use crate::context::Context;
use crate::instances;
use crate::ssh;

/// Where the lease agent keeps the deadline, as Unix seconds.
pub const DEADLINE_FILE: &str = crate::lease_agent::DEADLINE_FILE;
/// Extensions recorded locally (instance id → deadline), beside the config file.
const EXTENSIONS_FILE: &str = "lease-extensions.json";

pub fn run(ctx: &Context, args: ExtendArgs) -> anyhow::Result<ExitCode> {
    if !(1..=MAX_LEASE_HOURS).contains(&args.hours) {
        return Err(crate::usage_error(format!(
            "HOURS must be from 1 to {MAX_LEASE_HOURS}, got {}",
            args.hours
        )));
    }
    let SshTarget { instance, ip, key } = ssh_target(ctx, args.instance.as_deref())?;
    let ip = ip.as_str();

    let mut argv = vec!["-o".into(), "BatchMode=yes".into()];
    argv.extend(ssh::interactive_args(ip, key.as_deref()));
    argv.push(remote_command(args.hours).into());
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
        .map_err(|err| {
            anyhow!(err).context(format!(
                "could not start {} (install OpenSSH or set {})",
                program.display(),
                ssh::SSH_ENV
            ))
        })?;
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
    record_extension(ctx, &instance.id, deadline);

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
    ctx.printer.out(&text)?;
    Ok(ExitCode::SUCCESS)
}

/// The remote command: a fixed script; `hours` (already validated) is the only
/// value in it. Prints the new deadline, and `capped` when the cap applied.
pub fn remote_command(hours: u32) -> String {
    let add = u64::from(hours) * 3600;
    let cap = u64::from(MAX_LEASE_HOURS) * 3600;
    format!(
        "sudo sh -c 'set -e; f={DEADLINE_FILE}; cur=$(tr -d \" \\r\\n\\t\" < \"$f\"); \
         case \"$cur\" in \"\"|*[!0-9]*) echo \"unreadable lease deadline in $f\" >&2; exit 3;; esac; \
         now=$(date +%s); up=$(cut -d. -f1 /proc/uptime); cap=$((now - up + {cap})); \
         new=$((cur + {add})); \
         if [ \"$new\" -gt \"$cap\" ]; then new=$cap; echo capped; fi; \
         printf \"%s\\n\" \"$new\" > \"$f.tmp\"; mv \"$f.tmp\" \"$f\"; echo \"$new\"'"
    )
}

fn extensions_path(ctx: &Context) -> Option<PathBuf> {
    let config = ctx.config_path().ok()?;
    Some(config.parent()?.join(EXTENSIONS_FILE))
}

/// Deadlines `extend` set, by instance id. A missing or unreadable file is empty:
/// this is a display aid, not a source of truth.
pub(crate) fn load_extensions(ctx: &Context) -> BTreeMap<String, u64> {
    extensions_path(ctx)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

fn save_extensions(ctx: &Context, map: &BTreeMap<String, u64>) {
    let Some(path) = extensions_path(ctx) else {
        return;
    };
    let written = serde_json::to_vec_pretty(map)
        .map_err(std::io::Error::other)
        .and_then(|bytes| config_file::write_atomic(&path, &bytes, config_file::CONFIG_MODE));
    if let Err(err) = written {
        ctx.printer.detail(&format!(
            "could not record the lease in {}: {err}",
            path.display()
        ));
    }
}

fn record_extension(ctx: &Context, id: &str, deadline: u64) {
    let mut map = load_extensions(ctx);
    map.insert(id.to_owned(), deadline);
    save_extensions(ctx, &map);
}

/// Drops the records of terminated instances.
pub(crate) fn forget_extensions(ctx: &Context, ids: &[String]) {
    let mut map = load_extensions(ctx);
    let before = map.len();
    map.retain(|id, _| !ids.contains(id));
    if map.len() != before {
        save_extensions(ctx, &map);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_command_holds_only_the_number() {
        let cmd = remote_command(2);
        assert!(cmd.contains("new=$((cur + 7200))"), "{cmd}");
        assert!(cmd.contains(&format!("+ {}", 24 * 3600)), "{cmd}");
        assert!(cmd.starts_with("sudo sh -c '") && cmd.ends_with('\''));
        // One single-quoted script: no other single quotes inside.
        assert_eq!(cmd.matches('\'').count(), 2);
    }
}
