//! Round trips through the Confluent wire format for every Avro event, proof that the
//! bytes are standard Avro (read back by a generic reader that only knows the `.avsc`,
//! and compared with hand-computed golden bytes), decimal edge cases and wire errors.

use std::collections::BTreeSet;
use std::path::Path;

use apache_avro::types::Value;
use apache_avro::{Schema, from_avro_datum, to_avro_datum};
use chrono::{DateTime, TimeZone, Utc};
use edalab_domain::events::banking::{
    self, AccountOpened, AccountType, BankingEvent, Channel, DepositMade, samples,
};
use edalab_domain::events::saga::{
    AuthorizedStatus, CreatedStatus, OrderCreated, PaymentAuthorized, PaymentRejected,
    RejectedStatus,
};
use edalab_domain::events::transactions::{ProcessedStatus, TransactionProcessed};
use edalab_schema::decimal::DecimalError;
use edalab_schema::wire::{frame, unframe};
use edalab_schema::{
    AvroEvent, EventSchema, SchemaCatalog, SchemaId, WireError, decode, decode_banking,
    decode_value, encode, encode_banking, render_json,
};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::json;

fn catalog() -> SchemaCatalog {
    SchemaCatalog::builtin().expect("embedded schemas parse")
}

fn at(millis: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 15, 10, 30, 0)
        .single()
        .expect("date")
        + chrono::Duration::milliseconds(millis)
}

fn round_trip<E>(catalog: &SchemaCatalog, event: &E) -> Vec<u8>
where
    E: AvroEvent + PartialEq + std::fmt::Debug,
{
    let bytes = encode(catalog, event).expect("encode");
    let (id, _) = unframe(&bytes).expect("framed");
    assert_eq!(id, catalog.id_of(E::SCHEMA));
    let back: E = decode(catalog, &bytes).expect("decode");
    assert_eq!(&back, event);
    bytes
}

fn order_created() -> OrderCreated {
    OrderCreated {
        event_id: "01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e30".to_owned(),
        order_id: "order-123".to_owned(),
        user_id: "user-456".to_owned(),
        amount: dec!(99.99),
        items: vec!["Machine à café".to_owned(), "Moulin".to_owned()],
        status: CreatedStatus::Created,
        created_at: at(0),
    }
}

fn payment_authorized() -> PaymentAuthorized {
    PaymentAuthorized {
        event_id: "01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e31".to_owned(),
        order_id: "order-123".to_owned(),
        user_id: "user-456".to_owned(),
        amount: dec!(99.99),
        status: AuthorizedStatus::Authorized,
        authorization_code: "AUTH-1705314601000".to_owned(),
        processed_at: at(1000),
    }
}

fn payment_rejected() -> PaymentRejected {
    PaymentRejected {
        event_id: "01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e32".to_owned(),
        order_id: "order-124".to_owned(),
        user_id: "user-789".to_owned(),
        amount: dec!(150.00),
        status: RejectedStatus::Rejected,
        rejection_reason: "Insufficient funds".to_owned(),
        processed_at: at(2000),
    }
}

fn transaction_processed() -> TransactionProcessed {
    TransactionProcessed {
        transaction_id: "txn-1705314600000-k3j9x2m1q".to_owned(),
        amount: dec!(1234.56),
        currency: "EUR".to_owned(),
        account_from: "FR7630006000011234567890189".to_owned(),
        account_to: "FR1420041010050500013M02606".to_owned(),
        timestamp: at(0),
        status: ProcessedStatus::Processed,
        processed_at: at(870),
        processor_id: "edalab-transactions-processor-1".to_owned(),
    }
}

// --- schemas -----------------------------------------------------------------------------

