//! `edalab bench bus`: throughput and latency of the profile's bus — the embedded log,
//! durable (fsync always, group commit), or the configured Kafka-protocol broker.
//!
//! Two phases, each on a fresh topic (deleted afterwards): on the embedded profile in a
//! scratch directory under the data directory (never tmpfs, so fsync is real):
//! 1. **throughput**: `--producers` tasks produce `--messages` records in calls of
//!    `--batch-records`, while one consumer-group member consumes and commits (every
//!    100 ms). Reports
//!    produce/s (until the last acknowledgement) and consume/s (until the last message is
//!    consumed, end to end).
//! 2. **latency**: records are offered at `--rate-per-second` on a schedule; each carries its
//!    scheduled send time, and the consumer records `now - scheduled` in an HDR histogram
//!    (so a stalled producer counts against latency: no coordinated omission).

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{BusBackend, Config, StoreBackend};
use anyhow::Context;
use clap::Args;
use edalab_bus::log::{EmbeddedBus, FsyncPolicy, LogConfig};
use edalab_bus::{Bus, Consumer, ConsumerConfig, Record, TopicConfig};
use edalab_store::ceiling::Ceiling;
use futures::future::BoxFuture;

use crate::profile::Access;
use hdrhistogram::Histogram;
use serde_json::json;

#[derive(Args, Debug, Clone)]
pub struct BusBenchArgs {
    /// Smaller run (under 30 s).
    #[arg(long)]
    pub quick: bool,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Messages of the throughput phase (default 2 000 000, quick 300 000).
    #[arg(long)]
    pub messages: Option<u64>,
    #[arg(long, default_value_t = 200)]
    pub size_bytes: usize,
    /// Offered rate of the latency phase.
    #[arg(long, default_value_t = 50_000)]
    pub rate_per_second: u64,
    /// Length of the latency phase (default 10 s, quick 3 s).
    #[arg(long)]
    pub latency_seconds: Option<u64>,
    #[arg(long, default_value_t = 4)]
    pub producers: usize,
    /// Records per produce call in the throughput phase.
    #[arg(long, default_value_t = 1000)]
    pub batch_records: usize,
    #[arg(long, default_value_t = 3)]
    pub partitions: u32,
    /// always | interval_ms=N | never
    #[arg(long, default_value = "always")]
    pub fsync: String,
    /// Also run both phases, with the same settings, on a peer: `nats` (JetStream).
    #[arg(long, value_enum)]
    pub peer: Option<BusPeer>,
    /// The NATS server of `--peer nats`.
    #[arg(long, env = "EDALAB_BENCH_NATS_URL", default_value = crate::bench_nats::NATS_URL_DEFAULT)]
    pub nats_url: String,
}

/// A message broker `bench bus --peer` measures beside our bus.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum BusPeer {
    /// NATS JetStream (`--nats-url`).
    Nats,
}

/// What the two phases measured on one bus.
pub struct PhaseFigures {
    pub produce_per_second: f64,
    pub consume_per_second: f64,
    pub latency: Histogram<u64>,
    pub latency_messages: u64,
}

/// `edalab bench bus` on the profile's bus: on `embedded` a scratch log in the data
/// directory (with `--fsync`), removed afterwards; on `kafka` the configured broker, on
/// topics and groups named after this run, deleted afterwards.
pub async fn run_bus(config: &Config, args: BusBenchArgs) -> anyhow::Result<()> {
    let fsync: FsyncPolicy = args.fsync.parse().map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        args.size_bytes >= 16,
        "--size-bytes must be at least 16 (a timestamp is carried)"
    );
    anyhow::ensure!(
        args.producers > 0 && args.batch_records > 0,
        "--producers and --batch-records must be positive"
    );
    let messages = args
        .messages
        .unwrap_or(if args.quick { 300_000 } else { 2_000_000 });
    let latency_seconds = args
        .latency_seconds
        .unwrap_or(if args.quick { 3 } else { 10 });
    let run = BenchRun {
        args: &args,
        messages,
        latency_seconds,
        names: format!("bench-{}", std::process::id()),
    };
    let figures = run.ours(config, fsync).await?;
    let mut report = with_profile(run.report(&figures), config);
    if let Some(peer) = run.peer().await? {
        report["ratio"] = ratios(&report, &peer);
        report["peer"] = peer;
    }
    if args.json {
        println!("{report}");
    } else {
        print_bus_report(&report, &args);
    }
    Ok(())
}

