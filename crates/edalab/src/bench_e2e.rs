//! `edalab bench e2e`: the platform end to end, produce → ledger committed, in this
//! process (issue 7, S3-18). Method: `docs/adr/014-end-to-end-measurement.md`.
//!
//! Each phase starts a fresh platform in a scratch directory under the data directory
//! (real disk, deleted afterwards): the embedded bus (`fsync` per `--fsync`, default
//! always; the seed topics) and the ledger exactly as `edalab up` runs it
//! ([`crate::ledger::start`]) on SQLite or a scratch PostgreSQL database. Realistic
//! `banking-day` events (seeded, Avro-encoded beforehand, keyed by account) are offered to the bus on a schedule; each carries its
//! **scheduled** send time in a header, and a wrapper around the ledger's batch handler
//! records `commit time − scheduled time` for every message the store transaction has
//! just committed, in HDR histograms (a stalled producer counts: no coordinated
//! omission).
//!
//! Phases: the seed's four tests (S3-18: 100 ev/s for 60 s, ≥ 90 % applied; P50/P95/P99
//! over 1 000 events, P99 < 500 ms; a 1 000-event burst applied within 30 s; 50 ev/s for
//! 5 min with RSS and latency stable), then offered-load steps (the maximum sustainable
//! rate, latency at 1 000 / 10 000 / 100 000 ev/s), a 100 000-event burst, and the raw
//! batched SQLite insert rate as the ceiling; before the ceiling, the per-stage phase at 10 000 ev/s once
//! per `--fsync` policy (and `--stage-repeats`). Every phase also records each event's
//! stages (generator lag, produce → durable, → polled, → store committed, → offset
//! committed; see [`stages`]). `--quick` keeps the shape with shorter
//! phases (< 60 s). The report (Markdown, JSON, SVG plots) goes to `--out`. Exits non-zero
//! when one of the seed's four tests fails; the compass goals are reported, not enforced.

mod report;
mod stages;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::config::{BusBackend, Config};
use anyhow::Context;
use async_trait::async_trait;
use clap::Args;
use edalab_bus::log::EmbeddedBus;
use edalab_bus::port::Message;
use edalab_bus::runtime::{BatchHandler, Outcome};
use edalab_bus::{Admin, Bus, Producer, Record};
use edalab_schema::SchemaCatalog;
use edalab_services::simulator::{ItemEncoder, ManualClock, Payload, Scenario, Simulator};
use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;
use tokio::sync::watch;

use crate::bench::LedgerBenchStore;
use stages::{FsyncChoice, Moment, ObservedBus, StageTable, Stamps};

/// The header carrying an event's scheduled send time (ns since the phase's base instant,
/// little-endian u64).
const STAMP_HEADER: &str = "edalab-bench-scheduled-ns";
/// Most records offered in one produce round (spread over the topics).
const OFFER_CHUNK_RECORDS_MAX: usize = 10_000;
/// Latency histograms: 1 µs .. 1 h, 3 significant digits.
const LATENCY_US_MAX: u64 = 3_600_000_000;
/// How often the progress bar is refreshed.
const PROGRESS_INTERVAL: Duration = Duration::from_millis(100);
/// How often RSS and the latency window are sampled.
const SAMPLE_INTERVAL: Duration = Duration::from_secs(1);
/// A step is sustainable when every event is committed with a P99 at most this.
const SUSTAINABLE_P99_MS_MAX: f64 = 1_000.0;
/// Rates whose latency the report always gives (issue 7).
const LATENCY_RATES: [u64; 3] = [1_000, 10_000, 100_000];
/// The offered rate of the per-stage comparison (the compass's p99 goal is at this rate).
const STAGE_RATE: u64 = 10_000;

#[derive(Args, Debug, Clone)]
pub struct E2eBenchArgs {
    /// Short run with the same shape (< 60 s), for CI and development.
    #[arg(long)]
    pub quick: bool,
    /// Folder for report.md, report.json and the SVG plots (created if missing).
    #[arg(long, value_name = "DIR", default_value = "bench-e2e")]
    pub out: PathBuf,
    /// The ledger store [default: the profile's `store.backend`].
    #[arg(long, value_enum)]
    pub store: Option<LedgerBenchStore>,
    /// PostgreSQL server for `--store postgres` (a scratch database per phase, dropped)
    /// [default: the profile's `store.url`, else postgres://postgres@127.0.0.1:5432/postgres].
    #[arg(long, env = "EDALAB_BENCH_POSTGRES_URL")]
    pub postgres_url: Option<String>,
    /// Offered rates of the stepping phase, events/s, comma-separated [default:
    /// 1000,2000,5000,10000,20000,30000,50000,75000,100000,150000,200000,300000; quick:
    /// 1000,10000,100000]. 1 000, 10 000 and 100 000 are always run.
    #[arg(long, value_delimiter = ',', value_name = "N,N,...")]
    pub rates: Vec<u64>,
    /// Seconds offered per step [default: 5; quick: 1, at most 20 000 events].
    #[arg(long, value_name = "S")]
    pub step_seconds: Option<f64>,
    /// Seconds of the 50 ev/s stability test [default: 300; quick: 10].
    #[arg(long, value_name = "S")]
    pub soak_seconds: Option<u64>,
    /// Events of the large burst [default: 100 000; quick: 10 000].
    #[arg(long, value_name = "N")]
    pub burst_events: Option<u64>,
    /// Bus fsync policies, comma-separated: `always`, `interval` (100 ms), `interval_ms=N`,
    /// `never`. The S3-18 tests, steps and burst run with the first; the per-stage phase at
    /// 10 000 ev/s runs once per policy (and per `--stage-repeats`), side by side.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "POLICY,...",
        default_value = "always",
        value_parser = stages::parse_fsync
    )]
    pub fsync: Vec<FsyncChoice>,
    /// Repetitions of the per-stage phase for each `--fsync` policy [default: 1].
    #[arg(long, value_name = "N")]
    pub stage_repeats: Option<u32>,
    /// No progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

