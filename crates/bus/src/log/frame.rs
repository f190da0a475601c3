//! The on-disk frame: a batch of records with one length and one CRC, the unit of writing,
//! of checksumming and of torn-write detection.
//!
//! Owns the byte layout and nothing else (no files, no offsets policy). Layout, little endian:
//!
//! ```text
//! 0..4    len               u32  bytes after this field (so a frame is 4 + len bytes)
//! 4..8    crc               u32  CRC-32 (IEEE, crc32fast) of bytes 16..end
//! 8..16   base_offset       u64  offset of the first record (checked by continuity)
//! 16..20  record_count      u32
//! 20..28  max_timestamp_ms  i64
//! 28..    records, each:
//!         timestamp_ms i64 | key_len i32 (-1: no key) | key | value_len u32 | value |
//!         header_count u32 | per header: name_len u32 | name | value_len u32 | value
//! ```
//!
//! Like Kafka's record batch, the CRC leaves the base offset out: producers encode and
//! checksum frames on their own tasks, in parallel, and the single writer only stamps the
//! offset. A wrong base offset is caught by continuity (each frame must start where the
//! previous ended) during recovery.

use std::sync::Arc;

use crate::port::{Headers, Message, Record, TimestampMs};

pub const FRAME_HEADER_BYTES: usize = 28;
const CRC_START: usize = 16;

/// Parsed fixed part of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Total bytes of the frame, header included.
    pub frame_bytes: usize,
    pub crc: u32,
    pub base_offset: u64,
    pub record_count: u32,
    pub max_timestamp_ms: i64,
}

/// The bytes a record counts against the message size limit: key, value and headers.
pub fn record_size_bytes(record: &Record) -> usize {
    record.key.as_ref().map_or(0, Vec::len)
        + record.value.len()
        + record
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len())
            .sum::<usize>()
}

fn record_encoded_bytes(record: &Record) -> usize {
    8 + 4 + 4 + 4 + record_size_bytes(record) + 8 * record.headers.len()
}

/// Builds one frame from records of a single partition.
pub struct FrameBuilder {
    buf: Vec<u8>,
    record_count: u32,
    max_timestamp_ms: i64,
}