/// `bench bus`'s report as text: ours, then the peer's and the ratios when measured.
fn print_bus_report(report: &serde_json::Value, args: &BusBenchArgs) {
    println!("edalab bench bus ({} cores)", report["nproc"]);
    print_figures(report, args);
    if let Some(peer) = report.get("peer") {
        print_figures(peer, args);
        let ratio = &report["ratio"];
        println!(
            "  ours / peer: produce {}x, consume {}x; peer / ours latency: p50 {}x, p99 {}x",
            ratio["produce_per_second"],
            ratio["consume_per_second"],
            ratio["latency_ms_p50"],
            ratio["latency_ms_p99"]
        );
    }
}

fn print_figures(report: &serde_json::Value, args: &BusBenchArgs) {
    println!("  {}", report["bus"].as_str().unwrap_or("?"));
    let layout = match report["partitions"].as_u64() {
        Some(n) => format!("{n} partitions"),
        None => "one stream".to_owned(),
    };
    println!(
        "  throughput: {} msgs of {} B, {} producers x {} per call, {layout}",
        report["messages"], args.size_bytes, args.producers, args.batch_records
    );
    println!(
        "    produce   {:>12.0} msg/s",
        report["produce_per_second"].as_f64().unwrap_or(0.0)
    );
    println!(
        "    consume   {:>12.0} msg/s (end to end)",
        report["consume_per_second"].as_f64().unwrap_or(0.0)
    );
    println!(
        "  latency at {} msg/s offered for {} s ({} msgs): p50 {} ms, p95 {} ms, p99 {} ms, p99.9 {} ms, max {} ms",
        args.rate_per_second,
        report["latency_seconds"],
        report["latency_messages"],
        report["latency_ms_p50"],
        report["latency_ms_p95"],
        report["latency_ms_p99"],
        report["latency_ms_p999"],
        report["latency_ms_max"]
    );
}

/// Consumers commit their positions at most this often (Kafka's `auto.commit.interval.ms`
/// habit): a durable offset commit costs two fsyncs, and waiting for one after every poll
/// would put it on the consume path of every message.
pub(crate) const COMMIT_INTERVAL: Duration = Duration::from_millis(100);

pub(crate) fn nanos_since(base: Instant) -> u64 {
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

pub(crate) fn value(size_bytes: usize, stamp_ns: u64) -> Vec<u8> {
    let mut v = vec![b'x'; size_bytes];
    v[..8].copy_from_slice(&stamp_ns.to_le_bytes());
    v
}

pub(crate) fn stamp_of(value: &[u8]) -> u64 {
    value
        .get(..8)
        .and_then(|b| b.try_into().ok())
        .map_or(0, u64::from_le_bytes)
}

/// One `bench bus` run: its settings and the prefix of its topics and groups.
struct BenchRun<'a> {
    args: &'a BusBenchArgs,
    messages: u64,
    latency_seconds: u64,
    names: String,
}

