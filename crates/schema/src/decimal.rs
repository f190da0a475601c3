//! Avro `decimal` on `bytes`: the two's-complement, big-endian bytes of the unscaled
//! integer, with the scale fixed by the schema (Avro 1.11 specification, "Decimal").
//!
//! edalab's money is `decimal(18,2)`: at most 18 digits, two of them decimals, so the
//! largest amount is `9999999999999999.99`. Encoding never rounds: a value with more than
//! two significant decimals is refused ([`DecimalError::Scale`]); one with fewer is padded
//! (`10.5` is written as unscaled `1050`). The bytes are minimal (no redundant sign
//! bytes), as Java's `BigInteger.toByteArray` writes them.

use rust_decimal::Decimal;

/// Digits of edalab's money decimals.
pub const MONEY_PRECISION: u32 = 18;
/// Decimals of edalab's money decimals.
pub const MONEY_SCALE: u32 = 2;

/// A number that does not fit the schema's decimal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecimalError {
    /// More significant decimals than the schema's scale.
    #[error("{value} has {actual} decimal places, the schema allows {scale} (no rounding)")]
    Scale {
        /// The value.
        value: Decimal,
        /// Its significant decimal places.
        actual: u32,
        /// The schema's scale.
        scale: u32,
    },
    /// More digits than the schema's precision.
    #[error("{value} has more than {precision} digits at scale {scale}")]
    Precision {
        /// The value (as text: it may not fit a `Decimal`).
        value: String,
        /// The schema's precision.
        precision: u32,
        /// The schema's scale.
        scale: u32,
    },
    /// Unscaled bytes longer than 16 (they cannot be a decimal(18,2)).
    #[error("{len} bytes of unscaled value exceed 16 bytes")]
    TooLong {
        /// Number of bytes.
        len: usize,
    },
}

fn pow10(exponent: u32) -> Option<i128> {
    10i128.checked_pow(exponent)
}

/// The unscaled integer of `value` at `scale`, checked against `precision`.
pub fn to_unscaled(value: Decimal, precision: u32, scale: u32) -> Result<i128, DecimalError> {
    let precision_error = || DecimalError::Precision {
        value: value.to_string(),
        precision,
        scale,
    };
    let mantissa = value.mantissa();
    let own_scale = value.scale();
    let unscaled = if own_scale <= scale {
        pow10(scale - own_scale)
            .and_then(|factor| mantissa.checked_mul(factor))
            .ok_or_else(precision_error)?
    } else {
        let divisor = pow10(own_scale - scale).ok_or_else(precision_error)?;
        if mantissa % divisor != 0 {
            return Err(DecimalError::Scale {
                value,
                actual: value.normalize().scale(),
                scale,
            });
        }
        mantissa / divisor
    };
    check_precision(unscaled, precision, scale)?;
    Ok(unscaled)
}

fn check_precision(unscaled: i128, precision: u32, scale: u32) -> Result<(), DecimalError> {
    let limit = pow10(precision).unwrap_or(i128::MAX);
    if unscaled.unsigned_abs() >= limit.unsigned_abs() {
        return Err(DecimalError::Precision {
            value: format_unscaled(unscaled, scale),
            precision,
            scale,
        });
    }
    Ok(())
}

fn format_unscaled(unscaled: i128, scale: u32) -> String {
    match Decimal::try_from_i128_with_scale(unscaled, scale) {
        Ok(value) => value.to_string(),
        Err(_) => format!("{unscaled}e-{scale}"),
    }
}

/// The minimal big-endian two's-complement bytes of an unscaled integer, on the stack
/// (what [`unscaled_to_bytes`] returns as a `Vec`, without allocating).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnscaledBytes {
    full: [u8; 16],
    start: usize,
}

impl UnscaledBytes {
    /// Minimal bytes of `unscaled` (at least one byte).
    pub fn new(unscaled: i128) -> Self {
        // Significant bits: those below the run of leading sign bits, plus one sign bit.
        let sign_run = if unscaled < 0 {
            unscaled.leading_ones()
        } else {
            unscaled.leading_zeros()
        };
        let bits = 128 - sign_run + 1;
        let len = bits.div_ceil(8).clamp(1, 16) as usize;
        Self {
            full: unscaled.to_be_bytes(),
            start: 16 - len,
        }
    }

