//! Starts the fake Lambda Cloud API and the fake SGLang server for manual runs:
//!
//! ```text
//! cargo run -p gpu-session-tests --bin fake-lambda
//! ```
//!
//! It prints the environment to point `gpu-session` at them and serves until
//! interrupted.

use gpu_session_tests::fake_lambda::{FakeLambda, FakeLambdaConfig};
use gpu_session_tests::fake_sglang::{FakeSglang, FakeSglangConfig};

fn main() -> std::io::Result<()> {
    let lambda = FakeLambda::start(FakeLambdaConfig::default())?;
    let sglang = FakeSglang::start(FakeSglangConfig::default())?;
    println!("LAMBDA_API_URL={}", lambda.base_url());
    println!("LAMBDA_API_KEY={}", lambda.api_key());
    // `launch` reaches SGLang through ssh: the fake ssh forwards its tunnel here.
    let fake_ssh = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../launcher/tests/fixtures/fake-ssh.py");
    println!("GPU_SESSION_SSH={}", fake_ssh.display());
    println!("FAKE_SSH_TARGET={}", sglang.addr());
    println!(
        "FAKE_SSH_LOG={}",
        std::env::temp_dir().join("fake-ssh.log").display()
    );
    println!("# SGLang itself: {}", sglang.url());
    println!("# serving until interrupted (Ctrl-C)");
    loop {
        std::thread::park();
    }
}
