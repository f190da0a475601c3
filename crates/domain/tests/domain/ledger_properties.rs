//! Property tests of the ledger's rules: random sequences of commands never leave a
//! negative balance, transfers conserve money, every balance equals its transactions,
//! and a `Batch` decides exactly like applying the commands one by one.

use chrono::{DateTime, Duration, TimeZone, Utc};
use edalab_domain::ledger::{
    AccountId, AccountStatus, AccountType, Batch, ClientId, Command, InMemoryLedger, Reference,
    SequentialTransactionIds,
};
use edalab_domain::money::{Currency, Money};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::TestRunner;
use rust_decimal::Decimal;
use std::collections::HashMap;

const ACCOUNTS: [&str; 4] = ["A", "B", "C", "D"];

fn account_id(index: usize) -> AccountId {
    AccountId::parse(ACCOUNTS[index]).expect("valid id")
}

/// Amounts in cents: mostly positive, sometimes zero or negative, in EUR or (rarely) USD.
fn money() -> impl Strategy<Value = Money> {
    (
        prop_oneof![8 => 1i64..=20_000, 1 => -100i64..=0],
        prop_oneof![9 => Just(Currency::EUR), 1 => Just(Currency::USD)],
    )
        .prop_map(|(cents, currency)| {
            Money::new(Decimal::new(cents, 2), currency).expect("small amounts are in range")
        })
}

fn command() -> impl Strategy<Value = Command> {
    let account = 0..ACCOUNTS.len();
    prop_oneof![
        1 => (account.clone(), money()).prop_map(|(a, initial_balance)| Command::Open {
            account_id: account_id(a),
            client_id: ClientId::parse(format!("CLI-{a}")).expect("valid id"),
            account_type: AccountType::Current,
            initial_balance,
            reference: None,
        }),
        3 => (account.clone(), money()).prop_map(|(a, amount)| Command::Deposit {
            account_id: account_id(a),
            amount,
            reference: None,
        }),
        3 => (account.clone(), money()).prop_map(|(a, amount)| Command::Withdraw {
            account_id: account_id(a),
            amount,
            reference: None,
        }),
        4 => (account.clone(), account.clone(), money()).prop_map(|(s, d, amount)| {
            Command::Transfer {
                source_id: account_id(s),
                destination_id: account_id(d),
                amount,
                reference: None,
            }
        }),
        1 => (account.clone(), money()).prop_map(|(a, amount)| Command::PayPremium {
            account_id: account_id(a),
            amount,
            reference: Reference::parse("PRIME").expect("valid reference"),
        }),
        1 => (account.clone()).prop_map(|a| Command::Close {
            account_id: account_id(a)
        }),
        1 => (account.clone()).prop_map(|a| Command::Block {
            account_id: account_id(a)
        }),
        1 => (account).prop_map(|a| Command::Unblock {
            account_id: account_id(a)
        }),
    ]
}

/// Opens account `index` in EUR with 100.00 (the last one empty).
fn opening(index: usize) -> Command {
    let cents = if index + 1 == ACCOUNTS.len() {
        0
    } else {
        10_000
    };
    Command::Open {
        account_id: account_id(index),
        client_id: ClientId::parse(format!("CLI-{index}")).expect("valid id"),
        account_type: AccountType::Current,
        initial_balance: Money::new(Decimal::new(cents, 2), Currency::EUR).expect("in range"),
        reference: None,
    }
}

fn start() -> DateTime<Utc> {
    Utc.timestamp_opt(1_767_780_000, 0)
        .single()
        .expect("valid time")
}

/// Sum of all balances per currency (EUR, USD).
fn totals(ledger: &InMemoryLedger) -> (Decimal, Decimal) {
    let eur = ledger
        .total_balance(Currency::EUR)
        .expect("in range")
        .amount();
    let usd = ledger
        .total_balance(Currency::USD)
        .expect("in range")
        .amount();
    (eur, usd)
}

