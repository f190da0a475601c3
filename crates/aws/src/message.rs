//! Records to SQS messages and SQS messages to the runtime's [`Message`]
//! (`docs/adr/026-aws-profile.md` §2), in one place.
//!
//! Sending: the body is the record's value (UTF-8 text, as the seeds' JSON); `Record.key` is
//! the String attribute [`KEY_ATTRIBUTE`]; each header a String attribute. At most
//! [`ATTRIBUTES_MAX`] attributes, checked here because emulators accept more than AWS does.
//! Receiving: `topic` = the queue, `partition` 0, `offset` = a 63-bit hash of the origin
//! message id (stable, says nothing of order), header `event_id` = the origin id when the
//! sender set none, header `attempt` = `ApproximateReceiveCount`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use aws_sdk_sqs::types::{
    MessageAttributeValue, MessageSystemAttributeName, SendMessageBatchRequestEntry,
};
use edalab_bus::port::headers;
use edalab_bus::{BusError, Message, Record};

/// The String attribute carrying `Record.key`.
pub const KEY_ATTRIBUTE: &str = "key";
/// The String attribute naming the original `MessageId` of a message re-sent by a redrive.
pub const ORIGIN_ID_ATTRIBUTE: &str = "edalab-origin-message-id";
/// Message attributes per message on AWS (the key counts as one).
pub const ATTRIBUTES_MAX: usize = 10;
/// Longest attribute name on AWS.
const ATTRIBUTE_NAME_CHARS_MAX: usize = 256;

/// What one record becomes: its body and its String attributes, by name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing {
    pub body: String,
    pub attributes: BTreeMap<String, String>,
}

/// Checks `record` (the `index`-th for `queue`) and maps it, or says what SQS would refuse.
pub fn outgoing(queue: &str, index: usize, record: &Record) -> Result<Outgoing, BusError> {
    let refuse = |reason: String| BusError::UnsupportedRecord {
        queue: queue.to_owned(),
        index,
        reason,
    };
    let body = String::from_utf8(record.value.clone())
        .map_err(|_| refuse("the value is not UTF-8 text (an SQS body is text)".to_owned()))?;
    if body.is_empty() {
        return Err(refuse(
            "the value is empty (an SQS body has at least one character)".to_owned(),
        ));
    }
    if let Some(c) = body.chars().find(|c| !body_char_allowed(*c)) {
        return Err(refuse(format!(
            "the value holds {c:?}, which SQS refuses in a body"
        )));
    }
    let mut attributes = BTreeMap::new();
    if let Some(key) = &record.key {
        let key = attribute_text(key).map_err(|why| refuse(format!("the key {why}")))?;
        attributes.insert(KEY_ATTRIBUTE.to_owned(), key);
    }
    for (name, value) in &record.headers {
        if name == KEY_ATTRIBUTE {
            return Err(refuse(format!(
                "header `{KEY_ATTRIBUTE}` is reserved for the record key"
            )));
        }
        check_attribute_name(name).map_err(|why| refuse(format!("header `{name}` {why}")))?;
        let value =
            attribute_text(value).map_err(|why| refuse(format!("header `{name}` {why}")))?;
        // A repeated header keeps its last value, as `Message::header` reads it.
        attributes.insert(name.clone(), value);
    }
    if attributes.len() > ATTRIBUTES_MAX {
        return Err(refuse(format!(
            "it needs {} message attributes (the key and each distinct header), SQS allows {ATTRIBUTES_MAX}",
            attributes.len()
        )));
    }
    Ok(Outgoing { body, attributes })
}

/// The batch entry of `outgoing`, with id `id` (unique in its batch).
pub fn batch_entry(
    id: usize,
    outgoing: Outgoing,
) -> Result<SendMessageBatchRequestEntry, BusError> {
    let mut entry = SendMessageBatchRequestEntry::builder()
        .id(id.to_string())
        .message_body(outgoing.body);
    for (name, value) in outgoing.attributes {
        entry = entry.message_attributes(name, string_attribute(value)?);
    }
    entry
        .build()
        .map_err(|e| BusError::Backend(format!("SQS batch entry: {e}")))
}

/// A String message attribute.
pub fn string_attribute(value: String) -> Result<MessageAttributeValue, BusError> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| BusError::Backend(format!("SQS message attribute: {e}")))
}

/// SQS's allowed body characters: #x9 | #xA | #xD | #x20–#xD7FF | #xE000–#xFFFD | #x10000+.
fn body_char_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

fn attribute_text(bytes: &[u8]) -> Result<String, String> {
    let text = String::from_utf8(bytes.to_vec()).map_err(|_| "is not UTF-8 text".to_owned())?;
    if text.is_empty() {
        return Err("is empty (SQS refuses empty attribute values)".to_owned());
    }
    if let Some(c) = text.chars().find(|c| !body_char_allowed(*c)) {
        return Err(format!("holds {c:?}, which SQS refuses"));
    }
    Ok(text)
}

