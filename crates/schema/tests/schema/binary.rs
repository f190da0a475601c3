//! The direct Avro writer and reader (the fast path behind `encode`, `encode_banking`,
//! `decode`, `decode_banking`) held to apache-avro, the reference: same bytes whenever the
//! bytes are unique (maps of 0 or 1 entries), the same values both ways otherwise, bytes of
//! other writers (several map blocks, negative block counts) read, deterministic bytes for
//! many-entry maps, and errors that name the record and field.

use apache_avro::to_avro_datum;
use chrono::{DateTime, TimeZone, Utc};
use edalab_domain::events::banking::{
    AccountClosed, AccountOpened, AccountType, BankingEvent, Channel, DepositMade, Metadata,
    OperationRejected, PremiumPaid, RejectionCode, TransferIssued, TransferReceived,
    TransferStatus, WithdrawalMade, samples,
};
use edalab_domain::events::saga::{
    AuthorizedStatus, CreatedStatus, OrderCreated, PaymentAuthorized, PaymentRejected,
    RejectedStatus,
};
use edalab_domain::events::transactions::{ProcessedStatus, TransactionProcessed};
use edalab_schema::wire::{frame, unframe};
use edalab_schema::{
    AvroEvent, EventSchema, SchemaCatalog, WireError, decode, decode_banking, decode_value, encode,
    encode_banking, encode_banking_into, encode_into,
};
use proptest::prelude::*;
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use uuid::Uuid;

fn catalog() -> SchemaCatalog {
    SchemaCatalog::builtin().expect("embedded schemas parse")
}

// --- the reference: apache-avro through the `Value` mapping ------------------------------

/// `event` framed, with its body written by `apache_avro::to_avro_datum`.
fn reference_encode<E: AvroEvent>(catalog: &SchemaCatalog, event: &E) -> Vec<u8> {
    let value = event.to_avro().expect("value");
    let body = to_avro_datum(catalog.schema(E::SCHEMA), value).expect("apache write");
    frame(catalog.id_of(E::SCHEMA), &body)
}

/// `bytes` read by apache-avro's `from_avro_datum`, field by field, then mapped.
fn reference_decode<E: AvroEvent>(catalog: &SchemaCatalog, bytes: &[u8]) -> E {
    let (schema, value) = decode_value(catalog, bytes).expect("apache read");
    assert_eq!(schema, E::SCHEMA);
    E::from_avro(value).expect("mapping")
}

fn reference_encode_banking(catalog: &SchemaCatalog, event: &BankingEvent) -> Vec<u8> {
    match event {
        BankingEvent::AccountOpened(e) => reference_encode(catalog, e),
        BankingEvent::AccountClosed(e) => reference_encode(catalog, e),
        BankingEvent::DepositMade(e) => reference_encode(catalog, e),
        BankingEvent::WithdrawalMade(e) => reference_encode(catalog, e),
        BankingEvent::TransferIssued(e) => reference_encode(catalog, e),
        BankingEvent::TransferReceived(e) => reference_encode(catalog, e),
        BankingEvent::PremiumPaid(e) => reference_encode(catalog, e),
        BankingEvent::OperationRejected(e) => reference_encode(catalog, e),
    }
}

fn reference_decode_banking(
    catalog: &SchemaCatalog,
    event: &BankingEvent,
    bytes: &[u8],
) -> BankingEvent {
    match event {
        BankingEvent::AccountOpened(_) => reference_decode::<AccountOpened>(catalog, bytes).into(),
        BankingEvent::AccountClosed(_) => reference_decode::<AccountClosed>(catalog, bytes).into(),
        BankingEvent::DepositMade(_) => reference_decode::<DepositMade>(catalog, bytes).into(),
        BankingEvent::WithdrawalMade(_) => {
            reference_decode::<WithdrawalMade>(catalog, bytes).into()
        }
        BankingEvent::TransferIssued(_) => {
            reference_decode::<TransferIssued>(catalog, bytes).into()
        }
        BankingEvent::TransferReceived(_) => {
            reference_decode::<TransferReceived>(catalog, bytes).into()
        }
        BankingEvent::PremiumPaid(_) => reference_decode::<PremiumPaid>(catalog, bytes).into(),
        BankingEvent::OperationRejected(_) => {
            reference_decode::<OperationRejected>(catalog, bytes).into()
        }
    }
}

