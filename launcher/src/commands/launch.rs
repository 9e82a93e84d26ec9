//! `gpu-session launch PLAN`: provision a Lambda GPU from a plan, serve the model
//! with SGLang, and print a ready-to-use local endpoint.
//!
//! Once an instance exists, every failure path (boot timeout, unhealthy,
//! SGLang never ready, Ctrl-C, any error) terminates it, unless
//! `--keep-on-failure` asks to keep it, in which case the CLI says loudly that it
//! is still billing and how to stop it.
//!
//! Testing hooks (environment variables):
//! - `GPU_SESSION_SGLANG_URL`: probe SGLang at this base URL instead of opening an
//!   SSH tunnel to the instance.
//! - `GPU_SESSION_POLL_INTERVAL_MS`: pause between status and readiness polls
//!   (default 10000).
//! - `GPU_SESSION_FAST_API=1`: millisecond retry backoff and launch spacing for the
//!   Lambda client, for a local fake API.

use std::cell::RefCell;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use gpu_session_core::plan::Plan;
use gpu_session_core::recommend::{evaluate, Fit};
use gpu_session_core::settings::EstimateMode;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::cli::LaunchArgs;
use crate::cloud::Cloud;
use crate::cloud_init::{self, UserDataInput};
use crate::context::Context;
use crate::first_start;
use crate::instances;
use crate::lambda::{resolve_base_url, InstanceStatus, LambdaClient, LaunchRequest};
use crate::launch_checks;
use crate::output::{self, Style};
use crate::ssh::{self, Tunnel};

/// Testing hook: SGLang's base URL, replacing the SSH tunnel.
pub const SGLANG_URL_ENV: &str = "GPU_SESSION_SGLANG_URL";
/// Testing hook: milliseconds between polls.
pub const POLL_INTERVAL_ENV: &str = "GPU_SESSION_POLL_INTERVAL_MS";
/// Testing hook: fast retries for a local fake API.
const DEFAULT_POLL: Duration = Duration::from_secs(10);
/// Placeholders `--dry-run` prints instead of secrets and choices made at launch.
const DRY_RUN_LAMBDA_KEY: &str = "LAMBDA-API-KEY-INSERTED-AT-LAUNCH";
const DRY_RUN_HF_TOKEN: &str = "HF-TOKEN-INSERTED-AT-LAUNCH";
const DRY_RUN_SSH_KEY: &str = "SSH-KEY-CHOSEN-AT-LAUNCH";
/// Attempts at terminating an instance after a failure.
const TERMINATE_ATTEMPTS: u32 = 5;

/// Parses `90s`, `30m`, `2h`, `1h30m` or plain seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("'{text}' is not a duration like 90s, 30m or 2h");
    if t.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = t.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut total: u64 = 0;
    let mut number = String::new();
    for c in t.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: u64 = number.parse().map_err(|_| bad())?;
        number.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(unit)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(bad)?;
    }
    if !number.is_empty() {
        return Err(bad());
    }
    Ok(Duration::from_secs(total))
}

fn duration_flag(flag: &str, value: &str) -> anyhow::Result<Duration> {
    parse_duration(value).map_err(|e| anyhow!("--{flag}: {e}"))
}

fn output_duration(d: Duration) -> String {
    let m = d.as_secs() / 60;
    format!("{} min", m.max(1))
}

fn poll_interval() -> Duration {
    std::env::var(POLL_INTERVAL_ENV)
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map_or(DEFAULT_POLL, Duration::from_millis)
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// What a successful launch prints with `--json`.
#[derive(Debug, Serialize)]
struct LaunchResult {
    instance_id: String,
    name: String,
    instance_type: String,
    region: String,
    ip: Option<String>,
    endpoint: String,
    model: String,
    sglang_api_key: String,
    lease_deadline: u64,
    lease_deadline_utc: String,
    price_cents_per_hour: u64,
    tunnel_pid: Option<u32>,
    /// Core's prediction next to what SGLang allocated (`/server_info`).
    predicted_vs_actual: Option<first_start::Comparison>,
}

#[derive(Debug, Serialize)]
struct DryRun<'a> {
    request: &'a LaunchRequest,
    user_data: &'a str,
}

