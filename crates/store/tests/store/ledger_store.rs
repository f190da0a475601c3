//! The `LedgerStore` contract, run against both stores: SQLite (a fresh file per test)
//! and PostgreSQL (a fresh database per test; skipped, loudly, only when
//! `EDALAB_TEST_POSTGRES_URL` is unset).

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use edalab_domain::Currency;
use edalab_domain::ledger::{
    Account, AccountId, AccountRecord, AccountStatus, AccountType, ClientId, LedgerTransaction,
    Reference, TransactionId, TransactionKind, TransactionRecord,
};
use edalab_store::{
    AccountWrite, AppliedBatch, InboxEntry, InboxOutcome, LedgerStore, OutboxMessage,
    PositionUpdate, StoreError, TransactionLimit,
};
use rust_decimal::Decimal;
use uuid::Uuid;

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, second).unwrap()
}

fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

fn account(id: &str, client: &str, balance: &str, status: AccountStatus) -> Account {
    Account::restore(AccountRecord {
        id: AccountId::parse(id).unwrap(),
        client_id: ClientId::parse(client).unwrap(),
        account_type: AccountType::Current,
        currency: Currency::EUR,
        balance: dec(balance),
        status,
        created_at: at(0),
        updated_at: at(1),
    })
    .unwrap()
}

fn tx(
    n: u128,
    account: &str,
    kind: TransactionKind,
    amount: &str,
    second: u32,
) -> LedgerTransaction {
    LedgerTransaction::restore(TransactionRecord {
        id: TransactionId(Uuid::from_u128(n)),
        account_id: AccountId::parse(account).unwrap(),
        kind,
        amount: dec(amount),
        currency: Currency::EUR,
        reference: Some(Reference::parse(format!("REF-{n}")).unwrap()),
        created_at: at(second),
    })
    .unwrap()
}

fn inbox(n: u128, offset: u64, outcome: InboxOutcome) -> InboxEntry {
    InboxEntry {
        event_id: Uuid::from_u128(1_000_000 + n),
        topic: "bancaire.depot.effectue".to_owned(),
        partition: 1,
        offset,
        outcome,
    }
}

fn new_account(a: Account, iban: Option<&str>) -> AccountWrite {
    AccountWrite {
        account: a,
        iban: iban.map(str::to_owned),
        expected_version: None,
    }
}

