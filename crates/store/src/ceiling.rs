//! Raw insert ceilings: how many plain rows per second a backend takes on this machine
//! with the batching the ledger uses, so a benchmark can say what fraction of it the
//! ledger reaches (issue 24). Not used by the product.
//!
//! Every row is `(id, k, payload)`: an append-ordered key, a 16-byte unique key and a
//! 200-byte payload — the shape of one inbox row with a value beside it.

use std::time::Instant;

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use uuid::Uuid;

use crate::ledger::StoreError;

/// Payload bytes of a ceiling row.
const PAYLOAD_BYTES: usize = 200;

/// What a ceiling run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ceiling {
    pub rows: u64,
    pub batch_rows: u64,
    pub rows_per_second: f64,
}

fn backend(error: sqlx::Error) -> StoreError {
    StoreError::Backend(error.to_string())
}

/// PostgreSQL's ceiling on the database at `url`: `rows` rows in transactions of
/// `batch_rows`, each one `INSERT … SELECT FROM UNNEST(…)` (the statement the PostgreSQL
/// store writes with), committed with the server's durability settings. Keys are
/// time-ordered UUIDs (v7), as the simulator's event ids are. The table is dropped after.
pub async fn postgres_unnest(url: &str, rows: u64, batch_rows: u64) -> Result<Ceiling, StoreError> {
    let batch_rows = batch_rows.max(1);
    let mut conn = PgConnection::connect(url)
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?;
    let table = format!("edalab_ceiling_{}", Uuid::new_v4().simple());
    sqlx::query(&format!(
        "CREATE TABLE {table} (id BIGSERIAL PRIMARY KEY, k UUID NOT NULL UNIQUE, payload BYTEA NOT NULL)"
    ))
    .execute(&mut conn)
    .await
    .map_err(backend)?;
    let insert =
        format!("INSERT INTO {table} (k, payload) SELECT * FROM UNNEST($1::uuid[], $2::bytea[])");
    let payload = vec![b'x'; PAYLOAD_BYTES];
    let started = Instant::now();
    let mut written = 0;
    let result = async {
        while written < rows {
            let n = batch_rows.min(rows - written);
            let keys: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
            let payloads: Vec<&[u8]> = (0..n).map(|_| payload.as_slice()).collect();
            let mut tx = conn.begin().await.map_err(backend)?;
            sqlx::query(&insert)
                .bind(&keys)
                .bind(&payloads)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            written += n;
        }
        Ok::<_, StoreError>(())
    }
    .await;
    let elapsed = started.elapsed();
    let dropped = sqlx::query(&format!("DROP TABLE {table}"))
        .execute(&mut conn)
        .await
        .map_err(backend);
    result?;
    dropped?;
    Ok(Ceiling {
        rows,
        batch_rows,
        rows_per_second: rows as f64 / elapsed.as_secs_f64().max(1e-9),
    })
}
