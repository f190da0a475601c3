//! Configuration (S3-03): one typed [`Config`] for the whole process, composed here where
//! the process is assembled from the sections each part owns (the gateway's in
//! `edalab_gateway::config`, the log's fsync policy in `edalab_bus::log`), layered as
//! zero-to-production does it:
//!
//! 1. built-in defaults ([`Config::default`]: the `embedded` profile, `127.0.0.1:8080`);
//! 2. a YAML file (`config/local.yaml` when present, `config/docker.yaml`, or `--config PATH`);
//! 3. environment variables `EDALAB__SECTION__KEY` (`EDALAB__SERVER__LISTEN=0.0.0.0:8080`);
//! 4. command-line overrides (`--listen`, `--data-dir`), applied by the binary.
//!
//! Every section denies unknown fields, and [`Config::validate`] checks what serde cannot.
//! Every problem is reported with the dotted key it concerns
//! (`server.listen: invalid socket address "abc"`), all of them at once, and the process
//! refuses to start. This module reads files and the environment; it never opens sockets.

use std::fmt;
use std::path::{Path, PathBuf};

use edalab_bus::log::FsyncPolicy;
use edalab_gateway::config::{
    GatewayConfig, GatewaySettings, KeyProblem, LogConfig, MetricsConfig, OtlpConfig,
    RegistryConfig, ServerConfig, WsConfig,
};
use edalab_gateway::security::SecurityConfig;
use figment::Figment;
use figment::providers::{Format, Serialized, Yaml};
use serde::{Deserialize, Serialize};

/// Prefix of the environment variables that override configuration keys.
pub const ENV_PREFIX: &str = "EDALAB__";
/// Separator between sections and keys in environment variable names.
pub const ENV_SEPARATOR: &str = "__";
/// The file read when no `--config` is given, if it exists (relative to the working dir).
pub const DEFAULT_FILE: &str = "config/local.yaml";

/// The whole configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub server: ServerConfig,
    pub bus: BusConfig,
    pub store: StoreConfig,
    pub log: LogConfig,
    pub metrics: MetricsConfig,
    pub otlp: OtlpConfig,
    pub ws: WsConfig,
    pub simulator: SimulatorConfig,
    pub gateway: GatewayConfig,
    /// librdkafka properties passed through verbatim with `bus.backend: kafka`
    /// (`kafka: {compression.type: zstd}`, or `EDALAB__KAFKA__COMPRESSION__TYPE=zstd`).
    pub kafka: KafkaProperties,
    pub registry: RegistryConfig,
    /// Tokens, allowed hosts and anti-abuse limits (ADR 018, `docs/security.md`).
    pub security: SecurityConfig,
    /// Where S0/S1/S2's work queues live, and how to reach AWS (ADR 026).
    pub aws: AwsConfig,
}

/// Which bus backend to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BusBackend {
    /// The durable log on local disk, in process.
    #[default]
    Embedded,
    /// A Kafka-protocol broker (`bus.brokers`).
    Kafka,
}

impl BusBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Kafka => "kafka",
        }
    }
}

/// The bus.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BusConfig {
    pub backend: BusBackend,
    /// Where the embedded log (and SQLite) keep their files.
    pub data_dir: PathBuf,
    /// `always` (acknowledged after fdatasync), `interval_ms=N` (fdatasync at most N ms
    /// after the acknowledgement) or `never` (left to the operating system).
    pub fsync: FsyncPolicy,
    /// Kafka bootstrap servers (`host:port,host:port`), with `backend: kafka`.
    pub brokers: String,
    /// Partitions of topics created at start that the seeds do not size.
    pub partitions_default: u32,
    /// Embedded log: size cap of each partition of a topic without its own
    /// `retention_bytes` (0: keep such topics forever).
    pub retention_bytes_default: u64,
    /// Embedded log: appends get 503 while the data directory's file system has less free
    /// space than this (0: no floor); reads, health and the UI keep working.
    pub disk_free_bytes_min: u64,
}

impl Default for BusConfig {
    fn default() -> Self {
        Self {
            backend: BusBackend::Embedded,
            data_dir: PathBuf::from("data"),
            fsync: FsyncPolicy::Always,
            brokers: "127.0.0.1:9092".to_owned(),
            partitions_default: 3,
            retention_bytes_default: 1 << 30,
            disk_free_bytes_min: 256 << 20,
        }
    }
}

