//! The SSH side of a launch: wait until the instance's sshd answers (it lags the
//! API's `active`), hold the tunnel to SGLang open, and re-open it when the network
//! drops it while the instance is still healthy.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, bail};

use super::{deadline_after, poll_interval};
use crate::output::printable;
use crate::remote::ssh::{self, HostKeys, Tunnel};
use gpu_session_lambda::{InstanceStatus, LambdaClient};

/// How long sshd may take to answer after the API says `active`: Lambda's images
/// start sshd within a minute or two of boot, and cloud-init's first boot (package
/// updates, our user_data) can hold it back for several; a network outage of a few
/// minutes while re-opening is covered too. Past this the instance is not reachable.
pub const SSH_READY_TIMEOUT: Duration = Duration::from_secs(10 * 60);
/// Longest one probe may take: ssh's `ConnectTimeout` plus the login and `true`.
const SSH_PROBE_TIMEOUT: Duration = Duration::from_secs(30);
/// Times a dropped tunnel is re-opened during one launch before the launch fails: a
/// flaky network gets several chances across a first start of up to an hour, a
/// tunnel that dies on every start (a port in use, a key refused) does not loop.
pub const TUNNEL_REOPENS: u32 = 5;
/// Lines of ssh's own output quoted when a tunnel cannot be kept open.
const SSH_LOG_LINES: usize = 5;

/// The tunnel `127.0.0.1:local_port` → SGLang on the instance, kept open.
pub struct Forward<'a> {
    pub client: &'a LambdaClient,
    pub instance_id: String,
    pub ip: String,
    pub local_port: u16,
    pub remote_port: u16,
    pub key: Option<PathBuf>,
    pub host_keys: HostKeys,
    tunnel: Option<Tunnel>,
    /// ssh's stderr: a private temporary file, removed when the tunnel is replaced or
    /// this value dropped (a detached tunnel keeps writing to the unlinked file).
    log: Option<tempfile::NamedTempFile>,
    reopens: u32,
}

impl<'a> Forward<'a> {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        client: &'a LambdaClient,
        instance_id: String,
        ip: String,
        local_port: u16,
        remote_port: u16,
        key: Option<PathBuf>,
        host_keys: HostKeys,
    ) -> Self {
        Forward {
            client,
            instance_id,
            ip,
            local_port,
            remote_port,
            key,
            host_keys,
            tunnel: None,
            log: None,
            reopens: 0,
        }
    }

    /// One `ssh ... true`: Ok when sshd let us in.
    async fn probe(&self) -> Result<(), String> {
        let run = tokio::process::Command::new(ssh::ssh_program())
            .args(ssh::batch_args(
                &self.ip,
                self.key.as_deref(),
                &self.host_keys,
                "true",
            ))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output();
        let output = tokio::time::timeout(SSH_PROBE_TIMEOUT, run)
            .await
            .map_err(|_| format!("ssh took longer than {} s", SSH_PROBE_TIMEOUT.as_secs()))?
            .map_err(|e| format!("could not run ssh: {e}"))?;
        if output.status.success() {
            return Ok(());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        Err(printable(
            stderr.lines().last().unwrap_or("no output").trim(),
        ))
    }

    /// An error unless the API still reports the instance active.
    async fn check_healthy(&self) -> anyhow::Result<()> {
        let instance = self.client.get_instance(&self.instance_id).await?;
        match instance.status {
            InstanceStatus::Active => Ok(()),
            s => bail!("instance {} is {s}, not active", self.instance_id),
        }
    }

    /// Waits until sshd answers, probing every poll interval, while the instance
    /// stays active, for at most [`SSH_READY_TIMEOUT`].
    pub async fn wait_for_ssh(&self, on_wait: &dyn Fn(&str)) -> anyhow::Result<()> {
        let deadline = deadline_after(SSH_READY_TIMEOUT);
        loop {
            let why = match self.probe().await {
                Ok(()) => return Ok(()),
                Err(why) => why,
            };
            if std::time::Instant::now() >= deadline {
                bail!(
                    "SSH to {} did not answer within {} min: {why}",
                    self.ip,
                    SSH_READY_TIMEOUT.as_secs() / 60
                );
            }
            on_wait(&why);
            self.check_healthy().await?;
            tokio::time::sleep(poll_interval()).await;
        }
    }

    /// Starts the tunnel (replacing a dead one and its log).
    pub fn open(&mut self) -> anyhow::Result<()> {
        let log = tempfile::Builder::new()
            .prefix("gpu-session-ssh-")
            .suffix(".log")
            .tempfile()
            .map_err(|e| anyhow!("could not create the ssh log file: {e}"))?;
        self.tunnel = Some(Tunnel::spawn(
            &self.ip,
            self.local_port,
            self.remote_port,
            self.key.as_deref(),
            &self.host_keys,
            Some(log.path()),
        )?);
        self.log = Some(log);
        Ok(())
    }

    /// The last lines ssh wrote, for an error message.
    fn log_tail(&self) -> String {
        let text = self
            .log
            .as_ref()
            .and_then(|f| std::fs::read_to_string(f.path()).ok())
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        printable(&lines[lines.len().saturating_sub(SSH_LOG_LINES)..].join("\n"))
    }

    /// Re-opens the tunnel if it has exited, as long as the instance is healthy and
    /// [`TUNNEL_REOPENS`] allows; `note` says what happens.
    pub async fn keep_open(&mut self, note: &dyn Fn(&str)) -> anyhow::Result<()> {
        let Some(tunnel) = self.tunnel.as_mut() else {
            return Ok(());
        };
        let Err(exited) = tunnel.check_alive() else {
            return Ok(());
        };
        let tail = self.log_tail();
        if self.reopens >= TUNNEL_REOPENS {
            bail!(
                "{exited}; re-opened {TUNNEL_REOPENS} times already, giving up{}",
                if tail.is_empty() {
                    String::new()
                } else {
                    format!("\nssh said: {tail}")
                }
            );
        }
        self.reopens += 1;
        note(&format!(
            "The SSH tunnel dropped ({}); re-opening it (attempt {} of {TUNNEL_REOPENS}).",
            if tail.is_empty() {
                exited.to_string()
            } else {
                tail
            },
            self.reopens
        ));
        self.check_healthy().await?;
        self.wait_for_ssh(&|_| {}).await?;
        self.open()
    }

    /// Leaves the tunnel running after the launch; its pid.
    pub fn detach(mut self) -> Option<u32> {
        self.tunnel.take().and_then(Tunnel::detach)
    }
}
