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
    /// A group launch: each member as above, and the group's firewall ruleset.
    Group(GroupLaunched),
}

/// What a group launch has created so far.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) struct GroupLaunched {
    /// Each member's name and what its launch request created (never a `Group`).
    pub(super) members: Vec<(String, Launched)>,
    pub(super) ruleset: RulesetLaunched,
}

/// Where the group's firewall ruleset stands.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(super) enum RulesetLaunched {
    #[default]
    Nothing,
    /// A create with this (unique) name was sent; its answer is unknown.
    Maybe(String),
    Created(String),
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
    let Launched::Group(group) = launched else {
        return terminate_one(client, name, launched, keep, warn).await;
    };
    let mut lines = Vec::new();
    for (member, launched) in &group.members {
        lines.extend(terminate_one(client, member, launched, keep, warn).await);
    }
    lines.extend(delete_ruleset(client, &group.ruleset, keep, warn).await);
    lines
}

/// Deletes the group's ruleset once its members are gone (a ruleset does not bill, but
/// every launch would leave one behind).
async fn delete_ruleset(
    client: &LambdaClient,
    ruleset: &RulesetLaunched,
    keep: bool,
    warn: &dyn Fn(&str),
) -> Vec<(bool, String)> {
    let ids = match ruleset {
        RulesetLaunched::Nothing => return Vec::new(),
        RulesetLaunched::Created(id) => vec![id.clone()],
        RulesetLaunched::Maybe(name) => match crate::cloud::firewall::find_named(client, name).await {
            Ok(ids) => ids,
            Err(e) => {
                return vec![(
                    true,
                    format!("could not check whether firewall ruleset {name} was created ({e}); delete it in the Lambda dashboard if it exists"),
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
                    "firewall ruleset {id} was kept with the group's instances (--keep-on-failure)"
                ),
            ));
            continue;
        }
        lines.push(
            match crate::cloud::firewall::delete_when_free(client, &id, pause(), warn).await {
                Ok(()) => (false, format!("Deleted firewall ruleset {id}.")),
                Err(e) => (
                    true,
                    format!("COULD NOT DELETE firewall ruleset {id} ({e}); it does not bill, but delete it in the Lambda dashboard"),
                ),
            },
        );
    }
    lines
}

/// [`terminate_launched`] for one instance.
async fn terminate_one(
    client: &LambdaClient,
    name: &str,
    launched: &Launched,
    keep: bool,
    warn: &dyn Fn(&str),
) -> Vec<(bool, String)> {
    let ids = match launched {
        Launched::Nothing | Launched::Group(_) => return Vec::new(),
        Launched::Instance(id) => vec![id.clone()],
        Launched::Maybe => match named_ids(client, name, warn).await {
            Ok(ids) => ids,
            Err(line) => return vec![line],
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
        lines.push(terminate_reported(client, &id, name, warn).await);
    }
    lines
}

/// The instances named `name` whose launch answer never came, or the line saying
/// none appeared or that nobody could look.
async fn named_ids(
    client: &LambdaClient,
    name: &str,
    warn: &dyn Fn(&str),
) -> Result<Vec<String>, (bool, String)> {
    match find_by_name(client, name, warn).await {
        Some(ids) if ids.is_empty() => Err((
            false,
            format!(
                "no instance named {name} appeared in {NAME_LOOKUPS} looks; if one appears \
                 later it BILLS: check `gpu-session status` or the Lambda dashboard"
            ),
        )),
        Some(ids) => Ok(ids),
        None => Err((
            true,
            format!(
                "could not check whether an instance named {name} was created: it MAY BE \
                 BILLING. Run `gpu-session status` and `gpu-session down` for it, or check \
                 the Lambda dashboard"
            ),
        )),
    }
}

/// Terminates instance `id` (named `name`); the line saying how that ended.
async fn terminate_reported(
    client: &LambdaClient,
    id: &str,
    name: &str,
    warn: &dyn Fn(&str),
) -> (bool, String) {
    match terminate(client, id, warn).await {
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
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use gpu_session_lambda::{ClientOptions, FirewallRulesetEntry, LaunchRequest};
    use gpu_session_tests::fake_lambda::{Boot, FakeLambda, FakeLambdaConfig};

    async fn launch(client: &LambdaClient, name: &str, ruleset: &str) -> String {
        let mut request = LaunchRequest::new("us-east-1", "gpu_1x_a10", "gpu-session");
        request.name = Some(name.to_owned());
        request.firewall_rulesets = vec![FirewallRulesetEntry {
            id: ruleset.to_owned(),
        }];
        client
            .launch(&request)
            .await
            .unwrap()
            .instance_ids
            .remove(0)
    }

    /// A client of `fake` and a runtime to drive it.
    fn client_of(fake: &FakeLambda) -> (LambdaClient, tokio::runtime::Runtime) {
        let client = LambdaClient::new(
            &fake.base_url(),
            ApiKey::new(fake.api_key()).unwrap(),
            ClientOptions::fast_for_tests(),
        )
        .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        (client, runtime)
    }

    #[test]
    fn a_group_clean_up_terminates_every_member_and_then_deletes_the_ruleset() {
        let fake = FakeLambda::start(FakeLambdaConfig {
            boot: Boot::AfterPolls(0),
            terminate_after_polls: 0,
            ..FakeLambdaConfig::default()
        })
        .unwrap();
        let (client, runtime) = client_of(&fake);
        let lines = runtime.block_on(async {
            let ruleset =
                crate::cloud::firewall::create(&client, "gpu-session-g-abc123", "us-east-1")
                    .await
                    .unwrap();
            let first = launch(&client, "member-0", &ruleset).await;
            // Member 1's launch answer was lost: it is found by its name.
            launch(&client, "member-1", &ruleset).await;
            let group = GroupLaunched {
                members: vec![
                    ("member-0".into(), Launched::Instance(first)),
                    ("member-1".into(), Launched::Maybe),
                    ("member-2".into(), Launched::Nothing),
                ],
                ruleset: RulesetLaunched::Created(ruleset),
            };
            assert_eq!(fake.live_instance_count(), 2);
            terminate_launched(&client, "unused", &Launched::Group(group), false, &|m| {
                panic!("unexpected warning: {m}")
            })
            .await
        });
        assert_eq!(fake.live_instance_count(), 0);
        assert!(fake.rulesets().is_empty(), "{lines:?}");
        assert_eq!(
            lines.iter().filter(|(loud, _)| !loud).count(),
            3,
            "{lines:?}"
        );
        // The ruleset was refused while in use at least once, then deleted.
        let deletes: Vec<u16> = fake
            .requests()
            .iter()
            .filter(|r| r.method == "DELETE")
            .map(|r| r.status)
            .collect();
        assert_eq!(deletes.first(), Some(&400), "{deletes:?}");
        assert_eq!(deletes.last(), Some(&200), "{deletes:?}");
    }

    #[test]
    fn a_ruleset_whose_create_answer_was_lost_is_found_by_name_and_deleted() {
        let fake = FakeLambda::start_default().unwrap();
        let (client, runtime) = client_of(&fake);
        runtime.block_on(async {
            crate::cloud::firewall::create(&client, "gpu-session-g-lost01", "us-east-1")
                .await
                .unwrap();
            let group = GroupLaunched {
                members: Vec::new(),
                ruleset: RulesetLaunched::Maybe("gpu-session-g-lost01".into()),
            };
            let lines =
                terminate_launched(&client, "unused", &Launched::Group(group), false, &|_| {})
                    .await;
            assert_eq!(lines.len(), 1, "{lines:?}");
        });
        assert!(fake.rulesets().is_empty());
    }
}
