//! The domain's integration tests, one binary (zero-to-production's `tests/api/main.rs`): a new
//! test file is a module here, not another binary to link.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is its failure

mod ledger_properties;
