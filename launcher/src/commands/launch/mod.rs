//! `gpu-session launch PLAN`: provision a Lambda GPU from a plan, serve the model
//! with SGLang, and print a ready-to-use local endpoint.
//!
//! [`dry_run`] prints the request and user_data without launching; [`provision`]
//! launches, waits for boot and for SGLang (through [`crate::remote::sglang`]); [`cleanup`]
//! terminates the instance on any failure.
//!
//! Once an instance exists, every failure path (boot timeout, unhealthy,
//! SGLang never ready, Ctrl-C, any error) terminates it, unless
//! `--keep-on-failure` asks to keep it, in which case the CLI says loudly that it
//! is still billing and how to stop it.
//!
//! Tests shorten its polls with a hook (`crate::test_hooks`) and reach the fake
//! SGLang through a fake ssh (`GPU_SESSION_SSH`), like a real instance.

mod checks;
mod cleanup;
mod dry_run;
mod forward;
mod group_flow;
mod provision;

use std::cell::RefCell;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use gpu_session_core::gpu::GpuType;
use gpu_session_core::lease;
use gpu_session_core::plan::Plan;
use gpu_session_core::recommend::{Fit, GpuFit};
use gpu_session_core::validate;

use crate::cli::LaunchArgs;
use crate::cloud::instances;
use crate::cloud::Cloud;
use crate::context::Context;
use crate::instance::cloud_init::{self, UserDataInput};
use crate::instance::group::{self, Member};
use crate::output;
use crate::remote::first_start;
use crate::remote::ssh_target;
use gpu_session_lambda::LaunchRequest;
use indicatif::ProgressBar;
use provision::Session;

/// Pause between status and readiness polls.
const DEFAULT_POLL: Duration = Duration::from_secs(10);
/// The config key `--filesystem` falls back to (`configure` writes it).
const FILESYSTEM_KEY: &str = "lambda.filesystem_name";

/// A duration as whole minutes, for messages.
fn output_duration(d: Duration) -> String {
    format!("{} min", (d.as_secs() / 60).max(1))
}

/// `now + d`, or a year from now should `d` overflow the clock (flags cannot ask for
/// more: `cli::MAX_DURATION_FLAG`), never a panic after an instance exists.
fn deadline_after(d: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(d)
        .or_else(|| now.checked_add(crate::cli::MAX_DURATION_FLAG))
        .unwrap_or(now)
}

fn poll_interval() -> Duration {
    crate::test_hooks::TestHooks::get()
        .poll_interval
        .unwrap_or(DEFAULT_POLL)
}

/// Looks every poll interval until `look` says ready (`Ok(Ok(value))`) and clears
/// `bar`; a not-yet (`Ok(Err(why))`) past `deadline` clears `bar` and ends as
/// `timed_out(why)`. An error of `look` ends the wait as it is.
async fn poll_until<T>(
    bar: &ProgressBar,
    deadline: Instant,
    mut look: impl AsyncFnMut() -> anyhow::Result<Result<T, String>>,
    timed_out: impl FnOnce(String) -> anyhow::Error,
) -> anyhow::Result<T> {
    loop {
        let why = match look().await {
            Ok(Ok(value)) => {
                bar.finish_and_clear();
                return Ok(value);
            }
            Ok(Err(why)) => why,
            // A failed look (a tunnel that cannot be re-opened) ends the wait: the
            // spinner goes before the error is printed.
            Err(e) => {
                bar.finish_and_clear();
                return Err(e);
            }
        };
        if Instant::now() >= deadline {
            bar.finish_and_clear();
            return Err(timed_out(why));
        }
        tokio::time::sleep(poll_interval()).await;
    }
}

