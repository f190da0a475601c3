//! DLQ list/show and redrive: back to origin, attempts reset, bounded rate, not twice.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use common::{Event, FakeBus, Running, Script, ScriptedHandler, test_config, wait_until};
use edalab_bus::port::{Message, Producer, Record, headers};
use edalab_bus::runtime::dlq::{self, Failure, dead_letter_record};
use edalab_bus::runtime::{
    ConsumerRuntime, DlqRouting, PerMessage, RedriveFilter, RedriveReport, list_pending,
    pending_depth, redrive,
};
use tokio::time::Instant;

const DLQ: &str = "transactions-dlq";

/// Puts `count` dead letters of `origin` (keys `<prefix>0..`) into the DLQ.
async fn dead_letters(bus: &FakeBus, origin: &str, prefix: &str, count: u64) {
    let records: Vec<Record> = (0..count)
        .map(|i| {
            let message = Message {
                topic: Arc::from(origin),
                partition: 0,
                offset: i,
                key: Some(format!("{prefix}{i}").into_bytes()),
                value: format!("payload {i}").into_bytes(),
                headers: vec![
                    (
                        headers::EVENT_ID.to_owned(),
                        format!("evt-{prefix}{i}").into_bytes(),
                    ),
                    (headers::ATTEMPT.to_owned(), b"3".to_vec()),
                ],
                timestamp_ms: 1_000,
            };
            let failure = Failure {
                error: format!("boom {i}"),
                attempts: 3,
                first_failure_ms: 2_000,
                last_failure_ms: 3_000,
            };
            dead_letter_record(&message, "processors", &failure)
        })
        .collect();
    bus.produce(DLQ, records).await.unwrap();
}

async fn setup() -> FakeBus {
    let bus = FakeBus::new();
    bus.topic("transactions", 3).await;
    bus.topic("accounts", 1).await;
    bus.topic(DLQ, 2).await;
    bus
}

#[tokio::test(start_paused = true)]
async fn list_and_show_parse_the_reasons() {
    let bus = setup().await;
    dead_letters(&bus, "transactions", "t", 4).await;
    bus.produce(DLQ, vec![Record::new(None, b"not a dead letter".to_vec())])
        .await
        .unwrap();

    let entries = dlq::list(&bus, DLQ, 100).await.unwrap();
    assert_eq!(entries.len(), 5);
    let (ok, bad): (Vec<_>, Vec<_>) = entries.into_iter().partition(Result::is_ok);
    assert_eq!(bad.len(), 1);
    let first = ok.into_iter().next().unwrap().unwrap();
    assert!(first.error.starts_with("boom"));
    assert_eq!(first.attempts, 3);
    assert_eq!(first.origin_topic, "transactions");
    assert_eq!(first.group, "processors");
    assert_eq!(
        (first.first_failure_ms, first.last_failure_ms),
        (2_000, 3_000)
    );
    assert!(first.headers.iter().all(|(n, _)| !n.starts_with("dlq.")));

    assert_eq!(dlq::list(&bus, DLQ, 2).await.unwrap().len(), 2);

    let shown = dlq::show(&bus, DLQ, first.dlq_partition, first.dlq_offset)
        .await
        .unwrap()
        .expect("found")
        .unwrap();
    assert_eq!(shown, first);
    assert!(dlq::show(&bus, DLQ, 0, 999).await.unwrap().is_none());
}

#[tokio::test(start_paused = true)]
async fn redrive_brings_messages_back_with_attempts_reset_and_only_once() {
    let bus = setup().await;
    dead_letters(&bus, "transactions", "t", 5).await;

    let report = redrive(&bus, DLQ, &RedriveFilter::all(), 1_000)
        .await
        .unwrap();
    assert_eq!(
        report,
        RedriveReport {
            scanned: 5,
            redriven: 5,
            skipped: 0,
            invalid: 0
        }
    );
    let back = bus.messages("transactions");
    assert_eq!(back.len(), 5);
    for message in &back {
        assert!(
            message.headers.iter().all(|(n, _)| !n.starts_with("dlq.")),
            "{message:?}"
        );
        assert!(
            message.header(headers::ATTEMPT).is_none(),
            "attempts not reset"
        );
        let key = String::from_utf8(message.key.clone().unwrap()).unwrap();
        let i: u64 = key[1..].parse().unwrap();
        assert_eq!(message.value, format!("payload {i}").into_bytes());
        assert_eq!(
            message.header(headers::EVENT_ID),
            Some(format!("evt-t{i}").as_bytes())
        );
    }

    // A re-run sends nothing again; a new dead letter is picked up by the next run.
    let again = redrive(&bus, DLQ, &RedriveFilter::all(), 1_000)
        .await
        .unwrap();
    assert_eq!(again.redriven, 0);
    dead_letters(&bus, "transactions", "n", 1).await;
    let next = redrive(&bus, DLQ, &RedriveFilter::all(), 1_000)
        .await
        .unwrap();
    assert_eq!(next.redriven, 1);
    assert_eq!(bus.messages("transactions").len(), 6);
}

