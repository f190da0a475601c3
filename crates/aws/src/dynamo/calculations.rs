//! S1's store: table `edalab-calculations`, one item per calculation id, `PENDING` until one
//! conditional update (`status = PENDING`) makes it `COMPLETED` or `FAILED`, so a redelivered
//! input never changes a finished calculation.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use edalab_domain::calculator::Number;
use edalab_services::calculator::store::{
    Calculation, CalculationStore, Row, StoreError, calculation, number_text,
};

use super::{TableSpec, ensure_tables, failure, text, written};

/// S1's table (the seed keeps no state; edalab tracks each calculation's status).
pub const CALCULATIONS_TABLE: &str = "edalab-calculations";

/// The table of S1.
pub fn calculation_tables() -> [TableSpec; 1] {
    [TableSpec {
        name: CALCULATIONS_TABLE,
        partition_key: "id",
        sort_key: None,
    }]
}

/// [`CalculationStore`] on [`CALCULATIONS_TABLE`].
#[derive(Clone)]
pub struct DynamoCalculationStore {
    client: aws_sdk_dynamodb::Client,
}

impl DynamoCalculationStore {
    /// Ensures the table, then answers the store.
    pub async fn open(client: aws_sdk_dynamodb::Client) -> Result<Self, String> {
        ensure_tables(&client, &calculation_tables()).await?;
        Ok(Self { client })
    }

    /// Sets `status` (and `field` = `value`) if the calculation is still `PENDING`; a
    /// finished or unknown one is left alone.
    async fn finish(
        &self,
        id: &str,
        status: &str,
        field: &str,
        value: String,
    ) -> Result<(), StoreError> {
        let updated = self
            .client
            .update_item()
            .table_name(CALCULATIONS_TABLE)
            .key("id", text(id))
            .update_expression("SET #status = :status, #field = :value")
            .condition_expression("#status = :pending")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#field", field)
            .expression_attribute_values(":status", text(status))
            .expression_attribute_values(":value", AttributeValue::S(value))
            .expression_attribute_values(":pending", text("PENDING"))
            .send()
            .await;
        // Not PENDING any more: a finished calculation stays as it is.
        written(updated, "UpdateItem", CALCULATIONS_TABLE).map_err(StoreError::new)?;
        Ok(())
    }
}

#[async_trait]
impl CalculationStore for DynamoCalculationStore {
    async fn insert_pending(&self, c: &Calculation) -> Result<(), StoreError> {
        let item = HashMap::from([
            ("id".to_owned(), text(&c.id)),
            ("operation".to_owned(), text(c.operation.as_wire())),
            ("a".to_owned(), text(&number_text(c.a))),
            ("b".to_owned(), text(&number_text(c.b))),
            ("status".to_owned(), text("PENDING")),
        ]);
        self.client
            .put_item()
            .table_name(CALCULATIONS_TABLE)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(id)")
            .send()
            .await
            .map_err(|e| StoreError::new(failure("PutItem", CALCULATIONS_TABLE, e)))?;
        Ok(())
    }

    async fn complete(&self, id: &str, result: Number) -> Result<(), StoreError> {
        self.finish(id, "COMPLETED", "result", number_text(result))
            .await
    }

    async fn fail(&self, id: &str, error: &str) -> Result<(), StoreError> {
        self.finish(id, "FAILED", "error", error.to_owned()).await
    }

    async fn get(&self, id: &str) -> Result<Option<Calculation>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(CALCULATIONS_TABLE)
            .key("id", text(id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::new(failure("GetItem", CALCULATIONS_TABLE, e)))?;
        out.item()
            .map(|item| calculation(id, row(id, item)?))
            .transpose()
    }
}

/// The item's text columns in the order [`calculation`] takes them.
fn row(id: &str, item: &HashMap<String, AttributeValue>) -> Result<Row, StoreError> {
    let optional = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let required = |name: &str| {
        optional(name).ok_or_else(|| {
            StoreError::new(format!(
                "{CALCULATIONS_TABLE} item {id}: no string attribute `{name}`"
            ))
        })
    };
    Ok((
        required("operation")?,
        required("a")?,
        required("b")?,
        required("status")?,
        optional("result"),
        optional("error"),
    ))
}
