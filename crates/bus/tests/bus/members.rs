//! A [`MemberPool`] over the embedded log (real disk): scaled to three members it splits a
//! topic's partitions among them, each partition held by exactly one; paused, no member
//! holds anything and produced records wait as lag; resumed, they are handled — each record
//! once across every scale, pause and resume.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::runtime::{
    ConsumerRuntime, DlqRouting, Handler, MemberPool, MemberRun, Outcome, PerMessage, PoolStatus,
    RuntimeConfig, RuntimeStats,
};
use edalab_bus::{Admin, Bus, ConsumerConfig, Message, Producer, Record, TopicConfig};
use futures::FutureExt;
use futures::future::BoxFuture;
use tokio::sync::watch;

const PARTITIONS: u32 = 6;

/// Counts each value it handles.
#[derive(Clone, Default)]
struct Count(Arc<Mutex<BTreeMap<String, u32>>>);

#[async_trait]
impl Handler for Count {
    async fn handle(&self, message: &Message) -> Outcome {
        let value = String::from_utf8_lossy(&message.value).into_owned();
        *self.0.lock().expect("seen").entry(value).or_default() += 1;
        Outcome::Done
    }
}

impl Count {
    fn distinct(&self) -> usize {
        self.0.lock().expect("seen").len()
    }
    fn handled_twice(&self) -> Vec<String> {
        let seen = self.0.lock().expect("seen");
        seen.iter()
            .filter(|(_, n)| **n > 1)
            .map(|(v, _)| v.clone())
            .collect()
    }
}

fn pool(bus: &EmbeddedBus, count: &Count, stop: watch::Receiver<bool>) -> Arc<MemberPool> {
    let bus: Arc<dyn Bus> = Arc::new(bus.clone());
    let count = count.clone();
    let consumer = ConsumerConfig::new("workers", vec!["jobs".to_owned()]);
    let member_consumer = consumer.clone();
    let factory = move |member_stop: BoxFuture<'static, ()>| -> (Arc<RuntimeStats>, MemberRun) {
        let mut config =
            RuntimeConfig::new(member_consumer.clone(), DlqRouting::to_topic("jobs.dlq"));
        config.poll_timeout_ms = 50;
        let runtime = ConsumerRuntime::new(Arc::clone(&bus), config, PerMessage(count.clone()));
        (runtime.stats(), runtime.run(member_stop).boxed())
    };
    MemberPool::new(&consumer, 1, factory, stop)
}

async fn produce(bus: &EmbeddedBus, from: usize, to: usize) {
    let records = (from..to)
        .map(|i| {
            Record::new(
                Some(format!("k{i}").into_bytes()),
                format!("v{i}").into_bytes(),
            )
        })
        .collect();
    bus.produce("jobs", records).await.expect("produce");
}

async fn lag_total(bus: &EmbeddedBus) -> u64 {
    let lag = bus.group_lag("workers").await.expect("lag");
    lag.iter().map(|p| p.lag).sum()
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The pool once it has `members` members, each holding a share and together every
/// partition.
async fn settled(pool: &MemberPool, members: usize) -> PoolStatus {
    wait_for("the partitions to settle", || {
        let status = pool.status();
        status.members.len() == members
            && status.members.iter().all(|m| !m.partitions.is_empty())
            && status
                .members
                .iter()
                .map(|m| m.partitions.len())
                .sum::<usize>()
                == PARTITIONS as usize
    })
    .await;
    pool.status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_split_partitions_pause_and_resume_without_loss_or_doubles() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bus = EmbeddedBus::open(dir.path(), LogConfig::default()).expect("open");
    for (topic, partitions) in [("jobs", PARTITIONS), ("jobs.dlq", 1)] {
        bus.create_topic(topic, TopicConfig::with_partitions(partitions))
            .await
            .expect("create");
    }
    let count = Count::default();
    let (stop, stopped) = watch::channel(false);
    let pool = pool(&bus, &count, stopped);
    assert!(
        pool.status().members.is_empty(),
        "nothing runs before begin"
    );
    pool.begin();
    produce(&bus, 0, 300).await;
    let one = settled(&pool, 1).await;
    assert_eq!(one.members[0].member, 1);
    wait_for("300 handled", || count.distinct() == 300).await;

    let three = pool.scale(3).await.expect("scale to 3");
    assert_eq!(three.members_target, 3);
    let three = settled(&pool, 3).await;
    let mut held: Vec<_> = three
        .members
        .iter()
        .flat_map(|m| m.partitions.clone())
        .collect();
    held.sort();
    held.dedup();
    assert_eq!(
        held.len(),
        PARTITIONS as usize,
        "each partition once: {three:?}"
    );
    for member in &three.members {
        assert_eq!(
            member.partitions.len(),
            2,
            "range assignment 6/3: {three:?}"
        );
    }
    produce(&bus, 300, 600).await;
    wait_for("600 handled", || count.distinct() == 600).await;

    let paused = pool.pause().await;
    assert!(paused.paused && paused.members.is_empty(), "{paused:?}");
    produce(&bus, 600, 700).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(count.distinct(), 600, "nothing is handled while paused");
    let lag = lag_total(&bus).await;
    assert_eq!(lag, 100, "the records wait in the log");

    let resumed = pool.resume().await.expect("resume");
    assert!(!resumed.paused);
    settled(&pool, 3).await;
    wait_for("700 handled", || count.distinct() == 700).await;
    let one = pool.scale(1).await.expect("scale to 1");
    assert_eq!(one.members.len(), 1);
    settled(&pool, 1).await;
    produce(&bus, 700, 800).await;
    wait_for("800 handled", || count.distinct() == 800).await;

    assert!(pool.scale(0).await.is_err(), "0 members is refused");
    assert!(pool.scale(17).await.is_err(), "17 members is refused");
    stop.send(true).expect("stop");
    pool.join().await.expect("clean stop");
    assert_eq!(count.handled_twice(), Vec::<String>::new());
    let lag = lag_total(&bus).await;
    assert_eq!(lag, 0, "every position committed");
}
