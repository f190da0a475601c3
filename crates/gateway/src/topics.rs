//! Topics and their messages over REST, for the UI's topic browser (issue 23, part 1) — what
//! Kafka UI, Redpanda Console and Control Center show, on every profile's bus:
//!
//! - `GET /api/v1/topics` → every topic: partitions, retention, size, messages retained;
//! - `GET /api/v1/topics/{topic}` → one topic, with each partition's offsets and size;
//! - `GET /api/v1/topics/{topic}/messages` → messages decoded like `edalab tail --format
//!   json` (Avro through the schema registry, JSON as JSON, headers, the trace id of the
//!   `traceparent` header): newest first across partitions, or from `offset` upwards; only one
//!   `partition` if given; filtered by exact `key` or by text `q` (in the key, the headers or
//!   the decoded value). A filter scans at most [`SCAN_MAX`] messages per partition from the
//!   end (or from `offset`), so a request is bounded; `scanned` says how many were looked at.
//!
//! Unknown topic → 404 naming it; a partition the topic does not have, or a bad `limit`,
//! `offset` or `partition` → 400 naming the parameter. Reads go through
//! [`edalab_bus::Bus::read_partition`]: no consumer group is joined, nothing is committed.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use edalab_bus::{Bus, BusError, Message, PartitionRead, TopicDescription};
use edalab_schema::DisplayDecoder;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::{IntoParams, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dead_letters::bus_error;
use crate::error::{ApiError, ErrorBody};
use crate::router::AppState;

/// Messages answered when `limit` is absent.
pub const LIMIT_DEFAULT: usize = 50;
/// Most messages one request answers.
pub const LIMIT_MAX: usize = 500;
/// Most messages a filtered request looks at per partition.
pub const SCAN_MAX: usize = 5_000;
/// Longest wait for messages known to exist (a Kafka broker fetching them; the embedded log
/// answers at once). Only ranges below the end offset are read, so it is never spent idle.
const FETCH_WAIT: Duration = Duration::from_secs(5);

#[derive(OpenApi)]
#[openapi(
    tags((name = "topics", description = "Topics and their messages, decoded (issue 23)")),
    components(schemas(TopicSummary, Topics, TopicDetail, TopicPartitionView, TopicMessage, TopicMessages))
)]
struct TopicsDoc;

pub(crate) fn routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(TopicsDoc::openapi())
        .routes(routes!(list_topics))
        .routes(routes!(get_topic))
        .routes(routes!(topic_messages))
}

/// A topic in the list.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicSummary {
    pub name: String,
    pub partitions: u32,
    /// `null`: kept forever.
    pub retention_ms: Option<u64>,
    pub retention_bytes: Option<u64>,
    pub compression: String,
    pub cleanup_policy: String,
    /// Bytes on disk over every partition (0 where the backend does not say).
    pub size_bytes: u64,
    /// Messages retained: the sum over partitions of end offset minus first offset.
    pub messages: u64,
    /// Sum of the partitions' end offsets (grows by one per message produced).
    pub end_offsets: u64,
    /// A dead-letter topic (its name ends in `.dlq` or `-dlq`).
    pub dlq: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Topics {
    pub topics: Vec<TopicSummary>,
}

/// One partition of a topic.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicPartitionView {
    pub partition: u32,
    pub log_start_offset: u64,
    pub high_watermark: u64,
    pub size_bytes: u64,
}

/// One topic with its partitions.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicDetail {
    #[serde(flatten)]
    pub summary: TopicSummary,
    pub partition_offsets: Vec<TopicPartitionView>,
}

