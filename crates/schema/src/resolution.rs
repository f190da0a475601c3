//! Avro schema resolution for a writer schema learned at run time (ADR 031): whether records
//! written with it can be read as one of the catalog's schemas, and reading them.
//!
//! Two limits of apache-avro 0.17 shape this module. Its `can_read` has no case for
//! `decimal`, so the check runs on the underlying types (as the registry's does, and as
//! Java's `SchemaCompatibility` compares them) — and then separately requires every logical
//! type of the reader to be the writer's too: on underlying types a `string` writer would
//! "promote" to a `decimal`'s `bytes` and an amount would be read from its text. And its
//! resolver refuses a decimal whose encoding is shorter than the precision's maximum
//! ("Precision 18 too small to hold decimal values with 2 bytes", the wrong way round), so
//! decimals are resolved as their `bytes` and turned back into decimals after.

use apache_avro::schema::SchemaKind;
use apache_avro::schema_compatibility::SchemaCompatibility;
use apache_avro::types::Value;
use apache_avro::{Decimal, Schema, from_avro_datum};

use crate::registry::compat::{rewrite, underlying};

/// How to read records of one writer schema as a reader schema.
#[derive(Debug)]
pub(crate) struct Resolution {
    /// Both with decimals replaced by their underlying `bytes` (or `fixed`).
    writer: Schema,
    reader: Schema,
}

impl Resolution {
    /// The resolution from `writer` to `reader`, or why records written with `writer` cannot
    /// be read as `reader`.
    pub(crate) fn new(writer: &Schema, reader: &Schema) -> Result<Self, String> {
        SchemaCompatibility::can_read(&underlying(writer), &underlying(reader))
            .map_err(|e| edalab_domain::validation::error_chain(&e))?;
        if let Some(mismatch) = logical_mismatch(writer, reader, "") {
            return Err(mismatch);
        }
        Ok(Self {
            writer: decimals_as_bytes(writer),
            reader: decimals_as_bytes(reader),
        })
    }

    /// Reads one datum from `body` and resolves it to `reader` (the schema given to
    /// [`Resolution::new`], decimals included).
    pub(crate) fn read(
        &self,
        body: &mut &[u8],
        reader: &Schema,
    ) -> Result<Value, Box<apache_avro::Error>> {
        let value = from_avro_datum(&self.writer, body, Some(&self.reader)).map_err(Box::new)?;
        Ok(restore_decimals(value, reader))
    }
}

/// The logical type of `schema`, with a decimal's precision and scale.
fn logical(schema: &Schema) -> Option<String> {
    let name = match schema {
        Schema::Decimal(d) => return Some(format!("decimal({}, {})", d.precision, d.scale)),
        Schema::BigDecimal => "big-decimal",
        Schema::Uuid => "uuid",
        Schema::Date => "date",
        Schema::TimeMillis => "time-millis",
        Schema::TimeMicros => "time-micros",
        Schema::TimestampMillis => "timestamp-millis",
        Schema::TimestampMicros => "timestamp-micros",
        Schema::TimestampNanos => "timestamp-nanos",
        Schema::LocalTimestampMillis => "local-timestamp-millis",
        Schema::LocalTimestampMicros => "local-timestamp-micros",
        Schema::LocalTimestampNanos => "local-timestamp-nanos",
        Schema::Duration => "duration",
        _ => return None,
    };
    Some(name.to_owned())
}

/// The first reader field (dotted path) whose logical type the writer does not share.
fn logical_mismatch(writer: &Schema, reader: &Schema, path: &str) -> Option<String> {
    match (writer, reader) {
        (Schema::Record(w), Schema::Record(r)) => r.fields.iter().find_map(|field| {
            let written = w.fields.iter().find(|f| f.name == field.name)?;
            let path = if path.is_empty() {
                field.name.clone()
            } else {
                format!("{path}.{}", field.name)
            };
            logical_mismatch(&written.schema, &field.schema, &path)
        }),
        (Schema::Union(w), Schema::Union(r)) if w.variants().len() == r.variants().len() => w
            .variants()
            .iter()
            .zip(r.variants())
            .find_map(|(w, r)| logical_mismatch(w, r, path)),
        (Schema::Array(w), Schema::Array(r)) => logical_mismatch(&w.items, &r.items, path),
        (Schema::Map(w), Schema::Map(r)) => logical_mismatch(&w.types, &r.types, path),
        _ => {
            let wanted = logical(reader)?;
            let written = logical(writer);
            (written.as_deref() != Some(&wanted)).then(|| {
                let written = written
                    .unwrap_or_else(|| format!("{:?}", SchemaKind::from(writer)).to_lowercase());
                format!(
                    "field '{path}' is {wanted} in edalab's schema but {written} in the writer's"
                )
            })
        }
    }
}

/// `schema` with every decimal replaced by its underlying type.
fn decimals_as_bytes(schema: &Schema) -> Schema {
    rewrite(schema, &|schema| match schema {
        Schema::Decimal(decimal) => Some((*decimal.inner).clone()),
        _ => None,
    })
}

/// `value` (resolved to `decimals_as_bytes(reader)`) with the reader's decimals restored.
fn restore_decimals(value: Value, reader: &Schema) -> Value {
    match (reader, value) {
        (Schema::Decimal(_), Value::Bytes(bytes) | Value::Fixed(_, bytes)) => {
            Value::Decimal(Decimal::from(bytes))
        }
        (Schema::Record(record), Value::Record(fields)) => Value::Record(
            fields
                .into_iter()
                .map(|(name, value)| {
                    let value = match record.fields.iter().find(|f| f.name == name) {
                        Some(field) => restore_decimals(value, &field.schema),
                        None => value,
                    };
                    (name, value)
                })
                .collect(),
        ),
        (Schema::Union(union), Value::Union(index, value)) => {
            let value = match usize::try_from(index)
                .ok()
                .and_then(|i| union.variants().get(i))
            {
                Some(variant) => restore_decimals(*value, variant),
                None => *value,
            };
            Value::Union(index, Box::new(value))
        }
        (Schema::Array(array), Value::Array(items)) => Value::Array(
            items
                .into_iter()
                .map(|v| restore_decimals(v, &array.items))
                .collect(),
        ),
        (Schema::Map(map), Value::Map(entries)) => Value::Map(
            entries
                .into_iter()
                .map(|(k, v)| (k, restore_decimals(v, &map.types)))
                .collect(),
        ),
        (_, value) => value,
    }
}
