//! Consumer controls over REST (issue 22, ADR 032): the consumer groups this process runs
//! as [`MemberPool`]s, with their members, each member's partitions, and the lag of every
//! partition — and the controls the lab's exercises use:
//!
//! - `GET /api/v1/consumers` → every controllable group;
//! - `GET /api/v1/consumers/{group}` → one group;
//! - `POST /api/v1/consumers/{group}/pause` → every member drains, commits and leaves; the
//!   records wait in the log (lag grows);
//! - `POST /api/v1/consumers/{group}/resume` → the members start again from the committed
//!   positions;
//! - `PUT /api/v1/consumers/{group}/members {"members": N}` → N members (1..=16) from now
//!   on, splitting the partitions as N processes would.
//!
//! Each answers the group as it is once the change is done. Unknown group → 404 naming it;
//! a bad body → 400 naming `members`. A partition whose `member` is null is held by no
//! member of this process: paused, not yet assigned, or held by another process of the
//! same group (the kafka profile with several `serve ledger`).

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use edalab_bus::runtime::{ControlError, MEMBERS_MAX, MemberPool, PoolStatus};
use edalab_bus::{Admin, BusError, PartitionLag};
use serde::Serialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::router::Mount;

/// What the routes control and read.
#[derive(Clone)]
pub struct ConsumersState {
    pools: Arc<Vec<Arc<MemberPool>>>,
    admin: Arc<dyn Admin>,
    /// This process, as `host:pid`, so several processes of one group can be told apart.
    instance: Arc<str>,
}

/// A consumer group run by this process.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsumerGroup {
    pub group: String,
    /// `running` or `paused`.
    pub state: String,
    /// Members run while not paused.
    pub members_target: usize,
    /// The process these members live in (`host:pid`).
    pub instance: String,
    pub members: Vec<GroupMember>,
    /// Every partition the group reads, with its lag and the member holding it.
    pub partitions: Vec<GroupPartition>,
    pub lag_total: u64,
}

/// One member of a group in this process.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupMember {
    /// Numbered from 1 in start order.
    pub member: u64,
    /// `topic/partition` of each partition it holds.
    pub partitions: Vec<String>,
    /// Messages its handler finished since it started.
    pub messages_done_total: u64,
    pub messages_in_flight: u64,
}

/// One partition of a group.
#[derive(Debug, Serialize, ToSchema)]
pub struct GroupPartition {
    pub topic: String,
    pub partition: u32,
    /// Offset of the next record the group will read (`null`: nothing committed).
    pub committed: Option<u64>,
    pub high_watermark: u64,
    pub lag: u64,
    /// The member of this process holding it (`null`: none here — see the module doc).
    pub member: Option<u64>,
}

/// Every controllable group of this process.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsumerGroups {
    pub groups: Vec<ConsumerGroup>,
}

/// `PUT /api/v1/consumers/{group}/members` body.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: the body is parsed field by field.
#[serde(deny_unknown_fields)] // documents `additionalProperties: false`
pub struct ScaleRequest {
    /// 1..=16
    #[schema(minimum = 1, maximum = 16)]
    pub members: usize,
}

#[derive(OpenApi)]
#[openapi(
    tags((name = "consumers", description = "Consumer groups of this process: members, partitions, lag; pause, resume, scale (issue 22)")),
    components(schemas(ConsumerGroups, ConsumerGroup, GroupMember, GroupPartition, ScaleRequest))
)]
struct ConsumersDoc;

