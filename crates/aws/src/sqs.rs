//! [`SqsQueues`]: the queue port over SQS (`docs/adr/026-aws-profile.md` §2–§3).
//!
//! - `ensure` first compares what exists of the queue and its DLQ with the spec, setting by
//!   setting ([`SqsQueues::check`]), so that a difference is named with what was found and
//!   what was wanted ([`BusError::QueueConfigMismatch`]) before anything is created or
//!   changed; then it creates the DLQ, then the queue with its redrive policy
//!   (`deadLetterTargetArn`, `maxReceiveCount`). An existing queue is never re-created.
//! - `send` checks every record first ([`crate::message::outgoing`]), then sends batches of 10.
//! - `consume` runs an [`SqsWorker`].
//!
//! Queue URLs are looked up once per name and cached.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_sqs::types::QueueAttributeName;
use edalab_bus::queue::{Consuming, Shutdown};
use edalab_bus::runtime::RuntimeError;
use edalab_bus::{BusError, DeadLetterSpec, QueueConsumer, QueueSpec, Queues, Record};

use crate::dynamo::DeadLetterReasons;
use crate::message::{batch_entry, outgoing};
use crate::settle::BATCH_ENTRIES_MAX;
use crate::worker::{SqsWorker, WorkerSettings};

/// Queues on SQS (or an emulator of it).
#[derive(Clone)]
pub struct SqsQueues {
    client: aws_sdk_sqs::Client,
    urls: Arc<Mutex<HashMap<String, String>>>,
    /// The DLQs `ensure` made or found, by name (for the DLQ routes).
    dead_letter_queues: Arc<Mutex<BTreeSet<String>>>,
    /// The queues consumed through this value: `(queue, consumer group)`, for the lag gauge.
    consumed: Arc<Mutex<BTreeSet<(String, String)>>>,
    /// Where workers record why a message was dead-lettered (SQS keeps no reason).
    reasons: Option<DeadLetterReasons>,
    worker: WorkerSettings,
}

/// The settings `ensure` sets and compares on one queue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Wanted {
    /// `None`: not checked (a DLQ keeps SQS's default).
    pub visibility_timeout_seconds: Option<u32>,
    pub retention_seconds: u32,
    /// `(deadLetterTargetArn, maxReceiveCount)`, or no redrive policy.
    pub redrive: Option<(String, u32)>,
}

impl SqsQueues {
    /// Queues through `client`, consumed with the default [`WorkerSettings`].
    pub fn new(client: aws_sdk_sqs::Client) -> Self {
        Self {
            client,
            urls: Arc::default(),
            dead_letter_queues: Arc::default(),
            consumed: Arc::default(),
            reasons: None,
            worker: WorkerSettings::default(),
        }
    }

    /// Queues through a client of `config` (see [`crate::client::from_chain`]).
    pub fn from_sdk_config(config: &aws_config::SdkConfig) -> Self {
        Self::new(aws_sdk_sqs::Client::new(config))
    }

    /// Consumers started from now on use `settings`.
    pub fn with_worker_settings(mut self, settings: WorkerSettings) -> Self {
        self.worker = settings;
        self
    }

    /// Whether SQS answers (one `ListQueues` within `within`): the profile calls it at
    /// start, so that an unreachable endpoint or missing credentials are named there, not
    /// at the first request. The error is the SDK's, with its context.
    pub async fn check_reachable(&self, within: std::time::Duration) -> Result<(), String> {
        let listed = self.client.list_queues().max_results(1).send();
        match tokio::time::timeout(within, listed).await {
            Err(_) => Err(format!("no answer within {} s", within.as_secs())),
            Ok(Err(e)) => Err(DisplayErrorContext(e).to_string()),
            Ok(Ok(_)) => Ok(()),
        }
    }

    /// The SDK client, for what the port does not cover.
    pub fn client(&self) -> &aws_sdk_sqs::Client {
        &self.client
    }

    /// The URL of queue `name`, or `None` when it does not exist.
    pub async fn lookup_url(&self, name: &str) -> Result<Option<String>, BusError> {
        if let Some(url) = self.cached(name) {
            return Ok(Some(url));
        }
        match self.client.get_queue_url().queue_name(name).send().await {
            Ok(out) => {
                let url = out.queue_url().unwrap_or_default().to_owned();
                self.remember(name, &url);
                Ok(Some(url))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_queue_does_not_exist()) =>
            {
                Ok(None)
            }
            Err(e) => Err(sqs_error("GetQueueUrl", name, e)),
        }
    }

    /// The URL of queue `name`, which must exist.
    pub async fn url(&self, name: &str) -> Result<String, BusError> {
        self.lookup_url(name).await?.ok_or_else(|| {
            BusError::Backend(format!("SQS queue `{name}` does not exist (not ensured?)"))
        })
    }