impl BenchRun<'_> {
    /// The phases on the profile's bus: on `embedded` a scratch log in the data directory
    /// (removed afterwards), on `kafka` the configured broker.
    async fn ours(&self, config: &Config, fsync: FsyncPolicy) -> anyhow::Result<PhaseFigures> {
        match config.bus.backend {
            BusBackend::Embedded => {
                let scratch = config.bus.data_dir.join(&self.names);
                std::fs::create_dir_all(&scratch)
                    .with_context(|| format!("creating {}", scratch.display()))?;
                let log = LogConfig {
                    fsync,
                    ..LogConfig::default()
                };
                let result = match EmbeddedBus::open(&scratch, log) {
                    Ok(bus) => self.phases(Arc::new(bus)).await,
                    Err(error) => Err(error.into()),
                };
                let _ = std::fs::remove_dir_all(&scratch);
                result
            }
            BusBackend::Kafka => {
                let bus = crate::profile::open_bus(config, Access::Write, "edalab-bench").await?;
                let result = self.phases(bus.shared()).await;
                bus.close().await?;
                result
            }
        }
    }

    /// The throughput phase, then the latency phase, on `bus`; their topics are deleted.
    async fn phases(&self, bus: Arc<dyn Bus>) -> anyhow::Result<PhaseFigures> {
        let (throughput_topic, latency_topic) = (
            format!("{}-throughput", self.names),
            format!("{}-latency", self.names),
        );
        let rates = throughput(&bus, &throughput_topic, self.args, self.messages).await;
        let latencies = match rates {
            Ok(_) => latency(&bus, &latency_topic, self.args, self.latency_seconds).await,
            Err(_) => Err(anyhow::anyhow!("not run")),
        };
        for topic in [&throughput_topic, &latency_topic] {
            let _ = bus.delete_topic(topic).await;
        }
        let (produce_per_second, consume_per_second) = rates?;
        let (latency, latency_messages) = latencies?;
        Ok(PhaseFigures {
            produce_per_second,
            consume_per_second,
            latency,
            latency_messages,
        })
    }

    /// The same phases on `--peer`, when one is named.
    async fn peer(&self) -> anyhow::Result<Option<serde_json::Value>> {
        let Some(BusPeer::Nats) = self.args.peer else {
            return Ok(None);
        };
        let run = crate::bench_nats::run(
            &self.args.nats_url,
            &self.names,
            self.args,
            self.messages,
            self.latency_seconds,
        )
        .await
        .context("--peer nats")?;
        let mut report = self.report(&run.figures);
        // JetStream has no partitions: one stream, one subject.
        report["partitions"] = serde_json::Value::Null;
        report["bus"] = json!(format!(
            "NATS JetStream {} at {} (file storage, 1 replica; the server's own fsync schedule)",
            run.server_version, self.args.nats_url
        ));
        Ok(Some(report))
    }

    fn report(&self, figures: &PhaseFigures) -> serde_json::Value {
        let args = self.args;
        let hist = &figures.latency;
        let ms = |us: u64| (us as f64 / 1000.0 * 1000.0).round() / 1000.0;
        let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
        json!({
            "produce_per_second": figures.produce_per_second.round(),
            "consume_per_second": figures.consume_per_second.round(),
            "latency_ms_p50": ms(hist.value_at_quantile(0.50)),
            "latency_ms_p95": ms(hist.value_at_quantile(0.95)),
            "latency_ms_p99": ms(hist.value_at_quantile(0.99)),
            "latency_ms_p999": ms(hist.value_at_quantile(0.999)),
            "latency_ms_max": ms(hist.max()),
            "messages": self.messages,
            "latency_messages": figures.latency_messages,
            "latency_seconds": self.latency_seconds,
            "rate_per_second": args.rate_per_second,
            "size_bytes": args.size_bytes,
            "producers": args.producers,
            "batch_records": args.batch_records,
            "partitions": args.partitions,
            "fsync": args.fsync,
            "nproc": nproc,
        })
    }
}

/// `ours / peer` of each rate (higher is better for us) and `peer / ours` of each
/// latency quantile (also higher is better for us), rounded to two decimals.
fn ratios(ours: &serde_json::Value, peer: &serde_json::Value) -> serde_json::Value {
    let ratio = |a: &serde_json::Value, b: &serde_json::Value| match (a.as_f64(), b.as_f64()) {
        (Some(a), Some(b)) if b > 0.0 => json!((a / b * 100.0).round() / 100.0),
        _ => serde_json::Value::Null,
    };
    let mut out = serde_json::Map::new();
    for key in ["produce_per_second", "consume_per_second"] {
        out.insert(key.to_owned(), ratio(&ours[key], &peer[key]));
    }
    for key in ["latency_ms_p50", "latency_ms_p99"] {
        out.insert(key.to_owned(), ratio(&peer[key], &ours[key]));
    }
    serde_json::Value::Object(out)
}

