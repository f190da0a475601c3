//! A message value made readable for people, whatever it holds (`edalab tail`, `edalab dlq
//! show`), the way `kafka-avro-console-consumer` shows it: Confluent-framed Avro decoded
//! through the schema registry (the schema id read from the frame, the schema fetched by that
//! id) and rendered as JSON, JSON as JSON, UTF-8 text as text, and anything else as base64
//! with the reason it could not be decoded.
//!
//! Owns only the choice and the rendering; the registry answers through the
//! [`SchemaRegistry`] port (the built-in [`crate::LocalRegistry`] or a Confluent one), and the
//! JSON rendering of Avro values is [`crate::avro_to_json`]'s.

use std::collections::HashMap;

use apache_avro::Schema;
use base64::Engine;
use serde_json::{Value as Json, json};

use crate::catalog::SchemaId;
use crate::json::avro_to_json;
use crate::registry::{SchemaRegistry, parse_schema};
use crate::wire::{self, HEADER_LEN, MAGIC_BYTE};

/// Schemas a [`DisplayDecoder`] keeps parsed; past this it forgets them all and starts over
/// (a topic holds a handful of schema ids, so this is only a bound).
const SCHEMAS_CACHED_MAX: usize = 1024;

/// What a message value turned out to be.
#[derive(Debug, Clone, PartialEq)]
pub enum DisplayValue {
    /// Confluent-framed Avro, decoded with the registry's schema `schema_id`.
    Avro { schema_id: SchemaId, value: Json },
    /// A JSON document.
    Json(Json),
    /// UTF-8 text that is not JSON.
    Text(String),
    /// Bytes that could not be decoded, and why.
    Bytes { bytes: Vec<u8>, reason: String },
}

impl DisplayValue {
    /// The value as JSON: the decoded document, the text as a string, or
    /// `{"base64": "..."}` for bytes.
    pub fn to_json(&self) -> Json {
        match self {
            Self::Avro { value, .. } | Self::Json(value) => value.clone(),
            Self::Text(text) => Json::String(text.clone()),
            Self::Bytes { bytes, .. } => {
                json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) })
            }
        }
    }

    /// The schema id of an Avro value.
    pub fn schema_id(&self) -> Option<SchemaId> {
        match self {
            Self::Avro { schema_id, .. } => Some(*schema_id),
            _ => None,
        }
    }

    /// Why the bytes could not be decoded.
    pub fn error(&self) -> Option<&str> {
        match self {
            Self::Bytes { reason, .. } => Some(reason),
            _ => None,
        }
    }
}

/// Decodes `bytes` for display, fetching the schema from `registry` (see the module doc).
pub async fn decode_for_display(bytes: &[u8], registry: &dyn SchemaRegistry) -> DisplayValue {
    DisplayDecoder::new(registry).decode(bytes).await
}

/// [`decode_for_display`] over many values, keeping each schema it fetched parsed (or the
/// reason it could not be had).
pub struct DisplayDecoder<'a> {
    registry: &'a dyn SchemaRegistry,
    schemas: HashMap<SchemaId, Result<Schema, String>>,
}

impl<'a> DisplayDecoder<'a> {
    pub fn new(registry: &'a dyn SchemaRegistry) -> Self {
        Self {
            registry,
            schemas: HashMap::new(),
        }
    }

    /// Decodes one value (see the module doc).
    pub async fn decode(&mut self, bytes: &[u8]) -> DisplayValue {
        if bytes.first() == Some(&MAGIC_BYTE) {
            return match self.decode_avro(bytes).await {
                Ok((schema_id, value)) => DisplayValue::Avro { schema_id, value },
                Err(reason) => DisplayValue::Bytes {
                    bytes: bytes.to_vec(),
                    reason,
                },
            };
        }
        if let Ok(value) = serde_json::from_slice(bytes) {
            return DisplayValue::Json(value);
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => DisplayValue::Text(text.to_owned()),
            Err(e) => DisplayValue::Bytes {
                bytes: bytes.to_vec(),
                reason: format!(
                    "neither Confluent-framed Avro (first byte 0x{:02x}, not 0x00) nor UTF-8 ({e})",
                    bytes[0]
                ),
            },
        }
    }

