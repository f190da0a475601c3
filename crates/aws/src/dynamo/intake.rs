//! S2's store: table `tp-orders` (one item per `order_id`, `PROCESSED` or `REJECTED`) and
//! `tp-orders-duplicates` (`order_id`, `intake_id`), each written with `attribute_not_exists`,
//! so an order is recorded once and a repeated delivery of the same file adds nothing.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{DateTime, Utc};
use edalab_domain::order::OrderStatus;
use edalab_services::intake::IntakeStore;
use edalab_services::intake::store::{Recorded, RecordedOrder, StoreError};

use super::{TableSpec, ensure_tables, failure, text, written};

/// The seed's table of orders.
pub const ORDERS_TABLE: &str = "tp-orders";
/// The duplicates received after an order, under its `order_id`.
pub const DUPLICATES_TABLE: &str = "tp-orders-duplicates";

/// The two tables of S2.
pub fn intake_tables() -> [TableSpec; 2] {
    [
        TableSpec {
            name: ORDERS_TABLE,
            partition_key: "order_id",
            sort_key: None,
        },
        TableSpec {
            name: DUPLICATES_TABLE,
            partition_key: "order_id",
            sort_key: Some("intake_id"),
        },
    ]
}

/// [`IntakeStore`] on the two tables of [`intake_tables`] (ensure them first).
#[derive(Clone)]
pub struct DynamoIntakeStore {
    client: aws_sdk_dynamodb::Client,
}

/// Most duplicates [`IntakeStore::duplicates_of`] reads for one order.
const DUPLICATES_LISTED_MAX: usize = 1_000;

impl DynamoIntakeStore {
    /// Ensures both tables, then answers the store.
    pub async fn open(client: aws_sdk_dynamodb::Client) -> Result<Self, String> {
        ensure_tables(&client, &intake_tables()).await?;
        Ok(Self { client })
    }

    async fn put_once(
        &self,
        table: &str,
        key: &str,
        item: HashMap<String, AttributeValue>,
    ) -> Result<Recorded, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(format!("attribute_not_exists({key})"))
            .send()
            .await;
        match written(put, "PutItem", table).map_err(StoreError::new)? {
            true => Ok(Recorded::New),
            false => Ok(Recorded::Already),
        }
    }
}

#[async_trait]
impl IntakeStore for DynamoIntakeStore {
    async fn get(&self, order_id: &str) -> Result<Option<RecordedOrder>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(ORDERS_TABLE)
            .key("order_id", AttributeValue::S(order_id.to_owned()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::new(failure("GetItem", ORDERS_TABLE, e)))?;
        out.item().map(from_item).transpose()
    }

    async fn record(&self, order: &RecordedOrder) -> Result<Recorded, StoreError> {
        self.put_once(ORDERS_TABLE, "order_id", to_item(order))
            .await
    }

    async fn record_duplicate(&self, order: &RecordedOrder) -> Result<Recorded, StoreError> {
        self.put_once(DUPLICATES_TABLE, "intake_id", to_item(order))
            .await
    }

    async fn duplicates_of(&self, order_id: &str) -> Result<Vec<RecordedOrder>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(DUPLICATES_TABLE)
                .key_condition_expression("order_id = :id")
                .expression_attribute_values(":id", AttributeValue::S(order_id.to_owned()))
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| StoreError::new(failure("Query", DUPLICATES_TABLE, e)))?;
            for item in out.items() {
                found.push(from_item(item)?);
            }
            start = out.last_evaluated_key().cloned();
            if start.is_none() || found.len() >= DUPLICATES_LISTED_MAX {
                break;
            }
        }
        // The table sorts by `intake_id`; the port lists oldest first.
        found.sort_by(|a, b| (a.processed_at, &a.intake_id).cmp(&(b.processed_at, &b.intake_id)));
        found.truncate(DUPLICATES_LISTED_MAX);
        Ok(found)
    }
}

fn to_item(order: &RecordedOrder) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("order_id".to_owned(), text(&order.order_id)),
        ("status".to_owned(), text(order.status.as_wire())),
        ("content".to_owned(), text(&order.content.to_string())),
        (
            "processed_at".to_owned(),
            text(
                &order
                    .processed_at
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            ),
        ),
        ("intake_id".to_owned(), text(&order.intake_id)),
        ("file_name".to_owned(), text(&order.file_name)),
    ]);
    if !order.rejection_reasons.is_empty() {
        let reasons = order.rejection_reasons.iter().map(|r| text(r)).collect();
        item.insert("rejection_reasons".to_owned(), AttributeValue::L(reasons));
    }
    item
}

fn from_item(item: &HashMap<String, AttributeValue>) -> Result<RecordedOrder, StoreError> {
    let field = |name: &str| -> Result<&str, StoreError> {
        item.get(name)
            .and_then(|v| v.as_s().ok())
            .map(String::as_str)
            .ok_or_else(|| StoreError::new(format!("item without string attribute `{name}`")))
    };
    let status = match field("status")? {
        "PROCESSED" => OrderStatus::Processed,
        "REJECTED" => OrderStatus::Rejected,
        "DUPLICATE" => OrderStatus::Duplicate,
        other => return Err(StoreError::new(format!("unknown status `{other}`"))),
    };
    let processed_at = DateTime::parse_from_rfc3339(field("processed_at")?)
        .map_err(|e| StoreError::new(format!("processed_at: {e}")))?
        .with_timezone(&Utc);
    let rejection_reasons = item
        .get("rejection_reasons")
        .and_then(|v| v.as_l().ok())
        .map(|list| list.iter().filter_map(|r| r.as_s().ok().cloned()).collect())
        .unwrap_or_default();
    Ok(RecordedOrder {
        order_id: field("order_id")?.to_owned(),
        status,
        content: serde_json::from_str(field("content")?).unwrap_or(serde_json::Value::Null),
        rejection_reasons,
        processed_at,
        intake_id: field("intake_id")?.to_owned(),
        file_name: field("file_name")?.to_owned(),
    })
}
