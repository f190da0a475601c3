//! The ledger store port: what the ledger service, its REST API and the reconciliation
//! need from a database, and the shapes that cross it.
//!
//! One call, [`LedgerStore::apply_batch`], commits everything a batch of events changed
//! in ONE database transaction: the accounts (with an optimistic version check, so two
//! writers can never overwrite each other's balance), the new transactions, one inbox row
//! per consumed event (its `event_id` is the dedup key), the consumer's positions and the
//! events to publish (outbox). Either all of it is durable or none of it is.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;

use async_trait::async_trait;
use edalab_domain::ledger::{
    Account, AccountId, AccountView, ClientId, LedgerTransaction, TransactionKind,
};
use edalab_domain::{Currency, Money};
use rust_decimal::Decimal;
use uuid::Uuid;

/// Errors of the ledger store. [`StoreError::is_transient`] says whether retrying the
/// same work later may succeed (the consumer runtime's `Retry`).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or is momentarily unable to work (connection
    /// refused or lost, pool exhausted, disk full, database locked). Transient.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Another writer changed a row this batch read (version mismatch), or recorded the
    /// same event id first. Nothing was written; deciding again on fresh data is safe.
    /// Transient.
    #[error("concurrent write conflict: {0}")]
    Conflict(String),
    /// A row read back breaks the domain's invariants (e.g. a negative balance).
    #[error("corrupt row in {table}: {reason}")]
    Corrupt { table: &'static str, reason: String },
    /// A caller's argument is out of range (e.g. a batch above a backend limit).
    #[error("invalid argument: {0}")]
    Invalid(String),
    /// Any other backend failure (SQL error, migration failure): a bug or a broken
    /// deployment, not worth retrying.
    #[error("store failure: {0}")]
    Backend(String),
}

impl StoreError {
    /// Whether retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Conflict(_))
    }
}

/// An account as stored: the domain account, its IBAN (from the opening event's
/// `metadata["iban"]`, when given) and its version (incremented by every write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAccount {
    pub account: Account,
    pub iban: Option<String>,
    pub version: i64,
}

/// Accounts loaded for one batch, with their versions: the base [`AccountView`] of a
/// `Batch`, and the expected versions of the writes that follow.
#[derive(Debug, Clone, Default)]
pub struct LoadedAccounts {
    pub accounts: HashMap<AccountId, Account>,
    pub versions: HashMap<AccountId, i64>,
}

impl LoadedAccounts {
    /// The version an update of `id` must find, `None` when `id` was not stored.
    pub fn version_of(&self, id: &AccountId) -> Option<i64> {
        self.versions.get(id).copied()
    }
}

impl AccountView for LoadedAccounts {
    fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.get(id)
    }
}

/// One account to write. `expected_version: None` inserts a new account (version 1);
/// `Some(v)` updates the stored account only if it is still at version `v` (then `v +
/// 1`). Either way the whole batch fails with [`StoreError::Conflict`] otherwise.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountWrite {
    pub account: Account,
    /// Kept from the first write that gives one; later writes never erase it.
    pub iban: Option<String>,
    pub expected_version: Option<i64>,
}

/// What happened to a consumed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxOutcome {
    /// The ledger accepted it (its effects may be empty, e.g. an idempotent re-open).
    Applied,
    /// The ledger refused it; `code` is the refusal's stable code.
    Rejected { code: String },
}

impl InboxOutcome {
    pub fn as_wire(&self) -> &str {
        match self {
            InboxOutcome::Applied => "APPLIED",
            InboxOutcome::Rejected { .. } => "REJECTED",
        }
    }

    pub fn reason_code(&self) -> Option<&str> {
        match self {
            InboxOutcome::Applied => None,
            InboxOutcome::Rejected { code } => Some(code),
        }
    }

    pub(crate) fn from_wire(outcome: &str, code: Option<String>) -> Result<Self, StoreError> {
        match (outcome, code) {
            ("APPLIED", _) => Ok(InboxOutcome::Applied),
            ("REJECTED", Some(code)) => Ok(InboxOutcome::Rejected { code }),
            (other, code) => Err(StoreError::Corrupt {
                table: "inbox",
                reason: format!("bad outcome {other:?} with reason {code:?}"),
            }),
        }
    }
}

