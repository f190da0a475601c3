//! Renders decoded Avro values as JSON for people (`edalab tail --format json`, the DLQ
//! browser, the WebSocket hub), driven by the schema alone so it works for any schema the
//! catalog knows, with or without a Rust type.
//!
//! The rendering follows the banking JSON contract: decimals become decimal strings at
//! the schema's scale (`"1234.56"`), `timestamp-millis` an RFC 3339 string with
//! milliseconds, enums their symbol, nullable unions `null` or the bare value (not Avro
//! JSON encoding's `{"map": ...}` wrapper), maps and records objects.

use apache_avro::Schema;
use apache_avro::types::Value;
use chrono::{DateTime, SecondsFormat};
use rust_decimal::Decimal;
use serde_json::{Map, Number, Value as Json};

use crate::catalog::SchemaCatalog;
use crate::codec::decode_value;
use crate::decimal::{avro_decimal_bytes, bytes_to_unscaled};
use crate::error::WireError;

/// Decodes a Confluent-framed message and renders its record as JSON.
pub fn render_json(catalog: &SchemaCatalog, bytes: &[u8]) -> Result<Json, WireError> {
    let (schema, value) = decode_value(catalog, bytes)?;
    avro_to_json(&value, catalog.schema(schema)).map_err(|reason| WireError::Field {
        record: schema.record_name(),
        field: String::new(),
        reason,
    })
}

/// Renders `value`, read with `schema`, as JSON. Fails (with a reason) only when the value
/// does not match the schema.
pub fn avro_to_json(value: &Value, schema: &Schema) -> Result<Json, String> {
    Ok(match (value, schema) {
        (Value::Null, _) => Json::Null,
        (Value::Boolean(b), _) => Json::Bool(*b),
        (Value::Int(i), _) => Json::from(*i),
        (Value::Long(l), _) => Json::from(*l),
        (Value::Float(f), _) => Number::from_f64(f64::from(*f)).map_or(Json::Null, Json::Number),
        (Value::Double(d), _) => Number::from_f64(*d).map_or(Json::Null, Json::Number),
        (Value::String(s), _) | (Value::Enum(_, s), _) => Json::String(s.clone()),
        (Value::Bytes(b), _) | (Value::Fixed(_, b), _) => Json::from(b.clone()),
        (Value::TimestampMillis(ms), _) => match DateTime::from_timestamp_millis(*ms) {
            Some(at) => Json::String(at.to_rfc3339_opts(SecondsFormat::Millis, true)),
            None => return Err(format!("timestamp {ms} ms is out of range")),
        },
        (Value::Decimal(d), Schema::Decimal(ds)) => {
            let bytes = avro_decimal_bytes(d).map_err(|e| e.to_string())?;
            let unscaled = bytes_to_unscaled(&bytes).map_err(|e| e.to_string())?;
            let scale = u32::try_from(ds.scale).map_err(|e| e.to_string())?;
            let decimal =
                Decimal::try_from_i128_with_scale(unscaled, scale).map_err(|e| e.to_string())?;
            Json::String(decimal.to_string())
        }
        (Value::Union(index, inner), Schema::Union(union)) => {
            let variant = usize::try_from(*index)
                .ok()
                .and_then(|i| union.variants().get(i))
                .ok_or_else(|| format!("union index {index} out of range"))?;
            avro_to_json(inner, variant)?
        }
        (Value::Array(items), Schema::Array(array)) => Json::Array(
            items
                .iter()
                .map(|item| avro_to_json(item, &array.items))
                .collect::<Result<_, _>>()?,
        ),
        (Value::Map(map), Schema::Map(map_schema)) => {
            let mut object = Map::new();
            for (key, item) in map {
                object.insert(key.clone(), avro_to_json(item, &map_schema.types)?);
            }
            Json::Object(object)
        }
        (Value::Record(fields), Schema::Record(record)) => {
            let mut object = Map::new();
            for (name, item) in fields {
                let field = record
                    .lookup
                    .get(name)
                    .and_then(|&i| record.fields.get(i))
                    .ok_or_else(|| format!("field {name:?} is not in the schema"))?;
                let rendered =
                    avro_to_json(item, &field.schema).map_err(|e| format!("{name}: {e}"))?;
                object.insert(name.clone(), rendered);
            }
            Json::Object(object)
        }
        (other, schema) => {
            return Err(format!("value {other:?} does not match schema {schema:?}"));
        }
    })
}
