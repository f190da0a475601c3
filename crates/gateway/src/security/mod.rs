//! HTTP-side security (ADR 018, `docs/security.md`): what a request must show before any
//! handler sees it. One router-level middleware, [`guard`], checks in this order:
//!
//! 1. **`Host`**, when sent, is one the server answers to (the listen address, `localhost` on a loopback
//!    or wildcard listen, `security.allowed_hosts`), else 421 `misdirected_request`: a page
//!    on an attacker's DNS name rebound to 127.0.0.1 reaches nothing.
//! 2. **`Origin`**, on writes and on `/ws`, is absent (not a browser), the server's own
//!    origin, or one of `server.cors_origins`, else 403 `forbidden_origin`.
//! 3. **A bearer token**, on writes and on `/ws`, when tokens are configured
//!    (`security.tokens`, `security.token`): `Authorization: Bearer <token>`, or for `/ws`
//!    (browsers cannot set headers there) a `Sec-WebSocket-Protocol` value
//!    `edalab.token.<token>` or `?access_token=<token>`; else 401 `unauthorized`.
//! 4. **A write's body is JSON** (`application/json`; the Confluent media types under
//!    `/registry/`), else 415: a cross-site form or `text/plain` POST, which browsers send
//!    without a CORS preflight, never reaches a handler.
//!
//! Writes are every method but GET, HEAD and OPTIONS. [`panic`] holds the last-resort layer
//! that turns a handler's panic into a 500 JSON. This module decides; it reads no files and
//! owns no sockets.

pub mod config;
pub mod panic;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

pub use config::{SecurityConfig, TokenHash};

use crate::config::GatewaySettings;
use crate::error::{ApiError, ErrorCode};

/// The subprotocol the server selects for `/ws` when a client offers it.
pub const WS_PROTOCOL: &str = "edalab.v1";
/// Prefix of the `Sec-WebSocket-Protocol` value that carries a token to `/ws`.
pub const WS_TOKEN_PROTOCOL_PREFIX: &str = "edalab.token.";
/// Query parameter that carries a token to `/ws` (for clients that cannot set a
/// subprotocol; it may end up in proxies' logs).
pub const WS_TOKEN_QUERY: &str = "access_token";

/// Media types a write may carry under `/registry/` (Confluent's clients send the first two).
const REGISTRY_MEDIA_TYPES: [&str; 3] = [
    "application/vnd.schemaregistry.v1+json",
    "application/vnd.schemaregistry+json",
    "application/json",
];

/// What [`guard`] checks, built once from the configuration.
#[derive(Clone)]
pub struct Guard {
    inner: Arc<GuardInner>,
}

struct GuardInner {
    listen: SocketAddr,
    /// Lowercase `host` or `host:port`; `None`: any host.
    allowed_hosts: Option<Vec<String>>,
    /// Exact origins (`scheme://host[:port]`); `None`: any origin.
    allowed_origins: Option<Vec<String>>,
    tokens: Vec<TokenHash>,
}

impl Guard {
    pub fn new(config: &GatewaySettings) -> Self {
        let security = &config.security;
        let hosts = &security.allowed_hosts;
        let origins = &config.server.cors_origins;
        Self {
            inner: Arc::new(GuardInner {
                listen: config.server.listen.0,
                allowed_hosts: (!hosts.iter().any(|h| h == "*"))
                    .then(|| hosts.iter().map(|h| h.to_ascii_lowercase()).collect()),
                allowed_origins: (!origins.iter().any(|o| o == "*"))
                    .then(|| origins.iter().map(|o| o.to_ascii_lowercase()).collect()),
                tokens: security.token_hashes(),
            }),
        }
    }

    /// Whether writes and `/ws` need a token.
    pub fn auth_required(&self) -> bool {
        !self.inner.tokens.is_empty()
    }

    /// Whether `token` is one of the configured ones. Every hash is compared, in constant
    /// time, so the answer's timing says nothing about which bytes matched.
    pub fn accepts(&self, token: &str) -> bool {
        let presented = TokenHash::of(token);
        self.inner.tokens.iter().fold(false, |found, hash| {
            found | bool::from(hash.0.ct_eq(&presented.0))
        })
    }

    /// Whether the request carries an accepted token (always true when none is required).
    pub fn authenticated(&self, request: &Request) -> bool {
        !self.auth_required() || presented_tokens(request).any(|token| self.accepts(token))
    }

