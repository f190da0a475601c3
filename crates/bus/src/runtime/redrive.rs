//! Redrive (X-04, SQS `StartMessageMoveTask`): move DLQ messages back to their origin
//! topic at a bounded rate, attempts reset.
//!
//! A DLQ is a log, so "moving" is: produce the original record to its origin topic, then
//! commit the DLQ position in a redrive consumer group, `edalab.redrive.<dlq>` (or
//! `edalab.redrive.<dlq>.<origin>` when only one origin topic is redriven). A re-run starts
//! after what an earlier run finished, so the same DLQ message is not sent twice. The
//! produce is durable before the commit, so a crash mid-redrive can resend (at least once,
//! never lost); consumers that use the exactly-once hook skip the duplicate by `event_id`.
//!
//! A redrive reads the DLQ up to the end it had when it started: messages that fail again
//! and land in the DLQ during the redrive wait for the next one.
//!
//! So a DLQ's **depth** — what the REST API, the UI and `edalab_dlq_depth` show — is what a
//! whole-DLQ redrive has not moved yet: from the group `edalab.redrive.<dlq>`'s position
//! (or the log start) to the end ([`pending_depth`], [`list_pending`]). The messages stay
//! in the log until retention removes them (`dlq::list` still shows them).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use crate::port::{Admin, Bus, Record, TopicPartition};

use super::RuntimeError;
use super::dlq::{
    DlqEntry, DlqParseError, INSPECT_GROUP, TopicScan, collect, committed_positions, redrive_record,
};

/// Which DLQ messages to redrive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedriveFilter {
    /// Only messages that came from this topic.
    pub origin_topic: Option<String>,
    /// Only these DLQ positions `(partition, offset)`. An explicit list is not recorded in
    /// a redrive group: asking again sends them again.
    pub dlq_positions: Option<Vec<(u32, u64)>>,
}

impl RedriveFilter {
    pub fn all() -> Self {
        Self::default()
    }

    pub fn origin(topic: impl Into<String>) -> Self {
        Self {
            origin_topic: Some(topic.into()),
            dlq_positions: None,
        }
    }

    fn matches(&self, entry: &DlqEntry) -> bool {
        let origin_ok = self
            .origin_topic
            .as_ref()
            .is_none_or(|topic| *topic == entry.origin_topic);
        let position_ok = self
            .dlq_positions
            .as_ref()
            .is_none_or(|positions| positions.contains(&(entry.dlq_partition, entry.dlq_offset)));
        origin_ok && position_ok
    }
}

/// What a redrive did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RedriveReport {
    /// DLQ messages read.
    pub scanned: u64,
    /// Produced back to their origin topic.
    pub redriven: u64,
    /// Left alone: not matching the filter.
    pub skipped: u64,
    /// Left alone: not a DLQ message (missing or garbled `dlq.*` headers).
    pub invalid: u64,
}

/// The consumer group that records what was redriven from `dlq_topic` under `filter`.
pub fn redrive_group(dlq_topic: &str, filter: &RedriveFilter) -> String {
    match (&filter.dlq_positions, &filter.origin_topic) {
        (Some(_), _) => INSPECT_GROUP.to_owned(),
        (None, Some(origin)) => format!("edalab.redrive.{dlq_topic}.{origin}"),
        (None, None) => format!("edalab.redrive.{dlq_topic}"),
    }
}

/// How many messages of `dlq_topic` a whole-DLQ redrive has not moved yet (summed over
/// partitions, from the redrive group's position or the log start to the end).
pub async fn pending_depth(admin: &dyn Admin, dlq_topic: &str) -> Result<u64, RuntimeError> {
    let description = admin.describe_topic(dlq_topic).await?;
    let redriven = committed_positions(
        admin,
        &redrive_group(dlq_topic, &RedriveFilter::all()),
        dlq_topic,
    )
    .await?;
    Ok(description
        .partitions
        .iter()
        .map(|info| {
            let start = redriven
                .get(&info.partition)
                .copied()
                .unwrap_or(0)
                .max(info.log_start_offset);
            info.high_watermark.saturating_sub(start)
        })
        .sum())
}

