//! The bus port: what every log backend (embedded log, Kafka) offers and what the consumer
//! runtime and the services rely on. Nothing here knows how bytes are stored. SQS is not a
//! bus backend: it has no partitions, offsets or groups; queues go through
//! [`crate::queue::Queues`] (`docs/adr/026-aws-profile.md` §2, superseding ADR 005's SQS table).
//!
//! The vocabulary is Kafka's, because Kafka is the richest and the embedded log maps onto a
//! subset of it (see `docs/adr/004-embedded-log-storage.md`):
//! - a **topic** has a fixed number of **partitions**; a record with a key always lands on
//!   the partition chosen by [`crate::partitioner::partition_for_key`] (Kafka's murmur2),
//!   so order per key is kept and the partition number is the same in every profile;
//! - an **offset** numbers records within a partition, from 0, without gaps for live data
//!   (retention moves the log start forward);
//! - a **consumer group** shares a topic's partitions among its members and keeps one
//!   committed position per partition (the offset of the next record to read).
//!
//! Every call that makes data visible to others returns only once the data is durable as
//! the backend promises (`acks=all` for Kafka, fsync under the embedded log's policy).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

/// Record headers, in order, as Kafka keeps them (a name may repeat).
pub type Headers = Vec<(String, Vec<u8>)>;

/// Milliseconds since the Unix epoch, as Kafka timestamps are.
pub type TimestampMs = i64;

/// A record to produce.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Record {
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Headers,
    /// `None`: the backend stamps the append time.
    pub timestamp_ms: Option<TimestampMs>,
    /// `None`: the partitioner chooses (by key; round robin without a key).
    pub partition: Option<u32>,
}

impl Record {
    pub fn new(key: Option<Vec<u8>>, value: Vec<u8>) -> Self {
        Self {
            key,
            value,
            ..Self::default()
        }
    }

    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// Where a produced record landed, returned once it is durable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Delivery {
    pub partition: u32,
    pub offset: u64,
}

/// A record read from a topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    pub topic: Arc<str>,
    pub partition: u32,
    pub offset: u64,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Headers,
    pub timestamp_ms: TimestampMs,
}

impl Message {
    /// The last value of header `name`, if present.
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    pub fn topic_partition(&self) -> TopicPartition {
        TopicPartition {
            topic: self.topic.to_string(),
            partition: self.partition,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TopicPartition {
    pub topic: String,
    pub partition: u32,
}

/// Settings of a topic. `None` retention means "keep forever".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicConfig {
    pub partitions: u32,
    pub retention_ms: Option<u64>,
    pub retention_bytes: Option<u64>,
    /// Kafka `compression.type` (`none`, `gzip`, `lz4`, `zstd`, `snappy`); a backend that
    /// does not compress keeps it as metadata.
    pub compression: String,
    /// Kafka `cleanup.policy`; only `delete` is supported by every backend.
    pub cleanup_policy: String,
}

impl TopicConfig {
    pub fn with_partitions(partitions: u32) -> Self {
        Self {
            partitions,
            retention_ms: None,
            retention_bytes: None,
            compression: "none".to_owned(),
            cleanup_policy: "delete".to_owned(),
        }
    }
}

/// What `create_topic` did: a second identical create is harmless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Created {
    New,
    AlreadyExists,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionInfo {
    pub partition: u32,
    /// First offset still readable (retention moves it forward).
    pub log_start_offset: u64,
    /// Offset the next record will get (Kafka's high watermark).
    pub high_watermark: u64,
    pub size_bytes: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TopicDescription {
    pub name: String,
    pub config: TopicConfig,
    pub partitions: Vec<PartitionInfo>,
}

/// Where a consumer starts on a partition with no committed position
/// (Kafka `auto.offset.reset`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum StartFrom {
    #[default]
    Earliest,
    Latest,
}

/// A consumer group's position and lag on one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionLag {
    pub topic: String,
    pub partition: u32,
    pub committed: Option<u64>,
    pub high_watermark: u64,
    /// `high_watermark - committed` (or `- log_start_offset` when nothing is committed).
    pub lag: u64,
}

/// Settings of one consumer-group member.
#[derive(Clone, Debug)]
pub struct ConsumerConfig {
    pub group: String,
    pub topics: Vec<String>,
    pub start_from: StartFrom,
    /// A member that has not polled for this long is considered gone and its partitions
    /// are given to the others (Kafka `session.timeout.ms` / `max.poll.interval.ms`).
    pub session_timeout: Duration,
    /// Upper bound of messages returned by one `poll`.
    pub poll_records_max: usize,
}

impl ConsumerConfig {
    pub fn new(group: impl Into<String>, topics: Vec<String>) -> Self {
        Self {
            group: group.into(),
            topics,
            start_from: StartFrom::Earliest,
            session_timeout: Duration::from_secs(30),
            poll_records_max: 10_000,
        }
    }
}

/// Errors of the bus port. Each names the thing that is wrong.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    #[error("topic `{topic}` has no partition {partition} (it has {partitions})")]
    UnknownPartition {
        topic: String,
        partition: u32,
        partitions: u32,
    },
    #[error("invalid topic name `{name}`: {reason}")]
    InvalidTopicName { name: String, reason: String },
    #[error("invalid partition count {0}: must be between 1 and {max}", max = crate::port::PARTITIONS_MAX)]
    InvalidPartitionCount(u32),
    #[error("topic `{name}` already exists with different settings: {difference}")]
    TopicConfigMismatch { name: String, difference: String },
    /// A queue (or its DLQ) exists with another value of `setting` than its spec's
    /// (`crate::queue::Queues::ensure`): nothing was changed.
    #[error("queue `{queue}` already exists with {setting} = {found}, but {wanted} is wanted")]
    QueueConfigMismatch {
        queue: String,
        setting: String,
        found: String,
        wanted: String,
    },
    /// A record a queue cannot carry (too many headers, not UTF-8…), refused before anything
    /// of its batch was sent.
    #[error("record {index} for queue `{queue}` cannot be sent: {reason}")]
    UnsupportedRecord {
        queue: String,
        index: usize,
        reason: String,
    },
    #[error("message of {size_bytes} bytes exceeds the limit of {limit_bytes} bytes")]
    MessageTooLarge {
        size_bytes: usize,
        limit_bytes: usize,
    },
    #[error("partition {partition} of consumer group `{group}` is not assigned to this member")]
    NotAssigned { group: String, partition: u32 },
    #[error("corrupt data in {path}: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("the bus is closed")]
    Closed,
    /// Another process holds the data directory (embedded backend): writing is refused, and
    /// read-only access still works. `pid` is the holder's, when it could be read.
    #[error("data directory {data_dir} is locked by another process{}: writing is refused (stop it, or go through it)", pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    Locked { data_dir: String, pid: Option<u32> },
    #[error("i/o error on {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// On open: a partition's recovered end is below what was acknowledged (a consumer
    /// group's committed offset or the durable offset floor), so appending would reuse
    /// offsets that consumers already saw. Nothing is opened; see `log::repair`.
    #[error("{}", describe_losses(.0))]
    AcknowledgedRecordsLost(Vec<LostRecords>),
    /// The data directory's file system has less free space than the configured floor:
    /// appends are refused (reads, commits and health keep working) until space is freed.
    #[error(
        "no space for new records: {free_bytes} bytes free on the file system of {path}, below the floor of {floor_bytes} bytes (bus.disk_free_bytes_min); writes are refused until space is freed"
    )]
    DiskFull {
        path: String,
        free_bytes: u64,
        floor_bytes: u64,
    },
    #[error("{0}")]
    Backend(String),
}

