//! The pipelines' OpenAPI document comes from their handlers (`#[utoipa::path]`): it lists
//! exactly the routes the router serves, every answer a route gives has its status
//! documented, and every JSON body fits its documented schema (keys, required keys, types,
//! nested objects and arrays). Real routers over the real embedded bus, real requests.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::pipeline_support::{all, raw};
use axum::Router;
use axum::http::StatusCode;
use edalab_services::{intake, saga};
use serde_json::{Value, json};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

/// The seed's routes of S0, S1, S2 and S4 under `/api/v1`.
const EXPECTED: [(&str, &str); 10] = [
    ("GET", "/api/v1/calculator/{id}"),
    ("GET", "/api/v1/intake/orders/{order_id}"),
    ("GET", "/api/v1/intake/stats"),
    ("GET", "/api/v1/orders"),
    ("GET", "/api/v1/orders/{order_id}/status"),
    ("GET", "/api/v1/transactions/analytics"),
    ("GET", "/api/v1/transactions/{id}"),
    ("POST", "/api/v1/calculator"),
    ("POST", "/api/v1/orders"),
    ("POST", "/api/v1/transactions"),
];

fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            out.insert((method.to_uppercase(), path.clone()));
        }
    }
    out
}

/// `schema` with its `$ref` followed.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected $ref {reference}"));
            let target = &doc["components"]["schemas"][name];
            assert!(target.is_object(), "schema {name} is not in components");
            resolve(doc, target)
        }
        None => schema,
    }
}

