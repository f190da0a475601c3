//! Metrics (S3-13): the names, the Prometheus recorder, and one typed function per thing
//! that happens, so that services never spell a metric name or a label themselves.
//! Naming rules: `docs/observability.md`.
//!
//! The recorder is process-global (the `metrics` facade allows one), installed once by
//! [`install`]; every gateway built in the same process (tests build many) shares it.

use std::sync::OnceLock;

use edalab_bus::port::Admin;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Every metric name edalab exports, in one place.
pub mod names {
    /// Counter `{service, topic}`: records produced (acknowledged by the bus).
    pub const MESSAGES_PRODUCED_TOTAL: &str = "edalab_messages_produced_total";
    /// Counter `{service, group, topic}`: messages handed to a handler.
    pub const MESSAGES_CONSUMED_TOTAL: &str = "edalab_messages_consumed_total";
    /// Histogram `{service, group, topic}`: message timestamp → start of handling (end to
    /// end).
    pub const MESSAGE_LATENCY_SECONDS: &str = "edalab_message_latency_seconds";
    /// Histogram `{service, group, topic}`: time spent in the handler.
    pub const PROCESSING_LATENCY_SECONDS: &str = "edalab_processing_latency_seconds";
    /// Counter `{service, group, topic, outcome}`: handler outcomes other than done
    /// (`retry`, `reject`; `poll` for a tail that cannot read).
    pub const PROCESSING_ERRORS_TOTAL: &str = "edalab_processing_errors_total";
    /// Counter `{service, topic}`: bytes (key, value, headers) of the records produced.
    pub const BUS_BYTES_IN_TOTAL: &str = "edalab_bus_bytes_in_total";
    /// Counter `{service, group, topic}`: bytes (key, value, headers) of the messages
    /// consumed.
    pub const BUS_BYTES_OUT_TOTAL: &str = "edalab_bus_bytes_out_total";
    /// Counter `{outcome}`: banking events the ledger committed (`applied`, `refused`,
    /// `duplicate`).
    pub const LEDGER_EVENTS_TOTAL: &str = "edalab_ledger_events_total";
    /// Counter `{code}`: the ledger's business refusals by reason.
    pub const LEDGER_REFUSALS_TOTAL: &str = "edalab_ledger_refusals_total";
    /// Counters (S2-04): intake orders recorded with each status.
    pub const ORDERS_PROCESSED_TOTAL: &str = "edalab_orders_processed_total";
    pub const ORDERS_REJECTED_TOTAL: &str = "edalab_orders_rejected_total";
    pub const ORDERS_DUPLICATE_TOTAL: &str = "edalab_orders_duplicate_total";
    /// Gauge: tasks alive on the process's tokio runtime.
    pub const TOKIO_ALIVE_TASKS: &str = "edalab_tokio_alive_tasks";
    /// Gauge: tasks waiting in the runtime's global queue.
    pub const TOKIO_GLOBAL_QUEUE_DEPTH: &str = "edalab_tokio_global_queue_depth";
    /// The process's own series (CPU seconds, resident memory, open file descriptors,
    /// threads, start time), the Prometheus client libraries' names (`metrics-process`).
    pub const PROCESS_CPU_SECONDS_TOTAL: &str = "process_cpu_seconds_total";
    pub const PROCESS_RESIDENT_MEMORY_BYTES: &str = "process_resident_memory_bytes";
    pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
    /// Gauge `{group, topic, partition}`: high watermark − committed offset.
    pub const CONSUMER_LAG: &str = "edalab_consumer_lag";
    /// Gauge `{topic}`: messages in a dead-letter topic not yet redriven.
    pub const DLQ_DEPTH: &str = "edalab_dlq_depth";
    /// Gauge: WebSocket clients connected to the hub.
    pub const WS_CLIENTS: &str = "edalab_ws_clients";
    /// Counter: events dropped for WebSocket clients that did not keep up.
    pub const WS_DROPPED_MESSAGES_TOTAL: &str = "edalab_ws_dropped_messages_total";
    /// Counter `{reason}`: WebSocket clients disconnected by the server (`send_timeout`,
    /// `too_slow`).
    pub const WS_DISCONNECTED_CLIENTS_TOTAL: &str = "edalab_ws_disconnected_clients_total";
    /// Counter `{code}`: requests refused before any handler (`misdirected_request`,
    /// `forbidden_origin`, `unauthorized`, `unsupported_media_type`; ADR 018).
    pub const HTTP_REFUSED_REQUESTS_TOTAL: &str = "edalab_http_refused_requests_total";
    /// Counter: handler panics answered with a 500 by the last-resort layer.
    pub const HTTP_PANICS_TOTAL: &str = "edalab_http_panics_total";

