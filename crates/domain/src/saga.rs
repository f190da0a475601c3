//! The order saga over the bus (S4-01..03): order requests, the payment decision and
//! the tracking view folded from the saga's events.
//!
//! This module owns the rules of `POST /orders` ([`OrderRequest::parse`]), the saga's
//! states ([`SagaStatus`]: `CREATED → PAYMENT_AUTHORIZED | PAYMENT_REJECTED`), the
//! payment rule ([`authorize_payment`]) and the tracking aggregate
//! ([`OrderTracking`], the body of `GET /orders/:orderId/status`). The event payloads
//! (`OrderCreated`, `PaymentAuthorized`, `PaymentRejected`) belong to the event
//! contracts; the services convert them to [`TrackedEvent`]s. No I/O here.
//!
//! # Payment rule
//! A payment is authorized when the order's amount is at most the user's available
//! credit, which the caller passes in (e.g. a per-user credit limit from
//! configuration, less what that user already spent): `amount <= available`. Otherwise
//! it is rejected with the reason exactly `"Insufficient funds"`. The authorization
//! code is `AUTH-<processedAt in Unix millis>`, as in the seed.
//!
//! # Tracking fold
//! Events of one order may arrive in any order (they come from different topics):
//! - a payment outcome always wins over `CREATED`, whichever arrived first;
//! - the first payment outcome is final; a later, contradicting one is listed in
//!   `events` but does not change the status;
//! - an event whose `eventId` was already applied is ignored (redelivery);
//! - `events` lists applied events in arrival order, `lastUpdated` is the latest
//!   event timestamp.

use std::collections::{BTreeMap, HashSet};
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use crate::money::{decimal_as_json_number, exact_amount};
use crate::validation::{
    ErrorAccumulator, ID_CHARS_MAX, JsonObject, ValidationErrors, check_id, json_type_name,
};

/// The rejection reason of S4-02, exactly.
pub const INSUFFICIENT_FUNDS: &str = "Insufficient funds";

/// A user id (`userId`) under the shared id rule ([`check_id`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A valid `POST /orders` body `{userId, amount, items[]}`; only [`Self::parse`]
/// builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRequest {
    user_id: UserId,
    amount: Decimal,
    items: Vec<String>,
}

impl OrderRequest {
    /// The body's fields.
    pub const FIELDS: [&'static str; 3] = ["userId", "amount", "items"];
    /// Most items in one order.
    pub const ITEMS_MAX: usize = 100;

    /// Rules: `userId` an id ([`check_id`]); `amount` a JSON number `> 0` with at most
    /// two decimals and `< 10^16`; `items` an array of 1 to [`Self::ITEMS_MAX`] names,
    /// each under the id rule too (the seed's items are names: `["laptop", "mouse"]`); no
    /// other field. Every failing field is named (`userId`, `amount`, `items`,
    /// `items[2]`, an unknown one).
    pub fn parse(body: &Value) -> Result<Self, ValidationErrors> {
        let object = JsonObject::from_value(body)?;
        let mut errors = ErrorAccumulator::new();
        errors.extend(object.unknown_fields(&Self::FIELDS));
        let user_id = errors.field("userId", object.id("userId").map(|s| UserId(s.to_owned())));
        let amount = errors.field(
            "amount",
            object.number("amount").and_then(|a| {
                if a > Decimal::ZERO {
                    exact_amount(a).map_err(|e| e.to_string())
                } else {
                    Err("must be > 0".to_owned())
                }
            }),
        );
        let items = match object.array("items") {
            Err(message) => {
                errors.push("items", message);
                None
            }
            Ok(list) if list.is_empty() => {
                errors.push("items", "must contain at least one item");
                None
            }
            Ok(list) if list.len() > Self::ITEMS_MAX => {
                errors.push(
                    "items",
                    format!("must contain at most {} items", Self::ITEMS_MAX),
                );
                None
            }
            Ok(list) => list
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    let name = match item {
                        Value::String(s) => check_id(s, ID_CHARS_MAX).map(|()| s.clone()),
                        other => Err(format!("must be a string, found {}", json_type_name(other))),
                    };
                    errors.field(format!("items[{i}]"), name)
                })
                .collect::<Vec<_>>()
                .into_iter()
                .collect::<Option<Vec<_>>>(),
        };
        errors.finish(|| {
            Some(Self {
                user_id: user_id?,
                amount: amount?,
                items: items?,
            })
        })
    }

    pub fn user_id(&self) -> &UserId {
        &self.user_id
    }
    /// Positive, two decimals at most.
    pub fn amount(&self) -> Decimal {
        self.amount
    }
    pub fn items(&self) -> &[String] {
        &self.items
    }
}