#[test]
fn every_avsc_parses_and_is_embedded() {
    let catalog = catalog();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let mut on_disk = BTreeSet::new();
    for folder in ["bancaire", "orders", "transactions"] {
        for entry in std::fs::read_dir(root.join("schemas").join(folder)).expect("schemas dir") {
            let path = entry.expect("entry").path();
            if path.extension().is_some_and(|e| e == "avsc") {
                let text = std::fs::read_to_string(&path).expect("read");
                Schema::parse_str(&text)
                    .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()));
                on_disk.insert(format!(
                    "schemas/{folder}/{}",
                    path.file_name().unwrap().to_string_lossy()
                ));
            }
        }
    }
    let embedded: BTreeSet<String> = EventSchema::ALL
        .iter()
        .map(|s| s.path().to_owned())
        .collect();
    assert_eq!(
        on_disk, embedded,
        "every .avsc on disk is embedded, and only those"
    );
    for schema in EventSchema::ALL {
        let on_disk = std::fs::read_to_string(root.join(schema.path())).expect("read");
        assert_eq!(
            schema.source(),
            on_disk,
            "{} is embedded as on disk",
            schema.path()
        );
        let Schema::Record(record) = catalog.schema(schema) else {
            panic!("{schema} is not a record");
        };
        assert_eq!(record.name.name, schema.record_name());
        assert_eq!(record.name.namespace.as_deref(), Some(schema.namespace()));
    }
}

#[test]
fn every_decimal_is_bytes_18_2_and_every_instant_is_timestamp_millis() {
    for schema in EventSchema::ALL {
        let json: serde_json::Value = serde_json::from_str(schema.source()).expect("json");
        for field in json["fields"].as_array().expect("fields") {
            let ty = &field["type"];
            if ty["logicalType"] == "decimal" {
                assert_eq!(
                    ty,
                    &json!({"type": "bytes", "logicalType": "decimal", "precision": 18, "scale": 2}),
                    "{schema}.{}",
                    field["name"]
                );
            }
            let name = field["name"].as_str().expect("name");
            if name == "timestamp" || name.ends_with("At") {
                assert_eq!(
                    ty,
                    &json!({"type": "long", "logicalType": "timestamp-millis"}),
                    "{schema}.{name}"
                );
            }
        }
    }
}

#[test]
fn compte_ouvert_avsc_is_the_seed_schema() {
    let seed = json!({
      "type": "record",
      "name": "CompteOuvert",
      "namespace": "com.edalab.bancaire.events",
      "doc": "Événement émis lors de l'ouverture d'un compte bancaire",
      "fields": [
        {"name": "event_id", "type": "string", "doc": "Identifiant unique de l'événement (UUID)"},
        {"name": "timestamp", "type": {"type": "long", "logicalType": "timestamp-millis"},
         "doc": "Horodatage de l'événement"},
        {"name": "compte_id", "type": "string", "doc": "Identifiant unique du compte"},
        {"name": "client_id", "type": "string", "doc": "Identifiant du client titulaire"},
        {"name": "type_compte", "type": {"type": "enum", "name": "TypeCompte",
         "symbols": ["COURANT", "EPARGNE", "JOINT"]}},
        {"name": "devise", "type": "string", "default": "EUR"},
        {"name": "solde_initial", "type": {"type": "bytes", "logicalType": "decimal",
         "precision": 18, "scale": 2}},
        {"name": "metadata", "type": ["null", {"type": "map", "values": "string"}],
         "default": null}
      ]
    });
    let ours: serde_json::Value =
        serde_json::from_str(EventSchema::AccountOpened.source()).expect("json");
    assert_eq!(ours, seed);

    let Schema::Record(record) = catalog().schema(EventSchema::AccountOpened).clone() else {
        panic!("record");
    };
    let names: Vec<&str> = record.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "event_id",
            "timestamp",
            "compte_id",
            "client_id",
            "type_compte",
            "devise",
            "solde_initial",
            "metadata"
        ]
    );
    assert_eq!(
        EventSchema::AccountOpened.subject(),
        "bancaire.compte.ouvert-value"
    );
}

