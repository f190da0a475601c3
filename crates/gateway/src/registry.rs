//! The schema registry over REST, under `/registry/`: Confluent Schema Registry's API
//! (paths, JSON shapes, `error_code`s, `application/vnd.schemaregistry.v1+json`), so that
//! Confluent's serializers, `kcat`, AKHQ or a `curl` written for Confluent work against
//! `http://<edalab>/registry` as their registry URL (ADR 016).
//!
//! | route | answer |
//! |---|---|
//! | `GET /registry/subjects` | `["bancaire.compte.ouvert-value", ...]` |
//! | `GET /registry/subjects/{subject}/versions` | `[1, 2]` |
//! | `GET /registry/subjects/{subject}/versions/{version\|latest}` | `{subject, id, version, schema}` |
//! | `POST /registry/subjects/{subject}/versions` `{"schema": "..."}` | `{"id": N}` |
//! | `POST /registry/subjects/{subject}` `{"schema": "..."}` | `{subject, id, version, schema}` |
//! | `GET /registry/schemas/ids/{id}` | `{"schema": "..."}` |
//! | `POST /registry/compatibility/subjects/{subject}/versions/{version\|latest}` | `{"is_compatible": bool}` |
//! | `GET /registry/config`, `GET /registry/config/{subject}[?defaultToGlobal=true]` | `{"compatibilityLevel": "BACKWARD"}` |
//! | `PUT /registry/config`, `PUT /registry/config/{subject}` `{"compatibility": "NONE"}` | `{"compatibility": "NONE"}` |
//!
//! Errors are Confluent's `{"error_code": N, "message": "..."}` with Confluent's status:
//! 40401 unknown subject, 40402 unknown version, 40403 unknown schema, 40408 subject
//! without its own level (404); 409 incompatible schema (409); 42201 invalid schema, 42202
//! invalid version, 42203 invalid level, 42208 invalid subject (422); a body that is not
//! the expected JSON is 400 with `error_code` 400. Not Confluent's: deletions, modes,
//! contexts, schema references and non-Avro schema types (42201).
//!
//! Changing a level switches a guard off for every producer (`NONE` lets any schema in), so
//! it is a privileged write ([`LevelChanges`]): allowed when the gateway asks for tokens
//! (`security.tokens`: only a token holder reaches the handler) or when
//! `registry.allow_level_changes` is set, refused otherwise with 403 and `error_code` 40301.
//!
//! The handlers only translate HTTP to the [`SchemaRegistry`] port; which registry answers
//! is configuration (`registry.url`, see [`open`]): the built-in [`LocalRegistry`], or an
//! external Confluent registry through [`HttpRegistry`], in which case `/registry/` relays
//! to it.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRef, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use edalab_schema::registry::CONTENT_TYPE;
use edalab_schema::{
    Compatibility, HttpRegistry, HttpRegistryConfig, LocalRegistry, RegistryError, SchemaId,
    SchemaRegistry, Version,
};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::config::RegistryConfig;
use crate::health::{HealthCheck, Role};
use crate::router::Mount;
use crate::security::SecurityConfig;

/// The directory of the built-in registry, under `bus.data_dir`.
pub const DATA_SUBDIR: &str = "registry";

/// The registry `config` asks for: `registry.url` empty → the built-in one, kept in
/// `<data_dir>/registry/`; a URL → that Confluent-compatible registry.
pub fn open(
    config: &RegistryConfig,
    data_dir: &std::path::Path,
) -> Result<Arc<dyn SchemaRegistry>, RegistryError> {
    let url = config.url.trim();
    if url.is_empty() {
        let dir = data_dir.join(DATA_SUBDIR);
        Ok(Arc::new(LocalRegistry::open(&dir)?))
    } else {
        Ok(Arc::new(HttpRegistry::new(&HttpRegistryConfig {
            url: url.to_owned(),
            timeout_ms: config.timeout_ms,
            cache_entries_max: config.cache_entries_max,
        })?))
    }
}

