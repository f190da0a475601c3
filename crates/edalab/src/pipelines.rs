//! The S0/S1/S2/S4 pipelines in `edalab up` / `edalab serve`: each pipeline's routes as one
//! gateway mount. The OpenAPI operations come from the handlers' `#[utoipa::path]`
//! annotations (each pipeline's `api::openapi_router`), so `/api/v1/openapi.json`
//! documents exactly the routes served.

use edalab_gateway::Mount;
use utoipa_axum::router::OpenApiRouter;

/// One pipeline's annotated router as a gateway mount named `name`.
pub fn mount_one(name: &str, router: OpenApiRouter) -> Mount {
    Mount::new(name, router)
}
