//! Encoding and decoding between the domain event types and Avro, framed in the Confluent
//! wire format.
//!
//! The mapping is written by hand, one [`AvroEvent`] impl per event type, twice:
//!
//! - **the fast path** ([`AvroEvent::write_body`], [`AvroEvent::read_body`]), which every
//!   typed entry point uses ([`encode`], [`encode_into`], [`encode_banking`],
//!   [`encode_banking_into`], [`decode`], [`decode_banking`]): the fields go straight to and
//!   from Avro binary through the `binary` module, with no intermediate value and, when
//!   encoding into a reused buffer, no allocation;
//! - **the reference** ([`AvroEvent::to_avro`], [`AvroEvent::from_avro`]) against
//!   `apache_avro::types::Value` records, which the tests hold the fast path to
//!   byte-for-byte, and which [`decode_value`] and [`crate::render_json`] serve to readers
//!   without a Rust type.
//!
//! Both write decimals as [`crate::decimal`] bytes at scale 2, timestamps as
//! `timestamp-millis` longs, enums by index, `metadata` as the union `["null",
//! map<string>]`. The fast path writes map entries in key order, so the same event always
//! gives the same bytes (the reference goes through a `HashMap` and does not). Decoding
//! reads the body field by field, so a truncated or corrupt body fails with the name of the
//! field it broke in.

use std::collections::BTreeMap;
use std::collections::HashMap;

use apache_avro::types::Value;
use apache_avro::{Schema, from_avro_datum};
use chrono::{DateTime, Utc};
use edalab_domain::events::banking::{
    AccountClosed, AccountOpened, AccountType, BankingEvent, BankingEventKind, Channel,
    DepositMade, Metadata, OperationRejected, PremiumPaid, RejectionCode, TransferIssued,
    TransferReceived, TransferStatus, WithdrawalMade,
};
use edalab_domain::events::saga::{
    AuthorizedStatus, CreatedStatus, OrderCreated, PaymentAuthorized, PaymentRejected,
    RejectedStatus,
};
use edalab_domain::events::transactions::{ProcessedStatus, TransactionProcessed};
use rust_decimal::Decimal;
use uuid::Uuid;

use crate::binary::{BodyReader, BodyWriter, metadata_len};
use crate::catalog::{SchemaCatalog, SchemaId};
use crate::decimal::{self, MONEY_PRECISION, MONEY_SCALE};
use crate::embedded::EventSchema;
use crate::error::WireError;
use crate::wire;

/// A domain event type with an Avro schema and a hand-written mapping to it, written
/// twice: directly to and from Avro binary (what the typed entry points use), and through
/// `apache_avro::types::Value` (the reference the tests compare against).
pub trait AvroEvent: Sized {
    /// The schema the event is written with.
    const SCHEMA: EventSchema;

    /// The event as an Avro record value of [`Self::SCHEMA`] (the reference mapping).
    fn to_avro(&self) -> Result<Value, WireError>;

    /// The event from a record value of [`Self::SCHEMA`] (as [`decode_body`] gives it).
    fn from_avro(value: Value) -> Result<Self, WireError>;

    /// Appends the Avro binary body of the event (no header) to `out`: the bytes
    /// `apache_avro::to_avro_datum` writes for [`Self::to_avro`], except that map entries
    /// come in key order. On error `out` may hold part of the body: the framing entry
    /// points cut it off again.
    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError>;

    /// The event from the Avro binary body `body` (no header), which it must span exactly.
    /// Errors name the record and field, like [`decode_body`]'s.
    fn read_body(body: &[u8]) -> Result<Self, WireError>;
}

// --- framing entry points --------------------------------------------------------------

/// The Avro binary body of `event` (no header).
///
/// `catalog` is not needed by the direct writer; it stays in the signature so that callers
/// do not depend on how the body is produced.
pub fn encode_body<E: AvroEvent>(
    _catalog: &SchemaCatalog,
    event: &E,
) -> Result<Vec<u8>, WireError> {
    let mut body = Vec::new();
    event.write_body(&mut body)?;
    Ok(body)
}

/// `event` in the Confluent wire format, framed with its schema's id in `catalog`.
pub fn encode<E: AvroEvent>(catalog: &SchemaCatalog, event: &E) -> Result<Vec<u8>, WireError> {
    let mut bytes = Vec::new();
    encode_into(catalog, event, &mut bytes)?;
    Ok(bytes)
}

/// Appends `event` in the Confluent wire format (header and body) to `out`, allocating
/// nothing when `out` has room. On error `out` is left as it was.
pub fn encode_into<E: AvroEvent>(
    catalog: &SchemaCatalog,
    event: &E,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    let start = out.len();
    wire::write_header(catalog.id_of(E::SCHEMA), out);
    event.write_body(out).inspect_err(|_| out.truncate(start))
}

