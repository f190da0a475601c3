//! The simulator's REST API (S3-07), an axum router over a [`SimulationControl`]:
//!
//! - `POST /api/v1/simulation/start {scenario, rate, duration, pattern?, seed?}` →
//!   `{simulation_id, status: "running"}`; 409 while one runs (a bad body is 400 first);
//!   `scenario` is a name from the catalogue, never a path;
//! - `POST /api/v1/simulation/stop` → `{status: "stopped", events_produced}`; 409 when none
//!   runs;
//! - `GET /api/v1/simulation/status` → `{status, simulation_id, events_produced, started_at,
//!   rate_actual, …}`;
//! - `POST /api/v1/events/produce {event_type, count}` → `{events_produced, event_ids}`.
//!
//! Errors are `edalab-http`'s `{error, code, details}`; a bad body is a 400 whose `details`
//! is `[{field, message}]`, one entry per bad field. Bodies are parsed
//! here, field by field, so that every error names its field (serde's own message does not
//! always). Owns only HTTP: what a start means is `runner`'s.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use edalab_domain::validation::JsonObject;
use edalab_http::{ApiError, ErrorCode};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::runner::{
    FieldError, ProduceResponse, SimError, SimulationControl, StartRequest, StartResponse,
    StatusResponse, StopResponse, produce_errors,
};
use super::scenario::ScenarioSource;

/// What a refused simulation request answers.
impl From<SimError> for ApiError {
    fn from(error: SimError) -> Self {
        let message = error.to_string();
        match error {
            SimError::AlreadyRunning { simulation_id } => {
                Self::new(ErrorCode::SimulationRunning, message)
                    .with_detail("simulation_id", format!("`{simulation_id}` is running"))
            }
            SimError::NotRunning => Self::new(ErrorCode::SimulationNotRunning, message),
            SimError::Invalid(errors) => invalid_fields(errors),
            SimError::Bus(_) | SimError::Delivery(_) => {
                Self::new(ErrorCode::ServiceUnavailable, message)
            }
            SimError::Encode(_) => Self::internal(message),
        }
    }
}

