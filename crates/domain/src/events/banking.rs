//! S3 EDA-Lab banking events (S3-02, S3-05): one type per `bancaire.*` topic, plus the
//! ledger's rejection event.
//!
//! Wire names are the seed's French snake_case (`compte_id`, `solde_initial`, `type_compte`,
//! ...); the Rust fields are English and each rename is written next to its field. The
//! same names are the Avro field names in `schemas/bancaire/*.avsc` (mapped by
//! `edalab-schema`). In JSON, money is a decimal string (`"1234.56"`), timestamps RFC 3339
//! with milliseconds, `metadata` is omitted when absent (Go's `omitempty` in the seed).
//!
//! | type | event type (`event_type`) | topic | key |
//! |---|---|---|---|
//! | [`AccountOpened`] | `CompteOuvert` | `bancaire.compte.ouvert` | `compte_id` |
//! | [`AccountClosed`] | `CompteFerme` | `bancaire.compte.ferme` | `compte_id` |
//! | [`DepositMade`] | `DepotEffectue` | `bancaire.depot.effectue` | `compte_id` |
//! | [`WithdrawalMade`] | `RetraitEffectue` | `bancaire.retrait.effectue` | `compte_id` |
//! | [`TransferIssued`] | `VirementEmis` | `bancaire.virement.emis` | `compte_source_id` |
//! | [`TransferReceived`] | `VirementRecu` | `bancaire.virement.recu` | `compte_destination_id` |
//! | [`PremiumPaid`] | `PaiementPrimeEffectue` | `bancaire.paiement-prime.effectue` | `compte_id` |
//! | [`OperationRejected`] | `OperationRejetee` | `bancaire.operation.rejetee` | `compte_id` |
//!
//! The key is the account whose balance the event changes, so that the ledger sees every
//! event of one account on one partition, in order.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::serde_helpers::rfc3339_millis;
use super::topics;

/// Free-form string annotations carried by most banking events (IBAN, agency, channel
/// details...). A `BTreeMap` so the JSON rendering is deterministic.
pub type Metadata = BTreeMap<String, String>;

/// The currency assumed when an event omits `devise` (the Avro default of the seed).
pub const DEFAULT_CURRENCY: &str = "EUR";

fn default_currency() -> String {
    DEFAULT_CURRENCY.to_owned()
}

wire_enum! {
    /// `type_compte`: the kind of account (Avro enum `TypeCompte`).
    pub enum AccountType {
        /// `COURANT`: current (checking) account.
        Current => "COURANT",
        /// `EPARGNE`: savings account.
        Savings => "EPARGNE",
        /// `JOINT`: joint account.
        Joint => "JOINT",
    }
}

wire_enum! {
    /// `canal`: the channel an operation came through (Avro enum `Canal`).
    pub enum Channel {
        /// `GUICHET`: at the branch counter.
        Counter => "GUICHET",
        /// `VIREMENT`: by bank transfer.
        Transfer => "VIREMENT",
        /// `CHEQUE`: by cheque.
        Cheque => "CHEQUE",
        /// `CARTE`: by card (including cash machines).
        Card => "CARTE",
    }
}

wire_enum! {
    /// `statut` of a transfer (Avro enum `StatutVirement`).
    pub enum TransferStatus {
        /// `INITIE`: issued, not yet executed.
        Initiated => "INITIE",
        /// `EN_COURS`: being executed.
        InProgress => "EN_COURS",
        /// `COMPLETE`: executed.
        Completed => "COMPLETE",
        /// `REJETE`: refused.
        Rejected => "REJETE",
    }
}

