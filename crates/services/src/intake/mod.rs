//! S2 — order intake from a watched folder (S2-01 … S2-04), the embedded profile's stand-in
//! for S3 `orders/` → `tp-order-validator` → SQS → `tp-order-worker` → DynamoDB `tp-orders`.
//!
//! ```text
//! <data>/inbox/orders/*.json ─► watcher (validator) ─► queue `tp-orders-queue`
//!        moved to processed/ (valid) or rejected/ (invalid), pruned by age and count
//! `tp-orders-queue` ─► worker (group tp-order-worker) ─► store: PROCESSED | REJECTED | DUPLICATE
//!                                                     └─ REJECTED ─► `tp-orders-dlq`
//! GET /api/v1/intake/orders/{order_id}, GET /api/v1/intake/stats
//! ```
//!
//! **Each file once.** A file is queued with an `intake_id` derived from its name, size and
//! modification time, then moved out of the inbox; a crash between the two re-queues it on
//! restart with the same `intake_id`, which the worker recognises as a redelivery (no second
//! record, no second count). Writers should write elsewhere and rename into the inbox (only
//! `*.json` files are read; hidden files are ignored).
//!
//! Owns: the inbox folder, the watcher, the worker, its store (`intake.sqlite`, or tables
//! `s2_…` on PostgreSQL, per [`StoreChoice`]). Rules from
//! `edalab_domain::order` ([`edalab_domain::order::Order::parse`],
//! [`edalab_domain::order::intake_status`]).

pub mod api;
mod prune;
pub mod source;
pub mod store;
mod watcher;
mod worker;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use edalab_bus::runtime::RuntimeStats;
use edalab_bus::{QueueConsumer, QueueSpec, Queues, TopicConfig, on_dead_letter};

use edalab_telemetry::events::OrderRecorded;

use crate::pipeline::{self, Env, Handles, SharedClock, StartError};
pub use source::{IntakeBackends, OrderCounts, OrderSource, order_record};
pub use store::{IntakeStore, PgIntakeStore, SqliteIntakeStore};

/// The service name its metrics, traces and logs carry (`edalab serve intake`).
pub const SERVICE: &str = "intake";

/// The main queue (the seed's "SQS main queue" of `tp-orders`).
pub const INTAKE_QUEUE: &str = "tp-orders-queue";
/// Its DLQ.
pub const INTAKE_DLQ: &str = "tp-orders-dlq";
/// Group of the worker.
pub const WORKER_GROUP: &str = "tp-order-worker";
/// Consumer group that reads `tp-orders-dlq` on a log (to log each dead letter).
pub const DLQ_TRACKER_GROUP: &str = "tp-order-dlq-tracker";

/// `tp-orders-queue` (S2-02) with the seeds' settings (visibility 60 s, 3 receives, 4 days),
/// dead letters in [`INTAKE_DLQ`] for 14 days.
pub fn intake_queue() -> QueueSpec {
    QueueSpec::seeded(INTAKE_QUEUE, INTAKE_DLQ)
}
/// Headers set by the watcher.
pub const FILE_HEADER: &str = "file_name";
pub const INTAKE_ID_HEADER: &str = "intake_id";

/// The intake's topics (SQS retention 4 days, DLQ 14 days).
pub fn topics() -> Vec<(&'static str, TopicConfig)> {
    vec![
        (INTAKE_QUEUE, pipeline::topic(3, Some(4), "none")),
        (INTAKE_DLQ, pipeline::topic(1, Some(14), "none")),
    ]
}

/// Registers the S2-04 counters at 0, so `/metrics` lists them before the first order
/// (through whatever `metrics` recorder is installed: the gateway's Prometheus one in
/// `edalab up`). Called at start and by the watcher before each scan, because the recorder
/// may be installed after the pipeline starts (a few map lookups per scan).
pub(super) fn register_metrics() {
    OrderRecorded::register();
}

