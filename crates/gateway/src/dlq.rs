//! Dead-letter queues over REST (X-04), for the web UI and scripts:
//!
//! - `GET /api/v1/dlq` → every DLQ with its depth;
//! - `GET /api/v1/dlq/{topic}/messages?limit=` → the messages a redrive has not moved yet,
//!   each with its failure reason (`limit` 1..=1000, default 100);
//! - `POST /api/v1/dlq/{topic}/redrive` (body optional: `{"rate_per_second": 1..=1000}`,
//!   default 100) → `{scanned, redriven, skipped, invalid}`.
//!
//! The HTTP layer only: where the dead letters are is the [`DeadLetters`] port's
//! (`crate::dead_letters`): DLQ topics of the log, and on the `aws` profile the SQS DLQs of
//! the queue-shaped channels. **Depth** is what a whole-DLQ redrive has not moved yet, so
//! after a redrive the depth and the list are empty. Unknown DLQ → 404, a topic that is not
//! a DLQ → 400, a bad `limit` or body → 400 naming the field.
//!
//! Redrive is the one place the gateway produces to the bus: it is an operator's command on
//! the bus itself (like `edalab dlq redrive`), not a business decision. It runs in its own
//! task so a client that goes away or a request timeout does not stop it half-way; one
//! redrive runs at a time (a second one is a 409).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use edalab_bus::runtime::{DlqEntry, RedriveReport};
use edalab_domain::validation;
use serde::{Deserialize, Serialize};
use tokio::sync::Mutex;
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::router::AppState;

/// Messages listed when `limit` is absent.
pub const LIST_LIMIT_DEFAULT: usize = 100;
/// Most messages one listing returns (the limit of every list route).
pub const LIST_LIMIT_MAX: usize = validation::LIST_LIMIT_MAX as usize;
/// Redrive rate when the body does not give one (messages per second).
pub const REDRIVE_RATE_DEFAULT: u32 = 100;
/// Highest redrive rate a request may ask for (messages per second).
pub const REDRIVE_RATE_MAX: u32 = 1_000;

/// One redrive at a time.
static REDRIVING: Mutex<()> = Mutex::const_new(());

#[derive(OpenApi)]
#[openapi(
    tags((name = "dlq", description = "Dead-letter queues: inspect and redrive (X-04)")),
    components(schemas(DlqTopic, DlqTopics, DlqMessage, InvalidDlqMessage, DlqMessages, RedriveRequest, RedriveResult))
)]
struct DlqDoc;

/// The DLQ routes, merged into the gateway's own list.
pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(DlqDoc::openapi())
        .routes(routes!(list_dlqs))
        .routes(routes!(messages))
        .routes(routes!(redrive_dlq))
}

/// A DLQ and how many of its messages wait for a redrive.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DlqTopic {
    /// The DLQ's name: a topic of the log, or an SQS queue.
    pub topic: String,
    /// Messages not yet redriven (SQS: approximate, visible and in flight).
    pub depth: u64,
    /// Partitions of a DLQ topic (absent for an SQS queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partitions: Option<u32>,
    /// Where it lives: `log` or `sqs`.
    pub backend: String,
}

impl DlqTopic {
    /// [`DlqTopic::backend`] of a DLQ topic of the log.
    pub const LOG: &str = "log";
    /// [`DlqTopic::backend`] of an SQS queue.
    pub const SQS: &str = "sqs";
}

/// `GET /api/v1/dlq`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DlqTopics {
    pub dlqs: Vec<DlqTopic>,
}

/// One dead letter: where it is, where it came from, why it failed (ADR 005's `dlq.*`
/// headers on a log; on SQS, the reason the handler recorded when it gave up).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DlqMessage {
    /// Position in the DLQ topic (absent on SQS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// SQS's `MessageId` in the DLQ (absent on a log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    /// The original key (lossy UTF-8), if any.
    pub key: Option<String>,
    /// The last failure's reason.
    pub error: String,
    /// Delivery attempts before it was dead-lettered (SQS: receives so far).
    pub attempts: u32,
    /// The topic or queue it failed on.
    pub origin_topic: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_partition: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin_offset: Option<u64>,
    /// The consumer group (log) or queue consumer (SQS) that failed to handle it.
    pub group: String,
    /// Epoch milliseconds (SQS: when the handler gave up, for both).
    pub first_failure_ms: i64,
    pub last_failure_ms: i64,
    /// The original value: JSON when it is JSON text, else a (lossy UTF-8) string.
    #[schema(value_type = Object)]
    pub value: serde_json::Value,
}

