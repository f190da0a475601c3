//! Starting and stopping the gateway inside a process (`edalab up`): bind the configured
//! address, serve in a task, print where things are, stop gracefully on SIGINT/SIGTERM.
//! The binary stays thin: it loads the [`Config`], opens the bus, builds the [`AppState`]
//! and calls [`Gateway::start`].

use std::fmt;
use std::net::SocketAddr;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::GatewaySettings;
use crate::router::{AppState, router};
use crate::server::{limits, serve_with};

/// Errors starting or running the gateway.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("cannot listen on {addr} (server.listen / --listen): {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTP server failed: {0}")]
    Serve(#[source] std::io::Error),
    #[error("the HTTP server task failed: {0}")]
    Task(String),
}

/// A running gateway.
pub struct Gateway {
    addr: SocketAddr,
    state: AppState,
    stop: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
}

impl Gateway {
    /// Binds `config.server.listen` and serves `state`'s router in a task.
    pub async fn start(config: &GatewaySettings, state: AppState) -> Result<Self, LaunchError> {
        let addr = config.server.listen.0;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| LaunchError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| LaunchError::Bind { addr, source })?;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = tokio::spawn(serve_with(
            listener,
            router(state.clone()),
            limits(config),
            async move {
                let _ = stopped.await;
            },
        ));
        Ok(Self {
            addr,
            state,
            stop: Some(stop),
            server,
        })
    }

    /// The address actually bound (useful with port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn urls(&self) -> Urls {
        Urls(self.addr)
    }

    /// Closes WebSocket clients, stops accepting, lets in-flight requests finish.
    pub async fn shutdown(mut self) -> Result<(), LaunchError> {
        self.state.close().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.server.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(LaunchError::Serve(error)),
            Err(error) => Err(LaunchError::Task(error.to_string())),
        }
    }
}

/// Where things are, for people: printed by `edalab up`.
#[derive(Clone, Copy, Debug)]
pub struct Urls(pub SocketAddr);

impl Urls {
    pub fn base(&self) -> String {
        // 0.0.0.0 is where we listen, not where a browser goes.
        let host = if self.0.ip().is_unspecified() {
            SocketAddr::from(([127, 0, 0, 1], self.0.port()))
        } else {
            self.0
        };
        format!("http://{host}")
    }
}

impl fmt::Display for Urls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let base = self.base();
        let ws = base.replacen("http://", "ws://", 1);
        writeln!(f, "  UI       {base}/")?;
        writeln!(
            f,
            "  API      {base}/api/v1  (health: {base}/api/v1/health)"
        )?;
        writeln!(f, "  OpenAPI  {base}/api/v1/openapi.json")?;
        writeln!(f, "  metrics  {base}/metrics")?;
        write!(f, "  events   {ws}/ws")
    }
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(%error, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}
