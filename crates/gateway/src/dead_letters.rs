//! The port behind the DLQ routes (`crate::dlq`): where dead letters live depends on the
//! profile — DLQ topics of the log (every profile), SQS queues with a redrive policy (the
//! `aws` profile's queue-shaped channels). The HTTP layer checks its input and serialises;
//! a [`DeadLetters`] lists, reads and redrives.
//!
//! [`LogDeadLetters`] is the log's: a thin layer over the consumer runtime's DLQ code
//! (`edalab_bus::runtime::{dlq, redrive}`), the same functions as `edalab dlq list|redrive`.
//! A topic is a DLQ by its name (`*.dlq`, `*-dlq`), the rule of the `edalab_dlq_depth`
//! gauge. Listings run one at a time (they share the runtime's inspection consumer group,
//! and two members would split its partitions between them).

use async_trait::async_trait;
use edalab_bus::port::{Bus, BusError};
use edalab_bus::runtime::{
    RedriveFilter, RuntimeError, list_pending, pending_depth, redrive as redrive_log,
};
use std::sync::Arc;
use tokio::sync::Mutex;

use crate::dlq::{DlqMessage, DlqMessages, DlqTopic, InvalidDlqMessage, RedriveResult};
use crate::error::ApiError;
use crate::telemetry::metrics::is_dlq_topic;

/// Where the dead letters are: list, read, redrive.
#[async_trait]
pub trait DeadLetters: Send + Sync {
    /// Every DLQ with its depth, by name.
    async fn dlqs(&self) -> Result<Vec<DlqTopic>, ApiError>;
    /// Up to `limit` messages of `dlq` a redrive has not moved yet, with their reasons;
    /// 404 when there is no such DLQ, 400 when `dlq` names something that is not one.
    async fn messages(&self, dlq: &str, limit: usize) -> Result<DlqMessages, ApiError>;
    /// Checks `dlq` as [`DeadLetters::messages`] does, before a redrive is started.
    async fn check(&self, dlq: &str) -> Result<(), ApiError>;
    /// Moves `dlq`'s messages back to where they failed, at most `rate` a second.
    async fn redrive(&self, dlq: &str, rate: u32) -> Result<RedriveResult, ApiError>;
}

/// One listing at a time (they share the inspection group).
static LISTING: Mutex<()> = Mutex::const_new(());

/// The DLQ topics of a log.
pub struct LogDeadLetters {
    bus: Arc<dyn Bus>,
}

impl LogDeadLetters {
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        Self { bus }
    }

    /// 404 when `topic` does not exist, 400 when it is not a DLQ; its partition count
    /// otherwise.
    async fn partitions(&self, topic: &str) -> Result<u32, ApiError> {
        let description = self.bus.describe_topic(topic).await.map_err(bus_error)?;
        if !is_dlq_topic(topic) {
            return Err(ApiError::bad_request(format!(
                "`{topic}` is not a dead-letter topic (DLQ names end in `.dlq` or `-dlq`)"
            ))
            .with_detail("topic", "not a dead-letter topic"));
        }
        Ok(u32::try_from(description.partitions.len()).unwrap_or(u32::MAX))
    }
}

pub(crate) fn bus_error(error: BusError) -> ApiError {
    match error {
        BusError::UnknownTopic(topic) => ApiError::not_found(format!("unknown topic `{topic}`"))
            .with_detail("topic", "no such topic"),
        other => ApiError::unavailable(format!("the bus refused: {other}")),
    }
}

fn runtime_error(error: RuntimeError) -> ApiError {
    match error {
        RuntimeError::Bus(error) => bus_error(error),
        other => ApiError::internal(other.to_string()),
    }
}

#[async_trait]
impl DeadLetters for LogDeadLetters {
    async fn dlqs(&self) -> Result<Vec<DlqTopic>, ApiError> {
        let mut topics = self.bus.list_topics().await.map_err(bus_error)?;
        topics.retain(|t| is_dlq_topic(t));
        topics.sort();
        let mut dlqs = Vec::with_capacity(topics.len());
        for topic in topics {
            let partitions = match self.bus.describe_topic(&topic).await {
                Ok(description) => u32::try_from(description.partitions.len()).ok(),
                // Deleted between the two calls.
                Err(BusError::UnknownTopic(_)) => continue,
                Err(error) => return Err(bus_error(error)),
            };
            let depth = pending_depth(self.bus.as_ref(), &topic)
                .await
                .map_err(runtime_error)?;
            dlqs.push(DlqTopic {
                topic,
                depth,
                partitions,
                backend: DlqTopic::LOG.to_owned(),
            });
        }
        Ok(dlqs)
    }

    async fn messages(&self, topic: &str, limit: usize) -> Result<DlqMessages, ApiError> {
        self.partitions(topic).await?;
        let _one_at_a_time = LISTING.lock().await;
        let bus = self.bus.as_ref();
        let depth = pending_depth(bus, topic).await.map_err(runtime_error)?;
        let entries = list_pending(bus, topic, limit)
            .await
            .map_err(runtime_error)?;
        let mut messages = Vec::with_capacity(entries.len());
        let mut invalid = Vec::new();
        for entry in entries {
            match entry {
                Ok(entry) => messages.push(DlqMessage::from(&entry)),
                Err(error) => invalid.push(InvalidDlqMessage {
                    partition: error.partition,
                    offset: error.offset,
                    reason: error.to_string(),
                }),
            }
        }
        Ok(DlqMessages {
            topic: topic.to_owned(),
            depth,
            messages,
            invalid,
        })
    }

    async fn check(&self, topic: &str) -> Result<(), ApiError> {
        self.partitions(topic).await.map(drop)
    }

    async fn redrive(&self, topic: &str, rate: u32) -> Result<RedriveResult, ApiError> {
        redrive_log(self.bus.as_ref(), topic, &RedriveFilter::all(), rate)
            .await
            .map(RedriveResult::from)
            .map_err(runtime_error)
    }
}