impl From<&DlqEntry> for DlqMessage {
    fn from(entry: &DlqEntry) -> Self {
        Self {
            partition: Some(entry.dlq_partition),
            offset: Some(entry.dlq_offset),
            message_id: None,
            key: entry.key_text(),
            error: entry.error.clone(),
            attempts: entry.attempts,
            origin_topic: entry.origin_topic.clone(),
            origin_partition: Some(entry.origin_partition),
            origin_offset: Some(entry.origin_offset),
            group: entry.group.clone(),
            first_failure_ms: entry.first_failure_ms,
            last_failure_ms: entry.last_failure_ms,
            value: entry.value_json(),
        }
    }
}

/// A message in a DLQ topic without (valid) `dlq.*` headers: a redrive leaves it alone.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct InvalidDlqMessage {
    pub partition: u32,
    pub offset: u64,
    pub reason: String,
}

/// `GET /api/v1/dlq/{topic}/messages`.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct DlqMessages {
    pub topic: String,
    /// Messages not yet redriven (may exceed the number listed).
    pub depth: u64,
    pub messages: Vec<DlqMessage>,
    /// Messages that are not dead letters (they count in `depth` and `limit`).
    pub invalid: Vec<InvalidDlqMessage>,
}

/// Query of `GET /api/v1/dlq/{topic}/messages`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// At most this many messages, 1..=1000 (default 100).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
}

/// Body of `POST /api/v1/dlq/{topic}/redrive` (optional).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedriveRequest {
    /// Messages per second at most, 1..=1000 (default 100).
    #[schema(minimum = 1, maximum = 1000)]
    #[serde(default, deserialize_with = "edalab_http::optional_integer")]
    pub rate_per_second: Option<u32>,
}

/// What a redrive did.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema)]
pub struct RedriveResult {
    /// DLQ messages read.
    pub scanned: u64,
    /// Produced back to their origin topic.
    pub redriven: u64,
    /// Left alone: not matching the filter.
    pub skipped: u64,
    /// Left alone: not a dead letter (missing or garbled `dlq.*` headers).
    pub invalid: u64,
}

impl From<RedriveReport> for RedriveResult {
    fn from(r: RedriveReport) -> Self {
        Self {
            scanned: r.scanned,
            redriven: r.redriven,
            skipped: r.skipped,
            invalid: r.invalid,
        }
    }
}

/// `limit` under the rule of every list route (`1..=1000`, ADR 019).
fn parse_limit(raw: Option<&str>) -> Result<usize, ApiError> {
    let default = u32::try_from(LIST_LIMIT_DEFAULT).unwrap_or(validation::LIST_LIMIT_MAX);
    validation::parse_limit(raw, default)
        .map(|limit| usize::try_from(limit).unwrap_or(LIST_LIMIT_MAX))
        .map_err(|message| ApiError::invalid("limit", message))
}

fn parse_redrive_body(body: &[u8]) -> Result<u32, ApiError> {
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        RedriveRequest::default()
    } else {
        // `null` is no body, as the document's `oneOf: [null, RedriveRequest]` says; any
        // other non-object (`[]`, which serde would read as a struct) is refused.
        let value: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::invalid_json(format!("invalid redrive body: {e}")))?;
        match value {
            serde_json::Value::Null => RedriveRequest::default(),
            serde_json::Value::Object(_) => serde_json::from_value(value)
                .map_err(|e| ApiError::invalid_json(format!("invalid redrive body: {e}")))?,
            _ => {
                return Err(ApiError::invalid_json(
                    "the redrive body must be a JSON object (or null)",
                ));
            }
        }
    };
    let rate = request.rate_per_second.unwrap_or(REDRIVE_RATE_DEFAULT);
    if !(1..=REDRIVE_RATE_MAX).contains(&rate) {
        let message = format!("must be between 1 and {REDRIVE_RATE_MAX}, got {rate}");
        return Err(ApiError::invalid("rate_per_second", message));
    }
    Ok(rate)
}

/// Every DLQ topic with its depth.
#[utoipa::path(
    get,
    path = "/api/v1/dlq",
    tag = "dlq",
    responses(
        (status = 200, description = "DLQ topics, by name", body = DlqTopics),
        (status = 503, description = "The bus refused", body = ErrorBody),
    )
)]
async fn list_dlqs(State(state): State<AppState>) -> Result<Json<DlqTopics>, ApiError> {
    let dlqs = state.dead_letters().dlqs().await?;
    Ok(Json(DlqTopics { dlqs }))
}

