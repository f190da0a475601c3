//! The `aws` profile's backends (`docs/adr/026-aws-profile.md`): SQS queues behind the bus
//! crate's [`edalab_bus::Queues`] port, and S2's provided ports
//! ([`edalab_services::intake::IntakeBackends`]).
//!
//! - [`sqs`]: [`SqsQueues`] — ensure (queue, DLQ, redrive policy; settings compared and a
//!   difference named), send, consume;
//! - [`worker`]: [`SqsWorker`], the in-process consumer polling as an event source mapping;
//! - [`settle`]: a handled batch's fate on SQS (delete, visibility), shared with the Lambda
//!   adapter;
//! - [`message`]: records to SQS messages and back;
//! - [`dead_letters`]: listing an SQS DLQ and redriving it (`StartMessageMoveTask`, else
//!   receive → send → delete);
//! - [`dynamo`]: the pipelines' stores on DynamoDB (S2's `tp-orders`, S1's calculations,
//!   S0's transactions), the dead letters' reasons, and [`dynamo::ensure_tables`];
//! - [`s3_archive`]: [`s3_archive::S3TransactionArchive`], S0's archive in a bucket;
//! - [`s3_intake`]: [`s3_intake::S3OrderSource`], order files from a bucket's `orders/` prefix;
//! - [`cloudwatch`]: [`cloudwatch::CloudWatchCounts`], S2-04's counts as CloudWatch metrics;
//! - [`lambda`]: [`lambda::SqsFunction`], a queue's batch handled inside a Lambda function;
//! - [`deploy`]: `edalab aws deploy|destroy`'s [`deploy::Plan`] (queues, tables, functions,
//!   event source mappings, the REST API, the S0-08 state machine);
//! - [`bench`]: `edalab bench sqs`'s raw SDK loop and worker loop;
//! - [`backends`]: what the process's assembly calls to open them;
//! - [`client`]: the SDK clients' configuration (rustls over ring);
//! - [`testing`]: [`testing::MiniStack`], the emulator the tests start.
//!
//! The SDK stays in this crate: the bus and the services never name AWS.

pub mod backends;
pub mod bench;
pub mod client;
pub mod cloudwatch;
pub mod dead_letters;
pub mod deploy;
mod deploy_api;
mod deploy_workflow;
pub mod dynamo;
pub mod lambda;
pub mod message;
pub mod s3_archive;
pub mod s3_intake;
pub mod settle;
pub mod sqs;
pub mod testing;
pub mod worker;

pub use sqs::SqsQueues;
pub use worker::{SqsWorker, WorkerSettings};
