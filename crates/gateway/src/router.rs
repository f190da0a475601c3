//! The router: the gateway's own routes, the service routers mounted into it, the HTTP
//! hygiene layers, and [`serve`].
//!
//! **One list of routes.** Every route is registered through a `utoipa_axum`
//! [`OpenApiRouter`], which adds the axum route and its OpenAPI operation from the same
//! `#[utoipa::path]` item; services hand in a [`Mount`] built the same way. So the document
//! at `/api/v1/openapi.json` lists exactly what the router serves (a test checks it).
//!
//! Layers, outermost first: trace context (W3C `traceparent`, a new root when absent) →
//! `x-request-id` (set when absent, echoed back) → request log → CORS → security guard
//! (`Host`, `Origin`, bearer token, JSON media type: [`crate::security`]) → JSON errors
//! (every error is `{error, code, details}`) → timeout (408) → body limit (413) → panic
//! to 500 JSON.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use edalab_bus::port::Bus;
use edalab_schema::{SchemaCatalog, SchemaRegistry};
use metrics_exporter_prometheus::PrometheusHandle;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::GatewaySettings;
use crate::dead_letters::{DeadLetters, LogDeadLetters};
use crate::error::{ApiError, ErrorBody, ErrorCode, json_errors};
use crate::health::{BusHealth, BusWritesHealth, HealthCheck, HealthRegistry, HealthReport};
use crate::hub::{Hub, HubLimits, WS_GROUP_PREFIX};
use crate::security::{self, Guard};
use crate::telemetry::{self, TraceParent};

/// Errors building the gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Metrics(#[from] telemetry::metrics::MetricsError),
    #[error("schema catalog: {0}")]
    Schema(#[from] edalab_schema::WireError),
    #[error("mount `{mount}` declares {method} {path}, which {owner} already serves")]
    RouteConflict {
        mount: String,
        method: String,
        path: String,
        owner: String,
    },
}

/// A service's routes and their OpenAPI document, to mount in the gateway (the ledger's
/// `/api/v1/comptes/...`, the simulator's `/api/v1/simulation/...`).
#[derive(Clone)]
pub struct Mount {
    name: String,
    router: Router,
    openapi: utoipa::openapi::OpenApi,
}

impl Mount {
    /// From a `utoipa_axum` router with its state already given, so the document and
    /// the routes come from the same list.
    pub fn new(name: &str, router: OpenApiRouter) -> Self {
        let (router, openapi) = router.split_for_parts();
        Self::from_parts(name, router, openapi)
    }

    /// From a router and the document describing it; the caller keeps them in step.
    pub fn from_parts(name: &str, router: Router, openapi: utoipa::openapi::OpenApi) -> Self {
        Self {
            name: name.to_owned(),
            router,
            openapi,
        }
    }
}

/// Everything the handlers share. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<StateInner>,
}

struct StateInner {
    config: GatewaySettings,
    bus: Arc<dyn Bus>,
    dead_letters: Arc<dyn DeadLetters>,
    /// Where the topic browser fetches the schemas of Avro values (`None`: shown as bytes).
    registry: Option<Arc<dyn SchemaRegistry>>,
    /// Gauges refreshed at a scrape beside the bus's (the aws profile's SQS queues).
    gauges: Vec<Arc<dyn telemetry::metrics::GaugeSource>>,
    hub: Hub,
    health: HealthRegistry,
    metrics: Option<PrometheusHandle>,
    mounts: Vec<Mount>,
    /// What requests must show before a handler sees them (ADR 018).
    guard: Guard,
    /// Built on first use; depends only on the mounts, fixed at build.
    openapi: OnceLock<Arc<str>>,
}

/// Builds an [`AppState`].
pub struct AppStateBuilder {
    config: GatewaySettings,
    bus: Arc<dyn Bus>,
    dead_letters: Option<Arc<dyn DeadLetters>>,
    registry: Option<Arc<dyn SchemaRegistry>>,
    gauges: Vec<Arc<dyn telemetry::metrics::GaugeSource>>,
    catalog: Option<Arc<SchemaCatalog>>,
    health: HealthRegistry,
    mounts: Vec<Mount>,
}

