//! Consumer groups over REST (issues 22 and 23, ADR 032): every group the bus knows, with
//! its committed offsets and the lag of every partition; for the groups this process runs as
//! [`MemberPool`]s, their members and each member's partitions — and the controls the lab's
//! exercises use:
//!
//! - `GET /api/v1/consumers` → every group: the controllable ones first (`controllable:
//!   true`, `state` `running` or `paused`), then the others as the bus sees them (`state`
//!   `observed`: no members shown, no controls), edalab's own `edalab.*` groups last;
//! - `GET /api/v1/consumers/{group}` → one group;
//! - `POST /api/v1/consumers/{group}/pause` → every member drains, commits and leaves; the
//!   records wait in the log (lag grows);
//! - `POST /api/v1/consumers/{group}/resume` → the members start again from the committed
//!   positions;
//! - `PUT /api/v1/consumers/{group}/members {"members": N}` → N members (1..=16) from now
//!   on, splitting the partitions as N processes would.
//!
//! Each answers the group as it is once the change is done. Unknown group → 404 naming it;
//! a control on an observed group → 409 naming `group`; a bad body → 400 naming `members`.
//! A group run by another process behind this gateway (`gateway.upstreams.bancaire` runs
//! `ledger`) is relayed there, whole, for its view and its controls. A partition whose `member` is null is held by no
//! member of this process: paused, not yet assigned, or held by another process of the
//! same group (the kafka profile with several `serve ledger`).

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use edalab_bus::runtime::{ControlError, MEMBERS_MAX, MemberPool, PoolStatus};
use edalab_bus::{Admin, BusError, PartitionLag};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::error::{ApiError, ErrorBody};
use crate::forward::Upstream;
use crate::router::Mount;

/// Groups listed at most (the controllable ones, then the others by name).
pub const GROUPS_MAX: usize = 200;

/// What the routes control and read.
#[derive(Clone)]
pub struct ConsumersState {
    pools: Arc<Vec<Arc<MemberPool>>>,
    /// Groups whose members run in another process: their views and controls are relayed.
    remote: Arc<Vec<(String, Upstream)>>,
    admin: Arc<dyn Admin>,
    /// This process, as `host:pid`, so several processes of one group can be told apart.
    instance: Arc<str>,
}

/// A consumer group.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsumerGroup {
    pub group: String,
    /// `running` or `paused` (controllable), `observed` (read from the bus only).
    pub state: String,
    /// Whether pause, resume and scale act on it (its members run in this platform's
    /// processes).
    pub controllable: bool,
    /// Members run while not paused (0 for an observed group).
    pub members_target: usize,
    /// The process these members live in (`host:pid`).
    pub instance: String,
    pub members: Vec<GroupMember>,
    /// Every partition the group reads, with its lag and the member holding it.
    pub partitions: Vec<GroupPartition>,
    pub lag_total: u64,
}

/// One member of a group in this process.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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
#[derive(Debug, Serialize, Deserialize, ToSchema)]
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

impl GroupPartition {
    fn of(p: PartitionLag, member: Option<u64>) -> Self {
        Self {
            member,
            topic: p.topic,
            partition: p.partition,
            committed: p.committed,
            high_watermark: p.high_watermark,
            lag: p.lag,
        }
    }
}

/// Every consumer group.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsumerGroups {
    pub groups: Vec<ConsumerGroup>,
    /// More groups exist than the [`GROUPS_MAX`] listed.
    pub truncated: bool,
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
    tags((name = "consumers", description = "Consumer groups: committed offsets and lag of every group; members, partitions, pause, resume and scale of the groups this platform runs (issues 22, 23)")),
    components(schemas(ConsumerGroups, ConsumerGroup, GroupMember, GroupPartition, ScaleRequest))
)]
struct ConsumersDoc;

/// The routes over `pools` and the `remote` groups (relayed to their upstream), reading
/// every other group from `admin`.
pub fn mount(
    pools: Vec<Arc<MemberPool>>,
    remote: Vec<(String, Upstream)>,
    admin: Arc<dyn Admin>,
) -> Mount {
    let host = hostname();
    let state = ConsumersState {
        pools: Arc::new(pools),
        remote: Arc::new(remote),
        admin,
        instance: format!("{host}:{}", std::process::id()).into(),
    };
    let (router, doc) = OpenApiRouter::with_openapi(ConsumersDoc::openapi())
        .routes(routes!(list_groups))
        .routes(routes!(get_group))
        .routes(routes!(pause_group))
        .routes(routes!(resume_group))
        .routes(routes!(scale_group))
        .with_state(state.clone())
        .split_for_parts();
    let router = router.layer(axum::middleware::from_fn_with_state(state, relay_remote));
    Mount::from_parts("consumers", router, doc)
}

