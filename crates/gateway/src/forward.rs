//! Forwarding a service's routes to another process (S3-11, ADR 012): with
//! `gateway.upstreams.simulation: http://host:port`, every `/api/v1/simulation/*` request is
//! sent to `http://host:port/api/v1/simulation/*` (same method, path, query and body) and its
//! status, `content-type` and body come back unchanged. Each key covers every route its
//! service serves that the UI or a user calls ([`owned_prefixes`]), so the UI works the same
//! behind a gateway as in `edalab up`; the `ledger` group's consumer controls are relayed by
//! [`crate::consumers`], which merges them into the list of every group.
//!
//! - Headers passed on: `content-type`, `accept`, `x-request-id` (set by the gateway when
//!   absent), and `traceparent` — the gateway's own context for the request (a child of the
//!   caller's), so the service continues the same trace.
//! - Each forwarded request has its own timeout (`gateway.upstream_timeout_ms`), shorter than
//!   the gateway's request timeout (validated).
//! - Failures are JSON like every gateway error: the upstream refuses connections or cannot
//!   be reached → 503 `service_unavailable` with `details` naming the `service`; no answer in
//!   time → 504 `gateway_timeout`; any other transport failure → 502 `bad_gateway`.
//! - [`UpstreamHealth`] adds the upstream's own `/api/v1/health` to the gateway's.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::{OpenApi, PathItem, PathsBuilder, Required, ResponseBuilder};

use crate::config::GatewaySettings;
use crate::error::{ApiError, ErrorCode};
use crate::health::{HealthCheck, Role};
use crate::router::Mount;
use crate::telemetry::{self, TraceParent};

/// Largest upstream response body relayed (bigger ones are a 502).
pub const RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// Request headers passed on to the upstream (besides `traceparent`, which is the gateway's).
static FORWARDED_REQUEST_HEADERS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::CONTENT_TYPE,
    header::ACCEPT,
    HeaderName::from_static("x-request-id"),
];

/// Response headers passed back to the client.
static FORWARDED_RESPONSE_HEADERS: [HeaderName; 2] = [header::CONTENT_TYPE, header::LOCATION];

/// One forwarded prefix: `/api/v1/<service>/*` → `<url>/api/v1/<service>/*`.
#[derive(Clone)]
pub struct Upstream {
    inner: Arc<UpstreamInner>,
}

struct UpstreamInner {
    /// `simulation`, `bancaire`.
    service: String,
    /// `http://host:port`, no trailing slash.
    url: String,
    client: reqwest::Client,
    timeout: Duration,
}

/// The upstream's HTTP client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client for upstream `{service}`: {source}")]
pub struct UpstreamError {
    service: String,
    #[source]
    source: reqwest::Error,
}

/// The path prefixes forwarded for an upstream key: each also forwards everything below it.
pub fn owned_prefixes(service: &str) -> Vec<String> {
    match service {
        "simulation" => vec!["/api/v1/simulation".into(), "/api/v1/events".into()],
        // The ledger's queries under their S3-11 prefix; its consumer controls: crate::consumers.
        "bancaire" => vec!["/api/v1/bancaire".into()],
        "orders" => vec![
            "/orders".into(),
            "/api/v1/orders".into(),
            "/api/v1/saga".into(),
        ],
        other => vec![format!("/api/v1/{other}")],
    }
}

