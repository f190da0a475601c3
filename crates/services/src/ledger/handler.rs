//! The ledger's batch handler for the consumer runtime: decode, then
//! [`commit_events`](super::apply::commit_events) in one store transaction, then answer
//! one outcome per message.
//!
//! - decoded and applied, refused (rejection event queued in the outbox) or already
//!   applied → `Done`;
//! - undecodable, or a field the domain cannot accept → `Reject` (to `system.dlq` with
//!   the reason);
//! - store unavailable → `Retry` for the whole batch (nothing was committed). A version
//!   conflict with another writer is retried here at once, on fresh data, up to
//!   [`CONFLICT_ATTEMPTS_MAX`] times, then handed to the runtime as `Retry`.
//!
//! Tracing: each batch runs in a `ledger.batch` span (fields: `messages`, and `trace_id`, the
//! trace of the batch's first message from its `traceparent` header), and the store
//! transaction in a child `store.commit` span (`events`, `attempts`). Inside the gateway's
//! `MeasuredBatch` (as `edalab up` / `edalab serve ledger` run it), `ledger.batch` is a child
//! of `consume.batch`, whose parent is that message's `traceparent`: one trace from the HTTP
//! request that produced the event to the store commit that applied it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use edalab_bus::port::Message;
use edalab_bus::port::headers::TRACEPARENT;
use edalab_bus::runtime::{BatchHandler, Outcome};
use edalab_schema::registry::learn_writers;
use edalab_schema::{SchemaCatalog, SchemaRegistry};
use edalab_store::{LedgerStore, StoreError};
use edalab_telemetry::events::{LedgerEventCommitted, LedgerOutcome};
use tokio::sync::Notify;
use tracing::Instrument;

use super::apply::{EventOutcome, Source, SourcedEvent, commit_events, decode_event};

/// Immediate re-decisions after a version conflict, before answering `Retry`.
pub const CONFLICT_ATTEMPTS_MAX: u32 = 3;

/// The ledger's counters (plain atomics; the metrics layer reads them).
#[derive(Debug, Default)]
pub struct LedgerCounters {
    /// Events applied (including accepted no-ops).
    pub applied_total: AtomicU64,
    /// Events refused by a business rule (a rejection event each).
    pub rejected_total: AtomicU64,
    /// Events skipped because their `event_id` was already applied.
    pub duplicates_total: AtomicU64,
    /// Messages answered `Reject` (dead-lettered): undecodable or invalid.
    pub invalid_total: AtomicU64,
    /// Batches answered `Retry` (store unavailable or conflicts past the budget).
    pub retried_batches_total: AtomicU64,
    /// Version conflicts met (each re-decided).
    pub conflicts_total: AtomicU64,
    /// Batches committed.
    pub batches_total: AtomicU64,
}

/// A copy of [`LedgerCounters`] at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerCountersSnapshot {
    pub applied_total: u64,
    pub rejected_total: u64,
    pub duplicates_total: u64,
    pub invalid_total: u64,
    pub retried_batches_total: u64,
    pub conflicts_total: u64,
    pub batches_total: u64,
}

impl LedgerCounters {
    pub fn snapshot(&self) -> LedgerCountersSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LedgerCountersSnapshot {
            applied_total: get(&self.applied_total),
            rejected_total: get(&self.rejected_total),
            duplicates_total: get(&self.duplicates_total),
            invalid_total: get(&self.invalid_total),
            retried_batches_total: get(&self.retried_batches_total),
            conflicts_total: get(&self.conflicts_total),
            batches_total: get(&self.batches_total),
        }
    }
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

/// The ledger service's [`BatchHandler`]. Clones share the counters and the outbox wake-up:
/// one per member of the ledger's group (`MemberPool`), one ledger.
#[derive(Clone)]
pub struct LedgerHandler {
    store: Arc<dyn LedgerStore>,
    catalog: Arc<SchemaCatalog>,
    /// Where the writer schemas of ids the catalog does not know are fetched from; `None`:
    /// such records are dead-lettered as undecodable.
    registry: Option<Arc<dyn SchemaRegistry>>,
    counters: Arc<LedgerCounters>,
    /// Woken after a commit that queued rejection events (the outbox publisher waits on it).
    outbox_ready: Arc<Notify>,
}

impl LedgerHandler {
    pub fn new(store: Arc<dyn LedgerStore>, catalog: Arc<SchemaCatalog>) -> Self {
        Self {
            store,
            catalog,
            registry: None,
            counters: Arc::new(LedgerCounters::default()),
            outbox_ready: Arc::new(Notify::new()),
        }
    }

