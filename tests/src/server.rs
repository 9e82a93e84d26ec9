//! Runs an axum router on its own thread and runtime, bound to loopback.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::thread::JoinHandle;

use axum::Router;
use tokio::sync::oneshot;

/// A server thread that stops when dropped.
///
/// Owning a runtime keeps the fake responsive whatever the test does with its
/// own thread: block on a child process, run a current-thread runtime, or none.
pub(crate) struct ServerThread {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Binds 127.0.0.1 on an OS-assigned port and serves `router` there.
    pub(crate) fn spawn(name: &str, router: Router) -> std::io::Result<Self> {
        // Bind before spawning, so a failure surfaces here and the address is
        // known (and connectable) as soon as this returns.
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (shutdown, stop) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                runtime.block_on(async move {
                    let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                        return;
                    };
                    // No graceful shutdown: clients keep idle keep-alive
                    // connections open, and waiting for them would hang the drop.
                    // Dropping the runtime afterwards cancels connection tasks.
                    tokio::select! {
                        _ = axum::serve(listener, router) => {}
                        _ = stop => {}
                    }
                });
            })?;
        Ok(Self {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
