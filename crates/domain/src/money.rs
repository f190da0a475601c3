//! Money: an exact decimal amount in one ISO-4217 currency.
//!
//! This module owns [`Currency`] (a known ISO-4217 code), [`Money`] (amount + currency,
//! two decimal places, bounded like Avro `decimal(18,2)`), its checked arithmetic and
//! its wire forms. It may not know about accounts, orders or any other aggregate.
//!
//! Choices, written once here:
//! - **Scale 2 for every currency.** The ledger stores `DECIMAL(18,2)` and the Avro
//!   schemas use `decimal(18,2)`, so amounts carry exactly two decimal places even for
//!   currencies whose minor unit differs (JPY 0, BHD 3).
//! - **Rounding** to two places uses banker's rounding
//!   ([`RoundingStrategy::MidpointNearestEven`]): `0.125 → 0.12`, `0.135 → 0.14`.
//!   Only [`Money::new`] rounds; [`Money::from_exact`] (used for every wire input)
//!   refuses a third decimal instead of silently changing the amount.
//! - **Magnitude**: `|amount| < 10^16` ([`AMOUNT_LIMIT`]), the largest that fits
//!   `decimal(18,2)`. Every constructor and every operation enforces it, and
//!   arithmetic uses rust_decimal's checked operations: nothing overflows silently.
//! - **Currencies**: a list of the active ISO-4217 codes ([`KNOWN_CURRENCIES`]), not
//!   "any three uppercase letters", so a typo such as `"EUT"` is refused at the edge.

use std::fmt;
use std::str::FromStr;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Number of decimal places of every [`Money`] amount.
pub const AMOUNT_SCALE: u32 = 2;

/// Exclusive bound on `|amount|`: `10^16`, the largest magnitude `decimal(18,2)` holds
/// (16 integer digits + 2 decimals).
// 10^16 = 0x0023_86F2_6FC1_0000, split into rust_decimal's 32-bit lo/mid/hi words.
pub const AMOUNT_LIMIT: Decimal = Decimal::from_parts(0x6FC1_0000, 0x0023_86F2, 0, false, 0);

/// Rounding applied by [`Money::new`] and [`round_amount`]: banker's rounding.
pub const ROUNDING: RoundingStrategy = RoundingStrategy::MidpointNearestEven;

/// Active ISO-4217 currency codes accepted by [`Currency::parse`].
pub const KNOWN_CURRENCIES: &[&str] = &[
    "AED", "AFN", "ALL", "AMD", "ANG", "AOA", "ARS", "AUD", "AWG", "AZN", "BAM", "BBD", "BDT",
    "BGN", "BHD", "BIF", "BMD", "BND", "BOB", "BRL", "BSD", "BTN", "BWP", "BYN", "BZD", "CAD",
    "CDF", "CHF", "CLP", "CNY", "COP", "CRC", "CUP", "CVE", "CZK", "DJF", "DKK", "DOP", "DZD",
    "EGP", "ERN", "ETB", "EUR", "FJD", "FKP", "GBP", "GEL", "GHS", "GIP", "GMD", "GNF", "GTQ",
    "GYD", "HKD", "HNL", "HTG", "HUF", "IDR", "ILS", "INR", "IQD", "IRR", "ISK", "JMD", "JOD",
    "JPY", "KES", "KGS", "KHR", "KMF", "KPW", "KRW", "KWD", "KYD", "KZT", "LAK", "LBP", "LKR",
    "LRD", "LSL", "LYD", "MAD", "MDL", "MGA", "MKD", "MMK", "MNT", "MOP", "MRU", "MUR", "MVR",
    "MWK", "MXN", "MYR", "MZN", "NAD", "NGN", "NIO", "NOK", "NPR", "NZD", "OMR", "PAB", "PEN",
    "PGK", "PHP", "PKR", "PLN", "PYG", "QAR", "RON", "RSD", "RUB", "RWF", "SAR", "SBD", "SCR",
    "SDG", "SEK", "SGD", "SHP", "SLE", "SOS", "SRD", "SSP", "STN", "SVC", "SYP", "SZL", "THB",
    "TJS", "TMT", "TND", "TOP", "TRY", "TTD", "TWD", "TZS", "UAH", "UGX", "USD", "UYU", "UZS",
    "VED", "VES", "VND", "VUV", "WST", "XAF", "XCD", "XCG", "XOF", "XPF", "YER", "ZAR", "ZMW",
    "ZWG",
];

