//! A consumer-group member over librdkafka's `BaseConsumer`.
//!
//! Owns one librdkafka consumer, its assignment as the rebalance callbacks report it, and
//! the messages of a poll that was cancelled while it ran (so none is lost to the caller).
//!
//! - `poll` first drains what librdkafka has already fetched, on the calling task without
//!   blocking; only when nothing is there does it wait, on a blocking thread, at most
//!   `timeout` for the first message. Rebalance callbacks run inside those polls, so the
//!   assignment changes only during `poll`, as the runtime expects.
//! - `commit` is synchronous (it returns once the group coordinator stored the positions)
//!   and refuses partitions not assigned to this member ([`BusError::NotAssigned`]).
//! - `seek` moves the fetch position of an assigned partition; librdkafka drops what it
//!   had prefetched for it.
//! - `close` leaves the group (the others get the partitions at once); dropping without
//!   `close` does the same on a background thread.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::client::ClientContext;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer as _, ConsumerContext, Rebalance};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{BorrowedMessage, Headers as _, Message as _};
use rdkafka::{Offset, TopicPartitionList};
use tokio::task::JoinHandle;

use super::{CONSUMER_DEFAULTS, KafkaConfig, blocking, lock};
use crate::port::{BusError, Consumer, ConsumerConfig, Message, StartFrom, TopicPartition};

/// Bound of a seek, a commit and the wait for the group to be left.
const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Seeks tried while librdkafka answers "erroneous state" (a partition not fetching yet).
const SEEK_ATTEMPTS_MAX: u32 = 50;
/// Pause between those seeks (50 × 100 ms: 5 s at most).
const SEEK_RETRY_DELAY: Duration = Duration::from_millis(100);

/// Tracks the assignment from the rebalance callbacks.
#[derive(Default)]
pub(crate) struct MemberContext {
    assigned: Mutex<BTreeSet<TopicPartition>>,
    /// Bumped on every assignment change, so a poll knows whether to re-filter.
    generation: AtomicU64,
}

impl ClientContext for MemberContext {}

impl ConsumerContext for MemberContext {
    fn post_rebalance(&self, _consumer: &BaseConsumer<Self>, rebalance: &Rebalance<'_>) {
        let mut assigned = lock(&self.assigned);
        match rebalance {
            // Incremental (cooperative) assignments list the partitions added; eager ones
            // list the whole assignment after a full revoke: adding covers both.
            Rebalance::Assign(tpl) => {
                for e in tpl.elements() {
                    assigned.insert(TopicPartition {
                        topic: e.topic().to_owned(),
                        partition: e.partition() as u32,
                    });
                }
            }
            Rebalance::Revoke(tpl) => {
                for e in tpl.elements() {
                    assigned.remove(&TopicPartition {
                        topic: e.topic().to_owned(),
                        partition: e.partition() as u32,
                    });
                }
            }
            Rebalance::Error(error) => {
                tracing::warn!(%error, "kafka rebalance error");
            }
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }
}

type Client = BaseConsumer<MemberContext>;

/// The group timings of a member: `session.timeout.ms`, `heartbeat.interval.ms` and
/// `max.poll.interval.ms` set as properties (`EDALAB__KAFKA__SESSION__TIMEOUT__MS`) win;
/// otherwise the session comes from the `ConsumerConfig`, the heartbeat is a third of the
/// session and the poll interval the session (at least 10 s).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Timings {
    pub(crate) session_ms: u64,
    pub(crate) heartbeat_ms: u64,
    pub(crate) poll_interval_ms: u64,
}

impl Timings {
    pub(crate) fn of(
        properties: &BTreeMap<String, String>,
        session_timeout: Duration,
    ) -> Result<Self, BusError> {
        let property_ms = |name: &str| -> Result<Option<u64>, BusError> {
            properties
                .get(name)
                .map(|v| {
                    v.trim().parse::<u64>().map_err(|_| {
                        BusError::Backend(format!(
                            "kafka property `{name}` = `{v}` is not a number of milliseconds"
                        ))
                    })
                })
                .transpose()
        };
        let session_ms = match property_ms("session.timeout.ms")? {
            Some(ms) => ms,
            None => session_timeout.as_millis().clamp(1_000, 3_600_000) as u64,
        };
        let heartbeat_ms = property_ms("heartbeat.interval.ms")?
            .unwrap_or_else(|| (session_ms / 3).clamp(100, 3_000));
        // The runtime polls far more often than this; a member stuck longer is gone.
        let poll_interval_ms =
            property_ms("max.poll.interval.ms")?.unwrap_or_else(|| session_ms.max(10_000));
        Ok(Self {
            session_ms,
            heartbeat_ms,
            poll_interval_ms,
        })
    }
}

