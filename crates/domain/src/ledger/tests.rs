use std::collections::HashSet;

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::json;

use super::*;
use crate::money::{Currency, Money};

fn at(second: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_780_000 + second, 0).unwrap()
}

fn eur(amount: Decimal) -> Money {
    Money::new(amount, Currency::EUR).unwrap()
}

fn usd(amount: Decimal) -> Money {
    Money::new(amount, Currency::USD).unwrap()
}

fn id(s: &str) -> AccountId {
    AccountId::parse(s).unwrap()
}

fn reference(s: &str) -> Reference {
    Reference::parse(s).unwrap()
}

fn open(account: &str, initial: Money) -> Command {
    Command::Open {
        account_id: id(account),
        client_id: ClientId::parse("CLI-1").unwrap(),
        account_type: AccountType::Current,
        initial_balance: initial,
        reference: Some(reference("OUVERTURE")),
    }
}

fn deposit(account: &str, amount: Money) -> Command {
    Command::Deposit {
        account_id: id(account),
        amount,
        reference: None,
    }
}

fn withdraw(account: &str, amount: Money) -> Command {
    Command::Withdraw {
        account_id: id(account),
        amount,
        reference: None,
    }
}

fn transfer(from: &str, to: &str, amount: Money) -> Command {
    Command::Transfer {
        source_id: id(from),
        destination_id: id(to),
        amount,
        reference: Some(reference("VIR-1")),
    }
}

fn premium(account: &str, amount: Money) -> Command {
    Command::PayPremium {
        account_id: id(account),
        amount,
        reference: reference("PRIME-2026-01"),
    }
}

fn close(account: &str) -> Command {
    Command::Close {
        account_id: id(account),
    }
}

fn block(account: &str) -> Command {
    Command::Block {
        account_id: id(account),
    }
}

fn unblock(account: &str) -> Command {
    Command::Unblock {
        account_id: id(account),
    }
}

/// A ledger with `A` (100.00 EUR), `B` (50.00 EUR), `Z` (0.00 EUR), `U` (10.00 USD),
/// `F` (closed) and `K` (blocked, 20.00 EUR).
struct Fixture {
    ledger: InMemoryLedger,
    ids: SequentialTransactionIds,
}

impl Fixture {
    fn new() -> Self {
        let mut f = Self {
            ledger: InMemoryLedger::new(),
            ids: SequentialTransactionIds::default(),
        };
        f.ok(open("A", eur(dec!(100))));
        f.ok(open("B", eur(dec!(50))));
        f.ok(open("Z", eur(dec!(0))));
        f.ok(open("U", usd(dec!(10))));
        f.ok(open("F", eur(dec!(0))));
        f.ok(close("F"));
        f.ok(open("K", eur(dec!(20))));
        f.ok(block("K"));
        f
    }

    fn ok(&mut self, command: Command) -> Effects {
        self.ledger
            .apply(&command, at(10), &mut self.ids)
            .unwrap_or_else(|r| panic!("{command:?} refused: {r}"))
    }

    /// Expects a refusal and checks that nothing changed.
    fn refused(&mut self, command: Command) -> Refusal {
        let before = self.ledger.clone();
        let refusal = self
            .ledger
            .apply(&command, at(20), &mut self.ids)
            .expect_err("expected a refusal");
        assert_eq!(
            self.ledger.accounts_by_id(),
            before.accounts_by_id(),
            "a refusal changed an account"
        );
        assert_eq!(self.ledger.transactions(), before.transactions());
        refusal
    }

    fn balance(&self, account: &str) -> Decimal {
        self.ledger
            .account(&id(account))
            .unwrap()
            .balance()
            .amount()
    }

    fn status(&self, account: &str) -> AccountStatus {
        self.ledger.account(&id(account)).unwrap().status()
    }
}

// ---- open ----

