//! The four pipeline store contracts (S0 transactions, S1 calculator, S2 intake, S4 saga),
//! each case run against both implementations: SQLite (a fresh data dir per test) and
//! PostgreSQL (a fresh database per test, through `PgStores::connect`, so the migrations run
//! too). PostgreSQL cases read `EDALAB_TEST_POSTGRES_URL`; unset, they fail under `CI=true`
//! and are skipped loudly elsewhere. Plus one pipeline end to end on PostgreSQL (the
//! calculator over the embedded bus) and the start error when PostgreSQL is unreachable.

use crate::pipeline_support;

use std::str::FromStr;

use axum::http::StatusCode;
use chrono::{DateTime, TimeZone, Utc};
use edalab_bus::runtime::AppliedId;
use edalab_domain::calculator::{Number, Operation};
use edalab_domain::events::transactions::{PendingStatus, QueuedTransaction, TransactionProcessed};
use edalab_domain::order::OrderStatus;
use edalab_services::calculator::{Calculation, CalculationStatus, CalculationStore};
use edalab_services::intake::IntakeStore;
use edalab_services::intake::store::{Recorded, RecordedOrder};
use edalab_services::pipeline::stores::testing::{fresh_stores, postgres_url};
use edalab_services::pipeline::{Env, PgStores, PgStoresConfig, StartError, StoreChoice};
use edalab_services::saga::SagaStore;
use edalab_services::saga::store::StoredDecision;
use edalab_services::transactions::{Effect, TransactionStore};
use edalab_services::{calculator, intake, saga, transactions};
use pipeline_support::{post, settled};
use rust_decimal::Decimal;
use serde_json::json;

fn at(second: u32, millis: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 2, 6, 10, 0, second).unwrap()
        + chrono::Duration::milliseconds(i64::from(millis))
}

fn dec(text: &str) -> Decimal {
    Decimal::from_str(text).unwrap()
}

// ---------------------------------------------------------------- S1 calculator

fn calculation(id: &str, a: Number, b: Number) -> Calculation {
    Calculation {
        id: id.to_owned(),
        operation: Operation::Divide,
        a,
        b,
        status: CalculationStatus::Pending,
        result: None,
        error: None,
    }
}

async fn calculator_pending_then_completed_once(store: &dyn CalculationStore) {
    assert_eq!(store.get("c-1").await.unwrap(), None);
    let pending = calculation("c-1", Number::Int(7), Number::Float(2.5));
    store.insert_pending(&pending).await.unwrap();
    assert_eq!(store.get("c-1").await.unwrap(), Some(pending.clone()));

    store.complete("c-1", Number::Float(2.8)).await.unwrap();
    let completed = Calculation {
        status: CalculationStatus::Completed,
        result: Some(Number::Float(2.8)),
        ..pending.clone()
    };
    assert_eq!(store.get("c-1").await.unwrap(), Some(completed.clone()));
    // A finished calculation is left alone: a late failure or a second result change nothing.
    store.fail("c-1", "late").await.unwrap();
    store.complete("c-1", Number::Int(99)).await.unwrap();
    assert_eq!(store.get("c-1").await.unwrap(), Some(completed));
    // The same id twice is refused.
    assert!(store.insert_pending(&pending).await.is_err());
}

async fn calculator_failed_keeps_its_reason(store: &dyn CalculationStore) {
    let pending = calculation("c-2", Number::Int(1), Number::Int(0));
    store.insert_pending(&pending).await.unwrap();
    store
        .fail("c-2", "DIVISION_BY_ZERO: division by zero")
        .await
        .unwrap();
    store.complete("c-2", Number::Int(1)).await.unwrap();
    assert_eq!(
        store.get("c-2").await.unwrap(),
        Some(Calculation {
            status: CalculationStatus::Failed,
            error: Some("DIVISION_BY_ZERO: division by zero".to_owned()),
            ..pending
        })
    );
    // Unknown ids: nothing to update, nothing created.
    store.complete("nope", Number::Int(1)).await.unwrap();
    store.fail("nope", "x").await.unwrap();
    assert_eq!(store.get("nope").await.unwrap(), None);
}

