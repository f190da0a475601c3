//! S0 end to end through the real router and the embedded bus (S0-07): a valid transaction
//! reaches `transactions-events` and the S0-05 consumers; an invalid one is a 400 naming
//! each field; a poison one ends in `transactions-dlq` with its reason after 3 receives,
//! with fraud alerts on the way, and its status reads FAILED.

mod pipeline_support;

use pipeline_support::{call, read};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::runtime::dlq;
use edalab_bus::{Bus, Record};
use edalab_services::transactions;
use serde_json::{Value, json};

async fn status_until(app: &Router, id: &str, want: &str) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = call(app, "GET", &format!("/api/v1/transactions/{id}"), None).await;
        if (status == StatusCode::OK && body["status"] == want)
            || tokio::time::Instant::now() > deadline
        {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s0_07_valid_invalid_and_poison() {
    let dir = tempfile::tempdir().expect("tempdir");
    let embedded = EmbeddedBus::open(dir.path().join("bus"), LogConfig::default()).expect("bus");
    let bus: Arc<dyn Bus> = Arc::new(embedded.clone());
    // S0-04: topic creation is idempotent, also before start.
    transactions::create_topics(bus.as_ref())
        .await
        .expect("topics");
    transactions::create_topics(bus.as_ref())
        .await
        .expect("topics again");
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let pipeline = transactions::start(bus.clone(), dir.path(), shutdown)
        .await
        .expect("start");
    let app = transactions::api::router(pipeline.state.clone());

    // Valid → 202 PENDING → PROCESSED, on transactions-events keyed by transactionId.
    let seed = json!({"amount": 100.50, "currency": "CAD", "accountFrom": "ACC-12345", "accountTo": "ACC-67890"});
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/transactions",
        Some(&seed.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "PENDING");
    assert!(body["message"].is_string(), "{body}");
    let id = body["transactionId"]
        .as_str()
        .expect("transactionId")
        .to_owned();
    assert!(id.starts_with("txn-"), "{id}");
    let second = json!({"amount": 49.5, "currency": "CAD", "accountFrom": "A", "accountTo": "B"});
    let (status, _) = call(
        &app,
        "POST",
        "/api/v1/transactions",
        Some(&second.to_string()),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);

    let view = status_until(&app, &id, "PROCESSED").await;
    assert_eq!(view["status"], "PROCESSED", "{view}");
    assert_eq!(view["amount"], json!(100.5));
    assert!(view["processedAt"].is_string(), "{view}");

    let events = read(&bus, "transactions-events", 2).await;
    assert_eq!(events.len(), 2);
    let event = events
        .iter()
        .find(|m| m.key.as_deref() == Some(id.as_bytes()))
        .expect("keyed by transactionId");
    let event: Value = serde_json::from_slice(&event.value).expect("json");
    assert_eq!(event["status"], "PROCESSED");
    assert_eq!(event["transactionId"], id.as_str());
    assert_eq!(event["processorId"], "edalab-transactions-processor");

    // S0-05: analytics, notifications, archive.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let analytics = loop {
        let (status, body) = call(&app, "GET", "/api/v1/transactions/analytics", None).await;
        assert_eq!(status, StatusCode::OK);
        if body["totals"][0]["count"] == 2 || tokio::time::Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        analytics["totals"],
        json!([{"currency": "CAD", "count": 2, "total": "150.00"}]),
        "{analytics}"
    );
    assert_eq!(read(&bus, "notifications", 2).await.len(), 2);
    let archived: usize = std::fs::read_dir(dir.path().join("archive"))
        .expect("archive dir")
        .map(|e| {
            let path = e.expect("entry").path();
            assert!(path.to_string_lossy().ends_with(".jsonl"), "{path:?}");
            std::fs::read_to_string(path).expect("read").lines().count()
        })
        .sum();
    assert_eq!(archived, 2);

    // Invalid → 400 naming every field; missing body and bad JSON → 400 too.
    let (status, body) = call(
        &app,
        "POST",
        "/api/v1/transactions",
        Some(r#"{"amount": -5, "currency": "EURO", "accountFrom": ""}"#),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"].is_string());
    let fields: Vec<&str> = body["details"]
        .as_array()
        .expect("details")
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        ["amount", "currency", "accountFrom", "accountTo"],
        "{body}"
    );
    for bad in [None, Some("{nope")] {
        let (status, body) = call(&app, "POST", "/api/v1/transactions", bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(body["details"][0]["field"], "body", "{body}");
    }

    // Poison on the queue → fraud alerts, 3 receives, DLQ with the reason, FAILED.
    let poison = json!({"transactionId": "txn-poison", "amount": -5, "currency": "EUR",
        "accountFrom": "A", "accountTo": "B", "timestamp": "2026-02-06T10:00:00Z", "status": "PENDING"});
    bus.produce(
        "transactions",
        vec![Record::new(
            Some(b"txn-poison".to_vec()),
            poison.to_string().into_bytes(),
        )],
    )
    .await
    .expect("produce");
    let view = status_until(&app, "txn-poison", "FAILED").await;
    assert_eq!(view["status"], "FAILED", "{view}");
    assert!(
        view["error"]
            .as_str()
            .expect("error")
            .contains("Invalid amount"),
        "{view}"
    );
    let entries = dlq::list(bus.as_ref(), "transactions-dlq", 10)
        .await
        .expect("list");
    assert_eq!(entries.len(), 1);
    let entry = entries.into_iter().next().expect("one").expect("entry");
    assert_eq!(entry.attempts, 3, "S0-02 max receive count");
    assert_eq!(entry.error, "Invalid amount: must be positive");
    let alerts = read(&bus, "fraud-alerts", 3).await;
    assert_eq!(alerts.len(), 3, "one alert per failed receive");
    let alert: Value = serde_json::from_slice(&alerts[0].value).expect("json");
    assert_eq!(alert["transactionId"], "txn-poison");
    assert_eq!(alert["error"], "Invalid amount: must be positive");

    let (status, _) = call(&app, "GET", "/api/v1/transactions/txn-unknown", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    stop.send(true).expect("stop");
    pipeline.handles.join().await.expect("clean shutdown");
    embedded.close().await.expect("close");
}
