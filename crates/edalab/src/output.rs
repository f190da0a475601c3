//! How messages are printed (`text`, `json`), their values decoded for people.
//!
//! `json`: one object per line, `{topic, partition, offset, key, timestamp, headers, value}`.
//! `timestamp` is milliseconds since the epoch (Kafka's unit); `headers` is an object (a
//! repeated name keeps its last value, as `Message::header` does); `key` and header values
//! are strings when UTF-8, else `{"base64": "..."}`. `value` is what
//! [`edalab_schema::DisplayDecoder`] made of the bytes, like `kafka-avro-console-consumer`:
//! Confluent-framed Avro decoded through the schema registry to JSON, with
//! `value_schema_id` beside it; JSON as JSON; text as a string; anything else
//! `{"base64": "..."}` with `value_error` saying why it could not be decoded.

use std::io::Write;

use edalab_bus::Message;
use edalab_gateway::topics::bytes_value;
use edalab_schema::{DisplayDecoder, DisplayValue};
use serde_json::{Map, Value, json};

/// `value` (and `value_schema_id` or `value_error`) of a JSON line, added to `object`.
pub fn add_value(object: &mut Map<String, Value>, value: &DisplayValue) {
    object.insert("value".to_owned(), value.to_json());
    if let Some(id) = value.schema_id() {
        object.insert("value_schema_id".to_owned(), json!(id.0));
    }
    if let Some(reason) = value.error() {
        object.insert("value_error".to_owned(), json!(reason));
    }
}

pub fn json_line(message: &Message, value: &DisplayValue) -> Value {
    let mut headers = Map::new();
    for (name, value) in &message.headers {
        headers.insert(name.clone(), bytes_value(value));
    }
    let mut line = Map::new();
    line.insert("topic".to_owned(), json!(message.topic.as_ref()));
    line.insert("partition".to_owned(), json!(message.partition));
    line.insert("offset".to_owned(), json!(message.offset));
    line.insert(
        "key".to_owned(),
        json!(message.key.as_deref().map(bytes_value)),
    );
    line.insert("timestamp".to_owned(), json!(message.timestamp_ms));
    line.insert("headers".to_owned(), Value::Object(headers));
    add_value(&mut line, value);
    Value::Object(line)
}

/// The value (`bytes`, shown as `value`) as text: text and JSON as they are, Avro as compact
/// JSON prefixed with its schema id, undecodable bytes as base64 with the reason.
pub fn value_text(bytes: &[u8], value: &DisplayValue) -> String {
    match value {
        DisplayValue::Text(_) | DisplayValue::Json(_) => String::from_utf8_lossy(bytes).into(),
        DisplayValue::Avro { schema_id, value } => format!("[schema {schema_id}] {value}"),
        DisplayValue::Bytes { reason, .. } => format!("{} ({reason})", value.to_json()),
    }
}

pub fn text_line(message: &Message, value: &DisplayValue) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        message.partition,
        message.offset,
        message
            .key
            .as_deref()
            .map_or("-".into(), String::from_utf8_lossy),
        value_text(&message.value, value)
    )
}

pub async fn print_messages(
    messages: &[Message],
    format: crate::cli::Format,
    decoder: &mut DisplayDecoder<'_>,
) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    for m in messages {
        let value = decoder.decode(&m.value).await;
        let mut out = stdout.lock();
        match format {
            crate::cli::Format::Json => writeln!(out, "{}", json_line(m, &value))?,
            crate::cli::Format::Text => writeln!(out, "{}", text_line(m, &value))?,
        }
    }
    stdout.lock().flush()?;
    Ok(())
}

/// `tail | head` closes the pipe early: that is not an error.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
