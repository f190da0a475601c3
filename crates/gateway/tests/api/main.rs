//! Integration tests of the gateway: the real router on `127.0.0.1:0` over the embedded log
//! in a fresh temporary data directory per test (zero-to-production's `spawn_app`); the
//! in-process fake bus only where a test needs a bus that fails. Timeouts are generous: the
//! machine is a loaded 2-core box.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is its failure

mod dlq;
mod forward;
mod http;
mod metrics;
mod openapi;
mod registry;
mod security;
mod trace;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::port::{Bus, TopicConfig};
use edalab_bus::testing::FakeBus;
use edalab_gateway::{AppState, GatewaySettings as Config, Mount};

/// Time any single wait in a test may take before the test fails.
pub const WAIT: Duration = Duration::from_secs(30);

pub struct TestApp {
    pub addr: SocketAddr,
    /// The bus the gateway runs on: the embedded log, or the fake with `Setup::fake_bus`.
    pub bus: Arc<dyn Bus>,
    /// The fake bus, with `Setup::fake_bus`.
    pub fake: Option<FakeBus>,
    embedded: Option<EmbeddedBus>,
    pub state: AppState,
    pub http: reqwest::Client,
    pub data_dir: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub async fn topic(&self, name: &str, partitions: u32) {
        self.bus
            .create_topic(name, TopicConfig::with_partitions(partitions))
            .await
            .expect("create topic");
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        self.state.close().await;
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            tokio::time::timeout(WAIT, server)
                .await
                .expect("server stops in time")
                .expect("server task")
                .expect("server result");
        }
        if let Some(bus) = self.embedded.take() {
            bus.close().await.expect("close the bus");
        }
    }
}

/// A change to the test configuration.
pub type ConfigChange = Box<dyn FnOnce(&mut Config)>;

/// Options of [`spawn_app_with`].
#[derive(Default)]
pub struct Setup {
    pub topics: Vec<(&'static str, u32)>,
    pub config: Option<ConfigChange>,
    pub mounts: Vec<Mount>,
    pub health: Vec<Arc<dyn edalab_gateway::HealthCheck>>,
    /// Run on the in-process fake bus (which can be made to fail) instead of the embedded log.
    pub fake_bus: bool,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Setup {
        topics: vec![("alpha", 3), ("beta", 2)],
        ..Setup::default()
    })
    .await
}

pub async fn spawn_app_with(setup: Setup) -> TestApp {
    let data_dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::default();
    config.server.static_dir = data_dir.path().join("web/dist");
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    if let Some(change) = setup.config {
        change(&mut config);
    }
    let (bus, fake, embedded): (Arc<dyn Bus>, _, _) = if setup.fake_bus {
        let fake = FakeBus::new();
        (Arc::new(fake.clone()), Some(fake), None)
    } else {
        let log = LogConfig::default();
        let embedded =
            EmbeddedBus::open(data_dir.path().join("data"), log).expect("open the embedded log");
        (Arc::new(embedded.clone()), None, Some(embedded))
    };
    for (topic, partitions) in &setup.topics {
        bus.create_topic(topic, TopicConfig::with_partitions(*partitions))
            .await
            .expect("create topic");
    }
    let mut builder = AppState::builder(&config, Arc::clone(&bus));
    for mount in setup.mounts {
        builder = builder.mount(mount);
    }
    for check in setup.health {
        builder = builder.health(check);
    }
    let state = builder.build().expect("state");
    let listener = tokio::net::TcpListener::bind(config.server.listen.0)
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let app = edalab_gateway::router(state.clone());
    let server = tokio::spawn(edalab_gateway::serve(listener, app, async move {
        let _ = rx.await;
    }));
    TestApp {
        addr,
        bus,
        fake,
        embedded,
        state,
        http: reqwest::Client::builder()
            .timeout(WAIT)
            .build()
            .expect("http client"),
        data_dir,
        shutdown: Some(tx),
        server: Some(server),
    }
}

/// A service mounted for tests: a JSON echo (bad JSON, body limit) and a slow route
/// (timeout).
pub mod test_service {
    use std::time::Duration;

    use axum::Json;
    use edalab_gateway::{ApiJson, Mount};
    use serde::{Deserialize, Serialize};
    use utoipa::ToSchema;
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;

    #[derive(Debug, Serialize, Deserialize, ToSchema)]
    pub struct Echo {
        pub name: String,
        pub count: u32,
    }

    /// Echoes its body.
    #[utoipa::path(post, path = "/api/v1/test/echo", tag = "test", request_body = Echo,
        responses((status = 200, description = "The body", body = Echo)))]
    pub async fn echo(ApiJson(body): ApiJson<Echo>) -> Json<Echo> {
        Json(body)
    }

    /// Answers after 10 s.
    #[utoipa::path(get, path = "/api/v1/test/slow", tag = "test",
        responses((status = 200, description = "Late", body = String)))]
    pub async fn slow() -> &'static str {
        tokio::time::sleep(Duration::from_secs(10)).await;
        "late"
    }

    /// Panics (a bug the last-resort layer must turn into a 500 JSON).
    #[utoipa::path(get, path = "/api/v1/test/panic", tag = "test",
        responses((status = 200, description = "Never reached", body = String)))]
    pub async fn panics() -> &'static str {
        panic!("a handler bug")
    }

    pub fn mount() -> Mount {
        Mount::new(
            "test",
            OpenApiRouter::new()
                .routes(routes!(echo))
                .routes(routes!(slow))
                .routes(routes!(panics)),
        )
    }
}