/// The registry answers (its global level is read): a component of `/api/v1/health`, so that
/// an external registry that went away shows as `down` with the reason.
pub struct RegistryHealth {
    registry: Arc<dyn SchemaRegistry>,
    backend: String,
}

impl RegistryHealth {
    /// `location` is what the health report names as the backend (`built-in`, the URL).
    pub fn new(registry: Arc<dyn SchemaRegistry>, location: &str) -> Self {
        Self {
            registry,
            backend: location.to_owned(),
        }
    }
}

#[async_trait::async_trait]
impl HealthCheck for RegistryHealth {
    fn name(&self) -> &str {
        "schema-registry"
    }
    fn role(&self) -> Role {
        Role::Service
    }
    fn backend(&self) -> &str {
        &self.backend
    }
    async fn check(&self) -> Result<(), String> {
        self.registry
            .compatibility(None)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Whether `PUT /registry/config[/{subject}]` may change a compatibility level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LevelChanges {
    Allowed,
    /// Refused with 403, `error_code` 40301, naming the settings that allow it.
    Refused,
}

impl LevelChanges {
    /// Allowed when `registry.allow_level_changes` is set or the gateway asks for tokens on
    /// writes (then only a token holder gets as far as the handler).
    pub fn from_config(registry: &RegistryConfig, security: &SecurityConfig) -> Self {
        if registry.allow_level_changes || security.auth_required() {
            Self::Allowed
        } else {
            Self::Refused
        }
    }

    fn check(self) -> Result<(), Failure> {
        match self {
            Self::Allowed => Ok(()),
            Self::Refused => Err(Failure(RegistryError::Forbidden(
                "changing a compatibility level is disabled on this registry: configure \
                 security.tokens (token holders may then change levels) or set \
                 registry.allow_level_changes: true"
                    .to_owned(),
            ))),
        }
    }
}

/// The `/registry/` routes over `registry`, to mount in the gateway.
pub fn mount(registry: Arc<dyn SchemaRegistry>, levels: LevelChanges) -> Mount {
    Mount::new("registry", router(registry, levels))
}

/// The `/registry/` routes over `registry`, with their OpenAPI operations (to add layers
/// before mounting).
pub fn router(registry: Arc<dyn SchemaRegistry>, levels: LevelChanges) -> OpenApiRouter {
    routes().with_state(RegistryState { registry, levels })
}

type Registry = Arc<dyn SchemaRegistry>;

/// The routes' state; handlers take the part they need.
#[derive(Clone)]
struct RegistryState {
    registry: Registry,
    levels: LevelChanges,
}

impl FromRef<RegistryState> for Registry {
    fn from_ref(state: &RegistryState) -> Self {
        Arc::clone(&state.registry)
    }
}

impl FromRef<RegistryState> for LevelChanges {
    fn from_ref(state: &RegistryState) -> Self {
        state.levels
    }
}

fn routes() -> OpenApiRouter<RegistryState> {
    OpenApiRouter::with_openapi(RegistryDoc::openapi())
        .routes(routes!(subjects))
        .routes(routes!(versions, register))
        .routes(routes!(version))
        .routes(routes!(lookup))
        .routes(routes!(schema_by_id))
        .routes(routes!(check_compatibility))
        .routes(routes!(get_config, put_config))
        .routes(routes!(get_subject_config, put_subject_config))
}

#[derive(OpenApi)]
#[openapi(
    tags((name = "registry", description = "Confluent-compatible schema registry (X-08); errors are `RegistryErrorBody`")),
    components(schemas(
        SchemaRequest, IdBody, SchemaVersionBody, SchemaBody, IsCompatibleBody,
        CompatibilityLevelBody, CompatibilityBody, RegistryErrorBody
    ))
)]
struct RegistryDoc;

/// A registry answer: JSON with Confluent's content type.
struct Answer<T>(StatusCode, T);

