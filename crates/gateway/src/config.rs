//! The gateway's part of the process configuration (issue 17 §2): the HTTP server, logs and
//! traces, metrics, the WebSocket hub, forwarding, the schema registry's client and the
//! security settings, each a section of the file `edalab`'s assembly reads
//! (`crates/edalab/src/config.rs`), which composes them into [`GatewaySettings`]. Each
//! section checks itself ([`GatewaySettings::problems`]) so that every bad key is named at
//! once, with its dotted key.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use edalab_telemetry::config::{LogConfig, LogFormat, LogLevel, OtlpConfig};

use crate::security::SecurityConfig;

/// What the gateway serves with: its sections of the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GatewaySettings {
    pub server: ServerConfig,
    pub metrics: MetricsConfig,
    pub ws: WsConfig,
    pub gateway: GatewayConfig,
    pub registry: RegistryConfig,
    pub security: SecurityConfig,
}

/// The HTTP server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// Address to listen on (`127.0.0.1:8080`).
    pub listen: ListenAddr,
    /// Origins allowed by CORS (`http://localhost:5173` is Vite's dev server).
    pub cors_origins: Vec<String>,
    /// A request that takes longer is answered 408 (JSON).
    pub request_timeout_ms: u64,
    /// Request bodies larger than this are answered 413 (JSON).
    pub body_limit_bytes: u64,
    /// A built web UI served instead of the one built into the binary, when it holds an
    /// `index.html` (for UI development; ADR 022).
    pub static_dir: PathBuf,
    /// Time allowed to one component's health check before it counts as down.
    pub health_check_timeout_ms: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            listen: ListenAddr(SocketAddr::from(([127, 0, 0, 1], 8080))),
            cors_origins: vec!["http://localhost:5173".to_owned()],
            request_timeout_ms: 30_000,
            body_limit_bytes: 1024 * 1024,
            static_dir: PathBuf::from("web/dist"),
            health_check_timeout_ms: 2_000,
        }
    }
}

/// A socket address parsed from a string, with an error message that says what was given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListenAddr(pub SocketAddr);

impl FromStr for ListenAddr {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.trim().parse().map(ListenAddr).map_err(|_| {
            format!("invalid socket address {text:?} (expected HOST:PORT, e.g. 127.0.0.1:8080)")
        })
    }
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl Serialize for ListenAddr {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ListenAddr {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = StringOrNumber::deserialize(deserializer)?.0;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Accepts a string, or a number written where a string was meant (an environment value
/// like `8080` is read as a number).
struct StringOrNumber(String);

impl<'de> Deserialize<'de> for StringOrNumber {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Unsigned(u64),
            Signed(i64),
            Float(f64),
        }
        Ok(StringOrNumber(match Raw::deserialize(deserializer)? {
            Raw::Text(text) => text,
            Raw::Unsigned(n) => n.to_string(),
            Raw::Signed(n) => n.to_string(),
            Raw::Float(n) => n.to_string(),
        }))
    }
}

/// Prometheus metrics at `/metrics`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    pub enabled: bool,
    /// Time allowed to refresh the lag and DLQ-depth gauges from the bus at a scrape.
    pub refresh_timeout_ms: u64,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            refresh_timeout_ms: 2_000,
        }
    }
}

/// The gateway's forwarding of service prefixes to other processes (S3-11,
/// `edalab serve`, ADR 012).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GatewayConfig {
    /// Base URLs of the services' processes; an empty URL means "served in this process".
    pub upstreams: UpstreamsConfig,
    /// Time allowed to one forwarded request before the gateway answers 504.
    pub upstream_timeout_ms: u64,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        Self {
            upstreams: UpstreamsConfig::default(),
            upstream_timeout_ms: 10_000,
        }
    }
}

/// Where each service's routes are forwarded (`http://host:port`, no path); the routes
/// each key covers are [`crate::forward::owned_prefixes`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamsConfig {
    /// `/api/v1/simulation/*` and `/api/v1/events/*`: a process running `edalab serve
    /// simulator`.
    pub simulation: String,
    /// `/api/v1/bancaire/*` and the `ledger` group's consumer controls: a process running
    /// `edalab serve ledger`.
    pub bancaire: String,
    /// `/orders/*`, `/api/v1/orders/*` and the saga's fault switch `/api/v1/saga/*`: a
    /// process running `edalab serve orders`.
    pub orders: String,
}