    /// The bytes, most significant first.
    pub fn as_bytes(&self) -> &[u8] {
        &self.full[self.start..]
    }
}

/// Minimal big-endian two's-complement bytes of `unscaled` (at least one byte).
pub fn unscaled_to_bytes(unscaled: i128) -> Vec<u8> {
    UnscaledBytes::new(unscaled).as_bytes().to_vec()
}

/// The unscaled integer in big-endian two's-complement `bytes`. Empty bytes read as zero.
pub fn bytes_to_unscaled(bytes: &[u8]) -> Result<i128, DecimalError> {
    if bytes.len() > 16 {
        return Err(DecimalError::TooLong { len: bytes.len() });
    }
    let negative = bytes.first().is_some_and(|b| b & 0x80 != 0);
    let mut full = if negative { [0xFF; 16] } else { [0x00; 16] };
    full[16 - bytes.len()..].copy_from_slice(bytes);
    Ok(i128::from_be_bytes(full))
}

/// The bytes of a decimal as apache-avro read them. apache-avro cannot give back the
/// zero-length bytes it read (it sign-extends the value to the length read, and 0 needs one
/// byte); [`bytes_to_unscaled`] reads them as 0, so must the readers built on apache-avro
/// (found by fuzzing, docs/adr/021-fuzzing.md).
// apache-avro's own error type, returned as it is to apache-avro callers.
#[allow(clippy::result_large_err)]
pub fn avro_decimal_bytes(value: &apache_avro::Decimal) -> Result<Vec<u8>, apache_avro::Error> {
    Vec::<u8>::try_from(value).or_else(|error| match error {
        apache_avro::Error::SignExtend { requested: 0, .. } => Ok(Vec::new()),
        error => Err(error),
    })
}

/// `value` as the bytes of a `decimal(precision, scale)`.
pub fn encode(value: Decimal, precision: u32, scale: u32) -> Result<Vec<u8>, DecimalError> {
    to_unscaled(value, precision, scale).map(unscaled_to_bytes)
}

