//! A test-only in-memory bus: single-member groups over in-memory partitions, a producer
//! that records, and a journal shared with test handlers so tests can assert the order in
//! which things happened (handled, produced, committed). Not a backend: no durability, no
//! rebalancing, no retention.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use edalab_bus::port::{
    Admin, Bus, BusError, Consumer, ConsumerConfig, Created, Delivery, Message, PartitionInfo,
    PartitionLag, Producer, Record, StartFrom, TopicConfig, TopicDescription, TopicPartition,
};
use edalab_bus::runtime::{Handler, Outcome};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Something that happened, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Handled {
        topic: String,
        partition: u32,
        offset: u64,
        key: String,
        outcome: Outcome,
    },
    Produced {
        topic: String,
        partition: u32,
        offset: u64,
        key: String,
        at: Instant,
    },
    Committed {
        group: String,
        tp: TopicPartition,
        offset: u64,
    },
}

#[derive(Default)]
struct State {
    topics: BTreeMap<String, Vec<Vec<Message>>>,
    committed: BTreeMap<(String, TopicPartition), u64>,
    fail_commits: bool,
    fail_produce_topic: Option<String>,
    clock_ms: i64,
}

#[derive(Clone, Default)]
pub struct FakeBus {
    state: Arc<Mutex<State>>,
    journal: Arc<Mutex<Vec<Event>>>,
    notify: Arc<Notify>,
    round_robin: Arc<AtomicU32>,
}

pub fn key_text(key: &Option<Vec<u8>>) -> String {
    key.as_deref()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .unwrap_or_default()
}

impl FakeBus {
    pub fn new() -> Self {
        Self::default()
    }

    pub async fn topic(&self, name: &str, partitions: u32) {
        self.create_topic(name, TopicConfig::with_partitions(partitions))
            .await
            .expect("create topic");
    }

    pub fn journal(&self) -> Arc<Mutex<Vec<Event>>> {
        Arc::clone(&self.journal)
    }

    pub fn events(&self) -> Vec<Event> {
        self.journal.lock().unwrap().clone()
    }

    pub fn messages(&self, topic: &str) -> Vec<Message> {
        let state = self.state.lock().unwrap();
        state
            .topics
            .get(topic)
            .map(|parts| parts.iter().flatten().cloned().collect())
            .unwrap_or_default()
    }

    pub fn committed(&self, group: &str, topic: &str, partition: u32) -> Option<u64> {
        let tp = TopicPartition {
            topic: topic.to_owned(),
            partition,
        };
        self.state
            .lock()
            .unwrap()
            .committed
            .get(&(group.to_owned(), tp))
            .copied()
    }

    /// Every commit from now on fails (a crash before the bus commit).
    pub fn fail_commits(&self, fail: bool) {
        self.state.lock().unwrap().fail_commits = fail;
    }

    pub fn fail_produce_to(&self, topic: Option<&str>) {
        self.state.lock().unwrap().fail_produce_topic = topic.map(str::to_owned);
    }

    /// Produces `(key, value)` pairs and returns their deliveries.
    pub async fn send(&self, topic: &str, pairs: &[(&str, &str)]) -> Vec<Delivery> {
        let records = pairs
            .iter()
            .map(|(k, v)| Record::new(Some(k.as_bytes().to_vec()), v.as_bytes().to_vec()))
            .collect();
        self.produce(topic, records).await.expect("produce")
    }

    fn partition_for(key: &[u8], partitions: u32) -> u32 {
        // FNV-1a; the real partitioner is murmur2 (crate::partitioner), not needed here.
        let mut hash: u32 = 0x811c_9dc5;
        for byte in key {
            hash ^= u32::from(*byte);
            hash = hash.wrapping_mul(0x0100_0193);
        }
        hash % partitions
    }
}

#[async_trait]
impl Admin for FakeBus {
    async fn create_topic(&self, name: &str, config: TopicConfig) -> Result<Created, BusError> {
        let mut state = self.state.lock().unwrap();
        if state.topics.contains_key(name) {
            return Ok(Created::AlreadyExists);
        }
        state.topics.insert(
            name.to_owned(),
            vec![Vec::new(); config.partitions as usize],
        );
        Ok(Created::New)
    }

    async fn describe_topic(&self, name: &str) -> Result<TopicDescription, BusError> {
        let state = self.state.lock().unwrap();
        let parts = state
            .topics
            .get(name)
            .ok_or_else(|| BusError::UnknownTopic(name.to_owned()))?;
        Ok(TopicDescription {
            name: name.to_owned(),
            config: TopicConfig::with_partitions(parts.len() as u32),
            partitions: parts
                .iter()
                .enumerate()
                .map(|(i, p)| PartitionInfo {
                    partition: i as u32,
                    log_start_offset: 0,
                    high_watermark: p.len() as u64,
                    size_bytes: 0,
                })
                .collect(),
        })
    }

    async fn list_topics(&self) -> Result<Vec<String>, BusError> {
        Ok(self.state.lock().unwrap().topics.keys().cloned().collect())
    }

