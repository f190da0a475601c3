//! One partition: its segments as readers see them (only durable, acknowledged bytes), the
//! writer-side state of its active segment, recovery on open and reads.
//!
//! Owns `topics/<topic>/<partition>/*.log`. Readers and the writer share [`PartitionView`]
//! under a std `Mutex` held only for bookkeeping (never across I/O): readers copy out an
//! `Arc<File>` and a byte range, then `pread` without the lock, so a slow reader never stalls
//! the writer.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::frame::{self, FRAME_HEADER_BYTES};
use super::segment::{self, ScanEnd};
use super::{io_err, lock};
use crate::port::{BusError, Message};

/// A segment as readers see it.
#[derive(Debug)]
pub(crate) struct Segment {
    pub base_offset: u64,
    pub path: PathBuf,
    pub file: Arc<File>,
    /// Visible (durable under the fsync policy) bytes.
    pub size_bytes: u64,
    /// Offset after the last visible record.
    pub end_offset: u64,
    /// Sparse `(offset, position)` of frame starts.
    pub index: Vec<(u64, u64)>,
    pub max_timestamp_ms: i64,
}

#[derive(Debug)]
pub(crate) struct PartitionView {
    /// Sorted by base offset; never empty.
    pub segments: Vec<Segment>,
    pub high_watermark: u64,
}

impl PartitionView {
    pub fn log_start_offset(&self) -> u64 {
        self.segments.first().map_or(0, |s| s.base_offset)
    }
    pub fn size_bytes(&self) -> u64 {
        self.segments.iter().map(|s| s.size_bytes).sum()
    }
}

/// The writer thread's state of the active segment (absent in read-only mode).
#[derive(Debug)]
pub(crate) struct ActiveSegment {
    pub base_offset: u64,
    pub path: PathBuf,
    pub file: Arc<File>,
    /// Bytes written to the file (including not yet published ones).
    pub written_bytes: u64,
    pub next_offset: u64,
    pub last_index_pos: Option<u64>,
    /// Wall-clock time the segment was opened, for rolling by age.
    pub opened_at_ms: i64,
}

pub(crate) struct Partition {
    pub id: u32,
    pub dir: PathBuf,
    pub view: Mutex<PartitionView>,
    /// Locked only by the writer thread (uncontended); `None` when read-only.
    pub active: Mutex<Option<ActiveSegment>>,
    /// The last segment's torn tail found on open, truncated only once the log is known
    /// not to have lost acknowledged records (a refused log is left as it was found).
    torn_tail: Mutex<Option<TornTail>>,
}

#[derive(Debug)]
struct TornTail {
    file: Arc<File>,
    path: PathBuf,
    pos: u64,
    reason: String,
}

/// An offset range skipped on purpose by a repair, recorded next to the segment that
/// follows it (`<base>.gap`) so recovery accepts the discontinuity.
#[derive(serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GapRecord {
    from: u64,
    to: u64,
}

/// Limits used when scanning and reading.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ScanLimits {
    pub index_interval_bytes: u64,
    pub frame_bytes_limit: usize,
}

