//! Segment files: naming, scanning (recovery and read-only refresh) and the torn-tail rule.
//!
//! Owns the decision "is this the torn tail of an unfinished write, or corruption?". A write
//! killed by SIGKILL leaves a prefix of what was written, so a torn tail is always the last
//! frame, cut short (its declared length runs past the end of the file, or fewer bytes than
//! a header remain), or trailing zeros (a file extended but not filled before a power cut).
//! Anything else — a complete frame with a bad CRC, an impossible length with non-zero data
//! after it, a wrong base offset — may be acknowledged data gone bad, so it is reported as
//! corruption naming the file and the byte position, never truncated away.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::frame::{self, FRAME_HEADER_BYTES};

/// `00000000000000000042.log` for base offset 42, as Kafka names its segments.
pub fn segment_file_name(base_offset: u64) -> String {
    format!("{base_offset:020}.log")
}

/// `00000000000000000042.gap`: the offsets a repair skipped before the segment at 42.
pub fn gap_file_name(base_offset: u64) -> String {
    format!("{base_offset:020}.gap")
}

pub fn parse_segment_file_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".log")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// Segment files of a partition directory, sorted by base offset.
pub fn list_segments(dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(base) = entry.file_name().to_str().and_then(parse_segment_file_name) {
            out.push((base, entry.path()));
        }
    }
    out.sort_unstable_by_key(|(base, _)| *base);
    Ok(out)
}

/// How a scan ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ScanEnd {
    /// Every byte up to the end of the file is a valid frame.
    Clean,
    /// An unfinished write starts at `pos` (see the module docs).
    Torn { pos: u64, reason: String },
    /// Invalid data at `pos` that is not a torn tail.
    Corrupt { pos: u64, reason: String },
}

/// What a scan found: where valid data ends, the sparse index, the newest timestamp.
#[derive(Debug)]
pub struct Scan {
    pub end_pos: u64,
    pub end_offset: u64,
    /// `(offset, position)` of frame starts, one at least every `index_interval_bytes`.
    pub index: Vec<(u64, u64)>,
    pub max_timestamp_ms: i64,
    pub end: ScanEnd,
}

/// Reads 1 MiB at a time: large enough to amortise syscalls, small enough to bound memory.
const SCAN_CHUNK_BYTES: usize = 1 << 20;

/// Scans frames of `file` from `start_pos`, whose first frame must have base offset
/// `start_offset`. `last_index_pos` continues an existing index.
pub fn scan(
    file: &File,
    start_pos: u64,
    start_offset: u64,
    mut last_index_pos: Option<u64>,
    index_interval_bytes: u64,
    frame_bytes_limit: usize,
) -> std::io::Result<Scan> {
    let file_len = file.metadata()?.len();
    let mut pos = start_pos;
    let mut offset = start_offset;
    let mut index = Vec::new();
    let mut max_timestamp_ms = i64::MIN;
    let mut buf: Vec<u8> = Vec::new();
    let mut buf_pos = start_pos; // file position of buf[0]

    let end = loop {
        if pos >= file_len {
            break ScanEnd::Clean;
        }
        let remaining = file_len - pos;
        if remaining < FRAME_HEADER_BYTES as u64 {
            break ScanEnd::Torn {
                pos,
                reason: format!("{remaining} bytes, shorter than a frame header"),
            };
        }
        // Make sure the header is in the buffer.
        if pos + FRAME_HEADER_BYTES as u64 > buf_pos + buf.len() as u64 {
            buf_pos = pos;
            buf = read_at(file, pos, (SCAN_CHUNK_BYTES as u64).min(remaining) as usize)?;
        }
        let at = (pos - buf_pos) as usize;
        let Some(header) = frame::parse_header(&buf[at..], frame_bytes_limit) else {
            break classify_bad(file, pos, file_len, "impossible frame length".to_owned())?;
        };
        if header.frame_bytes as u64 > remaining {
            break ScanEnd::Torn {
                pos,
                reason: format!(
                    "frame of {} bytes runs past the end of the file ({remaining} bytes left)",
                    header.frame_bytes
                ),
            };
        }
        if pos + header.frame_bytes as u64 > buf_pos + buf.len() as u64 {
            buf_pos = pos;
            let want = header
                .frame_bytes
                .max(SCAN_CHUNK_BYTES)
                .min(remaining as usize);
            buf = read_at(file, pos, want)?;
        }
        let at = (pos - buf_pos) as usize;
        let frame_bytes = &buf[at..at + header.frame_bytes];
        if !frame::crc_matches(frame_bytes, &header) {
            // A complete frame with a bad CRC cannot come from a killed write (that leaves a
            // prefix), so it may be acknowledged data gone bad: refuse, never truncate.
            break ScanEnd::Corrupt {
                pos,
                reason: "CRC mismatch in a complete frame".to_owned(),
            };
        }
        if header.base_offset != offset {
            break ScanEnd::Corrupt {
                pos,
                reason: format!(
                    "frame has base offset {} where {offset} was expected",
                    header.base_offset
                ),
            };
        }
        if last_index_pos.is_none_or(|last| pos - last >= index_interval_bytes) {
            index.push((offset, pos));
            last_index_pos = Some(pos);
        }
        max_timestamp_ms = max_timestamp_ms.max(header.max_timestamp_ms);
        offset += u64::from(header.record_count);
        pos += header.frame_bytes as u64;
    };

    Ok(Scan {
        end_pos: pos,
        end_offset: offset,
        index,
        max_timestamp_ms,
        end,
    })
}

