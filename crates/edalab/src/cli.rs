//! Command-line shape (clap derive) and dispatch to the command modules.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser, Debug)]
#[command(
    name = "edalab",
    version,
    about = "Event-driven transaction platform: bus, services, gateway"
)]
pub struct Cli {
    /// Data directory shared by every command (the bus lives in `<DIR>/bus`) [default:
    /// ./data; for `up`, `bus.data_dir` of the configuration].
    #[arg(long, global = true, env = "EDALAB_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the platform in this process until SIGINT/SIGTERM.
    Up(UpArgs),
    /// Run some services in this process (`edalab serve ledger simulator`, `edalab serve
    /// gateway`) until SIGINT/SIGTERM. On the embedded profile, services sharing a bus must
    /// run in the same process.
    Serve(ServeArgs),
    /// List, describe and create topics.
    #[command(subcommand)]
    Topics(TopicsCommand),
    /// Produce one message per line of standard input; prints `partition offset` per
    /// message once it is durable.
    Produce(ProduceArgs),
    /// Browse a topic's messages (exits at the end unless --follow). Works read-only next to
    /// a running platform.
    Tail(TailArgs),
    /// Consume a topic as a member of a consumer group, committing after each batch
    /// (like kafka-console-consumer --group).
    Consume(ConsumeArgs),
    /// Dead-letter queues: list, show, redrive (needs the data directory for writing: it
    /// reads through a consumer group).
    Dlq(crate::dlq::DlqArgs),
    /// Consistency checks (`check ledger`: reconcile the ledger with the banking topics).
    #[command(subcommand)]
    Check(crate::check::CheckCommand),
    /// Benchmarks.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Generate traffic offline (S3-06): banking events onto the bus, order files into the
    /// inbox, S0/S4 requests to --target; --scenario, --rate, --duration, --seed, --pattern;
    /// a progress bar, then events by type, what was refused or not sent, the actual rate.
    Simulate(crate::simulate::SimulateArgs),
    /// Crash safety: SIGKILL a child `edalab up` N times during a simulation, then check
    /// that every acknowledged event was applied or refused exactly once.
    Chaos(crate::chaos::ChaosArgs),
    /// The embedded log's maintenance (`log repair`).
    #[command(subcommand)]
    Log(crate::repair::LogCommand),
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Address the gateway listens on [default: `server.listen` of the configuration,
    /// 127.0.0.1:8080].
    #[arg(long, env = "EDALAB_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
    /// Configuration file [default: config/local.yaml when it exists]; then
    /// EDALAB__SECTION__KEY environment variables, then --listen and --data-dir.
    #[arg(long, env = "EDALAB_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// `embedded` (the durable log and SQLite in the data directory) or `kafka` (a
    /// Kafka-protocol broker and PostgreSQL: give --brokers and --database-url, or
    /// `bus.brokers` and `store.url`) [default: `bus.backend` of the configuration].
    #[arg(long, value_enum, env = "EDALAB_PROFILE")]
    pub profile: Option<Profile>,
    /// Kafka bootstrap servers (`bus.brokers`), with the kafka profile.
    #[arg(long, env = "EDALAB_BROKERS", value_name = "HOST:PORT[,HOST:PORT]")]
    pub brokers: Option<String>,
    /// The PostgreSQL database of every store (`store.url`; sets `store.backend: postgres`).
    #[arg(
        long,
        env = "EDALAB_DATABASE_URL",
        value_name = "postgres://USER@HOST/DB"
    )]
    pub database_url: Option<String>,
}

/// Which engines carry the platform.
#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Profile {
    /// The embedded durable log and SQLite, in this process: nothing to install.
    Embedded,
    /// A Kafka-protocol broker (librdkafka) and PostgreSQL.
    Kafka,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The services to run in this process (at least one).
    #[arg(required = true, value_enum, value_name = "SERVICE")]
    pub services: Vec<crate::platform::Service>,
    #[command(flatten)]
    pub common: UpArgs,
}

/// The data directory when neither `--data-dir` nor `EDALAB_DATA_DIR` is given.
pub const DEFAULT_DATA_DIR: &str = "./data";

#[derive(Subcommand, Debug)]
pub enum TopicsCommand {
    /// Topic names, one per line.
    List,
    /// Settings and partitions of a topic.
    Describe { topic: String },
    /// Create a topic (harmless if it exists with the same settings).
    Create(CreateTopicArgs),
}

#[derive(Args, Debug)]
pub struct CreateTopicArgs {
    pub topic: String,
    #[arg(long)]
    pub partitions: u32,
    #[arg(long)]
    pub retention_ms: Option<u64>,
    #[arg(long)]
    pub retention_bytes: Option<u64>,
    #[arg(long, default_value = "none")]
    pub compression: String,
}

#[derive(Args, Debug)]
pub struct ProduceArgs {
    pub topic: String,
    /// Key of every message (messages without a key are spread round robin per batch).
    #[arg(long)]
    pub key: Option<String>,
    /// Header `name=value`, repeatable.
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// Largest number of lines sent in one produce call.
    #[arg(long, default_value_t = 1000)]
    pub batch_records_max: usize,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Args, Debug)]
