//! The real lease agent (`lease-agent.sh`) run locally against the fake Lambda API and
//! the fake SGLang: arming, the deadline and its cap, idle and failed starts, the
//! watchdog, and instances sharing its hostname.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use gpu_session_lambda::{ApiKey, ClientOptions, LambdaClient, LaunchRequest};
use gpu_session_tests::fake_lambda::{Boot, FakeLambda, FakeLambdaConfig, Status};
use gpu_session_tests::fake_sglang::{FakeSglang, FakeSglangConfig};

/// The hostname the agent tests give their instances.
const HOST: &str = "gpu-session-agent-test-1";
/// A metrics URL nothing answers on (the discard port): a dead SGLang.
const DEAD_METRICS: &str = "http://127.0.0.1:9/metrics";

pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

pub(crate) fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

fn agent_script(dir: &Path) -> PathBuf {
    let path = dir.join("lease-agent.sh");
    std::fs::write(&path, gpu_session::lease_agent::SCRIPT).unwrap();
    path
}

/// Launches an instance through the fake's API, as if `launch` had.
pub(crate) fn launch_directly(fake: &FakeLambda, hostname: &str) -> String {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let client = LambdaClient::new(
            &fake.base_url(),
            ApiKey::new(fake.api_key()).unwrap(),
            ClientOptions::fast_for_tests(),
        )
        .unwrap();
        let mut req = LaunchRequest::new("us-east-1", "gpu_1x_a10", "gpu-session");
        req.name = Some(hostname.to_owned());
        req.hostname = Some(hostname.to_owned());
        client.launch(&req).await.unwrap().instance_ids[0].clone()
    })
}

/// A running agent, killed when dropped.
pub(crate) struct Agent {
    child: Child,
    dir: PathBuf,
}

impl Agent {
    /// What the agent wrote to its status file (empty before it wrote).
    pub(crate) fn status(&self) -> String {
        agent_status(&self.dir)
    }

    /// The agent's log, for failure messages.
    pub(crate) fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("agent.log")).unwrap_or_default()
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Where an agent with state in `dir` writes its status.
pub(crate) fn agent_status_file(dir: &Path) -> PathBuf {
    dir.join("state/agent-status")
}

fn agent_status(dir: &Path) -> String {
    std::fs::read_to_string(agent_status_file(dir))
        .unwrap_or_default()
        .trim()
        .to_owned()
}

