//! The calculator's routes: `POST /api/v1/calculator` → 202 `{id, status: "PENDING"}`;
//! `GET /api/v1/calculator/{id}` → the calculation.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use edalab_bus::Record;
use edalab_domain::calculator::CalculatorOperation;
use edalab_domain::events::topics;
use serde_json::json;

use super::store::{Calculation, CalculationStatus};
use super::{CalculatorState, ID_HEADER};
use crate::pipeline::{ApiError, json_body};

/// The calculator's routes, with their full `/api/v1/...` paths.
pub fn router(state: CalculatorState) -> Router {
    Router::new()
        .route("/api/v1/calculator", post(submit))
        .route("/api/v1/calculator/{id}", get(show))
        .with_state(state)
}

async fn submit(
    State(state): State<CalculatorState>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    const ERROR: &str = "Invalid calculation";
    let value = json_body(&body, ERROR)?;
    let operation =
        CalculatorOperation::parse(&value).map_err(|e| ApiError::validation(ERROR, &e))?;
    let id = uuid::Uuid::now_v7().to_string();
    state
        .store
        .insert_pending(&Calculation {
            id: id.clone(),
            operation: operation.operation(),
            a: operation.a(),
            b: operation.b(),
            status: CalculationStatus::Pending,
            result: None,
            error: None,
        })
        .map_err(ApiError::unavailable)?;
    // The seed's message shape, `{"operation", "a", "b"}`; the id rides as key and header.
    let message = json!({
        "operation": operation.operation(),
        "a": operation.a(),
        "b": operation.b(),
    });
    let record = Record::new(
        Some(id.clone().into_bytes()),
        message.to_string().into_bytes(),
    )
    .with_header(ID_HEADER, id.as_bytes())
    .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json");
    state
        .bus
        .produce(topics::CALCULATOR_INPUT, vec![record])
        .await
        .map_err(ApiError::unavailable)?;
    state
        .counters
        .submitted_total
        .fetch_add(1, Ordering::Relaxed);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({"id": id, "status": "PENDING"})),
    ))
}

async fn show(
    State(state): State<CalculatorState>,
    Path(id): Path<String>,
) -> Result<Json<Calculation>, ApiError> {
    state
        .store
        .get(&id)
        .map_err(ApiError::unavailable)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("calculation", &id))
}
