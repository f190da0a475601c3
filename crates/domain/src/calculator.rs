//! The calculator over queues (S1-01, S1-02): `{"operation": "add", "a": 5, "b": 3}`
//! in, `{"operation", "a", "b", "result"}` out, or a reason for the DLQ.
//!
//! This module owns the input rules ([`CalculatorOperation::parse`]), the arithmetic
//! ([`CalculatorOperation::compute`]) and the failure reasons ([`CalcError`],
//! [`CalculatorFailure`]). It may not touch queues.
//!
//! # Number type
//! Operands and results are JSON numbers kept as [`Number`]: an integer (`i64`) when
//! the JSON number is one, else a float (`f64`), so `5 + 3` answers `8`, like the
//! seed's Python worker, and `1.5 + 1` answers `2.5`.
//! - Integer `add`, `subtract`, `multiply` use checked `i64` arithmetic: a result
//!   outside `i64` is an **overflow** error (never a wrap, never a silent float).
//! - Integer `divide` answers an integer when exact (`6 / 3 = 2`), else a float
//!   (`7 / 2 = 3.5`).
//! - As soon as one operand is a float the operation is done in `f64`; a non-finite
//!   result (`1e308 * 10`) is an **overflow** error.
//! - Dividing by zero (`0` or `0.0`) is a **division by zero** error.
//!
//! These errors are final: retrying cannot fix them, so the worker sends the message
//! to the DLQ with the error's text as the reason.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::validation::{
    ErrorAccumulator, JsonObject, MISSING, ValidationErrors, json_type_name, refuse_unknown_fields,
};

/// The four operations. Wire: `"add" | "subtract" | "multiply" | "divide"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Add,
    Subtract,
    Multiply,
    Divide,
}

impl Operation {
    pub const ALL: [Operation; 4] = [
        Operation::Add,
        Operation::Subtract,
        Operation::Multiply,
        Operation::Divide,
    ];

    pub fn as_wire(&self) -> &'static str {
        match self {
            Operation::Add => "add",
            Operation::Subtract => "subtract",
            Operation::Multiply => "multiply",
            Operation::Divide => "divide",
        }
    }
}

impl FromStr for Operation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Operation::ALL
            .into_iter()
            .find(|op| op.as_wire() == s)
            .ok_or_else(|| {
                format!("unknown operation {s:?} (expected add, subtract, multiply or divide)")
            })
    }
}

/// A JSON number: integer when it is one, else float. Serializes as a bare number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Number {
    Int(i64),
    Float(f64),
}

impl Number {
    /// `None` for a JSON value that is not a number.
    pub fn from_json(value: &Value) -> Option<Number> {
        let Value::Number(n) = value else { return None };
        match n.as_i64() {
            Some(i) => Some(Number::Int(i)),
            None => n.as_f64().map(Number::Float),
        }
    }

    pub fn as_f64(&self) -> f64 {
        match *self {
            Number::Int(i) => i as f64,
            Number::Float(f) => f,
        }
    }
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Number::Int(i) => write!(f, "{i}"),
            Number::Float(x) => write!(f, "{x}"),
        }
    }
}

/// Why a valid operation has no result. Final: not worth a retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CalcError {
    #[error("division by zero")]
    DivisionByZero,
    #[error("overflow: the result is out of range")]
    Overflow,
}

impl CalcError {
    pub fn code(&self) -> &'static str {
        match self {
            CalcError::DivisionByZero => "DIVISION_BY_ZERO",
            CalcError::Overflow => "OVERFLOW",
        }
    }
}

/// A valid calculator message; only [`Self::parse`] builds one.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CalculatorOperation {
    operation: Operation,
    a: Number,
    b: Number,
}