/// One member of a Kafka consumer group.
pub struct KafkaConsumer {
    consumer: Option<Arc<Client>>,
    group: String,
    poll_records_max: usize,
    /// Topic names shared by the messages (one allocation per topic, not per message).
    topics: Arc<[Arc<str>]>,
    /// A poll that was cancelled while waiting on its blocking thread.
    pending: Option<JoinHandle<Result<Vec<Message>, BusError>>>,
    /// Messages collected by a cancelled poll, handed out first.
    buffered: VecDeque<Message>,
}

impl std::fmt::Debug for KafkaConsumer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConsumer")
            .field("group", &self.group)
            .field("assignment", &self.assignment())
            .finish_non_exhaustive()
    }
}

impl KafkaConsumer {
    /// Creates the librdkafka consumer and subscribes (blocking: call off the async threads).
    pub(crate) fn join(kafka: &KafkaConfig, config: ConsumerConfig) -> Result<Self, BusError> {
        let timings = Timings::of(&kafka.properties, config.session_timeout)?;
        let reset = match config.start_from {
            StartFrom::Earliest => "earliest",
            StartFrom::Latest => "latest",
        };
        let mut client_config = kafka.client_config(&[]);
        client_config
            .set("group.id", &config.group)
            .set("auto.offset.reset", reset)
            .set("session.timeout.ms", timings.session_ms.to_string())
            .set("heartbeat.interval.ms", timings.heartbeat_ms.to_string())
            .set("max.poll.interval.ms", timings.poll_interval_ms.to_string());
        for (name, value) in CONSUMER_DEFAULTS {
            if !kafka.properties.contains_key(*name) {
                client_config.set(*name, *value);
            }
        }
        let consumer: Client = client_config
            .create_with_context(MemberContext::default())
            .map_err(|e| {
                BusError::Backend(format!(
                    "cannot create the kafka consumer of group `{}`: {e}",
                    config.group
                ))
            })?;
        let names: Vec<&str> = config.topics.iter().map(String::as_str).collect();
        consumer.subscribe(&names).map_err(|e| {
            BusError::Backend(format!(
                "kafka consumer of group `{}` cannot subscribe to {names:?}: {e}",
                config.group
            ))
        })?;
        Ok(Self {
            consumer: Some(Arc::new(consumer)),
            group: config.group,
            poll_records_max: config.poll_records_max,
            topics: config
                .topics
                .iter()
                .map(|t| Arc::from(t.as_str()))
                .collect(),
            pending: None,
            buffered: VecDeque::new(),
        })
    }

    fn client(&self) -> Result<&Arc<Client>, BusError> {
        self.consumer.as_ref().ok_or(BusError::Closed)
    }

    fn is_assigned(&self, tp: &TopicPartition) -> bool {
        self.consumer
            .as_ref()
            .is_some_and(|c| lock(&c.context().assigned).contains(tp))
    }

    /// Waits for a cancelled poll's result and keeps its messages for the next poll.
    async fn settle_pending(&mut self) -> Result<(), BusError> {
        if let Some(handle) = &mut self.pending {
            let result = handle.await;
            self.pending = None;
            let messages =
                result.map_err(|e| BusError::Backend(format!("kafka poll task failed: {e}")))??;
            self.buffered.extend(messages);
        }
        Ok(())
    }

    /// Hands out buffered messages of partitions still assigned.
    fn take_buffered(&mut self) -> Vec<Message> {
        let Some(consumer) = &self.consumer else {
            return Vec::new();
        };
        let assigned = lock(&consumer.context().assigned).clone();
        let n = self.buffered.len().min(self.poll_records_max);
        self.buffered
            .drain(..n)
            .filter(|m| {
                assigned.contains(&TopicPartition {
                    topic: m.topic.to_string(),
                    partition: m.partition,
                })
            })
            .collect()
    }
}

