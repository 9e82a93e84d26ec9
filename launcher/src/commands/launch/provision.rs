//! Provisioning: check the offer, pick the SSH key and regions, launch where there is
//! capacity (optionally waiting for it), wait for boot, then for SGLang through a
//! tunnel, and print the endpoint.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use gpu_session_core::lease;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::checks;
use super::cleanup::{InFlight, Launched};
use super::forward::Forward;
use super::{
    build_request, deadline_after, output_duration, poll_interval, LaunchResult, Prepared,
};
use crate::cli::LaunchArgs;
use crate::cloud::instances;
use crate::context::Context;
use crate::instance::cloud_init::{self, UserDataInput};
use crate::output::{printable, Style};
use crate::remote::first_start;
use crate::remote::sglang::{self, SglangClient};
use crate::remote::ssh;
use gpu_session_lambda::{InstanceStatus, LambdaClient};

/// One launch in progress.
pub(super) struct Session<'a> {
    pub(super) ctx: &'a Context,
    pub(super) args: &'a LaunchArgs,
    pub(super) prepared: &'a Prepared,
    pub(super) client: &'a LambdaClient,
    pub(super) lambda_key: &'a str,
    pub(super) base_url: &'a str,
    pub(super) ssh_key_path: Option<PathBuf>,
    /// What the launch request has (or may have) created.
    pub(super) launched: RefCell<Launched>,
}

enum Outcome {
    Ready(Box<LaunchResult>),
    GroupReady(Box<super::group_flow::GroupResult>),
    Interrupted(&'static str),
}

/// What [`Session::preflight`] found.
pub(super) struct Preflight {
    pub(super) types: gpu_session_lambda::InstanceTypes,
    /// The type's live price, cents per hour per instance.
    pub(super) price: u64,
    pub(super) ssh_key: String,
    pub(super) regions: Vec<String>,
}

impl Session<'_> {
    pub(super) fn spinner(&self, message: String) -> ProgressBar {
        let hidden = self.args.json
            || self.ctx.printer.is_quiet()
            || !std::io::IsTerminal::is_terminal(&std::io::stderr());
        let bar = if hidden {
            ProgressBar::hidden()
        } else {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        };
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.set_message(message);
        bar
    }

    pub(super) fn note(&self, message: &str) {
        if !self.args.json {
            self.ctx.printer.note(message);
        }
    }

    pub(super) async fn run(&self) -> anyhow::Result<ExitCode> {
        // Listening before anything is sent: SIGTERM and SIGHUP clean up like Ctrl-C.
        let mut signals = Signals::listen();
        let group = crate::instance::group::is_group(&self.prepared.plan);
        let outcome = tokio::select! {
            result = self.flow(), if !group => result.map(|r| Outcome::Ready(Box::new(r))),
            result = self.group_flow(), if group => result.map(|r| Outcome::GroupReady(Box::new(r))),
            name = signals.recv() => Ok(Outcome::Interrupted(name)),
        };
        match outcome {
            Ok(Outcome::Ready(result)) => {
                // The instance is the user's now: a later panic must not terminate it.
                InFlight::disarm();
                self.print_result(&result)?;
                Ok(ExitCode::SUCCESS)
            }
            Ok(Outcome::GroupReady(result)) => {
                InFlight::disarm();
                self.print_group_result(&result)?;
                Ok(ExitCode::SUCCESS)
            }
            Ok(Outcome::Interrupted(name)) => {
                self.ctx.printer.warn(&format!("interrupted ({name})"));
                self.clean_up().await;
                Ok(ExitCode::from(signal_exit_status(name)))
            }
            Err(err) => {
                self.ctx
                    .printer
                    .warn(&printable(&format!("launch failed: {err:#}")));
                self.clean_up().await;
                Err(err)
            }
        }
    }