pub struct TailArgs {
    pub topic: String,
    /// Start at the first retained message of each partition.
    #[arg(long)]
    pub from_beginning: bool,
    /// Without --from-beginning: how many of the last messages of each partition to show.
    #[arg(short = 'n', long, default_value_t = 10)]
    pub lines: u64,
    /// Keep waiting for new messages (until Ctrl-C).
    #[arg(short, long)]
    pub follow: bool,
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Only this partition.
    #[arg(long)]
    pub partition: Option<u32>,
}

#[derive(Args, Debug)]
pub struct ConsumeArgs {
    pub topic: String,
    #[arg(long)]
    pub group: String,
    /// Stop after this many messages.
    #[arg(long)]
    pub max_messages: Option<u64>,
    /// Stop after this long without a message.
    #[arg(long)]
    pub idle_exit_ms: Option<u64>,
    /// Records returned by one poll at most.
    #[arg(long, default_value_t = 500)]
    pub poll_records_max: usize,
}

#[derive(Subcommand, Debug)]
pub enum BenchCommand {
    /// Produce and produce→consume throughput and latency of the embedded bus.
    Bus(crate::bench::BusBenchArgs),
    /// Banking events applied per second into the ledger store (SQLite or PostgreSQL).
    Ledger(crate::bench::LedgerBenchArgs),
    /// Simulator events generated and encoded per second on one core, without the bus.
    Sim(crate::bench::SimBenchArgs),
    /// The platform end to end (produce → ledger committed): the seed's performance tests,
    /// offered-load steps, bursts; report (Markdown, JSON, SVG plots) in --out.
    E2e(crate::bench_e2e::E2eBenchArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // `up` layers the data directory over its configuration; the other commands default it.
    let explicit_data_dir = cli.data_dir;
    let data_dir = explicit_data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    match cli.command {
        Command::Up(args) => crate::up::run(explicit_data_dir.as_deref(), args).await,
        Command::Serve(args) => crate::serve::run(explicit_data_dir.as_deref(), args).await,
        Command::Topics(cmd) => crate::topics::run(&data_dir, cmd).await,
        Command::Produce(args) => crate::produce::run(&data_dir, args).await,
        Command::Tail(args) => crate::tail::run(&data_dir, args).await,
        Command::Consume(args) => crate::consume::run(&data_dir, args).await,
        Command::Dlq(args) => {
            let bus = open_for_writing(&data_dir)?;
            let registry = open_registry(&data_dir)?;
            let result = crate::dlq::run(args, &bus, &registry).await;
            bus.close().await?;
            result
        }
        Command::Check(cmd) => crate::check::run(&data_dir, cmd).await,
        Command::Simulate(args) => crate::simulate::run(args, &data_dir).await,
        Command::Chaos(args) => crate::chaos::run(explicit_data_dir.as_deref(), args).await,
        Command::Log(cmd) => crate::repair::run(&data_dir, cmd),
        Command::Bench(BenchCommand::Sim(args)) => crate::bench::run_sim(args),
        Command::Bench(BenchCommand::Bus(args)) => crate::bench::run_bus(&data_dir, args).await,
        Command::Bench(BenchCommand::E2e(args)) => crate::bench_e2e::run(&data_dir, args).await,
        Command::Bench(BenchCommand::Ledger(args)) => {
            crate::bench::run_ledger(&data_dir, args).await
        }
    }
}

/// The schema registry that the reading commands (`tail`, `dlq`) decode values through:
/// the built-in one of the data directory, read only (a running platform may own it).
pub fn open_registry(data_dir: &std::path::Path) -> anyhow::Result<edalab_schema::LocalRegistry> {
    use anyhow::Context;
    let dir = data_dir.join(edalab_gateway::registry::DATA_SUBDIR);
    edalab_schema::LocalRegistry::open_read_only(&dir)
        .with_context(|| format!("opening the schema registry in {}", dir.display()))
}

/// Opens the bus for a writing command. A running platform holds the data directory: say
/// so plainly instead of waiting or corrupting it.
pub fn open_for_writing(
    data_dir: &std::path::Path,
) -> anyhow::Result<edalab_bus::log::EmbeddedBus> {
    open_for_writing_with(data_dir, edalab_bus::log::LogConfig::default())
}

/// [`open_for_writing`] with explicit log settings (`edalab up` takes them from its
/// configuration).
pub fn open_for_writing_with(
    data_dir: &std::path::Path,
    config: edalab_bus::log::LogConfig,
) -> anyhow::Result<edalab_bus::log::EmbeddedBus> {
    use anyhow::Context;
    match edalab_bus::log::EmbeddedBus::open(data_dir, config) {
        Err(e @ edalab_bus::BusError::Locked { .. }) => {
            Err(anyhow::Error::new(e).context(format!(
                "cannot write to {}: it is in use (a running `edalab up`?); read-only commands \
             (topics list/describe, tail) still work",
                data_dir.display()
            )))
        }
        other => other
            .map_err(|e| crate::repair::explain(e, data_dir))
            .with_context(|| format!("opening the bus in {}", data_dir.display())),
    }
}

/// Opens the bus for a read-only command: never locks, never writes, works next to a
/// running platform.
pub fn open_for_reading(
    data_dir: &std::path::Path,
) -> anyhow::Result<edalab_bus::log::EmbeddedBus> {
    use anyhow::Context;
    edalab_bus::log::EmbeddedBus::open_read_only(data_dir, edalab_bus::log::LogConfig::default())
        .with_context(|| format!("opening the bus in {} (read-only)", data_dir.display()))
}