impl AppStateBuilder {
    /// The schema catalog used to decode Avro payloads for WebSocket clients (default:
    /// the built-in catalog).
    pub fn catalog(mut self, catalog: Arc<SchemaCatalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// The registry the topic browser decodes Avro values with (default: none, values shown
    /// as bytes).
    pub fn registry(mut self, registry: Arc<dyn SchemaRegistry>) -> Self {
        self.registry = Some(registry);
        self
    }

    /// Where the DLQ routes find dead letters (default: the bus's DLQ topics).
    pub fn dead_letters(mut self, dead_letters: Arc<dyn DeadLetters>) -> Self {
        self.dead_letters = Some(dead_letters);
        self
    }

    /// Adds gauges to refresh at each `/metrics` scrape (the bus's are refreshed already).
    pub fn gauges(mut self, source: Arc<dyn telemetry::metrics::GaugeSource>) -> Self {
        self.gauges.push(source);
        self
    }

    /// Adds a component to `/api/v1/health` (the bus is registered already).
    pub fn health(mut self, check: Arc<dyn HealthCheck>) -> Self {
        self.health.register(check);
        self
    }

    /// Mounts a service's routes.
    pub fn mount(mut self, mount: Mount) -> Self {
        self.mounts.push(mount);
        self
    }

    pub fn build(self) -> Result<AppState, GatewayError> {
        let catalog = match self.catalog {
            Some(catalog) => catalog,
            None => Arc::new(SchemaCatalog::builtin()?),
        };
        let metrics = if self.config.metrics.enabled {
            Some(telemetry::metrics::install()?)
        } else {
            None
        };
        check_conflicts(&self.mounts)?;
        let hub = Hub::new(
            Arc::clone(&self.bus),
            catalog,
            self.config.ws.clone(),
            HubLimits::of(&self.config.security),
        );
        let guard = Guard::new(&self.config);
        let dead_letters = self
            .dead_letters
            .unwrap_or_else(|| Arc::new(LogDeadLetters::new(Arc::clone(&self.bus))));
        Ok(AppState {
            inner: Arc::new(StateInner {
                config: self.config,
                bus: self.bus,
                dead_letters,
                registry: self.registry,
                gauges: self.gauges,
                hub,
                health: self.health,
                metrics,
                mounts: self.mounts,
                guard,
                openapi: OnceLock::new(),
            }),
        })
    }
}

/// Two mounts (or a mount and the gateway) declaring the same operation would make axum
/// panic at merge; say which instead.
fn check_conflicts(mounts: &[Mount]) -> Result<(), GatewayError> {
    let mut seen: Vec<(String, String, String)> = operations(&gateway_routes().split_for_parts().1)
        .into_iter()
        .map(|(method, path)| (method, path, "the gateway".to_owned()))
        .collect();
    for mount in mounts {
        for (method, path) in operations(&mount.openapi) {
            // axum refuses any second route on a path already routed by another router.
            if let Some((_, _, owner)) =
                seen.iter().find(|(_, p, o)| *p == path && *o != mount.name)
            {
                return Err(GatewayError::RouteConflict {
                    mount: mount.name.clone(),
                    method,
                    path,
                    owner: owner.clone(),
                });
            }
            seen.push((method, path, mount.name.clone()));
        }
    }
    Ok(())
}

impl AppState {
    /// A state over `bus` with `config`; the bus is registered as a health component.
    pub fn builder(config: &GatewaySettings, bus: Arc<dyn Bus>) -> AppStateBuilder {
        let mut health = HealthRegistry::default();
        health.register(Arc::new(BusHealth(Arc::clone(&bus))));
        health.register(Arc::new(BusWritesHealth(Arc::clone(&bus))));
        AppStateBuilder {
            config: config.clone(),
            bus,
            dead_letters: None,
            registry: None,
            gauges: Vec::new(),
            catalog: None,
            health,
            mounts: Vec::new(),
        }
    }

    pub fn config(&self) -> &GatewaySettings {
        &self.inner.config
    }

    pub fn bus(&self) -> &Arc<dyn Bus> {
        &self.inner.bus
    }

    pub fn dead_letters(&self) -> &Arc<dyn DeadLetters> {
        &self.inner.dead_letters
    }

    pub fn schema_registry(&self) -> Option<&Arc<dyn SchemaRegistry>> {
        self.inner.registry.as_ref()
    }

    pub fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    pub fn guard(&self) -> &Guard {
        &self.inner.guard
    }

    /// Closes WebSocket connections and stops the hub's tails (call at shutdown).
    pub async fn close(&self) {
        self.inner.hub.close().await;
    }

