//! The telemetry settings a process starts with: logs (`log.*`) and span export (`otlp.*`).
//! Their checks against the rest of the configuration are the configuration's
//! (`edalab_gateway::config`).

use serde::{Deserialize, Serialize};

/// Log verbosity (S3-13: DEBUG..ERROR).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Trace,
    Debug,
    #[default]
    Info,
    Warn,
    Error,
}

impl LogLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Trace => "trace",
            Self::Debug => "debug",
            Self::Info => "info",
            Self::Warn => "warn",
            Self::Error => "error",
        }
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line, with `service` and `trace_id`.
    #[default]
    Json,
    /// Human-readable lines.
    Text,
}

/// Logs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    pub level: LogLevel,
    pub format: LogFormat,
}

/// OpenTelemetry span export over OTLP/HTTP (protobuf), off by default
/// (`docs/observability.md`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpConfig {
    pub enabled: bool,
    /// The collector's OTLP/HTTP base URL; spans are POSTed to `<endpoint>/v1/traces`.
    pub endpoint: String,
    /// Time allowed to one export request.
    pub timeout_ms: u64,
}

impl Default for OtlpConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: "http://127.0.0.1:4318".to_owned(),
            timeout_ms: 5_000,
        }
    }
}