/// The event's `metadata` field, if its schema has one.
fn metadata_mut(event: &mut BankingEvent) -> Option<&mut Option<Metadata>> {
    match event {
        BankingEvent::AccountOpened(e) => Some(&mut e.metadata),
        BankingEvent::AccountClosed(e) => Some(&mut e.metadata),
        BankingEvent::DepositMade(e) => Some(&mut e.metadata),
        BankingEvent::WithdrawalMade(e) => Some(&mut e.metadata),
        BankingEvent::TransferIssued(e) => Some(&mut e.metadata),
        BankingEvent::TransferReceived(e) => Some(&mut e.metadata),
        BankingEvent::PremiumPaid(e) => Some(&mut e.metadata),
        BankingEvent::OperationRejected(_) => None,
    }
}

fn metadata_of(entries: usize) -> Metadata {
    (0..entries)
        .map(|i| (format!("clé-{}", entries - i), format!("valeur n°{i}")))
        .collect()
}

/// Every banking sample with `metadata` absent, empty, and of 1, 2 and 5 entries.
fn banking_variants() -> Vec<BankingEvent> {
    let mut out = Vec::new();
    for sample in samples::all() {
        out.push(sample.clone());
        for metadata in [None, Some(0), Some(1), Some(2), Some(5)] {
            let mut event = sample.clone();
            if let Some(field) = metadata_mut(&mut event) {
                *field = metadata.map(metadata_of);
                out.push(event);
            }
        }
    }
    out
}

fn map_entries(event: &BankingEvent) -> usize {
    let mut event = event.clone();
    metadata_mut(&mut event)
        .and_then(|m| m.as_ref().map(Metadata::len))
        .unwrap_or(0)
}

fn at(millis: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 15, 10, 30, 0)
        .single()
        .expect("date")
        + chrono::Duration::milliseconds(millis)
}

fn order_created(items: usize) -> OrderCreated {
    OrderCreated {
        event_id: "01948c6e-7a3b-7c2d-9e4f-5a6b7c8d9e30".to_owned(),
        order_id: "order-123".to_owned(),
        user_id: "user-456".to_owned(),
        amount: dec!(99.99),
        items: (0..items).map(|i| format!("article {i} — café")).collect(),
        status: CreatedStatus::Created,
        created_at: at(0),
    }
}

fn payment_authorized() -> PaymentAuthorized {
    PaymentAuthorized {
        event_id: "e-31".to_owned(),
        order_id: "order-123".to_owned(),
        user_id: "user-456".to_owned(),
        amount: dec!(-0.01),
        status: AuthorizedStatus::Authorized,
        authorization_code: "AUTH-1705314601000".to_owned(),
        processed_at: at(1000),
    }
}

fn payment_rejected() -> PaymentRejected {
    PaymentRejected {
        event_id: "e-32".to_owned(),
        order_id: "order-124".to_owned(),
        user_id: "user-789".to_owned(),
        amount: dec!(9999999999999999.99),
        status: RejectedStatus::Rejected,
        rejection_reason: "Insufficient funds".to_owned(),
        processed_at: at(-2000),
    }
}

fn transaction_processed() -> TransactionProcessed {
    TransactionProcessed {
        transaction_id: "txn-1705314600000-k3j9x2m1q".to_owned(),
        amount: dec!(1234.5),
        currency: "EUR".to_owned(),
        account_from: "FR7630006000011234567890189".to_owned(),
        account_to: "FR1420041010050500013M02606".to_owned(),
        timestamp: at(0),
        status: ProcessedStatus::Processed,
        processed_at: at(870),
        processor_id: "edalab-transactions-processor-1".to_owned(),
    }
}

