//! The simulation driver (S3-07 core): [`SimulationControl`] owns at most one running
//! simulation and hands the simulator's items to the bus port.
//!
//! Owns the run loop (tick every [`PACER_TICK`], ask the [`Pacer`] what is due, generate,
//! encode, one `produce` per topic per tick), the stop conditions (`stop()`, `duration`, a
//! bus error, the shutdown future) and the status counters. Does not know HTTP (see `api`)
//! nor terminals (`edalab simulate`).
//!
//! Routes: items routed to a bus topic (`Route::Topic`, the banking events and the S1
//! calculator queue) are produced when that topic exists on the bus. Items routed over HTTP
//! (S0 `/transactions`, S4 `/orders`) or to files (S2 `orders/`) go to the [`RouteSink`]
//! the control was given ([`SimulationControl::with_sink`], [`SimulationControl::set_sink`]),
//! which answers per item accepted, refused (4xx, counted as sent and in `events_refused`)
//! or failed (`events_failed`). Items for a topic the bus does not have, or of a route no
//! sink delivers, are counted per route in `events_skipped`: nothing is lost silently.

use std::collections::{BTreeMap, HashSet};
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use edalab_bus::port::headers;
use edalab_bus::{Bus, Record};
use edalab_schema::SchemaCatalog;
use serde::Serialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use uuid::Uuid;

use super::clock::SystemClock;
use super::encode::{EncodeError, ItemEncoder};
use super::generator::{PRODUCE_COUNT_MAX, Simulator};
use super::items::{EventKind, GeneratedItem, Payload, Route};
use super::pattern::{PACER_TICK, Pacer, PacerLimits, TrafficPattern};
use super::scenario::{Scenario, ScenarioCatalogue, ScenarioSource};
use super::sink::{Delivery, Outgoing, RouteSink};

/// Highest `rate` a simulation may ever be started with: what the pacer is tested to hold
/// (S3-07, X-06). [`StartLimits`] may set a lower one.
pub const START_RATE_PER_SECOND_MAX: f64 = 50_000.0;
/// Longest `duration` a simulation may ever be started with: 30 days (0 means until
/// stopped). [`StartLimits`] may set a shorter one.
pub const START_DURATION_S_MAX: f64 = 30.0 * 24.0 * 3600.0;
/// Most pacer batches emitted in one tick when the run is behind; the rest waits for the
/// next tick so that `stop()` is heard within a bounded time.
const CATCH_UP_BATCHES_MAX: usize = 16;
/// Scenario used by `produce_now`, which keeps its own account book across calls.
const PRODUCE_SCENARIO: &str = "default";

/// One invalid request field (the domain's).
pub use edalab_domain::validation::FieldError;

/// Why a control call was refused.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("a simulation is already running ({simulation_id})")]
    AlreadyRunning { simulation_id: Uuid },
    #[error("no simulation is running")]
    NotRunning,
    #[error("invalid request: {}", .0.iter().map(|e| format!("`{}`: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    #[error("bus error: {0}")]
    Bus(#[from] edalab_bus::BusError),
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The route sink could not deliver (the platform behind it is unavailable).
    #[error("delivery failed: {0}")]
    Delivery(String),
}

