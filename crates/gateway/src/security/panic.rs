//! The last-resort layer: a handler that panics answers 500 with the project's error shape
//! (`{error, code: "internal", details}`) and counts `edalab_http_panics_total`, instead of
//! the connection closing with no reply. Panics are bugs: the message is logged, never
//! sent to the client.

use std::any::Any;

use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;

/// The layer, innermost around the routes so every other layer still sees a response.
pub fn layer() -> CatchPanicLayer<fn(Box<dyn Any + Send + 'static>) -> Response> {
    CatchPanicLayer::custom(answer as fn(Box<dyn Any + Send + 'static>) -> Response)
}

fn answer(panic: Box<dyn Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    tracing::error!(panic = message, "a request handler panicked");
    crate::telemetry::metrics::http_panic();
    ApiError::internal("the server failed while handling this request (a bug: see its log)")
        .into_response()
}
