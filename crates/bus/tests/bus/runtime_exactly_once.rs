//! The exactly-once hook with a real SQLite store (rusqlite, bundled): effects applied once
//! across redelivery, a crash between store commit and bus commit, and duplicate event ids.

use crate::common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use common::{FakeBus, Running, test_config, wait_until};
use edalab_bus::port::{Message, Producer, Record, TopicPartition, headers};
use edalab_bus::runtime::{
    Applied, AppliedId, BatchHandler, ConsumerRuntime, DlqRouting, Inbox, Outcome, PositionStore,
    StoreError, apply_once,
};
use rusqlite::{Connection, OptionalExtension, Transaction, params};

const TOPIC: &str = "payments";
const DLQ: &str = "payments-dlq";
const GROUP: &str = "ledger";

/// The inbox tables: applied positions and applied event ids.
struct SqliteInbox;

impl Inbox<Transaction<'_>> for SqliteInbox {
    type Error = rusqlite::Error;

    fn already_applied(
        &self,
        tx: &mut Transaction<'_>,
        id: &AppliedId,
    ) -> Result<bool, Self::Error> {
        let by_position = tx
            .query_row(
                "SELECT 1 FROM inbox_positions WHERE grp = ?1 AND topic = ?2 AND part = ?3 AND off = ?4",
                params![id.group, id.topic, id.partition, id.offset as i64],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        let by_event = match &id.event_id {
            Some(event_id) => tx
                .query_row(
                    "SELECT 1 FROM inbox_events WHERE grp = ?1 AND event_id = ?2",
                    params![id.group, event_id],
                    |_| Ok(()),
                )
                .optional()?
                .is_some(),
            None => false,
        };
        Ok(by_position || by_event)
    }

    fn record_applied(&self, tx: &mut Transaction<'_>, id: &AppliedId) -> Result<(), Self::Error> {
        tx.execute(
            "INSERT INTO inbox_positions (grp, topic, part, off) VALUES (?1, ?2, ?3, ?4)",
            params![id.group, id.topic, id.partition, id.offset as i64],
        )?;
        if let Some(event_id) = &id.event_id {
            tx.execute(
                "INSERT INTO inbox_events (grp, event_id) VALUES (?1, ?2)",
                params![id.group, event_id],
            )?;
        }
        Ok(())
    }
}

/// A tiny ledger: each message credits `value` (decimal) to the account named by its key.
struct SqliteStore {
    conn: Mutex<Connection>,
    /// Transactions to fail before commit (rolled back).
    fail_before_commit: AtomicU32,
    /// Handler invocations, per message.
    deliveries: AtomicU32,
}