impl BusConfig {
    fn problems(&self) -> Vec<KeyProblem> {
        let mut problems = Vec::new();
        if self.data_dir.as_os_str().is_empty() {
            problems.push(("bus.data_dir", "must not be empty".to_owned()));
        }
        if self.fsync == FsyncPolicy::IntervalMs(0) {
            problems.push((
                "bus.fsync",
                "interval_ms must be at least 1 (or use `always` or `never`)".to_owned(),
            ));
        }
        if self.backend == BusBackend::Kafka && self.brokers.trim().is_empty() {
            problems.push(("bus.brokers", "required with backend: kafka".to_owned()));
        }
        if !(1..=edalab_bus::port::PARTITIONS_MAX).contains(&self.partitions_default) {
            problems.push((
                "bus.partitions_default",
                format!("must be between 1 and {}", edalab_bus::port::PARTITIONS_MAX),
            ));
        }
        problems
    }
}

/// Where the work queues of S0, S1 and S2 live (`transactions`, `calculatrice-*`,
/// `tp-orders-queue`, and their DLQs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QueuesBackend {
    /// Topics of the bus, consumed by edalab's runtime (retries and DLQ by edalab).
    #[default]
    Bus,
    /// SQS queues with a redrive policy (the DLQ move is SQS's), polled in process.
    Sqs,
}

/// Where S2's order files come from, and where their outcome is kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum IntakeBackend {
    /// The inbox folder under the data directory; the pipelines' store; Prometheus counts.
    #[default]
    Folder,
    /// The `orders/` prefix of S3 bucket `aws.bucket`; DynamoDB `tp-orders`; CloudWatch
    /// counts in `aws.metrics_namespace` (needs `aws.queues: sqs`).
    S3,
}

/// Where S0/S1 keep their state on the `aws` profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TablesBackend {
    /// The pipelines' store (`store.backend`: SQLite or PostgreSQL).
    #[default]
    Local,
    /// DynamoDB: S1's calculations in `edalab-calculations`.
    Dynamodb,
}

/// Where S0 archives processed transactions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ArchiveBackend {
    /// `<data>/archive/transactions-YYYY-MM-DD.jsonl`.
    #[default]
    Folder,
    /// Bucket `aws.archive_bucket`, one object per transaction under
    /// `archive/transactions/YYYY-MM-DD/`.
    S3,
}

/// The `aws` profile (`--profile aws`): SQS for the work queues and, for S2, S3, DynamoDB and
/// CloudWatch, reached through the usual AWS credential chain (environment, profile files,
/// roles), never credentials in here.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AwsConfig {
    /// `bus` or `sqs`.
    pub queues: QueuesBackend,
    /// `folder` or `s3`.
    pub intake: IntakeBackend,
    /// `local` or `dynamodb`.
    pub tables: TablesBackend,
    /// `folder` or `s3`.
    pub archive: ArchiveBackend,
    /// An emulator's URL (`http://127.0.0.1:4566`); empty: AWS's own endpoints.
    pub endpoint_url: String,
    pub region: String,
    /// The bucket whose `orders/` prefix S2 reads (`aws.intake: s3`).
    pub bucket: String,
    /// The bucket S0 archives processed transactions to (`aws.archive: s3`).
    pub archive_bucket: String,
    /// The CloudWatch namespace of `OrdersProcessed`, `OrdersRejected`, `OrdersDuplicate`.
    pub metrics_namespace: String,
}

impl Default for AwsConfig {
    fn default() -> Self {
        Self {
            queues: QueuesBackend::Bus,
            intake: IntakeBackend::Folder,
            tables: TablesBackend::Local,
            archive: ArchiveBackend::Folder,
            endpoint_url: String::new(),
            region: "us-east-1".to_owned(),
            bucket: "tp-orders".to_owned(),
            archive_bucket: "edalab-archive".to_owned(),
            metrics_namespace: "edalab".to_owned(),
        }
    }
}

