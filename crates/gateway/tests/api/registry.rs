//! The schema registry under `/registry/` (X-08): Confluent's paths, JSON shapes and error
//! codes through the whole gateway router; and [`HttpRegistry`], the Confluent client,
//! against that API served on a real port, caches included.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use edalab_gateway::registry;
use edalab_gateway::{AppState, GatewaySettings as Config, Mount};
use edalab_schema::registry::CONTENT_TYPE;
use edalab_schema::registry::local::REGISTERED_ID_MIN;
use edalab_schema::{
    Compatibility, EventSchema, HttpRegistry, HttpRegistryConfig, LocalRegistry, RegistryError,
    SchemaId, SchemaRegistry, Version,
};
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::{Setup, spawn_app_with};
use edalab_bus::testing::FakeBus;

const DEPOSIT: EventSchema = EventSchema::DepositMade;

fn with_field(schema: &str, field: Value) -> String {
    let mut value: Value = serde_json::from_str(schema).expect("schema JSON");
    value["fields"].as_array_mut().expect("fields").push(field);
    value.to_string()
}

/// The whole gateway router with the registry configured as `edalab up` does (built-in,
/// in a fresh data directory), level changes allowed.
fn app() -> (Router, tempfile::TempDir) {
    app_with(registry::LevelChanges::Allowed)
}

fn app_with(levels: registry::LevelChanges) -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = Config::default();
    config.server.static_dir = dir.path().join("web/dist");
    let registry =
        registry::open(&config.registry, &dir.path().join("data")).expect("open the registry");
    let state = AppState::builder(&config, Arc::new(FakeBus::new()))
        .mount(registry::mount(registry, levels))
        .build()
        .expect("state");
    (edalab_gateway::router(state), dir)
}

/// One request through the router: status, content type, JSON body.
async fn call(
    app: &Router,
    method: &str,
    path: &str,
    body: Option<&str>,
) -> (StatusCode, String, Value) {
    let mut request = Request::builder().method(method).uri(path);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, CONTENT_TYPE);
    }
    let request = request
        .body(Body::from(body.unwrap_or_default().to_owned()))
        .expect("request");
    let response = app.clone().oneshot(request).await.expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("body");
    let json = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{method} {path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, content_type, json)
}

fn schema_body(schema: &str) -> String {
    json!({ "schema": schema }).to_string()
}

/// A Confluent error: the status, `{error_code, message}` and nothing else.
fn assert_error(answer: &(StatusCode, String, Value), status: StatusCode, code: u64) -> String {
    let (got_status, content_type, body) = answer;
    assert_eq!(*got_status, status, "{body}");
    assert_eq!(content_type, CONTENT_TYPE);
    let object = body.as_object().expect("object");
    assert_eq!(
        object.keys().collect::<Vec<_>>(),
        vec!["error_code", "message"],
        "{body}"
    );
    assert_eq!(body["error_code"], code, "{body}");
    body["message"].as_str().expect("message").to_owned()
}