    /// The five names the seed (S3-13) asks for.
    pub const SEED: [&str; 5] = [
        MESSAGES_PRODUCED_TOTAL,
        MESSAGES_CONSUMED_TOTAL,
        MESSAGE_LATENCY_SECONDS,
        PROCESSING_LATENCY_SECONDS,
        PROCESSING_ERRORS_TOTAL,
    ];
}

/// Latency buckets in seconds: 100 µs to 30 s, roughly ×2.5 apart.
const LATENCY_BUCKETS_SECONDS: [f64; 16] = [
    0.000_1, 0.000_25, 0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    10.0, 30.0,
];

#[derive(Debug, thiserror::Error)]
#[error("cannot install the Prometheus recorder: {0}")]
pub struct MetricsError(String);

static HANDLE: OnceLock<Result<PrometheusHandle, String>> = OnceLock::new();

/// Installs the Prometheus recorder (once per process) and returns its handle.
pub fn install() -> Result<PrometheusHandle, MetricsError> {
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(
                    Matcher::Suffix("_seconds".to_owned()),
                    &LATENCY_BUCKETS_SECONDS,
                )
                .map_err(|e| e.to_string())?
                .install_recorder()
                .map_err(|e| e.to_string())?;
            describe();
            process_collector().describe();
            Ok(handle)
        })
        .clone()
        .map_err(MetricsError)
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        names::MESSAGES_PRODUCED_TOTAL,
        Unit::Count,
        "Records produced, acknowledged by the bus."
    );
    describe_counter!(
        names::BUS_BYTES_IN_TOTAL,
        Unit::Bytes,
        "Bytes of the records produced (key, value, headers)."
    );
    describe_counter!(
        names::BUS_BYTES_OUT_TOTAL,
        Unit::Bytes,
        "Bytes of the messages consumed (key, value, headers)."
    );
    describe_counter!(
        names::LEDGER_EVENTS_TOTAL,
        Unit::Count,
        "Banking events the ledger committed, by outcome."
    );
    describe_counter!(
        names::LEDGER_REFUSALS_TOTAL,
        Unit::Count,
        "Business refusals of the ledger, by reason."
    );
    describe_counter!(
        names::ORDERS_PROCESSED_TOTAL,
        "Orders recorded PROCESSED (S2-04)"
    );
    describe_counter!(
        names::ORDERS_REJECTED_TOTAL,
        "Orders recorded REJECTED and dead-lettered (S2-04)"
    );
    describe_counter!(
        names::ORDERS_DUPLICATE_TOTAL,
        "Orders recorded DUPLICATE: order_id already recorded (S2-04)"
    );
    describe_gauge!(
        names::TOKIO_ALIVE_TASKS,
        Unit::Count,
        "Tasks alive on the tokio runtime."
    );
    describe_gauge!(
        names::TOKIO_GLOBAL_QUEUE_DEPTH,
        Unit::Count,
        "Tasks waiting in the tokio runtime's global queue."
    );
    describe_counter!(
        names::MESSAGES_CONSUMED_TOTAL,
        Unit::Count,
        "Messages handed to a handler."
    );
    describe_histogram!(
        names::MESSAGE_LATENCY_SECONDS,
        Unit::Seconds,
        "From the message timestamp to the start of its handling."
    );
    describe_histogram!(
        names::PROCESSING_LATENCY_SECONDS,
        Unit::Seconds,
        "Time spent handling one message."
    );
    describe_counter!(
        names::PROCESSING_ERRORS_TOTAL,
        Unit::Count,
        "Handler outcomes other than done (retry, reject)."
    );
    describe_gauge!(
        names::CONSUMER_LAG,
        Unit::Count,
        "High watermark minus committed offset, per group and partition."
    );
    describe_gauge!(
        names::DLQ_DEPTH,
        Unit::Count,
        "Messages in a dead-letter topic."
    );
    describe_gauge!(
        names::WS_CLIENTS,
        Unit::Count,
        "WebSocket clients connected."
    );
    describe_counter!(
        names::WS_DROPPED_MESSAGES_TOTAL,
        Unit::Count,
        "Events dropped for slow WebSocket clients."
    );
    describe_counter!(
        names::WS_DISCONNECTED_CLIENTS_TOTAL,
        Unit::Count,
        "WebSocket clients disconnected by the server, by reason."
    );
    describe_counter!(
        names::HTTP_REFUSED_REQUESTS_TOTAL,
        Unit::Count,
        "Requests refused before any handler (Host, Origin, token, media type)."
    );
    describe_counter!(
        names::HTTP_PANICS_TOTAL,
        Unit::Count,
        "Handler panics answered with a 500."
    );
}

