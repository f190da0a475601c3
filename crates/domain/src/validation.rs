//! Field-level validation errors and the helpers every parse constructor uses.
//!
//! This module owns the shape of a rejected input: a list of [`FieldError`]s
//! (`{"field", "message"}` on the wire), gathered by an [`ErrorAccumulator`] so that a
//! parse constructor reports *every* failing field at once, never only the first one.
//! [`ValidationErrors::to_body`] builds the HTTP 400 body `{"error", "details"}` that
//! S0-01 requires. It also holds the small readers of lenient JSON input
//! ([`JsonObject`]) shared by the parse constructors of the other modules, and the input
//! rules every request shares (ADR 019):
//!
//! - **unknown fields are refused**: a body naming a field its request does not have is
//!   an error on that field ([`JsonObject::unknown_fields`]), never silently ignored;
//! - **ids are short, printable text** ([`check_id`]): not blank, at most
//!   [`ID_CHARS_MAX`] characters, no control character (NUL, line feed…) and no
//!   bidirectional formatting character (U+202A–U+202E, U+2066–U+2069, …) that would make
//!   a log line or a UI show something else than what is stored;
//! - **list limits are within `1..=`[`LIST_LIMIT_MAX`]** ([`parse_limit`]).
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

    /// Records every error of `errors` as it is.
    pub fn extend(&mut self, errors: impl IntoIterator<Item = FieldError>) {
        self.errors.extend(errors);
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

impl<'a> From<&'a Map<String, Value>> for JsonObject<'a> {
    fn from(map: &'a Map<String, Value>) -> Self {
        Self(map)
    }
}

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

    /// An id: a string that passes [`check_id`] with at most [`ID_CHARS_MAX`] characters.
    pub fn id(&self, field: &str) -> Result<&'a str, String> {
        let value = self.non_empty_str(field)?;
        check_id(value, ID_CHARS_MAX)?;
        Ok(value)
    }

    /// One error per field of the object that is not in `known`, named as the client
    /// wrote it (escaped and cut if it is long or holds control characters): the rule
    /// of every request body is that an unknown field is refused, not ignored.
    pub fn unknown_fields(&self, known: &[&str]) -> Vec<FieldError> {
        self.0
            .keys()
            .filter(|name| !known.contains(&name.as_str()))
            .map(|name| {
                FieldError::new(
                    excerpt(name, FIELD_NAME_QUOTED_CHARS_MAX),
                    format!("unknown field (expected one of {})", known.join(", ")),
                )
            })
            .collect()
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

/// `parsed`, unless `body` is an object with fields outside `known`: then an error on
/// each of them, after `parsed`'s own errors if it has some. For a parse constructor
/// that also reads messages tolerantly and needs the request rule on top.
pub fn refuse_unknown_fields<T>(
    body: &Value,
    known: &[&str],
    parsed: Result<T, ValidationErrors>,
) -> Result<T, ValidationErrors> {
    let unknown = match JsonObject::from_value(body) {
        Ok(object) => object.unknown_fields(known),
        Err(_) => Vec::new(),
    };
    match (parsed, ValidationErrors::from_vec(unknown)) {
        (parsed, None) => parsed,
        (Ok(_), Some(unknown)) => Err(unknown),
        (Err(mut errors), Some(unknown)) => {
            errors.0.extend(unknown.0);
            Err(errors)
        }
    }
}

/// Message for a field that is absent or `null`.
pub const MISSING: &str = "is required";

/// Longest id accepted from a client (account, order, transaction, user, customer ids,
/// idempotency keys), in characters.
pub const ID_CHARS_MAX: usize = 128;

/// Largest `limit` a list route accepts.
pub const LIST_LIMIT_MAX: u32 = 1_000;

/// Longest field name quoted in an error about an unknown field, in characters.
const FIELD_NAME_QUOTED_CHARS_MAX: usize = 64;

/// Whether `c` is a bidirectional formatting character (Unicode `Bidi_Control`): the
/// embeddings and overrides U+202A–U+202E, the isolates U+2066–U+2069 and the marks
/// U+061C, U+200E, U+200F. They reorder how text is shown ("Trojan Source").
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// The id rule: not blank, at most `chars_max` characters, no control character and no
/// bidirectional formatting character. The message names the first offending character
/// by code point and position, never by echoing it.
pub fn check_id(value: &str, chars_max: usize) -> Result<(), String> {
    if value.trim().is_empty() {
        return Err("must not be empty".to_owned());
    }
    // Counting stops past the limit: a 1 MB id costs no more than a 129-character one.
    if value.chars().nth(chars_max).is_some() {
        return Err(format!("must be at most {chars_max} characters"));
    }
    for (position, c) in value.chars().enumerate() {
        if c.is_control() {
            return Err(format!(
                "must not contain control characters (U+{:04X} at character {position})",
                u32::from(c)
            ));
        }
        if is_bidi_control(c) {
            return Err(format!(
                "must not contain bidirectional formatting characters (U+{:04X} at character \
                 {position})",
                u32::from(c)
            ));
        }
    }
    Ok(())
}

/// A list route's `limit` query parameter: absent → `default`, else an integer within
/// `1..=`[`LIST_LIMIT_MAX`] (`0`, `1001`, `2147483648`, `-1`, `ten` are errors).
pub fn parse_limit(raw: Option<&str>, default: u32) -> Result<u32, String> {
    let Some(raw) = raw else {
        return Ok(default);
    };
    match raw.trim().parse::<u64>() {
        Ok(limit) if (1..=u64::from(LIST_LIMIT_MAX)).contains(&limit) => {
            // Within 1..=1000.
            Ok(u32::try_from(limit).unwrap_or(LIST_LIMIT_MAX))
        }
        _ => Err(format!(
            "must be an integer between 1 and {LIST_LIMIT_MAX}, got `{}`",
            excerpt(raw, FIELD_NAME_QUOTED_CHARS_MAX)
        )),
    }
}

/// `text` fit to be quoted in a message: control and bidirectional characters escaped
/// (`\u{202e}`), cut after `chars_max` characters (`…`).
pub fn excerpt(text: &str, chars_max: usize) -> String {
    let mut out = String::new();
    for (i, c) in text.chars().enumerate() {
        if i == chars_max {
            out.push('…');
            break;
        }
        if c.is_control() || is_bidi_control(c) {
            out.extend(c.escape_unicode());
        } else {
            out.push(c);
        }
    }
    out
}

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

/// `error: cause: cause…`: an error and its sources, `: `-separated, so that a terse
/// message (reqwest's, serde's) says why.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
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
    fn ids_refuse_control_bidi_and_unbounded_text() {
        assert_eq!(check_id("ACC-12345", ID_CHARS_MAX), Ok(()));
        assert_eq!(check_id("compte-é-42", ID_CHARS_MAX), Ok(()));
        for (bad, what) in [
            ("", "empty"),
            ("  ", "empty"),
            ("ACC\u{0}1", "U+0000"),
            ("ACC\n1", "U+000A"),
            ("ACC\u{7f}", "U+007F"),
            ("ACC\u{202E}1", "U+202E"),
            ("\u{2066}ACC", "U+2066"),
            ("ACC\u{2069}", "U+2069"),
            ("ACC\u{200F}", "U+200F"),
        ] {
            let message = check_id(bad, ID_CHARS_MAX).unwrap_err();
            assert!(message.contains(what), "{bad:?}: {message}");
            assert!(!message.contains(bad) || bad.trim().is_empty(), "{message}");
        }
        assert_eq!(check_id(&"a".repeat(ID_CHARS_MAX), ID_CHARS_MAX), Ok(()));
        let long = "a".repeat(1 << 20);
        assert_eq!(
            check_id(&long, ID_CHARS_MAX),
            Err(format!("must be at most {ID_CHARS_MAX} characters"))
        );
    }

    #[test]
    fn json_ids_and_unknown_fields() {
        let v = json!({"id": "A\u{202D}B", "ok": "x", "extra\u{0}": 1, "more": 2});
        let obj = JsonObject::from_value(&v).unwrap();
        assert!(obj.id("id").unwrap_err().contains("U+202D"));
        assert_eq!(obj.id("ok"), Ok("x"));
        assert_eq!(obj.id("none"), Err(MISSING.to_owned()));
        let unknown = obj.unknown_fields(&["id", "ok"]);
        let names: Vec<&str> = unknown.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(names, ["extra\\u{0}", "more"]);
        assert_eq!(unknown[1].message, "unknown field (expected one of id, ok)");
    }

    #[test]
    fn limits_are_within_one_and_a_thousand() {
        assert_eq!(parse_limit(None, 100), Ok(100));
        assert_eq!(parse_limit(Some("1"), 100), Ok(1));
        assert_eq!(parse_limit(Some("1000"), 100), Ok(1000));
        for bad in [
            "0",
            "1001",
            "2147483648",
            "18446744073709551616",
            "-1",
            "ten",
            "",
        ] {
            let message = parse_limit(Some(bad), 100).unwrap_err();
            assert!(message.contains("between 1 and 1000"), "{bad}: {message}");
        }
    }

    #[test]
    fn excerpts_escape_and_cut() {
        assert_eq!(excerpt("a\u{202E}b", 10), "a\\u{202e}b");
        assert_eq!(excerpt("abcdef", 3), "abc…");
    }

    #[test]
    fn decimal_from_number_keeps_the_written_decimal() {
        let v = json!(149.99);
        let Value::Number(n) = v else { unreachable!() };
        assert_eq!(decimal_from_number(&n).unwrap().to_string(), "149.99");
    }
}
