//! What the simulator produces: [`GeneratedItem`]s, each a payload with its route (topic,
//! HTTP path or folder), its key and whether it is valid, invalid or poison. Owns the wire
//! shapes of the non-banking inputs (S0, S1, S2, S4), written as a client would send them —
//! so they can also carry the invalid values the services must refuse — and the simulator's
//! own record of a banking operation ([`BankingOperation`]), which `encode` maps onto the
//! event contracts.

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde::{Serialize, Serializer};
use uuid::Uuid;

pub use edalab_domain::events::{AccountType, Channel};

/// Topics, queues, paths and folders items are routed to. The bus names come from the
/// domain's event contracts; the HTTP paths and the folder are the seeds'.
pub mod topics {
    pub use edalab_domain::events::topics::{
        ACCOUNT_CLOSED, ACCOUNT_OPENED, CALCULATOR_INPUT, DEPOSIT_MADE, PREMIUM_PAID,
        TRANSFER_ISSUED, WITHDRAWAL_MADE,
    };
    /// The topics poison items are spread over (the ones the simulator writes to).
    pub const BANKING_INPUTS: &[&str] = &[
        ACCOUNT_OPENED,
        DEPOSIT_MADE,
        WITHDRAWAL_MADE,
        TRANSFER_ISSUED,
        PREMIUM_PAID,
        ACCOUNT_CLOSED,
    ];
    /// S0 API path.
    pub const TRANSACTIONS_PATH: &str = "/transactions";
    /// S4 API path.
    pub const ORDERS_PATH: &str = "/orders";
    /// S2 folder (bucket prefix in `aws`).
    pub const ORDER_FILES_PREFIX: &str = "orders/";
}

/// Where an item goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Route {
    /// Produced on a bus topic or queue, with the item's key.
    Topic(&'static str),
    /// Sent as the body of `POST <path>` (S0 transactions, S4 orders).
    HttpPost(&'static str),
    /// Written as a file named by the item's key under this prefix (S2 order files).
    File(&'static str),
}

impl Route {
    /// The topic, path or prefix, for display and metric labels.
    pub fn name(&self) -> &'static str {
        match *self {
            Route::Topic(name) | Route::HttpPost(name) | Route::File(name) => name,
        }
    }
}

/// Whether the consumer is expected to accept the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Validity {
    Valid,
    /// Decodes, but a business rule refuses it.
    Invalid(InvalidReason),
    /// Does not decode at all.
    Poison,
    /// A valid S2 order file repeating an earlier `order_id`.
    Duplicate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidReason {
    InsufficientFunds,
    UnknownAccount,
    AmountNotPositive,
    BadCurrency,
    MissingAccount,
    UnknownOperation,
    DivisionByZero,
    NonNumericOperand,
    Overflow,
    NoItems,
    AmountMismatch,
}

impl InvalidReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            InvalidReason::InsufficientFunds => "insufficient_funds",
            InvalidReason::UnknownAccount => "unknown_account",
            InvalidReason::AmountNotPositive => "amount_not_positive",
            InvalidReason::BadCurrency => "bad_currency",
            InvalidReason::MissingAccount => "missing_account",
            InvalidReason::UnknownOperation => "unknown_operation",
            InvalidReason::DivisionByZero => "division_by_zero",
            InvalidReason::NonNumericOperand => "non_numeric_operand",
            InvalidReason::Overflow => "overflow",
            InvalidReason::NoItems => "no_items",
            InvalidReason::AmountMismatch => "amount_mismatch",
        }
    }
}

/// One generated item.
#[derive(Debug, Clone, PartialEq)]
pub struct GeneratedItem {
    /// UUID v7 from the seeded stream and the clock: the event id of banking events, the
    /// simulator's tracking id for the others (answered by `POST /events/produce`).
    pub id: Uuid,
    pub route: Route,
    /// Partition key (account id for banking events), or file name for order files.
    pub key: String,
    pub payload: Payload,
    pub validity: Validity,
}

