//! The embedded log's frame decoder (`edalab_bus::log::frame`) on arbitrary bytes, read the
//! way a partition reads a segment: header, CRC, then records.
//!
//! The input is tried twice: as it is (what a damaged disk gives; the CRC almost always
//! stops it) and resealed (its length and CRC made right, so the fuzzer reaches the record
//! area, where a checksummed but malformed frame is a bug to report, not to panic on).
//! Whatever decodes must survive a round trip through `FrameBuilder` unchanged.
#![no_main]

use std::sync::Arc;

use edalab_bus::log::frame::{
    FRAME_HEADER_BYTES, FrameBuilder, FrameHeader, crc_matches, decode_records, parse_header,
    stamp_base_offset,
};
use edalab_bus::{Message, Record};
use libfuzzer_sys::fuzz_target;

/// The largest frame the reader accepts here (the log's default is larger; small keeps the
/// fuzzer's inputs meaningful).
const FRAME_BYTES_LIMIT: usize = 1 << 20;
/// Records decoded per frame at most (the reader's own bound on one fetch).
const RECORDS_MAX: usize = 1_000;

fuzz_target!(|data: &[u8]| {
    read_frames(data);
    read_frames(&reseal(data));
});

/// Walks the frames of `bytes` as a segment reader does, decoding each whose CRC matches.
fn read_frames(bytes: &[u8]) {
    let topic: Arc<str> = Arc::from("fuzz");
    let mut at = 0;
    while at + FRAME_HEADER_BYTES <= bytes.len() {
        let Some(header) = parse_header(&bytes[at..], FRAME_BYTES_LIMIT) else {
            return;
        };
        assert!(header.frame_bytes >= FRAME_HEADER_BYTES);
        assert!(header.frame_bytes <= FRAME_BYTES_LIMIT);
        let Some(frame) = bytes.get(at..at + header.frame_bytes) else {
            return;
        };
        if crc_matches(frame, &header) {
            decode_and_round_trip(frame, &header, &topic);
        }
        at += header.frame_bytes;
    }
}

fn decode_and_round_trip(frame: &[u8], header: &FrameHeader, topic: &Arc<str>) {
    let mut out = Vec::new();
    let decoded = decode_records(frame, header, topic, 3, 0, u64::MAX, RECORDS_MAX, &mut out);
    assert!(out.len() <= RECORDS_MAX.min(header.record_count as usize));
    for (i, message) in out.iter().enumerate() {
        assert_eq!(message.offset, header.base_offset + i as u64);
        assert_eq!(message.partition, 3);
    }
    // A window that starts inside the frame keeps only the later records.
    let mut later = Vec::new();
    let from = header.base_offset.saturating_add(1);
    let _ = decode_records(frame, header, topic, 3, from, u64::MAX, 2, &mut later);
    assert!(later.len() <= 2 && later.iter().all(|m| m.offset >= from));
    if decoded.is_ok() && !out.is_empty() {
        assert_eq!(reencode(&out, header.base_offset), out);
    }
}

/// The messages written again with `FrameBuilder` and read back.
fn reencode(messages: &[Message], base_offset: u64) -> Vec<Message> {
    let mut builder = FrameBuilder::with_capacity(1024);
    for message in messages {
        let mut record = Record::new(message.key.clone(), message.value.clone());
        record.headers = message.headers.clone();
        builder.push(&record, message.timestamp_ms);
    }
    let mut frame = builder.finish();
    stamp_base_offset(&mut frame.bytes, base_offset);
    let header = parse_header(&frame.bytes, usize::MAX).expect("a built frame has a header");
    assert!(
        crc_matches(&frame.bytes, &header),
        "a built frame's CRC matches"
    );
    let mut out = Vec::new();
    let topic = Arc::clone(&messages[0].topic);
    decode_records(
        &frame.bytes,
        &header,
        &topic,
        3,
        0,
        u64::MAX,
        usize::MAX,
        &mut out,
    )
    .expect("a built frame decodes");
    out
}

/// `data` as one frame with a correct length and CRC (padded to a header if shorter).
fn reseal(data: &[u8]) -> Vec<u8> {
    let mut frame = data[..data.len().min(FRAME_BYTES_LIMIT)].to_vec();
    if frame.len() < FRAME_HEADER_BYTES {
        frame.resize(FRAME_HEADER_BYTES, 0);
    }
    let len = u32::try_from(frame.len() - 4).expect("bounded by FRAME_BYTES_LIMIT");
    frame[0..4].copy_from_slice(&len.to_le_bytes());
    let crc = crc32fast::hash(&frame[16..]);
    frame[4..8].copy_from_slice(&crc.to_le_bytes());
    frame
}
