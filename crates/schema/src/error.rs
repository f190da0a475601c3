//! [`WireError`]: everything that can go wrong turning events into bytes and back.
//!
//! Each variant names where it happened (the record and, when known, the field) so that a
//! dead-lettered message carries a reason a person can act on.

use crate::catalog::SchemaId;
use crate::decimal::DecimalError;

/// An error encoding, framing, unframing or decoding an Avro event.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Fewer bytes than the 5-byte Confluent header.
    #[error("message too short for the Confluent wire format: {len} bytes, need at least 5")]
    TooShort {
        /// Length of the message.
        len: usize,
    },

    /// The first byte is not the Confluent magic byte `0x00`.
    #[error("bad magic byte {found:#04x}, expected 0x00 (Confluent wire format)")]
    BadMagic {
        /// The byte found.
        found: u8,
    },

    /// The header names a schema id the catalog does not know.
    #[error("unknown schema id {0}")]
    UnknownSchemaId(SchemaId),

    /// The header names a schema a registry holds, but one the catalog cannot read (another
    /// record, or a version Avro schema resolution cannot map to the catalog's).
    #[error("schema id {id} cannot be read: {reason}")]
    Unreadable {
        /// The id in the header.
        id: SchemaId,
        /// Why.
        reason: String,
    },

    /// The header names a known schema, but not the one this topic or type expects.
    #[error("schema id {id} is {found}, expected {expected}")]
    SchemaMismatch {
        /// The id in the header.
        id: SchemaId,
        /// Record name the caller expected.
        expected: &'static str,
        /// Record name the id belongs to.
        found: &'static str,
    },

    /// No Avro schema is bound to this topic.
    #[error("no Avro schema for topic {0:?}")]
    UnknownTopic(String),

    /// An embedded `.avsc` does not parse (a build defect; caught by the tests).
    #[error("schema {path} does not parse: {source}")]
    SchemaParse {
        /// The schema file.
        path: &'static str,
        /// The parser's error.
        #[source]
        source: Box<apache_avro::Error>,
    },

    /// Two schemas were given the same id.
    #[error("schema id {id} already belongs to {owner}, cannot assign it to {requested}")]
    IdConflict {
        /// The contested id.
        id: SchemaId,
        /// Record name already holding it.
        owner: &'static str,
        /// Record name asking for it.
        requested: &'static str,
    },

    /// The Avro body could not be read at `field` (truncated, bad varint, bad enum index...).
    #[error("cannot decode {record}.{field}: {source}")]
    AvroDecode {
        /// Record name.
        record: &'static str,
        /// Field being read.
        field: String,
        /// apache-avro's error.
        #[source]
        source: Box<apache_avro::Error>,
    },

    /// apache-avro refused to write the record (the value does not match the schema).
    #[error("cannot encode {record}: {source}")]
    AvroEncode {
        /// Record name.
        record: &'static str,
        /// apache-avro's error.
        #[source]
        source: Box<apache_avro::Error>,
    },

    /// Bytes remain after the last field of the record.
    #[error("{record}: {len} unexpected bytes after the Avro body")]
    TrailingBytes {
        /// Record name.
        record: &'static str,
        /// Number of bytes left.
        len: usize,
    },

    /// A field's value has the wrong shape or content (missing, wrong Avro type, bad UUID,
    /// unknown enum symbol, timestamp out of range...).
    #[error("{record}.{field}: {reason}")]
    Field {
        /// Record name.
        record: &'static str,
        /// Field name.
        field: String,
        /// What is wrong.
        reason: String,
    },

    /// A decimal field does not fit `decimal(18,2)` (too many decimals, too many digits).
    #[error("{record}.{field}: {source}")]
    Decimal {
        /// Record name.
        record: &'static str,
        /// Field name.
        field: String,
        /// What is wrong with the number.
        #[source]
        source: DecimalError,
    },
}

impl WireError {
    pub(crate) fn field(record: &'static str, field: &str, reason: impl Into<String>) -> Self {
        Self::Field {
            record,
            field: field.to_owned(),
            reason: reason.into(),
        }
    }
}
