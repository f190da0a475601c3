//! The port for items that do not go to a bus topic: S0 transactions and S4 orders
//! (`Route::HttpPost`) and S2 order files (`Route::File`). The runner hands a
//! [`RouteSink`] every such item of a tick, already encoded, and counts what the sink
//! answers for each one: accepted, refused by the receiving API (a 4xx: the invalid items
//! a scenario asks for), or failed (the platform could not take it: a transport error, a
//! 5xx). A route no sink delivers is counted as not sent (`events_skipped`), never dropped
//! silently.
//!
//! Adapters: in `edalab up`, `pipeline::sim_sink` calls the pipelines' own service
//! functions and drops files into the intake's inbox; `edalab simulate` writes files into
//! the data directory and POSTs to `--target`. This module owns only the contract.

use async_trait::async_trait;
use uuid::Uuid;

use super::items::{EventKind, GeneratedItem, Route, Validity};

/// One item to deliver: its route, key (the file name for order files) and encoded body.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    /// The simulator's tracking id of the item.
    pub id: Uuid,
    pub kind: EventKind,
    pub route: Route,
    /// Partition key, or the file name for `Route::File`.
    pub key: String,
    /// The request body or the file content (JSON, or the poison bytes).
    pub body: Vec<u8>,
    /// What the simulator meant it to be (the receiving side decides for itself).
    pub validity: Validity,
}

impl Outgoing {
    pub fn new(item: &GeneratedItem, body: Vec<u8>) -> Self {
        Self {
            id: item.id,
            kind: item.kind(),
            route: item.route,
            key: item.key.clone(),
            body,
            validity: item.validity,
        }
    }
}

/// What became of one delivered item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Taken: answered 2xx, or the file is in the inbox. `reference` is what the receiving
    /// side calls it (`transactionId`, `orderId`, the file's name), when it says.
    Accepted { reference: Option<String> },
    /// Sent and refused at once by the receiving API (HTTP 4xx), as an invalid or poison
    /// item should be. Counted as sent.
    Refused { status: u16, reason: String },
    /// Not taken: the platform is unreachable, answered 5xx, or the file could not be
    /// written. Counted as failed, with the reason.
    Failed { reason: String },
}

impl Delivery {
    /// Whether the item reached the receiving side (accepted or refused).
    pub fn is_sent(&self) -> bool {
        !matches!(self, Delivery::Failed { .. })
    }
}

/// Delivers items routed over HTTP or to files.
#[async_trait]
pub trait RouteSink: Send + Sync {
    /// Whether this sink delivers items of `route`; the runner counts the others as not
    /// sent.
    fn delivers(&self, route: Route) -> bool;

    /// Delivers `items` (all of routes this sink [`delivers`](Self::delivers)) and answers
    /// one [`Delivery`] per item, in the same order. Items of one route are delivered in
    /// order or with bounded concurrency; a sink never holds more than the batch.
    async fn deliver(&self, items: &[Outgoing]) -> Vec<Delivery>;
}
