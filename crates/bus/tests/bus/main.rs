//! The bus's integration tests, one binary (zero-to-production's `tests/api/main.rs`): linking
//! one test binary per file dominated CI time on two cores. Each module is one former file:
//! the embedded log (`log_*`), the consumer runtime over the in-memory fake bus (`runtime_*`),
//! and, with the `kafka` feature, the Kafka backend against a real tansu broker (`kafka`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is its failure

mod common;
#[cfg(feature = "kafka")]
mod kafka;
mod log_basic;
mod log_runtime;
mod log_safety;
mod members;
mod queues;
mod runtime_exactly_once;
mod runtime_redrive;
mod runtime_retry_dlq;
mod runtime_shutdown;
