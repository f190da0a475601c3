//! Inspecting and redriving an SQS DLQ (X-04, `docs/adr/026-aws-profile.md` §3).
//!
//! - [`SqsQueues::list_dead_letters`]: receives up to `limit` messages with a 30 s
//!   visibility, then makes them visible again at once (visibility 0): a look, not a take.
//!   [`SqsQueues::dead_letter_depth`]: SQS's approximate counts, visible and in flight.
//! - [`SqsQueues::redrive`]: SQS's own `StartMessageMoveTask` where the endpoint has it
//!   (AWS), waited for until it completes; where it answers that it lacks the action
//!   (emulators: `InvalidAction`, `UnsupportedOperation`, …), edalab's copy:
//!   receive (60 s visibility) → send to the source queue (from
//!   `DeadLetterQueueSourceArn`, else the DLQ's name without `-dlq`), keeping the message's
//!   attributes and adding `edalab-origin-message-id` → delete from the DLQ, at most `rate`
//!   per second. Sent before deleted, so a kill loses nothing; a kill between the two leaves
//!   a second copy with the same origin id, which the handlers take as a redelivery. A
//!   message that fails again and is back in the DLQ during the run ends it (no loop).

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::{
    Message, MessageAttributeValue, MessageSystemAttributeName, QueueAttributeName,
};
use edalab_bus::BusError;

use crate::SqsQueues;
use crate::message::{ATTRIBUTES_MAX, ORIGIN_ID_ATTRIBUTE, string_attribute};

/// A message in an SQS DLQ, as listed.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct SqsDeadLetter {
    pub message_id: String,
    /// The first `MessageId` of the message (before any redrive).
    pub origin_message_id: String,
    /// The queue it failed on (from `DeadLetterQueueSourceArn`), when SQS says.
    pub source_queue: Option<String>,
    /// Receives counted since it entered the DLQ or was last listed.
    pub receive_count: u32,
    pub sent_timestamp_ms: u64,
    pub body: String,
    /// Its string attributes (the record's key and headers).
    pub attributes: HashMap<String, String>,
}

/// What a redrive did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SqsRedriveReport {
    pub moved: u64,
    /// Per source queue.
    pub moved_to: HashMap<String, u64>,
}

/// How long a listed message stays hidden while the listing goes on.
const LIST_VISIBILITY_SECONDS: i32 = 30;
/// How long a message being redriven stays hidden (send and delete take far less).
const REDRIVE_VISIBILITY_SECONDS: i32 = 60;
/// `StartMessageMoveTask`'s highest `MaxNumberOfMessagesPerSecond`.
const MOVE_TASK_RATE_MAX: u32 = 500;
/// How often a running move task is looked at.
const MOVE_TASK_POLL: Duration = Duration::from_secs(1);
/// Error codes by which an endpoint says it has no message move tasks.
const MOVE_TASK_MISSING: [&str; 4] = [
    "InvalidAction",
    "UnsupportedOperation",
    "UnknownOperationException",
    "NotImplemented",
];

impl SqsQueues {
    async fn receive_dead(
        &self,
        url: &str,
        max: usize,
        visibility: i32,
    ) -> Result<Vec<Message>, BusError> {
        let received = self
            .client()
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(max.clamp(1, 10) as i32)
            .visibility_timeout(visibility)
            .wait_time_seconds(1)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names("All")
            .send()
            .await
            .map_err(|e| {
                BusError::Backend(format!("SQS ReceiveMessage: {}", DisplayErrorContext(e)))
            })?;
        Ok(received.messages().to_vec())
    }

    /// Up to `limit` messages of DLQ `dlq`, left in it (visible again once listed).
    pub async fn list_dead_letters(
        &self,
        dlq: &str,
        limit: usize,
    ) -> Result<Vec<SqsDeadLetter>, BusError> {
        let url = self.url(dlq).await?;
        let mut listed: Vec<Message> = Vec::new();
        while listed.len() < limit {
            let batch = self
                .receive_dead(&url, limit - listed.len(), LIST_VISIBILITY_SECONDS)
                .await?;
            if batch.is_empty() {
                break;
            }
            listed.extend(batch);
        }
        self.release(&url, &listed).await;
        Ok(listed.iter().map(dead_letter).collect())
    }

