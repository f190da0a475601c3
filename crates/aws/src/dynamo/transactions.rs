//! S0's store on DynamoDB: the same [`TransactionStore`] as SQLite and PostgreSQL, on four
//! tables (all keyed by one string):
//!
//! | table | key | item |
//! |---|---|---|
//! | `edalab-transactions` | `id` | a transaction: fields, `status`, `processedAt`, `error` |
//! | `edalab-transaction-totals` | `currency` | `count` (N) and `total` (S, scale 2) |
//! | `edalab-transaction-effects` | `id` | an effect's inbox entry, by position and by event id |
//! | `edalab-transaction-archive` | `file` | an archive file's `committedLen` (N) |
//!
//! An effect is recorded with its inbox entries in one `TransactWriteItems` whose puts are
//! conditional (`attribute_not_exists`): a second delivery cancels the transaction and
//! nothing is applied twice. A running total is updated under a condition on the `count`
//! it was read with (totals only grow, so the count names the version); a concurrent update
//! cancels it and the read is retried.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};
use chrono::{DateTime, Utc};
use edalab_bus::runtime::AppliedId;
use edalab_domain::events::transactions::{QueuedTransaction, TransactionProcessed};
use edalab_services::transactions::store::{
    CurrencyTotal, Effect, StoreError, TransactionStore, TransactionView, new_total,
};
use rust_decimal::Decimal;

use super::{TableSpec, ensure_tables, failure, text, written};

/// S0's transactions, one item per `transactionId`.
pub const TRANSACTIONS_TABLE: &str = "edalab-transactions";
/// S0-05's running totals, one item per currency.
pub const TOTALS_TABLE: &str = "edalab-transaction-totals";
/// The S0-05 effects' inboxes.
pub const EFFECTS_TABLE: &str = "edalab-transaction-effects";
/// The archive files' committed lengths.
pub const ARCHIVE_TABLE: &str = "edalab-transaction-archive";

/// How many times a total's update is tried again after a concurrent one, each after a
/// random pause of up to [`TOTAL_PAUSE_MAX_MS`] times the try's number.
const TOTAL_TRIES: u64 = 32;
const TOTAL_PAUSE_MAX_MS: u64 = 20;

/// The tables of S0.
pub fn transaction_tables() -> [TableSpec; 4] {
    let table = |name, key| TableSpec {
        name,
        partition_key: key,
        sort_key: None,
    };
    [
        table(TRANSACTIONS_TABLE, "id"),
        table(TOTALS_TABLE, "currency"),
        table(EFFECTS_TABLE, "id"),
        table(ARCHIVE_TABLE, "file"),
    ]
}

/// [`TransactionStore`] on the tables of [`transaction_tables`].
#[derive(Clone)]
pub struct DynamoTransactionStore {
    client: aws_sdk_dynamodb::Client,
}

impl DynamoTransactionStore {
    /// Ensures the tables, then answers the store.
    pub async fn open(client: aws_sdk_dynamodb::Client) -> Result<Self, String> {
        ensure_tables(&client, &transaction_tables()).await?;
        Ok(Self { client })
    }

    async fn item(
        &self,
        table: &str,
        key: &str,
        value: &str,
    ) -> Result<Option<HashMap<String, AttributeValue>>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .key(key, text(value))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::new(failure("GetItem", table, e)))?;
        Ok(out.item)
    }

    /// Writes `inbox` entries of `effect` for `id` and `extra`, all or nothing: `false` when
    /// an entry exists (applied before), checked again after a cancellation, so that a
    /// cancellation for another reason is retried by the caller rather than taken for one.
    async fn write_once(
        &self,
        effect: Effect,
        id: &AppliedId,
        extra: Vec<TransactWriteItem>,
    ) -> Result<Written, StoreError> {
        let mut items = inbox_puts(effect, id)?;
        items.extend(extra);
        let sent = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match sent {
            Ok(_) => Ok(Written::Now),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception()) =>
            {
                if self.effect_applied(effect, id).await? {
                    Ok(Written::Before)
                } else {
                    Ok(Written::Conflict(failure(
                        "TransactWriteItems",
                        EFFECTS_TABLE,
                        e,
                    )))
                }
            }
            Err(e) => Err(StoreError::new(failure(
                "TransactWriteItems",
                EFFECTS_TABLE,
                e,
            ))),
        }
    }

    /// The currency's `(count, total)`, zero when it has none yet.
    async fn total(&self, currency: &str) -> Result<(u64, Decimal), StoreError> {
        let Some(item) = self.item(TOTALS_TABLE, "currency", currency).await? else {
            return Ok((0, Decimal::ZERO));
        };
        Ok((count_of(&item)?, total_of(currency, &item)?))
    }
}

/// The outcome of [`DynamoTransactionStore::write_once`].
enum Written {
    Now,
    Before,
    /// Cancelled although the effect is not recorded: a condition of the extra items.
    Conflict(String),
}

