//! The S0/S1/S2/S4 pipelines in `edalab up`: their routes as one gateway mount. The
//! OpenAPI operations come from the handlers' `#[utoipa::path]` annotations
//! (`edalab_services::pipeline::all::Pipelines::openapi_router`), so `/api/v1/openapi.json`
//! documents exactly the routes served.

use edalab_gateway::Mount;
use edalab_services::pipeline::all::Pipelines;

/// The pipelines' routes as one gateway mount.
pub fn mount(pipelines: &Pipelines) -> Mount {
    Mount::new("pipelines", pipelines.openapi_router())
}
