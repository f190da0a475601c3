//! The tracking service (S4-03): records every saga event once per `eventId`; the status
//! view is folded on read by [`edalab_domain::saga::OrderTracking`]. A message that is not
//! a saga event → `Reject` → `orders.dlq`.

use async_trait::async_trait;
use edalab_bus::Message;
use edalab_bus::runtime::{Handler, Outcome};
use edalab_domain::events::saga::SagaEvent;
use edalab_domain::saga::{OrderTracking, TrackedEvent};
use edalab_telemetry::store_span;
use tracing::Instrument;

use super::{SERVICE, SagaState, inc};

pub(super) struct TrackingService {
    state: SagaState,
}

impl TrackingService {
    pub(super) fn new(state: SagaState) -> Self {
        Self { state }
    }
}

/// The domain's tracking view of a saga event.
pub(super) fn tracked(event: SagaEvent) -> TrackedEvent {
    match event {
        SagaEvent::OrderCreated(e) => TrackedEvent::OrderCreated {
            event_id: e.event_id,
            order_id: e.order_id,
            user_id: e.user_id,
            amount: e.amount,
            items: e.items,
            created_at: e.created_at,
        },
        SagaEvent::PaymentAuthorized(e) => TrackedEvent::PaymentAuthorized {
            event_id: e.event_id,
            order_id: e.order_id,
            authorization_code: e.authorization_code,
            processed_at: e.processed_at,
        },
        SagaEvent::PaymentRejected(e) => TrackedEvent::PaymentRejected {
            event_id: e.event_id,
            order_id: e.order_id,
            rejection_reason: e.rejection_reason,
            processed_at: e.processed_at,
        },
    }
}

/// Folds stored `(topic, payload)` rows into the status view; unreadable rows are skipped
/// (they were checked when recorded).
pub(super) fn fold(rows: &[(String, Vec<u8>)]) -> Option<OrderTracking> {
    let events: Vec<TrackedEvent> = rows
        .iter()
        .filter_map(|(topic, payload)| SagaEvent::from_topic_json(topic, payload)?.ok())
        .map(tracked)
        .collect();
    OrderTracking::fold(&events)
}

#[async_trait]
impl Handler for TrackingService {
    async fn handle(&self, message: &Message) -> Outcome {
        let event = match SagaEvent::from_topic_json(&message.topic, &message.value) {
            Some(Ok(event)) => event,
            Some(Err(e)) => return Outcome::reject(format!("not a saga event: {e}")),
            None => return Outcome::reject(format!("unexpected topic `{}`", message.topic)),
        };
        match self
            .state
            .store
            .record_event(event.event_id(), event.key(), event.topic(), &message.value)
            .instrument(store_span(SERVICE, "record_event"))
            .await
        {
            Ok(true) => Outcome::Done,
            Ok(false) => {
                inc(&self.state.counters.duplicates_ignored_total);
                Outcome::Done
            }
            Err(e) => Outcome::retry(e.to_string()),
        }
    }
}