/// 400 `validation_failed` naming every bad field, each also in the message.
fn invalid_fields(errors: Vec<FieldError>) -> ApiError {
    let message = errors
        .iter()
        .map(|e| format!("`{}`: {}", e.field, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    ApiError::fields(format!("invalid request: {message}"), errors)
}

/// The body as a JSON object; anything else is a 400 naming `body`.
fn object(body: &Bytes) -> Result<Map<String, Value>, ApiError> {
    if body.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(other) => Err(ApiError::invalid_json(format!(
            "expected a JSON object, got {}",
            kind_of(&other)
        ))),
        Err(e) => Err(ApiError::invalid_json(e.to_string())),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Reads field `name` of `map` (`None` if absent or null), recording a type error.
fn field<T: DeserializeOwned>(
    map: &Map<String, Value>,
    name: &str,
    expected: &str,
    errors: &mut Vec<FieldError>,
) -> Option<T> {
    let value = map.get(name).filter(|v| !v.is_null())?;
    match serde_json::from_value(edalab_http::integral(value)) {
        Ok(v) => Some(v),
        Err(_) => {
            errors.push(FieldError::new(
                name,
                format!("must be {expected}, got {}", kind_of(value)),
            ));
            None
        }
    }
}

/// The request rule of every route (ADR 019): each unknown field is an error naming it.
fn unknown_fields(map: &Map<String, Value>, known: &[&str], errors: &mut Vec<FieldError>) {
    let unknown = JsonObject::from(map).unknown_fields(known);
    errors.extend(
        unknown
            .into_iter()
            .map(|e| FieldError::new(e.field, e.message)),
    );
}

/// `POST /api/v1/simulation/start` body. No other field is accepted.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)] // documents `additionalProperties: false`
#[allow(dead_code)] // documentation only: the body is parsed field by field.
pub struct StartBody {
    /// A scenario's name, never a path: a built-in one (`default`, `banking-day`,
    /// `fraud-burst`, `transactions`, `calculator`, `order-files`, `orders`) or the name of
    /// a `<name>.toml` in the server's `scenarios/` folder.
    #[schema(pattern = "^[a-z0-9][a-z0-9-]{0,63}$", min_length = 1, max_length = 64)]
    scenario: String,
    /// Events per second, `0 < rate <= simulator.rate_per_second_max` (50 000 at most;
    /// 10 000 by default) [default: the scenario's].
    #[schema(exclusive_minimum = 0, maximum = 50000)]
    rate: Option<f64>,
    /// Seconds, `0 <= duration <= simulator.duration_s_max` (one day by default); 0 runs
    /// until stopped [default: the scenario's `duration_s`].
    #[schema(minimum = 0, maximum = 2592000)]
    duration: Option<f64>,
    /// The traffic shape [default: the scenario's].
    #[schema(value_type = Option<PatternName>, nullable = false)]
    pattern: Option<String>,
    /// Seed of the random stream [default: from the clock; the status reports it].
    seed: Option<u64>,
}

/// `POST /api/v1/events/produce` body. No other field is accepted.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)] // documents `additionalProperties: false`
#[allow(dead_code)] // documentation only: the body is parsed field by field.
pub struct ProduceBody {
    /// What to produce: a banking event (the ledger's), or an item of S0, S1, S2 or S4.
    #[schema(value_type = EventTypeName)]
    event_type: String,
    /// `1..=10000`.
    #[schema(minimum = 1, maximum = 10000)]
    count: u64,
}

/// The traffic patterns a start accepts (`TrafficPattern::NAMES`; documentation only).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
#[allow(dead_code)]
enum PatternName {
    Constant,
    Ramp,
    Burst,
    Sine,
}

/// The event types `produce` accepts (`EventKind::ALL`'s wire names; documentation only).
#[derive(ToSchema)]
#[allow(dead_code)]
enum EventTypeName {
    CompteOuvert,
    DepotEffectue,
    RetraitEffectue,
    VirementEmis,
    PaiementPrimeEffectue,
    CompteFerme,
    Transaction,
    Calculation,
    OrderFile,
    Order,
}

fn parse_start(body: &Bytes) -> Result<StartRequest, ApiError> {
    let map = object(body)?;
    let mut errors = Vec::new();
    unknown_fields(
        &map,
        &["scenario", "rate", "duration", "pattern", "seed"],
        &mut errors,
    );
    let scenario: Option<String> = field(&map, "scenario", "a string", &mut errors);
    if scenario.is_none() && !errors.iter().any(|e| e.field == "scenario") {
        errors.push(FieldError::new("scenario", "is required"));
    }
    let rate = field(&map, "rate", "a number", &mut errors);
    let duration = field(&map, "duration", "a number of seconds", &mut errors);
    let pattern = field(&map, "pattern", "a string", &mut errors);
    let seed = field(&map, "seed", "a non-negative integer", &mut errors);
    match scenario {
        // A name only: the catalogue refuses anything else, paths included (ADR 019).
        Some(scenario) if errors.is_empty() => Ok(StartRequest {
            scenario: ScenarioSource::Named(scenario),
            rate,
            duration,
            pattern,
            seed,
        }),
        _ => Err(invalid_fields(errors)),
    }
}

/// Starts a simulation (S3-07).
#[utoipa::path(
    post,
    path = "/api/v1/simulation/start",
    operation_id = "start_simulation",
    tag = "simulator",
    request_body = StartBody,
    responses(
        (status = 200, description = "Started", body = StartResponse),
        (status = 400, description = "A field is invalid: `details` names it", body = edalab_http::ErrorBody),
        (status = 409, description = "A simulation is already running", body = edalab_http::ErrorBody),
    )
)]
async fn start(
    State(control): State<Arc<SimulationControl>>,
    body: Bytes,
) -> Result<Json<StartResponse>, ApiError> {
    let request = parse_start(&body)?;
    Ok(Json(control.start(request).await?))
}

/// Stops the running simulation (S3-07).
#[utoipa::path(
    post,
    path = "/api/v1/simulation/stop",
    operation_id = "stop_simulation",
    tag = "simulator",
    responses(
        (status = 200, description = "Stopped", body = StopResponse),
        (status = 409, description = "No simulation is running", body = edalab_http::ErrorBody),
    )
)]
async fn stop(
    State(control): State<Arc<SimulationControl>>,
) -> Result<Json<StopResponse>, ApiError> {
    Ok(Json(control.stop().await?))
}

