//! The Avro binary encoding of the few types edalab's schemas use, written and read
//! directly, without building an `apache_avro::types::Value`.
//!
//! [`BodyWriter`] appends to a caller's `Vec<u8>` and allocates nothing else; [`BodyReader`]
//! reads a `&[u8]` in place and allocates only the owned strings and maps the domain types
//! keep. Both follow the Avro 1.11 specification, "Binary Encoding":
//!
//! - `int`/`long` (and lengths, enum indexes, union branches, block counts): zig-zag
//!   varints of at most 10 bytes;
//! - `string`/`bytes`: a `long` length, then the bytes (strings must be UTF-8);
//! - `decimal(18,2)` on `bytes`: [`crate::decimal`]'s minimal two's-complement bytes;
//! - `timestamp-millis`: a `long`;
//! - `["null", T]`: branch index `0`, or `1` then a `T`;
//! - `map<string>` and `array<string>`: blocks of a count then the items, ended by a `0`
//!   count. The writer writes one block, map entries in key order (a `BTreeMap`'s order,
//!   so that the same event always gives the same bytes); the reader also accepts several
//!   blocks and negative counts followed by a block size in bytes.
//!
//! This module owns only the encoding of values. Which field comes when is the business of
//! each event's `AvroEvent` impl in [`crate::codec`], whose tests prove the bytes equal
//! what `apache_avro::to_avro_datum` writes with the `.avsc`. Errors name the record and
//! field; malformed bytes are reported as [`WireError::AvroDecode`] with the same
//! `apache_avro::Error` variant apache-avro's reader would give.

use std::collections::BTreeMap;
use std::io;

use chrono::{DateTime, Utc};
use edalab_domain::events::banking::Metadata;
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::codec::Symbol;
use crate::decimal::{self, MONEY_PRECISION, MONEY_SCALE, UnscaledBytes};
use crate::error::WireError;

/// Longest zig-zag varint of a 64-bit value.
const VARINT_LEN_MAX: usize = 10;

// --- writing -----------------------------------------------------------------------------

/// Appends the fields of one record, in schema order, to a caller's buffer.
pub(crate) struct BodyWriter<'a> {
    record: &'static str,
    out: &'a mut Vec<u8>,
}

impl<'a> BodyWriter<'a> {
    /// A writer for `record` appending to `out`; `text_len` is the summed length of the
    /// record's strings, used to reserve the buffer once.
    pub(crate) fn new(record: &'static str, out: &'a mut Vec<u8>, text_len: usize) -> Self {
        // Per field at most a 10-byte length or long, 16 bytes of decimal: 128 covers the
        // fixed part of every edalab record.
        out.reserve(text_len + 128);
        Self { record, out }
    }

    /// A zig-zag varint `long` (also `int`: same encoding).
    #[inline]
    pub(crate) fn long(&mut self, value: i64) -> &mut Self {
        let mut z = ((value << 1) ^ (value >> 63)) as u64;
        if z < 0x80 {
            self.out.push(z as u8);
            return self;
        }
        let mut buf = [0u8; VARINT_LEN_MAX];
        let mut len = 0;
        while z >= 0x80 {
            buf[len] = (z as u8) | 0x80;
            z >>= 7;
            len += 1;
        }
        buf[len] = z as u8;
        self.out.extend_from_slice(&buf[..=len]);
        self
    }

    /// A length or count (never above `i64::MAX` for an in-memory slice).
    #[inline]
    fn len(&mut self, len: usize) -> &mut Self {
        self.long(i64::try_from(len).unwrap_or(i64::MAX))
    }

    /// `bytes` or `string`: length, then the bytes.
    #[inline]
    pub(crate) fn bytes(&mut self, value: &[u8]) -> &mut Self {
        self.len(value.len());
        self.out.extend_from_slice(value);
        self
    }

    /// A `string`.
    #[inline]
    pub(crate) fn string(&mut self, value: &str) -> &mut Self {
        self.bytes(value.as_bytes())
    }

    /// A UUID as its hyphenated lower-case text (a `string`).
    #[inline]
    pub(crate) fn uuid(&mut self, value: Uuid) -> &mut Self {
        let mut buf = [0u8; uuid::fmt::Hyphenated::LENGTH];
        let text = value.hyphenated().encode_lower(&mut buf);
        self.string(text)
    }

