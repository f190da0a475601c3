//! Avro schemas of edalab's events, the Confluent wire format and the schema catalog.
//!
//! This crate owns the *bytes* of events on Avro topics: the `.avsc` files under
//! `schemas/` (embedded with `include_str!`), the hand-written mapping between the domain
//! event types of [`edalab_domain::events`] and Avro records, and the Confluent framing
//! (magic byte `0x00`, 4-byte big-endian schema id, Avro binary body) that standard
//! Confluent deserializers in other languages read. The codec knows nothing of transports:
//! no broker, no HTTP; a registry client plugs its ids in through
//! [`SchemaCatalog::assign_id`].
//!
//! [`registry`] is the schema registry port, [`SchemaRegistry`], with the built-in
//! registry ([`LocalRegistry`], durable in a data directory) and a Confluent Schema
//! Registry REST client ([`HttpRegistry`]); it is the only module here that does I/O.
//!
//! Typed events are written and read directly in Avro binary (no intermediate
//! `apache_avro::types::Value`; [`encode_banking_into`] appends to a reused buffer without
//! allocating); apache-avro parses the schemas, serves [`decode_value`] and
//! [`render_json`], and is the reference the tests hold those bytes to.
//!
//! ```
//! use edalab_domain::events::{BankingEvent, banking::samples};
//! use edalab_schema::{SchemaCatalog, decode_banking, encode_banking};
//!
//! let catalog = SchemaCatalog::builtin()?;
//! let event = BankingEvent::from(samples::account_opened());
//! let bytes = encode_banking(&catalog, &event)?;
//! assert_eq!(bytes[0], 0x00); // Confluent magic byte
//! let back = decode_banking(&catalog, event.topic(), &bytes)?;
//! assert_eq!(back, event);
//! # Ok::<(), edalab_schema::WireError>(())
//! ```
//!
//! See `docs/adr/003-wire-format.md` for why the bytes look the way they do.

mod binary;
pub mod catalog;
pub mod codec;
pub mod decimal;
pub mod display;
pub mod embedded;
pub mod error;
pub mod json;
pub mod registry;
mod resolution;
pub mod wire;

pub use catalog::{SchemaCatalog, SchemaId};
pub use codec::{
    AvroEvent, decode, decode_banking, decode_body, decode_value, encode, encode_banking,
    encode_banking_into, encode_body, encode_into,
};
pub use display::{DisplayDecoder, DisplayValue, decode_for_display};
pub use embedded::EventSchema;
pub use error::WireError;
pub use json::{avro_to_json, render_json};
pub use registry::{
    Compatibility, HttpRegistry, HttpRegistryConfig, LocalRegistry, RegisteredSchema,
    RegistryError, SchemaRegistry, Version,
};
