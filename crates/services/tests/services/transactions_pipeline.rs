//! S0 end to end through the real router and the embedded bus (S0-07): a valid transaction
//! reaches `transactions-events` and the S0-05 consumers; an invalid one is a 400 naming
//! each field; a poison one ends in `transactions-dlq` with its reason after 3 receives,
//! with fraud alerts on the way, and its status reads FAILED.

use crate::pipeline_support;

use pipeline_support::{call, post, read};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
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
    let (dir, embedded, bus) = pipeline_support::scratch_bus();
    // S0-04: topic creation is idempotent, also before start.
    transactions::create_topics(bus.as_ref())
        .await
        .expect("topics");
    transactions::create_topics(bus.as_ref())
        .await
        .expect("topics again");
    let (stop, env) = pipeline_support::sqlite_env(&bus, dir.path());
    let pipeline = transactions::start(&env).await.expect("start");
    let app = transactions::api::router(pipeline.state.clone());

    // Valid → 202 PENDING → PROCESSED, on transactions-events keyed by transactionId.
    let seed = json!({"amount": 100.50, "currency": "CAD", "accountFrom": "ACC-12345", "accountTo": "ACC-67890"});
    let (status, body) = post(&app, "/api/v1/transactions", &seed).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["status"], "PENDING");
    assert!(body["message"].is_string(), "{body}");
    let id = body["transactionId"]
        .as_str()
        .expect("transactionId")
        .to_owned();
    assert!(id.starts_with("txn-"), "{id}");
    let second = json!({"amount": 49.5, "currency": "CAD", "accountFrom": "A", "accountTo": "B"});
    let (status, _) = post(&app, "/api/v1/transactions", &second).await;
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
    let fields = pipeline_support::fields(&body);
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

/// Messages on `topic` (sum of the high watermarks).
async fn on_topic(bus: &Arc<dyn Bus>, topic: &str) -> u64 {
    bus.describe_topic(topic)
        .await
        .expect("describe")
        .partitions
        .iter()
        .map(|p| p.high_watermark)
        .sum()
}

/// Archive lines per file name.
fn archive_lines(dir: &std::path::Path) -> std::collections::BTreeMap<String, Vec<Value>> {
    std::fs::read_dir(dir.join("archive"))
        .expect("archive dir")
        .map(|e| {
            let path = e.expect("entry").path();
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned();
            let lines = std::fs::read_to_string(&path)
                .expect("read")
                .lines()
                .map(|l| serde_json::from_str(l).expect("a JSON line"))
                .collect();
            (name, lines)
        })
        .collect()
}

async fn analytics_until_count(app: &Router, count: u64) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = call(app, "GET", "/api/v1/transactions/analytics", None).await;
        assert_eq!(status, StatusCode::OK);
        let counted: u64 = body["totals"]
            .as_array()
            .map(|t| t.iter().filter_map(|c| c["count"].as_u64()).sum())
            .unwrap_or(0);
        if counted >= count || tokio::time::Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Moves `group`'s committed position on every partition of `topic` back to 0 (what an
/// operator's offset reset does), with no other member running.
async fn reset_group(bus: &Arc<dyn Bus>, group: &str, topic: &str, partitions: usize) {
    let mut consumer = bus
        .consumer(edalab_bus::ConsumerConfig::new(
            group,
            vec![topic.to_owned()],
        ))
        .await
        .expect("consumer");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while consumer.assignment().len() < partitions {
        assert!(tokio::time::Instant::now() < deadline, "never assigned");
        consumer
            .poll(Duration::from_millis(100))
            .await
            .expect("poll");
    }
    let positions = consumer
        .assignment()
        .into_iter()
        .map(|tp| (tp, 0))
        .collect();
    consumer.commit(&positions).await.expect("commit 0");
    consumer.close().await.expect("close");
}

