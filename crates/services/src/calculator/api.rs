//! The calculator's routes: `POST /api/v1/calculator` → 202 `{id, status: "PENDING"}`;
//! `GET /api/v1/calculator/{id}` → the calculation. Each handler carries its OpenAPI
//! operation; [`openapi_router`] makes the routes and the document from one list.

use std::sync::atomic::Ordering;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use edalab_bus::Record;
use edalab_domain::calculator::CalculatorOperation;
use edalab_domain::events::topics;
use edalab_domain::validation::ID_CHARS_MAX;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{Calculation, CalculationStatus};
use super::{CalculatorState, ID_HEADER};
use crate::pipeline::{ApiError, found, json_body, path_id};

/// The calculator's routes with their full `/api/v1/...` paths and OpenAPI operations.
pub fn openapi_router(state: CalculatorState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(submit))
        .routes(routes!(show))
        .with_state(state)
}

/// The calculator's routes alone.
pub fn router(state: CalculatorState) -> Router {
    openapi_router(state).split_for_parts().0
}

/// `POST /api/v1/calculator` body (S1-01's message). Read field by field, so a 400 names
/// every failing field; no other field is accepted.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: parsed by `CalculatorOperation::parse_request`.
#[serde(deny_unknown_fields)] // documents `additionalProperties: false`
pub struct CalculationBody {
    #[schema(example = "divide", value_type = OperationName)]
    operation: String,
    /// A JSON number (integer or decimal).
    #[schema(example = 10)]
    a: f64,
    /// A JSON number; 0 with `divide` is accepted here and fails in the worker (→ DLQ).
    #[schema(example = 4)]
    b: f64,
}

/// The four operations (the domain's `Operation` on the wire; documentation only).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum OperationName {
    Add,
    Subtract,
    Multiply,
    Divide,
}

/// 202 body of `POST /api/v1/calculator`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalculationAccepted {
    /// The calculation's id (UUID v7), for `GET /api/v1/calculator/{id}`.
    pub id: String,
    /// Always `PENDING`.
    pub status: CalculationStatus,
}

/// Enqueues an operation on `calculatrice-input-queue` (S1-01).
#[utoipa::path(
    post,
    path = "/api/v1/calculator",
    operation_id = "submit_calculation",
    tag = "calculator",
    request_body = CalculationBody,
    responses(
        (status = 202, description = "Queued, status PENDING", body = CalculationAccepted),
        (status = 400, description = "Missing body, bad JSON or invalid fields: `details` names each", body = edalab_http::ErrorBody),
        (status = 503, description = "The store or the bus refused", body = edalab_http::ErrorBody),
    )
)]
async fn submit(
    State(state): State<CalculatorState>,
    body: Bytes,
) -> Result<(StatusCode, Json<CalculationAccepted>), ApiError> {
    const ERROR: &str = "Invalid calculation";
    let value = json_body(&body, ERROR)?;
    let operation =
        CalculatorOperation::parse_request(&value).map_err(|e| ApiError::validation(ERROR, &e))?;
    let id = calculation_id(state.clock.now()).to_string();
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
        .await
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
        .queues
        .send(topics::CALCULATOR_INPUT, vec![record])
        .await
        .map_err(ApiError::unavailable)?;
    state
        .counters
        .submitted_total
        .fetch_add(1, Ordering::Relaxed);
    Ok((
        StatusCode::ACCEPTED,
        Json(CalculationAccepted {
            id,
            status: CalculationStatus::Pending,
        }),
    ))
}

/// A UUID v7 at `now` (random low bits: ids made in the same millisecond differ).
fn calculation_id(now: chrono::DateTime<chrono::Utc>) -> uuid::Uuid {
    let seconds = u64::try_from(now.timestamp()).unwrap_or(0);
    uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
        uuid::NoContext,
        seconds,
        now.timestamp_subsec_nanos(),
    ))
}

/// A calculation: `PENDING`, `COMPLETED` with `result`, or `FAILED` with the DLQ reason in
/// `error` (S1-02).
#[utoipa::path(
    get,
    path = "/api/v1/calculator/{id}",
    operation_id = "show_calculation",
    tag = "calculator",
    params(("id" = String, Path, min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$", description = "The id answered by the submit")),
    responses(
        (status = 200, description = "The calculation", body = Calculation),
        (status = 400, description = "`id` is not an id (control characters, over 128 characters)", body = edalab_http::ErrorBody),
        (status = 404, description = "No such calculation", body = edalab_http::ErrorBody),
        (status = 503, description = "The store failed", body = edalab_http::ErrorBody),
    )
)]
async fn show(
    State(state): State<CalculatorState>,
    Path(id): Path<String>,
) -> Result<Json<Calculation>, ApiError> {
    let id = path_id("id", &id, ID_CHARS_MAX)?;
    found(state.store.get(id).await, "calculation", id).map(Json)
}
