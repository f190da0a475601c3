//! `edalab bench bus --peer nats`: the same two phases as [`crate::bench`], with the same
//! message size, count, producers, calls and offered rate, on a NATS JetStream server (the
//! peer named by issue 24), so the report puts the two side by side.
//!
//! Mapping of the phases onto JetStream: a topic is a stream with one subject, kept in
//! files (`storage: file`, one replica); a produce call of N records is N asynchronous
//! publishes whose acknowledgements are all awaited, every 1 000 publishes and at the end
//! (the server acknowledges a publish once it is stored); the consumer is a durable pull
//! consumer that acknowledges with `AckPolicy::All` at most every [`COMMIT_INTERVAL`] (the
//! analogue of an offset commit).
//! JetStream has no partitions: `--partitions` applies to our bus only.
//!
//! Durability is the server's: a publish is acknowledged once written to the stream's
//! file, and the server fsyncs on its own schedule (`sync_interval`, two minutes by
//! default; NATS 2.9 cannot fsync every write). The report names the server's version so
//! that a reader compares it with our `--fsync` at the same level.

use std::time::{Duration, Instant};

use anyhow::Context;
use async_nats::jetstream::{self, consumer::pull, stream};
use futures::StreamExt;
use futures::future::BoxFuture;
use hdrhistogram::Histogram;

use crate::bench::{
    BusBenchArgs, COMMIT_INTERVAL, OFFER_CALLS_IN_FLIGHT_MAX, PhaseFigures, nanos_since,
    offer_on_schedule, produce_all, stamp_of,
};

/// The NATS server a `--peer nats` run measures when `--nats-url` is not given.
pub const NATS_URL_DEFAULT: &str = "nats://127.0.0.1:4222";
/// Publishes one call has in flight before it awaits their acknowledgements: each holds a
/// permit of the client's in-flight window until awaited, so a call never holds more.
const PUBLISH_ACKS_AWAITED_MAX: usize = 1_000;
/// Messages the pull consumer asks for at once.
const PULL_BATCH: usize = 1_000;
/// Longest wait for the next message before the phase fails (as our consumer's starve).
const STARVED_AFTER: Duration = Duration::from_secs(30);

/// What `--peer nats` measured: the phases' figures and the server it ran against.
pub struct NatsRun {
    pub figures: PhaseFigures,
    pub server_version: String,
}

/// Runs the throughput then the latency phase on the JetStream server at `url`, on
/// streams named after `names` (deleted afterwards, whatever happened).
pub async fn run(
    url: &str,
    names: &str,
    args: &BusBenchArgs,
    messages: u64,
    latency_seconds: u64,
) -> anyhow::Result<NatsRun> {
    let client = async_nats::connect(url)
        .await
        .with_context(|| format!("--nats-url {url}: cannot connect"))?;
    let server_version = client.server_info().version.clone();
    let js = jetstream::ContextBuilder::new()
        // Room for every call that can run at once (producers, or the offer's calls), each
        // holding at most PUBLISH_ACKS_AWAITED_MAX: no call waits on permits held by another.
        .max_ack_inflight(PUBLISH_ACKS_AWAITED_MAX * (args.producers + OFFER_CALLS_IN_FLIGHT_MAX))
        .timeout(Duration::from_secs(30))
        .build(client.clone());
    let (throughput_stream, latency_stream) =
        (format!("{names}-throughput"), format!("{names}-latency"));
    let rates = throughput(&js, &throughput_stream, args, messages).await;
    let latencies = match rates {
        Ok(_) => latency(&js, &latency_stream, args, latency_seconds).await,
        Err(_) => Err(anyhow::anyhow!("not run")),
    };
    for name in [&throughput_stream, &latency_stream] {
        let _ = js.delete_stream(name).await;
    }
    client.flush().await.ok();
    let (produce_per_second, consume_per_second) = rates?;
    let (latency, latency_messages) = latencies?;
    Ok(NatsRun {
        figures: PhaseFigures {
            produce_per_second,
            consume_per_second,
            latency,
            latency_messages,
        },
        server_version,
    })
}

/// A fresh file-backed stream `name` with one subject (its own name) and a durable pull
/// consumer acknowledging cumulatively.
async fn stream_and_consumer(
    js: &jetstream::Context,
    name: &str,
) -> anyhow::Result<jetstream::consumer::Consumer<pull::Config>> {
    let _ = js.delete_stream(name).await;
    let stream = js
        .create_stream(stream::Config {
            name: name.to_owned(),
            subjects: vec![name.to_owned()],
            storage: stream::StorageType::File,
            num_replicas: 1,
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating the JetStream stream {name}"))?;
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some(format!("{name}-reader")),
            ack_policy: jetstream::consumer::AckPolicy::All,
            max_ack_pending: -1,
            ..Default::default()
        })
        .await
        .with_context(|| format!("creating the JetStream consumer of {name}"))?;
    Ok(consumer)
}

