//! A group of instances from one plan: `gpu.replicas` copies of the model behind one
//! gateway (`smg`, on member 0), or one model over `gpu.nodes` instances.
//!
//! Each member's user_data is written before launch, but the members' private
//! addresses exist only afterwards. So user_data holds everything known at launch,
//! and the launcher later writes a group file ([`GROUP_FILE`]) to every member over
//! SSH (on stdin, never on a command line) once every member has a `private_ip`. The
//! file is strictly `KEY=value` lines of IPv4 literals and integers; the instance's
//! `gpu-session-group-env` re-validates it before any script uses a value, and the
//! SGLang wrapper and the gateway wait for it.

use gpu_session_core::plan::Plan;
use std::fmt::Write as _;
use std::net::Ipv4Addr;

/// The group file the launcher writes over SSH once every member has a private IP.
pub const GROUP_FILE: &str = "/etc/gpu-session/group.env";
/// The validator/reader of the group file on the instance.
pub const GROUP_ENV_PATH: &str = "/usr/local/bin/gpu-session-group-env";
pub const GROUP_ENV_SCRIPT: &str = include_str!("assets/group-env.sh");
/// The gateway's wrapper and unit (member 0 of a replica group).
pub const GATEWAY_RUN_PATH: &str = "/usr/local/bin/gpu-session-gateway";
pub const GATEWAY_RUN_SCRIPT: &str = include_str!("assets/gateway-run.sh");
pub const GATEWAY_UNIT: &str = "gpu-session-gateway.service";
/// The SGLang Model Gateway release launched in front of replicas: PyPI `smg` 1.13.0,
/// the newest release when SGLang 0.5.23 came out, from the project whose
/// `smg-grpc-servicer` SGLang 0.5.23 depends on (docs/design/multi-instance-research.md).
pub const SMG_VERSION: &str = "1.13.0";
/// Where the gateway serves Prometheus metrics, on loopback only: smg's own default
/// port (`--prometheus-port`, 29000 in smg 1.13.0's `router_args.py`), whose default
/// host would otherwise be 0.0.0.0.
pub const GATEWAY_PROMETHEUS_PORT: u16 = 29000;
/// torch.distributed's rendezvous port on node 0 (`--dist-init-addr <ip>:<port>`), the
/// one SGLang's two-node DeepSeek recipe for H200 uses (benchmark/deepseek_v3/README.md).
pub const DIST_INIT_PORT: u16 = 20000;
/// How many members a group may have (core's largest group).
pub const MAX_MEMBERS: usize = gpu_session_core::settings::MAX_REPLICAS as usize;

/// One member's place in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// 0-based: member 0 carries the gateway (replicas) or is rank 0 (nodes).
    pub index: u32,
    /// Members in the group.
    pub count: u32,
}

/// Why a value cannot go into a group file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum GroupError {
    #[error("instance {instance}: private_ip {value:?} is not an IPv4 address in 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16; refusing to use it")]
    NotPrivate { instance: String, value: String },
    #[error("instance {instance} has no private_ip; a group member is reached only on its private address")]
    Missing { instance: String },
    #[error("a group has 1 to {MAX_MEMBERS} members, not {0}")]
    Size(usize),
}

/// A `private_ip` from the API, accepted only as a private IPv4 literal.
pub fn private_ip(instance: &str, value: Option<&str>) -> Result<Ipv4Addr, GroupError> {
    let value = value.ok_or_else(|| GroupError::Missing {
        instance: instance.to_owned(),
    })?;
    let not_private = || GroupError::NotPrivate {
        instance: instance.to_owned(),
        value: value.to_owned(),
    };
    // Ipv4Addr's parser takes only the dotted quad (no octal, no leading zeros).
    let ip: Ipv4Addr = value.parse().map_err(|_| not_private())?;
    if ip.is_private() {
        Ok(ip)
    } else {
        Err(not_private())
    }
}

/// The port each replica's SGLang listens on (its private address): `serving.port` is
/// the gateway's, on loopback on member 0, where the SSH tunnel reaches it.
pub fn worker_port(plan: &Plan) -> u16 {
    // serving.port is validated to 1024-65535; the one beside it, below if at the top.
    plan.serving
        .port
        .checked_add(1)
        .unwrap_or(plan.serving.port - 1)
}

/// Whether the plan is a group at all.
pub fn is_group(plan: &Plan) -> bool {
    plan.gpu.instance_count() > 1
}

/// Whether the plan's group is one model over several nodes (else replicas).
pub fn spans_nodes(plan: &Plan) -> bool {
    plan.gpu.nodes > 1
}

/// The group's kind as user_data and the dry run name it: `nodes` or `replicas`.
pub fn kind(plan: &Plan) -> &'static str {
    if spans_nodes(plan) {
        "nodes"
    } else {
        "replicas"
    }
}