wire_enum! {
    /// `code_raison` of an [`OperationRejected`]: stable public codes of the ledger's
    /// business refusals (Avro enum `CodeRaison`, default `AUTRE` so that readers of an
    /// older schema map a newer code to [`RejectionCode::Other`]).
    pub enum RejectionCode {
        /// `SOLDE_INSUFFISANT`: the balance does not cover the debit.
        InsufficientFunds => "SOLDE_INSUFFISANT",
        /// `COMPTE_INEXISTANT`: the account is unknown to the ledger.
        AccountNotFound => "COMPTE_INEXISTANT",
        /// `COMPTE_FERME`: the account is closed (or blocked).
        AccountClosed => "COMPTE_FERME",
        /// `COMPTE_EXISTANT`: an account with this id already exists with other details.
        AccountAlreadyExists => "COMPTE_EXISTANT",
        /// `DEVISE_INCOMPATIBLE`: the operation's currency is not the account's.
        CurrencyMismatch => "DEVISE_INCOMPATIBLE",
        /// `MONTANT_INVALIDE`: zero, negative or out-of-range amount.
        InvalidAmount => "MONTANT_INVALIDE",
        /// `AUTRE`: any other reason, described by `message`.
        Other => "AUTRE",
    }
}

/// `CompteOuvert`: an account was opened (topic `bancaire.compte.ouvert`, schema
/// `schemas/bancaire/compte-ouvert.avsc` verbatim from the seed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountOpened {
    /// `event_id`: UUID (v7 when edalab produces it).
    pub event_id: Uuid,
    /// `timestamp`: when the account was opened.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    /// `compte_id`.
    #[serde(rename = "compte_id")]
    pub account_id: String,
    /// `client_id`: the holder.
    pub client_id: String,
    /// `type_compte`.
    #[serde(rename = "type_compte")]
    pub account_type: AccountType,
    /// `devise`: ISO 4217 code, `EUR` when absent.
    #[serde(rename = "devise", default = "default_currency")]
    pub currency: String,
    /// `solde_initial`: decimal(18,2).
    #[serde(rename = "solde_initial", with = "rust_decimal::serde::str")]
    pub initial_balance: Decimal,
    /// `metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// `CompteFerme`: an account was closed (topic `bancaire.compte.ferme`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountClosed {
    /// `event_id`.
    pub event_id: Uuid,
    /// `timestamp`.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    /// `compte_id`.
    #[serde(rename = "compte_id")]
    pub account_id: String,
    /// `client_id`.
    pub client_id: String,
    /// `motif`: why the account was closed.
    #[serde(rename = "motif")]
    pub reason: String,
    /// `metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// `DepotEffectue`: money was paid into an account (topic `bancaire.depot.effectue`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepositMade {
    /// `event_id`.
    pub event_id: Uuid,
    /// `timestamp`.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    /// `compte_id`: the credited account.
    #[serde(rename = "compte_id")]
    pub account_id: String,
    /// `montant`: decimal(18,2), positive.
    #[serde(rename = "montant", with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// `devise`, `EUR` when absent.
    #[serde(rename = "devise", default = "default_currency")]
    pub currency: String,
    /// `reference`: the operation's reference.
    pub reference: String,
    /// `canal`.
    #[serde(rename = "canal")]
    pub channel: Channel,
    /// `metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// `RetraitEffectue`: money was taken out of an account (topic `bancaire.retrait.effectue`).
/// Same fields as [`DepositMade`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WithdrawalMade {
    /// `event_id`.
    pub event_id: Uuid,
    /// `timestamp`.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    /// `compte_id`: the debited account.
    #[serde(rename = "compte_id")]
    pub account_id: String,
    /// `montant`: decimal(18,2), positive.
    #[serde(rename = "montant", with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// `devise`, `EUR` when absent.
    #[serde(rename = "devise", default = "default_currency")]
    pub currency: String,
    /// `reference`.
    pub reference: String,
    /// `canal`.
    #[serde(rename = "canal")]
    pub channel: Channel,
    /// `metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// `VirementEmis`: a transfer was issued from an account (topic `bancaire.virement.emis`).
/// `devise` has no default here: the seed lists it as a plain string.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferIssued {
    /// `event_id`.
    pub event_id: Uuid,
    /// `timestamp`.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    /// `compte_source_id`: the debited account (the partition key).
    #[serde(rename = "compte_source_id")]
    pub source_account_id: String,
    /// `compte_destination_id`: the beneficiary account (may be outside this bank).
    #[serde(rename = "compte_destination_id")]
    pub destination_account_id: String,
    /// `montant`: decimal(18,2), positive.
    #[serde(rename = "montant", with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// `devise`.
    #[serde(rename = "devise")]
    pub currency: String,
    /// `motif`: the transfer's label.
    #[serde(rename = "motif")]
    pub label: String,
    /// `reference`.
    pub reference: String,
    /// `statut`.
    #[serde(rename = "statut")]
    pub status: TransferStatus,
    /// `metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// `VirementRecu`: a transfer was credited to an account (topic `bancaire.virement.recu`).
