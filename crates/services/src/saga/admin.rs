//! Run-time faults of the saga's built-in credit bureau over REST, so a learner (and the
//! browser tests) can make the payment dependency fail, watch retries, the circuit breaker
//! and `payments.dlq` fill, switch the failure off and redrive the DLQ — the SQS-style
//! "transient dependency failure" case (S4-05, X-04):
//!
//! - `GET /api/v1/saga/credit-bureau` → `{failing, latency_ms, breaker}`;
//! - `PUT /api/v1/saga/credit-bureau {failing?, latency_ms?}` → the same, after the change.
//!   `failing` is a boolean; `latency_ms` an integer 0..=[`LATENCY_MS_MAX`]. Absent fields
//!   keep their value; an unknown field, a wrong type or a value out of range is a 400
//!   naming the field, and nothing changes.
//!
//! It only flips [`BureauFaults`]; what a failure means (retry, breaker, DLQ) stays in the
//! payment service. Mounted by `edalab up` next to the other routes (OpenAPI from
//! [`openapi_router`]).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use edalab_domain::validation::{ErrorAccumulator, JsonObject, ValidationErrors};
use serde::Serialize;
use serde_json::Value;
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{BreakerState, BureauFaults, CircuitBreaker};
use crate::pipeline::{ApiError, json_body};

/// Highest injectable latency per call, milliseconds.
pub const LATENCY_MS_MAX: u64 = 10_000;

const ERROR: &str = "Invalid credit-bureau settings";

/// What the routes change and read.
#[derive(Clone)]
pub struct AdminState {
    pub faults: Arc<BureauFaults>,
    pub breaker: Arc<CircuitBreaker>,
}

/// The credit bureau's injected faults and the breaker in front of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BureauSettings {
    /// Every credit check fails while `true`.
    pub failing: bool,
    /// Latency added to each credit check, milliseconds.
    pub latency_ms: u64,
    /// The circuit breaker's state.
    pub breaker: BreakerState,
}

/// `PUT /api/v1/saga/credit-bureau` body; absent fields keep their value, no other field
/// is accepted.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: the body is parsed field by field.
#[serde(deny_unknown_fields)] // documents `additionalProperties: false`
pub struct BureauChange {
    #[schema(nullable = false)]
    pub failing: Option<bool>,
    /// 0..=10000
    #[schema(minimum = 0, maximum = 10000, nullable = false)]
    pub latency_ms: Option<u64>,
}

#[derive(OpenApi)]
#[openapi(
    tags((name = "saga", description = "S4 order saga: run-time faults of the credit bureau")),
    components(schemas(BureauSettings, BureauChange))
)]
struct AdminDoc;

/// The routes and their OpenAPI document.
pub fn openapi_router(state: AdminState) -> OpenApiRouter {
    OpenApiRouter::with_openapi(AdminDoc::openapi())
        .routes(routes!(get_bureau, put_bureau))
        .with_state(state)
}

impl AdminState {
    /// The faults and breaker of a running saga.
    pub fn of(saga: &super::Saga) -> Self {
        Self {
            faults: Arc::clone(&saga.faults),
            breaker: Arc::clone(&saga.breaker),
        }
    }
}

fn settings(state: &AdminState) -> BureauSettings {
    BureauSettings {
        failing: state.faults.failing.load(Ordering::Relaxed),
        latency_ms: state.faults.latency_ms.load(Ordering::Relaxed),
        breaker: state.breaker.state(),
    }
}

/// The change a body asks for, or every field that is wrong.
fn parse_change(body: &[u8]) -> Result<(Option<bool>, Option<u64>), ApiError> {
    let value = json_body(body, ERROR)?;
    let Value::Object(map) = value else {
        return Err(ApiError::validation(
            ERROR,
            &ValidationErrors::single("body", "must be a JSON object"),
        ));
    };
    let mut errors = ErrorAccumulator::new();
    errors.extend(JsonObject::from(&map).unknown_fields(&["failing", "latency_ms"]));
    let failing = match map.get("failing") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(_) => {
            errors.push("failing", "must be true or false");
            None
        }
    };
    let latency_ms = match map.get("latency_ms") {
        None => None,
        Some(v) => match edalab_http::integral(v)
            .as_u64()
            .filter(|ms| *ms <= LATENCY_MS_MAX)
        {
            Some(ms) => Some(ms),
            None => {
                errors.push(
                    "latency_ms",
                    format!("must be an integer between 0 and {LATENCY_MS_MAX}"),
                );
                None
            }
        },
    };
    errors
        .finish(|| Some((failing, latency_ms)))
        .map_err(|e| ApiError::validation(ERROR, &e))
}