/// S0-05 effects under redelivery: the group's position reset to 0 (every event delivered
/// again) and the same events produced a second time at new offsets (a processor retry, a
/// redrive). Totals, archive lines and notifications stay as after the first delivery.
/// Time comes from a manual clock, so ids, timestamps and archive file names are exact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s0_05_effects_happen_once_under_redelivery_with_exact_times() {
    use chrono::{TimeZone, Utc};
    use edalab_services::pipeline::{ManualClock, SharedClock};

    let (dir, embedded, bus) = pipeline_support::scratch_bus();
    let day_one = Utc
        .with_ymd_and_hms(2026, 2, 6, 10, 0, 0)
        .single()
        .expect("date");
    let clock = ManualClock::fixed(day_one);
    let (stop, env) = pipeline_support::sqlite_env(&bus, dir.path());
    let pipeline = transactions::start(&env.with_clock(SharedClock::new(clock.clone())))
        .await
        .expect("start");
    let app = transactions::api::router(pipeline.state.clone());

    let submit = |amount: f64, currency: &'static str| {
        let app = app.clone();
        async move {
            let body = json!({"amount": amount, "currency": currency, "accountFrom": "ACC-1", "accountTo": "ACC-2"});
            let (status, body) = post(&app, "/api/v1/transactions", &body).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{body}");
            body["transactionId"].as_str().expect("id").to_owned()
        }
    };
    let first = submit(100.0, "EUR").await;
    let second = submit(20.25, "CAD").await;
    // The id embeds the clock's time (`txn-<unix millis>-<suffix>`), the record its timestamp.
    let prefix = format!("txn-{}-", day_one.timestamp_millis());
    assert!(first.starts_with(&prefix), "{first} starts with {prefix}");
    for id in [&first, &second] {
        let view = status_until(&app, id, "PROCESSED").await;
        assert_eq!(view["timestamp"], "2026-02-06T10:00:00.000Z", "{view}");
        assert_eq!(view["processedAt"], "2026-02-06T10:00:00.000Z", "{view}");
    }
    // The consumers' last effect (analytics) done for both before the clock moves on.
    analytics_until_count(&app, 2).await;
    // The next day: a third transaction lands in the next day's archive file.
    clock.advance(Duration::from_secs(24 * 3600));
    let third = submit(50.5, "EUR").await;
    assert!(
        third.starts_with(&format!(
            "txn-{}-",
            (day_one + chrono::Duration::days(1)).timestamp_millis()
        )),
        "{third}"
    );
    let view = status_until(&app, &third, "PROCESSED").await;
    assert_eq!(view["processedAt"], "2026-02-07T10:00:00.000Z", "{view}");

    let expected_totals = json!([
        {"currency": "CAD", "count": 1, "total": "20.25"},
        {"currency": "EUR", "count": 2, "total": "150.50"},
    ]);
    let analytics = analytics_until_count(&app, 3).await;
    assert_eq!(analytics["totals"], expected_totals, "{analytics}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while (on_topic(&bus, "notifications").await < 3
        || archive_lines(dir.path())
            .values()
            .map(Vec::len)
            .sum::<usize>()
            < 3)
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let archive = archive_lines(dir.path());
    assert_eq!(
        archive.keys().collect::<Vec<_>>(),
        [
            "transactions-2026-02-06.jsonl",
            "transactions-2026-02-07.jsonl"
        ]
    );
    assert_eq!(archive["transactions-2026-02-06.jsonl"].len(), 2);
    assert_eq!(archive["transactions-2026-02-07.jsonl"].len(), 1);
    assert_eq!(
        archive["transactions-2026-02-07.jsonl"][0]["transactionId"],
        third.as_str()
    );
    let notifications = read(&bus, "notifications", 3).await;
    assert_eq!(notifications.len(), 3);
    // Each notification: the clock's time, an id derived from its transaction, as header too.
    let mut stamped: Vec<(String, String)> = notifications
        .iter()
        .map(|m| {
            let note: Value = serde_json::from_slice(&m.value).expect("json");
            let id = note["notificationId"].as_str().expect("id").to_owned();
            assert_eq!(
                m.header("event_id"),
                Some(id.as_bytes()),
                "the id is the event_id header"
            );
            let id: uuid::Uuid = id.parse().expect("a UUID");
            assert_eq!(id.get_version_num(), 5, "derived from the transactionId");
            (
                note["transactionId"].as_str().expect("txn").to_owned(),
                note["timestamp"].as_str().expect("timestamp").to_owned(),
            )
        })
        .collect();
    stamped.sort();
    let mut want = vec![
        (first.clone(), "2026-02-06T10:00:00.000Z".to_owned()),
        (second.clone(), "2026-02-06T10:00:00.000Z".to_owned()),
        (third.clone(), "2026-02-07T10:00:00.000Z".to_owned()),
    ];
    want.sort();
    assert_eq!(stamped, want);
    stop.send(true).expect("stop");
    pipeline.handles.join().await.expect("clean shutdown");

    // Redelivery, twice over: the group starts again from offset 0, and a copy of every
    // event (same transactionId, new offset) follows.
    let events = read(&bus, "transactions-events", 3).await;
    assert_eq!(events.len(), 3);
    reset_group(
        &bus,
        transactions::CONSUMERS_GROUP,
        "transactions-events",
        3,
    )
    .await;
    for event in &events {
        let mut copy = Record::new(event.key.clone(), event.value.clone());
        copy.headers = event.headers.clone();
        bus.produce("transactions-events", vec![copy])
            .await
            .expect("produce a copy");
    }
    let (stop, env) = pipeline_support::sqlite_env(&bus, dir.path());
    let pipeline = transactions::start(&env.with_clock(SharedClock::new(clock.clone())))
        .await
        .expect("restart");
    let app = transactions::api::router(pipeline.state.clone());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while pipeline.consumers_stats.snapshot().messages_done_total < 6
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        pipeline.consumers_stats.snapshot().messages_done_total,
        6,
        "3 redelivered + 3 copies handled"
    );

    let (_, analytics) = call(&app, "GET", "/api/v1/transactions/analytics", None).await;
    assert_eq!(analytics["totals"], expected_totals, "{analytics}");
    assert_eq!(
        archive_lines(dir.path()),
        archive,
        "no archive line written again"
    );
    assert_eq!(
        on_topic(&bus, "notifications").await,
        3,
        "no notification sent again"
    );
    use std::sync::atomic::Ordering::Relaxed;
    let counters = &pipeline.state.counters;
    assert_eq!(counters.archived_total.load(Relaxed), 0);
    assert_eq!(counters.notifications_total.load(Relaxed), 0);

    stop.send(true).expect("stop");
    pipeline.handles.join().await.expect("clean shutdown");
    embedded.close().await.expect("close");
}