fn type_fits(types: &Value, value: &Value) -> bool {
    let names: Vec<&str> = match types {
        Value::String(name) => vec![name.as_str()],
        Value::Array(names) => names.iter().filter_map(Value::as_str).collect(),
        _ => return true,
    };
    names.iter().any(|name| match *name {
        "null" => value.is_null(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        _ => false,
    })
}

/// Whether `value` fits `schema`; `Err` says where and why not.
fn fits(doc: &Value, schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let schema = resolve(doc, schema);
    for key in ["oneOf", "anyOf"] {
        if let Some(alternatives) = schema[key].as_array() {
            let errors: Vec<String> = alternatives
                .iter()
                .filter_map(|alt| fits(doc, alt, value, at).err())
                .collect();
            return if errors.len() < alternatives.len() {
                Ok(())
            } else {
                Err(errors.join(" | "))
            };
        }
    }
    // allOf (a flattened struct): the union of the parts' properties.
    let parts: Vec<&Value> = match schema["allOf"].as_array() {
        Some(parts) => parts.iter().map(|p| resolve(doc, p)).collect(),
        None => vec![schema],
    };
    for part in &parts {
        if !type_fits(&part["type"], value) {
            return Err(format!("{at}: {value} is not of type {}", part["type"]));
        }
    }
    if let Some(object) = value.as_object() {
        let mut properties = serde_json::Map::new();
        let mut required = BTreeSet::new();
        let mut described = false;
        for part in &parts {
            if let Some(p) = part["properties"].as_object() {
                described = true;
                properties.extend(p.clone());
            }
            required.extend(
                part["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(str::to_owned),
            );
        }
        if described {
            for (key, field) in object {
                let Some(field_schema) = properties.get(key) else {
                    return Err(format!("{at}: `{key}` is not documented"));
                };
                fits(doc, field_schema, field, &format!("{at}.{key}"))?;
            }
        }
        if let Some(missing) = required.iter().find(|r| !object.contains_key(*r)) {
            return Err(format!("{at}: required `{missing}` is missing"));
        }
    }
    if let (Some(items), Some(schema_items)) = (value.as_array(), parts[0].get("items")) {
        for (i, item) in items.iter().enumerate() {
            fits(doc, schema_items, item, &format!("{at}[{i}]"))?;
        }
    }
    Ok(())
}

/// Calls the route and checks the answer against the document; returns the JSON body.
async fn checked(
    app: &Router,
    doc: &Value,
    (method, path): (&str, &str),
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let (status, bytes) = raw(app, method, uri, body).await;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
        panic!(
            "{method} {uri}: not JSON: {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    let response = &doc["paths"][path][method.to_lowercase()]["responses"][status.as_str()];
    assert!(
        response.is_object(),
        "{method} {path} answered {status}, which is not documented: {value}"
    );
    assert!(
        response["description"].is_string(),
        "{method} {path} {status}"
    );
    let schema = &response["content"]["application/json"]["schema"];
    assert!(
        schema.is_object(),
        "{method} {path} {status}: no JSON schema"
    );
    if let Err(why) = fits(doc, schema, &value, "body") {
        panic!("{method} {uri} {status}: {why}\n{value}");
    }
    (status, value)
}

async fn until_settled(
    app: &Router,
    doc: &Value,
    route: (&str, &str),
    uri: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let (status, body) = checked(app, doc, route, uri, None).await;
        if (status == StatusCode::OK && done(&body)) || tokio::time::Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_the_served_routes_and_the_bodies_fit_it() {
    let (dir, embedded, bus) = crate::pipeline_support::scratch_bus();
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let pipelines = all::start_all(bus.clone(), dir.path(), shutdown).await;
    let (app, doc) = pipelines.openapi_router().split_for_parts();
    let doc = serde_json::to_value(&doc).expect("document as JSON");

    // Documented: exactly the seed's routes, each with a summary, a tag and a 2xx answer.
    let documented = operations(&doc);
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
        .collect();
    assert_eq!(documented, expected);
    for (method, path) in &documented {
        let operation = &doc["paths"][path][method.to_lowercase()];
        assert!(operation["summary"].is_string(), "{method} {path}: summary");
        assert!(operation["tags"][0].is_string(), "{method} {path}: tag");
        let responses = operation["responses"].as_object().expect("responses");
        assert!(
            responses.keys().any(|code| code.starts_with('2')),
            "{method} {path}: a success answer"
        );
        if path.contains('{') {
            assert_eq!(
                operation["parameters"][0]["in"], "path",
                "{method} {path}: its path parameter"
            );
        }
    }

    // Served: every documented (method, path) is routed; any other method on it is 405;
    // paths beside them are not routed (404 with no body: no fallback here).
    let mut served = BTreeSet::new();
    for path in documented.iter().map(|(_, p)| p).collect::<BTreeSet<_>>() {
        let concrete = path.replace('{', "x").replace('}', "");
        for method in METHODS {
            let (status, bytes) = raw(&app, method, &concrete, None).await;
            if status == StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            assert!(
                !(status == StatusCode::NOT_FOUND && bytes.is_empty()),
                "{method} {path} is not routed"
            );
            served.insert((method.to_owned(), path.clone()));
        }
    }
    assert_eq!(served, documented, "served routes differ from the document");
    for probe in [
        "/orders",
        "/api/v1/intake/orders",
        "/api/v1/transactions/x/y",
        "/api/v1",
    ] {
        let (status, bytes) = raw(&app, "GET", probe, None).await;
        assert!(
            status == StatusCode::NOT_FOUND && bytes.is_empty(),
            "{probe} is routed ({status})"
        );
    }

    // S0.
    let submit = ("POST", "/api/v1/transactions");
    let valid =
        json!({"amount": 12.5, "currency": "EUR", "accountFrom": "A-1", "accountTo": "B-2"});
    let (status, body) = checked(&app, &doc, submit, submit.1, Some(&valid.to_string())).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let id = body["transactionId"].as_str().expect("id").to_owned();
    let (status, body) = checked(&app, &doc, submit, submit.1, Some(r#"{"amount": -1}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["details"][0]["field"], "amount", "{body}");
    let show = ("GET", "/api/v1/transactions/{id}");
    let view = until_settled(
        &app,
        &doc,
        show,
        &format!("/api/v1/transactions/{id}"),
        |b| b["status"] == "PROCESSED",
    )
    .await;
    assert_eq!(view["status"], "PROCESSED", "{view}");
    let (status, _) = checked(&app, &doc, show, "/api/v1/transactions/txn-nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let analytics = ("GET", "/api/v1/transactions/analytics");
    let body = until_settled(&app, &doc, analytics, analytics.1, |b| {
        b["totals"].as_array().is_some_and(|t| !t.is_empty())
    })
    .await;
    assert_eq!(body["totals"][0]["currency"], "EUR", "{body}");

    // S1.
    let calc = ("POST", "/api/v1/calculator");
    let (status, body) = checked(
        &app,
        &doc,
        calc,
        calc.1,
        Some(r#"{"operation": "multiply", "a": 6, "b": 7}"#),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let calc_id = body["id"].as_str().expect("id").to_owned();
    let (status, _) = checked(&app, &doc, calc, calc.1, Some(r#"{"operation": "pow"}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let calc_show = ("GET", "/api/v1/calculator/{id}");
    let body = until_settled(
        &app,
        &doc,
        calc_show,
        &format!("/api/v1/calculator/{calc_id}"),
        |b| b["status"] == "COMPLETED",
    )
    .await;
    assert_eq!(body["result"], 42, "{body}");
    let (status, _) = checked(&app, &doc, calc_show, "/api/v1/calculator/nope", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // S2: an order file and a duplicate of it.
    let order = r#"{"order_id": "ORD-DOC-1", "customer_id": "CUST-1",
        "created_at": "2026-01-07T10:00:00Z", "currency": "EUR", "amount": 10.0,
        "items": [{"sku": "SKU-1", "qty": 1, "unit_price": 10.0}]}"#;
    let inbox = intake::inbox_dir(dir.path());
    for name in ["doc-1.json", "doc-1-again.json"] {
        let aside = dir.path().join(format!("{name}.partial"));
        std::fs::write(&aside, order).expect("write");
        std::fs::rename(&aside, inbox.join(name)).expect("rename");
    }
    let intake_show = ("GET", "/api/v1/intake/orders/{order_id}");
    let body = until_settled(
        &app,
        &doc,
        intake_show,
        "/api/v1/intake/orders/ORD-DOC-1",
        |b| b["duplicates"].as_array().is_some_and(|d| !d.is_empty()),
    )
    .await;
    assert_eq!(body["duplicates"][0]["status"], "DUPLICATE", "{body}");
    let (status, _) = checked(
        &app,
        &doc,
        intake_show,
        "/api/v1/intake/orders/ORD-404",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let stats = ("GET", "/api/v1/intake/stats");
    let (status, body) = checked(&app, &doc, stats, stats.1, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["orders_processed_total"], 1, "{body}");

    // S4.
    let create = ("POST", "/api/v1/orders");
    let (status, body) = checked(
        &app,
        &doc,
        create,
        create.1,
        Some(r#"{"userId": "u-doc", "amount": 25.5, "items": ["book"]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let order_id = body["orderId"].as_str().expect("orderId").to_owned();
    let (status, _) = checked(&app, &doc, create, create.1, Some("{nope")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let order_status = ("GET", "/api/v1/orders/{order_id}/status");
    let body = until_settled(
        &app,
        &doc,
        order_status,
        &format!("/api/v1/orders/{order_id}/status"),
        |b| b["status"] == "PAYMENT_AUTHORIZED",
    )
    .await;
    assert_eq!(body["status"], "PAYMENT_AUTHORIZED", "{body}");
    let (status, _) = checked(&app, &doc, order_status, "/api/v1/orders/nope/status", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let list = ("GET", "/api/v1/orders");
    let (status, body) = checked(&app, &doc, list, "/api/v1/orders?limit=5", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["count"], 1, "{body}");
    let (status, _) = checked(&app, &doc, list, "/api/v1/orders?limit=many", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Standalone (`edalab serve orders`): the same operations at the seed's paths.
    let (standalone, standalone_doc) =
        saga::api::standalone_openapi_router(pipelines.saga.state.clone()).split_for_parts();
    let standalone_doc = serde_json::to_value(&standalone_doc).expect("JSON");
    let want: BTreeSet<(String, String)> = [
        ("GET", "/orders"),
        ("POST", "/orders"),
        ("GET", "/orders/{order_id}/status"),
    ]
    .iter()
    .map(|(m, p)| ((*m).to_owned(), (*p).to_owned()))
    .collect();
    assert_eq!(operations(&standalone_doc), want);
    let (status, _) = checked(
        &standalone,
        &standalone_doc,
        ("POST", "/orders"),
        "/orders",
        Some(r#"{"userId": "u-doc", "amount": 1, "items": ["pen"]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);

    stop.send(true).expect("stop");
    pipelines.join().await.expect("clean shutdown");
    embedded.close().await.expect("close");
}
