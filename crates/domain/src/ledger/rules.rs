//! The ledger's state machine: a [`Command`] checked against an [`AccountView`] gives
//! either [`Effects`] (accounts to upsert, transactions to insert) or a [`Refusal`].
//! Pure: no I/O, the time and the transaction ids come in as arguments.

use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::model::{
    Account, AccountId, AccountStatus, AccountType, ClientId, LedgerTransaction, Reference,
    TransactionId, TransactionKind,
};
use crate::money::{Currency, Money, MoneyError};

/// Read access to the accounts a command may touch: a map loaded for a batch, a
/// [`Batch`] overlay, or the in-memory ledger.
pub trait AccountView {
    fn account(&self, id: &AccountId) -> Option<&Account>;
}

impl<S: BuildHasher> AccountView for HashMap<AccountId, Account, S> {
    fn account(&self, id: &AccountId) -> Option<&Account> {
        self.get(id)
    }
}

impl AccountView for BTreeMap<AccountId, Account> {
    fn account(&self, id: &AccountId) -> Option<&Account> {
        self.get(id)
    }
}

/// Source of ids for new transactions (injected, like the clock). Any
/// `FnMut() -> TransactionId` closure is one.
pub trait TransactionIds {
    fn next_transaction_id(&mut self) -> TransactionId;
}

impl<F: FnMut() -> TransactionId> TransactionIds for F {
    fn next_transaction_id(&mut self) -> TransactionId {
        self()
    }
}

/// Deterministic ids `00000000-0000-0000-0000-000000000001`, `...2`, ... for tests and
/// replays.
#[derive(Debug, Clone, Default)]
pub struct SequentialTransactionIds {
    last: u128,
}

impl TransactionIds for SequentialTransactionIds {
    fn next_transaction_id(&mut self) -> TransactionId {
        self.last = self.last.wrapping_add(1);
        TransactionId(Uuid::from_u128(self.last))
    }
}

/// What the ledger is asked to do. Amounts are [`Money`] of any sign: a non-positive
/// amount is a [`Refusal`], because it can arrive in a well-formed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Opens an `ACTIF` account in `initial_balance`'s currency (`CompteOuvert`).
    Open {
        account_id: AccountId,
        client_id: ClientId,
        account_type: AccountType,
        initial_balance: Money,
        reference: Option<Reference>,
    },
    /// Credits an account (`DepotEffectue`).
    Deposit {
        account_id: AccountId,
        amount: Money,
        reference: Option<Reference>,
    },
    /// Debits an account (`RetraitEffectue`).
    Withdraw {
        account_id: AccountId,
        amount: Money,
        reference: Option<Reference>,
    },
    /// Moves money between two accounts of this ledger (`VirementEmis`), as one change.
    Transfer {
        source_id: AccountId,
        destination_id: AccountId,
        amount: Money,
        reference: Option<Reference>,
    },
    /// Pays a premium into an account (`PaiementPrimeEffectue`); see the module doc.
    PayPremium {
        account_id: AccountId,
        amount: Money,
        reference: Reference,
    },
    /// Closes an account with a zero balance (`CompteFerme`).
    Close { account_id: AccountId },
    /// Blocks an account: no money moves in or out until unblocked.
    Block { account_id: AccountId },
    /// Unblocks a blocked account.
    Unblock { account_id: AccountId },
}

/// A business refusal: the command is well-formed but the ledger says no. Each has a
/// stable [`code`](Refusal::code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("account {account_id} does not exist")]
    UnknownAccount { account_id: AccountId },
    #[error("account {account_id} already exists with different data")]
    AccountAlreadyExists { account_id: AccountId },
    #[error("account {account_id} is closed")]
    AccountClosed { account_id: AccountId },
    #[error("account {account_id} is blocked")]
    AccountBlocked { account_id: AccountId },
    #[error("insufficient funds on account {account_id}: balance {balance}, requested {requested}")]
    InsufficientFunds {
        account_id: AccountId,
        balance: Money,
        requested: Money,
    },
    #[error("account {account_id} is in {account_currency}, the amount is in {amount_currency}")]
    CurrencyMismatch {
        account_id: AccountId,
        account_currency: Currency,
        amount_currency: Currency,
    },
    #[error("amount {amount} must be > 0")]
    NonPositiveAmount { amount: Money },
    #[error("initial balance {amount} must not be negative")]
    NegativeInitialBalance { amount: Money },
    #[error("source and destination are the same account {account_id}")]
    SameAccount { account_id: AccountId },
    #[error("account {account_id} has a non-zero balance {balance}")]
    NonZeroBalance {
        account_id: AccountId,
        balance: Money,
    },
    #[error("the balance of account {account_id} would exceed the decimal(18,2) limit")]
    BalanceLimitExceeded { account_id: AccountId },
}

