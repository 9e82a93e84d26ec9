//! The Lambda API client against the fake Lambda API (gpu-session-tests'
//! `fake_lambda`). Everything runs on loopback with millisecond delays.

use std::time::{Duration, Instant};

use gpu_session_lambda::{
    ApiKey, ClientOptions, FirewallRule, FirewallRuleset, FirewallRulesetCreateRequest,
    FirewallRulesetEntry, FirewallRulesetPatchRequest, Instance, InstanceStatus, LambdaClient,
    LambdaError, LaunchRequest, NetworkProtocol, RetryPolicy,
};
use gpu_session_tests::fake_lambda::{
    Boot, FakeLambda, FakeLambdaConfig, Fate, Fault, Status, DEFAULT_API_KEY,
};

const LAUNCH: &str = "/instance-operations/launch";

fn fake() -> FakeLambda {
    FakeLambda::start_default().expect("start fake Lambda")
}

fn client_with(fake: &FakeLambda, key: &str, options: ClientOptions) -> LambdaClient {
    LambdaClient::new(&fake.base_url(), ApiKey::new(key).unwrap(), options).unwrap()
}

fn client(fake: &FakeLambda) -> LambdaClient {
    client_with(fake, &fake.api_key(), ClientOptions::fast_for_tests())
}

fn a10_request(name: &str) -> LaunchRequest {
    let mut request = LaunchRequest::new("us-east-1", "gpu_1x_a10", "gpu-session");
    request.name = Some(name.to_owned());
    request.hostname = Some(name.to_owned());
    request
}

async fn poll_until_settled(client: &LambdaClient, id: &str, max_polls: u32) -> Instance {
    let mut instance = client.get_instance(id).await.unwrap();
    for _ in 0..max_polls {
        if instance.status != InstanceStatus::Booting {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
        instance = client.get_instance(id).await.unwrap();
    }
    instance
}

/// Display, Debug and every `source()` of an error, as one string.
fn everything_shown(err: &LambdaError) -> String {
    let mut shown = format!("{err} | {err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        shown.push_str(&format!(" | {cause} | {cause:?}"));
        source = cause.source();
    }
    shown
}

#[tokio::test]
async fn lists_instance_types_with_prices_and_capacity() {
    let fake = fake();
    let types = client(&fake).list_instance_types().await.unwrap();

    let a10 = &types["gpu_1x_a10"];
    assert_eq!(a10.instance_type.price_cents_per_hour, 75);
    assert_eq!(a10.instance_type.specs.gpus, 1);
    assert_eq!(a10.instance_type.gpu_description, "A10 (24 GB PCIe)");
    assert!(a10.has_capacity_in("us-east-1") && a10.has_capacity_in("us-west-1"));
    let h100x8 = &types["gpu_8x_h100_sxm5"];
    assert_eq!(h100x8.instance_type.specs.gpus, 8);
    assert!(h100x8.regions_with_capacity_available.is_empty());

    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].authorized && requests[0].method == "GET");
}

#[tokio::test]
async fn launch_then_poll_until_active() {
    let fake = fake();
    let client = client(&fake);
    let mut request = a10_request("gpu-session-e2e-1");
    request.user_data = Some("#cloud-config\nruncmd: [echo hi]\n".to_owned());
    request.file_system_names = vec!["coding-stack".to_owned()];

    let launched = client.launch(&request).await.unwrap();
    assert_eq!(launched.instance_ids.len(), 1);
    let id = &launched.instance_ids[0];

    let first = client.get_instance(id).await.unwrap();
    assert_eq!(first.status, InstanceStatus::Booting);
    assert_eq!(first.ip, None);
    let active = poll_until_settled(&client, id, 10).await;
    assert_eq!(active.status, InstanceStatus::Active);
    assert!(active
        .ip
        .as_deref()
        .is_some_and(|ip| ip.starts_with("198.51.100.")));
    assert_eq!(active.name.as_deref(), Some("gpu-session-e2e-1"));
    assert_eq!(active.hostname.as_deref(), Some("gpu-session-e2e-1"));
    assert_eq!(active.ssh_key_names, ["gpu-session"]);
    assert_eq!(active.file_system_names, ["coding-stack"]);
    assert_eq!(active.instance_type.name, "gpu_1x_a10");

    let listed = client.list_instances().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(&listed[0].id, id);

    assert_eq!(fake.user_data(), ["#cloud-config\nruncmd: [echo hi]\n"]);
    let body = fake.requests_to(LAUNCH)[0].json().unwrap();
    assert_eq!(body["ssh_key_names"], serde_json::json!(["gpu-session"]));
    assert!(body.get("quantity").is_none());
    assert!(fake.requests().iter().all(|r| r.authorized));
    assert_eq!(fake.live_instance_count(), 1);
}