/// S3's rule for bucket names, as far as a name alone can tell: 3 to 63 lowercase letters,
/// digits, `-` and `.`, starting and ending with a letter or digit.
fn is_bucket_name(name: &str) -> bool {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    (3..=63).contains(&name.len())
        && name.chars().all(allowed)
        && edge(name.chars().next())
        && edge(name.chars().last())
}

impl AwsConfig {
    fn problems(&self) -> Vec<KeyProblem> {
        let mut problems = Vec::new();
        if self.intake == IntakeBackend::S3 && self.queues != QueuesBackend::Sqs {
            problems.push((
                "aws.intake",
                "s3 needs aws.queues: sqs (S3 notifies an SQS queue)".to_owned(),
            ));
        }
        for (key, bucket) in [
            ("aws.bucket", &self.bucket),
            ("aws.archive_bucket", &self.archive_bucket),
        ] {
            if !is_bucket_name(bucket) {
                problems.push((
                    key,
                    format!("{bucket:?} is not a bucket name (3 to 63 of a-z, 0-9, '-', '.')"),
                ));
            }
        }
        let namespace = &self.metrics_namespace;
        if namespace.is_empty() || namespace.len() > 255 || namespace.starts_with(':') {
            problems.push((
                "aws.metrics_namespace",
                format!("{namespace:?}: 1 to 255 characters, not starting with ':'"),
            ));
        }
        let url = self.endpoint_url.trim();
        let is_http = url.starts_with("http://") || url.starts_with("https://");
        if !(url.is_empty() || is_http) {
            problems.push((
                "aws.endpoint_url",
                format!("{url:?} is not an http:// or https:// URL"),
            ));
        }
        let region_ok = !self.region.is_empty()
            && self
                .region
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !region_ok {
            problems.push((
                "aws.region",
                format!("{:?} is not a region name (like us-east-1)", self.region),
            ));
        }
        problems
    }
}

/// Which store backend to run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreBackend {
    #[default]
    Sqlite,
    Postgres,
}

impl StoreBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
        }
    }
}

/// The store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    pub backend: StoreBackend,
    /// `postgres://user@host/db`; for SQLite a file path, empty meaning
    /// `<bus.data_dir>/ledger.sqlite`.
    pub url: String,
    /// PostgreSQL: connections per pool at most (the ledger and each pipeline have one).
    pub connections_max: u32,
    /// PostgreSQL: time allowed to get a connection from a pool (and to connect at start).
    pub acquire_timeout_ms: u64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            backend: StoreBackend::Sqlite,
            url: String::new(),
            connections_max: 8,
            acquire_timeout_ms: 5_000,
        }
    }
}

impl StoreConfig {
    fn problems(&self) -> Vec<KeyProblem> {
        let mut problems = Vec::new();
        if self.backend == StoreBackend::Postgres && !self.url.starts_with("postgres") {
            problems.push((
                "store.url",
                format!(
                    "{:?} is not a PostgreSQL URL (postgres://user@host/db) as backend: postgres needs",
                    self.url
                ),
            ));
        }
        if self.connections_max == 0 {
            problems.push(("store.connections_max", "must be at least 1".to_owned()));
        }
        if self.acquire_timeout_ms == 0 {
            problems.push(("store.acquire_timeout_ms", "must be at least 1".to_owned()));
        }
        problems
    }
}

/// librdkafka properties (`kafka.*`), kept as written and flattened to dotted names by
/// [`KafkaProperties::flatten`]: YAML may write `compression.type: zstd` or nest
/// `compression: {type: zstd}`; the environment can only nest
/// (`EDALAB__KAFKA__COMPRESSION__TYPE`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct KafkaProperties(pub std::collections::BTreeMap<String, serde_json::Value>);