/// The routes over `pools`, reading lag from `admin`.
pub fn mount(pools: Vec<Arc<MemberPool>>, admin: Arc<dyn Admin>) -> Mount {
    let host = hostname();
    let state = ConsumersState {
        pools: Arc::new(pools),
        admin,
        instance: format!("{host}:{}", std::process::id()).into(),
    };
    let router = OpenApiRouter::with_openapi(ConsumersDoc::openapi())
        .routes(routes!(list_groups))
        .routes(routes!(get_group))
        .routes(routes!(pause_group))
        .routes(routes!(resume_group))
        .routes(routes!(scale_group))
        .with_state(state);
    Mount::new("consumers", router)
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

impl ConsumersState {
    fn pool(&self, group: &str) -> Result<&Arc<MemberPool>, ApiError> {
        self.pools
            .iter()
            .find(|p| p.group() == group)
            .ok_or_else(|| {
                let known: Vec<&str> = self.pools.iter().map(|p| p.group()).collect();
                ApiError::not_found(format!(
                    "no consumer group `{group}` runs in this process (controllable here: {})",
                    known.join(", ")
                ))
            })
    }

    /// `status` with the lag of every partition of its group.
    async fn view(&self, status: PoolStatus) -> Result<ConsumerGroup, ApiError> {
        let lag = self.lag(&status).await?;
        let holder = |topic: &str, partition: u32| {
            status
                .members
                .iter()
                .find(|m| {
                    m.partitions
                        .iter()
                        .any(|tp| tp.topic == topic && tp.partition == partition)
                })
                .map(|m| m.member)
        };
        let partitions: Vec<GroupPartition> = lag
            .into_iter()
            .map(|p| GroupPartition {
                member: holder(&p.topic, p.partition),
                topic: p.topic,
                partition: p.partition,
                committed: p.committed,
                high_watermark: p.high_watermark,
                lag: p.lag,
            })
            .collect();
        Ok(ConsumerGroup {
            lag_total: partitions.iter().map(|p| p.lag).sum(),
            state: if status.paused { "paused" } else { "running" }.to_owned(),
            members_target: status.members_target,
            instance: self.instance.to_string(),
            members: status
                .members
                .into_iter()
                .map(|m| GroupMember {
                    member: m.member,
                    partitions: m
                        .partitions
                        .iter()
                        .map(|tp| format!("{}/{}", tp.topic, tp.partition))
                        .collect(),
                    messages_done_total: m.stats.messages_done_total,
                    messages_in_flight: m.stats.messages_in_flight,
                })
                .collect(),
            group: status.group,
            partitions,
        })
    }
}

impl ConsumersState {
    /// The bus's lag of the group, plus the partitions of its topics the bus has no
    /// position for (a group that never committed there and has no member now: the bus does
    /// not know it reads them). Those start from the log start, as the group would.
    async fn lag(&self, status: &PoolStatus) -> Result<Vec<PartitionLag>, ApiError> {
        let mut lag = self
            .admin
            .group_lag(&status.group)
            .await
            .map_err(ApiError::unavailable)?;
        for topic in &status.topics {
            if lag.iter().any(|p| &p.topic == topic) {
                continue;
            }
            let described = match self.admin.describe_topic(topic).await {
                Ok(described) => described,
                Err(BusError::UnknownTopic(_)) => continue,
                Err(error) => return Err(ApiError::unavailable(error)),
            };
            lag.extend(described.partitions.iter().map(|p| PartitionLag {
                topic: topic.clone(),
                partition: p.partition,
                committed: None,
                high_watermark: p.high_watermark,
                lag: p.high_watermark.saturating_sub(p.log_start_offset),
            }));
        }
        lag.sort_by(|a, b| (&a.topic, a.partition).cmp(&(&b.topic, b.partition)));
        Ok(lag)
    }
}

fn control_error(error: ControlError) -> ApiError {
    match error {
        ControlError::MembersOutOfRange(_) => ApiError::invalid("members", error.to_string()),
        ControlError::Stopping => ApiError::unavailable(error),
    }
}

/// The member count a scale body asks for, or what is wrong with it.
fn parse_scale(body: &[u8]) -> Result<usize, ApiError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::invalid_json(format!("invalid scale body: {e}")))?;
    let Value::Object(map) = value else {
        return Err(ApiError::invalid_json(
            "the scale body must be a JSON object like {\"members\": 2}",
        ));
    };
    if let Some(unknown) = map.keys().find(|k| *k != "members") {
        return Err(ApiError::invalid(unknown.clone(), "unknown field"));
    }
    let range = format!("must be an integer between 1 and {MEMBERS_MAX}");
    let members = match map.get("members") {
        None => {
            return Err(ApiError::invalid(
                "members",
                format!("is required; {range}"),
            ));
        }
        Some(v) => edalab_http::integral(v).as_u64(),
    };
    match members.and_then(|n| usize::try_from(n).ok()) {
        Some(n) if (1..=MEMBERS_MAX).contains(&n) => Ok(n),
        _ => Err(ApiError::invalid("members", range)),
    }
}

/// Every consumer group this process runs, with members, partitions and lag.
#[utoipa::path(
    get,
    path = "/api/v1/consumers",
    tag = "consumers",
    responses(
        (status = 200, description = "The groups of this process", body = ConsumerGroups),
        (status = 503, description = "The bus refused", body = ErrorBody),
    )
)]
async fn list_groups(
    State(state): State<ConsumersState>,
) -> Result<Json<ConsumerGroups>, ApiError> {
    let mut groups = Vec::with_capacity(state.pools.len());
    for pool in state.pools.iter() {
        groups.push(state.view(pool.status()).await?);
    }
    Ok(Json(ConsumerGroups { groups }))
}