impl<T: Serialize> IntoResponse for Answer<T> {
    fn into_response(self) -> Response {
        match serde_json::to_vec(&self.1) {
            Ok(bytes) => (self.0, [(header::CONTENT_TYPE, CONTENT_TYPE)], bytes).into_response(),
            Err(e) => {
                Failure(RegistryError::Store(format!("encoding the answer: {e}"))).into_response()
            }
        }
    }
}

fn ok<T: Serialize>(value: T) -> Answer<T> {
    Answer(StatusCode::OK, value)
}

/// A registry error as Confluent answers it.
struct Failure(RegistryError);

impl From<RegistryError> for Failure {
    fn from(error: RegistryError) -> Self {
        Self(error)
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let status =
            StatusCode::from_u16(self.0.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(error_code = self.0.error_code(), error = %self.0, "registry request failed");
        }
        let body = self.0.body();
        let body = RegistryErrorBody {
            error_code: body.error_code,
            message: body.message,
        };
        Answer(status, body).into_response()
    }
}

/// What a handler returns.
type Reply<T> = Result<Answer<T>, Failure>;

/// A JSON body, whatever its content type (Confluent takes `application/json`, its own
/// types, or none); a body that is not the expected JSON (an unknown field included) is
/// 400 with serde's message, which names the field.
fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Failure> {
    serde_json::from_slice(bytes)
        .map_err(|e| Failure(RegistryError::BadRequest(format!("invalid JSON body: {e}"))))
}

/// `{"schema": "..."}`, with Confluent's optional `schemaType` and `references`. The other
/// fields of Confluent's request (`metadata`, `ruleSet`, `version`, `id`) are known but
/// not supported: empty or null they are accepted, set they are refused (42201) rather
/// than ignored. Any other field is refused (400 naming it), the rule of every route
/// (ADR 019).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SchemaRequest {
    /// The Avro schema, as JSON text.
    pub schema: String,
    /// `AVRO` (the default); other types are refused (42201).
    #[serde(default)]
    #[schema(value_type = Option<SchemaTypeName>)]
    pub schema_type: Option<String>,
    /// Schema references: not supported (42201 when non-empty).
    #[serde(default)]
    #[schema(schema_with = empty_list)]
    pub references: Option<Vec<serde_json::Value>>,
    /// Confluent's data-contract metadata: not supported (42201 when set).
    #[serde(default)]
    #[schema(schema_with = empty_object)]
    pub metadata: Option<serde_json::Value>,
    /// Confluent's data-contract rules: not supported (42201 when set).
    #[serde(default)]
    #[schema(schema_with = empty_object)]
    pub rule_set: Option<serde_json::Value>,
    /// Confluent's import mode: not supported (42201 when set).
    #[serde(default)]
    #[schema(schema_with = null_only)]
    pub version: Option<i64>,
    /// Confluent's import mode: not supported (42201 when set).
    #[serde(default)]
    #[schema(schema_with = null_only)]
    pub id: Option<i64>,
}

/// The schema types this registry holds (documentation only).
#[derive(ToSchema)]
#[schema(rename_all = "UPPERCASE")]
#[allow(dead_code)]
enum SchemaTypeName {
    Avro,
}

/// The compatibility levels (documentation only; parsed by `CompatibilityLevel`).
#[derive(ToSchema)]
#[schema(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(dead_code)]
enum LevelName {
    None,
    Backward,
    BackwardTransitive,
    Forward,
    ForwardTransitive,
    Full,
    FullTransitive,
}

/// A request field this registry accepts only absent or `null` (documentation).
fn null_only() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::Null))
        .build()
}

/// A request field this registry accepts only absent, `null` or `{}` (documentation).
fn empty_object() -> utoipa::openapi::schema::Object {
    use utoipa::openapi::schema::{ObjectBuilder, SchemaType, Type};
    ObjectBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Object, Type::Null]))
        .max_properties(Some(0))
        .build()
}

