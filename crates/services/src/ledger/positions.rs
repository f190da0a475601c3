//! The consumer runtime's [`PositionStore`] over the ledger store: the runtime's committed
//! watermark is kept in the ledger database (`positions` table), so on assignment the
//! consumer resumes from the store's own record, and the inbox makes any re-read harmless.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use edalab_bus::port::TopicPartition;
use edalab_bus::runtime::{PositionStore, StoreError as RuntimeStoreError};
use edalab_store::{AppliedBatch, LedgerStore, PositionUpdate};

/// [`PositionStore`] backed by a [`LedgerStore`].
pub struct LedgerPositions {
    store: Arc<dyn LedgerStore>,
}

impl LedgerPositions {
    pub fn new(store: Arc<dyn LedgerStore>) -> Self {
        Self { store }
    }
}

#[async_trait]
impl PositionStore for LedgerPositions {
    async fn load_position(
        &self,
        group: &str,
        partition: &TopicPartition,
    ) -> Result<Option<u64>, RuntimeStoreError> {
        let positions = self.store.positions(group).await?;
        Ok(positions
            .into_iter()
            .find(|p| p.topic == partition.topic && p.partition == partition.partition)
            .map(|p| p.next_offset))
    }

    async fn save_positions(
        &self,
        group: &str,
        positions: &BTreeMap<TopicPartition, u64>,
    ) -> Result<(), RuntimeStoreError> {
        let positions = positions
            .iter()
            .map(|(tp, offset)| PositionUpdate {
                group: group.to_owned(),
                topic: tp.topic.clone(),
                partition: tp.partition,
                next_offset: *offset,
            })
            .collect();
        self.store
            .apply_batch(AppliedBatch {
                positions,
                ..AppliedBatch::default()
            })
            .await?;
        Ok(())
    }
}