/// The agent's command with every file in `dir`, `key` in its key file, API `api_url`
/// (loopback allowed), booted now, a dead SGLang, idle limit off, 1 s polls. Tests
/// change what they exercise with `.env(...)`.
pub(crate) fn agent_command(dir: &Path, api_url: &str, key: &str) -> Command {
    let key_file = dir.join("key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(agent_script(dir))
        .env("GPU_SESSION_LAMBDA_API_URL", api_url)
        .env("GPU_SESSION_ALLOW_LOOPBACK_API", "1")
        .env("GPU_SESSION_KEY_FILE", &key_file)
        .env("GPU_SESSION_DEADLINE_FILE", dir.join("deadline"))
        .env("GPU_SESSION_LEASE_HOURS", "4")
        .env("GPU_SESSION_MAX_LEASE_HOURS", "24")
        .env("GPU_SESSION_BOOT_TIME", now().to_string())
        .env("GPU_SESSION_HOSTNAME", HOST)
        .env("GPU_SESSION_METRICS_URL", DEAD_METRICS)
        .env("GPU_SESSION_PHASE_FILE", dir.join("phase"))
        .env("GPU_SESSION_STARTUP_SECONDS", "3600")
        .env("GPU_SESSION_IDLE_SECONDS", "0")
        .env("GPU_SESSION_POLL_SECONDS", "1")
        .env("GPU_SESSION_STATE_DIR", dir.join("state"))
        .env("GPU_SESSION_COUNT_SSH", "0");
    cmd
}

/// Starts `cmd` (an [`agent_command`] for `dir`), its stderr in `dir/agent.log`.
pub(crate) fn spawn_agent(mut cmd: Command, dir: &Path) -> Agent {
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    let child = cmd.stdout(Stdio::null()).stderr(log).spawn().expect("bash");
    Agent {
        child,
        dir: dir.to_owned(),
    }
}

fn write_deadline(dir: &Path, deadline: u64) {
    std::fs::write(dir.join("deadline"), format!("{deadline}\n")).unwrap();
}

/// The fake (instances active at once) and one instance of ours.
fn fake_with_our_instance() -> (FakeLambda, String) {
    let fake = FakeLambda::start(FakeLambdaConfig {
        boot: Boot::AfterPolls(0),
        ..FakeLambdaConfig::default()
    })
    .unwrap();
    let id = launch_directly(&fake, HOST);
    (fake, id)
}

fn assert_terminated_within(fake: &FakeLambda, secs: u64, agent: &Agent) {
    assert!(
        wait_until(Duration::from_secs(secs), || fake.live_instance_count()
            == 0),
        "still running; agent log:\n{}",
        agent.log()
    );
}

#[test]
fn lease_agent_terminates_at_the_deadline() {
    let fake = FakeLambda::start_default().unwrap();
    let other = launch_directly(&fake, "someone-elses-box");
    let id = launch_directly(&fake, HOST);
    let dir = tempfile::tempdir().unwrap();
    write_deadline(dir.path(), now() + 2);
    let agent = spawn_agent(
        agent_command(dir.path(), &fake.base_url(), &fake.api_key()),
        dir.path(),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(fake.live_instance_count(), 2, "not before the deadline");
    assert!(
        wait_until(Duration::from_secs(15), || fake.live_instance_count() == 1),
        "{}",
        agent.log()
    );
    let ours = fake.instance(&id).unwrap();
    assert!(ours.status.is_gone());
    assert!(!fake.instance(&other).unwrap().status.is_gone());
    let terminate = fake.requests_to("/instance-operations/terminate");
    assert_eq!(terminate.len(), 1);
    assert!(terminate[0].authorized);
    assert_eq!(
        terminate[0].json().unwrap()["instance_ids"],
        serde_json::json!([id])
    );
}

#[test]
fn the_agent_reports_armed_with_its_instance_id_at_start() {
    let (fake, id) = fake_with_our_instance();
    launch_directly(&fake, "someone-elses-box");
    let dir = tempfile::tempdir().unwrap();
    let agent = spawn_agent(
        agent_command(dir.path(), &fake.base_url(), &fake.api_key()),
        dir.path(),
    );
    assert!(
        wait_until(Duration::from_secs(10), || !agent.status().is_empty()),
        "{}",
        agent.log()
    );
    assert_eq!(agent.status(), format!("armed {id}"));
    // Arming looked the instance up; it terminated nothing.
    assert_eq!(fake.live_instance_count(), 2);
}

/// The agent's status once it wrote one, for an agent holding `key`, set up by `change`.
fn first_status(fake: &FakeLambda, key: &str, change: impl FnOnce(&mut Command)) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = agent_command(dir.path(), &fake.base_url(), key);
    change(&mut cmd);
    let agent = spawn_agent(cmd, dir.path());
    assert!(
        wait_until(Duration::from_secs(10), || !agent.status().is_empty()),
        "{}",
        agent.log()
    );
    agent.status()
}

#[test]
fn an_agent_that_cannot_act_says_why() {
    let (fake, _) = fake_with_our_instance();
    let key = fake.api_key();
    // A revoked key: the API answers 401.
    let status = first_status(&fake, "revoked-key", |_| {});
    assert!(
        status.starts_with("error the Lambda API refused the key (HTTP 401)"),
        "{status}"
    );
    // No live instance carries its hostname (an image that ignored it).
    let status = first_status(&fake, &key, |cmd| {
        cmd.env("GPU_SESSION_HOSTNAME", "not-this-one");
    });
    assert_eq!(
        status,
        "error no live instance has the hostname not-this-one"
    );
    // A loopback API URL on a real instance (no test allowance) is the instance itself.
    let status = first_status(&fake, &key, |cmd| {
        cmd.env_remove("GPU_SESSION_ALLOW_LOOPBACK_API");
    });
    assert!(
        status.starts_with(&format!(
            "error the Lambda API URL {} is a loopback address",
            fake.base_url()
        )),
        "{status}"
    );
    // An API that fails for a while: still trying, not given up.
    fake.fail_next(50, 500);
    let status = first_status(&fake, &key, |_| {});
    assert_eq!(status, "arming the Lambda API answered HTTP 500");
}

#[test]
fn every_live_instance_with_the_agent_s_hostname_is_terminated() {
    let (fake, first) = fake_with_our_instance();
    // A lost launch response that was launched again: two instances, one hostname.
    let second = launch_directly(&fake, HOST);
    let other = launch_directly(&fake, "someone-elses-box");
    let dir = tempfile::tempdir().unwrap();
    write_deadline(dir.path(), now() + 2);
    let agent = spawn_agent(
        agent_command(dir.path(), &fake.base_url(), &fake.api_key()),
        dir.path(),
    );
    assert!(wait_until(Duration::from_secs(10), || agent
        .status()
        .starts_with("armed")));
    assert_eq!(agent.status(), format!("armed {first} {second}"));
    assert!(
        wait_until(Duration::from_secs(15), || fake.live_instance_count() == 1),
        "{}",
        agent.log()
    );
    assert!(fake.instance(&first).unwrap().status.is_gone());
    assert!(fake.instance(&second).unwrap().status.is_gone());
    assert!(!fake.instance(&other).unwrap().status.is_gone());
}

#[test]
fn lease_watchdog_terminates_only_past_the_deadline_and_grace() {
    // Active at once: the watchdog makes a single pass, with no retry loop to wait out a boot.
    let (fake, id) = fake_with_our_instance();
    let dir = tempfile::tempdir().unwrap();
    let watchdog = |deadline: u64| {
        write_deadline(dir.path(), deadline);
        agent_command(dir.path(), &fake.base_url(), &fake.api_key())
            .arg("--watchdog")
            .env("GPU_SESSION_WATCHDOG_GRACE_SECONDS", "60")
            .output()
            .expect("bash")
    };
    // Within the grace period the agent's own loop is trusted to act.
    assert!(watchdog(now() - 30).status.success());
    assert_eq!(fake.live_instance_count(), 1);
    assert!(watchdog(now() + 3600).status.success());
    assert_eq!(fake.live_instance_count(), 1);
    // Past deadline + grace the one-shot check terminates the instance itself.
    let out = watchdog(now() - 61);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fake.live_instance_count(), 0);
    assert!(fake.instance(&id).unwrap().status.is_gone());
}

