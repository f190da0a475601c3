//! S4 — the order saga (S4-01 … S4-05): order service, payment service, tracking service.
//!
//! ```text
//! POST /orders ─► `orders.created` (key orderId) ─► payment service (group payment-service)
//!   201 created                                      ├─ credit check (circuit breaker) + authorize_payment
//!                                                    ├─► `payments.authorized` | `payments.rejected`
//!                                                    └─ poison ─► `payments.dlq`
//! `orders.created` + `payments.*` ─► tracking service (group order-tracking) ─► SQLite
//!                                    poison ─► `orders.dlq`
//! GET /orders/{orderId}/status, GET /orders  (and under /api/v1)
//! ```
//!
//! **Payment rule** (documented in ADR 008): the available credit of a user is their credit
//! limit (from [`SagaConfig::credit_limits`], else [`SagaConfig::credit_limit_default`]) less
//! what was already authorized for them; [`edalab_domain::saga::authorize_payment`] decides,
//! so an order above it is rejected with `"Insufficient funds"`.
//!
//! The credit limit comes from a dependency (the "credit bureau", [`CreditBureau`]) wrapped
//! in a [`CircuitBreaker`]; the built-in [`SimulatedBureau`] has injectable latency and
//! failure so the breaker can be seen opening and recovering.
//!
//! Dedup by `eventId` on both consumers: the payment service records its decision with the
//! event it produced (a redelivered `OrderCreated` re-publishes the same decision, never a
//! new one); the tracking service keeps each `eventId` once.

pub mod admin;
pub mod api;
mod breaker;
mod payment;
pub mod store;
mod tracking;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use edalab_bus::runtime::{DlqRouting, PerMessage, RetryPolicy, RuntimeConfig, RuntimeStats};
use edalab_bus::{Bus, ConsumerConfig, TopicConfig};
use edalab_domain::events::topics;
use rust_decimal::Decimal;

use crate::pipeline::{self, Env, Handles, SharedClock, StartError};
pub use breaker::{BreakerConfig, BreakerState, CircuitBreaker};
pub use store::{PgSagaStore, SagaStore, SqliteSagaStore};

/// The service name its metrics, traces and logs carry (`edalab serve orders`).
pub const SERVICE: &str = "orders";

/// Group of the payment service.
pub const PAYMENT_GROUP: &str = "payment-service";
/// Group of the tracking service.
pub const TRACKING_GROUP: &str = "order-tracking";

/// The saga's topics with S4-04's settings (3 partitions, 7 days; DLQs 30 days), the same
/// as `edalab up` creates.
pub fn topics() -> Vec<(&'static str, TopicConfig)> {
    vec![
        (topics::ORDERS_CREATED, pipeline::topic(3, Some(7), "none")),
        (
            topics::PAYMENTS_AUTHORIZED,
            pipeline::topic(3, Some(7), "none"),
        ),
        (
            topics::PAYMENTS_REJECTED,
            pipeline::topic(3, Some(7), "none"),
        ),
        (topics::ORDERS_DLQ, pipeline::topic(3, Some(30), "none")),
        (topics::PAYMENTS_DLQ, pipeline::topic(3, Some(30), "none")),
    ]
}

/// Where the payment service gets a user's credit limit: the dependency the circuit
/// breaker protects.
#[async_trait]
pub trait CreditBureau: Send + Sync {
    async fn credit_limit(&self, user_id: &str) -> Result<Decimal, String>;
}

/// The built-in credit bureau: limits from configuration, with injectable latency and
/// failure (switch them at run time through [`SimulatedBureau::faults`]).
pub struct SimulatedBureau {
    pub default_limit: Decimal,
    pub limits: HashMap<String, Decimal>,
    pub faults: Arc<BureauFaults>,
}

/// Faults injected into [`SimulatedBureau`].
#[derive(Debug, Default)]
pub struct BureauFaults {
    /// Every call fails while set.
    pub failing: AtomicBool,
    /// Added latency per call, milliseconds.
    pub latency_ms: AtomicU64,
}

#[async_trait]
impl CreditBureau for SimulatedBureau {
    async fn credit_limit(&self, user_id: &str) -> Result<Decimal, String> {
        let latency_ms = self.faults.latency_ms.load(Ordering::Relaxed);
        if latency_ms > 0 {
            tokio::time::sleep(Duration::from_millis(latency_ms)).await;
        }
        if self.faults.failing.load(Ordering::Relaxed) {
            return Err("credit bureau unavailable (injected failure)".to_owned());
        }
        Ok(self
            .limits
            .get(user_id)
            .copied()
            .unwrap_or(self.default_limit))
    }
}

