//! Plumbing the four seed pipelines (S0 transactions, S1 calculator, S2 intake, S4 saga)
//! share, so none of them grows private plumbing: the shutdown signal, the handles `start`
//! returns, idempotent topic creation, a consumer-runtime task, the DLQ tracker that turns
//! dead letters into a "failed with reason" status, the SQLite
//! connection setup of the pipelines' small stores, and the choice of SQLite or PostgreSQL
//! for those stores ([`StoreChoice`]).
//!
//! It may not hold business rules (those are in `edalab-domain`) nor pick a bus backend:
//! everything goes through the [`Bus`] port.

pub mod sim_sink;
pub mod stores;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use edalab_bus::runtime::{BatchHandler, ConsumerRuntime, RuntimeConfig, RuntimeStats};
use edalab_bus::{Bus, BusError, BusQueues, QueueConsumer, QueueSpec, Queues, TopicConfig};
use edalab_telemetry::{Measured, MeasuredBatch};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub use crate::simulator::clock::{Clock, ManualClock, SystemClock};
pub use edalab_http::{ApiError, json_body, path_id};
pub use stores::{PgStores, PgStoresConfig, StoreChoice};

/// The clock a pipeline stamps its times with (transaction ids and timestamps, processing
/// times, notification times): the [`Clock`] port the simulator defined, shared so that a
/// test can hold a [`ManualClock`] and read exact times back. [`SharedClock::system`] (the
/// default) in production.
#[derive(Clone)]
pub struct SharedClock(Arc<dyn Clock>);

impl SharedClock {
    /// The wall clock.
    pub fn system() -> Self {
        Self(Arc::new(SystemClock::new()))
    }

    /// Any clock, e.g. a [`ManualClock`] in tests (its clones share its time).
    pub fn new(clock: impl Clock + 'static) -> Self {
        Self(Arc::new(clock))
    }

    /// The current time.
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0.now_utc()
    }
}

impl Default for SharedClock {
    fn default() -> Self {
        Self::system()
    }
}

impl std::fmt::Debug for SharedClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not the time: reading a stepping clock moves it.
        f.write_str("SharedClock(..)")
    }
}

/// The shutdown signal every pipeline task watches: it stops once the value is `true` (or
/// the sender is dropped). `edalab up` holds the sender and flips it on SIGINT/SIGTERM.
pub type Shutdown = watch::Receiver<bool>;

/// What a pipeline starts from: the bus its topics are on, the queues its work goes through
/// (topics of the same bus, or SQS on the `aws` profile), the folder its files go under
/// (SQLite stores, the S0 archive, the S2 inbox), the store it keeps its state in, the clock
/// it stamps times with, and the signal that stops its tasks. One value for the four
/// pipelines, so a caller (`edalab up`, a test, the fuzz target) builds it once.
#[derive(Clone)]
pub struct Env {
    pub bus: Arc<dyn Bus>,
    pub queues: Arc<dyn Queues>,
    pub data_dir: PathBuf,
    pub stores: StoreChoice,
    pub clock: SharedClock,
    pub shutdown: Shutdown,
    /// What the profile provides the pipelines instead of their local defaults (DynamoDB,
    /// S3 and CloudWatch on `aws`); empty by default.
    pub provided: Provided,
}

/// Ports a profile provides instead of a pipeline's local default; `None` or empty keeps the
/// default (the store [`StoreChoice`] names, the inbox folder, Prometheus alone).
#[derive(Clone, Default)]
pub struct Provided {
    /// S2's store, source of order files and counts.
    pub intake: crate::intake::IntakeBackends,
    /// S1's store.
    pub calculations: Option<Arc<dyn crate::calculator::CalculationStore>>,
    /// S0's store.
    pub transactions: Option<Arc<dyn crate::transactions::TransactionStore>>,
    /// S0's archive.
    pub transaction_archive: Option<Arc<dyn crate::transactions::TransactionArchive>>,
}

impl Env {
    /// Queues as topics of `bus` ([`bus_queues`]), on the system clock.
    pub fn new(
        bus: Arc<dyn Bus>,
        data_dir: &Path,
        stores: StoreChoice,
        shutdown: Shutdown,
    ) -> Self {
        Self {
            queues: Arc::new(bus_queues(Arc::clone(&bus))),
            bus,
            data_dir: data_dir.to_path_buf(),
            stores,
            clock: SharedClock::system(),
            shutdown,
            provided: Provided::default(),
        }
    }

