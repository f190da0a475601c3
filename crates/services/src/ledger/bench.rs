//! The ledger's throughput benchmark (`edalab bench ledger` calls [`bench_apply`]):
//! events applied per second through decode → dedup → decide → commit, from
//! pre-generated, Avro-encoded `banking-day` events (the simulator's realistic mix,
//! refusals included, poison left out), without the bus.
//!
//! Two stages overlap on the two cores: a thread decodes batch `n + 1` while the store
//! commits batch `n` (decoding needs no state; deciding and committing stay sequential).

use std::sync::Arc;
use std::time::{Duration, Instant};

use edalab_schema::SchemaCatalog;
use edalab_store::{LedgerStore, StoreError};

use super::apply::{EventOutcome, Source, SourcedEvent, commit_events, decode_event};
use crate::simulator::{ItemEncoder, ManualClock, Payload, Scenario, Simulator};

/// Events per store transaction in the benchmark.
pub const BENCH_BATCH_SIZE_DEFAULT: usize = 10_000;

#[derive(Debug, thiserror::Error)]
pub enum LedgerBenchError {
    #[error("event generation: {0}")]
    Generate(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerBenchStats {
    pub store: &'static str,
    pub events_total: u64,
    pub batch_size: usize,
    pub applied_total: u64,
    pub rejected_total: u64,
    pub elapsed: Duration,
    pub events_per_second: f64,
    /// Time spent decoding alone (overlapped with commits).
    pub decode_elapsed: Duration,
}

/// `events_n` realistic banking events, Avro-encoded, with their topics.
pub fn generate_events(
    events_n: usize,
    seed: u64,
) -> Result<Vec<(&'static str, Vec<u8>)>, LedgerBenchError> {
    let scenario =
        Scenario::builtin("banking-day").map_err(|e| LedgerBenchError::Generate(e.to_string()))?;
    let clock = ManualClock::stepping(ManualClock::default_start(), Duration::from_millis(1));
    let mut simulator = Simulator::new(scenario, seed, clock)
        .map_err(|e| LedgerBenchError::Generate(e.to_string()))?;
    let encoder = ItemEncoder::builtin().map_err(|e| LedgerBenchError::Generate(e.to_string()))?;
    let mut out = Vec::with_capacity(events_n);
    while out.len() < events_n {
        for item in simulator.next_batch(4_096) {
            if out.len() == events_n {
                break;
            }
            if let Payload::Banking(_) = &item.payload {
                let bytes = encoder
                    .encode(&item)
                    .map_err(|e| LedgerBenchError::Generate(e.to_string()))?;
                out.push((item.topic(), bytes));
            }
        }
    }
    Ok(out)
}

fn decode_batch(
    catalog: &SchemaCatalog,
    chunk: &[(&'static str, Vec<u8>)],
    first_offset: usize,
) -> Vec<SourcedEvent> {
    chunk
        .iter()
        .enumerate()
        .filter_map(|(i, (topic, bytes))| {
            decode_event(catalog, topic, bytes)
                .ok()
                .map(|event| SourcedEvent {
                    event,
                    source: Source {
                        topic: (*topic).to_owned(),
                        partition: 0,
                        offset: (first_offset + i) as u64,
                    },
                })
        })
        .collect()
}

/// Applies `events_n` generated events to `store` in batches of `batch_size` and measures
/// the rate. The store should be empty.
pub async fn bench_apply(
    store: Arc<dyn LedgerStore>,
    events_n: usize,
    batch_size: usize,
) -> Result<LedgerBenchStats, LedgerBenchError> {
    let encoded = Arc::new(generate_events(events_n, 0x5EED)?);
    let catalog =
        Arc::new(SchemaCatalog::builtin().map_err(|e| LedgerBenchError::Generate(e.to_string()))?);
    let batch_size = batch_size.max(1);
    let chunks = encoded.len().div_ceil(batch_size);
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<(Vec<SourcedEvent>, Duration)>(2);
    let started = Instant::now();
    let decoder = {
        let encoded = Arc::clone(&encoded);
        let catalog = Arc::clone(&catalog);
        std::thread::spawn(move || {
            for n in 0..chunks {
                let start = n * batch_size;
                let end = (start + batch_size).min(encoded.len());
                let t = Instant::now();
                let events = decode_batch(&catalog, &encoded[start..end], start);
                if sender.blocking_send((events, t.elapsed())).is_err() {
                    return;
                }
            }
        })
    };
    let (mut applied_total, mut rejected_total) = (0u64, 0u64);
    let mut decode_elapsed = Duration::ZERO;
    while let Some((events, decode_time)) = receiver.recv().await {
        decode_elapsed += decode_time;
        let summary = commit_events(&*store, &catalog, &events, Vec::new()).await?;
        for outcome in &summary.outcomes {
            match outcome {
                EventOutcome::Applied => applied_total += 1,
                EventOutcome::Rejected { .. } => rejected_total += 1,
                EventOutcome::Duplicate => {}
            }
        }
    }
    let elapsed = started.elapsed();
    let _ = decoder.join();
    Ok(LedgerBenchStats {
        store: store.backend_name(),
        events_total: encoded.len() as u64,
        batch_size,
        applied_total,
        rejected_total,
        elapsed,
        events_per_second: encoded.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        decode_elapsed,
    })
}
