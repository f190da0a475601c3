//! Embedded durable log backend (being written).
