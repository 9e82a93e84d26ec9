//! Browser entry point: mount the calculator into `<body>`.

#[cfg(target_arch = "wasm32")]
fn main() {
    gpu_session_web::app::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("gpu-session-web runs in the browser: build it with `trunk build --release`");
}