/// Decodes a Confluent-framed `E`, checking the header's schema id is `E`'s: the id the
/// catalog frames `E` with (read directly), or a version of `E`'s record the catalog
/// learned ([`SchemaCatalog::learn`], read by Avro schema resolution).
pub fn decode<E: AvroEvent>(catalog: &SchemaCatalog, bytes: &[u8]) -> Result<E, WireError> {
    let (id, body) = wire::unframe(bytes)?;
    if id == catalog.id_of(E::SCHEMA) {
        return E::read_body(body);
    }
    let found = catalog.resolve(id)?;
    if found != E::SCHEMA {
        return Err(WireError::SchemaMismatch {
            id,
            expected: E::SCHEMA.record_name(),
            found: found.record_name(),
        });
    }
    E::from_avro(decode_resolved(catalog, id, body)?)
}

/// Decodes a Confluent-framed message into the generic Avro value of whichever schema its
/// header names (for `tail`, the DLQ browser, and any reader without a Rust type); a
/// learned version comes resolved to the catalog's schema.
pub fn decode_value(
    catalog: &SchemaCatalog,
    bytes: &[u8],
) -> Result<(EventSchema, Value), WireError> {
    let (id, body) = wire::unframe(bytes)?;
    let schema = catalog.resolve(id)?;
    if id == catalog.id_of(schema) {
        return Ok((schema, decode_body(catalog, schema, body)?));
    }
    Ok((schema, decode_resolved(catalog, id, body)?))
}

/// Reads a body written with the writer schema learned for `id` and resolves it to the
/// catalog's schema of the same record; refuses trailing bytes.
fn decode_resolved(catalog: &SchemaCatalog, id: SchemaId, body: &[u8]) -> Result<Value, WireError> {
    let (schema, resolution) = catalog.writer(id)?;
    let record = schema.record_name();
    bound_avro_allocations();
    let mut reader = body;
    let value = resolution
        .read(&mut reader, catalog.schema(schema))
        .map_err(|source| WireError::AvroDecode {
            record,
            field: format!("(written with schema id {id})"),
            source,
        })?;
    if !reader.is_empty() {
        return Err(WireError::TrailingBytes {
            record,
            len: reader.len(),
        });
    }
    Ok(value)
}

/// The largest single allocation apache-avro may make while reading (its default is 512 MiB
/// per length or count, and an array count is then multiplied by the size of a `Value`: a
/// 40-byte message asked for 43 GB and aborted the process — found by the `avro_decode` fuzz
/// target). Our messages are far below this bound.
pub const AVRO_ALLOCATION_BYTES_MAX: usize = 1024 * 1024;

/// Bounds apache-avro's allocations; call before any generic Avro read. The limit is
/// process-wide and set once (apache-avro keeps the first value).
pub fn bound_avro_allocations() {
    apache_avro::max_allocation_bytes(AVRO_ALLOCATION_BYTES_MAX);
}

/// Reads an Avro binary body written with `schema`, one record field at a time, so that a
/// failure names its field; refuses trailing bytes.
pub fn decode_body(
    catalog: &SchemaCatalog,
    schema: EventSchema,
    body: &[u8],
) -> Result<Value, WireError> {
    let record = schema.record_name();
    let Schema::Record(record_schema) = catalog.schema(schema) else {
        return Err(WireError::field(record, "", "schema is not a record"));
    };
    bound_avro_allocations();
    let mut reader = body;
    let mut fields = Vec::with_capacity(record_schema.fields.len());
    for field in &record_schema.fields {
        let value = from_avro_datum(&field.schema, &mut reader, None).map_err(|source| {
            WireError::AvroDecode {
                record,
                field: field.name.clone(),
                source: Box::new(source),
            }
        })?;
        fields.push((field.name.clone(), value));
    }
    if !reader.is_empty() {
        return Err(WireError::TrailingBytes {
            record,
            len: reader.len(),
        });
    }
    Ok(Value::Record(fields))
}

/// A banking event in the Confluent wire format, with its kind's schema.
pub fn encode_banking(catalog: &SchemaCatalog, event: &BankingEvent) -> Result<Vec<u8>, WireError> {
    let mut bytes = Vec::new();
    encode_banking_into(catalog, event, &mut bytes)?;
    Ok(bytes)
}

/// Appends a banking event in the Confluent wire format to `out` ([`encode_into`] for
/// its kind's type): what a producer loop calls with one buffer it clears and reuses.
pub fn encode_banking_into(
    catalog: &SchemaCatalog,
    event: &BankingEvent,
    out: &mut Vec<u8>,
) -> Result<(), WireError> {
    match event {
        BankingEvent::AccountOpened(e) => encode_into(catalog, e, out),
        BankingEvent::AccountClosed(e) => encode_into(catalog, e, out),
        BankingEvent::DepositMade(e) => encode_into(catalog, e, out),
        BankingEvent::WithdrawalMade(e) => encode_into(catalog, e, out),
        BankingEvent::TransferIssued(e) => encode_into(catalog, e, out),
        BankingEvent::TransferReceived(e) => encode_into(catalog, e, out),
        BankingEvent::PremiumPaid(e) => encode_into(catalog, e, out),
        BankingEvent::OperationRejected(e) => encode_into(catalog, e, out),
    }
}