/// What `start` is asked for. `rate` defaults to the scenario's nominal rate, `duration` to
/// its `duration_s`, `pattern` to its own shape, `seed` to one drawn from the clock (the
/// status answers it, so the run can be replayed).
#[derive(Debug, Clone, PartialEq)]
pub struct StartRequest {
    /// A catalogue name (what the REST API sends), or a local file (the CLI only).
    pub scenario: ScenarioSource,
    /// Events per second, `0 < rate <=` [`StartLimits::rate_per_second_max`].
    pub rate: Option<f64>,
    /// Seconds, `<=` [`StartLimits::duration_s_max`]; 0 runs until stopped.
    pub duration: Option<f64>,
    /// `constant`, `ramp`, `burst` or `sine` (see [`TrafficPattern::named`]).
    pub pattern: Option<String>,
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StartResponse {
    #[schema(value_type = String)]
    pub simulation_id: Uuid,
    /// `running`.
    #[schema(value_type = String)]
    pub status: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StopResponse {
    /// `stopped`.
    #[schema(value_type = String)]
    pub status: &'static str,
    pub events_produced: u64,
}

/// `GET /api/v1/simulation/status`. The first five fields are S3-07's; the others say what
/// runs and why it stopped.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StatusResponse {
    /// `running` or `stopped`.
    #[schema(value_type = String, pattern = "^(running|stopped)$")]
    pub status: &'static str,
    /// `null` before the first start.
    #[schema(value_type = Option<String>)]
    pub simulation_id: Option<Uuid>,
    pub events_produced: u64,
    /// RFC 3339, `null` before the first start.
    pub started_at: Option<String>,
    /// Items generated per second (sent or skipped): over the last second while running,
    /// the run's average once stopped.
    pub rate_actual: f64,
    pub scenario: Option<String>,
    #[schema(value_type = Option<String>)]
    pub pattern: Option<&'static str>,
    pub rate: Option<f64>,
    pub duration: Option<f64>,
    pub seed: Option<u64>,
    pub stopped_at: Option<String>,
    /// Events the run will produce when it has a duration (the pattern's integral), for
    /// progress bars; `null` for a run until stopped.
    pub events_expected: Option<u64>,
    /// Why the run stopped by itself on an error (a bus error), if it did.
    pub error: Option<String>,
    /// Events produced (sent: produced on the bus, answered by the HTTP API, written as a
    /// file), by event type.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub events_by_type: BTreeMap<&'static str, u64>,
    /// Of the sent items, those the receiving API refused at once (HTTP 4xx: the scenario's
    /// invalid and poison S0/S4 items), by event type.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub events_refused: BTreeMap<&'static str, u64>,
    /// Items generated but not sent, by route: no bus topic, or no sink for an HTTP or file
    /// route (see the module documentation).
    #[schema(value_type = BTreeMap<String, u64>)]
    pub events_skipped: BTreeMap<&'static str, u64>,
    /// Items the route sink could not deliver (platform unreachable, 5xx, file not
    /// written), by route.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub events_failed: BTreeMap<&'static str, u64>,
    /// The last delivery failure's reason, if any.
    pub delivery_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct ProduceResponse {
    /// Events sent: produced on the bus, answered by the HTTP API (S0, S4), written into
    /// the intake's inbox (S2).
    pub events_produced: u64,
    /// Ids of the produced events, in order (the simulator's tracking ids for S0/S1/S2/S4
    /// items). Accounts opened first (for a banking type that needs accounts) are included.
    #[schema(value_type = Vec<String>)]
    pub event_ids: Vec<Uuid>,
    /// What the receiving side calls each accepted S0/S2/S4 item, in order:
    /// `transactionId`, `orderId`, the order file's name. Empty for bus events.
    pub references: Vec<String>,
    /// Of the sent items, those the receiving API refused (always 0 for valid items).
    pub events_refused: u64,
    /// Items that could not be sent, by route.
    #[schema(value_type = BTreeMap<String, u64>)]
    pub events_skipped: BTreeMap<&'static str, u64>,
}

/// Settings of a [`SimulationControl`].
#[derive(Debug, Clone)]
pub struct ControlOptions {
    /// Where scenario files are looked up by name (`<dir>/<name>.toml`) before the built-in
    /// ones.
    pub scenarios_dir: Option<PathBuf>,
    /// Bounds of a start's `rate` and `duration`.
    pub limits: StartLimits,
}

impl Default for ControlOptions {
    fn default() -> Self {
        Self {
            scenarios_dir: Some(PathBuf::from("scenarios")),
            limits: StartLimits::default(),
        }
    }
}

/// The highest `rate` and longest `duration` a start may ask for (`simulator.
/// rate_per_second_max`, `simulator.duration_s_max` in the configuration); above them a
/// start is refused with a 400 naming the field and the limit. Never above
/// [`START_RATE_PER_SECOND_MAX`] and [`START_DURATION_S_MAX`], the default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StartLimits {
    rate_per_second_max: f64,
    duration_s_max: f64,
}

impl Default for StartLimits {
    fn default() -> Self {
        Self {
            rate_per_second_max: START_RATE_PER_SECOND_MAX,
            duration_s_max: START_DURATION_S_MAX,
        }
    }
}

impl StartLimits {
    /// The given limits, each brought within `1..=` its ceiling.
    pub fn new(rate_per_second_max: u32, duration_s_max: u64) -> Self {
        Self {
            rate_per_second_max: f64::from(rate_per_second_max.max(1))
                .min(START_RATE_PER_SECOND_MAX),
            duration_s_max: (duration_s_max.max(1) as f64).min(START_DURATION_S_MAX),
        }
    }