#[tokio::test]
async fn confluent_paths_answer_confluent_shapes() {
    let (app, _dir) = app();
    let subject = DEPOSIT.subject();
    let base = format!("/registry/subjects/{subject}");

    let (status, content_type, body) = call(&app, "GET", "/registry/subjects", None).await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, CONTENT_TYPE)
    );
    let mut expected: Vec<String> = EventSchema::ALL.iter().map(|s| s.subject()).collect();
    expected.sort();
    assert_eq!(body, json!(expected));

    let (status, _, body) = call(&app, "GET", &format!("{base}/versions"), None).await;
    assert_eq!((status, body), (StatusCode::OK, json!([1])));

    let v1 = json!({
        "subject": subject,
        "id": DEPOSIT.builtin_id().0,
        "version": 1,
        "schema": DEPOSIT.source(),
    });
    for version in ["latest", "1", "-1"] {
        let (status, _, body) =
            call(&app, "GET", &format!("{base}/versions/{version}"), None).await;
        assert_eq!((status, &body), (StatusCode::OK, &v1), "version {version}");
    }

    // Register a compatible evolution: a new id, version 2.
    let v2 = with_field(
        DEPOSIT.source(),
        json!({"name": "agence", "type": "string", "default": ""}),
    );
    let (status, content_type, body) = call(
        &app,
        "POST",
        &format!("{base}/versions"),
        Some(&schema_body(&v2)),
    )
    .await;
    assert_eq!(
        (status, content_type.as_str()),
        (StatusCode::OK, CONTENT_TYPE)
    );
    assert_eq!(body, json!({ "id": REGISTERED_ID_MIN }));
    // Again: the same id, no new version.
    let (_, _, body) = call(
        &app,
        "POST",
        &format!("{base}/versions"),
        Some(&schema_body(&v2)),
    )
    .await;
    assert_eq!(body, json!({ "id": REGISTERED_ID_MIN }));
    let (_, _, body) = call(&app, "GET", &format!("{base}/versions"), None).await;
    assert_eq!(body, json!([1, 2]));

    let v2_version =
        json!({"subject": subject, "id": REGISTERED_ID_MIN, "version": 2, "schema": v2});
    let (status, _, body) = call(&app, "POST", &base, Some(&schema_body(&v2))).await;
    assert_eq!((status, &body), (StatusCode::OK, &v2_version));
    let (_, _, body) = call(&app, "GET", &format!("{base}/versions/latest"), None).await;
    assert_eq!(body, v2_version);

    let (status, _, body) = call(
        &app,
        "GET",
        &format!("/registry/schemas/ids/{REGISTERED_ID_MIN}"),
        None,
    )
    .await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "schema": v2 })));

    // Compatibility checks.
    let breaking = with_field(&v2, json!({"name": "guichetier", "type": "string"}));
    let compat = format!("/registry/compatibility/subjects/{subject}/versions");
    let (status, _, body) = call(
        &app,
        "POST",
        &format!("{compat}/latest"),
        Some(&schema_body(&breaking)),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "is_compatible": false }))
    );
    let (status, _, body) = call(
        &app,
        "POST",
        &format!("{compat}/1"),
        Some(&schema_body(&v2)),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "is_compatible": true }))
    );

    // Levels, global and per subject.
    let (status, _, body) = call(&app, "GET", "/registry/config", None).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "compatibilityLevel": "BACKWARD" }))
    );
    let (status, _, body) = call(
        &app,
        "PUT",
        "/registry/config",
        Some(r#"{"compatibility":"FULL"}"#),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "compatibility": "FULL" }))
    );
    let (_, _, body) = call(&app, "GET", "/registry/config", None).await;
    assert_eq!(body, json!({ "compatibilityLevel": "FULL" }));
    let subject_config = format!("/registry/config/{subject}");
    let answer = call(&app, "GET", &subject_config, None).await;
    let message = assert_error(&answer, StatusCode::NOT_FOUND, 40408);
    assert!(message.contains(&subject), "{message}");
    let (status, _, body) = call(
        &app,
        "GET",
        &format!("{subject_config}?defaultToGlobal=true"),
        None,
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "compatibilityLevel": "FULL" }))
    );
    let (status, _, body) = call(
        &app,
        "PUT",
        &subject_config,
        Some(r#"{"compatibility":"none"}"#),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "compatibility": "NONE" }))
    );
    let (_, _, body) = call(&app, "GET", &subject_config, None).await;
    assert_eq!(body, json!({ "compatibilityLevel": "NONE" }));
}

/// X-08 over HTTP: 409 naming the problem, then accepted under NONE.
#[tokio::test]
async fn unknown_registry_paths_are_confluent_404s() {
    let (app, _dir) = app();
    // What confluent-kafka's AvroSerializer asks first (issue 21): a route this registry
    // does not have gets Confluent's JSON 404, never the web UI's page.
    for path in [
        "/registry/associations/resources/orders.created?resourceType=topic",
        "/registry/nope",
        "/registry",
    ] {
        let answer = call(&app, "GET", path, None).await;
        let message = assert_error(&answer, StatusCode::NOT_FOUND, 404);
        assert!(message.contains("no registry route"), "{path}: {message}");
    }
}

