//! An in-memory bus for the tests of code that runs over the bus port (the consumer runtime,
//! the gateway): single-member groups over in-memory partitions, failures injected on demand
//! (every commit, produce to one topic, every admin read while "down"), and a journal of what
//! happened in order — produced, committed, and handled when a test handler appends to it — so
//! a test can assert the order of effects.
//!
//! Not a backend: no durability, no rebalancing, no retention, no limits. Compiled only with
//! the `testing` feature, which crates enable from their `[dev-dependencies]`
//! (`edalab-bus = { workspace = true, features = ["testing"] }`); no production build sees it.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::port::{
    Admin, Bus, BusError, Consumer, ConsumerConfig, Created, Delivery, Message, PartitionInfo,
    PartitionLag, PartitionRead, Producer, ReadBatch, Record, StartFrom, TopicConfig,
    TopicDescription, TopicPartition,
};
use crate::runtime::Outcome;

/// Something that happened, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// Appended by a test handler (the bus itself never handles anything).
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
        /// In tokio time, so paused-clock tests can measure delays between deliveries.
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
    down: bool,
    /// Below the free-space floor: appends refused, the rest works.
    disk_full: bool,
}

/// The in-memory bus. Clones share the same topics, positions and journal.
#[derive(Clone, Default)]
pub struct FakeBus {
    state: Arc<Mutex<State>>,
    journal: Arc<Mutex<Vec<Event>>>,
    notify: Arc<Notify>,
    round_robin: Arc<AtomicU32>,
}

/// A lock that survives a test thread that panicked while holding it: the state stays
/// readable, and the panic itself already fails that test.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A message key as text (lossy), `""` without a key: the journal's and the handlers' view.
pub fn key_text(key: &Option<Vec<u8>>) -> String {
    key.as_deref()
        .map(|k| String::from_utf8_lossy(k).into_owned())
        .unwrap_or_default()
}

impl FakeBus {
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates `name` with `partitions` partitions (a test set-up step: panics on failure).
    #[allow(
        clippy::expect_used,
        reason = "test set-up: a failure is the test's failure"
    )]
    pub async fn topic(&self, name: &str, partitions: u32) {
        self.create_topic(name, TopicConfig::with_partitions(partitions))
            .await
            .expect("create topic");
    }

    /// The journal, shared with test handlers that append [`Event::Handled`] to it.
    pub fn journal(&self) -> Arc<Mutex<Vec<Event>>> {
        Arc::clone(&self.journal)
    }

    /// Appends fail with `DiskFull` from now on, as the embedded log below its floor.
    pub fn set_disk_full(&self, full: bool) {
        lock(&self.state).disk_full = full;
    }

    fn check_room(&self) -> Result<(), BusError> {
        if lock(&self.state).disk_full {
            Err(BusError::DiskFull {
                path: "fake".to_owned(),
                free_bytes: 1,
                floor_bytes: 2,
            })
        } else {
            Ok(())
        }
    }

    /// Everything that happened so far, in order.
    pub fn events(&self) -> Vec<Event> {
        lock(&self.journal).clone()
    }

    /// Every message of `topic`, partition by partition.
    pub fn messages(&self, topic: &str) -> Vec<Message> {
        lock(&self.state)
            .topics
            .get(topic)
            .map(|parts| parts.iter().flatten().cloned().collect())
            .unwrap_or_default()
    }

    /// The offset `group` committed on `topic`/`partition`, if any.
    pub fn committed(&self, group: &str, topic: &str, partition: u32) -> Option<u64> {
        let tp = TopicPartition {
            topic: topic.to_owned(),
            partition,
        };
        lock(&self.state)
            .committed
            .get(&(group.to_owned(), tp))
            .copied()
    }

    /// Every commit from now on fails (a crash before the bus commit).
    pub fn fail_commits(&self, fail: bool) {
        lock(&self.state).fail_commits = fail;
    }

    /// Every produce to `topic` fails from now on (`None`: none does).
    pub fn fail_produce_to(&self, topic: Option<&str>) {
        lock(&self.state).fail_produce_topic = topic.map(str::to_owned);
    }

    /// Every admin read (describe, list, lag) fails from now on: a bus that is down.
    pub fn set_down(&self, down: bool) {
        lock(&self.state).down = down;
    }

    /// Produces `(key, value)` pairs and returns their deliveries (panics on failure).
    #[allow(
        clippy::expect_used,
        reason = "test set-up: a failure is the test's failure"
    )]
    pub async fn send(&self, topic: &str, pairs: &[(&str, &str)]) -> Vec<Delivery> {
        let records = pairs
            .iter()
            .map(|(k, v)| Record::new(Some(k.as_bytes().to_vec()), v.as_bytes().to_vec()))
            .collect();
        self.produce(topic, records).await.expect("produce")
    }

    fn check_up(&self) -> Result<(), BusError> {
        if lock(&self.state).down {
            Err(BusError::Backend("the fake bus is down".to_owned()))
        } else {
            Ok(())
        }
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
        let mut state = lock(&self.state);
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
        self.check_up()?;
        let state = lock(&self.state);
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
        self.check_up()?;
        Ok(lock(&self.state).topics.keys().cloned().collect())
    }

    async fn delete_topic(&self, name: &str) -> Result<(), BusError> {
        lock(&self.state).topics.remove(name);
        Ok(())
    }

    async fn group_lag(&self, group: &str) -> Result<Vec<PartitionLag>, BusError> {
        self.check_up()?;
        let state = lock(&self.state);
        Ok(state
            .committed
            .iter()
            .filter(|((g, _), _)| g == group)
            .map(|((_, tp), committed)| {
                let high_watermark = state
                    .topics
                    .get(&tp.topic)
                    .and_then(|parts| parts.get(tp.partition as usize))
                    .map_or(0, |log| log.len() as u64);
                PartitionLag {
                    topic: tp.topic.clone(),
                    partition: tp.partition,
                    committed: Some(*committed),
                    high_watermark,
                    lag: high_watermark.saturating_sub(*committed),
                }
            })
            .collect())
    }

    async fn list_groups(&self) -> Result<Vec<String>, BusError> {
        self.check_up()?;
        let state = lock(&self.state);
        let mut groups: Vec<String> = state.committed.keys().map(|(g, _)| g.clone()).collect();
        groups.dedup();
        Ok(groups)
    }
}

