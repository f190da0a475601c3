//! HTTP errors: the one contract of every edalab route lives in `edalab-http`; the gateway
//! uses it as `crate::error`.

pub use edalab_http::{ApiError, ApiJson, Detail, ErrorBody, ErrorCode, ID_PATTERN, json_errors};