impl Refusal {
    /// Stable code for events, logs and API bodies.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownAccount { .. } => "UNKNOWN_ACCOUNT",
            Refusal::AccountAlreadyExists { .. } => "ACCOUNT_ALREADY_EXISTS",
            Refusal::AccountClosed { .. } => "ACCOUNT_CLOSED",
            Refusal::AccountBlocked { .. } => "ACCOUNT_BLOCKED",
            Refusal::InsufficientFunds { .. } => "INSUFFICIENT_FUNDS",
            Refusal::CurrencyMismatch { .. } => "CURRENCY_MISMATCH",
            Refusal::NonPositiveAmount { .. } => "NON_POSITIVE_AMOUNT",
            Refusal::NegativeInitialBalance { .. } => "NEGATIVE_INITIAL_BALANCE",
            Refusal::SameAccount { .. } => "SAME_ACCOUNT",
            Refusal::NonZeroBalance { .. } => "NON_ZERO_BALANCE",
            Refusal::BalanceLimitExceeded { .. } => "BALANCE_LIMIT_EXCEEDED",
        }
    }
}

/// What an accepted command changes: the new state of every account it touched
/// (to upsert by id) and the transactions to insert, in order. Empty when the
/// command was accepted as a no-op (idempotent open, block of a blocked account...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Effects {
    pub accounts: Vec<Account>,
    pub transactions: Vec<LedgerTransaction>,
}

impl Effects {
    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty() && self.transactions.is_empty()
    }
}

/// Decides `command` against `view` at time `at`. Pure: `view` is not changed; the
/// caller stores the returned [`Effects`] (or folds them into a [`Batch`]).
pub fn decide(
    view: &(impl AccountView + ?Sized),
    command: &Command,
    at: DateTime<Utc>,
    ids: &mut impl TransactionIds,
) -> Result<Effects, Refusal> {
    match command {
        Command::Open {
            account_id,
            client_id,
            account_type,
            initial_balance,
            reference,
        } => open(
            view,
            account_id,
            client_id,
            *account_type,
            initial_balance,
            reference,
            at,
            ids,
        ),
        Command::Deposit {
            account_id,
            amount,
            reference,
        } => credit(
            view,
            account_id,
            amount,
            TransactionKind::Deposit,
            reference.clone(),
            at,
            ids,
        ),
        Command::PayPremium {
            account_id,
            amount,
            reference,
        } => credit(
            view,
            account_id,
            amount,
            TransactionKind::Deposit,
            Some(reference.clone()),
            at,
            ids,
        ),
        Command::Withdraw {
            account_id,
            amount,
            reference,
        } => {
            require_positive(amount)?;
            let account = active_account(view, account_id)?;
            require_currency(account, amount)?;
            let balance = debited_balance(account, amount)?;
            Ok(Effects {
                accounts: vec![account.with_balance(balance, at)],
                transactions: vec![LedgerTransaction::new(
                    ids.next_transaction_id(),
                    account_id.clone(),
                    TransactionKind::Withdrawal,
                    *amount,
                    reference.clone(),
                    at,
                )],
            })
        }
        Command::Transfer {
            source_id,
            destination_id,
            amount,
            reference,
        } => {
            if source_id == destination_id {
                return Err(Refusal::SameAccount {
                    account_id: source_id.clone(),
                });
            }
            require_positive(amount)?;
            let source = active_account(view, source_id)?;
            let destination = active_account(view, destination_id)?;
            require_currency(source, amount)?;
            require_currency(destination, amount)?;
            let source_balance = debited_balance(source, amount)?;
            let destination_balance = credited_balance(destination, amount)?;
            Ok(Effects {
                accounts: vec![
                    source.with_balance(source_balance, at),
                    destination.with_balance(destination_balance, at),
                ],
                transactions: vec![
                    LedgerTransaction::new(
                        ids.next_transaction_id(),
                        source_id.clone(),
                        TransactionKind::TransferOut,
                        *amount,
                        reference.clone(),
                        at,
                    ),
                    LedgerTransaction::new(
                        ids.next_transaction_id(),
                        destination_id.clone(),
                        TransactionKind::TransferIn,
                        *amount,
                        reference.clone(),
                        at,
                    ),
                ],
            })
        }
        Command::Close { account_id } => {
            let account = active_account(view, account_id)?;
            if !account.balance().is_zero() {
                return Err(Refusal::NonZeroBalance {
                    account_id: account_id.clone(),
                    balance: account.balance(),
                });
            }
            Ok(status_change(account, AccountStatus::Closed, at))
        }
        Command::Block { account_id } => {
            let account = existing_account(view, account_id)?;
            match account.status() {
                AccountStatus::Closed => Err(Refusal::AccountClosed {
                    account_id: account_id.clone(),
                }),
                AccountStatus::Blocked => Ok(Effects::default()),
                AccountStatus::Active => Ok(status_change(account, AccountStatus::Blocked, at)),
            }
        }
        Command::Unblock { account_id } => {
            let account = existing_account(view, account_id)?;
            match account.status() {
                AccountStatus::Closed => Err(Refusal::AccountClosed {
                    account_id: account_id.clone(),
                }),
                AccountStatus::Active => Ok(Effects::default()),
                AccountStatus::Blocked => Ok(status_change(account, AccountStatus::Active, at)),
            }
        }
    }
}

