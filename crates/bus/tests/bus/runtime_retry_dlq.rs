//! Retries, per-key order, the DLQ and the committed watermark, against the in-memory fake.

use crate::common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{Event, FakeBus, Running, Script, ScriptedHandler, test_config, wait_until};
use edalab_bus::port::{Message, Producer, Record, headers};
use edalab_bus::runtime::{
    BatchHandler, ConsumerRuntime, DlqEntry, DlqRouting, Outcome, PerMessage,
};

const TOPIC: &str = "orders";
const DLQ: &str = "orders-dlq";
const GROUP: &str = "workers";

async fn setup(partitions: u32) -> FakeBus {
    let bus = FakeBus::new();
    bus.topic(TOPIC, partitions).await;
    bus.topic(DLQ, 1).await;
    bus
}

fn runtime(
    bus: &FakeBus,
    scripts: &[(&str, Script)],
) -> ConsumerRuntime<PerMessage<ScriptedHandler>> {
    ConsumerRuntime::new(
        Arc::new(bus.clone()),
        test_config(GROUP, &[TOPIC], DlqRouting::to_topic(DLQ)),
        PerMessage(ScriptedHandler::new(bus, scripts)),
    )
}

fn handled(events: &[Event], key: &str) -> Vec<(u64, Outcome)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Handled {
                key: k,
                offset,
                outcome,
                ..
            } if k == key => Some((*offset, outcome.clone())),
            _ => None,
        })
        .collect()
}

fn index_of(events: &[Event], pred: impl Fn(&Event) -> bool) -> usize {
    events.iter().position(pred).expect("event not found")
}

#[tokio::test(start_paused = true)]
async fn poison_goes_to_dlq_after_budget_while_other_keys_flow() {
    let bus = setup(1).await;
    let poison = Record::new(Some(b"p".to_vec()), b"bad payload".to_vec())
        .with_header(headers::TRACEPARENT, "00-abc-def-01")
        .with_header(headers::EVENT_ID, "evt-p");
    bus.produce(TOPIC, vec![poison]).await.unwrap();
    let others: Vec<(String, String)> = (0..20)
        .map(|i| (format!("k{i}"), format!("v{i}")))
        .collect();
    let pairs: Vec<(&str, &str)> = others
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    bus.send(TOPIC, &pairs).await;

    let running = Running::spawn(runtime(&bus, &[("p", Script::Poison)]));
    wait_until("the poison is dead-lettered", || {
        bus.messages(DLQ).len() == 1
    })
    .await;
    let summary = running.stop().await;

    let events = bus.events();
    // Budget: 3 deliveries, all Retry.
    let poison_calls = handled(&events, "p");
    assert_eq!(poison_calls.len(), 3, "{poison_calls:?}");
    assert!(
        poison_calls
            .iter()
            .all(|(o, out)| *o == 0 && matches!(out, Outcome::Retry(_)))
    );

    // Other keys were all processed before the poison reached the DLQ.
    let dlq_at = index_of(
        &events,
        |e| matches!(e, Event::Produced { topic, .. } if topic == DLQ),
    );
    for i in 0..20 {
        let key = format!("k{i}");
        let at = index_of(
            &events,
            |e| matches!(e, Event::Handled { key: k, .. } if *k == key),
        );
        assert!(
            at < dlq_at,
            "{key} handled after the poison was dead-lettered"
        );
    }

    // The DLQ message: original payload, key and headers, plus every dlq header.
    let dead = &bus.messages(DLQ)[0];
    assert_eq!(dead.key.as_deref(), Some(&b"p"[..]));
    assert_eq!(dead.value, b"bad payload");
    assert_eq!(
        dead.header(headers::TRACEPARENT),
        Some(&b"00-abc-def-01"[..])
    );
    assert_eq!(dead.header(headers::EVENT_ID), Some(&b"evt-p"[..]));
    let entry = DlqEntry::parse(dead).unwrap();
    assert_eq!(entry.error, "p is poison");
    assert_eq!(entry.attempts, 3);
    assert_eq!(entry.origin_topic, TOPIC);
    assert_eq!(entry.origin_partition, 0);
    assert_eq!(entry.origin_offset, 0);
    assert_eq!(entry.group, GROUP);
    assert!(entry.first_failure_ms <= entry.last_failure_ms);
    assert!(entry.first_failure_ms > 0);
    for name in [
        headers::DLQ_ERROR,
        headers::DLQ_ATTEMPTS,
        headers::DLQ_ORIGIN_TOPIC,
        headers::DLQ_ORIGIN_PARTITION,
        headers::DLQ_ORIGIN_OFFSET,
        headers::DLQ_GROUP,
        headers::DLQ_FIRST_FAILURE_MS,
        headers::DLQ_LAST_FAILURE_MS,
    ] {
        assert!(dead.header(name).is_some(), "missing {name}");
    }

    assert_eq!(summary.stats.messages_dead_lettered_total, 1);
    assert_eq!(summary.stats.messages_done_total, 20);
    assert_eq!(summary.stats.retries_total, 2);
    assert_eq!(bus.committed(GROUP, TOPIC, 0), Some(21));
}