/// S2-04 counters, also exported through the `metrics` facade by [`OrderRecorded`]'s events
/// (the atomics serve `GET /api/v1/intake/stats`), plus files seen.
#[derive(Debug, Default)]
pub struct Counters {
    pub orders_processed_total: AtomicU64,
    pub orders_rejected_total: AtomicU64,
    pub orders_duplicate_total: AtomicU64,
    pub files_queued_total: AtomicU64,
}

/// Settings of the intake.
#[derive(Clone, Debug)]
pub struct IntakeConfig {
    /// How often the inbox is scanned.
    pub scan_interval_ms: u64,
    /// Files queued per scan at most.
    pub files_per_scan_max: usize,
    /// Larger files are moved to `rejected/` unread.
    pub file_size_bytes_max: u64,
    /// Files in `processed/` and `rejected/` older than this are removed (the store keeps
    /// what was recorded; the folders are only the trail of the files).
    pub kept_file_age_ms_max: u64,
    /// ... and beyond this many per folder, the oldest are removed.
    pub kept_files_max: usize,
    /// How often the two folders are pruned.
    pub prune_interval_ms: u64,
}

impl Default for IntakeConfig {
    fn default() -> Self {
        Self {
            scan_interval_ms: 500,
            files_per_scan_max: 100,
            file_size_bytes_max: 1 << 20,
            kept_file_age_ms_max: 7 * 24 * 3600 * 1000,
            kept_files_max: 10_000,
            prune_interval_ms: 60_000,
        }
    }
}

/// What the routes, the watcher and the worker share.
#[derive(Clone)]
pub struct IntakeState {
    pub queues: Arc<dyn Queues>,
    pub store: Arc<dyn IntakeStore>,
    pub counters: Arc<Counters>,
    /// `<data>/inbox/orders`.
    pub inbox: PathBuf,
    /// Where `processed_at` comes from.
    pub clock: SharedClock,
    /// Where the S2-04 counts also go (CloudWatch on the `aws` profile).
    pub counts: Option<Arc<dyn OrderCounts>>,
}

/// The running intake.
pub struct Intake {
    pub handles: Handles,
    pub state: IntakeState,
    pub worker_stats: Arc<RuntimeStats>,
}

/// The inbox folder under a data dir.
pub fn inbox_dir(data_dir: &Path) -> PathBuf {
    data_dir.join("inbox").join("orders")
}

/// Most attempts at a free name when `name` is taken in the inbox (`stem.1.json`, …).
const FREE_NAME_ATTEMPTS_MAX: u32 = 1_000;

/// Drops an order file into `inbox` the way the watcher expects: written in full to a
/// hidden temporary file in the inbox itself (the watcher ignores hidden files), synced,
/// then linked under its name without replacing an existing file (a name already taken
/// becomes `stem.1.json`, `stem.2.json`, …) — so the watcher never reads half a file and
/// never loses one. `name` must be a plain `*.json` file name. Answers the final path.
/// Blocking: call it from `spawn_blocking` in async code.
pub fn write_order_file(inbox: &Path, name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    use std::io::{Error, ErrorKind, Write};
    let stem = name
        .strip_suffix(".json")
        .filter(|stem| !stem.is_empty() && !stem.starts_with('.') && !stem.contains(['/', '\\']));
    let Some(stem) = stem else {
        return Err(Error::new(
            ErrorKind::InvalidInput,
            format!("order file name `{name}`: must be a plain `*.json` file name, not hidden"),
        ));
    };
    std::fs::create_dir_all(inbox)?;
    let mut file = tempfile::Builder::new()
        .prefix(".incoming-")
        .suffix(".tmp")
        .tempfile_in(inbox)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    let mut target = inbox.join(name);
    for n in 1..=FREE_NAME_ATTEMPTS_MAX {
        match file.persist_noclobber(&target) {
            Ok(_) => return Ok(target),
            Err(e) if e.error.kind() == ErrorKind::AlreadyExists => {
                file = e.file;
                target = inbox.join(format!("{stem}.{n}.json"));
            }
            Err(e) => return Err(e.error),
        }
    }
    Err(Error::new(
        ErrorKind::AlreadyExists,
        format!(
            "{}: no free name for `{name}` after {FREE_NAME_ATTEMPTS_MAX} attempts",
            inbox.display()
        ),
    ))
}