/// Reads `total` messages, acknowledging cumulatively at most every [`COMMIT_INTERVAL`]
/// and once at the end; `seen` is called with each message's payload as it arrives.
async fn consume(
    consumer: jetstream::consumer::Consumer<pull::Config>,
    total: u64,
    mut seen: impl FnMut(&[u8]) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let mut messages = consumer
        .stream()
        .max_messages_per_batch(PULL_BATCH)
        .messages()
        .await
        .context("pulling from JetStream")?;
    let mut received = 0u64;
    let mut last_ack = Instant::now();
    while received < total {
        let next = tokio::time::timeout(STARVED_AFTER, messages.next()).await;
        let message = match next {
            Ok(Some(message)) => message.map_err(|e| anyhow::anyhow!("JetStream pull: {e}"))?,
            _ => anyhow::bail!("JetStream consumer starved for 30 s at {received}/{total}"),
        };
        seen(&message.payload)?;
        received += 1;
        if last_ack.elapsed() >= COMMIT_INTERVAL || received == total {
            message
                .ack()
                .await
                .map_err(|e| anyhow::anyhow!("JetStream ack: {e}"))?;
            last_ack = Instant::now();
        }
    }
    Ok(())
}

/// The phases' produce call on JetStream: [`publish_all`] to `subject`.
fn publisher(
    js: &jetstream::Context,
    subject: &str,
) -> impl Fn(Vec<Vec<u8>>) -> BoxFuture<'static, anyhow::Result<()>> + Clone + Send + 'static {
    let (js, subject) = (js.clone(), subject.to_owned());
    move |payloads| {
        let (js, subject) = (js.clone(), subject.clone());
        Box::pin(async move { publish_all(&js, &subject, payloads).await })
    }
}

/// Publishes `payloads` to `subject` and waits until the server stored them all, awaiting
/// the acknowledgements every [`PUBLISH_ACKS_AWAITED_MAX`] publishes.
async fn publish_all(
    js: &jetstream::Context,
    subject: &str,
    payloads: Vec<Vec<u8>>,
) -> anyhow::Result<()> {
    let mut acks = Vec::with_capacity(payloads.len().min(PUBLISH_ACKS_AWAITED_MAX));
    for payload in payloads {
        let ack = js
            .publish(subject.to_owned(), payload.into())
            .await
            .map_err(|e| anyhow::anyhow!("JetStream publish: {e}"))?;
        acks.push(ack);
        if acks.len() == PUBLISH_ACKS_AWAITED_MAX {
            awaited(std::mem::take(&mut acks)).await?;
        }
    }
    awaited(acks).await
}

async fn awaited(acks: Vec<jetstream::context::PublishAckFuture>) -> anyhow::Result<()> {
    for ack in acks {
        ack.await
            .map_err(|e| anyhow::anyhow!("JetStream publish ack: {e}"))?;
    }
    Ok(())
}

/// The throughput phase: `--producers` tasks publish `messages` in calls of
/// `--batch-records` while one consumer reads them. Returns (produce/s, consume/s).
async fn throughput(
    js: &jetstream::Context,
    name: &str,
    args: &BusBenchArgs,
    messages: u64,
) -> anyhow::Result<(f64, f64)> {
    let consumer = stream_and_consumer(js, name).await?;
    let start = Instant::now();
    let reader = tokio::spawn(async move {
        consume(consumer, messages, |_| Ok(())).await?;
        Ok::<_, anyhow::Error>(start.elapsed())
    });
    produce_all(args, messages, start, publisher(js, name)).await?;
    let produce_elapsed = start.elapsed();
    let consume_elapsed = reader.await??;
    Ok((
        messages as f64 / produce_elapsed.as_secs_f64(),
        messages as f64 / consume_elapsed.as_secs_f64(),
    ))
}

/// The latency phase: messages offered at `--rate-per-second` on a 1 ms schedule, each
/// stamped with its scheduled time; the consumer records `now - scheduled`.
async fn latency(
    js: &jetstream::Context,
    name: &str,
    args: &BusBenchArgs,
    seconds: u64,
) -> anyhow::Result<(Histogram<u64>, u64)> {
    let consumer = stream_and_consumer(js, name).await?;
    let total = args.rate_per_second.max(1) * seconds;
    let base = Instant::now();
    let reader = tokio::spawn(async move {
        let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        consume(consumer, total, |payload| {
            let latency_us = nanos_since(base).saturating_sub(stamp_of(payload)) / 1000;
            hist.record(latency_us.max(1))?;
            Ok(())
        })
        .await?;
        Ok::<_, anyhow::Error>(hist)
    });
    offer_on_schedule(args, total, base, publisher(js, name)).await?;
    Ok((reader.await??, total))
}