/// A request field this registry accepts only absent, `null` or `[]` (documentation).
fn empty_list() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, Object, SchemaType, Type};
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(Object::new())
        .max_items(Some(0))
        .build()
}

impl SchemaRequest {
    fn parse(bytes: &[u8]) -> Result<Self, Failure> {
        let request: Self = body(bytes)?;
        let unsupported = |what: &str| {
            Err(Failure(RegistryError::InvalidSchema(format!(
                "{what} is not supported by this registry"
            ))))
        };
        if let Some(kind) = &request.schema_type
            && !kind.eq_ignore_ascii_case("AVRO")
        {
            return Err(Failure(RegistryError::InvalidSchema(format!(
                "schemaType {} is not supported: this registry holds Avro schemas only",
                edalab_domain::validation::excerpt(kind, 32)
            ))));
        }
        if request.references.as_ref().is_some_and(|r| !r.is_empty()) {
            return unsupported("schema references (`references`)");
        }
        if request.metadata.as_ref().is_some_and(is_set) {
            return unsupported("`metadata`");
        }
        if request.rule_set.as_ref().is_some_and(is_set) {
            return unsupported("`ruleSet`");
        }
        if request.version.is_some() || request.id.is_some() {
            return unsupported("import mode (`version`, `id`)");
        }
        Ok(request)
    }
}

/// A JSON value that says something: not `null`, `{}` or `[]`.
fn is_set(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => false,
        serde_json::Value::Object(map) => !map.is_empty(),
        serde_json::Value::Array(list) => !list.is_empty(),
        _ => true,
    }
}

/// `{"id": N}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IdBody {
    pub id: u32,
}

/// `{subject, id, version, schema}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SchemaVersionBody {
    pub subject: String,
    pub id: u32,
    pub version: u32,
    pub schema: String,
}

impl From<edalab_schema::RegisteredSchema> for SchemaVersionBody {
    fn from(r: edalab_schema::RegisteredSchema) -> Self {
        Self {
            subject: r.subject,
            id: r.id,
            version: r.version,
            schema: r.schema,
        }
    }
}

/// `{"schema": "..."}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SchemaBody {
    pub schema: String,
}

/// `{"is_compatible": bool}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IsCompatibleBody {
    pub is_compatible: bool,
}

/// `{"compatibilityLevel": "BACKWARD"}` (what `GET /config` answers).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompatibilityLevelBody {
    #[schema(value_type = LevelName)]
    pub compatibility_level: String,
}

/// `{"compatibility": "NONE"}` (what `PUT /config` takes and answers); no other field.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CompatibilityBody {
    #[schema(value_type = LevelName)]
    pub compatibility: String,
}

/// Confluent's error body.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegistryErrorBody {
    /// 40401, 40402, 40403, 40408, 409, 42201, 42202, 42203, 42208, 400, 50001...
    pub error_code: u32,
    pub message: String,
}

/// Whether `path` is under the registry's prefix.
pub fn owns(path: &str) -> bool {
    path == "/registry" || path.starts_with("/registry/")
}

/// What a registry path no route has answers: Confluent's 404 (`{"error_code": 404,
/// "message": "HTTP 404 Not Found…"}` with its content type), the shape Confluent's clients
/// read — never the platform's error body, nor the web UI.
pub fn unknown_path(method: &axum::http::Method, path: &str) -> Response {
    let body = RegistryErrorBody {
        error_code: 404,
        message: format!("HTTP 404 Not Found: no registry route for {method} {path}"),
    };
    Answer(StatusCode::NOT_FOUND, body).into_response()
}

/// Query of `GET /registry/config/{subject}`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub struct SubjectConfigParams {
    /// `true`: answer the global level when the subject has none of its own (else 40408).
    #[param(value_type = Option<bool>)]
    pub default_to_global: Option<String>,
}