    /// The same, recording each dead letter's reason in `reasons`.
    pub fn with_reasons(mut self, reasons: DeadLetterReasons) -> Self {
        self.reasons = Some(reasons);
        self
    }

    /// Where dead letters' reasons are recorded, if anywhere.
    pub fn reasons(&self) -> Option<&DeadLetterReasons> {
        self.reasons.as_ref()
    }

    /// The queues consumed through this value, with their consumer's group.
    pub fn consumed_queues(&self) -> Vec<(String, String)> {
        self.consumed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    /// Messages of queue `name` waiting to be received (SQS's approximate count of visible
    /// messages; those in flight are being handled): a queue consumer's lag.
    pub async fn waiting(&self, name: &str) -> Result<u64, BusError> {
        let url = self.url(name).await?;
        let attributes = self.attributes(name, &url).await?;
        Ok(attributes
            .get(&QueueAttributeName::ApproximateNumberOfMessages)
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(0))
    }

    /// The DLQs this value has ensured, by name.
    pub fn ensured_dead_letter_queues(&self) -> Vec<String> {
        self.dead_letter_queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .cloned()
            .collect()
    }

    fn cached(&self, name: &str) -> Option<String> {
        self.urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
            .cloned()
    }

    fn remember(&self, name: &str, url: &str) {
        self.urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), url.to_owned());
    }

    /// Every difference between `spec` and what already exists of its queue and DLQ (what
    /// does not exist yet has none); creates and changes nothing, so that `ensure` can refuse
    /// before its first write.
    pub async fn check(&self, spec: &QueueSpec) -> Result<Vec<BusError>, BusError> {
        let mut found = Vec::new();
        let mut dlq_arn = None;
        if let Some(dlq) = &spec.dead_letter
            && let Some(url) = self.lookup_url(&dlq.name).await?
        {
            let attributes = self.attributes(&dlq.name, &url).await?;
            dlq_arn = attributes.get(&QueueAttributeName::QueueArn).cloned();
            found.extend(mismatches(&dlq.name, &attributes, &dlq_wanted(dlq)));
        }
        if let Some(url) = self.lookup_url(&spec.name).await? {
            let attributes = self.attributes(&spec.name, &url).await?;
            // A DLQ not made yet would get the queue's ARN with its own name.
            let dlq_arn = dlq_arn.or_else(|| {
                let queue_arn = attributes.get(&QueueAttributeName::QueueArn)?;
                let (prefix, _) = queue_arn.rsplit_once(':')?;
                Some(format!("{prefix}:{}", spec.dead_letter.as_ref()?.name))
            });
            found.extend(mismatches(
                &spec.name,
                &attributes,
                &queue_wanted(spec, dlq_arn),
            ));
        }
        Ok(found)
    }

    /// The ARN of queue `name`, which must exist.
    pub async fn queue_arn(&self, name: &str) -> Result<String, BusError> {
        let url = self.url(name).await?;
        self.attributes(name, &url)
            .await?
            .remove(&QueueAttributeName::QueueArn)
            .ok_or_else(|| BusError::Backend(format!("SQS queue `{name}` has no QueueArn")))
    }

    /// Every attribute of the queue at `url`.
    pub(crate) async fn attributes(
        &self,
        name: &str,
        url: &str,
    ) -> Result<HashMap<QueueAttributeName, String>, BusError> {
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::All)
            .send()
            .await
            .map_err(|e| sqs_error("GetQueueAttributes", name, e))?;
        Ok(out.attributes().cloned().unwrap_or_default())
    }

    /// Creates `name` with `wanted`, or checks the existing queue; returns its ARN.
    async fn ensure_queue(&self, name: &str, wanted: &Wanted) -> Result<String, BusError> {
        let url = match self.lookup_url(name).await? {
            Some(url) => url,
            None => self.create(name, wanted).await?,
        };
        let found = self.attributes(name, &url).await?;
        if let Some(mismatch) = mismatches(name, &found, wanted).into_iter().next() {
            return Err(mismatch);
        }
        found
            .get(&QueueAttributeName::QueueArn)
            .cloned()
            .ok_or_else(|| BusError::Backend(format!("SQS queue `{name}` has no QueueArn")))
    }

    /// Creates `name`; a queue made meanwhile with other settings is left to the comparison.
    async fn create(&self, name: &str, wanted: &Wanted) -> Result<String, BusError> {
        let mut request = self.client.create_queue().queue_name(name).attributes(
            QueueAttributeName::MessageRetentionPeriod,
            wanted.retention_seconds.to_string(),
        );
        if let Some(seconds) = wanted.visibility_timeout_seconds {
            request =
                request.attributes(QueueAttributeName::VisibilityTimeout, seconds.to_string());
        }
        if let Some((arn, receive_count_max)) = &wanted.redrive {
            let policy = serde_json::json!({
                "deadLetterTargetArn": arn,
                "maxReceiveCount": receive_count_max.to_string(),
            });
            request = request.attributes(QueueAttributeName::RedrivePolicy, policy.to_string());
        }
        match request.send().await {
            Ok(out) => {
                let url = out.queue_url().unwrap_or_default().to_owned();
                self.remember(name, &url);
                Ok(url)
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_queue_name_exists()) =>
            {
                self.url(name).await
            }
            Err(e) => Err(sqs_error("CreateQueue", name, e)),
        }
    }
}

