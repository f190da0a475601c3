//! The profile (ADR 025): the one place that turns the layered configuration into this
//! process's backends — the bus, the work queues, the ledger store and the schema registry —
//! for `embedded` (the durable log and SQLite in the data directory), `kafka` (a
//! Kafka-protocol broker and PostgreSQL) and `aws` (S0/S1/S2's queues on SQS beside either,
//! ADR 026). Every command loads its configuration with [`load_config`] and opens
//! what it needs here, so the same flags and keys (`--profile`, `--brokers`,
//! `--database-url`, `--config`, `EDALAB__…`) select the backends everywhere.
//!
//! The store is chosen by the typed `store.backend` (parsed once by the configuration),
//! never by looking at a URL's prefix; URLs in messages have their password hidden.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::config::{
    ArchiveBackend, AwsConfig, BusBackend, Config, ConfigSources, IntakeBackend, QueuesBackend,
    StoreBackend, TablesBackend,
};
use anyhow::Context;
use clap::{Args, ValueEnum};
use edalab_bus::kafka::{KafkaBus, KafkaConfig};
use edalab_bus::log::EmbeddedBus;
use edalab_bus::{Admin, Bus, BusError, Queues};
use edalab_gateway::dead_letters::DeadLetters;
use edalab_gateway::telemetry::metrics::GaugeSource;
use edalab_schema::SchemaRegistry;
use edalab_services::calculator::CalculationStore;
use edalab_services::intake::IntakeBackends;
use edalab_services::pipeline::{PgStores, PgStoresConfig, StoreChoice};
use edalab_services::transactions::{TransactionArchive, TransactionStore};

/// The flags that choose the profile, accepted by every command (before or after it).
#[derive(Args, Debug, Clone, Default)]
pub struct ProfileArgs {
    /// Configuration file [default: config/local.yaml when it exists]; then
    /// EDALAB__SECTION__KEY environment variables, then the flags.
    #[arg(long, global = true, env = "EDALAB_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// `embedded` (the durable log and SQLite in the data directory), `kafka` (a
    /// Kafka-protocol broker and PostgreSQL: give --brokers and --database-url, or
    /// `bus.brokers` and `store.url`) or `aws` (S0/S1/S2's queues on SQS: give
    /// --aws-endpoint for an emulator) [default: `bus.backend` of the configuration].
    #[arg(long, global = true, value_enum, env = "EDALAB_PROFILE")]
    pub profile: Option<ProfileName>,
    /// Kafka bootstrap servers (`bus.brokers`), with the kafka profile.
    #[arg(
        long,
        global = true,
        env = "EDALAB_BROKERS",
        value_name = "HOST:PORT[,HOST:PORT]"
    )]
    pub brokers: Option<String>,
    /// The PostgreSQL database of every store (`store.url`; sets `store.backend: postgres`).
    #[arg(
        long,
        global = true,
        env = "EDALAB_DATABASE_URL",
        hide_env_values = true,
        value_name = "postgres://USER@HOST/DB"
    )]
    pub database_url: Option<String>,
    /// An AWS emulator's URL for the aws profile's SQS queues (`aws.endpoint_url`); without
    /// it, AWS's own endpoints. Credentials come from the usual AWS chain.
    #[arg(
        long,
        global = true,
        env = "AWS_ENDPOINT_URL",
        value_name = "http://HOST:PORT"
    )]
    pub aws_endpoint: Option<String>,
}

/// Which engines carry the platform.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProfileName {
    /// The embedded durable log and SQLite, in this process: nothing to install.
    Embedded,
    /// A Kafka-protocol broker (librdkafka) and PostgreSQL.
    Kafka,
    /// S0/S1/S2's work queues on SQS (`--aws-endpoint` for an emulator), the topics on the
    /// embedded log (or on Kafka with --brokers), SQLite (or PostgreSQL with
    /// --database-url). Needs a binary built with the `aws` feature.
    Aws,
}

/// Work queues not on the bus, the DLQ routes' view of them, and their gauges.
pub struct OpenQueues {
    pub queues: Arc<dyn Queues>,
    pub dead_letters: Arc<dyn DeadLetters>,
    pub gauges: Arc<dyn GaugeSource>,
}

