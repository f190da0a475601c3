//! The embedded log on real disk: produce/read, order per key, consumer groups and
//! rebalance, recovery (torn tail, corruption), retention, admin errors, the data-dir lock.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use edalab_bus::log::{EmbeddedBus, LogConfig};

use edalab_bus::{
    Admin, Bus, BusError, Consumer, ConsumerConfig, Created, Producer, Record, TopicConfig,
};

fn open(dir: &std::path::Path) -> EmbeddedBus {
    EmbeddedBus::open(dir, LogConfig::default()).expect("open bus")
}

fn rec(key: &str, value: &str) -> Record {
    Record::new(Some(key.as_bytes().to_vec()), value.as_bytes().to_vec())
}

async fn read_all(bus: &EmbeddedBus, topic: &str) -> Vec<edalab_bus::Message> {
    let d = bus.describe_topic(topic).await.expect("describe");
    let mut out = Vec::new();
    for p in d.partitions {
        let mut from = p.log_start_offset;
        loop {
            let (mut msgs, next) = bus.read(topic, p.partition, from, 1000).expect("read");
            if msgs.is_empty() {
                break;
            }
            out.append(&mut msgs);
            from = next;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn produce_then_read_back_after_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let bus = open(dir.path());
        assert_eq!(
            bus.create_topic("t", TopicConfig::with_partitions(3))
                .await
                .expect("create"),
            Created::New
        );
        let d = bus
            .produce(
                "t",
                vec![
                    rec("a", "1").with_header("h", b"x".to_vec()),
                    rec("b", "2"),
                    rec("a", "3"),
                ],
            )
            .await
            .expect("produce");
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].partition, d[2].partition, "same key, same partition");
        assert_eq!(d[2].offset, d[0].offset + 1);
        bus.close().await.expect("close");
    }
    let bus = open(dir.path());
    let msgs = read_all(&bus, "t").await;
    assert_eq!(msgs.len(), 3);
    let a: Vec<&[u8]> = msgs
        .iter()
        .filter(|m| m.key.as_deref() == Some(b"a"))
        .map(|m| m.value.as_slice())
        .collect();
    assert_eq!(a, vec![b"1".as_slice(), b"3".as_slice()]);
    let first = msgs.iter().find(|m| m.value == b"1").expect("first");
    assert_eq!(first.header("h"), Some(b"x".as_slice()));
    // Appends continue after the recovered end.
    let d = bus
        .produce("t", vec![rec("a", "4")])
        .await
        .expect("produce");
    assert_eq!(d[0].offset, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn order_per_key_under_concurrent_producers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path());
    bus.create_topic("orders", TopicConfig::with_partitions(3))
        .await
        .expect("create");
    let producers = 8;
    let per_producer = 300;
    let mut tasks = Vec::new();
    for p in 0..producers {
        let bus = bus.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..per_producer {
                // Each producer owns a key; several calls of varying sizes interleave.
                let key = format!("key-{p}");
                let batch = (0..(1 + i % 3))
                    .map(|j| rec(&key, &format!("{i}.{j}")))
                    .collect();
                bus.produce("orders", batch).await.expect("produce");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let msgs = read_all(&bus, "orders").await;
    let mut per_key: BTreeMap<Vec<u8>, Vec<(u32, u32)>> = BTreeMap::new();
    for m in &msgs {
        let v = String::from_utf8(m.value.clone()).expect("utf8");
        let (i, j) = v.split_once('.').expect("i.j");
        per_key
            .entry(m.key.clone().expect("key"))
            .or_default()
            .push((i.parse().expect("i"), j.parse().expect("j")));
    }
    assert_eq!(per_key.len(), producers);
    for (key, seq) in per_key {
        let mut sorted = seq.clone();
        sorted.sort();
        assert_eq!(
            seq,
            sorted,
            "order of key {:?}",
            String::from_utf8_lossy(&key)
        );
        assert_eq!(
            seq.len(),
            (0..per_producer).map(|i| 1 + i % 3).sum::<usize>()
        );
    }
}

/// Polls (and commits) until `seen` holds `want` messages or a few idle polls pass.
async fn drain(c: &mut Box<dyn Consumer>, seen: &mut Vec<(u32, u64, Vec<u8>)>, want: usize) {
    let deadline = tokio::time::Instant::now()
        + Duration::from_secs(if want <= seen.len() + 1 { 1 } else { 30 });
    while seen.len() < want && tokio::time::Instant::now() < deadline {
        let msgs = c.poll(Duration::from_millis(200)).await.expect("poll");
        let mut commit = BTreeMap::new();
        for m in msgs {
            commit.insert(m.topic_partition(), m.offset + 1);
            seen.push((m.partition, m.offset, m.value));
        }
        if !commit.is_empty() {
            c.commit(&commit).await.expect("commit");
        }
    }
}

/// S3-04: two members of one group over three partitions share 100 messages with no loss
/// and no duplicate; when one leaves, the other takes its partitions and reads the rest
/// exactly once from the committed positions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_shares_partitions_and_rebalances_on_leave() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path());
    bus.create_topic("tx", TopicConfig::with_partitions(3))
        .await
        .expect("create");
    let records: Vec<Record> = (0..100)
        .map(|i| rec(&format!("acct-{i}"), &format!("m{i}")))
        .collect();
    bus.produce("tx", records).await.expect("produce");

    let cfg = ConsumerConfig::new("ledger", vec!["tx".to_owned()]);
    let mut a = bus.consumer(cfg.clone()).await.expect("a");
    let mut b = bus.consumer(cfg.clone()).await.expect("b");
    // Both poll until the cooperative hand-over settles: a owns 2, b owns 1.
    let mut seen_a = Vec::new();
    let mut seen_b = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while seen_a.len() + seen_b.len() < 100 && tokio::time::Instant::now() < deadline {
        let (na, nb) = (seen_a.len() + 1, seen_b.len() + 1);
        drain(&mut a, &mut seen_a, na).await;
        drain(&mut b, &mut seen_b, nb).await;
    }
    let pa: BTreeSet<u32> = seen_a.iter().map(|s| s.0).collect();
    let pb: BTreeSet<u32> = seen_b.iter().map(|s| s.0).collect();
    assert!(
        pa.is_disjoint(&pb),
        "a {pa:?} b {pb:?} must not share a partition"
    );
    let mut all: Vec<Vec<u8>> = seen_a.iter().chain(&seen_b).map(|s| s.2.clone()).collect();
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "no duplicate");
    assert_eq!(all.len(), 100, "no loss");

    // b leaves; 30 more messages all go to a, exactly once.
    b.close().await.expect("close b");
    let records: Vec<Record> = (100..130)
        .map(|i| rec(&format!("acct-{i}"), &format!("m{i}")))
        .collect();
    bus.produce("tx", records).await.expect("produce");
    let mut more = Vec::new();
    drain(&mut a, &mut more, 30).await;
    assert_eq!(a.assignment().len(), 3, "a owns every partition");
    let mut vals: Vec<Vec<u8>> = more.iter().map(|s| s.2.clone()).collect();
    vals.sort();
    vals.dedup();
    assert_eq!(vals.len(), 30);
    assert_eq!(more.len(), 30, "nothing redelivered: {more:?}");

    let lag = bus.group_lag("ledger").await.expect("lag");
    assert_eq!(lag.iter().map(|l| l.lag).sum::<u64>(), 0);
    assert_eq!(lag.iter().map(|l| l.high_watermark).sum::<u64>(), 130);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_member_loses_partitions_after_session_timeout() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path());
    bus.create_topic("t", TopicConfig::with_partitions(2))
        .await
        .expect("create");
    let mut cfg = ConsumerConfig::new("g", vec!["t".to_owned()]);
    cfg.session_timeout = Duration::from_secs(2);
    let mut a = bus.consumer(cfg.clone()).await.expect("a");
    let mut b = bus.consumer(cfg).await.expect("b");
    a.poll(Duration::from_millis(10)).await.expect("poll");
    assert!(!a.assignment().is_empty());
    // a goes silent; b keeps polling and takes over.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while b.assignment().len() < 2 && tokio::time::Instant::now() < deadline {
        b.poll(Duration::from_millis(100)).await.expect("poll");
    }
    assert_eq!(b.assignment().len(), 2);
    // a's commit on a partition it lost is refused.
    let tp = edalab_bus::TopicPartition {
        topic: "t".to_owned(),
        partition: 0,
    };
    let err = a
        .commit(&BTreeMap::from([(tp, 0)]))
        .await
        .expect_err("not assigned");
    assert!(matches!(err, BusError::NotAssigned { .. }), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_positions_survive_reopen() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let bus = open(dir.path());
        bus.create_topic("t", TopicConfig::with_partitions(1))
            .await
            .expect("create");
        bus.produce("t", (0..10).map(|i| rec("k", &i.to_string())).collect())
            .await
            .expect("produce");
        let mut c = bus
            .consumer(ConsumerConfig::new("g", vec!["t".to_owned()]))
            .await
            .expect("c");
        let msgs = c.poll(Duration::from_secs(5)).await.expect("poll");
        assert_eq!(msgs.len(), 10);
        let tp = msgs[0].topic_partition();
        c.commit(&BTreeMap::from([(tp, 4)])).await.expect("commit");
        drop(c);
        bus.close().await.expect("close");
    }
    let bus = open(dir.path());
    let mut c = bus
        .consumer(ConsumerConfig::new("g", vec!["t".to_owned()]))
        .await
        .expect("c");
    let msgs = c.poll(Duration::from_secs(5)).await.expect("poll");
    assert_eq!(msgs.first().map(|m| m.offset), Some(4));
    assert_eq!(msgs.len(), 6);
}