///
/// Ledger rule (so no transfer is ever credited twice): a `VirementEmis` between two
/// accounts of this bank is applied by the ledger as ONE internal transfer (debit source,
/// credit destination, one store transaction). A `VirementRecu` that carries
/// `virement_emis_event_id` is the credit side of such a transfer and changes no balance;
/// a `VirementRecu` without it is an incoming transfer from another bank and credits
/// `compte_destination_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReceived {
    /// `event_id`.
    pub event_id: Uuid,
    /// `timestamp`.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    /// `compte_destination_id`: the credited account (the partition key).
    #[serde(rename = "compte_destination_id")]
    pub destination_account_id: String,
    /// `compte_source_id`: the ordering account (may be an external IBAN).
    #[serde(rename = "compte_source_id")]
    pub source_account_id: String,
    /// `montant`: decimal(18,2), positive.
    #[serde(rename = "montant", with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// `devise`.
    #[serde(rename = "devise")]
    pub currency: String,
    /// `motif`.
    #[serde(rename = "motif")]
    pub label: String,
    /// `reference`.
    pub reference: String,
    /// `virement_emis_event_id`: the `event_id` of the matching `VirementEmis` when the
    /// transfer was issued inside this bank; absent for transfers from other banks.
    #[serde(
        rename = "virement_emis_event_id",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub issued_event_id: Option<Uuid>,
    /// `metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// `PaiementPrimeEffectue`: a premium (prime: a bonus, a savings or insurance payout) was
/// paid INTO an account, which the ledger credits (rule in `crate::ledger`)
/// (topic `bancaire.paiement-prime.effectue`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PremiumPaid {
    /// `event_id`.
    pub event_id: Uuid,
    /// `timestamp`.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    /// `compte_id`: the credited account.
    #[serde(rename = "compte_id")]
    pub account_id: String,
    /// `contrat_id`: the contract (savings plan, insurance policy) the premium is paid under.
    #[serde(rename = "contrat_id")]
    pub contract_id: String,
    /// `montant`: decimal(18,2), positive.
    #[serde(rename = "montant", with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    /// `devise`, `EUR` when absent.
    #[serde(rename = "devise", default = "default_currency")]
    pub currency: String,
    /// `reference`.
    pub reference: String,
    /// `metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// `OperationRejetee`: the ledger refused a well-formed event for a business reason
/// (topic `bancaire.operation.rejetee`). Business refusals are events, not errors: the
/// original event is consumed, and this records why it changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperationRejected {
    /// `event_id` of this rejection.
    pub event_id: Uuid,
    /// `timestamp` of the decision.
    #[serde(with = "rfc3339_millis")]
    pub timestamp: DateTime<Utc>,
    /// `event_id_origine`: the `event_id` of the refused event.
    #[serde(rename = "event_id_origine")]
    pub original_event_id: Uuid,
    /// `type_evenement`: the refused event's type (`VirementEmis`, ...), see
    /// [`BankingEventKind::event_type`].
    #[serde(rename = "type_evenement")]
    pub original_event_type: String,
    /// `compte_id`: the account the refused event addressed (the partition key).
    #[serde(rename = "compte_id")]
    pub account_id: String,
    /// `code_raison`.
    #[serde(rename = "code_raison")]
    pub reason_code: RejectionCode,
    /// `message`: human-readable explanation.
    pub message: String,
}

