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

fn common_options(key: Option<&Path>) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec!["-o".into(), "StrictHostKeyChecking=accept-new".into()];
    if let Some(key) = key {
        args.push("-i".into());
        args.push(key.as_os_str().to_owned());
    }
    args
}

/// Arguments (without the program) for an interactive session:
/// `-o StrictHostKeyChecking=accept-new [-i KEY] ubuntu@IP`.
pub fn interactive_args(ip: &str, key: Option<&Path>) -> Vec<OsString> {
    let mut args = common_options(key);
    args.push(format!("{SSH_USER}@{ip}").into());
    args
}

/// Arguments (without the program) for a tunnel from `127.0.0.1:local_port` to
/// SGLang's `127.0.0.1:remote_port` on the instance:
/// `-N -L 127.0.0.1:LOCAL:127.0.0.1:REMOTE -o ExitOnForwardFailure=yes
///  -o StrictHostKeyChecking=accept-new [-i KEY] ubuntu@IP`.
pub fn tunnel_args(
    ip: &str,
    local_port: u16,
    remote_port: u16,
    key: Option<&Path>,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "-N".into(),
        "-L".into(),
        format!("127.0.0.1:{local_port}:{REMOTE_HOST}:{remote_port}").into(),
        "-o".into(),
        "ExitOnForwardFailure=yes".into(),
        "-o".into(),
        "ServerAliveInterval=30".into(),
    ];
    args.extend(common_options(key));
    args.push(format!("{SSH_USER}@{ip}").into());
    args
}

/// A `Command` for an interactive session (inherits the terminal).
pub fn interactive_command(ip: &str, key: Option<&Path>) -> Command {
    let mut cmd = Command::new(ssh_program());
    cmd.args(interactive_args(ip, key));
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
        log: Option<&Path>,
    ) -> Result<Tunnel, SshError> {
        let program = ssh_program();
        let stderr = log
            .and_then(|path| std::fs::File::create(path).ok())
            .map_or_else(Stdio::null, Stdio::from);
        let child = Command::new(&program)
            .args(tunnel_args(ip, local_port, remote_port, key))
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

    #[test]
    fn tunnel_argv() {
        let args = strings(tunnel_args(
            "1.2.3.4",
            30001,
            30000,
            Some(Path::new("/k/id_ed25519")),
        ));
        assert_eq!(
            args,
            [
                "-N",
                "-L",
                "127.0.0.1:30001:127.0.0.1:30000",
                "-o",
                "ExitOnForwardFailure=yes",
                "-o",
                "ServerAliveInterval=30",
                "-o",
                "StrictHostKeyChecking=accept-new",
                "-i",
                "/k/id_ed25519",
                "ubuntu@1.2.3.4"
            ]
        );
    }

    #[test]
    fn interactive_argv() {
        assert_eq!(
            strings(interactive_args("1.2.3.4", None)),
            ["-o", "StrictHostKeyChecking=accept-new", "ubuntu@1.2.3.4"]
        );
    }

    #[test]
    fn free_port_is_nonzero() {
        assert_ne!(free_local_port().unwrap(), 0);
    }
}
