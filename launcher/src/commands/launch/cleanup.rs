//! Clean-up after a failed or interrupted launch: terminate what was created (retrying),
//! or, with `--keep-on-failure`, say loudly that it is still billing.
//!
//! Every way out once a launch request may have been sent runs it: errors and signals
//! through [`Session::clean_up`], a panic through the hook [`InFlight::arm`] installs
//! (a hook, not unwinding: the release profile aborts on panic, and the hook runs
//! before the abort).

use std::sync::Mutex;
use std::time::Duration;

use super::poll_interval;
use super::provision::Session;
use crate::output::{printable, Style};
use gpu_session_lambda::{ApiKey, Instance, LambdaClient, LambdaError};

/// Attempts at terminating an instance after a failure.
const TERMINATE_ATTEMPTS: u32 = 5;
/// Looks by name for an instance whose launch answer never came (interrupted or lost):
/// Lambda's list can lag the launch by some seconds, so one empty answer is not proof.
/// Six looks a poll interval apart (at most 5 s each) cover half a minute.
const NAME_LOOKUPS: u32 = 6;
/// Longest pause between clean-up attempts and looks.
const CLEANUP_PAUSE: Duration = Duration::from_secs(5);

/// Where the launch request stands, for clean-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Launched {
    /// No launch request has left: nothing can bill.
    Nothing,
    /// A launch request was sent and its answer is unknown (in flight, lost, or refused
    /// after an ambiguous failure): an instance carrying our name may exist.
    Maybe,
    /// The API created this instance.
    Instance(String),
}

fn pause() -> Duration {
    poll_interval().min(CLEANUP_PAUSE)
}

/// How a terminate call ended.
enum Terminated {
    Yes,
    /// 404: Lambda does not know the id, so it cannot be confirmed stopped.
    NotFound,
    Failed,
}

/// Live instances named `name` (not yet terminating).
async fn live_named(client: &LambdaClient, name: &str) -> Result<Vec<String>, LambdaError> {
    Ok(client
        .list_instances()
        .await?
        .into_iter()
        .filter(|i: &Instance| i.name.as_deref() == Some(name) && !i.status.is_gone())
        .map(|i| i.id)
        .collect())
}

/// Looks for instances named `name` until one shows up or [`NAME_LOOKUPS`] looks (failed
/// or empty) have passed. `None` when no look answered.
async fn find_by_name(
    client: &LambdaClient,
    name: &str,
    warn: &dyn Fn(&str),
) -> Option<Vec<String>> {
    let mut answered = false;
    for look in 1..=NAME_LOOKUPS {
        match live_named(client, name).await {
            Ok(ids) if !ids.is_empty() => return Some(ids),
            Ok(_) => answered = true,
            Err(e) => warn(&printable(&format!(
                "looking for an instance named {name} failed (look {look} of {NAME_LOOKUPS}): {e}"
            ))),
        }
        if look < NAME_LOOKUPS {
            tokio::time::sleep(pause()).await;
        }
    }
    answered.then(Vec::new)
}

async fn terminate(client: &LambdaClient, id: &str, warn: &dyn Fn(&str)) -> Terminated {
    for attempt in 1..=TERMINATE_ATTEMPTS {
        match client.terminate(&[id.to_owned()]).await {
            Ok(_) => return Terminated::Yes,
            Err(e) if e.is_not_found() => return Terminated::NotFound,
            Err(e) => {
                warn(&printable(&format!(
                    "terminating {id} failed (attempt {attempt} of {TERMINATE_ATTEMPTS}): {e}"
                )));
                tokio::time::sleep(pause()).await;
            }
        }
    }
    Terminated::Failed
}