#[test]
fn the_watchdog_caps_a_deadline_past_boot_plus_the_maximum() {
    let (fake, _) = fake_with_our_instance();
    let dir = tempfile::tempdir().unwrap();
    write_deadline(dir.path(), now() + 30 * 24 * 3600);
    // Booted 24 h and 2 min ago: the cap (boot + 24 h) passed 2 min ago.
    let out = agent_command(dir.path(), &fake.base_url(), &fake.api_key())
        .arg("--watchdog")
        .env(
            "GPU_SESSION_BOOT_TIME",
            (now() - 24 * 3600 - 120).to_string(),
        )
        .env("GPU_SESSION_WATCHDOG_GRACE_SECONDS", "60")
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(fake.live_instance_count(), 0);
}

#[test]
fn the_agent_caps_any_deadline_at_boot_plus_the_maximum() {
    let (fake, _) = fake_with_our_instance();
    let dir = tempfile::tempdir().unwrap();
    // What a runaway `extend` or a wrong clock could leave: a month away.
    write_deadline(dir.path(), now() + 30 * 24 * 3600);
    let mut cmd = agent_command(dir.path(), &fake.base_url(), &fake.api_key());
    cmd.env("GPU_SESSION_MAX_LEASE_HOURS", "1")
        .env("GPU_SESSION_BOOT_TIME", (now() - 3600 + 2).to_string());
    let agent = spawn_agent(cmd, dir.path());
    assert_terminated_within(&fake, 15, &agent);
    assert!(
        agent.log().contains("lease deadline passed"),
        "{}",
        agent.log()
    );
}