fn parse_version(text: &str) -> Result<Version, Failure> {
    Ok(text.parse::<Version>()?)
}

/// Every subject.
#[utoipa::path(
    get,
    path = "/registry/subjects",
    tag = "registry",
    responses(
        (status = 200, description = "Every subject, sorted", content_type = "application/vnd.schemaregistry.v1+json", body = Vec<String>),
        (status = "default", description = "`{error_code, message}`", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
    )
)]
async fn subjects(State(registry): State<Registry>) -> Reply<Vec<String>> {
    Ok(ok(registry.subjects().await?))
}

/// The versions of a subject.
#[utoipa::path(
    get,
    path = "/registry/subjects/{subject}/versions",
    tag = "registry",
    params(("subject" = String, Path, min_length = 1, max_length = 255, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$", description = "`<topic>-value`")),
    responses(
        (status = 200, description = "Version numbers, ascending", content_type = "application/vnd.schemaregistry.v1+json", body = Vec<u32>),
        (status = 404, description = "40401: no such subject", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = "default", description = "`{error_code, message}`", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
    )
)]
async fn versions(
    State(registry): State<Registry>,
    Path(subject): Path<String>,
) -> Reply<Vec<u32>> {
    Ok(ok(registry.versions(&subject).await?))
}

/// Registers a schema under a subject (idempotent), enforcing its compatibility level.
#[utoipa::path(
    post,
    path = "/registry/subjects/{subject}/versions",
    tag = "registry",
    params(("subject" = String, Path, min_length = 1, max_length = 255, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$", description = "`<topic>-value`")),
    request_body(content = SchemaRequest, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "The schema's global id", content_type = "application/vnd.schemaregistry.v1+json", body = IdBody),
        (status = 409, description = "409: incompatible with an earlier version; the message says how", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = 422, description = "42201: not a valid Avro schema", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = "default", description = "`{error_code, message}`", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
    )
)]
async fn register(
    State(registry): State<Registry>,
    Path(subject): Path<String>,
    bytes: Bytes,
) -> Reply<IdBody> {
    let request = SchemaRequest::parse(&bytes)?;
    let SchemaId(id) = registry.register(&subject, &request.schema).await?;
    Ok(ok(IdBody { id }))
}

/// One version of a subject.
#[utoipa::path(
    get,
    path = "/registry/subjects/{subject}/versions/{version}",
    tag = "registry",
    params(
        ("subject" = String, Path, min_length = 1, max_length = 255, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$", description = "`<topic>-value`"),
        ("version" = String, Path, pattern = r"^(latest|-1|[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|21474836[0-3][0-9]|214748364[0-7])$", description = "1..2^31-1 (the pattern spells that range), `latest` or -1"),
    ),
    responses(
        (status = 200, description = "The version", content_type = "application/vnd.schemaregistry.v1+json", body = SchemaVersionBody),
        (status = 404, description = "40401: no such subject; 40402: no such version", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = 422, description = "42202: not a version", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = "default", description = "`{error_code, message}`", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
    )
)]
async fn version(
    State(registry): State<Registry>,
    Path((subject, version)): Path<(String, String)>,
) -> Reply<SchemaVersionBody> {
    let version = parse_version(&version)?;
    Ok(ok(registry.version(&subject, version).await?.into()))
}

/// Which version of a subject a schema is.
#[utoipa::path(
    post,
    path = "/registry/subjects/{subject}",
    tag = "registry",
    params(("subject" = String, Path, min_length = 1, max_length = 255, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$", description = "`<topic>-value`")),
    request_body(content = SchemaRequest, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "The version holding this schema", content_type = "application/vnd.schemaregistry.v1+json", body = SchemaVersionBody),
        (status = 404, description = "40401: no such subject; 40403: the schema is not under it", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = "default", description = "`{error_code, message}`", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
    )
)]
async fn lookup(
    State(registry): State<Registry>,
    Path(subject): Path<String>,
    bytes: Bytes,
) -> Reply<SchemaVersionBody> {
    let request = SchemaRequest::parse(&bytes)?;
    Ok(ok(registry.lookup(&subject, &request.schema).await?.into()))
}

/// The schema with a global id.
#[utoipa::path(
    get,
    path = "/registry/schemas/ids/{id}",
    tag = "registry",
    params(("id" = u32, Path, description = "Global schema id")),
    responses(
        (status = 200, description = "The schema", content_type = "application/vnd.schemaregistry.v1+json", body = SchemaBody),
        (status = 404, description = "40403: no schema with this id", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = "default", description = "`{error_code, message}`", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
    )
)]
async fn schema_by_id(
    State(registry): State<Registry>,
    Path(id): Path<String>,
) -> Reply<SchemaBody> {
    // Any text that is not an id names no schema: Confluent answers 40403 too.
    let id = id.parse::<u32>().map_err(|_| {
        Failure(RegistryError::SchemaNotFound(format!(
            "Schema {id} not found"
        )))
    })?;
    let schema = registry.schema_by_id(SchemaId(id)).await?;
    Ok(ok(SchemaBody { schema }))
}