/// Decodes the bytes of a message read from banking `topic`. Fails with
/// [`WireError::UnknownTopic`] for a topic without a banking schema, and with
/// [`WireError::SchemaMismatch`] when the header's schema is not the topic's.
pub fn decode_banking(
    catalog: &SchemaCatalog,
    topic: &str,
    bytes: &[u8],
) -> Result<BankingEvent, WireError> {
    let kind = BankingEventKind::from_topic(topic)
        .ok_or_else(|| WireError::UnknownTopic(topic.to_owned()))?;
    Ok(match kind {
        BankingEventKind::AccountOpened => BankingEvent::AccountOpened(decode(catalog, bytes)?),
        BankingEventKind::AccountClosed => BankingEvent::AccountClosed(decode(catalog, bytes)?),
        BankingEventKind::DepositMade => BankingEvent::DepositMade(decode(catalog, bytes)?),
        BankingEventKind::WithdrawalMade => BankingEvent::WithdrawalMade(decode(catalog, bytes)?),
        BankingEventKind::TransferIssued => BankingEvent::TransferIssued(decode(catalog, bytes)?),
        BankingEventKind::TransferReceived => {
            BankingEvent::TransferReceived(decode(catalog, bytes)?)
        }
        BankingEventKind::PremiumPaid => BankingEvent::PremiumPaid(decode(catalog, bytes)?),
        BankingEventKind::OperationRejected => {
            BankingEvent::OperationRejected(decode(catalog, bytes)?)
        }
    })
}

// --- value building and reading --------------------------------------------------------

/// A domain wire enum that maps to an Avro enum with the same symbols in the same order.
pub(crate) trait Symbol: Copy + PartialEq + 'static {
    fn all() -> &'static [Self];
    fn symbol(self) -> &'static str;
    fn from_symbol(symbol: &str) -> Option<Self>;
}

macro_rules! symbols {
    ($($ty:ty),+ $(,)?) => {
        $(
            impl Symbol for $ty {
                fn all() -> &'static [Self] {
                    <$ty>::ALL
                }
                fn symbol(self) -> &'static str {
                    self.as_str()
                }
                fn from_symbol(symbol: &str) -> Option<Self> {
                    <$ty>::from_wire(symbol)
                }
            }
        )+
    };
}

symbols!(
    AccountType,
    Channel,
    TransferStatus,
    RejectionCode,
    ProcessedStatus,
    CreatedStatus,
    AuthorizedStatus,
    RejectedStatus,
);

/// Builds a record value field by field, in schema order.
struct RecordBuilder {
    record: &'static str,
    fields: Vec<(String, Value)>,
}

impl RecordBuilder {
    fn new(schema: EventSchema) -> Self {
        Self {
            record: schema.record_name(),
            fields: Vec::with_capacity(10),
        }
    }

    fn put(mut self, name: &str, value: Value) -> Self {
        self.fields.push((name.to_owned(), value));
        self
    }

    fn string(self, name: &str, value: &str) -> Self {
        self.put(name, Value::String(value.to_owned()))
    }

    fn uuid(self, name: &str, value: Uuid) -> Self {
        self.put(name, Value::String(value.hyphenated().to_string()))
    }

    fn timestamp(self, name: &str, at: DateTime<Utc>) -> Self {
        self.put(name, Value::TimestampMillis(at.timestamp_millis()))
    }

    fn money(self, name: &str, value: Decimal) -> Result<Self, WireError> {
        let bytes = decimal::encode(value, MONEY_PRECISION, MONEY_SCALE).map_err(|source| {
            WireError::Decimal {
                record: self.record,
                field: name.to_owned(),
                source,
            }
        })?;
        Ok(self.put(name, Value::Decimal(apache_avro::Decimal::from(bytes))))
    }

    fn symbol<T: Symbol>(self, name: &str, value: T) -> Self {
        // Position in the domain's declaration order, which the schema tests prove equal
        // to the .avsc symbol order.
        let index = T::all()
            .iter()
            .position(|v| *v == value)
            .unwrap_or_default();
        let index = u32::try_from(index).unwrap_or_default();
        self.put(name, Value::Enum(index, value.symbol().to_owned()))
    }

    fn optional_string(self, name: &str, value: Option<String>) -> Self {
        let union = match value {
            None => Value::Union(0, Box::new(Value::Null)),
            Some(text) => Value::Union(1, Box::new(Value::String(text))),
        };
        self.put(name, union)
    }

    fn metadata(self, name: &str, value: Option<&Metadata>) -> Self {
        let union = match value {
            None => Value::Union(0, Box::new(Value::Null)),
            Some(map) => {
                let map: HashMap<String, Value> = map
                    .iter()
                    .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                    .collect();
                Value::Union(1, Box::new(Value::Map(map)))
            }
        };
        self.put(name, union)
    }

    fn string_array(self, name: &str, values: &[String]) -> Self {
        let items = values.iter().map(|v| Value::String(v.clone())).collect();
        self.put(name, Value::Array(items))
    }

    fn build(self) -> Value {
        Value::Record(self.fields)
    }
}

