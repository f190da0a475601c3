//! The Avro decoders of `edalab-schema` on arbitrary bytes, for each of the twelve built-in
//! records: the Confluent framing (`wire::unframe`), the direct binary reader (`decode`,
//! `decode_banking`: `codec.rs` over `binary.rs`) and apache-avro's generic reader
//! (`decode_value`, `render_json`).
//!
//! Input: byte 0 picks the record; the rest is its Avro body, framed with that record's
//! schema id (and also tried as a whole wire message, header included). Beyond "no panic":
//! what the direct reader accepts, apache-avro reads to the same event, and it encodes and
//! decodes back to itself.
#![no_main]

use std::fmt::Debug;
use std::sync::OnceLock;

use edalab_domain::events::banking::{
    AccountClosed, AccountOpened, DepositMade, OperationRejected, PremiumPaid, TransferIssued,
    TransferReceived, WithdrawalMade,
};
use edalab_domain::events::saga::{OrderCreated, PaymentAuthorized, PaymentRejected};
use edalab_domain::events::transactions::TransactionProcessed;
use edalab_schema::{
    AvroEvent, EventSchema, SchemaCatalog, decode, decode_banking, decode_value, encode,
    render_json, wire,
};
use libfuzzer_sys::fuzz_target;

fn catalog() -> &'static SchemaCatalog {
    static CATALOG: OnceLock<SchemaCatalog> = OnceLock::new();
    CATALOG.get_or_init(|| SchemaCatalog::builtin().expect("the built-in catalog loads"))
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let catalog = catalog();
    // As a whole wire message: any header, any schema id.
    if let Ok((id, _)) = wire::unframe(body) {
        let _ = catalog.resolve(id);
    }
    let _ = render_json(catalog, body);

    let schema = EventSchema::ALL[usize::from(pick) % EventSchema::ALL.len()];
    let framed = wire::frame(catalog.id_of(schema), body);
    let _ = render_json(catalog, &framed);
    if schema.banking_kind().is_some() {
        let _ = decode_banking(catalog, schema.topic(), &framed);
    }
    match schema {
        EventSchema::AccountOpened => agree::<AccountOpened>(&framed),
        EventSchema::AccountClosed => agree::<AccountClosed>(&framed),
        EventSchema::DepositMade => agree::<DepositMade>(&framed),
        EventSchema::WithdrawalMade => agree::<WithdrawalMade>(&framed),
        EventSchema::TransferIssued => agree::<TransferIssued>(&framed),
        EventSchema::TransferReceived => agree::<TransferReceived>(&framed),
        EventSchema::PremiumPaid => agree::<PremiumPaid>(&framed),
        EventSchema::OperationRejected => agree::<OperationRejected>(&framed),
        EventSchema::TransactionProcessed => agree::<TransactionProcessed>(&framed),
        EventSchema::OrderCreated => agree::<OrderCreated>(&framed),
        EventSchema::PaymentAuthorized => agree::<PaymentAuthorized>(&framed),
        EventSchema::PaymentRejected => agree::<PaymentRejected>(&framed),
    }
});

/// Decodes `framed` as `E` with the direct reader; when it succeeds, apache-avro's reader
/// must give the same event, and encoding it again must decode to it.
fn agree<E: AvroEvent + PartialEq + Debug>(framed: &[u8]) {
    let catalog = catalog();
    let reference = decode_value(catalog, framed);
    let Ok(event) = decode::<E>(catalog, framed) else {
        return;
    };
    let (schema, value) = reference.unwrap_or_else(|e| {
        panic!("the direct reader read {event:?}, apache-avro refused the bytes: {e}")
    });
    assert_eq!(schema, E::SCHEMA);
    let from_reference = E::from_avro(value).expect("apache-avro's value maps to the event");
    assert_eq!(from_reference, event, "the two readers disagree");
    let again = encode(catalog, &event).expect("a decoded event encodes");
    assert_eq!(
        decode::<E>(catalog, &again).expect("re-encoded bytes decode"),
        event
    );
}