#[tokio::test]
async fn boot_after_duration() {
    let fake = FakeLambda::start(FakeLambdaConfig {
        boot: Boot::AfterDuration(Duration::from_millis(400)),
        ..FakeLambdaConfig::default()
    })
    .unwrap();
    let client = client(&fake);
    let id = client
        .launch(&a10_request("timed"))
        .await
        .unwrap()
        .instance_ids[0]
        .clone();
    assert_eq!(
        client.get_instance(&id).await.unwrap().status,
        InstanceStatus::Booting
    );
    tokio::time::sleep(Duration::from_millis(420)).await;
    assert_eq!(
        client.get_instance(&id).await.unwrap().status,
        InstanceStatus::Active
    );
}

#[tokio::test]
async fn insufficient_capacity_is_decoded_and_not_retried() {
    let fake = fake();
    let client = client(&fake);
    let request = LaunchRequest::new("us-east-1", "gpu_8x_h100_sxm5", "gpu-session");

    let err = client.launch(&request).await.unwrap_err();
    assert!(err.is_insufficient_capacity(), "{err:?}");
    assert!(!err.is_retryable());
    assert_eq!(err.status(), Some(400));
    assert!(err.to_string().contains("Not enough capacity"), "{err}");
    assert_eq!(fake.requests_to(LAUNCH).len(), 1);
    assert_eq!(fake.live_instance_count(), 0);

    // Capacity appearing later is picked up.
    fake.set_capacity("gpu_8x_h100_sxm5", &["us-east-1"]);
    client.launch(&request).await.unwrap();
    assert_eq!(fake.live_instance_count(), 1);
}

#[tokio::test]
async fn rate_limited_requests_back_off_then_succeed() {
    let fake = fake();
    fake.fail_next(2, 429);
    let started = Instant::now();
    let types = client(&fake).list_instance_types().await.unwrap();
    assert!(types.contains_key("gpu_1x_a10"));

    let attempts = fake.requests_to("/instance-types");
    assert_eq!(attempts.len(), 3);
    assert_eq!(
        attempts.iter().map(|r| r.status).collect::<Vec<_>>(),
        [429, 429, 200]
    );
    // Equal jitter waits at least half of 5 ms, then half of 10 ms.
    assert!(started.elapsed() >= Duration::from_micros(7_500));
}

#[tokio::test]
async fn retry_after_header_is_honoured() {
    let fake = fake();
    fake.inject(Fault::status(429).retry_after(1));
    let started = Instant::now();
    client(&fake).list_ssh_keys().await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(fake.requests().len(), 2);
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let fake = fake();
    fake.fail_next(1, 500);
    fake.fail_next(1, 503);
    let instances = client(&fake).list_instances().await.unwrap();
    assert!(instances.is_empty());
    let statuses: Vec<u16> = fake.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [500, 503, 200]);
}

#[tokio::test]
async fn persistent_server_errors_give_up_after_max_attempts() {
    let fake = fake();
    fake.inject(
        Fault::status(502)
            .times(100)
            .raw_body("<html><body><h1>502 Bad Gateway</h1></body></html>"),
    );
    let err = client(&fake).list_file_systems().await.unwrap_err();
    assert!(
        matches!(err, LambdaError::UnexpectedStatus { status: 502, .. }),
        "{err:?}"
    );
    let shown = err.to_string();
    assert!(
        shown.contains("HTTP 502") && shown.contains("Bad Gateway"),
        "{shown}"
    );
    let max = ClientOptions::fast_for_tests().retry.max_attempts as usize;
    assert_eq!(fake.requests().len(), max);
}

