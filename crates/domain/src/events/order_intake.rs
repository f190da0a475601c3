//! S2 order intake messages (S2-01, S2-03): the order read from an `orders/` file and
//! queued by the validator, and the record the worker stores with its status. JSON as seed
//! 002 writes it, snake_case (`order_id`, `unit_price`, ...) so no renames are needed.
//!
//! `amount` and `unit_price` are JSON numbers (`149.99`) held as [`Decimal`]. The message
//! type parses anything shaped like an order, including the seed's invalid example
//! (negative amount, no items): deciding valid vs `REJECTED` is the worker's rule, not a
//! parse failure, so that the stored status can say why.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::serde_helpers::{decimal_number, rfc3339_millis};

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// `sku`.
    pub sku: String,
    /// `qty`: signed so that a negative quantity is reported by validation, not lost in
    /// a parse error.
    pub qty: i64,
    /// `unit_price`: JSON number.
    #[serde(with = "decimal_number")]
    pub unit_price: Decimal,
}

/// An order as queued by the intake validator (S2-01).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeOrder {
    /// `order_id`: `ORD-2026-001`; the idempotency key.
    pub order_id: String,
    /// `customer_id`.
    pub customer_id: String,
    /// `created_at`: RFC 3339.
    #[serde(with = "rfc3339_millis")]
    pub created_at: DateTime<Utc>,
    /// `currency`.
    pub currency: String,
    /// `amount`: JSON number.
    #[serde(with = "decimal_number")]
    pub amount: Decimal,
    /// `items`.
    pub items: Vec<OrderLine>,
}

wire_enum! {
    /// `status` the worker stores for an order (S2-03).
    pub enum IntakeStatus {
        /// `PROCESSED`: valid, stored once.
        Processed => "PROCESSED",
        /// `REJECTED`: invalid; the message went to the DLQ.
        Rejected => "REJECTED",
        /// `DUPLICATE`: this `order_id` was already processed; nothing changed.
        Duplicate => "DUPLICATE",
    }
}

/// The stored order (table `tp-orders` / `orders`): the order, its status, when the
/// worker decided, and why when rejected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredOrder {
    /// The order as received.
    #[serde(flatten)]
    pub order: IntakeOrder,
    /// `status`.
    pub status: IntakeStatus,
    /// `processed_at`: when the worker wrote this status.
    #[serde(with = "rfc3339_millis")]
    pub processed_at: DateTime<Utc>,
    /// `rejection_reasons`: one entry per failed rule; empty unless `REJECTED`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rejection_reasons: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::test_support::{assert_json_round_trip, instant};
    use rust_decimal_macros::dec;
    use serde_json::json;

    const VALID: &str = r#"{
      "order_id": "ORD-2026-001",
      "customer_id": "CUST-1001",
      "created_at": "2026-01-07T10:00:00Z",
      "currency": "EUR",
      "amount": 149.99,
      "items": [
        { "sku": "SKU-1", "qty": 1, "unit_price": 99.99 },
        { "sku": "SKU-2", "qty": 1, "unit_price": 50.00 }
      ]
    }"#;

    const INVALID: &str = r#"{
      "order_id": "ORD-2026-002",
      "customer_id": "CUST-1002",
      "created_at": "2026-01-07T10:05:00Z",
      "currency": "EUR",
      "amount": -10,
      "items": []
    }"#;

    #[test]
    fn seed_valid_order_parses_and_round_trips() {
        let order: IntakeOrder = serde_json::from_str(VALID).unwrap();
        assert_eq!(order.amount, dec!(149.99));
        assert_eq!(order.items.len(), 2);
        assert_eq!(order.items[1].unit_price, dec!(50));
        let json = assert_json_round_trip(&order);
        assert_eq!(json["created_at"], "2026-01-07T10:00:00.000Z");
        assert_eq!(
            json["items"][0],
            json!({"sku": "SKU-1", "qty": 1, "unit_price": 99.99})
        );
    }

    #[test]
    fn seed_invalid_order_still_parses() {
        let order: IntakeOrder = serde_json::from_str(INVALID).unwrap();
        assert_eq!(order.amount, dec!(-10));
        assert!(order.items.is_empty());
        assert_json_round_trip(&order);
    }

    #[test]
    fn stored_order_round_trips_flat() {
        let stored = StoredOrder {
            order: serde_json::from_str(INVALID).unwrap(),
            status: IntakeStatus::Rejected,
            processed_at: instant(),
            rejection_reasons: vec![
                "amount: must be > 0".to_owned(),
                "items: at least one item".to_owned(),
            ],
        };
        let json = assert_json_round_trip(&stored);
        assert_eq!(json["order_id"], "ORD-2026-002");
        assert_eq!(json["status"], "REJECTED");
        let processed = StoredOrder {
            order: serde_json::from_str(VALID).unwrap(),
            status: IntakeStatus::Processed,
            processed_at: instant(),
            rejection_reasons: Vec::new(),
        };
        let json = assert_json_round_trip(&processed);
        assert!(json.get("rejection_reasons").is_none());
    }
}