/// An ISO-4217 currency code from [`KNOWN_CURRENCIES`]. Wire form: `"EUR"`.
///
/// Built only by [`Currency::parse`] (or the constants), so holding one proves the code
/// is three uppercase ASCII letters and a known currency.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(&'static str);

impl Currency {
    pub const EUR: Currency = Currency("EUR");
    pub const USD: Currency = Currency("USD");
    pub const CAD: Currency = Currency("CAD");
    pub const GBP: Currency = Currency("GBP");
    pub const CHF: Currency = Currency("CHF");

    /// Accepts exactly three uppercase ASCII letters naming a known code; `"eur"`,
    /// `" EUR"`, `"EURO"` and unknown codes are refused with a message saying why.
    pub fn parse(code: &str) -> Result<Self, CurrencyError> {
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(CurrencyError::Malformed(code.to_owned()));
        }
        KNOWN_CURRENCIES
            .iter()
            .find(|known| **known == code)
            .map(|known| Currency(known))
            .ok_or_else(|| CurrencyError::Unknown(code.to_owned()))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.0)
    }
}

impl FromStr for Currency {
    type Err = CurrencyError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Currency {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0)
    }
}

impl<'de> Deserialize<'de> for Currency {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let code = String::deserialize(deserializer)?;
        Currency::parse(&code).map_err(serde::de::Error::custom)
    }
}

/// Why a currency code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CurrencyError {
    #[error("currency {0:?} must be 3 uppercase letters (ISO 4217), e.g. \"EUR\"")]
    Malformed(String),
    #[error("currency {0:?} is not a known ISO 4217 code")]
    Unknown(String),
}

/// Why a money value or operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency mismatch: {left} and {right}")]
    CurrencyMismatch { left: Currency, right: Currency },
    #[error("amount {amount} is out of range: |amount| must be < 10^16 (decimal(18,2))")]
    OutOfRange { amount: Decimal },
    #[error("arithmetic overflow")]
    Overflow,
    #[error("amount {amount} has more than 2 decimal places")]
    TooPrecise { amount: Decimal },
}

impl MoneyError {
    /// Stable code for logs and API bodies.
    pub fn code(&self) -> &'static str {
        match self {
            MoneyError::CurrencyMismatch { .. } => "CURRENCY_MISMATCH",
            MoneyError::OutOfRange { .. } => "AMOUNT_OUT_OF_RANGE",
            MoneyError::Overflow => "AMOUNT_OVERFLOW",
            MoneyError::TooPrecise { .. } => "AMOUNT_TOO_PRECISE",
        }
    }
}

/// Rounds to [`AMOUNT_SCALE`] places with banker's rounding and fixes the scale at 2
/// (`100` → `100.00`), then checks `|amount| <` [`AMOUNT_LIMIT`].
pub fn round_amount(amount: Decimal) -> Result<Decimal, MoneyError> {
    let mut rounded = amount.round_dp_with_strategy(AMOUNT_SCALE, ROUNDING);
    rounded.rescale(AMOUNT_SCALE);
    if rounded.abs() >= AMOUNT_LIMIT {
        return Err(MoneyError::OutOfRange { amount });
    }
    Ok(rounded)
}

/// Like [`round_amount`] but refuses an amount with a non-zero third decimal.
pub fn exact_amount(amount: Decimal) -> Result<Decimal, MoneyError> {
    if amount.normalize().scale() > AMOUNT_SCALE {
        return Err(MoneyError::TooPrecise { amount });
    }
    round_amount(amount)
}

/// An amount in a currency: scale 2, `|amount| < 10^16`, banker's rounding (see the
/// module doc). May be negative or zero; rules that need a positive amount say so.
///
/// Wire form: `{"amount": "1234.56", "currency": "EUR"}` — the amount as a decimal
/// string with two places, never a float. Deserialization refuses a third decimal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    amount: Decimal,
    currency: Currency,
}

impl Money {
    /// Rounds `amount` to cents (banker's rounding); refuses `|amount| >= 10^16`.
    pub fn new(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        Ok(Self {
            amount: round_amount(amount)?,
            currency,
        })
    }

