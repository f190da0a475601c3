//! Schemas through a registry (issue 21, parts 1 and 2): the catalog registered on a
//! registry frames with the registry's ids and sets the published levels; a record framed
//! with an id the catalog does not know is decoded, once its writer schema was learned from
//! the registry, by Avro schema resolution (added fields dropped, removed fields defaulted),
//! and a version that cannot be resolved is refused with the reason.

use apache_avro::types::Value;
use apache_avro::{Schema, from_avro_datum, to_avro_datum};
use edalab_domain::events::BankingEvent;
use edalab_domain::events::banking::samples;
use edalab_schema::registry::{HttpRegistryConfig, Registration, learn_writers, register_catalog};
use edalab_schema::wire::{frame, unframe};
use edalab_schema::{
    Compatibility, EventSchema, HttpRegistry, LocalRegistry, SchemaCatalog, SchemaId,
    SchemaRegistry, WireError, decode_banking, decode_value, encode_banking,
};
use serde_json::{Value as Json, json};

const DEPOSIT: EventSchema = EventSchema::DepositMade;

fn deposit() -> BankingEvent {
    let mut event = samples::deposit_made();
    event.currency = "USD".to_owned();
    BankingEvent::from(event)
}

/// The deposit schema's JSON with `change` applied to its field list.
fn deposit_schema(change: impl FnOnce(&mut Vec<Json>)) -> String {
    let mut value: Json = serde_json::from_str(DEPOSIT.source()).unwrap();
    change(value["fields"].as_array_mut().unwrap());
    value.to_string()
}

/// The deposit's fields as a generic record, with `change` applied, written with `schema`.
fn body_written_with(schema: &str, change: impl FnOnce(&mut Vec<(String, Value)>)) -> Vec<u8> {
    let catalog = SchemaCatalog::builtin().unwrap();
    let bytes = encode_banking(&catalog, &deposit()).unwrap();
    let (_, body) = unframe(&bytes).unwrap();
    let Value::Record(mut fields) =
        from_avro_datum(catalog.schema(DEPOSIT), &mut &body[..], None).unwrap()
    else {
        panic!("a record");
    };
    change(&mut fields);
    to_avro_datum(&Schema::parse_str(schema).unwrap(), Value::Record(fields)).unwrap()
}

async fn registry() -> (tempfile::TempDir, LocalRegistry) {
    let dir = tempfile::tempdir().unwrap();
    let registry = LocalRegistry::open(dir.path()).unwrap();
    (dir, registry)
}

