//! `edalab tail <topic>`: browse messages (S0-09), read-only, so it works next to a running
//! platform. Without `--from-beginning` it shows the last `--lines` messages of each
//! partition, like `tail`; with `--follow` it keeps printing new ones until Ctrl-C. Values
//! are decoded through the schema registry (`crate::output`).

use std::path::Path;
use std::time::Duration;

use edalab_bus::Admin;

use crate::cli::TailArgs;

/// Messages read from one partition per round, so partitions interleave while following.
const READ_RECORDS_MAX: usize = 1000;

pub async fn run(data_dir: &Path, args: TailArgs) -> anyhow::Result<()> {
    let bus = crate::cli::open_for_reading(data_dir)?;
    let registry = crate::cli::open_registry(data_dir)?;
    let mut decoder = edalab_schema::DisplayDecoder::new(&registry);
    let d = bus.describe_topic(&args.topic).await?;
    if let Some(p) = args.partition
        && p >= d.config.partitions
    {
        return Err(edalab_bus::BusError::UnknownPartition {
            topic: args.topic.clone(),
            partition: p,
            partitions: d.config.partitions,
        }
        .into());
    }
    let mut positions: Vec<(u32, u64)> = d
        .partitions
        .iter()
        .filter(|p| args.partition.is_none_or(|only| only == p.partition))
        .map(|p| {
            let start = if args.from_beginning {
                p.log_start_offset
            } else {
                p.high_watermark
                    .saturating_sub(args.lines)
                    .max(p.log_start_offset)
            };
            (p.partition, start)
        })
        .collect();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let mut any = false;
        for (partition, from) in positions.iter_mut() {
            loop {
                let (msgs, next) = bus.read(&args.topic, *partition, *from, READ_RECORDS_MAX)?;
                *from = next;
                if msgs.is_empty() {
                    break;
                }
                any = true;
                crate::output::print_messages(&msgs, args.format, &mut decoder).await?;
                if args.follow {
                    break; // interleave partitions
                }
            }
        }
        if !args.follow {
            return Ok(());
        }
        if !any {
            tokio::select! {
                _ = &mut ctrl_c => return Ok(()),
                _ = bus.wait_for_data(Duration::from_millis(500)) => {}
            }
        }
    }
}
