//! Telemetry every service shares: metrics ([`metrics`]), W3C trace context ([`trace`]),
//! JSON logs ([`logging`]), and two wrappers that make a service observable without it
//! spelling a metric name or a header:
//!
//! - [`InstrumentedBus`] wraps a [`Bus`]: every produced record gets a `traceparent`
//!   header (a child of the current trace, or a new root) and is counted in
//!   `edalab_messages_produced_total{service,topic}`;
//! - [`Measured`] wraps a per-message [`Handler`]: it continues the message's trace,
//!   counts `edalab_messages_consumed_total`, records both latency histograms and counts
//!   `edalab_processing_errors_total` for `Retry`/`Reject`; [`MeasuredBatch`] does the same
//!   for a [`BatchHandler`] (the batch runs in the trace of its first message).

pub mod logging;
pub mod metrics;
pub mod trace;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use edalab_bus::port::{
    Admin, Bus, BusError, Consumer, ConsumerConfig, Created, Delivery, Message, PartitionLag,
    Producer, Record, TopicConfig, TopicDescription,
};
use edalab_bus::runtime::{BatchHandler, Handler, Outcome};
use tracing::Instrument;

pub use self::metrics::{
    message_consumed, message_processed, message_produced, messages_produced, processing_error,
};
pub use self::trace::TraceParent;

/// What [`init`] installed; keep it alive for the process's life (spans still queued for
/// export are flushed when it is dropped).
#[must_use = "dropping the guard stops the span export"]
pub struct TelemetryGuard {
    _private: (),
}

/// Installs the process's log subscriber for `service` (`log.*`) and, when `otlp.enabled`,
/// the OTLP span export. A second call in the same process (tests) is an error the caller
/// may ignore.
pub fn init(
    service: &str,
    log: &crate::config::LogConfig,
    _otlp: &crate::config::OtlpConfig,
) -> Result<TelemetryGuard, logging::LoggingError> {
    logging::init(service, log)?;
    Ok(TelemetryGuard { _private: () })
}

/// A [`Bus`] whose produced records carry a trace context and are counted for `service`.
#[derive(Clone)]
pub struct InstrumentedBus {
    inner: Arc<dyn Bus>,
    service: Arc<str>,
}

impl InstrumentedBus {
    pub fn new(inner: Arc<dyn Bus>, service: &str) -> Self {
        self::metrics::register_service(service);
        Self {
            inner,
            service: Arc::from(service),
        }
    }

    pub fn inner(&self) -> &Arc<dyn Bus> {
        &self.inner
    }
}

#[async_trait]
impl Admin for InstrumentedBus {
    async fn create_topic(&self, name: &str, config: TopicConfig) -> Result<Created, BusError> {
        self.inner.create_topic(name, config).await
    }
    async fn describe_topic(&self, name: &str) -> Result<TopicDescription, BusError> {
        self.inner.describe_topic(name).await
    }
    async fn list_topics(&self) -> Result<Vec<String>, BusError> {
        self.inner.list_topics().await
    }
    async fn delete_topic(&self, name: &str) -> Result<(), BusError> {
        self.inner.delete_topic(name).await
    }
    async fn group_lag(&self, group: &str) -> Result<Vec<PartitionLag>, BusError> {
        self.inner.group_lag(group).await
    }
    async fn list_groups(&self) -> Result<Vec<String>, BusError> {
        self.inner.list_groups().await
    }
}

#[async_trait]
impl Producer for InstrumentedBus {
    async fn produce(
        &self,
        topic: &str,
        mut records: Vec<Record>,
    ) -> Result<Vec<Delivery>, BusError> {
        let parent = trace::current();
        for record in &mut records {
            let has_trace = record
                .headers
                .iter()
                .any(|(name, _)| name == edalab_bus::port::headers::TRACEPARENT);
            if !has_trace {
                let context = parent.map_or_else(TraceParent::new_root, |p| p.child());
                context.inject(record);
            }
        }
        let count = records.len() as u64;
        let deliveries = self.inner.produce(topic, records).await?;
        messages_produced(&self.service, topic, count);
        Ok(deliveries)
    }
}

