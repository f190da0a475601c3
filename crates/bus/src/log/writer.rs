//! The single writer thread: group commit, segment rolls, fsync policy, retention and topic
//! deletion, in one place so they never race.
//!
//! Owns every write to segment files. Producers encode and checksum their frames on their
//! own tasks and send them here through a bounded channel; the writer takes everything
//! queued (up to `commit_bytes_max`), stamps offsets, writes each touched partition with one
//! `pwrite`, syncs each touched file once (in parallel when several), publishes the new
//! high watermarks to readers, wakes waiting consumers, and only then acknowledges every
//! request of the group. An fsync error poisons the writer (every later produce fails):
//! after a failed fsync the kernel may have dropped the dirty pages, so retrying could
//! acknowledge data that is gone.
//!
//! It runs on its own OS thread with a current-thread tokio runtime used only to wait on
//! the channel with a timeout: blocking file I/O never stalls the application's runtime.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, mpsc, oneshot};

use super::disk::DiskGuard;
use super::floor::{self, Ends};
use super::frame::{EncodedFrame, stamp_base_offset};
use super::partition::{ActiveSegment, Partition, Segment};
use super::{FsyncPolicy, LogConfig, Topic, fsync_dir, io_err, lock, now_ms, segment};
use crate::port::BusError;

pub(crate) type Topics = Arc<RwLock<BTreeMap<String, Arc<Topic>>>>;

/// Where the writer sends the base offset of each frame of a request.
pub(crate) type AppendReply = oneshot::Sender<Result<Vec<u64>, BusError>>;

/// Frames of one produce call, grouped by partition, in call order.
pub(crate) struct AppendRequest {
    pub topic: Arc<Topic>,
    pub frames: Vec<(u32, EncodedFrame)>,
    pub reply: AppendReply,
}

impl AppendRequest {
    fn bytes(&self) -> usize {
        self.frames.iter().map(|(_, f)| f.bytes.len()).sum()
    }
}

pub(crate) enum WriterCommand {
    Append(AppendRequest),
    DeleteTopic {
        topic: Arc<Topic>,
        reply: oneshot::Sender<Result<(), BusError>>,
    },
    Retention {
        now_ms: i64,
        reply: oneshot::Sender<Result<usize, BusError>>,
    },
    /// Sync everything and stop.
    Shutdown {
        reply: oneshot::Sender<Result<(), BusError>>,
    },
}

/// What one touched partition needs written, synced and published in a group commit.
struct Work {
    partition: Arc<Partition>,
    /// Bytes to write at `buf_pos` of the active file.
    buf: Vec<u8>,
    buf_pos: u64,
    buf_file: Option<(Arc<File>, PathBuf)>,
    updates: Vec<SegmentUpdate>,
    to_sync: Vec<(Arc<File>, PathBuf)>,
    dir_dirty: bool,
}

/// A change to publish to readers: the segment `base_offset` now ends at `size_bytes`.
struct SegmentUpdate {
    base_offset: u64,
    path: PathBuf,
    file: Arc<File>,
    size_bytes: u64,
    end_offset: u64,
    index_add: Vec<(u64, u64)>,
    max_timestamp_ms: i64,
}

pub(crate) struct Writer {
    config: LogConfig,
    topics: Topics,
    /// `<data_dir>/bus`.
    root: PathBuf,
    topics_dir: PathBuf,
    wake: Arc<Notify>,
    disk: DiskGuard,
    /// The ends last written to `floors.json`, and when.
    floors_written: Ends,
    last_floors: Instant,
    /// Some end moved since `floors.json` was last written.
    floors_pending: bool,
    failed: Option<String>,
    /// Files written but not yet synced (`interval_ms` and `never` policies).
    dirty: BTreeMap<PathBuf, Arc<File>>,
    dirty_dirs: Vec<PathBuf>,
    last_sync: Instant,
    last_retention: Instant,
}

impl Writer {
    pub fn new(config: LogConfig, topics: Topics, root: PathBuf, wake: Arc<Notify>) -> Self {
        let disk = DiskGuard::new(config.disk_probe.clone(), config.disk_free_bytes_min);
        Self {
            config,
            topics,
            topics_dir: root.join("topics"),
            root,
            wake,
            disk,
            floors_written: Ends::new(),
            last_floors: Instant::now(),
            floors_pending: false,
            failed: None,
            dirty: BTreeMap::new(),
            dirty_dirs: Vec::new(),
            last_sync: Instant::now(),
            last_retention: Instant::now(),
        }
    }