/// The dedup record of one consumed event: its id and where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxEntry {
    pub event_id: Uuid,
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub outcome: InboxOutcome,
}

/// A consumer group's position on one partition: the offset of the next message to read.
/// Stored positions only move forward.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PositionUpdate {
    pub group: String,
    pub topic: String,
    pub partition: u32,
    pub next_offset: u64,
}

/// A stored position of one group (see [`LedgerStore::positions`]).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Position {
    pub topic: String,
    pub partition: u32,
    pub next_offset: u64,
}

/// A message to publish after the commit (the outbox): already encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub topic: String,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: Vec<(String, Vec<u8>)>,
}

/// An outbox message not yet published, with its sequence number (publishing order).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingOutbox {
    pub id: i64,
    pub message: OutboxMessage,
}

/// Everything one batch of events changes, committed atomically by
/// [`LedgerStore::apply_batch`]. Each account appears at most once.
#[derive(Debug, Clone, Default)]
pub struct AppliedBatch {
    pub accounts: Vec<AccountWrite>,
    pub transactions: Vec<LedgerTransaction>,
    pub inbox: Vec<InboxEntry>,
    pub positions: Vec<PositionUpdate>,
    pub outbox: Vec<OutboxMessage>,
}

impl AppliedBatch {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
            && self.transactions.is_empty()
            && self.inbox.is_empty()
            && self.positions.is_empty()
            && self.outbox.is_empty()
    }
}

/// How many transactions a listing returns: `1..=1000` (S3-10), default 10.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TransactionLimit(u16);

impl TransactionLimit {
    pub const MAX: u16 = 1000;
    pub const DEFAULT: TransactionLimit = TransactionLimit(10);

    pub fn parse(value: i64) -> Result<Self, String> {
        if (1..=i64::from(Self::MAX)).contains(&value) {
            // In range 1..=1000, so it fits a u16.
            Ok(Self(value as u16))
        } else {
            Err(format!(
                "limit must be between 1 and {}, got {value}",
                Self::MAX
            ))
        }
    }

    pub fn get(&self) -> u16 {
        self.0
    }
}

impl Default for TransactionLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl fmt::Display for TransactionLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One account's totals recomputed from its transactions: `Σ credits − Σ debits` and how
/// many transactions it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountTotals {
    pub balance: Decimal,
    pub transaction_count: u64,
}

impl AccountTotals {
    /// Adds one transaction (the pure fold the SQL `SUM` is checked against).
    pub fn add(&mut self, kind: TransactionKind, amount: Decimal) {
        if kind.is_credit() {
            self.balance += amount;
        } else {
            self.balance -= amount;
        }
        self.transaction_count += 1;
    }
}

/// One consumed event's recorded decision, in decision order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecidedEvent {
    pub event_id: Uuid,
    pub outcome: InboxOutcome,
}

/// The sum and count of the transactions of one kind in one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionSum {
    pub kind: TransactionKind,
    pub currency: Currency,
    pub total: Decimal,
    pub count: u64,
}

/// Row counts, for health, reconciliation and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerCounts {
    pub accounts: u64,
    pub transactions: u64,
    pub inbox_applied: u64,
    pub inbox_rejected: u64,
    pub outbox_pending: u64,
}

/// The ledger's storage port. Every method is safe to call concurrently; writes are
/// serialised by the database, and [`Self::apply_batch`]'s version checks turn a lost
/// update into a [`StoreError::Conflict`].
#[async_trait]
pub trait LedgerStore: Send + Sync {
    /// `sqlite` or `postgres`, for health and logs.
    fn backend_name(&self) -> &'static str;

    /// Commits `batch` in one database transaction (see [`AppliedBatch`]).
    async fn apply_batch(&self, batch: AppliedBatch) -> Result<(), StoreError>;