/// Takes typed fields out of a decoded record value, with errors naming the field.
struct RecordReader {
    record: &'static str,
    fields: Vec<(String, Value)>,
}

impl RecordReader {
    fn new(schema: EventSchema, value: Value) -> Result<Self, WireError> {
        let record = schema.record_name();
        match value {
            Value::Record(fields) => Ok(Self { record, fields }),
            other => Err(WireError::field(
                record,
                "",
                format!("expected a record, got {other:?}"),
            )),
        }
    }

    fn error(&self, name: &str, reason: impl Into<String>) -> WireError {
        WireError::field(self.record, name, reason)
    }

    fn take(&mut self, name: &str) -> Result<Value, WireError> {
        match self.fields.iter().position(|(n, _)| n == name) {
            Some(index) => Ok(self.fields.swap_remove(index).1),
            None => Err(self.error(name, "missing field")),
        }
    }

    fn string(&mut self, name: &str) -> Result<String, WireError> {
        match self.take(name)? {
            Value::String(text) => Ok(text),
            other => Err(self.error(name, format!("expected a string, got {other:?}"))),
        }
    }

    fn uuid(&mut self, name: &str) -> Result<Uuid, WireError> {
        let text = self.string(name)?;
        Uuid::parse_str(&text).map_err(|e| self.error(name, format!("{text:?} is not a UUID: {e}")))
    }

    fn timestamp(&mut self, name: &str) -> Result<DateTime<Utc>, WireError> {
        let millis = match self.take(name)? {
            Value::TimestampMillis(ms) | Value::Long(ms) => ms,
            other => {
                return Err(self.error(name, format!("expected timestamp-millis, got {other:?}")));
            }
        };
        DateTime::from_timestamp_millis(millis)
            .ok_or_else(|| self.error(name, format!("timestamp {millis} ms is out of range")))
    }

    fn money(&mut self, name: &str) -> Result<Decimal, WireError> {
        let bytes = match self.take(name)? {
            Value::Decimal(d) => decimal::avro_decimal_bytes(&d)
                .map_err(|e| self.error(name, format!("unreadable decimal: {e}")))?,
            Value::Bytes(bytes) => bytes,
            other => return Err(self.error(name, format!("expected a decimal, got {other:?}"))),
        };
        decimal::decode(&bytes, MONEY_PRECISION, MONEY_SCALE).map_err(|source| WireError::Decimal {
            record: self.record,
            field: name.to_owned(),
            source,
        })
    }

    fn symbol<T: Symbol>(&mut self, name: &str) -> Result<T, WireError> {
        match self.take(name)? {
            Value::Enum(_, symbol) | Value::String(symbol) => T::from_symbol(&symbol)
                .ok_or_else(|| self.error(name, format!("unknown symbol {symbol:?}"))),
            other => Err(self.error(name, format!("expected an enum, got {other:?}"))),
        }
    }

    fn nullable(&mut self, name: &str) -> Result<Option<Value>, WireError> {
        match self.take(name)? {
            Value::Union(_, inner) => match *inner {
                Value::Null => Ok(None),
                value => Ok(Some(value)),
            },
            Value::Null => Ok(None),
            other => Ok(Some(other)),
        }
    }

    fn optional_string(&mut self, name: &str) -> Result<Option<String>, WireError> {
        match self.nullable(name)? {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => {
                Err(self.error(name, format!("expected null or a string, got {other:?}")))
            }
        }
    }

    fn optional_uuid(&mut self, name: &str) -> Result<Option<Uuid>, WireError> {
        self.optional_string(name)?
            .map(|text| {
                Uuid::parse_str(&text)
                    .map_err(|e| self.error(name, format!("{text:?} is not a UUID: {e}")))
            })
            .transpose()
    }

    fn metadata(&mut self, name: &str) -> Result<Option<Metadata>, WireError> {
        match self.nullable(name)? {
            None => Ok(None),
            Some(Value::Map(map)) => {
                let mut out = BTreeMap::new();
                for (key, value) in map {
                    match value {
                        Value::String(text) => {
                            out.insert(key, text);
                        }
                        other => {
                            return Err(self.error(
                                name,
                                format!("value of {key:?} is not a string: {other:?}"),
                            ));
                        }
                    }
                }
                Ok(Some(out))
            }
            Some(other) => Err(self.error(name, format!("expected null or a map, got {other:?}"))),
        }
    }

    fn string_array(&mut self, name: &str) -> Result<Vec<String>, WireError> {
        match self.take(name)? {
            Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    Value::String(text) => Ok(text),
                    other => Err(self.error(name, format!("expected strings, got {other:?}"))),
                })
                .collect(),
            other => Err(self.error(name, format!("expected an array, got {other:?}"))),
        }
    }
}

// --- banking events (schemas/bancaire) -------------------------------------------------