    /// The OpenAPI document of everything [`router`] serves for this state.
    pub fn openapi(&self) -> utoipa::openapi::OpenApi {
        let (_, mut doc) = gateway_routes().split_for_parts();
        for mount in &self.inner.mounts {
            doc.merge(mount.openapi.clone());
        }
        add_default_error_responses(&mut doc);
        doc
    }

    fn openapi_json(&self) -> Arc<str> {
        Arc::clone(self.inner.openapi.get_or_init(|| {
            let doc = self.openapi();
            Arc::from(doc.to_pretty_json().unwrap_or_default())
        }))
    }

    fn static_dir(&self) -> Option<PathBuf> {
        let dir = &self.inner.config.server.static_dir;
        dir.join("index.html").is_file().then(|| dir.clone())
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "edalab",
        description = "edalab's gateway: health, live events over WebSocket, metrics, and the services' REST APIs. Every error is `ErrorBody` with a stable `code`."
    ),
    tags(
        (name = "system", description = "Health, OpenAPI, UI"),
        (name = "events", description = "Live bus events"),
        (name = "observability", description = "Prometheus metrics"),
    ),
    components(schemas(
        ErrorBody,
        crate::payload::ServerMessage,
        crate::payload::ClientMessage,
        crate::payload::Action,
    ))
)]
struct GatewayDoc;

/// The gateway's own routes: the single list that makes both the router and the document.
fn gateway_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(GatewayDoc::openapi())
        .routes(routes!(health))
        .routes(routes!(openapi_json))
        .routes(routes!(metrics))
        .routes(routes!(crate::ws::ws_handler))
        .routes(routes!(index))
        .routes(routes!(security::session))
        .merge(crate::dlq::routes())
        .merge(crate::lab::routes())
        .merge(crate::topics::routes())
}

/// Every `(METHOD, path)` of `doc`, sorted.
pub fn operations(doc: &utoipa::openapi::OpenApi) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in &doc.paths.paths {
        for (method, operation) in [
            ("GET", &item.get),
            ("PUT", &item.put),
            ("POST", &item.post),
            ("DELETE", &item.delete),
            ("OPTIONS", &item.options),
            ("HEAD", &item.head),
            ("PATCH", &item.patch),
            ("TRACE", &item.trace),
        ] {
            if operation.is_some() {
                out.push((method.to_owned(), path.clone()));
            }
        }
    }
    out.sort();
    out
}

/// Every operation answers [`ErrorBody`] on error: say so once, as its `default` response.
fn add_default_error_responses(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
    let error = ResponseBuilder::new()
        .description("Any error: `{error, code, details}` with a stable `code`")
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ErrorBody")))
                .build(),
        )
        .build();
    for item in doc.paths.paths.values_mut() {
        for operation in [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .flatten()
        {
            operation
                .responses
                .responses
                .entry("default".to_owned())
                .or_insert_with(|| error.clone().into());
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    components
        .schemas
        .entry("ErrorBody".to_owned())
        .or_insert_with(<ErrorBody as utoipa::PartialSchema>::schema);
}

/// The whole HTTP application for `state`.
pub fn router(state: AppState) -> Router {
    let server = &state.inner.config.server;
    let (gateway, _) = gateway_routes().split_for_parts();
    let mut app: Router = gateway.fallback(fallback).with_state(state.clone());
    for mount in &state.inner.mounts {
        app = app.merge(mount.router.clone());
    }

    let request_id = HeaderName::from_static("x-request-id");
    let body_limit_bytes = usize::try_from(server.body_limit_bytes).unwrap_or(usize::MAX);
    app.layer(security::panic::layer())
        .layer(RequestBodyLimitLayer::new(body_limit_bytes))
        .layer(DefaultBodyLimit::max(body_limit_bytes))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_millis(server.request_timeout_ms),
        ))
        .layer(middleware::from_fn(json_errors))
        .layer(middleware::from_fn_with_state(
            state.inner.guard.clone(),
            security::guard,
        ))
        .layer(cors(&server.cors_origins))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request<Body>| {
                    let request_id = request
                        .headers()
                        .get("x-request-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("");
                    tracing::info_span!(
                        "http",
                        method = %request.method(),
                        path = %request.uri().path(),
                        request_id,
                    )
                })
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .layer(middleware::from_fn(trace_context))
}