pub fn consumer_lag(group: &str, topic: &str, partition: u32, lag: u64) {
    metrics::gauge!(names::CONSUMER_LAG, "group" => group.to_owned(), "topic" => topic.to_owned(), "partition" => partition.to_string())
        .set(lag as f64);
}

pub fn dlq_depth(topic: &str, depth: u64) {
    metrics::gauge!(names::DLQ_DEPTH, "topic" => topic.to_owned()).set(depth as f64);
}

pub fn ws_clients(count: usize) {
    metrics::gauge!(names::WS_CLIENTS).set(count as f64);
}

pub fn ws_dropped(count: u64) {
    metrics::counter!(names::WS_DROPPED_MESSAGES_TOTAL).increment(count);
}

/// The server disconnected a WebSocket client (`reason`: `send_timeout`, `too_slow`).
pub fn ws_disconnected(reason: &'static str) {
    metrics::counter!(names::WS_DISCONNECTED_CLIENTS_TOTAL, "reason" => reason).increment(1);
}

/// A request was refused before any handler, with the error `code` it got.
pub fn http_refused(code: &'static str) {
    metrics::counter!(names::HTTP_REFUSED_REQUESTS_TOTAL, "code" => code).increment(1);
}

/// A handler panicked and the client got a 500.
pub fn http_panic() {
    metrics::counter!(names::HTTP_PANICS_TOTAL).increment(1);
}

fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// Refreshes the process's gauges (CPU, memory, file descriptors, threads) and the tokio
/// runtime's (alive tasks, global queue), read at each scrape.
pub fn refresh_process_gauges() {
    process_collector().collect();
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        let runtime = runtime.metrics();
        metrics::gauge!(names::TOKIO_ALIVE_TASKS).set(runtime.num_alive_tasks() as f64);
        metrics::gauge!(names::TOKIO_GLOBAL_QUEUE_DEPTH).set(runtime.global_queue_depth() as f64);
    }
}

/// More gauges read at a scrape, from what is not the bus (the aws profile's SQS queues):
/// the gateway calls every registered source, under the same timeout as the bus's.
#[async_trait::async_trait]
pub trait GaugeSource: Send + Sync {
    /// Sets the source's gauges ([`consumer_lag`], [`dlq_depth`]...); errors are logged
    /// and skipped, as [`refresh_bus_gauges`] does.
    async fn refresh(&self);
}

/// Whether `topic` is a dead-letter topic: `system.dlq`, `*.dlq`, `*-dlq`.
pub fn is_dlq_topic(topic: &str) -> bool {
    topic.ends_with(".dlq") || topic.ends_with("-dlq") || topic == "dlq"
}

/// Refreshes the lag and DLQ-depth gauges from the bus. Groups whose name starts with one
/// of `ignored_group_prefixes` (the hub's private tails) are skipped. Errors are logged and
/// skipped: a scrape shows what could be read.
pub async fn refresh_bus_gauges(admin: &dyn Admin, ignored_group_prefixes: &[&str]) {
    match admin.list_groups().await {
        Ok(groups) => {
            for group in groups
                .iter()
                .filter(|g| !ignored_group_prefixes.iter().any(|p| g.starts_with(p)))
            {
                match admin.group_lag(group).await {
                    Ok(partitions) => {
                        for p in partitions {
                            consumer_lag(group, &p.topic, p.partition, p.lag);
                        }
                    }
                    Err(e) => tracing::debug!(group, error = %e, "cannot read group lag"),
                }
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot list consumer groups"),
    }
    match admin.list_topics().await {
        Ok(topics) => {
            for topic in topics.iter().filter(|t| is_dlq_topic(t)) {
                // What a redrive has not moved yet (redriven messages stay in the log).
                match edalab_bus::runtime::pending_depth(admin, topic).await {
                    Ok(depth) => dlq_depth(topic, depth),
                    Err(e) => tracing::debug!(topic, error = %e, "cannot read DLQ depth"),
                }
            }
        }
        Err(e) => tracing::debug!(error = %e, "cannot list topics"),
    }
}