struct Prepared {
    plan: Plan,
    name: String,
    sglang_key: String,
    hf_token: Option<String>,
    boot_timeout: Duration,
    ready_timeout: Duration,
    wait_for_capacity: Option<Duration>,
    checkpoint_bytes: Option<u64>,
    predicted: first_start::Predicted,
}

pub fn run(ctx: &Context, args: LaunchArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.plan)
        .with_context(|| format!("cannot read plan file {}", args.plan.display()))?;
    let plan = Plan::parse(&text).map_err(|e| anyhow!("plan file {}: {e}", args.plan.display()))?;
    let boot_timeout = duration_flag("boot-timeout", &args.boot_timeout)?;
    let wait_for_capacity = args
        .wait_for_capacity
        .as_deref()
        .map(|v| duration_flag("wait-for-capacity", v))
        .transpose()?;
    if let Some(fs) = &args.filesystem {
        cloud_init::validate_filesystem_name(fs).context("--filesystem")?;
    }

    // Recompute; never trust the file's estimate.
    let model = plan.resolve_model()?;
    let gpu = plan.gpu_type()?;
    let row = evaluate(&model, &plan.settings(), gpu, EstimateMode::Serving);
    if row.fit == Fit::No {
        ctx.printer.warn(&format!(
            "{} does not fit on {} at these settings: {}",
            model.id, gpu.instance_type, row.reason
        ));
    }
    if let Some(est) = &plan.estimate {
        if est.fit != row.fit {
            ctx.printer.warn(&format!(
                "the plan's estimate says '{}' but this gpu-session computes '{}' for {} on {}",
                est.fit.as_str(),
                row.fit.as_str(),
                model.id,
                gpu.instance_type
            ));
        }
    }

    let hf_token = env_nonempty("HF_TOKEN");
    if let Some(token) = &hf_token {
        cloud_init::check_value("HF_TOKEN (from the environment)", token)?;
    }
    // Issue 9: the Hub check runs before any launch, in --dry-run too.
    let checkpoint_bytes = launch_checks::check_hub(&ctx.printer, &plan, hf_token.as_deref())?;
    let ready_timeout = launch_checks::ready_timeout(&args.ready_timeout, checkpoint_bytes)
        .map_err(|e| anyhow!("--ready-timeout: {e}"))?;
    let predicted = launch_checks::predicted(&plan, &row)?;
    let prepared = Prepared {
        checkpoint_bytes,
        predicted,
        name: instances::new_instance_name(&plan.model.id),
        sglang_key: cloud_init::generate_sglang_api_key(),
        hf_token,
        plan,
        boot_timeout,
        ready_timeout,
        wait_for_capacity,
    };

    if args.dry_run {
        return dry_run(ctx, &args, &prepared);
    }

    let plan = &prepared.plan;
    let catalog_price = u64::from(gpu.price_cents_per_hour);
    if !args.json {
        ctx.printer.note(&format!(
            "Launch {} ({}) on {} in {}\n  price ${:.2}/h (catalog), lease {} h ≈ ${:.2}, idle limit {}",
            plan.model.id,
            plan.model.checkpoint,
            plan.gpu.instance_type,
            plan.gpu.regions.join(", "),
            catalog_price as f64 / 100.0,
            plan.lease.hours,
            instances::lease_cost_usd(catalog_price, plan.lease.hours),
            if plan.lease.idle_minutes == 0 {
                "off".to_owned()
            } else {
                format!("{} min", plan.lease.idle_minutes)
            },
        ));
    }
    if !args.yes {
        if !output::stdin_is_terminal() {
            bail!("not launching without confirmation: standard input is not a terminal; pass --yes to launch non-interactively");
        }
        let mut input = std::io::stdin().lock();
        let mut err = std::io::stderr();
        if !output::confirm(
            &mut input,
            &mut err,
            "Launch this instance (it bills until terminated)?",
        )? {
            ctx.printer.note("Not launched.");
            return Ok(ExitCode::SUCCESS);
        }
    }

    let cloud = Cloud::connect(ctx)?;
    let ssh_key_path = crate::commands::ssh::key_path(ctx)?;

    let session = Session {
        ctx,
        args: &args,
        prepared: &prepared,
        client: &cloud.client,
        lambda_key: cloud.key.expose_secret(),
        base_url: &cloud.base_url,
        ssh_key_path,
        launched: RefCell::new(None),
    };
    cloud.block_on(session.run())
}

