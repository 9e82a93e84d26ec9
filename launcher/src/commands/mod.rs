//! One module per subcommand. Each exposes `run(&Context, Args) -> anyhow::Result<ExitCode>`.

pub mod completions;
pub mod configure;
pub mod down;
pub mod estimate;
pub mod estimate_nodes;
pub mod extend;
pub mod gpus;
pub mod launch;
pub mod models;
pub mod plan;
pub mod ssh;
pub mod status;
pub mod tunnel;
