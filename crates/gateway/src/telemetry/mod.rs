//! Telemetry every service shares: metrics ([`metrics`]), W3C trace context ([`trace`]),
//! JSON logs ([`logging`]), OTLP span export ([`otlp`], off by default), and two wrappers that make a service observable without it
//! spelling a metric name or a header:
//!
//! - [`InstrumentedBus`] wraps a [`Bus`]: every produced record gets a `traceparent`
//!   header (a child of the current trace, or a new root) and is counted in
//!   `edalab_messages_produced_total{service,topic}`;
//! - [`Measured`] wraps a per-message [`Handler`]: it continues the message's trace,
//!   counts `edalab_messages_consumed_total`, records both latency histograms and counts
//!   `edalab_processing_errors_total` for `Retry`/`Reject`; [`MeasuredBatch`] does the same
//!   for a [`BatchHandler`] (the batch runs in the trace of its first message, linked to the
//!   traces of the others).
//!
//! Spans: `http.request` (router), `produce` ([`InstrumentedBus`]), `consume` /
//! `consume.batch` (the wrappers), and whatever the handlers open inside (the ledger's
//! `ledger.batch` and `store.commit`). Exported, they form one trace per request across
//! processes and the bus (`docs/observability.md`).

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

pub use self::metrics::{
    message_consumed, message_processed, message_produced, messages_produced, processing_error,
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
        let deliveries = self.inner.produce(topic, records).instrument(span).await?;
        messages_produced(&self.service, topic, count);
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
        let span = tracing::info_span!(
            "consume",
            service = %self.service,
            topic,
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

/// Most other traces a batch span links to.
pub const BATCH_LINKS_MAX: usize = 32;

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
        let span = tracing::info_span!(
            "consume.batch",
            service = %self.service,
            messages = batch.len(),
            trace_id = tracing::field::Empty,
        );
        let parent = batch.first().and_then(TraceParent::extract);
        if let Some(parent) = parent {
            otlp::set_remote_parent(&span, parent);
        }
        // The other messages' traces, as links (bounded: a batch may hold thousands).
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
        let started = Instant::now();
        let outcomes = trace::scope(context, self.inner.handle(batch).instrument(span)).await;
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
