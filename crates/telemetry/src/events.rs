//! Typed telemetry events, in the style of vector's internal events: one struct per thing
//! that happens, whose `emit()` writes its log line (when it has one) and updates its
//! metrics together. Services build an event and emit it; they never spell a metric name,
//! a label or the log message themselves (`docs/observability.md`).

use std::time::Duration;

use crate::metrics::names;

/// Where a message is consumed: the labels every consumer metric carries.
#[derive(Clone, Copy, Debug)]
pub struct ConsumedAt<'a> {
    /// The service (pipeline) whose handler runs: `transactions`, `ledger`, ...
    pub service: &'a str,
    /// The consumer group (or, on SQS, the consumer's name).
    pub group: &'a str,
    pub topic: &'a str,
}

impl ConsumedAt<'_> {
    fn labels(&self) -> [(&'static str, String); 3] {
        [
            ("service", self.service.to_owned()),
            ("group", self.group.to_owned()),
            ("topic", self.topic.to_owned()),
        ]
    }
}

/// A message was handed to a handler, `latency` after its timestamp; it weighs `bytes`.
pub struct MessageConsumed<'a> {
    pub at: ConsumedAt<'a>,
    pub latency: Duration,
    pub bytes: usize,
}

impl MessageConsumed<'_> {
    pub fn emit(self) {
        let labels = self.at.labels();
        metrics::counter!(names::MESSAGES_CONSUMED_TOTAL, &labels).increment(1);
        metrics::histogram!(names::MESSAGE_LATENCY_SECONDS, &labels)
            .record(self.latency.as_secs_f64());
        metrics::counter!(names::BUS_BYTES_OUT_TOTAL, &labels).increment(self.bytes as u64);
    }
}

/// A handler spent `elapsed` on one message.
pub struct MessageProcessed<'a> {
    pub at: ConsumedAt<'a>,
    pub elapsed: Duration,
}

impl MessageProcessed<'_> {
    pub fn emit(self) {
        metrics::histogram!(names::PROCESSING_LATENCY_SECONDS, &self.at.labels())
            .record(self.elapsed.as_secs_f64());
    }
}

/// What a failed handling asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Deliver it again (after a backoff), then to the DLQ.
    Retry,
    /// Never retried: straight to the DLQ.
    Reject,
    /// The consumer could not read its topic (the WebSocket tails).
    Poll,
}

impl Failure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retry => "retry",
            Self::Reject => "reject",
            Self::Poll => "poll",
        }
    }
}

/// A handler failed on the message at `offset` (`None`: no single message, a poll).
pub struct ProcessingFailed<'a> {
    pub at: ConsumedAt<'a>,
    pub offset: Option<i64>,
    pub failure: Failure,
    pub reason: &'a str,
}

impl ProcessingFailed<'_> {
    pub fn emit(self) {
        let [service, group, topic] = self.at.labels();
        metrics::counter!(
            names::PROCESSING_ERRORS_TOTAL,
            &[
                service,
                group,
                topic,
                ("outcome", self.failure.as_str().to_owned())
            ]
        )
        .increment(1);
        let at = self.at;
        tracing::warn!(
            service = at.service,
            group = at.group,
            topic = at.topic,
            offset = self.offset,
            outcome = self.failure.as_str(),
            reason = self.reason,
            "message handling failed"
        );
    }
}

/// A consumer started: its error counter exists at 0 from now on, so that dashboards and
/// alerts see the series before the first error.
pub struct ConsumerStarted<'a> {
    pub service: &'a str,
    pub group: &'a str,
}

impl ConsumerStarted<'_> {
    pub fn emit(self) {
        metrics::counter!(
            names::PROCESSING_ERRORS_TOTAL,
            "service" => self.service.to_owned(),
            "group" => self.group.to_owned(),
            "topic" => "",
            "outcome" => "none"
        )
        .absolute(0);
    }
}

/// `service` produced `count` records (`bytes` in all) to `topic`, acknowledged by the bus.
pub struct MessagesProduced<'a> {
    pub service: &'a str,
    pub topic: &'a str,
    pub count: u64,
    pub bytes: u64,
}

impl MessagesProduced<'_> {
    pub fn emit(self) {
        let labels = [
            ("service", self.service.to_owned()),
            ("topic", self.topic.to_owned()),
        ];
        metrics::counter!(names::MESSAGES_PRODUCED_TOTAL, &labels).increment(self.count);
        metrics::counter!(names::BUS_BYTES_IN_TOTAL, &labels).increment(self.bytes);
    }
}

/// What the ledger did with one banking event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LedgerOutcome {
    Applied,
    /// A business refusal, with its code (`insufficient_funds`, ...): never retried.
    Refused(&'static str),
    /// Already applied: nothing changed.
    Duplicate,
}

/// The ledger committed one event.
pub struct LedgerEventCommitted {
    pub outcome: LedgerOutcome,
}

impl LedgerEventCommitted {
    pub fn emit(self) {
        let outcome = match self.outcome {
            LedgerOutcome::Applied => "applied",
            LedgerOutcome::Refused(code) => {
                metrics::counter!(names::LEDGER_REFUSALS_TOTAL, "code" => code).increment(1);
                "refused"
            }
            LedgerOutcome::Duplicate => "duplicate",
        };
        metrics::counter!(names::LEDGER_EVENTS_TOTAL, "outcome" => outcome).increment(1);
    }
}

/// The status an intake order (S2) was recorded with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderRecorded {
    Processed,
    Rejected,
    Duplicate,
}

impl OrderRecorded {
    /// Every status with its counter, at 0 until the first order (S2-04's three names are
    /// on `/metrics` from the start).
    pub fn register() {
        for status in [Self::Processed, Self::Rejected, Self::Duplicate] {
            metrics::counter!(status.metric()).increment(0);
        }
    }

    fn metric(self) -> &'static str {
        match self {
            Self::Processed => names::ORDERS_PROCESSED_TOTAL,
            Self::Rejected => names::ORDERS_REJECTED_TOTAL,
            Self::Duplicate => names::ORDERS_DUPLICATE_TOTAL,
        }
    }

    /// Counts the order and logs its status.
    pub fn emit(self, order_id: &str) {
        metrics::counter!(self.metric()).increment(1);
        match self {
            Self::Processed => tracing::info!(order_id, "order PROCESSED"),
            Self::Duplicate => tracing::info!(order_id, "order DUPLICATE"),
            Self::Rejected => tracing::info!(order_id, "order REJECTED"),
        }
    }
}