impl AvroEvent for AccountOpened {
    const SCHEMA: EventSchema = EventSchema::AccountOpened;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .uuid("event_id", self.event_id)
            .timestamp("timestamp", self.timestamp)
            .string("compte_id", &self.account_id)
            .string("client_id", &self.client_id)
            .symbol("type_compte", self.account_type)
            .string("devise", &self.currency)
            .money("solde_initial", self.initial_balance)?
            .metadata("metadata", self.metadata.as_ref())
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            account_id: r.string("compte_id")?,
            client_id: r.string("client_id")?,
            account_type: r.symbol("type_compte")?,
            currency: r.string("devise")?,
            initial_balance: r.money("solde_initial")?,
            metadata: r.metadata("metadata")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.account_id.len()
            + self.client_id.len()
            + self.currency.len()
            + metadata_len(self.metadata.as_ref());
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .uuid(self.event_id)
            .timestamp(self.timestamp)
            .string(&self.account_id)
            .string(&self.client_id)
            .symbol(self.account_type)
            .string(&self.currency)
            .money("solde_initial", self.initial_balance)?
            .metadata(self.metadata.as_ref());
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            account_id: r.string("compte_id")?,
            client_id: r.string("client_id")?,
            account_type: r.symbol("type_compte")?,
            currency: r.string("devise")?,
            initial_balance: r.money("solde_initial")?,
            metadata: r.metadata("metadata")?,
        };
        r.finish()?;
        Ok(event)
    }
}

impl AvroEvent for AccountClosed {
    const SCHEMA: EventSchema = EventSchema::AccountClosed;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .uuid("event_id", self.event_id)
            .timestamp("timestamp", self.timestamp)
            .string("compte_id", &self.account_id)
            .string("client_id", &self.client_id)
            .string("motif", &self.reason)
            .metadata("metadata", self.metadata.as_ref())
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            account_id: r.string("compte_id")?,
            client_id: r.string("client_id")?,
            reason: r.string("motif")?,
            metadata: r.metadata("metadata")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.account_id.len()
            + self.client_id.len()
            + self.reason.len()
            + metadata_len(self.metadata.as_ref());
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .uuid(self.event_id)
            .timestamp(self.timestamp)
            .string(&self.account_id)
            .string(&self.client_id)
            .string(&self.reason)
            .metadata(self.metadata.as_ref());
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            account_id: r.string("compte_id")?,
            client_id: r.string("client_id")?,
            reason: r.string("motif")?,
            metadata: r.metadata("metadata")?,
        };
        r.finish()?;
        Ok(event)
    }
}

impl AvroEvent for DepositMade {
    const SCHEMA: EventSchema = EventSchema::DepositMade;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .uuid("event_id", self.event_id)
            .timestamp("timestamp", self.timestamp)
            .string("compte_id", &self.account_id)
            .money("montant", self.amount)?
            .string("devise", &self.currency)
            .string("reference", &self.reference)
            .symbol("canal", self.channel)
            .metadata("metadata", self.metadata.as_ref())
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            account_id: r.string("compte_id")?,
            amount: r.money("montant")?,
            currency: r.string("devise")?,
            reference: r.string("reference")?,
            channel: r.symbol("canal")?,
            metadata: r.metadata("metadata")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.account_id.len()
            + self.currency.len()
            + self.reference.len()
            + metadata_len(self.metadata.as_ref());
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .uuid(self.event_id)
            .timestamp(self.timestamp)
            .string(&self.account_id)
            .money("montant", self.amount)?
            .string(&self.currency)
            .string(&self.reference)
            .symbol(self.channel)
            .metadata(self.metadata.as_ref());
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            account_id: r.string("compte_id")?,
            amount: r.money("montant")?,
            currency: r.string("devise")?,
            reference: r.string("reference")?,
            channel: r.symbol("canal")?,
            metadata: r.metadata("metadata")?,
        };
        r.finish()?;
        Ok(event)
    }
}

impl AvroEvent for WithdrawalMade {
    const SCHEMA: EventSchema = EventSchema::WithdrawalMade;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .uuid("event_id", self.event_id)
            .timestamp("timestamp", self.timestamp)
            .string("compte_id", &self.account_id)
            .money("montant", self.amount)?
            .string("devise", &self.currency)
            .string("reference", &self.reference)
            .symbol("canal", self.channel)
            .metadata("metadata", self.metadata.as_ref())
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            account_id: r.string("compte_id")?,
            amount: r.money("montant")?,
            currency: r.string("devise")?,
            reference: r.string("reference")?,
            channel: r.symbol("canal")?,
            metadata: r.metadata("metadata")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.account_id.len()
            + self.currency.len()
            + self.reference.len()
            + metadata_len(self.metadata.as_ref());
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .uuid(self.event_id)
            .timestamp(self.timestamp)
            .string(&self.account_id)
            .money("montant", self.amount)?
            .string(&self.currency)
            .string(&self.reference)
            .symbol(self.channel)
            .metadata(self.metadata.as_ref());
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            account_id: r.string("compte_id")?,
            amount: r.money("montant")?,
            currency: r.string("devise")?,
            reference: r.string("reference")?,
            channel: r.symbol("canal")?,
            metadata: r.metadata("metadata")?,
        };
        r.finish()?;
        Ok(event)
    }
}