// ---------------------------------------------------------------- S2 intake

fn order(order_id: &str, intake_id: &str, status: OrderStatus, second: u32) -> RecordedOrder {
    RecordedOrder {
        order_id: order_id.to_owned(),
        status,
        content: json!({"order_id": order_id, "items": [{"sku": "A-1", "qty": 2}], "total": 12.5}),
        rejection_reasons: if status == OrderStatus::Rejected {
            vec![
                "items[0].qty: must be positive".to_owned(),
                "total: missing".to_owned(),
            ]
        } else {
            Vec::new()
        },
        processed_at: at(second, 123),
        intake_id: intake_id.to_owned(),
        file_name: format!("{order_id}.json"),
    }
}

async fn intake_records_each_order_once(store: &dyn IntakeStore) {
    assert_eq!(store.get("o-1").await.unwrap(), None);
    let processed = order("o-1", "i-1", OrderStatus::Processed, 1);
    assert_eq!(store.record(&processed).await.unwrap(), Recorded::New);
    assert_eq!(store.get("o-1").await.unwrap(), Some(processed.clone()));
    // The same order_id again (whatever its content) is not recorded a second time.
    let again = order("o-1", "i-9", OrderStatus::Rejected, 2);
    assert_eq!(store.record(&again).await.unwrap(), Recorded::Already);
    assert_eq!(store.get("o-1").await.unwrap(), Some(processed));

    let rejected = order("o-2", "i-2", OrderStatus::Rejected, 3);
    assert_eq!(store.record(&rejected).await.unwrap(), Recorded::New);
    assert_eq!(store.get("o-2").await.unwrap(), Some(rejected));
}

async fn intake_duplicates_in_arrival_order_once_per_intake_id(store: &dyn IntakeStore) {
    store
        .record(&order("o-1", "i-1", OrderStatus::Processed, 1))
        .await
        .unwrap();
    let first = order("o-1", "i-3", OrderStatus::Duplicate, 5);
    let second = order("o-1", "i-2", OrderStatus::Duplicate, 4);
    let other = order("o-7", "i-4", OrderStatus::Duplicate, 6);
    for duplicate in [&first, &second, &other] {
        assert_eq!(
            store.record_duplicate(duplicate).await.unwrap(),
            Recorded::New
        );
    }
    // A redelivery of a duplicate's file (same intake_id) is not a new duplicate.
    assert_eq!(
        store.record_duplicate(&first).await.unwrap(),
        Recorded::Already
    );
    assert_eq!(
        store.duplicates_of("o-1").await.unwrap(),
        vec![first, second],
        "oldest first (arrival order, not time or id order)"
    );
    assert_eq!(store.duplicates_of("o-7").await.unwrap(), vec![other]);
    assert!(store.duplicates_of("o-2").await.unwrap().is_empty());
}

// ---------------------------------------------------------------- S4 saga

fn decision(topic: &str, payload: &str) -> StoredDecision {
    StoredDecision {
        topic: topic.to_owned(),
        payload: payload.as_bytes().to_vec(),
    }
}