#[async_trait]
impl Bus for InstrumentedBus {
    async fn consumer(&self, config: ConsumerConfig) -> Result<Box<dyn Consumer>, BusError> {
        self.inner.consumer(config).await
    }
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
}

/// A [`Handler`] measured for `service`, run in the trace its message carries.
pub struct Measured<H> {
    inner: H,
    service: Arc<str>,
}

impl<H> Measured<H> {
    pub fn new(service: &str, inner: H) -> Self {
        self::metrics::register_service(service);
        Self {
            inner,
            service: Arc::from(service),
        }
    }
}

/// How long ago `timestamp_ms` was (0 if it is in the future: clocks differ).
pub fn age_of(timestamp_ms: i64) -> Duration {
    let now_ms = chrono::Utc::now().timestamp_millis();
    Duration::from_millis(u64::try_from(now_ms.saturating_sub(timestamp_ms)).unwrap_or(0))
}

#[async_trait]
impl<H: Handler> Handler for Measured<H> {
    async fn handle(&self, message: &Message) -> Outcome {
        let topic: &str = &message.topic;
        message_consumed(&self.service, topic, age_of(message.timestamp_ms));
        let context =
            TraceParent::extract(message).map_or_else(TraceParent::new_root, |p| p.child());
        let span = tracing::info_span!(
            "consume",
            service = %self.service,
            topic,
            partition = message.partition,
            offset = message.offset,
            trace_id = %context.trace_id_hex(),
        );
        let started = Instant::now();
        let outcome = trace::scope(context, self.inner.handle(message).instrument(span)).await;
        message_processed(&self.service, topic, started.elapsed());
        match &outcome {
            Outcome::Done => {}
            Outcome::Retry(reason) => {
                processing_error(&self.service, topic, "retry");
                tracing::warn!(service = %self.service, topic, offset = message.offset, reason, "handler asked for a retry");
            }
            Outcome::Reject(reason) => {
                processing_error(&self.service, topic, "reject");
                tracing::warn!(service = %self.service, topic, offset = message.offset, reason, "handler rejected a message");
            }
        }
        outcome
    }
}

/// A [`BatchHandler`] measured for `service`. The processing latency recorded per message is
/// the batch's time divided by its size (a batch is applied as one unit); the batch runs in
/// the trace of its first message, and each message's own trace id is logged at debug level.
pub struct MeasuredBatch<H> {
    inner: H,
    service: Arc<str>,
}

impl<H> MeasuredBatch<H> {
    pub fn new(service: &str, inner: H) -> Self {
        self::metrics::register_service(service);
        Self {
            inner,
            service: Arc::from(service),
        }
    }
}

#[async_trait]
impl<H: BatchHandler> BatchHandler for MeasuredBatch<H> {
    async fn handle(&self, batch: &[Message]) -> Vec<Outcome> {
        for message in batch {
            message_consumed(&self.service, &message.topic, age_of(message.timestamp_ms));
            if let Some(context) = TraceParent::extract(message) {
                tracing::debug!(
                    service = %self.service,
                    topic = %message.topic,
                    offset = message.offset,
                    trace_id = %context.trace_id_hex(),
                    "message in batch"
                );
            }
        }
        let context = batch
            .first()
            .and_then(TraceParent::extract)
            .map_or_else(TraceParent::new_root, |p| p.child());
        let started = Instant::now();
        let outcomes = trace::scope(context, self.inner.handle(batch)).await;
        let share = started.elapsed() / u32::try_from(batch.len().max(1)).unwrap_or(u32::MAX);
        for (i, message) in batch.iter().enumerate() {
            message_processed(&self.service, &message.topic, share);
            // A missing outcome is taken as `Retry` by the runtime.
            match outcomes.get(i) {
                Some(Outcome::Done) => {}
                Some(Outcome::Reject(_)) => {
                    processing_error(&self.service, &message.topic, "reject")
                }
                Some(Outcome::Retry(_)) | None => {
                    processing_error(&self.service, &message.topic, "retry")
                }
            }
        }
        outcomes
    }
}
