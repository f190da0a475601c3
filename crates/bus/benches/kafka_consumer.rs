//! Consumer throughput over Kafka (tansu on loopback, memory storage): plain `rdkafka` vs
//! edalab's `KafkaBus` consumer through the `Consumer` port (poll + commit per batch) vs the
//! consumer runtime with a no-op handler. Each run reads the same topic on a fresh group.
//!
//! ```text
//! cargo bench -p edalab-bus --features kafka --bench kafka_consumer -- [--messages N] [--repetitions R]
//! ```
//! (`EDALAB_BENCH_MESSAGES` also sets N.) Throughput is measured from the first message
//! received to the last, so the group join is not counted; both sides share the machine's
//! cores with the broker.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a benchmark is its failure

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use edalab_bus::kafka::testing::Tansu;
use edalab_bus::kafka::{KafkaBus, KafkaConfig};
use edalab_bus::port::{Admin, Bus, ConsumerConfig, Message, Producer, Record, TopicConfig};
use edalab_bus::runtime::{BatchHandler, ConsumerRuntime, DlqRouting, Outcome, RuntimeConfig};
use rdkafka::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer as _};

const TOPIC: &str = "bench.events";
const DLQ: &str = "bench.events.dlq";
const VALUE_BYTES: usize = 200;
const PRODUCE_CHUNK: usize = 10_000;
const READ_TIMEOUT: Duration = Duration::from_secs(300);

struct Args {
    messages: usize,
    repetitions: usize,
}

fn args() -> Result<Args, String> {
    let mut messages = std::env::var("EDALAB_BENCH_MESSAGES")
        .ok()
        .map(|v| {
            v.parse()
                .map_err(|e| format!("EDALAB_BENCH_MESSAGES `{v}`: {e}"))
        })
        .transpose()?
        .unwrap_or(200_000);
    let mut repetitions = 3;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--messages" => {
                let v = it.next().ok_or("--messages needs a value")?;
                messages = v.parse().map_err(|e| format!("--messages `{v}`: {e}"))?;
            }
            "--repetitions" => {
                let v = it.next().ok_or("--repetitions needs a value")?;
                repetitions = v.parse().map_err(|e| format!("--repetitions `{v}`: {e}"))?;
            }
            // Passed by `cargo bench`.
            "--bench" => {}
            other => {
                return Err(format!(
                    "unknown argument `{other}` (--messages N, --repetitions R)"
                ));
            }
        }
    }
    if messages == 0 || repetitions == 0 {
        return Err("--messages and --repetitions must be at least 1".to_owned());
    }
    Ok(Args {
        messages,
        repetitions,
    })
}

fn main() {
    let args = match args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("kafka_consumer: {e}");
            std::process::exit(2);
        }
    };
    let Some(tansu) = Tansu::start_or_skip("kafka_consumer bench") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let bus = KafkaBus::new(KafkaConfig::new(tansu.brokers())).expect("kafka bus");
    rt.block_on(async {
        bus.create_topic(TOPIC, TopicConfig::with_partitions(3))
            .await
            .expect("create topic");
        bus.create_topic(DLQ, TopicConfig::with_partitions(1))
            .await
            .expect("create dlq");
        let started = Instant::now();
        let value = vec![b'x'; VALUE_BYTES];
        let mut produced = 0;
        while produced < args.messages {
            let n = PRODUCE_CHUNK.min(args.messages - produced);
            let records = (produced..produced + n)
                .map(|i| Record::new(Some(i.to_string().into_bytes()), value.clone()))
                .collect();
            bus.produce(TOPIC, records).await.expect("produce");
            produced += n;
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "produced {} messages of {VALUE_BYTES} bytes in {secs:.2} s ({:.0} msgs/s, idempotent, acks=all)",
            args.messages,
            args.messages as f64 / secs
        );
    });

    let (mut plain, mut port, mut runtime) = (Vec::new(), Vec::new(), Vec::new());
    for rep in 0..args.repetitions {
        let p = plain_rdkafka(tansu.brokers(), &format!("plain-{rep}"), args.messages);
        let e = rt.block_on(edalab_port(&bus, &format!("port-{rep}"), args.messages));
        let r = rt.block_on(edalab_runtime(
            &bus,
            &format!("runtime-{rep}"),
            args.messages,
        ));
        println!(
            "repetition {}: plain rdkafka {p:.0} msgs/s, edalab Consumer port {e:.0} msgs/s, edalab runtime {r:.0} msgs/s",
            rep + 1
        );
        plain.push(p);
        port.push(e);
        runtime.push(r);
    }
    let (p, e, r) = (median(&mut plain), median(&mut port), median(&mut runtime));
    println!(
        "median of {} over {} messages: plain {p:.0} msgs/s | port {e:.0} msgs/s (ratio {:.2}) | runtime {r:.0} msgs/s (ratio {:.2})",
        args.repetitions,
        args.messages,
        e / p,
        r / p
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// A plain `BaseConsumer` in a fresh group, reading everything (no commit, like a reader
/// that does not care where it stopped).
fn plain_rdkafka(brokers: &str, group: &str, n: usize) -> f64 {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", brokers)
        .set("group.id", group)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("plain consumer");
    consumer.subscribe(&[TOPIC]).expect("subscribe");
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut first = None;
    let mut count = 0usize;
    let mut bytes = 0usize;
    while count < n {
        assert!(
            Instant::now() < deadline,
            "plain consumer read {count} of {n}"
        );
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                first.get_or_insert_with(Instant::now);
                bytes += m.payload_len();
                count += 1;
            }
            Some(Err(e)) => eprintln!("plain consumer: {e}"),
            None => {}
        }
    }
    assert_eq!(bytes, n * VALUE_BYTES);
    rate(n, first)
}

