//! The saga's store: the payment service's decisions (its dedup and its "already spent" per
//! user) and the tracking service's events (dedup by `eventId`), behind [`SagaStore`]:
//! SQLite (`saga.sqlite`) or PostgreSQL (tables `s4_…`), chosen by [`open`].

use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{OptionalExtension, params};
use rust_decimal::Decimal;
use sqlx::PgPool;

use crate::pipeline::{self, StartError, StoreChoice, lock};

#[derive(Debug, thiserror::Error)]
#[error("saga store: {0}")]
pub struct StoreError(String);

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

/// A payment decision as stored: the event it produced, to re-publish on redelivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredDecision {
    pub topic: String,
    pub payload: Vec<u8>,
}

#[async_trait]
pub trait SagaStore: Send + Sync {
    /// The decision already taken for the `OrderCreated` with this `eventId`.
    async fn decision_for(
        &self,
        order_event_id: &str,
    ) -> Result<Option<StoredDecision>, StoreError>;
    /// What was already authorized for `user_id`.
    async fn spent_by(&self, user_id: &str) -> Result<Decimal, StoreError>;
    /// Records a decision; `false` if one was already recorded for that event.
    async fn record_decision(
        &self,
        order_event_id: &str,
        user_id: &str,
        authorized_amount: Decimal,
        decision: &StoredDecision,
    ) -> Result<bool, StoreError>;
    /// Records a saga event for tracking; `false` if its `eventId` was already recorded.
    async fn record_event(
        &self,
        event_id: &str,
        order_id: &str,
        topic: &str,
        payload: &[u8],
    ) -> Result<bool, StoreError>;
    /// `(topic, payload)` of an order's events, in arrival order.
    async fn events_of(&self, order_id: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError>;
    /// Order ids, newest first, at most `limit`.
    async fn order_ids(&self, limit: usize) -> Result<Vec<String>, StoreError>;
}

/// The store `choice` names: `saga.sqlite` under `data_dir`, or the PostgreSQL pool.
pub fn open(choice: &StoreChoice, data_dir: &Path) -> Result<Arc<dyn SagaStore>, StartError> {
    Ok(match choice {
        StoreChoice::Sqlite => Arc::new(SqliteSagaStore::open(data_dir)?),
        StoreChoice::Postgres(pg) => Arc::new(PgSagaStore::new(pg.pool().clone())),
    })
}

pub struct SqliteSagaStore {
    connection: Mutex<rusqlite::Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS payment_decisions (
    order_event_id TEXT PRIMARY KEY, user_id TEXT NOT NULL, authorized_amount TEXT NOT NULL,
    topic TEXT NOT NULL, payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS payment_decisions_user ON payment_decisions (user_id);
CREATE TABLE IF NOT EXISTS saga_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, event_id TEXT NOT NULL UNIQUE,
    order_id TEXT NOT NULL, topic TEXT NOT NULL, payload BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS saga_events_order ON saga_events (order_id, seq);
";

impl SqliteSagaStore {
    pub fn open(data_dir: &Path) -> Result<Self, StartError> {
        let connection = pipeline::open_sqlite(data_dir, "saga.sqlite")?;
        connection
            .execute_batch(SCHEMA)
            .map_err(|e| StartError::Store {
                path: data_dir.join("saga.sqlite").display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }
}

#[async_trait]
impl SagaStore for SqliteSagaStore {
    async fn decision_for(
        &self,
        order_event_id: &str,
    ) -> Result<Option<StoredDecision>, StoreError> {
        Ok(lock(&self.connection)
            .query_row(
                "SELECT topic, payload FROM payment_decisions WHERE order_event_id = ?1",
                params![order_event_id],
                |row| {
                    Ok(StoredDecision {
                        topic: row.get(0)?,
                        payload: row.get(1)?,
                    })
                },
            )
            .optional()?)
    }

    async fn spent_by(&self, user_id: &str) -> Result<Decimal, StoreError> {
        let connection = lock(&self.connection);
        let mut statement = connection
            .prepare("SELECT authorized_amount FROM payment_decisions WHERE user_id = ?1")?;
        let amounts = statement.query_map(params![user_id], |row| row.get::<_, String>(0))?;
        let mut total = Decimal::ZERO;
        for amount in amounts {
            let amount = Decimal::from_str(&amount?).map_err(|e| StoreError(e.to_string()))?;
            total = total
                .checked_add(amount)
                .ok_or_else(|| StoreError(format!("spending of {user_id} overflows")))?;
        }
        Ok(total)
    }

    async fn record_decision(
        &self,
        order_event_id: &str,
        user_id: &str,
        authorized_amount: Decimal,
        decision: &StoredDecision,
    ) -> Result<bool, StoreError> {
        let inserted = lock(&self.connection).execute(
            "INSERT OR IGNORE INTO payment_decisions (order_event_id, user_id, authorized_amount, topic, payload)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                order_event_id,
                user_id,
                authorized_amount.to_string(),
                decision.topic,
                decision.payload
            ],
        )?;
        Ok(inserted == 1)
    }

    async fn record_event(
        &self,
        event_id: &str,
        order_id: &str,
        topic: &str,
        payload: &[u8],
    ) -> Result<bool, StoreError> {
        let inserted = lock(&self.connection).execute(
            "INSERT OR IGNORE INTO saga_events (event_id, order_id, topic, payload) VALUES (?1, ?2, ?3, ?4)",
            params![event_id, order_id, topic, payload],
        )?;
        Ok(inserted == 1)
    }

    async fn events_of(&self, order_id: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let connection = lock(&self.connection);
        let mut statement = connection
            .prepare("SELECT topic, payload FROM saga_events WHERE order_id = ?1 ORDER BY seq")?;
        let rows = statement.query_map(params![order_id], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    async fn order_ids(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        let connection = lock(&self.connection);
        let mut statement = connection.prepare(
            "SELECT order_id FROM saga_events GROUP BY order_id ORDER BY MIN(seq) DESC LIMIT ?1",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = statement.query_map(params![limit], |row| row.get(0))?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// PostgreSQL implementation: tables `s4_payment_decisions` and `s4_saga_events` in the
/// pool's schema (migrated by [`crate::pipeline::PgStores::connect`]).
pub struct PgSagaStore {
    pool: PgPool,
}

impl PgSagaStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl SagaStore for PgSagaStore {
    async fn decision_for(
        &self,
        order_event_id: &str,
    ) -> Result<Option<StoredDecision>, StoreError> {
        let row: Option<(String, Vec<u8>)> = sqlx::query_as(
            "SELECT topic, payload FROM s4_payment_decisions WHERE order_event_id = $1",
        )
        .bind(order_event_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(topic, payload)| StoredDecision { topic, payload }))
    }

    async fn spent_by(&self, user_id: &str) -> Result<Decimal, StoreError> {
        let total: Decimal = sqlx::query_scalar(
            "SELECT COALESCE(SUM(authorized_amount), 0) FROM s4_payment_decisions WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&self.pool)
        .await
        .map_err(|e| StoreError(format!("spending of {user_id}: {e}")))?;
        Ok(total)
    }

    async fn record_decision(
        &self,
        order_event_id: &str,
        user_id: &str,
        authorized_amount: Decimal,
        decision: &StoredDecision,
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO s4_payment_decisions (order_event_id, user_id, authorized_amount, topic, payload)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (order_event_id) DO NOTHING",
        )
        .bind(order_event_id)
        .bind(user_id)
        .bind(authorized_amount)
        .bind(&decision.topic)
        .bind(&decision.payload)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn record_event(
        &self,
        event_id: &str,
        order_id: &str,
        topic: &str,
        payload: &[u8],
    ) -> Result<bool, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO s4_saga_events (event_id, order_id, topic, payload) VALUES ($1, $2, $3, $4)
             ON CONFLICT (event_id) DO NOTHING",
        )
        .bind(event_id)
        .bind(order_id)
        .bind(topic)
        .bind(payload)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(inserted == 1)
    }

    async fn events_of(&self, order_id: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT topic, payload FROM s4_saga_events WHERE order_id = $1 ORDER BY seq",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn order_ids(&self, limit: usize) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT order_id FROM s4_saga_events GROUP BY order_id ORDER BY MIN(seq) DESC LIMIT $1",
        )
        .bind(i64::try_from(limit).unwrap_or(i64::MAX))
        .fetch_all(&self.pool)
        .await?)
    }
}
