//! OpenTelemetry span export over OTLP/HTTP (protobuf), switched on by `otlp.enabled`.
//!
//! `tracing` spans become OpenTelemetry spans through `tracing-opentelemetry`; a batch
//! processor (its own thread, bounded queue) POSTs them to `<otlp.endpoint>/v1/traces`.
//! The W3C context of [`super::trace`] stays the single source of truth for what crosses
//! process and bus boundaries, and the two agree:
//!
//! - [`set_remote_parent`] makes a span continue a context that came from outside (a
//!   request's `traceparent`, a message's header);
//! - [`exported_context`] gives the span's own ids once it is exported, so what is handed on
//!   (the task-local context, the `traceparent` injected into records and forwarded
//!   requests) names a span the collector actually receives.
//!
//! With export off, both are no-ops and the task-local context works as before (ADR 007).

use std::time::Duration;

use opentelemetry::trace::{
    SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState, TracerProvider as _,
};
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::TraceParent;
use crate::config::OtlpConfig;

/// The exporter could not be built.
#[derive(Debug, thiserror::Error)]
#[error("otlp.endpoint: cannot build the OTLP exporter for {endpoint}: {reason}")]
pub struct OtlpError {
    pub endpoint: String,
    pub reason: String,
}

/// `<endpoint>/v1/traces`.
pub fn traces_url(config: &OtlpConfig) -> String {
    format!("{}/v1/traces", config.endpoint.trim().trim_end_matches('/'))
}

/// A tracer provider exporting `service`'s spans to `config.endpoint` in batches.
pub fn provider(service: &str, config: &OtlpConfig) -> Result<SdkTracerProvider, OtlpError> {
    let url = traces_url(config);
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(url.clone())
        .with_timeout(Duration::from_millis(config.timeout_ms))
        .build()
        .map_err(|e| OtlpError {
            endpoint: url,
            reason: e.to_string(),
        })?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build())
}

/// The `tracing` layer that turns spans into `provider`'s OpenTelemetry spans.
pub fn layer<S>(
    provider: &SdkTracerProvider,
) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("edalab"))
}

/// Makes `span` (not yet entered) continue `parent`, a context received from elsewhere.
/// Without export (no OpenTelemetry layer) this does nothing.
pub fn set_remote_parent(span: &tracing::Span, parent: TraceParent) {
    let context = opentelemetry::Context::new().with_remote_span_context(span_context(parent));
    // `LayerNotFound` when export is off, `SpanDisabled` when the span is filtered out:
    // both mean there is nothing to export, which is fine.
    let _ = span.set_parent(context);
}

/// Links `span` to another trace (a batch's other messages).
pub fn add_link(span: &tracing::Span, other: TraceParent) {
    span.add_link(span_context(other));
}

/// `span`'s own trace context when it is exported; `None` when export is off or the span is
/// filtered out (then the caller derives one from the task-local context).
pub fn exported_context(span: &tracing::Span) -> Option<TraceParent> {
    let context = span.context();
    let span_ref = context.span();
    let ids = span_ref.span_context();
    ids.is_valid().then(|| TraceParent {
        trace_id: ids.trace_id().to_bytes(),
        span_id: ids.span_id().to_bytes(),
        flags: ids.trace_flags().to_u8(),
    })
}

/// The context to hand on from inside `span`: its own ids when exported, else a child of
/// `parent`, else a new root.
pub fn handed_on(span: &tracing::Span, parent: Option<TraceParent>) -> TraceParent {
    exported_context(span)
        .unwrap_or_else(|| parent.map_or_else(TraceParent::new_root, |p| p.child()))
}

fn span_context(parent: TraceParent) -> SpanContext {
    SpanContext::new(
        TraceId::from_bytes(parent.trace_id),
        SpanId::from_bytes(parent.span_id),
        TraceFlags::new(parent.flags),
        true,
        TraceState::default(),
    )
}