/// The report with the bus it measured: `embedded (fsync …)` or `kafka at <brokers>`.
fn with_profile(mut report: serde_json::Value, config: &Config) -> serde_json::Value {
    let bus = match config.bus.backend {
        BusBackend::Embedded => format!(
            "embedded log, fsync {}",
            report["fsync"].as_str().unwrap_or("?")
        ),
        backend => format!("{} at {}", backend.as_str(), config.bus.brokers),
    };
    report["bus"] = json!(bus);
    report["profile"] = json!(config.bus.backend.as_str());
    report
}

async fn throughput(
    bus: &Arc<dyn Bus>,
    topic: &str,
    args: &BusBenchArgs,
    messages: u64,
) -> anyhow::Result<(f64, f64)> {
    bus.create_topic(topic, TopicConfig::with_partitions(args.partitions))
        .await?;
    let mut consumer = bus
        .consumer(ConsumerConfig::new(topic, vec![topic.to_owned()]))
        .await?;
    joined(&mut *consumer).await?;
    let start = Instant::now();
    let consumer_task = tokio::spawn(async move {
        let mut received: u64 = 0;
        let mut pending = std::collections::BTreeMap::new();
        let mut last_commit = Instant::now();
        while received < messages {
            let msgs = consumer.poll(Duration::from_secs(30)).await?;
            anyhow::ensure!(
                !msgs.is_empty(),
                "consumer starved for 30 s at {received}/{messages}"
            );
            received += msgs.len() as u64;
            for m in &msgs {
                pending.insert(m.topic_partition(), m.offset + 1);
            }
            if last_commit.elapsed() >= COMMIT_INTERVAL || received >= messages {
                consumer.commit(&pending).await?;
                last_commit = Instant::now();
            }
        }
        consumer.close().await?;
        Ok::<_, anyhow::Error>(start.elapsed())
    });
    produce_all(args, messages, start, sender(bus, topic)).await?;
    let produce_elapsed = start.elapsed();
    let consume_elapsed = consumer_task.await??;
    Ok((
        messages as f64 / produce_elapsed.as_secs_f64(),
        messages as f64 / consume_elapsed.as_secs_f64(),
    ))
}

/// Polls until the group gave `consumer` its partitions (at once on the embedded log; a
/// join round on a broker), so that no phase times the join. The topic is new and empty.
async fn joined(consumer: &mut dyn Consumer) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(60);
    while consumer.assignment().is_empty() {
        anyhow::ensure!(
            Instant::now() < deadline,
            "the bench consumer got no partition within 60 s"
        );
        let early = consumer.poll(Duration::from_millis(100)).await?;
        anyhow::ensure!(early.is_empty(), "the bench topic was not empty");
    }
    Ok(())
}

async fn latency(
    bus: &Arc<dyn Bus>,
    topic: &str,
    args: &BusBenchArgs,
    seconds: u64,
) -> anyhow::Result<(Histogram<u64>, u64)> {
    bus.create_topic(topic, TopicConfig::with_partitions(args.partitions))
        .await?;
    let mut consumer = bus
        .consumer(ConsumerConfig::new(topic, vec![topic.to_owned()]))
        .await?;
    joined(&mut *consumer).await?;
    let total = args.rate_per_second.max(1) * seconds;
    let base = Instant::now();
    let consumer_task = tokio::spawn(async move {
        let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        let mut received = 0;
        let mut pending = std::collections::BTreeMap::new();
        let mut last_commit = Instant::now();
        while received < total {
            let msgs = consumer.poll(Duration::from_secs(30)).await?;
            anyhow::ensure!(
                !msgs.is_empty(),
                "consumer starved for 30 s at {received}/{total}"
            );
            let now = nanos_since(base);
            for m in &msgs {
                let latency_us = now.saturating_sub(stamp_of(&m.value)) / 1000;
                hist.record(latency_us.max(1))?;
            }
            received += msgs.len() as u64;
            for m in &msgs {
                pending.insert(m.topic_partition(), m.offset + 1);
            }
            if last_commit.elapsed() >= COMMIT_INTERVAL || received >= total {
                consumer.commit(&pending).await?;
                last_commit = Instant::now();
            }
        }
        consumer.close().await?;
        Ok::<_, anyhow::Error>(hist)
    });
    offer_on_schedule(args, total, base, sender(bus, topic)).await?;
    let hist = consumer_task.await??;
    Ok((hist, total))
}

