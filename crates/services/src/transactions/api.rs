//! The S0 routes: `POST /api/v1/transactions` (S0-01: 202 `{message, transactionId,
//! status: "PENDING"}`, 400 `{error, details}`), `GET /api/v1/transactions/{id}`,
//! `GET /api/v1/transactions/analytics`. Each handler carries its OpenAPI operation
//! (`#[utoipa::path]`); [`openapi_router`] makes the routes and the document from one list.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use edalab_bus::Record;
use edalab_domain::events::topics;
use edalab_domain::events::transactions::{PendingStatus, QueuedTransaction};
use edalab_domain::transaction::{SubmittedTransaction, TransactionRef};
use edalab_domain::validation::ID_CHARS_MAX;
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::store::{CurrencyTotal, TransactionView};
use super::{Counters, TransactionsState};
use crate::pipeline::{ApiError, found, path_id};

/// The S0 routes with their full `/api/v1/...` paths and their OpenAPI operations.
pub fn openapi_router(state: TransactionsState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(submit))
        .routes(routes!(analytics))
        .routes(routes!(show))
        .with_state(state)
}

/// The seed's own path (S0-01: the API Gateway stage's `POST /transactions`), the same
/// handler as `POST /api/v1/transactions`, so the seed's `curl` works unchanged.
pub fn seed_openapi_router(state: TransactionsState) -> OpenApiRouter {
    let mut api = OpenApiRouter::<TransactionsState>::new()
        .routes(routes!(submit))
        .into_openapi();
    // The same operation documented at the seed's path, under its own operation id.
    let mut at_seed_path = utoipa::openapi::OpenApi::default();
    for (_, mut item) in std::mem::take(&mut api.paths.paths) {
        if let Some(operation) = item.post.as_mut() {
            operation.operation_id = Some("submit_transaction_at_seed_path".to_owned());
        }
        at_seed_path.paths.paths.insert(SEED_PATH.to_owned(), item);
    }
    OpenApiRouter::with_openapi(at_seed_path)
        .route(SEED_PATH, axum::routing::post(submit))
        .with_state(state)
}

/// S0-01's path: the API Gateway stage's `POST /transactions`.
const SEED_PATH: &str = "/transactions";

/// The S0 routes alone.
pub fn router(state: TransactionsState) -> Router {
    openapi_router(state).split_for_parts().0
}

/// `POST /api/v1/transactions` body (S0-01). Read field by field, so a 400 names every
/// failing field; no other field is accepted.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: the body is parsed by `SubmittedTransaction`.
#[schema(rename_all = "camelCase")]
#[serde(deny_unknown_fields)] // documents `additionalProperties: false`
pub struct SubmitTransactionBody {
    /// A JSON number > 0 with at most 2 decimals, under 10^16.
    #[schema(
        example = 100.5,
        minimum = 0.01,
        exclusive_maximum = 10000000000000000.0
    )]
    amount: f64,
    /// ISO 4217 code, 3 upper-case letters.
    #[schema(example = "CAD", pattern = "^[A-Z]{3}$")]
    currency: String,
    /// Debited account: 1 to 128 characters, no control or bidirectional formatting
    /// character.
    #[schema(
        example = "ACC-12345",
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$"
    )]
    account_from: String,
    /// Credited account, same rules, and not `accountFrom`.
    #[schema(
        example = "ACC-67890",
        min_length = 1,
        max_length = 128,
        pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$"
    )]
    account_to: String,
}

/// 202 body of `POST /api/v1/transactions` (S0-01).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // documentation only: the handler writes this JSON.
#[schema(rename_all = "camelCase")]
pub struct SubmitAccepted {
    #[schema(example = "Transaction submitted successfully")]
    message: String,
    /// `txn-<unix millis>-<suffix>`.
    #[schema(example = "txn-1736251200000-k3j5h2l9x")]
    transaction_id: String,
    /// Always `PENDING`.
    #[schema(example = "PENDING")]
    status: String,
}

/// Submits a transaction (S0-01): validated, recorded `PENDING`, queued on `transactions`.
#[utoipa::path(
    post,
    path = "/api/v1/transactions",
    operation_id = "submit_transaction",
    tag = "transactions",
    request_body = SubmitTransactionBody,
    responses(
        (status = 202, description = "Queued, status PENDING", body = SubmitAccepted),
        (status = 400, description = "Missing body, bad JSON or invalid fields: `details` names each", body = edalab_http::ErrorBody),
        (status = 503, description = "The store or the bus refused", body = edalab_http::ErrorBody),
    )
)]
async fn submit(
    State(state): State<TransactionsState>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    submit_transaction(&state, &body).await
}

