//! Test support for gpu-session: local fakes of the Lambda Cloud API and of
//! SGLang, so launcher tests run offline on loopback with no cloud account.

pub mod browser;
pub mod fake_hub;
pub mod fake_lambda;
pub mod fake_sglang;
mod server;
