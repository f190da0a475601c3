//! The services one process can run, as one table (issue 17 §2, ADR 027): each [`Service`]
//! names the topics it needs and starts into a [`Running`] value that gives the gateway its
//! routes and health checks, prints its banner line, and stops. `up` and `serve` iterate over
//! the chosen ones, so a service answers the same routes in both (the seeds' own paths
//! included: `POST /transactions`, `/orders`).

use std::path::Path;
use std::sync::Arc;

use crate::config::Config;
use anyhow::Context as _;
use async_trait::async_trait;
use clap::ValueEnum;
use edalab_bus::runtime::MemberPool;
use edalab_bus::{Bus, QueueSpec, Queues, TopicConfig};
use edalab_domain::events::topics;
use edalab_gateway::Mount;
use edalab_gateway::forward::Upstream;
use edalab_gateway::health::HealthCheck;
use edalab_gateway::registry::LevelChanges;
use edalab_gateway::telemetry::InstrumentedBus;
use edalab_schema::{SchemaCatalog, SchemaRegistry};
use edalab_services::ledger::LEDGER_GROUP;
use edalab_services::pipeline::{self, Handles, StoreChoice};
use edalab_services::simulator::SimulationControl;
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
    /// S0: `POST /transactions` and `/api/v1/transactions`.
    Transactions,
    /// S1: `/api/v1/calculator`.
    Calculator,
    /// S2: the order-file intake (`<data>/inbox/orders`).
    Intake,
    /// S4: the orders saga (`/orders` and `/api/v1/orders`).
    Orders,
    /// The schema registry's API and the forwarding of `gateway.upstreams.*`.
    Gateway,
}

/// What a service starts with: the process's configuration, bus, pipeline stores, schema
/// catalog and stop signal.
pub struct Context<'a> {
    pub config: &'a Config,
    pub bus: &'a Arc<dyn Bus>,
    pub stores: &'a StoreChoice,
    /// The work queues on SQS (`--profile aws`); `None`: on the bus.
    pub queues: Option<&'a Arc<dyn Queues>>,
    pub catalog: &'a Arc<SchemaCatalog>,
    /// The registry the catalog was registered on; consumers learn foreign ids from it.
    pub registry: &'a Arc<dyn SchemaRegistry>,
    pub stop: &'a watch::Receiver<bool>,
}

impl Context<'_> {
    /// The bus as `service` produces through it: its records carry the trace of the request
    /// that caused them and are counted per service.
    fn bus_of(&self, service: Service) -> Arc<dyn Bus> {
        Arc::new(InstrumentedBus::new(Arc::clone(self.bus), service.name()))
    }

    fn data_dir(&self) -> &Path {
        &self.config.bus.data_dir
    }

    /// What a pipeline starts from, on `service`'s instrumented view of the bus.
    fn env(&self, service: Service) -> pipeline::Env {
        let env = pipeline::Env::new(
            self.bus_of(service),
            self.data_dir(),
            self.stores.clone(),
            self.stop.clone(),
        );
        match self.queues {
            Some(queues) => env.with_queues(Arc::clone(queues)),
            None => env,
        }
    }
}

/// What services started earlier offer to later ones: the simulator delivers its S0/S4
/// requests and S2 files to the pipelines of its process (ADR 010).
#[derive(Default)]
pub struct Links {
    transactions: Option<transactions::TransactionsState>,
    saga: Option<saga::SagaState>,
}

/// A started service, as the assembly drives it.
#[async_trait]
pub trait Running: Send + Sync {
    /// Its routes (taken once, when the gateway's state is built).
    fn take_mounts(&mut self) -> Vec<Mount>;

    /// Its health checks, beside the bus's.
    fn health(&self) -> Vec<Arc<dyn HealthCheck>> {
        Vec::new()
    }

    /// The consumer groups it runs under the consumer controls (after `take_mounts`).
    fn consumer_pools(&self) -> Vec<Arc<MemberPool>> {
        Vec::new()
    }

