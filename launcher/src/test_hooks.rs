//! Test hooks: every environment variable the launcher reads only so tests can drive
//! it quickly against local fakes, in one place, read once per process.
//!
//! | variable | effect |
//! |---|---|
//! | `GPU_SESSION_TEST_POLL_INTERVAL_MS` | pause between status, capacity and readiness polls of `launch` (default 10 s) |
//! | `GPU_SESSION_TEST_FAST_API=1` | millisecond retry backoff and launch spacing for the Lambda client |
//! | `GPU_SESSION_TEST_PANIC_AFTER_ACTIVE=1` | `launch` panics once the instance is active (proves clean-up on a crash) |
//! | `GPU_SESSION_TEST_LOOPBACK_LAMBDA_API=1` | the lease agent may be given a loopback `LAMBDA_API_URL` (the local fake) |
//! | `GPU_SESSION_TEST_ARM_TIMEOUT_MS` | how long `launch` waits for the lease agent to report it is armed (default 10 min) |
//!
//! Variables a user may set are not hooks and are read where they are used:
//! `GPU_SESSION_CONFIG` (the config file), `LAMBDA_API_URL` and `LAMBDA_API_KEY` (the
//! Lambda client), `HF_TOKEN` (copied to the instance), `GPU_SESSION_SSH` (the ssh
//! program, as `GIT_SSH` is git's), `NO_COLOR`.

use std::sync::OnceLock;
use std::time::Duration;

/// Milliseconds between polls.
pub const POLL_INTERVAL_MS_ENV: &str = "GPU_SESSION_TEST_POLL_INTERVAL_MS";
/// `1`: the Lambda client's fast options for a local fake API.
pub const FAST_API_ENV: &str = "GPU_SESSION_TEST_FAST_API";

/// `1`: `launch` panics once its instance is active.
pub const PANIC_AFTER_ACTIVE_ENV: &str = "GPU_SESSION_TEST_PANIC_AFTER_ACTIVE";
/// `1`: a loopback `LAMBDA_API_URL` may go to the (local, fake) instance's agent.
pub const LOOPBACK_LAMBDA_API_ENV: &str = "GPU_SESSION_TEST_LOOPBACK_LAMBDA_API";
/// Milliseconds `launch` waits for the lease agent to be armed.
pub const ARM_TIMEOUT_MS_ENV: &str = "GPU_SESSION_TEST_ARM_TIMEOUT_MS";

/// The hooks' values; unset (or unparsable) hooks leave the normal behaviour.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TestHooks {
    /// Replaces `launch`'s pause between polls.
    pub(crate) poll_interval: Option<Duration>,
    /// Use `ClientOptions::fast_for_tests` instead of the real API's timings.
    pub(crate) fast_api: bool,
    /// Panic in `launch` after the instance is active.
    pub(crate) panic_after_active: bool,
    /// Let the lease agent call a loopback Lambda API (tests run it on this machine).
    pub(crate) loopback_lambda_api: bool,
    /// Replaces the wait for the lease agent to be armed.
    pub(crate) arm_timeout: Option<Duration>,
}

impl TestHooks {
    /// The hooks of this process, read from the environment on first use.
    pub(crate) fn get() -> &'static TestHooks {
        static HOOKS: OnceLock<TestHooks> = OnceLock::new();
        HOOKS.get_or_init(|| TestHooks::from_lookup(|name| std::env::var(name).ok()))
    }

    /// The hooks `lookup` (an environment) sets.
    fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> TestHooks {
        TestHooks {
            poll_interval: lookup(POLL_INTERVAL_MS_ENV)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_millis),
            fast_api: lookup(FAST_API_ENV).is_some_and(|v| v.trim() == "1"),
            panic_after_active: lookup(PANIC_AFTER_ACTIVE_ENV).is_some_and(|v| v.trim() == "1"),
            loopback_lambda_api: lookup(LOOPBACK_LAMBDA_API_ENV).is_some_and(|v| v.trim() == "1"),
            arm_timeout: lookup(ARM_TIMEOUT_MS_ENV)
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_millis),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hooks(vars: &[(&str, &str)]) -> TestHooks {
        TestHooks::from_lookup(|name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn unset_hooks_change_nothing() {
        assert_eq!(hooks(&[]), TestHooks::default());
        assert_eq!(
            hooks(&[
                (POLL_INTERVAL_MS_ENV, "soon"),
                (FAST_API_ENV, "yes"),
                (LOOPBACK_LAMBDA_API_ENV, "true"),
                (ARM_TIMEOUT_MS_ENV, "1m"),
            ]),
            TestHooks::default()
        );
    }

    #[test]
    fn set_hooks_are_read() {
        let h = hooks(&[
            (POLL_INTERVAL_MS_ENV, " 20 "),
            (FAST_API_ENV, "1"),
            (LOOPBACK_LAMBDA_API_ENV, "1"),
            (ARM_TIMEOUT_MS_ENV, "1500"),
        ]);
        assert_eq!(h.poll_interval, Some(Duration::from_millis(20)));
        assert!(h.fast_api);
        assert!(h.loopback_lambda_api);
        assert_eq!(h.arm_timeout, Some(Duration::from_millis(1500)));
    }
}
