//! S4 order saga events (S4-01, S4-02), JSON exactly as seed 004 shows them: camelCase
//! (`eventId`, `orderId`, `authorizationCode`, `rejectionReason`, ...) and `amount` a JSON
//! number (`99.99`) held as [`Decimal`]. Every event is keyed by `orderId` on its topic.
//!
//! | type | topic | `status` |
//! |---|---|---|
//! | [`OrderCreated`] | `orders.created` | `CREATED` |
//! | [`PaymentAuthorized`] | `payments.authorized` | `AUTHORIZED` |
//! | [`PaymentRejected`] | `payments.rejected` | `REJECTED` |
//!
//! `eventId` is a plain string: the seed's ids look like `order-123-1640995200000`, and
//! consumers deduplicate on it whatever its shape; edalab's services fill it with a UUID v7.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::serde_helpers::{decimal_number, rfc3339_millis};
use super::topics;

wire_enum! {
    /// `status` of an [`OrderCreated`]: always `CREATED`.
    #[derive(Default)]
    pub enum CreatedStatus {
        /// `CREATED`.
        #[default]
        Created => "CREATED",
    }
}

wire_enum! {
    /// `status` of a [`PaymentAuthorized`]: always `AUTHORIZED`.
    #[derive(Default)]
    pub enum AuthorizedStatus {
        /// `AUTHORIZED`.
        #[default]
        Authorized => "AUTHORIZED",
    }
}

wire_enum! {
    /// `status` of a [`PaymentRejected`]: always `REJECTED`.
    #[derive(Default)]
    pub enum RejectedStatus {
        /// `REJECTED`.
        #[default]
        Rejected => "REJECTED",
    }
}

/// `OrderCreated` on `orders.created`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCreated {
    /// `eventId`.
    pub event_id: String,
    /// `orderId`: the key.
    pub order_id: String,
    /// `userId`.
    pub user_id: String,
    /// `amount`: JSON number.
    #[serde(with = "decimal_number")]
    pub amount: Decimal,
    /// `items`: item names, as in the seed (`["laptop", "mouse"]`).
    pub items: Vec<String>,
    /// `status`: `CREATED`.
    pub status: CreatedStatus,
    /// `createdAt`.
    #[serde(with = "rfc3339_millis")]
    pub created_at: DateTime<Utc>,
}

/// `PaymentAuthorized` on `payments.authorized`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentAuthorized {
    /// `eventId`.
    pub event_id: String,
    /// `orderId`: the key.
    pub order_id: String,
    /// `userId`.
    pub user_id: String,
    /// `amount`: JSON number.
    #[serde(with = "decimal_number")]
    pub amount: Decimal,
    /// `status`: `AUTHORIZED`.
    pub status: AuthorizedStatus,
    /// `authorizationCode`: `AUTH-<millis>` in the seed.
    pub authorization_code: String,
    /// `processedAt`.
    #[serde(with = "rfc3339_millis")]
    pub processed_at: DateTime<Utc>,
}

/// `PaymentRejected` on `payments.rejected`: a business refusal, not an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PaymentRejected {
    /// `eventId`.
    pub event_id: String,
    /// `orderId`: the key.
    pub order_id: String,
    /// `userId`.
    pub user_id: String,
    /// `amount`: JSON number.
    #[serde(with = "decimal_number")]
    pub amount: Decimal,
    /// `status`: `REJECTED`.
    pub status: RejectedStatus,
    /// `rejectionReason`: e.g. `Insufficient funds`.
    pub rejection_reason: String,
    /// `processedAt`.
    #[serde(with = "rfc3339_millis")]
    pub processed_at: DateTime<Utc>,
}

/// Any event of the order saga.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SagaEvent {
    /// `OrderCreated`.
    OrderCreated(OrderCreated),
    /// `PaymentAuthorized`.
    PaymentAuthorized(PaymentAuthorized),
    /// `PaymentRejected`.
    PaymentRejected(PaymentRejected),
}

