//! S2's DynamoDB store and its tables on ministack: tables created once and their key schema
//! compared; an order recorded once, a duplicate once per `intake_id`, listed oldest first.

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
};
use chrono::{TimeZone, Utc};
use edalab_aws::dynamo::{DUPLICATES_TABLE, DynamoIntakeStore, ORDERS_TABLE, intake_tables};
use edalab_aws::testing::MiniStack;
use edalab_domain::order::OrderStatus;
use edalab_services::intake::IntakeStore;
use edalab_services::intake::store::{Recorded, RecordedOrder};

fn order(status: OrderStatus, intake_id: &str, second: u32) -> RecordedOrder {
    RecordedOrder {
        order_id: "ORD-1".to_owned(),
        status,
        content: serde_json::json!({"order_id": "ORD-1", "amount": 3}),
        rejection_reasons: if status == OrderStatus::Rejected {
            vec!["amount: must be positive".to_owned()]
        } else {
            Vec::new()
        },
        processed_at: Utc.with_ymd_and_hms(2026, 1, 7, 10, 0, second).unwrap(),
        intake_id: intake_id.to_owned(),
        file_name: format!("orders/{intake_id}.json"),
    }
}

#[tokio::test]
async fn an_order_is_recorded_once_and_its_duplicates_once_each() {
    let Some(ministack) = MiniStack::start_or_skip("DynamoDB intake store") else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&ministack.sdk_config());
    let store = DynamoIntakeStore::open(client.clone()).await.unwrap();
    // Opening again finds both tables as they are.
    DynamoIntakeStore::open(client).await.unwrap();

    assert_eq!(store.get("ORD-1").await.unwrap(), None);
    let first = order(OrderStatus::Rejected, "a", 0);
    assert_eq!(store.record(&first).await.unwrap(), Recorded::New);
    let other = order(OrderStatus::Processed, "b", 1);
    assert_eq!(store.record(&other).await.unwrap(), Recorded::Already);
    assert_eq!(store.get("ORD-1").await.unwrap(), Some(first));

    let late = order(OrderStatus::Duplicate, "z-late", 9);
    let early = order(OrderStatus::Duplicate, "y-early", 5);
    for duplicate in [&late, &early] {
        assert_eq!(
            store.record_duplicate(duplicate).await.unwrap(),
            Recorded::New
        );
    }
    assert_eq!(
        store.record_duplicate(&late).await.unwrap(),
        Recorded::Already
    );
    assert_eq!(
        store.duplicates_of("ORD-1").await.unwrap(),
        vec![early, late]
    );
    assert_eq!(store.duplicates_of("ORD-2").await.unwrap(), Vec::new());
}

#[tokio::test]
async fn a_table_with_another_key_is_named() {
    let Some(ministack) = MiniStack::start_or_skip("DynamoDB table check") else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&ministack.sdk_config());
    client
        .create_table()
        .table_name(ORDERS_TABLE)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let error = DynamoIntakeStore::open(client.clone()).await.err().unwrap();
    assert!(
        error.contains(ORDERS_TABLE) && error.contains("KeySchema") && error.contains("\"id\""),
        "{error}"
    );
    // Nothing else was created before the error.
    let tables = client.list_tables().send().await.unwrap();
    assert!(
        !tables.table_names().iter().any(|t| t == DUPLICATES_TABLE),
        "{tables:?}"
    );
    assert_eq!(intake_tables()[0].name, ORDERS_TABLE);
}