    /// Learns the schemas of ids the catalog does not know from `registry` (a producer one
    /// version ahead, or any Confluent client's): see [`learn_writers`].
    pub fn with_registry(mut self, registry: Arc<dyn SchemaRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    pub fn counters(&self) -> Arc<LedgerCounters> {
        Arc::clone(&self.counters)
    }

    /// Notified when rejection events were committed to the outbox.
    pub fn outbox_ready(&self) -> Arc<Notify> {
        Arc::clone(&self.outbox_ready)
    }

    async fn commit(&self, events: &[SourcedEvent]) -> Result<Vec<EventOutcome>, StoreError> {
        let span = tracing::info_span!(
            "store.commit",
            backend = self.store.backend_name(),
            events = events.len(),
            attempts = tracing::field::Empty,
        );
        self.commit_with_retries(events, &span)
            .instrument(span.clone())
            .await
    }

    async fn commit_with_retries(
        &self,
        events: &[SourcedEvent],
        span: &tracing::Span,
    ) -> Result<Vec<EventOutcome>, StoreError> {
        let mut attempt = 1;
        loop {
            span.record("attempts", attempt);
            match commit_events(&*self.store, &self.catalog, events, Vec::new()).await {
                Ok(summary) => {
                    if summary.rejections_queued > 0 {
                        self.outbox_ready.notify_one();
                    }
                    return Ok(summary.outcomes);
                }
                Err(StoreError::Conflict(reason)) if attempt < CONFLICT_ATTEMPTS_MAX => {
                    add(&self.counters.conflicts_total, 1);
                    tracing::debug!(attempt, %reason, "ledger batch conflict, deciding again");
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

impl LedgerHandler {
    /// Fetches the writer schemas of the batch's unknown ids; fails (the batch is retried)
    /// only when the registry cannot answer.
    async fn learn_writers(&self, batch: &[Message]) -> Result<(), String> {
        let Some(registry) = &self.registry else {
            return Ok(());
        };
        // Collected first: a closure borrowing the batch inside this future is not `Send`
        // for every lifetime (rustc's higher-ranked closure limitation).
        let values: Vec<&[u8]> = batch.iter().map(|m| m.value.as_ref()).collect();
        match learn_writers(&self.catalog, &**registry, values).await {
            Ok(learned) => {
                for id in learned {
                    tracing::info!(
                        schema_id = id.0,
                        "ledger: learned a writer schema from the registry"
                    );
                }
                Ok(())
            }
            Err(error) => {
                add(&self.counters.retried_batches_total, 1);
                tracing::warn!(%error, "ledger: schema registry unavailable, retrying the batch");
                Err(format!("schema registry: {error}"))
            }
        }
    }
}

/// The trace id in `message`'s `traceparent` header (`00-<trace id>-<span id>-<flags>`),
/// for the `ledger.batch` span's `trace_id` field.
fn trace_id_of(message: &Message) -> Option<&str> {
    let value = std::str::from_utf8(message.header(TRACEPARENT)?).ok()?;
    let trace_id = value.split('-').nth(1)?;
    (trace_id.len() == 32).then_some(trace_id)
}

#[async_trait]
impl BatchHandler for LedgerHandler {
    async fn handle(&self, batch: &[Message]) -> Vec<Outcome> {
        let span = tracing::info_span!(
            "ledger.batch",
            messages = batch.len(),
            trace_id = batch.first().and_then(trace_id_of).unwrap_or(""),
        );
        self.handle_batch(batch).instrument(span).await
    }
}

impl LedgerHandler {
    async fn handle_batch(&self, batch: &[Message]) -> Vec<Outcome> {
        if let Err(reason) = self.learn_writers(batch).await {
            return vec![Outcome::Retry(reason); batch.len()];
        }
        let mut outcomes = vec![Outcome::Done; batch.len()];
        let mut events = Vec::with_capacity(batch.len());
        let mut positions = Vec::with_capacity(batch.len());
        for (i, message) in batch.iter().enumerate() {
            match decode_event(&self.catalog, &message.topic, &message.value) {
                Ok(event) => {
                    events.push(SourcedEvent {
                        event,
                        source: Source {
                            topic: message.topic.to_string(),
                            partition: message.partition,
                            offset: message.offset,
                        },
                    });
                    positions.push(i);
                }
                Err(error) => {
                    add(&self.counters.invalid_total, 1);
                    tracing::warn!(
                        topic = %message.topic,
                        partition = message.partition,
                        offset = message.offset,
                        %error,
                        "ledger: dead-lettering an invalid event"
                    );
                    outcomes[i] = Outcome::Reject(error.to_string());
                }
            }
        }
        if events.is_empty() {
            return outcomes;
        }
        match self.commit(&events).await {
            Ok(results) => {
                add(&self.counters.batches_total, 1);
                for result in &results {
                    match result {
                        EventOutcome::Applied => {
                            add(&self.counters.applied_total, 1);
                            LedgerEventCommitted {
                                outcome: LedgerOutcome::Applied,
                            }
                            .emit();
                        }
                        EventOutcome::Rejected { code } => {
                            add(&self.counters.rejected_total, 1);
                            // A business refusal: counted by reason, never retried.
                            LedgerEventCommitted {
                                outcome: LedgerOutcome::Refused(code),
                            }
                            .emit();
                        }
                        EventOutcome::Duplicate => {
                            add(&self.counters.duplicates_total, 1);
                            LedgerEventCommitted {
                                outcome: LedgerOutcome::Duplicate,
                            }
                            .emit();
                        }
                    }
                }
            }
            Err(error) => {
                add(&self.counters.retried_batches_total, 1);
                tracing::warn!(%error, transient = error.is_transient(), "ledger: batch not committed, retrying");
                let reason = format!("ledger store: {error}");
                for i in positions {
                    outcomes[i] = Outcome::Retry(reason.clone());
                }
            }
        }
        outcomes
    }
}
