//! The transactions pipeline's store (`transactions.sqlite`): one row per transaction
//! (`PENDING` → `PROCESSED` | `FAILED`), the running totals per currency and the ids
//! already counted in them. SQLite today, behind [`TransactionStore`].

use std::path::Path;
use std::str::FromStr;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use edalab_domain::events::transactions::{QueuedTransaction, TransactionProcessed};
use rusqlite::{OptionalExtension, params};
use rust_decimal::Decimal;
use serde::Serialize;

use crate::pipeline::{self, StartError, lock};

#[derive(Debug, thiserror::Error)]
#[error("transactions store: {0}")]
pub struct StoreError(String);

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self(e.to_string())
    }
}

/// `GET /api/v1/transactions/{id}`'s body (the seed's camelCase).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    pub transaction_id: String,
    /// JSON number, as on the queue; absent for a record only known from the DLQ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<serde_json::Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub currency: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_from: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_to: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<String>,
    /// `PENDING`, `PROCESSED` or `FAILED`.
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processed_at: Option<String>,
    /// Why it failed (the DLQ reason).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One currency's running total; `total` a decimal string (`"1234.56"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CurrencyTotal {
    pub currency: String,
    pub count: u64,
    pub total: String,
}

pub trait TransactionStore: Send + Sync {
    fn insert_pending(&self, queued: &QueuedTransaction) -> Result<(), StoreError>;
    fn mark_processed(&self, id: &str, processed_at: DateTime<Utc>) -> Result<(), StoreError>;
    /// `FAILED` with `error`; creates the row for a transaction only seen in the DLQ.
    fn mark_failed(&self, id: &str, error: &str) -> Result<(), StoreError>;
    fn get(&self, id: &str) -> Result<Option<TransactionView>, StoreError>;
    /// Adds the event to its currency's total once per `transactionId`; `false` if it
    /// was already counted.
    fn apply_to_totals(&self, event: &TransactionProcessed) -> Result<bool, StoreError>;
    fn totals(&self) -> Result<Vec<CurrencyTotal>, StoreError>;
}

pub struct SqliteTransactionStore {
    connection: Mutex<rusqlite::Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS transactions (
    id TEXT PRIMARY KEY,
    amount TEXT, currency TEXT, account_from TEXT, account_to TEXT, timestamp TEXT,
    status TEXT NOT NULL, processed_at TEXT, error TEXT
);
CREATE TABLE IF NOT EXISTS currency_totals (
    currency TEXT PRIMARY KEY, count INTEGER NOT NULL, total TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS totals_applied (transaction_id TEXT PRIMARY KEY);
";

impl SqliteTransactionStore {
    pub fn open(data_dir: &Path) -> Result<Self, StartError> {
        let connection = pipeline::open_sqlite(data_dir, "transactions.sqlite")?;
        connection
            .execute_batch(SCHEMA)
            .map_err(|e| StartError::Store {
                path: data_dir.join("transactions.sqlite").display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }
}

fn millis(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

impl TransactionStore for SqliteTransactionStore {
    fn insert_pending(&self, q: &QueuedTransaction) -> Result<(), StoreError> {
        lock(&self.connection).execute(
            "INSERT INTO transactions (id, amount, currency, account_from, account_to, timestamp, status)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'PENDING')",
            params![
                q.transaction_id,
                q.amount.to_string(),
                q.currency,
                q.account_from,
                q.account_to,
                millis(q.timestamp)
            ],
        )?;
        Ok(())
    }

    fn mark_processed(&self, id: &str, processed_at: DateTime<Utc>) -> Result<(), StoreError> {
        lock(&self.connection).execute(
            "INSERT INTO transactions (id, status, processed_at) VALUES (?1, 'PROCESSED', ?2)
             ON CONFLICT(id) DO UPDATE SET status = 'PROCESSED', processed_at = ?2, error = NULL",
            params![id, millis(processed_at)],
        )?;
        Ok(())
    }

    fn mark_failed(&self, id: &str, error: &str) -> Result<(), StoreError> {
        lock(&self.connection).execute(
            "INSERT INTO transactions (id, status, error) VALUES (?1, 'FAILED', ?2)
             ON CONFLICT(id) DO UPDATE SET status = 'FAILED', error = ?2 WHERE status <> 'PROCESSED'",
            params![id, error],
        )?;
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Option<TransactionView>, StoreError> {
        let connection = lock(&self.connection);
        Ok(connection
            .query_row(
                "SELECT amount, currency, account_from, account_to, timestamp, status, processed_at, error
                 FROM transactions WHERE id = ?1",
                params![id],
                |row| {
                    let amount: Option<String> = row.get(0)?;
                    Ok(TransactionView {
                        transaction_id: id.to_owned(),
                        amount: amount.and_then(|a| serde_json::from_str(&a).ok()),
                        currency: row.get(1)?,
                        account_from: row.get(2)?,
                        account_to: row.get(3)?,
                        timestamp: row.get(4)?,
                        status: row.get(5)?,
                        processed_at: row.get(6)?,
                        error: row.get(7)?,
                    })
                },
            )
            .optional()?)
    }

    fn apply_to_totals(&self, event: &TransactionProcessed) -> Result<bool, StoreError> {
        let mut connection = lock(&self.connection);
        let tx = connection.transaction()?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO totals_applied (transaction_id) VALUES (?1)",
            params![event.transaction_id],
        )?;
        if inserted == 0 {
            return Ok(false);
        }
        let current: Option<String> = tx
            .query_row(
                "SELECT total FROM currency_totals WHERE currency = ?1",
                params![event.currency],
                |row| row.get(0),
            )
            .optional()?;
        let current = current
            .map(|t| Decimal::from_str(&t).map_err(|e| StoreError(e.to_string())))
            .transpose()?
            .unwrap_or(Decimal::ZERO);
        let mut total = current
            .checked_add(event.amount)
            .ok_or_else(|| StoreError(format!("{} total overflows", event.currency)))?;
        // Money is written at scale 2 (`"150.00"`, ADR 002); amounts are exact at ≤ 2 decimals.
        total.rescale(2);
        tx.execute(
            "INSERT INTO currency_totals (currency, count, total) VALUES (?1, 1, ?2)
             ON CONFLICT(currency) DO UPDATE SET count = count + 1, total = ?2",
            params![event.currency, total.to_string()],
        )?;
        tx.commit()?;
        Ok(true)
    }

    fn totals(&self) -> Result<Vec<CurrencyTotal>, StoreError> {
        let connection = lock(&self.connection);
        let mut statement = connection
            .prepare("SELECT currency, count, total FROM currency_totals ORDER BY currency")?;
        let rows = statement.query_map([], |row| {
            Ok(CurrencyTotal {
                currency: row.get(0)?,
                count: row.get::<_, i64>(1)?.max(0).unsigned_abs(),
                total: row.get(2)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}
