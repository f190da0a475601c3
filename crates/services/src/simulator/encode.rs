//! Bytes for the bus, the HTTP client or the file writer. Owns the mapping from the
//! simulator's [`BankingOperation`] to the domain's [`BankingEvent`] contracts, and picks the
//! codec: Avro in the Confluent wire format (through `edalab-schema`) for banking topics,
//! JSON for the other pipelines, the bytes as they are for poison items. Does not decide
//! what is generated.

use std::collections::BTreeMap;
use std::sync::Arc;

use edalab_domain::events::{
    AccountClosed, AccountOpened, BankingEvent, Channel, DepositMade, PremiumPaid, TransferIssued,
    TransferStatus, WithdrawalMade, truncate_to_millis,
};
use edalab_schema::{SchemaCatalog, WireError, encode_banking};

use super::items::{BankingOperation, GeneratedItem, Payload, WithdrawalChannel};

/// Metadata key of the IBAN in `CompteOuvert` (shown by `GET /api/v1/comptes/:id`).
pub const METADATA_IBAN: &str = "iban";
/// Metadata key saying a withdrawal was made at a cash machine (`DAB`).
pub const METADATA_TERMINAL: &str = "terminal";

#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    #[error("avro encoding failed: {0}")]
    Avro(#[from] WireError),
    #[error("json encoding failed: {0}")]
    Json(#[from] serde_json::Error),
}

/// The domain event for a banking operation. Timestamps are cut to milliseconds, the
/// precision the Avro schemas keep.
pub fn to_banking_event(op: &BankingOperation) -> BankingEvent {
    match op {
        BankingOperation::OpenAccount {
            event_id,
            at,
            account_id,
            client_id,
            account_type,
            currency,
            initial_balance,
            iban,
            holder_name: _,
        } => BankingEvent::AccountOpened(AccountOpened {
            event_id: *event_id,
            timestamp: truncate_to_millis(*at),
            account_id: account_id.to_string(),
            client_id: client_id.clone(),
            account_type: *account_type,
            currency: currency.clone(),
            initial_balance: *initial_balance,
            // One entry only: `edalab-schema` writes Avro maps through a `HashMap`, so a map of
            // two or more entries would not give the same bytes twice. The holder's name
            // stays in the simulator's item (`holder_name`) until that is fixed.
            metadata: Some(BTreeMap::from([(METADATA_IBAN.to_string(), iban.clone())])),
        }),
        BankingOperation::Deposit {
            event_id,
            at,
            account_id,
            amount,
            currency,
            reference,
            channel,
        } => BankingEvent::DepositMade(DepositMade {
            event_id: *event_id,
            timestamp: truncate_to_millis(*at),
            account_id: account_id.to_string(),
            amount: *amount,
            currency: currency.clone(),
            reference: reference.clone(),
            channel: *channel,
            metadata: None,
        }),
        BankingOperation::Withdrawal {
            event_id,
            at,
            account_id,
            amount,
            currency,
            reference,
            channel,
        } => {
            let (channel, metadata) = match channel {
                // The contract's channels have no cash machine: a card is used there.
                WithdrawalChannel::Distributeur => (
                    Channel::Card,
                    Some(BTreeMap::from([(
                        METADATA_TERMINAL.to_string(),
                        "DAB".to_string(),
                    )])),
                ),
                WithdrawalChannel::Carte => (Channel::Card, None),
                WithdrawalChannel::Guichet => (Channel::Counter, None),
            };
            BankingEvent::WithdrawalMade(WithdrawalMade {
                event_id: *event_id,
                timestamp: truncate_to_millis(*at),
                account_id: account_id.to_string(),
                amount: *amount,
                currency: currency.clone(),
                reference: reference.clone(),
                channel,
                metadata,
            })
        }
        BankingOperation::Transfer {
            event_id,
            at,
            source_account_id,
            destination_account_id,
            amount,
            currency,
            motive,
            reference,
        } => BankingEvent::TransferIssued(TransferIssued {
            event_id: *event_id,
            timestamp: truncate_to_millis(*at),
            source_account_id: source_account_id.to_string(),
            destination_account_id: destination_account_id.to_string(),
            amount: *amount,
            currency: currency.clone(),
            label: (*motive).to_string(),
            reference: reference.clone(),
            status: TransferStatus::Initiated,
            metadata: None,
        }),
        BankingOperation::Premium {
            event_id,
            at,
            account_id,
            amount,
            currency,
            reference,
            contract_id,
        } => BankingEvent::PremiumPaid(PremiumPaid {
            event_id: *event_id,
            timestamp: truncate_to_millis(*at),
            account_id: account_id.to_string(),
            contract_id: contract_id.clone(),
            amount: *amount,
            currency: currency.clone(),
            reference: reference.clone(),
            metadata: None,
        }),
        BankingOperation::CloseAccount {
            event_id,
            at,
            account_id,
            client_id,
            reason,
        } => BankingEvent::AccountClosed(AccountClosed {
            event_id: *event_id,
            timestamp: truncate_to_millis(*at),
            account_id: account_id.to_string(),
            client_id: client_id.clone(),
            reason: (*reason).to_string(),
            metadata: None,
        }),
    }
}

/// Encodes generated items. Holds the schema catalog (ids of the built-in registry, or those
/// a registry client assigned).
#[derive(Debug, Clone)]
pub struct ItemEncoder {
    catalog: Arc<SchemaCatalog>,
}

impl ItemEncoder {
    /// An encoder over the built-in schema catalog.
    pub fn builtin() -> Result<Self, EncodeError> {
        Ok(Self {
            catalog: Arc::new(SchemaCatalog::builtin()?),
        })
    }

    /// An encoder framing with `catalog`'s ids (those the platform registered).
    pub fn with_catalog(catalog: Arc<SchemaCatalog>) -> Self {
        Self { catalog }
    }

    pub fn catalog(&self) -> &SchemaCatalog {
        &self.catalog
    }

    /// The bytes to send for `item`: Confluent-framed Avro for banking events, JSON for the
    /// other pipelines, the poison bytes unchanged.
    pub fn encode(&self, item: &GeneratedItem) -> Result<Vec<u8>, EncodeError> {
        Ok(match &item.payload {
            Payload::Banking(op) => encode_banking(&self.catalog, &to_banking_event(op))?,
            Payload::Transaction(body) => serde_json::to_vec(body)?,
            Payload::Calculation(body) => serde_json::to_vec(body)?,
            Payload::OrderFile(body) => serde_json::to_vec(body)?,
            Payload::Order(body) => serde_json::to_vec(body)?,
            Payload::Poison { bytes, .. } => bytes.clone(),
        })
    }
}
