//! Event contracts: the wire shape of every event and queued message of S0–S4.
//!
//! This module owns the *JSON* contracts (field names, status values, number vs string
//! money) exactly as the seeds give them, and the Rust types the rest of edalab works
//! with. Rust identifiers are English; each French or camelCase wire name is set once with
//! `#[serde(rename)]` and documented at the type. It does no I/O and knows nothing of
//! Avro: the Avro mapping and the Confluent wire format live in `edalab-schema`.
//!
//! | module | system | wire | money on the wire |
//! |---|---|---|---|
//! | [`banking`] | S3 EDA-Lab (`bancaire.*`) | Avro on the bus, JSON in APIs/`tail` | decimal string `"1234.56"` |
//! | [`transactions`] | S0 transactions pipeline | JSON | JSON number `100.5` |
//! | [`calculator`] | S1 calculator queues | JSON | JSON number |
//! | [`order_intake`] | S2 order files → queue → table | JSON | JSON number |
//! | [`saga`] | S4 order saga (`orders.*`, `payments.*`) | JSON | JSON number |
//!
//! Timestamps are RFC 3339 in UTC with exactly three fractional digits
//! (`2024-01-15T10:30:00.000Z`, the shape JavaScript's `toISOString` gives the seeds), and
//! every event timestamp has millisecond precision: the Avro schemas carry
//! `timestamp-millis`, so finer precision could not survive a round trip. Producers
//! should pass their clock reading through [`truncate_to_millis`].

/// Declares a closed set of wire symbols: a `Copy` enum whose variants serialize to the
/// given strings, with `ALL`, `as_str` and `from_wire` for the codecs that do not go
/// through serde (Avro enums).
macro_rules! wire_enum {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident => $wire:literal ),+ $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $wire)] $variant ),+
        }

        impl $name {
            /// Every variant, in declaration (and Avro symbol) order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The wire symbol.
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $wire),+ }
            }

            /// The variant whose wire symbol is `symbol`, if any.
            pub fn from_wire(symbol: &str) -> Option<Self> {
                match symbol { $($wire => Some(Self::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod banking;
pub mod calculator;
pub mod order_intake;
pub mod saga;
pub mod serde_helpers;
pub mod topics;
pub mod transactions;

use chrono::{DateTime, Utc};

pub use banking::{
    AccountClosed, AccountOpened, AccountType, BankingEvent, BankingEventKind, Channel,
    DepositMade, OperationRejected, PremiumPaid, RejectionCode, TransferIssued, TransferReceived,
    TransferStatus, WithdrawalMade,
};

/// Drops everything finer than a millisecond, the precision every event timestamp keeps on
/// the wire (Avro `timestamp-millis`, JSON with three fractional digits).
pub fn truncate_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    let millis = at.timestamp_millis();
    // A DateTime's own millisecond count is always representable again.
    DateTime::from_timestamp_millis(millis).unwrap_or(at)
}

#[cfg(test)]
pub(crate) mod test_support {
    use chrono::{DateTime, TimeZone, Utc};

    /// 2026-02-06T10:15:30.123Z, a millisecond-precise instant used across the tests.
    pub fn instant() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 2, 6, 10, 15, 30)
            .single()
            .expect("valid date")
            + chrono::Duration::milliseconds(123)
    }

    /// Serializes to JSON, parses back, and checks both the value and the JSON are stable.
    pub fn assert_json_round_trip<T>(value: &T) -> serde_json::Value
    where
        T: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
    {
        let text = serde_json::to_string(value).expect("serialize");
        let back: T = serde_json::from_str(&text).expect("deserialize");
        assert_eq!(&back, value, "round trip changed the value; json = {text}");
        let again = serde_json::to_string(&back).expect("serialize again");
        assert_eq!(text, again, "json not stable");
        serde_json::from_str(&text).expect("json value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncate_to_millis_drops_sub_millisecond_digits() {
        let at = test_support::instant() + chrono::Duration::nanoseconds(456_789);
        assert_eq!(truncate_to_millis(at), test_support::instant());
        assert_eq!(
            truncate_to_millis(test_support::instant()),
            test_support::instant()
        );
    }
}