    /// Messages in DLQ `dlq`, visible or in flight (SQS's approximate counts).
    pub async fn dead_letter_depth(&self, dlq: &str) -> Result<u64, BusError> {
        let url = self.url(dlq).await?;
        let attributes = self.attributes(dlq, &url).await?;
        let count = |name: QueueAttributeName| {
            attributes
                .get(&name)
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(count(QueueAttributeName::ApproximateNumberOfMessages)
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }

    /// Moves every message of DLQ `dlq` back to the queue it failed on, at most
    /// `rate_per_second` a second: by SQS's own move task where the endpoint has one, else
    /// by [`SqsQueues::redrive_by_copy`].
    pub async fn redrive(
        &self,
        dlq: &str,
        rate_per_second: u32,
    ) -> Result<SqsRedriveReport, BusError> {
        match self.move_task(dlq, rate_per_second).await? {
            Some(report) => Ok(report),
            None => self.redrive_by_copy(dlq, rate_per_second).await,
        }
    }

    /// `StartMessageMoveTask` from `dlq` to the queues its messages came from, waited for;
    /// `None` when the endpoint has no such action. `moved_to` stays empty (SQS does not
    /// say which source got how many).
    async fn move_task(
        &self,
        dlq: &str,
        rate_per_second: u32,
    ) -> Result<Option<SqsRedriveReport>, BusError> {
        let arn = self.queue_arn(dlq).await?;
        let rate = rate_per_second.clamp(1, MOVE_TASK_RATE_MAX);
        let started = self
            .client()
            .start_message_move_task()
            .source_arn(&arn)
            .max_number_of_messages_per_second(i32::try_from(rate).unwrap_or(1))
            .send()
            .await;
        if let Err(error) = started {
            if error.code().is_some_and(|c| MOVE_TASK_MISSING.contains(&c)) {
                tracing::debug!(dlq, code = ?error.code(), "no StartMessageMoveTask here: copying");
                return Ok(None);
            }
            return Err(move_task_error("StartMessageMoveTask", dlq, error));
        }
        loop {
            tokio::time::sleep(MOVE_TASK_POLL).await;
            let listed = self
                .client()
                .list_message_move_tasks()
                .source_arn(&arn)
                .max_results(1)
                .send()
                .await
                .map_err(|e| move_task_error("ListMessageMoveTasks", dlq, e))?;
            // Most recent first: ours, as one task at a time runs per source.
            let Some(task) = listed.results().first() else {
                continue;
            };
            let moved = u64::try_from(task.approximate_number_of_messages_moved()).unwrap_or(0);
            match task.status() {
                Some("COMPLETED") => {
                    return Ok(Some(SqsRedriveReport {
                        moved,
                        moved_to: HashMap::new(),
                    }));
                }
                Some(status @ ("FAILED" | "CANCELLED")) => {
                    return Err(BusError::Backend(format!(
                        "SQS message move task from `{dlq}` {status} after {moved} messages: {}",
                        task.failure_reason().unwrap_or("no reason given")
                    )));
                }
                _ => {}
            }
        }
    }

    /// edalab's redrive, where SQS's move task is missing: receive → send → delete, at most
    /// `rate_per_second` a second; stops when a receive finds none, or finds a message this
    /// run already moved (it failed again and came back: it is left in the DLQ, visible).
    pub async fn redrive_by_copy(
        &self,
        dlq: &str,
        rate_per_second: u32,
    ) -> Result<SqsRedriveReport, BusError> {
        let url = self.url(dlq).await?;
        let pause = Duration::from_secs(1) / rate_per_second.max(1);
        let mut report = SqsRedriveReport::default();
        let mut moved = HashSet::new();
        loop {
            let batch = self
                .receive_dead(&url, 10, REDRIVE_VISIBILITY_SECONDS)
                .await?;
            if batch.is_empty() {
                return Ok(report);
            }
            let (again, new): (Vec<&Message>, Vec<&Message>) = batch
                .iter()
                .partition(|m| moved.contains(&dead_letter(m).origin_message_id));
            for message in new {
                let started = tokio::time::Instant::now();
                let source = self.move_back(dlq, &url, message).await?;
                moved.insert(dead_letter(message).origin_message_id);
                report.moved += 1;
                *report.moved_to.entry(source).or_default() += 1;
                tokio::time::sleep_until(started + pause).await;
            }
            if !again.is_empty() {
                self.release(&url, again).await;
                return Ok(report);
            }
        }
    }

    /// Makes `messages` visible again at once (best effort: a failure only delays them by
    /// their visibility timeout).
    async fn release(&self, url: &str, messages: impl IntoIterator<Item = &Message>) {
        for handle in messages.into_iter().filter_map(Message::receipt_handle) {
            let _ = self
                .client()
                .change_message_visibility()
                .queue_url(url)
                .receipt_handle(handle)
                .visibility_timeout(0)
                .send()
                .await;
        }
    }

    /// Sends `message` to its source queue, then deletes it from the DLQ at `dlq_url`.
    async fn move_back(
        &self,
        dlq: &str,
        dlq_url: &str,
        message: &Message,
    ) -> Result<String, BusError> {
        let letter = dead_letter(message);
        let source = letter
            .source_queue
            .clone()
            .or_else(|| dlq.strip_suffix("-dlq").map(str::to_owned))
            .ok_or_else(|| {
                BusError::Backend(format!(
                    "DLQ `{dlq}`: message {} names no source queue",
                    letter.message_id
                ))
            })?;
        let source_url = self.url(&source).await?;
        let mut send = self
            .client()
            .send_message()
            .queue_url(&source_url)
            .message_body(&letter.body)
            .set_message_attributes(Some(attributes_of(message)));
        let has_origin = letter.attributes.contains_key(ORIGIN_ID_ATTRIBUTE);
        if !has_origin && letter.attributes.len() < ATTRIBUTES_MAX {
            send = send.message_attributes(
                ORIGIN_ID_ATTRIBUTE,
                string_attribute(letter.origin_message_id.clone())?,
            );
        }
        send.send().await.map_err(|e| {
            BusError::Backend(format!(
                "SQS SendMessage to `{source}` (redriving {}): {}",
                letter.message_id,
                DisplayErrorContext(e)
            ))
        })?;
        let handle = message.receipt_handle().unwrap_or_default();
        self.client()
            .delete_message()
            .queue_url(dlq_url)
            .receipt_handle(handle)
            .send()
            .await
            .map_err(|e| {
                BusError::Backend(format!(
                    "SQS DeleteMessage from `{dlq}` (sent to `{source}` already): {}",
                    DisplayErrorContext(e)
                ))
            })?;
        Ok(source)
    }
}

fn move_task_error<E>(operation: &str, dlq: &str, error: E) -> BusError
where
    E: std::error::Error + Send + Sync + 'static,
{
    BusError::Backend(format!(
        "SQS {operation} on DLQ `{dlq}`: {}",
        DisplayErrorContext(error)
    ))
}

fn attributes_of(message: &Message) -> HashMap<String, MessageAttributeValue> {
    message.message_attributes().cloned().unwrap_or_default()
}

fn dead_letter(message: &Message) -> SqsDeadLetter {
    let system =
        |name: MessageSystemAttributeName| message.attributes().and_then(|a| a.get(&name)).cloned();
    let attributes: HashMap<String, String> = attributes_of(message)
        .into_iter()
        .filter_map(|(name, value)| Some((name, value.string_value()?.to_owned())))
        .collect();
    let message_id = message.message_id().unwrap_or_default().to_owned();
    SqsDeadLetter {
        origin_message_id: attributes
            .get(ORIGIN_ID_ATTRIBUTE)
            .cloned()
            .unwrap_or_else(|| message_id.clone()),
        message_id,
        source_queue: system(MessageSystemAttributeName::DeadLetterQueueSourceArn)
            .and_then(|arn| arn.rsplit(':').next().map(str::to_owned)),
        receive_count: system(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        sent_timestamp_ms: system(MessageSystemAttributeName::SentTimestamp)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0),
        body: message.body().unwrap_or_default().to_owned(),
        attributes,
    }
}
