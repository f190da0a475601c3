//! S0's DynamoDB store on ministack: a transaction's status as on SQLite (a late failure
//! never overrides `PROCESSED`), each S0-05 effect applied once per position or event id,
//! concurrent totals exact, archive lengths committed with their inbox entry.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use edalab_aws::dynamo::DynamoTransactionStore;
use edalab_aws::testing::MiniStack;
use edalab_bus::runtime::AppliedId;
use edalab_domain::events::transactions::{PendingStatus, QueuedTransaction};
use edalab_services::transactions::{Effect, TransactionStore};
use rust_decimal::Decimal;

fn queued(id: &str, amount: &str) -> QueuedTransaction {
    QueuedTransaction {
        transaction_id: id.to_owned(),
        amount: amount.parse().unwrap(),
        currency: "CAD".to_owned(),
        account_from: "ACC-1".to_owned(),
        account_to: "ACC-2".to_owned(),
        timestamp: Utc.with_ymd_and_hms(2026, 12, 6, 3, 0, 0).unwrap(),
        status: PendingStatus::Pending,
    }
}

fn at(offset: u64, event_id: Option<&str>) -> AppliedId {
    AppliedId {
        group: "transaction-processors".to_owned(),
        topic: "transactions-events".to_owned(),
        partition: 1,
        offset,
        event_id: event_id.map(str::to_owned),
    }
}

async fn open(ministack: &MiniStack) -> DynamoTransactionStore {
    let client = aws_sdk_dynamodb::Client::new(&ministack.sdk_config());
    DynamoTransactionStore::open(client.clone()).await.unwrap();
    DynamoTransactionStore::open(client).await.unwrap()
}

#[tokio::test]
async fn a_transaction_goes_pending_then_processed_and_stays_so() {
    let Some(ministack) = MiniStack::start_or_skip("DynamoDB transaction store") else {
        return;
    };
    let store = open(&ministack).await;
    assert_eq!(store.get("txn-1").await.unwrap(), None);
    store
        .insert_pending(&queued("txn-1", "100.5"))
        .await
        .unwrap();
    assert!(store.insert_pending(&queued("txn-1", "1")).await.is_err());
    let pending = store.get("txn-1").await.unwrap().unwrap();
    assert_eq!(pending.status, "PENDING");
    assert_eq!(pending.amount, Some(serde_json::json!(100.5)));
    assert_eq!(
        pending.timestamp.as_deref(),
        Some("2026-12-06T03:00:00.000Z")
    );

    let processed_at = Utc.with_ymd_and_hms(2026, 12, 6, 3, 0, 1).unwrap();
    store
        .mark_failed("txn-1", "first try failed")
        .await
        .unwrap();
    store.mark_processed("txn-1", processed_at).await.unwrap();
    store.mark_failed("txn-1", "a late failure").await.unwrap();
    let done = store.get("txn-1").await.unwrap().unwrap();
    assert_eq!(done.status, "PROCESSED");
    assert_eq!(done.error, None, "processing clears the earlier failure");
    assert_eq!(
        done.processed_at.as_deref(),
        Some("2026-12-06T03:00:01.000Z")
    );
    assert_eq!(done.account_from.as_deref(), Some("ACC-1"));

    store
        .mark_failed("only-in-dlq", "invalid JSON")
        .await
        .unwrap();
    let failed = store.get("only-in-dlq").await.unwrap().unwrap();
    assert_eq!((failed.status.as_str(), failed.amount), ("FAILED", None));
    assert_eq!(failed.error.as_deref(), Some("invalid JSON"));
}

#[tokio::test]
async fn effects_apply_once_and_concurrent_totals_are_exact() {
    let Some(ministack) = MiniStack::start_or_skip("DynamoDB transaction store") else {
        return;
    };
    let store = Arc::new(open(&ministack).await);
    let processed_at = Utc.with_ymd_and_hms(2026, 12, 6, 3, 0, 1).unwrap();
    let event = |id: &str, amount: &str| queued(id, amount).processed(processed_at, "test");

    assert!(
        store
            .apply_to_totals(&at(0, Some("txn-a")), &event("txn-a", "0.10"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .apply_to_totals(&at(0, Some("txn-a")), &event("txn-a", "0.10"))
            .await
            .unwrap(),
        "the same position"
    );
    assert!(
        !store
            .apply_to_totals(&at(7, Some("txn-a")), &event("txn-a", "0.10"))
            .await
            .unwrap(),
        "the same transaction at another position (a second publication)"
    );
    assert!(
        store
            .effect_applied(Effect::Analytics, &at(7, Some("txn-a")))
            .await
            .unwrap()
    );
    assert!(
        !store
            .effect_applied(Effect::Notification, &at(0, Some("txn-a")))
            .await
            .unwrap()
    );

    // Twelve events of one currency at once: every update of the total is kept.
    let mut tasks = Vec::new();
    for n in 1..=12_u64 {
        let store = store.clone();
        let event = event(&format!("txn-{n}"), "0.20");
        tasks.push(tokio::spawn(async move {
            store.apply_to_totals(&at(n, None), &event).await.unwrap()
        }));
    }
    for task in tasks {
        assert!(task.await.unwrap());
    }
    let totals = store.totals().await.unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!((totals[0].currency.as_str(), totals[0].count), ("CAD", 13));
    assert_eq!(
        totals[0].total.parse::<Decimal>().unwrap(),
        "2.50".parse().unwrap()
    );
    assert_eq!(totals[0].total, "2.50");

    assert!(
        store
            .record_effect(Effect::Notification, &at(0, Some("txn-a")))
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_effect(Effect::Notification, &at(3, Some("txn-a")))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn an_archive_length_is_committed_with_its_inbox_entry() {
    let Some(ministack) = MiniStack::start_or_skip("DynamoDB transaction store") else {
        return;
    };
    let store = open(&ministack).await;
    let file = "transactions-2026-12-06.jsonl";
    assert_eq!(store.archive_committed_len(file, 40).await.unwrap(), 40);
    assert_eq!(
        store.archive_committed_len(file, 90).await.unwrap(),
        40,
        "the first length stays until a line is recorded"
    );
    assert!(
        store
            .record_archived(&at(1, Some("txn-1")), file, 120)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_archived(&at(1, Some("txn-1")), file, 200)
            .await
            .unwrap()
    );
    assert_eq!(store.archive_committed_len(file, 250).await.unwrap(), 120);
    assert!(
        store
            .effect_applied(Effect::Archive, &at(9, Some("txn-1")))
            .await
            .unwrap()
    );
}