impl SagaEvent {
    /// The type name (`OrderCreated`, ...), as the tracking service lists it in `events`.
    pub const fn event_type(&self) -> &'static str {
        match self {
            Self::OrderCreated(_) => "OrderCreated",
            Self::PaymentAuthorized(_) => "PaymentAuthorized",
            Self::PaymentRejected(_) => "PaymentRejected",
        }
    }

    /// The topic the event is published on.
    pub const fn topic(&self) -> &'static str {
        match self {
            Self::OrderCreated(_) => topics::ORDERS_CREATED,
            Self::PaymentAuthorized(_) => topics::PAYMENTS_AUTHORIZED,
            Self::PaymentRejected(_) => topics::PAYMENTS_REJECTED,
        }
    }

    /// `eventId`, the deduplication key.
    pub fn event_id(&self) -> &str {
        match self {
            Self::OrderCreated(e) => &e.event_id,
            Self::PaymentAuthorized(e) => &e.event_id,
            Self::PaymentRejected(e) => &e.event_id,
        }
    }

    /// The message key: `orderId`.
    pub fn key(&self) -> &str {
        match self {
            Self::OrderCreated(e) => &e.order_id,
            Self::PaymentAuthorized(e) => &e.order_id,
            Self::PaymentRejected(e) => &e.order_id,
        }
    }

    /// Parses the JSON payload of a saga topic; `None` when `topic` is not one.
    pub fn from_topic_json(topic: &str, json: &[u8]) -> Option<Result<Self, serde_json::Error>> {
        Some(match topic {
            topics::ORDERS_CREATED => serde_json::from_slice(json).map(Self::OrderCreated),
            topics::PAYMENTS_AUTHORIZED => {
                serde_json::from_slice(json).map(Self::PaymentAuthorized)
            }
            topics::PAYMENTS_REJECTED => serde_json::from_slice(json).map(Self::PaymentRejected),
            _ => return None,
        })
    }

    /// The JSON payload as published.
    pub fn to_json(&self) -> Result<Vec<u8>, serde_json::Error> {
        match self {
            Self::OrderCreated(e) => serde_json::to_vec(e),
            Self::PaymentAuthorized(e) => serde_json::to_vec(e),
            Self::PaymentRejected(e) => serde_json::to_vec(e),
        }
    }
}

impl From<OrderCreated> for SagaEvent {
    fn from(event: OrderCreated) -> Self {
        Self::OrderCreated(event)
    }
}

impl From<PaymentAuthorized> for SagaEvent {
    fn from(event: PaymentAuthorized) -> Self {
        Self::PaymentAuthorized(event)
    }
}

impl From<PaymentRejected> for SagaEvent {
    fn from(event: PaymentRejected) -> Self {
        Self::PaymentRejected(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::test_support::assert_json_round_trip;
    use rust_decimal_macros::dec;
    use serde_json::json;

    const ORDER_CREATED: &str = r#"{
      "eventId": "order-123-1640995200000",
      "orderId": "order-123",
      "userId": "user-456",
      "amount": 99.99,
      "items": ["item1", "item2"],
      "status": "CREATED",
      "createdAt": "2024-01-15T10:30:00.000Z"
    }"#;

    const PAYMENT_AUTHORIZED: &str = r#"{
      "eventId": "payment-order-123-1640995201000",
      "orderId": "order-123",
      "userId": "user-456",
      "amount": 99.99,
      "status": "AUTHORIZED",
      "authorizationCode": "AUTH-1640995201000",
      "processedAt": "2024-01-15T10:30:01.000Z"
    }"#;

    const PAYMENT_REJECTED: &str = r#"{
      "eventId": "payment-order-124-1640995202000",
      "orderId": "order-124",
      "userId": "user-789",
      "amount": 150.00,
      "status": "REJECTED",
      "rejectionReason": "Insufficient funds",
      "processedAt": "2024-01-15T10:30:02.000Z"
    }"#;

    fn same_json(ours: &serde_json::Value, seed: &str) {
        let seed: serde_json::Value = serde_json::from_str(seed).unwrap();
        assert_eq!(ours, &seed);
    }

    #[test]
    fn seed_events_parse_and_serialize_back_identically() {
        let created: OrderCreated = serde_json::from_str(ORDER_CREATED).unwrap();
        assert_eq!(created.amount, dec!(99.99));
        same_json(&assert_json_round_trip(&created), ORDER_CREATED);

        let authorized: PaymentAuthorized = serde_json::from_str(PAYMENT_AUTHORIZED).unwrap();
        same_json(&assert_json_round_trip(&authorized), PAYMENT_AUTHORIZED);

        let rejected: PaymentRejected = serde_json::from_str(PAYMENT_REJECTED).unwrap();
        // 150.00 is written back as the integer 150, which JSON compares equal to 150.0.
        assert_eq!(assert_json_round_trip(&rejected)["amount"], json!(150));
        assert_eq!(rejected.rejection_reason, "Insufficient funds");
    }

    #[test]
    fn wrong_status_is_refused() {
        assert!(
            serde_json::from_str::<OrderCreated>(&ORDER_CREATED.replace("CREATED", "PAID"))
                .is_err()
        );
    }

    #[test]
    fn saga_event_routes_by_topic_and_keys_by_order() {
        for (topic, json) in [
            (topics::ORDERS_CREATED, ORDER_CREATED),
            (topics::PAYMENTS_AUTHORIZED, PAYMENT_AUTHORIZED),
            (topics::PAYMENTS_REJECTED, PAYMENT_REJECTED),
        ] {
            let event = SagaEvent::from_topic_json(topic, json.as_bytes())
                .unwrap()
                .unwrap();
            assert_eq!(event.topic(), topic);
            assert!(event.key().starts_with("order-12"));
            assert!(!event.event_id().is_empty());
            let again = SagaEvent::from_topic_json(topic, &event.to_json().unwrap())
                .unwrap()
                .unwrap();
            assert_eq!(again, event);
        }
        assert!(SagaEvent::from_topic_json("orders.dlq", b"{}").is_none());
    }
}