impl SqliteStore {
    fn open(path: &std::path::Path) -> Arc<Self> {
        let conn = Connection::open(path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             CREATE TABLE IF NOT EXISTS accounts (id TEXT PRIMARY KEY, balance INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS inbox_positions (grp TEXT, topic TEXT, part INTEGER, off INTEGER,
                 PRIMARY KEY (grp, topic, part, off));
             CREATE TABLE IF NOT EXISTS inbox_events (grp TEXT, event_id TEXT, PRIMARY KEY (grp, event_id));
             CREATE TABLE IF NOT EXISTS positions (grp TEXT, topic TEXT, part INTEGER, next_offset INTEGER,
                 PRIMARY KEY (grp, topic, part));",
        )
        .unwrap();
        Arc::new(Self {
            conn: Mutex::new(conn),
            fail_before_commit: AtomicU32::new(0),
            deliveries: AtomicU32::new(0),
        })
    }

    fn balance(&self, account: &str) -> i64 {
        self.conn
            .lock()
            .unwrap()
            .query_row(
                "SELECT balance FROM accounts WHERE id = ?1",
                [account],
                |r| r.get(0),
            )
            .optional()
            .unwrap()
            .unwrap_or(0)
    }

    /// Applies a batch in one transaction: the ledger's way.
    fn apply_batch(&self, batch: &[Message]) -> Result<Vec<bool>, rusqlite::Error> {
        let mut conn = self.conn.lock().unwrap();
        let mut tx = conn.transaction()?;
        let mut applied_now = Vec::with_capacity(batch.len());
        for message in batch {
            self.deliveries.fetch_add(1, Ordering::Relaxed);
            let id = AppliedId::of(GROUP, message);
            let account =
                String::from_utf8_lossy(message.key.as_deref().unwrap_or_default()).into_owned();
            let amount: i64 = String::from_utf8_lossy(&message.value).parse().unwrap_or(0);
            let applied = apply_once(&SqliteInbox, &mut tx, &id, |tx| {
                tx.execute(
                    "INSERT INTO accounts (id, balance) VALUES (?1, ?2)
                     ON CONFLICT (id) DO UPDATE SET balance = balance + excluded.balance",
                    params![account, amount],
                )
            })?;
            applied_now.push(matches!(applied, Applied::Now(_)));
        }
        let fail = self
            .fail_before_commit
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if fail {
            tx.rollback()?;
            return Err(rusqlite::Error::InvalidQuery);
        }
        tx.commit()?;
        Ok(applied_now)
    }
}

#[async_trait]
impl BatchHandler for SqliteStore {
    async fn handle(&self, batch: &[Message]) -> Vec<Outcome> {
        // A real service would use spawn_blocking; the test store is small and local.
        match self.apply_batch(batch) {
            Ok(_) => vec![Outcome::Done; batch.len()],
            Err(error) => vec![Outcome::retry(format!("store: {error}")); batch.len()],
        }
    }
}

#[async_trait]
impl PositionStore for SqliteStore {
    async fn load_position(
        &self,
        group: &str,
        tp: &TopicPartition,
    ) -> Result<Option<u64>, StoreError> {
        let conn = self.conn.lock().unwrap();
        let position: Option<i64> = conn
            .query_row(
                "SELECT next_offset FROM positions WHERE grp = ?1 AND topic = ?2 AND part = ?3",
                params![group, tp.topic, tp.partition],
                |r| r.get(0),
            )
            .optional()?;
        Ok(position.map(|p| p as u64))
    }

    async fn save_positions(
        &self,
        group: &str,
        positions: &BTreeMap<TopicPartition, u64>,
    ) -> Result<(), StoreError> {
        let conn = self.conn.lock().unwrap();
        for (tp, offset) in positions {
            conn.execute(
                "INSERT INTO positions (grp, topic, part, next_offset) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (grp, topic, part) DO UPDATE SET next_offset = MAX(next_offset, excluded.next_offset)",
                params![group, tp.topic, tp.partition, *offset as i64],
            )?;
        }
        Ok(())
    }
}

async fn setup() -> FakeBus {
    let bus = FakeBus::new();
    bus.topic(TOPIC, 1).await;
    bus.topic(DLQ, 1).await;
    bus
}

fn runtime(bus: &FakeBus, store: &Arc<SqliteStore>) -> ConsumerRuntime<Arc<SqliteStore>> {
    ConsumerRuntime::new(
        Arc::new(bus.clone()),
        test_config(GROUP, &[TOPIC], DlqRouting::to_topic(DLQ)),
        Arc::clone(store),
    )
}

fn credit(account: &str, amount: i64, event_id: &str) -> Record {
    Record::new(
        Some(account.as_bytes().to_vec()),
        amount.to_string().into_bytes(),
    )
    .with_header(headers::EVENT_ID, event_id)
}

#[tokio::test(start_paused = true)]
async fn same_offset_redelivered_is_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db"));
    let bus = setup().await;
    bus.produce(
        TOPIC,
        vec![credit("alice", 10, "e1"), credit("alice", 5, "e2")],
    )
    .await
    .unwrap();
    let batch = bus.messages(TOPIC);
    assert_eq!(store.apply_batch(&batch).unwrap(), vec![true, true]);
    assert_eq!(store.apply_batch(&batch).unwrap(), vec![false, false]);
    assert_eq!(store.balance("alice"), 15);
}

