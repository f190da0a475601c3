//! The HTTP API's JSON bodies: arbitrary bodies sent to the writing routes of the real axum
//! router, in process (`tower::ServiceExt::oneshot`, no socket), assembled as `edalab up`
//! assembles it: the gateway with its layers, the schema registry, the simulator and the
//! transactions, calculator and orders pipelines with their SQLite stores, over the embedded
//! log in a temporary directory.
//!
//! Input: byte 0 picks the route (`ROUTES`), the rest is the body. Every answer must be below
//! 500: a 5xx, or a panic, is a finding (issue 16: "no panic reaches a client").
#![no_main]

use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use edalab_bus::log::{EmbeddedBus, FsyncPolicy, LogConfig};
use edalab_gateway::{AppState, GatewaySettings, Mount};
use edalab_services::pipeline::{Env, StoreChoice};
use edalab_services::simulator::{ControlOptions, SimulationControl};
use edalab_services::{calculator, saga, transactions};
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// The routes that take a JSON body: `POST`/`PUT` and their path.
const ROUTES: &[(Method, &str)] = &[
    (Method::POST, "/api/v1/transactions"),
    (Method::POST, "/api/v1/calculator"),
    (Method::POST, "/api/v1/orders"),
    (Method::PUT, "/api/v1/saga/credit-bureau"),
    (Method::POST, "/api/v1/simulation/start"),
    (Method::POST, "/api/v1/events/produce"),
    (Method::POST, "/registry/subjects/fuzz-value/versions"),
    (Method::POST, "/registry/subjects/fuzz-value"),
    (
        Method::POST,
        "/registry/compatibility/subjects/bancaire.depot.effectue-value/versions/latest",
    ),
    (Method::PUT, "/registry/config"),
    (Method::PUT, "/registry/config/fuzz-value"),
    (Method::POST, "/api/v1/dlq/system.dlq/redrive"),
];

/// What every input is sent to, built once per process.
struct App {
    runtime: Runtime,
    router: Router,
    /// Keeps the data directory until the process ends.
    _data_dir: tempfile::TempDir,
    /// Stops the pipelines' consumers with the process (never sent: dropping is enough).
    _stop: tokio::sync::watch::Sender<bool>,
}

fn app() -> &'static App {
    static APP: OnceLock<App> = OnceLock::new();
    APP.get_or_init(|| build().expect("the application starts"))
}

fn build() -> Result<App, Box<dyn std::error::Error>> {
    let data_dir = tempfile::tempdir()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let router = runtime.block_on(async {
        let mut config = GatewaySettings::default();
        config.server.static_dir = data_dir.path().join("web/dist");
        let bus_dir = data_dir.path().join("data");
        // Fuzzing writes many small batches: acknowledging after each fsync would measure the
        // disk, not the code.
        let log = LogConfig {
            fsync: FsyncPolicy::Never,
            ..LogConfig::default()
        };
        let bus = Arc::new(EmbeddedBus::open(&bus_dir, log)?);
        mount_everything(&config, bus, &bus_dir, stop_rx).await
    })?;
    Ok(App {
        runtime,
        router,
        _data_dir: data_dir,
        _stop: stop,
    })
}

async fn mount_everything(
    config: &GatewaySettings,
    bus: Arc<EmbeddedBus>,
    data_dir: &Path,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Router, Box<dyn std::error::Error>> {
    let shared: Arc<dyn edalab_bus::Bus> = bus;
    let env = Env::new(Arc::clone(&shared), data_dir, StoreChoice::Sqlite, stop);
    let transactions = transactions::start(&env).await?;
    let calculator = calculator::start(&env).await?;
    let saga = saga::start(&env).await?;
    let scenarios = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let options = ControlOptions {
        scenarios_dir: Some(scenarios),
        ..ControlOptions::default()
    };
    let simulator = Arc::new(SimulationControl::new(Arc::clone(&shared), options)?);
    let registry = edalab_gateway::registry::open(&config.registry, data_dir)?;
    let state = AppState::builder(config, shared)
        .mount(edalab_gateway::registry::mount(
            registry,
            edalab_gateway::registry::LevelChanges::Allowed,
        ))
        .mount(Mount::new(
            "simulator",
            edalab_services::simulator::api::openapi_router(simulator),
        ))
        .mount(Mount::new(
            "transactions",
            transactions::api::openapi_router(transactions.state.clone()),
        ))
        .mount(Mount::new(
            "calculator",
            calculator::api::openapi_router(calculator.state.clone()),
        ))
        .mount(Mount::new(
            "orders",
            saga::api::openapi_router(saga.state.clone()),
        ))
        .mount(Mount::new(
            "saga-admin",
            saga::admin::openapi_router(saga::admin::AdminState::of(&saga)),
        ))
        .build()?;
    // The pipelines' tasks run on until the process ends; their handles are not joined.
    drop((transactions, calculator, saga));
    Ok(edalab_gateway::router(state))
}

/// Sends `body` to `method path` and answers the status code.
async fn send(router: &Router, method: &Method, path: &str, body: Vec<u8>) -> u16 {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "127.0.0.1:8080")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .expect("a request from a fixed method, path and headers");
    let response = router
        .clone()
        .oneshot(request)
        .await
        .expect("axum routers are infallible");
    response.status().as_u16()
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let (method, path) = &ROUTES[usize::from(pick.wrapping_sub(b'a')) % ROUTES.len()];
    let app = app();
    let status = app
        .runtime
        .block_on(send(&app.router, method, path, body.to_vec()));
    assert!(
        status < 500,
        "{method} {path} answered {status} to {:?}",
        String::from_utf8_lossy(body)
    );
    // A simulation started by the fuzzer would run on: stop it (not running is fine).
    if *path == "/api/v1/simulation/start" && status < 300 {
        let stopped = app.runtime.block_on(send(
            &app.router,
            &Method::POST,
            "/api/v1/simulation/stop",
            Vec::new(),
        ));
        assert!(stopped < 500, "stopping a simulation answered {stopped}");
    }
});