#[test]
fn open_creates_an_active_account_with_an_initial_deposit() {
    let mut ledger = InMemoryLedger::new();
    let mut ids = SequentialTransactionIds::default();
    let effects = ledger
        .apply(&open("A", eur(dec!(100))), at(1), &mut ids)
        .unwrap();
    assert_eq!(effects.accounts.len(), 1);
    let account = &effects.accounts[0];
    assert_eq!(account.status(), AccountStatus::Active);
    assert_eq!(account.balance(), eur(dec!(100)));
    assert_eq!(account.created_at(), at(1));
    assert_eq!(account.updated_at(), at(1));
    assert_eq!(effects.transactions.len(), 1);
    let tx = &effects.transactions[0];
    assert_eq!(tx.kind(), TransactionKind::Deposit);
    assert_eq!(tx.amount(), eur(dec!(100)));
    assert_eq!(tx.reference().map(Reference::as_str), Some("OUVERTURE"));
    assert_eq!(tx.account_id(), &id("A"));
}

#[test]
fn open_with_zero_balance_records_no_transaction() {
    let mut f = Fixture::new();
    let effects = f.ok(open("N", eur(dec!(0))));
    assert_eq!(effects.accounts.len(), 1);
    assert!(effects.transactions.is_empty());
}

#[test]
fn open_again_with_same_data_is_idempotent() {
    let mut f = Fixture::new();
    f.ok(deposit("A", eur(dec!(5))));
    let effects = f.ok(open("A", eur(dec!(100))));
    assert!(effects.is_empty());
    assert_eq!(f.balance("A"), dec!(105));
}

#[test]
fn open_again_with_different_data_is_refused() {
    let mut f = Fixture::new();
    let refusal = f.refused(open("A", usd(dec!(100))));
    assert_eq!(
        refusal,
        Refusal::AccountAlreadyExists {
            account_id: id("A")
        }
    );
    assert_eq!(refusal.code(), "ACCOUNT_ALREADY_EXISTS");
    let other_client = Command::Open {
        account_id: id("A"),
        client_id: ClientId::parse("CLI-2").unwrap(),
        account_type: AccountType::Current,
        initial_balance: eur(dec!(100)),
        reference: None,
    };
    assert_eq!(f.refused(other_client).code(), "ACCOUNT_ALREADY_EXISTS");
}

#[test]
fn open_with_negative_initial_balance_is_refused() {
    let mut f = Fixture::new();
    let refusal = f.refused(open("N", eur(dec!(-1))));
    assert_eq!(refusal.code(), "NEGATIVE_INITIAL_BALANCE");
}

// ---- deposit ----

#[test]
fn deposit_credits_the_account() {
    let mut f = Fixture::new();
    let effects = f.ok(deposit("A", eur(dec!(12.34))));
    assert_eq!(f.balance("A"), dec!(112.34));
    assert_eq!(effects.transactions[0].kind(), TransactionKind::Deposit);
    assert_eq!(effects.accounts[0].updated_at(), at(10));
}

#[test]
fn deposit_on_unknown_account_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(deposit("X", eur(dec!(1)))),
        Refusal::UnknownAccount {
            account_id: id("X")
        }
    );
}

#[test]
fn deposit_on_closed_account_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(deposit("F", eur(dec!(1)))).code(),
        "ACCOUNT_CLOSED"
    );
}

#[test]
fn deposit_on_blocked_account_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(deposit("K", eur(dec!(1)))).code(),
        "ACCOUNT_BLOCKED"
    );
}

#[test]
fn deposit_in_another_currency_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(deposit("A", usd(dec!(1)))),
        Refusal::CurrencyMismatch {
            account_id: id("A"),
            account_currency: Currency::EUR,
            amount_currency: Currency::USD,
        }
    );
}

#[test]
fn deposit_of_zero_or_negative_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(deposit("A", eur(dec!(0)))).code(),
        "NON_POSITIVE_AMOUNT"
    );
    assert_eq!(
        f.refused(deposit("A", eur(dec!(-5)))).code(),
        "NON_POSITIVE_AMOUNT"
    );
}

#[test]
fn deposit_over_the_balance_limit_is_refused() {
    let mut f = Fixture::new();
    f.ok(deposit("Z", eur(dec!(9999999999999999.99))));
    assert_eq!(
        f.refused(deposit("Z", eur(dec!(0.01)))).code(),
        "BALANCE_LIMIT_EXCEEDED"
    );
}