    /// The same on `clock`.
    pub fn with_clock(self, clock: SharedClock) -> Self {
        Self { clock, ..self }
    }

    /// The same with ports the profile provides.
    pub fn with_provided(self, provided: Provided) -> Self {
        Self { provided, ..self }
    }

    /// The same with other queues (SQS on the `aws` profile).
    pub fn with_queues(self, queues: Arc<dyn Queues>) -> Self {
        Self { queues, ..self }
    }
}

/// The pipelines' queues as topics of `bus`: each queue and DLQ a topic with the partitions
/// the pipeline's `topics()` gives it (3, or 1 for the DLQs the seeds keep in one
/// partition), so `ensure` finds the topics `edalab up` created as they are.
pub fn bus_queues(bus: Arc<dyn Bus>) -> BusQueues {
    BusQueues::new(bus)
        .with_partitions(crate::calculator::CALCULATOR_DLQ, 1)
        .with_partitions(crate::intake::INTAKE_DLQ, 1)
}

/// Creates `specs`' queues and DLQs (or checks them).
pub async fn ensure_queues(queues: &dyn Queues, specs: &[QueueSpec]) -> Result<(), StartError> {
    for spec in specs {
        queues
            .ensure(spec)
            .await
            .map_err(|source| StartError::Queue {
                queue: spec.name.clone(),
                source,
            })?;
    }
    Ok(())
}

/// Starts consuming `spec`'s queue as task `name` of `service`; the task and the consumer's
/// counters. The handler runs [`Measured`]: every message is counted, timed and traced
/// under `service` and the consumer's group.
pub async fn consume(
    service: &str,
    name: &str,
    queues: &dyn Queues,
    spec: &QueueSpec,
    mut consumer: QueueConsumer,
    shutdown: Shutdown,
) -> Result<(Task, Arc<RuntimeStats>), StartError> {
    consumer.handler = Arc::new(Measured::new(service, &consumer.group, consumer.handler));
    let (handle, stats) = queues
        .consume(spec, consumer, shutdown)
        .await
        .map_err(|e| StartError::Consume {
            queue: spec.name.clone(),
            reason: e.to_string(),
        })?;
    let handle = tokio::spawn(async move {
        match handle.await {
            Ok(ran) => ran.map_err(|e| e.to_string()),
            Err(e) => Err(format!("consumer task: {e}")),
        }
    });
    let task = Task {
        name: name.to_owned(),
        handle,
    };
    Ok((task, stats))
}

