//! The simulator's account book: which accounts exist, are open, and what they hold, so that
//! generated activity is consistent (S3-06, X-06). Owns only this model; the ledger keeps the
//! real balances.
//!
//! Two balances per account. `balance_cents` is what the ledger should end with.
//! `spendable_cents` counts only the events keyed by the account itself (opening, deposits,
//! withdrawals, premiums, outgoing transfers): those share a partition and so are applied in
//! order, whereas an incoming transfer is keyed by its source and may be applied later. Valid
//! debits never exceed `spendable_cents`, so the ledger never sees a valid debit bounce,
//! whatever the interleaving of partitions.
//!
//! The same reasoning gives two more rules, since the ledger applies a transfer on both
//! accounts when it reads the source's partition: a transfer goes only to an account opened
//! long enough ago (`DESTINATION_SETTLE_ITEMS` in `generator`) for its opening to have been
//! applied, and an account that ever received a transfer is never closed (the ledger closes
//! only zero balances, and refuses a transfer to a closed account).

use std::collections::HashSet;

use rand::Rng;
use uuid::Uuid;

use super::items::AccountType;

#[derive(Debug, Clone, PartialEq)]
pub struct BookAccount {
    pub id: Uuid,
    pub client: u32,
    pub account_type: AccountType,
    pub balance_cents: i64,
    pub spendable_cents: i64,
    pub open: bool,
    /// Whether a transfer was ever sent to it. Such an account is never closed by the
    /// simulator: the ledger might apply that credit after the close.
    pub received_transfer: bool,
    /// The simulator's item sequence number when it was opened.
    pub opened_sequence: u64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct BookClient {
    pub id: String,
    pub name: String,
}

/// Accounts and clients opened so far. Bounded by the scenario's `accounts_max`.
#[derive(Debug, Clone, Default)]
pub struct AccountBook {
    accounts: Vec<BookAccount>,
    /// Indexes into `accounts` of the open ones, in no particular order.
    open: Vec<u32>,
    clients: Vec<BookClient>,
    client_ids: HashSet<String>,
}

impl AccountBook {
    pub fn accounts(&self) -> &[BookAccount] {
        &self.accounts
    }

    pub fn clients(&self) -> &[BookClient] {
        &self.clients
    }

    pub fn accounts_opened_total(&self) -> usize {
        self.accounts.len()
    }

    pub fn open_count(&self) -> usize {
        self.open.len()
    }

    /// Adds a client unless its id is taken; answers its index.
    pub(crate) fn add_client(&mut self, id: String, name: String) -> Option<u32> {
        if !self.client_ids.insert(id.clone()) {
            return None;
        }
        self.clients.push(BookClient { id, name });
        u32::try_from(self.clients.len() - 1).ok()
    }

    pub(crate) fn random_client<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<u32> {
        if self.clients.is_empty() {
            return None;
        }
        u32::try_from(rng.gen_range(0..self.clients.len())).ok()
    }

    pub(crate) fn client(&self, index: u32) -> Option<&BookClient> {
        self.clients.get(index as usize)
    }

    pub(crate) fn open_account(
        &mut self,
        id: Uuid,
        client: u32,
        account_type: AccountType,
        balance_cents: i64,
        opened_sequence: u64,
    ) {
        let Ok(index) = u32::try_from(self.accounts.len()) else {
            return;
        };
        self.accounts.push(BookAccount {
            id,
            client,
            account_type,
            balance_cents,
            spendable_cents: balance_cents,
            open: true,
            received_transfer: false,
            opened_sequence,
        });
        self.open.push(index);
    }

    /// A uniformly chosen open account, as a position in the open list.
    pub(crate) fn random_open<R: Rng + ?Sized>(&self, rng: &mut R) -> Option<usize> {
        if self.open.is_empty() {
            return None;
        }
        Some(rng.gen_range(0..self.open.len()))
    }

    /// The account at a position of the open list.
    pub(crate) fn open_at(&self, position: usize) -> Option<&BookAccount> {
        let index = *self.open.get(position)?;
        self.accounts.get(index as usize)
    }

    fn open_at_mut(&mut self, position: usize) -> Option<&mut BookAccount> {
        let index = *self.open.get(position)?;
        self.accounts.get_mut(index as usize)
    }

    pub(crate) fn credit_own(&mut self, position: usize, cents: i64) {
        if let Some(a) = self.open_at_mut(position) {
            a.balance_cents += cents;
            a.spendable_cents += cents;
        }
    }

    pub(crate) fn debit_own(&mut self, position: usize, cents: i64) {
        if let Some(a) = self.open_at_mut(position) {
            a.balance_cents -= cents;
            a.spendable_cents -= cents;
        }
    }

    /// An incoming transfer: the balance grows, the spendable part does not (see module doc).
    pub(crate) fn credit_incoming(&mut self, position: usize, cents: i64) {
        if let Some(a) = self.open_at_mut(position) {
            a.balance_cents += cents;
            a.received_transfer = true;
        }
    }

    pub(crate) fn close(&mut self, position: usize) -> Option<Uuid> {
        if position >= self.open.len() {
            return None;
        }
        let index = self.open.swap_remove(position);
        let account = self.accounts.get_mut(index as usize)?;
        account.open = false;
        Some(account.id)
    }
}
