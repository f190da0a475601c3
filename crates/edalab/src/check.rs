//! `edalab check ledger`: reconciles the ledger store with the banking topics (issue 4 §6).
//!
//! Reads every message of the seven banking topics on the profile's bus (the embedded log
//! or the broker) outside any consumer group (`Bus::read_partition`), so it works next to a
//! running platform and leaves nothing behind; then `edalab_services::ledger::reconcile`
//! over the profile's ledger store: balances recomputed from the transactions table and,
//! independently, from a replay through the domain rules, compared
//! with the stored balances; transfers must conserve the total. Prints the counts and each
//! mismatch; any mismatch is an error (non-zero exit).

use std::time::Duration;

use crate::config::{BusBackend, Config, StoreBackend};
use anyhow::Context;
use clap::{Args, Subcommand};
use edalab_bus::Bus;
use edalab_bus::PartitionRead;
use edalab_bus::port::Message;
use edalab_domain::events::topics;
use edalab_services::ledger::reconcile;

use crate::profile::Access;

/// Records read from one partition per call.
const READ_RECORDS_MAX: usize = 10_000;
/// Longest wait for messages known to exist (a broker fetching them).
const FETCH_WAIT: Duration = Duration::from_secs(10);

#[derive(Subcommand, Debug)]
pub enum CheckCommand {
    /// Reconcile the ledger store with the banking topics; non-zero exit on any mismatch.
    Ledger(CheckLedgerArgs),
}

#[derive(Args, Debug)]
pub struct CheckLedgerArgs {
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(config: &Config, command: CheckCommand) -> anyhow::Result<()> {
    match command {
        CheckCommand::Ledger(args) => check_ledger(config, args).await,
    }
}

/// The profile's bus and store: the topics as they are now, and the ledger they fed.
async fn check_ledger(config: &Config, args: CheckLedgerArgs) -> anyhow::Result<()> {
    let data_dir = &config.bus.data_dir;
    if config.bus.backend == BusBackend::Embedded {
        anyhow::ensure!(
            data_dir.join("bus").is_dir(),
            "no bus in {} (wrong --data-dir? on the kafka profile pass --profile kafka \
             --brokers HOST:PORT --database-url postgres://...)",
            data_dir.display()
        );
    }
    if config.store.backend == StoreBackend::Sqlite {
        let path = config.sqlite_path();
        anyhow::ensure!(
            path.is_file(),
            "no ledger store at {} (has `edalab up` run with this --data-dir? for PostgreSQL \
             pass --database-url postgres://...)",
            path.display()
        );
    }
    // Read-write when the platform is stopped (the log recovers a torn tail first),
    // read-only next to a running `edalab up`: reads follow its appends.
    let opened = crate::profile::open_bus(config, Access::WriteOrRead, "edalab-check").await?;
    if opened.is_read_only() {
        eprintln!(
            "note: {} is in use (a running `edalab up`?): reading the bus read-only; events \
             still being applied may show as mismatches — stop the platform for a final check",
            data_dir.display()
        );
    }
    let messages = read_banking_topics(&*opened.shared())
        .await
        .with_context(|| format!("reading the banking topics of the {}", opened.location()))?;
    opened.close().await.context("closing the bus")?;
    let store = crate::profile::open_ledger_store(config).await?;
    let values = messages.iter().map(|m| &m.value[..]);
    let catalog = crate::registration::reading_catalog(config, values).await?;
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

/// Every message of the banking topics, from each partition's log start to its high
/// watermark at the time of the call, in offset order per partition.
pub(crate) async fn read_banking_topics(bus: &dyn Bus) -> anyhow::Result<Vec<Message>> {
    let mut messages = Vec::new();
    for topic in topics::BANKING_EVENTS {
        let description = bus
            .describe_topic(topic)
            .await
            .with_context(|| format!("topic `{topic}`"))?;
        for partition in description.partitions {
            let mut from = partition.log_start_offset;
            while from < partition.high_watermark {
                let read = PartitionRead {
                    topic: (*topic).to_owned(),
                    partition: partition.partition,
                    from,
                    max: READ_RECORDS_MAX,
                    wait: FETCH_WAIT,
                };
                let (batch, next) = bus
                    .read_partition(&read)
                    .await
                    .with_context(|| format!("reading {topic}/{}", partition.partition))?;
                anyhow::ensure!(
                    next > from,
                    "reading {topic}/{} stalled at offset {from}",
                    partition.partition
                );
                // Records past the high watermark read with the last batch are kept: a
                // broker may understate it (tansu answers the last batch's base + 1).
                messages.extend(batch);
                from = next;
            }
        }
    }
    Ok(messages)
}