#[tokio::test]
async fn a_version_with_an_added_field_registered_at_run_time_is_read() {
    let (_dir, registry) = registry().await;
    let v2 = deposit_schema(|fields| {
        fields.push(json!({"name": "agence", "type": "string", "default": "SIEGE"}));
    });
    let id = registry.register(&DEPOSIT.subject(), &v2).await.unwrap();
    assert!(id.0 >= 1000, "a run-time id: {id}");
    let bytes = frame(
        id,
        &body_written_with(&v2, |f| {
            f.push(("agence".into(), Value::String("LYON".into())))
        }),
    );

    let catalog = SchemaCatalog::builtin().unwrap();
    let before = decode_banking(&catalog, "bancaire.depot.effectue", &bytes).unwrap_err();
    assert!(
        matches!(before, WireError::UnknownSchemaId(i) if i == id),
        "{before}"
    );

    let learned = learn_writers(&catalog, &registry, [&bytes[..]])
        .await
        .unwrap();
    assert_eq!(learned, vec![id]);
    assert!(catalog.knows(id));
    let event = decode_banking(&catalog, "bancaire.depot.effectue", &bytes).unwrap();
    assert_eq!(
        event,
        deposit(),
        "the added field is dropped, the rest kept"
    );
    let (schema, value) = decode_value(&catalog, &bytes).unwrap();
    assert_eq!(schema, DEPOSIT);
    let Value::Record(fields) = value else {
        panic!("a record")
    };
    assert!(fields.iter().all(|(name, _)| name != "agence"));

    // Learned once: a second batch asks the registry nothing.
    assert!(
        learn_writers(&catalog, &registry, [&bytes[..]])
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_version_without_a_defaulted_field_reads_with_the_default() {
    let (_dir, registry) = registry().await;
    let v2 = deposit_schema(|fields| fields.retain(|f| f["name"] != "devise"));
    let id = registry.register(&DEPOSIT.subject(), &v2).await.unwrap();
    let bytes = frame(
        id,
        &body_written_with(&v2, |f| f.retain(|(n, _)| n != "devise")),
    );
    let catalog = SchemaCatalog::builtin().unwrap();
    learn_writers(&catalog, &registry, [&bytes[..]])
        .await
        .unwrap();
    let BankingEvent::DepositMade(event) =
        decode_banking(&catalog, "bancaire.depot.effectue", &bytes).unwrap()
    else {
        panic!("a deposit")
    };
    assert_eq!(event.currency, "EUR", "the reader's default");
    let BankingEvent::DepositMade(sent) = deposit() else {
        unreachable!()
    };
    assert_eq!(
        (event.account_id, event.amount),
        (sent.account_id, sent.amount)
    );
}

#[tokio::test]
async fn a_version_that_cannot_be_resolved_is_refused_with_the_reason() {
    let (_dir, registry) = registry().await;
    registry
        .set_compatibility(Some(&DEPOSIT.subject()), Compatibility::None)
        .await
        .unwrap();
    let v2 = deposit_schema(|fields| {
        for field in fields.iter_mut().filter(|f| f["name"] == "montant") {
            field["type"] = json!("string");
        }
    });
    let id = registry.register(&DEPOSIT.subject(), &v2).await.unwrap();
    let bytes = frame(
        id,
        &body_written_with(&v2, |fields| {
            for (name, value) in fields.iter_mut() {
                if name == "montant" {
                    *value = Value::String("12.50".into());
                }
            }
        }),
    );
    let catalog = SchemaCatalog::builtin().unwrap();
    assert_eq!(
        learn_writers(&catalog, &registry, [&bytes[..]])
            .await
            .unwrap(),
        vec![id]
    );
    let error = decode_banking(&catalog, "bancaire.depot.effectue", &bytes).unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(error, WireError::Unreadable { id: i, .. } if i == id),
        "{text}"
    );
    assert!(text.contains("DepotEffectue"), "{text}");
}

#[tokio::test]
async fn another_records_schema_under_a_known_topic_is_a_mismatch() {
    let (_dir, registry) = registry().await;
    let opened = EventSchema::AccountOpened;
    let catalog = SchemaCatalog::builtin().unwrap();
    // Written with the account-opened schema, read from the deposit topic.
    let bytes = encode_banking(&catalog, &BankingEvent::from(samples::account_opened())).unwrap();
    assert_eq!(unframe(&bytes).unwrap().0, catalog.id_of(opened));
    assert!(
        learn_writers(&catalog, &registry, [&bytes[..]])
            .await
            .unwrap()
            .is_empty()
    );
    let error = decode_banking(&catalog, "bancaire.depot.effectue", &bytes).unwrap_err();
    assert!(matches!(error, WireError::SchemaMismatch { .. }), "{error}");
}

#[tokio::test]
async fn ids_the_registry_does_not_hold_stay_unknown_and_a_registry_that_is_down_is_an_error() {
    let (_dir, registry) = registry().await;
    let catalog = SchemaCatalog::builtin().unwrap();
    let bytes = frame(SchemaId(4242), b"\x02");
    let not_framed = b"{\"json\": true}".to_vec();
    let values = [&bytes[..], &not_framed[..]];
    assert!(
        learn_writers(&catalog, &registry, values)
            .await
            .unwrap()
            .is_empty()
    );
    let error = decode_banking(&catalog, "bancaire.depot.effectue", &bytes).unwrap_err();
    assert_eq!(error.to_string(), "unknown schema id 4242");

    // Nothing listens on this port: the registry cannot answer, and the caller must retry.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let down = HttpRegistry::new(&HttpRegistryConfig {
        url,
        timeout_ms: 2_000,
        cache_entries_max: 10,
    })
    .unwrap();
    let error = learn_writers(&catalog, &down, [&bytes[..]])
        .await
        .unwrap_err();
    assert!(
        edalab_schema::registry::resolve::is_transient(&error),
        "{error}"
    );
    assert!(!catalog.knows(SchemaId(4242)));
}