fn cors(origins: &[String]) -> CorsLayer {
    let allow = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        // Validated at configuration load (`server.cors_origins`).
        AllowOrigin::list(
            origins
                .iter()
                .filter_map(|o| HeaderValue::from_str(o).ok())
                .collect::<Vec<_>>(),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
        ])
        .allow_headers([
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::AUTHORIZATION,
            HeaderName::from_static("traceparent"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([
            HeaderName::from_static("traceparent"),
            HeaderName::from_static("x-request-id"),
        ])
        .max_age(Duration::from_secs(600))
}

/// Runs each request in a trace and an `http.request` span: the caller's trace
/// (`traceparent`), continued, or a new one; the response carries the context so a caller
/// can find its trace. With OTLP export on, the context handed on is the span's own.
async fn trace_context(request: Request, next: Next) -> Response {
    let incoming = request
        .headers()
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<TraceParent>().ok());
    let span = tracing::info_span!(
        "http.request",
        method = %request.method(),
        path = %request.uri().path(),
        trace_id = tracing::field::Empty,
    );
    if let Some(parent) = incoming {
        telemetry::otlp::set_remote_parent(&span, parent);
    }
    let context = telemetry::otlp::handed_on(&span, incoming);
    span.record("trace_id", context.trace_id_hex().as_str());
    let mut response = telemetry::trace::scope(
        context,
        tracing::Instrument::instrument(next.run(request), span),
    )
    .await;
    if let Ok(value) = HeaderValue::from_str(&context.to_string()) {
        response.headers_mut().insert("traceparent", value);
    }
    response
}

/// Health of every component (S3-10, S3-11).
///
/// `kafka` and `postgres` (the seed's names) report the bus and the store in use,
/// whichever backend they are (`bus.backend`, `store.backend`).
#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "system",
    responses(
        (status = 200, description = "Every component is up", body = HealthReport),
        (status = 503, description = "Some component is down", body = HealthReport),
    )
)]
async fn health(State(state): State<AppState>) -> Response {
    let timeout = Duration::from_millis(state.inner.config.server.health_check_timeout_ms);
    let report = state.inner.health.report(timeout).await;
    let status = if report.is_healthy() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, axum::Json(report)).into_response()
}

/// This document: OpenAPI 3 for every route the gateway serves.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "system",
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json", body = Object))
)]
async fn openapi_json(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi_json().to_string(),
    )
        .into_response()
}

/// Prometheus metrics (text exposition format), lag and DLQ-depth gauges refreshed from
/// the bus at each scrape.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "observability",
    responses(
        (status = 200, description = "Prometheus text format", content_type = "text/plain; version=0.0.4", body = String),
        (status = 404, description = "Metrics are disabled (`metrics.enabled: false`)", body = ErrorBody),
    )
)]
async fn metrics(State(state): State<AppState>) -> Response {
    let Some(handle) = &state.inner.metrics else {
        return ApiError::new(
            ErrorCode::NotFound,
            "metrics are disabled (metrics.enabled: false)",
        )
        .into_response();
    };
    let timeout = Duration::from_millis(state.inner.config.metrics.refresh_timeout_ms);
    let bus = telemetry::metrics::refresh_bus_gauges(&*state.inner.bus, &[WS_GROUP_PREFIX]);
    let others = futures::future::join_all(state.inner.gauges.iter().map(|g| g.refresh()));
    if tokio::time::timeout(timeout, futures::future::join(bus, others))
        .await
        .is_err()
    {
        tracing::warn!(
            timeout_ms = timeout.as_millis() as u64,
            "bus gauges not refreshed in time"
        );
    }
    telemetry::metrics::refresh_process_gauges();
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

/// The web UI, built into the binary (or from `server.static_dir` when that holds a build).
#[utoipa::path(
    get,
    path = "/",
    tag = "system",
    responses((status = 200, description = "The web UI", content_type = "text/html", body = String))
)]
async fn index(state: State<AppState>, request: Request) -> Response {
    fallback(state, request).await
}

/// Unknown routes: the UI's assets and client-side routes (`crate::ui`), JSON 404 for
/// anything else (always under `/api/`, `/registry/` and `/ws`).
async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    if crate::registry::owns(&path) {
        return crate::registry::unknown_path(&method, &path);
    }
    if crate::ui::owns(&method, &path)
        && let Some(response) = crate::ui::serve(state.static_dir(), request).await
    {
        return response;
    }
    ApiError::new(
        ErrorCode::RouteNotFound,
        format!("no route for {method} {path}"),
    )
    .with_detail("path", format!("no {method} route has this path: {path}"))
    .into_response()
}