/// AWS's rules for attribute names.
fn check_attribute_name(name: &str) -> Result<(), String> {
    let lower = name.to_ascii_lowercase();
    if name.is_empty() || name.len() > ATTRIBUTE_NAME_CHARS_MAX {
        Err(format!(
            "must have 1 to {ATTRIBUTE_NAME_CHARS_MAX} characters for SQS"
        ))
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        Err("may hold only ASCII letters, digits, `_`, `-` and `.` for SQS".to_owned())
    } else if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        Err("may not start or end with `.` nor hold `..` for SQS".to_owned())
    } else if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        Err("may not start with `AWS.` or `Amazon.` (reserved by SQS)".to_owned())
    } else {
        Ok(())
    }
}

/// A received SQS message, mapped, with what settling it needs.
#[derive(Clone, Debug)]
pub struct Received {
    pub message: Message,
    pub message_id: String,
    pub receipt_handle: String,
    /// `ApproximateReceiveCount`: 1 on the first receive.
    pub receive_count: u32,
}

/// Maps `message` received from `queue`; `None` without a receipt handle (it cannot be
/// settled, and SQS redelivers it after its visibility timeout).
pub fn received(queue: &Arc<str>, message: &aws_sdk_sqs::types::Message) -> Option<Received> {
    let receipt_handle = message.receipt_handle()?.to_owned();
    let message_id = message.message_id().unwrap_or_default().to_owned();
    let system = |name: MessageSystemAttributeName| {
        message
            .attributes()
            .and_then(|a| a.get(&name))
            .map(String::as_str)
    };
    let receive_count = system(MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1);
    let timestamp_ms = system(MessageSystemAttributeName::SentTimestamp)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let mut attributes: HashMap<String, String> = message
        .message_attributes()
        .into_iter()
        .flatten()
        .filter_map(|(name, value)| Some((name.clone(), value.string_value()?.to_owned())))
        .collect();
    let key = attributes.remove(KEY_ATTRIBUTE).map(String::into_bytes);
    let origin_id = attributes
        .get(ORIGIN_ID_ATTRIBUTE)
        .cloned()
        .unwrap_or_else(|| message_id.clone());
    let mut message_headers: Vec<(String, Vec<u8>)> = attributes
        .into_iter()
        .filter(|(name, _)| name != headers::ATTEMPT)
        .map(|(name, value)| (name, value.into_bytes()))
        .collect();
    message_headers.sort();
    if !message_headers
        .iter()
        .any(|(name, _)| name == headers::EVENT_ID)
    {
        message_headers.push((headers::EVENT_ID.to_owned(), origin_id.clone().into_bytes()));
    }
    message_headers.push((
        headers::ATTEMPT.to_owned(),
        receive_count.to_string().into_bytes(),
    ));
    Some(Received {
        message: Message {
            topic: Arc::clone(queue),
            partition: 0,
            offset: offset_of(&origin_id),
            key,
            value: message.body().unwrap_or_default().as_bytes().to_vec(),
            headers: message_headers,
            timestamp_ms,
        },
        message_id,
        receipt_handle,
        receive_count,
    })
}

/// A stable 63-bit number for a message id (FNV-1a 64, top bit cleared): the `offset` of a
/// message that has none, the same in every process and version.
pub fn offset_of(message_id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in message_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash & (u64::MAX >> 1)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn record(headers: usize) -> Record {
        let mut record = Record::new(Some(b"k-1".to_vec()), br#"{"a":1}"#.to_vec());
        for i in 0..headers {
            record = record.with_header(format!("h{i}"), format!("v{i}"));
        }
        record
    }

    #[test]
    fn key_and_headers_become_attributes_up_to_ten() {
        let out = outgoing("q", 0, &record(9)).unwrap();
        assert_eq!(out.attributes.len(), 10);
        assert_eq!(out.attributes[KEY_ATTRIBUTE], "k-1");
        assert_eq!(out.body, r#"{"a":1}"#);
        let error = outgoing("q", 4, &record(10)).unwrap_err().to_string();
        assert!(
            error.contains("record 4 for queue `q`") && error.contains("11 message attributes"),
            "{error}"
        );
    }

    #[test]
    fn refuses_what_sqs_would() {
        let cases = [
            (Record::new(None, vec![0xff]), "not UTF-8"),
            (Record::new(None, Vec::new()), "empty"),
            (
                Record::new(None, b"a".to_vec()).with_header("key", "x"),
                "reserved",
            ),
            (
                Record::new(None, b"a".to_vec()).with_header("AWS.x", "x"),
                "reserved by SQS",
            ),
            (
                Record::new(None, b"a".to_vec()).with_header("a b", "x"),
                "ASCII",
            ),
            (
                Record::new(None, b"a".to_vec()).with_header("h", ""),
                "empty",
            ),
            (Record::new(None, b"a\x01".to_vec()), "refuses"),
        ];
        for (record, want) in cases {
            let error = outgoing("q", 0, &record).unwrap_err().to_string();
            assert!(error.contains(want), "{error} should say {want}");
        }
    }

    #[test]
    fn offsets_are_stable_and_63_bit() {
        assert_eq!(offset_of("a"), offset_of("a"));
        assert_ne!(offset_of("a"), offset_of("b"));
        assert!(offset_of("0f6a-…") < 1 << 63);
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; the top bit cleared:
        assert_eq!(offset_of("a"), 0x2f63_dc4c_8601_ec8c);
    }
}