// ---- withdraw ----

#[test]
fn withdraw_debits_the_account_down_to_zero() {
    let mut f = Fixture::new();
    let effects = f.ok(withdraw("A", eur(dec!(100))));
    assert_eq!(f.balance("A"), dec!(0));
    assert_eq!(effects.transactions[0].kind(), TransactionKind::Withdrawal);
    assert_eq!(effects.transactions[0].amount(), eur(dec!(100)));
}

#[test]
fn withdraw_more_than_the_balance_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(withdraw("A", eur(dec!(100.01)))),
        Refusal::InsufficientFunds {
            account_id: id("A"),
            balance: eur(dec!(100)),
            requested: eur(dec!(100.01)),
        }
    );
}

#[test]
fn withdraw_refusals() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(withdraw("X", eur(dec!(1)))).code(),
        "UNKNOWN_ACCOUNT"
    );
    assert_eq!(
        f.refused(withdraw("F", eur(dec!(1)))).code(),
        "ACCOUNT_CLOSED"
    );
    assert_eq!(
        f.refused(withdraw("K", eur(dec!(1)))).code(),
        "ACCOUNT_BLOCKED"
    );
    assert_eq!(
        f.refused(withdraw("A", usd(dec!(1)))).code(),
        "CURRENCY_MISMATCH"
    );
    assert_eq!(
        f.refused(withdraw("A", eur(dec!(0)))).code(),
        "NON_POSITIVE_AMOUNT"
    );
}

// ---- transfer ----

#[test]
fn transfer_debits_and_credits_as_one_change() {
    let mut f = Fixture::new();
    let effects = f.ok(transfer("A", "B", eur(dec!(30))));
    assert_eq!(f.balance("A"), dec!(70));
    assert_eq!(f.balance("B"), dec!(80));
    let accounts: Vec<_> = effects
        .accounts
        .iter()
        .map(|a| (a.id().as_str(), a.balance().amount()))
        .collect();
    assert_eq!(accounts, vec![("A", dec!(70)), ("B", dec!(80))]);
    let kinds: Vec<_> = effects
        .transactions
        .iter()
        .map(|t| (t.account_id().as_str(), t.kind(), t.amount().amount()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("A", TransactionKind::TransferOut, dec!(30)),
            ("B", TransactionKind::TransferIn, dec!(30)),
        ]
    );
    assert_ne!(effects.transactions[0].id(), effects.transactions[1].id());
}

#[test]
fn transfer_with_insufficient_funds_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(transfer("B", "A", eur(dec!(50.01)))).code(),
        "INSUFFICIENT_FUNDS"
    );
}

#[test]
fn transfer_from_unknown_source_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(transfer("X", "A", eur(dec!(1)))),
        Refusal::UnknownAccount {
            account_id: id("X")
        }
    );
}

#[test]
fn transfer_to_unknown_destination_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(transfer("A", "X", eur(dec!(1)))),
        Refusal::UnknownAccount {
            account_id: id("X")
        }
    );
}

#[test]
fn transfer_from_or_to_a_closed_account_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(transfer("F", "A", eur(dec!(1)))).code(),
        "ACCOUNT_CLOSED"
    );
    assert_eq!(
        f.refused(transfer("A", "F", eur(dec!(1)))).code(),
        "ACCOUNT_CLOSED"
    );
}

#[test]
fn transfer_from_or_to_a_blocked_account_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(transfer("K", "A", eur(dec!(1)))).code(),
        "ACCOUNT_BLOCKED"
    );
    assert_eq!(
        f.refused(transfer("A", "K", eur(dec!(1)))).code(),
        "ACCOUNT_BLOCKED"
    );
}

#[test]
fn transfer_across_currencies_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(transfer("A", "U", eur(dec!(1)))),
        Refusal::CurrencyMismatch {
            account_id: id("U"),
            account_currency: Currency::USD,
            amount_currency: Currency::EUR,
        }
    );
}

#[test]
fn transfer_to_the_same_account_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(transfer("A", "A", eur(dec!(1)))),
        Refusal::SameAccount {
            account_id: id("A")
        }
    );
}

