//! A router served over real HTTP on a free loopback port, stopped when dropped: for tests that
//! must see what a network client sees (chunks arriving one by one), which `oneshot` hides.

use std::net::SocketAddr;

use axum::Router;
use axum::serve::ListenerExt as _;
use tokio::sync::oneshot;

pub struct LoopbackServer {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl LoopbackServer {
    /// Serves `router` on `127.0.0.1:0`.
    pub async fn start(router: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let (shutdown, stopped) = oneshot::channel::<()>();
        tokio::spawn(async move {
            // Streamed parts are small writes; without TCP_NODELAY, Nagle's algorithm holds each
            // until the previous one is acknowledged (up to the client's delayed-ACK 40 ms).
            let listener = listener.tap_io(|tcp| {
                let _ = tcp.set_nodelay(true);
            });
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        Self { addr, shutdown: Some(shutdown) }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for LoopbackServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
