//! The `.avsc` files of `schemas/`, compiled into the binary, and what each one is for:
//! its topic, its Confluent subject (`<topic>-value`, TopicNameStrategy) and its built-in
//! schema id.
//!
//! Built-in ids are the position in [`EventSchema::ALL`] plus one. The list is
//! append-only: a new schema takes the next id, and no schema ever changes id, so that
//! bytes written by one build are read by the next.

use edalab_domain::events::{BankingEventKind, topics};

use crate::catalog::SchemaId;

/// One of edalab's Avro schemas.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EventSchema {
    /// `com.edalab.bancaire.events.CompteOuvert`.
    AccountOpened,
    /// `com.edalab.bancaire.events.CompteFerme`.
    AccountClosed,
    /// `com.edalab.bancaire.events.DepotEffectue`.
    DepositMade,
    /// `com.edalab.bancaire.events.RetraitEffectue`.
    WithdrawalMade,
    /// `com.edalab.bancaire.events.VirementEmis`.
    TransferIssued,
    /// `com.edalab.bancaire.events.VirementRecu`.
    TransferReceived,
    /// `com.edalab.bancaire.events.PaiementPrimeEffectue`.
    PremiumPaid,
    /// `com.edalab.bancaire.events.OperationRejetee`.
    OperationRejected,
    /// `com.edalab.transactions.events.TransactionProcessed`.
    TransactionProcessed,
    /// `com.edalab.orders.events.OrderCreated`.
    OrderCreated,
    /// `com.edalab.orders.events.PaymentAuthorized`.
    PaymentAuthorized,
    /// `com.edalab.orders.events.PaymentRejected`.
    PaymentRejected,
}

impl EventSchema {
    /// Every schema, in built-in id order (id = index + 1). Append only.
    pub const ALL: [Self; 12] = [
        Self::AccountOpened,
        Self::AccountClosed,
        Self::DepositMade,
        Self::WithdrawalMade,
        Self::TransferIssued,
        Self::TransferReceived,
        Self::PremiumPaid,
        Self::OperationRejected,
        Self::TransactionProcessed,
        Self::OrderCreated,
        Self::PaymentAuthorized,
        Self::PaymentRejected,
    ];

    /// Position in [`Self::ALL`].
    pub const fn index(self) -> usize {
        self as usize
    }

    /// The built-in schema id: index + 1 (ids start at 1, as in Schema Registry).
    pub const fn builtin_id(self) -> SchemaId {
        SchemaId(self as u32 + 1)
    }