fn segment_files(dir: &std::path::Path, topic: &str, partition: u32) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(
        dir.join("bus/topics")
            .join(topic)
            .join(partition.to_string()),
    )
    .expect("read_dir")
    .map(|e| e.expect("entry").path())
    .filter(|p| p.extension().is_some_and(|e| e == "log"))
    .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torn_tail_is_truncated_and_reopen_works() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let bus = open(dir.path());
        bus.create_topic("t", TopicConfig::with_partitions(1))
            .await
            .expect("create");
        bus.produce("t", vec![rec("k", "one"), rec("k", "two")])
            .await
            .expect("produce");
        bus.produce("t", vec![rec("k", "three")])
            .await
            .expect("produce");
        bus.close().await.expect("close");
    }
    // Simulate a write killed half-way, never acknowledged: the first bytes of a frame
    // (its length says 200 bytes follow; 7 do).
    let seg = segment_files(dir.path(), "t", 0).pop().expect("segment");
    let len = std::fs::metadata(&seg).expect("meta").len();
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&seg)
        .expect("open");
    std::io::Write::write_all(&mut f, &[200, 0, 0, 0, 1, 2, 3]).expect("torn bytes");
    drop(f);
    let bus = open(dir.path());
    assert_eq!(
        std::fs::metadata(&seg).expect("meta").len(),
        len,
        "the torn tail is truncated"
    );
    let msgs = read_all(&bus, "t").await;
    let vals: Vec<&[u8]> = msgs.iter().map(|m| m.value.as_slice()).collect();
    assert_eq!(
        vals,
        vec![b"one".as_slice(), b"two".as_slice(), b"three".as_slice()]
    );
    let d = bus
        .produce("t", vec![rec("k", "four")])
        .await
        .expect("produce after recovery");
    assert_eq!(d[0].offset, 3);
    bus.close().await.expect("close");
    drop(bus);
    let bus = open(dir.path());
    assert_eq!(read_all(&bus, "t").await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corruption_in_the_middle_is_a_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let bus = open(dir.path());
        bus.create_topic("t", TopicConfig::with_partitions(1))
            .await
            .expect("create");
        bus.produce("t", vec![rec("k", "first-value")])
            .await
            .expect("produce");
        bus.produce("t", vec![rec("k", "second-value")])
            .await
            .expect("produce");
        bus.close().await.expect("close");
    }
    let seg = segment_files(dir.path(), "t", 0).pop().expect("segment");
    let mut bytes = std::fs::read(&seg).expect("read");
    bytes[35] ^= 0x5a; // inside the first frame's records
    std::fs::write(&seg, &bytes).expect("write");
    let err = EmbeddedBus::open(dir.path(), LogConfig::default())
        .err()
        .expect("corrupt");
    match &err {
        BusError::Corrupt { path, reason } => {
            assert!(path.ends_with("00000000000000000000.log"), "{path}");
            assert!(reason.contains("CRC"), "{reason}");
        }
        other => panic!("expected Corrupt, got {other}"),
    }
    // Bad topic metadata is named too.
    let dir2 = tempfile::tempdir().expect("tempdir");
    {
        let bus = open(dir2.path());
        bus.create_topic("m", TopicConfig::with_partitions(1))
            .await
            .expect("create");
        bus.close().await.expect("close");
    }
    std::fs::write(dir2.path().join("bus/topics/m/meta.json"), b"{not json").expect("write");
    let err = EmbeddedBus::open(dir2.path(), LogConfig::default())
        .err()
        .expect("corrupt meta");
    assert!(
        matches!(&err, BusError::Corrupt { path, .. } if path.ends_with("meta.json")),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_deletes_old_segments_and_nothing_newer() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        segment_bytes_max: 4096,
        ..LogConfig::default()
    };
    let bus = EmbeddedBus::open(dir.path(), config).expect("open");
    let mut tc = TopicConfig::with_partitions(1);
    tc.retention_ms = Some(60_000);
    bus.create_topic("r", tc).await.expect("create");
    let now = 1_000_000_000_000i64;
    let value = "x".repeat(500);
    // 20 old records (one hour before `now`), then 20 recent ones; ~8 per segment.
    for i in 0..40 {
        let mut r = rec("k", &value);
        r.timestamp_ms = Some(if i < 20 { now - 3_600_000 } else { now - 1_000 });
        bus.produce("r", vec![r]).await.expect("produce");
    }
    let before = segment_files(dir.path(), "r", 0).len();
    assert!(before >= 5, "segments: {before}");
    let deleted = bus.apply_retention(now).await.expect("retention");
    assert!(deleted >= 1);
    let d = bus.describe_topic("r").await.expect("describe");
    let start = d.partitions[0].log_start_offset;
    assert!(
        start > 0 && start <= 20,
        "log start {start}: only old data may go"
    );
    let msgs = read_all(&bus, "r").await;
    assert_eq!(msgs.len() as u64, 40 - start);
    assert!(msgs.iter().all(|m| m.offset >= start));
    // Every recent record is still there.
    assert_eq!(
        msgs.iter()
            .filter(|m| m.timestamp_ms == now - 1_000)
            .count(),
        20
    );

    // By size: keep at least `retention_bytes`.
    let mut tc = TopicConfig::with_partitions(1);
    tc.retention_bytes = Some(8192);
    bus.create_topic("s", tc).await.expect("create");
    for _ in 0..40 {
        bus.produce("s", vec![rec("k", &value)])
            .await
            .expect("produce");
    }
    bus.apply_retention(now).await.expect("retention");
    let d = bus.describe_topic("s").await.expect("describe");
    assert!(d.partitions[0].size_bytes >= 8192, "{:?}", d.partitions[0]);
    assert!(d.partitions[0].log_start_offset > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_errors_name_the_thing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path());
    assert_eq!(
        bus.create_topic("t", TopicConfig::with_partitions(2))
            .await
            .expect("new"),
        Created::New
    );
    assert_eq!(
        bus.create_topic("t", TopicConfig::with_partitions(2))
            .await
            .expect("again"),
        Created::AlreadyExists
    );
    let err = bus
        .create_topic("t", TopicConfig::with_partitions(3))
        .await
        .expect_err("mismatch");
    assert!(matches!(err, BusError::TopicConfigMismatch { .. }), "{err}");
    assert!(
        err.to_string().contains("partitions 2 (requested 3)"),
        "{err}"
    );
    let err = bus
        .create_topic("z", TopicConfig::with_partitions(0))
        .await
        .expect_err("zero");
    assert!(matches!(err, BusError::InvalidPartitionCount(0)));
    let err = bus
        .create_topic("z", TopicConfig::with_partitions(100_000))
        .await
        .expect_err("too many");
    assert!(matches!(err, BusError::InvalidPartitionCount(100_000)));
    let err = bus
        .create_topic("bad/name", TopicConfig::with_partitions(1))
        .await
        .expect_err("name");
    assert!(matches!(err, BusError::InvalidTopicName { .. }));
    let err = bus
        .produce("nope", vec![rec("k", "v")])
        .await
        .expect_err("unknown");
    assert!(matches!(&err, BusError::UnknownTopic(t) if t == "nope"));
    let big = Record::new(None, vec![0u8; (1 << 20) + 1]);
    let err = bus.produce("t", vec![big]).await.expect_err("too large");
    assert!(
        matches!(
            err,
            BusError::MessageTooLarge {
                limit_bytes: 1_048_576,
                ..
            }
        ),
        "{err}"
    );
    let mut r = rec("k", "v");
    r.partition = Some(7);
    let err = bus.produce("t", vec![r]).await.expect_err("partition");
    assert!(matches!(
        err,
        BusError::UnknownPartition {
            partition: 7,
            partitions: 2,
            ..
        }
    ));
    // Delete, then the name is free again.
    bus.delete_topic("t").await.expect("delete");
    assert!(bus.describe_topic("t").await.is_err());
    assert_eq!(
        bus.create_topic("t", TopicConfig::with_partitions(5))
            .await
            .expect("recreate"),
        Created::New
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_writer_is_refused_and_read_only_follows() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path());
    bus.create_topic("t", TopicConfig::with_partitions(1))
        .await
        .expect("create");
    bus.produce("t", vec![rec("k", "a")])
        .await
        .expect("produce");
    let err = EmbeddedBus::open(dir.path(), LogConfig::default())
        .err()
        .expect("locked");
    match &err {
        BusError::Locked { data_dir, pid } => {
            assert_eq!(data_dir, &dir.path().display().to_string());
            assert_eq!(*pid, Some(std::process::id()));
        }
        other => panic!("expected Locked, got {other}"),
    }
    assert!(
        err.to_string()
            .contains(&format!("pid {}", std::process::id()))
    );
    let ro = EmbeddedBus::open_or_read_only(dir.path(), LogConfig::default()).expect("read-only");
    assert!(ro.is_read_only());
    assert_eq!(ro.read("t", 0, 0, 10).expect("read").0.len(), 1);
    // The writer appends; the read-only handle sees it.
    bus.produce("t", vec![rec("k", "b")])
        .await
        .expect("produce");
    let (msgs, _) = ro.read("t", 0, 1, 10).expect("read");
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].value, b"b");
    let err = ro
        .produce("t", vec![rec("k", "c")])
        .await
        .expect_err("read-only");
    assert!(matches!(err, BusError::Locked { .. }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_follows_the_writer_across_segment_rolls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = LogConfig {
        segment_bytes_max: 2048,
        fsync: edalab_bus::log::FsyncPolicy::IntervalMs(5),
        ..LogConfig::default()
    };
    let bus = EmbeddedBus::open(dir.path(), config).expect("open");
    bus.create_topic("t", TopicConfig::with_partitions(1))
        .await
        .expect("create");
    bus.produce("t", vec![rec("k", "first")])
        .await
        .expect("produce");
    let ro = EmbeddedBus::open_read_only(dir.path(), LogConfig::default()).expect("read-only");
    for i in 0..60 {
        bus.produce("t", vec![rec("k", &format!("{i:0>100}"))])
            .await
            .expect("produce");
    }
    assert!(
        segment_files(dir.path(), "t", 0).len() > 3,
        "the writer rolled segments"
    );
    let mut from = 0;
    let mut got = Vec::new();
    for _ in 0..1000 {
        let (mut msgs, next) = ro.read("t", 0, from, 7).expect("read");
        if msgs.is_empty() {
            break;
        }
        from = next;
        got.append(&mut msgs);
    }
    assert_eq!(got.len(), 61);
    assert!(got.iter().enumerate().all(|(i, m)| m.offset == i as u64));
    // The interval policy still persists everything on close.
    bus.close().await.expect("close");
    drop(bus);
    let bus = open(dir.path());
    assert_eq!(read_all(&bus, "t").await.len(), 61);
}

/// A read-only view (another process's gateway) lists the writer's consumer groups and
/// their lag from what they committed on disk, following new commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_sees_the_writers_groups_and_their_lag() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path());
    bus.create_topic("t", TopicConfig::with_partitions(2))
        .await
        .expect("create");
    let ro = EmbeddedBus::open_read_only(dir.path(), LogConfig::default()).expect("read-only");
    assert!(ro.list_groups().await.expect("list").is_empty());
    bus.produce("t", (0..10).map(|i| rec(&format!("k{i}"), "v")).collect())
        .await
        .expect("produce");
    let mut c = bus
        .consumer(ConsumerConfig::new("readers", vec!["t".to_owned()]))
        .await
        .expect("consumer");
    let mut seen = Vec::new();
    drain(&mut c, &mut seen, 10).await;
    assert_eq!(seen.len(), 10);
    assert_eq!(
        ro.list_groups().await.expect("list"),
        vec!["readers".to_owned()]
    );
    let lag = ro.group_lag("readers").await.expect("lag");
    assert_eq!(lag.len(), 2, "{lag:?}");
    assert_eq!(lag.iter().map(|p| p.lag).sum::<u64>(), 0, "{lag:?}");
    // Five more, not yet read: the read-only view shows them as lag.
    bus.produce("t", (0..5).map(|i| rec(&format!("k{i}"), "w")).collect())
        .await
        .expect("produce");
    let lag = ro.group_lag("readers").await.expect("lag");
    assert_eq!(lag.iter().map(|p| p.lag).sum::<u64>(), 5, "{lag:?}");
    assert!(ro.group_lag("nobody").await.expect("lag").is_empty());
}

