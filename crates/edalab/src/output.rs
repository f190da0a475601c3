//! How messages are printed (`text`, `json`) and the value-decoding hook.
//!
//! `json`: one object per line, `{topic, partition, offset, key, timestamp, headers, value}`.
//! `timestamp` is milliseconds since the epoch (Kafka's unit); `headers` is an object (a
//! repeated name keeps its last value, as `Message::header` does); `key` and header values
//! are strings when UTF-8, else `{"base64": "..."}`; `value` goes through a
//! [`ValueDecoder`] — today JSON if it parses, else a string, else base64. Avro values
//! (Confluent wire format) get a decoder from the schema crate later: implement
//! [`ValueDecoder`] and pass it to [`json_line`].

use std::io::Write;

use base64::Engine;
use edalab_bus::Message;
use serde_json::{Map, Value, json};

/// Turns a message value into JSON for display.
pub trait ValueDecoder {
    fn decode(&self, message: &Message) -> Value;
}

/// JSON when the bytes parse as JSON, else UTF-8 text, else base64.
pub struct JsonOrText;

impl ValueDecoder for JsonOrText {
    fn decode(&self, message: &Message) -> Value {
        serde_json::from_slice(&message.value).unwrap_or_else(|_| bytes_value(&message.value))
    }
}

fn bytes_value(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

pub fn json_line(message: &Message, decoder: &dyn ValueDecoder) -> Value {
    let mut headers = Map::new();
    for (name, value) in &message.headers {
        headers.insert(name.clone(), bytes_value(value));
    }
    json!({
        "topic": message.topic.as_ref(),
        "partition": message.partition,
        "offset": message.offset,
        "key": message.key.as_deref().map(bytes_value),
        "timestamp": message.timestamp_ms,
        "headers": headers,
        "value": decoder.decode(message),
    })
}

pub fn text_line(message: &Message) -> String {
    format!(
        "{}\t{}\t{}\t{}",
        message.partition,
        message.offset,
        message
            .key
            .as_deref()
            .map_or("-".into(), String::from_utf8_lossy),
        String::from_utf8_lossy(&message.value)
    )
}

pub fn print_messages(messages: &[Message], format: crate::cli::Format) -> anyhow::Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for m in messages {
        match format {
            crate::cli::Format::Json => writeln!(out, "{}", json_line(m, &JsonOrText))?,
            crate::cli::Format::Text => writeln!(out, "{}", text_line(m))?,
        }
    }
    out.flush()?;
    Ok(())
}

/// `tail | head` closes the pipe early: that is not an error.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
