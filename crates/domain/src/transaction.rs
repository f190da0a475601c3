//! Submitted banking transactions of the S0 pipeline (S0-01, S0-03).
//!
//! This module owns the request rules of `POST /transactions` (body `{amount, currency,
//! accountFrom, accountTo}` → [`SubmittedTransaction::parse`], every field error at
//! once), the transaction status ([`TransactionStatus`]: `PENDING | PROCESSED |
//! FAILED`), the `txn-…` id format ([`TransactionRef`]) and the processor's
//! re-validation rule ([`revalidate`]). It may not touch HTTP, queues or topics; the
//! queued record and the published events are the event contracts' business.
//!
//! Rules, from the seed's Zod schema (`amount: z.number().positive()`, `currency:
//! z.string().length(3)`, `accountFrom/accountTo: z.string().min(1)`), made stricter
//! where money demands it: the amount is a JSON number `> 0` with at most two decimal
//! places and `< 10^16`; the currency a known ISO-4217 code in uppercase (`"cad"` is
//! refused); the accounts ids under the shared id rule
//! ([`crate::validation::check_id`]: at most 128 characters, no control or bidirectional
//! formatting character) and different from each other; no other field.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::money::{Currency, Money, exact_amount};
use crate::validation::{ErrorAccumulator, JsonObject, ValidationErrors};

/// Wire names of the request's fields.
pub mod fields {
    pub const AMOUNT: &str = "amount";
    pub const CURRENCY: &str = "currency";
    pub const ACCOUNT_FROM: &str = "accountFrom";
    pub const ACCOUNT_TO: &str = "accountTo";
    /// Every field of the body, in the documented order.
    pub const ALL: [&str; 4] = [AMOUNT, CURRENCY, ACCOUNT_FROM, ACCOUNT_TO];
}

/// An account reference as the client wrote it (`"ACC-12345"`), under the id rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct AccountRef(String);

impl AccountRef {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A valid `POST /transactions` body; only [`Self::parse`] builds one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmittedTransaction {
    amount: Money,
    account_from: AccountRef,
    account_to: AccountRef,
}

impl SubmittedTransaction {
    /// Parses a request body's bytes: an empty body or invalid JSON is one error on
    /// `"body"`, anything else goes through [`Self::parse`].
    pub fn parse_json(body: &[u8]) -> Result<Self, ValidationErrors> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(ValidationErrors::single("body", "Missing request body"));
        }
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| ValidationErrors::single("body", format!("invalid JSON: {e}")))?;
        Self::parse(&value)
    }

    /// Checks every field and names each failing one (`amount`, `currency`,
    /// `accountFrom`, `accountTo`, any unknown field); a body that is not an object fails
    /// on `"body"`.
    pub fn parse(body: &Value) -> Result<Self, ValidationErrors> {
        let object = JsonObject::from_value(body)?;
        let mut errors = ErrorAccumulator::new();
        errors.extend(object.unknown_fields(&fields::ALL));
        let amount = errors.field(
            fields::AMOUNT,
            object.number(fields::AMOUNT).and_then(|a| {
                if a > Decimal::ZERO {
                    // Precision and range do not depend on the currency.
                    exact_amount(a).map_err(|e| e.to_string())
                } else {
                    Err("must be a positive number".to_owned())
                }
            }),
        );
        let currency = errors.field(
            fields::CURRENCY,
            object
                .non_empty_str(fields::CURRENCY)
                .and_then(|c| Currency::parse(c).map_err(|e| e.to_string())),
        );
        let account_from = errors.field(
            fields::ACCOUNT_FROM,
            object
                .id(fields::ACCOUNT_FROM)
                .map(|s| AccountRef(s.to_owned())),
        );
        let account_to = errors.field(
            fields::ACCOUNT_TO,
            object
                .id(fields::ACCOUNT_TO)
                .map(|s| AccountRef(s.to_owned())),
        );
        if let (Some(from), Some(to)) = (&account_from, &account_to) {
            errors.check(
                from != to,
                fields::ACCOUNT_TO,
                "must differ from accountFrom: a transaction moves money between two accounts",
            );
        }
        errors.finish(|| {
            Some(Self {
                // `amount` passed `exact_amount`, so this cannot fail.
                amount: Money::from_exact(amount?, currency?).ok()?,
                account_from: account_from?,
                account_to: account_to?,
            })
        })
    }

    pub fn amount(&self) -> Money {
        self.amount
    }
    pub fn currency(&self) -> Currency {
        self.amount.currency()
    }
    pub fn account_from(&self) -> &AccountRef {
        &self.account_from
    }
    pub fn account_to(&self) -> &AccountRef {
        &self.account_to
    }
}

