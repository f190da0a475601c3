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

use edalab_bus::runtime::RuntimeStats;
use edalab_bus::{QueueConsumer, QueueSpec, Queues, TopicConfig, on_dead_letter};
use edalab_domain::events::topics;

use crate::pipeline::{self, Env, Handles, SharedClock, StartError};
pub use store::{
    Calculation, CalculationStatus, CalculationStore, PgCalculationStore, SqliteCalculationStore,
};

/// The service name its metrics, traces and logs carry (`edalab serve calculator`).
pub const SERVICE: &str = "calculator";

/// Dead letters of `calculatrice-input-queue` (the seed names none; `<queue>-dlq` as S0).
pub const CALCULATOR_DLQ: &str = "calculatrice-input-queue-dlq";
/// Consumer group of the workers.
pub const WORKER_GROUP: &str = "calculator-workers";
/// Consumer group of the DLQ tracker.
pub const DLQ_TRACKER_GROUP: &str = "calculator-dlq-tracker";
/// Header carrying the calculation id on both queues.
pub const ID_HEADER: &str = "calculation_id";

/// `calculatrice-input-queue` (S1-01): the seeds' settings (visibility 60 s, 3 receives, 4
/// days), dead letters in [`CALCULATOR_DLQ`] for 14 days.
pub fn input_queue() -> QueueSpec {
    QueueSpec::seeded(topics::CALCULATOR_INPUT, CALCULATOR_DLQ)
}

/// `calculatrice-output-queue` (S1-01): SQS's defaults; nothing here consumes it.
pub fn output_queue() -> QueueSpec {
    QueueSpec::plain(topics::CALCULATOR_OUTPUT)
}

/// The calculator's topics on a log, with their settings (SQS retention 4 days, DLQ 14
/// days): what [`input_queue`] and [`output_queue`] are on the bus.
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
    pub queues: Arc<dyn Queues>,
    pub store: Arc<dyn CalculationStore>,
    pub counters: Arc<Counters>,
    /// The time embedded in calculation ids (UUID v7).
    pub clock: SharedClock,
}

impl CalculatorState {
    /// State over the store `env` names (`calculator.sqlite` in its data dir for SQLite).
    pub fn open(env: &Env) -> Result<Self, StartError> {
        Ok(Self {
            queues: env.queues.clone(),
            store: match &env.provided.calculations {
                Some(store) => Arc::clone(store),
                None => store::open(&env.stores, &env.data_dir)?,
            },
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

/// Creates the queues (idempotent), opens the store `env` names, starts the worker (whose
/// dead letters record their reason); calculation ids embed `env`'s clock. Mount
/// [`api::router`]`(calculator.state.clone())` to serve the routes.
pub async fn start(env: &Env) -> Result<Calculator, StartError> {
    let input = input_queue();
    pipeline::ensure_queues(env.queues.as_ref(), &[input.clone(), output_queue()]).await?;
    let state = CalculatorState::open(env)?;
    let consumer = QueueConsumer {
        group: WORKER_GROUP.to_owned(),
        dead_letter_group: DLQ_TRACKER_GROUP.to_owned(),
        handler: worker(&state),
        on_dead_letter: failed(&state),
    };
    let (worker, worker_stats) = pipeline::consume(
        SERVICE,
        "calculator-worker",
        env.queues.as_ref(),
        &input,
        consumer,
        env.shutdown.clone(),
    )
    .await?;
    Ok(Calculator {
        handles: Handles {
            tasks: vec![worker],
        },
        state,
        worker_stats,
    })
}

/// The S1 worker of `calculatrice-input-queue`, the same in process and in the
/// `calculator` Lambda function.
pub fn worker(state: &CalculatorState) -> Arc<dyn edalab_bus::runtime::Handler> {
    Arc::new(worker::Worker::new(state.clone()))
}

/// A dead letter's calculation is `FAILED` with the reason (S1-02).
pub fn failed(state: &CalculatorState) -> edalab_bus::OnDeadLetter {
    let (store, counters) = (state.store.clone(), state.counters.clone());
    on_dead_letter(move |dead| {
        let store = store.clone();
        counters
            .failed_total
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        async move {
            let id = worker::calculation_id(&dead.headers, dead.key.as_deref());
            if let Some(id) = id
                && let Err(error) = store.fail(&id, &dead.reason).await
            {
                tracing::warn!(%error, %id, "could not record a calculator failure");
            }
        }
    })
}