/// One message, decoded.
#[derive(Debug, Serialize, ToSchema)]
pub struct TopicMessage {
    pub partition: u32,
    pub offset: u64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// UTF-8 text, or `{"base64": …}`; `null` without a key.
    pub key: Value,
    /// Name → value (UTF-8 text or `{"base64": …}`); a repeated name keeps its last value.
    #[schema(value_type = Object)]
    pub headers: Value,
    /// Avro decoded to JSON, JSON as JSON, text as a string, else `{"base64": …}`.
    pub value: Value,
    /// The registry id the Avro value was framed with.
    pub value_schema_id: Option<u32>,
    /// Why the value could not be decoded.
    pub value_error: Option<String>,
    /// The W3C trace id of its `traceparent` header: every event of one request shares it.
    pub trace_id: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TopicMessages {
    pub topic: String,
    pub messages: Vec<TopicMessage>,
    /// Messages looked at to answer (the filters drop the others).
    pub scanned: u64,
}

/// `GET /api/v1/topics/{topic}/messages` query.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MessagesParams {
    /// Only this partition.
    #[param(value_type = Option<u32>)]
    pub partition: Option<String>,
    /// From this offset upwards (oldest first); absent: the newest first.
    #[param(value_type = Option<u64>, maximum = 9223372036854775807_u64)]
    pub offset: Option<String>,
    /// 1..=500, default 50.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    pub limit: Option<String>,
    /// Only messages with exactly this key.
    pub key: Option<String>,
    /// Only messages whose key, headers or decoded value contain this text.
    pub q: Option<String>,
}

/// What a messages request asks, checked.
#[derive(Debug, PartialEq, Eq)]
struct Browse {
    partition: Option<u32>,
    offset: Option<u64>,
    limit: usize,
    key: Option<String>,
    text: Option<String>,
}

fn number<T: std::str::FromStr>(name: &str, text: Option<&str>) -> Result<Option<T>, ApiError> {
    text.map(|t| {
        t.parse::<T>().map_err(|_| {
            ApiError::invalid(name, format!("must be a non-negative integer, got `{t}`"))
        })
    })
    .transpose()
}

/// Kafka offsets are signed 64-bit: a larger number is no offset at all.
fn offset(text: Option<&str>) -> Result<Option<u64>, ApiError> {
    let offset = number::<u64>("offset", text)?;
    if let Some(o) = offset
        && i64::try_from(o).is_err()
    {
        return Err(ApiError::invalid(
            "offset",
            format!("must be at most {}, got {o}", i64::MAX),
        ));
    }
    Ok(offset)
}

impl Browse {
    fn parse(params: &MessagesParams) -> Result<Self, ApiError> {
        let limit = number::<usize>("limit", params.limit.as_deref())?.unwrap_or(LIMIT_DEFAULT);
        if !(1..=LIMIT_MAX).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("must be between 1 and {LIMIT_MAX}, got {limit}"),
            ));
        }
        let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Ok(Self {
            partition: number("partition", params.partition.as_deref())?,
            offset: offset(params.offset.as_deref())?,
            limit,
            key: non_empty(&params.key),
            text: non_empty(&params.q),
        })
    }

    fn filtered(&self) -> bool {
        self.key.is_some() || self.text.is_some()
    }
}

fn summary(description: &TopicDescription) -> TopicSummary {
    let parts = &description.partitions;
    TopicSummary {
        name: description.name.clone(),
        partitions: u32::try_from(parts.len()).unwrap_or(u32::MAX),
        retention_ms: description.config.retention_ms,
        retention_bytes: description.config.retention_bytes,
        compression: description.config.compression.clone(),
        cleanup_policy: description.config.cleanup_policy.clone(),
        size_bytes: parts.iter().map(|p| p.size_bytes).sum(),
        messages: parts
            .iter()
            .map(|p| p.high_watermark.saturating_sub(p.log_start_offset))
            .sum(),
        end_offsets: parts.iter().map(|p| p.high_watermark).sum(),
        dlq: description.name.ends_with(".dlq") || description.name.ends_with("-dlq"),
    }
}

/// Every topic with its size and message count.
#[utoipa::path(
    get,
    path = "/api/v1/topics",
    tag = "topics",
    responses(
        (status = 200, description = "Topics, by name", body = Topics),
        (status = 503, description = "The bus refused", body = ErrorBody),
    )
)]
async fn list_topics(State(state): State<AppState>) -> Result<Json<Topics>, ApiError> {
    let bus = state.bus();
    let mut names = bus.list_topics().await.map_err(bus_error)?;
    names.sort();
    let mut topics = Vec::with_capacity(names.len());
    for name in names {
        match bus.describe_topic(&name).await {
            Ok(description) => topics.push(summary(&description)),
            // Deleted between the list and the describe.
            Err(BusError::UnknownTopic(_)) => {}
            Err(error) => return Err(bus_error(error)),
        }
    }
    Ok(Json(Topics { topics }))
}

