//! The `ssh` command lines gpu-session runs: an interactive session and a port
//! forward (tunnel) to SGLang on the instance, plus spawning and killing a tunnel.
//!
//! The binary is `ssh` from `PATH`, or whatever `GPU_SESSION_SSH` names (tests
//! point it at a fake script).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Environment variable naming the ssh binary to run.
pub const SSH_ENV: &str = "GPU_SESSION_SSH";
/// The login user on Lambda's Ubuntu images.
pub const SSH_USER: &str = "ubuntu";
/// Where SGLang listens on the instance.
pub const REMOTE_HOST: &str = "127.0.0.1";
/// Seconds ssh waits for a TCP connection before giving up (`ConnectTimeout`): a
/// booting instance or a dropped network then fails fast and is retried, the way
/// SkyPilot's provisioner waits for SSH (sky/provision/provisioner.py), instead of
/// hanging for the kernel's two-minute SYN timeout.
pub const CONNECT_TIMEOUT_S: u32 = 10;
/// Our known-hosts file's name, next to the config file.
pub const KNOWN_HOSTS_FILE: &str = "known_hosts";

/// Errors starting or running ssh.
#[derive(Debug, thiserror::Error)]
pub enum SshError {
    #[error("could not start {program:?} (install OpenSSH or set {SSH_ENV}): {source}")]
    Spawn {
        program: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the SSH tunnel exited early ({status}); check the key and that the instance accepts SSH"
    )]
    TunnelExited { status: String },
    #[error("instance has no public IP address yet")]
    NoIp,
    #[error("could not find a free local port: {0}")]
    NoPort(std::io::Error),
    #[error("instance id {0:?} is not a Lambda instance id (letters, digits and '-' only)")]
    BadInstanceId(String),
}

/// Host keys of the instances this tool launched: in our own known-hosts file, each
/// under its instance id (`HostKeyAlias`), never the user's `~/.ssh/known_hosts`.
/// Lambda reuses public IPs, so a new instance on an old IP is a new host, not a
/// changed key; a changed key under the same instance id is still refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostKeys {
    file: PathBuf,
    alias: String,
}

impl HostKeys {
    /// The key of instance `id`, kept in `file`.
    pub fn new(file: PathBuf, instance_id: &str) -> Result<HostKeys, SshError> {
        let valid = !instance_id.is_empty()
            && instance_id.len() <= 64
            && instance_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !valid {
            return Err(SshError::BadInstanceId(instance_id.to_owned()));
        }
        Ok(HostKeys {
            file,
            alias: format!("gpu-session-{instance_id}"),
        })
    }

    /// Our known-hosts file next to the config file `config_path` (its directory is
    /// created, as ssh would not).
    pub fn file_beside(config_path: &Path) -> PathBuf {
        let dir = config_path.parent().unwrap_or(Path::new("."));
        let _ = std::fs::create_dir_all(dir);
        dir.join(KNOWN_HOSTS_FILE)
    }

    fn options(&self) -> Vec<OsString> {
        // ssh splits this option's value on spaces (it takes a list): quote the path.
        let mut file = OsString::from("UserKnownHostsFile=\"");
        file.push(self.file.as_os_str());
        file.push("\"");
        vec![
            "-o".into(),
            file,
            "-o".into(),
            "GlobalKnownHostsFile=/dev/null".into(),
            "-o".into(),
            format!("HostKeyAlias={}", self.alias).into(),
            "-o".into(),
            "StrictHostKeyChecking=accept-new".into(),
        ]
    }
}

/// The ssh program: `$GPU_SESSION_SSH`, else `ssh`.
pub fn ssh_program() -> PathBuf {
    std::env::var_os(SSH_ENV)
        .filter(|v| !v.is_empty())
        .map_or_else(|| PathBuf::from("ssh"), PathBuf::from)
}

/// What to say when the ssh program cannot be started.
pub fn cannot_start(program: &Path) -> String {
    format!(
        "could not start {} (install OpenSSH or set {SSH_ENV})",
        program.display()
    )
}

fn common_options(key: Option<&Path>, host_keys: &HostKeys) -> Vec<OsString> {
    let mut args = host_keys.options();
    if let Some(key) = key {
        args.push("-i".into());
        args.push(key.as_os_str().to_owned());
    }
    args
}

/// Arguments (without the program) for an interactive session:
/// `HOST-KEY OPTIONS [-i KEY] ubuntu@IP`.
pub fn interactive_args(ip: &str, key: Option<&Path>, host_keys: &HostKeys) -> Vec<OsString> {
    let mut args = common_options(key, host_keys);
    args.push(format!("{SSH_USER}@{ip}").into());
    args
}

/// Arguments (without the program) for a tunnel from `127.0.0.1:local_port` to
/// SGLang's `127.0.0.1:remote_port` on the instance:
/// `-N -L 127.0.0.1:LOCAL:127.0.0.1:REMOTE -o ExitOnForwardFailure=yes ...
///  HOST-KEY OPTIONS [-i KEY] ubuntu@IP`.
pub fn tunnel_args(
    ip: &str,
    local_port: u16,
    remote_port: u16,
    key: Option<&Path>,
    host_keys: &HostKeys,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "-N".into(),
        "-L".into(),
        format!("127.0.0.1:{local_port}:{REMOTE_HOST}:{remote_port}").into(),
        "-o".into(),
        "ExitOnForwardFailure=yes".into(),
        "-o".into(),
        "ServerAliveInterval=30".into(),
        "-o".into(),
        format!("ConnectTimeout={CONNECT_TIMEOUT_S}").into(),
    ];
    args.extend(common_options(key, host_keys));
    args.push(format!("{SSH_USER}@{ip}").into());
    args
}

