//! Banking events encoded and decoded per second on one thread: the direct writer and
//! reader (the default path) against apache-avro through `types::Value` (the path before
//! it, kept as the reference).
//!
//! `cargo run --release -p edalab-schema --example codec_throughput [seconds_per_run]`
//!
//! The mix: the eight `samples` kinds in equal shares, each in 128 copies with their own
//! event id, timestamp and amount (1 024 events, 154 bytes on average); `CompteOuvert`
//! carries a three-entry metadata map, four kinds one entry, three none. Each figure is the
//! best of three runs.

use std::hint::black_box;
use std::time::{Duration, Instant};

use apache_avro::to_avro_datum;
use edalab_domain::events::banking::{
    AccountClosed, AccountOpened, BankingEvent, DepositMade, OperationRejected, PremiumPaid,
    TransferIssued, TransferReceived, WithdrawalMade, samples,
};
use edalab_schema::wire::frame;
use edalab_schema::{
    AvroEvent, EventSchema, SchemaCatalog, WireError, decode_banking, decode_value, encode_banking,
    encode_banking_into,
};
use rust_decimal::Decimal;
use uuid::Uuid;

/// Copies of each sample kind in the mix.
const COPIES_PER_KIND: usize = 128;
/// Runs per figure; the best is kept (the machine is shared).
const RUNS: usize = 3;

fn main() -> Result<(), WireError> {
    let seconds_per_run: f64 = std::env::args()
        .nth(1)
        .and_then(|arg| arg.parse().ok())
        .unwrap_or(1.0);
    let run_time = Duration::from_secs_f64(seconds_per_run);
    let catalog = SchemaCatalog::builtin()?;
    let events = mix();
    let frames: Vec<Vec<u8>> = events
        .iter()
        .map(|e| encode_banking(&catalog, e))
        .collect::<Result<_, _>>()?;
    let bytes_total: usize = frames.iter().map(Vec::len).sum();
    println!(
        "mix: {} events, {:.0} bytes per event on average, {:.1} s per run, best of {RUNS}",
        events.len(),
        bytes_total as f64 / events.len() as f64,
        seconds_per_run
    );

    let encode_reference = measure(run_time, events.len(), |i| {
        reference_encode(&catalog, &events[i]).map(|b| b.len())
    })?;
    let encode_fast = measure(run_time, events.len(), |i| {
        encode_banking(&catalog, &events[i]).map(|b| b.len())
    })?;
    let mut buffer = Vec::with_capacity(1024);
    let encode_into = measure(run_time, events.len(), |i| {
        buffer.clear();
        encode_banking_into(&catalog, &events[i], &mut buffer).map(|()| buffer.len())
    })?;
    let decode_reference = measure(run_time, events.len(), |i| {
        reference_decode(&catalog, events[i].topic(), &frames[i]).map(|e| e.key().len())
    })?;
    let decode_fast = measure(run_time, events.len(), |i| {
        decode_banking(&catalog, events[i].topic(), &frames[i]).map(|e| e.key().len())
    })?;

    println!("{:<44} {:>14} {:>10}", "path", "events/s", "ns/event");
    for (name, rate) in [
        ("encode, apache-avro Value (before)", encode_reference),
        ("encode_banking, direct (after)", encode_fast),
        ("encode_banking_into, reused buffer (after)", encode_into),
        ("decode, apache-avro Value (before)", decode_reference),
        ("decode_banking, direct (after)", decode_fast),
    ] {
        println!("{name:<44} {rate:>14.0} {:>10.0}", 1e9 / rate);
    }
    println!(
        "speed-up: encode x{:.1} (into a reused buffer x{:.1}), decode x{:.1}",
        encode_fast / encode_reference,
        encode_into / encode_reference,
        decode_fast / decode_reference
    );
    Ok(())
}

/// Best events per second of [`RUNS`] runs of `run_time` each, cycling over the mix.
fn measure(
    run_time: Duration,
    len: usize,
    mut op: impl FnMut(usize) -> Result<usize, WireError>,
) -> Result<f64, WireError> {
    let mut best = 0.0f64;
    for _ in 0..RUNS {
        let started = Instant::now();
        let mut done = 0u64;
        while started.elapsed() < run_time {
            for i in 0..len {
                black_box(op(black_box(i))?);
            }
            done += len as u64;
        }
        best = best.max(done as f64 / started.elapsed().as_secs_f64());
    }
    Ok(best)
}