#[tokio::test]
async fn invalid_key_fails_at_once_without_retry() {
    let fake = fake();
    let wrong = "wrong-key-9f8e7d6c5b4a";
    let client = client_with(&fake, wrong, ClientOptions::fast_for_tests());

    let err = client.list_instance_types().await.unwrap_err();
    assert!(err.is_invalid_key() && err.is_auth_failure(), "{err:?}");
    assert_eq!(err.code(), Some("global/invalid-api-key"));
    assert_eq!(err.status(), Some(401));
    assert!(err.to_string().contains("Check your API key"), "{err}");
    assert!(!everything_shown(&err).contains(wrong));

    let requests = fake.requests();
    assert_eq!(requests.len(), 1, "no retry on 401");
    assert!(!requests[0].authorized);

    // A key revoked mid-run behaves the same.
    let fake = self::fake();
    let client = self::client(&fake);
    client.list_instances().await.unwrap();
    fake.set_api_key("rotated-key");
    let err = client
        .launch(&a10_request("after-rotation"))
        .await
        .unwrap_err();
    assert!(err.is_invalid_key());
    assert_eq!(fake.requests_to(LAUNCH).len(), 1);
    assert_eq!(fake.live_instance_count(), 0);
}

#[tokio::test]
async fn inactive_account_is_not_retried() {
    let fake = fake();
    fake.set_account_inactive(true);
    let err = client(&fake).list_instances().await.unwrap_err();
    assert!(err.is_account_blocked() && !err.is_invalid_key(), "{err:?}");
    assert_eq!(err.code(), Some("global/account-inactive"));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn terminate_moves_instance_to_terminated_and_out_of_the_list() {
    let fake = fake();
    let client = client(&fake);
    let id = client
        .launch(&a10_request("to-terminate"))
        .await
        .unwrap()
        .instance_ids[0]
        .clone();
    assert_eq!(
        poll_until_settled(&client, &id, 10).await.status,
        InstanceStatus::Active
    );

    let terminated = client.terminate(std::slice::from_ref(&id)).await.unwrap();
    assert_eq!(terminated.len(), 1);
    assert_eq!(terminated[0].id, id);
    assert_eq!(terminated[0].status, InstanceStatus::Terminating);
    assert_eq!(fake.live_instance_count(), 0);

    assert_eq!(
        client.get_instance(&id).await.unwrap().status,
        InstanceStatus::Terminating
    );
    assert_eq!(
        client.get_instance(&id).await.unwrap().status,
        InstanceStatus::Terminated
    );
    assert!(client.list_instances().await.unwrap().is_empty());
    let body = fake.requests_to("/instance-operations/terminate")[0]
        .json()
        .unwrap();
    assert_eq!(body, serde_json::json!({ "instance_ids": [id] }));

    // Terminating again is harmless; unknown IDs are reported.
    client.terminate(std::slice::from_ref(&id)).await.unwrap();
    let err = client.terminate(&["nope".to_owned()]).await.unwrap_err();
    assert!(err.is_not_found(), "{err:?}");
    assert!(client.terminate(&[]).await.unwrap().is_empty());
}

#[tokio::test]
async fn unhealthy_and_never_active_instances() {
    let fake = fake();
    let client = client(&fake);

    fake.set_next_launch_fate(Fate::Unhealthy);
    let sick = client
        .launch(&a10_request("sick"))
        .await
        .unwrap()
        .instance_ids[0]
        .clone();
    let settled = poll_until_settled(&client, &sick, 10).await;
    assert_eq!(settled.status, InstanceStatus::Unhealthy);

    fake.set_next_launch_fate(Fate::NeverActive);
    let stuck = client
        .launch(&a10_request("stuck"))
        .await
        .unwrap()
        .instance_ids[0]
        .clone();
    let settled = poll_until_settled(&client, &stuck, 20).await;
    assert_eq!(settled.status, InstanceStatus::Booting);
    assert_eq!(fake.instance(&stuck).unwrap().polls, 21);

    // The next launch is healthy again, and an active instance can degrade.
    let fine = client
        .launch(&a10_request("fine"))
        .await
        .unwrap()
        .instance_ids[0]
        .clone();
    assert_eq!(
        poll_until_settled(&client, &fine, 10).await.status,
        InstanceStatus::Active
    );
    assert!(fake.set_instance_status(&fine, Status::Preempted));
    let preempted = client.get_instance(&fine).await.unwrap();
    assert!(preempted.status.is_gone());
    assert_eq!(fake.live_instance_count(), 2);
}

#[tokio::test]
async fn client_spaces_launches_to_respect_the_rate_limit() {
    let interval = Duration::from_millis(150);
    let fake = FakeLambda::start(FakeLambdaConfig {
        launch_interval: interval,
        ..FakeLambdaConfig::default()
    })
    .unwrap();
    let options = ClientOptions {
        launch_interval: interval,
        ..ClientOptions::fast_for_tests()
    };
    let client = client_with(&fake, DEFAULT_API_KEY, options);

    let started = Instant::now();
    client.launch(&a10_request("first")).await.unwrap();
    client.launch(&a10_request("second")).await.unwrap();
    assert!(started.elapsed() >= interval);
    let statuses: Vec<u16> = fake.requests_to(LAUNCH).iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 200], "the client never trips the limit");
}

