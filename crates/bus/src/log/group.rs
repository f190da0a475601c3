//! Consumer groups of the embedded backend, in process: membership, assignment, committed
//! positions (persisted), and the [`Consumer`] handed to each member.
//!
//! Owns `groups/<group>.json` and `groups/<group>.offsets`. Assignment is Kafka's range assignor per topic over the live
//! members (sorted by member id), recomputed with a new generation on every join, leave or
//! session expiry. Hand-over is cooperative (like Kafka's incremental protocol): a partition
//! moves to its new owner only once the old owner has polled again (or left, or expired), so
//! two members never fetch the same partition at once, and a member that commits before its
//! next poll (what the runtime does) hands over exactly its committed position.
//!
//! Committed positions are durable with one flush per commit: each commit appends a
//! CRC-framed snapshot to `groups/<group>.offsets`; past 1 MiB that log is compacted into
//! `groups/<group>.json` (atomic replace) and restarts. On open the highest version wins.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Inner, fsync_dir, io_err, lock, write_atomically};
use crate::port::{BusError, Consumer, ConsumerConfig, Message, TopicPartition};

#[derive(Debug)]
struct Member {
    topics: Vec<String>,
    session_timeout: Duration,
    last_seen: Instant,
    /// What the assignor gives this member.
    target: BTreeSet<TopicPartition>,
    /// What it may fetch and commit now (target minus partitions not yet released).
    owned: BTreeSet<TopicPartition>,
}

#[derive(Debug, Default)]
pub(crate) struct GroupState {
    pub generation: u64,
    next_member_id: u64,
    members: BTreeMap<u64, Member>,
    pub committed: BTreeMap<TopicPartition, u64>,
    commit_version: u64,
}

pub(crate) struct Group {
    pub name: String,
    /// `groups/<name>.json`: the last compacted snapshot of committed positions.
    snapshot_path: PathBuf,
    /// `groups/<name>.offsets`: one CRC-framed snapshot appended per commit since.
    log_path: PathBuf,
    pub state: Mutex<GroupState>,
    /// Serialises writes of the group's files.
    persist: tokio::sync::Mutex<PersistState>,
}

struct PersistState {
    /// Highest commit version known durable.
    version: u64,
    log: Option<Arc<File>>,
    log_bytes: u64,
    /// Past this size the offsets log is compacted into the snapshot file and restarted.
    log_bytes_max: u64,
}

#[derive(Serialize, Deserialize)]
struct GroupFile {
    group: String,
    /// Commit version: the highest one found (snapshot or log) is the current state.
    #[serde(default)]
    version: u64,
    offsets: Vec<CommittedOffset>,
}

#[derive(Serialize, Deserialize)]
struct CommittedOffset {
    topic: String,
    partition: u32,
    offset: u64,
}