impl KafkaProperties {
    /// `(librdkafka property, value)` pairs, or the dotted key of the first value that is
    /// not a string, number or boolean.
    pub fn flatten(&self) -> Result<std::collections::BTreeMap<String, String>, Problem> {
        fn walk(
            prefix: &str,
            value: &serde_json::Value,
            out: &mut std::collections::BTreeMap<String, String>,
        ) -> Result<(), Problem> {
            let text = match value {
                serde_json::Value::String(text) => text.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                serde_json::Value::Bool(b) => b.to_string(),
                serde_json::Value::Object(map) => {
                    for (name, inner) in map {
                        walk(&format!("{prefix}.{name}"), inner, out)?;
                    }
                    return Ok(());
                }
                serde_json::Value::Null | serde_json::Value::Array(_) => {
                    return Err(Problem {
                        key: format!("kafka.{prefix}"),
                        message: "must be a string, a number or a boolean (a librdkafka property)"
                            .to_owned(),
                        source: None,
                    });
                }
            };
            out.insert(prefix.to_owned(), text);
            Ok(())
        }
        let mut out = std::collections::BTreeMap::new();
        for (name, value) in &self.0 {
            walk(name, value, &mut out)?;
        }
        Ok(out)
    }
}

/// The traffic simulator (S3-06/07); read by the simulator service.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SimulatorConfig {
    /// Start producing at `edalab up` without a REST call.
    pub autostart: bool,
    /// Scenario started by `autostart`.
    pub scenario: String,
    pub rate_per_second: u32,
    /// 0: run until stopped.
    pub duration_s: u64,
    /// Seed of the simulator's randomness; absent: random, and logged.
    pub seed: Option<u64>,
    /// Highest `rate` a simulation may be started with over the API, events per second
    /// (1..=50 000, the pacer's tested ceiling; ADR 019).
    pub rate_per_second_max: u32,
    /// Longest `duration` a simulation may be started with over the API, seconds
    /// (1..=2 592 000, 30 days; 0 = until stopped stays allowed; ADR 019).
    pub duration_s_max: u64,
}

impl Default for SimulatorConfig {
    fn default() -> Self {
        Self {
            autostart: false,
            scenario: "default".to_owned(),
            rate_per_second: 10,
            duration_s: 0,
            seed: None,
            rate_per_second_max: 10_000,
            duration_s_max: 86_400,
        }
    }
}

impl SimulatorConfig {
    /// Ceiling of `rate_per_second_max`: the rate the pacer is tested to hold.
    pub const RATE_PER_SECOND_MAX_CEILING: u32 = 50_000;
    /// Ceiling of `duration_s_max`: 30 days.
    pub const DURATION_S_MAX_CEILING: u64 = 30 * 24 * 3600;

    /// The limits out of range, and an autostart rate above its limit, by dotted key.
    fn limit_problems(&self) -> Vec<KeyProblem> {
        let mut problems = Vec::new();
        if !(1..=Self::RATE_PER_SECOND_MAX_CEILING).contains(&self.rate_per_second_max) {
            problems.push((
                "simulator.rate_per_second_max",
                format!(
                    "must be within 1..={}, got {}",
                    Self::RATE_PER_SECOND_MAX_CEILING,
                    self.rate_per_second_max
                ),
            ));
        } else if self.rate_per_second > self.rate_per_second_max {
            problems.push((
                "simulator.rate_per_second",
                format!(
                    "{} is above simulator.rate_per_second_max ({})",
                    self.rate_per_second, self.rate_per_second_max
                ),
            ));
        }
        if !(1..=Self::DURATION_S_MAX_CEILING).contains(&self.duration_s_max) {
            problems.push((
                "simulator.duration_s_max",
                format!(
                    "must be within 1..={}, got {}",
                    Self::DURATION_S_MAX_CEILING,
                    self.duration_s_max
                ),
            ));
        } else if self.duration_s > self.duration_s_max {
            problems.push((
                "simulator.duration_s",
                format!(
                    "{} is above simulator.duration_s_max ({})",
                    self.duration_s, self.duration_s_max
                ),
            ));
        }
        problems
    }
}

/// One configuration problem, with the dotted key it is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// `server.listen`; empty for a problem with a whole file.
    pub key: String,
    pub message: String,
    /// Where the bad value came from (`config/local.yaml`, `environment`), when known.
    pub source: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.message)?;
        } else {
            write!(f, "{}: {}", self.key, self.message)?;
        }
        if let Some(source) = &self.source {
            write!(f, " (from {source})")?;
        }
        Ok(())
    }
}

/// The configuration cannot be used; every problem found is listed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    pub problems: Vec<Problem>,
}

