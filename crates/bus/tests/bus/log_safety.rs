//! The embedded log's safety rules (ADR 020), on real disk: no offset is ever reused after a
//! damaged tail (refusal, then explicit repair), retention by time and size in the
//! background with an injected clock, and the free-space floor with an injected probe and,
//! as root, on a real 64 MiB tmpfs.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use edalab_bus::log::{DiskProbe, EmbeddedBus, LogClock, LogConfig};
use edalab_bus::{
    Admin, Bus, BusError, Consumer, ConsumerConfig, Producer, Record, TopicConfig, TopicPartition,
};

const DEPOSITS: &str = "bancaire.depot.effectue";

fn on_partition(p: u32, value: String) -> Record {
    let mut r = Record::new(Some(b"acct".to_vec()), value.into_bytes());
    r.partition = Some(p);
    r
}

fn last_segment(dir: &Path, topic: &str, partition: u32) -> std::path::PathBuf {
    let mut v: Vec<_> = std::fs::read_dir(dir.join(format!("bus/topics/{topic}/{partition}")))
        .expect("read_dir")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    v.sort();
    v.pop().expect("a segment")
}

fn cut(path: &Path, bytes: u64) -> u64 {
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open");
    let len = f.metadata().expect("meta").len();
    f.set_len(len - bytes).expect("truncate");
    len - bytes
}

async fn consumer(bus: &EmbeddedBus, group: &str, topic: &str) -> Box<dyn Consumer> {
    bus.consumer(ConsumerConfig::new(group, vec![topic.to_owned()]))
        .await
        .expect("consumer")
}

/// Polls until `want` messages arrived (or 10 s), committing each batch.
async fn consume_and_commit(c: &mut Box<dyn Consumer>, want: usize) -> Vec<(u32, u64, Vec<u8>)> {
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while seen.len() < want && tokio::time::Instant::now() < deadline {
        let msgs = c.poll(Duration::from_millis(200)).await.expect("poll");
        let mut positions = BTreeMap::new();
        for m in &msgs {
            seen.push((m.partition, m.offset, m.value.clone()));
            positions.insert(m.topic_partition(), m.offset + 1);
        }
        if !positions.is_empty() {
            c.commit(&positions).await.expect("commit");
        }
    }
    seen
}