async fn saga_one_decision_per_event_and_spending_per_user(store: &dyn SagaStore) {
    assert_eq!(store.decision_for("e-1").await.unwrap(), None);
    assert_eq!(store.spent_by("u-1").await.unwrap(), Decimal::ZERO);
    let authorized = decision("payments.authorized", r#"{"orderId":"o-1"}"#);
    assert!(
        store
            .record_decision("e-1", "u-1", dec("10.50"), &authorized)
            .await
            .unwrap()
    );
    // A second decision for the same event is not recorded; the first one stays.
    assert!(
        !store
            .record_decision(
                "e-1",
                "u-1",
                dec("999"),
                &decision("payments.rejected", "{}")
            )
            .await
            .unwrap()
    );
    assert_eq!(store.decision_for("e-1").await.unwrap(), Some(authorized));
    store
        .record_decision(
            "e-2",
            "u-1",
            dec("20.25"),
            &decision("payments.authorized", "{}"),
        )
        .await
        .unwrap();
    store
        .record_decision(
            "e-3",
            "u-1",
            Decimal::ZERO,
            &decision("payments.rejected", "{}"),
        )
        .await
        .unwrap();
    store
        .record_decision(
            "e-4",
            "u-2",
            dec("5"),
            &decision("payments.authorized", "{}"),
        )
        .await
        .unwrap();
    assert_eq!(store.spent_by("u-1").await.unwrap(), dec("30.75"));
    assert_eq!(store.spent_by("u-2").await.unwrap(), dec("5"));
}

async fn saga_events_once_per_event_id_in_arrival_order(store: &dyn SagaStore) {
    let events = [
        ("ev-1", "o-1", "orders.created"),
        ("ev-2", "o-2", "orders.created"),
        ("ev-3", "o-1", "payments.authorized"),
        ("ev-4", "o-3", "orders.created"),
        ("ev-5", "o-2", "payments.rejected"),
    ];
    for (event_id, order_id, topic) in events {
        let payload = format!(r#"{{"eventId":"{event_id}"}}"#);
        assert!(
            store
                .record_event(event_id, order_id, topic, payload.as_bytes())
                .await
                .unwrap()
        );
    }
    // A redelivered event is not recorded again.
    assert!(
        !store
            .record_event("ev-3", "o-1", "payments.authorized", b"{}")
            .await
            .unwrap()
    );
    assert_eq!(
        store.events_of("o-1").await.unwrap(),
        vec![
            (
                "orders.created".to_owned(),
                br#"{"eventId":"ev-1"}"#.to_vec()
            ),
            (
                "payments.authorized".to_owned(),
                br#"{"eventId":"ev-3"}"#.to_vec()
            ),
        ]
    );
    assert!(store.events_of("o-9").await.unwrap().is_empty());
    // Newest first by first arrival, at most `limit`.
    assert_eq!(store.order_ids(10).await.unwrap(), ["o-3", "o-2", "o-1"]);
    assert_eq!(store.order_ids(2).await.unwrap(), ["o-3", "o-2"]);
    assert!(store.order_ids(0).await.unwrap().is_empty());
}

// ---------------------------------------------------------------- S0 transactions

fn queued(id: &str, amount: &str, currency: &str) -> QueuedTransaction {
    QueuedTransaction {
        transaction_id: id.to_owned(),
        amount: dec(amount),
        currency: currency.to_owned(),
        account_from: "ACC-1".to_owned(),
        account_to: "ACC-2".to_owned(),
        timestamp: at(1, 250),
        status: PendingStatus::Pending,
    }
}

fn processed(id: &str, amount: &str, currency: &str) -> TransactionProcessed {
    queued(id, amount, currency).processed(at(2, 500), "test-processor")
}

fn applied_id(offset: u64, event_id: &str) -> AppliedId {
    AppliedId {
        group: "transaction-processors".to_owned(),
        topic: "transactions-events".to_owned(),
        partition: 1,
        offset,
        event_id: Some(event_id.to_owned()),
    }
}

async fn transactions_status_transitions(store: &dyn TransactionStore) {
    assert_eq!(store.get("txn-1").await.unwrap(), None);
    store
        .insert_pending(&queued("txn-1", "150.5", "EUR"))
        .await
        .unwrap();
    let view = store.get("txn-1").await.unwrap().expect("row");
    assert_eq!(view.status, "PENDING");
    assert_eq!(view.amount, Some(json!(150.5)));
    assert_eq!(view.currency.as_deref(), Some("EUR"));
    assert_eq!(view.account_from.as_deref(), Some("ACC-1"));
    assert_eq!(view.account_to.as_deref(), Some("ACC-2"));
    assert_eq!(view.timestamp.as_deref(), Some("2026-02-06T10:00:01.250Z"));
    assert_eq!((view.processed_at, view.error), (None, None));
    assert!(
        store
            .insert_pending(&queued("txn-1", "1", "EUR"))
            .await
            .is_err(),
        "an id is inserted once"
    );

    store.mark_processed("txn-1", at(3, 7)).await.unwrap();
    // A late dead letter does not undo PROCESSED.
    store.mark_failed("txn-1", "late").await.unwrap();
    let view = store.get("txn-1").await.unwrap().expect("row");
    assert_eq!(view.status, "PROCESSED");
    assert_eq!(
        view.processed_at.as_deref(),
        Some("2026-02-06T10:00:03.007Z")
    );
    assert_eq!(view.error, None);
    assert_eq!(view.amount, Some(json!(150.5)));

    // Known only from the DLQ: a FAILED row with the reason, then PROCESSED clears it.
    store
        .mark_failed("txn-2", "amount exceeds limit")
        .await
        .unwrap();
    let view = store.get("txn-2").await.unwrap().expect("row");
    assert_eq!(view.status, "FAILED");
    assert_eq!(view.error.as_deref(), Some("amount exceeds limit"));
    assert_eq!((view.amount, view.currency), (None, None));
    store.mark_processed("txn-2", at(4, 0)).await.unwrap();
    let view = store.get("txn-2").await.unwrap().expect("row");
    assert_eq!((view.status.as_str(), view.error), ("PROCESSED", None));
}

async fn transactions_totals_exactly_once(store: &dyn TransactionStore) {
    assert!(store.totals().await.unwrap().is_empty());
    let first = processed("txn-1", "150", "EUR");
    assert!(
        store
            .apply_to_totals(&applied_id(0, "txn-1"), &first)
            .await
            .unwrap()
    );
    // The same message again, and the same transactionId at another offset: no change.
    assert!(
        !store
            .apply_to_totals(&applied_id(0, "txn-1"), &first)
            .await
            .unwrap()
    );
    assert!(
        !store
            .apply_to_totals(&applied_id(9, "txn-1"), &first)
            .await
            .unwrap()
    );
    assert!(
        store
            .apply_to_totals(&applied_id(1, "txn-2"), &processed("txn-2", "0.25", "EUR"))
            .await
            .unwrap()
    );
    assert!(
        store
            .apply_to_totals(&applied_id(2, "txn-3"), &processed("txn-3", "7.5", "USD"))
            .await
            .unwrap()
    );
    let totals: Vec<(String, u64, String)> = store
        .totals()
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.currency, t.count, t.total))
        .collect();
    assert_eq!(
        totals,
        [
            ("EUR".to_owned(), 2, "150.25".to_owned()),
            ("USD".to_owned(), 1, "7.50".to_owned()),
        ]
    );
    assert!(
        store
            .effect_applied(Effect::Analytics, &applied_id(0, "txn-1"))
            .await
            .unwrap()
    );
    // One effect applied does not make another one applied.
    assert!(
        !store
            .effect_applied(Effect::Archive, &applied_id(0, "txn-1"))
            .await
            .unwrap()
    );
}

