//! A running platform reached over HTTP (`--target`): the URL checked, a client with
//! timeouts, the bearer token. Shared by `simulate --target` and `consumers`.

use std::time::Duration;

use anyhow::Context;

/// Connection timeout towards `--target`.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// How a command talks to its target.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    /// Whole-request timeout.
    pub request_timeout: Duration,
    /// Idle connections kept (the most requests a command has in flight).
    pub in_flight_max: usize,
}

/// A running platform's base URL and an HTTP client with timeouts.
pub(crate) struct HttpTarget {
    /// `http://HOST:PORT`, no trailing slash.
    pub(crate) base: String,
    pub(crate) client: reqwest::Client,
    /// Sent as `Authorization: Bearer` when given.
    token: Option<String>,
}

impl HttpTarget {
    /// Parses `--target`: an `http://HOST[:PORT]` URL with no path (a trailing `/` is fine).
    pub(crate) fn parse(text: &str, token: Option<String>, limits: Limits) -> anyhow::Result<Self> {
        let bad = |why: &str| {
            anyhow::anyhow!(
                "--target `{text}`: {why} (expected http://HOST:PORT, e.g. http://127.0.0.1:8080)"
            )
        };
        let url = reqwest::Url::parse(text).map_err(|e| bad(&e.to_string()))?;
        if url.scheme() != "http" {
            return Err(bad(&format!(
                "scheme `{}` is not supported, only http",
                url.scheme()
            )));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(bad("no host"));
        }
        if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
            return Err(bad(
                "must not have a path, query or fragment (the /api/v1 paths are added)",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(limits.request_timeout)
            .connect_timeout(CONNECT_TIMEOUT)
            .pool_max_idle_per_host(limits.in_flight_max)
            .build()
            .context("building the HTTP client")?;
        Ok(Self {
            base: url.origin().ascii_serialization(),
            client,
            token: token.filter(|t| !t.trim().is_empty()),
        })
    }

    /// Fails with a message naming `--target` unless the platform answers its health route,
    /// or naming `--token` when it wants a token it was not given (or refuses the one given).
    pub(crate) async fn check(&self) -> anyhow::Result<()> {
        let url = format!("{}/api/v1/health", self.base);
        self.client.get(&url).send().await.map_err(|e| {
            anyhow::anyhow!(
                "--target {}: no platform answers {url}: {} (is `edalab up` running there?)",
                self.base,
                edalab_domain::validation::error_chain(&e)
            )
        })?;
        let url = format!("{}/api/v1/auth/session", self.base);
        let session: Option<serde_json::Value> =
            match self.authorized(self.client.get(&url)).send().await {
                Ok(response) if response.status().is_success() => response.json().await.ok(),
                _ => None, // an older platform without the route: a 401 will say it
            };
        if let Some(session) = session
            && session["auth_required"] == true
            && session["authenticated"] != true
        {
            anyhow::bail!(
                "--target {} requires a bearer token: {} (--token or EDALAB_TOKEN)",
                self.base,
                if self.token.is_some() {
                    "the token given is refused"
                } else {
                    "none given"
                }
            );
        }
        Ok(())
    }

    pub(crate) fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }
}
