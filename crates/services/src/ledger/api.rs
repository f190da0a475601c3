//! The ledger's REST API (S3-10), an axum [`Router`] over a [`LedgerStore`]:
//!
//! - `GET /api/v1/health` → `{status, kafka, postgres, bus, store}`; 503 when the store
//!   does not answer;
//! - `GET /api/v1/comptes/{id}` → `{id, client_id, type_compte, devise, solde, statut,
//!   created_at, iban?}`;
//! - `GET /api/v1/comptes/{id}/transactions?limit=10` → `{transactions: [{id, type,
//!   montant, reference, created_at}]}`, newest first, `limit` in `1..=1000`;
//! - `GET /api/v1/clients/{client_id}/comptes` → `{comptes: [...]}`.
//!
//! Errors are JSON `{error, code, details}`; money is a decimal string (`"1234.56"`).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, SecondsFormat, Utc};
use edalab_domain::ledger::{AccountId, ClientId, LedgerTransaction};
use edalab_domain::validation::{ID_CHARS_MAX, check_id, parse_limit};
use edalab_store::{LedgerStore, StoreError, StoredAccount, TransactionLimit};
use serde::Serialize;
use serde_json::json;

/// What the API serves and reports.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn LedgerStore>,
    /// The bus backend in use (`embedded`, `kafka`, `sqs`), for health.
    pub bus_backend: &'static str,
}

/// The router with the `embedded` bus reported.
pub fn router(store: Arc<dyn LedgerStore>) -> Router {
    router_with(ApiState {
        store,
        bus_backend: "embedded",
    })
}

pub fn router_with(state: ApiState) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .with_state(state.clone())
        .merge(query_routes("/api/v1", state))
}

/// The query routes only (no health), under `prefix` (`/api/v1`, or `/api/v1/bancaire`
/// for S3-11's service prefix): what a gateway that owns `/api/v1/health` mounts.
pub fn query_routes(prefix: &str, state: ApiState) -> Router {
    Router::new()
        .route(&format!("{prefix}/comptes/{{id}}"), get(account))
        .route(
            &format!("{prefix}/comptes/{{id}}/transactions"),
            get(transactions),
        )
        .route(
            &format!("{prefix}/clients/{{client_id}}/comptes"),
            get(accounts_of_client),
        )
        .with_state(state)
}

/// The paths of [`query_routes`] under `prefix`, in OpenAPI form (for a gateway's
/// document): `(path, operation, path parameter, summary)`; the operation is the handler's
/// name, to which the mount adds what makes it unique across prefixes.
pub fn query_paths(prefix: &str) -> [(String, &'static str, &'static str, &'static str); 3] {
    [
        (
            format!("{prefix}/comptes/{{id}}"),
            "show_account",
            "id",
            "An account: balance (decimal string), status, currency",
        ),
        (
            format!("{prefix}/comptes/{{id}}/transactions"),
            "account_transactions",
            "id",
            "An account's transactions, newest first (`limit` 1..=1000, default 10)",
        ),
        (
            format!("{prefix}/clients/{{client_id}}/comptes"),
            "client_accounts",
            "client_id",
            "A client's accounts",
        ),
    ]
}

/// A JSON error: `{error, code, details}` with a stable `code`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: serde_json::Value,
}

impl ApiError {
    fn not_found(what: &str, id: &str) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            code: "NOT_FOUND",
            message: format!("{what} {id} not found"),
            details: json!({ "id": id }),
        }
    }

    fn bad_parameter(field: &str, message: String) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            code: "INVALID_PARAMETER",
            message: format!("invalid parameter `{field}`: {message}"),
            details: json!([{ "field": field, "message": message }]),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        let (status, code) = if error.is_transient() {
            (StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE")
        } else {
            (StatusCode::INTERNAL_SERVER_ERROR, "STORE_ERROR")
        };
        Self {
            status,
            code,
            message: error.to_string(),
            details: json!({}),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = json!({ "error": self.message, "code": self.code, "details": self.details });
        (self.status, Json(body)).into_response()
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Serialize)]
struct AccountBody {
    id: String,
    client_id: String,
    type_compte: &'static str,
    devise: &'static str,
    solde: String,
    statut: &'static str,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    iban: Option<String>,
}

