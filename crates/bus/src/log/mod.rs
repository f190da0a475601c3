//! The embedded durable log: the `embedded` profile's bus, in process, on local disk.
//!
//! Owns everything under `<data_dir>/bus/`:
//!
//! ```text
//! bus/LOCK                                   data-dir lock (flock) holding the owner's pid
//! bus/topics/<topic>/meta.json               topic settings, written atomically (tmp + rename)
//! bus/topics/<topic>/<partition>/<base>.log  append-only segments of CRC-framed batches
//! bus/topics/<topic>/<partition>/<base>.gap  offsets a repair skipped before segment <base>
//! bus/groups/<group>.offsets                 committed positions: one CRC-framed snapshot per commit
//! bus/groups/<group>.json                    ... compacted snapshot (atomic replace)
//! bus/floors.json                            durable offset floor per partition (atomic replace)
//! ```
//!
//! Never reusing an offset, retention, and the free-space floor: see
//! `docs/adr/020-log-offsets-retention-disk.md`. The frame decoder ([`frame::parse_header`],
//! [`frame::crc_matches`], [`frame::decode_records`]) is public for the fuzz targets.
//!
//! Design (see `docs/adr/004-embedded-log-storage.md`): producers encode and checksum
//! frames on their own tasks; one writer thread group-commits them (one `pwrite` and one
//! `fdatasync` per touched partition per group) and acknowledges after the sync under the
//! default [`FsyncPolicy::Always`]. Readers `pread` the segment files (the page cache) up to
//! the published high watermark and are woken by a [`Notify`] after each group commit.
//!
//! A second process opening the same data directory for writing gets [`BusError::Locked`]
//! naming the directory and the holder's pid; [`EmbeddedBus::open_read_only`] never locks
//! and never writes, so `topics list` and `tail` work next to a running platform.

mod disk;
mod floor;
// Public only for the fuzz targets (fuzz/, docs/adr/021-fuzzing.md): not an API.
#[doc(hidden)]
pub mod frame;
mod group;
mod partition;
mod segment;
mod writer;

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::sync::{Notify, mpsc, oneshot};

pub use disk::{DiskProbe, LogClock};
pub use group::EmbeddedConsumer;

use crate::partitioner::{KeylessPartitioner, partition_for_key};
use crate::port::{
    Admin, Bus, BusError, Consumer, ConsumerConfig, Created, Delivery, LostRecords, Message,
    PARTITIONS_MAX, PartitionInfo, PartitionLag, PartitionRead, Producer, ReadBatch, Record,
    StartFrom, TopicConfig, TopicDescription, TopicPartition,
};
use frame::{EncodedFrame, FrameBuilder};
use group::Group;
use partition::{Partition, ScanLimits};
use writer::{AppendRequest, Topics, Writer, WriterCommand};

/// When a produce call is acknowledged relative to `fsync` (see the ADR for what each can
/// lose on kill -9 and on power loss). Written `always`, `interval_ms=N` or `never` (in the
/// configuration, `bus.fsync`, and on the command line).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum FsyncPolicy {
    /// Acknowledge after `fdatasync` (group commit). Loses nothing acknowledged.
    #[default]
    Always,
    /// Acknowledge after `write`; `fdatasync` at most this many ms later. A power cut loses
    /// up to that window; kill -9 loses nothing acknowledged (the page cache survives).
    IntervalMs(u64),
    /// Acknowledge after `write`; never sync (the OS writes back). For benchmarks and tests.
    Never,
}

impl FsyncPolicy {
    /// The interval of a bare `interval`.
    pub const INTERVAL_MS_DEFAULT: u64 = 100;
}

impl std::fmt::Display for FsyncPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Always => f.write_str("always"),
            Self::IntervalMs(ms) => write!(f, "interval_ms={ms}"),
            Self::Never => f.write_str("never"),
        }
    }
}

impl TryFrom<String> for FsyncPolicy {
    type Error = String;
    fn try_from(text: String) -> Result<Self, String> {
        text.parse()
    }
}

impl From<FsyncPolicy> for String {
    fn from(policy: FsyncPolicy) -> Self {
        policy.to_string()
    }
}

impl std::str::FromStr for FsyncPolicy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "always" => Ok(Self::Always),
            "never" => Ok(Self::Never),
            "interval" => Ok(Self::IntervalMs(Self::INTERVAL_MS_DEFAULT)),
            other => other
                .strip_prefix("interval_ms=")
                .or_else(|| other.strip_prefix("interval:"))
                .and_then(|ms| ms.parse().ok())
                .map(Self::IntervalMs)
                .ok_or_else(|| {
                    format!(
                        "unknown fsync policy `{other}` (always | interval | interval_ms=N | never)"
                    )
                }),
        }
    }
}

