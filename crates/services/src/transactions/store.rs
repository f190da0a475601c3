//! The transactions pipeline's store: one row per transaction (`PENDING` → `PROCESSED` |
//! `FAILED`), the running totals per currency, and what makes the S0-05 effects happen
//! once: an inbox per [`Effect`] and the committed length of each archive file. Behind
//! [`TransactionStore`]: SQLite (`transactions.sqlite`; the inbox is the runtime's
//! exactly-once hook, [`Inbox`], implemented by [`EffectInbox`] over a rusqlite transaction)
//! or PostgreSQL (tables `s0_…`; the same inbox over a `sqlx` transaction,
//! [`PgEffectInbox`]), chosen by [`open`].

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use edalab_bus::runtime::{Applied, AppliedId, Inbox, apply_once};
use edalab_domain::events::transactions::{QueuedTransaction, TransactionProcessed};
use rusqlite::{OptionalExtension, params};
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::{PgPool, Postgres};

use crate::pipeline::{self, StartError, StoreChoice, lock};

#[derive(Debug, thiserror::Error)]
#[error("transactions store: {0}")]
pub struct StoreError(String);

impl StoreError {
    /// An error of a store implemented elsewhere (DynamoDB on the `aws` profile).
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self(e.to_string())
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self(e.to_string())
    }
}

/// `GET /api/v1/transactions/{id}`'s body (the seed's camelCase).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionView {
    pub transaction_id: String,
    /// JSON number, as on the queue; absent for a record only known from the DLQ.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CurrencyTotal {
    pub currency: String,
    pub count: u64,
    pub total: String,
}

/// A side effect of the S0-05 consumers that must happen once per transaction; each has its
/// own inbox rows, so one effect done does not hide another not done yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// The running total of the event's currency.
    Analytics,
    /// The line in the dated archive file.
    Archive,
    /// The `TRANSACTION_PROCESSED` message on `notifications`.
    Notification,
}

impl Effect {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Analytics => "analytics",
            Self::Archive => "archive",
            Self::Notification => "notification",
        }
    }
}

/// The store's side of the runtime's exactly-once hook for one [`Effect`]: a message is
/// applied if its position `(group, topic, partition, offset)` or its `event_id` (the
/// `transactionId`) is recorded for that effect.
#[derive(Debug, Clone, Copy)]
pub struct EffectInbox(pub Effect);

impl<'c> Inbox<rusqlite::Transaction<'c>> for EffectInbox {
    type Error = StoreError;

    fn already_applied(
        &self,
        tx: &mut rusqlite::Transaction<'c>,
        id: &AppliedId,
    ) -> Result<bool, Self::Error> {
        Ok(tx.query_row(
            "SELECT EXISTS (SELECT 1 FROM effects_applied WHERE effect = ?1 AND (
                 (grp = ?2 AND topic = ?3 AND part = ?4 AND off = ?5)
                 OR (?6 IS NOT NULL AND event_id = ?6)))",
            params![
                self.0.as_str(),
                id.group,
                id.topic,
                id.partition,
                i64::try_from(id.offset).unwrap_or(i64::MAX),
                id.event_id
            ],
            |row| row.get(0),
        )?)
    }

    fn record_applied(
        &self,
        tx: &mut rusqlite::Transaction<'c>,
        id: &AppliedId,
    ) -> Result<(), Self::Error> {
        tx.execute(
            "INSERT INTO effects_applied (effect, grp, topic, part, off, event_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![
                self.0.as_str(),
                id.group,
                id.topic,
                id.partition,
                i64::try_from(id.offset).unwrap_or(i64::MAX),
                id.event_id
            ],
        )?;
        Ok(())
    }
}

