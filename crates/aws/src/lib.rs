//! The `aws` profile's backends (`docs/adr/026-aws-profile.md`). Slice 1: SQS queues behind the
//! bus crate's [`edalab_bus::Queues`] port.
//!
//! - [`sqs`]: [`SqsQueues`] — ensure (queue, DLQ, redrive policy; settings compared and a
//!   difference named), send, consume;
//! - [`worker`]: [`SqsWorker`], the in-process consumer polling as an event source mapping;
//! - [`settle`]: a handled batch's fate on SQS (delete, visibility), shared with the Lambda
//!   adapter to come;
//! - [`message`]: records to SQS messages and back;
//! - [`client`]: the SDK clients' configuration (rustls over ring);
//! - [`testing`]: [`testing::MiniStack`], the emulator the tests start.
//!
//! The SDK stays in this crate: the bus and the services never name AWS.

pub mod client;
pub mod message;
pub mod settle;
pub mod sqs;
pub mod testing;
pub mod worker;

pub use sqs::SqsQueues;
pub use worker::{SqsWorker, WorkerSettings};
