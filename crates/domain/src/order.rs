//! E-commerce order intake (S2-01, S2-03): the order file as dropped under `orders/`,
//! its validation into an [`Order`], and the status the worker records.
//!
//! This module owns the file's shape ([`OrderFile`], lenient so that every problem can
//! be reported), the rules of a valid order ([`Order::parse`]) and the intake status
//! ([`OrderStatus`], [`intake_status`]). It may not read files, queues or tables.
//!
//! A valid order has an `order_id`, a `customer_id` and item `sku`s under the shared id
//! rule ([`crate::validation::check_id`]: at most 128 characters, no control or
//! bidirectional formatting character), an RFC 3339 `created_at`,
//! a known ISO-4217 `currency`, an `amount > 0`, at least one item, and each item an integer `qty >= 1` and a `unit_price >= 0`; money has at most
//! two decimal places, and `amount` equals `Σ qty × unit_price` to the cent.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::money::{Currency, Money, decimal_as_json_number, exact_amount};
use crate::validation::{
    ErrorAccumulator, ID_CHARS_MAX, JsonObject, ValidationErrors, check_id, decimal_from_number,
    json_type_name,
};

/// An order file as written (S2-01): `{order_id, customer_id, created_at, currency,
/// amount, items: [{sku, qty, unit_price}]}`. Every field is an optional raw JSON value
/// so that a wrong type becomes a field error in [`Order::parse`], not a failed read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OrderFile {
    pub order_id: Option<Value>,
    pub customer_id: Option<Value>,
    pub created_at: Option<Value>,
    pub currency: Option<Value>,
    pub amount: Option<Value>,
    pub items: Option<Value>,
}

impl OrderFile {
    /// Reads a file's bytes; content that is not a JSON object is one error on `"body"`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ValidationErrors> {
        let value: Value = serde_json::from_slice(bytes)
            .map_err(|e| ValidationErrors::single("body", format!("invalid JSON: {e}")))?;
        JsonObject::from_value(&value)?;
        serde_json::from_value(value)
            .map_err(|e| ValidationErrors::single("body", format!("invalid order file: {e}")))
    }

    /// The `order_id` if it passes the id rule, even when the rest is invalid: the key
    /// under which a rejected order is recorded and duplicates are recognised.
    pub fn order_id_hint(&self) -> Option<&str> {
        match &self.order_id {
            Some(Value::String(s)) if check_id(s, ID_CHARS_MAX).is_ok() => Some(s),
            _ => None,
        }
    }
}

/// A non-empty order id, e.g. `ORD-2026-001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OrderId(String);

impl OrderId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrderId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A non-empty customer id, e.g. `CUST-1001`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CustomerId(String);

impl CustomerId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One order line. `qty >= 1`, `unit_price >= 0` in the order's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderItem {
    sku: String,
    qty: u32,
    unit_price: Money,
}

impl OrderItem {
    pub fn sku(&self) -> &str {
        &self.sku
    }
    pub fn qty(&self) -> u32 {
        self.qty
    }
    pub fn unit_price(&self) -> Money {
        self.unit_price
    }
    /// `qty × unit_price`.
    pub fn line_total(&self) -> Result<Money, crate::money::MoneyError> {
        self.unit_price.checked_mul_quantity(u64::from(self.qty))
    }
}

/// A valid order; only [`Order::parse`] builds one. Serializes back to the file's shape
/// (amounts as JSON numbers, as in the seed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Order {
    order_id: OrderId,
    customer_id: CustomerId,
    created_at: DateTime<Utc>,
    amount: Money,
    items: Vec<OrderItem>,
}

/// An item read before the order's currency is known.
struct ItemDraft {
    sku: String,
    qty: u32,
    unit_price: Decimal,
}

