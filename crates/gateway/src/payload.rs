//! What the hub sends: bus messages rendered as JSON for people and browsers.
//!
//! A payload is rendered, in order of preference, as: the decoded Avro record (Confluent
//! wire format, any schema the catalog knows, via [`edalab_schema::render_json`]); the JSON
//! it already is; a UTF-8 string; `{"base64": "..."}` for anything else.

use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};
use edalab_bus::port::{Message, headers};
use edalab_schema::SchemaCatalog;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::ToSchema;

/// A message from the server to a WebSocket client (S3-12).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ServerMessage {
    /// `event`, `status` or `error`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The topic of an event; `null` for status and error messages.
    pub topic: Option<String>,
    /// The event (decoded to JSON), or the status or error details.
    #[schema(value_type = Object)]
    pub payload: Value,
    /// RFC 3339 with milliseconds: the event's timestamp, or the time of the status.
    pub timestamp: String,
    /// Partition of an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    /// Offset of an event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// Key of an event, as text when it is UTF-8.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// A message from a WebSocket client: `{"action": "subscribe", "topics": ["*"]}`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClientMessage {
    pub action: Action,
    /// Topic names; `"*"` means every topic.
    pub topics: Vec<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Subscribe,
    Unsubscribe,
}

pub fn rfc3339_ms(timestamp_ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(timestamp_ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The payload of `message` as JSON.
pub fn render_payload(catalog: &SchemaCatalog, message: &Message) -> Value {
    let bytes = &message.value;
    let framed = bytes.first() == Some(&0) && bytes.len() >= 5;
    if let Some(json) = framed
        .then(|| edalab_schema::render_json(catalog, bytes).ok())
        .flatten()
    {
        return json;
    }
    let says_json = message
        .header(headers::CONTENT_TYPE)
        .is_some_and(|v| v.windows(4).any(|w| w == b"json"));
    let looks_json = bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| matches!(b, b'{' | b'[' | b'"'));
    if let Some(json) = (says_json || looks_json)
        .then(|| serde_json::from_slice::<Value>(bytes).ok())
        .flatten()
    {
        return json;
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Value::String(text.to_owned()),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

/// The `event` message for `message`, as JSON text.
pub fn event_text(catalog: &SchemaCatalog, message: &Message) -> String {
    let event = ServerMessage {
        kind: "event".to_owned(),
        topic: Some(message.topic.to_string()),
        payload: render_payload(catalog, message),
        timestamp: rfc3339_ms(message.timestamp_ms),
        partition: Some(message.partition),
        offset: Some(message.offset),
        key: message
            .key
            .as_deref()
            .map(|k| String::from_utf8_lossy(k).into_owned()),
    };
    to_text(&event)
}

/// A `status` message.
pub fn status_text(payload: Value) -> String {
    to_text(&ServerMessage {
        kind: "status".to_owned(),
        topic: None,
        payload,
        timestamp: now_rfc3339(),
        partition: None,
        offset: None,
        key: None,
    })
}

/// An `error` message: `{code, error}`.
pub fn error_text(code: &str, error: &str) -> String {
    to_text(&ServerMessage {
        kind: "error".to_owned(),
        topic: None,
        payload: json!({ "code": code, "error": error }),
        timestamp: now_rfc3339(),
        partition: None,
        offset: None,
        key: None,
    })
}

fn to_text(message: &ServerMessage) -> String {
    // Serialising a struct of strings and `Value`s cannot fail.
    serde_json::to_string(message).unwrap_or_default()
}
