//! The exactly-once hook: effects applied once although the bus delivers at least
//! once.
//!
//! The handler opens one store transaction per message or per batch and, in it, asks the
//! [`Inbox`] whether the message was already applied, applies its state change (and writes
//! its outbox rows), records the message as applied, then commits. Because the record and
//! the effect commit together, a redelivery — after a crash between the store commit and the
//! bus commit, after a rebalance, after a redrive — finds the record and is skipped:
//! [`apply_once`] returns [`Applied::Already`] and the handler answers `Done`.
//!
//! A message is recognised by its position `(group, topic, partition, offset)` and, when it
//! carries one, by its `event_id` header (so a producer retry that wrote the same event at
//! another offset is also skipped). The position alone is not a "max offset" check: the
//! runtime finishes messages of a partition out of order (other keys flow past one under
//! retry), so the inbox keeps the applied positions themselves.
//!
//! Where the bus keeps no position of its own (SQS) or the store should be authoritative,
//! a [`PositionStore`] gives the runtime a position to seek to on assignment; the runtime
//! saves its committed watermark there (a lower bound of unfinished work), and the inbox
//! makes the re-read of anything between harmless.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::port::{Message, TopicPartition, headers};

/// Errors of a store, boxed: the runtime does not know the store's error type.
pub type StoreError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What identifies an applied message for the inbox.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AppliedId {
    pub group: String,
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    /// The `event_id` header, when present and UTF-8.
    pub event_id: Option<String>,
}

impl AppliedId {
    pub fn of(group: &str, message: &Message) -> Self {
        Self {
            group: group.to_owned(),
            topic: message.topic.to_string(),
            partition: message.partition,
            offset: message.offset,
            event_id: message
                .header(headers::EVENT_ID)
                .and_then(|v| std::str::from_utf8(v).ok())
                .map(str::to_owned),
        }
    }
}

/// The inbox a store implements over its own transaction type `Tx` (e.g.
/// `rusqlite::Transaction`, `sqlx::Transaction`). Synchronous on purpose: a transaction is
/// usually not `Send` (rusqlite) and is driven inside `spawn_blocking`.
pub trait Inbox<Tx: ?Sized> {
    type Error;
    /// Whether `id` (by position, or by `event_id` when present) was recorded in a committed
    /// transaction, as seen from `tx`.
    fn already_applied(&self, tx: &mut Tx, id: &AppliedId) -> Result<bool, Self::Error>;
    /// Records `id` as applied; becomes visible when `tx` commits.
    fn record_applied(&self, tx: &mut Tx, id: &AppliedId) -> Result<(), Self::Error>;
}

/// What [`apply_once`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Applied<T> {
    /// The effect ran in `tx` and the message is recorded; commit `tx` to make both durable.
    Now(T),
    /// Already applied by an earlier delivery: nothing ran.
    Already,
}

/// Within the caller's transaction `tx`: skips `id` if already applied, otherwise runs
/// `apply` and records `id`. The caller commits `tx` (or rolls it back on error).
pub fn apply_once<Tx: ?Sized, I: Inbox<Tx>, T>(
    inbox: &I,
    tx: &mut Tx,
    id: &AppliedId,
    apply: impl FnOnce(&mut Tx) -> Result<T, I::Error>,
) -> Result<Applied<T>, I::Error> {
    if inbox.already_applied(tx, id)? {
        return Ok(Applied::Already);
    }
    let value = apply(tx)?;
    inbox.record_applied(tx, id)?;
    Ok(Applied::Now(value))
}

/// A position kept in the application's store, read when a partition is assigned (the
/// runtime seeks there) and written with each commit of the runtime's watermark.
#[async_trait]
pub trait PositionStore: Send + Sync {
    /// The offset to resume `partition` from, if the store has one.
    async fn load_position(
        &self,
        group: &str,
        partition: &TopicPartition,
    ) -> Result<Option<u64>, StoreError>;
    /// Saves watermarks: every message below each offset is finished.
    async fn save_positions(
        &self,
        group: &str,
        positions: &BTreeMap<TopicPartition, u64>,
    ) -> Result<(), StoreError>;
}