impl FrameBuilder {
    pub fn with_capacity(capacity_bytes: usize) -> Self {
        let mut buf = Vec::with_capacity(capacity_bytes.max(FRAME_HEADER_BYTES));
        buf.resize(FRAME_HEADER_BYTES, 0);
        Self {
            buf,
            record_count: 0,
            max_timestamp_ms: i64::MIN,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.record_count == 0
    }

    pub fn len_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Bytes this record would add.
    pub fn encoded_bytes(record: &Record) -> usize {
        record_encoded_bytes(record)
    }

    pub fn push(&mut self, record: &Record, timestamp_ms: TimestampMs) {
        let buf = &mut self.buf;
        buf.reserve(record_encoded_bytes(record));
        buf.extend_from_slice(&timestamp_ms.to_le_bytes());
        match &record.key {
            // Sizes were checked against the message limit (≤ 2 GiB) before encoding, so
            // the casts to 32 bits cannot truncate.
            Some(key) => {
                buf.extend_from_slice(&(key.len() as i32).to_le_bytes());
                buf.extend_from_slice(key);
            }
            None => buf.extend_from_slice(&(-1i32).to_le_bytes()),
        }
        buf.extend_from_slice(&(record.value.len() as u32).to_le_bytes());
        buf.extend_from_slice(&record.value);
        buf.extend_from_slice(&(record.headers.len() as u32).to_le_bytes());
        for (name, value) in &record.headers {
            buf.extend_from_slice(&(name.len() as u32).to_le_bytes());
            buf.extend_from_slice(name.as_bytes());
            buf.extend_from_slice(&(value.len() as u32).to_le_bytes());
            buf.extend_from_slice(value);
        }
        self.record_count += 1;
        self.max_timestamp_ms = self.max_timestamp_ms.max(timestamp_ms);
    }

    /// Seals the frame: length, count, max timestamp and CRC. The base offset stays 0
    /// until the writer stamps it with [`stamp_base_offset`].
    pub fn finish(mut self) -> EncodedFrame {
        let len = (self.buf.len() - 4) as u32;
        self.buf[0..4].copy_from_slice(&len.to_le_bytes());
        self.buf[16..20].copy_from_slice(&self.record_count.to_le_bytes());
        self.buf[20..28].copy_from_slice(&self.max_timestamp_ms.to_le_bytes());
        let crc = crc32fast::hash(&self.buf[CRC_START..]);
        self.buf[4..8].copy_from_slice(&crc.to_le_bytes());
        EncodedFrame {
            bytes: self.buf,
            record_count: self.record_count,
            max_timestamp_ms: self.max_timestamp_ms,
        }
    }
}

/// A sealed frame waiting for its base offset.
#[derive(Debug)]
pub struct EncodedFrame {
    pub bytes: Vec<u8>,
    pub record_count: u32,
    pub max_timestamp_ms: i64,
}

/// Writes the base offset into a sealed frame (outside the CRC, see the module docs).
pub fn stamp_base_offset(frame: &mut [u8], base_offset: u64) {
    frame[8..16].copy_from_slice(&base_offset.to_le_bytes());
}

/// Reads a frame header from at least [`FRAME_HEADER_BYTES`] bytes. `None` when the length
/// field is impossible (shorter than a header or longer than `frame_bytes_limit`).
pub fn parse_header(bytes: &[u8], frame_bytes_limit: usize) -> Option<FrameHeader> {
    let len = u32::from_le_bytes(bytes.get(0..4)?.try_into().ok()?) as usize;
    let frame_bytes = len + 4;
    if frame_bytes < FRAME_HEADER_BYTES || frame_bytes > frame_bytes_limit {
        return None;
    }
    Some(FrameHeader {
        frame_bytes,
        crc: u32::from_le_bytes(bytes.get(4..8)?.try_into().ok()?),
        base_offset: u64::from_le_bytes(bytes.get(8..16)?.try_into().ok()?),
        record_count: u32::from_le_bytes(bytes.get(16..20)?.try_into().ok()?),
        max_timestamp_ms: i64::from_le_bytes(bytes.get(20..28)?.try_into().ok()?),
    })
}

/// Whether the CRC of a whole frame matches.
pub fn crc_matches(frame: &[u8], header: &FrameHeader) -> bool {
    frame.len() == header.frame_bytes && crc32fast::hash(&frame[CRC_START..]) == header.crc
}

/// A cursor over the record area of a frame that fails softly on truncation.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let out = self.bytes.get(self.pos..end)?;
        self.pos = end;
        Some(out)
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i32(&mut self) -> Option<i32> {
        Some(i32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }
    fn i64(&mut self) -> Option<i64> {
        Some(i64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }
}

/// Decodes the records of a frame whose CRC was checked, keeping offsets in
/// `from..until`, at most `max_records`. `Err` carries a reason when the record area does
/// not parse (a checksummed frame that does not parse is corruption or a bug).
#[allow(clippy::too_many_arguments)] // a hot loop's inputs, kept flat on purpose
pub fn decode_records(
    frame: &[u8],
    header: &FrameHeader,
    topic: &Arc<str>,
    partition: u32,
    from: u64,
    until: u64,
    max_records: usize,
    out: &mut Vec<Message>,
) -> Result<(), String> {
    let mut cur = Cursor {
        bytes: frame,
        pos: FRAME_HEADER_BYTES,
    };
    let bad = |what: &str, offset: u64| format!("record at offset {offset}: truncated {what}");
    for i in 0..u64::from(header.record_count) {
        let offset = header.base_offset + i;
        if offset >= until || max_records == 0 {
            break;
        }
        let timestamp_ms = cur.i64().ok_or_else(|| bad("timestamp", offset))?;
        let key_len = cur.i32().ok_or_else(|| bad("key length", offset))?;
        let key = if key_len < 0 {
            None
        } else {
            Some(
                cur.take(key_len as usize)
                    .ok_or_else(|| bad("key", offset))?,
            )
        };
        let value_len = cur.u32().ok_or_else(|| bad("value length", offset))? as usize;
        let value = cur.take(value_len).ok_or_else(|| bad("value", offset))?;
        let header_count = cur.u32().ok_or_else(|| bad("header count", offset))? as usize;
        let wanted = offset >= from;
        let mut headers: Headers =
            Vec::with_capacity(if wanted { header_count.min(64) } else { 0 });
        for _ in 0..header_count {
            let name_len = cur.u32().ok_or_else(|| bad("header name length", offset))? as usize;
            let name = cur
                .take(name_len)
                .ok_or_else(|| bad("header name", offset))?;
            let value_len =
                cur.u32()
                    .ok_or_else(|| bad("header value length", offset))? as usize;
            let hvalue = cur
                .take(value_len)
                .ok_or_else(|| bad("header value", offset))?;
            if wanted {
                let name = std::str::from_utf8(name)
                    .map_err(|_| format!("record at offset {offset}: header name is not UTF-8"))?;
                headers.push((name.to_owned(), hvalue.to_vec()));
            }
        }
        if wanted {
            out.push(Message {
                topic: topic.clone(),
                partition,
                offset,
                key: key.map(<[u8]>::to_vec),
                value: value.to_vec(),
                headers,
                timestamp_ms,
            });
            if out.len() >= max_records {
                break;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut b = FrameBuilder::with_capacity(256);
        let r1 = Record::new(Some(b"k".to_vec()), b"v1".to_vec()).with_header("h", b"x".to_vec());
        let r2 = Record::new(None, b"v2".to_vec());
        b.push(&r1, 10);
        b.push(&r2, 20);
        let mut f = b.finish();
        stamp_base_offset(&mut f.bytes, 7);
        let h = parse_header(&f.bytes, 1 << 20).expect("header");
        assert_eq!(h.base_offset, 7);
        assert_eq!(h.record_count, 2);
        assert_eq!(h.max_timestamp_ms, 20);
        assert!(crc_matches(&f.bytes, &h));
        let topic: Arc<str> = Arc::from("t");
        let mut out = Vec::new();
        decode_records(&f.bytes, &h, &topic, 0, 8, u64::MAX, 10, &mut out).expect("decode");
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].offset, 8);
        assert_eq!(out[0].key, None);
        assert_eq!(out[0].value, b"v2");
        f.bytes[40] ^= 1;
        assert!(!crc_matches(&f.bytes, &h));
    }
}
