//! Where S0-05 archives processed transactions: a port, so that the archive is a dated file
//! of the data directory by default ([`FolderArchive`]) and an S3 bucket on the `aws`
//! profile (`edalab_aws::s3_archive`). Either way each transaction is archived **exactly
//! once**, recognised by position and by `transactionId` through the store's
//! [`Effect::Archive`](super::store::Effect::Archive) inbox.

use std::path::PathBuf;

use async_trait::async_trait;
use edalab_bus::runtime::AppliedId;
use edalab_domain::events::transactions::TransactionProcessed;

use super::consumers::{archive_file_name, archive_once};
use super::store::{Effect, TransactionStore};

/// Whether `store`'s archive inbox holds `id` (archived already).
pub async fn archived(store: &dyn TransactionStore, id: &AppliedId) -> Result<bool, String> {
    store
        .effect_applied(Effect::Archive, id)
        .await
        .map_err(|e| e.to_string())
}

/// Where processed transactions are archived.
#[async_trait]
pub trait TransactionArchive: Send + Sync {
    /// Archives `event` (its JSON text `line`) unless `store`'s archive inbox holds `id`;
    /// `true` if it was archived now.
    async fn archive_once(
        &self,
        store: &dyn TransactionStore,
        id: &AppliedId,
        event: &TransactionProcessed,
        line: &[u8],
    ) -> Result<bool, String>;
    /// Where it archives, for the banner (`a folder`, `s3://bucket/prefix`).
    fn describe(&self) -> String;
}

/// One line per transaction in `<dir>/transactions-YYYY-MM-DD.jsonl` (dated by
/// `processedAt`); see `consumers` for how a crash mid-append is undone.
pub struct FolderArchive {
    dir: PathBuf,
}

impl FolderArchive {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }
}

#[async_trait]
impl TransactionArchive for FolderArchive {
    async fn archive_once(
        &self,
        store: &dyn TransactionStore,
        id: &AppliedId,
        event: &TransactionProcessed,
        line: &[u8],
    ) -> Result<bool, String> {
        archive_once(store, id, &self.dir, &archive_file_name(event), line).await
    }

    fn describe(&self) -> String {
        self.dir.display().to_string()
    }
}
