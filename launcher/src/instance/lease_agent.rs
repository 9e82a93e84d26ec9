//! The on-instance lease agent: a bash script (curl + python3 for JSON) that
//! terminates the instance through the Lambda API at the lease deadline or after
//! the idle limit, the systemd unit that keeps it running, and the fixed script
//! `gpu-session extend` runs over SSH to push the deadline out.
//!
//! The script reads all its settings from `GPU_SESSION_*` environment variables
//! (see the header of `assets/lease-agent.sh`), so tests run it locally against
//! the fake Lambda API and fake SGLang.

use gpu_session_core::lease::SECONDS_PER_HOUR;
use gpu_session_core::plan::MAX_LEASE_HOURS;

/// The agent script, installed as [`AGENT_PATH`].
pub const SCRIPT: &str = include_str!("assets/lease-agent.sh");
/// Where cloud-init installs the agent.
pub const AGENT_PATH: &str = "/usr/local/bin/gpu-session-lease-agent";
/// Root-only file holding the Lambda API key the agent uses.
pub const KEY_FILE: &str = "/etc/gpu-session/lambda-api-key";
/// The lease deadline, Unix seconds; `gpu-session extend` rewrites it.
pub const DEADLINE_FILE: &str = "/etc/gpu-session/lease-deadline";
/// The agent's settings (a systemd `EnvironmentFile`).
pub const ENV_FILE: &str = "/etc/gpu-session/lease.env";
/// The agent's systemd unit name.
pub const UNIT_NAME: &str = "gpu-session-lease.service";

/// The watchdog's timer: a second, independent check of the deadline (the original
/// tool had one too), so an agent that died or hung cannot leave the instance billing.
pub const WATCHDOG_TIMER: &str = "gpu-session-lease-watchdog.timer";
/// The one-shot service the watchdog timer starts.
pub const WATCHDOG_SERVICE: &str = "gpu-session-lease-watchdog.service";

/// The watchdog's one-shot service: `gpu-session-lease-agent --watchdog`.
pub fn watchdog_service() -> String {
    format!(
        "[Unit]\n\
         Description=gpu-session lease watchdog (terminates this instance if the lease ended)\n\
         After=network-online.target\n\
         \n\
         [Service]\n\
         Type=oneshot\n\
         EnvironmentFile={ENV_FILE}\n\
         ExecStart={AGENT_PATH} --watchdog\n"
    )
}

/// Every five minutes from ten minutes after boot.
pub fn watchdog_timer() -> String {
    format!(
        "[Unit]\n\
         Description=Run {WATCHDOG_SERVICE} every five minutes\n\
         \n\
         [Timer]\n\
         OnBootSec=10min\n\
         OnUnitActiveSec=5min\n\
         Unit={WATCHDOG_SERVICE}\n\
         \n\
         [Install]\n\
         WantedBy=timers.target\n"
    )
}

/// The systemd unit running the agent; restarted if it ever exits with an error.
pub fn unit() -> String {
    super::systemd_service(
        "gpu-session lease agent (terminates this instance at lease end or when idle)",
        ENV_FILE,
        AGENT_PATH,
        30,
        None,
    )
}

/// The remote command `extend` runs: a fixed script in which the only variable part
/// is `hours` (already validated). It caps the deadline at boot + [`MAX_LEASE_HOURS`],
/// and prints the new deadline, and `capped` when the cap applied.
pub fn extend_command(hours: u32) -> String {
    let add = u64::from(hours) * SECONDS_PER_HOUR;
    let cap = u64::from(MAX_LEASE_HOURS) * SECONDS_PER_HOUR;
    format!(
        "sudo sh -c 'set -e; f={DEADLINE_FILE}; cur=$(tr -d \" \\r\\n\\t\" < \"$f\"); \
         case \"$cur\" in \"\"|*[!0-9]*) echo \"unreadable lease deadline in $f\" >&2; exit 3;; esac; \
         now=$(date +%s); up=$(cut -d. -f1 /proc/uptime); cap=$((now - up + {cap})); \
         new=$((cur + {add})); \
         if [ \"$new\" -gt \"$cap\" ]; then new=$cap; echo capped; fi; \
         printf \"%s\\n\" \"$new\" > \"$f.tmp\"; mv \"$f.tmp\" \"$f\"; echo \"$new\"'"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extend_command_holds_only_the_number() {
        let cmd = extend_command(2);
        assert!(cmd.contains("new=$((cur + 7200))"), "{cmd}");
        assert!(cmd.contains(&format!("+ {}", 24 * 3600)), "{cmd}");
        assert!(cmd.starts_with("sudo sh -c '") && cmd.ends_with('\''));
        // One single-quoted script: no other single quotes inside.
        assert_eq!(cmd.matches('\'').count(), 2);
    }

    #[test]
    fn script_is_configurable_by_env() {
        assert!(SCRIPT.starts_with("#!/bin/bash"));
        for var in [
            "GPU_SESSION_LAMBDA_API_URL",
            "GPU_SESSION_KEY_FILE",
            "GPU_SESSION_DEADLINE_FILE",
            "GPU_SESSION_METRICS_URL",
            "GPU_SESSION_POLL_SECONDS",
        ] {
            assert!(SCRIPT.contains(var), "{var}");
        }
        assert!(unit().contains(AGENT_PATH));
        assert!(watchdog_service().contains(&format!("{AGENT_PATH} --watchdog")));
        assert!(watchdog_timer().contains(WATCHDOG_SERVICE));
    }
}
