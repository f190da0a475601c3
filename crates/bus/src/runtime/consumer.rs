//! The consumer loop: poll, hand batches to the handler, retry with backoff, dead-letter,
//! commit the watermark, shut down cleanly. One loop per group member; it owns its
//! [`Consumer`] and never shares it.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::time::Instant;

use crate::port::{
    Bus, BusError, Consumer, ConsumerConfig, Message, Record, TopicPartition, headers,
};

use super::dlq::{DlqRouting, Failure, dead_letter_record};
use super::exactly_once::PositionStore;
use super::handler::{BatchHandler, Outcome, panic_reason};
use super::lag::{RuntimeStats, StatsSnapshot};
use super::partition::{Offer, PartitionState};
use super::retry::RetryPolicy;
use super::{Clock, RuntimeError, SystemClock};

/// Settings of one consumer runtime.
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub consumer: ConsumerConfig,
    pub retry: RetryPolicy,
    pub dlq: DlqRouting,
    /// Messages per handler call (S0-02: 10). Never two of one key in a batch.
    pub batch_size_max: usize,
    /// Fetched, unfinished messages held per partition; past it the partition pauses.
    pub in_flight_messages_max: usize,
    /// Longest wait of one poll when there is nothing to do.
    pub poll_timeout_ms: u64,
    /// Least time between two commits while running (0: after every batch). Always
    /// committed at shutdown.
    pub commit_interval_ms: u64,
    /// After the shutdown signal, how long to keep finishing fetched messages (including
    /// retries that come due) before committing what is finished and returning.
    pub shutdown_drain_ms_max: u64,
    /// Seed of the retry jitter (`None`: from the OS), so a test replays exactly.
    pub jitter_seed: Option<u64>,
}

impl RuntimeConfig {
    pub fn new(consumer: ConsumerConfig, dlq: DlqRouting) -> Self {
        Self {
            consumer,
            retry: RetryPolicy::default(),
            dlq,
            batch_size_max: 10,
            in_flight_messages_max: 1_000,
            poll_timeout_ms: 500,
            commit_interval_ms: 0,
            shutdown_drain_ms_max: 10_000,
            jitter_seed: None,
        }
    }

