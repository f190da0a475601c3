//! The Kafka backend of the bus port (the `kafka` profile), over librdkafka (`rdkafka`).
//!
//! Owns: the librdkafka clients of one [`KafkaBus`] (an idempotent producer, an admin
//! client, one consumer per [`Consumer`] handed out), the mapping of the port's vocabulary
//! onto Kafka's, and the mapping of librdkafka errors onto [`BusError`]. It knows nothing of
//! the events it carries, and uses only standard client settings and admin APIs so that it
//! works against Apache Kafka itself (and tansu, the light broker the tests start).
//!
//! Choices (see `docs/adr/015-kafka-backend.md`):
//! - partitions are chosen here, not by librdkafka: a keyed record goes to
//!   [`partition_for_key`] (Kafka's murmur2, the embedded profile's function), a keyless one
//!   to the embedded profile's sticky-per-call round robin; the partition count is cached
//!   per topic from metadata;
//! - the producer is idempotent with `acks=all`; `produce` enqueues every record in order and
//!   returns once every one is acknowledged;
//! - consumers never commit on their own (`enable.auto.commit=false`,
//!   `enable.auto.offset.store=false`): the runtime commits its watermark synchronously;
//! - every blocking librdkafka call runs under `spawn_blocking` with a bounded timeout.
//!
//! librdkafka properties: [`KafkaConfig::properties`] are passed verbatim to every client and
//! override the defaults listed in [`PRODUCER_DEFAULTS`] and [`CONSUMER_DEFAULTS`].

mod consumer;
mod reader;
pub mod testing;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use rdkafka::ClientConfig;
use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::message::{Header, OwnedHeaders};
use rdkafka::producer::{FutureProducer, FutureRecord, Producer as _};
use rdkafka::{Offset, TopicPartitionList};

pub use consumer::KafkaConsumer;

use crate::log::validate_topic_name;
use crate::partitioner::{KeylessPartitioner, partition_for_key};
use crate::port::{
    Admin, Bus, BusError, Consumer, ConsumerConfig, Created, Delivery, PARTITIONS_MAX,
    PartitionInfo, PartitionLag, PartitionRead, Producer, ReadBatch, Record, TopicConfig,
    TopicDescription,
};

/// Defaults of the producer, overridden by [`KafkaConfig::properties`].
///
/// `compression.type=lz4`: cheap on CPU (the broker and the services share few cores in the
/// target deployments) and a good ratio on JSON/Avro events; `none` is one property away.
pub const PRODUCER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.idempotence", "true"),
    ("acks", "all"),
    ("compression.type", "lz4"),
    ("linger.ms", "5"),
    // A produce call returns (with an error) within this bound even if the broker is gone.
    ("message.timeout.ms", "30000"),
    ("allow.auto.create.topics", "false"),
];

/// Defaults of every consumer, overridden by [`KafkaConfig::properties`]. The group, the
/// offset reset, the session timeout and the poll interval come from [`ConsumerConfig`].
pub const CONSUMER_DEFAULTS: &[(&str, &str)] = &[
    ("enable.auto.commit", "false"),
    ("enable.auto.offset.store", "false"),
    ("enable.partition.eof", "false"),
    ("allow.auto.create.topics", "false"),
    // Incremental rebalances: only the partitions that move are revoked, so a member keeps
    // its in-flight work on the others (as the embedded backend's cooperative hand-over).
    ("partition.assignment.strategy", "cooperative-sticky"),
];

/// Bound of every admin and metadata call.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(15);
/// How long `create_topic` waits for a new topic to show in metadata.
const CREATE_VISIBLE_TIMEOUT: Duration = Duration::from_secs(10);