#[allow(clippy::too_many_arguments)] // the fields of `Command::Open`, plus time and ids
fn open(
    view: &(impl AccountView + ?Sized),
    account_id: &AccountId,
    client_id: &ClientId,
    account_type: AccountType,
    initial_balance: &Money,
    reference: &Option<Reference>,
    at: DateTime<Utc>,
    ids: &mut impl TransactionIds,
) -> Result<Effects, Refusal> {
    if initial_balance.is_negative() {
        return Err(Refusal::NegativeInitialBalance {
            amount: *initial_balance,
        });
    }
    if let Some(existing) = view.account(account_id) {
        // The balance is not compared: it has moved since the opening. Recognising an
        // exact redelivery is the inbox's job; here the same account is enough.
        let same = existing.client_id() == client_id
            && existing.account_type() == account_type
            && existing.currency() == initial_balance.currency();
        return if same {
            Ok(Effects::default())
        } else {
            Err(Refusal::AccountAlreadyExists {
                account_id: account_id.clone(),
            })
        };
    }
    let account = Account::open(
        account_id.clone(),
        client_id.clone(),
        account_type,
        initial_balance.currency(),
        at,
    );
    if !initial_balance.is_positive() {
        return Ok(Effects {
            accounts: vec![account],
            transactions: Vec::new(),
        });
    }
    Ok(Effects {
        accounts: vec![account.with_balance(*initial_balance, at)],
        transactions: vec![LedgerTransaction::new(
            ids.next_transaction_id(),
            account_id.clone(),
            TransactionKind::Deposit,
            *initial_balance,
            reference.clone(),
            at,
        )],
    })
}

fn credit(
    view: &(impl AccountView + ?Sized),
    account_id: &AccountId,
    amount: &Money,
    kind: TransactionKind,
    reference: Option<Reference>,
    at: DateTime<Utc>,
    ids: &mut impl TransactionIds,
) -> Result<Effects, Refusal> {
    require_positive(amount)?;
    let account = active_account(view, account_id)?;
    require_currency(account, amount)?;
    let balance = credited_balance(account, amount)?;
    Ok(Effects {
        accounts: vec![account.with_balance(balance, at)],
        transactions: vec![LedgerTransaction::new(
            ids.next_transaction_id(),
            account_id.clone(),
            kind,
            *amount,
            reference,
            at,
        )],
    })
}

fn status_change(account: &Account, status: AccountStatus, at: DateTime<Utc>) -> Effects {
    Effects {
        accounts: vec![account.with_status(status, at)],
        transactions: Vec::new(),
    }
}

fn require_positive(amount: &Money) -> Result<(), Refusal> {
    if amount.is_positive() {
        Ok(())
    } else {
        Err(Refusal::NonPositiveAmount { amount: *amount })
    }
}

fn existing_account<'v>(
    view: &'v (impl AccountView + ?Sized),
    account_id: &AccountId,
) -> Result<&'v Account, Refusal> {
    view.account(account_id)
        .ok_or_else(|| Refusal::UnknownAccount {
            account_id: account_id.clone(),
        })
}