/// One consumer group: members, their partitions, the lag per partition.
#[utoipa::path(
    get,
    path = "/api/v1/consumers/{group}",
    tag = "consumers",
    params(("group" = String, Path, description = "A consumer group, e.g. `ledger`")),
    responses(
        (status = 200, description = "The group", body = ConsumerGroup),
        (status = 404, description = "No such group in this process", body = ErrorBody),
        (status = 503, description = "The bus refused", body = ErrorBody),
    )
)]
async fn get_group(
    State(state): State<ConsumersState>,
    Path(group): Path<String>,
) -> Result<Json<ConsumerGroup>, ApiError> {
    let status = state.pool(&group)?.status();
    Ok(Json(state.view(status).await?))
}

/// Pauses a group: every member finishes what it fetched, commits and leaves.
#[utoipa::path(
    post,
    path = "/api/v1/consumers/{group}/pause",
    tag = "consumers",
    params(("group" = String, Path, description = "A consumer group, e.g. `ledger`")),
    responses(
        (status = 200, description = "The group, paused", body = ConsumerGroup),
        (status = 404, description = "No such group in this process", body = ErrorBody),
    )
)]
async fn pause_group(
    State(state): State<ConsumersState>,
    Path(group): Path<String>,
) -> Result<Json<ConsumerGroup>, ApiError> {
    let pool = Arc::clone(state.pool(&group)?);
    // Its own task: a client that goes away does not leave members half-stopped.
    let status = tokio::spawn(async move { pool.pause().await })
        .await
        .map_err(|e| ApiError::internal(format!("pausing failed: {e}")))?;
    Ok(Json(state.view(status).await?))
}

/// Resumes a paused group from its committed positions.
#[utoipa::path(
    post,
    path = "/api/v1/consumers/{group}/resume",
    tag = "consumers",
    params(("group" = String, Path, description = "A consumer group, e.g. `ledger`")),
    responses(
        (status = 200, description = "The group, running", body = ConsumerGroup),
        (status = 404, description = "No such group in this process", body = ErrorBody),
        (status = 503, description = "The process is stopping", body = ErrorBody),
    )
)]
async fn resume_group(
    State(state): State<ConsumersState>,
    Path(group): Path<String>,
) -> Result<Json<ConsumerGroup>, ApiError> {
    let status = state.pool(&group)?.resume().await.map_err(control_error)?;
    Ok(Json(state.view(status).await?))
}

/// Runs N members of a group in this process (1..=16); they split its partitions.
#[utoipa::path(
    put,
    path = "/api/v1/consumers/{group}/members",
    tag = "consumers",
    params(("group" = String, Path, description = "A consumer group, e.g. `ledger`")),
    request_body = ScaleRequest,
    responses(
        (status = 200, description = "The group with its new members", body = ConsumerGroup),
        (status = 400, description = "A bad body, naming `members`", body = ErrorBody),
        (status = 404, description = "No such group in this process", body = ErrorBody),
        (status = 503, description = "The process is stopping", body = ErrorBody),
    )
)]
async fn scale_group(
    State(state): State<ConsumersState>,
    Path(group): Path<String>,
    body: Bytes,
) -> Result<Json<ConsumerGroup>, ApiError> {
    let members = parse_scale(&body)?;
    let pool = Arc::clone(state.pool(&group)?);
    let status = tokio::spawn(async move { pool.scale(members).await })
        .await
        .map_err(|e| ApiError::internal(format!("scaling failed: {e}")))?
        .map_err(control_error)?;
    Ok(Json(state.view(status).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_bodies_are_checked_field_by_field() {
        assert_eq!(parse_scale(br#"{"members": 3}"#).unwrap(), 3);
        assert_eq!(parse_scale(br#"{"members": 2.0}"#).unwrap(), 2);
        for (body, field) in [
            (&br#"{"members": 0}"#[..], "members"),
            (br#"{"members": 17}"#, "members"),
            (br#"{"members": "2"}"#, "members"),
            (br#"{"members": 1.5}"#, "members"),
            (br#"{}"#, "members"),
            (br#"{"members": 2, "replicas": 3}"#, "replicas"),
        ] {
            let error = parse_scale(body).unwrap_err();
            assert_eq!(error.status().as_u16(), 400, "{body:?}");
            let detail = serde_json::to_value(error.body()).unwrap();
            assert_eq!(detail["details"][0]["field"], field, "{body:?}: {detail}");
        }
        for body in [&b"[]"[..], b"3", b"not json"] {
            let error = parse_scale(body).unwrap_err();
            assert_eq!(error.code.as_str(), "invalid_json", "{body:?}");
        }
    }
}
