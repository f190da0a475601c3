//! Telemetry every service shares, in a crate below the services (they depend on it, it
//! depends only on the bus port): metrics ([`metrics`]), W3C trace context ([`trace`]),
//! JSON logs ([`logging`]), OTLP span export ([`otlp`], off by default), typed events whose
//! `emit()` writes a log line and its metrics together ([`events`]), and the wrappers that
//! make a service observable without it spelling a metric name or a header:
//!
//! - [`InstrumentedBus`] wraps a [`Bus`]: every produced record gets a `traceparent`
//!   header (a child of the current trace, or a new root) and is counted, records and
//!   bytes, under `{service, topic}`;
//! - [`Measured`] wraps a per-message [`Handler`] of a service's consumer group: it
//!   continues the message's trace, counts `edalab_messages_consumed_total` and bytes,
//!   records both latency histograms and counts `edalab_processing_errors_total` for
//!   `Retry`/`Reject`, under `{service, group, topic}`; [`MeasuredBatch`] does the same for
//!   a [`BatchHandler`] (the batch runs in the trace of its first message, linked to the
//!   traces of the others). The pipelines' plumbing puts every consumer under one of them.
//!
//! Spans: `http.request` (router), `produce` ([`InstrumentedBus`]), `consume` /
//! `consume.batch` (the wrappers), `store.commit` ([`store_span`], and the ledger's own
//! under its `ledger.batch`). Exported, they form one trace per request across
//! processes and the bus (`docs/observability.md`).

#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod events;
pub mod logging;
pub mod metrics;
pub mod otlp;
pub mod trace;

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use edalab_bus::port::{
    Bus, BusError, Consumer, ConsumerConfig, Delivery, Message, PartitionRead, Producer, ReadBatch,
    Record,
};
use edalab_bus::runtime::{BatchHandler, Handler, Outcome};
use tracing::Instrument;

use self::events::{
    ConsumedAt, ConsumerStarted, Failure, MessageConsumed, MessageProcessed, MessagesProduced,
    ProcessingFailed,
};
pub use self::trace::TraceParent;

