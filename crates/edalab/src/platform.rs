//! The assembly `edalab up` and `edalab serve` share (ADR 012): load the configuration,
//! open the bus and create the chosen services' topics, start those services (the table in
//! [`crate::service`]) on that one bus, mount their routes in the gateway's router, serve
//! HTTP until SIGINT/SIGTERM, then stop gracefully in dependency order: HTTP stops, the
//! ledger's runtime drains and commits, the outbox publishes what is pending, the pipelines
//! finish, the stores checkpoint, the bus flushes and closes.
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
use std::sync::Arc;
use std::time::Instant;

use crate::config::Config;
use crate::registration::Schemas;
use anyhow::Context as _;
use edalab_bus::{Bus, Created};
use edalab_gateway::dead_letters::DeadLetters;
use edalab_gateway::registry::RegistryHealth;
use edalab_gateway::telemetry::metrics::GaugeSource;
use edalab_gateway::{AppState, Gateway, shutdown_signal, telemetry};
use edalab_services::pipeline::StoreChoice;
use tokio::sync::watch;

use crate::profile::{self, Access, OpenBus};
pub use crate::service::Service;
use crate::service::{Context, Links, Running};

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

    /// The services it runs, in start order.
    fn in_start_order(&self) -> impl Iterator<Item = Service> + '_ {
        Service::ALL.into_iter().filter(|s| self.runs(*s))
    }

    /// Services that need the bus for writing (everything but the gateway).
    fn writes_to_bus(&self) -> bool {
        self.services.iter().any(|s| *s != Service::Gateway)
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

/// Runs `plan` with `config` until SIGINT/SIGTERM (or a service failing): the parts are
/// assembled, the gateway serves them, then they stop in dependency order.
pub async fn run(config: Config, plan: Plan, started: Instant) -> anyhow::Result<()> {
    let _telemetry = match telemetry::init(&plan.service_name(), &config.log, &config.otlp) {
        Ok(guard) => Some(guard),
        Err(error) => {
            eprintln!("warning: {error}");
            None
        }
    };
    // Before any service starts: the series a consumer registers at its start (its error
    // counter at 0) would be lost without a recorder.
    if config.metrics.enabled {
        telemetry::metrics::install()?;
    }
    let mut parts = Parts::assemble(&config, &plan).await?;
    let gateway = Gateway::start(&config.gateway_settings(), parts.app_state(&config)?).await?;
    // What waits for the gateway to listen (the ledger's consumers) starts now.
    for (_, running) in &mut parts.running {
        running.begin();
    }
    parts.print_banner(&config, &plan, &gateway, started);
    let failure = parts.wait_for_the_end().await;
    println!("{}: shutting down", plan.label());
    parts.stop(gateway, failure, &plan).await
}

/// What one process assembled, before the gateway serves it.
struct Parts {
    bus: OpenBus,
    shared: Arc<dyn Bus>,
    topic_count: usize,
    topics_created: usize,
    /// Where the DLQ routes find the work queues' DLQs when they are not topics of the bus
    /// (S0/S1/S2's queues on SQS).
    dead_letters: Option<Arc<dyn DeadLetters>>,
    /// The gauges of those queues (lag, DLQ depth) for `/metrics`.
    gauges: Option<Arc<dyn GaugeSource>>,
    running: Vec<(Service, Box<dyn Running>)>,
    pipeline_stores: StoreChoice,
    schemas: Schemas,
    stop_tx: watch::Sender<bool>,
}

impl Parts {
    /// The bus and the topics of the chosen services, the pipelines' stores, then every
    /// chosen service in start order.
    async fn assemble(config: &Config, plan: &Plan) -> anyhow::Result<Self> {
        let bus = open_bus(config, plan).await?;
        let shared: Arc<dyn Bus> = bus.shared();
        let queues = if plan.services.iter().any(|s| !s.queues().is_empty()) {
            profile::open_queues(config, &shared).await?
        } else {
            None
        };
        let (queues, dead_letters, gauges) = match queues {
            Some(open) => (
                Some(open.queues),
                Some(open.dead_letters),
                Some(open.gauges),
            ),
            None => (None, None, None),
        };
        let topics_created = if bus.is_read_only() {
            0
        } else {
            create_topics(&*shared, plan, queues.is_some()).await?
        };
        let topic_count = shared.list_topics().await?.len();
        let (stop_tx, stop_rx) = watch::channel(false);
        let needs_stores = plan.services.iter().any(|s| s.is_pipeline());
        let pipeline_stores = profile::open_pipeline_stores(config, needs_stores).await?;
        let schemas =
            crate::registration::open(config, plan.services.contains(&Service::Gateway)).await?;
        let context = Context {
            config,
            bus: &shared,
            stores: &pipeline_stores,
            queues: queues.as_ref(),
            catalog: &schemas.catalog,
            registry: &schemas.registry,
            stop: &stop_rx,
        };
        let mut links = Links::default();
        let mut running = Vec::new();
        for service in plan.in_start_order() {
            running.push((service, service.start(&context, &mut links).await?));
        }
        Ok(Self {
            bus,
            shared,
            topic_count,
            topics_created,
            dead_letters,
            gauges,
            running,
            pipeline_stores,
            schemas,
            stop_tx,
        })
    }

    /// The gateway's state: every service's routes and health checks.
    fn app_state(&mut self, config: &Config) -> anyhow::Result<AppState> {
        let mut builder = AppState::builder(&config.gateway_settings(), Arc::clone(&self.shared))
            .catalog(Arc::clone(&self.schemas.catalog))
            .registry(Arc::clone(&self.schemas.registry))
            .health(Arc::new(RegistryHealth::new(
                Arc::clone(&self.schemas.registry),
                &self.schemas.location,
            )));
        if let Some(dead_letters) = &self.dead_letters {
            builder = builder.dead_letters(Arc::clone(dead_letters));
        }
        if let Some(gauges) = &self.gauges {
            builder = builder.gauges(Arc::clone(gauges));
        }
        let (mut pools, mut remote) = (Vec::new(), Vec::new());
        for (_, running) in &mut self.running {
            for mount in running.take_mounts() {
                builder = builder.mount(mount);
            }
            for check in running.health() {
                builder = builder.health(check);
            }
            pools.extend(running.consumer_pools());
            remote.extend(running.remote_groups());
        }
        let admin = Arc::clone(&self.shared) as Arc<dyn edalab_bus::Admin>;
        builder = builder.mount(edalab_gateway::consumers::mount(pools, remote, admin));
        builder.build().context("building the gateway")
    }

    /// What runs where, once the gateway listens.
    fn print_banner(&self, config: &Config, plan: &Plan, gateway: &Gateway, started: Instant) {
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
        if self.dead_letters.is_some() {
            let endpoint = match config.aws.endpoint_url.as_str() {
                "" => format!("AWS in {}", config.aws.region),
                url => url.to_owned(),
            };
            println!("  queues   SQS at {endpoint} (DLQ moves by redrive policy)");
        }
        for (_, running) in &self.running {
            for line in running.banner() {
                println!("{line}");
            }
        }
        println!("  stop with Ctrl-C or SIGTERM");
        tracing::info!(
            addr = %gateway.addr(),
            data_dir = %config.bus.data_dir.display(),
            services = ?plan.services,
            "{}", plan.label()
        );
    }

    /// Waits for SIGINT/SIGTERM, or a service ending on its own: its failure, returned so
    /// that everything stops before it is reported.
    async fn wait_for_the_end(&mut self) -> Option<anyhow::Error> {
        let failures: Vec<_> = self.running.iter_mut().map(|(_, r)| r.failed()).collect();
        let first_failure = async {
            if failures.is_empty() {
                std::future::pending().await
            } else {
                futures::future::select_all(failures).await.0
            }
        };
        tokio::select! {
            () = shutdown_signal() => None,
            error = first_failure => Some(error),
        }
    }

    /// Stops in dependency order: what feeds the others (a simulation), HTTP, then every
    /// service (the ledger's runtime drains and commits, its outbox publishes), the
    /// pipelines' stores, the bus. A service's failure is reported after all stopped.
    async fn stop(
        self,
        gateway: Gateway,
        mut failure: Option<anyhow::Error>,
        plan: &Plan,
    ) -> anyhow::Result<()> {
        for (_, running) in &self.running {
            running.halt().await;
        }
        gateway.shutdown().await.context("stopping the gateway")?;
        let _ = self.stop_tx.send(true);
        for (service, running) in self.running {
            if let Err(error) = running.stop().await {
                tracing::warn!(service = service.name(), %error, "stopped with an error");
                failure = failure.or(Some(error));
            }
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

/// Creates the topics of the services `plan` runs (without their queues' when those are on
/// SQS); returns how many were new.
async fn create_topics(
    bus: &dyn Bus,
    plan: &Plan,
    queues_elsewhere: bool,
) -> anyhow::Result<usize> {
    let queue_names: Vec<String> = plan
        .in_start_order()
        .flat_map(Service::queues)
        .flat_map(|spec| [Some(spec.name), spec.dead_letter.map(|d| d.name)])
        .flatten()
        .collect();
    let is_queue = |name: &str| queues_elsewhere && queue_names.iter().any(|q| q == name);
    let mut created = 0;
    for (name, topic_config) in plan
        .in_start_order()
        .flat_map(Service::topics)
        .filter(|(name, _)| !is_queue(name))
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
        assert!(plan.runs(Service::Gateway) && plan.writes_to_bus());
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
        assert!(!plan.runs(Service::Gateway) && plan.writes_to_bus());
        let plan = Plan::serve(&[Service::Gateway], &config).expect("a gateway alone");
        assert!(plan.runs(Service::Gateway) && !plan.writes_to_bus());
        assert_eq!(plan.label(), "edalab serve (gateway)");
    }
}
