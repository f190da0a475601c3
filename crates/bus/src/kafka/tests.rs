//! Unit tests over librdkafka's in-process mock cluster (no broker binary needed). The
//! integration tests against a real broker are in `tests/bus/kafka.rs`.

use std::collections::BTreeMap;
use std::time::Duration;

use rdkafka::mocking::MockCluster;
use rdkafka::producer::DefaultProducerContext;

use super::*;
use crate::port::{Message, StartFrom, TopicPartition};

fn mock(topic: &str, partitions: i32) -> (MockCluster<'static, DefaultProducerContext>, KafkaBus) {
    let cluster = MockCluster::new(1).expect("mock cluster");
    cluster
        .create_topic(topic, partitions, 1)
        .expect("mock topic");
    let bus = KafkaBus::new(KafkaConfig::new(cluster.bootstrap_servers())).expect("bus");
    (cluster, bus)
}

fn consumer_config(group: &str, topic: &str) -> ConsumerConfig {
    let mut c = ConsumerConfig::new(group, vec![topic.to_owned()]);
    c.start_from = StartFrom::Earliest;
    c.session_timeout = Duration::from_secs(6);
    c
}

/// Polls until `n` messages arrived or 20 s passed.
async fn read_n(consumer: &mut Box<dyn Consumer>, n: usize) -> Vec<Message> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut out = Vec::new();
    while out.len() < n && Instant::now() < deadline {
        out.extend(
            consumer
                .poll(Duration::from_millis(200))
                .await
                .expect("poll"),
        );
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_then_consume_round_trips_and_partitions_like_the_embedded_profile() {
    let (_cluster, bus) = mock("orders", 4);
    assert_eq!(bus.backend_name(), "kafka");
    let records: Vec<Record> = (0..20)
        .map(|i| {
            let mut r = Record::new(
                Some(format!("key-{i}").into_bytes()),
                format!("v{i}").into_bytes(),
            )
            .with_header("event_id", format!("e{i}"))
            .with_header("dup", "a")
            .with_header("dup", "b");
            r.timestamp_ms = Some(1_700_000_000_000 + i);
            r
        })
        .collect();
    let deliveries = bus
        .produce("orders", records.clone())
        .await
        .expect("produce");
    assert_eq!(deliveries.len(), records.len());
    for (r, d) in records.iter().zip(&deliveries) {
        let key = r.key.as_deref().expect("keyed");
        assert_eq!(d.partition, partition_for_key(key, 4), "key {key:?}");
    }

    let mut consumer = bus
        .consumer(consumer_config("g1", "orders"))
        .await
        .expect("consumer");
    let got = read_n(&mut consumer, records.len()).await;
    assert_eq!(got.len(), records.len());
    for m in &got {
        let i: usize = std::str::from_utf8(&m.value).expect("utf8")[1..]
            .parse()
            .expect("index");
        let (r, d) = (&records[i], deliveries[i]);
        assert_eq!((m.partition, m.offset), (d.partition, d.offset));
        assert_eq!(m.key, r.key);
        assert_eq!(m.headers, r.headers);
        assert_eq!(Some(m.timestamp_ms), r.timestamp_ms);
        assert_eq!(&*m.topic, "orders");
    }
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyless_records_of_one_call_share_a_partition_and_calls_rotate() {
    let (_cluster, bus) = mock("keyless", 3);
    let mut partitions = Vec::new();
    for _ in 0..3 {
        let d = bus
            .produce(
                "keyless",
                vec![
                    Record::new(None, b"a".to_vec()),
                    Record::new(None, b"b".to_vec()),
                ],
            )
            .await
            .expect("produce");
        assert_eq!(d[0].partition, d[1].partition);
        assert_eq!(d[1].offset, d[0].offset + 1);
        partitions.push(d[0].partition);
    }
    partitions.sort_unstable();
    assert_eq!(partitions, vec![0, 1, 2]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_partition_out_of_range_is_unknown_partition() {
    let (_cluster, bus) = mock("small", 2);
    let mut r = Record::new(None, b"x".to_vec());
    r.partition = Some(2);
    match bus.produce("small", vec![r]).await {
        Err(BusError::UnknownPartition {
            topic,
            partition: 2,
            partitions: 2,
        }) => assert_eq!(topic, "small"),
        other => panic!("expected UnknownPartition, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commit_of_an_unassigned_partition_is_refused_and_commits_are_kept() {
    let (_cluster, bus) = mock("commits", 1);
    let records = (0..5)
        .map(|i| Record::new(Some(b"k".to_vec()), vec![i]))
        .collect();
    bus.produce("commits", records).await.expect("produce");
    let mut consumer = bus
        .consumer(consumer_config("g2", "commits"))
        .await
        .expect("consumer");
    let got = read_n(&mut consumer, 5).await;
    assert_eq!(got.len(), 5);
    let tp = TopicPartition {
        topic: "commits".to_owned(),
        partition: 0,
    };
    assert_eq!(consumer.assignment(), vec![tp.clone()]);

    let other = TopicPartition {
        topic: "commits".to_owned(),
        partition: 7,
    };
    match consumer.commit(&BTreeMap::from([(other, 1)])).await {
        Err(BusError::NotAssigned {
            group,
            partition: 7,
        }) => assert_eq!(group, "g2"),
        other => panic!("expected NotAssigned, got {other:?}"),
    }
    consumer
        .commit(&BTreeMap::from([(tp.clone(), 3)]))
        .await
        .expect("commit");
    consumer.close().await.expect("close");
    assert!(consumer.assignment().is_empty());
    assert!(matches!(
        consumer.poll(Duration::ZERO).await,
        Err(BusError::Closed)
    ));

    // A new member resumes at the committed position.
    let mut again = bus
        .consumer(consumer_config("g2", "commits"))
        .await
        .expect("consumer");
    let rest = read_n(&mut again, 2).await;
    assert_eq!(
        rest.iter().map(|m| m.offset).collect::<Vec<_>>(),
        vec![3, 4]
    );
    again.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seek_moves_the_read_position_of_an_assigned_partition() {
    let (_cluster, bus) = mock("seeks", 1);
    let records = (0..10)
        .map(|i| Record::new(Some(b"k".to_vec()), vec![i]))
        .collect();
    bus.produce("seeks", records).await.expect("produce");
    let mut consumer = bus
        .consumer(consumer_config("g3", "seeks"))
        .await
        .expect("consumer");
    let first = read_n(&mut consumer, 10).await;
    assert_eq!(first.len(), 10);
    let tp = TopicPartition {
        topic: "seeks".to_owned(),
        partition: 0,
    };
    consumer.seek(&tp, 6).await.expect("seek");
    let again = read_n(&mut consumer, 4).await;
    assert_eq!(
        again.iter().map(|m| m.offset).collect::<Vec<_>>(),
        vec![6, 7, 8, 9]
    );
    let unassigned = TopicPartition {
        topic: "seeks".to_owned(),
        partition: 3,
    };
    assert!(matches!(
        consumer.seek(&unassigned, 0).await,
        Err(BusError::NotAssigned { partition: 3, .. })
    ));
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poll_is_bounded_by_poll_records_max_and_by_its_timeout() {
    let (_cluster, bus) = mock("bounded", 1);
    let records = (0..30)
        .map(|i| Record::new(Some(b"k".to_vec()), vec![i]))
        .collect();
    bus.produce("bounded", records).await.expect("produce");
    let mut config = consumer_config("g4", "bounded");
    config.poll_records_max = 7;
    let mut consumer = bus.consumer(config).await.expect("consumer");
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(20);
    while seen < 30 && Instant::now() < deadline {
        let batch = consumer
            .poll(Duration::from_millis(200))
            .await
            .expect("poll");
        assert!(batch.len() <= 7, "batch of {}", batch.len());
        seen += batch.len();
    }
    assert_eq!(seen, 30);
    let started = Instant::now();
    let empty = consumer
        .poll(Duration::from_millis(300))
        .await
        .expect("poll");
    assert!(empty.is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "poll took {:?}",
        started.elapsed()
    );
    consumer.close().await.expect("close");
}

/// The runtime races `poll` against its shutdown signal: a poll dropped while it waits must
/// not lose what its blocking thread then reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_poll_loses_nothing() {
    let (_cluster, bus) = mock("cancel", 1);
    bus.produce("cancel", vec![Record::new(Some(b"k".to_vec()), vec![0])])
        .await
        .expect("produce");
    let mut consumer = bus
        .consumer(consumer_config("g6", "cancel"))
        .await
        .expect("consumer");
    assert_eq!(read_n(&mut consumer, 1).await.len(), 1);
    let cancelled = tokio::time::timeout(
        Duration::from_millis(100),
        consumer.poll(Duration::from_secs(10)),
    )
    .await;
    assert!(cancelled.is_err(), "the poll should still be waiting");
    let records = (1..4)
        .map(|i| Record::new(Some(b"k".to_vec()), vec![i]))
        .collect();
    bus.produce("cancel", records).await.expect("produce");
    let got = read_n(&mut consumer, 3).await;
    assert_eq!(
        got.iter().map(|m| m.offset).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    consumer.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_topic_is_named() {
    let (_cluster, bus) = mock("exists", 1);
    match bus
        .produce("missing", vec![Record::new(None, b"x".to_vec())])
        .await
    {
        Err(BusError::UnknownTopic(t)) => assert_eq!(t, "missing"),
        other => panic!("expected UnknownTopic, got {other:?}"),
    }
    match bus.consumer(consumer_config("g5", "missing")).await {
        Err(BusError::UnknownTopic(t)) => assert_eq!(t, "missing"),
        other => panic!("expected UnknownTopic, got {:?}", other.map(|_| ())),
    }
}

/// The watermark side of `describe_topic` and `group_lag` (tansu answers ListOffsets
/// "latest" wrongly; librdkafka's mock cluster answers like Kafka).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn describe_and_group_lag_report_watermarks_and_commits() {
    let (_cluster, bus) = mock("lagging", 3);
    let deliveries = bus
        .produce(
            "lagging",
            (0..30)
                .map(|i| Record::new(Some(format!("k{i}").into_bytes()), vec![1]))
                .collect(),
        )
        .await
        .expect("produce");
    let written = |p: u32| deliveries.iter().filter(|d| d.partition == p).count() as u64;
    let description = bus.describe_topic("lagging").await.expect("describe");
    assert_eq!(description.config.partitions, 3);
    for p in &description.partitions {
        assert_eq!(
            (p.log_start_offset, p.high_watermark),
            (0, written(p.partition)),
            "{p:?}"
        );
    }
    assert!(
        bus.list_topics()
            .await
            .expect("list")
            .contains(&"lagging".to_owned())
    );

    let mut consumer = bus
        .consumer(consumer_config("lag-group", "lagging"))
        .await
        .expect("consumer");
    let got = read_n(&mut consumer, 30).await;
    assert_eq!(got.len(), 30);
    let tp0 = TopicPartition {
        topic: "lagging".to_owned(),
        partition: 0,
    };
    consumer
        .commit(&BTreeMap::from([(tp0, 2)]))
        .await
        .expect("commit");
    let lag = bus.group_lag("lag-group").await.expect("lag");
    assert_eq!(lag.len(), 3, "{lag:?}");
    for l in &lag {
        let hw = written(l.partition);
        assert_eq!(l.high_watermark, hw, "{l:?}");
        if l.partition == 0 {
            assert_eq!((l.committed, l.lag), (Some(2), hw - 2), "{l:?}");
        } else {
            assert_eq!((l.committed, l.lag), (None, hw), "{l:?}");
        }
    }
    consumer.close().await.expect("close");
}

#[test]
fn a_bad_property_is_named() {
    let config = KafkaConfig::new("127.0.0.1:9").with_property("no.such.property", "1");
    let error = KafkaBus::new(config)
        .expect_err("must be refused")
        .to_string();
    assert!(error.contains("`no.such.property`"), "{error}");
    let config = KafkaConfig::new("127.0.0.1:9").with_property("acks", "sometimes");
    let error = KafkaBus::new(config)
        .expect_err("must be refused")
        .to_string();
    assert!(
        error.contains("`acks`") && error.contains("sometimes"),
        "{error}"
    );
    let config = KafkaConfig::new("127.0.0.1:9").with_property("group.id", "x");
    let error = KafkaBus::new(config)
        .expect_err("must be refused")
        .to_string();
    assert!(error.contains("`group.id`"), "{error}");
    let error = KafkaBus::new(KafkaConfig::new(" "))
        .expect_err("must be refused")
        .to_string();
    assert!(error.contains("`brokers`"), "{error}");
}

#[test]
fn properties_override_the_defaults() {
    let config = KafkaConfig::new("127.0.0.1:9").with_property("compression.type", "zstd");
    let client = config.client_config(PRODUCER_DEFAULTS);
    assert_eq!(client.get("compression.type"), Some("zstd"));
    assert_eq!(client.get("enable.idempotence"), Some("true"));
    assert_eq!(client.get("acks"), Some("all"));
    assert_eq!(client.get("bootstrap.servers"), Some("127.0.0.1:9"));
}

#[test]
fn subscription_topics_reads_the_consumer_protocol() {
    // version 1, ["a.b", "c"], then user data the parser must ignore.
    let mut bytes = vec![0, 1, 0, 0, 0, 2, 0, 3];
    bytes.extend_from_slice(b"a.b");
    bytes.extend_from_slice(&[0, 1, b'c', 0, 0, 0, 0]);
    assert_eq!(
        subscription_topics(&bytes),
        vec!["a.b".to_owned(), "c".to_owned()]
    );
    assert!(subscription_topics(&[0]).is_empty());
    // Truncated after the first topic: what was read.
    assert_eq!(subscription_topics(&bytes[..11]), vec!["a.b".to_owned()]);
}

#[test]
fn same_config_compares_only_what_the_broker_described() {
    let existing = TopicConfig::with_partitions(3);
    let mut requested = TopicConfig::with_partitions(3);
    requested.retention_ms = Some(1000);
    assert!(same_config("t", &existing, &requested, BTreeSet::new()).is_ok());
    let described = BTreeSet::from(["retention.ms".to_owned()]);
    assert!(matches!(
        same_config("t", &existing, &requested, described),
        Err(BusError::TopicConfigMismatch { .. })
    ));
    let requested = TopicConfig::with_partitions(4);
    match same_config("t", &existing, &requested, BTreeSet::new()) {
        Err(BusError::TopicConfigMismatch { name, difference }) => {
            assert_eq!(name, "t");
            assert!(
                difference.contains("partitions 3 (requested 4)"),
                "{difference}"
            );
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
}

#[test]
fn group_timings_set_as_properties_win_over_the_consumer_config() {
    use super::consumer::Timings;
    let derived = Timings::of(&BTreeMap::new(), Duration::from_secs(30)).expect("timings");
    assert_eq!(
        derived,
        Timings {
            session_ms: 30_000,
            heartbeat_ms: 3_000,
            poll_interval_ms: 30_000
        }
    );
    let mut properties = BTreeMap::new();
    properties.insert("session.timeout.ms".to_owned(), "6000".to_owned());
    let session_only = Timings::of(&properties, Duration::from_secs(30)).expect("timings");
    assert_eq!(
        session_only,
        Timings {
            session_ms: 6_000,
            heartbeat_ms: 2_000,
            poll_interval_ms: 10_000
        }
    );
    properties.insert("heartbeat.interval.ms".to_owned(), "1000".to_owned());
    properties.insert("max.poll.interval.ms".to_owned(), "60000".to_owned());
    let all = Timings::of(&properties, Duration::from_secs(30)).expect("timings");
    assert_eq!(
        all,
        Timings {
            session_ms: 6_000,
            heartbeat_ms: 1_000,
            poll_interval_ms: 60_000
        }
    );
    properties.insert("session.timeout.ms".to_owned(), "6s".to_owned());
    let error = Timings::of(&properties, Duration::from_secs(30)).expect_err("not a number");
    assert!(
        error.to_string().contains("`session.timeout.ms` = `6s`"),
        "{error}"
    );
}