/// The reproduction of issue 16: records produced and applied (committed by the ledger's
/// group), the last segment cut by 7 bytes; the next open must refuse, naming the
/// partition and the lost offsets, and leave the file as it is; `repair` moves the end
/// forward and the group reads what is produced next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_tail_below_a_committed_offset_is_refused_then_repaired() {
    let dir = tempfile::tempdir().expect("tempdir");
    let produced = 30u64;
    {
        let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("open");
        bus.create_topic(DEPOSITS, TopicConfig::with_partitions(3))
            .await
            .expect("create");
        for i in 0..produced {
            bus.produce(DEPOSITS, vec![on_partition(0, format!("deposit-{i}"))])
                .await
                .expect("produce");
        }
        let mut c = consumer(&bus, "ledger", DEPOSITS).await;
        assert_eq!(
            consume_and_commit(&mut c, produced as usize).await.len(),
            30
        );
        c.close().await.expect("close consumer");
        bus.close().await.expect("close");
    }
    let segment = last_segment(dir.path(), DEPOSITS, 0);
    let cut_len = cut(&segment, 7);

    let error = EmbeddedBus::open(dir.path(), LogConfig::default())
        .err()
        .expect("a log that lost acknowledged records must not open");
    let message = error.to_string();
    assert!(
        message.contains("bancaire.depot.effectue/0 recovered to offset 29")
            && message.contains("offsets 29..=29")
            && message.contains("consumer group `ledger` committed 30"),
        "{message}"
    );
    let BusError::AcknowledgedRecordsLost(losses) = &error else {
        panic!("wrong error: {error}");
    };
    assert_eq!(losses.len(), 1, "only partition 0 lost records: {losses:?}");
    assert_eq!(
        std::fs::metadata(&segment).expect("meta").len(),
        cut_len,
        "a refused log is left as it was found"
    );

    let repaired =
        edalab_bus::log::repair(dir.path(), &LogConfig::default(), None).expect("repair");
    assert_eq!(repaired.len(), 1);
    assert_eq!(
        (repaired[0].recovered_end, repaired[0].acknowledged_end),
        (29, 30)
    );
    assert!(
        edalab_bus::log::repair(dir.path(), &LogConfig::default(), None)
            .expect("repair again")
            .is_empty(),
        "a second repair has nothing to do"
    );

    let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("open after repair");
    let mut offsets = Vec::new();
    for i in 0..3 {
        let d = bus
            .produce(DEPOSITS, vec![on_partition(0, format!("after-{i}"))])
            .await
            .expect("produce after repair");
        offsets.push(d[0].offset);
    }
    assert_eq!(
        offsets,
        [30, 31, 32],
        "no offset below the old end is reused"
    );
    let mut c = consumer(&bus, "ledger", DEPOSITS).await;
    let seen = consume_and_commit(&mut c, 3).await;
    let values: Vec<&[u8]> = seen.iter().map(|(_, _, v)| v.as_slice()).collect();
    assert_eq!(
        values,
        [b"after-0".as_slice(), b"after-1", b"after-2"],
        "the group reads on from its committed offset"
    );
    c.close().await.expect("close consumer");
    bus.close().await.expect("close");
    drop((c, bus));
    // The repaired log (gap recorded) reopens cleanly and keeps everything but offset 29.
    let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("reopen");
    let mut offsets = Vec::new();
    let mut from = 0;
    loop {
        let (msgs, next) = bus.read(DEPOSITS, 0, from, 1000).expect("read");
        if msgs.is_empty() {
            break;
        }
        offsets.extend(msgs.iter().map(|m| m.offset));
        from = next;
    }
    let expected: Vec<u64> = (0..29).chain(30..33).collect();
    assert_eq!(offsets, expected);
    bus.close().await.expect("close");
}

/// With no consumer group at all, the durable offset floor still catches the loss; a
/// repair limited to another partition changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_floor_catches_a_lost_tail_without_any_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    {
        let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("open");
        bus.create_topic("t", TopicConfig::with_partitions(2))
            .await
            .expect("create");
        for i in 0..5 {
            bus.produce("t", vec![on_partition(1, format!("v{i}"))])
                .await
                .expect("produce");
        }
        bus.close().await.expect("close");
    }
    cut(&last_segment(dir.path(), "t", 1), 7);
    let error = EmbeddedBus::open(dir.path(), LogConfig::default())
        .err()
        .expect("refused");
    assert!(
        error.to_string().contains("t/1 recovered to offset 4")
            && error.to_string().contains("durable offset floor 5"),
        "{error}"
    );
    let other = TopicPartition {
        topic: "t".to_owned(),
        partition: 0,
    };
    assert!(
        edalab_bus::log::repair(dir.path(), &LogConfig::default(), Some(&other))
            .expect("repair of partition 0")
            .is_empty()
    );
    assert!(EmbeddedBus::open(dir.path(), LogConfig::default()).is_err());
    let this = TopicPartition {
        topic: "t".to_owned(),
        partition: 1,
    };
    let repaired = edalab_bus::log::repair(dir.path(), &LogConfig::default(), Some(&this))
        .expect("repair of partition 1");
    assert_eq!(repaired.len(), 1);
    let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("open");
    let d = bus
        .produce("t", vec![on_partition(1, "next".to_owned())])
        .await
        .expect("produce");
    assert_eq!(d[0].offset, 5);
    bus.close().await.expect("close");
}

/// A position past a partition's end would later look like a lost tail: refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committing_past_the_end_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("open");
    bus.create_topic("t", TopicConfig::with_partitions(1))
        .await
        .expect("create");
    bus.produce("t", vec![on_partition(0, "a".to_owned())])
        .await
        .expect("produce");
    let mut c = consumer(&bus, "g", "t").await;
    c.poll(Duration::from_secs(2)).await.expect("poll");
    let tp = TopicPartition {
        topic: "t".to_owned(),
        partition: 0,
    };
    let error = c
        .commit(&BTreeMap::from([(tp.clone(), 5)]))
        .await
        .expect_err("past the end");
    assert!(
        error.to_string().contains("offset 5 on t/0") && error.to_string().contains("ends at 1"),
        "{error}"
    );
    c.commit(&BTreeMap::from([(tp, 1)]))
        .await
        .expect("at the end is fine");
    c.close().await.expect("close consumer");
    bus.close().await.expect("close");
}