/// The account, if it exists and is `ACTIF`.
fn active_account<'v>(
    view: &'v (impl AccountView + ?Sized),
    account_id: &AccountId,
) -> Result<&'v Account, Refusal> {
    let account = existing_account(view, account_id)?;
    match account.status() {
        AccountStatus::Active => Ok(account),
        AccountStatus::Closed => Err(Refusal::AccountClosed {
            account_id: account_id.clone(),
        }),
        AccountStatus::Blocked => Err(Refusal::AccountBlocked {
            account_id: account_id.clone(),
        }),
    }
}

fn require_currency(account: &Account, amount: &Money) -> Result<(), Refusal> {
    if account.currency() == amount.currency() {
        Ok(())
    } else {
        Err(Refusal::CurrencyMismatch {
            account_id: account.id().clone(),
            account_currency: account.currency(),
            amount_currency: amount.currency(),
        })
    }
}

fn debited_balance(account: &Account, amount: &Money) -> Result<Money, Refusal> {
    let balance = account.balance();
    match balance.checked_sub(amount) {
        Ok(new_balance) if !new_balance.is_negative() => Ok(new_balance),
        Ok(_) | Err(MoneyError::OutOfRange { .. } | MoneyError::Overflow) => {
            Err(Refusal::InsufficientFunds {
                account_id: account.id().clone(),
                balance,
                requested: *amount,
            })
        }
        Err(MoneyError::CurrencyMismatch { .. } | MoneyError::TooPrecise { .. }) => {
            Err(currency_mismatch(account, amount))
        }
    }
}

fn credited_balance(account: &Account, amount: &Money) -> Result<Money, Refusal> {
    match account.balance().checked_add(amount) {
        Ok(new_balance) => Ok(new_balance),
        Err(MoneyError::OutOfRange { .. } | MoneyError::Overflow) => {
            Err(Refusal::BalanceLimitExceeded {
                account_id: account.id().clone(),
            })
        }
        Err(MoneyError::CurrencyMismatch { .. } | MoneyError::TooPrecise { .. }) => {
            Err(currency_mismatch(account, amount))
        }
    }
}

fn currency_mismatch(account: &Account, amount: &Money) -> Refusal {
    Refusal::CurrencyMismatch {
        account_id: account.id().clone(),
        account_currency: account.currency(),
        amount_currency: amount.currency(),
    }
}

/// Applies several commands in memory on top of a base view, each seeing the effects of
/// the ones before, so a ledger service can decide a whole batch with one read and
/// store it with one write. A refused command leaves the batch unchanged.
#[derive(Debug)]
pub struct Batch<'v, V: AccountView + ?Sized> {
    base: &'v V,
    changed: HashMap<AccountId, Account>,
    /// Ids of `changed`, in the order they were first changed (deterministic output).
    changed_order: Vec<AccountId>,
    transactions: Vec<LedgerTransaction>,
}

impl<'v, V: AccountView + ?Sized> Batch<'v, V> {
    pub fn new(base: &'v V) -> Self {
        Self {
            base,
            changed: HashMap::new(),
            changed_order: Vec::new(),
            transactions: Vec::new(),
        }
    }

    /// Decides `command` against the base plus this batch's changes, and keeps its
    /// effects when accepted. Returns the command's own effects.
    pub fn apply(
        &mut self,
        command: &Command,
        at: DateTime<Utc>,
        ids: &mut impl TransactionIds,
    ) -> Result<Effects, Refusal> {
        let effects = decide(&*self, command, at, ids)?;
        for account in &effects.accounts {
            if self
                .changed
                .insert(account.id().clone(), account.clone())
                .is_none()
            {
                self.changed_order.push(account.id().clone());
            }
        }
        self.transactions
            .extend(effects.transactions.iter().cloned());
        Ok(effects)
    }

    /// The batch's combined effects: the last state of each changed account (in the
    /// order first changed) and every transaction in order.
    pub fn into_effects(mut self) -> Effects {
        let accounts = self
            .changed_order
            .iter()
            .filter_map(|id| self.changed.remove(id))
            .collect();
        Effects {
            accounts,
            transactions: self.transactions,
        }
    }
}

impl<V: AccountView + ?Sized> AccountView for Batch<'_, V> {
    fn account(&self, id: &AccountId) -> Option<&Account> {
        self.changed.get(id).or_else(|| self.base.account(id))
    }
}
