//! Compatibility levels and the check behind them, as Confluent defines them:
//!
//! | level | the new schema must... |
//! |---|---|
//! | `BACKWARD` (default) | read data written with the latest version |
//! | `FORWARD` | be readable by the latest version |
//! | `FULL` | both |
//! | `*_TRANSITIVE` | the same, against every version, not just the latest |
//! | `NONE` | nothing |
//!
//! "Read" is apache-avro's `SchemaCompatibility::can_read(writer, reader)`: Avro schema
//! resolution (a reader field missing from the writer needs a default, types must match or
//! promote, enum symbols must be covered, names must match), on the schemas with their
//! logical types replaced by the underlying Avro types ([`underlying`]), as Java's
//! `SchemaCompatibility` (what Confluent runs) compares them.

use std::fmt;
use std::str::FromStr;

use apache_avro::Schema;
use apache_avro::schema::{ArraySchema, FixedSchema, MapSchema, Name, UnionSchema};
use apache_avro::schema_compatibility::SchemaCompatibility;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::RegistryError;

/// A subject's (or the registry's) compatibility level.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Compatibility {
    None,
    #[default]
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

impl Compatibility {
    pub const ALL: [Self; 7] = [
        Self::None,
        Self::Backward,
        Self::BackwardTransitive,
        Self::Forward,
        Self::ForwardTransitive,
        Self::Full,
        Self::FullTransitive,
    ];

    /// Confluent's name (`BACKWARD_TRANSITIVE`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "NONE",
            Self::Backward => "BACKWARD",
            Self::BackwardTransitive => "BACKWARD_TRANSITIVE",
            Self::Forward => "FORWARD",
            Self::ForwardTransitive => "FORWARD_TRANSITIVE",
            Self::Full => "FULL",
            Self::FullTransitive => "FULL_TRANSITIVE",
        }
    }

    /// Whether the check covers every previous version, not only the latest.
    pub const fn is_transitive(self) -> bool {
        matches!(
            self,
            Self::BackwardTransitive | Self::ForwardTransitive | Self::FullTransitive
        )
    }

    const fn backward(self) -> bool {
        matches!(
            self,
            Self::Backward | Self::BackwardTransitive | Self::Full | Self::FullTransitive
        )
    }

    const fn forward(self) -> bool {
        matches!(
            self,
            Self::Forward | Self::ForwardTransitive | Self::Full | Self::FullTransitive
        )
    }
}

impl fmt::Display for Compatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Compatibility {
    type Err = RegistryError;

    /// Case-insensitive, as Confluent accepts it; anything else is 42203.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|level| level.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| RegistryError::InvalidCompatibility(text.to_owned()))
    }
}

impl Serialize for Compatibility {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Compatibility {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One way `new` fails against one previous version.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incompatibility {
    /// The version of the subject it fails against.
    pub version: u32,
    /// `BACKWARD` (the new schema cannot read the old data) or `FORWARD` (the old schema
    /// cannot read the new data).
    pub direction: &'static str,
    /// apache-avro's reason, with its causes (`Field 'x' in reader schema must have a
    /// default value`).
    pub reason: String,
}

impl fmt::Display for Incompatibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = if self.direction == "BACKWARD" {
            "the new schema cannot read data written with"
        } else {
            "data written with the new schema cannot be read by"
        };
        write!(
            f,
            "{} ({what} version {}): {}",
            self.direction, self.version, self.reason
        )
    }
}

