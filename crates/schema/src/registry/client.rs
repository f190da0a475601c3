//! [`HttpRegistry`]: a client of a Confluent-compatible Schema Registry's REST API.
//!
//! Requests and responses use `application/vnd.schemaregistry.v1+json`; error bodies
//! `{error_code, message}` become the [`RegistryError`] variant of their code. Like
//! Confluent's `CachedSchemaRegistryClient`, it remembers what never changes in a
//! registry — the schema of an id, the id of a (subject, schema) pair — so a producer
//! registering on every send, or a consumer resolving the id of every message, asks the
//! registry once. Versions, subjects and levels change, and are always asked for. Both
//! caches are bounded (`cache_entries_max`); past the bound, answers are not cached.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use async_trait::async_trait;
use reqwest::{Method, StatusCode, Url, header};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::compat::Compatibility;
use super::{
    CONTENT_TYPE, ErrorBody, RegisteredSchema, RegistryError, SchemaRegistry, Version, identity,
    parse_schema,
};
use crate::catalog::SchemaId;

/// Where the registry is and how to talk to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRegistryConfig {
    /// Base URL (`http://127.0.0.1:8081`, or with a path prefix `http://host/registry`).
    pub url: String,
    /// Time allowed to one request.
    pub timeout_ms: u64,
    /// Entries at most in each cache (ids → schema, (subject, schema) → id).
    pub cache_entries_max: usize,
}

impl HttpRegistryConfig {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.to_owned(),
            timeout_ms: 10_000,
            cache_entries_max: 10_000,
        }
    }
}

#[derive(Default)]
struct Cache {
    schemas: HashMap<SchemaId, String>,
    /// `(subject, identity of the schema)` → id.
    ids: HashMap<(String, String), SchemaId>,
}

/// What a request is about, to turn an error code back into a [`RegistryError`].
#[derive(Clone, Copy, Default)]
struct About<'a> {
    subject: Option<&'a str>,
    version: Option<Version>,
}

/// A Confluent Schema Registry REST client with caches.
pub struct HttpRegistry {
    base: Url,
    http: reqwest::Client,
    cache: RwLock<Cache>,
    cache_entries_max: usize,
}

impl HttpRegistry {
    /// A client of the registry at `config.url` (only `http://`: this build has no TLS).
    pub fn new(config: &HttpRegistryConfig) -> Result<Self, RegistryError> {
        let transport = |message: String| RegistryError::Transport {
            url: config.url.clone(),
            message,
        };
        let mut base =
            Url::parse(config.url.trim()).map_err(|e| transport(format!("not a URL: {e}")))?;
        if base.scheme() != "http" || base.host_str().is_none_or(str::is_empty) {
            return Err(transport(
                "expected http://host[:port][/path] (this build has no TLS client)".to_owned(),
            ));
        }
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let mut headers = header::HeaderMap::new();
        headers.insert(
            header::ACCEPT,
            header::HeaderValue::from_static(
                "application/vnd.schemaregistry.v1+json, application/vnd.schemaregistry+json; qs=0.9, application/json; qs=0.5",
            ),
        );
        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.timeout_ms.max(1)))
            .default_headers(headers)
            .build()
            .map_err(|e| transport(e.to_string()))?;
        Ok(Self {
            base,
            http,
            cache: RwLock::new(Cache::default()),
            cache_entries_max: config.cache_entries_max,
        })
    }

    /// The base URL requests go to.
    pub fn url(&self) -> &Url {
        &self.base
    }

    /// `base` + path segments, each percent-encoded (a subject may hold any character).
    fn url_for(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        url: Url,
        body: Option<RequestBody<'_>>,
        about: About<'_>,
    ) -> Result<T, RegistryError> {
        let transport = |message: String| RegistryError::Transport {
            url: url.to_string(),
            message,
        };
        let mut request = self.http.request(method, url.clone());
        if let Some(body) = body {
            let bytes = serde_json::to_vec(&body).map_err(|e| transport(e.to_string()))?;
            request = request
                .header(header::CONTENT_TYPE, CONTENT_TYPE)
                .body(bytes);
        }
        let response = request.send().await.map_err(|e| transport(e.to_string()))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport(format!("reading the response: {e}")))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| {
                transport(format!(
                    "unexpected response body ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                ))
            });
        }
        Err(error_from(status, &bytes, about))
    }

    fn remember(&self, subject: Option<&str>, id: SchemaId, schema: &str) {
        let key = subject.and_then(|subject| {
            let identity = parse_schema(schema).and_then(|s| identity(&s)).ok()?;
            Some((subject.to_owned(), identity))
        });
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if cache.schemas.len() < self.cache_entries_max {
            cache.schemas.insert(id, schema.to_owned());
        }
        if let Some(key) = key
            && cache.ids.len() < self.cache_entries_max
        {
            cache.ids.insert(key, id);
        }
    }

    fn cached_id(&self, subject: &str, identity: &str) -> Option<SchemaId> {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache
            .ids
            .get(&(subject.to_owned(), identity.to_owned()))
            .copied()
    }

    fn cached_schema(&self, id: SchemaId) -> Option<String> {
        let cache = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.schemas.get(&id).cloned()
    }
}