fn env_nonempty(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// The file system to attach: `--filesystem`, else the config's
/// `lambda.filesystem_name`; either must pass core's file system name rule.
fn filesystem(ctx: &Context, args: &LaunchArgs) -> anyhow::Result<Option<String>> {
    if let Some(fs) = &args.filesystem {
        validate::filesystem_name("--filesystem", fs)?;
        return Ok(Some(fs.clone()));
    }
    let Some(configured) = ctx.config()?.get(FILESYSTEM_KEY) else {
        return Ok(None);
    };
    let configured = configured.trim().to_owned();
    if configured.is_empty() {
        return Ok(None);
    }
    validate::filesystem_name(FILESYSTEM_KEY, &configured).context(
        "the config file's file system (change it with `gpu-session configure --filesystem NAME`)",
    )?;
    Ok(Some(configured))
}

/// What a successful launch prints with `--json`.
#[derive(Debug, serde::Serialize)]
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

/// Everything decided before any call to Lambda.
struct Prepared {
    plan: Plan,
    name: String,
    sglang_key: String,
    hf_token: Option<String>,
    /// `--filesystem`, else the config's `lambda.filesystem_name`.
    filesystem: Option<String>,
    boot_timeout: Duration,
    ready_timeout: Duration,
    wait_for_capacity: Option<Duration>,
    /// Bytes SGLang downloads for the checkpoint, when the Hub said.
    checkpoint_bytes: Option<u64>,
    predicted: first_start::Predicted,
}

impl Prepared {
    /// The lease deadline of an instance launched at `launched_at` (Unix seconds).
    fn lease_deadline(&self, launched_at: u64) -> u64 {
        lease::deadline(launched_at, self.plan.lease.hours)
    }

    /// The user_data of the instance named `hostname` (alone, or `member` of a
    /// group), with the Lambda key and URL its lease agent uses and the Hugging Face
    /// token (the dry run passes placeholders for both secrets).
    fn user_data(
        &self,
        hostname: &str,
        member: Option<Member>,
        lambda_api_key: &str,
        lambda_api_url: &str,
        hf_token: Option<&str>,
    ) -> Result<String, cloud_init::CloudInitError> {
        cloud_init::user_data(&UserDataInput {
            plan: &self.plan,
            hostname,
            sglang_api_key: &self.sglang_key,
            lambda_api_key,
            lambda_api_url,
            hf_token,
            filesystem: self.filesystem.as_deref(),
            first_start_limit: self.ready_timeout,
            checkpoint_bytes: self.checkpoint_bytes,
            member,
        })
    }
}

pub fn run(ctx: &Context, args: LaunchArgs) -> anyhow::Result<ExitCode> {
    let (prepared, gpu) = prepare(ctx, &args)?;
    if args.dry_run {
        return dry_run::run(ctx, &args, &prepared);
    }
    if !args.json {
        print_summary(ctx, &prepared.plan, u64::from(gpu.price_cents_per_hour));
    }
    if !output::confirm_or_refuse(
        args.yes,
        "launching",
        Some("launch"),
        "Launch this instance (it bills until terminated)?",
    )? {
        ctx.printer.note("Not launched.");
        return Ok(ExitCode::SUCCESS);
    }
    launch(ctx, &args, &prepared)
}

/// Everything decided before any call to Lambda (the plan re-checked, the Hub asked,
/// names and keys chosen), and the plan's GPU type.
fn prepare(ctx: &Context, args: &LaunchArgs) -> anyhow::Result<(Prepared, &'static GpuType)> {
    let plan = crate::plan_file::read(&args.plan)?;
    let filesystem = filesystem(ctx, args)?;
    let (gpu, row) = recheck(ctx, &plan, args)?;

    let hf_token = env_nonempty("HF_TOKEN");
    if let Some(token) = &hf_token {
        cloud_init::check_value("HF_TOKEN (from the environment)", token)?;
    }
    // The Hub check runs before any launch, in --dry-run too.
    let hub = checks::check_hub(&ctx.printer, &plan, hf_token.as_deref())?;
    let checkpoint_bytes = hub.checkpoint_bytes;
    // The instance gets the token only for a checkpoint that needs it (gated, private).
    let hf_token = hf_token.filter(|_| hub.instance_needs_token);
    let ready_timeout = checks::ready_timeout(args.ready_timeout, checkpoint_bytes);
    let prepared = Prepared {
        checkpoint_bytes,
        predicted: checks::predicted(&row),
        name: instances::new_instance_name(&plan.model.id),
        sglang_key: cloud_init::generate_sglang_api_key(),
        hf_token,
        filesystem,
        plan,
        boot_timeout: args.boot_timeout,
        ready_timeout,
        wait_for_capacity: args.wait_for_capacity,
    };
    Ok((prepared, gpu))
}

/// The plan's fit, recomputed (never trusting the file's estimate), with a warning
/// when it does not fit or differs from the file's.
fn recheck(
    ctx: &Context,
    plan: &Plan,
    args: &LaunchArgs,
) -> anyhow::Result<(&'static GpuType, GpuFit)> {
    let model = plan.resolve_model()?;
    let gpu = plan.gpu_type()?;
    let row = plan
        .evaluate()
        .map_err(|e| anyhow!("plan file {}: {e}", args.plan.display()))?;
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
    Ok((gpu, row))
}

/// What is about to launch and what it costs at the catalog price, before the
/// confirmation.
fn print_summary(ctx: &Context, plan: &Plan, catalog_price: u64) {
    ctx.printer.note(&format!(
        "Launch {} ({}) on {} in {}\n  price ${:.2}/h (catalog), lease {} h ≈ ${:.2}, idle limit {}",
        plan.model.id,
        plan.model.checkpoint,
        plan.gpu.instance_type,
        plan.gpu.regions.join(", "),
        catalog_price as f64 / 100.0,
        plan.lease.hours,
        instances::lease_cost_usd(catalog_price, plan.lease.hours),
        lease::idle_limit_label(plan.lease.idle_minutes),
    ));
    let count = plan.gpu.instance_count();
    if count > 1 {
        let what = if group::spans_nodes(plan) {
            format!("one model over {count} instances")
        } else {
            format!("a group of {count} instances behind one gateway")
        };
        ctx.printer.note(&format!(
            "  {what}: ${:.2}/h (catalog) for the group, lease ≈ ${:.2}",
            (catalog_price * u64::from(count)) as f64 / 100.0,
            instances::lease_cost_usd(catalog_price * u64::from(count), plan.lease.hours),
        ));
    }
}

/// The launch itself, armed for clean-up on a panic from the first request on.
fn launch(ctx: &Context, args: &LaunchArgs, prepared: &Prepared) -> anyhow::Result<ExitCode> {
    let cloud = Cloud::connect(ctx)?;
    let ssh_key_path = ssh_target::key_path(ctx)?;

    let session = Session {
        ctx,
        args,
        prepared,
        client: &cloud.client,
        lambda_key: cloud.key.expose_secret(),
        base_url: &cloud.base_url,
        ssh_key_path,
        launched: RefCell::new(cleanup::Launched::Nothing),
    };
    cleanup::InFlight::arm(cleanup::InFlight {
        base_url: cloud.base_url.clone(),
        key: cloud.key.clone(),
        name: prepared.name.clone(),
        launched: cleanup::Launched::Nothing,
        keep: args.keep_on_failure,
    });
    let result = cloud.block_on(session.run());
    cleanup::InFlight::disarm();
    result
}

/// The launch request for `region`, named and tagged as ours.
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
    request.tags = instances::launch_tags(
        &plan.model.id,
        launched_at,
        plan.lease.hours,
        plan.serving.port,
    );
    request.image = Some(checks::image_spec(plan));
    request
}