impl AvroEvent for TransferIssued {
    const SCHEMA: EventSchema = EventSchema::TransferIssued;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .uuid("event_id", self.event_id)
            .timestamp("timestamp", self.timestamp)
            .string("compte_source_id", &self.source_account_id)
            .string("compte_destination_id", &self.destination_account_id)
            .money("montant", self.amount)?
            .string("devise", &self.currency)
            .string("motif", &self.label)
            .string("reference", &self.reference)
            .symbol("statut", self.status)
            .metadata("metadata", self.metadata.as_ref())
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            source_account_id: r.string("compte_source_id")?,
            destination_account_id: r.string("compte_destination_id")?,
            amount: r.money("montant")?,
            currency: r.string("devise")?,
            label: r.string("motif")?,
            reference: r.string("reference")?,
            status: r.symbol("statut")?,
            metadata: r.metadata("metadata")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.source_account_id.len()
            + self.destination_account_id.len()
            + self.currency.len()
            + self.label.len()
            + self.reference.len()
            + metadata_len(self.metadata.as_ref());
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .uuid(self.event_id)
            .timestamp(self.timestamp)
            .string(&self.source_account_id)
            .string(&self.destination_account_id)
            .money("montant", self.amount)?
            .string(&self.currency)
            .string(&self.label)
            .string(&self.reference)
            .symbol(self.status)
            .metadata(self.metadata.as_ref());
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            source_account_id: r.string("compte_source_id")?,
            destination_account_id: r.string("compte_destination_id")?,
            amount: r.money("montant")?,
            currency: r.string("devise")?,
            label: r.string("motif")?,
            reference: r.string("reference")?,
            status: r.symbol("statut")?,
            metadata: r.metadata("metadata")?,
        };
        r.finish()?;
        Ok(event)
    }
}

impl AvroEvent for TransferReceived {
    const SCHEMA: EventSchema = EventSchema::TransferReceived;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .uuid("event_id", self.event_id)
            .timestamp("timestamp", self.timestamp)
            .string("compte_destination_id", &self.destination_account_id)
            .string("compte_source_id", &self.source_account_id)
            .money("montant", self.amount)?
            .string("devise", &self.currency)
            .string("motif", &self.label)
            .string("reference", &self.reference)
            .optional_string(
                "virement_emis_event_id",
                self.issued_event_id.map(|id| id.hyphenated().to_string()),
            )
            .metadata("metadata", self.metadata.as_ref())
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            destination_account_id: r.string("compte_destination_id")?,
            source_account_id: r.string("compte_source_id")?,
            amount: r.money("montant")?,
            currency: r.string("devise")?,
            label: r.string("motif")?,
            reference: r.string("reference")?,
            issued_event_id: r.optional_uuid("virement_emis_event_id")?,
            metadata: r.metadata("metadata")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.destination_account_id.len()
            + self.source_account_id.len()
            + self.currency.len()
            + self.label.len()
            + self.reference.len()
            + metadata_len(self.metadata.as_ref());
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .uuid(self.event_id)
            .timestamp(self.timestamp)
            .string(&self.destination_account_id)
            .string(&self.source_account_id)
            .money("montant", self.amount)?
            .string(&self.currency)
            .string(&self.label)
            .string(&self.reference)
            .optional_uuid(self.issued_event_id)
            .metadata(self.metadata.as_ref());
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            destination_account_id: r.string("compte_destination_id")?,
            source_account_id: r.string("compte_source_id")?,
            amount: r.money("montant")?,
            currency: r.string("devise")?,
            label: r.string("motif")?,
            reference: r.string("reference")?,
            issued_event_id: r.optional_uuid("virement_emis_event_id")?,
            metadata: r.metadata("metadata")?,
        };
        r.finish()?;
        Ok(event)
    }
}

impl AvroEvent for PremiumPaid {
    const SCHEMA: EventSchema = EventSchema::PremiumPaid;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .uuid("event_id", self.event_id)
            .timestamp("timestamp", self.timestamp)
            .string("compte_id", &self.account_id)
            .string("contrat_id", &self.contract_id)
            .money("montant", self.amount)?
            .string("devise", &self.currency)
            .string("reference", &self.reference)
            .metadata("metadata", self.metadata.as_ref())
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            account_id: r.string("compte_id")?,
            contract_id: r.string("contrat_id")?,
            amount: r.money("montant")?,
            currency: r.string("devise")?,
            reference: r.string("reference")?,
            metadata: r.metadata("metadata")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.account_id.len()
            + self.contract_id.len()
            + self.currency.len()
            + self.reference.len()
            + metadata_len(self.metadata.as_ref());
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .uuid(self.event_id)
            .timestamp(self.timestamp)
            .string(&self.account_id)
            .string(&self.contract_id)
            .money("montant", self.amount)?
            .string(&self.currency)
            .string(&self.reference)
            .metadata(self.metadata.as_ref());
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            account_id: r.string("compte_id")?,
            contract_id: r.string("contrat_id")?,
            amount: r.money("montant")?,
            currency: r.string("devise")?,
            reference: r.string("reference")?,
            metadata: r.metadata("metadata")?,
        };
        r.finish()?;
        Ok(event)
    }
}

