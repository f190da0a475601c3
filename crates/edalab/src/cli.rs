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
    #[command(flatten)]
    pub profile: crate::profile::ProfileArgs,
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
    /// Consumer controls of a running platform (`--target`): a group's members, their
    /// partitions and lag; pause, resume, scale to N members (`consumers scale ledger 3`).
    Consumers(crate::consumers::ConsumersArgs),
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
    /// The platform's Avro schemas against the schema registry: `schemas list`, `register`,
    /// `check` (names each incompatible field), `diff`.
    Schemas(crate::schemas::SchemasArgs),
    /// The seeds' serverless side on AWS or an emulator: `aws deploy`, `aws destroy`.
    #[command(subcommand)]
    Aws(crate::aws_cmd::AwsCommand),
}

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Address the gateway listens on [default: `server.listen` of the configuration,
    /// 127.0.0.1:8080].
    #[arg(long, env = "EDALAB_LISTEN", value_name = "ADDR:PORT")]
    pub listen: Option<String>,
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
    /// Messages per second through SQS → edalab's worker → delete, against the plain SDK
    /// receive/delete loop on the same endpoint (--aws-endpoint), in the same run.
    Sqs(crate::bench_sqs::SqsBenchArgs),
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    // Every command but the embedded log's own tools reads the layered configuration, so
    // the profile flags and keys choose its backends (crate::profile).
    let explicit_data_dir = cli.data_dir;
    let data_dir = explicit_data_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    let profile = cli.profile;
    let config = |listen: Option<&str>| {
        crate::profile::load_config(explicit_data_dir.as_deref(), &profile, listen)
    };
    match cli.command {
        Command::Up(args) => crate::up::run(config(args.listen.as_deref())?).await,
        Command::Serve(args) => {
            crate::serve::run(config(args.common.listen.as_deref())?, &args.services).await
        }
        Command::Topics(cmd) => crate::topics::run(&config(None)?, cmd).await,
        Command::Produce(args) => crate::produce::run(&config(None)?, args).await,
        Command::Tail(args) => crate::tail::run(&config(None)?, args).await,
        Command::Consume(args) => crate::consume::run(&config(None)?, args).await,
        Command::Consumers(args) => crate::consumers::run(args).await,
        Command::Dlq(args) => crate::dlq::run_command(&config(None)?, args).await,
        Command::Check(cmd) => crate::check::run(&config(None)?, cmd).await,
        Command::Simulate(args) => crate::simulate::run(args, &config(None)?).await,
        Command::Chaos(args) => {
            crate::chaos::run(config(None)?, explicit_data_dir.as_deref(), args).await
        }
        Command::Log(cmd) => crate::repair::run(&data_dir, cmd),
        Command::Aws(cmd) => crate::aws_cmd::run(&config(None)?, &cmd).await,
        Command::Schemas(args) => crate::schemas::run(&config(None)?, args).await,
        Command::Bench(BenchCommand::Sim(args)) => crate::bench::run_sim(args),
        Command::Bench(BenchCommand::Sqs(args)) => {
            crate::bench_sqs::run(&config(None)?, &args).await
        }
        Command::Bench(BenchCommand::Bus(args)) => {
            crate::bench::run_bus(&config(None)?, args).await
        }
        Command::Bench(BenchCommand::E2e(args)) => {
            crate::bench_e2e::run(&config(None)?, args).await
        }
        Command::Bench(BenchCommand::Ledger(args)) => {
            crate::bench::run_ledger(&config(None)?, args).await
        }
    }
}

/// Opens the bus of a command that only writes or only browses: the embedded log (held by
/// a running platform: a clear "in use" error for writes, reads work) or the broker.
pub async fn open_bus(
    config: &crate::config::Config,
    access: crate::profile::Access,
) -> anyhow::Result<crate::profile::OpenBus> {
    crate::profile::open_bus(config, access, "edalab-cli").await
}

/// [`open_bus`] with explicit log settings, for `bench e2e`'s own scratch log.
pub fn open_for_writing_with(
    data_dir: &std::path::Path,
    config: edalab_bus::log::LogConfig,
) -> anyhow::Result<edalab_bus::log::EmbeddedBus> {
    use anyhow::Context;
    edalab_bus::log::EmbeddedBus::open(data_dir, config)
        .map_err(|e| crate::repair::explain(e, data_dir))
        .with_context(|| format!("opening the bus in {}", data_dir.display()))
}