/// Zig-zag varint, written independently of the crate (for hand-crafted bodies).
fn long(value: i64) -> Vec<u8> {
    let mut z = ((value << 1) ^ (value >> 63)) as u64;
    let mut out = Vec::new();
    while z >= 0x80 {
        out.push((z as u8) | 0x80);
        z >>= 7;
    }
    out.push(z as u8);
    out
}

fn string(text: &str) -> Vec<u8> {
    let mut out = long(text.len() as i64);
    out.extend_from_slice(text.as_bytes());
    out
}

// --- same bytes as apache-avro ------------------------------------------------------------

#[test]
fn banking_bytes_equal_apache_avro_for_maps_of_zero_or_one_entry() {
    let catalog = catalog();
    let mut compared = 0;
    for event in banking_variants() {
        if map_entries(&event) > 1 {
            continue;
        }
        let fast = encode_banking(&catalog, &event).expect("encode");
        let reference = reference_encode_banking(&catalog, &event);
        assert_eq!(fast, reference, "{event:?}");
        compared += 1;
    }
    // 7 samples with at most one entry (CompteOuvert's has three) + 7 kinds with
    // metadata absent, empty and of one entry.
    assert_eq!(compared, 7 + 7 * 3);
}

#[test]
fn banking_maps_of_several_entries_decode_the_same_both_ways() {
    let catalog = catalog();
    for event in banking_variants() {
        let fast = encode_banking(&catalog, &event).expect("encode");
        // apache-avro reads our bytes...
        assert_eq!(reference_decode_banking(&catalog, &event, &fast), event);
        // ...and we read apache-avro's, whatever order its HashMap gave (several tries).
        for _ in 0..5 {
            let reference = reference_encode_banking(&catalog, &event);
            assert_eq!(
                decode_banking(&catalog, event.topic(), &reference).expect("decode"),
                event
            );
        }
        assert_eq!(
            decode_banking(&catalog, event.topic(), &fast).expect("decode"),
            event
        );
    }
}

#[test]
fn saga_and_transaction_bytes_equal_apache_avro() {
    let catalog = catalog();
    fn check<E: AvroEvent + PartialEq + std::fmt::Debug>(catalog: &SchemaCatalog, event: &E) {
        let fast = encode(catalog, event).expect("encode");
        assert_eq!(fast, reference_encode(catalog, event), "{event:?}");
        assert_eq!(&decode::<E>(catalog, &fast).expect("decode"), event);
        assert_eq!(&reference_decode::<E>(catalog, &fast), event);
    }
    check(&catalog, &transaction_processed());
    for items in [0, 1, 2, 7] {
        check(&catalog, &order_created(items));
    }
    check(&catalog, &payment_authorized());
    check(&catalog, &payment_rejected());
}

// --- bytes of other writers ---------------------------------------------------------------

