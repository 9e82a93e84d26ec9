//! `gpu-session status`: the instances this tool launched, with uptime, lease left
//! and cost so far.

use std::process::ExitCode;

use serde::Serialize;

use crate::cli::StatusArgs;
use crate::cloud::instances::{self, short_id};
use crate::cloud::lease;
use crate::cloud::Cloud;
use crate::context::Context;
use crate::output::{printable, Align, Cell, Style, Table};
use crate::remote::first_start::Remote;
use crate::remote::gateway_view::{self, MemberHealth};
use crate::remote::ssh_target;
use gpu_session_lambda::Instance;

/// Shown where a value is unknown.
const UNKNOWN: &str = "—";

/// One instance as `status --json` prints it.
#[derive(Debug, Serialize)]
struct Row {
    id: String,
    name: Option<String>,
    model: Option<String>,
    instance_type: String,
    region: String,
    ip: Option<String>,
    status: String,
    price_cents_per_hour: u64,
    launched_at: Option<u64>,
    uptime_secs: Option<u64>,
    lease_deadline: Option<u64>,
    lease_left_secs: Option<i64>,
    cost_so_far_usd: Option<f64>,
    estimated_total_usd: Option<f64>,
    /// Core's prediction and SGLang's real KV pool and weights, recorded at launch.
    predicted_vs_actual: Option<crate::remote::first_start::Comparison>,
    /// The group this instance belongs to (its `gpu-session:group` tag), if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    /// Its index in the group (member 0 runs the gateway, or is node 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    member: Option<u32>,
    /// For one model over several nodes: how many (its group has no gateway; node 0
    /// serves).
    #[serde(skip_serializing_if = "Option::is_none")]
    nodes: Option<u32>,
    /// A node's first-start phase (or why it could not be read), read over SSH.
    #[serde(skip_serializing_if = "Option::is_none")]
    phase: Option<String>,
    /// Its private address (how the gateway reaches it).
    #[serde(skip_serializing_if = "Option::is_none")]
    private_ip: Option<String>,
    /// What the group's gateway says about this member, when it answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<MemberHealth>,
    /// Why the group's gateway could not be asked, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct Report {
    instances: Vec<Row>,
    total_cost_so_far_usd: f64,
    total_usd_per_hour: f64,
}

