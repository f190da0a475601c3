//! The payment service (S4-02): `OrderCreated` → credit check through the circuit breaker
//! → [`authorize_payment`] → `PaymentAuthorized` | `PaymentRejected`.
//!
//! - Poison (not an `OrderCreated`) → `Reject` → `payments.dlq`.
//! - Dependency down or breaker open → `Retry` (backoff 100 ms → 30 s), then `payments.dlq`.
//! - Dedup by the order's `eventId`: the decision is stored with the event it produced
//!   *before* publishing; a redelivery re-publishes that same event (same `eventId`, which
//!   the tracking service dedups), never a second decision.

use std::sync::Arc;

use async_trait::async_trait;
use edalab_bus::runtime::{Handler, Outcome};
use edalab_bus::{Message, Record};
use edalab_domain::events::saga::{
    AuthorizedStatus, OrderCreated, PaymentAuthorized, PaymentRejected, RejectedStatus, SagaEvent,
};
use edalab_domain::saga::{PaymentDecision, authorize_payment};
use edalab_telemetry::store_span;
use rust_decimal::Decimal;
use tracing::Instrument;

use super::breaker::CircuitBreaker;
use super::store::StoredDecision;
use super::{CreditBureau, SERVICE, SagaState, inc};

pub(super) struct PaymentService {
    state: SagaState,
    bureau: Arc<dyn CreditBureau>,
    breaker: Arc<CircuitBreaker>,
}

impl PaymentService {
    pub(super) fn new(
        state: SagaState,
        bureau: Arc<dyn CreditBureau>,
        breaker: Arc<CircuitBreaker>,
    ) -> Self {
        Self {
            state,
            bureau,
            breaker,
        }
    }

    async fn publish(
        &self,
        order_id: &str,
        decision: &StoredDecision,
        event_id: &str,
        event_type: &str,
    ) -> Outcome {
        let record = Record::new(Some(order_id.as_bytes().to_vec()), decision.payload.clone())
            .with_header(edalab_bus::port::headers::EVENT_ID, event_id.as_bytes())
            .with_header(edalab_bus::port::headers::EVENT_TYPE, event_type)
            .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json");
        match self.state.bus.produce(&decision.topic, vec![record]).await {
            Ok(_) => Outcome::Done,
            Err(e) => Outcome::retry(format!("publishing to {}: {e}", decision.topic)),
        }
    }
}

#[async_trait]
impl Handler for PaymentService {
    async fn handle(&self, message: &Message) -> Outcome {
        let order: OrderCreated = match serde_json::from_slice(&message.value) {
            Ok(order) => order,
            Err(e) => return Outcome::reject(format!("not an OrderCreated: {e}")),
        };
        match self.state.store.decision_for(&order.event_id).await {
            Ok(Some(decision)) => {
                inc(&self.state.counters.duplicates_ignored_total);
                let (event_id, event_type) =
                    SagaEvent::from_topic_json(&decision.topic, &decision.payload)
                        .and_then(Result::ok)
                        .map(|e| (e.event_id().to_owned(), e.event_type()))
                        .unwrap_or_default();
                return self
                    .publish(&order.order_id, &decision, &event_id, event_type)
                    .await;
            }
            Ok(None) => {}
            Err(e) => return Outcome::retry(e.to_string()),
        }
        let limit = match self
            .breaker
            .call(self.bureau.credit_limit(&order.user_id))
            .await
        {
            Ok(limit) => limit,
            Err(e) => {
                inc(&self.state.counters.breaker_rejections_total);
                return Outcome::retry(format!("credit check: {e}"));
            }
        };
        let spent = match self.state.store.spent_by(&order.user_id).await {
            Ok(spent) => spent,
            Err(e) => return Outcome::retry(e.to_string()),
        };
        let available = limit.checked_sub(spent).unwrap_or(Decimal::ZERO);
        let now = self.state.clock.now();
        let event_id = uuid::Uuid::new_v4().to_string();
        let (event, authorized_amount) = match authorize_payment(order.amount, available, now) {
            PaymentDecision::Authorized { authorization_code } => (
                SagaEvent::PaymentAuthorized(PaymentAuthorized {
                    event_id: event_id.clone(),
                    order_id: order.order_id.clone(),
                    user_id: order.user_id.clone(),
                    amount: order.amount,
                    status: AuthorizedStatus::Authorized,
                    authorization_code,
                    processed_at: now,
                }),
                order.amount,
            ),
            PaymentDecision::Rejected { reason } => (
                SagaEvent::PaymentRejected(PaymentRejected {
                    event_id: event_id.clone(),
                    order_id: order.order_id.clone(),
                    user_id: order.user_id.clone(),
                    amount: order.amount,
                    status: RejectedStatus::Rejected,
                    rejection_reason: reason,
                    processed_at: now,
                }),
                Decimal::ZERO,
            ),
        };
        let payload = match event.to_json() {
            Ok(payload) => payload,
            Err(e) => return Outcome::reject(format!("cannot encode the payment event: {e}")),
        };
        let decision = StoredDecision {
            topic: event.topic().to_owned(),
            payload,
        };
        if let Err(e) = self
            .state
            .store
            .record_decision(
                &order.event_id,
                &order.user_id,
                authorized_amount,
                &decision,
            )
            .instrument(store_span(SERVICE, "record_decision"))
            .await
        {
            return Outcome::retry(e.to_string());
        }
        match &event {
            SagaEvent::PaymentAuthorized(_) => inc(&self.state.counters.payments_authorized_total),
            _ => inc(&self.state.counters.payments_rejected_total),
        }
        self.publish(&order.order_id, &decision, &event_id, event.event_type())
            .await
    }
}
