//! The assembly `edalab up` and `edalab serve` share (ADR 012): load the configuration,
//! open the bus and create the seed topics, start the chosen services on that one bus (and
//! one ledger store), mount their routes in the gateway's router, forward the prefixes of
//! services that run elsewhere, serve HTTP until SIGINT/SIGTERM, then stop gracefully in
//! dependency order: HTTP stops, the ledger's runtime drains and commits, the outbox
//! publishes what is pending, the pipelines finish, the store checkpoints, the bus flushes
//! and closes.
//!
//! - `up` = every service in one process, plus the gateway (UI, `/ws`, forwarding of any
//!   `gateway.upstreams.*` configured, in which case that service is not started here);
//! - `serve <SERVICE>...` = the named services; every such process serves HTTP (its
//!   services' routes, health, metrics, OpenAPI); `gateway` adds forwarding.
//!
//! **One bus per process on the embedded profile.** The embedded log's data directory is
//! locked by the process that opens it for writing, so services that share a bus must run
//! in the same process (`edalab serve ledger simulator`). A gateway-only process attaches
//! to the data directory read-only (health, lag) and never takes the lock. Separate
//! processes on separate machines run the kafka profile (`--profile kafka`: a
//! Kafka-protocol broker and PostgreSQL, ADR 015), where any number of processes join the
//! same consumer groups.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use clap::ValueEnum;
use edalab_bus::kafka::{KafkaBus, KafkaConfig};
use edalab_bus::log::EmbeddedBus;
use edalab_bus::runtime::{RunSummary, RuntimeError};
use edalab_bus::{Admin, Bus, BusError, Created};
use edalab_domain::events::topics;
use edalab_gateway::config::{BusBackend, Config, ConfigSources, FsyncPolicy, StoreBackend};
use edalab_gateway::forward::Upstream;
use edalab_gateway::telemetry::InstrumentedBus;
use edalab_gateway::{AppState, Gateway, Mount, shutdown_signal, telemetry};
use edalab_schema::SchemaCatalog;
use edalab_services::ledger::LEDGER_GROUP;
use edalab_services::pipeline::{PgStores, PgStoresConfig, StoreChoice};
use edalab_services::{calculator, intake, saga, transactions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A service `edalab serve` can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, ValueEnum)]
pub enum Service {
    /// The ledger: store, consumer of the banking topics, outbox, `/api/v1/bancaire/*`.
    Ledger,
    /// The traffic simulator: `/api/v1/simulation/*`, `/api/v1/events/produce`.
    Simulator,
    /// S0: `/api/v1/transactions`.
    Transactions,
    /// S1: `/api/v1/calculator`.
    Calculator,
    /// S2: the order-file intake (`<data>/inbox/orders`).
    Intake,
    /// S4: the orders saga (`/orders` and `/api/v1/orders`).
    Orders,
    /// Forwarding of `gateway.upstreams.*` to other processes.
    Gateway,
}

impl Service {
    /// Every service, in start order.
    pub const ALL: [Service; 7] = [
        Self::Simulator,
        Self::Transactions,
        Self::Calculator,
        Self::Intake,
        Self::Orders,
        Self::Ledger,
        Self::Gateway,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Ledger => "ledger",
            Self::Simulator => "simulator",
            Self::Transactions => "transactions",
            Self::Calculator => "calculator",
            Self::Intake => "intake",
            Self::Orders => "orders",
            Self::Gateway => "gateway",
        }
    }

    /// The `gateway.upstreams` key that forwards this service's prefix, if any.
    pub fn upstream_key(self) -> Option<&'static str> {
        match self {
            Self::Ledger => Some("bancaire"),
            Self::Simulator => Some("simulation"),
            _ => None,
        }
    }

    fn by_upstream_key(key: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.upstream_key() == Some(key))
    }
}

/// Which command assembles the platform (it changes the banner and the standalone routes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Up,
    Serve,
}

/// What one process runs.
#[derive(Clone, Debug)]
pub struct Plan {
    pub mode: Mode,
    pub services: BTreeSet<Service>,
}

