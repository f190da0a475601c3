//! The ledger's batch handler on both stores: every handler and refusal (S3-09),
//! idempotence, per-account order, rejection events through the outbox, DLQ and
//! retry outcomes, and reconciliation.

use crate::ledger_support;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use edalab_bus::port::{BusError, Delivery, Message, Producer, Record};
use edalab_bus::runtime::{BatchHandler, Outcome};
use edalab_domain::events::{BankingEvent, RejectionCode};
use edalab_domain::ledger::{AccountId, AccountStatus, TransactionKind};
use edalab_schema::decode_banking;
use edalab_services::ledger::{LedgerHandler, Mismatch, OutboxPublisher, reconcile};
use edalab_store::{LedgerStore, TransactionLimit};
use ledger_support::*;

fn id(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

struct Ledger {
    store: Arc<dyn LedgerStore>,
    handler: LedgerHandler,
    catalog: Arc<edalab_schema::SchemaCatalog>,
    /// Every message handed to the handler, for the reconciliation.
    log: Vec<Message>,
    offsets: BTreeMap<String, u64>,
}

impl Ledger {
    fn new(store: Arc<dyn LedgerStore>) -> Self {
        let catalog = catalog();
        Self {
            handler: LedgerHandler::new(Arc::clone(&store), Arc::clone(&catalog)),
            store,
            catalog,
            log: Vec::new(),
            offsets: BTreeMap::new(),
        }
    }

    fn next_messages(&mut self, events: &[BankingEvent]) -> Vec<Message> {
        events
            .iter()
            .map(|e| {
                let offset = self.offsets.entry(e.topic().to_owned()).or_default();
                let m = message(&self.catalog, e, *offset);
                *offset += 1;
                m
            })
            .collect()
    }

    async fn handle_messages(&mut self, batch: Vec<Message>) -> Vec<Outcome> {
        let outcomes = self.handler.handle(&batch).await;
        assert_eq!(outcomes.len(), batch.len());
        self.log.extend(batch);
        outcomes
    }

    async fn handle(&mut self, events: &[BankingEvent]) -> Vec<Outcome> {
        let batch = self.next_messages(events);
        self.handle_messages(batch).await
    }

    async fn balance(&self, account: &str) -> rust_decimal::Decimal {
        self.store
            .account(&id(account))
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("account {account} missing"))
            .account
            .balance()
            .amount()
    }

    async fn rejections(&self) -> Vec<edalab_domain::events::OperationRejected> {
        self.store
            .pending_outbox(1_000)
            .await
            .unwrap()
            .into_iter()
            .map(|p| {
                assert_eq!(p.message.topic, "bancaire.operation.rejetee");
                match decode_banking(&self.catalog, &p.message.topic, &p.message.payload).unwrap() {
                    BankingEvent::OperationRejected(r) => r,
                    other => panic!("not a rejection: {other:?}"),
                }
            })
            .collect()
    }

    async fn assert_reconciles(&self) {
        let report = reconcile(&*self.store, &self.catalog, &self.log)
            .await
            .unwrap();
        assert!(report.is_ok(), "{:#?}", report.mismatches);
    }
}

fn all_done(outcomes: &[Outcome]) -> bool {
    outcomes.iter().all(|o| *o == Outcome::Done)
}

async fn open_deposit_withdraw_premium(store: Arc<dyn LedgerStore>) {
    let mut ledger = Ledger::new(store);
    let outcomes = ledger
        .handle(&[open("A", "C1", "100.00"), open("B", "C1", "0")])
        .await;
    assert!(all_done(&outcomes), "{outcomes:?}");
    assert_eq!(ledger.balance("A").await, dec("100.00"));
    assert_eq!(ledger.balance("B").await, dec("0"));
    let a = ledger.store.account(&id("A")).await.unwrap().unwrap();
    assert!(a.iban.as_deref().unwrap().starts_with("FR76"));
    assert_eq!(a.account.status(), AccountStatus::Active);
    // Initial transaction only when the initial balance is > 0.
    let a_txs = ledger
        .store
        .transactions(&id("A"), TransactionLimit::default())
        .await
        .unwrap();
    assert_eq!(a_txs.len(), 1);
    assert_eq!(a_txs[0].kind(), TransactionKind::Deposit);
    assert!(
        ledger
            .store
            .transactions(&id("B"), TransactionLimit::default())
            .await
            .unwrap()
            .is_empty()
    );

    let outcomes = ledger
        .handle(&[
            deposit("A", "50.25"),
            withdraw("A", "20.00"),
            premium("B", "10.00"),
        ])
        .await;
    assert!(all_done(&outcomes), "{outcomes:?}");
    assert_eq!(ledger.balance("A").await, dec("130.25"));
    assert_eq!(ledger.balance("B").await, dec("10.00"));
    let kinds: Vec<TransactionKind> = ledger
        .store
        .transactions(&id("A"), TransactionLimit::default())
        .await
        .unwrap()
        .iter()
        .map(|t| t.kind())
        .collect();
    assert_eq!(
        kinds,
        vec![
            TransactionKind::Withdrawal,
            TransactionKind::Deposit,
            TransactionKind::Deposit
        ]
    );
    let counters = ledger.handler.counters().snapshot();
    assert_eq!((counters.applied_total, counters.rejected_total), (5, 0));
    ledger.assert_reconciles().await;
}