#[test]
fn map_blocks_of_any_shape_are_read() {
    let catalog = catalog();
    let event = DepositMade {
        metadata: None,
        ..samples::deposit_made()
    };
    let plain = reference_encode(&catalog, &event);
    // The body ends with the union's null branch: replace it by a map in three blocks.
    let head = &plain[..plain.len() - 1];
    let (k1, v1, k2, v2, k3, v3) = ("b", "2", "a", "1", "c", "3");
    let pairs_size = [k1, v1, k2, v2]
        .iter()
        .map(|s| string(s).len())
        .sum::<usize>();
    let mut body = vec![0x02]; // union branch 1 = map
    body.extend(long(-2)); // negative count: 2 entries...
    body.extend(long(pairs_size as i64)); // ...then the block's size in bytes
    for s in [k1, v1, k2, v2] {
        body.extend(string(s));
    }
    body.extend(long(1));
    body.extend(string(k3));
    body.extend(string(v3));
    body.extend(long(0));
    let bytes = [head, &body].concat();

    let expected = DepositMade {
        metadata: Some(Metadata::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
            ("c".to_owned(), "3".to_owned()),
        ])),
        ..event
    };
    assert_eq!(
        decode::<DepositMade>(&catalog, &bytes).expect("fast"),
        expected
    );
    assert_eq!(reference_decode::<DepositMade>(&catalog, &bytes), expected);
    // We write the same map as one block, keys in order.
    let ours = encode(&catalog, &expected).expect("encode");
    let mut one_block = vec![0x02];
    one_block.extend(long(3));
    for s in ["a", "1", "b", "2", "c", "3"] {
        one_block.extend(string(s));
    }
    one_block.push(0x00);
    assert_eq!(ours, [head, &one_block].concat());
}

#[test]
fn array_blocks_of_any_shape_are_read() {
    let catalog = catalog();
    let expected = order_created(3);
    let mut body = Vec::new();
    body.extend(string(&expected.event_id));
    body.extend(string(&expected.order_id));
    body.extend(string(&expected.user_id));
    body.extend([0x04, 0x27, 0x0F]); // 99.99 = unscaled 9999 = 0x270F
    body.extend(long(-1));
    body.extend(long(string(&expected.items[0]).len() as i64));
    body.extend(string(&expected.items[0]));
    body.extend(long(2));
    body.extend(string(&expected.items[1]));
    body.extend(string(&expected.items[2]));
    body.extend(long(0));
    body.extend(long(0)); // status CREATED
    body.extend(long(expected.created_at.timestamp_millis()));
    let bytes = frame(catalog.id_of(EventSchema::OrderCreated), &body);
    assert_eq!(
        decode::<OrderCreated>(&catalog, &bytes).expect("fast"),
        expected
    );
    assert_eq!(reference_decode::<OrderCreated>(&catalog, &bytes), expected);
}

// --- determinism and buffers --------------------------------------------------------------

#[test]
fn a_five_entry_map_always_gives_the_same_bytes() {
    let catalog = catalog();
    let keys = ["zeta", "alpha", "mu", "beta", "omega"];
    let event = BankingEvent::from(AccountOpened {
        metadata: Some(
            keys.iter()
                .map(|k| ((*k).to_owned(), format!("v-{k}")))
                .collect(),
        ),
        ..samples::account_opened()
    });
    let first = encode_banking(&catalog, &event).expect("encode");
    for _ in 0..100 {
        assert_eq!(encode_banking(&catalog, &event).expect("encode"), first);
    }
    // Entries in key order.
    let position = |key: &str| {
        first
            .windows(key.len())
            .position(|w| w == key.as_bytes())
            .expect("key written")
    };
    let mut sorted = keys;
    sorted.sort_unstable();
    let positions: Vec<usize> = sorted.iter().map(|k| position(k)).collect();
    assert!(positions.is_sorted(), "{positions:?}");
}

#[test]
fn encoding_into_a_buffer_appends_and_leaves_it_intact_on_error() {
    let catalog = catalog();
    let mut out = b"previous".to_vec();
    let event = BankingEvent::from(samples::transfer_issued());
    encode_banking_into(&catalog, &event, &mut out).expect("encode");
    assert_eq!(&out[..8], b"previous");
    assert_eq!(out[8..], encode_banking(&catalog, &event).expect("encode"));

    let bad = DepositMade {
        amount: dec!(1.234),
        ..samples::deposit_made()
    };
    let before = out.clone();
    let err = encode_into(&catalog, &bad, &mut out).expect_err("three decimals");
    assert!(
        err.to_string().starts_with("DepotEffectue.montant:"),
        "{err}"
    );
    assert_eq!(out, before, "nothing of the failed event is left");
}

// --- errors -------------------------------------------------------------------------------