/// [`start_with`] the default [`IntakeConfig`] (scan every 500 ms).
pub async fn start(env: &Env) -> Result<Intake, StartError> {
    start_with(env, IntakeConfig::default()).await
}

/// Creates the topics and folders, opens the store `env` names (`intake.sqlite` under its
/// data dir for SQLite, or the one `env.provided.intake` provides), starts the source of order files
/// (the inbox watcher, or `env.provided.intake`'s: an S3 bucket on the `aws` profile), the worker
/// (which stamps `processed_at` from `env`'s clock) and, with `env.provided.intake`'s counts, their
/// flusher. Mount [`api::router`]`(intake.state.clone())`.
pub async fn start_with(env: &Env, config: IntakeConfig) -> Result<Intake, StartError> {
    let shutdown = env.shutdown.clone();
    pipeline::ensure_queues(env.queues.as_ref(), &[intake_queue()]).await?;
    register_metrics();
    let inbox = inbox_dir(&env.data_dir);
    if env.provided.intake.source.is_none() {
        create_folders(&inbox)?;
    }
    let store = match &env.provided.intake.store {
        Some(store) => Arc::clone(store),
        None => store::open(&env.stores, &env.data_dir)?,
    };
    let state = IntakeState {
        queues: env.queues.clone(),
        store,
        counts: env.provided.intake.counts.clone(),
        counters: Arc::new(Counters::default()),
        inbox,
        clock: env.clock.clone(),
    };
    let consumer = QueueConsumer {
        group: WORKER_GROUP.to_owned(),
        dead_letter_group: DLQ_TRACKER_GROUP.to_owned(),
        handler: worker(&state),
        on_dead_letter: dead_lettered(),
    };
    let (worker, worker_stats) = pipeline::consume(
        SERVICE,
        "tp-order-worker",
        env.queues.as_ref(),
        &intake_queue(),
        consumer,
        shutdown.clone(),
    )
    .await?;
    let mut tasks = vec![worker];
    tasks.push(match &env.provided.intake.source {
        Some(source) => source.start(env.queues.clone(), shutdown.clone()).await?,
        None => watcher::spawn(state.clone(), config, shutdown.clone()),
    });
    if let Some(counts) = &env.provided.intake.counts {
        tasks.push(source::spawn_flusher(Arc::clone(counts), shutdown));
    }
    Ok(Intake {
        handles: Handles { tasks },
        state,
        worker_stats,
    })
}

/// The S2-03 worker of `tp-orders-queue`, the same in process and in the `order-worker`
/// Lambda function.
pub fn worker(state: &IntakeState) -> Arc<dyn edalab_bus::runtime::Handler> {
    Arc::new(worker::Worker::new(state.clone()))
}

/// The worker's dead letters: logged, since the order is recorded `REJECTED` (with its
/// reasons) before it is dead-lettered.
pub fn dead_lettered() -> edalab_bus::OnDeadLetter {
    on_dead_letter(|dead| async move {
        tracing::info!(queue = %dead.queue, reason = %dead.reason, "order file dead-lettered");
    })
}

/// The inbox and its `processed/` and `rejected/` folders.
fn create_folders(inbox: &Path) -> Result<(), StartError> {
    for dir in [
        inbox.to_path_buf(),
        inbox.join("processed"),
        inbox.join("rejected"),
    ] {
        std::fs::create_dir_all(&dir).map_err(|source| StartError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    Ok(())
}
