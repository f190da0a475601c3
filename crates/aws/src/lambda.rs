//! The Lambda side of a queue (`docs/adr/026-aws-profile.md` §6): an SQS event from an event
//! source mapping is handled by the same [`Handler`] as the in-process [`crate::SqsWorker`]
//! and settled by the same [`settle::plan`]. The mapping deletes what succeeded; each failed
//! item is reported on its own (partial batch response, `ReportBatchItemFailures`), never by
//! failing the invocation, after its visibility is set as the worker would set it: a retry's
//! backoff, at once for a reject or a last failure (whose `on_dead_letter` is called first),
//! so the queue's redrive policy moves it to the DLQ at its `maxReceiveCount`-th receive.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_sqs::types::{MessageAttributeValue, MessageSystemAttributeName};
use edalab_bus::runtime::{Handler, Outcome, RetryPolicy};
use edalab_bus::{OnDeadLetter, QueueSpec};
use edalab_services::intake::OrderCounts;
use rand::SeedableRng;
use rand::rngs::StdRng;

use crate::SqsQueues;
use crate::message::{Received, received};
use crate::settle::{self, Action};
use crate::worker::{caught, dead_letter, record_reason};

/// One queue's function: its handler, what records a dead letter, and the queue it reads.
pub struct SqsFunction {
    sqs: SqsQueues,
    spec: QueueSpec,
    handler: Arc<dyn Handler>,
    on_dead_letter: OnDeadLetter,
    retry: RetryPolicy,
    rng: Mutex<StdRng>,
    /// Counts flushed before each batch is answered (a frozen function runs nothing).
    counts: Option<Arc<dyn OrderCounts>>,
}

impl SqsFunction {
    pub fn new(
        sqs: SqsQueues,
        spec: QueueSpec,
        handler: Arc<dyn Handler>,
        on_dead_letter: OnDeadLetter,
    ) -> Self {
        Self {
            sqs,
            spec,
            handler,
            on_dead_letter,
            retry: RetryPolicy::default(),
            rng: Mutex::new(StdRng::from_entropy()),
            counts: None,
        }
    }

    /// The same, flushing `counts` before answering each batch.
    pub fn after_batch(self, counts: Arc<dyn OrderCounts>) -> Self {
        Self {
            counts: Some(counts),
            ..self
        }
    }

    /// Handles a batch; the answer names every message that is not done.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let queue: Arc<str> = Arc::from(self.spec.name.as_str());
        let mut failures = Vec::new();
        let mut actions = Vec::new();
        for record in &event.records {
            let message_id = record.message_id.clone().unwrap_or_default();
            match sdk_message(record).and_then(|m| received(&queue, &m)) {
                Some(message) => {
                    if let Some(action) = self.handle_one(&message).await {
                        actions.push((message.receipt_handle, action));
                        failures.push(message_id);
                    }
                }
                // Without a receipt handle it cannot be settled: the mapping redelivers it.
                None => failures.push(message_id),
            }
        }
        self.settle(&actions).await;
        if let Some(counts) = &self.counts
            && let Err(error) = counts.flush().await
        {
            tracing::warn!(%error, "counts not flushed; kept for the next batch");
        }
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failures
            .into_iter()
            .map(|id| {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failure
            })
            .collect();
        response
    }

    /// `None` when done; else the visibility the failed message gets.
    async fn handle_one(&self, message: &Received) -> Option<Action> {
        let outcome = caught(self.handler.as_ref(), &message.message)
            .await
            .unwrap_or_else(Outcome::Retry);
        let receive_count_max = self
            .spec
            .dead_letter
            .as_ref()
            .map_or(u32::MAX, |d| d.receive_count_max);
        let decision = {
            let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
            settle::plan(
                &outcome,
                message.receive_count,
                receive_count_max,
                &self.retry,
                &mut *rng,
            )
        };
        if let Some(reason) = decision.last_failure {
            let letter = dead_letter(message, reason);
            record_reason(self.sqs.reasons(), &letter).await;
            (self.on_dead_letter)(letter).await;
        }
        match decision.action {
            Action::Delete => None,
            visible => Some(visible),
        }
    }

    /// Sets the failed messages' visibility; a refusal leaves them to their visibility
    /// timeout (later, never lost).
    async fn settle(&self, actions: &[(String, Action)]) {
        if actions.is_empty() {
            return;
        }
        let url = match self.sqs.url(&self.spec.name).await {
            Ok(url) => url,
            Err(error) => {
                tracing::warn!(%error, "cannot find the queue to settle failed messages");
                return;
            }
        };
        let applied = settle::apply(self.sqs.client(), &url, actions).await;
        for failure in applied.failures {
            tracing::warn!(queue = %self.spec.name, %failure, "settling refused");
        }
    }
}

/// The Lambda event's message as the SDK's, so that [`received`] maps both the same way.
fn sdk_message(record: &SqsMessage) -> Option<aws_sdk_sqs::types::Message> {
    let attributes: HashMap<MessageSystemAttributeName, String> = record
        .attributes
        .iter()
        .map(|(name, value)| {
            (
                MessageSystemAttributeName::from(name.as_str()),
                value.clone(),
            )
        })
        .collect();
    let mut message_attributes = HashMap::new();
    for (name, attribute) in &record.message_attributes {
        let value = MessageAttributeValue::builder()
            .data_type(
                attribute
                    .data_type
                    .clone()
                    .unwrap_or_else(|| "String".to_owned()),
            )
            .set_string_value(attribute.string_value.clone())
            .build()
            .ok()?;
        message_attributes.insert(name.clone(), value);
    }
    Some(
        aws_sdk_sqs::types::Message::builder()
            .set_message_id(record.message_id.clone())
            .set_receipt_handle(record.receipt_handle.clone())
            .set_body(record.body.clone())
            .set_attributes(Some(attributes))
            .set_message_attributes(Some(message_attributes))
            .build(),
    )
}
