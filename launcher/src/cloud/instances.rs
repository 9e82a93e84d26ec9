//! Instances this tool launched: how they are named and tagged, how they are
//! found again, and the lease arithmetic `status` shows.
//!
//! Every instance is named `gpu-session-<model-id>-<random>` and its hostname
//! is the same string, so the on-instance lease agent can find its own ID by
//! listing instances and matching its hostname. Tags record the launch time
//! and lease, so `status` can show uptime and lease left without SSH.
//!
//! Time helpers are pure functions taking `now` (Unix seconds) as a parameter.

use gpu_session_core::lease;
use gpu_session_lambda::{Instance, LambdaClient, LambdaError, Tag};
use rand::Rng;

/// Prefix of every instance name and hostname this tool chooses.
pub const NAME_PREFIX: &str = "gpu-session-";
/// Tag marking an instance as launched by gpu-session (value: the model id).
pub const TAG_MODEL: &str = "gpu-session:model";
/// Tag holding the launch time, Unix seconds.
pub const TAG_LAUNCHED_AT: &str = "gpu-session:launched-at";
/// Tag holding the lease length in hours at launch (`extend` may push it on the instance).
pub const TAG_LEASE_HOURS: &str = "gpu-session:lease-hours";
/// Tag holding the port SGLang listens on (the plan's `serving.port`), for `tunnel`.
pub const TAG_SGLANG_PORT: &str = "gpu-session:sglang-port";
/// Tag holding a group member's group id (`gpu.replicas` or `gpu.nodes` above 1).
pub const TAG_GROUP: &str = "gpu-session:group";
/// Tag holding a group member's 0-based index (member 0 runs the gateway / is node 0).
pub const TAG_MEMBER: &str = "gpu-session:member";
/// Tag holding the node count of a group that is one model over several nodes
/// (`gpu.nodes`); absent on replicas, whose member 0 runs a gateway.
pub const TAG_NODES: &str = "gpu-session:nodes";
/// Longest hostname Lambda (and DNS) accepts.
pub const MAX_HOSTNAME_LEN: usize = 63;
/// Random hex characters at the end of a name.
const SUFFIX_LEN: usize = 6;

/// Why an instance argument did not resolve to exactly one instance.
#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no running instance was launched by gpu-session (see `gpu-session status`)")]
    NoneRunning,
    #[error("several gpu-session instances are running; name one of them: {}", list(.0))]
    SeveralRunning(Vec<String>),
    #[error("no gpu-session instance matches '{wanted}'; running: {}", list_or_none(.running))]
    NotFound {
        wanted: String,
        running: Vec<String>,
    },
    #[error("'{wanted}' matches several instances: {}; give more of the id", list(.matches))]
    Ambiguous {
        wanted: String,
        matches: Vec<String>,
    },
    #[error("group {group} has no member 0 running, and the group is reached only through it (the gateway, or node 0); end it with `gpu-session down {group}`")]
    NoEntry { group: String },
    #[error(transparent)]
    Api(#[from] LambdaError),
}

fn list(items: &[String]) -> String {
    items.join(", ")
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        list(items)
    }
}

/// `id (name)` for messages.
pub fn describe(instance: &Instance) -> String {
    match &instance.name {
        Some(name) => format!("{} ({name})", instance.id),
        None => instance.id.clone(),
    }
}

/// A fresh instance name for `model_id` with a random suffix; also its hostname.
pub fn new_instance_name(model_id: &str) -> String {
    let mut rng = rand::thread_rng();
    let suffix: String = (0..SUFFIX_LEN)
        .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
        .collect();
    instance_name(model_id, &suffix)
}

/// `gpu-session-<model-id>-<suffix>`, the model id folded into hostname characters
/// (`.`/`_` become `-`, runs of `-` collapse) and shortened to fit 63 characters.
pub fn instance_name(model_id: &str, suffix: &str) -> String {
    let mut folded = String::with_capacity(model_id.len());
    for c in model_id.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && (folded.is_empty() || folded.ends_with('-'))) {
            folded.push(c);
        }
    }
    let room = MAX_HOSTNAME_LEN - NAME_PREFIX.len() - 1 - suffix.len().min(16);
    folded.truncate(room);
    let folded = folded.trim_end_matches('-');
    let suffix: String = suffix.chars().take(16).collect();
    if folded.is_empty() {
        format!("{NAME_PREFIX}{suffix}")
    } else {
        format!("{NAME_PREFIX}{folded}-{suffix}")
    }
}