    pub fn rate_per_second_max(&self) -> f64 {
        self.rate_per_second_max
    }

    pub fn duration_s_max(&self) -> f64 {
        self.duration_s_max
    }

    /// The errors of `rate` and `duration` against these limits.
    fn errors(&self, rate: Option<f64>, duration: Option<f64>) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if let Some(rate) = rate
            && (!rate.is_finite() || rate <= 0.0 || rate > self.rate_per_second_max)
        {
            errors.push(FieldError::new(
                "rate",
                format!(
                    "must be > 0 and <= {} events per second (simulator.rate_per_second_max), \
                     got {rate}",
                    self.rate_per_second_max
                ),
            ));
        }
        if let Some(duration) = duration
            && (!duration.is_finite() || !(0.0..=self.duration_s_max).contains(&duration))
        {
            errors.push(FieldError::new(
                "duration",
                format!(
                    "must be within 0..={} seconds (simulator.duration_s_max; 0 = until \
                     stopped), got {duration}",
                    self.duration_s_max
                ),
            ));
        }
        errors
    }
}

/// A validated start request.
struct Plan {
    scenario_name: String,
    simulator: Simulator<SystemClock>,
    pattern: TrafficPattern,
    rate: f64,
    /// `None`: until stopped.
    duration: Option<Duration>,
    duration_s: f64,
    seed: u64,
}

/// Counters of one run, shared between its task and the control.
#[derive(Debug, Default)]
struct RunCounters {
    running: bool,
    events_produced: u64,
    rate_actual: f64,
    events_by_type: BTreeMap<&'static str, u64>,
    events_refused: BTreeMap<&'static str, u64>,
    events_skipped: BTreeMap<&'static str, u64>,
    events_failed: BTreeMap<&'static str, u64>,
    delivery_error: Option<String>,
    error: Option<String>,
    stopped_at: Option<DateTime<Utc>>,
}

struct Run {
    id: Uuid,
    started_at: DateTime<Utc>,
    scenario: String,
    pattern: &'static str,
    rate: f64,
    duration_s: f64,
    seed: u64,
    events_expected: Option<u64>,
    counters: Arc<Mutex<RunCounters>>,
    stop_tx: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

/// Owns at most one running simulation over a bus. Share it behind an `Arc`.
pub struct SimulationControl {
    /// `None`: a control without a bus ([`SimulationControl::without_bus`]); every
    /// topic-routed item is then counted as not sent.
    bus: Option<Arc<dyn Bus>>,
    encoder: ItemEncoder,
    options: ControlOptions,
    /// Where HTTP- and file-routed items go; `None`: they are counted as not sent. A std
    /// lock, never held across an `.await` (the `Arc` is cloned out).
    sink: RwLock<Option<Arc<dyn RouteSink>>>,
    /// The current or last run. A std mutex: it is never held across an `.await`.
    run: Mutex<Option<Run>>,
    /// `produce_now`'s own simulator, created on first use. A tokio mutex, held across the
    /// produce, so that two calls cannot reorder one account's events on the bus.
    manual: tokio::sync::Mutex<Option<Simulator<SystemClock>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves only counters behind: keep serving them.
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn seed_from_clock() -> u64 {
    // Only a default: the status reports it so the run can be replayed with `seed`.
    Utc::now()
        .timestamp_nanos_opt()
        .unwrap_or_default()
        .unsigned_abs()
}

impl SimulationControl {
    pub fn new(bus: Arc<dyn Bus>, options: ControlOptions) -> Result<Self, EncodeError> {
        Self::with_bus(Some(bus), options)
    }