/// The phases' sizes, from the flags.
#[derive(Debug, Clone, Serialize)]
struct Plan {
    quick: bool,
    throughput_seconds: f64,
    throughput_rate: f64,
    latency_events: u64,
    latency_rate: f64,
    small_burst_events: u64,
    soak_seconds: u64,
    soak_rate: f64,
    rates: Vec<u64>,
    step_seconds: f64,
    step_events_max: u64,
    burst_events: u64,
    sqlite_rows: u64,
    drain_timeout_s: u64,
    fsync: Vec<FsyncChoice>,
    stage_repeats: u32,
    stage_events: u64,
}

impl Plan {
    fn from_args(args: &E2eBenchArgs) -> anyhow::Result<Self> {
        let quick = args.quick;
        let mut rates = if args.rates.is_empty() {
            if quick {
                vec![1_000, 10_000, 100_000]
            } else {
                vec![
                    1_000, 2_000, 5_000, 10_000, 20_000, 30_000, 50_000, 75_000, 100_000, 150_000,
                    200_000, 300_000,
                ]
            }
        } else {
            args.rates.clone()
        };
        anyhow::ensure!(
            rates.iter().all(|r| (1..=10_000_000).contains(r)),
            "--rates: every rate must be within 1..=10000000 events/s, got {:?}",
            args.rates
        );
        rates.extend(LATENCY_RATES);
        rates.sort_unstable();
        rates.dedup();
        let step_seconds = args.step_seconds.unwrap_or(if quick { 1.0 } else { 5.0 });
        anyhow::ensure!(
            step_seconds.is_finite() && step_seconds > 0.0 && step_seconds <= 3_600.0,
            "--step-seconds must be > 0 and <= 3600, got {step_seconds}"
        );
        let soak_seconds = args.soak_seconds.unwrap_or(if quick { 10 } else { 300 });
        anyhow::ensure!(
            (3..=86_400).contains(&soak_seconds),
            "--soak-seconds must be within 3..=86400, got {soak_seconds}"
        );
        let burst_events = args
            .burst_events
            .unwrap_or(if quick { 10_000 } else { 100_000 });
        anyhow::ensure!(
            (1..=10_000_000).contains(&burst_events),
            "--burst-events must be within 1..=10000000, got {burst_events}"
        );
        anyhow::ensure!(
            !args.fsync.is_empty(),
            "--fsync: give at least one policy (always | interval | interval_ms=N | never)"
        );
        let stage_repeats = args.stage_repeats.unwrap_or(1);
        anyhow::ensure!(
            (1..=20).contains(&stage_repeats),
            "--stage-repeats must be within 1..=20, got {stage_repeats}"
        );
        let step_events_max = if quick { 20_000 } else { 2_000_000 };
        let stage_events = ((STAGE_RATE as f64 * step_seconds) as u64).clamp(1, step_events_max);
        Ok(Self {
            quick,
            throughput_seconds: if quick { 10.0 } else { 60.0 },
            throughput_rate: 100.0,
            latency_events: 1_000,
            latency_rate: if quick { 500.0 } else { 100.0 },
            small_burst_events: 1_000,
            soak_seconds,
            soak_rate: 50.0,
            rates,
            step_seconds,
            step_events_max,
            burst_events,
            sqlite_rows: if quick { 50_000 } else { 500_000 },
            drain_timeout_s: if quick { 60 } else { 300 },
            fsync: args.fsync.clone(),
            stage_repeats,
            stage_events,
        })
    }
}

/// One pre-encoded banking event.
struct Event {
    topic: &'static str,
    key: Vec<u8>,
    value: Vec<u8>,
}

/// `n` realistic banking events (`banking-day`, valid and refused ones, no poison),
/// keyed by account as the simulator keys them.
fn generate(n: u64, seed: u64) -> anyhow::Result<Vec<Event>> {
    let scenario = Scenario::builtin("banking-day").context("the banking-day scenario")?;
    let clock = ManualClock::stepping(ManualClock::default_start(), Duration::from_millis(1));
    let mut simulator = Simulator::new(scenario, seed, clock).context("the simulator")?;
    let encoder = ItemEncoder::builtin().context("the encoder")?;
    let n = usize::try_from(n).context("too many events")?;
    let mut events = Vec::with_capacity(n);
    while events.len() < n {
        for item in simulator.next_batch(4_096) {
            if events.len() == n {
                break;
            }
            if let Payload::Banking(_) = &item.payload {
                events.push(Event {
                    topic: item.topic(),
                    key: item.key.clone().into_bytes(),
                    value: encoder.encode(&item).context("encoding an event")?,
                });
            }
        }
    }
    Ok(events)
}

#[allow(
    clippy::expect_used,
    reason = "constant bounds within hdrhistogram's limits"
)]
pub(crate) fn new_histogram() -> Histogram<u64> {
    // Bounds are constants within hdrhistogram's limits: cannot fail.
    Histogram::new_with_bounds(1, LATENCY_US_MAX, 3).expect("valid histogram bounds")
}

/// What the timed handler saw (shared with the phase's sampler).
struct Probe {
    base: Instant,
    committed: AtomicU64,
    state: Mutex<ProbeState>,
    /// Each event's moments, for the stage table.
    stamps: Arc<Stamps>,
}

struct ProbeState {
    all: Histogram<u64>,
    window: Histogram<u64>,
    last_commit_ns: u64,
}

impl Probe {
    fn new(events: usize) -> Self {
        let base = Instant::now();
        Self {
            base,
            stamps: Arc::new(Stamps::new(base, events)),
            committed: AtomicU64::new(0),
            state: Mutex::new(ProbeState {
                all: new_histogram(),
                window: new_histogram(),
                last_commit_ns: 0,
            }),
        }
    }