/// Tags recording what was launched and when.
pub fn launch_tags(
    model_id: &str,
    launched_at: u64,
    lease_hours: u32,
    sglang_port: u16,
) -> Vec<Tag> {
    let model: String = model_id.chars().take(128).collect();
    vec![
        Tag {
            key: TAG_MODEL.to_owned(),
            value: model,
        },
        Tag {
            key: TAG_LAUNCHED_AT.to_owned(),
            value: launched_at.to_string(),
        },
        Tag {
            key: TAG_LEASE_HOURS.to_owned(),
            value: lease_hours.to_string(),
        },
        Tag {
            key: TAG_SGLANG_PORT.to_owned(),
            value: sglang_port.to_string(),
        },
    ]
}

pub fn tag<'a>(instance: &'a Instance, key: &str) -> Option<&'a str> {
    instance
        .tags
        .iter()
        .find(|t| t.key == key)
        .map(|t| t.value.as_str())
}

/// Whether gpu-session launched this instance: our tag, or our name prefix.
pub fn is_ours(instance: &Instance) -> bool {
    tag(instance, TAG_MODEL).is_some()
        || instance
            .name
            .as_deref()
            .is_some_and(|n| n.starts_with(NAME_PREFIX))
}

/// The launch time from the instance's tags, Unix seconds.
pub fn launched_at(instance: &Instance) -> Option<u64> {
    tag(instance, TAG_LAUNCHED_AT)?.parse().ok()
}

/// The lease length from the instance's tags, hours.
pub fn lease_hours(instance: &Instance) -> Option<u32> {
    tag(instance, TAG_LEASE_HOURS)?.parse().ok()
}

/// The SGLang port from the instance's tags.
pub fn sglang_port(instance: &Instance) -> Option<u16> {
    tag(instance, TAG_SGLANG_PORT)?
        .parse()
        .ok()
        .filter(|p| *p != 0)
}

/// The model id from the instance's tags.
pub fn model_id(instance: &Instance) -> Option<&str> {
    tag(instance, TAG_MODEL)
}

/// The lease deadline from the tags (launch + lease hours), Unix seconds. `extend`
/// pushes the deadline on the instance, which the tags do not see.
pub fn lease_deadline(instance: &Instance) -> Option<u64> {
    Some(lease::deadline(
        launched_at(instance)?,
        lease_hours(instance)?,
    ))
}

/// Seconds since launch (0 when `now` is earlier).
pub fn uptime_secs(launched_at: u64, now: u64) -> u64 {
    now.saturating_sub(launched_at)
}

/// Seconds left on the lease; negative once it has expired.
pub fn lease_left_secs(deadline: u64, now: u64) -> i64 {
    let d = i64::try_from(deadline).unwrap_or(i64::MAX);
    let n = i64::try_from(now).unwrap_or(i64::MAX);
    d.saturating_sub(n)
}

/// Dollars billed so far at `price_cents_per_hour` (Lambda bills by the minute;
/// this is the plain pro-rata figure).
pub fn cost_so_far_usd(price_cents_per_hour: u64, launched_at: u64, now: u64) -> f64 {
    price_cents_per_hour as f64 / 100.0 * uptime_secs(launched_at, now) as f64 / 3600.0
}

/// Dollars for a whole lease.
pub fn lease_cost_usd(price_cents_per_hour: u64, lease_hours: u32) -> f64 {
    lease::cost_usd(price_cents_per_hour as f64 / 100.0, lease_hours)
}

/// `1h 05m`, `12m`, `45s`; negative durations get a leading `-`.
pub fn format_duration_secs(secs: i64) -> String {
    let sign = if secs < 0 { "-" } else { "" };
    let s = secs.unsigned_abs();
    let (h, m) = (s / 3600, (s % 3600) / 60);
    if h > 0 {
        format!("{sign}{h}h {m:02}m")
    } else if m > 0 {
        format!("{sign}{m}m")
    } else {
        format!("{sign}{s}s")
    }
}

/// The first 8 characters of an instance id, as the original tool showed them.
pub fn short_id(id: &str) -> String {
    id.chars().take(8).collect()
}