impl GeneratedItem {
    pub fn topic(&self) -> &'static str {
        self.route.name()
    }

    /// The event type name, as `POST /events/produce` accepts it.
    pub fn kind(&self) -> EventKind {
        match &self.payload {
            Payload::Banking(op) => op.kind(),
            Payload::Transaction(_) => EventKind::Transaction,
            Payload::Calculation(_) => EventKind::Calculation,
            Payload::OrderFile(_) => EventKind::OrderFile,
            Payload::Order(_) => EventKind::Order,
            Payload::Poison { kind, .. } => *kind,
        }
    }
}

/// The content of an item.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload {
    Banking(BankingOperation),
    Transaction(TransactionRequest),
    Calculation(CalculationRequest),
    OrderFile(OrderFile),
    Order(OrderRequest),
    /// Bytes that do not decode, standing in for an item of `kind`.
    Poison {
        kind: EventKind,
        bytes: Vec<u8>,
    },
}

/// Every type of item, by the name `POST /api/v1/events/produce {event_type}` uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventKind {
    CompteOuvert,
    DepotEffectue,
    RetraitEffectue,
    VirementEmis,
    PaiementPrimeEffectue,
    CompteFerme,
    /// S0 `POST /transactions` body.
    Transaction,
    /// S1 calculator message.
    Calculation,
    /// S2 order file.
    OrderFile,
    /// S4 `POST /orders` body.
    Order,
}

impl EventKind {
    pub const ALL: [EventKind; 10] = [
        EventKind::CompteOuvert,
        EventKind::DepotEffectue,
        EventKind::RetraitEffectue,
        EventKind::VirementEmis,
        EventKind::PaiementPrimeEffectue,
        EventKind::CompteFerme,
        EventKind::Transaction,
        EventKind::Calculation,
        EventKind::OrderFile,
        EventKind::Order,
    ];

    pub fn wire_name(&self) -> &'static str {
        match self {
            EventKind::CompteOuvert => "CompteOuvert",
            EventKind::DepotEffectue => "DepotEffectue",
            EventKind::RetraitEffectue => "RetraitEffectue",
            EventKind::VirementEmis => "VirementEmis",
            EventKind::PaiementPrimeEffectue => "PaiementPrimeEffectue",
            EventKind::CompteFerme => "CompteFerme",
            EventKind::Transaction => "Transaction",
            EventKind::Calculation => "Calculation",
            EventKind::OrderFile => "OrderFile",
            EventKind::Order => "Order",
        }
    }

    /// Parses a wire name; `None` if unknown (REST answers 400 naming `event_type`).
    pub fn from_wire_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.wire_name() == name)
    }

    pub fn is_banking(&self) -> bool {
        matches!(
            self,
            EventKind::CompteOuvert
                | EventKind::DepotEffectue
                | EventKind::RetraitEffectue
                | EventKind::VirementEmis
                | EventKind::PaiementPrimeEffectue
                | EventKind::CompteFerme
        )
    }
}

/// How money left the account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WithdrawalChannel {
    /// Cash machine (distributeur, GAB).
    Distributeur,
    Guichet,
    Carte,
}

/// A banking operation as the simulator decided it, before it becomes an event contract.
#[derive(Debug, Clone, PartialEq)]
pub enum BankingOperation {
    OpenAccount {
        event_id: Uuid,
        at: DateTime<Utc>,
        account_id: Uuid,
        client_id: String,
        account_type: AccountType,
        currency: String,
        initial_balance: Decimal,
        iban: String,
        holder_name: String,
    },
    Deposit {
        event_id: Uuid,
        at: DateTime<Utc>,
        account_id: Uuid,
        amount: Decimal,
        currency: String,
        reference: String,
        channel: Channel,
    },
    Withdrawal {
        event_id: Uuid,
        at: DateTime<Utc>,
        account_id: Uuid,
        amount: Decimal,
        currency: String,
        reference: String,
        channel: WithdrawalChannel,
    },
    Transfer {
        event_id: Uuid,
        at: DateTime<Utc>,
        source_account_id: Uuid,
        destination_account_id: Uuid,
        amount: Decimal,
        currency: String,
        motive: &'static str,
        reference: String,
    },
    /// A premium paid into the account (a credit, as the ledger defines it).
    Premium {
        event_id: Uuid,
        at: DateTime<Utc>,
        account_id: Uuid,
        amount: Decimal,
        currency: String,
        reference: String,
        contract_id: String,
    },
    CloseAccount {
        event_id: Uuid,
        at: DateTime<Utc>,
        account_id: Uuid,
        client_id: String,
        reason: &'static str,
    },
}

