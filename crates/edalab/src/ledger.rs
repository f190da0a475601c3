//! The ledger's wiring shared by `up`, `check ledger`, `bench ledger` and `bench e2e`:
//! opening the configured store, its health check, its REST routes as a gateway
//! [`Mount`], and [`start`]: its consumer runtime over the banking topics with the outbox
//! publisher. Nothing here decides anything about balances (that is
//! `edalab_services::ledger`).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use edalab_bus::Bus;
use edalab_bus::runtime::{
    BatchHandler, ConsumerRuntime, DlqRouting, MemberPool, MemberRun, RunSummary, RuntimeConfig,
    RuntimeError, RuntimeStats,
};
use edalab_domain::events::topics;
use edalab_gateway::telemetry::{InstrumentedBus, MeasuredBatch};
use edalab_gateway::{HealthCheck, Mount, Role};
use edalab_schema::{SchemaCatalog, SchemaRegistry};
use edalab_services::ledger::{
    ApiState, LedgerCounters, LedgerHandler, LedgerPositions, OutboxPublisher, query_doc,
    query_routes,
};
use edalab_store::LedgerStore;
use edalab_store::postgres::{PgConfig, PgLedgerStore};
use edalab_store::sqlite::{SqliteConfig, SqliteLedgerStore};
use futures::FutureExt as _;
use futures::future::BoxFuture;

/// The ledger's SQLite file inside a data directory when no store URL is given.
pub const SQLITE_FILE: &str = "ledger.sqlite";

/// An open ledger store, with what its shutdown needs.
#[derive(Clone)]
pub enum OpenStore {
    Sqlite(SqliteLedgerStore),
    Postgres(PgLedgerStore),
}

impl OpenStore {
    pub async fn sqlite(path: &Path) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        let store = SqliteLedgerStore::open(SqliteConfig::new(path))
            .await
            .with_context(|| format!("opening the ledger store {}", path.display()))?;
        Ok(Self::Sqlite(store))
    }

    pub async fn postgres(url: &str) -> anyhow::Result<Self> {
        Self::postgres_with(PgConfig::new(url)).await
    }

    /// PostgreSQL with explicit pool limits (`store.connections_max`,
    /// `store.acquire_timeout_ms`).
    pub async fn postgres_with(config: PgConfig) -> anyhow::Result<Self> {
        let store = PgLedgerStore::connect(&config)
            .await
            .with_context(|| format!("connecting to the ledger store {}", redact(&config.url)))?;
        Ok(Self::Postgres(store))
    }

    pub fn shared(&self) -> Arc<dyn LedgerStore> {
        match self {
            Self::Sqlite(s) => Arc::new(s.clone()),
            Self::Postgres(s) => Arc::new(s.clone()),
        }
    }

    /// Where it is, for humans (no password).
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(s) => format!("sqlite {}", s.path().display()),
            Self::Postgres(_) => "postgres".to_owned(),
        }
    }

    /// SQLite: checkpoints the WAL into the database file; PostgreSQL: closes the pool.
    pub async fn close(&self) -> anyhow::Result<()> {
        match self {
            Self::Sqlite(s) => s
                .checkpoint()
                .await
                .context("checkpointing the ledger store"),
            Self::Postgres(s) => {
                s.close().await;
                Ok(())
            }
        }
    }
}

/// The ledger's service name in metrics (S3-13 labels).
pub const LEDGER_SERVICE: &str = "ledger";
/// Messages per ledger batch (one store transaction): large, for throughput (ADR 006); a
/// backlog drains at 1.7x the rate of batches of 1 000 (ADR 034, `bench e2e` burst).
pub const LEDGER_BATCH_SIZE_MAX: usize = 5_000;
/// Fetched, unfinished messages held per partition by the ledger's runtime.
pub const LEDGER_IN_FLIGHT_MESSAGES_MAX: usize = 5_000;
/// Least time between two position commits while running (always at shutdown).
pub const LEDGER_COMMIT_INTERVAL_MS: u64 = 200;
/// The outbox publisher's idle wake-up.
pub const OUTBOX_INTERVAL_MS: u64 = 1_000;

/// The running ledger service: its consumer runtime and outbox publisher tasks.
pub struct RunningLedger {
    /// The consumer runtime; ends when `stop` turns true (drained and committed) or on a
    /// bus error.
    pub runtime: tokio::task::JoinHandle<Result<RunSummary, RuntimeError>>,
    /// The outbox publisher; ends when `stop` turns true.
    pub outbox: tokio::task::JoinHandle<()>,
    /// The handler's counters (applied, refused, duplicates, ...).
    pub counters: Arc<LedgerCounters>,
}

/// Starts the ledger the way `edalab up` runs it: a [`LedgerHandler`] (measured for
/// `/metrics`) in a consumer runtime of group `ledger` over the seven banking topics from
/// the earliest offset, positions in the store, DLQ `system.dlq`, and the outbox
/// publisher. `wrap` may wrap the handler (the end-to-end benchmark times commits with it;
/// `up` passes [`std::convert::identity`]). With a `registry`, records framed with a schema
/// id the catalog does not know are decoded with the writer schema the registry holds for
/// it. Both tasks stop when `stop` turns true.
pub fn start<H>(
    bus: Arc<dyn Bus>,
    store: Arc<dyn LedgerStore>,
    catalog: Arc<SchemaCatalog>,
    registry: Option<Arc<dyn SchemaRegistry>>,
    stop: tokio::sync::watch::Receiver<bool>,
    wrap: impl FnOnce(MeasuredBatch<LedgerHandler>) -> H,
) -> RunningLedger
where
    H: BatchHandler + 'static,
{
    let ledger_bus: Arc<dyn Bus> = Arc::new(InstrumentedBus::new(bus, LEDGER_SERVICE));
    let handler = handler(Arc::clone(&store), catalog, registry);
    let counters = handler.counters();
    let outbox = start_outbox(&handler, &store, &ledger_bus, stop.clone());
    let config = runtime_config();
    let handler = MeasuredBatch::new(LEDGER_SERVICE, &config.consumer.group, handler);
    let runtime = ConsumerRuntime::new(ledger_bus, config, wrap(handler))
        .with_position_store(Arc::new(LedgerPositions::new(store)));
    let runtime = tokio::spawn(runtime.run(stopped(stop)));
    RunningLedger {
        runtime,
        outbox,
        counters,
    }
}