#[test]
fn subjects_follow_topic_name_strategy() {
    for schema in EventSchema::ALL {
        assert_eq!(schema.subject(), format!("{}-value", schema.topic()));
        assert_eq!(EventSchema::for_topic(schema.topic()), Some(schema));
        assert_eq!(EventSchema::for_subject(&schema.subject()), Some(schema));
    }
    for kind in banking::BankingEventKind::ALL {
        assert_eq!(EventSchema::for_banking(*kind).topic(), kind.topic());
        assert_eq!(
            EventSchema::for_banking(*kind).record_name(),
            kind.event_type()
        );
    }
    assert_eq!(EventSchema::for_topic("system.dlq"), None);
}

// --- round trips ---------------------------------------------------------------------------

#[test]
fn every_banking_event_round_trips_through_the_wire_format() {
    let catalog = catalog();
    for event in samples::all() {
        let bytes = encode_banking(&catalog, &event).expect("encode");
        assert_eq!(bytes[0], 0x00);
        let back = decode_banking(&catalog, event.topic(), &bytes).expect("decode");
        assert_eq!(back, event, "{}", event.event_type());
    }
    round_trip(&catalog, &samples::account_opened());
    round_trip(&catalog, &samples::account_closed());
    round_trip(&catalog, &samples::deposit_made());
    round_trip(&catalog, &samples::withdrawal_made());
    round_trip(&catalog, &samples::transfer_issued());
    round_trip(&catalog, &samples::transfer_received());
    round_trip(&catalog, &samples::premium_paid());
    round_trip(&catalog, &samples::operation_rejected());
}

#[test]
fn saga_and_transaction_events_round_trip_through_the_wire_format() {
    let catalog = catalog();
    round_trip(&catalog, &transaction_processed());
    round_trip(&catalog, &order_created());
    round_trip(&catalog, &payment_authorized());
    round_trip(&catalog, &payment_rejected());
    let empty = OrderCreated {
        items: Vec::new(),
        ..order_created()
    };
    round_trip(&catalog, &empty);
}

#[test]
fn external_registry_ids_are_framed_and_resolved() {
    let mut catalog = catalog();
    catalog
        .assign_id(EventSchema::DepositMade, SchemaId(100_007))
        .expect("assign");
    let bytes = round_trip(&catalog, &samples::deposit_made());
    assert_eq!(&bytes[..5], &[0x00, 0x00, 0x01, 0x86, 0xA7]);
}

// --- standard bytes ----------------------------------------------------------------------

