//! The intake's routes: `GET /api/v1/intake/orders/{order_id}` → `{order_id, status, …}`
//! (the recorded order, its rejection reasons, the duplicates received after it) and
//! `GET /api/v1/intake/stats` → the S2-04 counters.

use std::sync::atomic::Ordering::Relaxed;

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::IntakeState;
use crate::pipeline::ApiError;

pub fn router(state: IntakeState) -> Router {
    Router::new()
        .route("/api/v1/intake/orders/{order_id}", get(show))
        .route("/api/v1/intake/stats", get(stats))
        .with_state(state)
}

async fn show(
    State(state): State<IntakeState>,
    Path(order_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let order = state
        .store
        .get(&order_id)
        .map_err(ApiError::unavailable)?
        .ok_or_else(|| ApiError::not_found("order", &order_id))?;
    let duplicates = state
        .store
        .duplicates_of(&order_id)
        .map_err(ApiError::unavailable)?;
    let mut body = serde_json::to_value(&order).map_err(ApiError::unavailable)?;
    body["duplicates"] = serde_json::to_value(&duplicates).map_err(ApiError::unavailable)?;
    Ok(Json(body))
}

async fn stats(State(state): State<IntakeState>) -> Json<serde_json::Value> {
    let c = &state.counters;
    Json(json!({
        "orders_processed_total": c.orders_processed_total.load(Relaxed),
        "orders_rejected_total": c.orders_rejected_total.load(Relaxed),
        "orders_duplicate_total": c.orders_duplicate_total.load(Relaxed),
        "files_queued_total": c.files_queued_total.load(Relaxed),
    }))
}
