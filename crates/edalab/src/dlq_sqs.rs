//! SQS DLQs (`aws.queues: sqs`) for `edalab dlq list|redrive` and the DLQ routes
//! ([`SqsDeadLetters`]): the messages SQS's redrive policy moved there, listed without
//! taking them, and moved back to the queue they failed on (`edalab_aws::dead_letters`).
//! SQS keeps no failure reason: the handlers record it (`edalab-dead-letters`), and the
//! item's status (`GET /api/v1/calculator/{id}`, `/api/v1/transactions/{id}`,
//! `/api/v1/intake/orders/{id}`) holds it too. [`SqsGauges`] puts the queues' lag and the
//! DLQs' depth on `/metrics`, as the bus's are.

use std::collections::HashMap;
use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use edalab_aws::SqsQueues;
use edalab_aws::dead_letters::SqsDeadLetter;
use edalab_aws::dynamo::Reason;
use edalab_aws::message::KEY_ATTRIBUTE;
use edalab_bus::port::{Bus, BusError};
use edalab_gateway::ApiError;
use edalab_gateway::dead_letters::{DeadLetters, LogDeadLetters};
use edalab_gateway::dlq::{DlqMessage, DlqMessages, DlqTopic, RedriveResult};

use crate::dlq::{DlqArgs, DlqCommand, Format};

/// Longest body shown on a text line.
const BODY_CHARS_SHOWN: usize = 120;

/// Runs a `dlq` subcommand on SQS, printing to `out`.
pub async fn run_to(args: DlqArgs, queues: &SqsQueues, out: &mut dyn Write) -> anyhow::Result<()> {
    match args.command {
        DlqCommand::List {
            dlq_topic,
            limit,
            format,
        } => {
            let letters = queues
                .list_dead_letters(&dlq_topic, limit)
                .await
                .with_context(|| format!("listing SQS DLQ `{dlq_topic}`"))?;
            let reasons = reasons_of(queues, &letters).await?;
            for letter in &letters {
                let reason = reasons.get(&letter.message_id).map(|r| r.reason.as_str());
                match format {
                    Format::Json => {
                        let mut shown = serde_json::to_value(letter)?;
                        shown["reason"] = reason.into();
                        writeln!(out, "{shown}")?;
                    }
                    Format::Text => writeln!(out, "{}", line(letter, reason))?,
                }
            }
        }
        DlqCommand::Show { dlq_topic, .. } => anyhow::bail!(
            "`{dlq_topic}` is an SQS queue: its messages have no partition and offset; \
             `edalab dlq list {dlq_topic} --format json` shows each in full"
        ),
        DlqCommand::Redrive {
            dlq_topic,
            origin,
            rate,
            format,
        } => {
            if let Some(origin) = origin {
                anyhow::bail!(
                    "--origin {origin}: an SQS DLQ is redriven whole, each message to the queue \
                     it failed on"
                );
            }
            let report = queues
                .redrive(&dlq_topic, rate)
                .await
                .with_context(|| format!("redriving SQS DLQ `{dlq_topic}`"))?;
            match format {
                Format::Json => writeln!(out, "{}", serde_json::to_string(&report)?)?,
                Format::Text => writeln!(out, "redriven {}", report.moved)?,
            }
        }
    }
    Ok(())
}

/// The reasons recorded for `letters` (none when the queues record none).
async fn reasons_of(
    queues: &SqsQueues,
    letters: &[SqsDeadLetter],
) -> anyhow::Result<HashMap<String, Reason>> {
    let Some(reasons) = queues.reasons() else {
        return Ok(HashMap::new());
    };
    let ids: Vec<String> = letters.iter().map(|l| l.message_id.clone()).collect();
    reasons
        .reasons(&ids)
        .await
        .map_err(|e| anyhow::anyhow!("reading the dead letters' reasons: {e}"))
}

fn line(letter: &SqsDeadLetter, reason: Option<&str>) -> String {
    let body: String = letter.body.chars().take(BODY_CHARS_SHOWN).collect();
    format!(
        "{} from {} (received {}×, origin {}): {} — {body}",
        letter.message_id,
        letter.source_queue.as_deref().unwrap_or("?"),
        letter.receive_count,
        letter.origin_message_id,
        reason.unwrap_or(NO_REASON),
    )
}

/// The DLQ routes on SQS (`aws.queues: sqs`): the DLQs the pipelines ensured, with the
/// reasons their handlers recorded (`edalab_aws::dynamo::DeadLetterReasons`); every other
/// DLQ is a topic of the log, answered by `log`.
pub struct SqsDeadLetters {
    queues: SqsQueues,
    log: LogDeadLetters,
}

impl SqsDeadLetters {
    pub fn new(queues: SqsQueues, bus: Arc<dyn Bus>) -> Self {
        Self {
            queues,
            log: LogDeadLetters::new(bus),
        }
    }

    fn on_sqs(&self, dlq: &str) -> bool {
        self.queues
            .ensured_dead_letter_queues()
            .iter()
            .any(|name| name == dlq)
    }
}

fn sqs_error(error: BusError) -> ApiError {
    ApiError::unavailable(format!("SQS refused: {error}"))
}

