//! Dead-letter queues: where each origin topic's failed messages go, the format of a DLQ
//! message, and reading DLQ messages back ([`list`], [`show`]).
//!
//! A DLQ message is the original record — same key, same value, same headers (less any
//! earlier `dlq.*` and `attempt` headers) — plus the `dlq.*` headers of
//! [`crate::port::headers`]: `dlq.error`, `dlq.attempts`, `dlq.origin.topic`,
//! `dlq.origin.partition`, `dlq.origin.offset`, `dlq.group`, `dlq.first_failure_ms`,
//! `dlq.last_failure_ms`, all UTF-8 text (numbers in ASCII decimal). A DLQ topic is an
//! ordinary topic, so every backend stores it and every tool reads it.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::port::{
    Admin, Bus, BusError, Consumer, ConsumerConfig, Headers, Message, Record, StartFrom,
    TimestampMs, TopicPartition, headers,
};

use super::RuntimeError;

/// The group the inspection commands read with. It never commits, so every read starts at
/// the beginning of the DLQ.
pub const INSPECT_GROUP: &str = "edalab.dlq-inspect";

/// Poll timeout while scanning a topic to its end.
const SCAN_POLL_TIMEOUT_MS: u64 = 500;
/// Consecutive empty polls after which a scan stops even if the end was not seen (the end
/// may have been removed by retention).
const SCAN_IDLE_POLLS_MAX: u32 = 4;
/// Longest wait for the scan's group to be assigned its partitions (a broker's join may
/// wait out part of the session timeout first).
const SCAN_ASSIGNMENT_WAIT: Duration = Duration::from_secs(30);

/// Which DLQ topic receives the failures of each origin topic (SQS redrive policy).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DlqRouting {
    by_topic: BTreeMap<String, String>,
    default_topic: Option<String>,
}

impl DlqRouting {
    /// Every origin topic's failures go to `dlq_topic` unless routed otherwise.
    pub fn to_topic(dlq_topic: impl Into<String>) -> Self {
        Self {
            by_topic: BTreeMap::new(),
            default_topic: Some(dlq_topic.into()),
        }
    }

    /// Failures of `origin_topic` go to `dlq_topic` (e.g. `transactions` → `transactions-dlq`).
    pub fn route(mut self, origin_topic: impl Into<String>, dlq_topic: impl Into<String>) -> Self {
        self.by_topic.insert(origin_topic.into(), dlq_topic.into());
        self
    }

    pub fn dlq_for(&self, origin_topic: &str) -> Option<&str> {
        self.by_topic
            .get(origin_topic)
            .or(self.default_topic.as_ref())
            .map(String::as_str)
    }
}

/// Why and when a message failed, as written in its DLQ headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub error: String,
    pub attempts: u32,
    pub first_failure_ms: TimestampMs,
    pub last_failure_ms: TimestampMs,
}

fn is_runtime_header(name: &str) -> bool {
    name.starts_with("dlq.") || name == headers::ATTEMPT
}

/// The DLQ record of `message`, which `group` failed to handle.
pub fn dead_letter_record(message: &Message, group: &str, failure: &Failure) -> Record {
    let mut record_headers: Headers = message
        .headers
        .iter()
        .filter(|(name, _)| !is_runtime_header(name))
        .cloned()
        .collect();
    let mut push =
        |name: &str, value: String| record_headers.push((name.to_owned(), value.into_bytes()));
    push(headers::DLQ_ERROR, failure.error.clone());
    push(headers::DLQ_ATTEMPTS, failure.attempts.to_string());
    push(headers::DLQ_ORIGIN_TOPIC, message.topic.to_string());
    push(headers::DLQ_ORIGIN_PARTITION, message.partition.to_string());
    push(headers::DLQ_ORIGIN_OFFSET, message.offset.to_string());
    push(headers::DLQ_GROUP, group.to_owned());
    push(
        headers::DLQ_FIRST_FAILURE_MS,
        failure.first_failure_ms.to_string(),
    );
    push(
        headers::DLQ_LAST_FAILURE_MS,
        failure.last_failure_ms.to_string(),
    );
    Record {
        key: message.key.clone(),
        value: message.value.clone(),
        headers: record_headers,
        // The DLQ's own retention counts from when the message was dead-lettered.
        timestamp_ms: None,
        partition: None,
    }
}