    /// A `timestamp-millis`.
    #[inline]
    pub(crate) fn timestamp(&mut self, at: DateTime<Utc>) -> &mut Self {
        self.long(at.timestamp_millis())
    }

    /// A money `decimal(18,2)`; refuses (naming the field) what would need rounding or
    /// more digits.
    #[inline]
    pub(crate) fn money(&mut self, field: &str, value: Decimal) -> Result<&mut Self, WireError> {
        let unscaled =
            decimal::to_unscaled(value, MONEY_PRECISION, MONEY_SCALE).map_err(|source| {
                WireError::Decimal {
                    record: self.record,
                    field: field.to_owned(),
                    source,
                }
            })?;
        Ok(self.bytes(UnscaledBytes::new(unscaled).as_bytes()))
    }

    /// An enum, by its index in the schema's symbols (= the domain's declaration order,
    /// which `domain_enums_match_avro_symbol_order` checks).
    #[inline]
    pub(crate) fn symbol<T: Symbol>(&mut self, value: T) -> &mut Self {
        let index = T::all()
            .iter()
            .position(|v| *v == value)
            .unwrap_or_default();
        self.len(index)
    }

    /// `["null", "string"]`.
    #[inline]
    pub(crate) fn optional_uuid(&mut self, value: Option<Uuid>) -> &mut Self {
        match value {
            None => self.long(0),
            Some(id) => self.long(1).uuid(id),
        }
    }

    /// `["null", map<string>]`, entries in key order, in one block.
    pub(crate) fn metadata(&mut self, value: Option<&Metadata>) -> &mut Self {
        match value {
            None => self.long(0),
            Some(map) => {
                self.long(1);
                if !map.is_empty() {
                    self.len(map.len());
                    for (key, value) in map {
                        self.string(key).string(value);
                    }
                }
                self.long(0)
            }
        }
    }

    /// `array<string>`, in one block.
    pub(crate) fn string_array(&mut self, values: &[String]) -> &mut Self {
        if !values.is_empty() {
            self.len(values.len());
            for value in values {
                self.string(value);
            }
        }
        self.long(0)
    }
}

/// Summed length of the strings of a metadata map (to reserve the buffer once).
pub(crate) fn metadata_len(value: Option<&Metadata>) -> usize {
    value.map_or(0, |map| {
        map.iter()
            .map(|(k, v)| k.len() + v.len() + 2 * VARINT_LEN_MAX)
            .sum()
    })
}

// --- reading -----------------------------------------------------------------------------

/// Reads the fields of one record, in schema order, from its Avro body.
pub(crate) struct BodyReader<'a> {
    record: &'static str,
    bytes: &'a [u8],
}

/// The error apache-avro gives for input that ends early.
fn eof() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "failed to fill whole buffer")
}

impl<'a> BodyReader<'a> {
    /// A reader of `record` over its whole body.
    pub(crate) fn new(record: &'static str, bytes: &'a [u8]) -> Self {
        Self { record, bytes }
    }

    /// Malformed Avro at `field`.
    #[cold]
    fn malformed(&self, field: &str, source: apache_avro::Error) -> WireError {
        WireError::AvroDecode {
            record: self.record,
            field: field.to_owned(),
            source: Box::new(source),
        }
    }

    /// Well-formed Avro with a value the domain refuses at `field`.
    #[cold]
    fn refused(&self, field: &str, reason: String) -> WireError {
        WireError::field(self.record, field, reason)
    }

    /// A zig-zag varint `long`.
    #[inline]
    pub(crate) fn long(&mut self, field: &str) -> Result<i64, WireError> {
        let mut z = 0u64;
        for (i, &byte) in self.bytes.iter().take(VARINT_LEN_MAX).enumerate() {
            z |= u64::from(byte & 0x7F) << (7 * i);
            if byte & 0x80 == 0 {
                self.bytes = &self.bytes[i + 1..];
                return Ok(((z >> 1) as i64) ^ -((z & 1) as i64));
            }
        }
        Err(if self.bytes.len() >= VARINT_LEN_MAX {
            self.malformed(field, apache_avro::Error::IntegerOverflow)
        } else {
            self.malformed(field, apache_avro::Error::ReadVariableIntegerBytes(eof()))
        })
    }

    /// An `int` (enum index, union branch) as a non-negative index.
    fn index(&mut self, field: &str) -> Result<usize, WireError> {
        let raw = self.long(field)?;
        let int = i32::try_from(raw)
            .map_err(|e| self.malformed(field, apache_avro::Error::ZagI32(e, raw)))?;
        usize::try_from(int)
            .map_err(|e| self.malformed(field, apache_avro::Error::ConvertI32ToUsize(e, int)))
    }