fn dry_run(ctx: &Context, args: &LaunchArgs, p: &Prepared) -> anyhow::Result<ExitCode> {
    let base_url = resolve_base_url();
    let user_data = cloud_init::user_data(&UserDataInput {
        plan: &p.plan,
        hostname: &p.name,
        sglang_api_key: &p.sglang_key,
        lambda_api_key: DRY_RUN_LAMBDA_KEY,
        lambda_api_url: &base_url,
        hf_token: p.hf_token.as_ref().map(|_| DRY_RUN_HF_TOKEN),
        filesystem: args.filesystem.as_deref(),
        lease_deadline: instances::now_unix() + u64::from(p.plan.lease.hours) * 3600,
        checkpoint_bytes: p.checkpoint_bytes,
    })?;
    dry_run_cloud_checks(ctx, args, p)?;
    let request = build_request(
        &p.plan,
        &p.plan.gpu.regions[0],
        args.ssh_key.as_deref().unwrap_or(DRY_RUN_SSH_KEY),
        &p.name,
        args.filesystem.as_deref(),
        &user_data,
        instances::now_unix(),
    );
    if args.json {
        ctx.printer.json(&DryRun {
            request: &request,
            user_data: &user_data,
        })?;
    } else {
        let body = serde_json::to_string_pretty(&request).context("cannot encode the request")?;
        ctx.printer.out(&format!(
            "# Dry run: nothing was launched. POST {base_url}/instance-operations/launch with:\n{body}\n\n# user_data:\n{user_data}"
        ))?;
        ctx.printer.note(&format!(
            "Dry run: regions would be tried in order: {}. Secrets are shown as placeholders.",
            p.plan.gpu.regions.join(", ")
        ));
    }
    Ok(ExitCode::SUCCESS)
}

fn build_request(
    plan: &Plan,
    region: &str,
    ssh_key: &str,
    name: &str,
    filesystem: Option<&str>,
    user_data: &str,
    launched_at: u64,
) -> LaunchRequest {
    let mut request = LaunchRequest::new(region, &plan.gpu.instance_type, ssh_key);
    request.name = Some(name.to_owned());
    request.hostname = Some(name.to_owned());
    request.user_data = Some(user_data.to_owned());
    request.file_system_names = filesystem.map(|f| vec![f.to_owned()]).unwrap_or_default();
    request.tags = instances::launch_tags(&plan.model.id, launched_at, plan.lease.hours);
    request.image = Some(launch_checks::image_spec(plan));
    request
}

/// `--dry-run` makes the Lambda checks too when a key is configured (read-only calls).
fn dry_run_cloud_checks(ctx: &Context, args: &LaunchArgs, p: &Prepared) -> anyhow::Result<()> {
    let Ok(cloud) = Cloud::connect(ctx) else {
        ctx.printer.note(
            "Dry run: no Lambda API key, so the image, SSH key and disk checks were skipped.",
        );
        return Ok(());
    };
    let key_path = crate::commands::ssh::key_path(ctx)?;
    let key_checked = cloud.block_on(async {
        let types = cloud.client.list_instance_types().await?;
        let ssh_key = match &args.ssh_key {
            Some(k) => Some(k.clone()),
            None => match cloud.client.list_ssh_keys().await?.as_slice() {
                [only] => Some(only.name.clone()),
                _ => {
                    ctx.printer.note(
                        "Dry run: the account has no single SSH key; pass --ssh-key NAME to check it.",
                    );
                    None
                }
            },
        };
        launch_checks::check_cloud(
            &cloud.client,
            &types,
            &p.plan,
            &p.plan.gpu.regions,
            ssh_key.as_deref(),
            key_path.as_deref(),
            p.checkpoint_bytes,
            args.filesystem.is_some(),
        )
        .await?;
        Ok::<bool, anyhow::Error>(ssh_key.is_some())
    })?;
    ctx.printer.note(if key_checked {
        "Dry run: the image, SSH key and disk checks passed."
    } else {
        "Dry run: the image and disk checks passed."
    });
    Ok(())
}

