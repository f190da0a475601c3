//! Runtime counters and lag.
//!
//! The runtime only counts, with plain atomics (relaxed: they are statistics, never used to
//! synchronise); the metrics layer reads [`RuntimeStats::snapshot`] and names them. Lag per
//! group and partition is the bus's to say ([`crate::port::Admin::group_lag`]);
//! [`group_lag`] adds the total.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::port::{Admin, BusError, PartitionLag, TopicPartition};

/// Counters of one consumer runtime. Cheap to share (`Arc`), updated as work happens.
#[derive(Debug, Default)]
pub struct RuntimeStats {
    messages_fetched_total: AtomicU64,
    messages_done_total: AtomicU64,
    retries_total: AtomicU64,
    messages_rejected_total: AtomicU64,
    messages_dead_lettered_total: AtomicU64,
    handler_panics_total: AtomicU64,
    commits_total: AtomicU64,
    messages_in_flight: AtomicU64,
    messages_in_retry: AtomicU64,
    /// The partitions the member holds now (empty before its first poll and after it left).
    assignment: Mutex<Vec<TopicPartition>>,
}

/// A copy of [`RuntimeStats`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct StatsSnapshot {
    /// Messages accepted from the bus (re-reads after a pause are not counted twice).
    pub messages_fetched_total: u64,
    /// Messages whose handler said `Done`.
    pub messages_done_total: u64,
    /// `Retry` outcomes that were scheduled for another delivery.
    pub retries_total: u64,
    /// `Reject` outcomes.
    pub messages_rejected_total: u64,
    /// Messages durably written to a DLQ (rejected or out of retries).
    pub messages_dead_lettered_total: u64,
    pub handler_panics_total: u64,
    pub commits_total: u64,
    /// Fetched and not yet finished (gauge).
    pub messages_in_flight: u64,
    /// Waiting for a retry delay to pass (gauge).
    pub messages_in_retry: u64,
}

impl RuntimeStats {
    pub fn snapshot(&self) -> StatsSnapshot {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        StatsSnapshot {
            messages_fetched_total: get(&self.messages_fetched_total),
            messages_done_total: get(&self.messages_done_total),
            retries_total: get(&self.retries_total),
            messages_rejected_total: get(&self.messages_rejected_total),
            messages_dead_lettered_total: get(&self.messages_dead_lettered_total),
            handler_panics_total: get(&self.handler_panics_total),
            commits_total: get(&self.commits_total),
            messages_in_flight: get(&self.messages_in_flight),
            messages_in_retry: get(&self.messages_in_retry),
        }
    }

    // The adders are public for consumers that run outside this crate's runtime (the SQS
    // worker of `edalab-aws`), so that every consumer reports the same counters.

    /// Messages taken from the queue or bus.
    pub fn add_fetched(&self, n: u64) {
        self.messages_fetched_total.fetch_add(n, Ordering::Relaxed);
    }
    /// Messages whose handler said `Done`.
    pub fn add_done(&self, n: u64) {
        self.messages_done_total.fetch_add(n, Ordering::Relaxed);
    }
    /// One `Retry` scheduled for another delivery.
    pub fn add_retry(&self) {
        self.retries_total.fetch_add(1, Ordering::Relaxed);
    }
    /// One `Reject`.
    pub fn add_rejected(&self) {
        self.messages_rejected_total.fetch_add(1, Ordering::Relaxed);
    }
    /// Messages dead-lettered (by the runtime, or moved by SQS after their last failure).
    pub fn add_dead_lettered(&self, n: u64) {
        self.messages_dead_lettered_total
            .fetch_add(n, Ordering::Relaxed);
    }
    /// One handler panic.
    pub fn add_panic(&self) {
        self.handler_panics_total.fetch_add(1, Ordering::Relaxed);
    }
    /// One commit (a deletion batch on SQS).
    pub fn add_commit(&self) {
        self.commits_total.fetch_add(1, Ordering::Relaxed);
    }
    /// Messages in flight and waiting for a retry, now.
    pub fn set_gauges(&self, in_flight: u64, in_retry: u64) {
        self.messages_in_flight.store(in_flight, Ordering::Relaxed);
        self.messages_in_retry.store(in_retry, Ordering::Relaxed);
    }
    /// The partitions the member holds now, in order.
    pub fn assignment(&self) -> Vec<TopicPartition> {
        self.assignment
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
    /// Records the member's assignment (after a rebalance; empty once it left the group).
    pub fn set_assignment(&self, partitions: impl IntoIterator<Item = TopicPartition>) {
        let mut held = self
            .assignment
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        held.clear();
        held.extend(partitions);
    }
}

/// Lag of a consumer group: per partition, and the total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupLag {
    pub group: String,
    pub partitions: Vec<PartitionLag>,
    pub lag_total: u64,
}

/// Reads the lag of `group` on every partition it consumes.
pub async fn group_lag(admin: &dyn Admin, group: &str) -> Result<GroupLag, BusError> {
    let partitions = admin.group_lag(group).await?;
    let lag_total = partitions.iter().map(|p| p.lag).sum();
    Ok(GroupLag {
        group: group.to_owned(),
        partitions,
        lag_total,
    })
}