/// A request about a group run behind an upstream goes there, whole.
async fn relay_remote(
    State(state): State<ConsumersState>,
    request: Request,
    next: Next,
) -> Response {
    let group = request
        .uri()
        .path()
        .strip_prefix("/api/v1/consumers/")
        .and_then(|rest| rest.split('/').next());
    match group.and_then(|group| state.upstream_of(group)) {
        Some(upstream) => upstream.relay(request).await,
        None => next.run(request).await,
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A group asked for by name.
enum Found<'a> {
    /// Its members run in this process.
    Pool(&'a Arc<MemberPool>),
    /// Known to the bus only.
    Observed,
}

impl ConsumersState {
    fn upstream_of(&self, group: &str) -> Option<&Upstream> {
        self.remote
            .iter()
            .find(|(name, _)| name == group)
            .map(|(_, upstream)| upstream)
    }

    fn controllable_names(&self) -> Vec<&str> {
        let pools = self.pools.iter().map(|p| p.group());
        pools
            .chain(self.remote.iter().map(|(g, _)| g.as_str()))
            .collect()
    }

    async fn find(&self, group: &str) -> Result<Found<'_>, ApiError> {
        if let Some(pool) = self.pools.iter().find(|p| p.group() == group) {
            return Ok(Found::Pool(pool));
        }
        let known = self
            .admin
            .list_groups()
            .await
            .map_err(ApiError::unavailable)?;
        if known.iter().any(|g| g == group) {
            return Ok(Found::Observed);
        }
        Err(ApiError::not_found(format!(
            "no consumer group `{group}`: the bus knows {} group(s); controllable here: {}",
            known.len(),
            self.controllable_names().join(", ")
        ))
        .with_detail("group", format!("`{group}` is not a consumer group")))
    }

    /// The pool running `group` here, or why its controls are not here.
    async fn pool(&self, group: &str) -> Result<&Arc<MemberPool>, ApiError> {
        match self.find(group).await? {
            Found::Pool(pool) => Ok(pool),
            Found::Observed => Err(ApiError::conflict(format!(
                "consumer group `{group}` is observed, not controlled: its consumers run \
                 without pause, resume and scale (controllable: {})",
                self.controllable_names().join(", ")
            ))
            .with_detail("group", format!("`{group}` has no controls here"))),
        }
    }

    /// A group known to the bus only: its committed offsets and lag.
    async fn observed(&self, group: String) -> Result<ConsumerGroup, ApiError> {
        let lag = self
            .admin
            .group_lag(&group)
            .await
            .map_err(ApiError::unavailable)?;
        let partitions: Vec<GroupPartition> = lag
            .into_iter()
            .map(|p| GroupPartition::of(p, None))
            .collect();
        Ok(ConsumerGroup {
            lag_total: partitions.iter().map(|p| p.lag).sum(),
            state: "observed".to_owned(),
            controllable: false,
            members_target: 0,
            instance: self.instance.to_string(),
            members: Vec::new(),
            group,
            partitions,
        })
    }

    /// A group run behind `upstream`, as that process answers it (observed here when it
    /// does not answer).
    async fn remote_view(
        &self,
        group: &str,
        upstream: &Upstream,
    ) -> Result<ConsumerGroup, ApiError> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(format!("/api/v1/consumers/{group}"))
            .body(Body::empty())
            .map_err(|e| ApiError::internal(e.to_string()))?;
        let answer = upstream.relay(request).await;
        if answer.status() == StatusCode::OK {
            let bytes =
                axum::body::to_bytes(answer.into_body(), crate::forward::RESPONSE_BYTES_MAX)
                    .await
                    .unwrap_or_default();
            if let Ok(view) = serde_json::from_slice::<ConsumerGroup>(&bytes) {
                return Ok(view);
            }
        }
        tracing::debug!(
            group,
            upstream = upstream.url(),
            "the group's process did not answer; observed"
        );
        self.observed(group.to_owned()).await
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
            .map(|p| {
                let member = holder(&p.topic, p.partition);
                GroupPartition::of(p, member)
            })
            .collect();
        Ok(ConsumerGroup {
            lag_total: partitions.iter().map(|p| p.lag).sum(),
            state: if status.paused { "paused" } else { "running" }.to_owned(),
            controllable: true,
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

/// Every consumer group: the controllable ones with members, then every other group the
/// bus knows with its committed offsets and lag.
#[utoipa::path(
    get,
    path = "/api/v1/consumers",
    tag = "consumers",
    responses(
        (status = 200, description = "Every group", body = ConsumerGroups),
        (status = 503, description = "The bus refused", body = ErrorBody),
    )
)]
async fn list_groups(
    State(state): State<ConsumersState>,
) -> Result<Json<ConsumerGroups>, ApiError> {
    let mut groups = Vec::new();
    for pool in state.pools.iter() {
        groups.push(state.view(pool.status()).await?);
    }
    for (group, upstream) in state.remote.iter() {
        groups.push(state.remote_view(group, upstream).await?);
    }
    let mut others = state
        .admin
        .list_groups()
        .await
        .map_err(ApiError::unavailable)?;
    let listed = state.controllable_names();
    others.retain(|g| !listed.contains(&g.as_str()));
    // The application's groups before edalab's own bookkeeping ones (`edalab.*`: the
    // WebSocket tails, DLQ inspection), so a cut list keeps the ones people look for.
    others.sort_by(|a, b| (a.starts_with("edalab."), a).cmp(&(b.starts_with("edalab."), b)));
    let room = GROUPS_MAX.saturating_sub(groups.len());
    let truncated = others.len() > room;
    for group in others.into_iter().take(room) {
        groups.push(state.observed(group).await?);
    }
    Ok(Json(ConsumerGroups { groups, truncated }))
}

/// One consumer group: members, their partitions, the lag per partition.
#[utoipa::path(
    get,
    path = "/api/v1/consumers/{group}",
    tag = "consumers",
    params(("group" = String, Path, description = "A consumer group, e.g. `ledger`")),
    responses(
        (status = 200, description = "The group", body = ConsumerGroup),
        (status = 404, description = "No such group, naming `group`", body = ErrorBody),
        (status = 503, description = "The bus refused", body = ErrorBody),
    )
)]
async fn get_group(
    State(state): State<ConsumersState>,
    Path(group): Path<String>,
) -> Result<Json<ConsumerGroup>, ApiError> {
    let view = match state.find(&group).await? {
        Found::Pool(pool) => state.view(pool.status()).await?,
        Found::Observed => state.observed(group).await?,
    };
    Ok(Json(view))
}

