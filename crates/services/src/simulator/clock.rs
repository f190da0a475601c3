//! Time as the simulator sees it. Owns the [`Clock`] port and two implementations: the
//! wall clock for real runs and a manual clock for tests and reproducible replays.
//!
//! Two readings are kept apart on purpose: `now_utc` is what events are stamped with (and
//! what UUID v7 ids embed), `monotonic` is what pacing measures elapsed time with. A test
//! clock moves both together; the wall clock can jump while the monotonic one never does.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeZone, Utc};

/// Source of time for the simulator. Injected so that a seed plus a clock replay a run.
pub trait Clock: Send + Sync {
    /// Wall-clock time stamped on generated events.
    fn now_utc(&self) -> DateTime<Utc>;
    /// Time elapsed since an arbitrary, fixed origin; never goes backwards.
    fn monotonic(&self) -> Duration;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now_utc(&self) -> DateTime<Utc> {
        (**self).now_utc()
    }
    fn monotonic(&self) -> Duration {
        (**self).monotonic()
    }
}

/// The real clock: `Utc::now()` and an `Instant` taken at construction.
#[derive(Debug, Clone)]
pub struct SystemClock {
    origin: Instant,
}

impl SystemClock {
    pub fn new() -> Self {
        Self {
            origin: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for SystemClock {
    fn now_utc(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn monotonic(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// A clock that only moves when told to, or by a fixed step at each `now_utc` reading
/// ("stepping" clock). Shareable: clones see the same time, so a test can keep a handle
/// and advance the clock that the simulator owns.
#[derive(Debug, Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

#[derive(Debug)]
struct ManualInner {
    start_unix_ms: i64,
    elapsed_ns: AtomicU64,
    step_per_reading_ns: u64,
}

impl ManualClock {
    /// A clock frozen at `start` until [`ManualClock::advance`] is called.
    pub fn fixed(start: DateTime<Utc>) -> Self {
        Self::stepping(start, Duration::ZERO)
    }

    /// A clock that moves forward by `step` after every `now_utc` reading, so consecutive
    /// events get increasing timestamps without any real time passing.
    pub fn stepping(start: DateTime<Utc>, step: Duration) -> Self {
        Self {
            inner: Arc::new(ManualInner {
                start_unix_ms: start.timestamp_millis(),
                elapsed_ns: AtomicU64::new(0),
                step_per_reading_ns: duration_ns(step),
            }),
        }
    }

    /// The fixed origin used by tests and by `--seed` replays: 2026-01-05T08:00:00Z, a Monday
    /// morning (a banking day).
    pub fn default_start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 5, 8, 0, 0)
            .single()
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        self.inner
            .elapsed_ns
            .fetch_add(duration_ns(by), Ordering::SeqCst);
    }

    fn elapsed_ns(&self) -> u64 {
        self.inner.elapsed_ns.load(Ordering::SeqCst)
    }
}

impl Clock for ManualClock {
    fn now_utc(&self) -> DateTime<Utc> {
        let elapsed_ns = if self.inner.step_per_reading_ns == 0 {
            self.elapsed_ns()
        } else {
            self.inner
                .elapsed_ns
                .fetch_add(self.inner.step_per_reading_ns, Ordering::SeqCst)
        };
        let elapsed_ms = i64::try_from(elapsed_ns / 1_000_000).unwrap_or(i64::MAX);
        let unix_ms = self.inner.start_unix_ms.saturating_add(elapsed_ms);
        DateTime::<Utc>::from_timestamp_millis(unix_ms).unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    }

    fn monotonic(&self) -> Duration {
        Duration::from_nanos(self.elapsed_ns())
    }
}

fn duration_ns(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_clock_moves_only_when_advanced() {
        let clock = ManualClock::fixed(ManualClock::default_start());
        let a = clock.now_utc();
        assert_eq!(a, clock.now_utc());
        clock.advance(Duration::from_millis(1500));
        assert_eq!((clock.now_utc() - a).num_milliseconds(), 1500);
        assert_eq!(clock.monotonic(), Duration::from_millis(1500));
    }

    #[test]
    fn stepping_clock_steps_per_reading() {
        let clock = ManualClock::stepping(ManualClock::default_start(), Duration::from_millis(2));
        let a = clock.now_utc();
        let b = clock.now_utc();
        assert_eq!((b - a).num_milliseconds(), 2);
    }
}