/// Where the brokers are and how the clients are configured (`[kafka]` in the platform's
/// configuration).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KafkaConfig {
    /// `bootstrap.servers`: `host:port[,host:port...]`.
    pub brokers: String,
    /// `client.id` of every client (consumers add nothing: the group identifies them).
    pub client_id: String,
    /// librdkafka properties, verbatim (`kafka.*` in the configuration), given to every
    /// client and overriding [`PRODUCER_DEFAULTS`] and [`CONSUMER_DEFAULTS`].
    /// `bootstrap.servers` and `group.id` may not be set here (they come from `brokers` and
    /// the consumer's group); a consumer's `auto.offset.reset` comes from its
    /// [`ConsumerConfig`], and so do `session.timeout.ms` (its `session_timeout`),
    /// `heartbeat.interval.ms` (a third of it) and `max.poll.interval.ms` unless set here.
    pub properties: BTreeMap<String, String>,
}

impl KafkaConfig {
    pub fn new(brokers: impl Into<String>) -> Self {
        Self {
            brokers: brokers.into(),
            client_id: "edalab".to_owned(),
            properties: BTreeMap::new(),
        }
    }

    pub fn with_property(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.properties.insert(name.into(), value.into());
        self
    }

    /// Checks the fields and each property on its own, so an error names the bad one.
    fn validate(&self) -> Result<(), BusError> {
        if self.brokers.trim().is_empty() {
            return Err(BusError::Backend(
                "kafka configuration: `brokers` is empty (expected host:port[,host:port...])"
                    .to_owned(),
            ));
        }
        for reserved in ["bootstrap.servers", "group.id"] {
            if self.properties.contains_key(reserved) {
                return Err(BusError::Backend(format!(
                    "kafka property `{reserved}` is set from the configuration (brokers, consumer group); remove it from the properties"
                )));
            }
        }
        for (name, value) in &self.properties {
            let mut one = ClientConfig::new();
            one.set(name, value);
            one.create_native_config().map_err(|e| {
                BusError::Backend(format!(
                    "kafka property `{name}` = `{value}` is not accepted by librdkafka: {e}"
                ))
            })?;
        }
        Ok(())
    }

    /// A client configuration: brokers, client id, `defaults`, then the properties.
    fn client_config(&self, defaults: &[(&str, &str)]) -> ClientConfig {
        let mut config = ClientConfig::new();
        config
            .set("bootstrap.servers", &self.brokers)
            .set("client.id", &self.client_id);
        for (name, value) in defaults {
            config.set(*name, *value);
        }
        for (name, value) in &self.properties {
            config.set(name, value);
        }
        config
    }

    /// `message.max.bytes` as configured (librdkafka's default otherwise), for error messages.
    fn message_bytes_max(&self) -> usize {
        self.properties
            .get("message.max.bytes")
            .and_then(|v| v.parse().ok())
            .unwrap_or(1_000_000)
    }
}

/// What the producer keeps per topic: its partition count and the keyless round robin.
struct TopicMeta {
    partitions: u32,
    keyless: KeylessPartitioner,
}

struct Inner {
    config: KafkaConfig,
    producer: FutureProducer,
    admin: AdminClient<DefaultClientContext>,
    topics: Mutex<HashMap<String, Arc<TopicMeta>>>,
    /// The group-less consumer of `read_partition`, created at the first read.
    reader: Mutex<Option<Arc<reader::Reader>>>,
}

/// The Kafka backend. Cheap to clone (an `Arc` inside); clones share the clients.
#[derive(Clone)]
pub struct KafkaBus {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for KafkaBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaBus")
            .field("brokers", &self.inner.config.brokers)
            .field("client_id", &self.inner.config.client_id)
            .finish_non_exhaustive()
    }
}