/// The record that puts a DLQ message back on its origin topic: `dlq.*` headers stripped,
/// attempts reset (no `attempt` header). Keyed records are placed by the partitioner (the
/// same partition as before while the partition count is unchanged); keyless ones go back to
/// their origin partition.
pub fn redrive_record(entry: &DlqEntry) -> Record {
    Record {
        key: entry.key.clone(),
        value: entry.value.clone(),
        headers: entry.headers.clone(),
        timestamp_ms: None,
        partition: entry.key.is_none().then_some(entry.origin_partition),
    }
}

/// A DLQ message, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DlqEntry {
    pub dlq_topic: String,
    pub dlq_partition: u32,
    pub dlq_offset: u64,
    /// When it was dead-lettered.
    pub timestamp_ms: TimestampMs,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    /// The original headers (without the `dlq.*` ones).
    pub headers: Headers,
    pub error: String,
    pub attempts: u32,
    pub origin_topic: String,
    pub origin_partition: u32,
    pub origin_offset: u64,
    pub group: String,
    pub first_failure_ms: TimestampMs,
    pub last_failure_ms: TimestampMs,
}

/// A message in a DLQ topic that lacks or garbles a `dlq.*` header.
#[derive(Debug, thiserror::Error)]
#[error("{topic}/{partition}@{offset} is not a DLQ message: header `{header}` {problem}")]
pub struct DlqParseError {
    pub topic: String,
    pub partition: u32,
    pub offset: u64,
    pub header: &'static str,
    pub problem: &'static str,
}

impl DlqEntry {
    /// The key as text (lossy UTF-8), if there is one.
    pub fn key_text(&self) -> Option<String> {
        self.key
            .as_deref()
            .map(|key| String::from_utf8_lossy(key).into_owned())
    }

    /// The value as JSON when it is JSON text, else as a (lossy UTF-8) JSON string.
    pub fn value_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.value).unwrap_or_else(|_| {
            serde_json::Value::String(String::from_utf8_lossy(&self.value).into_owned())
        })
    }

    pub fn parse(message: &Message) -> Result<Self, DlqParseError> {
        let error = |header: &'static str, problem: &'static str| DlqParseError {
            topic: message.topic.to_string(),
            partition: message.partition,
            offset: message.offset,
            header,
            problem,
        };
        let text = |header: &'static str| -> Result<String, DlqParseError> {
            let raw = message
                .header(header)
                .ok_or_else(|| error(header, "is missing"))?;
            String::from_utf8(raw.to_vec()).map_err(|_| error(header, "is not UTF-8"))
        };
        fn number<T: std::str::FromStr>(
            value: String,
            header: &'static str,
            error: &dyn Fn(&'static str, &'static str) -> DlqParseError,
        ) -> Result<T, DlqParseError> {
            value.parse().map_err(|_| error(header, "is not a number"))
        }
        Ok(Self {
            dlq_topic: message.topic.to_string(),
            dlq_partition: message.partition,
            dlq_offset: message.offset,
            timestamp_ms: message.timestamp_ms,
            key: message.key.clone(),
            value: message.value.clone(),
            headers: message
                .headers
                .iter()
                .filter(|(name, _)| !name.starts_with("dlq."))
                .cloned()
                .collect(),
            error: text(headers::DLQ_ERROR)?,
            attempts: number(text(headers::DLQ_ATTEMPTS)?, headers::DLQ_ATTEMPTS, &error)?,
            origin_topic: text(headers::DLQ_ORIGIN_TOPIC)?,
            origin_partition: number(
                text(headers::DLQ_ORIGIN_PARTITION)?,
                headers::DLQ_ORIGIN_PARTITION,
                &error,
            )?,
            origin_offset: number(
                text(headers::DLQ_ORIGIN_OFFSET)?,
                headers::DLQ_ORIGIN_OFFSET,
                &error,
            )?,
            group: text(headers::DLQ_GROUP)?,
            first_failure_ms: number(
                text(headers::DLQ_FIRST_FAILURE_MS)?,
                headers::DLQ_FIRST_FAILURE_MS,
                &error,
            )?,
            last_failure_ms: number(
                text(headers::DLQ_LAST_FAILURE_MS)?,
                headers::DLQ_LAST_FAILURE_MS,
                &error,
            )?,
        })
    }
}