    /// A control with no bus, for a driver that can deliver only through its route sink
    /// (`edalab simulate --target` next to a running platform that holds the data
    /// directory): topic-routed items are counted in `events_skipped` under their topic.
    pub fn without_bus(options: ControlOptions) -> Result<Self, EncodeError> {
        Self::with_bus(None, options)
    }

    fn with_bus(bus: Option<Arc<dyn Bus>>, options: ControlOptions) -> Result<Self, EncodeError> {
        Ok(Self {
            bus,
            encoder: ItemEncoder::builtin()?,
            options,
            sink: RwLock::new(None),
            run: Mutex::new(None),
            manual: tokio::sync::Mutex::new(None),
        })
    }

    /// Frames banking events with `catalog`'s schema ids (those the platform registered on
    /// its registry) instead of the built-in ones.
    pub fn with_catalog(mut self, catalog: Arc<SchemaCatalog>) -> Self {
        self.encoder = ItemEncoder::with_catalog(catalog);
        self
    }

    /// Sends HTTP- and file-routed items (S0, S2, S4) to `sink`.
    pub fn with_sink(self, sink: Arc<dyn RouteSink>) -> Self {
        self.set_sink(sink);
        self
    }

    /// Sends HTTP- and file-routed items to `sink` from the next start or produce on (for a
    /// platform that builds the control before the pipelines it feeds). A running
    /// simulation keeps the sink it started with.
    pub fn set_sink(&self, sink: Arc<dyn RouteSink>) {
        *self
            .sink
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(sink);
    }

    /// The bus's topics; none without a bus.
    async fn topics(&self) -> Result<HashSet<String>, SimError> {
        Ok(match &self.bus {
            Some(bus) => bus.list_topics().await?.into_iter().collect(),
            None => HashSet::new(),
        })
    }