    fn nanos(&self) -> u64 {
        u64::try_from(self.base.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn lock(&self) -> MutexGuard<'_, ProbeState> {
        // Only histograms behind it: a panic elsewhere leaves them usable.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn committed(&self) -> u64 {
        self.committed.load(Ordering::Relaxed)
    }
}

/// Wraps the ledger's batch handler: once it returns, the batch's store transaction is
/// committed; every `Done` message's latency is `now − scheduled`.
struct Timed<H> {
    inner: H,
    probe: Arc<Probe>,
}

#[async_trait]
impl<H: BatchHandler> BatchHandler for Timed<H> {
    async fn handle(&self, batch: &[Message]) -> Vec<Outcome> {
        let dispatched = self.probe.nanos();
        for message in batch {
            if let Some(seq) = stages::seq_of(message) {
                self.probe.stamps.stamp(Moment::Dispatched, seq, dispatched);
            }
        }
        let outcomes = self.inner.handle(batch).await;
        let now = self.probe.nanos();
        let mut done = 0;
        {
            let mut state = self.probe.lock();
            for (message, outcome) in batch.iter().zip(&outcomes) {
                if !matches!(outcome, Outcome::Done) {
                    continue;
                }
                done += 1;
                if let Some(seq) = stages::seq_of(message) {
                    self.probe.stamps.stamp(Moment::Committed, seq, now);
                }
                let Some(stamp) = message
                    .header(STAMP_HEADER)
                    .and_then(|b| b.try_into().ok())
                    .map(u64::from_le_bytes)
                else {
                    continue;
                };
                let latency_us = (now.saturating_sub(stamp) / 1_000).clamp(1, LATENCY_US_MAX);
                // In bounds by the clamp: recording cannot fail.
                let _ = state.all.record(latency_us);
                let _ = state.window.record(latency_us);
            }
            if done > 0 {
                state.last_commit_ns = now;
            }
        }
        self.probe.committed.fetch_add(done, Ordering::Relaxed);
        outcomes
    }
}

/// Where the ledger keeps its state in a phase.
#[derive(Clone)]
enum StoreChoice {
    Sqlite,
    Postgres(String),
}

/// A fresh platform for one phase.
struct Platform {
    dir: PathBuf,
    bus: EmbeddedBus,
    store: crate::ledger::OpenStore,
    database: Option<edalab_store::testing::TestDatabase>,
    stop_tx: watch::Sender<bool>,
    ledger: crate::ledger::RunningLedger,
}

impl Platform {
    async fn start(
        dir: PathBuf,
        store: &StoreChoice,
        fsync: &FsyncChoice,
        probe: Arc<Probe>,
    ) -> anyhow::Result<Self> {
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let bus = crate::cli::open_for_writing_with(
            &dir,
            edalab_bus::log::LogConfig {
                fsync: fsync.policy,
                ..edalab_bus::log::LogConfig::default()
            },
        )?;
        for (name, config) in crate::seed::seed_topics() {
            bus.create_topic(name, config)
                .await
                .with_context(|| format!("creating topic `{name}`"))?;
        }
        let (store, database) = match store {
            StoreChoice::Sqlite => (
                crate::ledger::OpenStore::sqlite(&dir.join(crate::ledger::SQLITE_FILE)).await?,
                None,
            ),
            StoreChoice::Postgres(url) => {
                let (store, database) = crate::bench::scratch_postgres(url).await?;
                (store, Some(database))
            }
        };
        let catalog = Arc::new(SchemaCatalog::builtin().context("loading the schema catalog")?);
        let (stop_tx, stop_rx) = watch::channel(false);
        // The ledger consumes through the observer that stamps polls and offset commits.
        let shared: Arc<dyn Bus> = Arc::new(ObservedBus {
            inner: Arc::new(bus.clone()),
            stamps: Arc::clone(&probe.stamps),
        });
        let ledger =
            crate::ledger::start(shared, store.shared(), catalog, None, stop_rx, |inner| {
                Timed { inner, probe }
            });
        Ok(Self {
            dir,
            bus,
            store,
            database,
            stop_tx,
            ledger,
        })
    }