impl Plan {
    /// `edalab up`: every service, except those `gateway.upstreams` forwards elsewhere.
    pub fn up(config: &Config) -> Self {
        let forwarded: Vec<Service> = config
            .gateway
            .upstreams
            .configured()
            .into_iter()
            .filter_map(|(key, _)| Service::by_upstream_key(key))
            .collect();
        Self {
            mode: Mode::Up,
            services: Service::ALL
                .into_iter()
                .filter(|s| !forwarded.contains(s))
                .collect(),
        }
    }

    /// `edalab serve <SERVICE>...`. A service both run here and forwarded by this
    /// process's gateway is refused, naming the key.
    pub fn serve(services: &[Service], config: &Config) -> anyhow::Result<Self> {
        let services: BTreeSet<Service> = services.iter().copied().collect();
        if services.contains(&Service::Gateway) {
            for (key, url) in config.gateway.upstreams.configured() {
                if let Some(service) =
                    Service::by_upstream_key(key).filter(|s| services.contains(s))
                {
                    anyhow::bail!(
                        "`{}` cannot both run in this process and be forwarded to {url} \
                         (gateway.upstreams.{key}); drop one of them",
                        service.name()
                    );
                }
            }
        }
        Ok(Self {
            mode: Mode::Serve,
            services,
        })
    }

    fn runs(&self, service: Service) -> bool {
        self.services.contains(&service)
    }

    /// Whether some S0/S1/S2/S4 pipeline runs here (and needs its stores).
    fn runs_a_pipeline(&self) -> bool {
        [
            Service::Transactions,
            Service::Calculator,
            Service::Intake,
            Service::Orders,
        ]
        .into_iter()
        .any(|service| self.runs(service))
    }

    /// Services that need the bus for writing (everything but the gateway).
    fn writes_to_bus(&self) -> bool {
        self.services.iter().any(|s| *s != Service::Gateway)
    }

    fn forwards(&self) -> bool {
        self.mode == Mode::Up || self.runs(Service::Gateway)
    }

    fn label(&self) -> String {
        match self.mode {
            Mode::Up => "edalab up".to_owned(),
            Mode::Serve => format!(
                "edalab serve ({})",
                self.services
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }
    }

    /// The `service` field of log lines and the OpenTelemetry `service.name`.
    fn service_name(&self) -> String {
        match self.mode {
            Mode::Up => "edalab".to_owned(),
            Mode::Serve => format!(
                "edalab-{}",
                self.services
                    .iter()
                    .map(|s| s.name())
                    .collect::<Vec<_>>()
                    .join("-")
            ),
        }
    }
}

/// Loads the layered configuration (defaults → file → `EDALAB__…` → `--listen`,
/// `--data-dir`, `--profile`, `--brokers`, `--database-url`). The error names the key;
/// `main` prints it and exits non-zero.
pub fn load_config(data_dir: Option<&Path>, args: &crate::cli::UpArgs) -> anyhow::Result<Config> {
    let mut sources = ConfigSources::from_process(args.config.clone());
    if let Some(listen) = &args.listen {
        sources = sources.set("server.listen", listen);
    }
    if let Some(dir) = data_dir {
        sources = sources.set("bus.data_dir", dir.display().to_string());
    }
    match args.profile {
        Some(crate::cli::Profile::Embedded) => {
            sources = sources
                .set("bus.backend", "embedded")
                .set("store.backend", "sqlite");
        }
        Some(crate::cli::Profile::Kafka) => {
            sources = sources
                .set("bus.backend", "kafka")
                .set("store.backend", "postgres");
        }
        None => {}
    }
    if let Some(brokers) = &args.brokers {
        sources = sources.set("bus.brokers", brokers);
    }
    if let Some(url) = &args.database_url {
        sources = sources
            .set("store.backend", "postgres")
            .set("store.url", url);
    }
    Ok(Config::load(&sources)?)
}

/// The bus this process runs on.
enum PlatformBus {
    /// The embedded durable log in the data directory.
    Embedded(EmbeddedBus),
    /// A Kafka-protocol broker.
    Kafka { bus: KafkaBus, brokers: String },
}

/// Time allowed at shutdown for the Kafka producer to deliver what it holds.
const KAFKA_FLUSH_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

impl PlatformBus {
    fn shared(&self) -> Arc<dyn Bus> {
        match self {
            Self::Embedded(bus) => Arc::new(bus.clone()),
            Self::Kafka { bus, .. } => Arc::new(bus.clone()),
        }
    }

