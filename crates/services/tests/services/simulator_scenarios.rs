//! every scenario file parses; activity happens between accounts that exist and hold
//! the money (checked by replaying the events through the domain's ledger rules); the
//! invalid and poison shares are honoured; poison bytes do not decode.

use std::collections::HashSet;
use std::str::FromStr;
use std::time::Duration;

use edalab_domain::events::BankingEvent;
use edalab_domain::ledger::{
    AccountId, AccountType, ClientId, Command, InMemoryLedger, Reference, SequentialTransactionIds,
};
use edalab_domain::{Currency, Money};
use edalab_schema::{SchemaCatalog, decode_banking};
use edalab_services::simulator::{
    EventKind, InvalidReason, ItemEncoder, ManualClock, Payload, Route, Scenario, Simulator,
    Validity, to_banking_event,
};

fn scenarios_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scenarios")
}

fn simulator(scenario: Scenario, seed: u64) -> Simulator<ManualClock> {
    let clock = ManualClock::stepping(ManualClock::default_start(), Duration::from_millis(1));
    Simulator::new(scenario, seed, clock).unwrap()
}

#[test]
fn every_scenario_file_parses() {
    let mut count = 0;
    for entry in std::fs::read_dir(scenarios_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) == Some("toml") {
            Scenario::from_file(&path).unwrap_or_else(|e| panic!("{e}"));
            count += 1;
        }
    }
    assert!(count >= 7, "only {count} scenario files");
    for name in [
        "default",
        "banking-day",
        "fraud-burst",
        "transactions",
        "calculator",
        "order-files",
        "orders",
    ] {
        let from_file = Scenario::resolve(name, Some(&scenarios_dir())).unwrap();
        // The built-in copy is the shipped file.
        assert_eq!(Scenario::builtin(name).unwrap(), from_file, "{name}");
    }
}

/// Issue 8 item 5: one scenario per pipeline, each generating only its own traffic, on its
/// route, with its invalid, poison and duplicate shares honoured.
#[test]
fn pipeline_scenarios_generate_their_own_traffic() {
    let cases = [
        (
            "transactions",
            EventKind::Transaction,
            Route::HttpPost("/transactions"),
        ),
        (
            "calculator",
            EventKind::Calculation,
            Route::Topic("calculatrice-input-queue"),
        ),
        ("order-files", EventKind::OrderFile, Route::File("orders/")),
        ("orders", EventKind::Order, Route::HttpPost("/orders")),
    ];
    for (name, kind, route) in cases {
        let scenario = Scenario::builtin(name).unwrap();
        let (invalid_share, poison_share, duplicate_share) = match name {
            "transactions" => {
                let t = scenario.transactions.as_ref().unwrap();
                (t.invalid_share, t.poison_share, 0.0)
            }
            "calculator" => {
                let c = scenario.calculator.as_ref().unwrap();
                (c.invalid_share, c.poison_share, 0.0)
            }
            "order-files" => {
                let o = scenario.order_files.as_ref().unwrap();
                (o.invalid_share, o.poison_share, o.duplicate_share)
            }
            _ => {
                let o = scenario.orders.as_ref().unwrap();
                (o.invalid_share, o.poison_share, 0.0)
            }
        };
        let mut simulator = simulator(scenario, 17);
        let items = simulator.next_batch(20_000);
        let n = items.len() as f64;
        let share = |f: &dyn Fn(&Validity) -> bool| {
            items.iter().filter(|i| f(&i.validity)).count() as f64 / n
        };
        for item in &items {
            assert_eq!(item.kind(), kind, "{name}");
            assert_eq!(item.route, route, "{name}");
        }
        // Binomial standard deviations are below 0.16 points; 1 point is over 6 of them.
        let invalid = share(&|v| matches!(v, Validity::Invalid(_)));
        let poison = share(&|v| *v == Validity::Poison);
        let duplicate = share(&|v| *v == Validity::Duplicate);
        assert!(
            (invalid - invalid_share).abs() < 0.01,
            "{name}: invalid {invalid}"
        );
        assert!(
            (poison - poison_share).abs() < 0.01,
            "{name}: poison {poison}"
        );
        assert!(
            (duplicate - duplicate_share).abs() < 0.01,
            "{name}: duplicate {duplicate}"
        );
        assert!(invalid > 0.0 && poison > 0.0, "{name}");
    }
}

#[test]
fn unknown_key_error_names_the_key() {
    let text = "name = \"x\"\n[banking]\nweight = 1\n[banking.mix]\ndepot = 3\n";
    let err = Scenario::parse("x.toml", text).unwrap_err().to_string();
    assert!(err.contains("depot"), "{err}");
}

