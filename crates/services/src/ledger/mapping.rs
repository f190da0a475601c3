//! Banking events → ledger commands: the one place where a decoded `bancaire.*` event
//! becomes a domain [`Command`] (parse, don't validate). A field the domain cannot accept
//! (blank id, unknown currency, more than two decimals) makes the event invalid
//! ([`MappingError`], dead-lettered); a well-formed event the ledger refuses is a
//! business refusal, decided later by the domain rules.
//!
//! | event | command |
//! |---|---|
//! | `CompteOuvert` | `Open` (IBAN kept from `metadata["iban"]`) |
//! | `DepotEffectue` | `Deposit` |
//! | `RetraitEffectue` | `Withdraw` |
//! | `VirementEmis` (`statut` ≠ `REJETE`) | `Transfer` (both sides, one change) |
//! | `VirementEmis` (`statut` = `REJETE`) | none: recorded, no effect |
//! | `VirementRecu` with `virement_emis_event_id` | none: the credit side of an internal transfer already applied by its `VirementEmis` |
//! | `VirementRecu` without it | `Deposit` on the destination (a transfer from another bank) |
//! | `PaiementPrimeEffectue` | `PayPremium` |
//! | `CompteFerme` | `Close` |

use chrono::{DateTime, Utc};
use edalab_domain::events::{BankingEvent, TransferStatus};
use edalab_domain::ledger::{AccountId, AccountType, ClientId, Command, Reference};
use edalab_domain::{Currency, Money};
use rust_decimal::Decimal;
use uuid::Uuid;

/// What the ledger does with one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Decide this command.
    Apply(Command),
    /// Record the event as applied, change nothing (the reason is for logs).
    Skip(&'static str),
}

/// A banking event ready for the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEvent {
    pub event_id: Uuid,
    /// `CompteOuvert`, `DepotEffectue`, ...
    pub event_type: &'static str,
    pub timestamp: DateTime<Utc>,
    /// The account the event is keyed by (the rejection event's `compte_id`).
    pub account_id: String,
    pub action: Action,
    /// `metadata["iban"]` of a `CompteOuvert`.
    pub iban: Option<String>,
}

/// Why a decoded event cannot become a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingError {
    #[error("{event_type} {event_id}: field `{field}`: {reason}")]
    Field {
        event_type: &'static str,
        event_id: Uuid,
        field: &'static str,
        reason: String,
    },
    #[error("{event_type} events are not consumed by the ledger")]
    NotForLedger { event_type: &'static str },
}

struct Fields {
    event_type: &'static str,
    event_id: Uuid,
}

impl Fields {
    fn err(&self, field: &'static str, reason: impl Into<String>) -> MappingError {
        MappingError::Field {
            event_type: self.event_type,
            event_id: self.event_id,
            field,
            reason: reason.into(),
        }
    }

    fn account(&self, field: &'static str, value: &str) -> Result<AccountId, MappingError> {
        AccountId::parse(value).map_err(|e| self.err(field, e))
    }

    fn money(
        &self,
        field: &'static str,
        amount: Decimal,
        currency: &str,
    ) -> Result<Money, MappingError> {
        let currency = Currency::parse(currency).map_err(|e| self.err("devise", e.to_string()))?;
        Money::from_exact(amount, currency).map_err(|e| self.err(field, e.to_string()))
    }

    fn reference(&self, value: &str) -> Result<Option<Reference>, MappingError> {
        if value.trim().is_empty() {
            return Ok(None);
        }
        Reference::parse(value)
            .map(Some)
            .map_err(|e| self.err("reference", e))
    }
}

/// Maps a decoded banking event to what the ledger does with it.
pub fn to_ledger_event(event: &BankingEvent) -> Result<LedgerEvent, MappingError> {
    let f = Fields {
        event_type: event.event_type(),
        event_id: event.event_id(),
    };
    let mut iban = None;
    let action = match event {
        BankingEvent::AccountOpened(e) => {
            iban = e
                .metadata
                .as_ref()
                .and_then(|m| m.get("iban"))
                .filter(|v| !v.trim().is_empty() && v.len() <= 34)
                .cloned();
            Action::Apply(Command::Open {
                account_id: f.account("compte_id", &e.account_id)?,
                client_id: ClientId::parse(e.client_id.clone())
                    .map_err(|r| f.err("client_id", r))?,
                account_type: e
                    .account_type
                    .as_str()
                    .parse::<AccountType>()
                    .map_err(|r| f.err("type_compte", r))?,
                initial_balance: f.money("solde_initial", e.initial_balance, &e.currency)?,
                reference: None,
            })
        }
        BankingEvent::AccountClosed(e) => Action::Apply(Command::Close {
            account_id: f.account("compte_id", &e.account_id)?,
        }),
        BankingEvent::DepositMade(e) => Action::Apply(Command::Deposit {
            account_id: f.account("compte_id", &e.account_id)?,
            amount: f.money("montant", e.amount, &e.currency)?,
            reference: f.reference(&e.reference)?,
        }),
        BankingEvent::WithdrawalMade(e) => Action::Apply(Command::Withdraw {
            account_id: f.account("compte_id", &e.account_id)?,
            amount: f.money("montant", e.amount, &e.currency)?,
            reference: f.reference(&e.reference)?,
        }),
        BankingEvent::TransferIssued(e) => {
            let command = Command::Transfer {
                source_id: f.account("compte_source_id", &e.source_account_id)?,
                destination_id: f.account("compte_destination_id", &e.destination_account_id)?,
                amount: f.money("montant", e.amount, &e.currency)?,
                reference: f.reference(&e.reference)?,
            };
            if e.status == TransferStatus::Rejected {
                Action::Skip("transfer issued with statut REJETE")
            } else {
                Action::Apply(command)
            }
        }
        BankingEvent::TransferReceived(e) => {
            let command = Command::Deposit {
                account_id: f.account("compte_destination_id", &e.destination_account_id)?,
                amount: f.money("montant", e.amount, &e.currency)?,
                reference: f.reference(&e.reference)?,
            };
            if e.issued_event_id.is_some() {
                Action::Skip("credit side of an internal transfer, applied with its VirementEmis")
            } else {
                Action::Apply(command)
            }
        }
        BankingEvent::PremiumPaid(e) => Action::Apply(Command::PayPremium {
            account_id: f.account("compte_id", &e.account_id)?,
            amount: f.money("montant", e.amount, &e.currency)?,
            reference: f
                .reference(&e.reference)?
                .ok_or_else(|| f.err("reference", "must not be empty"))?,
        }),
        BankingEvent::OperationRejected(_) => {
            return Err(MappingError::NotForLedger {
                event_type: f.event_type,
            });
        }
    };
    Ok(LedgerEvent {
        event_id: f.event_id,
        event_type: f.event_type,
        timestamp: event.timestamp(),
        account_id: event.key().to_owned(),
        action,
        iban,
    })
}

/// The accounts a command reads and may change.
pub fn touched_accounts(command: &Command) -> [Option<&AccountId>; 2] {
    match command {
        Command::Open { account_id, .. }
        | Command::Deposit { account_id, .. }
        | Command::Withdraw { account_id, .. }
        | Command::PayPremium { account_id, .. }
        | Command::Close { account_id }
        | Command::Block { account_id }
        | Command::Unblock { account_id } => [Some(account_id), None],
        Command::Transfer {
            source_id,
            destination_id,
            ..
        } => [Some(source_id), Some(destination_id)],
    }
}