    /// The ids among `event_ids` already recorded in the inbox (applied or rejected).
    async fn applied_event_ids(&self, event_ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError>;

    /// The stored accounts among `ids`, with their versions.
    async fn load_accounts(&self, ids: &[AccountId]) -> Result<LoadedAccounts, StoreError>;

    async fn account(&self, id: &AccountId) -> Result<Option<StoredAccount>, StoreError>;

    /// One account's transactions, newest (last applied) first.
    async fn transactions(
        &self,
        account_id: &AccountId,
        limit: TransactionLimit,
    ) -> Result<Vec<LedgerTransaction>, StoreError>;

    /// A client's accounts, by account id.
    async fn accounts_of_client(
        &self,
        client_id: &ClientId,
    ) -> Result<Vec<StoredAccount>, StoreError>;

    /// Every account's stored balance.
    async fn all_balances(&self) -> Result<BTreeMap<AccountId, Money>, StoreError>;

    /// Every account's totals recomputed from the transactions table (accounts with no
    /// transaction are absent).
    async fn recompute_balances_from_transactions(
        &self,
    ) -> Result<BTreeMap<AccountId, AccountTotals>, StoreError>;

    /// The stored positions of consumer group `group`.
    async fn positions(&self, group: &str) -> Result<Vec<Position>, StoreError>;

    /// Up to `limit` unpublished outbox messages, oldest first.
    async fn pending_outbox(&self, limit: u32) -> Result<Vec<PendingOutbox>, StoreError>;

    /// Removes published outbox messages.
    async fn delete_outbox(&self, ids: &[i64]) -> Result<(), StoreError>;

    async fn counts(&self) -> Result<LedgerCounts, StoreError>;

    /// Every inbox record, in the order the ledger decided the events.
    async fn decided_events(&self) -> Result<Vec<DecidedEvent>, StoreError>;

    /// Transaction totals per kind and currency (conservation checks).
    async fn transaction_sums(&self) -> Result<Vec<TransactionSum>, StoreError>;

    /// Succeeds when the database answers a trivial query.
    async fn health(&self) -> Result<(), StoreError>;
}

/// Encodes headers as `count:u32` then `(name_len:u32, name, value_len:u32, value)*`, all
/// big-endian: a stable, dependency-free form for the outbox's `headers` column.
pub(crate) fn encode_headers(headers: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(
        4 + headers
            .iter()
            .map(|(n, v)| 8 + n.len() + v.len())
            .sum::<usize>(),
    );
    out.extend_from_slice(&(headers.len() as u32).to_be_bytes());
    for (name, value) in headers {
        out.extend_from_slice(&(name.len() as u32).to_be_bytes());
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value);
    }
    out
}

pub(crate) fn decode_headers(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
    fn corrupt() -> StoreError {
        StoreError::Corrupt {
            table: "outbox",
            reason: "truncated headers".to_owned(),
        }
    }
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Result<&'a [u8], StoreError> {
        if bytes.len() < n {
            return Err(corrupt());
        }
        let (head, rest) = bytes.split_at(n);
        *bytes = rest;
        Ok(head)
    }
    fn take_u32(bytes: &mut &[u8]) -> Result<usize, StoreError> {
        let raw = take(bytes, 4)?;
        Ok(u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize)
    }
    let mut rest = bytes;
    let count = take_u32(&mut rest)?;
    let mut headers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let name_len = take_u32(&mut rest)?;
        let name = String::from_utf8(take(&mut rest, name_len)?.to_vec()).map_err(|_| corrupt())?;
        let value_len = take_u32(&mut rest)?;
        headers.push((name, take(&mut rest, value_len)?.to_vec()));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_round_trip() {
        let headers = vec![
            ("event_id".to_owned(), b"abc".to_vec()),
            ("empty".to_owned(), Vec::new()),
        ];
        assert_eq!(decode_headers(&encode_headers(&headers)).unwrap(), headers);
        assert!(decode_headers(&[0, 0, 0, 1, 0]).is_err());
    }

    #[test]
    fn limit_range() {
        assert!(TransactionLimit::parse(0).is_err());
        assert!(TransactionLimit::parse(1001).is_err());
        assert_eq!(TransactionLimit::parse(1000).unwrap().get(), 1000);
        assert_eq!(TransactionLimit::default().get(), 10);
    }
}
