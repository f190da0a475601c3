//! The intake's routes: `GET /api/v1/intake/orders/{order_id}` → `{order_id, status, …}`
//! (the recorded order, its rejection reasons, the duplicates received after it) and
//! `GET /api/v1/intake/stats` → the S2-04 counters. Each handler carries its OpenAPI
//! operation; [`openapi_router`] makes the routes and the document from one list.

use std::sync::atomic::Ordering::Relaxed;

use axum::extract::{Path, State};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::IntakeState;
use super::store::RecordedOrder;
use crate::pipeline::{ApiError, found, path_id};

/// Longest recorded order id: an `order_id` (128 characters at most) or, for a file
/// without a usable one, `file:` and the file's name (255 bytes at most).
const RECORDED_ID_CHARS_MAX: usize = 260;

/// The intake's routes with their full `/api/v1/...` paths and OpenAPI operations.
pub fn openapi_router(state: IntakeState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(show))
        .routes(routes!(stats))
        .with_state(state)
}

/// The intake's routes alone.
pub fn router(state: IntakeState) -> Router {
    openapi_router(state).split_for_parts().0
}

/// `GET /api/v1/intake/orders/{order_id}` body: the order as first recorded, and every
/// later file with the same `order_id` (each `DUPLICATE`).
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeOrderView {
    #[serde(flatten)]
    pub order: RecordedOrder,
    pub duplicates: Vec<RecordedOrder>,
}

/// `GET /api/v1/intake/stats` body: the S2-04 counters of this process (also exported as
/// `edalab_orders_*_total` at `/metrics`) and the files queued since start.
#[derive(Debug, Serialize, ToSchema)]
pub struct IntakeStats {
    pub orders_processed_total: u64,
    pub orders_rejected_total: u64,
    pub orders_duplicate_total: u64,
    pub files_queued_total: u64,
}

/// An ingested order's status (S2-03) with its duplicates.
#[utoipa::path(
    get,
    path = "/api/v1/intake/orders/{order_id}",
    operation_id = "show_intake_order",
    tag = "intake",
    params(("order_id" = String, Path, min_length = 1, max_length = 260, pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$", description = "The `order_id` of the order file")),
    responses(
        (status = 200, description = "The recorded order", body = IntakeOrderView),
        (status = 400, description = "`order_id` is not an id (control characters, over 260 characters)", body = edalab_http::ErrorBody),
        (status = 404, description = "No order with this id was ingested", body = edalab_http::ErrorBody),
        (status = 503, description = "The store failed", body = edalab_http::ErrorBody),
    )
)]
async fn show(
    State(state): State<IntakeState>,
    Path(order_id): Path<String>,
) -> Result<Json<IntakeOrderView>, ApiError> {
    let order_id = path_id("order_id", &order_id, RECORDED_ID_CHARS_MAX)?;
    let order = found(state.store.get(order_id).await, "order", order_id)?;
    let duplicates = state
        .store
        .duplicates_of(order_id)
        .await
        .map_err(ApiError::unavailable)?;
    Ok(Json(IntakeOrderView { order, duplicates }))
}

/// The S2-04 counters: processed, rejected and duplicate orders, files queued.
#[utoipa::path(
    get,
    path = "/api/v1/intake/stats",
    operation_id = "intake_stats",
    tag = "intake",
    responses((status = 200, description = "Counters since start", body = IntakeStats))
)]
async fn stats(State(state): State<IntakeState>) -> Json<IntakeStats> {
    let c = &state.counters;
    Json(IntakeStats {
        orders_processed_total: c.orders_processed_total.load(Relaxed),
        orders_rejected_total: c.orders_rejected_total.load(Relaxed),
        orders_duplicate_total: c.orders_duplicate_total.load(Relaxed),
        files_queued_total: c.files_queued_total.load(Relaxed),
    })
}