/// How an accepted command may change the total of `currency`.
fn expected_delta(command: &Command, currency: Currency) -> Decimal {
    let signed = |amount: &Money, sign: Decimal| {
        if amount.currency() == currency {
            amount.amount() * sign
        } else {
            Decimal::ZERO
        }
    };
    match command {
        Command::Open {
            initial_balance, ..
        } => signed(initial_balance, Decimal::ONE),
        Command::Deposit { amount, .. } | Command::PayPremium { amount, .. } => {
            signed(amount, Decimal::ONE)
        }
        Command::Withdraw { amount, .. } => signed(amount, Decimal::NEGATIVE_ONE),
        Command::Transfer { .. }
        | Command::Close { .. }
        | Command::Block { .. }
        | Command::Unblock { .. } => Decimal::ZERO,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn balances_never_go_negative_and_transfers_conserve_money(
        commands in prop::collection::vec(command(), 1..80)
    ) {
        let mut ledger = InMemoryLedger::new();
        let mut ids = SequentialTransactionIds::default();
        // Open every account first so that most random commands find their accounts.
        let opening: Vec<Command> = (0..ACCOUNTS.len()).map(opening).collect();
        for (step, command) in opening.iter().chain(&commands).enumerate() {
            let at = start() + Duration::seconds(step as i64);
            let before = totals(&ledger);
            let open_before = ledger.account(&account_id(0)).is_some();
            match ledger.apply(command, at, &mut ids) {
                Ok(effects) => {
                    let after = totals(&ledger);
                    // Re-opening an existing account is a no-op: no money appears.
                    let idempotent_open = matches!(command, Command::Open { .. }) && effects.is_empty();
                    let (eur_delta, usd_delta) = if idempotent_open {
                        (Decimal::ZERO, Decimal::ZERO)
                    } else {
                        (expected_delta(command, Currency::EUR), expected_delta(command, Currency::USD))
                    };
                    prop_assert_eq!(after.0 - before.0, eur_delta, "EUR total after {:?}", command);
                    prop_assert_eq!(after.1 - before.1, usd_delta, "USD total after {:?}", command);
                    if let Command::Transfer { .. } = command {
                        prop_assert_eq!(effects.accounts.len(), 2);
                        prop_assert_eq!(effects.transactions.len(), 2);
                    }
                }
                Err(refusal) => {
                    prop_assert_eq!(totals(&ledger), before, "refused {:?} ({}) moved money", command, refusal);
                    prop_assert_eq!(ledger.account(&account_id(0)).is_some(), open_before);
                }
            }
            for account in ledger.accounts() {
                prop_assert!(!account.balance().is_negative(), "negative balance on {}", account.id());
                if account.status() == AccountStatus::Closed {
                    prop_assert!(account.balance().is_zero(), "closed account {} holds money", account.id());
                }
            }
        }
        // Every balance is the sum of its account's credits minus its debits.
        for account in ledger.accounts() {
            let from_transactions: Decimal = ledger
                .transactions_of(account.id())
                .map(|tx| {
                    prop_assert!(tx.amount().is_positive());
                    prop_assert_eq!(tx.amount().currency(), account.currency());
                    Ok(if tx.kind().is_credit() { tx.amount().amount() } else { -tx.amount().amount() })
                })
                .sum::<Result<Decimal, TestCaseError>>()?;
            prop_assert_eq!(from_transactions, account.balance().amount(), "account {}", account.id());
        }
    }

    #[test]
    fn a_batch_decides_like_one_command_at_a_time(
        setup in prop::collection::vec(command(), 0..20),
        commands in prop::collection::vec(command(), 1..40)
    ) {
        let mut base = InMemoryLedger::new();
        let mut ids = SequentialTransactionIds::default();
        for command in &setup {
            let _ = base.apply(command, start(), &mut ids);
        }

        let mut sequential = base.clone();
        let mut sequential_ids = ids.clone();
        let mut batch_ids = ids;
        let mut batch = Batch::new(&base);
        for (step, command) in commands.iter().enumerate() {
            let at = start() + Duration::seconds(step as i64 + 1);
            let one = sequential.apply(command, at, &mut sequential_ids);
            let batched = batch.apply(command, at, &mut batch_ids);
            prop_assert_eq!(one, batched);
        }
        let effects = batch.into_effects();
        let mut committed = base.clone();
        committed.commit(&effects);
        prop_assert_eq!(committed.accounts_by_id(), sequential.accounts_by_id());
        prop_assert_eq!(committed.transactions(), sequential.transactions());
    }
}

/// Guards the properties above against a generator that only produces refusals: the
/// same kind of random sequences accept transfers, withdrawals and premiums, and hit
/// the interesting refusals.
#[test]
fn generated_sequences_exercise_accepted_and_refused_commands() {
    let mut runner = TestRunner::deterministic();
    let mut ledger = InMemoryLedger::new();
    let mut ids = SequentialTransactionIds::default();
    for index in 0..ACCOUNTS.len() {
        ledger
            .apply(&opening(index), start(), &mut ids)
            .expect("opening is accepted");
    }
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    for _ in 0..2_000 {
        let command = command()
            .new_tree(&mut runner)
            .expect("strategy generates")
            .current();
        let kind = format!("{command:?}")
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned();
        let outcome = match ledger.apply(&command, start(), &mut ids) {
            Ok(_) => format!("{kind} ok"),
            Err(refusal) => refusal.code().to_owned(),
        };
        *outcomes.entry(outcome).or_default() += 1;
    }
    for expected in [
        "Transfer ok",
        "Withdraw ok",
        "Deposit ok",
        "PayPremium ok",
        "INSUFFICIENT_FUNDS",
        "NON_POSITIVE_AMOUNT",
        "CURRENCY_MISMATCH",
        "SAME_ACCOUNT",
        "ACCOUNT_BLOCKED",
    ] {
        assert!(
            outcomes.get(expected).copied().unwrap_or(0) > 0,
            "no {expected} in {outcomes:?}"
        );
    }
}