/// One launch in progress.
struct Session<'a> {
    ctx: &'a Context,
    args: &'a LaunchArgs,
    prepared: &'a Prepared,
    client: &'a LambdaClient,
    lambda_key: &'a str,
    base_url: &'a str,
    ssh_key_path: Option<PathBuf>,
    /// The instance id once the API has created one.
    launched: RefCell<Option<String>>,
}

enum Outcome {
    Ready(Box<LaunchResult>),
    Interrupted,
}

impl Session<'_> {
    fn spinner(&self, message: String) -> ProgressBar {
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

    fn note(&self, message: &str) {
        if !self.args.json {
            self.ctx.printer.note(message);
        }
    }

    async fn run(&self) -> anyhow::Result<ExitCode> {
        let outcome = tokio::select! {
            result = self.flow() => result.map(|r| Outcome::Ready(Box::new(r))),
            _ = tokio::signal::ctrl_c() => Ok(Outcome::Interrupted),
        };
        match outcome {
            Ok(Outcome::Ready(result)) => {
                self.print_result(&result)?;
                Ok(ExitCode::SUCCESS)
            }
            Ok(Outcome::Interrupted) => {
                self.ctx.printer.warn("interrupted (Ctrl-C)");
                self.clean_up().await;
                Ok(ExitCode::from(130))
            }
            Err(err) => {
                self.ctx.printer.warn(&format!("launch failed: {err:#}"));
                self.clean_up().await;
                Err(err)
            }
        }
    }

    /// Terminates the launched instance (or any live instance carrying our name, in
    /// case the launch call was cut off), or explains how to with --keep-on-failure.
    async fn clean_up(&self) {
        let mut ids: Vec<String> = self.launched.borrow().iter().cloned().collect();
        if ids.is_empty() {
            match self.client.list_instances().await {
                Ok(list) => ids.extend(
                    list.into_iter()
                        .filter(|i| {
                            i.name.as_deref() == Some(self.prepared.name.as_str())
                                && !i.status.is_gone()
                        })
                        .map(|i| i.id),
                ),
                Err(e) => {
                    self.ctx.printer.warn(&format!(
                        "could not check whether an instance named {} was created: {e}; \
                         run `gpu-session status` to make sure nothing is left running",
                        self.prepared.name
                    ));
                    return;
                }
            }
        }
        for id in ids {
            if self.args.keep_on_failure {
                let msg = format!(
                    "instance {id} ({}) was KEPT because of --keep-on-failure and is STILL BILLING.\n  \
                     Terminate it with: gpu-session down {id}",
                    self.prepared.name
                );
                self.ctx
                    .printer
                    .warn(&self.ctx.printer.paint(Style::Red, &msg));
                continue;
            }
            let mut done = false;
            for attempt in 1..=TERMINATE_ATTEMPTS {
                match self.client.terminate(std::slice::from_ref(&id)).await {
                    Ok(_) => {
                        done = true;
                        break;
                    }
                    Err(e) if e.is_not_found() => {
                        done = true;
                        break;
                    }
                    Err(e) => {
                        self.ctx.printer.warn(&format!(
                            "terminating {id} failed (attempt {attempt} of {TERMINATE_ATTEMPTS}): {e}"
                        ));
                        tokio::time::sleep(poll_interval().min(Duration::from_secs(5))).await;
                    }
                }
            }
            if done {
                self.ctx.printer.note(&format!(
                    "Terminated instance {id} ({}) so it does not keep billing.",
                    self.prepared.name
                ));
            } else {
                let msg = format!(
                    "COULD NOT TERMINATE instance {id}: it is STILL BILLING. Run: gpu-session down {id}"
                );
                self.ctx
                    .printer
                    .warn(&self.ctx.printer.paint(Style::Red, &msg));
            }
        }
    }

    async fn flow(&self) -> anyhow::Result<LaunchResult> {
        let p = self.prepared;
        let plan = &p.plan;
        let client = self.client;

        let mut types = client.list_instance_types().await?;
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
        let regions = launch_checks::check_cloud(
            client,
            &types,
            plan,
            &regions,
            Some(&ssh_key),
            self.ssh_key_path.as_deref(),
            p.checkpoint_bytes,
            self.args.filesystem.is_some(),
        )
        .await?;

        let user_data_at = |launched_at: u64| {
            cloud_init::user_data(&UserDataInput {
                plan,
                hostname: &p.name,
                sglang_api_key: &p.sglang_key,
                lambda_api_key: self.lambda_key,
                lambda_api_url: self.base_url,
                hf_token: p.hf_token.as_deref(),
                filesystem: self.args.filesystem.as_deref(),
                lease_deadline: launched_at + u64::from(plan.lease.hours) * 3600,
                checkpoint_bytes: p.checkpoint_bytes,
            })
        };
        // Fail on a bad value before any launch.
        user_data_at(instances::now_unix())?;

        // Capacity: try regions in order; optionally wait.
        let capacity_deadline = p.wait_for_capacity.map(|d| Instant::now() + d);
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
                let user_data = user_data_at(launched_at)?;
                let request = build_request(
                    plan,
                    region,
                    &ssh_key,
                    &p.name,
                    self.args.filesystem.as_deref(),
                    &user_data,
                    launched_at,
                );
                self.note(&format!(
                    "Launching {} in {region}...",
                    plan.gpu.instance_type
                ));
                match client.launch(&request).await {
                    Ok(response) => {
                        let id = response.instance_ids.into_iter().next().ok_or_else(|| {
                            anyhow!("the launch succeeded but returned no instance id")
                        })?;
                        *self.launched.borrow_mut() = Some(id.clone());
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
        let boot_deadline = Instant::now() + p.boot_timeout;
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
                    self.args.boot_timeout,
                    instance.status
                );
            }
            tokio::time::sleep(poll_interval()).await;
        };
        bar.finish_and_clear();
        let ip = instance.ip.clone();
        self.note(&format!(
            "Instance is active at {}.",
            ip.as_deref().unwrap_or("?")
        ));

        // Readiness, through a tunnel (or the testing hook's URL).
        let (sglang_url, tunnel) = match env_nonempty(SGLANG_URL_ENV) {
            Some(url) => (url.trim_end_matches('/').to_owned(), None),
            None => {
                let ip = ip.as_deref().ok_or(ssh::SshError::NoIp)?;
                let port = ssh::free_local_port()?;
                let log = std::env::temp_dir().join(format!("{}-tunnel.log", p.name));
                self.ctx
                    .printer
                    .detail(&format!("ssh tunnel log: {}", log.display()));
                let tunnel = Tunnel::spawn(
                    ip,
                    port,
                    plan.serving.port,
                    self.ssh_key_path.as_deref(),
                    Some(&log),
                )?;
                (format!("http://127.0.0.1:{port}"), Some(tunnel))
            }
        };
        let mut tunnel = tunnel;
        // Phases are read over SSH, except with the URL testing hook and no fake ssh.
        let remote = ip
            .as_ref()
            .filter(|_| {
                env_nonempty(SGLANG_URL_ENV).is_none() || env_nonempty(ssh::SSH_ENV).is_some()
            })
            .map(|ip| first_start::Remote {
                ip: ip.clone(),
                key: self.ssh_key_path.clone(),
            });
        let comparison = self
            .wait_ready(
                &sglang_url,
                &mut tunnel,
                launch_checks::PhaseWatch::new(remote),
            )
            .await?;
        self.report_comparison(&instance_id, comparison);

        let lease_deadline = launched_at + u64::from(plan.lease.hours) * 3600;
        Ok(LaunchResult {
            instance_id,
            name: p.name.clone(),
            instance_type: plan.gpu.instance_type.clone(),
            region,
            ip,
            endpoint: format!("{sglang_url}/v1"),
            model: plan.model.id.clone(),
            sglang_api_key: p.sglang_key.clone(),
            lease_deadline,
            lease_deadline_utc: instances::format_utc(lease_deadline),
            price_cents_per_hour: price,
            tunnel_pid: tunnel.and_then(Tunnel::detach),
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
        let Some(fs_name) = &self.args.filesystem else {
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

    async fn wait_ready(
        &self,
        base: &str,
        tunnel: &mut Option<Tunnel>,
        mut phases: launch_checks::PhaseWatch,
    ) -> anyhow::Result<Option<first_start::Comparison>> {
        let p = self.prepared;
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .context("could not build an HTTP client")?;
        let bar = self.spinner(format!(
            "Waiting for SGLang to load {} (downloads can take a while)",
            p.plan.model.checkpoint
        ));
        let deadline = Instant::now() + p.ready_timeout;
        loop {
            if let Some(t) = tunnel.as_mut() {
                if let Err(e) = t.check_alive() {
                    bar.finish_and_clear();
                    return Err(e.into());
                }
            }
            phases.poll(&self.ctx.printer, self.args.json, &bar).await?;
            let why = match self.probe(&http, base).await {
                Ok(()) => break,
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
        first_start::one_token_completion(&http, base, &p.sglang_key, &p.plan.model.id)
            .await
            .map_err(|e| {
                anyhow!("SGLang answered its health check but not a chat completion: {e}")
            })?;
        self.note("A 1-token test completion succeeded.");
        match first_start::read_server_info(&http, base, &p.sglang_key).await {
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
    fn report_comparison(&self, instance_id: &str, comparison: Option<first_start::Comparison>) {
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

    /// One readiness check: `/health_generate` 200 and the model in `/v1/models`.
    async fn probe(&self, http: &reqwest::Client, base: &str) -> Result<(), String> {
        let p = self.prepared;
        let health = http
            .get(format!("{base}/health_generate"))
            .send()
            .await
            .map_err(|e| format!("health check failed: {e}"))?;
        if !health.status().is_success() {
            return Err(format!("/health_generate answered {}", health.status()));
        }
        let models = http
            .get(format!("{base}/v1/models"))
            .bearer_auth(&p.sglang_key)
            .send()
            .await
            .map_err(|e| format!("/v1/models failed: {e}"))?;
        if !models.status().is_success() {
            return Err(format!("/v1/models answered {}", models.status()));
        }
        let body: serde_json::Value = models
            .json()
            .await
            .map_err(|e| format!("/v1/models is not JSON: {e}"))?;
        let served = body["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|m| m["id"] == p.plan.model.id.as_str()));
        if served {
            Ok(())
        } else {
            Err(format!("/v1/models does not list {}", p.plan.model.id))
        }
    }

    fn print_result(&self, r: &LaunchResult) -> anyhow::Result<()> {
        if self.args.json {
            return self.ctx.printer.json(r);
        }
        let body = serde_json::json!({
            "model": r.model,
            "messages": [{"role": "user", "content": "Hello!"}],
        });
        let curl = format!(
            "curl {}/chat/completions \\\n  -H 'Authorization: Bearer {}' \\\n  -H 'Content-Type: application/json' \\\n  -d '{}'",
            r.endpoint, r.sglang_api_key, body
        );
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
            match self.prepared.plan.lease.idle_minutes {
                0 => "off".to_owned(),
                m => format!("{m} min"),
            }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("45"), Ok(Duration::from_secs(45)));
        for bad in ["", "h", "5x", "10m5", "-3s", "99999999999999999999h"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
