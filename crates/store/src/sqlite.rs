//! The SQLite ledger store (`embedded` profile): `rusqlite` with the bundled SQLite, WAL
//! journal, one writer connection and one reader connection, each behind a std `Mutex`
//! and used from `spawn_blocking` (a blocking call never runs on a runtime thread).
//!
//! Throughput comes from writing each batch with multi-row statements
//! ([`ROWS_PER_STATEMENT_MAX`] rows each) inside one `BEGIN IMMEDIATE` transaction and
//! from checkpointing the WAL in large steps, not per commit: see
//! `docs/adr/006-ledger-store.md` for the measurements.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use edalab_domain::ledger::{AccountId, ClientId, LedgerTransaction};
use edalab_domain::{Currency, Money};
use rusqlite::{Connection, ErrorCode, OpenFlags, Statement, TransactionBehavior, params};
use uuid::Uuid;

use crate::ledger::{
    AccountTotals, AccountWrite, AppliedBatch, DecidedEvent, InboxEntry, InboxOutcome,
    LedgerCounts, LedgerStore, LoadedAccounts, OutboxMessage, PendingOutbox, Position,
    PositionUpdate, StoreError, StoredAccount, TransactionLimit, TransactionSum, decode_headers,
    encode_headers,
};
use crate::rows::{AccountColumns, TransactionColumns, corrupt, from_cents, from_micros, to_cents};

/// Rows per multi-row `INSERT` (DESIGN §7: 100 rows per statement is where the
/// per-statement overhead stops mattering).
pub const ROWS_PER_STATEMENT_MAX: usize = 100;
/// Ids per `IN (...)` lookup.
const IDS_PER_LOOKUP_MAX: usize = 500;

/// The migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[include_str!("../migrations/sqlite/0001_ledger.sql")];

/// SQLite's `synchronous` setting for the WAL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Synchronous {
    /// fsync the WAL at every commit: a committed batch survives a power loss. Default.
    #[default]
    Full,
    /// fsync only at checkpoints: a committed batch survives a process crash (kill -9)
    /// but the last commits may be lost on power loss. Faster.
    Normal,
}

impl Synchronous {
    fn pragma(&self) -> &'static str {
        match self {
            Synchronous::Full => "FULL",
            Synchronous::Normal => "NORMAL",
        }
    }
}

/// Settings of a SQLite ledger store.
#[derive(Debug, Clone)]
pub struct SqliteConfig {
    pub path: PathBuf,
    pub synchronous: Synchronous,
    /// WAL size, in pages (4 KiB), that triggers a checkpoint after a commit. Large enough
    /// for a checkpoint per few commits, not per commit; small enough that a replay after
    /// a full disk fits in the free-space floor the bus keeps (ADR 020).
    pub wal_autocheckpoint_pages: u32,
    /// The WAL file is truncated back to this size after a checkpoint (`journal_size_limit`):
    /// without it the file keeps the largest size it ever reached.
    pub wal_size_bytes_max: u64,
    /// How long a connection waits for a lock held by another process.
    pub busy_timeout_ms: u64,
}

impl SqliteConfig {
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            synchronous: Synchronous::Full,
            wal_autocheckpoint_pages: 4_096,
            wal_size_bytes_max: 16 << 20,
            busy_timeout_ms: 5_000,
        }
    }
}

/// The SQLite implementation of [`LedgerStore`]. Cheap to clone.
#[derive(Clone)]
pub struct SqliteLedgerStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// Every write, and the hot-path reads of the ledger service.
    writer: Mutex<Connection>,
    /// Queries (REST, reconciliation): with WAL they never wait for the writer.
    reader: Mutex<Connection>,
}

impl std::fmt::Debug for SqliteLedgerStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteLedgerStore")
            .field("path", &self.inner.path)
            .finish()
    }
}

