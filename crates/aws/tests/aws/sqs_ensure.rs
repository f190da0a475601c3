//! `ensure` on SQS: the queue, its DLQ and the redrive policy, idempotently; a queue made
//! earlier with another setting is named with what was found and what was wanted.

use aws_sdk_sqs::types::QueueAttributeName;
use edalab_aws::testing::MiniStack;
use edalab_bus::{BusError, Queues};

use crate::common::{DLQ, QUEUE, attribute, queues, spec};

#[tokio::test]
async fn ensure_creates_queue_dlq_and_redrive_and_is_idempotent() {
    let Some(ministack) = MiniStack::start_or_skip("ensure_creates_queue_dlq_and_redrive") else {
        return;
    };
    let queues = queues(&ministack);
    queues.ensure(&spec()).await.unwrap();
    queues.ensure(&spec()).await.unwrap();

    let client = ministack.sqs();
    let url = queues.url(QUEUE).await.unwrap();
    let dlq_url = queues.url(DLQ).await.unwrap();
    let get = |url: String, name: QueueAttributeName| {
        let client = client.clone();
        async move { attribute(&client, &url, name).await }
    };
    assert_eq!(
        get(url.clone(), QueueAttributeName::VisibilityTimeout)
            .await
            .as_deref(),
        Some("60")
    );
    assert_eq!(
        get(url.clone(), QueueAttributeName::MessageRetentionPeriod)
            .await
            .as_deref(),
        Some("345600")
    );
    assert_eq!(
        get(dlq_url.clone(), QueueAttributeName::MessageRetentionPeriod)
            .await
            .as_deref(),
        Some("1209600")
    );
    let dlq_arn = get(dlq_url, QueueAttributeName::QueueArn).await.unwrap();
    let policy = get(url, QueueAttributeName::RedrivePolicy).await.unwrap();
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap();
    assert_eq!(policy["deadLetterTargetArn"], dlq_arn.as_str());
    let count = &policy["maxReceiveCount"];
    assert!(count == 3 || count == "3", "{policy}");
    let listed = client.list_queues().send().await.unwrap();
    assert_eq!(listed.queue_urls().len(), 2, "{listed:?}");
}

#[tokio::test]
async fn a_queue_with_another_visibility_is_a_named_mismatch() {
    let Some(ministack) = MiniStack::start_or_skip("a_queue_with_another_visibility") else {
        return;
    };
    let client = ministack.sqs();
    client
        .create_queue()
        .queue_name(QUEUE)
        .attributes(QueueAttributeName::VisibilityTimeout, "30")
        .send()
        .await
        .unwrap();
    let queues = queues(&ministack);
    let error = queues.ensure(&spec()).await.unwrap_err();
    match &error {
        BusError::QueueConfigMismatch {
            queue,
            setting,
            found,
            wanted,
        } => {
            assert_eq!(
                (
                    queue.as_str(),
                    setting.as_str(),
                    found.as_str(),
                    wanted.as_str()
                ),
                (QUEUE, "VisibilityTimeout", "30", "60")
            );
        }
        other => panic!("expected a mismatch, got {other:?}"),
    }
    assert_eq!(
        error.to_string(),
        "queue `transactions` already exists with VisibilityTimeout = 30, but 60 is wanted"
    );
    // Nothing was changed on the existing queue.
    let url = queues.url(QUEUE).await.unwrap();
    assert_eq!(
        attribute(&client, &url, QueueAttributeName::VisibilityTimeout)
            .await
            .as_deref(),
        Some("30")
    );
    assert_eq!(
        attribute(&client, &url, QueueAttributeName::RedrivePolicy).await,
        None
    );
    // Refused before the first write: the DLQ was not created either.
    assert_eq!(queues.lookup_url(DLQ).await.unwrap(), None);
    // Every difference is listed by `check`: the redrive policy too.
    let settings: Vec<String> = queues
        .check(&spec())
        .await
        .unwrap()
        .iter()
        .map(|e| match e {
            BusError::QueueConfigMismatch { setting, .. } => setting.clone(),
            other => panic!("expected mismatches, got {other:?}"),
        })
        .collect();
    assert_eq!(
        settings,
        [
            "VisibilityTimeout",
            "RedrivePolicy.maxReceiveCount",
            "RedrivePolicy.deadLetterTargetArn"
        ]
    );
}
