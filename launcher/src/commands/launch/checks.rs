//! What `launch` checks before anything bills (Hub, image, SSH key, disk), the
//! prediction a real start is compared against, and the first-start wait.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use gpu_session_core::plan::Plan;
use gpu_session_core::recommend::GpuFit;
use indicatif::ProgressBar;

use crate::cli::ReadyTimeout;
use crate::cloud::preflight;
use crate::hub::{self, HubCheck};
use crate::output::{printable, Printer};
use crate::remote::first_start::{self, AgentStatus, Phase, Predicted, Remote};
use gpu_session_lambda::{ImageSpecification, InstanceTypes, LambdaClient};

/// What the Hub check tells the launch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HubFacts {
    /// The bytes SGLang will download, when known.
    pub checkpoint_bytes: Option<u64>,
    /// Whether `HF_TOKEN` goes to the instance ([`HubCheck::instance_needs_token`]).
    pub instance_needs_token: bool,
}

/// Asks the Hub (before any launch; in `--dry-run` too). A missing or unreadable
/// checkpoint is an error; an unreachable Hub only a warning.
pub fn check_hub(
    printer: &Printer,
    plan: &Plan,
    hf_token: Option<&str>,
) -> anyhow::Result<HubFacts> {
    let endpoint = hub::endpoint();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let checked = runtime.block_on(hub::check_checkpoint(
        &endpoint,
        &plan.model.checkpoint,
        hf_token,
    ))?;
    let instance_needs_token = checked.instance_needs_token();
    if hf_token.is_some() && !instance_needs_token {
        printer.detail(&format!(
            "{} is public: HF_TOKEN stays on this machine",
            plan.model.checkpoint
        ));
    }
    let checkpoint_bytes = match checked {
        HubCheck::Readable { download_bytes, .. } => {
            if let Some(b) = download_bytes {
                printer.detail(&format!(
                    "Hub: {} is readable; SGLang will download {:.1} GB",
                    plan.model.checkpoint,
                    b as f64 / 1e9
                ));
            }
            download_bytes
        }
        HubCheck::Unreachable(why) => {
            printer.warn(&format!(
                "could not check {} on the Hugging Face Hub from here ({why}); the instance will try anyway",
                plan.model.checkpoint
            ));
            None
        }
    };
    Ok(HubFacts {
        checkpoint_bytes,
        instance_needs_token,
    })
}

/// The launch request's image: the plan's family.
pub fn image_spec(plan: &Plan) -> ImageSpecification {
    ImageSpecification {
        family: preflight::image_family(plan).to_owned(),
    }
}

/// The Lambda-side checks: the plan's `regions` that offer the image family for the
/// instance's architecture (error when none), the SSH key matches a local one (skipped
/// when `ssh_key_name` is None: a dry run that cannot know the key), and the
/// instance's disk holds the checkpoint.
#[allow(clippy::too_many_arguments)]
pub async fn check_cloud(
    client: &LambdaClient,
    types: &InstanceTypes,
    plan: &Plan,
    regions: &[String],
    ssh_key_name: Option<&str>,
    ssh_key_path: Option<&Path>,
    checkpoint_bytes: Option<u64>,
    on_filesystem: bool,
) -> anyhow::Result<Vec<String>> {
    let instance_type = &plan.gpu.instance_type;
    if let Some(offered) = types.get(instance_type) {
        preflight::check_disk(
            instance_type,
            offered.instance_type.specs.storage_gib,
            checkpoint_bytes,
            on_filesystem,
        )?;
    }
    if let Some(name) = ssh_key_name {
        let keys = client.list_ssh_keys().await?;
        let key = keys
            .iter()
            .find(|k| k.name == name)
            .ok_or_else(|| anyhow!("SSH key '{name}' is not registered with Lambda"))?;
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from);
        preflight::check_local_key(key, ssh_key_path, home.as_deref())?;
    }
    let images = client.list_images().await?;
    preflight::regions_with_image(
        &images,
        preflight::image_family(plan),
        preflight::architecture(plan.gpu_type()?),
        regions,
    )
}

/// Core's prediction for one GPU of the plan's instance: the KV pool it sizes and the
/// weights each GPU holds.
pub fn predicted(row: &GpuFit) -> Predicted {
    Predicted {
        kv_pool_tokens: row.kv_pool_tokens,
        weights_gib: row.serving.weights as f64 / f64::from(1u32 << 30),
    }
}