/// Arguments (without the program) to run `command` on the instance without a
/// terminal or prompts: `-o BatchMode=yes -o ConnectTimeout=10 HOST-KEY OPTIONS
/// [-i KEY] ubuntu@IP COMMAND`. `command` is ours, never from a plan.
pub fn batch_args(
    ip: &str,
    key: Option<&Path>,
    host_keys: &HostKeys,
    command: &str,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "-o".into(),
        "BatchMode=yes".into(),
        "-o".into(),
        format!("ConnectTimeout={CONNECT_TIMEOUT_S}").into(),
    ];
    args.extend(common_options(key, host_keys));
    args.push(format!("{SSH_USER}@{ip}").into());
    args.push(command.into());
    args
}

/// A `Command` for an interactive session (inherits the terminal).
pub fn interactive_command(ip: &str, key: Option<&Path>, host_keys: &HostKeys) -> Command {
    let mut cmd = Command::new(ssh_program());
    cmd.args(interactive_args(ip, key, host_keys));
    cmd
}

/// A free TCP port on 127.0.0.1 (the OS picks one; it is released at once, so a
/// race with another program is possible but harmless: ssh then fails to bind
/// and `ExitOnForwardFailure` makes it exit).
pub fn free_local_port() -> Result<u16, SshError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).map_err(SshError::NoPort)?;
    let port = listener.local_addr().map_err(SshError::NoPort)?.port();
    Ok(port)
}

/// A running `ssh -N -L` child. Dropping it kills the child.
#[derive(Debug)]
pub struct Tunnel {
    child: Option<Child>,
}

impl Tunnel {
    /// Starts `ssh` with [`tunnel_args`]. Its stderr goes to `log` when given (so
    /// an authentication failure can be read there), else nowhere: a tunnel that
    /// outlives the CLI must not hold the CLI's output pipes open.
    pub fn spawn(
        ip: &str,
        local_port: u16,
        remote_port: u16,
        key: Option<&Path>,
        host_keys: &HostKeys,
        log: Option<&Path>,
    ) -> Result<Tunnel, SshError> {
        let program = ssh_program();
        let stderr = log
            .and_then(|path| std::fs::File::create(path).ok())
            .map_or_else(Stdio::null, Stdio::from);
        let child = Command::new(&program)
            .args(tunnel_args(ip, local_port, remote_port, key, host_keys))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .map_err(|source| SshError::Spawn { program, source })?;
        Ok(Tunnel { child: Some(child) })
    }

    /// An error if the child has already exited (a tunnel must keep running).
    pub fn check_alive(&mut self) -> Result<(), SshError> {
        if let Some(child) = self.child.as_mut() {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Err(SshError::TunnelExited {
                    status: status.to_string(),
                });
            }
        }
        Ok(())
    }

    /// Leaves the child running after this value is dropped (for `tunnel`, or a
    /// successful launch that keeps its tunnel); returns its pid.
    pub fn detach(mut self) -> Option<u32> {
        self.child.take().map(|c| c.id())
    }

    /// Kills the child and reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            // Reap without blocking forever on a child that ignores SIGKILL (it cannot).
            for _ in 0..50 {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: Vec<OsString>) -> Vec<String> {
        args.into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    fn host_keys() -> HostKeys {
        HostKeys::new(PathBuf::from("/c/known_hosts"), "0123abcd").unwrap()
    }

    const HOST_KEY_OPTIONS: [&str; 8] = [
        "-o",
        "UserKnownHostsFile=\"/c/known_hosts\"",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "HostKeyAlias=gpu-session-0123abcd",
        "-o",
        "StrictHostKeyChecking=accept-new",
    ];

    #[test]
    fn tunnel_argv() {
        let args = strings(tunnel_args(
            "1.2.3.4",
            30001,
            30000,
            Some(Path::new("/k/id_ed25519")),
            &host_keys(),
        ));
        let mut want = vec![
            "-N",
            "-L",
            "127.0.0.1:30001:127.0.0.1:30000",
            "-o",
            "ExitOnForwardFailure=yes",
            "-o",
            "ServerAliveInterval=30",
            "-o",
            "ConnectTimeout=10",
        ];
        want.extend(HOST_KEY_OPTIONS);
        want.extend(["-i", "/k/id_ed25519", "ubuntu@1.2.3.4"]);
        assert_eq!(args, want);
    }

    #[test]
    fn interactive_argv() {
        let mut want = HOST_KEY_OPTIONS.to_vec();
        want.push("ubuntu@1.2.3.4");
        assert_eq!(
            strings(interactive_args("1.2.3.4", None, &host_keys())),
            want
        );
    }

    #[test]
    fn batch_argv() {
        let mut want = vec!["-o", "BatchMode=yes", "-o", "ConnectTimeout=10"];
        want.extend(HOST_KEY_OPTIONS);
        want.extend(["ubuntu@1.2.3.4", "true"]);
        assert_eq!(
            strings(batch_args("1.2.3.4", None, &host_keys(), "true")),
            want
        );
    }

    #[test]
    fn host_key_alias_takes_only_instance_ids() {
        for bad in ["", "a b", "x;reboot", "a/b", &"a".repeat(65)] {
            assert!(HostKeys::new(PathBuf::from("k"), bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn free_port_is_nonzero() {
        assert_ne!(free_local_port().unwrap(), 0);
    }
}
