//! `edalab up`: the whole platform in one process — configuration, the bus and its seed
//! topics, the ledger (store, consumer runtime over the seven banking topics, outbox
//! publisher, REST routes), the gateway (REST, `/ws`, `/metrics`, OpenAPI, UI) — until
//! SIGINT/SIGTERM, then a graceful stop in dependency order: HTTP stops, the ledger's
//! runtime drains and commits, the outbox publishes what is pending, the store
//! checkpoints, the bus flushes and closes.
//!
//! Configuration layers: defaults → `config/local.yaml` (or `--config`) →
//! `EDALAB__SECTION__KEY` → `--listen` / `--data-dir` (also `EDALAB_LISTEN`,
//! `EDALAB_DATA_DIR`). A bad key stops the start with a message naming it.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use edalab_bus::runtime::{ConsumerRuntime, DlqRouting, RuntimeConfig};
use edalab_bus::{Admin, Bus, Created};
use edalab_bus::{ConsumerConfig, StartFrom};
use edalab_domain::events::topics;
use edalab_gateway::config::{BusBackend, Config, ConfigSources, FsyncPolicy, StoreBackend};
use edalab_gateway::telemetry::{InstrumentedBus, MeasuredBatch};
use edalab_gateway::{AppState, Gateway, shutdown_signal, telemetry};
use edalab_schema::SchemaCatalog;
use edalab_services::ledger::{LEDGER_GROUP, LedgerHandler, LedgerPositions, OutboxPublisher};
use tokio::sync::watch;

use crate::cli::UpArgs;

