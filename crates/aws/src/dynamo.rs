//! S2's store on DynamoDB (`docs/adr/026-aws-profile.md` §4): table `tp-orders` (one item per
//! `order_id`, `PROCESSED` or `REJECTED`) and `tp-orders-duplicates` (`order_id`, `intake_id`),
//! each written with `attribute_not_exists`, so an order is recorded once and a repeated
//! delivery of the same file adds nothing.
//!
//! [`ensure_tables`] compares existing tables' key schemas first, naming every difference
//! instead of using a table of another shape, then creates the missing ones (on demand
//! billing).

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus,
};
use chrono::{DateTime, Utc};
use edalab_domain::order::OrderStatus;
use edalab_services::intake::IntakeStore;
use edalab_services::intake::store::{Recorded, RecordedOrder, StoreError};

/// The seed's table of orders.
pub const ORDERS_TABLE: &str = "tp-orders";
/// The duplicates received after an order, under its `order_id`.
pub const DUPLICATES_TABLE: &str = "tp-orders-duplicates";

/// A table's name and key: partition key, and sort key if any (all strings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpec {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: Option<&'static str>,
}

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

/// Longest wait for a created table to become `ACTIVE`.
const ACTIVE_WAIT_MAX: Duration = Duration::from_secs(30);

/// Checks every table of `specs` first, then creates the missing ones and waits until they
/// are `ACTIVE`: an existing table with another key schema is named (table, `KeySchema`,
/// found and wanted; all of them at once) before anything is created.
pub async fn ensure_tables(
    client: &aws_sdk_dynamodb::Client,
    specs: &[TableSpec],
) -> Result<(), String> {
    let mut missing = Vec::new();
    let mut conflicts = Vec::new();
    for spec in specs {
        let wanted = wanted_keys(spec);
        match key_schema(client, spec.name).await? {
            None => missing.push(spec),
            Some(found) if found != wanted => conflicts.push(format!(
                "DynamoDB table `{}`: setting KeySchema is {found:?}, wanted {wanted:?}",
                spec.name
            )),
            Some(_) => {}
        }
    }
    if !conflicts.is_empty() {
        return Err(format!(
            "{} (delete or rename the existing table; nothing was created)",
            conflicts.join("; ")
        ));
    }
    for spec in missing {
        create_table(client, spec).await?;
        wait_active(client, spec.name).await?;
    }
    Ok(())
}

async fn wait_active(client: &aws_sdk_dynamodb::Client, table: &str) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + ACTIVE_WAIT_MAX;
    loop {
        let described = client.describe_table().table_name(table).send().await;
        let status = described
            .map_err(|e| failure("DescribeTable", table, e))?
            .table()
            .and_then(|t| t.table_status().cloned());
        if status == Some(TableStatus::Active) {
            return Ok(());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "DynamoDB table `{table}` is not ACTIVE after {} s (status {status:?})",
                ACTIVE_WAIT_MAX.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// `(attribute, HASH|RANGE)` pairs of an existing table, or `None` when there is no table.
async fn key_schema(
    client: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Option<Vec<(String, String)>>, String> {
    match client.describe_table().table_name(table).send().await {
        Ok(out) => Ok(Some(
            out.table()
                .map(|t| t.key_schema())
                .unwrap_or_default()
                .iter()
                .map(|k| {
                    (
                        k.attribute_name().to_owned(),
                        k.key_type().as_str().to_owned(),
                    )
                })
                .collect(),
        )),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(None)
        }
        Err(e) => Err(failure("DescribeTable", table, e)),
    }
}

fn wanted_keys(spec: &TableSpec) -> Vec<(String, String)> {
    let mut keys = vec![(spec.partition_key.to_owned(), "HASH".to_owned())];
    if let Some(sort) = spec.sort_key {
        keys.push((sort.to_owned(), "RANGE".to_owned()));
    }
    keys
}

async fn create_table(client: &aws_sdk_dynamodb::Client, spec: &TableSpec) -> Result<(), String> {
    let mut request = client
        .create_table()
        .table_name(spec.name)
        .billing_mode(BillingMode::PayPerRequest);
    let keys = [(spec.partition_key, KeyType::Hash)]
        .into_iter()
        .chain(spec.sort_key.map(|k| (k, KeyType::Range)));
    for (name, kind) in keys {
        let built = AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .and_then(|definition| {
                KeySchemaElement::builder()
                    .attribute_name(name)
                    .key_type(kind)
                    .build()
                    .map(|key| (definition, key))
            });
        let (definition, key) = built.map_err(|e| format!("table `{}`: {e}", spec.name))?;
        request = request.attribute_definitions(definition).key_schema(key);
    }
    match request.send().await {
        Ok(_) => Ok(()),
        // Created meanwhile by another process: its shape is checked by the next start.
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_in_use_exception()) =>
        {
            Ok(())
        }
        Err(e) => Err(failure("CreateTable", spec.name, e)),
    }
}

fn failure<E: std::error::Error + 'static>(
    operation: &str,
    table: &str,
    error: aws_sdk_dynamodb::error::SdkError<E>,
) -> String {
    format!(
        "DynamoDB {operation} on `{table}`: {}",
        DisplayErrorContext(error)
    )
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
        match put {
            Ok(_) => Ok(Recorded::New),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(Recorded::Already)
            }
            Err(e) => Err(StoreError::new(failure("PutItem", table, e))),
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

fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
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
