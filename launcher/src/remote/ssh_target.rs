//! Reaching an instance this tool launched over SSH: which instance, its IP, the
//! private key to use, and ssh's exit status as ours. Shared by `ssh`, `tunnel`,
//! `extend` and `launch`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail};

use crate::cloud::instances;
use crate::cloud::Cloud;
use crate::context::Context;
use crate::remote::ssh;
use gpu_session_lambda::Instance;

/// The key `ssh.key_path` falls back to, as in the original tool.
const DEFAULT_KEY: &str = "~/.ssh/id_rsa";

/// An instance this tool launched, with what ssh needs to reach it.
pub struct SshTarget {
    pub instance: Instance,
    pub ip: String,
    pub key: Option<PathBuf>,
    pub host_keys: ssh::HostKeys,
}

/// Find the instance the user named (or the only one) and how to reach it over SSH.
pub fn ssh_target(ctx: &Context, instance: Option<&str>) -> anyhow::Result<SshTarget> {
    let cloud = Cloud::connect(ctx)?;
    let instance = cloud.block_on(instances::find_ours(&cloud.client, instance))?;
    let ip = public_ip(&instance)?.to_owned();
    let key = key_path(ctx)?;
    let host_keys = host_keys(ctx, &instance.id)?;
    Ok(SshTarget {
        instance,
        ip,
        key,
        host_keys,
    })
}

/// Where ssh keeps instance `id`'s host key: our known-hosts file, beside the config.
pub fn host_keys(ctx: &Context, instance_id: &str) -> anyhow::Result<ssh::HostKeys> {
    let file = ssh::HostKeys::file_beside(&ctx.config_path()?);
    Ok(ssh::HostKeys::new(file, instance_id)?)
}

/// The instance's public IP, or an error saying it has none yet.
pub fn public_ip(instance: &Instance) -> anyhow::Result<&str> {
    instance
        .ip
        .as_deref()
        .map(str::trim)
        .filter(|ip| !ip.is_empty())
        .ok_or_else(|| {
            anyhow!(
                "instance {} has no public IP address yet (status: {}); try again once it is active",
                instances::describe(instance),
                instance.status
            )
        })
}

/// The private key for ssh: the config's `ssh.key_path` (which must exist), else
/// `~/.ssh/id_rsa` if it exists, else none (ssh then uses its agent and defaults).
pub fn key_path(ctx: &Context) -> anyhow::Result<Option<PathBuf>> {
    match ctx.config()?.get("ssh.key_path") {
        Some(configured) => {
            let path = expand_home(&configured);
            if !path.is_file() {
                bail!(
                    "ssh.key_path in the config file names {}, which is not a file; \
                     fix it with `gpu-session configure --ssh-key-path PATH`",
                    path.display()
                );
            }
            Ok(Some(path))
        }
        None => Ok(Some(expand_home(DEFAULT_KEY)).filter(|p| p.is_file())),
    }
}

/// `~/x` with the home directory; other paths as they are.
fn expand_home(path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) if !home.is_empty() => Path::new(&home).join(rest),
        _ => PathBuf::from(path),
    }
}

/// ssh's exit status as ours (1 when it was killed by a signal).
pub fn exit_code(status: std::process::ExitStatus) -> ExitCode {
    match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        None => ExitCode::from(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_home() {
        let home = std::env::var_os("HOME");
        if let Some(home) = home.filter(|h| !h.is_empty()) {
            assert_eq!(
                expand_home("~/.ssh/id_rsa"),
                Path::new(&home).join(".ssh/id_rsa")
            );
        }
        assert_eq!(expand_home("/k/id"), PathBuf::from("/k/id"));
    }
}
