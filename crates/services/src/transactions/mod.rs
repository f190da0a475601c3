//! S0 — the banking transactions pipeline (S0-01 … S0-05, S0-07).
//!
//! ```text
//! POST /api/v1/transactions ─► queue `transactions` ─► processor (group transactions-processor)
//!     202 PENDING               (DLQ transactions-dlq,     ├─ ok   ─► `transactions-events` (key transactionId)
//!                                3 attempts, S0-02)        └─ fail ─► `fraud-alerts` + Retry ─► … ─► DLQ
//! `transactions-events` ─► group `transaction-processors` (S0-05): analytics (totals per
//!     currency, once per transactionId), notification ─► `notifications`, archive
//!     ─► `<data>/archive/transactions-YYYY-MM-DD.jsonl` (or S3, [`archive`])
//! `transactions-dlq` ─► DLQ tracker ─► status FAILED with the reason
//! ```
//!
//! `GET /api/v1/transactions/{id}` answers the status (`PENDING` → `PROCESSED` | `FAILED`
//! with `error`), `GET /api/v1/transactions/analytics` the running totals.
//!
//! **Delivery, per effect.** The queue and the topics deliver at least once. The processor's
//! publication to `transactions-events` is at least once (a retry after a failed status
//! write publishes the same `transactionId` again); the S0-05 consumers make that harmless:
//! the analytics total and the archive line are applied **exactly once** per
//! `transactionId` (inboxes in the store, the runtime's exactly-once hook), the
//! notification is published once per delivery that finds it not yet sent — at least once
//! only across a crash between its produce and its record, with a stable `notificationId`.
//! Details in the `consumers` module.
//!
//! **Time** comes from the state's [`SharedClock`] (transaction ids embed its date, and
//! `timestamp`, `processedAt`, alert and notification times are its readings), the one
//! [`Env::clock`] that [`start`] is given.
//!
//! Owns: its routes, processor, consumers, store (`transactions.sqlite`, or tables `s0_…` on
//! PostgreSQL, per [`StoreChoice`]) and archive folder (unless the profile provides an archive). Rules come from `edalab_domain::transaction`; wire types from
//! `edalab_domain::events::transactions`.

pub mod api;
pub mod archive;
mod consumers;
mod processor;
pub mod store;
pub mod workflow;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use edalab_bus::runtime::{DlqRouting, Handler, PerMessage, RuntimeConfig, RuntimeStats};
use edalab_bus::{
    Bus, ConsumerConfig, OnDeadLetter, QueueConsumer, QueueSpec, Queues, TopicConfig,
    on_dead_letter,
};
use edalab_domain::events::topics;

use crate::pipeline::{self, Env, Handles, SharedClock, StartError};
pub use archive::{FolderArchive, TransactionArchive};
pub use store::{
    CurrencyTotal, Effect, EffectInbox, PgEffectInbox, PgTransactionStore, SqliteTransactionStore,
    TransactionStore, TransactionView,
};

/// The service name its metrics, traces and logs carry (`edalab serve transactions`).
pub const SERVICE: &str = "transactions";

/// Dead letters of the `transactions-events` consumers (analytics, notifications, archive);
/// kept apart from `transactions-dlq` so a consumer's failure never marks a transaction
/// `FAILED`.
pub const EVENTS_DLQ: &str = "transactions-events-dlq";
/// Group of the processor reading the `transactions` queue.
pub const PROCESSOR_GROUP: &str = "transactions-processor";
/// Group of the analytics / notifications / archive consumers (S0-05).
pub const CONSUMERS_GROUP: &str = "transaction-processors";
/// Group of the DLQ tracker.
pub const DLQ_TRACKER_GROUP: &str = "transactions-dlq-tracker";
/// `processorId` written on `TransactionProcessed`.
pub const PROCESSOR_ID: &str = "edalab-transactions-processor";

/// Every topic of the pipeline with the seed's settings (S0-02, S0-04), the same as
/// `edalab up` creates. Creating them again is harmless: see [`create_topics`].
pub fn topics() -> Vec<(&'static str, TopicConfig)> {
    vec![
        (
            topics::TRANSACTIONS_QUEUE,
            pipeline::topic(3, Some(4), "none"),
        ),
        (
            topics::TRANSACTIONS_DLQ,
            pipeline::topic(3, Some(14), "none"),
        ),
        (
            topics::TRANSACTIONS_EVENTS,
            pipeline::topic(3, Some(7), "gzip"),
        ),
        (topics::FRAUD_ALERTS, pipeline::topic(2, None, "none")),
        (topics::NOTIFICATIONS, pipeline::topic(2, None, "none")),
        (EVENTS_DLQ, pipeline::topic(3, Some(14), "none")),
    ]
}

/// Creates the pipeline's topics (S0-04); idempotent.
pub async fn create_topics(bus: &dyn Bus) -> Result<(), StartError> {
    pipeline::ensure_topics(bus, &topics()).await
}

