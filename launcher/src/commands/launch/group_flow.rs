//! Launching a group: a firewall ruleset, then every member in one region (paced by
//! the client's launch rate limit), each waited for as a single launch is (active, SSH,
//! lease agent armed, SGLang's first start), the group file written to every member
//! over SSH once all have a private IP, and then what serves, through the SSH tunnel to
//! member 0: for replicas (`gpu.replicas` above 1) the gateway; for one model over two
//! nodes (`gpu.nodes: 2`) SGLang on node 0, checked exactly as a single launch's.
//!
//! A replica that fails (refused, unhealthy, no private IP, failed first start) is
//! terminated and the launch goes on while at least `gpu.min_replicas` remain and
//! member 0 (the gateway's host) is one of them. A node that fails ends the launch: no
//! node serves alone. An error ends the launch and the clean-up ends every member and
//! the ruleset, as after any signal.

use std::net::Ipv4Addr;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use gpu_session_lambda::{FirewallRulesetEntry, InstanceStatus};
use indicatif::ProgressBar;
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use super::cleanup::{GroupLaunched, Launched, RulesetLaunched};
use super::forward::Forward;
use super::provision::{CapacityWait, Preflight, Session};
use super::{build_request, checks, deadline_after, output_duration, poll_interval, poll_until};
use crate::cloud::firewall as ruleset;
use crate::cloud::instances;
use crate::instance::group::{self, Member};
use crate::output::{printable, Style};
use crate::remote::first_start;
use crate::remote::sglang::SglangClient;
use crate::remote::ssh;

/// Writes the group file from stdin, whole (a temporary file, then a rename), readable
/// by the SGLang user. A fixed command: nothing from a plan or the API is in it.
const WRITE_GROUP_FILE: &str = "sudo sh -c 'umask 022 && cat > /etc/gpu-session/group.env.tmp && mv /etc/gpu-session/group.env.tmp /etc/gpu-session/group.env'";
/// How long writing the group file over SSH may take.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);

/// What a successful group launch prints with `--json`.
#[derive(Debug, Serialize)]
pub(super) struct GroupResult {
    group_id: String,
    /// `replicas` or `nodes`, as in the dry run.
    kind: &'static str,
    name: String,
    instance_type: String,
    region: String,
    /// The OpenAI-compatible endpoint, through the tunnel to member 0.
    endpoint: String,
    /// What answers at the endpoint: the gateway on member 0, or SGLang on node 0.
    served_by: &'static str,
    model: String,
    sglang_api_key: String,
    lease_deadline_utc: String,
    price_cents_per_hour: u64,
    group_price_cents_per_hour: u64,
    members: Vec<MemberResult>,
    tunnel_pid: Option<u32>,
}

#[derive(Debug, Serialize)]
struct MemberResult {
    index: u32,
    instance_id: String,
    name: String,
    ip: String,
    private_ip: String,
}

/// Where the group's members launch.
struct Placement {
    group_id: String,
    region: String,
    /// The group's firewall ruleset, every member behind it.
    ruleset_id: String,
    /// When the members' requests left (Unix seconds): the lease counts from it.
    launched_at: u64,
}

/// How one look at a member ended.
enum Look {
    Done,
    Pending,
    /// It cannot serve, and why.
    Failed(String),
}

/// One member as the launch goes.
struct MemberState {
    index: u32,
    name: String,
    id: Option<String>,
    ip: Option<String>,
    private_ip: Option<Ipv4Addr>,
    alive: bool,
}