#[test]
fn generic_reader_with_only_the_avsc_reads_our_bytes() {
    let catalog = catalog();
    let bytes = encode(&catalog, &samples::account_opened()).expect("encode");
    let (id, mut body) = unframe(&bytes).expect("frame");
    assert_eq!(id, SchemaId(1));

    // What any Avro library does: parse the .avsc text, read one datum.
    let schema = Schema::parse_str(include_str!(
        "../../../../schemas/bancaire/compte-ouvert.avsc"
    ))
    .expect("avsc");
    let value = from_avro_datum(&schema, &mut body, None).expect("standard Avro");
    assert!(body.is_empty(), "the datum spans the whole body");
    let Value::Record(fields) = value else {
        panic!("record");
    };
    let field = |name: &str| {
        fields
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert_eq!(
        field("event_id"),
        Value::String("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e0f".to_owned())
    );
    assert_eq!(
        field("timestamp"),
        Value::TimestampMillis(samples::account_opened().timestamp.timestamp_millis())
    );
    assert_eq!(field("type_compte"), Value::Enum(0, "COURANT".to_owned()));
    assert_eq!(field("devise"), Value::String("EUR".to_owned()));
    // 1234.56 at scale 2 = unscaled 123456 = 0x01E240, big-endian two's complement.
    assert_eq!(
        field("solde_initial"),
        Value::Decimal(apache_avro::Decimal::from(vec![0x01, 0xE2, 0x40]))
    );
    let Value::Union(1, map) = field("metadata") else {
        panic!("metadata present");
    };
    let Value::Map(map) = *map else { panic!("map") };
    assert_eq!(
        map.get("iban"),
        Some(&Value::String("FR7630006000011234567890189".to_owned()))
    );

    // Every other schema too: the generic reader consumes each body exactly.
    let others: Vec<(EventSchema, Vec<u8>)> = samples::all()
        .iter()
        .map(|e| {
            let bytes = encode_banking(&catalog, e).expect("encode");
            (EventSchema::for_banking(e.kind()), bytes)
        })
        .chain([
            (
                EventSchema::TransactionProcessed,
                encode(&catalog, &transaction_processed()).expect("encode"),
            ),
            (
                EventSchema::OrderCreated,
                encode(&catalog, &order_created()).expect("encode"),
            ),
            (
                EventSchema::PaymentAuthorized,
                encode(&catalog, &payment_authorized()).expect("encode"),
            ),
            (
                EventSchema::PaymentRejected,
                encode(&catalog, &payment_rejected()).expect("encode"),
            ),
        ])
        .collect();
    for (schema, bytes) in others {
        let parsed = Schema::parse_str(schema.source()).expect("avsc");
        let (_, mut body) = unframe(&bytes).expect("frame");
        from_avro_datum(&parsed, &mut body, None)
            .unwrap_or_else(|e| panic!("{schema}: generic reader failed: {e}"));
        assert!(body.is_empty(), "{schema}: bytes left over");
    }
}

#[test]
fn golden_bytes_of_a_compte_ouvert() {
    let event = AccountOpened {
        event_id: "01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e0f"
            .parse()
            .expect("uuid"),
        timestamp: DateTime::from_timestamp_millis(1000).expect("ts"),
        account_id: "C1".to_owned(),
        client_id: "K1".to_owned(),
        account_type: AccountType::Savings,
        currency: "EUR".to_owned(),
        initial_balance: dec!(1234.56),
        metadata: None,
    };
    let mut expected = vec![0x00, 0x00, 0x00, 0x00, 0x01]; // magic, schema id 1
    expected.push(0x48); // string length 36, zigzag varint
    expected.extend_from_slice(b"01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e0f");
    expected.extend_from_slice(&[0xD0, 0x0F]); // long 1000, zigzag varint
    expected.extend_from_slice(&[0x04, b'C', b'1']);
    expected.extend_from_slice(&[0x04, b'K', b'1']);
    expected.push(0x02); // enum index 1 = EPARGNE
    expected.extend_from_slice(&[0x06, b'E', b'U', b'R']);
    expected.extend_from_slice(&[0x06, 0x01, 0xE2, 0x40]); // 3 bytes: 123456
    expected.push(0x00); // union branch 0 = null
    assert_eq!(encode(&catalog(), &event).expect("encode"), expected);
}

#[test]
fn bytes_from_another_writer_are_read() {
    // A writer in another language may sign-extend decimals (fixed-width) and order map
    // entries differently; both are legal Avro.
    let catalog = catalog();
    let schema = Schema::parse_str(EventSchema::DepositMade.source()).expect("avsc");
    let record = Value::Record(vec![
        (
            "event_id".into(),
            Value::String("01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e40".into()),
        ),
        (
            "timestamp".into(),
            Value::TimestampMillis(1_770_372_930_123),
        ),
        ("compte_id".into(), Value::String("CPT-0042".into())),
        (
            "montant".into(),
            Value::Decimal(apache_avro::Decimal::from(vec![
                0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFE, 0x1D, 0xC0,
            ])),
        ),
        ("devise".into(), Value::String("EUR".into())),
        ("reference".into(), Value::String("DEP-1".into())),
        ("canal".into(), Value::Enum(1, "VIREMENT".into())),
        ("metadata".into(), Value::Union(0, Box::new(Value::Null))),
    ]);
    let body = to_avro_datum(&schema, record).expect("generic write");
    let bytes = frame(catalog.id_of(EventSchema::DepositMade), &body);
    let event: DepositMade = decode(&catalog, &bytes).expect("decode");
    assert_eq!(event.amount, dec!(-1234.56));
    assert_eq!(event.channel, Channel::Transfer);
    assert_eq!(event.metadata, None);
}

// --- decimals ----------------------------------------------------------------------------

fn deposit(amount: Decimal) -> DepositMade {
    DepositMade {
        amount,
        ..samples::deposit_made()
    }
}

#[test]
fn decimal_edge_cases_round_trip() {
    let catalog = catalog();
    for amount in [
        dec!(0),
        dec!(0.01),
        dec!(-0.01),
        dec!(-1234.56),
        dec!(9999999999999999.99),
        dec!(-9999999999999999.99),
        dec!(10.5),
        dec!(1234.5600),
    ] {
        let bytes = encode(&catalog, &deposit(amount)).expect("encode");
        let back: DepositMade = decode(&catalog, &bytes).expect("decode");
        assert_eq!(back.amount, amount);
        assert_eq!(back.amount.scale(), 2, "read back at the schema's scale");
    }
}

#[test]
fn decimal_scale_and_precision_violations_are_refused_naming_the_field() {
    let catalog = catalog();
    let err = encode(&catalog, &deposit(dec!(1.234))).unwrap_err();
    match &err {
        WireError::Decimal {
            record,
            field,
            source:
                DecimalError::Scale {
                    actual: 3,
                    scale: 2,
                    ..
                },
        } => {
            assert_eq!(*record, "DepotEffectue");
            assert_eq!(field, "montant");
        }
        other => panic!("expected a scale error, got {other:?}"),
    }
    assert!(err.to_string().contains("DepotEffectue.montant"), "{err}");

    let err = encode(&catalog, &deposit(dec!(10000000000000000.00))).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::Decimal {
                source: DecimalError::Precision { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn decimal_beyond_precision_on_the_wire_is_refused() {
    let catalog = catalog();
    let schema = Schema::parse_str(EventSchema::DepositMade.source()).expect("avsc");
    let mut value = samples::deposit_made().to_avro().expect("value");
    if let Value::Record(fields) = &mut value {
        for (name, v) in fields.iter_mut() {
            if name == "montant" {
                // 10^18 unscaled: one digit more than decimal(18,2) allows.
                *v = Value::Decimal(apache_avro::Decimal::from(
                    1_000_000_000_000_000_000i64.to_be_bytes(),
                ));
            }
        }
    }
    let body = to_avro_datum(&schema, value).expect("generic write");
    let bytes = frame(SchemaId(3), &body);
    let err = decode::<DepositMade>(&catalog, &bytes).unwrap_err();
    assert!(
        err.to_string().starts_with("DepotEffectue.montant:"),
        "{err}"
    );
}

// --- wire errors ---------------------------------------------------------------------------

#[test]
fn wire_format_errors_are_specific() {
    let catalog = catalog();
    let good = encode(&catalog, &samples::account_opened()).expect("encode");
    let topic = "bancaire.compte.ouvert";

    assert!(matches!(
        decode_banking(&catalog, topic, &[0x00, 0x00]),
        Err(WireError::TooShort { len: 2 })
    ));

    let json = serde_json::to_vec(&samples::account_opened()).expect("json");
    assert!(matches!(
        decode_banking(&catalog, topic, &json),
        Err(WireError::BadMagic { found: b'{' })
    ));

    let mut unknown = good.clone();
    unknown[1..5].copy_from_slice(&999u32.to_be_bytes());
    let err = decode_banking(&catalog, topic, &unknown).unwrap_err();
    assert!(
        matches!(err, WireError::UnknownSchemaId(SchemaId(999))),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "unknown schema id 999");

    let err = decode_banking(&catalog, "bancaire.depot.effectue", &good).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::SchemaMismatch {
                id: SchemaId(1),
                expected: "DepotEffectue",
                found: "CompteOuvert"
            }
        ),
        "{err:?}"
    );

    assert!(matches!(
        decode_banking(&catalog, "system.dlq", &good),
        Err(WireError::UnknownTopic(t)) if t == "system.dlq"
    ));

    let mut trailing = good.clone();
    trailing.push(0x00);
    assert!(matches!(
        decode_banking(&catalog, topic, &trailing),
        Err(WireError::TrailingBytes {
            record: "CompteOuvert",
            len: 1
        })
    ));
}

#[test]
fn truncated_or_corrupt_bodies_name_the_field() {
    let catalog = catalog();
    let event = AccountOpened {
        metadata: None,
        ..samples::account_opened()
    };
    let good = encode(&catalog, &event).expect("encode");
    let topic = "bancaire.compte.ouvert";

    // Cut inside solde_initial: the 4 last bytes are [len 3, 3 bytes of decimal] + null
    // union byte; dropping 3 leaves the decimal incomplete.
    let truncated = &good[..good.len() - 3];
    match decode_banking(&catalog, topic, truncated) {
        Err(WireError::AvroDecode { record, field, .. }) => {
            assert_eq!(record, "CompteOuvert");
            assert_eq!(field, "solde_initial");
        }
        other => panic!("expected an Avro decode error, got {other:?}"),
    }

    // Enum index 7 does not exist in TypeCompte.
    let mut corrupt = good.clone();
    let enum_at = 5 + 1 + 36 + 6 + 1 + event.account_id.len() + 1 + event.client_id.len();
    assert_eq!(corrupt[enum_at], 0x00, "COURANT is index 0");
    corrupt[enum_at] = 0x0E;
    let err = decode_banking(&catalog, topic, &corrupt).unwrap_err();
    assert!(
        matches!(&err, WireError::AvroDecode { field, .. } if field == "type_compte"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("CompteOuvert.type_compte"),
        "{err}"
    );

    // A well-formed body whose event_id is not a UUID.
    let schema = Schema::parse_str(EventSchema::AccountOpened.source()).expect("avsc");
    let mut value = event.to_avro().expect("value");
    if let Value::Record(fields) = &mut value {
        fields[0].1 = Value::String("pas-un-uuid".to_owned());
    }
    let bytes = frame(SchemaId(1), &to_avro_datum(&schema, value).expect("write"));
    let err = decode_banking(&catalog, topic, &bytes).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("CompteOuvert.event_id: \"pas-un-uuid\" is not a UUID"),
        "{err}"
    );
}

// --- JSON rendering ------------------------------------------------------------------------

#[test]
fn rendered_json_matches_the_domain_json_contract() {
    let catalog = catalog();
    for event in samples::all() {
        let bytes = encode_banking(&catalog, &event).expect("encode");
        let mut rendered = render_json(&catalog, &bytes).expect("render");
        let expected = event.to_record_json().expect("json");
        // The domain omits absent optional fields (Go's omitempty); the generic rendering
        // shows them as null.
        if let Some(object) = rendered.as_object_mut() {
            object.retain(|_, v| !v.is_null());
        }
        assert_eq!(rendered, expected, "{}", event.event_type());
    }
    let bytes = encode(&catalog, &order_created()).expect("encode");
    let rendered = render_json(&catalog, &bytes).expect("render");
    assert_eq!(rendered["amount"], "99.99");
    assert_eq!(rendered["items"], json!(["Machine à café", "Moulin"]));
    assert_eq!(rendered["createdAt"], "2024-01-15T10:30:00.000Z");
    let (schema, _) = decode_value(&catalog, &bytes).expect("value");
    assert_eq!(schema, EventSchema::OrderCreated);
}

#[test]
fn banking_json_and_avro_agree_on_every_value() {
    // JSON → domain → Avro → domain → JSON is the identity.
    let catalog = catalog();
    for event in samples::all() {
        let json = serde_json::to_string(&event).expect("json");
        let parsed: BankingEvent = serde_json::from_str(&json).expect("parse");
        let bytes = encode_banking(&catalog, &parsed).expect("encode");
        let back = decode_banking(&catalog, parsed.topic(), &bytes).expect("decode");
        assert_eq!(serde_json::to_string(&back).expect("json"), json);
    }
}
