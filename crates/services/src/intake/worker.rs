//! The worker role (`tp-order-worker`, S2-03): records each queued order with its status.
//! - valid, new `order_id` → `PROCESSED`;
//! - invalid → `REJECTED` with the reasons, and `Reject` → `tp-orders-dlq`;
//! - `order_id` already recorded → `DUPLICATE` (listed under the original, never processed
//!   twice);
//! - the same `intake_id` again (redelivery, re-queue after a crash) → nothing new.

use std::sync::atomic::Ordering;

use async_trait::async_trait;
use edalab_bus::Message;
use edalab_bus::runtime::{Handler, Outcome};
use edalab_domain::order::{Order, OrderFile, OrderStatus, intake_status};
use edalab_telemetry::events::OrderRecorded;
use edalab_telemetry::store_span;
use tracing::Instrument;

use super::store::{Recorded, RecordedOrder};
use super::{FILE_HEADER, INTAKE_ID_HEADER, IntakeState, SERVICE};

pub(super) struct Worker {
    state: IntakeState,
}

impl Worker {
    pub(super) fn new(state: IntakeState) -> Self {
        Self { state }
    }
}

fn header_text(message: &Message, name: &str) -> Option<String> {
    message
        .header(name)
        .and_then(|v| std::str::from_utf8(v).ok())
        .map(str::to_owned)
}

#[async_trait]
impl Handler for Worker {
    async fn handle(&self, message: &Message) -> Outcome {
        let file_name = header_text(message, FILE_HEADER).unwrap_or_default();
        let intake_id = header_text(message, INTAKE_ID_HEADER).unwrap_or_else(|| {
            format!("{}:{}:{}", message.topic, message.partition, message.offset)
        });
        let file = OrderFile::from_json(&message.value);
        let order_id = file
            .as_ref()
            .ok()
            .and_then(|f| f.order_id_hint().map(str::to_owned))
            .unwrap_or_else(|| format!("file:{file_name}"));
        let parsed = file.and_then(|f| Order::parse(&f));
        let already = match self.state.store.get(&order_id).await {
            Ok(existing) => existing,
            Err(e) => return Outcome::retry(e.to_string()),
        };
        if let Some(recorded) = already.as_ref().filter(|o| o.intake_id == intake_id) {
            // A redelivery of the recorded file. A rejected one is rejected again: on SQS the
            // redrive policy moves it to the DLQ only after its last receive fails
            // (ADR 026 §3), and on a log its dead letter may not have been written yet.
            return match recorded.status {
                OrderStatus::Rejected => rejected(&order_id, &recorded.rejection_reasons),
                _ => Outcome::Done,
            };
        }
        let status = intake_status(already.is_some(), &parsed);
        let reasons: Vec<String> = match &parsed {
            Ok(_) => Vec::new(),
            Err(errors) => errors
                .errors()
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect(),
        };
        let content: serde_json::Value =
            serde_json::from_slice(&message.value).unwrap_or(serde_json::Value::Null);
        let record = RecordedOrder {
            order_id: order_id.clone(),
            status,
            content,
            rejection_reasons: reasons.clone(),
            processed_at: self.state.clock.now(),
            intake_id,
            file_name,
        };
        let recorded = async {
            match status {
                OrderStatus::Duplicate => self.state.store.record_duplicate(&record).await,
                _ => self.state.store.record(&record).await,
            }
        }
        .instrument(store_span(SERVICE, "record"))
        .await;
        match recorded {
            Ok(Recorded::New) => {}
            Ok(Recorded::Already) => return Outcome::Done,
            Err(e) => return Outcome::retry(e.to_string()),
        }
        let counters = &self.state.counters;
        if let Some(counts) = &self.state.counts {
            counts.add(status);
        }
        match status {
            OrderStatus::Processed => {
                counters
                    .orders_processed_total
                    .fetch_add(1, Ordering::Relaxed);
                OrderRecorded::Processed.emit(&order_id);
                Outcome::Done
            }
            OrderStatus::Duplicate => {
                counters
                    .orders_duplicate_total
                    .fetch_add(1, Ordering::Relaxed);
                OrderRecorded::Duplicate.emit(&order_id);
                Outcome::Done
            }
            OrderStatus::Rejected => {
                counters
                    .orders_rejected_total
                    .fetch_add(1, Ordering::Relaxed);
                OrderRecorded::Rejected.emit(&order_id);
                rejected(&order_id, &reasons)
            }
        }
    }
}

/// The outcome of a `REJECTED` order: to `tp-orders-dlq` with its reasons.
fn rejected(order_id: &str, reasons: &[String]) -> Outcome {
    Outcome::reject(format!("order {order_id} REJECTED: {}", reasons.join("; ")))
}