    /// Stops the ledger (drain, commit), closes everything, deletes the scratch data.
    async fn stop(self) -> anyhow::Result<(u64, u64)> {
        let _ = self.stop_tx.send(true);
        let summary = self.ledger.runtime.await;
        let _ = self.ledger.outbox.await;
        let counters = self.ledger.counters.snapshot();
        self.store.close().await?;
        drop(self.database);
        self.bus.close().await.context("closing the bus")?;
        let _ = std::fs::remove_dir_all(&self.dir);
        match summary {
            Ok(Ok(_)) => Ok((counters.applied_total, counters.rejected_total)),
            Ok(Err(error)) => Err(anyhow::Error::new(error).context("the ledger consumer failed")),
            Err(error) => Err(anyhow::Error::new(error).context("the ledger consumer panicked")),
        }
    }
}

/// How a phase offers its events.
#[derive(Debug, Clone, Copy)]
enum Schedule {
    /// Event `i` is due at `i / rate` seconds.
    Rate(f64),
    /// All at once (each stamped with the burst's start).
    Burst,
}

/// Produces `events` on `schedule`; returns when the last one is acknowledged (durable).
async fn offer(
    bus: &EmbeddedBus,
    probe: &Probe,
    events: &[Event],
    schedule: Schedule,
) -> anyhow::Result<u64> {
    let start_ns = probe.nanos();
    let total = events.len();
    let mut sent = 0;
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    while sent < total {
        let now_ns = probe.nanos();
        let due = match schedule {
            Schedule::Burst => total,
            Schedule::Rate(rate) => {
                let elapsed_s = now_ns.saturating_sub(start_ns) as f64 / 1e9;
                ((elapsed_s * rate).floor() as usize + 1).min(total)
            }
        };
        if due <= sent {
            tick.tick().await;
            continue;
        }
        let end = due.min(sent + OFFER_CHUNK_RECORDS_MAX);
        let mut by_topic: BTreeMap<&'static str, (Vec<Record>, Vec<u64>)> = BTreeMap::new();
        for (i, event) in events.iter().enumerate().take(end).skip(sent) {
            let stamp = match schedule {
                Schedule::Burst => start_ns,
                Schedule::Rate(rate) => start_ns + (i as f64 * 1e9 / rate) as u64,
            };
            let seq = i as u64;
            probe.stamps.stamp(Moment::Scheduled, seq, stamp);
            let (records, seqs) = by_topic.entry(event.topic).or_default();
            records.push(
                Record::new(Some(event.key.clone()), event.value.clone())
                    .with_header(STAMP_HEADER, stamp.to_le_bytes().to_vec())
                    .with_header(stages::SEQ_HEADER, seq.to_le_bytes().to_vec()),
            );
            seqs.push(seq);
        }
        // One call per topic, concurrently; one topic's calls stay in order. Each call's
        // acknowledgement is stamped as soon as that call returns.
        let call_ns = probe.stamps.now();
        for seq in sent as u64..end as u64 {
            probe.stamps.stamp(Moment::Call, seq, call_ns);
        }
        let calls = by_topic
            .into_iter()
            .map(|(topic, (records, seqs))| async move {
                let result = bus.produce(topic, records).await;
                let ack_ns = probe.stamps.now();
                if result.is_ok() {
                    for seq in seqs {
                        probe.stamps.stamp(Moment::Ack, seq, ack_ns);
                    }
                }
                result
            });
        for result in futures::future::join_all(calls).await {
            result.context("producing to the bus")?;
        }
        sent = end;
    }
    Ok(start_ns)
}

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Percentiles of a histogram in ms.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Latency {
    pub count: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

impl Latency {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |us: u64| (us as f64 / 1_000.0 * 1_000.0).round() / 1_000.0;
        if h.is_empty() {
            return Self::default();
        }
        Self {
            count: h.len(),
            p50_ms: ms(h.value_at_quantile(0.50)),
            p95_ms: ms(h.value_at_quantile(0.95)),
            p99_ms: ms(h.value_at_quantile(0.99)),
            p999_ms: ms(h.value_at_quantile(0.999)),
            max_ms: ms(h.max()),
            mean_ms: (h.mean() / 1_000.0 * 1_000.0).round() / 1_000.0,
        }
    }
}

/// One sample per second of a phase.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    pub t_s: f64,
    pub committed: u64,
    pub rss_mb: f64,
    /// Latency of the messages committed since the previous sample.
    pub window: Latency,
}

/// What one phase measured.
#[derive(Debug, Clone, Serialize)]
pub struct PhaseResult {
    pub name: String,
    pub offered_per_second: Option<f64>,
    pub events: u64,
    pub committed: u64,
    /// Committed when the last event had been offered (acknowledged by the bus).
    pub committed_at_offer_end: u64,
    pub offer_seconds: f64,
    /// From the first scheduled send to the last commit.
    pub seconds_to_last_commit: f64,
    /// `committed / seconds_to_last_commit`.
    pub committed_per_second: f64,
    pub applied: u64,
    pub refused: u64,
    pub complete: bool,
    pub latency: Latency,
    /// Where the latency goes, per stage (per-event stamps).
    pub stages: StageTable,
    pub samples: Vec<Sample>,
}

/// The run's context: where, which store, the progress display.
struct Bench {
    scratch: PathBuf,
    store: StoreChoice,
    /// The bus's fsync policy of the next phases.
    fsync: FsyncChoice,
    progress: bool,
    phase_n: u32,
    drain_timeout: Duration,
}

impl Bench {
    async fn phase(
        &mut self,
        name: &str,
        events: Vec<Event>,
        schedule: Schedule,
    ) -> anyhow::Result<PhaseResult> {
        Ok(self.phase_with_events(name, events, schedule).await?.0)
    }