/// File stem of a group: its name with anything but `[A-Za-z0-9._-]` percent-encoded, so any
/// group name is safe on disk and the mapping is reversible.
pub(crate) fn group_file_stem(group: &str) -> String {
    let mut out = String::with_capacity(group.len());
    for b in group.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && !out.is_empty()) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Group {
    /// A group with no files yet, in `dir`.
    pub fn new(name: String, dir: &Path, log_bytes_max: u64) -> Self {
        let stem = group_file_stem(&name);
        Self::with_state(
            name,
            dir,
            &stem,
            BTreeMap::new(),
            0,
            (None, 0, log_bytes_max),
        )
    }

    fn with_state(
        name: String,
        dir: &Path,
        stem: &str,
        committed: BTreeMap<TopicPartition, u64>,
        version: u64,
        (log, log_bytes, log_bytes_max): (Option<Arc<File>>, u64, u64),
    ) -> Self {
        Self {
            name,
            snapshot_path: dir.join(format!("{stem}.json")),
            log_path: dir.join(format!("{stem}.offsets")),
            state: Mutex::new(GroupState {
                committed,
                commit_version: version,
                ..GroupState::default()
            }),
            persist: tokio::sync::Mutex::new(PersistState {
                version,
                log,
                log_bytes,
                log_bytes_max,
            }),
        }
    }

    /// Loads a group from its snapshot and its offsets log (the highest version wins). A torn
    /// last log record (a commit killed mid-write, never acknowledged) is truncated; anything
    /// else that does not parse is [`BusError::Corrupt`] naming the file. `None`: nothing was
    /// ever committed (a first commit killed before its record was complete).
    pub fn load(dir: &Path, stem: &str, log_bytes_max: u64) -> Result<Option<Self>, BusError> {
        let snapshot_path = dir.join(format!("{stem}.json"));
        let log_path = dir.join(format!("{stem}.offsets"));
        let mut best: Option<GroupFile> = match std::fs::read(&snapshot_path) {
            Ok(bytes) => Some(
                serde_json::from_slice(&bytes).map_err(|e| BusError::Corrupt {
                    path: snapshot_path.display().to_string(),
                    reason: format!("group offsets file does not parse: {e}"),
                })?,
            ),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(io_err(&snapshot_path, e)),
        };
        let (log, log_bytes) = match OpenOptions::new().read(true).append(true).open(&log_path) {
            Ok(file) => {
                let (records, valid_bytes) = read_offsets_log(&file, &log_path, Tail::Truncate)?;
                best = newest(best, records);
                (Some(Arc::new(file)), valid_bytes)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => (None, 0),
            Err(e) => return Err(io_err(&log_path, e)),
        };
        Ok(best.map(|file| Self::from_file(file, dir, stem, (log, log_bytes, log_bytes_max))))
    }

    /// A group as its files say now, read without writing anything: the view of a process
    /// that opened the log read-only while another writes it. A last record still being
    /// appended is not there yet (never truncated, never an error). `None`: nothing committed.
    pub fn peek(dir: &Path, stem: &str) -> Result<Option<Self>, BusError> {
        let snapshot_path = dir.join(format!("{stem}.json"));
        let log_path = dir.join(format!("{stem}.offsets"));
        // Read before the log: compaction writes the snapshot, then empties the log.
        let mut best: Option<GroupFile> = std::fs::read(&snapshot_path)
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok());
        if let Ok(file) = File::open(&log_path) {
            let (records, _) = read_offsets_log(&file, &log_path, Tail::Stop)?;
            best = newest(best, records);
        }
        Ok(best.map(|file| Self::from_file(file, dir, stem, (None, 0, 0))))
    }

    /// The group a snapshot or offsets record describes.
    fn from_file(
        file: GroupFile,
        dir: &Path,
        stem: &str,
        log: (Option<Arc<File>>, u64, u64),
    ) -> Self {
        let committed = file
            .offsets
            .into_iter()
            .map(|c| {
                let tp = TopicPartition {
                    topic: c.topic,
                    partition: c.partition,
                };
                (tp, c.offset)
            })
            .collect();
        Self::with_state(file.group, dir, stem, committed, file.version, log)
    }

    /// Topics this group reads or has positions on.
    pub fn topics(&self) -> BTreeSet<String> {
        let st = lock(&self.state);
        st.members
            .values()
            .flat_map(|m| m.topics.iter().cloned())
            .chain(st.committed.keys().map(|tp| tp.topic.clone()))
            .collect()
    }

    fn join(
        &self,
        topics: Vec<String>,
        session_timeout: Duration,
        partitions_of: &dyn Fn(&str) -> u32,
    ) -> u64 {
        let mut st = lock(&self.state);
        let id = st.next_member_id;
        st.next_member_id += 1;
        st.members.insert(
            id,
            Member {
                topics,
                session_timeout,
                last_seen: Instant::now(),
                target: BTreeSet::new(),
                owned: BTreeSet::new(),
            },
        );
        rebalance(&mut st, partitions_of);
        id
    }

    fn leave(&self, member: u64, partitions_of: &dyn Fn(&str) -> u32) {
        let mut st = lock(&self.state);
        if st.members.remove(&member).is_some() {
            rebalance(&mut st, partitions_of);
        }
    }

    /// A member's heartbeat: expires silent members, re-admits this one if it had expired,
    /// releases what it no longer targets and takes what is free. Returns what it owns.
    fn sync(
        &self,
        member: u64,
        config: &ConsumerConfig,
        partitions_of: &dyn Fn(&str) -> u32,
    ) -> (u64, BTreeSet<TopicPartition>) {
        let mut st = lock(&self.state);
        let now = Instant::now();
        let expired: Vec<u64> = st
            .members
            .iter()
            .filter(|(id, m)| **id != member && now.duration_since(m.last_seen) > m.session_timeout)
            .map(|(id, _)| *id)
            .collect();
        let mut changed = false;
        for id in expired {
            tracing::info!(group = %self.name, member = id, "member silent past its session timeout: removed");
            st.members.remove(&id);
            changed = true;
        }
        if let std::collections::btree_map::Entry::Vacant(e) = st.members.entry(member) {
            // This member had expired: it rejoins (Kafka: UNKNOWN_MEMBER_ID, then rejoin).
            e.insert(Member {
                topics: config.topics.clone(),
                session_timeout: config.session_timeout,
                last_seen: now,
                target: BTreeSet::new(),
                owned: BTreeSet::new(),
            });
            changed = true;
        }
        if changed {
            rebalance(&mut st, partitions_of);
        }
        let held_by_others: BTreeSet<TopicPartition> = st
            .members
            .iter()
            .filter(|(id, _)| **id != member)
            .flat_map(|(_, m)| m.owned.iter().cloned())
            .collect();
        let generation = st.generation;
        let Some(me) = st.members.get_mut(&member) else {
            return (generation, BTreeSet::new());
        };
        me.last_seen = now;
        let target = me.target.clone();
        me.owned.retain(|tp| target.contains(tp));
        for tp in target {
            if !held_by_others.contains(&tp) {
                me.owned.insert(tp);
            }
        }
        (generation, me.owned.clone())
    }

    async fn commit(
        &self,
        member: u64,
        positions: &BTreeMap<TopicPartition, u64>,
    ) -> Result<(), BusError> {
        {
            let mut st = lock(&self.state);
            let owned = st.members.get(&member).map(|m| &m.owned);
            if let Some(tp) = positions
                .keys()
                .find(|tp| !owned.is_some_and(|o| o.contains(*tp)))
            {
                return Err(BusError::NotAssigned {
                    group: self.name.clone(),
                    partition: tp.partition,
                });
            }
            for (tp, offset) in positions {
                st.committed.insert(tp.clone(), *offset);
            }
            st.commit_version += 1;
        }
        self.persist().await
    }

    /// Drops the positions on `topic` (deleted: a topic created later under its name starts
    /// afresh, as in Kafka). Returns whether there were any; [`Group::persist`] saves that.
    pub fn forget_topic(&self, topic: &str) -> bool {
        let mut st = lock(&self.state);
        let before = st.committed.len();
        st.committed.retain(|tp, _| tp.topic != topic);
        let changed = st.committed.len() != before;
        if changed {
            st.commit_version += 1;
        }
        changed
    }

    /// Makes the committed positions durable if commits happened since the last write:
    /// appends one CRC-framed snapshot to the offsets log and `fdatasync`s it (one flush per
    /// commit; concurrent commits of the group share it). Past `offsets_log_bytes_max` the
    /// snapshot file is replaced atomically and the log restarts empty.
    pub async fn persist(&self) -> Result<(), BusError> {
        let mut ps = self.persist.lock().await;
        let file = {
            let st = lock(&self.state);
            GroupFile {
                group: self.name.clone(),
                version: st.commit_version,
                offsets: st
                    .committed
                    .iter()
                    .map(|(tp, o)| CommittedOffset {
                        topic: tp.topic.clone(),
                        partition: tp.partition,
                        offset: *o,
                    })
                    .collect(),
            }
        };
        if file.version <= ps.version {
            return Ok(());
        }
        let version = file.version;
        let payload = serde_json::to_vec(&file).map_err(|e| BusError::Backend(e.to_string()))?;
        let (log, log_bytes, log_bytes_max) = (ps.log.take(), ps.log_bytes, ps.log_bytes_max);
        let (snapshot_path, log_path) = (self.snapshot_path.clone(), self.log_path.clone());
        let result = tokio::task::spawn_blocking(move || {
            append_offsets(
                (log, log_bytes, log_bytes_max),
                &snapshot_path,
                &log_path,
                &payload,
            )
        })
        .await
        .map_err(|e| BusError::Backend(format!("group offsets writer: {e}")))?;
        let (log, log_bytes) = result?;
        ps.log = Some(log);
        ps.log_bytes = log_bytes;
        ps.version = version;
        Ok(())
    }
}