#[async_trait]
impl DeadLetters for SqsDeadLetters {
    async fn dlqs(&self) -> Result<Vec<DlqTopic>, ApiError> {
        let mut dlqs = self.log.dlqs().await?;
        for name in self.queues.ensured_dead_letter_queues() {
            let depth = self
                .queues
                .dead_letter_depth(&name)
                .await
                .map_err(sqs_error)?;
            dlqs.push(DlqTopic {
                topic: name,
                depth,
                partitions: None,
                backend: DlqTopic::SQS.to_owned(),
            });
        }
        dlqs.sort_by(|a, b| a.topic.cmp(&b.topic));
        Ok(dlqs)
    }

    async fn messages(&self, dlq: &str, limit: usize) -> Result<DlqMessages, ApiError> {
        if !self.on_sqs(dlq) {
            return self.log.messages(dlq, limit).await;
        }
        let letters = self
            .queues
            .list_dead_letters(dlq, limit)
            .await
            .map_err(sqs_error)?;
        let depth = self
            .queues
            .dead_letter_depth(dlq)
            .await
            .map_err(sqs_error)?;
        let reasons = reasons_of(&self.queues, &letters)
            .await
            .map_err(|e| ApiError::unavailable(format!("{e:#}")))?;
        let messages: Vec<DlqMessage> = letters
            .iter()
            .map(|letter| message(dlq, letter, reasons.get(&letter.message_id)))
            .collect();
        Ok(DlqMessages {
            topic: dlq.to_owned(),
            depth: depth.max(messages.len() as u64),
            messages,
            invalid: Vec::new(),
        })
    }

    async fn check(&self, dlq: &str) -> Result<(), ApiError> {
        if self.on_sqs(dlq) {
            return Ok(());
        }
        self.log.check(dlq).await
    }

    async fn redrive(&self, dlq: &str, rate: u32) -> Result<RedriveResult, ApiError> {
        if !self.on_sqs(dlq) {
            return self.log.redrive(dlq, rate).await;
        }
        let report = self.queues.redrive(dlq, rate).await.map_err(sqs_error)?;
        Ok(RedriveResult {
            scanned: report.moved,
            redriven: report.moved,
            skipped: 0,
            invalid: 0,
        })
    }
}

/// What SQS and the recorded reason say of one dead letter.
fn message(dlq: &str, letter: &SqsDeadLetter, reason: Option<&Reason>) -> DlqMessage {
    let origin = letter
        .source_queue
        .clone()
        .or_else(|| reason.map(|r| r.queue.clone()))
        .or_else(|| dlq.strip_suffix("-dlq").map(str::to_owned))
        .unwrap_or_default();
    let failed_at = reason.map_or(i64::try_from(letter.sent_timestamp_ms).unwrap_or(0), |r| {
        r.failed_at_ms
    });
    DlqMessage {
        partition: None,
        offset: None,
        message_id: Some(letter.message_id.clone()),
        key: letter.attributes.get(KEY_ATTRIBUTE).cloned(),
        error: reason.map_or_else(|| NO_REASON.to_owned(), |r| r.reason.clone()),
        attempts: reason.map_or(letter.receive_count, |r| r.attempts),
        group: origin.clone(),
        origin_topic: origin,
        origin_partition: None,
        origin_offset: None,
        first_failure_ms: failed_at,
        last_failure_ms: failed_at,
        value: serde_json::from_str(&letter.body)
            .unwrap_or_else(|_| serde_json::Value::String(letter.body.clone())),
    }
}

/// The error shown for a dead letter whose reason was not recorded.
const NO_REASON: &str = "no reason recorded (SQS keeps none; the item's status in its \
                         service's API has it)";

/// The SQS queues' gauges at a scrape: `edalab_consumer_lag{group, topic: the queue,
/// partition: 0}` (messages waiting to be received) for every queue consumed, and
/// `edalab_dlq_depth{topic: the DLQ}` (visible and in flight) for every DLQ ensured — the
/// series the bus's topics have, so the dashboards and alert rules hold on the aws profile.
pub struct SqsGauges {
    queues: SqsQueues,
}

impl SqsGauges {
    pub fn new(queues: SqsQueues) -> Self {
        Self { queues }
    }
}

#[async_trait]
impl edalab_gateway::telemetry::metrics::GaugeSource for SqsGauges {
    async fn refresh(&self) {
        use edalab_gateway::telemetry::metrics::{consumer_lag, dlq_depth};
        for (queue, group) in self.queues.consumed_queues() {
            match self.queues.waiting(&queue).await {
                Ok(waiting) => consumer_lag(&group, &queue, 0, waiting),
                Err(e) => tracing::debug!(queue, error = %e, "cannot read the queue's lag"),
            }
        }
        for dlq in self.queues.ensured_dead_letter_queues() {
            match self.queues.dead_letter_depth(&dlq).await {
                Ok(depth) => dlq_depth(&dlq, depth),
                Err(e) => tracing::debug!(dlq, error = %e, "cannot read the DLQ's depth"),
            }
        }
    }
}
