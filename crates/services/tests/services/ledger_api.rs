//! The ledger's REST API (S3-10) on both stores, through `tower::ServiceExt::oneshot`;
//! and the handler's `Retry` when the store is down.

use crate::ledger_support;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use edalab_bus::runtime::{BatchHandler, Outcome};
use edalab_domain::Money;
use edalab_domain::ledger::{AccountId, ClientId, LedgerTransaction};
use edalab_services::ledger::{LedgerHandler, router};
use edalab_store::{
    AccountTotals, AppliedBatch, DecidedEvent, LedgerCounts, LedgerStore, LoadedAccounts,
    PendingOutbox, Position, StoreError, StoredAccount, TransactionLimit, TransactionSum,
};
use http_body_util::BodyExt;
use ledger_support::*;
use serde_json::Value;
use tower::ServiceExt;
use uuid::Uuid;

async fn get(app: &axum::Router, uri: &str) -> (StatusCode, Value) {
    let response = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn seeded(store: Arc<dyn LedgerStore>) -> axum::Router {
    let catalog = catalog();
    let handler = LedgerHandler::new(Arc::clone(&store), Arc::clone(&catalog));
    let events = vec![
        open("CPT-1", "CLI-1", "1234.56"),
        open("CPT-2", "CLI-1", "0"),
        deposit("CPT-1", "0.44"),
        transfer("CPT-1", "CPT-2", "35.00"),
    ];
    let outcomes = handler.handle(&messages(&catalog, &events)).await;
    assert!(outcomes.iter().all(|o| *o == Outcome::Done), "{outcomes:?}");
    router(store)
}

async fn health_reports_the_store(store: Arc<dyn LedgerStore>) {
    let backend = store.backend_name();
    let app = router(store);
    let (status, body) = get(&app, "/api/v1/health").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "healthy");
    assert_eq!(body["store"], backend);
    assert_eq!(body["bus"], "embedded");
    assert_eq!(body["kafka"], "not_used");
    let expected_postgres = if backend == "postgres" {
        "connected"
    } else {
        "not_used"
    };
    assert_eq!(body["postgres"], expected_postgres);
}

async fn account_body(store: Arc<dyn LedgerStore>) {
    let app = seeded(store).await;
    let (status, body) = get(&app, "/api/v1/comptes/CPT-1").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["id"], "CPT-1");
    assert_eq!(body["client_id"], "CLI-1");
    assert_eq!(body["type_compte"], "COURANT");
    assert_eq!(body["devise"], "EUR");
    assert_eq!(body["solde"], "1200.00", "money as a decimal string");
    assert_eq!(body["statut"], "ACTIF");
    assert!(body["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(body["iban"].as_str().unwrap().starts_with("FR76"));
    let (status, body) = get(&app, "/api/v1/comptes/NOPE").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
    assert!(body["error"].as_str().unwrap().contains("NOPE"));
    assert!(body.get("details").is_some());
    // A text that breaks the id rule names nothing: 400 naming the parameter (ADR 019).
    for bad in ["CPT%00", "CPT%E2%80%AE1", &"C".repeat(129)] {
        let (status, body) = get(&app, &format!("/api/v1/comptes/{bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {body}");
        assert_eq!(body["details"][0]["field"], "id", "{bad}");
    }
    let (status, body) = get(&app, "/api/v1/clients/CLI%0A1/comptes").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["details"][0]["field"], "client_id");
}

async fn transactions_body_and_limit(store: Arc<dyn LedgerStore>) {
    let app = seeded(store).await;
    let (status, body) = get(&app, "/api/v1/comptes/CPT-1/transactions").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let txs = body["transactions"].as_array().unwrap();
    assert_eq!(txs.len(), 3);
    assert_eq!(txs[0]["type"], "VIREMENT_SORTANT", "newest first");
    assert_eq!(txs[0]["montant"], "35.00");
    assert!(txs[0]["reference"].as_str().unwrap().starts_with("VIR-"));
    assert!(Uuid::parse_str(txs[0]["id"].as_str().unwrap()).is_ok());
    assert!(txs[0]["created_at"].is_string());
    assert_eq!(txs[2]["montant"], "1234.56");
    let (status, body) = get(&app, "/api/v1/comptes/CPT-1/transactions?limit=1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["transactions"].as_array().unwrap().len(), 1);
    let (status, _) = get(&app, "/api/v1/comptes/CPT-1/transactions?limit=1000").await;
    assert_eq!(status, StatusCode::OK);
    for bad in ["0", "1001", "2147483648", "-1", "ten", ""] {
        let (status, body) = get(
            &app,
            &format!("/api/v1/comptes/CPT-1/transactions?limit={bad}"),
        )
        .await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "limit={bad}");
        assert_eq!(body["code"], "validation_failed");
        assert!(body["error"].as_str().unwrap().contains("limit"));
        assert_eq!(body["details"][0]["field"], "limit");
    }
    let (status, body) = get(&app, "/api/v1/comptes/NOPE/transactions").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
}

async fn client_accounts(store: Arc<dyn LedgerStore>) {
    let app = seeded(store).await;
    let (status, body) = get(&app, "/api/v1/clients/CLI-1/comptes").await;
    assert_eq!(status, StatusCode::OK);
    let comptes = body["comptes"].as_array().unwrap();
    let ids: Vec<&str> = comptes.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec!["CPT-1", "CPT-2"]);
    assert_eq!(comptes[1]["solde"], "35.00");
    let (status, body) = get(&app, "/api/v1/clients/CLI-NOPE/comptes").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "not_found");
}

