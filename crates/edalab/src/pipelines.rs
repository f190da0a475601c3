//! The S0/S1/S2/S4 pipelines in `edalab up` / `edalab serve`: their routers with a minimal
//! OpenAPI listing of their routes, so `/api/v1/openapi.json` names every route served.

use edalab_gateway::Mount;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::{OpenApi, PathsBuilder, ResponseBuilder};

/// Every route the pipelines' routers serve, as (mount, method, OpenAPI path, summary).
/// Kept next to the mount so the document and the router are changed together.
const ROUTES: &[(&str, HttpMethod, &str, &str)] = &[
    (
        "transactions",
        HttpMethod::Post,
        "/api/v1/transactions",
        "S0-01: submit a transaction (202 PENDING, 400 naming each field)",
    ),
    (
        "transactions",
        HttpMethod::Get,
        "/api/v1/transactions/analytics",
        "S0-05: running totals per currency",
    ),
    (
        "transactions",
        HttpMethod::Get,
        "/api/v1/transactions/{id}",
        "S0: a transaction's status (PENDING, PROCESSED, FAILED)",
    ),
    (
        "calculator",
        HttpMethod::Post,
        "/api/v1/calculator",
        "S1: enqueue an operation (202 {id})",
    ),
    (
        "calculator",
        HttpMethod::Get,
        "/api/v1/calculator/{id}",
        "S1: an operation's status and result or error",
    ),
    (
        "intake",
        HttpMethod::Get,
        "/api/v1/intake/orders/{order_id}",
        "S2: an ingested order's status",
    ),
    (
        "intake",
        HttpMethod::Get,
        "/api/v1/intake/stats",
        "S2: processed, rejected and duplicate counts",
    ),
    (
        "orders",
        HttpMethod::Post,
        "/api/v1/orders",
        "S4-01: create an order (201)",
    ),
    (
        "orders",
        HttpMethod::Get,
        "/api/v1/orders",
        "S4-03: list tracked orders",
    ),
    (
        "orders",
        HttpMethod::Get,
        "/api/v1/orders/{order_id}/status",
        "S4-03: an order's saga status and events",
    ),
    (
        "orders-standalone",
        HttpMethod::Post,
        "/orders",
        "S4-01 (seed path, `edalab serve orders`): create an order (201)",
    ),
    (
        "orders-standalone",
        HttpMethod::Get,
        "/orders",
        "S4-03 (seed path): list tracked orders",
    ),
    (
        "orders-standalone",
        HttpMethod::Get,
        "/orders/{order_id}/status",
        "S4-03 (seed path): an order's saga status and events",
    ),
];

/// One pipeline's router as a gateway mount named `name`, documented with its rows of
/// [`ROUTES`].
pub fn mount_one(name: &str, router: axum::Router) -> Mount {
    let mut paths = PathsBuilder::new();
    for (_, method, path, summary) in ROUTES.iter().filter(|(owner, ..)| *owner == name) {
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
    Mount::from_parts(name, router, doc)
}