impl AvroEvent for OperationRejected {
    const SCHEMA: EventSchema = EventSchema::OperationRejected;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .uuid("event_id", self.event_id)
            .timestamp("timestamp", self.timestamp)
            .uuid("event_id_origine", self.original_event_id)
            .string("type_evenement", &self.original_event_type)
            .string("compte_id", &self.account_id)
            .symbol("code_raison", self.reason_code)
            .string("message", &self.message)
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            original_event_id: r.uuid("event_id_origine")?,
            original_event_type: r.string("type_evenement")?,
            account_id: r.string("compte_id")?,
            reason_code: r.symbol("code_raison")?,
            message: r.string("message")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.original_event_type.len() + self.account_id.len() + self.message.len();
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .uuid(self.event_id)
            .timestamp(self.timestamp)
            .uuid(self.original_event_id)
            .string(&self.original_event_type)
            .string(&self.account_id)
            .symbol(self.reason_code)
            .string(&self.message);
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            event_id: r.uuid("event_id")?,
            timestamp: r.timestamp("timestamp")?,
            original_event_id: r.uuid("event_id_origine")?,
            original_event_type: r.string("type_evenement")?,
            account_id: r.string("compte_id")?,
            reason_code: r.symbol("code_raison")?,
            message: r.string("message")?,
        };
        r.finish()?;
        Ok(event)
    }
}

// --- S0 and S4 events (schemas/transactions, schemas/orders) ---------------------------

impl AvroEvent for TransactionProcessed {
    const SCHEMA: EventSchema = EventSchema::TransactionProcessed;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .string("transactionId", &self.transaction_id)
            .money("amount", self.amount)?
            .string("currency", &self.currency)
            .string("accountFrom", &self.account_from)
            .string("accountTo", &self.account_to)
            .timestamp("timestamp", self.timestamp)
            .symbol("status", self.status)
            .timestamp("processedAt", self.processed_at)
            .string("processorId", &self.processor_id)
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            transaction_id: r.string("transactionId")?,
            amount: r.money("amount")?,
            currency: r.string("currency")?,
            account_from: r.string("accountFrom")?,
            account_to: r.string("accountTo")?,
            timestamp: r.timestamp("timestamp")?,
            status: r.symbol("status")?,
            processed_at: r.timestamp("processedAt")?,
            processor_id: r.string("processorId")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.transaction_id.len()
            + self.currency.len()
            + self.account_from.len()
            + self.account_to.len()
            + self.processor_id.len();
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .string(&self.transaction_id)
            .money("amount", self.amount)?
            .string(&self.currency)
            .string(&self.account_from)
            .string(&self.account_to)
            .timestamp(self.timestamp)
            .symbol(self.status)
            .timestamp(self.processed_at)
            .string(&self.processor_id);
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            transaction_id: r.string("transactionId")?,
            amount: r.money("amount")?,
            currency: r.string("currency")?,
            account_from: r.string("accountFrom")?,
            account_to: r.string("accountTo")?,
            timestamp: r.timestamp("timestamp")?,
            status: r.symbol("status")?,
            processed_at: r.timestamp("processedAt")?,
            processor_id: r.string("processorId")?,
        };
        r.finish()?;
        Ok(event)
    }
}

impl AvroEvent for OrderCreated {
    const SCHEMA: EventSchema = EventSchema::OrderCreated;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .string("eventId", &self.event_id)
            .string("orderId", &self.order_id)
            .string("userId", &self.user_id)
            .money("amount", self.amount)?
            .string_array("items", &self.items)
            .symbol("status", self.status)
            .timestamp("createdAt", self.created_at)
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            event_id: r.string("eventId")?,
            order_id: r.string("orderId")?,
            user_id: r.string("userId")?,
            amount: r.money("amount")?,
            items: r.string_array("items")?,
            status: r.symbol("status")?,
            created_at: r.timestamp("createdAt")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.event_id.len()
            + self.order_id.len()
            + self.user_id.len()
            + self.items.iter().map(|item| item.len() + 10).sum::<usize>();
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .string(&self.event_id)
            .string(&self.order_id)
            .string(&self.user_id)
            .money("amount", self.amount)?
            .string_array(&self.items)
            .symbol(self.status)
            .timestamp(self.created_at);
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            event_id: r.string("eventId")?,
            order_id: r.string("orderId")?,
            user_id: r.string("userId")?,
            amount: r.money("amount")?,
            items: r.string_array("items")?,
            status: r.symbol("status")?,
            created_at: r.timestamp("createdAt")?,
        };
        r.finish()?;
        Ok(event)
    }
}

