//! `edalab log repair`: moves forward the end of a partition whose tail lost acknowledged
//! records, so the embedded log opens again without ever reusing an offset (ADR 020), and
//! the message every command prints when the log is refused for that reason.

use std::path::Path;

use clap::{Args, Subcommand};
use edalab_bus::log::LogConfig;
use edalab_bus::{BusError, TopicPartition};

#[derive(Subcommand, Debug)]
pub enum LogCommand {
    /// Moves the end of each partition that lost acknowledged records forward to the
    /// highest acknowledged offset (the durable offset floor or a consumer group's
    /// committed offset): the lost offsets are skipped, never reused, and consumers read on
    /// after them. Needs the platform stopped (it takes the data directory's lock).
    Repair(RepairArgs),
}

#[derive(Args, Debug)]
pub struct RepairArgs {
    /// Only this topic (with --partition).
    #[arg(long, requires = "partition")]
    pub topic: Option<String>,
    /// Only this partition of --topic.
    #[arg(long, requires = "topic")]
    pub partition: Option<u32>,
}

pub fn run(data_dir: &Path, cmd: LogCommand) -> anyhow::Result<()> {
    let LogCommand::Repair(args) = cmd;
    let only = match (args.topic, args.partition) {
        (Some(topic), Some(partition)) => Some(TopicPartition { topic, partition }),
        _ => None,
    };
    let repaired = edalab_bus::log::repair(data_dir, &LogConfig::default(), only.as_ref())
        .map_err(|e| {
            anyhow::Error::new(e).context(format!("repairing the log in {}", data_dir.display()))
        })?;
    if repaired.is_empty() {
        println!(
            "nothing to repair in {}: no partition lost acknowledged records",
            data_dir.display()
        );
    }
    for r in repaired {
        println!(
            "{}/{}: end moved {} -> {}; offsets {}..={} lost and skipped ({}); the next record gets offset {}",
            r.topic,
            r.partition,
            r.recovered_end,
            r.acknowledged_end,
            r.recovered_end,
            r.acknowledged_end - 1,
            r.evidence,
            r.acknowledged_end
        );
    }
    Ok(())
}

/// Adds to a refusal for lost acknowledged records the command that repairs it; any other
/// error passes through unchanged.
pub fn explain(error: BusError, data_dir: &Path) -> anyhow::Error {
    let lost = matches!(error, BusError::AcknowledgedRecordsLost(_));
    let error = anyhow::Error::new(error);
    if !lost {
        return error;
    }
    error.context(format!(
        "the log in {dir} lost acknowledged records and was not opened; keep a copy of {dir}/bus \
         if you want to investigate, then run `edalab log repair --data-dir {dir}` to move the \
         ends forward (the lost offsets are skipped, never reused)",
        dir = data_dir.display()
    ))
}