#[tokio::test]
async fn launch_rate_limit_429_is_retried() {
    let fake = FakeLambda::start(FakeLambdaConfig {
        launch_interval: Duration::from_millis(30),
        ..FakeLambdaConfig::default()
    })
    .unwrap();
    // A client that ignores the limit gets a 429 and backs off.
    let options = ClientOptions {
        launch_interval: Duration::ZERO,
        retry: RetryPolicy {
            max_attempts: 10,
            base_delay: Duration::from_millis(10),
            max_delay: Duration::from_millis(20),
            max_retry_after: Duration::from_secs(1),
        },
        ..ClientOptions::fast_for_tests()
    };
    let client = client_with(&fake, DEFAULT_API_KEY, options);
    client.launch(&a10_request("a")).await.unwrap();
    client.launch(&a10_request("b")).await.unwrap();
    let statuses: Vec<u16> = fake.requests_to(LAUNCH).iter().map(|r| r.status).collect();
    assert_eq!(statuses.first(), Some(&200));
    assert_eq!(statuses.last(), Some(&200));
    assert!(statuses.contains(&429), "{statuses:?}");
    assert_eq!(fake.live_instance_count(), 2);
}

#[tokio::test]
async fn lost_launch_response_adopts_the_instance_instead_of_relaunching() {
    let fake = fake();
    fake.lose_next_launch_response(500);
    let launched = client(&fake)
        .launch(&a10_request("orphan-check"))
        .await
        .unwrap();

    let instances = fake.instances();
    assert_eq!(
        instances.len(),
        1,
        "exactly one instance, no duplicate launch"
    );
    assert_eq!(launched.instance_ids, [instances[0].id.clone()]);
    assert_eq!(fake.requests_to(LAUNCH).len(), 1);
}

#[tokio::test]
async fn lost_launch_response_with_a_lagging_list_adopts_the_instance() {
    let fake = fake();
    fake.lose_next_launch_response(500);
    // The new instance shows in the list only from its third list on.
    fake.set_list_lag(2);
    let launched = client(&fake)
        .launch(&a10_request("lagging-list"))
        .await
        .unwrap();
    let instances = fake.instances();
    assert_eq!(instances.len(), 1, "no duplicate launch");
    assert_eq!(launched.instance_ids, [instances[0].id.clone()]);
    assert_eq!(fake.requests_to(LAUNCH).len(), 1);
}

#[tokio::test]
async fn lost_launch_response_without_a_name_is_reported_not_retried() {
    let fake = fake();
    fake.lose_next_launch_response(503);
    let request = LaunchRequest::new("us-east-1", "gpu_1x_a10", "gpu-session");
    let err = client(&fake).launch(&request).await.unwrap_err();
    assert!(err.is_server_error(), "{err:?}");
    assert_eq!(
        fake.requests_to(LAUNCH).len(),
        1,
        "relaunching could double-bill"
    );
    assert_eq!(fake.live_instance_count(), 1, "the caller must reconcile");
}

#[tokio::test]
async fn launch_5xx_before_creation_is_retried() {
    let fake = fake();
    fake.inject(Fault::status(503).on(LAUNCH));
    let launched = client(&fake)
        .launch(&a10_request("retry-5xx"))
        .await
        .unwrap();
    assert_eq!(launched.instance_ids.len(), 1);
    let paths: Vec<(String, u16)> = fake
        .requests()
        .into_iter()
        .map(|r| (r.path, r.status))
        .collect();
    assert_eq!(
        paths,
        [
            (LAUNCH.to_owned(), 503),
            // Three looks by name before relaunching: the list may lag the launch.
            ("/instances".to_owned(), 200),
            ("/instances".to_owned(), 200),
            ("/instances".to_owned(), 200),
            (LAUNCH.to_owned(), 200),
        ]
    );
    assert_eq!(fake.live_instance_count(), 1);
}