/// Members join and leave while records keep arriving: with commit-before-next-poll (the
/// runtime's loop) the cooperative hand-over delivers every record exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_and_leaves_under_load_deliver_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = open(dir.path());
    bus.create_topic("flow", TopicConfig::with_partitions(3))
        .await
        .expect("create");
    let total = 3000usize;
    let producer = {
        let bus = bus.clone();
        tokio::spawn(async move {
            for chunk in 0..(total / 50) {
                let batch = (0..50)
                    .map(|i| {
                        let n = chunk * 50 + i;
                        rec(&format!("k{}", n % 17), &n.to_string())
                    })
                    .collect();
                bus.produce("flow", batch).await.expect("produce");
                tokio::task::yield_now().await;
            }
        })
    };
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(tokio::sync::Notify::new());
    let spawn_member = |quit_after: Option<usize>| {
        let bus = bus.clone();
        let seen = seen.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut c = bus
                .consumer(ConsumerConfig::new("flow-group", vec!["flow".to_owned()]))
                .await
                .expect("consumer");
            let mut mine = 0;
            loop {
                let msgs = tokio::select! {
                    _ = stop.notified() => break,
                    r = c.poll(Duration::from_millis(100)) => r.expect("poll"),
                };
                let mut commit = BTreeMap::new();
                for m in &msgs {
                    commit.insert(m.topic_partition(), m.offset + 1);
                    seen.lock()
                        .expect("seen")
                        .push(String::from_utf8(m.value.clone()).expect("utf8"));
                }
                mine += msgs.len();
                if !commit.is_empty() {
                    c.commit(&commit).await.expect("commit while owning");
                }
                if quit_after.is_some_and(|q| mine >= q) {
                    break;
                }
            }
            c.close().await.expect("close");
        })
    };
    let first = spawn_member(None);
    let leaver = spawn_member(Some(300));
    tokio::time::sleep(Duration::from_millis(50)).await;
    let late = spawn_member(None);
    producer.await.expect("producer");
    leaver.await.expect("leaver");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while seen.lock().expect("seen").len() < total && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.notify_waiters();
    // notify_waiters only reaches members waiting right now; keep nudging until they stop.
    while !(first.is_finished() && late.is_finished()) {
        stop.notify_waiters();
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut all = seen.lock().expect("seen").clone();
    all.sort();
    let n = all.len();
    all.dedup();
    assert_eq!(all.len(), total, "no loss");
    assert_eq!(n, total, "no duplicate");
}

