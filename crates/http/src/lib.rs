//! The one HTTP error contract of every edalab route (gateway, services, DLQ admin, AWS
//! profile's admin routes): `{error, code, details}` where
//!
//! - `error` says what went wrong, for people;
//! - `code` is a stable machine-readable [`ErrorCode`], one spelling (`snake_case`);
//! - `details` is always a list of [`Detail`] `{field, message}`, one per failing input
//!   (a body field as the client wrote it — `accountFrom`, `items[1].qty` —, a path or query
//!   parameter, a header, or `body` for the body as a whole); empty when nothing in particular
//!   is at fault.
//!
//! S0-01's `{"error", "details": [...]}` is this shape with `code` added. The schema registry
//! (`/registry/`) is the one exception: it answers Confluent's `{error_code, message}` because
//! Confluent's clients read that.
//!
//! - [`ApiError`] is what handlers return; it renders itself ([`IntoResponse`]).
//! - [`ApiJson`] is the JSON body extractor to use instead of `axum::Json`.
//! - [`json_body`] parses bytes a handler took itself; [`path_id`] checks an id parameter.
//! - [`json_errors`] is a middleware that turns every other error response (axum's 404/405,
//!   tower-http's 408/413, a text rejection) into the same shape.
//!
//! Codes are part of the API contract: add new ones, never rename.

mod body;
mod error;

pub use body::{ApiJson, ID_PATTERN, integral, json_body, json_errors, optional_integer, path_id};
pub use error::{ApiError, Detail, ErrorBody, ErrorCode};
