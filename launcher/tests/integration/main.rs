//! The one integration-test binary of the `gpu-session` launcher: the real binary
//! (`CARGO_BIN_EXE_gpu-session`, built by cargo for this test) against a sandboxed
//! home, the fake Lambda API, the fake SGLang and a fake ssh.

mod cli;
mod first_start;
mod launch;
mod manage;

/// The `gpu-session` binary cargo built for these tests.
const GPU_SESSION: &str = env!("CARGO_BIN_EXE_gpu-session");