/// A validated transaction as queued: a new `txn-<millis>-<9 random>` id, `PENDING`, `now`.
pub(super) fn queued(submitted: &SubmittedTransaction, now: DateTime<Utc>) -> QueuedTransaction {
    let suffix: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(9)
        .collect();
    QueuedTransaction {
        transaction_id: TransactionRef::new(now, &suffix).as_str().to_owned(),
        amount: submitted.amount().amount(),
        currency: submitted.currency().as_str().to_owned(),
        account_from: submitted.account_from().as_str().to_owned(),
        account_to: submitted.account_to().as_str().to_owned(),
        timestamp: now,
        status: PendingStatus::Pending,
    }
}

/// What `POST /api/v1/transactions` does with a body (S0-01): validates it (400 naming each
/// field), records it PENDING, queues it on `transactions-queue`, and answers 202
/// `{message, transactionId, status: "PENDING"}`. The route and the simulator's in-process
/// sink both call it, so a simulated transaction takes exactly the path of a posted one.
pub async fn submit_transaction(
    state: &TransactionsState,
    body: &[u8],
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let submitted = SubmittedTransaction::parse_json(body)
        .map_err(|e| ApiError::validation("Validation failed", &e))?;
    let queued = queued(&submitted, state.clock.now());
    let value = serde_json::to_vec(&queued).map_err(ApiError::unavailable)?;
    state
        .store
        .insert_pending(&queued)
        .await
        .map_err(ApiError::unavailable)?;
    let record = Record::new(Some(queued.transaction_id.clone().into_bytes()), value)
        .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json");
    state
        .queues
        .send(topics::TRANSACTIONS_QUEUE, vec![record])
        .await
        .map_err(ApiError::unavailable)?;
    Counters::inc(&state.counters.submitted_total);
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "message": "Transaction submitted successfully",
            "transactionId": queued.transaction_id,
            "status": "PENDING",
        })),
    ))
}

/// A transaction's status: `PENDING`, then `PROCESSED` (with `processedAt`) or `FAILED`
/// (with the DLQ reason in `error`).
#[utoipa::path(
    get,
    path = "/api/v1/transactions/{id}",
    operation_id = "show_transaction",
    tag = "transactions",
    params(("id" = String, Path, min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$", description = "The `transactionId` answered by the submit")),
    responses(
        (status = 200, description = "The transaction", body = TransactionView),
        (status = 400, description = "`id` is not an id (control characters, over 128 characters)", body = edalab_http::ErrorBody),
        (status = 404, description = "No such transaction", body = edalab_http::ErrorBody),
        (status = 503, description = "The store failed", body = edalab_http::ErrorBody),
    )
)]
async fn show(
    State(state): State<TransactionsState>,
    Path(id): Path<String>,
) -> Result<Json<TransactionView>, ApiError> {
    let id = path_id("id", &id, ID_CHARS_MAX)?;
    found(state.store.get(id).await, "transaction", id).map(Json)
}

/// `GET /api/v1/transactions/analytics` body: the S0-05 running totals (each transaction
/// counted once) and this process's counters since start.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TransactionAnalytics {
    /// One entry per currency, by currency code.
    pub totals: Vec<CurrencyTotal>,
    /// Transactions accepted by the submit route.
    pub submitted: u64,
    /// Transactions the processor published to `transactions-events`.
    pub processed: u64,
    /// Alerts published to `fraud-alerts` (one per failed receive).
    pub fraud_alerts: u64,
    /// Transactions that reached `transactions-dlq`.
    pub dead_lettered: u64,
}

/// The S0-05 analytics: running totals per currency and the pipeline's counters.
#[utoipa::path(
    get,
    path = "/api/v1/transactions/analytics",
    operation_id = "transaction_analytics",
    tag = "transactions",
    responses(
        (status = 200, description = "Totals and counters", body = TransactionAnalytics),
        (status = 503, description = "The store failed", body = edalab_http::ErrorBody),
    )
)]
async fn analytics(
    State(state): State<TransactionsState>,
) -> Result<Json<TransactionAnalytics>, ApiError> {
    use std::sync::atomic::Ordering::Relaxed;
    let totals = state.store.totals().await.map_err(ApiError::unavailable)?;
    let c = &state.counters;
    Ok(Json(TransactionAnalytics {
        totals,
        submitted: c.submitted_total.load(Relaxed),
        processed: c.processed_total.load(Relaxed),
        fraud_alerts: c.fraud_alerts_total.load(Relaxed),
        dead_lettered: c.dead_lettered_total.load(Relaxed),
    }))
}