/// Pauses a group: every member finishes what it fetched, commits and leaves.
#[utoipa::path(
    post,
    path = "/api/v1/consumers/{group}/pause",
    tag = "consumers",
    params(("group" = String, Path, description = "A consumer group, e.g. `ledger`")),
    responses(
        (status = 200, description = "The group, paused", body = ConsumerGroup),
        (status = 404, description = "No such group, naming `group`", body = ErrorBody),
        (status = 409, description = "An observed group: no controls here, naming `group`", body = ErrorBody),
    )
)]
async fn pause_group(
    State(state): State<ConsumersState>,
    Path(group): Path<String>,
) -> Result<Json<ConsumerGroup>, ApiError> {
    let pool = Arc::clone(state.pool(&group).await?);
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
        (status = 404, description = "No such group, naming `group`", body = ErrorBody),
        (status = 409, description = "An observed group: no controls here, naming `group`", body = ErrorBody),
        (status = 503, description = "The process is stopping", body = ErrorBody),
    )
)]
async fn resume_group(
    State(state): State<ConsumersState>,
    Path(group): Path<String>,
) -> Result<Json<ConsumerGroup>, ApiError> {
    let status = state
        .pool(&group)
        .await?
        .resume()
        .await
        .map_err(control_error)?;
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
        (status = 404, description = "No such group, naming `group`", body = ErrorBody),
        (status = 409, description = "An observed group: no controls here, naming `group`", body = ErrorBody),
        (status = 503, description = "The process is stopping", body = ErrorBody),
    )
)]
async fn scale_group(
    State(state): State<ConsumersState>,
    Path(group): Path<String>,
    body: Bytes,
) -> Result<Json<ConsumerGroup>, ApiError> {
    let members = parse_scale(&body)?;
    let pool = Arc::clone(state.pool(&group).await?);
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
