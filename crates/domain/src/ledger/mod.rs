//! The banking ledger ("bancaire", S3-08, S3-09): accounts, their transactions and the
//! rules that move money between them.
//!
//! This module owns the account and transaction model ([`Account`],
//! [`LedgerTransaction`], with their French wire names), the commands the ledger
//! accepts ([`Command`]), the business refusals ([`Refusal`], each with a stable code)
//! and the pure state machine [`decide`]. It may not store anything: a command checked
//! against an [`AccountView`] yields [`Effects`] (accounts to upsert, transactions to
//! insert) which the caller persists, e.g. in one database transaction with its inbox
//! and outbox. [`Batch`] applies many commands in memory over one view so that a ledger
//! service can decide a whole batch of events before one write; [`InMemoryLedger`] is
//! the simple HashMap store used by tests. Time (`at`) and transaction ids
//! ([`TransactionIds`]) are injected.
//!
//! # Rules
//! - **Money moves only on `ACTIF` accounts.** Deposit, withdrawal, transfer (both
//!   sides) and premium payment refuse a `FERME` account (`ACCOUNT_CLOSED`) or a
//!   `BLOQUE` one (`ACCOUNT_BLOCKED`), an unknown account (`UNKNOWN_ACCOUNT`), an amount
//!   `<= 0` (`NON_POSITIVE_AMOUNT`) and an amount in another currency than the
//!   account's (`CURRENCY_MISMATCH`). A credit that would take a balance to `10^16` or
//!   more is refused (`BALANCE_LIMIT_EXCEEDED`).
//! - **A balance never goes negative**: a withdrawal or transfer larger than the balance
//!   is refused (`INSUFFICIENT_FUNDS`); there is no overdraft.
//! - **Open** creates an `ACTIF` account in the initial balance's currency, with a
//!   `DEPOT` transaction when the initial balance is `> 0`; a negative initial balance
//!   is refused (`NEGATIVE_INITIAL_BALANCE`). Opening an existing id again with the same
//!   client, type and currency is accepted with no effect (idempotent); with different
//!   data it is refused (`ACCOUNT_ALREADY_EXISTS`). The initial balance is not compared,
//!   since the balance has moved since the opening.
//! - **Internal transfer** debits the source (`VIREMENT_SORTANT`) and credits the
//!   destination (`VIREMENT_ENTRANT`) as one change: both new account states and both
//!   transactions come back together in one [`Effects`], or nothing does. Source and
//!   destination must differ (`SAME_ACCOUNT`) and both exist in this ledger.
//! - **Premium payment** (`paiement-prime`, topic `bancaire.paiement-prime.effectue`):
//!   a credit paid into an account. Same rule as a deposit (an `ACTIF` account,
//!   amount `> 0`, the account's currency) but the reference is required, and it is
//!   recorded as a `DEPOT` transaction carrying that reference (the transaction kinds of
//!   S3-08 have no dedicated premium kind).
//! - **Close** only an `ACTIF` account whose balance is exactly zero
//!   (`NON_ZERO_BALANCE`); closing a closed account is `ACCOUNT_CLOSED`, a blocked one
//!   `ACCOUNT_BLOCKED`. A closed account never reopens.
//! - **Block** an `ACTIF` account (blocking a blocked one is a no-op; a closed one is
//!   `ACCOUNT_CLOSED`); **unblock** brings it back to `ACTIF`.
//!
//! Transaction amounts are always positive; the kind says credit or debit. So for every
//! account, `balance = Σ credits − Σ debits` over its transactions.

mod memory;
mod model;
mod rules;

pub use memory::InMemoryLedger;
pub use model::{
    Account, AccountId, AccountRecord, AccountStatus, AccountType, ClientId, LedgerTransaction,
    Reference, TransactionId, TransactionKind, TransactionRecord,
};
pub use rules::{
    AccountView, Batch, Command, Effects, Refusal, SequentialTransactionIds, TransactionIds, decide,
};

#[cfg(test)]
mod tests;
