//! Publishes the outbox: rejection events committed with the batch that refused them are
//! produced to the bus afterwards, oldest first, then deleted.
//!
//! At least once: a crash between the produce and the delete publishes them again. Each
//! rejection event has a stable `event_id` (derived from the refused event's), in its body
//! and its `event_id` header, so consumers dedup it.

use std::sync::Arc;
use std::time::Duration;

use edalab_bus::port::{BusError, Producer, Record};
use edalab_store::{LedgerStore, StoreError};
use tokio::sync::Notify;

/// Outbox rows read per round.
pub const OUTBOX_BATCH_SIZE_MAX: u32 = 500;

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

/// Moves outbox rows to the bus.
pub struct OutboxPublisher {
    store: Arc<dyn LedgerStore>,
    producer: Arc<dyn Producer>,
}

impl OutboxPublisher {
    pub fn new(store: Arc<dyn LedgerStore>, producer: Arc<dyn Producer>) -> Self {
        Self { store, producer }
    }

    /// Publishes up to [`OUTBOX_BATCH_SIZE_MAX`] pending messages; returns how many.
    pub async fn publish_once(&self) -> Result<usize, PublishError> {
        let pending = self.store.pending_outbox(OUTBOX_BATCH_SIZE_MAX).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        // One produce call per run of same-topic messages keeps the order.
        let mut start = 0;
        while start < pending.len() {
            let topic = &pending[start].message.topic;
            let end = pending[start..]
                .iter()
                .position(|p| &p.message.topic != topic)
                .map_or(pending.len(), |n| start + n);
            let records = pending[start..end]
                .iter()
                .map(|p| Record {
                    key: p.message.key.clone(),
                    value: p.message.payload.clone(),
                    headers: p.message.headers.clone(),
                    timestamp_ms: None,
                    partition: None,
                })
                .collect();
            self.producer.produce(topic, records).await?;
            start = end;
        }
        let ids: Vec<i64> = pending.iter().map(|p| p.id).collect();
        self.store.delete_outbox(&ids).await?;
        Ok(ids.len())
    }

    /// Publishes until `shutdown`, woken by `ready` or every `interval_ms`; errors are
    /// logged and retried at the next round. Publishes what is pending once more at the end.
    pub async fn run(
        self,
        ready: Arc<Notify>,
        interval_ms: u64,
        shutdown: impl std::future::Future<Output = ()> + Send,
    ) {
        tokio::pin!(shutdown);
        loop {
            loop {
                match self.publish_once().await {
                    Ok(n) if n as u32 == OUTBOX_BATCH_SIZE_MAX => continue,
                    Ok(_) => break,
                    Err(error) => {
                        tracing::warn!(%error, "ledger outbox: publish failed, will retry");
                        break;
                    }
                }
            }
            tokio::select! {
                _ = &mut shutdown => break,
                _ = ready.notified() => {}
                _ = tokio::time::sleep(Duration::from_millis(interval_ms)) => {}
            }
        }
        if let Err(error) = self.publish_once().await {
            tracing::warn!(%error, "ledger outbox: final publish failed");
        }
    }
}