ledger_suite!(
    health_reports_the_store,
    account_body,
    transactions_body_and_limit,
    client_accounts,
);

/// A store that is down: every call fails with `Unavailable`.
struct DownStore;

fn down<T>() -> Result<T, StoreError> {
    Err(StoreError::Unavailable("connection refused".to_owned()))
}

#[async_trait]
impl LedgerStore for DownStore {
    fn backend_name(&self) -> &'static str {
        "postgres"
    }
    async fn apply_batch(&self, _: AppliedBatch) -> Result<(), StoreError> {
        down()
    }
    async fn applied_event_ids(&self, _: &[Uuid]) -> Result<HashSet<Uuid>, StoreError> {
        down()
    }
    async fn load_accounts(&self, _: &[AccountId]) -> Result<LoadedAccounts, StoreError> {
        down()
    }
    async fn account(&self, _: &AccountId) -> Result<Option<StoredAccount>, StoreError> {
        down()
    }
    async fn transactions(
        &self,
        _: &AccountId,
        _: TransactionLimit,
    ) -> Result<Vec<LedgerTransaction>, StoreError> {
        down()
    }
    async fn accounts_of_client(&self, _: &ClientId) -> Result<Vec<StoredAccount>, StoreError> {
        down()
    }
    async fn all_balances(&self) -> Result<BTreeMap<AccountId, Money>, StoreError> {
        down()
    }
    async fn recompute_balances_from_transactions(
        &self,
    ) -> Result<BTreeMap<AccountId, AccountTotals>, StoreError> {
        down()
    }
    async fn positions(&self, _: &str) -> Result<Vec<Position>, StoreError> {
        down()
    }
    async fn pending_outbox(&self, _: u32) -> Result<Vec<PendingOutbox>, StoreError> {
        down()
    }
    async fn delete_outbox(&self, _: &[i64]) -> Result<(), StoreError> {
        down()
    }
    async fn counts(&self) -> Result<LedgerCounts, StoreError> {
        down()
    }
    async fn decided_events(&self) -> Result<Vec<DecidedEvent>, StoreError> {
        down()
    }
    async fn transaction_sums(&self) -> Result<Vec<TransactionSum>, StoreError> {
        down()
    }
    async fn health(&self) -> Result<(), StoreError> {
        down()
    }
}

#[tokio::test]
async fn a_store_outage_is_retried_and_unhealthy() {
    let catalog = catalog();
    let handler = LedgerHandler::new(Arc::new(DownStore), Arc::clone(&catalog));
    let mut batch = messages(&catalog, &[open("A", "C", "1.00"), deposit("A", "1.00")]);
    batch[1].value = vec![1, 2, 3];
    let outcomes = handler.handle(&batch).await;
    assert!(
        matches!(&outcomes[0], Outcome::Retry(reason) if reason.contains("unavailable")),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[1], Outcome::Reject(_)),
        "poison is rejected even when the store is down"
    );
    assert_eq!(handler.counters().snapshot().retried_batches_total, 1);

    let app = router(Arc::new(DownStore));
    let (status, body) = get(&app, "/api/v1/health").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["status"], "unhealthy");
    assert_eq!(body["postgres"], "disconnected");
    let (status, body) = get(&app, "/api/v1/comptes/A").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["code"], "service_unavailable");
}

#[tokio::test]
async fn postgres_going_away_is_retried() {
    let Some(url) = edalab_store::testing::postgres_url_or_skip("postgres_going_away_is_retried")
    else {
        return;
    };
    let db = edalab_store::testing::TestDatabase::create(&url)
        .await
        .unwrap();
    let store = db.store().await.unwrap();
    store.close().await;
    let catalog = catalog();
    let handler = LedgerHandler::new(Arc::new(store), Arc::clone(&catalog));
    let outcomes = handler
        .handle(&messages(&catalog, &[open("A", "C", "1.00")]))
        .await;
    assert!(matches!(outcomes[0], Outcome::Retry(_)), "{outcomes:?}");
}
