//! S0-05's archive on S3 (seed 000, week 3: processed transactions archived to a bucket):
//! one object per transaction, `archive/transactions/YYYY-MM-DD/<transactionId>.json`
//! (dated by `processedAt`), its body the `transactions-events` message as it came.
//!
//! **Exactly once**: the store's archive inbox is checked first and written after the put;
//! a crash between the two makes the redelivery put the same key again with the same bytes,
//! so the bucket holds the transaction once.

use async_trait::async_trait;
use aws_sdk_s3::error::DisplayErrorContext;
use aws_sdk_s3::primitives::ByteStream;
use edalab_bus::runtime::AppliedId;
use edalab_domain::events::transactions::TransactionProcessed;
use edalab_services::transactions::TransactionArchive;
use edalab_services::transactions::archive::archived;
use edalab_services::transactions::store::{Effect, TransactionStore};

use crate::s3_intake::ensure_bucket;

/// The prefix of the archived transactions in the bucket.
pub const ARCHIVE_PREFIX: &str = "archive/transactions/";

/// The key of `event`'s object.
pub fn archive_key(event: &TransactionProcessed) -> String {
    format!(
        "{ARCHIVE_PREFIX}{}/{}.json",
        event.processed_at.format("%Y-%m-%d"),
        event.transaction_id
    )
}

/// [`TransactionArchive`] on bucket `bucket`.
pub struct S3TransactionArchive {
    s3: aws_sdk_s3::Client,
    bucket: String,
}

impl S3TransactionArchive {
    /// Ensures the bucket (created if missing), then answers.
    pub async fn open(s3: aws_sdk_s3::Client, bucket: &str) -> Result<Self, String> {
        ensure_bucket(&s3, bucket).await?;
        Ok(Self {
            s3,
            bucket: bucket.to_owned(),
        })
    }
}

#[async_trait]
impl TransactionArchive for S3TransactionArchive {
    async fn archive_once(
        &self,
        store: &dyn TransactionStore,
        id: &AppliedId,
        event: &TransactionProcessed,
        line: &[u8],
    ) -> Result<bool, String> {
        if archived(store, id).await? {
            return Ok(false);
        }
        let key = archive_key(event);
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(line.to_vec()))
            .send()
            .await
            .map_err(|e| {
                format!(
                    "S3 PutObject s3://{}/{key}: {}",
                    self.bucket,
                    DisplayErrorContext(e)
                )
            })?;
        store
            .record_effect(Effect::Archive, id)
            .await
            .map_err(|e| e.to_string())
    }

    fn describe(&self) -> String {
        format!("s3://{}/{ARCHIVE_PREFIX}", self.bucket)
    }
}
