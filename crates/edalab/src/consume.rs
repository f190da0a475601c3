//! `edalab consume <topic> --group G`: a consumer-group member that prints each message
//! (`message <partition> <offset> <value>`) and commits after each batch, printing
//! `committed <partition> <offset>` once the commit is durable. The crash tests drive it;
//! it is also the kafka-console-consumer `--group` habit.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use crate::config::Config;
use edalab_bus::ConsumerConfig;

use crate::cli::ConsumeArgs;

pub async fn run(config: &Config, args: ConsumeArgs) -> anyhow::Result<()> {
    let opened = crate::cli::open_bus(config, crate::profile::Access::Write).await?;
    let bus = opened.shared();
    let mut config = ConsumerConfig::new(args.group.clone(), vec![args.topic.clone()]);
    config.poll_records_max = args.poll_records_max.max(1);
    let mut consumer = bus.consumer(config).await?;
    let mut count: u64 = 0;
    let mut last_message = Instant::now();
    let stdout = std::io::stdout();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        if args.max_messages.is_some_and(|max| count >= max) {
            break;
        }
        if args
            .idle_exit_ms
            .is_some_and(|ms| last_message.elapsed() >= Duration::from_millis(ms))
        {
            break;
        }
        let msgs = tokio::select! {
            _ = &mut ctrl_c => break,
            r = consumer.poll(Duration::from_millis(200)) => r?,
        };
        if msgs.is_empty() {
            continue;
        }
        last_message = Instant::now();
        let mut commit = BTreeMap::new();
        {
            let mut out = stdout.lock();
            for m in &msgs {
                if args.max_messages.is_some_and(|max| count >= max) {
                    break;
                }
                writeln!(
                    out,
                    "message {} {} {}",
                    m.partition,
                    m.offset,
                    String::from_utf8_lossy(&m.value)
                )?;
                commit.insert(m.topic_partition(), m.offset + 1);
                count += 1;
            }
            out.flush()?;
        }
        consumer.commit(&commit).await?;
        let mut out = stdout.lock();
        for (tp, offset) in &commit {
            writeln!(out, "committed {} {}", tp.partition, offset)?;
        }
        out.flush()?;
    }
    consumer.close().await?;
    drop(consumer);
    opened.close().await?;
    Ok(())
}