/// The work queues of S0/S1/S2 (ADR 026): `None` keeps them on the bus (the pipelines'
/// default, `pipeline::bus_queues`; their DLQs are topics of `bus`); with `aws.queues:
/// sqs`, SQS, checked to answer first so that an unreachable endpoint or missing
/// credentials are named at start.
pub async fn open_queues(
    config: &Config,
    bus: &Arc<dyn Bus>,
) -> anyhow::Result<Option<OpenQueues>> {
    match config.aws.queues {
        QueuesBackend::Bus => Ok(None),
        QueuesBackend::Sqs => open_sqs(&config.aws, bus).await.map(Some),
    }
}

/// Time the credentials and SQS have to answer the start-up checks.
#[cfg(feature = "aws")]
const SQS_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The SDK configuration of `aws` (credentials from the AWS chain, checked to be there) and
/// the place errors name.
#[cfg(feature = "aws")]
pub(crate) async fn aws_sdk(
    aws: &AwsConfig,
) -> anyhow::Result<(edalab_aws::client::SdkConfig, String)> {
    let endpoint = Some(aws.endpoint_url.trim()).filter(|url| !url.is_empty());
    let sdk = edalab_aws::client::from_chain(&aws.region, endpoint).await;
    let place = endpoint.map_or_else(
        || format!("AWS in {} (no aws.endpoint_url)", aws.region),
        str::to_owned,
    );
    edalab_aws::client::check_credentials(&sdk, SQS_CHECK_TIMEOUT)
        .await
        .map_err(|reason| anyhow::anyhow!("AWS at {place}: {reason}"))?;
    Ok((sdk, place))
}

/// A setting that needs the `aws` feature, in a binary built without it.
#[cfg(not(feature = "aws"))]
pub(crate) fn needs_aws_feature(setting: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "{setting} (--profile aws) needs a binary built with the `aws` feature: \
         cargo build --release -p edalab --features aws (make build does)"
    )
}

#[cfg(feature = "aws")]
async fn open_sqs(aws: &AwsConfig, bus: &Arc<dyn Bus>) -> anyhow::Result<OpenQueues> {
    let queues = open_sqs_queues(aws).await?;
    Ok(OpenQueues {
        queues: Arc::new(queues.clone()),
        gauges: Arc::new(crate::dlq_sqs::SqsGauges::new(queues.clone())),
        dead_letters: Arc::new(crate::dlq_sqs::SqsDeadLetters::new(queues, Arc::clone(bus))),
    })
}

/// SQS of `aws`, checked to answer (credentials, then one `ListQueues`), recording dead
/// letters' reasons in DynamoDB.
#[cfg(feature = "aws")]
pub async fn open_sqs_queues(aws: &AwsConfig) -> anyhow::Result<edalab_aws::SqsQueues> {
    let (sdk, place) = aws_sdk(aws).await?;
    let queues = edalab_aws::SqsQueues::from_sdk_config(&sdk);
    queues
        .check_reachable(SQS_CHECK_TIMEOUT)
        .await
        .map_err(|reason| anyhow::anyhow!("SQS at {place} (aws.endpoint_url, --aws-endpoint; credentials from the AWS chain): {reason}"))?;
    let reasons = edalab_aws::backends::dead_letter_reasons(&sdk)
        .await
        .map_err(|reason| {
            anyhow::anyhow!(
                "dead letters' reasons on DynamoDB (aws.queues: sqs, at {place}): {reason}"
            )
        })?;
    Ok(queues.with_reasons(reasons))
}

#[cfg(not(feature = "aws"))]
async fn open_sqs(_: &AwsConfig, _: &Arc<dyn Bus>) -> anyhow::Result<OpenQueues> {
    Err(needs_aws_feature("aws.queues: sqs"))
}

/// What S2 is given instead of its local defaults: nothing with `aws.intake: folder`; with
/// `s3`, the bucket's `orders/` prefix, DynamoDB `tp-orders` and CloudWatch counts (created
/// if missing, an existing resource of another shape or an endpoint that does not answer
/// named).
pub async fn open_intake(config: &Config) -> anyhow::Result<IntakeBackends> {
    match config.aws.intake {
        IntakeBackend::Folder => Ok(IntakeBackends::default()),
        IntakeBackend::S3 => open_s3_intake(&config.aws).await,
    }
}

#[cfg(feature = "aws")]
async fn open_s3_intake(aws: &AwsConfig) -> anyhow::Result<IntakeBackends> {
    let (sdk, place) = aws_sdk(aws).await?;
    edalab_aws::backends::intake_backends(&sdk, &aws.bucket, &aws.metrics_namespace)
        .await
        .map_err(|reason| {
            anyhow::anyhow!(
                "S2 on AWS (aws.intake: s3, aws.bucket {}, at {place}): {reason}",
                aws.bucket
            )
        })
}