async fn transactions_a_failed_effect_rolls_back_its_inbox_row(store: &dyn TransactionStore) {
    let big = Decimal::from_i128_with_scale(50_000_000_000_000_000_000_000_000_000, 0);
    let first = TransactionProcessed {
        amount: big,
        ..processed("txn-1", "1", "EUR")
    };
    assert!(
        store
            .apply_to_totals(&applied_id(0, "txn-1"), &first)
            .await
            .unwrap()
    );
    let before = store.totals().await.unwrap();
    // The second one overflows the total: the effect fails inside the transaction.
    let second = TransactionProcessed {
        amount: big,
        ..processed("txn-2", "1", "EUR")
    };
    let error = store
        .apply_to_totals(&applied_id(1, "txn-2"), &second)
        .await
        .expect_err("the total overflows");
    assert!(error.to_string().contains("EUR total overflows"), "{error}");
    // Rolled back together: no inbox row (a redelivery will try again), total unchanged.
    assert!(
        !store
            .effect_applied(Effect::Analytics, &applied_id(1, "txn-2"))
            .await
            .unwrap()
    );
    assert_eq!(store.totals().await.unwrap(), before);
    assert_eq!(before[0].count, 1);
}

async fn transactions_effect_inboxes_by_position_or_event_id(store: &dyn TransactionStore) {
    let id = applied_id(3, "txn-7");
    assert!(
        !store
            .effect_applied(Effect::Notification, &id)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_effect(Effect::Notification, &id)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_effect(Effect::Notification, &id)
            .await
            .unwrap()
    );
    // Same position, another event id; same event id, another position: both applied.
    assert!(
        store
            .effect_applied(Effect::Notification, &applied_id(3, "other"))
            .await
            .unwrap()
    );
    assert!(
        store
            .effect_applied(Effect::Notification, &applied_id(44, "txn-7"))
            .await
            .unwrap()
    );
    // Without an event id, only the position counts.
    let mut no_event = applied_id(5, "");
    no_event.event_id = None;
    assert!(
        store
            .record_effect(Effect::Notification, &no_event)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_effect(Effect::Notification, &no_event)
            .await
            .unwrap()
    );
    let mut another = no_event.clone();
    another.offset = 6;
    assert!(
        store
            .record_effect(Effect::Notification, &another)
            .await
            .unwrap()
    );
    // Each effect has its own inbox.
    assert!(store.record_effect(Effect::Archive, &id).await.unwrap());
}