/// `--ready-timeout`: the duration given, or for `auto` [`first_start::ready_timeout`].
pub fn ready_timeout(flag: ReadyTimeout, checkpoint_bytes: Option<u64>) -> Duration {
    match flag {
        ReadyTimeout::Auto => first_start::ready_timeout(checkpoint_bytes),
        ReadyTimeout::After(d) => d,
    }
}

/// Follows the instance's phase file while SGLang starts, and its lease agent's status.
/// Prints a line per new phase (and keeps the spinner's message current); a `failed:`
/// phase prints the log tail and returns the reason as an error. An agent that reports
/// it cannot act, or has not reported `armed` for this instance within
/// [`first_start::ARM_TIMEOUT`], is an error too: nothing would end the instance's
/// billing once `launch` is gone.
pub struct PhaseWatch {
    remote: Remote,
    instance_id: String,
    last_kind: Option<&'static str>,
    started: Instant,
    armed: bool,
    /// The last look read the `ready` phase (SGLang said it is fired up).
    ready: bool,
    arm_timeout: Duration,
}

impl PhaseWatch {
    /// Watches instance `instance_id` at `remote` over SSH.
    pub fn new(remote: Remote, instance_id: &str) -> Self {
        PhaseWatch {
            remote,
            instance_id: instance_id.to_owned(),
            last_kind: None,
            started: Instant::now(),
            armed: false,
            ready: false,
            arm_timeout: crate::test_hooks::TestHooks::get()
                .arm_timeout
                .unwrap_or(first_start::ARM_TIMEOUT),
        }
    }

    /// Whether the last look found SGLang's first start finished (phase `ready`).
    pub fn is_ready(&self) -> bool {
        self.ready
    }

    /// Whether the lease agent has reported it is armed for this instance.
    pub fn is_armed(&self) -> bool {
        self.armed
    }

    /// One look at the phase and the agent.
    pub async fn poll(
        &mut self,
        printer: &Printer,
        quiet_json: bool,
        bar: &ProgressBar,
    ) -> anyhow::Result<()> {
        let (phase, agent) = self.remote.look().await;
        self.ready = matches!(phase, Phase::Ready);
        self.check_agent(agent, printer, quiet_json, bar)?;
        let elapsed = self.started.elapsed().as_secs();
        let text = format!(
            "{} [{}:{:02}]",
            printable(&phase.describe()),
            elapsed / 60,
            elapsed % 60
        );
        bar.set_message(format!("First start: {text}"));
        if self.last_kind != Some(phase.kind()) {
            self.last_kind = Some(phase.kind());
            if !quiet_json {
                printer.note(&format!("Phase: {text}"));
            }
        }
        if let Phase::Failed(reason) = phase {
            bar.finish_and_clear();
            let reason = printable(&reason);
            let tail = self.remote.log_tail().await;
            printer.warn(&format!(
                "the instance reports a failed first start: {reason}\n--- last lines of {} on the instance ---\n{}",
                first_start::LOG_FILE,
                printable(tail.trim_end())
            ));
            bail!("first start failed on the instance: {reason}");
        }
        Ok(())
    }

    /// Notes the agent's arming; an error when it cannot act or is late.
    fn check_agent(
        &mut self,
        agent: AgentStatus,
        printer: &Printer,
        quiet_json: bool,
        bar: &ProgressBar,
    ) -> anyhow::Result<()> {
        if self.armed {
            return Ok(());
        }
        let waiting = match agent {
            AgentStatus::Armed(ids) if ids.contains(&self.instance_id) => {
                self.armed = true;
                if !quiet_json {
                    printer.note(&format!(
                        "Lease agent armed: it will terminate {} at the lease end or when idle.",
                        ids.join(", ")
                    ));
                }
                return Ok(());
            }
            AgentStatus::Armed(ids) => {
                bar.finish_and_clear();
                bail!(
                    "the lease agent armed itself for {} but not for this instance ({}), so nothing would end this instance's billing",
                    ids.join(", "),
                    self.instance_id
                );
            }
            AgentStatus::Error(why) => {
                bar.finish_and_clear();
                bail!("the lease agent on the instance cannot act, so nothing would end its billing: {why}");
            }
            AgentStatus::Arming(why) | AgentStatus::Unknown(why) => why,
        };
        if self.started.elapsed() >= self.arm_timeout {
            bar.finish_and_clear();
            bail!(
                "the lease agent did not report that it is armed within {} of the instance becoming active ({waiting}), so nothing would end its billing",
                humantime::format_duration(self.arm_timeout)
            );
        }
        Ok(())
    }
}