/// Retention runs on its own in the writer (every 20 ms here), on the injected clock:
/// time retention on a topic with `retention_ms`, the default size cap on one without.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_runs_in_the_background_on_the_injected_clock() {
    let dir = tempfile::tempdir().expect("tempdir");
    let now_ms = Arc::new(AtomicI64::new(1_000_000_000_000));
    let clock = {
        let now_ms = now_ms.clone();
        LogClock::new(move || now_ms.load(Ordering::SeqCst))
    };
    let config = LogConfig {
        segment_bytes_max: 4096,
        retention_check_interval_ms: 20,
        retention_bytes_default: Some(16 << 10),
        clock,
        ..LogConfig::default()
    };
    let bus = EmbeddedBus::open(dir.path(), config).expect("open");
    let mut timed = TopicConfig::with_partitions(1);
    timed.retention_ms = Some(4 * 24 * 3600 * 1000);
    // Its own size limit, far away: only time can delete here.
    timed.retention_bytes = Some(1 << 30);
    bus.create_topic("transactions", timed)
        .await
        .expect("create");
    bus.create_topic("uncapped", TopicConfig::with_partitions(1))
        .await
        .expect("create");
    let value = "x".repeat(500);
    let start = now_ms.load(Ordering::SeqCst);
    for _ in 0..40 {
        let mut r = on_partition(0, value.clone());
        r.timestamp_ms = Some(start);
        bus.produce("transactions", vec![r.clone()])
            .await
            .expect("produce");
        bus.produce("uncapped", vec![r]).await.expect("produce");
    }
    let log_start = |topic: &'static str| {
        let bus = bus.clone();
        async move {
            let d = bus.describe_topic(topic).await.expect("describe");
            (d.partitions[0].log_start_offset, d.partitions[0].size_bytes)
        }
    };
    // The size cap applies at once: what stays is at least the cap, and not much more.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while log_start("uncapped").await.0 == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (first, size_bytes) = log_start("uncapped").await;
    assert!(first > 0, "the default size cap deleted old segments");
    assert!(
        (16 << 10..(16 << 10) + 8192).contains(&size_bytes),
        "{size_bytes}"
    );
    // Nothing is four days old yet on the injected clock.
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(log_start("transactions").await.0, 0);
    // Four days and a second later, every closed segment goes (not the active one).
    now_ms.fetch_add(4 * 24 * 3600 * 1000 + 1000, Ordering::SeqCst);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while log_start("transactions").await.0 == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (first, size_bytes) = log_start("transactions").await;
    assert!(first > 30, "log start {first}");
    assert!(
        size_bytes <= 4096,
        "only the active segment is left: {size_bytes}"
    );
    bus.close().await.expect("close");
}