#[tokio::test]
async fn registering_the_catalog_takes_the_registrys_ids_and_sets_the_published_levels() {
    let (_dir, registry) = registry().await;
    let builtin = SchemaCatalog::builtin().unwrap();
    let (catalog, registered) = register_catalog(&registry, &builtin, Registration::Register)
        .await
        .unwrap();
    assert_eq!(registered.len(), EventSchema::ALL.len());
    for r in &registered {
        assert_eq!(r.id, r.schema.builtin_id(), "{}", r.schema);
        assert_eq!(catalog.id_of(r.schema), r.id);
        let published = r
            .schema
            .published_compatibility()
            .map(|t| t.parse().unwrap());
        assert_eq!(r.level_set, published, "{}", r.schema);
        if let Some(level) = published {
            assert_eq!(
                registry
                    .compatibility(Some(&r.schema.subject()))
                    .await
                    .unwrap(),
                level
            );
        }
    }
    assert_eq!(
        registry
            .compatibility(Some(&DEPOSIT.subject()))
            .await
            .unwrap(),
        Compatibility::BackwardTransitive
    );
    // Again: nothing new to set, the same ids.
    let (_, again) = register_catalog(&registry, &builtin, Registration::Register)
        .await
        .unwrap();
    assert!(again.iter().all(|r| r.level_set.is_none()));
    assert_eq!(
        again.iter().map(|r| r.id).collect::<Vec<_>>(),
        registered.iter().map(|r| r.id).collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn a_level_set_by_someone_else_is_kept_and_an_incompatible_build_is_refused() {
    let (_dir, registry) = registry().await;
    let subject = DEPOSIT.subject();
    registry
        .set_compatibility(Some(&subject), Compatibility::Full)
        .await
        .unwrap();
    // The registry already holds a version 2 that our version 1 cannot follow under FULL
    // (it has a field without a default that version 1 does not know).
    let v2 = deposit_schema(|fields| fields.push(json!({"name": "agence", "type": "string"})));
    registry
        .set_compatibility(Some(&subject), Compatibility::None)
        .await
        .unwrap();
    registry.register(&subject, &v2).await.unwrap();
    registry
        .set_compatibility(Some(&subject), Compatibility::Full)
        .await
        .unwrap();
    let builtin = SchemaCatalog::builtin().unwrap();
    // Version 1 is already registered: registration is idempotent and returns its id.
    let (catalog, registered) = register_catalog(&registry, &builtin, Registration::Register)
        .await
        .unwrap();
    assert_eq!(catalog.id_of(DEPOSIT), DEPOSIT.builtin_id());
    let deposit = registered.iter().find(|r| r.schema == DEPOSIT).unwrap();
    assert_eq!(deposit.level_set, None, "FULL was set by someone else");
    assert_eq!(
        registry.compatibility(Some(&subject)).await.unwrap(),
        Compatibility::Full
    );

    // Lookup mode against a registry that lacks a schema says which subject.
    let dir = tempfile::tempdir().unwrap();
    let reader = LocalRegistry::open_read_only(dir.path()).unwrap();
    let (_, looked_up) = register_catalog(&reader, &builtin, Registration::Lookup)
        .await
        .unwrap();
    assert!(looked_up.iter().all(|r| r.id == r.schema.builtin_id()));
}