    /// [`Self::phase`], with every committed event's stages.
    async fn phase_with_events(
        &mut self,
        name: &str,
        events: Vec<Event>,
        schedule: Schedule,
    ) -> anyhow::Result<(PhaseResult, Vec<stages::EventStages>)> {
        self.phase_n += 1;
        let probe = Arc::new(Probe::new(events.len()));
        let dir = self.scratch.join(format!("phase-{}", self.phase_n));
        let platform = Platform::start(dir, &self.store, &self.fsync, Arc::clone(&probe)).await?;
        let total = events.len() as u64;
        let bar = if self.progress {
            ProgressBar::new(total).with_style(
                ProgressStyle::with_template(
                    "{prefix:>22} [{elapsed_precise}] {wide_bar} {pos}/{len} committed {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            )
        } else {
            ProgressBar::hidden()
        };
        bar.set_prefix(name.to_owned());
        // The sampler: progress, RSS and the latency window, until told to stop.
        let (done_tx, mut done_rx) = watch::channel(false);
        let sampler = {
            let probe = Arc::clone(&probe);
            let bar = bar.clone();
            tokio::spawn(async move {
                let mut samples = Vec::new();
                let mut next_sample = Instant::now() + SAMPLE_INTERVAL;
                loop {
                    tokio::select! {
                        _ = tokio::time::sleep(PROGRESS_INTERVAL) => {}
                        _ = done_rx.changed() => break,
                    }
                    let committed = probe.committed();
                    bar.set_position(committed);
                    if Instant::now() >= next_sample {
                        next_sample += SAMPLE_INTERVAL;
                        let window = {
                            let mut state = probe.lock();
                            let latency = Latency::of(&state.window);
                            state.window.reset();
                            latency
                        };
                        bar.set_message(format!("p99 {:.1} ms", window.p99_ms));
                        samples.push(Sample {
                            t_s: probe.base.elapsed().as_secs_f64(),
                            committed,
                            rss_mb: rss_bytes().unwrap_or(0) as f64 / (1024.0 * 1024.0),
                            window,
                        });
                    }
                }
                samples
            })
        };
        let offered = offer(&platform.bus, &probe, &events, schedule).await;
        let offer_end_ns = probe.nanos();
        let committed_at_offer_end = probe.committed();
        drop(events);
        let deadline = Instant::now() + self.drain_timeout;
        while offered.is_ok() && probe.committed() < total && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let _ = done_tx.send(true);
        let samples = sampler.await.unwrap_or_default();
        bar.set_position(probe.committed());
        bar.finish_and_clear();
        let stopped = platform.stop().await;
        let start_ns = offered?;
        let (applied, refused) = stopped?;
        let (latency, last_commit_ns) = {
            let state = probe.lock();
            (Latency::of(&state.all), state.last_commit_ns)
        };
        let committed = probe.committed();
        let per_event = probe.stamps.breakdown();
        let seconds_to_last_commit = last_commit_ns.saturating_sub(start_ns) as f64 / 1e9;
        let result = PhaseResult {
            name: name.to_owned(),
            offered_per_second: match schedule {
                Schedule::Rate(rate) => Some(rate),
                Schedule::Burst => None,
            },
            events: total,
            committed,
            committed_at_offer_end,
            offer_seconds: offer_end_ns.saturating_sub(start_ns) as f64 / 1e9,
            seconds_to_last_commit,
            committed_per_second: if seconds_to_last_commit > 0.0 {
                committed as f64 / seconds_to_last_commit
            } else {
                0.0
            },
            applied,
            refused,
            complete: committed >= total,
            latency,
            stages: StageTable::of(&per_event),
            samples,
        };
        if self.progress {
            eprintln!(
                "{:>22}: {}/{} committed, {:.0}/s, p50 {} ms, p99 {} ms",
                name,
                result.committed,
                result.events,
                result.committed_per_second,
                result.latency.p50_ms,
                result.latency.p99_ms
            );
        }
        Ok((result, per_event))
    }
}

/// One of the seed's tests (S3-18).
#[derive(Debug, Clone, Serialize)]
pub struct SeedTest {
    pub id: &'static str,
    pub requirement: &'static str,
    pub measured: String,
    pub passed: bool,
}

/// A compass goal beside the measured figure.
#[derive(Debug, Clone, Serialize)]
pub struct Goal {
    pub goal: &'static str,
    pub measured: String,
    pub met: bool,
}

/// The raw batched SQLite insert rate (the store's ceiling on this disk).
#[derive(Debug, Clone, Serialize)]
pub struct SqliteCeiling {
    pub rows: u64,
    pub batch_rows: u64,
    /// `INTEGER PRIMARY KEY` + 200-byte blob, appended.
    pub append_rows_per_second: f64,
    /// Plus a random 16-byte `UNIQUE` key per row (like the ledger's inbox).
    pub random_key_rows_per_second: f64,
}

/// One per-stage phase: a policy and a repetition.
#[derive(Debug, Clone, Serialize)]
pub struct StageRun {
    pub fsync: String,
    pub repeat: u32,
    pub phase: PhaseResult,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub started_at: String,
    pub quick: bool,
    pub build: &'static str,
    pub store: &'static str,
    /// The bus's fsync policy of every phase but the per-stage comparison.
    pub fsync: String,
    pub nproc: usize,
    pub mem_total_mb: u64,
    pub mem_available_mb: u64,
    pub load_average: String,
    pub seed_tests: Vec<SeedTest>,
    pub goals: Vec<Goal>,
    pub max_sustainable_per_second: Option<f64>,
    pub steps: Vec<PhaseResult>,
    pub throughput_100: PhaseResult,
    pub latency_1000: PhaseResult,
    pub burst_1000: PhaseResult,
    pub soak: PhaseResult,
    pub soak_rss_start_mb: f64,
    pub soak_rss_end_mb: f64,
    pub burst: PhaseResult,
    /// The per-stage phases at 10 000 ev/s, one per `--fsync` policy and repetition.
    pub stage_runs: Vec<StageRun>,
    pub sqlite_ceiling: SqliteCeiling,
    pub elapsed_seconds: f64,
}

pub async fn run(config: &Config, mut args: E2eBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        config.bus.backend == BusBackend::Embedded,
        "bench e2e measures the embedded log, from a fresh scratch log per phase; on the {} \
         profile measure the broker with `edalab bench bus` and the store with `edalab bench ledger`",
        config.bus.backend.as_str()
    );
    let data_dir = &config.bus.data_dir;
    let plan = Plan::from_args(&args)?;
    let (kind, postgres_url) =
        crate::bench::bench_store(config, args.store, args.postgres_url.as_deref());
    args.store = Some(kind);
    let store = match kind {
        LedgerBenchStore::Sqlite => StoreChoice::Sqlite,
        LedgerBenchStore::Postgres => StoreChoice::Postgres(postgres_url),
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("--out: creating {}", args.out.display()))?;
    let scratch = data_dir.join(format!("bench-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let mut bench = Bench {
        scratch: scratch.clone(),
        store,
        fsync: plan.fsync[0].clone(),
        progress: !args.no_progress,
        phase_n: 0,
        drain_timeout: Duration::from_secs(plan.drain_timeout_s),
    };
    let result = measure(&mut bench, &plan, &args).await;
    let _ = std::fs::remove_dir_all(&scratch);
    let report = result?;
    report::write(&args.out, &report)?;
    report::print_summary(&report, &args.out);
    let failed: Vec<&str> = report
        .seed_tests
        .iter()
        .filter(|t| !t.passed)
        .map(|t| t.id)
        .collect();
    anyhow::ensure!(
        failed.is_empty(),
        "bench e2e: seed performance test(s) failed: {} (see {})",
        failed.join(", "),
        args.out.join("report.md").display()
    );
    Ok(())
}

async fn measure(bench: &mut Bench, plan: &Plan, args: &E2eBenchArgs) -> anyhow::Result<Report> {
    let started = Instant::now();
    let started_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // S3-18 (4): stability at 50 ev/s, first (a quiet process: RSS is the platform's).
    let soak_events = (plan.soak_rate * plan.soak_seconds as f64) as u64;
    let soak = bench
        .phase(
            "S3-18 soak 50 ev/s",
            generate(soak_events, 4)?,
            Schedule::Rate(plan.soak_rate),
        )
        .await?;
    // S3-18 (1): 100 ev/s.
    let throughput_events = (plan.throughput_rate * plan.throughput_seconds) as u64;
    let throughput_100 = bench
        .phase(
            "S3-18 100 ev/s",
            generate(throughput_events, 1)?,
            Schedule::Rate(plan.throughput_rate),
        )
        .await?;
    // S3-18 (2): latency over 1 000 events.
    let latency_1000 = bench
        .phase(
            "S3-18 latency 1000",
            generate(plan.latency_events, 2)?,
            Schedule::Rate(plan.latency_rate),
        )
        .await?;
    // S3-18 (3): a 1 000-event burst.
    let burst_1000 = bench
        .phase(
            "S3-18 burst 1000",
            generate(plan.small_burst_events, 3)?,
            Schedule::Burst,
        )
        .await?;

    // Beyond: offered-load steps. Past the first unsustainable rate only the rates whose
    // latency the report must give are still run.
    let mut steps = Vec::new();
    let mut saturated = false;
    for &rate in &plan.rates {
        if saturated && !LATENCY_RATES.contains(&rate) {
            continue;
        }
        let events = ((rate as f64 * plan.step_seconds) as u64).clamp(1, plan.step_events_max);
        let step = bench
            .phase(
                &format!("step {rate} ev/s"),
                generate(events, 10 + rate)?,
                Schedule::Rate(rate as f64),
            )
            .await?;
        if !sustainable(&step) {
            saturated = true;
        }
        steps.push(step);
    }
    let max_sustainable_per_second = steps
        .iter()
        .filter(|s| sustainable(s))
        .filter_map(|s| s.offered_per_second)
        .fold(None, |best: Option<f64>, r| {
            Some(best.map_or(r, |b| b.max(r)))
        });
    let burst = bench
        .phase(
            &format!("burst {}", plan.burst_events),
            generate(plan.burst_events, 5)?,
            Schedule::Burst,
        )
        .await?;
    // Per stage at 10 000 ev/s, once per fsync policy and repetition (interleaved, so a
    // change of the shared machine's load hits every policy alike).
    let mut stage_runs = Vec::new();
    for repeat in 1..=plan.stage_repeats {
        for fsync in &plan.fsync {
            bench.fsync = fsync.clone();
            let phase = bench
                .phase(
                    &format!("stages {STAGE_RATE} ev/s fsync={} #{repeat}", fsync.label),
                    generate(plan.stage_events, 10 + STAGE_RATE)?,
                    Schedule::Rate(STAGE_RATE as f64),
                )
                .await?;
            stage_runs.push(StageRun {
                fsync: fsync.label.clone(),
                repeat,
                phase,
            });
        }
    }
    bench.fsync = plan.fsync[0].clone();
    let sqlite_ceiling = {
        let dir = bench.scratch.join("sqlite-ceiling");
        let rows = plan.sqlite_rows;
        tokio::task::spawn_blocking(move || {
            sqlite_ceiling(&dir, rows, crate::ledger::LEDGER_BATCH_SIZE_MAX as u64)
        })
        .await
        .context("the SQLite ceiling task")??
    };

    let (soak_rss_start_mb, soak_rss_end_mb) = soak_rss(&soak);
    let seed_tests = seed_tests(
        plan,
        &throughput_100,
        &latency_1000,
        &burst_1000,
        &soak,
        soak_rss_start_mb,
        soak_rss_end_mb,
    );
    let at_10k = steps
        .iter()
        .find(|s| s.offered_per_second == Some(10_000.0));
    let ceiling = max_sustainable_per_second.unwrap_or(0.0);
    let goals = vec![
        Goal {
            goal: "≥ 250 000 ev/s end to end (SQLite)",
            measured: format!(
                "max sustainable {:.0} ev/s offered; {}-event burst drained at {:.0} ev/s ({})",
                ceiling,
                burst.events,
                burst.committed_per_second,
                if matches!(bench.store, StoreChoice::Sqlite) {
                    "SQLite"
                } else {
                    "PostgreSQL"
                }
            ),
            met: matches!(bench.store, StoreChoice::Sqlite)
                && ceiling.max(burst.committed_per_second) >= 250_000.0,
        },
        Goal {
            goal: "p99 ≤ 10 ms at 10 000 ev/s",
            measured: at_10k.map_or("not run".to_owned(), |s| {
                let tail = s.stages.tail_bottleneck().map_or(String::new(), |b| {
                    format!(
                        "; slowest 1 %: {:.2} ms of {:.2} ms in {}",
                        b.tail_mean_ms,
                        s.stages
                            .rows
                            .get(stages::TOTAL_STAGE)
                            .map_or(0.0, |t| t.tail_mean_ms),
                        b.stage
                    )
                });
                format!(
                    "p99 {} ms (p50 {} ms), fsync {}{tail}",
                    s.latency.p99_ms, s.latency.p50_ms, plan.fsync[0].label
                )
            }),
            met: at_10k.is_some_and(|s| s.complete && s.latency.p99_ms <= 10.0),
        },
        Goal {
            goal: "RSS ≤ 150 MB, flat over 5 min",
            measured: format!(
                "{:.1} MB → {:.1} MB over {} s at 50 ev/s",
                soak_rss_start_mb, soak_rss_end_mb, plan.soak_seconds
            ),
            met: soak_rss_end_mb <= 150.0 && rss_flat(soak_rss_start_mb, soak_rss_end_mb),
        },
    ];
    let (mem_total_mb, mem_available_mb) = meminfo_mb();
    Ok(Report {
        started_at,
        quick: plan.quick,
        build: if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
        store: match args.store {
            Some(LedgerBenchStore::Postgres) => "postgres",
            Some(LedgerBenchStore::Sqlite) | None => "sqlite",
        },
        fsync: plan.fsync[0].label.clone(),
        nproc: std::thread::available_parallelism().map_or(0, |n| n.get()),
        mem_total_mb,
        mem_available_mb,
        load_average: std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
        seed_tests,
        goals,
        max_sustainable_per_second,
        steps,
        throughput_100,
        latency_1000,
        burst_1000,
        soak,
        soak_rss_start_mb,
        soak_rss_end_mb,
        burst,
        stage_runs,
        sqlite_ceiling,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    })
}

/// Every event committed, P99 within [`SUSTAINABLE_P99_MS_MAX`].
fn sustainable(step: &PhaseResult) -> bool {
    step.complete && step.latency.p99_ms <= SUSTAINABLE_P99_MS_MAX
}

/// RSS at the start (largest of the first fifth of the samples, after warm-up) and the
/// end (largest of the last fifth).
fn soak_rss(soak: &PhaseResult) -> (f64, f64) {
    let rss: Vec<f64> = soak.samples.iter().map(|s| s.rss_mb).collect();
    if rss.is_empty() {
        return (0.0, 0.0);
    }
    let fifth = rss.len().div_ceil(5);
    let max = |s: &[f64]| s.iter().copied().fold(0.0, f64::max);
    (max(&rss[..fifth]), max(&rss[rss.len() - fifth..]))
}

/// Flat: the end within 10 % + 4 MB of the start.
fn rss_flat(start_mb: f64, end_mb: f64) -> bool {
    end_mb <= start_mb * 1.10 + 4.0
}

/// Latency stable: the median of the per-second P99s of the last third of the run within
/// twice the first third's + 20 ms (a median, so one scheduling hiccup of a shared
/// machine does not decide it).
fn latency_stable(soak: &PhaseResult) -> (f64, f64, bool) {
    let windows: Vec<f64> = soak
        .samples
        .iter()
        .filter(|s| s.window.count > 0)
        .map(|s| s.window.p99_ms)
        .collect();
    if windows.len() < 3 {
        return (0.0, 0.0, false);
    }
    let third = windows.len() / 3;
    let median = |s: &[f64]| {
        let mut s = s.to_vec();
        s.sort_by(f64::total_cmp);
        s[s.len() / 2]
    };
    let first = median(&windows[..third]);
    let last = median(&windows[windows.len() - third..]);
    (first, last, last <= first * 2.0 + 20.0)
}

#[allow(clippy::too_many_arguments)]
fn seed_tests(
    plan: &Plan,
    throughput: &PhaseResult,
    latency: &PhaseResult,
    burst: &PhaseResult,
    soak: &PhaseResult,
    rss_start_mb: f64,
    rss_end_mb: f64,
) -> Vec<SeedTest> {
    let window_rate = throughput.committed_at_offer_end as f64 / plan.throughput_seconds;
    let (first_p99, last_p99, stable_latency) = latency_stable(soak);
    vec![
        SeedTest {
            id: "S3-18/1",
            requirement: "≥ 90 % of 100 ev/s applied over the window",
            measured: format!(
                "{:.1} ev/s committed over {} s ({} of {} by the end of the offer, all {} by {:.1} s)",
                window_rate,
                plan.throughput_seconds,
                throughput.committed_at_offer_end,
                throughput.events,
                throughput.committed,
                throughput.seconds_to_last_commit
            ),
            passed: window_rate >= 0.9 * plan.throughput_rate && throughput.complete,
        },
        SeedTest {
            id: "S3-18/2",
            requirement: "P50/P95/P99 produce → persisted over 1 000 events, P99 < 500 ms",
            measured: format!(
                "P50 {} ms, P95 {} ms, P99 {} ms over {} events at {} ev/s",
                latency.latency.p50_ms,
                latency.latency.p95_ms,
                latency.latency.p99_ms,
                latency.latency.count,
                plan.latency_rate
            ),
            passed: latency.complete && latency.latency.p99_ms < 500.0,
        },
        SeedTest {
            id: "S3-18/3",
            requirement: "a 1 000-event burst fully applied within 30 s",
            measured: format!(
                "{} of {} applied in {:.3} s",
                burst.committed, burst.events, burst.seconds_to_last_commit
            ),
            passed: burst.complete && burst.seconds_to_last_commit <= 30.0,
        },
        SeedTest {
            id: "S3-18/4",
            requirement: "50 ev/s for 5 min, memory and latency stable",
            measured: format!(
                "{} s: RSS {:.1} → {:.1} MB; median per-second P99 {:.2} ms (first third) → {:.2} ms (last third)",
                plan.soak_seconds, rss_start_mb, rss_end_mb, first_p99, last_p99
            ),
            passed: soak.complete && rss_flat(rss_start_mb, rss_end_mb) && stable_latency,
        },
    ]
}

/// The raw batched insert rate of SQLite on this disk, with the ledger's settings (WAL,
/// `synchronous=FULL`), in transactions of `batch_rows` rows.
pub(crate) fn sqlite_ceiling(
    dir: &Path,
    rows: u64,
    batch_rows: u64,
) -> anyhow::Result<SqliteCeiling> {
    let batch_rows = batch_rows.max(1);
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let run = |name: &str, random_key: bool| -> anyhow::Result<f64> {
        let path = dir.join(format!("{name}.sqlite"));
        let mut conn = rusqlite::Connection::open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE t (id INTEGER PRIMARY KEY, k BLOB UNIQUE, payload BLOB NOT NULL);",
        )?;
        let payload = vec![b'x'; 200];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let started = Instant::now();
        let mut written = 0;
        while written < rows {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare_cached("INSERT INTO t (k, payload) VALUES (?1, ?2)")?;
                for _ in 0..batch_rows.min(rows - written) {
                    let key: Option<[u8; 16]> = random_key.then(|| {
                        // xorshift: random-looking keys, like UUID v4 event ids.
                        let mut key = [0u8; 16];
                        for half in key.chunks_mut(8) {
                            state ^= state << 13;
                            state ^= state >> 7;
                            state ^= state << 17;
                            half.copy_from_slice(&state.to_le_bytes());
                        }
                        key
                    });
                    insert.execute(rusqlite::params![key.as_ref().map(|k| &k[..]), payload])?;
                    written += 1;
                }
            }
            tx.commit()?;
        }
        Ok(rows as f64 / started.elapsed().as_secs_f64().max(1e-9))
    };
    let append_rows_per_second = run("append", false)?;
    let random_key_rows_per_second = run("random-key", true)?;
    let _ = std::fs::remove_dir_all(dir);
    Ok(SqliteCeiling {
        rows,
        batch_rows,
        append_rows_per_second,
        random_key_rows_per_second,
    })
}