    fn host_allowed(&self, host: &str) -> bool {
        let host = host.trim().to_ascii_lowercase();
        let Some(allowed) = &self.inner.allowed_hosts else {
            return true;
        };
        let (name, port) = split_host(&host);
        if allowed.iter().any(|a| *a == host || *a == name) {
            return true;
        }
        let listen = self.inner.listen;
        let ip = listen.ip();
        let name_ok = match name.trim_matches(['[', ']']).parse::<IpAddr>() {
            Ok(_) if ip.is_unspecified() => true,
            Ok(given) if ip.is_loopback() => given.is_loopback(),
            Ok(given) => given == ip,
            Err(_) => name == "localhost" && (ip.is_loopback() || ip.is_unspecified()),
        };
        // A loopback listen knows its port; behind a wildcard listen the port seen by the
        // client may be a published one.
        let port_ok = !ip.is_loopback() || listen.port() == 0 || port == Some(listen.port());
        name_ok && port_ok
    }

    fn origin_allowed(&self, origin: &str, host: Option<&str>) -> bool {
        let origin = origin.trim().to_ascii_lowercase();
        let same_origin = host.is_some_and(|host| {
            origin
                .split_once("://")
                .is_some_and(|(_, authority)| authority == host.trim().to_ascii_lowercase())
        });
        same_origin
            || self
                .inner
                .allowed_origins
                .as_ref()
                .is_none_or(|allowed| allowed.contains(&origin))
    }
}

/// `host[:port]` → `(host, port)`; IPv6 literals keep their brackets.
fn split_host(host: &str) -> (&str, Option<u16>) {
    let colon = if host.starts_with('[') {
        host.find("]:").map(|i| i + 1)
    } else {
        host.rfind(':').filter(|_| host.matches(':').count() == 1)
    };
    match colon {
        Some(i) => (&host[..i], host[i + 1..].parse().ok()),
        None => (host, None),
    }
}

/// Every token the request presents: the `Authorization` header, and for `/ws` the
/// subprotocol value and the query parameter.
fn presented_tokens(request: &Request) -> impl Iterator<Item = &str> {
    let headers = request.headers();
    let bearer = headers
        .get_all(header::AUTHORIZATION)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        });
    let protocols = headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.trim().strip_prefix(WS_TOKEN_PROTOCOL_PREFIX));
    let query = request
        .uri()
        .query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.strip_prefix(WS_TOKEN_QUERY)?.strip_prefix('='));
    bearer.chain(protocols).chain(query).map(str::trim)
}

fn is_write(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Whether the request carries a body or says what its body is.
fn has_body(headers: &HeaderMap) -> bool {
    let length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    headers.contains_key(header::CONTENT_TYPE)
        || headers.contains_key(header::TRANSFER_ENCODING)
        || length.is_some_and(|n| n > 0)
}

/// The media type of a write's body, if it is one `path` accepts.
fn media_type_error(path: &str, headers: &HeaderMap) -> Option<ApiError> {
    if !has_body(headers) {
        return None;
    }
    let given = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = given
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let accepted: &[&str] = if path.starts_with("/registry/") {
        &REGISTRY_MEDIA_TYPES
    } else {
        &["application/json"]
    };
    if accepted.contains(&essence.as_str()) {
        return None;
    }
    Some(
        ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "Content-Type {given:?} is not accepted for a write; send {}",
                accepted.join(" or ")
            ),
        )
        .with_detail(
            "content-type",
            format!("{given:?}; accepted: {}", accepted.join(", ")),
        ),
    )
}

/// Whether this server asks for a token, and whether the request carries an accepted one.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct Session {
    /// Writes and `/ws` need `Authorization: Bearer <token>`.
    pub auth_required: bool,
    /// The request's token is accepted (true when none is required).
    pub authenticated: bool,
}

/// Whether a token is required, and whether the one sent is accepted (the UI asks for a
/// token when `auth_required && !authenticated`).
#[utoipa::path(
    get,
    path = "/api/v1/auth/session",
    tag = "system",
    responses((status = 200, description = "What this server asks of clients", body = Session))
)]
pub async fn session(
    State(state): State<crate::router::AppState>,
    request: Request,
) -> axum::Json<Session> {
    let guard = state.guard();
    axum::Json(Session {
        auth_required: guard.auth_required(),
        authenticated: guard.authenticated(&request),
    })
}