/// One topic with each partition's offsets and size.
#[utoipa::path(
    get,
    path = "/api/v1/topics/{topic}",
    tag = "topics",
    params(("topic" = String, Path, description = "A topic, e.g. `bancaire.compte.ouvert`")),
    responses(
        (status = 200, description = "The topic", body = TopicDetail),
        (status = 404, description = "No such topic", body = ErrorBody),
    )
)]
async fn get_topic(
    State(state): State<AppState>,
    Path(topic): Path<String>,
) -> Result<Json<TopicDetail>, ApiError> {
    let description = state
        .bus()
        .describe_topic(&topic)
        .await
        .map_err(bus_error)?;
    Ok(Json(TopicDetail {
        summary: summary(&description),
        partition_offsets: description
            .partitions
            .iter()
            .map(|p| TopicPartitionView {
                partition: p.partition,
                log_start_offset: p.log_start_offset,
                high_watermark: p.high_watermark,
                size_bytes: p.size_bytes,
            })
            .collect(),
    }))
}

/// A topic's messages, decoded: the newest first, or from `offset`; filtered by key or text.
#[utoipa::path(
    get,
    path = "/api/v1/topics/{topic}/messages",
    tag = "topics",
    params(("topic" = String, Path, description = "A topic, e.g. `bancaire.compte.ouvert`"), MessagesParams),
    responses(
        (status = 200, description = "Messages, decoded", body = TopicMessages),
        (status = 400, description = "A bad parameter, named", body = ErrorBody),
        (status = 404, description = "No such topic, or no such partition of it", body = ErrorBody),
    )
)]
async fn topic_messages(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    Query(params): Query<MessagesParams>,
) -> Result<Json<TopicMessages>, ApiError> {
    let browse = Browse::parse(&params)?;
    let description = state
        .bus()
        .describe_topic(&topic)
        .await
        .map_err(bus_error)?;
    let partitions: Vec<_> = match browse.partition {
        None => description.partitions.iter().collect(),
        Some(wanted) => {
            let found: Vec<_> = description
                .partitions
                .iter()
                .filter(|p| p.partition == wanted)
                .collect();
            if found.is_empty() {
                let count = description.partitions.len();
                return Err(ApiError::not_found(format!(
                    "topic `{topic}` has no partition {wanted} (it has {count})"
                ))
                .with_detail("partition", "no such partition"));
            }
            found
        }
    };
    let mut decoder = state.schema_registry().map(|r| DisplayDecoder::new(&**r));
    let mut found = Vec::new();
    let mut scanned = 0u64;
    for p in partitions {
        let (from, to) = window(&browse, p.log_start_offset, p.high_watermark);
        let messages = read_range(&**state.bus(), &topic, p.partition, from, to).await?;
        scanned += messages.len() as u64;
        for message in messages {
            let shown = render(&message, decoder.as_mut()).await;
            if matches(&browse, &shown) {
                found.push(shown);
            }
        }
    }
    order(&browse, &mut found);
    found.truncate(browse.limit);
    Ok(Json(TopicMessages {
        topic,
        messages: found,
        scanned,
    }))
}

/// Offsets `[from, to)` of a partition that a request looks at.
fn window(browse: &Browse, start: u64, end: u64) -> (u64, u64) {
    let span = if browse.filtered() {
        SCAN_MAX
    } else {
        browse.limit
    } as u64;
    match browse.offset {
        Some(offset) => {
            let from = offset.clamp(start, end);
            (from, from.saturating_add(span).min(end))
        }
        None => (end.saturating_sub(span).max(start), end),
    }
}

/// Reads `[from, to)` of one partition, outside any group.
async fn read_range(
    bus: &dyn Bus,
    topic: &str,
    partition: u32,
    from: u64,
    to: u64,
) -> Result<Vec<Message>, ApiError> {
    let mut out = Vec::new();
    let mut next = from;
    while next < to {
        let read = PartitionRead {
            topic: topic.to_owned(),
            partition,
            from: next,
            max: usize::try_from(to - next).unwrap_or(usize::MAX),
            wait: FETCH_WAIT,
        };
        let (messages, after) = bus.read_partition(&read).await.map_err(bus_error)?;
        if messages.is_empty() || after <= next {
            break;
        }
        out.extend(messages.into_iter().filter(|m| m.offset < to));
        next = after;
    }
    Ok(out)
}

