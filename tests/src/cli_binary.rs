//! Locating the real `gpu-session` binary for end-to-end tests. Cargo builds a
//! dependency's library but not its binaries for another package's tests, so the
//! first caller builds it into the same target directory and profile.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// Overrides the binary the tests run (e.g. an installed release build).
pub const BIN_ENV: &str = "GPU_SESSION_BIN";

/// Path of the `gpu-session` binary, built on first use.
pub fn gpu_session_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os(BIN_ENV).filter(|b| !b.is_empty()) {
            return PathBuf::from(bin);
        }
        // The test binary lives in target/<profile>/deps/.
        let exe = std::env::current_exe().expect("test binary path");
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test binary in target/<profile>/deps");
        let bin = profile_dir.join(format!("gpu-session{}", std::env::consts::EXE_SUFFIX));
        let target_dir = profile_dir.parent().expect("target dir");
        let mut build = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
        build
            .args([
                "build",
                "--quiet",
                "-p",
                "gpu-session",
                "--bin",
                "gpu-session",
            ])
            .env("CARGO_TARGET_DIR", target_dir)
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            build.arg("--release");
        }
        let status = build.status().expect("run cargo build for gpu-session");
        assert!(status.success(), "building gpu-session failed");
        assert!(bin.is_file(), "no binary at {}", bin.display());
        bin
    })
}