#[tokio::test(start_paused = true)]
async fn per_key_order_is_kept_under_retry() {
    let bus = setup(1).await;
    // a@0 fails twice before it succeeds; a@2 and a@4 must wait behind it; b flows.
    bus.send(
        TOPIC,
        &[("a", "1"), ("b", "1"), ("a", "2"), ("b", "2"), ("a", "3")],
    )
    .await;
    let running = Running::spawn(runtime(&bus, &[("a", Script::FailTimes(2))]));
    wait_until("all done", || {
        running.stats.snapshot().messages_done_total == 5
    })
    .await;
    running.stop().await;

    let events = bus.events();
    let a = handled(&events, "a");
    let offsets: Vec<u64> = a.iter().map(|(o, _)| *o).collect();
    assert_eq!(offsets, vec![0, 0, 0, 2, 4], "key a out of order: {a:?}");
    assert_eq!(a[2].1, Outcome::Done);
    // b was not held back by a's retries.
    let b_last = events
        .iter()
        .rposition(|e| matches!(e, Event::Handled { key, .. } if key == "b"))
        .unwrap();
    let a_done = index_of(
        &events,
        |e| matches!(e, Event::Handled { key, outcome: Outcome::Done, .. } if key == "a"),
    );
    assert!(b_last < a_done, "b waited for a's retries");
    assert!(bus.messages(DLQ).is_empty());
}

#[tokio::test(start_paused = true)]
async fn reject_goes_to_dlq_at_once_without_retry() {
    let bus = setup(1).await;
    bus.send(TOPIC, &[("r", "garbage"), ("ok", "fine")]).await;
    let running = Running::spawn(runtime(&bus, &[("r", Script::Reject)]));
    wait_until("dead-lettered", || bus.messages(DLQ).len() == 1).await;
    let summary = running.stop().await;

    assert_eq!(handled(&bus.events(), "r").len(), 1);
    let entry = DlqEntry::parse(&bus.messages(DLQ)[0]).unwrap();
    assert_eq!(entry.error, "r is invalid");
    assert_eq!(entry.attempts, 1);
    assert_eq!(entry.first_failure_ms, entry.last_failure_ms);
    assert_eq!(summary.stats.messages_rejected_total, 1);
    assert_eq!(summary.stats.retries_total, 0);
    assert_eq!(bus.committed(GROUP, TOPIC, 0), Some(2));
}

#[tokio::test(start_paused = true)]
async fn retry_then_success_is_done_not_dead_lettered() {
    let bus = setup(1).await;
    bus.send(TOPIC, &[("f", "1")]).await;
    let running = Running::spawn(runtime(&bus, &[("f", Script::FailTimes(2))]));
    wait_until("done", || running.stats.snapshot().messages_done_total == 1).await;
    let summary = running.stop().await;

    let calls = handled(&bus.events(), "f");
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[2].1, Outcome::Done);
    assert!(bus.messages(DLQ).is_empty());
    assert_eq!(summary.stats.retries_total, 2);
    assert_eq!(summary.stats.messages_dead_lettered_total, 0);
    assert_eq!(bus.committed(GROUP, TOPIC, 0), Some(1));
}