#[tokio::test(start_paused = true)]
async fn crash_between_store_commit_and_bus_commit_skips_the_redelivery() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db"));
    let bus = setup().await;
    bus.produce(
        TOPIC,
        vec![
            credit("alice", 10, "e1"),
            credit("bob", 7, "e2"),
            credit("alice", 1, "e3"),
        ],
    )
    .await
    .unwrap();

    // The store commits, then the bus commit fails: the runtime stops with an error.
    bus.fail_commits(true);
    let error = runtime(&bus, &store)
        .run(std::future::pending())
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("injected commit failure"),
        "{error}"
    );
    // The first batch (one message per key: alice@0, bob@1) is in the store.
    assert_eq!(store.balance("alice"), 10);
    assert_eq!(store.balance("bob"), 7);
    assert_eq!(bus.committed(GROUP, TOPIC, 0), None);

    // Restart: everything is redelivered, recognised, skipped.
    bus.fail_commits(false);
    let before = store.deliveries.load(Ordering::Relaxed);
    let running = Running::spawn(runtime(&bus, &store));
    wait_until("redelivered", || {
        running.stats.snapshot().messages_done_total == 3
    })
    .await;
    running.stop().await;
    // alice@0 and bob@1 redelivered and skipped, alice@2 applied.
    assert_eq!(
        store.deliveries.load(Ordering::Relaxed) - before,
        3,
        "not redelivered"
    );
    assert_eq!(store.balance("alice"), 11);
    assert_eq!(store.balance("bob"), 7);
    assert_eq!(bus.committed(GROUP, TOPIC, 0), Some(3));
}

#[tokio::test(start_paused = true)]
async fn same_event_id_at_another_offset_is_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db"));
    let bus = setup().await;
    // A producer retry wrote the same event twice.
    bus.produce(
        TOPIC,
        vec![credit("carol", 100, "dup"), credit("carol", 100, "dup")],
    )
    .await
    .unwrap();
    let running = Running::spawn(runtime(&bus, &store));
    wait_until("both done", || {
        running.stats.snapshot().messages_done_total == 2
    })
    .await;
    running.stop().await;
    assert_eq!(store.balance("carol"), 100);
    assert_eq!(bus.committed(GROUP, TOPIC, 0), Some(2));
}

#[tokio::test(start_paused = true)]
async fn store_failure_before_commit_is_retried_and_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db"));
    store.fail_before_commit.store(2, Ordering::Relaxed);
    let bus = setup().await;
    bus.produce(TOPIC, vec![credit("dave", 3, "d1")])
        .await
        .unwrap();
    let running = Running::spawn(runtime(&bus, &store));
    wait_until("done", || running.stats.snapshot().messages_done_total == 1).await;
    let summary = running.stop().await;
    assert_eq!(summary.stats.retries_total, 2);
    assert_eq!(store.balance("dave"), 3);
}

#[tokio::test(start_paused = true)]
async fn runtime_resumes_from_the_store_position() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db"));
    let bus = setup().await;
    let records: Vec<Record> = (0..5)
        .map(|i| credit("erin", 1, &format!("e{i}")))
        .collect();
    bus.produce(TOPIC, records.clone()).await.unwrap();
    let running = Running::spawn(runtime(&bus, &store).with_position_store(store.clone()));
    wait_until("done", || running.stats.snapshot().messages_done_total == 5).await;
    running.stop().await;

    // A bus that kept no position for the group (SQS, a new cluster) holding the same
    // messages: the runtime seeks to the store's position and delivers none of them again.
    let fresh = setup().await;
    fresh.produce(TOPIC, records).await.unwrap();
    fresh
        .produce(TOPIC, vec![credit("erin", 1, "e5")])
        .await
        .unwrap();
    let before = store.deliveries.load(Ordering::Relaxed);
    let running = Running::spawn(runtime(&fresh, &store).with_position_store(store.clone()));
    wait_until("new one done", || {
        running.stats.snapshot().messages_done_total == 1
    })
    .await;
    running.stop().await;
    assert_eq!(store.deliveries.load(Ordering::Relaxed) - before, 1);
    assert_eq!(store.balance("erin"), 6);
    assert_eq!(fresh.committed(GROUP, TOPIC, 0), Some(6));
}
