//! The ledger's records: accounts, their transactions, ids and the enums with their
//! French wire names (S3-08). Built by the rules in [`super::rules`] or restored from
//! storage through the `*Record` types; nothing here decides anything.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

use crate::money::{Currency, Money, exact_amount};
use crate::validation::{ErrorAccumulator, ValidationErrors, check_id};

/// Defines a string id newtype under the shared id rule ([`check_id`]: not blank, no
/// control or bidirectional formatting character) with at most `$max_len` characters
/// (the `VARCHAR` width of its column), serialized as the bare string.
macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident, $what:literal, $max_len:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// Longest accepted value, in characters.
            pub const LEN_MAX: usize = $max_len;

            pub fn parse(value: impl Into<String>) -> Result<Self, String> {
                let value = value.into();
                check_id(&value, Self::LEN_MAX).map_err(|m| format!("{} {m}", $what))?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                Self::parse(String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

string_id!(
    /// An account id (`compte_id`, `VARCHAR(36)`).
    AccountId,
    "account id",
    36
);
string_id!(
    /// A client id (`client_id`, `VARCHAR(36)`).
    ClientId,
    "client id",
    36
);
string_id!(
    /// A transaction's business reference (`reference`, `VARCHAR(100)`).
    Reference,
    "reference",
    100
);

/// A ledger transaction's id (`VARCHAR(36)`, a UUID). Ids are injected: see
/// [`super::TransactionIds`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TransactionId(pub Uuid);

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Defines a wire enum: `Variant => "WIRE"`, with serde, `as_wire` and `FromStr`.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $wire)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire (and SQL) name.
            pub fn as_wire(&self) -> &'static str {
                match self {
                    $($name::$variant => $wire),+
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_wire())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($wire => Ok($name::$variant),)+
                    other => Err(format!(
                        "unknown {} {:?} (expected one of {})",
                        $what,
                        other,
                        [$($wire),+].join(", ")
                    )),
                }
            }
        }
    };
}

wire_enum!(
    /// `type_compte`: `COURANT | EPARGNE | JOINT`.
    AccountType, "account type" {
        /// Current account.
        Current => "COURANT",
        /// Savings account.
        Savings => "EPARGNE",
        /// Joint account.
        Joint => "JOINT",
    }
);

wire_enum!(
    /// `statut`: `ACTIF | FERME | BLOQUE`.
    AccountStatus, "account status" {
        Active => "ACTIF",
        Closed => "FERME",
        Blocked => "BLOQUE",
    }
);

wire_enum!(
    /// A transaction's `type`: `DEPOT | RETRAIT | VIREMENT_ENTRANT | VIREMENT_SORTANT`.
    TransactionKind, "transaction type" {
        /// Credit: deposit, initial balance, premium payment.
        Deposit => "DEPOT",
        /// Debit: withdrawal.
        Withdrawal => "RETRAIT",
        /// Credit side of an internal transfer.
        TransferIn => "VIREMENT_ENTRANT",
        /// Debit side of an internal transfer.
        TransferOut => "VIREMENT_SORTANT",
    }
);

impl TransactionKind {
    /// Whether this kind adds its amount to the balance (else it subtracts it).
    pub fn is_credit(&self) -> bool {
        matches!(self, TransactionKind::Deposit | TransactionKind::TransferIn)
    }
}

/// A bank account (S3-08).
///
/// Invariants, kept by the rules and checked by [`Account::restore`]: the balance is in
/// the account's currency and never negative. Wire form: see [`AccountRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "AccountRecord", try_from = "AccountRecord")]
pub struct Account {
    id: AccountId,
    client_id: ClientId,
    account_type: AccountType,
    balance: Money,
    status: AccountStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl Account {
    /// A new `ACTIF` account with a zero balance.
    pub(crate) fn open(
        id: AccountId,
        client_id: ClientId,
        account_type: AccountType,
        currency: Currency,
        at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            client_id,
            account_type,
            balance: Money::zero(currency),
            status: AccountStatus::Active,
            created_at: at,
            updated_at: at,
        }
    }

    /// Rebuilds an account read from storage, checking its invariants.
    pub fn restore(record: AccountRecord) -> Result<Self, ValidationErrors> {
        let mut errors = ErrorAccumulator::new();
        let balance = errors.field(
            "solde",
            exact_amount(record.balance).and_then(|a| Money::new(a, record.currency)),
        );
        if let Some(balance) = balance {
            errors.check(!balance.is_negative(), "solde", "must not be negative");
        }
        errors.check(
            record.updated_at >= record.created_at,
            "updated_at",
            "must not be before created_at",
        );
        errors.finish(|| {
            Some(Self {
                id: record.id,
                client_id: record.client_id,
                account_type: record.account_type,
                balance: balance?,
                status: record.status,
                created_at: record.created_at,
                updated_at: record.updated_at,
            })
        })
    }