/// Terminates what `launched` says may exist; returns the lines to print (note or loud
/// warning each).
async fn terminate_launched(
    client: &LambdaClient,
    name: &str,
    launched: &Launched,
    keep: bool,
    warn: &dyn Fn(&str),
) -> Vec<(bool, String)> {
    let ids = match launched {
        Launched::Nothing => return Vec::new(),
        Launched::Instance(id) => vec![id.clone()],
        Launched::Maybe => match find_by_name(client, name, warn).await {
            Some(ids) if ids.is_empty() => {
                return vec![(
                    false,
                    format!(
                        "no instance named {name} appeared in {NAME_LOOKUPS} looks; if one appears \
                         later it BILLS: check `gpu-session status` or the Lambda dashboard"
                    ),
                )]
            }
            Some(ids) => ids,
            None => {
                return vec![(
                    true,
                    format!(
                        "could not check whether an instance named {name} was created: it MAY BE \
                         BILLING. Run `gpu-session status` and `gpu-session down` for it, or check \
                         the Lambda dashboard"
                    ),
                )]
            }
        },
    };
    let mut lines = Vec::new();
    for id in ids {
        if keep {
            lines.push((
                true,
                format!(
                    "instance {id} ({name}) was KEPT because of --keep-on-failure and is STILL BILLING.\n  \
                     Terminate it with: gpu-session down {id}"
                ),
            ));
            continue;
        }
        lines.push(match terminate(client, &id, warn).await {
            Terminated::Yes => (
                false,
                format!("Terminated instance {id} ({name}) so it does not keep billing."),
            ),
            Terminated::NotFound => (
                true,
                format!(
                    "terminating instance {id} ({name}): not found -- check the dashboard that \
                     nothing named {name} is still billing"
                ),
            ),
            Terminated::Failed => (
                true,
                format!(
                    "COULD NOT TERMINATE instance {id}: it is STILL BILLING. Run: gpu-session down {id}"
                ),
            ),
        });
    }
    lines
}

impl Session<'_> {
    /// Terminates the launched instance (or any live instance carrying our name, in
    /// case the launch answer never came), or explains how to with --keep-on-failure.
    pub(super) async fn clean_up(&self) {
        let launched = self.launched.borrow().clone();
        InFlight::disarm();
        let printer = &self.ctx.printer;
        let warn = |m: &str| printer.warn(m);
        let lines = terminate_launched(
            self.client,
            &self.prepared.name,
            &launched,
            self.args.keep_on_failure,
            &warn,
        )
        .await;
        for (loud, line) in lines {
            if loud {
                printer.warn(&printer.paint(Style::Red, &line));
            } else {
                printer.note(&line);
            }
        }
    }
}

/// What the panic hook needs to clean up: the launch in progress.
pub(super) struct InFlight {
    pub(super) base_url: String,
    pub(super) key: ApiKey,
    pub(super) name: String,
    pub(super) launched: Launched,
    pub(super) keep: bool,
}

static IN_FLIGHT: Mutex<Option<InFlight>> = Mutex::new(None);

impl InFlight {
    /// Records the launch in progress and installs (once) the panic hook that cleans
    /// it up.
    pub(super) fn arm(in_flight: InFlight) {
        static HOOK: std::sync::Once = std::sync::Once::new();
        HOOK.call_once(|| {
            let default = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                default(info);
                clean_up_after_panic();
            }));
        });
        if let Ok(mut slot) = IN_FLIGHT.lock() {
            *slot = Some(in_flight);
        }
    }

    /// Updates what the launch has created.
    pub(super) fn record(launched: Launched) {
        if let Ok(mut slot) = IN_FLIGHT.lock() {
            if let Some(f) = slot.as_mut() {
                f.launched = launched;
            }
        }
    }

    /// The launch ended on a path that cleans up (or keeps) by itself.
    pub(super) fn disarm() {
        if let Ok(mut slot) = IN_FLIGHT.lock() {
            *slot = None;
        }
    }
}

/// Runs in the panic hook: terminates the in-flight launch on a fresh thread and
/// runtime (the panicking one may be inside the launch's runtime).
fn clean_up_after_panic() {
    let taken = IN_FLIGHT.lock().ok().and_then(|mut slot| slot.take());
    let Some(f) = taken else {
        return;
    };
    let worker = std::thread::spawn(move || {
        let warn = |m: &str| eprintln!("warning: {m}");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        let client = LambdaClient::new(&f.base_url, f.key.clone(), crate::cloud::client_options());
        let (Ok(runtime), Ok(client)) = (runtime, client) else {
            warn(&format!(
                "gpu-session crashed and could not clean up: {:?} may be STILL BILLING; run `gpu-session down`",
                f.launched
            ));
            return;
        };
        let lines = runtime.block_on(terminate_launched(
            &client,
            &f.name,
            &f.launched,
            f.keep,
            &warn,
        ));
        for (_, line) in lines {
            warn(&line);
        }
    });
    let _ = worker.join();
}