/// The eight sample kinds, each in [`COPIES_PER_KIND`] variants, interleaved.
fn mix() -> Vec<BankingEvent> {
    let mut events = Vec::with_capacity(8 * COPIES_PER_KIND);
    for copy in 0..COPIES_PER_KIND {
        let n = copy as u128;
        let offset = chrono::Duration::milliseconds(copy as i64 * 37);
        let amount = Decimal::new(1_000 + copy as i64 * 7_919, 2);
        for mut event in samples::all() {
            let id = Uuid::from_u128(0x0194_8c6e_7a3b_7c2d_9e4f_0000_0000_0000 + n);
            match &mut event {
                BankingEvent::AccountOpened(e) => {
                    (e.event_id, e.initial_balance) = (id, amount);
                    e.timestamp += offset;
                }
                BankingEvent::AccountClosed(e) => {
                    e.event_id = id;
                    e.timestamp += offset;
                }
                BankingEvent::DepositMade(e) => {
                    (e.event_id, e.amount) = (id, amount);
                    e.timestamp += offset;
                }
                BankingEvent::WithdrawalMade(e) => {
                    (e.event_id, e.amount) = (id, amount);
                    e.timestamp += offset;
                }
                BankingEvent::TransferIssued(e) => {
                    (e.event_id, e.amount) = (id, amount);
                    e.timestamp += offset;
                }
                BankingEvent::TransferReceived(e) => {
                    (e.event_id, e.amount) = (id, amount);
                    e.timestamp += offset;
                }
                BankingEvent::PremiumPaid(e) => {
                    (e.event_id, e.amount) = (id, amount);
                    e.timestamp += offset;
                }
                BankingEvent::OperationRejected(e) => {
                    e.event_id = id;
                    e.timestamp += offset;
                }
            }
            events.push(event);
        }
    }
    events
}

// --- the path before: apache-avro through `types::Value` -----------------------------------

fn reference_body<E: AvroEvent>(catalog: &SchemaCatalog, event: &E) -> Result<Vec<u8>, WireError> {
    let body = to_avro_datum(catalog.schema(E::SCHEMA), event.to_avro()?).map_err(|source| {
        WireError::AvroEncode {
            record: E::SCHEMA.record_name(),
            source: Box::new(source),
        }
    })?;
    Ok(frame(catalog.id_of(E::SCHEMA), &body))
}

fn reference_encode(catalog: &SchemaCatalog, event: &BankingEvent) -> Result<Vec<u8>, WireError> {
    match event {
        BankingEvent::AccountOpened(e) => reference_body(catalog, e),
        BankingEvent::AccountClosed(e) => reference_body(catalog, e),
        BankingEvent::DepositMade(e) => reference_body(catalog, e),
        BankingEvent::WithdrawalMade(e) => reference_body(catalog, e),
        BankingEvent::TransferIssued(e) => reference_body(catalog, e),
        BankingEvent::TransferReceived(e) => reference_body(catalog, e),
        BankingEvent::PremiumPaid(e) => reference_body(catalog, e),
        BankingEvent::OperationRejected(e) => reference_body(catalog, e),
    }
}

fn reference_decode(
    catalog: &SchemaCatalog,
    topic: &str,
    bytes: &[u8],
) -> Result<BankingEvent, WireError> {
    let expected =
        EventSchema::for_topic(topic).ok_or_else(|| WireError::UnknownTopic(topic.to_owned()))?;
    let (schema, value) = decode_value(catalog, bytes)?;
    if schema != expected {
        return Err(WireError::SchemaMismatch {
            id: catalog.id_of(schema),
            expected: expected.record_name(),
            found: schema.record_name(),
        });
    }
    Ok(match schema {
        EventSchema::AccountOpened => AccountOpened::from_avro(value)?.into(),
        EventSchema::AccountClosed => AccountClosed::from_avro(value)?.into(),
        EventSchema::DepositMade => DepositMade::from_avro(value)?.into(),
        EventSchema::WithdrawalMade => WithdrawalMade::from_avro(value)?.into(),
        EventSchema::TransferIssued => TransferIssued::from_avro(value)?.into(),
        EventSchema::TransferReceived => TransferReceived::from_avro(value)?.into(),
        EventSchema::PremiumPaid => PremiumPaid::from_avro(value)?.into(),
        _ => OperationRejected::from_avro(value)?.into(),
    })
}
