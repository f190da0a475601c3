//! S1 — the calculator over queues (S1-01, S1-02).
//!
//! `POST /api/v1/calculator` validates `{operation, a, b}` through
//! [`edalab_domain::calculator::CalculatorOperation::parse`], records it `PENDING` and queues
//! it on `calculatrice-input-queue` (key and header `calculation_id` = its id). The worker
//! (a consumer runtime, group `calculator-workers`) computes it with
//! [`edalab_domain::calculator::evaluate`] and sends `{operation, a, b, result}` to
//! `calculatrice-output-queue`; a bad operation (division by zero, overflow, unknown
//! operator, non-numeric operand) is `Reject`ed to `calculatrice-input-queue-dlq` at once,
//! and the DLQ tracker records the reason, so `GET /api/v1/calculator/{id}` answers
//! `COMPLETED` with `result` or `FAILED` with `error`.
//!
//! Owns: its routes, its worker, its store (`calculator.sqlite` under the data dir, or table
//! `s1_calculations` on PostgreSQL, per [`StoreChoice`]). May not touch other pipelines'
//! topics or stores.

pub mod api;
pub mod store;
mod worker;

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use edalab_bus::runtime::{DlqRouting, PerMessage, RuntimeConfig, RuntimeStats};
use edalab_bus::{Bus, ConsumerConfig, TopicConfig};
use edalab_domain::events::topics;

use crate::pipeline::{self, Env, Handles, SharedClock, StartError};
pub use store::{
    Calculation, CalculationStatus, CalculationStore, PgCalculationStore, SqliteCalculationStore,
};

/// Dead letters of `calculatrice-input-queue` (the seed names none; `<queue>-dlq` as S0).
pub const CALCULATOR_DLQ: &str = "calculatrice-input-queue-dlq";
/// Consumer group of the workers.
pub const WORKER_GROUP: &str = "calculator-workers";
/// Consumer group of the DLQ tracker.
pub const DLQ_TRACKER_GROUP: &str = "calculator-dlq-tracker";
/// Header carrying the calculation id on both queues.
pub const ID_HEADER: &str = "calculation_id";

/// The calculator's topics with their settings (SQS retention 4 days, DLQ 14 days).
pub fn topics() -> Vec<(&'static str, TopicConfig)> {
    vec![
        (
            topics::CALCULATOR_INPUT,
            pipeline::topic(3, Some(4), "none"),
        ),
        (
            topics::CALCULATOR_OUTPUT,
            pipeline::topic(3, Some(4), "none"),
        ),
        (CALCULATOR_DLQ, pipeline::topic(1, Some(14), "none")),
    ]
}

/// Counters, relaxed atomics, for the metrics layer.
#[derive(Debug, Default)]
pub struct Counters {
    pub submitted_total: AtomicU64,
    pub computed_total: AtomicU64,
    pub failed_total: AtomicU64,
}

/// What the routes and the worker share.
#[derive(Clone)]
pub struct CalculatorState {
    pub bus: Arc<dyn Bus>,
    pub store: Arc<dyn CalculationStore>,
    pub counters: Arc<Counters>,
    /// The time embedded in calculation ids (UUID v7).
    pub clock: SharedClock,
}

impl CalculatorState {
    /// State over the store `env` names (`calculator.sqlite` in its data dir for SQLite).
    pub fn open(env: &Env) -> Result<Self, StartError> {
        Ok(Self {
            bus: env.bus.clone(),
            store: store::open(&env.stores, &env.data_dir)?,
            counters: Arc::new(Counters::default()),
            clock: env.clock.clone(),
        })
    }
}

/// The running calculator: its tasks, the worker's runtime counters, and the state the
/// router is built from.
pub struct Calculator {
    pub handles: Handles,
    pub state: CalculatorState,
    pub worker_stats: Arc<RuntimeStats>,
}

/// Creates the topics (idempotent), opens the store `env` names, starts the worker and the
/// DLQ tracker; calculation ids embed `env`'s clock. Mount
/// [`api::router`]`(calculator.state.clone())` to serve the routes.
pub async fn start(env: &Env) -> Result<Calculator, StartError> {
    let (bus, shutdown) = (env.bus.clone(), env.shutdown.clone());
    pipeline::ensure_topics(bus.as_ref(), &topics()).await?;
    let state = CalculatorState::open(env)?;
    let config = RuntimeConfig::new(
        ConsumerConfig::new(WORKER_GROUP, vec![topics::CALCULATOR_INPUT.to_owned()]),
        DlqRouting::to_topic(CALCULATOR_DLQ),
    );
    let (worker, worker_stats) = pipeline::spawn_runtime(
        "calculator-worker",
        bus.clone(),
        config,
        PerMessage(worker::Worker::new(state.clone())),
        shutdown.clone(),
    );
    let store = state.store.clone();
    let counters = state.counters.clone();
    let tracker = pipeline::spawn_dlq_tracker(
        "calculator-dlq-tracker",
        bus,
        CALCULATOR_DLQ,
        DLQ_TRACKER_GROUP,
        move |entry| {
            let store = store.clone();
            counters
                .failed_total
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            async move {
                let id = worker::calculation_id(&entry.headers, entry.key.as_deref());
                if let Some(id) = id
                    && let Err(error) = store.fail(&id, &entry.error).await
                {
                    tracing::warn!(%error, %id, "could not record a calculator failure");
                }
            }
        },
        shutdown,
    );
    Ok(Calculator {
        handles: Handles {
            tasks: vec![worker, tracker],
        },
        state,
        worker_stats,
    })
}