fn meminfo_mb() -> (u64, u64) {
    let info = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kib| kib / 1024)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args() -> E2eBenchArgs {
        E2eBenchArgs {
            quick: true,
            out: PathBuf::from("x"),
            store: Some(LedgerBenchStore::Sqlite),
            postgres_url: None,
            rates: Vec::new(),
            step_seconds: None,
            soak_seconds: None,
            burst_events: None,
            fsync: vec![FsyncChoice::always()],
            stage_repeats: None,
            no_progress: true,
        }
    }

    #[test]
    fn the_latency_rates_are_always_stepped() {
        let plan = Plan::from_args(&E2eBenchArgs {
            rates: vec![5_000],
            ..args()
        })
        .expect("plan");
        assert_eq!(plan.rates, vec![1_000, 5_000, 10_000, 100_000]);
    }

    #[test]
    fn bad_flags_are_named() {
        let error = Plan::from_args(&E2eBenchArgs {
            step_seconds: Some(0.0),
            ..args()
        })
        .expect_err("zero step");
        assert!(error.to_string().contains("--step-seconds"), "{error}");
        let error = Plan::from_args(&E2eBenchArgs {
            rates: vec![0],
            ..args()
        })
        .expect_err("zero rate");
        assert!(error.to_string().contains("--rates"), "{error}");
    }

    #[test]
    fn fsync_policies_and_stage_repeats_reach_the_plan() {
        let plan = Plan::from_args(&E2eBenchArgs {
            fsync: vec![
                stages::parse_fsync("always").expect("always"),
                stages::parse_fsync("never").expect("never"),
            ],
            stage_repeats: Some(3),
            ..args()
        })
        .expect("plan");
        let labels: Vec<&str> = plan.fsync.iter().map(|f| f.label.as_str()).collect();
        assert_eq!(labels, ["always", "never"]);
        assert_eq!(plan.stage_repeats, 3);
        // Quick: 1 s at 10 000 ev/s.
        assert_eq!(plan.stage_events, 10_000);
        let error = Plan::from_args(&E2eBenchArgs {
            stage_repeats: Some(0),
            ..args()
        })
        .expect_err("zero repeats");
        assert!(error.to_string().contains("--stage-repeats"), "{error}");
        let error = Plan::from_args(&E2eBenchArgs {
            fsync: Vec::new(),
            ..args()
        })
        .expect_err("no policy");
        assert!(error.to_string().contains("--fsync"), "{error}");
    }

    /// A real phase (embedded bus, fsync always, the ledger on SQLite): every committed
    /// event has every stage, and per event the stages add up to the end to end.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_phase_reports_every_events_stages_consistently() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bench = Bench {
            scratch: dir.path().to_path_buf(),
            store: StoreChoice::Sqlite,
            fsync: FsyncChoice::always(),
            progress: false,
            phase_n: 0,
            drain_timeout: Duration::from_secs(60),
        };
        let events = generate(600, 7).expect("events");
        let (phase, per_event) = bench
            .phase_with_events("stages test", events, Schedule::Rate(2_000.0))
            .await
            .expect("phase");
        assert!(phase.complete, "{phase:?}");
        assert_eq!(phase.committed, 600);
        let table = &phase.stages;
        assert_eq!(table.measured, 600);
        assert_eq!(per_event.len(), 600);
        assert_eq!(table.rows.len(), stages::STAGE_NAMES.len());
        for row in &table.rows {
            // The offset commit too: the runtime's last commit at shutdown covers all.
            assert_eq!(row.latency.count, 600, "{}", row.stage);
        }
        assert_eq!(
            table.rows.get(stages::TOTAL_STAGE).map(|r| r.latency.count),
            Some(phase.latency.count)
        );
        for event in &per_event {
            let chain = event.chain();
            for (stage, ns) in chain {
                assert!(ns <= event.total_ns, "{stage}: {ns} > {event:?}");
            }
            assert_eq!(
                chain.iter().map(|(_, ns)| ns).sum::<u64>(),
                event.total_ns,
                "{event:?}"
            );
            assert!(event.offset_commit_ns.is_some(), "{event:?}");
        }
        // Something was measured in each stage of the chain: the bus's produce (fsync
        // always) and the store commit take time.
        assert!(per_event.iter().all(|e| e.produce_ns > 0 && e.apply_ns > 0));
        let md = report::stage_table(table);
        for name in stages::STAGE_NAMES {
            assert!(md.contains(name), "{md}");
        }
    }

    #[test]
    fn rss_start_and_end_come_from_the_first_and_last_fifth() {
        let sample = |t: f64, rss_mb: f64| Sample {
            t_s: t,
            committed: 0,
            rss_mb,
            window: Latency::default(),
        };
        let soak = PhaseResult {
            name: "soak".to_owned(),
            offered_per_second: Some(50.0),
            events: 0,
            committed: 0,
            committed_at_offer_end: 0,
            offer_seconds: 0.0,
            seconds_to_last_commit: 0.0,
            committed_per_second: 0.0,
            applied: 0,
            refused: 0,
            complete: true,
            latency: Latency::default(),
            stages: StageTable::default(),
            samples: (0..10).map(|i| sample(i as f64, 20.0 + i as f64)).collect(),
        };
        assert_eq!(soak_rss(&soak), (21.0, 29.0));
        assert!(rss_flat(100.0, 114.0));
        assert!(!rss_flat(100.0, 114.1));
    }
}
