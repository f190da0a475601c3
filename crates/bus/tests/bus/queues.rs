//! `BusQueues` over the embedded log: `ensure` creates the queue and DLQ topics and refuses
//! other settings, and `consume` runs a handler with the runtime, dead-letters a rejected
//! message once and calls `on_dead_letter` with its reason.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::runtime::{Handler, Outcome, RuntimeConfig};
use edalab_bus::{
    Admin, BusError, BusQueues, ConsumerConfig, DeadLetter, Message, QueueConsumer, QueueSpec,
    Queues, Record, on_dead_letter,
};
use tokio::sync::watch;

const QUEUE: &str = "transactions";
const DLQ: &str = "transactions-dlq";

fn queues(bus: &EmbeddedBus) -> BusQueues {
    let mut runtime = RuntimeConfig::new(ConsumerConfig::new("", Vec::new()), Default::default());
    runtime.poll_timeout_ms = 50;
    BusQueues::new(Arc::new(bus.clone()))
        .with_partitions(DLQ, 1)
        .with_runtime(runtime)
}

#[tokio::test]
async fn ensure_creates_both_topics_and_refuses_other_settings() {
    let dir = tempfile::tempdir().unwrap();
    let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).unwrap();
    let queues = queues(&bus);
    let spec = QueueSpec::seeded(QUEUE, DLQ);
    queues.ensure(&spec).await.unwrap();
    queues.ensure(&spec).await.unwrap();

    let queue = bus.describe_topic(QUEUE).await.unwrap();
    assert_eq!(queue.config.partitions, 3);
    assert_eq!(queue.config.retention_ms, Some(4 * 24 * 3_600_000));
    let dlq = bus.describe_topic(DLQ).await.unwrap();
    assert_eq!(dlq.config.partitions, 1);
    assert_eq!(dlq.config.retention_ms, Some(14 * 24 * 3_600_000));

    let mut shorter = spec.clone();
    shorter.retention_seconds = 3_600;
    match queues.ensure(&shorter).await {
        Err(BusError::QueueConfigMismatch {
            queue,
            setting,
            found,
            wanted,
        }) => {
            assert_eq!((queue.as_str(), setting.as_str()), (QUEUE, "retention_ms"));
            assert_eq!((found.as_str(), wanted.as_str()), ("345600000", "3600000"));
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

/// Rejects the value `poison`, records the others.
struct RejectPoison(Arc<Mutex<Vec<String>>>);

#[async_trait]
impl Handler for RejectPoison {
    async fn handle(&self, message: &Message) -> Outcome {
        let value = String::from_utf8_lossy(&message.value).into_owned();
        if value == "poison" {
            return Outcome::reject("cannot parse `poison`");
        }
        self.0.lock().unwrap().push(value);
        Outcome::Done
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_handles_and_dead_letters_once() {
    let dir = tempfile::tempdir().unwrap();
    let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).unwrap();
    let queues = queues(&bus);
    let spec = QueueSpec::seeded(QUEUE, DLQ);
    queues.ensure(&spec).await.unwrap();
    let records = ["a", "poison", "b"]
        .iter()
        .map(|v| Record::new(Some(v.as_bytes().to_vec()), v.as_bytes().to_vec()))
        .collect();
    let ids = queues.send(QUEUE, records).await.unwrap();
    assert_eq!(ids.len(), 3);

    let done = Arc::new(Mutex::new(Vec::new()));
    let dead: Arc<Mutex<Vec<DeadLetter>>> = Arc::default();
    let dead_sink = dead.clone();
    let consumer = QueueConsumer {
        group: "processor".to_owned(),
        dead_letter_group: "processor-dlq-tracker".to_owned(),
        handler: Arc::new(RejectPoison(done.clone())),
        on_dead_letter: on_dead_letter(move |letter| {
            let dead = dead_sink.clone();
            async move { dead.lock().unwrap().push(letter) }
        }),
    };
    let (stop, shutdown) = watch::channel(false);
    let (task, stats) = queues.consume(&spec, consumer, shutdown).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while dead.lock().unwrap().is_empty() || done.lock().unwrap().len() < 2 {
        assert!(tokio::time::Instant::now() < deadline, "timed out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();

    let mut handled = done.lock().unwrap().clone();
    handled.sort();
    assert_eq!(handled, ["a", "b"]);
    let dead = dead.lock().unwrap();
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].queue, QUEUE);
    assert_eq!(dead[0].value, b"poison");
    assert_eq!(dead[0].reason, "cannot parse `poison`");
    assert_eq!(stats.snapshot().messages_dead_lettered_total, 1);
}