/// The messages of a DLQ that a redrive has not moved yet, with their failure reasons.
#[utoipa::path(
    get,
    path = "/api/v1/dlq/{topic}/messages",
    tag = "dlq",
    params(("topic" = String, Path, pattern = r"^.+[.-]dlq$", description = "A DLQ topic (its name ends in `.dlq` or `-dlq`), e.g. `payments.dlq`"), ListParams),
    responses(
        (status = 200, description = "Pending dead letters, oldest first per partition", body = DlqMessages),
        (status = 400, description = "Not a DLQ topic, or a bad `limit`", body = ErrorBody),
        (status = 404, description = "No such topic", body = ErrorBody),
    )
)]
async fn messages(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Json<DlqMessages>, ApiError> {
    let limit = parse_limit(params.limit.as_deref())?;
    let listed = state.dead_letters().messages(&topic, limit).await?;
    Ok(Json(listed))
}

/// Moves a DLQ's pending messages back to their origin topics, attempts reset, at a bounded
/// rate (SQS `StartMessageMoveTask`). A re-run does not resend what an earlier one moved.
#[utoipa::path(
    post,
    path = "/api/v1/dlq/{topic}/redrive",
    tag = "dlq",
    params(("topic" = String, Path, pattern = r"^.+[.-]dlq$", description = "A DLQ topic (its name ends in `.dlq` or `-dlq`), e.g. `payments.dlq`")),
    request_body(content = Option<RedriveRequest>, description = "Optional; `{}` or no body for the defaults"),
    responses(
        (status = 200, description = "Counts of the redrive", body = RedriveResult),
        (status = 400, description = "Not a DLQ topic, or a bad body", body = ErrorBody),
        (status = 404, description = "No such topic", body = ErrorBody),
        (status = 409, description = "A redrive is already running", body = ErrorBody),
    )
)]
async fn redrive_dlq(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    body: Bytes,
) -> Result<Json<RedriveResult>, ApiError> {
    let rate = parse_redrive_body(&body)?;
    let dead_letters = Arc::clone(state.dead_letters());
    dead_letters.check(&topic).await?;
    let Ok(guard) = REDRIVING.try_lock() else {
        return Err(ApiError::conflict(
            "a redrive is already running; wait for it to finish",
        ));
    };
    // Its own task: a dropped request does not stop a redrive between a produce and the
    // commit of its position (which would send those messages again next time).
    let task = tokio::spawn(async move {
        let _guard = guard;
        dead_letters.redrive(&topic, rate).await
    });
    match task.await {
        Ok(result) => result.map(Json),
        Err(join) => Err(ApiError::internal(format!(
            "the redrive task failed: {join}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redrive_body_that_is_not_an_object_is_refused() {
        for body in [&b"[]"[..], b"[1]", b"3", b"\"x\""] {
            let error = parse_redrive_body(body).unwrap_err();
            assert_eq!(error.code.as_str(), "invalid_json");
        }
        assert!(parse_redrive_body(b"null").is_ok());
        assert!(parse_redrive_body(b"{}").is_ok());
    }

    #[test]
    fn limits_are_bounded_and_named() {
        assert_eq!(parse_limit(None).unwrap(), LIST_LIMIT_DEFAULT);
        assert_eq!(parse_limit(Some("1")).unwrap(), 1);
        assert_eq!(parse_limit(Some("1000")).unwrap(), 1_000);
        for bad in ["0", "1001", "-1", "ten", ""] {
            let error = parse_limit(Some(bad)).unwrap_err();
            assert_eq!(error.code.as_str(), "validation_failed", "{bad}");
            assert!(
                error.details.iter().any(|d| d.field == "limit"),
                "{bad}: {error}"
            );
        }
    }

    #[test]
    fn redrive_bodies_are_optional_and_checked() {
        assert_eq!(parse_redrive_body(b"").unwrap(), REDRIVE_RATE_DEFAULT);
        assert_eq!(parse_redrive_body(b"{}").unwrap(), REDRIVE_RATE_DEFAULT);
        assert_eq!(parse_redrive_body(br#"{"rate_per_second": 7}"#).unwrap(), 7);
        let error = parse_redrive_body(br#"{"rate_per_second": 0}"#).unwrap_err();
        assert!(error.details.iter().any(|d| d.field == "rate_per_second"));
        let error = parse_redrive_body(br#"{"rate_per_second": 5000}"#).unwrap_err();
        assert!(error.details.iter().any(|d| d.field == "rate_per_second"));
        let error = parse_redrive_body(br#"{"rate": 5}"#).unwrap_err();
        assert_eq!(error.code.as_str(), "invalid_json");
        assert!(error.message.contains("rate"), "{}", error.message);
    }
}
