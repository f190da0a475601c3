//! The intake's store (the `tp-orders` table's role): one row per `order_id` with its
//! status, and the duplicates received after it, behind [`IntakeStore`]: SQLite
//! (`intake.sqlite`) or PostgreSQL (tables `s2_…`), chosen by [`open`].

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use edalab_domain::order::OrderStatus;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sqlx::PgPool;

use crate::pipeline::{self, StartError, StoreChoice, lock};

#[derive(Debug, thiserror::Error)]
#[error("intake store: {0}")]
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

/// A recorded order (or a duplicate of one).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct RecordedOrder {
    pub order_id: String,
    /// `PROCESSED`, `REJECTED` or `DUPLICATE` (S2-03).
    #[schema(value_type = String, example = "PROCESSED")]
    pub status: OrderStatus,
    /// The file's JSON as received (`null` if it was not JSON).
    #[schema(value_type = Object)]
    pub content: serde_json::Value,
    /// Why it was rejected, one `field: message` per failing field (only when `REJECTED`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejection_reasons: Vec<String>,
    pub processed_at: DateTime<Utc>,
    pub intake_id: String,
    pub file_name: String,
}

/// Whether a write added something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    New,
    Already,
}

#[async_trait]
pub trait IntakeStore: Send + Sync {
    async fn get(&self, order_id: &str) -> Result<Option<RecordedOrder>, StoreError>;
    /// Records a `PROCESSED` or `REJECTED` order; `Already` if the `order_id` exists.
    async fn record(&self, order: &RecordedOrder) -> Result<Recorded, StoreError>;
    /// Records a `DUPLICATE`; `Already` if this `intake_id` was recorded before.
    async fn record_duplicate(&self, order: &RecordedOrder) -> Result<Recorded, StoreError>;
    /// The duplicates of `order_id`, oldest first.
    async fn duplicates_of(&self, order_id: &str) -> Result<Vec<RecordedOrder>, StoreError>;
}

/// The store `choice` names: `intake.sqlite` under `data_dir`, or the PostgreSQL pool.
pub fn open(choice: &StoreChoice, data_dir: &Path) -> Result<Arc<dyn IntakeStore>, StartError> {
    Ok(match choice {
        StoreChoice::Sqlite => Arc::new(SqliteIntakeStore::open(data_dir)?),
        StoreChoice::Postgres(pg) => Arc::new(PgIntakeStore::new(pg.pool().clone())),
    })
}

