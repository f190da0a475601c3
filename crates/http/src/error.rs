//! [`ErrorCode`], [`ApiError`] and the body it answers, [`ErrorBody`].

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use edalab_domain::validation::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Stable error codes: the `code` of every error body.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// 400: the request is malformed in a way no field names.
    BadRequest,
    /// 400: the body is not JSON (or not the JSON value expected); `details` names `body`.
    InvalidJson,
    /// 415: the body's `Content-Type` is not accepted.
    UnsupportedMediaType,
    /// 400: fields, parameters or headers break a rule; `details` names each.
    ValidationFailed,
    /// 404: the resource named by the path does not exist.
    NotFound,
    /// 404: no route has this path.
    RouteNotFound,
    /// 405: the route exists, not with this method.
    MethodNotAllowed,
    /// 409: the request conflicts with the current state.
    Conflict,
    /// 409: a simulation is already running.
    SimulationRunning,
    /// 409: no simulation is running.
    SimulationNotRunning,
    /// 413: the body is larger than the server accepts.
    PayloadTooLarge,
    /// 408: the request took too long.
    RequestTimeout,
    /// 429: too many requests.
    TooManyRequests,
    /// 500: a fault of the server (a bug or a broken invariant), logged.
    Internal,
    /// 502: a service behind the gateway answered badly.
    BadGateway,
    /// 503: a dependency (store, bus, service, queue) is unavailable; retry later.
    ServiceUnavailable,
    /// 504: a service behind the gateway did not answer in time.
    GatewayTimeout,
    /// 401: a write or `/ws` without an accepted bearer token (ADR 018).
    Unauthorized,
    /// 403: a write or `/ws` from a browser origin that is not allowed (ADR 018).
    ForbiddenOrigin,
    /// 421: a `Host` the server does not answer to (DNS rebinding, ADR 018).
    MisdirectedRequest,
}

impl ErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad_request",
            Self::InvalidJson => "invalid_json",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::ValidationFailed => "validation_failed",
            Self::NotFound => "not_found",
            Self::RouteNotFound => "route_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict => "conflict",
            Self::SimulationRunning => "simulation_running",
            Self::SimulationNotRunning => "simulation_not_running",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RequestTimeout => "request_timeout",
            Self::TooManyRequests => "too_many_requests",
            Self::Internal => "internal",
            Self::BadGateway => "bad_gateway",
            Self::ServiceUnavailable => "service_unavailable",
            Self::GatewayTimeout => "gateway_timeout",
            Self::Unauthorized => "unauthorized",
            Self::ForbiddenOrigin => "forbidden_origin",
            Self::MisdirectedRequest => "misdirected_request",
        }
    }

    pub const fn status(self) -> StatusCode {
        match self {
            Self::BadRequest | Self::InvalidJson | Self::ValidationFailed => {
                StatusCode::BAD_REQUEST
            }
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::NotFound | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict | Self::SimulationRunning | Self::SimulationNotRunning => {
                StatusCode::CONFLICT
            }
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::BadGateway => StatusCode::BAD_GATEWAY,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::GatewayTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::ForbiddenOrigin => StatusCode::FORBIDDEN,
            Self::MisdirectedRequest => StatusCode::MISDIRECTED_REQUEST,
        }
    }

    /// The code for an error response that was not built as an [`ApiError`].
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::BAD_REQUEST => Self::BadRequest,
            StatusCode::NOT_FOUND => Self::RouteNotFound,
            StatusCode::METHOD_NOT_ALLOWED => Self::MethodNotAllowed,
            StatusCode::CONFLICT => Self::Conflict,
            StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            StatusCode::REQUEST_TIMEOUT => Self::RequestTimeout,
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::UnsupportedMediaType,
            StatusCode::UNPROCESSABLE_ENTITY => Self::ValidationFailed,
            StatusCode::TOO_MANY_REQUESTS => Self::TooManyRequests,
            StatusCode::BAD_GATEWAY => Self::BadGateway,
            StatusCode::SERVICE_UNAVAILABLE => Self::ServiceUnavailable,
            StatusCode::GATEWAY_TIMEOUT => Self::GatewayTimeout,
            StatusCode::UNAUTHORIZED => Self::Unauthorized,
            StatusCode::FORBIDDEN => Self::ForbiddenOrigin,
            StatusCode::MISDIRECTED_REQUEST => Self::MisdirectedRequest,
            s if s.is_client_error() => Self::BadRequest,
            _ => Self::Internal,
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One input at fault: what it is and what was expected of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Detail {
    /// The input as the client wrote it: a body field's JSON path (`accountFrom`,
    /// `items[1].qty`), a path or query parameter, a header, or `body`.
    #[schema(example = "amount")]
    pub field: String,
    /// What is wrong with it, or what was expected.
    #[schema(example = "must be a positive number")]
    pub message: String,
}

