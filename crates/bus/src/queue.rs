//! The queue port: point-to-point work queues with a dead-letter queue, as the seeds build them
//! on SQS (`transactions` → `transactions-dlq`, `calculatrice-input-queue`, `tp-orders-queue`),
//! beside the log of [`crate::port`] (see `docs/adr/026-aws-profile.md` §2).
//!
//! Owns: [`QueueSpec`] (a queue's settings, one constant per queue, owned by its pipeline), the
//! [`Queues`] trait (ensure, send, consume) and [`BusQueues`], its implementation over any
//! [`Bus`]: a queue is a topic, consumed by the [`ConsumerRuntime`] with [`DlqRouting`], and
//! `on_dead_letter` is fed by a reader of the DLQ topic. `edalab-aws` implements it over SQS,
//! where SQS's redrive policy moves failed messages and the runtime retries nothing itself.
//!
//! Handlers are the runtime's per-message [`Handler`]s, unchanged: they never learn which
//! implementation delivers to them.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::port::{Bus, BusError, ConsumerConfig, Headers, Record, TopicConfig};
use crate::runtime::{
    ConsumerRuntime, DlqEntry, DlqRouting, Handler, PerMessage, RuntimeConfig, RuntimeError,
    RuntimeStats,
};

/// Seconds in a day, for retention periods.
const DAY_SECONDS: u32 = 24 * 3_600;

/// The dead-letter side of a queue: where a message goes after `receive_count_max` failed
/// receives (SQS's redrive policy), and how long it stays there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetterSpec {
    /// The DLQ's name (`<queue>-dlq` in the seeds).
    pub name: String,
    /// Receives of one message before it is moved (SQS `maxReceiveCount`; the runtime's
    /// `attempts_max`). At least 1.
    pub receive_count_max: u32,
    /// How long a dead letter is kept (SQS `MessageRetentionPeriod` of the DLQ).
    pub retention_seconds: u32,
}

/// A queue's settings: what `ensure` creates and checks, and what consumers and deployments
/// read (one constant per queue, owned by the pipeline that consumes it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueueSpec {
    pub name: String,
    /// How long a received message stays invisible to other consumers (SQS
    /// `VisibilityTimeout`); a consumer must settle it within this time.
    pub visibility_timeout_seconds: u32,
    /// How long an unconsumed message is kept (SQS `MessageRetentionPeriod`).
    pub retention_seconds: u32,
    /// `None`: no DLQ (a queue nobody consumes here, as `calculatrice-output-queue`).
    pub dead_letter: Option<DeadLetterSpec>,
}

impl QueueSpec {
    /// A consumed queue with the seeds' settings (S0-02): visibility 60 s, 3 receives, kept
    /// 4 days, its DLQ `dlq` kept 14 days.
    pub fn seeded(name: impl Into<String>, dlq: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            visibility_timeout_seconds: 60,
            retention_seconds: 4 * DAY_SECONDS,
            dead_letter: Some(DeadLetterSpec {
                name: dlq.into(),
                receive_count_max: 3,
                retention_seconds: 14 * DAY_SECONDS,
            }),
        }
    }

    /// A queue with SQS's defaults (visibility 30 s, kept 4 days) and no DLQ.
    pub fn plain(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            visibility_timeout_seconds: 30,
            retention_seconds: 4 * DAY_SECONDS,
            dead_letter: None,
        }
    }

    /// The dead-letter side, or [`RuntimeError::NoDlq`]: a queue without a DLQ cannot be
    /// consumed (a rejected message would come back forever).
    pub fn dead_letter_or_refuse(&self) -> Result<&DeadLetterSpec, RuntimeError> {
        self.dead_letter
            .as_ref()
            .ok_or_else(|| RuntimeError::NoDlq(self.name.clone()))
    }
}

/// A message that failed for the last time and is (or is about to be) in its DLQ.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeadLetter {
    /// The queue it failed on.
    pub queue: String,
    pub key: Option<Vec<u8>>,
    pub value: Vec<u8>,
    pub headers: Headers,
    /// The last failure's reason (`Retry`'s or `Reject`'s).
    pub reason: String,
    /// Receives (deliveries) it failed.
    pub attempts: u32,
    /// SQS's `MessageId` (the same in the DLQ); `None` on a log.
    pub message_id: Option<String>,
}

/// Called once per dead letter, to record the failure (a status, a counter). It cannot fail:
/// it logs what it could not record.
pub type OnDeadLetter = Arc<dyn Fn(DeadLetter) -> BoxFuture<'static, ()> + Send + Sync>;

/// An [`OnDeadLetter`] from an async closure.
pub fn on_dead_letter<F, Fut>(f: F) -> OnDeadLetter
where
    F: Fn(DeadLetter) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    Arc::new(move |dead_letter| Box::pin(f(dead_letter)))
}

/// The shutdown signal consumers watch: they stop once it is `true` (or its sender is gone),
/// the pipelines' `Shutdown`.
pub type Shutdown = watch::Receiver<bool>;

