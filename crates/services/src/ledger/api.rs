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
use edalab_domain::validation::{ID_CHARS_MAX, parse_limit};
use edalab_http::{ApiError, ErrorBody};
use edalab_store::{LedgerStore, StoreError, StoredAccount, TransactionLimit};
use serde::Serialize;
use serde_json::json;
use utoipa::{OpenApi, ToSchema};

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

#[derive(OpenApi)]
#[openapi(paths(account, transactions, accounts_of_client))]
struct QueryDoc;

/// The OpenAPI document of [`query_routes`] under `prefix` (for a gateway's document): the
/// operations are annotated under `/api/v1`; under another prefix each operation id gets
/// `id_suffix`, so that a document holding both copies names every operation once.
pub fn query_doc(prefix: &str, id_suffix: &str) -> utoipa::openapi::OpenApi {
    let mut doc = QueryDoc::openapi();
    let paths = std::mem::take(&mut doc.paths.paths);
    for (path, mut item) in paths {
        if let Some(id) = item.get.as_mut().and_then(|o| o.operation_id.as_mut()) {
            id.push_str(id_suffix);
        }
        let path = path.replacen("/api/v1", prefix, 1);
        doc.paths.paths.insert(path, item);
    }
    doc
}

/// A store failure as an answer: 503 when it may pass, 500 otherwise.
fn store_error(error: StoreError) -> ApiError {
    if error.is_transient() {
        ApiError::unavailable(error)
    } else {
        ApiError::internal(error.to_string())
    }
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// An account as the API shows it.
#[derive(Serialize, ToSchema)]
pub struct AccountBody {
    id: String,
    client_id: String,
    type_compte: &'static str,
    devise: &'static str,
    solde: String,
    statut: &'static str,
    created_at: String,
    updated_at: String,
    /// Present when the account has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(required = false, nullable = false)]
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

/// One transaction of an account.
#[derive(Serialize, ToSchema)]
pub struct TransactionBody {
    id: String,
    #[serde(rename = "type")]
    #[schema(rename = "type")]
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
    edalab_http::path_id(parameter, id, ID_CHARS_MAX).map(|_| ())
}

fn account_id(id: &str) -> Result<AccountId, ApiError> {
    path_id("id", id)?;
    // An id the domain cannot hold cannot name a stored account.
    AccountId::parse(id).map_err(|_| ApiError::no_such("account", id))
}

/// An account's transactions, newest first.
#[derive(Serialize, ToSchema)]
pub struct AccountTransactions {
    transactions: Vec<TransactionBody>,
}

/// A client's accounts.
#[derive(Serialize, ToSchema)]
pub struct ClientAccounts {
    comptes: Vec<AccountBody>,
}

#[utoipa::path(
    get,
    path = "/api/v1/comptes/{id}",
    operation_id = "show_account",
    tag = "bancaire",
    summary = "An account: balance (decimal string), status, currency",
    params(("id" = String, Path, min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$", description = "The account's id")),
    responses(
        (status = 200, description = "The account", body = AccountBody),
        (status = 400, description = "`id` is not an id (control characters, over 128 characters)", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 503, description = "The store failed", body = ErrorBody),
    )
)]
async fn account(
    State(state): State<ApiState>,
    Path(id): Path<String>,
) -> Result<Json<AccountBody>, ApiError> {
    let stored = state
        .store
        .account(&account_id(&id)?)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ApiError::no_such("account", &id))?;
    Ok(Json(stored.into()))
}

#[utoipa::path(
    get,
    path = "/api/v1/comptes/{id}/transactions",
    operation_id = "account_transactions",
    tag = "bancaire",
    summary = "An account's transactions, newest first",
    params(
        ("id" = String, Path, min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$", description = "The account's id"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000, description = "How many, newest first (default 10)"),
    ),
    responses(
        (status = 200, description = "The transactions", body = AccountTransactions),
        (status = 400, description = "`id` is not an id, or `limit` is not within 1..=1000", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 503, description = "The store failed", body = ErrorBody),
    )
)]
async fn transactions(
    State(state): State<ApiState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<AccountTransactions>, ApiError> {
    let default = u32::from(TransactionLimit::default().get());
    let limit = parse_limit(query.get("limit").map(String::as_str), default)
        .and_then(|limit| TransactionLimit::parse(i64::from(limit)))
        .map_err(|message| ApiError::invalid("limit", message))?;
    let account_id = account_id(&id)?;
    if state
        .store
        .account(&account_id)
        .await
        .map_err(store_error)?
        .is_none()
    {
        return Err(ApiError::no_such("account", &id));
    }
    let transactions: Vec<TransactionBody> = state
        .store
        .transactions(&account_id, limit)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(Into::into)
        .collect();
    Ok(Json(AccountTransactions { transactions }))
}

#[utoipa::path(
    get,
    path = "/api/v1/clients/{client_id}/comptes",
    operation_id = "client_accounts",
    tag = "bancaire",
    summary = "A client's accounts",
    params(("client_id" = String, Path, min_length = 1, max_length = 128, pattern = r"^[^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*[^\s\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069][^\x00-\x1F\x7F-\x9F\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]*$", description = "The client's id")),
    responses(
        (status = 200, description = "The accounts", body = ClientAccounts),
        (status = 400, description = "`client_id` is not an id (control characters, over 128 characters)", body = ErrorBody),
        (status = 404, description = "No account of this client", body = ErrorBody),
        (status = 503, description = "The store failed", body = ErrorBody),
    )
)]
async fn accounts_of_client(
    State(state): State<ApiState>,
    Path(client_id): Path<String>,
) -> Result<Json<ClientAccounts>, ApiError> {
    path_id("client_id", &client_id)?;
    let client =
        ClientId::parse(client_id.clone()).map_err(|_| ApiError::no_such("client", &client_id))?;
    let comptes: Vec<AccountBody> = state
        .store
        .accounts_of_client(&client)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(Into::into)
        .collect();
    if comptes.is_empty() {
        // A client is known to the ledger only through its accounts.
        return Err(ApiError::no_such("client", &client_id));
    }
    Ok(Json(ClientAccounts { comptes }))
}