impl Partition {
    pub fn view(&self) -> MutexGuard<'_, PartitionView> {
        lock(&self.view)
    }

    /// Creates the directory and an empty first segment (used by topic creation).
    pub fn create_dir(dir: &Path) -> Result<(), BusError> {
        std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
        let path = dir.join(segment::segment_file_name(0));
        let file = File::create(&path).map_err(|e| io_err(&path, e))?;
        file.sync_all().map_err(|e| io_err(&path, e))?;
        super::fsync_dir(dir)
    }

    /// Opens a partition directory. Read-write: the last segment's torn tail is truncated;
    /// any other bad frame is [`BusError::Corrupt`]. Read-only: nothing is changed, and the
    /// view stops before a torn tail (the live writer may be finishing it).
    pub fn open(
        id: u32,
        dir: PathBuf,
        limits: ScanLimits,
        read_only: bool,
    ) -> Result<Self, BusError> {
        let files = segment::list_segments(&dir).map_err(|e| io_err(&dir, e))?;
        if files.is_empty() {
            return Err(BusError::Corrupt {
                path: dir.display().to_string(),
                reason: "partition directory has no segment file".to_owned(),
            });
        }
        let mut segments = Vec::with_capacity(files.len());
        let mut torn_tail = None;
        let last_i = files.len() - 1;
        for (i, (base_offset, path)) in files.into_iter().enumerate() {
            let file = OpenOptions::new()
                .read(true)
                .write(!read_only)
                .open(&path)
                .map_err(|e| io_err(&path, e))?;
            let scan = segment::scan(
                &file,
                0,
                base_offset,
                None,
                limits.index_interval_bytes,
                limits.frame_bytes_limit,
            )
            .map_err(|e| io_err(&path, e))?;
            match &scan.end {
                ScanEnd::Clean => {}
                ScanEnd::Torn { pos, reason } if i == last_i => {
                    tracing::debug!(path = %path.display(), pos, reason, "the last segment ends with an unfinished write");
                }
                ScanEnd::Torn { pos, reason } | ScanEnd::Corrupt { pos, reason } => {
                    return Err(BusError::Corrupt {
                        path: path.display().to_string(),
                        reason: format!("at byte {pos}: {reason}"),
                    });
                }
            }
            if let Some(prev) = segments.last() {
                check_continuity(&dir, &path, prev_end(prev), base_offset)?;
            }
            if let ScanEnd::Torn { pos, reason } = &scan.end
                && !read_only
            {
                torn_tail = Some((*pos, reason.clone()));
            }
            segments.push(Segment {
                base_offset,
                path,
                file: Arc::new(file),
                size_bytes: scan.end_pos,
                end_offset: scan.end_offset,
                index: scan.index,
                max_timestamp_ms: scan.max_timestamp_ms,
            });
        }
        let high_watermark = segments.last().map_or(0, |s| s.end_offset);
        let active = if read_only {
            None
        } else {
            // The list is non-empty (checked above).
            let last = &segments[segments.len() - 1];
            Some(ActiveSegment {
                base_offset: last.base_offset,
                path: last.path.clone(),
                file: last.file.clone(),
                written_bytes: last.size_bytes,
                next_offset: last.end_offset,
                last_index_pos: last.index.last().map(|(_, p)| *p),
                opened_at_ms: if last.max_timestamp_ms == i64::MIN {
                    super::now_ms()
                } else {
                    last.max_timestamp_ms
                },
            })
        };
        let torn_tail = torn_tail.and_then(|(pos, reason)| {
            let last = segments.last()?;
            Some(TornTail {
                file: last.file.clone(),
                path: last.path.clone(),
                pos,
                reason,
            })
        });
        Ok(Self {
            id,
            dir,
            view: Mutex::new(PartitionView {
                segments,
                high_watermark,
            }),
            active: Mutex::new(active),
            torn_tail: Mutex::new(torn_tail),
        })
    }

    /// Truncates the torn tail found on open (an unacknowledged write: under the default
    /// fsync policy nothing past the last complete frame was ever acknowledged).
    pub fn truncate_torn_tail(&self) -> Result<(), BusError> {
        let Some(torn) = lock(&self.torn_tail).take() else {
            return Ok(());
        };
        let (file, path) = (&torn.file, &torn.path);
        let len = file.metadata().map_err(|e| io_err(path, e))?.len();
        tracing::warn!(path = %path.display(), pos = torn.pos, bytes_dropped = len - torn.pos, reason = %torn.reason, "truncating the torn tail of an unacknowledged write");
        file.set_len(torn.pos).map_err(|e| io_err(path, e))?;
        file.sync_all().map_err(|e| io_err(path, e))
    }

    /// Repair: moves the end forward to `end` (above the current one) by starting a new,
    /// empty segment at that base offset, after recording the skipped range in
    /// `<end>.gap`. The next record appended gets offset `end`; readers skip the gap.
    pub fn skip_to(&self, end: u64) -> Result<(), BusError> {
        self.truncate_torn_tail()?;
        let from = self.view().high_watermark;
        if end <= from {
            return Ok(());
        }
        let gap_path = self.dir.join(segment::gap_file_name(end));
        let record = serde_json::to_vec(&GapRecord { from, to: end })
            .map_err(|e| BusError::Backend(e.to_string()))?;
        super::write_atomically(&gap_path, &record)?;
        let path = self.dir.join(segment::segment_file_name(end));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        file.sync_all().map_err(|e| io_err(&path, e))?;
        super::fsync_dir(&self.dir)?;
        let file = Arc::new(file);
        let mut v = self.view();
        v.segments.push(Segment {
            base_offset: end,
            path: path.clone(),
            file: file.clone(),
            size_bytes: 0,
            end_offset: end,
            index: Vec::new(),
            max_timestamp_ms: i64::MIN,
        });
        v.high_watermark = end;
        if let Some(active) = lock(&self.active).as_mut() {
            *active = ActiveSegment {
                base_offset: end,
                path,
                file,
                written_bytes: 0,
                next_offset: end,
                last_index_pos: None,
                opened_at_ms: super::now_ms(),
            };
        }
        Ok(())
    }

    /// Read-only mode: picks up what the live writer appended since the last look (new
    /// frames in the last segment, new segment files). Stops before unfinished frames.
    pub fn refresh(&self, limits: ScanLimits) -> Result<(), BusError> {
        let (file, path, pos, offset, last_index_pos, last_base) = {
            let v = self.view();
            let Some(last) = v.segments.last() else {
                return Ok(());
            };
            (
                last.file.clone(),
                last.path.clone(),
                last.size_bytes,
                last.end_offset,
                last.index.last().map(|(_, p)| *p),
                last.base_offset,
            )
        };
        let scan = segment::scan(
            &file,
            pos,
            offset,
            last_index_pos,
            limits.index_interval_bytes,
            limits.frame_bytes_limit,
        )
        .map_err(|e| io_err(&path, e))?;
        if let ScanEnd::Corrupt { pos, reason } = &scan.end {
            return Err(BusError::Corrupt {
                path: path.display().to_string(),
                reason: format!("at byte {pos}: {reason}"),
            });
        }
        {
            let mut v = self.view();
            if let Some(last) = v.segments.last_mut()
                && last.base_offset == last_base
                && last.size_bytes == pos
            {
                last.size_bytes = scan.end_pos;
                last.end_offset = scan.end_offset;
                last.index.extend(scan.index);
                last.max_timestamp_ms = last.max_timestamp_ms.max(scan.max_timestamp_ms);
                v.high_watermark = scan.end_offset;
            }
        }
        // A clean end of the last segment may mean the writer rolled to a new one.
        if scan.end == ScanEnd::Clean {
            let files = segment::list_segments(&self.dir).map_err(|e| io_err(&self.dir, e))?;
            let hw = self.view().high_watermark;
            if let Some((base, path)) = files
                .into_iter()
                .find(|(base, _)| *base > last_base && *base == hw)
            {
                let file = match File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(io_err(&path, e)),
                };
                self.view().segments.push(Segment {
                    base_offset: base,
                    path,
                    file: Arc::new(file),
                    size_bytes: 0,
                    end_offset: base,
                    index: Vec::new(),
                    max_timestamp_ms: i64::MIN,
                });
                return self.refresh(limits);
            }
        }
        Ok(())
    }

    /// Up to `max_records` messages from `from` (clamped to the log start), reading at most
    /// about `fetch_bytes_max` bytes. Returns the messages and the next offset to read.
    pub fn read(
        &self,
        topic: &Arc<str>,
        from: u64,
        max_records: usize,
        fetch_bytes_max: usize,
        limits: ScanLimits,
    ) -> Result<(Vec<Message>, u64), BusError> {
        let mut out = Vec::new();
        let mut from = from;
        loop {
            let (file, path, mut pos, end_pos, until) = {
                let v = self.view();
                from = from.max(v.log_start_offset());
                if from >= v.high_watermark || max_records == 0 {
                    return Ok((out, from));
                }
                let i = v
                    .segments
                    .partition_point(|s| s.base_offset <= from)
                    .saturating_sub(1);
                let seg = &v.segments[i];
                if from >= seg.end_offset {
                    // Past the end of this segment: continue with the next one, if any.
                    match v.segments.get(i + 1) {
                        Some(next) => {
                            from = from.max(next.base_offset);
                            continue;
                        }
                        None => return Ok((out, from)),
                    }
                }
                let j = seg.index.partition_point(|(o, _)| *o <= from);
                let pos = if j == 0 { 0 } else { seg.index[j - 1].1 };
                (
                    seg.file.clone(),
                    seg.path.clone(),
                    pos,
                    seg.size_bytes,
                    seg.end_offset.min(v.high_watermark),
                )
            };
            let corrupt = |pos: u64, reason: String| BusError::Corrupt {
                path: path.display().to_string(),
                reason: format!("at byte {pos}: {reason}"),
            };
            while pos < end_pos && out.len() < max_records && from < until {
                let want = (fetch_bytes_max as u64).min(end_pos - pos) as usize;
                let buf = segment::read_at(&file, pos, want.max(FRAME_HEADER_BYTES))
                    .map_err(|e| io_err(&path, e))?;
                let mut at = 0usize;
                let mut progressed = false;
                while at + FRAME_HEADER_BYTES <= buf.len()
                    && out.len() < max_records
                    && from < until
                {
                    let header = frame::parse_header(&buf[at..], limits.frame_bytes_limit)
                        .ok_or_else(|| {
                            corrupt(pos + at as u64, "impossible frame length".to_owned())
                        })?;
                    if at + header.frame_bytes > buf.len() {
                        if !progressed {
                            // One frame larger than the fetch size: read it whole.
                            let whole = segment::read_at(&file, pos, header.frame_bytes)
                                .map_err(|e| io_err(&path, e))?;
                            decode_one(
                                &whole,
                                &header,
                                topic,
                                self.id,
                                &mut from,
                                until,
                                max_records,
                                &mut out,
                            )
                            .map_err(|r| corrupt(pos, r))?;
                            at = header.frame_bytes;
                        }
                        break;
                    }
                    let frame_bytes = &buf[at..at + header.frame_bytes];
                    decode_one(
                        frame_bytes,
                        &header,
                        topic,
                        self.id,
                        &mut from,
                        until,
                        max_records,
                        &mut out,
                    )
                    .map_err(|r| corrupt(pos + at as u64, r))?;
                    at += header.frame_bytes;
                    progressed = true;
                }
                if at == 0 {
                    // Not even one frame fits in the visible bytes: never spin on it.
                    return Err(corrupt(
                        pos,
                        "frame runs past the end of the segment's data".to_owned(),
                    ));
                }
                pos += at as u64;
                if fetch_bytes_max <= buf.len() && !out.is_empty() {
                    break;
                }
            }
            if !out.is_empty() || from >= until && until >= self.view().high_watermark {
                return Ok((out, from));
            }
            if pos >= end_pos && from < until {
                return Err(corrupt(pos, format!("segment ends before offset {until}")));
            }
        }
    }
}