/// Current Unix time in seconds.
pub fn now_unix() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DD HH:MM:SS UTC` for Unix seconds (jiff's calendar); a time past jiff's
/// range (year 9999) is shown as plain seconds.
pub fn format_utc(secs: u64) -> String {
    i64::try_from(secs)
        .ok()
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map_or_else(
            || format!("{secs} s after 1970 UTC"),
            |t| t.strftime("%Y-%m-%d %H:%M:%S UTC").to_string(),
        )
}

/// Only our instances from a listing, terminated ones left out.
pub fn ours(instances: Vec<Instance>) -> Vec<Instance> {
    instances
        .into_iter()
        .filter(|i| is_ours(i) && !i.status.is_gone())
        .collect()
}

/// Our live instances, from the API.
pub async fn list_ours(client: &LambdaClient) -> Result<Vec<Instance>, LambdaError> {
    Ok(ours(client.list_instances().await?))
}

/// Picks the instance a user meant: an exact id, an exact name, a group id (the
/// group's member 0), or a unique id prefix; with no argument, the only one running
/// (or member 0 of the only group running).
pub fn resolve<'a>(
    instances: &'a [Instance],
    wanted: Option<&str>,
) -> Result<&'a Instance, ResolveError> {
    let Some(wanted) = wanted.map(str::trim).filter(|w| !w.is_empty()) else {
        return match instances {
            [] => Err(ResolveError::NoneRunning),
            [only] => Ok(only),
            many => match only_group(many) {
                Some(group) => group_entry(many, group),
                None => Err(ResolveError::SeveralRunning(
                    many.iter().map(describe).collect(),
                )),
            },
        };
    };
    if let Some(i) = instances.iter().find(|i| i.id == wanted) {
        return Ok(i);
    }
    if let Some(i) = instances.iter().find(|i| i.name.as_deref() == Some(wanted)) {
        return Ok(i);
    }
    if members_of(instances, wanted).next().is_some() {
        return group_entry(instances, wanted);
    }
    let matches: Vec<&Instance> = instances
        .iter()
        .filter(|i| i.id.starts_with(wanted))
        .collect();
    match matches.as_slice() {
        [only] => Ok(only),
        [] => Err(ResolveError::NotFound {
            wanted: wanted.to_owned(),
            running: instances.iter().map(describe).collect(),
        }),
        many => Err(ResolveError::Ambiguous {
            wanted: wanted.to_owned(),
            matches: many.iter().map(|i| describe(i)).collect(),
        }),
    }
}

/// The launch group `instance` belongs to (its `gpu-session:group` tag), if any.
pub fn group_of(instance: &Instance) -> Option<&str> {
    tag(instance, TAG_GROUP)
}

/// The members of group `group` among `instances`.
pub fn members_of<'a, 'g>(
    instances: &'a [Instance],
    group: &'g str,
) -> impl Iterator<Item = &'a Instance> + use<'a, 'g> {
    instances.iter().filter(move |i| group_of(i) == Some(group))
}

/// The group every one of `instances` belongs to, if they all belong to one.
fn only_group(instances: &[Instance]) -> Option<&str> {
    let group = group_of(instances.first()?)?;
    instances
        .iter()
        .all(|i| group_of(i) == Some(group))
        .then_some(group)
}

/// The member a group is reached through: member 0, which runs the gateway (replicas)
/// or serves the model (node 0 of two).
pub fn group_entry<'a>(
    instances: &'a [Instance],
    group: &str,
) -> Result<&'a Instance, ResolveError> {
    members_of(instances, group)
        .find(|i| tag(i, TAG_MEMBER) == Some("0"))
        .ok_or_else(|| ResolveError::NoEntry {
            group: group.to_owned(),
        })
}

/// [`resolve`] against the API's current listing of our instances.
pub async fn find_ours(
    client: &LambdaClient,
    wanted: Option<&str>,
) -> Result<Instance, ResolveError> {
    let ours = list_ours(client).await?;
    resolve(&ours, wanted).cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use gpu_session_lambda::{InstanceStatus, InstanceType, InstanceTypeSpecs, Region};

    #[test]
    fn short_ids() {
        assert_eq!(short_id("0920582c7ff041399e34823a0194ef2"), "0920582c");
        assert_eq!(short_id("abc"), "abc");
    }

    fn inst(id: &str, name: Option<&str>) -> Instance {
        Instance {
            id: id.to_owned(),
            name: name.map(str::to_owned),
            ip: Some("10.0.0.1".into()),
            private_ip: None,
            status: InstanceStatus::Active,
            ssh_key_names: vec![],
            file_system_names: vec![],
            region: Region {
                name: "us-east-1".into(),
                description: String::new(),
            },
            instance_type: InstanceType {
                name: "gpu_1x_a10".into(),
                description: String::new(),
                gpu_description: String::new(),
                price_cents_per_hour: 75,
                specs: InstanceTypeSpecs {
                    vcpus: 1,
                    memory_gib: 1,
                    storage_gib: 1,
                    gpus: 1,
                },
            },
            hostname: name.map(str::to_owned),
            tags: vec![],
        }
    }

    /// Whether `hostname` follows Lambda's rules: 1-63 of `a-z`, `0-9`, `-`, not starting
    /// or ending with `-`.
    fn is_valid_hostname(hostname: &str) -> bool {
        let b = hostname.as_bytes();
        (1..=MAX_HOSTNAME_LEN).contains(&b.len())
            && b[0] != b'-'
            && b[b.len() - 1] != b'-'
            && b.iter()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
    }

    #[test]
    fn names_are_valid_hostnames() {
        for id in [
            "llama-3.1-8b",
            "qwen2.5-coder-32b-int4",
            "a",
            "x_y..z",
            &"m".repeat(64),
            "9-",
        ] {
            let name = new_instance_name(id);
            assert!(is_valid_hostname(&name), "{name}");
            assert!(name.starts_with(NAME_PREFIX), "{name}");
        }
        assert_eq!(
            instance_name("llama-3.1-8b", "abc123"),
            "gpu-session-llama-3-1-8b-abc123"
        );
        assert_ne!(new_instance_name("a"), new_instance_name("a"));
    }

    #[test]
    fn resolves_id_prefix_name_or_only_one() {
        let list = vec![
            inst("0920582c1", Some("gpu-session-a-1")),
            inst("0930aaaa", Some("gpu-session-b-2")),
        ];
        assert_eq!(resolve(&list, Some("0920")).unwrap().id, "0920582c1");
        assert_eq!(
            resolve(&list, Some("gpu-session-b-2")).unwrap().id,
            "0930aaaa"
        );
        assert!(matches!(
            resolve(&list, Some("09")),
            Err(ResolveError::Ambiguous { .. })
        ));
        assert!(matches!(
            resolve(&list, Some("zz")),
            Err(ResolveError::NotFound { .. })
        ));
        assert!(matches!(
            resolve(&list, None),
            Err(ResolveError::SeveralRunning(_))
        ));
        assert_eq!(resolve(&list[..1], None).unwrap().id, "0920582c1");
        assert!(matches!(resolve(&[], None), Err(ResolveError::NoneRunning)));
    }

    fn member(id: &str, group: &str, index: u32) -> Instance {
        let mut i = inst(id, Some(&format!("gpu-session-m-{group}-{index}")));
        i.tags = [
            (TAG_GROUP, group.to_owned()),
            (TAG_MEMBER, index.to_string()),
        ]
        .into_iter()
        .map(|(key, value)| gpu_session_lambda::Tag {
            key: key.to_owned(),
            value,
        })
        .collect();
        i
    }

    #[test]
    fn a_group_is_reached_through_member_0() {
        let group = vec![
            member("b1", "abc123", 1),
            member("b0", "abc123", 0),
            member("b2", "abc123", 2),
        ];
        // By the group's id, or as the only thing running: member 0.
        assert_eq!(resolve(&group, Some("abc123")).unwrap().id, "b0");
        assert_eq!(resolve(&group, None).unwrap().id, "b0");
        // A member's own id is still that member.
        assert_eq!(resolve(&group, Some("b2")).unwrap().id, "b2");
        // Without member 0 the group cannot be reached, and the error says how to end it.
        let headless = vec![group[0].clone(), group[2].clone()];
        let err = resolve(&headless, Some("abc123")).unwrap_err().to_string();
        assert!(err.contains("gpu-session down abc123"), "{err}");
        assert!(matches!(
            resolve(&headless, None),
            Err(ResolveError::NoEntry { .. })
        ));
        // A group and a single instance: name one.
        let mixed = vec![group[1].clone(), inst("c1", Some("gpu-session-x-1"))];
        assert!(matches!(
            resolve(&mixed, None),
            Err(ResolveError::SeveralRunning(_))
        ));
    }

    #[test]
    fn ours_by_tag_or_prefix() {
        let mut other = inst("1", Some("my-box"));
        assert!(!is_ours(&other));
        other.tags = launch_tags("llama-3.1-8b", 100, 4, 30000);
        assert!(is_ours(&other));
        assert_eq!(lease_deadline(&other), Some(100 + 4 * 3600));
        assert!(is_ours(&inst("2", Some("gpu-session-x-1"))));
    }

    #[test]
    fn time_helpers() {
        assert_eq!(uptime_secs(100, 50), 0);
        assert_eq!(lease_left_secs(100, 160), -60);
        assert!((cost_so_far_usd(120, 0, 1800) - 0.6).abs() < 1e-9);
        assert_eq!(format_duration_secs(3900), "1h 05m");
        assert_eq!(format_duration_secs(-120), "-2m");
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(1_700_000_000), "2023-11-14 22:13:20 UTC");
    }
}