/// Appends one record (`len u32 | crc32 u32 | JSON snapshot`) and syncs it; compacts first
/// when the log is full. Returns the log file and its new size.
fn append_offsets(
    (log, log_bytes, log_bytes_max): (Option<Arc<File>>, u64, u64),
    snapshot_path: &Path,
    log_path: &Path,
    payload: &[u8],
) -> Result<(Arc<File>, u64), BusError> {
    let mut record = Vec::with_capacity(payload.len() + 8);
    record.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    record.extend_from_slice(&crc32fast::hash(payload).to_le_bytes());
    record.extend_from_slice(payload);
    if log_bytes > 0 && log_bytes + record.len() as u64 > log_bytes_max {
        // Compaction: the snapshot becomes this state, then the log restarts. A crash in
        // between leaves an older log whose versions are all ≤ the snapshot's.
        write_atomically(snapshot_path, payload)?;
        let file = log.ok_or_else(|| BusError::Backend("offsets log missing".to_owned()))?;
        file.set_len(0).map_err(|e| io_err(log_path, e))?;
        file.sync_all().map_err(|e| io_err(log_path, e))?;
        return Ok((file, 0));
    }
    let file = match log {
        Some(f) => f,
        None => {
            let f = OpenOptions::new()
                .create(true)
                .append(true)
                .read(true)
                .open(log_path)
                .map_err(|e| io_err(log_path, e))?;
            if let Some(dir) = log_path.parent() {
                fsync_dir(dir)?;
            }
            Arc::new(f)
        }
    };
    (&*file)
        .write_all(&record)
        .map_err(|e| io_err(log_path, e))?;
    file.sync_data().map_err(|e| io_err(log_path, e))?;
    Ok((file, log_bytes + record.len() as u64))
}

