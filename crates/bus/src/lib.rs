//! The bus: the port every backend implements ([`port`]), Kafka's default partitioner
//! ([`partitioner`]), the embedded durable log backend ([`log`]) and the consumer runtime
//! shared by every backend ([`runtime`]: retries, DLQ, redrive, lag, exactly-once hook), the
//! queue port and its implementation over a bus ([`queue`]: `Queues`, `BusQueues`), and
//! with the `kafka` feature the Kafka backend ([`kafka`]). With the `testing` feature (tests
//! only, enabled from `[dev-dependencies]`), an in-memory bus for the tests of code that runs
//! over the port ([`testing`]).
//!
//! This crate owns delivery semantics. It knows nothing of the events it carries: payloads
//! are bytes, and decoding belongs to `edalab-schema` and the services.

#[cfg(feature = "kafka")]
pub mod kafka;
pub mod log;
pub mod partitioner;
pub mod peer;
pub mod port;
pub mod queue;
pub mod runtime;
#[cfg(feature = "testing")]
pub mod testing;

pub use port::{
    Admin, Bus, BusError, Consumer, ConsumerConfig, Created, Delivery, Headers, LostRecords,
    Message, PartitionInfo, PartitionLag, PartitionRead, Producer, ReadBatch, Record, StartFrom,
    TimestampMs, TopicConfig, TopicDescription, TopicPartition,
};
pub use queue::{
    BusQueues, Consuming, DeadLetter, DeadLetterSpec, OnDeadLetter, QueueConsumer, QueueSpec,
    Queues, on_dead_letter,
};
