//! S2 end to end over a real folder and the embedded bus: the seed's three cases (valid →
//! PROCESSED + counter; invalid → REJECTED + DLQ + counter; duplicate → DUPLICATE +
//! counter), a redelivered file recorded once, and a restart that re-ingests nothing. The
//! S2-04 counters are read as Prometheus text from the same exporter the gateway serves at
//! `/metrics` (`metrics-exporter-prometheus`, installed once for this test binary).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is its failure

#[path = "services/pipeline_support/mod.rs"]
mod pipeline_support;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::runtime::dlq;
use edalab_bus::{Bus, ConsumerConfig, Record};
use edalab_services::intake::{self, INTAKE_DLQ, INTAKE_QUEUE, IntakeConfig};
use edalab_services::pipeline::{Env, StoreChoice};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use pipeline_support::call;
use serde_json::Value;

const VALID: &str = r#"{
  "order_id": "ORD-2026-001", "customer_id": "CUST-1001",
  "created_at": "2026-01-07T10:00:00Z", "currency": "EUR", "amount": 149.99,
  "items": [{"sku": "SKU-1", "qty": 1, "unit_price": 99.99}, {"sku": "SKU-2", "qty": 1, "unit_price": 50.00}]
}"#;
const INVALID: &str = r#"{
  "order_id": "ORD-2026-002", "customer_id": "CUST-1002",
  "created_at": "2026-01-07T10:05:00Z", "currency": "EUR", "amount": -10, "items": []
}"#;

/// Drops a file the way writers should: written aside, renamed into the inbox.
fn drop_file(data: &Path, name: &str, content: &str) {
    let aside = data.join(format!("{name}.partial"));
    std::fs::write(&aside, content).expect("write");
    std::fs::rename(&aside, intake::inbox_dir(data).join(name)).expect("rename");
}

