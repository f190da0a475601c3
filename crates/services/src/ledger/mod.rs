//! The ledger service ("bancaire", S3-08..S3-10, X-02, X-03): consumes the seven banking
//! topics and keeps accounts and transactions, exactly once, in a [`LedgerStore`].
//!
//! - [`mapping`]: banking event → domain command (the only place that knows both);
//! - [`apply`]: the batch engine — dedup by `event_id`, decide in memory, commit state,
//!   inbox and rejection events (outbox) in one store transaction;
//! - [`handler`]: the consumer runtime's batch handler (`Done` / `Retry` / `Reject`) and
//!   the service counters;
//! - [`outbox`]: publishes rejection events (`bancaire.operation.rejetee`) after commit;
//! - [`positions`]: the runtime's position store over the ledger database;
//! - [`api`]: the REST API (S3-10);
//! - [`reconcile`]: `edalab check ledger`;
//! - [`bench`]: `edalab bench ledger`.
//!
//! This module owns the ledger's wiring; the rules are `edalab_domain::ledger`'s, the
//! storage `edalab_store`'s, delivery `edalab_bus`'s. Design: `docs/adr/006-ledger-store.md`.
//!
//! [`LedgerStore`]: edalab_store::LedgerStore

pub mod api;
pub mod apply;
pub mod bench;
pub mod handler;
pub mod mapping;
pub mod outbox;
pub mod positions;
pub mod reconcile;

pub use api::{ApiState, query_doc, query_routes, router, router_with};
pub use apply::{CommitSummary, EventOutcome, SourcedEvent, commit_events, decode_event};
pub use bench::{LedgerBenchStats, bench_apply};
pub use handler::{LedgerCounters, LedgerCountersSnapshot, LedgerHandler};
pub use mapping::{Action, LedgerEvent, MappingError, to_ledger_event};
pub use outbox::OutboxPublisher;
pub use positions::LedgerPositions;
pub use reconcile::{Mismatch, ReconciliationReport, check_ledger, reconcile};

/// The consumer group of the ledger service.
pub const LEDGER_GROUP: &str = "ledger";

/// The ledger's consumer: its group over every banking topic, from the earliest offset (a
/// new group replays the history it has not applied).
pub fn consumer() -> edalab_bus::ConsumerConfig {
    let topics = edalab_domain::events::topics::BANKING_EVENTS
        .iter()
        .map(|t| (*t).to_owned())
        .collect();
    let mut consumer = edalab_bus::ConsumerConfig::new(LEDGER_GROUP, topics);
    consumer.start_from = edalab_bus::StartFrom::Earliest;
    consumer
}