/// Completes once `shutdown` is signalled (or its sender is gone).
pub async fn signalled(mut shutdown: Shutdown) {
    // An error means the sender was dropped: nobody can signal any more, so stop too.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

/// Who consumes a queue, and what runs per message and per dead letter.
#[derive(Clone)]
pub struct QueueConsumer {
    /// The consumer group on a log (positions are kept under it); a label in logs on SQS.
    pub group: String,
    /// The group that reads the DLQ topic to call `on_dead_letter` on a log; unused on SQS,
    /// where the consumer calls it at the last receive.
    pub dead_letter_group: String,
    pub handler: Arc<dyn Handler>,
    pub on_dead_letter: OnDeadLetter,
}

/// A running consumer: its task (ends after the shutdown signal, or on a fatal error) and its
/// counters, readable while it runs.
pub type Consuming = (JoinHandle<Result<(), RuntimeError>>, Arc<RuntimeStats>);

/// Work queues with dead-letter queues.
#[async_trait]
pub trait Queues: Send + Sync {
    /// Creates the queue, its DLQ and the redrive between them; harmless when they exist
    /// with these settings, [`BusError::QueueConfigMismatch`] when one exists with another.
    async fn ensure(&self, spec: &QueueSpec) -> Result<(), BusError>;
    /// Sends `records` to `queue`, all or an error; returns one id per record (SQS's
    /// `MessageId`, `topic/partition@offset` on a log).
    async fn send(&self, queue: &str, records: Vec<Record>) -> Result<Vec<String>, BusError>;
    /// Starts consuming `spec`'s queue until `shutdown`.
    async fn consume(
        &self,
        spec: &QueueSpec,
        consumer: QueueConsumer,
        shutdown: Shutdown,
    ) -> Result<Consuming, RuntimeError>;
    /// Which implementation this is (`bus`, `sqs`), for health and logs.
    fn backend_name(&self) -> &'static str;
}

/// [`Queues`] over a [`Bus`]: a queue is a topic (and its DLQ another), consumed by the
/// [`ConsumerRuntime`], which retries with backoff up to `receive_count_max` deliveries and
/// produces dead letters itself. The visibility timeout has no meaning on a log.
#[derive(Clone)]
pub struct BusQueues {
    bus: Arc<dyn Bus>,
    partitions_default: u32,
    partitions: HashMap<String, u32>,
    runtime: RuntimeConfig,
}

/// Partitions of a queue's (or DLQ's) topic unless [`BusQueues::with_partitions`] says
/// otherwise.
const PARTITIONS_DEFAULT: u32 = 3;

impl BusQueues {
    /// Queues as topics of `bus` with [`PARTITIONS_DEFAULT`] partitions and the runtime's
    /// default settings.
    pub fn new(bus: Arc<dyn Bus>) -> Self {
        let runtime =
            RuntimeConfig::new(ConsumerConfig::new("", Vec::new()), DlqRouting::default());
        Self {
            bus,
            partitions_default: PARTITIONS_DEFAULT,
            partitions: HashMap::new(),
            runtime,
        }
    }

    /// `topic` (a queue or a DLQ) has `partitions` partitions (the seeds' DLQs of S1 and S2
    /// have 1, and an existing topic keeps its count).
    pub fn with_partitions(mut self, topic: impl Into<String>, partitions: u32) -> Self {
        self.partitions.insert(topic.into(), partitions);
        self
    }

    /// The runtime settings every consumer starts from (poll timeout, retry delays, drain
    /// time); group, topics, DLQ and `attempts_max` come from the spec and the consumer.
    pub fn with_runtime(mut self, runtime: RuntimeConfig) -> Self {
        self.runtime = runtime;
        self
    }

    fn topic_config(&self, topic: &str, retention_seconds: u32) -> TopicConfig {
        let partitions = self
            .partitions
            .get(topic)
            .copied()
            .unwrap_or(self.partitions_default);
        let mut config = TopicConfig::with_partitions(partitions);
        config.retention_ms = Some(u64::from(retention_seconds) * 1_000);
        config
    }

    /// Creates `topic`, or checks an existing one against `wanted`.
    async fn ensure_topic(&self, topic: &str, wanted: TopicConfig) -> Result<(), BusError> {
        match self.bus.describe_topic(topic).await {
            Ok(existing) => compare_topic(topic, &existing.config, &wanted),
            Err(BusError::UnknownTopic(_)) => {
                self.bus.create_topic(topic, wanted).await.map(|_| ())
            }
            Err(error) => Err(error),
        }
    }
}

/// The first setting of `found` that differs from `wanted`, as a mismatch of `queue`.
fn compare_topic(queue: &str, found: &TopicConfig, wanted: &TopicConfig) -> Result<(), BusError> {
    let show = |ms: Option<u64>| ms.map_or_else(|| "forever".to_owned(), |ms| ms.to_string());
    let differences = [
        (
            "partitions",
            found.partitions.to_string(),
            wanted.partitions.to_string(),
        ),
        (
            "retention_ms",
            show(found.retention_ms),
            show(wanted.retention_ms),
        ),
    ];
    match differences.into_iter().find(|(_, f, w)| f != w) {
        None => Ok(()),
        Some((setting, found, wanted)) => Err(BusError::QueueConfigMismatch {
            queue: queue.to_owned(),
            setting: setting.to_owned(),
            found,
            wanted,
        }),
    }
}

#[async_trait]
impl Queues for BusQueues {
    async fn ensure(&self, spec: &QueueSpec) -> Result<(), BusError> {
        if let Some(dlq) = &spec.dead_letter {
            let config = self.topic_config(&dlq.name, dlq.retention_seconds);
            self.ensure_topic(&dlq.name, config).await?;
        }
        let config = self.topic_config(&spec.name, spec.retention_seconds);
        self.ensure_topic(&spec.name, config).await
    }

    async fn send(&self, queue: &str, records: Vec<Record>) -> Result<Vec<String>, BusError> {
        let deliveries = self.bus.produce(queue, records).await?;
        Ok(deliveries
            .iter()
            .map(|d| format!("{queue}/{}@{}", d.partition, d.offset))
            .collect())
    }

    async fn consume(
        &self,
        spec: &QueueSpec,
        consumer: QueueConsumer,
        shutdown: Shutdown,
    ) -> Result<Consuming, RuntimeError> {
        let dlq = spec.dead_letter_or_refuse()?;
        let mut config = self.runtime.clone();
        config.consumer = ConsumerConfig {
            group: consumer.group.clone(),
            topics: vec![spec.name.clone()],
            ..config.consumer
        };
        config.dlq = DlqRouting::to_topic(dlq.name.clone());
        config.retry.attempts_max = dlq.receive_count_max;
        let runtime =
            ConsumerRuntime::new(Arc::clone(&self.bus), config, PerMessage(consumer.handler));
        let stats = runtime.stats();
        let stop = shutdown.clone();
        let worker = tokio::spawn(async move { runtime.run(signalled(stop)).await.map(|_| ()) });
        let tracker = tokio::spawn(track_dead_letters(
            Arc::clone(&self.bus),
            dlq.name.clone(),
            consumer.dead_letter_group,
            consumer.on_dead_letter,
            shutdown,
        ));
        let task = tokio::spawn(async move {
            let (worker, tracker) = futures::join!(worker, tracker);
            let joined = |r: Result<Result<(), RuntimeError>, tokio::task::JoinError>| {
                r.map_err(|e| RuntimeError::Config(format!("consumer task: {e}")))?
            };
            joined(worker).and(joined(tracker))
        });
        Ok((task, stats))
    }

    fn backend_name(&self) -> &'static str {
        "bus"
    }
}

