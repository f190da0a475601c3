//! `edalab up`: the whole platform in one process — configuration, the bus and its seed
//! topics, the ledger (store, consumer runtime over the seven banking topics, outbox
//! publisher, REST routes), the simulator, the S0/S1/S2/S4 pipelines, the gateway (REST,
//! `/ws`, `/metrics`, OpenAPI, UI) — until SIGINT/SIGTERM, then a graceful stop in
//! dependency order: HTTP stops, the ledger's runtime drains and commits, the outbox
//! publishes what is pending, the store checkpoints, the bus flushes and closes.
//!
//! The assembly itself is [`crate::platform`], shared with `edalab serve`; a service whose
//! prefix `gateway.upstreams.*` forwards elsewhere is not started here.
//!
//! Configuration layers: defaults → `config/local.yaml` (or `--config`) →
//! `EDALAB__SECTION__KEY` → `--listen` / `--data-dir` (also `EDALAB_LISTEN`,
//! `EDALAB_DATA_DIR`). A bad key stops the start with a message naming it.

use std::time::Instant;

use crate::config::Config;

use crate::platform::{self, Plan};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let started = Instant::now();
    let plan = Plan::up(&config);
    platform::run(config, plan, started).await
}