impl KafkaBus {
    /// Builds the producer and admin clients. Connects lazily: a wrong broker address shows
    /// at the first call (bounded by its timeout), a bad property here.
    pub fn new(config: KafkaConfig) -> Result<Self, BusError> {
        config.validate()?;
        let producer: FutureProducer = config
            .client_config(PRODUCER_DEFAULTS)
            .create()
            .map_err(|e| BusError::Backend(format!("cannot create the kafka producer: {e}")))?;
        let admin: AdminClient<DefaultClientContext> = config
            .client_config(&[])
            .create()
            .map_err(|e| BusError::Backend(format!("cannot create the kafka admin client: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                producer,
                admin,
                topics: Mutex::new(HashMap::new()),
                reader: Mutex::new(None),
            }),
        })
    }

    pub fn config(&self) -> &KafkaConfig {
        &self.inner.config
    }

    /// Waits until every produced record is acknowledged (or `timeout`).
    pub async fn flush(&self, timeout: Duration) -> Result<(), BusError> {
        let inner = self.inner.clone();
        blocking(move || inner.producer.flush(timeout))
            .await?
            .map_err(|e| BusError::Backend(format!("kafka producer flush: {e}")))
    }

    /// Partition count of `topic` (cached), [`BusError::UnknownTopic`] if it does not exist.
    async fn topic_meta(&self, topic: &str) -> Result<Arc<TopicMeta>, BusError> {
        if let Some(meta) = lock(&self.inner.topics).get(topic) {
            return Ok(meta.clone());
        }
        let partitions = self.partition_count(topic).await?;
        let meta = Arc::new(TopicMeta {
            partitions,
            keyless: KeylessPartitioner::default(),
        });
        lock(&self.inner.topics)
            .entry(topic.to_owned())
            .or_insert(meta.clone());
        Ok(meta)
    }

    fn forget_topic(&self, topic: &str) {
        lock(&self.inner.topics).remove(topic);
    }

    /// Partition count of `topic` from fresh metadata.
    async fn partition_count(&self, topic: &str) -> Result<u32, BusError> {
        let inner = self.inner.clone();
        let name = topic.to_owned();
        blocking(move || inner.partition_count_blocking(&name)).await?
    }
}

impl Inner {
    /// The reader of `read_partition`, created at the first call (blocking).
    fn reader(&self) -> Result<Arc<reader::Reader>, BusError> {
        let mut slot = lock(&self.reader);
        if let Some(reader) = slot.as_ref() {
            return Ok(Arc::clone(reader));
        }
        let reader = Arc::new(reader::Reader::new(&self.config)?);
        *slot = Some(Arc::clone(&reader));
        Ok(reader)
    }

    fn partition_count_blocking(&self, topic: &str) -> Result<u32, BusError> {
        let metadata = self
            .producer
            .client()
            .fetch_metadata(Some(topic), OPERATION_TIMEOUT)
            .map_err(|e| BusError::Backend(format!("kafka metadata of topic `{topic}`: {e}")))?;
        let Some(t) = metadata.topics().iter().find(|t| t.name() == topic) else {
            return Err(BusError::UnknownTopic(topic.to_owned()));
        };
        match t.error() {
            None if !t.partitions().is_empty() => Ok(t.partitions().len() as u32),
            None => Err(BusError::UnknownTopic(topic.to_owned())),
            Some(e) => match RDKafkaErrorCode::from(e) {
                RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic => {
                    Err(BusError::UnknownTopic(topic.to_owned()))
                }
                code => Err(BusError::Backend(format!(
                    "kafka metadata of topic `{topic}`: {code}"
                ))),
            },
        }
    }

    /// Every non-internal topic and its partition count.
    fn topics_blocking(&self) -> Result<BTreeMap<String, u32>, BusError> {
        let metadata = self
            .producer
            .client()
            .fetch_metadata(None, OPERATION_TIMEOUT)
            .map_err(|e| BusError::Backend(format!("kafka metadata: {e}")))?;
        Ok(metadata
            .topics()
            .iter()
            .filter(|t| t.error().is_none() && !t.name().starts_with("__"))
            .map(|t| (t.name().to_owned(), t.partitions().len() as u32))
            .collect())
    }