/// The credit bureau's injected faults and the breaker state.
#[utoipa::path(
    get,
    path = "/api/v1/saga/credit-bureau",
    tag = "saga",
    responses((status = 200, description = "Current settings", body = BureauSettings))
)]
async fn get_bureau(State(state): State<AdminState>) -> Json<BureauSettings> {
    Json(settings(&state))
}

/// Switches the credit bureau's injected failure and latency at run time.
#[utoipa::path(
    put,
    path = "/api/v1/saga/credit-bureau",
    tag = "saga",
    request_body = BureauChange,
    responses(
        (status = 200, description = "The settings after the change", body = BureauSettings),
        (status = 400, description = "A field is invalid: `details` names it; nothing changed", body = edalab_http::ErrorBody),
    )
)]
async fn put_bureau(
    State(state): State<AdminState>,
    body: Bytes,
) -> Result<Json<BureauSettings>, ApiError> {
    let (failing, latency_ms) = parse_change(&body)?;
    if let Some(failing) = failing {
        state.faults.failing.store(failing, Ordering::Relaxed);
    }
    if let Some(ms) = latency_ms {
        state.faults.latency_ms.store(ms, Ordering::Relaxed);
    }
    tracing::info!(?failing, ?latency_ms, "credit bureau faults changed");
    Ok(Json(settings(&state)))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    use super::*;
    use crate::saga::BreakerConfig;

    fn state() -> AdminState {
        AdminState {
            faults: Arc::new(BureauFaults::default()),
            breaker: Arc::new(CircuitBreaker::new(BreakerConfig::default())),
        }
    }

    async fn call(state: &AdminState, method: &str, body: &str) -> (StatusCode, Value) {
        let (router, _) = openapi_router(state.clone()).split_for_parts();
        let response = router
            .oneshot(
                Request::builder()
                    .method(method)
                    .uri("/api/v1/saga/credit-bureau")
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_owned()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let bytes = http_body_util::BodyExt::collect(response.into_body())
            .await
            .unwrap()
            .to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    #[tokio::test]
    async fn switches_the_failure_on_and_off() {
        let state = state();
        let (status, body) = call(&state, "GET", "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            serde_json::json!({"failing": false, "latency_ms": 0, "breaker": "closed"})
        );

        let (status, body) = call(&state, "PUT", r#"{"failing": true}"#).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["failing"], true);
        assert!(state.faults.failing.load(Ordering::Relaxed));

        let (_, body) = call(&state, "PUT", r#"{"latency_ms": 250}"#).await;
        assert_eq!(body["latency_ms"], 250);
        assert_eq!(body["failing"], true, "absent fields keep their value");

        let (_, body) = call(&state, "PUT", r#"{"failing": false, "latency_ms": 0}"#).await;
        assert_eq!(body["failing"], false);
        assert!(!state.faults.failing.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn bad_bodies_name_the_field_and_change_nothing() {
        let state = state();
        for (body, field) in [
            (r#"{"failing": "yes"}"#, "failing"),
            (r#"{"latency_ms": -1}"#, "latency_ms"),
            (r#"{"latency_ms": 10001}"#, "latency_ms"),
            (r#"{"latency_ms": 1.5}"#, "latency_ms"),
            (r#"{"failing": true, "fail": true}"#, "fail"),
            ("[1]", "body"),
            ("", "body"),
            ("{", "body"),
        ] {
            let (status, error) = call(&state, "PUT", body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
            let code = if body == "{" {
                "invalid_json"
            } else {
                "validation_failed"
            };
            assert_eq!(error["code"], code, "{body}");
            let fields: Vec<&str> = error["details"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| d["field"].as_str().unwrap())
                .collect();
            assert!(fields.contains(&field), "{body}: {error}");
        }
        assert!(!state.faults.failing.load(Ordering::Relaxed));
        assert_eq!(state.faults.latency_ms.load(Ordering::Relaxed), 0);
    }
}
