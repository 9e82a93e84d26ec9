//! The gateway's view of a replica group, for `status`: smg's per-worker health
//! (`smg_worker_health{worker="<url>"} 1|0` on its metrics port, smg 1.13.0, observed in
//! docs/design/multi-instance-research.md §2), read over SSH on member 0, where smg
//! listens on loopback only. Each member is matched by its private IP to a worker URL.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::instance::group::{GATEWAY_PROMETHEUS_PORT, GATEWAY_UNIT};
use crate::remote::first_start::Remote;

/// Printed by the remote command when member 0 has no gateway (a two-node group).
const NO_GATEWAY: &str = "gpu-session: no gateway";
/// How long curl on member 0 may take for the metrics (ssh's own bound is 30 s).
const CURL_MAX_SECONDS: u32 = 5;

/// What the gateway says about one member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberHealth {
    Healthy,
    Unhealthy,
    /// Not among the gateway's workers (smg lists a worker only once it has turned
    /// healthy once).
    NotRegistered,
}

impl MemberHealth {
    pub fn label(self) -> &'static str {
        match self {
            MemberHealth::Healthy => "healthy in the gateway",
            MemberHealth::Unhealthy => "unhealthy in the gateway",
            MemberHealth::NotRegistered => "not registered with the gateway",
        }
    }
}

/// The gateway's workers: URL to healthy.
pub type Workers = BTreeMap<String, bool>;

/// The command member 0 runs: smg's metrics from loopback, or [`NO_GATEWAY`].
fn command() -> String {
    format!(
        "if [ -e /etc/systemd/system/{GATEWAY_UNIT} ]; then curl -sS --max-time {CURL_MAX_SECONDS} http://127.0.0.1:{GATEWAY_PROMETHEUS_PORT}/metrics; else echo '{NO_GATEWAY}'; fi"
    )
}

/// Asks member 0's gateway for its workers. `Ok(None)`: member 0 runs no gateway. The
/// error says why the view is missing (SSH, or a gateway that does not answer).
pub async fn workers(member_0: &Remote) -> Result<Option<Workers>, String> {
    let output = member_0.output(&command()).await?;
    let last_err = || {
        String::from_utf8_lossy(&output.stderr)
            .lines()
            .last()
            .unwrap_or("no output")
            .trim()
            .to_owned()
    };
    match output.status.code() {
        Some(0) => {}
        // ssh's own failure: the instance did not answer.
        Some(255) | None => return Err(format!("SSH to member 0 failed ({})", last_err())),
        Some(_) => {
            return Err(format!(
                "the gateway on member 0 does not answer ({})",
                last_err()
            ))
        }
    }
    let text = String::from_utf8_lossy(&output.stdout);
    if text.trim() == NO_GATEWAY {
        return Ok(None);
    }
    Ok(Some(parse_worker_health(&text)))
}

/// `smg_worker_health{worker="URL",...} VALUE` lines: URL to VALUE == 1.
pub fn parse_worker_health(metrics: &str) -> Workers {
    metrics
        .lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("smg_worker_health{")?;
            let (labels, value) = rest.split_once('}')?;
            let url = labels
                .split(',')
                .find_map(|l| l.trim().strip_prefix("worker=\""))?
                .strip_suffix('"')?;
            let value: f64 = value.trim().parse().ok()?;
            Some((url.to_owned(), value == 1.0))
        })
        .collect()
}

/// What the gateway says about the member at `private_ip`.
pub fn member_health(workers: &Workers, private_ip: &str) -> MemberHealth {
    let host = |url: &str| {
        let rest = url.split_once("://").map_or(url, |(_, r)| r);
        rest.split([':', '/']).next().unwrap_or("").to_owned()
    };
    let mine: Vec<bool> = workers
        .iter()
        .filter(|(url, _)| host(url) == private_ip)
        .map(|(_, healthy)| *healthy)
        .collect();
    match mine.as_slice() {
        [] => MemberHealth::NotRegistered,
        all if all.iter().all(|h| *h) => MemberHealth::Healthy,
        _ => MemberHealth::Unhealthy,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_health_is_read_from_smg_metrics() {
        let metrics = "# HELP smg_worker_health Worker health\n\
            smg_worker_health{worker=\"http://10.0.0.2:30001\"} 1\n\
            smg_worker_health{worker=\"http://10.0.0.3:30001\"} 0\n\
            smg_worker_cb_state{worker=\"http://10.0.0.3:30001\"} 1\n\
            garbage{\n";
        let workers = parse_worker_health(metrics);
        assert_eq!(workers.len(), 2);
        assert_eq!(member_health(&workers, "10.0.0.2"), MemberHealth::Healthy);
        assert_eq!(member_health(&workers, "10.0.0.3"), MemberHealth::Unhealthy);
        assert_eq!(
            member_health(&workers, "10.0.0.30"),
            MemberHealth::NotRegistered
        );
    }
}
