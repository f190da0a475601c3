//! The PostgreSQL ledger store (`kafka` profile): `sqlx` over a connection pool, schema
//! `bancaire`, migrations from `crates/store/migrations/postgres/` applied at start.
//!
//! A batch is written with one statement per table: arrays bound as parameters and
//! expanded with `UNNEST`, so a batch of 10 000 events costs a handful of round trips.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use edalab_domain::Money;
use edalab_domain::ledger::{AccountId, ClientId, LedgerTransaction};
use rust_decimal::Decimal;
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::{Executor, Postgres, Row};
use uuid::Uuid;

use edalab_domain::Currency;

use crate::ledger::{
    AccountTotals, AppliedBatch, DecidedEvent, InboxOutcome, LedgerCounts, LedgerStore,
    LoadedAccounts, PendingOutbox, Position, StoreError, StoredAccount, TransactionLimit,
    TransactionSum, decode_headers, encode_headers,
};
use crate::rows::{AccountColumns, TransactionColumns, corrupt};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Settings of a PostgreSQL ledger store.
#[derive(Debug, Clone)]
pub struct PgConfig {
    /// `postgres://user@host:port/database`.
    pub url: String,
    pub connections_max: u32,
    pub acquire_timeout_ms: u64,
}

impl PgConfig {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            connections_max: 8,
            acquire_timeout_ms: 5_000,
        }
    }
}

/// The PostgreSQL implementation of [`LedgerStore`]. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PgLedgerStore {
    pool: PgPool,
}

impl PgLedgerStore {
    /// Connects and applies the migrations.
    pub async fn connect(config: &PgConfig) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(config.connections_max)
            .acquire_timeout(Duration::from_millis(config.acquire_timeout_ms))
            .connect(&config.url)
            .await
            .map_err(pg_error)?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|e| StoreError::Backend(format!("postgres migration failed: {e}")))?;
        Ok(Self { pool })
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Closes the pool's connections.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Maps a sqlx error to the port's: connection trouble and the server's "try again"
/// classes are transient; unique violations and serialization failures are conflicts.
fn pg_error(error: sqlx::Error) -> StoreError {
    match &error {
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => StoreError::Unavailable(error.to_string()),
        sqlx::Error::Database(db) => {
            let code = db.code().map(|c| c.into_owned()).unwrap_or_default();
            match code.as_str() {
                "23505" | "40001" | "40P01" => StoreError::Conflict(error.to_string()),
                c if c.starts_with("08") || c.starts_with("53") || c.starts_with("57") => {
                    StoreError::Unavailable(error.to_string())
                }
                _ => StoreError::Backend(error.to_string()),
            }
        }
        _ => StoreError::Backend(error.to_string()),
    }
}

fn to_i64(value: u64, what: &str) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::Invalid(format!("{what} {value} too large")))
}

const ACCOUNT_COLUMNS: &str = "id, client_id, type_compte, devise, solde, statut, iban, version, \
                               created_at, updated_at";

fn read_account(row: &PgRow) -> Result<StoredAccount, StoreError> {
    let account = AccountColumns {
        id: row.try_get("id").map_err(pg_error)?,
        client_id: row.try_get("client_id").map_err(pg_error)?,
        account_type: row.try_get("type_compte").map_err(pg_error)?,
        currency: row.try_get("devise").map_err(pg_error)?,
        balance: row.try_get("solde").map_err(pg_error)?,
        status: row.try_get("statut").map_err(pg_error)?,
        created_at: row.try_get("created_at").map_err(pg_error)?,
        updated_at: row.try_get("updated_at").map_err(pg_error)?,
    }
    .into_account()?;
    Ok(StoredAccount {
        account,
        iban: row.try_get("iban").map_err(pg_error)?,
        version: row.try_get("version").map_err(pg_error)?,
    })
}