/// Reads every record of an offsets log; truncates a torn last record.
/// The highest version of the snapshot and the log's records (a later record wins a tie).
fn newest(snapshot: Option<GroupFile>, records: Vec<GroupFile>) -> Option<GroupFile> {
    records.into_iter().fold(snapshot, |best, r| match best {
        Some(b) if r.version < b.version => Some(b),
        _ => Some(r),
    })
}

/// What reading an offsets log does with an incomplete last record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tail {
    /// The owner at open: a commit killed mid-write, never acknowledged — cut it off.
    Truncate,
    /// A reader while the owner writes: a record being appended — stop before it.
    Stop,
}

fn read_offsets_log(
    file: &File,
    path: &Path,
    tail: Tail,
) -> Result<(Vec<GroupFile>, u64), BusError> {
    let mut bytes = Vec::new();
    (&*file)
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(path, e))?;
    let corrupt = |pos: usize, reason: String| BusError::Corrupt {
        path: path.display().to_string(),
        reason: format!("at byte {pos}: {reason}"),
    };
    let mut records = Vec::new();
    let mut pos = 0usize;
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let torn = rest.len() < 8 || rest.iter().all(|b| *b == 0) || {
            let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
            8 + len > rest.len()
        };
        if torn && tail == Tail::Stop {
            break;
        }
        if torn {
            tracing::warn!(path = %path.display(), pos, "truncating the torn last record of an offsets log");
            file.set_len(pos as u64).map_err(|e| io_err(path, e))?;
            file.sync_all().map_err(|e| io_err(path, e))?;
            break;
        }
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        let crc = u32::from_le_bytes([rest[4], rest[5], rest[6], rest[7]]);
        let payload = &rest[8..8 + len];
        if crc32fast::hash(payload) != crc && tail == Tail::Stop {
            break;
        }
        if crc32fast::hash(payload) != crc {
            return Err(corrupt(
                pos,
                "CRC mismatch in a complete offsets record".to_owned(),
            ));
        }
        let record: GroupFile = serde_json::from_slice(payload)
            .map_err(|e| corrupt(pos, format!("offsets record does not parse: {e}")))?;
        records.push(record);
        pos += 8 + len;
    }
    Ok((records, pos as u64))
}

/// Range assignment per topic over the members subscribed to it, new generation.
fn rebalance(st: &mut GroupState, partitions_of: &dyn Fn(&str) -> u32) {
    st.generation += 1;
    for m in st.members.values_mut() {
        m.target.clear();
    }
    let topics: BTreeSet<String> = st
        .members
        .values()
        .flat_map(|m| m.topics.iter().cloned())
        .collect();
    for topic in topics {
        let members: Vec<u64> = st
            .members
            .iter()
            .filter(|(_, m)| m.topics.contains(&topic))
            .map(|(id, _)| *id)
            .collect();
        let n = partitions_of(&topic);
        let m = members.len() as u32;
        if m == 0 {
            continue;
        }
        let (per, extra) = (n / m, n % m);
        let mut next = 0;
        for (i, id) in members.iter().enumerate() {
            let count = per + u32::from((i as u32) < extra);
            if let Some(member) = st.members.get_mut(id) {
                for p in next..next + count {
                    member.target.insert(TopicPartition {
                        topic: topic.clone(),
                        partition: p,
                    });
                }
            }
            next += count;
        }
    }
}

/// A member of an embedded consumer group.
pub struct EmbeddedConsumer {
    inner: Arc<Inner>,
    group: Arc<Group>,
    member: u64,
    config: ConsumerConfig,
    generation: u64,
    owned: Vec<TopicPartition>,
    positions: BTreeMap<TopicPartition, u64>,
    next_start: usize,
    closed: bool,
}