#[async_trait]
pub trait TransactionStore: Send + Sync {
    async fn insert_pending(&self, queued: &QueuedTransaction) -> Result<(), StoreError>;
    /// `PROCESSED` at `processed_at` (creating the row if missing); clears `error`.
    async fn mark_processed(&self, id: &str, processed_at: DateTime<Utc>)
    -> Result<(), StoreError>;
    /// `FAILED` with `error`, unless already `PROCESSED`; creates the row for a transaction
    /// only seen in the DLQ.
    async fn mark_failed(&self, id: &str, error: &str) -> Result<(), StoreError>;
    async fn get(&self, id: &str) -> Result<Option<TransactionView>, StoreError>;
    /// Adds the event to its currency's total and records `id` in the
    /// [`Effect::Analytics`] inbox, in one transaction; `false` (nothing added) if `id` was
    /// already applied. On error nothing is written (no total, no inbox row).
    async fn apply_to_totals(
        &self,
        id: &AppliedId,
        event: &TransactionProcessed,
    ) -> Result<bool, StoreError>;
    async fn totals(&self) -> Result<Vec<CurrencyTotal>, StoreError>;
    /// Whether `id` is recorded in `effect`'s inbox.
    async fn effect_applied(&self, effect: Effect, id: &AppliedId) -> Result<bool, StoreError>;
    /// Records `id` in `effect`'s inbox (for an effect outside the database, recorded once
    /// it is done); `false` if it was already there.
    async fn record_effect(&self, effect: Effect, id: &AppliedId) -> Result<bool, StoreError>;
    /// The committed length of archive file `file` (bytes of whole, recorded lines). A file
    /// without a row gets one at `current_len` (what is in it now is taken as committed).
    async fn archive_committed_len(&self, file: &str, current_len: u64) -> Result<u64, StoreError>;
    /// Records `id` in the [`Effect::Archive`] inbox and `file`'s new committed length, in
    /// one transaction; `false` (nothing changed) if `id` was already archived.
    async fn record_archived(
        &self,
        id: &AppliedId,
        file: &str,
        committed_len: u64,
    ) -> Result<bool, StoreError>;
}

