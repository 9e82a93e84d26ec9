//! The gpu-session web calculator. Every number comes from `gpu_session_core`; this
//! crate holds only what the page needs to turn user actions into calculator states
//! and to lay out the results (slider scales, table sorting). Those parts are plain
//! functions, unit-tested natively. The Leptos components in `app` run in the browser
//! and are rendered natively to HTML by `prerender` at build time.

pub use gpu_session_core;

pub mod actions;
pub mod app;
pub mod extras;
#[cfg(not(target_arch = "wasm32"))]
pub mod prerender;
pub mod scale;
pub mod sort;