#[async_trait]
impl Producer for FakeBus {
    async fn produce(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Delivery>, BusError> {
        self.check_room()?;
        let mut deliveries = Vec::with_capacity(records.len());
        {
            let mut state = lock(&self.state);
            if state.fail_produce_topic.as_deref() == Some(topic) {
                return Err(BusError::Backend(format!(
                    "injected produce failure on {topic}"
                )));
            }
            let parts = state
                .topics
                .get_mut(topic)
                .ok_or_else(|| BusError::UnknownTopic(topic.to_owned()))?;
            let count = parts.len() as u32;
            for record in records {
                let partition = match (record.partition, &record.key) {
                    (Some(p), _) => p,
                    (None, Some(key)) => Self::partition_for(key, count),
                    (None, None) => self.round_robin.fetch_add(1, Ordering::Relaxed) % count,
                };
                let log = parts.get_mut(partition as usize).ok_or_else(|| {
                    BusError::UnknownPartition {
                        topic: topic.to_owned(),
                        partition,
                        partitions: count,
                    }
                })?;
                let offset = log.len() as u64;
                // Like a broker's log-append time when the record brings none.
                let timestamp_ms = record
                    .timestamp_ms
                    .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
                let key = key_text(&record.key);
                log.push(Message {
                    topic: Arc::from(topic),
                    partition,
                    offset,
                    key: record.key,
                    value: record.value,
                    headers: record.headers,
                    timestamp_ms,
                });
                lock(&self.journal).push(Event::Produced {
                    topic: topic.to_owned(),
                    partition,
                    offset,
                    key,
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
        let state = lock(&self.state);
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

    async fn read_partition(&self, read: &PartitionRead) -> Result<ReadBatch, BusError> {
        let (topic, partition) = (read.topic.as_str(), read.partition);
        let state = lock(&self.state);
        let parts = state
            .topics
            .get(topic)
            .ok_or_else(|| BusError::UnknownTopic(topic.to_owned()))?;
        let log = parts
            .get(partition as usize)
            .ok_or_else(|| BusError::UnknownPartition {
                topic: topic.to_owned(),
                partition,
                partitions: parts.len() as u32,
            })?;
        let messages: Vec<Message> = log
            .iter()
            .skip(read.from as usize)
            .take(read.max)
            .cloned()
            .collect();
        let next = read.from + messages.len() as u64;
        Ok((messages, next))
    }

    fn backend_name(&self) -> &'static str {
        "memory"
    }

    fn accepts_writes(&self) -> Result<(), BusError> {
        self.check_room()
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
        let state = lock(&self.bus.state);
        let mut out = Vec::new();
        for (tp, position) in self.positions.iter_mut() {
            let Some(log) = state
                .topics
                .get(&tp.topic)
                .and_then(|parts| parts.get(tp.partition as usize))
            else {
                continue; // deleted since: nothing more to read
            };
            while let Some(message) = log.get(*position as usize) {
                if out.len() >= self.poll_records_max {
                    return out;
                }
                out.push(message.clone());
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
        let mut state = lock(&self.bus.state);
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
            lock(&self.bus.journal).push(Event::Committed {
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