    /// `(log start, high watermark)` of each partition.
    fn watermarks_blocking(
        &self,
        topic: &str,
        partitions: u32,
    ) -> Result<Vec<(u64, u64)>, BusError> {
        (0..partitions)
            .map(|p| {
                let (low, high) = self
                    .producer
                    .client()
                    .fetch_watermarks(topic, p as i32, OPERATION_TIMEOUT)
                    .map_err(|e| {
                        BusError::Backend(format!(
                            "kafka watermarks of `{topic}` partition {p}: {e}"
                        ))
                    })?;
                Ok((low.max(0) as u64, high.max(0) as u64))
            })
            .collect()
    }
}

#[async_trait]
impl Admin for KafkaBus {
    async fn create_topic(&self, name: &str, config: TopicConfig) -> Result<Created, BusError> {
        validate_topic_name(name)?;
        if config.partitions == 0 || config.partitions > PARTITIONS_MAX {
            return Err(BusError::InvalidPartitionCount(config.partitions));
        }
        let retention_ms = config
            .retention_ms
            .map_or("-1".to_owned(), |v| v.to_string());
        let retention_bytes = config
            .retention_bytes
            .map_or("-1".to_owned(), |v| v.to_string());
        let topic = NewTopic::new(
            name,
            config.partitions as i32,
            // The broker's `default.replication.factor` (KIP-464).
            TopicReplication::Fixed(-1),
        )
        .set("retention.ms", &retention_ms)
        .set("retention.bytes", &retention_bytes)
        .set("compression.type", &config.compression)
        .set("cleanup.policy", &config.cleanup_policy);
        let results = self
            .inner
            .admin
            .create_topics([&topic], &admin_options())
            .await
            .map_err(|e| BusError::Backend(format!("kafka create topic `{name}`: {e}")))?;
        match results.into_iter().next() {
            Some(Ok(_)) => {
                self.forget_topic(name);
                self.wait_visible(name, config.partitions).await?;
                Ok(Created::New)
            }
            Some(Err((_, RDKafkaErrorCode::TopicAlreadyExists))) => {
                let existing = self.describe_topic(name).await?;
                same_config(
                    name,
                    &existing.config,
                    &config,
                    self.configs_described(name).await?,
                )
                .map(|()| Created::AlreadyExists)
            }
            Some(Err((_, RDKafkaErrorCode::InvalidPartitions))) => {
                Err(BusError::InvalidPartitionCount(config.partitions))
            }
            Some(Err((_, RDKafkaErrorCode::InvalidTopic))) => Err(BusError::InvalidTopicName {
                name: name.to_owned(),
                reason: "refused by the broker".to_owned(),
            }),
            Some(Err((_, code))) => Err(BusError::Backend(format!(
                "kafka create topic `{name}`: {code}"
            ))),
            None => Err(BusError::Backend(format!(
                "kafka create topic `{name}`: the broker returned no result"
            ))),
        }
    }

