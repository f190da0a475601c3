//! Reading requests into [`ApiError`]s, and the middleware that gives every other error
//! response the same shape.

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde::de::DeserializeOwned;

use crate::error::{ApiError, ErrorCode};

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match &rejection {
            JsonRejection::JsonDataError(_) | JsonRejection::JsonSyntaxError(_) => {
                Self::invalid_json(rejection.body_text())
            }
            JsonRejection::MissingJsonContentType(_) => {
                Self::new(ErrorCode::UnsupportedMediaType, rejection.body_text())
                    .with_detail("content-type", "expected `application/json`")
            }
            _ => Self::new(
                ErrorCode::for_status(rejection.status()),
                rejection.body_text(),
            ),
        }
    }
}

/// `axum::Json` with [`ApiError`] as its rejection: a bad body is a 400 `invalid_json`
/// carrying serde's message (line, column, field).
#[derive(Clone, Copy, Debug, Default)]
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(req, state).await?;
        Ok(Self(value))
    }
}

/// Parses a request body a handler took as bytes: an empty body is a 400
/// `validation_failed` naming `body`, bad JSON a 400 `invalid_json` (never a 500, S0-01).
/// `error` is the message of the first.
pub fn json_body(body: &[u8], error: &str) -> Result<serde_json::Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::new(ErrorCode::ValidationFailed, error)
            .with_detail("body", "Missing request body"));
    }
    serde_json::from_slice(body).map_err(|e| ApiError::invalid_json(e.to_string()))
}

/// The id rule of [`path_id`] as an OpenAPI `pattern` (ECMA-262 and Python `re` alike): at
/// least one character that is not white space, and no control (`Cc`) or bidirectional
/// formatting character. The length bound is the parameter's `maxLength`. Annotations
/// spell it as a literal (utoipa takes no constant there); a test of the gateway's
/// document checks that every id parameter carries exactly this text.
pub const ID_PATTERN: &str = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$";

/// A path parameter naming a resource by id, under the id rule
/// ([`edalab_domain::validation::check_id`] with `chars_max`): otherwise a 400 naming the
/// parameter, since such a text is no id at all (ADR 019).
pub fn path_id<'a>(parameter: &str, id: &'a str, chars_max: usize) -> Result<&'a str, ApiError> {
    edalab_domain::validation::check_id(id, chars_max)
        .map(|()| id)
        .map_err(|message| ApiError::invalid(parameter, message))
}

/// Largest integer a JSON float holds exactly (2^53).
const FLOAT_INTEGER_MAX: f64 = 9_007_199_254_740_992.0;

/// `value` with an integral float (`3.0`, `-2e3`) as the integer it is: JSON Schema's
/// `integer` includes them, serde's integer types do not. Anything else unchanged.
pub fn integral(value: &serde_json::Value) -> serde_json::Value {
    match value.as_f64() {
        Some(f) if value.is_f64() && f.fract() == 0.0 && f.abs() <= FLOAT_INTEGER_MAX => {
            // In range by the guard: the cast is exact.
            #[allow(clippy::cast_possible_truncation)]
            let whole = f as i64;
            serde_json::Value::from(whole)
        }
        _ => value.clone(),
    }
}

/// `deserialize_with` for an optional integer field that also takes an integral float
/// (see [`integral`]); `null` is absent.
pub fn optional_integer<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    use serde::Deserialize;
    match Option::<serde_json::Value>::deserialize(deserializer)? {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(value) => serde_json::from_value(integral(&value))
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Error bodies are short; a longer one is cut when converted.
const ERROR_TEXT_BYTES_MAX: usize = 4 * 1024;

/// Middleware: every error response (status >= 400) that is not already JSON becomes an
/// [`crate::ErrorBody`] with the code for its status and its text (if any) as the message.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) || is_json(&response) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, ERROR_TEXT_BYTES_MAX)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let message = if text.is_empty() {
        default_message(status)
    } else {
        text
    };
    let body = ApiError::new(ErrorCode::for_status(status), message).body();
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