#[test]
fn transfer_of_a_non_positive_amount_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(transfer("A", "B", eur(dec!(0)))).code(),
        "NON_POSITIVE_AMOUNT"
    );
    assert_eq!(
        f.refused(transfer("A", "B", eur(dec!(-1)))).code(),
        "NON_POSITIVE_AMOUNT"
    );
}

#[test]
fn transfer_over_the_destination_limit_is_refused() {
    let mut f = Fixture::new();
    f.ok(deposit("Z", eur(dec!(9999999999999999.99))));
    assert_eq!(
        f.refused(transfer("A", "Z", eur(dec!(1)))).code(),
        "BALANCE_LIMIT_EXCEEDED"
    );
}

// ---- premium payment ----

#[test]
fn premium_is_a_deposit_with_its_reference() {
    let mut f = Fixture::new();
    let effects = f.ok(premium("Z", eur(dec!(250))));
    assert_eq!(f.balance("Z"), dec!(250));
    let tx = &effects.transactions[0];
    assert_eq!(tx.kind(), TransactionKind::Deposit);
    assert_eq!(tx.reference().map(Reference::as_str), Some("PRIME-2026-01"));
}

#[test]
fn premium_refusals() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(premium("X", eur(dec!(1)))).code(),
        "UNKNOWN_ACCOUNT"
    );
    assert_eq!(
        f.refused(premium("F", eur(dec!(1)))).code(),
        "ACCOUNT_CLOSED"
    );
    assert_eq!(
        f.refused(premium("K", eur(dec!(1)))).code(),
        "ACCOUNT_BLOCKED"
    );
    assert_eq!(
        f.refused(premium("A", usd(dec!(1)))).code(),
        "CURRENCY_MISMATCH"
    );
    assert_eq!(
        f.refused(premium("A", eur(dec!(0)))).code(),
        "NON_POSITIVE_AMOUNT"
    );
}

// ---- close, block, unblock ----

#[test]
fn close_at_zero_balance() {
    let mut f = Fixture::new();
    let effects = f.ok(close("Z"));
    assert_eq!(f.status("Z"), AccountStatus::Closed);
    assert!(effects.transactions.is_empty());
}

#[test]
fn close_with_a_non_zero_balance_is_refused() {
    let mut f = Fixture::new();
    assert_eq!(
        f.refused(close("A")),
        Refusal::NonZeroBalance {
            account_id: id("A"),
            balance: eur(dec!(100)),
        }
    );
}

#[test]
fn close_refusals() {
    let mut f = Fixture::new();
    assert_eq!(f.refused(close("X")).code(), "UNKNOWN_ACCOUNT");
    assert_eq!(f.refused(close("F")).code(), "ACCOUNT_CLOSED");
    assert_eq!(f.refused(close("K")).code(), "ACCOUNT_BLOCKED");
}

#[test]
fn block_then_unblock() {
    let mut f = Fixture::new();
    f.ok(block("A"));
    assert_eq!(f.status("A"), AccountStatus::Blocked);
    assert!(f.ok(block("A")).is_empty(), "blocking twice is a no-op");
    f.ok(unblock("A"));
    assert_eq!(f.status("A"), AccountStatus::Active);
    assert!(
        f.ok(unblock("A")).is_empty(),
        "unblocking an active account is a no-op"
    );
    f.ok(withdraw("A", eur(dec!(1))));
}

#[test]
fn block_and_unblock_refusals() {
    let mut f = Fixture::new();
    assert_eq!(f.refused(block("X")).code(), "UNKNOWN_ACCOUNT");
    assert_eq!(f.refused(block("F")).code(), "ACCOUNT_CLOSED");
    assert_eq!(f.refused(unblock("X")).code(), "UNKNOWN_ACCOUNT");
    assert_eq!(f.refused(unblock("F")).code(), "ACCOUNT_CLOSED");
}

