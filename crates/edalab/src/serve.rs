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

use std::path::Path;
use std::time::Instant;

use crate::cli::ServeArgs;
use crate::platform::{self, Plan};

pub async fn run(data_dir: Option<&Path>, args: ServeArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = platform::load_config(data_dir, &args.common)?;
    let plan = Plan::serve(&args.services, &config)?;
    platform::run(config, plan, started).await
}
