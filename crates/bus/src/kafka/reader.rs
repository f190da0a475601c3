//! [`Bus::read_partition`](crate::Bus::read_partition) on Kafka: one librdkafka consumer per
//! bus, created at the first read and *assigned* (never subscribed) to the partition asked
//! for, so it joins no group, commits nothing and leaves nothing on the broker. For browsing
//! (`tail`), checks and views; reads are serialised (one assignment at a time).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer as _};
use rdkafka::message::Message as _;
use rdkafka::{Offset, TopicPartitionList};

use super::consumer::to_message;
use super::{CONSUMER_DEFAULTS, KafkaConfig, lock};
use crate::port::{BusError, PartitionRead, ReadBatch};

pub(crate) struct Reader {
    consumer: Mutex<BaseConsumer>,
}

impl Reader {
    /// Creates the consumer (blocking: call off the async threads).
    pub(crate) fn new(kafka: &KafkaConfig) -> Result<Self, BusError> {
        let mut config = kafka.client_config(&[]);
        // librdkafka asks every consumer for a group id; an assigned consumer never joins it.
        config
            .set("group.id", format!("{}-reader", kafka.client_id))
            // A position below the log start (retention ran) reads from the log start.
            .set("auto.offset.reset", "earliest");
        for (name, value) in CONSUMER_DEFAULTS {
            if !kafka.properties.contains_key(*name) {
                config.set(*name, *value);
            }
        }
        let consumer = config
            .create()
            .map_err(|e| BusError::Backend(format!("cannot create the kafka reader: {e}")))?;
        Ok(Self {
            consumer: Mutex::new(consumer),
        })
    }

    /// What `read` asks (blocking).
    pub(crate) fn read(&self, read: &PartitionRead) -> Result<ReadBatch, BusError> {
        let (topic, partition, from, max) =
            (read.topic.as_str(), read.partition, read.from, read.max);
        let failed = |e: rdkafka::error::KafkaError| {
            BusError::Backend(format!("kafka read of {topic}/{partition}@{from}: {e}"))
        };
        let consumer = lock(&self.consumer);
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(topic, partition as i32, Offset::Offset(from as i64))
            .map_err(failed)?;
        consumer.assign(&assignment).map_err(failed)?;
        let topics = [Arc::<str>::from(topic)];
        let deadline = Instant::now() + read.wait;
        let mut messages = Vec::new();
        let mut next = from;
        while messages.len() < max {
            // Wait for the first message only; then take what is already fetched.
            let timeout = if messages.is_empty() {
                deadline.saturating_duration_since(Instant::now())
            } else {
                Duration::ZERO
            };
            match consumer.poll(timeout) {
                None if messages.is_empty() && Instant::now() < deadline => continue,
                None => break,
                Some(Err(e)) => return Err(failed(e)),
                // A fetch answers with whole record batches: skip what precedes `from`.
                Some(Ok(m)) if (m.offset().max(0) as u64) < from => {}
                Some(Ok(m)) => {
                    let message = to_message(&m, &topics);
                    next = message.offset + 1;
                    messages.push(message);
                }
            }
        }
        consumer.unassign().map_err(failed)?;
        Ok((messages, next))
    }
}