async fn transfers_move_both_sides_once(store: Arc<dyn LedgerStore>) {
    let mut ledger = Ledger::new(store);
    ledger
        .handle(&[open("A", "C1", "100.00"), open("B", "C2", "5.00")])
        .await;
    let issued = transfer("A", "B", "40.00");
    let issued_id = issued.event_id();
    assert!(all_done(&ledger.handle(&[issued]).await));
    // The credit side of an internal transfer changes nothing; an external one credits.
    assert!(all_done(
        &ledger
            .handle(&[received("B", "40.00", Some(issued_id))])
            .await
    ));
    assert_eq!(
        (ledger.balance("A").await, ledger.balance("B").await),
        (dec("60.00"), dec("45.00"))
    );
    assert!(all_done(
        &ledger.handle(&[received("B", "1.00", None)]).await
    ));
    assert_eq!(ledger.balance("B").await, dec("46.00"));
    let b_txs = ledger
        .store
        .transactions(&id("B"), TransactionLimit::default())
        .await
        .unwrap();
    assert!(
        b_txs
            .iter()
            .any(|t| t.kind() == TransactionKind::TransferIn)
    );
    ledger.assert_reconciles().await;
}

async fn every_refusal_is_a_rejection_event(store: Arc<dyn LedgerStore>) {
    let mut ledger = Ledger::new(store);
    ledger
        .handle(&[
            open("A", "C1", "100.00"),
            open("B", "C1", "0"),
            open("E", "C1", "0"),
        ])
        .await;
    ledger.handle(&[close("E")]).await; // E: closed (balance zero)
    let cases: Vec<(BankingEvent, &str, RejectionCode)> = vec![
        (
            withdraw("A", "100.01"),
            "INSUFFICIENT_FUNDS",
            RejectionCode::InsufficientFunds,
        ),
        (
            transfer("A", "B", "500.00"),
            "INSUFFICIENT_FUNDS",
            RejectionCode::InsufficientFunds,
        ),
        (
            deposit("NOPE", "1.00"),
            "UNKNOWN_ACCOUNT",
            RejectionCode::AccountNotFound,
        ),
        (
            transfer("NOPE", "A", "1.00"),
            "UNKNOWN_ACCOUNT",
            RejectionCode::AccountNotFound,
        ),
        (
            transfer("A", "NOPE", "1.00"),
            "UNKNOWN_ACCOUNT",
            RejectionCode::AccountNotFound,
        ),
        (
            deposit("E", "1.00"),
            "ACCOUNT_CLOSED",
            RejectionCode::AccountClosed,
        ),
        (
            transfer("A", "E", "1.00"),
            "ACCOUNT_CLOSED",
            RejectionCode::AccountClosed,
        ),
        (close("E"), "ACCOUNT_CLOSED", RejectionCode::AccountClosed),
        (
            deposit_in("A", "1.00", "USD"),
            "CURRENCY_MISMATCH",
            RejectionCode::CurrencyMismatch,
        ),
        (
            deposit("A", "0"),
            "NON_POSITIVE_AMOUNT",
            RejectionCode::InvalidAmount,
        ),
        (
            withdraw("A", "-5.00"),
            "NON_POSITIVE_AMOUNT",
            RejectionCode::InvalidAmount,
        ),
        (
            open("N", "C1", "-1.00"),
            "NEGATIVE_INITIAL_BALANCE",
            RejectionCode::InvalidAmount,
        ),
        (
            open("A", "OTHER", "0"),
            "ACCOUNT_ALREADY_EXISTS",
            RejectionCode::AccountAlreadyExists,
        ),
        (
            transfer("A", "A", "1.00"),
            "SAME_ACCOUNT",
            RejectionCode::Other,
        ),
        (close("A"), "NON_ZERO_BALANCE", RejectionCode::Other),
        (
            deposit("A", "9999999999999999.00"),
            "BALANCE_LIMIT_EXCEEDED",
            RejectionCode::InvalidAmount,
        ),
    ];
    let events: Vec<BankingEvent> = cases.iter().map(|(e, _, _)| e.clone()).collect();
    let outcomes = ledger.handle(&events).await;
    assert!(
        all_done(&outcomes),
        "refusals are Done, not retried: {outcomes:?}"
    );
    // Nothing moved.
    assert_eq!(
        (ledger.balance("A").await, ledger.balance("B").await),
        (dec("100.00"), dec("0"))
    );
    let rejections = ledger.rejections().await;
    assert_eq!(rejections.len(), cases.len());
    for ((event, domain_code, code), rejection) in cases.iter().zip(&rejections) {
        assert_eq!(rejection.original_event_id, event.event_id());
        assert_eq!(rejection.original_event_type, event.event_type());
        assert_eq!(rejection.account_id, event.key());
        assert_eq!(rejection.reason_code, *code, "{domain_code}");
        assert!(
            rejection.message.starts_with(domain_code),
            "{}",
            rejection.message
        );
    }
    // Reopening with the same data is an idempotent no-op, not a refusal.
    assert!(all_done(&ledger.handle(&[open("B", "C1", "0")]).await));
    assert_eq!(ledger.rejections().await.len(), cases.len());
    let counters = ledger.handler.counters().snapshot();
    assert_eq!(counters.rejected_total, cases.len() as u64);
    ledger.assert_reconciles().await;
}