/// Settings of the embedded log. Units are in the names.
#[derive(Clone, Debug)]
pub struct LogConfig {
    pub fsync: FsyncPolicy,
    /// Largest record (key + value + headers) accepted (Kafka `max.message.bytes`).
    pub message_bytes_max: usize,
    /// A segment is closed and a new one opened past this size (Kafka `segment.bytes`).
    pub segment_bytes_max: u64,
    /// ... or past this age, so time retention can reclaim quiet partitions (`segment.ms`).
    pub segment_age_ms_max: u64,
    /// One sparse index entry per this many bytes of segment (`index.interval.bytes`).
    pub index_interval_bytes: u64,
    /// A producer's records are cut into frames of about this size.
    pub frame_bytes_target: usize,
    /// Bytes one consumer fetch reads from a partition at a time.
    pub fetch_bytes_max: usize,
    /// Produce calls queued for the writer before producers wait (back-pressure).
    pub writer_queue_requests_max: usize,
    /// Bytes gathered into one group commit at most.
    pub commit_bytes_max: usize,
    /// How often the writer applies retention.
    pub retention_check_interval_ms: u64,
    /// A consumer group's offsets log is compacted into its snapshot past this size.
    pub offsets_log_bytes_max: u64,
    /// Size cap of each partition of a topic created without `retention_bytes`, so no
    /// topic grows without bound (`None`: keep such topics forever).
    pub retention_bytes_default: Option<u64>,
    /// Appends are refused ([`BusError::DiskFull`]) while the data directory's file system
    /// has less free space than this (0: no floor). Reads and commits keep working.
    pub disk_free_bytes_min: u64,
    /// How the free space is measured (`statvfs` by default; tests inject their own).
    pub disk_probe: DiskProbe,
    /// The durable offset floor (`bus/floors.json`) is rewritten at most this often.
    pub offset_floor_interval_ms: u64,
    /// The wall clock retention reads (injected by tests).
    pub clock: LogClock,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            fsync: FsyncPolicy::Always,
            message_bytes_max: 1 << 20,
            segment_bytes_max: 128 << 20,
            segment_age_ms_max: 7 * 24 * 3600 * 1000,
            index_interval_bytes: 4096,
            frame_bytes_target: 256 << 10,
            fetch_bytes_max: 1 << 20,
            writer_queue_requests_max: 1024,
            commit_bytes_max: 16 << 20,
            retention_check_interval_ms: 60_000,
            offsets_log_bytes_max: 1 << 20,
            retention_bytes_default: Some(1 << 30),
            disk_free_bytes_min: 256 << 20,
            disk_probe: DiskProbe::default(),
            offset_floor_interval_ms: 1000,
            clock: LogClock::default(),
        }
    }
}

/// Largest message the format accepts whatever the configuration (frames carry 32-bit
/// lengths, and recovery must tell a torn length from a real one).
pub const MESSAGE_BYTES_LIMIT: usize = 64 << 20;
/// Largest frame a reader believes in: one maximal message plus generous header room.
const FRAME_BYTES_LIMIT: usize = 2 * MESSAGE_BYTES_LIMIT;

impl LogConfig {
    fn validate(&self) -> Result<(), BusError> {
        let bad = |what: &str| {
            Err(BusError::Backend(format!(
                "invalid log configuration: {what}"
            )))
        };
        if self.message_bytes_max == 0 || self.message_bytes_max > MESSAGE_BYTES_LIMIT {
            return bad(&format!(
                "message_bytes_max must be in 1..={MESSAGE_BYTES_LIMIT}"
            ));
        }
        if self.retention_bytes_default == Some(0) {
            return bad("retention_bytes_default must be positive (or absent: keep forever)");
        }
        if self.offset_floor_interval_ms == 0 {
            return bad("offset_floor_interval_ms must be positive");
        }
        if self.segment_bytes_max < 1024 {
            return bad("segment_bytes_max must be at least 1024");
        }
        if self.writer_queue_requests_max == 0
            || self.fetch_bytes_max == 0
            || self.frame_bytes_target == 0
        {
            return bad("queue, fetch and frame sizes must be positive");
        }
        Ok(())
    }

    fn limits(&self) -> ScanLimits {
        ScanLimits {
            index_interval_bytes: self.index_interval_bytes,
            frame_bytes_limit: FRAME_BYTES_LIMIT,
        }
    }
}

/// A produce call encoded: frames per partition (in emission order), and for each record
/// its partition and its index among that partition's records.
type Encoded = (Vec<(u32, EncodedFrame)>, Vec<(u32, usize)>);

/// A topic as the backend holds it.
pub(crate) struct Topic {
    pub name: Arc<str>,
    pub config: TopicConfig,
    pub dir: PathBuf,
    pub partitions: Vec<Arc<Partition>>,
    keyless: KeylessPartitioner,
    deleted: AtomicBool,
}

impl Topic {
    pub fn is_deleted(&self) -> bool {
        self.deleted.load(Ordering::Acquire)
    }
    pub fn mark_deleted(&self) {
        self.deleted.store(true, Ordering::Release);
    }
}

/// `meta.json` of a topic.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TopicMeta {
    name: String,
    partitions: u32,
    retention_ms: Option<u64>,
    retention_bytes: Option<u64>,
    compression: String,
    cleanup_policy: String,
}

impl TopicMeta {
    fn config(&self) -> TopicConfig {
        TopicConfig {
            partitions: self.partitions,
            retention_ms: self.retention_ms,
            retention_bytes: self.retention_bytes,
            compression: self.compression.clone(),
            cleanup_policy: self.cleanup_policy.clone(),
        }
    }
}

pub(crate) struct Inner {
    data_dir: PathBuf,
    root: PathBuf,
    config: LogConfig,
    topics: Topics,
    groups: Mutex<BTreeMap<String, Arc<Group>>>,
    /// Serialises topic creation (file system work) without blocking readers of `topics`.
    create_lock: Mutex<()>,
    pub(crate) wake: Arc<Notify>,
    tx: Option<mpsc::Sender<WriterCommand>>,
    writer_thread: Mutex<Option<JoinHandle<()>>>,
    /// `Some(pid)` when opened read-only because another process holds the lock.
    read_only: Option<Option<u32>>,
    closed: AtomicBool,
    _lock_file: Option<File>,
}

