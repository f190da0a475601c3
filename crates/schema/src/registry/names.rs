//! The Avro specification's rules for names, checked on a schema's JSON before apache-avro
//! sees it: apache-avro 0.17 panics (an `unwrap` in `Name::parse`) on a named type whose
//! `name` or `aliases` break them (`T-1`, `1T`, `""`), where it should answer an error.
//! Owns only the name rules; what a schema means stays apache-avro's.
//!
//! Rules (Avro 1.11 "Names"): a name starts with `[A-Za-z_]` and continues with
//! `[A-Za-z0-9_]`; a fullname (a `name` or an alias of a record, enum or fixed) is names
//! joined by `.`; a namespace is such a fullname or empty. Field names and enum symbols
//! are left to apache-avro, which refuses bad ones with an error.

use serde_json::{Map, Value};

/// The types that carry a name.
const NAMED_TYPES: [&str; 4] = ["record", "error", "enum", "fixed"];

/// Checks every named type of `schema` (nested ones too); the error names the bad name and
/// where it is, as a JSON path (`$.fields[1].type.name`).
pub fn check_names(schema: &Value) -> Result<(), String> {
    check_value(schema, "$")
}

fn check_value(value: &Value, path: &str) -> Result<(), String> {
    match value {
        Value::Array(union) => union
            .iter()
            .enumerate()
            .try_for_each(|(i, branch)| check_value(branch, &format!("{path}[{i}]"))),
        Value::Object(object) => check_object(object, path),
        _ => Ok(()),
    }
}

fn check_object(object: &Map<String, Value>, path: &str) -> Result<(), String> {
    let kind = object.get("type");
    if let Some(Value::String(kind)) = kind
        && NAMED_TYPES.contains(&kind.as_str())
    {
        check_named(object, path)?;
    }
    if let Some(kind @ (Value::Object(_) | Value::Array(_))) = kind {
        check_value(kind, &format!("{path}.type"))?;
    }
    for key in ["items", "values"] {
        if let Some(inner) = object.get(key) {
            check_value(inner, &format!("{path}.{key}"))?;
        }
    }
    if let Some(Value::Array(fields)) = object.get("fields") {
        for (i, field) in fields.iter().enumerate() {
            if let Value::Object(field) = field
                && let Some(kind) = field.get("type")
            {
                check_value(kind, &format!("{path}.fields[{i}].type"))?;
            }
        }
    }
    Ok(())
}

fn check_named(object: &Map<String, Value>, path: &str) -> Result<(), String> {
    if let Some(Value::String(name)) = object.get("name") {
        check_fullname(name, &format!("{path}.name"))?;
    }
    if let Some(Value::String(namespace)) = object.get("namespace")
        && !namespace.is_empty()
    {
        check_fullname(namespace, &format!("{path}.namespace"))?;
    }
    if let Some(Value::Array(aliases)) = object.get("aliases") {
        for (i, alias) in aliases.iter().enumerate() {
            if let Value::String(alias) = alias {
                check_fullname(alias, &format!("{path}.aliases[{i}]"))?;
            }
        }
    }
    Ok(())
}

fn check_fullname(fullname: &str, path: &str) -> Result<(), String> {
    if fullname.split('.').all(is_name) {
        return Ok(());
    }
    Err(format!(
        "invalid Avro name \"{}\" at {path}: a name starts with a letter or `_` and holds \
         only letters, digits and `_`; a fullname joins names with `.`",
        edalab_domain::validation::excerpt(fullname, 64)
    ))
}

/// `[A-Za-z_][A-Za-z0-9_]*`.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(name: &str) -> Value {
        json!({"type": "record", "name": name, "fields": [{"name": "a", "type": "string"}]})
    }

    #[test]
    fn names_that_break_the_rules_are_refused_with_their_place() {
        for bad in ["T-1", "1T", "", "a..b", "a.", ".a", "T 1", "é"] {
            let message = check_names(&record(bad)).unwrap_err();
            assert!(message.contains("at $.name"), "{bad:?}: {message}");
        }
        let nested = json!({"type": "record", "name": "R", "fields": [
            {"name": "x", "type": ["null", {"type": "enum", "name": "E-1", "symbols": ["A"]}]}
        ]});
        let message = check_names(&nested).unwrap_err();
        assert!(
            message.contains("\"E-1\" at $.fields[0].type[1].name"),
            "{message}"
        );
        let alias = json!({"type": "fixed", "name": "F", "size": 2, "aliases": ["ok", "no-no"]});
        assert!(check_names(&alias).unwrap_err().contains("$.aliases[1]"));
        let items =
            json!({"type": "array", "items": {"type": "record", "name": "9", "fields": []}});
        assert!(check_names(&items).unwrap_err().contains("$.items.name"));
    }

    #[test]
    fn names_within_the_rules_pass() {
        for good in ["T", "_t1", "com.example.T", "a_b.C_9"] {
            assert_eq!(check_names(&record(good)), Ok(()), "{good}");
        }
        let with_namespace = json!({"type": "record", "name": "R", "namespace": "", "fields": []});
        assert_eq!(check_names(&with_namespace), Ok(()));
        assert_eq!(check_names(&json!("string")), Ok(()));
    }
}
