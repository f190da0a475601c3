//! HTTP hygiene: JSON errors, limits, timeout, CORS, request ids, health, static UI.

use std::sync::Arc;

use async_trait::async_trait;
use edalab_gateway::{ErrorBody, HealthCheck, HealthReport, Role};
use reqwest::StatusCode;
use serde_json::json;

use crate::{Setup, spawn_app, spawn_app_with, test_service};

async fn error_body(response: reqwest::Response, status: StatusCode) -> ErrorBody {
    assert_eq!(response.status(), status);
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type}"
    );
    response
        .json::<ErrorBody>()
        .await
        .expect("error body is JSON {error, code, details}")
}

fn with_test_service(change: impl FnOnce(&mut edalab_gateway::GatewaySettings) + 'static) -> Setup {
    Setup {
        topics: vec![("alpha", 1)],
        config: Some(Box::new(change)),
        mounts: vec![test_service::mount()],
        ..Setup::default()
    }
}

#[tokio::test]
async fn unknown_routes_are_json_404() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/nope",
        "/api/nope",
        "/api/v1/health/extra",
        "/assets/missing.js",
    ] {
        let body = error_body(app.get(path).await, StatusCode::NOT_FOUND).await;
        assert_eq!(body.code, "route_not_found", "{path}");
        assert!(body.error.contains(path), "{}", body.error);
    }
    // Outside the API a page path is the web UI's client-side route: its index.html.
    let page = app.get("/nope").await;
    assert_eq!(page.status(), StatusCode::OK);
    let content_type = page
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(content_type.starts_with("text/html"), "{content_type}");
    app.stop().await;
}

#[tokio::test]
async fn wrong_methods_are_json_405() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(app.url("/api/v1/health"))
        .send()
        .await
        .expect("POST");
    let body = error_body(response, StatusCode::METHOD_NOT_ALLOWED).await;
    assert_eq!(body.code, "method_not_allowed");
    app.stop().await;
}

#[tokio::test]
async fn bad_json_is_400_with_serde_message() {
    let app = spawn_app_with(with_test_service(|_| {})).await;
    let echo = app.url("/api/v1/test/echo");

    let ok = app
        .http
        .post(&echo)
        .json(&json!({"name": "a", "count": 2}))
        .send()
        .await
        .expect("POST");
    assert_eq!(ok.status(), StatusCode::OK);

    let syntax = app
        .http
        .post(&echo)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .expect("POST");
    let body = error_body(syntax, StatusCode::BAD_REQUEST).await;
    assert_eq!(body.code, "invalid_json");
    assert!(
        body.error.contains("EOF") || body.error.contains("line"),
        "{}",
        body.error
    );

    let missing = app
        .http
        .post(&echo)
        .json(&json!({"name": "a"}))
        .send()
        .await
        .expect("POST");
    let body = error_body(missing, StatusCode::BAD_REQUEST).await;
    assert_eq!(body.code, "invalid_json");
    assert!(
        body.error.contains("count"),
        "names the field: {}",
        body.error
    );

    let no_type = app.http.post(&echo).body("{}").send().await.expect("POST");
    let body = error_body(no_type, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
    assert_eq!(body.code, "unsupported_media_type");
    app.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_json_413() {
    let app = spawn_app_with(with_test_service(|c| c.server.body_limit_bytes = 1_000)).await;
    let big = json!({"name": "x".repeat(5_000), "count": 1});
    let response = app
        .http
        .post(app.url("/api/v1/test/echo"))
        .json(&big)
        .send()
        .await
        .expect("POST");
    let body = error_body(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(body.code, "payload_too_large");

    // Streamed without a length: the limit applies while reading.
    let chunks: Vec<Result<String, std::io::Error>> = vec![
        Ok("{\"name\": \"".to_owned()),
        Ok("y".repeat(5_000)),
        Ok("\", \"count\": 1}".to_owned()),
    ];
    let response = app
        .http
        .post(app.url("/api/v1/test/echo"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures::stream::iter(chunks)))
        .send()
        .await
        .expect("POST");
    let body = error_body(response, StatusCode::PAYLOAD_TOO_LARGE).await;
    assert_eq!(body.code, "payload_too_large");
    app.stop().await;
}

#[tokio::test]
async fn slow_requests_time_out_as_json_408() {
    let app = spawn_app_with(with_test_service(|c| c.server.request_timeout_ms = 200)).await;
    let body = error_body(
        app.get("/api/v1/test/slow").await,
        StatusCode::REQUEST_TIMEOUT,
    )
    .await;
    assert_eq!(body.code, "request_timeout");
    app.stop().await;
}

#[tokio::test]
async fn cors_allows_the_configured_origins_only() {
    let app = spawn_app().await;
    let preflight = |origin: &'static str| {
        app.http
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/health"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .send()
    };
    let allowed = preflight("http://localhost:5173").await.expect("OPTIONS");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap_or("")),
        Some("http://localhost:5173")
    );
    let refused = preflight("http://evil.example").await.expect("OPTIONS");
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
    app.stop().await;
}

