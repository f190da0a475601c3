//! The S0-05 consumers of `transactions-events` (group `transaction-processors`), one
//! handler doing the seed's three jobs per event. The bus delivers at least once (a crash
//! between an effect and the group commit, a rebalance, a redrive, a replay from an older
//! position, the processor publishing the same `transactionId` twice), so each effect has
//! its own inbox in the pipeline's store (`transactions.sqlite` or PostgreSQL's
//! `s0_effects_applied`) — the runtime's exactly-once hook ([`edalab_bus::runtime::Inbox`],
//! keyed by position and by `transactionId`):
//!
//! | effect | guarantee |
//! |---|---|
//! | analytics: the running total of its currency | **exactly once**: the total and the inbox row commit in one store transaction |
//! | archive ([`super::archive`]): a line in `<data>/archive/transactions-YYYY-MM-DD.jsonl` (dated by `processedAt`), or on the `aws` profile an S3 object per transaction | **exactly once** in the file: the inbox row and the file's committed length commit together after the line is fsynced; an append whose row never committed (crash) is cut before the next append, so a redelivery writes it once (S3: the object's key is the transaction's, so a second put rewrites the same bytes) |
//! | notification to `notifications` (`TRANSACTION_PROCESSED`, the debit side) | **once per delivery that finds no inbox row**: recorded after the produce is acknowledged, so a redelivery publishes nothing; only a crash between the produce and that record publishes it again, with the same `notificationId` (UUID v5 of the `transactionId`, also the `event_id` header) for consumers to drop |
//!
//! A bus produce cannot join a store transaction, hence the one at-least-once window; the
//! file can, through its committed length.

use std::io::{Seek, SeekFrom, Write};
use std::path::Path;

use async_trait::async_trait;
use edalab_bus::runtime::{AppliedId, Handler, Outcome};
use edalab_bus::{Message, Record};
use edalab_domain::events::topics;
use edalab_domain::events::transactions::{
    NotificationKind, TransactionNotification, TransactionProcessed,
};
use edalab_telemetry::store_span;
use tracing::Instrument;

use super::store::{Effect, TransactionStore};
use super::{CONSUMERS_GROUP, Counters, SERVICE, TransactionsState};

/// Namespace of the notification ids (UUID v5 of `notification:<transactionId>`).
const NOTIFICATION_NAMESPACE: uuid::Uuid =
    uuid::Uuid::from_u128(0x6d2c_1e0a_5b7f_4c1e_9a43_1f0e_2d6b_8c57);

/// The id of the notification of `transaction_id`: the same on every delivery.
pub(super) fn notification_id(transaction_id: &str) -> uuid::Uuid {
    uuid::Uuid::new_v5(
        &NOTIFICATION_NAMESPACE,
        format!("notification:{transaction_id}").as_bytes(),
    )
}

/// The account holder's notification of a processed transaction, keyed by the account, with
/// its stable id as the event id (the S0-05 consumer and the S0-08 workflow send the same).
pub(super) fn notification_record(
    event: &TransactionProcessed,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Record, String> {
    let notification_id = notification_id(&event.transaction_id);
    let notification = TransactionNotification {
        notification_id,
        kind: NotificationKind::TransactionProcessed,
        transaction_id: event.transaction_id.clone(),
        account_id: event.account_from.clone(),
        amount: event.amount,
        currency: event.currency.clone(),
        message: format!(
            "Transaction {} of {} {} to {} processed",
            event.transaction_id, event.amount, event.currency, event.account_to
        ),
        timestamp: now,
    };
    let body = serde_json::to_vec(&notification)
        .map_err(|e| format!("cannot encode the notification: {e}"))?;
    Ok(
        Record::new(Some(event.account_from.clone().into_bytes()), body)
            .with_header(
                edalab_bus::port::headers::EVENT_ID,
                notification_id.to_string(),
            )
            .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json"),
    )
}

/// The archive file of an event: `transactions-YYYY-MM-DD.jsonl`, by `processedAt`.
pub(super) fn archive_file_name(event: &TransactionProcessed) -> String {
    format!(
        "transactions-{}.jsonl",
        event.processed_at.format("%Y-%m-%d")
    )
}

pub(super) struct EventConsumers {
    state: TransactionsState,
}

impl EventConsumers {
    pub(super) fn new(state: TransactionsState) -> Self {
        Self { state }
    }

    async fn notify(&self, id: &AppliedId, event: &TransactionProcessed) -> Result<(), Outcome> {
        let store = &self.state.store;
        match store.effect_applied(Effect::Notification, id).await {
            Ok(true) => return Ok(()),
            Ok(false) => {}
            Err(e) => return Err(Outcome::retry(e.to_string())),
        }
        let record = notification_record(event, self.state.clock.now()).map_err(Outcome::reject)?;
        self.state
            .bus
            .produce(topics::NOTIFICATIONS, vec![record])
            .await
            .map_err(|e| Outcome::retry(format!("publishing the notification: {e}")))?;
        match store
            .record_effect(Effect::Notification, id)
            .instrument(store_span(SERVICE, "record_effect"))
            .await
        {
            Ok(true) => Counters::inc(&self.state.counters.notifications_total),
            Ok(false) => {}
            Err(e) => return Err(Outcome::retry(e.to_string())),
        }
        Ok(())
    }
}

/// Appends `line` to `dir/file_name` once per `id` (the archive effect, see the module doc):
/// skip if archived; cut the file back to its committed length (an append whose record never
/// committed); write and fsync the line; record `id` with the new committed length. `true`
/// if the line was written now. The file work runs on the blocking threads.
pub(super) async fn archive_once(
    store: &dyn TransactionStore,
    id: &AppliedId,
    dir: &Path,
    file_name: &str,
    line: &[u8],
) -> Result<bool, String> {
    if super::archive::archived(store, id).await? {
        return Ok(false);
    }
    let path = dir.join(file_name);
    let (file, len) = {
        let dir = dir.to_owned();
        let path = path.clone();
        blocking(move || open_archive(&dir, &path)).await?
    };
    let committed = store
        .archive_committed_len(file_name, len)
        .await
        .map_err(|e| e.to_string())?;
    if len < committed {
        // Shortened by hand since: take what is there as committed.
        tracing::warn!(file = %path.display(), len, committed, "archive file shorter than recorded");
    }
    let start = len.min(committed);
    let mut text = Vec::with_capacity(line.len() + 1);
    text.extend_from_slice(line);
    text.push(b'\n');
    let end = blocking(move || append_at(file, &path, len, start, &text)).await?;
    store
        .record_archived(id, file_name, end)
        .await
        .map_err(|e| e.to_string())
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, String> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| format!("archive task: {e}"))?
}