/// The committed position of `group` on each partition of `topic` (partitions it never
/// committed are absent).
pub(crate) async fn committed_positions(
    admin: &dyn Admin,
    group: &str,
    topic: &str,
) -> Result<BTreeMap<u32, u64>, RuntimeError> {
    Ok(admin
        .group_lag(group)
        .await?
        .into_iter()
        .filter(|lag| lag.topic == topic)
        .filter_map(|lag| lag.committed.map(|c| (lag.partition, c)))
        .collect())
}

/// Reads a topic from a group's position up to the end it had when the scan started, so a
/// scan finishes even while producers keep appending.
pub(crate) struct TopicScan {
    consumer: Box<dyn Consumer>,
    /// Partition → offset the scan starts at.
    starts: BTreeMap<u32, u64>,
    /// Partition → offset the scan stops at (the high watermark at the start).
    ends: BTreeMap<u32, u64>,
    /// Partitions whose end was reached.
    done: BTreeMap<u32, bool>,
    idle_polls: u32,
    /// When the scan joined its group (empty polls before the assignment are not idle).
    joined: std::time::Instant,
}

impl TopicScan {
    pub(crate) async fn open(
        bus: &dyn Bus,
        topic: &str,
        group: &str,
    ) -> Result<Self, RuntimeError> {
        let committed = committed_positions(bus, group, topic).await?;
        Self::open_from(bus, topic, group, &committed).await
    }

    /// Reads `topic` in `reader_group` (which must not commit), starting each partition
    /// at `starts` (the log start where absent): e.g. where another group stopped.
    pub(crate) async fn open_at(
        bus: &dyn Bus,
        topic: &str,
        reader_group: &str,
        starts: &BTreeMap<u32, u64>,
    ) -> Result<Self, RuntimeError> {
        let mut scan = Self::open_from(bus, topic, reader_group, starts).await?;
        if scan.done.values().all(|done| *done) {
            return Ok(scan);
        }
        let wanted: Vec<TopicPartition> = scan
            .ends
            .keys()
            .map(|&partition| TopicPartition {
                topic: topic.to_owned(),
                partition,
            })
            .collect();
        // Assignment comes with a poll; seek once every partition is ours, dropping what
        // that poll returned (it is read again after the seek).
        scan.wait_assigned(&wanted).await?;
        for tp in &wanted {
            let start = scan.starts.get(&tp.partition).copied().unwrap_or(0);
            scan.consumer.seek(tp, start).await?;
        }
        Ok(scan)
    }

    /// Polls until every partition of `wanted` is assigned to the scan's member.
    async fn wait_assigned(&mut self, wanted: &[TopicPartition]) -> Result<(), RuntimeError> {
        while self.joined.elapsed() < SCAN_ASSIGNMENT_WAIT {
            let assigned = self.consumer.assignment();
            if wanted.iter().all(|tp| assigned.contains(tp)) {
                return Ok(());
            }
            self.consumer
                .poll(Duration::from_millis(SCAN_POLL_TIMEOUT_MS))
                .await?;
        }
        Err(RuntimeError::Bus(BusError::NotAssigned {
            group: INSPECT_GROUP.to_owned(),
            partition: wanted.first().map_or(0, |tp| tp.partition),
        }))
    }

    async fn open_from(
        bus: &dyn Bus,
        topic: &str,
        group: &str,
        committed: &BTreeMap<u32, u64>,
    ) -> Result<Self, RuntimeError> {
        let description = bus.describe_topic(topic).await?;
        let mut ends = BTreeMap::new();
        let mut starts = BTreeMap::new();
        let mut done = BTreeMap::new();
        for info in &description.partitions {
            let start = committed
                .get(&info.partition)
                .copied()
                .unwrap_or(info.log_start_offset)
                .max(info.log_start_offset);
            ends.insert(info.partition, info.high_watermark);
            starts.insert(info.partition, start);
            done.insert(info.partition, start >= info.high_watermark);
        }
        let mut config = ConsumerConfig::new(group, vec![topic.to_owned()]);
        config.start_from = StartFrom::Earliest;
        config.poll_records_max = 1_000;
        let consumer = bus.consumer(config).await?;
        Ok(Self {
            consumer,
            starts,
            ends,
            done,
            idle_polls: 0,
            joined: std::time::Instant::now(),
        })
    }