    fn validate(&self) -> Result<(), RuntimeError> {
        let bad = |key: &str, reason: &str| Err(RuntimeError::Config(format!("`{key}` {reason}")));
        if self.consumer.topics.is_empty() {
            return bad("consumer.topics", "is empty");
        }
        if self.batch_size_max == 0 {
            return bad("batch_size_max", "must be at least 1");
        }
        if self.in_flight_messages_max == 0 {
            return bad("in_flight_messages_max", "must be at least 1");
        }
        if self.retry.attempts_max == 0 {
            return bad("retry.attempts_max", "must be at least 1");
        }
        if self.retry.retry_delay_ms_base > self.retry.retry_delay_ms_max {
            return bad(
                "retry.retry_delay_ms_base",
                "exceeds retry.retry_delay_ms_max",
            );
        }
        for topic in &self.consumer.topics {
            match self.dlq.dlq_for(topic) {
                None => return Err(RuntimeError::NoDlq(topic.clone())),
                Some(dlq) if dlq == topic => {
                    return bad("dlq", "routes a topic to itself");
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

/// What a run left behind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RunSummary {
    pub stats: StatsSnapshot,
    /// Last committed position per partition still assigned at the end.
    pub committed: BTreeMap<TopicPartition, u64>,
    /// Fetched messages not finished at shutdown (redelivered to the next member).
    pub unfinished_messages: usize,
}

/// The consumer runtime of one group member. Build it, then [`ConsumerRuntime::run`].
pub struct ConsumerRuntime<H> {
    bus: Arc<dyn Bus>,
    config: RuntimeConfig,
    handler: H,
    stats: Arc<RuntimeStats>,
    position_store: Option<Arc<dyn PositionStore>>,
    clock: Arc<dyn Clock>,
}

impl<H: BatchHandler> ConsumerRuntime<H> {
    pub fn new(bus: Arc<dyn Bus>, config: RuntimeConfig, handler: H) -> Self {
        Self {
            bus,
            config,
            handler,
            stats: Arc::new(RuntimeStats::default()),
            position_store: None,
            clock: Arc::new(SystemClock),
        }
    }

    /// Seeks each newly assigned partition to the store's position and saves the
    /// committed watermark there too (the exactly-once hook's position side).
    pub fn with_position_store(mut self, store: Arc<dyn PositionStore>) -> Self {
        self.position_store = Some(store);
        self
    }

    /// The wall clock used for the DLQ failure times.
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Counters, readable while the runtime runs.
    pub fn stats(&self) -> Arc<RuntimeStats> {
        Arc::clone(&self.stats)
    }

    /// Runs until `shutdown` completes (then: stop fetching, finish in-flight within
    /// `shutdown_drain_ms_max`, commit, leave the group) or a bus error. A returned error
    /// loses nothing: unfinished messages are past the committed position.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<RunSummary, RuntimeError> {
        self.config.validate()?;
        for topic in &self.config.consumer.topics {
            if let Some(dlq) = self.config.dlq.dlq_for(topic) {
                self.bus.describe_topic(dlq).await.map_err(|error| {
                    RuntimeError::Config(format!("DLQ topic `{dlq}` of `{topic}`: {error}"))
                })?;
            }
        }
        let consumer = self.bus.consumer(self.config.consumer.clone()).await?;
        let rng = match self.config.jitter_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        };
        let mut state = Loop {
            rt: &self,
            consumer,
            partitions: BTreeMap::new(),
            rng,
            cursor: 0,
        };
        let result = state.run(shutdown).await;
        if result.is_err() {
            // Best effort: leave the group so the partitions move on at once.
            if let Err(error) = state.consumer.close().await {
                tracing::warn!(%error, "closing the consumer after an error");
            }
            self.stats.set_assignment([]);
        }
        result
    }
}

/// DLQ records bound for one DLQ topic, and the positions they finish.
type DlqBatch = (Vec<Record>, Vec<(TopicPartition, u64)>);

/// The mutable state of one run.
struct Loop<'a, H> {
    rt: &'a ConsumerRuntime<H>,
    consumer: Box<dyn Consumer>,
    partitions: BTreeMap<TopicPartition, PartitionState>,
    rng: StdRng,
    /// Rotates the partition handed work first, so none starves.
    cursor: usize,
}

impl<H: BatchHandler> Loop<'_, H> {
    async fn run(
        &mut self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<RunSummary, RuntimeError> {
        let config = &self.rt.config;
        let poll_timeout = Duration::from_millis(config.poll_timeout_ms);
        let commit_interval = Duration::from_millis(config.commit_interval_ms);
        let mut last_commit = Instant::now();
        let mut drain_deadline: Option<Instant> = None;
        let mut shutdown = std::pin::pin!(shutdown);

        loop {
            let now = Instant::now();
            let has_ready = self.partitions.values().any(|p| p.has_ready(now));
            let next_due = self
                .partitions
                .values()
                .filter_map(PartitionState::next_due)
                .min();
            match drain_deadline {
                None => {
                    let wait = if has_ready {
                        Duration::ZERO
                    } else {
                        next_due.map_or(poll_timeout, |due| {
                            due.saturating_duration_since(now).min(poll_timeout)
                        })
                    };
                    tokio::select! {
                        biased;
                        () = &mut shutdown => {
                            tracing::info!("shutdown: stop fetching, finishing in-flight messages");
                            drain_deadline = Some(now + Duration::from_millis(config.shutdown_drain_ms_max));
                        }
                        polled = self.consumer.poll(wait) => {
                            let messages = polled?;
                            self.ingest(messages).await?;
                        }
                    }
                }
                Some(deadline) => {
                    let unfinished: usize = self
                        .partitions
                        .values()
                        .map(PartitionState::in_flight)
                        .sum();
                    if unfinished == 0 || now >= deadline {
                        break;
                    }
                    if !has_ready {
                        match next_due {
                            Some(due) => tokio::time::sleep_until(due.min(deadline)).await,
                            // Unreachable by the lane invariant (every lane head is ready or
                            // delayed); stop rather than spin.
                            None => break,
                        }
                        continue;
                    }
                }
            }

            self.dispatch().await?;
            self.resume_paused().await?;
            self.update_gauges();
            if last_commit.elapsed() >= commit_interval {
                self.commit().await?;
                last_commit = Instant::now();
            }
        }

        self.commit().await?;
        let unfinished_messages = self
            .partitions
            .values()
            .map(PartitionState::in_flight)
            .sum();
        if unfinished_messages > 0 {
            tracing::warn!(
                unfinished_messages,
                "shutdown: drain time over; these will be redelivered"
            );
        }
        self.consumer.close().await?;
        self.rt.stats.set_assignment([]);
        self.update_gauges();
        Ok(RunSummary {
            stats: self.rt.stats.snapshot(),
            committed: self
                .partitions
                .iter()
                .filter_map(|(tp, p)| p.committed.map(|c| (tp.clone(), c)))
                .collect(),
            unfinished_messages,
        })
    }

    /// Follows the assignment, then takes in the polled messages.
    async fn ingest(&mut self, messages: Vec<Message>) -> Result<(), RuntimeError> {
        let assigned: BTreeSet<TopicPartition> = self.consumer.assignment().into_iter().collect();
        if !assigned.iter().eq(self.partitions.keys()) {
            self.rt.stats.set_assignment(assigned.iter().cloned());
        }
        self.partitions.retain(|tp, _| {
            let keep = assigned.contains(tp);
            if !keep {
                tracing::info!(topic = %tp.topic, partition = tp.partition, "partition revoked; its unfinished messages go to the new owner");
            }
            keep
        });
        let mut reseeked = BTreeSet::new();
        for tp in assigned {
            if self.partitions.contains_key(&tp) {
                continue;
            }
            if let Some(store) = &self.rt.position_store {
                let position = store
                    .load_position(&self.rt.config.consumer.group, &tp)
                    .await
                    .map_err(RuntimeError::Store)?;
                if let Some(offset) = position {
                    self.consumer.seek(&tp, offset).await?;
                    reseeked.insert(tp.clone());
                }
            }
            self.partitions.insert(tp, PartitionState::default());
        }
        let in_flight_max = self.rt.config.in_flight_messages_max;
        let mut accepted = 0u64;
        for message in messages {
            let tp = message.topic_partition();
            if reseeked.contains(&tp) {
                continue;
            }
            let Some(partition) = self.partitions.get_mut(&tp) else {
                tracing::debug!(topic = %tp.topic, partition = tp.partition, "message of an unassigned partition dropped");
                continue;
            };
            if partition.offer(message, in_flight_max) == Offer::Accepted {
                accepted += 1;
            }
        }
        self.rt.stats.add_fetched(accepted);
        Ok(())
    }

    /// Hands one batch of ready messages to the handler and acts on the outcomes; produces
    /// due DLQ records.
    async fn dispatch(&mut self) -> Result<(), RuntimeError> {
        let config = &self.rt.config;
        let now = Instant::now();
        let mut taken: Vec<(TopicPartition, u64)> = Vec::new();
        let count = self.partitions.len();
        if count == 0 {
            return Ok(());
        }
        let keys: Vec<TopicPartition> = self.partitions.keys().cloned().collect();
        self.cursor = (self.cursor + 1) % count;
        let mut offsets = Vec::new();
        for i in 0..count {
            let tp = &keys[(self.cursor + i) % count];
            if taken.len() >= config.batch_size_max {
                break;
            }
            if let Some(partition) = self.partitions.get_mut(tp) {
                offsets.clear();
                partition.take_ready(now, config.batch_size_max - taken.len(), &mut offsets);
                taken.extend(offsets.iter().map(|o| (tp.clone(), *o)));
            }
        }
        if taken.is_empty() {
            return Ok(());
        }

        // Split: dead messages waiting for their DLQ produce, live ones for the handler.
        let mut dead: Vec<(TopicPartition, u64)> = Vec::new();
        let mut live: Vec<(TopicPartition, u64)> = Vec::new();
        let mut batch: Vec<Message> = Vec::new();
        for (tp, offset) in taken {
            let Some(entry) = self
                .partitions
                .get_mut(&tp)
                .and_then(|p| p.entry_mut(offset))
            else {
                continue;
            };
            if entry.dead {
                dead.push((tp, offset));
                continue;
            }
            let Some(mut message) = entry.message.take() else {
                continue;
            };
            if entry.failures > 0 {
                message.headers.retain(|(name, _)| name != headers::ATTEMPT);
                message.headers.push((
                    headers::ATTEMPT.to_owned(),
                    (entry.failures + 1).to_string().into_bytes(),
                ));
            }
            batch.push(message);
            live.push((tp, offset));
        }

        if !batch.is_empty() {
            let outcomes = match AssertUnwindSafe(self.rt.handler.handle(&batch))
                .catch_unwind()
                .await
            {
                Ok(outcomes) => outcomes,
                Err(panic) => {
                    self.rt.stats.add_panic();
                    let reason = panic_reason(panic.as_ref());
                    tracing::error!(%reason, "batch handler panicked; the batch will be retried");
                    vec![Outcome::Retry(reason); batch.len()]
                }
            };
            if outcomes.len() != batch.len() {
                tracing::error!(
                    outcomes = outcomes.len(),
                    messages = batch.len(),
                    "handler returned a wrong number of outcomes; the missing ones count as Retry"
                );
            }
            let mut outcomes = outcomes.into_iter();
            let now_ms = self.rt.clock.now_ms();
            let mut done = 0u64;
            for ((tp, offset), message) in live.into_iter().zip(batch) {
                let outcome = outcomes.next().unwrap_or_else(|| {
                    Outcome::retry("handler returned no outcome for this message")
                });
                let Some(partition) = self.partitions.get_mut(&tp) else {
                    continue;
                };
                let Some(entry) = partition.entry_mut(offset) else {
                    continue;
                };
                entry.message = Some(message);
                match outcome {
                    Outcome::Done => {
                        partition.finish(offset);
                        done += 1;
                    }
                    Outcome::Retry(reason) => {
                        entry.record_failure(reason, now_ms);
                        if config.retry.exhausted(entry.failures) {
                            entry.dead = true;
                            dead.push((tp, offset));
                        } else {
                            let delay = config.retry.delay(entry.failures, &mut self.rng);
                            self.rt.stats.add_retry();
                            partition.delay(offset, Instant::now() + delay);
                        }
                    }
                    Outcome::Reject(reason) => {
                        entry.record_failure(reason, now_ms);
                        entry.dead = true;
                        self.rt.stats.add_rejected();
                        dead.push((tp, offset));
                    }
                }
            }
            self.rt.stats.add_done(done);
        }

        if !dead.is_empty() {
            self.dead_letter(dead).await;
        }
        Ok(())
    }

    /// Produces the DLQ records of `dead` (durable before their offsets can be committed),
    /// then finishes them. A failed produce is tried again after a backoff: nothing is
    /// committed past a message until its DLQ record is durable.
    async fn dead_letter(&mut self, dead: Vec<(TopicPartition, u64)>) {
        let group = &self.rt.config.consumer.group;
        let mut by_dlq: BTreeMap<String, DlqBatch> = BTreeMap::new();
        for (tp, offset) in dead {
            let Some(entry) = self
                .partitions
                .get_mut(&tp)
                .and_then(|p| p.entry_mut(offset))
            else {
                continue;
            };
            let Some(message) = entry.message.as_ref() else {
                continue;
            };
            // Validated at start: every consumed topic has a DLQ.
            let Some(dlq) = self.rt.config.dlq.dlq_for(&tp.topic) else {
                continue;
            };
            let now_ms = self.rt.clock.now_ms();
            let failure = Failure {
                error: entry.last_error.clone().unwrap_or_default(),
                attempts: entry.failures,
                first_failure_ms: entry.first_failure_ms.unwrap_or(now_ms),
                last_failure_ms: entry.last_failure_ms.unwrap_or(now_ms),
            };
            let slot = by_dlq.entry(dlq.to_owned()).or_default();
            slot.0.push(dead_letter_record(message, group, &failure));
            slot.1.push((tp, offset));
        }
        for (dlq, (records, positions)) in by_dlq {
            match self.rt.bus.produce(&dlq, records).await {
                Ok(_) => {
                    self.rt.stats.add_dead_lettered(positions.len() as u64);
                    for (tp, offset) in positions {
                        tracing::warn!(topic = %tp.topic, partition = tp.partition, offset, dlq = %dlq, "message dead-lettered");
                        if let Some(partition) = self.partitions.get_mut(&tp) {
                            partition.finish(offset);
                        }
                    }
                }
                Err(error) => {
                    tracing::error!(%error, dlq = %dlq, "DLQ produce failed; will try again");
                    let delay =
                        Duration::from_millis(self.rt.config.retry.retry_delay_ms_max.max(1));
                    for (tp, offset) in positions {
                        if let Some(partition) = self.partitions.get_mut(&tp) {
                            partition.delay(offset, Instant::now() + delay);
                        }
                    }
                }
            }
        }
    }

    /// Seeks paused partitions back to where they dropped messages, once there is room.
    async fn resume_paused(&mut self) -> Result<(), RuntimeError> {
        let in_flight_max = self.rt.config.in_flight_messages_max;
        let mut seeks = Vec::new();
        for (tp, partition) in &mut self.partitions {
            if let Some(offset) = partition.take_resume(in_flight_max) {
                seeks.push((tp.clone(), offset));
            }
        }
        for (tp, offset) in seeks {
            self.consumer.seek(&tp, offset).await?;
        }
        Ok(())
    }

    /// Commits each partition's watermark that moved.
    async fn commit(&mut self) -> Result<(), RuntimeError> {
        let positions: BTreeMap<TopicPartition, u64> = self
            .partitions
            .iter()
            .filter_map(|(tp, p)| match p.watermark() {
                Some(w) if p.committed != Some(w) => Some((tp.clone(), w)),
                _ => None,
            })
            .collect();
        if positions.is_empty() {
            return Ok(());
        }
        match self.consumer.commit(&positions).await {
            Ok(()) => {}
            Err(BusError::NotAssigned { group, partition }) => {
                // A rebalance took a partition away; the next poll updates the assignment,
                // and the new owner redelivers what was not committed.
                tracing::info!(%group, partition, "commit after a rebalance; skipped");
                return Ok(());
            }
            Err(error @ (BusError::Io { .. } | BusError::DiskFull { .. })) => {
                // A full or failing disk must not stop the consumer (and with it the
                // process): what is applied stays applied, and the same positions are
                // committed again at the next tick (a crash meanwhile only redelivers).
                tracing::warn!(%error, "commit failed; will try again");
                return Ok(());
            }
            Err(error) => return Err(error.into()),
        }
        self.rt.stats.add_commit();
        for (tp, offset) in &positions {
            if let Some(p) = self.partitions.get_mut(tp) {
                p.committed = Some(*offset);
            }
        }
        if let Some(store) = &self.rt.position_store {
            store
                .save_positions(&self.rt.config.consumer.group, &positions)
                .await
                .map_err(RuntimeError::Store)?;
        }
        Ok(())
    }

    fn update_gauges(&self) {
        let in_flight = self
            .partitions
            .values()
            .map(PartitionState::in_flight)
            .sum::<usize>();
        let in_retry = self
            .partitions
            .values()
            .map(PartitionState::in_retry)
            .sum::<usize>();
        self.rt.stats.set_gauges(in_flight as u64, in_retry as u64);
    }
}