fn ledger_command(event: &BankingEvent) -> Command {
    let eur = |amount| Money::new(amount, Currency::parse("EUR").unwrap()).unwrap();
    let id = |s: &str| AccountId::parse(s).unwrap();
    let reference = |s: &str| Some(Reference::parse(s).unwrap());
    match event {
        BankingEvent::AccountOpened(e) => Command::Open {
            account_id: id(&e.account_id),
            client_id: ClientId::parse(e.client_id.clone()).unwrap(),
            account_type: AccountType::from_str(e.account_type.as_str()).unwrap(),
            initial_balance: eur(e.initial_balance),
            reference: None,
        },
        BankingEvent::DepositMade(e) => Command::Deposit {
            account_id: id(&e.account_id),
            amount: eur(e.amount),
            reference: reference(&e.reference),
        },
        BankingEvent::WithdrawalMade(e) => Command::Withdraw {
            account_id: id(&e.account_id),
            amount: eur(e.amount),
            reference: reference(&e.reference),
        },
        BankingEvent::TransferIssued(e) => Command::Transfer {
            source_id: id(&e.source_account_id),
            destination_id: id(&e.destination_account_id),
            amount: eur(e.amount),
            reference: reference(&e.reference),
        },
        BankingEvent::PremiumPaid(e) => Command::PayPremium {
            account_id: id(&e.account_id),
            amount: eur(e.amount),
            reference: Reference::parse(e.reference.clone()).unwrap(),
        },
        BankingEvent::AccountClosed(e) => Command::Close {
            account_id: id(&e.account_id),
        },
        other => panic!("the simulator does not produce {other:?}"),
    }
}

/// Replays every banking event of `n` items through the ledger rules in generation order:
/// every valid event is accepted, every invalid one refused with the expected reason.
fn replay_through_ledger(scenario: &str, seed: u64, n: usize) -> (usize, usize) {
    let mut simulator = simulator(Scenario::builtin(scenario).unwrap(), seed);
    let mut ledger = InMemoryLedger::new();
    let mut ids = SequentialTransactionIds::default();
    let at = ManualClock::default_start();
    let (mut accepted, mut refused) = (0, 0);
    for (i, item) in simulator.next_batch(n).into_iter().enumerate() {
        let Payload::Banking(op) = &item.payload else {
            continue;
        };
        let command = ledger_command(&to_banking_event(op));
        let outcome = ledger.apply(&command, at, &mut ids);
        match item.validity {
            Validity::Valid => {
                outcome.unwrap_or_else(|r| panic!("seed {seed}, item #{i} {op:?}: refused {r:?}"));
                accepted += 1;
            }
            Validity::Invalid(reason) => {
                let refusal = outcome.expect_err("an invalid event was accepted");
                let code = refusal.code();
                let expected = match reason {
                    InvalidReason::InsufficientFunds => "INSUFFICIENT_FUNDS",
                    InvalidReason::UnknownAccount => "UNKNOWN_ACCOUNT",
                    other => panic!("unexpected banking reason {other:?}"),
                };
                assert_eq!(code, expected, "seed {seed}, item #{i}");
                refused += 1;
            }
            _ => panic!("banking payload marked {:?}", item.validity),
        }
    }
    // The simulator's book agrees with the ledger on every balance.
    for account in simulator.book().accounts() {
        let ledger_account = ledger
            .account(&AccountId::parse(account.id.to_string()).unwrap())
            .unwrap();
        assert_eq!(
            ledger_account.balance().amount(),
            rust_decimal::Decimal::new(account.balance_cents, 2),
            "seed {seed}: balance of {}",
            account.id
        );
    }
    (accepted, refused)
}

#[test]
fn valid_events_pass_the_ledger_rules_and_invalid_ones_are_refused() {
    for (scenario, seed) in [("default", 1), ("banking-day", 2), ("fraud-burst", 3)] {
        let (accepted, refused) = replay_through_ledger(scenario, seed, 20_000);
        assert!(accepted > 5_000, "{scenario}: {accepted} accepted");
        if scenario != "default" {
            assert!(refused > 0, "{scenario}: nothing refused");
        }
    }
}

#[test]
fn transfers_only_between_opened_accounts_except_the_invalid_share() {
    let mut simulator = simulator(Scenario::builtin("fraud-burst").unwrap(), 11);
    let mut opened = HashSet::new();
    let mut closed = HashSet::new();
    let mut transfers = 0;
    for item in simulator.next_batch(10_000) {
        let Payload::Banking(op) = &item.payload else {
            continue;
        };
        match to_banking_event(op) {
            BankingEvent::AccountOpened(e) => {
                opened.insert(e.account_id);
            }
            BankingEvent::AccountClosed(e) => {
                closed.insert(e.account_id);
            }
            BankingEvent::TransferIssued(e) => {
                let known = |id: &String| opened.contains(id) && !closed.contains(id);
                let both_known = known(&e.source_account_id) && known(&e.destination_account_id);
                if item.validity == Validity::Valid {
                    transfers += 1;
                    assert!(both_known, "valid transfer between unknown accounts: {e:?}");
                    assert_ne!(e.source_account_id, e.destination_account_id);
                } else if item.validity == Validity::Invalid(InvalidReason::UnknownAccount) {
                    assert!(!both_known);
                }
            }
            _ => {}
        }
    }
    assert!(transfers > 1_000, "{transfers} transfers");
}