#[tokio::test(start_paused = true)]
async fn depth_and_pending_list_count_only_what_was_not_redriven() {
    let bus = setup().await;
    assert_eq!(pending_depth(&bus, DLQ).await.unwrap(), 0);
    assert!(list_pending(&bus, DLQ, 100).await.unwrap().is_empty());
    dead_letters(&bus, "transactions", "t", 3).await;
    assert_eq!(pending_depth(&bus, DLQ).await.unwrap(), 3);
    let pending = list_pending(&bus, DLQ, 100).await.unwrap();
    assert_eq!(pending.len(), 3);
    assert_eq!(list_pending(&bus, DLQ, 2).await.unwrap().len(), 2);

    let report = redrive(&bus, DLQ, &RedriveFilter::all(), 1_000)
        .await
        .unwrap();
    assert_eq!(report.redriven, 3);
    assert_eq!(pending_depth(&bus, DLQ).await.unwrap(), 0);
    assert!(list_pending(&bus, DLQ, 100).await.unwrap().is_empty());
    // The log keeps them: the full listing still shows all three.
    assert_eq!(dlq::list(&bus, DLQ, 100).await.unwrap().len(), 3);

    // A new dead letter is pending, alone, with its reason.
    dead_letters(&bus, "transactions", "n", 1).await;
    assert_eq!(pending_depth(&bus, DLQ).await.unwrap(), 1);
    let pending: Vec<_> = list_pending(&bus, DLQ, 100)
        .await
        .unwrap()
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].key_text().as_deref(), Some("n0"));
    assert_eq!(pending[0].error, "boom 0");
    assert_eq!(pending[0].value_json(), serde_json::json!("payload 0"));
}

#[tokio::test(start_paused = true)]
async fn redrive_filters_by_origin_topic_and_positions() {
    let bus = setup().await;
    dead_letters(&bus, "transactions", "t", 3).await;
    dead_letters(&bus, "accounts", "a", 2).await;

    let report = redrive(&bus, DLQ, &RedriveFilter::origin("accounts"), 100)
        .await
        .unwrap();
    assert_eq!((report.redriven, report.skipped), (2, 3));
    assert_eq!(bus.messages("accounts").len(), 2);
    assert!(bus.messages("transactions").is_empty());

    let target = dlq::list(&bus, DLQ, 100)
        .await
        .unwrap()
        .into_iter()
        .flatten()
        .find(|e| e.origin_topic == "transactions")
        .unwrap();
    let filter = RedriveFilter {
        origin_topic: None,
        dlq_positions: Some(vec![(target.dlq_partition, target.dlq_offset)]),
    };
    let report = redrive(&bus, DLQ, &filter, 100).await.unwrap();
    assert_eq!(report.redriven, 1);
    assert_eq!(bus.messages("transactions").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn redrive_respects_the_rate_bound() {
    let bus = setup().await;
    dead_letters(&bus, "transactions", "t", 25).await;
    let start = Instant::now();
    let report = redrive(&bus, DLQ, &RedriveFilter::all(), 10).await.unwrap();
    assert_eq!(report.redriven, 25);

    // Count-based: the k-th redriven message (from 0) was produced no earlier than k/10 s
    // after the start (virtual time: exact, not load-dependent).
    let times: Vec<Instant> = bus
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Produced { topic, at, .. } if topic == "transactions" => Some(at),
            _ => None,
        })
        .collect();
    assert_eq!(times.len(), 25);
    for (k, at) in times.iter().enumerate() {
        let earliest = start + Duration::from_millis(100 * k as u64);
        assert!(
            *at >= earliest,
            "message {k} sent {:?} after start",
            *at - start
        );
    }
    // And no one-second window carried more than rate + one chunk.
    for (i, t0) in times.iter().enumerate() {
        let in_window = times[i..]
            .iter()
            .filter(|t| **t < *t0 + Duration::from_secs(1))
            .count();
        assert!(in_window <= 11, "{in_window} messages within one second");
    }
}

#[tokio::test(start_paused = true)]
async fn poison_to_dlq_then_redrive_then_done() {
    let bus = FakeBus::new();
    bus.topic("orders", 1).await;
    bus.topic("orders-dlq", 1).await;
    bus.send("orders", &[("p", "1"), ("q", "2")]).await;

    // First the handler rejects p...
    let runtime = ConsumerRuntime::new(
        Arc::new(bus.clone()),
        test_config("g", &["orders"], DlqRouting::to_topic("orders-dlq")),
        PerMessage(ScriptedHandler::new(&bus, &[("p", Script::Poison)])),
    );
    let running = Running::spawn(runtime);
    wait_until("dead-lettered", || bus.messages("orders-dlq").len() == 1).await;
    running.stop().await;

    // ...then it is fixed, and the message is redriven and handled.
    let report = redrive(&bus, "orders-dlq", &RedriveFilter::all(), 10)
        .await
        .unwrap();
    assert_eq!(report.redriven, 1);
    let runtime = ConsumerRuntime::new(
        Arc::new(bus.clone()),
        test_config("g", &["orders"], DlqRouting::to_topic("orders-dlq")),
        PerMessage(ScriptedHandler::new(&bus, &[])),
    );
    let running = Running::spawn(runtime);
    wait_until("redriven message done", || {
        running.stats.snapshot().messages_done_total == 1
    })
    .await;
    running.stop().await;
    assert_eq!(bus.messages("orders-dlq").len(), 1);
    assert_eq!(bus.committed("g", "orders", 0), Some(3));
}