    fn sink(&self) -> Option<Arc<dyn RouteSink>> {
        self.sink
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Stops the running simulation when `shutdown` completes.
    pub fn stop_on(self: &Arc<Self>, shutdown: impl Future<Output = ()> + Send + 'static) {
        let control = Arc::downgrade(self);
        tokio::spawn(async move {
            shutdown.await;
            if let Some(control) = control.upgrade() {
                let _ = control.stop().await;
            }
        });
    }

    /// Checks every field of `request` and answers all the errors at once.
    fn plan(&self, request: &StartRequest) -> Result<Plan, Vec<FieldError>> {
        let mut errors = Vec::new();
        let catalogue = ScenarioCatalogue::new(self.options.scenarios_dir.clone());
        let scenario = catalogue
            .resolve(&request.scenario)
            .map_err(|e| errors.push(FieldError::new("scenario", e.to_string())))
            .ok();
        let limits = self.options.limits;
        errors.extend(limits.errors(request.rate, request.duration));
        if let Some(name) = &request.pattern
            && !TrafficPattern::NAMES.contains(&name.as_str())
        {
            errors.push(FieldError::new(
                "pattern",
                format!(
                    "unknown pattern `{}` (one of {})",
                    edalab_domain::validation::excerpt(name, 64),
                    TrafficPattern::NAMES.join(", ")
                ),
            ));
        }
        let Some(scenario) = scenario else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        // A scenario's own rate and duration (the operator's files) are brought within the
        // limits; a client's were checked above.
        let rate = request
            .rate
            .unwrap_or_else(|| scenario.pattern.nominal_rate_per_second())
            .min(limits.rate_per_second_max());
        let duration_s = request
            .duration
            .unwrap_or((scenario.duration_s as f64).min(limits.duration_s_max()));
        let pattern = match &request.pattern {
            Some(name) => TrafficPattern::named(name, rate),
            None => Some(scenario.pattern.scaled_to(rate)),
        }
        .unwrap_or_else(|| TrafficPattern::constant(rate));
        // A named ramp reaches its rate within a short run too.
        let pattern = match pattern {
            TrafficPattern::Ramp {
                from_per_second,
                to_per_second,
                ramp_s,
            } if request.pattern.is_some() && duration_s > 0.0 => TrafficPattern::Ramp {
                from_per_second,
                to_per_second,
                ramp_s: ramp_s.min(duration_s),
            },
            other => other,
        };
        if let Err(message) = pattern.validate() {
            return Err(vec![FieldError::new("pattern", message)]);
        }
        let duration = (duration_s > 0.0).then(|| Duration::from_secs_f64(duration_s));
        let seed = request.seed.unwrap_or_else(seed_from_clock);
        let scenario_name = scenario.name.clone();
        let simulator = Simulator::new(scenario, seed, SystemClock::new())
            .map_err(|e| vec![FieldError::new("scenario", e.to_string())])?;
        Ok(Plan {
            scenario_name,
            simulator,
            pattern,
            rate,
            duration,
            duration_s,
            seed,
        })
    }

    /// Starts a simulation; refused while one runs. The request is checked first, so an
    /// invalid one is answered as such (400) whether or not a simulation runs.
    pub async fn start(&self, request: StartRequest) -> Result<StartResponse, SimError> {
        let plan = self.plan(&request).map_err(SimError::Invalid)?;
        if let Some(simulation_id) = self.running_id() {
            return Err(SimError::AlreadyRunning { simulation_id });
        }
        let topics = self.topics().await?;

        let mut slot = lock(&self.run);
        // Checked again under the lock: another start may have won meanwhile.
        if let Some(run) = slot.as_ref()
            && lock(&run.counters).running
        {
            return Err(SimError::AlreadyRunning {
                simulation_id: run.id,
            });
        }
        let id = Uuid::now_v7();
        let counters = Arc::new(Mutex::new(RunCounters {
            running: true,
            ..RunCounters::default()
        }));
        let (stop_tx, stop_rx) = oneshot::channel();
        let pattern_name = plan.pattern.kind_name();
        let run = Run {
            id,
            started_at: Utc::now(),
            scenario: plan.scenario_name.clone(),
            pattern: pattern_name,
            rate: plan.rate,
            duration_s: plan.duration_s,
            seed: plan.seed,
            events_expected: plan
                .duration
                .map(|d| (plan.pattern.events_until(d) + 1e-6).floor() as u64),
            counters: counters.clone(),
            stop_tx: Some(stop_tx),
            task: None,
        };
        let driver = Driver {
            bus: self.bus.clone(),
            encoder: self.encoder.clone(),
            topics,
            sink: self.sink(),
            counters,
        };
        let task = tokio::spawn(driver.run(plan, stop_rx));
        tracing::info!(simulation_id = %id, scenario = %run.scenario, rate = run.rate, "simulation started");
        *slot = Some(Run {
            task: Some(task),
            ..run
        });
        Ok(StartResponse {
            simulation_id: id,
            status: "running",
        })
    }

    fn running_id(&self) -> Option<Uuid> {
        let slot = lock(&self.run);
        slot.as_ref()
            .filter(|run| lock(&run.counters).running)
            .map(|run| run.id)
    }

    /// Stops the running simulation and waits for its last batch to be produced.
    pub async fn stop(&self) -> Result<StopResponse, SimError> {
        let (stop_tx, task, counters) = {
            let mut slot = lock(&self.run);
            let Some(run) = slot.as_mut() else {
                return Err(SimError::NotRunning);
            };
            if !lock(&run.counters).running {
                return Err(SimError::NotRunning);
            }
            let Some(stop_tx) = run.stop_tx.take() else {
                // Another `stop` is already stopping it.
                return Err(SimError::NotRunning);
            };
            (stop_tx, run.task.take(), run.counters.clone())
        };
        // The task may have ended on its own meanwhile; then the send fails harmlessly.
        let _ = stop_tx.send(());
        if let Some(task) = task
            && let Err(error) = task.await
        {
            tracing::error!(%error, "simulation task failed");
            let mut c = lock(&counters);
            c.running = false;
            c.error
                .get_or_insert_with(|| format!("simulation task failed: {error}"));
        }
        let events_produced = lock(&counters).events_produced;
        Ok(StopResponse {
            status: "stopped",
            events_produced,
        })
    }

    /// Waits until the running simulation (if any) has stopped by itself (duration reached,
    /// bus error) or been stopped.
    pub async fn wait(&self) {
        let task = {
            let mut slot = lock(&self.run);
            slot.as_mut().and_then(|run| run.task.take())
        };
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    pub fn status(&self) -> StatusResponse {
        let slot = lock(&self.run);
        let Some(run) = slot.as_ref() else {
            return StatusResponse {
                status: "stopped",
                simulation_id: None,
                events_produced: 0,
                started_at: None,
                rate_actual: 0.0,
                scenario: None,
                pattern: None,
                rate: None,
                duration: None,
                seed: None,
                stopped_at: None,
                events_expected: None,
                error: None,
                events_by_type: BTreeMap::new(),
                events_refused: BTreeMap::new(),
                events_skipped: BTreeMap::new(),
                events_failed: BTreeMap::new(),
                delivery_error: None,
            };
        };
        let c = lock(&run.counters);
        StatusResponse {
            status: if c.running { "running" } else { "stopped" },
            simulation_id: Some(run.id),
            events_produced: c.events_produced,
            started_at: Some(rfc3339(run.started_at)),
            rate_actual: c.rate_actual,
            scenario: Some(run.scenario.clone()),
            pattern: Some(run.pattern),
            rate: Some(run.rate),
            duration: Some(run.duration_s),
            seed: Some(run.seed),
            stopped_at: c.stopped_at.map(rfc3339),
            events_expected: run.events_expected,
            error: c.error.clone(),
            events_by_type: c.events_by_type.clone(),
            events_refused: c.events_refused.clone(),
            events_skipped: c.events_skipped.clone(),
            events_failed: c.events_failed.clone(),
            delivery_error: c.delivery_error.clone(),
        }
    }

    /// Produces `count` valid events of `event_type` now, independently of any running
    /// simulation (from a simulator of the `default` scenario that keeps its accounts
    /// across calls). S0/S2/S4 items go through the route sink; without one they are
    /// answered in `events_skipped`. A delivery failure is an error (503 over REST).
    pub async fn produce_now(
        &self,
        event_type: &str,
        count: u64,
    ) -> Result<ProduceResponse, SimError> {
        let errors = produce_errors(event_type, i64::try_from(count).unwrap_or(i64::MAX));
        let Some(kind) = EventKind::from_wire_name(event_type).filter(|_| errors.is_empty()) else {
            return Err(SimError::Invalid(errors));
        };
        let topics = self.topics().await?;
        let mut manual = self.manual.lock().await;
        let simulator = match manual.take() {
            Some(simulator) => manual.insert(simulator),
            None => manual.insert(manual_simulator()?),
        };
        let items = simulator
            .produce(kind, count as usize)
            .map_err(|e| SimError::Invalid(vec![FieldError::new("count", e.to_string())]))?;
        let sink = self.sink();
        let batch = encode_batch(&self.encoder, &items, &topics, sink.as_deref())?;
        produce(self.bus.as_deref(), batch.records_by_topic).await?;
        let tally = deliver(sink.as_deref(), &batch.outgoing).await;
        if let Some(error) = tally.last_error {
            return Err(SimError::Delivery(error));
        }
        // Bus events and routed items, in the order they were generated.
        let sent: HashSet<Uuid> = batch
            .produced
            .iter()
            .chain(&tally.sent)
            .map(|(id, _)| *id)
            .collect();
        let event_ids: Vec<Uuid> = items
            .iter()
            .map(|item| item.id)
            .filter(|id| sent.contains(id))
            .collect();
        Ok(ProduceResponse {
            events_produced: event_ids.len() as u64,
            event_ids,
            references: tally.references,
            events_refused: tally.refused.values().sum(),
            events_skipped: batch.skipped,
        })
    }
}

/// The field errors of a `produce_now` request (unknown `event_type`, `count` out of
/// `1..=10 000`), all at once.
pub fn produce_errors(event_type: &str, count: i64) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if EventKind::from_wire_name(event_type).is_none() {
        errors.push(FieldError::new(
            "event_type",
            format!(
                "unknown event type `{event_type}` (one of {})",
                EventKind::ALL.map(|k| k.wire_name()).join(", ")
            ),
        ));
    }
    if !(1..=PRODUCE_COUNT_MAX as i64).contains(&count) {
        errors.push(FieldError::new(
            "count",
            format!("must be within 1..={PRODUCE_COUNT_MAX}, got {count}"),
        ));
    }
    errors
}

/// The simulator behind `produce_now`.
fn manual_simulator() -> Result<Simulator<SystemClock>, SimError> {
    let invalid = |e: String| SimError::Invalid(vec![FieldError::new("event_type", e)]);
    let scenario = Scenario::builtin(PRODUCE_SCENARIO).map_err(|e| invalid(e.to_string()))?;
    Simulator::new(scenario, seed_from_clock(), SystemClock::new())
        .map_err(|e| invalid(e.to_string()))
}

/// One tick's items, encoded: grouped per topic, or for the route sink.
struct EncodedBatch {
    records_by_topic: BTreeMap<&'static str, Vec<Record>>,
    /// (id, kind) of the items in `records_by_topic`.
    produced: Vec<(Uuid, EventKind)>,
    /// Items for the route sink, in generation order.
    outgoing: Vec<Outgoing>,
    skipped: BTreeMap<&'static str, u64>,
}

/// What the route sink made of a batch.
#[derive(Default)]
struct DeliveryTally {
    /// (id, kind) of the sent items (accepted or refused).
    sent: Vec<(Uuid, EventKind)>,
    /// Refused items by event type.
    refused: BTreeMap<&'static str, u64>,
    /// Failed items by route.
    failed: BTreeMap<&'static str, u64>,
    last_error: Option<String>,
    /// References of the accepted items, in order.
    references: Vec<String>,
}

/// Hands `outgoing` to `sink` and tallies the answers. A sink answering fewer deliveries
/// than items has failed the rest.
async fn deliver(sink: Option<&dyn RouteSink>, outgoing: &[Outgoing]) -> DeliveryTally {
    let mut tally = DeliveryTally::default();
    let Some(sink) = sink.filter(|_| !outgoing.is_empty()) else {
        return tally;
    };
    let deliveries = sink.deliver(outgoing).await;
    for (index, item) in outgoing.iter().enumerate() {
        let delivery = deliveries.get(index).cloned().unwrap_or(Delivery::Failed {
            reason: "the sink answered no delivery for this item".to_owned(),
        });
        match delivery {
            Delivery::Accepted { reference } => {
                tally.sent.push((item.id, item.kind));
                tally
                    .references
                    .push(reference.unwrap_or_else(|| item.id.to_string()));
            }
            Delivery::Refused { status, .. } => {
                tally.sent.push((item.id, item.kind));
                *tally.refused.entry(item.kind.wire_name()).or_default() += 1;
                tracing::debug!(id = %item.id, status, "simulator: item refused, as invalid items are");
            }
            Delivery::Failed { reason } => {
                *tally.failed.entry(item.route.name()).or_default() += 1;
                tally.last_error = Some(format!(
                    "{} {}: {reason}",
                    item.kind.wire_name(),
                    item.route.name()
                ));
            }
        }
    }
    tally
}

fn content_type(item: &GeneratedItem) -> &'static str {
    match &item.payload {
        Payload::Banking(_) => "application/vnd.confluent.avro",
        Payload::Poison { kind, .. } if kind.is_banking() => "application/vnd.confluent.avro",
        _ => "application/json",
    }
}

fn encode_batch(
    encoder: &ItemEncoder,
    items: &[GeneratedItem],
    topics: &HashSet<String>,
    sink: Option<&dyn RouteSink>,
) -> Result<EncodedBatch, EncodeError> {
    let mut batch = EncodedBatch {
        records_by_topic: BTreeMap::new(),
        produced: Vec::with_capacity(items.len()),
        outgoing: Vec::new(),
        skipped: BTreeMap::new(),
    };
    for item in items {
        match item.route {
            Route::Topic(topic) if topics.contains(topic) => {
                let record = Record::new(Some(item.key.as_bytes().to_vec()), encoder.encode(item)?)
                    .with_header(headers::EVENT_ID, item.id.to_string())
                    .with_header(headers::EVENT_TYPE, item.kind().wire_name())
                    .with_header(headers::CONTENT_TYPE, content_type(item));
                batch
                    .records_by_topic
                    .entry(topic)
                    .or_default()
                    .push(record);
                batch.produced.push((item.id, item.kind()));
            }
            route @ (Route::HttpPost(_) | Route::File(_))
                if sink.is_some_and(|sink| sink.delivers(route)) =>
            {
                batch
                    .outgoing
                    .push(Outgoing::new(item, encoder.encode(item)?));
            }
            route => *batch.skipped.entry(route.name()).or_default() += 1,
        }
    }
    Ok(batch)
}

/// Produces each topic's records; `records_by_topic` is empty without a bus (no topics).
async fn produce(
    bus: Option<&dyn Bus>,
    records_by_topic: BTreeMap<&'static str, Vec<Record>>,
) -> Result<(), SimError> {
    if let Some(bus) = bus {
        for (topic, records) in records_by_topic {
            bus.produce(topic, records).await?;
        }
    }
    Ok(())
}

/// What the run task owns.
struct Driver {
    bus: Option<Arc<dyn Bus>>,
    encoder: ItemEncoder,
    /// Topics present on the bus when the run started.
    topics: HashSet<String>,
    /// The route sink when the run started.
    sink: Option<Arc<dyn RouteSink>>,
    counters: Arc<Mutex<RunCounters>>,
}

impl Driver {
    async fn run(self, plan: Plan, mut stop_rx: oneshot::Receiver<()>) {
        let Plan {
            mut simulator,
            pattern,
            duration,
            ..
        } = plan;
        let limits = PacerLimits::default();
        let mut pacer = Pacer::with_limits(pattern, limits);
        let mut items = Vec::with_capacity(limits.batch_size_max as usize);
        let mut interval = tokio::time::interval(PACER_TICK);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let started = tokio::time::Instant::now();
        let mut error = None;
        'run: loop {
            tokio::select! {
                // A stop request, or the control dropped.
                _ = &mut stop_rx => break 'run,
                _ = interval.tick() => {}
            }
            let mut elapsed = started.elapsed();
            let last = match duration {
                Some(d) if elapsed >= d => {
                    elapsed = d;
                    true
                }
                _ => false,
            };
            // The last tick drains what is due, so a run of `duration` gives its integral.
            let batches_max = if last {
                usize::MAX
            } else {
                CATCH_UP_BATCHES_MAX
            };
            for _ in 0..batches_max {
                let due = pacer.due(elapsed);
                if due == 0 {
                    break;
                }
                items.clear();
                simulator.fill_batch(due as usize, &mut items);
                if let Err(e) = self.send(&items).await {
                    error = Some(e.to_string());
                    break 'run;
                }
                if due < limits.batch_size_max {
                    break;
                }
            }
            lock(&self.counters).rate_actual = pacer.rate_actual_per_second();
            if last {
                break;
            }
        }
        let run_s = started.elapsed().as_secs_f64();
        let mut c = lock(&self.counters);
        c.running = false;
        c.stopped_at = Some(Utc::now());
        // Items generated per second over the whole run, sent or skipped (as while running).
        c.rate_actual = if run_s > 0.0 {
            pacer.events_emitted_total() as f64 / run_s
        } else {
            0.0
        };
        if let Some(error) = &error {
            tracing::error!(%error, "simulation stopped on an error");
        }
        c.error = error;
    }

    async fn send(&self, items: &[GeneratedItem]) -> Result<(), SimError> {
        let batch = encode_batch(&self.encoder, items, &self.topics, self.sink.as_deref())?;
        produce(self.bus.as_deref(), batch.records_by_topic).await?;
        let tally = deliver(self.sink.as_deref(), &batch.outgoing).await;
        let mut c = lock(&self.counters);
        c.events_produced += (batch.produced.len() + tally.sent.len()) as u64;
        for (_, kind) in batch.produced.iter().chain(&tally.sent) {
            *c.events_by_type.entry(kind.wire_name()).or_default() += 1;
        }
        for (kind, n) in tally.refused {
            *c.events_refused.entry(kind).or_default() += n;
        }
        for (route, n) in batch.skipped {
            *c.events_skipped.entry(route).or_default() += n;
        }
        for (route, n) in tally.failed {
            *c.events_failed.entry(route).or_default() += n;
        }
        if let Some(error) = tally.last_error {
            tracing::warn!(%error, "simulator: an item could not be delivered");
            c.delivery_error = Some(error);
        }
        Ok(())
    }
}
