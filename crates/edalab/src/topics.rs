//! `edalab topics list|describe|create`.

use crate::config::Config;
use edalab_bus::{Created, TopicConfig};

use crate::cli::TopicsCommand;
use crate::profile::Access;

pub async fn run(config: &Config, cmd: TopicsCommand) -> anyhow::Result<()> {
    let access = match cmd {
        TopicsCommand::Create(_) => Access::Write,
        TopicsCommand::List | TopicsCommand::Describe { .. } => Access::Read,
    };
    let opened = crate::cli::open_bus(config, access).await?;
    let bus = opened.shared();
    match cmd {
        TopicsCommand::List => {
            for t in bus.list_topics().await? {
                println!("{t}");
            }
        }
        TopicsCommand::Describe { topic } => {
            let d = bus.describe_topic(&topic).await?;
            let fmt_opt = |v: Option<u64>| v.map_or("forever".to_owned(), |v| v.to_string());
            println!(
                "topic {}  partitions {}  retention_ms {}  retention_bytes {}  compression {}  cleanup {}",
                d.name,
                d.config.partitions,
                fmt_opt(d.config.retention_ms),
                fmt_opt(d.config.retention_bytes),
                d.config.compression,
                d.config.cleanup_policy
            );
            println!("partition\tlog_start_offset\thigh_watermark\tsize_bytes");
            for p in d.partitions {
                println!(
                    "{}\t{}\t{}\t{}",
                    p.partition, p.log_start_offset, p.high_watermark, p.size_bytes
                );
            }
        }
        TopicsCommand::Create(args) => {
            let mut config = TopicConfig::with_partitions(args.partitions);
            config.retention_ms = args.retention_ms;
            config.retention_bytes = args.retention_bytes;
            config.compression = args.compression;
            match bus.create_topic(&args.topic, config).await? {
                Created::New => println!("created topic {}", args.topic),
                Created::AlreadyExists => {
                    println!("topic {} already exists with these settings", args.topic)
                }
            }
        }
    }
    opened.close().await?;
    Ok(())
}
