//! A ledger held in a `HashMap`: the reference implementation of storing [`Effects`],
//! used by tests, property tests and simulations. No persistence.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::model::{Account, AccountId, LedgerTransaction};
use super::rules::{AccountView, Command, Effects, Refusal, TransactionIds, decide};
use crate::money::{Currency, Money, MoneyError};

/// Accounts by id and every transaction, in the order they were recorded.
#[derive(Debug, Clone, Default)]
pub struct InMemoryLedger {
    accounts: HashMap<AccountId, Account>,
    transactions: Vec<LedgerTransaction>,
}

impl InMemoryLedger {
    pub fn new() -> Self {
        Self::default()
    }

    /// Decides `command` and, when accepted, stores its effects.
    pub fn apply(
        &mut self,
        command: &Command,
        at: DateTime<Utc>,
        ids: &mut impl TransactionIds,
    ) -> Result<Effects, Refusal> {
        let effects = decide(&self.accounts, command, at, ids)?;
        self.commit(&effects);
        Ok(effects)
    }

    /// Stores effects decided elsewhere (e.g. a [`super::Batch`]'s combined effects).
    pub fn commit(&mut self, effects: &Effects) {
        for account in &effects.accounts {
            self.accounts.insert(account.id().clone(), account.clone());
        }
        self.transactions
            .extend(effects.transactions.iter().cloned());
    }

    pub fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.get(id)
    }

    pub fn accounts(&self) -> impl Iterator<Item = &Account> {
        self.accounts.values()
    }

    pub fn accounts_by_id(&self) -> &HashMap<AccountId, Account> {
        &self.accounts
    }

    pub fn transactions(&self) -> &[LedgerTransaction] {
        &self.transactions
    }

    /// One account's transactions, oldest first.
    pub fn transactions_of<'a>(
        &'a self,
        id: &'a AccountId,
    ) -> impl Iterator<Item = &'a LedgerTransaction> + 'a {
        self.transactions
            .iter()
            .filter(move |tx| tx.account_id() == id)
    }

    /// Sum of the balances of every account in `currency`.
    pub fn total_balance(&self, currency: Currency) -> Result<Money, MoneyError> {
        self.accounts
            .values()
            .filter(|a| a.currency() == currency)
            .try_fold(Money::zero(currency), |total, a| {
                total.checked_add(&a.balance())
            })
    }
}

impl AccountView for InMemoryLedger {
    fn account(&self, id: &AccountId) -> Option<&Account> {
        self.accounts.get(id)
    }
}
