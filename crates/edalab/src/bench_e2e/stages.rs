//! Per-stage latency of `bench e2e` (issue 7: where the p99 at 10 000 ev/s goes).
//!
//! Every offered event carries its index in the phase in a header ([`SEQ_HEADER`]); the
//! phase keeps one slot per event and per moment ([`Stamps`], atomics written once, no
//! lock), stamped by:
//!
//! - the offering loop: *scheduled* (the planned send time), *call* (just before the
//!   produce call) and *ack* (when the produce call returned: durable);
//! - [`ObservedBus`], a decorator around the bus the ledger's runtime consumes from: *polled*
//!   (first returned by a poll) and *offset committed* (the runtime's bus offset commit
//!   covering the event returned);
//! - the timing wrapper around the ledger's batch handler: *dispatched* (its batch handed
//!   to the ledger's handler) and *committed* (the store transaction that applied it has
//!   committed).
//!
//! After the phase, [`Stamps::breakdown`] turns them into per-event stage durations and
//! [`StageTable::of`] into HDR histograms. Nothing is computed on the hot path: one header
//! lookup and one atomic store per event and moment.
//!
//! The bus publishes a group commit to its readers and acknowledges its producers at the
//! same moment (after the sync); which task runs first is up to the scheduler, so the
//! consumer can see an event before the producer sees its acknowledgement. The moment the
//! event is *durable* is therefore taken as `min(ack, polled)`, which keeps the stages a
//! chain (scheduled ≤ call ≤ durable ≤ polled ≤ dispatched ≤ committed) whose durations add up to the
//! end-to-end latency exactly; how often the consumer came first is counted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use edalab_bus::log::FsyncPolicy;
use edalab_bus::port::{Delivery, Message, PartitionRead, ReadBatch, TopicPartition};
use edalab_bus::{Bus, BusError, Consumer, ConsumerConfig, Producer, Record};
use hdrhistogram::Histogram;
use serde::Serialize;

use super::{LATENCY_US_MAX, Latency};

/// The header carrying an event's index in its phase (little-endian u64).
pub const SEQ_HEADER: &str = "edalab-bench-seq";

/// An `--fsync` value: the bus's policy and how the report names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FsyncChoice {
    pub label: String,
    #[serde(skip)]
    pub policy: FsyncPolicy,
}

impl FsyncChoice {
    #[cfg(test)]
    pub fn always() -> Self {
        Self {
            label: "always".to_owned(),
            policy: FsyncPolicy::Always,
        }
    }
}

/// Parses one `--fsync` value: `always`, `interval` (100 ms), `interval_ms=N`, `never`.
pub fn parse_fsync(value: &str) -> Result<FsyncChoice, String> {
    let policy: FsyncPolicy = value.trim().parse()?;
    Ok(FsyncChoice {
        label: policy.to_string(),
        policy,
    })
}

/// One slot per event for each moment, in ns since the phase's base instant; 0 = not yet.
pub struct Stamps {
    base: Instant,
    scheduled: Vec<AtomicU64>,
    call: Vec<AtomicU64>,
    ack: Vec<AtomicU64>,
    polled: Vec<AtomicU64>,
    dispatched: Vec<AtomicU64>,
    committed: Vec<AtomicU64>,
    offset_committed: Vec<AtomicU64>,
}

/// Which moment of an event.
#[derive(Debug, Clone, Copy)]
pub enum Moment {
    Scheduled,
    Call,
    Ack,
    Polled,
    Dispatched,
    Committed,
    OffsetCommitted,
}

impl Stamps {
    pub fn new(base: Instant, events: usize) -> Self {
        let slots = || (0..events).map(|_| AtomicU64::new(0)).collect::<Vec<_>>();
        Self {
            base,
            scheduled: slots(),
            call: slots(),
            ack: slots(),
            polled: slots(),
            dispatched: slots(),
            committed: slots(),
            offset_committed: slots(),
        }
    }