#[cfg(not(feature = "aws"))]
async fn open_s3_intake(_: &AwsConfig) -> anyhow::Result<IntakeBackends> {
    Err(needs_aws_feature("aws.intake: s3"))
}

/// S1's store when the profile provides one: `None` with `aws.tables: local`; with
/// `dynamodb`, table `edalab-calculations` (created if missing).
pub async fn open_calculations(
    config: &Config,
) -> anyhow::Result<Option<Arc<dyn CalculationStore>>> {
    match config.aws.tables {
        TablesBackend::Local => Ok(None),
        TablesBackend::Dynamodb => open_dynamo_calculations(&config.aws).await.map(Some),
    }
}

#[cfg(feature = "aws")]
async fn open_dynamo_calculations(aws: &AwsConfig) -> anyhow::Result<Arc<dyn CalculationStore>> {
    let (sdk, place) = aws_sdk(aws).await?;
    let store = edalab_aws::backends::calculation_store(&sdk)
        .await
        .map_err(|reason| {
            anyhow::anyhow!("S1 on DynamoDB (aws.tables: dynamodb, at {place}): {reason}")
        })?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "aws"))]
async fn open_dynamo_calculations(_: &AwsConfig) -> anyhow::Result<Arc<dyn CalculationStore>> {
    Err(needs_aws_feature("aws.tables: dynamodb"))
}

/// S0's store when the profile provides one: `None` with `aws.tables: local`; with
/// `dynamodb`, the tables `edalab-transaction*` (created if missing).
pub async fn open_transactions(
    config: &Config,
) -> anyhow::Result<Option<Arc<dyn TransactionStore>>> {
    match config.aws.tables {
        TablesBackend::Local => Ok(None),
        TablesBackend::Dynamodb => open_dynamo_transactions(&config.aws).await.map(Some),
    }
}

#[cfg(feature = "aws")]
async fn open_dynamo_transactions(aws: &AwsConfig) -> anyhow::Result<Arc<dyn TransactionStore>> {
    let (sdk, place) = aws_sdk(aws).await?;
    let store = edalab_aws::backends::transaction_store(&sdk)
        .await
        .map_err(|reason| {
            anyhow::anyhow!("S0 on DynamoDB (aws.tables: dynamodb, at {place}): {reason}")
        })?;
    Ok(Arc::new(store))
}

#[cfg(not(feature = "aws"))]
async fn open_dynamo_transactions(_: &AwsConfig) -> anyhow::Result<Arc<dyn TransactionStore>> {
    Err(needs_aws_feature("aws.tables: dynamodb"))
}

/// S0's archive when the profile provides one: `None` with `aws.archive: folder`; with
/// `s3`, bucket `aws.archive_bucket` (created if missing).
pub async fn open_transaction_archive(
    config: &Config,
) -> anyhow::Result<Option<Arc<dyn TransactionArchive>>> {
    match config.aws.archive {
        ArchiveBackend::Folder => Ok(None),
        ArchiveBackend::S3 => open_s3_archive(&config.aws).await.map(Some),
    }
}

#[cfg(feature = "aws")]
async fn open_s3_archive(aws: &AwsConfig) -> anyhow::Result<Arc<dyn TransactionArchive>> {
    let (sdk, place) = aws_sdk(aws).await?;
    let archive = edalab_aws::backends::transaction_archive(&sdk, &aws.archive_bucket)
        .await
        .map_err(|reason| {
            anyhow::anyhow!(
                "S0's archive on S3 (aws.archive: s3, aws.archive_bucket {}, at {place}): {reason}",
                aws.archive_bucket
            )
        })?;
    Ok(Arc::new(archive))
}

#[cfg(not(feature = "aws"))]
async fn open_s3_archive(_: &AwsConfig) -> anyhow::Result<Arc<dyn TransactionArchive>> {
    Err(needs_aws_feature("aws.archive: s3"))
}