    async fn decode_avro(&mut self, bytes: &[u8]) -> Result<(SchemaId, Json), String> {
        let (id, body) = wire::unframe(bytes).map_err(|e| {
            format!("starts with the Avro magic byte 0x00 but is not Confluent-framed: {e} (a frame is {HEADER_LEN} bytes and more)")
        })?;
        let schema = self.schema(id).await?;
        let mut reader = body;
        crate::codec::bound_avro_allocations();
        let value = apache_avro::from_avro_datum(schema, &mut reader, None)
            .map_err(|e| format!("Avro body does not match schema id {id}: {e}"))?;
        if !reader.is_empty() {
            return Err(format!(
                "{} bytes left over after the record of schema id {id}",
                reader.len()
            ));
        }
        let json = avro_to_json(&value, schema)
            .map_err(|e| format!("cannot render schema id {id}'s value as JSON: {e}"))?;
        Ok((id, json))
    }

    async fn schema(&mut self, id: SchemaId) -> Result<&Schema, String> {
        if !self.schemas.contains_key(&id) {
            if self.schemas.len() >= SCHEMAS_CACHED_MAX {
                self.schemas.clear();
            }
            let fetched = match self.registry.schema_by_id(id).await {
                Ok(text) => parse_schema(&text)
                    .map_err(|e| format!("schema id {id} from the registry does not parse: {e}")),
                Err(e) => Err(format!("schema id {id}: {e}")),
            };
            self.schemas.insert(id, fetched);
        }
        match self.schemas.get(&id) {
            Some(Ok(schema)) => Ok(schema),
            Some(Err(reason)) => Err(reason.clone()),
            None => Err(format!("schema id {id}: not cached")),
        }
    }
}

#[cfg(test)]
mod tests {
    use edalab_domain::events::BankingEvent;
    use edalab_domain::events::banking::samples;

    use super::*;
    use crate::{LocalRegistry, SchemaCatalog, encode_banking};

    fn registry() -> (LocalRegistry, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        (LocalRegistry::open(dir.path()).expect("registry"), dir)
    }

    fn account_opened() -> Vec<u8> {
        let catalog = SchemaCatalog::builtin().expect("catalog");
        encode_banking(&catalog, &BankingEvent::from(samples::account_opened())).expect("encode")
    }

    #[tokio::test]
    async fn avro_is_decoded_through_the_registry_with_its_schema_id() {
        let (registry, _dir) = registry();
        let bytes = account_opened();
        let shown = decode_for_display(&bytes, &registry).await;
        let expected = crate::render_json(&SchemaCatalog::builtin().expect("catalog"), &bytes)
            .expect("render");
        assert_eq!(
            shown,
            DisplayValue::Avro {
                schema_id: crate::EventSchema::AccountOpened.builtin_id(),
                value: expected,
            }
        );
        assert!(shown.to_json().get("compte_id").is_some(), "{shown:?}");
    }

    #[tokio::test]
    async fn json_text_and_undecodable_bytes_say_what_they_are() {
        let (registry, _dir) = registry();
        let mut decoder = DisplayDecoder::new(&registry);
        assert_eq!(
            decoder.decode(br#"{"amount":"-5"}"#).await,
            DisplayValue::Json(json!({"amount": "-5"}))
        );
        assert_eq!(
            decoder.decode(b"plain words").await,
            DisplayValue::Text("plain words".to_owned())
        );
        let shown = decoder.decode(&[0xff, 0xfe, 0x01]).await;
        assert_eq!(shown.to_json(), json!({"base64": "//4B"}));
        assert!(shown.error().expect("reason").contains("0xff"), "{shown:?}");
    }

    #[tokio::test]
    async fn avro_that_cannot_be_decoded_is_shown_as_base64_with_the_reason() {
        let (registry, _dir) = registry();
        let mut decoder = DisplayDecoder::new(&registry);
        // An id the registry does not know.
        let unknown = wire::frame(SchemaId(999_999), b"\x02");
        let shown = decoder.decode(&unknown).await;
        assert_eq!(shown.schema_id(), None);
        assert!(
            shown.error().expect("reason").contains("999999"),
            "{shown:?}"
        );
        // A body cut short.
        let mut cut = account_opened();
        cut.truncate(cut.len() - 3);
        let reason = decoder.decode(&cut).await.error().map(str::to_owned);
        assert!(
            reason
                .as_deref()
                .is_some_and(|r| r.contains("does not match")),
            "{reason:?}"
        );
        // Trailing bytes.
        let mut long = account_opened();
        long.push(0);
        let reason = decoder.decode(&long).await.error().map(str::to_owned);
        assert!(
            reason.as_deref().is_some_and(|r| r.contains("left over")),
            "{reason:?}"
        );
        // A frame too short.
        let shown = decoder.decode(&[0, 0, 1]).await;
        assert!(
            shown
                .error()
                .expect("reason")
                .contains("not Confluent-framed")
        );
    }
}