impl SqliteLedgerStore {
    /// Opens (creating if needed) the database at `config.path` and applies the
    /// migrations.
    pub async fn open(config: SqliteConfig) -> Result<Self, StoreError> {
        tokio::task::spawn_blocking(move || Self::open_blocking(&config))
            .await
            .map_err(|e| StoreError::Backend(format!("open task failed: {e}")))?
    }

    /// Same as [`Self::open`], on the calling thread.
    pub fn open_blocking(config: &SqliteConfig) -> Result<Self, StoreError> {
        let writer = connect(config)?;
        migrate(&writer)?;
        let reader = connect(config)?;
        Ok(Self {
            inner: Arc::new(Inner {
                path: config.path.clone(),
                writer: Mutex::new(writer),
                reader: Mutex::new(reader),
            }),
        })
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Copies the whole WAL into the database file and truncates it (e.g. at shutdown).
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        self.with_writer(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .map_err(sql_error)
        })
        .await
    }

    async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            let mut conn = inner
                .writer
                .lock()
                .map_err(|_| StoreError::Backend("writer connection poisoned".to_owned()))?;
            f(&mut conn)
        })
        .await
    }

    async fn with_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let inner = Arc::clone(&self.inner);
        run_blocking(move || {
            let conn = inner
                .reader
                .lock()
                .map_err(|_| StoreError::Backend("reader connection poisoned".to_owned()))?;
            f(&conn)
        })
        .await
    }
}

async fn run_blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Backend(format!("store task failed: {e}")))?
}

fn connect(config: &SqliteConfig) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        &config.path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(sql_error)?;
    conn.busy_timeout(Duration::from_millis(config.busy_timeout_ms))
        .map_err(sql_error)?;
    conn.set_prepared_statement_cache_capacity(64);
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
        .map_err(sql_error)?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Backend(format!(
            "{} refused WAL mode (journal_mode = {mode})",
            config.path.display()
        )));
    }
    conn.execute_batch(&format!(
        "PRAGMA synchronous = {};
         PRAGMA wal_autocheckpoint = {};
         PRAGMA journal_size_limit = {};
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -65536;",
        config.synchronous.pragma(),
        config.wal_autocheckpoint_pages,
        config.wal_size_bytes_max,
    ))
    .map_err(sql_error)?;
    Ok(conn)
}

fn migrate(conn: &Connection) -> Result<(), StoreError> {
    let done: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(sql_error)?;
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(done.max(0) as usize) {
        conn.execute_batch(&format!(
            "BEGIN IMMEDIATE; {sql}; PRAGMA user_version = {}; COMMIT;",
            index + 1
        ))
        .map_err(|e| StoreError::Backend(format!("sqlite migration {} failed: {e}", index + 1)))?;
    }
    Ok(())
}

/// Maps a SQLite error to the port's: locks, I/O and a full disk are transient; a
/// unique-key violation is a concurrent [`StoreError::Conflict`]; the rest is a bug.
fn sql_error(error: rusqlite::Error) -> StoreError {
    match &error {
        rusqlite::Error::SqliteFailure(failure, _) => match failure.code {
            ErrorCode::DatabaseBusy
            | ErrorCode::DatabaseLocked
            | ErrorCode::SystemIoFailure
            | ErrorCode::DiskFull
            | ErrorCode::CannotOpen
            | ErrorCode::OutOfMemory => StoreError::Unavailable(error.to_string()),
            ErrorCode::ConstraintViolation
                if matches!(
                    failure.extended_code,
                    rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                        | rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                ) =>
            {
                StoreError::Conflict(error.to_string())
            }
            _ => StoreError::Backend(error.to_string()),
        },
        _ => StoreError::Backend(error.to_string()),
    }
}