impl BankingOperation {
    pub fn kind(&self) -> EventKind {
        match self {
            BankingOperation::OpenAccount { .. } => EventKind::CompteOuvert,
            BankingOperation::Deposit { .. } => EventKind::DepotEffectue,
            BankingOperation::Withdrawal { .. } => EventKind::RetraitEffectue,
            BankingOperation::Transfer { .. } => EventKind::VirementEmis,
            BankingOperation::Premium { .. } => EventKind::PaiementPrimeEffectue,
            BankingOperation::CloseAccount { .. } => EventKind::CompteFerme,
        }
    }

    pub fn event_id(&self) -> Uuid {
        match self {
            BankingOperation::OpenAccount { event_id, .. }
            | BankingOperation::Deposit { event_id, .. }
            | BankingOperation::Withdrawal { event_id, .. }
            | BankingOperation::Transfer { event_id, .. }
            | BankingOperation::Premium { event_id, .. }
            | BankingOperation::CloseAccount { event_id, .. } => *event_id,
        }
    }

    /// The account the event is keyed by (the source account of a transfer).
    pub fn account_id(&self) -> Uuid {
        match self {
            BankingOperation::OpenAccount { account_id, .. }
            | BankingOperation::Deposit { account_id, .. }
            | BankingOperation::Withdrawal { account_id, .. }
            | BankingOperation::Premium { account_id, .. }
            | BankingOperation::CloseAccount { account_id, .. } => *account_id,
            BankingOperation::Transfer {
                source_account_id, ..
            } => *source_account_id,
        }
    }

    pub fn topic(&self) -> &'static str {
        match self {
            BankingOperation::OpenAccount { .. } => topics::ACCOUNT_OPENED,
            BankingOperation::Deposit { .. } => topics::DEPOSIT_MADE,
            BankingOperation::Withdrawal { .. } => topics::WITHDRAWAL_MADE,
            BankingOperation::Transfer { .. } => topics::TRANSFER_ISSUED,
            BankingOperation::Premium { .. } => topics::PREMIUM_PAID,
            BankingOperation::CloseAccount { .. } => topics::ACCOUNT_CLOSED,
        }
    }
}

/// Serializes a `Decimal` as a JSON number (`149.99`), as the S0/S2/S4 contracts show.
/// Through `f64`: exact for the two-decimal amounts below 10¹³ generated here (the shortest
/// representation that round-trips is printed).
fn decimal_as_number<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(value.to_f64().unwrap_or(0.0))
}

/// S0-01 body of `POST /transactions`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransactionRequest {
    #[serde(serialize_with = "decimal_as_number")]
    pub amount: Decimal,
    pub currency: String,
    #[serde(rename = "accountFrom")]
    pub account_from: String,
    #[serde(rename = "accountTo")]
    pub account_to: String,
}

/// S1-01 calculator message. Operands are JSON values so that a non-numeric operand can be
/// sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalculationRequest {
    pub operation: String,
    pub a: serde_json::Value,
    pub b: serde_json::Value,
}

/// S2-01 order file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderFile {
    pub order_id: String,
    pub customer_id: String,
    /// RFC 3339.
    pub created_at: String,
    pub currency: String,
    #[serde(serialize_with = "decimal_as_number")]
    pub amount: Decimal,
    pub items: Vec<OrderFileItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderFileItem {
    pub sku: String,
    pub qty: u32,
    #[serde(serialize_with = "decimal_as_number")]
    pub unit_price: Decimal,
}

/// S4-01 body of `POST /orders`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OrderRequest {
    #[serde(rename = "userId")]
    pub user_id: String,
    #[serde(serialize_with = "decimal_as_number")]
    pub amount: Decimal,
    pub items: Vec<String>,
}
