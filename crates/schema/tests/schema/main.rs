//! The schema crate's integration tests, one binary (zero-to-production's `tests/api/main.rs`):
//! linking one test binary per file dominated CI time on two cores.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is its failure

mod avro;
mod binary;
mod published;
mod registry;
mod resolution;