#[tokio::test]
async fn invalid_launch_requests_are_refused_before_sending() {
    let fake = fake();
    let client = client(&fake);
    let mut two_keys = a10_request("two-keys");
    two_keys.ssh_key_names.push("other".to_owned());
    let err = client.launch(&two_keys).await.unwrap_err();
    assert!(matches!(err, LambdaError::InvalidRequest(_)));
    assert!(err.to_string().contains("exactly one SSH key"), "{err}");

    let mut bad_host = a10_request("ok");
    bad_host.hostname = Some("Not_Valid".to_owned());
    assert!(client.launch(&bad_host).await.is_err());
    assert!(fake.requests().is_empty());
}

#[tokio::test]
async fn fake_validates_launch_bodies_like_the_api() {
    let fake = fake();
    let http = reqwest::Client::new();
    let url = format!("{}{LAUNCH}", fake.base_url());
    let post = |body: serde_json::Value| {
        http.post(&url)
            .bearer_auth(DEFAULT_API_KEY)
            .json(&body)
            .send()
    };
    let base = serde_json::json!({
        "region_name": "us-east-1", "instance_type_name": "gpu_1x_a10",
        "ssh_key_names": ["gpu-session"],
    });
    let with = |key: &str, value: serde_json::Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases = [
        (
            with("ssh_key_names", serde_json::json!([])),
            400,
            "global/invalid-parameters",
        ),
        (
            with("ssh_key_names", serde_json::json!(["a", "b"])),
            400,
            "global/invalid-parameters",
        ),
        (
            with("ssh_key_names", serde_json::json!(["missing"])),
            404,
            "global/object-does-not-exist",
        ),
        (
            with("quantity", serde_json::json!(2)),
            400,
            "global/invalid-parameters",
        ),
        (
            with("ssh_keys", serde_json::json!(["gpu-session"])),
            400,
            "global/invalid-parameters",
        ),
        (
            with("region_name", serde_json::json!("mars-1")),
            400,
            "global/invalid-parameters",
        ),
        (
            with("instance_type_name", serde_json::json!("gpu_9x")),
            404,
            "global/object-does-not-exist",
        ),
        (
            with("hostname", serde_json::json!("Bad_Host")),
            400,
            "global/invalid-parameters",
        ),
        (
            with("region_name", serde_json::json!("us-west-3")),
            400,
            "instance-operations/launch/insufficient-capacity",
        ),
        (
            with("file_system_names", serde_json::json!(["coding-stack"]))
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.insert("region_name".into(), serde_json::json!("us-west-1"));
                    serde_json::Value::Object(o)
                })
                .unwrap(),
            400,
            "instance-operations/launch/file-system-in-wrong-region",
        ),
    ];
    for (body, status, code) in cases {
        let response = post(body.clone()).await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{body}");
        let error: serde_json::Value = response.json().await.unwrap();
        assert_eq!(error["error"]["code"], code, "{body}");
        assert!(error["error"]["message"].is_string());
    }
    assert_eq!(fake.live_instance_count(), 0);

    let ok = post(with("quantity", serde_json::json!(1))).await.unwrap();
    assert_eq!(ok.status().as_u16(), 200);

    let anonymous = http
        .get(format!("{}/instances", fake.base_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status().as_u16(), 401);
    assert!(!fake.requests().last().unwrap().authorized);
}

#[tokio::test]
async fn lists_ssh_keys_and_file_systems() {
    let fake = fake();
    let client = client(&fake);
    let keys = client.list_ssh_keys().await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].name, "gpu-session");
    assert!(keys[0].public_key.starts_with("ssh-ed25519 "));

    let file_systems = client.list_file_systems().await.unwrap();
    assert_eq!(file_systems.len(), 1);
    assert_eq!(file_systems[0].name, "coding-stack");
    assert_eq!(file_systems[0].region.name, "us-east-1");
    assert_eq!(file_systems[0].mount_point, "/lambda/nfs/coding-stack");
    assert!(!file_systems[0].is_in_use);
}

