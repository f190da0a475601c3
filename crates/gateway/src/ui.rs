//! The web UI: built into the binary at compile time (ADR 022), so a copied `edalab` serves
//! it from any directory. `build.rs` picks what is embedded: `web/dist` when `npm run build`
//! made it, else a page saying how to build it (so `cargo build` needs no npm).
//! `server.static_dir` overrides it when that directory holds an `index.html` (UI
//! development: rebuild the UI without rebuilding the binary).
//!
//! Owns which requests are the UI's ([`owns`]) and how they are answered: files with their
//! content type, `index.html` for client-side routes. Never the API's: `/api/`, `/registry/`
//! and `/ws` paths are left to the router's JSON 404.

use std::path::PathBuf;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::{EmbeddedFile, RustEmbed};
use tower::ServiceExt;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::ApiError;

/// What `build.rs` chose: `web/dist`, or `crates/gateway/ui-not-built/`.
#[derive(RustEmbed)]
#[folder = "$EDALAB_UI_DIR"]
struct Embedded;

/// The page every client-side route gets.
const INDEX: &str = "index.html";

/// Path prefixes that are never the UI's, even for an unknown path under them.
const NOT_UI_PREFIXES: [&str; 4] = ["/api/", "/registry/", "/ws/", "/metrics/"];
/// Exact paths that are never the UI's.
const NOT_UI_PATHS: [&str; 4] = ["/api", "/registry", "/ws", "/metrics"];

/// Whether the UI answers `method path`: reads outside the API, registry and WebSocket.
pub fn owns(method: &Method, path: &str) -> bool {
    matches!(*method, Method::GET | Method::HEAD)
        && !NOT_UI_PATHS.contains(&path)
        && !NOT_UI_PREFIXES
            .iter()
            .any(|prefix| path.starts_with(prefix))
}

/// Answers a request the UI [`owns`]: from `static_dir` when given, else from the embedded
/// files. `None`: no such file (a path naming a file, e.g. `/assets/gone.js`), for the
/// router's 404.
pub async fn serve(static_dir: Option<PathBuf>, request: Request) -> Option<Response> {
    match static_dir {
        Some(dir) => Some(serve_dir(dir, request).await),
        None => serve_embedded(&request),
    }
}

/// The embedded `index.html` (the UI's, or the "not built" page).
pub fn embedded_index() -> Option<Vec<u8>> {
    Embedded::get(INDEX).map(|file| file.data.into_owned())
}

async fn serve_dir(dir: PathBuf, request: Request) -> Response {
    let index = dir.join(INDEX);
    let service = ServeDir::new(dir).fallback(ServeFile::new(index));
    match service.oneshot(request).await {
        Ok(response) => response.map(Body::new),
        Err(error) => ApiError::internal(format!("static files: {error}")).into_response(),
    }
}

fn serve_embedded(request: &Request) -> Option<Response> {
    let path = request.uri().path().trim_start_matches('/');
    let name = if path.is_empty() { INDEX } else { path };
    if let Some(file) = Embedded::get(name) {
        return Some(file_response(name, file, request));
    }
    // A missing file stays missing; anything else is a client-side route.
    let last = path.rsplit('/').next().unwrap_or_default();
    if last.contains('.') {
        return None;
    }
    Embedded::get(INDEX).map(|file| file_response(INDEX, file, request))
}

/// `file` with its content type and validators; 304 when the client has it already.
/// Vite's `assets/` names carry a content hash, so they are cached for good; the rest
/// (`index.html` above all) is revalidated each time.
fn file_response(name: &str, file: EmbeddedFile, request: &Request) -> Response {
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()));
    let cache = if name.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let fresh = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|tags| tags.as_bytes() == etag.as_bytes());
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Body::from(file.data.into_owned()).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_registry_websocket_and_metrics_are_never_the_uis() {
        for path in [
            "/api/v1/nope",
            "/api",
            "/registry/subjects/x",
            "/registry",
            "/ws",
            "/ws/x",
            "/metrics/x",
        ] {
            assert!(!owns(&Method::GET, path), "{path}");
        }
        for path in [
            "/",
            "/flows/banking",
            "/assets/app.js",
            "/favicon.ico",
            "/apis",
        ] {
            assert!(owns(&Method::GET, path), "{path}");
            assert!(owns(&Method::HEAD, path), "{path}");
            assert!(!owns(&Method::POST, path), "{path}");
        }
    }

    #[test]
    fn client_routes_get_the_index_and_missing_files_nothing() {
        let get = |path: &str| {
            Request::builder()
                .uri(path)
                .body(Body::empty())
                .expect("request")
        };
        let index = serve_embedded(&get("/")).expect("the index");
        assert_eq!(index.status(), StatusCode::OK);
        assert_eq!(
            index.headers()[header::CONTENT_TYPE],
            "text/html",
            "{index:?}"
        );
        assert_eq!(index.headers()[header::CACHE_CONTROL], "no-cache");
        let route = serve_embedded(&get("/flows/banking")).expect("a client route");
        assert_eq!(route.headers()[header::ETAG], index.headers()[header::ETAG]);
        assert!(serve_embedded(&get("/assets/gone.js")).is_none());

        let mut again = get("/");
        again
            .headers_mut()
            .insert(header::IF_NONE_MATCH, index.headers()[header::ETAG].clone());
        let unchanged = serve_embedded(&again).expect("the index");
        assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    }
}