impl Upstream {
    /// `service` is the upstream key (`simulation`, `bancaire`, `orders`); `url` the
    /// process's base URL.
    pub fn new(service: &str, url: &str, timeout: Duration) -> Result<Self, UpstreamError> {
        let client = reqwest::Client::builder()
            .connect_timeout(timeout)
            // Redirects are the client's business: relay them.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|source| UpstreamError {
                service: service.to_owned(),
                source,
            })?;
        Ok(Self {
            inner: Arc::new(UpstreamInner {
                service: service.to_owned(),
                url: url.trim().trim_end_matches('/').to_owned(),
                client,
                timeout,
            }),
        })
    }

    /// Every upstream of `config.gateway.upstreams`.
    pub fn from_config(config: &GatewaySettings) -> Result<Vec<Self>, UpstreamError> {
        let timeout = Duration::from_millis(config.gateway.upstream_timeout_ms);
        config
            .gateway
            .upstreams
            .configured()
            .into_iter()
            .map(|(service, url)| Self::new(service, url, timeout))
            .collect()
    }

    pub fn service(&self) -> &str {
        &self.inner.service
    }

    pub fn url(&self) -> &str {
        &self.inner.url
    }

    /// The path prefixes it forwards ([`owned_prefixes`]).
    pub fn prefixes(&self) -> Vec<String> {
        owned_prefixes(&self.inner.service)
    }

    /// Sends `request` to the upstream as it came and answers what the upstream answered.
    pub async fn relay(&self, request: Request) -> Response {
        forward(State(self.clone()), request).await
    }

    /// The routes (each prefix and everything below it, every method) and their document.
    pub fn mount(&self) -> Mount {
        let mut router = Router::new();
        for prefix in self.prefixes() {
            router = router
                .route(&prefix, any(forward))
                .route(&format!("{prefix}/{{*path}}"), any(forward));
        }
        let router = router.with_state(self.clone());
        let summary = format!(
            "Forwarded to the `{}` service at {} (503 when it is down, 504 when it is slow)",
            self.inner.service, self.inner.url
        );
        let operation = |below: bool| {
            let mut operation = OperationBuilder::new()
                .tag("forwarded")
                .summary(Some(summary.clone()));
            if below {
                operation = operation.parameter(
                    ParameterBuilder::new()
                        .name("path")
                        .parameter_in(ParameterIn::Path)
                        .required(Required::True),
                );
            }
            operation
                .response(
                    "200",
                    ResponseBuilder::new().description("The service's answer, relayed"),
                )
                .response(
                    "503",
                    ResponseBuilder::new().description("The service is unreachable"),
                )
                .response(
                    "504",
                    ResponseBuilder::new().description("The service did not answer in time"),
                )
                .build()
        };
        let item = |below: bool| {
            let mut item = PathItem::new(HttpMethod::Get, operation(below));
            item.post = Some(operation(below));
            item.put = Some(operation(below));
            item.delete = Some(operation(below));
            item.patch = Some(operation(below));
            item
        };
        let mut paths = PathsBuilder::new();
        for prefix in self.prefixes() {
            paths = paths
                .path(prefix.clone(), item(false))
                .path(format!("{prefix}/{{path}}"), item(true));
        }
        let mut doc = OpenApi::default();
        doc.paths = paths.build();
        Mount::from_parts(&format!("forward:{}", self.inner.service), router, doc)
    }

    /// The upstream's health as a component of the gateway's.
    pub fn health(&self) -> Arc<dyn HealthCheck> {
        Arc::new(UpstreamHealth {
            upstream: self.clone(),
            name: format!("upstream:{}", self.inner.service),
        })
    }

    fn unavailable(&self, why: impl std::fmt::Display) -> ApiError {
        ApiError::new(
            ErrorCode::ServiceUnavailable,
            format!(
                "service `{}` is unavailable at {}: {why}",
                self.inner.service, self.inner.url
            ),
        )
        .with_detail(
            "service",
            format!("`{}` at {}", self.inner.service, self.inner.url),
        )
    }

    fn classify(&self, error: &reqwest::Error) -> ApiError {
        let service = format!("`{}` at {}", self.inner.service, self.inner.url);
        if error.is_timeout() {
            ApiError::new(
                ErrorCode::GatewayTimeout,
                format!(
                    "service `{}` at {} did not answer within {} ms",
                    self.inner.service,
                    self.inner.url,
                    self.inner.timeout.as_millis()
                ),
            )
            .with_detail("service", service.clone())
        } else if error.is_connect() {
            self.unavailable(edalab_domain::validation::error_chain(error))
        } else {
            ApiError::new(
                ErrorCode::BadGateway,
                format!(
                    "service `{}` at {} failed: {}",
                    self.inner.service,
                    self.inner.url,
                    edalab_domain::validation::error_chain(error)
                ),
            )
            .with_detail("service", service)
        }
    }
}