/// `head VALUES (?,...,?),...,(?,...,?) tail` for `rows` rows of `columns` values.
fn multi_row_sql(head: &str, tail: &str, columns: usize, rows: usize) -> String {
    let mut tuple = String::with_capacity(columns * 2 + 2);
    tuple.push('(');
    for c in 0..columns {
        if c > 0 {
            tuple.push(',');
        }
        tuple.push('?');
    }
    tuple.push(')');
    let mut sql = String::with_capacity(head.len() + tail.len() + 8 + rows * (tuple.len() + 1));
    sql.push_str(head);
    sql.push_str(" VALUES ");
    for r in 0..rows {
        if r > 0 {
            sql.push(',');
        }
        sql.push_str(&tuple);
    }
    sql.push(' ');
    sql.push_str(tail);
    sql
}

/// Writes `rows` with multi-row statements of at most [`ROWS_PER_STATEMENT_MAX`] rows;
/// `bind` binds one row's `columns` values from the given 1-based parameter index.
/// Returns the number of rows changed.
fn write_rows<T>(
    conn: &Connection,
    head: &str,
    tail: &str,
    columns: usize,
    rows: &[T],
    bind: impl Fn(&mut Statement<'_>, usize, &T) -> Result<(), StoreError>,
) -> Result<usize, StoreError> {
    let mut changed = 0;
    for chunk in rows.chunks(ROWS_PER_STATEMENT_MAX) {
        let sql = multi_row_sql(head, tail, columns, chunk.len());
        let mut stmt = conn.prepare_cached(&sql).map_err(sql_error)?;
        for (i, row) in chunk.iter().enumerate() {
            bind(&mut stmt, i * columns + 1, row)?;
        }
        changed += stmt.raw_execute().map_err(sql_error)?;
    }
    Ok(changed)
}

fn bind<T: rusqlite::ToSql>(
    stmt: &mut Statement<'_>,
    index: usize,
    value: T,
) -> Result<(), StoreError> {
    stmt.raw_bind_parameter(index, value).map_err(sql_error)
}

fn write_accounts(conn: &Connection, accounts: &[AccountWrite]) -> Result<(), StoreError> {
    let changed = write_rows(
        conn,
        "INSERT OR ROLLBACK INTO comptes (id, client_id, type_compte, devise, solde_cents, statut, iban, \
         version, created_at_us, updated_at_us)",
        "ON CONFLICT (id) DO UPDATE SET solde_cents = excluded.solde_cents, \
         statut = excluded.statut, updated_at_us = excluded.updated_at_us, \
         iban = coalesce(comptes.iban, excluded.iban), version = excluded.version \
         WHERE comptes.version = excluded.version - 1",
        10,
        accounts,
        |stmt, i, w| {
            let a = &w.account;
            bind(stmt, i, a.id().as_str())?;
            bind(stmt, i + 1, a.client_id().as_str())?;
            bind(stmt, i + 2, a.account_type().as_wire())?;
            bind(stmt, i + 3, a.currency().as_str())?;
            bind(stmt, i + 4, to_cents(a.balance().amount())?)?;
            bind(stmt, i + 5, a.status().as_wire())?;
            bind(stmt, i + 6, w.iban.as_deref())?;
            bind(stmt, i + 7, w.expected_version.unwrap_or(0) + 1)?;
            bind(stmt, i + 8, a.created_at().timestamp_micros())?;
            bind(stmt, i + 9, a.updated_at().timestamp_micros())
        },
    )?;
    if changed != accounts.len() {
        return Err(StoreError::Conflict(format!(
            "{} of {} accounts were changed by another writer since they were read",
            accounts.len() - changed,
            accounts.len()
        )));
    }
    Ok(())
}

fn write_transactions(
    conn: &Connection,
    transactions: &[LedgerTransaction],
) -> Result<(), StoreError> {
    write_rows(
        conn,
        "INSERT OR ROLLBACK INTO transactions (id, compte_id, type, montant_cents, devise, reference, \
         created_at_us)",
        "",
        7,
        transactions,
        |stmt, i, t| {
            // Hyphenated lowercase form: the same text a REST client sees.
            let mut id_text = [0u8; uuid::fmt::Hyphenated::LENGTH];
            bind(stmt, i, &*t.id().0.hyphenated().encode_lower(&mut id_text))?;
            bind(stmt, i + 1, t.account_id().as_str())?;
            bind(stmt, i + 2, t.kind().as_wire())?;
            bind(stmt, i + 3, to_cents(t.amount().amount())?)?;
            bind(stmt, i + 4, t.amount().currency().as_str())?;
            bind(stmt, i + 5, t.reference().map(|r| r.as_str()))?;
            bind(stmt, i + 6, t.created_at().timestamp_micros())
        },
    )?;
    Ok(())
}

fn write_inbox(conn: &Connection, inbox: &[InboxEntry]) -> Result<(), StoreError> {
    write_rows(
        conn,
        "INSERT OR ROLLBACK INTO inbox (event_id, topic, partition, \"offset\", outcome, reason_code)",
        "",
        6,
        inbox,
        |stmt, i, e| {
            bind(stmt, i, &e.event_id.as_bytes()[..])?;
            bind(stmt, i + 1, e.topic.as_str())?;
            bind(stmt, i + 2, e.partition)?;
            bind(stmt, i + 3, offset_to_sql(e.offset)?)?;
            bind(stmt, i + 4, e.outcome.as_wire())?;
            bind(stmt, i + 5, e.outcome.reason_code())
        },
    )?;
    Ok(())
}

fn offset_to_sql(offset: u64) -> Result<i64, StoreError> {
    i64::try_from(offset).map_err(|_| StoreError::Invalid(format!("offset {offset} too large")))
}

fn write_positions(conn: &Connection, positions: &[PositionUpdate]) -> Result<(), StoreError> {
    write_rows(
        conn,
        "INSERT OR ROLLBACK INTO positions (group_id, topic, partition, next_offset)",
        "ON CONFLICT (group_id, topic, partition) DO UPDATE SET \
         next_offset = max(positions.next_offset, excluded.next_offset)",
        4,
        positions,
        |stmt, i, p| {
            bind(stmt, i, p.group.as_str())?;
            bind(stmt, i + 1, p.topic.as_str())?;
            bind(stmt, i + 2, p.partition)?;
            bind(stmt, i + 3, offset_to_sql(p.next_offset)?)
        },
    )?;
    Ok(())
}

fn write_outbox(conn: &Connection, outbox: &[OutboxMessage]) -> Result<(), StoreError> {
    write_rows(
        conn,
        "INSERT OR ROLLBACK INTO outbox (topic, key, payload, headers)",
        "",
        4,
        outbox,
        |stmt, i, m| {
            bind(stmt, i, m.topic.as_str())?;
            bind(stmt, i + 1, m.key.as_deref())?;
            bind(stmt, i + 2, m.payload.as_slice())?;
            bind(stmt, i + 3, encode_headers(&m.headers))
        },
    )?;
    Ok(())
}

const ACCOUNT_COLUMNS: &str = "id, client_id, type_compte, devise, solde_cents, statut, iban, \
                               version, created_at_us, updated_at_us";

fn read_account(
    row: &rusqlite::Row<'_>,
) -> rusqlite::Result<(AccountColumnsRaw, Option<String>, i64)> {
    Ok((
        AccountColumnsRaw {
            id: row.get(0)?,
            client_id: row.get(1)?,
            account_type: row.get(2)?,
            currency: row.get(3)?,
            balance_cents: row.get(4)?,
            status: row.get(5)?,
            created_at_us: row.get(8)?,
            updated_at_us: row.get(9)?,
        },
        row.get(6)?,
        row.get(7)?,
    ))
}

struct AccountColumnsRaw {
    id: String,
    client_id: String,
    account_type: String,
    currency: String,
    balance_cents: i64,
    status: String,
    created_at_us: i64,
    updated_at_us: i64,
}

impl AccountColumnsRaw {
    fn into_stored(self, iban: Option<String>, version: i64) -> Result<StoredAccount, StoreError> {
        let account = AccountColumns {
            id: self.id,
            client_id: self.client_id,
            account_type: self.account_type,
            currency: self.currency,
            balance: from_cents(self.balance_cents),
            status: self.status,
            created_at: from_micros("comptes", self.created_at_us)?,
            updated_at: from_micros("comptes", self.updated_at_us)?,
        }
        .into_account()?;
        Ok(StoredAccount {
            account,
            iban,
            version,
        })
    }
}

fn query_accounts(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<StoredAccount>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(sql_error)?;
    let rows = stmt.query_map(params, read_account).map_err(sql_error)?;
    let mut accounts = Vec::new();
    for row in rows {
        let (raw, iban, version) = row.map_err(sql_error)?;
        accounts.push(raw.into_stored(iban, version)?);
    }
    Ok(accounts)
}

fn in_list(count: usize) -> String {
    let mut list = String::with_capacity(count * 2);
    for i in 0..count {
        if i > 0 {
            list.push(',');
        }
        list.push('?');
    }
    list
}

#[async_trait]
impl LedgerStore for SqliteLedgerStore {
    fn backend_name(&self) -> &'static str {
        "sqlite"
    }

    async fn apply_batch(&self, batch: AppliedBatch) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        self.with_writer(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            write_accounts(&tx, &batch.accounts)?;
            write_transactions(&tx, &batch.transactions)?;
            write_inbox(&tx, &batch.inbox)?;
            write_positions(&tx, &batch.positions)?;
            write_outbox(&tx, &batch.outbox)?;
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn applied_event_ids(&self, event_ids: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        if event_ids.is_empty() {
            return Ok(HashSet::new());
        }
        let event_ids = event_ids.to_vec();
        self.with_writer(move |conn| {
            let mut found = HashSet::new();
            for chunk in event_ids.chunks(IDS_PER_LOOKUP_MAX) {
                let sql = format!(
                    "SELECT event_id FROM inbox WHERE event_id IN ({})",
                    in_list(chunk.len())
                );
                let mut stmt = conn.prepare_cached(&sql).map_err(sql_error)?;
                for (i, id) in chunk.iter().enumerate() {
                    bind(&mut stmt, i + 1, &id.as_bytes()[..])?;
                }
                let mut rows = stmt.raw_query();
                while let Some(row) = rows.next().map_err(sql_error)? {
                    let bytes: Vec<u8> = row.get(0).map_err(sql_error)?;
                    let id = Uuid::from_slice(&bytes)
                        .map_err(|e| corrupt("inbox", format!("event id: {e}")))?;
                    found.insert(id);
                }
            }
            Ok(found)
        })
        .await
    }

    async fn load_accounts(&self, ids: &[AccountId]) -> Result<LoadedAccounts, StoreError> {
        if ids.is_empty() {
            return Ok(LoadedAccounts::default());
        }
        let ids = ids.to_vec();
        self.with_writer(move |conn| {
            let mut loaded = LoadedAccounts::default();
            for chunk in ids.chunks(IDS_PER_LOOKUP_MAX) {
                let sql = format!(
                    "SELECT {ACCOUNT_COLUMNS} FROM comptes WHERE id IN ({})",
                    in_list(chunk.len())
                );
                let stored = query_accounts(
                    conn,
                    &sql,
                    rusqlite::params_from_iter(chunk.iter().map(|id| id.as_str())),
                )?;
                for s in stored {
                    loaded.versions.insert(s.account.id().clone(), s.version);
                    loaded.accounts.insert(s.account.id().clone(), s.account);
                }
            }
            Ok(loaded)
        })
        .await
    }

    async fn account(&self, id: &AccountId) -> Result<Option<StoredAccount>, StoreError> {
        let id = id.clone();
        self.with_reader(move |conn| {
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM comptes WHERE id = ?");
            Ok(query_accounts(conn, &sql, params![id.as_str()])?.pop())
        })
        .await
    }

    async fn transactions(
        &self,
        account_id: &AccountId,
        limit: TransactionLimit,
    ) -> Result<Vec<LedgerTransaction>, StoreError> {
        let account_id = account_id.clone();
        self.with_reader(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, compte_id, type, montant_cents, devise, reference, created_at_us \
                     FROM transactions WHERE compte_id = ? ORDER BY rowid DESC LIMIT ?",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![account_id.as_str(), limit.get()], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, i64>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, Option<String>>(5)?,
                        row.get::<_, i64>(6)?,
                    ))
                })
                .map_err(sql_error)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, account_id, kind, cents, currency, reference, at) =
                    row.map_err(sql_error)?;
                let id = Uuid::parse_str(&id)
                    .map_err(|e| corrupt("transactions", format!("id {id:?}: {e}")))?;
                out.push(
                    TransactionColumns {
                        id,
                        account_id,
                        kind,
                        amount: from_cents(cents),
                        currency,
                        reference,
                        created_at: from_micros("transactions", at)?,
                    }
                    .into_transaction()?,
                );
            }
            Ok(out)
        })
        .await
    }

    async fn accounts_of_client(
        &self,
        client_id: &ClientId,
    ) -> Result<Vec<StoredAccount>, StoreError> {
        let client_id = client_id.clone();
        self.with_reader(move |conn| {
            let sql =
                format!("SELECT {ACCOUNT_COLUMNS} FROM comptes WHERE client_id = ? ORDER BY id");
            query_accounts(conn, &sql, params![client_id.as_str()])
        })
        .await
    }

    async fn all_balances(&self) -> Result<BTreeMap<AccountId, Money>, StoreError> {
        self.with_reader(|conn| {
            let sql = format!("SELECT {ACCOUNT_COLUMNS} FROM comptes");
            Ok(query_accounts(conn, &sql, [])?
                .into_iter()
                .map(|s| (s.account.id().clone(), s.account.balance()))
                .collect())
        })
        .await
    }

    async fn recompute_balances_from_transactions(
        &self,
    ) -> Result<BTreeMap<AccountId, AccountTotals>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT compte_id, \
                     SUM(CASE WHEN type IN ('DEPOT', 'VIREMENT_ENTRANT') THEN montant_cents \
                     ELSE -montant_cents END), COUNT(*) \
                     FROM transactions GROUP BY compte_id",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, i64>(1)?,
                        row.get::<_, i64>(2)?,
                    ))
                })
                .map_err(sql_error)?;
            let mut out = BTreeMap::new();
            for row in rows {
                let (id, cents, count) = row.map_err(sql_error)?;
                let id = AccountId::parse(id).map_err(|e| corrupt("transactions", e))?;
                out.insert(
                    id,
                    AccountTotals {
                        balance: from_cents(cents),
                        transaction_count: count.max(0) as u64,
                    },
                );
            }
            Ok(out)
        })
        .await
    }

    async fn positions(&self, group: &str) -> Result<Vec<Position>, StoreError> {
        let group = group.to_owned();
        self.with_writer(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT topic, partition, next_offset FROM positions WHERE group_id = ? \
                     ORDER BY topic, partition",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![group], |row| {
                    Ok(Position {
                        topic: row.get(0)?,
                        partition: row.get(1)?,
                        next_offset: row.get::<_, i64>(2)?.max(0) as u64,
                    })
                })
                .map_err(sql_error)?;
            rows.collect::<Result<_, _>>().map_err(sql_error)
        })
        .await
    }

    async fn pending_outbox(&self, limit: u32) -> Result<Vec<PendingOutbox>, StoreError> {
        self.with_writer(move |conn| {
            let mut stmt = conn
                .prepare_cached(
                    "SELECT id, topic, key, payload, headers FROM outbox ORDER BY id LIMIT ?",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map(params![limit], |row| {
                    Ok((
                        row.get::<_, i64>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<Vec<u8>>>(2)?,
                        row.get::<_, Vec<u8>>(3)?,
                        row.get::<_, Vec<u8>>(4)?,
                    ))
                })
                .map_err(sql_error)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, topic, key, payload, headers) = row.map_err(sql_error)?;
                out.push(PendingOutbox {
                    id,
                    message: OutboxMessage {
                        topic,
                        key,
                        payload,
                        headers: decode_headers(&headers)?,
                    },
                });
            }
            Ok(out)
        })
        .await
    }

    async fn delete_outbox(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let ids = ids.to_vec();
        self.with_writer(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sql_error)?;
            for chunk in ids.chunks(IDS_PER_LOOKUP_MAX) {
                let sql = format!("DELETE FROM outbox WHERE id IN ({})", in_list(chunk.len()));
                tx.execute(&sql, rusqlite::params_from_iter(chunk.iter()))
                    .map_err(sql_error)?;
            }
            tx.commit().map_err(sql_error)
        })
        .await
    }

    async fn counts(&self) -> Result<LedgerCounts, StoreError> {
        self.with_reader(|conn| {
            conn.query_row(
                "SELECT (SELECT COUNT(*) FROM comptes), (SELECT COUNT(*) FROM transactions), \
                 (SELECT COUNT(*) FROM inbox WHERE outcome = 'APPLIED'), \
                 (SELECT COUNT(*) FROM inbox WHERE outcome = 'REJECTED'), \
                 (SELECT COUNT(*) FROM outbox)",
                [],
                |row| {
                    let n = |i: usize| row.get::<_, i64>(i).map(|v| v.max(0) as u64);
                    Ok(LedgerCounts {
                        accounts: n(0)?,
                        transactions: n(1)?,
                        inbox_applied: n(2)?,
                        inbox_rejected: n(3)?,
                        outbox_pending: n(4)?,
                    })
                },
            )
            .map_err(sql_error)
        })
        .await
    }

    async fn decided_events(&self) -> Result<Vec<DecidedEvent>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn
                .prepare("SELECT event_id, outcome, reason_code FROM inbox ORDER BY seq")
                .map_err(sql_error)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, Vec<u8>>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, Option<String>>(2)?,
                    ))
                })
                .map_err(sql_error)?;
            let mut out = Vec::new();
            for row in rows {
                let (id, outcome, code) = row.map_err(sql_error)?;
                out.push(DecidedEvent {
                    event_id: Uuid::from_slice(&id)
                        .map_err(|e| corrupt("inbox", format!("event id: {e}")))?,
                    outcome: InboxOutcome::from_wire(&outcome, code)?,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn transaction_sums(&self) -> Result<Vec<TransactionSum>, StoreError> {
        self.with_reader(|conn| {
            let mut stmt = conn
                .prepare(
                    "SELECT type, devise, SUM(montant_cents), COUNT(*) FROM transactions \
                     GROUP BY type, devise ORDER BY type, devise",
                )
                .map_err(sql_error)?;
            let rows = stmt
                .query_map([], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, i64>(2)?,
                        row.get::<_, i64>(3)?,
                    ))
                })
                .map_err(sql_error)?;
            let mut out = Vec::new();
            for row in rows {
                let (kind, currency, cents, count) = row.map_err(sql_error)?;
                out.push(TransactionSum {
                    kind: kind.parse().map_err(|e| corrupt("transactions", e))?,
                    currency: Currency::parse(&currency)
                        .map_err(|e| corrupt("transactions", e.to_string()))?,
                    total: from_cents(cents),
                    count: count.max(0) as u64,
                });
            }
            Ok(out)
        })
        .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        self.with_reader(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(sql_error)
        })
        .await
    }
}