/// What [`init`] installed; keep it alive for the process's life: dropping it flushes the
/// spans still queued for export and stops the exporter.
#[must_use = "dropping the guard stops the span export"]
pub struct TelemetryGuard {
    provider: Option<opentelemetry_sdk::trace::SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Whether spans are exported (`otlp.enabled`).
    pub fn exports(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports every finished span now (blocks until the collector answered or timed out).
    pub fn flush(&self) {
        if let Some(provider) = &self.provider
            && let Err(error) = provider.force_flush()
        {
            tracing::warn!(%error, "OTLP flush failed");
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take()
            && let Err(error) = provider.shutdown()
        {
            eprintln!("warning: OTLP exporter shutdown: {error}");
        }
    }
}

/// Errors installing telemetry.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(transparent)]
    Logging(#[from] logging::LoggingError),
    #[error(transparent)]
    Otlp(#[from] otlp::OtlpError),
}

/// Installs the process's subscriber for `service`: log lines filtered by `log.level`
/// (JSON or text, `log.format`) and, when `otlp.enabled`, span export at `info` and above
/// (independent of the log level). A second call in the same process (tests) is an error
/// the caller may ignore.
pub fn init(
    service: &str,
    log: &crate::config::LogConfig,
    otlp_config: &crate::config::OtlpConfig,
) -> Result<TelemetryGuard, TelemetryError> {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let provider = if otlp_config.enabled {
        Some(otlp::provider(service, otlp_config)?)
    } else {
        None
    };
    let log_filter = tracing_subscriber::EnvFilter::try_new(log.level.as_str())
        .map_err(|e| logging::LoggingError::new(e.to_string()))?;
    let log_layer = logging::layer(service, log.format).with_filter(log_filter);
    // The exporter's own HTTP stack is left out, or exporting would make spans to export.
    let span_filter = tracing_subscriber::EnvFilter::try_new(
        "info,h2=off,hyper=off,hyper_util=off,reqwest=off,tower=off,opentelemetry=off,opentelemetry_sdk=off,opentelemetry_otlp=off",
    )
    .map_err(|e| logging::LoggingError::new(e.to_string()))?;
    let span_layer = provider
        .as_ref()
        .map(|provider| otlp::layer(provider).with_filter(span_filter));
    tracing_subscriber::registry()
        .with(log_layer)
        .with(span_layer)
        .try_init()
        .map_err(|e| logging::LoggingError::new(e.to_string()))?;
    Ok(TelemetryGuard { provider })
}

/// A [`Bus`] whose produced records carry a trace context and are counted for `service`.
#[derive(Clone)]
pub struct InstrumentedBus {
    inner: Arc<dyn Bus>,
    service: Arc<str>,
}

impl InstrumentedBus {
    pub fn new(inner: Arc<dyn Bus>, service: &str) -> Self {
        Self {
            inner,
            service: Arc::from(service),
        }
    }

    pub fn inner(&self) -> &Arc<dyn Bus> {
        &self.inner
    }
}

edalab_bus::forward_admin!(InstrumentedBus, inner);

#[async_trait]
impl Producer for InstrumentedBus {
    async fn produce(
        &self,
        topic: &str,
        mut records: Vec<Record>,
    ) -> Result<Vec<Delivery>, BusError> {
        let span = tracing::info_span!(
            "produce",
            service = %self.service,
            topic,
            records = records.len()
        );
        let context = otlp::handed_on(&span, trace::current());
        for record in &mut records {
            let has_trace = record
                .headers
                .iter()
                .any(|(name, _)| name == edalab_bus::port::headers::TRACEPARENT);
            if !has_trace {
                context.inject(record);
            }
        }
        let count = records.len() as u64;
        let bytes = records.iter().map(record_bytes).sum::<usize>() as u64;
        let deliveries = self.inner.produce(topic, records).instrument(span).await?;
        MessagesProduced {
            service: &self.service,
            topic,
            count,
            bytes,
        }
        .emit();
        Ok(deliveries)
    }
}

#[async_trait]
impl Bus for InstrumentedBus {
    async fn consumer(&self, config: ConsumerConfig) -> Result<Box<dyn Consumer>, BusError> {
        self.inner.consumer(config).await
    }
    async fn read_partition(&self, read: &PartitionRead) -> Result<ReadBatch, BusError> {
        self.inner.read_partition(read).await
    }
    fn backend_name(&self) -> &'static str {
        self.inner.backend_name()
    }
    fn accepts_writes(&self) -> Result<(), BusError> {
        self.inner.accepts_writes()
    }
}

/// The bytes a record weighs on the bus: key, value and headers (names and values).
fn record_bytes(record: &Record) -> usize {
    record.key.as_ref().map_or(0, Vec::len) + record.value.len() + headers_bytes(&record.headers)
}

/// The bytes a consumed message weighs: key, value and headers.
pub fn message_bytes(message: &Message) -> usize {
    message.key.as_ref().map_or(0, Vec::len) + message.value.len() + headers_bytes(&message.headers)
}

fn headers_bytes(headers: &edalab_bus::port::Headers) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.len() + value.len())
        .sum()
}

/// Who runs a measured handler: its service and consumer group, the labels of its series.
#[derive(Clone, Debug)]
struct Owner {
    service: Arc<str>,
    group: Arc<str>,
}

impl Owner {
    fn new(service: &str, group: &str) -> Self {
        ConsumerStarted { service, group }.emit();
        Self {
            service: Arc::from(service),
            group: Arc::from(group),
        }
    }

    fn at<'a>(&'a self, topic: &'a str) -> ConsumedAt<'a> {
        ConsumedAt {
            service: &self.service,
            group: &self.group,
            topic,
        }
    }

    /// Counts `message` as consumed (and its age as its end-to-end latency).
    fn consumed(&self, message: &Message) {
        MessageConsumed {
            at: self.at(&message.topic),
            latency: age_of(message.timestamp_ms),
            bytes: message_bytes(message),
        }
        .emit();
    }

    /// Records the handling time of `message` and, for a failure, its error.
    fn handled(&self, message: &Message, elapsed: Duration, outcome: Option<&Outcome>) {
        let at = self.at(&message.topic);
        MessageProcessed { at, elapsed }.emit();
        let (failure, reason) = match outcome {
            Some(Outcome::Done) => return,
            Some(Outcome::Retry(reason)) => (Failure::Retry, reason.as_str()),
            Some(Outcome::Reject(reason)) => (Failure::Reject, reason.as_str()),
            // A missing outcome is taken as `Retry` by the runtime.
            None => (Failure::Retry, "no outcome for this message"),
        };
        ProcessingFailed {
            at,
            offset: i64::try_from(message.offset).ok(),
            failure,
            reason,
        }
        .emit();
    }
}