    /// The consumer groups run by the processes it forwards to, by name.
    fn remote_groups(&self) -> Vec<(String, Upstream)> {
        Vec::new()
    }

    /// Its lines of the start banner.
    fn banner(&self) -> Vec<String>;

    /// Starts what must wait for the gateway to listen (the ledger's consumers).
    fn begin(&mut self) {}

    /// Completes only when the service ends on its own before the stop signal: a failure,
    /// after which the process stops.
    async fn failed(&mut self) -> anyhow::Error {
        std::future::pending().await
    }

    /// Before HTTP stops: ends what feeds the others (a running simulation).
    async fn halt(&self) {}

    /// After the stop signal: waits for its tasks and closes its stores.
    async fn stop(self: Box<Self>) -> anyhow::Result<()>;
}

impl Service {
    /// Every service, in start order (the simulator after the pipelines it feeds, the
    /// ledger last: its consumers start once the gateway listens).
    pub const ALL: [Service; 7] = [
        Self::Transactions,
        Self::Calculator,
        Self::Intake,
        Self::Orders,
        Self::Simulator,
        Self::Ledger,
        Self::Gateway,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Ledger => crate::ledger::LEDGER_SERVICE,
            Self::Simulator => "simulator",
            Self::Transactions => transactions::SERVICE,
            Self::Calculator => calculator::SERVICE,
            Self::Intake => intake::SERVICE,
            Self::Orders => saga::SERVICE,
            Self::Gateway => "gateway",
        }
    }

    /// The `gateway.upstreams` key that forwards this service's prefix, if any.
    pub fn upstream_key(self) -> Option<&'static str> {
        match self {
            Self::Ledger => Some("bancaire"),
            Self::Simulator => Some("simulation"),
            Self::Orders => Some("orders"),
            _ => None,
        }
    }

    pub fn by_upstream_key(key: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.upstream_key() == Some(key))
    }

    /// Whether it runs an S0/S1/S2/S4 pipeline (and needs the pipelines' stores).
    pub fn is_pipeline(self) -> bool {
        matches!(
            self,
            Self::Transactions | Self::Calculator | Self::Intake | Self::Orders
        )
    }

    /// The topics it produces to or consumes from, with their settings.
    pub fn topics(self) -> Vec<(&'static str, TopicConfig)> {
        match self {
            Self::Ledger | Self::Simulator => crate::seed::seed_topics(),
            Self::Transactions => transactions::topics(),
            Self::Calculator => calculator::topics(),
            Self::Intake => intake::topics(),
            Self::Orders => saga::topics(),
            Self::Gateway => Vec::new(),
        }
    }

    /// The work queues it sends to or consumes (S0, S1, S2), their DLQs named in each: on
    /// the bus they are among [`Service::topics`], on SQS they are not topics at all.
    pub fn queues(self) -> Vec<QueueSpec> {
        match self {
            Self::Transactions => vec![transactions::transactions_queue()],
            Self::Calculator => vec![calculator::input_queue(), calculator::output_queue()],
            Self::Intake => vec![intake::intake_queue()],
            Self::Orders | Self::Ledger | Self::Simulator | Self::Gateway => Vec::new(),
        }
    }

    /// Starts it on `context`; `links` takes what it offers to the services after it.
    pub async fn start(
        self,
        context: &Context<'_>,
        links: &mut Links,
    ) -> anyhow::Result<Box<dyn Running>> {
        match self {
            Self::Transactions => start_transactions(context, links).await,
            Self::Calculator => start_calculator(context).await,
            Self::Intake => start_intake(context).await,
            Self::Orders => start_orders(context, links).await,
            Self::Simulator => start_simulator(context, links),
            Self::Ledger => start_ledger(context).await,
            Self::Gateway => start_gateway(context),
        }
    }
}

/// A running S0/S1/S2/S4 pipeline: its routes, its banner line, its tasks.
struct Pipeline {
    mounts: Vec<Mount>,
    banner: String,
    handles: Handles,
}

