//! Event contracts (being written).