impl Order {
    /// Checks every rule of the module doc and reports every failing field at once
    /// (`"amount"`, `"items"`, `"items[1].qty"`, ...).
    pub fn parse(raw: &OrderFile) -> Result<Order, ValidationErrors> {
        let mut errors = ErrorAccumulator::new();
        let order_id = errors.field("order_id", id_string(raw.order_id.as_ref()).map(OrderId));
        let customer_id = errors.field(
            "customer_id",
            id_string(raw.customer_id.as_ref()).map(CustomerId),
        );
        let created_at = errors.field("created_at", rfc3339(raw.created_at.as_ref()));
        let currency = errors.field("currency", currency(raw.currency.as_ref()));
        let amount = errors.field(
            "amount",
            money_amount(raw.amount.as_ref()).and_then(|a| {
                if a > Decimal::ZERO {
                    Ok(a)
                } else {
                    Err("must be > 0".to_owned())
                }
            }),
        );
        let items = items(raw.items.as_ref(), &mut errors);

        // The total is checked only when every figure it needs was read.
        if let (Some(amount), Some(items)) = (amount, &items) {
            match items.iter().try_fold(Decimal::ZERO, |sum, item| {
                Decimal::from(item.qty)
                    .checked_mul(item.unit_price)
                    .and_then(|line| sum.checked_add(line))
            }) {
                Some(total) if total == amount => {}
                Some(total) => errors.push(
                    "amount",
                    format!("must equal the sum of qty × unit_price ({total})"),
                ),
                None => errors.push("items", "the sum of qty × unit_price overflows"),
            }
        }

        let items = items.zip(currency).and_then(|(drafts, currency)| {
            drafts
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    let unit_price = errors.field(
                        format!("items[{i}].unit_price"),
                        Money::from_exact(d.unit_price, currency),
                    )?;
                    Some(OrderItem {
                        sku: d.sku,
                        qty: d.qty,
                        unit_price,
                    })
                })
                .collect::<Option<Vec<_>>>()
        });
        let amount = amount.zip(currency).and_then(|(amount, currency)| {
            errors.field("amount", Money::from_exact(amount, currency))
        });
        errors.finish(|| {
            Some(Order {
                order_id: order_id?,
                customer_id: customer_id?,
                created_at: created_at?,
                amount: amount?,
                items: items?,
            })
        })
    }

    pub fn order_id(&self) -> &OrderId {
        &self.order_id
    }
    pub fn customer_id(&self) -> &CustomerId {
        &self.customer_id
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    pub fn currency(&self) -> Currency {
        self.amount.currency()
    }
    pub fn amount(&self) -> Money {
        self.amount
    }
    pub fn items(&self) -> &[OrderItem] {
        &self.items
    }
}

#[derive(Serialize)]
struct OrderWire<'a> {
    order_id: &'a OrderId,
    customer_id: &'a CustomerId,
    created_at: DateTime<Utc>,
    currency: Currency,
    #[serde(with = "decimal_as_json_number")]
    amount: Decimal,
    items: Vec<ItemWire<'a>>,
}

#[derive(Serialize)]
struct ItemWire<'a> {
    sku: &'a str,
    qty: u32,
    #[serde(with = "decimal_as_json_number")]
    unit_price: Decimal,
}

impl Serialize for Order {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        OrderWire {
            order_id: &self.order_id,
            customer_id: &self.customer_id,
            created_at: self.created_at,
            currency: self.currency(),
            amount: self.amount.amount(),
            items: self
                .items
                .iter()
                .map(|i| ItemWire {
                    sku: &i.sku,
                    qty: i.qty,
                    unit_price: i.unit_price.amount(),
                })
                .collect(),
        }
        .serialize(serializer)
    }
}

/// A string under the id rule.
fn id_string(value: Option<&Value>) -> Result<String, String> {
    let text = crate::validation::non_empty_str(value)?;
    check_id(text, ID_CHARS_MAX)?;
    Ok(text.to_owned())
}

fn rfc3339(value: Option<&Value>) -> Result<DateTime<Utc>, String> {
    let text = crate::validation::non_empty_str(value)?;
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("must be an RFC 3339 date-time such as 2026-01-07T10:00:00Z ({e})"))
}

fn currency(value: Option<&Value>) -> Result<Currency, String> {
    let text = crate::validation::non_empty_str(value)?;
    Currency::parse(text).map_err(|e| e.to_string())
}

/// A JSON number with at most two decimals, within the money range.
fn money_amount(value: Option<&Value>) -> Result<Decimal, String> {
    let amount = match value {
        None | Some(Value::Null) => return Err(crate::validation::MISSING.to_owned()),
        Some(Value::Number(n)) => decimal_from_number(n)?,
        Some(other) => return Err(format!("must be a number, found {}", json_type_name(other))),
    };
    exact_amount(amount).map_err(|e| e.to_string())
}