    /// The next `len`-prefixed bytes, borrowed; `read_error` wraps a short read.
    #[inline]
    fn prefixed(
        &mut self,
        field: &str,
        read_error: fn(io::Error) -> apache_avro::Error,
    ) -> Result<&'a [u8], WireError> {
        let len = self.long(field)?;
        let len = usize::try_from(len)
            .map_err(|e| self.malformed(field, apache_avro::Error::ConvertI64ToUsize(e, len)))?;
        if len > self.bytes.len() {
            return Err(self.malformed(field, read_error(eof())));
        }
        let (value, rest) = self.bytes.split_at(len);
        self.bytes = rest;
        Ok(value)
    }

    /// A `bytes` value, borrowed.
    #[inline]
    pub(crate) fn bytes(&mut self, field: &str) -> Result<&'a [u8], WireError> {
        self.prefixed(field, apache_avro::Error::ReadBytes)
    }

    /// A `string` value, borrowed.
    #[inline]
    pub(crate) fn str(&mut self, field: &str) -> Result<&'a str, WireError> {
        let bytes = self.prefixed(field, apache_avro::Error::ReadString)?;
        std::str::from_utf8(bytes)
            .map_err(|e| self.malformed(field, apache_avro::Error::ConvertToUtf8Error(e)))
    }

    /// A `string` value, owned.
    #[inline]
    pub(crate) fn string(&mut self, field: &str) -> Result<String, WireError> {
        self.str(field).map(str::to_owned)
    }

    /// A UUID written as a `string`.
    #[inline]
    pub(crate) fn uuid(&mut self, field: &str) -> Result<Uuid, WireError> {
        let text = self.str(field)?;
        self.parse_uuid(field, text)
    }

    fn parse_uuid(&self, field: &str, text: &str) -> Result<Uuid, WireError> {
        Uuid::try_parse(text)
            .map_err(|e| self.refused(field, format!("{text:?} is not a UUID: {e}")))
    }

    /// A `timestamp-millis`.
    #[inline]
    pub(crate) fn timestamp(&mut self, field: &str) -> Result<DateTime<Utc>, WireError> {
        let millis = self.long(field)?;
        DateTime::from_timestamp_millis(millis)
            .ok_or_else(|| self.refused(field, format!("timestamp {millis} ms is out of range")))
    }

    /// A money `decimal(18,2)`, any legal length, checked against the precision.
    #[inline]
    pub(crate) fn money(&mut self, field: &str) -> Result<Decimal, WireError> {
        let bytes = self.bytes(field)?;
        decimal::decode(bytes, MONEY_PRECISION, MONEY_SCALE).map_err(|source| WireError::Decimal {
            record: self.record,
            field: field.to_owned(),
            source,
        })
    }

    /// An enum, by index.
    #[inline]
    pub(crate) fn symbol<T: Symbol>(&mut self, field: &str) -> Result<T, WireError> {
        let index = self.index(field)?;
        let all = T::all();
        all.get(index).copied().ok_or_else(|| {
            self.malformed(
                field,
                apache_avro::Error::GetEnumValue {
                    index,
                    nsymbols: all.len(),
                },
            )
        })
    }

    /// The branch of a `["null", T]` union: `false` for null, `true` for `T`.
    #[inline]
    fn present(&mut self, field: &str) -> Result<bool, WireError> {
        match self.long(field)? {
            0 => Ok(false),
            1 => Ok(true),
            index => Err(self.malformed(
                field,
                apache_avro::Error::GetUnionVariant {
                    index,
                    num_variants: 2,
                },
            )),
        }
    }

    /// `["null", "string"]` holding a UUID.
    pub(crate) fn optional_uuid(&mut self, field: &str) -> Result<Option<Uuid>, WireError> {
        if !self.present(field)? {
            return Ok(None);
        }
        self.uuid(field).map(Some)
    }

    /// The item count of the next block of a map or array (`0` at the end). A negative
    /// count is followed by the block's size in bytes, which is read and not needed.
    fn block_len(&mut self, field: &str) -> Result<usize, WireError> {
        let raw = self.long(field)?;
        let count = if raw < 0 {
            self.long(field)?;
            raw.checked_neg()
                .ok_or_else(|| self.malformed(field, apache_avro::Error::IntegerOverflow))?
        } else {
            raw
        };
        let count = usize::try_from(count)
            .map_err(|e| self.malformed(field, apache_avro::Error::ConvertI64ToUsize(e, raw)))?;
        // Every item takes at least one byte: a larger count is a truncated body, refused
        // before anything is allocated for it.
        if count > self.bytes.len() {
            return Err(self.malformed(field, apache_avro::Error::ReadVariableIntegerBytes(eof())));
        }
        Ok(count)
    }

    /// `["null", map<string>]`.
    pub(crate) fn metadata(&mut self, field: &str) -> Result<Option<Metadata>, WireError> {
        if !self.present(field)? {
            return Ok(None);
        }
        let mut map = BTreeMap::new();
        loop {
            let count = self.block_len(field)?;
            if count == 0 {
                return Ok(Some(map));
            }
            for _ in 0..count {
                let key = self.string(field)?;
                let value = self.string(field)?;
                map.insert(key, value);
            }
        }
    }

    /// `array<string>`.
    pub(crate) fn string_array(&mut self, field: &str) -> Result<Vec<String>, WireError> {
        let mut items = Vec::new();
        loop {
            let count = self.block_len(field)?;
            if count == 0 {
                return Ok(items);
            }
            items.reserve(count);
            for _ in 0..count {
                items.push(self.string(field)?);
            }
        }
    }

    /// Ends the record: refuses bytes after its last field.
    pub(crate) fn finish(self) -> Result<(), WireError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(WireError::TrailingBytes {
                record: self.record,
                len: self.bytes.len(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long_bytes(value: i64) -> Vec<u8> {
        let mut out = Vec::new();
        BodyWriter::new("T", &mut out, 0).long(value);
        out
    }

    #[test]
    fn longs_match_apache_avro_and_read_back() {
        let schema = apache_avro::Schema::Long;
        let mut values = vec![0i64, 1, -1, 63, -64, 64, -65, i64::MAX, i64::MIN];
        for shift in 0..63 {
            values.extend([1i64 << shift, -(1i64 << shift), (1i64 << shift) - 1]);
        }
        for value in values {
            let ours = long_bytes(value);
            let theirs =
                apache_avro::to_avro_datum(&schema, apache_avro::types::Value::Long(value))
                    .expect("apache write");
            assert_eq!(ours, theirs, "{value}");
            let mut reader = BodyReader::new("T", &ours);
            assert_eq!(reader.long("f").expect("read"), value);
            reader.finish().expect("whole varint consumed");
        }
    }

    #[test]
    fn malformed_varints_are_refused() {
        let err = BodyReader::new("T", &[0x80, 0x80])
            .long("f")
            .expect_err("truncated");
        assert!(
            matches!(
                &err,
                WireError::AvroDecode { record: "T", field, source }
                    if field == "f"
                        && matches!(**source, apache_avro::Error::ReadVariableIntegerBytes(_))
            ),
            "{err:?}"
        );
        let err = BodyReader::new("T", &[0xFF; 11])
            .long("f")
            .expect_err("overflow");
        assert!(
            matches!(&err, WireError::AvroDecode { source, .. }
                if matches!(**source, apache_avro::Error::IntegerOverflow)),
            "{err:?}"
        );
    }

    #[test]
    fn huge_counts_and_lengths_allocate_nothing() {
        // A map block claiming 2^40 entries in a 3-byte body.
        let mut body = vec![0x02];
        body.extend(long_bytes(1 << 40));
        let err = BodyReader::new("T", &body)
            .metadata("m")
            .expect_err("count");
        assert!(matches!(err, WireError::AvroDecode { .. }), "{err:?}");
        // A string claiming i64::MAX bytes.
        let body = long_bytes(i64::MAX);
        let err = BodyReader::new("T", &body).string("s").expect_err("len");
        assert!(
            matches!(&err, WireError::AvroDecode { source, .. }
                if matches!(**source, apache_avro::Error::ReadString(_))),
            "{err:?}"
        );
        // A negative string length.
        let body = long_bytes(-3);
        let err = BodyReader::new("T", &body).string("s").expect_err("neg");
        assert!(
            matches!(&err, WireError::AvroDecode { source, .. }
                if matches!(**source, apache_avro::Error::ConvertI64ToUsize(_, -3))),
            "{err:?}"
        );
    }
}