impl UpstreamsConfig {
    /// The configured upstreams as `(prefix name, base URL)`, in a fixed order.
    pub fn configured(&self) -> Vec<(&'static str, &str)> {
        [
            ("simulation", self.simulation.as_str()),
            ("bancaire", self.bancaire.as_str()),
            ("orders", self.orders.as_str()),
        ]
        .into_iter()
        .filter(|(_, url)| !url.trim().is_empty())
        .map(|(name, url)| (name, url.trim().trim_end_matches('/')))
        .collect()
    }
}

/// The schema registry behind `/registry/` (X-08, ADR 016).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RegistryConfig {
    /// Empty: the built-in registry, kept in `<bus.data_dir>/registry/`. A URL
    /// (`http://host:8081`, a path prefix allowed): that Confluent-compatible registry,
    /// which `/registry/` then relays to.
    pub url: String,
    /// Time allowed to one request to an external registry.
    pub timeout_ms: u64,
    /// Entries at most in each of the client's caches (id → schema, schema → id).
    pub cache_entries_max: usize,
    /// How long a starting process keeps trying to register its schemas on a registry it
    /// cannot reach (with a doubling pause) before the start fails.
    pub register_timeout_ms: u64,
    /// Lets `PUT /registry/config[/{subject}]` change compatibility levels without tokens
    /// (with `security.tokens` set, token holders may always).
    pub allow_level_changes: bool,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            timeout_ms: 10_000,
            cache_entries_max: 10_000,
            register_timeout_ms: 60_000,
            allow_level_changes: false,
        }
    }
}

/// The WebSocket hub (S3-12).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WsConfig {
    /// Events queued for one client before further events for it are dropped.
    pub client_buffer_messages_max: usize,
    /// A client that has had this many events dropped without catching up is disconnected
    /// (0: never disconnect, only drop).
    pub client_dropped_messages_max: u64,
    /// Connected clients at most; more are refused with 503.
    pub clients_max: usize,
    /// Topics one client may subscribe to by name.
    pub topics_per_client_max: usize,
    /// How long a topic tail waits on the bus for new messages per poll.
    pub poll_timeout_ms: u64,
    /// Messages a topic tail takes from the bus per poll; at most
    /// `client_buffer_messages_max`, so that one burst fits a client that keeps up.
    pub poll_records_max: usize,
    /// Client frames larger than this close the connection.
    pub client_message_bytes_max: usize,
}

impl Default for WsConfig {
    fn default() -> Self {
        Self {
            client_buffer_messages_max: 1_024,
            client_dropped_messages_max: 100_000,
            clients_max: 1_000,
            topics_per_client_max: 64,
            poll_timeout_ms: 500,
            poll_records_max: 500,
            client_message_bytes_max: 64 * 1024,
        }
    }
}