/// Opens (creating) the archive file at `path` in `dir`; answers it with its length.
fn open_archive(dir: &Path, path: &Path) -> Result<(std::fs::File, u64), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    Ok((file, len))
}

/// Cuts `file` (now `len` bytes) back to `start`, writes `text` there and fsyncs; answers
/// the new end.
fn append_at(
    mut file: std::fs::File,
    path: &Path,
    len: u64,
    start: u64,
    text: &[u8],
) -> Result<u64, String> {
    let io = |e: std::io::Error| format!("{}: {e}", path.display());
    if len > start {
        file.set_len(start).map_err(io)?;
    }
    file.seek(SeekFrom::Start(start)).map_err(io)?;
    file.write_all(text).map_err(io)?;
    file.sync_data().map_err(io)?;
    Ok(start + u64::try_from(text.len()).unwrap_or(u64::MAX))
}

#[async_trait]
impl Handler for EventConsumers {
    async fn handle(&self, message: &Message) -> Outcome {
        let event: TransactionProcessed = match serde_json::from_slice(&message.value) {
            Ok(event) => event,
            Err(e) => return Outcome::reject(format!("not a TransactionProcessed: {e}")),
        };
        // Recognised by position and by transactionId, whatever the message's headers say.
        let mut id = AppliedId::of(CONSUMERS_GROUP, message);
        id.event_id = Some(event.transaction_id.clone());

        let archived = self
            .state
            .archive
            .archive_once(self.state.store.as_ref(), &id, &event, &message.value)
            .await;
        match archived {
            Ok(true) => Counters::inc(&self.state.counters.archived_total),
            Ok(false) => {}
            Err(e) => return Outcome::retry(format!("archiving: {e}")),
        }

        if let Err(outcome) = self.notify(&id, &event).await {
            return outcome;
        }

        match self
            .state
            .store
            .apply_to_totals(&id, &event)
            .instrument(store_span(SERVICE, "apply_to_totals"))
            .await
        {
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::retry(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::transactions::SqliteTransactionStore;

    fn id(offset: u64, transaction_id: &str) -> AppliedId {
        AppliedId {
            group: CONSUMERS_GROUP.to_owned(),
            topic: topics::TRANSACTIONS_EVENTS.to_owned(),
            partition: 0,
            offset,
            event_id: Some(transaction_id.to_owned()),
        }
    }

    #[tokio::test]
    async fn an_append_cut_short_by_a_crash_is_replaced_not_duplicated() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteTransactionStore::open(dir.path()).expect("store");
        append_cut_short_by_a_crash(&store, dir.path()).await;
    }

    #[tokio::test]
    async fn on_postgres_an_append_cut_short_by_a_crash_is_replaced_not_duplicated() {
        let Some(url) = crate::pipeline::stores::testing::postgres_url(
            "on_postgres_an_append_cut_short_by_a_crash_is_replaced_not_duplicated",
        ) else {
            return;
        };
        let (_database, stores) = crate::pipeline::stores::testing::fresh_stores(&url).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let store = crate::transactions::PgTransactionStore::new(stores.pool().clone());
        append_cut_short_by_a_crash(&store, dir.path()).await;
        stores.close().await;
    }

    async fn append_cut_short_by_a_crash(store: &dyn TransactionStore, dir: &Path) {
        let archive = dir.join("archive");
        let file = "transactions-2026-02-06.jsonl";

        assert_eq!(
            archive_once(store, &id(0, "txn-a"), &archive, file, b"{\"a\":1}").await,
            Ok(true)
        );
        // A second delivery of the same event (same position, or same id elsewhere).
        assert_eq!(
            archive_once(store, &id(0, "txn-a"), &archive, file, b"{\"a\":1}").await,
            Ok(false)
        );
        assert_eq!(
            archive_once(store, &id(7, "txn-a"), &archive, file, b"{\"a\":1}").await,
            Ok(false)
        );
        // A crash after writing txn-b's line (whole, then half of another) but before its
        // record committed: the bytes are in the file, the store does not know them.
        let path = archive.join(file);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .expect("open");
        f.write_all(b"{\"b\":2}\n{\"b\"").expect("write");
        drop(f);
        // The redelivery of txn-b writes it once, over the uncommitted bytes.
        assert_eq!(
            archive_once(store, &id(1, "txn-b"), &archive, file, b"{\"b\":2}").await,
            Ok(true)
        );
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "{\"a\":1}\n{\"b\":2}\n"
        );
    }

    #[test]
    fn the_notification_id_is_stable_per_transaction() {
        assert_eq!(notification_id("txn-1"), notification_id("txn-1"));
        assert_ne!(notification_id("txn-1"), notification_id("txn-2"));
        assert_eq!(notification_id("txn-1").get_version_num(), 5);
    }
}