/// A partition whose tail lost acknowledged records (see [`BusError::AcknowledgedRecordsLost`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LostRecords {
    pub topic: String,
    pub partition: u32,
    /// Offset after the last record recovered from disk.
    pub recovered_end: u64,
    /// Offset after the last record known acknowledged: the next offset a repair gives.
    pub acknowledged_end: u64,
    /// Who acknowledged it: `durable offset floor` or `consumer group `g` committed N`.
    pub evidence: String,
}

fn describe_losses(losses: &[LostRecords]) -> String {
    let parts: Vec<String> = losses
        .iter()
        .map(|l| {
            format!(
                "partition {}/{} recovered to offset {} but offsets {}..={} were acknowledged ({})",
                l.topic,
                l.partition,
                l.recovered_end,
                l.recovered_end,
                l.acknowledged_end.saturating_sub(1),
                l.evidence
            )
        })
        .collect();
    format!(
        "acknowledged records lost: {}; refusing to open so that no offset is reused (a repair \
         moves each end forward past the lost offsets, which stay lost and are never reused)",
        parts.join("; ")
    )
}

pub const PARTITIONS_MAX: u32 = 1024;

/// Topic administration (Kafka's AdminClient subset).
#[async_trait]
pub trait Admin: Send + Sync {
    /// Creates a topic; creating it again with the same settings is harmless
    /// ([`Created::AlreadyExists`]), with different settings an error.
    async fn create_topic(&self, name: &str, config: TopicConfig) -> Result<Created, BusError>;
    async fn describe_topic(&self, name: &str) -> Result<TopicDescription, BusError>;
    async fn list_topics(&self) -> Result<Vec<String>, BusError>;
    async fn delete_topic(&self, name: &str) -> Result<(), BusError>;
    /// Committed positions and lag of `group` on every partition of the topics it reads.
    async fn group_lag(&self, group: &str) -> Result<Vec<PartitionLag>, BusError>;
    /// Known consumer groups.
    async fn list_groups(&self) -> Result<Vec<String>, BusError>;
}