async fn write_batch<'c>(
    tx: &mut sqlx::Transaction<'c, Postgres>,
    batch: &AppliedBatch,
) -> Result<(), StoreError> {
    if !batch.accounts.is_empty() {
        let n = batch.accounts.len();
        let (mut ids, mut clients, mut types, mut currencies) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut balances, mut statuses, mut ibans, mut versions) = (
            Vec::<Decimal>::with_capacity(n),
            Vec::with_capacity(n),
            Vec::<Option<String>>::with_capacity(n),
            Vec::<i64>::with_capacity(n),
        );
        let (mut created, mut updated) = (
            Vec::<DateTime<Utc>>::with_capacity(n),
            Vec::<DateTime<Utc>>::with_capacity(n),
        );
        for w in &batch.accounts {
            let a = &w.account;
            ids.push(a.id().as_str().to_owned());
            clients.push(a.client_id().as_str().to_owned());
            types.push(a.account_type().as_wire().to_owned());
            currencies.push(a.currency().as_str().to_owned());
            balances.push(a.balance().amount());
            statuses.push(a.status().as_wire().to_owned());
            ibans.push(w.iban.clone());
            versions.push(w.expected_version.unwrap_or(0) + 1);
            created.push(a.created_at());
            updated.push(a.updated_at());
        }
        let changed = sqlx::query(
            "INSERT INTO bancaire.comptes (id, client_id, type_compte, devise, solde, statut, \
             iban, version, created_at, updated_at) \
             SELECT * FROM UNNEST($1::varchar[], $2::varchar[], $3::varchar[], $4::char(3)[], \
             $5::numeric[], $6::varchar[], $7::varchar[], $8::bigint[], $9::timestamptz[], \
             $10::timestamptz[]) \
             ON CONFLICT (id) DO UPDATE SET solde = EXCLUDED.solde, statut = EXCLUDED.statut, \
             updated_at = EXCLUDED.updated_at, \
             iban = COALESCE(bancaire.comptes.iban, EXCLUDED.iban), version = EXCLUDED.version \
             WHERE bancaire.comptes.version = EXCLUDED.version - 1",
        )
        .bind(ids)
        .bind(clients)
        .bind(types)
        .bind(currencies)
        .bind(balances)
        .bind(statuses)
        .bind(ibans)
        .bind(versions)
        .bind(created)
        .bind(updated)
        .execute(&mut **tx)
        .await
        .map_err(pg_error)?
        .rows_affected();
        if changed != n as u64 {
            return Err(StoreError::Conflict(format!(
                "{} of {n} accounts were changed by another writer since they were read",
                n as u64 - changed
            )));
        }
    }

    if !batch.transactions.is_empty() {
        let n = batch.transactions.len();
        let mut ids = Vec::<Uuid>::with_capacity(n);
        let mut accounts = Vec::<String>::with_capacity(n);
        let mut kinds = Vec::<String>::with_capacity(n);
        let mut amounts = Vec::<Decimal>::with_capacity(n);
        let mut currencies = Vec::<String>::with_capacity(n);
        let mut references = Vec::<Option<String>>::with_capacity(n);
        let mut created = Vec::<DateTime<Utc>>::with_capacity(n);
        for t in &batch.transactions {
            ids.push(t.id().0);
            accounts.push(t.account_id().as_str().to_owned());
            kinds.push(t.kind().as_wire().to_owned());
            amounts.push(t.amount().amount());
            currencies.push(t.amount().currency().as_str().to_owned());
            references.push(t.reference().map(|r| r.as_str().to_owned()));
            created.push(t.created_at());
        }
        sqlx::query(
            "INSERT INTO bancaire.transactions (id, compte_id, type, montant, devise, reference, \
             created_at) \
             SELECT id, compte_id, type, montant, devise, reference, created_at \
             FROM UNNEST($1::uuid[], $2::varchar[], $3::varchar[], $4::numeric[], \
             $5::char(3)[], $6::varchar[], $7::timestamptz[]) WITH ORDINALITY AS t \
             (id, compte_id, type, montant, devise, reference, created_at, n) ORDER BY n",
        )
        .bind(ids)
        .bind(accounts)
        .bind(kinds)
        .bind(amounts)
        .bind(currencies)
        .bind(references)
        .bind(created)
        .execute(&mut **tx)
        .await
        .map_err(pg_error)?;
    }

    if !batch.inbox.is_empty() {
        let n = batch.inbox.len();
        let mut ids = Vec::<Uuid>::with_capacity(n);
        let mut topics = Vec::<String>::with_capacity(n);
        let mut partitions = Vec::<i32>::with_capacity(n);
        let mut offsets = Vec::<i64>::with_capacity(n);
        let mut outcomes = Vec::<String>::with_capacity(n);
        let mut reasons = Vec::<Option<String>>::with_capacity(n);
        for e in &batch.inbox {
            ids.push(e.event_id);
            topics.push(e.topic.clone());
            partitions.push(e.partition as i32);
            offsets.push(to_i64(e.offset, "offset")?);
            outcomes.push(e.outcome.as_wire().to_owned());
            reasons.push(e.outcome.reason_code().map(str::to_owned));
        }
        sqlx::query(
            "INSERT INTO bancaire.inbox (event_id, topic, partition, \"offset\", outcome, \
             reason_code) \
             SELECT event_id, topic, partition, o, outcome, reason_code \
             FROM UNNEST($1::uuid[], $2::text[], $3::int[], $4::bigint[], \
             $5::varchar[], $6::text[]) WITH ORDINALITY \
             AS e (event_id, topic, partition, o, outcome, reason_code, n) ORDER BY n",
        )
        .bind(ids)
        .bind(topics)
        .bind(partitions)
        .bind(offsets)
        .bind(outcomes)
        .bind(reasons)
        .execute(&mut **tx)
        .await
        .map_err(pg_error)?;
    }

    if !batch.positions.is_empty() {
        // Sorted so that two writers lock position rows in the same order (no deadlock).
        let mut positions = batch.positions.clone();
        positions.sort();
        positions.dedup_by(|a, b| {
            a.group == b.group && a.topic == b.topic && a.partition == b.partition
        });
        let mut groups = Vec::<String>::new();
        let mut topics = Vec::<String>::new();
        let mut partitions = Vec::<i32>::new();
        let mut offsets = Vec::<i64>::new();
        for p in &positions {
            groups.push(p.group.clone());
            topics.push(p.topic.clone());
            partitions.push(p.partition as i32);
            offsets.push(to_i64(p.next_offset, "offset")?);
        }
        sqlx::query(
            "INSERT INTO bancaire.positions (group_id, topic, partition, next_offset) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int[], $4::bigint[]) \
             ON CONFLICT (group_id, topic, partition) DO UPDATE SET \
             next_offset = GREATEST(bancaire.positions.next_offset, EXCLUDED.next_offset)",
        )
        .bind(groups)
        .bind(topics)
        .bind(partitions)
        .bind(offsets)
        .execute(&mut **tx)
        .await
        .map_err(pg_error)?;
    }

    if !batch.outbox.is_empty() {
        let mut topics = Vec::<String>::new();
        let mut keys = Vec::<Option<Vec<u8>>>::new();
        let mut payloads = Vec::<Vec<u8>>::new();
        let mut headers = Vec::<Vec<u8>>::new();
        for m in &batch.outbox {
            topics.push(m.topic.clone());
            keys.push(m.key.clone());
            payloads.push(m.payload.clone());
            headers.push(encode_headers(&m.headers));
        }
        sqlx::query(
            "INSERT INTO bancaire.outbox (topic, key, payload, headers) \
             SELECT topic, key, payload, headers FROM UNNEST($1::text[], $2::bytea[], \
             $3::bytea[], $4::bytea[]) WITH ORDINALITY AS m (topic, key, payload, headers, n) \
             ORDER BY n",
        )
        .bind(topics)
        .bind(keys)
        .bind(payloads)
        .bind(headers)
        .execute(&mut **tx)
        .await
        .map_err(pg_error)?;
    }
    Ok(())
}