/// The current or last simulation (S3-07).
#[utoipa::path(
    get,
    path = "/api/v1/simulation/status",
    operation_id = "simulation_status",
    tag = "simulator",
    responses((status = 200, description = "Status", body = StatusResponse))
)]
async fn status(State(control): State<Arc<SimulationControl>>) -> Json<StatusResponse> {
    Json(control.status())
}

/// Produces `count` valid events of one type now (S3-07).
#[utoipa::path(
    post,
    path = "/api/v1/events/produce",
    operation_id = "produce_events",
    tag = "simulator",
    request_body = ProduceBody,
    responses(
        (status = 200, description = "Produced", body = ProduceResponse),
        (status = 400, description = "A field is invalid: `details` names it", body = edalab_http::ErrorBody),
        (status = 503, description = "The bus refused, or an S0/S2/S4 item could not be delivered", body = edalab_http::ErrorBody),
    )
)]
async fn produce(
    State(control): State<Arc<SimulationControl>>,
    body: Bytes,
) -> Result<Json<ProduceResponse>, ApiError> {
    let map = object(&body)?;
    let mut errors = Vec::new();
    unknown_fields(&map, &["event_type", "count"], &mut errors);
    let event_type: Option<String> = field(&map, "event_type", "a string", &mut errors);
    let count: Option<i64> = field(&map, "count", "an integer", &mut errors);
    for (name, missing) in [
        ("event_type", event_type.is_none()),
        ("count", count.is_none()),
    ] {
        if missing && !errors.iter().any(|e| e.field == name) {
            errors.push(FieldError::new(name, "is required"));
        }
    }
    let (Some(event_type), Some(count)) = (event_type, count) else {
        return Err(invalid_fields(errors));
    };
    errors.extend(produce_errors(&event_type, count));
    if !errors.is_empty() {
        return Err(invalid_fields(errors));
    }
    // `produce_errors` accepted it: 1..=10 000.
    let count = u64::try_from(count).unwrap_or_default();
    Ok(Json(control.produce_now(&event_type, count).await?))
}

#[derive(OpenApi)]
#[openapi(tags((name = "simulator", description = "Simulation control (S3-07)")))]
struct SimulatorDoc;

/// The routes and their OpenAPI document, for `edalab_gateway::Mount::new("simulator", …)`.
pub fn openapi_router(control: Arc<SimulationControl>) -> OpenApiRouter {
    OpenApiRouter::with_openapi(SimulatorDoc::openapi())
        .routes(routes!(start))
        .routes(routes!(stop))
        .routes(routes!(status))
        .routes(routes!(produce))
        .with_state(control)
}

/// The routes alone.
pub fn router(control: Arc<SimulationControl>) -> axum::Router {
    openapi_router(control).split_for_parts().0
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::simulator::{EventKind, TrafficPattern};

    fn enum_values<T: utoipa::PartialSchema>() -> Vec<String> {
        let schema = serde_json::to_value(T::schema()).unwrap();
        schema["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("not an enum: {schema}"))
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn the_documented_names_are_the_accepted_ones() {
        let kinds: Vec<String> = EventKind::ALL
            .iter()
            .map(|k| k.wire_name().to_owned())
            .collect();
        assert_eq!(enum_values::<EventTypeName>(), kinds);
        assert_eq!(enum_values::<PatternName>(), TrafficPattern::NAMES.to_vec());
    }
}