#[async_trait]
impl Running for Pipeline {
    fn take_mounts(&mut self) -> Vec<Mount> {
        std::mem::take(&mut self.mounts)
    }

    fn banner(&self) -> Vec<String> {
        vec![self.banner.clone()]
    }

    async fn stop(self: Box<Self>) -> anyhow::Result<()> {
        for error in self.handles.join().await.err().unwrap_or_default() {
            tracing::warn!(%error, "a pipeline task stopped with an error");
        }
        Ok(())
    }
}

async fn start_transactions(
    context: &Context<'_>,
    links: &mut Links,
) -> anyhow::Result<Box<dyn Running>> {
    let store = crate::profile::open_transactions(context.config).await?;
    let archive = crate::profile::open_transaction_archive(context.config).await?;
    let mut banner = "  transactions (S0): POST /transactions, /api/v1/transactions".to_owned();
    if store.is_some() {
        banner.push_str(" (DynamoDB edalab-transactions)");
    }
    if let Some(archive) = &archive {
        banner.push_str(&format!(", archived to {}", archive.describe()));
    }
    let env = context
        .env(Service::Transactions)
        .with_provided(pipeline::Provided {
            transactions: store,
            transaction_archive: archive,
            ..pipeline::Provided::default()
        });
    let p = transactions::start(&env)
        .await
        .context("starting the transactions pipeline (S0)")?;
    links.transactions = Some(p.state.clone());
    Ok(Box::new(Pipeline {
        mounts: vec![
            Mount::new(
                "transactions",
                transactions::api::openapi_router(p.state.clone()),
            ),
            Mount::new(
                "transactions-seed",
                transactions::api::seed_openapi_router(p.state),
            ),
        ],
        banner,
        handles: p.handles,
    }))
}

async fn start_calculator(context: &Context<'_>) -> anyhow::Result<Box<dyn Running>> {
    let calculations = crate::profile::open_calculations(context.config).await?;
    let banner = match calculations {
        Some(_) => "  calculator (S1): /api/v1/calculator (DynamoDB edalab-calculations)",
        None => "  calculator (S1): /api/v1/calculator",
    };
    let env = context
        .env(Service::Calculator)
        .with_provided(pipeline::Provided {
            calculations,
            ..pipeline::Provided::default()
        });
    let p = calculator::start(&env)
        .await
        .context("starting the calculator pipeline (S1)")?;
    Ok(Box::new(Pipeline {
        mounts: vec![Mount::new(
            "calculator",
            calculator::api::openapi_router(p.state),
        )],
        banner: banner.to_owned(),
        handles: p.handles,
    }))
}

async fn start_intake(context: &Context<'_>) -> anyhow::Result<Box<dyn Running>> {
    let provided = crate::profile::open_intake(context.config).await?;
    let banner = match &provided.source {
        Some(source) => format!(
            "  intake (S2): put order files under {} (DynamoDB tp-orders, CloudWatch namespace {})",
            source.describe(),
            context.config.aws.metrics_namespace
        ),
        None => format!(
            "  intake (S2): drop order files in {}",
            intake::inbox_dir(context.data_dir()).display()
        ),
    };
    let env = context
        .env(Service::Intake)
        .with_provided(pipeline::Provided {
            intake: provided,
            ..pipeline::Provided::default()
        });
    let p = intake::start(&env)
        .await
        .context("starting the intake pipeline (S2)")?;
    Ok(Box::new(Pipeline {
        mounts: vec![Mount::new("intake", intake::api::openapi_router(p.state))],
        banner,
        handles: p.handles,
    }))
}

