//! `edalab produce <topic>`: one message per line of standard input, batched; prints
//! `partition offset` for each message once the bus says it is durable.
//!
//! Lines are read on a blocking thread into a bounded channel; the async side takes what is
//! available (up to `--batch-records-max`) as one produce call, so a pipe of a million lines
//! goes fast while an interactive line is acknowledged at once. Empty lines are skipped.

use std::io::{BufRead, Write};

use crate::config::Config;
use anyhow::Context;
use edalab_bus::Record;
use tokio::sync::mpsc;

use crate::cli::ProduceArgs;

/// Lines read ahead of the producer at most.
const LINES_QUEUED_MAX: usize = 10_000;

pub async fn run(config: &Config, args: ProduceArgs) -> anyhow::Result<()> {
    let opened = crate::cli::open_bus(config, crate::profile::Access::Write).await?;
    let bus = opened.shared();
    // Fail on an unknown topic before reading anything.
    bus.describe_topic(&args.topic).await?;
    let headers: Vec<(String, Vec<u8>)> = args
        .headers
        .iter()
        .map(|h| {
            h.split_once('=')
                .map(|(n, v)| (n.to_owned(), v.as_bytes().to_vec()))
                .with_context(|| format!("header `{h}` is not NAME=VALUE"))
        })
        .collect::<anyhow::Result<_>>()?;
    let (tx, mut rx) = mpsc::channel::<std::io::Result<String>>(LINES_QUEUED_MAX);
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });
    let batch_max = args.batch_records_max.max(1);
    let key = args.key.map(String::into_bytes);
    let stdout = std::io::stdout();
    while let Some(first) = rx.recv().await {
        let mut lines = vec![first.context("reading standard input")?];
        while lines.len() < batch_max {
            match rx.try_recv() {
                Ok(line) => lines.push(line.context("reading standard input")?),
                Err(_) => break,
            }
        }
        let records: Vec<Record> = lines
            .into_iter()
            .filter(|l| !l.is_empty())
            .map(|l| Record {
                key: key.clone(),
                value: l.into_bytes(),
                headers: headers.clone(),
                ..Record::default()
            })
            .collect();
        if records.is_empty() {
            continue;
        }
        let deliveries = bus.produce(&args.topic, records).await?;
        let mut out = stdout.lock();
        for d in deliveries {
            writeln!(out, "{} {}", d.partition, d.offset)?;
        }
        out.flush()?;
    }
    opened.close().await?;
    Ok(())
}