    fn is_read_only(&self) -> bool {
        match self {
            Self::Embedded(bus) => bus.is_read_only(),
            Self::Kafka { .. } => false,
        }
    }

    async fn close(&self) -> Result<(), BusError> {
        match self {
            Self::Embedded(bus) => bus.close().await,
            Self::Kafka { bus, .. } => bus.flush(KAFKA_FLUSH_TIMEOUT).await,
        }
    }

    /// The banner's bus line.
    fn describe(&self, config: &Config, topic_count: usize, created: usize) -> String {
        match self {
            Self::Embedded(bus) if bus.is_read_only() => format!(
                "  bus      embedded durable log in {} (read-only: this process only forwards), \
                 {topic_count} topics",
                config.bus.data_dir.display()
            ),
            Self::Embedded(_) => format!(
                "  bus      embedded durable log in {} (fsync {}), {topic_count} topics \
                 ({created} created now)",
                config.bus.data_dir.display(),
                match config.bus.fsync {
                    FsyncPolicy::Always => "always".to_owned(),
                    FsyncPolicy::Interval => format!("every {} ms", config.bus.fsync_interval_ms),
                    FsyncPolicy::Never => "never".to_owned(),
                },
            ),
            Self::Kafka { brokers, .. } => format!(
                "  bus      kafka at {brokers}, {topic_count} topics ({created} created now)"
            ),
        }
    }
}

/// Connects to a Kafka-protocol broker (`bus.brokers`) with the `kafka.*` librdkafka
/// properties, and checks it answers.
pub async fn connect_kafka(
    brokers: &str,
    properties: &std::collections::BTreeMap<String, String>,
    client_id: &str,
) -> anyhow::Result<KafkaBus> {
    let config = KafkaConfig {
        brokers: brokers.to_owned(),
        client_id: client_id.to_owned(),
        properties: properties.clone(),
    };
    let bus = KafkaBus::new(config)
        .with_context(|| format!("configuring the Kafka client of {brokers}"))?;
    // A broker that does not answer fails here, by name, rather than at the first produce.
    bus.list_topics()
        .await
        .with_context(|| format!("listing the topics of the Kafka brokers {brokers}"))?;
    Ok(bus)
}

/// Opens the bus: on the embedded profile read-write when some service of this process
/// produces or consumes, read-only for a gateway alone; on the kafka profile a client of
/// `bus.brokers`.
async fn open_bus(config: &Config, plan: &Plan) -> anyhow::Result<PlatformBus> {
    if config.bus.backend == BusBackend::Kafka {
        let properties = config.kafka.flatten().map_err(|p| anyhow::anyhow!("{p}"))?;
        let bus = connect_kafka(&config.bus.brokers, &properties, &plan.service_name()).await?;
        return Ok(PlatformBus::Kafka {
            bus,
            brokers: config.bus.brokers.clone(),
        });
    }
    let data_dir = &config.bus.data_dir;
    let log_config = edalab_bus::log::LogConfig {
        fsync: match config.bus.fsync {
            FsyncPolicy::Always => edalab_bus::log::FsyncPolicy::Always,
            FsyncPolicy::Interval => {
                edalab_bus::log::FsyncPolicy::IntervalMs(config.bus.fsync_interval_ms)
            }
            FsyncPolicy::Never => edalab_bus::log::FsyncPolicy::Never,
        },
        retention_bytes_default: Some(config.bus.retention_bytes_default).filter(|b| *b > 0),
        disk_free_bytes_min: config.bus.disk_free_bytes_min,
        ..edalab_bus::log::LogConfig::default()
    };
    if !plan.writes_to_bus() {
        return EmbeddedBus::open_read_only(data_dir, log_config)
            .map(PlatformBus::Embedded)
            .with_context(|| format!("opening the bus in {} (read-only)", data_dir.display()));
    }
    match EmbeddedBus::open(data_dir, log_config) {
        Err(e @ BusError::Locked { .. }) => Err(anyhow::Error::new(e).context(format!(
            "cannot open the bus in {} for writing: another process holds it. On the embedded \
             profile one process owns a data directory's bus, so services that share a bus must \
             run in the same process (`edalab serve ledger simulator ...`, or `edalab up`); a \
             gateway alone (`edalab serve gateway`) attaches read-only. Services in separate \
             processes or machines need the kafka profile (`--profile kafka --brokers HOST:PORT \
             --database-url postgres://...`)",
            data_dir.display()
        ))),
        other => other
            .map(PlatformBus::Embedded)
            .map_err(|e| crate::repair::explain(e, data_dir))
            .with_context(|| format!("opening the bus in {}", data_dir.display())),
    }
}

/// The running S0/S1/S2/S4 pipelines of this process.
#[derive(Default)]
struct Pipelines {
    transactions: Option<transactions::Transactions>,
    calculator: Option<calculator::Calculator>,
    intake: Option<intake::Intake>,
    saga: Option<saga::Saga>,
}

impl Pipelines {
    async fn start(
        plan: &Plan,
        bus: &Arc<dyn Bus>,
        data_dir: &Path,
        stores: &StoreChoice,
        stop: &watch::Receiver<bool>,
    ) -> anyhow::Result<Self> {
        // Each pipeline produces through its own instrumented view of the bus: its records
        // carry the trace of the request that caused them, and are counted per service.
        let view = |service: &str| -> Arc<dyn Bus> {
            Arc::new(InstrumentedBus::new(Arc::clone(bus), service))
        };
        let mut out = Self::default();
        if plan.runs(Service::Transactions) {
            out.transactions = Some(
                transactions::start(view("transactions"), data_dir, stores, stop.clone())
                    .await
                    .context("starting the transactions pipeline (S0)")?,
            );
        }
        if plan.runs(Service::Calculator) {
            out.calculator = Some(
                calculator::start(view("calculator"), data_dir, stores, stop.clone())
                    .await
                    .context("starting the calculator pipeline (S1)")?,
            );
        }
        if plan.runs(Service::Intake) {
            out.intake = Some(
                intake::start(view("intake"), data_dir, stores, stop.clone())
                    .await
                    .context("starting the intake pipeline (S2)")?,
            );
        }
        if plan.runs(Service::Orders) {
            out.saga = Some(
                saga::start(view("orders"), data_dir, stores, stop.clone())
                    .await
                    .context("starting the orders saga (S4)")?,
            );
        }
        Ok(out)
    }

