//! The pipelines' stores on DynamoDB (`docs/adr/026-aws-profile.md` §4): S2's orders
//! ([`DynamoIntakeStore`]), S1's calculations ([`DynamoCalculationStore`]) and S0's
//! transactions ([`DynamoTransactionStore`]); why SQS messages were dead-lettered
//! ([`DeadLetterReasons`]).
//!
//! [`ensure_tables`] compares existing tables' key schemas first, naming every difference
//! instead of using a table of another shape, then creates the missing ones (on demand
//! billing).

mod calculations;
mod intake;
mod reasons;
mod transactions;

use std::time::Duration;

use aws_sdk_dynamodb::error::DisplayErrorContext;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType, TableStatus,
};

pub use calculations::{CALCULATIONS_TABLE, DynamoCalculationStore, calculation_tables};
pub use intake::{DUPLICATES_TABLE, DynamoIntakeStore, ORDERS_TABLE, intake_tables};
pub use reasons::{DEAD_LETTERS_TABLE, DeadLetterReasons, Reason, reason_tables};
pub use transactions::{
    ARCHIVE_TABLE, DynamoTransactionStore, EFFECTS_TABLE, TOTALS_TABLE, TRANSACTIONS_TABLE,
    transaction_tables,
};

/// A table's name and key: partition key, and sort key if any (all strings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TableSpec {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: Option<&'static str>,
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

pub(crate) fn failure<E: std::error::Error + 'static>(
    operation: &str,
    table: &str,
    error: aws_sdk_dynamodb::error::SdkError<E>,
) -> String {
    format!(
        "DynamoDB {operation} on `{table}`: {}",
        DisplayErrorContext(error)
    )
}

/// Whether a conditional write happened: `Ok(false)` when its condition failed (the item
/// was already there, or already finished), the error named by operation and table else.
pub(crate) fn written<O, E>(
    result: Result<O, aws_sdk_dynamodb::error::SdkError<E>>,
    operation: &str,
    table: &str,
) -> Result<bool, String>
where
    E: std::error::Error + aws_sdk_dynamodb::error::ProvideErrorMetadata + 'static,
{
    match result {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error().and_then(|s| s.code())
                == Some("ConditionalCheckFailedException") =>
        {
            Ok(false)
        }
        Err(e) => Err(failure(operation, table, e)),
    }
}

/// A string attribute.
fn text(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}