pub struct SqliteIntakeStore {
    connection: Mutex<rusqlite::Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS orders (
    order_id TEXT PRIMARY KEY, status TEXT NOT NULL, content TEXT NOT NULL, reasons TEXT NOT NULL,
    processed_at TEXT NOT NULL, intake_id TEXT NOT NULL, file_name TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS duplicates (
    intake_id TEXT PRIMARY KEY, order_id TEXT NOT NULL, content TEXT NOT NULL,
    processed_at TEXT NOT NULL, file_name TEXT NOT NULL, seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS duplicates_order ON duplicates (order_id, seq);
";

impl SqliteIntakeStore {
    pub fn open(data_dir: &Path) -> Result<Self, StartError> {
        let connection = pipeline::open_sqlite(data_dir, "intake.sqlite")?;
        connection
            .execute_batch(SCHEMA)
            .map_err(|e| StartError::Store {
                path: data_dir.join("intake.sqlite").display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }
}

fn status_from(text: &str) -> OrderStatus {
    match text {
        "PROCESSED" => OrderStatus::Processed,
        "DUPLICATE" => OrderStatus::Duplicate,
        _ => OrderStatus::Rejected,
    }
}

fn time_from(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_default()
}

fn time_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[async_trait]
impl IntakeStore for SqliteIntakeStore {
    async fn get(&self, order_id: &str) -> Result<Option<RecordedOrder>, StoreError> {
        Ok(lock(&self.connection)
            .query_row(
                "SELECT status, content, reasons, processed_at, intake_id, file_name FROM orders WHERE order_id = ?1",
                params![order_id],
                |row| {
                    let status: String = row.get(0)?;
                    let content: String = row.get(1)?;
                    let reasons: String = row.get(2)?;
                    let processed_at: String = row.get(3)?;
                    Ok(RecordedOrder {
                        order_id: order_id.to_owned(),
                        status: status_from(&status),
                        content: serde_json::from_str(&content).unwrap_or_default(),
                        rejection_reasons: serde_json::from_str(&reasons).unwrap_or_default(),
                        processed_at: time_from(&processed_at),
                        intake_id: row.get(4)?,
                        file_name: row.get(5)?,
                    })
                },
            )
            .optional()?)
    }

    async fn record(&self, o: &RecordedOrder) -> Result<Recorded, StoreError> {
        let reasons =
            serde_json::to_string(&o.rejection_reasons).map_err(|e| StoreError(e.to_string()))?;
        let inserted = lock(&self.connection).execute(
            "INSERT OR IGNORE INTO orders (order_id, status, content, reasons, processed_at, intake_id, file_name)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![
                o.order_id,
                o.status.as_wire(),
                o.content.to_string(),
                reasons,
                time_text(o.processed_at),
                o.intake_id,
                o.file_name
            ],
        )?;
        Ok(if inserted == 1 {
            Recorded::New
        } else {
            Recorded::Already
        })
    }

    async fn record_duplicate(&self, o: &RecordedOrder) -> Result<Recorded, StoreError> {
        let inserted = lock(&self.connection).execute(
            "INSERT OR IGNORE INTO duplicates (intake_id, order_id, content, processed_at, file_name, seq)
             VALUES (?1, ?2, ?3, ?4, ?5, (SELECT COALESCE(MAX(seq), 0) + 1 FROM duplicates))",
            params![
                o.intake_id,
                o.order_id,
                o.content.to_string(),
                time_text(o.processed_at),
                o.file_name
            ],
        )?;
        Ok(if inserted == 1 {
            Recorded::New
        } else {
            Recorded::Already
        })
    }

    async fn duplicates_of(&self, order_id: &str) -> Result<Vec<RecordedOrder>, StoreError> {
        let connection = lock(&self.connection);
        let mut statement = connection.prepare(
            "SELECT intake_id, content, processed_at, file_name FROM duplicates WHERE order_id = ?1 ORDER BY seq",
        )?;
        let rows = statement.query_map(params![order_id], |row| {
            let content: String = row.get(1)?;
            let processed_at: String = row.get(2)?;
            Ok(RecordedOrder {
                order_id: order_id.to_owned(),
                status: OrderStatus::Duplicate,
                content: serde_json::from_str(&content).unwrap_or_default(),
                rejection_reasons: Vec::new(),
                processed_at: time_from(&processed_at),
                intake_id: row.get(0)?,
                file_name: row.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }
}

/// PostgreSQL implementation: tables `s2_orders` and `s2_duplicates` in the pool's schema
/// (migrated by [`crate::pipeline::PgStores::connect`]). `content` is JSONB, written from
/// and read back as JSON text (the same `serde_json::Value`).
pub struct PgIntakeStore {
    pool: PgPool,
}

impl PgIntakeStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

fn recorded(rows_affected: u64) -> Recorded {
    if rows_affected == 1 {
        Recorded::New
    } else {
        Recorded::Already
    }
}

#[async_trait]
impl IntakeStore for PgIntakeStore {
    async fn get(&self, order_id: &str) -> Result<Option<RecordedOrder>, StoreError> {
        type Row = (String, String, Vec<String>, DateTime<Utc>, String, String);
        let row: Option<Row> = sqlx::query_as(
            "SELECT status, content::text, reasons, processed_at, intake_id, file_name
             FROM s2_orders WHERE order_id = $1",
        )
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(
            |(status, content, reasons, processed_at, intake_id, file_name)| RecordedOrder {
                order_id: order_id.to_owned(),
                status: status_from(&status),
                content: serde_json::from_str(&content).unwrap_or_default(),
                rejection_reasons: reasons,
                processed_at,
                intake_id,
                file_name,
            },
        ))
    }

    async fn record(&self, o: &RecordedOrder) -> Result<Recorded, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO s2_orders (order_id, status, content, reasons, processed_at, intake_id, file_name)
             VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7) ON CONFLICT (order_id) DO NOTHING",
        )
        .bind(&o.order_id)
        .bind(o.status.as_wire())
        .bind(o.content.to_string())
        .bind(&o.rejection_reasons)
        .bind(o.processed_at)
        .bind(&o.intake_id)
        .bind(&o.file_name)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(recorded(inserted))
    }

    async fn record_duplicate(&self, o: &RecordedOrder) -> Result<Recorded, StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO s2_duplicates (intake_id, order_id, content, processed_at, file_name)
             VALUES ($1, $2, $3::jsonb, $4, $5) ON CONFLICT (intake_id) DO NOTHING",
        )
        .bind(&o.intake_id)
        .bind(&o.order_id)
        .bind(o.content.to_string())
        .bind(o.processed_at)
        .bind(&o.file_name)
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(recorded(inserted))
    }

    async fn duplicates_of(&self, order_id: &str) -> Result<Vec<RecordedOrder>, StoreError> {
        let rows: Vec<(String, String, DateTime<Utc>, String)> = sqlx::query_as(
            "SELECT intake_id, content::text, processed_at, file_name
             FROM s2_duplicates WHERE order_id = $1 ORDER BY seq",
        )
        .bind(order_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(intake_id, content, processed_at, file_name)| RecordedOrder {
                    order_id: order_id.to_owned(),
                    status: OrderStatus::Duplicate,
                    content: serde_json::from_str(&content).unwrap_or_default(),
                    rejection_reasons: Vec::new(),
                    processed_at,
                    intake_id,
                    file_name,
                },
            )
            .collect())
    }
}
