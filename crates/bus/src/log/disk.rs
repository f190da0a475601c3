//! The free-space floor and the injected clock of the embedded log.
//!
//! Owns the decision "may this group commit be written?": below
//! `LogConfig::disk_free_bytes_min` free bytes on the data directory's file system, appends
//! are refused with [`BusError::DiskFull`] before anything is written, so the writer is
//! never poisoned by a full disk and the space left stays for what must keep working
//! (consumer-group commits, the stores' checkpoints, recovery). The file system is asked
//! at most every [`PROBE_INTERVAL`]; in between, bytes written are subtracted from the
//! last answer.

use std::fmt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::port::BusError;

/// Answers the free bytes of the file system holding a path.
type FreeBytesFn = dyn Fn(&Path) -> std::io::Result<u64> + Send + Sync;

/// Free bytes available to this process on the file system holding a path.
#[derive(Clone)]
pub struct DiskProbe(Arc<FreeBytesFn>);

impl DiskProbe {
    /// A probe answering with `probe(path)` (tests inject a fixed or shared value).
    pub fn new(probe: impl Fn(&Path) -> std::io::Result<u64> + Send + Sync + 'static) -> Self {
        Self(Arc::new(probe))
    }

    pub fn free_bytes(&self, path: &Path) -> std::io::Result<u64> {
        (self.0)(path)
    }
}

impl Default for DiskProbe {
    /// `statvfs(2)`: blocks available to unprivileged users times the fragment size.
    fn default() -> Self {
        Self::new(|path| {
            let st = rustix::fs::statvfs(path).map_err(std::io::Error::from)?;
            Ok(st.f_bavail.saturating_mul(st.f_frsize))
        })
    }
}

impl fmt::Debug for DiskProbe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DiskProbe")
    }
}

/// Milliseconds since the Unix epoch, as retention sees them.
#[derive(Clone)]
pub struct LogClock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl LogClock {
    pub fn new(now_ms: impl Fn() -> i64 + Send + Sync + 'static) -> Self {
        Self(Arc::new(now_ms))
    }

    pub fn now_ms(&self) -> i64 {
        (self.0)()
    }
}

impl Default for LogClock {
    fn default() -> Self {
        Self::new(super::now_ms)
    }
}

impl fmt::Debug for LogClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LogClock")
    }
}

/// How long one answer of the file system is trusted (minus what was written since).
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);

/// The writer's view of the free space.
pub(crate) struct DiskGuard {
    probe: DiskProbe,
    floor_bytes: u64,
    /// Last answer and when it was given.
    last: Option<(u64, Instant)>,
    written_since_bytes: u64,
}

impl DiskGuard {
    pub fn new(probe: DiskProbe, floor_bytes: u64) -> Self {
        Self {
            probe,
            floor_bytes,
            last: None,
            written_since_bytes: 0,
        }
    }

    /// `Err(DiskFull)` when writing `bytes` more would leave less than the floor. A probe
    /// that fails lets the write through (the write itself then reports the real error).
    pub fn check(&mut self, path: &Path, bytes: u64) -> Result<(), BusError> {
        if self.floor_bytes == 0 {
            return Ok(());
        }
        let fresh = self
            .last
            .is_some_and(|(_, at)| at.elapsed() < PROBE_INTERVAL);
        if !fresh {
            match self.probe.free_bytes(path) {
                Ok(free) => {
                    self.last = Some((free, Instant::now()));
                    self.written_since_bytes = 0;
                }
                Err(error) => {
                    tracing::warn!(%error, path = %path.display(), "cannot measure free disk space");
                    return Ok(());
                }
            }
        }
        let free = self.last.map_or(u64::MAX, |(f, _)| {
            f.saturating_sub(self.written_since_bytes)
        });
        if free.saturating_sub(bytes) < self.floor_bytes {
            // Ask again next time: space may be freed at any moment.
            self.last = None;
            return Err(BusError::DiskFull {
                path: path.display().to_string(),
                free_bytes: free,
                floor_bytes: self.floor_bytes,
            });
        }
        self.written_since_bytes += bytes;
        Ok(())
    }
}