#[tokio::test]
async fn a_breaking_change_is_409_until_the_subject_is_set_to_none() {
    let (app, _dir) = app();
    let subject = DEPOSIT.subject();
    let versions = format!("/registry/subjects/{subject}/versions");
    let breaking = with_field(
        DEPOSIT.source(),
        json!({"name": "guichetier", "type": "string"}),
    );
    let answer = call(&app, "POST", &versions, Some(&schema_body(&breaking))).await;
    let message = assert_error(&answer, StatusCode::CONFLICT, 409);
    assert!(message.contains("incompatible"), "{message}");
    assert!(message.contains("guichetier"), "{message}");
    assert!(message.contains("default value"), "{message}");

    let (status, _, _) = call(
        &app,
        "PUT",
        &format!("/registry/config/{subject}"),
        Some(r#"{"compatibility":"NONE"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _, body) = call(&app, "POST", &versions, Some(&schema_body(&breaking))).await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "id": REGISTERED_ID_MIN }))
    );
    let (_, _, body) = call(&app, "GET", &versions, None).await;
    assert_eq!(body, json!([1, 2]));
}

#[tokio::test]
async fn bad_input_gets_a_confluent_error_naming_it() {
    let (app, _dir) = app();
    let subject = DEPOSIT.subject();
    let versions = format!("/registry/subjects/{subject}/versions");

    let answer = call(&app, "POST", &versions, Some("{not json")).await;
    let message = assert_error(&answer, StatusCode::BAD_REQUEST, 400);
    assert!(message.contains("invalid JSON body"), "{message}");
    let answer = call(&app, "POST", &versions, Some(r#"{"schemas":"x"}"#)).await;
    let message = assert_error(&answer, StatusCode::BAD_REQUEST, 400);
    assert!(message.contains("schema"), "{message}");

    let answer = call(
        &app,
        "POST",
        &versions,
        Some(&schema_body(r#"{"type":"recrod"}"#)),
    )
    .await;
    let message = assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, 42201);
    assert!(message.starts_with("Invalid schema"), "{message}");
    let answer = call(
        &app,
        "POST",
        &versions,
        Some(r#"{"schema":"{}","schemaType":"PROTOBUF"}"#),
    )
    .await;
    let message = assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, 42201);
    assert!(message.contains("PROTOBUF"), "{message}");

    let answer = call(&app, "GET", "/registry/subjects/nope-value/versions", None).await;
    let message = assert_error(&answer, StatusCode::NOT_FOUND, 40401);
    assert_eq!(message, "Subject 'nope-value' not found.");
    let answer = call(
        &app,
        "POST",
        "/registry/subjects/nope-value",
        Some(&schema_body(DEPOSIT.source())),
    )
    .await;
    assert_error(&answer, StatusCode::NOT_FOUND, 40401);
    let answer = call(
        &app,
        "POST",
        &format!("/registry/subjects/{subject}"),
        Some(&schema_body(EventSchema::AccountOpened.source())),
    )
    .await;
    assert_error(&answer, StatusCode::NOT_FOUND, 40403);

    let answer = call(&app, "GET", "/registry/schemas/ids/4242", None).await;
    let message = assert_error(&answer, StatusCode::NOT_FOUND, 40403);
    assert!(message.contains("4242"), "{message}");
    let answer = call(&app, "GET", "/registry/schemas/ids/abc", None).await;
    assert_error(&answer, StatusCode::NOT_FOUND, 40403);

    for bad in ["0", "abc", "-2", "99999999999"] {
        let answer = call(&app, "GET", &format!("{versions}/{bad}"), None).await;
        let message = assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, 42202);
        assert!(message.contains(&format!("'{bad}'")), "{message}");
    }
    let answer = call(&app, "GET", &format!("{versions}/7"), None).await;
    assert_error(&answer, StatusCode::NOT_FOUND, 40402);
    let answer = call(
        &app,
        "POST",
        &format!("/registry/compatibility/subjects/{subject}/versions/zero"),
        Some(&schema_body(DEPOSIT.source())),
    )
    .await;
    assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, 42202);

    let answer = call(
        &app,
        "PUT",
        "/registry/config",
        Some(r#"{"compatibility":"SIDEWAYS"}"#),
    )
    .await;
    let message = assert_error(&answer, StatusCode::UNPROCESSABLE_ENTITY, 42203);
    assert!(message.contains("SIDEWAYS"), "{message}");
    let answer = call(&app, "PUT", "/registry/config", Some("[]")).await;
    assert_error(&answer, StatusCode::BAD_REQUEST, 400);
}

/// Issue 16: Avro names apache-avro used to panic on, and unknown fields, over a real port:
/// Confluent's 42201 with a message (never an empty reply), and 400 naming the field.
#[tokio::test]
async fn bad_avro_names_are_42201_and_unknown_fields_400_on_a_real_port() {
    let dir = tempfile::tempdir().expect("dir");
    let registry: Arc<dyn SchemaRegistry> =
        Arc::new(LocalRegistry::open(dir.path()).expect("open"));
    let app = spawn_app_with(Setup {
        mounts: vec![registry::mount(registry, registry::LevelChanges::Allowed)],
        fake_bus: true,
        ..Setup::default()
    })
    .await;
    let post = |path: String, body: String| {
        let request = app
            .http
            .post(app.url(&path))
            .header(header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body);
        async move {
            let response = request
                .send()
                .await
                .expect("an answer, not a dropped connection");
            let status = response.status().as_u16();
            let body: Value = response.json().await.expect("a JSON body");
            (status, body)
        }
    };
    for name in ["T-1", "1T", ""] {
        let schema =
            json!({"type": "record", "name": name, "fields": [{"name": "a", "type": "string"}]});
        for path in [
            "/registry/subjects/probe-value/versions".to_owned(),
            "/registry/compatibility/subjects/probe-value/versions/latest".to_owned(),
        ] {
            let (status, body) = post(path.clone(), schema_body(&schema.to_string())).await;
            if path.contains("compatibility") && status == 404 {
                continue; // no version yet to compare with: 40401, before any parse
            }
            assert_eq!(status, 422, "{name:?} {path}: {body}");
            assert_eq!(body["error_code"], 42201, "{body}");
            let message = body["message"].as_str().expect("message");
            assert!(message.contains("invalid Avro name"), "{message}");
        }
    }
    let (status, body) = post(
        "/registry/subjects/probe-value/versions".to_owned(),
        json!({"schema": "\"string\"", "tags": ["x"]}).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("tags"),
        "{body}"
    );
    let (status, body) = post(
        "/registry/subjects/probe-value/versions".to_owned(),
        json!({"schema": "\"string\"", "ruleSet": {"domainRules": [{"name": "r"}]}}).to_string(),
    )
    .await;
    assert_eq!(
        status, 422,
        "a data-contract rule is refused, not ignored: {body}"
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("ruleSet"),
        "{body}"
    );
    let (status, body) = post(
        "/registry/subjects/probe-value/versions".to_owned(),
        json!({"schema": "\"string\"", "metadata": null}).to_string(),
    )
    .await;
    assert_eq!(status, 200, "an empty known field is fine: {body}");
    let response = app
        .http
        .put(app.url("/registry/config"))
        .header(header::CONTENT_TYPE, CONTENT_TYPE)
        .body(r#"{"compatibility":"NONE","normalise":true}"#)
        .send()
        .await
        .expect("answer");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("JSON");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("normalise"),
        "{body}"
    );
    app.stop().await;
}

/// Counts the HTTP requests the registry routes receive.
fn counted_mount(registry: Arc<dyn SchemaRegistry>, count: Arc<AtomicUsize>) -> Mount {
    let layer = tower::util::MapRequestLayer::new(move |request: Request<Body>| {
        count.fetch_add(1, Ordering::SeqCst);
        request
    });
    Mount::new(
        "registry",
        registry::router(registry, registry::LevelChanges::Allowed).layer(layer),
    )
}

/// The Confluent client against the gateway's own `/registry/` on a real port: every call
/// of the port, errors mapped back to their variant, and the caches saving requests.
#[tokio::test]
async fn http_registry_speaks_to_the_gateway_api_and_caches_what_never_changes() {
    let served_dir = tempfile::tempdir().expect("dir");
    let served: Arc<dyn SchemaRegistry> =
        Arc::new(LocalRegistry::open(served_dir.path()).expect("open"));
    let requests = Arc::new(AtomicUsize::new(0));
    let app = spawn_app_with(Setup {
        mounts: vec![counted_mount(Arc::clone(&served), Arc::clone(&requests))],
        fake_bus: true,
        ..Setup::default()
    })
    .await;
    let client =
        HttpRegistry::new(&HttpRegistryConfig::new(&app.url("/registry"))).expect("client");
    let sent = || requests.load(Ordering::SeqCst);
    let subject = DEPOSIT.subject();

    assert_eq!(
        client.subjects().await.unwrap(),
        served.subjects().await.unwrap()
    );
    assert_eq!(client.versions(&subject).await.unwrap(), vec![1]);
    let latest = client.version(&subject, Version::Latest).await.unwrap();
    assert_eq!(
        latest,
        served.version(&subject, Version::Latest).await.unwrap()
    );
    assert_eq!(SchemaId(latest.id), DEPOSIT.builtin_id());

    // Register: one request, then the (subject, schema) → id cache answers.
    let v2 = with_field(
        DEPOSIT.source(),
        json!({"name": "agence", "type": "string", "default": ""}),
    );
    let before = sent();
    let id = client.register(&subject, &v2).await.unwrap();
    assert_eq!(id, SchemaId(REGISTERED_ID_MIN));
    assert_eq!(sent(), before + 1);
    assert_eq!(client.register(&subject, &v2).await.unwrap(), id);
    // Same schema, other layout: still the cache.
    let pretty =
        serde_json::to_string_pretty(&serde_json::from_str::<Value>(&v2).unwrap()).unwrap();
    assert_eq!(client.register(&subject, &pretty).await.unwrap(), id);
    // Its schema by id was remembered at registration: no request.
    assert_eq!(client.schema_by_id(id).await.unwrap(), v2);
    assert_eq!(sent(), before + 1, "cache hits sent no request");
    // An id never seen: one request, then cached.
    let opened = EventSchema::AccountOpened.builtin_id();
    assert_eq!(
        client.schema_by_id(opened).await.unwrap(),
        EventSchema::AccountOpened.source()
    );
    assert_eq!(
        client.schema_by_id(opened).await.unwrap(),
        EventSchema::AccountOpened.source()
    );
    assert_eq!(sent(), before + 2);

    let found = client.lookup(&subject, &v2).await.unwrap();
    assert_eq!((found.version, SchemaId(found.id)), (2, id));

    // A breaking change: Incompatible with the server's message; NONE lets it in.
    let breaking = with_field(&v2, json!({"name": "guichetier", "type": "string"}));
    assert!(
        !client
            .check_compatibility(&subject, Version::Latest, &breaking)
            .await
            .unwrap()
    );
    let err = client.register(&subject, &breaking).await.unwrap_err();
    match &err {
        RegistryError::Incompatible {
            subject: s,
            message,
        } => {
            assert_eq!(s, &subject);
            assert!(message.contains("guichetier"), "{message}");
        }
        other => panic!("expected Incompatible, got {other:?}"),
    }
    assert_eq!(
        client.compatibility(Some(&subject)).await,
        Err(RegistryError::SubjectCompatibilityNotConfigured(
            subject.clone()
        ))
    );
    assert_eq!(
        client
            .set_compatibility(Some(&subject), Compatibility::None)
            .await
            .unwrap(),
        Compatibility::None
    );
    assert_eq!(
        client.compatibility(Some(&subject)).await.unwrap(),
        Compatibility::None
    );
    assert_eq!(
        client.compatibility(None).await.unwrap(),
        Compatibility::Backward
    );
    assert_eq!(
        client
            .set_compatibility(None, Compatibility::FullTransitive)
            .await
            .unwrap(),
        Compatibility::FullTransitive
    );
    assert_eq!(
        served.compatibility(None).await.unwrap(),
        Compatibility::FullTransitive
    );
    let id3 = client.register(&subject, &breaking).await.unwrap();
    assert_eq!(id3, SchemaId(REGISTERED_ID_MIN + 1));
    assert_eq!(served.versions(&subject).await.unwrap(), vec![1, 2, 3]);

    // Errors come back as the variant the served registry returned.
    assert_eq!(
        client.versions("nope-value").await,
        Err(RegistryError::SubjectNotFound("nope-value".to_owned()))
    );
    assert_eq!(
        client.version(&subject, Version::Number(9)).await,
        Err(RegistryError::VersionNotFound {
            subject: subject.clone(),
            version: "9".to_owned()
        })
    );
    let err = client.schema_by_id(SchemaId(4242)).await.unwrap_err();
    assert_eq!(err.error_code(), 40403, "{err}");
    let err = client.register(&subject, "{\"type\":").await.unwrap_err();
    assert!(matches!(err, RegistryError::InvalidSchema(_)), "{err:?}");
    assert!(
        !err.to_string().contains("Invalid schema: Invalid schema"),
        "{err}"
    );
    // A subject with characters that need escaping in a path.
    let odd = "odd subject/with?chars-value";
    let ping = r#"{"type":"record","name":"Ping","fields":[]}"#;
    let ping_id = client.register(odd, ping).await.unwrap();
    assert_eq!(served.versions(odd).await.unwrap(), vec![1]);
    assert_eq!(served.schema_by_id(ping_id).await.unwrap(), ping);

    app.stop().await;
    // Nobody listening: a transport error naming the URL.
    let err = client.subjects().await.unwrap_err();
    assert!(matches!(err, RegistryError::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains("/registry/subjects"), "{err}");
}

/// `registry.url` set: `/registry/` relays to that registry through the client.
#[tokio::test]
async fn with_registry_url_the_gateway_relays_to_the_external_registry() {
    let upstream_dir = tempfile::tempdir().expect("dir");
    let upstream: Arc<dyn SchemaRegistry> =
        Arc::new(LocalRegistry::open(upstream_dir.path()).expect("open"));
    let upstream_app = spawn_app_with(Setup {
        mounts: vec![registry::mount(
            Arc::clone(&upstream),
            registry::LevelChanges::Allowed,
        )],
        fake_bus: true,
        ..Setup::default()
    })
    .await;
    let mut config = Config::default();
    config.registry.url = upstream_app.url("/registry");
    assert!(config.problems().is_empty(), "valid config");
    let relayed = registry::open(&config.registry, std::path::Path::new("unused")).expect("client");
    let state = AppState::builder(&config, Arc::new(FakeBus::new()))
        .mount(registry::mount(relayed, registry::LevelChanges::Allowed))
        .build()
        .expect("state");
    let app = edalab_gateway::router(state);

    let subject = DEPOSIT.subject();
    let v2 = with_field(
        DEPOSIT.source(),
        json!({"name": "agence", "type": "string", "default": ""}),
    );
    let (status, _, body) = call(
        &app,
        "POST",
        &format!("/registry/subjects/{subject}/versions"),
        Some(&schema_body(&v2)),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({ "id": REGISTERED_ID_MIN }))
    );
    assert_eq!(upstream.versions(&subject).await.unwrap(), vec![1, 2]);
    let answer = call(&app, "GET", "/registry/subjects/nope-value/versions", None).await;
    assert_error(&answer, StatusCode::NOT_FOUND, 40401);
    upstream_app.stop().await;
}

/// The registry's routes are in the gateway's OpenAPI document (valid OpenAPI 3), each with
/// Confluent's error body as its default response.
#[tokio::test]
async fn the_registry_routes_are_documented_with_confluent_errors() {
    let dir = tempfile::tempdir().expect("dir");
    let registry: Arc<dyn SchemaRegistry> =
        Arc::new(LocalRegistry::open(dir.path()).expect("open"));
    let config = Config::default();
    let state = AppState::builder(&config, Arc::new(FakeBus::new()))
        .mount(registry::mount(registry, registry::LevelChanges::Allowed))
        .build()
        .expect("state");
    let doc = state.openapi();
    let text = doc.to_pretty_json().expect("JSON");
    oas3::from_json(&text).expect("valid OpenAPI 3");
    let registry_operations: Vec<(String, String)> = edalab_gateway::operations(&doc)
        .into_iter()
        .filter(|(_, path)| path.starts_with("/registry/"))
        .collect();
    let expected = [
        ("GET", "/registry/config"),
        ("PUT", "/registry/config"),
        ("GET", "/registry/config/{subject}"),
        ("PUT", "/registry/config/{subject}"),
        (
            "POST",
            "/registry/compatibility/subjects/{subject}/versions/{version}",
        ),
        ("GET", "/registry/schemas/ids/{id}"),
        ("GET", "/registry/subjects"),
        ("POST", "/registry/subjects/{subject}"),
        ("GET", "/registry/subjects/{subject}/versions"),
        ("POST", "/registry/subjects/{subject}/versions"),
        ("GET", "/registry/subjects/{subject}/versions/{version}"),
    ];
    let mut expected: Vec<(String, String)> = expected
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    expected.sort();
    assert_eq!(registry_operations, expected);
    let json: Value = serde_json::from_str(&text).expect("JSON");
    for (method, path) in &expected {
        let default = &json["paths"][path][method.to_lowercase()]["responses"]["default"];
        let schema =
            default["content"]["application/vnd.schemaregistry.v1+json"]["schema"]["$ref"].as_str();
        assert_eq!(
            schema,
            Some("#/components/schemas/RegistryErrorBody"),
            "{method} {path}: {default}"
        );
    }
}

/// Issue 21, part 7: without tokens and without `registry.allow_level_changes`, a level
/// change is refused with Confluent's 403 body naming the settings, and nothing changes.
#[tokio::test]
async fn level_changes_are_refused_unless_allowed() {
    let (app, _dir) = app_with(registry::LevelChanges::Refused);
    let subject = DEPOSIT.subject();
    for path in [
        "/registry/config".to_owned(),
        format!("/registry/config/{subject}"),
    ] {
        let answer = call(&app, "PUT", &path, Some(r#"{"compatibility":"NONE"}"#)).await;
        let message = assert_error(&answer, StatusCode::FORBIDDEN, 40301);
        assert!(
            message.contains("registry.allow_level_changes") && message.contains("security.tokens"),
            "{message}"
        );
    }
    let (_, _, body) = call(&app, "GET", "/registry/config", None).await;
    assert_eq!(body["compatibilityLevel"], "BACKWARD");
    let answer = call(&app, "GET", &format!("/registry/config/{subject}"), None).await;
    assert_error(&answer, StatusCode::NOT_FOUND, 40408);
    // Registering (what producers do) is not a level change: still allowed.
    let schema = serde_json::json!({ "schema": DEPOSIT.source() }).to_string();
    let (status, _, _) = call(
        &app,
        "POST",
        &format!("/registry/subjects/{subject}/versions"),
        Some(&schema),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn level_changes_follow_the_settings() {
    use edalab_gateway::config::RegistryConfig;
    use edalab_gateway::security::SecurityConfig;
    let mut settings = RegistryConfig::default();
    let mut security = SecurityConfig::default();
    let decide = |r: &RegistryConfig, s: &SecurityConfig| registry::LevelChanges::from_config(r, s);
    assert_eq!(
        decide(&settings, &security),
        registry::LevelChanges::Refused
    );
    settings.allow_level_changes = true;
    assert_eq!(
        decide(&settings, &security),
        registry::LevelChanges::Allowed
    );
    settings.allow_level_changes = false;
    security.tokens = vec![edalab_gateway::security::TokenHash::of(
        "a-token-of-at-least-32-characters",
    )];
    assert_eq!(
        decide(&settings, &security),
        registry::LevelChanges::Allowed
    );
}