/// The embedded durable log backend. Cheap to clone; the last clone (and consumer) dropped
/// stops the writer after a final sync. Prefer [`EmbeddedBus::close`] for a clean stop.
#[derive(Clone)]
pub struct EmbeddedBus {
    inner: Arc<Inner>,
}

impl EmbeddedBus {
    /// Opens (creating if needed) the log under `<data_dir>/bus/` for reading and writing:
    /// takes the data-dir lock, recovers every partition (truncating a torn last write) and
    /// starts the writer thread.
    ///
    /// A partition whose recovered end is below an acknowledged offset (a consumer group's
    /// committed offset, or the durable offset floor) is refused with
    /// [`BusError::AcknowledgedRecordsLost`], and nothing is changed on disk; [`repair`]
    /// moves such ends forward.
    pub fn open(data_dir: impl AsRef<Path>, config: LogConfig) -> Result<Self, BusError> {
        config.validate()?;
        let data_dir = data_dir.as_ref().to_path_buf();
        let root = data_dir.join("bus");
        create_dirs(&root)?;
        let lock_file = take_lock(&data_dir, &root)?;
        let Loaded {
            topics,
            groups,
            floors,
        } = Loaded::read(&root, &config)?;
        let losses = floor::find_losses(&topics, &groups, &floors);
        if !losses.is_empty() {
            return Err(BusError::AcknowledgedRecordsLost(losses));
        }
        for topic in topics.values() {
            for p in &topic.partitions {
                p.truncate_torn_tail()?;
            }
        }
        let topics: Topics = Arc::new(RwLock::new(topics));
        let wake = Arc::new(Notify::new());
        let (tx, rx) = mpsc::channel(config.writer_queue_requests_max);
        let writer = Writer::new(config.clone(), topics.clone(), root.clone(), wake.clone())
            .with_floors(floors);
        let thread = std::thread::Builder::new()
            .name("edalab-bus-writer".to_owned())
            .spawn(move || writer.run(rx))
            .map_err(|e| BusError::Backend(format!("cannot start the bus writer thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                data_dir,
                root,
                config,
                topics,
                groups: Mutex::new(groups),
                create_lock: Mutex::new(()),
                wake,
                tx: Some(tx),
                writer_thread: Mutex::new(Some(thread)),
                read_only: None,
                closed: AtomicBool::new(false),
                _lock_file: Some(lock_file),
            }),
        })
    }

    /// Opens the log for reading only: no lock, no recovery, no writes, no consumer groups.
    /// Works while another process (a running `edalab up`) writes; reads follow its appends.
    pub fn open_read_only(data_dir: impl AsRef<Path>, config: LogConfig) -> Result<Self, BusError> {
        config.validate()?;
        let data_dir = data_dir.as_ref().to_path_buf();
        let root = data_dir.join("bus");
        let topics = if root.join("topics").is_dir() {
            load_topics(&root, &config, true)?
        } else {
            BTreeMap::new()
        };
        let holder = lock_holder_pid(&root);
        Ok(Self {
            inner: Arc::new(Inner {
                data_dir,
                root,
                config,
                topics: Arc::new(RwLock::new(topics)),
                groups: Mutex::new(BTreeMap::new()),
                create_lock: Mutex::new(()),
                wake: Arc::new(Notify::new()),
                tx: None,
                writer_thread: Mutex::new(None),
                read_only: Some(holder),
                closed: AtomicBool::new(false),
                _lock_file: None,
            }),
        })
    }

    /// Opens read-write, or read-only when another process holds the data directory.
    pub fn open_or_read_only(
        data_dir: impl AsRef<Path>,
        config: LogConfig,
    ) -> Result<Self, BusError> {
        match Self::open(data_dir.as_ref(), config.clone()) {
            Err(BusError::Locked { .. }) => Self::open_read_only(data_dir, config),
            other => other,
        }
    }

    pub fn is_read_only(&self) -> bool {
        self.inner.read_only.is_some()
    }

    pub fn data_dir(&self) -> &Path {
        &self.inner.data_dir
    }

    pub fn config(&self) -> &LogConfig {
        &self.inner.config
    }

    /// Reads up to `max_records` messages of one partition from `from` (clamped to the log
    /// start), without a consumer group. Returns them and the next offset. Used by `tail`.
    pub fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max_records: usize,
    ) -> Result<(Vec<Message>, u64), BusError> {
        self.inner.read(topic, partition, from, max_records)
    }

    /// Waits until new data may be readable (or `timeout`). Read-only handles cannot be
    /// woken by another process, so they simply wait a short while.
    pub async fn wait_for_data(&self, timeout: Duration) {
        if self.inner.read_only.is_some() {
            tokio::time::sleep(timeout.min(Duration::from_millis(100))).await;
        } else {
            let _ = tokio::time::timeout(timeout, self.inner.wake.notified()).await;
        }
    }

    /// Applies retention now, as if the clock read `now_ms`; returns the segments deleted.
    pub async fn apply_retention(&self, now_ms: i64) -> Result<usize, BusError> {
        let (reply, rx) = oneshot::channel();
        self.inner
            .send(WriterCommand::Retention { now_ms, reply })
            .await?;
        rx.await.map_err(|_| BusError::Closed)?
    }

    /// Syncs everything, stops the writer and refuses further calls. Idempotent.
    pub async fn close(&self) -> Result<(), BusError> {
        if self.inner.closed.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        self.inner.wake.notify_waiters();
        let Some(tx) = &self.inner.tx else {
            return Ok(());
        };
        let (reply, rx) = oneshot::channel();
        if tx.send(WriterCommand::Shutdown { reply }).await.is_ok() {
            rx.await.map_err(|_| BusError::Closed)??;
        }
        let handle = lock(&self.inner.writer_thread).take();
        if let Some(handle) = handle {
            tokio::task::spawn_blocking(move || handle.join())
                .await
                .map_err(|e| BusError::Backend(format!("joining the bus writer: {e}")))?
                .map_err(|_| BusError::Backend("the bus writer thread panicked".to_owned()))?;
        }
        Ok(())
    }

    fn topic(&self, name: &str) -> Result<Arc<Topic>, BusError> {
        self.inner.topic(name)
    }

    fn ensure_writable(&self) -> Result<(), BusError> {
        if self.inner.closed.load(Ordering::Acquire) {
            return Err(BusError::Closed);
        }
        match self.inner.read_only {
            Some(pid) => Err(BusError::Locked {
                data_dir: self.inner.data_dir.display().to_string(),
                pid,
            }),
            None => Ok(()),
        }
    }

    /// Encodes a produce call into frames per partition, keeping the order of records.
    fn encode(&self, topic: &Topic, records: &[Record]) -> Result<Encoded, BusError> {
        let partitions = topic.config.partitions;
        let limit = self.inner.config.message_bytes_max;
        let now = now_ms();
        let mut keyless: Option<u32> = None;
        let mut chosen: Vec<u32> = Vec::with_capacity(records.len());
        for record in records {
            let size_bytes = frame::record_size_bytes(record);
            if size_bytes > limit {
                return Err(BusError::MessageTooLarge {
                    size_bytes,
                    limit_bytes: limit,
                });
            }
            let p = match (record.partition, &record.key) {
                (Some(p), _) if p >= partitions => {
                    return Err(BusError::UnknownPartition {
                        topic: topic.name.to_string(),
                        partition: p,
                        partitions,
                    });
                }
                (Some(p), _) => p,
                (None, Some(key)) => partition_for_key(key, partitions),
                (None, None) => {
                    *keyless.get_or_insert_with(|| topic.keyless.next_partition(partitions))
                }
            };
            chosen.push(p);
        }
        // Per partition, in first-seen order: frames of about `frame_bytes_target`.
        let mut order: Vec<u32> = Vec::new();
        let mut builders: BTreeMap<u32, (Vec<EncodedFrame>, FrameBuilder)> = BTreeMap::new();
        let target = self.inner.config.frame_bytes_target;
        for (record, p) in records.iter().zip(&chosen) {
            let entry = builders.entry(*p).or_insert_with(|| {
                order.push(*p);
                (
                    Vec::new(),
                    FrameBuilder::with_capacity(target.min(64 << 10)),
                )
            });
            let extra = FrameBuilder::encoded_bytes(record);
            if !entry.1.is_empty() && entry.1.len_bytes() + extra > target {
                let full = std::mem::replace(
                    &mut entry.1,
                    FrameBuilder::with_capacity(target.min(64 << 10)),
                );
                entry.0.push(full.finish());
            }
            entry.1.push(record, record.timestamp_ms.unwrap_or(now));
        }
        let mut frames = Vec::new();
        for p in &order {
            if let Some((done, last)) = builders.remove(p) {
                frames.extend(done.into_iter().map(|f| (*p, f)));
                frames.push((*p, last.finish()));
            }
        }
        // Where each record lands: (partition, index among that partition's records).
        let mut seen: BTreeMap<u32, usize> = BTreeMap::new();
        let slots = chosen
            .iter()
            .map(|p| {
                let n = seen.entry(*p).or_insert(0);
                *n += 1;
                (*p, *n - 1)
            })
            .collect();
        Ok((frames, slots))
    }
}