/// A transaction's lifecycle status. Wire: `"PENDING" | "PROCESSED" | "FAILED"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TransactionStatus {
    /// Accepted by the API and queued (202).
    Pending,
    /// Processed and published to `transactions-events`.
    Processed,
    /// Failed processing (fraud alert, retries, then DLQ).
    Failed,
}

impl TransactionStatus {
    pub fn as_wire(&self) -> &'static str {
        match self {
            TransactionStatus::Pending => "PENDING",
            TransactionStatus::Processed => "PROCESSED",
            TransactionStatus::Failed => "FAILED",
        }
    }
}

/// A submitted transaction's id, `txn-<unix millis>-<suffix>` as in the seed
/// (`txn-1736251200000-k3j5h2l9x`). The suffix (random in the seed) is injected.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TransactionRef(String);

impl TransactionRef {
    /// `suffix` should be a few random alphanumeric characters (9 in the seed).
    pub fn new(at: DateTime<Utc>, suffix: &str) -> Self {
        Self(format!("txn-{}-{suffix}", at.timestamp_millis()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TransactionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why the processor refuses a queued record (S0-03). The `Display` texts are the
/// seed's, and become the `error` of the `fraud-alerts` message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProcessingFailure {
    #[error("Invalid amount: must be positive")]
    InvalidAmount,
    #[error("Missing account information")]
    MissingAccount,
    #[error("Invalid transaction record: not a JSON object")]
    NotAnObject,
}

/// The processor's re-validation (S0-03), on the queued record as received: `amount`
/// a number `> 0` (a missing or non-numeric amount fails too), then `accountFrom` and
/// `accountTo` both present and non-blank. Checked in the seed's order; the first
/// failure is returned.
pub fn revalidate(record: &Value) -> Result<(), ProcessingFailure> {
    let Value::Object(record_fields) = record else {
        return Err(ProcessingFailure::NotAnObject);
    };
    let amount_positive = match record_fields.get(fields::AMOUNT) {
        Some(Value::Number(n)) => crate::validation::decimal_from_number(n)
            .map(|a| a > Decimal::ZERO)
            .unwrap_or(false),
        _ => false,
    };
    if !amount_positive {
        return Err(ProcessingFailure::InvalidAmount);
    }
    let present = |name: &str| matches!(record_fields.get(name), Some(Value::String(s)) if !s.trim().is_empty());
    if !present(fields::ACCOUNT_FROM) || !present(fields::ACCOUNT_TO) {
        return Err(ProcessingFailure::MissingAccount);
    }
    Ok(())
}

/// The largest amount the S0-08 workflow's fraud check lets through, in the transaction's
/// currency (a teaching rule, not a bank's: the seed names the step, not its rules).
pub const FRAUD_AMOUNT_LIMIT: Decimal = Decimal::from_parts(10_000, 0, 0, false, 0);

/// Why the S0-08 fraud check stops a transaction. The `Display` text becomes the
/// `FraudDetected` error's message and the `fraud-alerts` message's `error`. (A transfer to
/// the same account never gets here: validation refuses it.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FraudSuspicion {
    #[error("Amount {amount} {currency} above the fraud limit of {FRAUD_AMOUNT_LIMIT}")]
    AboveLimit { amount: Decimal, currency: String },
}

/// The S0-08 fraud check on a validated transaction: more than [`FRAUD_AMOUNT_LIMIT`] at
/// once.
pub fn fraud_suspicion(amount: Decimal, currency: &str) -> Option<FraudSuspicion> {
    (amount > FRAUD_AMOUNT_LIMIT).then(|| FraudSuspicion::AboveLimit {
        amount,
        currency: currency.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use rust_decimal_macros::dec;
    use serde_json::json;
    #[test]
    fn fraud_check_stops_amounts_above_the_limit() {
        assert_eq!(fraud_suspicion(dec!(10), "CAD"), None);
        assert_eq!(fraud_suspicion(dec!(10000), "CAD"), None);
        let large = fraud_suspicion(dec!(10000.01), "EUR").unwrap();
        assert_eq!(
            large.to_string(),
            "Amount 10000.01 EUR above the fraud limit of 10000"
        );
    }

    fn seed_body() -> Value {
        json!({
            "amount": 100.50,
            "currency": "CAD",
            "accountFrom": "ACC-12345",
            "accountTo": "ACC-67890"
        })
    }

    fn with(field: &str, value: Value) -> Value {
        let mut v = seed_body();
        v[field] = value;
        v
    }

    fn without(field: &str) -> Value {
        let mut v = seed_body();
        v.as_object_mut().unwrap().remove(field);
        v
    }

    #[test]
    fn seed_example_parses() {
        let tx = SubmittedTransaction::parse(&seed_body()).unwrap();
        assert_eq!(
            tx.amount(),
            Money::new(dec!(100.50), Currency::CAD).unwrap()
        );
        assert_eq!(tx.currency(), Currency::CAD);
        assert_eq!(tx.account_from().as_str(), "ACC-12345");
        assert_eq!(tx.account_to().as_str(), "ACC-67890");
    }

    #[test]
    fn negative_amount_refused() {
        let errors = SubmittedTransaction::parse(&with("amount", json!(-50.00))).unwrap_err();
        assert_eq!(
            errors.message_for("amount"),
            Some("must be a positive number")
        );
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn zero_amount_refused() {
        let errors = SubmittedTransaction::parse(&with("amount", json!(0))).unwrap_err();
        assert!(errors.has_field("amount"));
    }

    #[test]
    fn non_numeric_amount_refused() {
        let errors = SubmittedTransaction::parse(&with("amount", json!("100"))).unwrap_err();
        assert_eq!(
            errors.message_for("amount"),
            Some("must be a number, found a string")
        );
    }

    #[test]
    fn amount_with_three_decimals_or_out_of_range_refused() {
        let errors = SubmittedTransaction::parse(&with("amount", json!(1.005))).unwrap_err();
        assert!(
            errors
                .message_for("amount")
                .unwrap()
                .contains("decimal places")
        );
        let errors = SubmittedTransaction::parse(&with("amount", json!(1e17))).unwrap_err();
        assert!(
            errors
                .message_for("amount")
                .unwrap()
                .contains("out of range")
        );
    }

    #[test]
    fn currency_must_be_three_uppercase_letters() {
        let errors = SubmittedTransaction::parse(&with("currency", json!("CA"))).unwrap_err();
        assert!(
            errors
                .message_for("currency")
                .unwrap()
                .contains("3 uppercase letters")
        );
        let errors = SubmittedTransaction::parse(&with("currency", json!(124))).unwrap_err();
        assert_eq!(
            errors.message_for("currency"),
            Some("must be a string, found a number")
        );
    }

    #[test]
    fn empty_accounts_refused() {
        let errors = SubmittedTransaction::parse(&with("accountFrom", json!(""))).unwrap_err();
        assert_eq!(errors.message_for("accountFrom"), Some("must not be empty"));
        let errors = SubmittedTransaction::parse(&with("accountTo", json!("  "))).unwrap_err();
        assert_eq!(errors.message_for("accountTo"), Some("must not be empty"));
    }

    #[test]
    fn accounts_follow_the_id_rule() {
        for bad in ["ACC\u{0}1", "ACC\u{202E}1", "\u{2067}ACC"] {
            let errors = SubmittedTransaction::parse(&with("accountFrom", json!(bad))).unwrap_err();
            assert!(
                errors
                    .message_for("accountFrom")
                    .is_some_and(|m| m.contains("must not contain")),
                "{bad:?}: {errors}"
            );
        }
        let long = "A".repeat(1 << 20);
        let errors = SubmittedTransaction::parse(&with("accountTo", json!(long))).unwrap_err();
        assert_eq!(
            errors.message_for("accountTo"),
            Some("must be at most 128 characters")
        );
    }

    #[test]
    fn the_same_account_on_both_ends_is_refused() {
        let errors =
            SubmittedTransaction::parse(&with("accountTo", json!("ACC-12345"))).unwrap_err();
        assert!(
            errors
                .message_for("accountTo")
                .is_some_and(|m| m.starts_with("must differ from accountFrom")),
            "{errors}"
        );
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn unknown_fields_are_refused() {
        let errors = SubmittedTransaction::parse(&with("memo", json!("hi"))).unwrap_err();
        assert_eq!(
            errors.message_for("memo"),
            Some("unknown field (expected one of amount, currency, accountFrom, accountTo)")
        );
    }

    #[test]
    fn each_missing_field_is_named() {
        for field in ["amount", "currency", "accountFrom", "accountTo"] {
            let errors = SubmittedTransaction::parse(&without(field)).unwrap_err();
            assert_eq!(errors.message_for(field), Some("is required"), "{field}");
        }
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let errors =
            SubmittedTransaction::parse(&json!({"amount": -1, "currency": "cad"})).unwrap_err();
        let fields: Vec<_> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["amount", "currency", "accountFrom", "accountTo"]);
        let body = serde_json::to_value(errors.to_body("Invalid transaction data")).unwrap();
        assert_eq!(body["details"].as_array().unwrap().len(), 4);
    }

    #[test]
    fn missing_body_and_bad_json_are_body_errors() {
        let errors = SubmittedTransaction::parse_json(b"").unwrap_err();
        assert_eq!(errors.message_for("body"), Some("Missing request body"));
        let errors = SubmittedTransaction::parse_json(b"{\"amount\": ").unwrap_err();
        assert!(
            errors
                .message_for("body")
                .unwrap()
                .starts_with("invalid JSON")
        );
        let errors = SubmittedTransaction::parse_json(b"[]").unwrap_err();
        assert!(errors.has_field("body"));
        assert!(SubmittedTransaction::parse_json(seed_body().to_string().as_bytes()).is_ok());
    }

    #[test]
    fn status_wire_names() {
        assert_eq!(
            serde_json::to_value(TransactionStatus::Pending).unwrap(),
            json!("PENDING")
        );
        assert_eq!(TransactionStatus::Processed.as_wire(), "PROCESSED");
        assert_eq!(TransactionStatus::Failed.as_wire(), "FAILED");
    }

    #[test]
    fn transaction_ref_format() {
        let at = Utc.timestamp_millis_opt(1_736_251_200_000).unwrap();
        assert_eq!(
            TransactionRef::new(at, "k3j5h2l9x").as_str(),
            "txn-1736251200000-k3j5h2l9x"
        );
    }

    fn queued() -> Value {
        json!({
            "transactionId": "txn-1-a", "amount": 250.00, "currency": "CAD",
            "accountFrom": "ACC-11111", "accountTo": "ACC-22222",
            "timestamp": "2026-01-07T10:00:00Z", "status": "PENDING"
        })
    }

    #[test]
    fn revalidate_accepts_a_queued_record() {
        assert_eq!(revalidate(&queued()), Ok(()));
    }

    #[test]
    fn revalidate_refuses_non_positive_or_missing_amount() {
        for amount in [json!(0), json!(-5), json!("10"), Value::Null] {
            let mut record = queued();
            record["amount"] = amount;
            assert_eq!(revalidate(&record), Err(ProcessingFailure::InvalidAmount));
        }
        assert_eq!(
            ProcessingFailure::InvalidAmount.to_string(),
            "Invalid amount: must be positive"
        );
    }

    #[test]
    fn revalidate_refuses_missing_accounts() {
        for field in ["accountFrom", "accountTo"] {
            let mut record = queued();
            record[field] = json!("");
            assert_eq!(revalidate(&record), Err(ProcessingFailure::MissingAccount));
            record.as_object_mut().unwrap().remove(field);
            assert_eq!(revalidate(&record), Err(ProcessingFailure::MissingAccount));
        }
        assert_eq!(
            ProcessingFailure::MissingAccount.to_string(),
            "Missing account information"
        );
    }

    #[test]
    fn revalidate_refuses_a_non_object() {
        assert_eq!(
            revalidate(&json!("poison")),
            Err(ProcessingFailure::NotAnObject)
        );
    }
}