    /// The pipelines' routes, one mount per pipeline; with `standalone`, the saga's seed
    /// paths (`/orders`) too.
    fn mounts(&self, standalone: bool) -> Vec<Mount> {
        let mut mounts = Vec::new();
        if let Some(p) = &self.transactions {
            mounts.push(crate::pipelines::mount_one(
                "transactions",
                transactions::api::openapi_router(p.state.clone()),
            ));
        }
        if let Some(p) = &self.calculator {
            mounts.push(crate::pipelines::mount_one(
                "calculator",
                calculator::api::openapi_router(p.state.clone()),
            ));
        }
        if let Some(p) = &self.intake {
            mounts.push(crate::pipelines::mount_one(
                "intake",
                intake::api::openapi_router(p.state.clone()),
            ));
        }
        if let Some(p) = &self.saga {
            mounts.push(crate::pipelines::mount_one(
                "orders",
                saga::api::openapi_router(p.state.clone()),
            ));
            // The credit bureau's run-time fault switch (ADR 013).
            mounts.push(Mount::new(
                "saga-admin",
                saga::admin::openapi_router(saga::admin::AdminState::of(p)),
            ));
            if standalone {
                mounts.push(crate::pipelines::mount_one(
                    "orders-standalone",
                    saga::api::standalone_openapi_router(p.state.clone()),
                ));
            }
        }
        mounts
    }