impl Inner {
    fn topic(&self, name: &str) -> Result<Arc<Topic>, BusError> {
        read_lock(&self.topics)
            .get(name)
            .cloned()
            .ok_or_else(|| BusError::UnknownTopic(name.to_owned()))
    }

    pub(crate) fn partition_count(&self, topic: &str) -> u32 {
        read_lock(&self.topics)
            .get(topic)
            .map_or(0, |t| t.config.partitions)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn high_watermark(&self, tp: &TopicPartition) -> Result<u64, BusError> {
        let topic = self.topic(&tp.topic)?;
        let p = topic.partitions.get(tp.partition as usize).ok_or_else(|| {
            BusError::UnknownPartition {
                topic: tp.topic.clone(),
                partition: tp.partition,
                partitions: topic.config.partitions,
            }
        })?;
        Ok(p.view().high_watermark)
    }

    pub(crate) fn start_offset(&self, tp: &TopicPartition, start_from: StartFrom) -> u64 {
        let Ok(topic) = self.topic(&tp.topic) else {
            return 0;
        };
        let Some(p) = topic.partitions.get(tp.partition as usize) else {
            return 0;
        };
        let v = p.view();
        match start_from {
            StartFrom::Earliest => v.log_start_offset(),
            StartFrom::Latest => v.high_watermark,
        }
    }

    pub(crate) fn read(
        &self,
        topic: &str,
        partition: u32,
        from: u64,
        max_records: usize,
    ) -> Result<(Vec<Message>, u64), BusError> {
        let t = self.topic(topic)?;
        let p = t
            .partitions
            .get(partition as usize)
            .ok_or_else(|| BusError::UnknownPartition {
                topic: topic.to_owned(),
                partition,
                partitions: t.config.partitions,
            })?;
        let limits = self.config.limits();
        if self.read_only.is_some() && from >= p.view().high_watermark {
            p.refresh(limits)?;
        }
        p.read(
            &t.name,
            from,
            max_records,
            self.config.fetch_bytes_max,
            limits,
        )
    }

    async fn send(&self, cmd: WriterCommand) -> Result<(), BusError> {
        let tx = self.tx.as_ref().ok_or_else(|| BusError::Locked {
            data_dir: self.data_dir.display().to_string(),
            pid: self.read_only.flatten(),
        })?;
        tx.send(cmd).await.map_err(|_| BusError::Closed)
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel makes the writer sync and exit; wait for it so that an
        // `interval_ms`/`never` log is synced before the lock is released.
        self.tx.take();
        if let Some(handle) = lock(&self.writer_thread).take() {
            let _ = handle.join();
        }
    }
}

#[async_trait]
impl Admin for EmbeddedBus {
    async fn create_topic(&self, name: &str, config: TopicConfig) -> Result<Created, BusError> {
        validate_topic_name(name)?;
        if config.partitions == 0 || config.partitions > PARTITIONS_MAX {
            return Err(BusError::InvalidPartitionCount(config.partitions));
        }
        const COMPRESSIONS: [&str; 6] = ["none", "gzip", "lz4", "zstd", "snappy", "producer"];
        if !COMPRESSIONS.contains(&config.compression.as_str()) {
            return Err(BusError::Backend(format!(
                "topic `{name}`: unknown compression `{}` (one of {})",
                config.compression,
                COMPRESSIONS.join(", ")
            )));
        }
        if config.cleanup_policy != "delete" {
            return Err(BusError::Backend(format!(
                "topic `{name}`: cleanup policy `{}` is not supported by the embedded log (only `delete`)",
                config.cleanup_policy
            )));
        }
        if let Ok(existing) = self.topic(name) {
            return same_config(name, &existing.config, &config).map(|()| Created::AlreadyExists);
        }
        self.ensure_writable()?;
        let inner = self.inner.clone();
        let name = name.to_owned();
        tokio::task::spawn_blocking(move || create_topic_blocking(&inner, &name, config))
            .await
            .map_err(|e| BusError::Backend(format!("topic creation task: {e}")))?
    }

