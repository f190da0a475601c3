//! What this crate provides the process's assembly (`crates/edalab/src/profile.rs`), so that
//! the assembly chooses the `aws` profile in one call per port.

use std::time::Duration;

use edalab_services::intake::IntakeBackends;

use crate::SqsQueues;
use crate::cloudwatch::CloudWatchCounts;
use crate::dynamo::{
    DeadLetterReasons, DynamoCalculationStore, DynamoIntakeStore, DynamoTransactionStore,
};
use crate::s3_archive::S3TransactionArchive;
use crate::s3_intake::S3OrderSource;

/// Longest time the intake's resources may take to be checked or created at start.
const OPEN_TIMEOUT: Duration = Duration::from_secs(30);

/// S2 on AWS: order files from `s3://bucket/orders/` (through SQS), recorded in DynamoDB,
/// counted in CloudWatch under `namespace`. Creates what is missing; an existing resource of
/// another shape, or an endpoint that does not answer, is named.
pub async fn intake_backends(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
    namespace: &str,
) -> Result<IntakeBackends, String> {
    let opened = tokio::time::timeout(OPEN_TIMEOUT, async {
        let store = DynamoIntakeStore::open(aws_sdk_dynamodb::Client::new(sdk)).await?;
        let source =
            S3OrderSource::open(s3_client(sdk), SqsQueues::from_sdk_config(sdk), bucket).await?;
        Ok::<_, String>((store, source))
    })
    .await
    .map_err(|_| {
        format!(
            "S3, SQS and DynamoDB not ready within {} s",
            OPEN_TIMEOUT.as_secs()
        )
    })?;
    let (store, source) = opened?;
    let counts = CloudWatchCounts::new(aws_sdk_cloudwatch::Client::new(sdk), namespace);
    Ok(IntakeBackends {
        store: Some(std::sync::Arc::new(store)),
        source: Some(std::sync::Arc::new(source)),
        counts: Some(std::sync::Arc::new(counts)),
    })
}

/// S1's calculations in DynamoDB table `edalab-calculations` (created if missing; one of
/// another key is named).
pub async fn calculation_store(
    sdk: &aws_config::SdkConfig,
) -> Result<DynamoCalculationStore, String> {
    in_time(DynamoCalculationStore::open(aws_sdk_dynamodb::Client::new(
        sdk,
    )))
    .await
}

/// S0's transactions in the DynamoDB tables of [`crate::dynamo::transaction_tables`]
/// (created if missing; one of another key is named).
pub async fn transaction_store(
    sdk: &aws_config::SdkConfig,
) -> Result<DynamoTransactionStore, String> {
    in_time(DynamoTransactionStore::open(aws_sdk_dynamodb::Client::new(
        sdk,
    )))
    .await
}

/// SQS queues of `sdk` whose workers record why they dead-letter a message in DynamoDB
/// table `edalab-dead-letters` (created if missing).
pub async fn sqs_queues(sdk: &aws_config::SdkConfig) -> Result<SqsQueues, String> {
    Ok(SqsQueues::from_sdk_config(sdk).with_reasons(dead_letter_reasons(sdk).await?))
}

/// The dead letters' reasons in DynamoDB table `edalab-dead-letters` (created if missing).
pub async fn dead_letter_reasons(sdk: &aws_config::SdkConfig) -> Result<DeadLetterReasons, String> {
    in_time(DeadLetterReasons::open(aws_sdk_dynamodb::Client::new(sdk))).await
}

async fn in_time<T>(
    opening: impl std::future::Future<Output = Result<T, String>>,
) -> Result<T, String> {
    tokio::time::timeout(OPEN_TIMEOUT, opening)
        .await
        .map_err(|_| format!("no answer within {} s", OPEN_TIMEOUT.as_secs()))?
}

/// S2's store on DynamoDB (`tp-orders`, `tp-orders-duplicates`; created if missing).
pub async fn intake_store(sdk: &aws_config::SdkConfig) -> Result<DynamoIntakeStore, String> {
    in_time(DynamoIntakeStore::open(aws_sdk_dynamodb::Client::new(sdk))).await
}

/// S2-04's counts as CloudWatch metrics in `namespace`.
pub fn order_counts(sdk: &aws_config::SdkConfig, namespace: &str) -> CloudWatchCounts {
    CloudWatchCounts::new(aws_sdk_cloudwatch::Client::new(sdk), namespace)
}

/// S0's archive in bucket `bucket` (created if missing).
pub async fn transaction_archive(
    sdk: &aws_config::SdkConfig,
    bucket: &str,
) -> Result<S3TransactionArchive, String> {
    in_time(S3TransactionArchive::open(s3_client(sdk), bucket)).await
}

/// An S3 client of `sdk`; path-style addressing when an endpoint is given (an emulator on
/// `127.0.0.1` has no per-bucket host names).
pub fn s3_client(sdk: &aws_config::SdkConfig) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(sdk)
        .force_path_style(sdk.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(config)
}
