//! The saga's routes. Seed paths when a service runs standalone ([`standalone_router`]:
//! `POST /orders`, `GET /orders`, `GET /orders/{orderId}/status`), the same under
//! `/api/v1` through the gateway ([`router`]).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use edalab_bus::Record;
use edalab_domain::events::saga::{CreatedStatus, OrderCreated, SagaEvent};
use edalab_domain::saga::OrderRequest;
use edalab_domain::validation::ValidationErrors;
use serde_json::json;

use super::tracking::fold;
use super::{SagaState, inc};
use crate::pipeline::{ApiError, json_body};

/// Most orders `GET /orders` lists.
const LIST_LIMIT_MAX: usize = 1_000;

/// Routes under `/api/v1` (for the gateway).
pub fn router(state: SagaState) -> Router {
    routes("/api/v1").with_state(state)
}

/// The seed's paths, for `edalab serve orders`.
pub fn standalone_router(state: SagaState) -> Router {
    routes("").with_state(state)
}

fn routes(prefix: &str) -> Router<SagaState> {
    Router::new()
        .route(&format!("{prefix}/orders"), post(create).get(list))
        .route(&format!("{prefix}/orders/{{order_id}}/status"), get(status))
}

async fn create(
    State(state): State<SagaState>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    create_order(&state, &body).await
}

/// What `POST /api/v1/orders` does with a body (S4-01): validates it (400 naming each
/// field), publishes `OrderCreated` and answers 201 `{orderId, eventId, status: "created",
/// message}`. The route and the simulator's in-process sink both call it, so a simulated
/// order takes exactly the path of a posted one.
pub async fn create_order(
    state: &SagaState,
    body: &[u8],
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    const ERROR: &str = "Invalid order";
    let value = json_body(body, ERROR)?;
    let request = OrderRequest::parse(&value).map_err(|e| ApiError::validation(ERROR, &e))?;
    let event = SagaEvent::OrderCreated(OrderCreated {
        event_id: uuid::Uuid::new_v4().to_string(),
        order_id: uuid::Uuid::new_v4().to_string(),
        user_id: request.user_id().as_str().to_owned(),
        amount: request.amount(),
        items: request.items().to_vec(),
        status: CreatedStatus::Created,
        created_at: Utc::now(),
    });
    let payload = event.to_json().map_err(ApiError::unavailable)?;
    let record = Record::new(Some(event.key().as_bytes().to_vec()), payload)
        .with_header(
            edalab_bus::port::headers::EVENT_ID,
            event.event_id().as_bytes(),
        )
        .with_header(edalab_bus::port::headers::EVENT_TYPE, event.event_type())
        .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json");
    state
        .bus
        .produce(event.topic(), vec![record])
        .await
        .map_err(ApiError::unavailable)?;
    inc(&state.counters.orders_created_total);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "orderId": event.key(),
            "eventId": event.event_id(),
            "status": "created",
            "message": "Order created successfully",
        })),
    ))
}

async fn status(
    State(state): State<SagaState>,
    Path(order_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let rows = state
        .store
        .events_of(&order_id)
        .map_err(ApiError::unavailable)?;
    let view = fold(&rows).ok_or_else(|| ApiError::not_found("order", &order_id))?;
    Ok(Json(
        serde_json::to_value(view).map_err(ApiError::unavailable)?,
    ))
}

/// `{"orders": [status view...], "count"}`, newest first.
async fn list(
    State(state): State<SagaState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    // The query is read as text so that a bad `limit` is a JSON 400 naming it.
    let limit = match query.get("limit") {
        None => 100,
        Some(text) => text.parse::<usize>().map_err(|_| {
            ApiError::validation(
                "Invalid query",
                &ValidationErrors::single("limit", "must be a non-negative integer"),
            )
        })?,
    }
    .min(LIST_LIMIT_MAX);
    let ids = state
        .store
        .order_ids(limit)
        .map_err(ApiError::unavailable)?;
    let mut orders = Vec::with_capacity(ids.len());
    for id in ids {
        let rows = state.store.events_of(&id).map_err(ApiError::unavailable)?;
        if let Some(view) = fold(&rows) {
            orders.push(view);
        }
    }
    Ok(Json(json!({"count": orders.len(), "orders": orders})))
}