#[async_trait]
impl LedgerStore for PgLedgerStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }

    async fn apply_batch(&self, batch: AppliedBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await.map_err(pg_error)?;
        match write_batch(&mut tx, &batch).await {
            Ok(()) => tx.commit().await.map_err(pg_error),
            Err(e) => {
                // Dropping `tx` would roll back too; an explicit rollback returns the
                // connection to the pool clean at once. Its own failure changes nothing.
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    async fn applied_event_ids(&self, event_ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        if event_ids.is_empty() {
            return Ok(HashSet::new());
        }
        let rows = sqlx::query("SELECT event_id FROM bancaire.inbox WHERE event_id = ANY($1)")
            .bind(event_ids)
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| row.try_get::<Uuid, _>(0).map_err(pg_error))
            .collect()
    }

    async fn load_accounts(&self, ids: &[AccountId]) -> Result<LoadedAccounts, StoreError> {
        if ids.is_empty() {
            return Ok(LoadedAccounts::default());
        }
        let ids: Vec<&str> = ids.iter().map(|id| id.as_str()).collect();
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM bancaire.comptes WHERE id = ANY($1)"
        ))
        .bind(&ids)
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        let mut loaded = LoadedAccounts::default();
        for row in &rows {
            let stored = read_account(row)?;
            loaded
                .versions
                .insert(stored.account.id().clone(), stored.version);
            loaded
                .accounts
                .insert(stored.account.id().clone(), stored.account);
        }
        Ok(loaded)
    }

    async fn account(&self, id: &AccountId) -> Result<Option<StoredAccount>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM bancaire.comptes WHERE id = $1"
        ))
        .bind(id.as_str())
        .fetch_optional(&self.pool)
        .await
        .map_err(pg_error)?;
        row.as_ref().map(read_account).transpose()
    }

    async fn transactions(
        &self,
        account_id: &AccountId,
        limit: TransactionLimit,
    ) -> Result<Vec<LedgerTransaction>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, compte_id, type, montant, devise, reference, created_at \
             FROM bancaire.transactions WHERE compte_id = $1 ORDER BY seq DESC LIMIT $2",
        )
        .bind(account_id.as_str())
        .bind(i64::from(limit.get()))
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                TransactionColumns {
                    id: row.try_get("id").map_err(pg_error)?,
                    account_id: row.try_get("compte_id").map_err(pg_error)?,
                    kind: row.try_get("type").map_err(pg_error)?,
                    amount: row.try_get("montant").map_err(pg_error)?,
                    currency: row.try_get("devise").map_err(pg_error)?,
                    reference: row.try_get("reference").map_err(pg_error)?,
                    created_at: row.try_get("created_at").map_err(pg_error)?,
                }
                .into_transaction()
            })
            .collect()
    }

    async fn accounts_of_client(
        &self,
        client_id: &ClientId,
    ) -> Result<Vec<StoredAccount>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM bancaire.comptes WHERE client_id = $1 ORDER BY id"
        ))
        .bind(client_id.as_str())
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter().map(read_account).collect()
    }

    async fn all_balances(&self) -> Result<BTreeMap<AccountId, Money>, StoreError> {
        let rows = sqlx::query(&format!("SELECT {ACCOUNT_COLUMNS} FROM bancaire.comptes"))
            .fetch_all(&self.pool)
            .await
            .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                let stored = read_account(row)?;
                Ok((stored.account.id().clone(), stored.account.balance()))
            })
            .collect()
    }

    async fn recompute_balances_from_transactions(
        &self,
    ) -> Result<BTreeMap<AccountId, AccountTotals>, StoreError> {
        let rows = sqlx::query(
            "SELECT compte_id, \
             SUM(CASE WHEN type IN ('DEPOT', 'VIREMENT_ENTRANT') THEN montant ELSE -montant END) \
             AS balance, COUNT(*) AS n \
             FROM bancaire.transactions GROUP BY compte_id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get("compte_id").map_err(pg_error)?;
                let id = AccountId::parse(id).map_err(|e| corrupt("transactions", e))?;
                let balance: Decimal = row.try_get("balance").map_err(pg_error)?;
                let count: i64 = row.try_get("n").map_err(pg_error)?;
                Ok((
                    id,
                    AccountTotals {
                        balance,
                        transaction_count: count.max(0) as u64,
                    },
                ))
            })
            .collect()
    }

    async fn positions(&self, group: &str) -> Result<Vec<Position>, StoreError> {
        let rows = sqlx::query(
            "SELECT topic, partition, next_offset FROM bancaire.positions WHERE group_id = $1 \
             ORDER BY topic, partition",
        )
        .bind(group)
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                Ok(Position {
                    topic: row.try_get("topic").map_err(pg_error)?,
                    partition: row.try_get::<i32, _>("partition").map_err(pg_error)?.max(0) as u32,
                    next_offset: row
                        .try_get::<i64, _>("next_offset")
                        .map_err(pg_error)?
                        .max(0) as u64,
                })
            })
            .collect()
    }

    async fn pending_outbox(&self, limit: u32) -> Result<Vec<PendingOutbox>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, topic, key, payload, headers FROM bancaire.outbox ORDER BY id LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                let headers: Vec<u8> = row.try_get("headers").map_err(pg_error)?;
                Ok(PendingOutbox {
                    id: row.try_get("id").map_err(pg_error)?,
                    message: crate::ledger::OutboxMessage {
                        topic: row.try_get("topic").map_err(pg_error)?,
                        key: row.try_get("key").map_err(pg_error)?,
                        payload: row.try_get("payload").map_err(pg_error)?,
                        headers: decode_headers(&headers)?,
                    },
                })
            })
            .collect()
    }

    async fn delete_outbox(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        sqlx::query("DELETE FROM bancaire.outbox WHERE id = ANY($1)")
            .bind(ids)
            .execute(&self.pool)
            .await
            .map_err(pg_error)?;
        Ok(())
    }

    async fn counts(&self) -> Result<LedgerCounts, StoreError> {
        let row = sqlx::query(
            "SELECT (SELECT COUNT(*) FROM bancaire.comptes) AS a, \
             (SELECT COUNT(*) FROM bancaire.transactions) AS t, \
             (SELECT COUNT(*) FROM bancaire.inbox WHERE outcome = 'APPLIED') AS ia, \
             (SELECT COUNT(*) FROM bancaire.inbox WHERE outcome = 'REJECTED') AS ir, \
             (SELECT COUNT(*) FROM bancaire.outbox) AS o",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(pg_error)?;
        let n = |name: &str| -> Result<u64, StoreError> {
            Ok(row.try_get::<i64, _>(name).map_err(pg_error)?.max(0) as u64)
        };
        Ok(LedgerCounts {
            accounts: n("a")?,
            transactions: n("t")?,
            inbox_applied: n("ia")?,
            inbox_rejected: n("ir")?,
            outbox_pending: n("o")?,
        })
    }

    async fn decided_events(&self) -> Result<Vec<DecidedEvent>, StoreError> {
        let rows =
            sqlx::query("SELECT event_id, outcome, reason_code FROM bancaire.inbox ORDER BY seq")
                .fetch_all(&self.pool)
                .await
                .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                let outcome: String = row.try_get("outcome").map_err(pg_error)?;
                Ok(DecidedEvent {
                    event_id: row.try_get("event_id").map_err(pg_error)?,
                    outcome: InboxOutcome::from_wire(
                        &outcome,
                        row.try_get("reason_code").map_err(pg_error)?,
                    )?,
                })
            })
            .collect()
    }

    async fn transaction_sums(&self) -> Result<Vec<TransactionSum>, StoreError> {
        let rows = sqlx::query(
            "SELECT type, devise, SUM(montant) AS total, COUNT(*) AS n \
             FROM bancaire.transactions GROUP BY type, devise ORDER BY type, devise",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(pg_error)?;
        rows.iter()
            .map(|row| {
                let kind: String = row.try_get("type").map_err(pg_error)?;
                let currency: String = row.try_get("devise").map_err(pg_error)?;
                Ok(TransactionSum {
                    kind: kind.parse().map_err(|e| corrupt("transactions", e))?,
                    currency: Currency::parse(&currency)
                        .map_err(|e| corrupt("transactions", e.to_string()))?,
                    total: row.try_get("total").map_err(pg_error)?,
                    count: row.try_get::<i64, _>("n").map_err(pg_error)?.max(0) as u64,
                })
            })
            .collect()
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.pool.execute("SELECT 1").await.map_err(pg_error)?;
        Ok(())
    }
}
