//! The HTTP server loop: accept on an already-bound listener, serve each connection with
//! hyper (HTTP/1.1, with upgrades for `/ws`), stop gracefully on a signal.
//!
//! It exists instead of `axum::serve` because that sets no timer, so hyper's header-read
//! timeout never fires and a client that sends half a request holds its connection (and a
//! file descriptor) forever: here a connection that has not sent a whole header block within
//! [`ServeLimits::header_read_timeout`] is closed (ADR 018). The client's address reaches
//! handlers as axum's `ConnectInfo<SocketAddr>`, as with `axum::serve`.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::sync::watch;
use tower::ServiceExt;

/// Pause after a failed `accept` (out of file descriptors, say) before the next one, so the
/// loop does not spin.
const ACCEPT_RETRY_DELAY_MS: u64 = 50;

/// Connection-level limits.
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    /// Time a connection has to send a whole request header block.
    pub header_read_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: Duration::from_millis(
                crate::security::SecurityConfig::default().header_read_timeout_ms,
            ),
        }
    }
}

/// Serves `router` on an already-bound `listener` until `shutdown` resolves, then lets
/// in-flight requests finish. Bind `127.0.0.1:0` in tests.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    // Told to stop: connections finish their request in flight, then close. Every
    // connection holds a receiver; all dropped means all done.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!(%error, "cannot accept a connection; retrying");
                    tokio::time::sleep(Duration::from_millis(ACCEPT_RETRY_DELAY_MS)).await;
                    continue;
                }
            },
        };
        let service = router
            .clone()
            .map_request(move |mut request: hyper::Request<Incoming>| {
                request.extensions_mut().insert(ConnectInfo(remote));
                request.map(axum::body::Body::new)
            });
        let builder = builder.clone();
        let mut stop = stop_rx.clone();
        tokio::spawn(async move {
            let connection = builder
                .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
                .with_upgrades();
            tokio::pin!(connection);
            let stopping = async {
                let _ = stop.wait_for(|stop| *stop).await;
            };
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = stopping => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                tracing::trace!(%error, client = %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(true);
    stop_tx.closed().await;
    Ok(())
}

/// [`serve_with`] the default limits.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(listener, router, ServeLimits::default(), shutdown).await
}

/// The limits `config` sets.
pub fn limits(config: &crate::config::GatewaySettings) -> ServeLimits {
    ServeLimits {
        header_read_timeout: Duration::from_millis(config.security.header_read_timeout_ms),
    }
}
