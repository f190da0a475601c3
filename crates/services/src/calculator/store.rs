//! The calculator's store: one row per calculation (`PENDING` → `COMPLETED` | `FAILED`),
//! behind [`CalculationStore`]: SQLite (`calculator.sqlite`) or PostgreSQL (table
//! `s1_calculations`), chosen by [`open`].

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use edalab_domain::calculator::{Number, Operation};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sqlx::PgPool;

use crate::pipeline::{self, StartError, StoreChoice, lock};

/// Status of a calculation. Wire: `PENDING`, `COMPLETED`, `FAILED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CalculationStatus {
    Pending,
    Completed,
    Failed,
}

impl CalculationStatus {
    fn from_wire(text: &str) -> Self {
        match text {
            "COMPLETED" => Self::Completed,
            "FAILED" => Self::Failed,
            _ => Self::Pending,
        }
    }
}

/// `GET /api/v1/calculator/{id}`'s body: `{id, operation, a, b, status, result}` or
/// `{..., status: "FAILED", error}`.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Calculation {
    pub id: String,
    /// `add`, `subtract`, `multiply` or `divide`.
    #[schema(value_type = String, example = "add")]
    pub operation: Operation,
    /// JSON number, as submitted.
    #[schema(value_type = f64)]
    pub a: Number,
    #[schema(value_type = f64)]
    pub b: Number,
    pub status: CalculationStatus,
    /// Once `COMPLETED`: a JSON number.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub result: Option<Number>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("calculator store: {0}")]
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

/// Where calculations live.
#[async_trait]
pub trait CalculationStore: Send + Sync {
    async fn insert_pending(&self, calculation: &Calculation) -> Result<(), StoreError>;
    /// Sets `COMPLETED` with `result`; a calculation already finished is left alone.
    async fn complete(&self, id: &str, result: Number) -> Result<(), StoreError>;
    /// Sets `FAILED` with `error`; a calculation already finished is left alone.
    async fn fail(&self, id: &str, error: &str) -> Result<(), StoreError>;
    async fn get(&self, id: &str) -> Result<Option<Calculation>, StoreError>;
}

/// The store `choice` names: `calculator.sqlite` under `data_dir`, or the PostgreSQL pool.
pub fn open(
    choice: &StoreChoice,
    data_dir: &Path,
) -> Result<Arc<dyn CalculationStore>, StartError> {
    Ok(match choice {
        StoreChoice::Sqlite => Arc::new(SqliteCalculationStore::open(data_dir)?),
        StoreChoice::Postgres(pg) => Arc::new(PgCalculationStore::new(pg.pool().clone())),
    })
}

/// SQLite implementation. One connection behind a std `Mutex`: every call is one short
/// statement, run inline (no `.await` while the lock is held).
pub struct SqliteCalculationStore {
    connection: Mutex<rusqlite::Connection>,
}

impl SqliteCalculationStore {
    pub fn open(data_dir: &Path) -> Result<Self, StartError> {
        let connection = pipeline::open_sqlite(data_dir, "calculator.sqlite")?;
        connection
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS calculations (
                    id TEXT PRIMARY KEY,
                    operation TEXT NOT NULL,
                    a TEXT NOT NULL,
                    b TEXT NOT NULL,
                    status TEXT NOT NULL,
                    result TEXT,
                    error TEXT
                );",
            )
            .map_err(|e| StartError::Store {
                path: data_dir.join("calculator.sqlite").display().to_string(),
                reason: e.to_string(),
            })?;
        Ok(Self {
            connection: Mutex::new(connection),
        })
    }
}

/// A number as the stores keep it: its JSON text.
pub fn number_text(n: Number) -> String {
    // Serializing a `Number` to JSON cannot fail (an i64 or an f64, finite once parsed).
    serde_json::to_string(&n).unwrap_or_else(|_| n.to_string())
}

fn parse_number(text: &str) -> Number {
    serde_json::from_str(text).unwrap_or(Number::Float(f64::NAN))
}

#[async_trait]
impl CalculationStore for SqliteCalculationStore {
    async fn insert_pending(&self, c: &Calculation) -> Result<(), StoreError> {
        lock(&self.connection).execute(
            "INSERT INTO calculations (id, operation, a, b, status) VALUES (?1, ?2, ?3, ?4, 'PENDING')",
            params![c.id, c.operation.as_wire(), number_text(c.a), number_text(c.b)],
        )?;
        Ok(())
    }

    async fn complete(&self, id: &str, result: Number) -> Result<(), StoreError> {
        lock(&self.connection).execute(
            "UPDATE calculations SET status = 'COMPLETED', result = ?2 WHERE id = ?1 AND status = 'PENDING'",
            params![id, number_text(result)],
        )?;
        Ok(())
    }

    async fn fail(&self, id: &str, error: &str) -> Result<(), StoreError> {
        lock(&self.connection).execute(
            "UPDATE calculations SET status = 'FAILED', error = ?2 WHERE id = ?1 AND status = 'PENDING'",
            params![id, error],
        )?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Calculation>, StoreError> {
        let row = lock(&self.connection)
            .query_row(
                "SELECT operation, a, b, status, result, error FROM calculations WHERE id = ?1",
                params![id],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, Option<String>>(4)?,
                        row.get::<_, Option<String>>(5)?,
                    ))
                },
            )
            .optional()?;
        row.map(|row| calculation(id, row)).transpose()
    }
}

/// The columns of a calculation row: operation, a, b, status, result, error.
pub type Row = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

/// A calculation from its stored text columns (what every store keeps).
pub fn calculation(
    id: &str,
    (operation, a, b, status, result, error): Row,
) -> Result<Calculation, StoreError> {
    let operation = operation
        .parse::<Operation>()
        .map_err(|e| StoreError(format!("row {id}: {e}")))?;
    Ok(Calculation {
        id: id.to_owned(),
        operation,
        a: parse_number(&a),
        b: parse_number(&b),
        status: CalculationStatus::from_wire(&status),
        result: result.as_deref().map(parse_number),
        error,
    })
}

/// PostgreSQL implementation: table `s1_calculations` in the pool's schema (migrated by
/// [`crate::pipeline::PgStores::connect`]).
pub struct PgCalculationStore {
    pool: PgPool,
}

impl PgCalculationStore {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }
}

#[async_trait]
impl CalculationStore for PgCalculationStore {
    async fn insert_pending(&self, c: &Calculation) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO s1_calculations (id, operation, a, b, status) VALUES ($1, $2, $3, $4, 'PENDING')",
        )
        .bind(&c.id)
        .bind(c.operation.as_wire())
        .bind(number_text(c.a))
        .bind(number_text(c.b))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn complete(&self, id: &str, result: Number) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE s1_calculations SET status = 'COMPLETED', result = $2 WHERE id = $1 AND status = 'PENDING'",
        )
        .bind(id)
        .bind(number_text(result))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn fail(&self, id: &str, error: &str) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE s1_calculations SET status = 'FAILED', error = $2 WHERE id = $1 AND status = 'PENDING'",
        )
        .bind(id)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn get(&self, id: &str) -> Result<Option<Calculation>, StoreError> {
        let row: Option<Row> = sqlx::query_as(
            "SELECT operation, a, b, status, result, error FROM s1_calculations WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| calculation(id, row)).transpose()
    }
}