async fn start_orders(
    context: &Context<'_>,
    links: &mut Links,
) -> anyhow::Result<Box<dyn Running>> {
    let p = saga::start(&context.env(Service::Orders))
        .await
        .context("starting the orders saga (S4)")?;
    links.saga = Some(p.state.clone());
    Ok(Box::new(Pipeline {
        mounts: vec![
            Mount::new("orders", saga::api::openapi_router(p.state.clone())),
            // The credit bureau's run-time fault switch (ADR 013).
            Mount::new(
                "saga-admin",
                saga::admin::openapi_router(saga::admin::AdminState::of(&p)),
            ),
            Mount::new("orders-seed", saga::api::standalone_openapi_router(p.state)),
        ],
        banner: "  orders saga (S4): /orders, /api/v1/orders".to_owned(),
        handles: p.handles,
    }))
}

/// The simulator (S3-07): its routes, and a running simulation stopped before HTTP stops.
struct Simulator(Arc<SimulationControl>);

#[async_trait]
impl Running for Simulator {
    fn take_mounts(&mut self) -> Vec<Mount> {
        vec![Mount::new(
            "simulator",
            edalab_services::simulator::api::openapi_router(Arc::clone(&self.0)),
        )]
    }

    fn banner(&self) -> Vec<String> {
        vec!["  simulator: POST /api/v1/simulation/start (scenarios in scenarios/)".to_owned()]
    }

    async fn halt(&self) {
        // Stops a running simulation after its last batch; "not running" is fine.
        let _ = self.0.stop().await;
    }

    async fn stop(self: Box<Self>) -> anyhow::Result<()> {
        Ok(())
    }
}

/// The simulator on the process's bus, with the configured limits, delivering to the
/// pipelines started before it here (without S0 and S4 here, those items are skipped).
fn start_simulator(context: &Context<'_>, links: &Links) -> anyhow::Result<Box<dyn Running>> {
    let limits = &context.config.simulator;
    let options = edalab_services::simulator::ControlOptions {
        limits: edalab_services::simulator::StartLimits::new(
            limits.rate_per_second_max,
            limits.duration_s_max,
        ),
        ..Default::default()
    };
    let control = SimulationControl::new(context.bus_of(Service::Simulator), options)
        .context("starting the simulator")?
        .with_catalog(Arc::clone(context.catalog));
    if let (Some(transactions), Some(saga)) = (&links.transactions, &links.saga) {
        control.set_sink(Arc::new(
            edalab_services::pipeline::sim_sink::PipelineSink::new(
                transactions.clone(),
                saga.clone(),
                intake::inbox_dir(context.data_dir()),
            ),
        ));
    }
    Ok(Box::new(Simulator(Arc::new(control))))
}

/// The ledger: its store, and its consumer runtime and outbox once the gateway listens.
struct Ledger {
    store: crate::ledger::OpenStore,
    bus: Arc<dyn Bus>,
    catalog: Arc<SchemaCatalog>,
    registry: Arc<dyn SchemaRegistry>,
    stop: watch::Receiver<bool>,
    bus_backend: &'static str,
    tasks: Option<LedgerTasks>,
}

struct LedgerTasks {
    /// The consumer group's members (one at first), under the consumer controls.
    members: Arc<MemberPool>,
    outbox: JoinHandle<()>,
}

async fn start_ledger(context: &Context<'_>) -> anyhow::Result<Box<dyn Running>> {
    Ok(Box::new(Ledger {
        store: crate::profile::open_ledger_store(context.config).await?,
        bus: Arc::clone(context.bus),
        catalog: Arc::clone(context.catalog),
        registry: Arc::clone(context.registry),
        stop: context.stop.clone(),
        bus_backend: context.config.bus.backend.as_str(),
        tasks: None,
    }))
}

#[async_trait]
impl Running for Ledger {
    /// The ledger's queries; its members are built now with the outbox publisher (`begin`
    /// starts them once the gateway listens) and put under the consumer controls.
    fn take_mounts(&mut self) -> Vec<Mount> {
        self.start_members();
        vec![crate::ledger::mount(self.store.shared(), self.bus_backend)]
    }

