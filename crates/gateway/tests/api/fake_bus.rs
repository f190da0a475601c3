//! A test-only in-memory bus (trimmed from `crates/bus/tests/common`): single-member groups
//! over in-memory partitions. Not a backend: no durability, no rebalancing, no retention.
//! Replaced by the embedded log in these tests once it lands.

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
use tokio::sync::Notify;
use tokio::time::Instant;

#[derive(Default)]
struct State {
    topics: BTreeMap<String, Vec<Vec<Message>>>,
    committed: BTreeMap<(String, TopicPartition), u64>,
    down: bool,
    /// Below the free-space floor: appends refused, the rest works.
    disk_full: bool,
}

#[derive(Clone, Default)]
pub struct FakeBus {
    state: Arc<Mutex<State>>,
    notify: Arc<Notify>,
    round_robin: Arc<AtomicU32>,
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

    /// Every admin call fails from now on (a bus that is down).
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    /// Appends fail with `DiskFull` from now on, as the embedded log below its floor.
    pub fn set_disk_full(&self, full: bool) {
        self.state.lock().unwrap().disk_full = full;
    }

    fn check_room(&self) -> Result<(), BusError> {
        if self.state.lock().unwrap().disk_full {
            Err(BusError::DiskFull {
                path: "fake".to_owned(),
                free_bytes: 1,
                floor_bytes: 2,
            })
        } else {
            Ok(())
        }
    }

    pub async fn send(&self, topic: &str, pairs: &[(&str, &str)]) -> Vec<Delivery> {
        let records = pairs
            .iter()
            .map(|(k, v)| Record::new(Some(k.as_bytes().to_vec()), v.as_bytes().to_vec()))
            .collect();
        self.produce(topic, records).await.expect("produce")
    }

    fn check_up(&self) -> Result<(), BusError> {
        if self.state.lock().unwrap().down {
            Err(BusError::Backend("the fake bus is down".to_owned()))
        } else {
            Ok(())
        }
    }

    fn partition_for(key: &[u8], partitions: u32) -> u32 {
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
        self.check_up()?;
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
        self.check_up()?;
        Ok(self.state.lock().unwrap().topics.keys().cloned().collect())
    }

    async fn delete_topic(&self, name: &str) -> Result<(), BusError> {
        self.state.lock().unwrap().topics.remove(name);
        Ok(())
    }

    async fn group_lag(&self, group: &str) -> Result<Vec<PartitionLag>, BusError> {
        self.check_up()?;
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
        self.check_up()?;
        let state = self.state.lock().unwrap();
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
            let mut state = self.state.lock().unwrap();
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
                let timestamp_ms = record
                    .timestamp_ms
                    .unwrap_or_else(|| chrono::Utc::now().timestamp_millis());
                let log = &mut state.topics.get_mut(topic).unwrap()[partition as usize];
                let offset = log.len() as u64;
                log.push(Message {
                    topic: Arc::from(topic),
                    partition,
                    offset,
                    key: record.key,
                    value: record.value,
                    headers: record.headers,
                    timestamp_ms,
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

    fn accepts_writes(&self) -> Result<(), BusError> {
        self.check_room()
    }
}

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