/// Settings of the saga.
#[derive(Clone, Debug)]
pub struct SagaConfig {
    /// Credit limit of a user without an entry in `credit_limits`.
    pub credit_limit_default: Decimal,
    pub credit_limits: HashMap<String, Decimal>,
    pub breaker: BreakerConfig,
    /// The payment service's retries (S4-04: backoff 100 ms → 30 s).
    pub payment_retry: RetryPolicy,
}

impl Default for SagaConfig {
    fn default() -> Self {
        Self {
            credit_limit_default: Decimal::new(1_000, 0),
            credit_limits: HashMap::new(),
            breaker: BreakerConfig::default(),
            payment_retry: RetryPolicy {
                attempts_max: 5,
                ..RetryPolicy::default()
            },
        }
    }
}

/// Counters, relaxed atomics, for the metrics layer.
#[derive(Debug, Default)]
pub struct Counters {
    pub orders_created_total: AtomicU64,
    pub payments_authorized_total: AtomicU64,
    pub payments_rejected_total: AtomicU64,
    pub duplicates_ignored_total: AtomicU64,
    pub breaker_rejections_total: AtomicU64,
}

pub(crate) fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

/// What the routes and the services share.
#[derive(Clone)]
pub struct SagaState {
    pub bus: Arc<dyn Bus>,
    pub store: Arc<dyn SagaStore>,
    pub counters: Arc<Counters>,
    /// Where `createdAt` and `processedAt` come from.
    pub clock: SharedClock,
}

/// The running saga.
pub struct Saga {
    pub handles: Handles,
    pub state: SagaState,
    pub breaker: Arc<CircuitBreaker>,
    /// Faults of the built-in credit bureau (latency, failure), switchable at run time.
    pub faults: Arc<BureauFaults>,
    pub payment_stats: Arc<RuntimeStats>,
    pub tracking_stats: Arc<RuntimeStats>,
}

/// [`start_with`] the default [`SagaConfig`] (credit limit 1 000 per user).
pub async fn start(env: &Env) -> Result<Saga, StartError> {
    start_with(env, SagaConfig::default()).await
}

/// Creates the topics, opens the store `env` names (`saga.sqlite` under its data dir for
/// SQLite), starts the payment and tracking services, which read time from `env`'s clock.
/// Mount [`api::router`] (under `/api/v1`) or [`api::standalone_router`] (seed paths).
pub async fn start_with(env: &Env, config: SagaConfig) -> Result<Saga, StartError> {
    let (bus, shutdown) = (env.bus.clone(), env.shutdown.clone());
    pipeline::ensure_topics(bus.as_ref(), &topics()).await?;
    let state = SagaState {
        bus: bus.clone(),
        store: store::open(&env.stores, &env.data_dir)?,
        counters: Arc::new(Counters::default()),
        clock: env.clock.clone(),
    };
    let faults = Arc::new(BureauFaults::default());
    let bureau = Arc::new(SimulatedBureau {
        default_limit: config.credit_limit_default,
        limits: config.credit_limits.clone(),
        faults: faults.clone(),
    });
    let breaker = Arc::new(CircuitBreaker::new(config.breaker.clone()));

    let mut payment_config = RuntimeConfig::new(
        ConsumerConfig::new(PAYMENT_GROUP, vec![topics::ORDERS_CREATED.to_owned()]),
        DlqRouting::to_topic(topics::PAYMENTS_DLQ),
    );
    payment_config.retry = config.payment_retry.clone();
    let (payment, payment_stats) = pipeline::spawn_runtime(
        SERVICE,
        "payment-service",
        bus.clone(),
        payment_config,
        PerMessage(payment::PaymentService::new(
            state.clone(),
            bureau,
            breaker.clone(),
        )),
        shutdown.clone(),
    );
    let tracking_config = RuntimeConfig::new(
        ConsumerConfig::new(
            TRACKING_GROUP,
            vec![
                topics::ORDERS_CREATED.to_owned(),
                topics::PAYMENTS_AUTHORIZED.to_owned(),
                topics::PAYMENTS_REJECTED.to_owned(),
            ],
        ),
        DlqRouting::to_topic(topics::ORDERS_DLQ),
    );
    let (tracking, tracking_stats) = pipeline::spawn_runtime(
        SERVICE,
        "order-tracking",
        bus,
        tracking_config,
        PerMessage(tracking::TrackingService::new(state.clone())),
        shutdown,
    );
    Ok(Saga {
        handles: Handles {
            tasks: vec![payment, tracking],
        },
        state,
        breaker,
        faults,
        payment_stats,
        tracking_stats,
    })
}