    async fn delete_topic(&self, name: &str) -> Result<(), BusError> {
        self.state.lock().unwrap().topics.remove(name);
        Ok(())
    }

    async fn group_lag(&self, group: &str) -> Result<Vec<PartitionLag>, BusError> {
        let state = self.state.lock().unwrap();
        Ok(state
            .committed
            .iter()
            .filter(|((g, _), _)| g == group)
            .map(|((_, tp), committed)| {
                let hw = state.topics[&tp.topic][tp.partition as usize].len() as u64;
                PartitionLag {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    committed: Some(*committed),
                    high_watermark: hw,
                    lag: hw.saturating_sub(*committed),
                }
            })
            .collect())
    }

    async fn list_groups(&self) -> Result<Vec<String>, BusError> {
        let state = self.state.lock().unwrap();
        let mut groups: Vec<String> = state.committed.keys().map(|(g, _)| g.clone()).collect();
        groups.dedup();
        Ok(groups)
    }
}

#[async_trait]
impl Producer for FakeBus {
    async fn produce(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Delivery>, BusError> {
        let mut deliveries = Vec::with_capacity(records.len());
        {
            let mut state = self.state.lock().unwrap();
            if state.fail_produce_topic.as_deref() == Some(topic) {
                return Err(BusError::Backend(format!(
                    "injected produce failure on {topic}"
                )));
            }
            let count = state
                .topics
                .get(topic)
                .ok_or_else(|| BusError::UnknownTopic(topic.to_owned()))?
                .len() as u32;
            for record in records {
                let partition = match (record.partition, &record.key) {
                    (Some(p), _) => p,
                    (None, Some(key)) => Self::partition_for(key, count),
                    (None, None) => self.round_robin.fetch_add(1, Ordering::Relaxed) % count,
                };
                state.clock_ms += 1;
                let timestamp_ms = record.timestamp_ms.unwrap_or(state.clock_ms);
                let log = &mut state.topics.get_mut(topic).unwrap()[partition as usize];
                let offset = log.len() as u64;
                log.push(Message {
                    topic: Arc::from(topic),
                    partition,
                    offset,
                    key: record.key.clone(),
                    value: record.value,
                    headers: record.headers,
                    timestamp_ms,
                });
                self.journal.lock().unwrap().push(Event::Produced {
                    topic: topic.to_owned(),
                    partition,
                    offset,
                    key: key_text(&record.key),
                    at: Instant::now(),
                });
                deliveries.push(Delivery { partition, offset });
            }
        }
        self.notify.notify_waiters();
        Ok(deliveries)
    }
}

#[async_trait]
impl Bus for FakeBus {
    async fn consumer(&self, config: ConsumerConfig) -> Result<Box<dyn Consumer>, BusError> {
        let state = self.state.lock().unwrap();
        let mut positions = BTreeMap::new();
        for topic in &config.topics {
            let parts = state
                .topics
                .get(topic)
                .ok_or_else(|| BusError::UnknownTopic(topic.clone()))?;
            for (i, log) in parts.iter().enumerate() {
                let tp = TopicPartition {
                    topic: topic.clone(),
                    partition: i as u32,
                };
                let start = match state.committed.get(&(config.group.clone(), tp.clone())) {
                    Some(c) => *c,
                    None if config.start_from == StartFrom::Latest => log.len() as u64,
                    None => 0,
                };
                positions.insert(tp, start);
            }
        }
        Ok(Box::new(FakeConsumer {
            bus: self.clone(),
            group: config.group,
            positions,
            poll_records_max: config.poll_records_max,
        }))
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }
}

/// The only member of its group: owns every partition of its topics.
pub struct FakeConsumer {
    bus: FakeBus,
    group: String,
    positions: BTreeMap<TopicPartition, u64>,
    poll_records_max: usize,
}

impl FakeConsumer {
    fn fetch(&mut self) -> Vec<Message> {
        let state = self.bus.state.lock().unwrap();
        let mut out = Vec::new();
        for (tp, position) in self.positions.iter_mut() {
            let log = &state.topics[&tp.topic][tp.partition as usize];
            while (*position as usize) < log.len() && out.len() < self.poll_records_max {
                out.push(log[*position as usize].clone());
                *position += 1;
            }
        }
        out
    }
}

#[async_trait]
impl Consumer for FakeConsumer {
    async fn poll(&mut self, timeout: Duration) -> Result<Vec<Message>, BusError> {
        let deadline = Instant::now() + timeout;
        loop {
            let notify = Arc::clone(&self.bus.notify);
            let notified = notify.notified();
            let messages = self.fetch();
            if !messages.is_empty() || Instant::now() >= deadline {
                return Ok(messages);
            }
            let _ = tokio::time::timeout_at(deadline, notified).await;
        }
    }