/// The group file for `member`: its own private address (`own_ip`) and every serving
/// member's (`worker_ips`, in member order; the first is node 0 for a two-node plan).
/// Values are validated literals, or placeholders in `--dry-run`.
pub fn group_file(
    plan: &Plan,
    group_id: &str,
    member: Member,
    own_ip: &str,
    worker_ips: &[String],
) -> Result<String, GroupError> {
    if worker_ips.is_empty() || worker_ips.len() > MAX_MEMBERS {
        return Err(GroupError::Size(worker_ips.len()));
    }
    let mut out = format!(
        "# Written by gpu-session once every member had a private IP; read by {GROUP_ENV_PATH}.\n"
    );
    let mut line = |key: &str, value: &str| {
        let _ = writeln!(out, "{key}={value}");
    };
    line("GPU_SESSION_GROUP_ID", group_id);
    line("GPU_SESSION_MEMBER", &member.index.to_string());
    line("GPU_SESSION_MEMBERS", &member.count.to_string());
    line("GPU_SESSION_PRIVATE_IP", own_ip);
    if spans_nodes(plan) {
        line("NNODES", &plan.gpu.nodes.to_string());
        line("NODE_RANK", &member.index.to_string());
        line(
            "DIST_INIT_ADDR",
            &format!("{}:{DIST_INIT_PORT}", worker_ips[0]),
        );
    } else {
        line("GPU_SESSION_WORKER_PORT", &worker_port(plan).to_string());
        line("GPU_SESSION_WORKER_IPS", &worker_ips.join(","));
    }
    Ok(out)
}

/// The group id inside a group's name (`gpu-session-<model>-<id>`): its random suffix.
pub fn id_of(group_name: &str) -> &str {
    group_name.rsplit('-').next().unwrap_or(group_name)
}

/// The group id inside a member's name (`gpu-session-<model>-<id>-<index>`).
pub fn id_of_member(member_name: &str) -> &str {
    member_name.rsplit('-').nth(1).unwrap_or_default()
}

/// SGLang's flags for a member: the single-instance flags with the group's changes.
/// Replicas listen on [`worker_port`] (the wrapper adds `--host <private IP>` from the
/// group file); node `i` of a two-node plan adds `--nnodes`/`--node-rank` (the wrapper
/// adds `--dist-init-addr` from the group file) and only rank 0 serves HTTP.
pub fn member_sglang_args(plan: &Plan, member: Member, base: Vec<String>) -> Vec<String> {
    let mut args = base;
    if spans_nodes(plan) {
        args.extend([
            "--nnodes".to_owned(),
            plan.gpu.nodes.to_string(),
            "--node-rank".to_owned(),
            member.index.to_string(),
        ]);
        return args;
    }
    let port = plan.serving.port.to_string();
    if let Some(at) = args
        .windows(2)
        .position(|w| w[0] == "--port" && w[1] == port)
    {
        args[at + 1] = worker_port(plan).to_string();
    }
    // The wrapper binds the private address from the group file instead.
    if let Some(at) = args.windows(2).position(|w| w[0] == "--host") {
        args.drain(at..at + 2);
    }
    args
}

/// A new group id: 6 random hex characters (the random suffix of an instance name).
pub fn new_group_id(model_id: &str) -> String {
    let name = crate::cloud::instances::new_instance_name(model_id);
    name.rsplit('-').next().unwrap_or_default().to_owned()
}

/// Member `index`'s name and hostname: `gpu-session-<model>-<group id>-<index>`, so
/// every member of a group shares the name up to its index.
pub fn member_name(model_id: &str, group_id: &str, index: u32) -> String {
    crate::cloud::instances::instance_name(model_id, &format!("{group_id}-{index}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_private_ipv4_literals_are_accepted() {
        for ok in ["10.0.2.3", "172.16.0.1", "172.31.255.254", "192.168.1.9"] {
            assert_eq!(private_ip("i", Some(ok)).unwrap().to_string(), ok);
        }
        for bad in [
            "198.51.100.2",
            "172.32.0.1",
            "8.8.8.8",
            "10.0.2.3; reboot",
            "010.0.2.3",
            "10.0.2",
            "::1",
            "127.0.0.1",
            "",
            "10.0.2.3\n",
        ] {
            assert!(
                matches!(
                    private_ip("i", Some(bad)),
                    Err(GroupError::NotPrivate { .. })
                ),
                "{bad:?}"
            );
        }
        assert_eq!(
            private_ip("abc", None).unwrap_err().to_string(),
            "instance abc has no private_ip; a group member is reached only on its private address"
        );
    }

    #[test]
    fn member_names_share_the_group_prefix_and_fit_a_hostname() {
        let model = "a-model-with-a-very-long-name-that-fills-the-hostname-limit";
        let id = new_group_id(model);
        assert_eq!(id.len(), 6);
        let names: Vec<String> = (0..8).map(|i| member_name(model, &id, i)).collect();
        for (i, name) in names.iter().enumerate() {
            assert!(
                name.len() <= crate::cloud::instances::MAX_HOSTNAME_LEN,
                "{name}"
            );
            assert!(name.ends_with(&format!("-{id}-{i}")), "{name}");
            assert_eq!(name[..name.len() - 1], names[0][..names[0].len() - 1]);
            assert_eq!(id_of_member(name), id);
        }
    }
}