/// Up to `limit` messages of `dlq_topic` that a whole-DLQ redrive has not moved yet, oldest
/// first per partition, each parsed (or why it could not be). Reads in the inspection
/// group, which never commits, from the redrive group's positions.
pub async fn list_pending(
    bus: &dyn Bus,
    dlq_topic: &str,
    limit: usize,
) -> Result<Vec<Result<DlqEntry, DlqParseError>>, RuntimeError> {
    let starts = committed_positions(
        bus,
        &redrive_group(dlq_topic, &RedriveFilter::all()),
        dlq_topic,
    )
    .await?;
    let scan = TopicScan::open_at(bus, dlq_topic, INSPECT_GROUP, &starts).await?;
    collect(scan, limit).await
}

/// Moves the DLQ messages of `dlq_topic` matching `filter` back to their origin topics, at
/// most `rate_per_second_max` per second (at least 1; paced, see `RateLimiter`), and
/// returns the counts.
pub async fn redrive(
    bus: &dyn Bus,
    dlq_topic: &str,
    filter: &RedriveFilter,
    rate_per_second_max: u32,
) -> Result<RedriveReport, RuntimeError> {
    let rate = u64::from(rate_per_second_max.max(1));
    let group = redrive_group(dlq_topic, filter);
    let records_group = filter.dlq_positions.is_none();
    let mut scan = TopicScan::open(bus, dlq_topic, &group).await?;
    let mut report = RedriveReport::default();
    let mut limiter = RateLimiter::new(rate);
    // Records waiting to be produced, and the DLQ positions that become committable once
    // they are durable.
    let mut pending: Vec<(String, Record)> = Vec::new();
    let mut positions: BTreeMap<TopicPartition, u64> = BTreeMap::new();

    while let Some(batch) = scan.next_batch().await? {
        for message in batch {
            report.scanned += 1;
            positions.insert(message.topic_partition(), message.offset + 1);
            match DlqEntry::parse(&message) {
                Err(error) => {
                    tracing::warn!(%error, "redrive: skipping a message that is not a DLQ entry");
                    report.invalid += 1;
                }
                Ok(entry) if !filter.matches(&entry) => report.skipped += 1,
                Ok(entry) => {
                    pending.push((entry.origin_topic.clone(), redrive_record(&entry)));
                    if pending.len() as u64 >= limiter.allowance() {
                        report.redriven += flush(bus, &mut pending, &mut limiter).await?;
                        if records_group {
                            scan.commit(&positions).await?;
                        }
                        positions.clear();
                    }
                }
            }
        }
        report.redriven += flush(bus, &mut pending, &mut limiter).await?;
        if records_group {
            scan.commit(&positions).await?;
        }
        positions.clear();
    }
    scan.close().await?;
    Ok(report)
}

/// Produces `pending` (grouped by topic, order kept within each) once the rate allows.
async fn flush(
    bus: &dyn Bus,
    pending: &mut Vec<(String, Record)>,
    limiter: &mut RateLimiter,
) -> Result<u64, RuntimeError> {
    if pending.is_empty() {
        return Ok(0);
    }
    limiter.acquire(pending.len() as u64).await;
    let mut by_topic: BTreeMap<String, Vec<Record>> = BTreeMap::new();
    for (topic, record) in pending.drain(..) {
        by_topic.entry(topic).or_default().push(record);
    }
    let mut produced = 0;
    for (topic, records) in by_topic {
        produced += bus.produce(&topic, records).await?.len() as u64;
    }
    Ok(produced)
}

/// Paces sends: the k-th message (from 0) goes no earlier than `k / rate` seconds after the
/// start, in chunks of a tenth of the rate, so any interval of `t` seconds carries at most
/// `rate * t + chunk` messages.
struct RateLimiter {
    rate: u64,
    start: Instant,
    sent_total: u64,
}

impl RateLimiter {
    fn new(rate: u64) -> Self {
        Self {
            rate: rate.max(1),
            start: Instant::now(),
            sent_total: 0,
        }
    }

    /// How many messages to gather before sending them together.
    fn allowance(&self) -> u64 {
        self.rate.div_ceil(10)
    }

    /// Waits until the next `count` messages may be sent, and counts them.
    async fn acquire(&mut self, count: u64) {
        let due = self.start + Duration::from_secs_f64(self.sent_total as f64 / self.rate as f64);
        tokio::time::sleep_until(due).await;
        self.sent_total += count;
    }
}