    /// The Avro record name (also the `event_type` of banking events).
    pub const fn record_name(self) -> &'static str {
        match self {
            Self::AccountOpened => "CompteOuvert",
            Self::AccountClosed => "CompteFerme",
            Self::DepositMade => "DepotEffectue",
            Self::WithdrawalMade => "RetraitEffectue",
            Self::TransferIssued => "VirementEmis",
            Self::TransferReceived => "VirementRecu",
            Self::PremiumPaid => "PaiementPrimeEffectue",
            Self::OperationRejected => "OperationRejetee",
            Self::TransactionProcessed => "TransactionProcessed",
            Self::OrderCreated => "OrderCreated",
            Self::PaymentAuthorized => "PaymentAuthorized",
            Self::PaymentRejected => "PaymentRejected",
        }
    }

    /// The Avro namespace.
    pub const fn namespace(self) -> &'static str {
        match self {
            Self::TransactionProcessed => "com.edalab.transactions.events",
            Self::OrderCreated | Self::PaymentAuthorized | Self::PaymentRejected => {
                "com.edalab.orders.events"
            }
            _ => "com.edalab.bancaire.events",
        }
    }

    /// The topic whose values use this schema.
    pub const fn topic(self) -> &'static str {
        match self {
            Self::TransactionProcessed => topics::TRANSACTIONS_EVENTS,
            Self::OrderCreated => topics::ORDERS_CREATED,
            Self::PaymentAuthorized => topics::PAYMENTS_AUTHORIZED,
            Self::PaymentRejected => topics::PAYMENTS_REJECTED,
            banking => match banking.banking_kind() {
                Some(kind) => kind.topic(),
                None => "",
            },
        }
    }

    /// The Schema Registry subject under TopicNameStrategy: `<topic>-value`.
    pub fn subject(self) -> String {
        format!("{}-value", self.topic())
    }

    /// The schema for values of `topic`, if it has one.
    pub fn for_topic(topic: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|schema| schema.topic() == topic)
    }

    /// The schema whose subject is `subject`, if any.
    pub fn for_subject(subject: &str) -> Option<Self> {
        Self::for_topic(subject.strip_suffix("-value")?)
    }

    /// The schema of a banking event kind.
    pub const fn for_banking(kind: BankingEventKind) -> Self {
        match kind {
            BankingEventKind::AccountOpened => Self::AccountOpened,
            BankingEventKind::AccountClosed => Self::AccountClosed,
            BankingEventKind::DepositMade => Self::DepositMade,
            BankingEventKind::WithdrawalMade => Self::WithdrawalMade,
            BankingEventKind::TransferIssued => Self::TransferIssued,
            BankingEventKind::TransferReceived => Self::TransferReceived,
            BankingEventKind::PremiumPaid => Self::PremiumPaid,
            BankingEventKind::OperationRejected => Self::OperationRejected,
        }
    }

    /// The banking event kind this schema carries, if it is a banking schema.
    pub const fn banking_kind(self) -> Option<BankingEventKind> {
        Some(match self {
            Self::AccountOpened => BankingEventKind::AccountOpened,
            Self::AccountClosed => BankingEventKind::AccountClosed,
            Self::DepositMade => BankingEventKind::DepositMade,
            Self::WithdrawalMade => BankingEventKind::WithdrawalMade,
            Self::TransferIssued => BankingEventKind::TransferIssued,
            Self::TransferReceived => BankingEventKind::TransferReceived,
            Self::PremiumPaid => BankingEventKind::PremiumPaid,
            Self::OperationRejected => BankingEventKind::OperationRejected,
            _ => return None,
        })
    }

    /// The file under the repository's `schemas/` folder.
    pub const fn path(self) -> &'static str {
        match self {
            Self::AccountOpened => "schemas/bancaire/compte-ouvert.avsc",
            Self::AccountClosed => "schemas/bancaire/compte-ferme.avsc",
            Self::DepositMade => "schemas/bancaire/depot-effectue.avsc",
            Self::WithdrawalMade => "schemas/bancaire/retrait-effectue.avsc",
            Self::TransferIssued => "schemas/bancaire/virement-emis.avsc",
            Self::TransferReceived => "schemas/bancaire/virement-recu.avsc",
            Self::PremiumPaid => "schemas/bancaire/paiement-prime-effectue.avsc",
            Self::OperationRejected => "schemas/bancaire/operation-rejetee.avsc",
            Self::TransactionProcessed => "schemas/transactions/transaction-processed.avsc",
            Self::OrderCreated => "schemas/orders/order-created.avsc",
            Self::PaymentAuthorized => "schemas/orders/payment-authorized.avsc",
            Self::PaymentRejected => "schemas/orders/payment-rejected.avsc",
        }
    }

    /// The `.avsc` text, as in the file (what a registration command sends).
    pub const fn source(self) -> &'static str {
        match self {
            Self::AccountOpened => include_str!("../../../schemas/bancaire/compte-ouvert.avsc"),
            Self::AccountClosed => include_str!("../../../schemas/bancaire/compte-ferme.avsc"),
            Self::DepositMade => include_str!("../../../schemas/bancaire/depot-effectue.avsc"),
            Self::WithdrawalMade => {
                include_str!("../../../schemas/bancaire/retrait-effectue.avsc")
            }
            Self::TransferIssued => include_str!("../../../schemas/bancaire/virement-emis.avsc"),
            Self::TransferReceived => include_str!("../../../schemas/bancaire/virement-recu.avsc"),
            Self::PremiumPaid => {
                include_str!("../../../schemas/bancaire/paiement-prime-effectue.avsc")
            }
            Self::OperationRejected => {
                include_str!("../../../schemas/bancaire/operation-rejetee.avsc")
            }
            Self::TransactionProcessed => {
                include_str!("../../../schemas/transactions/transaction-processed.avsc")
            }
            Self::OrderCreated => include_str!("../../../schemas/orders/order-created.avsc"),
            Self::PaymentAuthorized => {
                include_str!("../../../schemas/orders/payment-authorized.avsc")
            }
            Self::PaymentRejected => include_str!("../../../schemas/orders/payment-rejected.avsc"),
        }
    }

    /// The subject's published compatibility level (`schemas/published/<subject>/
    /// compatibility`), which the platform sets on a subject that has no level of its own;
    /// `None`: the registry's global level (BACKWARD by default).
    pub fn published_compatibility(self) -> Option<&'static str> {
        let text = match self {
            Self::AccountOpened => {
                include_str!(
                    "../../../schemas/published/bancaire.compte.ouvert-value/compatibility"
                )
            }
            Self::AccountClosed => {
                include_str!("../../../schemas/published/bancaire.compte.ferme-value/compatibility")
            }
            Self::DepositMade => include_str!(
                "../../../schemas/published/bancaire.depot.effectue-value/compatibility"
            ),
            Self::WithdrawalMade => include_str!(
                "../../../schemas/published/bancaire.retrait.effectue-value/compatibility"
            ),
            Self::TransferIssued => {
                include_str!(
                    "../../../schemas/published/bancaire.virement.emis-value/compatibility"
                )
            }
            Self::TransferReceived => {
                include_str!(
                    "../../../schemas/published/bancaire.virement.recu-value/compatibility"
                )
            }
            Self::PremiumPaid => include_str!(
                "../../../schemas/published/bancaire.paiement-prime.effectue-value/compatibility"
            ),
            Self::OperationRejected => include_str!(
                "../../../schemas/published/bancaire.operation.rejetee-value/compatibility"
            ),
            Self::TransactionProcessed
            | Self::OrderCreated
            | Self::PaymentAuthorized
            | Self::PaymentRejected => return None,
        };
        Some(text.trim())
    }

    /// Parses [`Self::source`].
    pub fn parse(self) -> Result<apache_avro::Schema, crate::WireError> {
        apache_avro::Schema::parse_str(self.source()).map_err(|source| {
            crate::WireError::SchemaParse {
                path: self.path(),
                source: Box::new(source),
            }
        })
    }
}

impl std::fmt::Display for EventSchema {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.namespace(), self.record_name())
    }
}