#[derive(Default)]
struct RecordingProducer {
    produced: Mutex<Vec<(String, Record)>>,
}

#[async_trait]
impl Producer for RecordingProducer {
    async fn produce(&self, topic: &str, records: Vec<Record>) -> Result<Vec<Delivery>, BusError> {
        let mut produced = self.produced.lock().unwrap();
        let deliveries = records
            .iter()
            .enumerate()
            .map(|(i, _)| Delivery {
                partition: 0,
                offset: (produced.len() + i) as u64,
            })
            .collect();
        produced.extend(records.into_iter().map(|r| (topic.to_owned(), r)));
        Ok(deliveries)
    }
}

async fn rejections_are_published_from_the_outbox(store: Arc<dyn LedgerStore>) {
    let mut ledger = Ledger::new(Arc::clone(&store));
    ledger.handle(&[open("A", "C1", "1.00")]).await;
    let refused = withdraw("A", "2.00");
    ledger.handle(std::slice::from_ref(&refused)).await;
    let producer = Arc::new(RecordingProducer::default());
    let publisher = OutboxPublisher::new(Arc::clone(&store), producer.clone());
    assert_eq!(publisher.publish_once().await.unwrap(), 1);
    assert_eq!(
        publisher.publish_once().await.unwrap(),
        0,
        "deleted once published"
    );
    let produced = producer.produced.lock().unwrap();
    let (topic, record) = &produced[0];
    assert_eq!(topic, "bancaire.operation.rejetee");
    assert_eq!(record.key.as_deref(), Some(&b"A"[..]));
    let BankingEvent::OperationRejected(rejection) =
        decode_banking(&ledger.catalog, topic, &record.value).unwrap()
    else {
        panic!("not a rejection")
    };
    assert_eq!(rejection.original_event_id, refused.event_id());
    let header = record
        .headers
        .iter()
        .find(|(n, _)| n == "event_id")
        .unwrap();
    assert_eq!(header.1, rejection.event_id.to_string().into_bytes());
}

async fn the_same_event_is_applied_once(store: Arc<dyn LedgerStore>) {
    let mut ledger = Ledger::new(store);
    ledger.handle(&[open("A", "C1", "0")]).await;
    let dep = deposit("A", "10.00");
    // Twice in one batch.
    let outcomes = ledger.handle(&[dep.clone(), dep.clone()]).await;
    assert!(all_done(&outcomes));
    assert_eq!(ledger.balance("A").await, dec("10.00"));
    // Same event_id published again at a new offset.
    assert!(all_done(&ledger.handle(std::slice::from_ref(&dep)).await));
    assert_eq!(ledger.balance("A").await, dec("10.00"));
    // The same offset redelivered (e.g. after a crash before the bus commit).
    let again = ledger.log.last().unwrap().clone();
    assert!(all_done(&ledger.handle_messages(vec![again]).await));
    assert_eq!(ledger.balance("A").await, dec("10.00"));
    // A refused event redelivered is not refused (nor published) twice.
    let refused = withdraw("A", "99.00");
    ledger.handle(std::slice::from_ref(&refused)).await;
    ledger.handle(&[refused]).await;
    assert_eq!(ledger.rejections().await.len(), 1);
    let counters = ledger.handler.counters().snapshot();
    assert_eq!(counters.duplicates_total, 4);
    assert_eq!(ledger.store.counts().await.unwrap().transactions, 1);
    ledger.assert_reconciles().await;
}

