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
use edalab_bus::Admin;
use edalab_bus::log::{EmbeddedBus, LogConfig};
use edalab_bus::port::Message;
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
    if url.is_none() {
        let path: PathBuf = data_dir.join(crate::ledger::SQLITE_FILE);
        anyhow::ensure!(
            path.is_file(),
            "no ledger store at {} (has `edalab up` run with this --data-dir? for PostgreSQL \
             pass --store-url postgres://...)",
            path.display()
        );
    }
    anyhow::ensure!(
        data_dir.join("bus").is_dir(),
        "no bus in {} (wrong --data-dir?)",
        data_dir.display()
    );
    // Read-write when the platform is stopped (the log recovers a torn tail first),
    // read-only next to a running `edalab up`: reads follow its appends.
    let bus = EmbeddedBus::open_or_read_only(data_dir, LogConfig::default())
        .with_context(|| format!("opening the bus in {}", data_dir.display()))?;
    if bus.is_read_only() {
        eprintln!(
            "note: {} is in use (a running `edalab up`?): reading the bus read-only; events \
             still being applied may show as mismatches — stop the platform for a final check",
            data_dir.display()
        );
    }
    let store = crate::ledger::OpenStore::open(data_dir, url.as_deref()).await?;
    let catalog = SchemaCatalog::builtin().context("loading the schema catalog")?;
    let messages = read_banking_topics(&bus).await?;
    let report = reconcile(&*store.shared(), &catalog, &messages)
        .await
        .context("reconciling the ledger")?;
    let counts = store
        .shared()
        .counts()
        .await
        .context("counting the ledger")?;
    store.close().await?;
    bus.close().await.context("closing the bus")?;

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