/// Implements [`Admin`] for a wrapper of a bus by handing every call to one of its fields
/// (an `Arc<dyn Bus>`): wrappers that observe producing or consuming (metrics, benchmark
/// stamps) leave administration as it is. `forward_admin!(Wrapper, inner)`; the caller
/// depends on `async-trait`.
#[macro_export]
macro_rules! forward_admin {
    ($wrapper:ty, $field:ident) => {
        #[::async_trait::async_trait]
        impl $crate::Admin for $wrapper {
            async fn create_topic(
                &self,
                name: &str,
                config: $crate::TopicConfig,
            ) -> Result<$crate::Created, $crate::BusError> {
                self.$field.create_topic(name, config).await
            }
            async fn describe_topic(
                &self,
                name: &str,
            ) -> Result<$crate::TopicDescription, $crate::BusError> {
                self.$field.describe_topic(name).await
            }
            async fn list_topics(&self) -> Result<Vec<String>, $crate::BusError> {
                self.$field.list_topics().await
            }
            async fn delete_topic(&self, name: &str) -> Result<(), $crate::BusError> {
                self.$field.delete_topic(name).await
            }
            async fn group_lag(
                &self,
                group: &str,
            ) -> Result<Vec<$crate::PartitionLag>, $crate::BusError> {
                self.$field.group_lag(group).await
            }
            async fn list_groups(&self) -> Result<Vec<String>, $crate::BusError> {
                self.$field.list_groups().await
            }
        }
    };
}

/// Producing records.
#[async_trait]
pub trait Producer: Send + Sync {
    /// Appends `records` to `topic` and returns, in the same order, where each landed, once
    /// all are durable. Records sharing a key keep their relative order.
    async fn produce(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Delivery>, BusError>;
}

/// One member of a consumer group.
#[async_trait]
pub trait Consumer: Send {
    /// Up to `poll_records_max` messages from the assigned partitions, waiting at most
    /// `timeout` for the first. In offset order within each partition.
    async fn poll(&mut self, timeout: Duration) -> Result<Vec<Message>, BusError>;
    /// Commits, for each partition, the offset of the next message to read. Committing a
    /// partition this member no longer owns is an error ([`BusError::NotAssigned`]).
    async fn commit(&mut self, positions: &BTreeMap<TopicPartition, u64>) -> Result<(), BusError>;
    /// Moves the read position of an assigned partition (used when the position is kept in
    /// the application's store — the exactly-once hook).
    async fn seek(&mut self, partition: &TopicPartition, offset: u64) -> Result<(), BusError>;
    /// The partitions currently assigned to this member. Changes after a rebalance; the
    /// runtime compares it between polls.
    fn assignment(&self) -> Vec<TopicPartition>;
    /// Leaves the group so its partitions go to the other members at once.
    async fn close(&mut self) -> Result<(), BusError>;
}

/// A read of one partition outside any consumer group ([`Bus::read_partition`]): up to
/// `max` messages of `topic`/`partition` from offset `from` (a position below the log start
/// reads from the log start), waiting at most `wait` for the first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionRead {
    pub topic: String,
    pub partition: u32,
    pub from: u64,
    pub max: usize,
    pub wait: Duration,
}

/// What a [`PartitionRead`] got: the messages, and the offset to read next.
pub type ReadBatch = (Vec<Message>, u64);

/// A whole bus backend: admin, producer and consumer factory.
#[async_trait]
pub trait Bus: Admin + Producer {
    /// Joins `config.group` as a new member.
    async fn consumer(&self, config: ConsumerConfig) -> Result<Box<dyn Consumer>, BusError>;
    /// What `read` asks, outside any consumer group. For browsing (`tail`), checks and
    /// views: it commits nothing and leaves no group behind.
    async fn read_partition(&self, read: &PartitionRead) -> Result<ReadBatch, BusError>;
    /// Which backend this is (`embedded`, `kafka`, `memory`), for health and logs.
    fn backend_name(&self) -> &'static str;
    /// Whether appends would be accepted now; `Err` says why not (the embedded log below
    /// its free-space floor). Health reports it. Reads never depend on it.
    fn accepts_writes(&self) -> Result<(), BusError> {
        Ok(())
    }
}

/// Well-known header names, shared by producers, the runtime and the DLQ.
pub mod headers {
    pub const EVENT_ID: &str = "event_id";
    pub const EVENT_TYPE: &str = "event_type";
    pub const CONTENT_TYPE: &str = "content-type";
    pub const TRACEPARENT: &str = "traceparent";
    pub const SCHEMA_ID: &str = "schema_id";
    /// Delivery attempts so far (ASCII decimal).
    pub const ATTEMPT: &str = "attempt";
    /// DLQ headers (see `docs/adr/005-consumer-runtime.md`).
    pub const DLQ_ERROR: &str = "dlq.error";
    pub const DLQ_ATTEMPTS: &str = "dlq.attempts";
    pub const DLQ_ORIGIN_TOPIC: &str = "dlq.origin.topic";
    pub const DLQ_ORIGIN_PARTITION: &str = "dlq.origin.partition";
    pub const DLQ_ORIGIN_OFFSET: &str = "dlq.origin.offset";
    pub const DLQ_GROUP: &str = "dlq.group";
    pub const DLQ_FIRST_FAILURE_MS: &str = "dlq.first_failure_ms";
    pub const DLQ_LAST_FAILURE_MS: &str = "dlq.last_failure_ms";
}
