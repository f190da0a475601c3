//! Serde adapters shared by the event contracts: RFC 3339 timestamps with millisecond
//! precision, and decimals written as JSON numbers where the seed contract says "number".
//!
//! Used with `#[serde(with = "...")]`; nothing here allocates beyond the formatted string.

/// `DateTime<Utc>` as an RFC 3339 string with three fractional digits and a `Z`
/// (`2024-01-15T10:30:00.000Z`). Parsing accepts any RFC 3339 offset and precision and
/// normalizes to UTC, truncated to the millisecond so that what was read is exactly what
/// will be written again.
pub mod rfc3339_millis {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::{Deserialize, Deserializer, Serializer, de::Error as _};

    pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<DateTime<Utc>, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        let parsed = DateTime::parse_from_rfc3339(&text)
            .map_err(|e| D::Error::custom(format!("invalid RFC 3339 timestamp {text:?}: {e}")))?;
        Ok(super::super::truncate_to_millis(parsed.with_timezone(&Utc)))
    }
}

/// `Decimal` as a JSON *number* (the S0, S1, S2 and S4 seeds send `"amount": 100.50`).
///
/// Writing: an integral value that fits an `i64` is written as an integer (`5`, `-10`),
/// anything else as the nearest `f64` (`149.99`). An `f64` holds 15 significant decimal
/// digits exactly, so every amount below 10^13 with two decimals survives; larger or finer
/// values belong on the Avro/decimal-string contracts. Reading: accepts JSON numbers only
/// (a string such as `"5"` is a type error, which is how S1 recognises non-numeric
/// operands); floats are parsed through their shortest decimal form, so `149.99` reads as
/// exactly `149.99`, not `149.990000000000009...`.
pub mod decimal_number {
    use rust_decimal::Decimal;
    use rust_decimal::prelude::ToPrimitive;
    use serde::{Deserializer, Serializer, de};
    use std::fmt;
    use std::str::FromStr;

    pub fn serialize<S: Serializer>(value: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        // No let-chain here: the workspace's rust-version (1.85) predates them.
        let integer = Some(value)
            .filter(|v| v.fract().is_zero())
            .and_then(|v| v.to_i64());
        if let Some(integer) = integer {
            return serializer.serialize_i64(integer);
        }
        match value.to_f64() {
            Some(float) => serializer.serialize_f64(float),
            None => Err(serde::ser::Error::custom(format!(
                "decimal {value} has no f64 representation"
            ))),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        deserializer.deserialize_any(NumberVisitor)
    }

    struct NumberVisitor;

    impl de::Visitor<'_> for NumberVisitor {
        type Value = Decimal;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON number")
        }

        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Decimal, E> {
            Ok(Decimal::from(v))
        }

        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Decimal, E> {
            if !v.is_finite() {
                return Err(E::invalid_value(de::Unexpected::Float(v), &self));
            }
            // `Display` for f64 gives the shortest string that reads back as the same f64.
            Decimal::from_str(&v.to_string())
                .or_else(|_| Decimal::from_scientific(&format!("{v:e}")))
                .map_err(|_| E::custom(format!("number {v} is out of the decimal range")))
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;
    use serde::{Deserialize, Serialize};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Amount {
        #[serde(with = "super::decimal_number")]
        amount: Decimal,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct At {
        #[serde(with = "super::rfc3339_millis")]
        at: DateTime<Utc>,
    }

    #[test]
    fn decimal_number_writes_integers_as_integers_and_fractions_as_floats() {
        for (value, json) in [
            (dec!(5), r#"{"amount":5}"#),
            (dec!(-10), r#"{"amount":-10}"#),
            (dec!(150.00), r#"{"amount":150}"#),
            (dec!(149.99), r#"{"amount":149.99}"#),
            (dec!(100.50), r#"{"amount":100.5}"#),
            (dec!(9999999999.99), r#"{"amount":9999999999.99}"#),
        ] {
            assert_eq!(
                serde_json::to_string(&Amount { amount: value }).unwrap(),
                json
            );
            let back: Amount = serde_json::from_str(json).unwrap();
            assert_eq!(back.amount, value, "{json}");
        }
    }

    #[test]
    fn decimal_number_reads_floats_exactly_and_rejects_strings() {
        let a: Amount = serde_json::from_str(r#"{"amount":1234.56}"#).unwrap();
        assert_eq!(a.amount, dec!(1234.56));
        let a: Amount = serde_json::from_str(r#"{"amount":0.1}"#).unwrap();
        assert_eq!(a.amount, dec!(0.1));
        let a: Amount = serde_json::from_str(r#"{"amount":1e3}"#).unwrap();
        assert_eq!(a.amount, dec!(1000));
        assert!(serde_json::from_str::<Amount>(r#"{"amount":"5"}"#).is_err());
        assert!(serde_json::from_str::<Amount>(r#"{"amount":null}"#).is_err());
        assert!(serde_json::from_str::<Amount>(r#"{"amount":1e300}"#).is_err());
    }

    #[test]
    fn rfc3339_millis_writes_three_digits_and_reads_any_offset() {
        let at: At = serde_json::from_str(r#"{"at":"2024-01-15T11:30:00.000+01:00"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&at).unwrap(),
            r#"{"at":"2024-01-15T10:30:00.000Z"}"#
        );
        let at: At = serde_json::from_str(r#"{"at":"2026-01-07T10:00:00Z"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&at).unwrap(),
            r#"{"at":"2026-01-07T10:00:00.000Z"}"#
        );
        let at: At = serde_json::from_str(r#"{"at":"2026-01-07T10:00:00.123456789Z"}"#).unwrap();
        assert_eq!(
            serde_json::to_string(&at).unwrap(),
            r#"{"at":"2026-01-07T10:00:00.123Z"}"#
        );
        assert!(serde_json::from_str::<At>(r#"{"at":"2026-01-07 10:00"}"#).is_err());
    }
}
