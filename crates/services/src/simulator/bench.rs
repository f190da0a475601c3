//! The simulator's throughput benchmark (`edalab bench sim` calls [`bench_generate`]).
//! Owns only measurement: it runs the generator and the encoder on the calling thread, with
//! the wall clock, no bus and no I/O, and reports items per second.

use std::time::{Duration, Instant};

use super::clock::SystemClock;
use super::encode::{EncodeError, ItemEncoder};
use super::generator::{Simulator, SimulatorError};
use super::scenario::{Scenario, ScenarioError};

/// Items generated per batch in the benchmark loop (the batch vector is reused).
const BENCH_BATCH_SIZE: usize = 1_024;

#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    #[error(transparent)]
    Simulator(#[from] SimulatorError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
}

/// What one benchmark run measured.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchStats {
    pub scenario: String,
    pub items_total: u64,
    /// Generation only.
    pub generate_elapsed: Duration,
    pub generated_per_second: f64,
    /// Generation and encoding to bytes (Avro for banking, JSON otherwise).
    pub generate_encode_elapsed: Duration,
    pub generated_encoded_per_second: f64,
    pub encoded_bytes_total: u64,
}

/// Generates `n` items of the `banking-day` scenario, then generates and encodes `n` more
/// from the same seed, on this thread.
pub fn bench_generate(n: u64) -> Result<BenchStats, BenchError> {
    bench_scenario(Scenario::builtin("banking-day")?, n)
}

/// [`bench_generate`] for any scenario.
pub fn bench_scenario(scenario: Scenario, n: u64) -> Result<BenchStats, BenchError> {
    const SEED: u64 = 0x5EED;
    let name = scenario.name.clone();
    let mut batch = Vec::with_capacity(BENCH_BATCH_SIZE);

    let mut simulator = Simulator::new(scenario.clone(), SEED, SystemClock::new())?;
    let started = Instant::now();
    let mut remaining = n;
    while remaining > 0 {
        let size = remaining.min(BENCH_BATCH_SIZE as u64) as usize;
        batch.clear();
        simulator.fill_batch(size, &mut batch);
        remaining -= size as u64;
    }
    let generate_elapsed = started.elapsed();

    let encoder = ItemEncoder::builtin()?;
    let mut simulator = Simulator::new(scenario, SEED, SystemClock::new())?;
    let mut encoded_bytes_total = 0_u64;
    let started = Instant::now();
    let mut remaining = n;
    while remaining > 0 {
        let size = remaining.min(BENCH_BATCH_SIZE as u64) as usize;
        batch.clear();
        simulator.fill_batch(size, &mut batch);
        for item in &batch {
            encoded_bytes_total += encoder.encode(item)?.len() as u64;
        }
        remaining -= size as u64;
    }
    let generate_encode_elapsed = started.elapsed();

    let per_second = |elapsed: Duration| {
        let seconds = elapsed.as_secs_f64();
        if seconds > 0.0 {
            n as f64 / seconds
        } else {
            0.0
        }
    };
    Ok(BenchStats {
        scenario: name,
        items_total: n,
        generate_elapsed,
        generated_per_second: per_second(generate_elapsed),
        generate_encode_elapsed,
        generated_encoded_per_second: per_second(generate_encode_elapsed),
        encoded_bytes_total,
    })
}
