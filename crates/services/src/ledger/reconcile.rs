//! Reconciliation (`edalab check ledger`, X-03): proves the stored ledger is what the
//! events say, in the spirit of Jepsen's bank test.
//!
//! 1. **Balances vs transactions**: every stored balance equals `Σ credits − Σ debits` of
//!    its transactions.
//! 2. **Replay**: the banking topics, read from offset 0 and deduplicated by `event_id`,
//!    are decided again through the domain rules, in the order the ledger recorded its
//!    decisions (inbox `seq`: the only order that makes cross-partition outcomes
//!    reproducible). Each decision must match the recorded one, and the replayed balances
//!    and transaction counts must equal the stored ones. Every decodable event must have
//!    been decided exactly once (none missing, none unknown).
//! 3. **Conservation**: internal transfers move money, never create it: `Σ VIREMENT_SORTANT
//!    = Σ VIREMENT_ENTRANT` per currency, and the total of balances equals the net of all
//!    transactions.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use edalab_bus::port::{Bus, BusError, ConsumerConfig, Message, StartFrom};
use edalab_domain::events::topics;
use edalab_domain::ledger::{Account, AccountId, Batch, TransactionKind};
use edalab_schema::SchemaCatalog;
use edalab_store::{InboxOutcome, LedgerStore, StoreError};
use rust_decimal::Decimal;
use uuid::Uuid;

use super::apply::{decide_event, decode_event};
use super::mapping::LedgerEvent;

/// One discrepancy found by [`reconcile`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// A stored balance differs from the sum of its transactions.
    BalanceVsTransactions {
        account_id: String,
        stored: Decimal,
        from_transactions: Decimal,
    },
    /// A stored balance differs from the replay's (`None`: account absent on that side).
    BalanceVsReplay {
        account_id: String,
        stored: Option<Decimal>,
        replayed: Option<Decimal>,
    },
    /// An account's number of transactions differs from the replay's.
    TransactionCountVsReplay {
        account_id: String,
        stored: u64,
        replayed: u64,
    },
    /// The replay decided an event differently than the ledger did.
    DecisionVsReplay {
        event_id: Uuid,
        stored: String,
        replayed: String,
    },
    /// A decodable event on the topics that the ledger never decided.
    EventNotApplied { event_id: Uuid },
    /// An inbox record whose event is not on the topics.
    UnknownInboxEvent { event_id: Uuid },
    /// `Σ VIREMENT_SORTANT ≠ Σ VIREMENT_ENTRANT` in a currency.
    TransfersNotConserved {
        currency: String,
        out_total: Decimal,
        in_total: Decimal,
    },
    /// The total of balances differs from the net of all transactions, in a currency.
    TotalNotConserved {
        currency: String,
        balances: Decimal,
        transactions_net: Decimal,
    },
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::BalanceVsTransactions {
                account_id,
                stored,
                from_transactions,
            } => write!(
                f,
                "account {account_id}: stored balance {stored} != {from_transactions} from its transactions"
            ),
            Mismatch::BalanceVsReplay {
                account_id,
                stored,
                replayed,
            } => write!(
                f,
                "account {account_id}: stored balance {stored:?} != replayed {replayed:?}"
            ),
            Mismatch::TransactionCountVsReplay {
                account_id,
                stored,
                replayed,
            } => write!(
                f,
                "account {account_id}: {stored} stored transactions != {replayed} replayed"
            ),
            Mismatch::DecisionVsReplay {
                event_id,
                stored,
                replayed,
            } => write!(
                f,
                "event {event_id}: ledger decided {stored}, replay decides {replayed}"
            ),
            Mismatch::EventNotApplied { event_id } => {
                write!(f, "event {event_id} is on the topics but was never applied")
            }
            Mismatch::UnknownInboxEvent { event_id } => {
                write!(f, "event {event_id} is in the inbox but not on the topics")
            }
            Mismatch::TransfersNotConserved {
                currency,
                out_total,
                in_total,
            } => write!(
                f,
                "{currency}: transfers out {out_total} != transfers in {in_total}"
            ),
            Mismatch::TotalNotConserved {
                currency,
                balances,
                transactions_net,
            } => write!(
                f,
                "{currency}: total of balances {balances} != net of transactions {transactions_net}"
            ),
        }
    }
}