pub fn run(ctx: &Context, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let cloud = Cloud::connect(ctx)?;
    let ours = cloud.block_on(instances::list_ours(&cloud.client))?;
    let extensions = lease::load_extensions(ctx);
    let now = instances::now_unix();
    let rows: Vec<Row> = ours
        .iter()
        .map(|i| row(i, extensions.get(&i.id).copied(), now))
        .collect();
    let mut rows = rows;
    if let Ok(path) = ctx.config_path() {
        let records = crate::remote::first_start::load_records(&path);
        for r in &mut rows {
            r.predicted_vs_actual = records.get(&r.id).copied();
        }
    }
    add_gateway_views(ctx, &cloud, &mut rows);
    add_node_phases(ctx, &cloud, &mut rows);
    let report = Report {
        total_cost_so_far_usd: round_cents(rows.iter().filter_map(|r| r.cost_so_far_usd).sum()),
        total_usd_per_hour: round_cents(
            rows.iter()
                .map(|r| r.price_cents_per_hour as f64 / 100.0)
                .sum(),
        ),
        instances: rows,
    };
    if args.json {
        ctx.printer.json(&report)?;
    } else {
        ctx.printer.out(&render(ctx, &report))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn row(instance: &Instance, extended_deadline: Option<u64>, now: u64) -> Row {
    let price = instance.instance_type.price_cents_per_hour;
    let launched_at = instances::launched_at(instance);
    // `extend` records the pushed deadline locally; the tags only know the original one.
    let deadline = match (instances::lease_deadline(instance), extended_deadline) {
        (Some(a), Some(b)) => Some(a.max(b)),
        (a, b) => a.or(b),
    };
    let estimated_total = match (launched_at, deadline) {
        // The whole lease is the cost "so far" at the deadline.
        (Some(start), Some(end)) => {
            Some(round_cents(instances::cost_so_far_usd(price, start, end)))
        }
        _ => None,
    };
    Row {
        id: instance.id.clone(),
        name: instance.name.clone(),
        model: instances::model_id(instance).map(str::to_owned),
        instance_type: instance.instance_type.name.clone(),
        region: instance.region.name.clone(),
        ip: instance.ip.clone(),
        status: instance.status.to_string(),
        price_cents_per_hour: price,
        launched_at,
        uptime_secs: launched_at.map(|t| instances::uptime_secs(t, now)),
        lease_deadline: deadline,
        lease_left_secs: deadline.map(|d| instances::lease_left_secs(d, now)),
        cost_so_far_usd: launched_at
            .map(|t| round_cents(instances::cost_so_far_usd(price, t, now))),
        estimated_total_usd: estimated_total,
        predicted_vs_actual: None,
        group: instances::tag(instance, instances::TAG_GROUP).map(str::to_owned),
        member: instances::tag(instance, instances::TAG_MEMBER).and_then(|m| m.parse().ok()),
        nodes: instances::tag(instance, instances::TAG_NODES)
            .and_then(|n| n.parse().ok())
            .filter(|&n: &u32| n > 1),
        phase: None,
        private_ip: instance.private_ip.clone(),
        gateway: None,
        gateway_error: None,
    }
}

/// For each replica group whose member 0 is active: ask its gateway (over SSH, bounded by
/// `gateway_view`'s timeouts) which members it sees healthy. A gateway or SSH that does
/// not answer is reported on the group's rows, never an error of `status`.
fn add_gateway_views(ctx: &Context, cloud: &Cloud, rows: &mut [Row]) {
    let members_0: Vec<(String, String, String)> = rows
        .iter()
        .filter(|r| r.member == Some(0) && r.nodes.is_none() && r.status == "active")
        .filter_map(|r| Some((r.group.clone()?, r.id.clone(), r.ip.clone()?)))
        .collect();
    for (group, id, ip) in members_0 {
        let view = member_remote(ctx, &id, ip)
            .and_then(|remote| cloud.block_on(gateway_view::workers(&remote)));
        for r in rows
            .iter_mut()
            .filter(|r| r.group.as_deref() == Some(&group))
        {
            match &view {
                Ok(Some(workers)) => {
                    r.gateway = Some(
                        r.private_ip
                            .as_deref()
                            .map_or(MemberHealth::NotRegistered, |ip| {
                                gateway_view::member_health(workers, ip)
                            }),
                    );
                }
                Ok(None) => {}
                Err(why) => r.gateway_error = Some(why.clone()),
            }
        }
    }
}

/// Each active node's first-start phase, read over SSH like `launch` reads it (bounded
/// by ssh's timeouts); an SSH that fails is its phase's text, never an error of `status`.
fn add_node_phases(ctx: &Context, cloud: &Cloud, rows: &mut [Row]) {
    for r in rows
        .iter_mut()
        .filter(|r| r.nodes.is_some() && r.status == "active")
    {
        let Some(ip) = r.ip.clone() else { continue };
        r.phase = Some(match member_remote(ctx, &r.id, ip) {
            Ok(remote) => printable(&cloud.block_on(remote.look()).0.describe()),
            Err(why) => format!("unknown ({why})"),
        });
    }
}

/// How to read a member's phase (or its gateway, on member 0) over SSH.
fn member_remote(ctx: &Context, id: &str, ip: String) -> Result<Remote, String> {
    Ok(Remote {
        ip,
        key: ssh_target::key_path(ctx).map_err(|e| e.to_string())?,
        host_keys: ssh_target::host_keys(ctx, id).map_err(|e| e.to_string())?,
    })
}

/// One line per group: its members' states and what the group costs an hour.
fn groups(report: &Report) -> String {
    let mut ids: Vec<&str> = report
        .instances
        .iter()
        .filter_map(|r| r.group.as_deref())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.into_iter()
        .map(|id| {
            let members: Vec<&Row> = report
                .instances
                .iter()
                .filter(|r| r.group.as_deref() == Some(id))
                .collect();
            let states: Vec<String> = members
                .iter()
                .map(|r| {
                    let index = r.member.map_or_else(|| "?".to_owned(), |m| m.to_string());
                    match (r.gateway, &r.phase) {
                        (Some(health), _) => format!("{index}: {}, {}", r.status, health.label()),
                        (None, Some(phase)) => format!("{index}: {}, {phase}", r.status),
                        (None, None) => format!("{index}: {}", r.status),
                    }
                })
                .collect();
            let per_hour: u64 = members.iter().map(|r| r.price_cents_per_hour).sum();
            if let Some(nodes) = members.iter().find_map(|r| r.nodes) {
                return format!(
                    "Group {id}: one model over {nodes} nodes ({}), ${:.2}/h; node 0 serves it (no gateway); end it with `gpu-session down {id}`\n",
                    states.join("; "),
                    per_hour as f64 / 100.0
                );
            }
            let gateway = members
                .iter()
                .find_map(|r| r.gateway_error.as_deref())
                .map_or(String::new(), |why| {
                    format!("  Gateway view unavailable: {why}\n")
                });
            format!(
                "Group {id}: {} members ({}), ${:.2}/h; end it with `gpu-session down {id}`\n{gateway}",
                members.len(),
                states.join(", "),
                per_hour as f64 / 100.0
            )
        })
        .collect()
}

fn render(ctx: &Context, report: &Report) -> String {
    if report.instances.is_empty() {
        return "No instances launched by gpu-session are running.\n".to_owned();
    }
    let mut table = Table::new(&[
        ("ID", Align::Left),
        ("NAME", Align::Left),
        ("TYPE", Align::Left),
        ("REGION", Align::Left),
        ("IP", Align::Left),
        ("STATE", Align::Left),
        ("UPTIME", Align::Right),
        ("LEASE LEFT", Align::Right),
        ("COST", Align::Right),
        ("EST. TOTAL", Align::Right),
    ]);
    for r in &report.instances {
        let lease = match r.lease_left_secs {
            Some(left) if left <= 0 => Cell::styled("expired", Style::Red),
            Some(left) if left < 3600 => {
                Cell::styled(instances::format_duration_secs(left), Style::Yellow)
            }
            Some(left) => Cell::from(instances::format_duration_secs(left)),
            None => Cell::from(UNKNOWN),
        };
        table.row(vec![
            Cell::from(short_id(&r.id)),
            Cell::from(r.name.as_deref().unwrap_or(UNKNOWN)),
            Cell::from(r.instance_type.as_str()),
            Cell::from(r.region.as_str()),
            Cell::from(r.ip.as_deref().unwrap_or(UNKNOWN)),
            Cell::from(r.status.as_str()),
            Cell::from(r.uptime_secs.map_or_else(
                || UNKNOWN.to_owned(),
                |s| instances::format_duration_secs(i64::try_from(s).unwrap_or(i64::MAX)),
            )),
            lease,
            Cell::from(money(r.cost_so_far_usd)),
            Cell::from(money(r.estimated_total_usd)),
        ]);
    }
    let mut text = table.render(ctx.printer.color());
    text.push_str(&groups(report));
    text.push_str(&agent_not_acting(report));
    if report.instances.len() > 1 {
        text.push_str(&format!(
            "Total: {} instances, ${:.2} so far, ${:.2}/h\n",
            report.instances.len(),
            report.total_cost_so_far_usd,
            report.total_usd_per_hour
        ));
    }
    text
}

/// Past its lease deadline by more than this, a running instance means its lease agent
/// is not acting: the instance's own deadline counts from its boot, a few minutes after
/// the launch time its tags hold, and the agent checks every 30 s.
const AGENT_LATE_SECS: i64 = 10 * 60;

/// One line per running instance whose lease agent should have ended it by now.
fn agent_not_acting(report: &Report) -> String {
    report
        .instances
        .iter()
        .filter(|r| r.lease_left_secs.is_some_and(|left| left < -AGENT_LATE_SECS))
        .filter(|r| r.status == "active" || r.status == "booting" || r.status == "unhealthy")
        .map(|r| {
            format!(
                "{}: past its lease end and still {}: agent not acting — run `gpu-session down {}`\n",
                short_id(&r.id),
                r.status,
                r.id
            )
        })
        .collect()
}

fn money(value: Option<f64>) -> String {
    value.map_or_else(|| UNKNOWN.to_owned(), |v| format!("${v:.2}"))
}

fn round_cents(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_rounds_to_cents() {
        assert_eq!(money(None), UNKNOWN);
        assert_eq!(money(Some(1.005)), "$1.00");
        assert_eq!(round_cents(0.126), 0.13);
    }
}