async fn a_batch_keeps_per_account_order(store: Arc<dyn LedgerStore>) {
    let mut ledger = Ledger::new(store);
    // In one batch: open, credit, then debit more than the opening balance. Applied in
    // order, every step is accepted; out of order, the withdrawal would bounce.
    let outcomes = ledger
        .handle(&[
            open("A", "C1", "10.00"),
            deposit("A", "90.00"),
            withdraw("A", "95.00"),
            open("B", "C1", "0"),
            transfer("A", "B", "5.00"),
            withdraw("B", "5.00"),
            close("B"),
        ])
        .await;
    assert!(all_done(&outcomes));
    assert!(ledger.rejections().await.is_empty());
    assert_eq!(ledger.balance("A").await, dec("0.00"));
    let b = ledger.store.account(&id("B")).await.unwrap().unwrap();
    assert_eq!(b.account.status(), AccountStatus::Closed);
    // Newest first: the transactions of A in reverse application order.
    let kinds: Vec<&str> = ledger
        .store
        .transactions(&id("A"), TransactionLimit::default())
        .await
        .unwrap()
        .iter()
        .map(|t| t.kind().as_wire())
        .collect();
    assert_eq!(kinds, vec!["VIREMENT_SORTANT", "RETRAIT", "DEPOT", "DEPOT"]);
    ledger.assert_reconciles().await;
}

async fn undecodable_and_invalid_messages_are_rejected(store: Arc<dyn LedgerStore>) {
    let mut ledger = Ledger::new(store);
    let good = open("A", "C1", "1.00");
    let mut batch = ledger.next_messages(&[good]);
    let mut poison = batch[0].clone();
    poison.value = vec![0x42, 1, 2, 3];
    poison.offset = 99;
    let mut wrong_topic = batch[0].clone();
    wrong_topic.topic = Arc::from("bancaire.depot.effectue");
    wrong_topic.offset = 100;
    let bad_currency = ledger.next_messages(&[deposit_in("A", "1.00", "euro")]);
    batch.push(poison);
    batch.push(wrong_topic);
    batch.extend(bad_currency);
    let outcomes = ledger.handle_messages(batch).await;
    assert_eq!(outcomes[0], Outcome::Done);
    for outcome in &outcomes[1..] {
        assert!(matches!(outcome, Outcome::Reject(_)), "{outcomes:?}");
    }
    assert_eq!(ledger.balance("A").await, dec("1.00"));
    assert_eq!(ledger.handler.counters().snapshot().invalid_total, 3);
}

async fn reconciliation_fails_on_a_corrupted_balance(store: Arc<dyn LedgerStore>) {
    let mut ledger = Ledger::new(Arc::clone(&store));
    ledger
        .handle(&[open("A", "C1", "100.00"), open("B", "C2", "0")])
        .await;
    ledger
        .handle(&[transfer("A", "B", "30.00"), deposit("A", "1.00")])
        .await;
    ledger.assert_reconciles().await;
    // Corrupt A's balance behind the ledger's back (a correct version bump, a wrong sum).
    let loaded = store.load_accounts(&[id("A")]).await.unwrap();
    let a = loaded.accounts[&id("A")].clone();
    let mut record = edalab_domain::ledger::AccountRecord::from(a);
    record.balance = dec("71.01");
    let corrupted = edalab_domain::ledger::Account::restore(record).unwrap();
    store
        .apply_batch(edalab_store::AppliedBatch {
            accounts: vec![edalab_store::AccountWrite {
                account: corrupted,
                iban: None,
                expected_version: loaded.version_of(&id("A")),
            }],
            ..Default::default()
        })
        .await
        .unwrap();
    let report = reconcile(&*store, &ledger.catalog, &ledger.log)
        .await
        .unwrap();
    assert!(!report.is_ok());
    assert!(report.mismatches.iter().any(|m| matches!(m,
        Mismatch::BalanceVsTransactions { account_id, stored, .. } if account_id == "A" && *stored == dec("71.01"))));
    assert!(report.mismatches.iter().any(|m| matches!(m,
        Mismatch::BalanceVsReplay { account_id, .. } if account_id == "A")));
    assert!(
        report
            .mismatches
            .iter()
            .any(|m| matches!(m, Mismatch::TotalNotConserved { .. }))
    );
    // An event on the topics that the ledger never applied is reported too.
    let mut log = ledger.log.clone();
    log.extend(ledger.next_messages(&[deposit("B", "1.00")]));
    let report = reconcile(&*store, &ledger.catalog, &log).await.unwrap();
    assert!(
        report
            .mismatches
            .iter()
            .any(|m| matches!(m, Mismatch::EventNotApplied { .. }))
    );
}

ledger_suite!(
    open_deposit_withdraw_premium,
    transfers_move_both_sides_once,
    every_refusal_is_a_rejection_event,
    rejections_are_published_from_the_outbox,
    the_same_event_is_applied_once,
    a_batch_keeps_per_account_order,
    undecodable_and_invalid_messages_are_rejected,
    reconciliation_fails_on_a_corrupted_balance,
);
