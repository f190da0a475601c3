//! Field-level validation errors and the helpers every parse constructor uses.
//!
//! This module owns the shape of a rejected input: a list of [`FieldError`]s
//! (`{"field", "message"}` on the wire), gathered by an [`ErrorAccumulator`] so that a
//! parse constructor reports *every* failing field at once, never only the first one.
//! [`ValidationErrors::to_body`] builds the HTTP 400 body `{"error", "details"}` that
//! S0-01 requires. It also holds the small readers of lenient JSON input
//! ([`JsonObject`]) shared by the parse constructors of the other modules.
//!
//! It may not know about any particular request: field names are chosen by the caller.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One failing field. Wire shape: `{"field": "amount", "message": "must be > 0"}`.
///
/// `field` is the JSON path of the input as the client wrote it (`"accountFrom"`,
/// `"items[1].qty"`), `message` says what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// Every field error of one rejected input, never empty.
///
/// Serializes as the bare list `[{"field", "message"}, ...]`; see [`Self::to_body`]
/// for the full HTTP 400 body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(transparent)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    /// One error on one field.
    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }

    /// `None` when `errors` is empty: a `ValidationErrors` always names at least one field.
    pub fn from_vec(errors: Vec<FieldError>) -> Option<Self> {
        if errors.is_empty() {
            None
        } else {
            Some(Self(errors))
        }
    }

    pub fn errors(&self) -> &[FieldError] {
        &self.0
    }

    pub fn into_vec(self) -> Vec<FieldError> {
        self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Always false (kept for clippy's `len_without_is_empty`).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether some error is about exactly this field.
    pub fn has_field(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }

    /// The message of the first error about `field`.
    pub fn message_for(&self, field: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.as_str())
    }

    /// The HTTP 400 body `{"error": error, "details": [...]}` (S0-01).
    pub fn to_body(&self, error: impl Into<String>) -> ErrorBody {
        ErrorBody {
            error: error.into(),
            details: self.0.clone(),
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid input: ")?;
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// HTTP 400 body: `{"error": "Invalid transaction data", "details": [{field, message}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
    pub details: Vec<FieldError>,
}

/// Gathers field errors while a parse constructor reads every field.
///
/// Use: read each field with [`Self::field`] (which keeps the value or records the
/// error), then build the value with [`Self::finish`], whose closure uses `?` on the
/// `Option`s. The rule that makes this sound: a reader returns `None` only after it
/// recorded an error, so when no error was recorded every `Option` is `Some`.
#[derive(Debug, Default)]
pub struct ErrorAccumulator {
    errors: Vec<FieldError>,
}

impl ErrorAccumulator {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records an error on `field`.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Keeps the value of `result`, or records its error (as text) on `field`.
    pub fn field<T, E: fmt::Display>(
        &mut self,
        field: impl Into<String>,
        result: Result<T, E>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(e) => {
                self.push(field, e.to_string());
                None
            }
        }
    }

    /// Keeps the value of `result`, or records all its nested errors, each field name
    /// prefixed by `prefix` (`"items[0]"` + `"qty"` → `"items[0].qty"`).
    pub fn nested<T>(&mut self, prefix: &str, result: Result<T, ValidationErrors>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(errors) => {
                for e in errors.0 {
                    let field = if e.field.is_empty() {
                        prefix.to_owned()
                    } else {
                        format!("{prefix}.{}", e.field)
                    };
                    self.push(field, e.message);
                }
                None
            }
        }
    }

    /// Records an error on `field` unless `condition` holds; returns `condition`.
    pub fn check(
        &mut self,
        condition: bool,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> bool {
        if !condition {
            self.push(field, message);
        }
        condition
    }

    pub fn has_errors(&self) -> bool {
        !self.errors.is_empty()
    }

    /// `Err` with every recorded error, or `Ok(build())` when none was recorded.
    ///
    /// `build` returning `None` with no recorded error breaks the accumulator's rule;
    /// it is reported as an error on field `"_"` rather than a panic.
    pub fn finish<T>(self, build: impl FnOnce() -> Option<T>) -> Result<T, ValidationErrors> {
        if let Some(errors) = ValidationErrors::from_vec(self.errors) {
            return Err(errors);
        }
        build().ok_or_else(|| {
            ValidationErrors::single("_", "internal: a field was neither read nor reported")
        })
    }
}

/// Read access to the fields of a lenient JSON object, each reader giving a message
/// fit for a [`FieldError`] (missing field, wrong JSON type, empty string...).
#[derive(Debug, Clone, Copy)]
pub struct JsonObject<'a>(&'a Map<String, Value>);

impl<'a> JsonObject<'a> {
    /// The input must be a JSON object; otherwise one error on field `"body"`.
    pub fn from_value(value: &'a Value) -> Result<Self, ValidationErrors> {
        match value {
            Value::Object(map) => Ok(Self(map)),
            other => Err(ValidationErrors::single(
                "body",
                format!("must be a JSON object, found {}", json_type_name(other)),
            )),
        }
    }