/// The order's state in the saga. Wire: `"CREATED" | "PAYMENT_AUTHORIZED" |
/// "PAYMENT_REJECTED"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SagaStatus {
    Created,
    PaymentAuthorized,
    PaymentRejected,
}

/// The payment's outcome. Wire: `"AUTHORIZED" | "REJECTED"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PaymentStatus {
    Authorized,
    Rejected,
}

/// What the payment service decided for one order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentDecision {
    Authorized { authorization_code: String },
    Rejected { reason: String },
}

impl PaymentDecision {
    pub fn status(&self) -> PaymentStatus {
        match self {
            PaymentDecision::Authorized { .. } => PaymentStatus::Authorized,
            PaymentDecision::Rejected { .. } => PaymentStatus::Rejected,
        }
    }
}

/// The payment rule of the module doc: authorized iff `amount <= available_credit`,
/// with code `AUTH-<processed_at millis>`; else rejected with `"Insufficient funds"`.
pub fn authorize_payment(
    amount: Decimal,
    available_credit: Decimal,
    processed_at: DateTime<Utc>,
) -> PaymentDecision {
    if amount <= available_credit {
        PaymentDecision::Authorized {
            authorization_code: format!("AUTH-{}", processed_at.timestamp_millis()),
        }
    } else {
        PaymentDecision::Rejected {
            reason: INSUFFICIENT_FUNDS.to_owned(),
        }
    }
}

/// One saga event as the tracking service needs it (converted from the event
/// contracts by the service).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrackedEvent {
    OrderCreated {
        event_id: String,
        order_id: String,
        user_id: String,
        amount: Decimal,
        items: Vec<String>,
        created_at: DateTime<Utc>,
    },
    PaymentAuthorized {
        event_id: String,
        order_id: String,
        authorization_code: String,
        processed_at: DateTime<Utc>,
    },
    PaymentRejected {
        event_id: String,
        order_id: String,
        rejection_reason: String,
        processed_at: DateTime<Utc>,
    },
}

impl TrackedEvent {
    pub fn event_id(&self) -> &str {
        match self {
            TrackedEvent::OrderCreated { event_id, .. }
            | TrackedEvent::PaymentAuthorized { event_id, .. }
            | TrackedEvent::PaymentRejected { event_id, .. } => event_id,
        }
    }

    pub fn order_id(&self) -> &str {
        match self {
            TrackedEvent::OrderCreated { order_id, .. }
            | TrackedEvent::PaymentAuthorized { order_id, .. }
            | TrackedEvent::PaymentRejected { order_id, .. } => order_id,
        }
    }

    /// `OrderCreated`, `PaymentAuthorized` or `PaymentRejected` (the `events[].type`).
    pub fn type_name(&self) -> &'static str {
        match self {
            TrackedEvent::OrderCreated { .. } => "OrderCreated",
            TrackedEvent::PaymentAuthorized { .. } => "PaymentAuthorized",
            TrackedEvent::PaymentRejected { .. } => "PaymentRejected",
        }
    }

    pub fn timestamp(&self) -> DateTime<Utc> {
        match self {
            TrackedEvent::OrderCreated { created_at, .. } => *created_at,
            TrackedEvent::PaymentAuthorized { processed_at, .. }
            | TrackedEvent::PaymentRejected { processed_at, .. } => *processed_at,
        }
    }
}