/// Completes once `shutdown` is signalled (or its sender is gone).
pub async fn signalled(mut shutdown: Shutdown) {
    // An error means the sender was dropped: nobody can signal any more, so stop too.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Errors of starting a pipeline.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("creating topic `{topic}`: {source}")]
    Topic {
        topic: String,
        #[source]
        source: BusError,
    },
    #[error("store at {path}: {reason}")]
    Store { path: String, reason: String },
    /// The PostgreSQL stores: `url` without its password.
    #[error("PostgreSQL at {url}: {reason}")]
    Postgres { url: String, reason: String },
    /// A queue (or its DLQ) could not be created, or exists with other settings.
    #[error("queue `{queue}`: {source}")]
    Queue {
        queue: String,
        #[source]
        source: BusError,
    },
    /// A queue's consumer could not start (no DLQ, a bad setting).
    #[error("consuming queue `{queue}`: {reason}")]
    Consume { queue: String, reason: String },
    #[error("data directory {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// One running task of a pipeline (a consumer runtime, a DLQ tracker, a folder watcher).
pub struct Task {
    pub name: String,
    pub handle: JoinHandle<Result<(), String>>,
}

/// What `start` returns: the pipeline's tasks, to await after the shutdown signal.
pub struct Handles {
    pub tasks: Vec<Task>,
}

impl Handles {
    /// Waits for every task; returns the errors, each prefixed with its task's name.
    pub async fn join(self) -> Result<(), Vec<String>> {
        let mut errors = Vec::new();
        for task in self.tasks {
            match task.handle.await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => errors.push(format!("{}: {error}", task.name)),
                Err(join) => errors.push(format!("{}: {join}", task.name)),
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}

/// Creates each topic; an existing one with the same settings is left alone, so running it
/// again is harmless (S0-04).
pub async fn ensure_topics(
    bus: &dyn Bus,
    topics: &[(&'static str, TopicConfig)],
) -> Result<(), StartError> {
    for (name, config) in topics {
        bus.create_topic(name, config.clone())
            .await
            .map_err(|source| StartError::Topic {
                topic: (*name).to_owned(),
                source,
            })?;
    }
    Ok(())
}

/// A topic config: partitions, retention in days (`None`: forever), compression. The seed
/// topics must match `edalab up`'s (`crates/edalab/src/seed.rs`) exactly, or the
/// idempotent create fails with a settings mismatch.
pub fn topic(partitions: u32, retention_days: Option<u64>, compression: &str) -> TopicConfig {
    let mut config = TopicConfig::with_partitions(partitions);
    config.retention_ms = retention_days.map(|days| days * 24 * 3_600_000);
    config.compression = compression.to_owned();
    config
}

/// Spawns a consumer runtime of `service` as task `name` until `shutdown`; returns the task
/// and its counters. The handler runs [`MeasuredBatch`]: every message is counted, timed
/// and traced under `service` and the runtime's group.
pub fn spawn_runtime<H: BatchHandler + 'static>(
    service: &str,
    name: &str,
    bus: Arc<dyn Bus>,
    config: RuntimeConfig,
    handler: H,
    shutdown: Shutdown,
) -> (Task, Arc<RuntimeStats>) {
    let handler = MeasuredBatch::new(service, &config.consumer.group, handler);
    let runtime = ConsumerRuntime::new(bus, config, handler);
    let stats = runtime.stats();
    let task_name = name.to_owned();
    let handle = tokio::spawn(async move {
        runtime
            .run(signalled(shutdown))
            .await
            .map(|summary| {
                tracing::info!(task = %task_name, unfinished = summary.unfinished_messages, "consumer runtime stopped");
            })
            .map_err(|error| error.to_string())
    });
    (
        Task {
            name: name.to_owned(),
            handle,
        },
        stats,
    )
}

/// `router`'s operations as a second copy at the seeds' own paths: each operation id gets
/// `_at_seed_path`, so that the gateway's document, which holds both copies, names every
/// operation once (OpenAPI requires unique operation ids).
pub fn at_seed_path<S>(
    mut router: utoipa_axum::router::OpenApiRouter<S>,
) -> utoipa_axum::router::OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    for item in router.get_openapi_mut().paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for operation in operations.into_iter().flatten() {
            if let Some(id) = &mut operation.operation_id {
                id.push_str("_at_seed_path");
            }
        }
    }
    router
}

/// The key of a message as text (the pipelines key by their ids), if it is UTF-8.
pub fn key_text(message: &edalab_bus::Message) -> Option<String> {
    message
        .key
        .as_ref()
        .and_then(|k| String::from_utf8(k.clone()).ok())
}

/// Opens (creating) a pipeline's SQLite database under `data_dir` in WAL mode.
pub fn open_sqlite(data_dir: &Path, file_name: &str) -> Result<rusqlite::Connection, StartError> {
    std::fs::create_dir_all(data_dir).map_err(|source| StartError::Io {
        path: data_dir.display().to_string(),
        source,
    })?;
    let path = data_dir.join(file_name);
    let store_error = |e: rusqlite::Error| StartError::Store {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    let connection = rusqlite::Connection::open(&path).map_err(store_error)?;
    connection
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(store_error)?;
    connection
        .pragma_update(None, "synchronous", "NORMAL")
        .map_err(store_error)?;
    Ok(connection)
}

/// A store lookup by id as an answer: the row, a 404 naming `what` and `id` when there is
/// none, a 503 when the store failed.
pub fn found<T>(
    looked_up: Result<Option<T>, impl std::fmt::Display>,
    what: &str,
    id: &str,
) -> Result<T, ApiError> {
    looked_up
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::no_such(what, id))
}

/// Locks a std mutex, recovering from poisoning (a panicked holder left SQLite's state
/// consistent: every write is one statement or one transaction).
pub fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
