//! S0 transactions pipeline messages (S0-01, S0-03, S0-05), JSON as seed 000 writes them.
//!
//! Field names are the seed's camelCase (`transactionId`, `accountFrom`, `processedAt`,
//! ...), set with `#[serde(rename_all = "camelCase")]` on each type. `amount` is a JSON
//! **number** here, as in the seed's TypeScript (`amount: number`, `"amount": 100.50`):
//! it is held as a [`Decimal`] and written with
//! [`super::serde_helpers::decimal_number`] (integers as integers, other
//! values as the nearest `f64`, exact below 10^13 with two decimals). The Avro schema of
//! `TransactionProcessed` (`schemas/transactions/transaction-processed.avsc`) carries it as
//! decimal(18,2).
//!
//! | type | where | status |
//! |---|---|---|
//! | [`QueuedTransaction`] | queue `transactions` | `PENDING` |
//! | [`TransactionProcessed`] | topic `transactions-events`, key `transactionId` | `PROCESSED` |
//! | [`FraudAlert`] | topic `fraud-alerts` | — |
//! | [`TransactionNotification`] | topic `notifications` | — |

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::serde_helpers::{decimal_number, rfc3339_millis};

wire_enum! {
    /// `status` of a transaction waiting in the queue: always `PENDING`.
    #[derive(Default)]
    pub enum PendingStatus {
        /// `PENDING`.
        #[default]
        Pending => "PENDING",
    }
}

wire_enum! {
    /// `status` of a processed transaction: always `PROCESSED`.
    #[derive(Default)]
    pub enum ProcessedStatus {
        /// `PROCESSED`.
        #[default]
        Processed => "PROCESSED",
    }
}

wire_enum! {
    /// `type` of a [`TransactionNotification`].
    pub enum NotificationKind {
        /// `TRANSACTION_PROCESSED`: the transaction went through.
        TransactionProcessed => "TRANSACTION_PROCESSED",
        /// `TRANSACTION_FAILED`: the transaction was refused or dead-lettered.
        TransactionFailed => "TRANSACTION_FAILED",
    }
}

/// A submitted transaction as queued on `transactions` (S0-01): the validated request
/// body enriched with `transactionId` (`txn-…`), `timestamp` and `status: PENDING`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueuedTransaction {
    /// `transactionId`: `txn-<millis>-<suffix>`.
    pub transaction_id: String,
    /// `amount`: JSON number, > 0 once validated.
    #[serde(with = "decimal_number")]
    pub amount: Decimal,
    /// `currency`: three letters.
    pub currency: String,
    /// `accountFrom`.
    pub account_from: String,
    /// `accountTo`.
    pub account_to: String,
    /// `timestamp`: when the API accepted it.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    /// `status`: `PENDING`.
    pub status: PendingStatus,
}

impl QueuedTransaction {
    /// The `TransactionProcessed` event for this transaction (the seed spreads the queued
    /// record and overrides `status`, adding `processedAt` and `processorId`).
    pub fn processed(
        &self,
        processed_at: DateTime<Utc>,
        processor_id: impl Into<String>,
    ) -> TransactionProcessed {
        TransactionProcessed {
            transaction_id: self.transaction_id.clone(),
            amount: self.amount,
            currency: self.currency.clone(),
            account_from: self.account_from.clone(),
            account_to: self.account_to.clone(),
            timestamp: self.timestamp,
            status: ProcessedStatus::Processed,
            processed_at: super::truncate_to_millis(processed_at),
            processor_id: processor_id.into(),
        }
    }
}

/// `TransactionProcessed` on `transactions-events` (S0-03), keyed by `transactionId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionProcessed {
    /// `transactionId`.
    pub transaction_id: String,
    /// `amount`: JSON number.
    #[serde(with = "decimal_number")]
    pub amount: Decimal,
    /// `currency`.
    pub currency: String,
    /// `accountFrom`.
    pub account_from: String,
    /// `accountTo`.
    pub account_to: String,
    /// `timestamp`: when the transaction was submitted.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    /// `status`: `PROCESSED`.
    pub status: ProcessedStatus,
    /// `processedAt`.
    #[serde(with = "rfc3339_millis")]
    pub processed_at: DateTime<Utc>,
    /// `processorId`: which processor instance handled it (the Lambda function name in
    /// the seed).
    pub processor_id: String,
}

/// A fraud alert on `fraud-alerts` (S0-03): `{transactionId, error, timestamp}`, published
/// when processing a transaction fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FraudAlert {
    /// `transactionId`: the transaction (the queue message id when the body was unreadable).
    pub transaction_id: String,
    /// `error`: why processing failed.
    pub error: String,
    /// `timestamp`.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
}