/// What `spec` wants of its DLQ.
fn dlq_wanted(dlq: &DeadLetterSpec) -> Wanted {
    Wanted {
        visibility_timeout_seconds: None,
        retention_seconds: dlq.retention_seconds,
        redrive: None,
    }
}

/// What `spec` wants of its queue, its DLQ's ARN being `dlq_arn`.
fn queue_wanted(spec: &QueueSpec, dlq_arn: Option<String>) -> Wanted {
    Wanted {
        visibility_timeout_seconds: Some(spec.visibility_timeout_seconds),
        retention_seconds: spec.retention_seconds,
        redrive: dlq_arn.zip(spec.dead_letter.as_ref().map(|d| d.receive_count_max)),
    }
}

/// Every setting of `found` (a queue's attributes) that differs from `wanted`, in a fixed
/// order: `VisibilityTimeout`, `MessageRetentionPeriod`, `RedrivePolicy.maxReceiveCount`,
/// `RedrivePolicy.deadLetterTargetArn`.
pub fn mismatches(
    queue: &str,
    found: &HashMap<QueueAttributeName, String>,
    wanted: &Wanted,
) -> Vec<BusError> {
    let text = |name: QueueAttributeName| {
        found
            .get(&name)
            .cloned()
            .unwrap_or_else(|| "none".to_owned())
    };
    let (found_arn, found_count) = redrive_of(found.get(&QueueAttributeName::RedrivePolicy));
    let (wanted_arn, wanted_count) = match &wanted.redrive {
        Some((arn, count)) => (arn.clone(), count.to_string()),
        None => ("none".to_owned(), "none".to_owned()),
    };
    let mut settings = Vec::new();
    if let Some(seconds) = wanted.visibility_timeout_seconds {
        settings.push((
            "VisibilityTimeout",
            text(QueueAttributeName::VisibilityTimeout),
            seconds.to_string(),
        ));
    }
    settings.push((
        "MessageRetentionPeriod",
        text(QueueAttributeName::MessageRetentionPeriod),
        wanted.retention_seconds.to_string(),
    ));
    settings.push(("RedrivePolicy.maxReceiveCount", found_count, wanted_count));
    settings.push(("RedrivePolicy.deadLetterTargetArn", found_arn, wanted_arn));
    settings
        .into_iter()
        .filter(|(_, found, wanted)| found != wanted)
        .map(|(setting, found, wanted)| BusError::QueueConfigMismatch {
            queue: queue.to_owned(),
            setting: setting.to_owned(),
            found,
            wanted,
        })
        .collect()
}

/// `(deadLetterTargetArn, maxReceiveCount)` of a redrive policy (its count is a number or a
/// string, depending on who wrote it), `("none", "none")` without one.
fn redrive_of(policy: Option<&String>) -> (String, String) {
    let Some(policy) = policy.filter(|p| !p.is_empty()) else {
        return ("none".to_owned(), "none".to_owned());
    };
    let Ok(json) = serde_json::from_str::<serde_json::Value>(policy) else {
        return (
            format!("unreadable {policy:?}"),
            format!("unreadable {policy:?}"),
        );
    };
    let arn = json["deadLetterTargetArn"]
        .as_str()
        .unwrap_or("none")
        .to_owned();
    let count = match &json["maxReceiveCount"] {
        serde_json::Value::Number(n) => n.to_string(),
        serde_json::Value::String(s) => s.clone(),
        _ => "none".to_owned(),
    };
    (arn, count)
}

/// An SDK error of `operation` on `queue`, with its whole chain of causes.
fn sqs_error<E, R>(
    operation: &str,
    queue: &str,
    error: aws_sdk_sqs::error::SdkError<E, R>,
) -> BusError
where
    E: std::error::Error + ProvideErrorMetadata + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    BusError::Backend(format!(
        "SQS {operation} on `{queue}`: {}",
        DisplayErrorContext(error)
    ))
}

#[async_trait]
impl Queues for SqsQueues {
    async fn ensure(&self, spec: &QueueSpec) -> Result<(), BusError> {
        if let Some(first) = self.check(spec).await?.into_iter().next() {
            return Err(first);
        }
        let dlq_arn = match &spec.dead_letter {
            Some(dlq) => {
                let arn = self.ensure_queue(&dlq.name, &dlq_wanted(dlq)).await?;
                self.dead_letter_queues
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(dlq.name.clone());
                Some(arn)
            }
            None => None,
        };
        self.ensure_queue(&spec.name, &queue_wanted(spec, dlq_arn))
            .await?;
        Ok(())
    }