    async fn describe_topic(&self, name: &str) -> Result<TopicDescription, BusError> {
        let inner = self.inner.clone();
        let topic = name.to_owned();
        let (partitions, marks) = blocking(move || {
            let partitions = inner.partition_count_blocking(&topic)?;
            let marks = inner.watermarks_blocking(&topic, partitions)?;
            Ok::<_, BusError>((partitions, marks))
        })
        .await??;
        // A broker that refuses DescribeConfigs (an ACL, an old or partial implementation)
        // still has partitions and watermarks to report.
        let described = match self.topic_configs(name).await {
            Ok(described) => described,
            Err(BusError::UnknownTopic(t)) => return Err(BusError::UnknownTopic(t)),
            Err(error) => {
                tracing::warn!(%error, topic = name, "topic settings not described; Kafka's defaults reported");
                BTreeMap::new()
            }
        };
        let mut config = TopicConfig::with_partitions(partitions);
        // Not described (tansu 0.6 answers DescribeConfigs with no entries): Kafka's
        // defaults for a topic created by `create_topic` with no retention.
        config.compression = "producer".to_owned();
        if let Some(v) = described.get("retention.ms") {
            config.retention_ms = parse_limit(v);
        }
        if let Some(v) = described.get("retention.bytes") {
            config.retention_bytes = parse_limit(v);
        }
        if let Some(v) = described.get("compression.type") {
            config.compression = v.clone();
        }
        if let Some(v) = described.get("cleanup.policy") {
            config.cleanup_policy = v.clone();
        }
        Ok(TopicDescription {
            name: name.to_owned(),
            config,
            partitions: marks
                .into_iter()
                .enumerate()
                .map(|(p, (low, high))| PartitionInfo {
                    partition: p as u32,
                    log_start_offset: low,
                    high_watermark: high,
                    // Kafka reports sizes through DescribeLogDirs, which librdkafka lacks.
                    size_bytes: 0,
                })
                .collect(),
        })
    }

    async fn list_topics(&self) -> Result<Vec<String>, BusError> {
        let inner = self.inner.clone();
        Ok(blocking(move || inner.topics_blocking())
            .await??
            .into_keys()
            .collect())
    }

    async fn delete_topic(&self, name: &str) -> Result<(), BusError> {
        self.forget_topic(name);
        let results = self
            .inner
            .admin
            .delete_topics(&[name], &admin_options())
            .await
            .map_err(|e| BusError::Backend(format!("kafka delete topic `{name}`: {e}")))?;
        match results.into_iter().next() {
            Some(Ok(_)) => Ok(()),
            Some(Err((
                _,
                RDKafkaErrorCode::UnknownTopicOrPartition | RDKafkaErrorCode::UnknownTopic,
            ))) => Err(BusError::UnknownTopic(name.to_owned())),
            Some(Err((_, code))) => Err(BusError::Backend(format!(
                "kafka delete topic `{name}`: {code}"
            ))),
            None => Err(BusError::Backend(format!(
                "kafka delete topic `{name}`: the broker returned no result"
            ))),
        }
    }

    async fn group_lag(&self, group: &str) -> Result<Vec<PartitionLag>, BusError> {
        let inner = self.inner.clone();
        let group = group.to_owned();
        blocking(move || inner.group_lag_blocking(&group)).await?
    }

    async fn list_groups(&self) -> Result<Vec<String>, BusError> {
        let inner = self.inner.clone();
        blocking(move || {
            let list = inner
                .producer
                .client()
                .fetch_group_list(None, OPERATION_TIMEOUT)
                .map_err(|e| BusError::Backend(format!("kafka list groups: {e}")))?;
            let names: BTreeSet<String> =
                list.groups().iter().map(|g| g.name().to_owned()).collect();
            Ok(names.into_iter().collect())
        })
        .await?
    }
}