/// The [`RegistryError`] for an error answer.
fn error_from(status: StatusCode, bytes: &[u8], about: About<'_>) -> RegistryError {
    let Ok(body) = serde_json::from_slice::<ErrorBody>(bytes) else {
        return RegistryError::Remote {
            status: status.as_u16(),
            error_code: u32::from(status.as_u16()),
            message: String::from_utf8_lossy(bytes).trim().to_owned(),
        };
    };
    let subject = || about.subject.unwrap_or_default().to_owned();
    let version = || about.version.map(|v| v.to_string()).unwrap_or_default();
    match body.error_code {
        40401 => RegistryError::SubjectNotFound(subject()),
        40402 => RegistryError::VersionNotFound {
            subject: subject(),
            version: version(),
        },
        40403 => RegistryError::SchemaNotFound(body.message),
        40408 => RegistryError::SubjectCompatibilityNotConfigured(subject()),
        // 409 is what Confluent has long answered; recent versions say 40901.
        409 | 40901 => RegistryError::Incompatible {
            subject: subject(),
            message: body.message,
        },
        42201 => RegistryError::InvalidSchema(
            body.message
                .strip_prefix("Invalid schema: ")
                .map(str::to_owned)
                .unwrap_or(body.message),
        ),
        40301 => RegistryError::Forbidden(body.message),
        42202 => RegistryError::InvalidVersion(version()),
        42208 => RegistryError::InvalidSubject(subject()),
        50001 => RegistryError::Store(
            body.message
                .strip_prefix("Error in the backend data store: ")
                .map(str::to_owned)
                .unwrap_or(body.message),
        ),
        error_code => RegistryError::Remote {
            status: status.as_u16(),
            error_code,
            message: body.message,
        },
    }
}

/// The bodies Confluent's API takes.
#[derive(Serialize)]
#[serde(untagged)]
enum RequestBody<'a> {
    Schema { schema: &'a str },
    Config { compatibility: Compatibility },
}

#[derive(serde::Deserialize)]
struct IdResponse {
    id: u32,
}

#[derive(serde::Deserialize)]
struct SchemaResponse {
    schema: String,
}

#[derive(serde::Deserialize)]
struct IsCompatibleResponse {
    is_compatible: bool,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigResponse {
    compatibility_level: Compatibility,
}

#[derive(serde::Deserialize)]
struct ConfigRequest {
    compatibility: Compatibility,
}

fn version_segment(version: Version) -> String {
    version.to_string()
}

#[async_trait]
impl SchemaRegistry for HttpRegistry {
    async fn register(&self, subject: &str, schema: &str) -> Result<SchemaId, RegistryError> {
        // A schema that does not parse here is still sent: the registry's answer (42201)
        // is the one that counts.
        let identity = parse_schema(schema).and_then(|s| identity(&s)).ok();
        if let Some(id) = identity.as_deref().and_then(|i| self.cached_id(subject, i)) {
            return Ok(id);
        }
        let url = self.url_for(&["subjects", subject, "versions"]);
        let IdResponse { id } = self
            .call(
                Method::POST,
                url,
                Some(RequestBody::Schema { schema }),
                About {
                    subject: Some(subject),
                    ..About::default()
                },
            )
            .await?;
        let id = SchemaId(id);
        self.remember(Some(subject), id, schema);
        Ok(id)
    }

    async fn schema_by_id(&self, id: SchemaId) -> Result<String, RegistryError> {
        if let Some(schema) = self.cached_schema(id) {
            return Ok(schema);
        }
        let url = self.url_for(&["schemas", "ids", &id.to_string()]);
        let SchemaResponse { schema } = self.call(Method::GET, url, None, About::default()).await?;
        self.remember(None, id, &schema);
        Ok(schema)
    }

    async fn subjects(&self) -> Result<Vec<String>, RegistryError> {
        let url = self.url_for(&["subjects"]);
        let mut subjects: Vec<String> = self.call(Method::GET, url, None, About::default()).await?;
        subjects.sort();
        Ok(subjects)
    }

    async fn versions(&self, subject: &str) -> Result<Vec<u32>, RegistryError> {
        let url = self.url_for(&["subjects", subject, "versions"]);
        let about = About {
            subject: Some(subject),
            ..About::default()
        };
        self.call(Method::GET, url, None, about).await
    }

    async fn version(
        &self,
        subject: &str,
        version: Version,
    ) -> Result<RegisteredSchema, RegistryError> {
        let segment = version_segment(version);
        let url = self.url_for(&["subjects", subject, "versions", &segment]);
        let about = About {
            subject: Some(subject),
            version: Some(version),
        };
        let found: RegisteredSchema = self.call(Method::GET, url, None, about).await?;
        self.remember(Some(subject), found.schema_id(), &found.schema);
        Ok(found)
    }

