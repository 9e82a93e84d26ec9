//! Writes the pre-rendered calculator into a built site's `index.html` (see
//! `gpu_session_web::prerender`). Trunk runs it after every build (a post-build hook
//! in `web/Trunk.toml`) with `TRUNK_STAGING_DIR` set; it also takes the site
//! directory as its argument.

#[cfg(not(target_arch = "wasm32"))]
fn main() -> std::process::ExitCode {
    use gpu_session_core::share::ShareState;
    use std::path::PathBuf;

    let dir = std::env::args_os()
        .nth(1)
        .or_else(|| std::env::var_os("TRUNK_STAGING_DIR"))
        .map(PathBuf::from);
    let Some(dir) = dir else {
        eprintln!("usage: gpu-session-prerender SITE_DIR (or TRUNK_STAGING_DIR set by trunk)");
        return std::process::ExitCode::from(2);
    };
    let path = dir.join("index.html");
    let result = std::fs::read_to_string(&path)
        .map_err(|e| format!("read {}: {e}", path.display()))
        .and_then(|page| gpu_session_web::prerender::into_page(&page, &ShareState::default()))
        .and_then(|page| {
            std::fs::write(&path, page).map_err(|e| format!("write {}: {e}", path.display()))
        });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gpu-session-prerender: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
