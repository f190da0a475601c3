//! Consumer groups of the embedded backend, in process: membership, assignment, committed
//! positions (persisted), and the [`Consumer`] handed to each member.
//!
//! Owns `groups/<group>.json`. Assignment is Kafka's range assignor per topic over the live
//! members (sorted by member id), recomputed with a new generation on every join, leave or
//! session expiry. Hand-over is cooperative (like Kafka's incremental protocol): a partition
//! moves to its new owner only once the old owner has polled again (or left, or expired), so
//! two members never fetch the same partition at once, and a member that commits before its
//! next poll (what the runtime does) hands over exactly its committed position.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Inner, io_err, lock, write_atomically};
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
    path: PathBuf,
    pub state: Mutex<GroupState>,
    /// Serialises writes of the group file; holds the last persisted commit version.
    persisted_version: tokio::sync::Mutex<u64>,
}

#[derive(Serialize, Deserialize)]
struct GroupFile {
    group: String,
    offsets: Vec<CommittedOffset>,
}

#[derive(Serialize, Deserialize)]
struct CommittedOffset {
    topic: String,
    partition: u32,
    offset: u64,
}

/// File name of a group: its name with anything but `[A-Za-z0-9._-]` percent-encoded, so any
/// group name is safe on disk and the mapping is reversible.
pub(crate) fn group_file_name(group: &str) -> String {
    let mut out = String::with_capacity(group.len() + 5);
    for b in group.bytes() {
        if b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || (b == b'.' && !out.is_empty()) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out.push_str(".json");
    out
}

impl Group {
    pub fn new(name: String, path: PathBuf, committed: BTreeMap<TopicPartition, u64>) -> Self {
        Self {
            name,
            path,
            state: Mutex::new(GroupState {
                committed,
                ..GroupState::default()
            }),
            persisted_version: tokio::sync::Mutex::new(0),
        }
    }

    /// Loads a group file; a file that does not parse is [`BusError::Corrupt`].
    pub fn load(path: PathBuf) -> Result<Self, BusError> {
        let bytes = std::fs::read(&path).map_err(|e| io_err(&path, e))?;
        let file: GroupFile = serde_json::from_slice(&bytes).map_err(|e| BusError::Corrupt {
            path: path.display().to_string(),
            reason: format!("group offsets file does not parse: {e}"),
        })?;
        let committed = file
            .offsets
            .into_iter()
            .map(|c| {
                (
                    TopicPartition {
                        topic: c.topic,
                        partition: c.partition,
                    },
                    c.offset,
                )
            })
            .collect();
        Ok(Self::new(file.group, path, committed))
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

    /// Writes the group file if commits happened since the last write; concurrent commits
    /// share one write (group commit for offsets).
    async fn persist(&self) -> Result<(), BusError> {
        let mut persisted = self.persisted_version.lock().await;
        let (version, file) = {
            let st = lock(&self.state);
            (
                st.commit_version,
                GroupFile {
                    group: self.name.clone(),
                    offsets: st
                        .committed
                        .iter()
                        .map(|(tp, o)| CommittedOffset {
                            topic: tp.topic.clone(),
                            partition: tp.partition,
                            offset: *o,
                        })
                        .collect(),
                },
            )
        };
        if version <= *persisted {
            return Ok(());
        }
        let bytes =
            serde_json::to_vec_pretty(&file).map_err(|e| BusError::Backend(e.to_string()))?;
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_atomically(&path, &bytes))
            .await
            .map_err(|e| BusError::Backend(format!("group file writer: {e}")))??;
        *persisted = version;
        Ok(())
    }
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