/// Bytes as JSON for people: UTF-8 text as a string, else `{"base64": …}` (also the CLI's
/// `--format json`).
pub fn bytes_value(bytes: &[u8]) -> Value {
    use base64::Engine as _;
    match std::str::from_utf8(bytes) {
        Ok(s) => Value::String(s.to_owned()),
        Err(_) => json!({ "base64": base64::engine::general_purpose::STANDARD.encode(bytes) }),
    }
}

async fn render(message: &Message, decoder: Option<&mut DisplayDecoder<'_>>) -> TopicMessage {
    let mut headers = Map::new();
    for (name, value) in &message.headers {
        headers.insert(name.clone(), bytes_value(value));
    }
    let (value, value_schema_id, value_error) = match decoder {
        Some(decoder) => {
            let shown = decoder.decode(&message.value).await;
            (
                shown.to_json(),
                shown.schema_id().map(|id| id.0),
                shown.error().map(str::to_owned),
            )
        }
        None => (bytes_value(&message.value), None, None),
    };
    TopicMessage {
        partition: message.partition,
        offset: message.offset,
        timestamp: message.timestamp_ms,
        key: message.key.as_deref().map_or(Value::Null, bytes_value),
        trace_id: message
            .header(edalab_bus::port::headers::TRACEPARENT)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| h.split('-').nth(1))
            .map(str::to_owned),
        headers: Value::Object(headers),
        value,
        value_schema_id,
        value_error,
    }
}

fn matches(browse: &Browse, message: &TopicMessage) -> bool {
    if let Some(key) = &browse.key
        && message.key.as_str() != Some(key.as_str())
    {
        return false;
    }
    match &browse.text {
        None => true,
        Some(text) => [&message.key, &message.headers, &message.value]
            .iter()
            .any(|v| v.to_string().contains(text.as_str())),
    }
}

/// Newest first (by time, then offset) without `offset`; else by offset, partition by
/// partition.
fn order(browse: &Browse, messages: &mut [TopicMessage]) {
    match browse.offset {
        None => messages.sort_by(|a, b| {
            (b.timestamp, b.offset, b.partition).cmp(&(a.timestamp, a.offset, a.partition))
        }),
        Some(_) => messages.sort_by_key(|m| (m.offset, m.partition)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> MessagesParams {
        let get = |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        };
        MessagesParams {
            partition: get("partition"),
            offset: get("offset"),
            limit: get("limit"),
            key: get("key"),
            q: get("q"),
        }
    }

    #[test]
    fn parameters_are_checked_and_named() {
        let browse = Browse::parse(&params(&[])).unwrap();
        assert_eq!(browse.limit, LIMIT_DEFAULT);
        assert!(!browse.filtered());
        for (name, value) in [
            ("limit", "0"),
            ("limit", "501"),
            ("limit", "x"),
            ("offset", "-1"),
            ("offset", "9223372036854775808"),
            ("partition", "one"),
        ] {
            let error = Browse::parse(&params(&[(name, value)])).unwrap_err();
            assert_eq!(error.details[0].field, name, "{name}={value}");
        }
        let browse = Browse::parse(&params(&[("key", "k"), ("q", "")])).unwrap();
        assert_eq!((browse.key.as_deref(), browse.text), (Some("k"), None));
    }

    #[test]
    fn the_window_is_the_newest_or_from_the_offset_and_bounded() {
        let newest = Browse::parse(&params(&[("limit", "10")])).unwrap();
        assert_eq!(window(&newest, 5, 100), (90, 100));
        assert_eq!(window(&newest, 95, 100), (95, 100));
        let from = Browse::parse(&params(&[("limit", "10"), ("offset", "2")])).unwrap();
        assert_eq!(
            window(&from, 5, 100),
            (5, 15),
            "below the log start: from the start"
        );
        let filtered = Browse::parse(&params(&[("q", "x")])).unwrap();
        assert_eq!(
            window(&filtered, 0, 20_000),
            (20_000 - SCAN_MAX as u64, 20_000)
        );
    }
}