/// Whether a schema could be registered against a version of a subject.
#[utoipa::path(
    post,
    path = "/registry/compatibility/subjects/{subject}/versions/{version}",
    tag = "registry",
    params(
        ("subject" = String, Path, min_length = 1, max_length = 255, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$", description = "`<topic>-value`"),
        ("version" = String, Path, pattern = r"^(latest|-1|[1-9][0-9]{0,8}|1[0-9]{9}|20[0-9]{8}|21[0-3][0-9]{7}|214[0-6][0-9]{6}|2147[0-3][0-9]{5}|21474[0-7][0-9]{4}|214748[0-2][0-9]{3}|2147483[0-5][0-9]{2}|21474836[0-3][0-9]|214748364[0-7])$", description = "1..2^31-1 (the pattern spells that range), `latest` or -1"),
    ),
    request_body(content = SchemaRequest, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "The verdict under the subject's level", content_type = "application/vnd.schemaregistry.v1+json", body = IsCompatibleBody),
        (status = 404, description = "40401: no such subject; 40402: no such version", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = 422, description = "42201: invalid schema; 42202: not a version", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = "default", description = "`{error_code, message}`", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
    )
)]
async fn check_compatibility(
    State(registry): State<Registry>,
    Path((subject, version)): Path<(String, String)>,
    bytes: Bytes,
) -> Reply<IsCompatibleBody> {
    let version = parse_version(&version)?;
    let request = SchemaRequest::parse(&bytes)?;
    let is_compatible = registry
        .check_compatibility(&subject, version, &request.schema)
        .await?;
    Ok(ok(IsCompatibleBody { is_compatible }))
}

fn parse_level(bytes: &[u8]) -> Result<Compatibility, Failure> {
    let request: CompatibilityBody = body(bytes)?;
    Ok(request.compatibility.parse::<Compatibility>()?)
}

/// The global compatibility level.
#[utoipa::path(
    get,
    path = "/registry/config",
    tag = "registry",
    responses(
        (status = 200, description = "The global level", content_type = "application/vnd.schemaregistry.v1+json", body = CompatibilityLevelBody),
        (status = "default", description = "`{error_code, message}`", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
    )
)]
async fn get_config(State(registry): State<Registry>) -> Reply<CompatibilityLevelBody> {
    let level = registry.compatibility(None).await?;
    Ok(ok(CompatibilityLevelBody {
        compatibility_level: level.to_string(),
    }))
}