    /// Now, in ns since the base (at least 1: 0 means "not stamped").
    pub fn now(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos())
            .unwrap_or(u64::MAX)
            .max(1)
    }

    fn slots(&self, moment: Moment) -> &[AtomicU64] {
        match moment {
            Moment::Scheduled => &self.scheduled,
            Moment::Call => &self.call,
            Moment::Ack => &self.ack,
            Moment::Polled => &self.polled,
            Moment::Dispatched => &self.dispatched,
            Moment::Committed => &self.committed,
            Moment::OffsetCommitted => &self.offset_committed,
        }
    }

    /// Stamps `moment` of event `seq` with `ns` unless it is already stamped (the first
    /// time counts: a redelivered event keeps its first poll). Unknown indexes are ignored.
    pub fn stamp(&self, moment: Moment, seq: u64, ns: u64) {
        let Some(slot) = usize::try_from(seq)
            .ok()
            .and_then(|i| self.slots(moment).get(i))
        else {
            return;
        };
        let _ = slot.compare_exchange(0, ns.max(1), Ordering::Relaxed, Ordering::Relaxed);
    }

    /// The stage durations of every event whose store commit was stamped.
    pub fn breakdown(&self) -> Vec<EventStages> {
        let get = |slots: &[AtomicU64], i: usize| slots[i].load(Ordering::Relaxed);
        (0..self.committed.len())
            .filter_map(|i| {
                let committed = get(&self.committed, i);
                let scheduled = get(&self.scheduled, i);
                let call = get(&self.call, i);
                let ack = get(&self.ack, i);
                let polled = get(&self.polled, i);
                let dispatched = get(&self.dispatched, i);
                if [committed, scheduled, call, ack, polled, dispatched].contains(&0) {
                    return None;
                }
                let durable = ack.min(polled);
                let offset = get(&self.offset_committed, i);
                Some(EventStages {
                    generator_lag_ns: call.saturating_sub(scheduled),
                    produce_ns: durable.saturating_sub(call),
                    to_poll_ns: polled.saturating_sub(durable),
                    queued_ns: dispatched.saturating_sub(polled),
                    apply_ns: committed.saturating_sub(dispatched),
                    offset_commit_ns: (offset != 0).then(|| offset.saturating_sub(committed)),
                    total_ns: committed.saturating_sub(scheduled),
                    polled_before_ack: polled < ack,
                })
            })
            .collect()
    }
}

/// One event's stages, ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventStages {
    /// Scheduled send → produce call (the load generator's own lateness).
    pub generator_lag_ns: u64,
    /// Produce call → durable (acknowledged, or seen by the consumer if that came first).
    pub produce_ns: u64,
    /// Durable → first returned by the ledger consumer's poll.
    pub to_poll_ns: u64,
    /// Polled → handed to the ledger's handler (waiting in the consumer runtime, behind the
    /// batch being applied).
    pub queued_ns: u64,
    /// Handed to the handler → its store transaction committed (decode, decide, commit).
    pub apply_ns: u64,
    /// Store committed → the bus offset commit covering it (after the end to end).
    pub offset_commit_ns: Option<u64>,
    /// Scheduled send → store committed: the benchmark's end-to-end latency.
    pub total_ns: u64,
    pub polled_before_ack: bool,
}

impl EventStages {
    /// The stages inside the end to end, in order, with their names.
    #[cfg(test)]
    pub fn chain(&self) -> [(&'static str, u64); CHAIN_STAGES] {
        let values = self.values();
        std::array::from_fn(|i| (STAGE_NAMES[i], values[i].unwrap_or(0)))
    }

    /// Every stage's value, in [`STAGE_NAMES`] order (`None`: not observed).
    fn values(&self) -> [Option<u64>; STAGE_NAMES.len()] {
        [
            Some(self.generator_lag_ns),
            Some(self.produce_ns),
            Some(self.to_poll_ns),
            Some(self.queued_ns),
            Some(self.apply_ns),
            self.offset_commit_ns,
            Some(self.total_ns),
        ]
    }
}

/// The stages' names in the report, in order (the last two: after, and the total).
pub const STAGE_NAMES: [&str; 7] = [
    "generator lag (scheduled → produce call)",
    "produce → durable ack (bus group commit)",
    "ack → polled by the ledger",
    "polled → handed to the ledger's handler",
    "handler: decode, decide, store committed",
    "store committed → bus offset committed",
    "end to end (scheduled → store committed)",
];
/// The first this many stages add up to the end to end.
pub const CHAIN_STAGES: usize = 5;
/// The offset commit's row (after the end to end).
pub const OFFSET_STAGE: usize = 5;
/// The end to end's row.
pub const TOTAL_STAGE: usize = 6;

/// One stage's percentiles.
#[derive(Debug, Clone, Serialize)]
pub struct StageRow {
    pub stage: &'static str,
    /// Part of the end-to-end latency (the offset commit comes after it).
    pub in_end_to_end: bool,
    pub latency: Latency,
    /// Mean of this stage over the slowest 1 % of events (by end-to-end latency): what
    /// the tail is made of.
    pub tail_mean_ms: f64,
}

/// A phase's stage table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StageTable {
    /// Events with every stage stamped (= committed events).
    pub measured: u64,
    /// Events the consumer returned before their producer saw the acknowledgement.
    pub polled_before_ack: u64,
    pub rows: Vec<StageRow>,
}