#[test]
fn the_first_deadline_counts_from_the_instance_s_boot() {
    let (fake, _) = fake_with_our_instance();
    let dir = tempfile::tempdir().unwrap();
    // No deadline file: the agent writes boot + lease, from its own clock.
    let boot = now() - 3600 + 2;
    let mut cmd = agent_command(dir.path(), &fake.base_url(), &fake.api_key());
    cmd.env("GPU_SESSION_LEASE_HOURS", "1")
        .env("GPU_SESSION_BOOT_TIME", boot.to_string());
    let agent = spawn_agent(cmd, dir.path());
    assert!(wait_until(Duration::from_secs(5), || dir
        .path()
        .join("deadline")
        .exists()));
    let written = std::fs::read_to_string(dir.path().join("deadline")).unwrap();
    assert_eq!(written.trim(), (boot + 3600).to_string());
    assert_terminated_within(&fake, 15, &agent);
}

#[test]
fn lease_agent_terminates_when_idle_but_not_while_busy() {
    let (fake, _) = fake_with_our_instance();
    let sglang = FakeSglang::start(FakeSglangConfig::default()).unwrap();
    sglang.set_num_running_reqs(1);
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = agent_command(dir.path(), &fake.base_url(), &fake.api_key());
    cmd.env(
        "GPU_SESSION_METRICS_URL",
        format!("{}/metrics", sglang.url()),
    )
    .env("GPU_SESSION_IDLE_SECONDS", "2");
    let agent = spawn_agent(cmd, dir.path());
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(fake.live_instance_count(), 1, "busy SGLang is not idle");
    sglang.set_num_running_reqs(0);
    assert_terminated_within(&fake, 15, &agent);
}

/// An agent with a 2 s idle limit and SGLang at `metrics_url`, past its first start.
fn idle_agent(fake: &FakeLambda, dir: &Path, metrics_url: &str, startup_secs: u32) -> Agent {
    let mut cmd = agent_command(dir, &fake.base_url(), &fake.api_key());
    cmd.env("GPU_SESSION_METRICS_URL", metrics_url)
        .env("GPU_SESSION_IDLE_SECONDS", "2")
        .env("GPU_SESSION_STARTUP_SECONDS", startup_secs.to_string());
    spawn_agent(cmd, dir)
}

#[test]
fn a_dead_sglang_counts_as_idle() {
    let (fake, _) = fake_with_our_instance();
    let dir = tempfile::tempdir().unwrap();
    let agent = idle_agent(&fake, dir.path(), DEAD_METRICS, 0);
    assert_terminated_within(&fake, 15, &agent);
    assert!(agent.log().contains("idle for"), "{}", agent.log());
}

#[test]
fn a_sglang_refusing_with_401_counts_as_idle() {
    let (fake, _) = fake_with_our_instance();
    let sglang = FakeSglang::start(FakeSglangConfig::default()).unwrap();
    // Busy, but what it says cannot be read: it serves nobody the agent can see.
    sglang.set_num_running_reqs(3);
    sglang.set_metrics_status(Some(401));
    let dir = tempfile::tempdir().unwrap();
    let agent = idle_agent(&fake, dir.path(), &format!("{}/metrics", sglang.url()), 0);
    assert_terminated_within(&fake, 15, &agent);
}

#[test]
fn a_silent_sglang_within_its_first_start_is_not_idle() {
    let (fake, _) = fake_with_our_instance();
    let dir = tempfile::tempdir().unwrap();
    let agent = idle_agent(&fake, dir.path(), DEAD_METRICS, 3600);
    // Twice the idle limit, while the first start (install, download) is within its time.
    std::thread::sleep(Duration::from_secs(5));
    assert_eq!(fake.live_instance_count(), 1, "{}", agent.log());
    assert!(agent.status().starts_with("armed"));
}