impl CalculatorOperation {
    /// The message's fields.
    pub const FIELDS: [&'static str; 3] = ["operation", "a", "b"];

    /// A `POST /api/v1/calculator` body: [`Self::parse`]'s rules, and no field outside
    /// [`Self::FIELDS`] (the request rule of ADR 019). The worker reads queued messages
    /// with [`Self::parse`], which tolerates extra fields as the seed's worker does.
    pub fn parse_request(body: &Value) -> Result<Self, ValidationErrors> {
        refuse_unknown_fields(body, &Self::FIELDS, Self::parse(body))
    }

    /// Names every bad field: a missing or unknown `operation`, a missing or
    /// non-numeric `a` or `b`; a message that is not an object fails on `"body"`.
    pub fn parse(message: &Value) -> Result<Self, ValidationErrors> {
        let object = JsonObject::from_value(message)?;
        let mut errors = ErrorAccumulator::new();
        let operation = errors.field(
            "operation",
            object
                .non_empty_str("operation")
                .and_then(Operation::from_str),
        );
        let a = errors.field("a", operand(object.get("a")));
        let b = errors.field("b", operand(object.get("b")));
        errors.finish(|| {
            Some(Self {
                operation: operation?,
                a: a?,
                b: b?,
            })
        })
    }

    pub fn operation(&self) -> Operation {
        self.operation
    }
    pub fn a(&self) -> Number {
        self.a
    }
    pub fn b(&self) -> Number {
        self.b
    }

    /// Computes `a <operation> b` under the rules of the module doc.
    pub fn compute(&self) -> Result<Number, CalcError> {
        match (self.a, self.b) {
            (Number::Int(a), Number::Int(b)) => integer(self.operation, a, b),
            (a, b) => float(self.operation, a.as_f64(), b.as_f64()),
        }
    }
}

fn operand(value: Option<&Value>) -> Result<Number, String> {
    match value {
        None => Err(MISSING.to_owned()),
        Some(v) => Number::from_json(v)
            .ok_or_else(|| format!("must be a number, found {}", json_type_name(v))),
    }
}

fn integer(operation: Operation, a: i64, b: i64) -> Result<Number, CalcError> {
    let exact = match operation {
        Operation::Add => a.checked_add(b),
        Operation::Subtract => a.checked_sub(b),
        Operation::Multiply => a.checked_mul(b),
        Operation::Divide => {
            if b == 0 {
                return Err(CalcError::DivisionByZero);
            }
            // `checked_rem` is `None` only for `i64::MIN % -1`, whose quotient overflows.
            match a.checked_rem(b) {
                Some(0) => a.checked_div(b),
                Some(_) => return float(operation, a as f64, b as f64),
                None => None,
            }
        }
    };
    exact.map(Number::Int).ok_or(CalcError::Overflow)
}

fn float(operation: Operation, a: f64, b: f64) -> Result<Number, CalcError> {
    let result = match operation {
        Operation::Add => a + b,
        Operation::Subtract => a - b,
        Operation::Multiply => a * b,
        Operation::Divide => {
            if b == 0.0 {
                return Err(CalcError::DivisionByZero);
            }
            a / b
        }
    };
    if result.is_finite() {
        Ok(Number::Float(result))
    } else {
        Err(CalcError::Overflow)
    }
}

/// The output message: `{"operation": "add", "a": 5, "b": 3, "result": 8}`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CalculationResult {
    pub operation: Operation,
    pub a: Number,
    pub b: Number,
    pub result: Number,
}

/// Why a calculator message goes to the DLQ; `Display` is the reason to record.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CalculatorFailure {
    #[error("{0}")]
    Invalid(#[from] ValidationErrors),
    #[error("{0}")]
    Compute(#[from] CalcError),
}

impl CalculatorFailure {
    /// `INVALID_MESSAGE`, `DIVISION_BY_ZERO` or `OVERFLOW`.
    pub fn code(&self) -> &'static str {
        match self {
            CalculatorFailure::Invalid(_) => "INVALID_MESSAGE",
            CalculatorFailure::Compute(e) => e.code(),
        }
    }
}