/// Loads the layered configuration (defaults → file → `EDALAB__…` → `--data-dir`, the
/// profile flags, `--listen`). The error names every bad key; `main` prints it and exits
/// non-zero.
pub fn load_config(
    data_dir: Option<&Path>,
    args: &ProfileArgs,
    listen: Option<&str>,
) -> anyhow::Result<Config> {
    let mut sources = ConfigSources::from_process(args.config.clone());
    if let Some(listen) = listen {
        sources = sources.set("server.listen", listen);
    }
    if let Some(dir) = data_dir {
        sources = sources.set("bus.data_dir", dir.display().to_string());
    }
    match args.profile {
        Some(ProfileName::Embedded) => {
            sources = sources
                .set("bus.backend", "embedded")
                .set("store.backend", "sqlite");
        }
        Some(ProfileName::Kafka) => {
            sources = sources
                .set("bus.backend", "kafka")
                .set("store.backend", "postgres");
        }
        Some(ProfileName::Aws) => {
            let topics = if args.brokers.is_some() {
                "kafka"
            } else {
                "embedded"
            };
            sources = sources
                .set("aws.queues", "sqs")
                .set("aws.intake", "s3")
                .set("aws.tables", "dynamodb")
                .set("aws.archive", "s3")
                .set("bus.backend", topics)
                .set("store.backend", "sqlite");
        }
        None => {}
    }
    if let Some(url) = &args.aws_endpoint {
        sources = sources.set("aws.endpoint_url", url);
    }
    if let Some(brokers) = &args.brokers {
        sources = sources.set("bus.brokers", brokers);
    }
    if let Some(url) = &args.database_url {
        sources = sources
            .set("store.backend", "postgres")
            .set("store.url", url);
    }
    Ok(Config::load(&sources)?)
}

/// How a command uses the bus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Produces, consumes or creates: the embedded log is locked by this process, and a
    /// log held by a running platform is refused with a message saying so.
    Write,
    /// Browses: never locks, never writes, works next to a running platform.
    Read,
    /// Writes when the embedded log is free, else reads (it then follows the appends of
    /// the process that holds it).
    WriteOrRead,
}

/// The bus a process runs on.
pub enum OpenBus {
    /// The embedded durable log in the data directory.
    Embedded(EmbeddedBus),
    /// A Kafka-protocol broker.
    Kafka { bus: KafkaBus, brokers: String },
}

/// Time allowed at shutdown for the Kafka producer to deliver what it holds.
const KAFKA_FLUSH_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens the bus of `config` for `access`; `client_id` names this process to a broker.
pub async fn open_bus(config: &Config, access: Access, client_id: &str) -> anyhow::Result<OpenBus> {
    match config.bus.backend {
        BusBackend::Kafka => {
            let properties = config.kafka.flatten().map_err(|p| anyhow::anyhow!("{p}"))?;
            let bus = connect_kafka(&config.bus.brokers, &properties, client_id).await?;
            Ok(OpenBus::Kafka {
                bus,
                brokers: config.bus.brokers.clone(),
            })
        }
        BusBackend::Embedded => open_embedded(config, access).map(OpenBus::Embedded),
    }
}

/// Connects to a Kafka-protocol broker with the `kafka.*` librdkafka properties, and checks
/// that it answers (an unreachable broker fails here, by name, not at the first produce).
async fn connect_kafka(
    brokers: &str,
    properties: &std::collections::BTreeMap<String, String>,
    client_id: &str,
) -> anyhow::Result<KafkaBus> {
    let config = KafkaConfig {
        brokers: brokers.to_owned(),
        client_id: client_id.to_owned(),
        properties: properties.clone(),
    };
    let bus = KafkaBus::new(config)
        .with_context(|| format!("configuring the Kafka client of {brokers}"))?;
    bus.list_topics()
        .await
        .with_context(|| format!("listing the topics of the Kafka brokers {brokers}"))?;
    Ok(bus)
}

/// The embedded log's settings from `bus.*`.
pub fn log_config(config: &Config) -> edalab_bus::log::LogConfig {
    edalab_bus::log::LogConfig {
        fsync: config.bus.fsync,
        retention_bytes_default: Some(config.bus.retention_bytes_default).filter(|b| *b > 0),
        disk_free_bytes_min: config.bus.disk_free_bytes_min,
        ..edalab_bus::log::LogConfig::default()
    }
}

fn open_embedded(config: &Config, access: Access) -> anyhow::Result<EmbeddedBus> {
    let dir = &config.bus.data_dir;
    let settings = log_config(config);
    let opened = match access {
        Access::Read => {
            return EmbeddedBus::open_read_only(dir, settings)
                .with_context(|| format!("opening the bus in {} (read-only)", dir.display()));
        }
        Access::WriteOrRead => EmbeddedBus::open_or_read_only(dir, settings),
        Access::Write => EmbeddedBus::open(dir, settings),
    };
    match opened {
        Err(e @ BusError::Locked { .. }) => Err(anyhow::Error::new(e).context(format!(
            "cannot write to the bus in {}: it is in use (a running `edalab up`?). On the \
             embedded profile one process owns a data directory's bus, so services that share \
             a bus must run in the same process (`edalab up`, `edalab serve ledger simulator \
             ...`); read-only commands (topics list/describe, tail) still work; separate processes \
             need the kafka profile (--profile kafka --brokers HOST:PORT --database-url \
             postgres://...)",
            dir.display()
        ))),
        other => other
            .map_err(|e| crate::repair::explain(e, dir))
            .with_context(|| format!("opening the bus in {}", dir.display())),
    }
}

