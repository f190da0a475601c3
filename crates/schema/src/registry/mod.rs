//! The schema registry port ([`SchemaRegistry`]) and its two implementations:
//!
//! - [`LocalRegistry`]: the built-in registry of the `embedded` profile. It starts with
//!   every [`EventSchema`](crate::EventSchema) registered as version 1 of its
//!   TopicNameStrategy subject (`<topic>-value`) under its built-in id, and keeps what is
//!   registered later in an append-only, fsynced JSON-lines file (ADR 016).
//! - [`HttpRegistry`]: a client of any Confluent-compatible Schema Registry (the `kafka`
//!   profile), with the id and identity caches Confluent's own clients keep.
//!
//! Both speak the same vocabulary as Confluent's REST API: subjects, versions (from 1,
//! `latest`), global schema ids, per-subject compatibility levels, and the
//! [`RegistryError`]s carry Confluent's `error_code`s, so the gateway's `/registry/` routes
//! answer what a Confluent registry would, whichever implementation sits behind them.
//!
//! Compatibility is decided by [`compat::check`] with apache-avro's
//! `SchemaCompatibility::can_read` (BACKWARD: the new schema reads data written with the
//! previous one).

pub mod client;
pub mod compat;
pub mod local;
pub mod names;
pub mod resolve;

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::catalog::SchemaId;

pub use client::{HttpRegistry, HttpRegistryConfig};
pub use compat::Compatibility;
pub use local::LocalRegistry;
pub use resolve::{Registered, Registration, RegistrationError, learn_writers, register_catalog};

/// The content type of Confluent's Schema Registry API (v1), requests and responses.
pub const CONTENT_TYPE: &str = "application/vnd.schemaregistry.v1+json";

/// A schema as registered under a subject: what `GET /subjects/{s}/versions/{v}` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredSchema {
    pub subject: String,
    /// The global schema id ([`SchemaId`]'s number, as Confluent's JSON carries it).
    pub id: u32,
    pub version: u32,
    /// The schema text, as it was registered.
    pub schema: String,
}

impl RegisteredSchema {
    pub fn schema_id(&self) -> SchemaId {
        SchemaId(self.id)
    }
}

/// A version of a subject: a number from 1, or the latest one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Latest,
    Number(u32),
}

impl FromStr for Version {
    type Err = RegistryError;

    /// `latest`, `-1` (Confluent's alias of latest) or `1..=2^31-1`; anything else is
    /// Confluent's 42202.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text == "latest" || text == "-1" {
            return Ok(Self::Latest);
        }
        match text.parse::<i32>() {
            Ok(n) if n >= 1 => Ok(Self::Number(n.unsigned_abs())),
            _ => Err(RegistryError::InvalidVersion(text.to_owned())),
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Latest => f.write_str("latest"),
            Self::Number(n) => n.fmt(f),
        }
    }
}

/// What can go wrong talking to a registry. Each variant is one of Confluent's error
/// codes ([`RegistryError::error_code`]), so a client maps a remote registry's answer back
/// to the same variant the local registry returns.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RegistryError {
    /// 40401.
    #[error("Subject '{0}' not found.")]
    SubjectNotFound(String),
    /// 40402.
    #[error("Version {version} not found for subject '{subject}'.")]
    VersionNotFound { subject: String, version: String },
    /// 40403: no schema with this id, or (lookup) this schema is not under the subject.
    #[error("{0}")]
    SchemaNotFound(String),
    /// 40408: `GET /config/{subject}` for a subject without its own level.
    #[error("Subject '{0}' does not have subject-level compatibility configured")]
    SubjectCompatibilityNotConfigured(String),
    /// 409: the schema breaks the subject's compatibility level; the message says how.
    #[error("{message}")]
    Incompatible { subject: String, message: String },
    /// 42201: not a valid Avro schema (or an unsupported schema type or references).
    #[error("Invalid schema: {0}")]
    InvalidSchema(String),
    /// 42202.
    #[error(
        "The specified version '{0}' is not a valid version id. Allowed values are between \
         [1, 2^31-1] and the string \"latest\""
    )]
    InvalidVersion(String),
    /// 42203.
    #[error(
        "Invalid compatibility level '{0}'. Valid values are NONE, BACKWARD, FORWARD, FULL, \
         BACKWARD_TRANSITIVE, FORWARD_TRANSITIVE and FULL_TRANSITIVE"
    )]
    InvalidCompatibility(String),
    /// 42208: an empty subject, a control character, or more than 255 bytes.
    #[error("The specified subject '{0}' is not valid")]
    InvalidSubject(String),
    /// 50001: the registry's own storage failed.
    #[error("Error in the backend data store: {0}")]
    Store(String),
    /// 40301: the request is not allowed here (a level change on a registry that does not
    /// allow it).
    #[error("{0}")]
    Forbidden(String),
    /// A request body the registry cannot read (HTTP 400, code 400 as Confluent answers).
    #[error("{0}")]
    BadRequest(String),
    /// The registry could not be reached or answered something unreadable (client side).
    #[error("schema registry at {url}: {message}")]
    Transport { url: String, message: String },
    /// Any other error a remote registry answered, kept as it came.
    #[error("schema registry answered HTTP {status} (error_code {error_code}): {message}")]
    Remote {
        status: u16,
        error_code: u32,
        message: String,
    },
}