/// The store `choice` names: `transactions.sqlite` under `data_dir`, or the PostgreSQL
/// pool.
pub fn open(
    choice: &StoreChoice,
    data_dir: &Path,
) -> Result<Arc<dyn TransactionStore>, StartError> {
    Ok(match choice {
        StoreChoice::Sqlite => Arc::new(SqliteTransactionStore::open(data_dir)?),
        StoreChoice::Postgres(pg) => Arc::new(PgTransactionStore::new(pg.pool().clone())),
    })
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
CREATE TABLE IF NOT EXISTS effects_applied (
    effect TEXT NOT NULL, grp TEXT NOT NULL, topic TEXT NOT NULL, part INTEGER NOT NULL,
    off INTEGER NOT NULL, event_id TEXT,
    PRIMARY KEY (effect, grp, topic, part, off)
);
CREATE UNIQUE INDEX IF NOT EXISTS effects_applied_event
    ON effects_applied (effect, event_id) WHERE event_id IS NOT NULL;
CREATE TABLE IF NOT EXISTS archive_files (file TEXT PRIMARY KEY, committed_len INTEGER NOT NULL);
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

#[async_trait]
impl TransactionStore for SqliteTransactionStore {
    async fn insert_pending(&self, q: &QueuedTransaction) -> Result<(), StoreError> {
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

    async fn mark_processed(
        &self,
        id: &str,
        processed_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        lock(&self.connection).execute(
            "INSERT INTO transactions (id, status, processed_at) VALUES (?1, 'PROCESSED', ?2)
             ON CONFLICT(id) DO UPDATE SET status = 'PROCESSED', processed_at = ?2, error = NULL",
            params![id, millis(processed_at)],
        )?;
        Ok(())
    }

    async fn mark_failed(&self, id: &str, error: &str) -> Result<(), StoreError> {
        lock(&self.connection).execute(
            "INSERT INTO transactions (id, status, error) VALUES (?1, 'FAILED', ?2)
             ON CONFLICT(id) DO UPDATE SET status = 'FAILED', error = ?2 WHERE status <> 'PROCESSED'",
            params![id, error],
        )?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<TransactionView>, StoreError> {
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

    async fn apply_to_totals(
        &self,
        id: &AppliedId,
        event: &TransactionProcessed,
    ) -> Result<bool, StoreError> {
        let mut connection = lock(&self.connection);
        let mut tx = connection.transaction()?;
        let applied = apply_once(&EffectInbox(Effect::Analytics), &mut tx, id, |tx| {
            add_to_total(tx, event)
        })?;
        tx.commit()?;
        Ok(matches!(applied, Applied::Now(())))
    }

    async fn totals(&self) -> Result<Vec<CurrencyTotal>, StoreError> {
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

    async fn effect_applied(&self, effect: Effect, id: &AppliedId) -> Result<bool, StoreError> {
        let mut connection = lock(&self.connection);
        let mut tx = connection.transaction()?;
        EffectInbox(effect).already_applied(&mut tx, id)
    }

    async fn record_effect(&self, effect: Effect, id: &AppliedId) -> Result<bool, StoreError> {
        let mut connection = lock(&self.connection);
        let mut tx = connection.transaction()?;
        let applied = apply_once(&EffectInbox(effect), &mut tx, id, |_| Ok(()))?;
        tx.commit()?;
        Ok(matches!(applied, Applied::Now(())))
    }

    async fn archive_committed_len(&self, file: &str, current_len: u64) -> Result<u64, StoreError> {
        let connection = lock(&self.connection);
        connection.execute(
            "INSERT OR IGNORE INTO archive_files (file, committed_len) VALUES (?1, ?2)",
            params![file, i64::try_from(current_len).unwrap_or(i64::MAX)],
        )?;
        let committed: i64 = connection.query_row(
            "SELECT committed_len FROM archive_files WHERE file = ?1",
            params![file],
            |row| row.get(0),
        )?;
        Ok(committed.max(0).unsigned_abs())
    }

    async fn record_archived(
        &self,
        id: &AppliedId,
        file: &str,
        committed_len: u64,
    ) -> Result<bool, StoreError> {
        let mut connection = lock(&self.connection);
        let mut tx = connection.transaction()?;
        let applied = apply_once(&EffectInbox(Effect::Archive), &mut tx, id, |tx| {
            tx.execute(
                "INSERT INTO archive_files (file, committed_len) VALUES (?1, ?2)
                 ON CONFLICT(file) DO UPDATE SET committed_len = ?2",
                params![file, i64::try_from(committed_len).unwrap_or(i64::MAX)],
            )?;
            Ok(())
        })?;
        tx.commit()?;
        Ok(matches!(applied, Applied::Now(())))
    }
}

/// Adds `event.amount` to its currency's total (scale 2), inside the caller's transaction.
fn add_to_total(
    tx: &mut rusqlite::Transaction<'_>,
    event: &TransactionProcessed,
) -> Result<(), StoreError> {
    let current: Option<String> = tx
        .query_row(
            "SELECT total FROM currency_totals WHERE currency = ?1",
            params![event.currency],
            |row| row.get(0),
        )
        .optional()?;
    let current = current
        .map(|t| Decimal::from_str(&t).map_err(|e| StoreError(format!("stored total `{t}`: {e}"))))
        .transpose()?
        .unwrap_or(Decimal::ZERO);
    let total = new_total(current, event)?;
    tx.execute(
        "INSERT INTO currency_totals (currency, count, total) VALUES (?1, 1, ?2)
         ON CONFLICT(currency) DO UPDATE SET count = count + 1, total = ?2",
        params![event.currency, total.to_string()],
    )?;
    Ok(())
}

/// `current + event.amount` at scale 2 (money is written `"150.00"`, ADR 002; amounts are
/// exact at ≤ 2 decimals); an error if it overflows.
pub fn new_total(current: Decimal, event: &TransactionProcessed) -> Result<Decimal, StoreError> {
    let mut total = current
        .checked_add(event.amount)
        .ok_or_else(|| StoreError(format!("{} total overflows", event.currency)))?;
    total.rescale(2);
    Ok(total)
}

/// [`EffectInbox`] over a `sqlx` PostgreSQL transaction: the same rows (`s0_effects_applied`),
/// recognising a message by its position or its `event_id`. Async, so it cannot implement
/// the runtime's synchronous [`Inbox`]: [`PgEffectInbox::record_applied`] records first
/// (`INSERT … ON CONFLICT DO NOTHING`, safe under concurrent deliveries) and the caller
/// applies the effect in the same transaction only if it recorded.
#[derive(Debug, Clone, Copy)]
pub struct PgEffectInbox(pub Effect);

impl PgEffectInbox {
    /// Whether `id` is recorded for this effect, as seen from `executor`.
    pub async fn already_applied<'e, E>(
        &self,
        executor: E,
        id: &AppliedId,
    ) -> Result<bool, StoreError>
    where
        E: sqlx::Executor<'e, Database = Postgres>,
    {
        Ok(sqlx::query_scalar(
            r#"SELECT EXISTS (SELECT 1 FROM s0_effects_applied WHERE effect = $1 AND (
                 (grp = $2 AND topic = $3 AND part = $4 AND "off" = $5)
                 OR ($6::text IS NOT NULL AND event_id = $6)))"#,
        )
        .bind(self.0.as_str())
        .bind(&id.group)
        .bind(&id.topic)
        .bind(i64::from(id.partition))
        .bind(i64::try_from(id.offset).unwrap_or(i64::MAX))
        .bind(&id.event_id)
        .fetch_one(executor)
        .await?)
    }

    /// The first half of `apply_once` over a PostgreSQL transaction: records `id` for this
    /// effect in `tx` unless its position or its `event_id` is already recorded (by a
    /// committed transaction, or by a concurrent one, which this waits for). `true` if
    /// recorded now: apply the effect in the same `tx`, then commit (an error drops `tx`,
    /// so the record and the effect roll back together); `false`: already applied, apply
    /// nothing.
    pub async fn record_applied(
        &self,
        tx: &mut sqlx::Transaction<'_, Postgres>,
        id: &AppliedId,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            r#"INSERT INTO s0_effects_applied (effect, grp, topic, part, "off", event_id)
               VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING"#,
        )
        .bind(self.0.as_str())
        .bind(&id.group)
        .bind(&id.topic)
        .bind(i64::from(id.partition))
        .bind(i64::try_from(id.offset).unwrap_or(i64::MAX))
        .bind(&id.event_id)
        .execute(&mut **tx)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }
}

/// PostgreSQL implementation: tables `s0_transactions`, `s0_currency_totals`,
/// `s0_effects_applied`, `s0_archive_files` in the pool's schema (migrated by
/// [`crate::pipeline::PgStores::connect`]). Amounts and totals are `NUMERIC`, times
/// `TIMESTAMPTZ`; the view renders them as the SQLite store does.
pub struct PgTransactionStore {
    pool: PgPool,
}

impl PgTransactionStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

/// Adds `event.amount` to its currency's total inside `tx`. The row is created first (empty)
/// if missing, then locked while read, so two transactions adding to one currency at once
/// (two processes, two partitions) serialize instead of losing an addition.
async fn pg_add_to_total(
    tx: &mut sqlx::Transaction<'_, Postgres>,
    event: &TransactionProcessed,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO s0_currency_totals (currency, count, total) VALUES ($1, 0, 0)
         ON CONFLICT (currency) DO NOTHING",
    )
    .bind(&event.currency)
    .execute(&mut **tx)
    .await?;
    let current: Decimal =
        sqlx::query_scalar("SELECT total FROM s0_currency_totals WHERE currency = $1 FOR UPDATE")
            .bind(&event.currency)
            .fetch_one(&mut **tx)
            .await?;
    let total = new_total(current, event)?;
    sqlx::query("UPDATE s0_currency_totals SET count = count + 1, total = $2 WHERE currency = $1")
        .bind(&event.currency)
        .bind(total)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[async_trait]
impl TransactionStore for PgTransactionStore {
    async fn insert_pending(&self, q: &QueuedTransaction) -> Result<(), StoreError> {
        sqlx::query(
            r#"INSERT INTO s0_transactions (id, amount, currency, account_from, account_to, "timestamp", status)
               VALUES ($1, $2, $3, $4, $5, $6, 'PENDING')"#,
        )
        .bind(&q.transaction_id)
        .bind(q.amount)
        .bind(&q.currency)
        .bind(&q.account_from)
        .bind(&q.account_to)
        .bind(q.timestamp)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_processed(
        &self,
        id: &str,
        processed_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO s0_transactions (id, status, processed_at) VALUES ($1, 'PROCESSED', $2)
             ON CONFLICT (id) DO UPDATE SET status = 'PROCESSED', processed_at = $2, error = NULL",
        )
        .bind(id)
        .bind(processed_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn mark_failed(&self, id: &str, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO s0_transactions (id, status, error) VALUES ($1, 'FAILED', $2)
             ON CONFLICT (id) DO UPDATE SET status = 'FAILED', error = $2
             WHERE s0_transactions.status <> 'PROCESSED'",
        )
        .bind(id)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<TransactionView>, StoreError> {
        type Row = (
            Option<Decimal>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<DateTime<Utc>>,
            String,
            Option<DateTime<Utc>>,
            Option<String>,
        );
        let row: Option<Row> = sqlx::query_as(
            r#"SELECT amount, currency, account_from, account_to, "timestamp", status, processed_at, error
               FROM s0_transactions WHERE id = $1"#,
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(
                amount,
                currency,
                account_from,
                account_to,
                timestamp,
                status,
                processed_at,
                error,
            )| {
                TransactionView {
                    transaction_id: id.to_owned(),
                    amount: amount.and_then(|a| serde_json::from_str(&a.to_string()).ok()),
                    currency,
                    account_from,
                    account_to,
                    timestamp: timestamp.map(millis),
                    status,
                    processed_at: processed_at.map(millis),
                    error,
                }
            },
        ))
    }

    async fn apply_to_totals(
        &self,
        id: &AppliedId,
        event: &TransactionProcessed,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        if !PgEffectInbox(Effect::Analytics)
            .record_applied(&mut tx, id)
            .await?
        {
            return Ok(false);
        }
        pg_add_to_total(&mut tx, event).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn totals(&self) -> Result<Vec<CurrencyTotal>, StoreError> {
        let rows: Vec<(String, i64, Decimal)> = sqlx::query_as(
            "SELECT currency, count, total FROM s0_currency_totals ORDER BY currency",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(currency, count, total)| CurrencyTotal {
                currency,
                count: count.max(0).unsigned_abs(),
                total: total.to_string(),
            })
            .collect())
    }

    async fn effect_applied(&self, effect: Effect, id: &AppliedId) -> Result<bool, StoreError> {
        PgEffectInbox(effect).already_applied(&self.pool, id).await
    }

    async fn record_effect(&self, effect: Effect, id: &AppliedId) -> Result<bool, StoreError> {
        let mut tx = self.pool.begin().await?;
        let recorded = PgEffectInbox(effect).record_applied(&mut tx, id).await?;
        tx.commit().await?;
        Ok(recorded)
    }

    async fn archive_committed_len(&self, file: &str, current_len: u64) -> Result<u64, StoreError> {
        sqlx::query(
            "INSERT INTO s0_archive_files (file, committed_len) VALUES ($1, $2)
             ON CONFLICT (file) DO NOTHING",
        )
        .bind(file)
        .bind(i64::try_from(current_len).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        let committed: i64 =
            sqlx::query_scalar("SELECT committed_len FROM s0_archive_files WHERE file = $1")
                .bind(file)
                .fetch_one(&self.pool)
                .await?;
        Ok(committed.max(0).unsigned_abs())
    }

    async fn record_archived(
        &self,
        id: &AppliedId,
        file: &str,
        committed_len: u64,
    ) -> Result<bool, StoreError> {
        let committed_len = i64::try_from(committed_len).unwrap_or(i64::MAX);
        let mut tx = self.pool.begin().await?;
        if !PgEffectInbox(Effect::Archive)
            .record_applied(&mut tx, id)
            .await?
        {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO s0_archive_files (file, committed_len) VALUES ($1, $2)
             ON CONFLICT (file) DO UPDATE SET committed_len = $2",
        )
        .bind(file)
        .bind(committed_len)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(true)
    }
}