/// Checks `new` against `previous` (`(version, schema)`, ascending) at `level`: against
/// the last one, or every one when the level is transitive. Returns every problem found.
pub fn check(
    level: Compatibility,
    new: &Schema,
    previous: &[(u32, &Schema)],
) -> Result<(), Vec<Incompatibility>> {
    let against: &[(u32, &Schema)] = if level.is_transitive() {
        previous
    } else {
        previous.last().map(std::slice::from_ref).unwrap_or(&[])
    };
    let mut problems = Vec::new();
    let new = &underlying(new);
    for &(version, old) in against {
        let old = &underlying(old);
        if level.backward()
            && let Err(error) = SchemaCompatibility::can_read(old, new)
        {
            problems.push(Incompatibility {
                version,
                direction: "BACKWARD",
                reason: edalab_domain::validation::error_chain(&error),
            });
        }
        if level.forward()
            && let Err(error) = SchemaCompatibility::can_read(new, old)
        {
            problems.push(Incompatibility {
                version,
                direction: "FORWARD",
                reason: edalab_domain::validation::error_chain(&error),
            });
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// `schema` with every logical type replaced by its underlying Avro type (`decimal` →
/// `bytes` or its `fixed`, `timestamp-millis` → `long`, `uuid` → `string`...).
///
/// Two reasons: apache-avro 0.17's `can_read` has no case for `decimal`, `big-decimal` and
/// `duration` (it answers "inconclusive", so every banking schema, which carries
/// `decimal(18,2)` amounts, would be incompatible with itself); and Java's
/// `SchemaCompatibility`, which Confluent's registry runs, ignores logical types and compares
/// the underlying types, so this gives the verdicts a Confluent registry gives.
pub fn underlying(schema: &Schema) -> Schema {
    rewrite(schema, &|schema| match schema {
        Schema::Decimal(decimal) => Some(underlying(&decimal.inner)),
        Schema::BigDecimal => Some(Schema::Bytes),
        Schema::Uuid => Some(Schema::String),
        Schema::Date | Schema::TimeMillis => Some(Schema::Int),
        Schema::TimeMicros
        | Schema::TimestampMillis
        | Schema::TimestampMicros
        | Schema::TimestampNanos
        | Schema::LocalTimestampMillis
        | Schema::LocalTimestampMicros
        | Schema::LocalTimestampNanos => Some(Schema::Long),
        // apache-avro 0.17 keeps neither the name nor the attributes of a `duration`'s
        // `fixed`; all durations are `fixed(12)` and read each other.
        Schema::Duration => Some(Name::new("duration").map_or(Schema::Bytes, |name| {
            Schema::Fixed(FixedSchema {
                name,
                aliases: None,
                doc: None,
                size: 12,
                default: None,
                attributes: Default::default(),
            })
        })),
        _ => None,
    })
}

/// `schema` with each part replaced by what `leaf` answers for it, where it answers; the
/// other arrays, maps, unions and records are walked into, everything else kept.
pub(crate) fn rewrite(schema: &Schema, leaf: &dyn Fn(&Schema) -> Option<Schema>) -> Schema {
    if let Some(replaced) = leaf(schema) {
        return replaced;
    }
    match schema {
        Schema::Array(array) => Schema::Array(ArraySchema {
            items: Box::new(rewrite(&array.items, leaf)),
            attributes: array.attributes.clone(),
        }),
        Schema::Map(map) => Schema::Map(MapSchema {
            types: Box::new(rewrite(&map.types, leaf)),
            attributes: map.attributes.clone(),
        }),
        // A union whose branches collapse into duplicates (`[long, timestamp-millis]`)
        // stays as it is.
        Schema::Union(union) => {
            UnionSchema::new(union.variants().iter().map(|v| rewrite(v, leaf)).collect())
                .map_or_else(|_| schema.clone(), Schema::Union)
        }
        Schema::Record(record) => {
            let mut record = record.clone();
            for field in &mut record.fields {
                field.schema = rewrite(&field.schema, leaf);
            }
            Schema::Record(record)
        }
        other => other.clone(),
    }
}

/// Confluent's 409 message for `problems` found registering under `subject`.
pub fn incompatible(subject: &str, problems: &[Incompatibility]) -> RegistryError {
    let details = problems
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    RegistryError::Incompatible {
        subject: subject.to_owned(),
        message: format!(
            "Schema being registered is incompatible with an earlier schema for subject \
             \"{subject}\", details: [{details}]"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(fields: &str) -> Schema {
        Schema::parse_str(&format!(
            r#"{{"type":"record","name":"R","namespace":"t","fields":[{fields}]}}"#
        ))
        .unwrap()
    }

    #[test]
    fn levels_parse_case_insensitively_and_print_as_confluent() {
        for level in Compatibility::ALL {
            assert_eq!(level.as_str().parse::<Compatibility>().unwrap(), level);
            assert_eq!(
                level
                    .as_str()
                    .to_lowercase()
                    .parse::<Compatibility>()
                    .unwrap(),
                level
            );
        }
        assert_eq!(Compatibility::default(), Compatibility::Backward);
        let err = "SIDEWAYS".parse::<Compatibility>().unwrap_err();
        assert_eq!(err.error_code(), 42203);
        assert!(err.to_string().contains("'SIDEWAYS'"), "{err}");
    }

    #[test]
    fn each_level_checks_its_direction() {
        let v1 = record(r#"{"name":"a","type":"string"}"#);
        // Adds a field with a default: both directions read.
        let with_default =
            record(r#"{"name":"a","type":"string"},{"name":"b","type":"int","default":0}"#);
        // Adds a field without a default: old data lacks it (not BACKWARD); old readers
        // ignore it (FORWARD).
        let without_default = record(r#"{"name":"a","type":"string"},{"name":"b","type":"int"}"#);
        // Drops the only field: new reads old (ignores a), old cannot read new (no a).
        let dropped = record(r#"{"name":"c","type":"int","default":1}"#);
        let prev = [(1, &v1)];
        for level in Compatibility::ALL {
            assert!(check(level, &with_default, &prev).is_ok(), "{level}");
        }
        let backward = check(Compatibility::Backward, &without_default, &prev).unwrap_err();
        assert_eq!(backward.len(), 1);
        assert_eq!(backward[0].direction, "BACKWARD");
        assert!(backward[0].reason.contains("'b'"), "{}", backward[0].reason);
        assert!(
            backward[0].reason.contains("default"),
            "{}",
            backward[0].reason
        );
        assert!(check(Compatibility::Forward, &without_default, &prev).is_ok());
        assert!(check(Compatibility::None, &without_default, &prev).is_ok());
        assert!(check(Compatibility::Backward, &dropped, &prev).is_ok());
        let forward = check(Compatibility::Full, &dropped, &prev).unwrap_err();
        assert_eq!(forward.len(), 1);
        assert_eq!(forward[0].direction, "FORWARD");
        assert!(forward[0].reason.contains("'a'"), "{}", forward[0].reason);
    }

    #[test]
    fn logical_types_are_compared_by_their_underlying_type() {
        let decimal = r#"{"type":"bytes","logicalType":"decimal","precision":18,"scale":2}"#;
        let v1 = record(&format!(
            r#"{{"name":"m","type":{decimal}}},{{"name":"t","type":{{"type":"long","logicalType":"timestamp-millis"}}}}"#
        ));
        assert!(
            SchemaCompatibility::can_read(&v1, &v1).is_err(),
            "apache-avro 0.17 alone cannot compare decimals; if this fails, `underlying` may go"
        );
        for level in Compatibility::ALL {
            assert!(check(level, &v1, &[(1, &v1)]).is_ok(), "{level}");
        }
        // decimal → plain bytes and timestamp-millis → long read each other, as in Java.
        let plain = record(r#"{"name":"m","type":"bytes"},{"name":"t","type":"long"}"#);
        assert!(check(Compatibility::Full, &plain, &[(1, &v1)]).is_ok());
        // A decimal that becomes an int does not (bytes → string would: Avro promotes it).
        let int = record(r#"{"name":"m","type":"int"},{"name":"t","type":"long"}"#);
        let problems = check(Compatibility::Backward, &int, &[(1, &v1)]).unwrap_err();
        assert!(problems[0].reason.contains("'m'"), "{}", problems[0].reason);
        for schema in crate::EventSchema::ALL {
            let parsed = schema.parse().unwrap();
            assert!(
                check(Compatibility::FullTransitive, &parsed, &[(1, &parsed)]).is_ok(),
                "{schema} is not compatible with itself"
            );
        }
    }

    #[test]
    fn a_type_change_names_the_field_and_transitive_levels_look_further_back() {
        let v1 = record(r#"{"name":"a","type":"string"}"#);
        let v2 = record(r#"{"name":"a","type":"string"},{"name":"b","type":"int","default":0}"#);
        let retyped =
            record(r#"{"name":"a","type":"string"},{"name":"b","type":"boolean","default":false}"#);
        let problems = check(Compatibility::Backward, &retyped, &[(1, &v1), (2, &v2)]).unwrap_err();
        assert_eq!(problems[0].version, 2);
        assert!(problems[0].reason.contains("'b'"), "{}", problems[0].reason);

        // v3 requires `b` without a default: compatible with v2 (which has it), not with v1.
        let v3 = record(r#"{"name":"a","type":"string"},{"name":"b","type":"int"}"#);
        let prev = [(1, &v1), (2, &v2)];
        assert!(check(Compatibility::Backward, &v3, &prev).is_ok());
        let problems = check(Compatibility::BackwardTransitive, &v3, &prev).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].version, 1);
        let message = incompatible("s-value", &problems).to_string();
        assert!(message.contains("subject \"s-value\""), "{message}");
        assert!(message.contains("version 1"), "{message}");
        // Nothing to check against: anything goes.
        assert!(check(Compatibility::FullTransitive, &v3, &[]).is_ok());
    }
}