    /// Records what the launch has created, for clean-up and the panic hook.
    pub(super) fn set_launched(&self, launched: Launched) {
        InFlight::record(launched.clone());
        *self.launched.borrow_mut() = launched;
    }

    /// What every launch checks first: the offer and its live price, the SSH key, and
    /// the regions the checks leave.
    pub(super) async fn preflight(&self) -> anyhow::Result<Preflight> {
        let p = self.prepared;
        let plan = &p.plan;
        let client = self.client;

        let types = client.list_instance_types().await?;
        let offered = types.get(&plan.gpu.instance_type).ok_or_else(|| {
            anyhow!(
                "Lambda does not offer instance type {} (gpu.instance_type); see `gpu-session gpus --live`",
                plan.gpu.instance_type
            )
        })?;
        let price = offered.instance_type.price_cents_per_hour;
        self.note(&format!(
            "Live price: ${:.2}/h; lease of {} h ≈ ${:.2}",
            price as f64 / 100.0,
            plan.lease.hours,
            instances::lease_cost_usd(price, plan.lease.hours)
        ));

        let ssh_key = self.choose_ssh_key().await?;
        let regions = self.regions_with_filesystem().await?;
        let regions = checks::check_cloud(
            client,
            &types,
            plan,
            &regions,
            Some(&ssh_key),
            self.ssh_key_path.as_deref(),
            p.checkpoint_bytes,
            p.filesystem.is_some(),
        )
        .await?;
        Ok(Preflight {
            types,
            price,
            ssh_key,
            regions,
        })
    }

