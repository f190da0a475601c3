//! The S0 routes: `POST /api/v1/transactions` (S0-01: 202 `{message, transactionId,
//! status: "PENDING"}`, 400 `{error, details}`), `GET /api/v1/transactions/{id}`,
//! `GET /api/v1/transactions/analytics`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::Utc;
use edalab_bus::Record;
use edalab_domain::events::topics;
use edalab_domain::events::transactions::{PendingStatus, QueuedTransaction};
use edalab_domain::transaction::{SubmittedTransaction, TransactionRef};
use serde_json::json;

use super::store::TransactionView;
use super::{Counters, TransactionsState};
use crate::pipeline::ApiError;

/// The S0 routes, with their full `/api/v1/...` paths.
pub fn router(state: TransactionsState) -> Router {
    Router::new()
        .route("/api/v1/transactions", post(submit))
        .route("/api/v1/transactions/analytics", get(analytics))
        .route("/api/v1/transactions/{id}", get(show))
        .with_state(state)
}

async fn submit(
    State(state): State<TransactionsState>,
    body: Bytes,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    submit_transaction(&state, &body).await
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
    let now = Utc::now();
    let suffix: String = uuid::Uuid::new_v4()
        .simple()
        .to_string()
        .chars()
        .take(9)
        .collect();
    let queued = QueuedTransaction {
        transaction_id: TransactionRef::new(now, &suffix).as_str().to_owned(),
        amount: submitted.amount().amount(),
        currency: submitted.currency().as_str().to_owned(),
        account_from: submitted.account_from().as_str().to_owned(),
        account_to: submitted.account_to().as_str().to_owned(),
        timestamp: now,
        status: PendingStatus::Pending,
    };
    let value = serde_json::to_vec(&queued).map_err(ApiError::unavailable)?;
    state
        .store
        .insert_pending(&queued)
        .map_err(ApiError::unavailable)?;
    let record = Record::new(Some(queued.transaction_id.clone().into_bytes()), value)
        .with_header(edalab_bus::port::headers::CONTENT_TYPE, "application/json");
    state
        .bus
        .produce(topics::TRANSACTIONS_QUEUE, vec![record])
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

async fn show(
    State(state): State<TransactionsState>,
    Path(id): Path<String>,
) -> Result<Json<TransactionView>, ApiError> {
    state
        .store
        .get(&id)
        .map_err(ApiError::unavailable)?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("transaction", &id))
}

/// `{"totals": [{currency, count, total}], ...counters}`: the S0-05 analytics.
async fn analytics(
    State(state): State<TransactionsState>,
) -> Result<Json<serde_json::Value>, ApiError> {
    use std::sync::atomic::Ordering::Relaxed;
    let totals = state.store.totals().map_err(ApiError::unavailable)?;
    let c = &state.counters;
    Ok(Json(json!({
        "totals": totals,
        "submitted": c.submitted_total.load(Relaxed),
        "processed": c.processed_total.load(Relaxed),
        "fraudAlerts": c.fraud_alerts_total.load(Relaxed),
        "deadLettered": c.dead_lettered_total.load(Relaxed),
    })))
}
