//! The store's integration tests, one binary (zero-to-production's `tests/api/main.rs`): a new
//! test file is a module here, not another binary to link.

mod ledger_store;