#[test]
fn malformed_union_and_utf8_name_the_field() {
    let catalog = catalog();
    let event = AccountClosed {
        metadata: None,
        ..samples::account_closed()
    };
    let good = encode(&catalog, &event).expect("encode");

    let mut bad_branch = good.clone();
    *bad_branch.last_mut().expect("union byte") = 0x04; // branch 2 of ["null", map]
    let err = decode::<AccountClosed>(&catalog, &bad_branch).expect_err("branch");
    assert!(
        matches!(&err, WireError::AvroDecode { record: "CompteFerme", field, .. } if field == "metadata"),
        "{err:?}"
    );

    let mut bad_text = good.clone();
    let compte_at = 5 + 1 + 36 + 6 + 1; // header, uuid, timestamp (6 bytes), length
    assert_eq!(&bad_text[compte_at..compte_at + 3], b"CPT");
    bad_text[compte_at] = 0xFF;
    let err = decode::<AccountClosed>(&catalog, &bad_text).expect_err("utf8");
    assert!(
        matches!(&err, WireError::AvroDecode { field, .. } if field == "compte_id"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("cannot decode CompteFerme.compte_id:"),
        "{err}"
    );
}

#[test]
fn every_truncation_fails_naming_its_record() {
    let catalog = catalog();
    let mut cases: Vec<(EventSchema, Vec<u8>)> = banking_variants()
        .iter()
        .map(|e| {
            (
                EventSchema::for_banking(e.kind()),
                encode_banking(&catalog, e).expect("encode"),
            )
        })
        .collect();
    cases.push((
        EventSchema::OrderCreated,
        encode(&catalog, &order_created(3)).expect("encode"),
    ));
    cases.push((
        EventSchema::TransactionProcessed,
        encode(&catalog, &transaction_processed()).expect("encode"),
    ));
    for (schema, bytes) in cases {
        for len in 0..bytes.len() {
            let cut = &bytes[..len];
            let err = match schema {
                EventSchema::OrderCreated => decode::<OrderCreated>(&catalog, cut).map(|_| ()),
                EventSchema::TransactionProcessed => {
                    decode::<TransactionProcessed>(&catalog, cut).map(|_| ())
                }
                _ => decode_banking(&catalog, schema.topic(), cut).map(|_| ()),
            }
            .expect_err("truncated");
            match err {
                WireError::TooShort { .. } => assert!(len < 5),
                WireError::AvroDecode { record, .. } | WireError::Decimal { record, .. } => {
                    assert_eq!(record, schema.record_name());
                }
                other => panic!("{schema} cut at {len}: {other:?}"),
            }
        }
    }
}

// --- random events ------------------------------------------------------------------------

/// Any decimal(18,2) amount, at scale 0, 1 or 2.
fn amount() -> impl Strategy<Value = Decimal> {
    (
        -999_999_999_999_999_999i64..=999_999_999_999_999_999,
        0u32..=2,
    )
        .prop_map(|(unscaled, scale)| {
            let divisor = 10i64.pow(2 - scale);
            Decimal::new(unscaled / divisor, scale)
        })
}

/// Any millisecond instant from year 1 to 9999.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (-62_135_596_800_000i64..253_402_300_799_999)
        .prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or_default())
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,40}", "[A-Z0-9-]{0,20}"]
}

fn metadata() -> impl Strategy<Value = Option<Metadata>> {
    proptest::option::of(proptest::collection::btree_map(".{0,12}", ".{0,24}", 0..6))
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<u128>().prop_map(Uuid::from_u128)
}

