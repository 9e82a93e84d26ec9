//! The one integration-test binary of the `gpu-session` launcher: the real binary
//! (`CARGO_BIN_EXE_gpu-session`, built by cargo for this test) against a sandboxed
//! home, the fake Lambda API, the fake SGLang and a fake ssh.

mod agent;
mod cli;
mod first_start;
mod launch;
mod manage;

/// The built-in model the launch tests serve.
pub(crate) const MODEL: &str = "llama-3.1-8b";

/// The plan `gpu-session plan` writes for `model_id` at its defaults on
/// `instance_type`, trying `regions` in order.
pub(crate) fn plan_for(
    model_id: &str,
    instance_type: &str,
    regions: &[&str],
) -> gpu_session_core::plan::Plan {
    use gpu_session_core::plan::{Plan, PlanRequest};
    let model = gpu_session_core::registry::builtin(model_id).expect("built-in model");
    let mut req = PlanRequest::new(
        model,
        gpu_session_core::settings::Settings::defaults_for(model),
        gpu_session_core::gpu::find(instance_type).expect("type in catalog"),
    );
    req.regions = regions.iter().map(|r| (*r).to_owned()).collect();
    Plan::build(&req).expect("plan builds")
}

/// The `gpu-session` binary cargo built for these tests.
const GPU_SESSION: &str = env!("CARGO_BIN_EXE_gpu-session");

/// What a run printed on stdout.
pub(crate) fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What a run printed on stderr.
pub(crate) fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// The run ended with `code`; both streams are shown when not.
pub(crate) fn assert_exit(o: &std::process::Output, code: i32) {
    assert_eq!(
        o.status.code(),
        Some(code),
        "stdout:\n{}\nstderr:\n{}",
        stdout(o),
        stderr(o)
    );
}