impl ConfigError {
    fn one(key: impl Into<String>, message: impl Into<String>, source: Option<String>) -> Self {
        Self {
            problems: vec![Problem {
                key: key.into(),
                message: message.into(),
                source,
            }],
        }
    }

    /// Whether some problem is about `key`.
    pub fn names_key(&self, key: &str) -> bool {
        self.problems.iter().any(|p| p.key == key)
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid configuration: ")?;
        for (i, problem) in self.problems.iter().enumerate() {
            if i > 0 {
                write!(f, "; ")?;
            }
            write!(f, "{problem}")?;
        }
        Ok(())
    }
}

/// Where to read the configuration from. [`ConfigSources::from_process`] is what the binary
/// uses; tests build one with their own environment so that they never touch the process's.
#[derive(Clone, Debug, Default)]
pub struct ConfigSources {
    /// An explicit file (`--config PATH`): must exist.
    pub file: Option<PathBuf>,
    /// Read [`DEFAULT_FILE`] when it exists and no `file` is given.
    pub default_file: Option<PathBuf>,
    /// `(name, value)` pairs; only names starting with [`ENV_PREFIX`] are used.
    pub env: Vec<(String, String)>,
    /// Last layer: `(dotted key, value)` pairs from the command line.
    pub overrides: Vec<(String, String)>,
}

impl ConfigSources {
    /// The process's environment, `config/local.yaml` if present, and `file` if given.
    pub fn from_process(file: Option<PathBuf>) -> Self {
        Self {
            file,
            default_file: Some(PathBuf::from(DEFAULT_FILE)),
            env: std::env::vars()
                .filter(|(name, _)| name.starts_with(ENV_PREFIX))
                .collect(),
            overrides: Vec::new(),
        }
    }

    /// Adds a command-line override of a dotted key.
    pub fn set(mut self, key: &str, value: impl Into<String>) -> Self {
        self.overrides.push((key.to_owned(), value.into()));
        self
    }
}

impl Config {
    /// Reads, merges and validates every layer.
    pub fn load(sources: &ConfigSources) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        let file = match (&sources.file, &sources.default_file) {
            (Some(path), _) => {
                if !path.is_file() {
                    return Err(ConfigError::one(
                        "",
                        format!("configuration file {} does not exist", path.display()),
                        None,
                    ));
                }
                Some(path.clone())
            }
            (None, Some(path)) if path.is_file() => Some(path.clone()),
            (None, _) => None,
        };
        if let Some(path) = &file {
            figment = figment.merge(Yaml::file_exact(path));
        }
        for (name, value) in &sources.env {
            let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let key = env_key(rest);
            if key.is_empty() {
                continue;
            }
            figment = figment.merge(KeyLayer::new(format!("env {name}"), &key, value));
        }
        for (key, value) in &sources.overrides {
            figment = figment.merge(KeyLayer::new(
                format!("command-line override of {key}"),
                key,
                value,
            ));
        }
        let config: Config = figment
            .extract()
            .map_err(|e| from_figment(e, file.as_deref()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks what serde cannot: ranges, formats, combinations. Each section checks
    /// itself (the gateway's in `edalab_gateway::config`), so every bad key is named at once.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut found = self.gateway_settings().problems();
        found.extend(edalab_gateway::config::otlp_problems(&self.otlp));
        found.extend(self.bus.problems());
        found.extend(self.store.problems());
        found.extend(self.aws.problems());
        if self.simulator.rate_per_second == 0 {
            found.push(("simulator.rate_per_second", "must be at least 1".to_owned()));
        }
        found.extend(self.simulator.limit_problems());
        let mut problems: Vec<Problem> = found
            .into_iter()
            .map(|(key, message)| Problem {
                key: key.to_owned(),
                message,
                source: None,
            })
            .collect();
        if let Err(problem) = self.kafka.flatten() {
            problems.push(problem);
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(ConfigError { problems })
        }
    }

    /// The gateway's sections, for `edalab_gateway`.
    pub fn gateway_settings(&self) -> GatewaySettings {
        GatewaySettings {
            server: self.server.clone(),
            metrics: self.metrics.clone(),
            ws: self.ws.clone(),
            gateway: self.gateway.clone(),
            registry: self.registry.clone(),
            security: self.security.clone(),
        }
    }

    /// The SQLite file when `store.url` is empty.
    pub fn sqlite_path(&self) -> PathBuf {
        if self.store.url.is_empty() {
            self.bus.data_dir.join("ledger.sqlite")
        } else {
            PathBuf::from(&self.store.url)
        }
    }
}

/// One dotted key set to one value, named after where it came from (so an error says
/// `from env EDALAB__SERVER__LISTEN`).
struct KeyLayer {
    name: String,
    dict: figment::value::Dict,
}

impl KeyLayer {
    fn new(name: String, key: &str, value: &str) -> Self {
        Self {
            name,
            dict: figment::util::nest(key, parse_env_value(value))
                .into_dict()
                .unwrap_or_default(),
        }
    }
}

impl figment::Provider for KeyLayer {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named(self.name.clone())
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        Ok(figment::Profile::Default.collect(self.dict.clone()))
    }
}