/// Polls `uri` until `check` holds on a 200 body (60 s deadline: a loaded 2-core box).
async fn until(app: &Router, uri: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = call(app, "GET", uri, None).await;
        if (status == StatusCode::OK && check(&body)) || tokio::time::Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits (60 s at most) until `counter` reads `want`, and returns what it reads: the worker
/// counts an order once its status is committed, so a reader of the status may be first.
async fn counted(counter: &std::sync::atomic::AtomicU64, want: u64) -> u64 {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = counter.load(Ordering::Relaxed);
        if now == want || tokio::time::Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (60 s at most) until `path` exists, and says whether it does: the watcher moves a
/// file into `processed/` or `rejected/` right after queueing it, so the worker may record
/// the order's status first (seen once in CI: the status read before the move).
async fn appears(path: &std::path::Path) -> bool {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !path.exists() {
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    true
}

fn config() -> IntakeConfig {
    IntakeConfig {
        scan_interval_ms: 50,
        ..IntakeConfig::default()
    }
}

/// The value of counter `name` (no labels) in Prometheus text, if listed.
fn counter(rendered: &str, name: &str) -> Option<f64> {
    rendered.lines().find_map(|line| {
        let (key, value) = line.split_once(' ')?;
        (key == name).then(|| value.trim().parse().ok())?
    })
}

/// The three S2-04 counters as exported: (processed, rejected, duplicate).
fn exported(handle: &PrometheusHandle) -> (Option<f64>, Option<f64>, Option<f64>) {
    let text = handle.render();
    (
        counter(&text, "edalab_orders_processed_total"),
        counter(&text, "edalab_orders_rejected_total"),
        counter(&text, "edalab_orders_duplicate_total"),
    )
}

/// [`exported`] once it reads `want` (60 s at most): the event is emitted after the counter.
async fn exported_until(
    handle: &PrometheusHandle,
    want: (Option<f64>, Option<f64>, Option<f64>),
) -> (Option<f64>, Option<f64>, Option<f64>) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let now = exported(handle);
        if now == want || tokio::time::Instant::now() > deadline {
            return now;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn queued(bus: &Arc<dyn Bus>) -> u64 {
    bus.describe_topic(INTAKE_QUEUE)
        .await
        .expect("describe")
        .partitions
        .iter()
        .map(|p| p.high_watermark)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn valid_invalid_duplicate_and_restart() {
    // The only test of this binary: the process-wide recorder sees this test's orders only.
    let metrics = PrometheusBuilder::new()
        .install_recorder()
        .expect("install the Prometheus recorder");
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    let embedded = EmbeddedBus::open(data.join("bus"), LogConfig::default()).expect("bus");
    let bus: Arc<dyn Bus> = Arc::new(embedded.clone());
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = intake::start_with(
        &Env::new(bus.clone(), data, StoreChoice::Sqlite, shutdown),
        config(),
    )
    .await
    .expect("start");
    let app = intake::api::router(running.state.clone());
    let counters = running.state.counters.clone();
    // Listed from the start, at 0.
    assert_eq!(exported(&metrics), (Some(0.0), Some(0.0), Some(0.0)));

    // 1. Valid → PROCESSED + counter, file moved to processed/.
    drop_file(data, "order-001.json", VALID);
    let body = until(&app, "/api/v1/intake/orders/ORD-2026-001", |b| {
        b["status"] == "PROCESSED"
    })
    .await;
    assert_eq!(body["status"], "PROCESSED", "{body}");
    assert_eq!(body["content"]["amount"], 149.99);
    assert_eq!(counted(&counters.orders_processed_total, 1).await, 1);
    assert_eq!(
        exported_until(&metrics, (Some(1.0), Some(0.0), Some(0.0))).await,
        (Some(1.0), Some(0.0), Some(0.0))
    );
    assert!(appears(&intake::inbox_dir(data).join("processed/order-001.json")).await);

    // 2. Invalid → REJECTED + DLQ + counter, file moved to rejected/.
    drop_file(data, "order-002.json", INVALID);
    let body = until(&app, "/api/v1/intake/orders/ORD-2026-002", |b| {
        b["status"] == "REJECTED"
    })
    .await;
    assert_eq!(body["status"], "REJECTED", "{body}");
    let reasons = body["rejection_reasons"].to_string();
    assert!(
        reasons.contains("amount") && reasons.contains("items"),
        "{reasons}"
    );
    assert_eq!(counted(&counters.orders_rejected_total, 1).await, 1);
    assert_eq!(
        exported_until(&metrics, (Some(1.0), Some(1.0), Some(0.0))).await,
        (Some(1.0), Some(1.0), Some(0.0))
    );
    assert!(appears(&intake::inbox_dir(data).join("rejected/order-002.json")).await);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let entries = loop {
        let entries = dlq::list(bus.as_ref(), INTAKE_DLQ, 10).await.expect("list");
        if !entries.is_empty() || tokio::time::Instant::now() > deadline {
            break entries;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(entries.len(), 1);
    let entry = entries.into_iter().next().expect("one").expect("entry");
    assert!(entry.error.contains("REJECTED"), "{}", entry.error);

    // 3. Same order_id again → DUPLICATE + counter; the original stays PROCESSED.
    drop_file(data, "order-001-again.json", VALID);
    let body = until(&app, "/api/v1/intake/orders/ORD-2026-001", |b| {
        b["duplicates"].as_array().is_some_and(|d| !d.is_empty())
    })
    .await;
    assert_eq!(body["status"], "PROCESSED", "{body}");
    assert_eq!(body["duplicates"][0]["status"], "DUPLICATE", "{body}");
    assert_eq!(counted(&counters.orders_duplicate_total, 1).await, 1);
    assert_eq!(counters.orders_processed_total.load(Ordering::Relaxed), 1);
    assert_eq!(
        exported_until(&metrics, (Some(1.0), Some(1.0), Some(1.0))).await,
        (Some(1.0), Some(1.0), Some(1.0))
    );

    // A redelivered file (same intake_id) is recorded once.
    let mut reader = bus
        .consumer(ConsumerConfig::new(
            "test-reader",
            vec![INTAKE_QUEUE.to_owned()],
        ))
        .await
        .expect("consumer");
    let mut messages = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while messages.len() < 3 && tokio::time::Instant::now() < deadline {
        messages.extend(reader.poll(Duration::from_millis(200)).await.expect("poll"));
    }
    reader.close().await.expect("close");
    let again = messages
        .iter()
        .find(|m| m.header("file_name") == Some(b"order-001-again.json".as_slice()))
        .expect("queued duplicate");
    let mut record = Record::new(again.key.clone(), again.value.clone());
    record.headers = again.headers.clone();
    // Snapshot before producing: the worker may finish it before the next line runs.
    let done_before = running.worker_stats.snapshot().messages_done_total;
    bus.produce(INTAKE_QUEUE, vec![record])
        .await
        .expect("produce");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while running.worker_stats.snapshot().messages_done_total == done_before
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, body) = call(&app, "GET", "/api/v1/intake/orders/ORD-2026-001", None).await;
    assert_eq!(
        body["duplicates"].as_array().expect("duplicates").len(),
        1,
        "{body}"
    );
    assert_eq!(counters.orders_duplicate_total.load(Ordering::Relaxed), 1);
    assert_eq!(
        exported(&metrics),
        (Some(1.0), Some(1.0), Some(1.0)),
        "a redelivery is not counted again"
    );

    let (_, stats) = call(&app, "GET", "/api/v1/intake/stats", None).await;
    assert_eq!(stats["orders_processed_total"], 1, "{stats}");
    stop.send(true).expect("stop");
    running.handles.join().await.expect("clean shutdown");

    // Restart on the same data dir: no file is ingested again.
    let before = queued(&bus).await;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let running = intake::start_with(
        &Env::new(bus.clone(), data, StoreChoice::Sqlite, shutdown),
        config(),
    )
    .await
    .expect("restart");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(queued(&bus).await, before, "nothing re-queued");
    assert_eq!(
        running
            .state
            .counters
            .files_queued_total
            .load(Ordering::Relaxed),
        0
    );
    let app = intake::api::router(running.state.clone());
    let (status, body) = call(&app, "GET", "/api/v1/intake/orders/ORD-2026-001", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "PROCESSED", "state survived the restart");
    let (status, _) = call(&app, "GET", "/api/v1/intake/orders/ORD-404", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    stop.send(true).expect("stop");
    running.handles.join().await.expect("clean shutdown");
    embedded.close().await.expect("close");
}
