//! Clean-up after a failed or interrupted launch: terminate what was created (retrying),
//! or, with `--keep-on-failure`, say loudly that it is still billing.

use std::time::Duration;

use super::poll_interval;
use super::provision::Session;
use crate::output::Style;

/// Attempts at terminating an instance after a failure.
const TERMINATE_ATTEMPTS: u32 = 5;

impl Session<'_> {
    /// Terminates the launched instance (or any live instance carrying our name, in
    /// case the launch call was cut off), or explains how to with --keep-on-failure.
    pub(super) async fn clean_up(&self) {
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
}