impl From<StoredAccount> for AccountBody {
    fn from(stored: StoredAccount) -> Self {
        let a = &stored.account;
        Self {
            id: a.id().to_string(),
            client_id: a.client_id().to_string(),
            type_compte: a.account_type().as_wire(),
            devise: a.currency().as_str(),
            solde: a.balance().amount().to_string(),
            statut: a.status().as_wire(),
            created_at: timestamp(a.created_at()),
            updated_at: timestamp(a.updated_at()),
            iban: stored.iban,
        }
    }
}

#[derive(Serialize)]
struct TransactionBody {
    id: String,
    #[serde(rename = "type")]
    kind: &'static str,
    montant: String,
    devise: &'static str,
    reference: Option<String>,
    created_at: String,
}

impl From<LedgerTransaction> for TransactionBody {
    fn from(t: LedgerTransaction) -> Self {
        Self {
            id: t.id().to_string(),
            kind: t.kind().as_wire(),
            montant: t.amount().amount().to_string(),
            devise: t.amount().currency().as_str(),
            reference: t.reference().map(|r| r.to_string()),
            created_at: timestamp(t.created_at()),
        }
    }
}

async fn health(State(state): State<ApiState>) -> Response {
    let store = state.store.backend_name();
    let store_ok = state.store.health().await.is_ok();
    let store_status = if store_ok {
        "connected"
    } else {
        "disconnected"
    };
    let uses = |used: bool, status: &'static str| if used { status } else { "not_used" };
    let body = json!({
        "status": if store_ok { "healthy" } else { "unhealthy" },
        "kafka": uses(state.bus_backend == "kafka", "connected"),
        "postgres": uses(store == "postgres", store_status),
        "bus": state.bus_backend,
        "store": store,
        "store_status": store_status,
    });
    let status = if store_ok {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

/// A path id: a text that breaks the id rule (control characters, over 128 characters) is
/// a 400 naming `parameter`; a valid id too long for the column is simply not found.
fn path_id(parameter: &str, id: &str) -> Result<(), ApiError> {
    check_id(id, ID_CHARS_MAX).map_err(|message| ApiError::bad_parameter(parameter, message))
}

fn account_id(id: &str) -> Result<AccountId, ApiError> {
    path_id("id", id)?;
    // An id the domain cannot hold cannot name a stored account.
    AccountId::parse(id).map_err(|_| ApiError::not_found("account", id))
}

async fn account(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<AccountBody>, ApiError> {
    let stored = state
        .store
        .account(&account_id(&id)?)
        .await?
        .ok_or_else(|| ApiError::not_found("account", &id))?;
    Ok(Json(stored.into()))
}

async fn transactions(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let default = u32::from(TransactionLimit::default().get());
    let limit = parse_limit(query.get("limit").map(String::as_str), default)
        .and_then(|limit| TransactionLimit::parse(i64::from(limit)))
        .map_err(|message| ApiError::bad_parameter("limit", message))?;
    let account_id = account_id(&id)?;
    if state.store.account(&account_id).await?.is_none() {
        return Err(ApiError::not_found("account", &id));
    }
    let transactions: Vec<TransactionBody> = state
        .store
        .transactions(&account_id, limit)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(json!({ "transactions": transactions })))
}

async fn accounts_of_client(
    State(state): State<ApiState>,
    Path(client_id): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    path_id("client_id", &client_id)?;
    let client = ClientId::parse(client_id.clone())
        .map_err(|_| ApiError::not_found("client", &client_id))?;
    let comptes: Vec<AccountBody> = state
        .store
        .accounts_of_client(&client)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    if comptes.is_empty() {
        // A client is known to the ledger only through its accounts.
        return Err(ApiError::not_found("client", &client_id));
    }
    Ok(Json(json!({ "comptes": comptes })))
}