fn banking_event() -> impl Strategy<Value = BankingEvent> {
    let common = (uuid(), instant(), text(), text(), amount(), metadata());
    let more = (
        text(),
        text(),
        text(),
        0usize..7,
        proptest::option::of(uuid()),
    );
    (0usize..8, common, more).prop_map(
        |(kind, (event_id, timestamp, a, b, amount, metadata), (c, d, e, index, other_id))| {
            match kind {
                0 => AccountOpened {
                    event_id,
                    timestamp,
                    account_id: a,
                    client_id: b,
                    account_type: AccountType::ALL[index % AccountType::ALL.len()],
                    currency: c,
                    initial_balance: amount,
                    metadata,
                }
                .into(),
                1 => AccountClosed {
                    event_id,
                    timestamp,
                    account_id: a,
                    client_id: b,
                    reason: c,
                    metadata,
                }
                .into(),
                2 => DepositMade {
                    event_id,
                    timestamp,
                    account_id: a,
                    amount,
                    currency: b,
                    reference: c,
                    channel: Channel::ALL[index % Channel::ALL.len()],
                    metadata,
                }
                .into(),
                3 => WithdrawalMade {
                    event_id,
                    timestamp,
                    account_id: a,
                    amount,
                    currency: b,
                    reference: c,
                    channel: Channel::ALL[index % Channel::ALL.len()],
                    metadata,
                }
                .into(),
                4 => TransferIssued {
                    event_id,
                    timestamp,
                    source_account_id: a,
                    destination_account_id: b,
                    amount,
                    currency: c,
                    label: d,
                    reference: e,
                    status: TransferStatus::ALL[index % TransferStatus::ALL.len()],
                    metadata,
                }
                .into(),
                5 => TransferReceived {
                    event_id,
                    timestamp,
                    destination_account_id: a,
                    source_account_id: b,
                    amount,
                    currency: c,
                    label: d,
                    reference: e,
                    issued_event_id: other_id,
                    metadata,
                }
                .into(),
                6 => PremiumPaid {
                    event_id,
                    timestamp,
                    account_id: a,
                    contract_id: b,
                    amount,
                    currency: c,
                    reference: d,
                    metadata,
                }
                .into(),
                _ => OperationRejected {
                    event_id,
                    timestamp,
                    original_event_id: other_id.unwrap_or(event_id),
                    original_event_type: a,
                    account_id: b,
                    reason_code: RejectionCode::ALL[index % RejectionCode::ALL.len()],
                    message: c,
                }
                .into(),
            }
        },
    )
}

fn order_event() -> impl Strategy<Value = OrderCreated> {
    (
        text(),
        text(),
        text(),
        amount(),
        proptest::collection::vec(text(), 0..5),
        instant(),
    )
        .prop_map(
            |(event_id, order_id, user_id, amount, items, created_at)| OrderCreated {
                event_id,
                order_id,
                user_id,
                amount,
                items,
                status: CreatedStatus::Created,
                created_at,
            },
        )
}

proptest! {
    #[test]
    fn random_banking_events_round_trip_and_agree_with_apache_avro(event in banking_event()) {
        let catalog = catalog();
        let fast = encode_banking(&catalog, &event).expect("encode");
        let (id, _) = unframe(&fast).expect("frame");
        prop_assert_eq!(id, catalog.id_of(EventSchema::for_banking(event.kind())));
        prop_assert_eq!(&decode_banking(&catalog, event.topic(), &fast).expect("decode"), &event);
        prop_assert_eq!(&reference_decode_banking(&catalog, &event, &fast), &event);
        let reference = reference_encode_banking(&catalog, &event);
        if map_entries(&event) <= 1 {
            prop_assert_eq!(&fast, &reference);
        }
        prop_assert_eq!(&decode_banking(&catalog, event.topic(), &reference).expect("decode"), &event);
    }

    #[test]
    fn random_orders_round_trip_and_equal_apache_avro(event in order_event()) {
        let catalog = catalog();
        let fast = encode(&catalog, &event).expect("encode");
        prop_assert_eq!(&fast, &reference_encode(&catalog, &event));
        prop_assert_eq!(&decode::<OrderCreated>(&catalog, &fast).expect("decode"), &event);
    }
}