    async fn describe_topic(&self, name: &str) -> Result<TopicDescription, BusError> {
        let topic = self.topic(name)?;
        let limits = self.inner.config.limits();
        let mut partitions = Vec::with_capacity(topic.partitions.len());
        for p in &topic.partitions {
            if self.inner.read_only.is_some() {
                p.refresh(limits)?;
            }
            let v = p.view();
            partitions.push(PartitionInfo {
                partition: p.id,
                log_start_offset: v.log_start_offset(),
                high_watermark: v.high_watermark,
                size_bytes: v.size_bytes(),
            });
        }
        Ok(TopicDescription {
            name: topic.name.to_string(),
            config: topic.config.clone(),
            partitions,
        })
    }

    async fn list_topics(&self) -> Result<Vec<String>, BusError> {
        Ok(read_lock(&self.inner.topics).keys().cloned().collect())
    }

    async fn delete_topic(&self, name: &str) -> Result<(), BusError> {
        self.ensure_writable()?;
        let topic = write_lock(&self.inner.topics)
            .remove(name)
            .ok_or_else(|| BusError::UnknownTopic(name.to_owned()))?;
        let (reply, rx) = oneshot::channel();
        self.inner
            .send(WriterCommand::DeleteTopic { topic, reply })
            .await?;
        rx.await.map_err(|_| BusError::Closed)??;
        let groups: Vec<Arc<Group>> = lock(&self.inner.groups).values().cloned().collect();
        for group in groups {
            if group.forget_topic(name) {
                group.persist().await?;
            }
        }
        Ok(())
    }

    async fn group_lag(&self, group: &str) -> Result<Vec<PartitionLag>, BusError> {
        // An unknown group has no positions (Kafka describes it as an empty, dead group).
        let Some(g) = self.group_now(group)? else {
            return Ok(Vec::new());
        };
        let committed = lock(&g.state).committed.clone();
        let limits = self.inner.config.limits();
        let mut out = Vec::new();
        for topic_name in g.topics() {
            let Ok(topic) = self.topic(&topic_name) else {
                continue;
            };
            for p in &topic.partitions {
                if self.inner.read_only.is_some() {
                    // Follow the writer's appends, as describe_topic does.
                    p.refresh(limits)?;
                }
                let tp = TopicPartition {
                    topic: topic_name.clone(),
                    partition: p.id,
                };
                let (start, hw) = {
                    let v = p.view();
                    (v.log_start_offset(), v.high_watermark)
                };
                let c = committed.get(&tp).copied();
                out.push(PartitionLag {
                    topic: topic_name.clone(),
                    partition: p.id,
                    committed: c,
                    high_watermark: hw,
                    lag: hw.saturating_sub(c.unwrap_or(start).max(start)),
                });
            }
        }
        Ok(out)
    }

