//! Conversions between the domain's ledger types and column values, shared by the
//! backends: every row read back goes through the domain's `restore`, so a store never
//! hands out an account or transaction that breaks an invariant.

use chrono::{DateTime, Utc};
use edalab_domain::Currency;
use edalab_domain::ledger::{
    Account, AccountId, AccountRecord, ClientId, LedgerTransaction, Reference, TransactionId,
    TransactionRecord,
};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::ledger::StoreError;

/// Column values of a `comptes` row, as read.
pub(crate) struct AccountColumns {
    pub id: String,
    pub client_id: String,
    pub account_type: String,
    pub currency: String,
    pub balance: Decimal,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub(crate) fn corrupt(table: &'static str, reason: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        table,
        reason: reason.into(),
    }
}

impl AccountColumns {
    pub(crate) fn into_account(self) -> Result<Account, StoreError> {
        let c = |r: String| corrupt("comptes", format!("account {}: {r}", self.id));
        let record = AccountRecord {
            id: AccountId::parse(self.id.clone()).map_err(c)?,
            client_id: ClientId::parse(self.client_id).map_err(c)?,
            account_type: self.account_type.parse().map_err(c)?,
            currency: Currency::parse(&self.currency).map_err(|e| c(e.to_string()))?,
            balance: self.balance,
            status: self.status.parse().map_err(c)?,
            created_at: self.created_at,
            updated_at: self.updated_at,
        };
        Account::restore(record).map_err(|e| c(e.to_string()))
    }
}

/// Column values of a `transactions` row, as read.
pub(crate) struct TransactionColumns {
    pub id: Uuid,
    pub account_id: String,
    pub kind: String,
    pub amount: Decimal,
    pub currency: String,
    pub reference: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl TransactionColumns {
    pub(crate) fn into_transaction(self) -> Result<LedgerTransaction, StoreError> {
        let c = |r: String| corrupt("transactions", format!("transaction {}: {r}", self.id));
        let record = TransactionRecord {
            id: TransactionId(self.id),
            account_id: AccountId::parse(self.account_id).map_err(c)?,
            kind: self.kind.parse().map_err(c)?,
            amount: self.amount,
            currency: Currency::parse(&self.currency).map_err(|e| c(e.to_string()))?,
            reference: self
                .reference
                .map(Reference::parse)
                .transpose()
                .map_err(c)?,
            created_at: self.created_at,
        };
        LedgerTransaction::restore(record).map_err(|e| c(e.to_string()))
    }
}

/// An amount of scale <= 2 as integer cents (SQLite's money column).
pub(crate) fn to_cents(amount: Decimal) -> Result<i64, StoreError> {
    let mut scaled = amount;
    scaled.rescale(2);
    if scaled != amount {
        return Err(StoreError::Invalid(format!(
            "amount {amount} has more than 2 decimal places"
        )));
    }
    i64::try_from(scaled.mantissa())
        .map_err(|_| StoreError::Invalid(format!("amount {amount} does not fit in cents")))
}

pub(crate) fn from_cents(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

pub(crate) fn from_micros(table: &'static str, micros: i64) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp_micros(micros)
        .ok_or_else(|| corrupt(table, format!("timestamp {micros} out of range")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cents_round_trip() {
        for s in ["0", "0.01", "1234.56", "9999999999999999.99", "5.1"] {
            let d: Decimal = s.parse().unwrap();
            assert_eq!(from_cents(to_cents(d).unwrap()), d);
        }
        assert!(to_cents("0.001".parse().unwrap()).is_err());
    }
}
