//! The OpenAPI document is valid OpenAPI 3 and lists exactly the routes the router serves.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};

use crate::{Setup, spawn_app_with, test_service};

/// Paths the router must not serve (probes for the "nothing undocumented" direction).
const UNDOCUMENTED_PROBES: [&str; 6] = [
    "/api",
    "/api/v1",
    "/api/v1/metrics",
    "/health",
    "/openapi.json",
    "/api/v1/test",
];

/// The probes a browser may open as pages of the web UI.
const UI_PAGE_PROBES: [&str; 1] = ["/health"];

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];

#[tokio::test]
async fn the_document_is_valid_openapi_3_and_matches_the_router() {
    let app = spawn_app_with(Setup {
        topics: vec![("alpha", 1)],
        mounts: vec![test_service::mount()],
        ..Setup::default()
    })
    .await;
    let response = app.get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.expect("text");

    // Valid OpenAPI 3 (3.1, what utoipa 5 emits), checked by an independent parser.
    let spec = oas3::from_json(&text).expect("the document parses as OpenAPI 3.1");
    assert!(spec.openapi.starts_with("3."), "version {}", spec.openapi);
    let doc: serde_json::Value = serde_json::from_str(&text).expect("JSON");

    // Every operation has a success response and the shared error response.
    let mut documented: BTreeSet<(String, String)> = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            let responses = operation["responses"].as_object().expect("responses");
            assert!(
                responses.contains_key("default"),
                "{method} {path} lacks the error response"
            );
            assert!(
                responses
                    .keys()
                    .any(|code| code.starts_with('1') || code.starts_with('2')),
                "{method} {path} lacks a success response"
            );
            documented.insert((method.to_uppercase(), path.clone()));
        }
    }
    // The shared schemas are there.
    for schema in [
        "ErrorBody",
        "HealthReport",
        "ServerMessage",
        "ClientMessage",
        "Echo",
    ] {
        assert!(
            doc["components"]["schemas"][schema].is_object(),
            "schema {schema} missing"
        );
    }
    // The code's own list agrees with what is served over HTTP.
    let from_code: BTreeSet<(String, String)> = edalab_gateway::operations(&app.state.openapi())
        .into_iter()
        .collect();
    assert_eq!(documented, from_code);

    // What the router serves: for each documented path, probe every method. A documented
    // (method, path) must be routed (not the JSON 404 fallback, not 405); any other
    // method on that path must be 405.
    let mut served: BTreeSet<(String, String)> = BTreeSet::new();
    let paths: BTreeSet<String> = documented.iter().map(|(_, p)| p.clone()).collect();
    for path in &paths {
        let concrete = path.replace('{', "x").replace('}', "");
        for method in METHODS {
            if path == "/api/v1/test/slow" && method == "GET" {
                served.insert((method.to_owned(), path.clone()));
                continue; // routed, and takes 10 s by design
            }
            let response = app
                .http
                .request(
                    Method::from_bytes(method.as_bytes()).expect("method"),
                    app.url(&concrete),
                )
                .send()
                .await
                .expect("request");
            let status = response.status();
            if status == StatusCode::METHOD_NOT_ALLOWED {
                continue;
            }
            let body = response.text().await.unwrap_or_default();
            let value = serde_json::from_str::<serde_json::Value>(&body).unwrap_or_default();
            // The fallback's 404: the platform's `route_not_found`, or under `/registry/`
            // Confluent's `error_code` 404 (a route of the registry answers 404xx codes).
            let fell_through =
                value["code"] == "route_not_found" || value["error_code"] == serde_json::json!(404);
            assert!(
                !(status == StatusCode::NOT_FOUND && fell_through),
                "{method} {path} fell through to the fallback: {body}"
            );
            served.insert((method.to_owned(), path.clone()));
        }
    }
    assert_eq!(served, documented, "served routes differ from the document");

    // Nothing outside the document is routed: the API's paths get a 404, and so does
    // every write; a read of a page path outside the API is the web UI's client-side route
    // (its `index.html`, never JSON).
    for probe in UNDOCUMENTED_PROBES {
        for method in METHODS {
            let response = app
                .http
                .request(
                    Method::from_bytes(method.as_bytes()).expect("method"),
                    app.url(probe),
                )
                .send()
                .await
                .expect("request");
            let a_ui_page = method == "GET" && UI_PAGE_PROBES.contains(&probe);
            if a_ui_page {
                assert_eq!(response.status(), StatusCode::OK, "{method} {probe}");
                let content_type = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                assert!(content_type.starts_with("text/html"), "{method} {probe}");
            } else {
                assert_eq!(response.status(), StatusCode::NOT_FOUND, "{method} {probe}");
            }
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn a_mount_that_takes_a_gateway_route_is_refused() {
    use utoipa_axum::router::OpenApiRouter;
    use utoipa_axum::routes;

    /// A second health route.
    #[utoipa::path(get, path = "/api/v1/health", responses((status = 200, description = "ok")))]
    async fn health() -> &'static str {
        "ok"
    }

    let config = edalab_gateway::GatewaySettings::default();
    let bus = std::sync::Arc::new(edalab_bus::testing::FakeBus::new());
    let result = edalab_gateway::AppState::builder(&config, bus)
        .mount(edalab_gateway::Mount::new(
            "ledger",
            OpenApiRouter::new().routes(routes!(health)),
        ))
        .build();
    let Err(error) = result else {
        panic!("the conflicting mount was accepted");
    };
    let text = error.to_string();
    assert!(
        text.contains("/api/v1/health") && text.contains("ledger"),
        "{text}"
    );
}
