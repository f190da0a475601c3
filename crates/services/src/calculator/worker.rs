//! The calculator worker: one input message → a result on `calculatrice-output-queue`, or
//! `Reject(reason)` → DLQ (S1-02: bad operations are final, never retried).

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use edalab_bus::runtime::{Handler, Outcome};
use edalab_bus::{Headers, Message, Record};
use edalab_domain::calculator;
use edalab_domain::events::topics;
use edalab_telemetry::store_span;
use tracing::Instrument;

use super::{CalculatorState, ID_HEADER, SERVICE};

pub(super) struct Worker {
    state: CalculatorState,
}

impl Worker {
    pub(super) fn new(state: CalculatorState) -> Self {
        Self { state }
    }
}

/// The calculation id of a message: its `calculation_id` header, else its key. Messages
/// queued by other producers (the seed's `aws sqs send-message`) may have neither.
pub(super) fn calculation_id(headers: &Headers, key: Option<&[u8]>) -> Option<String> {
    headers
        .iter()
        .rev()
        .find(|(name, _)| name == ID_HEADER)
        .map(|(_, v)| v.as_slice())
        .or(key)
        .and_then(|bytes| std::str::from_utf8(bytes).ok())
        .map(str::to_owned)
}

#[async_trait]
impl Handler for Worker {
    async fn handle(&self, message: &Message) -> Outcome {
        let value: serde_json::Value = match serde_json::from_slice(&message.value) {
            Ok(value) => value,
            Err(e) => return Outcome::reject(format!("invalid JSON: {e}")),
        };
        let result = match calculator::evaluate(&value) {
            Ok(result) => result,
            Err(failure) => return Outcome::reject(format!("{}: {failure}", failure.code())),
        };
        let id = calculation_id(&message.headers, message.key.as_deref());
        let body = match serde_json::to_vec(&result) {
            Ok(body) => body,
            Err(e) => return Outcome::reject(format!("cannot encode the result: {e}")),
        };
        let mut record = Record::new(message.key.clone(), body)
            .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json");
        if let Some(id) = &id {
            record = record.with_header(ID_HEADER, id.as_bytes());
        }
        if let Err(e) = self
            .state
            .queues
            .send(topics::CALCULATOR_OUTPUT, vec![record])
            .await
        {
            return Outcome::retry(format!("producing the result: {e}"));
        }
        tracing::info!(id = ?id, operation = result.operation.as_wire(), result = %result.result, "calculated");
        if let Some(id) = id
            && let Err(e) = self
                .state
                .store
                .complete(&id, result.result)
                .instrument(store_span(SERVICE, "complete"))
                .await
        {
            // The result is on the output queue; a retry re-sends it (at least once).
            return Outcome::retry(e.to_string());
        }
        self.state
            .counters
            .computed_total
            .fetch_add(1, Ordering::Relaxed);
        Outcome::Done
    }
}
