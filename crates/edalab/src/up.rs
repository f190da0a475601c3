//! `edalab up`: the whole platform in one process — configuration, the bus and its seed
//! topics, the gateway (REST, `/ws`, `/metrics`, OpenAPI, UI) — until SIGINT/SIGTERM, then
//! a graceful stop (WebSocket clients closed, in-flight requests finished, bus flushed).
//!
//! Configuration layers: defaults → `config/local.yaml` (or `--config`) →
//! `EDALAB__SECTION__KEY` → `--listen` / `--data-dir` (also `EDALAB_LISTEN`,
//! `EDALAB_DATA_DIR`). A bad key stops the start with a message naming it.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use edalab_bus::{Admin, Bus, Created};
use edalab_gateway::config::{BusBackend, Config, ConfigSources, FsyncPolicy};
use edalab_gateway::{AppState, Gateway, shutdown_signal, telemetry};

use crate::cli::UpArgs;

/// The service name in logs and metrics.
const SERVICE: &str = "edalab";

pub async fn run(data_dir: Option<&Path>, args: UpArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut sources = ConfigSources::from_process(args.config.clone());
    if let Some(listen) = &args.listen {
        sources = sources.set("server.listen", listen.clone());
    }
    if let Some(dir) = data_dir {
        sources = sources.set("bus.data_dir", dir.display().to_string());
    }
    // The error names the key; `main` prints it and exits non-zero.
    let config = Config::load(&sources)?;
    if let Err(error) = telemetry::logging::init(SERVICE, &config.log) {
        eprintln!("warning: {error}");
    }
    if config.bus.backend == BusBackend::Kafka {
        anyhow::bail!(
            "bus.backend: `kafka` is not available in this build yet; use `embedded` \
             (EDALAB__BUS__BACKEND=embedded)"
        );
    }

    let data_dir = config.bus.data_dir.clone();
    let log_config = edalab_bus::log::LogConfig {
        fsync: match config.bus.fsync {
            FsyncPolicy::Always => edalab_bus::log::FsyncPolicy::Always,
            FsyncPolicy::Interval => {
                edalab_bus::log::FsyncPolicy::IntervalMs(config.bus.fsync_interval_ms)
            }
            FsyncPolicy::Never => edalab_bus::log::FsyncPolicy::Never,
        },
        ..edalab_bus::log::LogConfig::default()
    };
    let bus = crate::cli::open_for_writing_with(&data_dir, log_config)?;
    let mut created = 0;
    for (name, topic_config) in crate::seed::seed_topics() {
        match bus
            .create_topic(name, topic_config)
            .await
            .with_context(|| format!("seed topic `{name}`"))?
        {
            Created::New => created += 1,
            Created::AlreadyExists => {}
        }
    }
    let topics = bus.list_topics().await?;

    let shared: Arc<dyn Bus> = Arc::new(bus.clone());
    let state = AppState::builder(&config, shared)
        // Wired when the ledger lands: `.mount(ledger::api::mount(...))` for its S3-10
        // routes, `.health(store check)` for `postgres`/`store` in /api/v1/health, and its
        // consumers started here over `telemetry::InstrumentedBus` + `Measured`.
        // Wired when the simulator's REST layer lands: `.mount(simulator::api::mount(...))`.
        .build()
        .context("building the gateway")?;
    let gateway = Gateway::start(&config, state).await?;

    println!("edalab up: ready in {} ms", started.elapsed().as_millis());
    println!("{}", gateway.urls());
    println!(
        "  bus      embedded durable log in {} (fsync {}), {} topics ({created} created now)",
        data_dir.display(),
        match config.bus.fsync {
            FsyncPolicy::Always => "always".to_owned(),
            FsyncPolicy::Interval => format!("every {} ms", config.bus.fsync_interval_ms),
            FsyncPolicy::Never => "never".to_owned(),
        },
        topics.len()
    );
    println!("  store, ledger, simulator: not wired yet (later issues)");
    println!("  stop with Ctrl-C or SIGTERM");
    tracing::info!(
        addr = %gateway.addr(),
        data_dir = %data_dir.display(),
        "edalab up"
    );

    shutdown_signal().await;
    println!("edalab up: shutting down");
    gateway.shutdown().await.context("stopping the gateway")?;
    bus.close().await.context("closing the bus")?;
    println!("edalab up: stopped cleanly");
    Ok(())
}
