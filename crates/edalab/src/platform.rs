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
use edalab_bus::runtime::{RunSummary, RuntimeError};
use edalab_bus::{Bus, Created};
use edalab_domain::events::topics;
use edalab_gateway::config::{Config, StoreBackend};
use edalab_gateway::forward::Upstream;
use edalab_gateway::telemetry::InstrumentedBus;
use edalab_gateway::{AppState, Gateway, Mount, shutdown_signal, telemetry};
use edalab_schema::SchemaCatalog;
use edalab_services::ledger::LEDGER_GROUP;
use edalab_services::pipeline::{PgStores, PgStoresConfig, StoreChoice};
use edalab_services::{calculator, intake, saga, transactions};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::profile::{self, Access, OpenBus};

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

/// Opens the bus: on the embedded profile read-write when some service of this process
/// produces or consumes, read-only for a gateway alone; on the kafka profile a client of
/// `bus.brokers`.
async fn open_bus(config: &Config, plan: &Plan) -> anyhow::Result<OpenBus> {
    let access = if plan.writes_to_bus() {
        Access::Write
    } else {
        Access::Read
    };
    profile::open_bus(config, access, &plan.service_name()).await
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

    /// The pipelines' routes, one mount per pipeline, under `/api/v1` and at the seeds' own
    /// paths (`POST /transactions`, `/orders`), so the seeds' `curl` commands work against
    /// `up` and `serve` alike.
    fn mounts(&self) -> Vec<Mount> {
        let mut mounts = Vec::new();
        if let Some(p) = &self.transactions {
            mounts.push(crate::pipelines::mount_one(
                "transactions",
                transactions::api::openapi_router(p.state.clone()),
            ));
            mounts.push(crate::pipelines::mount_one(
                "transactions-seed",
                transactions::api::seed_openapi_router(p.state.clone()),
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
            mounts.push(crate::pipelines::mount_one(
                "orders-seed",
                saga::api::standalone_openapi_router(p.state.clone()),
            ));
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

/// Runs `plan` with `config` until SIGINT/SIGTERM (or the ledger's consumer failing): the
/// parts are assembled, the gateway serves them, then they stop in dependency order.
pub async fn run(config: Config, plan: Plan, started: Instant) -> anyhow::Result<()> {
    let _telemetry = match telemetry::init(&plan.service_name(), &config.log, &config.otlp) {
        Ok(guard) => Some(guard),
        Err(error) => {
            eprintln!("warning: {error}");
            None
        }
    };
    let parts = Parts::assemble(&config, &plan).await?;
    let gateway = Gateway::start(&config, parts.app_state(&config, &plan)?).await?;
    // The ledger's consumers start once the gateway listens.
    let mut ledger = parts
        .store
        .as_ref()
        .map(|store| start_ledger(store, &parts.shared, &parts.catalog, &parts.stop_rx));
    parts.print_banner(&config, &plan, &gateway, started);
    let failure = wait_for_the_end(ledger.as_mut()).await;
    println!("{}: shutting down", plan.label());
    parts.stop(gateway, ledger, failure, &plan).await
}

/// What one process assembled, before the gateway serves it.
struct Parts {
    bus: OpenBus,
    shared: Arc<dyn Bus>,
    topic_count: usize,
    topics_created: usize,
    simulator: Option<Arc<edalab_services::simulator::SimulationControl>>,
    pipelines: Pipelines,
    pipeline_stores: StoreChoice,
    store: Option<crate::ledger::OpenStore>,
    catalog: Arc<SchemaCatalog>,
    upstreams: Vec<Upstream>,
    stop_tx: watch::Sender<bool>,
    stop_rx: watch::Receiver<bool>,
}

impl Parts {
    /// The bus and its topics, the simulator, the pipelines with their stores, the ledger's
    /// store and the upstreams, as `plan` asks.
    async fn assemble(config: &Config, plan: &Plan) -> anyhow::Result<Self> {
        let data_dir = config.bus.data_dir.clone();
        let bus = open_bus(config, plan).await?;
        let shared: Arc<dyn Bus> = bus.shared();
        let topics_created = if bus.is_read_only() {
            0
        } else {
            create_topics(&*shared).await?
        };
        let topic_count = shared.list_topics().await?.len();
        let (stop_tx, stop_rx) = watch::channel(false);
        let simulator = start_simulator(config, plan, &shared)?;
        let pipeline_stores = open_pipeline_stores(config, plan).await?;
        let pipelines =
            Pipelines::start(plan, &shared, &data_dir, &pipeline_stores, &stop_rx).await?;
        // The simulator's S0/S4 requests and S2 files go to the pipelines in this process,
        // through their own service functions (ADR 010); without them they are skipped.
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
        let store = if plan.runs(Service::Ledger) {
            Some(profile::open_ledger_store(config).await?)
        } else {
            None
        };
        let upstreams = if plan.forwards() {
            Upstream::from_config(config)?
        } else {
            Vec::new()
        };
        Ok(Self {
            bus,
            shared,
            topic_count,
            topics_created,
            simulator,
            pipelines,
            pipeline_stores,
            store,
            catalog: Arc::new(SchemaCatalog::builtin().context("loading the schema catalog")?),
            upstreams,
            stop_tx,
            stop_rx,
        })
    }

    /// The gateway's state: every part's routes and health checks.
    fn app_state(&self, config: &Config, plan: &Plan) -> anyhow::Result<AppState> {
        let mut builder =
            AppState::builder(config, Arc::clone(&self.shared)).catalog(Arc::clone(&self.catalog));
        // The schema registry's API (ADR 016) where the gateway runs: one process owns the
        // built-in registry's file (`<data_dir>/registry/`), or relays to `registry.url`.
        if plan.runs(Service::Gateway) {
            let registry =
                edalab_gateway::registry::open(config).context("opening the schema registry")?;
            builder = builder.mount(edalab_gateway::registry::mount(registry));
        }
        if let Some(store) = &self.store {
            builder = builder
                .health(Arc::new(crate::ledger::StoreHealth(store.shared())))
                .mount(crate::ledger::mount(
                    store.shared(),
                    config.bus.backend.as_str(),
                ));
        }
        if let Some(simulator) = &self.simulator {
            builder = builder.mount(Mount::new(
                "simulator",
                edalab_services::simulator::api::openapi_router(Arc::clone(simulator)),
            ));
        }
        for mount in self.pipelines.mounts() {
            builder = builder.mount(mount);
        }
        for upstream in &self.upstreams {
            builder = builder.mount(upstream.mount()).health(upstream.health());
        }
        builder.build().context("building the gateway")
    }

    /// What runs where, once the gateway listens.
    fn print_banner(&self, config: &Config, plan: &Plan, gateway: &Gateway, started: Instant) {
        let data_dir = &config.bus.data_dir;
        println!(
            "{}: ready in {} ms",
            plan.label(),
            started.elapsed().as_millis()
        );
        println!("{}", gateway.urls());
        println!(
            "{}",
            self.bus
                .describe(config, self.topic_count, self.topics_created)
        );
        if let Some(store) = &self.store {
            println!(
                "  ledger   {} · group `{LEDGER_GROUP}` over {} banking topics, DLQ {}",
                store.describe(),
                topics::BANKING_EVENTS.len(),
                topics::SYSTEM_DLQ
            );
        }
        if self.simulator.is_some() {
            println!("  simulator: POST /api/v1/simulation/start (scenarios in scenarios/)");
        }
        if let Some(line) = self.pipelines.describe(data_dir) {
            println!("{line}");
        }
        for upstream in &self.upstreams {
            println!("  forward  {}/* → {}", upstream.prefix(), upstream.url());
        }
        println!("  stop with Ctrl-C or SIGTERM");
        tracing::info!(
            addr = %gateway.addr(),
            data_dir = %data_dir.display(),
            services = ?plan.services,
            "{}", plan.label()
        );
    }

    /// Stops in dependency order: HTTP, the simulation, the pipelines and the ledger's
    /// runtime (drained, committed), its outbox, the stores, the bus.
    async fn stop(
        self,
        gateway: Gateway,
        ledger: Option<Ledger>,
        mut failure: Option<anyhow::Error>,
        plan: &Plan,
    ) -> anyhow::Result<()> {
        // Stops a running simulation after its last batch; "not running" is fine.
        if let Some(simulator) = &self.simulator {
            let _ = simulator.stop().await;
        }
        gateway.shutdown().await.context("stopping the gateway")?;
        let _ = self.stop_tx.send(true);
        if let Some(ledger) = ledger {
            let drained = ledger.stop(failure.is_none()).await;
            failure = failure.or(drained.err());
        }
        for error in self.pipelines.join().await {
            tracing::warn!(%error, "a pipeline stopped with an error");
        }
        if let Some(store) = &self.store {
            store.close().await?;
        }
        if let StoreChoice::Postgres(stores) = &self.pipeline_stores {
            stores.close().await;
        }
        self.bus.close().await.context("closing the bus")?;
        if let Some(error) = failure {
            return Err(error);
        }
        println!("{}: stopped cleanly", plan.label());
        Ok(())
    }
}

/// Creates the seed topics and the pipelines' topics; returns how many were new.
async fn create_topics(bus: &dyn Bus) -> anyhow::Result<usize> {
    let mut created = 0;
    for (name, topic_config) in crate::seed::seed_topics()
        .into_iter()
        .chain(edalab_services::pipeline::all::topics())
    {
        if let Created::New = bus
            .create_topic(name, topic_config)
            .await
            .with_context(|| format!("creating topic `{name}`"))?
        {
            created += 1;
        }
    }
    Ok(created)
}

/// The simulator (S3-07) on the process's bus, with the configured limits.
fn start_simulator(
    config: &Config,
    plan: &Plan,
    shared: &Arc<dyn Bus>,
) -> anyhow::Result<Option<Arc<edalab_services::simulator::SimulationControl>>> {
    if !plan.runs(Service::Simulator) {
        return Ok(None);
    }
    let simulator_bus: Arc<dyn Bus> =
        Arc::new(InstrumentedBus::new(Arc::clone(shared), "simulator"));
    let options = edalab_services::simulator::ControlOptions {
        limits: edalab_services::simulator::StartLimits::new(
            config.simulator.rate_per_second_max,
            config.simulator.duration_s_max,
        ),
        ..Default::default()
    };
    let control = edalab_services::simulator::SimulationControl::new(simulator_bus, options)
        .context("starting the simulator")?;
    Ok(Some(Arc::new(control)))
}

/// The pipelines' stores: SQLite files in the data directory, or one PostgreSQL pool
/// (schema `edalab_pipelines`, ADR 017) with `store.backend: postgres`.
async fn open_pipeline_stores(config: &Config, plan: &Plan) -> anyhow::Result<StoreChoice> {
    if !(plan.runs_a_pipeline() && config.store.backend == StoreBackend::Postgres) {
        return Ok(StoreChoice::Sqlite);
    }
    let mut pg = PgStoresConfig::new(&config.store.url);
    pg.connections_max = config.store.connections_max;
    pg.acquire_timeout_ms = config.store.acquire_timeout_ms;
    let stores = PgStores::connect(&pg)
        .await
        .context("opening the pipelines' PostgreSQL stores")?;
    Ok(StoreChoice::Postgres(stores))
}

/// Waits for SIGINT/SIGTERM, or the ledger's runtime ending on its own: a failure (a bus
/// error), returned so that everything stops before it is reported.
async fn wait_for_the_end(ledger: Option<&mut Ledger>) -> Option<anyhow::Error> {
    let ledger_ends = async {
        match ledger {
            Some(ledger) => Some((&mut ledger.task).await),
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        () = shutdown_signal() => None,
        Some(result) = ledger_ends => {
            Some(match result {
                Ok(Ok(_)) => anyhow::anyhow!("the ledger consumer stopped unexpectedly"),
                Ok(Err(error)) => anyhow::Error::new(error).context("the ledger consumer failed"),
                Err(error) => anyhow::Error::new(error).context("the ledger consumer panicked"),
            })
        }
    }
}

/// The ledger's running parts.
struct Ledger {
    task: JoinHandle<Result<RunSummary, RuntimeError>>,
    outbox: JoinHandle<()>,
}

impl Ledger {
    /// After the stop signal: waits for the runtime to drain and commit when it is still
    /// `running` (not when [`wait_for_the_end`] saw it end), then for the outbox publisher.
    async fn stop(self, running: bool) -> anyhow::Result<()> {
        let mut result = Ok(());
        if running {
            result = match self.task.await {
                Ok(Ok(summary)) => {
                    tracing::info!(
                        unfinished = summary.unfinished_messages,
                        "ledger consumer drained and committed"
                    );
                    Ok(())
                }
                Ok(Err(error)) => {
                    Err(anyhow::Error::new(error).context("the ledger consumer failed"))
                }
                Err(error) => {
                    Err(anyhow::Error::new(error).context("the ledger consumer panicked"))
                }
            };
        }
        if let Err(error) = self.outbox.await {
            tracing::warn!(%error, "ledger outbox publisher panicked");
        }
        result
    }
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