/// `SERVER__LISTEN` → `server.listen`.
fn env_key(rest: &str) -> String {
    rest.split(ENV_SEPARATOR)
        .filter(|part| !part.is_empty())
        .map(str::to_ascii_lowercase)
        .collect::<Vec<_>>()
        .join(".")
}

/// Environment values are typed the way figment's `Env` provider types them: `true`,
/// `42`, `[a, b]` become a boolean, a number, a list; anything else stays a string.
fn parse_env_value(value: &str) -> figment::value::Value {
    value
        .parse()
        .unwrap_or_else(|_| figment::value::Value::from(value.to_owned()))
}

fn from_figment(error: figment::Error, file: Option<&Path>) -> ConfigError {
    let problems = error
        .into_iter()
        .map(|e| {
            let source = e.metadata.as_ref().map(|m| match &m.source {
                Some(figment::Source::File(path)) => path.display().to_string(),
                _ => m.name.to_string(),
            });
            // figment's path already ends with the offending field.
            let path: Vec<String> = e.path.clone();
            let message = match &e.kind {
                figment::error::Kind::UnknownField(_, expected) => {
                    format!("unknown key (expected one of: {})", expected.join(", "))
                }
                figment::error::Kind::MissingField(_) => "missing key".to_owned(),
                kind => kind.to_string(),
            };
            // A YAML syntax error has no key; name the file instead.
            let source = source.or_else(|| file.map(|p| p.display().to_string()));
            Problem {
                key: path.join("."),
                message,
                source,
            }
        })
        .collect();
    ConfigError { problems }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod load_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_keys_are_dotted_and_lowercase() {
        assert_eq!(env_key("SERVER__LISTEN"), "server.listen");
        assert_eq!(
            env_key("WS__CLIENT_BUFFER_MESSAGES_MAX"),
            "ws.client_buffer_messages_max"
        );
    }

    #[test]
    fn upstream_urls_are_checked() {
        assert!(edalab_gateway::config::check_http_url("http://127.0.0.1:8081").is_ok());
        assert!(edalab_gateway::config::check_http_url("http://svc:8081/").is_ok());
        for bad in [
            "",
            "127.0.0.1:8081",
            "https://x:1",
            "http://x:1/api",
            "ftp://x",
        ] {
            assert!(
                edalab_gateway::config::check_http_url(bad).is_err(),
                "{bad:?} accepted"
            );
        }
        let mut config = Config::default();
        config.gateway.upstreams.bancaire = "nope".to_owned();
        config.gateway.upstreams.simulation = "http://127.0.0.1:8081".to_owned();
        config.gateway.upstream_timeout_ms = config.server.request_timeout_ms;
        let error = config.validate().expect_err("invalid");
        assert!(error.names_key("gateway.upstreams.bancaire"), "{error}");
        assert!(error.names_key("gateway.upstream_timeout_ms"), "{error}");
        // Without an upstream the upstream timeout does not matter.
        let mut config = Config::default();
        config.server.request_timeout_ms = 1_000;
        config.validate().expect("valid without upstreams");
    }

    #[test]
    fn upstreams_come_from_the_environment_and_unknown_keys_are_refused() {
        let env = |name: &str, value: &str| ConfigSources {
            env: vec![(name.to_owned(), value.to_owned())],
            ..ConfigSources::default()
        };
        let config = Config::load(&env(
            "EDALAB__GATEWAY__UPSTREAMS__SIMULATION",
            "http://127.0.0.1:9001/",
        ))
        .expect("valid");
        assert_eq!(
            config.gateway.upstreams.configured(),
            vec![("simulation", "http://127.0.0.1:9001")]
        );
        let error = Config::load(&env("EDALAB__GATEWAY__UPSTREAMS__LEDGER", "http://x:1"))
            .expect_err("unknown key");
        assert!(error.names_key("gateway.upstreams.ledger"), "{error}");
        let error = Config::load(&env("EDALAB__OTLP__ENABLED", "true").clone())
            .map(|_| ())
            .and_then(|()| {
                Config::load(&ConfigSources {
                    env: vec![
                        ("EDALAB__OTLP__ENABLED".to_owned(), "true".to_owned()),
                        (
                            "EDALAB__OTLP__ENDPOINT".to_owned(),
                            "collector:4318".to_owned(),
                        ),
                    ],
                    ..ConfigSources::default()
                })
                .map(|_| ())
            })
            .expect_err("a bad endpoint");
        assert!(error.names_key("otlp.endpoint"), "{error}");
    }

    #[test]
    fn kafka_properties_pass_through_from_yaml_and_the_environment() {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = dir.path().join("kafka.yaml");
        std::fs::write(
            &file,
            "kafka:\n  compression.type: zstd\n  linger:\n    ms: 5\n",
        )
        .expect("write");
        let sources = ConfigSources {
            file: Some(file.clone()),
            env: vec![(
                "EDALAB__KAFKA__ENABLE__IDEMPOTENCE".to_owned(),
                "true".to_owned(),
            )],
            ..ConfigSources::default()
        };
        let config = Config::load(&sources).expect("valid");
        let properties = config.kafka.flatten().expect("flat");
        assert_eq!(
            properties.into_iter().collect::<Vec<_>>(),
            vec![
                ("compression.type".to_owned(), "zstd".to_owned()),
                ("enable.idempotence".to_owned(), "true".to_owned()),
                ("linger.ms".to_owned(), "5".to_owned()),
            ]
        );
        std::fs::write(&file, "kafka:\n  bootstrap.servers: [a, b]\n").expect("write");
        let error = Config::load(&ConfigSources {
            file: Some(file),
            ..ConfigSources::default()
        })
        .expect_err("a list is no librdkafka property");
        assert!(error.names_key("kafka.bootstrap.servers"), "{error}");
    }

    #[test]
    fn registry_urls_are_checked_and_named() {
        assert!(edalab_gateway::config::check_registry_url("http://127.0.0.1:8081").is_ok());
        assert!(
            edalab_gateway::config::check_registry_url("http://proxy/schema-registry/").is_ok()
        );
        for bad in [
            "",
            "registry:8081",
            "https://r:8081",
            "http://r:1/?x=1",
            "http://u@r:1",
        ] {
            assert!(
                edalab_gateway::config::check_registry_url(bad).is_err(),
                "{bad:?} accepted"
            );
        }
        let load = |pairs: &[(&str, &str)]| {
            Config::load(&ConfigSources {
                env: pairs
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                ..ConfigSources::default()
            })
        };
        let config = load(&[("EDALAB__REGISTRY__URL", "http://sr:8081")]).expect("valid");
        assert_eq!(config.registry.url, "http://sr:8081");
        let error = load(&[
            ("EDALAB__REGISTRY__URL", "sr:8081"),
            ("EDALAB__REGISTRY__TIMEOUT_MS", "0"),
        ])
        .expect_err("invalid");
        assert!(error.names_key("registry.url"), "{error}");
        assert!(error.names_key("registry.timeout_ms"), "{error}");
        assert!(error.to_string().contains("sr:8081"), "{error}");
        let error = load(&[("EDALAB__REGISTRY__URI", "http://sr:8081")]).expect_err("unknown");
        assert!(error.names_key("registry.uri"), "{error}");
    }

    #[test]
    fn defaults_validate() {
        Config::default().validate().expect("defaults are valid");
    }
}