    fn consumer_pools(&self) -> Vec<Arc<MemberPool>> {
        self.tasks
            .iter()
            .map(|tasks| Arc::clone(&tasks.members))
            .collect()
    }

    fn health(&self) -> Vec<Arc<dyn HealthCheck>> {
        vec![Arc::new(crate::ledger::StoreHealth(self.store.shared()))]
    }

    fn banner(&self) -> Vec<String> {
        vec![format!(
            "  ledger   {} · group `{LEDGER_GROUP}` over {} banking topics, DLQ {}",
            self.store.describe(),
            topics::BANKING_EVENTS.len(),
            topics::SYSTEM_DLQ
        )]
    }

    fn begin(&mut self) {
        if let Some(tasks) = &self.tasks {
            tasks.members.begin();
        }
    }

    async fn failed(&mut self) -> anyhow::Error {
        let Some(tasks) = self.tasks.as_ref() else {
            return std::future::pending().await;
        };
        anyhow::Error::new(tasks.members.failed().await).context("the ledger consumer failed")
    }

    /// Waits for the members to drain and commit, then for the outbox publisher; closes the
    /// store.
    async fn stop(self: Box<Self>) -> anyhow::Result<()> {
        let mut result = Ok(());
        if let Some(tasks) = self.tasks {
            if let Err(failure) = tasks.members.join().await {
                result = Err(anyhow::Error::new(failure).context("the ledger consumer failed"));
            } else {
                tracing::info!("ledger consumers drained and committed");
            }
            if let Err(error) = tasks.outbox.await {
                tracing::warn!(%error, "ledger outbox publisher panicked");
            }
        }
        self.store.close().await?;
        result
    }
}

impl Ledger {
    /// Builds the consumer members over the banking topics (not started) and starts the
    /// outbox publisher (the wiring is [`crate::ledger::start_members`]).
    fn start_members(&mut self) {
        let running = crate::ledger::start_members(
            Arc::clone(&self.bus),
            self.store.shared(),
            Arc::clone(&self.catalog),
            Some(Arc::clone(&self.registry)),
            self.stop.clone(),
        );
        self.tasks = Some(LedgerTasks {
            members: running.pool,
            outbox: running.outbox,
        });
    }
}

/// The gateway: the schema registry's API (ADR 016: one process owns the built-in
/// registry's file, or relays to `registry.url`) and the forwarding to `gateway.upstreams`.
struct Gateway {
    registry: Option<Mount>,
    upstreams: Vec<Upstream>,
}

fn start_gateway(context: &Context<'_>) -> anyhow::Result<Box<dyn Running>> {
    let config = context.config;
    Ok(Box::new(Gateway {
        registry: Some(edalab_gateway::registry::mount(
            Arc::clone(context.registry),
            LevelChanges::from_config(&config.registry, &config.security),
        )),
        upstreams: Upstream::from_config(&config.gateway_settings())?,
    }))
}

#[async_trait]
impl Running for Gateway {
    fn take_mounts(&mut self) -> Vec<Mount> {
        let mut mounts: Vec<Mount> = self.registry.take().into_iter().collect();
        mounts.extend(self.upstreams.iter().map(Upstream::mount));
        mounts
    }

    fn health(&self) -> Vec<Arc<dyn HealthCheck>> {
        self.upstreams.iter().map(Upstream::health).collect()
    }

    /// The ledger's group, when its process is forwarded to.
    fn remote_groups(&self) -> Vec<(String, Upstream)> {
        self.upstreams
            .iter()
            .filter(|u| Some(u.service()) == Service::Ledger.upstream_key())
            .map(|u| (LEDGER_GROUP.to_owned(), u.clone()))
            .collect()
    }

    fn banner(&self) -> Vec<String> {
        self.upstreams
            .iter()
            .map(|u| format!("  forward  {}/* → {}", u.prefixes().join("/*, "), u.url()))
            .collect()
    }

    async fn stop(self: Box<Self>) -> anyhow::Result<()> {
        Ok(())
    }
}
