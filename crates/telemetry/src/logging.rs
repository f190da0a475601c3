//! Logs: one JSON object per line with `timestamp`, `level`, `service`, `trace_id` (when the
//! line is written inside a trace, see [`super::trace`]), `target`, `message` and the
//! event's fields; or human-readable text. The level comes from `log.level`.

use std::fmt;

use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

use crate::config::{LogConfig, LogFormat};

#[derive(Debug, thiserror::Error)]
#[error("cannot install the log subscriber: {0}")]
pub struct LoggingError(String);

impl LoggingError {
    pub fn new(reason: String) -> Self {
        Self(reason)
    }
}

/// The log-line layer for `service` in `format` (unfiltered: the caller adds the level).
pub fn layer<S>(
    service: &str,
    format: LogFormat,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync + 'static>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    use tracing_subscriber::Layer;
    match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .event_format(JsonLine {
                service: service.to_owned(),
            })
            .boxed(),
        LogFormat::Text => tracing_subscriber::fmt::layer().with_target(true).boxed(),
    }
}

/// Installs the global log subscriber for `service`. A second call in the same process
/// (tests) is an error the caller may ignore.
pub fn init(service: &str, config: &LogConfig) -> Result<(), LoggingError> {
    let filter = tracing_subscriber::EnvFilter::try_new(config.level.as_str())
        .map_err(|e| LoggingError(e.to_string()))?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    match config.format {
        LogFormat::Json => builder
            .event_format(JsonLine {
                service: service.to_owned(),
            })
            .try_init(),
        LogFormat::Text => builder.with_target(true).try_init(),
    }
    .map_err(|e| LoggingError(e.to_string()))
}

/// The JSON line format.
pub struct JsonLine {
    pub service: String,
}

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        writer.write_str(&self.render(event))?;
        writer.write_char('\n')
    }
}

impl JsonLine {
    /// The line for `event`, without the newline.
    pub fn render(&self, event: &Event<'_>) -> String {
        let mut fields = FieldsToJson(Map::new());
        event.record(&mut fields);
        let mut line = Map::new();
        line.insert(
            "timestamp".to_owned(),
            Value::String(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)),
        );
        line.insert(
            "level".to_owned(),
            Value::String(event.metadata().level().to_string()),
        );
        line.insert("service".to_owned(), Value::String(self.service.clone()));
        if let Some(context) = super::trace::current() {
            line.insert("trace_id".to_owned(), Value::String(context.trace_id_hex()));
            line.insert("span_id".to_owned(), Value::String(context.span_id_hex()));
        }
        line.insert(
            "target".to_owned(),
            Value::String(event.metadata().target().to_owned()),
        );
        let mut fields = fields.0;
        if let Some(message) = fields.remove("message") {
            line.insert("message".to_owned(), message);
        }
        for (name, value) in fields {
            line.entry(name).or_insert(value);
        }
        Value::Object(line).to_string()
    }
}

struct FieldsToJson(Map<String, Value>);

impl Visit for FieldsToJson {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::String(format!("{value:?}")));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0
            .insert(field.name().to_owned(), Value::String(value.to_owned()));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
}
