//! The gpu-session web calculator. Every number comes from `gpu_session_core`; this
//! crate holds only what the page needs to turn user actions into calculator states
//! and to lay out the results (slider scales, table sorting). Those parts are plain
//! functions, unit-tested natively; the Leptos components live in `app` and are only
//! compiled for the browser.

pub use gpu_session_core;

pub mod actions;
pub mod scale;
pub mod sort;

#[cfg(target_arch = "wasm32")]
pub mod app;
