//! Test support shared by this crate's and the services' integration tests: a fresh
//! PostgreSQL database per test (random name, dropped afterwards, even when the test
//! panics) and a fresh SQLite file per test.
//!
//! PostgreSQL tests read the server URL from [`POSTGRES_URL_VAR`]. When it is unset they
//! skip with a loud message; CI sets it, so there they always run.

use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::ledger::StoreError;
use crate::postgres::{PgConfig, PgLedgerStore};
use crate::sqlite::{SqliteConfig, SqliteLedgerStore};

/// The variable naming the PostgreSQL server of the tests, e.g.
/// `postgres://postgres@127.0.0.1:5432/postgres`.
pub const POSTGRES_URL_VAR: &str = "EDALAB_TEST_POSTGRES_URL";

/// The server URL, or `None` after printing why the test is skipped.
pub fn postgres_url_or_skip(test: &str) -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!(
                "\n!!!!!!!!!! SKIPPED {test}: {POSTGRES_URL_VAR} is unset, so this PostgreSQL \
                 test did not run (set it, e.g. to postgres://postgres@127.0.0.1:5432/postgres) \
                 !!!!!!!!!!\n"
            );
            None
        }
    }
}

/// A database created for one test, dropped (with `FORCE`) when this value is dropped.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates `edalab_test_<random>` on the server of `admin_url`.
    pub async fn create(admin_url: &str) -> Result<Self, StoreError> {
        let name = format!("edalab_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = PgConnection::connect(admin_url)
            .await
            // The URL may carry a password: the caller names the server, redacted.
            .map_err(|e| {
                StoreError::Unavailable(format!("connecting to the admin database: {e}"))
            })?;
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .map_err(|e| StoreError::Backend(format!("create database {name}: {e}")))?;
        let _ = admin.close().await;
        let url = database_url(admin_url, &name);
        Ok(Self {
            admin_url: admin_url.to_owned(),
            name,
            url,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A store on this database (migrations applied).
    pub async fn store(&self) -> Result<PgLedgerStore, StoreError> {
        PgLedgerStore::connect(&PgConfig::new(&self.url)).await
    }
}

/// `admin_url` with its database path replaced by `name` (query string kept).
pub fn database_url(admin_url: &str, name: &str) -> String {
    let (base, query) = match admin_url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (admin_url, None),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|j| start + j))
        .unwrap_or(base.len());
    let mut url = format!("{}/{name}", &base[..authority_end]);
    if let Some(q) = query {
        url.push('?');
        url.push_str(q);
    }
    url
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime, which cannot be blocked on: drop the
        // database from a thread with its own small runtime.
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let Ok(runtime) = runtime else { return };
            runtime.block_on(async {
                if let Ok(mut admin) = PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                    let _ = tokio::time::timeout(Duration::from_secs(5), admin.close()).await;
                }
            });
        });
        let _ = dropped.join();
    }
}

/// A SQLite store in a fresh temporary directory (kept alive by the returned guard).
pub async fn sqlite_store(dir: &std::path::Path) -> Result<SqliteLedgerStore, StoreError> {
    SqliteLedgerStore::open(SqliteConfig::new(dir.join("ledger.db"))).await
}

#[cfg(test)]
mod tests {
    use super::database_url;

    #[test]
    fn replaces_the_database() {
        assert_eq!(
            database_url("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            database_url("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            database_url("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
    }
}