/// The middleware: see the module documentation for what it checks and answers.
pub async fn guard(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    match refusal(&guard, &request) {
        Some(error) => {
            crate::telemetry::metrics::http_refused(error.code.as_str());
            let mut response = error.into_response();
            if response.status() == axum::http::StatusCode::UNAUTHORIZED {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            response
        }
        None => next.run(request).await,
    }
}

/// Why `request` may not go on, if it may not.
fn refusal(guard: &Guard, request: &Request) -> Option<ApiError> {
    let headers = request.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| request.uri().authority().map(|a| a.to_string()));
    // No `Host` at all is no browser (browsers always send one), so no rebinding either.
    match &host {
        Some(given) if !guard.host_allowed(given) => {
            return Some(
                ApiError::new(
                    ErrorCode::MisdirectedRequest,
                    format!(
                        "this server does not answer to Host {given:?}; add the name to \
                         security.allowed_hosts if it is yours"
                    ),
                )
                .with_detail("host", format!("{given:?} is not an allowed host")),
            );
        }
        _ => {}
    }
    let path = request.uri().path();
    if !is_write(request.method()) && path != "/ws" {
        return None;
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        if !guard.origin_allowed(origin, host.as_deref()) {
            return Some(
                ApiError::new(
                    ErrorCode::ForbiddenOrigin,
                    format!(
                        "requests from origin {origin:?} are refused; add it to \
                         server.cors_origins if it is yours"
                    ),
                )
                .with_detail("origin", format!("{origin:?} is not an allowed origin")),
            );
        }
    }
    if !guard.authenticated(request) {
        return Some(ApiError::new(
            ErrorCode::Unauthorized,
            "a bearer token is required (Authorization: Bearer <token>; for /ws also the \
             subprotocol edalab.token.<token> or ?access_token=<token>)",
        ));
    }
    if is_write(request.method()) {
        return media_type_error(path, headers);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard_on(listen: &str, change: impl FnOnce(&mut GatewaySettings)) -> Guard {
        let mut config = GatewaySettings::default();
        config.server.listen = listen.parse().expect("addr");
        change(&mut config);
        Guard::new(&config)
    }

    #[test]
    fn hosts_follow_the_listen_address() {
        let loopback = guard_on("127.0.0.1:8080", |_| {});
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "[::1]:8080",
            "LOCALHOST:8080",
        ] {
            assert!(loopback.host_allowed(ok), "{ok}");
        }
        for refused in [
            "evil.example:8080",
            "localhost:9999",
            "10.0.0.1:8080",
            "localhost",
        ] {
            assert!(!loopback.host_allowed(refused), "{refused}");
        }
        let wildcard = guard_on("0.0.0.0:8080", |c| {
            c.security.allowed_hosts = vec!["gateway".to_owned()];
        });
        for ok in [
            "gateway:8080",
            "192.168.1.4:8080",
            "localhost:9000",
            "[::1]",
        ] {
            assert!(wildcard.host_allowed(ok), "{ok}");
        }
        assert!(!wildcard.host_allowed("evil.example"));
        let any = guard_on("127.0.0.1:8080", |c| {
            c.security.allowed_hosts = vec!["*".into()]
        });
        assert!(any.host_allowed("evil.example"));
    }

    #[test]
    fn origins_are_the_servers_own_or_listed() {
        let guard = guard_on("127.0.0.1:8080", |_| {});
        assert!(guard.origin_allowed("http://127.0.0.1:8080", Some("127.0.0.1:8080")));
        assert!(guard.origin_allowed("http://localhost:5173", Some("127.0.0.1:8080")));
        assert!(!guard.origin_allowed("http://evil.example", Some("127.0.0.1:8080")));
        assert!(!guard.origin_allowed("null", Some("127.0.0.1:8080")));
    }

    #[test]
    fn tokens_are_compared_by_hash() {
        let guard = guard_on("127.0.0.1:8080", |c| {
            c.security.token = Some(TokenHash::of("0123456789abcdef"));
        });
        assert!(guard.auth_required());
        assert!(guard.accepts("0123456789abcdef"));
        assert!(!guard.accepts("0123456789abcdeF"));
        assert!(!guard_on("127.0.0.1:8080", |_| {}).auth_required());
    }
}