#[test]
fn invalid_and_poison_shares_are_honoured() {
    let scenario = Scenario::parse(
        "shares",
        "name = \"shares\"\n[banking]\naccounts_initial = 100\ninvalid_share = 0.10\npoison_share = 0.05\n",
    )
    .unwrap();
    let mut simulator = simulator(scenario, 5);
    let items = simulator.next_batch(10_100);
    // The first 100 items open the initial accounts; the shares apply after them.
    let after_warm_up = &items[100..];
    let n = after_warm_up.len() as f64;
    let invalid = after_warm_up
        .iter()
        .filter(|i| matches!(i.validity, Validity::Invalid(_)))
        .count() as f64;
    let poison = after_warm_up
        .iter()
        .filter(|i| i.validity == Validity::Poison)
        .count() as f64;
    // Binomial standard deviations are 0.3 and 0.22 points; 1 point is over 3 of them.
    assert!(
        (invalid / n - 0.10).abs() < 0.01,
        "invalid share {}",
        invalid / n
    );
    assert!(
        (poison / n - 0.05).abs() < 0.01,
        "poison share {}",
        poison / n
    );
    assert_eq!(simulator.stats().invalid_total as f64, invalid);
    assert_eq!(simulator.stats().poison_total as f64, poison);
}

#[test]
fn poison_bytes_do_not_decode_and_valid_ones_do() {
    let catalog = SchemaCatalog::builtin().unwrap();
    let encoder = ItemEncoder::builtin().unwrap();
    let mut simulator = simulator(Scenario::builtin("fraud-burst").unwrap(), 8);
    let (mut poison, mut decoded) = (0, 0);
    for item in simulator.next_batch(5_000) {
        let bytes = encoder.encode(&item).unwrap();
        match (&item.payload, item.validity) {
            (Payload::Poison { kind, .. }, _) if kind.is_banking() => {
                assert!(decode_banking(&catalog, item.topic(), &bytes).is_err());
                poison += 1;
            }
            (Payload::Poison { .. }, _) => {
                assert!(serde_json::from_slice::<serde_json::Value>(&bytes).is_err());
            }
            (Payload::Banking(op), _) => {
                let event = decode_banking(&catalog, item.topic(), &bytes).unwrap();
                assert_eq!(event, to_banking_event(op));
                assert_eq!(event.key(), item.key);
                decoded += 1;
            }
            _ => {
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap();
            }
        }
    }
    assert!(
        poison > 10 && decoded > 1_000,
        "{poison} poison, {decoded} decoded"
    );
}

#[test]
fn produce_gives_the_requested_type_and_opens_accounts_when_needed() {
    let mut simulator = simulator(Scenario::builtin("default").unwrap(), 4);
    let items = simulator.produce(EventKind::VirementEmis, 3).unwrap();
    let kinds: Vec<_> = items.iter().map(|i| i.kind()).collect();
    assert_eq!(
        kinds
            .iter()
            .filter(|k| **k == EventKind::CompteOuvert)
            .count(),
        2
    );
    assert!(kinds.iter().all(|k| matches!(
        k,
        EventKind::CompteOuvert | EventKind::VirementEmis | EventKind::DepotEffectue
    )));
    for kind in EventKind::ALL {
        let items = simulator.produce(kind, 2).unwrap();
        assert!(
            items.iter().filter(|i| i.kind() == kind).count() >= 1,
            "{kind:?}"
        );
        assert_eq!(EventKind::from_wire_name(kind.wire_name()), Some(kind));
    }
    assert!(simulator.produce(EventKind::Order, 0).is_err());
}

#[test]
fn open_account_carries_a_valid_iban_in_metadata() {
    let mut simulator = simulator(Scenario::builtin("default").unwrap(), 6);
    let item = simulator.next_item();
    let Payload::Banking(op) = &item.payload else {
        panic!("first item is not banking");
    };
    let BankingEvent::AccountOpened(e) = to_banking_event(op) else {
        panic!("first item is not CompteOuvert");
    };
    let iban = &e.metadata.unwrap()["iban"];
    assert!(edalab_services::simulator::iban::is_valid_french_iban(iban));
    assert_eq!(e.initial_balance.scale(), 2);
}