/// Longest wait of one poll of the DLQ reader.
const DLQ_POLL_TIMEOUT: Duration = Duration::from_millis(200);
/// Messages read per poll of the DLQ reader.
const DLQ_POLL_RECORDS_MAX: usize = 100;

/// Reads `dlq_topic` in `group` and calls `on_dead_letter` for every dead letter, then
/// commits. Not through the runtime: it needs a DLQ for every topic it reads, and a DLQ of
/// the DLQ has no use, since `on_dead_letter` cannot fail in a retryable way.
async fn track_dead_letters(
    bus: Arc<dyn Bus>,
    dlq_topic: String,
    group: String,
    on_dead_letter: OnDeadLetter,
    shutdown: Shutdown,
) -> Result<(), RuntimeError> {
    let mut config = ConsumerConfig::new(group, vec![dlq_topic]);
    config.poll_records_max = DLQ_POLL_RECORDS_MAX;
    let mut consumer = bus.consumer(config).await?;
    let stop = signalled(shutdown);
    tokio::pin!(stop);
    loop {
        let messages = tokio::select! {
            () = &mut stop => break,
            polled = consumer.poll(DLQ_POLL_TIMEOUT) => polled?,
        };
        let mut positions = BTreeMap::new();
        for message in &messages {
            match DlqEntry::parse(message) {
                Ok(entry) => on_dead_letter(dead_letter_of(entry)).await,
                Err(error) => tracing::warn!(%error, "not a DLQ entry; skipped"),
            }
            positions.insert(message.topic_partition(), message.offset + 1);
        }
        if positions.is_empty() {
            continue;
        }
        match consumer.commit(&positions).await {
            Ok(()) | Err(BusError::NotAssigned { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    consumer.close().await.map_err(RuntimeError::from)
}

fn dead_letter_of(entry: DlqEntry) -> DeadLetter {
    DeadLetter {
        queue: entry.origin_topic,
        key: entry.key,
        value: entry.value,
        headers: entry.headers,
        reason: entry.error,
        attempts: entry.attempts,
        message_id: None,
    }
}
