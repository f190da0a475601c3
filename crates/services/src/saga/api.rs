//! The saga's routes. Seed paths when a service runs standalone ([`standalone_router`]:
//! `POST /orders`, `GET /orders`, `GET /orders/{orderId}/status`), the same under
//! `/api/v1` through the gateway ([`router`], [`openapi_router`]). Each handler carries its
//! OpenAPI operation at the seed's path; the gateway's document nests them under `/api/v1`.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use edalab_bus::Record;
use edalab_domain::events::saga::{CreatedStatus, OrderCreated, SagaEvent};
use edalab_domain::saga::OrderRequest;
use edalab_domain::validation::{ID_CHARS_MAX, ValidationErrors, parse_limit};
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::tracking::fold;
use super::{SagaState, inc};
use crate::pipeline::{ApiError, json_body, path_id};

/// Orders `GET /orders` lists without a `limit`.
const LIST_LIMIT_DEFAULT: u32 = 100;

/// The gateway's prefix of the saga's routes.
pub const API_PREFIX: &str = "/api/v1";

/// Routes under `/api/v1` (for the gateway).
pub fn router(state: SagaState) -> Router {
    openapi_router(state).split_for_parts().0
}

/// Routes and OpenAPI operations under `/api/v1` (for the gateway's mount).
pub fn openapi_router(state: SagaState) -> OpenApiRouter {
    OpenApiRouter::new()
        .nest(API_PREFIX, routes())
        .with_state(state)
}

/// The seed's paths, for `edalab serve orders`.
pub fn standalone_router(state: SagaState) -> Router {
    standalone_openapi_router(state).split_for_parts().0
}

/// The seed's paths with their OpenAPI operations (a standalone service's document).
pub fn standalone_openapi_router(state: SagaState) -> OpenApiRouter {
    crate::pipeline::at_seed_path(routes()).with_state(state)
}

/// The routes at the seed's paths: the one list both routers are made from.
fn routes() -> OpenApiRouter<SagaState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(status))
}

/// `POST /orders` body (S4-01). Read field by field, so a 400 names every failing field;
/// no other field is accepted.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: parsed by `OrderRequest::parse`.
#[schema(rename_all = "camelCase")]
#[serde(deny_unknown_fields)] // documents `additionalProperties: false`
pub struct CreateOrderBody {
    /// 1 to 128 characters, no control or bidirectional formatting character.
    #[schema(
        example = "user-42",
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$"
    )]
    user_id: String,
    /// A JSON number > 0 with at most 2 decimals, under 10^16.
    #[schema(
        example = 99.99,
        minimum = 0.01,
        exclusive_maximum = 10000000000000000.0
    )]
    amount: f64,
    #[schema(schema_with = item_names)]
    items: Vec<String>,
}

/// `items`' schema: 1 to 100 strings, each under the id rule (`edalab_http::ID_PATTERN`,
/// 1 to 128 characters).
fn item_names() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, SchemaType, Type};
    let item = ObjectBuilder::new()
        .schema_type(SchemaType::Type(Type::String))
        .min_length(Some(1))
        .max_length(Some(128))
        .pattern(Some(edalab_http::ID_PATTERN));
    ArrayBuilder::new()
        .items(item)
        .min_items(Some(1))
        .max_items(Some(100))
        .examples([serde_json::json!(["laptop", "mouse"])])
        .description(Some(
            "1 to 100 item names, each under the same rule as `userId`.",
        ))
        .build()
}

/// 201 body of `POST /orders` (S4-01).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: the handler writes this JSON.
#[schema(rename_all = "camelCase")]
pub struct OrderCreatedBody {
    /// UUID of the new order.
    order_id: String,
    /// UUID of its `OrderCreated` event on `orders.created`.
    event_id: String,
    /// Always `created`.
    #[schema(example = "created")]
    status: String,
    #[schema(example = "Order created successfully")]
    message: String,
}

/// The tracking view of an order (S4-03): folded from its saga events.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: `edalab_domain::saga::OrderTracking` is serialized.
#[schema(rename_all = "camelCase")]
pub struct OrderTrackingBody {
    order_id: String,
    /// `CREATED`, `PAYMENT_AUTHORIZED` or `PAYMENT_REJECTED`.
    #[schema(example = "PAYMENT_AUTHORIZED")]
    status: String,
    details: OrderTrackingDetails,
    /// Every event applied, in order.
    events: Vec<OrderTrackingEvent>,
    /// RFC 3339 with milliseconds, UTC.
    #[schema(example = "2026-01-07T10:00:00.120Z")]
    last_updated: String,
}

/// `details` of the tracking view; fields not known yet are omitted.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only.
#[schema(rename_all = "camelCase")]
pub struct OrderTrackingDetails {
    user_id: Option<String>,
    /// JSON number.
    amount: Option<f64>,
    items: Option<Vec<String>>,
    created_at: Option<String>,
    /// `AUTHORIZED` or `REJECTED`.
    payment_status: Option<String>,
    authorization_code: Option<String>,
    authorized_at: Option<String>,
    /// E.g. `Insufficient funds`.
    rejection_reason: Option<String>,
    rejected_at: Option<String>,
}