    /// Restricts the scan to `partition` from `offset` to `offset + 1`.
    pub(crate) async fn seek_one(
        &mut self,
        topic: &str,
        partition: u32,
        offset: u64,
    ) -> Result<(), RuntimeError> {
        let tp = TopicPartition {
            topic: topic.to_owned(),
            partition,
        };
        let high_watermark = self.ends.get(&partition).copied().unwrap_or(0);
        for (p, done) in self.done.iter_mut() {
            *done = *p != partition || offset >= high_watermark;
        }
        self.ends.insert(partition, offset.saturating_add(1));
        // Assignment may come with the first poll (Kafka); seek once assigned, and drop
        // whatever that poll returned.
        self.wait_assigned(std::slice::from_ref(&tp)).await?;
        self.consumer.seek(&tp, offset).await?;
        Ok(())
    }

    /// The next messages before the end, or `None` when the end is reached.
    pub(crate) async fn next_batch(&mut self) -> Result<Option<Vec<Message>>, RuntimeError> {
        loop {
            if self.done.values().all(|done| *done) || self.idle_polls >= SCAN_IDLE_POLLS_MAX {
                return Ok(None);
            }
            let polled = self
                .consumer
                .poll(Duration::from_millis(SCAN_POLL_TIMEOUT_MS))
                .await?;
            if polled.is_empty() {
                let joining = self.consumer.assignment().is_empty()
                    && self.joined.elapsed() < SCAN_ASSIGNMENT_WAIT;
                if !joining {
                    self.idle_polls += 1;
                }
                continue;
            }
            self.idle_polls = 0;
            let mut batch = Vec::with_capacity(polled.len());
            for message in polled {
                let end = self.ends.get(&message.partition).copied().unwrap_or(0);
                if message.offset.saturating_add(1) >= end {
                    self.done.insert(message.partition, true);
                }
                // A record past the end read with the last batch is kept: a broker may
                // understate the high watermark (tansu answers the last batch's base + 1).
                if message.offset < end || self.done.get(&message.partition) == Some(&true) {
                    batch.push(message);
                }
            }
            if !batch.is_empty() {
                return Ok(Some(batch));
            }
        }
    }

    pub(crate) async fn commit(
        &mut self,
        positions: &BTreeMap<TopicPartition, u64>,
    ) -> Result<(), RuntimeError> {
        if !positions.is_empty() {
            self.consumer.commit(positions).await?;
        }
        Ok(())
    }

    pub(crate) async fn close(mut self) -> Result<(), RuntimeError> {
        self.consumer.close().await?;
        Ok(())
    }
}

/// Up to `limit` messages of `dlq_topic`, oldest first per partition, each parsed (or why
/// it could not be).
pub async fn list(
    bus: &dyn Bus,
    dlq_topic: &str,
    limit: usize,
) -> Result<Vec<Result<DlqEntry, DlqParseError>>, RuntimeError> {
    let scan = TopicScan::open(bus, dlq_topic, INSPECT_GROUP).await?;
    collect(scan, limit).await
}

/// Reads up to `limit` messages from `scan`, parsed, and closes it.
pub(crate) async fn collect(
    mut scan: TopicScan,
    limit: usize,
) -> Result<Vec<Result<DlqEntry, DlqParseError>>, RuntimeError> {
    let mut entries = Vec::new();
    while entries.len() < limit {
        let Some(batch) = scan.next_batch().await? else {
            break;
        };
        let room = limit - entries.len();
        entries.extend(batch.iter().take(room).map(DlqEntry::parse));
    }
    scan.close().await?;
    Ok(entries)
}

/// The DLQ message at `partition`/`offset` of `dlq_topic`, if it exists.
pub async fn show(
    bus: &dyn Bus,
    dlq_topic: &str,
    partition: u32,
    offset: u64,
) -> Result<Option<Result<DlqEntry, DlqParseError>>, RuntimeError> {
    let mut scan = TopicScan::open(bus, dlq_topic, INSPECT_GROUP).await?;
    scan.seek_one(dlq_topic, partition, offset).await?;
    let mut found = None;
    while let Some(batch) = scan.next_batch().await? {
        if let Some(message) = batch
            .iter()
            .find(|m| m.partition == partition && m.offset == offset)
        {
            found = Some(DlqEntry::parse(message));
            break;
        }
    }
    scan.close().await?;
    Ok(found)
}