/// `application/json`, or a `+json` type (the registry's
/// `application/vnd.schemaregistry.v1+json`), with or without parameters.
fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            let essence = v.split(';').next().unwrap_or_default().trim();
            essence == "application/json" || essence.ends_with("+json")
        })
}

fn default_message(status: StatusCode) -> String {
    match status {
        StatusCode::NOT_FOUND => "no such route".to_owned(),
        StatusCode::METHOD_NOT_ALLOWED => "method not allowed on this route".to_owned(),
        StatusCode::REQUEST_TIMEOUT => "the request took too long".to_owned(),
        StatusCode::PAYLOAD_TOO_LARGE => "the request body is too large".to_owned(),
        s => s.canonical_reason().unwrap_or("error").to_lowercase(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_body_and_bad_json_name_the_body() {
        let empty = json_body(b"  ", "Invalid request body").unwrap_err();
        assert_eq!(empty.code, ErrorCode::ValidationFailed);
        assert_eq!(empty.details[0].field, "body");
        let bad = json_body(b"{\"amount\":", "Invalid request body").unwrap_err();
        assert_eq!(bad.code, ErrorCode::InvalidJson);
        assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
        assert_eq!(bad.details[0].field, "body");
        assert_eq!(json_body(b"{\"a\":1}", "x").unwrap()["a"], 1);
    }

    #[test]
    fn a_path_id_with_a_control_character_names_the_parameter() {
        let error = path_id("order_id", "a\u{7}b", 128).unwrap_err();
        assert_eq!(error.code, ErrorCode::ValidationFailed);
        assert_eq!(error.details[0].field, "order_id");
        assert_eq!(path_id("id", "txn-1", 128).unwrap(), "txn-1");
    }

    #[test]
    fn integral_floats_are_integers() {
        use serde_json::json;
        assert_eq!(integral(&json!(3485.0)), json!(3485));
        assert_eq!(integral(&json!(-2e3)), json!(-2000));
        assert_eq!(integral(&json!(1.5)), json!(1.5));
        assert_eq!(integral(&json!(1e300)), json!(1e300));
        assert_eq!(integral(&json!("7")), json!("7"));
        #[derive(serde::Deserialize)]
        struct Body {
            #[serde(default, deserialize_with = "optional_integer")]
            n: Option<u32>,
        }
        let parse = |text: &str| serde_json::from_str::<Body>(text).map(|b| b.n);
        assert_eq!(parse(r#"{"n": 5.0}"#).unwrap(), Some(5));
        assert_eq!(parse(r#"{"n": null}"#).unwrap(), None);
        assert_eq!(parse("{}").unwrap(), None);
        assert!(parse(r#"{"n": 5.5}"#).is_err());
        assert!(parse(r#"{"n": -1}"#).is_err());
    }

    #[test]
    fn the_id_pattern_is_the_id_rule() {
        let pattern = regex::Regex::new(ID_PATTERN).unwrap();
        for id in [
            "txn-1",
            " a",
            "a b",
            "é",
            "\u{FEFF}",
            "",
            " ",
            "\u{3000}",
            "a\u{7}b",
            "a\u{85}",
            "\u{9F}",
            "a\u{202E}b",
            "\u{2066}",
            "\u{061C}x",
            "x\n",
        ] {
            assert_eq!(
                pattern.is_match(id),
                edalab_domain::validation::check_id(id, usize::MAX).is_ok(),
                "{id:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_plain_text_error_becomes_the_json_shape() {
        use axum::Router;
        use axum::routing::get;
        use tower::ServiceExt;
        let app = Router::new()
            .route("/x", get(|| async { (StatusCode::CONFLICT, "taken") }))
            .layer(axum::middleware::from_fn(json_errors));
        let request = Request::get("/x").body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        let bytes = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            body,
            serde_json::json!({"error": "taken", "code": "conflict", "details": []})
        );
    }
}