    /// The floors found on open (what `floors.json` holds now).
    pub fn with_floors(mut self, floors: Ends) -> Self {
        self.floors_written = floors;
        self
    }

    /// The thread body.
    pub fn run(mut self, mut rx: mpsc::Receiver<WriterCommand>) {
        let rt = match tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
        {
            Ok(rt) => rt,
            Err(e) => {
                tracing::error!(error = %e, "bus writer: cannot build its runtime");
                return;
            }
        };
        rt.block_on(async {
            let mut stash: Option<WriterCommand> = None;
            loop {
                let first = match stash.take() {
                    Some(c) => Some(c),
                    None => match tokio::time::timeout(self.idle_wait(), rx.recv()).await {
                        Ok(Some(c)) => Some(c),
                        Ok(None) => break,
                        Err(_elapsed) => None,
                    },
                };
                match first {
                    Some(WriterCommand::Append(req)) => {
                        let mut bytes = req.bytes();
                        let mut group = vec![req];
                        while bytes < self.config.commit_bytes_max {
                            match rx.try_recv() {
                                Ok(WriterCommand::Append(r)) => {
                                    bytes += r.bytes();
                                    group.push(r);
                                }
                                Ok(other) => {
                                    stash = Some(other);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        self.commit(group);
                    }
                    Some(WriterCommand::DeleteTopic { topic, reply }) => {
                        let _ = reply.send(self.delete_topic(&topic));
                    }
                    Some(WriterCommand::Retention { now_ms, reply }) => {
                        let _ = reply.send(self.retention(now_ms));
                    }
                    Some(WriterCommand::Shutdown { reply }) => {
                        let _ = reply.send(self.sync_everything());
                        return;
                    }
                    None => {}
                }
                self.periodic();
            }
            if let Err(e) = self.sync_everything() {
                tracing::error!(error = %e, "bus writer: final sync failed");
            }
        });
    }

    fn idle_wait(&self) -> Duration {
        let mut retention = Duration::from_millis(self.config.retention_check_interval_ms)
            .saturating_sub(self.last_retention.elapsed());
        if self.floors_pending {
            retention = retention.min(
                Duration::from_millis(self.config.offset_floor_interval_ms)
                    .saturating_sub(self.last_floors.elapsed()),
            );
        }
        match self.config.fsync {
            FsyncPolicy::IntervalMs(ms) if !self.dirty.is_empty() => {
                retention.min(Duration::from_millis(ms).saturating_sub(self.last_sync.elapsed()))
            }
            _ => retention,
        }
        .max(Duration::from_millis(1))
    }

    fn periodic(&mut self) {
        if let FsyncPolicy::IntervalMs(ms) = self.config.fsync
            && !self.dirty.is_empty()
            && self.last_sync.elapsed() >= Duration::from_millis(ms)
            && let Err(e) = self.sync_dirty()
        {
            self.fail(&e);
        }
        if self.last_retention.elapsed()
            >= Duration::from_millis(self.config.retention_check_interval_ms)
        {
            self.last_retention = Instant::now();
            if let Err(e) = self.retention(self.config.clock.now_ms()) {
                tracing::warn!(error = %e, "retention failed");
            }
        }
        if self.floors_pending
            && self.last_floors.elapsed()
                >= Duration::from_millis(self.config.offset_floor_interval_ms)
        {
            self.persist_floors();
        }
    }

    /// Rewrites `floors.json` with the current ends when they moved and are durable (no
    /// file written but not yet synced). A failure is logged and tried again later: the
    /// floor only makes the loss check stronger, it never holds data.
    fn persist_floors(&mut self) {
        self.last_floors = Instant::now();
        if !self.dirty.is_empty() || !self.dirty_dirs.is_empty() {
            return;
        }
        let ends = floor::current_ends(&super::read_lock(&self.topics));
        if ends == self.floors_written {
            self.floors_pending = false;
            return;
        }
        match floor::store(&self.root, &ends) {
            Ok(()) => {
                self.floors_written = ends;
                self.floors_pending = false;
            }
            Err(error) => tracing::warn!(%error, "cannot write the offset floors"),
        }
    }

    fn fail(&mut self, e: &BusError) {
        tracing::error!(error = %e, "bus writer failed; refusing further writes");
        self.failed.get_or_insert_with(|| e.to_string());
    }

    /// One group commit.
    fn commit(&mut self, group: Vec<AppendRequest>) {
        if let Some(reason) = &self.failed {
            for req in group {
                let _ = req.reply.send(Err(BusError::Backend(format!(
                    "the bus writer failed earlier: {reason}"
                ))));
            }
            return;
        }
        let bytes: usize = group.iter().map(AppendRequest::bytes).sum();
        if let Err(full) = self.disk.check(&self.root, bytes as u64) {
            tracing::warn!(error = %full, "append refused: below the free-space floor");
            for req in group {
                let _ = req.reply.send(Err(disk_full_again(&full)));
            }
            return;
        }
        let mut works: Vec<Work> = Vec::new();
        let mut replies: Vec<(AppendReply, Result<Vec<u64>, BusError>)> =
            Vec::with_capacity(group.len());
        let mut error: Option<BusError> = None;
        for req in group {
            if req.topic.is_deleted() {
                let name = req.topic.name.to_string();
                replies.push((req.reply, Err(BusError::UnknownTopic(name))));
                continue;
            }
            let mut bases = Vec::with_capacity(req.frames.len());
            for (p, frame) in req.frames {
                match self.append(&req.topic, p, frame, &mut works) {
                    Ok(base) => bases.push(base),
                    Err(e) => {
                        error.get_or_insert(e);
                        break;
                    }
                }
            }
            replies.push((req.reply, Ok(bases)));
            if error.is_some() {
                break;
            }
        }
        if error.is_none()
            && let Err(e) = self.write_and_sync(&mut works)
        {
            error = Some(e);
        }
        if let Some(e) = error {
            self.fail(&e);
            let reason = e.to_string();
            for (reply, _) in replies {
                let _ = reply.send(Err(BusError::Backend(format!("write failed: {reason}"))));
            }
            return;
        }
        for work in &mut works {
            publish(work);
        }
        self.floors_pending = true;
        self.wake.notify_waiters();
        for (reply, result) in replies {
            let _ = reply.send(result);
        }
    }

    /// Stamps one frame's offsets and stages its bytes; rolls the segment when full or old.
    fn append(
        &mut self,
        topic: &Topic,
        p: u32,
        mut frame: EncodedFrame,
        works: &mut Vec<Work>,
    ) -> Result<u64, BusError> {
        let partition =
            topic
                .partitions
                .get(p as usize)
                .ok_or_else(|| BusError::UnknownPartition {
                    topic: topic.name.to_string(),
                    partition: p,
                    partitions: topic.config.partitions,
                })?;
        let wi = match works
            .iter()
            .position(|w| Arc::ptr_eq(&w.partition, partition))
        {
            Some(i) => i,
            None => {
                let active = lock(&partition.active);
                let a = active.as_ref().ok_or_else(read_only_error)?;
                works.push(Work {
                    partition: partition.clone(),
                    buf: Vec::new(),
                    buf_pos: a.written_bytes,
                    buf_file: Some((a.file.clone(), a.path.clone())),
                    updates: vec![SegmentUpdate {
                        base_offset: a.base_offset,
                        path: a.path.clone(),
                        file: a.file.clone(),
                        size_bytes: a.written_bytes,
                        end_offset: a.next_offset,
                        index_add: Vec::new(),
                        max_timestamp_ms: i64::MIN,
                    }],
                    to_sync: Vec::new(),
                    dir_dirty: false,
                });
                works.len() - 1
            }
        };
        let work = &mut works[wi];
        let mut guard = lock(&partition.active);
        let a = guard.as_mut().ok_or_else(read_only_error)?;
        let frame_bytes = frame.bytes.len() as u64;
        let now = now_ms();
        if a.written_bytes > 0
            && (a.written_bytes + frame_bytes > self.config.segment_bytes_max
                || now.saturating_sub(a.opened_at_ms) > self.config.segment_age_ms_max as i64)
        {
            roll(a, work, &partition.dir)?;
        }
        let base = a.next_offset;
        stamp_base_offset(&mut frame.bytes, base);
        // The current update always describes the active segment (pushed at start or roll).
        let upd = work
            .updates
            .last_mut()
            .ok_or_else(|| BusError::Backend("writer: no segment update".to_owned()))?;
        if a.last_index_pos
            .is_none_or(|last| a.written_bytes - last >= self.config.index_interval_bytes)
        {
            upd.index_add.push((base, a.written_bytes));
            a.last_index_pos = Some(a.written_bytes);
        }
        work.buf.extend_from_slice(&frame.bytes);
        a.written_bytes += frame_bytes;
        a.next_offset += u64::from(frame.record_count);
        upd.size_bytes = a.written_bytes;
        upd.end_offset = a.next_offset;
        upd.max_timestamp_ms = upd.max_timestamp_ms.max(frame.max_timestamp_ms);
        Ok(base)
    }

    /// Writes every staged buffer and syncs per policy.
    fn write_and_sync(&mut self, works: &mut [Work]) -> Result<(), BusError> {
        for work in works.iter_mut() {
            flush_buf(work)?;
        }
        match self.config.fsync {
            FsyncPolicy::Always => {
                sync_parallel(works)?;
                self.last_sync = Instant::now();
            }
            FsyncPolicy::IntervalMs(_) | FsyncPolicy::Never => {
                for work in works.iter_mut() {
                    for (file, path) in work.to_sync.drain(..) {
                        self.dirty.insert(path, file);
                    }
                    if work.dir_dirty {
                        self.dirty_dirs.push(work.partition.dir.clone());
                    }
                }
            }
        }
        Ok(())
    }

    fn sync_dirty(&mut self) -> Result<(), BusError> {
        for (path, file) in std::mem::take(&mut self.dirty) {
            file.sync_data().map_err(|e| io_err(&path, e))?;
        }
        for dir in std::mem::take(&mut self.dirty_dirs) {
            fsync_dir(&dir)?;
        }
        self.last_sync = Instant::now();
        Ok(())
    }

    fn sync_everything(&mut self) -> Result<(), BusError> {
        self.sync_dirty()?;
        let topics: Vec<Arc<Topic>> = super::read_lock(&self.topics).values().cloned().collect();
        for topic in topics {
            for p in &topic.partitions {
                if let Some(a) = lock(&p.active).as_ref() {
                    a.file.sync_data().map_err(|e| io_err(&a.path, e))?;
                }
            }
        }
        if self.failed.is_none() && self.floors_pending {
            self.persist_floors();
        }
        Ok(())
    }

    fn delete_topic(&mut self, topic: &Topic) -> Result<(), BusError> {
        topic.mark_deleted();
        self.sync_dirty()?;
        let tomb = self
            .topics_dir
            .join(format!(".deleted-{}-{}", topic.name, now_ms()));
        std::fs::rename(&topic.dir, &tomb).map_err(|e| io_err(&topic.dir, e))?;
        fsync_dir(&self.topics_dir)?;
        std::fs::remove_dir_all(&tomb).map_err(|e| io_err(&tomb, e))?;
        // The deleted topic's floors must not outlive it (a new topic may take its name).
        let ends = floor::current_ends(&super::read_lock(&self.topics));
        floor::store(&self.root, &ends)?;
        self.floors_written = ends;
        Ok(())
    }

    /// Deletes whole sealed segments past the time or size limit. Never the active (last)
    /// segment; never a segment with a record newer than `now - retention_ms`; by size, only
    /// while what remains is still at least `retention_bytes` (Kafka's rule).
    fn retention(&mut self, now_ms: i64) -> Result<usize, BusError> {
        let topics: Vec<Arc<Topic>> = super::read_lock(&self.topics).values().cloned().collect();
        let mut deleted = 0;
        for topic in topics {
            let retention_ms = topic.config.retention_ms;
            let retention_bytes = topic
                .config
                .retention_bytes
                .or(self.config.retention_bytes_default);
            if retention_ms.is_none() && retention_bytes.is_none() {
                continue;
            }
            for partition in &topic.partitions {
                let removed = {
                    let mut v = partition.view();
                    let mut removed: Vec<Segment> = Vec::new();
                    while v.segments.len() > 1 {
                        let first = &v.segments[0];
                        let by_time = retention_ms.is_some_and(|ms| {
                            first.max_timestamp_ms
                                < now_ms.saturating_sub(i64::try_from(ms).unwrap_or(i64::MAX))
                        });
                        let by_size = retention_bytes
                            .is_some_and(|limit| v.size_bytes() - first.size_bytes >= limit);
                        if !(by_time || by_size) {
                            break;
                        }
                        removed.push(v.segments.remove(0));
                    }
                    removed
                };
                for seg in removed {
                    tracing::info!(path = %seg.path.display(), "retention: deleting segment");
                    match std::fs::remove_file(&seg.path) {
                        Ok(()) => deleted += 1,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io_err(&seg.path, e)),
                    }
                }
            }
        }
        Ok(deleted)
    }
}

/// The same refusal for each request of a group ([`BusError`] is not `Clone`).
fn disk_full_again(error: &BusError) -> BusError {
    match error {
        BusError::DiskFull {
            path,
            free_bytes,
            floor_bytes,
        } => BusError::DiskFull {
            path: path.clone(),
            free_bytes: *free_bytes,
            floor_bytes: *floor_bytes,
        },
        other => BusError::Backend(other.to_string()),
    }
}

fn read_only_error() -> BusError {
    BusError::Backend("the bus was opened read-only".to_owned())
}

fn flush_buf(work: &mut Work) -> Result<(), BusError> {
    if let Some((file, path)) = work.buf_file.take() {
        if !work.buf.is_empty() {
            file.write_all_at(&work.buf, work.buf_pos)
                .map_err(|e| io_err(&path, e))?;
        }
        work.to_sync.push((file, path));
    }
    work.buf.clear();
    Ok(())
}

/// Closes the active segment and opens the next one, named by the next offset.
fn roll(a: &mut ActiveSegment, work: &mut Work, dir: &Path) -> Result<(), BusError> {
    flush_buf(work)?;
    let base = a.next_offset;
    let path = dir.join(segment::segment_file_name(base));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| io_err(&path, e))?;
    let file = Arc::new(file);
    *a = ActiveSegment {
        base_offset: base,
        path: path.clone(),
        file: file.clone(),
        written_bytes: 0,
        next_offset: base,
        last_index_pos: None,
        opened_at_ms: now_ms(),
    };
    work.buf_pos = 0;
    work.buf_file = Some((file.clone(), path.clone()));
    work.dir_dirty = true;
    work.updates.push(SegmentUpdate {
        base_offset: base,
        path,
        file,
        size_bytes: 0,
        end_offset: base,
        index_add: Vec::new(),
        max_timestamp_ms: i64::MIN,
    });
    Ok(())
}

/// fdatasync of every touched file (and directory, after a roll); in parallel when several
/// partitions were touched, so that the journal commits can be shared.
fn sync_parallel(works: &mut [Work]) -> Result<(), BusError> {
    let sync_one = |work: &mut Work| -> Result<(), BusError> {
        for (file, path) in work.to_sync.drain(..) {
            file.sync_data().map_err(|e| io_err(&path, e))?;
        }
        if work.dir_dirty {
            fsync_dir(&work.partition.dir)?;
            work.dir_dirty = false;
        }
        Ok(())
    };
    if works.len() <= 1 {
        return works.iter_mut().try_for_each(sync_one);
    }
    std::thread::scope(|s| {
        let (first, rest) = works.split_at_mut(1);
        let handles: Vec<_> = rest
            .iter_mut()
            .map(|w| s.spawn(move || sync_one(w)))
            .collect();
        let mut result = first.iter_mut().try_for_each(sync_one);
        for h in handles {
            let r = h
                .join()
                .unwrap_or_else(|_| Err(BusError::Backend("fsync thread panicked".to_owned())));
            if result.is_ok() {
                result = r;
            }
        }
        result
    })
}

/// Makes a work's bytes visible to readers.
fn publish(work: &mut Work) {
    let mut v = work.partition.view();
    for upd in work.updates.drain(..) {
        match v.segments.last_mut() {
            Some(last) if last.base_offset == upd.base_offset => {
                last.size_bytes = upd.size_bytes;
                last.end_offset = upd.end_offset;
                last.index.extend(upd.index_add);
                last.max_timestamp_ms = last.max_timestamp_ms.max(upd.max_timestamp_ms);
            }
            _ => v.segments.push(Segment {
                base_offset: upd.base_offset,
                path: upd.path,
                file: upd.file,
                size_bytes: upd.size_bytes,
                end_offset: upd.end_offset,
                index: upd.index_add,
                max_timestamp_ms: upd.max_timestamp_ms,
            }),
        }
        v.high_watermark = upd.end_offset;
    }
}