async fn commit_once(dir: &std::path::Path, config: LogConfig, group: &str, offsets: &[u64]) {
    let bus = EmbeddedBus::open(dir, config).expect("open");
    let _ = bus
        .create_topic("t", TopicConfig::with_partitions(1))
        .await
        .expect("create");
    if bus.describe_topic("t").await.expect("describe").partitions[0].high_watermark == 0 {
        bus.produce("t", (0..10).map(|i| rec("k", &i.to_string())).collect())
            .await
            .expect("produce");
    }
    let mut c = bus
        .consumer(ConsumerConfig::new(group, vec!["t".to_owned()]))
        .await
        .expect("c");
    c.poll(Duration::from_secs(5)).await.expect("poll");
    let tp = edalab_bus::TopicPartition {
        topic: "t".to_owned(),
        partition: 0,
    };
    for o in offsets {
        c.commit(&BTreeMap::from([(tp.clone(), *o)]))
            .await
            .expect("commit");
    }
    drop(c);
    bus.close().await.expect("close");
}

async fn committed(dir: &std::path::Path, group: &str) -> Option<u64> {
    let bus = open(dir);
    let lag = bus.group_lag(group).await.expect("lag");
    bus.close().await.expect("close");
    lag.first().and_then(|l| l.committed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_offsets_log_survives_torn_tail_and_compacts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let small = LogConfig {
        offsets_log_bytes_max: 1024,
        ..LogConfig::default()
    };
    // Enough commits to compact the log several times; the last one wins.
    let offsets: Vec<u64> = (1..=40).map(|i| i % 10 + 1).collect();
    commit_once(dir.path(), small.clone(), "g", &offsets).await;
    let snapshot = dir.path().join("bus/groups/g.json");
    let log = dir.path().join("bus/groups/g.offsets");
    assert!(snapshot.exists(), "compacted into a snapshot");
    assert!(std::fs::metadata(&log).expect("log").len() <= 1024);
    assert_eq!(
        committed(dir.path(), "g").await,
        Some(offsets[offsets.len() - 1])
    );

    // A commit killed mid-write leaves a torn record: ignored, and the log stays usable.
    commit_once(dir.path(), small.clone(), "g", &[7]).await;
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .expect("open log");
    std::io::Write::write_all(&mut f, &[200, 0, 0, 0, 1, 2, 3]).expect("torn bytes");
    drop(f);
    assert_eq!(committed(dir.path(), "g").await, Some(7));
    commit_once(dir.path(), small, "g", &[9]).await;
    assert_eq!(committed(dir.path(), "g").await, Some(9));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn corrupt_group_file_is_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    commit_once(dir.path(), LogConfig::default(), "my group/1", &[1, 2]).await;
    let path = dir.path().join("bus/groups/my%20group%2F1.offsets");
    assert!(path.exists(), "group names are percent-encoded on disk");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[12] ^= 0x55; // inside the first record's JSON
    std::fs::write(&path, &bytes).expect("write");
    let err = EmbeddedBus::open(dir.path(), LogConfig::default())
        .err()
        .expect("corrupt");
    assert!(
        matches!(&err, BusError::Corrupt { path, reason } if path.ends_with("my%20group%2F1.offsets") && reason.contains("CRC")),
        "{err}"
    );
    // A snapshot that does not parse is named too.
    std::fs::remove_file(&path).expect("rm");
    std::fs::write(
        dir.path().join("bus/groups/my%20group%2F1.json"),
        b"{\"group\": 1",
    )
    .expect("write");
    let err = EmbeddedBus::open(dir.path(), LogConfig::default())
        .err()
        .expect("corrupt");
    assert!(
        matches!(&err, BusError::Corrupt { path, .. } if path.ends_with("my%20group%2F1.json")),
        "{err}"
    );
}