    pub fn id(&self) -> &AccountId {
        &self.id
    }
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }
    pub fn account_type(&self) -> AccountType {
        self.account_type
    }
    pub fn currency(&self) -> Currency {
        self.balance.currency()
    }
    pub fn balance(&self) -> Money {
        self.balance
    }
    pub fn status(&self) -> AccountStatus {
        self.status
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }

    /// This account with a new balance (same currency, checked by the caller).
    pub(crate) fn with_balance(&self, balance: Money, at: DateTime<Utc>) -> Self {
        Self {
            balance,
            updated_at: at,
            ..self.clone()
        }
    }

    pub(crate) fn with_status(&self, status: AccountStatus, at: DateTime<Utc>) -> Self {
        Self {
            status,
            updated_at: at,
            ..self.clone()
        }
    }
}

/// An account's wire and storage form (S3-10 `GET /api/v1/comptes/:id`, plus
/// `updated_at`): `{id, client_id, type_compte, devise, solde: "1234.56", statut,
/// created_at, updated_at}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountRecord {
    pub id: AccountId,
    pub client_id: ClientId,
    #[serde(rename = "type_compte")]
    pub account_type: AccountType,
    #[serde(rename = "devise")]
    pub currency: Currency,
    /// Decimal string, two places.
    #[serde(rename = "solde")]
    pub balance: Decimal,
    #[serde(rename = "statut")]
    pub status: AccountStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<Account> for AccountRecord {
    fn from(account: Account) -> Self {
        Self {
            currency: account.currency(),
            balance: account.balance.amount(),
            id: account.id,
            client_id: account.client_id,
            account_type: account.account_type,
            status: account.status,
            created_at: account.created_at,
            updated_at: account.updated_at,
        }
    }
}

impl TryFrom<AccountRecord> for Account {
    type Error = ValidationErrors;
    fn try_from(record: AccountRecord) -> Result<Self, Self::Error> {
        Account::restore(record)
    }
}

/// One movement on one account (S3-08). The amount is always positive; the kind says
/// whether it was a credit or a debit. Wire form: see [`TransactionRecord`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "TransactionRecord", try_from = "TransactionRecord")]
pub struct LedgerTransaction {
    id: TransactionId,
    account_id: AccountId,
    kind: TransactionKind,
    amount: Money,
    reference: Option<Reference>,
    created_at: DateTime<Utc>,
}

impl LedgerTransaction {
    pub(crate) fn new(
        id: TransactionId,
        account_id: AccountId,
        kind: TransactionKind,
        amount: Money,
        reference: Option<Reference>,
        created_at: DateTime<Utc>,
    ) -> Self {
        Self {
            id,
            account_id,
            kind,
            amount,
            reference,
            created_at,
        }
    }

    /// Rebuilds a transaction read from storage; its amount must be positive.
    pub fn restore(record: TransactionRecord) -> Result<Self, ValidationErrors> {
        let mut errors = ErrorAccumulator::new();
        let amount = errors.field("montant", Money::from_exact(record.amount, record.currency));
        if let Some(amount) = amount {
            errors.check(amount.is_positive(), "montant", "must be > 0");
        }
        errors.finish(|| {
            Some(Self {
                id: record.id,
                account_id: record.account_id,
                kind: record.kind,
                amount: amount?,
                reference: record.reference,
                created_at: record.created_at,
            })
        })
    }

    pub fn id(&self) -> TransactionId {
        self.id
    }
    pub fn account_id(&self) -> &AccountId {
        &self.account_id
    }
    pub fn kind(&self) -> TransactionKind {
        self.kind
    }
    /// Always positive.
    pub fn amount(&self) -> Money {
        self.amount
    }
    pub fn reference(&self) -> Option<&Reference> {
        self.reference.as_ref()
    }
    pub fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
}

/// A transaction's wire and storage form: `{id, compte_id, type, montant: "100.00",
/// devise, reference, created_at}` (S3-10 lists `{id, type, montant, reference,
/// created_at}`; `compte_id` and `devise` make the record self-contained).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransactionRecord {
    pub id: TransactionId,
    #[serde(rename = "compte_id")]
    pub account_id: AccountId,
    #[serde(rename = "type")]
    pub kind: TransactionKind,
    /// Decimal string, two places, positive.
    #[serde(rename = "montant")]
    pub amount: Decimal,
    #[serde(rename = "devise")]
    pub currency: Currency,
    #[serde(default)]
    pub reference: Option<Reference>,
    pub created_at: DateTime<Utc>,
}

impl From<LedgerTransaction> for TransactionRecord {
    fn from(tx: LedgerTransaction) -> Self {
        Self {
            id: tx.id,
            account_id: tx.account_id,
            kind: tx.kind,
            amount: tx.amount.amount(),
            currency: tx.amount.currency(),
            reference: tx.reference,
            created_at: tx.created_at,
        }
    }
}

impl TryFrom<TransactionRecord> for LedgerTransaction {
    type Error = ValidationErrors;
    fn try_from(record: TransactionRecord) -> Result<Self, Self::Error> {
        LedgerTransaction::restore(record)
    }
}