impl Inner {
    /// Committed offsets of `group` on every partition of the topics it reads (its members'
    /// subscriptions) or has positions on, against the high watermarks.
    fn group_lag_blocking(&self, group: &str) -> Result<Vec<PartitionLag>, BusError> {
        let topics = self.topics_blocking()?;
        let mut tpl = TopicPartitionList::new();
        for (topic, partitions) in &topics {
            for p in 0..*partitions {
                tpl.add_partition(topic, p as i32);
            }
        }
        // A consumer that never subscribes does not join the group: it only reads the
        // group's committed offsets (OffsetFetch).
        let reader: BaseConsumer = self
            .config
            .client_config(CONSUMER_DEFAULTS)
            .set("group.id", group)
            .create()
            .map_err(|e| BusError::Backend(format!("kafka offsets reader of `{group}`: {e}")))?;
        let committed = reader
            .committed_offsets(tpl, OPERATION_TIMEOUT)
            .map_err(|e| {
                BusError::Backend(format!("kafka committed offsets of group `{group}`: {e}"))
            })?;
        drop(reader);
        let mut positions: BTreeMap<(String, u32), u64> = BTreeMap::new();
        for e in committed.elements() {
            if let Offset::Offset(o) = e.offset() {
                positions.insert(
                    (e.topic().to_owned(), e.partition() as u32),
                    o.max(0) as u64,
                );
            }
        }
        let mut read: BTreeSet<String> = positions.keys().map(|(t, _)| t.clone()).collect();
        if let Ok(list) = self
            .producer
            .client()
            .fetch_group_list(Some(group), OPERATION_TIMEOUT)
        {
            for g in list.groups() {
                for m in g.members() {
                    if let Some(meta) = m.metadata() {
                        read.extend(subscription_topics(meta));
                    }
                }
            }
        }
        let mut out = Vec::new();
        for topic in read {
            let Some(partitions) = topics.get(&topic) else {
                continue;
            };
            let marks = self.watermarks_blocking(&topic, *partitions)?;
            for (p, (start, hw)) in marks.into_iter().enumerate() {
                let committed = positions.get(&(topic.clone(), p as u32)).copied();
                out.push(PartitionLag {
                    topic: topic.clone(),
                    partition: p as u32,
                    committed,
                    high_watermark: hw,
                    lag: hw.saturating_sub(committed.unwrap_or(start).max(start)),
                });
            }
        }
        Ok(out)
    }
}