fn prev_end(seg: &Segment) -> u64 {
    seg.end_offset
}

/// Segments follow each other without a hole, except across a gap a repair recorded.
fn check_continuity(dir: &Path, path: &Path, prev_end: u64, base: u64) -> Result<(), BusError> {
    if prev_end == base {
        return Ok(());
    }
    let gap_path = dir.join(segment::gap_file_name(base));
    let recorded = std::fs::read(&gap_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice::<GapRecord>(&bytes).ok());
    if prev_end < base && recorded.is_some_and(|g| g.from == prev_end && g.to == base) {
        return Ok(());
    }
    Err(BusError::Corrupt {
        path: path.display().to_string(),
        reason: format!(
            "segment starts at offset {base} but the previous one ends at {prev_end}, and no \
             repair recorded that gap"
        ),
    })
}

#[allow(clippy::too_many_arguments)]
fn decode_one(
    frame_bytes: &[u8],
    header: &frame::FrameHeader,
    topic: &Arc<str>,
    partition: u32,
    from: &mut u64,
    until: u64,
    max_records: usize,
    out: &mut Vec<Message>,
) -> Result<(), String> {
    let frame_end = header.base_offset + u64::from(header.record_count);
    if frame_end <= *from {
        return Ok(());
    }
    if !frame::crc_matches(frame_bytes, header) {
        return Err("CRC mismatch".to_owned());
    }
    let before = out.len();
    frame::decode_records(
        frame_bytes,
        header,
        topic,
        partition,
        *from,
        until,
        max_records,
        out,
    )?;
    if let Some(last) = out.get(before..).and_then(|s| s.last()) {
        *from = last.offset + 1;
    } else {
        *from = (*from).max(frame_end.min(until));
    }
    Ok(())
}
