//! gpu-session-core: every number and rule of gpu-session, shared by the web
//! calculator, share links, plan files and the CLI.
//!
//! Invariant: this crate does no I/O, reads no clock, draws no random numbers and
//! starts no threads, so it builds for wasm32 and every face computes the same numbers.

pub mod arch;
pub mod config;
pub mod decimal;
pub mod gpu;
pub mod hf_config;
pub mod lease;
pub mod multi_node;
pub mod plan;
pub mod present;
pub mod quant;
pub mod recommend;
pub mod reference;
pub mod registry;
pub mod service_level;
pub mod serving;
pub mod settings;
pub mod share;
pub mod speed;
pub mod validate;
pub mod yaml;

pub use arch::Architecture;
pub use gpu::{GpuType, CATALOG};
pub use quant::{KvDtype, Quantization};
pub use recommend::{recommend, Fit, GpuFit, Recommendation};
pub use reference::{reference_estimate, ReferenceEstimate};
pub use registry::{builtin, builtins, Model};
pub use serving::{serving_estimate, ServingEstimate};
pub use settings::{EstimateMode, Settings};