    /// The field's value; JSON `null` counts as missing.
    pub fn get(&self, field: &str) -> Option<&'a Value> {
        self.0.get(field).filter(|v| !v.is_null())
    }

    /// A string with at least one non-blank character (kept as written).
    pub fn non_empty_str(&self, field: &str) -> Result<&'a str, String> {
        non_empty_str(self.get(field))
    }

    /// A JSON number, read exactly as a decimal.
    pub fn number(&self, field: &str) -> Result<Decimal, String> {
        match self.get(field) {
            None => Err(MISSING.to_owned()),
            Some(Value::Number(n)) => decimal_from_number(n),
            Some(other) => Err(format!("must be a number, found {}", json_type_name(other))),
        }
    }

    /// A JSON array.
    pub fn array(&self, field: &str) -> Result<&'a Vec<Value>, String> {
        match self.get(field) {
            None => Err(MISSING.to_owned()),
            Some(Value::Array(items)) => Ok(items),
            Some(other) => Err(format!("must be an array, found {}", json_type_name(other))),
        }
    }
}

/// Message for a field that is absent or `null`.
pub const MISSING: &str = "is required";

/// A string with at least one non-blank character, from an optional JSON value.
pub fn non_empty_str(value: Option<&Value>) -> Result<&str, String> {
    match value {
        None | Some(Value::Null) => Err(MISSING.to_owned()),
        Some(Value::String(s)) if s.trim().is_empty() => Err("must not be empty".to_owned()),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("must be a string, found {}", json_type_name(other))),
    }
}

/// A JSON number as an exact decimal (`149.99` stays `149.99`, `1e3` is `1000`).
///
/// serde_json prints a float with the shortest text that reads back to the same
/// `f64`, so the seed's amounts (`149.99`) arrive as the decimal the client wrote.
pub fn decimal_from_number(n: &serde_json::Number) -> Result<Decimal, String> {
    let text = n.to_string();
    text.parse::<Decimal>()
        .or_else(|_| Decimal::from_scientific(&text))
        .map_err(|_| format!("number {text} is out of the supported range"))
}

/// `"a string"`, `"a number"`... for messages naming a JSON value's type.
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn field_error_serializes_as_field_and_message() {
        let e = FieldError::new("amount", "must be > 0");
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({"field": "amount", "message": "must be > 0"})
        );
    }

    #[test]
    fn body_lists_every_error() {
        let mut acc = ErrorAccumulator::new();
        acc.push("amount", "must be > 0");
        acc.push("currency", "is required");
        let errors = acc.finish(|| Some(())).unwrap_err();
        assert_eq!(
            serde_json::to_value(errors.to_body("Invalid transaction data")).unwrap(),
            json!({
                "error": "Invalid transaction data",
                "details": [
                    {"field": "amount", "message": "must be > 0"},
                    {"field": "currency", "message": "is required"}
                ]
            })
        );
        assert_eq!(
            errors.to_string(),
            "invalid input: amount: must be > 0; currency: is required"
        );
    }

    #[test]
    fn finish_builds_when_no_error() {
        let mut acc = ErrorAccumulator::new();
        let a = acc.field("a", Ok::<_, String>(1));
        let b = acc.field("b", Ok::<_, String>(2));
        assert_eq!(acc.finish(|| Some(a? + b?)), Ok(3));
    }

    #[test]
    fn finish_reports_a_broken_rule_instead_of_panicking() {
        let acc = ErrorAccumulator::new();
        let errors = acc.finish(|| None::<u8>).unwrap_err();
        assert!(errors.has_field("_"));
    }

    #[test]
    fn nested_prefixes_field_names() {
        let mut acc = ErrorAccumulator::new();
        let inner = ValidationErrors::single("qty", "must be >= 1");
        assert_eq!(acc.nested::<u8>("items[0]", Err(inner)), None);
        let errors = acc.finish(|| Some(())).unwrap_err();
        assert_eq!(errors.message_for("items[0].qty"), Some("must be >= 1"));
    }

    #[test]
    fn check_records_only_failures() {
        let mut acc = ErrorAccumulator::new();
        assert!(acc.check(true, "a", "never"));
        assert!(!acc.check(false, "b", "must hold"));
        let errors = acc.finish(|| Some(())).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors.has_field("b"));
    }

    #[test]
    fn from_vec_refuses_empty() {
        assert_eq!(ValidationErrors::from_vec(Vec::new()), None);
    }

    #[test]
    fn json_readers_name_the_problem() {
        let v = json!({"s": "", "n": "12", "x": null, "ok": "a", "num": 1e3});
        let obj = JsonObject::from_value(&v).unwrap();
        assert_eq!(obj.non_empty_str("s"), Err("must not be empty".to_owned()));
        assert_eq!(obj.non_empty_str("x"), Err(MISSING.to_owned()));
        assert_eq!(obj.non_empty_str("ok"), Ok("a"));
        assert_eq!(
            obj.number("n"),
            Err("must be a number, found a string".to_owned())
        );
        assert_eq!(obj.number("num"), Ok(Decimal::from(1000)));
        assert!(obj.array("n").is_err());
        let not_object = json!([1]);
        let errors = JsonObject::from_value(&not_object).unwrap_err();
        assert_eq!(
            errors.message_for("body"),
            Some("must be a JSON object, found an array")
        );
    }

    #[test]
    fn decimal_from_number_keeps_the_written_decimal() {
        let v = json!(149.99);
        let Value::Number(n) = v else { unreachable!() };
        assert_eq!(decimal_from_number(&n).unwrap().to_string(), "149.99");
    }
}
