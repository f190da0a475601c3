//! The aws crate's integration tests, one binary (ADR 024), each against its own ministack
//! (`edalab_aws::testing::MiniStack`, 0.3 s to start): skipped with a message when ministack
//! is not installed, failed under `CI=true`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is its failure

mod calculation_store;
mod common;
mod dead_letters;
mod intake_store;
mod sqs_consume;
mod sqs_ensure;
mod sqs_send;
mod transaction_store;