    async fn list_groups(&self) -> Result<Vec<String>, BusError> {
        Ok(self.groups_now()?.into_keys().collect())
    }
}

impl EmbeddedBus {
    /// One consumer group: this process's own, or, opened read-only, what the writing process
    /// committed for it on disk now (its file alone is read).
    fn group_now(&self, name: &str) -> Result<Option<Arc<Group>>, BusError> {
        if self.inner.read_only.is_none() {
            return Ok(lock(&self.inner.groups).get(name).cloned());
        }
        let dir = self.inner.root.join("groups");
        let found = Group::peek(&dir, &group::group_file_stem(name))?;
        Ok(found.filter(|g| g.name == name).map(Arc::new))
    }

    /// The consumer groups: this process's own, or, opened read-only, the committed
    /// positions the writing process has on disk now (their members live in that process).
    fn groups_now(&self) -> Result<BTreeMap<String, Arc<Group>>, BusError> {
        if self.inner.read_only.is_none() {
            return Ok(lock(&self.inner.groups).clone());
        }
        let dir = self.inner.root.join("groups");
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(io_err(&dir, e)),
        };
        let mut stems = std::collections::BTreeSet::new();
        for entry in entries {
            let path = entry.map_err(|e| io_err(&dir, e))?.path();
            if matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("json" | "offsets")
            ) {
                stems.extend(path.file_stem().and_then(|s| s.to_str()).map(str::to_owned));
            }
        }
        let mut out = BTreeMap::new();
        for stem in stems.into_iter().take(GROUPS_READ_MAX) {
            if let Some(g) = Group::peek(&dir, &stem)? {
                out.insert(g.name.clone(), Arc::new(g));
            }
        }
        Ok(out)
    }
}

/// Groups a read-only view reads from disk at most per call.
const GROUPS_READ_MAX: usize = 1024;

#[async_trait]
impl Producer for EmbeddedBus {
    async fn produce(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Delivery>, BusError> {
        self.ensure_writable()?;
        let topic = self.topic(topic)?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let (frames, slots) = self.encode(&topic, &records)?;
        drop(records);
        let frame_partitions: Vec<u32> = frames.iter().map(|(p, _)| *p).collect();
        let (reply, rx) = oneshot::channel();
        self.inner
            .send(WriterCommand::Append(AppendRequest {
                topic: topic.clone(),
                frames,
                reply,
            }))
            .await?;
        let bases = rx.await.map_err(|_| BusError::Closed)??;
        // The frames of one request are appended without interleaving, so a partition's
        // records are contiguous from the base offset of its first frame.
        let mut first: BTreeMap<u32, u64> = BTreeMap::new();
        for (p, base) in frame_partitions.iter().zip(&bases) {
            first.entry(*p).or_insert(*base);
        }
        Ok(slots
            .into_iter()
            .map(|(p, k)| Delivery {
                partition: p,
                offset: first.get(&p).copied().unwrap_or(0) + k as u64,
            })
            .collect())
    }
}

#[async_trait]
impl Bus for EmbeddedBus {
    async fn read_partition(&self, read: &PartitionRead) -> Result<ReadBatch, BusError> {
        let PartitionRead {
            topic,
            partition,
            from,
            max,
            wait,
        } = read;
        let batch = self.read(topic, *partition, *from, *max)?;
        if !batch.0.is_empty() || wait.is_zero() {
            return Ok(batch);
        }
        self.wait_for_data(*wait).await;
        self.read(topic, *partition, *from, *max)
    }

    async fn consumer(&self, config: ConsumerConfig) -> Result<Box<dyn Consumer>, BusError> {
        self.ensure_writable()?;
        if config.group.is_empty() {
            return Err(BusError::Backend(
                "a consumer group needs a non-empty name".to_owned(),
            ));
        }
        if config.poll_records_max == 0 {
            return Err(BusError::Backend(
                "poll_records_max must be at least 1".to_owned(),
            ));
        }
        for t in &config.topics {
            self.topic(t)?;
        }
        let group = lock(&self.inner.groups)
            .entry(config.group.clone())
            .or_insert_with(|| {
                Arc::new(Group::new(
                    config.group.clone(),
                    &self.inner.root.join("groups"),
                    self.inner.config.offsets_log_bytes_max,
                ))
            })
            .clone();
        Ok(Box::new(EmbeddedConsumer::join(
            self.inner.clone(),
            group,
            config,
        )))
    }

    fn backend_name(&self) -> &'static str {
        "embedded"
    }

    fn accepts_writes(&self) -> Result<(), BusError> {
        let floor_bytes = self.inner.config.disk_free_bytes_min;
        if floor_bytes == 0 {
            return Ok(());
        }
        let path = &self.inner.root;
        let free_bytes = self
            .inner
            .config
            .disk_probe
            .free_bytes(path)
            .map_err(|e| io_err(path, e))?;
        if free_bytes < floor_bytes {
            return Err(BusError::DiskFull {
                path: path.display().to_string(),
                free_bytes,
                floor_bytes,
            });
        }
        Ok(())
    }
}

/// What opening a log reads: topics (recovered, torn tails not yet truncated), consumer
/// groups and the durable offset floors of partitions that exist.
struct Loaded {
    topics: BTreeMap<String, Arc<Topic>>,
    groups: BTreeMap<String, Arc<Group>>,
    floors: floor::Ends,
}

impl Loaded {
    fn read(root: &Path, config: &LogConfig) -> Result<Self, BusError> {
        let topics = load_topics(root, config, false)?;
        let groups = load_groups(root, config)?;
        let mut floors = floor::load(root)?;
        let before = floors.len();
        // A deleted topic's floor says nothing about a topic created later under its name.
        floors.retain(|tp, _| topics.contains_key(&tp.topic));
        if floors.len() != before {
            floor::store(root, &floors)?;
        }
        Ok(Self {
            topics,
            groups,
            floors,
        })
    }
}

