//! The services' integration tests, one binary (zero-to-production's `tests/api/main.rs`):
//! linking one test binary per file dominated CI time on two cores. Each module is one former
//! file. `tests/intake_pipeline.rs` stays its own binary: it installs the process-wide metrics
//! recorder and asserts exact counter values, which other pipelines in this process would move.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is its failure

#[macro_use]
mod ledger_support;
mod pipeline_support;

mod calculator_pipeline;
mod inputs;
mod ledger_api;
mod ledger_bench;
mod ledger_crash;
mod ledger_handler;
mod pipeline_stores;
mod pipelines_openapi;
mod saga_pipeline;
mod simulator_api;
mod simulator_determinism;
mod simulator_iban;
mod simulator_pacing;
mod simulator_routes;
mod simulator_scenarios;
mod transactions_pipeline;