#[async_trait]
impl TransactionStore for DynamoTransactionStore {
    async fn insert_pending(&self, q: &QueuedTransaction) -> Result<(), StoreError> {
        let item = HashMap::from([
            ("id".to_owned(), text(&q.transaction_id)),
            ("amount".to_owned(), text(&q.amount.to_string())),
            ("currency".to_owned(), text(&q.currency)),
            ("accountFrom".to_owned(), text(&q.account_from)),
            ("accountTo".to_owned(), text(&q.account_to)),
            ("timestamp".to_owned(), text(&millis(q.timestamp))),
            ("status".to_owned(), text("PENDING")),
        ]);
        self.client
            .put_item()
            .table_name(TRANSACTIONS_TABLE)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map_err(|e| StoreError::new(failure("PutItem", TRANSACTIONS_TABLE, e)))?;
        Ok(())
    }

    async fn mark_processed(&self, id: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
        self.client
            .update_item()
            .table_name(TRANSACTIONS_TABLE)
            .key("id", text(id))
            .update_expression("SET #status = :processed, processedAt = :at REMOVE #error")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":processed", text("PROCESSED"))
            .expression_attribute_values(":at", text(&millis(at)))
            .send()
            .await
            .map_err(|e| StoreError::new(failure("UpdateItem", TRANSACTIONS_TABLE, e)))?;
        Ok(())
    }

    async fn mark_failed(&self, id: &str, error: &str) -> Result<(), StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(TRANSACTIONS_TABLE)
            .key("id", text(id))
            .update_expression("SET #status = :failed, #error = :error")
            .condition_expression("attribute_not_exists(id) OR #status <> :processed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":failed", text("FAILED"))
            .expression_attribute_values(":error", text(error))
            .expression_attribute_values(":processed", text("PROCESSED"))
            .send()
            .await;
        // Already PROCESSED: a failure seen late changes nothing.
        written(updated, "UpdateItem", TRANSACTIONS_TABLE).map_err(StoreError::new)?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<TransactionView>, StoreError> {
        let item = self.item(TRANSACTIONS_TABLE, "id", id).await?;
        item.map(|item| view(id, &item)).transpose()
    }

    async fn apply_to_totals(
        &self,
        id: &AppliedId,
        event: &TransactionProcessed,
    ) -> Result<bool, StoreError> {
        let mut last = String::new();
        for tried in 0..TOTAL_TRIES {
            if tried > 0 {
                let pause = rand::random::<u64>() % (TOTAL_PAUSE_MAX_MS * tried.min(8));
                tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
            }
            let (count, current) = self.total(&event.currency).await?;
            let total = new_total(current, event)?;
            let update = total_update(&event.currency, count, total)?;
            match self.write_once(Effect::Analytics, id, vec![update]).await? {
                Written::Now => return Ok(true),
                Written::Before => return Ok(false),
                Written::Conflict(reason) => last = reason,
            }
        }
        Err(StoreError::new(format!(
            "{} total still updated concurrently after {TOTAL_TRIES} tries: {last}",
            event.currency
        )))
    }

    async fn totals(&self) -> Result<Vec<CurrencyTotal>, StoreError> {
        let mut totals = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(TOTALS_TABLE)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::new(failure("Scan", TOTALS_TABLE, e)))?;
            for item in page.items() {
                totals.push(currency_total(item)?);
            }
            start = page.last_evaluated_key;
            if start.is_none() {
                break;
            }
        }
        totals.sort_by(|a, b| a.currency.cmp(&b.currency));
        Ok(totals)
    }

    async fn effect_applied(&self, effect: Effect, id: &AppliedId) -> Result<bool, StoreError> {
        for key in inbox_keys(effect, id) {
            if self.item(EFFECTS_TABLE, "id", &key).await?.is_some() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    async fn record_effect(&self, effect: Effect, id: &AppliedId) -> Result<bool, StoreError> {
        match self.write_once(effect, id, Vec::new()).await? {
            Written::Now => Ok(true),
            Written::Before => Ok(false),
            Written::Conflict(reason) => Err(StoreError::new(reason)),
        }
    }

    async fn archive_committed_len(&self, file: &str, current_len: u64) -> Result<u64, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(ARCHIVE_TABLE)
            .item("file", text(file))
            .item("committedLen", AttributeValue::N(current_len.to_string()))
            .condition_expression("attribute_not_exists(#file)")
            .expression_attribute_names("#file", "file")
            .send()
            .await;
        if written(put, "PutItem", ARCHIVE_TABLE).map_err(StoreError::new)? {
            return Ok(current_len);
        }
        let item = self.item(ARCHIVE_TABLE, "file", file).await?;
        let item =
            item.ok_or_else(|| StoreError::new(format!("{ARCHIVE_TABLE}: `{file}` vanished")))?;
        number(&item, "committedLen", file)
    }

    async fn record_archived(
        &self,
        id: &AppliedId,
        file: &str,
        committed_len: u64,
    ) -> Result<bool, StoreError> {
        let put = Put::builder()
            .table_name(ARCHIVE_TABLE)
            .item("file", text(file))
            .item("committedLen", AttributeValue::N(committed_len.to_string()))
            .build()
            .map_err(|e| StoreError::new(format!("{ARCHIVE_TABLE} put: {e}")))?;
        let extra = vec![TransactWriteItem::builder().put(put).build()];
        match self.write_once(Effect::Archive, id, extra).await? {
            Written::Now => Ok(true),
            Written::Before => Ok(false),
            Written::Conflict(reason) => Err(StoreError::new(reason)),
        }
    }
}