    async fn send(&self, queue: &str, records: Vec<Record>) -> Result<Vec<String>, BusError> {
        let messages = records
            .iter()
            .enumerate()
            .map(|(index, record)| outgoing(queue, index, record))
            .collect::<Result<Vec<_>, _>>()?;
        let url = self.url(queue).await?;
        let mut ids = Vec::with_capacity(messages.len());
        for chunk in messages.chunks(BATCH_ENTRIES_MAX) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| batch_entry(i, m.clone()))
                .collect::<Result<Vec<_>, _>>()?;
            let out = self
                .client
                .send_message_batch()
                .queue_url(&url)
                .set_entries(Some(entries))
                .send()
                .await
                .map_err(|e| sqs_error("SendMessageBatch", queue, e))?;
            ids.extend(sent_ids(queue, chunk.len(), &out)?);
        }
        Ok(ids)
    }

    async fn consume(
        &self,
        spec: &QueueSpec,
        consumer: QueueConsumer,
        shutdown: Shutdown,
    ) -> Result<Consuming, RuntimeError> {
        let dead_letter = spec.dead_letter_or_refuse()?.clone();
        let url = self.url(&spec.name).await?;
        self.consumed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((spec.name.clone(), consumer.group.clone()));
        let worker = SqsWorker::new(
            self.client.clone(),
            url,
            &spec.name,
            dead_letter,
            consumer,
            self.reasons.clone(),
            self.worker.clone(),
        );
        let stats = worker.stats();
        Ok((tokio::spawn(worker.run(shutdown)), stats))
    }

    fn backend_name(&self) -> &'static str {
        "sqs"
    }
}

/// The `MessageId` of each of `count` entries in order, or an error naming those SQS refused
/// (the others were sent: a caller that sends again may duplicate them).
fn sent_ids(
    queue: &str,
    count: usize,
    out: &aws_sdk_sqs::operation::send_message_batch::SendMessageBatchOutput,
) -> Result<Vec<String>, BusError> {
    if !out.failed().is_empty() {
        let refused: Vec<String> = out
            .failed()
            .iter()
            .map(|f| {
                format!(
                    "entry {}: {} {}",
                    f.id(),
                    f.code(),
                    f.message().unwrap_or_default()
                )
            })
            .collect();
        return Err(BusError::Backend(format!(
            "SQS SendMessageBatch on `{queue}` refused {} of {count} messages: {}",
            refused.len(),
            refused.join("; ")
        )));
    }
    let by_id: HashMap<&str, &str> = out
        .successful()
        .iter()
        .map(|s| (s.id(), s.message_id()))
        .collect();
    (0..count)
        .map(|i| {
            by_id
                .get(i.to_string().as_str())
                .map(|id| (*id).to_owned())
                .ok_or_else(|| {
                    BusError::Backend(format!(
                        "SQS SendMessageBatch on `{queue}`: no result for entry {i}"
                    ))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn found(visibility: &str, policy: Option<&str>) -> HashMap<QueueAttributeName, String> {
        let mut found = HashMap::from([
            (QueueAttributeName::VisibilityTimeout, visibility.to_owned()),
            (
                QueueAttributeName::MessageRetentionPeriod,
                "345600".to_owned(),
            ),
        ]);
        if let Some(policy) = policy {
            found.insert(QueueAttributeName::RedrivePolicy, policy.to_owned());
        }
        found
    }

    #[test]
    fn mismatches_name_the_setting_with_found_and_wanted() {
        let spec = QueueSpec::seeded("transactions", "transactions-dlq");
        let wanted = queue_wanted(&spec, Some("arn:dlq".to_owned()));
        let same = found(
            "60",
            Some(r#"{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":3}"#),
        );
        assert!(mismatches("transactions", &same, &wanted).is_empty());
        let same_as_text = found(
            "60",
            Some(r#"{"deadLetterTargetArn":"arn:dlq","maxReceiveCount":"3"}"#),
        );
        assert!(mismatches("transactions", &same_as_text, &wanted).is_empty());

        let other = found("30", None);
        let errors: Vec<String> = mismatches("transactions", &other, &wanted)
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            errors,
            [
                "queue `transactions` already exists with VisibilityTimeout = 30, but 60 is wanted",
                "queue `transactions` already exists with RedrivePolicy.maxReceiveCount = none, but 3 is wanted",
                "queue `transactions` already exists with RedrivePolicy.deadLetterTargetArn = none, but arn:dlq is wanted",
            ]
        );
    }
}