impl OpenBus {
    pub fn shared(&self) -> Arc<dyn Bus> {
        match self {
            Self::Embedded(bus) => Arc::new(bus.clone()),
            Self::Kafka { bus, .. } => Arc::new(bus.clone()),
        }
    }

    pub fn is_read_only(&self) -> bool {
        match self {
            Self::Embedded(bus) => bus.is_read_only(),
            Self::Kafka { .. } => false,
        }
    }

    /// Embedded: flushes and closes the log; Kafka: delivers what the producer holds.
    pub async fn close(&self) -> Result<(), BusError> {
        match self {
            Self::Embedded(bus) => bus.close().await,
            Self::Kafka { bus, .. } => bus.flush(KAFKA_FLUSH_TIMEOUT).await,
        }
    }

    /// Where the bus is, for humans.
    pub fn location(&self) -> String {
        match self {
            Self::Embedded(bus) => format!("embedded durable log in {}", bus.data_dir().display()),
            Self::Kafka { brokers, .. } => format!("kafka at {brokers}"),
        }
    }

    /// The banner's bus line.
    pub fn describe(&self, config: &Config, topic_count: usize, created: usize) -> String {
        match self {
            Self::Embedded(bus) if bus.is_read_only() => format!(
                "  bus      {} (read-only: this process only forwards), {topic_count} topics",
                self.location()
            ),
            Self::Embedded(_) => format!(
                "  bus      {} (fsync {}), {topic_count} topics ({created} created now)",
                self.location(),
                config.bus.fsync,
            ),
            Self::Kafka { .. } => format!(
                "  bus      {}, {topic_count} topics ({created} created now)",
                self.location()
            ),
        }
    }
}

/// The schema registry a reading command (`tail`, `dlq`) decodes values through: the
/// configured `registry.url`, else the built-in one of the data directory, read-only (a
/// running platform may own it).
pub fn open_registry_reader(config: &Config) -> anyhow::Result<Arc<dyn SchemaRegistry>> {
    if !config.registry.url.trim().is_empty() {
        return edalab_gateway::registry::open(&config.registry, &config.bus.data_dir)
            .context("opening the schema registry");
    }
    let dir = config
        .bus
        .data_dir
        .join(edalab_gateway::registry::DATA_SUBDIR);
    let registry = edalab_schema::LocalRegistry::open_read_only(&dir)
        .with_context(|| format!("opening the schema registry in {}", dir.display()))?;
    Ok(Arc::new(registry))
}

/// Opens the ledger store of `config`: SQLite in the data directory, or PostgreSQL at
/// `store.url` with its pool limits.
pub async fn open_ledger_store(config: &Config) -> anyhow::Result<crate::ledger::OpenStore> {
    match config.store.backend {
        StoreBackend::Sqlite => crate::ledger::OpenStore::sqlite(&config.sqlite_path()).await,
        StoreBackend::Postgres => {
            let mut pg = edalab_store::postgres::PgConfig::new(&config.store.url);
            pg.connections_max = config.store.connections_max;
            pg.acquire_timeout_ms = config.store.acquire_timeout_ms;
            crate::ledger::OpenStore::postgres_with(pg).await
        }
    }
}

/// The pipelines' stores (when `needed`): SQLite files in the data directory, or one
/// PostgreSQL pool (schema `edalab_pipelines`, ADR 017) with `store.backend: postgres`.
pub async fn open_pipeline_stores(config: &Config, needed: bool) -> anyhow::Result<StoreChoice> {
    if !(needed && config.store.backend == StoreBackend::Postgres) {
        return Ok(StoreChoice::Sqlite);
    }
    let mut pg = PgStoresConfig::new(&config.store.url);
    pg.connections_max = config.store.connections_max;
    pg.acquire_timeout_ms = config.store.acquire_timeout_ms;
    let stores = PgStores::connect(&pg)
        .await
        .context("opening the pipelines' PostgreSQL stores")?;
    Ok(StoreChoice::Postgres(stores))
}
