//! The built-in schema registry ([`LocalRegistry`]): X-08's guard on schema evolution,
//! Confluent's semantics (idempotent registration, global ids, versions, levels), and
//! durability across reopening its directory.

use edalab_schema::registry::local::{LOG_FILE, REGISTERED_ID_MIN};
use edalab_schema::{
    Compatibility, EventSchema, LocalRegistry, RegistryError, SchemaId, SchemaRegistry, Version,
};
use serde_json::{Value, json};

/// `schema` with `field` appended to its fields.
fn with_field(schema: &str, field: Value) -> String {
    let mut value: Value = serde_json::from_str(schema).expect("schema JSON");
    value["fields"].as_array_mut().expect("fields").push(field);
    value.to_string()
}

/// `schema` with the type of field `name` replaced.
fn with_type(schema: &str, name: &str, new_type: Value) -> String {
    let mut value: Value = serde_json::from_str(schema).expect("schema JSON");
    let field = value["fields"]
        .as_array_mut()
        .expect("fields")
        .iter_mut()
        .find(|f| f["name"] == name)
        .expect("field");
    field["type"] = new_type;
    value.to_string()
}

const DEPOSIT: EventSchema = EventSchema::DepositMade;

fn open(dir: &tempfile::TempDir) -> LocalRegistry {
    LocalRegistry::open(dir.path()).expect("open the registry")
}

#[tokio::test]
async fn builtin_schemas_are_served_under_topic_name_strategy_subjects() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(&dir);
    let subjects = registry.subjects().await.unwrap();
    let mut expected: Vec<String> = EventSchema::ALL.iter().map(|s| s.subject()).collect();
    expected.sort();
    assert_eq!(subjects, expected);
    assert!(subjects.contains(&"bancaire.depot.effectue-value".to_owned()));
    for schema in EventSchema::ALL {
        let latest = registry
            .version(&schema.subject(), Version::Latest)
            .await
            .unwrap();
        assert_eq!(
            (latest.version, SchemaId(latest.id)),
            (1, schema.builtin_id())
        );
        assert_eq!(
            registry.schema_by_id(schema.builtin_id()).await.unwrap(),
            schema.source()
        );
        // Registering the built-in schema again is a no-op that returns its id.
        assert_eq!(
            registry
                .register(&schema.subject(), schema.source())
                .await
                .unwrap(),
            schema.builtin_id()
        );
    }
    assert_eq!(
        registry.compatibility(None).await.unwrap(),
        Compatibility::Backward
    );
}