impl RegistryError {
    /// Confluent's `error_code` for this error.
    pub fn error_code(&self) -> u32 {
        match self {
            Self::SubjectNotFound(_) => 40401,
            Self::VersionNotFound { .. } => 40402,
            Self::SchemaNotFound(_) => 40403,
            Self::SubjectCompatibilityNotConfigured(_) => 40408,
            Self::Incompatible { .. } => 409,
            Self::InvalidSchema(_) => 42201,
            Self::InvalidVersion(_) => 42202,
            Self::InvalidCompatibility(_) => 42203,
            Self::InvalidSubject(_) => 42208,
            Self::Store(_) => 50001,
            Self::BadRequest(_) => 400,
            Self::Forbidden(_) => 40301,
            Self::Transport { .. } => 50003,
            Self::Remote { error_code, .. } => *error_code,
        }
    }

    /// The HTTP status Confluent answers this error with.
    pub fn http_status(&self) -> u16 {
        match self {
            Self::SubjectNotFound(_)
            | Self::VersionNotFound { .. }
            | Self::SchemaNotFound(_)
            | Self::SubjectCompatibilityNotConfigured(_) => 404,
            Self::Incompatible { .. } => 409,
            Self::InvalidSchema(_)
            | Self::InvalidVersion(_)
            | Self::InvalidCompatibility(_)
            | Self::InvalidSubject(_) => 422,
            Self::BadRequest(_) => 400,
            Self::Forbidden(_) => 403,
            Self::Store(_) => 500,
            Self::Transport { .. } => 502,
            Self::Remote { status, .. } => *status,
        }
    }

    /// The error body Confluent answers: `{"error_code": N, "message": "..."}`.
    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error_code: self.error_code(),
            message: self.to_string(),
        }
    }
}

/// Confluent's error body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error_code: u32,
    pub message: String,
}

/// A schema registry: Confluent's model (subjects, versions, global ids, compatibility
/// levels), whichever registry implements it.
#[async_trait]
pub trait SchemaRegistry: Send + Sync {
    /// Registers `schema` (Avro JSON text) under `subject` and returns its global id.
    /// Idempotent: a schema already under the subject gets its id back, without a new
    /// version; a schema already under another subject gets the same id. Otherwise the
    /// subject's compatibility level is enforced ([`RegistryError::Incompatible`]).
    async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError>;

    /// The schema text with this global id ([`RegistryError::SchemaNotFound`]).
    async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError>;

    /// Every subject, sorted.
    async fn subjects(&self) -> Result<Vec<String>, RegistryError>;

    /// The versions of `subject`, ascending.
    async fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError>;

    /// One version of `subject`.
    async fn version(
        &self,
        subject: &str,
        version: Version,
    ) -> Result<RegisteredSchema, RegistryError>;

    /// The version of `subject` that is `schema` (`POST /subjects/{subject}`).
    async fn lookup(&self, subject: &str, schema: &str) -> Result<RegisteredSchema, RegistryError>;

    /// Whether `schema` could be registered under `subject` against `version` (with
    /// `Latest`, against what registration checks: the latest version, or every version
    /// with a `_TRANSITIVE` level).
    async fn check_compatibility(
        &self,
        subject: &str,
        version: Version,
        schema: &str,
    ) -> Result<bool, RegistryError>;

    /// The global level (`None`), or the level set on `subject` itself
    /// ([`RegistryError::SubjectCompatibilityNotConfigured`] when it has none).
    async fn compatibility(&self, subject: Option<&str>) -> Result<Compatibility, RegistryError>;

    /// Sets the global level (`None`) or `subject`'s own level.
    async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: Compatibility,
    ) -> Result<Compatibility, RegistryError>;
}