impl Session<'_> {
    pub(super) async fn group_flow(&self) -> anyhow::Result<GroupResult> {
        let p = self.prepared;
        let Preflight {
            types,
            price,
            ssh_key,
            regions,
        } = self.preflight().await?;
        let group_id = group::id_of(&p.name).to_owned();
        // Built before anything is created (or waited for), so a bad value fails first.
        let user_data = self.members_user_data(&group_id)?;
        let region = self.group_region(types, &regions).await?;

        let mut launched = GroupLaunched {
            members: Vec::new(),
            ruleset: RulesetLaunched::Maybe(p.name.clone()),
        };
        let ruleset_id = self
            .create_ruleset(&region, &group_id, &mut launched)
            .await?;
        let place = Placement {
            group_id,
            region,
            ruleset_id,
            launched_at: instances::now_unix(),
        };
        let mut members = self
            .launch_members(&place, &ssh_key, &user_data, &mut launched)
            .await?;

        self.wait_members_active(&mut members).await?;
        if crate::test_hooks::TestHooks::get().panic_after_active {
            panic!("test hook {}", crate::test_hooks::PANIC_AFTER_ACTIVE_ENV);
        }
        let host_keys_file = self.host_keys_file()?;
        self.write_group_files(&mut members, &place.group_id, &host_keys_file)
            .await?;
        let watches = self
            .wait_members_ready(&mut members, &host_keys_file)
            .await?;
        let (endpoint, tunnel_pid) = self.serve(&members, &host_keys_file, watches).await?;
        Ok(self.group_result(&members, place, endpoint, tunnel_pid, price))
    }

    /// The first of `regions` with capacity (a group launches in one region), again
    /// every poll while `--wait-for-capacity` lasts.
    async fn group_region(
        &self,
        mut types: gpu_session_lambda::InstanceTypes,
        regions: &[String],
    ) -> anyhow::Result<String> {
        let instance_type = &self.prepared.plan.gpu.instance_type;
        let mut wait = CapacityWait::new(self, regions);
        let region = loop {
            let found = regions.iter().find(|r| {
                types
                    .get(instance_type)
                    .is_some_and(|a| a.has_capacity_in(r))
            });
            if let Some(region) = found {
                break region.clone();
            }
            types = wait.again().await?;
        };
        wait.done();
        Ok(region)
    }

    /// The group's firewall ruleset in `region`, recorded in `launched` before and
    /// after the create; its id.
    async fn create_ruleset(
        &self,
        region: &str,
        group_id: &str,
        launched: &mut GroupLaunched,
    ) -> anyhow::Result<String> {
        let name = &self.prepared.name;
        self.set_launched(Launched::Group(launched.clone()));
        let ruleset_id = ruleset::create(self.client, name, region)
            .await
            .context("could not create the group's firewall ruleset")?;
        launched.ruleset = RulesetLaunched::Created(ruleset_id.clone());
        self.set_launched(Launched::Group(launched.clone()));
        self.note(&format!(
            "Created firewall ruleset {ruleset_id} ({name}) in {region} for group {group_id}."
        ));
        Ok(ruleset_id)
    }

    /// Member `index`'s launch request: tagged with the group, behind its ruleset.
    fn member_request(
        &self,
        place: &Placement,
        ssh_key: &str,
        index: u32,
        name: &str,
        user_data: &str,
    ) -> gpu_session_lambda::LaunchRequest {
        let plan = &self.prepared.plan;
        let region = &place.region;
        let mut request = build_request(
            plan,
            region,
            ssh_key,
            name,
            self.prepared.filesystem.as_deref(),
            user_data,
            place.launched_at,
        );
        request
            .tags
            .extend(super::dry_run::group_tags(plan, &place.group_id, index));
        request.firewall_rulesets = vec![FirewallRulesetEntry {
            id: place.ruleset_id.clone(),
        }];
        self.note(&format!(
            "Launching {} {index} of {} ({name}) in {region}...",
            self.member_word(),
            plan.gpu.instance_count()
        ));
        request
    }

    /// What serves, through the tunnel to member 0 (alive: `enough_members` checks):
    /// SGLang on node 0 or the gateway. The endpoint and the detached tunnel's pid.
    async fn serve(
        &self,
        members: &[MemberState],
        host_keys_file: &std::path::Path,
        mut watches: Vec<checks::PhaseWatch>,
    ) -> anyhow::Result<(String, Option<u32>)> {
        if self.is_nodes() {
            let watch = watches.swap_remove(0);
            self.serve_from_node_0(&members[0], host_keys_file, watch)
                .await
        } else {
            let alive = members.iter().filter(|m| m.alive).count() as u64;
            self.serve_through_gateway(&members[0], host_keys_file, alive)
                .await
        }
    }

    /// What the launch prints once the group serves: its serving members.
    fn group_result(
        &self,
        members: &[MemberState],
        place: Placement,
        endpoint: String,
        tunnel_pid: Option<u32>,
        price: u64,
    ) -> GroupResult {
        let p = self.prepared;
        let serving: Vec<MemberResult> = members
            .iter()
            .filter(|m| m.alive)
            .map(|m| MemberResult {
                index: m.index,
                instance_id: m.id.clone().unwrap_or_default(),
                name: m.name.clone(),
                ip: m.ip.clone().unwrap_or_default(),
                private_ip: m.private_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            })
            .collect();
        GroupResult {
            group_id: place.group_id,
            kind: if self.is_nodes() { "nodes" } else { "replicas" },
            name: p.name.clone(),
            instance_type: p.plan.gpu.instance_type.clone(),
            region: place.region,
            endpoint,
            served_by: if self.is_nodes() {
                "SGLang on node 0"
            } else {
                "the gateway on member 0"
            },
            model: p.plan.model.id.clone(),
            sglang_api_key: p.sglang_key.clone(),
            lease_deadline_utc: instances::format_utc(p.lease_deadline(place.launched_at)),
            price_cents_per_hour: price,
            group_price_cents_per_hour: price * serving.len() as u64,
            members: serving,
            tunnel_pid,
        }
    }

    /// Every member's name and user_data, in member order.
    fn members_user_data(&self, group_id: &str) -> anyhow::Result<Vec<(String, String)>> {
        let p = self.prepared;
        let count = p.plan.gpu.instance_count();
        let mut user_data = Vec::new();
        for index in 0..count {
            let name = group::member_name(&p.plan.model.id, group_id, index);
            let text = self.user_data(&name, Some(Member { index, count }))?;
            user_data.push((name, text));
        }
        Ok(user_data)
    }

    /// Every member launched in turn, each request recorded in `launched`; an error
    /// as soon as too few can serve.
    async fn launch_members(
        &self,
        place: &Placement,
        ssh_key: &str,
        user_data: &[(String, String)],
        launched: &mut GroupLaunched,
    ) -> anyhow::Result<Vec<MemberState>> {
        let mut members = Vec::new();
        let count = self.prepared.plan.gpu.instance_count();
        for (index, (name, text)) in (0..count).zip(user_data) {
            let request = self.member_request(place, ssh_key, index, name, text);
            let member = self.launch_member(index, name, &request, launched).await?;
            members.push(member);
            self.enough_members(&members)?;
        }
        Ok(members)
    }

    /// Sends member `index`'s launch request, recording what it may have created. A
    /// refused replica comes back not alive (with a warning); a refused node is an
    /// error.
    async fn launch_member(
        &self,
        index: u32,
        name: &str,
        request: &gpu_session_lambda::LaunchRequest,
        launched: &mut GroupLaunched,
    ) -> anyhow::Result<MemberState> {
        launched.members.push((name.to_owned(), Launched::Maybe));
        self.set_launched(Launched::Group(launched.clone()));
        let mut member = MemberState {
            index,
            name: name.to_owned(),
            id: None,
            ip: None,
            private_ip: None,
            alive: false,
        };
        let answer = self.client.launch(request).await;
        let state = &mut launched.members[index as usize].1;
        match &answer {
            Ok(response) => {
                member.id = response.instance_ids.first().cloned();
                member.alive = member.id.is_some();
                *state = member
                    .id
                    .clone()
                    .map_or(Launched::Maybe, Launched::Instance);
            }
            // A definite refusal (capacity, validation): nothing was created.
            Err(e) if !e.is_server_error() && !e.is_connect() => *state = Launched::Nothing,
            Err(_) => {}
        }
        self.set_launched(Launched::Group(launched.clone()));
        if let Err(e) = answer {
            if self.is_nodes() {
                return Err(Self::node_failed(index, &format!("it did not launch: {e}")));
            }
            self.ctx
                .printer
                .warn(&printable(&format!("member {index} did not launch: {e}")));
        }
        Ok(member)
    }

    /// One model over nodes (`gpu.nodes` above 1), rather than replicas.
    fn is_nodes(&self) -> bool {
        group::spans_nodes(&self.prepared.plan)
    }

    /// "member" or "node", for messages.
    fn member_word(&self) -> &'static str {
        if self.is_nodes() {
            "node"
        } else {
            "member"
        }
    }

    /// The tunnel from a free local port to `serving.port` on `m`, open.
    fn tunnel_to(
        &self,
        m: &MemberState,
        host_keys_file: &std::path::Path,
    ) -> anyhow::Result<Forward<'_>> {
        let id = m.id.clone().unwrap_or_default();
        let host_keys = ssh::HostKeys::new(host_keys_file.to_path_buf(), &id)?;
        let port = ssh::free_local_port()?;
        let ip = m.ip.clone().unwrap_or_default();
        let mut forward = self.forward(&id, &ip, port, host_keys);
        forward.open()?;
        Ok(forward)
    }

    /// The gateway on member 0, through the tunnel: every serving member healthy in it
    /// and a completion through it. The endpoint and the detached tunnel's pid.
    async fn serve_through_gateway(
        &self,
        member_0: &MemberState,
        host_keys_file: &std::path::Path,
        serving: u64,
    ) -> anyhow::Result<(String, Option<u32>)> {
        let mut forward = self.tunnel_to(member_0, host_keys_file)?;
        let gateway = SglangClient::new(
            &format!("http://127.0.0.1:{}", forward.local_port),
            &self.prepared.sglang_key,
        )?;
        self.wait_gateway(&gateway, &mut forward, serving).await?;
        Ok((gateway.endpoint(), forward.detach()))
    }

    /// SGLang on node 0 (SGLang 0.5.23 serves HTTP only on node rank 0), through the
    /// tunnel, checked as a single launch's: ready, the agent armed, a 1-token
    /// completion, predicted vs actual. The endpoint and the detached tunnel's pid.
    async fn serve_from_node_0(
        &self,
        node_0: &MemberState,
        host_keys_file: &std::path::Path,
        watch: checks::PhaseWatch,
    ) -> anyhow::Result<(String, Option<u32>)> {
        let mut forward = self.tunnel_to(node_0, host_keys_file)?;
        let (endpoint, _) = self.check_sglang(&mut forward, watch).await?;
        Ok((endpoint, forward.detach()))
    }

    /// The error that ends a multi-node launch when one node fails: none serves alone
    /// (`gpu.min_replicas` is about replicas; nodes have no such minimum).
    fn node_failed(index: u32, why: &str) -> anyhow::Error {
        anyhow!("node {index} failed: {why}; a two-node model needs both nodes")
    }

    /// An error when fewer than `gpu.min_replicas` members can still serve, or member 0
    /// (the gateway's host) cannot; for nodes, when any node cannot.
    fn enough_members(&self, members: &[MemberState]) -> anyhow::Result<()> {
        let gpu = &self.prepared.plan.gpu;
        if let Some(m) = members.iter().find(|m| !m.alive && self.is_nodes()) {
            return Err(Self::node_failed(m.index, "it cannot serve"));
        }
        let launching = (gpu.instance_count() as usize).saturating_sub(members.len());
        let alive = members.iter().filter(|m| m.alive).count();
        if members.first().is_some_and(|m| !m.alive) {
            bail!("member 0, which runs the gateway, failed; the group cannot serve");
        }
        if alive + launching < gpu.min_replicas() as usize {
            bail!(
                "only {alive} of {} replicas can serve, fewer than gpu.min_replicas ({})",
                gpu.replicas,
                gpu.min_replicas()
            );
        }
        Ok(())
    }

    /// Terminates a failed member now (it bills until then) and checks enough remain.
    async fn drop_member(
        &self,
        members: &mut [MemberState],
        at: usize,
        why: &str,
    ) -> anyhow::Result<()> {
        let member = &mut members[at];
        member.alive = false;
        if self.is_nodes() {
            // The clean-up ends every node and the ruleset.
            return Err(Self::node_failed(member.index, why));
        }
        self.ctx.printer.warn(&printable(&format!(
            "member {} ({}) failed: {why}; terminating it",
            member.index, member.name
        )));
        if let Some(id) = &member.id {
            // The clean-up at the end tries again should this fail.
            if let Err(e) = self.client.terminate(std::slice::from_ref(id)).await {
                self.ctx
                    .printer
                    .warn(&printable(&format!("terminating {id} failed: {e}")));
            } else {
                self.note(&format!("Terminated instance {id} ({}).", member.name));
            }
        }
        self.enough_members(members)
    }

    /// Every launched member active with a public and a private address.
    async fn wait_members_active(&self, members: &mut [MemberState]) -> anyhow::Result<()> {
        let bar = self.spinner("Waiting for the members to boot".to_owned());
        let deadline = deadline_after(self.prepared.boot_timeout);
        self.poll_members(members, &bar, async |_, m| {
            self.look_booting(m, deadline).await
        })
        .await?;
        self.note(&format!("Every {} is active.", self.member_word()));
        Ok(())
    }

    /// One look at a booting member; its addresses once it is active.
    async fn look_booting(&self, m: &mut MemberState, deadline: Instant) -> anyhow::Result<Look> {
        if m.ip.is_some() {
            return Ok(Look::Done);
        }
        let id = m.id.clone().unwrap_or_default();
        let instance = self.client.get_instance(&id).await?;
        Ok(match instance.status {
            InstanceStatus::Active if instance.ip.is_some() => {
                match group::private_ip(&id, instance.private_ip.as_deref()) {
                    Ok(private) => {
                        m.ip = instance.ip.clone();
                        m.private_ip = Some(private);
                        Look::Done
                    }
                    Err(e) => Look::Failed(e.to_string()),
                }
            }
            InstanceStatus::Unhealthy => Look::Failed("unhealthy while booting".to_owned()),
            s if s.is_gone() => Look::Failed(format!("{s} before it became active")),
            _ if Instant::now() >= deadline => Look::Failed(format!(
                "not active after {} (--boot-timeout)",
                humantime::format_duration(self.prepared.boot_timeout)
            )),
            _ => Look::Pending,
        })
    }

    /// Looks at every alive member each poll until none is pending; a member whose
    /// look fails is dropped ([`Self::drop_member`]). Clears `bar` when done or when a
    /// drop ends the launch.
    async fn poll_members(
        &self,
        members: &mut [MemberState],
        bar: &ProgressBar,
        mut look: impl AsyncFnMut(usize, &mut MemberState) -> anyhow::Result<Look>,
    ) -> anyhow::Result<()> {
        loop {
            let mut pending = 0;
            for at in 0..members.len() {
                if !members[at].alive {
                    continue;
                }
                let why = match look(at, &mut members[at]).await? {
                    Look::Done => continue,
                    Look::Pending => {
                        pending += 1;
                        continue;
                    }
                    Look::Failed(why) => why,
                };
                if let Err(e) = self.drop_member(members, at, &why).await {
                    bar.finish_and_clear();
                    return Err(e);
                }
            }
            if pending == 0 {
                break;
            }
            tokio::time::sleep(poll_interval()).await;
        }
        bar.finish_and_clear();
        Ok(())
    }

    /// Writes the group file to every member over SSH (on stdin) once sshd answers.
    async fn write_group_files(
        &self,
        members: &mut [MemberState],
        group_id: &str,
        host_keys_file: &std::path::Path,
    ) -> anyhow::Result<()> {
        let plan = &self.prepared.plan;
        let count = plan.gpu.instance_count();
        let workers: Vec<String> = members
            .iter()
            .filter(|m| m.alive)
            .filter_map(|m| m.private_ip.map(|ip| ip.to_string()))
            .collect();
        for at in 0..members.len() {
            if !members[at].alive {
                continue;
            }
            let m = &members[at];
            let member = Member {
                index: m.index,
                count,
            };
            let own = m.private_ip.map(|ip| ip.to_string()).unwrap_or_default();
            let content = group::group_file(plan, group_id, member, &own, &workers)?;
            let written = self.write_group_file(m, host_keys_file, &content).await;
            if let Err(e) = written {
                self.drop_member(
                    members,
                    at,
                    &format!("could not write the group file: {e:#}"),
                )
                .await?;
            }
        }
        Ok(())
    }

    async fn write_group_file(
        &self,
        m: &MemberState,
        host_keys_file: &std::path::Path,
        content: &str,
    ) -> anyhow::Result<()> {
        let (ip, id) = (
            m.ip.clone().unwrap_or_default(),
            m.id.clone().unwrap_or_default(),
        );
        let host_keys = ssh::HostKeys::new(host_keys_file.to_path_buf(), &id)?;
        let forward = self.forward(&id, &ip, 0, host_keys.clone());
        forward.wait_for_ssh(&|_| {}).await?;
        self.ssh_write_group_file(&ip, &host_keys, content).await
    }

    /// The group file written on `ip` by one ssh ([`WRITE_GROUP_FILE`], the content on
    /// stdin), within [`WRITE_TIMEOUT`].
    async fn ssh_write_group_file(
        &self,
        ip: &str,
        host_keys: &ssh::HostKeys,
        content: &str,
    ) -> anyhow::Result<()> {
        let mut child = tokio::process::Command::new(ssh::ssh_program())
            .args(ssh::batch_args(
                ip,
                self.ssh_key_path.as_deref(),
                host_keys,
                WRITE_GROUP_FILE,
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("could not start ssh")?;
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(content.as_bytes()).await?;
        }
        let out = tokio::time::timeout(WRITE_TIMEOUT, child.wait_with_output())
            .await
            .map_err(|_| {
                anyhow!(
                    "ssh did not finish within {}",
                    output_duration(WRITE_TIMEOUT)
                )
            })??;
        if !out.status.success() {
            bail!(
                "ssh exited with {}: {}",
                out.status,
                printable(String::from_utf8_lossy(&out.stderr).trim())
            );
        }
        Ok(())
    }

    /// Every member's lease agent armed and SGLang's first start finished (its phase
    /// file, over SSH); a failed first start drops the member. The watches, by member.
    async fn wait_members_ready(
        &self,
        members: &mut [MemberState],
        host_keys_file: &std::path::Path,
    ) -> anyhow::Result<Vec<checks::PhaseWatch>> {
        let p = self.prepared;
        let mut watches = self.phase_watches(members, host_keys_file)?;
        let bar = self.spinner(format!(
            "Waiting for SGLang to load {} on every member",
            p.plan.model.checkpoint
        ));
        let deadline = deadline_after(p.ready_timeout);
        self.poll_members(members, &bar, async |at, _| {
            Ok(self.look_first_start(&mut watches[at], deadline).await)
        })
        .await?;
        Ok(watches)
    }

    /// What reads each member's first-start phases over SSH, by member.
    fn phase_watches(
        &self,
        members: &[MemberState],
        host_keys_file: &std::path::Path,
    ) -> anyhow::Result<Vec<checks::PhaseWatch>> {
        let mut watches = Vec::new();
        for m in members {
            let (ip, id) = (
                m.ip.clone().unwrap_or_default(),
                m.id.clone().unwrap_or_default(),
            );
            let remote = first_start::Remote {
                ip,
                key: self.ssh_key_path.clone(),
                host_keys: ssh::HostKeys::new(host_keys_file.to_path_buf(), &id)?,
            };
            watches.push(checks::PhaseWatch::new(remote, &id));
        }
        Ok(watches)
    }

    /// One look at a member's first start: done once SGLang is ready and the agent
    /// armed.
    async fn look_first_start(&self, watch: &mut checks::PhaseWatch, deadline: Instant) -> Look {
        let looked = watch
            .poll(&self.ctx.printer, self.args.json, &ProgressBar::hidden())
            .await;
        match looked {
            Err(e) => Look::Failed(format!("{e:#}")),
            Ok(()) if watch.is_ready() && watch.is_armed() => Look::Done,
            Ok(()) if Instant::now() >= deadline => Look::Failed(format!(
                "SGLang was not ready after {} (--ready-timeout)",
                output_duration(self.prepared.ready_timeout)
            )),
            Ok(()) => Look::Pending,
        }
    }

    /// The gateway counts every serving member healthy and answers a completion.
    async fn wait_gateway(
        &self,
        gateway: &SglangClient,
        forward: &mut Forward<'_>,
        serving: u64,
    ) -> anyhow::Result<()> {
        let p = self.prepared;
        let bar = self.spinner("Waiting for the gateway on member 0".to_owned());
        let deadline = deadline_after(p.ready_timeout);
        let look = async || {
            let note = |m: &str| bar.suspend(|| self.ctx.printer.note(m));
            forward.keep_open(&note).await?;
            Ok(match gateway.gateway_workers().await {
                Ok((healthy, _)) if healthy >= serving => Ok(()),
                Ok((healthy, total)) => Err(format!(
                    "the gateway counts {healthy} healthy of {total} registered workers, {serving} expected"
                )),
                Err(why) => Err(why),
            })
        };
        poll_until(&bar, deadline, look, |why| {
            anyhow!(
                "the gateway was not ready after {}: {why}",
                output_duration(p.ready_timeout)
            )
        })
        .await?;
        gateway
            .complete_one_token(&p.plan.model.id)
            .await
            .map_err(|e| {
                anyhow!("the gateway is ready but a chat completion through it failed: {e}")
            })?;
        self.note("A 1-token test completion through the gateway succeeded.");
        Ok(())
    }

    pub(super) fn print_group_result(&self, r: &GroupResult) -> anyhow::Result<()> {
        if self.args.json {
            return self.ctx.printer.json(r);
        }
        let (size, label) = if self.is_nodes() {
            (format!("{} nodes, one model", r.members.len()), "Node")
        } else {
            (format!("{} serving", r.members.len()), "Member")
        };
        let mut out = format!(
            "{}\n  Group:     {} ({size}), {} in {}\n  Endpoint:  {} ({})\n  Model:     {}\n  API key:   {}\n  Lease:     ends {}\n  Cost:      ${:.2}/h for the group\n",
            self.ctx.printer.paint(Style::Green, "The group is ready."),
            r.group_id,
            r.instance_type,
            r.region,
            r.endpoint,
            r.served_by,
            r.model,
            r.sglang_api_key,
            r.lease_deadline_utc,
            r.group_price_cents_per_hour as f64 / 100.0
        );
        for m in &r.members {
            out.push_str(&format!(
                "  {:<11}{} ({}) IP {}, private {}\n",
                format!("{label} {}:", m.index),
                m.instance_id,
                m.name,
                m.ip,
                m.private_ip
            ));
        }
        if let Some(pid) = r.tunnel_pid {
            out.push_str(&format!("  Tunnel:    ssh pid {pid} (stop: kill {pid})\n"));
        }
        // `down` with the group id ends every member and the group's ruleset.
        out.push_str(&format!(
            "\nStop billing: gpu-session down {}\n",
            r.group_id
        ));
        self.ctx.printer.out(&out)
    }
}
