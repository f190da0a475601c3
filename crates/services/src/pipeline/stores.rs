//! Where the four pipelines keep their state: [`StoreChoice::Sqlite`] (one file per pipeline
//! under the data dir, the embedded profile) or [`StoreChoice::Postgres`] (one PostgreSQL
//! database shared with the ledger, the pipelines' tables in their own schema, see
//! `docs/adr/017-pipeline-stores-on-postgres.md`).
//!
//! Build the PostgreSQL choice once with [`PgStores::connect`] (it connects, creates the
//! schema and runs `crates/services/migrations/postgres/`), then pass the same
//! [`StoreChoice`] to each pipeline's `start`.

use std::time::Duration;

use sqlx::Executor;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::StartError;

/// The pipelines' PostgreSQL migrations (tables `s0_…`, `s1_…`, `s2_…`, `s4_…`).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The schema the pipelines' tables and their `_sqlx_migrations` live in by default: apart
/// from the ledger's (`bancaire`, with its migrations table in `public`), so the two
/// migration sets never see each other's history.
pub const DEFAULT_SCHEMA: &str = "edalab_pipelines";

/// Where each pipeline's store lives.
#[derive(Clone, Debug, Default)]
pub enum StoreChoice {
    /// `transactions.sqlite`, `calculator.sqlite`, `intake.sqlite`, `saga.sqlite` under the
    /// data dir given to `start` (the default).
    #[default]
    Sqlite,
    /// Tables in one PostgreSQL schema, through one pool shared by the four pipelines.
    Postgres(PgStores),
}

/// Settings of [`PgStores::connect`].
#[derive(Clone, Debug)]
pub struct PgStoresConfig {
    /// `postgres://user[:password]@host[:port]/database[?…]`.
    pub url: String,
    /// Schema of the pipelines' tables (created if missing); every connection of the pool
    /// has `search_path` set to it. Letters, digits and `_`, not starting with a digit.
    pub schema: String,
    /// Most connections of the pool (shared by the four pipelines).
    pub connections_max: u32,
    /// Longest wait for a connection (at start, and for each statement when all are busy).
    pub acquire_timeout_ms: u64,
}

impl PgStoresConfig {
    /// `url` with the defaults: schema [`DEFAULT_SCHEMA`], 8 connections, 5 s acquire timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            schema: DEFAULT_SCHEMA.to_owned(),
            connections_max: 8,
            acquire_timeout_ms: 5_000,
        }
    }
}

/// A connected, migrated PostgreSQL pool for the pipelines. Cheap to clone (the pool is
/// shared).
#[derive(Clone, Debug)]
pub struct PgStores {
    pool: PgPool,
    /// The URL without its password, for messages.
    url: String,
}

impl PgStores {
    /// Connects (failing at once, naming the URL without its password and the cause, when
    /// the server cannot be reached within the acquire timeout), creates the schema and
    /// applies the pipelines' migrations in it.
    pub async fn connect(config: &PgStoresConfig) -> Result<Self, StartError> {
        let shown = redact_url(&config.url);
        let fail = |reason: String| StartError::Postgres {
            url: shown.clone(),
            reason,
        };
        if !valid_schema_name(&config.schema) {
            return Err(fail(format!(
                "schema name `{}`: letters, digits and `_` only, not starting with a digit, \
                 at most 63 characters",
                config.schema
            )));
        }
        if config.connections_max == 0 {
            return Err(fail("connections_max must be at least 1".to_owned()));
        }
        let options: PgConnectOptions = config
            .url
            .parse()
            .map_err(|e: sqlx::Error| fail(format!("invalid URL: {e}")))?;
        let schema = config.schema.clone();
        let pool = PgPoolOptions::new()
            .max_connections(config.connections_max)
            .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
            .after_connect(move |connection, _meta| {
                let schema = schema.clone();
                Box::pin(async move {
                    connection
                        .execute(format!("CREATE SCHEMA IF NOT EXISTS {schema}").as_str())
                        .await?;
                    connection
                        .execute(format!("SET search_path TO {schema}").as_str())
                        .await?;
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(|e| fail(format!("cannot connect: {e}")))?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| fail(format!("migrating schema `{}`: {e}", config.schema)))?;
        Ok(Self { pool, url: shown })
    }

    /// The pool (its connections' `search_path` is the pipelines' schema).
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The URL, password hidden.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn valid_schema_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `url` with the password of its user info (if any) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let user_info = &authority[..at];
    let Some(colon) = user_info.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end],
        &user_info[..colon],
        &url[scheme_end + at..]
    )
}

/// Test support for the PostgreSQL stores: the server of the tests and a fresh database
/// per test (dropped afterwards, even when the test panics).
pub mod testing {
    use super::{PgStores, PgStoresConfig};
    pub use edalab_store::testing::{POSTGRES_URL_VAR, TestDatabase};

    /// The server URL from [`POSTGRES_URL_VAR`]. Unset: panics when `CI=true` (a PostgreSQL
    /// test must run there), else `None` after printing loudly that `test` is skipped.
    pub fn postgres_url(test: &str) -> Option<String> {
        match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => Some(url),
            _ if std::env::var("CI").is_ok_and(|ci| ci == "true") => panic!(
                "{test}: {POSTGRES_URL_VAR} is unset under CI=true; set it, e.g. to \
                 postgres://postgres@127.0.0.1:5432/postgres"
            ),
            _ => edalab_store::testing::postgres_url_or_skip(test),
        }
    }

    /// A fresh database on `url`'s server with the pipelines' stores connected and migrated
    /// in it. Keep the [`TestDatabase`] alive for as long as the stores are used.
    #[allow(
        clippy::expect_used,
        reason = "test set-up: a failure is the test's failure"
    )]
    pub async fn fresh_stores(url: &str) -> (TestDatabase, PgStores) {
        let database = TestDatabase::create(url)
            .await
            .expect("create a test database");
        let stores = PgStores::connect(&PgStoresConfig::new(database.url()))
            .await
            .expect("connect the pipelines' stores");
        (database, stores)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_password_is_hidden_and_the_rest_kept() {
        assert_eq!(
            redact_url("postgres://edalab:s3cr@t@db:5432/edalab?sslmode=disable"),
            "postgres://edalab:***@db:5432/edalab?sslmode=disable"
        );
        assert_eq!(
            redact_url("postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres://postgres@127.0.0.1:5432/postgres"
        );
        assert_eq!(redact_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn schema_names_are_checked() {
        assert!(valid_schema_name("edalab_pipelines"));
        assert!(valid_schema_name("t_0123abc"));
        for bad in ["", "1abc", "a-b", "a;drop", "a b", &"x".repeat(64)] {
            assert!(!valid_schema_name(bad), "{bad}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_named_without_its_password() {
        let mut config = PgStoresConfig::new("postgres://edalab:hunter2@127.0.0.1:1/edalab");
        config.acquire_timeout_ms = 500;
        let error = PgStores::connect(&config)
            .await
            .expect_err("port 1 refuses");
        let text = error.to_string();
        assert!(
            text.contains("postgres://edalab:***@127.0.0.1:1/edalab"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        assert!(text.contains("cannot connect"), "{text}");
    }

    #[tokio::test]
    async fn a_bad_schema_name_is_refused_before_connecting() {
        let mut config = PgStoresConfig::new("postgres://u@127.0.0.1:1/d");
        config.schema = "x; DROP TABLE y".to_owned();
        let text = PgStores::connect(&config).await.unwrap_err().to_string();
        assert!(text.contains("schema name `x; DROP TABLE y`"), "{text}");
    }
}