/// Counters, relaxed atomics, for the metrics layer.
#[derive(Debug, Default)]
pub struct Counters {
    pub submitted_total: AtomicU64,
    pub processed_total: AtomicU64,
    pub fraud_alerts_total: AtomicU64,
    pub dead_lettered_total: AtomicU64,
    pub notifications_total: AtomicU64,
    pub archived_total: AtomicU64,
}

impl Counters {
    pub(crate) fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the routes, the processor and the consumers share.
#[derive(Clone)]
pub struct TransactionsState {
    /// Where the events, fraud alerts and notifications go.
    pub bus: Arc<dyn Bus>,
    /// Where submitted transactions wait for the processor (`transactions`).
    pub queues: Arc<dyn Queues>,
    pub store: Arc<dyn TransactionStore>,
    pub counters: Arc<Counters>,
    /// Where processed transactions are archived (S0-05).
    pub archive: Arc<dyn TransactionArchive>,
    /// Where every time the pipeline writes comes from.
    pub clock: SharedClock,
}

impl TransactionsState {
    /// State over the store `env` names (`transactions.sqlite` in its data dir for SQLite)
    /// and the archive it provides, else `archive/` in its data dir.
    pub fn open(env: &Env) -> Result<Self, StartError> {
        Ok(Self {
            bus: env.bus.clone(),
            queues: env.queues.clone(),
            store: match &env.provided.transactions {
                Some(store) => store.clone(),
                None => store::open(&env.stores, &env.data_dir)?,
            },
            counters: Arc::new(Counters::default()),
            archive: match &env.provided.transaction_archive {
                Some(archive) => archive.clone(),
                None => Arc::new(FolderArchive::new(env.data_dir.join("archive"))),
            },
            clock: env.clock.clone(),
        })
    }
}

/// The running pipeline.
pub struct Transactions {
    pub handles: Handles,
    pub state: TransactionsState,
    pub processor_stats: Arc<RuntimeStats>,
    pub consumers_stats: Arc<RuntimeStats>,
}

/// Creates the topics and the queue, opens the store `env` names, starts the processor
/// (whose dead letters mark their transaction `FAILED`) and the S0-05 consumers, all
/// reading time from `env`'s clock. Mount
/// [`api::router`]`(pipeline.state.clone())`.
pub async fn start(env: &Env) -> Result<Transactions, StartError> {
    let (bus, shutdown) = (env.bus.clone(), env.shutdown.clone());
    create_topics(bus.as_ref()).await?;
    let state = TransactionsState::open(env)?;

    // S0-02: batch size 10, max receive count 3.
    let queue = transactions_queue();
    pipeline::ensure_queues(env.queues.as_ref(), std::slice::from_ref(&queue)).await?;
    let consumer = QueueConsumer {
        group: PROCESSOR_GROUP.to_owned(),
        dead_letter_group: DLQ_TRACKER_GROUP.to_owned(),
        handler: processor(&state),
        on_dead_letter: failed(&state),
    };
    let (processor, processor_stats) = pipeline::consume(
        SERVICE,
        "transactions-processor",
        env.queues.as_ref(),
        &queue,
        consumer,
        shutdown.clone(),
    )
    .await?;
    let consumers_config = RuntimeConfig::new(
        ConsumerConfig::new(
            CONSUMERS_GROUP,
            vec![topics::TRANSACTIONS_EVENTS.to_owned()],
        ),
        DlqRouting::to_topic(EVENTS_DLQ),
    );
    let (consumers, consumers_stats) = pipeline::spawn_runtime(
        SERVICE,
        "transaction-processors",
        bus.clone(),
        consumers_config,
        PerMessage(consumers::EventConsumers::new(state.clone())),
        shutdown.clone(),
    );
    Ok(Transactions {
        handles: Handles {
            tasks: vec![processor, consumers],
        },
        state,
        processor_stats,
        consumers_stats,
    })
}

/// `transactions` (S0-02): visibility 60 s, 3 receives, 4 days; dead letters in
/// `transactions-dlq` for 14 days.
pub fn transactions_queue() -> QueueSpec {
    QueueSpec::seeded(topics::TRANSACTIONS_QUEUE, topics::TRANSACTIONS_DLQ)
}

/// The S0-03 processor of the `transactions` queue, the same in process and in the
/// `process-transaction` Lambda function.
pub fn processor(state: &TransactionsState) -> Arc<dyn Handler> {
    Arc::new(processor::Processor::new(state.clone()))
}

/// A dead letter's transaction is `FAILED` with the reason (S0-03).
pub fn failed(state: &TransactionsState) -> OnDeadLetter {
    let (store, counters) = (state.store.clone(), state.counters.clone());
    on_dead_letter(move |dead| {
        let store = store.clone();
        Counters::inc(&counters.dead_lettered_total);
        async move {
            let id = processor::transaction_id(&dead.value, dead.key.as_deref());
            if let Some(id) = id
                && let Err(error) = store.mark_failed(&id, &dead.reason).await
            {
                tracing::warn!(%error, %id, "could not record a transaction failure");
            }
        }
    })
}