/// What [`reconcile`] checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconciliationReport {
    pub accounts_checked: usize,
    pub messages_read: usize,
    /// Messages that do not decode (dead-lettered by the ledger, not replayed).
    pub messages_undecodable: usize,
    /// Distinct decodable events replayed.
    pub events_replayed: usize,
    pub mismatches: Vec<Mismatch>,
}

impl ReconciliationReport {
    pub fn is_ok(&self) -> bool {
        self.mismatches.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Bus(#[from] BusError),
}

fn outcome_text(outcome: &InboxOutcome) -> String {
    match outcome {
        InboxOutcome::Applied => "APPLIED".to_owned(),
        InboxOutcome::Rejected { code } => format!("REJECTED {code}"),
    }
}

/// Checks `store` against `messages` (every message of the banking topics, from offset 0,
/// in offset order per partition). See the module documentation.
pub async fn reconcile(
    store: &dyn LedgerStore,
    catalog: &SchemaCatalog,
    messages: &[Message],
) -> Result<ReconciliationReport, ReconcileError> {
    let mut report = ReconciliationReport {
        messages_read: messages.len(),
        ..ReconciliationReport::default()
    };

    // 1. Balances vs transactions.
    let balances = store.all_balances().await?;
    let totals = store.recompute_balances_from_transactions().await?;
    report.accounts_checked = balances.len();
    for (id, balance) in &balances {
        let from_transactions = totals.get(id).map(|t| t.balance).unwrap_or_default();
        if balance.amount() != from_transactions {
            report.mismatches.push(Mismatch::BalanceVsTransactions {
                account_id: id.to_string(),
                stored: balance.amount(),
                from_transactions,
            });
        }
    }
    for (id, totals) in &totals {
        if !balances.contains_key(id) {
            report.mismatches.push(Mismatch::BalanceVsTransactions {
                account_id: id.to_string(),
                stored: Decimal::ZERO,
                from_transactions: totals.balance,
            });
        }
    }

    // 2. Replay in the ledger's decision order, then the never-decided events.
    let mut events: HashMap<Uuid, LedgerEvent> = HashMap::new();
    let mut topic_order: Vec<Uuid> = Vec::new();
    for message in messages {
        match decode_event(catalog, &message.topic, &message.value) {
            Ok(event) => {
                if let std::collections::hash_map::Entry::Vacant(slot) =
                    events.entry(event.event_id)
                {
                    topic_order.push(event.event_id);
                    slot.insert(event);
                }
            }
            Err(_) => report.messages_undecodable += 1,
        }
    }
    report.events_replayed = events.len();
    let decided = store.decided_events().await?;
    let mut decided_ids = HashSet::with_capacity(decided.len());
    let base: HashMap<AccountId, Account> = HashMap::new();
    let mut replay = Batch::new(&base);
    let mut replayed_counts: BTreeMap<AccountId, u64> = BTreeMap::new();
    for record in &decided {
        decided_ids.insert(record.event_id);
        let Some(event) = events.get(&record.event_id) else {
            report.mismatches.push(Mismatch::UnknownInboxEvent {
                event_id: record.event_id,
            });
            continue;
        };
        let replayed = match decide_event(&mut replay, event) {
            Ok(effects) => {
                for tx in effects.iter().flat_map(|e| e.transactions.iter()) {
                    *replayed_counts.entry(tx.account_id().clone()).or_default() += 1;
                }
                InboxOutcome::Applied
            }
            Err(refusal) => InboxOutcome::Rejected {
                code: refusal.code().to_owned(),
            },
        };
        if replayed != record.outcome {
            report.mismatches.push(Mismatch::DecisionVsReplay {
                event_id: record.event_id,
                stored: outcome_text(&record.outcome),
                replayed: outcome_text(&replayed),
            });
        }
    }
    for id in &topic_order {
        if !decided_ids.contains(id) {
            report
                .mismatches
                .push(Mismatch::EventNotApplied { event_id: *id });
        }
    }
    let replayed_accounts: BTreeMap<AccountId, Account> = replay
        .into_effects()
        .accounts
        .into_iter()
        .map(|a| (a.id().clone(), a))
        .collect();
    for (id, balance) in &balances {
        let replayed = replayed_accounts.get(id).map(|a| a.balance().amount());
        if replayed != Some(balance.amount()) {
            report.mismatches.push(Mismatch::BalanceVsReplay {
                account_id: id.to_string(),
                stored: Some(balance.amount()),
                replayed,
            });
        }
        let stored_count = totals.get(id).map(|t| t.transaction_count).unwrap_or(0);
        let replayed_count = replayed_counts.get(id).copied().unwrap_or(0);
        if stored_count != replayed_count {
            report.mismatches.push(Mismatch::TransactionCountVsReplay {
                account_id: id.to_string(),
                stored: stored_count,
                replayed: replayed_count,
            });
        }
    }
    for (id, account) in &replayed_accounts {
        if !balances.contains_key(id) {
            report.mismatches.push(Mismatch::BalanceVsReplay {
                account_id: id.to_string(),
                stored: None,
                replayed: Some(account.balance().amount()),
            });
        }
    }

    // 3. Conservation.
    let sums = store.transaction_sums().await?;
    let mut per_currency: BTreeMap<String, (Decimal, Decimal, Decimal)> = BTreeMap::new();
    for sum in &sums {
        let entry = per_currency
            .entry(sum.currency.as_str().to_owned())
            .or_default();
        match sum.kind {
            TransactionKind::TransferOut => entry.0 += sum.total,
            TransactionKind::TransferIn => entry.1 += sum.total,
            _ => {}
        }
        if sum.kind.is_credit() {
            entry.2 += sum.total;
        } else {
            entry.2 -= sum.total;
        }
    }
    let mut balances_per_currency: BTreeMap<String, Decimal> = BTreeMap::new();
    for balance in balances.values() {
        *balances_per_currency
            .entry(balance.currency().as_str().to_owned())
            .or_default() += balance.amount();
    }
    for (currency, (out_total, in_total, net)) in &per_currency {
        if out_total != in_total {
            report.mismatches.push(Mismatch::TransfersNotConserved {
                currency: currency.clone(),
                out_total: *out_total,
                in_total: *in_total,
            });
        }
        let total = balances_per_currency
            .get(currency)
            .copied()
            .unwrap_or_default();
        if total != *net {
            report.mismatches.push(Mismatch::TotalNotConserved {
                currency: currency.clone(),
                balances: total,
                transactions_net: *net,
            });
        }
    }
    Ok(report)
}

/// Every message of `topics` from the log start to the high watermark at the time of the
/// call, read with a throw-away consumer group. `idle_timeout_ms` bounds the wait for
/// data that the watermarks promise.
pub async fn read_topics_from_start(
    bus: &dyn Bus,
    topic_names: &[&str],
    idle_timeout_ms: u64,
) -> Result<Vec<Message>, BusError> {
    let mut remaining: BTreeMap<(String, u32), u64> = BTreeMap::new();
    for topic in topic_names {
        let description = bus.describe_topic(topic).await?;
        for p in description.partitions {
            if p.high_watermark > p.log_start_offset {
                remaining.insert(((*topic).to_owned(), p.partition), p.high_watermark);
            }
        }
    }
    let mut config = ConsumerConfig::new(
        format!("edalab-check-ledger-{}", Uuid::new_v4()),
        topic_names.iter().map(|t| (*t).to_owned()).collect(),
    );
    config.start_from = StartFrom::Earliest;
    let mut consumer = bus.consumer(config).await?;
    let mut messages = Vec::new();
    let mut idle_ms = 0;
    while !remaining.is_empty() && idle_ms < idle_timeout_ms {
        let batch = consumer.poll(Duration::from_millis(200)).await?;
        if batch.is_empty() {
            idle_ms += 200;
            continue;
        }
        idle_ms = 0;
        for message in batch {
            let key = (message.topic.to_string(), message.partition);
            if let Some(end) = remaining.get(&key).copied()
                && message.offset < end
            {
                let last = message.offset + 1 >= end;
                messages.push(message);
                if last {
                    remaining.remove(&key);
                }
            }
        }
    }
    let _ = consumer.close().await;
    if !remaining.is_empty() {
        return Err(BusError::Backend(format!(
            "reading the banking topics stalled before their end on {} partition(s)",
            remaining.len()
        )));
    }
    Ok(messages)
}

/// `edalab check ledger`: reads the seven banking topics and reconciles `store` with them.
pub async fn check_ledger(
    store: &dyn LedgerStore,
    bus: &dyn Bus,
    catalog: &SchemaCatalog,
) -> Result<ReconciliationReport, ReconcileError> {
    let messages = read_topics_from_start(bus, &topics::BANKING_EVENTS, 10_000).await?;
    reconcile(store, catalog, &messages).await
}