/// The inbox keys of `id` for `effect`: its position, and its event id when it has one.
fn inbox_keys(effect: Effect, id: &AppliedId) -> Vec<String> {
    let effect = effect.as_str();
    let mut keys = vec![format!(
        "{effect}|position|{}|{}|{}|{}",
        id.group, id.topic, id.partition, id.offset
    )];
    if let Some(event_id) = &id.event_id {
        keys.push(format!("{effect}|event|{event_id}"));
    }
    keys
}

/// Conditional puts of `id`'s inbox entries for `effect`.
fn inbox_puts(effect: Effect, id: &AppliedId) -> Result<Vec<TransactWriteItem>, StoreError> {
    inbox_keys(effect, id)
        .into_iter()
        .map(|key| {
            Put::builder()
                .table_name(EFFECTS_TABLE)
                .item("id", text(&key))
                .condition_expression("attribute_not_exists(id)")
                .build()
                .map(|put| TransactWriteItem::builder().put(put).build())
                .map_err(|e| StoreError::new(format!("{EFFECTS_TABLE} put: {e}")))
        })
        .collect()
}

/// Sets the currency's total, if its count is still `count` (or it has none when 0).
fn total_update(
    currency: &str,
    count: u64,
    total: Decimal,
) -> Result<TransactWriteItem, StoreError> {
    let condition = if count == 0 {
        "attribute_not_exists(currency)"
    } else {
        "#count = :count"
    };
    let mut update = Update::builder()
        .table_name(TOTALS_TABLE)
        .key("currency", text(currency))
        .update_expression("SET #count = :next, #total = :total")
        .condition_expression(condition)
        .expression_attribute_names("#count", "count")
        .expression_attribute_names("#total", "total")
        .expression_attribute_values(":next", AttributeValue::N((count + 1).to_string()))
        .expression_attribute_values(":total", text(&total.to_string()));
    if count > 0 {
        update = update.expression_attribute_values(":count", AttributeValue::N(count.to_string()));
    }
    let update = update
        .build()
        .map_err(|e| StoreError::new(format!("{TOTALS_TABLE} update: {e}")))?;
    Ok(TransactWriteItem::builder().update(update).build())
}

fn currency_total(item: &HashMap<String, AttributeValue>) -> Result<CurrencyTotal, StoreError> {
    let currency = string(item, "currency")
        .ok_or_else(|| StoreError::new(format!("{TOTALS_TABLE}: an item without `currency`")))?;
    Ok(CurrencyTotal {
        count: count_of(item)?,
        total: total_of(&currency, item)?.to_string(),
        currency,
    })
}

fn count_of(item: &HashMap<String, AttributeValue>) -> Result<u64, StoreError> {
    let currency = string(item, "currency").unwrap_or_default();
    number(item, "count", &currency)
}

fn total_of(currency: &str, item: &HashMap<String, AttributeValue>) -> Result<Decimal, StoreError> {
    let total = string(item, "total").unwrap_or_default();
    total
        .parse()
        .map_err(|e| StoreError::new(format!("{TOTALS_TABLE} {currency}: total `{total}`: {e}")))
}

/// A whole number attribute (DynamoDB's `N`).
fn number(
    item: &HashMap<String, AttributeValue>,
    name: &str,
    key: &str,
) -> Result<u64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::new(format!("item `{key}`: no whole number `{name}`")))
}

fn string(item: &HashMap<String, AttributeValue>, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

fn view(id: &str, item: &HashMap<String, AttributeValue>) -> Result<TransactionView, StoreError> {
    let status = string(item, "status")
        .ok_or_else(|| StoreError::new(format!("{TRANSACTIONS_TABLE} item {id}: no `status`")))?;
    Ok(TransactionView {
        transaction_id: id.to_owned(),
        amount: string(item, "amount").and_then(|a| serde_json::from_str(&a).ok()),
        currency: string(item, "currency"),
        account_from: string(item, "accountFrom"),
        account_to: string(item, "accountTo"),
        timestamp: string(item, "timestamp"),
        status,
        processed_at: string(item, "processedAt"),
        error: string(item, "error"),
    })
}

fn millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
