//! The consumer runtime, shared by every backend: it runs a handler over a consumer group
//! and owns delivery semantics (DESIGN.md §3, `docs/adr/005-consumer-runtime.md`).
//!
//! - [`handler`]: the contract — `Done`, `Retry(reason)`, `Reject(reason)` per message;
//! - [`consumer`]: the loop — per-key order under retry, exponential backoff with full
//!   jitter ([`retry`]), bounded in-flight messages, watermark commits, graceful shutdown;
//! - [`dlq`]: DLQ routing, the DLQ message format, list/show;
//! - [`redrive`]: DLQ → origin topic at a bounded rate; what is still pending (depth);
//! - [`lag`]: counters for the metrics layer, group lag;
//! - [`members`]: several members of one group in one process — scale, pause, resume;
//! - [`exactly_once`]: the inbox/position hook a store implements so that effects are
//!   applied once.
//!
//! It codes against [`crate::port`] only: no backend detail leaks in.

pub mod consumer;
pub mod dlq;
pub mod exactly_once;
pub mod handler;
pub mod lag;
pub mod members;
mod partition;
pub mod redrive;
pub mod retry;

pub use consumer::{ConsumerRuntime, RunSummary, RuntimeConfig};
pub use dlq::{DlqEntry, DlqParseError, DlqRouting, Failure};
pub use exactly_once::{Applied, AppliedId, Inbox, PositionStore, StoreError, apply_once};
pub use handler::{BatchHandler, Handler, Outcome, PerMessage};
pub use lag::{GroupLag, RuntimeStats, StatsSnapshot, group_lag};
pub use members::{
    ControlError, MEMBERS_MAX, MemberFactory, MemberFailure, MemberPool, MemberRun, MemberStatus,
    PoolStatus,
};
pub use redrive::{RedriveFilter, RedriveReport, list_pending, pending_depth, redrive};
pub use retry::RetryPolicy;

use crate::port::{BusError, TimestampMs};

/// Errors of the runtime, redrive and DLQ inspection.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("invalid consumer runtime configuration: {0}")]
    Config(String),
    #[error("no DLQ is configured for topic `{0}`")]
    NoDlq(String),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("position store: {0}")]
    Store(#[source] StoreError),
}

/// Wall-clock time, injected so tests control the DLQ failure times.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> TimestampMs;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> TimestampMs {
        chrono::Utc::now().timestamp_millis()
    }
}