#[test]
fn refusal_codes_are_distinct_and_messages_name_the_account() {
    let a = id("A");
    let m = eur(dec!(1));
    let all = [
        Refusal::UnknownAccount {
            account_id: a.clone(),
        },
        Refusal::AccountAlreadyExists {
            account_id: a.clone(),
        },
        Refusal::AccountClosed {
            account_id: a.clone(),
        },
        Refusal::AccountBlocked {
            account_id: a.clone(),
        },
        Refusal::InsufficientFunds {
            account_id: a.clone(),
            balance: m,
            requested: m,
        },
        Refusal::CurrencyMismatch {
            account_id: a.clone(),
            account_currency: Currency::EUR,
            amount_currency: Currency::USD,
        },
        Refusal::NonPositiveAmount { amount: m },
        Refusal::NegativeInitialBalance { amount: m },
        Refusal::SameAccount {
            account_id: a.clone(),
        },
        Refusal::NonZeroBalance {
            account_id: a.clone(),
            balance: m,
        },
        Refusal::BalanceLimitExceeded { account_id: a },
    ];
    let codes: HashSet<_> = all.iter().map(Refusal::code).collect();
    assert_eq!(codes.len(), all.len());
    assert_eq!(
        all[4].to_string(),
        "insufficient funds on account A: balance 1.00 EUR, requested 1.00 EUR"
    );
}

// ---- purity and batches ----

#[test]
fn decide_does_not_change_the_view() {
    let f = Fixture::new();
    let before = f.ledger.accounts_by_id().clone();
    let mut ids = SequentialTransactionIds::default();
    let effects = decide(
        f.ledger.accounts_by_id(),
        &transfer("A", "B", eur(dec!(1))),
        at(30),
        &mut ids,
    )
    .unwrap();
    assert_eq!(effects.accounts.len(), 2);
    assert_eq!(f.ledger.accounts_by_id(), &before);
}

#[test]
fn batch_commands_see_earlier_effects() {
    let f = Fixture::new();
    let mut ids = SequentialTransactionIds::default();
    let mut batch = Batch::new(&f.ledger);
    batch
        .apply(&open("N", eur(dec!(10))), at(30), &mut ids)
        .unwrap();
    batch
        .apply(&transfer("N", "A", eur(dec!(10))), at(31), &mut ids)
        .unwrap();
    // N is empty now: a second transfer is refused and leaves the batch unchanged.
    let refusal = batch
        .apply(&transfer("N", "A", eur(dec!(1))), at(32), &mut ids)
        .unwrap_err();
    assert_eq!(refusal.code(), "INSUFFICIENT_FUNDS");
    batch.apply(&close("N"), at(33), &mut ids).unwrap();
    let effects = batch.into_effects();

    let accounts: Vec<_> = effects
        .accounts
        .iter()
        .map(|a| (a.id().as_str(), a.balance().amount(), a.status()))
        .collect();
    assert_eq!(
        accounts,
        vec![
            ("N", dec!(0), AccountStatus::Closed),
            ("A", dec!(110), AccountStatus::Active),
        ]
    );
    assert_eq!(effects.transactions.len(), 3);
    // The base was not touched; committing the batch's effects applies them.
    assert!(f.ledger.account(&id("N")).is_none());
    let mut ledger = f.ledger.clone();
    ledger.commit(&effects);
    assert_eq!(ledger.account(&id("A")).unwrap().balance(), eur(dec!(110)));
    assert_eq!(
        ledger.account(&id("N")).unwrap().status(),
        AccountStatus::Closed
    );
}

#[test]
fn closure_ids_are_injected() {
    let mut ledger = InMemoryLedger::new();
    let fixed = TransactionId(uuid::Uuid::from_u128(42));
    let effects = ledger
        .apply(&open("A", eur(dec!(1))), at(1), &mut || fixed)
        .unwrap();
    assert_eq!(effects.transactions[0].id(), fixed);
    assert_eq!(ledger.transactions_of(&id("A")).count(), 1);
}

// ---- wire forms ----