    async fn flow(&self) -> anyhow::Result<LaunchResult> {
        let p = self.prepared;
        let plan = &p.plan;
        let client = self.client;
        let Preflight {
            mut types,
            price,
            ssh_key,
            regions,
        } = self.preflight().await?;

        // Built before any launch, so a bad value fails first.
        let user_data = cloud_init::user_data(&UserDataInput {
            plan,
            hostname: &p.name,
            sglang_api_key: &p.sglang_key,
            lambda_api_key: self.lambda_key,
            lambda_api_url: self.base_url,
            hf_token: p.hf_token.as_deref(),
            filesystem: p.filesystem.as_deref(),
            first_start_limit: p.ready_timeout,
            checkpoint_bytes: p.checkpoint_bytes,
            member: None,
        })?;

        // Capacity: try regions in order; optionally wait.
        let capacity_deadline = p.wait_for_capacity.map(deadline_after);
        let mut waiting: Option<ProgressBar> = None;
        let (instance_id, region, launched_at) = loop {
            let availability = types.get(&plan.gpu.instance_type);
            let mut launched = None;
            for region in &regions {
                if !availability.is_some_and(|a| a.has_capacity_in(region)) {
                    self.ctx.printer.detail(&format!(
                        "no capacity for {} in {region}",
                        plan.gpu.instance_type
                    ));
                    continue;
                }
                let launched_at = instances::now_unix();
                let request = build_request(
                    plan,
                    region,
                    &ssh_key,
                    &p.name,
                    p.filesystem.as_deref(),
                    &user_data,
                    launched_at,
                );
                self.note(&format!(
                    "Launching {} in {region}...",
                    plan.gpu.instance_type
                ));
                self.set_launched(Launched::Maybe);
                let answer = client.launch(&request).await;
                if answer
                    .as_ref()
                    .is_err_and(|e| !e.is_server_error() && !e.is_connect())
                {
                    // A definite refusal (capacity, validation): nothing was created.
                    self.set_launched(Launched::Nothing);
                }
                match answer {
                    Ok(response) => {
                        let id = response.instance_ids.into_iter().next().ok_or_else(|| {
                            anyhow!("the launch succeeded but returned no instance id")
                        })?;
                        self.set_launched(Launched::Instance(id.clone()));
                        launched = Some((id, region.clone(), launched_at));
                        break;
                    }
                    Err(e) if e.is_insufficient_capacity() => {
                        self.note(&format!(
                            "No capacity in {region} after all; trying the next region."
                        ));
                    }
                    Err(e) if e.is_file_system_in_wrong_region() => {
                        self.note(&format!("File system not usable in {region}: {e}"));
                    }
                    Err(e) => return Err(anyhow!(e).context("launch failed")),
                }
            }
            if let Some(done) = launched {
                break done;
            }
            match capacity_deadline {
                Some(deadline) if Instant::now() < deadline => {
                    let bar = waiting.get_or_insert_with(|| {
                        self.spinner(format!(
                            "Waiting for capacity for {} in {}",
                            plan.gpu.instance_type,
                            regions.join(", ")
                        ))
                    });
                    bar.tick();
                    tokio::time::sleep(poll_interval()).await;
                    types = client.list_instance_types().await?;
                }
                _ => bail!(
                    "no capacity for {} in {} right now; try again later, add regions to the plan, \
                     or pass --wait-for-capacity 30m",
                    plan.gpu.instance_type,
                    regions.join(", ")
                ),
            }
        };
        if let Some(bar) = waiting {
            bar.finish_and_clear();
        }
        self.note(&format!(
            "Launched instance {instance_id} ({}) in {region}; it bills until terminated.",
            p.name
        ));

        // Boot.
        let bar = self.spinner(format!("Waiting for {} to boot", p.name));
        let boot_deadline = deadline_after(p.boot_timeout);
        let instance = loop {
            let instance = client.get_instance(&instance_id).await?;
            match instance.status {
                InstanceStatus::Active if instance.ip.is_some() => break instance,
                InstanceStatus::Unhealthy => {
                    bar.finish_and_clear();
                    bail!("instance {instance_id} became unhealthy while booting")
                }
                s if s.is_gone() => {
                    bar.finish_and_clear();
                    bail!("instance {instance_id} is {s} before it became active")
                }
                _ => {}
            }
            if Instant::now() >= boot_deadline {
                bar.finish_and_clear();
                bail!(
                    "instance {instance_id} was not active after {} (--boot-timeout); status: {}",
                    humantime::format_duration(self.args.boot_timeout),
                    instance.status
                );
            }
            tokio::time::sleep(poll_interval()).await;
        };
        bar.finish_and_clear();
        if crate::test_hooks::TestHooks::get().panic_after_active {
            panic!("test hook {}", crate::test_hooks::PANIC_AFTER_ACTIVE_ENV);
        }
        let ip = instance.ip.clone();
        self.note(&format!(
            "Instance is active at {}.",
            ip.as_deref().unwrap_or("?")
        ));

        // Readiness, through a tunnel, once sshd answers.
        let host = ip.as_deref().ok_or(ssh::SshError::NoIp)?;
        let host_keys = match self.ctx.config_path() {
            Ok(config) => ssh::HostKeys::new(ssh::HostKeys::file_beside(&config), &instance_id)?,
            Err(e) => bail!("cannot place the SSH known-hosts file: {e}"),
        };
        let port = ssh::free_local_port()?;
        let mut forward = Forward::new(
            client,
            instance_id.clone(),
            host.to_owned(),
            port,
            plan.serving.port,
            self.ssh_key_path.clone(),
            host_keys.clone(),
        );
        let bar = self.spinner(format!("Waiting for SSH on {host}"));
        forward
            .wait_for_ssh(&|why| bar.set_message(format!("Waiting for SSH on {host}: {why}")))
            .await?;
        bar.finish_and_clear();
        forward.open()?;
        let sglang_url = format!("http://127.0.0.1:{port}");
        let sglang = SglangClient::new(&sglang_url, &p.sglang_key)?;
        let remote = first_start::Remote {
            ip: host.to_owned(),
            key: self.ssh_key_path.clone(),
            host_keys,
        };
        let comparison = self
            .wait_ready(
                &sglang,
                &mut forward,
                checks::PhaseWatch::new(remote, &instance_id),
            )
            .await?;
        self.report_comparison(&instance_id, comparison);

        let lease_deadline = p.lease_deadline(launched_at);
        Ok(LaunchResult {
            instance_id,
            name: p.name.clone(),
            instance_type: plan.gpu.instance_type.clone(),
            region,
            ip,
            endpoint: sglang.endpoint(),
            model: plan.model.id.clone(),
            sglang_api_key: p.sglang_key.clone(),
            lease_deadline,
            lease_deadline_utc: instances::format_utc(lease_deadline),
            price_cents_per_hour: price,
            tunnel_pid: forward.detach(),
            predicted_vs_actual: comparison,
        })
    }