/// Polls up to `max` messages, waiting at most `timeout` for the first.
fn drain(
    consumer: &Client,
    topics: &[Arc<str>],
    max: usize,
    timeout: Duration,
) -> Result<Vec<Message>, BusError> {
    let deadline = Instant::now() + timeout;
    let generation = consumer.context().generation.load(Ordering::Acquire);
    let mut out = Vec::new();
    loop {
        let wait = if out.is_empty() {
            deadline.saturating_duration_since(Instant::now())
        } else {
            Duration::ZERO
        };
        match consumer.poll(wait) {
            Some(Ok(m)) => {
                out.push(to_message(&m, topics));
                if out.len() >= max {
                    break;
                }
            }
            Some(Err(error)) => {
                if let Some((code, reason)) = consumer.client().fatal_error() {
                    return Err(BusError::Backend(format!(
                        "kafka consumer failed: {code}: {reason}"
                    )));
                }
                // librdkafka reports transient broker errors and retries by itself.
                tracing::warn!(%error, "kafka consumer error (retrying)");
                if !out.is_empty() || Instant::now() >= deadline {
                    break;
                }
            }
            // Nothing, or a rebalance or commit event served.
            None => {
                if !out.is_empty() || Instant::now() >= deadline {
                    break;
                }
            }
        }
    }
    if consumer.context().generation.load(Ordering::Acquire) != generation {
        // A rebalance ran during this poll: drop what was read from partitions now gone.
        let assigned = lock(&consumer.context().assigned).clone();
        out.retain(|m| {
            assigned.contains(&TopicPartition {
                topic: m.topic.to_string(),
                partition: m.partition,
            })
        });
    }
    Ok(out)
}

pub(super) fn to_message(m: &BorrowedMessage<'_>, topics: &[Arc<str>]) -> Message {
    let topic = topics
        .iter()
        .find(|t| ***t == *m.topic())
        .cloned()
        .unwrap_or_else(|| Arc::from(m.topic()));
    let headers = m.headers().map_or_else(Vec::new, |hs| {
        hs.iter()
            .map(|h| {
                (
                    h.key.to_owned(),
                    h.value.map_or_else(Vec::new, <[u8]>::to_vec),
                )
            })
            .collect()
    });
    Message {
        topic,
        partition: m.partition() as u32,
        offset: m.offset().max(0) as u64,
        key: m.key().map(<[u8]>::to_vec),
        value: m.payload().map_or_else(Vec::new, <[u8]>::to_vec),
        headers,
        timestamp_ms: m.timestamp().to_millis().unwrap_or(0),
    }
}

#[async_trait]
impl Consumer for KafkaConsumer {
    async fn poll(&mut self, timeout: Duration) -> Result<Vec<Message>, BusError> {
        self.client()?;
        self.settle_pending().await?;
        if !self.buffered.is_empty() {
            return Ok(self.take_buffered());
        }
        let consumer = self.client()?.clone();
        // Already fetched: no thread hop.
        let ready = drain(
            &consumer,
            &self.topics,
            self.poll_records_max,
            Duration::ZERO,
        )?;
        if !ready.is_empty() || timeout.is_zero() {
            return Ok(ready);
        }
        let topics = self.topics.clone();
        let max = self.poll_records_max;
        let handle = self.pending.insert(tokio::task::spawn_blocking(move || {
            drain(&consumer, &topics, max, timeout)
        }));
        // Cancel-safe: if this future is dropped here, the next call collects the result.
        let result = handle.await;
        self.pending = None;
        result.map_err(|e| BusError::Backend(format!("kafka poll task failed: {e}")))?
    }

