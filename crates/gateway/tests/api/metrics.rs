//! `/metrics` has every seed metric name after traffic, plus lag and DLQ depth.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use edalab_bus::port::{ConsumerConfig, Message, Producer, Record, TopicPartition};
use edalab_bus::runtime::{BatchHandler, PerMessage};
use edalab_bus::runtime::{Handler, Outcome};
use edalab_gateway::telemetry::metrics::names;
use edalab_gateway::telemetry::{InstrumentedBus, Measured, MeasuredBatch};
use reqwest::StatusCode;

use crate::{Setup, spawn_app_with};

struct FailsOnKeyBad;

#[async_trait]
impl Handler for FailsOnKeyBad {
    async fn handle(&self, message: &Message) -> Outcome {
        if message.key.as_deref() == Some(b"bad") {
            Outcome::reject("bad key")
        } else {
            Outcome::Done
        }
    }
}

#[tokio::test]
async fn metrics_have_every_seed_name_after_traffic() {
    let app = spawn_app_with(Setup {
        topics: vec![("payments", 2), ("system.dlq", 1)],
        ..Setup::default()
    })
    .await;
    let bus = InstrumentedBus::new(Arc::clone(&app.bus), "metrics-test");
    let records = ["ok", "bad", "ok"]
        .iter()
        .map(|k| Record::new(Some(k.as_bytes().to_vec()), b"{\"amount\": 1}".to_vec()))
        .collect();
    bus.produce("payments", records).await.expect("produce");
    bus.produce("system.dlq", vec![Record::new(None, b"dead".to_vec())])
        .await
        .expect("produce");

    // A service consumes them through the measured handler and commits 1 of 3.
    let handler = Measured::new("metrics-test", "metrics-test-group", FailsOnKeyBad);
    let mut consumer = app
        .bus
        .consumer(ConsumerConfig::new(
            "metrics-test-group",
            vec!["payments".to_owned()],
        ))
        .await
        .expect("consumer");
    let messages = consumer.poll(Duration::from_secs(5)).await.expect("poll");
    assert_eq!(messages.len(), 3);
    for message in &messages {
        handler.handle(message).await;
    }
    // The same messages through a measured batch handler of another service.
    let batch = MeasuredBatch::new("batch-test", "batch-test-group", PerMessage(FailsOnKeyBad));
    let outcomes = batch.handle(&messages).await;
    assert_eq!(outcomes.len(), 3);
    let first = &messages[0];
    let positions = BTreeMap::from([(
        TopicPartition {
            topic: first.topic.to_string(),
            partition: first.partition,
        },
        first.offset + 1,
    )]);
    consumer.commit(&positions).await.expect("commit");

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/plain"),
        "Prometheus text format"
    );
    let text = response.text().await.expect("text");
    for name in names::SEED {
        assert!(text.contains(name), "{name} missing from /metrics:\n{text}");
    }
    assert!(
        text.contains(
            r#"edalab_messages_produced_total{service="metrics-test",topic="payments"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"edalab_messages_consumed_total{service="metrics-test",group="metrics-test-group",topic="payments"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains("# TYPE edalab_message_latency_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("# TYPE edalab_processing_latency_seconds histogram"),
        "{text}"
    );
    assert!(
        text.contains("edalab_message_latency_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.contains(r#"edalab_processing_errors_total{service="metrics-test",group="metrics-test-group",topic="payments",outcome="reject"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"edalab_consumer_lag{{group="metrics-test-group",topic="payments",partition="{}"}}"#,
            first.partition
        )),
        "{text}"
    );
    assert!(
        text.contains(r#"edalab_dlq_depth{topic="system.dlq"} 1"#),
        "{text}"
    );
    // Bytes through the bus: 3 records of 2-3 key bytes, 13 value bytes and a traceparent
    // header (11 + 55 bytes) each, produced once and consumed twice (two wrappers).
    let record_bytes = |key: &str| key.len() + 13 + "traceparent".len() + 55;
    let produced: usize = ["ok", "bad", "ok"].iter().map(|k| record_bytes(k)).sum();
    assert!(
        text.contains(&format!(
            r#"edalab_bus_bytes_in_total{{service="metrics-test",topic="payments"}} {produced}"#
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            r#"edalab_bus_bytes_out_total{{service="metrics-test",group="metrics-test-group",topic="payments"}} {produced}"#
        )),
        "{text}"
    );
    // The process's own series, read at the scrape (CPU in whole seconds: the `metrics`
    // facade's counters are integers, so a young process may show 0).
    let value = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(&format!("{name} ")))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    for name in [
        names::PROCESS_RESIDENT_MEMORY_BYTES,
        names::PROCESS_OPEN_FDS,
        names::TOKIO_ALIVE_TASKS,
    ] {
        assert!(
            value(name).is_some_and(|v| v > 0.0),
            "{name} missing or 0 in /metrics:\n{text}"
        );
    }
    assert!(
        value(names::PROCESS_CPU_SECONDS_TOTAL).is_some(),
        "CPU missing:\n{text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn metrics_can_be_disabled() {
    let app = spawn_app_with(Setup {
        config: Some(Box::new(|c| c.metrics.enabled = false)),
        ..Setup::default()
    })
    .await;
    assert_eq!(app.get("/metrics").await.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