impl EmbeddedConsumer {
    pub(crate) fn join(inner: Arc<Inner>, group: Arc<Group>, config: ConsumerConfig) -> Self {
        let partitions_of = |t: &str| inner.partition_count(t);
        let member = group.join(
            config.topics.clone(),
            config.session_timeout,
            &partitions_of,
        );
        tracing::debug!(group = %group.name, member, "joined");
        inner.wake.notify_waiters();
        Self {
            inner,
            group,
            member,
            config,
            generation: 0,
            owned: Vec::new(),
            positions: BTreeMap::new(),
            next_start: 0,
            closed: false,
        }
    }

    fn sync(&mut self) {
        let partitions_of = |t: &str| self.inner.partition_count(t);
        let (generation, owned) = self.group.sync(self.member, &self.config, &partitions_of);
        let released = self.owned.iter().any(|tp| !owned.contains(tp));
        if generation == self.generation && !released && owned.len() == self.owned.len() {
            return;
        }
        if released {
            // Another member waits for these partitions.
            self.inner.wake.notify_waiters();
        }
        self.generation = generation;
        self.positions.retain(|tp, _| owned.contains(tp));
        let committed = lock(&self.group.state).committed.clone();
        for tp in &owned {
            if !self.positions.contains_key(tp) {
                let start = match committed.get(tp) {
                    Some(o) => *o,
                    None => self.inner.start_offset(tp, self.config.start_from),
                };
                self.positions.insert(tp.clone(), start);
            }
        }
        self.owned = owned.into_iter().collect();
    }

    fn fetch(&mut self) -> Result<Vec<Message>, BusError> {
        let mut out = Vec::new();
        let n = self.owned.len();
        for k in 0..n {
            let remaining = self.config.poll_records_max.saturating_sub(out.len());
            if remaining == 0 {
                break;
            }
            let tp = &self.owned[(self.next_start + k) % n];
            let from = self.positions.get(tp).copied().unwrap_or(0);
            let (mut msgs, next) = self.inner.read(&tp.topic, tp.partition, from, remaining)?;
            self.positions.insert(tp.clone(), next);
            out.append(&mut msgs);
        }
        if n > 0 {
            self.next_start = (self.next_start + 1) % n;
        }
        Ok(out)
    }
}

#[async_trait]
impl Consumer for EmbeddedConsumer {
    async fn poll(&mut self, timeout: Duration) -> Result<Vec<Message>, BusError> {
        if self.closed || self.inner.is_closed() {
            return Err(BusError::Closed);
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let wake = self.inner.wake.clone();
            let notified = wake.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            self.sync();
            let msgs = self.fetch()?;
            if !msgs.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(msgs);
            }
            // Wake at least once per session timeout / 3 so a silent member is noticed and
            // its partitions taken over even when no data arrives.
            let heartbeat = tokio::time::Instant::now() + self.config.session_timeout / 3;
            tokio::select! {
                _ = &mut notified => {}
                _ = tokio::time::sleep_until(deadline.min(heartbeat)) => {}
            }
        }
    }

    async fn commit(&mut self, positions: &BTreeMap<TopicPartition, u64>) -> Result<(), BusError> {
        if self.closed {
            return Err(BusError::Closed);
        }
        // A position past the end would read, on the next open, as acknowledged records
        // lost from the tail (ADR 020): refuse it here, naming it.
        for (tp, offset) in positions {
            let end = self.inner.high_watermark(tp)?;
            if *offset > end {
                return Err(BusError::Backend(format!(
                    "cannot commit offset {offset} on {}/{}: the partition ends at {end}",
                    tp.topic, tp.partition
                )));
            }
        }
        self.group.commit(self.member, positions).await
    }

    async fn seek(&mut self, partition: &TopicPartition, offset: u64) -> Result<(), BusError> {
        if !self.owned.contains(partition) {
            return Err(BusError::NotAssigned {
                group: self.group.name.clone(),
                partition: partition.partition,
            });
        }
        self.positions.insert(partition.clone(), offset);
        Ok(())
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.owned.clone()
    }

    async fn close(&mut self) -> Result<(), BusError> {
        if !self.closed {
            self.closed = true;
            let partitions_of = |t: &str| self.inner.partition_count(t);
            self.group.leave(self.member, &partitions_of);
            self.inner.wake.notify_waiters();
        }
        Ok(())
    }
}

impl Drop for EmbeddedConsumer {
    fn drop(&mut self) {
        if !self.closed {
            let partitions_of = |t: &str| self.inner.partition_count(t);
            self.group.leave(self.member, &partitions_of);
            self.inner.wake.notify_waiters();
        }
    }
}