/// A notification on `notifications` (S0-05), produced by the consumer group from
/// `transactions-events`. The seed names the topic but not the shape; this one follows the
/// S0 camelCase style.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionNotification {
    /// `notificationId`: a UUID; edalab derives it from the `transactionId` (v5), so a
    /// re-sent notification carries the same id.
    pub notification_id: uuid::Uuid,
    /// `type`.
    #[serde(rename = "type")]
    pub kind: NotificationKind,
    /// `transactionId`.
    pub transaction_id: String,
    /// `accountId`: the account notified (the debited one).
    pub account_id: String,
    /// `amount`: JSON number.
    #[serde(with = "decimal_number")]
    pub amount: Decimal,
    /// `currency`.
    pub currency: String,
    /// `message`: human-readable text.
    pub message: String,
    /// `timestamp`.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::test_support::{assert_json_round_trip, instant};
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn queued() -> QueuedTransaction {
        QueuedTransaction {
            transaction_id: "txn-1770372930123-k3j9x2m1q".to_owned(),
            amount: dec!(1234.56),
            currency: "EUR".to_owned(),
            account_from: "FR7630006000011234567890189".to_owned(),
            account_to: "FR1420041010050500013M02606".to_owned(),
            timestamp: instant(),
            status: PendingStatus::Pending,
        }
    }

    #[test]
    fn queued_transaction_matches_the_seed() {
        let json = assert_json_round_trip(&queued());
        assert_eq!(
            json,
            json!({
                "transactionId": "txn-1770372930123-k3j9x2m1q",
                "amount": 1234.56,
                "currency": "EUR",
                "accountFrom": "FR7630006000011234567890189",
                "accountTo": "FR1420041010050500013M02606",
                "timestamp": "2026-02-06T10:15:30.123Z",
                "status": "PENDING"
            })
        );
    }

    #[test]
    fn seed_sqs_message_parses() {
        // The message seed 000 sends to the queue by hand (without `status`) is not a
        // queued transaction; the one the API enqueues is.
        let seed = r#"{"transactionId":"txn-001","amount":100.50,"currency":"CAD",
            "accountFrom":"ACC-12345","accountTo":"ACC-67890",
            "timestamp":"2026-02-06T10:00:00Z","status":"PENDING"}"#;
        let t: QueuedTransaction = serde_json::from_str(seed).unwrap();
        assert_eq!(t.amount, dec!(100.50));
        assert_eq!(serde_json::to_value(&t).unwrap()["amount"], json!(100.5));
        assert!(
            serde_json::from_str::<QueuedTransaction>(&seed.replace("PENDING", "PROCESSED"))
                .is_err()
        );
    }

    #[test]
    fn transaction_processed_round_trips_and_spreads_the_queued_record() {
        let processed = queued().processed(
            instant() + chrono::Duration::milliseconds(870),
            "edalab-transactions-processor-1",
        );
        let json = assert_json_round_trip(&processed);
        assert_eq!(json["status"], "PROCESSED");
        assert_eq!(json["processedAt"], "2026-02-06T10:15:30.993Z");
        assert_eq!(json["processorId"], "edalab-transactions-processor-1");
        assert_eq!(json["amount"], json!(1234.56));
        assert_eq!(json.as_object().unwrap().len(), 9);
    }

    #[test]
    fn fraud_alert_and_notification_round_trip() {
        let alert = FraudAlert {
            transaction_id: "txn-1770372930123-k3j9x2m1q".to_owned(),
            error: "Invalid amount: must be positive".to_owned(),
            timestamp: instant(),
        };
        let json = assert_json_round_trip(&alert);
        assert_eq!(
            json,
            json!({
                "transactionId": "txn-1770372930123-k3j9x2m1q",
                "error": "Invalid amount: must be positive",
                "timestamp": "2026-02-06T10:15:30.123Z"
            })
        );
        let notification = TransactionNotification {
            notification_id: "01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e20".parse().unwrap(),
            kind: NotificationKind::TransactionProcessed,
            transaction_id: "txn-1770372930123-k3j9x2m1q".to_owned(),
            account_id: "FR7630006000011234567890189".to_owned(),
            amount: dec!(250.00),
            currency: "EUR".to_owned(),
            message: "Votre virement de 250.00 EUR a été traité".to_owned(),
            timestamp: instant(),
        };
        let json = assert_json_round_trip(&notification);
        assert_eq!(json["type"], "TRANSACTION_PROCESSED");
        assert_eq!(json["amount"], json!(250));
    }
}