#[tokio::test]
async fn unknown_instance_is_not_found() {
    let fake = fake();
    let err = client(&fake).get_instance("0123abcd").await.unwrap_err();
    assert!(err.is_not_found() && !err.is_retryable(), "{err:?}");
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn unreachable_api_is_retried_then_reported() {
    // A port that was just free: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let key = ApiKey::new("secret-unreachable-key").unwrap();
    let client = LambdaClient::new(
        &format!("http://127.0.0.1:{port}/api/v1"),
        key,
        ClientOptions::fast_for_tests(),
    )
    .unwrap();
    let err = client.list_instances().await.unwrap_err();
    assert!(err.is_connect() && err.is_retryable(), "{err:?}");
    let shown = err.to_string();
    assert!(shown.contains(&format!("127.0.0.1:{port}")), "{shown}");
    assert!(!everything_shown(&err).contains("secret-unreachable-key"));
}

#[tokio::test]
async fn api_key_never_appears_in_errors() {
    let key = "sk-lambda-super-secret-0000";
    let fake = FakeLambda::start(FakeLambdaConfig {
        api_key: key.to_owned(),
        ..FakeLambdaConfig::default()
    })
    .unwrap();
    let options = ClientOptions {
        retry: RetryPolicy {
            max_attempts: 2,
            ..ClientOptions::fast_for_tests().retry
        },
        ..ClientOptions::fast_for_tests()
    };
    let client = client_with(&fake, key, options);
    let mut errors = Vec::new();

    // A proxy that echoes the request, key included, in its error page.
    fake.inject(
        Fault::status(502)
            .times(2)
            .raw_body(&format!("<pre>Authorization: Bearer {key}</pre>")),
    );
    errors.push(client.list_instances().await.unwrap_err());
    // A server whose error object quotes the key.
    fake.inject(Fault::status(400).times(1).raw_body(&format!(
        r#"{{"error":{{"code":"global/invalid-parameters","message":"bad {key}","suggestion":"not {key}"}}}}"#
    )));
    errors.push(client.list_instances().await.unwrap_err());
    fake.fail_next(2, 429);
    errors.push(client.list_instance_types().await.unwrap_err());
    errors.push(client.get_instance("missing").await.unwrap_err());
    errors.push(
        client
            .launch(&LaunchRequest::new(
                "us-east-1",
                "gpu_8x_h100_sxm5",
                "gpu-session",
            ))
            .await
            .unwrap_err(),
    );
    fake.set_api_key("something-else");
    errors.push(client.list_ssh_keys().await.unwrap_err());

    assert_eq!(errors.len(), 6);
    for err in &errors {
        let shown = everything_shown(err);
        assert!(!shown.contains(key), "key leaked: {shown}");
    }
    assert!(everything_shown(&errors[0]).contains("Bearer ***"));
    assert!(everything_shown(&errors[1]).contains("bad ***"));
    assert!(!format!("{client:?}").contains(key));
    assert!(
        fake.requests().iter().any(|r| r.authorized),
        "the key was sent"
    );
}

#[test]
fn fakes_serve_synchronous_callers() {
    // CLI end-to-end tests block on a child process; the fake must not
    // depend on the test's own runtime.
    let fake = fake();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let types = runtime
        .block_on(client(&fake).list_instance_types())
        .unwrap();
    assert!(!types.is_empty());
    let addr = fake.addr();
    assert!(addr.ip().is_loopback());
    drop(fake);
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "stopped on drop"
    );
}

// ---- firewall rulesets ----------------------------------------------------------

fn ssh_rule() -> FirewallRule {
    FirewallRule::tcp([22, 22], "0.0.0.0/0", "SSH")
}

async fn create_ruleset(client: &LambdaClient, region: &str) -> FirewallRuleset {
    client
        .create_firewall_ruleset(&FirewallRulesetCreateRequest {
            name: "gpu-session-group-test".into(),
            region: region.into(),
            rules: vec![ssh_rule()],
        })
        .await
        .unwrap()
}

