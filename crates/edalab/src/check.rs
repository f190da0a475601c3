//! `edalab check ledger`: reconciles the ledger store with the banking topics (issue 4 §6).
//!
//! Reads every message of the seven banking topics straight from the embedded log — no
//! consumer group, so it works read-only next to a running `edalab up` and leaves nothing
//! behind — then `edalab_services::ledger::reconcile`: balances recomputed from the
//! transactions table and, independently, from a replay through the domain rules, compared
//! with the stored balances; transfers must conserve the total. Prints the counts and each
//! mismatch; any mismatch is an error (non-zero exit).

use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use std::time::Duration;

use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::port::Message;
use edalab_bus::port::{ConsumerConfig, StartFrom};
use edalab_bus::{Admin, Bus};
use edalab_domain::events::topics;
use edalab_schema::SchemaCatalog;
use edalab_services::ledger::reconcile;

/// Records read from one partition per call.
const READ_RECORDS_MAX: usize = 10_000;

#[derive(Subcommand, Debug)]
pub enum CheckCommand {
    /// Reconcile the ledger store with the banking topics; non-zero exit on any mismatch.
    Ledger(CheckLedgerArgs),
}

#[derive(Args, Debug)]
pub struct CheckLedgerArgs {
    /// The ledger store: `postgres://...`, or a SQLite file [default:
    /// `<data-dir>/ledger.sqlite`].
    #[arg(long, env = "EDALAB__STORE__URL", value_name = "URL")]
    pub store_url: Option<String>,
    /// Read the banking topics from this Kafka-protocol broker (the kafka profile) instead
    /// of the data directory's log; the store is then PostgreSQL (`--store-url`).
    #[arg(long, env = "EDALAB_BROKERS", value_name = "HOST:PORT[,HOST:PORT]")]
    pub brokers: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(data_dir: &Path, command: CheckCommand) -> anyhow::Result<()> {
    match command {
        CheckCommand::Ledger(args) => check_ledger(data_dir, args).await,
    }
}

async fn check_ledger(data_dir: &Path, args: CheckLedgerArgs) -> anyhow::Result<()> {
    let url = args.store_url.filter(|u| !u.trim().is_empty());
    let brokers = args.brokers.filter(|b| !b.trim().is_empty());
    let (messages, store) = match brokers {
        Some(brokers) => {
            let Some(url) = url.filter(|u| u.starts_with("postgres")) else {
                anyhow::bail!(
                    "with --brokers (the kafka profile) the ledger store is PostgreSQL: give \
                     --store-url postgres://USER@HOST/DB"
                );
            };
            let bus = crate::platform::connect_kafka(&brokers, &Default::default(), "edalab-check")
                .await?;
            let messages = read_through_group(&bus, CHECK_IDLE)
                .await
                .with_context(|| format!("reading the banking topics from {brokers}"))?;
            let store = crate::ledger::OpenStore::open(data_dir, Some(&url)).await?;
            (messages, store)
        }
        None => {
            if url.is_none() {
                let path: PathBuf = data_dir.join(crate::ledger::SQLITE_FILE);
                anyhow::ensure!(
                    path.is_file(),
                    "no ledger store at {} (has `edalab up` run with this --data-dir? for \
                     PostgreSQL pass --store-url postgres://..., for Kafka --brokers too)",
                    path.display()
                );
            }
            anyhow::ensure!(
                data_dir.join("bus").is_dir(),
                "no bus in {} (wrong --data-dir? on the kafka profile pass --brokers)",
                data_dir.display()
            );
            // Read-write when the platform is stopped (the log recovers a torn tail first),
            // read-only next to a running `edalab up`: reads follow its appends.
            let bus = EmbeddedBus::open_or_read_only(data_dir, LogConfig::default())
                .with_context(|| format!("opening the bus in {}", data_dir.display()))?;
            if bus.is_read_only() {
                eprintln!(
                    "note: {} is in use (a running `edalab up`?): reading the bus read-only; \
                     events still being applied may show as mismatches — stop the platform for \
                     a final check",
                    data_dir.display()
                );
            }
            let messages = read_banking_topics(&bus).await?;
            bus.close().await.context("closing the bus")?;
            let store = crate::ledger::OpenStore::open(data_dir, url.as_deref()).await?;
            (messages, store)
        }
    };
    let catalog = SchemaCatalog::builtin().context("loading the schema catalog")?;
    let report = reconcile(&*store.shared(), &catalog, &messages)
        .await
        .context("reconciling the ledger")?;
    let counts = store
        .shared()
        .counts()
        .await
        .context("counting the ledger")?;
    store.close().await?;

    if args.json {
        let out = serde_json::json!({
            "store": store.describe(),
            "events_on_topics": report.messages_read,
            "events_undecodable": report.messages_undecodable,
            "events_replayed": report.events_replayed,
            "applied": counts.inbox_applied,
            "refused": counts.inbox_rejected,
            "accounts": counts.accounts,
            "transactions": counts.transactions,
            "outbox_pending": counts.outbox_pending,
            "mismatches": report.mismatches.iter().map(ToString::to_string).collect::<Vec<_>>(),
        });
        println!("{out}");
    } else {
        println!("ledger check ({})", store.describe());
        println!(
            "  events on topics   {} ({} undecodable, {} distinct replayed)",
            report.messages_read, report.messages_undecodable, report.events_replayed
        );
        println!("  applied            {}", counts.inbox_applied);
        println!("  refused            {}", counts.inbox_rejected);
        println!(
            "  accounts           {} ({} checked), transactions {}",
            counts.accounts, report.accounts_checked, counts.transactions
        );
        println!("  mismatches         {}", report.mismatches.len());
        for mismatch in &report.mismatches {
            println!("    - {mismatch}");
        }
    }
    anyhow::ensure!(
        report.is_ok(),
        "ledger check failed: {} mismatch(es)",
        report.mismatches.len()
    );
    if !args.json {
        println!("ledger check: OK");
    }
    Ok(())
}

/// How long [`read_through_group`] waits without a message before it takes the topics as
/// read to their end.
const CHECK_IDLE: Duration = Duration::from_secs(3);

/// Every message of the banking topics through a consumer group of its own, from the
/// earliest offset, committing nothing, until `idle` passes without a message. For a bus
/// read over the network (Kafka), where the embedded log's direct reads do not exist; the
/// platform should be stopped (or idle) for the result to be final.
pub(crate) async fn read_through_group(
    bus: &dyn Bus,
    idle: Duration,
) -> anyhow::Result<Vec<Message>> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let group = format!("edalab-check-{}-{stamp}", std::process::id());
    let mut config = ConsumerConfig::new(
        group,
        topics::BANKING_EVENTS
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
    );
    config.start_from = StartFrom::Earliest;
    let mut consumer = bus
        .consumer(config)
        .await
        .context("joining a check group")?;
    let mut messages = Vec::new();
    let joined_at = tokio::time::Instant::now();
    let mut quiet_since = joined_at;
    loop {
        let batch = consumer
            .poll(Duration::from_millis(500))
            .await
            .context("polling the banking topics")?;
        if !batch.is_empty() {
            quiet_since = tokio::time::Instant::now();
            messages.extend(batch);
        } else if consumer.assignment().is_empty() {
            // The idle time counts from the assignment: a group join may take longer
            // than `idle` (tansu's waits half the session timeout).
            quiet_since = tokio::time::Instant::now();
            anyhow::ensure!(
                joined_at.elapsed() < idle * 10,
                "no partition of the banking topics was assigned within {:?}",
                idle * 10
            );
        } else if quiet_since.elapsed() >= idle {
            break;
        }
    }
    consumer.close().await.context("leaving the check group")?;
    Ok(messages)
}

/// Every message of the banking topics, from each partition's log start to its high
/// watermark at the time of the call, in offset order per partition.
pub(crate) async fn read_banking_topics(bus: &EmbeddedBus) -> anyhow::Result<Vec<Message>> {
    let mut messages = Vec::new();
    for topic in topics::BANKING_EVENTS {
        let description = bus
            .describe_topic(topic)
            .await
            .with_context(|| format!("topic `{topic}`"))?;
        for partition in description.partitions {
            let mut from = partition.log_start_offset;
            while from < partition.high_watermark {
                let (batch, next) = bus
                    .read(topic, partition.partition, from, READ_RECORDS_MAX)
                    .with_context(|| format!("reading {topic}/{}", partition.partition))?;
                anyhow::ensure!(
                    next > from,
                    "reading {topic}/{} stalled at offset {from}",
                    partition.partition
                );
                messages.extend(
                    batch
                        .into_iter()
                        .filter(|m| m.offset < partition.high_watermark),
                );
                from = next;
            }
        }
    }
    Ok(messages)
}
