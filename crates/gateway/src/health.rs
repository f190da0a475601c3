//! Aggregated health (S3-10/S3-11): every component registers a [`HealthCheck`]; `GET
//! /api/v1/health` runs them all concurrently, each under a timeout, and answers
//! `{status, kafka, postgres, bus, store, components}` — `kafka` and `postgres` are the
//! seed's field names and report the bus and the store actually in use (whatever their
//! backend, named in `bus.backend` / `store.backend`). Any component down: 503.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use edalab_bus::port::Bus;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a component is, for the aggregated report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reported as `kafka` (the seed's name) and `bus`.
    Bus,
    /// Reported as `postgres` (the seed's name) and `store`.
    Store,
    /// A service (ledger, simulator...).
    Service,
}

/// One component's health check.
#[async_trait]
pub trait HealthCheck: Send + Sync {
    /// `bus`, `store`, `ledger`...
    fn name(&self) -> &str;
    fn role(&self) -> Role;
    /// `embedded`, `kafka`, `sqlite`, `postgres`...
    fn backend(&self) -> &str;
    /// `Ok` when usable; `Err(why)` otherwise.
    async fn check(&self) -> Result<(), String>;
}

/// The bus answers when it can list its topics.
pub struct BusHealth(pub Arc<dyn Bus>);

#[async_trait]
impl HealthCheck for BusHealth {
    fn name(&self) -> &str {
        "bus"
    }
    fn role(&self) -> Role {
        Role::Bus
    }
    fn backend(&self) -> &str {
        self.0.backend_name()
    }
    async fn check(&self) -> Result<(), String> {
        self.0
            .list_topics()
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// The bus accepts appends: `down` below the embedded log's free-space floor, while reads,
/// health and the UI keep working (writes answer 503 meanwhile).
pub struct BusWritesHealth(pub Arc<dyn Bus>);

#[async_trait]
impl HealthCheck for BusWritesHealth {
    fn name(&self) -> &str {
        "bus-writes"
    }
    fn role(&self) -> Role {
        Role::Service
    }
    fn backend(&self) -> &str {
        self.0.backend_name()
    }
    async fn check(&self) -> Result<(), String> {
        self.0.accepts_writes().map_err(|e| e.to_string())
    }
}

/// A component's state in the report.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ComponentHealth {
    pub name: String,
    pub role: Role,
    pub backend: String,
    /// `up` or `down`.
    pub status: String,
    pub latency_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The bus or the store, summarised.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct BackendHealth {
    pub backend: String,
    /// `connected`, `disconnected` or `not_configured`.
    pub status: String,
}

/// `GET /api/v1/health`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct HealthReport {
    /// `healthy` or `unhealthy`.
    pub status: String,
    /// The bus in use (Kafka or not): `connected`, `disconnected`, `not_configured`.
    pub kafka: String,
    /// The store in use (PostgreSQL or not): `connected`, `disconnected`, `not_configured`.
    pub postgres: String,
    pub bus: BackendHealth,
    pub store: BackendHealth,
    pub components: Vec<ComponentHealth>,
    /// When this process started serving (RFC 3339, UTC).
    pub started_at: String,
    /// Seconds since `started_at`: the platform's uptime as this process sees it.
    pub uptime_seconds: f64,
}

impl HealthReport {
    pub fn is_healthy(&self) -> bool {
        self.status == "healthy"
    }
}

/// The registered checks, and when the process started serving.
#[derive(Clone)]
pub struct HealthRegistry {
    checks: Vec<Arc<dyn HealthCheck>>,
    started: Instant,
    started_at: chrono::DateTime<chrono::Utc>,
}

impl Default for HealthRegistry {
    fn default() -> Self {
        Self {
            checks: Vec::new(),
            started: Instant::now(),
            started_at: chrono::Utc::now(),
        }
    }
}

impl HealthRegistry {
    pub fn register(&mut self, check: Arc<dyn HealthCheck>) {
        self.checks.push(check);
    }

    /// Runs every check concurrently, each for at most `timeout`.
    pub async fn report(&self, timeout: Duration) -> HealthReport {
        let components: Vec<ComponentHealth> =
            futures::future::join_all(self.checks.iter().map(|check| async move {
                let started = Instant::now();
                let result = match tokio::time::timeout(timeout, check.check()).await {
                    Ok(result) => result,
                    Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
                };
                ComponentHealth {
                    name: check.name().to_owned(),
                    role: check.role(),
                    backend: check.backend().to_owned(),
                    status: if result.is_ok() { "up" } else { "down" }.to_owned(),
                    latency_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                    error: result.err(),
                }
            }))
            .await;
        let summary = |role: Role| {
            let of_role: Vec<&ComponentHealth> =
                components.iter().filter(|c| c.role == role).collect();
            match of_role.first() {
                None => BackendHealth {
                    backend: "none".to_owned(),
                    status: "not_configured".to_owned(),
                },
                Some(first) => BackendHealth {
                    backend: first.backend.clone(),
                    status: if of_role.iter().all(|c| c.status == "up") {
                        "connected"
                    } else {
                        "disconnected"
                    }
                    .to_owned(),
                },
            }
        };
        let bus = summary(Role::Bus);
        let store = summary(Role::Store);
        let healthy = components.iter().all(|c| c.status == "up");
        HealthReport {
            status: if healthy { "healthy" } else { "unhealthy" }.to_owned(),
            kafka: bus.status.clone(),
            postgres: store.status.clone(),
            bus,
            store,
            components,
            started_at: self
                .started_at
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            uptime_seconds: self.started.elapsed().as_secs_f64(),
        }
    }
}