/// Moves forward the end of every partition (or only `only`) whose tail lost acknowledged
/// records, so that the log opens again and no offset is ever reused: the skipped range is
/// recorded (`<partition>/<end>.gap`), a new empty segment starts at the acknowledged end,
/// and consumers read on from there. Returns what was repaired (empty: nothing to do).
///
/// Takes the data-dir lock like [`EmbeddedBus::open`]: the platform must be stopped.
pub fn repair(
    data_dir: impl AsRef<Path>,
    config: &LogConfig,
    only: Option<&TopicPartition>,
) -> Result<Vec<LostRecords>, BusError> {
    config.validate()?;
    let data_dir = data_dir.as_ref();
    let root = data_dir.join("bus");
    if !root.join("topics").is_dir() {
        return Ok(Vec::new());
    }
    let _lock = take_lock(data_dir, &root)?;
    let loaded = Loaded::read(&root, config)?;
    let mut losses = floor::find_losses(&loaded.topics, &loaded.groups, &loaded.floors);
    losses.retain(|l| only.is_none_or(|o| o.topic == l.topic && o.partition == l.partition));
    let mut floors = loaded.floors;
    for loss in &losses {
        let partition = loaded
            .topics
            .get(&loss.topic)
            .and_then(|t| t.partitions.get(loss.partition as usize))
            .ok_or_else(|| BusError::UnknownTopic(loss.topic.clone()))?;
        partition.skip_to(loss.acknowledged_end)?;
        tracing::warn!(topic = %loss.topic, partition = loss.partition, from = loss.recovered_end, to = loss.acknowledged_end, "repair: offsets skipped, never to be reused");
        let tp = TopicPartition {
            topic: loss.topic.clone(),
            partition: loss.partition,
        };
        floors.insert(tp, loss.acknowledged_end);
    }
    if !losses.is_empty() {
        floor::store(&root, &floors)?;
    }
    Ok(losses)
}

fn create_dirs(root: &Path) -> Result<(), BusError> {
    for dir in [root, &root.join("topics"), &root.join("groups")] {
        if !dir.exists() {
            std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
            if let Some(parent) = dir.parent() {
                fsync_dir(parent)?;
            }
        }
    }
    Ok(())
}

fn same_config(
    name: &str,
    existing: &TopicConfig,
    requested: &TopicConfig,
) -> Result<(), BusError> {
    let mut diffs = Vec::new();
    if existing.partitions != requested.partitions {
        diffs.push(format!(
            "partitions {} (requested {})",
            existing.partitions, requested.partitions
        ));
    }
    if existing.retention_ms != requested.retention_ms {
        diffs.push(format!(
            "retention_ms {:?} (requested {:?})",
            existing.retention_ms, requested.retention_ms
        ));
    }
    if existing.retention_bytes != requested.retention_bytes {
        diffs.push(format!(
            "retention_bytes {:?} (requested {:?})",
            existing.retention_bytes, requested.retention_bytes
        ));
    }
    if existing.compression != requested.compression {
        diffs.push(format!(
            "compression {} (requested {})",
            existing.compression, requested.compression
        ));
    }
    if existing.cleanup_policy != requested.cleanup_policy {
        diffs.push(format!(
            "cleanup_policy {} (requested {})",
            existing.cleanup_policy, requested.cleanup_policy
        ));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(BusError::TopicConfigMismatch {
            name: name.to_owned(),
            difference: diffs.join(", "),
        })
    }
}

