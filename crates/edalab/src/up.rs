//! `edalab up`: the whole platform in one process. Today: the bus and its seed topics; the
//! gateway, services and UI join in later issues.

use std::path::Path;

use anyhow::Context;
use edalab_bus::{Admin, Created};

use crate::cli::UpArgs;

pub async fn run(data_dir: &Path, args: UpArgs) -> anyhow::Result<()> {
    let bus = crate::cli::open_for_writing(data_dir)?;
    let mut created = 0;
    for (name, config) in crate::seed::seed_topics() {
        match bus
            .create_topic(name, config)
            .await
            .with_context(|| format!("seed topic `{name}`"))?
        {
            Created::New => created += 1,
            Created::AlreadyExists => {}
        }
    }
    let topics = bus.list_topics().await?;
    println!("edalab up: data directory {}", data_dir.display());
    println!(
        "  bus: embedded durable log (fsync always, group commit), {} topics ({created} created now)",
        topics.len()
    );
    println!(
        "  gateway on {} and web UI: not yet (later issue); services: not yet",
        args.listen
    );
    println!("  stop with Ctrl-C or SIGTERM");
    wait_for_shutdown().await?;
    println!("edalab up: shutting down");
    bus.close().await.context("closing the bus")?;
    println!("edalab up: stopped cleanly");
    Ok(())
}

async fn wait_for_shutdown() -> anyhow::Result<()> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for Ctrl-C")?,
        _ = term.recv() => {}
    }
    Ok(())
}