async fn forward(State(upstream): State<Upstream>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned());
    let url = format!("{}{path_and_query}", upstream.inner.url);
    // The body limit layer has bounded it already.
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(error) => {
            return ApiError::bad_request(format!("reading the body: {error}")).into_response();
        }
    };
    let mut outgoing = upstream
        .inner
        .client
        .request(parts.method.clone(), &url)
        .timeout(upstream.inner.timeout);
    for name in &FORWARDED_REQUEST_HEADERS {
        for value in parts.headers.get_all(name) {
            outgoing = outgoing.header(name, value);
        }
    }
    let context = telemetry::trace::current().unwrap_or_else(TraceParent::new_root);
    outgoing = outgoing.header("traceparent", context.to_string());
    if !body.is_empty() {
        outgoing = outgoing.body(body);
    }
    tracing::debug!(service = %upstream.inner.service, %url, method = %parts.method, "forwarding");
    let answer = match outgoing.send().await {
        Ok(answer) => answer,
        Err(error) => return upstream.classify(&error).into_response(),
    };
    let status = answer.status();
    let mut headers = Vec::new();
    for name in &FORWARDED_RESPONSE_HEADERS {
        if let Some(value) = answer.headers().get(name) {
            headers.push((name.clone(), value.clone()));
        }
    }
    let bytes = match read_limited(&upstream, answer).await {
        Ok(bytes) => bytes,
        Err(error) => return error.into_response(),
    };
    let mut response = Response::new(Body::from(bytes));
    *response.status_mut() = status;
    for (name, value) in headers {
        response.headers_mut().insert(name, value);
    }
    if !response.headers().contains_key(header::CONTENT_TYPE) {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
    }
    response
}

/// The upstream's body; more than [`RESPONSE_BYTES_MAX`] is a 502 (never a cut body).
async fn read_limited(
    upstream: &Upstream,
    mut answer: reqwest::Response,
) -> Result<Bytes, ApiError> {
    let mut buffer = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(|e| upstream.classify(&e))? {
        if buffer.len() + chunk.len() > RESPONSE_BYTES_MAX {
            return Err(ApiError::new(
                ErrorCode::BadGateway,
                format!(
                    "service `{}` answered more than {RESPONSE_BYTES_MAX} bytes",
                    upstream.inner.service
                ),
            )
            .with_detail(
                "service",
                format!("`{}` at {}", upstream.inner.service, upstream.inner.url),
            ));
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok(Bytes::from(buffer))
}

/// An upstream's `/api/v1/health`, as a component of the gateway's health.
pub struct UpstreamHealth {
    upstream: Upstream,
    name: String,
}

#[async_trait]
impl HealthCheck for UpstreamHealth {
    fn name(&self) -> &str {
        &self.name
    }
    fn role(&self) -> Role {
        Role::Service
    }
    fn backend(&self) -> &str {
        &self.upstream.inner.url
    }
    async fn check(&self) -> Result<(), String> {
        let url = format!("{}/api/v1/health", self.upstream.inner.url);
        let answer = self
            .upstream
            .inner
            .client
            .get(&url)
            .timeout(self.upstream.inner.timeout)
            .send()
            .await
            .map_err(|e| format!("{url}: {}", edalab_domain::validation::error_chain(&e)))?;
        if answer.status().is_success() {
            Ok(())
        } else {
            Err(format!("{url} answered {}", answer.status()))
        }
    }
}