wire_enum! {
    /// The type of a banking event: its `event_type` name (the Avro record name) and topic.
    pub enum BankingEventKind {
        /// `CompteOuvert`.
        AccountOpened => "CompteOuvert",
        /// `CompteFerme`.
        AccountClosed => "CompteFerme",
        /// `DepotEffectue`.
        DepositMade => "DepotEffectue",
        /// `RetraitEffectue`.
        WithdrawalMade => "RetraitEffectue",
        /// `VirementEmis`.
        TransferIssued => "VirementEmis",
        /// `VirementRecu`.
        TransferReceived => "VirementRecu",
        /// `PaiementPrimeEffectue`.
        PremiumPaid => "PaiementPrimeEffectue",
        /// `OperationRejetee`.
        OperationRejected => "OperationRejetee",
    }
}

impl BankingEventKind {
    /// The event type name (`CompteOuvert`, ...), as in the simulator's `event_type`.
    pub const fn event_type(self) -> &'static str {
        self.as_str()
    }

    /// The kind named `event_type`, if any.
    pub fn from_event_type(event_type: &str) -> Option<Self> {
        Self::from_wire(event_type)
    }

    /// The topic this kind of event is published on.
    pub const fn topic(self) -> &'static str {
        match self {
            Self::AccountOpened => topics::ACCOUNT_OPENED,
            Self::AccountClosed => topics::ACCOUNT_CLOSED,
            Self::DepositMade => topics::DEPOSIT_MADE,
            Self::WithdrawalMade => topics::WITHDRAWAL_MADE,
            Self::TransferIssued => topics::TRANSFER_ISSUED,
            Self::TransferReceived => topics::TRANSFER_RECEIVED,
            Self::PremiumPaid => topics::PREMIUM_PAID,
            Self::OperationRejected => topics::OPERATION_REJECTED,
        }
    }

    /// The kind published on `topic`, if `topic` is a banking event topic.
    pub fn from_topic(topic: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|kind| kind.topic() == topic)
    }
}

/// Any banking event. JSON is internally tagged by `event_type`
/// (`{"event_type":"CompteOuvert","event_id":...}`), the shape the WebSocket hub and the
/// REST API show; on the bus the topic says the type and the payload is the bare record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type")]
pub enum BankingEvent {
    /// `CompteOuvert`.
    #[serde(rename = "CompteOuvert")]
    AccountOpened(AccountOpened),
    /// `CompteFerme`.
    #[serde(rename = "CompteFerme")]
    AccountClosed(AccountClosed),
    /// `DepotEffectue`.
    #[serde(rename = "DepotEffectue")]
    DepositMade(DepositMade),
    /// `RetraitEffectue`.
    #[serde(rename = "RetraitEffectue")]
    WithdrawalMade(WithdrawalMade),
    /// `VirementEmis`.
    #[serde(rename = "VirementEmis")]
    TransferIssued(TransferIssued),
    /// `VirementRecu`.
    #[serde(rename = "VirementRecu")]
    TransferReceived(TransferReceived),
    /// `PaiementPrimeEffectue`.
    #[serde(rename = "PaiementPrimeEffectue")]
    PremiumPaid(PremiumPaid),
    /// `OperationRejetee`.
    #[serde(rename = "OperationRejetee")]
    OperationRejected(OperationRejected),
}

impl BankingEvent {
    /// The event's kind.
    pub const fn kind(&self) -> BankingEventKind {
        match self {
            Self::AccountOpened(_) => BankingEventKind::AccountOpened,
            Self::AccountClosed(_) => BankingEventKind::AccountClosed,
            Self::DepositMade(_) => BankingEventKind::DepositMade,
            Self::WithdrawalMade(_) => BankingEventKind::WithdrawalMade,
            Self::TransferIssued(_) => BankingEventKind::TransferIssued,
            Self::TransferReceived(_) => BankingEventKind::TransferReceived,
            Self::PremiumPaid(_) => BankingEventKind::PremiumPaid,
            Self::OperationRejected(_) => BankingEventKind::OperationRejected,
        }
    }

