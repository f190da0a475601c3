//! edalab's integration tests in one binary (link time dominates on 2 cores): the real
//! `edalab` binary run as a user runs it, one module per command family.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a panic in a test is its failure

mod support;

#[cfg(feature = "aws")]
mod aws_deploy;
#[cfg(feature = "aws")]
mod aws_kill;
#[cfg(feature = "aws")]
mod aws_profile;
#[cfg(feature = "aws")]
mod aws_workflow;
mod chaos;
mod cli;
mod consumers;
mod crash;
mod deploy;
mod guides;
mod interop;
mod kafka_profile;
mod ledger;
mod observability;
mod registry_external;
mod schemas;
mod serve;
mod simulate;
#[cfg(feature = "aws")]
mod terraform;
mod topics_api;
mod up;