impl StageTable {
    pub fn of(events: &[EventStages]) -> Self {
        if events.is_empty() {
            return Self::default();
        }
        let us = |ns: u64| (ns / 1_000).min(LATENCY_US_MAX);
        let mut histograms: Vec<Histogram<u64>> = (0..STAGE_NAMES.len())
            .map(|_| super::new_histogram())
            .collect();
        for e in events {
            for (h, v) in histograms.iter_mut().zip(e.values()) {
                if let Some(v) = v {
                    h.saturating_record(us(v));
                }
            }
        }
        // The slowest 1 % (at least one event), by end-to-end latency.
        let mut tail: Vec<&EventStages> = events.iter().collect();
        tail.sort_unstable_by_key(|e| std::cmp::Reverse(e.total_ns));
        tail.truncate(events.len().div_ceil(100));
        let tail_mean_ms = |stage: usize| {
            let values: Vec<u64> = tail.iter().filter_map(|e| e.values()[stage]).collect();
            if values.is_empty() {
                return 0.0;
            }
            let mean_ns = values.iter().map(|&v| v as f64).sum::<f64>() / values.len() as f64;
            (mean_ns / 1e3).round() / 1e3
        };
        let tails: [f64; STAGE_NAMES.len()] = std::array::from_fn(tail_mean_ms);
        let rows = STAGE_NAMES
            .iter()
            .zip(histograms.iter().zip(tails))
            .enumerate()
            .map(|(i, (stage, (h, tail_mean_ms)))| StageRow {
                stage,
                in_end_to_end: i != OFFSET_STAGE,
                latency: Latency::of(h),
                tail_mean_ms,
            })
            .collect();
        Self {
            measured: events.len() as u64,
            polled_before_ack: events.iter().filter(|e| e.polled_before_ack).count() as u64,
            rows,
        }
    }

    /// The stage (inside the end to end) with the largest mean over the slowest 1 %.
    pub fn tail_bottleneck(&self) -> Option<&StageRow> {
        self.rows
            .iter()
            .take(CHAIN_STAGES)
            .max_by(|a, b| a.tail_mean_ms.total_cmp(&b.tail_mean_ms))
    }
}

/// An event's index, from its header.
pub fn seq_of(message: &Message) -> Option<u64> {
    message
        .header(SEQ_HEADER)
        .and_then(|b| b.try_into().ok())
        .map(u64::from_le_bytes)
}

/// The bus as the ledger's runtime sees it, stamping *polled* and *offset committed*.
/// Everything else goes straight to the inner bus.
pub struct ObservedBus {
    pub inner: Arc<dyn Bus>,
    pub stamps: Arc<Stamps>,
}

edalab_bus::forward_admin!(ObservedBus, inner);

#[async_trait]
impl Producer for ObservedBus {
    async fn produce(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Delivery>, BusError> {
        self.inner.produce(topic, records).await
    }
}

#[async_trait]
impl Bus for ObservedBus {
    async fn consumer(&self, config: ConsumerConfig) -> Result<Box<dyn Consumer>, BusError> {
        let inner = self.inner.consumer(config).await?;
        Ok(Box::new(ObservedConsumer {
            inner,
            stamps: Arc::clone(&self.stamps),
            pending: HashMap::new(),
        }))
    }
    async fn read_partition(&self, read: &PartitionRead) -> Result<ReadBatch, BusError> {
        self.inner.read_partition(read).await
    }
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
}

struct ObservedConsumer {
    inner: Box<dyn Consumer>,
    stamps: Arc<Stamps>,
    /// Polled events whose offset is not committed yet: (offset, seq) in poll order.
    pending: HashMap<TopicPartition, VecDeque<(u64, u64)>>,
}

#[async_trait]
impl Consumer for ObservedConsumer {
    async fn poll(&mut self, timeout: Duration) -> Result<Vec<Message>, BusError> {
        let messages = self.inner.poll(timeout).await?;
        let now = self.stamps.now();
        for message in &messages {
            if let Some(seq) = seq_of(message) {
                self.stamps.stamp(Moment::Polled, seq, now);
                self.pending
                    .entry(message.topic_partition())
                    .or_default()
                    .push_back((message.offset, seq));
            }
        }
        Ok(messages)
    }