    /// Refuses an amount with more than two decimal places instead of rounding it.
    pub fn from_exact(amount: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        Ok(Self {
            amount: exact_amount(amount)?,
            currency,
        })
    }

    pub fn zero(currency: Currency) -> Self {
        Self {
            amount: Decimal::new(0, AMOUNT_SCALE),
            currency,
        }
    }

    pub fn amount(&self) -> Decimal {
        self.amount
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn is_zero(&self) -> bool {
        self.amount.is_zero()
    }

    /// Strictly greater than zero.
    pub fn is_positive(&self) -> bool {
        self.amount > Decimal::ZERO
    }

    /// Strictly less than zero.
    pub fn is_negative(&self) -> bool {
        self.amount < Decimal::ZERO
    }

    /// `self + other`; refuses different currencies and results out of range.
    pub fn checked_add(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self
            .amount
            .checked_add(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::new(sum, self.currency)
    }

    /// `self - other`; refuses different currencies and results out of range.
    pub fn checked_sub(&self, other: &Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let difference = self
            .amount
            .checked_sub(other.amount)
            .ok_or(MoneyError::Overflow)?;
        Money::new(difference, self.currency)
    }

    /// `self × quantity` (a line total); refuses results out of range.
    pub fn checked_mul_quantity(&self, quantity: u64) -> Result<Money, MoneyError> {
        let product = self
            .amount
            .checked_mul(Decimal::from(quantity))
            .ok_or(MoneyError::Overflow)?;
        Money::new(product, self.currency)
    }

    fn same_currency(&self, other: &Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch {
                left: self.currency,
                right: other.currency,
            })
        }
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount, self.currency)
    }
}

#[derive(Serialize, Deserialize)]
struct MoneyWire {
    amount: Decimal,
    currency: Currency,
}

impl Serialize for Money {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        MoneyWire {
            amount: self.amount,
            currency: self.currency,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = MoneyWire::deserialize(deserializer)?;
        Money::from_exact(wire.amount, wire.currency).map_err(serde::de::Error::custom)
    }
}

/// Serde helper for contracts whose seed writes an amount as a JSON *number*
/// (`"amount": 99.99` in S0 and S4): `#[serde(with = "edalab_domain::money::decimal_as_json_number")]`.
///
/// Serializes through `f64`, which prints the shortest text that reads back to the same
/// value: exact for two-decimal amounts up to about 9·10^13; beyond that the last
/// cents may be lost, which is why the ledger's contracts use decimal strings instead.
/// Deserializes the number's text exactly (no float round-trip).
pub mod decimal_as_json_number {
    use super::*;