impl KafkaBus {
    /// Waits until metadata shows `name` with its partitions (a produce right after a create
    /// then finds it).
    async fn wait_visible(&self, name: &str, partitions: u32) -> Result<(), BusError> {
        let deadline = Instant::now() + CREATE_VISIBLE_TIMEOUT;
        loop {
            match self.partition_count(name).await {
                Ok(n) if n == partitions => return Ok(()),
                Ok(_) | Err(BusError::UnknownTopic(_)) if Instant::now() < deadline => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Ok(n) => {
                    return Err(BusError::Backend(format!(
                        "kafka topic `{name}` created with {partitions} partitions shows {n}"
                    )));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The topic's configuration as the broker describes it (empty when it does not).
    async fn topic_configs(&self, name: &str) -> Result<BTreeMap<String, String>, BusError> {
        let resource = ResourceSpecifier::Topic(name);
        let results = self
            .inner
            .admin
            .describe_configs([&resource], &admin_options())
            .await
            .map_err(|e| BusError::Backend(format!("kafka describe configs of `{name}`: {e}")))?;
        let mut out = BTreeMap::new();
        for r in results {
            match r {
                Ok(resource) => {
                    for entry in resource.entries {
                        if let Some(v) = entry.value {
                            out.insert(entry.name, v);
                        }
                    }
                }
                Err(RDKafkaErrorCode::UnknownTopicOrPartition) => {
                    return Err(BusError::UnknownTopic(name.to_owned()));
                }
                Err(code) => {
                    return Err(BusError::Backend(format!(
                        "kafka describe configs of `{name}`: {code}"
                    )));
                }
            }
        }
        Ok(out)
    }

    /// Which settings the broker describes for `name` (the others cannot be compared).
    async fn configs_described(&self, name: &str) -> Result<BTreeSet<String>, BusError> {
        Ok(self.topic_configs(name).await?.into_keys().collect())
    }
}

#[async_trait]
impl Producer for KafkaBus {
    async fn produce(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Delivery>, BusError> {
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let meta = self.topic_meta(topic).await?;
        let keyless = records
            .iter()
            .any(|r| r.key.is_none() && r.partition.is_none())
            .then(|| meta.keyless.next_partition(meta.partitions));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut pending = Vec::with_capacity(records.len());
        for r in &records {
            let partition = match (r.partition, &r.key) {
                (Some(p), _) if p >= meta.partitions => {
                    return Err(BusError::UnknownPartition {
                        topic: topic.to_owned(),
                        partition: p,
                        partitions: meta.partitions,
                    });
                }
                (Some(p), _) => p,
                (None, Some(key)) => partition_for_key(key, meta.partitions),
                (None, None) => keyless.unwrap_or(0),
            };
            let mut record = FutureRecord::<[u8], [u8]>::to(topic)
                .payload(r.value.as_slice())
                .partition(partition as i32);
            if let Some(key) = &r.key {
                record = record.key(key.as_slice());
            }
            if let Some(ts) = r.timestamp_ms {
                record = record.timestamp(ts);
            }
            if !r.headers.is_empty() {
                let mut headers = OwnedHeaders::new_with_capacity(r.headers.len());
                for (name, value) in &r.headers {
                    headers = headers.insert(Header {
                        key: name,
                        value: Some(value.as_slice()),
                    });
                }
                record = record.headers(headers);
            }
            // Enqueue in order: on a full local queue, wait and retry the same record.
            loop {
                match self.inner.producer.send_result(record) {
                    Ok(delivery) => {
                        pending.push(delivery);
                        break;
                    }
                    Err((KafkaError::MessageProduction(RDKafkaErrorCode::QueueFull), back))
                        if Instant::now() < deadline =>
                    {
                        record = back;
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    Err((error, _)) => return Err(self.produce_error(topic, r, error)),
                }
            }
        }
        let mut out = Vec::with_capacity(pending.len());
        for (delivery, r) in pending.into_iter().zip(&records) {
            match delivery.await {
                Ok(Ok(d)) => out.push(Delivery {
                    partition: d.partition as u32,
                    offset: d.offset.max(0) as u64,
                }),
                Ok(Err((error, _))) => return Err(self.produce_error(topic, r, error)),
                Err(_canceled) => return Err(BusError::Closed),
            }
        }
        Ok(out)
    }
}

impl KafkaBus {
    fn produce_error(&self, topic: &str, record: &Record, error: KafkaError) -> BusError {
        match error.rdkafka_error_code() {
            Some(
                RDKafkaErrorCode::UnknownTopicOrPartition
                | RDKafkaErrorCode::UnknownTopic
                | RDKafkaErrorCode::UnknownPartition,
            ) => {
                self.forget_topic(topic);
                BusError::UnknownTopic(topic.to_owned())
            }
            Some(RDKafkaErrorCode::MessageSizeTooLarge) => BusError::MessageTooLarge {
                size_bytes: record.key.as_ref().map_or(0, Vec::len)
                    + record.value.len()
                    + record
                        .headers
                        .iter()
                        .map(|(n, v)| n.len() + v.len())
                        .sum::<usize>(),
                limit_bytes: self.inner.config.message_bytes_max(),
            },
            _ => BusError::Backend(format!("kafka produce to `{topic}`: {error}")),
        }
    }
}

#[async_trait]
impl Bus for KafkaBus {
    async fn consumer(&self, config: ConsumerConfig) -> Result<Box<dyn Consumer>, BusError> {
        if config.group.is_empty() {
            return Err(BusError::Backend(
                "a consumer group needs a non-empty name".to_owned(),
            ));
        }
        if config.poll_records_max == 0 {
            return Err(BusError::Backend(
                "poll_records_max must be at least 1".to_owned(),
            ));
        }
        if config.topics.is_empty() {
            return Err(BusError::Backend(format!(
                "consumer of group `{}` has no topic",
                config.group
            )));
        }
        for topic in &config.topics {
            self.topic_meta(topic).await?;
        }
        let kafka = self.inner.config.clone();
        Ok(Box::new(
            blocking(move || KafkaConsumer::join(&kafka, config)).await??,
        ))
    }

    async fn read_partition(&self, read: &PartitionRead) -> Result<ReadBatch, BusError> {
        // The cached count (as produce uses): a follow reads every partition several times
        // a second, and must not fetch metadata each time.
        let partitions = self.topic_meta(&read.topic).await?.partitions;
        if read.partition >= partitions {
            return Err(BusError::UnknownPartition {
                topic: read.topic.clone(),
                partition: read.partition,
                partitions,
            });
        }
        let (inner, read) = (self.inner.clone(), read.clone());
        blocking(move || inner.reader()?.read(&read)).await?
    }

    fn backend_name(&self) -> &'static str {
        "kafka"
    }
}

fn admin_options() -> AdminOptions {
    AdminOptions::new()
        .request_timeout(Some(OPERATION_TIMEOUT))
        .operation_timeout(Some(OPERATION_TIMEOUT))
}

/// `-1` (Kafka's "no limit") → `None`.
fn parse_limit(value: &str) -> Option<u64> {
    value
        .parse::<i64>()
        .ok()
        .and_then(|v| u64::try_from(v).ok())
}

/// Compares an existing topic with a create request, on the partition count and on the
/// settings the broker described.
fn same_config(
    name: &str,
    existing: &TopicConfig,
    requested: &TopicConfig,
    described: BTreeSet<String>,
) -> Result<(), BusError> {
    let mut diffs = Vec::new();
    if existing.partitions != requested.partitions {
        diffs.push(format!(
            "partitions {} (requested {})",
            existing.partitions, requested.partitions
        ));
    }
    if described.contains("retention.ms") && existing.retention_ms != requested.retention_ms {
        diffs.push(format!(
            "retention_ms {:?} (requested {:?})",
            existing.retention_ms, requested.retention_ms
        ));
    }
    if described.contains("retention.bytes")
        && existing.retention_bytes != requested.retention_bytes
    {
        diffs.push(format!(
            "retention_bytes {:?} (requested {:?})",
            existing.retention_bytes, requested.retention_bytes
        ));
    }
    if described.contains("compression.type") && existing.compression != requested.compression {
        diffs.push(format!(
            "compression {} (requested {})",
            existing.compression, requested.compression
        ));
    }
    if described.contains("cleanup.policy") && existing.cleanup_policy != requested.cleanup_policy {
        diffs.push(format!(
            "cleanup_policy {} (requested {})",
            existing.cleanup_policy, requested.cleanup_policy
        ));
    }
    if diffs.is_empty() {
        Ok(())
    } else {
        Err(BusError::TopicConfigMismatch {
            name: name.to_owned(),
            difference: diffs.join(", "),
        })
    }
}

/// Topics of a consumer-protocol subscription (a group member's metadata): `version: i16`,
/// `topics: [string]` (i32 count, each i16 length + UTF-8), then fields not needed here.
fn subscription_topics(metadata: &[u8]) -> Vec<String> {
    fn take<'a>(bytes: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
        if bytes.len() < n {
            return None;
        }
        let (head, tail) = bytes.split_at(n);
        *bytes = tail;
        Some(head)
    }
    let mut rest = metadata;
    let mut out = Vec::new();
    let parse = |rest: &mut &[u8], out: &mut Vec<String>| -> Option<()> {
        take(rest, 2)?;
        let count = i32::from_be_bytes(take(rest, 4)?.try_into().ok()?);
        for _ in 0..count.clamp(0, 10_000) {
            let len = i16::from_be_bytes(take(rest, 2)?.try_into().ok()?);
            let name = take(rest, usize::try_from(len).ok()?)?;
            out.push(String::from_utf8_lossy(name).into_owned());
        }
        Some(())
    };
    // A truncated subscription yields the topics read so far.
    let _ = parse(&mut rest, &mut out);
    out
}

/// Runs a blocking librdkafka call off the async threads.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, BusError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BusError::Backend(format!("kafka client task failed: {e}")))
}

/// Locks a std mutex, recovering from poisoning (the maps stay consistent: every critical
/// section is a single insert, remove or lookup).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
