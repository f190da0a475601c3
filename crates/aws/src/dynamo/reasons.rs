//! Why each SQS message was dead-lettered. SQS keeps no reason: its redrive policy moves a
//! message after `maxReceiveCount` receives, whatever happened. So the worker (in process)
//! and the Lambda record the handler's last reason in table `edalab-dead-letters`, one item
//! per `MessageId` (SQS keeps it when it moves a message to the DLQ), before the message's
//! last release; the DLQ listing (`GET /api/v1/dlq/{queue}/messages`) reads them back. A
//! record that cannot be written is logged, and the listing then says no reason was kept.

use std::collections::HashMap;
use std::time::{SystemTime, UNIX_EPOCH};

use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use edalab_bus::DeadLetter;

use super::{TableSpec, ensure_tables, failure, text};

/// The table of failure reasons.
pub const DEAD_LETTERS_TABLE: &str = "edalab-dead-letters";

/// Most keys one `BatchGetItem` takes.
const BATCH_GET_MAX: usize = 100;
/// Most `BatchGetItem` calls per chunk (the first, then those for unprocessed keys).
const BATCH_GET_ROUNDS_MAX: usize = 5;
/// How long a reason is worth keeping: an SQS DLQ keeps messages 14 days at most.
const KEPT_SECONDS: u64 = 14 * 24 * 3600;

/// The reasons' table.
pub fn reason_tables() -> [TableSpec; 1] {
    [TableSpec {
        name: DEAD_LETTERS_TABLE,
        partition_key: "message_id",
        sort_key: None,
    }]
}

/// Why one message was dead-lettered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reason {
    /// The queue it failed on.
    pub queue: String,
    pub reason: String,
    /// Receives it failed.
    pub attempts: u32,
    /// When the handler gave up, epoch milliseconds.
    pub failed_at_ms: i64,
}

/// Records and reads [`Reason`]s on [`DEAD_LETTERS_TABLE`].
#[derive(Clone)]
pub struct DeadLetterReasons {
    client: aws_sdk_dynamodb::Client,
}

impl DeadLetterReasons {
    /// Ensures the table, then answers.
    pub async fn open(client: aws_sdk_dynamodb::Client) -> Result<Self, String> {
        ensure_tables(&client, &reason_tables()).await?;
        Ok(Self { client })
    }

    /// Records why `letter` is dead-lettered (nothing for a letter without `MessageId`).
    pub async fn record(&self, letter: &DeadLetter) -> Result<(), String> {
        let Some(message_id) = &letter.message_id else {
            return Ok(());
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let item = HashMap::from([
            ("message_id".to_owned(), text(message_id)),
            ("queue".to_owned(), text(&letter.queue)),
            ("reason".to_owned(), text(&letter.reason)),
            (
                "attempts".to_owned(),
                AttributeValue::N(letter.attempts.to_string()),
            ),
            (
                "failed_at_ms".to_owned(),
                AttributeValue::N(now.as_millis().to_string()),
            ),
            (
                "expires_at".to_owned(),
                AttributeValue::N((now.as_secs() + KEPT_SECONDS).to_string()),
            ),
        ]);
        self.client
            .put_item()
            .table_name(DEAD_LETTERS_TABLE)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| failure("PutItem", DEAD_LETTERS_TABLE, e))?;
        Ok(())
    }

    /// The reasons recorded for `message_ids` (those without one are absent).
    pub async fn reasons(&self, message_ids: &[String]) -> Result<HashMap<String, Reason>, String> {
        let mut found = HashMap::new();
        let mut unique = message_ids.to_vec();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(BATCH_GET_MAX) {
            let mut keys: Vec<_> = chunk
                .iter()
                .map(|id| HashMap::from([("message_id".to_owned(), text(id))]))
                .collect();
            // BatchGetItem may leave keys unprocessed; ask again for those, a few times.
            for round in 0..BATCH_GET_ROUNDS_MAX {
                if keys.is_empty() {
                    break;
                }
                if round > 0 {
                    tokio::time::sleep(std::time::Duration::from_millis(50 << round)).await;
                }
                let request = KeysAndAttributes::builder()
                    .set_keys(Some(keys))
                    .build()
                    .map_err(|e| format!("DynamoDB BatchGetItem on `{DEAD_LETTERS_TABLE}`: {e}"))?;
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(DEAD_LETTERS_TABLE, request)
                    .send()
                    .await
                    .map_err(|e| failure("BatchGetItem", DEAD_LETTERS_TABLE, e))?;
                for item in out
                    .responses()
                    .and_then(|r| r.get(DEAD_LETTERS_TABLE))
                    .into_iter()
                    .flatten()
                {
                    if let Some((id, reason)) = reason(item) {
                        found.insert(id, reason);
                    }
                }
                keys = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(DEAD_LETTERS_TABLE))
                    .map(|k| k.keys().to_vec())
                    .unwrap_or_default();
            }
        }
        Ok(found)
    }
}

fn reason(item: &HashMap<String, AttributeValue>) -> Option<(String, Reason)> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let number = |name: &str| item.get(name).and_then(|v| v.as_n().ok()).cloned();
    Some((
        text("message_id")?,
        Reason {
            queue: text("queue").unwrap_or_default(),
            reason: text("reason")?,
            attempts: number("attempts").and_then(|n| n.parse().ok()).unwrap_or(0),
            failed_at_ms: number("failed_at_ms")
                .and_then(|n| n.parse().ok())
                .unwrap_or(0),
        },
    ))
}