    pub fn serialize<S: Serializer>(amount: &Decimal, serializer: S) -> Result<S::Ok, S::Error> {
        let value = amount
            .to_f64()
            .ok_or_else(|| serde::ser::Error::custom("amount does not fit a JSON number"))?;
        serializer.serialize_f64(value)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Decimal, D::Error> {
        let number = serde_json::Number::deserialize(deserializer)?;
        crate::validation::decimal_from_number(&number).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use serde_json::json;

    fn eur(amount: Decimal) -> Money {
        Money::new(amount, Currency::EUR).unwrap()
    }

    #[test]
    fn amount_limit_is_ten_to_the_sixteen() {
        assert_eq!(AMOUNT_LIMIT, dec!(10_000_000_000_000_000));
    }

    #[test]
    fn currency_accepts_known_codes() {
        assert_eq!(Currency::parse("EUR"), Ok(Currency::EUR));
        assert_eq!(Currency::parse("CAD").unwrap().as_str(), "CAD");
        for code in KNOWN_CURRENCIES {
            assert_eq!(Currency::parse(code).unwrap().as_str(), *code);
        }
    }

    #[test]
    fn currency_list_is_well_formed_and_sorted() {
        assert!(
            KNOWN_CURRENCIES
                .iter()
                .all(|c| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()))
        );
        assert!(KNOWN_CURRENCIES.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn currency_refuses_lowercase_wrong_length_and_non_letters() {
        for bad in ["eur", "EURO", "EU", "", " EUR", "E1R", "ÉUR"] {
            assert_eq!(
                Currency::parse(bad),
                Err(CurrencyError::Malformed(bad.to_owned())),
                "{bad:?}"
            );
        }
        assert!(
            Currency::parse("eur")
                .unwrap_err()
                .to_string()
                .contains("3 uppercase letters")
        );
    }

    #[test]
    fn currency_refuses_unknown_code() {
        assert_eq!(
            Currency::parse("EUT"),
            Err(CurrencyError::Unknown("EUT".to_owned()))
        );
    }

    #[test]
    fn currency_serde_is_the_code_and_validates() {
        assert_eq!(serde_json::to_value(Currency::EUR).unwrap(), json!("EUR"));
        assert_eq!(
            serde_json::from_value::<Currency>(json!("USD")).unwrap(),
            Currency::USD
        );
        assert!(serde_json::from_value::<Currency>(json!("usd")).is_err());
    }

    #[test]
    fn new_rounds_half_to_even() {
        assert_eq!(eur(dec!(0.125)).amount(), dec!(0.12));
        assert_eq!(eur(dec!(0.135)).amount(), dec!(0.14));
        assert_eq!(eur(dec!(-0.125)).amount(), dec!(-0.12));
        assert_eq!(eur(dec!(2.675)).amount(), dec!(2.68));
    }

    #[test]
    fn new_fixes_scale_at_two() {
        assert_eq!(eur(dec!(100)).amount().to_string(), "100.00");
        assert_eq!(Money::zero(Currency::EUR).amount().to_string(), "0.00");
    }

    #[test]
    fn new_refuses_out_of_range() {
        assert!(Money::new(dec!(9999999999999999.99), Currency::EUR).is_ok());
        assert!(matches!(
            Money::new(dec!(10000000000000000), Currency::EUR),
            Err(MoneyError::OutOfRange { .. })
        ));
        assert!(matches!(
            Money::new(dec!(-10000000000000000), Currency::EUR),
            Err(MoneyError::OutOfRange { .. })
        ));
        // Rounding up to the limit is out of range too.
        assert!(Money::new(dec!(9999999999999999.995), Currency::EUR).is_err());
    }

    #[test]
    fn from_exact_refuses_a_third_decimal() {
        assert_eq!(
            Money::from_exact(dec!(1.005), Currency::EUR),
            Err(MoneyError::TooPrecise {
                amount: dec!(1.005)
            })
        );
        assert_eq!(
            Money::from_exact(dec!(1.500), Currency::EUR)
                .unwrap()
                .amount(),
            dec!(1.50)
        );
    }

    #[test]
    fn add_and_sub_in_same_currency() {
        assert_eq!(
            eur(dec!(1.10)).checked_add(&eur(dec!(2.25))).unwrap(),
            eur(dec!(3.35))
        );
        assert_eq!(
            eur(dec!(1.10)).checked_sub(&eur(dec!(2.25))).unwrap(),
            eur(dec!(-1.15))
        );
    }

    #[test]
    fn add_refuses_currency_mismatch() {
        let usd = Money::new(dec!(1), Currency::USD).unwrap();
        assert_eq!(
            eur(dec!(1)).checked_add(&usd),
            Err(MoneyError::CurrencyMismatch {
                left: Currency::EUR,
                right: Currency::USD
            })
        );
        assert_eq!(
            eur(dec!(1)).checked_sub(&usd).unwrap_err().code(),
            "CURRENCY_MISMATCH"
        );
    }

    #[test]
    fn add_refuses_result_over_the_limit() {
        let big = eur(dec!(9999999999999999.99));
        assert!(matches!(
            big.checked_add(&eur(dec!(0.01))),
            Err(MoneyError::OutOfRange { .. })
        ));
        let negative_big = eur(dec!(-9999999999999999.99));
        assert!(matches!(
            negative_big.checked_sub(&eur(dec!(0.01))),
            Err(MoneyError::OutOfRange { .. })
        ));
    }

    #[test]
    fn mul_quantity_refuses_overflow() {
        assert_eq!(
            eur(dec!(2.50)).checked_mul_quantity(3).unwrap(),
            eur(dec!(7.50))
        );
        assert!(
            eur(dec!(9999999999999999.99))
                .checked_mul_quantity(u64::MAX)
                .is_err()
        );
    }

    #[test]
    fn serde_uses_decimal_string() {
        let m = eur(dec!(1234.56));
        assert_eq!(
            serde_json::to_value(m).unwrap(),
            json!({"amount": "1234.56", "currency": "EUR"})
        );
        assert_eq!(
            serde_json::to_value(eur(dec!(5))).unwrap(),
            json!({"amount": "5.00", "currency": "EUR"})
        );
        let back: Money =
            serde_json::from_value(json!({"amount": "1234.56", "currency": "EUR"})).unwrap();
        assert_eq!(back, m);
    }

    #[test]
    fn serde_refuses_bad_money() {
        for bad in [
            json!({"amount": "1.005", "currency": "EUR"}),
            json!({"amount": "1.00", "currency": "eur"}),
            json!({"amount": "10000000000000000", "currency": "EUR"}),
            json!({"amount": "abc", "currency": "EUR"}),
        ] {
            assert!(
                serde_json::from_value::<Money>(bad.clone()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn json_number_helper_round_trips_exactly() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct Wire {
            #[serde(with = "decimal_as_json_number")]
            amount: Decimal,
        }
        let v = serde_json::to_value(Wire {
            amount: dec!(99.99),
        })
        .unwrap();
        assert_eq!(v, json!({"amount": 99.99}));
        let back: Wire = serde_json::from_value(json!({"amount": 149.99})).unwrap();
        assert_eq!(back.amount, dec!(149.99));
    }

    mod properties {
        use super::*;
        use proptest::prelude::*;

        fn any_decimal() -> impl Strategy<Value = Decimal> {
            // Mantissas up to ~2^96 and scales 0..=4: covers in-range and far out-of-range values.
            (any::<i64>(), any::<u32>(), 0u32..=4).prop_map(|(hi, lo, scale)| {
                let mantissa = (i128::from(hi) << 32) | i128::from(lo);
                Decimal::from_i128_with_scale(mantissa, scale)
            })
        }

        fn any_money() -> impl Strategy<Value = Money> {
            (-10i128.pow(18) + 1..10i128.pow(18))
                .prop_map(|cents| eur(Decimal::from_i128_with_scale(cents, 2)))
        }

        proptest! {
            #[test]
            fn new_never_yields_out_of_range_amounts(amount in any_decimal()) {
                match Money::new(amount, Currency::EUR) {
                    Ok(m) => {
                        prop_assert!(m.amount().abs() < AMOUNT_LIMIT);
                        prop_assert_eq!(m.amount().scale(), AMOUNT_SCALE);
                    }
                    Err(e) => {
                        let out_of_range = matches!(e, MoneyError::OutOfRange { .. });
                        prop_assert!(out_of_range);
                    }
                }
            }

            #[test]
            fn add_is_exact_or_refused(a in any_money(), b in any_money()) {
                let exact = a.amount() + b.amount(); // < 2·10^16: cannot overflow Decimal
                match a.checked_add(&b) {
                    Ok(sum) => prop_assert_eq!(sum.amount(), exact),
                    Err(e) => {
                        prop_assert!(exact.abs() >= AMOUNT_LIMIT);
                        let out_of_range = matches!(e, MoneyError::OutOfRange { .. });
                        prop_assert!(out_of_range);
                    }
                }
            }

            #[test]
            fn sub_is_exact_or_refused(a in any_money(), b in any_money()) {
                let exact = a.amount() - b.amount();
                match a.checked_sub(&b) {
                    Ok(difference) => prop_assert_eq!(difference.amount(), exact),
                    Err(_) => prop_assert!(exact.abs() >= AMOUNT_LIMIT),
                }
            }

            #[test]
            fn mul_quantity_is_exact_or_refused(a in any_money(), q in prop_oneof![0u64..1_000, any::<u64>()]) {
                match a.checked_mul_quantity(q) {
                    Ok(product) => prop_assert_eq!(
                        product.amount(),
                        a.amount().checked_mul(Decimal::from(q)).unwrap()
                    ),
                    Err(_) => prop_assert!(
                        a.amount()
                            .checked_mul(Decimal::from(q))
                            .is_none_or(|p| p.abs() >= AMOUNT_LIMIT)
                    ),
                }
            }

            #[test]
            fn serde_round_trips(a in any_money()) {
                let json = serde_json::to_string(&a).unwrap();
                let back: Money = serde_json::from_str(&json).unwrap();
                prop_assert_eq!(back, a);
            }
        }
    }
}