/// An `http://host[:port]` base URL without a path, query or credentials (this build has no
/// TLS client).
pub fn check_http_url(text: &str) -> Result<(), String> {
    let text = text.trim();
    let url = reqwest::Url::parse(text)
        .map_err(|e| format!("{text:?} is not a URL ({e}); expected http://host:port"))?;
    if url.scheme() != "http" {
        return Err(format!(
            "{text:?}: only http:// is supported (this build has no TLS client)"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host"));
    }
    if !url.path().trim_end_matches('/').is_empty()
        || url.query().is_some()
        || !url.username().is_empty()
    {
        return Err(format!(
            "{text:?}: expected only scheme, host and port (http://host:port)"
        ));
    }
    Ok(())
}

/// A Confluent registry's base URL: `http://host[:port]`, a path prefix allowed (a
/// registry behind a reverse proxy), no query or credentials (this build has no TLS client).
pub fn check_registry_url(text: &str) -> Result<(), String> {
    let text = text.trim();
    let url = reqwest::Url::parse(text).map_err(|e| {
        format!(
            "{text:?} is not a URL ({e}); expected http://host:port, e.g. http://127.0.0.1:8081"
        )
    })?;
    if url.scheme() != "http" {
        return Err(format!(
            "{text:?}: only http:// is supported (this build has no TLS client)"
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{text:?} has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
        return Err(format!(
            "{text:?}: expected http://host:port[/path], without query, fragment or credentials"
        ));
    }
    Ok(())
}

/// A configuration problem: the dotted key, and what is wrong with its value.
pub type KeyProblem = (&'static str, String);

fn at_least_one(problems: &mut Vec<KeyProblem>, key: &'static str, value: u64) {
    if value == 0 {
        problems.push((key, "must be at least 1".to_owned()));
    }
}

impl GatewaySettings {
    /// Every problem of the gateway's sections, by dotted key.
    pub fn problems(&self) -> Vec<KeyProblem> {
        let mut problems = self.server.problems();
        at_least_one(
            &mut problems,
            "metrics.refresh_timeout_ms",
            self.metrics.refresh_timeout_ms,
        );
        problems.extend(self.ws.problems());
        problems.extend(self.gateway.problems(self.server.request_timeout_ms));
        problems.extend(self.registry.problems());
        problems.extend(self.security.problems(self.server.listen.0));
        problems
    }
}

impl ServerConfig {
    fn problems(&self) -> Vec<KeyProblem> {
        let mut problems = Vec::new();
        for origin in &self.cors_origins {
            let scheme_ok = origin.starts_with("http://") || origin.starts_with("https://");
            let header_ok = axum::http::HeaderValue::from_str(origin).is_ok();
            if origin != "*" && !(scheme_ok && header_ok && !origin.ends_with('/')) {
                problems.push((
                    "server.cors_origins",
                    format!("invalid origin {origin:?} (expected scheme://host[:port] or \"*\")"),
                ));
            }
        }
        at_least_one(
            &mut problems,
            "server.request_timeout_ms",
            self.request_timeout_ms,
        );
        at_least_one(
            &mut problems,
            "server.body_limit_bytes",
            self.body_limit_bytes,
        );
        at_least_one(
            &mut problems,
            "server.health_check_timeout_ms",
            self.health_check_timeout_ms,
        );
        problems
    }
}

/// `otlp`'s problems, by dotted key.
pub fn otlp_problems(otlp: &OtlpConfig) -> Vec<KeyProblem> {
    let mut problems = Vec::new();
    if let (true, Err(message)) = (otlp.enabled, check_http_url(&otlp.endpoint)) {
        problems.push(("otlp.endpoint", message));
    }
    at_least_one(&mut problems, "otlp.timeout_ms", otlp.timeout_ms);
    problems
}

impl GatewayConfig {
    /// Its problems; a forwarded request must time out before the client's request does.
    fn problems(&self, request_timeout_ms: u64) -> Vec<KeyProblem> {
        let mut problems = Vec::new();
        for (key, url) in [
            ("gateway.upstreams.simulation", &self.upstreams.simulation),
            ("gateway.upstreams.bancaire", &self.upstreams.bancaire),
            ("gateway.upstreams.orders", &self.upstreams.orders),
        ] {
            if let (false, Err(message)) = (url.trim().is_empty(), check_http_url(url)) {
                problems.push((key, message));
            }
        }
        if self.upstream_timeout_ms == 0 {
            at_least_one(&mut problems, "gateway.upstream_timeout_ms", 0);
        } else if !self.upstreams.configured().is_empty()
            && self.upstream_timeout_ms >= request_timeout_ms
        {
            problems.push((
                "gateway.upstream_timeout_ms",
                format!(
                    "{} must be less than server.request_timeout_ms ({request_timeout_ms}), or \
                     clients get 408 before the gateway can answer 504",
                    self.upstream_timeout_ms
                ),
            ));
        }
        problems
    }
}

impl RegistryConfig {
    fn problems(&self) -> Vec<KeyProblem> {
        let mut problems = Vec::new();
        if let (false, Err(message)) = (self.url.trim().is_empty(), check_registry_url(&self.url)) {
            problems.push(("registry.url", message));
        }
        at_least_one(&mut problems, "registry.timeout_ms", self.timeout_ms);
        at_least_one(
            &mut problems,
            "registry.cache_entries_max",
            self.cache_entries_max as u64,
        );
        problems
    }
}

impl WsConfig {
    fn problems(&self) -> Vec<KeyProblem> {
        let mut problems = Vec::new();
        for (key, value) in [
            (
                "ws.client_buffer_messages_max",
                self.client_buffer_messages_max,
            ),
            ("ws.clients_max", self.clients_max),
            ("ws.topics_per_client_max", self.topics_per_client_max),
            ("ws.poll_records_max", self.poll_records_max),
            ("ws.client_message_bytes_max", self.client_message_bytes_max),
        ] {
            at_least_one(&mut problems, key, value as u64);
        }
        if self.poll_records_max > self.client_buffer_messages_max {
            problems.push((
                "ws.poll_records_max",
                format!(
                    "{} exceeds ws.client_buffer_messages_max ({}): one poll's burst must fit the \
                     queue of a client that keeps up",
                    self.poll_records_max, self.client_buffer_messages_max
                ),
            ));
        }
        at_least_one(&mut problems, "ws.poll_timeout_ms", self.poll_timeout_ms);
        problems
    }
}