#[tokio::test(start_paused = true)]
async fn committed_position_never_passes_an_unfinished_message() {
    let bus = setup(2).await;
    let mut pairs = Vec::new();
    let keys: Vec<String> = (0..40).map(|i| format!("k{}", i % 8)).collect();
    for (i, key) in keys.iter().enumerate() {
        pairs.push((key.as_str(), if i % 5 == 0 { "x" } else { "y" }));
    }
    bus.send(TOPIC, &pairs).await;
    let scripts = [
        ("k1", Script::Poison),
        ("k3", Script::FailTimes(2)),
        ("k5", Script::Reject),
        ("k6", Script::FailTimes(1)),
    ];
    let mut config = test_config(GROUP, &[TOPIC], DlqRouting::to_topic(DLQ));
    config.batch_size_max = 3;
    let runtime = ConsumerRuntime::new(
        Arc::new(bus.clone()),
        config,
        PerMessage(ScriptedHandler::new(&bus, &scripts)),
    );
    let running = Running::spawn(runtime);
    wait_until("everything finished", || {
        let s = running.stats.snapshot();
        s.messages_done_total + s.messages_dead_lettered_total == 40
    })
    .await;
    running.stop().await;

    // Replay the journal: a commit of offset c on a partition requires every offset below c
    // to be finished (Done, or its DLQ record produced) earlier in the journal.
    let dlq_messages = bus.messages(DLQ);
    let mut finished: BTreeMap<(u32, u64), ()> = BTreeMap::new();
    let mut commits = 0;
    for event in bus.events() {
        match event {
            Event::Handled {
                partition,
                offset,
                outcome: Outcome::Done,
                ..
            } => {
                finished.insert((partition, offset), ());
            }
            Event::Produced {
                topic,
                partition,
                offset,
                ..
            } if topic == DLQ => {
                let dead = dlq_messages
                    .iter()
                    .find(|m| m.partition == partition && m.offset == offset)
                    .unwrap();
                let entry = DlqEntry::parse(dead).unwrap();
                finished.insert((entry.origin_partition, entry.origin_offset), ());
            }
            Event::Committed { tp, offset, .. } => {
                commits += 1;
                for o in 0..offset {
                    assert!(
                        finished.contains_key(&(tp.partition, o)),
                        "committed {offset} on partition {} before {o} was finished",
                        tp.partition
                    );
                }
            }
            _ => {}
        }
    }
    assert!(commits > 2);
    let total: u64 = (0..2)
        .map(|p| bus.committed(GROUP, TOPIC, p).unwrap_or(0))
        .sum();
    assert_eq!(total, 40);
}

/// A batch handler that panics on its first call.
struct PanicsOnce {
    calls: Mutex<u32>,
}

#[async_trait]
impl BatchHandler for PanicsOnce {
    async fn handle(&self, batch: &[Message]) -> Vec<Outcome> {
        let first = {
            let mut calls = self.calls.lock().unwrap();
            *calls += 1;
            *calls == 1
        };
        assert!(!first, "injected panic in the batch handler");
        vec![Outcome::Done; batch.len()]
    }
}

#[tokio::test(start_paused = true)]
async fn batch_handler_panic_is_retried_not_fatal() {
    let bus = setup(1).await;
    bus.send(TOPIC, &[("a", "1"), ("b", "2")]).await;
    let handler = Arc::new(PanicsOnce {
        calls: Mutex::new(0),
    });
    let runtime = ConsumerRuntime::new(
        Arc::new(bus.clone()),
        test_config(GROUP, &[TOPIC], DlqRouting::to_topic(DLQ)),
        Arc::clone(&handler),
    );
    let running = Running::spawn(runtime);
    wait_until("done after the panic", || {
        running.stats.snapshot().messages_done_total == 2
    })
    .await;
    let summary = running.stop().await;
    assert_eq!(summary.stats.handler_panics_total, 1);
    assert_eq!(summary.stats.retries_total, 2);
    assert!(bus.messages(DLQ).is_empty());
    assert_eq!(bus.committed(GROUP, TOPIC, 0), Some(2));
}

#[tokio::test(start_paused = true)]
async fn per_message_panic_is_a_retry_of_that_message() {
    let bus = setup(1).await;
    bus.send(TOPIC, &[("x", "1"), ("y", "2")]).await;
    let running = Running::spawn(runtime(&bus, &[("x", Script::PanicTimes(1))]));
    wait_until("done", || running.stats.snapshot().messages_done_total == 2).await;
    let summary = running.stop().await;
    assert_eq!(summary.stats.retries_total, 1);
    assert!(bus.messages(DLQ).is_empty());
}