/// Timestamps as the seed writes them: `2024-01-15T10:30:00.000Z`.
fn millis_z<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
}

fn optional_millis_z<S: Serializer>(
    at: &Option<DateTime<Utc>>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match at {
        Some(at) => millis_z(at, serializer),
        None => serializer.serialize_none(),
    }
}

fn optional_amount<S: Serializer>(
    amount: &Option<Decimal>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match amount {
        Some(amount) => decimal_as_json_number::serialize(amount, serializer),
        None => serializer.serialize_none(),
    }
}

/// `details` of the tracking view; fields not known yet are omitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_amount"
    )]
    pub amount: Option<Decimal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<String>>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_millis_z"
    )]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment_status: Option<PaymentStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorization_code: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_millis_z"
    )]
    pub authorized_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection_reason: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        serialize_with = "optional_millis_z"
    )]
    pub rejected_at: Option<DateTime<Utc>>,
}

/// `events[]` entry: `{"type": "OrderCreated", "timestamp": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackedEventEntry {
    #[serde(rename = "type")]
    pub type_name: &'static str,
    #[serde(serialize_with = "millis_z")]
    pub timestamp: DateTime<Utc>,
}

/// The tracking view of one order (S4-03): `{orderId, status, details, events,
/// lastUpdated}`, folded from its events (rules in the module doc).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderTracking {
    pub order_id: String,
    pub status: SagaStatus,
    pub details: TrackingDetails,
    pub events: Vec<TrackedEventEntry>,
    #[serde(serialize_with = "millis_z")]
    pub last_updated: DateTime<Utc>,
    #[serde(skip)]
    applied_event_ids: HashSet<String>,
}

/// Whether [`OrderTracking::apply`] used an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Yes,
    /// Already applied (same `eventId`).
    Duplicate,
    /// About another order.
    OtherOrder,
}

impl OrderTracking {
    /// The view after the first event seen for an order (whatever its type).
    pub fn start(event: &TrackedEvent) -> Self {
        let mut tracking = Self {
            order_id: event.order_id().to_owned(),
            status: SagaStatus::Created,
            details: TrackingDetails::default(),
            events: Vec::new(),
            last_updated: event.timestamp(),
            applied_event_ids: HashSet::new(),
        };
        tracking.apply(event);
        tracking
    }

    /// Folds one more event into the view.
    pub fn apply(&mut self, event: &TrackedEvent) -> Applied {
        if event.order_id() != self.order_id {
            return Applied::OtherOrder;
        }
        if !self.applied_event_ids.insert(event.event_id().to_owned()) {
            return Applied::Duplicate;
        }
        let payment_decided = self.details.payment_status.is_some();
        match event {
            TrackedEvent::OrderCreated {
                user_id,
                amount,
                items,
                created_at,
                ..
            } => {
                self.details.user_id = Some(user_id.clone());
                self.details.amount = Some(*amount);
                self.details.items = Some(items.clone());
                self.details.created_at = Some(*created_at);
            }
            TrackedEvent::PaymentAuthorized {
                authorization_code,
                processed_at,
                ..
            } if !payment_decided => {
                self.status = SagaStatus::PaymentAuthorized;
                self.details.payment_status = Some(PaymentStatus::Authorized);
                self.details.authorization_code = Some(authorization_code.clone());
                self.details.authorized_at = Some(*processed_at);
            }
            TrackedEvent::PaymentRejected {
                rejection_reason,
                processed_at,
                ..
            } if !payment_decided => {
                self.status = SagaStatus::PaymentRejected;
                self.details.payment_status = Some(PaymentStatus::Rejected);
                self.details.rejection_reason = Some(rejection_reason.clone());
                self.details.rejected_at = Some(*processed_at);
            }
            // A second, contradicting payment outcome: listed, not applied.
            TrackedEvent::PaymentAuthorized { .. } | TrackedEvent::PaymentRejected { .. } => {}
        }
        self.events.push(TrackedEventEntry {
            type_name: event.type_name(),
            timestamp: event.timestamp(),
        });
        self.last_updated = self.last_updated.max(event.timestamp());
        Applied::Yes
    }