/// Kafka's rules (`[a-zA-Z0-9._-]`, 1–249 characters), and no leading `.` (reserved here
/// for deleted-topic tombstones).
pub(crate) fn validate_topic_name(name: &str) -> Result<(), BusError> {
    let bad = |reason: &str| {
        Err(BusError::InvalidTopicName {
            name: name.to_owned(),
            reason: reason.to_owned(),
        })
    };
    if name.is_empty() || name.len() > 249 {
        return bad("must be 1 to 249 characters");
    }
    if name.starts_with('.') {
        return bad("must not start with `.`");
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
    {
        return bad("only ASCII letters, digits, `.`, `_` and `-` are allowed");
    }
    Ok(())
}

fn create_topic_blocking(
    inner: &Inner,
    name: &str,
    config: TopicConfig,
) -> Result<Created, BusError> {
    let _guard = lock(&inner.create_lock);
    if let Ok(existing) = inner.topic(name) {
        return same_config(name, &existing.config, &config).map(|()| Created::AlreadyExists);
    }
    let topics_dir = inner.root.join("topics");
    let dir = topics_dir.join(name);
    if dir.exists() {
        // Left by a creation that crashed before writing meta.json: never acknowledged.
        std::fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    }
    std::fs::create_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
    for p in 0..config.partitions {
        Partition::create_dir(&dir.join(p.to_string()))?;
    }
    fsync_dir(&dir)?;
    let meta = TopicMeta {
        name: name.to_owned(),
        partitions: config.partitions,
        retention_ms: config.retention_ms,
        retention_bytes: config.retention_bytes,
        compression: config.compression.clone(),
        cleanup_policy: config.cleanup_policy.clone(),
    };
    let bytes = serde_json::to_vec_pretty(&meta).map_err(|e| BusError::Backend(e.to_string()))?;
    write_atomically(&dir.join("meta.json"), &bytes)?;
    fsync_dir(&topics_dir)?;
    let topic = open_topic(&dir, meta, &inner.config, false)?;
    write_lock(&inner.topics).insert(name.to_owned(), Arc::new(topic));
    Ok(Created::New)
}

fn open_topic(
    dir: &Path,
    meta: TopicMeta,
    config: &LogConfig,
    read_only: bool,
) -> Result<Topic, BusError> {
    let mut partitions = Vec::with_capacity(meta.partitions as usize);
    for p in 0..meta.partitions {
        let pdir = dir.join(p.to_string());
        if !pdir.is_dir() {
            return Err(BusError::Corrupt {
                path: pdir.display().to_string(),
                reason: format!(
                    "partition directory missing (topic has {} partitions)",
                    meta.partitions
                ),
            });
        }
        partitions.push(Arc::new(Partition::open(
            p,
            pdir,
            config.limits(),
            read_only,
        )?));
    }
    Ok(Topic {
        name: Arc::from(meta.name.as_str()),
        config: meta.config(),
        dir: dir.to_path_buf(),
        partitions,
        keyless: KeylessPartitioner::default(),
        deleted: AtomicBool::new(false),
    })
}

fn load_topics(
    root: &Path,
    config: &LogConfig,
    read_only: bool,
) -> Result<BTreeMap<String, Arc<Topic>>, BusError> {
    let topics_dir = root.join("topics");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&topics_dir).map_err(|e| io_err(&topics_dir, e))? {
        let entry = entry.map_err(|e| io_err(&topics_dir, e))?;
        let dir = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if !dir.is_dir() {
            continue;
        }
        if name.starts_with(".deleted-") {
            if !read_only {
                std::fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
            }
            continue;
        }
        let meta_path = dir.join("meta.json");
        let bytes = match std::fs::read(&meta_path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!(dir = %dir.display(), "topic directory without meta.json (creation interrupted): ignored");
                continue;
            }
            Err(e) => return Err(io_err(&meta_path, e)),
        };
        let meta: TopicMeta = serde_json::from_slice(&bytes).map_err(|e| BusError::Corrupt {
            path: meta_path.display().to_string(),
            reason: format!("topic metadata does not parse: {e}"),
        })?;
        if meta.name != name || meta.partitions == 0 || meta.partitions > PARTITIONS_MAX {
            return Err(BusError::Corrupt {
                path: meta_path.display().to_string(),
                reason: format!(
                    "topic metadata says name `{}` with {} partitions, in directory `{name}`",
                    meta.name, meta.partitions
                ),
            });
        }
        let topic = open_topic(&dir, meta, config, read_only)?;
        out.insert(name, Arc::new(topic));
    }
    Ok(out)
}

fn load_groups(root: &Path, config: &LogConfig) -> Result<BTreeMap<String, Arc<Group>>, BusError> {
    let dir = root.join("groups");
    let mut stems = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&dir).map_err(|e| io_err(&dir, e))? {
        let path = entry.map_err(|e| io_err(&dir, e))?.path();
        let stem = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned);
        match (path.extension().and_then(|e| e.to_str()), stem) {
            (Some("json" | "offsets"), Some(stem)) => {
                stems.insert(stem);
            }
            (Some("tmp"), _) => {
                // An interrupted atomic write: the previous file is intact.
                let _ = std::fs::remove_file(&path);
            }
            _ => {}
        }
    }
    let mut out = BTreeMap::new();
    for stem in stems {
        if let Some(g) = Group::load(&dir, &stem, config.offsets_log_bytes_max)? {
            out.insert(g.name.clone(), Arc::new(g));
        }
    }
    Ok(out)
}

fn take_lock(data_dir: &Path, root: &Path) -> Result<File, BusError> {
    let path = root.join("LOCK");
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            return Err(BusError::Locked {
                data_dir: data_dir.display().to_string(),
                pid: lock_holder_pid(root),
            });
        }
        Err(std::fs::TryLockError::Error(e)) => return Err(io_err(&path, e)),
    }
    file.set_len(0).map_err(|e| io_err(&path, e))?;
    file.write_all(format!("{}\n", std::process::id()).as_bytes())
        .map_err(|e| io_err(&path, e))?;
    Ok(file)
}

fn lock_holder_pid(root: &Path) -> Option<u32> {
    let mut s = String::new();
    File::open(root.join("LOCK"))
        .ok()?
        .read_to_string(&mut s)
        .ok()?;
    s.trim().parse().ok()
}

pub(crate) fn io_err(path: &Path, source: std::io::Error) -> BusError {
    BusError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Locks a std mutex, recovering from poisoning: every critical section here leaves the
/// data consistent before anything that can panic, so a poisoned lock is still usable.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn read_lock<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn write_lock<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(std::sync::PoisonError::into_inner)
}

pub(crate) fn fsync_dir(dir: &Path) -> Result<(), BusError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(dir, e))
}

/// Replaces `path` with `bytes` so that a crash leaves either the old or the new content:
/// write a temporary file, fsync it, rename over, fsync the directory.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), BusError> {
    let tmp = path.with_extension("tmp");
    let mut f = File::create(&tmp).map_err(|e| io_err(&tmp, e))?;
    f.write_all(bytes).map_err(|e| io_err(&tmp, e))?;
    f.sync_all().map_err(|e| io_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| io_err(path, e))?;
    match path.parent() {
        Some(dir) => fsync_dir(dir),
        None => Ok(()),
    }
}

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
