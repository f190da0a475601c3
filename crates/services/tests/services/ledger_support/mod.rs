//! Shared helpers of the ledger's integration tests: banking event builders, bus messages,
//! and a macro that runs a test case against SQLite and PostgreSQL.

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, Duration, TimeZone, Utc};
use edalab_bus::port::Message;
use edalab_domain::events::{
    AccountClosed, AccountOpened, AccountType, BankingEvent, Channel, DepositMade, PremiumPaid,
    TransferIssued, TransferReceived, TransferStatus, WithdrawalMade,
};
use edalab_schema::{SchemaCatalog, encode_banking};
use rust_decimal::Decimal;
use uuid::Uuid;

static NEXT: AtomicU64 = AtomicU64::new(1);

pub fn catalog() -> Arc<SchemaCatalog> {
    Arc::new(SchemaCatalog::builtin().unwrap())
}

fn next_id() -> Uuid {
    Uuid::now_v7()
}

fn now() -> DateTime<Utc> {
    let n = NEXT.fetch_add(1, Ordering::Relaxed) as i64;
    Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap() + Duration::milliseconds(n)
}

pub fn dec(s: &str) -> Decimal {
    Decimal::from_str(s).unwrap()
}

pub fn open(account: &str, client: &str, balance: &str) -> BankingEvent {
    open_in(account, client, balance, "EUR")
}

pub fn open_in(account: &str, client: &str, balance: &str, currency: &str) -> BankingEvent {
    let mut metadata = std::collections::BTreeMap::new();
    metadata.insert(
        "iban".to_owned(),
        format!("FR76300060000112345678901{:02}", account.len()),
    );
    BankingEvent::AccountOpened(AccountOpened {
        event_id: next_id(),
        timestamp: now(),
        account_id: account.to_owned(),
        client_id: client.to_owned(),
        account_type: AccountType::Current,
        currency: currency.to_owned(),
        initial_balance: dec(balance),
        metadata: Some(metadata),
    })
}

pub fn deposit(account: &str, amount: &str) -> BankingEvent {
    deposit_in(account, amount, "EUR")
}

pub fn deposit_in(account: &str, amount: &str, currency: &str) -> BankingEvent {
    BankingEvent::DepositMade(DepositMade {
        event_id: next_id(),
        timestamp: now(),
        account_id: account.to_owned(),
        amount: dec(amount),
        currency: currency.to_owned(),
        reference: format!("DEP-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        channel: Channel::Counter,
        metadata: None,
    })
}

pub fn withdraw(account: &str, amount: &str) -> BankingEvent {
    BankingEvent::WithdrawalMade(WithdrawalMade {
        event_id: next_id(),
        timestamp: now(),
        account_id: account.to_owned(),
        amount: dec(amount),
        currency: "EUR".to_owned(),
        reference: format!("RET-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        channel: Channel::Card,
        metadata: None,
    })
}

pub fn transfer(source: &str, destination: &str, amount: &str) -> BankingEvent {
    BankingEvent::TransferIssued(TransferIssued {
        event_id: next_id(),
        timestamp: now(),
        source_account_id: source.to_owned(),
        destination_account_id: destination.to_owned(),
        amount: dec(amount),
        currency: "EUR".to_owned(),
        label: "loyer".to_owned(),
        reference: format!("VIR-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        status: TransferStatus::Initiated,
        metadata: None,
    })
}

pub fn received(destination: &str, amount: &str, issued: Option<Uuid>) -> BankingEvent {
    BankingEvent::TransferReceived(TransferReceived {
        event_id: next_id(),
        timestamp: now(),
        destination_account_id: destination.to_owned(),
        source_account_id: "FR7612345678901234567890123".to_owned(),
        amount: dec(amount),
        currency: "EUR".to_owned(),
        label: "salaire".to_owned(),
        reference: format!("VIR-IN-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        issued_event_id: issued,
        metadata: None,
    })
}

pub fn premium(account: &str, amount: &str) -> BankingEvent {
    BankingEvent::PremiumPaid(PremiumPaid {
        event_id: next_id(),
        timestamp: now(),
        account_id: account.to_owned(),
        contract_id: "CTR-1".to_owned(),
        amount: dec(amount),
        currency: "EUR".to_owned(),
        reference: format!("PRM-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
        metadata: None,
    })
}

pub fn close(account: &str) -> BankingEvent {
    BankingEvent::AccountClosed(AccountClosed {
        event_id: next_id(),
        timestamp: now(),
        account_id: account.to_owned(),
        client_id: "CLI".to_owned(),
        reason: "demande client".to_owned(),
        metadata: None,
    })
}

/// The message carrying `event` at `offset` of partition 0 of its topic.
pub fn message(catalog: &SchemaCatalog, event: &BankingEvent, offset: u64) -> Message {
    Message {
        topic: Arc::from(event.topic()),
        partition: 0,
        offset,
        key: Some(event.key().as_bytes().to_vec()),
        value: encode_banking(catalog, event).unwrap(),
        headers: vec![(
            "event_id".to_owned(),
            event.event_id().to_string().into_bytes(),
        )],
        timestamp_ms: event.timestamp().timestamp_millis(),
    }
}

/// Messages for `events`, offsets counted per topic from `first_offset`.
pub fn messages(catalog: &SchemaCatalog, events: &[BankingEvent]) -> Vec<Message> {
    let mut offsets = std::collections::HashMap::<&str, u64>::new();
    events
        .iter()
        .map(|e| {
            let offset = offsets.entry(e.topic()).or_default();
            let m = message(catalog, e, *offset);
            *offset += 1;
            m
        })
        .collect()
}

/// Runs each `async fn case(store: Arc<dyn LedgerStore>)` on SQLite and on PostgreSQL.
#[macro_export]
macro_rules! ledger_suite {
    ($($case:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $case() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = edalab_store::testing::sqlite_store(dir.path()).await.unwrap();
                    super::$case(std::sync::Arc::new(store)).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let Some(url) = edalab_store::testing::postgres_url_or_skip(
                        concat!(module_path!(), "::", stringify!($case)),
                    ) else {
                        return;
                    };
                    let db = edalab_store::testing::TestDatabase::create(&url).await.unwrap();
                    let store = db.store().await.unwrap();
                    super::$case(std::sync::Arc::new(store.clone())).await;
                    store.close().await;
                }
            )+
        }
    };
}