/// Below the free-space floor (injected probe) appends fail with `DiskFull`, while reads,
/// commits and the health answer keep working; space back, appends work again (the
/// writer was not poisoned).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_space_floor_refuses_appends_and_nothing_else() {
    let dir = tempfile::tempdir().expect("tempdir");
    let free = Arc::new(AtomicU64::new(1 << 30));
    let probe = {
        let free = free.clone();
        DiskProbe::new(move |_| Ok(free.load(Ordering::SeqCst)))
    };
    let config = LogConfig {
        disk_free_bytes_min: 64 << 20,
        disk_probe: probe,
        ..LogConfig::default()
    };
    let bus = EmbeddedBus::open(dir.path(), config).expect("open");
    bus.create_topic("t", TopicConfig::with_partitions(1))
        .await
        .expect("create");
    bus.produce("t", vec![on_partition(0, "before".to_owned())])
        .await
        .expect("produce");
    bus.accepts_writes().expect("room to write");

    free.store(10 << 20, Ordering::SeqCst);
    // The probe's last answer is trusted for 100 ms.
    tokio::time::sleep(Duration::from_millis(150)).await;
    let error = bus
        .produce("t", vec![on_partition(0, "refused".to_owned())])
        .await
        .expect_err("below the floor");
    assert!(
        matches!(
            error,
            BusError::DiskFull {
                free_bytes,
                floor_bytes,
                ..
            } if free_bytes == 10 << 20 && floor_bytes == 64 << 20
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("bus.disk_free_bytes_min"),
        "{error}"
    );
    assert!(matches!(
        bus.accepts_writes(),
        Err(BusError::DiskFull { .. })
    ));
    let (msgs, _) = bus.read("t", 0, 0, 10).expect("reads work");
    assert_eq!(msgs.len(), 1);
    let mut c = consumer(&bus, "g", "t").await;
    assert_eq!(consume_and_commit(&mut c, 1).await.len(), 1, "commits work");
    c.close().await.expect("close consumer");

    free.store(1 << 30, Ordering::SeqCst);
    let d = bus
        .produce("t", vec![on_partition(0, "after".to_owned())])
        .await
        .expect("space back: appends work again");
    assert_eq!(d[0].offset, 1);
    bus.close().await.expect("close");
}

/// The free-space floor on a real file system: a 64 MiB tmpfs filled by appends. Needs
/// root (it mounts); CI runs as root. Appends stop with `DiskFull` before the file system
/// is full, everything written stays readable, and deleting a topic makes room again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_space_floor_on_a_real_tmpfs() {
    if !is_root() {
        eprintln!("skipped: needs root to mount a tmpfs (CI runs it as root)");
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must run this test as root"
        );
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mount = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64m", "tmpfs"])
        .arg(dir.path())
        .status()
        .expect("run mount");
    assert!(mount.success(), "mount a tmpfs on {}", dir.path().display());
    let result = fill_until_refused(dir.path()).await;
    let umount = std::process::Command::new("umount")
        .arg(dir.path())
        .status()
        .expect("run umount");
    assert!(umount.success());
    result.expect("the floor held on a real file system");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
    })
}

async fn fill_until_refused(dir: &Path) -> Result<(), String> {
    let config = LogConfig {
        disk_free_bytes_min: 16 << 20,
        segment_bytes_max: 4 << 20,
        ..LogConfig::default()
    };
    let bus = EmbeddedBus::open(dir, config).map_err(|e| e.to_string())?;
    for topic in ["filler", "kept"] {
        bus.create_topic(topic, TopicConfig::with_partitions(1))
            .await
            .map_err(|e| e.to_string())?;
    }
    bus.produce("kept", vec![on_partition(0, "kept".to_owned())])
        .await
        .map_err(|e| e.to_string())?;
    let chunk = "y".repeat(256 << 10);
    let mut written = 0usize;
    let refused = loop {
        match bus
            .produce("filler", vec![on_partition(0, chunk.clone())])
            .await
        {
            Ok(_) => written += 1,
            Err(e) => break e,
        }
        if written > 400 {
            return Err("64 MiB of appends were never refused".to_owned());
        }
    };
    if !matches!(refused, BusError::DiskFull { .. }) {
        return Err(format!("expected DiskFull, got: {refused}"));
    }
    let free = rustix::fs::statvfs(dir).map_err(|e| e.to_string())?;
    let free_bytes = free.f_bavail * free.f_frsize;
    if free_bytes < 15 << 20 {
        return Err(format!("the floor was overrun: {free_bytes} bytes left"));
    }
    let (kept, _) = bus.read("kept", 0, 0, 10).map_err(|e| e.to_string())?;
    if kept.len() != 1 || written < 100 {
        return Err(format!(
            "kept {} records, wrote {written} chunks",
            kept.len()
        ));
    }
    bus.delete_topic("filler")
        .await
        .map_err(|e| e.to_string())?;
    bus.produce("kept", vec![on_partition(0, "again".to_owned())])
        .await
        .map_err(|e| format!("after freeing space: {e}"))?;
    bus.close().await.map_err(|e| e.to_string())
}