/// Parses and computes one input message: what the worker does per message.
pub fn evaluate(message: &Value) -> Result<CalculationResult, CalculatorFailure> {
    let operation = CalculatorOperation::parse(message)?;
    let result = operation.compute()?;
    Ok(CalculationResult {
        operation: operation.operation,
        a: operation.a,
        b: operation.b,
        result,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn compute(message: Value) -> Result<Number, CalcError> {
        CalculatorOperation::parse(&message).unwrap().compute()
    }

    #[test]
    fn seed_example_adds_integers() {
        let result = evaluate(&json!({"operation": "add", "a": 5, "b": 3})).unwrap();
        assert_eq!(result.result, Number::Int(8));
        assert_eq!(
            serde_json::to_value(result).unwrap(),
            json!({"operation": "add", "a": 5, "b": 3, "result": 8})
        );
    }

    #[test]
    fn the_four_operations() {
        let cases = [
            ("add", 7, 2, Number::Int(9)),
            ("subtract", 7, 2, Number::Int(5)),
            ("multiply", 7, 2, Number::Int(14)),
            ("divide", 7, 2, Number::Float(3.5)),
            ("divide", 6, 3, Number::Int(2)),
            ("divide", -6, 3, Number::Int(-2)),
        ];
        for (op, a, b, expected) in cases {
            assert_eq!(
                compute(json!({"operation": op, "a": a, "b": b})),
                Ok(expected),
                "{op} {a} {b}"
            );
        }
    }

    #[test]
    fn floats_are_computed_in_f64() {
        assert_eq!(
            compute(json!({"operation": "add", "a": 1.5, "b": 1})),
            Ok(Number::Float(2.5))
        );
        assert_eq!(
            compute(json!({"operation": "divide", "a": 1.0, "b": 4})),
            Ok(Number::Float(0.25))
        );
    }

    #[test]
    fn division_by_zero_is_an_error() {
        assert_eq!(
            compute(json!({"operation": "divide", "a": 1, "b": 0})),
            Err(CalcError::DivisionByZero)
        );
        assert_eq!(
            compute(json!({"operation": "divide", "a": 1.5, "b": 0.0})),
            Err(CalcError::DivisionByZero)
        );
        let failure = evaluate(&json!({"operation": "divide", "a": 1, "b": 0})).unwrap_err();
        assert_eq!(failure.code(), "DIVISION_BY_ZERO");
        assert_eq!(failure.to_string(), "division by zero");
    }

    #[test]
    fn integer_overflow_is_an_error() {
        for (op, a, b) in [
            ("add", i64::MAX, 1),
            ("subtract", i64::MIN, 1),
            ("multiply", i64::MAX, 2),
            ("divide", i64::MIN, -1),
        ] {
            assert_eq!(
                compute(json!({"operation": op, "a": a, "b": b})),
                Err(CalcError::Overflow),
                "{op}"
            );
        }
    }

    #[test]
    fn float_overflow_is_an_error() {
        assert_eq!(
            compute(json!({"operation": "multiply", "a": 1e308, "b": 10})),
            Err(CalcError::Overflow)
        );
        assert_eq!(
            compute(json!({"operation": "divide", "a": 1e308, "b": 1e-308})),
            Err(CalcError::Overflow)
        );
        let failure =
            evaluate(&json!({"operation": "add", "a": 1.7e308, "b": 1.7e308})).unwrap_err();
        assert_eq!(failure.code(), "OVERFLOW");
    }

    #[test]
    fn unknown_operator_is_named() {
        let errors =
            CalculatorOperation::parse(&json!({"operation": "pow", "a": 2, "b": 3})).unwrap_err();
        assert_eq!(
            errors.message_for("operation"),
            Some("unknown operation \"pow\" (expected add, subtract, multiply or divide)")
        );
        let errors =
            CalculatorOperation::parse(&json!({"operation": "ADD", "a": 2, "b": 3})).unwrap_err();
        assert!(errors.has_field("operation"));
    }

    #[test]
    fn non_numeric_operands_are_named() {
        let errors = CalculatorOperation::parse(&json!({"operation": "add", "a": "5", "b": null}))
            .unwrap_err();
        assert_eq!(
            errors.message_for("a"),
            Some("must be a number, found a string")
        );
        assert_eq!(errors.message_for("b"), Some("is required"));
        let failure = evaluate(&json!({"operation": "add", "a": [1], "b": true})).unwrap_err();
        assert_eq!(failure.code(), "INVALID_MESSAGE");
        assert_eq!(
            failure.to_string(),
            "invalid input: a: must be a number, found an array; b: must be a number, found a boolean"
        );
    }

    #[test]
    fn requests_refuse_unknown_fields_and_messages_tolerate_them() {
        let body = json!({"operation": "add", "a": 1, "b": 2, "c": 3});
        let errors = CalculatorOperation::parse_request(&body).unwrap_err();
        assert_eq!(
            errors.message_for("c"),
            Some("unknown field (expected one of operation, a, b)")
        );
        assert!(CalculatorOperation::parse(&body).is_ok());
        let errors = CalculatorOperation::parse_request(&json!({"a": 1, "x": 0})).unwrap_err();
        let fields: Vec<&str> = errors.errors().iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["operation", "b", "x"]);
    }

    #[test]
    fn missing_everything_names_every_field() {
        let errors = CalculatorOperation::parse(&json!({})).unwrap_err();
        assert_eq!(errors.len(), 3);
        let errors = CalculatorOperation::parse(&json!("add 5 3")).unwrap_err();
        assert!(errors.has_field("body"));
    }

    #[test]
    fn numbers_beyond_i64_are_floats() {
        let n = Number::from_json(&json!(u64::MAX)).unwrap();
        assert!(matches!(n, Number::Float(_)));
        assert_eq!(Number::from_json(&json!("1")), None);
    }

    #[test]
    fn operation_wire_names() {
        for op in Operation::ALL {
            assert_eq!(serde_json::to_value(op).unwrap(), json!(op.as_wire()));
            assert_eq!(op.as_wire().parse::<Operation>(), Ok(op));
        }
    }
}
