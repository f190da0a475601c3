//! The calculator's store: one row per calculation (`PENDING` → `COMPLETED` | `FAILED`).
//! SQLite today (`calculator.sqlite`), behind [`CalculationStore`] so PostgreSQL can follow.

use std::path::Path;
use std::sync::Mutex;

use edalab_domain::calculator::{Number, Operation};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::pipeline::{self, StartError, lock};

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

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        Self(e.to_string())
    }
}

/// Where calculations live.
pub trait CalculationStore: Send + Sync {
    fn insert_pending(&self, calculation: &Calculation) -> Result<(), StoreError>;
    /// Sets `COMPLETED` with `result`; a calculation already finished is left alone.
    fn complete(&self, id: &str, result: Number) -> Result<(), StoreError>;
    /// Sets `FAILED` with `error`; a calculation already finished is left alone.
    fn fail(&self, id: &str, error: &str) -> Result<(), StoreError>;
    fn get(&self, id: &str) -> Result<Option<Calculation>, StoreError>;
}

/// SQLite implementation. One connection behind a std `Mutex`: every call is one short
/// statement, never held across an `.await`.
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

fn number_text(n: Number) -> String {
    // Serializing a `Number` to JSON cannot fail (an i64 or an f64, finite once parsed).
    serde_json::to_string(&n).unwrap_or_else(|_| n.to_string())
}

fn parse_number(text: &str) -> Number {
    serde_json::from_str(text).unwrap_or(Number::Float(f64::NAN))
}

impl CalculationStore for SqliteCalculationStore {
    fn insert_pending(&self, c: &Calculation) -> Result<(), StoreError> {
        lock(&self.connection).execute(
            "INSERT INTO calculations (id, operation, a, b, status) VALUES (?1, ?2, ?3, ?4, 'PENDING')",
            params![c.id, c.operation.as_wire(), number_text(c.a), number_text(c.b)],
        )?;
        Ok(())
    }

    fn complete(&self, id: &str, result: Number) -> Result<(), StoreError> {
        lock(&self.connection).execute(
            "UPDATE calculations SET status = 'COMPLETED', result = ?2 WHERE id = ?1 AND status = 'PENDING'",
            params![id, number_text(result)],
        )?;
        Ok(())
    }

    fn fail(&self, id: &str, error: &str) -> Result<(), StoreError> {
        lock(&self.connection).execute(
            "UPDATE calculations SET status = 'FAILED', error = ?2 WHERE id = ?1 AND status = 'PENDING'",
            params![id, error],
        )?;
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Option<Calculation>, StoreError> {
        let connection = lock(&self.connection);
        let row = connection
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
        let Some((operation, a, b, status, result, error)) = row else {
            return Ok(None);
        };
        let operation = operation
            .parse::<Operation>()
            .map_err(|e| StoreError(format!("row {id}: {e}")))?;
        Ok(Some(Calculation {
            id: id.to_owned(),
            operation,
            a: parse_number(&a),
            b: parse_number(&b),
            status: CalculationStatus::from_wire(&status),
            result: result.as_deref().map(parse_number),
            error,
        }))
    }
}