async fn transactions_concurrent_deliveries_add_once_each(store: &dyn TransactionStore) {
    // Four transactions of a currency not seen yet, each delivered twice, all at once (on
    // PostgreSQL: on separate pooled connections).
    let events: Vec<(AppliedId, TransactionProcessed)> = (0..4u64)
        .map(|n| {
            let id = format!("txn-{n}");
            (applied_id(n, &id), processed(&id, "10.10", "GBP"))
        })
        .collect();
    let deliveries = events
        .iter()
        .chain(events.iter())
        .map(|(id, event)| store.apply_to_totals(id, event));
    let applied = futures::future::join_all(deliveries).await;
    let applied: Vec<bool> = applied.into_iter().map(Result::unwrap).collect();
    assert_eq!(applied.iter().filter(|now| **now).count(), 4, "{applied:?}");
    let totals = store.totals().await.unwrap();
    assert_eq!(totals.len(), 1);
    assert_eq!(
        (totals[0].count, totals[0].total.as_str()),
        (4, "40.40"),
        "no addition lost, none doubled"
    );
}

async fn transactions_archive_lengths(store: &dyn TransactionStore) {
    let file = "transactions-2026-02-06.jsonl";
    // A file without a row takes its current length as committed, once.
    assert_eq!(store.archive_committed_len(file, 40).await.unwrap(), 40);
    assert_eq!(store.archive_committed_len(file, 55).await.unwrap(), 40);
    assert!(
        store
            .record_archived(&applied_id(0, "txn-1"), file, 62)
            .await
            .unwrap()
    );
    assert_eq!(store.archive_committed_len(file, 70).await.unwrap(), 62);
    // Already archived: neither the inbox nor the length change.
    assert!(
        !store
            .record_archived(&applied_id(8, "txn-1"), file, 99)
            .await
            .unwrap()
    );
    assert_eq!(store.archive_committed_len(file, 0).await.unwrap(), 62);
    assert!(
        store
            .effect_applied(Effect::Archive, &applied_id(0, "txn-1"))
            .await
            .unwrap()
    );
}