/// X-08: under the default BACKWARD level, an evolution that new readers can apply to old
/// data is a new version; a breaking change is refused with the reason; NONE lets it in.
#[tokio::test]
async fn backward_evolution_is_accepted_and_a_breaking_change_is_refused_until_none() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(&dir);
    let subject = DEPOSIT.subject();

    // Compatible: a new field with a default.
    let v2 = with_field(
        DEPOSIT.source(),
        json!({"name": "agence", "type": "string", "default": ""}),
    );
    let id2 = registry.register(&subject, &v2).await.expect("compatible");
    assert_eq!(id2, SchemaId(REGISTERED_ID_MIN));
    assert_eq!(registry.versions(&subject).await.unwrap(), vec![1, 2]);
    let latest = registry.version(&subject, Version::Latest).await.unwrap();
    assert_eq!(
        (latest.version, latest.id, latest.schema.as_str()),
        (2, id2.0, v2.as_str())
    );
    // Idempotent: same schema (even re-serialized differently), same id, no new version.
    let v2_pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&v2).unwrap()).unwrap();
    assert_eq!(registry.register(&subject, &v2_pretty).await.unwrap(), id2);
    assert_eq!(registry.versions(&subject).await.unwrap(), vec![1, 2]);
    let found = registry.lookup(&subject, &v2_pretty).await.unwrap();
    assert_eq!((found.version, found.id), (2, id2.0));

    // Breaking: a new field without a default (old events do not have it).
    let no_default = with_field(&v2, json!({"name": "guichetier", "type": "string"}));
    let err = registry.register(&subject, &no_default).await.unwrap_err();
    assert_eq!(err.error_code(), 409, "{err}");
    let message = err.to_string();
    assert!(message.contains("guichetier"), "{message}");
    assert!(message.contains("default"), "{message}");
    assert!(message.contains(&subject), "{message}");
    assert!(
        !registry
            .check_compatibility(&subject, Version::Latest, &no_default)
            .await
            .unwrap()
    );

    // Breaking: a field changes type.
    let retyped = with_type(&v2, "reference", json!("long"));
    let err = registry.register(&subject, &retyped).await.unwrap_err();
    assert_eq!(err.error_code(), 409, "{err}");
    assert!(err.to_string().contains("reference"), "{err}");
    assert_eq!(registry.versions(&subject).await.unwrap(), vec![1, 2]);

    // With NONE on this subject only, the same change goes in.
    registry
        .set_compatibility(Some(&subject), Compatibility::None)
        .await
        .unwrap();
    assert!(
        registry
            .check_compatibility(&subject, Version::Latest, &retyped)
            .await
            .unwrap()
    );
    let id3 = registry.register(&subject, &retyped).await.expect("NONE");
    assert_eq!(id3, SchemaId(REGISTERED_ID_MIN + 1));
    assert_eq!(registry.versions(&subject).await.unwrap(), vec![1, 2, 3]);
    // Other subjects keep the global BACKWARD level.
    let other = EventSchema::AccountOpened;
    let err = registry
        .register(
            &other.subject(),
            &with_field(other.source(), json!({"name": "x", "type": "int"})),
        )
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), 409);
    assert_eq!(
        registry.compatibility(Some(&subject)).await.unwrap(),
        Compatibility::None
    );
    assert_eq!(
        registry.compatibility(Some(&other.subject())).await,
        Err(RegistryError::SubjectCompatibilityNotConfigured(
            other.subject()
        ))
    );
}

#[tokio::test]
async fn a_schema_under_two_subjects_has_one_id_and_new_subjects_start_at_version_1() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(&dir);
    // The deposit schema under another subject: the same global id, version 1 there.
    let id = registry
        .register("copie-value", DEPOSIT.source())
        .await
        .unwrap();
    assert_eq!(id, DEPOSIT.builtin_id());
    assert_eq!(registry.versions("copie-value").await.unwrap(), vec![1]);
    let fresh = r#"{"type":"record","name":"Ping","fields":[{"name":"n","type":"long"}]}"#;
    assert_eq!(
        registry.register("ping-value", fresh).await.unwrap(),
        SchemaId(REGISTERED_ID_MIN)
    );
    let subjects = registry.subjects().await.unwrap();
    assert!(subjects.contains(&"copie-value".to_owned()));
    assert!(subjects.contains(&"ping-value".to_owned()));
}

#[tokio::test]
async fn transitive_levels_check_every_version() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(&dir);
    let subject = "t-value";
    let v1 = r#"{"type":"record","name":"T","fields":[{"name":"a","type":"string"}]}"#;
    let v2 = r#"{"type":"record","name":"T","fields":[{"name":"a","type":"string"},{"name":"b","type":"int","default":0}]}"#;
    // `b` without a default: v2 data has it, v1 data does not.
    let v3 = r#"{"type":"record","name":"T","fields":[{"name":"a","type":"string"},{"name":"b","type":"int"}]}"#;
    registry.register(subject, v1).await.unwrap();
    registry.register(subject, v2).await.unwrap();
    registry
        .set_compatibility(Some(subject), Compatibility::BackwardTransitive)
        .await
        .unwrap();
    let err = registry.register(subject, v3).await.unwrap_err();
    assert!(err.to_string().contains("version 1"), "{err}");
    // Against version 2 alone it is compatible.
    assert!(
        registry
            .check_compatibility(subject, Version::Number(2), v3)
            .await
            .unwrap()
    );
    assert!(
        !registry
            .check_compatibility(subject, Version::Latest, v3)
            .await
            .unwrap()
    );
    registry
        .set_compatibility(Some(subject), Compatibility::Backward)
        .await
        .unwrap();
    registry
        .register(subject, v3)
        .await
        .expect("BACKWARD looks at v2 only");
}

