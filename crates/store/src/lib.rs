//! Store ports and their SQLite and PostgreSQL implementations.
//!
//! This crate owns persistence: the [`LedgerStore`] port the ledger service writes
//! through, its SQLite ([`sqlite::SqliteLedgerStore`], the `embedded` profile) and
//! PostgreSQL ([`postgres::PgLedgerStore`], the `kafka` profile) implementations, and
//! their migrations (`crates/store/migrations/`). It may not decide anything: the
//! ledger's rules live in `edalab_domain::ledger`; a store only persists the effects a
//! caller decided, atomically with the consumer's inbox, position and outbox (the
//! exactly-once contract of `docs/adr/006-ledger-store.md`).

pub mod ceiling;
pub mod ledger;
pub mod postgres;
mod rows;
pub mod sqlite;
pub mod testing;

pub use ledger::{
    AccountTotals, AccountWrite, AppliedBatch, DecidedEvent, InboxEntry, InboxOutcome,
    LedgerCounts, LedgerStore, LoadedAccounts, OutboxMessage, PendingOutbox, Position,
    PositionUpdate, StoreError, StoredAccount, TransactionLimit, TransactionSum,
};