// ---------------------------------------------------------------- both implementations

/// Instantiates each case once per implementation: `$store` opens the pipeline's store
/// for a `StoreChoice` and a data dir.
macro_rules! store_suite {
    ($module:ident, $open:path, $($case:ident),+ $(,)?) => {
        mod $module {
            mod sqlite {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let dir = tempfile::tempdir().unwrap();
                        let store = $open(&super::super::StoreChoice::Sqlite, dir.path()).unwrap();
                        super::super::$case(store.as_ref()).await;
                    }
                )+
            }
            mod postgres {
                $(
                    #[tokio::test]
                    async fn $case() {
                        let test = concat!(stringify!($module), "::postgres::", stringify!($case));
                        let Some(url) = super::super::postgres_url(test) else {
                            return;
                        };
                        let (_database, stores) = super::super::fresh_stores(&url).await;
                        let dir = tempfile::tempdir().unwrap();
                        let choice = super::super::StoreChoice::Postgres(stores.clone());
                        let store = $open(&choice, dir.path()).unwrap();
                        super::super::$case(store.as_ref()).await;
                        // Nothing went to the data dir: the store is the database.
                        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
                        stores.close().await;
                    }
                )+
            }
        }
    };
}

store_suite!(
    s0,
    edalab_services::transactions::store::open,
    transactions_status_transitions,
    transactions_totals_exactly_once,
    transactions_a_failed_effect_rolls_back_its_inbox_row,
    transactions_effect_inboxes_by_position_or_event_id,
    transactions_concurrent_deliveries_add_once_each,
    transactions_archive_lengths,
);
store_suite!(
    s1,
    edalab_services::calculator::store::open,
    calculator_pending_then_completed_once,
    calculator_failed_keeps_its_reason,
);
store_suite!(
    s2,
    edalab_services::intake::store::open,
    intake_records_each_order_once,
    intake_duplicates_in_arrival_order_once_per_intake_id,
);
store_suite!(
    s4,
    edalab_services::saga::store::open,
    saga_one_decision_per_event_and_spending_per_user,
    saga_events_once_per_event_id_in_arrival_order,
);

// ---------------------------------------------------------------- PostgreSQL only

#[tokio::test]
async fn two_pipelines_share_one_database_and_reconnecting_migrates_nothing_twice() {
    let Some(url) = postgres_url("two_pipelines_share_one_database") else {
        return;
    };
    let (database, stores) = fresh_stores(&url).await;
    let choice = StoreChoice::Postgres(stores.clone());
    let dir = tempfile::tempdir().unwrap();
    let calculations = calculator::store::open(&choice, dir.path()).unwrap();
    calculations
        .insert_pending(&calculation("c-1", Number::Int(1), Number::Int(2)))
        .await
        .unwrap();
    // The ledger's store migrates the same database (its own schema and history).
    let ledger = edalab_store::postgres::PgLedgerStore::connect(
        &edalab_store::postgres::PgConfig::new(database.url()),
    )
    .await
    .expect("the ledger migrates beside the pipelines");
    ledger.close().await;
    stores.close().await;
    // Connecting again (a restart) keeps the data and applies nothing new.
    let again = PgStores::connect(&PgStoresConfig::new(database.url()))
        .await
        .expect("reconnect");
    let choice = StoreChoice::Postgres(again.clone());
    let calculations = calculator::store::open(&choice, dir.path()).unwrap();
    assert_eq!(
        calculations.get("c-1").await.unwrap().map(|c| c.status),
        Some(CalculationStatus::Pending)
    );
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(again.pool())
        .await
        .unwrap();
    assert_eq!(
        applied,
        i64::try_from(edalab_services::pipeline::stores::MIGRATOR.iter().count()).unwrap()
    );
    again.close().await;
}