    async fn commit(&mut self, positions: &BTreeMap<TopicPartition, u64>) -> Result<(), BusError> {
        let consumer = self.client()?.clone();
        if positions.is_empty() {
            return Ok(());
        }
        let mut tpl = TopicPartitionList::with_capacity(positions.len());
        for (tp, offset) in positions {
            if !self.is_assigned(tp) {
                return Err(BusError::NotAssigned {
                    group: self.group.clone(),
                    partition: tp.partition,
                });
            }
            let offset = i64::try_from(*offset).map_err(|_| {
                BusError::Backend(format!("offset {offset} does not fit Kafka's i64"))
            })?;
            tpl.add_partition_offset(&tp.topic, tp.partition as i32, Offset::Offset(offset))
                .map_err(|e| BusError::Backend(format!("kafka commit of `{}`: {e}", tp.topic)))?;
        }
        let first = positions.keys().next().map_or(0, |tp| tp.partition);
        let group = self.group.clone();
        blocking(move || consumer.commit(&tpl, CommitMode::Sync))
            .await?
            .map_err(|error| match error.rdkafka_error_code() {
                // The group moved on (a rebalance is running or this member was fenced):
                // the partitions are, or are about to be, someone else's.
                Some(
                    RDKafkaErrorCode::RebalanceInProgress
                    | RDKafkaErrorCode::IllegalGeneration
                    | RDKafkaErrorCode::UnknownMemberId
                    | RDKafkaErrorCode::FencedInstanceId,
                ) => BusError::NotAssigned {
                    group: group.clone(),
                    partition: first,
                },
                _ => BusError::Backend(format!("kafka commit of group `{group}`: {error}")),
            })
    }

    async fn seek(&mut self, partition: &TopicPartition, offset: u64) -> Result<(), BusError> {
        let consumer = self.client()?.clone();
        if !self.is_assigned(partition) {
            return Err(BusError::NotAssigned {
                group: self.group.clone(),
                partition: partition.partition,
            });
        }
        self.settle_pending().await?;
        self.buffered
            .retain(|m| !(*m.topic == *partition.topic && m.partition == partition.partition));
        let offset = i64::try_from(offset)
            .map_err(|_| BusError::Backend(format!("offset {offset} does not fit Kafka's i64")))?;
        let mut attempts = 1;
        loop {
            let (consumer, tp) = (consumer.clone(), partition.clone());
            let sought = blocking(move || {
                consumer.seek(
                    &tp.topic,
                    tp.partition as i32,
                    Offset::Offset(offset),
                    CALL_TIMEOUT,
                )
            })
            .await?;
            match sought {
                // librdkafka refuses a seek until the partition, just assigned, has started
                // fetching (`ERR__STATE`); it gets there within a few polls.
                Err(KafkaError::Seek(reason))
                    if reason.contains("Erroneous state") && attempts < SEEK_ATTEMPTS_MAX =>
                {
                    attempts += 1;
                    tokio::time::sleep(SEEK_RETRY_DELAY).await;
                }
                other => {
                    return other.map_err(|e: KafkaError| {
                        BusError::Backend(format!(
                            "kafka seek of `{}` partition {} to {offset}: {e}",
                            partition.topic, partition.partition
                        ))
                    });
                }
            }
        }
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.consumer.as_ref().map_or_else(Vec::new, |c| {
            lock(&c.context().assigned).iter().cloned().collect()
        })
    }

    async fn close(&mut self) -> Result<(), BusError> {
        if let Some(handle) = self.pending.take() {
            // Its messages are not handed out any more; they stay uncommitted.
            let _ = handle.await;
        }
        self.buffered.clear();
        let Some(consumer) = self.consumer.take() else {
            return Ok(());
        };
        // Dropping the last handle leaves the group (librdkafka's consumer close: revoke,
        // LeaveGroup) and waits for it, on a blocking thread, bounded here.
        let leave = blocking(move || {
            consumer.unsubscribe();
            drop(consumer);
        });
        match tokio::time::timeout(CALL_TIMEOUT, leave).await {
            Ok(result) => result,
            Err(_) => Err(BusError::Backend(format!(
                "kafka consumer of group `{}` did not leave the group within {CALL_TIMEOUT:?}",
                self.group
            ))),
        }
    }
}

impl Drop for KafkaConsumer {
    fn drop(&mut self) {
        if let Some(consumer) = self.consumer.take() {
            // Leaving the group blocks (see `close`): never on an async thread.
            let _ = std::thread::Builder::new()
                .name("edalab-kafka-leave".to_owned())
                .spawn(move || {
                    consumer.unsubscribe();
                    drop(consumer);
                });
        }
    }
}