/// Sets the global compatibility level.
#[utoipa::path(
    put,
    path = "/registry/config",
    tag = "registry",
    request_body(content = CompatibilityBody, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "The level set", content_type = "application/vnd.schemaregistry.v1+json", body = CompatibilityBody),
        (status = 403, description = "40301: level changes are disabled (see `registry.allow_level_changes`)", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = 422, description = "42203: not a level", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = "default", description = "`{error_code, message}`", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
    )
)]
async fn put_config(
    State(registry): State<Registry>,
    State(levels): State<LevelChanges>,
    bytes: Bytes,
) -> Reply<CompatibilityBody> {
    levels.check()?;
    let level = registry
        .set_compatibility(None, parse_level(&bytes)?)
        .await?;
    Ok(ok(CompatibilityBody {
        compatibility: level.to_string(),
    }))
}

/// A subject's own compatibility level.
#[utoipa::path(
    get,
    path = "/registry/config/{subject}",
    tag = "registry",
    params(("subject" = String, Path, min_length = 1, max_length = 255, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$", description = "`<topic>-value`"), SubjectConfigParams),
    responses(
        (status = 200, description = "The subject's level", content_type = "application/vnd.schemaregistry.v1+json", body = CompatibilityLevelBody),
        (status = 404, description = "40408: the subject has no level of its own (and no defaultToGlobal=true)", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = "default", description = "`{error_code, message}`", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
    )
)]
async fn get_subject_config(
    State(registry): State<Registry>,
    Path(subject): Path<String>,
    params: Result<Query<SubjectConfigParams>, QueryRejection>,
) -> Reply<CompatibilityLevelBody> {
    let Query(params) = params.map_err(|e| {
        Failure(RegistryError::BadRequest(format!(
            "invalid query: {}",
            e.body_text()
        )))
    })?;
    let default_to_global = match params.default_to_global.as_deref() {
        None => false,
        Some(text) => text.parse::<bool>().map_err(|_| {
            Failure(RegistryError::BadRequest(format!(
                "invalid defaultToGlobal {text:?}: expected true or false"
            )))
        })?,
    };
    let level = match registry.compatibility(Some(&subject)).await {
        Err(RegistryError::SubjectCompatibilityNotConfigured(_)) if default_to_global => {
            registry.compatibility(None).await?
        }
        other => other?,
    };
    Ok(ok(CompatibilityLevelBody {
        compatibility_level: level.to_string(),
    }))
}

/// Sets a subject's own compatibility level.
#[utoipa::path(
    put,
    path = "/registry/config/{subject}",
    tag = "registry",
    params(("subject" = String, Path, min_length = 1, max_length = 255, pattern = r"^[^\x00-\x1F\x7F-\x9F]+$", description = "`<topic>-value`")),
    request_body(content = CompatibilityBody, content_type = "application/vnd.schemaregistry.v1+json"),
    responses(
        (status = 200, description = "The level set", content_type = "application/vnd.schemaregistry.v1+json", body = CompatibilityBody),
        (status = 403, description = "40301: level changes are disabled (see `registry.allow_level_changes`)", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = 422, description = "42203: not a level", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
        (status = "default", description = "`{error_code, message}`", content_type = "application/vnd.schemaregistry.v1+json", body = RegistryErrorBody),
    )
)]
async fn put_subject_config(
    State(registry): State<Registry>,
    State(levels): State<LevelChanges>,
    Path(subject): Path<String>,
    bytes: Bytes,
) -> Reply<CompatibilityBody> {
    levels.check()?;
    let level = registry
        .set_compatibility(Some(&subject), parse_level(&bytes)?)
        .await?;
    Ok(ok(CompatibilityBody {
        compatibility: level.to_string(),
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn enum_values<T: utoipa::PartialSchema>() -> Vec<String> {
        let schema = serde_json::to_value(T::schema()).unwrap();
        schema["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("not an enum: {schema}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_documented_levels_are_the_parsed_ones() {
        let levels: Vec<String> = Compatibility::ALL
            .iter()
            .map(|l| l.as_str().to_owned())
            .collect();
        assert_eq!(enum_values::<LevelName>(), levels);
    }
}