    async fn choose_ssh_key(&self) -> anyhow::Result<String> {
        let keys = self.client.list_ssh_keys().await?;
        let names: Vec<String> = keys.into_iter().map(|k| k.name).collect();
        match &self.args.ssh_key {
            Some(wanted) if names.contains(wanted) => Ok(wanted.clone()),
            Some(wanted) => bail!(
                "SSH key '{wanted}' is not registered with Lambda; registered keys: {}",
                if names.is_empty() { "none".to_owned() } else { names.join(", ") }
            ),
            None => match names.as_slice() {
                [only] => Ok(only.clone()),
                [] => bail!("the Lambda account has no SSH key; add one in the Lambda console, then pass --ssh-key NAME"),
                many => bail!(
                    "the Lambda account has several SSH keys; choose one with --ssh-key: {}",
                    many.join(", ")
                ),
            },
        }
    }

    /// The plan's regions, in order, keeping only those holding `--filesystem`.
    async fn regions_with_filesystem(&self) -> anyhow::Result<Vec<String>> {
        let regions = self.prepared.plan.gpu.regions.clone();
        let Some(fs_name) = &self.prepared.filesystem else {
            return Ok(regions);
        };
        let all = self.client.list_file_systems().await?;
        let homes: Vec<String> = all
            .iter()
            .filter(|f| &f.name == fs_name)
            .map(|f| f.region.name.clone())
            .collect();
        if homes.is_empty() {
            bail!("file system '{fs_name}' does not exist in this Lambda account (--filesystem)");
        }
        let usable: Vec<String> = regions
            .iter()
            .filter(|r| homes.contains(r))
            .cloned()
            .collect();
        for r in regions.iter().filter(|r| !homes.contains(r)) {
            self.ctx.printer.detail(&format!(
                "skipping {r}: file system '{fs_name}' is not there (file systems are regional)"
            ));
        }
        if usable.is_empty() {
            bail!(
                "file system '{fs_name}' is in {}, none of the plan's regions ({}); file systems are regional",
                homes.join(", "),
                regions.join(", ")
            );
        }
        Ok(usable)
    }

    /// SGLang through `forward` ready with the agent armed (`phases`), then a 1-token
    /// completion and SGLang's `/server_info` against the prediction.
    pub(super) async fn wait_ready(
        &self,
        sglang: &SglangClient,
        forward: &mut Forward<'_>,
        mut phases: checks::PhaseWatch,
    ) -> anyhow::Result<Option<first_start::Comparison>> {
        let p = self.prepared;
        let bar = self.spinner(format!(
            "Waiting for SGLang to load {} (downloads can take a while)",
            p.plan.model.checkpoint
        ));
        let deadline = deadline_after(p.ready_timeout);
        loop {
            let note = |m: &str| bar.suspend(|| self.ctx.printer.note(m));
            if let Err(e) = forward.keep_open(&note).await {
                bar.finish_and_clear();
                return Err(e);
            }
            phases.poll(&self.ctx.printer, self.args.json, &bar).await?;
            let why = match sglang.ready(&p.plan.model.id).await {
                Ok(()) if phases.is_armed() => break,
                Ok(()) => "SGLang is ready; the lease agent has not reported armed yet".to_owned(),
                Err(why) => why,
            };
            if Instant::now() >= deadline {
                bar.finish_and_clear();
                bail!(
                    "SGLang was not ready after {} (--ready-timeout {}): {why}",
                    output_duration(p.ready_timeout),
                    self.args.ready_timeout
                );
            }
            tokio::time::sleep(poll_interval()).await;
        }
        bar.finish_and_clear();
        sglang
            .complete_one_token(&p.plan.model.id)
            .await
            .map_err(|e| {
                anyhow!("SGLang answered its health check but not a chat completion: {e}")
            })?;
        self.note("A 1-token test completion succeeded.");
        match sglang.server_info().await {
            Ok(actual) => Ok(Some(first_start::Comparison {
                predicted: p.predicted,
                actual,
            })),
            Err(e) => {
                self.ctx
                    .printer
                    .warn(&format!("could not compare the estimate with SGLang: {e}"));
                Ok(None)
            }
        }
    }

