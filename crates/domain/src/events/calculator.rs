//! S1 calculator messages (S1-01): requests on `calculatrice-input-queue`, results on
//! `calculatrice-output-queue`, JSON as seed 001 writes them (`{"operation": "add",
//! "a": 5, "b": 3}`).
//!
//! Operands and result are JSON numbers held as [`Decimal`] (exact, with checked
//! arithmetic, so overflow is detectable rather than an `inf`). Parsing is strict: an
//! unknown `operation` or a non-numeric operand (`"a": "5"`) is a deserialization error,
//! whose message is the reason the worker records when it dead-letters the request
//! (S1-02).

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use super::serde_helpers::decimal_number;

wire_enum! {
    /// `operation`: the four operations of the seed.
    pub enum Operation {
        /// `add`: a + b.
        Add => "add",
        /// `subtract`: a − b.
        Subtract => "subtract",
        /// `multiply`: a × b.
        Multiply => "multiply",
        /// `divide`: a ÷ b.
        Divide => "divide",
    }
}

/// A calculation request on `calculatrice-input-queue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalculationRequest {
    /// `operation`.
    pub operation: Operation,
    /// `a`: left operand, a JSON number.
    #[serde(with = "decimal_number")]
    pub a: Decimal,
    /// `b`: right operand, a JSON number.
    #[serde(with = "decimal_number")]
    pub b: Decimal,
}

/// A calculation result on `calculatrice-output-queue`: the request echoed with its
/// `result` (the seed only says "the result"; echoing the operands makes each output
/// message self-describing in the logs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalculationResult {
    /// `operation`.
    pub operation: Operation,
    /// `a`.
    #[serde(with = "decimal_number")]
    pub a: Decimal,
    /// `b`.
    #[serde(with = "decimal_number")]
    pub b: Decimal,
    /// `result`: a JSON number.
    #[serde(with = "decimal_number")]
    pub result: Decimal,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::test_support::assert_json_round_trip;
    use rust_decimal_macros::dec;
    use serde_json::json;

    #[test]
    fn seed_request_parses_and_round_trips() {
        let request: CalculationRequest =
            serde_json::from_str(r#"{"operation": "add", "a": 5, "b": 3}"#).unwrap();
        assert_eq!(
            request,
            CalculationRequest {
                operation: Operation::Add,
                a: dec!(5),
                b: dec!(3)
            }
        );
        let json = assert_json_round_trip(&request);
        assert_eq!(json, json!({"operation": "add", "a": 5, "b": 3}));
    }

    #[test]
    fn result_round_trips_with_fractional_numbers() {
        let result = CalculationResult {
            operation: Operation::Divide,
            a: dec!(1234.56),
            b: dec!(-8),
            result: dec!(-154.32),
        };
        let json = assert_json_round_trip(&result);
        assert_eq!(
            json,
            json!({"operation": "divide", "a": 1234.56, "b": -8, "result": -154.32})
        );
    }

    #[test]
    fn bad_requests_are_parse_errors_naming_the_problem() {
        let unknown = serde_json::from_str::<CalculationRequest>(
            r#"{"operation": "modulo", "a": 5, "b": 3}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(unknown.contains("modulo"), "{unknown}");
        let text = serde_json::from_str::<CalculationRequest>(
            r#"{"operation": "add", "a": "cinq", "b": 3}"#,
        )
        .unwrap_err()
        .to_string();
        assert!(text.contains("a JSON number"), "{text}");
        assert!(
            serde_json::from_str::<CalculationRequest>(r#"{"operation": "add", "a": 5}"#).is_err()
        );
    }
}