impl AvroEvent for PaymentAuthorized {
    const SCHEMA: EventSchema = EventSchema::PaymentAuthorized;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .string("eventId", &self.event_id)
            .string("orderId", &self.order_id)
            .string("userId", &self.user_id)
            .money("amount", self.amount)?
            .symbol("status", self.status)
            .string("authorizationCode", &self.authorization_code)
            .timestamp("processedAt", self.processed_at)
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            event_id: r.string("eventId")?,
            order_id: r.string("orderId")?,
            user_id: r.string("userId")?,
            amount: r.money("amount")?,
            status: r.symbol("status")?,
            authorization_code: r.string("authorizationCode")?,
            processed_at: r.timestamp("processedAt")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.event_id.len()
            + self.order_id.len()
            + self.user_id.len()
            + self.authorization_code.len();
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .string(&self.event_id)
            .string(&self.order_id)
            .string(&self.user_id)
            .money("amount", self.amount)?
            .symbol(self.status)
            .string(&self.authorization_code)
            .timestamp(self.processed_at);
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            event_id: r.string("eventId")?,
            order_id: r.string("orderId")?,
            user_id: r.string("userId")?,
            amount: r.money("amount")?,
            status: r.symbol("status")?,
            authorization_code: r.string("authorizationCode")?,
            processed_at: r.timestamp("processedAt")?,
        };
        r.finish()?;
        Ok(event)
    }
}

impl AvroEvent for PaymentRejected {
    const SCHEMA: EventSchema = EventSchema::PaymentRejected;

    fn to_avro(&self) -> Result<Value, WireError> {
        Ok(RecordBuilder::new(Self::SCHEMA)
            .string("eventId", &self.event_id)
            .string("orderId", &self.order_id)
            .string("userId", &self.user_id)
            .money("amount", self.amount)?
            .symbol("status", self.status)
            .string("rejectionReason", &self.rejection_reason)
            .timestamp("processedAt", self.processed_at)
            .build())
    }

    fn from_avro(value: Value) -> Result<Self, WireError> {
        let mut r = RecordReader::new(Self::SCHEMA, value)?;
        Ok(Self {
            event_id: r.string("eventId")?,
            order_id: r.string("orderId")?,
            user_id: r.string("userId")?,
            amount: r.money("amount")?,
            status: r.symbol("status")?,
            rejection_reason: r.string("rejectionReason")?,
            processed_at: r.timestamp("processedAt")?,
        })
    }

    fn write_body(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        let text_len = self.event_id.len()
            + self.order_id.len()
            + self.user_id.len()
            + self.rejection_reason.len();
        BodyWriter::new(Self::SCHEMA.record_name(), out, text_len)
            .string(&self.event_id)
            .string(&self.order_id)
            .string(&self.user_id)
            .money("amount", self.amount)?
            .symbol(self.status)
            .string(&self.rejection_reason)
            .timestamp(self.processed_at);
        Ok(())
    }

    fn read_body(body: &[u8]) -> Result<Self, WireError> {
        let mut r = BodyReader::new(Self::SCHEMA.record_name(), body);
        let event = Self {
            event_id: r.string("eventId")?,
            order_id: r.string("orderId")?,
            user_id: r.string("userId")?,
            amount: r.money("amount")?,
            status: r.symbol("status")?,
            rejection_reason: r.string("rejectionReason")?,
            processed_at: r.timestamp("processedAt")?,
        };
        r.finish()?;
        Ok(event)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Symbols of the Avro enum of `field` in `schema`.
    fn avro_symbols(catalog: &SchemaCatalog, schema: EventSchema, field: &str) -> Vec<String> {
        let Schema::Record(record) = catalog.schema(schema) else {
            panic!("{schema} is not a record")
        };
        let field = record
            .fields
            .iter()
            .find(|f| f.name == field)
            .expect("field");
        match &field.schema {
            Schema::Enum(e) => e.symbols.clone(),
            other => panic!("{schema}.{} is not an enum: {other:?}", field.name),
        }
    }

    fn domain_symbols<T: Symbol>() -> Vec<String> {
        T::all().iter().map(|v| v.symbol().to_owned()).collect()
    }

    #[test]
    fn domain_enums_match_avro_symbol_order() {
        let catalog = SchemaCatalog::builtin().unwrap();
        let cases = [
            (
                EventSchema::AccountOpened,
                "type_compte",
                domain_symbols::<AccountType>(),
            ),
            (
                EventSchema::DepositMade,
                "canal",
                domain_symbols::<Channel>(),
            ),
            (
                EventSchema::WithdrawalMade,
                "canal",
                domain_symbols::<Channel>(),
            ),
            (
                EventSchema::TransferIssued,
                "statut",
                domain_symbols::<TransferStatus>(),
            ),
            (
                EventSchema::OperationRejected,
                "code_raison",
                domain_symbols::<RejectionCode>(),
            ),
            (
                EventSchema::TransactionProcessed,
                "status",
                domain_symbols::<ProcessedStatus>(),
            ),
            (
                EventSchema::OrderCreated,
                "status",
                domain_symbols::<CreatedStatus>(),
            ),
            (
                EventSchema::PaymentAuthorized,
                "status",
                domain_symbols::<AuthorizedStatus>(),
            ),
            (
                EventSchema::PaymentRejected,
                "status",
                domain_symbols::<RejectedStatus>(),
            ),
        ];
        for (schema, field, symbols) in cases {
            assert_eq!(
                avro_symbols(&catalog, schema, field),
                symbols,
                "{schema}.{field}"
            );
        }
    }
}
