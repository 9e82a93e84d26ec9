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
    build_request, deadline_after, output_duration, poll_interval, poll_until, LaunchResult,
    Prepared,
};
use crate::cli::LaunchArgs;
use crate::cloud::instances;
use crate::context::Context;
use crate::instance::group::Member;
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

/// The instance a launch request created.
struct Created {
    instance_id: String,
    region: String,
    /// When the request left (Unix seconds): the lease counts from it.
    launched_at: u64,
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

    /// The user_data of the instance named `hostname` (alone, or `member` of a group).
    pub(super) fn user_data(
        &self,
        hostname: &str,
        member: Option<Member>,
    ) -> anyhow::Result<String> {
        let p = self.prepared;
        Ok(p.user_data(
            hostname,
            member,
            self.lambda_key,
            self.base_url,
            p.hf_token.as_deref(),
        )?)
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

    /// The single-instance launch, in the order of the book's "What launch does, step
    /// by step".
    async fn flow(&self) -> anyhow::Result<LaunchResult> {
        let Preflight {
            types,
            price,
            ssh_key,
            regions,
        } = self.preflight().await?;
        // Built before any launch, so a bad value fails first.
        let user_data = self.user_data(&self.prepared.name, None)?;
        let created = self
            .launch_where_capacity(types, &regions, &ssh_key, &user_data)
            .await?;
        self.note(&format!(
            "Launched instance {} ({}) in {}; it bills until terminated.",
            created.instance_id, self.prepared.name, created.region
        ));
        let ip = self.wait_active(&created.instance_id).await?;

        // Readiness, through a tunnel, once sshd answers.
        let host = ip.as_deref().ok_or(ssh::SshError::NoIp)?;
        let (mut forward, remote) = self.tunnel_when_ssh(&created.instance_id, host).await?;
        let watch = checks::PhaseWatch::new(remote, &created.instance_id);
        let (endpoint, comparison) = self.check_sglang(&mut forward, watch).await?;
        Ok(self.launch_result(created, ip, price, endpoint, forward.detach(), comparison))
    }

    /// Capacity: the regions tried in order, again every poll while
    /// `--wait-for-capacity` lasts.
    async fn launch_where_capacity(
        &self,
        mut types: gpu_session_lambda::InstanceTypes,
        regions: &[String],
        ssh_key: &str,
        user_data: &str,
    ) -> anyhow::Result<Created> {
        let mut wait = CapacityWait::new(self, regions);
        let created = loop {
            if let Some(created) = self
                .launch_in_first_region(&types, regions, ssh_key, user_data)
                .await?
            {
                break created;
            }
            types = wait.again().await?;
        };
        wait.done();
        Ok(created)
    }

    /// One pass over `regions`: the launch in the first that has capacity and takes
    /// the request; `None` when none did.
    async fn launch_in_first_region(
        &self,
        types: &gpu_session_lambda::InstanceTypes,
        regions: &[String],
        ssh_key: &str,
        user_data: &str,
    ) -> anyhow::Result<Option<Created>> {
        let instance_type = &self.prepared.plan.gpu.instance_type;
        let availability = types.get(instance_type);
        for region in regions {
            if !availability.is_some_and(|a| a.has_capacity_in(region)) {
                self.ctx
                    .printer
                    .detail(&format!("no capacity for {instance_type} in {region}"));
                continue;
            }
            if let Some(created) = self.launch_in(region, ssh_key, user_data).await? {
                return Ok(Some(created));
            }
        }
        Ok(None)
    }

    /// The launch request for `region`, sent once recorded as maybe created.
    async fn launch_in(
        &self,
        region: &str,
        ssh_key: &str,
        user_data: &str,
    ) -> anyhow::Result<Option<Created>> {
        let p = self.prepared;
        let launched_at = instances::now_unix();
        let request = build_request(
            &p.plan,
            region,
            ssh_key,
            &p.name,
            p.filesystem.as_deref(),
            user_data,
            launched_at,
        );
        self.note(&format!(
            "Launching {} in {region}...",
            p.plan.gpu.instance_type
        ));
        self.set_launched(Launched::Maybe);
        let answer = self.client.launch(&request).await;
        self.created_in(answer, region, launched_at)
    }

    /// What the launch request in `region` created, recorded; `None` when Lambda
    /// refused it for capacity or the file system's region after all.
    fn created_in(
        &self,
        answer: Result<gpu_session_lambda::LaunchResponse, gpu_session_lambda::LambdaError>,
        region: &str,
        launched_at: u64,
    ) -> anyhow::Result<Option<Created>> {
        if answer
            .as_ref()
            .is_err_and(|e| !e.is_server_error() && !e.is_connect())
        {
            // A definite refusal (capacity, validation): nothing was created.
            self.set_launched(Launched::Nothing);
        }
        match answer {
            Ok(response) => {
                let id =
                    response.instance_ids.into_iter().next().ok_or_else(|| {
                        anyhow!("the launch succeeded but returned no instance id")
                    })?;
                self.set_launched(Launched::Instance(id.clone()));
                Ok(Some(Created {
                    instance_id: id,
                    region: region.to_owned(),
                    launched_at,
                }))
            }
            Err(e) if e.is_insufficient_capacity() => {
                self.note(&format!(
                    "No capacity in {region} after all; trying the next region."
                ));
                Ok(None)
            }
            Err(e) if e.is_file_system_in_wrong_region() => {
                self.note(&format!("File system not usable in {region}: {e}"));
                Ok(None)
            }
            Err(e) => Err(anyhow!(e).context("launch failed")),
        }
    }

    /// Boot: the instance active with a public IP, within `--boot-timeout`; its IP.
    async fn wait_active(&self, instance_id: &str) -> anyhow::Result<Option<String>> {
        let bar = self.spinner(format!("Waiting for {} to boot", self.prepared.name));
        let boot_deadline = deadline_after(self.prepared.boot_timeout);
        let look = async || {
            let instance = self.client.get_instance(instance_id).await?;
            match instance.status {
                InstanceStatus::Active if instance.ip.is_some() => return Ok(Ok(instance)),
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
            Ok(Err(instance.status.to_string()))
        };
        let instance = poll_until(&bar, boot_deadline, look, |status| {
            anyhow!(
                "instance {instance_id} was not active after {} (--boot-timeout); status: {status}",
                humantime::format_duration(self.args.boot_timeout)
            )
        })
        .await?;
        if crate::test_hooks::TestHooks::get().panic_after_active {
            panic!("test hook {}", crate::test_hooks::PANIC_AFTER_ACTIVE_ENV);
        }
        self.note(&format!(
            "Instance is active at {}.",
            instance.ip.as_deref().unwrap_or("?")
        ));
        Ok(instance.ip)
    }

    /// SSH: the tunnel from a free local port to SGLang on `host`, open once sshd
    /// answers, and the SSH access that reads the first start's phases.
    async fn tunnel_when_ssh(
        &self,
        instance_id: &str,
        host: &str,
    ) -> anyhow::Result<(Forward<'_>, first_start::Remote)> {
        let host_keys = ssh::HostKeys::new(self.host_keys_file()?, instance_id)?;
        let port = ssh::free_local_port()?;
        let mut forward = self.forward(instance_id, host, port, host_keys.clone());
        let bar = self.spinner(format!("Waiting for SSH on {host}"));
        forward
            .wait_for_ssh(&|why| bar.set_message(format!("Waiting for SSH on {host}: {why}")))
            .await?;
        bar.finish_and_clear();
        forward.open()?;
        let remote = first_start::Remote {
            ip: host.to_owned(),
            key: self.ssh_key_path.clone(),
            host_keys,
        };
        Ok((forward, remote))
    }

    /// The tunnel `127.0.0.1:local_port` to SGLang's port on instance `instance_id`
    /// at `ip`, not yet open (port 0: for waiting on sshd only).
    pub(super) fn forward(
        &self,
        instance_id: &str,
        ip: &str,
        local_port: u16,
        host_keys: ssh::HostKeys,
    ) -> Forward<'_> {
        Forward::new(
            self.client,
            instance_id.to_owned(),
            ip.to_owned(),
            local_port,
            self.prepared.plan.serving.port,
            self.ssh_key_path.clone(),
            host_keys,
        )
    }

    /// The known-hosts file the launch's SSH uses, beside the config file.
    pub(super) fn host_keys_file(&self) -> anyhow::Result<PathBuf> {
        match self.ctx.config_path() {
            Ok(config) => Ok(ssh::HostKeys::file_beside(&config)),
            Err(e) => bail!("cannot place the SSH known-hosts file: {e}"),
        }
    }

    /// SGLang through the open tunnel `forward`, checked: ready with the agent armed
    /// (`watch`), a 1-token completion, predicted vs actual reported. Its endpoint.
    pub(super) async fn check_sglang(
        &self,
        forward: &mut Forward<'_>,
        watch: checks::PhaseWatch,
    ) -> anyhow::Result<(String, Option<first_start::Comparison>)> {
        let sglang = SglangClient::new(
            &format!("http://127.0.0.1:{}", forward.local_port),
            &self.prepared.sglang_key,
        )?;
        let comparison = self.wait_ready(&sglang, forward, watch).await?;
        let id = forward.instance_id.clone();
        self.report_comparison(&id, comparison);
        Ok((sglang.endpoint(), comparison))
    }

    /// What the launch prints once SGLang is ready.
    fn launch_result(
        &self,
        created: Created,
        ip: Option<String>,
        price: u64,
        endpoint: String,
        tunnel_pid: Option<u32>,
        comparison: Option<first_start::Comparison>,
    ) -> LaunchResult {
        let p = self.prepared;
        let lease_deadline = p.lease_deadline(created.launched_at);
        LaunchResult {
            instance_id: created.instance_id,
            name: p.name.clone(),
            instance_type: p.plan.gpu.instance_type.clone(),
            region: created.region,
            ip,
            endpoint,
            model: p.plan.model.id.clone(),
            sglang_api_key: p.sglang_key.clone(),
            lease_deadline,
            lease_deadline_utc: instances::format_utc(lease_deadline),
            price_cents_per_hour: price,
            tunnel_pid,
            predicted_vs_actual: comparison,
        }
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
        let look = async || {
            let note = |m: &str| bar.suspend(|| self.ctx.printer.note(m));
            if let Err(e) = forward.keep_open(&note).await {
                bar.finish_and_clear();
                return Err(e);
            }
            phases.poll(&self.ctx.printer, self.args.json, &bar).await?;
            Ok(match sglang.ready(&p.plan.model.id).await {
                Ok(()) if phases.is_armed() => Ok(()),
                Ok(()) => {
                    Err("SGLang is ready; the lease agent has not reported armed yet".to_owned())
                }
                Err(why) => Err(why),
            })
        };
        poll_until(&bar, deadline, look, |why| {
            anyhow!(
                "SGLang was not ready after {} (--ready-timeout {}): {why}",
                output_duration(p.ready_timeout),
                self.args.ready_timeout
            )
        })
        .await?;
        self.first_completion(sglang).await
    }

    /// A 1-token completion, then SGLang's `/server_info` against the prediction
    /// (`None`, with a warning, when SGLang does not say).
    async fn first_completion(
        &self,
        sglang: &SglangClient,
    ) -> anyhow::Result<Option<first_start::Comparison>> {
        let p = self.prepared;
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

/// Waiting for capacity while `--wait-for-capacity` lasts: a spinner, a poll, a fresh
/// listing of the instance types; past the deadline (or without the flag), the error
/// that says what to do.
pub(super) struct CapacityWait<'s> {
    session: &'s Session<'s>,
    regions: &'s [String],
    deadline: Option<Instant>,
    spinner: Option<ProgressBar>,
}

impl<'s> CapacityWait<'s> {
    pub(super) fn new(session: &'s Session<'s>, regions: &'s [String]) -> Self {
        CapacityWait {
            session,
            regions,
            deadline: session.prepared.wait_for_capacity.map(deadline_after),
            spinner: None,
        }
    }

    /// After a pass found no capacity: the instance types listed again once the poll
    /// interval has passed, or the error when the wait is over.
    pub(super) async fn again(&mut self) -> anyhow::Result<gpu_session_lambda::InstanceTypes> {
        let instance_type = &self.session.prepared.plan.gpu.instance_type;
        let regions = self.regions.join(", ");
        match self.deadline {
            Some(deadline) if Instant::now() < deadline => {
                let session = self.session;
                let bar = self.spinner.get_or_insert_with(|| {
                    session.spinner(format!(
                        "Waiting for capacity for {instance_type} in {regions}"
                    ))
                });
                bar.tick();
                tokio::time::sleep(poll_interval()).await;
                Ok(self.session.client.list_instance_types().await?)
            }
            _ => {
                self.done();
                bail!(
                    "no capacity for {instance_type} in {regions} right now; try again later, add regions to the plan, \
                     or pass --wait-for-capacity 30m"
                )
            }
        }
    }

    pub(super) fn done(&mut self) {
        if let Some(bar) = self.spinner.take() {
            bar.finish_and_clear();
        }
    }
}