/// The `Decimal` in the bytes of a `decimal(precision, scale)`, checked against precision.
pub fn decode(bytes: &[u8], precision: u32, scale: u32) -> Result<Decimal, DecimalError> {
    let unscaled = bytes_to_unscaled(bytes)?;
    check_precision(unscaled, precision, scale)?;
    Decimal::try_from_i128_with_scale(unscaled, scale).map_err(|_| DecimalError::Precision {
        value: format_unscaled(unscaled, scale),
        precision,
        scale,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn money(value: Decimal) -> Result<Vec<u8>, DecimalError> {
        encode(value, MONEY_PRECISION, MONEY_SCALE)
    }

    #[test]
    fn known_byte_patterns() {
        // Same bytes Java's BigDecimal("1234.56").unscaledValue().toByteArray() gives.
        assert_eq!(money(dec!(1234.56)).unwrap(), vec![0x01, 0xE2, 0x40]);
        assert_eq!(money(dec!(0)).unwrap(), vec![0x00]);
        assert_eq!(money(dec!(0.00)).unwrap(), vec![0x00]);
        assert_eq!(money(dec!(-0.01)).unwrap(), vec![0xFF]);
        assert_eq!(money(dec!(1.27)).unwrap(), vec![0x7F]);
        assert_eq!(money(dec!(1.28)).unwrap(), vec![0x00, 0x80]);
        assert_eq!(money(dec!(-1.28)).unwrap(), vec![0x80]);
        assert_eq!(money(dec!(-1.29)).unwrap(), vec![0xFF, 0x7F]);
        assert_eq!(money(dec!(-1234.56)).unwrap(), vec![0xFE, 0x1D, 0xC0]);
    }

    /// The original definition: drop a leading sign byte while the next byte still carries
    /// the same sign bit.
    fn minimal_by_loop(unscaled: i128) -> Vec<u8> {
        let full = unscaled.to_be_bytes();
        let sign = if unscaled < 0 { 0xFF } else { 0x00 };
        let mut start = 0;
        while start < full.len() - 1
            && full[start] == sign
            && (full[start + 1] & 0x80) == (sign & 0x80)
        {
            start += 1;
        }
        full[start..].to_vec()
    }

    #[test]
    fn minimal_bytes_match_the_sign_byte_definition() {
        let mut cases = vec![0i128, 1, -1, i128::MAX, i128::MIN];
        for shift in 0..127 {
            let p = 1i128 << shift;
            cases.extend([p, p - 1, p + 1, -p, -p - 1, -p + 1]);
        }
        for unscaled in cases {
            assert_eq!(
                UnscaledBytes::new(unscaled).as_bytes(),
                minimal_by_loop(unscaled),
                "{unscaled}"
            );
        }
    }

    #[test]
    fn round_trips_edge_values() {
        for value in [
            dec!(0),
            dec!(0.01),
            dec!(-0.01),
            dec!(1234.56),
            dec!(-1234.56),
            dec!(9999999999999999.99),
            dec!(-9999999999999999.99),
            dec!(10.5),
            dec!(42),
        ] {
            let bytes = money(value).unwrap();
            assert!(bytes.len() <= 8, "{value}: {bytes:?}");
            let back = decode(&bytes, MONEY_PRECISION, MONEY_SCALE).unwrap();
            assert_eq!(back, value);
            assert_eq!(back.scale(), 2, "{value} comes back at the schema's scale");
        }
    }

    #[test]
    fn refuses_to_round_or_overflow() {
        assert_eq!(
            money(dec!(1.234)),
            Err(DecimalError::Scale {
                value: dec!(1.234),
                actual: 3,
                scale: 2
            })
        );
        // Trailing zeros beyond the scale are not significant: accepted.
        assert_eq!(money(dec!(1.2300)).unwrap(), money(dec!(1.23)).unwrap());
        assert!(matches!(
            money(dec!(10000000000000000.00)),
            Err(DecimalError::Precision { .. })
        ));
        assert!(matches!(
            money(Decimal::MAX),
            Err(DecimalError::Precision { .. })
        ));
    }

    #[test]
    fn zero_length_decimals_read_through_apache_avro_are_zero() {
        let schema = apache_avro::Schema::parse_str(
            r#"{"type":"bytes","logicalType":"decimal","precision":18,"scale":2}"#,
        )
        .unwrap();
        let read = |body: &[u8]| match apache_avro::from_avro_datum(&schema, &mut &body[..], None) {
            Ok(apache_avro::types::Value::Decimal(d)) => d,
            other => panic!("{other:?}"),
        };
        // `bytes` of length 0: apache-avro reads it, then cannot give the bytes back.
        let empty = read(&[0x00]);
        assert!(Vec::<u8>::try_from(&empty).is_err());
        assert_eq!(avro_decimal_bytes(&empty).unwrap(), Vec::<u8>::new());
        assert_eq!(decode(&[], 18, 2).unwrap(), dec!(0.00));
        // Any other length is returned as read.
        let value = read(&[0x06, 0x01, 0xE2, 0x40]);
        assert_eq!(avro_decimal_bytes(&value).unwrap(), vec![0x01, 0xE2, 0x40]);
    }

    #[test]
    fn decoding_checks_length_and_precision() {
        assert_eq!(decode(&[], 18, 2).unwrap(), dec!(0.00));
        assert_eq!(
            bytes_to_unscaled(&[0xFF; 17]),
            Err(DecimalError::TooLong { len: 17 })
        );
        // 10^18 unscaled = 10000000000000000.00, one digit too many.
        let too_big = unscaled_to_bytes(10i128.pow(18));
        assert!(matches!(
            decode(&too_big, 18, 2),
            Err(DecimalError::Precision { .. })
        ));
        // A smaller precision is honored too.
        assert!(matches!(
            decode(&[0x27, 0x10], 4, 2),
            Err(DecimalError::Precision { .. })
        ));
    }
}