/// Parses `text` as an Avro schema, or says why it is not one (42201). Never panics:
/// names are checked first ([`names::check_names`]: apache-avro 0.17 panics on some bad
/// ones), and a panic inside apache-avro on any other input is caught and answered as an
/// invalid schema too. This is the function fuzzing drives with arbitrary text.
pub fn parse_schema(text: &str) -> Result<apache_avro::Schema, RegistryError> {
    if text.trim().is_empty() {
        return Err(RegistryError::InvalidSchema(
            "the schema is empty".to_owned(),
        ));
    }
    let json: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| RegistryError::InvalidSchema(format!("the schema is not JSON: {e}")))?;
    names::check_names(&json).map_err(RegistryError::InvalidSchema)?;
    // `parse_str` only reads `text`: no state of ours is left half-changed by a panic.
    std::panic::catch_unwind(|| {
        apache_avro::Schema::parse_str(text)
            .map_err(|e| RegistryError::InvalidSchema(e.to_string()))
    })
    .map_err(|_| {
        RegistryError::InvalidSchema(
            "the schema could not be parsed (apache-avro failed on it)".to_owned(),
        )
    })?
}

/// What makes two schema texts "the same schema": apache-avro's serialization of the
/// parsed schema (whitespace, key order and `"string"` vs `{"type":"string"}` do not
/// matter; names, fields, defaults and logical types do).
pub fn identity(schema: &apache_avro::Schema) -> Result<String, RegistryError> {
    serde_json::to_string(schema).map_err(|e| RegistryError::InvalidSchema(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_as_confluent_does() {
        assert_eq!("latest".parse::<Version>().unwrap(), Version::Latest);
        assert_eq!("-1".parse::<Version>().unwrap(), Version::Latest);
        assert_eq!("7".parse::<Version>().unwrap(), Version::Number(7));
        for bad in ["0", "-2", "abc", "", "2147483648", "1.5", "LATEST"] {
            let err = bad.parse::<Version>().unwrap_err();
            assert_eq!(err.error_code(), 42202, "{bad:?}");
            assert!(err.to_string().contains(&format!("'{bad}'")), "{err}");
        }
    }

    #[test]
    fn identity_ignores_layout_but_not_defaults() {
        let a =
            parse_schema(r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string"}]}"#)
                .unwrap();
        let b = parse_schema(
            "{ \"name\": \"R\", \"type\": \"record\",\n \"fields\": [ {\"type\": {\"type\": \"string\"}, \"name\": \"a\"} ] }",
        )
        .unwrap();
        let c = parse_schema(
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"string","default":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(identity(&a).unwrap(), identity(&b).unwrap());
        assert_ne!(identity(&a).unwrap(), identity(&c).unwrap());
    }

    #[test]
    fn errors_carry_confluent_codes_and_statuses() {
        let cases = [
            (RegistryError::SubjectNotFound("s".into()), 40401, 404),
            (
                RegistryError::VersionNotFound {
                    subject: "s".into(),
                    version: "3".into(),
                },
                40402,
                404,
            ),
            (
                RegistryError::SchemaNotFound("Schema 9 not found".into()),
                40403,
                404,
            ),
            (
                RegistryError::SubjectCompatibilityNotConfigured("s".into()),
                40408,
                404,
            ),
            (
                RegistryError::Incompatible {
                    subject: "s".into(),
                    message: "m".into(),
                },
                409,
                409,
            ),
            (RegistryError::InvalidSchema("x".into()), 42201, 422),
            (RegistryError::InvalidVersion("x".into()), 42202, 422),
            (RegistryError::InvalidCompatibility("x".into()), 42203, 422),
            (RegistryError::Store("disk".into()), 50001, 500),
            (RegistryError::Forbidden("no".into()), 40301, 403),
        ];
        for (error, code, status) in cases {
            assert_eq!(error.error_code(), code, "{error}");
            assert_eq!(error.http_status(), status, "{error}");
            assert_eq!(error.body().error_code, code);
        }
        assert_eq!(
            parse_schema("  ").unwrap_err(),
            RegistryError::InvalidSchema("the schema is empty".to_owned())
        );
    }

    #[test]
    fn names_apache_avro_panics_on_are_invalid_schemas() {
        for name in ["T-1", "1T", ""] {
            let text = format!(
                r#"{{"type":"record","name":"{name}","fields":[{{"name":"a","type":"string"}}]}}"#
            );
            let error = parse_schema(&text).unwrap_err();
            assert_eq!(error.error_code(), 42201, "{name:?}: {error}");
            assert!(error.to_string().contains("invalid Avro name"), "{error}");
        }
        let error = parse_schema("{not json").unwrap_err();
        assert!(error.to_string().contains("not JSON"), "{error}");
    }
}