#[tokio::test]
async fn request_ids_and_trace_context_come_back() {
    let app = spawn_app().await;
    let response = app
        .http
        .get(app.url("/api/v1/health"))
        .header("x-request-id", "req-42")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .send()
        .await
        .expect("GET");
    assert_eq!(response.headers()["x-request-id"], "req-42");
    let traceparent = response.headers()["traceparent"].to_str().expect("ascii");
    assert!(
        traceparent.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "{traceparent}"
    );
    assert!(
        !traceparent.contains("00f067aa0ba902b7"),
        "a child span: {traceparent}"
    );

    let fresh = app.get("/api/v1/health").await;
    assert!(
        !fresh.headers()["x-request-id"].is_empty(),
        "an id is generated"
    );
    let generated: edalab_gateway::telemetry::TraceParent = fresh.headers()["traceparent"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("a valid traceparent is generated");
    assert_eq!(generated.flags, 1);
    app.stop().await;
}

struct StoreCheck {
    up: bool,
}

#[async_trait]
impl HealthCheck for StoreCheck {
    fn name(&self) -> &str {
        "store"
    }
    fn role(&self) -> Role {
        Role::Store
    }
    fn backend(&self) -> &str {
        "sqlite"
    }
    async fn check(&self) -> Result<(), String> {
        if self.up {
            Ok(())
        } else {
            Err("database is locked".to_owned())
        }
    }
}

#[tokio::test]
async fn health_reports_the_bus_and_store_in_use() {
    let app = spawn_app_with(Setup {
        health: vec![Arc::new(StoreCheck { up: true })],
        fake_bus: true,
        ..Setup::default()
    })
    .await;
    let response = app.get("/api/v1/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    let report: HealthReport = response.json().await.expect("JSON");
    assert_eq!(report.status, "healthy");
    assert_eq!(report.kafka, "connected");
    assert_eq!(report.postgres, "connected");
    assert_eq!(report.bus.backend, "memory");
    let fake = app.fake.clone().expect("fake bus");
    assert_eq!(report.store.backend, "sqlite");
    assert_eq!(report.components.len(), 3, "bus, bus-writes, store");
    // The platform's uptime: since this process started serving, not since the page loaded.
    let started = chrono::DateTime::parse_from_rfc3339(&report.started_at).expect("RFC 3339");
    assert!(started <= chrono::Utc::now(), "{}", report.started_at);
    let first_uptime = report.uptime_seconds;
    assert!(first_uptime >= 0.0, "{first_uptime}");

    // Below the free-space floor: health says so (503, `bus-writes` down, the bus itself
    // still connected) while reads keep answering.
    fake.set_disk_full(true);
    let response = app.get("/api/v1/health").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let report: HealthReport = response.json().await.expect("JSON");
    assert_eq!(report.kafka, "connected");
    assert!(report.uptime_seconds >= first_uptime, "uptime grows");
    let writes = report
        .components
        .iter()
        .find(|c| c.name == "bus-writes")
        .expect("bus-writes");
    assert_eq!(writes.status, "down");
    assert!(
        writes
            .error
            .as_deref()
            .unwrap_or("")
            .contains("bus.disk_free_bytes_min"),
        "{writes:?}"
    );
    assert_eq!(app.get("/api/v1/dlq").await.status(), StatusCode::OK);
    fake.set_disk_full(false);

    fake.set_down(true);
    let response = app.get("/api/v1/health").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let report: HealthReport = response.json().await.expect("JSON");
    assert_eq!(report.status, "unhealthy");
    assert_eq!(report.kafka, "disconnected");
    assert_eq!(report.postgres, "connected");
    let bus = report
        .components
        .iter()
        .find(|c| c.name == "bus")
        .expect("bus");
    assert_eq!(bus.status, "down");
    assert!(
        bus.error.as_deref().unwrap_or("").contains("down"),
        "{bus:?}"
    );
    fake.set_down(false);
    app.stop().await;
}

#[tokio::test]
async fn a_store_down_is_503_and_no_store_is_not_configured() {
    let app = spawn_app_with(Setup {
        health: vec![Arc::new(StoreCheck { up: false })],
        ..Setup::default()
    })
    .await;
    let response = app.get("/api/v1/health").await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let report: HealthReport = response.json().await.expect("JSON");
    assert_eq!(report.postgres, "disconnected");
    app.stop().await;

    let app = spawn_app().await;
    let report: HealthReport = app.get("/api/v1/health").await.json().await.expect("JSON");
    assert_eq!(report.status, "healthy");
    assert_eq!(report.bus.backend, "embedded");
    assert_eq!(report.postgres, "not_configured");
    app.stop().await;
}

#[tokio::test]
async fn the_root_serves_the_ui_built_into_the_binary_or_the_static_dir_override() {
    let app = spawn_app().await;
    let page = app.get("/").await;
    assert_eq!(page.status(), StatusCode::OK);
    let embedded = edalab_gateway::ui::embedded_index().expect("an embedded index.html");
    assert_eq!(page.bytes().await.expect("body"), embedded);
    let route = app.get("/flows/banking").await.bytes().await.expect("body");
    assert_eq!(route, embedded, "a client route gets the index");
    let body = error_body(app.get("/assets/gone.js").await, StatusCode::NOT_FOUND).await;
    assert_eq!(body.code, "route_not_found");

    // `server.static_dir` holding a build overrides the embedded UI (UI development).

    let dist = app.state.config().server.static_dir.clone();
    std::fs::create_dir_all(dist.join("assets")).expect("mkdir");
    std::fs::write(dist.join("index.html"), "<html>the real UI</html>").expect("write");
    std::fs::write(dist.join("assets/app.js"), "console.log(1)").expect("write");
    assert!(
        app.get("/")
            .await
            .text()
            .await
            .expect("text")
            .contains("the real UI")
    );
    assert_eq!(
        app.get("/assets/app.js").await.text().await.expect("text"),
        "console.log(1)"
    );
    // Client-side routes get the SPA's index; the API still answers JSON 404.
    assert!(
        app.get("/flows/banking")
            .await
            .text()
            .await
            .expect("text")
            .contains("the real UI")
    );
    let body = error_body(app.get("/api/v1/nope").await, StatusCode::NOT_FOUND).await;
    assert_eq!(body.code, "route_not_found");
    app.stop().await;
}

#[tokio::test]
async fn the_gateway_starts_on_the_configured_address_and_stops_gracefully() {
    let bus = edalab_bus::testing::FakeBus::new();
    let mut config = edalab_gateway::GatewaySettings::default();
    config.server.listen = "127.0.0.1:0".parse().expect("addr");
    let state = edalab_gateway::AppState::builder(&config, Arc::new(bus))
        .build()
        .expect("state");
    let started = std::time::Instant::now();
    let gateway = edalab_gateway::Gateway::start(&config, state)
        .await
        .expect("start");
    let urls = gateway.urls().to_string();
    let base = gateway.urls().base();
    for path in ["/api/v1/health", "/api/v1/openapi.json", "/metrics", "/ws"] {
        assert!(urls.contains(path), "{urls}");
    }
    let health = reqwest::get(format!("{base}/api/v1/health"))
        .await
        .expect("GET");
    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "healthy in under 2 s"
    );
    gateway.shutdown().await.expect("graceful shutdown");
    assert!(
        reqwest::get(format!("{base}/api/v1/health")).await.is_err(),
        "no longer listening"
    );
}

#[tokio::test]
async fn a_taken_address_names_the_key() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let mut config = edalab_gateway::GatewaySettings::default();
    config.server.listen = edalab_gateway::config::ListenAddr(taken.local_addr().expect("addr"));
    let state =
        edalab_gateway::AppState::builder(&config, Arc::new(edalab_bus::testing::FakeBus::new()))
            .build()
            .expect("state");
    let Err(error) = edalab_gateway::Gateway::start(&config, state).await else {
        panic!("started on a taken address");
    };
    assert!(error.to_string().contains("server.listen"), "{error}");
}