#[test]
fn account_serializes_with_french_names_and_decimal_string() {
    let f = Fixture::new();
    let account = f.ledger.account(&id("A")).unwrap();
    let value = serde_json::to_value(account).unwrap();
    assert_eq!(
        value,
        json!({
            "id": "A",
            "client_id": "CLI-1",
            "type_compte": "COURANT",
            "devise": "EUR",
            "solde": "100.00",
            "statut": "ACTIF",
            "created_at": "2026-01-07T10:00:10Z",
            "updated_at": "2026-01-07T10:00:10Z"
        })
    );
    let back: Account = serde_json::from_value(value).unwrap();
    assert_eq!(&back, account);
}

#[test]
fn account_restore_refuses_broken_invariants() {
    let record = json!({
        "id": "A", "client_id": "C", "type_compte": "EPARGNE", "devise": "EUR",
        "solde": "-1.00", "statut": "ACTIF",
        "created_at": "2026-01-07T10:00:10Z", "updated_at": "2026-01-07T10:00:00Z"
    });
    let record: AccountRecord = serde_json::from_value(record).unwrap();
    let errors = Account::restore(record).unwrap_err();
    assert!(errors.has_field("solde"));
    assert!(errors.has_field("updated_at"));
    let bad_status = json!({
        "id": "A", "client_id": "C", "type_compte": "EPARGNE", "devise": "EUR",
        "solde": "1.00", "statut": "OUVERT",
        "created_at": "2026-01-07T10:00:10Z", "updated_at": "2026-01-07T10:00:10Z"
    });
    assert!(serde_json::from_value::<Account>(bad_status).is_err());
}

#[test]
fn transaction_serializes_with_french_names() {
    let f = Fixture::new();
    let a = id("A");
    let tx = f.ledger.transactions_of(&a).next().unwrap();
    let value = serde_json::to_value(tx).unwrap();
    assert_eq!(
        value,
        json!({
            "id": "00000000-0000-0000-0000-000000000001",
            "compte_id": "A",
            "type": "DEPOT",
            "montant": "100.00",
            "devise": "EUR",
            "reference": "OUVERTURE",
            "created_at": "2026-01-07T10:00:10Z"
        })
    );
    let back: LedgerTransaction = serde_json::from_value(value).unwrap();
    assert_eq!(&back, tx);
}

#[test]
fn transaction_restore_refuses_non_positive_amount() {
    let record = json!({
        "id": "00000000-0000-0000-0000-000000000001", "compte_id": "A", "type": "RETRAIT",
        "montant": "0.00", "devise": "EUR", "reference": null,
        "created_at": "2026-01-07T10:00:10Z"
    });
    assert!(serde_json::from_value::<LedgerTransaction>(record).is_err());
}

#[test]
fn wire_enums_use_french_names() {
    let names: Vec<_> = AccountType::ALL.iter().map(|t| t.as_wire()).collect();
    assert_eq!(names, ["COURANT", "EPARGNE", "JOINT"]);
    let names: Vec<_> = AccountStatus::ALL.iter().map(|t| t.as_wire()).collect();
    assert_eq!(names, ["ACTIF", "FERME", "BLOQUE"]);
    let names: Vec<_> = TransactionKind::ALL.iter().map(|t| t.as_wire()).collect();
    assert_eq!(
        names,
        ["DEPOT", "RETRAIT", "VIREMENT_ENTRANT", "VIREMENT_SORTANT"]
    );
    assert_eq!("EPARGNE".parse::<AccountType>(), Ok(AccountType::Savings));
    assert!(
        "SAVINGS"
            .parse::<AccountType>()
            .unwrap_err()
            .contains("COURANT, EPARGNE, JOINT")
    );
    assert_eq!(
        serde_json::to_value(TransactionKind::TransferIn).unwrap(),
        json!("VIREMENT_ENTRANT")
    );
}

#[test]
fn ids_refuse_blank_and_too_long_values() {
    assert!(AccountId::parse("").is_err());
    assert!(AccountId::parse("   ").is_err());
    assert!(AccountId::parse("x".repeat(36)).is_ok());
    assert!(AccountId::parse("x".repeat(37)).is_err());
    assert!(Reference::parse("r".repeat(101)).is_err());
    assert!(serde_json::from_value::<ClientId>(json!("")).is_err());
}
