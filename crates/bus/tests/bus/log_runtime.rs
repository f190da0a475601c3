//! The consumer runtime over the embedded log (real disk): a poison message goes to the DLQ
//! with its reason while the other keys flow, positions are committed durably, and redrive
//! brings the message back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::runtime::{
    ConsumerRuntime, DlqRouting, Handler, Outcome, PerMessage, RedriveFilter, RuntimeConfig, dlq,
    redrive,
};
use edalab_bus::{Admin, Bus, ConsumerConfig, Message, Producer, Record, TopicConfig};

struct RejectPoison {
    done: Arc<Mutex<Vec<String>>>,
}

#[async_trait]
impl Handler for RejectPoison {
    async fn handle(&self, message: &Message) -> Outcome {
        let value = String::from_utf8_lossy(&message.value).into_owned();
        if value == "poison" {
            return Outcome::Reject("cannot parse `poison`".to_owned());
        }
        self.done.lock().expect("done").push(value);
        Outcome::Done
    }
}

async fn run_until(bus: &EmbeddedBus, done: &Arc<Mutex<Vec<String>>>, want: usize) {
    let bus_dyn: Arc<dyn Bus> = Arc::new(bus.clone());
    let mut config = RuntimeConfig::new(
        ConsumerConfig::new("ledger", vec!["orders".to_owned()]),
        DlqRouting::to_topic("orders.dlq"),
    );
    config.poll_timeout_ms = 50;
    let runtime = ConsumerRuntime::new(
        bus_dyn,
        config,
        PerMessage(RejectPoison { done: done.clone() }),
    );
    let watched = done.clone();
    let shutdown = async move {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while watched.lock().expect("done").len() < want && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    runtime.run(shutdown).await.expect("runtime");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_goes_to_the_dlq_and_redrive_brings_it_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("open");
    bus.create_topic("orders", TopicConfig::with_partitions(3))
        .await
        .expect("create");
    bus.create_topic("orders.dlq", TopicConfig::with_partitions(3))
        .await
        .expect("create");
    let mut records: Vec<Record> = (0..50)
        .map(|i| {
            Record::new(
                Some(format!("order-{i}").into_bytes()),
                format!("ok-{i}").into_bytes(),
            )
        })
        .collect();
    records.insert(
        10,
        Record::new(Some(b"order-x".to_vec()), b"poison".to_vec()),
    );
    bus.produce("orders", records).await.expect("produce");

    let done = Arc::new(Mutex::new(Vec::new()));
    run_until(&bus, &done, 50).await;
    assert_eq!(
        done.lock().expect("done").len(),
        50,
        "other keys kept flowing"
    );

    let entries = dlq::list(&bus, "orders.dlq", 10).await.expect("list");
    assert_eq!(entries.len(), 1);
    let entry = entries
        .into_iter()
        .next()
        .expect("entry")
        .expect("valid DLQ entry");
    assert_eq!(entry.value, b"poison");
    assert_eq!(entry.origin_topic, "orders");
    assert!(entry.error.contains("cannot parse"), "{}", entry.error);

    // Committed positions are on disk: after a restart nothing is handled twice.
    bus.close().await.expect("close");
    drop(bus);
    let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("reopen");
    let lag = bus.group_lag("ledger").await.expect("lag");
    assert_eq!(lag.iter().map(|l| l.lag).sum::<u64>(), 0, "{lag:?}");

    let report = redrive(&bus, "orders.dlq", &RedriveFilter::default(), 1000)
        .await
        .expect("redrive");
    assert_eq!(report.redriven, 1);
    let described = bus.describe_topic("orders").await.expect("describe");
    assert_eq!(
        described
            .partitions
            .iter()
            .map(|p| p.high_watermark)
            .sum::<u64>(),
        52
    );
    bus.close().await.expect("close");
}