/// Reads `items`; records errors and returns `None` if any item (or the list) is bad.
fn items(value: Option<&Value>, errors: &mut ErrorAccumulator) -> Option<Vec<ItemDraft>> {
    let list = match value {
        None | Some(Value::Null) => {
            errors.push("items", crate::validation::MISSING);
            return None;
        }
        Some(Value::Array(list)) => list,
        Some(other) => {
            errors.push(
                "items",
                format!("must be an array, found {}", json_type_name(other)),
            );
            return None;
        }
    };
    if list.is_empty() {
        errors.push("items", "must contain at least one item");
        return None;
    }
    let drafts: Vec<Option<ItemDraft>> = list
        .iter()
        .enumerate()
        .map(|(i, item)| errors.nested(&format!("items[{i}]"), item_draft(item)))
        .collect();
    drafts.into_iter().collect()
}

fn item_draft(value: &Value) -> Result<ItemDraft, ValidationErrors> {
    let object = JsonObject::from_value(value)
        .map_err(|_| ValidationErrors::single("", "must be an object {sku, qty, unit_price}"))?;
    let mut errors = ErrorAccumulator::new();
    let sku = errors.field("sku", object.id("sku").map(str::to_owned));
    let qty = errors.field("qty", quantity(object.get("qty")));
    let unit_price = errors.field(
        "unit_price",
        money_amount(object.get("unit_price")).and_then(|p| {
            if p >= Decimal::ZERO {
                Ok(p)
            } else {
                Err("must be >= 0".to_owned())
            }
        }),
    );
    errors.finish(|| {
        Some(ItemDraft {
            sku: sku?,
            qty: qty?,
            unit_price: unit_price?,
        })
    })
}

fn quantity(value: Option<&Value>) -> Result<u32, String> {
    const MESSAGE: &str = "must be an integer >= 1";
    match value {
        None => Err(crate::validation::MISSING.to_owned()),
        Some(Value::Number(n)) => {
            let q = decimal_from_number(n)?;
            if q.fract().is_zero() && q >= Decimal::ONE {
                q.to_u32()
                    .ok_or_else(|| format!("must be at most {}", u32::MAX))
            } else {
                Err(MESSAGE.to_owned())
            }
        }
        Some(other) => Err(format!("{MESSAGE}, found {}", json_type_name(other))),
    }
}

/// The status the intake worker records for an order file (S2-03).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Valid and recorded.
    Processed,
    /// Invalid: recorded as rejected, the message goes to the DLQ.
    Rejected,
    /// Its `order_id` was already recorded: not processed again.
    Duplicate,
}

impl OrderStatus {
    pub fn as_wire(&self) -> &'static str {
        match self {
            OrderStatus::Processed => "PROCESSED",
            OrderStatus::Rejected => "REJECTED",
            OrderStatus::Duplicate => "DUPLICATE",
        }
    }
}