    /// The topic the event is published on.
    pub const fn topic(&self) -> &'static str {
        self.kind().topic()
    }

    /// The event type name (`CompteOuvert`, ...).
    pub const fn event_type(&self) -> &'static str {
        self.kind().event_type()
    }

    /// The event's `event_id`.
    pub const fn event_id(&self) -> Uuid {
        match self {
            Self::AccountOpened(e) => e.event_id,
            Self::AccountClosed(e) => e.event_id,
            Self::DepositMade(e) => e.event_id,
            Self::WithdrawalMade(e) => e.event_id,
            Self::TransferIssued(e) => e.event_id,
            Self::TransferReceived(e) => e.event_id,
            Self::PremiumPaid(e) => e.event_id,
            Self::OperationRejected(e) => e.event_id,
        }
    }

    /// The event's `timestamp`.
    pub const fn timestamp(&self) -> DateTime<Utc> {
        match self {
            Self::AccountOpened(e) => e.timestamp,
            Self::AccountClosed(e) => e.timestamp,
            Self::DepositMade(e) => e.timestamp,
            Self::WithdrawalMade(e) => e.timestamp,
            Self::TransferIssued(e) => e.timestamp,
            Self::TransferReceived(e) => e.timestamp,
            Self::PremiumPaid(e) => e.timestamp,
            Self::OperationRejected(e) => e.timestamp,
        }
    }

    /// The message key: the account whose balance the event changes, which the ledger
    /// partitions on. Transfers issued are keyed by the source (debited) account,
    /// transfers received by the destination (credited) account.
    pub fn key(&self) -> &str {
        match self {
            Self::AccountOpened(e) => &e.account_id,
            Self::AccountClosed(e) => &e.account_id,
            Self::DepositMade(e) => &e.account_id,
            Self::WithdrawalMade(e) => &e.account_id,
            Self::TransferIssued(e) => &e.source_account_id,
            Self::TransferReceived(e) => &e.destination_account_id,
            Self::PremiumPaid(e) => &e.account_id,
            Self::OperationRejected(e) => &e.account_id,
        }
    }

    /// Parses the bare JSON record of a banking topic (no `event_type` tag needed: the
    /// topic says the type). `None` when `topic` is not a banking event topic.
    pub fn from_topic_json(topic: &str, json: &[u8]) -> Option<Result<Self, serde_json::Error>> {
        let kind = BankingEventKind::from_topic(topic)?;
        Some(Self::from_kind_json(kind, json))
    }

    /// Parses the bare JSON record of an event of `kind`.
    pub fn from_kind_json(kind: BankingEventKind, json: &[u8]) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            BankingEventKind::AccountOpened => Self::AccountOpened(serde_json::from_slice(json)?),
            BankingEventKind::AccountClosed => Self::AccountClosed(serde_json::from_slice(json)?),
            BankingEventKind::DepositMade => Self::DepositMade(serde_json::from_slice(json)?),
            BankingEventKind::WithdrawalMade => Self::WithdrawalMade(serde_json::from_slice(json)?),
            BankingEventKind::TransferIssued => Self::TransferIssued(serde_json::from_slice(json)?),
            BankingEventKind::TransferReceived => {
                Self::TransferReceived(serde_json::from_slice(json)?)
            }
            BankingEventKind::PremiumPaid => Self::PremiumPaid(serde_json::from_slice(json)?),
            BankingEventKind::OperationRejected => {
                Self::OperationRejected(serde_json::from_slice(json)?)
            }
        })
    }

    /// The bare JSON record (without the `event_type` tag), as published on JSON buses.
    pub fn to_record_json(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            Self::AccountOpened(e) => serde_json::to_value(e),
            Self::AccountClosed(e) => serde_json::to_value(e),
            Self::DepositMade(e) => serde_json::to_value(e),
            Self::WithdrawalMade(e) => serde_json::to_value(e),
            Self::TransferIssued(e) => serde_json::to_value(e),
            Self::TransferReceived(e) => serde_json::to_value(e),
            Self::PremiumPaid(e) => serde_json::to_value(e),
            Self::OperationRejected(e) => serde_json::to_value(e),
        }
    }
}

macro_rules! banking_payload {
    ($($ty:ident),+ $(,)?) => {
        $(
            impl $ty {
                /// This event's kind (type name and topic).
                pub const KIND: BankingEventKind = BankingEventKind::$ty;
            }

            impl From<$ty> for BankingEvent {
                fn from(event: $ty) -> Self {
                    Self::$ty(event)
                }
            }
        )+
    };
}