    /// The view of the order of the first event, folded from `events` (events of
    /// other orders are skipped). `None` for no events.
    pub fn fold<'e>(events: impl IntoIterator<Item = &'e TrackedEvent>) -> Option<Self> {
        let mut events = events.into_iter();
        let mut tracking = Self::start(events.next()?);
        for event in events {
            tracking.apply(event);
        }
        Some(tracking)
    }
}

/// Every order's view, by order id (`GET /orders`), folded from a mixed stream.
pub fn fold_all<'e>(
    events: impl IntoIterator<Item = &'e TrackedEvent>,
) -> BTreeMap<String, OrderTracking> {
    let mut views: BTreeMap<String, OrderTracking> = BTreeMap::new();
    for event in events {
        match views.get_mut(event.order_id()) {
            Some(view) => {
                view.apply(event);
            }
            None => {
                views.insert(event.order_id().to_owned(), OrderTracking::start(event));
            }
        }
    }
    views
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn ms(millis: i64) -> DateTime<Utc> {
        Utc.timestamp_millis_opt(millis).unwrap()
    }

    fn created(order: &str) -> TrackedEvent {
        TrackedEvent::OrderCreated {
            event_id: format!("{order}-1705314600000"),
            order_id: order.to_owned(),
            user_id: "user-123".to_owned(),
            amount: dec!(99.99),
            items: vec!["laptop".to_owned(), "mouse".to_owned()],
            created_at: ms(1_705_314_600_000),
        }
    }

    fn authorized(order: &str) -> TrackedEvent {
        TrackedEvent::PaymentAuthorized {
            event_id: format!("payment-{order}-1705314601000"),
            order_id: order.to_owned(),
            authorization_code: "AUTH-1640995201000".to_owned(),
            processed_at: ms(1_705_314_601_000),
        }
    }

    fn rejected(order: &str) -> TrackedEvent {
        TrackedEvent::PaymentRejected {
            event_id: format!("payment-{order}-1705314602000"),
            order_id: order.to_owned(),
            rejection_reason: INSUFFICIENT_FUNDS.to_owned(),
            processed_at: ms(1_705_314_602_000),
        }
    }

    // ---- OrderRequest ----

    #[test]
    fn seed_request_parses() {
        let request = OrderRequest::parse(
            &json!({"userId": "user-123", "amount": 99.99, "items": ["laptop", "mouse"]}),
        )
        .unwrap();
        assert_eq!(request.user_id().as_str(), "user-123");
        assert_eq!(request.amount(), dec!(99.99));
        assert_eq!(request.items(), ["laptop", "mouse"]);
    }

    #[test]
    fn non_positive_amount_refused() {
        for amount in [json!(0), json!(-1)] {
            let errors =
                OrderRequest::parse(&json!({"userId": "u", "amount": amount, "items": ["a"]}))
                    .unwrap_err();
            assert_eq!(errors.message_for("amount"), Some("must be > 0"));
        }
    }

    #[test]
    fn amount_must_be_a_number_with_cents() {
        let errors =
            OrderRequest::parse(&json!({"userId": "u", "amount": "99.99", "items": ["a"]}))
                .unwrap_err();
        assert_eq!(
            errors.message_for("amount"),
            Some("must be a number, found a string")
        );
        let errors = OrderRequest::parse(&json!({"userId": "u", "amount": 1.001, "items": ["a"]}))
            .unwrap_err();
        assert!(errors.has_field("amount"));
    }

    #[test]
    fn empty_user_id_refused() {
        let errors =
            OrderRequest::parse(&json!({"userId": " ", "amount": 1, "items": ["a"]})).unwrap_err();
        assert_eq!(errors.message_for("userId"), Some("must not be empty"));
    }

    #[test]
    fn empty_items_refused() {
        let errors =
            OrderRequest::parse(&json!({"userId": "u", "amount": 1, "items": []})).unwrap_err();
        assert_eq!(
            errors.message_for("items"),
            Some("must contain at least one item")
        );
    }

    #[test]
    fn bad_items_are_named() {
        let errors =
            OrderRequest::parse(&json!({"userId": "u", "amount": 1, "items": ["a", "", 3]}))
                .unwrap_err();
        assert_eq!(errors.message_for("items[1]"), Some("must not be empty"));
        assert_eq!(
            errors.message_for("items[2]"),
            Some("must be a string, found a number")
        );
        let errors =
            OrderRequest::parse(&json!({"userId": "u", "amount": 1, "items": "a"})).unwrap_err();
        assert_eq!(
            errors.message_for("items"),
            Some("must be an array, found a string")
        );
    }

    #[test]
    fn ids_items_and_fields_are_bounded() {
        let errors = OrderRequest::parse(
            &json!({"userId": "u\u{202E}", "amount": 1, "items": ["a\u{0}"], "coupon": "X"}),
        )
        .unwrap_err();
        assert!(errors.message_for("userId").unwrap().contains("U+202E"));
        assert!(errors.message_for("items[0]").unwrap().contains("U+0000"));
        assert!(
            errors
                .message_for("coupon")
                .unwrap()
                .starts_with("unknown field")
        );
        let many: Vec<String> = (0..=OrderRequest::ITEMS_MAX)
            .map(|i| i.to_string())
            .collect();
        let errors =
            OrderRequest::parse(&json!({"userId": "u", "amount": 1, "items": many})).unwrap_err();
        assert_eq!(
            errors.message_for("items"),
            Some("must contain at most 100 items")
        );
    }

    #[test]
    fn every_missing_field_is_named() {
        let errors = OrderRequest::parse(&json!({})).unwrap_err();
        for field in ["userId", "amount", "items"] {
            assert_eq!(errors.message_for(field), Some("is required"), "{field}");
        }
        assert!(
            OrderRequest::parse(&json!(null))
                .unwrap_err()
                .has_field("body")
        );
    }

    // ---- payment rule ----

    #[test]
    fn payment_within_credit_is_authorized_with_seed_code() {
        let decision = authorize_payment(dec!(99.99), dec!(100), ms(1_640_995_201_000));
        assert_eq!(
            decision,
            PaymentDecision::Authorized {
                authorization_code: "AUTH-1640995201000".to_owned()
            }
        );
        assert_eq!(decision.status(), PaymentStatus::Authorized);
        // Exactly the available credit is enough.
        assert_eq!(
            authorize_payment(dec!(100), dec!(100), ms(0)).status(),
            PaymentStatus::Authorized
        );
    }

    #[test]
    fn payment_over_credit_is_rejected_with_insufficient_funds() {
        let decision = authorize_payment(dec!(150.00), dec!(100), ms(0));
        assert_eq!(
            decision,
            PaymentDecision::Rejected {
                reason: "Insufficient funds".to_owned()
            }
        );
        assert_eq!(decision.status(), PaymentStatus::Rejected);
    }

    // ---- tracking fold ----

    #[test]
    fn seed_status_view() {
        let view = OrderTracking::fold(&[created("order-1"), authorized("order-1")]).unwrap();
        assert_eq!(
            serde_json::to_value(&view).unwrap(),
            json!({
                "orderId": "order-1",
                "status": "PAYMENT_AUTHORIZED",
                "details": {
                    "userId": "user-123",
                    "amount": 99.99,
                    "items": ["laptop", "mouse"],
                    "createdAt": "2024-01-15T10:30:00.000Z",
                    "paymentStatus": "AUTHORIZED",
                    "authorizationCode": "AUTH-1640995201000",
                    "authorizedAt": "2024-01-15T10:30:01.000Z"
                },
                "events": [
                    {"type": "OrderCreated", "timestamp": "2024-01-15T10:30:00.000Z"},
                    {"type": "PaymentAuthorized", "timestamp": "2024-01-15T10:30:01.000Z"}
                ],
                "lastUpdated": "2024-01-15T10:30:01.000Z"
            })
        );
    }

    #[test]
    fn created_only_is_created() {
        let view = OrderTracking::fold(&[created("order-2")]).unwrap();
        assert_eq!(view.status, SagaStatus::Created);
        let value = serde_json::to_value(&view).unwrap();
        assert_eq!(value["status"], json!("CREATED"));
        assert!(value["details"].get("paymentStatus").is_none());
    }

    #[test]
    fn rejection_is_tracked_with_its_reason() {
        let view = OrderTracking::fold(&[created("o"), rejected("o")]).unwrap();
        assert_eq!(view.status, SagaStatus::PaymentRejected);
        assert_eq!(view.details.payment_status, Some(PaymentStatus::Rejected));
        assert_eq!(
            view.details.rejection_reason.as_deref(),
            Some("Insufficient funds")
        );
    }

    #[test]
    fn payment_arriving_before_creation_still_wins() {
        let view = OrderTracking::fold(&[authorized("o"), created("o")]).unwrap();
        assert_eq!(view.status, SagaStatus::PaymentAuthorized);
        assert_eq!(view.details.user_id.as_deref(), Some("user-123"));
        assert_eq!(view.last_updated, ms(1_705_314_601_000));
        let types: Vec<_> = view.events.iter().map(|e| e.type_name).collect();
        assert_eq!(types, ["PaymentAuthorized", "OrderCreated"]);
    }

    #[test]
    fn redelivered_event_is_ignored() {
        let mut view = OrderTracking::start(&created("o"));
        assert_eq!(view.apply(&created("o")), Applied::Duplicate);
        assert_eq!(view.apply(&authorized("o")), Applied::Yes);
        assert_eq!(view.apply(&authorized("o")), Applied::Duplicate);
        assert_eq!(view.events.len(), 2);
    }

    #[test]
    fn first_payment_outcome_is_final() {
        let view = OrderTracking::fold(&[created("o"), authorized("o"), rejected("o")]).unwrap();
        assert_eq!(view.status, SagaStatus::PaymentAuthorized);
        assert_eq!(view.details.rejection_reason, None);
        assert_eq!(view.events.len(), 3);
    }

    #[test]
    fn events_of_other_orders_are_skipped() {
        let mut view = OrderTracking::start(&created("a"));
        assert_eq!(view.apply(&authorized("b")), Applied::OtherOrder);
        assert_eq!(view.status, SagaStatus::Created);
        assert_eq!(OrderTracking::fold(&[]), None);
    }

    #[test]
    fn fold_all_builds_one_view_per_order() {
        let events = [created("a"), created("b"), rejected("b"), authorized("a")];
        let views = fold_all(&events);
        assert_eq!(views.len(), 2);
        assert_eq!(views["a"].status, SagaStatus::PaymentAuthorized);
        assert_eq!(views["b"].status, SagaStatus::PaymentRejected);
    }

    #[test]
    fn status_wire_names() {
        assert_eq!(
            serde_json::to_value(SagaStatus::PaymentRejected).unwrap(),
            json!("PAYMENT_REJECTED")
        );
        assert_eq!(
            serde_json::to_value(PaymentStatus::Authorized).unwrap(),
            json!("AUTHORIZED")
        );
    }
}