    /// The banner line, as `up` always printed it when all four run.
    fn describe(&self, data_dir: &Path) -> Option<String> {
        let mut parts = Vec::new();
        if self.transactions.is_some() {
            parts.push("transactions (S0)".to_owned());
        }
        if self.calculator.is_some() {
            parts.push("calculator (S1)".to_owned());
        }
        if self.intake.is_some() {
            parts.push(format!(
                "intake (S2: drop files in {})",
                data_dir.join("inbox/orders").display()
            ));
        }
        if self.saga.is_some() {
            parts.push("orders saga (S4)".to_owned());
        }
        (!parts.is_empty()).then(|| format!("  pipelines: {}", parts.join(", ")))
    }

    /// Waits for every task of every pipeline (after the shutdown signal).
    async fn join(self) -> Vec<String> {
        let mut errors = Vec::new();
        let handles = [
            self.transactions.map(|p| p.handles),
            self.calculator.map(|p| p.handles),
            self.intake.map(|p| p.handles),
            self.saga.map(|p| p.handles),
        ];
        for handles in handles.into_iter().flatten() {
            if let Err(mut e) = handles.join().await {
                errors.append(&mut e);
            }
        }
        errors
    }
}

/// The ledger's running parts.
struct Ledger {
    task: JoinHandle<Result<RunSummary, RuntimeError>>,
    outbox: JoinHandle<()>,
}

/// Runs `plan` with `config` until SIGINT/SIGTERM (or the ledger's consumer failing).
pub async fn run(config: Config, plan: Plan, started: Instant) -> anyhow::Result<()> {
    let label = plan.label();
    let _telemetry = match telemetry::init(&plan.service_name(), &config.log, &config.otlp) {
        Ok(guard) => Some(guard),
        Err(error) => {
            eprintln!("warning: {error}");
            None
        }
    };

    let data_dir = config.bus.data_dir.clone();
    let bus = open_bus(&config, &plan).await?;
    let shared: Arc<dyn Bus> = bus.shared();
    let mut created = 0;
    if !bus.is_read_only() {
        for (name, topic_config) in crate::seed::seed_topics()
            .into_iter()
            .chain(edalab_services::pipeline::all::topics())
        {
            if let Created::New = shared
                .create_topic(name, topic_config)
                .await
                .with_context(|| format!("creating topic `{name}`"))?
            {
                created += 1;
            }
        }
    }
    let topic_count = shared.list_topics().await?.len();
    let (stop_tx, stop_rx) = watch::channel(false);

    // The simulator (S3-07) and the S0/S1/S2/S4 pipelines, on the same bus.
    let simulator = if plan.runs(Service::Simulator) {
        let simulator_bus: Arc<dyn Bus> =
            Arc::new(InstrumentedBus::new(Arc::clone(&shared), "simulator"));
        let options = edalab_services::simulator::ControlOptions {
            limits: edalab_services::simulator::StartLimits::new(
                config.simulator.rate_per_second_max,
                config.simulator.duration_s_max,
            ),
            ..Default::default()
        };
        Some(Arc::new(
            edalab_services::simulator::SimulationControl::new(simulator_bus, options)
                .context("starting the simulator")?,
        ))
    } else {
        None
    };
    // The pipelines' stores: SQLite files in the data directory, or one PostgreSQL pool
    // (schema `edalab_pipelines`, ADR 017) with `store.backend: postgres`.
    let pipeline_stores =
        if plan.runs_a_pipeline() && config.store.backend == StoreBackend::Postgres {
            let mut pg = PgStoresConfig::new(&config.store.url);
            pg.connections_max = config.store.connections_max;
            pg.acquire_timeout_ms = config.store.acquire_timeout_ms;
            StoreChoice::Postgres(
                PgStores::connect(&pg)
                    .await
                    .context("opening the pipelines' PostgreSQL stores")?,
            )
        } else {
            StoreChoice::Sqlite
        };
    let pipelines = Pipelines::start(&plan, &shared, &data_dir, &pipeline_stores, &stop_rx).await?;
    // The simulator's S0/S4 requests and S2 files go to the pipelines in this process, through
    // their own service functions (ADR 010); without them they are counted as skipped.
    if let (Some(simulator), Some(transactions), Some(saga)) =
        (&simulator, &pipelines.transactions, &pipelines.saga)
    {
        simulator.set_sink(Arc::new(
            edalab_services::pipeline::sim_sink::PipelineSink::new(
                transactions.state.clone(),
                saga.state.clone(),
                edalab_services::intake::inbox_dir(&data_dir),
            ),
        ));
    }

    // The ledger: store, REST, health; its consumers start once the gateway listens.
    let catalog = Arc::new(SchemaCatalog::builtin().context("loading the schema catalog")?);
    let store = if plan.runs(Service::Ledger) {
        Some(match config.store.backend {
            StoreBackend::Sqlite => crate::ledger::OpenStore::sqlite(&config.sqlite_path()).await?,
            StoreBackend::Postgres => {
                let mut pg = edalab_store::postgres::PgConfig::new(&config.store.url);
                pg.connections_max = config.store.connections_max;
                pg.acquire_timeout_ms = config.store.acquire_timeout_ms;
                crate::ledger::OpenStore::postgres_with(pg).await?
            }
        })
    } else {
        None
    };

    let mut builder = AppState::builder(&config, Arc::clone(&shared)).catalog(Arc::clone(&catalog));
    // The schema registry's API (ADR 016) where the gateway runs: one process owns the
    // built-in registry's file (`<data_dir>/registry/`), or relays to `registry.url`.
    if plan.runs(Service::Gateway) {
        let registry =
            edalab_gateway::registry::open(&config).context("opening the schema registry")?;
        builder = builder.mount(edalab_gateway::registry::mount(registry));
    }
    if let Some(store) = &store {
        builder = builder
            .health(Arc::new(crate::ledger::StoreHealth(store.shared())))
            .mount(crate::ledger::mount(
                store.shared(),
                config.bus.backend.as_str(),
            ));
    }
    if let Some(simulator) = &simulator {
        builder = builder.mount(edalab_gateway::Mount::new(
            "simulator",
            edalab_services::simulator::api::openapi_router(Arc::clone(simulator)),
        ));
    }
    for mount in pipelines.mounts(plan.mode == Mode::Serve) {
        builder = builder.mount(mount);
    }
    let upstreams = if plan.forwards() {
        Upstream::from_config(&config)?
    } else {
        Vec::new()
    };
    for upstream in &upstreams {
        builder = builder.mount(upstream.mount()).health(upstream.health());
    }
    let state = builder.build().context("building the gateway")?;
    let gateway = Gateway::start(&config, state).await?;

    let ledger = store
        .as_ref()
        .map(|store| start_ledger(store, &shared, &catalog, &stop_rx));

    println!("{label}: ready in {} ms", started.elapsed().as_millis());
    println!("{}", gateway.urls());
    println!("{}", bus.describe(&config, topic_count, created));
    if let Some(store) = &store {
        println!(
            "  ledger   {} · group `{LEDGER_GROUP}` over {} banking topics, DLQ {}",
            store.describe(),
            topics::BANKING_EVENTS.len(),
            topics::SYSTEM_DLQ
        );
    }
    if simulator.is_some() {
        println!("  simulator: POST /api/v1/simulation/start (scenarios in scenarios/)");
    }
    if let Some(line) = pipelines.describe(&data_dir) {
        println!("{line}");
    }
    for upstream in &upstreams {
        println!("  forward  {}/* → {}", upstream.prefix(), upstream.url());
    }
    println!("  stop with Ctrl-C or SIGTERM");
    tracing::info!(
        addr = %gateway.addr(),
        data_dir = %data_dir.display(),
        services = ?plan.services,
        "{label}"
    );

    // The ledger's runtime ending on its own is a failure (a bus error): stop everything,
    // then report it.
    let mut failure = None;
    let (mut ledger_handle, outbox_handle) = match ledger {
        Some(Ledger { task, outbox }) => (Some(task), Some(outbox)),
        None => (None, None),
    };
    {
        let ledger_ends = async {
            match ledger_handle.as_mut() {
                Some(task) => task.await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = shutdown_signal() => {}
            result = ledger_ends => {
                failure = Some(match result {
                    Ok(Ok(_)) => anyhow::anyhow!("the ledger consumer stopped unexpectedly"),
                    Ok(Err(error)) => anyhow::Error::new(error).context("the ledger consumer failed"),
                    Err(error) => anyhow::Error::new(error).context("the ledger consumer panicked"),
                });
            }
        }
    }
    println!("{label}: shutting down");
    // Stops a running simulation after its last batch; "not running" is fine.
    if let Some(simulator) = &simulator {
        let _ = simulator.stop().await;
    }
    gateway.shutdown().await.context("stopping the gateway")?;
    let _ = stop_tx.send(true);
    if let Some(task) = ledger_handle.filter(|_| failure.is_none()) {
        match task.await {
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
    if let Some(outbox) = outbox_handle
        && let Err(error) = outbox.await
    {
        tracing::warn!(%error, "ledger outbox publisher panicked");
    }
    for error in pipelines.join().await {
        tracing::warn!(%error, "a pipeline stopped with an error");
    }
    if let Some(store) = &store {
        store.close().await?;
    }
    if let StoreChoice::Postgres(stores) = &pipeline_stores {
        stores.close().await;
    }
    bus.close().await.context("closing the bus")?;
    if let Some(error) = failure {
        return Err(error);
    }
    println!("{label}: stopped cleanly");
    Ok(())
}

/// Starts the ledger's consumer runtime over the banking topics and its outbox publisher
/// (the wiring is [`crate::ledger::start`], shared with `bench e2e`).
fn start_ledger(
    store: &crate::ledger::OpenStore,
    shared: &Arc<dyn Bus>,
    catalog: &Arc<SchemaCatalog>,
    stop_rx: &watch::Receiver<bool>,
) -> Ledger {
    let running = crate::ledger::start(
        Arc::clone(shared),
        store.shared(),
        Arc::clone(catalog),
        stop_rx.clone(),
        std::convert::identity,
    );
    Ledger {
        task: running.runtime,
        outbox: running.outbox,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_runs_everything_but_what_is_forwarded() {
        let mut config = Config::default();
        let plan = Plan::up(&config);
        assert_eq!(plan.services.len(), Service::ALL.len());
        config.gateway.upstreams.bancaire = "http://127.0.0.1:8081".to_owned();
        let plan = Plan::up(&config);
        assert!(!plan.runs(Service::Ledger));
        assert!(plan.runs(Service::Simulator) && plan.runs(Service::Gateway));
        assert!(plan.forwards() && plan.writes_to_bus());
    }

    #[test]
    fn serve_refuses_a_service_both_run_here_and_forwarded() {
        let mut config = Config::default();
        config.gateway.upstreams.simulation = "http://127.0.0.1:8081".to_owned();
        let error = Plan::serve(&[Service::Gateway, Service::Simulator], &config)
            .expect_err("run here and forwarded");
        assert!(
            error.to_string().contains("gateway.upstreams.simulation"),
            "{error}"
        );
        let plan = Plan::serve(&[Service::Simulator], &config).expect("no gateway here");
        assert!(!plan.forwards() && plan.writes_to_bus());
        let plan = Plan::serve(&[Service::Gateway], &config).expect("a gateway alone");
        assert!(plan.forwards() && !plan.writes_to_bus());
        assert_eq!(plan.label(), "edalab serve (gateway)");
    }
}