impl Detail {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl From<FieldError> for Detail {
    fn from(error: FieldError) -> Self {
        Self {
            field: error.field,
            message: error.message,
        }
    }
}

/// The body of every error response (but the registry's).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for people.
    pub error: String,
    /// Stable machine-readable code.
    #[schema(value_type = ErrorCode)]
    pub code: String,
    /// One entry per input at fault; empty when none in particular is.
    pub details: Vec<Detail>,
}

/// An error answered by a handler.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    pub details: Vec<Detail>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            details: Vec::new(),
        }
    }

    /// Adds one input at fault.
    pub fn with_detail(mut self, field: impl Into<String>, message: impl Into<String>) -> Self {
        self.details.push(Detail::new(field, message));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BadRequest, message)
    }

    /// 400 `validation_failed` naming each field of `errors`.
    pub fn validation(message: impl Into<String>, errors: &ValidationErrors) -> Self {
        Self::fields(message, errors.errors().iter().cloned())
    }

    /// 400 `validation_failed` naming each of `errors`.
    pub fn fields(
        message: impl Into<String>,
        errors: impl IntoIterator<Item = FieldError>,
    ) -> Self {
        Self {
            details: errors.into_iter().map(Detail::from).collect(),
            ..Self::new(ErrorCode::ValidationFailed, message)
        }
    }

    /// 400 `validation_failed` on one input.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        let field = field.into();
        let message = message.into();
        Self::new(
            ErrorCode::ValidationFailed,
            format!("invalid `{field}`: {message}"),
        )
        .with_detail(field, message)
    }

    /// 400 `invalid_json`: the body as a whole is not what was expected.
    pub fn invalid_json(message: impl Into<String>) -> Self {
        let message = message.into();
        Self::new(
            ErrorCode::InvalidJson,
            format!("the body is not valid JSON: {message}"),
        )
        .with_detail("body", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// 404: no `what` has this `id`.
    pub fn no_such(what: &str, id: &str) -> Self {
        Self::not_found(format!("{what} `{id}` not found"))
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Conflict, message)
    }

    /// 503: a dependency failed; logged, since the client cannot fix it.
    pub fn unavailable(error: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::ServiceUnavailable,
            format!("temporarily unavailable: {error}"),
        )
    }

    /// 500: a fault of ours; logged.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::Internal, message)
    }

    pub fn body(&self) -> ErrorBody {
        ErrorBody {
            error: self.message.clone(),
            code: self.code.as_str().to_owned(),
            details: self.details.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        if status.is_server_error() {
            tracing::warn!(code = self.code.as_str(), error = %self.message, "request failed");
        }
        (status, axum::Json(self.body())).into_response()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_one_spelling() {
        for code in [
            ErrorCode::ValidationFailed,
            ErrorCode::SimulationRunning,
            ErrorCode::ServiceUnavailable,
            ErrorCode::MisdirectedRequest,
        ] {
            let json = serde_json::to_value(code).unwrap();
            assert_eq!(json, serde_json::Value::String(code.as_str().to_owned()));
        }
    }

    #[test]
    fn validation_names_every_field_in_a_list() {
        let errors = ValidationErrors::from_vec(vec![
            FieldError::new("amount", "must be positive"),
            FieldError::new("currency", "must be 3 letters"),
        ])
        .unwrap();
        let error = ApiError::validation("Validation failed", &errors);
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        let body = serde_json::to_value(error.body()).unwrap();
        assert_eq!(
            body,
            serde_json::json!({
                "error": "Validation failed",
                "code": "validation_failed",
                "details": [
                    {"field": "amount", "message": "must be positive"},
                    {"field": "currency", "message": "must be 3 letters"},
                ],
            })
        );
    }

    #[test]
    fn an_error_without_inputs_at_fault_has_an_empty_list() {
        let body = serde_json::to_value(ApiError::no_such("account", "a-1").body()).unwrap();
        assert_eq!(body["code"], "not_found");
        assert_eq!(body["details"], serde_json::json!([]));
        assert_eq!(body["error"], "account `a-1` not found");
    }
}