/// `events[]` entry of the tracking view.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only.
pub struct OrderTrackingEvent {
    /// `OrderCreated`, `PaymentAuthorized` or `PaymentRejected`.
    #[schema(rename = "type", example = "OrderCreated")]
    kind: String,
    timestamp: String,
}

/// `GET /orders` body.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: the handler writes this JSON.
pub struct OrderListBody {
    /// How many orders are listed.
    count: usize,
    /// Newest first.
    orders: Vec<OrderTrackingBody>,
}

/// Creates an order (S4-01): publishes `OrderCreated` to `orders.created`; the payment and
/// tracking services take it from there.
#[utoipa::path(
    post,
    path = "/orders",
    operation_id = "create_order",
    tag = "orders",
    request_body = CreateOrderBody,
    responses(
        (status = 201, description = "Created; the saga runs asynchronously", body = OrderCreatedBody),
        (status = 400, description = "Missing body, bad JSON or invalid fields: `details` names each", body = edalab_http::ErrorBody),
        (status = 503, description = "The bus refused", body = edalab_http::ErrorBody),
    )
)]
async fn create(
    State(state): State<SagaState>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    create_order(&state, &body).await
}

/// What `POST /api/v1/orders` does with a body (S4-01): validates it (400 naming each
/// field), publishes `OrderCreated` and answers 201 `{orderId, eventId, status: "created",
/// message}`. The route and the simulator's in-process sink both call it, so a simulated
/// order takes exactly the path of a posted one.
pub async fn create_order(
    state: &SagaState,
    body: &[u8],
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    const ERROR: &str = "Invalid order";
    let value = json_body(body, ERROR)?;
    let request = OrderRequest::parse(&value).map_err(|e| ApiError::validation(ERROR, &e))?;
    let event = SagaEvent::OrderCreated(OrderCreated {
        event_id: uuid::Uuid::new_v4().to_string(),
        order_id: uuid::Uuid::new_v4().to_string(),
        user_id: request.user_id().as_str().to_owned(),
        amount: request.amount(),
        items: request.items().to_vec(),
        status: CreatedStatus::Created,
        created_at: state.clock.now(),
    });
    let payload = event.to_json().map_err(ApiError::unavailable)?;
    let record = Record::new(Some(event.key().as_bytes().to_vec()), payload)
        .with_header(
            edalab_bus::port::headers::EVENT_ID,
            event.event_id().as_bytes(),
        )
        .with_header(edalab_bus::port::headers::EVENT_TYPE, event.event_type())
        .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json");
    state
        .bus
        .produce(event.topic(), vec![record])
        .await
        .map_err(ApiError::unavailable)?;
    inc(&state.counters.orders_created_total);
    Ok((
        StatusCode::CREATED,
        Json(json!({
            "orderId": event.key(),
            "eventId": event.event_id(),
            "status": "created",
            "message": "Order created successfully",
        })),
    ))
}

/// An order's saga status and event history (S4-03).
#[utoipa::path(
    get,
    path = "/orders/{order_id}/status",
    operation_id = "order_status",
    tag = "orders",
    params(("order_id" = String, Path, min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$", description = "The `orderId` answered by the create")),
    responses(
        (status = 200, description = "The tracking view", body = OrderTrackingBody),
        (status = 400, description = "`order_id` is not an id (control characters, over 128 characters)", body = edalab_http::ErrorBody),
        (status = 404, description = "No event of this order was tracked", body = edalab_http::ErrorBody),
        (status = 503, description = "The store failed", body = edalab_http::ErrorBody),
    )
)]
async fn status(
    State(state): State<SagaState>,
    Path(order_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let order_id = path_id("order_id", &order_id, ID_CHARS_MAX)?;
    let rows = state
        .store
        .events_of(order_id)
        .await
        .map_err(ApiError::unavailable)?;
    let view = fold(&rows).ok_or_else(|| ApiError::no_such("order", order_id))?;
    Ok(Json(
        serde_json::to_value(view).map_err(ApiError::unavailable)?,
    ))
}

/// `{"orders": [status view...], "count"}`, newest first (S4-03).
#[utoipa::path(
    get,
    path = "/orders",
    operation_id = "list_orders",
    tag = "orders",
    params(("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "Most orders listed, 1..=1000 [default: 100]")),
    responses(
        (status = 200, description = "The tracked orders, newest first", body = OrderListBody),
        (status = 400, description = "`limit` is not an integer within 1..=1000", body = edalab_http::ErrorBody),
        (status = 503, description = "The store failed", body = edalab_http::ErrorBody),
    )
)]
async fn list(
    State(state): State<SagaState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    // The query is read as text so that a bad `limit` is a JSON 400 naming it.
    let limit = parse_limit(query.get("limit").map(String::as_str), LIST_LIMIT_DEFAULT).map_err(
        |message| {
            ApiError::validation("Invalid query", &ValidationErrors::single("limit", message))
        },
    )?;
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let ids = state
        .store
        .order_ids(limit)
        .await
        .map_err(ApiError::unavailable)?;
    let mut orders = Vec::with_capacity(ids.len());
    for id in ids {
        let rows = state
            .store
            .events_of(&id)
            .await
            .map_err(ApiError::unavailable)?;
        if let Some(view) = fold(&rows) {
            orders.push(view);
        }
    }
    Ok(Json(json!({"count": orders.len(), "orders": orders})))
}
