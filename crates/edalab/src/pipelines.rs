//! The S0/S1/S2/S4 pipelines in `edalab up`: their topics, their routers and a minimal
//! OpenAPI listing of their routes, so `/api/v1/openapi.json` names every route served.

use edalab_gateway::Mount;
use edalab_services::pipeline::all::Pipelines;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::{OpenApi, PathsBuilder, ResponseBuilder};

/// Every route the pipelines' routers serve, as (method, OpenAPI path, summary). Kept next
/// to the mount so the document and the router are changed together.
const ROUTES: &[(HttpMethod, &str, &str)] = &[
    (
        HttpMethod::Post,
        "/api/v1/transactions",
        "S0-01: submit a transaction (202 PENDING, 400 naming each field)",
    ),
    (
        HttpMethod::Get,
        "/api/v1/transactions/analytics",
        "S0-05: running totals per currency",
    ),
    (
        HttpMethod::Get,
        "/api/v1/transactions/{id}",
        "S0: a transaction's status (PENDING, PROCESSED, FAILED)",
    ),
    (
        HttpMethod::Post,
        "/api/v1/calculator",
        "S1: enqueue an operation (202 {id})",
    ),
    (
        HttpMethod::Get,
        "/api/v1/calculator/{id}",
        "S1: an operation's status and result or error",
    ),
    (
        HttpMethod::Get,
        "/api/v1/intake/orders/{order_id}",
        "S2: an ingested order's status",
    ),
    (
        HttpMethod::Get,
        "/api/v1/intake/stats",
        "S2: processed, rejected and duplicate counts",
    ),
    (
        HttpMethod::Post,
        "/api/v1/orders",
        "S4-01: create an order (201)",
    ),
    (
        HttpMethod::Get,
        "/api/v1/orders",
        "S4-03: list tracked orders",
    ),
    (
        HttpMethod::Get,
        "/api/v1/orders/{order_id}/status",
        "S4-03: an order's saga status and events",
    ),
];

/// The pipelines' routes as one gateway mount.
pub fn mount(pipelines: &Pipelines) -> Mount {
    let mut paths = PathsBuilder::new();
    for (method, path, summary) in ROUTES {
        let operation = OperationBuilder::new()
            .summary(Some(*summary))
            .tag("pipelines")
            .response(
                "default",
                ResponseBuilder::new().description("JSON body; errors are {error, code, details}"),
            )
            .build();
        paths = paths.path(*path, PathItem::new(method.clone(), operation));
    }
    let mut doc = OpenApi::default();
    doc.paths = paths.build();
    Mount::from_parts("pipelines", pipelines.router(), doc)
}