#[tokio::test]
async fn a_ruleset_is_attached_at_launch_and_deleted_once_its_instances_are_gone() {
    let fake = fake();
    let client = client(&fake);
    let ruleset = create_ruleset(&client, "us-east-1").await;
    assert_eq!(ruleset.region.name, "us-east-1");
    assert_eq!(ruleset.rules, [ssh_rule()]);
    assert_eq!(client.list_firewall_rulesets().await.unwrap().len(), 1);

    let mut request = a10_request("member-0");
    request.firewall_rulesets = vec![FirewallRulesetEntry {
        id: ruleset.id.clone(),
    }];
    let id = client.launch(&request).await.unwrap().instance_ids[0].clone();
    let instance = poll_until_settled(&client, &id, 10).await;
    let private_ip = instance.private_ip.clone().expect("private_ip");
    assert!(private_ip.starts_with("10."), "{private_ip}");
    assert_eq!(
        client
            .get_firewall_ruleset(&ruleset.id)
            .await
            .unwrap()
            .instance_ids,
        std::slice::from_ref(&id)
    );

    // Only the group's own address, on one port: the rules are replaced.
    let rules = vec![
        ssh_rule(),
        FirewallRule::tcp([30001, 30001], &format!("{private_ip}/32"), "worker"),
    ];
    let patched = client
        .update_firewall_ruleset(
            &ruleset.id,
            &FirewallRulesetPatchRequest {
                rules: Some(rules.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!((patched.rules, patched.name), (rules, ruleset.name.clone()));

    let in_use = client
        .delete_firewall_ruleset(&ruleset.id)
        .await
        .unwrap_err();
    assert!(in_use.is_firewall_ruleset_in_use(), "{in_use}");
    assert_eq!(in_use.status(), Some(400));
    client.terminate(std::slice::from_ref(&id)).await.unwrap();
    // Terminating still holds the ruleset; terminated does not.
    poll_until_settled(&client, &id, 0).await;
    let _ = client.list_instances().await.unwrap();
    client.delete_firewall_ruleset(&ruleset.id).await.unwrap();
    assert!(fake.rulesets().is_empty());
    let gone = client
        .delete_firewall_ruleset(&ruleset.id)
        .await
        .unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
    let gone = client.get_firewall_ruleset(&ruleset.id).await.unwrap_err();
    assert!(gone.is_not_found(), "{gone}");
}

#[tokio::test]
async fn a_launch_refuses_a_ruleset_of_another_region_or_none() {
    let fake = fake();
    let client = client(&fake);
    let west = create_ruleset(&client, "us-west-1").await;
    for id in [west.id.as_str(), "0123456789abcdef"] {
        let mut request = a10_request("member-0");
        request.firewall_rulesets = vec![FirewallRulesetEntry { id: id.into() }];
        let err = client.launch(&request).await.unwrap_err();
        assert!(matches!(err.status(), Some(400 | 404)), "{err}");
    }
    assert_eq!(fake.live_instance_count(), 0);
    let launch = fake.requests_to(LAUNCH);
    assert_eq!(
        launch[0].json().unwrap()["firewall_rulesets"],
        serde_json::json!([{ "id": west.id }])
    );
}

#[tokio::test]
async fn bad_rules_are_refused_before_a_request_and_by_the_fake() {
    let fake = fake();
    let client = client(&fake);
    let mut icmp_with_ports = ssh_rule();
    icmp_with_ports.protocol = NetworkProtocol::Icmp;
    for rule in [
        icmp_with_ports,
        FirewallRule::tcp([0, 22], "0.0.0.0/0", "zero"),
        FirewallRule::tcp([22, 22], "10.0.2.300/32", "bad address"),
    ] {
        let err = client
            .create_firewall_ruleset(&FirewallRulesetCreateRequest {
                name: "x".into(),
                region: "us-east-1".into(),
                rules: vec![rule],
            })
            .await
            .unwrap_err();
        assert!(matches!(err, LambdaError::InvalidRequest(_)), "{err}");
    }
    assert!(fake.requests().is_empty());
    // The fake checks what the spec says on its own (a raw body, past the client).
    let raw = reqwest::Client::new()
        .post(format!("{}/firewall-rulesets", fake.base_url()))
        .bearer_auth(fake.api_key())
        .body(r#"{"name":"x","region":"us-east-1","rules":[{"protocol":"tcp","source_network":"0.0.0.0/0","description":"no ports"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 400);
    assert!(fake.rulesets().is_empty());
}

#[tokio::test]
async fn an_instance_can_come_without_a_private_ip() {
    let fake = fake();
    let client = client(&fake);
    fake.omit_private_ip(true);
    let id = client
        .launch(&a10_request("no-private"))
        .await
        .unwrap()
        .instance_ids[0]
        .clone();
    let instance = poll_until_settled(&client, &id, 10).await;
    assert_eq!(instance.status, InstanceStatus::Active);
    assert!(instance.ip.is_some());
    assert_eq!(instance.private_ip, None);
}