    /// Prints predicted vs actual, warns past 10 %, and records both for `status --json`.
    pub(super) fn report_comparison(
        &self,
        instance_id: &str,
        comparison: Option<first_start::Comparison>,
    ) {
        let Some(c) = comparison else {
            return;
        };
        self.note(&c.table());
        for w in c.warnings() {
            self.ctx.printer.warn(&w);
        }
        let saved = self
            .ctx
            .config_path()
            .and_then(|path| first_start::save_record(&path, instance_id, c));
        if let Err(e) = saved {
            self.ctx
                .printer
                .detail(&format!("could not record predicted vs actual: {e}"));
        }
    }

    fn print_result(&self, r: &LaunchResult) -> anyhow::Result<()> {
        if self.args.json {
            return self.ctx.printer.json(r);
        }
        let curl = sglang::example_curl(&r.endpoint, &r.sglang_api_key, &r.model);
        let mut out = format!(
            "{}\n  Instance:  {} ({}) {} in {}, IP {}\n  Endpoint:  {}\n  Model:     {}\n  API key:   {}\n  Lease:     ends {} (idle limit {})\n",
            self.ctx.printer.paint(Style::Green, "SGLang is ready."),
            r.instance_id,
            r.name,
            r.instance_type,
            r.region,
            r.ip.as_deref().unwrap_or("?"),
            r.endpoint,
            r.model,
            r.sglang_api_key,
            r.lease_deadline_utc,
            lease::idle_limit_label(self.prepared.plan.lease.idle_minutes)
        );
        if let Some(pid) = r.tunnel_pid {
            out.push_str(&format!(
                "  Tunnel:    ssh pid {pid} (stop: kill {pid}; reopen: gpu-session tunnel {})\n",
                r.instance_id
            ));
        }
        out.push_str(&format!(
            "\nTry it:\n{curl}\n\nStop billing: gpu-session down {}\n",
            r.instance_id
        ));
        self.ctx.printer.out(&out)
    }
}

/// The signals that stop a launch and clean up: Ctrl-C, and on Unix SIGTERM (a
/// service manager, `kill`) and SIGHUP (a closed terminal or SSH session).
struct Signals {
    #[cfg(unix)]
    unix: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl Signals {
    fn listen() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let unix = signal(SignalKind::terminate())
                .and_then(|term| Ok((term, signal(SignalKind::hangup())?)))
                .ok();
            Signals { unix }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The name of the first signal that arrives.
    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        if let Some((term, hup)) = self.unix.as_mut() {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "Ctrl-C",
                _ = term.recv() => "SIGTERM",
                _ = hup.recv() => "SIGHUP",
            };
        }
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}

/// The shell's status for death by a signal: 128 + its number.
fn signal_exit_status(name: &str) -> u8 {
    match name {
        "SIGHUP" => 128 + 1,
        "SIGTERM" => 128 + 15,
        _ => 128 + 2,
    }
}