banking_payload!(
    AccountOpened,
    AccountClosed,
    DepositMade,
    WithdrawalMade,
    TransferIssued,
    TransferReceived,
    PremiumPaid,
    OperationRejected,
);

/// Sample events with realistic French values (names, IBANs, references), one per kind.
/// Public so that `edalab-schema`'s tests, the simulator's and the docs use the same data.
pub mod samples {
    use super::*;
    use chrono::TimeZone;
    use std::str::FromStr;

    fn at(millis_of_second: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 2, 6, 10, 15, 30)
            .single()
            .map(|t| t + chrono::Duration::milliseconds(millis_of_second))
            .unwrap_or_default()
    }

    fn id(text: &str) -> Uuid {
        Uuid::from_str(text).unwrap_or_default()
    }

    fn amount(text: &str) -> Decimal {
        Decimal::from_str(text).unwrap_or_default()
    }

    fn metadata() -> Metadata {
        Metadata::from([
            ("iban".to_owned(), "FR7630006000011234567890189".to_owned()),
            ("titulaire".to_owned(), "Camille Lefèvre".to_owned()),
            ("agence".to_owned(), "Lyon Part-Dieu".to_owned()),
        ])
    }

    /// `CompteOuvert` for Camille Lefèvre, 1234.56 EUR, with an IBAN in metadata.
    pub fn account_opened() -> AccountOpened {
        AccountOpened {
            event_id: id("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e0f"),
            timestamp: at(123),
            account_id: "CPT-7f3e9a2b-0001".to_owned(),
            client_id: "CLI-4b8d2e61".to_owned(),
            account_type: AccountType::Current,
            currency: "EUR".to_owned(),
            initial_balance: amount("1234.56"),
            metadata: Some(metadata()),
        }
    }

    /// `CompteFerme` without metadata.
    pub fn account_closed() -> AccountClosed {
        AccountClosed {
            event_id: id("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e10"),
            timestamp: at(456),
            account_id: "CPT-7f3e9a2b-0002".to_owned(),
            client_id: "CLI-4b8d2e61".to_owned(),
            reason: "Départ à l'étranger".to_owned(),
            metadata: None,
        }
    }

    /// `DepotEffectue` of 250.00 EUR by cheque.
    pub fn deposit_made() -> DepositMade {
        DepositMade {
            event_id: id("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e11"),
            timestamp: at(789),
            account_id: "CPT-7f3e9a2b-0001".to_owned(),
            amount: amount("250.00"),
            currency: "EUR".to_owned(),
            reference: "DEP-20260206-000042".to_owned(),
            channel: Channel::Cheque,
            metadata: Some(Metadata::from([(
                "remise".to_owned(),
                "Chèque n°4521873 — Banque Populaire".to_owned(),
            )])),
        }
    }

    /// `RetraitEffectue` of 60.00 EUR by card.
    pub fn withdrawal_made() -> WithdrawalMade {
        WithdrawalMade {
            event_id: id("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e12"),
            timestamp: at(1),
            account_id: "CPT-7f3e9a2b-0001".to_owned(),
            amount: amount("60.00"),
            currency: "EUR".to_owned(),
            reference: "RET-20260206-000007".to_owned(),
            channel: Channel::Card,
            metadata: None,
        }
    }

    /// `VirementEmis` of 1234.56 EUR, rent.
    pub fn transfer_issued() -> TransferIssued {
        TransferIssued {
            event_id: id("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e13"),
            timestamp: at(999),
            source_account_id: "CPT-7f3e9a2b-0001".to_owned(),
            destination_account_id: "CPT-2c5d8e11-0003".to_owned(),
            amount: amount("1234.56"),
            currency: "EUR".to_owned(),
            label: "Loyer février — Mme Dubois".to_owned(),
            reference: "VIR-20260206-000913".to_owned(),
            status: TransferStatus::Initiated,
            metadata: Some(Metadata::from([(
                "iban_beneficiaire".to_owned(),
                "FR1420041010050500013M02606".to_owned(),
            )])),
        }
    }

    /// `VirementRecu` matching [`transfer_issued`].
    pub fn transfer_received() -> TransferReceived {
        TransferReceived {
            event_id: id("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e14"),
            timestamp: at(2),
            destination_account_id: "CPT-2c5d8e11-0003".to_owned(),
            source_account_id: "CPT-7f3e9a2b-0001".to_owned(),
            amount: amount("1234.56"),
            currency: "EUR".to_owned(),
            label: "Loyer février — Mme Dubois".to_owned(),
            reference: "VIR-20260206-000913".to_owned(),
            issued_event_id: Some(id("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e13")),
            metadata: None,
        }
    }

    /// `PaiementPrimeEffectue` of 89.90 EUR.
    pub fn premium_paid() -> PremiumPaid {
        PremiumPaid {
            event_id: id("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e15"),
            timestamp: at(3),
            account_id: "CPT-7f3e9a2b-0001".to_owned(),
            contract_id: "CTR-HAB-2025-08812".to_owned(),
            amount: amount("89.90"),
            currency: "EUR".to_owned(),
            reference: "PRM-20260206-000311".to_owned(),
            metadata: Some(Metadata::from([(
                "assureur".to_owned(),
                "Mutuelle Générale de l'Ouest".to_owned(),
            )])),
        }
    }

    /// `OperationRejetee` refusing a transfer for insufficient funds.
    pub fn operation_rejected() -> OperationRejected {
        OperationRejected {
            event_id: id("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e16"),
            timestamp: at(4),
            original_event_id: id("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e13"),
            original_event_type: BankingEventKind::TransferIssued.event_type().to_owned(),
            account_id: "CPT-7f3e9a2b-0001".to_owned(),
            reason_code: RejectionCode::InsufficientFunds,
            message: "Solde insuffisant : 120.00 EUR disponibles, 1234.56 EUR demandés".to_owned(),
        }
    }

    /// One sample of every banking kind, in [`BankingEventKind::ALL`] order.
    pub fn all() -> Vec<BankingEvent> {
        vec![
            account_opened().into(),
            account_closed().into(),
            deposit_made().into(),
            withdrawal_made().into(),
            transfer_issued().into(),
            transfer_received().into(),
            premium_paid().into(),
            operation_rejected().into(),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::test_support::assert_json_round_trip;
    use rust_decimal_macros::dec;
    use serde_json::json;

    #[test]
    fn account_opened_json_matches_the_seed_field_for_field() {
        let event = samples::account_opened();
        let json = assert_json_round_trip(&event);
        assert_eq!(
            json,
            json!({
                "event_id": "01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e0f",
                "timestamp": "2026-02-06T10:15:30.123Z",
                "compte_id": "CPT-7f3e9a2b-0001",
                "client_id": "CLI-4b8d2e61",
                "type_compte": "COURANT",
                "devise": "EUR",
                "solde_initial": "1234.56",
                "metadata": {
                    "agence": "Lyon Part-Dieu",
                    "iban": "FR7630006000011234567890189",
                    "titulaire": "Camille Lefèvre"
                }
            })
        );
    }

    #[test]
    fn account_opened_defaults_devise_and_omits_absent_metadata() {
        let json = r#"{"event_id":"01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e0f",
            "timestamp":"2026-02-06T10:15:30.123Z","compte_id":"C1","client_id":"K1",
            "type_compte":"EPARGNE","solde_initial":"0.00"}"#;
        let event: AccountOpened = serde_json::from_str(json).unwrap();
        assert_eq!(event.currency, "EUR");
        assert_eq!(event.account_type, AccountType::Savings);
        assert_eq!(event.initial_balance, dec!(0.00));
        assert_eq!(event.metadata, None);
        let out = serde_json::to_value(&event).unwrap();
        assert!(out.get("metadata").is_none());
        assert_eq!(out["solde_initial"], "0.00");
    }

    #[test]
    fn money_is_a_decimal_string_not_a_number() {
        let json = serde_json::to_value(samples::deposit_made()).unwrap();
        assert_eq!(json["montant"], "250.00");
        let mut bad = json.clone();
        bad["montant"] = json!(250.0);
        assert!(serde_json::from_value::<DepositMade>(bad).is_err());
    }

    #[test]
    fn every_banking_event_round_trips_through_json() {
        assert_json_round_trip(&samples::account_opened());
        assert_json_round_trip(&samples::account_closed());
        assert_json_round_trip(&samples::deposit_made());
        assert_json_round_trip(&samples::withdrawal_made());
        assert_json_round_trip(&samples::transfer_issued());
        assert_json_round_trip(&samples::transfer_received());
        assert_json_round_trip(&samples::premium_paid());
        assert_json_round_trip(&samples::operation_rejected());
        for event in samples::all() {
            let tagged = assert_json_round_trip(&event);
            assert_eq!(tagged["event_type"], event.event_type());
            let record = event.to_record_json().unwrap();
            assert!(record.get("event_type").is_none());
            let bytes = serde_json::to_vec(&record).unwrap();
            let back = BankingEvent::from_topic_json(event.topic(), &bytes)
                .expect("banking topic")
                .unwrap();
            assert_eq!(back, event);
        }
    }

    #[test]
    fn transfer_issued_uses_the_seed_names() {
        let json = serde_json::to_value(samples::transfer_issued()).unwrap();
        let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(
            keys,
            [
                "compte_destination_id",
                "compte_source_id",
                "devise",
                "event_id",
                "metadata",
                "montant",
                "motif",
                "reference",
                "statut",
                "timestamp"
            ]
        );
        assert_eq!(json["statut"], "INITIE");
    }

    #[test]
    fn wire_enums_use_the_seed_symbols() {
        let symbols = |all: &[&str]| all.join("|");
        assert_eq!(
            symbols(
                &AccountType::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            ),
            "COURANT|EPARGNE|JOINT"
        );
        assert_eq!(
            symbols(&Channel::ALL.iter().map(|v| v.as_str()).collect::<Vec<_>>()),
            "GUICHET|VIREMENT|CHEQUE|CARTE"
        );
        assert_eq!(
            symbols(
                &TransferStatus::ALL
                    .iter()
                    .map(|v| v.as_str())
                    .collect::<Vec<_>>()
            ),
            "INITIE|EN_COURS|COMPLETE|REJETE"
        );
        for code in RejectionCode::ALL {
            assert_eq!(RejectionCode::from_wire(code.as_str()), Some(*code));
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str());
        }
        assert!(serde_json::from_str::<Channel>(r#""DAB""#).is_err());
    }

    #[test]
    fn kinds_map_topics_and_types_both_ways() {
        assert_eq!(BankingEventKind::ALL.len(), 8);
        for kind in BankingEventKind::ALL {
            assert_eq!(BankingEventKind::from_topic(kind.topic()), Some(*kind));
            assert_eq!(
                BankingEventKind::from_event_type(kind.event_type()),
                Some(*kind)
            );
        }
        for topic in topics::BANKING_EVENTS {
            assert!(BankingEventKind::from_topic(topic).is_some(), "{topic}");
        }
        assert_eq!(BankingEventKind::from_topic(topics::SYSTEM_DLQ), None);
        assert!(BankingEvent::from_topic_json("transactions-events", b"{}").is_none());
    }

    #[test]
    fn keys_are_the_account_whose_balance_changes() {
        let issued = BankingEvent::from(samples::transfer_issued());
        assert_eq!(issued.key(), "CPT-7f3e9a2b-0001");
        assert_eq!(issued.topic(), "bancaire.virement.emis");
        let received = BankingEvent::from(samples::transfer_received());
        assert_eq!(received.key(), "CPT-2c5d8e11-0003");
        let opened = BankingEvent::from(samples::account_opened());
        assert_eq!(opened.key(), "CPT-7f3e9a2b-0001");
        assert_eq!(
            opened.event_id().to_string(),
            "01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e0f"
        );
        assert_eq!(opened.event_type(), "CompteOuvert");
        assert_eq!(opened.timestamp(), samples::account_opened().timestamp);
    }
}