/// The service name in logs and metrics.
const SERVICE: &str = "edalab";
/// The ledger's service name in metrics (S3-13 labels).
const LEDGER_SERVICE: &str = "ledger";
/// Messages per ledger batch (one store transaction): large, for throughput (ADR 006).
const LEDGER_BATCH_SIZE_MAX: usize = 1_000;
/// Fetched, unfinished messages held per partition by the ledger's runtime.
const LEDGER_IN_FLIGHT_MESSAGES_MAX: usize = 5_000;
/// Least time between two position commits while running (always at shutdown).
const LEDGER_COMMIT_INTERVAL_MS: u64 = 200;
/// The outbox publisher's idle wake-up.
const OUTBOX_INTERVAL_MS: u64 = 1_000;

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
    for (name, topic_config) in edalab_services::pipeline::all::topics() {
        if let Created::New = bus
            .create_topic(name, topic_config)
            .await
            .with_context(|| format!("pipeline topic `{name}`"))?
        {
            created += 1;
        }
    }
    let topics = bus.list_topics().await?;

    let shared: Arc<dyn Bus> = Arc::new(bus.clone());
    let (stop_tx, stop_rx) = watch::channel(false);

    // The simulator (S3-07) and the S0/S1/S2/S4 pipelines, on the same bus.
    let simulator = Arc::new(
        edalab_services::simulator::SimulationControl::new(Arc::clone(&shared), Default::default())
            .context("starting the simulator")?,
    );
    let pipelines =
        edalab_services::pipeline::all::start_all(Arc::clone(&shared), &data_dir, stop_rx.clone())
            .await
            .context("starting the pipelines")?;
    simulator.set_sink(pipelines.simulator_sink());

    // The ledger: store, REST, health; its consumers start once the gateway listens.
    let store_url = match config.store.backend {
        StoreBackend::Sqlite => config.sqlite_path().display().to_string(),
        StoreBackend::Postgres => config.store.url.clone(),
    };
    let store = crate::ledger::OpenStore::open(&data_dir, Some(&store_url)).await?;
    let ledger_store = store.shared();
    let catalog = Arc::new(SchemaCatalog::builtin().context("loading the schema catalog")?);

    let state = AppState::builder(&config, Arc::clone(&shared))
        .catalog(Arc::clone(&catalog))
        .health(Arc::new(crate::ledger::StoreHealth(Arc::clone(
            &ledger_store,
        ))))
        .mount(crate::ledger::mount(
            Arc::clone(&ledger_store),
            config.bus.backend.as_str(),
        ))
        .mount(edalab_gateway::Mount::new(
            "simulator",
            edalab_services::simulator::api::openapi_router(Arc::clone(&simulator)),
        ))
        .mount(crate::pipelines::mount(&pipelines))
        .build()
        .context("building the gateway")?;
    let gateway = Gateway::start(&config, state).await?;

    let stopped = |mut rx: watch::Receiver<bool>| async move {
        // An error means the sender is gone: stop too.
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let ledger_bus: Arc<dyn Bus> =
        Arc::new(InstrumentedBus::new(Arc::clone(&shared), LEDGER_SERVICE));
    let handler = LedgerHandler::new(Arc::clone(&ledger_store), Arc::clone(&catalog));
    let outbox_ready = handler.outbox_ready();
    let mut consumer = ConsumerConfig::new(
        LEDGER_GROUP,
        topics::BANKING_EVENTS
            .iter()
            .map(|t| (*t).to_owned())
            .collect(),
    );
    consumer.start_from = StartFrom::Earliest;
    let mut runtime_config = RuntimeConfig::new(consumer, DlqRouting::to_topic(topics::SYSTEM_DLQ));
    runtime_config.batch_size_max = LEDGER_BATCH_SIZE_MAX;
    runtime_config.in_flight_messages_max = LEDGER_IN_FLIGHT_MESSAGES_MAX;
    runtime_config.commit_interval_ms = LEDGER_COMMIT_INTERVAL_MS;
    runtime_config.poll_timeout_ms = 200;
    let runtime = ConsumerRuntime::new(
        Arc::clone(&ledger_bus),
        runtime_config,
        MeasuredBatch::new(LEDGER_SERVICE, handler),
    )
    .with_position_store(Arc::new(LedgerPositions::new(Arc::clone(&ledger_store))));
    let mut ledger_task = tokio::spawn(runtime.run(stopped(stop_rx.clone())));
    let outbox = OutboxPublisher::new(Arc::clone(&ledger_store), Arc::clone(&ledger_bus) as _);
    let outbox_task =
        tokio::spawn(outbox.run(outbox_ready, OUTBOX_INTERVAL_MS, stopped(stop_rx.clone())));

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
    println!(
        "  ledger   {} · group `{LEDGER_GROUP}` over {} banking topics, DLQ {}",
        store.describe(),
        topics::BANKING_EVENTS.len(),
        topics::SYSTEM_DLQ
    );
    println!("  simulator: POST /api/v1/simulation/start (scenarios in scenarios/)");
    println!(
        "  pipelines: transactions (S0), calculator (S1), intake (S2: drop files in {}), orders saga (S4)",
        data_dir.join("inbox/orders").display()
    );
    println!("  stop with Ctrl-C or SIGTERM");
    tracing::info!(
        addr = %gateway.addr(),
        data_dir = %data_dir.display(),
        "edalab up"
    );

    // The ledger's runtime ending on its own is a failure (a bus error): stop everything,
    // then report it.
    let mut failure = None;
    tokio::select! {
        () = shutdown_signal() => {}
        result = &mut ledger_task => {
            failure = Some(match result {
                Ok(Ok(_)) => anyhow::anyhow!("the ledger consumer stopped unexpectedly"),
                Ok(Err(error)) => anyhow::Error::new(error).context("the ledger consumer failed"),
                Err(error) => anyhow::Error::new(error).context("the ledger consumer panicked"),
            });
        }
    }
    println!("edalab up: shutting down");
    // Stops a running simulation after its last batch; "not running" is fine.
    let _ = simulator.stop().await;
    gateway.shutdown().await.context("stopping the gateway")?;
    let _ = stop_tx.send(true);
    if failure.is_none() {
        match ledger_task.await {
            Ok(Ok(summary)) => tracing::info!(
                unfinished = summary.unfinished_messages,
                "ledger consumer drained and committed"
            ),
            Ok(Err(error)) => {
                failure = Some(anyhow::Error::new(error).context("the ledger consumer failed"))
            }
            Err(error) => {
                failure = Some(anyhow::Error::new(error).context("the ledger consumer panicked"))
            }
        }
    }
    if let Err(error) = outbox_task.await {
        tracing::warn!(%error, "ledger outbox publisher panicked");
    }
    if let Err(errors) = pipelines.join().await {
        for error in errors {
            tracing::warn!(%error, "a pipeline stopped with an error");
        }
    }
    store.close().await?;
    bus.close().await.context("closing the bus")?;
    if let Some(error) = failure {
        return Err(error);
    }
    println!("edalab up: stopped cleanly");
    Ok(())
}