/// The ledger as `up` and `serve ledger` run it: what [`start`] starts, with the consumer
/// runtime as a [`MemberPool`] of group `ledger` (one member once begun) that the consumer
/// controls scale, pause and resume (`/api/v1/consumers`, issue 22). The members share one
/// handler's counters and outbox wake-up. The outbox publisher starts now; the members when
/// the caller calls [`MemberPool::begin`].
pub fn start_members(
    bus: Arc<dyn Bus>,
    store: Arc<dyn LedgerStore>,
    catalog: Arc<SchemaCatalog>,
    registry: Option<Arc<dyn SchemaRegistry>>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> LedgerMembers {
    let ledger_bus: Arc<dyn Bus> = Arc::new(InstrumentedBus::new(bus, LEDGER_SERVICE));
    let handler = handler(Arc::clone(&store), catalog, registry);
    let outbox = start_outbox(&handler, &store, &ledger_bus, stop.clone());
    let factory = move |member_stop: BoxFuture<'static, ()>| -> (Arc<RuntimeStats>, MemberRun) {
        let config = runtime_config();
        let measured = MeasuredBatch::new(LEDGER_SERVICE, &config.consumer.group, handler.clone());
        let runtime = ConsumerRuntime::new(Arc::clone(&ledger_bus), config, measured)
            .with_position_store(Arc::new(LedgerPositions::new(Arc::clone(&store))));
        (runtime.stats(), runtime.run(member_stop).boxed())
    };
    LedgerMembers {
        pool: MemberPool::new(&edalab_services::ledger::consumer(), 1, factory, stop),
        outbox,
    }
}

/// The running ledger service with its consumer members under control.
pub struct LedgerMembers {
    pub pool: Arc<MemberPool>,
    /// The outbox publisher; ends when `stop` turns true.
    pub outbox: tokio::task::JoinHandle<()>,
}

/// Completes when `stop` turns true or its sender is gone.
async fn stopped(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

fn handler(
    store: Arc<dyn LedgerStore>,
    catalog: Arc<SchemaCatalog>,
    registry: Option<Arc<dyn SchemaRegistry>>,
) -> LedgerHandler {
    let handler = LedgerHandler::new(store, catalog);
    match registry {
        Some(registry) => handler.with_registry(registry),
        None => handler,
    }
}

/// Group `ledger` over the banking topics, DLQ `system.dlq`, the ledger's batch sizes.
fn runtime_config() -> RuntimeConfig {
    let dlq = DlqRouting::to_topic(topics::SYSTEM_DLQ);
    let mut config = RuntimeConfig::new(edalab_services::ledger::consumer(), dlq);
    config.batch_size_max = LEDGER_BATCH_SIZE_MAX;
    config.in_flight_messages_max = LEDGER_IN_FLIGHT_MESSAGES_MAX;
    config.commit_interval_ms = LEDGER_COMMIT_INTERVAL_MS;
    config.poll_timeout_ms = 200;
    config
}

/// The outbox publisher, woken by `handler`'s commits.
fn start_outbox(
    handler: &LedgerHandler,
    store: &Arc<dyn LedgerStore>,
    ledger_bus: &Arc<dyn Bus>,
    stop: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let outbox = OutboxPublisher::new(Arc::clone(store), Arc::clone(ledger_bus) as _);
    tokio::spawn(outbox.run(handler.outbox_ready(), OUTBOX_INTERVAL_MS, stopped(stop)))
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

/// The store in `/api/v1/health` (reported as `postgres` and `store`, S3-10).
pub struct StoreHealth(pub Arc<dyn LedgerStore>);

#[async_trait]
impl HealthCheck for StoreHealth {
    fn name(&self) -> &str {
        "store"
    }
    fn role(&self) -> Role {
        Role::Store
    }
    fn backend(&self) -> &str {
        self.0.backend_name()
    }
    async fn check(&self) -> Result<(), String> {
        self.0.health().await.map_err(|e| e.to_string())
    }
}

/// The ledger's query routes under `/api/v1` and `/api/v1/bancaire` (S3-11's service
/// prefix), with their OpenAPI operations. Health is the gateway's.
pub fn mount(store: Arc<dyn LedgerStore>, bus_backend: &'static str) -> Mount {
    let state = ApiState { store, bus_backend };
    let mut router = axum::Router::new();
    let mut openapi = utoipa::openapi::OpenApiBuilder::new().build();
    for (prefix, id_suffix) in [("/api/v1", ""), ("/api/v1/bancaire", "_bancaire")] {
        router = router.merge(query_routes(prefix, state.clone()));
        openapi.merge(query_doc(prefix, id_suffix));
    }
    Mount::from_parts("ledger", router, openapi)
}