#[test]
fn a_failed_first_start_terminates_after_the_grace() {
    let (fake, _) = fake_with_our_instance();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("phase"),
        "failed: SGLang exited with status 1\n",
    )
    .unwrap();
    // Idle limit off and a long first-start allowance: only the failure can end it.
    let mut cmd = agent_command(dir.path(), &fake.base_url(), &fake.api_key());
    cmd.env("GPU_SESSION_FAILED_GRACE_SECONDS", "3");
    let agent = spawn_agent(cmd, dir.path());
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(fake.live_instance_count(), 1, "not within the grace");
    assert_terminated_within(&fake, 15, &agent);
    assert!(
        agent
            .log()
            .contains("the first start failed (failed: SGLang exited with status 1)"),
        "{}",
        agent.log()
    );
}

#[test]
fn a_failed_start_that_recovers_is_not_terminated() {
    let (fake, _) = fake_with_our_instance();
    let sglang = FakeSglang::start(FakeSglangConfig::default()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The phase file still says failed (systemd restarted SGLang), but it answers.
    std::fs::write(
        dir.path().join("phase"),
        "failed: SGLang exited with status 1\n",
    )
    .unwrap();
    let mut cmd = agent_command(dir.path(), &fake.base_url(), &fake.api_key());
    cmd.env("GPU_SESSION_FAILED_GRACE_SECONDS", "1").env(
        "GPU_SESSION_METRICS_URL",
        format!("{}/metrics", sglang.url()),
    );
    let agent = spawn_agent(cmd, dir.path());
    std::thread::sleep(Duration::from_secs(4));
    assert_eq!(fake.live_instance_count(), 1, "{}", agent.log());
}

/// Launches member `index` of group `group` through the fake's API, tagged as `launch`
/// tags a group member; returns its id and hostname.
fn launch_member(fake: &FakeLambda, group: &str, index: u32) -> (String, String) {
    let hostname = format!("gpu-session-agent-test-{group}-{index}");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let id = runtime.block_on(async {
        let client = LambdaClient::new(
            &fake.base_url(),
            ApiKey::new(fake.api_key()).unwrap(),
            ClientOptions::fast_for_tests(),
        )
        .unwrap();
        let mut req = LaunchRequest::new("us-east-1", "gpu_1x_a10", "gpu-session");
        req.name = Some(hostname.clone());
        req.hostname = Some(hostname.clone());
        req.tags = vec![
            gpu_session_lambda::Tag {
                key: "gpu-session:group".into(),
                value: group.into(),
            },
            gpu_session_lambda::Tag {
                key: "gpu-session:member".into(),
                value: index.to_string(),
            },
        ];
        client.launch(&req).await.unwrap().instance_ids[0].clone()
    });
    (id, hostname)
}

fn member_agent(fake: &FakeLambda, dir: &Path, group: &str, index: u32, hostname: &str) -> Command {
    let mut cmd = agent_command(dir, &fake.base_url(), &fake.api_key());
    cmd.env("GPU_SESSION_HOSTNAME", hostname)
        .env("GPU_SESSION_GROUP_ID", group)
        .env("GPU_SESSION_GROUP_MEMBER", index.to_string());
    cmd
}

fn live(fake: &FakeLambda, id: &str) -> bool {
    !fake.instance(id).unwrap().status.is_gone()
}

#[test]
fn the_lease_deadline_of_any_member_ends_the_whole_group() {
    let fake = FakeLambda::start(FakeLambdaConfig {
        boot: Boot::AfterPolls(0),
        ..FakeLambdaConfig::default()
    })
    .unwrap();
    let members: Vec<(String, String)> =
        (0..3).map(|i| launch_member(&fake, "a1b2c3", i)).collect();
    let (other, _) = launch_member(&fake, "d4e5f6", 0);
    let dir = tempfile::tempdir().unwrap();
    write_deadline(dir.path(), now() + 2);
    let agent = spawn_agent(
        member_agent(&fake, dir.path(), "a1b2c3", 2, &members[2].1),
        dir.path(),
    );
    assert!(
        wait_until(Duration::from_secs(15), || members
            .iter()
            .all(|(id, _)| !live(&fake, id))),
        "{}",
        agent.log()
    );
    assert!(live(&fake, &other), "another group's member was terminated");
}

#[test]
fn an_idle_replica_ends_itself_but_an_idle_member_0_ends_the_group() {
    let fake = FakeLambda::start(FakeLambdaConfig {
        boot: Boot::AfterPolls(0),
        ..FakeLambdaConfig::default()
    })
    .unwrap();
    let members: Vec<(String, String)> =
        (0..3).map(|i| launch_member(&fake, "a1b2c3", i)).collect();
    let idle = |dir: &Path, index: usize| {
        let mut cmd = member_agent(&fake, dir, "a1b2c3", index as u32, &members[index].1);
        cmd.env("GPU_SESSION_IDLE_SECONDS", "2")
            .env("GPU_SESSION_STARTUP_SECONDS", "0");
        spawn_agent(cmd, dir)
    };
    let one = tempfile::tempdir().unwrap();
    let agent = idle(one.path(), 1);
    assert!(
        wait_until(Duration::from_secs(15), || !live(&fake, &members[1].0)),
        "{}",
        agent.log()
    );
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        live(&fake, &members[0].0) && live(&fake, &members[2].0),
        "{}",
        agent.log()
    );
    let zero = tempfile::tempdir().unwrap();
    let agent = idle(zero.path(), 0);
    assert_terminated_within(&fake, 15, &agent);
}