/// How long ago `timestamp_ms` was (0 if it is in the future: clocks differ).
pub fn age_of(timestamp_ms: i64) -> Duration {
    let now_ms = chrono::Utc::now().timestamp_millis();
    Duration::from_millis(u64::try_from(now_ms.saturating_sub(timestamp_ms)).unwrap_or(0))
}

/// A [`Handler`] measured for `service` in consumer group `group`, run in the trace its
/// message carries.
pub struct Measured<H> {
    inner: H,
    owner: Owner,
}

impl<H> Measured<H> {
    pub fn new(service: &str, group: &str, inner: H) -> Self {
        Self {
            inner,
            owner: Owner::new(service, group),
        }
    }
}

#[async_trait]
impl<H: Handler> Handler for Measured<H> {
    async fn handle(&self, message: &Message) -> Outcome {
        self.owner.consumed(message);
        let span = tracing::info_span!(
            "consume",
            service = %self.owner.service,
            group = %self.owner.group,
            topic = %message.topic,
            partition = message.partition,
            offset = message.offset,
            trace_id = tracing::field::Empty,
        );
        let parent = TraceParent::extract(message);
        if let Some(parent) = parent {
            otlp::set_remote_parent(&span, parent);
        }
        let context = otlp::handed_on(&span, parent);
        span.record("trace_id", context.trace_id_hex().as_str());
        let started = Instant::now();
        let outcome = trace::scope(context, self.inner.handle(message).instrument(span)).await;
        self.owner
            .handled(message, started.elapsed(), Some(&outcome));
        outcome
    }
}

/// Most other traces a batch span links to.
pub const BATCH_LINKS_MAX: usize = 32;

/// A [`BatchHandler`] measured for `service` in consumer group `group`. The processing
/// latency recorded per message is the batch's time divided by its size (a batch is applied
/// as one unit); the batch runs in the trace of its first message, linked to the others'.
pub struct MeasuredBatch<H> {
    inner: H,
    owner: Owner,
}

impl<H> MeasuredBatch<H> {
    pub fn new(service: &str, group: &str, inner: H) -> Self {
        Self {
            inner,
            owner: Owner::new(service, group),
        }
    }
}

/// The span a batch runs in: a child of its first message's trace, linked to the (at most
/// [`BATCH_LINKS_MAX`]) other traces of the batch.
fn batch_span(owner: &Owner, batch: &[Message]) -> (tracing::Span, TraceParent) {
    let span = tracing::info_span!(
        "consume.batch",
        service = %owner.service,
        group = %owner.group,
        messages = batch.len(),
        trace_id = tracing::field::Empty,
    );
    let parent = batch.first().and_then(TraceParent::extract);
    if let Some(parent) = parent {
        otlp::set_remote_parent(&span, parent);
    }
    let mut linked = std::collections::HashSet::new();
    for other in batch.iter().skip(1).filter_map(TraceParent::extract) {
        if linked.len() >= BATCH_LINKS_MAX {
            break;
        }
        if Some(other.trace_id) != parent.map(|p| p.trace_id) && linked.insert(other.trace_id) {
            otlp::add_link(&span, other);
        }
    }
    let context = otlp::handed_on(&span, parent);
    span.record("trace_id", context.trace_id_hex().as_str());
    (span, context)
}

#[async_trait]
impl<H: BatchHandler> BatchHandler for MeasuredBatch<H> {
    async fn handle(&self, batch: &[Message]) -> Vec<Outcome> {
        for message in batch {
            self.owner.consumed(message);
            if let Some(context) = TraceParent::extract(message) {
                tracing::debug!(
                    service = %self.owner.service,
                    topic = %message.topic,
                    offset = message.offset,
                    trace_id = %context.trace_id_hex(),
                    "message in batch"
                );
            }
        }
        let (span, context) = batch_span(&self.owner, batch);
        let started = Instant::now();
        let outcomes = trace::scope(context, self.inner.handle(batch).instrument(span)).await;
        let share = started.elapsed() / u32::try_from(batch.len().max(1)).unwrap_or(u32::MAX);
        for (i, message) in batch.iter().enumerate() {
            self.owner.handled(message, share, outcomes.get(i));
        }
        outcomes
    }
}

/// The span of a store write made while handling a message: a child of the message's
/// `consume` span (so of its trace), named like the ledger's, with what is written.
pub fn store_span(service: &str, operation: &'static str) -> tracing::Span {
    tracing::info_span!("store.commit", service, operation)
}