#[tokio::test(start_paused = true)]
async fn in_flight_bound_pauses_the_partition_and_loses_nothing() {
    let bus = setup(1).await;
    // p@0 fails 3 times (dead-lettered); the later p messages and the others must all be
    // handled exactly once although only 3 messages may be held at a time.
    let mut pairs = vec![("p", "0"); 6];
    let others: Vec<String> = (0..10).map(|i| format!("q{i}")).collect();
    pairs.extend(others.iter().map(|k| (k.as_str(), "v")));
    bus.send(TOPIC, &pairs).await;
    let mut config = test_config(GROUP, &[TOPIC], DlqRouting::to_topic(DLQ));
    config.in_flight_messages_max = 3;
    let handler = ScriptedHandler::new(&bus, &[("p", Script::FailTimes(3))]);
    let runtime = ConsumerRuntime::new(Arc::new(bus.clone()), config, PerMessage(handler));
    let running = Running::spawn(runtime);
    wait_until("all finished", || {
        let s = running.stats.snapshot();
        s.messages_done_total + s.messages_dead_lettered_total == 16
    })
    .await;
    let summary = running.stop().await;

    assert_eq!(
        summary.stats.messages_fetched_total, 16,
        "a re-read was counted twice"
    );
    assert_eq!(summary.stats.messages_dead_lettered_total, 1);
    let mut done: Vec<u64> = bus
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::Handled {
                offset,
                outcome: Outcome::Done,
                ..
            } => Some(*offset),
            _ => None,
        })
        .collect();
    let count = done.len();
    done.sort_unstable();
    done.dedup();
    assert_eq!(done.len(), count, "a message was handled twice");
    assert_eq!(done, (1..16).collect::<Vec<u64>>());
    assert_eq!(bus.committed(GROUP, TOPIC, 0), Some(16));
}

#[tokio::test(start_paused = true)]
async fn dlq_produce_failure_holds_the_commit_until_it_succeeds() {
    let bus = setup(1).await;
    bus.send(TOPIC, &[("r", "bad"), ("ok", "good")]).await;
    bus.fail_produce_to(Some(DLQ));
    let running = Running::spawn(runtime(&bus, &[("r", Script::Reject)]));
    wait_until("ok handled", || {
        running.stats.snapshot().messages_done_total == 1
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    assert!(bus.messages(DLQ).is_empty());
    assert_eq!(
        bus.committed(GROUP, TOPIC, 0).unwrap_or(0),
        0,
        "committed past a message not yet in the DLQ"
    );
    bus.fail_produce_to(None);
    wait_until("dead-lettered", || bus.messages(DLQ).len() == 1).await;
    running.stop().await;
    assert_eq!(bus.committed(GROUP, TOPIC, 0), Some(2));
    // Rejected once: the produce retries are not handler attempts.
    assert_eq!(DlqEntry::parse(&bus.messages(DLQ)[0]).unwrap().attempts, 1);
}

#[tokio::test(start_paused = true)]
async fn per_topic_dlq_routing() {
    let bus = FakeBus::new();
    bus.topic("transactions", 1).await;
    bus.topic("transactions-dlq", 1).await;
    bus.topic("accounts", 1).await;
    bus.topic("system.dlq", 1).await;
    bus.send("transactions", &[("bad", "1")]).await;
    bus.send("accounts", &[("bad", "2")]).await;
    let routing = DlqRouting::to_topic("system.dlq").route("transactions", "transactions-dlq");
    let runtime = ConsumerRuntime::new(
        Arc::new(bus.clone()),
        test_config(GROUP, &["transactions", "accounts"], routing),
        PerMessage(ScriptedHandler::new(&bus, &[("bad", Script::Reject)])),
    );
    let running = Running::spawn(runtime);
    wait_until("both dead-lettered", || {
        bus.messages("transactions-dlq").len() == 1 && bus.messages("system.dlq").len() == 1
    })
    .await;
    running.stop().await;
    let t = DlqEntry::parse(&bus.messages("transactions-dlq")[0]).unwrap();
    let a = DlqEntry::parse(&bus.messages("system.dlq")[0]).unwrap();
    assert_eq!(t.origin_topic, "transactions");
    assert_eq!(a.origin_topic, "accounts");
}

#[tokio::test(start_paused = true)]
async fn missing_dlq_is_a_configuration_error() {
    let bus = setup(1).await;
    let runtime = ConsumerRuntime::new(
        Arc::new(bus.clone()),
        test_config(GROUP, &[TOPIC], DlqRouting::default()),
        PerMessage(ScriptedHandler::new(&bus, &[])),
    );
    let error = runtime.run(std::future::pending()).await.unwrap_err();
    assert!(error.to_string().contains("orders"), "{error}");

    let runtime = ConsumerRuntime::new(
        Arc::new(bus.clone()),
        test_config(GROUP, &[TOPIC], DlqRouting::to_topic("nope-dlq")),
        PerMessage(ScriptedHandler::new(&bus, &[])),
    );
    let error = runtime.run(std::future::pending()).await.unwrap_err();
    assert!(error.to_string().contains("nope-dlq"), "{error}");
}