    async fn commit(&mut self, positions: &BTreeMap<TopicPartition, u64>) -> Result<(), BusError> {
        self.inner.commit(positions).await?;
        let now = self.stamps.now();
        for (tp, &position) in positions {
            let Some(pending) = self.pending.get_mut(tp) else {
                continue;
            };
            while let Some(&(offset, seq)) = pending.front() {
                if offset >= position {
                    break;
                }
                self.stamps.stamp(Moment::OffsetCommitted, seq, now);
                pending.pop_front();
            }
        }
        Ok(())
    }

    async fn seek(&mut self, partition: &TopicPartition, offset: u64) -> Result<(), BusError> {
        self.inner.seek(partition, offset).await
    }

    fn assignment(&self) -> Vec<TopicPartition> {
        self.inner.assignment()
    }

    async fn close(&mut self) -> Result<(), BusError> {
        self.inner.close().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fsync_values_parse_and_bad_ones_are_named() {
        assert_eq!(parse_fsync("always").expect("always").label, "always");
        assert_eq!(
            parse_fsync("never").expect("never").policy,
            FsyncPolicy::Never
        );
        assert_eq!(
            parse_fsync("interval").expect("interval").policy,
            FsyncPolicy::IntervalMs(FsyncPolicy::INTERVAL_MS_DEFAULT)
        );
        assert_eq!(
            parse_fsync("interval_ms=5").expect("interval_ms").label,
            "interval_ms=5"
        );
        let error = parse_fsync("bogus").expect_err("bogus");
        assert!(
            error.contains("`bogus`") && error.contains("always"),
            "{error}"
        );
    }

    #[test]
    fn the_stages_are_a_chain_and_the_consumer_may_see_an_event_first() {
        let stamps = Stamps::new(Instant::now(), 3);
        // Event 0: acknowledged before the poll. Event 1: polled before the producer saw
        // its acknowledgement. Event 2: never committed, not measured.
        for (seq, [s, c, a, p, d, m, o]) in [
            [100, 150, 400, 500, 520, 900, 1_200],
            [100, 160, 700, 450, 450, 800, 1_000],
            [100, 170, 300, 0, 0, 0, 0],
        ]
        .into_iter()
        .enumerate()
        {
            let seq = seq as u64;
            for (moment, ns) in [
                (Moment::Scheduled, s),
                (Moment::Call, c),
                (Moment::Ack, a),
                (Moment::Polled, p),
                (Moment::Dispatched, d),
                (Moment::Committed, m),
                (Moment::OffsetCommitted, o),
            ] {
                if ns != 0 {
                    stamps.stamp(moment, seq, ns);
                }
            }
        }
        // The first stamp counts.
        stamps.stamp(Moment::Polled, 0, 10_000);
        let events = stamps.breakdown();
        assert_eq!(
            events,
            vec![
                EventStages {
                    generator_lag_ns: 50,
                    produce_ns: 250,
                    to_poll_ns: 100,
                    queued_ns: 20,
                    apply_ns: 380,
                    offset_commit_ns: Some(300),
                    total_ns: 800,
                    polled_before_ack: false,
                },
                EventStages {
                    generator_lag_ns: 60,
                    produce_ns: 290,
                    to_poll_ns: 0,
                    queued_ns: 0,
                    apply_ns: 350,
                    offset_commit_ns: Some(200),
                    total_ns: 700,
                    polled_before_ack: true,
                },
            ]
        );
        let table = StageTable::of(&events);
        assert_eq!(table.measured, 2);
        assert_eq!(table.polled_before_ack, 1);
        assert_eq!(table.rows.len(), STAGE_NAMES.len());
        for event in &events {
            let chain = event.chain();
            assert_eq!(chain.iter().map(|(_, ns)| ns).sum::<u64>(), event.total_ns);
        }
    }
}