/// S2-03: an order whose `order_id` is already recorded is `DUPLICATE` (whatever its
/// content: an order is never processed twice); otherwise `PROCESSED` when valid,
/// `REJECTED` when not.
pub fn intake_status(
    already_recorded: bool,
    parsed: &Result<Order, ValidationErrors>,
) -> OrderStatus {
    match (already_recorded, parsed) {
        (true, _) => OrderStatus::Duplicate,
        (false, Ok(_)) => OrderStatus::Processed,
        (false, Err(_)) => OrderStatus::Rejected,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
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

    fn parse_value(value: Value) -> Result<Order, ValidationErrors> {
        Order::parse(&serde_json::from_value(value).unwrap())
    }

    fn valid_value() -> Value {
        serde_json::from_str(VALID).unwrap()
    }

    fn with(field: &str, value: Value) -> Value {
        let mut v = valid_value();
        v[field] = value;
        v
    }

    #[test]
    fn seed_valid_order_parses() {
        let order = Order::parse(&OrderFile::from_json(VALID.as_bytes()).unwrap()).unwrap();
        assert_eq!(order.order_id().as_str(), "ORD-2026-001");
        assert_eq!(order.customer_id().as_str(), "CUST-1001");
        assert_eq!(
            order.amount(),
            Money::new(dec!(149.99), Currency::EUR).unwrap()
        );
        assert_eq!(order.items().len(), 2);
        assert_eq!(order.items()[1].unit_price().amount(), dec!(50.00));
        assert_eq!(order.created_at().to_rfc3339(), "2026-01-07T10:00:00+00:00");
        assert_eq!(intake_status(false, &Ok(order)), OrderStatus::Processed);
    }

    #[test]
    fn seed_invalid_order_reports_amount_and_items() {
        let raw = OrderFile::from_json(INVALID.as_bytes()).unwrap();
        let parsed = Order::parse(&raw);
        let errors = parsed.clone().unwrap_err();
        assert_eq!(errors.message_for("amount"), Some("must be > 0"));
        assert_eq!(
            errors.message_for("items"),
            Some("must contain at least one item")
        );
        assert_eq!(errors.len(), 2);
        assert_eq!(raw.order_id_hint(), Some("ORD-2026-002"));
        assert_eq!(intake_status(false, &parsed), OrderStatus::Rejected);
    }

    #[test]
    fn same_order_id_again_is_duplicate() {
        let parsed = parse_value(valid_value());
        assert_eq!(intake_status(true, &parsed), OrderStatus::Duplicate);
        let invalid = parse_value(with("amount", json!(-1)));
        assert_eq!(intake_status(true, &invalid), OrderStatus::Duplicate);
    }

    #[test]
    fn amount_must_equal_the_sum_of_lines() {
        let errors = parse_value(with("amount", json!(149.98))).unwrap_err();
        assert_eq!(
            errors.message_for("amount"),
            Some("must equal the sum of qty × unit_price (149.99)")
        );
    }

    #[test]
    fn quantities_multiply_unit_prices() {
        let v = json!({
            "order_id": "O", "customer_id": "C", "created_at": "2026-01-07T10:00:00+01:00",
            "currency": "EUR", "amount": 30.5,
            "items": [{"sku": "A", "qty": 3, "unit_price": 10.0}, {"sku": "B", "qty": 1, "unit_price": 0.5}]
        });
        let order = parse_value(v).unwrap();
        assert_eq!(order.items()[0].line_total().unwrap().amount(), dec!(30.00));
        assert_eq!(order.created_at().to_rfc3339(), "2026-01-07T09:00:00+00:00");
    }

    #[test]
    fn zero_and_negative_amount_refused() {
        for bad in [json!(0), json!(-10)] {
            let errors = parse_value(with("amount", bad)).unwrap_err();
            assert_eq!(errors.message_for("amount"), Some("must be > 0"));
        }
    }

    #[test]
    fn amount_of_wrong_type_or_precision_refused() {
        let errors = parse_value(with("amount", json!("149.99"))).unwrap_err();
        assert_eq!(
            errors.message_for("amount"),
            Some("must be a number, found a string")
        );
        let errors = parse_value(with("amount", json!(149.999))).unwrap_err();
        assert!(
            errors
                .message_for("amount")
                .unwrap()
                .contains("more than 2 decimal places")
        );
    }

    #[test]
    fn missing_fields_are_all_named() {
        let errors = parse_value(json!({})).unwrap_err();
        for field in [
            "order_id",
            "customer_id",
            "created_at",
            "currency",
            "amount",
            "items",
        ] {
            assert_eq!(errors.message_for(field), Some("is required"), "{field}");
        }
    }

    #[test]
    fn empty_ids_refused() {
        let errors = parse_value(with("order_id", json!(" "))).unwrap_err();
        assert_eq!(errors.message_for("order_id"), Some("must not be empty"));
        let errors = parse_value(with("customer_id", json!(""))).unwrap_err();
        assert_eq!(errors.message_for("customer_id"), Some("must not be empty"));
    }

    #[test]
    fn created_at_must_be_rfc3339() {
        for bad in [json!("2026-01-07 10:00"), json!("07/01/2026"), json!(12)] {
            let errors = parse_value(with("created_at", bad.clone())).unwrap_err();
            assert!(errors.has_field("created_at"), "{bad}");
        }
    }

    #[test]
    fn currency_must_be_iso() {
        for bad in ["eur", "EURO", "XXY"] {
            let errors = parse_value(with("currency", json!(bad))).unwrap_err();
            assert!(errors.has_field("currency"), "{bad}");
        }
    }

    #[test]
    fn items_must_be_a_non_empty_array() {
        let errors = parse_value(with("items", json!({"sku": "A"}))).unwrap_err();
        assert_eq!(
            errors.message_for("items"),
            Some("must be an array, found an object")
        );
        let errors = parse_value(with("items", json!([]))).unwrap_err();
        assert_eq!(
            errors.message_for("items"),
            Some("must contain at least one item")
        );
    }

    #[test]
    fn ids_follow_the_id_rule() {
        let mut raw = with("order_id", json!("ORD\u{202E}1"));
        raw["customer_id"] = json!("C".repeat(129));
        raw["items"][0]["sku"] = json!("A\u{0}");
        let errors = parse_value(raw.clone()).unwrap_err();
        assert!(errors.message_for("order_id").unwrap().contains("U+202E"));
        assert_eq!(
            errors.message_for("customer_id"),
            Some("must be at most 128 characters")
        );
        assert!(
            errors
                .message_for("items[0].sku")
                .unwrap()
                .contains("U+0000")
        );
        let file: OrderFile = serde_json::from_value(raw).unwrap();
        assert_eq!(
            file.order_id_hint(),
            None,
            "a bad id is no key to record under"
        );
    }

    #[test]
    fn each_bad_item_field_is_named() {
        let errors = parse_value(with(
            "items",
            json!([
                {"sku": "", "qty": 0, "unit_price": -1},
                {"sku": "B", "qty": 1.5, "unit_price": "9"},
                "not an item",
                {"sku": "D", "qty": "2", "unit_price": 1}
            ]),
        ))
        .unwrap_err();
        assert_eq!(
            errors.message_for("items[0].sku"),
            Some("must not be empty")
        );
        assert_eq!(
            errors.message_for("items[0].qty"),
            Some("must be an integer >= 1")
        );
        assert_eq!(
            errors.message_for("items[0].unit_price"),
            Some("must be >= 0")
        );
        assert_eq!(
            errors.message_for("items[1].qty"),
            Some("must be an integer >= 1")
        );
        assert_eq!(
            errors.message_for("items[1].unit_price"),
            Some("must be a number, found a string")
        );
        assert_eq!(
            errors.message_for("items[2]"),
            Some("must be an object {sku, qty, unit_price}")
        );
        assert!(errors.has_field("items[3].qty"));
    }

    #[test]
    fn free_items_are_allowed() {
        let v = json!({
            "order_id": "O", "customer_id": "C", "created_at": "2026-01-07T10:00:00Z",
            "currency": "EUR", "amount": 5,
            "items": [{"sku": "A", "qty": 1, "unit_price": 5}, {"sku": "GIFT", "qty": 2, "unit_price": 0}]
        });
        assert!(parse_value(v).is_ok());
    }

    #[test]
    fn bad_json_is_a_body_error() {
        let errors = OrderFile::from_json(b"{not json").unwrap_err();
        assert!(
            errors
                .message_for("body")
                .unwrap()
                .starts_with("invalid JSON")
        );
        let errors = OrderFile::from_json(b"[1,2]").unwrap_err();
        assert!(errors.has_field("body"));
    }

    #[test]
    fn order_serializes_to_the_file_shape() {
        let order = parse_value(valid_value()).unwrap();
        let value = serde_json::to_value(&order).unwrap();
        assert_eq!(
            value,
            json!({
                "order_id": "ORD-2026-001",
                "customer_id": "CUST-1001",
                "created_at": "2026-01-07T10:00:00Z",
                "currency": "EUR",
                "amount": 149.99,
                "items": [
                    { "sku": "SKU-1", "qty": 1, "unit_price": 99.99 },
                    { "sku": "SKU-2", "qty": 1, "unit_price": 50.0 }
                ]
            })
        );
        assert_eq!(parse_value(value).unwrap(), order);
    }

    #[test]
    fn status_wire_names() {
        assert_eq!(
            serde_json::to_value(OrderStatus::Duplicate).unwrap(),
            json!("DUPLICATE")
        );
        assert_eq!(OrderStatus::Processed.as_wire(), "PROCESSED");
        assert_eq!(OrderStatus::Rejected.as_wire(), "REJECTED");
    }
}
