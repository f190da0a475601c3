//! Per-partition bookkeeping of the runtime: which fetched messages are unfinished, which
//! may be handed to the handler now, which wait (for a retry delay, or behind an earlier
//! message of their key), and the watermark that may be committed.
//!
//! Invariants (checked by the tests in `tests/bus/runtime_*.rs`):
//! - a message is handed out only when it is the oldest unfinished message of its key
//!   (its *lane*), so per-key order holds under retry;
//! - the watermark is the lowest unfinished offset (or the offset after the last accepted
//!   message when none is unfinished): committing it never skips unfinished work;
//! - at most `in_flight_messages_max` messages are held; past that the partition pauses.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use tokio::time::Instant;

use crate::port::{Message, TimestampMs};

/// The ordering lane of a message: its key, or the message alone when it has no key
/// (keyless records carry no order promise: Kafka spreads them round robin).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Lane {
    Key(Vec<u8>),
    Alone(u64),
}

/// One fetched, unfinished message.
#[derive(Debug)]
pub(crate) struct Entry {
    /// `None` while lent to the handler.
    pub(crate) message: Option<Message>,
    lane: Lane,
    /// Failed deliveries so far (`Retry` and `Reject` outcomes).
    pub(crate) failures: u32,
    pub(crate) first_failure_ms: Option<TimestampMs>,
    pub(crate) last_failure_ms: Option<TimestampMs>,
    pub(crate) last_error: Option<String>,
    /// Finished with the handler; waiting for its DLQ record to be durable.
    pub(crate) dead: bool,
}

impl Entry {
    pub(crate) fn record_failure(&mut self, reason: String, now_ms: TimestampMs) {
        self.failures = self.failures.saturating_add(1);
        self.first_failure_ms.get_or_insert(now_ms);
        self.last_failure_ms = Some(now_ms);
        self.last_error = Some(reason);
    }
}

/// What [`PartitionState::offer`] did with a fetched message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Offer {
    Accepted,
    /// Already seen (a re-read): ignored.
    Duplicate,
    /// The partition is full: dropped, to be read again after a seek back.
    Paused,
}

#[derive(Debug, Default)]
pub(crate) struct PartitionState {
    entries: BTreeMap<u64, Entry>,
    lanes: HashMap<Lane, VecDeque<u64>>,
    /// Lane heads that may be handed out now.
    ready: BTreeSet<u64>,
    /// Lane heads waiting until an instant (retry delay, or DLQ produce backoff).
    delayed: BTreeSet<(Instant, u64)>,
    /// Offset after the last accepted message.
    next_offset: Option<u64>,
    /// Set while paused: the first dropped offset, to seek back to.
    resume_at: Option<u64>,
    /// What was last committed.
    pub(crate) committed: Option<u64>,
}

impl PartitionState {
    pub(crate) fn offer(&mut self, message: Message, in_flight_messages_max: usize) -> Offer {
        let offset = message.offset;
        if self.next_offset.is_some_and(|next| offset < next) {
            return Offer::Duplicate;
        }
        if self.resume_at.is_some() {
            return Offer::Paused;
        }
        if self.entries.len() >= in_flight_messages_max.max(1) {
            self.resume_at = Some(offset);
            return Offer::Paused;
        }
        let lane = match &message.key {
            Some(key) => Lane::Key(key.clone()),
            None => Lane::Alone(offset),
        };
        let queue = self.lanes.entry(lane.clone()).or_default();
        if queue.is_empty() {
            self.ready.insert(offset);
        }
        queue.push_back(offset);
        self.entries.insert(
            offset,
            Entry {
                message: Some(message),
                lane,
                failures: 0,
                first_failure_ms: None,
                last_failure_ms: None,
                last_error: None,
                dead: false,
            },
        );
        self.next_offset = Some(offset + 1);
        Offer::Accepted
    }

    /// Moves lane heads whose delay has passed to the ready set, then takes up to `max` of
    /// them, lowest offsets first.
    pub(crate) fn take_ready(&mut self, now: Instant, max: usize, out: &mut Vec<u64>) {
        while let Some(&(due, offset)) = self.delayed.first() {
            if due > now {
                break;
            }
            self.delayed.pop_first();
            self.ready.insert(offset);
        }
        while out.len() < max {
            let Some(offset) = self.ready.pop_first() else {
                break;
            };
            out.push(offset);
        }
    }

    pub(crate) fn has_ready(&self, now: Instant) -> bool {
        !self.ready.is_empty() || self.delayed.first().is_some_and(|(due, _)| *due <= now)
    }

    pub(crate) fn next_due(&self) -> Option<Instant> {
        self.delayed.first().map(|(due, _)| *due)
    }

    pub(crate) fn entry_mut(&mut self, offset: u64) -> Option<&mut Entry> {
        self.entries.get_mut(&offset)
    }

    /// Holds the lane head `offset` until `until`.
    pub(crate) fn delay(&mut self, offset: u64, until: Instant) {
        self.delayed.insert((until, offset));
    }

    /// `offset` is finished: forgets it and readies the next message of its lane.
    pub(crate) fn finish(&mut self, offset: u64) {
        let Some(entry) = self.entries.remove(&offset) else {
            return;
        };
        if let Some(queue) = self.lanes.get_mut(&entry.lane) {
            debug_assert_eq!(
                queue.front(),
                Some(&offset),
                "finished a message that was not its lane head"
            );
            queue.retain(|o| *o != offset);
            match queue.front() {
                Some(&next) => {
                    self.ready.insert(next);
                }
                None => {
                    self.lanes.remove(&entry.lane);
                }
            }
        }
    }

    /// The lowest unfinished offset, or the offset after the last accepted message.
    pub(crate) fn watermark(&self) -> Option<u64> {
        self.entries.keys().next().copied().or(self.next_offset)
    }

    /// If paused and there is room again, the offset to seek back to.
    pub(crate) fn take_resume(&mut self, in_flight_messages_max: usize) -> Option<u64> {
        if self.entries.len() < in_flight_messages_max.max(1) {
            self.resume_at.take()
        } else {
            None
        }
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.entries.len()
    }

    pub(crate) fn in_retry(&self) -> usize {
        self.delayed.len()
    }
}