    async fn lookup(&self, subject: &str, schema: &str) -> Result<RegisteredSchema, RegistryError> {
        let url = self.url_for(&["subjects", subject]);
        let about = About {
            subject: Some(subject),
            ..About::default()
        };
        let found: RegisteredSchema = self
            .call(
                Method::POST,
                url,
                Some(RequestBody::Schema { schema }),
                about,
            )
            .await?;
        self.remember(Some(subject), found.schema_id(), &found.schema);
        Ok(found)
    }

    async fn check_compatibility(
        &self,
        subject: &str,
        version: Version,
        schema: &str,
    ) -> Result<bool, RegistryError> {
        let segment = version_segment(version);
        let url = self.url_for(&["compatibility", "subjects", subject, "versions", &segment]);
        let about = About {
            subject: Some(subject),
            version: Some(version),
        };
        let IsCompatibleResponse { is_compatible } = self
            .call(
                Method::POST,
                url,
                Some(RequestBody::Schema { schema }),
                about,
            )
            .await?;
        Ok(is_compatible)
    }

    async fn compatibility(&self, subject: Option<&str>) -> Result<Compatibility, RegistryError> {
        let url = match subject {
            None => self.url_for(&["config"]),
            Some(subject) => self.url_for(&["config", subject]),
        };
        let about = About {
            subject,
            ..About::default()
        };
        let ConfigResponse {
            compatibility_level,
        } = self.call(Method::GET, url, None, about).await?;
        Ok(compatibility_level)
    }

    async fn set_compatibility(
        &self,
        subject: Option<&str>,
        level: Compatibility,
    ) -> Result<Compatibility, RegistryError> {
        let url = match subject {
            None => self.url_for(&["config"]),
            Some(subject) => self.url_for(&["config", subject]),
        };
        let about = About {
            subject,
            ..About::default()
        };
        let ConfigRequest { compatibility } = self
            .call(
                Method::PUT,
                url,
                Some(RequestBody::Config {
                    compatibility: level,
                }),
                about,
            )
            .await?;
        Ok(compatibility)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_keep_a_path_prefix_and_encode_subjects() {
        let registry = HttpRegistry::new(&HttpRegistryConfig::new("http://h:8081/sr")).unwrap();
        assert_eq!(
            registry
                .url_for(&["subjects", "a b/c-value", "versions"])
                .as_str(),
            "http://h:8081/sr/subjects/a%20b%2Fc-value/versions"
        );
        let registry = HttpRegistry::new(&HttpRegistryConfig::new("http://h:8081/")).unwrap();
        assert_eq!(
            registry.url_for(&["config"]).as_str(),
            "http://h:8081/config"
        );
        for bad in ["h:8081", "https://h:8081", "not a url", "http://"] {
            let err = HttpRegistry::new(&HttpRegistryConfig::new(bad))
                .err()
                .unwrap_or_else(|| panic!("{bad:?} accepted"));
            assert!(matches!(err, RegistryError::Transport { .. }), "{err}");
        }
    }

    #[test]
    fn error_bodies_map_to_their_variant() {
        let about = About {
            subject: Some("s-value"),
            version: Some(Version::Number(4)),
        };
        let body = |code: u32, message: &str| {
            serde_json::to_vec(&ErrorBody {
                error_code: code,
                message: message.to_owned(),
            })
            .unwrap()
        };
        let cases = [
            (
                404,
                body(40401, "x"),
                RegistryError::SubjectNotFound("s-value".into()),
            ),
            (
                404,
                body(40402, "x"),
                RegistryError::VersionNotFound {
                    subject: "s-value".into(),
                    version: "4".into(),
                },
            ),
            (
                404,
                body(40403, "Schema 7 not found"),
                RegistryError::SchemaNotFound("Schema 7 not found".into()),
            ),
            (
                409,
                body(409, "incompatible: field b"),
                RegistryError::Incompatible {
                    subject: "s-value".into(),
                    message: "incompatible: field b".into(),
                },
            ),
            (
                409,
                body(40901, "incompatible"),
                RegistryError::Incompatible {
                    subject: "s-value".into(),
                    message: "incompatible".into(),
                },
            ),
            (
                422,
                body(42201, "Invalid schema: no type"),
                RegistryError::InvalidSchema("no type".into()),
            ),
            (
                500,
                body(50002, "timeout"),
                RegistryError::Remote {
                    status: 500,
                    error_code: 50002,
                    message: "timeout".into(),
                },
            ),
            (
                502,
                b"<html>bad gateway</html>".to_vec(),
                RegistryError::Remote {
                    status: 502,
                    error_code: 502,
                    message: "<html>bad gateway</html>".into(),
                },
            ),
        ];
        for (status, bytes, expected) in cases {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(error_from(status, &bytes, about), expected);
        }
    }
}