/// Bad bytes at `pos`: a torn tail when only zeros follow `from` (or nothing), else corruption.
fn classify_bad(file: &File, from: u64, file_len: u64, reason: String) -> std::io::Result<ScanEnd> {
    let mut at = from;
    while at < file_len {
        let chunk = read_at(
            file,
            at,
            (SCAN_CHUNK_BYTES as u64).min(file_len - at) as usize,
        )?;
        if chunk.iter().any(|b| *b != 0) {
            return Ok(ScanEnd::Corrupt {
                pos: from,
                reason: format!("{reason}, with more data after it"),
            });
        }
        at += chunk.len() as u64;
    }
    Ok(ScanEnd::Torn { pos: from, reason })
}

pub fn read_at(file: &File, pos: u64, len: usize) -> std::io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        let n = file.read_at(&mut buf[filled..], pos + filled as u64)?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    buf.truncate(filled);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::frame::{FrameBuilder, stamp_base_offset};
    use crate::port::Record;
    use std::io::Write;

    fn frame(base: u64, n: usize) -> Vec<u8> {
        let mut b = FrameBuilder::with_capacity(64);
        for i in 0..n {
            b.push(&Record::new(None, format!("v{i}").into_bytes()), 1);
        }
        let mut f = b.finish();
        stamp_base_offset(&mut f.bytes, base);
        f.bytes
    }

    fn file_with(parts: &[&[u8]]) -> (tempfile::TempDir, File) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("s.log");
        let mut f = File::create(&path).expect("create");
        for p in parts {
            f.write_all(p).expect("write");
        }
        (dir, File::open(&path).expect("open"))
    }

    #[test]
    fn clean_torn_and_corrupt() {
        let a = frame(0, 3);
        let b = frame(3, 2);
        let (_d, f) = file_with(&[&a, &b]);
        let s = scan(&f, 0, 0, None, 0, 1 << 20).expect("scan");
        assert_eq!(s.end, ScanEnd::Clean);
        assert_eq!(s.end_offset, 5);
        assert_eq!(s.index, vec![(0, 0), (3, a.len() as u64)]);

        let (_d, f) = file_with(&[&a, &b[..b.len() - 3]]);
        let s = scan(&f, 0, 0, None, 4096, 1 << 20).expect("scan");
        assert!(matches!(s.end, ScanEnd::Torn { pos, .. } if pos == a.len() as u64));
        assert_eq!(s.end_offset, 3);

        let (_d, f) = file_with(&[&a, &[0u8; 100]]);
        let s = scan(&f, 0, 0, None, 4096, 1 << 20).expect("scan");
        assert!(matches!(s.end, ScanEnd::Torn { .. }));

        let mut bad = a.clone();
        bad[30] ^= 0xff;
        let (_d, f) = file_with(&[&bad, &b]);
        let s = scan(&f, 0, 0, None, 4096, 1 << 20).expect("scan");
        assert!(
            matches!(s.end, ScanEnd::Corrupt { pos: 0, .. }),
            "{:?}",
            s.end
        );

        // A bad CRC on a complete last frame is corruption too (a killed write leaves a
        // prefix, never a complete frame with wrong bytes).
        let mut last = b.clone();
        let n = last.len();
        last[n - 1] ^= 0xff;
        let (_d, f) = file_with(&[&a, &last]);
        let s = scan(&f, 0, 0, None, 4096, 1 << 20).expect("scan");
        assert!(matches!(s.end, ScanEnd::Corrupt { .. }), "{:?}", s.end);
    }
}