/// edalab's consumer through the port: poll a batch, commit it, repeat.
async fn edalab_port(bus: &KafkaBus, group: &str, n: usize) -> f64 {
    let mut consumer = bus
        .consumer(ConsumerConfig::new(group, vec![TOPIC.to_owned()]))
        .await
        .expect("consumer");
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut first = None;
    let mut count = 0usize;
    let mut bytes = 0usize;
    let mut positions = std::collections::BTreeMap::new();
    while count < n {
        assert!(
            Instant::now() < deadline,
            "edalab consumer read {count} of {n}"
        );
        let batch = consumer
            .poll(Duration::from_millis(100))
            .await
            .expect("poll");
        if batch.is_empty() {
            continue;
        }
        first.get_or_insert_with(Instant::now);
        positions.clear();
        for m in &batch {
            bytes += m.value.len();
            positions.insert(m.topic_partition(), m.offset + 1);
        }
        count += batch.len();
        consumer.commit(&positions).await.expect("commit");
    }
    let r = rate(n, first);
    consumer.close().await.expect("close");
    assert_eq!(bytes, n * VALUE_BYTES);
    r
}

struct NoOp;

#[async_trait]
impl BatchHandler for NoOp {
    async fn handle(&self, batch: &[Message]) -> Vec<Outcome> {
        vec![Outcome::Done; batch.len()]
    }
}

/// The consumer runtime with a handler that does nothing, batches of 100, commits every
/// 100 ms. In-flight bound above N: a paused partition is resumed by a seek back, which tansu
/// 0.6 cannot serve from inside a record batch (docs/adr/015-kafka-backend.md).
async fn edalab_runtime(bus: &KafkaBus, group: &str, n: usize) -> f64 {
    let mut config = RuntimeConfig::new(
        ConsumerConfig::new(group, vec![TOPIC.to_owned()]),
        DlqRouting::to_topic(DLQ),
    );
    config.batch_size_max = 100;
    config.in_flight_messages_max = 100_000;
    config.commit_interval_ms = 100;
    let runtime = ConsumerRuntime::new(Arc::new(bus.clone()) as Arc<dyn Bus>, config, NoOp);
    let stats = runtime.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(runtime.run(async {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + READ_TIMEOUT;
    let mut first = None;
    loop {
        let s = stats.snapshot();
        if s.messages_fetched_total > 0 {
            first.get_or_insert_with(Instant::now);
        }
        if s.messages_done_total as usize >= n {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "runtime handled {} of {n}",
            s.messages_done_total
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let r = rate(n, first);
    let _ = stop.send(());
    task.await.expect("join").expect("runtime");
    r
}

fn rate(n: usize, first: Option<Instant>) -> f64 {
    let secs = first.map_or(f64::NAN, |t| t.elapsed().as_secs_f64());
    n as f64 / secs
}
