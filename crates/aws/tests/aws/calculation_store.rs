//! S1's DynamoDB store on ministack: `PENDING` once, finished once (a later `complete` or
//! `fail` leaves it as it is), numbers kept exactly.

use edalab_aws::dynamo::DynamoCalculationStore;
use edalab_aws::testing::MiniStack;
use edalab_domain::calculator::{Number, Operation};
use edalab_services::calculator::{Calculation, CalculationStatus, CalculationStore};

fn pending(id: &str) -> Calculation {
    Calculation {
        id: id.to_owned(),
        operation: Operation::Divide,
        a: Number::Int(9_007_199_254_740_993),
        b: Number::Float(0.5),
        status: CalculationStatus::Pending,
        result: None,
        error: None,
    }
}

#[tokio::test]
async fn a_calculation_is_finished_once() {
    let Some(ministack) = MiniStack::start_or_skip("DynamoDB calculation store") else {
        return;
    };
    let client = aws_sdk_dynamodb::Client::new(&ministack.sdk_config());
    let store = DynamoCalculationStore::open(client.clone()).await.unwrap();
    DynamoCalculationStore::open(client).await.unwrap();

    assert_eq!(store.get("c-1").await.unwrap(), None);
    store.insert_pending(&pending("c-1")).await.unwrap();
    assert!(
        store.insert_pending(&pending("c-1")).await.is_err(),
        "an id is inserted once"
    );
    assert_eq!(store.get("c-1").await.unwrap(), Some(pending("c-1")));

    store.complete("c-1", Number::Int(42)).await.unwrap();
    store.fail("c-1", "too late").await.unwrap();
    store.complete("c-1", Number::Int(7)).await.unwrap();
    let done = store.get("c-1").await.unwrap().unwrap();
    assert_eq!(done.status, CalculationStatus::Completed);
    assert_eq!(done.result, Some(Number::Int(42)));
    assert_eq!(done.error, None);
    assert_eq!(done.a, Number::Int(9_007_199_254_740_993), "kept exactly");

    store.insert_pending(&pending("c-2")).await.unwrap();
    store
        .fail("c-2", "DIVISION_BY_ZERO: division by zero")
        .await
        .unwrap();
    store.complete("c-2", Number::Int(1)).await.unwrap();
    let failed = store.get("c-2").await.unwrap().unwrap();
    assert_eq!(failed.status, CalculationStatus::Failed);
    assert_eq!(
        failed.error.as_deref(),
        Some("DIVISION_BY_ZERO: division by zero")
    );
    assert_eq!(failed.result, None);
}