/// The phases' produce call on `bus`: the payloads to `topic` (no key), awaited until
/// durable.
fn sender(
    bus: &Arc<dyn Bus>,
    topic: &str,
) -> impl Fn(Vec<Vec<u8>>) -> BoxFuture<'static, anyhow::Result<()>> + Clone + Send + 'static {
    let (bus, topic) = (Arc::clone(bus), topic.to_owned());
    move |payloads| {
        let (bus, topic) = (Arc::clone(&bus), topic.clone());
        Box::pin(async move {
            let records = payloads.into_iter().map(|v| Record::new(None, v)).collect();
            bus.produce(&topic, records).await?;
            Ok(())
        })
    }
}

/// The throughput phase's producers: `--producers` tasks send `messages` payloads
/// (stamped with the time since `start`) in calls of `--batch-records`, each call awaited
/// before the next; returns once every call succeeded.
pub(crate) async fn produce_all<F, Fut>(
    args: &BusBenchArgs,
    messages: u64,
    start: Instant,
    send: F,
) -> anyhow::Result<()>
where
    F: Fn(Vec<Vec<u8>>) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = anyhow::Result<()>> + Send,
{
    let producers = args.producers as u64;
    let (size, batch) = (args.size_bytes, args.batch_records as u64);
    let mut tasks = Vec::new();
    for p in 0..producers {
        let count = messages / producers + if p == 0 { messages % producers } else { 0 };
        let send = send.clone();
        tasks.push(tokio::spawn(async move {
            let mut sent = 0;
            while sent < count {
                let n = batch.min(count - sent);
                send((0..n).map(|_| value(size, nanos_since(start))).collect()).await?;
                sent += n;
            }
            Ok::<_, anyhow::Error>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok(())
}

/// Produce calls of the latency phase's offer running at once, at most.
pub(crate) const OFFER_CALLS_IN_FLIGHT_MAX: usize = 256;

/// The latency phase's offer: `total` payloads at `--rate-per-second` on a 1 ms schedule
/// from `base`, each stamped with its scheduled time; each call runs on its own task so a
/// slow acknowledgement does not delay the schedule (at most
/// [`OFFER_CALLS_IN_FLIGHT_MAX`] in flight).
pub(crate) async fn offer_on_schedule<F, Fut>(
    args: &BusBenchArgs,
    total: u64,
    base: Instant,
    send: F,
) -> anyhow::Result<()>
where
    F: Fn(Vec<Vec<u8>>) -> Fut,
    Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
{
    let rate = args.rate_per_second.max(1);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(OFFER_CALLS_IN_FLIGHT_MAX));
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let (mut sent, mut calls) = (0u64, Vec::new());
    while sent < total {
        tick.tick().await;
        let due =
            ((u128::from(nanos_since(base)) * u128::from(rate) / 1_000_000_000) as u64).min(total);
        if due <= sent {
            continue;
        }
        let payloads = (sent..due)
            .map(|i| {
                let scheduled_ns = (u128::from(i) * 1_000_000_000 / u128::from(rate)) as u64;
                value(args.size_bytes, scheduled_ns)
            })
            .collect();
        sent = due;
        let permit = in_flight.clone().acquire_owned().await?;
        let call = send(payloads);
        calls.push(tokio::spawn(async move {
            let r = call.await;
            drop(permit);
            r
        }));
    }
    for call in calls {
        call.await??;
    }
    Ok(())
}

/// Which store `edalab bench ledger` measures.
#[derive(Copy, Clone, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LedgerBenchStore {
    Sqlite,
    Postgres,
}

#[derive(Args, Debug, Clone)]
pub struct LedgerBenchArgs {
    /// The store [default: the profile's `store.backend`].
    #[arg(long, value_enum)]
    pub store: Option<LedgerBenchStore>,
    /// Banking events applied (banking-day scenario, Avro-encoded beforehand).
    #[arg(long, default_value_t = 200_000)]
    pub events: usize,
    /// Events per store transaction.
    #[arg(long, default_value_t = edalab_services::ledger::bench::BENCH_BATCH_SIZE_DEFAULT)]
    pub batch_size: usize,
    /// PostgreSQL server (a scratch database is created on it, then dropped) [default: the
    /// profile's `store.url`, else postgres://postgres@127.0.0.1:5432/postgres].
    #[arg(long, env = "EDALAB_BENCH_POSTGRES_URL")]
    pub postgres_url: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The PostgreSQL server of a benchmark when the profile names none.
const LOCAL_POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The store a ledger benchmark measures: `--store`, else the profile's `store.backend`;
/// its PostgreSQL server `--postgres-url`, else the profile's `store.url`, else the local one.
pub fn bench_store(
    config: &Config,
    store: Option<LedgerBenchStore>,
    postgres_url: Option<&str>,
) -> (LedgerBenchStore, String) {
    let profile_postgres = config.store.backend == StoreBackend::Postgres;
    let kind = store.unwrap_or(if profile_postgres {
        LedgerBenchStore::Postgres
    } else {
        LedgerBenchStore::Sqlite
    });
    let url = match postgres_url {
        Some(url) => url.to_owned(),
        None if profile_postgres => config.store.url.clone(),
        None => LOCAL_POSTGRES.to_owned(),
    };
    (kind, url)
}

/// `edalab bench ledger`: events applied per second into a fresh store (SQLite file in a
/// scratch directory under the data directory — never tmpfs, so fsync is real — or a
/// scratch PostgreSQL database), through `edalab_services::ledger::bench_apply`; then, in
/// the same place, the backend's raw batched insert ceiling (rows of 200 B in
/// transactions of `--batch-size`), and the ratio of the two.
pub async fn run_ledger(config: &Config, args: LedgerBenchArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.events > 0, "--events must be at least 1");
    let (store, postgres_url) = bench_store(config, args.store, args.postgres_url.as_deref());
    let (stats, ceiling) = match store {
        LedgerBenchStore::Sqlite => ledger_on_sqlite(&config.bus.data_dir, &args).await?,
        LedgerBenchStore::Postgres => ledger_on_postgres(&postgres_url, &args).await?,
    };
    let ratio = stats.events_per_second / ceiling.rows_per_second.max(1e-9);
    if args.json {
        println!(
            "{}",
            json!({
                "store": stats.store,
                "events": stats.events_total,
                "batch_size": stats.batch_size,
                "applied": stats.applied_total,
                "rejected": stats.rejected_total,
                "elapsed_s": stats.elapsed.as_secs_f64(),
                "decode_elapsed_s": stats.decode_elapsed.as_secs_f64(),
                "events_per_second": stats.events_per_second.round(),
                "ceiling_rows_per_second": ceiling.rows_per_second.round(),
                "ceiling_ratio": (ratio * 1000.0).round() / 1000.0,
            })
        );
    } else {
        println!(
            "ledger bench ({}): {} events in batches of {} — {} applied, {} refused",
            stats.store,
            stats.events_total,
            stats.batch_size,
            stats.applied_total,
            stats.rejected_total
        );
        println!(
            "  {:.2} s ({:.2} s decoding, overlapped) → {:.0} events/s",
            stats.elapsed.as_secs_f64(),
            stats.decode_elapsed.as_secs_f64(),
            stats.events_per_second
        );
        println!(
            "  raw ceiling: {:.0} rows/s ({} rows in transactions of {}) → the ledger reaches {ratio:.3} of it",
            ceiling.rows_per_second, ceiling.rows, ceiling.batch_rows
        );
    }
    Ok(())
}

type LedgerFigures = (edalab_services::ledger::LedgerBenchStats, Ceiling);

/// The ledger on a SQLite file in a scratch directory, then SQLite's append ceiling there.
async fn ledger_on_sqlite(
    data_dir: &Path,
    args: &LedgerBenchArgs,
) -> anyhow::Result<LedgerFigures> {
    let scratch = data_dir.join(format!("bench-ledger-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).with_context(|| format!("creating {}", scratch.display()))?;
    let result = async {
        let store = crate::ledger::OpenStore::sqlite(&scratch.join("ledger.sqlite")).await?;
        let stats =
            edalab_services::ledger::bench_apply(store.shared(), args.events, args.batch_size)
                .await;
        store.close().await?;
        let stats = stats.context("ledger benchmark")?;
        let (dir, rows, batch) = (
            scratch.join("ceiling"),
            args.events as u64,
            args.batch_size as u64,
        );
        let raw = tokio::task::spawn_blocking(move || {
            crate::bench_e2e::sqlite_ceiling(&dir, rows, batch)
        })
        .await
        .context("the SQLite ceiling task")??;
        let ceiling = Ceiling {
            rows,
            batch_rows: batch,
            rows_per_second: raw.append_rows_per_second,
        };
        Ok::<_, anyhow::Error>((stats, ceiling))
    }
    .await;
    let _ = std::fs::remove_dir_all(&scratch);
    result
}

/// A ledger store on a new scratch database of the PostgreSQL server at `url`; the database
/// is dropped with the returned [`TestDatabase`](edalab_store::testing::TestDatabase).
pub(crate) async fn scratch_postgres(
    url: &str,
) -> anyhow::Result<(
    crate::ledger::OpenStore,
    edalab_store::testing::TestDatabase,
)> {
    let database = edalab_store::testing::TestDatabase::create(url)
        .await
        .with_context(|| {
            format!(
                "creating a scratch database on {}",
                crate::ledger::redact(url)
            )
        })?;
    let store = crate::ledger::OpenStore::postgres(database.url()).await?;
    Ok((store, database))
}

/// The ledger on a scratch PostgreSQL database, then PostgreSQL's `UNNEST` insert ceiling
/// on the same database.
async fn ledger_on_postgres(url: &str, args: &LedgerBenchArgs) -> anyhow::Result<LedgerFigures> {
    let (store, database) = scratch_postgres(url).await?;
    let stats =
        edalab_services::ledger::bench_apply(store.shared(), args.events, args.batch_size).await;
    store.close().await?;
    let stats = stats.context("ledger benchmark")?;
    let ceiling = edalab_store::ceiling::postgres_unnest(
        database.url(),
        args.events as u64,
        args.batch_size as u64,
    )
    .await
    .context("the PostgreSQL ceiling")?;
    // Dropping `database` drops the scratch database.
    drop(database);
    Ok((stats, ceiling))
}

#[derive(Args, Debug, Clone)]
pub struct SimBenchArgs {
    /// Scenario to generate (a name in `scenarios/` or a built-in one).
    #[arg(long, default_value = "banking-day")]
    pub scenario: String,
    /// Items generated (then generated and encoded again from the same seed).
    #[arg(long, default_value_t = 1_000_000)]
    pub items: u64,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `edalab bench sim`: events generated, and generated + encoded, per second on one core,
/// without the bus (issue 5's benchmark).
pub fn run_sim(args: SimBenchArgs) -> anyhow::Result<()> {
    use edalab_services::simulator::{Scenario, bench_scenario};
    anyhow::ensure!(args.items > 0, "--items must be at least 1");
    let scenario = Scenario::resolve(&args.scenario, Some(Path::new("scenarios")))
        .with_context(|| format!("--scenario `{}`", args.scenario))?;
    let stats = bench_scenario(scenario, args.items).context("generating")?;
    let nproc = std::thread::available_parallelism().map_or(0, |n| n.get());
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "scenario": stats.scenario,
                "items": stats.items_total,
                "generated_per_second": stats.generated_per_second.round(),
                "generated_encoded_per_second": stats.generated_encoded_per_second.round(),
                "encoded_bytes": stats.encoded_bytes_total,
                "nproc": nproc,
            })
        );
    } else {
        println!(
            "bench sim: scenario {} · {} items · one core (machine nproc {nproc})",
            stats.scenario, stats.items_total
        );
        println!(
            "  generated           {:>12.0} items/s",
            stats.generated_per_second
        );
        println!(
            "  generated + encoded {:>12.0} items/s ({} bytes)",
            stats.generated_encoded_per_second, stats.encoded_bytes_total
        );
    }
    Ok(())
}
