//! `edalab serve <SERVICE>...`: some of the platform's services in this process (ADR 012),
//! with the same assembly as `edalab up` ([`crate::platform`]). Every `serve` process
//! answers HTTP (its services' routes, `/api/v1/health`, `/metrics`, OpenAPI); `gateway`
//! adds the forwarding of `gateway.upstreams.*` to the processes that run those services.
//! `orders` also serves the seed's standalone paths (`POST /orders`, `GET /orders`,
//! `GET /orders/{id}/status`).
//!
//! On the embedded profile, services that share a bus must run in the same process: the
//! data directory's bus is locked by the process that writes it (a gateway alone reads it
//! without locking).

use std::time::Instant;

use crate::config::Config;

use crate::platform::{self, Plan, Service};

pub async fn run(config: Config, services: &[Service]) -> anyhow::Result<()> {
    let started = Instant::now();
    let plan = Plan::serve(services, &config)?;
    platform::run(config, plan, started).await
}
