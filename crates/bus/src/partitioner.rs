//! Kafka default partitioner (being written).