fn id(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

async fn seed(store: &dyn LedgerStore) {
    store
        .apply_batch(AppliedBatch {
            accounts: vec![
                new_account(
                    account("A", "C1", "150.00", AccountStatus::Active),
                    Some("FR7630006000011234567890189"),
                ),
                new_account(account("B", "C1", "0.50", AccountStatus::Active), None),
                new_account(account("Z", "C2", "0", AccountStatus::Closed), None),
            ],
            transactions: vec![
                tx(1, "A", TransactionKind::Deposit, "100.00", 1),
                tx(2, "A", TransactionKind::Deposit, "100.00", 1),
                tx(3, "A", TransactionKind::TransferOut, "50.00", 1),
                tx(4, "B", TransactionKind::TransferIn, "0.50", 1),
            ],
            inbox: vec![
                inbox(1, 10, InboxOutcome::Applied),
                inbox(
                    2,
                    11,
                    InboxOutcome::Rejected {
                        code: "INSUFFICIENT_FUNDS".to_owned(),
                    },
                ),
            ],
            positions: vec![PositionUpdate {
                group: "ledger".to_owned(),
                topic: "bancaire.depot.effectue".to_owned(),
                partition: 1,
                next_offset: 12,
            }],
            outbox: vec![OutboxMessage {
                topic: "bancaire.operation.rejetee".to_owned(),
                key: Some(b"A".to_vec()),
                payload: vec![0, 1, 2],
                headers: vec![("event_id".to_owned(), b"x".to_vec())],
            }],
        })
        .await
        .unwrap();
}

async fn batch_round_trip(store: &dyn LedgerStore) {
    seed(store).await;
    let a = store.account(&id("A")).await.unwrap().unwrap();
    assert_eq!(a.account.balance().amount(), dec("150.00"));
    assert_eq!(a.account.client_id().as_str(), "C1");
    assert_eq!(a.account.created_at(), at(0));
    assert_eq!(a.iban.as_deref(), Some("FR7630006000011234567890189"));
    assert_eq!(a.version, 1);
    let b = store.account(&id("B")).await.unwrap().unwrap();
    assert_eq!(b.account.balance().amount(), dec("0.50"));
    assert!(store.account(&id("nope")).await.unwrap().is_none());

    let counts = store.counts().await.unwrap();
    assert_eq!(
        (
            counts.accounts,
            counts.transactions,
            counts.inbox_applied,
            counts.inbox_rejected,
            counts.outbox_pending
        ),
        (3, 4, 1, 1, 1)
    );
    let positions = store.positions("ledger").await.unwrap();
    assert_eq!(positions.len(), 1);
    assert_eq!(positions[0].next_offset, 12);
    assert!(store.positions("other").await.unwrap().is_empty());
    let decided = store.decided_events().await.unwrap();
    assert_eq!(decided.len(), 2);
    assert_eq!(decided[0].event_id, Uuid::from_u128(1_000_001));
    assert_eq!(
        decided[1].outcome,
        InboxOutcome::Rejected {
            code: "INSUFFICIENT_FUNDS".to_owned()
        }
    );
    store.health().await.unwrap();
}

async fn transactions_newest_first_with_limit(store: &dyn LedgerStore) {
    seed(store).await;
    let all = store
        .transactions(&id("A"), TransactionLimit::parse(1000).unwrap())
        .await
        .unwrap();
    let ids: Vec<u128> = all.iter().map(|t| t.id().0.as_u128()).collect();
    assert_eq!(ids, vec![3, 2, 1], "newest (last applied) first");
    assert_eq!(all[0].kind(), TransactionKind::TransferOut);
    assert_eq!(all[0].amount().amount(), dec("50.00"));
    assert_eq!(all[0].reference().unwrap().as_str(), "REF-3");
    let two = store
        .transactions(&id("A"), TransactionLimit::parse(2).unwrap())
        .await
        .unwrap();
    assert_eq!(two.len(), 2);
    assert!(
        store
            .transactions(&id("nope"), TransactionLimit::default())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn accounts_of_client(store: &dyn LedgerStore) {
    seed(store).await;
    let c1 = store
        .accounts_of_client(&ClientId::parse("C1").unwrap())
        .await
        .unwrap();
    let ids: Vec<&str> = c1.iter().map(|s| s.account.id().as_str()).collect();
    assert_eq!(ids, vec!["A", "B"]);
    assert!(
        store
            .accounts_of_client(&ClientId::parse("C9").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
}

async fn dedup_lookup(store: &dyn LedgerStore) {
    seed(store).await;
    let found = store
        .applied_event_ids(&[
            Uuid::from_u128(1_000_001),
            Uuid::from_u128(1_000_002),
            Uuid::from_u128(7),
        ])
        .await
        .unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.contains(&Uuid::from_u128(1_000_002)));
    // Many ids in one call (more than one IN-list chunk).
    let many: Vec<Uuid> = (0..1_200u128)
        .map(|n| Uuid::from_u128(1_000_000 + n))
        .collect();
    assert_eq!(store.applied_event_ids(&many).await.unwrap().len(), 2);
}

async fn the_same_event_twice_is_a_conflict_and_nothing_is_written(store: &dyn LedgerStore) {
    seed(store).await;
    let loaded = store.load_accounts(&[id("A")]).await.unwrap();
    let a = loaded.accounts[&id("A")].clone();
    let err = store
        .apply_batch(AppliedBatch {
            accounts: vec![AccountWrite {
                account: a,
                iban: None,
                expected_version: loaded.version_of(&id("A")),
            }],
            transactions: vec![tx(50, "A", TransactionKind::Deposit, "1.00", 2)],
            inbox: vec![inbox(1, 99, InboxOutcome::Applied)],
            ..AppliedBatch::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(err.is_transient());
    let counts = store.counts().await.unwrap();
    assert_eq!(counts.transactions, 4, "rolled back");
    assert_eq!(store.account(&id("A")).await.unwrap().unwrap().version, 1);
}

async fn stale_version_is_a_conflict(store: &dyn LedgerStore) {
    seed(store).await;
    let loaded = store
        .load_accounts(&[id("A"), id("B"), id("nope")])
        .await
        .unwrap();
    assert_eq!(loaded.accounts.len(), 2);
    assert_eq!(loaded.version_of(&id("A")), Some(1));
    assert_eq!(loaded.version_of(&id("nope")), None);
    let write = |expected| AccountWrite {
        account: account("A", "C1", "10.00", AccountStatus::Active),
        iban: None,
        expected_version: expected,
    };
    // First writer wins: version 1 → 2, and the IBAN is kept.
    store
        .apply_batch(AppliedBatch {
            accounts: vec![write(Some(1))],
            ..Default::default()
        })
        .await
        .unwrap();
    let a = store.account(&id("A")).await.unwrap().unwrap();
    assert_eq!((a.version, a.account.balance().amount()), (2, dec("10.00")));
    assert!(a.iban.is_some());
    // A second writer that read version 1 loses, and its whole batch is rolled back.
    let err = store
        .apply_batch(AppliedBatch {
            accounts: vec![write(Some(1))],
            inbox: vec![inbox(77, 1, InboxOutcome::Applied)],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert!(
        store
            .applied_event_ids(&[Uuid::from_u128(1_000_077)])
            .await
            .unwrap()
            .is_empty()
    );
    // Inserting an account that exists is a conflict too.
    let err = store
        .apply_batch(AppliedBatch {
            accounts: vec![write(None)],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
}

async fn positions_only_move_forward(store: &dyn LedgerStore) {
    let position = |next_offset| PositionUpdate {
        group: "g".to_owned(),
        topic: "t".to_owned(),
        partition: 0,
        next_offset,
    };
    for offset in [5, 3, 9] {
        store
            .apply_batch(AppliedBatch {
                positions: vec![position(offset)],
                ..Default::default()
            })
            .await
            .unwrap();
    }
    assert_eq!(store.positions("g").await.unwrap()[0].next_offset, 9);
}

async fn outbox_in_order_and_delete(store: &dyn LedgerStore) {
    seed(store).await;
    let more: Vec<OutboxMessage> = (0..3u8)
        .map(|n| OutboxMessage {
            topic: "t".to_owned(),
            key: None,
            payload: vec![n],
            headers: Vec::new(),
        })
        .collect();
    store
        .apply_batch(AppliedBatch {
            outbox: more,
            ..Default::default()
        })
        .await
        .unwrap();
    let pending = store.pending_outbox(10).await.unwrap();
    assert_eq!(pending.len(), 4);
    assert_eq!(
        pending[0].message.headers,
        vec![("event_id".to_owned(), b"x".to_vec())]
    );
    assert_eq!(pending[0].message.key.as_deref(), Some(&b"A"[..]));
    let payloads: Vec<Vec<u8>> = pending[1..]
        .iter()
        .map(|p| p.message.payload.clone())
        .collect();
    assert_eq!(payloads, vec![vec![0], vec![1], vec![2]]);
    assert_eq!(store.pending_outbox(2).await.unwrap().len(), 2);
    store
        .delete_outbox(&[pending[0].id, pending[1].id])
        .await
        .unwrap();
    let left = store.pending_outbox(10).await.unwrap();
    assert_eq!(left.len(), 2);
    assert_eq!(left[0].message.payload, vec![1]);
}

async fn balances_and_recomputation(store: &dyn LedgerStore) {
    seed(store).await;
    let balances = store.all_balances().await.unwrap();
    assert_eq!(balances.len(), 3);
    assert_eq!(balances[&id("A")].amount(), dec("150.00"));
    let totals = store.recompute_balances_from_transactions().await.unwrap();
    assert_eq!(totals[&id("A")].balance, dec("150.00"));
    assert_eq!(totals[&id("A")].transaction_count, 3);
    assert_eq!(totals[&id("B")].balance, dec("0.50"));
    assert!(!totals.contains_key(&id("Z")));
    let sums = store.transaction_sums().await.unwrap();
    let deposit = sums
        .iter()
        .find(|s| s.kind == TransactionKind::Deposit)
        .unwrap();
    assert_eq!((deposit.total, deposit.count), (dec("200.00"), 2));
}

async fn large_batch_uses_many_statements(store: &dyn LedgerStore) {
    // 1 050 accounts and 2 100 transactions: several 100-row statements per table.
    let accounts: Vec<AccountWrite> = (0..1_050)
        .map(|n| {
            new_account(
                account(
                    &format!("ACC-{n:05}"),
                    "BIG",
                    "20.00",
                    AccountStatus::Active,
                ),
                None,
            )
        })
        .collect();
    let transactions: Vec<LedgerTransaction> = (0..2_100u128)
        .map(|n| {
            tx(
                10_000 + n,
                &format!("ACC-{:05}", n / 2),
                TransactionKind::Deposit,
                "10.00",
                2,
            )
        })
        .collect();
    let inbox_rows: Vec<InboxEntry> = (0..2_100u128)
        .map(|n| inbox(n, n as u64, InboxOutcome::Applied))
        .collect();
    store
        .apply_batch(AppliedBatch {
            accounts,
            transactions,
            inbox: inbox_rows,
            ..Default::default()
        })
        .await
        .unwrap();
    let counts = store.counts().await.unwrap();
    assert_eq!(
        (counts.accounts, counts.transactions, counts.inbox_applied),
        (1_050, 2_100, 2_100)
    );
    let ids: Vec<AccountId> = (0..1_050).map(|n| id(&format!("ACC-{n:05}"))).collect();
    assert_eq!(
        store.load_accounts(&ids).await.unwrap().accounts.len(),
        1_050
    );
    let totals = store.recompute_balances_from_transactions().await.unwrap();
    assert!(
        totals
            .values()
            .all(|t| t.balance == dec("20.00") && t.transaction_count == 2)
    );
    assert_eq!(
        store
            .accounts_of_client(&ClientId::parse("BIG").unwrap())
            .await
            .unwrap()
            .len(),
        1_050
    );
}

/// Instantiates each case once per store.
macro_rules! store_suite {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = edalab_store::testing::sqlite_store(dir.path()).await.unwrap();
                    super::$case(&store).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(url) = edalab_store::testing::postgres_url_or_skip(concat!("postgres::", stringify!($case))) else {
                        return;
                    };
                    let db = edalab_store::testing::TestDatabase::create(&url).await.unwrap();
                    let store = db.store().await.unwrap();
                    super::$case(&store).await;
                    store.close().await;
                }
            )+
        }
    };
}

store_suite!(
    batch_round_trip,
    transactions_newest_first_with_limit,
    accounts_of_client,
    dedup_lookup,
    the_same_event_twice_is_a_conflict_and_nothing_is_written,
    stale_version_is_a_conflict,
    positions_only_move_forward,
    outbox_in_order_and_delete,
    balances_and_recomputation,
    large_batch_uses_many_statements,
);

#[tokio::test]
async fn sqlite_reopen_keeps_data_and_runs_migrations_once() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = edalab_store::testing::sqlite_store(dir.path())
            .await
            .unwrap();
        seed(&store).await;
    }
    let store = edalab_store::testing::sqlite_store(dir.path())
        .await
        .unwrap();
    assert_eq!(store.counts().await.unwrap().accounts, 3);
    store.checkpoint().await.unwrap();
}

#[tokio::test]
async fn postgres_unreachable_is_transient() {
    let err = edalab_store::postgres::PgLedgerStore::connect(&edalab_store::postgres::PgConfig {
        url: "postgres://postgres@127.0.0.1:1/postgres".to_owned(),
        connections_max: 1,
        acquire_timeout_ms: 500,
    })
    .await
    .unwrap_err();
    assert!(err.is_transient(), "{err:?}");
}

/// After a burst of writes (a replay), the WAL file shrinks back to `wal_size_bytes_max`
/// instead of keeping the largest size it reached: a restart after a full disk needs only
/// that much room (ADR 020).
#[tokio::test]
async fn sqlite_wal_shrinks_back_after_a_burst() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let mut config = edalab_store::sqlite::SqliteConfig::new(&path);
    config.wal_autocheckpoint_pages = 64;
    config.wal_size_bytes_max = 256 << 10;
    let store = edalab_store::sqlite::SqliteLedgerStore::open(config)
        .await
        .unwrap();
    let wal = dir.path().join("ledger.db-wal");
    let mut largest_bytes = 0;
    for round in 0..6u128 {
        let accounts: Vec<AccountWrite> = (0..400)
            .map(|n| {
                let a = account(
                    &format!("ACC-{round}-{n:05}"),
                    "BURST",
                    "20.00",
                    AccountStatus::Active,
                );
                new_account(a, None)
            })
            .collect();
        let transactions: Vec<LedgerTransaction> = (0..800u128)
            .map(|n| {
                let account = format!("ACC-{round}-{:05}", n / 2);
                tx(
                    100_000 * (round + 1) + n,
                    &account,
                    TransactionKind::Deposit,
                    "1.00",
                    2,
                )
            })
            .collect();
        let inbox_rows: Vec<InboxEntry> = (0..800u128)
            .map(|n| {
                let k = 100_000 * (round + 1) + n;
                inbox(k, k as u64, InboxOutcome::Applied)
            })
            .collect();
        store
            .apply_batch(AppliedBatch {
                accounts,
                transactions,
                inbox: inbox_rows,
                ..Default::default()
            })
            .await
            .unwrap();
        largest_bytes = largest_bytes.max(std::fs::metadata(&wal).unwrap().len());
    }
    assert!(
        largest_bytes > 256 << 10,
        "a batch grows the WAL past the limit ({largest_bytes} bytes)"
    );
    // A small write after the automatic checkpoint restarts the WAL, cut to the limit
    // (without `journal_size_limit` it would keep `largest_bytes`).
    let small = new_account(
        account("ACC-SMALL", "BURST", "1.00", AccountStatus::Active),
        None,
    );
    store
        .apply_batch(AppliedBatch {
            accounts: vec![small],
            ..Default::default()
        })
        .await
        .unwrap();
    let after = std::fs::metadata(&wal).unwrap().len();
    assert!(
        after <= 256 << 10,
        "WAL still {after} bytes (largest {largest_bytes})"
    );
    assert_eq!(store.counts().await.unwrap().accounts, 2_401);
}
