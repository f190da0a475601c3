//! `edalab tail <topic>`: browse messages (S0-09) on either profile, outside any consumer
//! group, so it works next to a running platform and leaves nothing behind. Without
//! `--from-beginning` it shows the last `--lines` messages of each partition, like `tail`;
//! with `--follow` it keeps printing new ones until Ctrl-C. Values are decoded through the
//! schema registry (`crate::output`).

use std::time::Duration;

use crate::config::Config;
use edalab_bus::{Bus, BusError, PartitionRead};

use crate::cli::TailArgs;
use crate::profile::Access;

/// Messages read from one partition per call, so partitions interleave while following.
const READ_RECORDS_MAX: usize = 1000;
/// Longest wait for messages known to exist (a broker fetching them).
const FETCH_WAIT: Duration = Duration::from_secs(5);
/// How long a follow waits on each partition for new messages.
const FOLLOW_WAIT: Duration = Duration::from_millis(200);

/// A read of `topic`/`partition` from `from`, waiting at most `wait` for the first record.
fn reading(topic: &str, partition: u32, from: u64, wait: Duration) -> PartitionRead {
    PartitionRead {
        topic: topic.to_owned(),
        partition,
        from,
        max: READ_RECORDS_MAX,
        wait,
    }
}

pub async fn run(config: &Config, args: TailArgs) -> anyhow::Result<()> {
    let opened = crate::cli::open_bus(config, Access::Read).await?;
    let bus = opened.shared();
    let registry = crate::profile::open_registry_reader(config)?;
    let mut decoder = edalab_schema::DisplayDecoder::new(&*registry);
    let mut positions = start_positions(&*bus, &args).await?;
    // What exists now, partition by partition.
    for (partition, from, end) in positions.iter_mut() {
        let mut shown = Vec::new();
        while *from < *end {
            let (messages, next) = bus
                .read_partition(&reading(&args.topic, *partition, *from, FETCH_WAIT))
                .await?;
            if messages.is_empty() {
                break; // nothing readable up to the end (e.g. transaction markers)
            }
            *from = next;
            shown.extend(messages);
            if !args.from_beginning {
                // The last --lines only, even if a broker's high watermark understates
                // the end (a read returns whole record batches).
                let excess = shown.len().saturating_sub(args.lines as usize);
                shown.drain(..excess);
            } else {
                crate::output::print_messages(&shown, args.format, &mut decoder).await?;
                shown.clear();
            }
        }
        crate::output::print_messages(&shown, args.format, &mut decoder).await?;
    }
    if args.follow {
        follow(&*bus, &args, &mut positions, &mut decoder).await?;
    }
    opened.close().await?;
    Ok(())
}

/// `(partition, first offset to show, high watermark now)` of each partition shown.
async fn start_positions(bus: &dyn Bus, args: &TailArgs) -> anyhow::Result<Vec<(u32, u64, u64)>> {
    let d = bus.describe_topic(&args.topic).await?;
    if let Some(p) = args.partition
        && p >= d.config.partitions
    {
        return Err(BusError::UnknownPartition {
            topic: args.topic.clone(),
            partition: p,
            partitions: d.config.partitions,
        }
        .into());
    }
    Ok(d.partitions
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
            (p.partition, start, p.high_watermark)
        })
        .collect())
}

/// Prints new messages as they arrive, interleaving partitions, until Ctrl-C.
async fn follow(
    bus: &dyn Bus,
    args: &TailArgs,
    positions: &mut [(u32, u64, u64)],
    decoder: &mut edalab_schema::DisplayDecoder<'_>,
) -> anyhow::Result<()> {
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        for (partition, from, _) in positions.iter_mut() {
            let request = reading(&args.topic, *partition, *from, FOLLOW_WAIT);
            let read = bus.read_partition(&request);
            let (messages, next) = tokio::select! {
                _ = &mut ctrl_c => return Ok(()),
                read = read => read?,
            };
            *from = next;
            crate::output::print_messages(&messages, args.format, decoder).await?;
        }
    }
}