/// The agent of node `index` of a two-node group.
fn node_agent(fake: &FakeLambda, dir: &Path, group: &str, index: u32, hostname: &str) -> Command {
    let mut cmd = member_agent(fake, dir, group, index, hostname);
    cmd.env("GPU_SESSION_GROUP_NODES", "2");
    cmd
}

#[test]
fn a_failed_start_of_node_1_ends_both_nodes() {
    let fake = FakeLambda::start(FakeLambdaConfig {
        boot: Boot::AfterPolls(0),
        ..FakeLambdaConfig::default()
    })
    .unwrap();
    let nodes: Vec<(String, String)> = (0..2).map(|i| launch_member(&fake, "a1b2c3", i)).collect();
    let (other, _) = launch_member(&fake, "d4e5f6", 0);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("phase"),
        "failed: SGLang exited with status 1\n",
    )
    .unwrap();
    let mut cmd = node_agent(&fake, dir.path(), "a1b2c3", 1, &nodes[1].1);
    cmd.env("GPU_SESSION_FAILED_GRACE_SECONDS", "1");
    let agent = spawn_agent(cmd, dir.path());
    assert!(
        wait_until(Duration::from_secs(15), || nodes
            .iter()
            .all(|(id, _)| !live(&fake, id))),
        "{}",
        agent.log()
    );
    assert!(
        agent.log().contains("(with group a1b2c3)"),
        "{}",
        agent.log()
    );
    assert!(live(&fake, &other), "another group's member was terminated");
}

#[test]
fn the_end_of_either_node_ends_the_other() {
    let fake = FakeLambda::start(FakeLambdaConfig {
        boot: Boot::AfterPolls(0),
        ..FakeLambdaConfig::default()
    })
    .unwrap();
    let nodes: Vec<(String, String)> = (0..2).map(|i| launch_member(&fake, "a1b2c3", i)).collect();
    let dir = tempfile::tempdir().unwrap();
    // Idle limit off, no failure: only node 1's end can end node 0.
    let agent = spawn_agent(
        node_agent(&fake, dir.path(), "a1b2c3", 0, &nodes[0].1),
        dir.path(),
    );
    assert!(
        wait_until(Duration::from_secs(15), || agent
            .log()
            .contains("all 2 nodes of group a1b2c3 are live")),
        "{}",
        agent.log()
    );
    assert!(live(&fake, &nodes[0].0), "{}", agent.log());
    // Node 1 ends (its own agent, `down`, the dashboard): node 0 follows.
    assert!(fake.set_instance_status(&nodes[1].0, Status::Terminated));
    assert!(
        wait_until(Duration::from_secs(15), || !live(&fake, &nodes[0].0)),
        "{}",
        agent.log()
    );
    assert!(
        agent
            .log()
            .contains("only 1 of the group's 2 nodes are live; the model needs every node"),
        "{}",
        agent.log()
    );
}