    async fn commit(&mut self, positions: &BTreeMap<TopicPartition, u64>) -> Result<(), BusError> {
        let mut state = self.bus.state.lock().unwrap();
        if state.fail_commits {
            return Err(BusError::Backend("injected commit failure".to_owned()));
        }
        for (tp, offset) in positions {
            if !self.positions.contains_key(tp) {
                return Err(BusError::NotAssigned {
                    group: self.group.clone(),
                    partition: tp.partition,
                });
            }
            state
                .committed
                .insert((self.group.clone(), tp.clone()), *offset);
            self.bus.journal.lock().unwrap().push(Event::Committed {
                group: self.group.clone(),
                tp: tp.clone(),
                offset: *offset,
            });
        }
        Ok(())
    }

    async fn seek(&mut self, partition: &TopicPartition, offset: u64) -> Result<(), BusError> {
        match self.positions.get_mut(partition) {
            Some(position) => {
                *position = offset;
                Ok(())
            }
            None => Err(BusError::NotAssigned {
                group: self.group.clone(),
                partition: partition.partition,
            }),
        }
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.positions.keys().cloned().collect()
    }

    async fn close(&mut self) -> Result<(), BusError> {
        Ok(())
    }
}

/// What [`ScriptedHandler`] does with a key.
#[derive(Clone, Debug)]
pub enum Script {
    /// Always `Retry`.
    Poison,
    /// Always `Reject`.
    Reject,
    /// `Retry` this many times, then `Done`.
    FailTimes(u32),
    /// Panics this many times, then `Done`.
    PanicTimes(u32),
}

/// A per-message handler whose behaviour per key is scripted; anything else is `Done`.
/// Every call is written to the bus journal.
pub struct ScriptedHandler {
    pub journal: Arc<Mutex<Vec<Event>>>,
    pub scripts: BTreeMap<String, Script>,
    calls: Mutex<BTreeMap<String, u32>>,
}

impl ScriptedHandler {
    pub fn new(bus: &FakeBus, scripts: &[(&str, Script)]) -> Self {
        Self {
            journal: bus.journal(),
            scripts: scripts
                .iter()
                .map(|(k, s)| ((*k).to_owned(), s.clone()))
                .collect(),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    fn decide(&self, key: &str) -> Outcome {
        let calls = {
            let mut calls = self.calls.lock().unwrap();
            let n = calls.entry(key.to_owned()).or_default();
            *n += 1;
            *n
        };
        match self.scripts.get(key) {
            None => Outcome::Done,
            Some(Script::Poison) => Outcome::retry(format!("{key} is poison")),
            Some(Script::Reject) => Outcome::reject(format!("{key} is invalid")),
            Some(Script::FailTimes(n)) if calls <= *n => Outcome::retry("flaky dependency"),
            Some(Script::FailTimes(_)) => Outcome::Done,
            Some(Script::PanicTimes(n)) if calls <= *n => panic!("scripted panic for {key}"),
            Some(Script::PanicTimes(_)) => Outcome::Done,
        }
    }
}

#[async_trait]
impl Handler for ScriptedHandler {
    async fn handle(&self, message: &Message) -> Outcome {
        let key = key_text(&message.key);
        let outcome = self.decide(&key);
        self.journal.lock().unwrap().push(Event::Handled {
            topic: message.topic.to_string(),
            partition: message.partition,
            offset: message.offset,
            key,
            outcome: outcome.clone(),
        });
        outcome
    }
}

/// Waits (in tokio time, paused in tests) until `condition` holds, for at most 10 virtual
/// minutes.
pub async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(600);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A runtime configuration for tests: fast retries, seeded jitter.
pub fn test_config(
    group: &str,
    topics: &[&str],
    dlq: edalab_bus::runtime::DlqRouting,
) -> edalab_bus::runtime::RuntimeConfig {
    let consumer = ConsumerConfig::new(group, topics.iter().map(|t| (*t).to_owned()).collect());
    let mut config = edalab_bus::runtime::RuntimeConfig::new(consumer, dlq);
    config.retry = edalab_bus::runtime::RetryPolicy {
        attempts_max: 3,
        retry_delay_ms_base: 100,
        retry_delay_ms_max: 1_000,
    };
    config.poll_timeout_ms = 100;
    config.jitter_seed = Some(42);
    config
}

/// A runtime running in a task, with its shutdown trigger.
pub struct Running {
    pub shutdown: tokio::sync::oneshot::Sender<()>,
    pub task: tokio::task::JoinHandle<
        Result<edalab_bus::runtime::RunSummary, edalab_bus::runtime::RuntimeError>,
    >,
    pub stats: Arc<edalab_bus::runtime::RuntimeStats>,
}

impl Running {
    pub fn spawn<H: edalab_bus::runtime::BatchHandler + 'static>(
        runtime: edalab_bus::runtime::ConsumerRuntime<H>,
    ) -> Self {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let stats = runtime.stats();
        let task = tokio::spawn(runtime.run(async move {
            let _ = rx.await;
        }));
        Self {
            shutdown: tx,
            task,
            stats,
        }
    }

    pub async fn stop(self) -> edalab_bus::runtime::RunSummary {
        let _ = self.shutdown.send(());
        self.task.await.expect("runtime task").expect("runtime run")
    }
}