#[tokio::test]
async fn starting_on_an_unreachable_postgres_names_the_url_and_the_cause() {
    let mut config = PgStoresConfig::new("postgres://edalab:topsecret@127.0.0.1:1/edalab");
    config.acquire_timeout_ms = 500;
    let error = PgStores::connect(&config)
        .await
        .expect_err("nothing listens");
    assert!(matches!(error, StartError::Postgres { .. }), "{error:?}");
    let text = error.to_string();
    assert!(
        text.starts_with(
            "PostgreSQL at postgres://edalab:***@127.0.0.1:1/edalab: cannot connect: "
        ),
        "{text}"
    );
    assert!(!text.contains("topsecret"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_calculator_runs_end_to_end_on_postgres() {
    let Some(url) = postgres_url("the_calculator_runs_end_to_end_on_postgres") else {
        return;
    };
    let (_database, stores) = fresh_stores(&url).await;
    let (dir, embedded, bus) = pipeline_support::scratch_bus();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let choice = StoreChoice::Postgres(stores.clone());
    let calc = calculator::start(&Env::new(bus.clone(), dir.path(), choice, shutdown))
        .await
        .expect("start");
    let app = calculator::api::router(calc.state.clone());

    let mut ids = Vec::new();
    for request in [
        json!({"operation": "divide", "a": 7, "b": 2}),
        json!({"operation": "divide", "a": 1, "b": 0}),
    ] {
        let (status, body) = post(&app, "/api/v1/calculator", &request).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        ids.push(body["id"].as_str().expect("id").to_owned());
    }
    let done = settled(&app, &format!("/api/v1/calculator/{}", ids[0])).await;
    assert_eq!(done["status"], "COMPLETED", "{done}");
    assert_eq!(done["result"], json!(3.5));
    let failed = settled(&app, &format!("/api/v1/calculator/{}", ids[1])).await;
    assert_eq!(failed["status"], "FAILED", "{failed}");
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|e| e.contains("division by zero")),
        "{failed}"
    );

    // The rows are in PostgreSQL (the worker and the DLQ tracker wrote them there) and no
    // SQLite file was created.
    let rows: Vec<(String, String, Option<String>)> =
        sqlx::query_as("SELECT id, status, result FROM s1_calculations ORDER BY id")
            .fetch_all(stores.pool())
            .await
            .unwrap();
    let mut expected = vec![
        (
            ids[0].clone(),
            "COMPLETED".to_owned(),
            Some("3.5".to_owned()),
        ),
        (ids[1].clone(), "FAILED".to_owned(), None),
    ];
    expected.sort();
    assert_eq!(rows, expected);
    assert!(!dir.path().join("calculator.sqlite").exists());

    stop.send(true).expect("stop");
    calc.handles.join().await.expect("clean stop");
    embedded.close().await.expect("close");
    stores.close().await;
}

/// Starting every pipeline on PostgreSQL opens no SQLite file; the S2 inbox and the bus stay
/// in the data dir.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_four_pipelines_start_on_postgres() {
    let Some(url) = postgres_url("all_four_pipelines_start_on_postgres") else {
        return;
    };
    let (_database, stores) = fresh_stores(&url).await;
    let (dir, embedded, bus) = pipeline_support::scratch_bus();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let choice = StoreChoice::Postgres(stores.clone());
    let env = Env::new(bus.clone(), dir.path(), choice, shutdown);
    let transactions = transactions::start(&env).await.expect("S0");
    let intake = intake::start(&env).await.expect("S2");
    let saga = saga::start(&env).await.expect("S4");
    for name in [
        "transactions.sqlite",
        "intake.sqlite",
        "saga.sqlite",
        "calculator.sqlite",
    ] {
        assert!(!dir.path().join(name).exists(), "{name}");
    }
    assert!(intake::inbox_dir(dir.path()).is_dir());
    stop.send(true).expect("stop");
    for handles in [transactions.handles, intake.handles, saga.handles] {
        handles.join().await.expect("clean stop");
    }
    embedded.close().await.expect("close");
    stores.close().await;
}