/// Registrations and levels survive reopening the directory; the built-in schemas stay.
#[tokio::test]
async fn registrations_and_levels_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let subject = DEPOSIT.subject();
    let v2 = with_field(
        DEPOSIT.source(),
        json!({"name": "agence", "type": ["null", "string"], "default": null}),
    );
    let id = {
        let registry = open(&dir);
        let id = registry.register(&subject, &v2).await.unwrap();
        registry
            .set_compatibility(None, Compatibility::Full)
            .await
            .unwrap();
        registry
            .set_compatibility(Some("x-value"), Compatibility::None)
            .await
            .unwrap();
        id
    };
    let registry = open(&dir);
    assert_eq!(registry.schema_by_id(id).await.unwrap(), v2);
    let latest = registry.version(&subject, Version::Latest).await.unwrap();
    assert_eq!((latest.version, SchemaId(latest.id)), (2, id));
    assert_eq!(registry.register(&subject, &v2).await.unwrap(), id);
    assert_eq!(
        registry.compatibility(None).await.unwrap(),
        Compatibility::Full
    );
    assert_eq!(
        registry.compatibility(Some("x-value")).await.unwrap(),
        Compatibility::None
    );
    // New ids continue after the reopened ones.
    let next = registry
        .register("n-value", r#"{"type":"record","name":"N","fields":[]}"#)
        .await
        .unwrap();
    assert_eq!(next, SchemaId(id.0 + 1));
    assert_eq!(
        registry.schema_by_id(DEPOSIT.builtin_id()).await.unwrap(),
        DEPOSIT.source()
    );
}

/// A last line cut short (a crash during the write, before the fsync returned) is dropped;
/// a corrupt line elsewhere stops the open with its line number.
#[tokio::test]
async fn a_torn_last_line_is_dropped_and_a_corrupt_line_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let schema = r#"{"type":"record","name":"A","fields":[]}"#;
    {
        let registry = open(&dir);
        registry.register("a-value", schema).await.unwrap();
    }
    let path = dir.path().join(LOG_FILE);
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{good}{{\"op\":\"schema\",\"subj")).unwrap();
    let registry = open(&dir);
    assert_eq!(registry.versions("a-value").await.unwrap(), vec![1]);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        good,
        "torn line truncated"
    );
    // And it keeps appending after the valid prefix.
    registry
        .set_compatibility(None, Compatibility::None)
        .await
        .unwrap();
    drop(registry);
    assert_eq!(
        open(&dir).compatibility(None).await.unwrap(),
        Compatibility::None
    );

    std::fs::write(&path, format!("not json\n{good}")).unwrap();
    let err = LocalRegistry::open(dir.path()).err().expect("corrupt log");
    assert_eq!(err.error_code(), 50001);
    assert!(err.to_string().contains("line 1"), "{err}");
}

#[tokio::test]
async fn bad_input_gets_confluent_errors() {
    let dir = tempfile::tempdir().unwrap();
    let registry = open(&dir);
    let err = registry
        .register("s-value", "{\"type\":")
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), 42201, "{err}");
    let err = registry
        .register(
            "s-value",
            r#"{"type":"record","name":"R","fields":[{"name":"a","type":"nope"}]}"#,
        )
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), 42201, "{err}");
    assert!(err.to_string().contains("nope"), "{err}");
    assert_eq!(
        registry.versions("missing-value").await,
        Err(RegistryError::SubjectNotFound("missing-value".to_owned()))
    );
    let err = registry
        .version(&DEPOSIT.subject(), Version::Number(9))
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), 40402, "{err}");
    let err = registry.schema_by_id(SchemaId(424_242)).await.unwrap_err();
    assert_eq!(err.error_code(), 40403, "{err}");
    assert!(err.to_string().contains("424242"), "{err}");
    let err = registry
        .lookup(&DEPOSIT.subject(), EventSchema::AccountOpened.source())
        .await
        .unwrap_err();
    assert_eq!(err.error_code(), 40403, "{err}");
    let err = registry.register("", DEPOSIT.source()).await.unwrap_err();
    assert_eq!(err.error_code(), 42208, "{err}");
}
